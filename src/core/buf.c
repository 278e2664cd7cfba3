#include "core/buf.h"
#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pb_buf_init(pb_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : PB_BUF_DEFAULT_MAX;
}

static int buf_reserve(pb_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra) return PB_ETOOBIG;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return PB_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int pb_buf_append(pb_buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int pb_buf_puts(pb_buf *b, const char *s)
{
    return pb_buf_append(b, s, strlen(s));
}

int pb_buf_putc(pb_buf *b, char c)
{
    return pb_buf_append(b, &c, 1);
}

int pb_buf_vprintf(pb_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0) return PB_EINVAL;
    if ((size_t)n < sizeof small) return pb_buf_append(b, small, (size_t)n);
    int rc = buf_reserve(b, (size_t)n);
    if (rc) return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int pb_buf_printf(pb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = pb_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* Length of a valid UTF-8 sequence starting at s (at most n bytes), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, min = 0x10000;
    else return 0;
    if (len > n) return 0;
    unsigned cp = c & (0xFF >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

int pb_buf_json_strn(pb_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = pb_buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (!rc && i < n) {
        unsigned c = p[i];
        const char *esc = NULL;
        char u[7];
        size_t sl = 1;
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c < 0x20) {
            u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[c >> 4], u[5] = hex[c & 15], u[6] = 0;
            esc = u;
        } else if (c >= 0x80) {
            sl = utf8_seq_len(p + i, n - i);
            if (!sl) esc = "\xEF\xBF\xBD", sl = 1;
        }
        if (esc) {
            if (run) rc = pb_buf_append(b, p + i - run, run);
            run = 0;
            if (!rc) rc = pb_buf_puts(b, esc);
            i += sl;
        } else {
            run += sl;
            i += sl;
        }
    }
    if (!rc && run) rc = pb_buf_append(b, p + i - run, run);
    if (!rc) rc = pb_buf_putc(b, '"');
    return rc;
}

int pb_buf_json_str(pb_buf *b, const char *s)
{
    if (!s) return pb_buf_puts(b, "null");
    return pb_buf_json_strn(b, s, strlen(s));
}

const char *pb_buf_cstr(const pb_buf *b)
{
    return b->data ? b->data : "";
}

void pb_buf_reset(pb_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

char *pb_buf_steal(pb_buf *b)
{
    char *p = b->data;
    if (!p) p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void pb_buf_free(pb_buf *b)
{
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
