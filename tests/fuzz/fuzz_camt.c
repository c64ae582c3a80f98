/* Fuzz target: the camt.053/054 reader (libxml2 underneath), zone UTC, through the checking payment sink. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "camt.h"
#include "payment_sink.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    FILE *f = fmemopen ((void *) data, size, "r");
    if (!f)
        return 0;
    char why[256];
    hk_camt_read (f, "UTC", &s_payment_sink, why, sizeof why);
    fclose (f);
    return 0;
}
