/* retention: see retention.h. */
#include "huikuan/retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "huikuan/errcodes.h"
#include "huikuan/log.h"

int
hk_retention_turn (hk_redis_t *r, const char *prefix, const char *instance, int64_t period_ms)
{
    if (!r || !instance || period_ms <= 0)
        return HK_EINVAL;
    char px[24], key[128];
    snprintf (px, sizeof px, "%lld", (long long) period_ms);
    snprintf (key, sizeof key, "%shousekeeping", prefix ? prefix : "hk:");
    const char *argv[] = { "SET", key, instance, "NX", "PX", px };
    redisReply *reply = hk_redis_cmd (r, 6, argv, NULL);
    int rc = !reply || reply->type == REDIS_REPLY_ERROR ? HK_EREDIS
             : reply->type == REDIS_REPLY_STATUS        ? 1
                                                        : 0; /* nil: another has the turn */
    if (reply)
        freeReplyObject (reply);
    return rc;
}

/* Streams of the fleet (SCAN, TYPE stream): event streams (hk:ev:*) are trimmed by age even
 * without a group; work queues only past what their groups acknowledged; the dead letters
 * are for operators and stay. */
static int
s_streams (hk_redis_t *r, const hk_retention_t *p, hk_retention_result_t *out)
{
    const char *prefix = p->prefix ? p->prefix : "hk:";
    char cursor[32] = "0", match[128], events[128], dead[128];
    snprintf (match, sizeof match, "%s*", prefix);
    snprintf (events, sizeof events, "%sev:", prefix);
    snprintf (dead, sizeof dead, "%sdead", prefix);
    int rc = 0;
    do {
        const char *argv[] = { "SCAN", cursor, "MATCH", match, "TYPE", "stream", "COUNT", "1000" };
        redisReply *reply = hk_redis_cmd (r, 8, argv, NULL);
        if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
            || reply->element[0]->type != REDIS_REPLY_STRING
            || reply->element[1]->type != REDIS_REPLY_ARRAY) {
            if (reply)
                freeReplyObject (reply);
            return HK_EREDIS;
        }
        snprintf (cursor, sizeof cursor, "%s", reply->element[0]->str);
        const redisReply *keys = reply->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            const char *stream = keys->element[i]->str;
            if (keys->element[i]->type != REDIS_REPLY_STRING || strcmp (stream, dead) == 0)
                continue;
            int64_t n = hk_stream_trim (r, stream, p->stream_keep_ms,
                                        strncmp (stream, events, strlen (events)) == 0);
            out->streams++;
            if (n > 0)
                out->stream_entries += n;
            else if (n < 0 && rc == 0)
                rc = (int) n;
        }
        freeReplyObject (reply);
    } while (strcmp (cursor, "0") != 0);
    return rc;
}

/* Deletes at most limit rows chosen by sql ($1 the age in microseconds, $2 the limit); adds
 * the count to *count. */
static int
s_delete (hk_db_t *db, const char *sql, int64_t keep_us, int limit, int64_t *count)
{
    char keep[24], lim[16];
    snprintf (keep, sizeof keep, "%lld", (long long) keep_us);
    snprintf (lim, sizeof lim, "%d", limit);
    const char *params[] = { keep, lim };
    int n = hk_db_exec (db, sql, 2, params);
    if (n < 0)
        return HK_EDB;
    *count += n;
    return 0;
}

/* Deletes at most limit rows of table whose column is older than keep_us. table and column
 * are this file's constants, never input. */
static int
s_delete_older (hk_db_t *db, const char *table, const char *column, int64_t keep_us, int limit,
                int64_t *count)
{
    char sql[512];
    snprintf (sql, sizeof sql,
              "DELETE FROM %s WHERE ctid = ANY (ARRAY (SELECT ctid FROM %s"
              " WHERE %s < now () - $1::bigint * interval '1 microsecond' LIMIT $2::int))",
              table, table, column);
    return s_delete (db, sql, keep_us, limit, count);
}

int
hk_retention_run (hk_db_t *db, hk_redis_t *r, const hk_retention_t *p, hk_retention_result_t *out)
{
    if (!p || !out || p->limit <= 0)
        return HK_EINVAL;
    memset (out, 0, sizeof *out);
    int rc = 0;
    if (r)
        rc = s_streams (r, p, out);
    if (!db)
        return rc;
    /* Published rows only (seq, a row's last event, <= the producer's cursor), oldest first
     * per producer: the primary key gives them in order, and the age is checked on those rows
     * alone. */
    int e = s_delete (db,
                      "DELETE FROM outbox_row WHERE ctid = ANY (ARRAY ("
                      " SELECT o.ctid FROM producer_sequence p CROSS JOIN LATERAL ("
                      "   SELECT ctid, created_at FROM outbox_row o WHERE o.producer = p.producer"
                      "   AND o.seq <= p.published_seq ORDER BY o.seq LIMIT $2::int) AS o"
                      " WHERE o.created_at < now () - $1::bigint * interval '1 microsecond'"
                      " LIMIT $2::int))",
                      p->outbox_keep_us, p->limit, &out->outbox_rows);
    rc = rc ? rc : e;
    e = s_delete_older (db, "consumed_event", "consumed_at", p->dedup_keep_us, p->limit,
                        &out->dedup_rows);
    rc = rc ? rc : e;
    e = s_delete_older (db, "fleet_instance", "heartbeat_at", p->instance_expiry_us, p->limit,
                        &out->instances);
    return rc ? rc : e;
}
