/* test_migrate: self-test of migrate against the test PostgreSQL ($HK_TESTENV). Works in its
 * own databases unit_migrate_<pid>[_n], dropped at the end. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "huikuan/db.h"
#include "huikuan/errcodes.h"
#include "huikuan/migrate.h"

#define HK_MIGRATE_THREADS 4
#define HK_LOCKS_HERE                                                                  \
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "        \
    "(SELECT oid FROM pg_database WHERE datname = current_database ())"

static long
s_count (hk_db_t *db, const char *sql)
{
    PGresult *res = hk_db_query (db, sql, 0, NULL);
    if (!res)
        return -1;
    long n = PQntuples (res) == 1 ? atol (PQgetvalue (res, 0, 0)) : -1;
    PQclear (res);
    return n;
}

static int
s_known (void)
{
    int n = 0;
    while (hk_migrations[n].sql)
        n++;
    return n;
}

typedef struct {
    const char *url;
    pthread_barrier_t *start;
    int applied;
} s_worker_t;

static void *
s_worker (void *arg)
{
    s_worker_t *w = (s_worker_t *) arg;
    hk_db_t *db = hk_db_new (w->url);
    w->applied = HK_EDB;
    if (db && hk_db_connect_wait (db, 5000) == 0) {
        pthread_barrier_wait (w->start);
        w->applied = hk_migrate (db);
    }
    else
        pthread_barrier_wait (w->start);
    hk_db_destroy (&db);
    return NULL;
}

int
hk_migrate_test (bool verbose)
{
    int failures = 0;
    if (!hk_test_need ("migrate", "ADMIN_URL"))
        return 1;

    /* The generated table: versions ascending, names NNNN_*.sql. */
    int known = s_known ();
    CHECK (known >= 2);
    CHECK_INT (hk_migrations[0].version, 1);
    for (int i = 0; i < known; i++) {
        CHECK (hk_migrations[i].name && strstr (hk_migrations[i].name, ".sql"));
        CHECK (hk_migrations[i].version > 0);
        if (i > 0)
            CHECK (hk_migrations[i].version > hk_migrations[i - 1].version);
    }
    CHECK (hk_migrations[known].version == 0 && hk_migrations[known].name == NULL);
    int latest = known > 0 ? hk_migrations[known - 1].version : 0;

    CHECK_INT (hk_migrate (NULL), HK_EINVAL);

    hk_db_t *admin = hk_test_admin ("migrate");
    if (!admin)
        return failures + 1;
    char name[64];
    snprintf (name, sizeof name, "unit_migrate_%d", (int) getpid ());
    char *url = hk_test_db_url (name);
    CHECK (url != NULL);
    CHECK (hk_test_db_create (admin, name) >= 0);

    /* First run applies everything, once; the second applies nothing. */
    hk_db_t *db = hk_db_new (url);
    CHECK_INT (hk_db_connect_wait (db, 5000), 0);
    CHECK_INT (hk_migrate_version (db), 0);
    CHECK_INT (hk_migrate (db), known);
    if (verbose)
        printf ("migrate: applied %d, version %d\n", known, hk_migrate_version (db));
    CHECK_INT (hk_migrate_version (db), latest);
    CHECK_INT (s_count (db, "SELECT count(*) FROM schema_migration"), known);
    CHECK_INT (s_count (db, "SELECT count(*) FROM schema_migration WHERE name LIKE '0001_%' "
                            "AND applied_at IS NOT NULL"),
               1);
    CHECK_INT (s_count (db, "SELECT count(*) FROM fleet_clock"), 1);
    CHECK_INT (s_count (db, "SELECT count(*) FROM information_schema.columns "
                            "WHERE table_name = 'fleet_clock' AND column_name = 'generation'"),
               1);
    CHECK_INT (hk_migrate (db), 0);
    CHECK_INT (hk_migrate (db), 0);
    CHECK_INT (s_count (db, "SELECT count(*) FROM schema_migration"), known);
    /* The advisory lock is released after each run. */
    CHECK_INT (s_count (db, HK_LOCKS_HERE), 0);
    CHECK (!hk_db_in_transaction (db));

    /* A migration whose row is gone is tried again; this one cannot apply (its tables
     * exist) ...*/
    CHECK_INT (hk_db_exec (db, "DROP TABLE legal_case", 0, NULL), 0);
    const char *v1[] = { "1" };
    CHECK_INT (hk_db_exec (db, "DELETE FROM schema_migration WHERE version = $1", 1, v1), 1);
    /* ... and fails as a whole when it cannot apply: nothing of it stays, the lock is freed. */
    CHECK_INT (hk_migrate (db), HK_EDB);
    CHECK_STR (hk_db_sqlstate (db), "42P07");     /* fleet_clock already exists */
    if (verbose)
        printf ("migrate: failing migration: %s\n", hk_db_errstr (db));
    CHECK (!hk_db_in_transaction (db));
    CHECK_INT (s_count (db, HK_LOCKS_HERE), 0);
    CHECK_INT (s_count (db, "SELECT count(*) FROM schema_migration"), known - 1);
    CHECK_INT (s_count (db, "SELECT count(*) FROM pg_tables WHERE tablename = 'legal_case'"),
               0);
    hk_db_destroy (&db);
    free (url);
    CHECK (hk_test_db_drop (admin, name) >= 0);

    /* Many daemons starting at once on an empty database: each migration applied once.
     * Repeated on fresh databases to give the race a few chances. */
    for (int round = 0; round < 3; round++) {
        char rname[80];
        snprintf (rname, sizeof rname, "unit_migrate_%d_%d", (int) getpid (), round);
        char *rurl = hk_test_db_url (rname);
        CHECK (rurl != NULL);
        CHECK (hk_test_db_create (admin, rname) >= 0);
        pthread_barrier_t start;
        pthread_barrier_init (&start, NULL, HK_MIGRATE_THREADS);
        pthread_t threads[HK_MIGRATE_THREADS];
        s_worker_t workers[HK_MIGRATE_THREADS];
        for (int i = 0; i < HK_MIGRATE_THREADS; i++) {
            workers[i] = (s_worker_t) { .url = rurl, .start = &start, .applied = 0 };
            CHECK_INT (pthread_create (&threads[i], NULL, s_worker, &workers[i]), 0);
        }
        int total = 0;
        for (int i = 0; i < HK_MIGRATE_THREADS; i++) {
            pthread_join (threads[i], NULL);
            CHECK (workers[i].applied >= 0);
            if (workers[i].applied > 0)
                total += workers[i].applied;
        }
        pthread_barrier_destroy (&start);
        CHECK_INT (total, known);
        hk_db_t *check = hk_db_new (rurl);
        CHECK_INT (s_count (check, "SELECT count(*) FROM schema_migration"), known);
        CHECK_INT (hk_migrate_version (check), latest);
        hk_db_destroy (&check);
        free (rurl);
        CHECK (hk_test_db_drop (admin, rname) >= 0);
    }
    hk_db_destroy (&admin);
    return failures;
}
