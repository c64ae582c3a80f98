/* feed: header recognition and row validation for the project's feed schema. */
#include "feed.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "huikuan/money.h"

enum {
    C_INVOICE_ID, C_DEBTOR_ID, C_DEBTOR_NAME, C_DEBTOR_EMAIL, C_CURRENCY, C_AMOUNT,
    C_ISSUED_ON, C_DUE_ON, C_PAYMENT_ID, C_RECEIVED_AT, C_COUNT
};

static const char *const s_names[C_COUNT] = {
    "invoice_id", "debtor_id", "debtor_name", "debtor_email", "currency", "amount",
    "issued_on", "due_on", "payment_id", "received_at",
};

static const int s_invoice_required[] = { C_INVOICE_ID, C_DEBTOR_ID, C_CURRENCY, C_AMOUNT, C_DUE_ON, -1 };
static const int s_payment_required[] = { C_PAYMENT_ID, C_DEBTOR_ID, C_CURRENCY, C_AMOUNT, C_RECEIVED_AT, -1 };

const char *
hk_feed_kind_name (hk_feed_kind_t kind)
{
    return kind == HK_FEED_INVOICES ? "invoices" : kind == HK_FEED_PAYMENTS ? "payments" : "unknown";
}

static bool
s_has_all (const hk_feed_header_t *h, const int *req, char *missing, size_t len)
{
    bool ok = true;
    if (missing)
        *missing = 0;
    for (; *req >= 0; req++)
        if (h->col[*req] < 0) {
            ok = false;
            if (missing)
                snprintf (missing + strlen (missing), len - strlen (missing), "%s%s",
                          *missing ? ", " : "", s_names[*req]);
        }
    return ok;
}

void
hk_feed_header (char *const *names, int n, hk_feed_header_t *out)
{
    memset (out, 0, sizeof *out);
    for (int c = 0; c < HK_FEED_MAX_COLS; c++)
        out->col[c] = -1;
    for (int i = 0; i < n; i++) {
        const char *name = names[i];
        while (*name == ' ')
            name++;
        for (int c = 0; c < C_COUNT; c++)
            if (strcasecmp (name, s_names[c]) == 0 && out->col[c] < 0)
                out->col[c] = i;
    }
    char inv_missing[128], pay_missing[128];
    if (out->col[C_PAYMENT_ID] < 0 && s_has_all (out, s_invoice_required, inv_missing, sizeof inv_missing))
        out->kind = HK_FEED_INVOICES;
    else if (s_has_all (out, s_payment_required, pay_missing, sizeof pay_missing))
        out->kind = HK_FEED_PAYMENTS;
    else
        snprintf (out->missing, sizeof out->missing, "%s",
                  out->col[C_PAYMENT_ID] >= 0 ? pay_missing : inv_missing);
}

static const char *
s_field (const hk_feed_header_t *h, char *const *fields, int n, int c)
{
    int i = h->col[c];
    if (i < 0 || i >= n)
        return "";
    /* trim surrounding blanks in place */
    char *v = fields[i];
    while (*v == ' ' || *v == '\t')
        v++;
    size_t len = strlen (v);
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        v[--len] = 0;
    return v;
}

static int
s_fail (hk_row_error_t *err, int c, const char *reason, const char *value)
{
    snprintf (err->field, sizeof err->field, "%s", s_names[c]);
    if (value && *value)
        snprintf (err->reason, sizeof err->reason, "%s: \"%.120s\"", reason, value);
    else
        snprintf (err->reason, sizeof err->reason, "%s", reason);
    return HK_EINVAL;
}

static int
s_id (hk_row_error_t *err, int c, const char *v, size_t max)
{
    if (!*v)
        return s_fail (err, c, "required", NULL);
    if (strlen (v) > max)
        return s_fail (err, c, "too long", v);
    return 0;
}

static int
s_money (hk_row_error_t *err, const char *cur, const char *amount, char out_cur[4],
         int64_t *minor, bool positive)
{
    if (!*cur)
        return s_fail (err, C_CURRENCY, "required", NULL);
    if (hk_currency_exponent (cur) < 0)
        return s_fail (err, C_CURRENCY, "not an ISO 4217 currency code", cur);
    snprintf (out_cur, 4, "%s", cur);
    if (!*amount)
        return s_fail (err, C_AMOUNT, "required", NULL);
    char why[160];
    if (hk_money_parse (amount, '.', 0, cur, minor, why, sizeof why) != 0) {
        snprintf (err->field, sizeof err->field, "amount");
        snprintf (err->reason, sizeof err->reason, "%s", why);
        return HK_EINVAL;
    }
    if (positive ? *minor <= 0 : *minor < 0)
        return s_fail (err, C_AMOUNT, positive ? "must be greater than zero" : "must not be negative",
                       amount);
    return 0;
}

int
hk_feed_invoice (const hk_feed_header_t *h, char *const *fields, int n, hk_invoice_row_t *out,
                 hk_row_error_t *err)
{
    memset (out, 0, sizeof *out);
    out->invoice_id = s_field (h, fields, n, C_INVOICE_ID);
    out->debtor_id = s_field (h, fields, n, C_DEBTOR_ID);
    out->debtor_name = s_field (h, fields, n, C_DEBTOR_NAME);
    out->debtor_email = s_field (h, fields, n, C_DEBTOR_EMAIL);
    if (s_id (err, C_INVOICE_ID, out->invoice_id, 64) || s_id (err, C_DEBTOR_ID, out->debtor_id, 64))
        return HK_EINVAL;
    if (strlen (out->debtor_name) > 200)
        return s_fail (err, C_DEBTOR_NAME, "too long", NULL);
    if (*out->debtor_email && (!strchr (out->debtor_email, '@') || strlen (out->debtor_email) > 254))
        return s_fail (err, C_DEBTOR_EMAIL, "not an e-mail address", NULL); /* PII: no value */
    if (s_money (err, s_field (h, fields, n, C_CURRENCY), s_field (h, fields, n, C_AMOUNT),
                 out->currency, &out->amount_minor, false))
        return HK_EINVAL;
    const char *issued = s_field (h, fields, n, C_ISSUED_ON);
    if (*issued) {
        if (hk_date_parse (issued, &out->issued_on) != 0)
            return s_fail (err, C_ISSUED_ON, "not a date (YYYY-MM-DD)", issued);
        out->has_issued_on = true;
    }
    /* R-T1: every receivable carries a concrete due date */
    const char *due = s_field (h, fields, n, C_DUE_ON);
    if (!*due)
        return s_fail (err, C_DUE_ON, "required: a receivable needs a concrete due date (R-T1)", NULL);
    if (hk_date_parse (due, &out->due_on) != 0)
        return s_fail (err, C_DUE_ON, "not a concrete date (YYYY-MM-DD) (R-T1)", due);
    if (out->has_issued_on && out->due_on < out->issued_on)
        return s_fail (err, C_DUE_ON, "before issued_on", due);
    return 0;
}

int
hk_feed_payment (const hk_feed_header_t *h, char *const *fields, int n, hk_payment_row_t *out,
                 hk_row_error_t *err)
{
    memset (out, 0, sizeof *out);
    out->payment_id = s_field (h, fields, n, C_PAYMENT_ID);
    out->debtor_id = s_field (h, fields, n, C_DEBTOR_ID);
    out->invoice_id = s_field (h, fields, n, C_INVOICE_ID);
    if (s_id (err, C_PAYMENT_ID, out->payment_id, 64) || s_id (err, C_DEBTOR_ID, out->debtor_id, 64))
        return HK_EINVAL;
    if (strlen (out->invoice_id) > 64)
        return s_fail (err, C_INVOICE_ID, "too long", out->invoice_id);
    if (s_money (err, s_field (h, fields, n, C_CURRENCY), s_field (h, fields, n, C_AMOUNT),
                 out->currency, &out->amount_minor, true))
        return HK_EINVAL;
    const char *at = s_field (h, fields, n, C_RECEIVED_AT);
    if (!*at)
        return s_fail (err, C_RECEIVED_AT, "required", NULL);
    if (hk_time_parse (at, &out->received_at_us) != 0)
        return s_fail (err, C_RECEIVED_AT, "not a time with offset (RFC 3339)", at);
    return 0;
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
