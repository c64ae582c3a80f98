/* Fuzz target: the JSON Lines reader (json-c underneath) and record validation, with a sink
 * that traps when a record breaks what the reader promises: a known kind, at most 32 named
 * fields, no "kind" field, non-NULL text. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "feed.h"
#include "jsonl.h"

static int
s_record (void *arg, const hk_record_t *rec)
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
s_reject (void *arg, long line, const char *field, const char *reason)
{
    (void) arg;
    if (line < 1 || !field || !reason)
        __builtin_trap ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *f = fmemopen ((void *) data, size, "r");
    if (!f)
        return 0;
    hk_sink_t sink = { .record = s_record, .reject = s_reject };
    char why[256] = "";
    hk_jsonl_read (f, &sink, why, sizeof why);
    fclose (f);
    return 0;
}
