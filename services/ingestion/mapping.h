/* mapping: column-mapping files, so that any company's CSV loads as it is (docs/feeds.md,
 * examples in deploy/mappings/). A mapping is a JSON file:
 *
 *   { "description": "...",            free text: where the file comes from, what is assumed
 *     "separator": ",",                one byte; default ","
 *     "encoding": "utf-8",             for hk_encoding_utf8 (encoding.h); absent: detect
 *     "decimal_separator": ".",        "." or ","; default "."
 *     "group_separator": "",           "", ".", ",", " ", "'", U+00A0 or U+202F; default ""
 *     "date_format": "M/D/YYYY",       default for date fields; default "YYYY-MM-DD"
 *     "time_zone": "America/New_York", IANA zone, needed by fields with "time"
 *     "records": [ { "kind": "invoice",
 *                    "when": { "column": "X", "not_empty": true, "equals": "Yes" },
 *                    "fields": { "<canonical field>": <source>, ... } }, ... ] }
 *
 * A source is {"column": "Name"} (the header's column, trimmed, case aside; "Name#2" for the
 * second of two columns of that name: a plain "Name" the header has twice fails the file),
 * {"const": "USD"} or
 * {"template": "SETTLE-{invoiceNumber}"} ({column} placeholders, "{{" and "}}" for braces; a
 * placeholder whose cell is empty makes the field absent), plus for columns: "default" (fills
 * an empty cell), "map" (translates whole values, after the default: {"RMB": "CNY"}), and for
 * date and instant fields "date_format"; "time": "HH:MM" turns a date into an RFC 3339 instant
 * at that local time in time_zone (instant fields only: received_at, promised_at,
 * recorded_at). Column values are converted by field: amounts (amount, credit_limit) with the
 * separators into "1234.50" (text only, never through a double), dates (*_on) with the date
 * format into "YYYY-MM-DD", the rest trimmed as is. "const" and "template" values are used as
 * written. Date formats are made of YYYY, YY (00-68 → 20xx, 69-99 → 19xx), M, MM, D, DD and
 * literal punctuation or non-ASCII text ("M/D/YYYY", "DD.MM.YYYY", "YYYYMMDD",
 * "YYYY年M月D日"; MM and DD also take one digit when a literal follows). Field names are checked against
 * the kind's schema, and every required field of the kind must be given. */
#ifndef HK_INGESTION_MAPPING_H
#define HK_INGESTION_MAPPING_H

#include <stdio.h>

#include "record.h"

typedef struct hk_mapping hk_mapping_t;

/* Loads and checks the mapping at path. NULL with why naming the problem (the option, field
 * and record it is in). The caller destroys the mapping. */
hk_mapping_t *hk_mapping_load (const char *path, char *why, size_t whylen);
void hk_mapping_destroy (hk_mapping_t **self_p);

/* The mapping's "encoding" (for hk_encoding_utf8), or NULL when it does not say (detect). The
 * string belongs to the mapping. */
const char *hk_mapping_encoding (const hk_mapping_t *m);

/* Reads the CSV in f (UTF-8: wrap it with hk_encoding_utf8 first; borrowed, the caller closes
 * it). The header row names the columns; each data row gives one record per entry of
 * "records" whose "when" holds, passed to sink->record (the record and its strings live until
 * the call returns). A value that cannot be converted → sink->reject (line, canonical field,
 * reason) and that record is skipped; the row's other records and the file go on.
 * Returns 0; a negative code from sink->record (reading stops); HK_ENOMEM; HK_EPARSE with why
 * for no header, a column the mapping uses missing from the header or named there twice
 * (named), broken quoting,
 * or an encoding error of the stream; HK_EIO on another read error. m may be used by several
 * threads at once. */
int hk_mapping_read (const hk_mapping_t *m, FILE *f, const hk_sink_t *sink, char *why,
                     size_t whylen);

#endif
