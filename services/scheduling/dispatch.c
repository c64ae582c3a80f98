/* dispatch: due contacts pass the caps and go to the channel queues, once each; promises are
 * checked at their time plus grace (R-C5).
 *
 * Caps (R-C2, ARCHITECTURE promise 3) are decided from the contact log in PostgreSQL under a
 * transaction-scoped advisory lock per debtor, so two scheduler instances serialise on a debtor
 * and the second sees what the first dispatched. Redis holds fast per-debtor day counters,
 * bumped after each commit: a counter already at the cap defers without asking PostgreSQL,
 * and a counter lost with a Redis restart only costs that shortcut, never a cap. Quiet hours
 * (22:00-08:00 local) are a hard floor checked here whatever the plan said. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "huikuan/dates.h"
#include "huikuan/digest.h"
#include "huikuan/errcodes.h"
#include "huikuan/log.h"
#include "huikuan/metrics.h"
#include "sched.h"

enum { D_ID, D_CHANNEL, D_DEBTOR, D_INVOICE, D_STEP, D_KIND, D_DUE, D_ZONE, D_CAL, D_STOP };

/* Per debtor of a batch: counts from the log (then as the batch dispatches). */
typedef struct {
    const char *debtor;
    const char *zone;
    int32_t today;             /* local date of now */
    hk_contact_counts_t k;
    long long redis_today;     /* the fast counter, -1 when unknown */
} s_debtor_t;

/* Per debt: phone and visit contacts made (R-C2). */
typedef struct {
    const char *invoice;
    int phones, visits;
} s_debt_t;

static int
s_cmp_str (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The batch's debtors are sorted by name (they are locked in that order): binary search. */
static int
s_cmp_debtor (const void *key, const void *elem)
{
    return strcmp ((const char *) key, ((const s_debtor_t *) elem)->debtor);
}

static s_debtor_t *
s_find_debtor (s_debtor_t *v, int n, const char *debtor)
{
    return bsearch (debtor, v, (size_t) n, sizeof *v, s_cmp_debtor);
}

/* The batch's debts: an open-addressing table over debts[] (a batch holds up to
 * dispatch_batch contacts, so a linear search would cost the square of it). */
typedef struct {
    s_debt_t *v;
    int n;             /* entries in v */
    int *slot;         /* index + 1 into v, 0 when free */
    unsigned mask;
} s_debts_t;

static int
s_debts_init (s_debts_t *t, int cap)
{
    unsigned size = sched_table_slots (cap);
    t->v = calloc ((size_t) cap, sizeof *t->v);
    t->slot = calloc (size, sizeof *t->slot);
    t->n = 0;
    t->mask = size - 1;
    return t->v && t->slot ? 0 : HK_ENOMEM;
}

static void
s_debts_free (s_debts_t *t)
{
    free (t->v);
    free (t->slot);
}

/* The debt of invoice, added when new. The table is sized for every debt of the log and of
 * the batch (s_load_counts), so it never fills. */
static s_debt_t *
s_find_debt (s_debts_t *t, const char *invoice)
{
    for (unsigned i = hk_str_hash (invoice) & t->mask;; i = (i + 1) & t->mask) {
        if (t->slot[i] == 0) {
            t->v[t->n] = (s_debt_t) { .invoice = invoice };
            t->slot[i] = ++t->n;
            return &t->v[t->n - 1];
        }
        if (strcmp (t->v[t->slot[i] - 1].invoice, invoice) == 0)
            return &t->v[t->slot[i] - 1];
    }
}

/* The fast counters of one tenant-local day: a hash, one field per debtor contacted that day
 * (a key per tenant and day, not per debtor: Redis keeps a few keys, and housekeeping's SCAN
 * stays short, however many debtors are contacted). */
static void
s_counter_key (hk_daemon_t *d, int32_t today, char *key, size_t len)
{
    char day[16];
    hk_date_format (today, day, sizeof day);
    snprintf (key, len, "hk:cap:%s:%s", d->tenant, day);
}

/* The distinct local days of the batch's debtors (a batch spans one or two: time zones). */
static int
s_days (const s_debtor_t *dv, int nd, const bool *only, int32_t *days)
{
    int n = 0;
    for (int i = 0; i < nd; i++) {
        if (only && !only[i])
            continue;
        int k = 0;
        while (k < n && days[k] != dv[i].today)
            k++;
        if (k == n)
            days[n++] = dv[i].today;
    }
    return n;
}

/* Local minute of the day of at_us in zone, -1 on an unknown zone. */
static int
s_minute (const char *zone, int64_t at_us, int32_t *date)
{
    hk_local_t l;
    if (hk_tz_local (zone, at_us, &l) != 0)
        return -1;
    if (date)
        *date = l.date;
    return l.minute_of_day;
}

/* When a contact refused by a debtor cap may be tried again. */
static int64_t
s_retry_at (const hk_caps_t *caps, const s_debtor_t *x, int64_t now)
{
    int64_t at = now + HK_US_PER_MIN;
    if (x->k.last_contact_us && x->k.last_contact_us + caps->min_gap_us > at)
        at = x->k.last_contact_us + caps->min_gap_us;
    int64_t next_day;
    if (x->k.debtor_today >= caps->max_per_debtor_day
        && hk_tz_instant (x->zone, x->today + 1, 0, &next_day) == 0 && next_day > at)
        at = next_day;
    int64_t monday;
    if (x->k.debtor_week >= caps->max_per_debtor_week
        && hk_tz_instant (x->zone, x->today + 8 - hk_date_weekday (x->today), 0, &monday) == 0
        && monday > at)
        at = monday;
    return at;
}

/* Reads the batch's debtors' counts: the fast Redis counters, then the log that decides. */
static int
s_load_counts (hk_daemon_t *d, s_debtor_t *dv, int nd, int n_contacts, s_debts_t *debts,
               PGresult **log_out)
{
    int64_t now = hk_clock_now (d->clock);
    /* Redis: one HMGET per local day; a failure only loses the shortcut */
    const char **argv = calloc ((size_t) nd + 2, sizeof *argv);
    int *idx = calloc ((size_t) nd + 1, sizeof *idx);
    int32_t *days = calloc ((size_t) nd + 1, sizeof *days);
    if (!argv || !idx || !days) {
        free (argv);
        free (idx);
        free (days);
        return HK_ENOMEM;
    }
    for (int i = 0; i < nd; i++)
        dv[i].redis_today = -1;
    int ndays = s_days (dv, nd, NULL, days);
    for (int k = 0; k < ndays; k++) {
        char key[192];
        s_counter_key (d, days[k], key, sizeof key);
        argv[0] = "HMGET";
        argv[1] = key;
        int m = 0;
        for (int i = 0; i < nd; i++)
            if (dv[i].today == days[k]) {
                idx[m] = i;
                argv[2 + m++] = dv[i].debtor;
            }
        redisReply *reply = hk_redis_cmd (d->redis, m + 2, argv, NULL);
        if (reply && reply->type == REDIS_REPLY_ARRAY && (int) reply->elements == m)
            for (int j = 0; j < m; j++)
                if (reply->element[j]->type == REDIS_REPLY_STRING)
                    dv[idx[j]].redis_today = atoll (reply->element[j]->str);
        if (reply)
            freeReplyObject (reply);
    }
    free (argv);
    free (idx);
    free (days);

    /* PostgreSQL: what was made, for these debtors */
    hk_pgarr_t list = { 0 };
    for (int i = 0; i < nd; i++)
        hk_pgarr_text (&list, dv[i].debtor);
    char *lit = hk_pgarr_finish (&list), since[40];
    if (!lit)
        return HK_ENOMEM;
    hk_time_format (now - SCHED_CAPS_LOOKBACK_US, since, sizeof since);
    const char *p[] = { d->tenant, lit, since };
    /* one index probe per debtor (LATERAL .. OFFSET 0 keeps the nested loop whatever the
     * statistics say: a contact table whose statistics predate a dispatch burst would
     * otherwise be read whole for every batch) */
    PGresult *res = hk_db_query (d->db,
                                 "SELECT u.debtor, k.invoice_id, k.step, k.at"
                                 " FROM unnest ($2::text[]) AS u (debtor),"
                                 " LATERAL (SELECT invoice_id, step,"
                                 "   (extract (epoch FROM dispatched_at) * 1000000)::bigint AS at"
                                 "  FROM contact WHERE tenant = $1 AND debtor_id = u.debtor"
                                 "   AND dispatched_at IS NOT NULL"
                                 "   AND " SCHED_FACING_SQL
                                 "   AND (dispatched_at >= $3::timestamptz"
                                 "        OR step IN ('phone', 'visit')) OFFSET 0) AS k",
                                 3, p);
    free (lit);
    if (!res)
        return HK_EDB;
    /* room for every debt of the log and of the batch */
    if (s_debts_init (debts, PQntuples (res) + n_contacts) != 0) {
        PQclear (res);
        return HK_ENOMEM;
    }
    for (int r = 0; r < PQntuples (res); r++) {
        s_debtor_t *x = s_find_debtor (dv, nd, PQgetvalue (res, r, 0));
        int64_t at = atoll (PQgetvalue (res, r, 3));
        const char *step = PQgetvalue (res, r, 2);
        if (strcmp (step, "phone") == 0 || strcmp (step, "visit") == 0) {
            s_debt_t *t = s_find_debt (debts, PQgetvalue (res, r, 1));
            t->phones += step[0] == 'p';
            t->visits += step[0] == 'v';
        }
        if (!x || at < now - SCHED_CAPS_LOOKBACK_US)
            continue;
        int32_t date;
        if (s_minute (x->zone, at, &date) < 0)
            continue;
        x->k.debtor_today += date == x->today;
        /* ISO week: the same Monday */
        x->k.debtor_week += date - (hk_date_weekday (date) - 1)
                            == x->today - (hk_date_weekday (x->today) - 1);
        if (at > x->k.last_contact_us)
            x->k.last_contact_us = at;
    }
    *log_out = res; /* the debts' invoice ids point into it */
    return 0;
}

/* HINCRBY of the day counters of the debtors this batch contacted, and a two-day expiry of
 * each day's hash. A failure is logged: the log in PostgreSQL still decides. */
static void
s_bump_counters (hk_daemon_t *d, const s_debtor_t *dv, int nd, const bool *bumped)
{
    int32_t *days = calloc ((size_t) nd + 1, sizeof *days);
    char (*keys)[192] = calloc ((size_t) nd + 1, sizeof *keys);
    const char *(*cmds)[4] = calloc ((size_t) 2 * nd + 1, sizeof *cmds);
    const char *const **list = calloc ((size_t) 2 * nd + 1, sizeof *list);
    int *argcs = calloc ((size_t) 2 * nd + 1, sizeof *argcs);
    int nb = 0;
    if (days && keys && cmds && list && argcs) {
        int ndays = s_days (dv, nd, bumped, days);
        for (int k = 0; k < ndays; k++)
            s_counter_key (d, days[k], keys[k], sizeof keys[k]);
        for (int i = 0; i < nd; i++) {
            if (!bumped[i])
                continue;
            int k = 0;
            while (days[k] != dv[i].today)
                k++;
            cmds[nb][0] = "HINCRBY";
            cmds[nb][1] = keys[k];
            cmds[nb][2] = dv[i].debtor;
            cmds[nb][3] = "1";
            argcs[nb] = 4;
            list[nb] = cmds[nb];
            nb++;
        }
        for (int k = 0; k < ndays; k++) {
            cmds[nb][0] = "EXPIRE";
            cmds[nb][1] = keys[k];
            cmds[nb][2] = "172800";
            argcs[nb] = 3;
            list[nb] = cmds[nb];
            nb++;
        }
        if (nb && hk_redis_pipeline (d->redis, nb, argcs, list, NULL) != 0)
            HK_LOG (HK_WARN, "caps.counter_failed", HK_S ("error", hk_redis_errstr (d->redis)));
    }
    free (days);
    free (keys);
    free (cmds);
    free (list);
    free (argcs);
}

typedef struct {
    hk_pgarr_t id, due, note;
    int n;
} s_defer_t;

/* The timing answers of one batch, remembered for the last calendar and zone asked (a burst
 * mostly shares both, and the time zone conversions are the costly part): whether now is an
 * allowed minute (R-S2), and the next allowed minute after the last retry time asked. */
typedef struct {
    const hk_calendar_t *cal;
    char zone[64];
    bool allowed;
    char why[200];
    const hk_calendar_t *next_cal;
    char next_zone[64];
    int64_t next_from, next_at;
} s_timing_memo_t;

static bool
s_allowed_now (hk_daemon_t *d, s_timing_memo_t *m, const hk_calendar_t *cal, const char *zone,
               int64_t now, char *why, size_t len)
{
    if (m->cal == cal && strcmp (m->zone, zone) == 0) {
        snprintf (why, len, "%s", m->why);
        return m->allowed;
    }
    bool allowed = hk_timing_allowed (cal, zone, &sched_of (d)->timing, now, why, len);
    if (strlen (zone) < sizeof m->zone) {
        m->cal = cal;
        snprintf (m->zone, sizeof m->zone, "%s", zone);
        m->allowed = allowed;
        snprintf (m->why, sizeof m->why, "%s", why);
    }
    return allowed;
}

static int64_t
s_next_allowed (hk_daemon_t *d, s_timing_memo_t *m, const hk_calendar_t *cal, const char *zone,
                int64_t from)
{
    if (m->next_cal == cal && m->next_from == from && strcmp (m->next_zone, zone) == 0)
        return m->next_at;
    hk_slot_t slot = { .at_us = from };
    (void) hk_timing_next_allowed (cal, zone, &sched_of (d)->timing, from, &slot);
    if (strlen (zone) < sizeof m->next_zone) {
        m->next_cal = cal;
        snprintf (m->next_zone, sizeof m->next_zone, "%s", zone);
        m->next_from = from;
        m->next_at = slot.at_us;
    }
    return slot.at_us;
}

void
sched_dispatch_share (hk_daemon_t *d, int64_t mono_us)
{
    sched_t *s = sched_of (d);
    if (s->share_n > 0 && mono_us - s->share_checked_us < 5 * HK_US_PER_SEC)
        return;
    s->share_checked_us = mono_us;
    const char *p[] = { d->kind, d->tenant, d->instance };
    PGresult *res = hk_db_query (d->db,
                                 "SELECT count(*), count(*) FILTER (WHERE instance < $3),"
                                 " count(*) FILTER (WHERE instance = $3)"
                                 " FROM fleet_instance WHERE kind = $1 AND tenant = $2"
                                 "  AND " HK_INSTANCE_LIVE,
                                 3, p);
    if (!res) {
        if (s->share_n == 0)
            s->share_n = 1;
        return;
    }
    int n = atoi (PQgetvalue (res, 0, 0)), k = atoi (PQgetvalue (res, 0, 1));
    bool listed = atoi (PQgetvalue (res, 0, 2)) == 1;
    PQclear (res);
    if (!listed || n < 1)
        n = 1, k = 0; /* not (yet) in the directory: every due contact is its share */
    if (n != s->share_n || k != s->share_k)
        HK_LOG (HK_INFO, "dispatch.share", HK_I ("instances", n), HK_I ("place", k));
    s->share_n = n;
    s->share_k = k;
    static hk_metric_t *m_share;
    if (!m_share)
        m_share = hk_metric_gauge ("hk_dispatch_share_instances",
                                   "Scheduler instances the due contacts are shared between");
    hk_metric_set (m_share, n);
}

int
sched_dispatch (hk_daemon_t *d, bool own_share, int *taken)
{
    sched_t *s = sched_of (d);
    char limit[16], share_n[16], share_k[16];
    if (taken)
        *taken = 0;
    own_share = own_share && s->share_n > 1;
    snprintf (limit, sizeof limit, "%lld", (long long) hk_config_int (d->config, "dispatch_batch"));
    snprintf (share_n, sizeof share_n, "%d", own_share ? s->share_n : 1);
    snprintf (share_k, sizeof share_k, "%d", own_share ? s->share_k : 0);
    int64_t now = hk_clock_now (d->clock);
    if (hk_db_begin (d->db) != 0)
        return HK_EDB;
    /* A share is a filter the planner cannot estimate (a hash of the debtor): left to itself
     * it would read and sort every due contact for each batch rather than walk the due index
     * until the batch is full. */
    if (own_share
        && hk_db_exec (d->db,
                       "SELECT set_config ('enable_seqscan', 'off', true),"
                       " set_config ('enable_bitmapscan', 'off', true)",
                       0, NULL)
               < 0) {
        hk_db_rollback (d->db);
        return HK_EDB;
    }
    const char *p[] = { d->tenant, sched_now_text (d), limit, share_n, share_k };
    /* The due contacts (of this instance's share of the debtors, when asked), claimed (row
     * locks, SKIP LOCKED: each goes to one batch), and of them those whose debtor this batch
     * can lock: the lock is what makes the cap decision below safe (the log is read, and the
     * made contacts written, by one batch at a time per debtor; promise 3). A debtor another
     * scheduler instance's batch holds is left for a later batch rather than waited for, so
     * instances work side by side instead of taking turns. The try-locks are taken on the
     * claimed rows only (a materialized CTE): whatever plan the claim gets, no other debtor
     * is locked. */
    PGresult *res = hk_db_query (d->db,
                                 "WITH claimed AS MATERIALIZED ("
                                 " SELECT ct.contact_id, ct.channel, ct.debtor_id, ct.invoice_id,"
                                 "  ct.step, ct.kind,"
                                 "  (extract (epoch FROM ct.due_at) * 1000000)::bigint AS due,"
                                 "  d.time_zone, d.calendar,"
                                 "  CASE WHEN d.do_not_contact THEN 'do not contact'"
                                 "   WHEN d.bankrupt THEN 'bankrupt'"
                                 "   WHEN EXISTS (SELECT 1 FROM dispute x WHERE x.tenant = ct.tenant"
                                 "    AND x.invoice_id = ct.invoice_id AND x.status = 'open'"
                                 "    AND x.amount_minor IS NULL)"
                                 "   THEN 'R-C8 disputed: collection paused' ELSE '' END AS stop"
                                 " FROM contact ct JOIN debtor d ON d.tenant = ct.tenant"
                                 "  AND d.debtor_id = ct.debtor_id"
                                 " WHERE ct.status = 'planned' AND ct.due_at <= $2::timestamptz"
                                 "  AND ct.tenant = $1"
                                 "  AND ($4::int = 1"
                                 "   OR (hashtext (ct.debtor_id) & 2147483647) % $4::int = $5::int)"
                                 " ORDER BY ct.due_at LIMIT $3::int FOR UPDATE OF ct SKIP LOCKED)"
                                 " SELECT * FROM claimed"
                                 " WHERE pg_try_advisory_xact_lock"
                                 "  (hashtextextended ($1 || '/' || debtor_id, 0))"
                                 " ORDER BY due",
                                 5, p);
    int n = res ? PQntuples (res) : 0;
    if (taken)
        *taken = n;
    if (!res || n == 0) {
        PQclear (res);
        hk_db_rollback (d->db);
        return res ? 0 : HK_EDB;
    }

    /* the batch's debtors, sorted */
    const char **names = calloc ((size_t) n, sizeof *names);
    s_debtor_t *dv = calloc ((size_t) n, sizeof *dv);
    s_debts_t debts = { 0 };
    int rc = names && dv ? 0 : HK_ENOMEM, nd = 0;
    PGresult *log = NULL;
    for (int r = 0; r < n && rc == 0; r++)
        names[r] = PQgetvalue (res, r, D_DEBTOR);
    if (rc == 0) {
        qsort (names, (size_t) n, sizeof *names, s_cmp_str);
        for (int r = 0; r < n; r++) {
            if (nd && strcmp (dv[nd - 1].debtor, names[r]) == 0)
                continue;
            dv[nd++].debtor = names[r];
        }
    }
    for (int r = 0; r < n && rc == 0; r++) {
        s_debtor_t *x = s_find_debtor (dv, nd, PQgetvalue (res, r, D_DEBTOR));
        if (!x->zone) {
            x->zone = PQgetvalue (res, r, D_ZONE);
            if (s_minute (x->zone, now, &x->today) < 0)
                x->today = (int32_t) (now / HK_US_PER_DAY);
        }
    }
    if (rc == 0)
        rc = s_load_counts (d, dv, nd, n, &debts, &log);

    /* decide each contact in due order */
    const char **streams = calloc ((size_t) n, sizeof *streams);
    const char **datas = calloc ((size_t) n, sizeof *datas);
    size_t *lens = calloc ((size_t) n, sizeof *lens);
    char (*stream_buf)[160] = calloc ((size_t) n, sizeof *stream_buf);
    hk_event_t *evs = calloc ((size_t) n, sizeof *evs);
    Huikuan__V1__ContactDispatched *msgs = calloc ((size_t) n, sizeof *msgs);
    bool *bumped = calloc ((size_t) nd + 1, sizeof *bumped);
    if (rc == 0 && !(streams && datas && lens && stream_buf && evs && msgs && bumped))
        rc = HK_ENOMEM;
    hk_pgarr_t sent = { 0 }, sent_invoices = { 0 }, sent_steps = { 0 };
    s_defer_t defer = { 0 };
    s_timing_memo_t memo = { 0 };
    int ns = 0, refused = 0;
    char now_s[40];
    hk_time_format (now, now_s, sizeof now_s);
    for (int r = 0; r < n && rc == 0; r++) {
        const char *id = PQgetvalue (res, r, D_ID), *channel = PQgetvalue (res, r, D_CHANNEL);
        const char *kind = PQgetvalue (res, r, D_KIND), *zone = PQgetvalue (res, r, D_ZONE);
        hk_step_t step = HK_STEP_NONE;
        (void) hk_step_parse (PQgetvalue (res, r, D_STEP), &step);
        s_debtor_t *x = s_find_debtor (dv, nd, PQgetvalue (res, r, D_DEBTOR));
        const char *stop = PQgetvalue (res, r, D_STOP);
        if (*stop && sched_debtor_facing (channel)) {
            /* promise 3: do-not-contact, bankruptcy and a dispute pause hold here too, whoever
             * planned the contact and whenever */
            int c = sched_cancel (d, SCHED_SCOPE_CONTACT, id, x->debtor, stop,
                                  strncmp (stop, "R-C8", 4) == 0 ? "R-C8" : "");
            rc = c < 0 ? c : 0;
            refused++;
            continue;
        }
        if (sched_debtor_facing (channel)) {
            const hk_calendar_t *cal = sched_calendar (d, PQgetvalue (res, r, D_CAL));
            char why[200] = "";
            int64_t quiet_end;
            /* a promise reminder keeps its agreed time except in quiet hours; every other
             * contact waits for an allowed minute (R-S2) */
            bool allowed = strcmp (kind, "promise_reminder") == 0
                               ? hk_timing_quiet_until (zone, &s->timing, now, &quiet_end) == 0
                                     && quiet_end == now
                               : s_allowed_now (d, &memo, cal, zone, now, why, sizeof why);
            if (strcmp (kind, "promise_reminder") == 0 && !allowed)
                snprintf (why, sizeof why, "quiet hours");
            s_debt_t *t = s_find_debt (&debts, PQgetvalue (res, r, D_INVOICE));
            if ((step == HK_STEP_PHONE && t->phones >= s->caps.max_phone_per_debt)
                || (step == HK_STEP_VISIT && t->visits >= s->caps.max_visit_per_debt)) {
                /* R-C2: no fourth call, no second visit, whoever planned it: the ladder
                 * moves on */
                snprintf (why, sizeof why, "R-C2 %s cap per debt reached (%d made)",
                          hk_step_name (step), step == HK_STEP_PHONE ? t->phones : t->visits);
                int c = sched_cancel (d, SCHED_SCOPE_CONTACT, id, x->debtor, why, "R-C2");
                rc = c < 0 ? c : 0;
                refused++;
                continue;
            }
            int64_t retry = 0;
            if (!allowed)
                retry = now + HK_US_PER_MIN;
            else if (x->redis_today >= s->caps.max_per_debtor_day) {
                x->k.debtor_today = (int) x->redis_today; /* the shortcut: no log needed */
                snprintf (why, sizeof why, "R-C2 daily cap %d reached (fast counter)",
                          s->caps.max_per_debtor_day);
                retry = s_retry_at (&s->caps, x, now);
            } else {
                hk_contact_counts_t k = x->k;
                k.phone_on_debt = t->phones;
                k.visit_on_debt = t->visits;
                if (!hk_caps_allow (&s->caps, &k, step, now, why, sizeof why))
                    retry = s_retry_at (&s->caps, x, now);
                else {
                    t->phones += step == HK_STEP_PHONE;
                    t->visits += step == HK_STEP_VISIT;
                }
            }
            if (retry) {
                int64_t next = retry;
                if (strcmp (kind, "promise_reminder") != 0)
                    next = s_next_allowed (d, &memo, cal, zone, retry);
                else
                    (void) hk_timing_quiet_until (zone, &s->timing, retry, &next);
                char at[40];
                hk_time_format (next, at, sizeof at);
                hk_pgarr_text (&defer.id, id);
                hk_pgarr_text (&defer.due, at);
                hk_pgarr_text (&defer.note, why);
                defer.n++;
                refused++;
                continue;
            }
            x->k.debtor_today++;
            x->k.debtor_week++;
            x->k.last_contact_us = now;
            bumped[x - dv] = true;
        }
        /* the tenant's own queue: another tenant's notification never sends it */
        (void) hk_notify_queue (channel, d->tenant, stream_buf[ns], sizeof stream_buf[ns]);
        streams[ns] = stream_buf[ns];
        datas[ns] = id;
        lens[ns] = strlen (id);
        Huikuan__V1__ContactDispatched *m = &msgs[ns];
        huikuan__v1__contact_dispatched__init (m);
        m->contact_id = (char *) id;
        m->channel = (char *) channel;
        m->queue = stream_buf[ns];
        evs[ns] = (hk_event_t) { .type = "contact.dispatched", .tenant = d->tenant,
                                 .aggregate_id = x->debtor, .occurred_at_us = now,
                                 .payload = &m->base };
        hk_pgarr_text (&sent, id);
        hk_pgarr_text (&sent_invoices, PQgetvalue (res, r, D_INVOICE));
        hk_pgarr_text (&sent_steps, PQgetvalue (res, r, D_STEP));
        ns++;
    }

    char *sent_l = hk_pgarr_finish (&sent);
    char *sent_inv = hk_pgarr_finish (&sent_invoices), *sent_step = hk_pgarr_finish (&sent_steps);
    char *dl[3] = { hk_pgarr_finish (&defer.id), hk_pgarr_finish (&defer.due),
                    hk_pgarr_finish (&defer.note) };
    if (rc == 0 && !(sent_l && sent_inv && sent_step && dl[0] && dl[1] && dl[2]))
        rc = HK_ENOMEM;
    if (rc == 0 && defer.n) {
        const char *dp[] = { dl[0], dl[1], dl[2] };
        if (hk_db_exec (d->db,
                        "UPDATE contact c SET due_at = u.due::timestamptz, updated_at = now(),"
                        " cap_deferrals = cap_deferrals + 1,"
                        " timing = left (coalesce (c.timing, '') || '; deferred: ' || u.note, 1000)"
                        " FROM unnest ($1::text[], $2::text[], $3::text[]) AS u (id, due, note)"
                        " WHERE c.contact_id = u.id::uuid",
                        3, dp)
            < 0)
            rc = HK_EDB;
    }
    if (rc == 0 && ns) {
        /* the debt's next step is decided when its debtor may next be contacted (min_gap),
         * not in the middle of the dispatch burst */
        char review_s[40];
        int64_t gap = s->caps.min_gap_us > HK_US_PER_MIN ? s->caps.min_gap_us : HK_US_PER_MIN;
        hk_time_format (now + gap, review_s, sizeof review_s);
        const char *sp[] = { sent_l, now_s, d->tenant, sent_inv, sent_step, review_s };
        /* made: the contact, and the ladder state of the debt it was the pending step of
         * (the ANY lets the debts be found by key, where a join on the unnest alone may be
         * planned as a scan of every debt for each batch) */
        if (hk_db_exec (d->db,
                        "UPDATE contact SET status = 'dispatched', dispatched_at = $2::timestamptz,"
                        " updated_at = now() WHERE contact_id = ANY ($1::uuid[])",
                        2, sp)
                < 0
            || hk_db_exec (d->db,
                           "UPDATE collection c SET last_step = u.step,"
                           " last_step_at = $2::timestamptz,"
                           " phone_count = phone_count + (u.step = 'phone')::int,"
                           " visit_count = visit_count + (u.step = 'visit')::int,"
                           " pending_contact = NULL, next_review_at = $6::timestamptz,"
                           " updated_at = now()"
                           " FROM unnest ($1::uuid[], $4::text[], $5::text[]) AS u (id, invoice, step)"
                           " WHERE c.tenant = $3 AND c.invoice_id = ANY ($4::text[])"
                           "  AND c.invoice_id = u.invoice AND c.pending_contact = u.id",
                           6, sp)
                   < 0)
            rc = HK_EDB;
    }
    if (rc == 0 && ns && hk_stream_add_many (d->redis, streams, datas, lens, ns) != 0)
        rc = HK_EREDIS;
    if (rc == 0 && ns)
        rc = hk_outbox_append_batch (d->db, d->instance, evs, ns);
    if (rc == 0 && hk_db_commit (d->db) != 0)
        rc = HK_EDB;
    if (rc != 0)
        hk_db_rollback (d->db);

    /* the fast counters follow the log, after it committed */
    if (rc == 0)
        s_bump_counters (d, dv, nd, bumped);
    else
        HK_LOG (HK_WARN, "dispatch.failed",
                HK_S ("error", rc == HK_EREDIS ? hk_redis_errstr (d->redis) : hk_db_errstr (d->db)));

    free (sent_l);
    free (sent_inv);
    free (sent_step);
    for (int i = 0; i < 3; i++)
        free (dl[i]);
    free (streams);
    free (datas);
    free (lens);
    free (stream_buf);
    free (evs);
    free (msgs);
    free (bumped);
    free (names);
    free (dv);
    s_debts_free (&debts);
    PQclear (log);
    PQclear (res);
    if (rc != 0)
        return rc;
    if (refused)
        HK_LOG (HK_DEBUG, "dispatch.deferred", HK_I ("count", refused));
    return ns + refused;
}

/* R-C5: a promise is kept when the debtor paid its amount since recording it, by the promised
 * time plus grace, or when the promised debt is settled; else it is broken and the debts it
 * covered escalate at once. */
int
sched_check_promises (hk_daemon_t *d)
{
    if (hk_db_begin (d->db) != 0)
        return HK_EDB;
    const char *p[] = { d->tenant, sched_now_text (d) };
    PGresult *res = hk_db_query (
        d->db,
        "SELECT p.promise_id, p.debtor_id, coalesce (p.invoice_id, ''), p.currency,"
        "  p.amount_minor, (extract (epoch FROM p.promised_at) * 1000000)::bigint,"
        "  coalesce ((SELECT sum (pm.amount_minor) FROM payment pm WHERE pm.tenant = p.tenant"
        "   AND pm.debtor_id = p.debtor_id AND pm.currency = p.currency"
        "   AND pm.received_at >= coalesce (p.recorded_at, p.promised_at - interval '30 days')"
        "   AND pm.received_at <= p.check_at), 0),"
        "  p.invoice_id IS NOT NULL AND EXISTS (SELECT 1 FROM invoice i WHERE i.tenant = p.tenant"
        "   AND i.invoice_id = p.invoice_id AND i.status = 'settled')"
        " FROM promise p WHERE p.tenant = $1 AND p.status = 'open'"
        "  AND p.check_at <= $2::timestamptz"
        " ORDER BY p.check_at LIMIT 200 FOR UPDATE OF p SKIP LOCKED",
        2, p);
    int n = res ? PQntuples (res) : 0, rc = res ? 0 : HK_EDB;
    for (int r = 0; r < n && rc == 0; r++) {
        const char *id = PQgetvalue (res, r, 0), *debtor = PQgetvalue (res, r, 1);
        const char *invoice = PQgetvalue (res, r, 2);
        long long amount = atoll (PQgetvalue (res, r, 4)), paid = atoll (PQgetvalue (res, r, 6));
        bool kept = paid >= amount || PQgetvalue (res, r, 7)[0] == 't';
        char paid_s[24];
        snprintf (paid_s, sizeof paid_s, "%lld", paid);
        const char *up[] = { d->tenant, id, kept ? "kept" : "broken", paid_s, p[1] };
        if (hk_db_exec (d->db,
                        "UPDATE promise SET status = $3, settled_minor = $4::bigint,"
                        " checked_at = $5::timestamptz, updated_at = now()"
                        " WHERE tenant = $1 AND promise_id = $2",
                        5, up)
            < 0) {
            rc = HK_EDB;
            break;
        }
        if (!kept) {
            /* R-C5: a broken promise escalates the debts it covered, now */
            const char *bp[] = { d->tenant, debtor, invoice, p[1] };
            if (hk_db_exec (d->db,
                            "UPDATE collection SET broken_promises = broken_promises + 1,"
                            " promise_broken_at = $4::timestamptz,"
                            " next_review_at = $4::timestamptz, updated_at = now()"
                            " WHERE tenant = $1 AND debtor_id = $2 AND state = 'active'"
                            "  AND ($3 = '' OR invoice_id = $3)",
                            4, bp)
                < 0) {
                rc = HK_EDB;
                break;
            }
        }
        Huikuan__V1__Money promised = HUIKUAN__V1__MONEY__INIT, got = HUIKUAN__V1__MONEY__INIT;
        promised.minor = amount;
        promised.currency = PQgetvalue (res, r, 3);
        got.minor = paid;
        got.currency = promised.currency;
        char *rules[] = { "R-C5" };
        Huikuan__V1__PromiseChecked pc = HUIKUAN__V1__PROMISE_CHECKED__INIT;
        pc.promise_id = (char *) id;
        pc.debtor_id = (char *) debtor;
        pc.invoice_id = (char *) invoice;
        pc.promised = &promised;
        pc.paid = &got;
        pc.promised_at_us = atoll (PQgetvalue (res, r, 5));
        pc.n_rules = 1;
        pc.rules = rules;
        rc = hk_daemon_emit (d, kept ? "promise.kept" : "promise.broken", debtor, NULL, &pc.base);
    }
    PQclear (res);
    if (rc == 0 && hk_db_commit (d->db) == 0)
        return n;
    hk_db_rollback (d->db);
    return rc ? rc : HK_EDB;
}
