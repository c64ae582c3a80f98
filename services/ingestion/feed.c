/* feed: record validation per kind (docs/feeds.md) and payment allocation. */
#include "feed.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "huikuan/money.h"

#define HK_ID_MAX 64

static int
s_fail (hk_row_error_t *err, const char *field, const char *reason, const char *value)
{
    snprintf (err->field, sizeof err->field, "%s", field);
    if (value && *value)
        snprintf (err->reason, sizeof err->reason, "%s: \"%.120s\"", reason, value);
    else
        snprintf (err->reason, sizeof err->reason, "%s", reason);
    return HK_EINVAL;
}

/* A UUID in its canonical text form (either case). */
static bool
s_is_uuid (const char *s)
{
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit ((unsigned char) s[i]))
            return false;
    }
    return s[36] == 0;
}

/* Required id: present, short. */
static int
s_id (const hk_record_t *rec, const char *field, const char **out, hk_row_error_t *err)
{
    *out = hk_record_get (rec, field);
    if (!**out)
        return s_fail (err, field, "required", NULL);
    if (strlen (*out) > HK_ID_MAX)
        return s_fail (err, field, "longer than 64 characters", NULL);
    return 0;
}

/* Optional id: absent is "", present must be short. */
static int
s_opt_id (const hk_record_t *rec, const char *field, const char **out, hk_row_error_t *err)
{
    *out = hk_record_get (rec, field);
    if (strlen (*out) > HK_ID_MAX)
        return s_fail (err, field, "longer than 64 characters", NULL);
    return 0;
}

/* Optional text, bounded; pii: the value is never quoted. */
static int
s_text (const hk_record_t *rec, const char *field, size_t max, const char **out,
        hk_row_error_t *err)
{
    *out = hk_record_get (rec, field);
    if (strlen (*out) > max)
        return s_fail (err, field, "too long", NULL);
    return 0;
}

static int
s_currency (const hk_record_t *rec, bool required, char out[4], hk_row_error_t *err)
{
    const char *cur = hk_record_get (rec, "currency");
    out[0] = 0;
    if (!*cur)
        return required ? s_fail (err, "currency", "required", NULL) : 0;
    if (hk_currency_exponent (cur) < 0)
        return s_fail (err, "currency", "not an ISO 4217 currency code", cur);
    snprintf (out, 4, "%s", cur);
    return 0;
}

/* An amount in the record's currency. present: set when given; required: absent is an error. */
static int
s_amount (const hk_record_t *rec, const char *field, const char *currency, bool required,
          bool positive, bool *present, int64_t *minor, hk_row_error_t *err)
{
    const char *text = hk_record_get (rec, field);
    if (present)
        *present = *text != 0;
    if (!*text)
        return required ? s_fail (err, field, "required", NULL) : 0;
    if (!*currency)
        return s_fail (err, "currency", "required with an amount", NULL);
    char why[160];
    if (hk_money_parse (text, '.', 0, currency, minor, why, sizeof why) != 0)
        return s_fail (err, field, why, NULL);
    if (positive ? *minor <= 0 : *minor < 0)
        return s_fail (err, field, positive ? "must be greater than zero" : "must not be negative",
                       text);
    return 0;
}

static int
s_date (const hk_record_t *rec, const char *field, bool required, bool *present, int32_t *out,
        const char *why_required, hk_row_error_t *err)
{
    const char *text = hk_record_get (rec, field);
    if (present)
        *present = *text != 0;
    if (!*text)
        return required ? s_fail (err, field, why_required ? why_required : "required", NULL) : 0;
    if (hk_date_parse (text, out) != 0)
        return s_fail (err, field, "not a date (YYYY-MM-DD)", text);
    return 0;
}

static int
s_instant (const hk_record_t *rec, const char *field, bool required, bool *present,
           int64_t *out, hk_row_error_t *err)
{
    const char *text = hk_record_get (rec, field);
    if (present)
        *present = *text != 0;
    if (!*text)
        return required ? s_fail (err, field, "required", NULL) : 0;
    if (hk_time_parse (text, out) != 0)
        return s_fail (err, field, "not a time with offset (RFC 3339)", text);
    return 0;
}

static int
s_integer (const hk_record_t *rec, const char *field, int64_t min, int64_t max, bool *present,
           int64_t *out, hk_row_error_t *err)
{
    const char *text = hk_record_get (rec, field);
    *present = *text != 0;
    if (!*text)
        return 0;
    char *end;
    long long v = strtoll (text, &end, 10);
    if (*end || end == text || v < min || v > max)
        return s_fail (err, field, "not a whole number in range", text);
    *out = v;
    return 0;
}

static int
s_one_of (const hk_record_t *rec, const char *field, const char *const *allowed, bool required,
          const char **out, hk_row_error_t *err)
{
    *out = hk_record_get (rec, field);
    if (!**out)
        return required ? s_fail (err, field, "required", NULL) : 0;
    for (; *allowed; allowed++)
        if (strcmp (*out, *allowed) == 0)
            return 0;
    return s_fail (err, field, "not one of the allowed values (docs/feeds.md)", *out);
}

static int
s_email (const char *value, hk_row_error_t *err, const char *field)
{
    if (*value && (!strchr (value, '@') || strlen (value) > 254))
        return s_fail (err, field, "not an e-mail address", NULL); /* PII: no value */
    return 0;
}

/* An optional true/false field: 1, 0, or -1 when absent. */
static int
s_tristate (const hk_record_t *rec, const char *field, int *out, hk_row_error_t *err)
{
    const char *v = hk_record_get (rec, field);
    *out = !*v ? -1 : strcmp (v, "true") == 0 ? 1 : strcmp (v, "false") == 0 ? 0 : -2;
    return *out == -2 ? s_fail (err, field, "not true or false", v) : 0;
}

static int
s_debtor (const hk_record_t *rec, hk_debtor_fact_t *f, hk_row_error_t *err)
{
    static const char *const sizes[] = { "large", "medium", "small", NULL };
    static const char *const causes[] = { "oversight", "dispute", "cash_shortage", "wilful",
                                          NULL }; /* R-A6 */
    static const char *const reach[] = { "reachable", "half_lost", "lost", NULL }; /* R-A8 */
    int64_t v = 0;
    const char *coop = hk_record_get (rec, "cooperative");
    if (!*coop)
        f->uncooperative = -1;
    else if (strcmp (coop, "true") == 0 || strcmp (coop, "false") == 0)
        f->uncooperative = strcmp (coop, "false") == 0;
    else
        return s_fail (err, "cooperative", "not true or false", coop);
    if (s_tristate (rec, "do_not_contact", &f->do_not_contact, err)
        || s_tristate (rec, "bankrupt", &f->bankrupt, err)
        || s_tristate (rec, "closure", &f->closure, err)
        || s_tristate (rec, "clearance_sale", &f->clearance_sale, err))
        return HK_EINVAL;
    if (s_one_of (rec, "cause_of_default", causes, false, &f->cause_of_default, err)
        || s_one_of (rec, "reachability", reach, false, &f->reachability, err))
        return HK_EINVAL;
    if (s_id (rec, "debtor_id", &f->debtor_id, err) || s_text (rec, "name", 200, &f->name, err)
        || s_one_of (rec, "size_class", sizes, false, &f->size_class, err)
        || s_text (rec, "calendar", 16, &f->calendar, err)
        || s_text (rec, "address", 400, &f->address, err)
        || s_text (rec, "email", 254, &f->email, err) || s_email (f->email, err, "email")
        || s_text (rec, "phone", 40, &f->phone, err)
        || s_text (rec, "country", 40, &f->country, err)
        || s_integer (rec, "distance_km", 0, 40000, &f->has_distance, &v, err)
        || s_currency (rec, false, f->currency, err)
        || s_amount (rec, "credit_limit", f->currency, false, false, &f->has_limit,
                     &f->credit_limit_minor, err))
        return HK_EINVAL;
    f->distance_km = (int32_t) v;
    f->time_zone = hk_record_get (rec, "time_zone");
    if (*f->time_zone && !hk_tz_valid (f->time_zone))
        return s_fail (err, "time_zone", "not an IANA time zone", f->time_zone);
    return 0;
}

static int
s_contact (const hk_record_t *rec, hk_contact_fact_t *f, hk_row_error_t *err)
{
    static const char *const roles[] = { "payment_contact", "finance", "owner",
                                         "initial_contact", "other", NULL };
    if (s_id (rec, "contact_id", &f->contact_id, err) || s_id (rec, "debtor_id", &f->debtor_id, err)
        || s_one_of (rec, "role", roles, true, &f->role, err)
        || s_text (rec, "name", 200, &f->name, err) || s_text (rec, "phone", 40, &f->phone, err)
        || s_text (rec, "email", 254, &f->email, err) || s_email (f->email, err, "email")
        || s_text (rec, "postal_address", 400, &f->postal_address, err))
        return HK_EINVAL;
    return 0;
}

static int
s_contract (const hk_record_t *rec, hk_contract_fact_t *f, hk_row_error_t *err)
{
    static const char *const terms[] = { "cash", "deliver_two_settle_one", "periodic", "one_off",
                                         NULL };
    int64_t day = 0;
    bool has_day;
    if (s_id (rec, "contract_id", &f->contract_id, err) || s_id (rec, "debtor_id", &f->debtor_id, err)
        || s_one_of (rec, "terms", terms, true, &f->terms, err)
        || s_integer (rec, "period_day", 1, 31, &has_day, &day, err)
        || s_date (rec, "due_on", false, &f->has_due_on, &f->due_on, NULL, err)
        || s_date (rec, "signed_on", false, &f->has_signed_on, &f->signed_on, NULL, err)
        || s_text (rec, "signed_by", 200, &f->signed_by, err))
        return HK_EINVAL;
    f->period_day = (int32_t) day;
    /* R-T2: the terms must be concrete */
    if (strcmp (f->terms, "periodic") == 0 && !has_day)
        return s_fail (err, "period_day", "required for periodic terms (R-T2)", NULL);
    if (strcmp (f->terms, "one_off") == 0 && !f->has_due_on)
        return s_fail (err, "due_on", "required for one-off terms: an exact date (R-T2)", NULL);
    const char *sealed = hk_record_get (rec, "sealed");
    if (!*sealed)
        f->sealed = -1;
    else if (strcmp (sealed, "true") == 0)
        f->sealed = 1;
    else if (strcmp (sealed, "false") == 0)
        f->sealed = 0;
    else
        return s_fail (err, "sealed", "not true or false", sealed);
    return 0;
}

static int
s_invoice (const hk_record_t *rec, hk_invoice_row_t *f, hk_row_error_t *err)
{
    if (s_id (rec, "invoice_id", &f->invoice_id, err) || s_id (rec, "debtor_id", &f->debtor_id, err)
        || s_text (rec, "debtor_name", 200, &f->debtor_name, err)
        || s_text (rec, "debtor_email", 254, &f->debtor_email, err)
        || s_email (f->debtor_email, err, "debtor_email")
        || s_opt_id (rec, "contract_id", &f->contract_id, err)
        || s_currency (rec, true, f->currency, err)
        || s_amount (rec, "amount", f->currency, true, false, NULL, &f->amount_minor, err)
        || s_date (rec, "issued_on", false, &f->has_issued_on, &f->issued_on, NULL, err)
        /* R-T1: every receivable carries a concrete due date */
        || s_date (rec, "due_on", true, NULL, &f->due_on,
                   "required: a receivable needs a concrete due date (R-T1)", err))
        return HK_EINVAL;
    if (f->has_issued_on && f->due_on < f->issued_on)
        return s_fail (err, "due_on", "before issued_on", hk_record_get (rec, "due_on"));
    return 0;
}

static int
s_credit_note (const hk_record_t *rec, hk_credit_note_fact_t *f, hk_row_error_t *err)
{
    if (s_id (rec, "credit_note_id", &f->credit_note_id, err)
        || s_id (rec, "debtor_id", &f->debtor_id, err)
        || s_opt_id (rec, "invoice_id", &f->invoice_id, err)
        || s_currency (rec, true, f->currency, err)
        || s_amount (rec, "amount", f->currency, true, true, NULL, &f->amount_minor, err)
        || s_date (rec, "issued_on", false, &f->has_issued_on, &f->issued_on, NULL, err))
        return HK_EINVAL;
    return 0;
}

static int
s_payment (const hk_record_t *rec, hk_payment_row_t *f, hk_row_error_t *err)
{
    if (s_id (rec, "payment_id", &f->payment_id, err)
        || s_opt_id (rec, "debtor_id", &f->debtor_id, err)
        || s_opt_id (rec, "invoice_id", &f->invoice_id, err)
        || s_text (rec, "reference", 500, &f->reference, err)
        || s_text (rec, "payer_name", 200, &f->payer_name, err)
        || s_text (rec, "payer_account", 64, &f->payer_account, err)
        || s_currency (rec, true, f->currency, err)
        || s_amount (rec, "amount", f->currency, true, true, NULL, &f->amount_minor, err)
        || s_instant (rec, "received_at", true, NULL, &f->received_at_us, err))
        return HK_EINVAL;
    return 0;
}

static int
s_promise (const hk_record_t *rec, hk_promise_fact_t *f, hk_row_error_t *err)
{
    if (s_id (rec, "promise_id", &f->promise_id, err) || s_id (rec, "debtor_id", &f->debtor_id, err)
        || s_opt_id (rec, "invoice_id", &f->invoice_id, err)
        || s_currency (rec, true, f->currency, err)
        || s_amount (rec, "amount", f->currency, true, true, NULL, &f->amount_minor, err)
        /* R-C5: a promise has an amount and a time */
        || s_instant (rec, "promised_at", true, NULL, &f->promised_at_us, err)
        || s_instant (rec, "recorded_at", false, &f->has_recorded_at, &f->recorded_at_us, err))
        return HK_EINVAL;
    return 0;
}

static int
s_dispute (const hk_record_t *rec, hk_dispute_fact_t *f, hk_row_error_t *err)
{
    static const char *const statuses[] = { "open", "resolved", NULL };
    if (s_id (rec, "dispute_id", &f->dispute_id, err) || s_id (rec, "debtor_id", &f->debtor_id, err)
        || s_id (rec, "invoice_id", &f->invoice_id, err)
        || s_text (rec, "reason", 500, &f->reason, err)
        || s_one_of (rec, "status", statuses, false, &f->status, err)
        || s_currency (rec, false, f->currency, err)
        || s_amount (rec, "amount", f->currency, false, true, &f->has_amount, &f->amount_minor, err)
        || s_date (rec, "opened_on", true, NULL, &f->opened_on, NULL, err)
        || s_date (rec, "resolved_on", false, &f->has_resolved_on, &f->resolved_on, NULL, err))
        return HK_EINVAL;
    if (!*f->status)
        f->status = f->has_resolved_on ? "resolved" : "open";
    if (strcmp (f->status, "resolved") == 0 && !f->has_resolved_on)
        return s_fail (err, "resolved_on", "required when status is resolved", NULL);
    if (f->has_resolved_on && f->resolved_on < f->opened_on)
        return s_fail (err, "resolved_on", "before opened_on", hk_record_get (rec, "resolved_on"));
    return 0;
}

static int
s_incoming (const hk_record_t *rec, hk_incoming_fact_t *f, hk_row_error_t *err)
{
    if (s_id (rec, "debtor_id", &f->debtor_id, err) || s_text (rec, "note", 500, &f->note, err)
        || s_date (rec, "expected_on", true, NULL, &f->expected_on, NULL, err))
        return HK_EINVAL;
    return 0;
}

static int
s_delivery (const hk_record_t *rec, hk_delivery_fact_t *f, hk_row_error_t *err)
{
    if (s_id (rec, "delivery_id", &f->delivery_id, err) || s_id (rec, "debtor_id", &f->debtor_id, err)
        || s_opt_id (rec, "contract_id", &f->contract_id, err)
        || s_date (rec, "delivered_on", true, NULL, &f->delivered_on, NULL, err)
        || s_currency (rec, false, f->currency, err)
        || s_amount (rec, "amount", f->currency, false, false, &f->has_amount, &f->amount_minor, err)
        || s_integer (rec, "quantity", 0, INT64_MAX, &f->has_quantity, &f->quantity, err))
        return HK_EINVAL;
    return 0;
}

/* R-L2: an interruption of an invoice's limitation period, with its evidence. */
static int
s_interruption (const hk_record_t *rec, hk_interruption_fact_t *f, hk_row_error_t *err)
{
    static const char *const kinds[] = { "lawsuit", "demand", "acknowledgement",
                                         "repayment_plan", "interest_paid",
                                         "extension_request", NULL };
    if (s_id (rec, "interruption_id", &f->interruption_id, err)
        || s_id (rec, "debtor_id", &f->debtor_id, err)
        || s_id (rec, "invoice_id", &f->invoice_id, err)
        || s_one_of (rec, "interruption", kinds, true, &f->interruption, err)
        || s_date (rec, "occurred_on", true, NULL, &f->occurred_on, NULL, err)
        || s_text (rec, "evidence", 500, &f->evidence, err))
        return HK_EINVAL;
    return 0;
}

/* What came of a dispatched contact; task_id is the contact_id huikuan gave it (a UUID).
 * no_supply_no_payment: the debtor said it will not pay unless supply resumes (R-H2). */
static int
s_outcome (const hk_record_t *rec, hk_outcome_fact_t *f, hk_row_error_t *err)
{
    static const char *const outcomes[] = { "reached", "no_answer", "left_message",
                                            "wrong_number", "hostile", "refused", "delivered",
                                            "returned", "no_supply_no_payment", NULL };
    if (s_id (rec, "outcome_id", &f->outcome_id, err) || s_id (rec, "task_id", &f->task_id, err)
        || s_one_of (rec, "outcome", outcomes, true, &f->outcome, err)
        || s_instant (rec, "occurred_at", true, NULL, &f->occurred_at_us, err)
        || s_text (rec, "note", 500, &f->note, err))
        return HK_EINVAL;
    if (!s_is_uuid (f->task_id))
        return s_fail (err, "task_id", "not the id of a dispatched contact (a UUID)", f->task_id);
    return 0;
}

int
hk_feed_validate (const hk_record_t *rec, hk_fact_t *out, hk_row_error_t *err)
{
    memset (out, 0, sizeof *out);
    out->kind = rec->kind;
    switch (rec->kind) {
    case HK_REC_DEBTOR: return s_debtor (rec, &out->u.debtor, err);
    case HK_REC_CONTACT: return s_contact (rec, &out->u.contact, err);
    case HK_REC_CONTRACT: return s_contract (rec, &out->u.contract, err);
    case HK_REC_INVOICE: return s_invoice (rec, &out->u.invoice, err);
    case HK_REC_CREDIT_NOTE: return s_credit_note (rec, &out->u.credit_note, err);
    case HK_REC_PAYMENT: return s_payment (rec, &out->u.payment, err);
    case HK_REC_PROMISE: return s_promise (rec, &out->u.promise, err);
    case HK_REC_DISPUTE: return s_dispute (rec, &out->u.dispute, err);
    case HK_REC_INCOMING_PAYMENT: return s_incoming (rec, &out->u.incoming, err);
    case HK_REC_DELIVERY: return s_delivery (rec, &out->u.delivery, err);
    case HK_REC_LIMITATION_INTERRUPTION:
        return s_interruption (rec, &out->u.interruption, err);
    case HK_REC_CONTACT_OUTCOME: return s_outcome (rec, &out->u.outcome, err);
    default: return s_fail (err, "kind", "unknown record kind", NULL);
    }
}

static bool
s_has (char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        const char *v = names[i];
        while (*v == ' ')
            v++;
        if (strcasecmp (v, name) == 0)
            return true;
    }
    return false;
}

hk_record_kind_t
hk_feed_kind_of_header (char *const *names, int n, char *missing, size_t len)
{
    if (missing && len)
        *missing = 0;
    /* the identifying column of each kind, most specific first */
    static const struct {
        const char *column;
        hk_record_kind_t kind;
    } ids[] = {
        { "interruption_id", HK_REC_LIMITATION_INTERRUPTION },
        { "outcome_id", HK_REC_CONTACT_OUTCOME },
        { "payment_id", HK_REC_PAYMENT },         { "credit_note_id", HK_REC_CREDIT_NOTE },
        { "promise_id", HK_REC_PROMISE },         { "dispute_id", HK_REC_DISPUTE },
        { "contact_id", HK_REC_CONTACT },         { "delivery_id", HK_REC_DELIVERY },
        { "expected_on", HK_REC_INCOMING_PAYMENT }, { "terms", HK_REC_CONTRACT },
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (s_has (names, n, ids[i].column))
            return ids[i].kind;
    if (s_has (names, n, "invoice_id")) {
        static const char *const req[] = { "debtor_id", "currency", "amount", "due_on", NULL };
        bool ok = true;
        for (const char *const *r = req; *r; r++)
            if (!s_has (names, n, *r)) {
                ok = false;
                if (missing)
                    snprintf (missing + strlen (missing), len - strlen (missing), "%s%s",
                              *missing ? ", " : "", *r);
            }
        return ok ? HK_REC_INVOICE : HK_REC_UNKNOWN;
    }
    if (s_has (names, n, "debtor_id"))
        return HK_REC_DEBTOR;
    if (missing)
        snprintf (missing, len, "a kind column or the identifying column of a kind "
                                "(invoice_id, payment_id, debtor_id, ...)");
    return HK_REC_UNKNOWN;
}

int64_t
hk_feed_allocate (int64_t amount, const int64_t *outstanding, int n, int64_t *alloc)
{
    for (int i = 0; i < n; i++) {
        int64_t take = outstanding[i] > 0 ? (amount < outstanding[i] ? amount : outstanding[i]) : 0;
        alloc[i] = take;
        amount -= take;
    }
    return amount;
}
