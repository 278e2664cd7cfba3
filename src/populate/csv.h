/* csv: an RFC 4180 reader for imports.
 *
 * Fields are separated by commas, records by CRLF or LF; a field in double quotes may hold
 * commas, line breaks and "" (an escaped quote). A UTF-8 BOM at the start is skipped.
 * A quote inside an unquoted field is kept literally (lenient, like spreadsheet exports);
 * text after a closing quote, or an unterminated quoted field, makes that record bad: it is
 * kept with `error` set so the importer can report it per row and go on. Empty lines are
 * skipped. Ceilings: 1000 fields per record, 1 MiB per field, 1000000 records.
 * Ownership: the table owns every string; free with pb_csv_free (NULL-safe). */
#ifndef PB_POPULATE_CSV_H
#define PB_POPULATE_CSV_H

#include "core/err.h"

#include <stddef.h>

typedef struct pb_csv_record {
    char **f;       /* fields, NUL-terminated */
    size_t n;
    int line;       /* 1-based line where the record starts */
    const char *error; /* static message when the record is malformed, else NULL */
} pb_csv_record;

typedef struct pb_csv {
    pb_csv_record *r;
    size_t n;
} pb_csv;

int pb_csv_parse(const char *text, size_t len, pb_csv **out, pb_error *err);
void pb_csv_free(pb_csv *t);
/* Index of the header column named `name` (case-insensitive, surrounding spaces ignored) in
 * record 0, or -1. */
int pb_csv_col(const pb_csv *t, const char *name);
/* Field i of record, or "" when the record is shorter. */
const char *pb_csv_get(const pb_csv_record *rec, int i);

#endif
