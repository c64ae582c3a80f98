/* clock: the fleet clock (promise 5). See clock.h.
 *
 * The one row of fleet_clock says whether the fleet runs on system time or on a simulated
 * time (now_us), and carries a generation bumped by every set, advance and return to system
 * time (migration 0002). A clock object holds the last reading; a failed refresh keeps it. */
#include "huikuan/clock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "huikuan/dates.h"
#include "huikuan/errcodes.h"

struct hk_clock {
    bool simulated;
    int64_t now_us;
    int64_t generation;
};

hk_clock_t *
hk_clock_new (void)
{
    return (hk_clock_t *) calloc (1, sizeof (hk_clock_t));
}

hk_clock_t *
hk_clock_new_fixed (int64_t us)
{
    hk_clock_t *self = hk_clock_new ();
    if (self) {
        self->simulated = true;
        self->now_us = us;
    }
    return self;
}

void
hk_clock_destroy (hk_clock_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free (*self_p);
    *self_p = NULL;
}

static bool
s_parse_int64 (const char *text, int64_t *out)
{
    char *end = NULL;
    long long v = strtoll (text, &end, 10);
    if (!text[0] || !end || *end)
        return false;
    *out = (int64_t) v;
    return true;
}

int
hk_clock_refresh (hk_clock_t *self, hk_db_t *db)
{
    if (!self || !db)
        return HK_EINVAL;
    PGresult *res = hk_db_query (db,
                                 "SELECT simulated, now_us, generation FROM fleet_clock "
                                 "WHERE singleton",
                                 0, NULL);
    if (!res)
        return HK_EDB;
    hk_clock_t reading = { false, 0, 0 };
    bool good = true;
    if (PQntuples (res) == 1) {
        reading.simulated = strcmp (PQgetvalue (res, 0, 0), "t") == 0;
        good = s_parse_int64 (PQgetvalue (res, 0, 1), &reading.now_us)
            && s_parse_int64 (PQgetvalue (res, 0, 2), &reading.generation);
    }
    /* No row: nobody ever set the clock, so system time. */
    PQclear (res);
    if (!good)
        return HK_EDB;
    *self = reading;
    return 0;
}

int64_t
hk_clock_now (const hk_clock_t *self)
{
    if (self && self->simulated)
        return self->now_us;
    return hk_time_system_us ();
}

bool
hk_clock_simulated (const hk_clock_t *self)
{
    return self && self->simulated;
}

int64_t
hk_clock_generation (const hk_clock_t *self)
{
    return self && self->simulated ? self->generation : 0;
}

int
hk_clock_set (hk_db_t *db, int64_t us)
{
    if (!db)
        return HK_EINVAL;
    char at[24];
    snprintf (at, sizeof at, "%" PRId64, us);
    const char *params[] = { at };
    int rc = hk_db_exec (db,
                         "INSERT INTO fleet_clock (singleton, simulated, now_us, generation) "
                         "VALUES (true, true, $1::bigint, 1) "
                         "ON CONFLICT (singleton) DO UPDATE SET simulated = true, "
                         "now_us = EXCLUDED.now_us, generation = fleet_clock.generation + 1, "
                         "changed_at = now()",
                         1, params);
    return rc < 0 ? HK_EDB : 0;
}

int
hk_clock_advance (hk_db_t *db, int64_t delta_us)
{
    if (!db || delta_us < 0)
        return HK_EINVAL;
    char delta[24], system[24];
    snprintf (delta, sizeof delta, "%" PRId64, delta_us);
    snprintf (system, sizeof system, "%" PRId64, hk_time_system_us ());
    const char *params[] = { delta, system };
    /* One statement: concurrent advances add up instead of overwriting each other. */
    int rc = hk_db_exec (db,
                         "INSERT INTO fleet_clock (singleton, simulated, now_us, generation) "
                         "VALUES (true, true, $2::bigint + $1::bigint, 1) "
                         "ON CONFLICT (singleton) DO UPDATE SET simulated = true, "
                         "now_us = CASE WHEN fleet_clock.simulated THEN fleet_clock.now_us "
                         "ELSE $2::bigint END + $1::bigint, "
                         "generation = fleet_clock.generation + 1, changed_at = now()",
                         2, params);
    return rc < 0 ? HK_EDB : 0;
}

int
hk_clock_use_system (hk_db_t *db)
{
    if (!db)
        return HK_EINVAL;
    int rc = hk_db_exec (db,
                         "INSERT INTO fleet_clock (singleton, simulated, now_us, generation) "
                         "VALUES (true, false, 0, 1) "
                         "ON CONFLICT (singleton) DO UPDATE SET simulated = false, now_us = 0, "
                         "generation = fleet_clock.generation + 1, changed_at = now()",
                         0, NULL);
    return rc < 0 ? HK_EDB : 0;
}
