/* Fuzz target: the project-schema CSV reader and record validation of every kind, through the
 * checking sink of record_sink.h; a file failed whole must say why. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "csvfeed.h"
#include "huikuan/errcodes.h"
#include "record_sink.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    FILE *f = fmemopen ((void *) data, size, "r");
    if (!f)
        return 0;
    char why[256] = "";
    if (hk_csvfeed_read (f, &s_record_sink, why, sizeof why) == HK_EPARSE && !*why)
        __builtin_trap ();
    fclose (f);
    return 0;
}
