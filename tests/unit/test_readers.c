/* Self-test of the feed readers beside the project CSV: JSON Lines (jsonl.c), mapped CSV
 * (mapping.c, with the shipped deploy/mappings/ibm-ar.mapping.json on the real IBM file) and
 * the encoding layer (encoding.c: UTF-8 and GB18030). */
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "encoding.h"
#include "feed.h"
#include "huikuan/errcodes.h"
#include "jsonl.h"
#include "mapping.h"

#define S_KEEP 64

typedef struct {
    hk_record_kind_t kind;
    long line;
    int n;
    char *names[HK_RECORD_MAX_FIELDS], *values[HK_RECORD_MAX_FIELDS];
} s_copy_t;

typedef struct s_got s_got_t;
struct s_got {
    int records, rejects, invalid;
    s_copy_t rec[S_KEEP];
    struct {
        long line;
        char field[40], reason[200];
    } rej[S_KEEP];
    int stop_at;                /* > 0: the sink stops the reader at this record */
    bool validate;              /* run hk_feed_validate on each record, counting refusals */
    void (*hook) (s_got_t *got, const hk_record_t *rec, const hk_fact_t *fact);
    void *hook_arg;
};

static int
s_got_record (void *arg, const hk_record_t *rec)
{
    s_got_t *got = arg;
    hk_fact_t fact = { 0 };
    if (got->validate) {
        hk_row_error_t err;
        if (hk_feed_validate (rec, &fact, &err) != 0) {
            if (got->invalid++ < 5)
                fprintf (stderr, "readers: line %ld %s: %s: %s\n", rec->line,
                         hk_record_kind_name (rec->kind), err.field, err.reason);
        }
    }
    if (got->hook)
        got->hook (got, rec, &fact);
    if (got->records < S_KEEP) {
        s_copy_t *c = &got->rec[got->records];
        c->kind = rec->kind;
        c->line = rec->line;
        c->n = rec->nfields;
        for (int i = 0; i < rec->nfields; i++) {
            c->names[i] = strdup (rec->fields[i].name);
            c->values[i] = strdup (rec->fields[i].value);
        }
    }
    got->records++;
    return got->stop_at && got->records == got->stop_at ? -99 : 0;
}

static void
s_got_reject (void *arg, long line, const char *field, const char *reason)
{
    s_got_t *got = arg;
    if (got->rejects < S_KEEP) {
        got->rej[got->rejects].line = line;
        snprintf (got->rej[got->rejects].field, sizeof got->rej[0].field, "%s", field);
        snprintf (got->rej[got->rejects].reason, sizeof got->rej[0].reason, "%s", reason);
    }
    got->rejects++;
}

static hk_sink_t
s_sink (s_got_t *got)
{
    return (hk_sink_t) { .arg = got, .record = s_got_record, .reject = s_got_reject };
}

static void
s_got_reset (s_got_t *got)
{
    for (int r = 0; r < got->records && r < S_KEEP; r++)
        for (int i = 0; i < got->rec[r].n; i++) {
            free (got->rec[r].names[i]);
            free (got->rec[r].values[i]);
        }
    *got = (s_got_t) { 0 };
}

/* Value of name in kept record r, or NULL when absent. */
static const char *
s_get (const s_got_t *got, int r, const char *name)
{
    if (r >= got->records || r >= S_KEEP)
        return NULL;
    for (int i = 0; i < got->rec[r].n; i++)
        if (strcmp (got->rec[r].names[i], name) == 0)
            return got->rec[r].values[i];
    return NULL;
}

static FILE *
s_mem (const char *text, size_t len)
{
    return fmemopen ((void *) text, len, "r");
}

/* ---------------------------------------------------------------------------------------- */

static int
s_jsonl (bool verbose)
{
    int failures = 0;
    const char *text =
        "{\"kind\":\"debtor\",\"debtor_id\":\"D1\",\"name\":\"Acme\",\"distance_km\":12}\n"
        "{\"kind\":\"customer\",\"debtor_id\":\"D2\",\"country\":\"CN\"}\n"
        "{\"kind\":\"contact\",\"contact_id\":\"C1\",\"debtor_id\":\"D1\",\"role\":\"finance\"}\n"
        "{\"kind\":\"contract\",\"contract_id\":\"K1\",\"debtor_id\":\"D1\",\"terms\":\"periodic\","
        "\"period_day\":25,\"sealed\":true}\n"
        "{\"kind\":\"invoice\",\"invoice_id\":\"I1\",\"debtor_id\":\"D1\",\"currency\":\"CNY\","
        "\"amount\":1234.50,\"due_on\":\"2026-03-10\",\"contract_id\":null}\n"
        "{\"kind\":\"credit_note\",\"credit_note_id\":\"N1\",\"debtor_id\":\"D1\","
        "\"currency\":\"CNY\",\"amount\":0.10}\n"
        "  \r\n"
        "{\"kind\":\"payment\",\"payment_id\":\"P1\",\"currency\":\"CNY\",\"amount\":\"99.90\","
        "\"received_at\":\"2026-03-12T08:30:00+08:00\"}\r\n"
        "{\"kind\":\"promise\",\"promise_id\":\"PR1\",\"debtor_id\":\"D1\",\"currency\":\"CNY\","
        "\"amount\":100,\"promised_at\":\"2026-03-20T10:00:00+08:00\"}\n"
        "{\"kind\":\"dispute\",\"dispute_id\":\"X1\",\"debtor_id\":\"D1\",\"invoice_id\":\"I1\","
        "\"opened_on\":\"2026-03-11\",\"sealed\":false}\n"
        "{\"kind\":\"incoming_payment\",\"debtor_id\":\"D1\",\"expected_on\":\"2026-04-01\"}\n"
        "{\"kind\":\"delivery\",\"delivery_id\":\"L1\",\"debtor_id\":\"D1\","
        "\"delivered_on\":\"2026-02-01\",\"quantity\":3}\n"
        "this is not json\n"                                             /* 13 */
        "[1,2]\n"                                                        /* 14 */
        "{\"debtor_id\":\"D9\"}\n"                                       /* 15 */
        "{\"kind\":\"gossip\"}\n"                                        /* 16 */
        "{\"kind\":\"invoice\",\"invoice_id\":\"I2\",\"amount\":{\"v\":1}}\n"  /* 17 */
        "{\"kind\":\"invoice\",\"invoice_id\":\"I3\",\"amount\":1.5e3}\n"     /* 18 */
        "{\"kind\":\"invoice\",\"invoice_id\":\"I4\",\"amount\":99999999999999999999}\n"
        "{\"kind\":\"debtor\",\"debtor_id\":\"D3\"}";                     /* 20, no newline */
    FILE *f = s_mem (text, strlen (text));
    s_got_t got = { .validate = true };
    hk_sink_t sink = s_sink (&got);
    char why[256] = "";
    CHECK_INT (hk_jsonl_read (f, &sink, why, sizeof why), 0);
    fclose (f);
    CHECK_INT (got.records, 12);
    CHECK_INT (got.invalid, 0);
    static const hk_record_kind_t kinds[] = {
        HK_REC_DEBTOR, HK_REC_DEBTOR, HK_REC_CONTACT, HK_REC_CONTRACT, HK_REC_INVOICE,
        HK_REC_CREDIT_NOTE, HK_REC_PAYMENT, HK_REC_PROMISE, HK_REC_DISPUTE,
        HK_REC_INCOMING_PAYMENT, HK_REC_DELIVERY, HK_REC_DEBTOR
    };
    for (int i = 0; i < 12 && i < got.records; i++)
        CHECK_INT (got.rec[i].kind, kinds[i]);
    CHECK_STR (s_get (&got, 0, "distance_km"), "12");
    CHECK_STR (s_get (&got, 3, "period_day"), "25");
    CHECK_STR (s_get (&got, 3, "sealed"), "true");
    CHECK_STR (s_get (&got, 4, "amount"), "1234.50");
    CHECK (s_get (&got, 4, "contract_id") == NULL);      /* null → absent */
    CHECK (s_get (&got, 4, "kind") == NULL);
    CHECK_STR (s_get (&got, 5, "amount"), "0.10");
    CHECK_STR (s_get (&got, 6, "amount"), "99.90");
    CHECK_INT (got.rec[6].line, 8);                      /* blank line 7 counted */
    CHECK_STR (s_get (&got, 7, "amount"), "100");
    CHECK_STR (s_get (&got, 8, "sealed"), "false");
    CHECK_INT (got.rec[11].line, 20);
    CHECK_INT (got.rejects, 7);
    static const struct {
        long line;
        const char *field;
    } rej[] = { { 13, "(line)" }, { 14, "(line)" }, { 15, "kind" }, { 16, "kind" },
                { 17, "amount" }, { 18, "amount" }, { 19, "amount" } };
    for (int i = 0; i < 7 && i < got.rejects; i++) {
        CHECK_INT (got.rej[i].line, rej[i].line);
        CHECK_STR (got.rej[i].field, rej[i].field);
    }
    CHECK (strstr (got.rej[6].reason, "strings") != NULL);
    if (verbose)
        printf ("  jsonl: %d records, %d rejects (e.g. line 17: %s)\n", got.records,
                got.rejects, got.rej[4].reason);
    s_got_reset (&got);

    /* a file that is not JSON Lines at all fails whole, nothing emitted */
    const char *csv = "\n  \ninvoice_id,amount\n{\"kind\":\"debtor\",\"debtor_id\":\"D1\"}\n";
    f = s_mem (csv, strlen (csv));
    CHECK_INT (hk_jsonl_read (f, &sink, why, sizeof why), HK_EPARSE);
    fclose (f);
    CHECK (strstr (why, "not JSON Lines") != NULL);
    CHECK (strstr (why, "line 3") != NULL);
    CHECK_INT (got.records + got.rejects, 0);

    /* an empty file has nothing in it, and that is fine */
    f = s_mem ("\n", 1);
    CHECK_INT (hk_jsonl_read (f, &sink, why, sizeof why), 0);
    fclose (f);

    /* a BOM, and a sink that stops the reader */
    const char *two = "\xEF\xBB\xBF{\"kind\":\"debtor\",\"debtor_id\":\"D1\"}\n"
                      "{\"kind\":\"debtor\",\"debtor_id\":\"D2\"}\n";
    got.stop_at = 1;
    f = s_mem (two, strlen (two));
    CHECK_INT (hk_jsonl_read (f, &sink, why, sizeof why), -99);
    fclose (f);
    CHECK_INT (got.records, 1);
    s_got_reset (&got);

    /* a line longer than 64 KiB */
    size_t big = 200 * 1024;
    char *line = malloc (big + 200);
    if (line) {
        int n = snprintf (line, 200, "{\"kind\":\"payment\",\"payment_id\":\"P2\",\"reference\":\"");
        memset (line + n, 'x', big);
        strcpy (line + n + big, "\",\"amount\":0.10}\n{\"kind\":\"debtor\",\"debtor_id\":\"D5\"}\n");
        f = s_mem (line, strlen (line));
        CHECK_INT (hk_jsonl_read (f, &sink, why, sizeof why), 0);
        fclose (f);
        CHECK_INT (got.records, 2);
        CHECK_INT (got.rejects, 0);
        const char *ref = s_get (&got, 0, "reference");
        CHECK (ref && strlen (ref) == big);
        CHECK_STR (s_get (&got, 0, "amount"), "0.10");
        CHECK_INT (got.rec[1].line, 2);
        free (line);
        s_got_reset (&got);
    }
    return failures;
}

/* ---------------------------------------------------------------------------------------- */

typedef struct {
    char dir[64];
    char paths[24][128];
    int n;
} s_tmp_t;

static const char *
s_write (s_tmp_t *t, const char *name, const char *text, size_t len)
{
    if (t->n >= 24)
        return "/nonexistent";
    char *p = t->paths[t->n++];
    char full[sizeof t->paths[0]];
    snprintf (full, sizeof full, "%s/%s", t->dir, name);
    memcpy (p, full, sizeof full);
    FILE *f = fopen (p, "w");
    if (f) {
        fwrite (text, 1, len, f);
        fclose (f);
    }
    return p;
}

static void
s_tmp_clean (s_tmp_t *t)
{
    for (int i = 0; i < t->n; i++)
        unlink (t->paths[i]);
    rmdir (t->dir);
}

/* Loads a mapping that must fail; checks why mentions expect. */
static int
s_bad_mapping (s_tmp_t *t, const char *json, const char *expect, bool verbose)
{
    int failures = 0;
    char why[512] = "";
    const char *path = s_write (t, "bad.mapping.json", json, strlen (json));
    hk_mapping_t *m = hk_mapping_load (path, why, sizeof why);
    CHECK (m == NULL);
    hk_mapping_destroy (&m);
    if (!strstr (why, expect)) {
        fprintf (stderr, "readers: mapping error '%s' does not say '%s'\n", why, expect);
        failures++;
    }
    else if (verbose)
        printf ("  mapping refused: %s\n", why);
    return failures;
}

#define S_INV_FIELDS                                                                         \
    "\"invoice_id\":{\"column\":\"a\"},\"debtor_id\":{\"column\":\"b\"},"                    \
    "\"currency\":{\"const\":\"CNY\"},\"amount\":{\"column\":\"c\"}"

static int
s_mapping_errors (s_tmp_t *t, bool verbose)
{
    int failures = 0;
    struct {
        const char *json, *expect;
    } cases[] = {
        { "{\"records\":[{\"kind\":\"bill\",\"fields\":{}}]}", "unknown kind 'bill'" },
        { "{\"separater\":\";\",\"records\":[]}", "unknown option 'separater'" },
        { "{\"records\":[{\"kind\":\"invoice\",\"fields\":{" S_INV_FIELDS
          ",\"due_on\":{\"column\":\"d\",\"colour\":\"red\"}}}]}",
          "unknown option 'colour'" },
        { "{\"records\":[{\"kind\":\"invoice\",\"fields\":{" S_INV_FIELDS
          ",\"due_on\":{\"default\":\"2026-01-01\"}}}]}",
          "without \"column\", \"const\" or \"template\"" },
        { "{\"date_format\":\"DD/MM/YYY\",\"records\":[{\"kind\":\"invoice\",\"fields\":{"
          S_INV_FIELDS ",\"due_on\":{\"column\":\"d\"}}}]}",
          "bad date format" },
        { "{\"records\":[{\"kind\":\"invoice\",\"fields\":{" S_INV_FIELDS
          ",\"due_on\":{\"column\":\"d\",\"date_format\":\"DD-QQ-YYYY\"}}}]}",
          "bad date format 'DD-QQ-YYYY'" },
        { "{\"records\":[{\"kind\":\"invoice\",\"fields\":{" S_INV_FIELDS
          ",\"due_on\":{\"column\":\"d\",\"date_format\":\"DD-MM\"}}}]}",
          "one year, one month and one day" },
        { "{\"records\":[{\"kind\":\"invoice\",\"fields\":{" S_INV_FIELDS
          ",\"due_date\":{\"column\":\"d\"}}}]}",
          "no field 'due_date' in a invoice record" },
        { "{\"records\":[{\"kind\":\"invoice\",\"fields\":{" S_INV_FIELDS "}}]}",
          "needs the field due_on" },
        { "{\"records\":[{\"kind\":\"payment\",\"fields\":{\"payment_id\":{\"column\":\"a\"},"
          "\"currency\":{\"const\":\"CNY\"},\"amount\":{\"column\":\"c\"},"
          "\"received_at\":{\"column\":\"d\",\"time\":\"12:00\"}}}]}",
          "needs the mapping's \"time_zone\"" },
        { "{\"time_zone\":\"Mars/Olympus\",\"records\":[]}", "unknown time zone" },
        { "{\"encoding\":\"ebcdic\",\"records\":[]}", "unknown encoding" },
        { "{\"decimal_separator\":\",\",\"group_separator\":\",\",\"records\":[]}",
          "group_separator" },
        { "{\"records\":[]}", "non-empty array" },
        { "{\"records\":[{\"kind\":\"invoice\",\"fields\":{" S_INV_FIELDS
          ",\"due_on\":{\"template\":\"{d\"}}}]}",
          "template" },
        { "{\"records\":[{\"kind\":\"invoice\",\"when\":{\"column\":\"x\"},\"fields\":{"
          S_INV_FIELDS ",\"due_on\":{\"column\":\"d\"}}}]}",
          "records[0].when" },
        { "{\"records\":[ {\"kind\":\"invoice\",}]}", "not valid JSON: line 1" },
        { "[1]", "must be a JSON object" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        failures += s_bad_mapping (t, cases[i].json, cases[i].expect, verbose);
    char why[256];
    CHECK (hk_mapping_load ("/nonexistent/x.mapping.json", why, sizeof why) == NULL);
    CHECK (strstr (why, "cannot open") != NULL);
    return failures;
}

/* A European export: ';' between fields, decimal ',', group '.', DD.MM.YYYY dates. */
static int
s_mapping_european (s_tmp_t *t, bool verbose)
{
    int failures = 0;
    const char *json =
        "{ \"description\": \"test\", \"separator\": \";\", \"decimal_separator\": \",\",\n"
        "  \"group_separator\": \".\", \"date_format\": \"DD.MM.YYYY\",\n"
        "  \"time_zone\": \"Europe/Berlin\",\n"
        "  \"records\": [\n"
        "   { \"kind\": \"invoice\", \"fields\": {\n"
        "       \"invoice_id\": {\"column\": \"Rechnung\"}, \"debtor_id\": {\"column\": \"Kunde\"},\n"
        "       \"debtor_name\": {\"column\": \"Name\"},\n"
        "       \"currency\": {\"column\": \"Währung\", \"default\": \"EUR\",\n"
        "                      \"map\": {\"€\": \"EUR\", \"DM\": \"DEM\"}},\n"
        "       \"amount\": {\"column\": \"Betrag\"}, \"due_on\": {\"column\": \"Fällig\"},\n"
        "       \"issued_on\": {\"column\": \"Datum\", \"date_format\": \"YYYYMMDD\"} } },\n"
        "   { \"kind\": \"payment\", \"when\": {\"column\": \"Bezahlt\", \"not_empty\": true},\n"
        "     \"fields\": { \"payment_id\": {\"template\": \"PAY-{Rechnung}-{{x}}\"},\n"
        "       \"currency\": {\"const\": \"EUR\"}, \"amount\": {\"column\": \"Betrag\"},\n"
        "       \"invoice_id\": {\"column\": \"Rechnung\"},\n"
        "       \"received_at\": {\"column\": \"Bezahlt\", \"time\": \"09:30\"} } },\n"
        "   { \"kind\": \"dispute\", \"when\": {\"column\": \"Strittig\", \"equals\": \"ja\"},\n"
        "     \"fields\": { \"dispute_id\": {\"template\": \"D-{Rechnung}\"},\n"
        "       \"debtor_id\": {\"column\": \"Kunde\"}, \"invoice_id\": {\"column\": \"Rechnung\"},\n"
        "       \"opened_on\": {\"column\": \"Datum\", \"date_format\": \"YYYYMMDD\"} } } ] }\n";
    char why[512] = "";
    hk_mapping_t *m = hk_mapping_load (s_write (t, "eu.mapping.json", json, strlen (json)), why,
                                       sizeof why);
    CHECK (m != NULL);
    if (!m) {
        fprintf (stderr, "readers: %s\n", why);
        return failures;
    }
    CHECK (hk_mapping_encoding (m) == NULL);
    const char *csv =
        "Rechnung;Kunde;Name;Währung;Betrag;Datum;Fällig;Bezahlt;Strittig\r\n"
        "R-1;K1;\"Müller; GmbH\";;1.234,50;20260105;05.02.2026;10.02.2026;nein\r\n"
        "R-2;K2;Schmidt;€; 0,10 ;20260106;6.3.2026;;ja\r\n"
        "R-3;K3;X;DM;12,34.5;20260107;07.02.2026;;nein\r\n"
        "R-4;K4;Y;USD;+1.000.000;20260108;30.02.2026;01.07.2026;nein\r\n"
        "R-5;K5;Z;;5;2026-01-09;01.01.2027;;nein\r\n"
        "R-6;K6;W;;12.34;20260110;01.01.2027;;nein\r\n";
    FILE *f = s_mem (csv, strlen (csv));
    s_got_t got = { .validate = true };
    hk_sink_t sink = s_sink (&got);
    CHECK_INT (hk_mapping_read (m, f, &sink, why, sizeof why), 0);
    fclose (f);
    /* R-1 invoice + payment, R-2 invoice + dispute, R-3 none, R-4 payment, R-5, R-6 none */
    CHECK_INT (got.records, 5);
    CHECK_INT (got.invalid, 0);
    CHECK_INT (got.rec[0].kind, HK_REC_INVOICE);
    CHECK_STR (s_get (&got, 0, "amount"), "1234.50");
    CHECK_STR (s_get (&got, 0, "currency"), "EUR");           /* default */
    CHECK_STR (s_get (&got, 0, "debtor_name"), "Müller; GmbH");
    CHECK_STR (s_get (&got, 0, "due_on"), "2026-02-05");
    CHECK_STR (s_get (&got, 0, "issued_on"), "2026-01-05");
    CHECK_INT (got.rec[0].line, 2);
    CHECK_INT (got.rec[1].kind, HK_REC_PAYMENT);
    CHECK_STR (s_get (&got, 1, "payment_id"), "PAY-R-1-{x}");
    CHECK_STR (s_get (&got, 1, "received_at"), "2026-02-10T09:30:00+01:00");
    CHECK_INT (got.rec[2].kind, HK_REC_INVOICE);
    CHECK_STR (s_get (&got, 2, "amount"), "0.10");
    CHECK_STR (s_get (&got, 2, "currency"), "EUR");           /* map */
    CHECK_STR (s_get (&got, 2, "due_on"), "2026-03-06");
    CHECK_INT (got.rec[3].kind, HK_REC_DISPUTE);
    CHECK_STR (s_get (&got, 3, "dispute_id"), "D-R-2");
    CHECK_STR (s_get (&got, 3, "opened_on"), "2026-01-06");
    CHECK_INT (got.rec[4].kind, HK_REC_PAYMENT);
    CHECK_STR (s_get (&got, 4, "amount"), "1000000");
    CHECK_STR (s_get (&got, 4, "received_at"), "2026-07-01T09:30:00+02:00");   /* summer */
    CHECK_INT (got.rejects, 4);
    static const struct {
        long line;
        const char *field;
    } rej[] = { { 4, "amount" }, { 5, "due_on" }, { 6, "issued_on" }, { 7, "amount" } };
    for (int i = 0; i < 4 && i < got.rejects; i++) {
        CHECK_INT (got.rej[i].line, rej[i].line);
        CHECK_STR (got.rej[i].field, rej[i].field);
    }
    CHECK (strstr (got.rej[1].reason, "no such date") != NULL);
    if (verbose)
        for (int i = 0; i < got.rejects && i < S_KEEP; i++)
            printf ("  eu line %ld %s: %s\n", got.rej[i].line, got.rej[i].field,
                    got.rej[i].reason);
    s_got_reset (&got);

    /* a header without a column the mapping uses fails whole, naming it */
    const char *short_csv = "Rechnung;Kunde;Name;Währung;Betrag;Datum;Bezahlt\nR-1;K;N;;1;20260101;\n";
    f = s_mem (short_csv, strlen (short_csv));
    CHECK_INT (hk_mapping_read (m, f, &sink, why, sizeof why), HK_EPARSE);
    fclose (f);
    CHECK (strstr (why, "Fällig") && strstr (why, "Strittig"));
    CHECK_INT (got.records, 0);
    /* a column the mapping uses named twice (the case aside) is ambiguous: the file fails
     * whole, saying how the mapping can name one */
    const char *twice = "Rechnung;Kunde;Name;Währung;Betrag;Datum;Fällig;Bezahlt;Strittig;BETRAG\n"
                        "R-1;K1;N;;1,00;20260105;05.02.2026;;nein;2,00\n";
    f = s_mem (twice, strlen (twice));
    CHECK_INT (hk_mapping_read (m, f, &sink, why, sizeof why), HK_EPARSE);
    fclose (f);
    CHECK (strstr (why, "\"Betrag\" 2 times") && strstr (why, "\"Betrag#2\""));
    CHECK_INT (got.records, 0);
    f = s_mem ("", 0);
    CHECK_INT (hk_mapping_read (m, f, &sink, why, sizeof why), HK_EPARSE);
    fclose (f);
    CHECK (strstr (why, "no header") != NULL);
    hk_mapping_destroy (&m);
    CHECK (m == NULL);

    /* "Name#2": the second column of that name; "Name#1" also reads a name given once */
    const char *nth = "{ \"separator\": \";\", \"time_zone\": \"Europe/Berlin\",\n"
                      "  \"records\": [ { \"kind\": \"payment\", \"fields\": {\n"
                      "    \"payment_id\": {\"column\": \"Nr#1\"}, \"currency\": {\"const\": \"EUR\"},\n"
                      "    \"amount\": {\"column\": \"Betrag#2\"},\n"
                      "    \"received_at\": {\"column\": \"Am\", \"time\": \"09:00\"} } } ] }\n";
    m = hk_mapping_load (s_write (t, "nth.mapping.json", nth, strlen (nth)), why, sizeof why);
    CHECK (m != NULL);
    if (m) {
        const char *two = "Nr;Betrag;betrag;Am\nP1;9.99;1.50;2026-03-01\n";
        f = s_mem (two, strlen (two));
        CHECK_INT (hk_mapping_read (m, f, &sink, why, sizeof why), 0);
        fclose (f);
        CHECK_INT (got.records, 1);
        CHECK_STR (s_get (&got, 0, "amount"), "1.50");
        CHECK_STR (s_get (&got, 0, "payment_id"), "P1");
        s_got_reset (&got);
        /* the header has one Betrag only: there is no second */
        const char *one = "Nr;Betrag;Am\nP1;9.99;2026-03-01\n";
        f = s_mem (one, strlen (one));
        CHECK_INT (hk_mapping_read (m, f, &sink, why, sizeof why), HK_EPARSE);
        fclose (f);
        CHECK (strstr (why, "lacks column the mapping uses: Betrag#2") != NULL);
        hk_mapping_destroy (&m);
    }
    s_got_reset (&got);
    return failures;
}

/* ---------------------------------------------------------------------------------------- */
/* The real IBM accounts-receivable file through the shipped mapping. */

typedef struct {
    long long invoice_cents;
    int invoices, payments, debtors, bad_time;
    char settled[2600][11];         /* received_at date by line */
} s_ibm_t;

static void
s_ibm_hook (s_got_t *got, const hk_record_t *rec, const hk_fact_t *fact)
{
    s_ibm_t *ibm = got->hook_arg;
    if (rec->kind == HK_REC_INVOICE) {
        ibm->invoices++;
        ibm->invoice_cents += fact->u.invoice.amount_minor;
    }
    else if (rec->kind == HK_REC_PAYMENT) {
        ibm->payments++;
        const char *at = hk_record_get (rec, "received_at");
        if (rec->line > 0 && rec->line < 2600 && strlen (at) >= 10)
            snprintf (ibm->settled[rec->line], 11, "%.10s", at);
        /* noon in New York: -05:00 in winter, -04:00 in summer */
        if (strlen (at) != 25 || strncmp (at + 10, "T12:00:00-0", 11) != 0)
            ibm->bad_time++;
    }
    else if (rec->kind == HK_REC_DEBTOR)
        ibm->debtors++;
}

/* Cents of "55.94", "68.8", "94"; -1 when not such a number. Plain C, no floating point. */
static long long
s_cents (const char *s)
{
    long long units = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++)
        units = units * 10 + (*s - '0');
    long long cents = 0;
    if (*s == '.') {
        s++;
        for (int i = 0; i < 2; i++) {
            cents *= 10;
            if (*s >= '0' && *s <= '9')
                cents += *s++ - '0';
        }
    }
    return digits == 0 || *s ? -1 : units * 100 + cents;
}

static int
s_ibm (bool verbose)
{
    int failures = 0;
    char mpath[512], cpath[512];
    const char *src = getenv ("HK_SOURCE_DIR");
    if (src && *src) {
        snprintf (mpath, sizeof mpath, "%s/deploy/mappings/ibm-ar.mapping.json", src);
        snprintf (cpath, sizeof cpath,
                  "%s/../shared/data/realworld/ibm-ar/accounts-receivable.csv", src);
    }
    else {
        snprintf (mpath, sizeof mpath, "deploy/mappings/ibm-ar.mapping.json");
        snprintf (cpath, sizeof cpath, "../shared/data/realworld/ibm-ar/accounts-receivable.csv");
    }
    char why[512] = "";
    hk_mapping_t *m = hk_mapping_load (mpath, why, sizeof why);
    FILE *raw = fopen (cpath, "r");
    if (!m || !raw) {
        fprintf (stderr, "readers: cannot test the IBM file: %s%s%s (set HK_SOURCE_DIR to the "
                         "repository root or run from it)\n",
                 m ? "" : why, !m && !raw ? "; " : "", raw ? "" : cpath);
        hk_mapping_destroy (&m);
        if (raw)
            fclose (raw);
        return 1;
    }
    CHECK_STR (hk_mapping_encoding (m), "utf-8");
    FILE *f = hk_encoding_utf8 (raw, hk_mapping_encoding (m), why, sizeof why);
    CHECK (f != NULL);
    if (!f) {
        hk_mapping_destroy (&m);
        return failures;
    }
    s_ibm_t *ibm = calloc (1, sizeof *ibm);
    if (!ibm) {
        fclose (f);
        hk_mapping_destroy (&m);
        return failures + 1;
    }
    s_got_t got = { .validate = true, .hook = s_ibm_hook, .hook_arg = ibm };
    hk_sink_t sink = s_sink (&got);
    CHECK_INT (hk_mapping_read (m, f, &sink, why, sizeof why), 0);
    fclose (f);
    hk_mapping_destroy (&m);
    CHECK_INT (ibm->invoices, 2466);
    CHECK_INT (ibm->payments, 2466);
    CHECK_INT (ibm->debtors, 2466);
    CHECK_INT (got.rejects, 0);
    CHECK_INT (got.invalid, 0);
    CHECK_INT (ibm->bad_time, 0);
    CHECK_STR (s_get (&got, 2, "payment_id"), "SETTLE-0000611365");
    CHECK_STR (s_get (&got, 2, "received_at"), "2013-01-15T12:00:00-05:00");
    CHECK_STR (s_get (&got, 1, "due_on"), "2013-02-01");
    CHECK_STR (s_get (&got, 0, "country"), "391");

    /* the same file read independently: plain C, cents as integers */
    long long cents = 0;
    int rows = 0, date_mismatch = 0, bad_rows = 0;
    raw = fopen (cpath, "r");
    char line[1024];
    long lineno = 0;
    while (raw && fgets (line, sizeof line, raw)) {
        if (++lineno == 1)
            continue;
        char *col[16];
        int n = 0;
        col[n++] = line;
        for (char *p = line; *p && n < 16; p++)
            if (*p == ',') {
                *p = 0;
                col[n++] = p + 1;
            }
            else if (*p == '\n' || *p == '\r')
                *p = 0;
        int mo, d, y;
        long long c = n == 12 ? s_cents (col[6]) : -1;
        if (c < 0 || sscanf (col[8], "%d/%d/%d", &mo, &d, &y) != 3) {
            bad_rows++;
            continue;
        }
        rows++;
        cents += c;
        char want[16];
        snprintf (want, sizeof want, "%04d-%02d-%02d", y, mo, d);
        if (lineno >= 2600 || strcmp (ibm->settled[lineno], want) != 0)
            date_mismatch++;
    }
    if (raw)
        fclose (raw);
    CHECK_INT (rows, 2466);
    CHECK_INT (bad_rows, 0);
    CHECK_INT (ibm->invoice_cents, cents);
    CHECK_INT (date_mismatch, 0);
    if (verbose)
        printf ("  ibm-ar: %d invoices, %d payments, %lld.%02lld in total\n", ibm->invoices,
                ibm->payments, cents / 100, cents % 100);
    free (ibm);
    s_got_reset (&got);
    return failures;
}

/* ---------------------------------------------------------------------------------------- */
/* GB18030 */

/* iconv of in (len bytes) from one encoding to another; malloc'd, *outlen; NULL on failure. */
static char *
s_iconv (const char *to, const char *from, const char *in, size_t len, size_t *outlen)
{
    iconv_t cd = iconv_open (to, from);
    if (cd == (iconv_t) -1)
        return NULL;
    size_t cap = len * 2 + 16, ol = cap;
    char *out = malloc (cap), *op = out, *ip = (char *) in;
    size_t il = len;
    if (!out || iconv (cd, &ip, &il, &op, &ol) == (size_t) -1) {
        free (out);
        iconv_close (cd);
        return NULL;
    }
    iconv_close (cd);
    *outlen = cap - ol;
    return out;
}

/* Everything from f (malloc'd, *len); *err the errno of a failed read, or 0. */
static char *
s_slurp (FILE *f, size_t *len, int *err)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc (cap);
    *err = 0;
    for (;;) {
        if (n + 1000 > cap) {
            char *b = realloc (buf, cap *= 2);
            if (!b)
                break;
            buf = b;
        }
        errno = 0;
        size_t r = fread (buf + n, 1, 997, f);   /* an odd size, to split sequences */
        n += r;
        if (r < 997) {
            if (ferror (f))
                *err = errno;
            break;
        }
    }
    if (buf)
        buf[n] = 0;
    *len = n;
    return buf;
}

static int
s_gb18030 (s_tmp_t *t, bool verbose)
{
    int failures = 0;
    const char *json =
        "{ \"encoding\": \"gb18030\", \"group_separator\": \",\", \"date_format\": \"YYYY年M月D日\",\n"
        "  \"records\": [ { \"kind\": \"invoice\", \"fields\": {\n"
        "    \"invoice_id\": {\"column\": \"发票号\"}, \"debtor_id\": {\"column\": \"客户编号\"},\n"
        "    \"debtor_name\": {\"column\": \"客户名称\"},\n"
        "    \"currency\": {\"column\": \"币种\", \"map\": {\"人民币\": \"CNY\"}},\n"
        "    \"amount\": {\"column\": \"金额\"}, \"due_on\": {\"column\": \"到期日\"} } } ] }\n";
    char why[512] = "";
    hk_mapping_t *m = hk_mapping_load (s_write (t, "gb.mapping.json", json, strlen (json)), why,
                                       sizeof why);
    CHECK (m != NULL);
    if (!m) {
        fprintf (stderr, "readers: %s\n", why);
        return failures;
    }
    CHECK_STR (hk_mapping_encoding (m), "gb18030");
    const char *utf8 = "发票号,客户编号,客户名称,币种,金额,到期日\n"
                       "FP-001,C1,杭州汇款贸易有限公司,人民币,\"12,800.00\",2026年3月10日\n"
                       "FP-002,C2,吉𠮷餐饮（上海）,人民币,0.10,2026年4月1日\n";
    size_t gblen;
    char *gb = s_iconv ("GB18030", "UTF-8", utf8, strlen (utf8), &gblen);
    CHECK (gb != NULL);
    if (!gb) {
        hk_mapping_destroy (&m);
        return failures;
    }
    CHECK (gblen < strlen (utf8));   /* really two bytes per character, not UTF-8 */
    /* the whole-string check shares the streams' strict validator */
    CHECK (hk_encoding_is_utf8 (utf8, strlen (utf8)));
    CHECK (!hk_encoding_is_utf8 (gb, gblen));
    CHECK (hk_encoding_is_utf8 ("", 0));
    CHECK (!hk_encoding_is_utf8 ("\xe4\xbd", 2));          /* cut at the end */
    CHECK (!hk_encoding_is_utf8 ("\xc0\xaf", 2));          /* overlong '/' */
    CHECK (!hk_encoding_is_utf8 ("\xed\xa0\x80", 3));      /* a surrogate */
    CHECK (!hk_encoding_is_utf8 ("\xf4\x90\x80\x80", 4));  /* above U+10FFFF */
    const char *declared[] = { hk_mapping_encoding (m), NULL, "GBK" };
    for (int i = 0; i < 3; i++) {
        FILE *raw = s_mem (gb, gblen);
        FILE *f = hk_encoding_utf8 (raw, declared[i], why, sizeof why);
        CHECK (f != NULL);
        if (!f)
            continue;       /* raw closed by hk_encoding_utf8 */
        CHECK_STR (hk_encoding_name (f), "GB18030");
        s_got_t got = { .validate = true };
        hk_sink_t sink = s_sink (&got);
        CHECK_INT (hk_mapping_read (m, f, &sink, why, sizeof why), 0);
        fclose (f);
        CHECK_INT (got.records, 2);
        CHECK_INT (got.invalid, 0);
        CHECK_STR (s_get (&got, 0, "debtor_name"), "杭州汇款贸易有限公司");
        CHECK_STR (s_get (&got, 0, "amount"), "12800.00");
        CHECK_STR (s_get (&got, 0, "currency"), "CNY");
        CHECK_STR (s_get (&got, 0, "due_on"), "2026-03-10");
        CHECK_STR (s_get (&got, 1, "debtor_name"), "吉𠮷餐饮（上海）");   /* 4-byte GB18030 */
        CHECK_STR (s_get (&got, 1, "due_on"), "2026-04-01");
        s_got_reset (&got);
    }

    /* a long stream in odd-sized reads: sequences split across reads convert exactly */
    size_t unit = strlen (utf8), reps = 3000, ulen = unit * reps, biglen;
    char *bigutf = malloc (ulen + 1);
    if (bigutf) {
        for (size_t r = 0; r < reps; r++)
            memcpy (bigutf + r * unit, utf8, unit);
        char *bgb = s_iconv ("GB18030", "UTF-8", bigutf, ulen, &biglen);
        CHECK (bgb != NULL);
        for (int mode = 0; bgb && mode < 2; mode++) {
            FILE *raw = s_mem (bgb, biglen);
            FILE *f = hk_encoding_utf8 (raw, mode ? NULL : "gb18030", why, sizeof why);
            CHECK (f != NULL);
            if (!f)
                continue;
            size_t got_len;
            int err;
            char *out = s_slurp (f, &got_len, &err);
            CHECK_INT (err, 0);
            CHECK_INT (got_len, ulen);
            CHECK (out && got_len == ulen && memcmp (out, bigutf, ulen) == 0);
            free (out);
            fclose (f);
        }
        free (bgb);
    }

    /* detection when the 64 KiB window cuts a multibyte character in two */
    for (int enc = 0; enc < 2; enc++) {
        size_t pad = 65535, tlen;
        char *text = malloc (pad + 64);
        memset (text, 'a', pad);
        const char *tail = enc ? "\xBB\xE3\xBF\xEE\n" /* 汇款 in GB18030 */ : "汇款\n";
        strcpy (text + pad, tail);
        tlen = strlen (text);
        FILE *raw = s_mem (text, tlen);
        FILE *f = hk_encoding_utf8 (raw, NULL, why, sizeof why);
        CHECK (f != NULL);
        if (f) {
            CHECK_STR (hk_encoding_name (f), enc ? "GB18030" : "UTF-8");
            size_t n;
            int err;
            char *out = s_slurp (f, &n, &err);
            CHECK_INT (err, 0);
            CHECK (out && n == pad + strlen ("汇款\n") && strcmp (out + pad, "汇款\n") == 0);
            free (out);
            fclose (f);
        }
        free (text);
    }

    /* UTF-8 passes through byte for byte, BOM included */
    const char *u = "\xEF\xBB\xBF" "a,b\n汇,款\n";
    FILE *raw = s_mem (u, strlen (u));
    FILE *f = hk_encoding_utf8 (raw, "UTF-8", why, sizeof why);
    CHECK (f != NULL);
    if (f) {
        size_t n;
        int err;
        char *out = s_slurp (f, &n, &err);
        CHECK (out && n == strlen (u) && memcmp (out, u, n) == 0);
        free (out);
        fclose (f);
    }

    /* bytes that are neither UTF-8 nor GB18030: detection refuses */
    const char *junk = "a,b\n\xFF\xFE\x80\x80\n";
    raw = s_mem (junk, strlen (junk));
    CHECK (hk_encoding_utf8 (raw, NULL, why, sizeof why) == NULL);
    CHECK (strstr (why, "neither UTF-8") != NULL);
    if (verbose)
        printf ("  detection refused: %s\n", why);
    raw = s_mem (junk, strlen (junk));
    CHECK (hk_encoding_utf8 (raw, "latin-9", why, sizeof why) == NULL);
    CHECK (strstr (why, "unknown encoding") != NULL);

    /* declared GB18030, broken after good lines: the read fails with EILSEQ, the reader fails
     * the file naming the byte */
    char *broken = malloc (gblen + 16);
    size_t blen = gblen + 7;
    if (broken) {
        memcpy (broken, gb, gblen);
        memcpy (broken + gblen, "FP-00\xFF\xFF", 7);
    }
    raw = broken ? s_mem (broken, blen) : NULL;
    f = hk_encoding_utf8 (raw, "gb18030", why, sizeof why);
    CHECK (f != NULL);
    if (f) {
        s_got_t got = { 0 };
        hk_sink_t sink = s_sink (&got);
        CHECK_INT (hk_mapping_read (m, f, &sink, why, sizeof why), HK_EPARSE);
        char at[64];
        snprintf (at, sizeof at, "at byte %zu", gblen + 5);
        CHECK (strstr (why, "GB18030") && strstr (why, at));
        CHECK (hk_encoding_error (f) != NULL);
        if (verbose)
            printf ("  broken GB18030: %s\n", why);
        s_got_reset (&got);
        fclose (f);
    }
    free (broken);

    /* a truncated sequence at the end, and invalid UTF-8 declared as UTF-8 */
    const char *cut[] = { "ab\xB9", "ab\xE6\xB1" };
    const char *cutenc[] = { "gb18030", "utf-8" };
    for (int i = 0; i < 2; i++) {
        raw = s_mem (cut[i], strlen (cut[i]));
        f = hk_encoding_utf8 (raw, cutenc[i], why, sizeof why);
        CHECK (f != NULL);
        if (!f)
            continue;       /* raw closed by hk_encoding_utf8 */
        size_t n;
        int err;
        char *out = s_slurp (f, &n, &err);
        CHECK_INT (err, EILSEQ);
        CHECK (out && n == 2 && memcmp (out, "ab", 2) == 0);
        CHECK (hk_encoding_error (f) && strstr (hk_encoding_error (f), "truncated"));
        free (out);
        fclose (f);
    }
    const char *bad_json = "{\"kind\":\"debtor\",\"debtor_id\":\"D1\"}\n{\"kind\":\xFF\n";
    raw = s_mem (bad_json, strlen (bad_json));
    f = hk_encoding_utf8 (raw, "utf-8", why, sizeof why);
    if (f) {
        s_got_t got = { 0 };
        hk_sink_t sink = s_sink (&got);
        CHECK_INT (hk_jsonl_read (f, &sink, why, sizeof why), HK_EPARSE);
        CHECK (strstr (why, "UTF-8: invalid byte sequence at byte 43") != NULL);
        CHECK_INT (got.records, 1);
        CHECK_INT (got.rejects, 0);
        s_got_reset (&got);
        fclose (f);
    }
    else
        CHECK (f != NULL);
    CHECK (hk_encoding_error (stdin) == NULL);
    free (gb);
    free (bigutf);
    hk_mapping_destroy (&m);
    return failures;
}

int
hk_readers_test (bool verbose)
{
    int failures = s_jsonl (verbose);
    s_tmp_t t = { .dir = "/tmp/hk_readers_XXXXXX" };
    if (!mkdtemp (t.dir)) {
        fprintf (stderr, "readers: mkdtemp: %s\n", strerror (errno));
        return failures + 1;
    }
    failures += s_mapping_errors (&t, verbose);
    failures += s_mapping_european (&t, verbose);
    failures += s_gb18030 (&t, verbose);
    s_tmp_clean (&t);
    failures += s_ibm (verbose);
    return failures;
}
