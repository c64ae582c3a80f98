/* payment_sink: the sink the bank-statement fuzz targets share. It keeps nothing but traps
 * when a payment breaks what a statement reader promises: an id of 1-64 characters, a plain
 * decimal amount, an RFC 3339 received_at. Header-only: each target is one file. */
#ifndef HK_FUZZ_PAYMENT_SINK_H
#define HK_FUZZ_PAYMENT_SINK_H

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "huikuan/dates.h"
#include "record.h"

static int
s_payment_record (void *arg, const hk_record_t *rec)
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
s_payment_reject (void *arg, long line, const char *field, const char *reason)
{
    (void) arg, (void) line, (void) field, (void) reason;
}

static const hk_sink_t s_payment_sink = { .record = s_payment_record,
                                          .reject = s_payment_reject };

#endif
