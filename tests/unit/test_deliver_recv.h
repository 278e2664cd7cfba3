/* A controllable HTTP receiver on 127.0.0.1 for the delivery tests: keep-alive, one
 * thread per connection, records every request, answers with a scripted status. */
#ifndef PB_TEST_DELIVER_RECV_H
#define PB_TEST_DELIVER_RECV_H

#include <stddef.h>

#define TRECV_MAX_REQS 4096

typedef struct trecv_req {
    char method[8];
    char path[256];
    char headers[8192]; /* raw "Name: value\r\n" lines */
    char *body;
    size_t len;
} trecv_req;

typedef struct trecv trecv;

trecv *trecv_start(void);
void trecv_stop(trecv *r); /* NULL-safe; frees everything */
int trecv_port(const trecv *r);
/* The URL "http://127.0.0.1:PORT/path". */
const char *trecv_url(trecv *r, const char *path);
/* Every later request answers status with extra header lines ("Retry-After: 5\r\n" or ""). */
void trecv_respond(trecv *r, int status, const char *extra_headers, const char *body);
int trecv_count(trecv *r);
/* Copy of request i (body malloc'd: free with trecv_req_free). 0 or -1. */
int trecv_get(trecv *r, int i, trecv_req *out);
void trecv_req_free(trecv_req *q);
/* Header value of a recorded request (case-insensitive name) into out, or NULL. */
const char *trecv_header(const trecv_req *q, const char *name, char *out, size_t n);

#endif
