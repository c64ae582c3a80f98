/* Fuzz target: a pushed FeedBatch (protobuf-c unpacking, then the JSON Lines it becomes, then
 * the JSON Lines reader on that text), trapping when an accepted batch yields text the reader
 * cannot take line by line, or a name that is not a safe file name. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "huikuan/files.h"
#include "jsonl.h"
#include "zpush.h"

static int
s_record (void *arg, const hk_record_t *rec)
{
    (void) arg, (void) rec;
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
    char name[128], why[256];
    char *text = NULL;
    size_t len = 0;
    if (hk_zpush_to_jsonl (data, size, name, sizeof name, &text, &len, why, sizeof why) != 0) {
        if (text || !*why)
            __builtin_trap ();
        return 0;
    }
    if (!hk_file_name_ok (name) || !text || len == 0 || text[len - 1] != '\n')
        __builtin_trap ();
    FILE *f = fmemopen (text, len, "r");
    if (f) {
        hk_sink_t sink = { .record = s_record, .reject = s_reject };
        char err[256] = "";
        if (hk_jsonl_read (f, &sink, err, sizeof err) != 0)
            __builtin_trap (); /* the text we wrote is JSON Lines, whatever the batch held */
        fclose (f);
    }
    free (text);
    return 0;
}
