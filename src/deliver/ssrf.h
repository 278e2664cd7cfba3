/* ssrf: the guard that keeps outbound deliveries away from internal networks.
 *
 * A subscription URL is checked when it is saved and again before every send: the host is
 * resolved, and every address it resolves to must be public. Refused: unspecified,
 * loopback, RFC 1918 private, CGNAT (100.64/10), link-local (incl. the cloud metadata
 * address 169.254.169.254), IETF/documentation/benchmark ranges, multicast, reserved and
 * broadcast; IPv6 loopback, unique-local (incl. fd00:ec2::254), link-local, site-local,
 * multicast, documentation, and v4-mapped / NAT64 / 6to4 / Teredo forms (their embedded
 * IPv4 could be anything). An explicit allowlist of CIDRs (config `ssrf_allow`, e.g.
 * "127.0.0.1/32,10.1.0.0/16") overrides the refusal for its addresses.
 *
 * The send path pins the checked address with CURLOPT_RESOLVE ("host:port:addr", written
 * by pb_ssrf_check_url) so curl cannot resolve the name again to something else. */
#ifndef PB_DELIVER_SSRF_H
#define PB_DELIVER_SSRF_H

#include "core/err.h"

#include <stddef.h>

typedef struct pb_ssrf pb_ssrf;

/* allow: comma-separated CIDRs or addresses ("" or NULL for none). */
int pb_ssrf_new(const char *allow, pb_ssrf **out, pb_error *err);
void pb_ssrf_free(pb_ssrf *s); /* NULL-safe */

/* 1 if the textual address (IPv4 or IPv6, no brackets) may be contacted, else 0
 * (also 0 for text that is not an address). */
int pb_ssrf_addr_allowed(const pb_ssrf *s, const char *addr);

/* Parses url (http/https only), resolves its host and checks every address.
 * On success writes the CURLOPT_RESOLVE pin "host:port:address" into pin (>= 300 bytes)
 * and returns 0; PB_EINVAL for a malformed URL or scheme, PB_EFORBIDDEN for a refused
 * address, PB_ENET when the name does not resolve. */
int pb_ssrf_check_url(const pb_ssrf *s, const char *url, char *pin, size_t pinlen, pb_error *err);

/* Splits an http(s) URL into lower-case host (no brackets) and port. 0 or PB_EINVAL. */
int pb_url_host_port(const char *url, char *host, size_t hostlen, int *port, int *https);

#endif
