/* escalate: when an invoice goes to legal (R-L3). Pure. The skeleton rule is the age trigger;
 * failed contacts, broken promises and the limitation clock come with the legal work. */
#ifndef HK_LEGAL_ESCALATE_H
#define HK_LEGAL_ESCALATE_H

#include <stdbool.h>
#include <stdint.h>

/* R-L3: an open invoice with outstanding money at or past threshold_dpd days overdue. */
bool hk_legal_should_open (int32_t dpd, int32_t threshold_dpd, int64_t outstanding_minor,
                           bool open);

/* R-L3 with R-L1: the limitation period near its end — days_left at or below
 * threshold_days, or expired (negative) — sends an open invoice with money owed to legal,
 * whatever its age, so a lawyer can still interrupt the period. */
bool hk_legal_limitation_near (int32_t days_left, int32_t threshold_days,
                               int64_t outstanding_minor, bool open);

#endif
