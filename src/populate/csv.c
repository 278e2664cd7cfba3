/* csv: RFC 4180 reader. See csv.h. */
#include "populate/csv.h"

#include "core/buf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSV_MAX_FIELDS 1000
#define CSV_MAX_FIELD ((size_t)1 << 20)
#define CSV_MAX_RECORDS 1000000

static int push_field(pb_csv_record *rec, pb_buf *fb, pb_error *err)
{
    if (rec->n >= CSV_MAX_FIELDS) return pb_error_set(err, PB_ETOOBIG, "line %d: too many fields", rec->line);
    char **nf = realloc(rec->f, (rec->n + 1) * sizeof *nf);
    if (!nf) return pb_error_set(err, PB_ENOMEM, "out of memory");
    rec->f = nf;
    char *s = fb->data ? pb_buf_steal(fb) : strdup("");
    if (!s) return pb_error_set(err, PB_ENOMEM, "out of memory");
    rec->f[rec->n++] = s;
    pb_buf_init(fb, CSV_MAX_FIELD);
    return 0;
}

static void rec_free(pb_csv_record *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->f[i]);
    free(r->f);
}

void pb_csv_free(pb_csv *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) rec_free(&t->r[i]);
    free(t->r);
    free(t);
}

int pb_csv_parse(const char *s, size_t len, pb_csv **out, pb_error *err)
{
    *out = NULL;
    pb_csv *t = calloc(1, sizeof *t);
    if (!t) return pb_error_set(err, PB_ENOMEM, "out of memory");
    size_t cap = 0, i = 0;
    int line = 1, rc = 0;
    if (len >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF) i = 3;
    pb_buf fb;
    pb_buf_init(&fb, CSV_MAX_FIELD);
    while (i < len && !rc) {
        pb_csv_record rec = {NULL, 0, line, NULL};
        /* skip an empty line */
        if (s[i] == '\n' || (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')) {
            i += s[i] == '\r' ? 2 : 1;
            line++;
            continue;
        }
        int end_of_record = 0;
        while (!end_of_record && !rc) {
            /* one field */
            if (i < len && s[i] == '"') {
                i++;
                int closed = 0;
                while (i < len && !rc) {
                    if (s[i] == '"') {
                        if (i + 1 < len && s[i + 1] == '"') {
                            rc = pb_buf_putc(&fb, '"');
                            i += 2;
                            continue;
                        }
                        i++;
                        closed = 1;
                        break;
                    }
                    if (s[i] == '\n') line++;
                    rc = pb_buf_putc(&fb, s[i]);
                    i++;
                }
                if (rc) {
                    rc = pb_error_set(err, rc, "line %d: field too large", line);
                    break;
                }
                if (!closed) rec.error = "unterminated quoted field";
                /* after the closing quote: separator, end of line or end of input */
                if (closed && i < len && s[i] != ',' && s[i] != '\n' && s[i] != '\r') {
                    rec.error = "text after a closing quote";
                    while (i < len && s[i] != ',' && s[i] != '\n' && s[i] != '\r') {
                        rc = pb_buf_putc(&fb, s[i]);
                        i++;
                    }
                }
            } else {
                while (i < len && s[i] != ',' && s[i] != '\n' && !rc) {
                    if (s[i] == '\r' && (i + 1 >= len || s[i + 1] == '\n')) break;
                    rc = pb_buf_putc(&fb, s[i]);
                    i++;
                }
                if (rc) {
                    rc = pb_error_set(err, rc, "line %d: field too large", line);
                    break;
                }
            }
            rc = push_field(&rec, &fb, err);
            if (rc) break;
            if (i >= len) {
                end_of_record = 1;
            } else if (s[i] == ',') {
                i++;
                if (i >= len) { /* trailing comma: one more empty field */
                    rc = push_field(&rec, &fb, err);
                    end_of_record = 1;
                }
            } else {
                if (s[i] == '\r') i++;
                if (i < len && s[i] == '\n') i++;
                line++;
                end_of_record = 1;
            }
        }
        if (rc) {
            rec_free(&rec);
            break;
        }
        if (t->n >= CSV_MAX_RECORDS) {
            rec_free(&rec);
            rc = pb_error_set(err, PB_ETOOBIG, "too many records");
            break;
        }
        if (t->n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            pb_csv_record *nr = realloc(t->r, nc * sizeof *nr);
            if (!nr) {
                rec_free(&rec);
                rc = pb_error_set(err, PB_ENOMEM, "out of memory");
                break;
            }
            t->r = nr;
            cap = nc;
        }
        t->r[t->n++] = rec;
    }
    pb_buf_free(&fb);
    if (rc) {
        pb_csv_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int pb_csv_col(const pb_csv *t, const char *name)
{
    if (!t || t->n == 0) return -1;
    const pb_csv_record *h = &t->r[0];
    while (*name == ' ') name++;
    size_t nl = strlen(name);
    while (nl && name[nl - 1] == ' ') nl--;
    for (size_t i = 0; i < h->n; i++) {
        const char *f = h->f[i];
        while (*f == ' ') f++;
        size_t fl = strlen(f);
        while (fl && f[fl - 1] == ' ') fl--;
        if (fl == nl && strncasecmp(f, name, nl) == 0) return (int)i;
    }
    return -1;
}

const char *pb_csv_get(const pb_csv_record *rec, int i)
{
    return (i >= 0 && (size_t)i < rec->n) ? rec->f[i] : "";
}
