/* record_sink: the sink of the fuzz targets whose input ends in a reader of the project's
 * schema (JSON Lines, project CSV). It traps when a record breaks what every reader promises
 * (record.h: a known kind, a line, at most 32 named fields, no "kind" field, non-NULL text) or
 * a reject lacks its line, field or reason, and runs record validation on each record.
 * Header-only: each target is one file. */
#ifndef HK_FUZZ_RECORD_SINK_H
#define HK_FUZZ_RECORD_SINK_H

#include <string.h>

#include "feed.h"
#include "record.h"

static int
s_record_check (void *arg, const hk_record_t *rec)
{
    (void) arg;
    if (!hk_record_kind_name (rec->kind) || rec->nfields < 0
        || rec->nfields > HK_RECORD_MAX_FIELDS || rec->line < 1)
        __builtin_trap ();
    for (int i = 0; i < rec->nfields; i++)
        if (!rec->fields[i].name || !rec->fields[i].value
            || strcmp (rec->fields[i].name, "kind") == 0)
            __builtin_trap ();
    hk_fact_t fact;
    hk_row_error_t err;
    hk_feed_validate (rec, &fact, &err);
    return 0;
}

static void
s_reject_check (void *arg, long line, const char *field, const char *reason)
{
    (void) arg;
    if (line < 1 || !field || !reason)
        __builtin_trap ();
}

static const hk_sink_t s_record_sink = { .record = s_record_check, .reject = s_reject_check };

#endif
