/* aging_rules: R-A1 days past due and the default buckets. */
#include "aging_rules.h"

static const struct {
    int32_t upto; /* inclusive upper bound of dpd */
    const char *name;
} s_buckets[] = {
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
