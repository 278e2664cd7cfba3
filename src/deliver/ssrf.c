/* ssrf: see ssrf.h. */
#include "deliver/ssrf.h"

#include "core/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SSRF_MAX_ALLOW 64

typedef struct cidr {
    int family; /* AF_INET / AF_INET6 */
    unsigned char addr[16];
    int bits;
} cidr;

struct pb_ssrf {
    cidr allow[SSRF_MAX_ALLOW];
    int nallow;
};

static int prefix_match(const unsigned char *a, const unsigned char *net, int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (full && memcmp(a, net, (size_t)full) != 0) return 0;
    if (rest) {
        unsigned char mask = (unsigned char)(0xFFu << (8 - rest));
        if ((a[full] & mask) != (net[full] & mask)) return 0;
    }
    return 1;
}

static int parse_cidr(const char *s, cidr *out)
{
    char tmp[128];
    pb_strlcpy(tmp, s, sizeof tmp);
    char *slash = strchr(tmp, '/');
    int64_t bits = -1;
    if (slash) {
        *slash = '\0';
        if (pb_parse_i64(slash + 1, 0, 128, &bits)) return PB_EINVAL;
    }
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, tmp, out->addr) == 1) {
        out->family = AF_INET;
        if (bits > 32) return PB_EINVAL;
        out->bits = bits < 0 ? 32 : (int)bits;
        return 0;
    }
    if (inet_pton(AF_INET6, tmp, out->addr) == 1) {
        out->family = AF_INET6;
        out->bits = bits < 0 ? 128 : (int)bits;
        return 0;
    }
    return PB_EINVAL;
}

int pb_ssrf_new(const char *allow, pb_ssrf **out, pb_error *err)
{
    *out = NULL;
    pb_ssrf *s = calloc(1, sizeof *s);
    if (!s) return pb_error_set(err, PB_ENOMEM, "out of memory");
    const char *p = allow ? allow : "";
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        if (!*p) break;
        size_t n = strcspn(p, ", ");
        char item[128];
        if (n >= sizeof item) {
            free(s);
            return pb_error_field(err, PB_ECONFIG, "ssrf_allow", "entry too long");
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (s->nallow >= SSRF_MAX_ALLOW) {
            free(s);
            return pb_error_field(err, PB_ECONFIG, "ssrf_allow", "more than %d entries", SSRF_MAX_ALLOW);
        }
        if (parse_cidr(item, &s->allow[s->nallow])) {
            free(s);
            return pb_error_field(err, PB_ECONFIG, "ssrf_allow", "not an address or CIDR: %s", item);
        }
        s->nallow++;
        p += n;
    }
    *out = s;
    return 0;
}

void pb_ssrf_free(pb_ssrf *s)
{
    free(s);
}

typedef struct range {
    const char *net;
    int bits;
} range;

static const range blocked4[] = {
    {"0.0.0.0", 8},       {"10.0.0.0", 8},     {"100.64.0.0", 10},  {"127.0.0.0", 8},
    {"169.254.0.0", 16},  {"172.16.0.0", 12},  {"192.0.0.0", 24},   {"192.0.2.0", 24},
    {"192.88.99.0", 24},  {"192.168.0.0", 16}, {"198.18.0.0", 15},  {"198.51.100.0", 24},
    {"203.0.113.0", 24},  {"224.0.0.0", 4},    {"240.0.0.0", 4},
};

static const range blocked6[] = {
    {"::", 96},          /* unspecified, loopback, IPv4-compatible */
    {"::ffff:0:0", 96},  /* v4-mapped */
    {"64:ff9b::", 96},   {"64:ff9b:1::", 48}, /* NAT64 */
    {"100::", 64},       /* discard */
    {"2001::", 23},      /* IETF protocol assignments, Teredo */
    {"2001:db8::", 32},  /* documentation */
    {"2002::", 16},      /* 6to4 */
    {"3fff::", 20},      /* documentation (RFC 9637) */
    {"fc00::", 7},       /* unique local, incl. fd00:ec2::254 */
    {"fe80::", 10},      /* link-local */
    {"fec0::", 10},      /* site-local (deprecated) */
    {"ff00::", 8},       /* multicast */
};

static int in_ranges(int family, const unsigned char *a, const range *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char net[16];
        if (inet_pton(family, r[i].net, net) != 1) continue;
        if (prefix_match(a, net, r[i].bits)) return 1;
    }
    return 0;
}

static int bin_allowed(const pb_ssrf *s, int family, const unsigned char *a)
{
    if (s) {
        for (int i = 0; i < s->nallow; i++)
            if (s->allow[i].family == family && prefix_match(a, s->allow[i].addr, s->allow[i].bits)) return 1;
    }
    if (family == AF_INET) return !in_ranges(AF_INET, a, blocked4, sizeof blocked4 / sizeof *blocked4);
    /* Global unicast is 2000::/3; anything else is refused. */
    if ((a[0] & 0xE0) != 0x20) return 0;
    return !in_ranges(AF_INET6, a, blocked6, sizeof blocked6 / sizeof *blocked6);
}

int pb_ssrf_addr_allowed(const pb_ssrf *s, const char *addr)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, addr, a) == 1) return bin_allowed(s, AF_INET, a);
    if (inet_pton(AF_INET6, addr, a) == 1) return bin_allowed(s, AF_INET6, a);
    return 0;
}

int pb_url_host_port(const char *url, char *host, size_t hostlen, int *port, int *https)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *h = NULL, *p = NULL;
    int rc = PB_EINVAL;
    if (!u) return PB_ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) goto out;
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) goto out;
    if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !*h) goto out;
    if (curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) != CURLUE_OK) goto out;
    {
        const char *hs = h;
        size_t hl = strlen(hs);
        if (hs[0] == '[' && hl > 2 && hs[hl - 1] == ']') {
            hs++;
            hl -= 2;
        }
        if (hl >= hostlen) goto out;
        for (size_t i = 0; i < hl; i++) host[i] = (char)tolower((unsigned char)hs[i]);
        host[hl] = '\0';
        int64_t pv;
        if (pb_parse_i64(p, 1, 65535, &pv)) goto out;
        *port = (int)pv;
        if (https) *https = strcmp(scheme, "https") == 0;
        rc = 0;
    }
out:
    curl_free(scheme);
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    return rc;
}

int pb_ssrf_check_url(const pb_ssrf *s, const char *url, char *pin, size_t pinlen, pb_error *err)
{
    char host[256];
    int port = 0;
    if (pb_url_host_port(url, host, sizeof host, &port, NULL))
        return pb_error_field(err, PB_EINVAL, "url", "not a valid http(s) URL");
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    int g = getaddrinfo(host, NULL, &hints, &res);
    if (g != 0 || !res) {
        if (res) freeaddrinfo(res);
        return pb_error_field(err, PB_ENET, "url", "cannot resolve %s: %s", host, gai_strerror(g));
    }
    char chosen[INET6_ADDRSTRLEN] = "";
    int chosen6 = 0;
    int rc = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        char txt[INET6_ADDRSTRLEN];
        const unsigned char *bin;
        int fam = ai->ai_family;
        if (fam == AF_INET)
            bin = (const unsigned char *)&((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr;
        else if (fam == AF_INET6)
            bin = (const unsigned char *)&((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr;
        else
            continue;
        inet_ntop(fam, bin, txt, sizeof txt);
        if (!bin_allowed(s, fam, bin)) {
            /* Any refused address refuses the name: a resolver answer mixing public and
             * internal addresses is the DNS-rebinding shape. */
            rc = pb_error_field(err, PB_EFORBIDDEN, "url", "%s resolves to a non-public address (%s)", host, txt);
            break;
        }
        if (!chosen[0]) {
            pb_strlcpy(chosen, txt, sizeof chosen);
            chosen6 = fam == AF_INET6;
        }
    }
    freeaddrinfo(res);
    if (rc) return rc;
    if (!chosen[0]) return pb_error_field(err, PB_ENET, "url", "no usable address for %s", host);
    int is_lit6 = strchr(host, ':') != NULL;
    int n = snprintf(pin, pinlen, "%s%s%s:%d:%s%s%s", is_lit6 ? "[" : "", host, is_lit6 ? "]" : "", port,
                     chosen6 ? "[" : "", chosen, chosen6 ? "]" : "");
    if (n < 0 || (size_t)n >= pinlen) return pb_error_set(err, PB_ETOOBIG, "host name too long");
    return 0;
}
