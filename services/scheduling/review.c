/* review: debts due for a decision get their next ladder step (R-C1), timed (R-S1..R-S4),
 * addressed to the right person (R-C3) by the right caller (R-C4).
 *
 * One transaction per batch: the due collection rows are claimed with FOR UPDATE SKIP LOCKED
 * (each debt reviewed by one instance), their inputs come in one query, the contact people of
 * their debtors in another, the decisions are pure (strategy.c, calendar.c), and the results
 * are one INSERT of contacts plus one UPDATE of the collection rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "huikuan/dates.h"
#include "huikuan/digest.h"
#include "huikuan/errcodes.h"
#include "huikuan/log.h"
#include "sched.h"

enum {
    C_INVOICE, C_DEBTOR, C_VARIANT, C_LAST_STEP, C_LAST_AT, C_PHONES, C_VISITS, C_BROKEN,
    C_CURRENCY, C_AMOUNT, C_DUE, C_GRADE, C_STATUS, C_ZONE, C_CAL, C_STANCE, C_CAUSE, C_REACH,
    C_SIZE, C_HOSTILE, C_ANSWERED, C_PROMISE_CHECK, C_STOP, C_BROKEN_AT, C_FAILED_AT,
    C_SIGNAL_AT,
};

static const char s_due_sql[] =
    "SELECT c.invoice_id, c.debtor_id, c.variant, c.last_step,"
    "  coalesce ((extract (epoch FROM c.last_step_at) * 1000000)::bigint, 0),"
    "  c.phone_count, c.visit_count, c.broken_promises, i.currency,"
    "  i.outstanding_minor - coalesce ((SELECT sum (coalesce (x.amount_minor,"
    "   i.outstanding_minor)) FROM dispute x WHERE x.tenant = i.tenant"
    "   AND x.invoice_id = i.invoice_id AND x.status = 'open'), 0),"
    "  i.due_on, coalesce (i.grade, 5), i.status, d.time_zone, d.calendar,"
    "  coalesce (d.stance, 'soft'), coalesce (d.cause_of_default, ''), d.reachability,"
    "  coalesce (d.size_class, ''), coalesce (d.uncooperative, false) OR c.hostile,"
    "  c.last_step_at IS NOT NULL AND (EXISTS (SELECT 1 FROM promise p WHERE p.tenant = c.tenant"
    "   AND p.debtor_id = c.debtor_id AND coalesce (p.recorded_at, p.updated_at) > c.last_step_at)"
    "   OR EXISTS (SELECT 1 FROM contact_outcome o WHERE o.tenant = c.tenant"
    "   AND o.invoice_id = c.invoice_id AND o.outcome = 'reached'"
    "   AND o.occurred_at >= c.last_step_at)),"
    "  (SELECT (extract (epoch FROM min (p.check_at)) * 1000000)::bigint FROM promise p"
    "   WHERE p.tenant = c.tenant AND p.debtor_id = c.debtor_id AND p.status = 'open'"
    "   AND (p.invoice_id IS NULL OR p.invoice_id = c.invoice_id)),"
    "  CASE WHEN d.do_not_contact THEN 'do not contact'"
    "   WHEN d.bankrupt THEN 'bankrupt: claims go through the proceedings' ELSE '' END,"
    "  coalesce ((extract (epoch FROM c.promise_broken_at) * 1000000)::bigint, 0),"
    "  coalesce ((SELECT (extract (epoch FROM max (o.occurred_at)) * 1000000)::bigint"
    "   FROM contact_outcome o WHERE o.tenant = c.tenant AND o.invoice_id = c.invoice_id"
    "   AND o.outcome IN ('refused', 'no_supply_no_payment', 'wrong_number', 'returned')), 0),"
    "  coalesce ((extract (epoch FROM d.signal_at) * 1000000)::bigint, 0)"
    " FROM collection c JOIN invoice i ON i.tenant = c.tenant AND i.invoice_id = c.invoice_id"
    " JOIN debtor d ON d.tenant = c.tenant AND d.debtor_id = c.debtor_id"
    " WHERE c.tenant = $1 AND c.state = 'active' AND c.pending_contact IS NULL"
    "  AND c.next_review_at <= $2::timestamptz"
    " ORDER BY c.next_review_at LIMIT $3::int FOR UPDATE OF c SKIP LOCKED";

/* The debtors' people and which channels reach them (R-C3): a number reported wrong, or mail
 * that came back, since the person's details last changed, no longer counts. */
#define S_FAILED(what)                                                                         \
    " NOT EXISTS (SELECT 1 FROM contact_outcome o WHERE o.tenant = p.tenant"                   \
    " AND o.person_id = p.contact_id AND o.outcome IN ('wrong_number', 'returned')"            \
    " AND o.created_at > p.updated_at AND " what ")"
static const char s_people_sql[] =
    "SELECT debtor_id, contact_id, role,"
    " phone IS NOT NULL AND" S_FAILED ("(o.outcome = 'wrong_number' OR o.channel = 'sms')") ","
    " email IS NOT NULL AND" S_FAILED ("o.outcome = 'returned' AND o.channel = 'email'") ","
    " postal_address IS NOT NULL AND" S_FAILED ("o.outcome = 'returned' AND o.channel = 'letter'")
    " FROM contact_person p WHERE tenant = $1 AND debtor_id = ANY ($2::text[])"
    " ORDER BY debtor_id COLLATE \"C\", contact_id"; /* s_first_row: byte order */

/* The debtors' contacts with them that count toward the caps (R-C2): those planned, and those
 * made since the week before (the gap is at most a week). One index probe per debtor. */
static const char s_known_sql[] =
    "SELECT u.debtor, k.at FROM (SELECT DISTINCT unnest ($2::text[])) AS u (debtor),"
    " LATERAL (SELECT (extract (epoch FROM coalesce (dispatched_at, due_at)) * 1000000)::bigint"
    "   AS at FROM contact WHERE tenant = $1 AND debtor_id = u.debtor AND " SCHED_FACING_SQL
    "   AND (status = 'planned' OR dispatched_at >= $3::timestamptz) OFFSET 0) AS k";

/* Those contacts' times by debtor, and those the batch plans: an open-addressing table over
 * the batch's debtors (sized for all of them, so it never fills). */
typedef struct {
    const char *debtor;
    int64_t *t;
    int n, cap;
} s_known_debtor_t;

typedef struct {
    s_known_debtor_t *v;
    unsigned mask;
} s_known_t;

static int
s_known_init (s_known_t *k, int debtors)
{
    unsigned size = sched_table_slots (debtors);
    k->v = calloc (size, sizeof *k->v);
    k->mask = size - 1;
    return k->v ? 0 : HK_ENOMEM;
}

static void
s_known_free (s_known_t *k)
{
    for (unsigned i = 0; k->v && i <= k->mask; i++)
        free (k->v[i].t);
    free (k->v);
}

/* The debtor's entry, added when create and new; NULL when absent and not create. */
static s_known_debtor_t *
s_known_find (s_known_t *k, const char *debtor, bool create)
{
    for (unsigned i = hk_str_hash (debtor) & k->mask;; i = (i + 1) & k->mask) {
        if (!k->v[i].debtor) {
            if (!create)
                return NULL;
            k->v[i].debtor = debtor;
            return &k->v[i];
        }
        if (strcmp (k->v[i].debtor, debtor) == 0)
            return &k->v[i];
    }
}

static int
s_known_add (s_known_t *k, const char *debtor, int64_t at)
{
    s_known_debtor_t *e = s_known_find (k, debtor, true);
    if (e->n == e->cap) {
        int cap = e->cap ? e->cap * 2 : 4;
        int64_t *t = realloc (e->t, (size_t) cap * sizeof *t);
        if (!t)
            return HK_ENOMEM;
        e->t = t;
        e->cap = cap;
    }
    e->t[e->n++] = at;
    return 0;
}

/* R-C2: a contact not where the debtor's other contacts (k, may be NULL) would only make
 * dispatch defer it (the same minute as another debt's notice, a third that day), but where
 * dispatch would have deferred it to: the next allowed minute after them (R-S2). Moves *slot,
 * and says so in timing (its why so far, rewritten when moved). 0 or HK_EINVAL (bad zone). */
static int
s_clear_of (hk_daemon_t *d, const hk_calendar_t *cal, const char *zone,
            const s_known_debtor_t *k, hk_slot_t *slot, char *timing, size_t len)
{
    sched_t *s = sched_of (d);
    char cap[120];
    int64_t next;
    int rc = 0;
    for (int i = 0; i < 8 && rc == 0 && k
                    && (next = hk_caps_next_free (&s->caps, zone, k->t, k->n, slot->at_us, cap,
                                                  sizeof cap))
                           != 0;
         i++) {
        rc = hk_timing_next_allowed (cal, zone, &s->timing, next, slot);
        snprintf (timing, len, "%s; after the debtor's other contacts: %s", slot->why, cap);
    }
    return rc;
}

/* R-C3 roles of the feed mapped to strategy.c's names. */
static const char *
s_role (const char *feed_role)
{
    if (strcmp (feed_role, "payment_contact") == 0)
        return "payment";
    if (strcmp (feed_role, "initial_contact") == 0)
        return "initial";
    return feed_role; /* finance, owner, other */
}

/* The first row of res whose debtor (column 0, rows in byte order) is debtor, or the row
 * after where it would be: a binary search, so a batch's debts do not each read every row of
 * the batch's people. */
static int
s_first_row (PGresult *res, const char *debtor)
{
    int lo = 0, hi = PQntuples (res);
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp (PQgetvalue (res, mid, 0), debtor) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Whom to address for channel, among the debtor's people (rows of res with that debtor). */
static const char *
s_pick_person (PGresult *res, const char *debtor, const char *size_class, const char *channel,
               char *why, size_t len)
{
    hk_person_t people[32];
    int rows[32], n = 0;
    for (int r = s_first_row (res, debtor); r < PQntuples (res) && n < 32; r++) {
        if (strcmp (PQgetvalue (res, r, 0), debtor) != 0)
            break;
        bool phone = PQgetvalue (res, r, 3)[0] == 't', email = PQgetvalue (res, r, 4)[0] == 't',
             post = PQgetvalue (res, r, 5)[0] == 't';
        bool reachable = strcmp (channel, "email") == 0                                 ? email
                         : strcmp (channel, "sms") == 0 || strcmp (channel, "phone") == 0 ? phone
                         : strcmp (channel, "letter") == 0                               ? post
                                                                                         : true;
        people[n] = (hk_person_t) { .person_id = PQgetvalue (res, r, 1),
                                    .role = s_role (PQgetvalue (res, r, 2)),
                                    .reachable = reachable };
        rows[n++] = r;
    }
    int k = hk_contact_pick (size_class, people, (size_t) n, why, len);
    return k >= 0 ? PQgetvalue (res, rows[k], 1) : NULL;
}

/* Results of one batch: the collection rows' new state, as arrays for one UPDATE. */
typedef struct {
    hk_pgarr_t invoice, state, reason, pending, review;
    int n;
} s_updates_t;

static void
s_update (s_updates_t *u, const char *invoice, const char *state, const char *reason,
          const char *pending, int64_t review_us)
{
    char at[40];
    if (review_us > 0)
        hk_time_format (review_us, at, sizeof at);
    hk_pgarr_text (&u->invoice, invoice);
    hk_pgarr_text (&u->state, state);
    hk_pgarr_text (&u->reason, reason);
    hk_pgarr_text (&u->pending, pending);
    hk_pgarr_text (&u->review, review_us > 0 ? at : NULL);
    u->n++;
}

/* Finishes the batch's arrays and, when write, applies them in one UPDATE (the ANY lets the
 * debts be found by key, where a join on the unnest alone may be planned as a scan of every
 * debt for each batch). */
static int
s_finish_updates (hk_daemon_t *d, s_updates_t *u, bool write)
{
    char *a[5] = { hk_pgarr_finish (&u->invoice), hk_pgarr_finish (&u->state),
                   hk_pgarr_finish (&u->reason), hk_pgarr_finish (&u->pending),
                   hk_pgarr_finish (&u->review) };
    int rc = a[0] && a[1] && a[2] && a[3] && a[4] ? 0 : HK_ENOMEM;
    if (rc == 0 && write && u->n > 0) {
        const char *p[] = { d->tenant, a[0], a[1], a[2], a[3], a[4], sched_now_text (d) };
        if (hk_db_exec (d->db,
                        "UPDATE collection c SET state = u.state, state_reason = u.reason,"
                        " pending_contact = u.pending::uuid, next_review_at = u.review::timestamptz,"
                        " settled_at = CASE WHEN u.state = 'settled' THEN $7::timestamptz END,"
                        " updated_at = now()"
                        " FROM unnest ($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])"
                        "  AS u (invoice, state, reason, pending, review)"
                        " WHERE c.tenant = $1 AND c.invoice_id = ANY ($2::text[])"
                        "  AND c.invoice_id = u.invoice",
                        7, p)
            < 0)
            rc = HK_EDB;
    }
    for (int i = 0; i < 5; i++)
        free (a[i]);
    return rc;
}

/* Plans the decided step of one debt into the batch; returns 0 and the pending contact id. */
static int
s_plan_step (hk_daemon_t *d, PGresult *row, int r, PGresult *people, s_known_t *known,
             const hk_decision_t *dec, int32_t due, int32_t today, sched_batch_t *batch,
             char *pending)
{
    sched_t *s = sched_of (d);
    const char *invoice = PQgetvalue (row, r, C_INVOICE), *debtor = PQgetvalue (row, r, C_DEBTOR);
    const char *zone = PQgetvalue (row, r, C_ZONE);
    const hk_calendar_t *cal = sched_calendar (d, PQgetvalue (row, r, C_CAL));
    int64_t now = hk_clock_now (d->clock);
    int64_t from = dec->not_before_us > now ? dec->not_before_us : now;
    hk_slot_t slot = { .at_us = from };
    bool debtor_facing = sched_debtor_facing (dec->channel);
    int rc = 0;
    if (dec->step == HK_STEP_PRE_DUE) {
        /* R-S4: before the due date, at the start of a working day */
        hk_local_t l;
        int32_t from_day = hk_tz_local (zone, from, &l) == 0 ? l.date : today;
        rc = hk_timing_before_date (cal, zone, &s->timing, due, due - from_day, now, &slot);
    } else if (debtor_facing)
        rc = hk_timing_best_slot (cal, zone, &s->timing, from, &slot);
    else
        snprintf (slot.why, sizeof slot.why, "hand-over, not a contact with the debtor");
    char timing[sizeof slot.why + 128];
    snprintf (timing, sizeof timing, "%s", slot.why);
    int64_t wanted = slot.at_us;
    if (rc == 0 && debtor_facing && dec->step != HK_STEP_PRE_DUE)
        rc = s_clear_of (d, cal, zone, s_known_find (known, debtor, false), &slot, timing,
                         sizeof timing);
    if (rc != 0) {
        HK_LOG (HK_WARN, "plan.bad_zone", HK_S ("debtor", debtor), HK_S ("zone", zone));
        return 1; /* the debt waits for a fixed zone; reviewed again tomorrow */
    }
    char who[160] = "";
    const char *person = debtor_facing
                             ? s_pick_person (people, debtor, PQgetvalue (row, r, C_SIZE),
                                              dec->channel, who, sizeof who)
                             : NULL;
    bool hostile = PQgetvalue (row, r, C_HOSTILE)[0] == 't';
    const char *caller = hk_caller_role (dec->step, hostile, atoi (PQgetvalue (row, r, C_BROKEN)));
    char reason[480];
    snprintf (reason, sizeof reason, "%s%s%s", dec->reason, *who ? "; " : "", who);
    /* no plan key: a ladder contact is keyed by its own id, so the same rung may be planned
     * again after a promise or a payment withdrew it */
    sched_contact_t c = {
        .kind = "ladder", .debtor_id = debtor, .invoice_id = invoice,
        .step = hk_step_name (dec->step), .channel = dec->channel, .due_at_us = slot.at_us,
        .rules = dec->rule_ids, .reason = reason, .timing = timing, .person_id = person,
        .caller_role = caller, .variant = dec->variant,
        .wanted_at_us = slot.at_us != wanted ? wanted : 0,
    };
    if ((rc = sched_batch_add (batch, &c, pending)) != 0
        || (debtor_facing && (rc = s_known_add (known, debtor, c.due_at_us)) != 0))
        return rc;
    if (dec->step == HK_STEP_PRE_DUE) {
        /* R-S4: and early on the contractual collection date itself, before other creditors */
        hk_slot_t day;
        char key[256];
        snprintf (key, sizeof key, "%s:due_day", invoice);
        if (hk_timing_before_date (cal, zone, &s->timing, due, 0, now, &day) == 0
            && day.at_us > slot.at_us) {
            c.plan_key = key;
            c.kind = "pre_due";
            c.due_at_us = day.at_us;
            c.timing = day.why;
            c.rules = "R-S4,R-C1";
            c.reason = "the contractual collection date: act early in the day";
            c.wanted_at_us = 0;
            if ((rc = sched_batch_add (batch, &c, NULL)) != 0
                || (debtor_facing && (rc = s_known_add (known, debtor, c.due_at_us)) != 0))
                return rc;
        }
    }
    return 0;
}

int
sched_review (hk_daemon_t *d)
{
    sched_t *s = sched_of (d);
    char limit[16];
    snprintf (limit, sizeof limit, "%lld", (long long) hk_config_int (d->config, "review_batch"));
    if (hk_db_begin (d->db) != 0)
        return HK_EDB;
    const char *p[] = { d->tenant, sched_now_text (d), limit };
    PGresult *res = hk_db_query (d->db, s_due_sql, 3, p);
    int n = res ? PQntuples (res) : 0;
    if (!res || n == 0) {
        PQclear (res);
        hk_db_rollback (d->db);
        return res ? 0 : HK_EDB;
    }
    /* the contact people of these debtors, one query */
    hk_pgarr_t debtors = { 0 };
    for (int r = 0; r < n; r++)
        hk_pgarr_text (&debtors, PQgetvalue (res, r, C_DEBTOR));
    char *dl = hk_pgarr_finish (&debtors), since[40];
    int64_t now = hk_clock_now (d->clock);
    hk_time_format (now - SCHED_CAPS_LOOKBACK_US, since, sizeof since);
    const char *pp[] = { d->tenant, dl, since };
    PGresult *people = dl ? hk_db_query (d->db, s_people_sql, 2, pp) : NULL;
    PGresult *made = people ? hk_db_query (d->db, s_known_sql, 3, pp) : NULL;
    free (dl);
    int rc = people && made ? 0 : HK_EDB;
    s_known_t known = { 0 };
    if (rc == 0 && s_known_init (&known, n) != 0)
        rc = HK_ENOMEM;
    for (int i = 0; rc == 0 && i < PQntuples (made); i++)
        rc = s_known_add (&known, PQgetvalue (made, i, 0), atoll (PQgetvalue (made, i, 1)));
    sched_batch_t *batch = sched_batch_new ();
    s_updates_t up = { 0 };
    if (!batch)
        rc = HK_ENOMEM;
    for (int r = 0; r < n && rc == 0; r++) {
        const char *invoice = PQgetvalue (res, r, C_INVOICE);
        const char *stop = PQgetvalue (res, r, C_STOP);
        if (strcmp (PQgetvalue (res, r, C_STATUS), "open") != 0) {
            s_update (&up, invoice, "settled", "paid", NULL, 0);
            continue;
        }
        if (*stop) {
            s_update (&up, invoice, "stopped", stop, NULL, 0);
            continue;
        }
        if (atoll (PQgetvalue (res, r, C_AMOUNT)) <= 0) {
            s_update (&up, invoice, "paused", "dispute (R-C8)", NULL, 0);
            continue;
        }
        const char *check = PQgetvalue (res, r, C_PROMISE_CHECK);
        if (*check && atoll (check) > now) {
            /* R-C5: an open promise is checked before the ladder moves */
            s_update (&up, invoice, "active", NULL, NULL, atoll (check));
            continue;
        }
        const char *zone = PQgetvalue (res, r, C_ZONE);
        hk_local_t local;
        int32_t due = 0;
        if (hk_tz_local (zone, now, &local) != 0
            || hk_date_parse (PQgetvalue (res, r, C_DUE), &due) != 0) {
            HK_LOG (HK_WARN, "plan.bad_zone", HK_S ("debtor", PQgetvalue (res, r, C_DEBTOR)),
                    HK_S ("zone", zone));
            s_update (&up, invoice, "active", NULL, NULL, now + HK_US_PER_DAY);
            continue;
        }
        hk_step_t last = HK_STEP_NONE;
        (void) hk_step_parse (PQgetvalue (res, r, C_LAST_STEP), &last);
        hk_debt_view_t view = {
            .tenant = d->tenant,
            .debtor_id = PQgetvalue (res, r, C_DEBTOR),
            .grade = atoi (PQgetvalue (res, r, C_GRADE)),
            .stance = PQgetvalue (res, r, C_STANCE),
            .cause = PQgetvalue (res, r, C_CAUSE),
            .currency = PQgetvalue (res, r, C_CURRENCY),
            .amount_minor = atoll (PQgetvalue (res, r, C_AMOUNT)),
            .dpd = local.date - due,
            .reachable = strcmp (PQgetvalue (res, r, C_REACH), "lost") != 0,
            .last_step = last,
            .last_step_at_us = atoll (PQgetvalue (res, r, C_LAST_AT)),
            .answered = PQgetvalue (res, r, C_ANSWERED)[0] == 't',
            .phone_count = atoi (PQgetvalue (res, r, C_PHONES)),
            .visit_count = atoi (PQgetvalue (res, r, C_VISITS)),
            .broken_promises = atoi (PQgetvalue (res, r, C_BROKEN)),
            .now_us = now,
            .promise_broken_at_us = atoll (PQgetvalue (res, r, C_BROKEN_AT)),
            .failed_at_us = atoll (PQgetvalue (res, r, C_FAILED_AT)),
            .signal_at_us = atoll (PQgetvalue (res, r, C_SIGNAL_AT)),
            .variant_given = true,
            .variant = atoi (PQgetvalue (res, r, C_VARIANT)),
        };
        hk_decision_t dec;
        if (hk_strategy_decide (s->strategy, &view, &dec) != 0) {
            s_update (&up, invoice, "active", NULL, NULL, now + HK_US_PER_DAY);
            continue;
        }
        if (dec.step == HK_STEP_NONE) {
            int64_t review = dec.not_before_us;
            hk_local_t nb;
            /* waits counted in days past due end at the debtor's local midnight, so the day's
             * first slot (R-S2, R-S4) is still ahead when the review runs */
            if (review > now && view.dpd <= 0 && hk_tz_local (zone, review, &nb) == 0
                && hk_tz_instant (zone, nb.date, 0, &review) == 0 && review <= now)
                review = now + HK_US_PER_MIN;
            if (review > now)
                s_update (&up, invoice, "active", NULL, NULL, review);
            else
                s_update (&up, invoice, "done", dec.reason, NULL, 0);
            continue;
        }
        char pending[40] = "";
        rc = s_plan_step (d, res, r, people, &known, &dec, due, local.date, batch, pending);
        if (rc == 1) {
            rc = 0;
            s_update (&up, invoice, "active", NULL, NULL, now + HK_US_PER_DAY);
            continue;
        }
        if (rc == 0)
            s_update (&up, invoice, "active", NULL, pending, 0);
    }
    int planned = 0;
    if (rc == 0 && (planned = sched_batch_flush (d, batch)) < 0)
        rc = planned;
    int urc = s_finish_updates (d, &up, rc == 0);
    if (rc == 0)
        rc = urc;
    sched_batch_destroy (&batch);
    s_known_free (&known);
    PQclear (made);
    PQclear (people);
    PQclear (res);
    if (rc == 0 && hk_db_commit (d->db) == 0)
        return n;
    hk_db_rollback (d->db);
    HK_LOG (HK_WARN, "review.failed", HK_S ("error", hk_db_errstr (d->db)));
    return rc ? rc : HK_EDB;
}

int
sched_respace (hk_daemon_t *d, const char *debtor_id)
{
    const char *p[] = { d->tenant, debtor_id };
    PGresult *moved = hk_db_query (
        d->db,
        "SELECT c.contact_id, (extract (epoch FROM c.wanted_at) * 1000000)::bigint,"
        "  (extract (epoch FROM c.due_at) * 1000000)::bigint, d.time_zone, d.calendar"
        " FROM contact c JOIN debtor d ON d.tenant = c.tenant AND d.debtor_id = c.debtor_id"
        " WHERE c.tenant = $1 AND c.debtor_id = $2 AND c.status = 'planned'"
        "  AND c.wanted_at < c.due_at ORDER BY c.wanted_at, c.contact_id",
        2, p);
    if (!moved)
        return HK_EDB;
    int n = PQntuples (moved), back = 0, rc = 0;
    if (n == 0) {
        PQclear (moved);
        return 0;
    }
    int64_t now = hk_clock_now (d->clock);
    char since[40];
    hk_pgarr_t one = { 0 };
    hk_pgarr_text (&one, debtor_id);
    char *list = hk_pgarr_finish (&one);
    hk_time_format (now - SCHED_CAPS_LOOKBACK_US, since, sizeof since);
    const char *kp[] = { d->tenant, list, since };
    PGresult *made = list ? hk_db_query (d->db, s_known_sql, 3, kp) : NULL;
    free (list);
    s_known_t known = { 0 };
    rc = made ? s_known_init (&known, 1) : HK_EDB;
    for (int i = 0; rc == 0 && i < PQntuples (made); i++)
        rc = s_known_add (&known, debtor_id, atoll (PQgetvalue (made, i, 1)));
    s_known_debtor_t *k = rc == 0 ? s_known_find (&known, debtor_id, true) : NULL;
    for (int r = 0; r < n && rc == 0; r++) {
        int64_t wanted = atoll (PQgetvalue (moved, r, 1)), due = atoll (PQgetvalue (moved, r, 2));
        const char *zone = PQgetvalue (moved, r, 3);
        const hk_calendar_t *cal = sched_calendar (d, PQgetvalue (moved, r, 4));
        /* the others than this one: its own time out of the list */
        for (int i = 0; i < k->n; i++)
            if (k->t[i] == due) {
                k->t[i] = k->t[--k->n];
                break;
            }
        hk_slot_t slot = { .at_us = wanted };
        if (wanted < now && hk_timing_next_allowed (cal, zone, &sched_of (d)->timing, now, &slot)
                                != 0)
            slot.at_us = due;
        char unused[sizeof slot.why + 128]; /* the note below says why instead */
        if (slot.at_us < due && s_clear_of (d, cal, zone, k, &slot, unused, sizeof unused) != 0)
            slot.at_us = due;
        if (slot.at_us < due) {
            char at[40], note[120];
            hk_time_format (slot.at_us, at, sizeof at);
            snprintf (note, sizeof note, "; moved back to %s: a contact it made way for was"
                                         " cancelled (R-C2)", at);
            const char *up[] = { d->tenant, PQgetvalue (moved, r, 0), at, note };
            int m = hk_db_exec (d->db,
                                "UPDATE contact SET due_at = $3::timestamptz, updated_at = now(),"
                                " timing = left (coalesce (timing, '') || $4, 1000)"
                                " WHERE tenant = $1 AND contact_id = $2::uuid"
                                "  AND status = 'planned'",
                                4, up);
            if (m < 0)
                rc = HK_EDB;
            back += m > 0;
            due = slot.at_us;
        }
        if (rc == 0)
            rc = s_known_add (&known, debtor_id, due); /* k's entry: the table never moves */
    }
    s_known_free (&known);
    PQclear (made);
    PQclear (moved);
    return rc == 0 ? back : rc;
}

/* R-S6: debtors who owe get the regular statement on the configured day of each month (the
 * next occurrence is planned once the previous one is no longer planned). */
int
sched_cadence (hk_daemon_t *d)
{
    sched_t *s = sched_of (d);
    if (!s->cadence_weekday)
        return 0;
    if (hk_db_begin (d->db) != 0)
        return HK_EDB;
    const char *p[] = { d->tenant, sched_now_text (d) };
    PGresult *res = hk_db_query (
        d->db,
        "SELECT c.debtor_id, min (c.invoice_id), d.time_zone, d.calendar, min (c.variant),"
        "  count (*), sum (i.outstanding_minor), min (i.currency)"
        " FROM collection c JOIN debtor d ON d.tenant = c.tenant AND d.debtor_id = c.debtor_id"
        " JOIN invoice i ON i.tenant = c.tenant AND i.invoice_id = c.invoice_id"
        " WHERE c.tenant = $1 AND c.state = 'active' AND i.status = 'open'"
        "  AND i.due_on < ($2::timestamptz AT TIME ZONE d.time_zone)::date"
        "  AND NOT d.do_not_contact AND NOT d.bankrupt AND d.reachability <> 'lost'"
        "  AND NOT EXISTS (SELECT 1 FROM contact k WHERE k.tenant = c.tenant"
        "   AND k.debtor_id = c.debtor_id AND k.kind = 'cadence' AND k.status = 'planned')"
        " GROUP BY c.debtor_id, d.time_zone, d.calendar ORDER BY c.debtor_id LIMIT 500",
        2, p);
    int n = res ? PQntuples (res) : 0, rc = res ? 0 : HK_EDB, planned = 0;
    int64_t now = hk_clock_now (d->clock);
    /* look from tomorrow: today's occurrence, if any, was the last one or is already past */
    for (int r = 0; r < n && rc == 0; r++) {
        const char *debtor = PQgetvalue (res, r, 0), *zone = PQgetvalue (res, r, 2);
        hk_local_t l;
        int64_t from;
        if (hk_tz_local (zone, now, &l) != 0 || hk_tz_instant (zone, l.date + 1, 0, &from) != 0)
            continue;
        /* an occurrence planned before (and cancelled with a settled debt) gives way to the
         * next one */
        for (int tries = 0; tries < 3 && rc == 0; tries++) {
            hk_slot_t slot;
            if (hk_timing_cadence (sched_calendar (d, PQgetvalue (res, r, 3)), zone, &s->timing,
                                   s->cadence_weekday, s->cadence_nth, from, &slot)
                != 0)
                break;
            hk_local_t on;
            char day[16], key[200], why[240];
            hk_tz_local (zone, slot.at_us, &on);
            hk_date_format (on.date, day, sizeof day);
            snprintf (key, sizeof key, "cadence:%s:%s", debtor, day);
            snprintf (why, sizeof why,
                      "regular statement: %s debt(s), %s %s outstanding (minor units)",
                      PQgetvalue (res, r, 5), PQgetvalue (res, r, 6), PQgetvalue (res, r, 7));
            sched_contact_t c = {
                .plan_key = key, .kind = "cadence", .debtor_id = debtor,
                .invoice_id = PQgetvalue (res, r, 1), .step = hk_step_name (HK_STEP_NOTICE),
                .channel = hk_config_str (d->config, "cadence_channel"),
                .due_at_us = slot.at_us, .rules = "R-S6", .reason = why, .timing = slot.why,
                .variant = atoi (PQgetvalue (res, r, 4)),
            };
            int k = sched_plan_contact (d, &c, NULL);
            rc = k < 0 ? k : 0;
            if (k > 0) {
                planned++;
                break;
            }
            if (hk_tz_instant (zone, on.date + 1, 0, &from) != 0)
                break;
        }
    }
    PQclear (res);
    if (rc == 0 && hk_db_commit (d->db) == 0)
        return planned;
    hk_db_rollback (d->db);
    return rc ? rc : HK_EDB;
}
