/* test_clock: self-test of the fleet clock against the test PostgreSQL ($HK_TESTENV). Works
 * in its own database unit_clock_<pid>, dropped at the end. */

#include "check.h"
#include "huikuan/clock.h"
#include "huikuan/dates.h"
#include "huikuan/db.h"
#include "huikuan/errcodes.h"

/* True when a system-time reading is within a second of now. */
static bool
s_near_system (int64_t us)
{
    int64_t d = us - hk_time_system_us ();
    return d > -HK_US_PER_SEC && d < HK_US_PER_SEC;
}

int
hk_clock_test (bool verbose)
{
    int failures = 0;

    /* Without a database. */
    hk_clock_destroy (NULL);
    hk_clock_t *fixed = hk_clock_new_fixed (INT64_C (1795000000000000));
    CHECK (fixed != NULL);
    CHECK (hk_clock_simulated (fixed));
    CHECK_INT (hk_clock_now (fixed), INT64_C (1795000000000000));
    CHECK_INT (hk_clock_now (fixed), INT64_C (1795000000000000));
    hk_clock_destroy (&fixed);
    CHECK (fixed == NULL);
    hk_clock_t *clock = hk_clock_new ();
    CHECK (clock != NULL);
    CHECK (!hk_clock_simulated (clock));
    CHECK (s_near_system (hk_clock_now (clock)));
    CHECK_INT (hk_clock_generation (clock), 0);
    CHECK_INT (hk_clock_refresh (clock, NULL), HK_EINVAL);
    CHECK_INT (hk_clock_advance (NULL, 1), HK_EINVAL);

    hk_db_t *admin = hk_test_admin ("clock");
    if (!admin) {
        hk_clock_destroy (&clock);
        return failures + 1;
    }
    char name[64];
    hk_db_t *db = hk_test_db_fresh (admin, "unit_clock", name, sizeof name);
    CHECK (db != NULL);
    if (!db) {
        CHECK (hk_test_db_drop (admin, name) >= 0);
        hk_db_destroy (&admin);
        hk_clock_destroy (&clock);
        return failures;
    }

    /* Default: system time. */
    CHECK_INT (hk_clock_refresh (clock, db), 0);
    CHECK (!hk_clock_simulated (clock));
    CHECK (s_near_system (hk_clock_now (clock)));
    CHECK_INT (hk_clock_generation (clock), 0);

    /* Set: fixed until moved, seen by every reader after a refresh. */
    int64_t t1 = INT64_C (1795000000000000);     /* 2026-11-18T11:06:40Z */
    CHECK_INT (hk_clock_set (db, t1), 0);
    CHECK (!hk_clock_simulated (clock));         /* not before a refresh */
    CHECK_INT (hk_clock_refresh (clock, db), 0);
    CHECK (hk_clock_simulated (clock));
    CHECK_INT (hk_clock_now (clock), t1);
    int64_t g1 = hk_clock_generation (clock);
    CHECK (g1 != 0);
    hk_clock_t *other = hk_clock_new ();
    CHECK_INT (hk_clock_refresh (other, db), 0);
    CHECK_INT (hk_clock_now (other), t1);
    CHECK_INT (hk_clock_generation (other), g1);
    CHECK_INT (hk_clock_refresh (clock, db), 0);  /* nothing changed: same generation */
    CHECK_INT (hk_clock_generation (clock), g1);

    /* Setting the same time again is still a change. */
    CHECK_INT (hk_clock_set (db, t1), 0);
    CHECK_INT (hk_clock_refresh (clock, db), 0);
    int64_t g2 = hk_clock_generation (clock);
    CHECK (g2 != 0 && g2 != g1);

    /* Advance. */
    CHECK_INT (hk_clock_advance (db, HK_US_PER_HOUR), 0);
    CHECK_INT (hk_clock_refresh (clock, db), 0);
    CHECK_INT (hk_clock_now (clock), t1 + HK_US_PER_HOUR);
    int64_t g3 = hk_clock_generation (clock);
    CHECK (g3 != 0 && g3 != g2 && g3 != g1);
    CHECK_INT (hk_clock_advance (db, 30 * HK_US_PER_DAY), 0);
    CHECK_INT (hk_clock_advance (db, 0), 0);
    CHECK_INT (hk_clock_refresh (clock, db), 0);
    CHECK_INT (hk_clock_now (clock), t1 + HK_US_PER_HOUR + 30 * HK_US_PER_DAY);

    /* Backwards by advance is refused and changes nothing; set may go back. */
    int64_t g4 = hk_clock_generation (clock);
    CHECK_INT (hk_clock_advance (db, -1), HK_EINVAL);
    CHECK_INT (hk_clock_advance (db, -HK_US_PER_DAY), HK_EINVAL);
    CHECK_INT (hk_clock_refresh (clock, db), 0);
    CHECK_INT (hk_clock_now (clock), t1 + HK_US_PER_HOUR + 30 * HK_US_PER_DAY);
    CHECK_INT (hk_clock_generation (clock), g4);
    CHECK_INT (hk_clock_set (db, t1 - HK_US_PER_DAY), 0);
    CHECK_INT (hk_clock_refresh (clock, db), 0);
    CHECK_INT (hk_clock_now (clock), t1 - HK_US_PER_DAY);

    /* Back to system time. */
    CHECK_INT (hk_clock_use_system (db), 0);
    CHECK_INT (hk_clock_refresh (clock, db), 0);
    CHECK (!hk_clock_simulated (clock));
    CHECK (s_near_system (hk_clock_now (clock)));
    CHECK_INT (hk_clock_generation (clock), 0);

    /* Advance from system mode starts at the current system time. */
    int64_t before = hk_time_system_us ();
    CHECK_INT (hk_clock_advance (db, HK_US_PER_DAY), 0);
    int64_t after = hk_time_system_us ();
    CHECK_INT (hk_clock_refresh (clock, db), 0);
    CHECK (hk_clock_simulated (clock));
    CHECK (hk_clock_now (clock) >= before + HK_US_PER_DAY);
    CHECK (hk_clock_now (clock) <= after + HK_US_PER_DAY);
    CHECK (hk_clock_generation (clock) != 0);
    if (verbose) {
        char buf[40];
        hk_time_format (hk_clock_now (clock), buf, sizeof buf);
        printf ("clock: advanced from system time to %s (generation %lld)\n", buf,
                (long long) hk_clock_generation (clock));
    }

    /* A missing row means system time. */
    CHECK_INT (hk_db_exec (db, "DELETE FROM fleet_clock", 0, NULL), 1);
    CHECK_INT (hk_clock_refresh (other, db), 0);
    CHECK (!hk_clock_simulated (other));
    CHECK_INT (hk_clock_generation (other), 0);
    CHECK_INT (hk_clock_set (db, t1), 0);        /* and set recreates it */
    CHECK_INT (hk_clock_refresh (other, db), 0);
    CHECK_INT (hk_clock_now (other), t1);
    CHECK (hk_clock_generation (other) != 0);

    /* Refresh keeps the last reading when PostgreSQL cannot be reached. */
    CHECK_INT (hk_clock_refresh (clock, db), 0);
    int64_t g5 = hk_clock_generation (clock);
    hk_db_t *nowhere = hk_db_new ("postgresql://postgres@127.0.0.1:1/postgres");
    CHECK_INT (hk_clock_refresh (clock, nowhere), HK_EDB);
    CHECK_INT (hk_clock_set (nowhere, 0), HK_EDB);
    CHECK_INT (hk_clock_advance (nowhere, 1), HK_EDB);
    CHECK_INT (hk_clock_use_system (nowhere), HK_EDB);
    hk_db_destroy (&nowhere);
    CHECK (hk_clock_simulated (clock));
    CHECK_INT (hk_clock_now (clock), t1);
    CHECK_INT (hk_clock_generation (clock), g5);

    /* ... and when the database goes away under a live connection. */
    CHECK (hk_test_db_drop (admin, name) >= 0);
    CHECK_INT (hk_clock_refresh (clock, db), HK_EDB);
    CHECK (hk_clock_simulated (clock));
    CHECK_INT (hk_clock_now (clock), t1);
    CHECK_INT (hk_clock_generation (clock), g5);

    hk_clock_destroy (&other);
    hk_clock_destroy (&clock);
    hk_db_destroy (&db);
    hk_db_destroy (&admin);
    return failures;
}
