/* Fuzz target: a pushed FeedBatch (protobuf-c unpacking, then the JSON Lines it becomes, then
 * the JSON Lines reader and record validation on that text through the checking sink of
 * record_sink.h), trapping when an accepted batch yields text the reader cannot take line by
 * line, or a name that is not a safe file name. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "huikuan/files.h"
#include "jsonl.h"
#include "record_sink.h"
#include "zpush.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char name[128], why[256] = "";
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
        char err[256] = "";
        if (hk_jsonl_read (f, &s_record_sink, err, sizeof err) != 0)
            __builtin_trap (); /* the text we wrote is JSON Lines, whatever the batch held */
        fclose (f);
    }
    free (text);
    return 0;
}
