/* migrate: applies the embedded migrations (hk_migrations[], generated from
 * common/sql/NNNN_name.sql) that schema_migration does not list yet. See migrate.h.
 *
 * The whole run holds a session-level advisory lock, so daemons starting together queue up
 * and each migration is applied once. Each migration runs in its own transaction together
 * with its schema_migration row: it is applied completely or not at all (so a migration must
 * not use statements that refuse transactions, such as CREATE INDEX CONCURRENTLY). The
 * lock belongs to the session; if the connection is replaced during the run (hk_db retries
 * a statement on a new connection), the run stops instead of continuing unlocked. */
#include "huikuan/migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "huikuan/errcodes.h"
#include "huikuan/log.h"

/* "hkmigrat" as a big-endian 64-bit number: the advisory lock key of a migration run. */
#define HK_MIGRATE_LOCK_KEY "7524227901927088500"

/* Backend process id of the live session, 0 when there is none. */
static int
s_session (hk_db_t *db)
{
    PGconn *conn = hk_db_conn (db);
    return conn ? PQbackendPID (conn) : 0;
}

/* Begins a transaction on the session that holds the lock. */
static int
s_begin_locked (hk_db_t *db, int session)
{
    if (hk_db_begin (db) != 0)
        return HK_EDB;
    if (s_session (db) != session) {
        hk_db_rollback (db);
        HK_LOG (HK_ERROR, "migrate.lock_lost", HK_S ("error", hk_db_errstr (db)));
        return HK_EDB;
    }
    return 0;
}

static int
s_table_exists (hk_db_t *db)
{
    PGresult *res = hk_db_query (db, "SELECT to_regclass ('schema_migration') IS NOT NULL", 0,
                                 NULL);
    if (!res)
        return HK_EDB;
    int exists = PQntuples (res) == 1 && strcmp (PQgetvalue (res, 0, 0), "t") == 0;
    PQclear (res);
    return exists;
}

static int
s_create_table (hk_db_t *db, int session)
{
    if (s_begin_locked (db, session) != 0)
        return HK_EDB;
    int exists = s_table_exists (db);
    if (exists == 0
        && hk_db_exec (db,
                       "CREATE TABLE schema_migration ("
                       " version integer PRIMARY KEY,"
                       " name text NOT NULL,"
                       " applied_at timestamptz NOT NULL DEFAULT now())",
                       0, NULL)
               < 0)
        exists = HK_EDB;
    if (exists < 0 || hk_db_commit (db) != 0) {
        hk_db_rollback (db);
        return HK_EDB;
    }
    return 0;
}

static bool
s_applied (const PGresult *res, int version)
{
    for (int i = 0; i < PQntuples (res); i++)
        if (atoi (PQgetvalue (res, i, 0)) == version)
            return true;
    return false;
}

static int
s_apply (hk_db_t *db, int session, const hk_migration_t *m)
{
    if (s_begin_locked (db, session) != 0)
        return HK_EDB;
    char version[16];
    snprintf (version, sizeof version, "%d", m->version);
    const char *params[] = { version, m->name };
    if (hk_db_exec_script (db, m->sql) != 0
        || hk_db_exec (db, "INSERT INTO schema_migration (version, name) VALUES ($1, $2)", 2,
                       params)
               < 0
        || hk_db_commit (db) != 0) {
        hk_db_rollback (db);
        HK_LOG (HK_ERROR, "migrate.step_failed", HK_I ("version", m->version),
                HK_S ("name", m->name), HK_S ("sqlstate", hk_db_sqlstate (db)),
                HK_S ("error", hk_db_errstr (db)));
        return HK_EDB;
    }
    HK_LOG (HK_INFO, "migrate.applied", HK_I ("version", m->version), HK_S ("name", m->name));
    return 0;
}

/* Everything that runs under the lock. Returns the number applied or HK_EDB. */
static int
s_run_locked (hk_db_t *db, int session)
{
    if (s_create_table (db, session) != 0)
        return HK_EDB;
    PGresult *done = hk_db_query (db, "SELECT version FROM schema_migration", 0, NULL);
    if (!done)
        return HK_EDB;
    int applied = 0;
    for (const hk_migration_t *m = hk_migrations; m->sql; m++) {
        if (s_applied (done, m->version))
            continue;
        if (s_apply (db, session, m) != 0) {
            applied = HK_EDB;
            break;
        }
        applied++;
    }
    PQclear (done);
    return applied;
}

int
hk_migrate (hk_db_t *db)
{
    if (!db)
        return HK_EINVAL;
    const char *key[] = { HK_MIGRATE_LOCK_KEY };
    PGresult *res = hk_db_query (db, "SELECT pg_advisory_lock ($1::bigint)", 1, key);
    if (!res)
        return HK_EDB;
    PQclear (res);
    int session = s_session (db);
    int applied = s_run_locked (db, session);
    /* A session that ended took its lock with it; never reconnect just to unlock. */
    if (hk_db_ok (db) && s_session (db) == session) {
        res = hk_db_query (db, "SELECT pg_advisory_unlock ($1::bigint)", 1, key);
        if (res)
            PQclear (res);
        else {
            HK_LOG (HK_ERROR, "migrate.unlock_failed", HK_S ("error", hk_db_errstr (db)));
            applied = HK_EDB;
        }
    }
    return applied;
}

int
hk_migrate_version (hk_db_t *db)
{
    if (!db)
        return HK_EINVAL;
    int exists = s_table_exists (db);
    if (exists <= 0)
        return exists;
    PGresult *res = hk_db_query (db, "SELECT coalesce (max (version), 0) FROM schema_migration",
                                 0, NULL);
    if (!res)
        return HK_EDB;
    int version = atoi (PQgetvalue (res, 0, 0));
    PQclear (res);
    return version;
}
