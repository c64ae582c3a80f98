/* aging_rules: days past due and aging buckets (R-A1). Pure functions, no I/O. */
#ifndef HK_AGING_RULES_H
#define HK_AGING_RULES_H

#include <stdint.h>

/* Days past due of an invoice due on due_on, seen on the tenant-local date as_of (both day
 * numbers). Negative before the due date, 0 on it. */
int32_t hk_aging_dpd (int32_t due_on, int32_t as_of);

/* Default buckets of R-A1: "current" (dpd <= 0), "1-30", "31-60", "61-90", "91-180",
 * "181-365", "366-730", "over-730". Returns a static string. */
const char *hk_aging_bucket (int32_t dpd);

#endif
