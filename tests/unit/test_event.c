/* test_event: envelope, outbox and relay against real PostgreSQL, Redis and ZeroMQ
 * ($HK_TESTENV from tests/harness/servers.py). Works in its own database unit_event_<pid>,
 * dropped at the end, and on Redis streams named after the pid. */
#include <json-c/json.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "huikuan/errcodes.h"
#include "huikuan/event.h"

/* Envelope bytes of one outbox row (malloc'd, caller frees), or NULL. */
static uint8_t *
s_outbox_bytes (hk_db_t *db, const char *producer, const char *seq, size_t *len)
{
    const char *values[] = { producer, seq };
    int lengths[] = { 0, 0 }, formats[] = { 0, 0 };
    PGresult *res = hk_db_query_bin (db,
                                     "SELECT envelope FROM event_outbox"
                                     " WHERE producer = $1 AND seq = $2::bigint",
                                     2, values, lengths, formats, 1);
    if (!res)
        return NULL;
    uint8_t *out = NULL;
    if (PQntuples (res) == 1) {
        *len = (size_t) PQgetlength (res, 0, 0);
        out = malloc (*len + 1);
        if (out)
            memcpy (out, PQgetvalue (res, 0, 0), *len);
    }
    PQclear (res);
    return out;
}

static json_object *
s_get (json_object *obj, const char *key)
{
    json_object *v = NULL;
    return obj && json_object_object_get_ex (obj, key, &v) ? v : NULL;
}

/* A hand-made envelope around payload (packed, caller frees the bytes). */
static uint8_t *
s_pack_envelope (const ProtobufCMessage *payload, const char *payload_type, uint32_t version,
                 size_t *len)
{
    uint8_t pbuf[1024];
    size_t plen = payload ? protobuf_c_message_pack (payload, pbuf) : 3;
    if (!payload)
        memcpy (pbuf, "\x01\x02\x03", 3);
    Huikuan__V1__Envelope env = HUIKUAN__V1__ENVELOPE__INIT;
    env.version = version;
    env.event_id = "2b8f8c39-4a56-4c7e-9a43-3f1d2c6b9e01";
    env.type = "contact.planned";
    env.tenant = "acme";
    env.aggregate_id = "D-9";
    env.occurred_at_us = 1700000000123456;
    env.producer = "scheduling-1";
    env.sequence = 18446744073709551000ull;
    env.trace_id = "t-1";
    env.payload_type = (char *) payload_type;
    env.payload.data = pbuf;
    env.payload.len = plen;
    *len = huikuan__v1__envelope__get_packed_size (&env);
    uint8_t *out = malloc (*len);
    if (out)
        huikuan__v1__envelope__pack (&env, out);
    return out;
}

static int
s_test_envelope (bool verbose)
{
    int failures = 0;
    char stream[64];
    CHECK_STR (hk_event_stream ("invoice.aged", stream, sizeof stream), "hk:ev:invoice.aged");

    /* Malformed bytes and unknown versions give NULL. */
    CHECK (hk_envelope_unpack (NULL, 0) == NULL);
    CHECK (hk_envelope_unpack (NULL, 5) == NULL);
    CHECK (hk_envelope_unpack ("\xff\xff\xff\xff garbage", 13) == NULL);
    CHECK (hk_envelope_unpack ("\x0a\x05hi", 4) == NULL);
    Huikuan__V1__Envelope *env = NULL;
    hk_envelope_destroy (&env);
    hk_envelope_destroy (NULL);
    ProtobufCMessage *none = NULL;
    hk_payload_destroy (&none);
    hk_payload_destroy (NULL);
    CHECK (hk_payload_unpack (NULL) == NULL);

    /* Repeated strings and a repeated message in JSON. */
    Huikuan__V1__ContactPlanned cp = HUIKUAN__V1__CONTACT_PLANNED__INIT;
    char *rules[] = { "R-C1", "R-S2" };
    cp.contact_id = "c-1";
    cp.channel = "email";
    cp.due_at_us = -5;
    cp.n_rules = 2;
    cp.rules = rules;
    size_t len;
    uint8_t *bytes = s_pack_envelope (&cp.base, "huikuan.v1.ContactPlanned", 2, &len);
    CHECK (hk_envelope_unpack (bytes, len) == NULL); /* version 2: unknown */
    free (bytes);
    bytes = s_pack_envelope (&cp.base, "huikuan.v1.ContactPlanned", HK_ENVELOPE_VERSION, &len);
    env = hk_envelope_unpack (bytes, len);
    free (bytes);
    CHECK (env);
    char *json = NULL;
    CHECK_INT (hk_event_to_json (env, &json), 0);
    if (verbose && json)
        printf ("  %s\n", json);
    json_object *obj = json ? json_tokener_parse (json) : NULL;
    CHECK (obj);
    CHECK_INT (json_object_get_int (s_get (obj, "version")), 1);
    CHECK_STR (json_object_get_string (s_get (obj, "type")), "contact.planned");
    CHECK (json_object_get_uint64 (s_get (obj, "sequence")) == 18446744073709551000ull);
    CHECK (json_object_get_int64 (s_get (obj, "occurred_at_us")) == 1700000000123456);
    CHECK_STR (json_object_get_string (s_get (obj, "payload_type")), "huikuan.v1.ContactPlanned");
    json_object *payload = s_get (obj, "payload");
    CHECK (json_object_is_type (payload, json_type_object));
    CHECK_STR (json_object_get_string (s_get (payload, "channel")), "email");
    CHECK_INT (json_object_get_int64 (s_get (payload, "due_at_us")), -5);
    json_object *jr = s_get (payload, "rules");
    CHECK (json_object_is_type (jr, json_type_array) && json_object_array_length (jr) == 2);
    if (jr && json_object_array_length (jr) == 2)
        CHECK_STR (json_object_get_string (json_object_array_get_idx (jr, 1)), "R-S2");
    CHECK_STR (json_object_get_string (s_get (payload, "step")), "");
    json_object_put (obj);
    free (json);
    hk_envelope_destroy (&env);
    CHECK (env == NULL);

    Huikuan__V1__Money m1 = HUIKUAN__V1__MONEY__INIT, m2 = HUIKUAN__V1__MONEY__INIT;
    m1.minor = 100;
    m1.currency = "CNY";
    m2.minor = 9007199254740993; /* beyond a double's exact range */
    m2.currency = "CNY";
    Huikuan__V1__Allocation a1 = HUIKUAN__V1__ALLOCATION__INIT, a2 = HUIKUAN__V1__ALLOCATION__INIT;
    a1.invoice_id = "INV-1";
    a1.amount = &m1;
    a2.invoice_id = "INV-2";
    Huikuan__V1__Allocation *allocs[] = { &a1, &a2 };
    Huikuan__V1__PaymentRecorded pr = HUIKUAN__V1__PAYMENT_RECORDED__INIT;
    pr.payment_id = "P-1";
    pr.amount = &m2;
    pr.n_allocations = 2;
    pr.allocations = allocs;
    bytes = s_pack_envelope (&pr.base, "huikuan.v1.PaymentRecorded", HK_ENVELOPE_VERSION, &len);
    env = hk_envelope_unpack (bytes, len);
    free (bytes);
    json = NULL;
    CHECK_INT (hk_event_to_json (env, &json), 0);
    if (verbose && json)
        printf ("  %s\n", json);
    obj = json ? json_tokener_parse (json) : NULL;
    payload = s_get (obj, "payload");
    CHECK (json_object_get_int64 (s_get (s_get (payload, "amount"), "minor")) == 9007199254740993);
    CHECK (json && strstr (json, "9007199254740993"));
    json_object *ja = s_get (payload, "allocations");
    CHECK (json_object_is_type (ja, json_type_array) && json_object_array_length (ja) == 2);
    if (ja && json_object_array_length (ja) == 2) {
        json_object *first = json_object_array_get_idx (ja, 0);
        CHECK_STR (json_object_get_string (s_get (first, "invoice_id")), "INV-1");
        CHECK_INT (json_object_get_int64 (s_get (s_get (first, "amount"), "minor")), 100);
        /* An absent sub-message is left out. */
        CHECK (s_get (json_object_array_get_idx (ja, 1), "amount") == NULL);
    }
    CHECK (s_get (payload, "unallocated") == NULL);
    ProtobufCMessage *msg = hk_payload_unpack (env);
    CHECK (msg && msg->descriptor == &huikuan__v1__payment_recorded__descriptor);
    hk_payload_destroy (&msg);
    CHECK (msg == NULL);
    json_object_put (obj);
    free (json);
    hk_envelope_destroy (&env);

    /* Unknown payload type: payload as base64; all remainders of base64. */
    bytes = s_pack_envelope (NULL, "huikuan.v9.Future", HK_ENVELOPE_VERSION, &len);
    env = hk_envelope_unpack (bytes, len);
    free (bytes);
    CHECK (env);
    CHECK (hk_payload_unpack (env) == NULL);
    json = NULL;
    CHECK_INT (hk_event_to_json (env, &json), 0);
    obj = json ? json_tokener_parse (json) : NULL;
    CHECK_STR (json_object_get_string (s_get (obj, "payload")), "AQID");
    json_object_put (obj);
    free (json);
    if (env) {
        env->payload.len = 1;
        CHECK_INT (hk_event_to_json (env, &json), 0);
        CHECK (json && strstr (json, "\"payload\":\"AQ==\""));
        free (json);
        env->payload.len = 2;
        CHECK_INT (hk_event_to_json (env, &json), 0);
        CHECK (json && strstr (json, "\"payload\":\"AQI=\""));
        free (json);
        /* Known type, bytes that do not parse as it. */
        env->payload.data[0] = 0xff;
        env->payload.len = 3;
        free (env->payload_type);
        env->payload_type = strdup ("huikuan.v1.InvoiceAged");
        CHECK (hk_payload_unpack (env) == NULL);
        CHECK_INT (hk_event_to_json (env, &json), HK_EPARSE);
        CHECK (json == NULL);
    }
    hk_envelope_destroy (&env);
    CHECK_INT (hk_event_to_json (NULL, &json), HK_EINVAL);
    return failures;
}

static int
s_test_outbox (hk_db_t *db, const char *redis_url, bool verbose)
{
    int failures = 0;
    char producer[64], type[64], stream[96];
    snprintf (producer, sizeof producer, "unit-event-%d", (int) getpid ());
    snprintf (type, sizeof type, "test%d.recorded", (int) getpid ());
    hk_event_stream (type, stream, sizeof stream);

    Huikuan__V1__Money amount = HUIKUAN__V1__MONEY__INIT;
    amount.minor = 12345;
    amount.currency = "CNY";
    Huikuan__V1__InvoiceRecorded inv = HUIKUAN__V1__INVOICE_RECORDED__INIT;
    inv.invoice_id = "INV-1";
    inv.debtor_id = "D-1";
    inv.amount = &amount;
    inv.due_on = "2024-03-01";
    inv.source = "feed.csv";
    inv.source_line = 7;
    inv.changed = 1;
    hk_event_t ev = { .type = type, .tenant = "acme", .aggregate_id = "D-1",
                      .occurred_at_us = 1700000000000000, .payload = &inv.base };

    /* Only inside a transaction, and with every field. */
    char event_id[HK_UUID_LEN] = "";
    uint64_t seq = 0;
    CHECK_INT (hk_outbox_append (db, producer, &ev, event_id, &seq), HK_EINVAL);
    CHECK_INT (hk_db_begin (db), 0);
    hk_event_t bad = ev;
    bad.type = NULL;
    CHECK_INT (hk_outbox_append (db, producer, &bad, NULL, NULL), HK_EINVAL);
    bad = ev;
    bad.payload = NULL;
    CHECK_INT (hk_outbox_append (db, producer, &bad, NULL, NULL), HK_EINVAL);
    CHECK_INT (hk_outbox_append (db, "", &ev, NULL, NULL), HK_EINVAL);
    CHECK_INT (hk_outbox_append (db, producer, &ev, event_id, &seq), 0);
    CHECK_INT (seq, 1);
    CHECK_INT (strlen (event_id), 36);
    CHECK_INT (hk_db_commit (db), 0);

    /* A rolled-back append gives its number back: gapless. */
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_outbox_append (db, producer, &ev, NULL, &seq), 0);
    CHECK_INT (seq, 2);
    CHECK_INT (hk_db_rollback (db), 0);
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_outbox_append (db, producer, &ev, NULL, &seq), 0);
    CHECK_INT (seq, 2);
    ev.trace_id = "trace-from-intake";
    CHECK_INT (hk_outbox_append (db, producer, &ev, NULL, &seq), 0);
    CHECK_INT (seq, 3);
    ev.trace_id = NULL;
    CHECK_INT (hk_db_commit (db), 0);
    const char *pp[] = { producer };
    CHECK_STR (hk_test_value (db, "SELECT string_agg (seq::text, ',' ORDER BY seq) "
                                  "FROM event_outbox WHERE producer = $1", 1, pp), "1,2,3");
    CHECK_STR (hk_test_value (db, "SELECT last_seq FROM producer_sequence WHERE producer = $1",
                              1, pp),
               "3");

    /* The stored envelope round-trips. */
    size_t len = 0;
    uint8_t *bytes = s_outbox_bytes (db, producer, "1", &len);
    Huikuan__V1__Envelope *env = bytes ? hk_envelope_unpack (bytes, len) : NULL;
    free (bytes);
    CHECK (env);
    if (env) {
        CHECK_INT (env->version, HK_ENVELOPE_VERSION);
        CHECK_STR (env->event_id, event_id);
        CHECK_STR (env->type, type);
        CHECK_STR (env->tenant, "acme");
        CHECK_STR (env->aggregate_id, "D-1");
        CHECK_STR (env->producer, producer);
        CHECK_INT (env->sequence, 1);
        CHECK_INT (env->occurred_at_us, 1700000000000000);
        CHECK_INT (strlen (env->trace_id), 36);
        CHECK_STR (env->payload_type, "huikuan.v1.InvoiceRecorded");
        ProtobufCMessage *msg = hk_payload_unpack (env);
        CHECK (msg && msg->descriptor == &huikuan__v1__invoice_recorded__descriptor);
        if (msg) {
            Huikuan__V1__InvoiceRecorded *got = (Huikuan__V1__InvoiceRecorded *) msg;
            CHECK_STR (got->invoice_id, "INV-1");
            CHECK (got->amount && got->amount->minor == 12345);
            CHECK_INT (got->source_line, 7);
            CHECK (got->changed);
        }
        hk_payload_destroy (&msg);
        char *json = NULL;
        CHECK_INT (hk_event_to_json (env, &json), 0);
        if (verbose && json)
            printf ("  %s\n", json);
        json_object *obj = json ? json_tokener_parse (json) : NULL;
        CHECK_STR (json_object_get_string (s_get (obj, "event_id")), event_id);
        CHECK_STR (json_object_get_string (s_get (obj, "producer")), producer);
        json_object *payload = s_get (obj, "payload");
        CHECK_STR (json_object_get_string (s_get (payload, "invoice_id")), "INV-1");
        CHECK_STR (json_object_get_string (s_get (payload, "due_on")), "2024-03-01");
        CHECK (json_object_get_boolean (s_get (payload, "changed")));
        CHECK_INT (json_object_get_int (s_get (payload, "source_line")), 7);
        CHECK_INT (json_object_get_int64 (s_get (s_get (payload, "amount"), "minor")), 12345);
        CHECK_STR (json_object_get_string (s_get (s_get (payload, "amount"), "currency")), "CNY");
        json_object_put (obj);
        free (json);
    }
    hk_envelope_destroy (&env);
    bytes = s_outbox_bytes (db, producer, "3", &len);
    env = bytes ? hk_envelope_unpack (bytes, len) : NULL;
    free (bytes);
    CHECK (env && strcmp (env->trace_id, "trace-from-intake") == 0);
    hk_envelope_destroy (&env);

    /* Relay: to Redis and ZeroMQ in order, then marked; a second relay sends nothing. */
    char err[256];
    hk_bus_pub_t *pub = hk_bus_pub_new ("tcp://127.0.0.1:*", err, sizeof err);
    CHECK (pub);
    hk_bus_sub_t *sub = hk_bus_sub_new (NULL, "");
    CHECK (sub);
    if (pub)
        CHECK_INT (hk_bus_sub_connect (sub, hk_bus_pub_endpoint (pub)), 0);
    hk_test_sleep_ms (300); /* the subscription reaches the publisher */
    hk_redis_t *redis = hk_redis_new (redis_url);
    CHECK_INT (hk_redis_connect (redis), 0);

    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_outbox_relay (db, producer, pub, redis, 10), HK_EINVAL); /* own transaction */
    CHECK_INT (hk_db_rollback (db), 0);
    CHECK_INT (hk_outbox_relay (db, producer, pub, redis, 2), 2);
    CHECK_INT (hk_outbox_relay (db, producer, pub, redis, 10), 1);
    CHECK_INT (hk_outbox_relay (db, producer, pub, redis, 10), 0);
    CHECK (!hk_db_in_transaction (db));
    CHECK_STR (hk_test_value (db, "SELECT count(*) FROM event_unpublished WHERE producer = $1",
                              1, pp),
               "0");

    hk_queue_t *q = hk_queue_new (redis, stream, "unit", "c1", 60000);
    hk_queue_msg_t msgs[8];
    int n = hk_queue_read (q, msgs, 8, 0);
    CHECK_INT (n, 3);
    for (int i = 0; i < n; i++) {
        env = hk_envelope_unpack (msgs[i].data, msgs[i].len);
        CHECK (env && env->sequence == (uint64_t) i + 1);
        hk_envelope_destroy (&env);
    }
    hk_queue_batch_clear (msgs, n);

    for (uint64_t want = 1; want <= 3; want++) {
        env = NULL;
        CHECK_INT (hk_bus_sub_next (sub, 2000, &env), 1);
        CHECK (env && env->sequence == want && strcmp (env->type, type) == 0);
        hk_envelope_destroy (&env);
    }
    CHECK_INT (hk_bus_sub_next (sub, 100, &env), 0);

    /* Redis down: nothing is marked, HK_EREDIS; next time it goes through. */
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_outbox_append (db, producer, &ev, NULL, &seq), 0);
    CHECK_INT (seq, 4);
    CHECK_INT (hk_db_commit (db), 0);
    hk_redis_t *dead = hk_redis_new ("redis://127.0.0.1:1");
    CHECK_INT (hk_outbox_relay (db, producer, NULL, dead, 10), HK_EREDIS);
    CHECK (!hk_db_in_transaction (db));
    hk_redis_destroy (&dead);
    CHECK_STR (hk_test_value (db, "SELECT count(*) FROM event_unpublished WHERE producer = $1",
                              1, pp),
               "1");
    /* ZeroMQ only (no Redis leg) also marks. */
    CHECK_INT (hk_outbox_relay (db, producer, pub, NULL, 10), 1);
    env = NULL;
    CHECK_INT (hk_bus_sub_next (sub, 2000, &env), 1);
    CHECK (env && env->sequence == 4);
    hk_envelope_destroy (&env);
    CHECK_INT (hk_outbox_relay (db, producer, NULL, NULL, 0), HK_EINVAL);

    hk_queue_destroy (&q);
    redisReply *reply = hk_redis_cmdf (redis, "DEL %s", stream);
    if (reply)
        freeReplyObject (reply);
    hk_redis_destroy (&redis);
    hk_bus_sub_destroy (&sub);
    hk_bus_pub_destroy (&pub);
    return failures;
}

/* Batch append: consecutive gapless sequence numbers after single appends, rolled back with
 * the transaction, every envelope decodable with its payload; COPY escaping of odd text. */
static int
s_test_batch (hk_db_t *db)
{
    int failures = 0;
    Huikuan__V1__InvoiceSettled msgs[3];
    hk_event_t evs[3];
    const char *ids[] = { "B-1", "tab\there", "back\\slash\nnewline" };
    for (int i = 0; i < 3; i++) {
        huikuan__v1__invoice_settled__init (&msgs[i]);
        msgs[i].invoice_id = (char *) ids[i];
        evs[i] = (hk_event_t) { .type = "invoice.settled", .tenant = "t", .aggregate_id = ids[i],
                                .occurred_at_us = 1000 + i, .payload = &msgs[i].base };
    }
    CHECK_INT (hk_outbox_append_batch (db, "batcher", evs, 3), HK_EINVAL); /* no transaction */
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_outbox_append (db, "batcher", &evs[0], NULL, NULL), 0);
    CHECK_INT (hk_outbox_append_batch (db, "batcher", evs, 3), 0);
    CHECK_INT (hk_db_rollback (db), 0);
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_outbox_append_batch (db, "batcher", evs, 3), 0);
    CHECK_INT (hk_outbox_append_batch (db, "batcher", evs, 0), 0);
    uint64_t seq = 0;
    CHECK_INT (hk_outbox_append (db, "batcher", &evs[0], NULL, &seq), 0);
    CHECK_INT (seq, 4);
    CHECK_INT (hk_db_commit (db), 0);
    const char *p[] = { "batcher" };
    PGresult *res = hk_db_query_bin (db,
                                     "SELECT seq, aggregate_id, envelope FROM event_outbox"
                                     " WHERE producer = $1 ORDER BY seq",
                                     1, p, NULL, NULL, 0);
    CHECK (res && PQntuples (res) == 4);
    for (int i = 0; res && i < PQntuples (res); i++) {
        CHECK_INT (atoi (PQgetvalue (res, i, 0)), i + 1);
        CHECK_STR (PQgetvalue (res, i, 1), ids[i % 3]);
        size_t len = 0;
        unsigned char *bytes = PQunescapeBytea ((const unsigned char *) PQgetvalue (res, i, 2),
                                                &len);
        Huikuan__V1__Envelope *env = hk_envelope_unpack (bytes, len);
        CHECK (env && env->sequence == (uint64_t) (i + 1));
        ProtobufCMessage *m = env ? hk_payload_unpack (env) : NULL;
        CHECK (m && strcmp (((Huikuan__V1__InvoiceSettled *) m)->invoice_id, ids[i % 3]) == 0);
        hk_payload_destroy (&m);
        hk_envelope_destroy (&env);
        PQfreemem (bytes);
    }
    PQclear (res);
    return failures;
}

/* The relay publishes what this process wrote from memory, not read back: the outbox rows'
 * envelopes are spoilt after the commits and what reaches Redis is still the envelopes
 * written; a rolled-back transaction's envelope (its sequence number used again by the next)
 * is not among them; a sequence number written through another connection makes the relay
 * read back from the outbox, in order. */
static int
s_test_kept (hk_db_t *admin, const char *redis_url)
{
    int failures = 0;
    char name[64], producer[64], type[64], stream[96];
    hk_db_t *db = hk_test_db_fresh (admin, "unit_kept", name, sizeof name);
    CHECK (db);
    if (!db)
        return failures;
    char *url = hk_test_db_url (name);
    hk_db_t *other = url ? hk_db_new (url) : NULL;
    free (url);
    CHECK (other && hk_db_connect (other) == 0);
    snprintf (producer, sizeof producer, "kept-%d", (int) getpid ());
    snprintf (type, sizeof type, "kept%d.recorded", (int) getpid ());
    hk_event_stream (type, stream, sizeof stream);
    Huikuan__V1__InvoiceSettled msgs[6];
    hk_event_t evs[6];
    const char *ids[] = { "A1", "A2", "RB", "A3", "O4", "A5" };
    for (int i = 0; i < 6; i++) {
        huikuan__v1__invoice_settled__init (&msgs[i]);
        msgs[i].invoice_id = (char *) ids[i];
        evs[i] = (hk_event_t) { .type = type, .tenant = "t", .aggregate_id = ids[i],
                                .occurred_at_us = 1000 + i, .payload = &msgs[i].base };
    }
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_outbox_append_batch (db, producer, evs, 2), 0);        /* 1, 2 */
    CHECK_INT (hk_db_commit (db), 0);
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_outbox_append (db, producer, &evs[2], NULL, NULL), 0); /* 3, rolled back */
    CHECK_INT (hk_db_rollback (db), 0);
    CHECK_INT (hk_db_begin (db), 0);
    uint64_t seq = 0;
    CHECK_INT (hk_outbox_append (db, producer, &evs[3], NULL, &seq), 0); /* 3 again */
    CHECK_INT (seq, 3);
    CHECK_INT (hk_db_commit (db), 0);
    const char *pp[] = { producer };
    CHECK_INT (hk_db_exec (db, "UPDATE outbox_row SET envelope = '\\x00'::bytea"
                               " WHERE producer = $1", 1, pp), 3);

    hk_redis_t *redis = hk_redis_new (redis_url);
    CHECK_INT (hk_redis_connect (redis), 0);
    CHECK_INT (hk_outbox_relay (db, producer, NULL, redis, 10), 3);
    /* another connection writes 4, this one 5: read back, in order */
    CHECK_INT (hk_db_begin (other), 0);
    CHECK_INT (hk_outbox_append (other, producer, &evs[4], NULL, &seq), 0);
    CHECK_INT (seq, 4);
    CHECK_INT (hk_db_commit (other), 0);
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_outbox_append (db, producer, &evs[5], NULL, &seq), 0);
    CHECK_INT (seq, 5);
    CHECK_INT (hk_db_commit (db), 0);
    CHECK_INT (hk_outbox_relay (db, producer, NULL, redis, 10), 2);
    CHECK_INT (hk_outbox_relay (db, producer, NULL, redis, 10), 0);

    hk_queue_t *q = hk_queue_new (redis, stream, "unit", "c1", 60000);
    hk_queue_msg_t got[8];
    int n = hk_queue_read (q, got, 8, 0);
    CHECK_INT (n, 5);
    const char *want[] = { "A1", "A2", "A3", "O4", "A5" };
    for (int i = 0; i < n && i < 5; i++) {
        Huikuan__V1__Envelope *env = hk_envelope_unpack (got[i].data, got[i].len);
        CHECK (env && env->sequence == (uint64_t) i + 1);
        CHECK (env && strcmp (env->aggregate_id, want[i]) == 0);
        hk_envelope_destroy (&env);
    }
    hk_queue_batch_clear (got, n);
    hk_queue_destroy (&q);
    redisReply *reply = hk_redis_cmdf (redis, "DEL %s", stream);
    if (reply)
        freeReplyObject (reply);
    hk_redis_destroy (&redis);
    hk_db_destroy (&other);
    hk_db_destroy (&db);
    CHECK (hk_test_db_drop (admin, name) >= 0);
    return failures;
}

/* Rows of many events (migration 25): hk_outbox_send_batch stores each run of events sharing
 * type, tenant and time as one outbox_row; the event_outbox view gives one row per event, with
 * its own sequence number, id and aggregate; a row must hold what its count says; the relay
 * publishes every event in order, stopping inside a row when max ends there, and a plain row
 * after rows of many. */
static int
s_test_bulk (hk_db_t *admin, const char *redis_url)
{
    int failures = 0;
    char name[64], producer[64], type_a[64], type_b[64], stream_a[96], stream_b[96];
    hk_db_t *db = hk_test_db_fresh (admin, "unit_bulk", name, sizeof name);
    CHECK (db);
    if (!db)
        return failures;
    snprintf (producer, sizeof producer, "bulk-%d/lane2", (int) getpid ());
    snprintf (type_a, sizeof type_a, "bulka%d.recorded", (int) getpid ());
    snprintf (type_b, sizeof type_b, "bulkb%d.recorded", (int) getpid ());
    hk_event_stream (type_a, stream_a, sizeof stream_a);
    hk_event_stream (type_b, stream_b, sizeof stream_b);
    enum { N = 7 };
    Huikuan__V1__InvoiceSettled msgs[N];
    hk_event_t evs[N];
    char ids[N][16];
    /* types a a a b b a a, the last at another time: rows of 3, 2, 1 and 1 events */
    const int kind[N] = { 0, 0, 0, 1, 1, 0, 0 };
    for (int i = 0; i < N; i++) {
        snprintf (ids[i], sizeof ids[i], "I%d", i + 1);
        huikuan__v1__invoice_settled__init (&msgs[i]);
        msgs[i].invoice_id = ids[i];
        evs[i] = (hk_event_t) { .type = kind[i] ? type_b : type_a, .tenant = "t",
                                .aggregate_id = ids[i], .occurred_at_us = i < 6 ? 1000 : 2000,
                                .payload = &msgs[i].base };
    }
    hk_copy_buf_t buf = { 0 };
    CHECK_INT (hk_outbox_send_batch (db, producer, evs, N, &buf), HK_EINVAL); /* no transaction */
    CHECK_INT (hk_db_begin (db), 0);
    CHECK_INT (hk_outbox_send_batch (db, producer, evs, N, &buf), 0);
    CHECK_INT (hk_outbox_append (db, producer, &evs[0], NULL, NULL), 0);        /* 8, plain */
    CHECK_INT (hk_db_commit (db), 0);
    free (buf.data);
    const char *pp[] = { producer };
    CHECK_STR (hk_test_value (db, "SELECT string_agg (seq || ':' || events, ',' ORDER BY seq)"
                                   " FROM outbox_row WHERE producer = $1", 1, pp),
               "3:3,5:2,6:1,7:1,8:1");
    PGresult *res = hk_db_query_bin (db,
                                     "SELECT seq, aggregate_id, type, event_id, envelope"
                                     " FROM event_outbox WHERE producer = $1 ORDER BY seq",
                                     1, pp, NULL, NULL, 0);
    CHECK (res && PQntuples (res) == N + 1);
    for (int i = 0; res && i < PQntuples (res); i++) {
        CHECK_INT (atoi (PQgetvalue (res, i, 0)), i + 1);
        CHECK_STR (PQgetvalue (res, i, 1), ids[i % N]);
        CHECK_STR (PQgetvalue (res, i, 2), kind[i % N] ? type_b : type_a);
        size_t len = 0;
        unsigned char *bytes = PQunescapeBytea ((const unsigned char *) PQgetvalue (res, i, 4),
                                                &len);
        Huikuan__V1__Envelope *env = hk_envelope_unpack (bytes, len);
        CHECK (env && env->sequence == (uint64_t) (i + 1));
        CHECK (env && strcmp (env->event_id, PQgetvalue (res, i, 3)) == 0);
        CHECK (env && strcmp (env->aggregate_id, ids[i % N]) == 0);
        hk_envelope_destroy (&env);
        PQfreemem (bytes);
    }
    PQclear (res);
    /* a row whose count disagrees with its arrays is refused */
    CHECK_INT (hk_db_exec (db, "UPDATE outbox_row SET events = 4 WHERE producer = $1 AND seq = 3",
                           1, pp),
               HK_EDB);
    CHECK_STR (hk_db_sqlstate (db), "23514");

    hk_redis_t *redis = hk_redis_new (redis_url);
    CHECK_INT (hk_redis_connect (redis), 0);
    CHECK_INT (hk_outbox_relay (db, producer, NULL, redis, 2), 2);  /* 1, 2: inside the first row */
    CHECK_INT (hk_outbox_relay (db, producer, NULL, redis, 2), 2);  /* 3, 4 */
    CHECK_INT (hk_outbox_relay (db, producer, NULL, redis, 10), 4); /* 5 .. 8 */
    CHECK_INT (hk_outbox_relay (db, producer, NULL, redis, 10), 0);
    CHECK_STR (hk_test_value (db, "SELECT published_seq FROM producer_sequence"
                                   " WHERE producer = $1", 1, pp), "8");
    const char *streams[] = { stream_a, stream_b };
    const char *want[] = { "I1,I2,I3,I6,I7,I1,", "I4,I5," };
    for (int k = 0; k < 2; k++) {
        hk_queue_t *q = hk_queue_new (redis, streams[k], "unit", "c1", 60000);
        hk_queue_msg_t got[16];
        int n = hk_queue_read (q, got, 16, 0);
        char seen[128] = "";
        uint64_t prev = 0;
        for (int i = 0; i < n; i++) {
            Huikuan__V1__Envelope *env = hk_envelope_unpack (got[i].data, got[i].len);
            CHECK (env && env->sequence > prev);
            if (env) {
                prev = env->sequence;
                strncat (seen, env->aggregate_id, sizeof seen - strlen (seen) - 2);
                strcat (seen, ",");
            }
            hk_envelope_destroy (&env);
        }
        CHECK_STR (seen, want[k]);
        hk_queue_batch_clear (got, n);
        hk_queue_destroy (&q);
        redisReply *reply = hk_redis_cmdf (redis, "DEL %s", streams[k]);
        if (reply)
            freeReplyObject (reply);
    }
    hk_redis_destroy (&redis);
    hk_db_destroy (&db);
    CHECK (hk_test_db_drop (admin, name) >= 0);
    return failures;
}

int
hk_event_test (bool verbose)
{
    const char *redis_env = hk_test_need ("event", "REDIS_URL");
    if (!redis_env)
        return 1;
    char redis_url[512];
    snprintf (redis_url, sizeof redis_url, "%s", redis_env);
    hk_db_t *admin = hk_test_admin ("event");
    if (!admin)
        return 1;
    int failures = s_test_envelope (verbose);

    char name[64];
    hk_db_t *db = hk_test_db_fresh (admin, "unit_event", name, sizeof name);
    CHECK (db);
    if (db)
        failures += s_test_outbox (db, redis_url, verbose) + s_test_batch (db);
    hk_db_destroy (&db);
    failures += s_test_kept (admin, redis_url);
    failures += s_test_bulk (admin, redis_url);
    CHECK (hk_test_db_drop (admin, name) >= 0);
    hk_db_destroy (&admin);
    return failures;
}
