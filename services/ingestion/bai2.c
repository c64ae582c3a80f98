/* bai2: BAI Version 2 files to payment records (see bai2.h).
 *
 * Field sources of a payment (one per 16 record with a type code 100-399):
 *   payment_id     the bank reference, else <sender>/<created>/<file id>/<group>/<account>/<record>
 *                  (01 sender id, 01 creation date YYMMDD, 01 file id, group index in the file,
 *                  03 account number, record number in the file); an id longer than 64
 *                  characters is replaced by its SHA-256 (hex)
 *   currency       the 03 currency, else the 02 currency, else USD
 *   amount         the 16 amount with the currency's implied decimals ("000000000208500" in CAD
 *                  is "2085.00"); never rounded
 *   received_at    the value date of funds type V (at its value time, else 00:00), else the
 *                  02 as-of date at the as-of time (else 00:00), local in the reader's zone;
 *                  2400 and 9999 ("end of day") are 23:59:59
 *   reference      customer reference and text (88 continuations joined), whitespace runs made
 *                  one space, at most 500 bytes
 *   invoice_id     the customer reference when given (at most 64 characters)
 * Groups with status 2 (deletion) or 4 (test only) are checked but give no payments (one
 * reject on their 02 line says so).
 *
 * Control totals (49, 98, 99) are the algebraic sums of the amounts of 03 summaries and 16
 * details; the extra amounts of funds types S and D are not part of them. Record counts
 * include the header, the trailer and every 88. The file is checked in a first pass and
 * emitted in a second, so a broken trailer emits nothing. */
#include "bai2.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "huikuan/dates.h"
#include "huikuan/digest.h"
#include "huikuan/errcodes.h"
#include "huikuan/files.h"
#include "huikuan/money.h"

#define HK_BAI2_MAX_BYTES     (256u << 20)  /* a larger file is refused, not read */
#define HK_BAI2_ID_MAX        64            /* docs/feeds.md: ids are at most 64 characters */
#define HK_BAI2_REFERENCE_MAX 500           /* feed.c bound for payment references */
#define HK_BAI2_FIELD_MAX     256           /* longer fields are cut (ids are hashed anyway) */

typedef enum {
    S_START,     /* expecting 01 */
    S_FILE,      /* after 01 or 98: expecting 02 or 99 */
    S_GROUP,     /* after 02 or 49: expecting 03 or 98 */
    S_ACCOUNT,   /* after 03 or 16: expecting 16 or 49 */
    S_END        /* after 99 */
} s_state_t;

typedef struct {
    char *p;
    size_t len, cap;
} s_buf_t;

/* A logical record: the record and its 88 continuations. */
typedef struct {
    int type;          /* -1: none */
    long line;         /* physical line where it starts */
    long number;       /* record number in the file, 1-based */
    long nphys;        /* 1 + its 88 records */
    s_buf_t body;      /* the fields after "NN,", continuations joined */
} s_rec_t;

typedef struct {
    const char *zone;
    const hk_sink_t *sink;
    char *why;
    size_t whylen;
    bool emit;         /* second pass: hand payments and rejects to the sink */
    /* input and scanner */
    const char *buf;
    size_t len, pos;
    long line;
    long nrecords;     /* physical records scanned */
    /* structure */
    s_state_t state;
    char sender[HK_BAI2_FIELD_MAX], created[HK_BAI2_FIELD_MAX], file_id[HK_BAI2_FIELD_MAX];
    long group_no;
    int group_status;
    int32_t as_of_date;
    int as_of_minute;  /* -1: none */
    int as_of_second;
    char group_ccy[4];
    char account[HK_BAI2_FIELD_MAX];
    char account_ccy[4];
    int64_t account_total, group_total, file_total;
    long account_records, group_records, file_records;
    long group_accounts, file_groups;
} s_bai2_t;

/* One 16 record, parsed. */
typedef struct {
    char type[HK_BAI2_FIELD_MAX];
    char amount[HK_BAI2_FIELD_MAX];
    char funds[HK_BAI2_FIELD_MAX];
    char value_date[HK_BAI2_FIELD_MAX];
    char value_time[HK_BAI2_FIELD_MAX];
    char bank_ref[HK_BAI2_FIELD_MAX];
    char cust_ref[HK_BAI2_FIELD_MAX];
    const char *text;      /* into the body: the rest of the record */
    bool text_started;     /* the record reaches its text field */
} s_detail_t;

static int
s_fail (s_bai2_t *self, long line, const char *fmt, ...)
{
    if (self->why && self->whylen) {
        int n = snprintf (self->why, self->whylen, "line %ld: ", line);
        if (n >= 0 && (size_t) n < self->whylen) {
            va_list ap;
            va_start (ap, fmt);
            vsnprintf (self->why + n, self->whylen - (size_t) n, fmt, ap);
            va_end (ap);
        }
    }
    return HK_EPARSE;
}

static void
s_reject (s_bai2_t *self, long line, const char *field, const char *reason)
{
    if (self->emit && self->sink->reject)
        self->sink->reject (self->sink->arg, line, field, reason);
}

static int
s_buf_add (s_buf_t *b, const char *text, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *grown = realloc (b->p, cap);
        if (!grown)
            return HK_ENOMEM;
        b->p = grown;
        b->cap = cap;
    }
    memcpy (b->p + b->len, text, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

/* --- scanner -------------------------------------------------------------------------------- */

static bool
s_known_type (int type)
{
    return type == 1 || type == 2 || type == 3 || type == 16 || type == 88 || type == 49
           || type == 98 || type == 99;
}

/* A record starts at pos: a two-digit type code and a comma (an unknown code too, so that it
 * is reported rather than taken as text). */
static bool
s_record_start (const s_bai2_t *self, size_t pos)
{
    const char *p = self->buf + pos;
    return self->len - pos >= 3 && isdigit ((unsigned char) p[0])
           && isdigit ((unsigned char) p[1]) && p[2] == ',';
}

/* Consumes one line end (LF, CRLF or CR) at pos. */
static void
s_newline (s_bai2_t *self)
{
    if (self->buf[self->pos] == '\r' && self->pos + 1 < self->len
        && self->buf[self->pos + 1] == '\n')
        self->pos++;
    self->pos++;
    self->line++;
}

/* Next physical record into body (reset first). Returns 1, 0 at the end, HK_EPARSE or
 * HK_ENOMEM. */
static int
s_scan (s_bai2_t *self, int *type, long *line, s_buf_t *body)
{
    body->len = 0;
    if (s_buf_add (body, "", 0))
        return HK_ENOMEM;
    while (self->pos < self->len) {
        char c = self->buf[self->pos];
        if (c == '\r' || c == '\n')
            s_newline (self);
        else if (c == ' ' || c == '\t')
            self->pos++;
        else
            break;
    }
    if (self->pos >= self->len)
        return 0;
    const char *p = self->buf + self->pos;
    if (self->len - self->pos < 3 || !isdigit ((unsigned char) p[0])
        || !isdigit ((unsigned char) p[1]) || (p[2] != ',' && p[2] != '/'))
        return s_fail (self, self->line, "expected a record (two-digit type code and a comma), "
                                         "found \"%.10s\"", p);
    *type = (p[0] - '0') * 10 + (p[1] - '0');
    *line = self->line;
    self->pos += 3;
    if (p[2] == '/')
        return 1;
    /* A 16 or 88 text may hold '/': there the record ends at a '/' followed (after blanks and
     * line ends) by the next record or the end of the file. A line end without '/' ends the
     * record when a record starts on the next line; otherwise the record goes on (the line
     * break is dropped). */
    bool text = *type == 16 || *type == 88;
    while (self->pos < self->len) {
        char c = self->buf[self->pos];
        if (c == 0)
            return s_fail (self, self->line, "NUL byte: not a BAI2 text file");
        if (c == '/') {
            size_t q = self->pos + 1;
            while (q < self->len && strchr (" \t\r\n", self->buf[q]) && self->buf[q])
                q++;
            if (!text || q >= self->len || s_record_start (self, q)) {
                self->pos++;
                return 1;
            }
        }
        else if (c == '\r' || c == '\n') {
            s_newline (self);
            if (self->pos >= self->len || s_record_start (self, self->pos))
                return 1;
            continue;
        }
        if (s_buf_add (body, &c, 1))
            return HK_ENOMEM;
        self->pos++;
    }
    return 1;
}

/* --- fields --------------------------------------------------------------------------------- */

typedef struct {
    const char *p;
    bool end;
} s_cur_t;

/* Next comma-separated field, trimmed, into out ("" when the record has no more: defaulted).
 * Returns false when there was none. */
static bool
s_field (s_cur_t *c, char *out, size_t outlen)
{
    out[0] = 0;
    if (c->end)
        return false;
    const char *q = strchr (c->p, ',');
    size_t n = q ? (size_t) (q - c->p) : strlen (c->p);
    const char *s = c->p;
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= outlen)
        n = outlen - 1;
    memcpy (out, s, n);
    out[n] = 0;
    if (q)
        c->p = q + 1;
    else
        c->end = true;
    return true;
}

/* Signed integer amount ("" is 0, defaulted). Returns NULL or a reason. */
static const char *
s_number (const char *text, int64_t *out, bool *negative)
{
    const char *p = text;
    int sign = 1;
    *out = 0;
    if (negative)
        *negative = false;
    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (negative)
            *negative = sign < 0;
        p++;
        if (!*p)
            return "a sign without digits";
    }
    int64_t v = 0;
    for (; *p; p++) {
        if (!isdigit ((unsigned char) *p))
            return "not a number";
        if (__builtin_mul_overflow (v, 10, &v) || __builtin_add_overflow (v, *p - '0', &v))
            return "too large";
    }
    *out = sign * v;
    return NULL;
}

/* Non-negative count; "" is -1 (defaulted). */
static const char *
s_count (const char *text, long *out)
{
    int64_t v;
    bool negative;
    *out = -1;
    if (!*text)
        return NULL;
    const char *why = s_number (text, &v, &negative);
    if (why)
        return why;
    if (negative || text[0] == '+' || v > 1000000000)
        return "not a count";
    *out = (long) v;
    return NULL;
}

/* YYMMDD -> day number (years 70-99 are 19xx, 00-69 20xx). */
static bool
s_yymmdd (const char *text, int32_t *out)
{
    if (strlen (text) != 6)
        return false;
    for (int i = 0; i < 6; i++)
        if (!isdigit ((unsigned char) text[i]))
            return false;
    int yy = (text[0] - '0') * 10 + (text[1] - '0');
    int m = (text[2] - '0') * 10 + (text[3] - '0');
    int d = (text[4] - '0') * 10 + (text[5] - '0');
    int y = yy < 70 ? 2000 + yy : 1900 + yy;
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    int32_t day = hk_date_from_ymd (y, m, d);
    int cy, cm, cd;
    hk_date_to_ymd (day, &cy, &cm, &cd);
    if (cy != y || cm != m || cd != d)
        return false;
    *out = day;
    return true;
}

/* HHMM -> minute of day and second; "" -> -1; 2400 and 9999 are the end of the day. */
static bool
s_hhmm (const char *text, int *minute, int *second)
{
    *minute = -1;
    *second = 0;
    if (!*text)
        return true;
    if (strcmp (text, "2400") == 0 || strcmp (text, "9999") == 0) {
        *minute = 23 * 60 + 59;
        *second = 59;
        return true;
    }
    if (strlen (text) != 4)
        return false;
    for (int i = 0; i < 4; i++)
        if (!isdigit ((unsigned char) text[i]))
            return false;
    int h = (text[0] - '0') * 10 + (text[1] - '0'), m = (text[2] - '0') * 10 + (text[3] - '0');
    if (h > 23 || m > 59)
        return false;
    *minute = h * 60 + m;
    return true;
}

/* The fields that follow a funds type code. Returns NULL or a reason. */
static const char *
s_funds (s_cur_t *c, const char *code, char *vdate, char *vtime)
{
    char f[HK_BAI2_FIELD_MAX];
    int64_t v;
    vdate[0] = vtime[0] = 0;
    if (!*code || strcmp (code, "0") == 0 || strcmp (code, "1") == 0 || strcmp (code, "2") == 0
        || strcmp (code, "Z") == 0)
        return NULL;
    if (strcmp (code, "V") == 0) {
        s_field (c, vdate, HK_BAI2_FIELD_MAX);
        s_field (c, vtime, HK_BAI2_FIELD_MAX);
        return NULL;
    }
    if (strcmp (code, "S") == 0) {
        for (int i = 0; i < 3; i++) {
            s_field (c, f, sizeof f);
            if (s_number (f, &v, NULL))
                return "funds type S: an availability amount is not a number";
        }
        return NULL;
    }
    if (strcmp (code, "D") == 0) {
        long n;
        s_field (c, f, sizeof f);
        if (s_count (f, &n) || n < 0)
            return "funds type D: the number of distributions is not a count";
        for (long i = 0; i < n; i++) {
            long days;
            if (!s_field (c, f, sizeof f) || s_count (f, &days) || days < 0)
                return "funds type D: fewer distributions than announced, or a bad day count";
            if (!s_field (c, f, sizeof f) || s_number (f, &v, NULL))
                return "funds type D: a distribution amount is missing or not a number";
        }
        return NULL;
    }
    return "unknown funds type (not 0, 1, 2, V, S, D or Z)";
}

/* A 16 record's fields; the text is the rest of the body. Returns NULL or a reason. */
static const char *
s_detail (const char *body, s_detail_t *d)
{
    s_cur_t c = { body, false };
    s_field (&c, d->type, sizeof d->type);
    s_field (&c, d->amount, sizeof d->amount);
    s_field (&c, d->funds, sizeof d->funds);
    d->text = "";
    d->text_started = false;
    const char *why = s_funds (&c, d->funds, d->value_date, d->value_time);
    if (why)
        return why;
    s_field (&c, d->bank_ref, sizeof d->bank_ref);
    s_field (&c, d->cust_ref, sizeof d->cust_ref);
    if (!c.end) {
        d->text = c.p;
        d->text_started = true;
    }
    return NULL;
}

/* --- output --------------------------------------------------------------------------------- */

/* Local civil time in zone -> "YYYY-MM-DDTHH:MM:SS+HH:MM". Returns 0 or HK_EINVAL. */
static int
s_local_instant (const char *zone, int32_t date, int minute, int second, char *out, size_t len)
{
    int64_t us;
    if (hk_tz_instant (zone, date, minute, &us))
        return HK_EINVAL;
    us += second * HK_US_PER_SEC;
    hk_local_t loc;
    if (hk_tz_local (zone, us, &loc))
        return HK_EINVAL;
    char day[16];
    hk_date_format (loc.date, day, sizeof day);
    int off = loc.utc_offset_min < 0 ? -loc.utc_offset_min : loc.utc_offset_min;
    snprintf (out, len, "%sT%02d:%02d:%02d%c%02d:%02d", day, loc.minute_of_day / 60,
              loc.minute_of_day % 60, loc.second, loc.utc_offset_min < 0 ? '-' : '+', off / 60,
              off % 60);
    return 0;
}

/* In place: whitespace runs made one space (fixed-width columns and padding), the ends
 * trimmed, cut to max bytes on a UTF-8 character boundary. */
static void
s_squash (char *s, size_t max)
{
    size_t n = 0;
    bool space = false;
    for (const char *p = s; *p; p++) {
        if (*p == ' ' || *p == '\t') {
            space = n > 0;
            continue;
        }
        if (space)
            s[n++] = ' ';
        space = false;
        s[n++] = *p;
    }
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
            n--;
        while (n > 0 && s[n - 1] == ' ')
            n--;
    }
    s[n] = 0;
}

/* A credit detail to a payment (second pass only). */
static int
s_payment (s_bai2_t *self, const s_rec_t *r, const s_detail_t *d, int64_t minor, bool negative)
{
    if (self->group_status == 2 || self->group_status == 4)
        return 0;
    if (!*d->amount) {
        s_reject (self, r->line, "amount", "missing");
        return 0;
    }
    if (negative) {
        s_reject (self, r->line, "amount", "negative amount in a transaction detail");
        return 0;
    }
    const char *ccy = *self->account_ccy ? self->account_ccy
                      : *self->group_ccy ? self->group_ccy : "USD";
    char amount[48];
    if (hk_money_format (minor, ccy, amount, sizeof amount) < 0) {
        s_reject (self, r->line, "currency", "not an ISO 4217 currency code");
        return 0;
    }
    int32_t date = self->as_of_date;
    int minute = self->as_of_minute, second = self->as_of_second;
    if (*d->value_date) {
        if (!s_yymmdd (d->value_date, &date)) {
            s_reject (self, r->line, "value date", "not a date (YYMMDD)");
            return 0;
        }
        if (!s_hhmm (d->value_time, &minute, &second)) {
            s_reject (self, r->line, "value time", "not a time (HHMM)");
            return 0;
        }
    }
    if (minute < 0) {
        minute = 0;
        second = 0;
    }
    char received_at[64];
    if (s_local_instant (self->zone, date, minute, second, received_at, sizeof received_at)) {
        s_reject (self, r->line, "value date", "not a time in the reader's time zone");
        return 0;
    }

    char id[6 * HK_BAI2_FIELD_MAX + 64];
    if (*d->bank_ref)
        snprintf (id, sizeof id, "%s", d->bank_ref);
    else
        snprintf (id, sizeof id, "%s/%s/%s/%ld/%s/%ld", self->sender, self->created,
                  self->file_id, self->group_no, self->account, r->number);
    char digest[HK_SHA256_HEX_LEN];
    const char *payment_id = id;
    if (strlen (id) > HK_BAI2_ID_MAX) {
        if (hk_sha256_hex (id, strlen (id), digest))
            return HK_ENOMEM;
        payment_id = digest;
    }

    size_t size = strlen (d->cust_ref) + strlen (d->text) + 2;
    char *reference = malloc (size);
    if (!reference)
        return HK_ENOMEM;
    snprintf (reference, size, "%s %s", d->cust_ref, d->text);
    s_squash (reference, HK_BAI2_REFERENCE_MAX);

    hk_record_t rec = { .kind = HK_REC_PAYMENT, .line = r->line };
    hk_record_set (&rec, "payment_id", payment_id);
    hk_record_set (&rec, "currency", ccy);
    hk_record_set (&rec, "amount", amount);
    hk_record_set (&rec, "received_at", received_at);
    hk_record_set (&rec, "reference", reference);
    hk_record_set (&rec, "invoice_id", strlen (d->cust_ref) <= HK_BAI2_ID_MAX ? d->cust_ref : "");
    hk_record_set (&rec, "payer_account", "");
    int rc = self->sink->record (self->sink->arg, &rec);
    free (reference);
    return rc < 0 ? rc : 0;
}

/* --- records -------------------------------------------------------------------------------- */

static const char *
s_expected (s_state_t state)
{
    switch (state) {
    case S_START: return "a 01 file header";
    case S_FILE: return "a 02 group header or the 99 file trailer";
    case S_GROUP: return "a 03 account identifier or a 98 group trailer";
    case S_ACCOUNT: return "a 16 transaction detail or a 49 account trailer";
    default: return "nothing after the 99 file trailer";
    }
}

static const char *
s_type_name (int type)
{
    switch (type) {
    case 1: return "01 file header";
    case 2: return "02 group header";
    case 3: return "03 account identifier";
    case 16: return "16 transaction detail";
    case 49: return "49 account trailer";
    case 98: return "98 group trailer";
    default: return "99 file trailer";
    }
}

/* A currency field: "" or a known ISO 4217 code. */
static int
s_currency (s_bai2_t *self, long line, const char *text, char out[4])
{
    if (*text && (strlen (text) != 3 || hk_currency_exponent (text) < 0))
        return s_fail (self, line, "currency \"%.20s\" is not an ISO 4217 code", text);
    snprintf (out, 4, "%s", text);
    return 0;
}

/* The control total and record count of a trailer against what was counted. */
static int
s_trailer (s_bai2_t *self, const s_rec_t *r, s_cur_t *c, int64_t total, long records)
{
    char f[HK_BAI2_FIELD_MAX];
    int64_t v;
    long n;
    s_field (c, f, sizeof f);
    if (s_number (f, &v, NULL) || !*f)
        return s_fail (self, r->line, "%s: control total \"%.30s\" is not a number",
                       s_type_name (r->type), f);
    if (v != total)
        return s_fail (self, r->line, "%s: control total %lld does not match the sum of the "
                                      "amounts, %lld", s_type_name (r->type), (long long) v,
                       (long long) total);
    if (r->type != 49) {
        long expect = r->type == 98 ? self->group_accounts : self->file_groups;
        s_field (c, f, sizeof f);
        if (s_count (f, &n) || n != expect)
            return s_fail (self, r->line, "%s: number of %s \"%.30s\", counted %ld",
                           s_type_name (r->type), r->type == 98 ? "accounts" : "groups", f,
                           expect);
    }
    s_field (c, f, sizeof f);
    if (s_count (f, &n) || n != records)
        return s_fail (self, r->line, "%s: number of records \"%.30s\", counted %ld",
                       s_type_name (r->type), f, records);
    return 0;
}

static int
s_process (s_bai2_t *self, const s_rec_t *r)
{
    bool ok;
    switch (r->type) {
    case 1: ok = self->state == S_START; break;
    case 2: case 99: ok = self->state == S_FILE; break;
    case 3: case 98: ok = self->state == S_GROUP; break;
    default: ok = self->state == S_ACCOUNT; break;
    }
    if (!ok)
        return s_fail (self, r->line, "%s where %s was expected", s_type_name (r->type),
                       s_expected (self->state));
    s_cur_t c = { r->body.p, false };
    char f[HK_BAI2_FIELD_MAX];
    const char *why;
    int64_t v;
    int32_t day;
    int rc;
    switch (r->type) {
    case 1: {
        char rcv[HK_BAI2_FIELD_MAX], time[HK_BAI2_FIELD_MAX], version[HK_BAI2_FIELD_MAX];
        s_field (&c, self->sender, sizeof self->sender);
        s_field (&c, rcv, sizeof rcv);
        s_field (&c, self->created, sizeof self->created);
        s_field (&c, time, sizeof time);
        s_field (&c, self->file_id, sizeof self->file_id);
        s_field (&c, f, sizeof f);  /* physical record length */
        s_field (&c, f, sizeof f);  /* block size */
        s_field (&c, version, sizeof version);
        if (!s_yymmdd (self->created, &day))
            return s_fail (self, r->line, "file creation date \"%.20s\" is not YYMMDD",
                           self->created);
        if (strcmp (version, "2") != 0)
            return s_fail (self, r->line, "version \"%.20s\": only BAI version 2 is read",
                           version);
        self->file_records = r->nphys;
        self->state = S_FILE;
        return 0;
    }
    case 2: {
        char date[HK_BAI2_FIELD_MAX], time[HK_BAI2_FIELD_MAX], ccy[HK_BAI2_FIELD_MAX];
        s_field (&c, f, sizeof f);  /* ultimate receiver */
        s_field (&c, f, sizeof f);  /* originator */
        s_field (&c, f, sizeof f);
        if (strlen (f) != 1 || f[0] < '1' || f[0] > '4')
            return s_fail (self, r->line, "group status \"%.20s\" is not 1, 2, 3 or 4", f);
        self->group_status = f[0] - '0';
        s_field (&c, date, sizeof date);
        s_field (&c, time, sizeof time);
        s_field (&c, ccy, sizeof ccy);
        if (!s_yymmdd (date, &self->as_of_date))
            return s_fail (self, r->line, "as-of date \"%.20s\" is not YYMMDD", date);
        if (!s_hhmm (time, &self->as_of_minute, &self->as_of_second))
            return s_fail (self, r->line, "as-of time \"%.20s\" is not HHMM", time);
        if ((rc = s_currency (self, r->line, ccy, self->group_ccy)))
            return rc;
        if (self->group_status == 2 || self->group_status == 4)
            s_reject (self, r->line, "group status",
                      self->group_status == 2 ? "group status 2 (deletion): its credits are not "
                                                "recorded"
                                              : "group status 4 (test only): its credits are "
                                                "not recorded");
        self->group_no++;
        self->group_records = r->nphys;
        self->group_total = 0;
        self->group_accounts = 0;
        self->state = S_GROUP;
        return 0;
    }
    case 3: {
        char ccy[HK_BAI2_FIELD_MAX], vdate[HK_BAI2_FIELD_MAX], vtime[HK_BAI2_FIELD_MAX];
        s_field (&c, self->account, sizeof self->account);
        if (!*self->account)
            return s_fail (self, r->line, "03 account identifier without an account number");
        s_field (&c, ccy, sizeof ccy);
        if ((rc = s_currency (self, r->line, ccy, self->account_ccy)))
            return rc;
        self->account_total = 0;
        /* Summaries: type code, amount, item count, funds type and its fields. */
        while (s_field (&c, f, sizeof f)) {
            if (!*f && c.end)
                break;  /* a trailing comma */
            if (strlen (f) != 3 || !isdigit ((unsigned char) f[0])
                || !isdigit ((unsigned char) f[1]) || !isdigit ((unsigned char) f[2]))
                return s_fail (self, r->line, "03 summary type code \"%.20s\" is not three "
                                              "digits", f);
            long count;
            s_field (&c, f, sizeof f);
            if ((why = s_number (f, &v, NULL)))
                return s_fail (self, r->line, "03 summary amount \"%.30s\": %s", f, why);
            if (!hk_money_add (self->account_total, v, &self->account_total))
                return s_fail (self, r->line, "03 amounts too large to add up");
            s_field (&c, f, sizeof f);
            if ((why = s_count (f, &count)))
                return s_fail (self, r->line, "03 summary item count \"%.30s\": %s", f, why);
            s_field (&c, f, sizeof f);
            if ((why = s_funds (&c, f, vdate, vtime)))
                return s_fail (self, r->line, "03 summary: %s", why);
        }
        self->account_records = r->nphys;
        self->group_accounts++;
        self->state = S_ACCOUNT;
        return 0;
    }
    case 16: {
        s_detail_t d;
        if ((why = s_detail (r->body.p, &d)))
            return s_fail (self, r->line, "16 transaction detail: %s", why);
        if (strlen (d.type) != 3 || !isdigit ((unsigned char) d.type[0])
            || !isdigit ((unsigned char) d.type[1]) || !isdigit ((unsigned char) d.type[2]))
            return s_fail (self, r->line, "16 type code \"%.20s\" is not three digits", d.type);
        bool negative;
        if ((why = s_number (d.amount, &v, &negative)))
            return s_fail (self, r->line, "16 amount \"%.30s\": %s", d.amount, why);
        if (!hk_money_add (self->account_total, v, &self->account_total))
            return s_fail (self, r->line, "16 amounts too large to add up");
        self->account_records += r->nphys;
        int code = atoi (d.type);
        if (self->emit && code >= 100 && code <= 399)
            return s_payment (self, r, &d, v, negative);
        return 0;
    }
    case 49:
        if ((rc = s_trailer (self, r, &c, self->account_total, self->account_records + r->nphys)))
            return rc;
        if (!hk_money_add (self->group_total, self->account_total, &self->group_total))
            return s_fail (self, r->line, "group amounts too large to add up");
        self->group_records += self->account_records + r->nphys;
        self->account[0] = 0;
        self->state = S_GROUP;
        return 0;
    case 98:
        if ((rc = s_trailer (self, r, &c, self->group_total, self->group_records + r->nphys)))
            return rc;
        if (!hk_money_add (self->file_total, self->group_total, &self->file_total))
            return s_fail (self, r->line, "file amounts too large to add up");
        self->file_records += self->group_records + r->nphys;
        self->file_groups++;
        self->state = S_FILE;
        return 0;
    default: /* 99 */
        if ((rc = s_trailer (self, r, &c, self->file_total, self->file_records + r->nphys)))
            return rc;
        self->state = S_END;
        return 0;
    }
}

/* Joins an 88 continuation to the record it continues: a 16 whose text has begun takes it as
 * more text (after a space), anything else as more fields. */
static int
s_continue (s_rec_t *r, const s_buf_t *more)
{
    const char *sep = ",";
    if (r->type == 16) {
        s_detail_t d;
        if (!s_detail (r->body.p, &d) && d.text_started)
            sep = " ";
    }
    if (s_buf_add (&r->body, sep, 1) || s_buf_add (&r->body, more->p, more->len))
        return HK_ENOMEM;
    r->nphys++;
    return 0;
}

/* One pass over the file. */
static int
s_pass (s_bai2_t *self, bool emit)
{
    self->emit = emit;
    self->pos = 0;
    self->line = 1;
    self->nrecords = 0;
    self->state = S_START;
    self->group_no = 0;
    self->file_total = 0;
    self->file_groups = 0;
    if (self->len >= 3 && memcmp (self->buf, "\xEF\xBB\xBF", 3) == 0)
        self->pos = 3;
    s_rec_t cur = { .type = -1 }, next = { .type = -1 };
    int rc = 0, type = 0;
    long line = 0;
    while ((rc = s_scan (self, &type, &line, &next.body)) == 1) {
        self->nrecords++;
        rc = 0;
        if (!s_known_type (type))
            rc = s_fail (self, line, "unknown record type %02d%s", type,
                         self->nrecords == 1 ? " (a BAI2 file starts with a 01 file header)" : "");
        else if (type == 88) {
            if (cur.type == -1)
                rc = s_fail (self, line, "88 continuation with no record before it");
            else
                rc = s_continue (&cur, &next.body);
        }
        else {
            if (cur.type != -1)
                rc = s_process (self, &cur);
            if (rc == 0 && self->state == S_END)
                rc = s_fail (self, line, "record after the 99 file trailer");
            s_buf_t spare = cur.body;
            cur.body = next.body;
            next.body = spare;
            cur.type = type;
            cur.line = line;
            cur.number = self->nrecords;
            cur.nphys = 1;
        }
        if (rc)
            break;
    }
    if (rc == 0 && cur.type != -1)
        rc = s_process (self, &cur);
    if (rc == 0 && self->state != S_END)
        rc = self->state == S_START && cur.type == -1
                 ? s_fail (self, self->line, "empty file: no 01 file header")
                 : s_fail (self, self->line, "file ends without the 99 file trailer");
    free (cur.body.p);
    free (next.body.p);
    return rc;
}

/* Reads all of f. Returns 0, HK_EIO, HK_ENOMEM or HK_EPARSE (too large). */
static int
s_slurp (FILE *f, char **buf_out, size_t *len_out, char *why, size_t whylen)
{
    int rc = hk_file_read_all (f, HK_BAI2_MAX_BYTES, buf_out, len_out);
    if (rc == HK_EINVAL) {
        if (why && whylen)
            snprintf (why, whylen, "file larger than %u MiB", HK_BAI2_MAX_BYTES >> 20);
        return HK_EPARSE;
    }
    if (rc == HK_EIO && why && whylen)
        snprintf (why, whylen, "cannot be read");
    return rc;
}

int
hk_bai2_read (FILE *f, const char *zone, const hk_sink_t *sink, char *why, size_t whylen)
{
    if (!f || !sink || !sink->record)
        return HK_EINVAL;
    if (!hk_tz_valid (zone)) {
        if (why && whylen)
            snprintf (why, whylen, "unknown time zone \"%.64s\"", zone ? zone : "");
        return HK_EINVAL;
    }
    char *buf;
    size_t len;
    int rc = s_slurp (f, &buf, &len, why, whylen);
    if (rc)
        return rc;
    s_bai2_t self = { .zone = zone, .sink = sink, .why = why, .whylen = whylen, .buf = buf,
                      .len = len };
    /* Check everything first; emit only from a file that holds together. */
    rc = s_pass (&self, false);
    if (rc == 0)
        rc = s_pass (&self, true);
    free (buf);
    return rc;
}
