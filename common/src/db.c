/* db: PostgreSQL access through libpq. See db.h.
 *
 * State kept beside the PGconn:
 *   dead     the connection broke; it is replaced before the next statement.
 *   in_tx    the caller has a transaction open (hk_db_begin, or a BEGIN sent as a statement,
 *            seen through PQtransactionStatus after every statement).
 *   tx_lost  the connection broke while a transaction was open. Every statement fails until
 *            hk_db_commit or hk_db_rollback ends that transaction, so work that belonged to it
 *            never runs in autocommit on a fresh connection.
 * errstr and sqlstate describe the last error and stay until the next error: a rollback
 * after a failed statement keeps the statement's error for the caller to log.
 *
 * Error text is one line: PostgreSQL's primary message, then the detail, then the hint. The
 * detail of an integrity violation (SQLSTATE class 23) quotes key values or the whole failing
 * row, which may hold names, phones or e-mails (promise 7); it is replaced by the table and
 * column names. */
#include "huikuan/db.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "huikuan/errcodes.h"
#include "huikuan/log.h"

#define HK_DB_ERRLEN         1024
#define HK_DB_CONNECT_TIMEOUT "10"   /* seconds, unless the conninfo says otherwise */
#define HK_DB_RETRY_MS       100

struct hk_db {
    char *conninfo;
    PGconn *conn;
    bool dead;
    bool in_tx;
    bool tx_lost;
    bool pending;          /* a statement sent by hk_db_send_bin / hk_db_copy_send, not collected */
    hk_db_tx_end_fn tx_end;   /* hk_db_on_tx_end */
    void *tx_end_arg;
    char sqlstate[6];
    char errstr[HK_DB_ERRLEN];
};

/* Copies src into dst as one line: runs of whitespace (newlines, tabs) become one space,
 * leading and trailing whitespace go. */
static void
s_tidy (char *dst, size_t len, const char *src)
{
    size_t n = 0;
    bool space = false;
    if (len == 0)
        return;
    for (; src && *src && n + 1 < len; src++) {
        if (*src == ' ' || *src == '\n' || *src == '\t' || *src == '\r') {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < len)
            dst[n++] = ' ';
        space = false;
        dst[n++] = *src;
    }
    dst[n] = 0;
}

static void
s_set_error (hk_db_t *self, const char *sqlstate, const char *fmt, ...)
{
    char raw[HK_DB_ERRLEN];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (raw, sizeof raw, fmt, ap);
    va_end (ap);
    s_tidy (self->errstr, sizeof self->errstr, raw);
    snprintf (self->sqlstate, sizeof self->sqlstate, "%s", sqlstate ? sqlstate : "");
}

static const char *
s_field (const PGresult *res, int code)
{
    const char *v = res ? PQresultErrorField (res, code) : NULL;
    return v ? v : "";
}

/* Error of a failed statement: from the result when the server sent one, else from the
 * connection (client-side failures, lost connections). */
static void
s_error_from_result (hk_db_t *self, const PGresult *res)
{
    const char *primary = s_field (res, PG_DIAG_MESSAGE_PRIMARY);
    if (*primary) {
        const char *state = s_field (res, PG_DIAG_SQLSTATE);
        const char *detail = s_field (res, PG_DIAG_MESSAGE_DETAIL);
        const char *hint = s_field (res, PG_DIAG_MESSAGE_HINT);
        char more[HK_DB_ERRLEN] = "";
        if (strncmp (state, "23", 2) == 0) {
            const char *table = s_field (res, PG_DIAG_TABLE_NAME);
            const char *column = s_field (res, PG_DIAG_COLUMN_NAME);
            if (*table && *column)
                snprintf (more, sizeof more, ": table %s, column %s", table, column);
            else if (*table)
                snprintf (more, sizeof more, ": table %s", table);
        }
        else if (*detail)
            snprintf (more, sizeof more, ": %s", detail);
        s_set_error (self, state, "%s%s%s%s%s", primary, more, *hint ? " (hint: " : "", hint,
                     *hint ? ")" : "");
        return;
    }
    const char *msg = res ? PQresultErrorMessage (res) : "";
    if (!msg || !*msg)
        msg = self->conn ? PQerrorMessage (self->conn) : "";
    if (!msg || !*msg)
        msg = "statement failed without a message";
    bool broken = !self->conn || PQstatus (self->conn) == CONNECTION_BAD;
    s_set_error (self, broken ? "08006" : "", "%s", msg);
}

static void
s_on_notice (void *arg, const PGresult *res)
{
    (void) arg;
    const char *severity = s_field (res, PG_DIAG_SEVERITY_NONLOCALIZED);
    hk_log_level_t level = strcmp (severity, "WARNING") == 0 ? HK_WARN : HK_DEBUG;
    HK_LOG (level, "db.notice", HK_S ("severity", severity),
            HK_S ("sqlstate", s_field (res, PG_DIAG_SQLSTATE)),
            HK_S ("message", s_field (res, PG_DIAG_MESSAGE_PRIMARY)));
}

/* Follows the server's view of the transaction after a statement on a live connection. */
static void
s_sync_tx (hk_db_t *self)
{
    if (!self->conn || self->dead)
        return;
    PGTransactionStatusType ts = PQtransactionStatus (self->conn);
    if (ts == PQTRANS_IDLE)
        self->in_tx = false;
    else if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
        self->in_tx = true;
}

/* Marks the connection broken; an open transaction is then lost. */
static void
s_mark_dead (hk_db_t *self)
{
    self->dead = true;
    if (self->in_tx)
        self->tx_lost = true;
}

/* Replaces the connection with a new one. */
static int
s_connect (hk_db_t *self)
{
    if (self->conn) {
        PQfinish (self->conn);
        self->conn = NULL;
    }
    self->dead = true;
    /* connect_timeout first: a value in the conninfo, expanded after it, wins. */
    const char *const keys[] = { "connect_timeout", "fallback_application_name", "dbname", NULL };
    const char *const values[] = { HK_DB_CONNECT_TIMEOUT, "huikuan", self->conninfo, NULL };
    PGconn *conn = PQconnectdbParams (keys, values, 1);
    if (!conn) {
        s_set_error (self, "08001", "cannot connect: out of memory");
        return HK_EDB;
    }
    if (PQstatus (conn) != CONNECTION_OK) {
        s_set_error (self, "08001", "cannot connect: %s", PQerrorMessage (conn));
        PQfinish (conn);
        return HK_EDB;
    }
    PQsetNoticeReceiver (conn, s_on_notice, NULL);
    self->conn = conn;
    self->dead = false;
    return 0;
}

static bool
s_success (ExecStatusType st)
{
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY
        || st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH
        || st == PGRES_SINGLE_TUPLE;
}

/* Runs one statement (or, with script, a multi-statement script through PQexec).
 * Reconnects a dead connection first unless a transaction was open; when the connection
 * breaks during a statement outside a transaction, reconnects and retries it once. */
static PGresult *
s_run (hk_db_t *self, const char *sql, int nparams, const char *const *values,
       const int *lengths, const int *formats, int result_format, bool script)
{
    if (!sql || nparams < 0 || (nparams > 0 && !values)) {
        s_set_error (self, "", "invalid statement or parameters");
        return NULL;
    }
    if (self->pending) {
        /* A statement sent without waiting comes first; its failure is this one's. */
        PGresult *prev = hk_db_collect (self);
        if (!prev)
            return NULL;
        PQclear (prev);
    }
    for (int attempt = 0;; attempt++) {
        if (self->tx_lost) {
            s_set_error (self, "08006",
                         "connection lost inside a transaction: roll back before the next "
                         "statement");
            return NULL;
        }
        if (!hk_db_ok (self)) {
            if (self->in_tx) {
                s_mark_dead (self);
                continue;       /* reports the lost transaction */
            }
            self->in_tx = false;
            if (s_connect (self) != 0)
                return NULL;
        }
        PGTransactionStatusType ts = PQtransactionStatus (self->conn);
        bool tx_open = self->in_tx || ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR;
        PGresult *res = script ? PQexec (self->conn, sql)
                               : PQexecParams (self->conn, sql, nparams, NULL, values,
                                               lengths, formats, result_format);
        if (res && s_success (PQresultStatus (res))) {
            s_sync_tx (self);
            return res;
        }
        s_error_from_result (self, res);
        PQclear (res);
        if (PQstatus (self->conn) == CONNECTION_BAD) {
            self->in_tx = tx_open;
            s_mark_dead (self);
            if (!tx_open && !script && attempt == 0) {
                HK_LOG (HK_WARN, "db.reconnect", HK_S ("error", self->errstr),
                        HK_S ("sqlstate", self->sqlstate));
                continue;
            }
            return NULL;
        }
        s_sync_tx (self);
        return NULL;
    }
}

hk_db_t *
hk_db_new (const char *conninfo)
{
    hk_db_t *self = (hk_db_t *) calloc (1, sizeof (hk_db_t));
    if (!self)
        return NULL;
    self->conninfo = strdup (conninfo ? conninfo : "");
    if (!self->conninfo) {
        free (self);
        return NULL;
    }
    self->dead = true;
    return self;
}

void
hk_db_destroy (hk_db_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hk_db_t *self = *self_p;
    if (self->tx_end)
        self->tx_end (self->tx_end_arg, HK_DB_CLOSED);
    if (self->conn)
        PQfinish (self->conn);
    free (self->conninfo);
    free (self);
    *self_p = NULL;
}

int
hk_db_connect (hk_db_t *self)
{
    if (!self)
        return HK_EINVAL;
    if (hk_db_ok (self))
        return 0;
    if (self->conn && self->in_tx)
        s_mark_dead (self);
    return s_connect (self);
}

static int64_t
s_monotonic_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
hk_db_connect_wait (hk_db_t *self, int timeout_ms)
{
    if (!self)
        return HK_EINVAL;
    int64_t deadline = s_monotonic_ms () + (timeout_ms > 0 ? timeout_ms : 0);
    while (true) {
        if (hk_db_connect (self) == 0)
            return 0;
        int64_t left = deadline - s_monotonic_ms ();
        if (left <= 0)
            return HK_EDB;
        if (left > HK_DB_RETRY_MS)
            left = HK_DB_RETRY_MS;
        struct timespec ts = { .tv_sec = 0, .tv_nsec = (long) left * 1000000L };
        while (nanosleep (&ts, &ts) == -1 && errno == EINTR)
            ;
    }
}

bool
hk_db_ok (const hk_db_t *self)
{
    return self && self->conn && !self->dead && PQstatus (self->conn) == CONNECTION_OK;
}

const char *
hk_db_errstr (const hk_db_t *self)
{
    return self ? self->errstr : "no database handle";
}

PGconn *
hk_db_conn (hk_db_t *self)
{
    return hk_db_ok (self) ? self->conn : NULL;
}

PGresult *
hk_db_query (hk_db_t *self, const char *sql, int nparams, const char *const *params)
{
    if (!self)
        return NULL;
    return s_run (self, sql, nparams, params, NULL, NULL, 0, false);
}

PGresult *
hk_db_query_bin (hk_db_t *self, const char *sql, int nparams, const char *const *values,
                 const int *lengths, const int *formats, int result_format)
{
    if (!self)
        return NULL;
    return s_run (self, sql, nparams, values, lengths, formats, result_format, false);
}

int
hk_db_exec (hk_db_t *self, const char *sql, int nparams, const char *const *params)
{
    if (!self)
        return HK_EINVAL;
    PGresult *res = s_run (self, sql, nparams, params, NULL, NULL, 0, false);
    if (!res)
        return HK_EDB;
    const char *tuples = PQcmdTuples (res);
    long long n = tuples && *tuples ? strtoll (tuples, NULL, 10) : 0;
    PQclear (res);
    if (n < 0)
        n = 0;
    return n > INT_MAX ? INT_MAX : (int) n;
}

int
hk_db_exec_script (hk_db_t *self, const char *sql)
{
    if (!self)
        return HK_EINVAL;
    PGresult *res = s_run (self, sql, 0, NULL, NULL, NULL, 0, true);
    if (!res)
        return HK_EDB;
    PQclear (res);
    return 0;
}

static bool
s_copy_reserve (hk_copy_buf_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + more)
        cap *= 2;
    char *d = realloc (b->data, cap);
    if (!d)
        return false;
    b->data = d;
    b->cap = cap;
    return true;
}

bool
hk_copy_bytes (hk_copy_buf_t *b, const void *bytes, size_t n)
{
    if (!s_copy_reserve (b, n))
        return false;
    memcpy (b->data + b->len, bytes, n);
    b->len += n;
    return true;
}

bool
hk_copy_text (hk_copy_buf_t *b, const char *value, char end)
{
    if (!value) {
        if (!s_copy_reserve (b, 3))
            return false;
        memcpy (b->data + b->len, "\\N", 2);
        b->len += 2;
        b->data[b->len++] = end;
        return true;
    }
    size_t n = strlen (value);
    if (!s_copy_reserve (b, 2 * n + 1))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = value[i];
        if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
            b->data[b->len++] = '\\';
            c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
        }
        b->data[b->len++] = c;
    }
    b->data[b->len++] = end;
    return true;
}

/* ---- binary COPY (PostgreSQL's COPY binary file format: network byte order) */

static bool
s_put_be (hk_copy_buf_t *b, uint64_t v, int bytes)
{
    unsigned char x[8];
    for (int i = 0; i < bytes; i++)
        x[i] = (unsigned char) (v >> (8 * (bytes - 1 - i)));
    return hk_copy_bytes (b, x, (size_t) bytes);
}

bool
hk_copy_bin_header (hk_copy_buf_t *b)
{
    static const char sig[] = "PGCOPY\n\377\r\n";
    return hk_copy_bytes (b, sig, 11) && s_put_be (b, 0, 4) && s_put_be (b, 0, 4);
}

bool
hk_copy_bin_row (hk_copy_buf_t *b, int columns)
{
    return s_put_be (b, (uint16_t) columns, 2);
}

bool
hk_copy_bin_bytes (hk_copy_buf_t *b, const void *bytes, size_t n)
{
    if (!bytes)
        return s_put_be (b, (uint32_t) -1, 4);
    return n <= INT32_MAX && s_put_be (b, (uint32_t) n, 4) && hk_copy_bytes (b, bytes, n);
}

bool
hk_copy_bin_text (hk_copy_buf_t *b, const char *value)
{
    return hk_copy_bin_bytes (b, value, value ? strlen (value) : 0);
}

bool
hk_copy_bin_i64 (hk_copy_buf_t *b, int64_t value)
{
    return s_put_be (b, 8, 4) && s_put_be (b, (uint64_t) value, 8);
}

bool
hk_copy_bin_i32 (hk_copy_buf_t *b, int32_t value)
{
    return s_put_be (b, 4, 4) && s_put_be (b, (uint32_t) value, 4);
}

bool
hk_copy_bin_date (hk_copy_buf_t *b, bool present, int32_t day)
{
    if (!present)
        return s_put_be (b, (uint32_t) -1, 4);
    return s_put_be (b, 4, 4) && s_put_be (b, (uint32_t) (day - HK_PG_DATE_OFFSET), 4);
}

static int
s_hex_digit (char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

bool
hk_copy_bin_uuid (hk_copy_buf_t *b, const char *uuid)
{
    if (!uuid)
        return s_put_be (b, (uint32_t) -1, 4);
    unsigned char raw[16];
    int n = 0;
    for (const char *p = uuid; *p; p++) {
        if (*p == '-')
            continue;
        int hi = s_hex_digit (p[0]), lo = hi < 0 ? -1 : s_hex_digit (p[1]);
        if (lo < 0 || n == 16)
            return false;
        raw[n++] = (unsigned char) (hi << 4 | lo);
        p++;
    }
    return n == 16 && hk_copy_bin_bytes (b, raw, 16);
}

bool
hk_copy_bin_array_begin (hk_copy_buf_t *b, uint32_t elem_oid, int n, size_t *mark)
{
    if (n < 0 || !mark)
        return false;
    *mark = b->len;
    return s_put_be (b, 0, 4) /* the column's length, filled in by _end */
           && s_put_be (b, 1, 4) && s_put_be (b, 0, 4) && s_put_be (b, elem_oid, 4)
           && s_put_be (b, (uint32_t) n, 4) && s_put_be (b, 1, 4);
}

bool
hk_copy_bin_array_end (hk_copy_buf_t *b, size_t mark)
{
    if (mark + 24 > b->len || b->len - mark - 4 > INT32_MAX)
        return false;
    uint32_t n = (uint32_t) (b->len - mark - 4);
    for (int i = 0; i < 4; i++)
        b->data[mark + (size_t) i] = (char) (n >> (8 * (3 - i)));
    return true;
}

bool
hk_copy_bin_trailer (hk_copy_buf_t *b)
{
    return s_put_be (b, (uint16_t) -1, 2);
}

int
hk_db_copy_in (hk_db_t *self, const char *copy_sql, const char *data, size_t len)
{
    if (!self || !data)
        return HK_EINVAL;
    if (!self->in_tx) {
        s_set_error (self, "25P01", "COPY IN is only run inside a transaction");
        return HK_EDB;
    }
    int rc = hk_db_copy_send (self, copy_sql, data, len);
    if (rc != 0)
        return rc;
    PGresult *res = hk_db_collect (self);
    if (!res)
        return HK_EDB;
    PQclear (res);
    return 0;
}

/* ---- statements sent without waiting (inside a transaction only) */

static int
s_send_ready (hk_db_t *self)
{
    if (self->pending) {
        PGresult *prev = hk_db_collect (self);
        if (!prev)
            return HK_EDB;
        PQclear (prev);
    }
    if (!self->in_tx || self->tx_lost || !hk_db_ok (self)) {
        s_set_error (self, self->in_tx ? "08006" : "25P01",
                     self->in_tx ? "connection lost inside a transaction"
                                 : "statements are only sent ahead inside a transaction");
        return HK_EDB;
    }
    return 0;
}

/* After a send failed: the connection is gone or unusable, so is the transaction. */
static int
s_send_failed (hk_db_t *self)
{
    s_set_error (self, "08006", "send failed: %s", PQerrorMessage (self->conn));
    s_mark_dead (self);
    return HK_EDB;
}

int
hk_db_send_bin (hk_db_t *self, const char *sql, int nparams, const char *const *values,
                const int *lengths, const int *formats, int result_format)
{
    if (!self || !sql || nparams < 0 || (nparams > 0 && !values))
        return HK_EINVAL;
    if (s_send_ready (self) != 0)
        return HK_EDB;
    if (!PQsendQueryParams (self->conn, sql, nparams, NULL, values, lengths, formats,
                            result_format))
        return s_send_failed (self);
    self->pending = true;
    return 0;
}

int
hk_db_copy_send (hk_db_t *self, const char *copy_sql, const char *data, size_t len)
{
    if (!self || !copy_sql || !data)
        return HK_EINVAL;
    if (s_send_ready (self) != 0)
        return HK_EDB;
    PGresult *res = s_run (self, copy_sql, 0, NULL, NULL, NULL, 0, false);
    if (!res)
        return HK_EDB;
    bool copying = PQresultStatus (res) == PGRES_COPY_IN;
    PQclear (res);
    if (!copying) {
        s_set_error (self, "42601", "statement is not COPY ... FROM STDIN");
        return HK_EDB;
    }
    int ok = 1;
    for (size_t done = 0; ok == 1 && done < len;) {
        size_t chunk = len - done < 1 << 20 ? len - done : 1 << 20;
        ok = PQputCopyData (self->conn, data + done, (int) chunk);
        done += chunk;
    }
    if (ok == 1)
        ok = PQputCopyEnd (self->conn, NULL);
    if (ok != 1)
        return s_send_failed (self);
    self->pending = true;
    return 0;
}

PGresult *
hk_db_collect (hk_db_t *self)
{
    if (!self)
        return NULL;
    if (!self->pending) {
        s_set_error (self, "", "nothing was sent ahead");
        return NULL;
    }
    self->pending = false;
    PGresult *res, *kept = NULL;
    bool failed = false;
    while ((res = PQgetResult (self->conn))) {
        if (!failed && s_success (PQresultStatus (res)) && !kept) {
            kept = res;
            continue;
        }
        if (!failed && !s_success (PQresultStatus (res))) {
            s_error_from_result (self, res);
            failed = true;
        }
        PQclear (res);
    }
    if (PQstatus (self->conn) == CONNECTION_BAD) {
        if (!failed)
            s_set_error (self, "08006", "connection lost: %s", PQerrorMessage (self->conn));
        failed = true;
        s_mark_dead (self);
    }
    s_sync_tx (self);
    if (failed || !kept) {
        if (!failed)
            s_set_error (self, "", "no result");
        PQclear (kept);
        return NULL;
    }
    return kept;
}

int
hk_db_settle (hk_db_t *self)
{
    if (!self)
        return HK_EINVAL;
    if (!self->pending)
        return 0;
    PGresult *res = hk_db_collect (self);
    if (!res)
        return HK_EDB;
    PQclear (res);
    return 0;
}

int
hk_db_begin (hk_db_t *self)
{
    if (!self)
        return HK_EINVAL;
    if (self->tx_lost) {
        s_set_error (self, "08006",
                     "connection lost inside a transaction: roll back before beginning another");
        return HK_EDB;
    }
    if (self->in_tx && hk_db_ok (self)) {
        s_set_error (self, "25001", "a transaction is already open");
        return HK_EDB;
    }
    PGresult *res = s_run (self, "BEGIN", 0, NULL, NULL, NULL, 0, false);
    if (!res)
        return HK_EDB;
    PQclear (res);
    self->in_tx = true;
    return 0;
}

void
hk_db_on_tx_end (hk_db_t *self, hk_db_tx_end_fn fn, void *arg)
{
    if (!self)
        return;
    self->tx_end = fn;
    self->tx_end_arg = arg;
}

static int
s_tx_ended (hk_db_t *self, bool committed, int rc)
{
    if (self->tx_end)
        self->tx_end (self->tx_end_arg, committed ? HK_DB_COMMITTED : HK_DB_ROLLED_BACK);
    return rc;
}

static int s_commit (hk_db_t *self);

int
hk_db_commit (hk_db_t *self)
{
    if (!self)
        return HK_EINVAL;
    if (self->pending && self->in_tx && !self->tx_lost && hk_db_ok (self)) {
        /* A statement sent ahead failed: the transaction is rolled back (which says so to the
         * hook), its error kept. */
        PGresult *prev = hk_db_collect (self);
        if (!prev) {
            hk_db_rollback (self);
            return HK_EDB;
        }
        PQclear (prev);
    }
    int rc = s_commit (self);
    return s_tx_ended (self, rc == 0, rc);
}

static int
s_commit (hk_db_t *self)
{
    if (self->tx_lost || (self->in_tx && !hk_db_ok (self))) {
        self->in_tx = false;
        self->tx_lost = false;
        s_set_error (self, "08006", "connection lost inside a transaction: it was rolled back");
        return HK_EDB;
    }
    if (!self->in_tx) {
        s_set_error (self, "25000", "commit without an open transaction");
        return HK_EDB;
    }
    PGresult *res = s_run (self, "COMMIT", 0, NULL, NULL, NULL, 0, false);
    if (!res) {
        if (self->dead) {
            /* The COMMIT may or may not have reached the server. */
            s_set_error (self, "08007", "connection lost during commit: outcome unknown (%s)",
                         self->errstr);
        }
        self->in_tx = false;
        self->tx_lost = false;
        return HK_EDB;
    }
    bool rolled_back = strcmp (PQcmdStatus (res), "ROLLBACK") == 0;
    PQclear (res);
    self->in_tx = false;
    if (rolled_back) {
        s_set_error (self, "25P02",
                     "commit refused: a statement of the transaction had failed, it was rolled "
                     "back");
        return HK_EDB;
    }
    return 0;
}

static int s_rollback (hk_db_t *self);

int
hk_db_rollback (hk_db_t *self)
{
    if (!self)
        return HK_EINVAL;
    int rc = s_rollback (self);
    return s_tx_ended (self, false, rc);
}

static int
s_rollback (hk_db_t *self)
{
    if (self->tx_lost || !hk_db_ok (self)) {
        /* The server discards a transaction whose session ended. */
        self->in_tx = false;
        self->tx_lost = false;
        return 0;
    }
    if (self->pending) {
        /* discarded: whatever it did goes with the transaction (its error is kept below) */
        PQclear (hk_db_collect (self));
        if (!hk_db_ok (self)) {
            self->in_tx = false;
            self->tx_lost = false;
            return 0;
        }
    }
    PGTransactionStatusType ts = PQtransactionStatus (self->conn);
    if (!self->in_tx && ts == PQTRANS_IDLE)
        return 0;
    /* Keep the error of the statement that made the caller roll back. */
    char errstr[HK_DB_ERRLEN], sqlstate[6];
    memcpy (errstr, self->errstr, sizeof errstr);
    memcpy (sqlstate, self->sqlstate, sizeof sqlstate);
    PGresult *res = s_run (self, "ROLLBACK", 0, NULL, NULL, NULL, 0, false);
    if (res) {
        PQclear (res);
        self->in_tx = false;
        return 0;
    }
    if (self->dead) {
        self->in_tx = false;
        self->tx_lost = false;
        memcpy (self->errstr, errstr, sizeof errstr);
        memcpy (self->sqlstate, sqlstate, sizeof sqlstate);
        return 0;
    }
    return HK_EDB;
}

bool
hk_db_in_transaction (const hk_db_t *self)
{
    return self && self->in_tx;
}

const char *
hk_db_sqlstate (const hk_db_t *self)
{
    return self ? self->sqlstate : "";
}

/* ---- array literals ---- */

static void
s_pgarr_sep (hk_pgarr_t *a, size_t need)
{
    if (!a->failed && a->buf.cap == 0) { /* small arrays are common: start small */
        a->buf.data = malloc (256);
        a->buf.cap = a->buf.data ? 256 : 0;
        a->failed = !a->buf.data;
    }
    if (!a->failed && !s_copy_reserve (&a->buf, need + 3))
        a->failed = true;
    if (a->failed)
        return;
    a->buf.data[a->buf.len++] = a->n++ ? ',' : '{';
}

void
hk_pgarr_text (hk_pgarr_t *a, const char *value)
{
    size_t n = value ? strlen (value) : 4;
    s_pgarr_sep (a, 2 * n + 2);
    if (a->failed)
        return;
    if (!value) {
        memcpy (a->buf.data + a->buf.len, "NULL", 4);
        a->buf.len += 4;
        return;
    }
    a->buf.data[a->buf.len++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (value[i] == '"' || value[i] == '\\')
            a->buf.data[a->buf.len++] = '\\';
        a->buf.data[a->buf.len++] = value[i];
    }
    a->buf.data[a->buf.len++] = '"';
}

void
hk_pgarr_int (hk_pgarr_t *a, int64_t value)
{
    char num[24];
    snprintf (num, sizeof num, "%lld", (long long) value);
    hk_pgarr_text (a, num);
}

char *
hk_pgarr_finish (hk_pgarr_t *a)
{
    if (a->n == 0)
        s_pgarr_sep (a, 1); /* the opening brace of an empty array */
    if (!a->failed && !s_copy_reserve (&a->buf, 2))
        a->failed = true;
    if (a->failed) {
        free (a->buf.data);
        *a = (hk_pgarr_t) { 0 };
        return NULL;
    }
    a->buf.data[a->buf.len++] = '}';
    a->buf.data[a->buf.len] = '\0';
    char *out = a->buf.data;
    *a = (hk_pgarr_t) { 0 };
    return out;
}
