/* queue: Redis access (hiredis) and reliable work queues on Redis Streams consumer groups.
 * A message read by a consumer stays pending until acknowledged; a message pending longer
 * than claim_idle_ms with a dead or stuck consumer is claimed by another (XAUTOCLAIM), so
 * work is never lost with its consumer. Delivery is at-least-once: consumers are idempotent. */
#ifndef HUIKUAN_QUEUE_H
#define HUIKUAN_QUEUE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hk_redis hk_redis_t;

/* url: redis://[:password@]host:port[/db] (password gives AUTH). Copied; no connect yet. */
hk_redis_t *hk_redis_new (const char *url);
void hk_redis_destroy (hk_redis_t **self_p);
/* Connects or reconnects; returns 0 or HK_EREDIS with errstr. */
int hk_redis_connect (hk_redis_t *self);
bool hk_redis_ok (const hk_redis_t *self);
const char *hk_redis_errstr (const hk_redis_t *self);
/* Runs a command given as an argument vector (binary safe). Reconnects once when the
 * connection is dead. Returns a reply the caller frees with freeReplyObject(), or NULL
 * (errstr set). A Redis error reply is returned as a reply of type REDIS_REPLY_ERROR. */
redisReply *hk_redis_cmd (hk_redis_t *self, int argc, const char **argv, const size_t *argvlen);
/* printf-style convenience for commands without binary arguments. */
redisReply *hk_redis_cmdf (hk_redis_t *self, const char *fmt, ...);

/* Appends data to a stream (XADD stream * d <data>), creating it when absent.
 * id_out (may be NULL) receives the entry id, at least 32 bytes. Returns 0 or HK_EREDIS. */
int hk_stream_add (hk_redis_t *r, const char *stream, const void *data, size_t len,
                   char *id_out, size_t id_len);

/* n commands pipelined in one round trip (command i: argcs[i] arguments argvs[i], binary
 * lengths lens[i] or NULL for C strings; lens itself may be NULL). Replies are read and
 * dropped. Returns 0, HK_EINVAL or HK_EREDIS (the first error reply, or the connection
 * failed; earlier commands may have run). */
int hk_redis_pipeline (hk_redis_t *r, int n, const int *argcs, const char *const *const *argvs,
                       const size_t *const *lens);

/* n XADDs pipelined in one round trip: entry i is datas[i] (lens[i] bytes) on streams[i].
 * Returns 0, HK_EINVAL or HK_EREDIS (some entries may have been added: callers re-push
 * idempotently, as with hk_stream_add). */
int hk_stream_add_many (hk_redis_t *r, const char *const *streams, const char *const *datas,
                        const size_t *lens, int n);

/* Retention of a stream: removes the entries that every consumer group of it has
 * acknowledged (delivered to the group and no longer pending) and that are older than keep_ms
 * by the Redis server's clock (entry ids are its milliseconds). Entries a group has not read,
 * or holds pending, stay whatever their age. A stream without groups is trimmed by age alone
 * when groupless is true (event streams: the outbox in PostgreSQL keeps the events), else left
 * whole (work queues waiting for their consumer). A missing stream is not an error. Returns
 * the entries removed, or HK_EINVAL / HK_EREDIS. */
int64_t hk_stream_trim (hk_redis_t *r, const char *stream, int64_t keep_ms, bool groupless);

typedef struct hk_queue hk_queue_t;

/* The tenant's own copy of a name shared by the fleet (a work queue, an event stream's
 * consumer group): base itself for the tenant "default" (or none), "<base>@<tenant>" for any
 * other, so tenants that share a Redis server never take each other's work. Returns buf, or
 * NULL when it does not fit. */
const char *hk_tenant_name (const char *base, const char *tenant, char *buf, size_t len);
/* The tenant's work queue of a dispatch channel: hk_tenant_name of "hk:notify:<channel>"
 * ("hk:notify:email", "hk:notify:sms@acme"). Returns buf, or NULL when it does not fit. */
const char *hk_notify_queue (const char *channel, const char *tenant, char *buf, size_t len);

typedef struct {
    char id[32];        /* stream entry id */
    char *data;         /* owned by the batch; valid until hk_queue_batch_clear() */
    size_t len;
    int64_t deliveries; /* 1 on first delivery; more when claimed from a dead consumer */
} hk_queue_msg_t;

/* stream/group/consumer are copied; r is borrowed and must outlive the queue. */
hk_queue_t *hk_queue_new (hk_redis_t *r, const char *stream, const char *group,
                          const char *consumer, int64_t claim_idle_ms);
void hk_queue_destroy (hk_queue_t **self_p);

/* Reads up to max messages into msgs: first this consumer's own pending ones (after a
 * restart), then entries idle longer than claim_idle_ms claimed from others, then new ones,
 * waiting up to block_ms for new ones (0: no wait). Creates the group when missing (also after
 * a Redis restart). Returns the count (>= 0) or HK_EREDIS. */
int hk_queue_read (hk_queue_t *self, hk_queue_msg_t *msgs, int max, int block_ms);
/* Waits up to block_ms (at least 1) for a new entry on any of nq queues (at most
 * HK_QUEUE_ANY_MAX) that share one Redis connection, consumer group and consumer name, in one
 * blocking XREADGROUP: at most one entry a queue, msgs[k] read from qs[which[k]] (msgs and
 * which hold nq). A queue's own pending list (after a reconnect) is read first, without
 * waiting. Entries idle in other consumers' lists are not claimed: hk_queue_read does that.
 * Returns the count (0 after the wait), HK_EINVAL (queues that do not share group, consumer
 * or connection), HK_EREDIS (NOGROUP included: hk_queue_read makes the group). */
#define HK_QUEUE_ANY_MAX 32
int hk_queue_read_any (hk_queue_t *const *qs, int nq, hk_queue_msg_t *msgs, int *which,
                       int block_ms);
/* The stream's name. */
const char *hk_queue_stream (const hk_queue_t *self);
/* How many times this handle created its group because none was there: once on a fresh
 * Redis, again whenever Redis lost its data (a restart without its append-only file), when
 * the entries not yet read were lost with it. */
int64_t hk_queue_groups_made (const hk_queue_t *self);
/* Frees the data of messages returned by hk_queue_read. */
void hk_queue_batch_clear (hk_queue_msg_t *msgs, int n);
/* Acknowledges a message (XACK) once its effect is committed. Returns 0 or HK_EREDIS. */
int hk_queue_ack (hk_queue_t *self, const char *id);
/* Acknowledges n messages by their ids in one XACK (one round trip; empty ids are skipped).
 * Returns 0, HK_EINVAL, HK_ENOMEM or HK_EREDIS. */
int hk_queue_ack_many (hk_queue_t *self, const char *const *ids, int n);
/* Entries pending (read, not acknowledged) in the group, or HK_EREDIS. */
int64_t hk_queue_pending (hk_queue_t *self);

#endif
