/* camt: ISO 20022 camt.053 / camt.054 entries to payment records (see camt.h).
 *
 * Field sources, by local element name (any version):
 *   payment_id     entry AcctSvcrRef, else TxDtls/Refs/AcctSvcrRef, else Refs/EndToEndId
 *                  (not NOTPROVIDED), else <MsgId>/<Stmt Id>/<entry index in the statement>;
 *                  a batch split adds "/<detail index>" where details would share an id;
 *                  an id longer than 64 characters is replaced by its SHA-256 (hex)
 *   currency       Amt/@Ccy
 *   amount         Amt, as written (sign and leading zeros dropped, never rounded)
 *   received_at    BookgDt, else ValDt: DtTm as written when it has an offset, else the local
 *                  time (Dt: 00:00) in the reader's zone with that zone's offset
 *   reference      RmtInf: Ustrd texts, then per Strd RfrdDocInf/Nb, CdtrRefInf/Ref and
 *                  AddtlRmtInf, joined with " " (else AddtlTxInf, else AddtlNtryInf); at most
 *                  500 bytes
 *   invoice_id     first Strd/RfrdDocInf/Nb, else first Strd/CdtrRefInf/Ref (at most 64)
 *   payer_name     RltdPties/Dbtr/Nm or RltdPties/Dbtr/Pty/Nm
 *   payer_account  RltdPties/DbtrAcct/Id/IBAN or RltdPties/DbtrAcct/Id/Othr/Id
 * An entry with several TxDtls is split into one payment per credit detail when every credit
 * detail carries an amount in the entry's currency and the details add up to the entry (credits
 * minus debits); otherwise the entry is one payment whose reference joins all details. */
#include "camt.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "huikuan/dates.h"
#include "huikuan/digest.h"
#include "huikuan/errcodes.h"
#include "huikuan/files.h"
#include "huikuan/money.h"

#define HK_CAMT_MAX_BYTES     (256u << 20)  /* a larger file is refused, not read */
#define HK_CAMT_ID_MAX        64            /* docs/feeds.md: ids are at most 64 characters */
#define HK_CAMT_REFERENCE_MAX 500           /* feed.c bounds for payment text fields */
#define HK_CAMT_NAME_MAX      200

static const char s_ns_053[] = "urn:iso:std:iso:20022:tech:xsd:camt.053.";
static const char s_ns_054[] = "urn:iso:std:iso:20022:tech:xsd:camt.054.";

typedef struct {
    const char *zone;
    const hk_sink_t *sink;
    const char *msg_id;        /* GrpHdr/MsgId */
    const char *stmt_id;       /* Stmt/Id or Ntfctn/Id */
    long entry_no;             /* across the file: `line` of records and rejects */
    long entry_in_stmt;        /* within the statement: fallback ids */
    long debits;               /* debit entries skipped (not payments, not errors) */
    bool oom;                  /* an allocation failed: the read ends with HK_ENOMEM */
    char **scratch;            /* strings owned by the reader, freed back to a mark */
    size_t nscratch, scratch_cap;
} s_camt_t;

/* What one TxDtls says; strings live in the scratch. */
typedef struct {
    const char *acct_svcr_ref;
    const char *end_to_end_id;
    const char *amount;        /* the detail's own amount (canonical), "" when absent or bad */
    const char *currency;
    bool debit;
    const char *reference;
    const char *invoice_id;
    const char *payer_name;
    const char *payer_account;
    const char *id;            /* payment_id when the entry is split */
    bool shared;               /* another detail of the entry has the same id */
} s_tx_t;

typedef struct {
    const char *payment_id, *currency, *amount, *received_at;
    const char *reference, *invoice_id, *payer_name, *payer_account;
} s_payment_t;

static void
s_why (char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || !whylen)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (why, whylen, fmt, ap);
    va_end (ap);
}

/* --- scratch strings ------------------------------------------------------------------------ */

/* Takes p over; returns it, or "" (and sets oom) when p is NULL or cannot be kept. */
static char *
s_keep (s_camt_t *self, char *p)
{
    if (!p) {
        self->oom = true;
        return (char *) "";
    }
    if (self->nscratch == self->scratch_cap) {
        size_t cap = self->scratch_cap ? self->scratch_cap * 2 : 64;
        char **grown = realloc (self->scratch, cap * sizeof *grown);
        if (!grown) {
            free (p);
            self->oom = true;
            return (char *) "";
        }
        self->scratch = grown;
        self->scratch_cap = cap;
    }
    self->scratch[self->nscratch++] = p;
    return p;
}

static void
s_release (s_camt_t *self, size_t mark)
{
    while (self->nscratch > mark)
        free (self->scratch[--self->nscratch]);
}

/* Copy of text with whitespace runs made one space and the ends trimmed. */
static char *
s_squash (s_camt_t *self, const char *text)
{
    char *out = malloc (strlen (text) + 1);
    if (!out)
        return s_keep (self, NULL);
    size_t n = 0;
    bool space = false;
    for (const char *p = text; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            space = n > 0;
            continue;
        }
        if (space)
            out[n++] = ' ';
        space = false;
        out[n++] = *p;
    }
    out[n] = 0;
    return s_keep (self, out);
}

/* Cuts s (a scratch string or "") to at most max bytes on a UTF-8 character boundary. */
static void
s_cap (char *s, size_t max)
{
    size_t n = strlen (s);
    if (n <= max)
        return;
    n = max;
    while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
        n--;
    while (n > 0 && s[n - 1] == ' ')
        n--;
    s[n] = 0;
}

typedef struct {
    char *p;
    size_t len, cap;
} s_buf_t;

/* Appends text, separated from what is there by sep. */
static void
s_buf_add (s_camt_t *self, s_buf_t *b, const char *sep, const char *text)
{
    if (!*text)
        return;
    size_t seplen = b->len ? strlen (sep) : 0, add = strlen (text);
    if (b->len + seplen + add + 1 > b->cap) {
        size_t cap = (b->len + seplen + add + 1) * 2;
        char *grown = realloc (b->p, cap);
        if (!grown) {
            self->oom = true;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy (b->p + b->len, sep, seplen);
    memcpy (b->p + b->len + seplen, text, add);
    b->len += seplen + add;
    b->p[b->len] = 0;
}

/* The buffer's text as a scratch string ("" when empty). */
static char *
s_buf_take (s_camt_t *self, s_buf_t *b)
{
    if (!b->p)
        return (char *) "";
    char *p = s_keep (self, b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

/* --- the tree ------------------------------------------------------------------------------- */

static bool
s_is (xmlNodePtr node, const char *name)
{
    return node && node->type == XML_ELEMENT_NODE && strcmp ((const char *) node->name, name) == 0;
}

/* First element child called name, or NULL. */
static xmlNodePtr
s_child (xmlNodePtr node, const char *name)
{
    for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next)
        if (s_is (c, name))
            return c;
    return NULL;
}

/* Next element sibling called name, or NULL. */
static xmlNodePtr
s_next (xmlNodePtr node, const char *name)
{
    for (xmlNodePtr c = node ? node->next : NULL; c; c = c->next)
        if (s_is (c, name))
            return c;
    return NULL;
}

/* Follows "A/B/C" through first children. */
static xmlNodePtr
s_path (xmlNodePtr node, const char *path)
{
    char step[64];
    while (node && *path) {
        size_t n = strcspn (path, "/");
        if (n >= sizeof step)
            return NULL;
        memcpy (step, path, n);
        step[n] = 0;
        node = s_child (node, step);
        path += n;
        if (*path == '/')
            path++;
    }
    return node;
}

/* The node's text (descendants included), squashed; "" for NULL. */
static const char *
s_content (s_camt_t *self, xmlNodePtr node)
{
    if (!node)
        return "";
    xmlChar *c = xmlNodeGetContent (node);
    if (!c)
        return "";
    const char *out = s_squash (self, (const char *) c);
    xmlFree (c);
    return out;
}

static const char *
s_text_at (s_camt_t *self, xmlNodePtr node, const char *path)
{
    return s_content (self, s_path (node, path));
}

static const char *
s_attr (s_camt_t *self, xmlNodePtr node, const char *name)
{
    if (!node)
        return "";
    xmlChar *v = xmlGetNoNsProp (node, (const xmlChar *) name);
    if (!v)
        return "";
    const char *out = s_squash (self, (const char *) v);
    xmlFree (v);
    return out;
}

/* A reference a bank writes when it has none. */
static const char *
s_real_ref (const char *ref)
{
    if (strcasecmp (ref, "NOTPROVIDED") == 0 || strcasecmp (ref, "NOT PROVIDED") == 0
        || strcasecmp (ref, "NONREF") == 0)
        return "";
    return ref;
}

/* --- values --------------------------------------------------------------------------------- */

/* Canonical form of an xs:decimal amount: sign '+' and leading zeros dropped, "5." -> "5",
 * ".5" -> "0.5"; digits otherwise exactly as written. Returns NULL with *reason on error. */
static const char *
s_decimal (s_camt_t *self, const char *text, const char **reason)
{
    const char *p = text;
    if (*p == '-') {
        *reason = "negative amount";
        return NULL;
    }
    if (*p == '+')
        p++;
    const char *ip = p;
    while (isdigit ((unsigned char) *p))
        p++;
    size_t ni = (size_t) (p - ip), nf = 0;
    const char *fp = p;
    if (*p == '.') {
        fp = ++p;
        while (isdigit ((unsigned char) *p))
            p++;
        nf = (size_t) (p - fp);
    }
    if (*p || (ni == 0 && nf == 0)) {
        *reason = "not a decimal amount";
        return NULL;
    }
    while (ni > 1 && *ip == '0') {
        ip++;
        ni--;
    }
    char *out = malloc (ni + nf + 3);
    if (!out)
        return s_keep (self, NULL);
    size_t n = 0;
    if (ni == 0)
        out[n++] = '0';
    memcpy (out + n, ip, ni);
    n += ni;
    if (nf) {
        out[n++] = '.';
        memcpy (out + n, fp, nf);
        n += nf;
    }
    out[n] = 0;
    return s_keep (self, out);
}

/* Local civil time in zone -> "YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM". Returns 0 or HK_EINVAL. */
static int
s_local_instant (const char *zone, int32_t date, int minute, int64_t extra_us, char *out,
                 size_t len)
{
    int64_t us;
    if (hk_tz_instant (zone, date, minute, &us))
        return HK_EINVAL;
    us += extra_us;
    hk_local_t loc;
    if (hk_tz_local (zone, us, &loc))
        return HK_EINVAL;
    int64_t micro = us % HK_US_PER_SEC;
    if (micro < 0)
        micro += HK_US_PER_SEC;
    char day[16], frac[16] = "";
    hk_date_format (loc.date, day, sizeof day);
    if (micro)
        snprintf (frac, sizeof frac, ".%06d", (int) micro);
    int off = loc.utc_offset_min < 0 ? -loc.utc_offset_min : loc.utc_offset_min;
    snprintf (out, len, "%sT%02d:%02d:%02d%s%c%02d:%02d", day, loc.minute_of_day / 60,
              loc.minute_of_day % 60, loc.second, frac, loc.utc_offset_min < 0 ? '-' : '+',
              off / 60, off % 60);
    return 0;
}

/* received_at from a BookgDt or ValDt element. Returns 0, 1 when it holds no date, or
 * HK_EINVAL when the value is not a date or time. */
static int
s_when (s_camt_t *self, xmlNodePtr when, char *out, size_t len)
{
    const char *dttm = s_text_at (self, when, "DtTm");
    const char *dt = s_text_at (self, when, "Dt");
    int64_t us;
    int32_t day;
    char tmp[96];
    if (*dttm) {
        if (hk_time_parse (dttm, &us) == 0) {
            if (strlen (dttm) < len)
                snprintf (out, len, "%s", dttm);
            else
                hk_time_format (us, out, len);
            return 0;
        }
        /* No offset: a local time in the reader's zone. */
        if (strlen (dttm) + 2 > sizeof tmp)
            return HK_EINVAL;
        snprintf (tmp, sizeof tmp, "%sZ", dttm);
        if (hk_time_parse (tmp, &us) != 0)
            return HK_EINVAL;
        int64_t days = us >= 0 ? us / HK_US_PER_DAY : -((-us + HK_US_PER_DAY - 1) / HK_US_PER_DAY);
        int64_t rest = us - days * HK_US_PER_DAY;
        return s_local_instant (self->zone, (int32_t) days, (int) (rest / HK_US_PER_MIN),
                                rest % HK_US_PER_MIN, out, len);
    }
    if (*dt) {
        if (hk_date_parse (dt, &day) == 0)
            return s_local_instant (self->zone, day, 0, 0, out, len);
        /* xs:date with its own offset: "2014-12-31+01:00". */
        if (strlen (dt) > 10 && strlen (dt) < 40) {
            snprintf (tmp, sizeof tmp, "%.10sT00:00:00%s", dt, dt + 10);
            size_t n = strlen (tmp);
            if (hk_time_parse (tmp, &us) == 0 && n < len) {
                memcpy (out, tmp, n + 1);
                return 0;
            }
        }
        return HK_EINVAL;
    }
    return 1;
}

/* --- entries -------------------------------------------------------------------------------- */

static void
s_reject (s_camt_t *self, long line, const char *field, const char *reason)
{
    if (self->sink->reject)
        self->sink->reject (self->sink->arg, line, field, reason);
}

/* Reference, invoice hint, payer and own amount of one TxDtls. */
static void
s_tx_read (s_camt_t *self, xmlNodePtr node, s_tx_t *tx)
{
    tx->acct_svcr_ref = s_real_ref (s_text_at (self, node, "Refs/AcctSvcrRef"));
    tx->end_to_end_id = s_real_ref (s_text_at (self, node, "Refs/EndToEndId"));
    tx->debit = strcmp (s_text_at (self, node, "CdtDbtInd"), "DBIT") == 0;
    xmlNodePtr amt = s_child (node, "Amt");
    if (!amt)
        amt = s_path (node, "AmtDtls/TxAmt/Amt");
    const char *reason;
    const char *amount = s_decimal (self, s_content (self, amt), &reason);
    tx->amount = amount ? amount : "";
    tx->currency = s_attr (self, amt, "Ccy");

    xmlNodePtr parties = s_child (node, "RltdPties");
    tx->payer_name = s_text_at (self, parties, "Dbtr/Nm");
    if (!*tx->payer_name)
        tx->payer_name = s_text_at (self, parties, "Dbtr/Pty/Nm");
    tx->payer_account = s_text_at (self, parties, "DbtrAcct/Id/IBAN");
    if (!*tx->payer_account)
        tx->payer_account = s_text_at (self, parties, "DbtrAcct/Id/Othr/Id");

    s_buf_t ref = { 0 };
    const char *doc_nb = "", *cdtr_ref = "";
    xmlNodePtr rmt = s_child (node, "RmtInf");
    for (xmlNodePtr u = s_child (rmt, "Ustrd"); u; u = s_next (u, "Ustrd"))
        s_buf_add (self, &ref, " ", s_content (self, u));
    for (xmlNodePtr st = s_child (rmt, "Strd"); st; st = s_next (st, "Strd")) {
        for (xmlNodePtr d = s_child (st, "RfrdDocInf"); d; d = s_next (d, "RfrdDocInf")) {
            const char *nb = s_text_at (self, d, "Nb");
            s_buf_add (self, &ref, " ", nb);
            if (!*doc_nb)
                doc_nb = nb;
        }
        const char *cref = s_text_at (self, st, "CdtrRefInf/Ref");
        s_buf_add (self, &ref, " ", cref);
        if (!*cdtr_ref)
            cdtr_ref = cref;
        for (xmlNodePtr a = s_child (st, "AddtlRmtInf"); a; a = s_next (a, "AddtlRmtInf"))
            s_buf_add (self, &ref, " ", s_content (self, a));
    }
    tx->reference = s_buf_take (self, &ref);
    if (!*tx->reference)
        tx->reference = s_text_at (self, node, "AddtlTxInf");
    tx->invoice_id = *doc_nb ? doc_nb : cdtr_ref;
    if (strlen (tx->invoice_id) > HK_CAMT_ID_MAX)
        tx->invoice_id = "";
}

/* Hands one payment to the sink. */
static int
s_emit (s_camt_t *self, long line, s_payment_t *p)
{
    if (self->oom)
        return HK_ENOMEM;
    char digest[HK_SHA256_HEX_LEN];
    if (strlen (p->payment_id) > HK_CAMT_ID_MAX) {
        if (hk_sha256_hex (p->payment_id, strlen (p->payment_id), digest))
            return HK_ENOMEM;
        p->payment_id = digest;
    }
    if (strlen (p->payer_account) > HK_CAMT_ID_MAX)
        p->payer_account = "";
    /* reference and payer_name are scratch strings or "" */
    s_cap ((char *) p->reference, HK_CAMT_REFERENCE_MAX);
    s_cap ((char *) p->payer_name, HK_CAMT_NAME_MAX);
    hk_record_t rec = { .kind = HK_REC_PAYMENT, .line = line };
    hk_record_set (&rec, "payment_id", p->payment_id);
    hk_record_set (&rec, "currency", p->currency);
    hk_record_set (&rec, "amount", p->amount);
    hk_record_set (&rec, "received_at", p->received_at);
    hk_record_set (&rec, "reference", p->reference);
    hk_record_set (&rec, "invoice_id", p->invoice_id);
    hk_record_set (&rec, "payer_name", p->payer_name);
    hk_record_set (&rec, "payer_account", p->payer_account);
    int rc = self->sink->record (self->sink->arg, &rec);
    return rc < 0 ? rc : 0;
}

static int
s_id_cmp (const void *a, const void *b)
{
    const s_tx_t *x = *(const s_tx_t *const *) a, *y = *(const s_tx_t *const *) b;
    int c = strcmp (x->id, y->id);
    return c ? c : (x < y ? -1 : x > y);
}

/* Whether the credit details of a batch entry carry its amount between them. */
static bool
s_splits (s_tx_t *tx, size_t ntx, const char *amount, const char *currency)
{
    int64_t total, sum = 0, v;
    char err[8];
    size_t credits = 0;
    if (hk_money_parse (amount, '.', 0, currency, &total, err, sizeof err))
        return false;
    for (size_t i = 0; i < ntx; i++) {
        if (!tx[i].debit)
            credits++;
        if (!*tx[i].amount || strcmp (tx[i].currency, currency) != 0
            || hk_money_parse (tx[i].amount, '.', 0, currency, &v, err, sizeof err)
            || !hk_money_add (sum, tx[i].debit ? -v : v, &sum))
            return false;
    }
    return credits > 0 && sum == total;
}

static int
s_entry (s_camt_t *self, xmlNodePtr ntry)
{
    long line = ++self->entry_no;
    self->entry_in_stmt++;
    const char *cdi = s_text_at (self, ntry, "CdtDbtInd");
    if (strcmp (cdi, "DBIT") == 0) {
        self->debits++;
        return 0;
    }
    if (strcmp (cdi, "CRDT") != 0) {
        s_reject (self, line, "CdtDbtInd",
                  *cdi ? "neither CRDT nor DBIT" : "missing: credit or debit not stated");
        return 0;
    }
    const char *rvsl = s_text_at (self, ntry, "RvslInd");
    if (strcmp (rvsl, "true") == 0 || strcmp (rvsl, "1") == 0) {
        s_reject (self, line, "RvslInd", "reversal of an earlier entry: not a payment received");
        return 0;
    }
    /* v2: <Sts>BOOK</Sts>; later: <Sts><Cd>BOOK</Cd></Sts> */
    const char *status = s_content (self, s_child (ntry, "Sts"));
    if (*status && strcmp (status, "BOOK") != 0) {
        char reason[120];
        snprintf (reason, sizeof reason, "entry status %.20s, not BOOK: not booked yet", status);
        s_reject (self, line, "Sts", reason);
        return 0;
    }
    xmlNodePtr amt = s_child (ntry, "Amt");
    const char *amount_text = s_content (self, amt);
    const char *currency = s_attr (self, amt, "Ccy");
    if (!*amount_text) {
        s_reject (self, line, "Amt", "missing amount");
        return 0;
    }
    if (!*currency) {
        s_reject (self, line, "Amt/@Ccy", "missing currency");
        return 0;
    }
    const char *reason = NULL;
    const char *amount = s_decimal (self, amount_text, &reason);
    if (!amount) {
        s_reject (self, line, "Amt", reason);
        return 0;
    }
    char received_at[64];
    const char *date_field = "BookgDt";
    int rc = s_when (self, s_child (ntry, "BookgDt"), received_at, sizeof received_at);
    if (rc == 1) {
        date_field = "ValDt";
        rc = s_when (self, s_child (ntry, "ValDt"), received_at, sizeof received_at);
    }
    if (rc != 0) {
        s_reject (self, line, rc == 1 ? "BookgDt" : date_field,
                  rc == 1 ? "missing booking and value date" : "not a date or date-time");
        return 0;
    }

    const char *entry_ref = s_real_ref (s_text_at (self, ntry, "AcctSvcrRef"));
    const char *entry_info = s_text_at (self, ntry, "AddtlNtryInf");
    char fallback[200];
    snprintf (fallback, sizeof fallback, "%s/%s/%ld", self->msg_id, self->stmt_id,
              self->entry_in_stmt);

    size_t ntx = 0;
    for (xmlNodePtr d = s_child (ntry, "NtryDtls"); d; d = s_next (d, "NtryDtls"))
        for (xmlNodePtr t = s_child (d, "TxDtls"); t; t = s_next (t, "TxDtls"))
            ntx++;
    s_tx_t *tx = calloc (ntx ? ntx : 1, sizeof *tx);
    s_tx_t **order = calloc (ntx ? ntx : 1, sizeof *order);
    if (!tx || !order) {
        free (tx);
        free (order);
        return HK_ENOMEM;
    }
    size_t i = 0;
    for (xmlNodePtr d = s_child (ntry, "NtryDtls"); d; d = s_next (d, "NtryDtls"))
        for (xmlNodePtr t = s_child (d, "TxDtls"); t; t = s_next (t, "TxDtls"))
            s_tx_read (self, t, &tx[i++]);

    s_payment_t p = { .currency = currency, .amount = amount, .received_at = received_at,
                      .reference = "", .invoice_id = "", .payer_name = "",
                      .payer_account = "" };
    if (ntx > 1 && s_splits (tx, ntx, amount, currency)) {
        /* A batch: one payment per credit detail, each with its own id. */
        size_t n = 0;
        for (i = 0; i < ntx; i++) {
            if (tx[i].debit)
                continue;
            char id[240];
            if (*tx[i].acct_svcr_ref)
                tx[i].id = tx[i].acct_svcr_ref;
            else if (*tx[i].end_to_end_id)
                tx[i].id = tx[i].end_to_end_id;
            else {
                snprintf (id, sizeof id, "%s/%zu", *entry_ref ? entry_ref : fallback, i + 1);
                tx[i].id = s_keep (self, strdup (id));
            }
            order[n++] = &tx[i];
        }
        /* Details that would share an id (an EndToEndId reused by the payer) get their index. */
        qsort (order, n, sizeof *order, s_id_cmp);
        for (size_t k = 0; k + 1 < n; k++)
            if (strcmp (order[k]->id, order[k + 1]->id) == 0)
                order[k]->shared = order[k + 1]->shared = true;
        for (i = 0; i < ntx; i++) {
            if (tx[i].shared) {
                char id[240];
                snprintf (id, sizeof id, "%s/%zu", tx[i].id, i + 1);
                tx[i].id = s_keep (self, strdup (id));
            }
        }
        for (i = 0, rc = 0; i < ntx && rc == 0; i++) {
            if (tx[i].debit)
                continue;
            p.payment_id = tx[i].id;
            p.amount = tx[i].amount;
            p.reference = *tx[i].reference ? tx[i].reference : entry_info;
            p.invoice_id = tx[i].invoice_id;
            p.payer_name = tx[i].payer_name;
            p.payer_account = tx[i].payer_account;
            rc = s_emit (self, line, &p);
        }
    }
    else {
        /* One payment for the entry; a batch that cannot be split keeps all its references. */
        s_buf_t ref = { 0 };
        for (i = 0; i < ntx; i++) {
            s_buf_add (self, &ref, " ", tx[i].reference);
            if (!*p.payer_name)
                p.payer_name = tx[i].payer_name;
            if (!*p.payer_account)
                p.payer_account = tx[i].payer_account;
            if (!*p.invoice_id)
                p.invoice_id = tx[i].invoice_id;
            else if (*tx[i].invoice_id && strcmp (p.invoice_id, tx[i].invoice_id) != 0)
                p.invoice_id = "\x01";  /* several invoices: no single hint */
        }
        if (strcmp (p.invoice_id, "\x01") == 0)
            p.invoice_id = "";
        p.reference = s_buf_take (self, &ref);
        if (!*p.reference)
            p.reference = entry_info;
        if (*entry_ref)
            p.payment_id = entry_ref;
        else if (ntx == 1 && *tx[0].acct_svcr_ref)
            p.payment_id = tx[0].acct_svcr_ref;
        else if (ntx == 1 && *tx[0].end_to_end_id)
            p.payment_id = tx[0].end_to_end_id;
        else
            p.payment_id = fallback;
        rc = s_emit (self, line, &p);
    }
    free (tx);
    free (order);
    return rc;
}

/* --- the document --------------------------------------------------------------------------- */

/* Reads all of f. Returns 0, HK_EIO, HK_ENOMEM or HK_EPARSE (too large). */
static int
s_slurp (FILE *f, char **buf_out, size_t *len_out, char *why, size_t whylen)
{
    int rc = hk_file_read_all (f, HK_CAMT_MAX_BYTES, buf_out, len_out);
    if (rc == HK_EINVAL) {
        s_why (why, whylen, "file larger than %u MiB", HK_CAMT_MAX_BYTES >> 20);
        return HK_EPARSE;
    }
    if (rc == HK_EIO)
        s_why (why, whylen, "cannot be read");
    return rc;
}

/* Checks that the tree is a camt.053 or camt.054 with statements before anything is emitted.
 * Sets the body element and the statement element name. */
static int
s_check (s_camt_t *self, xmlDocPtr doc, xmlNodePtr *body_out, const char **stmt_name, char *why,
         size_t whylen)
{
    xmlNodePtr root = xmlDocGetRootElement (doc);
    if (doc->intSubset || doc->extSubset) {
        s_why (why, whylen, "not accepted: a DOCTYPE declaration (camt files have none; "
                            "entities are never expanded)");
        return HK_EPARSE;
    }
    if (!root) {
        s_why (why, whylen, "not camt: no root element");
        return HK_EPARSE;
    }
    const char *ns = root->ns && root->ns->href ? (const char *) root->ns->href : "";
    if (strcmp ((const char *) root->name, "Document") != 0) {
        s_why (why, whylen, "not camt: root element is <%.60s>, not an ISO 20022 <Document>",
               (const char *) root->name);
        return HK_EPARSE;
    }
    const char *kind, *body_name;
    if (strncmp (ns, s_ns_053, sizeof s_ns_053 - 1) == 0) {
        kind = "camt.053";
        body_name = "BkToCstmrStmt";
        *stmt_name = "Stmt";
    }
    else if (strncmp (ns, s_ns_054, sizeof s_ns_054 - 1) == 0) {
        kind = "camt.054";
        body_name = "BkToCstmrDbtCdtNtfctn";
        *stmt_name = "Ntfctn";
    }
    else {
        s_why (why, whylen, "not camt.053 or camt.054: namespace \"%.100s\"", ns);
        return HK_EPARSE;
    }
    xmlNodePtr body = s_child (root, body_name);
    if (!body) {
        s_why (why, whylen, "%s document without %s", kind, body_name);
        return HK_EPARSE;
    }
    self->msg_id = s_text_at (self, body, "GrpHdr/MsgId");
    if (!*self->msg_id) {
        s_why (why, whylen, "%s: GrpHdr/MsgId missing", kind);
        return HK_EPARSE;
    }
    long n = 0;
    for (xmlNodePtr st = s_child (body, *stmt_name); st; st = s_next (st, *stmt_name)) {
        n++;
        if (!*s_text_at (self, st, "Id")) {
            s_why (why, whylen, "%s: %s %ld has no Id", kind, *stmt_name, n);
            return HK_EPARSE;
        }
    }
    if (n == 0) {
        s_why (why, whylen, "%s: %s has no %s (the file holds no %s)", kind, body_name,
               *stmt_name, *stmt_name[0] == 'S' ? "statement" : "notification");
        return HK_EPARSE;
    }
    if (self->oom)
        return HK_ENOMEM;
    *body_out = body;
    return 0;
}

static void
s_xml_silent (void *context, const char *msg, ...)
{
    (void) context;
    (void) msg;
}

int
hk_camt_read (FILE *f, const char *zone, const hk_sink_t *sink, char *why, size_t whylen)
{
    if (!f || !sink || !sink->record)
        return HK_EINVAL;
    if (!hk_tz_valid (zone)) {
        s_why (why, whylen, "unknown time zone \"%.64s\"", zone ? zone : "");
        return HK_EINVAL;
    }
    char *buf;
    size_t len;
    int rc = s_slurp (f, &buf, &len, why, whylen);
    if (rc)
        return rc;
    if (len == 0) {
        free (buf);
        s_why (why, whylen, "empty file: not camt");
        return HK_EPARSE;
    }
    xmlInitParser ();
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt ();
    if (!ctxt) {
        free (buf);
        return HK_ENOMEM;
    }
    /* No network, no entity substitution (no XML_PARSE_NOENT), no external DTD
     * (no XML_PARSE_DTDLOAD): XXE is not possible; errors go to why, not stderr. */
    int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
    /* Encoding errors bypass XML_PARSE_NOERROR and go to libxml2's generic handler (stderr):
     * silenced for the parse, the previous handler put back after. */
    xmlGenericErrorFunc old_handler = xmlGenericError;
    void *old_context = xmlGenericErrorContext;
    xmlSetGenericErrorFunc (NULL, s_xml_silent);
    xmlDocPtr doc = xmlCtxtReadMemory (ctxt, buf, (int) len, NULL, NULL, options);
    xmlSetGenericErrorFunc (old_context, old_handler);
    if (!doc || !ctxt->wellFormed || !ctxt->nsWellFormed) {
        xmlErrorPtr e = xmlCtxtGetLastError (ctxt);
        char msg[200] = "unknown error";
        if (e && e->message) {
            snprintf (msg, sizeof msg, "%s", e->message);
            msg[strcspn (msg, "\r\n")] = 0;
        }
        s_why (why, whylen, "not well-formed XML: line %d: %s", e ? e->line : 0, msg);
        xmlFreeDoc (doc);
        xmlFreeParserCtxt (ctxt);
        free (buf);
        return HK_EPARSE;
    }
    xmlFreeParserCtxt (ctxt);
    free (buf);

    s_camt_t self = { .zone = zone, .sink = sink };
    xmlNodePtr body = NULL;
    const char *stmt_name = NULL;
    rc = s_check (&self, doc, &body, &stmt_name, why, whylen);
    for (xmlNodePtr st = rc ? NULL : s_child (body, stmt_name); st && rc == 0;
         st = s_next (st, stmt_name)) {
        size_t stmt_mark = self.nscratch;
        self.stmt_id = s_text_at (&self, st, "Id");
        self.entry_in_stmt = 0;
        for (xmlNodePtr e = s_child (st, "Ntry"); e && rc == 0; e = s_next (e, "Ntry")) {
            size_t mark = self.nscratch;
            rc = s_entry (&self, e);
            if (rc == 0 && self.oom)
                rc = HK_ENOMEM;
            s_release (&self, mark);
        }
        s_release (&self, stmt_mark);
    }
    s_release (&self, 0);
    free (self.scratch);
    xmlFreeDoc (doc);
    return rc;
}
