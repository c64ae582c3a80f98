/* clock: the one source of "now" for every daemon (promise 5). By default system time. In
 * simulation the time is stored centrally (fleet_clock in PostgreSQL) and only moves when an
 * operator or test sets or advances it (hkctl clock set/advance); daemons refresh it every
 * tick and do whatever became due. */
#ifndef HUIKUAN_CLOCK_H
#define HUIKUAN_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "huikuan/db.h"

typedef struct hk_clock hk_clock_t;

hk_clock_t *hk_clock_new (void);
void hk_clock_destroy (hk_clock_t **self_p);

/* Reads the fleet clock row. Returns 0, or HK_EDB (the previous reading stays in force). */
int hk_clock_refresh (hk_clock_t *self, hk_db_t *db);
/* Microseconds since the epoch, UTC: the stored time when simulated, else system time. */
int64_t hk_clock_now (const hk_clock_t *self);
bool hk_clock_simulated (const hk_clock_t *self);
/* A number that changes whenever the fleet clock was set or advanced (0 in system mode). */
int64_t hk_clock_generation (const hk_clock_t *self);

/* Operator side. set: simulated, fixed at us. advance: simulated, moved by delta_us (from the
 * current system time if it was not simulated). system: back to system time.
 * Return 0 or HK_EDB / HK_EINVAL (moving backwards by advance is refused). */
int hk_clock_set (hk_db_t *db, int64_t us);
int hk_clock_advance (hk_db_t *db, int64_t delta_us);
int hk_clock_use_system (hk_db_t *db);

/* For unit tests of pure code: a clock fixed at us, without a database. */
hk_clock_t *hk_clock_new_fixed (int64_t us);

#endif
