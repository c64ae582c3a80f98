/* huikuan-ingestion: takes billing feeds from the inbox folder and records the facts.
 *
 * A file dropped in <inbox> is claimed by an atomic rename into processing/ (safe with several
 * instances: only one rename wins), processed in one transaction with its events (promise 1),
 * then moved to done/ with a report, or to failed/ when the file as a whole is not what it
 * claims (unknown header, broken quoting): nothing of such a file is applied. Bad rows of a good
 * file are rejected with line, field and reason and stored (promise 4); good rows are kept. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv.h"
#include "feed.h"
#include "huikuan/daemon.h"
#include "huikuan/dates.h"
#include "huikuan/digest.h"
#include "huikuan/errcodes.h"
#include "huikuan/files.h"
#include "huikuan/log.h"
#include "huikuan/metrics.h"
#include "huikuan/money.h"

static const hk_cfg_entry_t s_config[] = {
    { "inbox", HK_CFG_STRING, "", 0, 0, HK_CFG_NORELOAD, NULL,
      "folder watched for feed files (default <run_dir>/inbox); done/, failed/ and processing/ "
      "sit beside it" },
    { NULL },
};

typedef struct {
    char inbox[900], processing[1024], done[1024], failed[1024];
    hk_metric_t *m_files, *m_rows, *m_rejects, *m_failed;
} ingestion_t;

typedef struct {
    int total, accepted, unchanged, rejected;
    FILE *report;
    /* rejects kept until the intake_file row exists: "line\tfield\treason" lines */
    FILE *rejects;
} counts_t;

static void
s_reject (counts_t *c, long line, const char *field, const char *reason)
{
    c->rejected++;
    fprintf (c->rejects, "%ld\t%s\t%s\n", line, field, reason);
}

static int
s_invoice_row (hk_daemon_t *d, const hk_invoice_row_t *r, const char *source, long line,
               counts_t *c)
{
    char amount[32], issued[16] = "", due[16];
    snprintf (amount, sizeof amount, "%lld", (long long) r->amount_minor);
    if (r->has_issued_on)
        hk_date_format (r->issued_on, issued, sizeof issued);
    hk_date_format (r->due_on, due, sizeof due);
    const char *dp[] = { d->tenant, r->debtor_id, r->debtor_name, r->debtor_email };
    if (hk_db_exec (d->db,
                    "INSERT INTO debtor (tenant, debtor_id, name, email)"
                    " VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''))"
                    " ON CONFLICT (tenant, debtor_id) DO UPDATE"
                    " SET name = COALESCE(EXCLUDED.name, debtor.name),"
                    "     email = COALESCE(EXCLUDED.email, debtor.email)"
                    " WHERE (debtor.name, debtor.email) IS DISTINCT FROM"
                    "  (COALESCE(EXCLUDED.name, debtor.name), COALESCE(EXCLUDED.email, debtor.email))",
                    4, dp)
        < 0)
        return HK_EDB;
    const char *ip[] = { d->tenant, r->invoice_id, r->debtor_id, r->currency, amount,
                         r->has_issued_on ? issued : NULL, due };
    PGresult *res = hk_db_query (
        d->db,
        "INSERT INTO invoice (tenant, invoice_id, debtor_id, currency, amount_minor,"
        " outstanding_minor, issued_on, due_on)"
        " VALUES ($1, $2, $3, $4, $5::bigint, $5::bigint, $6::date, $7::date)"
        " ON CONFLICT (tenant, invoice_id) DO UPDATE SET debtor_id = EXCLUDED.debtor_id,"
        "  currency = EXCLUDED.currency, amount_minor = EXCLUDED.amount_minor,"
        "  outstanding_minor = invoice.outstanding_minor + EXCLUDED.amount_minor - invoice.amount_minor,"
        "  issued_on = EXCLUDED.issued_on, due_on = EXCLUDED.due_on, aged_as_of = NULL,"
        "  version = invoice.version + 1, updated_at = now()"
        " WHERE (invoice.debtor_id, invoice.currency, invoice.amount_minor, invoice.issued_on,"
        "        invoice.due_on) IS DISTINCT FROM (EXCLUDED.debtor_id, EXCLUDED.currency,"
        "        EXCLUDED.amount_minor, EXCLUDED.issued_on, EXCLUDED.due_on)"
        " RETURNING (xmax = 0), outstanding_minor",
        7, ip);
    if (!res)
        return HK_EDB;
    if (PQntuples (res) == 0) {
        PQclear (res); /* identical to what we have: no write, no event */
        c->unchanged++;
        return 0;
    }
    bool inserted = PQgetvalue (res, 0, 0)[0] == 't';
    int64_t outstanding = strtoll (PQgetvalue (res, 0, 1), NULL, 10);
    PQclear (res);

    Huikuan__V1__Money amt = HUIKUAN__V1__MONEY__INIT, out = HUIKUAN__V1__MONEY__INIT;
    amt.minor = r->amount_minor;
    amt.currency = (char *) r->currency;
    out.minor = outstanding;
    out.currency = (char *) r->currency;
    Huikuan__V1__InvoiceRecorded ev = HUIKUAN__V1__INVOICE_RECORDED__INIT;
    ev.invoice_id = (char *) r->invoice_id;
    ev.debtor_id = (char *) r->debtor_id;
    ev.amount = &amt;
    ev.outstanding = &out;
    ev.issued_on = issued;
    ev.due_on = due;
    ev.source = (char *) source;
    ev.source_line = (uint32_t) line;
    ev.changed = !inserted;
    if (hk_daemon_emit (d, "invoice.recorded", r->debtor_id, NULL, &ev.base) != 0)
        return HK_EDB;
    c->accepted++;
    return 0;
}

#define HK_MAX_ALLOC 256

static int
s_payment_row (hk_daemon_t *d, const hk_payment_row_t *r, const char *source, long line,
               counts_t *c)
{
    char amount[32], at[40];
    snprintf (amount, sizeof amount, "%lld", (long long) r->amount_minor);
    hk_time_format (r->received_at_us, at, sizeof at);
    const char *pp[] = { d->tenant, r->payment_id, r->debtor_id, r->currency, amount, at,
                         *r->invoice_id ? r->invoice_id : NULL };
    PGresult *res = hk_db_query (d->db,
                                 "INSERT INTO payment (tenant, payment_id, debtor_id, currency,"
                                 " amount_minor, received_at, reference)"
                                 " VALUES ($1, $2, $3, $4, $5::bigint, $6::timestamptz, $7)"
                                 " ON CONFLICT DO NOTHING RETURNING 1",
                                 7, pp);
    if (!res)
        return HK_EDB;
    int fresh = PQntuples (res);
    PQclear (res);
    if (!fresh) {
        c->unchanged++; /* payments are facts: a known payment id is not applied twice */
        return 0;
    }
    /* Referenced invoice first, then oldest first (R-C6 leaves any remainder open). */
    const char *ap[] = { d->tenant, r->debtor_id, r->currency, r->invoice_id };
    res = hk_db_query (d->db,
                       "SELECT invoice_id, outstanding_minor FROM invoice"
                       " WHERE tenant = $1 AND debtor_id = $2 AND currency = $3"
                       "   AND status = 'open' AND outstanding_minor > 0"
                       " ORDER BY (invoice_id = $4) DESC, due_on, invoice_id"
                       " LIMIT 256 FOR UPDATE",
                       4, ap);
    if (!res)
        return HK_EDB;
    int n = PQntuples (res);
    int64_t outstanding[HK_MAX_ALLOC], alloc[HK_MAX_ALLOC];
    for (int i = 0; i < n; i++)
        outstanding[i] = strtoll (PQgetvalue (res, i, 1), NULL, 10);
    int64_t left = hk_feed_allocate (r->amount_minor, outstanding, n, alloc);

    Huikuan__V1__Allocation allocs[HK_MAX_ALLOC];
    Huikuan__V1__Allocation *alloc_ptrs[HK_MAX_ALLOC];
    Huikuan__V1__Money alloc_money[HK_MAX_ALLOC];
    int nalloc = 0, rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (alloc[i] == 0)
            continue;
        const char *inv = PQgetvalue (res, i, 0);
        char part[32];
        snprintf (part, sizeof part, "%lld", (long long) alloc[i]);
        const char *up[] = { d->tenant, inv, part, r->payment_id };
        if (hk_db_exec (d->db,
                        "UPDATE invoice SET outstanding_minor = outstanding_minor - $3::bigint,"
                        " status = CASE WHEN outstanding_minor = $3::bigint THEN 'settled'"
                        "               ELSE status END, updated_at = now()"
                        " WHERE tenant = $1 AND invoice_id = $2",
                        3, up)
                < 0
            || hk_db_exec (d->db,
                           "INSERT INTO payment_allocation (tenant, payment_id, invoice_id,"
                           " amount_minor) VALUES ($1, $4, $2, $3::bigint)",
                           4, up)
                   < 0) {
            rc = HK_EDB;
            break;
        }
        huikuan__v1__allocation__init (&allocs[nalloc]);
        huikuan__v1__money__init (&alloc_money[nalloc]);
        alloc_money[nalloc].minor = alloc[i];
        alloc_money[nalloc].currency = (char *) r->currency;
        allocs[nalloc].invoice_id = (char *) inv;
        allocs[nalloc].amount = &alloc_money[nalloc];
        alloc_ptrs[nalloc] = &allocs[nalloc];
        nalloc++;
        if (alloc[i] == outstanding[i]) {
            Huikuan__V1__InvoiceSettled st = HUIKUAN__V1__INVOICE_SETTLED__INIT;
            st.invoice_id = (char *) inv;
            st.debtor_id = (char *) r->debtor_id;
            st.payment_id = (char *) r->payment_id;
            st.settled_at_us = r->received_at_us;
            if (hk_daemon_emit (d, "invoice.settled", r->debtor_id, NULL, &st.base) != 0)
                rc = HK_EDB;
        }
    }
    if (rc == 0 && left > 0) {
        char lefts[32];
        snprintf (lefts, sizeof lefts, "%lld", (long long) left);
        const char *lp[] = { d->tenant, r->payment_id, lefts };
        if (hk_db_exec (d->db,
                        "UPDATE payment SET unallocated_minor = $3::bigint"
                        " WHERE tenant = $1 AND payment_id = $2",
                        3, lp)
            < 0)
            rc = HK_EDB;
    }
    if (rc == 0) {
        Huikuan__V1__Money amt = HUIKUAN__V1__MONEY__INIT, un = HUIKUAN__V1__MONEY__INIT;
        amt.minor = r->amount_minor;
        amt.currency = (char *) r->currency;
        un.minor = left;
        un.currency = (char *) r->currency;
        Huikuan__V1__PaymentRecorded ev = HUIKUAN__V1__PAYMENT_RECORDED__INIT;
        ev.payment_id = (char *) r->payment_id;
        ev.debtor_id = (char *) r->debtor_id;
        ev.amount = &amt;
        ev.received_at_us = r->received_at_us;
        ev.n_allocations = (size_t) nalloc;
        ev.allocations = alloc_ptrs;
        ev.unallocated = &un;
        ev.source = (char *) source;
        ev.source_line = (uint32_t) line;
        if (hk_daemon_emit (d, "payment.recorded", r->debtor_id, NULL, &ev.base) != 0)
            rc = HK_EDB;
    }
    PQclear (res);
    if (rc == 0)
        c->accepted++;
    return rc;
}

/* Reads and applies the rows. Returns 0, HK_EPARSE with why (the file fails as a whole) or
 * HK_EDB. */
static int
s_apply (hk_daemon_t *d, FILE *f, const char *source, counts_t *c, char *why, size_t whylen)
{
    hk_csv_t *csv = hk_csv_new (f, ',');
    if (!csv)
        return HK_ENOMEM;
    char **fields;
    int n, rc;
    long line;
    hk_feed_header_t header;
    rc = hk_csv_next (csv, &fields, &n, &line);
    if (rc <= 0) {
        snprintf (why, whylen, rc == 0 ? "empty file: no header row" : "%s", hk_csv_error (csv));
        hk_csv_destroy (&csv);
        return HK_EPARSE;
    }
    hk_feed_header (fields, n, &header);
    if (header.kind == HK_FEED_UNKNOWN) {
        snprintf (why, whylen, "header names no known feed kind; missing columns: %s",
                  header.missing);
        hk_csv_destroy (&csv);
        return HK_EPARSE;
    }
    fprintf (c->report, "kind: %s\n", hk_feed_kind_name (header.kind));
    while ((rc = hk_csv_next (csv, &fields, &n, &line)) == 1) {
        c->total++;
        hk_row_error_t err;
        int db_rc = 0;
        if (header.kind == HK_FEED_INVOICES) {
            hk_invoice_row_t r;
            if (hk_feed_invoice (&header, fields, n, &r, &err) != 0)
                s_reject (c, line, err.field, err.reason);
            else
                db_rc = s_invoice_row (d, &r, source, line, c);
        }
        else {
            hk_payment_row_t r;
            if (hk_feed_payment (&header, fields, n, &r, &err) != 0)
                s_reject (c, line, err.field, err.reason);
            else
                db_rc = s_payment_row (d, &r, source, line, c);
        }
        if (db_rc != 0) {
            hk_csv_destroy (&csv);
            return HK_EDB;
        }
    }
    if (rc < 0) {
        snprintf (why, whylen, "%s", hk_csv_error (csv));
        hk_csv_destroy (&csv);
        return HK_EPARSE;
    }
    hk_csv_destroy (&csv);
    return 0;
}

static int
s_record_file (hk_daemon_t *d, const char *name, const char *sha, const char *kind,
               const char *status, const counts_t *c, const char *reason)
{
    char total[16], acc[16], unch[16], rej[16];
    snprintf (total, sizeof total, "%d", c->total);
    snprintf (acc, sizeof acc, "%d", c->accepted);
    snprintf (unch, sizeof unch, "%d", c->unchanged);
    snprintf (rej, sizeof rej, "%d", c->rejected);
    const char *p[] = { d->tenant, name, sha, kind, status, total, acc, unch, rej, reason,
                        d->instance };
    PGresult *res = hk_db_query (d->db,
                                 "INSERT INTO intake_file (tenant, name, sha256, kind, status,"
                                 " rows_total, rows_accepted, rows_unchanged, rows_rejected,"
                                 " reason, instance) VALUES ($1, $2, $3, $4, $5, $6::int,"
                                 " $7::int, $8::int, $9::int, $10, $11) RETURNING id",
                                 11, p);
    if (!res)
        return HK_EDB;
    char id[24];
    snprintf (id, sizeof id, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    if (!c->rejects)
        return 0;
    rewind (c->rejects);
    char line[512];
    while (fgets (line, sizeof line, c->rejects)) {
        line[strcspn (line, "\n")] = 0;
        char *f1 = strchr (line, '\t'), *f2 = f1 ? strchr (f1 + 1, '\t') : NULL;
        if (!f1 || !f2)
            continue;
        *f1 = *f2 = 0;
        const char *rp[] = { id, line, f1 + 1, f2 + 1 };
        if (hk_db_exec (d->db,
                        "INSERT INTO intake_reject (file_id, line, field, reason)"
                        " VALUES ($1::bigint, $2::int, $3, $4) ON CONFLICT DO NOTHING",
                        4, rp)
            < 0)
            return HK_EDB;
    }
    return 0;
}

static void
s_write_report (const char *path, const char *name, const char *status, const counts_t *c,
                const char *reason)
{
    FILE *f = fopen (path, "w");
    if (!f)
        return;
    fprintf (f, "file: %s\nstatus: %s\n", name, status);
    if (reason)
        fprintf (f, "reason: %s\n", reason);
    fprintf (f, "rows: %d\naccepted: %d\nunchanged: %d\nrejected: %d\n", c->total, c->accepted,
             c->unchanged, c->rejected);
    if (c->rejects) {
        rewind (c->rejects);
        char line[512];
        while (fgets (line, sizeof line, c->rejects)) {
            char *f1 = strchr (line, '\t'), *f2 = f1 ? strchr (f1 + 1, '\t') : NULL;
            if (f1 && f2) {
                *f1 = *f2 = 0;
                fprintf (f, "reject: line %s: %s: %s", line, f1 + 1, f2 + 1);
            }
        }
    }
    fclose (f);
}

/* Processes one claimed file (path inside processing/). Returns 1 done, 0 retry later. */
static int
s_process (hk_daemon_t *d, ingestion_t *st, const char *path, const char *name)
{
    char sha[HK_SHA256_HEX_LEN] = "";
    if (hk_sha256_file_hex (path, sha) != 0)
        return 0;
    FILE *f = fopen (path, "rb");
    if (!f)
        return 0;
    counts_t c = { 0 };
    c.rejects = tmpfile ();
    c.report = tmpfile ();
    char why[512] = "";
    int rc = hk_db_begin (d->db);
    if (rc == 0)
        rc = s_apply (d, f, name, &c, why, sizeof why);
    fclose (f);
    const char *status = "done";
    if (rc == 0)
        rc = s_record_file (d, name, sha, "csv", status, &c, NULL);
    if (rc == 0)
        rc = hk_db_commit (d->db);
    if (rc == HK_EPARSE) {
        /* Not what it claims: nothing of it is applied; the failure itself is recorded. */
        hk_db_rollback (d->db);
        status = "failed";
        counts_t none = { .total = c.total };
        rc = hk_db_begin (d->db);
        if (rc == 0)
            rc = s_record_file (d, name, sha, "csv", status, &none, why);
        if (rc == 0)
            rc = hk_db_commit (d->db);
        c = (counts_t) { .total = c.total, .rejects = c.rejects, .report = c.report };
    }
    if (rc != 0) {
        hk_db_rollback (d->db);
        HK_LOG (HK_WARN, "intake.retry", HK_S ("file", name), HK_S ("error", hk_db_errstr (d->db)));
        if (c.rejects)
            fclose (c.rejects);
        if (c.report)
            fclose (c.report);
        return 0;
    }
    bool failed = strcmp (status, "failed") == 0;
    char dest[2048], report[2100];
    snprintf (dest, sizeof dest, "%s/%s", failed ? st->failed : st->done, name);
    snprintf (report, sizeof report, "%s.report", dest);
    s_write_report (report, name, status, failed ? &(counts_t) { 0 } : &c, failed ? why : NULL);
    if (rename (path, dest) != 0)
        HK_LOG (HK_ERROR, "intake.move_failed", HK_S ("file", name), HK_S ("to", dest));
    hk_metric_add (st->m_files, 1);
    hk_metric_add (st->m_rows, c.total);
    hk_metric_add (st->m_rejects, c.rejected);
    if (failed) {
        hk_metric_add (st->m_failed, 1);
        HK_LOG (HK_WARN, "intake.failed", HK_S ("file", name), HK_S ("reason", why));
    }
    else
        HK_LOG (HK_INFO, "intake.done", HK_S ("file", name), HK_I ("rows", c.total),
                HK_I ("accepted", c.accepted), HK_I ("unchanged", c.unchanged),
                HK_I ("rejected", c.rejected));
    if (c.rejects)
        fclose (c.rejects);
    if (c.report)
        fclose (c.report);
    return 1;
}

static int
s_init (hk_daemon_t *d)
{
    ingestion_t *st = calloc (1, sizeof *st);
    if (!st)
        return HK_ENOMEM;
    d->state = st;
    const char *inbox = hk_config_str (d->config, "inbox");
    if (*inbox)
        snprintf (st->inbox, sizeof st->inbox, "%s", inbox);
    else
        snprintf (st->inbox, sizeof st->inbox, "%s/inbox", hk_config_str (d->config, "run_dir"));
    /* done/, failed/ and processing/ sit beside the inbox so renames stay on one filesystem */
    char base[900];
    snprintf (base, sizeof base, "%s", st->inbox);
    char *slash = strrchr (base, '/');
    if (slash)
        *slash = 0;
    else
        snprintf (base, sizeof base, ".");
    snprintf (st->processing, sizeof st->processing, "%s/processing", base);
    snprintf (st->done, sizeof st->done, "%s/done", base);
    snprintf (st->failed, sizeof st->failed, "%s/failed", base);
    if (hk_mkdirs (st->inbox) || hk_mkdirs (st->processing) || hk_mkdirs (st->done)
        || hk_mkdirs (st->failed)) {
        HK_LOG (HK_ERROR, "inbox.unusable", HK_S ("inbox", st->inbox), HK_S ("error", strerror (errno)));
        return HK_EIO;
    }
    st->m_files = hk_metric_counter ("hk_intake_files_total", "Feed files processed");
    st->m_rows = hk_metric_counter ("hk_intake_rows_total", "Feed rows read");
    st->m_rejects = hk_metric_counter ("hk_intake_rejects_total", "Feed rows rejected");
    st->m_failed = hk_metric_counter ("hk_intake_files_failed_total", "Feed files failed whole");
    HK_LOG (HK_INFO, "inbox.watching", HK_S ("inbox", st->inbox));
    return 0;
}

/* Claimed names are "<instance>@<file>" so a restarted instance finds its own unfinished
 * claims and no instance takes another's. */
static int
s_tick (hk_daemon_t *d)
{
    ingestion_t *st = d->state;
    int work = 0;
    char prefix[160];
    snprintf (prefix, sizeof prefix, "%s@", d->instance);
    size_t plen = strlen (prefix);
    /* First our own claims left by a crash (the transaction rolled back: redo). */
    DIR *dir = opendir (st->processing);
    if (dir) {
        struct dirent *e;
        while ((e = readdir (dir)) && work < 16) {
            if (strncmp (e->d_name, prefix, plen) != 0)
                continue;
            char path[2048];
            snprintf (path, sizeof path, "%s/%s", st->processing, e->d_name);
            work += s_process (d, st, path, e->d_name + plen);
        }
        closedir (dir);
    }
    dir = opendir (st->inbox);
    if (!dir)
        return work;
    struct dirent *e;
    while ((e = readdir (dir)) && work < 16) {
        if (e->d_name[0] == '.')
            continue; /* hidden: being written (write then rename) */
        char from[2048], to[2048];
        snprintf (from, sizeof from, "%s/%s", st->inbox, e->d_name);
        struct stat sb;
        if (stat (from, &sb) != 0 || !S_ISREG (sb.st_mode))
            continue;
        snprintf (to, sizeof to, "%s/%s%s", st->processing, prefix, e->d_name);
        if (rename (from, to) != 0)
            continue; /* another instance claimed it first */
        HK_LOG (HK_INFO, "intake.claimed", HK_S ("file", e->d_name));
        work += s_process (d, st, to, e->d_name);
    }
    closedir (dir);
    return work;
}

static void
s_fini (hk_daemon_t *d)
{
    free (d->state);
    d->state = NULL;
}

int
main (int argc, char **argv)
{
    static const hk_daemon_def_t def = {
        .kind = "ingestion",
        .summary = "Takes billing feeds (CSV) from the inbox folder and records invoices and "
                   "payments, with their events.",
        .config = s_config,
        .init = s_init,
        .on_tick = s_tick,
        .fini = s_fini,
    };
    return hk_daemon_main (argc, argv, &def);
}
