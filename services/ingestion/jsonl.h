/* jsonl: JSON Lines feeds (docs/feeds.md): one JSON object per line, its "kind" member naming
 * the record kind and its other members the record's fields.
 *
 * Values become canonical text: strings as written, integers in decimal, numbers with a
 * fraction exactly as written in the line (never through a double: "1234.50" stays
 * "1234.50"), booleans "true"/"false", null absent. Exponent forms, NaN/Infinity and integers
 * beyond 64 bits are rejected ("write amounts as strings"), and so are nested objects and
 * arrays (naming the member).
 *
 * The input is read line by line (a line may be long; the buffer grows up to 64 MiB, a longer
 * line is rejected and skipped). Blank lines are skipped; a UTF-8 BOM on the first line is
 * skipped; CRLF is accepted. */
#ifndef HK_INGESTION_JSONL_H
#define HK_INGESTION_JSONL_H

#include <stdio.h>

#include "record.h"

/* Reads f (borrowed; the caller closes it) to the end. Each object becomes one sink->record
 * call (the record and all its strings belong to the reader and live until the call returns).
 * A line that is not valid JSON, not an object, has no or an unknown "kind", or a field that
 * cannot be converted becomes one sink->reject (line, field or "kind" or "(line)", reason) and
 * the file goes on.
 * Returns 0; a negative code returned by sink->record (reading stops); HK_ENOMEM; HK_EPARSE
 * with why when the first non-blank line is not JSON at all ("not JSON Lines") or the stream
 * fails with an encoding error (encoding.h), HK_EIO on another read error. */
int hk_jsonl_read (FILE *f, const hk_sink_t *sink, char *why, size_t whylen);

#endif
