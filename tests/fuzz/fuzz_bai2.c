/* Fuzz target: the BAI2 reader, zone UTC, with a sink that
 * keeps nothing but traps when a payment breaks what the reader promises: an id of 1-64
 * characters, a plain decimal amount, an RFC 3339 received_at. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bai2.h"
#include "huikuan/dates.h"

static int
s_record (void *arg, const hk_record_t *rec)
{
    (void) arg;
    const char *id = hk_record_get (rec, "payment_id");
    const char *amount = hk_record_get (rec, "amount");
    int64_t us;
    if (rec->kind != HK_REC_PAYMENT || !*id || strlen (id) > 64
        || hk_time_parse (hk_record_get (rec, "received_at"), &us) != 0
        || !isdigit ((unsigned char) amount[0]))
        __builtin_trap ();
    for (const char *p = amount; *p; p++)
        if (!isdigit ((unsigned char) *p) && *p != '.')
            __builtin_trap ();
    return 0;
}

static void
s_reject (void *arg, long line, const char *field, const char *reason)
{
    (void) arg;
    (void) line;
    (void) field;
    (void) reason;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    FILE *f = fmemopen ((void *) data, size, "r");
    if (!f)
        return 0;
    hk_sink_t sink = { .arg = NULL, .record = s_record, .reject = s_reject };
    char why[256];
    hk_bai2_read (f, "UTC", &sink, why, sizeof why);
    fclose (f);
    return 0;
}
