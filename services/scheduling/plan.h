/* plan: when a contact may happen (R-S2) and what the skeleton plans. Pure functions. */
#ifndef HK_SCHEDULING_PLAN_H
#define HK_SCHEDULING_PLAN_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int workday_start_min;  /* debtor's working day starts, minutes after local midnight (540) */
    int window_min;         /* contact within this many minutes after the start (15, R-S2) */
} hk_slot_policy_t;

/* R-S2: the earliest instant at or after now_us inside the contact window of a working day
 * (Monday to Friday; public holidays come with the calendar work) in the debtor's zone.
 * Returns 0 or HK_EINVAL (unknown zone, bad policy). */
int hk_plan_next_slot (const char *zone, int64_t now_us, const hk_slot_policy_t *policy,
                       int64_t *slot_us);

/* R-C1, first rung after the due date: an overdue open invoice gets a written notice. */
bool hk_plan_wants_notice (int32_t dpd, int32_t min_dpd, int64_t outstanding_minor);

#endif
