/* check: the tiny assertion kit of the self-tests (STYLE 3). Each module test is
 *   int hk_<module>_test (bool verbose)
 * returning the number of failed checks, listed in selftest.c. The helpers below the macros
 * are shared by the tests and defined in testkit.c. */
#ifndef HK_TEST_CHECK_H
#define HK_TEST_CHECK_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "huikuan/db.h"

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                               \
        }                                                                             \
    } while (0)

#define CHECK_INT(a, b)                                                               \
    do {                                                                              \
        long long a_ = (long long) (a), b_ = (long long) (b);                          \
        if (a_ != b_) {                                                               \
            fprintf (stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__,     \
                     __LINE__, #a, a_, #b, b_);                                       \
            failures++;                                                               \
        }                                                                             \
    } while (0)

#define CHECK_STR(a, b)                                                               \
    do {                                                                              \
        const char *a_ = (a), *b_ = (b);                                              \
        if (!a_ || !b_ || strcmp (a_, b_) != 0) {                                     \
            fprintf (stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,       \
                     __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");           \
            failures++;                                                               \
        }                                                                             \
    } while (0)

/* Value of KEY in the file named by $HK_TESTENV (KEY=VALUE lines written by the test
 * servers fixture), or NULL when absent. Returned string is static per key slot. */
const char *hk_testenv (const char *key);
/* hk_testenv (key), or NULL after telling on stderr, as who, how to start the test servers. */
const char *hk_test_need (const char *who, const char *key);

/* Monotonic milliseconds, for measuring waits. */
int64_t hk_test_ms (void);
/* Walks the days after a day whose results hold for steady more days (the aging rules'
 * change points), up to horizon days on: same (ctx, k) tells whether the results k days on
 * are the first day's. Counts a change inside the steady days in *late (then stops) and none
 * on the day after them in *early. */
void hk_test_walk_steady (int32_t steady, int32_t horizon, bool (*same) (void *ctx, int32_t k),
                          void *ctx, int *late, int *early);
void hk_test_sleep_ms (int ms);

/* What was written to f since it was last emptied (malloc'd, caller frees; "" when it cannot
 * be read, NULL on ENOMEM); empties f. */
char *hk_test_take (FILE *f);

/* The single value of a query as text ("(null)" for SQL NULL or no row), or NULL on error.
 * Static buffer, valid until the next call. */
const char *hk_test_value (hk_db_t *db, const char *sql, int nparams,
                           const char *const *params);

/* Connection to the test server as administrator (ADMIN_URL), connected within 5 s; NULL
 * after a message on stderr naming who when the servers are missing or unreachable. */
hk_db_t *hk_test_admin (const char *who);
/* Connection string for database name on the server of ADMIN_URL (any libpq form), or NULL;
 * caller frees. */
char *hk_test_db_url (const char *name);
/* (Re)creates database name, dropping a leftover of an earlier run first. name is made by the
 * test of [a-z0-9_] only (it goes into the SQL text): HK_EINVAL otherwise. >= 0 or an error
 * code. */
int hk_test_db_create (hk_db_t *admin, const char *name);
/* Drops database name if it exists, ending its sessions. >= 0 or an error code. */
int hk_test_db_drop (hk_db_t *admin, const char *name);
/* A fresh, migrated database prefix_<pid> and a connection to it; its name goes to name
 * (also on failure, for hk_test_db_drop). NULL after a message on stderr when it cannot be
 * set up. */
hk_db_t *hk_test_db_fresh (hk_db_t *admin, const char *prefix, char *name, size_t len);

#endif
