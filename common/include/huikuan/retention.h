/* retention: housekeeping that keeps the fleet's stores from growing without end.
 *
 * Every daemon runs it on a timer (housekeeping_interval); a Redis key taken with SET NX lets
 * one instance of the fleet do it per interval. It removes:
 *   - Redis stream entries that every consumer group has acknowledged and that are older than
 *     stream_retention (hk_stream_trim); event streams (hk:ev:*) without any group by age
 *     alone; work queues without a group, and the dead letters (hk:dead), are left whole;
 *   - outbox events already published and older than outbox_retention;
 *   - consumed-event records (deduplication) older than dedup_retention;
 *   - fleet_instance rows whose heartbeat is older than instance_expiry (an instance killed
 *     without its clean stop; a live one announces itself again at its next heartbeat).
 * Ages are wall-clock (the database's now() and Redis's TIME), not the fleet clock: this is
 * storage, not business time. Each table loses at most `limit` rows per run. */
#ifndef HUIKUAN_RETENTION_H
#define HUIKUAN_RETENTION_H

#include <stdint.h>

#include "huikuan/db.h"
#include "huikuan/queue.h"

typedef struct {
    const char *prefix;     /* of the fleet's Redis keys; NULL: "hk:" */
    int64_t stream_keep_ms;
    int64_t outbox_keep_us;
    int64_t dedup_keep_us;
    int64_t instance_expiry_us;
    int limit;
} hk_retention_t;

typedef struct {
    int streams;            /* streams looked at */
    int64_t stream_entries; /* entries removed from them */
    int64_t outbox_rows;    /* outbox_row rows: one event each, or many (migration 25) */
    int64_t dedup_rows;
    int64_t instances;
} hk_retention_result_t;

/* One housekeeping run over db and r (either may be NULL: skipped). Returns 0, or the first
 * error (what could be done was done; out holds it). */
int hk_retention_run (hk_db_t *db, hk_redis_t *r, const hk_retention_t *policy,
                      hk_retention_result_t *out);

/* Takes the fleet-wide housekeeping turn for period_ms (SET <prefix>housekeeping NX PX;
 * prefix NULL: "hk:"). Returns 1 when this caller has it, 0 when another has it, HK_EINVAL or
 * HK_EREDIS. */
int hk_retention_turn (hk_redis_t *r, const char *prefix, const char *instance,
                       int64_t period_ms);

#endif
