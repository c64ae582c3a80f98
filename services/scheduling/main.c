/* huikuan-scheduling: the collection strategy, timed by the doctrine, capped by the rules
 * (DOMAIN sections 4 and 5).
 *
 * Facts arrive as events and change debts' plans (this file); a review pass gives each debt
 * due for a decision its next ladder step from the tenant's strategy (review.c); a dispatch
 * pass hands due contacts to the channel queues once each, after the caps held centrally in
 * PostgreSQL allow them (dispatch.c). The strategy document and the calendars are data: the
 * shipped default strategy and the PRC calendar are built in, others are loaded from files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "huikuan/daemon.h"
#include "huikuan/dates.h"
#include "huikuan/digest.h"
#include "huikuan/errcodes.h"
#include "huikuan/files.h"
#include "huikuan/log.h"
#include "huikuan/metrics.h"
#include "sched.h"
#include "sched_data.h"

static const hk_cfg_entry_t s_config[] = {
    { "strategy_file", HK_CFG_STRING, "", 0, 0, HK_CFG_NORELOAD, NULL,
      "strategy document (JSON, deploy/strategies/README.md); empty: the built-in default" },
    { "calendar_dir", HK_CFG_STRING, "", 0, 0, HK_CFG_NORELOAD, NULL,
      "folder of <NAME>.cal calendars (deploy/calendars/README.md); CN is built in" },
    { "challenger", HK_CFG_BOOL, "true", 0, 0, 0, NULL,
      "run the strategy's challenger on its share of debtors; false: every new debt on the "
      "champion (debts already assigned keep their variant)" },
    { "weekday_ranking", HK_CFG_STRING, "fri,thu,tue", 0, 0, HK_CFG_NORELOAD, NULL,
      "contact weekdays, best first; the others are avoided (R-S1)" },
    { "workday_start", HK_CFG_INT, "540", 0, 1439, HK_CFG_NORELOAD, NULL,
      "debtors' working day starts, minutes after local midnight (R-S2)" },
    { "workday_end", HK_CFG_INT, "1080", 1, 1440, HK_CFG_NORELOAD, NULL,
      "debtors' working day ends, minutes after local midnight" },
    { "contact_window", HK_CFG_INT, "15", 1, 240, HK_CFG_NORELOAD, NULL,
      "contact within this many minutes after the working day starts (R-S2)" },
    { "lunch_start", HK_CFG_INT, "690", 0, 1439, HK_CFG_NORELOAD, NULL,
      "lunch and midday rest start, minutes after local midnight: never contact (R-S2)" },
    { "lunch_end", HK_CFG_INT, "840", 0, 1440, HK_CFG_NORELOAD, NULL,
      "lunch and midday rest end" },
    { "prefer_days", HK_CFG_INT, "3", 1, 10, HK_CFG_NORELOAD, NULL,
      "working days looked ahead for a better-ranked weekday (R-S1)" },
    { "max_phone_per_debt", HK_CFG_INT, "3", 0, 3, HK_CFG_NORELOAD, NULL,
      "phone reminders per debt before escalation, at most three (R-C2)" },
    { "max_visit_per_debt", HK_CFG_INT, "1", 0, 1, HK_CFG_NORELOAD, NULL,
      "visits per debt before escalation, at most one (R-C2)" },
    { "max_per_debtor_day", HK_CFG_INT, "2", 1, 20, HK_CFG_NORELOAD, NULL,
      "contacts of one debtor per local day (R-C2)" },
    { "max_per_debtor_week", HK_CFG_INT, "5", 1, 50, HK_CFG_NORELOAD, NULL,
      "contacts of one debtor per ISO week (R-C2)" },
    { "min_gap", HK_CFG_DURATION, "4h", 0, 7 * 86400000000LL, HK_CFG_NORELOAD, NULL,
      "least time between two contacts of one debtor (R-C2)" },
    { "promise_grace", HK_CFG_DURATION, "2h", 0, 30 * 86400000000LL, 0, NULL,
      "a promise is checked this long after its time (R-C5)" },
    { "promise_reminder_lead", HK_CFG_INT, "30", 0, 1440, 0, NULL,
      "minutes before a promised payment time for the reminder (R-S5)" },
    { "promise_reminder_channel", HK_CFG_STRING, "sms", 0, 0, 0, NULL,
      "channel of the reminder before a promised payment (R-S5)" },
    { "confirmation_channel", HK_CFG_STRING, "email", 0, 0, 0, NULL,
      "channel of the written confirmation of a promise (R-C5)" },
    { "remainder_channel", HK_CFG_STRING, "sms", 0, 0, 0, NULL,
      "channel of the thanks-and-remainder message after a partial payment (R-C6)" },
    { "remainder_days", HK_CFG_INT, "7", 1, 90, 0, NULL,
      "days given for the remainder after a partial payment (R-C6)" },
    { "incoming_days_before", HK_CFG_INT, "3", 0, 30, 0, NULL,
      "contact this many days before a known incoming payment (R-S3)" },
    { "incoming_channel", HK_CFG_STRING, "phone", 0, 0, 0, NULL,
      "channel of the contact before a known incoming payment (R-S3)" },
    { "cadence", HK_CFG_STRING, "", 0, 0, HK_CFG_NORELOAD, NULL,
      "regular statement to debtors who owe, as WEEKDAY:N, e.g. fri:1 for the first Friday of "
      "each month, fri:-1 for the last (R-S6); empty: none" },
    { "cadence_channel", HK_CFG_STRING, "email", 0, 0, 0, NULL,
      "channel of the regular statement (R-S6)" },
    { "review_batch", HK_CFG_INT, "500", 1, 100000, 0, NULL,
      "debts reviewed per transaction" },
    { "dispatch_batch", HK_CFG_INT, "1000", 1, 100000, 0, NULL,
      "due contacts dispatched per transaction" },
    { "dispatch_slice", HK_CFG_DURATION, "500ms", 0, 10000000LL, 0, NULL,
      "a tick dispatches batch after batch while due contacts remain, for up to this long, "
      "before the daemon relays its events and reads its queues again; 0: one batch a tick" },
    { 0 },
};

static const char *const s_consumes[] = {
    "invoice.recorded", "invoice.aged",    "invoice.settled",           "payment.recorded",
    "promise.recorded", "dispute.recorded", "incoming_payment.recorded", "debtor.recorded",
    "contact_outcome.recorded", "debtor.graded", NULL,
};

int
sched_variant (hk_daemon_t *d, const char *debtor)
{
    sched_t *s = sched_of (d);
    return hk_config_bool (d->config, "challenger")
               ? hk_strategy_variant (s->strategy, d->tenant, debtor)
               : 0;
}

const char *
sched_now_text (hk_daemon_t *d)
{
    sched_t *s = sched_of (d);
    hk_time_format (hk_clock_now (d->clock), s->now_text, sizeof s->now_text);
    return s->now_text;
}

/* ---------------------------------------------------------------------------------------
 * Strategy and calendars
 */

/* Stores the strategy document as the next version unless this very text is stored already. */
static int
s_store_strategy (hk_daemon_t *d, const char *text, size_t len)
{
    sched_t *s = sched_of (d);
    char sha[HK_SHA256_HEX_LEN];
    if (hk_sha256_hex (text, len, sha) != 0)
        return HK_EINVAL;
    char *body = strndup (text, len);
    if (!body)
        return HK_ENOMEM;
    const char *p[] = { d->tenant, hk_strategy_name (s->strategy), body, sha };
    int rc = hk_db_begin (d->db);
    /* serialise two instances starting together */
    if (rc == 0 && hk_db_exec (d->db, "LOCK TABLE strategy IN SHARE ROW EXCLUSIVE MODE", 0, NULL) < 0)
        rc = HK_EDB;
    PGresult *res = NULL;
    if (rc == 0) {
        res = hk_db_query (d->db,
                           "WITH found AS (SELECT version FROM strategy WHERE tenant = $1"
                           "  AND name = $2 AND sha256 = $4),"
                           " added AS (INSERT INTO strategy (tenant, name, version, body, sha256)"
                           "  SELECT $1, $2, coalesce ((SELECT max (version) FROM strategy"
                           "   WHERE tenant = $1 AND name = $2), 0) + 1, $3::jsonb, $4"
                           "  WHERE NOT EXISTS (SELECT 1 FROM found) RETURNING version)"
                           " SELECT version FROM found UNION ALL SELECT version FROM added",
                           4, p);
        if (!res || PQntuples (res) != 1)
            rc = HK_EDB;
    }
    if (rc == 0)
        s->strategy_version = atoi (PQgetvalue (res, 0, 0));
    PQclear (res);
    free (body);
    if (rc == 0)
        rc = hk_db_commit (d->db);
    else
        hk_db_rollback (d->db);
    return rc;
}

static int
s_load_strategy (hk_daemon_t *d)
{
    sched_t *s = sched_of (d);
    const char *path = hk_config_str (d->config, "strategy_file");
    char *owned = NULL;
    const char *text = hk_sched_default_strategy;
    size_t len = hk_sched_default_strategy_len;
    if (*path) {
        FILE *f = fopen (path, "rb");
        int rrc = f ? hk_file_read_all (f, 1 << 20, &owned, &len) : HK_EINVAL;
        if (f)
            fclose (f);
        if (rrc != 0) {
            HK_LOG (HK_ERROR, "strategy.unreadable", HK_S ("file", path));
            return HK_EINVAL;
        }
        text = owned;
    }
    char err[256] = "";
    int rc = hk_strategy_parse (text, len, &s->strategy, err, sizeof err);
    if (rc != 0)
        HK_LOG (HK_ERROR, "strategy.invalid", HK_S ("file", *path ? path : "(built in)"),
                HK_S ("error", err));
    else
        rc = s_store_strategy (d, text, len);
    if (rc == 0)
        HK_LOG (HK_INFO, "strategy.loaded", HK_S ("name", hk_strategy_name (s->strategy)),
                HK_I ("version", s->strategy_version),
                HK_S ("challenger", hk_strategy_variant_name (s->strategy, 1)));
    free (owned);
    return rc;
}

const hk_calendar_t *
sched_calendar (hk_daemon_t *d, const char *name)
{
    sched_t *s = sched_of (d);
    if (!name || !*name)
        name = "CN";
    for (int i = 0; i < s->n_calendars; i++)
        if (strcmp (s->calendars[i].name, name) == 0)
            return s->calendars[i].cal;
    /* first use of this calendar: built in, or <calendar_dir>/<NAME>.cal, or weekdays only */
    if (s->n_calendars == SCHED_MAX_CALENDARS)
        return s->calendars[0].cal;
    hk_calendar_t *cal = hk_calendar_new ();
    if (!cal)
        return s->calendars[0].cal;
    char err[200] = "";
    const char *dir = hk_config_str (d->config, "calendar_dir");
    bool safe = strspn (name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
                == strlen (name) && strlen (name) < sizeof s->calendars[0].name;
    int rc = HK_EINVAL;
    if (safe && *dir) {
        char path[1024];
        snprintf (path, sizeof path, "%s/%s.cal", dir, name);
        rc = hk_calendar_load_file (cal, path, err, sizeof err);
    }
    if (rc != 0 && strcmp (name, "CN") == 0)
        rc = hk_calendar_load_text (cal, hk_sched_calendar_cn, hk_sched_calendar_cn_len, err,
                                    sizeof err);
    if (rc != 0)
        HK_LOG (HK_WARN, "calendar.missing", HK_S ("calendar", name), HK_S ("error", err),
                HK_S ("using", "Monday to Friday, no public holidays"));
    else {
        /* the holidays of the coming quarter should be known before contacts are planned in
         * it (CN.cal: add the year when the State Council's notice is out) */
        int32_t today = (int32_t) (hk_clock_now (d->clock) / HK_US_PER_DAY);
        for (int32_t day = today; day <= today + 90; day += 90)
            if (!hk_calendar_covers (cal, day)) {
                char date[11];
                hk_date_format (day, date, sizeof date);
                HK_LOG (HK_WARN, "calendar.not_covered", HK_S ("calendar", name),
                        HK_S ("date", date),
                        HK_S ("effect", "holidays may be incomplete: add the year's notice"));
                break;
            }
    }
    sched_calendar_t *slot = &s->calendars[s->n_calendars++];
    snprintf (slot->name, sizeof slot->name, "%s", safe ? name : "?");
    slot->cal = cal;
    return cal;
}

/* ---------------------------------------------------------------------------------------
 * Facts that change plans
 */

/* The debtor's zone and calendar name; 0, or 1 when the debtor is unknown. */
static int
s_debtor_place (hk_daemon_t *d, const char *debtor, char *zone, size_t zlen, char *cal,
                size_t clen)
{
    const char *p[] = { d->tenant, debtor };
    PGresult *res = hk_db_query (d->db,
                                 "SELECT time_zone, calendar FROM debtor"
                                 " WHERE tenant = $1 AND debtor_id = $2",
                                 2, p);
    if (!res)
        return HK_EDB;
    int rc = PQntuples (res) == 1 ? 0 : 1;
    if (rc == 0) {
        snprintf (zone, zlen, "%s", PQgetvalue (res, 0, 0));
        snprintf (cal, clen, "%s", PQgetvalue (res, 0, 1));
    }
    PQclear (res);
    return rc;
}

/* A debt enters collection (or is looked at again): reviewed at once unless a contact is
 * pending or it is not active. */
static int
s_track_invoice (hk_daemon_t *d, const char *invoice, const char *debtor)
{
    sched_t *s = sched_of (d);
    char version[16], variant[4];
    snprintf (version, sizeof version, "%d", s->strategy_version);
    snprintf (variant, sizeof variant, "%d", sched_variant (d, debtor));
    const char *p[] = { d->tenant, invoice, debtor, hk_strategy_name (s->strategy), version,
                        variant, sched_now_text (d) };
    return hk_db_exec (d->db,
                       "INSERT INTO collection AS c (tenant, invoice_id, debtor_id, strategy,"
                       " strategy_version, variant, next_review_at, opened_at)"
                       " SELECT $1, $2, $3, $4, $5::int, $6::smallint, $7::timestamptz,"
                       "  $7::timestamptz"
                       "  FROM invoice WHERE tenant = $1 AND invoice_id = $2 AND status = 'open'"
                       " ON CONFLICT (tenant, invoice_id) DO UPDATE"
                       "  SET next_review_at = $7::timestamptz, updated_at = now()"
                       "  WHERE c.state = 'active' AND c.pending_contact IS NULL",
                       7, p)
                   < 0
               ? HK_EDB
               : 0;
}

static int
s_on_settled (hk_daemon_t *d, const Huikuan__V1__InvoiceSettled *ev)
{
    const char *p[] = { d->tenant, ev->invoice_id, sched_now_text (d) };
    if (hk_db_exec (d->db,
                    "UPDATE collection SET state = 'settled', state_reason = 'paid',"
                    " settled_at = $3::timestamptz, pending_contact = NULL,"
                    " next_review_at = NULL, updated_at = now()"
                    " WHERE tenant = $1 AND invoice_id = $2",
                    3, p)
        < 0)
        return HK_EDB;
    int n = sched_cancel (d, SCHED_SCOPE_INVOICE, ev->invoice_id, ev->debtor_id,
                          "invoice settled", "R-C1");
    return n < 0 ? n : 0;
}

/* R-C6: a part arrived: thank, and remind of the remainder with a date. */
static int
s_on_payment (hk_daemon_t *d, const Huikuan__V1__Envelope *env,
              const Huikuan__V1__PaymentRecorded *ev)
{
    for (size_t i = 0; i < ev->n_allocations; i++) {
        const Huikuan__V1__Allocation *a = ev->allocations[i];
        const char *p[] = { d->tenant, a->invoice_id };
        PGresult *res = hk_db_query (d->db,
                                     "SELECT i.outstanding_minor, i.currency, i.debtor_id,"
                                     "  d.time_zone, d.calendar,"
                                     "  coalesce (c.variant, 0), c.pending_contact"
                                     " FROM invoice i JOIN debtor d ON d.tenant = i.tenant"
                                     "  AND d.debtor_id = i.debtor_id"
                                     " LEFT JOIN collection c ON c.tenant = i.tenant"
                                     "  AND c.invoice_id = i.invoice_id"
                                     " WHERE i.tenant = $1 AND i.invoice_id = $2"
                                     "  AND i.status = 'open' AND i.outstanding_minor > 0",
                                     2, p);
        if (!res)
            return HK_EDB;
        if (PQntuples (res) == 0) {
            PQclear (res);
            continue; /* settled (its event cancels) or unknown */
        }
        char debtor[128], zone[72], cal[16], pending[40], remain[32], currency[4];
        snprintf (remain, sizeof remain, "%s", PQgetvalue (res, 0, 0));
        snprintf (currency, sizeof currency, "%s", PQgetvalue (res, 0, 1));
        snprintf (debtor, sizeof debtor, "%s", PQgetvalue (res, 0, 2));
        snprintf (zone, sizeof zone, "%s", PQgetvalue (res, 0, 3));
        snprintf (cal, sizeof cal, "%s", PQgetvalue (res, 0, 4));
        int variant = atoi (PQgetvalue (res, 0, 5));
        snprintf (pending, sizeof pending, "%s", PQgetvalue (res, 0, 6));
        PQclear (res);

        /* the planned step asked for the full amount: it gives way to the remainder message */
        if (*pending && sched_cancel (d, SCHED_SCOPE_CONTACT, pending, debtor,
                                      "partial payment: remainder message instead", "R-C6")
                            < 0)
            return HK_EDB;
        int64_t now = hk_clock_now (d->clock);
        int64_t deadline = now + hk_config_int (d->config, "remainder_days") * HK_US_PER_DAY;
        hk_local_t dl;
        char by[16] = "";
        if (hk_tz_local (zone, deadline, &dl) == 0)
            hk_date_format (dl.date, by, sizeof by);
        hk_slot_t slot;
        if (hk_timing_next_allowed (sched_calendar (d, cal), zone, &sched_of (d)->timing, now,
                                    &slot)
            != 0) {
            HK_LOG (HK_WARN, "plan.bad_zone", HK_S ("debtor", debtor), HK_S ("zone", zone));
            continue;
        }
        char key[256], reason[240];
        snprintf (key, sizeof key, "%s:remainder:%s", a->invoice_id, ev->payment_id);
        snprintf (reason, sizeof reason,
                  "partial payment %s received: thank, and ask for the remaining %s %s by %s",
                  ev->payment_id, remain, currency, by);
        sched_contact_t c = {
            .plan_key = key, .kind = "remainder", .debtor_id = debtor,
            .invoice_id = a->invoice_id, .step = hk_step_name (HK_STEP_NOTICE),
            .channel = hk_config_str (d->config, "remainder_channel"), .due_at_us = slot.at_us,
            .rules = "R-C6", .reason = reason, .timing = slot.why, .variant = variant,
            .trace_id = env->trace_id,
        };
        if (sched_plan_contact (d, &c, NULL) < 0)
            return HK_EDB;
        char dl_s[40];
        hk_time_format (deadline, dl_s, sizeof dl_s);
        const char *up[] = { d->tenant, a->invoice_id, dl_s };
        if (hk_db_exec (d->db,
                        "UPDATE collection SET next_review_at = $3::timestamptz,"
                        " pending_contact = NULL, updated_at = now()"
                        " WHERE tenant = $1 AND invoice_id = $2 AND state = 'active'",
                        3, up)
            < 0)
            return HK_EDB;
    }
    return 0;
}

/* R-C5 / R-S5: confirm in writing, remind at T - 30 min, check at T + grace; the ladder of
 * the debts it covers waits for the check. */
static int
s_on_promise (hk_daemon_t *d, const Huikuan__V1__Envelope *env,
              const Huikuan__V1__PromiseRecorded *ev)
{
    char grace[24];
    snprintf (grace, sizeof grace, "%lld", (long long) hk_config_int (d->config, "promise_grace"));
    const char *p[] = { d->tenant, ev->promise_id, grace };
    PGresult *res = hk_db_query (d->db,
                                 "UPDATE promise SET check_at = promised_at"
                                 "  + ($3::bigint * interval '1 microsecond'), updated_at = now()"
                                 " WHERE tenant = $1 AND promise_id = $2 AND status = 'open'"
                                 " RETURNING check_at, coalesce (invoice_id, '')",
                                 3, p);
    if (!res)
        return HK_EDB;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return 0;
    }
    char check_at[64], invoice[128];
    snprintf (check_at, sizeof check_at, "%s", PQgetvalue (res, 0, 0));
    snprintf (invoice, sizeof invoice, "%s", PQgetvalue (res, 0, 1));
    PQclear (res);

    char zone[72], cal[16];
    int rc = s_debtor_place (d, ev->debtor_id, zone, sizeof zone, cal, sizeof cal);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    /* the contact row needs a debt: the promised one, else the debtor's oldest open one */
    if (!*invoice) {
        const char *q[] = { d->tenant, ev->debtor_id };
        res = hk_db_query (d->db,
                           "SELECT invoice_id FROM invoice WHERE tenant = $1 AND debtor_id = $2"
                           " AND status = 'open' ORDER BY due_on, invoice_id LIMIT 1",
                           2, q);
        if (!res)
            return HK_EDB;
        if (PQntuples (res) == 1)
            snprintf (invoice, sizeof invoice, "%s", PQgetvalue (res, 0, 0));
        PQclear (res);
        if (!*invoice)
            return 0; /* nothing open: nothing to chase */
    }

    /* the ladder waits: pending steps of the covered debts are withdrawn */
    const char *scope_id = ev->invoice_id && *ev->invoice_id ? ev->invoice_id : ev->debtor_id;
    sched_scope_t scope = ev->invoice_id && *ev->invoice_id ? SCHED_SCOPE_INVOICE
                                                             : SCHED_SCOPE_DEBTOR;
    const char *wp[] = { d->tenant, scope_id, check_at };
    if (hk_db_exec (d->db,
                    scope == SCHED_SCOPE_INVOICE
                        ? "UPDATE collection SET next_review_at = $3::timestamptz,"
                          " updated_at = now() WHERE tenant = $1 AND invoice_id = $2"
                          " AND state = 'active'"
                        : "UPDATE collection SET next_review_at = $3::timestamptz,"
                          " updated_at = now() WHERE tenant = $1 AND debtor_id = $2"
                          " AND state = 'active'",
                    3, wp)
        < 0)
        return HK_EDB;
    rc = sched_cancel (d,
                       scope == SCHED_SCOPE_INVOICE ? SCHED_SCOPE_PENDING_INVOICE
                                                    : SCHED_SCOPE_PENDING_DEBTOR,
                       scope_id, ev->debtor_id,
                       "promise to pay recorded: the ladder waits for its check", "R-C5");
    if (rc < 0)
        return rc;

    sched_t *s = sched_of (d);
    const hk_calendar_t *calendar = sched_calendar (d, cal);
    int64_t now = hk_clock_now (d->clock);
    int variant = sched_variant (d, ev->debtor_id);
    hk_slot_t confirm, remind;
    if (hk_timing_next_allowed (calendar, zone, &s->timing, now, &confirm) != 0
        || hk_timing_promise_reminder (calendar, zone, &s->timing, ev->promised_at_us,
                                       (int) hk_config_int (d->config, "promise_reminder_lead"),
                                       now, &remind)
               != 0) {
        HK_LOG (HK_WARN, "plan.bad_zone", HK_S ("debtor", ev->debtor_id), HK_S ("zone", zone));
        return 0;
    }
    char amount[48], at[40], key1[256], key2[256], why1[240], why2[240];
    snprintf (amount, sizeof amount, "%lld %s", (long long) (ev->amount ? ev->amount->minor : 0),
              ev->amount ? ev->amount->currency : "");
    hk_time_format (ev->promised_at_us, at, sizeof at);
    /* keyed by the promised time: a promise moved to another time is confirmed again */
    snprintf (key1, sizeof key1, "promise:%s:%lld:confirm", ev->promise_id,
              (long long) ev->promised_at_us);
    snprintf (key2, sizeof key2, "promise:%s:%lld:remind", ev->promise_id,
              (long long) ev->promised_at_us);
    snprintf (why1, sizeof why1, "confirm in writing the promise to pay %s (minor units) at %s",
              amount, at);
    snprintf (why2, sizeof why2, "remind %d minutes before the promised payment of %s at %s",
              (int) hk_config_int (d->config, "promise_reminder_lead"), amount, at);
    sched_contact_t c1 = {
        .plan_key = key1, .kind = "confirmation", .debtor_id = ev->debtor_id,
        .invoice_id = invoice, .step = hk_step_name (HK_STEP_NOTICE),
        .channel = hk_config_str (d->config, "confirmation_channel"), .due_at_us = confirm.at_us,
        .rules = "R-C5", .reason = why1, .timing = confirm.why, .promise_id = ev->promise_id,
        .variant = variant, .trace_id = env->trace_id,
    };
    sched_contact_t c2 = c1;
    c2.plan_key = key2;
    c2.kind = "promise_reminder";
    c2.channel = hk_config_str (d->config, "promise_reminder_channel");
    c2.due_at_us = remind.at_us;
    c2.rules = "R-S5,R-C5";
    c2.reason = why2;
    c2.timing = remind.why;
    /* an earlier time of the same promise is no longer reminded */
    const char *op[] = { d->tenant, ev->promise_id, key2, "promise moved: reminder replaced" };
    if (hk_db_exec (d->db,
                    "UPDATE contact SET status = 'cancelled', reason = $4, updated_at = now()"
                    " WHERE tenant = $1 AND promise_id = $2 AND kind = 'promise_reminder'"
                    "  AND status = 'planned' AND plan_key <> $3",
                    4, op)
        < 0)
        return HK_EDB;
    if (sched_plan_contact (d, &c1, NULL) < 0 || sched_plan_contact (d, &c2, NULL) < 0)
        return HK_EDB;
    return 0;
}

/* R-C8: a dispute pauses collection on the disputed amount; resolution resumes it. */
static int
s_on_dispute (hk_daemon_t *d, const Huikuan__V1__DisputeRecorded *ev)
{
    const char *p[] = { d->tenant, ev->invoice_id };
    PGresult *res = hk_db_query (
        d->db,
        "SELECT i.outstanding_minor - coalesce ((SELECT sum (coalesce (x.amount_minor,"
        "   i.outstanding_minor)) FROM dispute x WHERE x.tenant = i.tenant"
        "   AND x.invoice_id = i.invoice_id AND x.status = 'open'), 0)"
        " FROM invoice i WHERE i.tenant = $1 AND i.invoice_id = $2 AND i.status = 'open'",
        2, p);
    if (!res)
        return HK_EDB;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return 0;
    }
    long long undisputed = atoll (PQgetvalue (res, 0, 0));
    PQclear (res);
    int rc = 0;
    if (undisputed <= 0) {
        if (hk_db_exec (d->db,
                        "UPDATE collection SET state = 'paused', state_reason = 'dispute (R-C8)',"
                        " next_review_at = NULL, updated_at = now()"
                        " WHERE tenant = $1 AND invoice_id = $2 AND state = 'active'",
                        2, p)
            < 0)
            return HK_EDB;
        rc = sched_cancel (d, SCHED_SCOPE_INVOICE, ev->invoice_id, ev->debtor_id,
                           "disputed: collection paused until resolved", "R-C8");
        return rc < 0 ? rc : 0;
    }
    /* resolved, or only a part disputed: collect what is not disputed, reviewed now */
    if (hk_db_exec (d->db,
                    "UPDATE collection SET state = 'active', state_reason = NULL,"
                    " updated_at = now() WHERE tenant = $1 AND invoice_id = $2"
                    " AND state = 'paused' AND state_reason = 'dispute (R-C8)'",
                    2, p)
        < 0)
        return HK_EDB;
    if (ev->status && strcmp (ev->status, "open") == 0) {
        /* the pending step may have asked for the disputed part too: plan it anew */
        rc = sched_cancel (d, SCHED_SCOPE_PENDING_INVOICE, ev->invoice_id, ev->debtor_id,
                           "part disputed: the undisputed amount is asked for", "R-C8");
        if (rc < 0)
            return rc;
    }
    return s_track_invoice (d, ev->invoice_id, ev->debtor_id);
}

/* R-S3: contact three days before a known incoming payment of a debtor who owes. */
static int
s_on_incoming (hk_daemon_t *d, const Huikuan__V1__Envelope *env,
               const Huikuan__V1__IncomingPaymentRecorded *ev)
{
    int32_t date;
    if (hk_date_parse (ev->expected_on, &date) != 0)
        return 0;
    const char *p[] = { d->tenant, ev->debtor_id };
    PGresult *res = hk_db_query (d->db,
                                 "SELECT i.invoice_id, d.time_zone, d.calendar,"
                                 "  sum (i.outstanding_minor) OVER (), i.currency, c.variant"
                                 " FROM invoice i JOIN debtor d ON d.tenant = i.tenant"
                                 "  AND d.debtor_id = i.debtor_id"
                                 " JOIN collection c ON c.tenant = i.tenant"
                                 "  AND c.invoice_id = i.invoice_id AND c.state = 'active'"
                                 " WHERE i.tenant = $1 AND i.debtor_id = $2 AND i.status = 'open'"
                                 "  AND NOT d.do_not_contact AND NOT d.bankrupt"
                                 " ORDER BY i.due_on, i.invoice_id LIMIT 1",
                                 2, p);
    if (!res)
        return HK_EDB;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return 0;
    }
    char invoice[128], zone[72], cal[16], why[240], key[256];
    snprintf (invoice, sizeof invoice, "%s", PQgetvalue (res, 0, 0));
    snprintf (zone, sizeof zone, "%s", PQgetvalue (res, 0, 1));
    snprintf (cal, sizeof cal, "%s", PQgetvalue (res, 0, 2));
    snprintf (why, sizeof why, "known incoming payment on %s: ask for %s %s before other "
              "creditors", ev->expected_on, PQgetvalue (res, 0, 3), PQgetvalue (res, 0, 4));
    int variant = atoi (PQgetvalue (res, 0, 5));
    PQclear (res);
    hk_slot_t slot;
    if (hk_timing_before_date (sched_calendar (d, cal), zone, &sched_of (d)->timing, date,
                               (int) hk_config_int (d->config, "incoming_days_before"),
                               hk_clock_now (d->clock), &slot)
        != 0)
        return 0;
    snprintf (key, sizeof key, "incoming:%s:%s", ev->debtor_id, ev->expected_on);
    const char *channel = hk_config_str (d->config, "incoming_channel");
    hk_step_t step = strcmp (channel, "phone") == 0 ? HK_STEP_PHONE : HK_STEP_NOTICE;
    sched_contact_t c = {
        .plan_key = key, .kind = "incoming", .debtor_id = ev->debtor_id, .invoice_id = invoice,
        .step = hk_step_name (step), .channel = channel, .due_at_us = slot.at_us,
        .rules = "R-S3", .reason = why, .timing = slot.why, .variant = variant,
        .trace_id = env->trace_id,
    };
    return sched_plan_contact (d, &c, NULL) < 0 ? HK_EDB : 0;
}

/* Do-not-contact and bankruptcy stop contact; a debtor gone lost is traced (R-A8). */
static int
s_on_debtor (hk_daemon_t *d, const Huikuan__V1__DebtorRecorded *ev)
{
    const char *p[] = { d->tenant, ev->debtor_id };
    PGresult *res = hk_db_query (d->db,
                                 "SELECT do_not_contact, bankrupt, reachability FROM debtor"
                                 " WHERE tenant = $1 AND debtor_id = $2",
                                 2, p);
    if (!res)
        return HK_EDB;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return 0;
    }
    bool dnc = PQgetvalue (res, 0, 0)[0] == 't', bankrupt = PQgetvalue (res, 0, 1)[0] == 't';
    bool lost = strcmp (PQgetvalue (res, 0, 2), "reachable") != 0;
    PQclear (res);
    if (dnc || bankrupt) {
        const char *why = dnc ? "do not contact" : "bankrupt: claims go through the proceedings";
        const char *sp[] = { d->tenant, ev->debtor_id, why };
        if (hk_db_exec (d->db,
                        "UPDATE collection SET state = 'stopped', state_reason = $3,"
                        " next_review_at = NULL, updated_at = now()"
                        " WHERE tenant = $1 AND debtor_id = $2 AND state IN ('active', 'paused')",
                        3, sp)
            < 0)
            return HK_EDB;
        int n = sched_cancel (d, SCHED_SCOPE_DEBTOR, ev->debtor_id, ev->debtor_id, why, "");
        return n < 0 ? n : 0;
    }
    /* flags cleared: collection resumes */
    const char *rp[] = { d->tenant, ev->debtor_id, sched_now_text (d) };
    if (hk_db_exec (d->db,
                    "UPDATE collection SET state = 'active', state_reason = NULL,"
                    " next_review_at = $3::timestamptz, updated_at = now()"
                    " WHERE tenant = $1 AND debtor_id = $2 AND state = 'stopped'",
                    3, rp)
        < 0)
        return HK_EDB;
    if (lost) {
        /* planned contacts to an unreachable debtor give way to tracing (R-A8) */
        int rc = sched_cancel (d, SCHED_SCOPE_PENDING_DEBTOR_UNTRACED, ev->debtor_id,
                               ev->debtor_id, "debtor not reachable: tracing first", "R-A8");
        return rc < 0 ? rc : 0;
    }
    return 0;
}

/* R-A7: a signal raised on a debtor asks for settlement now. Its overdue debts past their
 * first rung give up their pending step and are reviewed at once; the review sees the signal
 * (hk_debt_view_t.signal_at_us) and takes the next rung without its wait. */
static int
s_on_graded (hk_daemon_t *d, const Huikuan__V1__DebtorGraded *ev)
{
    if (!ev->signal_raised)
        return 0;
    const char *p[] = { d->tenant, ev->debtor_id };
    PGresult *res = hk_db_query (d->db,
                                 "SELECT invoice_id FROM collection WHERE tenant = $1"
                                 " AND debtor_id = $2 AND state = 'active'"
                                 " AND last_step NOT IN ('none', 'pre_due_reminder')"
                                 " ORDER BY invoice_id",
                                 2, p);
    if (!res)
        return HK_EDB;
    int rc = 0;
    for (int r = 0; r < PQntuples (res) && rc == 0; r++) {
        const char *invoice = PQgetvalue (res, r, 0);
        int n = sched_cancel (d, SCHED_SCOPE_PENDING_INVOICE, invoice, ev->debtor_id,
                              "an early-warning signal: settlement requested now", "R-A7");
        const char *up[] = { d->tenant, invoice, sched_now_text (d) };
        if (n < 0)
            rc = n;
        else if (hk_db_exec (d->db,
                             "UPDATE collection SET next_review_at = $3::timestamptz,"
                             " updated_at = now()"
                             " WHERE tenant = $1 AND invoice_id = $2 AND state = 'active'",
                             3, up)
                 < 0)
            rc = HK_EDB;
    }
    if (rc == 0 && PQntuples (res) > 0)
        HK_LOG (HK_INFO, "plan.signal", HK_S ("debtor", ev->debtor_id),
                HK_I ("debts", PQntuples (res)));
    PQclear (res);
    return rc;
}

static int
s_on_event (hk_daemon_t *d, const Huikuan__V1__Envelope *env)
{
    ProtobufCMessage *msg = hk_payload_unpack (env);
    if (!msg)
        return 0;
    int rc = 0;
    const char *t = env->type;
    if (strcmp (t, "invoice.recorded") == 0) {
        const Huikuan__V1__InvoiceRecorded *ev = (void *) msg;
        rc = s_track_invoice (d, ev->invoice_id, ev->debtor_id);
    } else if (strcmp (t, "invoice.aged") == 0) {
        const Huikuan__V1__InvoiceAged *ev = (void *) msg;
        rc = s_track_invoice (d, ev->invoice_id, ev->debtor_id);
    } else if (strcmp (t, "invoice.settled") == 0)
        rc = s_on_settled (d, (void *) msg);
    else if (strcmp (t, "payment.recorded") == 0)
        rc = s_on_payment (d, env, (void *) msg);
    else if (strcmp (t, "promise.recorded") == 0)
        rc = s_on_promise (d, env, (void *) msg);
    else if (strcmp (t, "dispute.recorded") == 0)
        rc = s_on_dispute (d, (void *) msg);
    else if (strcmp (t, "incoming_payment.recorded") == 0)
        rc = s_on_incoming (d, env, (void *) msg);
    else if (strcmp (t, "debtor.recorded") == 0)
        rc = s_on_debtor (d, (void *) msg);
    else if (strcmp (t, "contact_outcome.recorded") == 0)
        rc = sched_on_outcome (d, (void *) msg);
    else if (strcmp (t, "debtor.graded") == 0)
        rc = s_on_graded (d, (void *) msg);
    hk_payload_destroy (&msg);
    return rc;
}

/* Monotonic microseconds, for the dispatch slice (the fleet clock may stand still or jump). */
static int64_t
s_mono_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
s_on_tick (hk_daemon_t *d)
{
    int done = 0, rc;
    if ((rc = sched_check_promises (d)) < 0)
        return rc;
    done += rc;
    if ((rc = sched_review (d)) < 0)
        return rc;
    done += rc;
    if ((rc = sched_cadence (d)) < 0)
        return rc;
    done += rc;
    /* a burst of due contacts goes out batch after batch (each its own transaction) for up to
     * dispatch_slice, rather than one batch per turn of the daemon's loop, whose relay and
     * queue reads would otherwise come between every two batches; a batch short of
     * dispatch_batch does not end the burst (another instance may hold some of its debtors) */
    int64_t batch = hk_config_int (d->config, "dispatch_batch");
    int64_t until = s_mono_us () + hk_config_int (d->config, "dispatch_slice");
    sched_t *s = sched_of (d);
    sched_dispatch_share (d, s_mono_us ());
    int taken;
    do {
        /* Scheduler instances of a tenant split the debtors between them (a share each, by
         * the directory), so that in a burst each walks its own contacts rather than the
         * same ones, skipping what the other claimed; once its share is short of a batch it
         * takes any due contact, so contacts in the share of an instance that died (or of one
         * not yet seen) still go out. The locks, not the shares, keep contacts once each. */
        if ((rc = sched_dispatch (d, true, &taken)) < 0)
            return rc;
        done += rc;
        if (taken < batch && s->share_n > 1) {
            int more;
            if ((rc = sched_dispatch (d, false, &more)) < 0)
                return rc;
            done += rc;
            taken += more;
        }
    } while (taken > 0 && s_mono_us () < until);
    return done;
}

/* ---------------------------------------------------------------------------------------
 * Start and stop
 */

static int
s_policy (hk_daemon_t *d, sched_t *s)
{
    char why[200] = "";
    hk_timing_default (&s->timing);
    s->timing.workday_start_min = (int) hk_config_int (d->config, "workday_start");
    s->timing.workday_end_min = (int) hk_config_int (d->config, "workday_end");
    s->timing.window_min = (int) hk_config_int (d->config, "contact_window");
    s->timing.lunch_start_min = (int) hk_config_int (d->config, "lunch_start");
    s->timing.lunch_end_min = (int) hk_config_int (d->config, "lunch_end");
    s->timing.prefer_days = (int) hk_config_int (d->config, "prefer_days");
    if (hk_timing_set_ranking (&s->timing, hk_config_str (d->config, "weekday_ranking")) != 0) {
        HK_LOG (HK_ERROR, "config.invalid", HK_S ("key", "weekday_ranking"));
        return HK_EINVAL;
    }
    if (hk_timing_validate (&s->timing, why, sizeof why) != 0) {
        HK_LOG (HK_ERROR, "config.invalid", HK_S ("key", "timing"), HK_S ("error", why));
        return HK_EINVAL;
    }
    const char *cadence = hk_config_str (d->config, "cadence");
    if (*cadence) {
        static const char *const days[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
        char day[8] = "";
        int nth = 0, n = 0;
        if (sscanf (cadence, "%3[a-z]:%d%n", day, &nth, &n) == 2 && cadence[n] == '\0'
            && nth != 0 && nth >= -1 && nth <= 5)
            for (int i = 0; i < 7; i++)
                if (strcmp (day, days[i]) == 0)
                    s->cadence_weekday = i + 1;
        if (!s->cadence_weekday) {
            HK_LOG (HK_ERROR, "config.invalid", HK_S ("key", "cadence"),
                    HK_S ("error", "want WEEKDAY:N, e.g. fri:1 (first Friday) or fri:-1 (last)"));
            return HK_EINVAL;
        }
        s->cadence_nth = nth;
    }
    hk_caps_default (&s->caps);
    s->caps.max_phone_per_debt = (int) hk_config_int (d->config, "max_phone_per_debt");
    s->caps.max_visit_per_debt = (int) hk_config_int (d->config, "max_visit_per_debt");
    s->caps.max_per_debtor_day = (int) hk_config_int (d->config, "max_per_debtor_day");
    s->caps.max_per_debtor_week = (int) hk_config_int (d->config, "max_per_debtor_week");
    s->caps.min_gap_us = hk_config_int (d->config, "min_gap");
    if (hk_caps_validate (&s->caps, why, sizeof why) != 0) {
        HK_LOG (HK_ERROR, "config.invalid", HK_S ("key", "caps"), HK_S ("error", why));
        return HK_EINVAL;
    }
    return 0;
}

static int
s_init (hk_daemon_t *d)
{
    sched_t *s = calloc (1, sizeof *s);
    if (!s)
        return HK_ENOMEM;
    d->state = s;
    int rc = s_policy (d, s);
    if (rc == 0)
        rc = s_load_strategy (d);
    if (rc == 0)
        (void) sched_calendar (d, "CN"); /* the default calendar is slot 0 */
    return rc;
}

static void
s_fini (hk_daemon_t *d)
{
    sched_t *s = sched_of (d);
    if (!s)
        return;
    hk_strategy_free (s->strategy);
    for (int i = 0; i < s->n_calendars; i++)
        hk_calendar_free (s->calendars[i].cal);
    free (s);
    d->state = NULL;
}

int
main (int argc, char **argv)
{
    static const hk_daemon_def_t def = {
        .kind = "scheduling",
        .summary = "Plans who is contacted, through which channel and when (the tenant's "
                   "strategy, R-C1..R-C8, R-S1..R-S6) and dispatches due contacts under the "
                   "central caps.",
        .config = s_config,
        .consumes = s_consumes,
        .init = s_init,
        .on_event = s_on_event,
        .on_tick = s_on_tick,
        .fini = s_fini,
    };
    return hk_daemon_main (argc, argv, &def);
}
