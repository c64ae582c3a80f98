/* contacts: planning and cancelling contact rows, with their events, in batches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "huikuan/ids.h"
#include "huikuan/log.h"
#include "sched.h"

#define S_COLS 17

struct sched_batch {
    sched_contact_t *items;
    char (*ids)[HK_UUID_LEN];
    int n, cap;
};

bool
sched_debtor_facing (const char *channel)
{
    static const char *const facing[] = { "email", "sms", "phone", "letter", "visit", NULL };
    for (int i = 0; facing[i]; i++)
        if (strcmp (channel, facing[i]) == 0)
            return true;
    return false;
}

sched_batch_t *
sched_batch_new (void)
{
    return calloc (1, sizeof (sched_batch_t));
}

static char *
s_dup (const char *s)
{
    return s ? strdup (s) : NULL;
}

static void
s_item_free (sched_contact_t *c)
{
    free ((char *) c->plan_key);
    free ((char *) c->kind);
    free ((char *) c->debtor_id);
    free ((char *) c->invoice_id);
    free ((char *) c->step);
    free ((char *) c->channel);
    free ((char *) c->rules);
    free ((char *) c->reason);
    free ((char *) c->timing);
    free ((char *) c->person_id);
    free ((char *) c->caller_role);
    free ((char *) c->promise_id);
    free ((char *) c->trace_id);
}

static void
s_batch_clear (sched_batch_t *b)
{
    for (int i = 0; i < b->n; i++)
        s_item_free (&b->items[i]);
    b->n = 0;
}

void
sched_batch_destroy (sched_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_batch_clear (*self_p);
    free ((*self_p)->items);
    free ((*self_p)->ids);
    free (*self_p);
    *self_p = NULL;
}

int
sched_batch_count (const sched_batch_t *b)
{
    return b ? b->n : 0;
}

int
sched_batch_add (sched_batch_t *b, const sched_contact_t *c, char *id_out)
{
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        sched_contact_t *items = realloc (b->items, (size_t) cap * sizeof *items);
        if (!items)
            return HK_ENOMEM;
        b->items = items;
        char (*ids)[HK_UUID_LEN] = realloc (b->ids, (size_t) cap * sizeof *ids);
        if (!ids)
            return HK_ENOMEM;
        b->ids = ids;
        b->cap = cap;
    }
    sched_contact_t *t = &b->items[b->n];
    hk_uuid_v4 (b->ids[b->n]);
    char key[300];
    if (!c->plan_key) /* keyed by its own id */
        snprintf (key, sizeof key, "%s:%s:%s", c->invoice_id, c->step, b->ids[b->n]);
    *t = (sched_contact_t) {
        .plan_key = s_dup (c->plan_key ? c->plan_key : key), .kind = s_dup (c->kind),
        .debtor_id = s_dup (c->debtor_id), .invoice_id = s_dup (c->invoice_id),
        .step = s_dup (c->step), .channel = s_dup (c->channel), .due_at_us = c->due_at_us,
        .rules = s_dup (c->rules ? c->rules : ""), .reason = s_dup (c->reason),
        .timing = s_dup (c->timing), .person_id = s_dup (c->person_id),
        .caller_role = s_dup (c->caller_role), .promise_id = s_dup (c->promise_id),
        .variant = c->variant, .trace_id = s_dup (c->trace_id), .wanted_at_us = c->wanted_at_us,
    };
    if (!t->plan_key || !t->kind || !t->debtor_id || !t->invoice_id || !t->step || !t->channel
        || !t->rules) {
        s_item_free (t);
        return HK_ENOMEM;
    }
    if (id_out)
        memcpy (id_out, b->ids[b->n], HK_UUID_LEN);
    b->n++;
    return 0;
}

int
sched_split_rules (const char *list, char *buf, size_t len, char **out, int max)
{
    snprintf (buf, len, "%s", list ? list : "");
    int n = 0;
    for (char *save = NULL, *tok = strtok_r (buf, ", ", &save); tok && n < max;
         tok = strtok_r (NULL, ", ", &save))
        out[n++] = tok;
    return n;
}

/* The rules as a text[] literal. */
static void
s_rules_array (hk_pgarr_t *col, const char *rules)
{
    char buf[128], *tok[8];
    int n = sched_split_rules (rules, buf, sizeof buf, tok, 8);
    hk_pgarr_t inner = { 0 };
    for (int i = 0; i < n; i++)
        hk_pgarr_text (&inner, tok[i]);
    char *text = hk_pgarr_finish (&inner);
    hk_pgarr_text (col, text ? text : "{}");
    free (text);
}

int
sched_batch_flush (hk_daemon_t *d, sched_batch_t *b)
{
    if (!b || b->n == 0)
        return 0;
    sched_t *s = sched_of (d);
    hk_pgarr_t col[S_COLS] = { 0 };
    for (int i = 0; i < b->n; i++) {
        const sched_contact_t *c = &b->items[i];
        char due[40];
        hk_time_format (c->due_at_us, due, sizeof due);
        hk_pgarr_text (&col[0], b->ids[i]);
        hk_pgarr_text (&col[1], c->debtor_id);
        hk_pgarr_text (&col[2], c->invoice_id);
        hk_pgarr_text (&col[3], c->channel);
        hk_pgarr_text (&col[4], c->step);
        hk_pgarr_text (&col[5], due);
        s_rules_array (&col[6], c->rules);
        hk_pgarr_text (&col[7], c->reason);
        hk_pgarr_text (&col[8], c->plan_key);
        hk_pgarr_text (&col[9], c->kind);
        hk_pgarr_text (&col[10], c->person_id);
        hk_pgarr_text (&col[11], c->caller_role);
        hk_pgarr_int (&col[12], c->variant);
        hk_pgarr_text (&col[13], c->promise_id);
        hk_pgarr_text (&col[14], c->timing);
        hk_pgarr_int (&col[15], i);
        char wanted[40];
        if (c->wanted_at_us)
            hk_time_format (c->wanted_at_us, wanted, sizeof wanted);
        hk_pgarr_text (&col[16], c->wanted_at_us ? wanted : NULL);
    }
    char *arr[S_COLS];
    bool ok = true;
    for (int c = 0; c < S_COLS; c++)
        ok &= (arr[c] = hk_pgarr_finish (&col[c])) != NULL;
    int rc = ok ? 0 : HK_ENOMEM;
    PGresult *res = NULL;
    if (rc == 0) {
        char version[16];
        snprintf (version, sizeof version, "%d", s->strategy_version);
        const char *p[] = { d->tenant, version, arr[0],  arr[1],  arr[2],  arr[3],
                            arr[4],    arr[5],  arr[6],  arr[7],  arr[8],  arr[9],
                            arr[10],   arr[11], arr[12], arr[13], arr[14], arr[15],
                            arr[16] };
        /* rules travel as text literals of text[] (an array of arrays must be rectangular) */
        res = hk_db_query (d->db,
                           "INSERT INTO contact (contact_id, tenant, debtor_id, invoice_id, channel,"
                           " step, due_at, rules, reason, plan_key, kind, person_id, caller_role,"
                           " variant, promise_id, timing, strategy_version, wanted_at)"
                           " SELECT u.id::uuid, $1, u.debtor, u.invoice, u.channel, u.step,"
                           "  u.due::timestamptz, u.rules::text[], u.reason, u.plan_key, u.kind,"
                           "  u.person, u.caller, u.variant::smallint, u.promise, u.timing,"
                           "  $2::int, u.wanted::timestamptz"
                           " FROM unnest ($3::text[], $4::text[], $5::text[], $6::text[],"
                           "  $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],"
                           "  $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],"
                           "  $17::text[], $18::int[], $19::text[])"
                           "  AS u (id, debtor, invoice, channel, step, due, rules, reason,"
                           "  plan_key, kind, person, caller, variant, promise, timing, ord,"
                           "  wanted)"
                           " ORDER BY u.ord"
                           " ON CONFLICT (tenant, plan_key) DO NOTHING RETURNING contact_id",
                           19, p);
        if (!res)
            rc = HK_EDB;
    }
    for (int c = 0; c < S_COLS; c++)
        free (arr[c]);
    if (rc != 0) {
        s_batch_clear (b);
        return rc;
    }

    /* contact.planned for the new ones, in batch order */
    int fresh = PQntuples (res);
    hk_event_t *evs = calloc ((size_t) (fresh ? fresh : 1), sizeof *evs);
    Huikuan__V1__ContactPlanned *msgs = calloc ((size_t) (fresh ? fresh : 1), sizeof *msgs);
    char (*rulebuf)[128] = calloc ((size_t) (fresh ? fresh : 1), sizeof *rulebuf);
    char *(*rules)[8] = calloc ((size_t) (fresh ? fresh : 1), sizeof *rules);
    char strategy[96];
    snprintf (strategy, sizeof strategy, "%s@%d", hk_strategy_name (s->strategy),
              s->strategy_version);
    int n = 0;
    if (!evs || !msgs || !rulebuf || !rules)
        rc = HK_ENOMEM;
    for (int i = 0; i < b->n && rc == 0 && n < fresh; i++) {
        bool planned = false;
        for (int r = 0; r < fresh && !planned; r++)
            planned = strcmp (PQgetvalue (res, r, 0), b->ids[i]) == 0;
        if (!planned)
            continue;
        const sched_contact_t *c = &b->items[i];
        Huikuan__V1__ContactPlanned *m = &msgs[n];
        huikuan__v1__contact_planned__init (m);
        m->contact_id = b->ids[i];
        m->invoice_id = (char *) c->invoice_id;
        m->debtor_id = (char *) c->debtor_id;
        m->channel = (char *) c->channel;
        m->step = (char *) c->step;
        m->due_at_us = c->due_at_us;
        m->n_rules = (size_t) sched_split_rules (c->rules, rulebuf[n], sizeof rulebuf[n],
                                                 rules[n], 8);
        m->rules = rules[n];
        m->kind = (char *) c->kind;
        m->reason = (char *) (c->reason ? c->reason : "");
        m->timing = (char *) (c->timing ? c->timing : "");
        m->variant = c->variant;
        m->strategy = strategy;
        m->caller_role = (char *) (c->caller_role ? c->caller_role : "");
        evs[n] = (hk_event_t) { .type = "contact.planned", .tenant = d->tenant,
                                .aggregate_id = c->debtor_id, .trace_id = c->trace_id,
                                .occurred_at_us = hk_clock_now (d->clock),
                                .payload = &m->base };
        n++;
    }
    if (rc == 0 && n > 0)
        rc = hk_outbox_append_batch (d->db, d->instance, evs, n);
    free (evs);
    free (msgs);
    free (rulebuf);
    free (rules);
    PQclear (res);
    s_batch_clear (b);
    return rc == 0 ? fresh : rc;
}

int
sched_plan_contact (hk_daemon_t *d, const sched_contact_t *c, char *id_out)
{
    sched_batch_t *b = sched_batch_new ();
    if (!b)
        return HK_ENOMEM;
    int rc = sched_batch_add (b, c, id_out);
    if (rc == 0)
        rc = sched_batch_flush (d, b);
    sched_batch_destroy (&b);
    return rc;
}

int
sched_cancel (hk_daemon_t *d, sched_scope_t scope, const char *id, const char *debtor_id,
              const char *reason, const char *rule)
{
    static const char *const where[] = {
        [SCHED_SCOPE_INVOICE] = "invoice_id = $2",
        [SCHED_SCOPE_DEBTOR] = "debtor_id = $2",
        [SCHED_SCOPE_CONTACT] = "contact_id = $2::uuid",
        [SCHED_SCOPE_PENDING_INVOICE] = "contact_id IN (SELECT pending_contact FROM collection"
                                        " WHERE tenant = $1 AND invoice_id = $2)",
        [SCHED_SCOPE_PENDING_DEBTOR] = "contact_id IN (SELECT pending_contact FROM collection"
                                       " WHERE tenant = $1 AND debtor_id = $2)",
        [SCHED_SCOPE_PENDING_DEBTOR_UNTRACED] = "contact_id IN (SELECT pending_contact"
                                                " FROM collection WHERE tenant = $1"
                                                " AND debtor_id = $2) AND step <> 'tracing'",
    };
    bool whole = scope == SCHED_SCOPE_INVOICE || scope == SCHED_SCOPE_DEBTOR;
    /* a debt or debtor that stops also withdraws what is queued but not yet sent: the
     * notification daemon sends a contact only while it is still 'dispatched' */
    char sql[512];
    snprintf (sql, sizeof sql,
              "WITH c AS (UPDATE contact SET status = 'cancelled', updated_at = now(),"
              " reason = $3 WHERE tenant = $1 AND %s AND status IN ('planned'%s)"
              " RETURNING contact_id, invoice_id, debtor_id, channel)"
              " SELECT * FROM c ORDER BY debtor_id COLLATE \"C\"",
              where[scope], whole ? ", 'dispatched'" : "");
    const char *p[] = { d->tenant, id, reason };
    PGresult *res = hk_db_query (d->db, sql, 3, p);
    if (!res)
        return HK_EDB;
    int rc = 0, n = PQntuples (res);
    char *rules[] = { (char *) rule };
    hk_pgarr_t ids = { 0 };
    for (int i = 0; i < n && rc == 0; i++) {
        Huikuan__V1__ContactCancelled cc = HUIKUAN__V1__CONTACT_CANCELLED__INIT;
        cc.contact_id = PQgetvalue (res, i, 0);
        cc.invoice_id = PQgetvalue (res, i, 1);
        cc.reason = (char *) reason;
        cc.n_rules = rule && *rule ? 1 : 0;
        cc.rules = rules;
        rc = hk_daemon_emit (d, "contact.cancelled", debtor_id ? debtor_id : PQgetvalue (res, i, 2),
                             NULL, &cc.base);
        hk_pgarr_text (&ids, cc.contact_id);
    }
    /* what the caps moved to make way for a cancelled contact comes back towards its minute
     * (R-C2), once per debtor (the rows come in debtor order) */
    const char *respaced = NULL;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *debtor = PQgetvalue (res, i, 2);
        if (!sched_debtor_facing (PQgetvalue (res, i, 3))
            || (respaced && strcmp (respaced, debtor) == 0))
            continue;
        int m = sched_respace (d, debtor);
        rc = m < 0 ? m : 0;
        respaced = debtor;
    }
    PQclear (res);
    /* a cancelled pending contact no longer holds its debt's review back */
    char *list = hk_pgarr_finish (&ids);
    if (rc == 0 && !list)
        rc = HK_ENOMEM;
    if (rc == 0 && n > 0
        && hk_db_exec (d->db,
                       "UPDATE collection SET pending_contact = NULL, updated_at = now(),"
                       " next_review_at = coalesce (next_review_at, $3::timestamptz)"
                       " WHERE tenant = $1 AND pending_contact = ANY ($2::uuid[])",
                       3, (const char *[]) { d->tenant, list, sched_now_text (d) })
               < 0)
        rc = HK_EDB;
    free (list);
    return rc == 0 ? n : rc;
}
