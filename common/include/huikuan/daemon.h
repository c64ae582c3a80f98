/* daemon: the scaffold every daemon runs in (STYLE 10): options and config, logging, the
 * PostgreSQL and Redis connections, migrations, the ZeroMQ publisher, the HTTP endpoint, the
 * instance's entry in fleet_instance, and one loop that each tick refreshes the fleet clock,
 * relays the outbox, consumes the event streams the daemon subscribes to and runs its periodic
 * work. SIGTERM/SIGINT stop the loop cleanly; SIGHUP reloads the config. Signal handlers only
 * set flags. */
#ifndef HUIKUAN_DAEMON_H
#define HUIKUAN_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "huikuan/bus.h"
#include "huikuan/clock.h"
#include "huikuan/config.h"
#include "huikuan/db.h"
#include "huikuan/event.h"
#include "huikuan/http.h"
#include "huikuan/queue.h"

typedef struct hk_daemon hk_daemon_t;

struct hk_daemon {
    const char *kind;          /* "aging" */
    char instance[128];        /* unique instance name; the producer of its events */
    char producer2[160];       /* a second producer it writes as, relayed with the first: set
                                * by the daemon ("" none; ingestion's second lane) */
    hk_config_t *config;
    hk_db_t *db;
    hk_redis_t *redis;
    hk_bus_pub_t *pub;
    hk_clock_t *clock;
    hk_http_t *http;
    const char *tenant;        /* from config */
    const char *tenant_tz;     /* IANA zone of the tenant's day boundary */
    void *state;               /* the daemon's own; set in init, freed in fini */
    hk_queue_t *own_queue;     /* optional, set in init: a work queue of the daemon's own that
                                * the loop waits on with the consumed event streams when a
                                * turn did no work (its group and consumer must be theirs:
                                * hk_daemon_group, the instance); see on_own */
};

typedef struct {
    const char *kind;
    const char *summary;                    /* one line for --help */
    const hk_cfg_entry_t *config;           /* daemon's own keys, NULL-name terminated */
    const char *const *consumes;            /* event types read from Redis, NULL-terminated */
    int (*init) (hk_daemon_t *d);           /* 0 or negative to refuse to start */
    /* One consumed event. Called inside an open transaction in which the event was already
     * recorded as consumed by this kind (duplicates never reach here); the transaction may
     * carry the other events of the same read before it (see on_events), so the handler must
     * not end it. Return 0 to commit, negative to roll back; the message is then redelivered
     * (up to 5 times). */
    int (*on_event) (hk_daemon_t *d, const Huikuan__V1__Envelope *env);
    /* Optional: n consumed events of one stream at once, in stream order, inside one open
     * transaction in which each was already recorded as consumed (duplicates never reach
     * here). Return 0 to commit, negative to roll back: each event is then applied again on
     * its own through on_event, so one failing event neither loses nor blocks the others.
     * Without it, a batch calls on_event for each event in turn in one transaction, with the
     * same fallback. */
    int (*on_events) (hk_daemon_t *d, const Huikuan__V1__Envelope *const *envs, int n);
    /* Periodic work with the clock refreshed. Returns how much was done (>0: call again soon)
     * or negative on error (logged; retried next tick). */
    int (*on_tick) (hk_daemon_t *d);
    /* Optional: the consumer group of a consumed stream had to be created although this kind
     * has consumed events before: Redis lost its data, and with it events published but not
     * yet read (the outbox's cursor had passed them). The daemon makes sure that what they
     * could have changed is computed again from the database. Called outside a transaction
     * until it returns 0. */
    int (*on_stream_loss) (hk_daemon_t *d);
    /* With own_queue: a message of it, read while the loop waited for work (a turn that did
     * no work waits up to a tick on the consumed event streams and own_queue at once, so an
     * event or a piece of work handed out by another instance is taken at once, not at the
     * next tick). The daemon takes the message (hk_queue_batch_clear it when done) and
     * acknowledges it itself; the loop's next turn runs on_tick at once. */
    void (*on_own) (hk_daemon_t *d, hk_queue_msg_t *msg);
    void (*fini) (hk_daemon_t *d);
} hk_daemon_def_t;

/* The consumer group of a kind's event streams for a tenant (hk_tenant_name of the kind):
 * an own_queue shares it. Returns buf, or NULL when it does not fit. */
const char *hk_daemon_group (const char *kind, const char *tenant, char *buf, size_t len);

/* For init: the daemon's own work queue on stream, read through its kind's group
 * (hk_daemon_group) as its instance, claimed from others after claim_idle; sets own_queue.
 * legacy: the group the stream was read by before, or NULL; when it differs from the group
 * it is destroyed (left behind unread, it would keep retention from trimming the stream; a
 * missing group is fine). Returns the queue, or NULL. The daemon destroys it in fini, after
 * setting own_queue to NULL. */
hk_queue_t *hk_daemon_own_queue (hk_daemon_t *d, const char *stream, const char *legacy);

/* An instance alive now, as a condition on fleet_instance: it beat within three heartbeats
 * (each instance beats every 5 s). Instances gone without their clean stop stay listed until
 * instance_expiry, but are not counted as sharing work. */
#define HK_INSTANCE_LIVE "heartbeat_at > now () - interval '15 seconds'"

/* Runs the daemon until SIGTERM. Returns the process exit code. */
int hk_daemon_main (int argc, char **argv, const hk_daemon_def_t *def);

/* The tenant's day by the fleet clock, in the tenant's zone: *date a day number and, when
 * text is not NULL, "YYYY-MM-DD" into it (16 bytes). Returns 0, or HK_EINVAL for a zone the
 * system does not know. */
int hk_daemon_today (hk_daemon_t *d, int32_t *date, char *text, size_t len);

/* Appends an event produced by this instance to the outbox (inside the open transaction);
 * occurred_at defaults to the fleet clock's now. */
int hk_daemon_emit (hk_daemon_t *d, const char *type, const char *aggregate_id,
                    const char *trace_id, const ProtobufCMessage *payload);

#endif
