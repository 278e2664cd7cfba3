/* markdown: a small, safe Markdown -> HTML renderer for work-item descriptions.
 *
 * Supported: ATX headings (# .. ######), paragraphs (consecutive lines), blank-line breaks,
 * unordered lists (-, *, +), ordered lists (1.), fenced code blocks (```), inline code,
 * **strong**, *em* / _em_, and [text](url) links whose URL is http(s):, mailto: or relative
 * (anything else is rendered as plain text). Every piece of text, URL included, is
 * HTML-escaped; no raw HTML passes through. Empty input renders "<p></p>" (Plane's empty
 * description). Output is deterministic (same input, same bytes). */
#ifndef PB_POPULATE_MARKDOWN_H
#define PB_POPULATE_MARKDOWN_H

#include "core/buf.h"

#include <stddef.h>

/* Appends the HTML of md[0..len) to out. Returns 0 or PB_ETOOBIG/PB_ENOMEM. */
int pb_md_to_html(const char *md, size_t len, pb_buf *out);
/* Appends s HTML-escaped (& < > " '). */
int pb_html_escape(pb_buf *out, const char *s, size_t n);

#endif
