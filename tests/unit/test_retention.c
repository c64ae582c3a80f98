/* test_retention: housekeeping against real PostgreSQL and Redis ($HK_TESTENV): published old
 * outbox events go and unpublished or young ones stay; old consumed-event records and silent
 * instances go; event streams without a group are trimmed by age, work queues without one
 * and the dead letters are not; the row limit holds; one instance has the turn per period.
 * Works in its own database unit_retention_<pid> and on Redis keys under a pid prefix. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "huikuan/errcodes.h"
#include "huikuan/event.h"
#include "huikuan/retention.h"

static long long
s_count (hk_db_t *db, const char *sql)
{
    const char *v = hk_test_value (db, sql, 0, NULL);
    return v ? atoll (v) : -1;
}

static long long
s_xlen (hk_redis_t *r, const char *stream)
{
    redisReply *reply = hk_redis_cmdf (r, "XLEN %s", stream);
    long long v = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    if (reply)
        freeReplyObject (reply);
    return v;
}

static int
s_exec (hk_db_t *db, const char *sql)
{
    return hk_db_exec (db, sql, 0, NULL);
}

static int
s_test_db (hk_db_t *db, bool verbose)
{
    int failures = 0;
    /* producer p: seq 1, 2, 3 and 5 eight days old, 4 new; published up to 4 */
    CHECK (s_exec (db, "INSERT INTO producer_sequence (producer, last_seq, published_seq)"
                       " VALUES ('p', 5, 4)")
           == 1);
    CHECK (s_exec (db, "INSERT INTO outbox_row (producer, seq, event_id, type, tenant,"
                       " aggregate_id, occurred_at_us, envelope, created_at)"
                       " SELECT 'p', s, gen_random_uuid (), 't', 'default', 'a', 0, '\\x00',"
                       "  CASE WHEN s IN (1, 2, 3, 5) THEN now () - interval '8 days'"
                       "  ELSE now () END"
                       " FROM generate_series (1, 5) AS s")
           == 5);
    CHECK (s_exec (db, "INSERT INTO consumed_event (consumer, event_id, consumed_at)"
                       " SELECT 'aging', gen_random_uuid (), now () - (s + 0.5) * interval '1 day'"
                       " FROM generate_series (0, 39) AS s")
           == 40);
    CHECK (s_exec (db, "INSERT INTO fleet_instance (instance, kind, host, pid, heartbeat_at)"
                       " VALUES ('gone', 'aging', 'h', 1, now () - interval '1 hour'),"
                       " ('alive', 'aging', 'h', 2, now ())")
           == 2);

    hk_retention_t policy = {
        .prefix = "unit-none:",
        .outbox_keep_us = 7 * 86400 * INT64_C (1000000),
        .dedup_keep_us = 30 * 86400 * INT64_C (1000000),
        .instance_expiry_us = 120 * INT64_C (1000000),
        .limit = 2,
    };
    hk_retention_result_t out;
    /* the limit: two rows of each table at most per run */
    CHECK_INT (hk_retention_run (db, NULL, &policy, &out), 0);
    CHECK_INT (out.outbox_rows, 2);
    CHECK_INT (out.dedup_rows, 2);
    CHECK_INT (out.instances, 1);
    CHECK_STR (hk_test_value (db, "SELECT string_agg (seq::text, ',' ORDER BY seq)"
                                  " FROM event_outbox", 0, NULL), "3,4,5");
    policy.limit = 1000;
    CHECK_INT (hk_retention_run (db, NULL, &policy, &out), 0);
    /* 3 was published and old; 4 is young; 5 is old but not published yet */
    CHECK_INT (out.outbox_rows, 1);
    CHECK_STR (hk_test_value (db, "SELECT string_agg (seq::text, ',' ORDER BY seq)"
                                  " FROM event_outbox", 0, NULL), "4,5");
    /* 30.5 .. 39.5 days old: 10 rows past the 30 days, 2 of them gone in the first run */
    CHECK_INT (out.dedup_rows, 8);
    CHECK_INT (s_count (db, "SELECT count (*) FROM consumed_event"), 30);
    CHECK_STR (hk_test_value (db, "SELECT string_agg (instance, ',') FROM fleet_instance", 0,
                              NULL),
               "alive");
    CHECK_INT (hk_retention_run (db, NULL, &policy, &out), 0);
    CHECK_INT (out.outbox_rows + out.dedup_rows + out.instances, 0);
    CHECK_INT (hk_retention_run (db, NULL, NULL, &out), HK_EINVAL);
    if (verbose)
        printf ("  retention database done\n");
    return failures;
}

static int
s_test_redis (hk_redis_t *r, bool verbose)
{
    int failures = 0;
    char prefix[64], ev[96], work[96], dead[96];
    snprintf (prefix, sizeof prefix, "unit-ret-%d:", (int) getpid ());
    snprintf (ev, sizeof ev, "%sev:invoice.recorded", prefix);
    snprintf (work, sizeof work, "%snotify:sms", prefix);
    snprintf (dead, sizeof dead, "%sdead", prefix);
    const char *streams[] = { ev, work, dead };
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < 3; i++)
            CHECK_INT (hk_stream_add (r, streams[s], "x", 1, NULL, 0), 0);
    hk_test_sleep_ms (3);
    hk_retention_t policy = { .prefix = prefix, .stream_keep_ms = 0, .limit = 10 };
    hk_retention_result_t out;
    CHECK_INT (hk_retention_run (NULL, r, &policy, &out), 0);
    CHECK_INT (out.streams, 2); /* the dead letters are not looked at */
    CHECK_INT (out.stream_entries, 3);
    CHECK_INT (s_xlen (r, ev), 0);
    CHECK_INT (s_xlen (r, work), 3);
    CHECK_INT (s_xlen (r, dead), 3);

    /* the turn: one holder per period */
    CHECK_INT (hk_retention_turn (r, prefix, "a", 200), 1);
    CHECK_INT (hk_retention_turn (r, prefix, "b", 200), 0);
    hk_test_sleep_ms (260);
    CHECK_INT (hk_retention_turn (r, prefix, "b", 200), 1);
    CHECK_INT (hk_retention_turn (r, prefix, "b", 0), HK_EINVAL);
    for (int s = 0; s < 3; s++) {
        redisReply *reply = hk_redis_cmdf (r, "DEL %s", streams[s]);
        if (reply)
            freeReplyObject (reply);
    }
    if (verbose)
        printf ("  retention redis done\n");
    return failures;
}

int
hk_retention_test (bool verbose)
{
    const char *redis_url = hk_test_need ("retention", "REDIS_URL");
    hk_db_t *admin = redis_url ? hk_test_admin ("retention") : NULL;
    if (!admin)
        return 1;
    int failures = 0;
    char name[64];
    hk_db_t *db = hk_test_db_fresh (admin, "unit_retention", name, sizeof name);
    CHECK (db);
    if (db)
        failures += s_test_db (db, verbose);
    hk_db_destroy (&db);
    CHECK (hk_test_db_drop (admin, name) >= 0);
    hk_db_destroy (&admin);

    hk_redis_t *r = hk_redis_new (redis_url);
    CHECK_INT (hk_redis_connect (r), 0);
    if (hk_redis_ok (r))
        failures += s_test_redis (r, verbose);
    hk_redis_destroy (&r);
    return failures;
}
