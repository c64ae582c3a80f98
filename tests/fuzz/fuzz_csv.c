/* Fuzz target: the project-schema CSV reader and record validation of every kind. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "csvfeed.h"
#include "feed.h"

static int
s_record (void *arg, const hk_record_t *rec)
{
    (void) arg;
    hk_fact_t fact;
    hk_row_error_t err;
    hk_feed_validate (rec, &fact, &err);
    return 0;
}

static void
s_reject (void *arg, long line, const char *field, const char *reason)
{
    (void) arg, (void) line, (void) field, (void) reason;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    FILE *f = fmemopen ((void *) data, size, "r");
    if (!f)
        return 0;
    hk_sink_t sink = { .record = s_record, .reject = s_reject };
    char why[256] = "";
    hk_csvfeed_read (f, &sink, why, sizeof why);
    fclose (f);
    return 0;
}
