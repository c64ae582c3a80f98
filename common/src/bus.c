/* bus: the event stream on ZeroMQ PUB/SUB with catch-up from the outbox (the ZeroMQ guide's
 * Clone pattern, promise 1 and 6).
 *
 * Publisher: one PUB socket per daemon instance; each event is two frames [type][Envelope].
 * A full send queue drops, as PUB does; nothing ever blocks the daemon's loop.
 *
 * Subscriber: keeps, per producer, the cursor (last sequence number delivered or passed over)
 * and the target (highest sequence number known to exist). An event from the wire is
 *   - dropped when its sequence is at or below the cursor (a duplicate),
 *   - delivered when it is the cursor's successor,
 *   - otherwise the missing range is read from event_outbox first and delivered in order,
 *     then the event itself; when the range is large, or PostgreSQL is unavailable, the
 *     event is dropped and the whole stretch, the event included, comes from the outbox.
 * Events of types outside the topic prefix only move the cursor. When no message has
 * arrived for a second (and at most once a second) producer_sequence is polled, which finds a
 * lost tail and producers never heard on the wire, and endpoints are discovered again; under
 * constant traffic endpoints are rediscovered every ten seconds.
 *
 * Start: producer_sequence is read when the subscriber is made: those cursors are where the
 * subscription starts; a producer appearing later starts at 1 (all its events are newer than
 * the subscription). from_start puts every cursor at 0 and replays the outbox. Without a
 * database there is no catch-up: gaps are logged and skipped. */
#include "huikuan/bus.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "huikuan/digest.h"
#include "huikuan/errcodes.h"
#include "huikuan/event.h"
#include "huikuan/log.h"

#define HK_BUS_SNDHWM 100000
#define HK_BUS_RCVHWM 100000
#define HK_BUS_CHUNK 500                    /* outbox rows (and events at most) per catch-up read */
#define HK_BUS_IDLE_POLL_US 1000000         /* idle time before polling producer_sequence */
#define HK_BUS_BUSY_DISCOVER_US 10000000    /* endpoint rediscovery under constant traffic */
#define HK_BUS_RETRY_US 1000000             /* wait after a failed outbox read */
#define HK_BUS_MAX_FRAMES 16                /* a message with more is read and dropped */

static int64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


/* ---------------------------------------------------------------------------------------
 * Publisher
 */

struct hk_bus_pub {
    void *ctx;
    void *sock;
    char endpoint[256];
};

hk_bus_pub_t *
hk_bus_pub_new (const char *bind, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (!bind || !*bind) {
        if (err && errlen)
            snprintf (err, errlen, "no bus endpoint to bind");
        return NULL;
    }
    hk_bus_pub_t *self = calloc (1, sizeof *self);
    if (!self) {
        if (err && errlen)
            snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->ctx = zmq_ctx_new ();
    if (self->ctx)
        self->sock = zmq_socket (self->ctx, ZMQ_PUB);
    if (!self->sock) {
        if (err && errlen)
            snprintf (err, errlen, "zmq socket: %s", zmq_strerror (zmq_errno ()));
        hk_bus_pub_destroy (&self);
        return NULL;
    }
    int hwm = HK_BUS_SNDHWM, linger = 0;
    zmq_setsockopt (self->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (self->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind (self->sock, bind) != 0) {
        if (err && errlen)
            snprintf (err, errlen, "bind %s: %s", bind, zmq_strerror (zmq_errno ()));
        hk_bus_pub_destroy (&self);
        return NULL;
    }
    size_t len = sizeof self->endpoint;
    if (zmq_getsockopt (self->sock, ZMQ_LAST_ENDPOINT, self->endpoint, &len) != 0)
        snprintf (self->endpoint, sizeof self->endpoint, "%s", bind);
    return self;
}

void
hk_bus_pub_destroy (hk_bus_pub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hk_bus_pub_t *self = *self_p;
    if (self->sock)
        zmq_close (self->sock);
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    free (self);
    *self_p = NULL;
}

const char *
hk_bus_pub_endpoint (const hk_bus_pub_t *self)
{
    return self ? self->endpoint : NULL;
}

int
hk_endpoint_advertised (const char *endpoint, const char *host, char *out, size_t len)
{
    if (!endpoint || !host || !*host || !out || !len)
        return HK_EINVAL;
    const char *addr = strstr (endpoint, "://");
    const char *colon = addr ? strrchr (addr + 3, ':') : NULL;
    if (!colon)
        return HK_EINVAL;
    addr += 3;
    size_t alen = (size_t) (colon - addr);
    static const char *const wild[] = { "", "*", "0.0.0.0", "::", "[::]" };
    bool wildcard = false;
    for (size_t i = 0; i < sizeof wild / sizeof wild[0]; i++)
        wildcard |= alen == strlen (wild[i]) && strncmp (addr, wild[i], alen) == 0;
    bool v6 = strchr (host, ':') && host[0] != '[';
    int n = wildcard ? snprintf (out, len, "%.*s%s%s%s%s", (int) (addr - endpoint), endpoint,
                                 v6 ? "[" : "", host, v6 ? "]" : "", colon)
                     : snprintf (out, len, "%s", endpoint);
    return n >= 0 && (size_t) n < len ? 0 : HK_EINVAL;
}

int
hk_bus_pub_send (hk_bus_pub_t *self, const char *type, const void *data, size_t len)
{
    if (!self || !type || (!data && len))
        return HK_EINVAL;
    if (zmq_send (self->sock, type, strlen (type), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return HK_EBUS;
    if (zmq_send (self->sock, data ? data : "", len, ZMQ_DONTWAIT) < 0)
        return HK_EBUS;
    return 0;
}


/* ---------------------------------------------------------------------------------------
 * Subscriber state
 */

typedef struct {
    char *name;
    uint64_t cursor;      /* last sequence delivered or passed over */
    uint64_t target;      /* highest sequence known to exist */
    int64_t retry_at_us;  /* outbox reads paused until then after a failure */
} s_producer_t;

typedef struct {
    char *endpoint;
    bool discovered;      /* from fleet_instance (may be dropped again), not connected by hand */
    bool seen;            /* scratch for discovery */
} s_endpoint_t;

struct hk_bus_sub {
    hk_db_t *db;                /* borrowed; NULL: no catch-up */
    char *prefix;
    void *ctx;
    void *sock;

    s_producer_t *producers;    /* vector */
    size_t nproducers, producers_cap;
    uint32_t *slots;            /* open-addressed index into producers, +1; 0 = empty */
    size_t nslots;

    s_endpoint_t *endpoints;
    size_t nendpoints, endpoints_cap;

    Huikuan__V1__Envelope **fifo;  /* ready to deliver, owned */
    size_t fifo_head, fifo_len, fifo_cap;

    bool from_start;
    bool started;               /* first hk_bus_sub_next happened */
    bool snapshot_done;         /* producer_sequence read for the starting cursors */
    bool maybe_behind;          /* some producer may have target > cursor */
    int64_t last_msg_us;
    int64_t last_poll_us;
    int64_t last_discover_us;

    uint64_t gaps_filled;
    uint64_t dropped_malformed;
};

static s_producer_t *
s_producer_find (hk_bus_sub_t *self, const char *name)
{
    if (!self->nslots)
        return NULL;
    size_t mask = self->nslots - 1;
    for (size_t i = hk_str_hash (name) & mask;; i = (i + 1) & mask) {
        uint32_t slot = self->slots[i];
        if (!slot)
            return NULL;
        if (strcmp (self->producers[slot - 1].name, name) == 0)
            return &self->producers[slot - 1];
    }
}

static int
s_rehash (hk_bus_sub_t *self, size_t nslots)
{
    uint32_t *slots = calloc (nslots, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t p = 0; p < self->nproducers; p++) {
        size_t i = hk_str_hash (self->producers[p].name) & (nslots - 1);
        while (slots[i])
            i = (i + 1) & (nslots - 1);
        slots[i] = (uint32_t) (p + 1);
    }
    free (self->slots);
    self->slots = slots;
    self->nslots = nslots;
    return 0;
}

/* Adds a producer with its cursor; NULL on ENOMEM. */
static s_producer_t *
s_producer_add (hk_bus_sub_t *self, const char *name, uint64_t cursor)
{
    if (self->nproducers == self->producers_cap) {
        size_t cap = self->producers_cap ? self->producers_cap * 2 : 16;
        s_producer_t *v = realloc (self->producers, cap * sizeof *v);
        if (!v)
            return NULL;
        self->producers = v;
        self->producers_cap = cap;
    }
    if ((self->nproducers + 1) * 2 > self->nslots
        && s_rehash (self, self->nslots ? self->nslots * 2 : 32) != 0)
        return NULL;
    char *copy = strdup (name);
    if (!copy)
        return NULL;
    s_producer_t *p = &self->producers[self->nproducers++];
    *p = (s_producer_t) { .name = copy, .cursor = cursor, .target = cursor };
    size_t mask = self->nslots - 1, i = hk_str_hash (name) & mask;
    while (self->slots[i])
        i = (i + 1) & mask;
    self->slots[i] = (uint32_t) self->nproducers;
    return p;
}

static int
s_fifo_push (hk_bus_sub_t *self, Huikuan__V1__Envelope *env)
{
    if (self->fifo_len == self->fifo_cap) {
        size_t cap = self->fifo_cap ? self->fifo_cap * 2 : 64;
        Huikuan__V1__Envelope **v = malloc (cap * sizeof *v);
        if (!v)
            return -1;
        for (size_t i = 0; i < self->fifo_len; i++)
            v[i] = self->fifo[(self->fifo_head + i) % self->fifo_cap];
        free (self->fifo);
        self->fifo = v;
        self->fifo_cap = cap;
        self->fifo_head = 0;
    }
    self->fifo[(self->fifo_head + self->fifo_len) % self->fifo_cap] = env;
    self->fifo_len++;
    return 0;
}

static Huikuan__V1__Envelope *
s_fifo_pop (hk_bus_sub_t *self)
{
    if (!self->fifo_len)
        return NULL;
    Huikuan__V1__Envelope *env = self->fifo[self->fifo_head];
    self->fifo_head = (self->fifo_head + 1) % self->fifo_cap;
    self->fifo_len--;
    return env;
}


/* ---------------------------------------------------------------------------------------
 * Subscriber: PostgreSQL side
 */

/* Reads producer_sequence. As the starting snapshot (initial) it sets cursors; afterwards it
 * raises targets, adding producers not seen so far at cursor 0. 0 or HK_EDB. */
static int
s_read_sequences (hk_bus_sub_t *self, bool initial)
{
    PGresult *res = hk_db_query (self->db, "SELECT producer, last_seq FROM producer_sequence",
                                 0, NULL);
    if (!res)
        return HK_EDB;
    int rc = 0;
    for (int i = 0; i < PQntuples (res); i++) {
        const char *name = PQgetvalue (res, i, 0);
        uint64_t last = strtoull (PQgetvalue (res, i, 1), NULL, 10);
        s_producer_t *p = s_producer_find (self, name);
        if (!p) {
            p = s_producer_add (self, name, initial && !self->from_start ? last : 0);
            if (!p) {
                rc = HK_ENOMEM;
                break;
            }
        }
        if (last > p->target) {
            p->target = last;
            self->maybe_behind = true;
        }
    }
    PQclear (res);
    if (rc == 0 && initial)
        self->snapshot_done = true;
    return rc;
}

/* Reads outbox rows of p after its cursor up to upto (at most HK_BUS_CHUNK) and queues those
 * of our topic. Returns rows read (>= 0) or HK_EDB (p paused for a while). */
static int
s_fetch (hk_bus_sub_t *self, s_producer_t *p, uint64_t upto)
{
    char after[24], until[24], limit[16];
    snprintf (after, sizeof after, "%" PRIu64, p->cursor);
    snprintf (until, sizeof until, "%" PRIu64, upto);
    snprintf (limit, sizeof limit, "%d", HK_BUS_CHUNK);
    const char *values[] = { p->name, after, until, self->prefix, limit };
    int lengths[] = { 0, 0, 0, 0, 0 };
    int formats[] = { 0, 0, 0, 0, 0 };
    /* Binary results: seq as int8, events as int4, the envelope(s) as raw bytes (NULL when
     * not our topic). A row of many events (migration 25) ends at seq and starts events - 1
     * before: the rows that reach past the cursor are those with seq > cursor. */
    PGresult *res = hk_db_query_bin (self->db,
                                     "SELECT seq, events,"
                                     " CASE WHEN left(type, length($4)) = $4 THEN envelope END,"
                                     " CASE WHEN left(type, length($4)) = $4 THEN envelopes END"
                                     " FROM outbox_row WHERE producer = $1"
                                     " AND seq > $2::bigint AND seq - events < $3::bigint"
                                     " ORDER BY seq LIMIT $5::int",
                                     5, values, lengths, formats, 1);
    if (!res) {
        HK_LOG (HK_WARN, "bus.catchup_failed", HK_S ("producer", p->name),
                HK_S ("error", hk_db_errstr (self->db)));
        p->retry_at_us = s_now_us () + HK_BUS_RETRY_US;
        return HK_EDB;
    }
    hk_outbox_event_t *evs = NULL;
    int rows = hk_outbox_expand (res, 0, p->cursor, upto, HK_BUS_CHUNK, &evs);
    if (rows < 0) {
        HK_LOG (HK_WARN, "bus.catchup_failed", HK_S ("producer", p->name),
                HK_S ("error", rows == HK_ENOMEM ? "out of memory" : "malformed outbox row"));
        PQclear (res);
        p->retry_at_us = s_now_us () + HK_BUS_RETRY_US;
        return rows;
    }
    for (int i = 0; i < rows; i++) {
        uint64_t seq = evs[i].seq;
        if (seq != p->cursor + 1)
            /* Committed sequences have no holes; this one was removed from the outbox. */
            HK_LOG (HK_WARN, "bus.events_lost", HK_S ("producer", p->name),
                    HK_I ("from", p->cursor + 1), HK_I ("to", seq - 1));
        p->cursor = seq;
        if (!evs[i].bytes)
            continue; /* not our topic */
        Huikuan__V1__Envelope *env = hk_envelope_unpack (evs[i].bytes, evs[i].len);
        if (!env) {
            self->dropped_malformed++;
            HK_LOG (HK_WARN, "bus.outbox_malformed", HK_S ("producer", p->name),
                    HK_I ("seq", seq));
            continue;
        }
        if (s_fifo_push (self, env) != 0) {
            /* Out of memory: forget this one and read it again later. */
            hk_envelope_destroy (&env);
            p->cursor = seq - 1;
            p->retry_at_us = s_now_us () + HK_BUS_RETRY_US;
            break;
        }
        self->gaps_filled++;
    }
    free (evs);
    PQclear (res);
    if (p->target < p->cursor)
        p->target = p->cursor;
    return rows;
}

/* Catches up one producer that is behind by one chunk. Returns true when it did anything
 * that may have queued events. */
static bool
s_catch_up_some (hk_bus_sub_t *self)
{
    if (!self->maybe_behind || !self->db)
        return false;
    int64_t now = s_now_us ();
    bool waiting = false;
    for (size_t i = 0; i < self->nproducers; i++) {
        s_producer_t *p = &self->producers[i];
        if (p->target <= p->cursor)
            continue;
        if (p->retry_at_us > now) {
            waiting = true;
            continue;
        }
        int rows = s_fetch (self, p, p->target);
        if (rows == 0)
            /* Not committed yet (producer_sequence runs ahead inside open transactions):
             * the next poll raises the target again. */
            p->target = p->cursor;
        if (rows != 0)
            return true;
    }
    self->maybe_behind = waiting;
    return false;
}

/* Connects discovered endpoints and disconnects discovered ones no longer announced. */
static int
s_discover (hk_bus_sub_t *self)
{
    if (!self->db)
        return HK_EINVAL;
    self->last_discover_us = s_now_us ();
    PGresult *res = hk_db_query (self->db,
                                 "SELECT DISTINCT bus_endpoint FROM fleet_instance"
                                 " WHERE bus_endpoint IS NOT NULL",
                                 0, NULL);
    if (!res)
        return HK_EDB;
    for (size_t e = 0; e < self->nendpoints; e++)
        self->endpoints[e].seen = false;
    for (int i = 0; i < PQntuples (res); i++) {
        const char *ep = PQgetvalue (res, i, 0);
        size_t e;
        for (e = 0; e < self->nendpoints; e++)
            if (strcmp (self->endpoints[e].endpoint, ep) == 0)
                break;
        if (e < self->nendpoints) {
            self->endpoints[e].seen = true;
            continue;
        }
        if (*ep && hk_bus_sub_connect (self, ep) == 0) {
            self->endpoints[self->nendpoints - 1].discovered = true;
            self->endpoints[self->nendpoints - 1].seen = true;
        }
    }
    PQclear (res);
    for (size_t e = 0; e < self->nendpoints;) {
        s_endpoint_t *ep = &self->endpoints[e];
        if (ep->discovered && !ep->seen) {
            zmq_disconnect (self->sock, ep->endpoint);
            free (ep->endpoint);
            *ep = self->endpoints[--self->nendpoints];
        }
        else
            e++;
    }
    return 0;
}


/* ---------------------------------------------------------------------------------------
 * Subscriber: wire side
 */

/* An event from the wire (taken). */
static void
s_on_live (hk_bus_sub_t *self, Huikuan__V1__Envelope *env)
{
    uint64_t seq = env->sequence;
    s_producer_t *p = s_producer_find (self, env->producer);
    if (!p) {
        /* First heard: with a database it started after we subscribed, so all of it is
         * news; without one there is nothing to catch up from. */
        p = s_producer_add (self, env->producer, self->db ? 0 : seq - 1);
        if (!p) {
            hk_envelope_destroy (&env);
            return;
        }
    }
    if (seq <= p->cursor) {
        hk_envelope_destroy (&env); /* duplicate */
        return;
    }
    if (seq > p->cursor + 1) {
        if (seq - 1 > p->target)
            p->target = seq - 1;
        self->maybe_behind = true;
        if (!self->db) {
            HK_LOG (HK_WARN, "bus.gap_unfilled", HK_S ("producer", p->name),
                    HK_I ("from", p->cursor + 1), HK_I ("to", seq - 1));
            p->cursor = p->target = seq - 1;
        }
        else if (seq - 1 - p->cursor <= HK_BUS_CHUNK && p->retry_at_us <= s_now_us ())
            s_fetch (self, p, seq - 1);
    }
    if (seq != p->cursor + 1) {
        /* The gap is still open: this one comes from the outbox with the rest. */
        if (seq > p->target)
            p->target = seq;
        self->maybe_behind = true;
        hk_envelope_destroy (&env);
        return;
    }
    if (s_fifo_push (self, env) != 0) {
        if (seq > p->target)
            p->target = seq;
        self->maybe_behind = true;
        hk_envelope_destroy (&env);
        return;
    }
    p->cursor = seq;
    if (p->target < seq)
        p->target = seq;
}

static void
s_malformed (hk_bus_sub_t *self, const char *reason, int frames, size_t bytes)
{
    self->dropped_malformed++;
    HK_LOG (HK_WARN, "bus.malformed", HK_S ("reason", reason), HK_I ("frames", frames),
            HK_I ("bytes", bytes));
}

/* Reads one whole message from the socket. 0, or -1 when nothing was there (EAGAIN) or on
 * a socket error. Only the first two frames are kept; a message with more is dropped. */
static int
s_receive_one (hk_bus_sub_t *self)
{
    zmq_msg_t frames[2];
    int nframes = 0, total = 0;
    size_t bytes = 0;
    int more = 1;
    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *part = nframes < 2 ? &frames[nframes] : &scratch;
        zmq_msg_init (part);
        /* The frames of a message arrive together: only the first read may find nothing. */
        if (zmq_msg_recv (part, self->sock, total == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close (part);
            for (int i = 0; i < nframes; i++)
                zmq_msg_close (&frames[i]);
            return -1;
        }
        more = zmq_msg_more (part);
        bytes += zmq_msg_size (part);
        total++;
        if (part == &scratch)
            zmq_msg_close (part);
        else
            nframes++;
    }
    self->last_msg_us = s_now_us ();
    if (total != 2) {
        s_malformed (self, "frame count", total, bytes);
        for (int i = 0; i < nframes; i++)
            zmq_msg_close (&frames[i]);
        return 0;
    }
    Huikuan__V1__Envelope *env =
        hk_envelope_unpack (zmq_msg_data (&frames[1]), zmq_msg_size (&frames[1]));
    size_t tlen = zmq_msg_size (&frames[0]);
    const char *type = zmq_msg_data (&frames[0]);
    if (!env)
        s_malformed (self, "envelope", total, bytes);
    else if (strlen (env->type) != tlen || memcmp (env->type, type, tlen) != 0) {
        s_malformed (self, "type frame differs from envelope", total, bytes);
        hk_envelope_destroy (&env);
    }
    else if (!env->producer || !*env->producer || env->sequence == 0) {
        s_malformed (self, "no producer or sequence", total, bytes);
        hk_envelope_destroy (&env);
    }
    zmq_msg_close (&frames[0]);
    zmq_msg_close (&frames[1]);
    if (env)
        s_on_live (self, env);
    return 0;
}


/* ---------------------------------------------------------------------------------------
 * Subscriber API
 */

hk_bus_sub_t *
hk_bus_sub_new (hk_db_t *db, const char *topic_prefix)
{
    hk_bus_sub_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->db = db;
    self->prefix = strdup (topic_prefix ? topic_prefix : "");
    self->ctx = zmq_ctx_new ();
    if (!self->prefix || !self->ctx) {
        hk_bus_sub_destroy (&self);
        return NULL;
    }
    self->sock = zmq_socket (self->ctx, ZMQ_SUB);
    if (!self->sock) {
        hk_bus_sub_destroy (&self);
        return NULL;
    }
    int hwm = HK_BUS_RCVHWM, linger = 0;
    zmq_setsockopt (self->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (self->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_setsockopt (self->sock, ZMQ_SUBSCRIBE, self->prefix, strlen (self->prefix)) != 0) {
        hk_bus_sub_destroy (&self);
        return NULL;
    }
    /* The subscription starts here: read where each producer's log ends now. When the
     * database is not reachable this is retried before the first event is delivered. */
    if (db && s_read_sequences (self, true) != 0)
        HK_LOG (HK_WARN, "bus.snapshot_failed", HK_S ("error", hk_db_errstr (db)));
    self->last_msg_us = self->last_poll_us = self->last_discover_us = s_now_us ();
    return self;
}

void
hk_bus_sub_destroy (hk_bus_sub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hk_bus_sub_t *self = *self_p;
    if (self->sock)
        zmq_close (self->sock);
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    Huikuan__V1__Envelope *env;
    while ((env = s_fifo_pop (self)))
        hk_envelope_destroy (&env);
    free (self->fifo);
    for (size_t i = 0; i < self->nproducers; i++)
        free (self->producers[i].name);
    free (self->producers);
    free (self->slots);
    for (size_t i = 0; i < self->nendpoints; i++)
        free (self->endpoints[i].endpoint);
    free (self->endpoints);
    free (self->prefix);
    free (self);
    *self_p = NULL;
}

int
hk_bus_sub_connect (hk_bus_sub_t *self, const char *endpoint)
{
    if (!self || !endpoint || !*endpoint)
        return HK_EINVAL;
    for (size_t e = 0; e < self->nendpoints; e++)
        if (strcmp (self->endpoints[e].endpoint, endpoint) == 0) {
            self->endpoints[e].discovered = false; /* asked for by hand: keep it */
            return 0;
        }
    if (self->nendpoints == self->endpoints_cap) {
        size_t cap = self->endpoints_cap ? self->endpoints_cap * 2 : 8;
        s_endpoint_t *v = realloc (self->endpoints, cap * sizeof *v);
        if (!v)
            return HK_ENOMEM;
        self->endpoints = v;
        self->endpoints_cap = cap;
    }
    char *copy = strdup (endpoint);
    if (!copy)
        return HK_ENOMEM;
    if (zmq_connect (self->sock, endpoint) != 0) {
        HK_LOG (HK_WARN, "bus.connect_failed", HK_S ("endpoint", endpoint),
                HK_S ("error", zmq_strerror (zmq_errno ())));
        free (copy);
        return HK_EBUS;
    }
    self->endpoints[self->nendpoints++] = (s_endpoint_t) { .endpoint = copy };
    return 0;
}

int
hk_bus_sub_discover (hk_bus_sub_t *self)
{
    if (!self)
        return HK_EINVAL;
    int rc = s_discover (self);
    if (rc == HK_EDB)
        HK_LOG (HK_WARN, "bus.discover_failed", HK_S ("error", hk_db_errstr (self->db)));
    return (int) self->nendpoints;
}

void
hk_bus_sub_from_start (hk_bus_sub_t *self, bool from_start)
{
    if (!self || self->started)
        return;
    self->from_start = from_start;
    for (size_t i = 0; i < self->nproducers; i++) {
        s_producer_t *p = &self->producers[i];
        p->cursor = from_start ? 0 : p->target;
    }
    self->maybe_behind = from_start && self->nproducers > 0;
}

/* Idle work: producer_sequence (lost tails, silent producers) and endpoint discovery. */
static void
s_poll (hk_bus_sub_t *self, int64_t now)
{
    self->last_poll_us = now;
    if (!self->db)
        return;
    if (s_read_sequences (self, !self->snapshot_done) != 0)
        return;
    s_discover (self);
}

int
hk_bus_sub_next (hk_bus_sub_t *self, int timeout_ms, Huikuan__V1__Envelope **env_out)
{
    if (!self || !env_out)
        return HK_EINVAL;
    *env_out = NULL;
    if (!self->started) {
        self->started = true;
        if (self->db && !self->snapshot_done)
            s_read_sequences (self, true);
    }
    int64_t deadline = s_now_us () + (int64_t) (timeout_ms > 0 ? timeout_ms : 0) * 1000;
    bool first = true;
    for (;;) {
        Huikuan__V1__Envelope *env = s_fifo_pop (self);
        if (env) {
            *env_out = env;
            return 1;
        }
        if (s_catch_up_some (self))
            continue;
        int64_t now = s_now_us ();
        if (self->db) {
            if (now - self->last_msg_us >= HK_BUS_IDLE_POLL_US
                && now - self->last_poll_us >= HK_BUS_IDLE_POLL_US) {
                s_poll (self, now);
                if (self->maybe_behind)
                    continue;
            }
            else if (now - self->last_discover_us >= HK_BUS_BUSY_DISCOVER_US)
                s_discover (self);
        }
        if (now >= deadline && !first)
            return 0;
        first = false;
        /* Wake up for the deadline, the next idle poll, or a paused catch-up. */
        int64_t wake = deadline;
        if (self->db) {
            int64_t poll_at = self->last_msg_us > self->last_poll_us ? self->last_msg_us
                                                                      : self->last_poll_us;
            poll_at += HK_BUS_IDLE_POLL_US;
            if (poll_at < wake)
                wake = poll_at;
            if (self->maybe_behind && now + HK_BUS_RETRY_US / 10 < wake)
                wake = now + HK_BUS_RETRY_US / 10;
        }
        long wait_ms = wake > now ? (long) ((wake - now + 999) / 1000) : 0;
        zmq_pollitem_t item = { .socket = self->sock, .events = ZMQ_POLLIN };
        int rc = zmq_poll (&item, 1, wait_ms);
        if (rc < 0) {
            if (zmq_errno () == EINTR)
                return 0; /* let the caller look at its signal flags */
            HK_LOG (HK_ERROR, "bus.poll_failed", HK_S ("error", zmq_strerror (zmq_errno ())));
            return HK_EBUS;
        }
        /* Drain what is there, a bounded amount per round so catch-up keeps pace. */
        if (rc > 0 && (item.revents & ZMQ_POLLIN))
            for (int n = 0; n < 1000 && s_receive_one (self) == 0; n++)
                ;
    }
}

uint64_t
hk_bus_sub_gaps_filled (const hk_bus_sub_t *self)
{
    return self ? self->gaps_filled : 0;
}

uint64_t
hk_bus_sub_dropped_malformed (const hk_bus_sub_t *self)
{
    return self ? self->dropped_malformed : 0;
}
