/* event: the envelope, the transactional outbox and the relay (promise 1).
 *
 * A daemon changes state and calls hk_outbox_append() in the same PostgreSQL transaction, so
 * the change and the event announcing it commit together. The relay (run every tick by each
 * instance for its own rows) then publishes committed rows in sequence order: to the Redis
 * stream "hk:ev:<type>" that consumer daemons read through consumer groups, and on the
 * instance's ZeroMQ PUB socket for observers; then marks them published. A crash between
 * publishing and marking publishes again: consumers deduplicate on event_id. */
#ifndef HUIKUAN_EVENT_H
#define HUIKUAN_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "huikuan/bus.h"
#include "huikuan/db.h"
#include "huikuan/ids.h"
#include "huikuan/queue.h"
#include "huikuan/v1/envelope.pb-c.h"
#include "huikuan/v1/events.pb-c.h"

#define HK_ENVELOPE_VERSION 1

typedef struct {
    const char *type;              /* "invoice.recorded" */
    const char *tenant;
    const char *aggregate_id;      /* debtor id */
    const char *trace_id;          /* NULL: a new one */
    int64_t occurred_at_us;        /* by the fleet clock */
    const ProtobufCMessage *payload;
} hk_event_t;

/* Appends ev to the outbox inside the caller's open transaction: assigns the event id and the
 * next gapless sequence number of producer. event_id_out / seq_out may be NULL.
 * Returns 0, HK_EINVAL (no transaction open, missing field) or HK_EDB. */
int hk_outbox_append (hk_db_t *db, const char *producer, const hk_event_t *ev,
                      char event_id_out[HK_UUID_LEN], uint64_t *seq_out);

/* Appends n events of producer in one go (COPY), inside the caller's open transaction, with
 * consecutive sequence numbers in array order. For bulk intake. Returns 0, HK_EINVAL, HK_EDB
 * or HK_ENOMEM. */
int hk_outbox_append_batch (hk_db_t *db, const char *producer, const hk_event_t *evs, int n);
/* The same, sent ahead (hk_db_copy_send), and stored as few rows: each run of events sharing
 * type, tenant and time is one outbox row (migration 25). The server stores them while the
 * caller goes on; a later statement on db, or the commit, collects the outcome and fails if it
 * failed. buf is the caller's reusable buffer (zero-initialise, free its data). Keeps no copy
 * for the relay, which reads these events back from the outbox; so it may be called from a
 * thread of its own, one per connection. */
int hk_outbox_send_batch (hk_db_t *db, const char *producer, const hk_event_t *evs, int n,
                          hk_copy_buf_t *buf);

/* One event of an outbox row read back (binary result): its sequence number, the result row
 * it came from, and its envelope, pointing into the result (NULL when the query left the
 * envelope out). */
typedef struct {
    uint64_t seq;
    int row;
    const unsigned char *bytes;
    size_t len;
} hk_outbox_event_t;

/* Unpacks the events of outbox_row rows (migration 25: a row holds one event or many) read
 * with a binary result whose columns col .. col + 3 are seq, events, envelope and envelopes,
 * in sequence order: those with after < seq <= upto, at most max. *out is malloc'd (caller
 * frees; NULL when none). Returns how many, HK_ENOMEM, or HK_EPARSE for a malformed row. */
int hk_outbox_expand (const PGresult *res, int col, uint64_t after, uint64_t upto, int max,
                      hk_outbox_event_t **out);

/* Publishes up to max unpublished rows of producer, those after producer_sequence.published_seq,
 * and advances it (own transaction). pub or redis may be NULL to skip that leg. Returns the
 * number published or HK_EDB / HK_EREDIS (the cursor not moved). */
int hk_outbox_relay (hk_db_t *db, const char *producer, hk_bus_pub_t *pub, hk_redis_t *redis,
                     int max);

/* Redis stream name of an event type: "hk:ev:<type>". Returns buf. */
const char *hk_event_stream (const char *type, char *buf, size_t len);

/* Envelope bytes -> struct; NULL when malformed or of an unknown major version.
 * Free with hk_envelope_destroy (accepts NULL, sets *env_p = NULL). */
Huikuan__V1__Envelope *hk_envelope_unpack (const void *data, size_t len);
void hk_envelope_destroy (Huikuan__V1__Envelope **env_p);

/* The payload as its message (descriptor found from payload_type among events.proto);
 * NULL when unknown or malformed. Free with hk_payload_destroy. */
ProtobufCMessage *hk_payload_unpack (const Huikuan__V1__Envelope *env);
void hk_payload_destroy (ProtobufCMessage **msg_p);

/* Envelope with its decoded payload as one JSON object (json-c), field names as in the
 * .proto files. *json_out is malloc'd; caller frees. Returns 0 or HK_ENOMEM/HK_EPARSE. */
int hk_event_to_json (const Huikuan__V1__Envelope *env, char **json_out);

#endif
