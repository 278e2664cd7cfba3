/* markdown: Markdown subset -> escaped HTML. See markdown.h. */
#include "populate/markdown.h"

#include <string.h>

int pb_html_escape(pb_buf *out, const char *s, size_t n)
{
    int rc = 0;
    size_t start = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep) {
            rc = pb_buf_append(out, s + start, i - start);
            if (!rc) rc = pb_buf_puts(out, rep);
            start = i + 1;
        }
    }
    if (!rc) rc = pb_buf_append(out, s + start, n - start);
    return rc;
}

static int url_ok(const char *u, size_t n)
{
    if (n == 0) return 0;
    if (n >= 7 && strncmp(u, "http://", 7) == 0) return 1;
    if (n >= 8 && strncmp(u, "https://", 8) == 0) return 1;
    if (n >= 7 && strncmp(u, "mailto:", 7) == 0) return 1;
    /* relative: no scheme (no ':' before the first '/', '?' or '#') */
    for (size_t i = 0; i < n; i++) {
        if (u[i] == '/' || u[i] == '?' || u[i] == '#') return 1;
        if (u[i] == ':') return 0;
        if (u[i] == ' ' || (unsigned char)u[i] < 0x20) return 0;
    }
    return 1;
}

static const char *find(const char *s, const char *e, char c)
{
    for (; s < e; s++)
        if (*s == c) return s;
    return NULL;
}

/* Inline spans of one line (or a paragraph joined with '\n'). */
static int inline_md(pb_buf *o, const char *s, size_t n, int depth)
{
    const char *p = s, *e = s + n, *text = s;
    int rc = 0;
#define FLUSH()                                                                                                    \
    do {                                                                                                           \
        if (!rc && p > text) rc = pb_html_escape(o, text, (size_t)(p - text));                                     \
    } while (0)
    while (p < e && !rc) {
        char c = *p;
        if (c == '`') {
            const char *q = find(p + 1, e, '`');
            if (q) {
                FLUSH();
                if (!rc) rc = pb_buf_puts(o, "<code>");
                if (!rc) rc = pb_html_escape(o, p + 1, (size_t)(q - p - 1));
                if (!rc) rc = pb_buf_puts(o, "</code>");
                p = text = q + 1;
                continue;
            }
        } else if (c == '*' && p + 1 < e && p[1] == '*' && depth < 4) {
            const char *q = p + 2;
            while (q + 1 < e && !(q[0] == '*' && q[1] == '*')) q++;
            if (q + 1 < e && q > p + 2) {
                FLUSH();
                if (!rc) rc = pb_buf_puts(o, "<strong>");
                if (!rc) rc = inline_md(o, p + 2, (size_t)(q - p - 2), depth + 1);
                if (!rc) rc = pb_buf_puts(o, "</strong>");
                p = text = q + 2;
                continue;
            }
        } else if ((c == '*' || c == '_') && depth < 4 && p + 1 < e && p[1] != ' ' &&
                   (c == '*' || p == s || !((p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z') ||
                                            (p[-1] >= '0' && p[-1] <= '9')))) {
            const char *q = find(p + 1, e, c);
            if (q && q > p + 1 && q[-1] != ' ') {
                FLUSH();
                if (!rc) rc = pb_buf_puts(o, "<em>");
                if (!rc) rc = inline_md(o, p + 1, (size_t)(q - p - 1), depth + 1);
                if (!rc) rc = pb_buf_puts(o, "</em>");
                p = text = q + 1;
                continue;
            }
        } else if (c == '[' && depth < 4) {
            const char *rb = find(p + 1, e, ']');
            if (rb && rb + 1 < e && rb[1] == '(') {
                const char *rp = find(rb + 2, e, ')');
                if (rp && url_ok(rb + 2, (size_t)(rp - rb - 2))) {
                    FLUSH();
                    if (!rc) rc = pb_buf_puts(o, "<a href=\"");
                    if (!rc) rc = pb_html_escape(o, rb + 2, (size_t)(rp - rb - 2));
                    if (!rc) rc = pb_buf_puts(o, "\">");
                    if (!rc) rc = inline_md(o, p + 1, (size_t)(rb - p - 1), depth + 1);
                    if (!rc) rc = pb_buf_puts(o, "</a>");
                    p = text = rp + 1;
                    continue;
                }
            }
        }
        p++;
    }
    FLUSH();
#undef FLUSH
    return rc;
}

typedef struct line {
    const char *s;
    size_t n;
} line;

static int is_blank(line l)
{
    for (size_t i = 0; i < l.n; i++)
        if (l.s[i] != ' ' && l.s[i] != '\t' && l.s[i] != '\r') return 0;
    return 1;
}

static size_t indent(line l)
{
    size_t i = 0;
    while (i < l.n && l.s[i] == ' ') i++;
    return i;
}

/* 1 = bullet, 2 = ordered; *off = start of the item text. */
static int list_kind(line l, size_t *off)
{
    size_t i = indent(l);
    if (i > 3) return 0;
    if (i + 1 < l.n && (l.s[i] == '-' || l.s[i] == '*' || l.s[i] == '+') && l.s[i + 1] == ' ') {
        *off = i + 2;
        return 1;
    }
    size_t d = i;
    while (d < l.n && l.s[d] >= '0' && l.s[d] <= '9' && d - i < 9) d++;
    if (d > i && d + 1 < l.n && (l.s[d] == '.' || l.s[d] == ')') && l.s[d + 1] == ' ') {
        *off = d + 2;
        return 2;
    }
    return 0;
}

static int heading_level(line l, size_t *off)
{
    size_t i = indent(l), h = 0;
    if (i > 3) return 0;
    while (i + h < l.n && l.s[i + h] == '#') h++;
    if (h == 0 || h > 6) return 0;
    if (i + h < l.n && l.s[i + h] != ' ') return 0;
    *off = i + h;
    while (*off < l.n && l.s[*off] == ' ') (*off)++;
    return (int)h;
}

static int is_fence(line l)
{
    size_t i = indent(l);
    return i <= 3 && i + 3 <= l.n && strncmp(l.s + i, "```", 3) == 0;
}

static line trim_end(line l)
{
    while (l.n && (l.s[l.n - 1] == ' ' || l.s[l.n - 1] == '\r' || l.s[l.n - 1] == '\t')) l.n--;
    return l;
}

int pb_md_to_html(const char *md, size_t len, pb_buf *o)
{
    /* split into lines (no allocation: iterate twice over the text) */
    size_t nlines = 0;
    for (size_t i = 0; i < len; i++)
        if (md[i] == '\n') nlines++;
    nlines++;
    int rc = 0;
    size_t start_len = o->len;
    const char *p = md, *end = md + len;
    line cur;
#define NEXT_LINE(l)                                                                                               \
    do {                                                                                                           \
        const char *nl_ = find(p, end, '\n');                                                                      \
        (l).s = p;                                                                                                 \
        (l).n = (size_t)((nl_ ? nl_ : end) - p);                                                                   \
        p = nl_ ? nl_ + 1 : end;                                                                                   \
    } while (0)
    int have = 0;
    while (!rc && (have || p < end)) {
        if (!have) NEXT_LINE(cur);
        have = 0;
        line t = trim_end(cur);
        if (is_blank(t)) continue;
        size_t off = 0;
        int h = heading_level(t, &off);
        if (h) {
            line tx = {t.s + off, t.n - off};
            while (tx.n && tx.s[tx.n - 1] == '#') tx.n--;
            tx = trim_end(tx);
            rc = pb_buf_printf(o, "<h%d>", h);
            if (!rc) rc = inline_md(o, tx.s, tx.n, 0);
            if (!rc) rc = pb_buf_printf(o, "</h%d>", h);
            continue;
        }
        if (is_fence(t)) {
            rc = pb_buf_puts(o, "<pre><code>");
            int first = 1;
            while (!rc && p < end) {
                NEXT_LINE(cur);
                if (is_fence(trim_end(cur))) break;
                if (!first) rc = pb_buf_putc(o, '\n');
                line c = cur;
                if (c.n && c.s[c.n - 1] == '\r') c.n--;
                if (!rc) rc = pb_html_escape(o, c.s, c.n);
                first = 0;
            }
            if (!rc) rc = pb_buf_puts(o, "</code></pre>");
            continue;
        }
        int lk = list_kind(t, &off);
        if (lk) {
            rc = pb_buf_puts(o, lk == 1 ? "<ul>" : "<ol>");
            for (;;) {
                if (!rc) rc = pb_buf_puts(o, "<li>");
                if (!rc) rc = inline_md(o, t.s + off, t.n - off, 0);
                if (!rc) rc = pb_buf_puts(o, "</li>");
                if (rc || p >= end) break;
                NEXT_LINE(cur);
                t = trim_end(cur);
                size_t o2 = 0;
                if (list_kind(t, &o2) != lk) {
                    have = 1;
                    break;
                }
                off = o2;
            }
            if (!rc) rc = pb_buf_puts(o, lk == 1 ? "</ul>" : "</ol>");
            continue;
        }
        /* paragraph: until a blank line or another block */
        rc = pb_buf_puts(o, "<p>");
        int first = 1;
        for (;;) {
            line tx = t;
            size_t ind = indent(tx);
            tx.s += ind;
            tx.n -= ind;
            if (!first && !rc) rc = pb_buf_puts(o, "<br>");
            if (!rc) rc = inline_md(o, tx.s, tx.n, 0);
            first = 0;
            if (rc || p >= end) break;
            NEXT_LINE(cur);
            t = trim_end(cur);
            size_t o2 = 0;
            if (is_blank(t) || heading_level(t, &o2) || is_fence(t) || list_kind(t, &o2)) {
                have = !is_blank(t);
                break;
            }
        }
        if (!rc) rc = pb_buf_puts(o, "</p>");
    }
#undef NEXT_LINE
    (void)nlines;
    if (!rc && o->len == start_len) rc = pb_buf_puts(o, "<p></p>");
    return rc;
}
