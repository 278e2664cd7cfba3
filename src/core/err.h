/* err: planebridge's one list of error codes, and the error object that carries detail.
 *
 * Contract: every fallible function returns 0 (or a non-negative count) on success and a
 * negative PB_E* code on failure. Human detail never goes into a global: callers pass a
 * pb_error (may be NULL when they do not care), filled by pb_error_set(). Detail strings
 * must never contain secrets: anything derived from a request or a credential is passed
 * through the log redactor before it is stored in an error object. */
#ifndef PB_CORE_ERR_H
#define PB_CORE_ERR_H

#include <stddef.h>

/* X(name, value, http_status, message). Append only; never renumber. */
#define PB_ERRORS(X)                                                                  \
    X(PB_OK, 0, 200, "success")                                                       \
    X(PB_ENOMEM, -1, 500, "out of memory")                                            \
    X(PB_EINVAL, -2, 400, "invalid argument")                                         \
    X(PB_ETOOBIG, -3, 413, "input exceeds a size limit")                              \
    X(PB_ENOTFOUND, -4, 404, "not found")                                             \
    X(PB_ECONFLICT, -5, 409, "conflict")                                              \
    X(PB_EIO, -6, 500, "input/output error")                                          \
    X(PB_ESTORE, -7, 500, "storage error")                                            \
    X(PB_EPARSE, -8, 400, "malformed input")                                          \
    X(PB_EAUTH, -9, 401, "authentication required")                                   \
    X(PB_EFORBIDDEN, -10, 403, "permission denied")                                   \
    X(PB_ERATELIMIT, -11, 429, "rate limit exceeded")                                 \
    X(PB_EBUSY, -12, 503, "busy, try again")                                          \
    X(PB_ECONFIG, -13, 500, "configuration error")                                    \
    X(PB_ECRYPTO, -14, 500, "cryptography error")                                     \
    X(PB_ENET, -15, 502, "network error")                                             \
    X(PB_ETIMEOUT, -16, 504, "timed out")                                             \
    X(PB_EUNSUPPORTED, -17, 501, "not supported")                                     \
    X(PB_EDEPTH, -18, 400, "nesting too deep")                                        \
    X(PB_ESTATE, -19, 409, "operation not allowed in the current state")              \
    X(PB_EUPSTREAM, -20, 502, "upstream error")                                       \
    X(PB_EEXPIRED, -21, 403, "expired")                                               \
    X(PB_EINTERNAL, -22, 500, "internal error")

enum pb_err_code {
#define PB_ERR_ENUM(name, value, status, msg) name = value,
    PB_ERRORS(PB_ERR_ENUM)
#undef PB_ERR_ENUM
};

/* Static message for a code; never NULL. */
const char *pb_strerror(int code);
/* Symbolic name ("PB_ENOTFOUND"); never NULL. */
const char *pb_err_name(int code);
/* The HTTP status that best matches a code (500 for unknown codes). */
int pb_err_http_status(int code);

#define PB_ERROR_MSG_MAX 256

typedef struct pb_error {
    int code;                     /* a PB_E* code, 0 when unset */
    char field[64];               /* offending field/key when relevant, else "" */
    int line;                     /* line in a config/template file when relevant, else 0 */
    char msg[PB_ERROR_MSG_MAX];   /* human detail, already redacted */
} pb_error;

/* Fills err (if non-NULL) and returns code, so callers can `return pb_error_set(...)`.
 * The formatted message is passed through the log redactor. */
int pb_error_set(pb_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same, naming a field (JSON key, config key, column). */
int pb_error_field(pb_error *err, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void pb_error_clear(pb_error *err);

#endif
