/* testkit: helpers shared by the self-tests (declared in check.h): the test servers'
 * environment, time, captured output, and throwaway databases on the test PostgreSQL. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "huikuan/errcodes.h"
#include "huikuan/migrate.h"

const char *
hk_testenv (const char *key)
{
    static char values[16][512];
    static int next;
    const char *path = getenv ("HK_TESTENV");
    if (!path)
        return NULL;
    FILE *f = fopen (path, "r");
    if (!f)
        return NULL;
    char line[600];
    size_t klen = strlen (key);
    const char *found = NULL;
    while (fgets (line, sizeof line, f)) {
        if (strncmp (line, key, klen) == 0 && line[klen] == '=') {
            char *v = line + klen + 1;
            v[strcspn (v, "\r\n")] = 0;
            char *slot = values[next++ % 16];
            snprintf (slot, 512, "%s", v);
            found = slot;
            break;
        }
    }
    fclose (f);
    return found;
}

const char *
hk_test_need (const char *who, const char *key)
{
    const char *value = hk_testenv (key);
    if (!value)
        fprintf (stderr, "%s: HK_TESTENV is not set or has no %s: start the test servers "
                         "(tests/harness/servers.py start DIR) and set HK_TESTENV=DIR/env\n",
                 who, key);
    return value;
}

int64_t
hk_test_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
hk_test_walk_steady (int32_t steady, int32_t horizon, bool (*same) (void *ctx, int32_t k),
                     void *ctx, int *late, int *early)
{
    bool ends = steady < horizon; /* the day after the steady days is walked too */
    int32_t upto = ends ? steady + 1 : horizon;
    for (int32_t k = 1; k <= upto; k++) {
        bool unchanged = same (ctx, k);
        if (k <= steady && !unchanged) {
            (*late)++;
            return;
        }
        if (ends && k == upto && unchanged)
            (*early)++;
    }
}

void
hk_test_sleep_ms (int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000 };
    nanosleep (&ts, NULL);
}

char *
hk_test_take (FILE *f)
{
    fflush (f);
    long n = ftell (f);
    char *buf = calloc (1, (size_t) (n > 0 ? n : 0) + 1);
    if (!buf)
        return NULL;
    rewind (f);
    if (n > 0 && fread (buf, 1, (size_t) n, f) != (size_t) n)
        buf[0] = 0;
    rewind (f);
    if (ftruncate (fileno (f), 0) != 0)
        buf[0] = 0;
    return buf;
}

const char *
hk_test_value (hk_db_t *db, const char *sql, int nparams, const char *const *params)
{
    static char buf[256];
    PGresult *res = hk_db_query (db, sql, nparams, params);
    if (!res)
        return NULL;
    snprintf (buf, sizeof buf, "%s",
              PQntuples (res) > 0 && !PQgetisnull (res, 0, 0) ? PQgetvalue (res, 0, 0)
                                                              : "(null)");
    PQclear (res);
    return buf;
}

hk_db_t *
hk_test_admin (const char *who)
{
    const char *admin_url = hk_test_need (who, "ADMIN_URL");
    if (!admin_url)
        return NULL;
    hk_db_t *admin = hk_db_new (admin_url);
    if (!admin || hk_db_connect_wait (admin, 5000) != 0) {
        fprintf (stderr, "%s: cannot reach the test server: %s\n", who,
                 admin ? hk_db_errstr (admin) : "out of memory");
        hk_db_destroy (&admin);
    }
    return admin;
}

char *
hk_test_db_url (const char *name)
{
    const char *admin_url = hk_testenv ("ADMIN_URL");
    if (!admin_url || !name)
        return NULL;
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse (admin_url, &err);
    if (!opts) {
        PQfreemem (err);
        return NULL;
    }
    size_t cap = 1024, used = 0;
    char *out = malloc (cap);
    for (PQconninfoOption *o = opts; out && o->keyword; o++) {
        const char *val = strcmp (o->keyword, "dbname") == 0 ? name : o->val;
        if (!val)
            continue;
        if (used + strlen (o->keyword) + 2 * strlen (val) + 8 > cap) {
            cap = 2 * cap + 2 * strlen (val);
            char *bigger = realloc (out, cap);
            if (!bigger) {
                free (out);
                out = NULL;
                break;
            }
            out = bigger;
        }
        used += (size_t) sprintf (out + used, "%s%s='", used ? " " : "", o->keyword);
        for (const char *c = val; *c; c++) {
            if (*c == '\'' || *c == '\\')
                out[used++] = '\\';
            out[used++] = *c;
        }
        out[used++] = '\'';
        out[used] = 0;
    }
    PQconninfoFree (opts);
    return out;
}

/* Runs fmt with the database name on the admin connection. The name goes into the SQL text
 * (CREATE/DROP DATABASE take no parameters), so only names the tests made of lower-case
 * letters, digits and '_' are accepted, never data. */
static int
s_admin (hk_db_t *admin, const char *fmt, const char *name)
{
    if (!admin || !name || !*name || strlen (name) > 63
        || strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen (name))
        return HK_EINVAL;
    char sql[160];
    snprintf (sql, sizeof sql, fmt, name);
    return hk_db_exec (admin, sql, 0, NULL);
}

int
hk_test_db_create (hk_db_t *admin, const char *name)
{
    int rc = s_admin (admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    if (rc < 0)
        return rc;
    return s_admin (admin, "CREATE DATABASE %s", name);
}

int
hk_test_db_drop (hk_db_t *admin, const char *name)
{
    return s_admin (admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
}

hk_db_t *
hk_test_db_fresh (hk_db_t *admin, const char *prefix, char *name, size_t len)
{
    snprintf (name, len, "%s_%d", prefix, (int) getpid ());
    if (hk_test_db_create (admin, name) < 0) {
        fprintf (stderr, "%s: cannot create the database: %s\n", name,
                 admin ? hk_db_errstr (admin) : "no admin connection");
        return NULL;
    }
    char *url = hk_test_db_url (name);
    hk_db_t *db = url ? hk_db_new (url) : NULL;
    free (url);
    if (db && hk_db_connect_wait (db, 5000) == 0 && hk_migrate (db) >= 0)
        return db;
    fprintf (stderr, "%s: database setup failed: %s\n", name,
             db ? hk_db_errstr (db) : "out of memory");
    hk_db_destroy (&db);
    return NULL;
}
