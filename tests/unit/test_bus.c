/* test_bus: ZeroMQ event stream with catch-up from the outbox against a real PostgreSQL
 * ($HK_TESTENV from tests/harness/servers.py), in its own database unit_bus_<pid>: gaps
 * filled in order, duplicates dropped, a lost tail found by the idle poll, malformed frames
 * counted and survived, topic prefixes, replay from the start, endpoint discovery. */
#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "huikuan/bus.h"
#include "huikuan/errcodes.h"
#include "huikuan/event.h"

/* Appends count events of type for producer, committed together. 0 or an error code. */
static int
s_append (hk_db_t *db, const char *producer, const char *type, int count)
{
    Huikuan__V1__InvoiceAged aged = HUIKUAN__V1__INVOICE_AGED__INIT;
    aged.invoice_id = "INV-7";
    aged.bucket = "1-30";
    hk_event_t ev = { .type = type, .tenant = "acme", .aggregate_id = "D-7",
                      .occurred_at_us = 1700000000000000, .payload = &aged.base };
    int rc = hk_db_begin (db);
    for (int i = 0; rc == 0 && i < count; i++)
        rc = hk_outbox_append (db, producer, &ev, NULL, NULL);
    if (rc == 0)
        rc = hk_db_commit (db);
    else
        hk_db_rollback (db);
    return rc;
}

/* Appends count events of type for producer as rows of many (hk_outbox_send_batch: one row
 * while type, tenant and time stay the same), committed together. 0 or an error code. */
static int
s_append_many (hk_db_t *db, const char *producer, const char *type, int count)
{
    Huikuan__V1__InvoiceAged aged = HUIKUAN__V1__INVOICE_AGED__INIT;
    aged.invoice_id = "INV-8";
    aged.bucket = "31-60";
    hk_event_t *evs = calloc ((size_t) count, sizeof *evs);
    if (!evs)
        return HK_ENOMEM;
    for (int i = 0; i < count; i++)
        evs[i] = (hk_event_t) { .type = type, .tenant = "acme", .aggregate_id = "D-8",
                                .occurred_at_us = 1700000000000000, .payload = &aged.base };
    hk_copy_buf_t buf = { 0 };
    int rc = hk_db_begin (db);
    if (rc == 0)
        rc = hk_outbox_send_batch (db, producer, evs, count, &buf);
    if (rc == 0)
        rc = hk_db_commit (db);
    else
        hk_db_rollback (db);
    free (buf.data);
    free (evs);
    return rc;
}

/* Sends outbox row (producer, seq) on pub as the relay would. 0 or -1. */
static int
s_send (hk_db_t *db, hk_bus_pub_t *pub, const char *producer, int seq)
{
    char seqs[16];
    snprintf (seqs, sizeof seqs, "%d", seq);
    const char *values[] = { producer, seqs };
    int lengths[] = { 0, 0 }, formats[] = { 0, 0 };
    PGresult *res = hk_db_query_bin (db,
                                     "SELECT type, envelope FROM event_outbox"
                                     " WHERE producer = $1 AND seq = $2::bigint",
                                     2, values, lengths, formats, 1);
    if (!res)
        return -1;
    int rc = -1;
    if (PQntuples (res) == 1)
        rc = hk_bus_pub_send (pub, PQgetvalue (res, 0, 0), PQgetvalue (res, 0, 1),
                              (size_t) PQgetlength (res, 0, 1));
    PQclear (res);
    return rc;
}

/* Next event's sequence from producer (checked), or -1 on timeout, -2 for another producer. */
static int64_t
s_next_seq (hk_bus_sub_t *sub, const char *producer, int timeout_ms)
{
    Huikuan__V1__Envelope *env = NULL;
    int rc = hk_bus_sub_next (sub, timeout_ms, &env);
    if (rc != 1 || !env)
        return -1;
    int64_t seq = strcmp (env->producer, producer) == 0 ? (int64_t) env->sequence : -2;
    hk_envelope_destroy (&env);
    return seq;
}

static int
s_test_live (hk_db_t *db, bool verbose)
{
    int failures = 0;
    char err[256];
    hk_bus_pub_t *pub = hk_bus_pub_new ("tcp://127.0.0.1:*", err, sizeof err);
    CHECK (pub);
    if (!pub)
        return failures;
    CHECK (strncmp (hk_bus_pub_endpoint (pub), "tcp://127.0.0.1:", 16) == 0);
    CHECK (hk_bus_pub_new ("bogus://x", err, sizeof err) == NULL && *err);

    /* Subscribed before any of these producers existed. */
    hk_bus_sub_t *sub = hk_bus_sub_new (db, "");
    CHECK (sub);
    CHECK_INT (hk_bus_sub_connect (sub, hk_bus_pub_endpoint (pub)), 0);
    CHECK_INT (hk_bus_sub_connect (sub, hk_bus_pub_endpoint (pub)), 0); /* idempotent */
    CHECK_INT (hk_bus_sub_connect (sub, "nonsense"), HK_EBUS);
    hk_test_sleep_ms (300);

    /* 1..5 published, 3 lost on the wire: delivered 1..5 in order, 3 from the outbox. */
    CHECK_INT (s_append (db, "bus-a", "invoice.aged", 5), 0);
    for (int seq = 1; seq <= 5; seq++)
        if (seq != 3)
            CHECK_INT (s_send (db, pub, "bus-a", seq), 0);
    for (int want = 1; want <= 5; want++)
        CHECK_INT (s_next_seq (sub, "bus-a", 2000), want);
    CHECK_INT (hk_bus_sub_gaps_filled (sub), 1);

    /* Duplicates are dropped. */
    CHECK_INT (s_send (db, pub, "bus-a", 2), 0);
    CHECK_INT (s_send (db, pub, "bus-a", 5), 0);
    CHECK_INT (s_next_seq (sub, "bus-a", 300), -1);

    /* A producer first heard at its third event: 1 and 2 come from the outbox first. */
    CHECK_INT (s_append (db, "bus-r", "invoice.aged", 3), 0);
    CHECK_INT (s_send (db, pub, "bus-r", 3), 0);
    for (int want = 1; want <= 3; want++)
        CHECK_INT (s_next_seq (sub, "bus-r", 2000), want);
    CHECK_INT (hk_bus_sub_gaps_filled (sub), 3);

    /* A lost tail (nothing more arrives to show the gap) is found by the idle poll. */
    CHECK_INT (s_append (db, "bus-a", "invoice.aged", 2), 0);
    int64_t t0 = hk_test_ms ();
    CHECK_INT (s_next_seq (sub, "bus-a", 3000), 6);
    CHECK_INT (s_next_seq (sub, "bus-a", 3000), 7);
    CHECK (hk_test_ms () - t0 < 2500);
    CHECK_INT (hk_bus_sub_gaps_filled (sub), 5);
    if (verbose)
        printf ("  tail found after %lld ms\n", (long long) (hk_test_ms () - t0));

    /* Malformed frames are counted and dropped; the stream goes on. */
    CHECK_INT (hk_bus_pub_send (pub, "invoice.aged", "\xff\xfe garbage", 10), 0);
    CHECK_INT (hk_bus_pub_send (pub, "invoice.aged", NULL, 0), 0);
    CHECK_INT (s_send (db, pub, "bus-a", 7) == 0 ? 0 : -1, 0);
    /* The right envelope under the wrong type frame. */
    {
        const char *values[] = { "bus-a", "1" };
        int lengths[] = { 0, 0 }, formats[] = { 0, 0 };
        PGresult *res = hk_db_query_bin (db,
                                         "SELECT envelope FROM event_outbox"
                                         " WHERE producer = $1 AND seq = $2::bigint",
                                         2, values, lengths, formats, 1);
        CHECK (res && PQntuples (res) == 1);
        if (res && PQntuples (res) == 1)
            CHECK_INT (hk_bus_pub_send (pub, "invoice.other", PQgetvalue (res, 0, 0),
                                        (size_t) PQgetlength (res, 0, 0)),
                       0);
        PQclear (res);
    }
    void *zctx = zmq_ctx_new ();
    void *raw = zmq_socket (zctx, ZMQ_PUB);
    int linger = 0;
    zmq_setsockopt (raw, ZMQ_LINGER, &linger, sizeof linger);
    CHECK_INT (zmq_bind (raw, "tcp://127.0.0.1:*"), 0);
    char raw_ep[128];
    size_t raw_len = sizeof raw_ep;
    zmq_getsockopt (raw, ZMQ_LAST_ENDPOINT, raw_ep, &raw_len);
    CHECK_INT (hk_bus_sub_connect (sub, raw_ep), 0);
    hk_test_sleep_ms (300);
    zmq_send (raw, "invoice.aged", 12, 0);                      /* one frame */
    zmq_send (raw, "invoice.aged", 12, ZMQ_SNDMORE);            /* three frames */
    zmq_send (raw, "x", 1, ZMQ_SNDMORE);
    zmq_send (raw, "y", 1, 0);
    CHECK_INT (s_append (db, "bus-a", "invoice.aged", 1), 0);
    CHECK_INT (s_send (db, pub, "bus-a", 8), 0);
    CHECK_INT (s_next_seq (sub, "bus-a", 2000), 8);
    CHECK_INT (s_next_seq (sub, "bus-a", 300), -1);
    CHECK_INT (hk_bus_sub_dropped_malformed (sub), 5);
    zmq_close (raw);
    zmq_ctx_term (zctx);

    /* More missing than one catch-up read: all of it, in order. */
    CHECK_INT (s_append (db, "bus-big", "invoice.aged", 1234), 0);
    CHECK_INT (s_send (db, pub, "bus-big", 1234), 0);
    int in_order = 0;
    for (int want = 1; want <= 1234; want++)
        in_order += s_next_seq (sub, "bus-big", 2000) == want;
    CHECK_INT (in_order, 1234);

    /* Rows of many events (migration 25), one of them longer than a catch-up read, and one
     * of another topic's events the cursor passes over: all of it, in order. */
    hk_bus_sub_t *aged = hk_bus_sub_new (db, "invoice.");
    CHECK_INT (hk_bus_sub_connect (aged, hk_bus_pub_endpoint (pub)), 0);
    hk_test_sleep_ms (300);
    CHECK_INT (s_append_many (db, "bus-many", "invoice.aged", 1300), 0);   /* 1 .. 1300 */
    CHECK_INT (s_append_many (db, "bus-many", "contact.planned", 40), 0);  /* .. 1340 */
    CHECK_INT (s_append_many (db, "bus-many", "invoice.aged", 11), 0);     /* .. 1351 */
    CHECK_INT (s_send (db, pub, "bus-many", 1351), 0);
    in_order = 0;
    for (int want = 1; want <= 1351; want++) {
        if (want == 1301)
            want = 1341;
        in_order += s_next_seq (aged, "bus-many", 2000) == want;
    }
    CHECK_INT (in_order, 1311);
    CHECK_INT (s_next_seq (aged, "bus-many", 300), -1);
    hk_bus_sub_destroy (&aged);
    in_order = 0;
    for (int want = 1; want <= 1351 && in_order == want - 1; want++)
        in_order += s_next_seq (sub, "bus-many", 2000) == want;
    CHECK_INT (in_order, 1351);

    /* A topic prefix: other types only move the cursor, never delivered. */
    hk_bus_sub_t *inv = hk_bus_sub_new (db, "invoice.");
    CHECK_INT (hk_bus_sub_connect (inv, hk_bus_pub_endpoint (pub)), 0);
    hk_test_sleep_ms (300);
    CHECK_INT (s_append (db, "bus-t", "invoice.aged", 1), 0);
    CHECK_INT (s_append (db, "bus-t", "contact.planned", 1), 0);
    CHECK_INT (s_append (db, "bus-t", "invoice.settled", 1), 0);
    for (int seq = 1; seq <= 3; seq++)
        CHECK_INT (s_send (db, pub, "bus-t", seq), 0);
    CHECK_INT (s_next_seq (inv, "bus-t", 2000), 1);
    CHECK_INT (s_next_seq (inv, "bus-t", 2000), 3);
    CHECK_INT (s_next_seq (inv, "bus-t", 1500), -1); /* an idle poll happens: still nothing */
    CHECK_INT (hk_bus_sub_gaps_filled (inv), 0);
    hk_bus_sub_destroy (&inv);
    CHECK (inv == NULL);

    /* Subscribed now: the existing log is history; only what comes next is delivered. */
    hk_bus_sub_t *late = hk_bus_sub_new (db, "");
    hk_bus_sub_from_start (late, false);
    CHECK_INT (hk_bus_sub_connect (late, hk_bus_pub_endpoint (pub)), 0);
    hk_test_sleep_ms (300);
    CHECK_INT (s_next_seq (late, "bus-a", 1300), -1);
    CHECK_INT (s_append (db, "bus-a", "invoice.aged", 1), 0);
    CHECK_INT (s_send (db, pub, "bus-a", 9), 0);
    CHECK_INT (s_next_seq (late, "bus-a", 2000), 9);
    CHECK_INT (hk_bus_sub_gaps_filled (late), 0);
    hk_bus_sub_destroy (&late);

    /* Without a database: gaps are skipped, duplicates still dropped. */
    hk_bus_sub_t *bare = hk_bus_sub_new (NULL, "");
    CHECK_INT (hk_bus_sub_connect (bare, hk_bus_pub_endpoint (pub)), 0);
    CHECK_INT (hk_bus_sub_discover (bare), 1);
    hk_test_sleep_ms (300);
    CHECK_INT (s_send (db, pub, "bus-a", 5), 0);
    CHECK_INT (s_send (db, pub, "bus-a", 7), 0);
    CHECK_INT (s_send (db, pub, "bus-a", 7), 0);
    CHECK_INT (s_next_seq (bare, "bus-a", 2000), 5);
    CHECK_INT (s_next_seq (bare, "bus-a", 2000), 7);
    CHECK_INT (s_next_seq (bare, "bus-a", 300), -1);
    hk_bus_sub_destroy (&bare);

    hk_bus_sub_destroy (&sub);
    hk_bus_sub_destroy (NULL);
    hk_bus_pub_destroy (&pub);
    CHECK (pub == NULL);
    hk_bus_pub_destroy (NULL);
    return failures;
}

/* Replay from the start: every producer's log in order, from PostgreSQL alone. */
static int
s_test_from_start (hk_db_t *db)
{
    int failures = 0;
    hk_bus_sub_t *sub = hk_bus_sub_new (db, "");
    hk_bus_sub_from_start (sub, true);
    PGresult *res = hk_db_query (db, "SELECT count(*) FROM event_outbox", 0, NULL);
    int expected = res ? atoi (PQgetvalue (res, 0, 0)) : -1;
    PQclear (res);
    int got = 0, out_of_order = 0;
    char last_producer[64] = "";
    uint64_t last_seq = 0;
    Huikuan__V1__Envelope *env = NULL;
    while (hk_bus_sub_next (sub, 200, &env) == 1) {
        if (strcmp (env->producer, last_producer) != 0) {
            out_of_order += env->sequence != 1;
            snprintf (last_producer, sizeof last_producer, "%s", env->producer);
        }
        else
            out_of_order += env->sequence != last_seq + 1;
        last_seq = env->sequence;
        got++;
        hk_envelope_destroy (&env);
    }
    CHECK (expected > 1000);
    CHECK_INT (got, expected);
    CHECK_INT (out_of_order, 0);
    CHECK_INT (hk_bus_sub_gaps_filled (sub), expected);
    hk_bus_sub_destroy (&sub);
    return failures;
}

/* Endpoints announced in fleet_instance are connected; withdrawn ones disconnected. */
static int
s_test_discover (hk_db_t *db)
{
    int failures = 0;
    char err[256];
    hk_bus_pub_t *pub = hk_bus_pub_new ("tcp://127.0.0.1:*", err, sizeof err);
    const char *params[] = { hk_bus_pub_endpoint (pub) };
    CHECK_INT (hk_db_exec (db,
                           "INSERT INTO fleet_instance (instance, kind, host, pid, bus_endpoint)"
                           " VALUES ('aging-t1', 'aging', 'localhost', 1, $1),"
                           " ('aging-t2', 'aging', 'localhost', 2, NULL)",
                           1, params),
               2);
    hk_bus_sub_t *sub = hk_bus_sub_new (db, "");
    CHECK_INT (hk_bus_sub_discover (sub), 1);
    CHECK_INT (hk_bus_sub_discover (sub), 1);
    hk_test_sleep_ms (300);
    CHECK_INT (s_append (db, "bus-d", "invoice.aged", 1), 0);
    CHECK_INT (s_send (db, pub, "bus-d", 1), 0);
    CHECK_INT (s_next_seq (sub, "bus-d", 2000), 1);
    CHECK_INT (hk_bus_sub_gaps_filled (sub), 0); /* it came over the wire */
    CHECK_INT (hk_db_exec (db, "UPDATE fleet_instance SET bus_endpoint = NULL", 0, NULL), 2);
    CHECK_INT (hk_bus_sub_discover (sub), 0);
    /* One connected by hand stays. */
    CHECK_INT (hk_bus_sub_connect (sub, "tcp://127.0.0.1:1"), 0);
    CHECK_INT (hk_bus_sub_discover (sub), 1);
    hk_bus_sub_destroy (&sub);
    hk_bus_pub_destroy (&pub);
    return failures;
}

/* What an instance announces for its bound endpoints (promise 8): a wildcard address is
 * replaced by the advertised host, anything else stays. */
static int
s_test_advertised (void)
{
    int failures = 0;
    char out[64];
    static const struct {
        const char *bound, *host, *want;
    } cases[] = {
        { "tcp://0.0.0.0:40123", "node-7.example", "tcp://node-7.example:40123" },
        { "tcp://*:5555", "10.0.0.4", "tcp://10.0.0.4:5555" },
        { "tcp://[::]:5555", "fd00::4", "tcp://[fd00::4]:5555" },
        { "tcp://:::5555", "[fd00::4]", "tcp://[fd00::4]:5555" },
        { "http://:8080", "node-7", "http://node-7:8080" },
        { "tcp://127.0.0.1:40123", "node-7", "tcp://127.0.0.1:40123" },
        { "tcp://10.1.2.3:1", "node-7", "tcp://10.1.2.3:1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_INT (hk_endpoint_advertised (cases[i].bound, cases[i].host, out, sizeof out), 0);
        CHECK_STR (out, cases[i].want);
    }
    CHECK_INT (hk_endpoint_advertised ("no-scheme:1", "h", out, sizeof out), HK_EINVAL);
    CHECK_INT (hk_endpoint_advertised ("tcp://*:1", "", out, sizeof out), HK_EINVAL);
    CHECK_INT (hk_endpoint_advertised ("tcp://*:1", "a-very-long-host-name", out, 12), HK_EINVAL);
    return failures;
}

int
hk_bus_test (bool verbose)
{
    hk_db_t *admin = hk_test_admin ("bus");
    if (!admin)
        return 1;
    int failures = s_test_advertised ();
    char name[64];
    hk_db_t *db = hk_test_db_fresh (admin, "unit_bus", name, sizeof name);
    if (db) {
        failures += s_test_live (db, verbose);
        failures += s_test_from_start (db);
        failures += s_test_discover (db);
    }
    else
        failures++;
    hk_db_destroy (&db);
    CHECK (hk_test_db_drop (admin, name) >= 0);
    hk_db_destroy (&admin);
    return failures;
}
