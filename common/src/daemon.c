/* daemon: the scaffold every huikuan daemon runs in. See daemon.h. */
#include "huikuan/daemon.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "huikuan/log.h"
#include "huikuan/metrics.h"
#include "huikuan/migrate.h"
#include "huikuan/retention.h"

#define HK_MAX_CONSUMED 16
#define HK_BATCH 512 /* entries read from a stream a turn, applied in one transaction */
#define HK_MAX_DELIVERIES 5
#define HK_RELAY_BATCH 2000 /* outbox events published per relay (one pipelined push) */
#define HK_RELAY_TURNS 16    /* relays per turn of the loop while each finds a full batch */

static volatile sig_atomic_t s_stop;
static volatile sig_atomic_t s_reload;

/* Read by the HTTP thread for /readyz. */
static atomic_bool s_db_ready;
static atomic_bool s_redis_ready;
static atomic_bool s_started;

static hk_metric_t *s_m_consumed, *s_m_duplicates, *s_m_malformed, *s_m_parked,
    *s_m_published, *s_m_ticks, *s_m_errors, *s_m_removed, *s_m_other_tenant;

static void
s_on_signal (int sig)
{
    if (sig == SIGHUP)
        s_reload = 1;
    else
        s_stop = 1;
}

static bool
s_ready (void *arg, char *why, size_t len)
{
    (void) arg;
    if (!atomic_load (&s_started)) {
        snprintf (why, len, "starting");
        return false;
    }
    if (!atomic_load (&s_db_ready)) {
        snprintf (why, len, "postgresql unreachable");
        return false;
    }
    if (!atomic_load (&s_redis_ready)) {
        snprintf (why, len, "redis unreachable");
        return false;
    }
    return true;
}

static void
s_usage (const hk_daemon_def_t *def, hk_config_t *cfg, FILE *out)
{
    char upper[32];
    size_t i = 0;
    for (; def->kind[i] && i < sizeof upper - 1; i++)
        upper[i] = (char) toupper ((unsigned char) def->kind[i]);
    upper[i] = 0;
    fprintf (out,
             "usage: huikuan-%s [--config FILE] [--show-config] [--help] [--version]\n"
             "%s\n\n"
             "Configuration: table below; file first, then environment HUIKUAN_%s_<KEY>\n"
             "(or HUIKUAN_<KEY> for keys every daemon shares). SIGHUP reloads, SIGTERM stops.\n\n",
             def->kind, def->summary, upper);
    if (cfg)
        hk_config_help (cfg, out);
}

static void
s_sleep_us (int64_t us)
{
    struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
    while (nanosleep (&ts, &ts) == -1 && errno == EINTR && !s_stop)
        ;
}

int
hk_daemon_today (hk_daemon_t *d, int32_t *date, char *text, size_t len)
{
    hk_local_t local;
    if (hk_tz_local (d->tenant_tz, hk_clock_now (d->clock), &local) != 0)
        return HK_EINVAL;
    *date = local.date;
    if (text)
        hk_date_format (local.date, text, len);
    return 0;
}

int
hk_daemon_emit (hk_daemon_t *d, const char *type, const char *aggregate_id,
                const char *trace_id, const ProtobufCMessage *payload)
{
    hk_event_t ev = {
        .type = type,
        .tenant = d->tenant,
        .aggregate_id = aggregate_id,
        .trace_id = trace_id,
        .occurred_at_us = hk_clock_now (d->clock),
        .payload = payload,
    };
    return hk_outbox_append (d->db, d->instance, &ev, NULL, NULL);
}

/* Registers the instance and its endpoints so subscribers and operators can find it. */
static int
s_announce (hk_daemon_t *d)
{
    char host[128] = "", pid[16], http[300] = "", bus[300] = "";
    gethostname (host, sizeof host - 1);
    snprintf (pid, sizeof pid, "%d", (int) getpid ());
    /* a wildcard bind is announced under the name others reach this host by (promise 8) */
    const char *advertise = hk_config_str (d->config, "advertise_host");
    if (!*advertise)
        advertise = *host ? host : "localhost";
    if (d->http) {
        const char *listen = hk_config_str (d->config, "http_listen");
        const char *colon = strrchr (listen, ':');
        int hostlen = colon ? (int) (colon - listen) : (int) strlen (listen);
        char bound[200];
        snprintf (bound, sizeof bound, "http://%.*s:%d", hostlen, listen, hk_http_port (d->http));
        if (hk_endpoint_advertised (bound, advertise, http, sizeof http) != 0)
            snprintf (http, sizeof http, "%s", bound);
    }
    if (d->pub && hk_endpoint_advertised (hk_bus_pub_endpoint (d->pub), advertise, bus,
                                          sizeof bus)
                      != 0)
        snprintf (bus, sizeof bus, "%s", hk_bus_pub_endpoint (d->pub));
    const char *params[] = { d->instance, d->kind, host, pid, *bus ? bus : NULL,
                             *http ? http : NULL, d->tenant };
    return hk_db_exec (d->db,
                       "INSERT INTO fleet_instance (instance, kind, host, pid, bus_endpoint,"
                       " http_endpoint, tenant) VALUES ($1, $2, $3, $4::int, $5, $6, $7)"
                       " ON CONFLICT (instance) DO UPDATE SET kind = $2, host = $3, pid = $4::int,"
                       " bus_endpoint = $5, http_endpoint = $6, tenant = $7, started_at = now(),"
                       " heartbeat_at = now()",
                       7, params)
                   < 0
               ? HK_EDB
               : 0;
}

/* Unpacks a consumed message. A malformed one is dropped and one delivered too often is
 * parked on hk:dead; both are acknowledged and NULL is returned. */
static Huikuan__V1__Envelope *
s_screen (hk_daemon_t *d, hk_queue_t *q, hk_queue_msg_t *msg)
{
    Huikuan__V1__Envelope *env = hk_envelope_unpack (msg->data, msg->len);
    if (!env) {
        HK_LOG (HK_WARN, "event.malformed", HK_S ("entry", msg->id), HK_I ("bytes", msg->len));
        hk_metric_add (s_m_malformed, 1);
        hk_queue_ack (q, msg->id);
        return NULL;
    }
    if (msg->deliveries > HK_MAX_DELIVERIES) {
        HK_LOG (HK_ERROR, "event.parked", HK_S ("event_id", env->event_id),
                HK_S ("type", env->type), HK_I ("deliveries", msg->deliveries));
        hk_stream_add (d->redis, "hk:dead", msg->data, msg->len, NULL, 0);
        hk_metric_add (s_m_parked, 1);
        hk_queue_ack (q, msg->id);
        hk_envelope_destroy (&env);
        return NULL;
    }
    return env;
}

/* A consumed stream's group lost with Redis's data, not yet made up for (on_stream_loss). */
static bool s_loss_pending;

/* Whether a stream loss waits for on_stream_loss: a queue made its group since the last turn
 * (made[] holds the counts seen) although this kind has consumed events before (a fresh
 * install makes every group once and has consumed nothing). */
static bool
s_stream_lost (hk_daemon_t *d, hk_queue_t **queues, int n, int64_t *made)
{
    int grew = -1;
    for (int i = 0; i < n; i++) {
        int64_t now = hk_queue_groups_made (queues[i]);
        if (now != made[i] && grew < 0)
            grew = i;
        made[i] = now;
    }
    if (grew >= 0 && !s_loss_pending) {
        const char *p[] = { d->kind };
        PGresult *res = hk_db_query (d->db,
                                     "SELECT EXISTS (SELECT 1 FROM consumed_event"
                                     " WHERE consumer = $1)",
                                     1, p);
        s_loss_pending = res && PQgetvalue (res, 0, 0)[0] == 't';
        PQclear (res);
        if (s_loss_pending)
            HK_LOG (HK_WARN, "event.stream_lost",
                    HK_S ("stream", hk_queue_stream (queues[grew])));
    }
    return s_loss_pending;
}

/* Applies one consumed message on its own: dedupe on event id, then the daemon's handler, in
 * one transaction; acknowledged only after commit (promise 1). */
static void
s_apply_one (hk_daemon_t *d, const hk_daemon_def_t *def, hk_queue_t *q, hk_queue_msg_t *msg,
             const Huikuan__V1__Envelope *env)
{
    if (hk_db_begin (d->db) < 0)
        return; /* stays pending; read again */
    const char *params[] = { d->kind, env->event_id };
    int inserted = hk_db_exec (d->db,
                               "INSERT INTO consumed_event (consumer, event_id) VALUES ($1, $2)"
                               " ON CONFLICT DO NOTHING",
                               2, params);
    int rc = inserted;
    if (inserted == 1)
        rc = def->on_event ? def->on_event (d, env) : 0;
    if (rc >= 0 && hk_db_commit (d->db) == 0) {
        hk_queue_ack (q, msg->id);
        hk_metric_add (inserted == 1 ? s_m_consumed : s_m_duplicates, 1);
    }
    else {
        hk_db_rollback (d->db);
        hk_metric_add (s_m_errors, 1);
        HK_LOG (HK_WARN, "event.retry", HK_S ("event_id", env->event_id),
                HK_S ("type", env->type), HK_S ("error", hk_db_errstr (d->db)));
    }
}

/* Applies m messages of one stream (already screened, in stream order) in one transaction:
 * one INSERT records them all as consumed by this kind and tells which are new (an event
 * already consumed, or twice in the batch, is applied once), then the handler runs on the new
 * ones in order; all are acknowledged after the commit. When anything fails the transaction
 * is rolled back and each message is applied on its own (s_apply_one), so a failing event
 * neither loses nor blocks the others; it alone is delivered again. */
static void
s_apply_batch (hk_daemon_t *d, const hk_daemon_def_t *def, hk_queue_t *q,
               hk_queue_msg_t *const *msgs, Huikuan__V1__Envelope *const *envs, int m)
{
    if (m == 1) {
        s_apply_one (d, def, q, msgs[0], envs[0]);
        return;
    }
    hk_pgarr_t ids = { 0 };
    for (int k = 0; k < m; k++)
        hk_pgarr_text (&ids, envs[k]->event_id);
    char *ids_lit = hk_pgarr_finish (&ids);
    const Huikuan__V1__Envelope *fresh[HK_BATCH];
    int nfresh = 0;
    int rc = ids_lit ? hk_db_begin (d->db) : HK_ENOMEM;
    if (rc == 0) {
        /* the positions (1-based) of the first occurrence of each event newly recorded */
        const char *params[] = { d->kind, ids_lit };
        PGresult *res = hk_db_query (
            d->db,
            "WITH ins AS (INSERT INTO consumed_event (consumer, event_id)"
            "   SELECT $1, e FROM unnest ($2::uuid[]) AS e ON CONFLICT DO NOTHING"
            "   RETURNING event_id)"
            " SELECT min (u.k) FROM unnest ($2::uuid[]) WITH ORDINALITY AS u (e, k)"
            " JOIN ins ON ins.event_id = u.e GROUP BY u.e ORDER BY 1",
            2, params);
        if (!res)
            rc = HK_EDB;
        for (int r = 0; res && r < PQntuples (res); r++) {
            int k = atoi (PQgetvalue (res, r, 0)) - 1;
            if (k >= 0 && k < m)
                fresh[nfresh++] = envs[k];
        }
        PQclear (res);
    }
    free (ids_lit);
    if (rc == 0 && nfresh > 0) {
        if (def->on_events)
            rc = def->on_events (d, fresh, nfresh);
        else
            for (int k = 0; k < nfresh && rc >= 0; k++)
                rc = def->on_event ? def->on_event (d, fresh[k]) : 0;
    }
    if (rc >= 0 && hk_db_commit (d->db) == 0) {
        const char *acks[HK_BATCH];
        for (int k = 0; k < m; k++)
            acks[k] = msgs[k]->id;
        hk_queue_ack_many (q, acks, m); /* one round trip; lost, they are recorded consumed */
        hk_metric_add (s_m_consumed, nfresh);
        hk_metric_add (s_m_duplicates, m - nfresh);
        return;
    }
    hk_db_rollback (d->db);
    HK_LOG (HK_INFO, "event.batch_split", HK_S ("type", envs[0]->type), HK_I ("events", m),
            HK_S ("error", rc == HK_ENOMEM ? "out of memory" : hk_db_errstr (d->db)));
    for (int k = 0; k < m; k++)
        s_apply_one (d, def, q, msgs[k], envs[k]);
}

/* Consumes the n messages of one read in stream order: first deliveries are applied together
 * (s_apply_batch); a message delivered before (its earlier try failed or its consumer died)
 * is applied on its own, in its place, so a poisoned event does not sink a batch again. */
static void
s_consume (hk_daemon_t *d, const hk_daemon_def_t *def, hk_queue_t *q, hk_queue_msg_t *msgs,
           int n)
{
    hk_queue_msg_t *bm[HK_BATCH];
    Huikuan__V1__Envelope *envs[HK_BATCH];
    int m = 0;
    for (int i = 0; i < n && i < HK_BATCH; i++) {
        Huikuan__V1__Envelope *env = s_screen (d, q, &msgs[i]);
        if (!env)
            continue;
        if (*env->tenant && strcmp (env->tenant, d->tenant) != 0) {
            /* another tenant's: its own instances read it in their group (hk_tenant_name) */
            hk_queue_ack (q, msgs[i].id);
            hk_metric_add (s_m_other_tenant, 1);
            hk_envelope_destroy (&env);
            continue;
        }
        if (msgs[i].deliveries <= 1) {
            bm[m] = &msgs[i];
            envs[m++] = env;
            continue;
        }
        if (m > 0)
            s_apply_batch (d, def, q, bm, envs, m);
        for (int k = 0; k < m; k++)
            hk_envelope_destroy (&envs[k]);
        m = 0;
        s_apply_one (d, def, q, &msgs[i], env);
        hk_envelope_destroy (&env);
    }
    if (m > 0)
        s_apply_batch (d, def, q, bm, envs, m);
    for (int k = 0; k < m; k++)
        hk_envelope_destroy (&envs[k]);
}

const char *
hk_daemon_group (const char *kind, const char *tenant, char *buf, size_t len)
{
    return hk_tenant_name (kind, tenant, buf, len);
}

hk_queue_t *
hk_daemon_own_queue (hk_daemon_t *d, const char *stream, const char *legacy)
{
    char group[160];
    if (!hk_daemon_group (d->kind, d->tenant, group, sizeof group))
        return NULL;
    hk_queue_t *q = hk_queue_new (d->redis, stream, group, d->instance,
                                  hk_config_int (d->config, "claim_idle") / 1000);
    if (q && legacy && strcmp (legacy, group) != 0) {
        const char *argv[] = { "XGROUP", "DESTROY", stream, legacy };
        redisReply *reply = hk_redis_cmd (d->redis, 4, argv, NULL);
        if (reply)
            freeReplyObject (reply);
    }
    d->own_queue = q;
    return q;
}

/* A turn did no work: waits up to us for a new entry on the consumed streams and the
 * daemon's own queue at once (one blocking read), and applies or hands over what came
 * (at most one entry a stream; the next turn reads the rest in batches). Returns entries
 * taken, or negative when there is nothing to wait on or the read failed (the loop then
 * sleeps the tick, as without it). */
static int
s_wait (hk_daemon_t *d, const hk_daemon_def_t *def, hk_queue_t *const *queues, int nqueues,
        int64_t us)
{
    hk_queue_t *all[HK_MAX_CONSUMED + 1];
    int n = 0;
    for (int i = 0; i < nqueues; i++)
        all[n++] = queues[i];
    if (d->own_queue && def->on_own)
        all[n++] = d->own_queue;
    if (n == 0)
        return HK_EINVAL;
    hk_queue_msg_t msgs[HK_MAX_CONSUMED + 1];
    int which[HK_MAX_CONSUMED + 1];
    int got = hk_queue_read_any (all, n, msgs, which, us >= 2000 ? (int) (us / 1000) : 1);
    /* the clock may have moved while the read waited (an operator's or a test's hkctl clock
     * set just before the event it wrote): what arrived is applied by the clock of now */
    if (got > 0 && hk_clock_refresh (d->clock, d->db) != 0)
        hk_db_connect (d->db);
    for (int k = 0; k < got; k++) {
        if (which[k] < nqueues) {
            if (!s_stop)
                s_consume (d, def, all[which[k]], &msgs[k], 1);
            hk_queue_batch_clear (&msgs[k], 1);
        }
        else
            def->on_own (d, &msgs[k]);
    }
    return got;
}

/* Producers adopted from instances that are gone (s_adopt), relayed with this instance's own
 * until they have nothing left. */
#define HK_ADOPTED_MAX 8
#define S_STR_(x) #x
#define S_STR(x) S_STR_ (x)
static char s_adopted[HK_ADOPTED_MAX][160];
static int s_nadopted;

/* Promise 1 for an instance that died between a commit and its relay: instance names default
 * to <kind>-<host>-<pid>, so it never comes back as the same producer, and its committed
 * events would stay unpublished, never reaching the consumers. With the fleet's housekeeping
 * turn, the producers with events left to publish whose instance (the part before a '/': a
 * second lane's producer is "<instance>/lane2") has not beaten within the live window are
 * adopted: relayed here each turn until they have nothing left. Two relays of one producer
 * never overlap (its cursor row is locked, the other skips), and consumers deduplicate, so
 * adopting an instance that was only slow to beat publishes nothing twice that matters. */
static void
s_adopt (hk_daemon_t *d)
{
    const char *p[] = { d->instance };
    PGresult *res = hk_db_query (
        d->db,
        "SELECT s.producer, s.last_seq - s.published_seq FROM producer_sequence s"
        " WHERE s.published_seq < s.last_seq AND split_part (s.producer, '/', 1) <> $1"
        " AND NOT EXISTS (SELECT 1 FROM fleet_instance f"
        "  WHERE f.instance = split_part (s.producer, '/', 1) AND f." HK_INSTANCE_LIVE ")"
        " ORDER BY s.producer LIMIT " S_STR (HK_ADOPTED_MAX),
        1, p);
    for (int i = 0; res && i < PQntuples (res) && s_nadopted < HK_ADOPTED_MAX; i++) {
        const char *producer = PQgetvalue (res, i, 0);
        bool known = strlen (producer) >= sizeof s_adopted[0];
        for (int k = 0; k < s_nadopted && !known; k++)
            known = strcmp (s_adopted[k], producer) == 0;
        if (known)
            continue;
        snprintf (s_adopted[s_nadopted++], sizeof s_adopted[0], "%s", producer);
        HK_LOG (HK_WARN, "outbox.adopted", HK_S ("producer", producer),
                HK_I ("unpublished", strtoll (PQgetvalue (res, i, 1), NULL, 10)));
    }
    if (!res)
        HK_LOG (HK_WARN, "outbox.adopt_failed", HK_S ("error", hk_db_errstr (d->db)));
    PQclear (res);
}

/* Retention (retention.h), when this instance has the fleet's turn for the interval. */
static void
s_housekeeping (hk_daemon_t *d, int64_t interval_us)
{
    int turn = hk_retention_turn (d->redis, NULL, d->instance,
                                  interval_us >= 1000 ? interval_us / 1000 : 1);
    if (turn <= 0) {
        if (turn < 0)
            HK_LOG (HK_WARN, "housekeeping.failed", HK_S ("error", hk_redis_errstr (d->redis)));
        return;
    }
    hk_retention_t policy = {
        .stream_keep_ms = hk_config_int (d->config, "stream_retention") / 1000,
        .outbox_keep_us = hk_config_int (d->config, "outbox_retention"),
        .dedup_keep_us = hk_config_int (d->config, "dedup_retention"),
        .instance_expiry_us = hk_config_int (d->config, "instance_expiry"),
        .limit = 50000,
    };
    s_adopt (d);
    hk_retention_result_t out;
    int rc = hk_retention_run (d->db, d->redis, &policy, &out);
    if (rc != 0)
        HK_LOG (HK_WARN, "housekeeping.failed",
                HK_S ("error", rc == HK_EREDIS ? hk_redis_errstr (d->redis) : hk_db_errstr (d->db)));
    int64_t removed = out.stream_entries + out.outbox_rows + out.dedup_rows + out.instances;
    hk_metric_add (s_m_removed, removed);
    if (removed > 0)
        HK_LOG (HK_INFO, "housekeeping.done", HK_I ("streams", out.streams),
                HK_I ("stream_entries", out.stream_entries), HK_I ("outbox_rows", out.outbox_rows),
                HK_I ("dedup_rows", out.dedup_rows), HK_I ("instances", out.instances));
}

int
hk_daemon_main (int argc, char **argv, const hk_daemon_def_t *def)
{
    const char *config_file = NULL;
    bool show_config = false, help = false;
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "show-config", no_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },         { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long (argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_file = optarg; break;
        case 's': show_config = true; break;
        case 'h': help = true; break;
        case 'V': printf ("huikuan-%s 0.1.0\n", def->kind); return 0;
        default: s_usage (def, NULL, stderr); return 2;
        }
    }
    const hk_cfg_entry_t *const tables[] = { hk_config_common, def->config, NULL };
    hk_daemon_t daemon = { .kind = def->kind };
    hk_daemon_t *d = &daemon;
    d->config = hk_config_new (def->kind, tables);
    if (!d->config)
        return 1;
    if (help) {
        s_usage (def, d->config, stdout);
        hk_config_destroy (&d->config);
        return 0;
    }
    char err[512] = "";
    if (hk_config_load (d->config, config_file, err, sizeof err) != 0) {
        fprintf (stderr, "huikuan-%s: configuration: %s\n", def->kind, err);
        hk_config_destroy (&d->config);
        return 2;
    }
    if (show_config) {
        hk_config_dump (d->config, stdout);
        hk_config_destroy (&d->config);
        return 0;
    }
    hk_log_level_t level = HK_INFO;
    hk_log_level_parse (hk_config_str (d->config, "log_level"), &level);
    hk_log_init (def->kind, level,
                 strcmp (hk_config_str (d->config, "log_format"), "json") == 0);

    const char *instance = hk_config_str (d->config, "instance");
    if (*instance)
        snprintf (d->instance, sizeof d->instance, "%s", instance);
    else {
        char host[64] = "";
        gethostname (host, sizeof host - 1);
        snprintf (d->instance, sizeof d->instance, "%s-%s-%d", def->kind, host, (int) getpid ());
    }
    d->tenant = hk_config_str (d->config, "tenant");
    d->tenant_tz = hk_config_str (d->config, "tenant_time_zone");
    hk_metrics_set_labels (def->kind, d->instance);
    s_m_consumed = hk_metric_counter ("hk_events_consumed_total", "Events applied from streams");
    s_m_duplicates = hk_metric_counter ("hk_events_duplicate_total",
                                        "Events already applied, skipped");
    s_m_malformed = hk_metric_counter ("hk_events_malformed_total",
                                       "Malformed messages dropped");
    s_m_parked = hk_metric_counter ("hk_events_parked_total",
                                    "Events parked after repeated failures");
    s_m_published = hk_metric_counter ("hk_events_published_total", "Outbox events published");
    s_m_ticks = hk_metric_counter ("hk_loop_ticks_total", "Main loop iterations");
    s_m_errors = hk_metric_counter ("hk_errors_total", "Errors in the main loop");
    s_m_other_tenant = hk_metric_counter ("hk_events_other_tenant_total",
                                          "Events of another tenant, left to its instances");
    s_m_removed = hk_metric_counter ("hk_retention_removed_total",
                                     "Stream entries and rows removed by housekeeping");

    struct sigaction sa = { .sa_handler = s_on_signal };
    sigemptyset (&sa.sa_mask);
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGHUP, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);

    int exit_code = 1;
    hk_queue_t *queues[HK_MAX_CONSUMED] = { 0 };
    int64_t groups_made[HK_MAX_CONSUMED] = { 0 };
    int nqueues = 0;
    bool inited = false;

    /* The HTTP endpoint comes first so /healthz answers while we wait for servers. */
    d->http = hk_http_start (hk_config_str (d->config, "http_listen"), s_ready, d, err,
                             sizeof err);
    if (!d->http && *err) {
        HK_LOG (HK_ERROR, "http.failed", HK_S ("error", err));
        goto done;
    }
    d->clock = hk_clock_new ();
    d->db = hk_db_new (hk_config_str (d->config, "database_url"));
    d->redis = hk_redis_new (hk_config_str (d->config, "redis_url"));
    if (!d->clock || !d->db || !d->redis)
        goto done;
    HK_LOG (HK_INFO, "starting", HK_S ("instance", d->instance));
    while (!s_stop && hk_db_connect_wait (d->db, 1000) != 0)
        HK_LOG (HK_WARN, "postgresql.waiting", HK_S ("error", hk_db_errstr (d->db)));
    if (s_stop)
        goto done;
    if (hk_config_bool (d->config, "migrate_on_start")) {
        int applied = hk_migrate (d->db);
        if (applied < 0) {
            HK_LOG (HK_ERROR, "migrate.failed", HK_S ("error", hk_db_errstr (d->db)));
            goto done;
        }
        if (applied > 0)
            HK_LOG (HK_INFO, "migrate.applied", HK_I ("count", applied));
    }
    hk_clock_refresh (d->clock, d->db);
    while (!s_stop && hk_redis_connect (d->redis) != 0) {
        HK_LOG (HK_WARN, "redis.waiting", HK_S ("error", hk_redis_errstr (d->redis)));
        s_sleep_us (1000000);
    }
    if (s_stop)
        goto done;
    d->pub = hk_bus_pub_new (hk_config_str (d->config, "bus_bind"), err, sizeof err);
    if (!d->pub) {
        HK_LOG (HK_ERROR, "bus.failed", HK_S ("error", err));
        goto done;
    }
    /* the consumer group: the kind, the tenant's own for a tenant other than "default"
     * ("aging@acme"); each tenant's group sees every event and applies its own tenant's, so
     * none is applied by another tenant's instance or lost to it */
    char group[160];
    hk_daemon_group (d->kind, d->tenant, group, sizeof group);
    if (def->consumes)
        for (const char *const *t = def->consumes; *t && nqueues < HK_MAX_CONSUMED; t++) {
            char stream[128];
            queues[nqueues++] = hk_queue_new (d->redis, hk_event_stream (*t, stream, sizeof stream),
                                              group, d->instance,
                                              hk_config_int (d->config, "claim_idle") / 1000);
        }
    if (def->init && def->init (d) != 0) {
        HK_LOG (HK_ERROR, "init.failed");
        goto done;
    }
    inited = true;
    if (s_announce (d) != 0) {
        HK_LOG (HK_ERROR, "announce.failed", HK_S ("error", hk_db_errstr (d->db)));
        goto done;
    }
    atomic_store (&s_db_ready, true);
    atomic_store (&s_redis_ready, true);
    atomic_store (&s_started, true);
    HK_LOG (HK_INFO, "ready", HK_S ("instance", d->instance),
            HK_S ("bus", hk_bus_pub_endpoint (d->pub)),
            HK_I ("http_port", d->http ? hk_http_port (d->http) : 0));

    int64_t tick_us = hk_config_int (d->config, "tick");
    int64_t stats_us = hk_config_int (d->config, "stats_period");
    int64_t house_us = hk_config_int (d->config, "housekeeping_interval");
    int64_t last_beat = hk_time_system_us (), last_stats = last_beat, last_house = last_beat;
    while (!s_stop) {
        if (s_reload) {
            s_reload = 0;
            int changed = hk_config_reload (d->config, err, sizeof err);
            if (changed < 0)
                HK_LOG (HK_WARN, "reload.failed", HK_S ("error", err));
            else {
                hk_log_level_parse (hk_config_str (d->config, "log_level"), &level);
                hk_log_init (def->kind, level,
                             strcmp (hk_config_str (d->config, "log_format"), "json") == 0);
                tick_us = hk_config_int (d->config, "tick");
                stats_us = hk_config_int (d->config, "stats_period");
                house_us = hk_config_int (d->config, "housekeeping_interval");
                HK_LOG (HK_INFO, "reloaded", HK_I ("changed", changed));
            }
        }
        hk_metric_add (s_m_ticks, 1);
        int work = 0;
        if (hk_clock_refresh (d->clock, d->db) != 0)
            hk_db_connect (d->db);
        atomic_store (&s_db_ready, hk_db_ok (d->db));
        /* up to HK_RELAY_TURNS full batches a turn: a dispatch slice (7,500 events) or a
         * chunk of aging's first aging (about 5,000) make more than one batch, and a relay that
         * fell behind its own work stops keeping envelopes past the kept limit and reads
         * every one back from then on (aging's run read back 1.3M: 16 s of the server) */
        for (int p = 0; p < 2 + s_nadopted; p++) {
            const char *producer = p == 0 ? d->instance : p == 1 ? d->producer2 : s_adopted[p - 2];
            int published = HK_RELAY_BATCH;
            for (int k = 0; *producer && k < HK_RELAY_TURNS && published == HK_RELAY_BATCH; k++) {
                published = hk_outbox_relay (d->db, producer, d->pub, d->redis, HK_RELAY_BATCH);
                if (published > 0) {
                    hk_metric_add (s_m_published, published);
                    work += published;
                }
            }
            if (p >= 2 && published != HK_RELAY_BATCH) {
                /* an adopted producer with nothing left (or relayed by another): let go */
                if (published >= 0)
                    HK_LOG (HK_INFO, "outbox.adopted_done", HK_S ("producer", producer));
                memmove (s_adopted + (p - 2), s_adopted + (p - 1),
                         (size_t) (s_nadopted - (p - 1)) * sizeof s_adopted[0]);
                s_nadopted--;
                p--;
            }
        }
        for (int i = 0; i < nqueues; i++) {
            hk_queue_msg_t msgs[HK_BATCH];
            int n = hk_queue_read (queues[i], msgs, HK_BATCH, 0);
            atomic_store (&s_redis_ready, n >= 0 && hk_redis_ok (d->redis));
            if (n > 0 && !s_stop)
                s_consume (d, def, queues[i], msgs, n);
            if (n > 0) {
                hk_queue_batch_clear (msgs, n);
                work += n;
            }
        }
        if (def->on_stream_loss && s_stream_lost (d, queues, nqueues, groups_made)) {
            if (def->on_stream_loss (d) == 0)
                s_loss_pending = false;
            else
                hk_metric_add (s_m_errors, 1);
        }
        if (def->on_tick) {
            int done = def->on_tick (d);
            if (done > 0)
                work += done;
            else if (done < 0)
                hk_metric_add (s_m_errors, 1);
        }
        int64_t wall = hk_time_system_us ();
        if (wall - last_beat > 5 * HK_US_PER_SEC) {
            const char *params[] = { d->instance };
            if (hk_db_exec (d->db,
                            "UPDATE fleet_instance SET heartbeat_at = now() WHERE instance = $1",
                            1, params)
                == 0)
                s_announce (d); /* row gone (cleanup by an operator): announce again */
            last_beat = wall;
        }
        if (house_us > 0 && wall - last_house >= house_us) {
            s_housekeeping (d, house_us);
            last_house = wall;
        }
        if (wall - last_stats > stats_us) {
            hk_metrics_log_summary ();
            last_stats = wall;
        }
        if (work == 0 && !s_stop && s_wait (d, def, queues, nqueues, tick_us) < 0)
            s_sleep_us (tick_us);
    }
    /* Publish what this instance committed before leaving. */
    hk_outbox_relay (d->db, d->instance, d->pub, d->redis, 10000);
    if (*d->producer2)
        hk_outbox_relay (d->db, d->producer2, d->pub, d->redis, 10000);
    exit_code = 0;
    HK_LOG (HK_INFO, "stopping", HK_S ("instance", d->instance));

done:
    if (inited && def->fini)
        def->fini (d);
    if (d->db && hk_db_ok (d->db)) {
        const char *params[] = { d->instance };
        hk_db_exec (d->db, "DELETE FROM fleet_instance WHERE instance = $1", 1, params);
    }
    for (int i = 0; i < nqueues; i++)
        hk_queue_destroy (&queues[i]);
    hk_http_stop (&d->http);
    hk_bus_pub_destroy (&d->pub);
    hk_redis_destroy (&d->redis);
    hk_db_destroy (&d->db);
    hk_clock_destroy (&d->clock);
    hk_config_destroy (&d->config);
    hk_metrics_reset ();
    return exit_code;
}
