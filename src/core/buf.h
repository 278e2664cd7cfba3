/* buf: a growable byte buffer with a hard ceiling.
 *
 * The buffer owns `data`; it is always NUL-terminated (the NUL is not counted in len), so
 * text built with it can be handed to C string APIs. Every append fails with PB_ETOOBIG
 * instead of growing past `max`, and the buffer remains valid (truncated appends write
 * nothing). pb_buf_free() is NULL-safe and leaves an empty buffer. */
#ifndef PB_CORE_BUF_H
#define PB_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pb_buf {
    char *data;  /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max;  /* ceiling on len */
} pb_buf;

#define PB_BUF_DEFAULT_MAX ((size_t)64 << 20)

void pb_buf_init(pb_buf *b, size_t max);
int pb_buf_append(pb_buf *b, const void *p, size_t n);
int pb_buf_puts(pb_buf *b, const char *s);
int pb_buf_putc(pb_buf *b, char c);
int pb_buf_printf(pb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pb_buf_vprintf(pb_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends s as a JSON string literal (quotes included, escaped; invalid UTF-8 replaced by U+FFFD). */
int pb_buf_json_str(pb_buf *b, const char *s);
int pb_buf_json_strn(pb_buf *b, const char *s, size_t n);
/* Returns "" (static) for an empty buffer, never NULL. */
const char *pb_buf_cstr(const pb_buf *b);
void pb_buf_reset(pb_buf *b);
/* Transfers ownership of the NUL-terminated data to the caller (free() it); buffer becomes empty. */
char *pb_buf_steal(pb_buf *b);
void pb_buf_free(pb_buf *b);

#endif
