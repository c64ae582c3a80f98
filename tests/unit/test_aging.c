/* Self-test of aging rules (R-A1): the bucket boundaries, leap years. */
#include "aging_rules.h"
#include "check.h"
#include "huikuan/dates.h"

int
hk_aging_test (bool verbose)
{
    int failures = 0;
    int32_t due = hk_date_from_ymd (2026, 3, 10);
    CHECK_INT (hk_aging_dpd (due, due), 0);
    CHECK_INT (hk_aging_dpd (due, due - 3), -3);
    CHECK_INT (hk_aging_dpd (due, hk_date_from_ymd (2026, 3, 12)), 2);
    /* leap year: 2024-02-28 due, seen 2024-03-01 is two days late */
    CHECK_INT (hk_aging_dpd (hk_date_from_ymd (2024, 2, 28), hk_date_from_ymd (2024, 3, 1)), 2);
    CHECK_STR (hk_aging_bucket (-5), "current");
    CHECK_STR (hk_aging_bucket (0), "current");
    CHECK_STR (hk_aging_bucket (1), "1-30");
    CHECK_STR (hk_aging_bucket (30), "1-30");
    CHECK_STR (hk_aging_bucket (31), "31-60");
    CHECK_STR (hk_aging_bucket (60), "31-60");
    CHECK_STR (hk_aging_bucket (61), "61-90");
    CHECK_STR (hk_aging_bucket (90), "61-90");
    CHECK_STR (hk_aging_bucket (91), "91-180");
    CHECK_STR (hk_aging_bucket (180), "91-180");
    CHECK_STR (hk_aging_bucket (181), "181-365");
    CHECK_STR (hk_aging_bucket (365), "181-365");
    CHECK_STR (hk_aging_bucket (366), "366-730");
    CHECK_STR (hk_aging_bucket (730), "366-730");
    CHECK_STR (hk_aging_bucket (731), "over-730");
    if (verbose)
        printf ("aging: %d failures\n", failures);
    return failures;
}
