/* huikuan-ingestion: takes billing feeds from the inbox folder and records the facts.
 *
 * A file dropped in <inbox> is claimed by an atomic rename into processing/ (safe with several
 * instances: only one rename wins), processed in one transaction with its events (promise 1),
 * then moved to done/ with a report, or to failed/ when the file as a whole is not what it
 * claims (unknown header, broken quoting, malformed XML): nothing of such a file is applied.
 * Bad rows of a good file are rejected with line, field and reason and stored (promise 4); good
 * rows are kept.
 *
 * Systems that push post a feed to POST /v1/feeds/<name> on the daemon's HTTP endpoint, or send
 * FeedBatch messages to the push_zmq socket (zpush.c); either is stored durably in the inbox
 * before the answer and then handled like a dropped file.
 *
 * Formats (docs/feeds.md): the project's CSV and JSON Lines, any CSV through a column-mapping
 * file, ISO 20022 camt.053/054 and BAI2 bank statements; UTF-8 or GB18030. Every reader yields
 * canonical records; feed.c validates them and store.c writes them with their events. */
#include <dirent.h>
#include <strings.h>
#include <errno.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bai2.h"
#include "camt.h"
#include "csvfeed.h"
#include "encoding.h"
#include "feed.h"
#include "huikuan/daemon.h"
#include "huikuan/dates.h"
#include "huikuan/digest.h"
#include "huikuan/errcodes.h"
#include "huikuan/files.h"
#include "huikuan/log.h"
#include "huikuan/metrics.h"
#include "huikuan/money.h"
#include "jsonl.h"
#include "mapping.h"
#include "store.h"
#include "zpush.h"

static const hk_cfg_entry_t s_config[] = {
    { "inbox", HK_CFG_STRING, "", 0, 0, HK_CFG_NORELOAD, NULL,
      "folder watched for feed files (default <run_dir>/inbox); done/, failed/ and processing/ "
      "sit beside it" },
    { "mappings", HK_CFG_STRING, "", 0, 0, 0, NULL,
      "folder of column-mapping files (default <run_dir>/mappings): a file whose name starts "
      "with <name> is read with <name>.mapping.json" },
    { "push_max_bytes", HK_CFG_INT, "1073741824", 1, INT64_C (1) << 40, HK_CFG_NORELOAD, NULL,
      "largest feed a system may push with POST /v1/feeds/<name> on the HTTP endpoint, or as one "
      "FeedBatch on push_zmq" },
    { "push_zmq", HK_CFG_STRING, "", 0, 0, HK_CFG_NORELOAD, NULL,
      "ZeroMQ endpoint taking FeedBatch messages (proto/huikuan/v1/feed.proto) from REQ or "
      "DEALER clients, e.g. tcp://127.0.0.1:55490; empty: off" },
    { "statement_time_zone", HK_CFG_STRING, "", 0, 0, 0, NULL,
      "zone of date-only bank statement dates (default the tenant's)" },
    { 0 },
};

typedef struct {
    char inbox[900], processing[1024], done[1024], failed[1024], mappings[1024];
    hk_metric_t *m_files, *m_rows, *m_rejects, *m_failed;
    hk_store_t *store;
    hk_zpush_t *zpush;
} ingestion_t;

typedef struct {
    int total, accepted, unchanged, rejected;
    /* rejects kept until the intake_file row exists: "line\tfield\treason" lines */
    FILE *rejects;
} counts_t;

/* Rejects are kept as "line<TAB>field<TAB>reason" lines until the file is recorded; tabs and
 * line breaks inside a field or reason (a quoted value can hold them) become spaces. */
static void
s_reject (counts_t *c, long line, const char *field, const char *reason)
{
    char f[64], r[256];
    snprintf (f, sizeof f, "%s", field);
    snprintf (r, sizeof r, "%s", reason);
    for (char *p = f; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r')
            *p = ' ';
    for (char *p = r; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r')
            *p = ' ';
    c->rejected++;
    fprintf (c->rejects, "%ld\t%s\t%s\n", line, f, r);
}

typedef struct {
    hk_store_t *store;
    const char *source;
    counts_t *c;
    bool split;                /* a file of invoices alone may be split between two lanes */
} s_sink_ctx_t;

static int
s_on_record (void *arg, const hk_record_t *rec)
{
    s_sink_ctx_t *ctx = arg;
    ctx->c->total++;
    hk_fact_t fact;
    hk_row_error_t err;
    if (hk_feed_validate (rec, &fact, &err) != 0) {
        s_reject (ctx->c, rec->line, err.field, err.reason);
        return 0;
    }
    int rc = hk_store_fact (ctx->store, &fact, ctx->source, rec->line, &err);
    if (rc == HK_ENOTFOUND) { /* names what the database does not have: a reject too */
        s_reject (ctx->c, rec->line, err.field, err.reason);
        return 0;
    }
    return rc;
}

static int
s_on_one_kind (void *arg, hk_record_kind_t kind)
{
    s_sink_ctx_t *ctx = arg;
    return ctx->split && kind == HK_REC_INVOICE ? hk_store_split (ctx->store) : 0;
}

static void
s_on_reject (void *arg, long line, const char *field, const char *reason)
{
    s_sink_ctx_t *ctx = arg;
    ctx->c->total++;
    s_reject (ctx->c, line, field, reason);
}

static bool
s_ends_with (const char *name, const char *suffix)
{
    size_t n = strlen (name), k = strlen (suffix);
    return n >= k && strcasecmp (name + n - k, suffix) == 0;
}

/* The mapping for a file name: the longest <name>.mapping.json in the mappings folder whose
 * <name> starts the file name. Writes its path into out; false when none. */
static bool
s_find_mapping (const ingestion_t *st, const char *file, char *out, size_t len)
{
    DIR *dir = opendir (st->mappings);
    if (!dir)
        return false;
    size_t best = 0;
    struct dirent *e;
    while ((e = readdir (dir))) {
        if (!s_ends_with (e->d_name, ".mapping.json"))
            continue;
        size_t stem = strlen (e->d_name) - strlen (".mapping.json");
        if (stem > best && strncmp (file, e->d_name, stem) == 0) {
            best = stem;
            snprintf (out, len, "%s/%s", st->mappings, e->d_name);
        }
    }
    closedir (dir);
    return best > 0;
}

/* Picks the reader by name and content and reads the file at path into the sink. Returns 0,
 * HK_EPARSE with why (the file fails as a whole), or HK_EDB/HK_ENOMEM/HK_EIO. *format gets the
 * reader's name. */
static int
s_apply (hk_daemon_t *d, ingestion_t *st, const char *path, const char *name, counts_t *c,
         bool split, const char **format, char *why, size_t whylen)
{
    s_sink_ctx_t ctx = { .store = st->store, .source = name, .c = c, .split = split };
    hk_sink_t sink = { .arg = &ctx, .record = s_on_record, .reject = s_on_reject,
                       .one_kind = s_on_one_kind };
    const char *zone = hk_config_str (d->config, "statement_time_zone");
    if (!*zone)
        zone = d->tenant_tz;
    FILE *f = fopen (path, "rb");
    if (!f)
        return HK_EIO;
    char head[4] = "";
    size_t got = fread (head, 1, 3, f);
    rewind (f);
    int rc;
    if (s_ends_with (name, ".xml")) {
        *format = "camt";
        rc = hk_camt_read (f, zone, &sink, why, whylen);
        fclose (f);
        return rc;
    }
    if (s_ends_with (name, ".bai") || s_ends_with (name, ".bai2")
        || (got == 3 && memcmp (head, "01,", 3) == 0)) {
        *format = "bai2";
        rc = hk_bai2_read (f, zone, &sink, why, whylen);
        fclose (f);
        return rc;
    }
    char mapping_path[2100];
    hk_mapping_t *mapping = NULL;
    if (s_find_mapping (st, name, mapping_path, sizeof mapping_path)) {
        mapping = hk_mapping_load (mapping_path, why, whylen);
        if (!mapping) {
            fclose (f);
            return HK_EPARSE;
        }
    }
    /* Text feeds: UTF-8, or GB18030/GBK declared by the mapping or detected; the wrapper takes
     * f over. */
    FILE *text = hk_encoding_utf8 (f, mapping ? hk_mapping_encoding (mapping) : NULL, why, whylen);
    if (!text) {
        hk_mapping_destroy (&mapping);
        return HK_EPARSE;
    }
    /* Only this thread reads it: no stdio lock per character (a 1M-row feed is ~100M getc). */
    __fsetlocking (text, FSETLOCKING_BYCALLER);
    if (mapping) {
        *format = "mapped-csv";
        rc = hk_mapping_read (mapping, text, &sink, why, whylen);
    }
    else if (s_ends_with (name, ".jsonl") || s_ends_with (name, ".ndjson")) {
        *format = "jsonl";
        rc = hk_jsonl_read (text, &sink, why, whylen);
    }
    else {
        *format = "csv";
        rc = hk_csvfeed_read (text, &sink, why, whylen);
    }
    if (rc == 0 && ferror (text)) {
        const char *where = hk_encoding_error (text);
        const char *enc = hk_encoding_name (text);
        snprintf (why, whylen, "cannot be read as %s text: %s", enc ? enc : "UTF-8",
                  where && *where ? where : strerror (errno));
        rc = HK_EPARSE;
    }
    fclose (text);
    hk_mapping_destroy (&mapping);
    return rc;
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
s_write_report (const char *path, const char *name, const char *format, const char *status,
                const counts_t *c, const char *reason)
{
    FILE *f = fopen (path, "w");
    if (!f)
        return;
    fprintf (f, "file: %s\nformat: %s\nstatus: %s\n", name, format, status);
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
    counts_t c = { 0 };
    c.rejects = tmpfile ();
    if (!c.rejects)
        return 0;
    char why[512] = "";
    const char *format = "unknown";
    const char *status = "done";
    int rc;
    /* A file of invoices alone is first tried in two lanes (store.h); when they meet on one
     * invoice, it is taken again at once in one. */
    for (bool split = true;; split = false) {
        hk_store_reset (st->store);
        rc = hk_db_begin (d->db);
        if (rc == 0)
            rc = s_apply (d, st, path, name, &c, split, &format, why, sizeof why);
        if (rc == 0)
            rc = hk_store_flush (st->store);
        if (rc != HK_ECONFLICT || !split)
            break;
        hk_store_rollback (st->store);
        HK_LOG (HK_INFO, "intake.one_lane_retry", HK_S ("file", name));
        rewind (c.rejects);
        if (ftruncate (fileno (c.rejects), 0) != 0) {
            rc = HK_EIO;
            break;
        }
        c = (counts_t) { .rejects = c.rejects };
        why[0] = 0;
    }
    c.accepted = hk_store_accepted (st->store);
    c.unchanged = hk_store_unchanged (st->store);
    if (rc == 0)
        rc = s_record_file (d, name, sha, format, status, &c, NULL);
    if (rc == 0)
        rc = hk_store_commit (st->store);
    /* A data or integrity error that validation did not foresee (SQLSTATE class 22 or 23,
     * other than a unique key taken meanwhile by another instance) fails the same way every
     * time: the file fails as a whole with that reason instead of being retried forever. */
    hk_db_t *failed_db = hk_store_error_db (st->store);
    const char *state = hk_db_sqlstate (failed_db);
    if (rc == HK_EDB && hk_db_ok (failed_db)
        && (strncmp (state, "22", 2) == 0 || strncmp (state, "23", 2) == 0)
        && strcmp (state, "23505") != 0) {
        snprintf (why, sizeof why, "rejected by the database (SQLSTATE %s): %s", state,
                  hk_db_errstr (failed_db));
        rc = HK_EPARSE;
    }
    if (rc == HK_EPARSE) {
        /* Not what it claims: nothing of it is applied; the failure itself is recorded. */
        hk_store_rollback (st->store);
        status = "failed";
        counts_t none = { .total = c.total };
        rc = hk_db_begin (d->db);
        if (rc == 0)
            rc = s_record_file (d, name, sha, format, status, &none, why);
        if (rc == 0)
            rc = hk_db_commit (d->db);
        c = (counts_t) { .total = c.total, .rejects = c.rejects };
    }
    if (rc != 0) {
        HK_LOG (HK_WARN, "intake.retry", HK_S ("file", name),
                HK_S ("error", hk_db_errstr (hk_store_error_db (st->store))));
        hk_store_rollback (st->store);
        fclose (c.rejects);
        return 0;
    }
    bool failed = strcmp (status, "failed") == 0;
    char dest[2048], report[2100];
    snprintf (dest, sizeof dest, "%s/%s", failed ? st->failed : st->done, name);
    snprintf (report, sizeof report, "%s.report", dest);
    s_write_report (report, name, format, status, failed ? &(counts_t) { 0 } : &c,
                    failed ? why : NULL);
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
    fclose (c.rejects);
    return 1;
}

static int
s_init (hk_daemon_t *d)
{
    ingestion_t *st = calloc (1, sizeof *st);
    if (!st)
        return HK_ENOMEM;
    d->state = st;
    st->store = hk_store_new (d);
    if (!st->store)
        return HK_ENOMEM;
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
    const char *mappings = hk_config_str (d->config, "mappings");
    if (*mappings)
        snprintf (st->mappings, sizeof st->mappings, "%s", mappings);
    else
        snprintf (st->mappings, sizeof st->mappings, "%.1000s/mappings",
                  hk_config_str (d->config, "run_dir"));
    if (hk_mkdirs (st->inbox) || hk_mkdirs (st->processing) || hk_mkdirs (st->done)
        || hk_mkdirs (st->failed)) {
        HK_LOG (HK_ERROR, "inbox.unusable", HK_S ("inbox", st->inbox), HK_S ("error", strerror (errno)));
        return HK_EIO;
    }
    st->m_files = hk_metric_counter ("hk_intake_files_total", "Feed files processed");
    st->m_rows = hk_metric_counter ("hk_intake_rows_total", "Feed rows read");
    st->m_rejects = hk_metric_counter ("hk_intake_rejects_total", "Feed rows rejected");
    st->m_failed = hk_metric_counter ("hk_intake_files_failed_total", "Feed files failed whole");
    /* Systems that push: POST /v1/feeds/<name> lands in the inbox like a dropped file. */
    if (d->http && hk_http_accept_uploads (d->http, "/v1/feeds/", st->inbox,
                                           hk_config_int (d->config, "push_max_bytes"))
                       != 0)
        return HK_EINVAL;
    /* ... and FeedBatch messages on a ZeroMQ socket */
    const char *zep = hk_config_str (d->config, "push_zmq");
    if (*zep) {
        char err[300];
        st->zpush = hk_zpush_start (zep, st->inbox, hk_config_int (d->config, "push_max_bytes"),
                                    err, sizeof err);
        if (!st->zpush) {
            HK_LOG (HK_ERROR, "zpush.failed", HK_S ("error", err));
            return HK_EINVAL;
        }
        HK_LOG (HK_INFO, "zpush.listening", HK_S ("endpoint", zep));
    }
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
    ingestion_t *st = d->state;
    if (st) {
        hk_zpush_stop (&st->zpush);
        hk_store_destroy (&st->store);
    }
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
