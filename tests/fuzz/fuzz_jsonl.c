/* Fuzz target: the JSON Lines reader (json-c underneath) and record validation, through the
 * checking sink of jsonl_sink.h. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "jsonl.h"
#include "jsonl_sink.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *f = fmemopen ((void *) data, size, "r");
    if (!f)
        return 0;
    char why[256] = "";
    hk_jsonl_read (f, &s_jsonl_sink, why, sizeof why);
    fclose (f);
    return 0;
}
