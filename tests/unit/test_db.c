/* test_db: self-test of db against the test PostgreSQL ($HK_TESTENV, tests/harness/servers.py).
 * Works in its own database unit_db_<pid>, dropped at the end. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "huikuan/db.h"
#include "huikuan/errcodes.h"

/* Ends the backend of db from the admin connection and waits until it is gone. */
static bool
s_kill_backend (hk_db_t *admin, hk_db_t *db)
{
    char pid[16];
    snprintf (pid, sizeof pid, "%d", PQbackendPID (hk_db_conn (db)));
    const char *params[] = { pid };
    const char *v =
        hk_test_value (admin, "SELECT pg_terminate_backend ($1::int, 5000)", 1, params);
    return v && strcmp (v, "t") == 0;
}

int
hk_db_test (bool verbose)
{
    int failures = 0;
    if (!hk_test_need ("db", "ADMIN_URL"))
        return 1;

    /* Handles without a server. */
    hk_db_destroy (NULL);
    hk_db_t *none = NULL;
    hk_db_destroy (&none);
    none = hk_db_new ("postgresql://postgres@127.0.0.1:1/postgres");
    CHECK (none != NULL);
    CHECK (!hk_db_ok (none));
    CHECK (hk_db_conn (none) == NULL);
    CHECK_INT (hk_db_connect (none), HK_EDB);
    CHECK (strncmp (hk_db_errstr (none), "cannot connect", 14) == 0);
    CHECK (strchr (hk_db_errstr (none), '\n') == NULL);
    CHECK_STR (hk_db_sqlstate (none), "08001");
    int64_t t0 = hk_test_ms ();
    CHECK_INT (hk_db_connect_wait (none, 300), HK_EDB);
    int64_t waited = hk_test_ms () - t0;
    CHECK (waited >= 290 && waited < 3000);
    CHECK (hk_db_query (none, "SELECT 1", 0, NULL) == NULL);
    CHECK_INT (hk_db_exec (none, "SELECT 1", 0, NULL), HK_EDB);
    CHECK_INT (hk_db_rollback (none), 0);
    hk_db_destroy (&none);
    CHECK (none == NULL);

    hk_db_t *admin = hk_test_admin ("db");
    if (!admin)
        return failures + 1;

    /* Array literals for whole batches as one parameter. */
    hk_pgarr_t a = { 0 };
    char *lit = hk_pgarr_finish (&a);
    CHECK_STR (lit, "{}");
    free (lit);
    a = (hk_pgarr_t) { 0 };
    hk_pgarr_text (&a, "plain");
    hk_pgarr_text (&a, NULL);
    hk_pgarr_text (&a, "say \"hi\", {x}\\y");
    hk_pgarr_text (&a, "NULL");
    hk_pgarr_text (&a, "");
    hk_pgarr_int (&a, -42);
    lit = hk_pgarr_finish (&a);
    CHECK_STR (lit, "{\"plain\",NULL,\"say \\\"hi\\\", {x}\\\\y\",\"NULL\",\"\",\"-42\"}");
    const char *ap[] = { lit };
    /* PostgreSQL reads back exactly what went in, NULL apart from the text "NULL" */
    CHECK_STR (hk_test_value (admin,
                              "SELECT string_agg (coalesce (x, '<null>'), '|' ORDER BY o)"
                              " FROM unnest ($1::text[]) WITH ORDINALITY AS u (x, o)",
                              1, ap),
               "plain|<null>|say \"hi\", {x}\\y|NULL||-42");
    free (lit);
    a = (hk_pgarr_t) { 0 };
    for (int i = 0; i < 5000; i++)
        hk_pgarr_int (&a, i); /* grows past its first buffer */
    lit = hk_pgarr_finish (&a);
    const char *bp[] = { lit };
    CHECK_STR (hk_test_value (admin, "SELECT count (*) || ':' || sum (x::int)"
                                     " FROM unnest ($1::text[]) AS u (x)", 1, bp),
               "5000:12497500");
    free (lit);
    char name[64];
    snprintf (name, sizeof name, "unit_db_%d", (int) getpid ());
    char *url = hk_test_db_url (name);
    CHECK (url != NULL);
    CHECK (hk_test_db_create (admin, name) >= 0);

    hk_db_t *db = hk_db_new (url);
    CHECK (db != NULL);
    CHECK (!hk_db_ok (db));
    CHECK_STR (hk_db_errstr (db), "");
    CHECK_STR (hk_db_sqlstate (db), "");
    CHECK_INT (hk_db_connect_wait (db, 5000), 0);
    CHECK (hk_db_ok (db));
    CHECK (hk_db_conn (db) != NULL);
    CHECK_INT (hk_db_connect (db), 0);    /* already connected: no-op */

    /* Statements and parameters. */
    CHECK_INT (hk_db_exec (db,
                           "CREATE TABLE t (id integer PRIMARY KEY, name text, data bytea, "
                           "n bigint)",
                           0, NULL),
               0);
    const char *p1[] = { "1", "alpha", NULL };
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id, name, n) VALUES ($1, $2, $3)", 3, p1), 1);
    const char *q1[] = { "1" };
    const char *v = hk_test_value (db, "SELECT n IS NULL FROM t WHERE id = $1", 1, q1);
    CHECK (v && strcmp (v, "t") == 0);
    v = hk_test_value (db, "SELECT name FROM t WHERE id = $1", 1, q1);
    CHECK (v && strcmp (v, "alpha") == 0);
    /* A value that would be an injection if pasted into SQL is just text here. */
    const char *p2[] = { "2", "x'); DROP TABLE t; --", "42" };
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id, name, n) VALUES ($1, $2, $3)", 3, p2), 1);
    const char *q2[] = { "2" };
    v = hk_test_value (db, "SELECT name FROM t WHERE id = $1", 1, q2);
    CHECK (v && strcmp (v, p2[1]) == 0);

    /* Binary parameters (bytea with NUL bytes, int4 in network order) and binary results. */
    const char blob[] = { 'a', 0, 'b', (char) 0xff, 0 };
    uint32_t id3 = htonl (3);
    const char *bv[] = { (const char *) &id3, blob };
    const int bl[] = { 4, (int) sizeof blob };
    const int bf[] = { 1, 1 };
    PGresult *res = hk_db_query_bin (db, "INSERT INTO t (id, data) VALUES ($1::int4, $2::bytea)",
                                     2, bv, bl, bf, 0);
    CHECK (res != NULL);
    PQclear (res);
    res = hk_db_query_bin (db, "SELECT data, id FROM t WHERE id = $1::int4", 1, bv, bl, bf, 1);
    CHECK (res != NULL);
    if (res) {
        CHECK_INT (PQntuples (res), 1);
        CHECK_INT (PQgetlength (res, 0, 0), (int) sizeof blob);
        CHECK (memcmp (PQgetvalue (res, 0, 0), blob, sizeof blob) == 0);
        uint32_t got;
        memcpy (&got, PQgetvalue (res, 0, 1), 4);
        CHECK_INT (ntohl (got), 3);
        PQclear (res);
    }
    CHECK_INT (hk_db_exec (db, "UPDATE t SET n = 7", 0, NULL), 3);
    CHECK_INT (hk_db_exec (db, "UPDATE t SET n = 8 WHERE false", 0, NULL), 0);

    /* Errors: one line, SQLSTATE kept; the row values of an integrity violation are not. */
    const char *dup[] = { "1", "secret@example.com", NULL };
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id, name, n) VALUES ($1, $2, $3)", 3, dup), HK_EDB);
    CHECK_STR (hk_db_sqlstate (db), "23505");
    CHECK (strstr (hk_db_errstr (db), "duplicate key") != NULL);
    CHECK (strstr (hk_db_errstr (db), "t_pkey") != NULL);
    CHECK (strstr (hk_db_errstr (db), "secret") == NULL);
    CHECK (strstr (hk_db_errstr (db), "(1)") == NULL);
    if (verbose)
        printf ("db: unique violation: %s\n", hk_db_errstr (db));
    CHECK (hk_db_ok (db));
    CHECK (hk_db_query (db, "SELEC 1", 0, NULL) == NULL);
    CHECK_STR (hk_db_sqlstate (db), "42601");
    size_t elen = strlen (hk_db_errstr (db));
    CHECK (elen > 0 && hk_db_errstr (db)[elen - 1] != '\n' && !strchr (hk_db_errstr (db), '\n'));
    CHECK (hk_db_query (db, "SELECT nosuchcolumn FROM t", 0, NULL) == NULL);
    CHECK_STR (hk_db_sqlstate (db), "42703");
    CHECK (hk_db_query (db, "SELECT $1::int", 0, NULL) == NULL);   /* missing parameter */
    CHECK (strlen (hk_db_errstr (db)) > 0);
    const char *bad[] = { "abc" };
    CHECK (hk_db_query (db, "SELECT $1::int", 1, bad) == NULL);
    CHECK_STR (hk_db_sqlstate (db), "22P02");
    CHECK (hk_db_query (db, NULL, 0, NULL) == NULL);
    /* Detail and hint follow the message. */
    CHECK (hk_db_exec_script (db, "DO $$ BEGIN RAISE EXCEPTION 'boom' USING DETAIL = 'the "
                                  "detail', HINT = 'the hint', ERRCODE = 'P0001'; END $$")
           == HK_EDB);
    CHECK_STR (hk_db_errstr (db), "boom: the detail (hint: the hint)");
    CHECK_STR (hk_db_sqlstate (db), "P0001");

    /* Scripts. */
    CHECK_INT (hk_db_exec_script (db, "CREATE TABLE s1 (a int); CREATE TABLE s2 (b int);\n"
                                      "INSERT INTO s1 VALUES (1), (2);"),
               0);
    v = hk_test_value (db, "SELECT count(*) FROM s1", 0, NULL);
    CHECK (v && strcmp (v, "2") == 0);

    /* Transactions. */
    CHECK (!hk_db_in_transaction (db));
    CHECK_INT (hk_db_rollback (db), 0);       /* safe without one */
    CHECK_INT (hk_db_commit (db), HK_EDB);    /* not without one */
    CHECK_INT (hk_db_begin (db), 0);
    CHECK (hk_db_in_transaction (db));
    CHECK_INT (hk_db_begin (db), HK_EDB);     /* no nesting */
    CHECK (hk_db_in_transaction (db));
    const char *p10[] = { "10" };
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id) VALUES ($1)", 1, p10), 1);
    CHECK_INT (hk_db_rollback (db), 0);
    CHECK (!hk_db_in_transaction (db));
    v = hk_test_value (db, "SELECT count(*) FROM t WHERE id = $1", 1, p10);
    CHECK (v && strcmp (v, "0") == 0);

    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id) VALUES ($1)", 1, p10), 1);
    CHECK_INT (hk_db_commit (db), 0);
    CHECK (!hk_db_in_transaction (db));
    v = hk_test_value (db, "SELECT count(*) FROM t WHERE id = $1", 1, p10);
    CHECK (v && strcmp (v, "1") == 0);

    /* Binary COPY: every value kind round-trips, NULLs included; a malformed uuid is refused
     * while building. */
    CHECK_INT (hk_db_exec (db,
                           "CREATE TABLE bin (t text, b bytea, i bigint, d date, u uuid)", 0,
                           NULL),
               0);
    hk_copy_buf_t cb = { 0 };
    const unsigned char raw[] = { 0, 1, 0xfe, 0xff };
    CHECK (hk_copy_bin_header (&cb));
    CHECK (hk_copy_bin_row (&cb, 5) && hk_copy_bin_text (&cb, "tab\there \"q\" 回款")
           && hk_copy_bin_bytes (&cb, raw, sizeof raw) && hk_copy_bin_i64 (&cb, -9007199254740993)
           && hk_copy_bin_date (&cb, true, 20819) /* 2027-01-01 */
           && hk_copy_bin_uuid (&cb, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0ff"));
    CHECK (hk_copy_bin_row (&cb, 5) && hk_copy_bin_text (&cb, NULL)
           && hk_copy_bin_bytes (&cb, NULL, 0) && hk_copy_bin_i64 (&cb, 0)
           && hk_copy_bin_date (&cb, false, 0) && hk_copy_bin_uuid (&cb, NULL));
    CHECK (hk_copy_bin_trailer (&cb));
    hk_copy_buf_t badb = { 0 };
    CHECK (!hk_copy_bin_uuid (&badb, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f"));
    CHECK (!hk_copy_bin_uuid (&badb, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0fx"));
    CHECK (!hk_copy_bin_uuid (&badb, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0ff00"));
    free (badb.data);
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_db_copy_in (db, "COPY bin FROM STDIN (FORMAT binary)", cb.data, cb.len), 0);
    CHECK_INT (hk_db_commit (db), 0);
    free (cb.data);
    v = hk_test_value (db,
                       "SELECT t || '|' || encode (b, 'hex') || '|' || i || '|' || d || '|' || u"
                       " FROM bin WHERE t IS NOT NULL",
                       0, NULL);
    CHECK_STR (v, "tab\there \"q\" 回款|0001feff|-9007199254740993|2027-01-01|"
                  "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0ff");
    v = hk_test_value (db,
                       "SELECT count(*) FROM bin WHERE t IS NULL AND b IS NULL AND i = 0"
                       " AND d IS NULL AND u IS NULL",
                       0, NULL);
    CHECK_STR (v, "1");

    /* Sent ahead: only inside a transaction; the result is collected later; the next statement
     * collects a forgotten one first and fails with its error; commit and rollback settle it. */
    const char *p41[] = { "41" };
    CHECK_INT (hk_db_send_bin (db, "SELECT $1::int + 1", 1, p41, NULL, NULL, 0), HK_EDB);
    CHECK_STR (hk_db_sqlstate (db), "25P01");
    CHECK (hk_db_collect (db) == NULL);
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_db_send_bin (db, "SELECT $1::int + 1", 1, p41, NULL, NULL, 0), 0);
    PGresult *ahead = hk_db_collect (db);
    CHECK (ahead && PQntuples (ahead) == 1 && strcmp (PQgetvalue (ahead, 0, 0), "42") == 0);
    PQclear (ahead);
    CHECK_INT (hk_db_send_bin (db, "SELECT 1 / ($1::int - 41)", 1, p41, NULL, NULL, 0), 0);
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id) VALUES (40)", 0, NULL), HK_EDB);
    CHECK_STR (hk_db_sqlstate (db), "22012"); /* the division's error, not the insert's */
    CHECK_INT (hk_db_rollback (db), 0);
    CHECK (!hk_db_in_transaction (db));
    CHECK_INT (hk_db_begin (db), 0);
    static const char rows40[] = "40\n41\n";
    CHECK_INT (hk_db_copy_send (db, "COPY t (id) FROM STDIN", rows40, sizeof rows40 - 1), 0);
    CHECK_INT (hk_db_copy_send (db, "COPY t (id) FROM STDIN", "42\n", 3), 0); /* collects */
    CHECK_INT (hk_db_commit (db), 0);
    v = hk_test_value (db, "SELECT count(*) FROM t WHERE id BETWEEN 40 AND 42", 0, NULL);
    CHECK_STR (v, "3");
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_db_copy_send (db, "COPY t (id) FROM STDIN", "43\nforty-four\n", 14), 0);
    CHECK_INT (hk_db_commit (db), HK_EDB); /* the COPY's failure: rolled back */
    CHECK_STR (hk_db_sqlstate (db), "22P02");
    CHECK (!hk_db_in_transaction (db));
    v = hk_test_value (db, "SELECT count(*) FROM t WHERE id = 43", 0, NULL);
    CHECK_STR (v, "0");
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_db_copy_send (db, "COPY t (id) FROM STDIN", "44\n", 3), 0);
    CHECK_INT (hk_db_rollback (db), 0); /* discarded */
    v = hk_test_value (db, "SELECT count(*) FROM t WHERE id = 44", 0, NULL);
    CHECK_STR (v, "0");
    CHECK_INT (hk_db_exec (db, "DELETE FROM t WHERE id BETWEEN 40 AND 44", 0, NULL), 3);

    /* A failed statement aborts the transaction: commit refuses, nothing is kept, and the
     * rollback keeps the statement's error for the caller. */
    const char *p11[] = { "11" };
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id) VALUES ($1)", 1, p11), 1);
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id) VALUES ($1)", 1, p10), HK_EDB);
    CHECK_STR (hk_db_sqlstate (db), "23505");
    CHECK (hk_db_in_transaction (db));
    CHECK_INT (hk_db_rollback (db), 0);
    CHECK_STR (hk_db_sqlstate (db), "23505");
    CHECK (!hk_db_in_transaction (db));
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id) VALUES ($1)", 1, p11), 1);
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id) VALUES ($1)", 1, p10), HK_EDB);
    CHECK_INT (hk_db_commit (db), HK_EDB);
    CHECK_STR (hk_db_sqlstate (db), "25P02");
    CHECK (!hk_db_in_transaction (db));
    CHECK_INT (hk_db_rollback (db), 0);
    v = hk_test_value (db, "SELECT count(*) FROM t WHERE id = $1", 1, p11);
    CHECK (v && strcmp (v, "0") == 0);

    /* A BEGIN sent as a statement is followed too. */
    CHECK_INT (hk_db_exec (db, "BEGIN", 0, NULL), 0);
    CHECK (hk_db_in_transaction (db));
    CHECK_INT (hk_db_rollback (db), 0);
    CHECK (!hk_db_in_transaction (db));

    /* The server ends the session outside a transaction: the statement is retried once on a
     * new connection and succeeds. */
    int pid_before = PQbackendPID (hk_db_conn (db));
    CHECK (s_kill_backend (admin, db));
    v = hk_test_value (db, "SELECT count(*) FROM t", 0, NULL);
    CHECK (v && strcmp (v, "4") == 0);
    CHECK (hk_db_ok (db));
    CHECK (PQbackendPID (hk_db_conn (db)) != pid_before);
    CHECK (s_kill_backend (admin, db));
    const char *p12[] = { "12" };
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id) VALUES ($1)", 1, p12), 1);
    /* ... and a new transaction after a broken idle session works. */
    CHECK (s_kill_backend (admin, db));
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_db_commit (db), 0);

    /* Inside a transaction: the statement fails, nothing is retried or reconnected until
     * the transaction is ended, and none of its work survives. */
    const char *p13[] = { "13" }, *p14[] = { "14" };
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id) VALUES ($1)", 1, p13), 1);
    CHECK (s_kill_backend (admin, db));
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id) VALUES ($1)", 1, p14), HK_EDB);
    if (verbose)
        printf ("db: killed inside a transaction: %s [%s]\n", hk_db_errstr (db),
                hk_db_sqlstate (db));
    CHECK (!hk_db_ok (db));
    CHECK (hk_db_in_transaction (db));
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id) VALUES ($1)", 1, p14), HK_EDB);
    CHECK (!hk_db_ok (db));
    CHECK_INT (hk_db_begin (db), HK_EDB);
    /* Even an explicit reconnect does not let the lost transaction's work go on. */
    CHECK_INT (hk_db_connect (db), 0);
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id) VALUES ($1)", 1, p14), HK_EDB);
    CHECK_INT (hk_db_commit (db), HK_EDB);
    CHECK (!hk_db_in_transaction (db));
    v = hk_test_value (db, "SELECT count(*) FROM t WHERE id IN (13, 14)", 0, NULL);
    CHECK (v && strcmp (v, "0") == 0);

    /* Same, ended by rollback, which succeeds (the server dropped the transaction). */
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id) VALUES ($1)", 1, p13), 1);
    CHECK (s_kill_backend (admin, db));
    CHECK (hk_db_query (db, "SELECT 1", 0, NULL) == NULL);
    CHECK_INT (hk_db_rollback (db), 0);
    CHECK (!hk_db_in_transaction (db));
    v = hk_test_value (db, "SELECT count(*) FROM t WHERE id IN (13, 14)", 0, NULL);
    CHECK (v && strcmp (v, "0") == 0);
    CHECK (hk_db_ok (db));

    /* Commit on a broken session fails without reconnecting. */
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_db_exec (db, "INSERT INTO t (id) VALUES ($1)", 1, p13), 1);
    CHECK (s_kill_backend (admin, db));
    CHECK_INT (hk_db_commit (db), HK_EDB);
    CHECK (!hk_db_in_transaction (db));
    v = hk_test_value (db, "SELECT count(*) FROM t WHERE id = 13", 0, NULL);
    CHECK (v && strcmp (v, "0") == 0);

    /* The database disappears: calls fail cleanly, the handle stays usable. */
    hk_db_destroy (&db);
    CHECK (db == NULL);
    CHECK (hk_test_db_drop (admin, name) >= 0);
    db = hk_db_new (url);
    CHECK_INT (hk_db_connect (db), HK_EDB);
    CHECK (strstr (hk_db_errstr (db), name) != NULL);
    hk_db_destroy (&db);
    hk_db_destroy (&admin);
    free (url);
    return failures;
}
