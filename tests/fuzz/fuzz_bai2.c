/* Fuzz target: the BAI2 reader, zone UTC, through the checking payment sink. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bai2.h"
#include "payment_sink.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    FILE *f = fmemopen ((void *) data, size, "r");
    if (!f)
        return 0;
    char why[256];
    hk_bai2_read (f, "UTC", &s_payment_sink, why, sizeof why);
    fclose (f);
    return 0;
}
