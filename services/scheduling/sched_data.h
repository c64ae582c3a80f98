/* sched_data: the files built into the scheduling logic (services/CMakeLists.txt). */
#ifndef HK_SCHEDULING_SCHED_DATA_H
#define HK_SCHEDULING_SCHED_DATA_H

#include <stddef.h>

extern const char hk_sched_default_strategy[];      /* deploy/strategies/default.json */
extern const size_t hk_sched_default_strategy_len;
extern const char hk_sched_calendar_cn[];           /* deploy/calendars/CN.cal */
extern const size_t hk_sched_calendar_cn_len;

#endif
