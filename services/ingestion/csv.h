/* csv: a streaming RFC 4180 reader (quoted fields, doubled quotes, CRLF or LF, newlines inside
 * quotes) that never holds more than one record in memory. */
#ifndef HK_INGESTION_CSV_H
#define HK_INGESTION_CSV_H

#include <stdio.h>

typedef struct hk_csv hk_csv_t;

/* Reads from f (borrowed; the caller closes it). sep is the field separator, usually ','. */
hk_csv_t *hk_csv_new (FILE *f, char sep);
void hk_csv_destroy (hk_csv_t **self_p);

/* Next record: 1 with *fields and *nfields (owned by the reader, valid until the next call),
 * 0 at end of input, HK_EPARSE for an unterminated quote (hk_csv_error says where).
 * *line is the 1-based line where the record starts. A leading UTF-8 BOM is skipped. */
int hk_csv_next (hk_csv_t *self, char ***fields, int *nfields, long *line);
const char *hk_csv_error (const hk_csv_t *self);

#endif
