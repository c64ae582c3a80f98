/* csvfeed: the project's own CSV schema as records (docs/feeds.md). The header row names the
 * canonical fields (case-insensitive); a "kind" column gives each row's kind, else the header's
 * columns decide one kind for the file. Unknown columns are ignored. */
#ifndef HK_INGESTION_CSVFEED_H
#define HK_INGESTION_CSVFEED_H

#include <stdio.h>

#include "record.h"

/* Returns 0, a negative code from the sink, HK_ENOMEM, or HK_EPARSE with why (no header, no
 * kind recognisable, broken quoting): the file fails as a whole. */
int hk_csvfeed_read (FILE *f, const hk_sink_t *sink, char *why, size_t whylen);

#endif
