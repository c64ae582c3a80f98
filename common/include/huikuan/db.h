/* db: PostgreSQL access through libpq. Parameterised statements only (promise 7): no function
 * here takes SQL built from data. A connection that fails is dead and is replaced on the next
 * call (STYLE 5); a call inside an open transaction never reconnects silently. */
#ifndef HUIKUAN_DB_H
#define HUIKUAN_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct hk_db hk_db_t;

/* conninfo: libpq URI or key=value string; copied. Does not connect yet. NULL on ENOMEM. */
hk_db_t *hk_db_new (const char *conninfo);
void hk_db_destroy (hk_db_t **self_p);

/* Connects (or reconnects when the connection is bad). Returns 0 or HK_EDB; errstr says why. */
int hk_db_connect (hk_db_t *self);
/* Tries hk_db_connect until it works or timeout_ms passes (start-up, server restarts). */
int hk_db_connect_wait (hk_db_t *self, int timeout_ms);
bool hk_db_ok (const hk_db_t *self);
/* Last error text, one line; never NULL ("" before any error). Owned by self, valid until the
 * next call. Kept until the next error, so it survives the rollback that follows a failure. */
const char *hk_db_errstr (const hk_db_t *self);
/* The live connection (or NULL); owned by self. */
PGconn *hk_db_conn (hk_db_t *self);

/* Runs one parameterised statement; params are text values (NULL entries are SQL NULL).
 * Returns a result the caller must PQclear(), or NULL on error (errstr set; the connection
 * is reset when it broke, and the statement is retried once if no transaction was open). */
PGresult *hk_db_query (hk_db_t *self, const char *sql, int nparams, const char *const *params);
/* Same with per-parameter lengths and formats (1 = binary) and a result format. */
PGresult *hk_db_query_bin (hk_db_t *self, const char *sql, int nparams,
                           const char *const *values, const int *lengths, const int *formats,
                           int result_format);
/* Statement whose result rows are not wanted: returns affected rows (>= 0) or HK_EDB. */
int hk_db_exec (hk_db_t *self, const char *sql, int nparams, const char *const *params);

/* Runs a multi-statement SQL script with PQexec, without parameters. For trusted SQL embedded
 * at build time only (migrations): never pass text that contains data. Not retried after a
 * broken connection. Returns 0 or HK_EDB. */
int hk_db_exec_script (hk_db_t *self, const char *sql);

/* Bulk load: runs copy_sql ("COPY table (cols) FROM STDIN", a fixed statement, never built
 * from data) and streams len bytes of COPY text-format data. Only inside a transaction, so a
 * failure leaves nothing behind. Returns 0 or HK_EDB. */
int hk_db_copy_in (hk_db_t *self, const char *copy_sql, const char *data, size_t len);

/* Sent ahead: the server runs a statement while the caller goes on working, inside an open
 * transaction only. hk_db_send_bin sends a statement (as hk_db_query_bin would run it),
 * hk_db_copy_send a COPY ... FROM STDIN with all its data; neither waits for the outcome. One
 * may be outstanding: hk_db_collect waits for it and returns its result (COPY: command status)
 * or NULL with the error. Any other call on the handle collects it first, and fails with its
 * error if it failed; a rollback discards it. Send calls return 0 or HK_EDB/HK_EINVAL. */
int hk_db_send_bin (hk_db_t *self, const char *sql, int nparams, const char *const *values,
                    const int *lengths, const int *formats, int result_format);
int hk_db_copy_send (hk_db_t *self, const char *copy_sql, const char *data, size_t len);
PGresult *hk_db_collect (hk_db_t *self);
/* Waits for a statement sent ahead, if any: 0, or HK_EDB with its error. */
int hk_db_settle (hk_db_t *self);

/* A growing buffer of COPY text-format rows. Zero-initialise; free data with free(). */
typedef struct {
    char *data;
    size_t len, cap;
} hk_copy_buf_t;

/* Appends one column value escaped for COPY text format (NULL writes \N), then end ('\t'
 * between columns, '\n' after the last). Return false on ENOMEM (the buffer is unchanged). */
bool hk_copy_text (hk_copy_buf_t *b, const char *value, char end);
/* Appends n raw bytes (binary COPY data). Returns false on ENOMEM (the buffer is unchanged). */
bool hk_copy_bytes (hk_copy_buf_t *b, const void *bytes, size_t n);

/* PostgreSQL's binary dates count days from 2000-01-01; ours (huikuan/dates.h) from 1970-01-01. */
#define HK_PG_DATE_OFFSET 10957

/* COPY ... FROM STDIN (FORMAT binary) data: the header, then per row hk_copy_bin_row with its
 * column count and one value call per column, then the trailer. Each returns false on ENOMEM
 * or a malformed value (the buffer then holds a partial row: start again from an emptied
 * buffer). */
bool hk_copy_bin_header (hk_copy_buf_t *b);
bool hk_copy_bin_row (hk_copy_buf_t *b, int columns);
bool hk_copy_bin_text (hk_copy_buf_t *b, const char *value);      /* text; NULL writes NULL */
bool hk_copy_bin_bytes (hk_copy_buf_t *b, const void *bytes, size_t n); /* bytea */
bool hk_copy_bin_i64 (hk_copy_buf_t *b, int64_t value);           /* bigint */
bool hk_copy_bin_i32 (hk_copy_buf_t *b, int32_t value);           /* integer */
bool hk_copy_bin_date (hk_copy_buf_t *b, bool present, int32_t day); /* date; days from 1970 */
bool hk_copy_bin_uuid (hk_copy_buf_t *b, const char *uuid);       /* canonical text form */
bool hk_copy_bin_trailer (hk_copy_buf_t *b);
/* A one-dimensional array column: _begin with the element type's OID and the count (mark
 * keeps where the column starts), then n element values by the calls above (text, bytea,
 * uuid: an element is written as a column is), then _end, which fills in its length. */
#define HK_PG_OID_TEXT 25
#define HK_PG_OID_BYTEA 17
#define HK_PG_OID_UUID 2950
bool hk_copy_bin_array_begin (hk_copy_buf_t *b, uint32_t elem_oid, int n, size_t *mark);
bool hk_copy_bin_array_end (hk_copy_buf_t *b, size_t mark);

/* A PostgreSQL array literal ("{"a","b",NULL}") built element by element, for passing a whole
 * batch as one text parameter ($1::text[], then unnest). Zero-initialise; hk_pgarr_finish
 * returns the malloc'd literal (caller frees) or NULL after ENOMEM. */
typedef struct {
    hk_copy_buf_t buf;
    int n;
    bool failed;
} hk_pgarr_t;
void hk_pgarr_text (hk_pgarr_t *a, const char *value);   /* NULL appends NULL */
void hk_pgarr_int (hk_pgarr_t *a, int64_t value);
char *hk_pgarr_finish (hk_pgarr_t *a);

/* Transactions. begin/commit/rollback return 0 or HK_EDB. rollback is safe without one.
 * If the connection breaks inside a transaction, every statement fails until commit (which
 * then fails) or rollback ends it; a commit whose transaction had failed returns HK_EDB. */
int hk_db_begin (hk_db_t *self);
int hk_db_commit (hk_db_t *self);
int hk_db_rollback (hk_db_t *self);
bool hk_db_in_transaction (const hk_db_t *self);

/* fn(arg, end) runs as each transaction of self ends: HK_DB_COMMITTED after a COMMIT that
 * succeeded; HK_DB_ROLLED_BACK after a rollback, a refused commit or a lost connection (a
 * commit whose outcome is unknown counts as not committed); HK_DB_CLOSED once, when self is
 * destroyed. One hook per connection; NULL removes it. */
typedef enum { HK_DB_COMMITTED, HK_DB_ROLLED_BACK, HK_DB_CLOSED } hk_db_tx_end_t;
typedef void (*hk_db_tx_end_fn) (void *arg, hk_db_tx_end_t end);
void hk_db_on_tx_end (hk_db_t *self, hk_db_tx_end_fn fn, void *arg);

/* SQLSTATE of the last error ("23505" ...) or "" when none. */
const char *hk_db_sqlstate (const hk_db_t *self);

#endif
