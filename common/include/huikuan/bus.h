/* bus: the event stream on ZeroMQ (promise 6). Each daemon instance binds one PUB socket and
 * announces its endpoint in fleet_instance; subscribers connect to every announced endpoint.
 * Wire form: two frames, [type][Envelope bytes]; the type frame doubles as the topic.
 * PUB drops messages to slow or absent subscribers, so the subscriber here keeps the last
 * sequence number per producer and, on a jump or when idle, reads what it missed from the
 * outbox in PostgreSQL (the ZeroMQ guide's Clone pattern). Optional CURVE is not built yet. */
#ifndef HUIKUAN_BUS_H
#define HUIKUAN_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "huikuan/db.h"
#include "huikuan/v1/envelope.pb-c.h"

typedef struct hk_bus_pub hk_bus_pub_t;

/* bind: a ZeroMQ endpoint, "tcp://127.0.0.1:*" for an ephemeral port. NULL on failure with
 * the reason in err. */
hk_bus_pub_t *hk_bus_pub_new (const char *bind, char *err, size_t errlen);
void hk_bus_pub_destroy (hk_bus_pub_t **self_p);
/* The endpoint actually bound ("tcp://127.0.0.1:40123"); owned by self. */
const char *hk_bus_pub_endpoint (const hk_bus_pub_t *self);
/* The endpoint others should connect to: endpoint ("tcp://0.0.0.0:40123",
 * "http://:8080") with a wildcard address (empty, "*", "0.0.0.0", "::", "[::]") replaced by
 * host (an IPv6 literal is bracketed); any other endpoint is copied as it is. Returns 0, or
 * HK_EINVAL when it does not fit in out or is not scheme://address:port. */
int hk_endpoint_advertised (const char *endpoint, const char *host, char *out, size_t len);
/* Sends [type][data]. Never blocks (a full queue drops, as PUB does). 0 or HK_EBUS. */
int hk_bus_pub_send (hk_bus_pub_t *self, const char *type, const void *data, size_t len);

typedef struct hk_bus_sub hk_bus_sub_t;

/* db is borrowed (catch-up reads and endpoint discovery; NULL disables both).
 * topic_prefix: "" for all, "invoice." for invoice events. */
hk_bus_sub_t *hk_bus_sub_new (hk_db_t *db, const char *topic_prefix);
void hk_bus_sub_destroy (hk_bus_sub_t **self_p);
/* Connects to one endpoint (idempotent). 0 or HK_EBUS. */
int hk_bus_sub_connect (hk_bus_sub_t *self, const char *endpoint);
/* Connects to every endpoint announced in fleet_instance. Returns how many are connected. */
int hk_bus_sub_discover (hk_bus_sub_t *self);
/* Where to start: from_start=true replays the whole log from PostgreSQL first; false (default)
 * starts at the current end of each producer's log. Call before the first hk_bus_sub_next. */
void hk_bus_sub_from_start (hk_bus_sub_t *self, bool from_start);
/* Next event, in sequence order per producer, gaps filled from the outbox, duplicates
 * dropped. Returns 1 with *env_out (caller frees with hk_envelope_destroy), 0 on timeout,
 * <0 on error. Malformed frames are logged and dropped (promise 4). */
int hk_bus_sub_next (hk_bus_sub_t *self, int timeout_ms, Huikuan__V1__Envelope **env_out);
/* Counters for tests and metrics. */
uint64_t hk_bus_sub_gaps_filled (const hk_bus_sub_t *self);
uint64_t hk_bus_sub_dropped_malformed (const hk_bus_sub_t *self);

#endif
