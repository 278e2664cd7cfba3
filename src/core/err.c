#include "core/err.h"
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *pb_strerror(int code)
{
    switch (code) {
#define PB_ERR_MSG(name, value, status, msg)                                                                 \
    case value:                                                                                              \
        return msg;
        PB_ERRORS(PB_ERR_MSG)
#undef PB_ERR_MSG
    }
    return "unknown error";
}

const char *pb_err_name(int code)
{
    switch (code) {
#define PB_ERR_NAME(name, value, status, msg)                                                                \
    case value:                                                                                              \
        return #name;
        PB_ERRORS(PB_ERR_NAME)
#undef PB_ERR_NAME
    }
    return "PB_EUNKNOWN";
}

int pb_err_http_status(int code)
{
    switch (code) {
#define PB_ERR_STATUS(name, value, status, msg)                                                              \
    case value:                                                                                              \
        return status;
        PB_ERRORS(PB_ERR_STATUS)
#undef PB_ERR_STATUS
    }
    return 500;
}

__attribute__((format(printf, 4, 0))) static int error_vset(pb_error *err, int code, const char *field,
                                                            const char *fmt, va_list ap)
{
    if (!err) return code;
    err->code = code;
    err->line = 0;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    /* Redact the whole text, then truncate: truncating first could cut a registered
     * secret in two and leave its unmatched first half in the message. */
    pb_redact_vformat(err->msg, sizeof err->msg, fmt, ap);
    return code;
}

int pb_error_set(pb_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = error_vset(err, code, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int pb_error_field(pb_error *err, int code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = error_vset(err, code, field, fmt, ap);
    va_end(ap);
    return rc;
}

void pb_error_clear(pb_error *err)
{
    if (err) memset(err, 0, sizeof *err);
}
