/* Self-test of scheduling's timing rule R-S2: start of the debtor's working day, in its zone,
 * never at weekends; and the R-C1 first rung. */
#include "check.h"
#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "plan.h"

static int64_t
s_at (const char *text)
{
    int64_t us = 0;
    hk_time_parse (text, &us);
    return us;
}

int
hk_scheduling_test (bool verbose)
{
    int failures = 0;
    hk_slot_policy_t pol = { .workday_start_min = 9 * 60, .window_min = 15 };
    int64_t slot;
    /* Thursday 08:00 Shanghai -> 09:00 the same day */
    CHECK_INT (hk_plan_next_slot ("Asia/Shanghai", s_at ("2026-03-12T08:00:00+08:00"), &pol, &slot), 0);
    CHECK (slot == s_at ("2026-03-12T09:00:00+08:00"));
    /* inside the window: now */
    CHECK_INT (hk_plan_next_slot ("Asia/Shanghai", s_at ("2026-03-12T09:07:00+08:00"), &pol, &slot), 0);
    CHECK (slot == s_at ("2026-03-12T09:07:00+08:00"));
    /* window passed: next working day, Friday */
    CHECK_INT (hk_plan_next_slot ("Asia/Shanghai", s_at ("2026-03-12T09:15:00+08:00"), &pol, &slot), 0);
    CHECK (slot == s_at ("2026-03-13T09:00:00+08:00"));
    /* Friday afternoon -> Monday, never the weekend */
    CHECK_INT (hk_plan_next_slot ("Asia/Shanghai", s_at ("2026-03-13T14:00:00+08:00"), &pol, &slot), 0);
    CHECK (slot == s_at ("2026-03-16T09:00:00+08:00"));
    /* just before midnight UTC on Friday is Saturday in Shanghai: next slot Monday */
    CHECK_INT (hk_plan_next_slot ("Asia/Shanghai", s_at ("2026-03-13T23:30:00Z"), &pol, &slot), 0);
    CHECK (slot == s_at ("2026-03-16T09:00:00+08:00"));
    /* west of UTC: the same instant is Friday evening in New York -> Monday 09:00 there */
    CHECK_INT (hk_plan_next_slot ("America/New_York", s_at ("2026-03-13T23:30:00Z"), &pol, &slot), 0);
    CHECK (slot == s_at ("2026-03-16T09:00:00-04:00"));
    CHECK_INT (hk_plan_next_slot ("Nowhere/Town", s_at ("2026-03-13T23:30:00Z"), &pol, &slot), HK_EINVAL);
    hk_slot_policy_t bad = { .workday_start_min = 23 * 60 + 50, .window_min = 15 };
    CHECK_INT (hk_plan_next_slot ("UTC", 0, &bad, &slot), HK_EINVAL);

    CHECK (hk_plan_wants_notice (1, 1, 100));
    CHECK (!hk_plan_wants_notice (0, 1, 100));
    CHECK (!hk_plan_wants_notice (5, 1, 0));
    if (verbose)
        printf ("scheduling: %d failures\n", failures);
    return failures;
}
