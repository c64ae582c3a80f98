/* aging_rules: days past due and aging buckets (R-A1). Pure functions, no I/O. */
#ifndef HK_AGING_RULES_H
#define HK_AGING_RULES_H

#include <stddef.h>
#include <stdint.h>

/* Days past due of an invoice due on due_on, seen on the tenant-local date as_of (both day
 * numbers). Negative before the due date, 0 on it. */
int32_t hk_aging_dpd (int32_t due_on, int32_t as_of);

/* Default buckets of R-A1: "current" (dpd <= 0), "1-30", "31-60", "61-90", "91-180",
 * "181-365", "366-730", "over-730". Returns a static string. */
const char *hk_aging_bucket (int32_t dpd);

/* Tenant-configurable buckets (R-A1 "buckets configurable per tenant"). A spec lists the
 * increasing inclusive upper bounds of the buckets after "current", e.g.
 * "0,30,60,90,180,365,730" (the default); a leading 0, the bound of "current", may be left
 * out. Names are derived: "current" (dpd <= 0), "1-30", "31-60", ..., "over-730". */
#define HK_BUCKETS_MAX       16     /* numbers in a spec, the leading 0 included */
#define HK_BUCKETS_MAX_BOUND 36500  /* a hundred years: keeps the names short */

typedef struct {
    int count;                           /* positive bounds: count + 2 buckets in all */
    int32_t upto[HK_BUCKETS_MAX];        /* increasing, > 0 */
    char names[HK_BUCKETS_MAX + 2][24];  /* "current", one per bound, "over-<last>" */
} hk_buckets_t;

/* Parses spec into out. Spaces around numbers are allowed. Returns 0, or HK_EINVAL with a
 * short message in err (when not NULL) for an empty spec or element, a non-number, a
 * negative, non-increasing or too large bound, more than HK_BUCKETS_MAX numbers, or no bound
 * above 0; out is then left zeroed. */
int hk_buckets_parse (const char *spec, hk_buckets_t *out, char *err, size_t errlen);
/* The default buckets of R-A1, the same as hk_aging_bucket (). */
void hk_buckets_default (hk_buckets_t *out);
/* Name of the bucket of dpd; points into b (valid as long as b). */
const char *hk_buckets_name (const hk_buckets_t *b, int32_t dpd);
/* Days after a day at dpd through which the bucket stays the same (0: tomorrow is in the next
 * one); INT32_MAX in the last bucket. */
int32_t hk_buckets_steady_days (const hk_buckets_t *b, int32_t dpd);

/* Days sales outstanding for the portfolio report: receivables / credit sales x days, both
 * amounts in minor units of the same currency, over a period of days. Result in hundredths
 * of a day, rounded half up (3.125 days -> 313), exact integer arithmetic, saturating at
 * INT64_MAX. Returns -1 when it is undefined: credit sales <= 0, days <= 0 or receivables
 * < 0 (net credit balance). */
int64_t hk_dso (int64_t receivables_minor, int64_t credit_sales_minor, int32_t days);

#endif
