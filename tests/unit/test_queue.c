/* test_queue: Redis connection handling and stream work queues against a real Redis
 * (REDIS_URL from $HK_TESTENV): URL forms, push/read/ack, claiming from a dead consumer,
 * own pending entries after a restart, deleted entries, a group and stream lost with a Redis
 * restart, blocking reads longer than the socket timeout, and reconnecting. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "huikuan/errcodes.h"
#include "huikuan/queue.h"

static int
s_add (hk_redis_t *r, const char *stream, const char *text, char *id)
{
    return hk_stream_add (r, stream, text, strlen (text), id, id ? 32 : 0);
}

/* Runs a command and returns its integer reply, or -1. */
static long long
s_int (hk_redis_t *r, const char *fmt, const char *arg)
{
    redisReply *reply = hk_redis_cmdf (r, fmt, arg);
    long long v = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    if (reply)
        freeReplyObject (reply);
    return v;
}

/* Kills r's connection from admin (CLIENT KILL ID); returns the clients killed, or -1. */
static long long
s_kill (hk_redis_t *r, hk_redis_t *admin)
{
    redisReply *reply = hk_redis_cmdf (r, "CLIENT ID");
    long long cid = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    if (reply)
        freeReplyObject (reply);
    char cids[32];
    snprintf (cids, sizeof cids, "%lld", cid);
    return s_int (admin, "CLIENT KILL ID %s", cids);
}

static int
s_test_urls (const char *url, bool verbose)
{
    int failures = 0;
    /* A bad URL still gives a handle; connecting says why. */
    hk_redis_t *r = hk_redis_new ("http://127.0.0.1:6379");
    CHECK (r);
    CHECK_INT (hk_redis_connect (r), HK_EREDIS);
    CHECK (strstr (hk_redis_errstr (r), "invalid redis url"));
    CHECK (!hk_redis_ok (r));
    CHECK (hk_redis_cmdf (r, "PING") == NULL);
    hk_redis_destroy (&r);
    CHECK (r == NULL);
    hk_redis_destroy (&r);
    hk_redis_destroy (NULL);

    r = hk_redis_new ("redis://127.0.0.1:99999");
    CHECK_INT (hk_redis_connect (r), HK_EREDIS);
    hk_redis_destroy (&r);
    r = hk_redis_new ("redis://127.0.0.1:6379/x");
    CHECK_INT (hk_redis_connect (r), HK_EREDIS);
    hk_redis_destroy (&r);
    r = hk_redis_new ("redis://:sec%zz@127.0.0.1:6379");
    CHECK_INT (hk_redis_connect (r), HK_EREDIS);
    hk_redis_destroy (&r);

    /* Nothing listens on port 1: fails fast, handle stays usable. */
    r = hk_redis_new ("redis://127.0.0.1:1");
    CHECK_INT (hk_redis_connect (r), HK_EREDIS);
    CHECK (strstr (hk_redis_errstr (r), "127.0.0.1:1"));
    CHECK_INT (hk_stream_add (r, "t:none", "x", 1, NULL, 0), HK_EREDIS);
    hk_redis_destroy (&r);

    /* The real server: with a password it refuses AUTH (none configured), and the
     * password never shows in the error. */
    char buf[256];
    const char *hostport = strstr (url, "://") ? strstr (url, "://") + 3 : url;
    snprintf (buf, sizeof buf, "redis://:s3cr%%65t-pw@%s", hostport);
    r = hk_redis_new (buf);
    CHECK_INT (hk_redis_connect (r), HK_EREDIS);
    CHECK (strstr (hk_redis_errstr (r), "AUTH"));
    CHECK (!strstr (hk_redis_errstr (r), "s3cr"));
    if (verbose)
        printf ("  auth error: %s\n", hk_redis_errstr (r));
    hk_redis_destroy (&r);

    /* Database number: SELECT after connect. */
    snprintf (buf, sizeof buf, "redis://%s/3", hostport);
    r = hk_redis_new (buf);
    CHECK_INT (hk_redis_connect (r), 0);
    redisReply *reply = hk_redis_cmdf (r, "CLIENT INFO");
    CHECK (reply && reply->type == REDIS_REPLY_STRING && strstr (reply->str, " db=3 "));
    if (reply)
        freeReplyObject (reply);
    hk_redis_destroy (&r);
    return failures;
}

static int
s_test_queue (hk_redis_t *r, hk_redis_t *admin, bool verbose)
{
    int failures = 0;
    char stream[64], id[32];
    snprintf (stream, sizeof stream, "t:queue:%d:%lld", (int) getpid (),
              (long long) hk_test_ms ());
    hk_queue_msg_t msgs[8];

    /* Reading a stream that does not exist yet creates it and the group. */
    hk_queue_t *q1 = hk_queue_new (r, stream, "g", "c1", 300);
    CHECK (q1);
    CHECK (hk_queue_new (r, stream, "", "c1", 300) == NULL);
    CHECK_INT (hk_queue_read (q1, msgs, 8, 0), 0);
    CHECK_INT (hk_queue_pending (q1), 0);

    /* push / read / ack */
    CHECK_INT (s_add (r, stream, "one", id), 0);
    CHECK (strchr (id, '-'));
    CHECK_INT (s_add (r, stream, "two", NULL), 0);
    const char bin[] = { 't', 0, 'h', 'r', 'e', 'e' };
    CHECK_INT (hk_stream_add (r, stream, bin, sizeof bin, NULL, 0), 0);
    int n = hk_queue_read (q1, msgs, 8, 0);
    CHECK_INT (n, 3);
    if (n == 3) {
        CHECK_STR (msgs[0].id, id);
        CHECK_STR (msgs[0].data, "one");
        CHECK_INT (msgs[0].len, 3);
        CHECK_INT (msgs[0].deliveries, 1);
        CHECK_STR (msgs[1].data, "two");
        CHECK_INT (msgs[2].len, sizeof bin);
        CHECK (memcmp (msgs[2].data, bin, sizeof bin) == 0);
        CHECK_INT (hk_queue_pending (q1), 3);
        CHECK_INT (hk_queue_ack (q1, msgs[0].id), 0);
        CHECK_INT (hk_queue_ack (q1, msgs[1].id), 0);
        CHECK_INT (hk_queue_pending (q1), 1);
    }
    hk_queue_batch_clear (msgs, n);
    CHECK (n < 1 || msgs[0].data == NULL);
    CHECK_INT (hk_queue_read (q1, msgs, 8, 0), 0);

    /* c1 dies holding "three". A second consumer does not get it before claim_idle... */
    hk_queue_destroy (&q1);
    CHECK (q1 == NULL);
    hk_queue_t *q2 = hk_queue_new (r, stream, "g", "c2", 300);
    CHECK_INT (hk_queue_read (q2, msgs, 8, 0), 0);
    /* ... and gets it after, as a second delivery. */
    hk_test_sleep_ms (350);
    n = hk_queue_read (q2, msgs, 8, 0);
    CHECK_INT (n, 1);
    if (n == 1) {
        CHECK_INT (msgs[0].len, sizeof bin);
        CHECK_INT (msgs[0].deliveries, 2);
        CHECK_INT (hk_queue_ack (q2, msgs[0].id), 0);
    }
    hk_queue_batch_clear (msgs, n);
    CHECK_INT (hk_queue_pending (q2), 0);

    /* A consumer that fails to process a message gets it again after claim_idle, with the
     * count going up (the daemon parks it after a few). */
    CHECK_INT (s_add (r, stream, "poison", NULL), 0);
    int64_t deliveries = 0;
    for (int round = 0; round < 3; round++) {
        n = hk_queue_read (q2, msgs, 8, 0);
        if (n == 0) {
            hk_test_sleep_ms (350);
            n = hk_queue_read (q2, msgs, 8, 0);
        }
        CHECK_INT (n, 1);
        if (n == 1) {
            CHECK_STR (msgs[0].data, "poison");
            CHECK (msgs[0].deliveries > deliveries);
            deliveries = msgs[0].deliveries;
        }
        hk_queue_batch_clear (msgs, n);
    }
    CHECK_INT (deliveries, 3);
    redisReply *reply = hk_redis_cmdf (r, "XPENDING %s g - + 10", stream);
    CHECK (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1);
    if (reply && reply->elements == 1)
        CHECK (hk_queue_ack (q2, reply->element[0]->element[0]->str) == 0);
    if (reply)
        freeReplyObject (reply);

    /* Own pending entries come back after a restart of the same consumer. */
    CHECK_INT (s_add (r, stream, "mine", NULL), 0);
    CHECK_INT (s_add (r, stream, "gone", NULL), 0);
    n = hk_queue_read (q2, msgs, 8, 0);
    CHECK_INT (n, 2);
    char gone_id[32] = "";
    if (n == 2) {
        CHECK_INT (msgs[0].deliveries, 1);
        snprintf (gone_id, sizeof gone_id, "%s", msgs[1].id);
    }
    hk_queue_batch_clear (msgs, n);
    hk_queue_destroy (&q2);
    /* "gone" is deleted from the stream while pending: skipped and cleared. */
    reply = hk_redis_cmdf (r, "XDEL %s %s", stream, gone_id);
    CHECK (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1);
    if (reply)
        freeReplyObject (reply);
    q2 = hk_queue_new (r, stream, "g", "c2", 60000);
    n = hk_queue_read (q2, msgs, 8, 0);
    CHECK_INT (n, 1);
    if (n == 1) {
        CHECK_STR (msgs[0].data, "mine");
        CHECK_INT (msgs[0].deliveries, 2);
        CHECK_INT (hk_queue_ack (q2, msgs[0].id), 0);
    }
    hk_queue_batch_clear (msgs, n);
    CHECK_INT (hk_queue_pending (q2), 0);
    CHECK_INT (hk_queue_read (q2, msgs, 8, 0), 0);

    /* More own pending entries than one batch: read in turns, none twice. */
    hk_queue_t *q3 = hk_queue_new (r, stream, "g", "c3", 60000);
    for (int i = 0; i < 5; i++)
        CHECK_INT (s_add (r, stream, "batch", NULL), 0);
    CHECK_INT (hk_queue_read (q3, msgs, 8, 0), 5);
    hk_queue_batch_clear (msgs, 5);
    hk_queue_destroy (&q3);
    q3 = hk_queue_new (r, stream, "g", "c3", 60000);
    int total = 0;
    for (int round = 0; round < 4; round++) {
        n = hk_queue_read (q3, msgs, 2, 0);
        CHECK (n >= 0 && n <= 2);
        for (int i = 0; i < n; i++) {
            CHECK_INT (msgs[i].deliveries, 2);
            CHECK_INT (hk_queue_ack (q3, msgs[i].id), 0);
        }
        total += n > 0 ? n : 0;
        hk_queue_batch_clear (msgs, n);
    }
    CHECK_INT (total, 5);
    CHECK_INT (hk_queue_pending (q3), 0);
    hk_queue_destroy (&q3);

    /* Many acknowledged in one XACK: those named leave the pending list, the others stay;
     * none (or only empty ids) is no command at all. */
    hk_queue_t *q4 = hk_queue_new (r, stream, "g", "c4", 60000);
    for (int i = 0; i < 4; i++)
        CHECK_INT (s_add (r, stream, "many", NULL), 0);
    n = hk_queue_read (q4, msgs, 8, 0);
    CHECK_INT (n, 4);
    if (n == 4) {
        const char *three[] = { msgs[0].id, "", msgs[2].id, msgs[3].id };
        CHECK_INT (hk_queue_ack_many (q4, three, 0), 0);
        CHECK_INT (hk_queue_ack_many (q4, three + 1, 1), 0);
        CHECK_INT (hk_queue_pending (q4), 4);
        CHECK_INT (hk_queue_ack_many (q4, three, 4), 0);
        CHECK_INT (hk_queue_pending (q4), 1);
        const char *last[] = { msgs[1].id };
        CHECK_INT (hk_queue_ack_many (q4, last, 1), 0);
        CHECK_INT (hk_queue_pending (q4), 0);
    }
    hk_queue_batch_clear (msgs, n);
    CHECK_INT (hk_queue_ack_many (NULL, NULL, 1), HK_EINVAL);
    hk_queue_destroy (&q4);

    /* Blocking: waits, then returns 0; a wait longer than the 5 s socket timeout must not
     * break the connection. */
    int64_t t0 = hk_test_ms ();
    CHECK_INT (hk_queue_read (q2, msgs, 8, 300), 0);
    CHECK (hk_test_ms () - t0 >= 280);
    if (getenv ("HK_TEST_SHORT") == NULL) {
        t0 = hk_test_ms ();
        CHECK_INT (hk_queue_read (q2, msgs, 8, 5600), 0);
        CHECK (hk_test_ms () - t0 >= 5500);
        CHECK (hk_redis_ok (r));
    }

    /* Redis restarted without its data: stream and group are gone. The producer's XADD makes
     * a bare stream; the consumer recreates the group and reads from the start. */
    CHECK_INT (s_int (r, "DEL %s", stream), 1);
    CHECK_INT (s_add (r, stream, "after restart", NULL), 0);
    n = hk_queue_read (q2, msgs, 8, 0);
    CHECK_INT (n, 1);
    if (n == 1) {
        CHECK_STR (msgs[0].data, "after restart");
        CHECK_INT (msgs[0].deliveries, 1);
        CHECK_INT (hk_queue_ack (q2, msgs[0].id), 0);
    }
    hk_queue_batch_clear (msgs, n);
    /* Gone before the read: NOGROUP on the own pending read and ack too. */
    CHECK_INT (s_int (r, "DEL %s", stream), 1);
    CHECK_INT (hk_queue_ack (q2, "1-1"), 0);
    CHECK_INT (hk_queue_pending (q2), 0);
    CHECK_INT (s_add (r, stream, "again", NULL), 0);
    n = hk_queue_read (q2, msgs, 8, 0);
    CHECK_INT (n, 1);
    hk_queue_batch_clear (msgs, n);

    /* The connection is killed: the next command reconnects and is retried; a consumer
     * reads its own pending entries again after a reconnect (a lost reply may have
     * delivered some). */
    CHECK_INT (s_kill (r, admin), 1);
    CHECK_INT (s_add (r, stream, "after kill", NULL), 0);
    CHECK (hk_redis_ok (r));
    n = hk_queue_read (q2, msgs, 8, 0);
    CHECK_INT (n, 2); /* "again" (own pending, re-read after the reconnect) and "after kill" */
    if (n == 2) {
        CHECK_STR (msgs[0].data, "again");
        CHECK_INT (msgs[0].deliveries, 2);
        CHECK_STR (msgs[1].data, "after kill");
        CHECK_INT (msgs[1].deliveries, 1);
        for (int i = 0; i < n; i++)
            hk_queue_ack (q2, msgs[i].id);
    }
    hk_queue_batch_clear (msgs, n);
    CHECK_INT (hk_queue_pending (q2), 0);

    /* An entry written by someone else without the "d" field arrives empty. */
    reply = hk_redis_cmdf (r, "XADD %s * other x", stream);
    if (reply)
        freeReplyObject (reply);
    n = hk_queue_read (q2, msgs, 8, 0);
    CHECK_INT (n, 1);
    if (n == 1) {
        CHECK_INT (msgs[0].len, 0);
        CHECK_STR (msgs[0].data, "");
        hk_queue_ack (q2, msgs[0].id);
    }
    hk_queue_batch_clear (msgs, n);

    CHECK_INT (hk_queue_read (NULL, msgs, 8, 0), HK_EINVAL);
    CHECK_INT (hk_queue_read (q2, msgs, 0, 0), HK_EINVAL);
    hk_queue_destroy (&q2);
    hk_queue_destroy (NULL);
    s_int (r, "DEL %s", stream);
    if (verbose)
        printf ("  queue stream %s done\n", stream);
    return failures;
}

/* Redis goes away for good: reads and adds fail with HK_EREDIS, nothing crashes. */
static int
s_test_dead_server (bool verbose)
{
    int failures = 0;
    hk_redis_t *r = hk_redis_new ("redis://127.0.0.1:1");
    hk_queue_t *q = hk_queue_new (r, "t:dead", "g", "c", 100);
    hk_queue_msg_t msgs[2];
    CHECK_INT (hk_queue_read (q, msgs, 2, 100), HK_EREDIS);
    CHECK_INT (hk_queue_ack (q, "1-1"), HK_EREDIS);
    CHECK_INT (hk_queue_pending (q), HK_EREDIS);
    hk_queue_destroy (&q);
    hk_redis_destroy (&r);
    return failures;
}

/* Pipelined commands: n XADDs in one round trip, an error reply reported, no leftovers. */
static int
s_test_pipeline (hk_redis_t *r, bool verbose)
{
    int failures = 0;
    char stream[64];
    snprintf (stream, sizeof stream, "t:pipe:%d", (int) getpid ());
    const char *streams[] = { stream, stream, stream };
    const char *datas[] = { "a", "bb", "c\0c" };
    size_t lens[] = { 1, 2, 3 };
    CHECK_INT (hk_stream_add_many (r, streams, datas, lens, 3), 0);
    CHECK_INT (hk_stream_add_many (r, streams, datas, lens, 0), 0);
    CHECK_INT (hk_stream_add_many (NULL, streams, datas, lens, 1), HK_EINVAL);
    redisReply *len = hk_redis_cmdf (r, "XLEN %s", stream);
    CHECK (len && len->type == REDIS_REPLY_INTEGER && len->integer == 3);
    if (len)
        freeReplyObject (len);
    /* the last entry keeps its NUL byte: binary-safe */
    redisReply *last = hk_redis_cmdf (r, "XREVRANGE %s + - COUNT 1", stream);
    CHECK (last && last->type == REDIS_REPLY_ARRAY && last->elements == 1
           && last->element[0]->element[1]->element[1]->len == 3);
    if (last)
        freeReplyObject (last);
    /* an error reply in the middle is reported; the connection stays usable */
    const char *set[] = { "SET", "t:pipe:plain", "1" };
    const char *bad[] = { "XADD", "t:pipe:plain", "*", "d", "x" }; /* wrong type */
    const char *incr[] = { "INCR", "t:pipe:count" };
    const char *const *cmds[] = { set, bad, incr };
    int argcs[] = { 3, 5, 2 };
    CHECK_INT (hk_redis_pipeline (r, 3, argcs, cmds, NULL), HK_EREDIS);
    CHECK (strstr (hk_redis_errstr (r), "WRONGTYPE") != NULL);
    redisReply *count = hk_redis_cmdf (r, "GET t:pipe:count");
    CHECK (count && count->type == REDIS_REPLY_STRING && strcmp (count->str, "1") == 0);
    if (count)
        freeReplyObject (count);
    redisReply *del = hk_redis_cmdf (r, "DEL %s t:pipe:plain t:pipe:count", stream);
    if (del)
        freeReplyObject (del);
    return failures;
}

/* Retention of a stream (hk_stream_trim): only what every group acknowledged, and only past
 * the age kept; a stream without groups by age when asked, else whole. */
static int
s_test_trim (hk_redis_t *r, bool verbose)
{
    int failures = 0;
    char stream[64], ids[6][32];
    snprintf (stream, sizeof stream, "t:trim:%d", (int) getpid ());
    s_int (r, "DEL %s", stream);
    CHECK_INT (hk_stream_trim (r, stream, 0, true), 0); /* no stream: nothing to do */
    CHECK_INT (hk_stream_trim (NULL, stream, 0, true), HK_EINVAL);
    CHECK_INT (hk_stream_trim (r, stream, -1, true), HK_EINVAL);
    for (int i = 0; i < 5; i++)
        CHECK_INT (s_add (r, stream, "e", ids[i]), 0);
    hk_test_sleep_ms (3); /* entry ids are the server's milliseconds: make them past */

    /* no group: a work queue stays whole; an event stream is trimmed by age */
    CHECK_INT (hk_stream_trim (r, stream, 0, false), 0);
    CHECK_INT (s_int (r, "XLEN %s", stream), 5);
    CHECK_INT (hk_stream_trim (r, stream, 3600 * 1000, true), 0); /* younger than an hour */
    CHECK_INT (hk_stream_trim (r, stream, 0, true), 5);
    CHECK_INT (s_int (r, "XLEN %s", stream), 0);

    /* one group: reads three, acknowledges the first and the third; the second is pending */
    for (int i = 0; i < 5; i++)
        CHECK_INT (s_add (r, stream, "e", ids[i]), 0);
    hk_queue_t *q = hk_queue_new (r, stream, "g1", "c1", 60000);
    hk_queue_msg_t msgs[8];
    int n = hk_queue_read (q, msgs, 3, 0);
    CHECK_INT (n, 3);
    if (n == 3) {
        CHECK_STR (msgs[0].id, ids[0]);
        CHECK_INT (hk_queue_ack (q, msgs[0].id), 0);
        CHECK_INT (hk_queue_ack (q, msgs[2].id), 0);
    }
    hk_queue_batch_clear (msgs, n);
    hk_test_sleep_ms (3);
    CHECK_INT (hk_stream_trim (r, stream, 3600 * 1000, false), 0); /* acknowledged, but young */
    CHECK_INT (hk_stream_trim (r, stream, 0, false), 1);            /* up to the pending one */
    CHECK_INT (s_int (r, "XLEN %s", stream), 4);
    CHECK_INT (hk_queue_ack (q, ids[1]), 0);
    CHECK_INT (hk_stream_trim (r, stream, 0, false), 2); /* up to the last delivered */
    CHECK_INT (s_int (r, "XLEN %s", stream), 2);

    /* a second group that has read nothing needs everything that is left */
    redisReply *reply = hk_redis_cmdf (r, "XGROUP CREATE %s g2 0", stream);
    if (reply)
        freeReplyObject (reply);
    n = hk_queue_read (q, msgs, 8, 0);
    CHECK_INT (n, 2);
    for (int i = 0; i < n; i++)
        hk_queue_ack (q, msgs[i].id);
    hk_queue_batch_clear (msgs, n);
    CHECK_INT (hk_stream_trim (r, stream, 0, true), 0);
    CHECK_INT (s_int (r, "XLEN %s", stream), 2);
    hk_queue_destroy (&q);
    s_int (r, "DEL %s", stream);
    if (verbose)
        printf ("  queue trim done\n");
    return failures;
}

/* One blocking read of several queues (the daemon loop's wait): at most one entry a stream,
 * each with the queue it came from; the wait ends when an entry arrives on any of them;
 * queues of different groups are refused. */
static int
s_test_read_any (hk_redis_t *r, hk_redis_t *admin, const char *url, bool verbose)
{
    int failures = 0;
    char a[64], b[64];
    long long now = hk_test_ms ();
    snprintf (a, sizeof a, "t:any:a:%d:%lld", (int) getpid (), now);
    snprintf (b, sizeof b, "t:any:b:%d:%lld", (int) getpid (), now);
    hk_queue_t *qa = hk_queue_new (r, a, "g", "w", 60000);
    hk_queue_t *qb = hk_queue_new (r, b, "g", "w", 60000);
    hk_queue_t *other = hk_queue_new (r, b, "h", "w", 60000);
    hk_queue_msg_t msgs[3];
    int which[3];
    CHECK_INT (hk_queue_read (qa, msgs, 3, 0), 0); /* groups made */
    CHECK_INT (hk_queue_read (qb, msgs, 3, 0), 0);
    hk_queue_t *both[] = { qa, qb }, *mixed[] = { qa, other };
    CHECK_INT (hk_queue_read_any (mixed, 2, msgs, which, 10), HK_EINVAL);

    int64_t t0 = hk_test_ms ();
    CHECK_INT (hk_queue_read_any (both, 2, msgs, which, 200), 0);
    CHECK (hk_test_ms () - t0 >= 180);

    CHECK_INT (s_add (r, b, "b1", NULL), 0);
    int n = hk_queue_read_any (both, 2, msgs, which, 200);
    CHECK_INT (n, 1);
    if (n == 1) {
        CHECK_INT (which[0], 1);
        CHECK_STR (msgs[0].data, "b1");
        CHECK_INT (msgs[0].deliveries, 1);
        CHECK_INT (hk_queue_ack (qb, msgs[0].id), 0);
    }
    hk_queue_batch_clear (msgs, n);

    /* three waiting on a, one on b: one of each; the rest is left for hk_queue_read */
    for (int i = 0; i < 3; i++)
        CHECK_INT (s_add (r, a, "a", NULL), 0);
    CHECK_INT (s_add (r, b, "b2", NULL), 0);
    n = hk_queue_read_any (both, 2, msgs, which, 200);
    CHECK_INT (n, 2);
    if (n == 2) {
        CHECK (which[0] != which[1]);
        for (int k = 0; k < 2; k++) {
            CHECK_STR (msgs[k].data, which[k] == 0 ? "a" : "b2");
            hk_queue_ack (both[which[k]], msgs[k].id);
        }
    }
    hk_queue_batch_clear (msgs, n);
    n = hk_queue_read (qa, msgs, 3, 0);
    CHECK_INT (n, 2);
    for (int k = 0; k < n; k++)
        hk_queue_ack (qa, msgs[k].id);
    hk_queue_batch_clear (msgs, n);

    /* ids are per stream: two streams' entries of one id are two entries */
    char same[40];
    snprintf (same, sizeof same, "%s", "9000000000000-7"); /* past both streams' last ids */
    const char *streams[] = { a, b }, *texts[] = { "same-a", "same-b" };
    for (int k = 0; k < 2; k++) {
        redisReply *added = hk_redis_cmdf (r, "XADD %s %s d %s", streams[k],
                                           same, texts[k]);
        CHECK (added && added->type == REDIS_REPLY_STRING && strcmp (added->str, same) == 0);
        if (added)
            freeReplyObject (added);
    }
    n = hk_queue_read_any (both, 2, msgs, which, 200);
    CHECK_INT (n, 2);
    if (n == 2) {
        CHECK_STR (msgs[0].id, same);
        CHECK_STR (msgs[1].id, same);
        CHECK (which[0] != which[1]);
        for (int k = 0; k < 2; k++) {
            CHECK_STR (msgs[k].data, which[k] == 0 ? "same-a" : "same-b");
            hk_queue_ack (both[which[k]], msgs[k].id);
        }
    }
    hk_queue_batch_clear (msgs, n);

    /* an entry added while the read waits ends the wait at once */
    pid_t child = fork ();
    if (child == 0) {
        hk_redis_t *w = hk_redis_new (url);
        usleep (300000);
        int rc = w && hk_redis_connect (w) == 0 ? s_add (w, a, "late", NULL) : 1;
        hk_redis_destroy (&w);
        _exit (rc == 0 ? 0 : 1);
    }
    t0 = hk_test_ms ();
    n = hk_queue_read_any (both, 2, msgs, which, 10000);
    int64_t waited = hk_test_ms () - t0;
    CHECK_INT (n, 1);
    CHECK (waited >= 250 && waited < 5000);
    if (n == 1) {
        CHECK_INT (which[0], 0);
        CHECK_STR (msgs[0].data, "late");
        hk_queue_ack (qa, msgs[0].id);
    }
    hk_queue_batch_clear (msgs, n);
    int status = 1;
    if (child > 0)
        waitpid (child, &status, 0);
    CHECK (child > 0 && WIFEXITED (status) && WEXITSTATUS (status) == 0);

    /* after a reconnect, an entry read but not acknowledged is read again first */
    CHECK_INT (s_add (r, b, "unacked", NULL), 0);
    n = hk_queue_read_any (both, 2, msgs, which, 200);
    CHECK_INT (n, 1);
    hk_queue_batch_clear (msgs, n);
    CHECK_INT (s_kill (r, admin), 1);
    /* the read that meets the dead connection reconnects; the next reads the list again */
    n = hk_queue_read_any (both, 2, msgs, which, 50);
    if (n == 0)
        n = hk_queue_read_any (both, 2, msgs, which, 50);
    CHECK_INT (n, 1);
    if (n == 1) {
        CHECK_STR (msgs[0].data, "unacked");
        CHECK_INT (which[0], 1);
        CHECK (msgs[0].deliveries >= 2);
        hk_queue_ack (qb, msgs[0].id);
    }
    hk_queue_batch_clear (msgs, n);
    CHECK_INT (hk_queue_pending (qa), 0);
    CHECK_INT (hk_queue_pending (qb), 0);

    hk_queue_destroy (&qa);
    hk_queue_destroy (&qb);
    hk_queue_destroy (&other);
    if (verbose)
        printf ("  queue read_any done\n");
    return failures;
}

/* Names per tenant (work queues, consumer groups): the default tenant keeps the plain name. */
static int
s_test_tenant_names (bool verbose)
{
    (void) verbose;
    int failures = 0;
    char buf[32];
    CHECK_STR (hk_tenant_name ("hk:notify:email", "default", buf, sizeof buf),
               "hk:notify:email");
    CHECK_STR (hk_tenant_name ("hk:notify:email", "", buf, sizeof buf), "hk:notify:email");
    CHECK_STR (hk_tenant_name ("hk:notify:email", NULL, buf, sizeof buf), "hk:notify:email");
    CHECK_STR (hk_tenant_name ("hk:notify:sms", "acme", buf, sizeof buf), "hk:notify:sms@acme");
    /* a name that does not fit is refused, never cut to another tenant's queue */
    CHECK (hk_tenant_name ("hk:notify:email", "acme-holdings-group", buf, sizeof buf) == NULL);
    CHECK (hk_tenant_name ("hk:notify:email", "default", buf, 15) == NULL);
    /* the channels' queues */
    CHECK_STR (hk_notify_queue ("email", "default", buf, sizeof buf), "hk:notify:email");
    CHECK_STR (hk_notify_queue ("sms", "acme", buf, sizeof buf), "hk:notify:sms@acme");
    CHECK (hk_notify_queue ("letter", "acme-holdings-group", buf, sizeof buf) == NULL);
    return failures;
}

int
hk_queue_test (bool verbose)
{
    const char *url = hk_test_need ("queue", "REDIS_URL");
    if (!url)
        return 1;
    int failures = s_test_tenant_names (verbose);
    failures += s_test_urls (url, verbose);
    failures += s_test_dead_server (verbose);

    hk_redis_t *r = hk_redis_new (url);
    hk_redis_t *admin = hk_redis_new (url);
    CHECK_INT (hk_redis_connect (r), 0);
    CHECK_INT (hk_redis_connect (admin), 0);
    CHECK (hk_redis_ok (r));
    if (hk_redis_ok (r) && hk_redis_ok (admin)) {
        failures += s_test_queue (r, admin, verbose);
        failures += s_test_pipeline (r, verbose);
        failures += s_test_trim (r, verbose);
        failures += s_test_read_any (r, admin, url, verbose);
    }
    hk_redis_destroy (&r);
    hk_redis_destroy (&admin);
    return failures;
}
