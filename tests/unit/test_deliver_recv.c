/* The delivery tests' HTTP receiver: see test_deliver_recv.h. */
#include "test_deliver_recv.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 128

struct trecv {
    int lfd;
    int port;
    pthread_t acceptor;
    pthread_mutex_t mu;
    int stopping;
    int status;
    char extra[512];
    char rbody[512];
    trecv_req *reqs;
    int nreqs;
    int cfd[MAX_CONNS];
    pthread_t cth[MAX_CONNS];
    int nconn;
    char url[512];
};

typedef struct conn_arg {
    trecv *r;
    int fd;
} conn_arg;

static void *conn_main(void *arg)
{
    conn_arg ca = *(conn_arg *)arg;
    free(arg);
    trecv *r = ca.r;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        char *hend = NULL;
        while (!(hend = (len ? strstr(buf, "\r\n\r\n") : NULL))) {
            if (len >= cap) goto done;
            ssize_t n = read(ca.fd, buf + len, cap - len);
            if (n <= 0) goto done;
            len += (size_t)n;
            buf[len] = '\0';
        }
        size_t hlen = (size_t)(hend - buf) + 4;
        size_t clen = 0;
        for (char *p = buf; p < hend; p++) {
            if ((p == buf || p[-1] == '\n') && strncasecmp(p, "Content-Length:", 15) == 0) clen = strtoul(p + 15, NULL, 10);
        }
        if (hlen + clen > cap) goto done;
        while (len < hlen + clen) {
            ssize_t n = read(ca.fd, buf + len, cap - len);
            if (n <= 0) goto done;
            len += (size_t)n;
            buf[len] = '\0';
        }
        trecv_req q;
        memset(&q, 0, sizeof q);
        sscanf(buf, "%7s %255s", q.method, q.path);
        char *line = strstr(buf, "\r\n");
        size_t hl = line && line < hend ? (size_t)(hend - (line + 2)) + 2 : 0;
        if (hl >= sizeof q.headers) hl = sizeof q.headers - 1;
        if (hl) memcpy(q.headers, line + 2, hl);
        q.body = malloc(clen + 1);
        memcpy(q.body, buf + hlen, clen);
        q.body[clen] = '\0';
        q.len = clen;
        char resp[2048];
        pthread_mutex_lock(&r->mu);
        if (r->nreqs < TRECV_MAX_REQS) r->reqs[r->nreqs++] = q;
        else free(q.body);
        int n = snprintf(resp, sizeof resp, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%sContent-Type: text/plain\r\n\r\n%s",
                         r->status, strlen(r->rbody), r->extra, r->rbody);
        pthread_mutex_unlock(&r->mu);
        if (write(ca.fd, resp, (size_t)n) != n) goto done;
        memmove(buf, buf + hlen + clen, len - hlen - clen);
        len -= hlen + clen;
        buf[len] = '\0';
    }
done:
    free(buf);
    return NULL;
}

static void *accept_main(void *arg)
{
    trecv *r = arg;
    for (;;) {
        int fd = accept(r->lfd, NULL, NULL);
        if (fd < 0) break;
        pthread_mutex_lock(&r->mu);
        if (r->stopping || r->nconn >= MAX_CONNS) {
            pthread_mutex_unlock(&r->mu);
            close(fd);
            if (r->stopping) break;
            continue;
        }
        conn_arg *ca = malloc(sizeof *ca);
        ca->r = r;
        ca->fd = fd;
        r->cfd[r->nconn] = fd;
        if (pthread_create(&r->cth[r->nconn], NULL, conn_main, ca) == 0) r->nconn++;
        else {
            free(ca);
            close(fd);
        }
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}

trecv *trecv_start(void)
{
    trecv *r = calloc(1, sizeof *r);
    r->reqs = calloc(TRECV_MAX_REQS, sizeof *r->reqs);
    r->status = 200;
    pthread_mutex_init(&r->mu, NULL);
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(r->lfd, (struct sockaddr *)&a, sizeof a) || listen(r->lfd, 128) ||
        getsockname(r->lfd, (struct sockaddr *)&a, &al)) {
        close(r->lfd);
        free(r->reqs);
        free(r);
        return NULL;
    }
    r->port = ntohs(a.sin_port);
    pthread_create(&r->acceptor, NULL, accept_main, r);
    return r;
}

void trecv_stop(trecv *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_mutex_unlock(&r->mu);
    shutdown(r->lfd, SHUT_RDWR);
    close(r->lfd);
    pthread_join(r->acceptor, NULL);
    for (int i = 0; i < r->nconn; i++) shutdown(r->cfd[i], SHUT_RDWR);
    for (int i = 0; i < r->nconn; i++) {
        pthread_join(r->cth[i], NULL);
        close(r->cfd[i]);
    }
    for (int i = 0; i < r->nreqs; i++) free(r->reqs[i].body);
    free(r->reqs);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int trecv_port(const trecv *r)
{
    return r->port;
}

const char *trecv_url(trecv *r, const char *path)
{
    snprintf(r->url, sizeof r->url, "http://127.0.0.1:%d%s", r->port, path ? path : "/");
    return r->url;
}

void trecv_respond(trecv *r, int status, const char *extra_headers, const char *body)
{
    pthread_mutex_lock(&r->mu);
    r->status = status;
    snprintf(r->extra, sizeof r->extra, "%s", extra_headers ? extra_headers : "");
    snprintf(r->rbody, sizeof r->rbody, "%s", body ? body : "");
    pthread_mutex_unlock(&r->mu);
}

int trecv_count(trecv *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->nreqs;
    pthread_mutex_unlock(&r->mu);
    return n;
}

int trecv_get(trecv *r, int i, trecv_req *out)
{
    pthread_mutex_lock(&r->mu);
    if (i < 0 || i >= r->nreqs) {
        pthread_mutex_unlock(&r->mu);
        return -1;
    }
    *out = r->reqs[i];
    out->body = malloc(out->len + 1);
    memcpy(out->body, r->reqs[i].body, out->len + 1);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

void trecv_req_free(trecv_req *q)
{
    free(q->body);
    q->body = NULL;
}

const char *trecv_header(const trecv_req *q, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    const char *p = q->headers;
    while (*p) {
        const char *eol = strstr(p, "\r\n");
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            size_t vl = (size_t)(p + ll - v);
            if (vl >= n) vl = n - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return out;
        }
        if (!eol) break;
        p = eol + 2;
    }
    return NULL;
}
