/* Fuzz target: the JSON Lines reader (json-c underneath) and record validation, through the
 * checking sink of record_sink.h; a file failed whole must say why. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "huikuan/errcodes.h"
#include "jsonl.h"
#include "record_sink.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *f = fmemopen ((void *) data, size, "r");
    if (!f)
        return 0;
    char why[256] = "";
    if (hk_jsonl_read (f, &s_record_sink, why, sizeof why) == HK_EPARSE && !*why)
        __builtin_trap ();
    fclose (f);
    return 0;
}
