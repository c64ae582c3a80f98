/* Fuzz target: mapped CSV (mapping.c). The first byte picks what the rest is:
 *   0: a CSV read through deploy/mappings/ibm-ar.mapping.json (found from this file's path,
 *      which CMake passes absolute; else the embedded copy below),
 *   1: a CSV read through a European mapping (';', decimal ',', group '.', DD.MM.YYYY, when,
 *      map, default, template),
 *   2: a CSV of unknown encoding, detected (encoding.c), through a mapping with Chinese
 *      column names and dates ("YYYY年M月D日"),
 *   3: a mapping file, loaded and, when it loads, given a small fixed CSV.
 * The sink traps when a record breaks what the reader promises: what every reader promises
 * (record_sink.h), no empty field, amounts "-?digits(.digits)?", dates that hk_date_parse
 * takes, instants that hk_time_parse takes. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "encoding.h"
#include "feed.h"
#include "huikuan/dates.h"
#include "mapping.h"
#include "record_sink.h"

static const char s_ibm_json[] =
    "{ \"date_format\": \"M/D/YYYY\", \"time_zone\": \"America/New_York\", \"records\": [\n"
    " { \"kind\": \"debtor\", \"fields\": { \"debtor_id\": {\"column\": \"customerID\"},\n"
    "   \"country\": {\"column\": \"countryCode\"} } },\n"
    " { \"kind\": \"invoice\", \"fields\": { \"invoice_id\": {\"column\": \"invoiceNumber\"},\n"
    "   \"debtor_id\": {\"column\": \"customerID\"}, \"currency\": {\"const\": \"USD\"},\n"
    "   \"amount\": {\"column\": \"InvoiceAmount\"}, \"issued_on\": {\"column\": \"InvoiceDate\"},\n"
    "   \"due_on\": {\"column\": \"DueDate\"} } },\n"
    " { \"kind\": \"payment\", \"when\": {\"column\": \"SettledDate\", \"not_empty\": true},\n"
    "   \"fields\": { \"payment_id\": {\"template\": \"SETTLE-{invoiceNumber}\"},\n"
    "   \"debtor_id\": {\"column\": \"customerID\"}, \"invoice_id\": {\"column\": \"invoiceNumber\"},\n"
    "   \"currency\": {\"const\": \"USD\"}, \"amount\": {\"column\": \"InvoiceAmount\"},\n"
    "   \"received_at\": {\"column\": \"SettledDate\", \"time\": \"12:00\"} } } ] }\n";

static const char s_eu_json[] =
    "{ \"separator\": \";\", \"decimal_separator\": \",\", \"group_separator\": \".\",\n"
    "  \"date_format\": \"DD.MM.YYYY\", \"time_zone\": \"Europe/Berlin\", \"records\": [\n"
    " { \"kind\": \"invoice\", \"fields\": { \"invoice_id\": {\"column\": \"Rechnung\"},\n"
    "   \"debtor_id\": {\"column\": \"Kunde\"}, \"debtor_name\": {\"column\": \"Name\"},\n"
    "   \"currency\": {\"column\": \"Währung\", \"default\": \"EUR\", \"map\": {\"€\": \"EUR\"}},\n"
    "   \"amount\": {\"column\": \"Betrag\"}, \"due_on\": {\"column\": \"Fällig\"},\n"
    "   \"issued_on\": {\"column\": \"Datum\", \"date_format\": \"YYYYMMDD\"} } },\n"
    " { \"kind\": \"payment\", \"when\": {\"column\": \"Bezahlt\", \"not_empty\": true},\n"
    "   \"fields\": { \"payment_id\": {\"template\": \"PAY-{Rechnung}-{{x}}\"},\n"
    "   \"currency\": {\"const\": \"EUR\"}, \"amount\": {\"column\": \"Betrag\"},\n"
    "   \"received_at\": {\"column\": \"Bezahlt\", \"time\": \"09:30\"} } },\n"
    " { \"kind\": \"dispute\", \"when\": {\"column\": \"Strittig\", \"equals\": \"ja\"},\n"
    "   \"fields\": { \"dispute_id\": {\"template\": \"D-{Rechnung}\"},\n"
    "   \"debtor_id\": {\"column\": \"Kunde\"}, \"invoice_id\": {\"column\": \"Rechnung\"},\n"
    "   \"opened_on\": {\"column\": \"Datum\", \"date_format\": \"YY-M-D\"} } } ] }\n";

static const char s_gb_json[] =
    "{ \"group_separator\": \",\", \"date_format\": \"YYYY年M月D日\", \"records\": [\n"
    " { \"kind\": \"invoice\", \"fields\": { \"invoice_id\": {\"column\": \"发票号\"},\n"
    "   \"debtor_id\": {\"column\": \"客户编号\"}, \"debtor_name\": {\"column\": \"客户名称\"},\n"
    "   \"currency\": {\"column\": \"币种\", \"map\": {\"人民币\": \"CNY\"}},\n"
    "   \"amount\": {\"column\": \"金额\"}, \"due_on\": {\"column\": \"到期日\"} } } ] }\n";

static const char s_fixed_csv[] =
    "a,b,c,d,e,f,customerID,invoiceNumber,amount,due_on\n"
    "1,2,3,4/5/2026,2026-04-05,x,C1,I1,1.50,2026-04-05\n"
    ",,,,,,,,,\n"
    "9,8,7,13/13/2026,2026-02-30,\"q\"\"\",C2,I2,1,234.5,01.02.2026\n";

static hk_mapping_t *s_maps[3];
static int s_memfd = -1;

/* A mapping from text, through a memory file. */
static hk_mapping_t *
s_load_text (const char *text, size_t len)
{
    if (s_memfd < 0)
        s_memfd = memfd_create ("fuzz_mapping", 0);
    if (s_memfd < 0 || ftruncate (s_memfd, 0) != 0 || pwrite (s_memfd, text, len, 0) != (ssize_t) len)
        return NULL;
    char path[64], why[512];
    snprintf (path, sizeof path, "/proc/self/fd/%d", s_memfd);
    return hk_mapping_load (path, why, sizeof why);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    char path[4096], why[512];
    snprintf (path, sizeof path, "%s", __FILE__);
    char *cut = strstr (path, "tests/fuzz/fuzz_mapping.c");
    if (cut) {
        strcpy (cut, "deploy/mappings/ibm-ar.mapping.json");
        s_maps[0] = hk_mapping_load (path, why, sizeof why);
    }
    if (!s_maps[0])
        s_maps[0] = s_load_text (s_ibm_json, strlen (s_ibm_json));
    s_maps[1] = s_load_text (s_eu_json, strlen (s_eu_json));
    s_maps[2] = s_load_text (s_gb_json, strlen (s_gb_json));
    if (!s_maps[0] || !s_maps[1] || !s_maps[2]) {
        fprintf (stderr, "fuzz_mapping: a built-in mapping does not load\n");
        abort ();
    }
    return 0;
}

static bool
s_amount_ok (const char *a)
{
    if (*a == '-')
        a++;
    if (*a < '0' || *a > '9')
        return false;
    while (*a >= '0' && *a <= '9')
        a++;
    if (*a == '.') {
        a++;
        if (*a < '0' || *a > '9')
            return false;
        while (*a >= '0' && *a <= '9')
            a++;
    }
    return *a == 0;
}

static int
s_record (void *arg, const hk_record_t *rec)
{
    /* built-in mappings take amounts, dates and instants from columns, so they are converted;
     * a fuzzed mapping may give them as constants, used as written */
    bool strict = arg != NULL;
    if (s_record_check (arg, rec) != 0) /* traps itself; validates the record */
        return -1;
    for (int i = 0; i < rec->nfields; i++) {
        const char *name = rec->fields[i].name, *v = rec->fields[i].value;
        size_t n = strlen (name);
        int32_t day;
        int64_t us;
        if (!*v)
            __builtin_trap ();   /* absent fields are left out */
        if (strict && (strcmp (name, "amount") == 0 || strcmp (name, "credit_limit") == 0)
            && !s_amount_ok (v))
            __builtin_trap ();
        if (strict && n > 3 && strcmp (name + n - 3, "_on") == 0 && hk_date_parse (v, &day) != 0)
            __builtin_trap ();
        if (strict && strcmp (name, "received_at") == 0 && hk_time_parse (v, &us) != 0)
            __builtin_trap ();
    }
    return 0;
}

static void
s_reject (void *arg, long line, const char *field, const char *reason)
{
    (void) arg;
    if (line < 1 || !field || !*field || !reason)
        __builtin_trap ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int mode = data[0] & 3;
    char why[512];
    hk_sink_t sink = { .arg = (void *) 1, .record = s_record, .reject = s_reject };
    if (mode == 3) {
        hk_mapping_t *m = s_load_text ((const char *) data + 1, size - 1);
        if (m) {
            FILE *f = fmemopen ((void *) s_fixed_csv, strlen (s_fixed_csv), "r");
            sink.arg = NULL;
            if (f) {
                hk_mapping_read (m, f, &sink, why, sizeof why);
                fclose (f);
            }
            hk_mapping_destroy (&m);
        }
        return 0;
    }
    FILE *f = fmemopen ((void *) (data + 1), size - 1, "r");
    if (!f)
        return 0;
    if (mode == 2) {
        FILE *u = hk_encoding_utf8 (f, NULL, why, sizeof why);
        if (!u)
            return 0;   /* f closed by hk_encoding_utf8 */
        f = u;
    }
    hk_mapping_read (s_maps[mode], f, &sink, why, sizeof why);
    fclose (f);
    return 0;
}
