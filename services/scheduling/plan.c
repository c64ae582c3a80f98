/* plan: contact timing (R-S2) and the first ladder step (R-C1). */
#include "plan.h"

#include "huikuan/dates.h"
#include "huikuan/errcodes.h"

int
hk_plan_next_slot (const char *zone, int64_t now_us, const hk_slot_policy_t *policy,
                   int64_t *slot_us)
{
    if (!policy || policy->window_min <= 0 || policy->workday_start_min < 0
        || policy->workday_start_min + policy->window_min > 24 * 60)
        return HK_EINVAL;
    hk_local_t local;
    if (hk_tz_local (zone, now_us, &local) != 0)
        return HK_EINVAL;
    for (int k = 0; k < 14; k++) {
        int32_t date = local.date + k;
        if (hk_date_weekday (date) > 5)
            continue; /* never weekends (R-S2) */
        int64_t start, end;
        if (hk_tz_instant (zone, date, policy->workday_start_min, &start) != 0)
            return HK_EINVAL;
        end = start + (int64_t) policy->window_min * HK_US_PER_MIN;
        if (now_us < end) {
            *slot_us = now_us > start ? now_us : start;
            return 0;
        }
    }
    return HK_EINVAL;
}

bool
hk_plan_wants_notice (int32_t dpd, int32_t min_dpd, int64_t outstanding_minor)
{
    return dpd >= min_dpd && outstanding_minor > 0;
}
