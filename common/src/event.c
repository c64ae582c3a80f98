/* event: the envelope, the transactional outbox and its relay, payload decoding and the JSON
 * form of an event (promises 1 and 6).
 *
 * Sequence numbers come from producer_sequence, bumped by an upsert inside the caller's
 * transaction: the row lock serialises a producer's appends and a rollback takes the number
 * back, so committed sequences are gapless and commit in order. The relay publishes committed
 * rows in sequence order to Redis (consumer daemons) and ZeroMQ (observers) and advances the
 * producer's published_seq past them, in one transaction; a failure before the commit
 * publishes them again later, which consumers absorb by event id and subscribers by sequence
 * number. */
#include "huikuan/event.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "huikuan/errcodes.h"
#include "huikuan/log.h"

/* Every message of events.proto; payload_type names one of them. */
static const ProtobufCMessageDescriptor *const s_payload_types[] = {
    &huikuan__v1__money__descriptor,
    &huikuan__v1__invoice_recorded__descriptor,
    &huikuan__v1__allocation__descriptor,
    &huikuan__v1__payment_recorded__descriptor,
    &huikuan__v1__invoice_settled__descriptor,
    &huikuan__v1__invoice_aged__descriptor,
    &huikuan__v1__contact_planned__descriptor,
    &huikuan__v1__contact_dispatched__descriptor,
    &huikuan__v1__contact_cancelled__descriptor,
    &huikuan__v1__contact_sent__descriptor,
    &huikuan__v1__case_opened__descriptor,
    &huikuan__v1__debtor_recorded__descriptor,
    &huikuan__v1__contact_recorded__descriptor,
    &huikuan__v1__contract_recorded__descriptor,
    &huikuan__v1__credit_note_recorded__descriptor,
    &huikuan__v1__promise_recorded__descriptor,
    &huikuan__v1__dispute_recorded__descriptor,
    &huikuan__v1__incoming_payment_recorded__descriptor,
    &huikuan__v1__delivery_recorded__descriptor,
    &huikuan__v1__limitation_warning__descriptor,
    &huikuan__v1__debtor_graded__descriptor,
    &huikuan__v1__credit_hold__descriptor,
    &huikuan__v1__promise_checked__descriptor,
    &huikuan__v1__limitation_interruption_recorded__descriptor,
    &huikuan__v1__contact_outcome_recorded__descriptor,
};


/* ---------------------------------------------------------------------------------------
 * Outbox
 */

static bool
s_event_ok (const hk_event_t *ev)
{
    return ev && ev->type && *ev->type && ev->tenant && ev->aggregate_id && ev->payload
           && ev->payload->descriptor;
}

/* Packs ev as an envelope with its id and sequence. *bytes_out is malloc'd (caller frees).
 * Returns 0 or HK_ENOMEM. */
static int
s_pack_envelope (const char *producer, uint64_t seq, const hk_event_t *ev,
                 char event_id[HK_UUID_LEN], uint8_t **bytes_out, size_t *len_out)
{
    char trace_id[HK_UUID_LEN];
    hk_uuid_v4 (event_id);
    if (ev->trace_id && *ev->trace_id)
        snprintf (trace_id, sizeof trace_id, "%s", ev->trace_id);
    else
        hk_uuid_v4 (trace_id);

    size_t payload_len = protobuf_c_message_get_packed_size (ev->payload);
    uint8_t *payload = malloc (payload_len ? payload_len : 1);
    if (!payload)
        return HK_ENOMEM;
    protobuf_c_message_pack (ev->payload, payload);

    Huikuan__V1__Envelope env = HUIKUAN__V1__ENVELOPE__INIT;
    env.version = HK_ENVELOPE_VERSION;
    env.event_id = event_id;
    env.type = (char *) ev->type;
    env.tenant = (char *) ev->tenant;
    env.aggregate_id = (char *) ev->aggregate_id;
    env.occurred_at_us = ev->occurred_at_us;
    env.producer = (char *) producer;
    env.sequence = seq;
    env.trace_id = trace_id;
    env.payload_type = (char *) ev->payload->descriptor->name;
    env.payload.data = payload;
    env.payload.len = payload_len;

    size_t env_len = huikuan__v1__envelope__get_packed_size (&env);
    uint8_t *bytes = malloc (env_len ? env_len : 1);
    if (!bytes) {
        free (payload);
        return HK_ENOMEM;
    }
    huikuan__v1__envelope__pack (&env, bytes);
    free (payload);
    *bytes_out = bytes;
    *len_out = env_len;
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Kept envelopes: what this process wrote to the outbox, so that its relay publishes them
 * without reading them back. The outbox stays the record; this is only a shortcut, taken
 * when the kept envelopes are exactly the next ones to publish, and anything else (another
 * connection or producer, a rolled-back transaction, more than S_KEPT_MAX bytes) only falls
 * back to reading. Kept entries are staged with their transaction and become ready when it
 * commits (sequence numbers of a rolled-back transaction are used again by the next one).
 */

#define S_KEPT_MAX (8u << 20)   /* bytes of envelopes kept: two chunks of a daily run, not a file's */

typedef struct {
    uint64_t seq;
    char *type;
    uint8_t *bytes;
    size_t len;
} s_kept_t;

typedef struct {
    s_kept_t *v;
    int n, cap, head;   /* entries v[head..n) */
} s_kept_list_t;

static struct {
    hk_db_t *db;             /* the connection whose transactions are followed */
    char producer[128];
    s_kept_list_t staged;    /* written in the open transaction */
    s_kept_list_t ready;     /* committed and not yet published, in sequence order */
    size_t bytes;            /* of both */
    bool full;               /* S_KEPT_MAX reached in this transaction: keep no more of it */
} s_kept;

/* Frees the entries v[from..to) of l (the list's bounds are the caller's). */
static void
s_kept_free (s_kept_list_t *l, int from, int to)
{
    for (int i = from; i < to; i++) {
        s_kept.bytes -= l->v[i].len;
        free (l->v[i].type);
        free (l->v[i].bytes);
    }
}

/* Drops the entries of l before upto. */
static void
s_kept_clear (s_kept_list_t *l, int upto)
{
    s_kept_free (l, l->head, upto);
    l->head = upto;
    if (l->head == l->n)
        l->head = l->n = 0;
}

static bool
s_kept_push (s_kept_list_t *l, s_kept_t k)
{
    if (l->n == l->cap) {
        if (l->head > 0) { /* reuse the published front */
            memmove (l->v, l->v + l->head, (size_t) (l->n - l->head) * sizeof *l->v);
            l->n -= l->head;
            l->head = 0;
        }
        if (l->n == l->cap) {
            int cap = l->cap ? 2 * l->cap : 1024;
            s_kept_t *v = realloc (l->v, (size_t) cap * sizeof *v);
            if (!v)
                return false;
            l->v = v;
            l->cap = cap;
        }
    }
    l->v[l->n++] = k;
    return true;
}

static void
s_kept_tx_end (void *arg, hk_db_tx_end_t end)
{
    (void) arg;
    bool committed = end == HK_DB_COMMITTED;
    if (end == HK_DB_CLOSED) {
        /* the connection goes: so does all that was kept of it */
        s_kept_clear (&s_kept.staged, s_kept.staged.n);
        s_kept_clear (&s_kept.ready, s_kept.ready.n);
        free (s_kept.staged.v);
        free (s_kept.ready.v);
        memset (&s_kept, 0, sizeof s_kept);
        return;
    }
    for (int i = s_kept.staged.head; committed && i < s_kept.staged.n; i++)
        if (!s_kept_push (&s_kept.ready, s_kept.staged.v[i])) {
            committed = false; /* out of memory: the rest is read back */
            s_kept.staged.head = i;
            break;
        } else
            s_kept.staged.v[i] = (s_kept_t) { 0 };
    if (committed)
        s_kept.staged.head = s_kept.staged.n = 0;
    else
        s_kept_clear (&s_kept.staged, s_kept.staged.n);
    s_kept.full = false;
}

/* Drops what was staged since mark (a write that failed before reaching the server), and
 * keeps nothing more of this transaction. */
static void
s_unstage (hk_db_t *db, int mark)
{
    if (db != s_kept.db)
        return;
    if (mark < s_kept.staged.n) {
        s_kept_free (&s_kept.staged, mark, s_kept.staged.n);
        s_kept.staged.n = mark;
    }
    s_kept.full = true;
}

/* Keeps a copy of the envelope of seq, written through db as producer in its open
 * transaction; takes bytes (freed here when not kept). */
static void
s_keep (hk_db_t *db, const char *producer, uint64_t seq, const char *type, uint8_t *bytes,
        size_t len)
{
    if (!s_kept.db && strlen (producer) < sizeof s_kept.producer) {
        s_kept.db = db;
        snprintf (s_kept.producer, sizeof s_kept.producer, "%s", producer);
        hk_db_on_tx_end (db, s_kept_tx_end, NULL);
    }
    char *t = NULL;
    if (s_kept.db != db || strcmp (s_kept.producer, producer) != 0 || s_kept.full
        || s_kept.bytes + len > S_KEPT_MAX || !(t = strdup (type))
        || !s_kept_push (&s_kept.staged, (s_kept_t) { seq, t, bytes, len })) {
        if (s_kept.db == db)
            s_kept.full = true; /* a gap: nothing after it in this transaction */
        free (t);
        free (bytes);
        return;
    }
    s_kept.bytes += len;
}

/* Reserves n gapless sequence numbers of producer; returns the last, or 0 on error. */
static uint64_t
s_reserve (hk_db_t *db, const char *producer, int n)
{
    char ns[16];
    snprintf (ns, sizeof ns, "%d", n);
    const char *params[] = { producer, ns };
    PGresult *res = hk_db_query (db,
                                 "INSERT INTO producer_sequence (producer, last_seq)"
                                 " VALUES ($1, $2::bigint) ON CONFLICT (producer) DO UPDATE"
                                 " SET last_seq = producer_sequence.last_seq + $2::bigint"
                                 " RETURNING last_seq",
                                 2, params);
    if (!res)
        return 0;
    uint64_t last = PQntuples (res) == 1 ? strtoull (PQgetvalue (res, 0, 0), NULL, 10) : 0;
    PQclear (res);
    return last;
}

int
hk_outbox_append (hk_db_t *db, const char *producer, const hk_event_t *ev,
                  char event_id_out[HK_UUID_LEN], uint64_t *seq_out)
{
    if (!db || !producer || !*producer || !s_event_ok (ev))
        return HK_EINVAL;
    if (!hk_db_in_transaction (db))
        return HK_EINVAL; /* the event must commit with the state change it announces */
    uint64_t seq = s_reserve (db, producer, 1);
    if (seq == 0)
        return HK_EDB;
    char event_id[HK_UUID_LEN];
    uint8_t *bytes;
    size_t env_len;
    if (s_pack_envelope (producer, seq, ev, event_id, &bytes, &env_len) != 0)
        return HK_ENOMEM;
    char seqs[24], occurred[24];
    snprintf (seqs, sizeof seqs, "%llu", (unsigned long long) seq);
    snprintf (occurred, sizeof occurred, "%lld", (long long) ev->occurred_at_us);
    const char *values[] = { producer, seqs, event_id, ev->type, ev->tenant, ev->aggregate_id,
                             occurred, (const char *) bytes };
    int lengths[] = { 0, 0, 0, 0, 0, 0, 0, (int) env_len };
    int formats[] = { 0, 0, 0, 0, 0, 0, 0, 1 };
    PGresult *res = hk_db_query_bin (db,
                                     "INSERT INTO outbox_row (producer, seq, event_id, type,"
                                     " tenant, aggregate_id, occurred_at_us, envelope)"
                                     " VALUES ($1, $2::bigint, $3::uuid, $4, $5, $6, $7::bigint,"
                                     " $8::bytea)",
                                     8, values, lengths, formats, 0);
    if (!res) {
        free (bytes);
        return HK_EDB;
    }
    s_keep (db, producer, seq, ev->type, bytes, env_len);
    PQclear (res);
    if (event_id_out)
        memcpy (event_id_out, event_id, HK_UUID_LEN);
    if (seq_out)
        *seq_out = seq;
    return 0;
}

/* One COPY of n envelopes into the outbox, one row each, built in b and waited for; each
 * envelope is kept for the relay. */
static int
s_outbox_copy (hk_db_t *db, const char *producer, const hk_event_t *evs, int n,
               hk_copy_buf_t *b)
{
    uint64_t last = s_reserve (db, producer, n);
    if (last == 0)
        return HK_EDB;
    int mark = s_kept.staged.n;
    b->len = 0;
    int rc = hk_copy_bin_header (b) ? 0 : HK_ENOMEM;
    for (int i = 0; i < n && rc == 0; i++) {
        char event_id[HK_UUID_LEN];
        uint8_t *bytes;
        size_t len;
        uint64_t seq = last - (uint64_t) n + 1 + (uint64_t) i;
        if (s_pack_envelope (producer, seq, &evs[i], event_id, &bytes, &len) != 0) {
            rc = HK_ENOMEM;
            break;
        }
        bool ok = hk_copy_bin_row (b, 8) && hk_copy_bin_text (b, producer)
                  && hk_copy_bin_i64 (b, (int64_t) seq) && hk_copy_bin_uuid (b, event_id)
                  && hk_copy_bin_text (b, evs[i].type) && hk_copy_bin_text (b, evs[i].tenant)
                  && hk_copy_bin_text (b, evs[i].aggregate_id)
                  && hk_copy_bin_i64 (b, evs[i].occurred_at_us)
                  && hk_copy_bin_bytes (b, bytes, len);
        if (!ok) {
            free (bytes);
            rc = HK_ENOMEM;
        } else /* staged with the transaction: a COPY that fails rolls it back, and them */
            s_keep (db, producer, seq, evs[i].type, bytes, len);
    }
    if (rc == 0 && !hk_copy_bin_trailer (b))
        rc = HK_ENOMEM;
    if (rc == 0 && hk_db_copy_in (db,
                                  "COPY outbox_row (producer, seq, event_id, type, tenant,"
                                  " aggregate_id, occurred_at_us, envelope)"
                                  " FROM STDIN (FORMAT binary)",
                                  b->data, b->len)
                       != 0)
        rc = HK_EDB;
    if (rc != 0)
        s_unstage (db, mark);
    return rc;
}

/* Packs n events as rows of many events each (a run of events sharing type, tenant and time
 * per row) into b; returns 0 or HK_ENOMEM. */
static int
s_bulk_pack (hk_copy_buf_t *b, const char *producer, uint64_t last, const hk_event_t *evs,
             int n)
{
    char (*ids)[HK_UUID_LEN] = malloc ((size_t) n * sizeof *ids);
    uint8_t **bytes = calloc ((size_t) n, sizeof *bytes);
    size_t *lens = malloc ((size_t) n * sizeof *lens);
    int rc = ids && bytes && lens ? 0 : HK_ENOMEM;
    uint64_t first = last - (uint64_t) n + 1;
    for (int i = 0; i < n && rc == 0; i++)
        rc = s_pack_envelope (producer, first + (uint64_t) i, &evs[i], ids[i], &bytes[i],
                              &lens[i]);
    b->len = 0;
    if (rc == 0 && !hk_copy_bin_header (b))
        rc = HK_ENOMEM;
    for (int k = 0, m; rc == 0 && k < n; k += m) {
        for (m = 1; k + m < n && strcmp (evs[k + m].type, evs[k].type) == 0
                    && strcmp (evs[k + m].tenant, evs[k].tenant) == 0
                    && evs[k + m].occurred_at_us == evs[k].occurred_at_us;
             m++)
            ;
        size_t at;
        bool ok = hk_copy_bin_row (b, 9) && hk_copy_bin_text (b, producer)
                  && hk_copy_bin_i64 (b, (int64_t) (first + (uint64_t) (k + m - 1)))
                  && hk_copy_bin_i32 (b, m) && hk_copy_bin_text (b, evs[k].type)
                  && hk_copy_bin_text (b, evs[k].tenant)
                  && hk_copy_bin_i64 (b, evs[k].occurred_at_us)
                  && hk_copy_bin_array_begin (b, HK_PG_OID_UUID, m, &at);
        for (int i = k; ok && i < k + m; i++)
            ok = hk_copy_bin_uuid (b, ids[i]);
        ok = ok && hk_copy_bin_array_end (b, at)
             && hk_copy_bin_array_begin (b, HK_PG_OID_TEXT, m, &at);
        for (int i = k; ok && i < k + m; i++)
            ok = hk_copy_bin_text (b, evs[i].aggregate_id);
        ok = ok && hk_copy_bin_array_end (b, at)
             && hk_copy_bin_array_begin (b, HK_PG_OID_BYTEA, m, &at);
        for (int i = k; ok && i < k + m; i++)
            ok = hk_copy_bin_bytes (b, bytes[i], lens[i]);
        ok = ok && hk_copy_bin_array_end (b, at);
        if (!ok)
            rc = HK_ENOMEM;
    }
    if (rc == 0 && !hk_copy_bin_trailer (b))
        rc = HK_ENOMEM;
    for (int i = 0; bytes && i < n; i++)
        free (bytes[i]);
    free (ids);
    free (bytes);
    free (lens);
    return rc;
}

static int
s_batch_ok (hk_db_t *db, const char *producer, const hk_event_t *evs, int n,
            const hk_copy_buf_t *b)
{
    if (!db || !producer || !*producer || n < 0 || (n > 0 && !evs) || !b)
        return HK_EINVAL;
    for (int i = 0; i < n; i++)
        if (!s_event_ok (&evs[i]))
            return HK_EINVAL;
    return hk_db_in_transaction (db) ? 0 : HK_EINVAL;
}

int
hk_outbox_append_batch (hk_db_t *db, const char *producer, const hk_event_t *evs, int n)
{
    hk_copy_buf_t b = { 0 };
    int rc = s_batch_ok (db, producer, evs, n, &b);
    if (rc == 0 && n > 0)
        rc = s_outbox_copy (db, producer, evs, n, &b);
    free (b.data);
    return rc;
}

int
hk_outbox_send_batch (hk_db_t *db, const char *producer, const hk_event_t *evs, int n,
                      hk_copy_buf_t *buf)
{
    int rc = s_batch_ok (db, producer, evs, n, buf);
    if (rc != 0 || n == 0)
        return rc;
    uint64_t last = s_reserve (db, producer, n);
    if (last == 0)
        return HK_EDB;
    rc = s_bulk_pack (buf, producer, last, evs, n);
    if (rc == 0 && hk_db_copy_send (db,
                                    "COPY outbox_row (producer, seq, events, type, tenant,"
                                    " occurred_at_us, event_ids, aggregate_ids, envelopes)"
                                    " FROM STDIN (FORMAT binary)",
                                    buf->data, buf->len)
                       != 0)
        rc = HK_EDB;
    return rc;
}

/* A binary int8 column value (network byte order). */
static uint64_t
s_get_u64 (const PGresult *res, int row, int col)
{
    const unsigned char *v = (const unsigned char *) PQgetvalue (res, row, col);
    if (PQgetlength (res, row, col) != 8)
        return 0;
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = (x << 8) | v[i];
    return x;
}

/* A binary int4 column value. */
static uint32_t
s_get_u32 (const unsigned char *v)
{
    return (uint32_t) v[0] << 24 | (uint32_t) v[1] << 16 | (uint32_t) v[2] << 8 | v[3];
}

int
hk_outbox_expand (const PGresult *res, int col, uint64_t after, uint64_t upto, int max,
                  hk_outbox_event_t **out)
{
    if (!res || !out || max < 0)
        return HK_EINVAL;
    *out = NULL;
    int rows = PQntuples (res), n = 0, cap = 0;
    hk_outbox_event_t *v = NULL;
    for (int r = 0; r < rows && n < max; r++) {
        uint64_t last = s_get_u64 (res, r, col);
        if (PQgetlength (res, r, col + 1) != 4) {
            free (v);
            return HK_EPARSE;
        }
        uint32_t events = s_get_u32 ((const unsigned char *) PQgetvalue (res, r, col + 1));
        if (events == 0 || events > last) {
            free (v);
            return HK_EPARSE;
        }
        /* the envelopes of a row of many: a bytea[] of events elements, or NULL */
        const unsigned char *a = NULL, *end = NULL;
        if (!PQgetisnull (res, r, col + 3)) {
            a = (const unsigned char *) PQgetvalue (res, r, col + 3);
            end = a + PQgetlength (res, r, col + 3);
            if (end - a < 20 || s_get_u32 (a) != 1 || s_get_u32 (a + 12) != events) {
                free (v);
                return HK_EPARSE;
            }
            a += 20;
        }
        for (uint32_t i = 0; i < events && n < max; i++) {
            uint64_t seq = last - events + 1 + i;
            const unsigned char *bytes = NULL;
            size_t len = 0;
            if (a) {
                if (end - a < 4 || s_get_u32 (a) == UINT32_MAX
                    || (size_t) (end - a - 4) < s_get_u32 (a)) {
                    free (v);
                    return HK_EPARSE;
                }
                len = s_get_u32 (a);
                bytes = a + 4;
                a += 4 + len;
            } else if (events == 1 && !PQgetisnull (res, r, col + 2)) {
                bytes = (const unsigned char *) PQgetvalue (res, r, col + 2);
                len = (size_t) PQgetlength (res, r, col + 2);
            }
            if (seq <= after || seq > upto)
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 256;
                hk_outbox_event_t *w = realloc (v, (size_t) cap * sizeof *w);
                if (!w) {
                    free (v);
                    return HK_ENOMEM;
                }
                v = w;
            }
            v[n++] = (hk_outbox_event_t) { .seq = seq, .row = r, .bytes = bytes, .len = len };
        }
    }
    *out = v;
    return n;
}

/* Advances producer's cursor to last and commits the relay's transaction; 0 or HK_EDB (rolled
 * back: published again next time). */
static int
s_mark_published (hk_db_t *db, const char *producer, uint64_t last)
{
    char lasts[24];
    snprintf (lasts, sizeof lasts, "%llu", (unsigned long long) last);
    const char *mark[] = { producer, lasts };
    if (hk_db_exec (db, "UPDATE producer_sequence SET published_seq = $2::bigint"
                        " WHERE producer = $1",
                    2, mark)
            < 0
        || hk_db_commit (db) < 0) {
        hk_db_rollback (db);
        return HK_EDB;
    }
    return 0;
}

/* Publishes rows envelopes of producer, in sequence order: Redis first, in one round trip
 * (consumers deduplicate by event id, so a failure here or before the commit only means these
 * are published again), then ZeroMQ, best effort (a subscriber that misses one reads the
 * outbox); then marks them, committing the relay's transaction. Returns rows, or HK_EREDIS /
 * HK_ENOMEM / HK_EDB with the transaction rolled back (the cursor not moved). */
static int
s_publish (hk_db_t *db, const char *producer, hk_bus_pub_t *pub, hk_redis_t *redis,
           const s_kept_t *v, int rows)
{
    char (*streams)[128] = redis ? malloc ((size_t) rows * sizeof *streams) : NULL;
    const char **stream_p = redis ? malloc ((size_t) rows * sizeof *stream_p) : NULL;
    const char **datas = redis ? malloc ((size_t) rows * sizeof *datas) : NULL;
    size_t *lens = redis ? malloc ((size_t) rows * sizeof *lens) : NULL;
    int rc = redis && (!streams || !stream_p || !datas || !lens) ? HK_ENOMEM : 0;
    for (int i = 0; redis && rc == 0 && i < rows; i++) {
        stream_p[i] = hk_event_stream (v[i].type, streams[i], sizeof streams[i]);
        datas[i] = (const char *) v[i].bytes;
        lens[i] = v[i].len;
    }
    if (rc == 0 && redis && hk_stream_add_many (redis, stream_p, datas, lens, rows) != 0) {
        HK_LOG (HK_WARN, "outbox.relay_failed", HK_S ("producer", producer),
                HK_I ("seq", v[0].seq), HK_S ("error", hk_redis_errstr (redis)));
        rc = HK_EREDIS;
    }
    free (streams);
    free (stream_p);
    free (datas);
    free (lens);
    if (rc != 0) {
        hk_db_rollback (db);
        return rc;
    }
    for (int i = 0; pub && i < rows; i++)
        if (hk_bus_pub_send (pub, v[i].type, v[i].bytes, v[i].len) != 0)
            HK_LOG (HK_WARN, "outbox.bus_send_failed", HK_S ("producer", producer),
                    HK_I ("seq", v[i].seq));
    return s_mark_published (db, producer, v[rows - 1].seq) == 0 ? rows : HK_EDB;
}

/* Publishes the kept envelopes from the next one to publish on (at most max, consecutive
 * sequence numbers), inside the relay's transaction (the cursor locked), and forgets them
 * once marked. */
static int
s_relay_kept (hk_db_t *db, const char *producer, hk_bus_pub_t *pub, hk_redis_t *redis, int max)
{
    s_kept_list_t *l = &s_kept.ready;
    int rows = 0;
    while (rows < max && l->head + rows < l->n
           && l->v[l->head + rows].seq == l->v[l->head].seq + (uint64_t) rows)
        rows++;
    int rc = s_publish (db, producer, pub, redis, &l->v[l->head], rows);
    if (rc > 0)
        s_kept_clear (l, l->head + rows);
    return rc;
}

int
hk_outbox_relay (hk_db_t *db, const char *producer, hk_bus_pub_t *pub, hk_redis_t *redis,
                 int max)
{
    if (!db || !producer || !*producer || max <= 0)
        return HK_EINVAL;
    if (hk_db_in_transaction (db))
        return HK_EINVAL; /* runs its own transaction */
    if (hk_db_begin (db) < 0)
        return HK_EDB;
    /* The cursor, locked (another process relaying as the same producer skips), and the
     * planner told to keep to the primary key: after a bulk load its statistics know nothing
     * of the new rows. */
    const char *cp[] = { producer };
    PGresult *cur = hk_db_query (db,
                                 "SELECT published_seq, last_seq,"
                                 " set_config('enable_seqscan', 'off', true),"
                                 " set_config('jit', 'off', true)"
                                 " FROM producer_sequence WHERE producer = $1"
                                 " FOR UPDATE SKIP LOCKED",
                                 1, cp);
    if (!cur) {
        hk_db_rollback (db);
        return HK_EDB;
    }
    bool pending = PQntuples (cur) == 1
                   && strtoll (PQgetvalue (cur, 0, 0), NULL, 10)
                          < strtoll (PQgetvalue (cur, 0, 1), NULL, 10);
    uint64_t published = PQntuples (cur) == 1 ? strtoull (PQgetvalue (cur, 0, 0), NULL, 10) : 0;
    char after[24] = "";
    if (pending)
        snprintf (after, sizeof after, "%s", PQgetvalue (cur, 0, 0));
    PQclear (cur);
    if (!pending)
        return hk_db_commit (db) < 0 ? HK_EDB : 0;
    if (db == s_kept.db && strcmp (producer, s_kept.producer) == 0) {
        /* what was published already (by an earlier relay, or one that read it back) goes */
        s_kept_list_t *l = &s_kept.ready;
        int k = l->head;
        while (k < l->n && l->v[k].seq <= published)
            k++;
        s_kept_clear (l, k);
        if (l->head < l->n && l->v[l->head].seq == published + 1)
            return s_relay_kept (db, producer, pub, redis, max);
    }

    char maxs[16];
    snprintf (maxs, sizeof maxs, "%d", max);
    const char *values[] = { producer, after, maxs };
    int lengths[] = { 0, 0, 0 };
    int formats[] = { 0, 0, 0 };
    PGresult *res = hk_db_query_bin (db,
                                     "SELECT type, seq, events, envelope, envelopes"
                                     " FROM outbox_row"
                                     " WHERE producer = $1 AND seq > $2::bigint"
                                     "  AND seq - events < $2::bigint + $3::int"
                                     " ORDER BY seq LIMIT $3::int",
                                     3, values, lengths, formats, 1);
    if (!res) {
        hk_db_rollback (db);
        return HK_EDB;
    }
    /* the events to publish, pointing into res. The rows read are those holding the next max
     * events (the second condition leaves out rows of many that start past them); a row of
     * many is read again by the next relay when max ends inside it. */
    hk_outbox_event_t *evs = NULL;
    int rows = hk_outbox_expand (res, 1, published, UINT64_MAX, max, &evs);
    s_kept_t *v = rows > 0 ? malloc ((size_t) rows * sizeof *v) : NULL;
    if (rows <= 0 || !v) {
        int rc = rows == 0 ? 0 : rows < 0 ? rows : HK_ENOMEM;
        if (rows < 0)
            HK_LOG (HK_ERROR, "outbox.row_malformed", HK_S ("producer", producer),
                    HK_I ("after", (int64_t) published));
        free (evs);
        free (v);
        PQclear (res);
        if (rc == 0)
            return hk_db_commit (db) < 0 ? HK_EDB : 0;
        hk_db_rollback (db);
        return rc;
    }
    int rc = 0;
    for (int i = 0; i < rows; i++) {
        if (!evs[i].bytes) { /* a row of one event without its envelope: the schema forbids it */
            rc = HK_EPARSE;
            break;
        }
        v[i] = (s_kept_t) { .seq = evs[i].seq, .type = PQgetvalue (res, evs[i].row, 0),
                            .bytes = (uint8_t *) evs[i].bytes, .len = evs[i].len };
    }
    if (rc == 0)
        rc = s_publish (db, producer, pub, redis, v, rows);
    else
        hk_db_rollback (db);
    free (v);
    free (evs);
    PQclear (res);
    return rc;
}

const char *
hk_event_stream (const char *type, char *buf, size_t len)
{
    if (buf && len)
        snprintf (buf, len, "hk:ev:%s", type ? type : "");
    return buf;
}


/* ---------------------------------------------------------------------------------------
 * Envelope and payload
 */

Huikuan__V1__Envelope *
hk_envelope_unpack (const void *data, size_t len)
{
    if (!data && len)
        return NULL;
    const uint8_t *bytes = data ? (const uint8_t *) data : (const uint8_t *) "";
    Huikuan__V1__Envelope *env = huikuan__v1__envelope__unpack (NULL, len, bytes);
    if (!env)
        return NULL;
    if (env->version != HK_ENVELOPE_VERSION || !env->event_id || !*env->event_id || !env->type
        || !*env->type) {
        huikuan__v1__envelope__free_unpacked (env, NULL);
        return NULL;
    }
    return env;
}

void
hk_envelope_destroy (Huikuan__V1__Envelope **env_p)
{
    if (!env_p || !*env_p)
        return;
    huikuan__v1__envelope__free_unpacked (*env_p, NULL);
    *env_p = NULL;
}

static const ProtobufCMessageDescriptor *
s_payload_descriptor (const char *payload_type)
{
    if (!payload_type)
        return NULL;
    for (size_t i = 0; i < sizeof s_payload_types / sizeof s_payload_types[0]; i++)
        if (strcmp (s_payload_types[i]->name, payload_type) == 0)
            return s_payload_types[i];
    return NULL;
}

ProtobufCMessage *
hk_payload_unpack (const Huikuan__V1__Envelope *env)
{
    if (!env)
        return NULL;
    const ProtobufCMessageDescriptor *desc = s_payload_descriptor (env->payload_type);
    if (!desc)
        return NULL;
    const uint8_t *data = env->payload.data ? env->payload.data : (const uint8_t *) "";
    return protobuf_c_message_unpack (desc, NULL, env->payload.len, data);
}

void
hk_payload_destroy (ProtobufCMessage **msg_p)
{
    if (!msg_p || !*msg_p)
        return;
    protobuf_c_message_free_unpacked (*msg_p, NULL);
    *msg_p = NULL;
}


/* ---------------------------------------------------------------------------------------
 * JSON: a generic walk over protobuf-c descriptors, field names as in the .proto files
 */

static json_object *
s_base64 (const uint8_t *data, size_t len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t out_len = 4 * ((len + 2) / 3);
    char *out = malloc (out_len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t) data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t) data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = abc[(v >> 18) & 63];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = i + 1 < len ? abc[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? abc[v & 63] : '=';
    }
    out[o] = 0;
    json_object *j = json_object_new_string_len (out, (int) o);
    free (out);
    return j;
}

static json_object *s_message_json (const ProtobufCMessage *msg);

/* Size of one element of a repeated field's array. */
static size_t
s_elem_size (ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof (float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof (double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof (protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof (char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof (ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof (ProtobufCMessage *);
    }
    return 0;
}

/* One value of field fd stored at p. A NULL return means out of memory, except for an absent
 * sub-message, where *absent is set. */
static json_object *
s_value_json (const ProtobufCFieldDescriptor *fd, const void *p, bool *absent)
{
    *absent = false;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_object_new_int (*(const int32_t *) p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_object_new_int64 (*(const uint32_t *) p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_object_new_int64 (*(const int64_t *) p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_object_new_uint64 (*(const uint64_t *) p);
    case PROTOBUF_C_TYPE_FLOAT:
        return json_object_new_double (*(const float *) p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_object_new_double (*(const double *) p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_object_new_boolean (*(const protobuf_c_boolean *) p);
    case PROTOBUF_C_TYPE_ENUM: {
        int value = *(const int *) p;
        const ProtobufCEnumDescriptor *ed = fd->descriptor;
        const ProtobufCEnumValue *ev = ed ? protobuf_c_enum_descriptor_get_value (ed, value) : NULL;
        return ev ? json_object_new_string (ev->name) : json_object_new_int (value);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *) p;
        return json_object_new_string (s ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        return s_base64 (b->data, b->len);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *) p;
        if (!m) {
            *absent = true;
            return NULL;
        }
        return s_message_json (m);
    }
    }
    *absent = true;
    return NULL;
}

/* Whether a singular field is set (proto2 optional, oneof); proto3 fields always are. */
static bool
s_field_present (const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd)
{
    const char *base = (const char *) msg;
    if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *) (base + fd->quantifier_offset) == fd->id;
    if (fd->label != PROTOBUF_C_LABEL_OPTIONAL)
        return true;
    if (fd->type == PROTOBUF_C_TYPE_STRING || fd->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(void *const *) (base + fd->offset) != NULL;
    return *(const protobuf_c_boolean *) (base + fd->quantifier_offset);
}

static json_object *
s_message_json (const ProtobufCMessage *msg)
{
    json_object *obj = json_object_new_object ();
    if (!obj)
        return NULL;
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    const char *base = (const char *) msg;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &desc->fields[i];
        json_object *value = NULL;
        bool absent = false;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) (base + fd->quantifier_offset);
            const char *arr = *(char *const *) (base + fd->offset);
            size_t size = s_elem_size (fd->type);
            value = json_object_new_array ();
            for (size_t k = 0; value && k < n; k++) {
                bool skip;
                json_object *item = s_value_json (fd, arr + k * size, &skip);
                if (skip)
                    item = json_object_new_null ();
                else if (!item) {
                    json_object_put (value);
                    value = NULL;
                    break;
                }
                json_object_array_add (value, item);
            }
        }
        else {
            if (!s_field_present (msg, fd))
                continue;
            value = s_value_json (fd, base + fd->offset, &absent);
            if (absent)
                continue;
        }
        if (!value) {
            json_object_put (obj);
            return NULL;
        }
        json_object_object_add (obj, fd->name, value);
    }
    return obj;
}

int
hk_event_to_json (const Huikuan__V1__Envelope *env, char **json_out)
{
    if (!json_out)
        return HK_EINVAL;
    *json_out = NULL;
    if (!env)
        return HK_EINVAL;
    json_object *obj = s_message_json (&env->base);
    if (!obj)
        return HK_ENOMEM;
    json_object *payload_json = NULL;
    if (s_payload_descriptor (env->payload_type)) {
        ProtobufCMessage *payload = hk_payload_unpack (env);
        if (!payload) {
            json_object_put (obj);
            return HK_EPARSE;
        }
        payload_json = s_message_json (payload);
        hk_payload_destroy (&payload);
    }
    else
        /* Unknown type (a newer producer): the bytes, so nothing is hidden. */
        payload_json = s_base64 (env->payload.data, env->payload.len);
    if (!payload_json) {
        json_object_put (obj);
        return HK_ENOMEM;
    }
    json_object_object_add (obj, "payload", payload_json);
    const char *text = json_object_to_json_string_ext (obj, JSON_C_TO_STRING_PLAIN
                                                                | JSON_C_TO_STRING_NOSLASHESCAPE);
    *json_out = text ? strdup (text) : NULL;
    json_object_put (obj);
    return *json_out ? 0 : HK_ENOMEM;
}
