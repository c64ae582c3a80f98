/* Self-test of the bank statement readers: camt.053/054 (camt.c) and BAI2 (bai2.c), on the
 * real-world files in ../shared/data/realworld/ (expected values read off the files by hand)
 * and on small inline documents for the edge cases. */
#include <stdlib.h>

#include "bai2.h"
#include "camt.h"
#include "check.h"
#include "huikuan/errcodes.h"
#include "huikuan/money.h"

#define S_MAX_PAYMENTS 32
#define S_MAX_REJECTS  16

typedef struct {
    long line;
    char id[80], currency[8], amount[48], received_at[64], reference[520], invoice_id[80],
        payer_name[220], payer_account[80];
} s_pay_t;

typedef struct {
    int npay;
    s_pay_t pay[S_MAX_PAYMENTS];
    int nrej;
    struct {
        long line;
        char field[40], reason[200];
    } rej[S_MAX_REJECTS];
    int stop_at;    /* > 0: the sink stops the reader at that payment */
} s_got_t;

static int
s_on_record (void *arg, const hk_record_t *rec)
{
    s_got_t *got = arg;
    if (rec->kind != HK_REC_PAYMENT)
        return HK_EINVAL;
    if (got->stop_at && got->npay + 1 == got->stop_at)
        return HK_ECONFLICT;
    if (got->npay < S_MAX_PAYMENTS) {
        s_pay_t *p = &got->pay[got->npay];
        p->line = rec->line;
        snprintf (p->id, sizeof p->id, "%s", hk_record_get (rec, "payment_id"));
        snprintf (p->currency, sizeof p->currency, "%s", hk_record_get (rec, "currency"));
        snprintf (p->amount, sizeof p->amount, "%s", hk_record_get (rec, "amount"));
        snprintf (p->received_at, sizeof p->received_at, "%s", hk_record_get (rec, "received_at"));
        snprintf (p->reference, sizeof p->reference, "%s", hk_record_get (rec, "reference"));
        snprintf (p->invoice_id, sizeof p->invoice_id, "%s", hk_record_get (rec, "invoice_id"));
        snprintf (p->payer_name, sizeof p->payer_name, "%s", hk_record_get (rec, "payer_name"));
        snprintf (p->payer_account, sizeof p->payer_account, "%s",
                  hk_record_get (rec, "payer_account"));
    }
    got->npay++;
    return 0;
}

static void
s_on_reject (void *arg, long line, const char *field, const char *reason)
{
    s_got_t *got = arg;
    if (got->nrej < S_MAX_REJECTS) {
        got->rej[got->nrej].line = line;
        snprintf (got->rej[got->nrej].field, sizeof got->rej[0].field, "%s", field);
        snprintf (got->rej[got->nrej].reason, sizeof got->rej[0].reason, "%s", reason);
    }
    got->nrej++;
}

typedef int (*s_reader_fn) (FILE *, const char *, const hk_sink_t *, char *, size_t);

static int
s_read_text (s_reader_fn reader, const char *text, const char *zone, s_got_t *got, char *why,
             size_t whylen)
{
    int stop_at = got->stop_at;
    *got = (s_got_t) { .stop_at = stop_at };
    why[0] = 0;
    FILE *f = fmemopen ((void *) text, strlen (text), "r");
    if (!f)
        return HK_EIO;
    hk_sink_t sink = { .arg = got, .record = s_on_record, .reject = s_on_reject };
    int rc = reader (f, zone, &sink, why, whylen);
    fclose (f);
    return rc;
}

/* The folder of the real-world files: $HK_SOURCE_DIR/../shared/data/realworld, else beside
 * the source tree this file was compiled from. */
static void
s_data_dir (char *out, size_t len)
{
    const char *src = getenv ("HK_SOURCE_DIR");
    if (src && *src) {
        snprintf (out, len, "%s/../shared/data/realworld", src);
        return;
    }
    const char *self = __FILE__;
    const char *tail = strstr (self, "tests/unit/test_statements.c");
    if (tail)
        snprintf (out, len, "%.*s../shared/data/realworld", (int) (tail - self), self);
    else
        snprintf (out, len, "../shared/data/realworld");
}

static int
s_read_file (s_reader_fn reader, const char *dir, const char *name, const char *zone,
             s_got_t *got, char *why, size_t whylen)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    *got = (s_got_t) { 0 };
    why[0] = 0;
    FILE *f = fopen (path, "rb");
    if (!f) {
        fprintf (stderr, "statements: cannot open %s\n", path);
        return HK_EIO;
    }
    hk_sink_t sink = { .arg = got, .record = s_on_record, .reject = s_on_reject };
    int rc = reader (f, zone, &sink, why, whylen);
    fclose (f);
    return rc;
}

/* --- camt, real files ------------------------------------------------------------------------ */

static int
s_camt_files (const char *dir, bool verbose)
{
    int failures = 0;
    s_got_t got;
    char why[300];

    /* One credit entry, date-only booking 2014-12-31, no AcctSvcrRef and no EndToEndId. */
    CHECK_INT (s_read_file (hk_camt_read, dir, "camt/camt053.v2.minimal.xml", "Europe/Brussels",
                            &got, why, sizeof why), 0);
    CHECK_INT (got.npay, 1);
    CHECK_INT (got.nrej, 0);
    CHECK_STR (got.pay[0].id, "CAMT053RIB000000000001/253EURNL26VAYB8060476890/1");
    CHECK_STR (got.pay[0].currency, "EUR");
    CHECK_STR (got.pay[0].amount, "8.85");
    CHECK_STR (got.pay[0].received_at, "2014-12-31T00:00:00+01:00");
    CHECK_STR (got.pay[0].reference, "4654654654654654");
    CHECK_STR (got.pay[0].invoice_id, "4654654654654654");
    CHECK_STR (got.pay[0].payer_name, "NAME NAME");
    CHECK_STR (got.pay[0].payer_account, "NL56AGDH9619008421");
    CHECK_INT (got.pay[0].line, 1);

    /* Two statements: a credit with an EndToEndId, then a debit (skipped, not rejected). */
    CHECK_INT (s_read_file (hk_camt_read, dir, "camt/camt053.v2.multi.statement.xml",
                            "Europe/Brussels", &got, why, sizeof why), 0);
    CHECK_INT (got.npay, 1);
    CHECK_INT (got.nrej, 0);
    CHECK_STR (got.pay[0].id, "000000001");
    CHECK_STR (got.pay[0].amount, "8.85");
    CHECK_STR (got.pay[0].reference, "Transaction Description 1");
    CHECK_STR (got.pay[0].payer_name, ""); /* only the creditor is named */
    CHECK_STR (got.pay[0].received_at, "2014-12-31T00:00:00+01:00");

    /* Version 8: AcctSvcrRef, booking DtTm with offset, Dbtr/Pty/Nm; the one detail's own
     * "0 SEK" is not the entry's amount (8.85 EUR). */
    CHECK_INT (s_read_file (hk_camt_read, dir, "camt/camt053.v8.xml", "Europe/Brussels", &got,
                            why, sizeof why), 0);
    CHECK_INT (got.npay, 1);
    CHECK_STR (got.pay[0].id, "AAAASESS-FP-CN_98765/01");
    CHECK_STR (got.pay[0].currency, "EUR");
    CHECK_STR (got.pay[0].amount, "8.85");
    CHECK_STR (got.pay[0].received_at, "2014-12-31T13:15:00+01:00");
    CHECK_STR (got.pay[0].payer_name, "NAME NAME");
    CHECK_STR (got.pay[0].payer_account, "NL56AGDH9619008421");
    CHECK_STR (got.pay[0].reference, "4654654654654654");

    /* camt.054 whose only entry is a debit of 200000 SEK: nothing to record, nothing wrong. */
    CHECK_INT (s_read_file (hk_camt_read, dir, "camt/camt054.v2.xml", "Europe/Brussels", &got,
                            why, sizeof why), 0);
    CHECK_INT (got.npay, 0);
    CHECK_INT (got.nrej, 0);

    /* A statement message without any Stmt. */
    CHECK_INT (s_read_file (hk_camt_read, dir, "camt/camt053.v2.wrong.xml", "Europe/Brussels",
                            &got, why, sizeof why), HK_EPARSE);
    CHECK (strstr (why, "Stmt") != NULL);
    CHECK_INT (got.npay, 0);
    if (verbose)
        printf ("  camt053.v2.wrong.xml: %s\n", why);
    return failures;
}

/* --- camt, inline edge cases ----------------------------------------------------------------- */

#define S_CAMT_HEAD                                                                        \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                         \
    "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\"><BkToCstmrStmt>"   \
    "<GrpHdr><MsgId>MSG-1</MsgId></GrpHdr><Stmt><Id>STMT-1</Id>"
#define S_CAMT_TAIL "</Stmt></BkToCstmrStmt></Document>\n"

static const char s_camt_edges[] = S_CAMT_HEAD
    /* 1: date-only booking, names and texts with stray whitespace */
    "<Ntry><Amt Ccy=\"CNY\">1000.50</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
    "<BookgDt><Dt>2026-03-12</Dt></BookgDt><AcctSvcrRef>REF-1</AcctSvcrRef>"
    "<NtryDtls><TxDtls><RltdPties><Dbtr><Pty><Nm>Shanghai  Trading\n Co</Nm></Pty></Dbtr>"
    "<DbtrAcct><Id><Othr><Id>6222000011112222</Id></Othr></Id></DbtrAcct></RltdPties>"
    "<RmtInf><Ustrd>INV-2026-001</Ustrd><Ustrd>thanks</Ustrd></RmtInf></TxDtls></NtryDtls>"
    "</Ntry>"
    /* 2: a debit */
    "<Ntry><Amt Ccy=\"CNY\">5.00</Amt><CdtDbtInd>DBIT</CdtDbtInd>"
    "<BookgDt><Dt>2026-03-12</Dt></BookgDt></Ntry>"
    /* 3: a reversal */
    "<Ntry><Amt Ccy=\"CNY\">7.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><RvslInd>true</RvslInd>"
    "<BookgDt><Dt>2026-03-12</Dt></BookgDt></Ntry>"
    /* 4: a batch whose details add up: split, local DtTm without offset */
    "<Ntry><Amt Ccy=\"CNY\">300.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
    "<BookgDt><DtTm>2026-03-12T09:30:00</DtTm></BookgDt><AcctSvcrRef>ENTRY-9</AcctSvcrRef>"
    "<NtryDtls>"
    "<TxDtls><Refs><EndToEndId>E2E-1</EndToEndId></Refs><Amt Ccy=\"CNY\">100.00</Amt>"
    "<RmtInf><Strd><RfrdDocInf><Nb>INV-1</Nb></RfrdDocInf></Strd></RmtInf></TxDtls>"
    "<TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs><Amt Ccy=\"CNY\">150.50</Amt>"
    "<RltdPties><Dbtr><Nm>Payer Two</Nm></Dbtr></RltdPties>"
    "<RmtInf><Strd><CdtrRefInf><Ref>INV-2</Ref></CdtrRefInf></Strd></RmtInf></TxDtls>"
    "<TxDtls><Refs><AcctSvcrRef>BANK-3</AcctSvcrRef></Refs><Amt Ccy=\"CNY\">49.50</Amt>"
    "<RmtInf><Ustrd>third</Ustrd></RmtInf></TxDtls>"
    "</NtryDtls></Ntry>"
    /* 5: a batch whose details do not add up: one payment, all references */
    "<Ntry><Amt Ccy=\"CNY\">25.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
    "<ValDt><Dt>2026-03-13</Dt></ValDt><NtryDtls>"
    "<TxDtls><Amt Ccy=\"CNY\">10.00</Amt><RmtInf><Ustrd>first</Ustrd>"
    "<Strd><RfrdDocInf><Nb>INV-A</Nb></RfrdDocInf></Strd></RmtInf></TxDtls>"
    "<TxDtls><Amt Ccy=\"CNY\">10.00</Amt><RmtInf><Ustrd>second</Ustrd>"
    "<Strd><RfrdDocInf><Nb>INV-B</Nb></RfrdDocInf></Strd></RmtInf></TxDtls>"
    "</NtryDtls></Ntry>"
    /* 6: no currency */
    "<Ntry><Amt>3.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-03-12</Dt></BookgDt>"
    "</Ntry>"
    /* 7: pending */
    "<Ntry><Amt Ccy=\"CNY\">4.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>PDNG</Sts>"
    "<BookgDt><Dt>2026-03-12</Dt></BookgDt></Ntry>"
    /* 8: version-2 detail amounts (AmtDtls/TxAmt/Amt), one EndToEndId used twice */
    "<Ntry><Amt Ccy=\"CNY\">3.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
    "<BookgDt><Dt>2026-03-12</Dt></BookgDt><NtryDtls>"
    "<TxDtls><Refs><EndToEndId>DUP</EndToEndId></Refs>"
    "<AmtDtls><TxAmt><Amt Ccy=\"CNY\">1.00</Amt></TxAmt></AmtDtls></TxDtls>"
    "<TxDtls><Refs><EndToEndId>DUP</EndToEndId></Refs>"
    "<AmtDtls><TxAmt><Amt Ccy=\"CNY\">2.00</Amt></TxAmt></AmtDtls></TxDtls>"
    "</NtryDtls></Ntry>"
    /* 9: no amount */
    "<Ntry><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-03-12</Dt></BookgDt></Ntry>"
    S_CAMT_TAIL;

static int
s_camt_inline (bool verbose)
{
    int failures = 0;
    s_got_t got = { 0 };
    char why[300];

    CHECK_INT (s_read_text (hk_camt_read, s_camt_edges, "Asia/Shanghai", &got, why, sizeof why),
               0);
    CHECK_INT (got.npay, 7);
    CHECK_STR (got.pay[0].id, "REF-1");
    CHECK_STR (got.pay[0].currency, "CNY");
    CHECK_STR (got.pay[0].amount, "1000.50");
    CHECK_STR (got.pay[0].received_at, "2026-03-12T00:00:00+08:00");
    CHECK_STR (got.pay[0].reference, "INV-2026-001 thanks");
    CHECK_STR (got.pay[0].invoice_id, "");
    CHECK_STR (got.pay[0].payer_name, "Shanghai Trading Co");
    CHECK_STR (got.pay[0].payer_account, "6222000011112222");
    CHECK_INT (got.pay[0].line, 1);

    /* entry 4, split in three */
    CHECK_STR (got.pay[1].id, "E2E-1");
    CHECK_STR (got.pay[1].amount, "100.00");
    CHECK_STR (got.pay[1].invoice_id, "INV-1");
    CHECK_STR (got.pay[1].reference, "INV-1");
    CHECK_STR (got.pay[1].received_at, "2026-03-12T09:30:00+08:00");
    CHECK_INT (got.pay[1].line, 4);
    CHECK_STR (got.pay[2].id, "ENTRY-9/2");
    CHECK_STR (got.pay[2].amount, "150.50");
    CHECK_STR (got.pay[2].invoice_id, "INV-2");
    CHECK_STR (got.pay[2].payer_name, "Payer Two");
    CHECK_STR (got.pay[3].id, "BANK-3");
    CHECK_STR (got.pay[3].amount, "49.50");
    CHECK_STR (got.pay[3].reference, "third");

    /* entry 5, not split */
    CHECK_STR (got.pay[4].id, "MSG-1/STMT-1/5");
    CHECK_STR (got.pay[4].amount, "25.00");
    CHECK_STR (got.pay[4].reference, "first INV-A second INV-B");
    CHECK_STR (got.pay[4].invoice_id, "");
    CHECK_STR (got.pay[4].received_at, "2026-03-13T00:00:00+08:00");

    /* entry 8 */
    CHECK_STR (got.pay[5].id, "DUP/1");
    CHECK_STR (got.pay[5].amount, "1.00");
    CHECK_STR (got.pay[6].id, "DUP/2");
    CHECK_STR (got.pay[6].amount, "2.00");
    CHECK_INT (got.pay[6].line, 8);

    /* the debit (2) is skipped silently; 3, 6, 7 and 9 are rejected */
    CHECK_INT (got.nrej, 4);
    CHECK_INT (got.rej[0].line, 3);
    CHECK_STR (got.rej[0].field, "RvslInd");
    CHECK_INT (got.rej[1].line, 6);
    CHECK_STR (got.rej[1].field, "Amt/@Ccy");
    CHECK_INT (got.rej[2].line, 7);
    CHECK_STR (got.rej[2].field, "Sts");
    CHECK_INT (got.rej[3].line, 9);
    CHECK_STR (got.rej[3].field, "Amt");

    /* The sink can stop the reader. */
    got.stop_at = 2;
    CHECK_INT (s_read_text (hk_camt_read, s_camt_edges, "Asia/Shanghai", &got, why, sizeof why),
               HK_ECONFLICT);
    CHECK_INT (got.npay, 1);
    got.stop_at = 0;

    /* camt.054 credit, booking in UTC */
    const char *ntfctn =
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.04\">"
        "<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>N-1</MsgId></GrpHdr><Ntfctn><Id>NT-1</Id>"
        "<Ntry><Amt Ccy=\"USD\">0012.30</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
        "<BookgDt><DtTm>2026-03-12T10:00:00Z</DtTm></BookgDt></Ntry>"
        "</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>";
    CHECK_INT (s_read_text (hk_camt_read, ntfctn, "Asia/Shanghai", &got, why, sizeof why), 0);
    CHECK_INT (got.npay, 1);
    CHECK_STR (got.pay[0].id, "N-1/NT-1/1");
    CHECK_STR (got.pay[0].amount, "12.30");
    CHECK_STR (got.pay[0].received_at, "2026-03-12T10:00:00Z");

    /* XXE: the entity is not expanded; the document is refused. */
    const char *xxe =
        "<?xml version=\"1.0\"?>\n"
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n"
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><BkToCstmrStmt>"
        "<GrpHdr><MsgId>M</MsgId></GrpHdr><Stmt><Id>S</Id>"
        "<Ntry><Amt Ccy=\"EUR\">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
        "<BookgDt><Dt>2026-01-01</Dt></BookgDt><NtryDtls><TxDtls><RmtInf><Ustrd>&e;</Ustrd>"
        "</RmtInf></TxDtls></NtryDtls></Ntry></Stmt></BkToCstmrStmt></Document>";
    CHECK_INT (s_read_text (hk_camt_read, xxe, "UTC", &got, why, sizeof why), HK_EPARSE);
    CHECK_INT (got.npay, 0);
    CHECK (strstr (why, "DOCTYPE") != NULL);
    CHECK (strstr (why, "root:") == NULL);
    if (verbose)
        printf ("  xxe: %s\n", why);

    /* Not well-formed, not camt, unknown zone. */
    const char *broken = S_CAMT_HEAD "<Ntry><Amt Ccy=\"EUR\">1.00</Ntry>" S_CAMT_TAIL;
    CHECK_INT (s_read_text (hk_camt_read, broken, "UTC", &got, why, sizeof why), HK_EPARSE);
    CHECK (strstr (why, "not well-formed XML") != NULL);
    CHECK_INT (got.npay, 0);
    const char *pain = "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03\">"
                       "<CstmrCdtTrfInitn/></Document>";
    CHECK_INT (s_read_text (hk_camt_read, pain, "UTC", &got, why, sizeof why), HK_EPARSE);
    CHECK (strstr (why, "pain.001") != NULL);
    CHECK_INT (s_read_text (hk_camt_read, "", "UTC", &got, why, sizeof why), HK_EPARSE);
    CHECK_INT (s_read_text (hk_camt_read, s_camt_edges, "Mars/Olympus", &got, why, sizeof why),
               HK_EINVAL);
    return failures;
}

/* --- BAI2, real files ------------------------------------------------------------------------ */

/* Sum of the payments' amounts in minor units. */
static int64_t
s_total (const s_got_t *got)
{
    int64_t sum = 0, v;
    char err[80];
    for (int i = 0; i < got->npay && i < S_MAX_PAYMENTS; i++)
        if (hk_money_parse (got->pay[i].amount, '.', 0, got->pay[i].currency, &v, err,
                            sizeof err) == 0)
            sum += v;
    return sum;
}

static int
s_bai2_files (const char *dir, bool verbose)
{
    int failures = 0;
    s_got_t got;
    char why[300];

    /* Two CAD accounts; credits are the 108 details (2085.00 + 1115.00, as the 100 "total
     * credits" summaries in the 88 records say); value dates 060316 and 060317. */
    CHECK_INT (s_read_file (hk_bai2_read, dir, "bai2/sample1.txt", "America/Toronto", &got, why,
                            sizeof why), 0);
    CHECK_INT (got.npay, 5);
    CHECK_INT (got.nrej, 0);
    CHECK_INT (s_total (&got), 208500 + 111500);
    CHECK_STR (got.pay[0].currency, "CAD");
    CHECK_STR (got.pay[0].amount, "2035.00");
    CHECK_STR (got.pay[0].reference, "TFR 1020 0345678");
    CHECK_STR (got.pay[0].invoice_id, "");
    CHECK_STR (got.pay[0].received_at, "2006-03-16T00:00:00-05:00");
    CHECK_STR (got.pay[0].id, "0004/060321/001/1/10200123456/8");
    CHECK_INT (got.pay[0].line, 8);
    CHECK_STR (got.pay[2].reference, "MASCOUCHE QUE");
    CHECK_STR (got.pay[4].amount, "1000.00");
    CHECK_STR (got.pay[4].reference, "MONTREAL");
    CHECK_STR (got.pay[4].received_at, "2006-03-17T00:00:00-05:00");

    /* USD by default (no currency in 02 or 03); funds types S, V and 1; a text in an 88. */
    CHECK_INT (s_read_file (hk_bai2_read, dir, "bai2/sample2.txt", "America/New_York", &got,
                            why, sizeof why), 0);
    CHECK_INT (got.npay, 4);
    CHECK_STR (got.pay[0].currency, "USD");
    CHECK_STR (got.pay[0].amount, "4500.00");
    CHECK_STR (got.pay[0].received_at, "2004-06-20T23:59:00-04:00"); /* as-of 040620 2359 */
    CHECK_STR (got.pay[1].amount, "5000.00");
    CHECK_STR (got.pay[1].reference, "LOCK BOX NO.68751");
    CHECK_STR (got.pay[2].id, "SP4738");
    CHECK_STR (got.pay[2].amount, "200000.00");
    CHECK_STR (got.pay[2].invoice_id, "YRC065321");
    CHECK_STR (got.pay[2].reference,
               "YRC065321 PROCEEDS OF LETTER OF CREDIT FROM THE ARAMCO OIL CO");
    CHECK_STR (got.pay[2].received_at, "2004-06-22T00:00:00-04:00"); /* value date 040622 */
    CHECK_STR (got.pay[3].amount, "100000.00");

    /* Several records per line, a text broken over two lines, as-of time 2400; credits are the
     * 142 and 195 details (the 100 summaries: 31.00 + 37.00 + 3.20 + 325.93). */
    CHECK_INT (s_read_file (hk_bai2_read, dir, "bai2/sample3.txt", "America/New_York", &got,
                            why, sizeof why), 0);
    CHECK_INT (got.npay, 13);
    CHECK_INT (s_total (&got), 3100 + 3700 + 320 + 32593);
    CHECK_STR (got.pay[0].amount, "25.00");
    CHECK_STR (got.pay[0].reference, "TRANSFER PAYPAL PPD");
    CHECK_STR (got.pay[0].received_at, "2022-09-19T23:59:59-04:00");
    CHECK_STR (got.pay[1].amount, "5.00");
    CHECK_STR (got.pay[1].reference, "TRANSFER MSPBNA BANK PPD");
    CHECK_STR (got.pay[8].amount, "138.55");
    CHECK_STR (got.pay[8].reference, "Wire Transfer Credit VISA INTERNATIONAL 900 METRO CENTER "
                                     "BLVD FOSTER CITY CA 94404");

    /* Record type 00. */
    CHECK_INT (s_read_file (hk_bai2_read, dir, "bai2/sample-parseError.txt", "UTC", &got, why,
                            sizeof why), HK_EPARSE);
    CHECK (strstr (why, "line 1:") != NULL);
    CHECK (strstr (why, "record type 00") != NULL);
    CHECK_INT (got.npay, 0);
    if (verbose)
        printf ("  sample-parseError.txt: %s\n", why);
    return failures;
}

/* --- BAI2, inline edge cases ----------------------------------------------------------------- */

static const char s_bai2_doc[] =
    "01,SENDER,RECEIVER,260312,0800,77,,,2/\n"
    "02,RECEIVER,BANK,1,260311,1700,CNY,2/\n"
    "03,ACCT-1,,010,100000,,/\n"
    "88,015,250000,,/\n"
    "16,195,150000,V,260312,0930,BREF-1,INV-7,PAYMENT FOR/\n"
    "88,INVOICE INV-7 AND INV-8/\n"
    "16,475,50000,0,,,CHEQUE/\n"
    "16,142,50000,Z,,,LOCKBOX/\n"
    "49,600000,7/\n"
    "03,ACCT-2,JPY,010,5000,,/\n"
    "16,195,1500,,,,/\n"
    "49,6500,3/\n"
    "98,606500,2,12/\n"
    "99,606500,1,14/\n";

/* s_bai2_doc with one line replaced (1-based), or removed when with is NULL. */
static void
s_bai2_variant (int line, const char *with, char *out, size_t len)
{
    const char *p = s_bai2_doc;
    size_t n = 0;
    for (int i = 1; *p; i++) {
        const char *eol = strchr (p, '\n');
        size_t l = eol ? (size_t) (eol - p) + 1 : strlen (p);
        const char *src = i == line ? with : p;
        size_t sl = i == line ? (with ? strlen (with) : 0) : l;
        if (sl && n + sl + 1 < len) {
            memcpy (out + n, src, sl);
            n += sl;
        }
        p += l;
    }
    out[n] = 0;
}

static int
s_bai2_inline (bool verbose)
{
    int failures = 0;
    s_got_t got = { 0 };
    char why[300], doc[2048];

    CHECK_INT (s_read_text (hk_bai2_read, s_bai2_doc, "Asia/Shanghai", &got, why, sizeof why), 0);
    CHECK_INT (got.npay, 3);
    CHECK_INT (got.nrej, 0);
    CHECK_STR (got.pay[0].id, "BREF-1");
    CHECK_STR (got.pay[0].currency, "CNY");
    CHECK_STR (got.pay[0].amount, "1500.00");
    CHECK_STR (got.pay[0].invoice_id, "INV-7");
    CHECK_STR (got.pay[0].reference, "INV-7 PAYMENT FOR INVOICE INV-7 AND INV-8");
    CHECK_STR (got.pay[0].received_at, "2026-03-12T09:30:00+08:00");
    CHECK_INT (got.pay[0].line, 5);
    /* the 475 debit is skipped */
    CHECK_STR (got.pay[1].id, "SENDER/260312/77/1/ACCT-1/8");
    CHECK_STR (got.pay[1].amount, "500.00");
    CHECK_STR (got.pay[1].reference, "LOCKBOX");
    CHECK_STR (got.pay[1].received_at, "2026-03-11T17:00:00+08:00");
    CHECK_STR (got.pay[2].id, "SENDER/260312/77/1/ACCT-2/11");
    CHECK_STR (got.pay[2].currency, "JPY");
    CHECK_STR (got.pay[2].amount, "1500");

    /* A wrong account control total: nothing is emitted, even the credits before it. */
    s_bai2_variant (9, "49,600001,7/\n", doc, sizeof doc);
    CHECK_INT (s_read_text (hk_bai2_read, doc, "Asia/Shanghai", &got, why, sizeof why), HK_EPARSE);
    CHECK (strstr (why, "line 9:") != NULL);
    CHECK (strstr (why, "control total") != NULL);
    CHECK_INT (got.npay, 0);
    if (verbose)
        printf ("  bad 49: %s\n", why);
    /* A wrong record count in the group trailer. */
    s_bai2_variant (13, "98,606500,2,13/\n", doc, sizeof doc);
    CHECK_INT (s_read_text (hk_bai2_read, doc, "UTC", &got, why, sizeof why), HK_EPARSE);
    CHECK (strstr (why, "line 13:") != NULL);
    CHECK (strstr (why, "number of records") != NULL);
    /* A wrong number of groups in the file trailer. */
    s_bai2_variant (14, "99,606500,2,14/\n", doc, sizeof doc);
    CHECK_INT (s_read_text (hk_bai2_read, doc, "UTC", &got, why, sizeof why), HK_EPARSE);
    CHECK (strstr (why, "groups") != NULL);
    /* No 99. */
    s_bai2_variant (14, NULL, doc, sizeof doc);
    CHECK_INT (s_read_text (hk_bai2_read, doc, "UTC", &got, why, sizeof why), HK_EPARSE);
    CHECK (strstr (why, "99 file trailer") != NULL);
    CHECK_INT (got.npay, 0);
    /* A detail outside an account. */
    s_bai2_variant (3, "16,195,100,,,,/\n", doc, sizeof doc);
    CHECK_INT (s_read_text (hk_bai2_read, doc, "UTC", &got, why, sizeof why), HK_EPARSE);
    CHECK (strstr (why, "line 3: 16 transaction detail where a 03") != NULL);
    /* An unknown record type. */
    s_bai2_variant (7, "17,475,50000,0,,,CHEQUE/\n", doc, sizeof doc);
    CHECK_INT (s_read_text (hk_bai2_read, doc, "UTC", &got, why, sizeof why), HK_EPARSE);
    CHECK (strstr (why, "line 7: unknown record type 17") != NULL);
    /* An unknown funds type. */
    s_bai2_variant (7, "16,475,50000,Q,,,CHEQUE/\n", doc, sizeof doc);
    CHECK_INT (s_read_text (hk_bai2_read, doc, "UTC", &got, why, sizeof why), HK_EPARSE);
    CHECK (strstr (why, "funds type") != NULL);
    /* A test-only group: checked, no payments, one reject saying why. */
    s_bai2_variant (2, "02,RECEIVER,BANK,4,260311,1700,CNY,2/\n", doc, sizeof doc);
    CHECK_INT (s_read_text (hk_bai2_read, doc, "UTC", &got, why, sizeof why), 0);
    CHECK_INT (got.npay, 0);
    CHECK_INT (got.nrej, 1);
    CHECK_STR (got.rej[0].field, "group status");
    CHECK_INT (got.rej[0].line, 2);

    /* Several records on one line; a '/' inside a text; CRLF; no as-of time. */
    const char *packed = "01,S,R,260312,0800,1,,,2/\r\n"
                         "02,R,B,1,260311,,USD,2/\r\n"
                         "03,A,,/ 16,195,100,,BR-9,,PAID 1/2 OF INV-3/ 49,100,3/\r\n"
                         "98,100,1,5/\r\n"
                         "99,100,1,7/";
    CHECK_INT (s_read_text (hk_bai2_read, packed, "Asia/Shanghai", &got, why, sizeof why), 0);
    CHECK_INT (got.npay, 1);
    CHECK_STR (got.pay[0].id, "BR-9");
    CHECK_STR (got.pay[0].amount, "1.00");
    CHECK_STR (got.pay[0].reference, "PAID 1/2 OF INV-3");
    CHECK_STR (got.pay[0].received_at, "2026-03-11T00:00:00+08:00");
    CHECK_INT (got.pay[0].line, 3);

    CHECK_INT (s_read_text (hk_bai2_read, "", "UTC", &got, why, sizeof why), HK_EPARSE);
    CHECK (strstr (why, "01 file header") != NULL);
    return failures;
}

int
hk_statements_test (bool verbose)
{
    int failures = 0;
    char dir[1024];
    s_data_dir (dir, sizeof dir);
    char probe[1100];
    snprintf (probe, sizeof probe, "%s/camt/camt053.v2.minimal.xml", dir);
    FILE *f = fopen (probe, "rb");
    if (!f) {
        fprintf (stderr, "statements: the real-world files are missing (%s not found; "
                         "HK_SOURCE_DIR/../shared/data/realworld)\n", probe);
        return 1;
    }
    fclose (f);
    failures += s_camt_files (dir, verbose);
    failures += s_camt_inline (verbose);
    failures += s_bai2_files (dir, verbose);
    failures += s_bai2_inline (verbose);
    return failures;
}
