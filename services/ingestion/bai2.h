/* bai2: BAI Version 2 cash-management balance reporting files (01 file header, 02 group
 * header, 03 account identifier, 16 transaction detail, 88 continuation, 49/98/99 trailers)
 * into `payment` records (docs/feeds.md).
 *
 * Credit details (type codes 100-399) become payments; other details are skipped. Records end
 * with '/'; in a 16 or 88 text a '/' ends the record only when the next record (or the end)
 * follows it, a line end without '/' ends it when a record starts on the next line, and a text
 * broken over lines otherwise is joined. Several records may share a line. The
 * structure is checked in full before the first record is handed to the sink: record order,
 * the record counts and control totals of every 49, 98 and 99 trailer, and the closing 99.
 *
 * Ownership: f is borrowed (the caller closes it); every record and string passed to the sink
 * lives only during the call. The reader keeps nothing after it returns. */
#ifndef HK_INGESTION_BAI2_H
#define HK_INGESTION_BAI2_H

#include <stdio.h>

#include "record.h"

/* zone: IANA zone of the file's dates and times (as-of and value dates).
 * Returns 0; a negative code returned by the sink; HK_EINVAL for an unknown zone; HK_EIO or
 * HK_ENOMEM; or HK_EPARSE with why ("line N: reason") when the file is not valid BAI2
 * (nothing of it should be applied). `line` in records and rejects is the physical line on
 * which the 16 (or 02) record starts. */
int hk_bai2_read (FILE *f, const char *zone, const hk_sink_t *sink, char *why, size_t whylen);

#endif
