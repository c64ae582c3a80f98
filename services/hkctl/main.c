/* hkctl: the operator's command line. Talks to PostgreSQL (the system of record) and the
 * ZeroMQ event stream; never to a daemon's internals. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "huikuan/bus.h"
#include "huikuan/clock.h"
#include "huikuan/dates.h"
#include "huikuan/db.h"
#include "huikuan/errcodes.h"
#include "huikuan/event.h"
#include "huikuan/log.h"
#include "huikuan/migrate.h"
#include "huikuan/money.h"
#include "aging_rules.h"
#include "hkctl.h"

static volatile sig_atomic_t s_stop;

static void
s_on_signal (int sig)
{
    (void) sig;
    s_stop = 1;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: hkctl [--database-url URL] COMMAND ...\n"
             "\n"
             "Commands:\n"
             "  migrate                       apply missing schema migrations\n"
             "  clock show                    the fleet clock (system or simulated)\n"
             "  clock set TIME                simulate, fixed at TIME (RFC 3339 with offset)\n"
             "  clock advance DURATION        simulate, moved forward (e.g. 3d, 2h30m)\n"
             "  clock system                  back to system time\n"
             "  events tail [--json] [--from-start] [--type PREFIX] [--count N]\n"
             "              [--timeout SECONDS]\n"
             "                                print events from the ZeroMQ stream, gaps filled\n"
             "                                from PostgreSQL; --count/--timeout end the tail\n"
             "  status                        running instances, clock, intake and work figures\n"
             "  ingest FILE...                hand feed files to the inbox (atomic move)\n"
             "  bus endpoints                 the ZeroMQ endpoints of running instances\n"
             "  report aging [--format table|csv|json] [--days N] [--debtors N]\n"
             "                                open receivables per bucket, per grade and for the\n"
             "                                first N debtors by priority (default 20), expected\n"
             "                                recoverable amounts (R-A1..R-A4) and DSO over the\n"
             "                                last N days (default 90) by the fleet clock\n"
             "  report strategy [--json]      champion/challenger results per variant: debts,\n"
             "                                settled, recovered amount, days to pay\n"
             "  plan DEBTOR [--json]          the debtor's debts, ladder state and next contacts\n"
             "                                with their reasons (times local to the debtor)\n"
             "  why CONTACT                   one contact explained: timing, caps, rules\n"
             "\n"
             "Environment: HUIKUAN_DATABASE_URL (default postgresql:///huikuan),\n"
             "HUIKUAN_RUN_DIR (default ./run; the inbox is $HUIKUAN_RUN_DIR/inbox),\n"
             "HUIKUAN_TENANT (default \"default\") for reports,\n"
             "HUIKUAN_INGESTION_INBOX overrides the inbox.\n");
}

static hk_db_t *
s_connect (const char *url)
{
    hk_db_t *db = hk_db_new (url);
    if (!db || hk_db_connect (db) != 0) {
        fprintf (stderr, "hkctl: cannot connect to PostgreSQL: %s\n",
                 db ? hk_db_errstr (db) : "out of memory");
        hk_db_destroy (&db);
        return NULL;
    }
    return db;
}

static int
s_clock (hk_db_t *db, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "show";
    int rc = 0;
    if (strcmp (sub, "set") == 0) {
        int64_t us;
        if (argc < 2 || hk_time_parse (argv[1], &us) != 0) {
            fprintf (stderr, "hkctl: clock set needs a time with offset, e.g. "
                             "2026-03-01T00:00:00+08:00\n");
            return 2;
        }
        rc = hk_clock_set (db, us);
    }
    else if (strcmp (sub, "advance") == 0) {
        int64_t us;
        if (argc < 2 || hk_duration_parse (argv[1], &us) != 0 || us < 0) {
            fprintf (stderr, "hkctl: clock advance needs a positive duration, e.g. 3d, 2h30m\n");
            return 2;
        }
        rc = hk_clock_advance (db, us);
    }
    else if (strcmp (sub, "system") == 0)
        rc = hk_clock_use_system (db);
    else if (strcmp (sub, "show") != 0) {
        fprintf (stderr, "hkctl: unknown clock command '%s'\n", sub);
        return 2;
    }
    if (rc != 0) {
        fprintf (stderr, "hkctl: clock %s failed: %s\n", sub, hk_db_errstr (db));
        return 1;
    }
    hk_clock_t *clock = hk_clock_new ();
    if (!clock || hk_clock_refresh (clock, db) != 0) {
        fprintf (stderr, "hkctl: cannot read the clock: %s\n", hk_db_errstr (db));
        hk_clock_destroy (&clock);
        return 1;
    }
    char buf[40];
    hk_time_format (hk_clock_now (clock), buf, sizeof buf);
    printf ("%s %s\n", hk_clock_simulated (clock) ? "simulated" : "system", buf);
    hk_clock_destroy (&clock);
    return 0;
}

static int
s_events_tail (hk_db_t *db, int argc, char **argv)
{
    bool json = false, from_start = false;
    const char *type = "";
    long count = -1;
    double timeout = -1;
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },        { "from-start", no_argument, NULL, 's' },
        { "type", required_argument, NULL, 't' },  { "count", required_argument, NULL, 'n' },
        { "timeout", required_argument, NULL, 'T' }, { NULL, 0, NULL, 0 },
    };
    optind = 1;
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 's': from_start = true; break;
        case 't': type = optarg; break;
        case 'n': count = strtol (optarg, NULL, 10); break;
        case 'T': timeout = strtod (optarg, NULL); break;
        default: return 2;
        }
    }
    hk_bus_sub_t *sub = hk_bus_sub_new (db, type);
    if (!sub) {
        fprintf (stderr, "hkctl: cannot create the subscriber\n");
        return 1;
    }
    hk_bus_sub_from_start (sub, from_start);
    hk_bus_sub_discover (sub);
    long seen = 0;
    int64_t deadline = timeout >= 0 ? hk_time_system_us () + (int64_t) (timeout * 1e6) : 0;
    int rc = 0;
    while (!s_stop && (count < 0 || seen < count)) {
        if (deadline && hk_time_system_us () >= deadline)
            break;
        Huikuan__V1__Envelope *env = NULL;
        int got = hk_bus_sub_next (sub, 200, &env);
        if (got < 0) {
            fprintf (stderr, "hkctl: event stream error\n");
            rc = 1;
            break;
        }
        if (got == 0)
            continue;
        if (*type && strncmp (env->type, type, strlen (type)) != 0) {
            hk_envelope_destroy (&env);
            continue;
        }
        char *text = NULL;
        if (hk_event_to_json (env, &text) == 0) {
            if (json)
                printf ("%s\n", text);
            else {
                char at[40];
                hk_time_format (env->occurred_at_us, at, sizeof at);
                json_object *obj = json_tokener_parse (text);
                json_object *payload = NULL;
                json_object_object_get_ex (obj, "payload", &payload);
                printf ("%s %s#%llu %-18s %s %s\n", at, env->producer,
                        (unsigned long long) env->sequence, env->type, env->aggregate_id,
                        payload ? json_object_to_json_string_ext (payload, JSON_C_TO_STRING_PLAIN)
                                : "");
                json_object_put (obj);
            }
            fflush (stdout);
            free (text);
        }
        hk_envelope_destroy (&env);
        seen++;
    }
    hk_bus_sub_destroy (&sub);
    return rc;
}

static int
s_print_rows (hk_db_t *db, const char *title, const char *sql)
{
    PGresult *res = hk_db_query (db, sql, 0, NULL);
    if (!res) {
        fprintf (stderr, "hkctl: %s: %s\n", title, hk_db_errstr (db));
        return 1;
    }
    printf ("%s:\n", title);
    if (PQntuples (res) == 0)
        printf ("  (none)\n");
    for (int r = 0; r < PQntuples (res); r++) {
        printf (" ");
        for (int f = 0; f < PQnfields (res); f++)
            printf (" %s=%s", PQfname (res, f), PQgetisnull (res, r, f) ? "-" : PQgetvalue (res, r, f));
        printf ("\n");
    }
    PQclear (res);
    return 0;
}

static int
s_status (hk_db_t *db)
{
    int rc = s_clock (db, 0, NULL);
    rc |= s_print_rows (db, "instances",
                        "SELECT instance, kind, tenant, host, pid, bus_endpoint AS bus,"
                        " http_endpoint AS http,"
                        " round(extract(epoch FROM now() - heartbeat_at)) AS heartbeat_age_s"
                        " FROM fleet_instance ORDER BY kind, instance");
    rc |= s_print_rows (db, "intake",
                        "SELECT status, count(*) AS files, sum(rows_accepted) AS accepted,"
                        " sum(rows_unchanged) AS unchanged, sum(rows_rejected) AS rejected"
                        " FROM intake_file GROUP BY status ORDER BY status");
    rc |= s_print_rows (db, "invoices",
                        "SELECT status, coalesce(bucket, 'not aged') AS bucket, currency,"
                        " count(*) AS invoices, sum(outstanding_minor) AS outstanding_minor"
                        " FROM invoice GROUP BY 1, 2, 3 ORDER BY 1, 2, 3");
    rc |= s_print_rows (db, "contacts",
                        "SELECT channel, step, status, count(*) FROM contact GROUP BY 1, 2, 3"
                        " ORDER BY 1, 2, 3");
    rc |= s_print_rows (db, "legal cases",
                        "SELECT status, count(*) FROM legal_case GROUP BY 1 ORDER BY 1");
    rc |= s_print_rows (db, "events",
                        "SELECT p.producer, count(o.seq) AS events, p.last_seq,"
                        " p.last_seq - p.published_seq AS unpublished"
                        " FROM producer_sequence p LEFT JOIN event_outbox o"
                        "  ON o.producer = p.producer"
                        " GROUP BY p.producer, p.last_seq, p.published_seq ORDER BY p.producer");
    return rc;
}

/* Copies FILE into the inbox under a hidden name, then renames: the daemon never sees a
 * half-written file. */
static int
s_ingest (int argc, char **argv)
{
    if (argc < 1) {
        fprintf (stderr, "hkctl: ingest needs at least one FILE\n");
        return 2;
    }
    char inbox[1024];
    const char *env_inbox = getenv ("HUIKUAN_INGESTION_INBOX");
    const char *run = getenv ("HUIKUAN_RUN_DIR");
    if (env_inbox && *env_inbox)
        snprintf (inbox, sizeof inbox, "%s", env_inbox);
    else
        snprintf (inbox, sizeof inbox, "%.1000s/inbox", run && *run ? run : "run");
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        FILE *in = fopen (argv[i], "rb");
        if (!in) {
            fprintf (stderr, "hkctl: %s: %s\n", argv[i], strerror (errno));
            rc = 1;
            continue;
        }
        char copy[1024];
        snprintf (copy, sizeof copy, "%s", argv[i]);
        const char *name = basename (copy);
        char tmp[2200], dest[2200];
        snprintf (tmp, sizeof tmp, "%s/.%s.%d.tmp", inbox, name, (int) getpid ());
        snprintf (dest, sizeof dest, "%s/%s", inbox, name);
        FILE *out = fopen (tmp, "wb");
        if (!out) {
            fprintf (stderr, "hkctl: %s: %s (is the inbox there?)\n", tmp, strerror (errno));
            fclose (in);
            rc = 1;
            continue;
        }
        char buf[65536];
        size_t n;
        bool ok = true;
        while ((n = fread (buf, 1, sizeof buf, in)) > 0)
            if (fwrite (buf, 1, n, out) != n)
                ok = false;
        ok = ok && !ferror (in) && fflush (out) == 0 && fsync (fileno (out)) == 0;
        fclose (in);
        if (fclose (out) != 0)
            ok = false;
        if (!ok || rename (tmp, dest) != 0) {
            fprintf (stderr, "hkctl: %s: %s\n", dest, strerror (errno));
            unlink (tmp);
            rc = 1;
            continue;
        }
        printf ("queued %s\n", dest);
    }
    return rc;
}

typedef enum { S_TABLE, S_CSV, S_JSON } s_format_t;

/* One section of the aging report: rows of (key, currency, invoices, outstanding, expected). */
static int
s_report_section (hk_db_t *db, const char *tenant, const char *title, const char *sql,
                  s_format_t fmt, json_object *out)
{
    const char *p[] = { tenant };
    PGresult *res = hk_db_query (db, sql, 1, p);
    if (!res) {
        fprintf (stderr, "hkctl: report: %s\n", hk_db_errstr (db));
        return 1;
    }
    json_object *arr = json_object_new_array ();
    if (fmt == S_TABLE)
        printf ("%s\n  %-12s %-4s %9s %20s %20s\n", title, title, "cur", "invoices",
                "outstanding", "expected recovery");
    for (int r = 0; r < PQntuples (res); r++) {
        const char *key = PQgetvalue (res, r, 0), *cur = PQgetvalue (res, r, 1);
        char outstanding[40] = "", expected[40] = "";
        hk_money_format (strtoll (PQgetvalue (res, r, 3), NULL, 10), cur, outstanding,
                         sizeof outstanding);
        hk_money_format (strtoll (PQgetvalue (res, r, 4), NULL, 10), cur, expected,
                         sizeof expected);
        if (fmt == S_TABLE)
            printf ("  %-12s %-4s %9s %20s %20s\n", key, cur, PQgetvalue (res, r, 2), outstanding,
                    expected);
        else if (fmt == S_CSV)
            printf ("%s,%s,%s,%s,%s,%s\n", title, key, cur, PQgetvalue (res, r, 2), outstanding,
                    expected);
        json_object *row = json_object_new_object ();
        json_object_object_add (row, title, json_object_new_string (key));
        json_object_object_add (row, "currency", json_object_new_string (cur));
        json_object_object_add (row, "invoices",
                                json_object_new_int64 (strtoll (PQgetvalue (res, r, 2), NULL, 10)));
        json_object_object_add (row, "outstanding", json_object_new_string (outstanding));
        json_object_object_add (row, "expected_recoverable", json_object_new_string (expected));
        json_object_array_add (arr, row);
    }
    json_object_object_add (out, title, arr);
    PQclear (res);
    return 0;
}

/* An integer option in [lo, hi], the whole argument a number. */
static bool
s_long_arg (const char *arg, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol (arg, &end, 10);
    if (errno || end == arg || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int
s_report_aging (hk_db_t *db, int argc, char **argv)
{
    s_format_t fmt = S_TABLE;
    long days = 90, debtors = 20;
    static const struct option opts[] = {
        { "format", required_argument, NULL, 'f' }, { "days", required_argument, NULL, 'd' },
        { "debtors", required_argument, NULL, 'n' }, { NULL, 0, NULL, 0 },
    };
    optind = 1;
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        if (c == 'f' && strcmp (optarg, "table") == 0)
            fmt = S_TABLE;
        else if (c == 'f' && strcmp (optarg, "csv") == 0)
            fmt = S_CSV;
        else if (c == 'f' && strcmp (optarg, "json") == 0)
            fmt = S_JSON;
        else if (c == 'd' && s_long_arg (optarg, 1, 3650, &days))
            continue;
        else if (c == 'n' && s_long_arg (optarg, 0, 100000, &debtors))
            continue;
        else {
            fprintf (stderr, "hkctl: report aging [--format table|csv|json] [--days 1..3650]"
                             " [--debtors 0..100000]\n");
            return 2;
        }
    }
    const char *tenant = getenv ("HUIKUAN_TENANT");
    if (!tenant || !*tenant)
        tenant = "default";
    json_object *out = json_object_new_object ();
    if (fmt == S_CSV)
        printf ("section,key,currency,invoices,outstanding,expected_recoverable\n");
    int rc = s_report_section (
        db, tenant, "bucket",
        "SELECT coalesce (bucket, 'not aged'), currency, count (*), sum (outstanding_minor),"
        " sum (coalesce (expected_recoverable_minor, 0)) FROM invoice"
        " WHERE tenant = $1 AND status = 'open' GROUP BY 1, 2"
        " ORDER BY bool_and (bucket IS NULL) DESC, max (due_on) DESC, 2", /* youngest first */
        fmt, out);
    rc |= s_report_section (
        db, tenant, "grade",
        "SELECT coalesce (grade::text, 'not graded'), currency, count (*), sum (outstanding_minor),"
        " sum (coalesce (expected_recoverable_minor, 0)) FROM invoice"
        " WHERE tenant = $1 AND status = 'open' GROUP BY 1, 2 ORDER BY 1 DESC, 2",
        fmt, out);
    /* R-A3 per debtor, R-A4 order: the debtors who come first, each currency a row */
    char debtor_sql[768];
    snprintf (debtor_sql, sizeof debtor_sql,
              "WITH top AS (SELECT debtor_id, priority FROM debtor WHERE tenant = $1"
              "  AND EXISTS (SELECT 1 FROM invoice i WHERE i.tenant = debtor.tenant"
              "   AND i.debtor_id = debtor.debtor_id AND i.status = 'open')"
              "  ORDER BY priority DESC NULLS LAST, debtor_id LIMIT %ld)"
              " SELECT i.debtor_id, i.currency, count (*), sum (i.outstanding_minor),"
              "  sum (coalesce (i.expected_recoverable_minor, 0))"
              " FROM invoice i JOIN top USING (debtor_id)"
              " WHERE i.tenant = $1 AND i.status = 'open' GROUP BY 1, 2"
              " ORDER BY max (top.priority) DESC NULLS LAST, 1, 2",
              debtors);
    rc |= s_report_section (db, tenant, "debtor", debtor_sql, fmt, out);
    /* DSO = receivables / credit sales of the last N days x N (per currency), by the fleet
     * clock; the formula lives in the aging logic (hk_dso). */
    hk_clock_t *clock = hk_clock_new ();
    if (clock && hk_clock_refresh (clock, db) == 0) {
        char now[40], days_s[16];
        hk_time_format (hk_clock_now (clock), now, sizeof now);
        snprintf (days_s, sizeof days_s, "%ld", days);
        const char *p[] = { tenant, now, days_s };
        PGresult *res = hk_db_query (
            db,
            "SELECT currency,"
            " sum (outstanding_minor) FILTER (WHERE status = 'open'),"
            " sum (amount_minor) FILTER (WHERE issued_on > ($2::timestamptz - $3::int"
            "      * interval '1 day')::date AND issued_on <= $2::timestamptz::date)"
            " FROM invoice WHERE tenant = $1 GROUP BY 1 ORDER BY 1",
            3, p);
        json_object *arr = json_object_new_array ();
        if (fmt == S_TABLE)
            printf ("DSO over the last %ld days\n", days);
        for (int r = 0; res && r < PQntuples (res); r++) {
            int64_t dso = hk_dso (strtoll (PQgetvalue (res, r, 1), NULL, 10),
                                  strtoll (PQgetvalue (res, r, 2), NULL, 10), (int32_t) days);
            char text[32];
            if (dso < 0)
                snprintf (text, sizeof text, "n/a");
            else
                snprintf (text, sizeof text, "%lld.%02lld", (long long) (dso / 100),
                          (long long) (dso % 100));
            const char *cur = PQgetvalue (res, r, 0);
            if (fmt == S_TABLE)
                printf ("  %-4s %s days\n", cur, text);
            else if (fmt == S_CSV)
                printf ("dso,%ld days,%s,,%s,\n", days, cur, text);
            json_object *row = json_object_new_object ();
            json_object_object_add (row, "currency", json_object_new_string (cur));
            json_object_object_add (row, "days", json_object_new_int64 (days));
            json_object_object_add (row, "dso", json_object_new_string (text));
            json_object_array_add (arr, row);
        }
        json_object_object_add (out, "dso", arr);
        PQclear (res);
    }
    hk_clock_destroy (&clock);
    if (fmt == S_JSON)
        printf ("%s\n", json_object_to_json_string_ext (out, JSON_C_TO_STRING_PRETTY));
    json_object_put (out);
    return rc;
}

static int
s_bus_endpoints (hk_db_t *db)
{
    PGresult *res = hk_db_query (db,
                                 "SELECT bus_endpoint FROM fleet_instance"
                                 " WHERE bus_endpoint IS NOT NULL ORDER BY instance",
                                 0, NULL);
    if (!res) {
        fprintf (stderr, "hkctl: %s\n", hk_db_errstr (db));
        return 1;
    }
    for (int i = 0; i < PQntuples (res); i++)
        printf ("%s\n", PQgetvalue (res, i, 0));
    PQclear (res);
    return 0;
}

int
main (int argc, char **argv)
{
    const char *url = getenv ("HUIKUAN_DATABASE_URL");
    if (!url || !*url)
        url = "postgresql:///huikuan";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0) {
            s_usage (stdout);
            return 0;
        }
        else if (strcmp (argv[i], "--database-url") == 0 && i + 1 < argc)
            url = argv[++i];
        else {
            fprintf (stderr, "hkctl: unknown option %s\n", argv[i]);
            s_usage (stderr);
            return 2;
        }
    }
    if (i >= argc) {
        s_usage (stderr);
        return 2;
    }
    const char *cmd = argv[i++];
    hk_log_init ("hkctl", HK_WARN, false);
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigemptyset (&sa.sa_mask);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);
    if (strcmp (cmd, "ingest") == 0)
        return s_ingest (argc - i, argv + i);
    bool known = strcmp (cmd, "migrate") == 0 || strcmp (cmd, "clock") == 0
                 || strcmp (cmd, "events") == 0 || strcmp (cmd, "status") == 0
                 || strcmp (cmd, "bus") == 0 || strcmp (cmd, "report") == 0
                 || strcmp (cmd, "plan") == 0 || strcmp (cmd, "why") == 0;
    if (!known) {
        fprintf (stderr, "hkctl: unknown command '%s'\n", cmd);
        s_usage (stderr);
        return 2;
    }
    /* Arguments are checked before connecting, so a typo is named as such. */
    if (strcmp (cmd, "clock") == 0 && i + 1 < argc) {
        int64_t us;
        if (strcmp (argv[i], "set") == 0 && hk_time_parse (argv[i + 1], &us) != 0) {
            fprintf (stderr, "hkctl: clock set needs a time with offset, e.g. "
                             "2026-03-01T00:00:00+08:00 (got \"%s\")\n", argv[i + 1]);
            return 2;
        }
        if (strcmp (argv[i], "advance") == 0
            && (hk_duration_parse (argv[i + 1], &us) != 0 || us < 0)) {
            fprintf (stderr, "hkctl: clock advance needs a positive duration, e.g. 3d, 2h30m "
                             "(got \"%s\")\n", argv[i + 1]);
            return 2;
        }
    }
    hk_db_t *db = s_connect (url);
    if (!db)
        return 1;
    int rc;
    if (strcmp (cmd, "migrate") == 0) {
        int applied = hk_migrate (db);
        if (applied < 0)
            fprintf (stderr, "hkctl: migrate failed: %s\n", hk_db_errstr (db));
        else
            printf ("applied %d migration(s); schema version %d\n", applied, hk_migrate_version (db));
        rc = applied < 0;
    }
    else if (strcmp (cmd, "clock") == 0)
        rc = s_clock (db, argc - i, argv + i);
    else if (strcmp (cmd, "events") == 0) {
        if (i >= argc || strcmp (argv[i], "tail") != 0) {
            fprintf (stderr, "hkctl: events needs 'tail'\n");
            rc = 2;
        }
        else
            rc = s_events_tail (db, argc - i, argv + i);
    }
    else if (strcmp (cmd, "status") == 0)
        rc = s_status (db);
    else if (strcmp (cmd, "plan") == 0)
        rc = hkctl_plan (db, argc - i + 1, argv + i - 1);
    else if (strcmp (cmd, "why") == 0)
        rc = hkctl_why (db, argc - i + 1, argv + i - 1);
    else if (strcmp (cmd, "report") == 0) {
        if (i < argc && strcmp (argv[i], "strategy") == 0)
            rc = hkctl_report_strategy (db, argc - i, argv + i);
        else if (i >= argc || strcmp (argv[i], "aging") != 0) {
            fprintf (stderr, "hkctl: report needs 'aging' or 'strategy'\n");
            rc = 2;
        }
        else
            rc = s_report_aging (db, argc - i, argv + i);
    }
    else {
        if (i >= argc || strcmp (argv[i], "endpoints") != 0) {
            fprintf (stderr, "hkctl: bus needs 'endpoints'\n");
            rc = 2;
        }
        else
            rc = s_bus_endpoints (db);
    }
    hk_db_destroy (&db);
    return rc;
}
