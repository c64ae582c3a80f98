/* Self-test of the ingestion daemon's pure parts: the CSV reader, header recognition, row
 * validation (R-T1) and payment allocation (R-C6). */
#include <stdlib.h>

#include "check.h"
#include "csv.h"
#include "csvfeed.h"
#include "feed.h"
#include "huikuan/dates.h"
#include "huikuan/errcodes.h"

static int
s_csv (void)
{
    int failures = 0;
    const char *text = "\xEF\xBB\xBF" "a,b,c\r\n"
                       "1,\"two, with comma\",3\r\n"
                       "\n"
                       "\"multi\nline\",\"say \"\"hi\"\"\",\r\n"
                       "last,row";
    FILE *f = fmemopen ((void *) text, strlen (text), "r");
    hk_csv_t *csv = hk_csv_new (f, ',');
    char **fields;
    int n;
    long line;
    CHECK_INT (hk_csv_next (csv, &fields, &n, &line), 1);
    CHECK_INT (n, 3);
    CHECK_STR (fields[0], "a"); /* BOM skipped */
    CHECK_INT (line, 1);
    CHECK_INT (hk_csv_next (csv, &fields, &n, &line), 1);
    CHECK_STR (fields[1], "two, with comma");
    CHECK_INT (line, 2);
    CHECK_INT (hk_csv_next (csv, &fields, &n, &line), 1);
    CHECK_INT (line, 4); /* blank line 3 skipped */
    CHECK_STR (fields[0], "multi\nline");
    CHECK_STR (fields[1], "say \"hi\"");
    CHECK_INT (n, 3);
    CHECK_STR (fields[2], "");
    CHECK_INT (hk_csv_next (csv, &fields, &n, &line), 1);
    CHECK_INT (line, 6);
    CHECK_STR (fields[1], "row");
    CHECK_INT (hk_csv_next (csv, &fields, &n, &line), 0);
    hk_csv_destroy (&csv);
    CHECK (csv == NULL);
    fclose (f);

    const char *broken = "a,b\n\"open,never closed\n";
    f = fmemopen ((void *) broken, strlen (broken), "r");
    csv = hk_csv_new (f, ',');
    CHECK_INT (hk_csv_next (csv, &fields, &n, &line), 1);
    CHECK_INT (hk_csv_next (csv, &fields, &n, &line), HK_EPARSE);
    CHECK (strstr (hk_csv_error (csv), "line 2") != NULL);
    hk_csv_destroy (&csv);
    fclose (f);
    return failures;
}

typedef struct {
    int records, rejects;
    hk_record_kind_t kinds[8];
    long lines[8];
    char last_amount[32];
    long reject_line;
    char reject_field[32];
} s_seen_t;

static int
s_seen_record (void *arg, const hk_record_t *rec)
{
    s_seen_t *seen = arg;
    if (seen->records < 8) {
        seen->kinds[seen->records] = rec->kind;
        seen->lines[seen->records] = rec->line;
    }
    seen->records++;
    snprintf (seen->last_amount, sizeof seen->last_amount, "%s", hk_record_get (rec, "amount"));
    return 0;
}

static void
s_seen_reject (void *arg, long line, const char *field, const char *reason)
{
    s_seen_t *seen = arg;
    (void) reason;
    seen->rejects++;
    seen->reject_line = line;
    snprintf (seen->reject_field, sizeof seen->reject_field, "%s", field);
}

/* The project CSV reader: a kind column, header-decided kinds, trimming, failures. */
static int
s_csvfeed (void)
{
    int failures = 0;
    const char *mixed = "Kind, Debtor_ID ,invoice_id,currency,amount,due_on,contract_id,terms\n"
                        "invoice,D1,INV-1,CNY, 10.50 ,2026-03-10,,\n"
                        "contract,D1,,,,,K1,cash\n"
                        "gossip,D1,,,,,,\n";
    FILE *f = fmemopen ((void *) mixed, strlen (mixed), "r");
    s_seen_t seen = { 0 };
    hk_sink_t sink = { .arg = &seen, .record = s_seen_record, .reject = s_seen_reject };
    char why[200] = "";
    CHECK_INT (hk_csvfeed_read (f, &sink, why, sizeof why), 0);
    fclose (f);
    CHECK_INT (seen.records, 2);
    CHECK_INT (seen.kinds[0], HK_REC_INVOICE);
    CHECK_INT (seen.kinds[1], HK_REC_CONTRACT);
    CHECK_INT (seen.lines[1], 3);
    CHECK_INT (seen.rejects, 1);
    CHECK_INT (seen.reject_line, 4);
    CHECK_STR (seen.reject_field, "kind");

    const char *payments = "payment_id,currency,amount,received_at\nP9,CNY,1.00,"
                           "2026-03-12T08:30:00+08:00\n";
    f = fmemopen ((void *) payments, strlen (payments), "r");
    seen = (s_seen_t) { 0 };
    CHECK_INT (hk_csvfeed_read (f, &sink, why, sizeof why), 0);
    fclose (f);
    CHECK_INT (seen.records, 1);
    CHECK_INT (seen.kinds[0], HK_REC_PAYMENT);
    CHECK_STR (seen.last_amount, "1.00");

    const char *unknown = "colour,size\nred,9\n";
    f = fmemopen ((void *) unknown, strlen (unknown), "r");
    seen = (s_seen_t) { 0 };
    CHECK_INT (hk_csvfeed_read (f, &sink, why, sizeof why), HK_EPARSE);
    CHECK (strstr (why, "no known record kind") != NULL);
    CHECK_INT (seen.records, 0);
    fclose (f);

    const char *empty = "";
    f = fmemopen ((void *) empty, 1, "r");
    CHECK_INT (hk_csvfeed_read (f, &sink, why, sizeof why) < 0, 1);
    fclose (f);

    /* a wrong header fails the file whole: a name twice (the case and spaces do not make
     * it another), or more named columns than a record holds */
    const char *twice = "invoice_id,debtor_id,Amount,currency,due_on, amount\n"
                        "I1,D1,1.00,CNY,2026-03-10,2.00\n";
    f = fmemopen ((void *) twice, strlen (twice), "r");
    seen = (s_seen_t) { 0 };
    CHECK_INT (hk_csvfeed_read (f, &sink, why, sizeof why), HK_EPARSE);
    CHECK_STR (why, "header names column \"amount\" twice (columns 3 and 6)");
    CHECK_INT (seen.records, 0);
    fclose (f);
    const char *kinds = "kind,kind,payment_id,currency,amount\npayment,x,P1,CNY,1.00\n";
    f = fmemopen ((void *) kinds, strlen (kinds), "r");
    CHECK_INT (hk_csvfeed_read (f, &sink, why, sizeof why), HK_EPARSE);
    CHECK (strstr (why, "\"kind\" twice") != NULL);
    fclose (f);
    char wide[1024] = "invoice_id,debtor_id,currency,amount,due_on";
    for (int i = 0; i < 28; i++)
        snprintf (wide + strlen (wide), sizeof wide - strlen (wide), ",note%d", i);
    strcat (wide, "\nI1,D1,CNY,1.00,2026-03-10\n");
    f = fmemopen ((void *) wide, strlen (wide), "r");
    CHECK_INT (hk_csvfeed_read (f, &sink, why, sizeof why), HK_EPARSE);
    CHECK_STR (why, "header names 33 columns; at most 32 are read");
    fclose (f);
    /* unnamed columns do not count, and a named one after many of them is read */
    char sparse[1024] = "invoice_id,debtor_id,currency";
    for (int i = 0; i < 40; i++)
        strcat (sparse, ",");
    strcat (sparse, "amount,due_on\nI1,D1,CNY"); /* 39 unnamed columns before amount */
    for (int i = 0; i < 39; i++)
        strcat (sparse, ",x");
    strcat (sparse, ",7.25,2026-03-10\n");
    f = fmemopen ((void *) sparse, strlen (sparse), "r");
    seen = (s_seen_t) { 0 };
    CHECK_INT (hk_csvfeed_read (f, &sink, why, sizeof why), 0);
    CHECK_INT (seen.records, 1);
    CHECK_STR (seen.last_amount, "7.25");
    fclose (f);
    return failures;
}

static hk_record_t
s_rec (hk_record_kind_t kind, const char *const *pairs)
{
    hk_record_t r = { .kind = kind, .line = 7 };
    for (; *pairs; pairs += 2)
        hk_record_set (&r, pairs[0], pairs[1]);
    return r;
}

#define REC(kind, ...) s_rec (kind, (const char *const[]) { __VA_ARGS__, NULL })

int
hk_ingestion_test (bool verbose)
{
    int failures = s_csv () + s_csvfeed ();
    hk_fact_t f;
    hk_row_error_t err;

    /* header → kind */
    char *inv_header[] = { "invoice_id", "debtor_id", "debtor_name", "debtor_email", "currency",
                           "amount", "issued_on", "due_on" };
    CHECK_INT (hk_feed_kind_of_header (inv_header, 8, NULL, 0), HK_REC_INVOICE);
    char *pay_header[] = { "Payment_ID", "debtor_id", "invoice_id", "currency", "amount",
                           "received_at" };
    CHECK_INT (hk_feed_kind_of_header (pay_header, 6, NULL, 0), HK_REC_PAYMENT);
    char *bad_header[] = { "invoice_id", "debtor_id", "amount" };
    char missing[200];
    CHECK_INT (hk_feed_kind_of_header (bad_header, 3, missing, sizeof missing), HK_REC_UNKNOWN);
    CHECK (strstr (missing, "currency") && strstr (missing, "due_on"));
    char *debtor_header[] = { "debtor_id", "name", "size_class" };
    CHECK_INT (hk_feed_kind_of_header (debtor_header, 3, NULL, 0), HK_REC_DEBTOR);
    char *contract_header[] = { "contract_id", "debtor_id", "terms" };
    CHECK_INT (hk_feed_kind_of_header (contract_header, 3, NULL, 0), HK_REC_CONTRACT);
    CHECK_INT (hk_record_kind_parse ("credit_note"), HK_REC_CREDIT_NOTE);
    CHECK_INT (hk_record_kind_parse ("customer"), HK_REC_DEBTOR);
    CHECK_INT (hk_record_kind_parse ("invoices"), HK_REC_UNKNOWN);
    CHECK_STR (hk_record_kind_name (HK_REC_INCOMING_PAYMENT), "incoming_payment");

    /* invoice (R-T1) */
    hk_record_t r = REC (HK_REC_INVOICE, "invoice_id", "INV-1", "debtor_id", "D1", "currency",
                         "CNY", "amount", "1000.50", "issued_on", "2026-02-01", "due_on",
                         "2026-03-10", "debtor_email", "ap@acme.cn");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    CHECK_INT (f.u.invoice.amount_minor, 100050);
    CHECK_INT (f.u.invoice.due_on, hk_date_from_ymd (2026, 3, 10));
    CHECK (f.u.invoice.has_issued_on);
    hk_record_set (&r, "due_on", "");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "due_on");
    CHECK (strstr (err.reason, "R-T1") != NULL);
    hk_record_set (&r, "due_on", "售完后付款");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "due_on");
    hk_record_set (&r, "due_on", "2026-01-10"); /* before issue date */
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    hk_record_set (&r, "due_on", "2026-03-10");
    hk_record_set (&r, "amount", "10.505"); /* would need rounding */
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "amount");
    hk_record_set (&r, "amount", "1000.50");
    hk_record_set (&r, "currency", "RMB");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "currency");
    hk_record_set (&r, "currency", "CNY");
    hk_record_set (&r, "debtor_email", "not-an-address");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK (strstr (err.reason, "not-an-address") == NULL); /* PII stays out of reports */
    hk_record_set (&r, "debtor_email", "");
    hk_record_set (&r, "invoice_id", "");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "invoice_id");

    /* payment: debtor optional (bank statements), offset required */
    r = REC (HK_REC_PAYMENT, "payment_id", "P1", "currency", "JPY", "amount", "5000",
             "received_at", "2026-03-12T08:30:00+08:00", "reference", "INV-7 INV-8");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    CHECK_INT (f.u.payment.amount_minor, 5000);
    CHECK_STR (f.u.payment.debtor_id, "");
    CHECK_STR (f.u.payment.reference, "INV-7 INV-8");
    hk_record_set (&r, "received_at", "2026-03-12 08:30");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "received_at");
    hk_record_set (&r, "received_at", "2026-03-12T08:30:00+08:00");
    hk_record_set (&r, "amount", "0");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "amount");

    /* contact_outcome: the debtor's "no supply, no payment" threat is an outcome of its own
     * (R-H2); a value outside the list is still the row's error, naming the field */
    r = REC (HK_REC_CONTACT_OUTCOME, "outcome_id", "O1", "task_id",
             "6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b", "outcome", "no_supply_no_payment",
             "occurred_at", "2026-03-12T08:30:00+08:00");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    CHECK_INT (f.kind, HK_REC_CONTACT_OUTCOME);
    CHECK_STR (f.u.outcome.outcome, "no_supply_no_payment");
    hk_record_set (&r, "outcome", "no_supply");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "outcome");
    hk_record_set (&r, "outcome", "refused");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);

    /* debtor */
    r = REC (HK_REC_DEBTOR, "debtor_id", "D1", "size_class", "large", "time_zone",
             "America/New_York", "distance_km", "120", "credit_limit", "50000.00", "currency",
             "CNY");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    CHECK (f.u.debtor.has_limit && f.u.debtor.credit_limit_minor == 5000000);
    CHECK_INT (f.u.debtor.distance_km, 120);
    hk_record_set (&r, "time_zone", "Mars/Base");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "time_zone");
    hk_record_set (&r, "time_zone", "");
    hk_record_set (&r, "size_class", "huge");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "size_class");
    hk_record_set (&r, "size_class", "");
    hk_record_set (&r, "currency", "");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL); /* a limit needs its currency */
    CHECK_STR (err.field, "currency");

    /* cause of default (R-A6) and cooperation (R-A5) */
    r = REC (HK_REC_DEBTOR, "debtor_id", "D1", "cause_of_default", "wilful", "cooperative",
             "false");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    CHECK_STR (f.u.debtor.cause_of_default, "wilful");
    CHECK_INT (f.u.debtor.uncooperative, 1);
    hk_record_set (&r, "cooperative", "");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    CHECK_INT (f.u.debtor.uncooperative, -1);
    hk_record_set (&r, "cooperative", "sometimes");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "cooperative");
    hk_record_set (&r, "cooperative", "");
    hk_record_set (&r, "cause_of_default", "bad luck");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "cause_of_default");

    /* contact flags: do-not-contact, bankruptcy, reachability (R-A8), closure (R-A7) */
    r = REC (HK_REC_DEBTOR, "debtor_id", "D1", "do_not_contact", "true", "bankrupt", "false",
             "reachability", "half_lost", "closure", "true", "clearance_sale", "false");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    CHECK_INT (f.u.debtor.do_not_contact, 1);
    CHECK_INT (f.u.debtor.bankrupt, 0);
    CHECK_INT (f.u.debtor.closure, 1);
    CHECK_INT (f.u.debtor.clearance_sale, 0);
    CHECK_STR (f.u.debtor.reachability, "half_lost");
    r = REC (HK_REC_DEBTOR, "debtor_id", "D1");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    CHECK_INT (f.u.debtor.do_not_contact, -1); /* absent: the stored value stays */
    CHECK_INT (f.u.debtor.bankrupt, -1);
    CHECK_INT (f.u.debtor.closure, -1);
    CHECK_INT (f.u.debtor.clearance_sale, -1);
    CHECK_STR (f.u.debtor.reachability, "");
    hk_record_set (&r, "do_not_contact", "yes please");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "do_not_contact");
    hk_record_set (&r, "do_not_contact", "");
    hk_record_set (&r, "bankrupt", "1");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "bankrupt");
    hk_record_set (&r, "bankrupt", "");
    hk_record_set (&r, "closure", "demolished");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "closure");
    hk_record_set (&r, "closure", "");
    hk_record_set (&r, "clearance_sale", "yes");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "clearance_sale");
    hk_record_set (&r, "clearance_sale", "");
    hk_record_set (&r, "reachability", "gone");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "reachability");

    /* contact (R-C3) */
    r = REC (HK_REC_CONTACT, "contact_id", "C1", "debtor_id", "D1", "role", "finance", "phone",
             "13812345678");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    hk_record_set (&r, "role", "cousin");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "role");

    /* contract (R-T2 concrete terms, R-T4 seal) */
    r = REC (HK_REC_CONTRACT, "contract_id", "K1", "debtor_id", "D1", "terms", "periodic",
             "period_day", "25");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    CHECK_INT (f.u.contract.sealed, -1);
    hk_record_set (&r, "period_day", "");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "period_day");
    hk_record_set (&r, "terms", "one_off");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "due_on");
    hk_record_set (&r, "due_on", "2026-05-01");
    hk_record_set (&r, "sealed", "true");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    CHECK_INT (f.u.contract.sealed, 1);
    hk_record_set (&r, "sealed", "maybe");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    hk_record_set (&r, "sealed", "");
    hk_record_set (&r, "terms", "after we sell it"); /* 售完后付款 is not a term (R-T1/R-T2) */
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "terms");

    /* credit note, promise (R-C5), dispute (R-C8), incoming payment (R-S3), delivery */
    r = REC (HK_REC_CREDIT_NOTE, "credit_note_id", "CN1", "debtor_id", "D1", "currency", "CNY",
             "amount", "20.00");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    CHECK_INT (f.u.credit_note.amount_minor, 2000);
    r = REC (HK_REC_PROMISE, "promise_id", "PR1", "debtor_id", "D1", "currency", "CNY", "amount",
             "300.00", "promised_at", "2026-03-20T15:00:00+08:00");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    hk_record_set (&r, "promised_at", "");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "promised_at");
    r = REC (HK_REC_DISPUTE, "dispute_id", "X1", "debtor_id", "D1", "invoice_id", "INV-1",
             "opened_on", "2026-03-11", "reason", "damaged goods");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    CHECK_STR (f.u.dispute.status, "open");
    CHECK (!f.u.dispute.has_amount);
    hk_record_set (&r, "status", "resolved");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "resolved_on");
    hk_record_set (&r, "resolved_on", "2026-03-01");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL); /* before it opened */
    hk_record_set (&r, "resolved_on", "2026-03-15");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    r = REC (HK_REC_INCOMING_PAYMENT, "debtor_id", "D1", "expected_on", "2026-03-25");
    CHECK_INT (hk_feed_validate (&r, &f, &err), 0);
    r = REC (HK_REC_DELIVERY, "delivery_id", "DL1", "debtor_id", "D1", "delivered_on",
             "2026-03-02", "quantity", "-3");
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);
    CHECK_STR (err.field, "quantity");
    r.kind = HK_REC_UNKNOWN;
    CHECK_INT (hk_feed_validate (&r, &f, &err), HK_EINVAL);

    /* allocation: referenced/oldest first, partial leaves a remainder (R-C6), over is credit */
    int64_t outstanding[] = { 300, 500, 200 }, alloc[3];
    CHECK_INT (hk_feed_allocate (600, outstanding, 3, alloc), 0);
    CHECK (alloc[0] == 300 && alloc[1] == 300 && alloc[2] == 0);
    CHECK_INT (hk_feed_allocate (1100, outstanding, 3, alloc), 100);
    CHECK (alloc[0] == 300 && alloc[1] == 500 && alloc[2] == 200);
    CHECK_INT (hk_feed_allocate (50, outstanding, 0, alloc), 50);
    if (verbose)
        printf ("ingestion: %d failures\n", failures);
    return failures;
}
