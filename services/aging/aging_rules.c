/* aging_rules: R-A1 days past due, the default and the per-tenant buckets, DSO. */
#include "aging_rules.h"

#include <stdio.h>
#include <string.h>

#include "huikuan/errcodes.h"

static const struct {
    int32_t upto; /* inclusive upper bound of dpd */
    const char *name;
} s_buckets[] = { /* the R-A1 defaults, also of hk_buckets_default () */
    { 0, "current" }, { 30, "1-30" },     { 60, "31-60" },   { 90, "61-90" },
    { 180, "91-180" }, { 365, "181-365" }, { 730, "366-730" },
};

int32_t
hk_aging_dpd (int32_t due_on, int32_t as_of)
{
    return as_of - due_on;
}

const char *
hk_aging_bucket (int32_t dpd)
{
    for (unsigned i = 0; i < sizeof s_buckets / sizeof s_buckets[0]; i++)
        if (dpd <= s_buckets[i].upto)
            return s_buckets[i].name;
    return "over-730";
}

/* Fills the names of b from its bounds. */
static void
s_buckets_name_all (hk_buckets_t *b)
{
    snprintf (b->names[0], sizeof b->names[0], "current");
    for (int i = 0; i < b->count; i++)
        snprintf (b->names[i + 1], sizeof b->names[i + 1], "%d-%d",
                  (int) (i ? b->upto[i - 1] : 0) + 1, (int) b->upto[i]);
    snprintf (b->names[b->count + 1], sizeof b->names[0], "over-%d",
              (int) b->upto[b->count - 1]);
}

static int
s_buckets_fail (hk_buckets_t *out, char *err, size_t errlen, const char *msg, int item)
{
    memset (out, 0, sizeof *out);
    if (err && errlen)
        snprintf (err, errlen, "bucket spec: %s (item %d)", msg, item);
    return HK_EINVAL;
}

int
hk_buckets_parse (const char *spec, hk_buckets_t *out, char *err, size_t errlen)
{
    if (!out)
        return HK_EINVAL;
    memset (out, 0, sizeof *out);
    if (err && errlen)
        err[0] = 0;
    if (!spec)
        return s_buckets_fail (out, err, errlen, "empty", 0);
    const char *p = spec;
    int item = 0;
    int32_t prev = -1;
    for (;;) {
        item++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '-')
            return s_buckets_fail (out, err, errlen, "negative bound", item);
        if (*p < '0' || *p > '9')
            return s_buckets_fail (out, err, errlen,
                                   *p == ',' || *p == 0 ? "empty" : "not a number", item);
        int32_t v = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (*p++ - '0');
            if (v > HK_BUCKETS_MAX_BOUND)
                return s_buckets_fail (out, err, errlen, "bound over 36500 days", item);
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != ',' && *p != 0)
            return s_buckets_fail (out, err, errlen, "not a number", item);
        if (item > HK_BUCKETS_MAX)
            return s_buckets_fail (out, err, errlen, "more than 16 bounds", item);
        if (v <= prev)
            return s_buckets_fail (out, err, errlen, "bounds not increasing", item);
        prev = v;
        if (v > 0)
            out->upto[out->count++] = v;
        if (*p == 0)
            break;
        p++; /* ',' */
    }
    if (out->count == 0)
        return s_buckets_fail (out, err, errlen, "no bound above 0", item);
    s_buckets_name_all (out);
    return 0;
}

void
hk_buckets_default (hk_buckets_t *out)
{
    memset (out, 0, sizeof *out);
    for (unsigned i = 0; i < sizeof s_buckets / sizeof s_buckets[0]; i++)
        if (s_buckets[i].upto > 0)
            out->upto[out->count++] = s_buckets[i].upto;
    s_buckets_name_all (out);
}

const char *
hk_buckets_name (const hk_buckets_t *b, int32_t dpd)
{
    if (dpd <= 0)
        return b->names[0];
    for (int i = 0; i < b->count; i++)
        if (dpd <= b->upto[i])
            return b->names[i + 1];
    return b->names[b->count + 1];
}

int64_t
hk_dso (int64_t receivables_minor, int64_t credit_sales_minor, int32_t days)
{
    if (credit_sales_minor <= 0 || days <= 0 || receivables_minor < 0)
        return -1;
    /* DSO x 100 = receivables x days x 100 / sales; half up: floor ((2 r d 100 + s) / 2 s).
     * At most 2^63 x 2^31 x 200 < 2^102: exact in 128 bits. */
    __extension__ typedef unsigned __int128 u128;
    u128 num = (u128) receivables_minor * (u128) days * 200u + (u128) credit_sales_minor;
    u128 q = num / ((u128) credit_sales_minor * 2u);
    return q > (u128) INT64_MAX ? INT64_MAX : (int64_t) q;
}

int32_t
hk_buckets_steady_days (const hk_buckets_t *b, int32_t dpd)
{
    if (dpd <= 0)
        return -dpd; /* "current" through the due date */
    for (int i = 0; i < b->count; i++)
        if (dpd <= b->upto[i])
            return b->upto[i] - dpd;
    return INT32_MAX; /* the last bucket never ends */
}
