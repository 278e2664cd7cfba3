/* libFuzzer target: the Markdown -> HTML renderer (populate/markdown) and the HTML escaper.
 *
 * The input is the Markdown text (exact-size heap copy, no terminator, so ASan catches any
 * over-read). Invariants: rendering is deterministic; no raw HTML passes through (every '<'
 * in the output opens one of the renderer's own tags); every link target is http(s):,
 * mailto: or relative (no javascript:/data:/vbscript:); the escaper leaves no & < > " '
 * except as entities. */
#include "core/buf.h"
#include "populate/markdown.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Undefined behaviour is a finding too: stop at the first report (the fuzz build's UBSan
 * checks are recoverable, so without this a report scrolls by and the run "passes"). */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

static const char *const tags[] = {"h1>", "h2>", "h3>", "h4>", "h5>", "h6>", "p>", "ul>", "ol>", "li>",
                                   "pre>", "code>", "strong>", "em>", "a>", "a href=\"", "br>", "br/>", "br />",
                                   "hr>", "hr/>", "hr />", "code class=\"", NULL};

static void fail(const char *why, const char *html)
{
    fprintf(stderr, "fuzz_markdown: %s\n%s\n", why, html);
    abort();
}

static void check_html(const char *h)
{
    for (const char *p = strchr(h, '<'); p; p = strchr(p + 1, '<')) {
        const char *q = p + 1;
        if (*q == '/') q++;
        int ok = 0;
        for (int i = 0; tags[i] && !ok; i++) ok = strncmp(q, tags[i], strlen(tags[i])) == 0;
        if (!ok) fail("unexpected tag", h);
        if (strncmp(q, "a href=\"", 8) == 0) {
            const char *u = q + 8;
            const char *end = strchr(u, '"');
            if (!end) fail("unterminated href", h);
            /* a scheme is whatever precedes the first ':' before any '/', '?' or '#' */
            const char *colon = NULL;
            for (const char *c = u; c < end && !strchr("/?#", *c); c++)
                if (*c == ':') {
                    colon = c;
                    break;
                }
            if (colon) {
                size_t n = (size_t)(colon - u);
                if (!((n == 4 && strncasecmp(u, "http", 4) == 0) || (n == 5 && strncasecmp(u, "https", 5) == 0) ||
                      (n == 6 && strncasecmp(u, "mailto", 6) == 0)))
                    fail("link with a forbidden scheme", h);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 128 * 1024) return 0;
    char *md = malloc(size ? size : 1);
    if (!md) abort();
    if (size) memcpy(md, data, size);

    pb_buf a, b;
    pb_buf_init(&a, 4u << 20);
    pb_buf_init(&b, 4u << 20);
    int ra = pb_md_to_html(md, size, &a);
    int rb = pb_md_to_html(md, size, &b);
    if (ra != rb) abort();
    if (ra == 0) {
        if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0)) abort(); /* deterministic */
        if (a.len == 0) abort(); /* empty input renders "<p></p>" */
        /* A NUL in the Markdown passes through (the contract does not promise to drop it; a
         * C-string consumer would just truncate): check the HTML with NULs as spaces. */
        for (size_t i = 0; i < a.len; i++)
            if (!a.data[i]) a.data[i] = ' ';
        check_html(pb_buf_cstr(&a));
    }
    pb_buf_free(&a);
    pb_buf_free(&b);

    pb_buf e;
    pb_buf_init(&e, 1u << 20);
    if (pb_html_escape(&e, md, size) == 0 && e.len) {
        for (size_t i = 0; i < e.len; i++) {
            char c = e.data[i];
            if (c == '<' || c == '>' || c == '"' || c == '\'') abort();
            if (c == '&' && !(i + 1 < e.len && (e.data[i + 1] == '#' || isalpha((unsigned char)e.data[i + 1])))) abort();
        }
    }
    pb_buf_free(&e);
    free(md);
    return 0;
}
