/* escalate: R-L3 age trigger. */
#include "escalate.h"

bool
hk_legal_should_open (int32_t dpd, int32_t threshold_dpd, int64_t outstanding_minor, bool open)
{
    return open && outstanding_minor > 0 && dpd >= threshold_dpd;
}

bool
hk_legal_limitation_near (int32_t days_left, int32_t threshold_days, int64_t outstanding_minor,
                          bool open)
{
    return open && outstanding_minor > 0 && days_left <= threshold_days;
}
