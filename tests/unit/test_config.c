/* Self-test of config: defaults, the file format, environment precedence, validation errors
 * with their location, ranges, reload of reloadable keys only, redaction. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "huikuan/config.h"
#include "huikuan/errcodes.h"
#include "huikuan/log.h"

extern char **environ;

static const hk_cfg_entry_t s_table[] = {
    { "batch_size", HK_CFG_INT, "500", 1, 1000, 0, NULL, "rows per transaction" },
    { "api_token", HK_CFG_STRING, "", 0, 0, HK_CFG_SENSITIVE, NULL, "token of the API" },
    { "smtp_url", HK_CFG_STRING, "smtp://mailer:pw@mail:25", 0, 0, HK_CFG_SENSITIVE, NULL,
      "SMTP server" },
    { "dry_run", HK_CFG_BOOL, "false", 0, 0, 0, NULL, "do not send anything" },
    { "window", HK_CFG_DURATION, "5m", 1000000, 3600000000LL, 0, NULL, "a window" },
    { "greeting", HK_CFG_STRING, "hello", 0, 0, 0, NULL, "free text" },
    { "run_dir", HK_CFG_STRING, "/srv/huikuan", 0, 0, HK_CFG_NORELOAD, NULL,
      "overrides the shared default" },
    { 0 },
};

static void
s_write (const char *path, const char *text)
{
    FILE *f = fopen (path, "w");
    if (f) {
        fputs (text, f);
        fclose (f);
    }
}

/* Removes every HUIKUAN_* variable so the test sees only its own. */
static void
s_clear_env (void)
{
    bool again = true;
    while (again) {
        again = false;
        for (char **e = environ; e && *e; e++)
            if (strncmp (*e, "HUIKUAN_", 8) == 0) {
                char name[256];
                size_t n = strcspn (*e, "=");
                snprintf (name, sizeof name, "%.*s", (int) n, *e);
                unsetenv (name);
                again = true;
                break;
            }
    }
}

/* Loads text as a config file into a fresh config; returns the load's code, err filled. */
static int
s_try (const char *path, const char *text, char *err, size_t errlen)
{
    const hk_cfg_entry_t *const tables[] = { hk_config_common, s_table, NULL };
    hk_config_t *cfg = hk_config_new ("selftest", tables);
    s_write (path, text);
    int rc = hk_config_load (cfg, path, err, errlen);
    hk_config_destroy (&cfg);
    return rc;
}

static int
s_redaction (bool verbose)
{
    int failures = 0;
    const hk_cfg_entry_t *redis = NULL, *db = NULL, *bus = NULL;
    for (const hk_cfg_entry_t *e = hk_config_common; e->name; e++) {
        if (strcmp (e->name, "redis_url") == 0)
            redis = e;
        else if (strcmp (e->name, "database_url") == 0)
            db = e;
        else if (strcmp (e->name, "bus_bind") == 0)
            bus = e;
    }
    CHECK (redis && db && bus);
    if (!redis || !db || !bus)
        return failures;
    char buf[256];
    hk_config_redact (redis, "redis://:s3cret@cache:6379", buf, sizeof buf);
    CHECK_STR (buf, "redis://:********@cache:6379");
    hk_config_redact (redis, "redis://default:s3cret@cache:6379/2", buf, sizeof buf);
    CHECK_STR (buf, "redis://default:********@cache:6379/2");
    hk_config_redact (redis, "redis://s3cret@cache:6379", buf, sizeof buf);
    CHECK_STR (buf, "redis://********@cache:6379");
    hk_config_redact (redis, "redis://127.0.0.1:6379", buf, sizeof buf);
    CHECK_STR (buf, "redis://127.0.0.1:6379");
    hk_config_redact (db, "postgresql://app:pa:ss@db.internal:5432/huikuan", buf, sizeof buf);
    CHECK_STR (buf, "postgresql://app:********@db.internal:5432/huikuan");
    hk_config_redact (db, "postgresql://app@db/huikuan", buf, sizeof buf);
    CHECK_STR (buf, "postgresql://app@db/huikuan");
    hk_config_redact (db, "postgresql:///huikuan", buf, sizeof buf);
    CHECK_STR (buf, "postgresql:///huikuan");
    hk_config_redact (db, "postgresql://db/huikuan?user=app&password=pw&sslmode=require", buf,
                      sizeof buf);
    CHECK_STR (buf, "postgresql://db/huikuan?user=app&password=********&sslmode=require");
    /* '@' in what looks like the path: a password with '/' in it; hide everything */
    hk_config_redact (redis, "redis://:pa/ss@cache:6379", buf, sizeof buf);
    CHECK_STR (buf, "********");
    hk_config_redact (db, "host=db password=pw", buf, sizeof buf);
    CHECK_STR (buf, "********");
    hk_config_redact (db, "", buf, sizeof buf);
    CHECK_STR (buf, "");
    /* not sensitive, but a URL password is hidden all the same */
    hk_config_redact (bus, "tcp://user:pw@host:5555", buf, sizeof buf);
    CHECK_STR (buf, "tcp://user:********@host:5555");
    hk_config_redact (bus, "tcp://127.0.0.1:*", buf, sizeof buf);
    CHECK_STR (buf, "tcp://127.0.0.1:*");
    hk_config_redact (NULL, "plain", buf, sizeof buf);
    CHECK_STR (buf, "plain");
    /* a short buffer cuts the shown text, never reveals the secret */
    char small[16];
    hk_config_redact (redis, "redis://:verysecretpassword@cache:6379", small, sizeof small);
    CHECK (strstr (small, "very") == NULL);
    CHECK (strlen (small) == sizeof small - 1);
    if (verbose)
        printf ("  redaction ok\n");
    return failures;
}

int
hk_config_test (bool verbose)
{
    int failures = 0;
    char err[512];
    char path[] = "/tmp/hk_config_test_XXXXXX";
    int fd = mkstemp (path);
    CHECK (fd >= 0);
    if (fd < 0)
        return failures;
    close (fd);
    s_clear_env ();
    /* Reload messages go to a file the test reads. */
    FILE *logf = tmpfile ();
    hk_log_set_stream (logf);

    /* The shared table: the agreed keys, each with help. */
    const char *expected[] = { "instance", "database_url", "redis_url", "bus_bind",
                               "advertise_host", "http_listen", "log_level", "log_format",
                               "tenant", "tenant_time_zone", "tick", "run_dir", "migrate_on_start",
                               "stats_period", "claim_idle", "housekeeping_interval",
                               "stream_retention", "outbox_retention", "dedup_retention",
                               "instance_expiry" };
    size_t nkeys = 0;
    for (const hk_cfg_entry_t *e = hk_config_common; e->name; e++, nkeys++) {
        CHECK (nkeys < sizeof expected / sizeof expected[0]);
        if (nkeys < sizeof expected / sizeof expected[0])
            CHECK_STR (e->name, expected[nkeys]);
        CHECK (e->help && *e->help);
        if (strcmp (e->name, "database_url") == 0 || strcmp (e->name, "redis_url") == 0)
            CHECK_INT (e->flags, HK_CFG_SENSITIVE | HK_CFG_NORELOAD);
        if (strcmp (e->name, "log_level") == 0 || strcmp (e->name, "tick") == 0)
            CHECK_INT (e->flags, 0);
    }
    CHECK_INT (nkeys, sizeof expected / sizeof expected[0]);

    /* Defaults */
    const hk_cfg_entry_t *const tables[] = { hk_config_common, s_table, NULL };
    hk_config_t *cfg = hk_config_new ("selftest", tables);
    CHECK (cfg != NULL);
    CHECK_INT (hk_config_load (cfg, NULL, err, sizeof err), 0);
    CHECK_STR (hk_config_str (cfg, "instance"), "");
    CHECK_STR (hk_config_str (cfg, "database_url"), "postgresql:///huikuan");
    CHECK_STR (hk_config_str (cfg, "redis_url"), "redis://127.0.0.1:6379");
    CHECK_STR (hk_config_str (cfg, "bus_bind"), "tcp://127.0.0.1:*");
    CHECK_STR (hk_config_str (cfg, "http_listen"), "127.0.0.1:0");
    CHECK_STR (hk_config_str (cfg, "log_level"), "info");
    CHECK_STR (hk_config_str (cfg, "log_format"), "text");
    CHECK_STR (hk_config_str (cfg, "tenant"), "default");
    CHECK_STR (hk_config_str (cfg, "tenant_time_zone"), "Asia/Shanghai");
    CHECK_INT (hk_config_int (cfg, "tick"), 100000);
    CHECK_STR (hk_config_str (cfg, "tick"), "100ms");
    CHECK_STR (hk_config_str (cfg, "run_dir"), "/srv/huikuan"); /* later table wins */
    CHECK (hk_config_bool (cfg, "migrate_on_start"));
    CHECK_INT (hk_config_int (cfg, "stats_period"), 60000000);
    CHECK_INT (hk_config_int (cfg, "claim_idle"), 30000000);
    CHECK_INT (hk_config_int (cfg, "batch_size"), 500);
    CHECK (!hk_config_bool (cfg, "dry_run"));
    CHECK_INT (hk_config_int (cfg, "window"), 300000000);
#ifdef NDEBUG
    CHECK_STR (hk_config_str (cfg, "no_such_key"), "");
    CHECK_INT (hk_config_int (cfg, "no_such_key"), 0);
#endif

    /* File: comments, blanks, quotes, a BOM, spaces around '=' */
    s_write (path, "\xEF\xBB\xBF# huikuan test\n"
                   "\n"
                   "   # indented comment\n"
                   "tick = 250ms\n"
                   "batch_size=42\n"
                   "  dry_run   =   yes  \n"
                   "greeting = \"  two words # not a comment \\\"quoted\\\" \"\n"
                   "api_token = abc#def\n"
                   "database_url = postgresql://app:pw@db/huikuan\n"
                   "tenant = acme\n"
                   "instance = aging-7\n"
                   "window = 1h\n"
                   "tick = 200ms\n");
    CHECK_INT (hk_config_load (cfg, path, err, sizeof err), 0);
    if (*err)
        fprintf (stderr, "  load: %s\n", err);
    CHECK_INT (hk_config_int (cfg, "tick"), 200000);   /* the later line wins */
    CHECK_INT (hk_config_int (cfg, "batch_size"), 42);
    CHECK (hk_config_bool (cfg, "dry_run"));
    CHECK_STR (hk_config_str (cfg, "greeting"), "  two words # not a comment \"quoted\" ");
    CHECK_STR (hk_config_str (cfg, "api_token"), "abc#def");
    CHECK_STR (hk_config_str (cfg, "tenant"), "acme");
    CHECK_STR (hk_config_str (cfg, "instance"), "aging-7");
    CHECK_INT (hk_config_int (cfg, "window"), 3600000000LL);

    /* Environment: HUIKUAN_SELFTEST_<KEY> over HUIKUAN_<KEY> over the file; HUIKUAN_<KEY>
     * only for shared keys. */
    setenv ("HUIKUAN_TICK", "300ms", 1);
    CHECK_INT (hk_config_load (cfg, path, err, sizeof err), 0);
    CHECK_INT (hk_config_int (cfg, "tick"), 300000);
    setenv ("HUIKUAN_SELFTEST_TICK", "400ms", 1);
    CHECK_INT (hk_config_load (cfg, path, err, sizeof err), 0);
    CHECK_INT (hk_config_int (cfg, "tick"), 400000);
    setenv ("HUIKUAN_BATCH_SIZE", "7", 1);
    CHECK_INT (hk_config_load (cfg, path, err, sizeof err), 0);
    CHECK_INT (hk_config_int (cfg, "batch_size"), 42);
    setenv ("HUIKUAN_SELFTEST_BATCH_SIZE", "8", 1);
    CHECK_INT (hk_config_load (cfg, path, err, sizeof err), 0);
    CHECK_INT (hk_config_int (cfg, "batch_size"), 8);
    setenv ("HUIKUAN_SELFTEST_GREETING", "", 1);   /* set but empty: empty */
    CHECK_INT (hk_config_load (cfg, path, err, sizeof err), 0);
    CHECK_STR (hk_config_str (cfg, "greeting"), "");
    /* a bad environment value names the variable */
    setenv ("HUIKUAN_SELFTEST_TICK", "2m", 1);
    CHECK_INT (hk_config_load (cfg, path, err, sizeof err), HK_ECONFIG);
    CHECK_STR (err, "HUIKUAN_SELFTEST_TICK: tick: 2m is outside 1ms..1m");
    CHECK_INT (hk_config_int (cfg, "tick"), 400000);   /* failed load: nothing changed */
    s_clear_env ();

    /* Bad files: the message names file:line and key */
    char want[600];
    CHECK_INT (s_try (path, "tick = 1s\n\nbogus = 1\n", err, sizeof err), HK_ECONFIG);
    snprintf (want, sizeof want, "%s:3: bogus: unknown key (see --help for the keys)", path);
    CHECK_STR (err, want);
    CHECK_INT (s_try (path, "tick 1s\n", err, sizeof err), HK_ECONFIG);
    snprintf (want, sizeof want, "%s:1: expected \"key = value\"", path);
    CHECK_STR (err, want);
    CHECK_INT (s_try (path, " = 1s\n", err, sizeof err), HK_ECONFIG);
    CHECK (strstr (err, ":1: missing key") != NULL);
    CHECK_INT (s_try (path, "greeting = \"open\n", err, sizeof err), HK_ECONFIG);
    CHECK (strstr (err, ":1: greeting: unterminated") != NULL);
    CHECK_INT (s_try (path, "# c\ntick = 0ms\n", err, sizeof err), HK_ECONFIG);
    snprintf (want, sizeof want, "%s:2: tick: 0ms is outside 1ms..1m", path);
    CHECK_STR (err, want);
    CHECK_INT (s_try (path, "tick = fast\n", err, sizeof err), HK_ECONFIG);
    CHECK (strstr (err, ":1: tick: \"fast\" is not a duration") != NULL);
    CHECK_INT (s_try (path, "tick = 100\n", err, sizeof err), HK_ECONFIG);   /* no unit */
    CHECK_INT (s_try (path, "batch_size = 1001\n", err, sizeof err), HK_ECONFIG);
    CHECK (strstr (err, "batch_size: 1001 is outside 1..1000") != NULL);
    CHECK_INT (s_try (path, "batch_size = 12x\n", err, sizeof err), HK_ECONFIG);
    CHECK (strstr (err, "batch_size: \"12x\" is not an integer") != NULL);
    CHECK_INT (s_try (path, "batch_size = 99999999999999999999\n", err, sizeof err), HK_ECONFIG);
    CHECK_INT (s_try (path, "migrate_on_start = maybe\n", err, sizeof err), HK_ECONFIG);
    CHECK (strstr (err, "migrate_on_start: \"maybe\" is not a boolean") != NULL);
    CHECK_INT (s_try (path, "log_level = verbose\n", err, sizeof err), HK_ECONFIG);
    CHECK (strstr (err, "log_level: must be one of debug, info, warn, error") != NULL);
    CHECK_INT (s_try (path, "log_format = xml\n", err, sizeof err), HK_ECONFIG);
    CHECK (strstr (err, "log_format: must be text or json") != NULL);
    CHECK_INT (s_try (path, "advertise_host = tcp://node-7:5555\n", err, sizeof err),
               HK_ECONFIG);
    CHECK (strstr (err, ":1: advertise_host: a host name or address") != NULL);
    CHECK_INT (s_try (path, "advertise_host = [fd00::4]\n", err, sizeof err), 0);
    CHECK_INT (s_try (path, "advertise_host = node-7.example.cn\n", err, sizeof err), 0);
    CHECK_INT (s_try (path, "tenant_time_zone = Mars/Olympus\n", err, sizeof err), HK_ECONFIG);
    CHECK (strstr (err, "tenant_time_zone: unknown time zone") != NULL);
    CHECK_INT (s_try (path, "tenant_time_zone = Europe/Berlin\n", err, sizeof err), 0);
    CHECK_INT (s_try (path, "tenant = \n", err, sizeof err), HK_ECONFIG);
    CHECK_INT (s_try (path, "instance = has space\n", err, sizeof err), HK_ECONFIG);
    CHECK_INT (s_try (path, "http_listen = 127.0.0.1:99999\n", err, sizeof err), HK_ECONFIG);
    CHECK_INT (s_try (path, "http_listen = off\n", err, sizeof err), 0);
    CHECK_INT (s_try (path, "http_listen = [::1]:9101\n", err, sizeof err), 0);
    /* ranges: both ends included */
    CHECK_INT (s_try (path, "stats_period = 1d\nclaim_idle = 100ms\ntick = 60s\n", err,
                      sizeof err), 0);
    CHECK_INT (s_try (path, "stats_period = 1s\ntick = 1ms\n", err, sizeof err), 0);
    CHECK_INT (s_try (path, "stats_period = 2d\n", err, sizeof err), HK_ECONFIG);
    CHECK (strstr (err, "stats_period: 2d is outside 1s..1d") != NULL);
    CHECK_INT (s_try (path, "stats_period = 999ms\n", err, sizeof err), HK_ECONFIG);
    CHECK_INT (s_try (path, "claim_idle = 99ms\n", err, sizeof err), HK_ECONFIG);
    CHECK (strstr (err, "claim_idle: 99ms is outside 100ms..1d") != NULL);
    CHECK_INT (s_try (path, "window = 999ms\n", err, sizeof err), HK_ECONFIG);
    CHECK_INT (hk_config_load (cfg, "/nonexistent/huikuan.conf", err, sizeof err), HK_ECONFIG);
    CHECK_STR (err, "/nonexistent/huikuan.conf: cannot open: No such file or directory");

    /* Reload: only reloadable keys change; NORELOAD keys keep their value until restart */
    s_write (path, "tick = 200ms\nlog_level = info\ntenant = acme\nbatch_size = 10\n");
    CHECK_INT (hk_config_load (cfg, path, err, sizeof err), 0);
    const char *tenant = hk_config_str (cfg, "tenant");
    CHECK_INT (hk_config_reload (cfg, err, sizeof err), 0);   /* nothing changed */
    s_write (path, "tick = 500ms\nlog_level = debug\ntenant = other\nbatch_size = 10\n"
                   "stats_period = 60s\n");
    CHECK_INT (hk_config_reload (cfg, err, sizeof err), 2);
    CHECK_INT (hk_config_int (cfg, "tick"), 500000);
    CHECK_STR (hk_config_str (cfg, "log_level"), "debug");
    CHECK_STR (hk_config_str (cfg, "tenant"), "acme");
    CHECK (hk_config_str (cfg, "tenant") == tenant);   /* unchanged strings stay put */
    /* the same value written differently is no change */
    s_write (path, "tick = 500ms\nlog_level = debug\ntenant = other\nbatch_size = 10\n"
                   "stats_period = 1m\n");
    CHECK_INT (hk_config_reload (cfg, err, sizeof err), 0);
    /* a bad file keeps every old value */
    s_write (path, "tick = 700ms\nlog_level = loud\n");
    CHECK_INT (hk_config_reload (cfg, err, sizeof err), HK_ECONFIG);
    snprintf (want, sizeof want, "%s:2: log_level: must be one of debug, info, warn, error",
              path);
    CHECK_STR (err, want);
    CHECK_INT (hk_config_int (cfg, "tick"), 500000);
    CHECK_STR (hk_config_str (cfg, "log_level"), "debug");
    s_write (path, "tick = 700ms\nbogus = 1\n");
    CHECK_INT (hk_config_reload (cfg, err, sizeof err), HK_ECONFIG);
    CHECK_INT (hk_config_int (cfg, "tick"), 500000);
    /* environment is re-read too */
    s_write (path, "tick = 500ms\n");
    setenv ("HUIKUAN_SELFTEST_TICK", "50ms", 1);
    CHECK_INT (hk_config_reload (cfg, err, sizeof err), 3);   /* tick, log_level, batch_size */
    CHECK_INT (hk_config_int (cfg, "tick"), 50000);
    CHECK_INT (hk_config_int (cfg, "batch_size"), 500);
    s_clear_env ();
    char *logged = hk_test_take (logf);
    CHECK (logged && strstr (logged, "config.reload_ignored key=tenant") != NULL);
    CHECK (logged && strstr (logged, "config.changed key=tick value=500ms") != NULL);
    free (logged);

    /* Dump and help never show secrets */
    s_write (path, "database_url = postgresql://app:pw-db@db/huikuan\n"
                   "redis_url = redis://:pw-redis@cache:6379\n"
                   "api_token = pw-token\n"
                   "greeting = \" spaced \"\n");
    CHECK_INT (hk_config_load (cfg, path, err, sizeof err), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream (&text, &len);
    hk_config_dump (cfg, mem);
    fclose (mem);
    CHECK (text && strstr (text, "database_url = postgresql://app:********@db/huikuan\n"));
    CHECK (text && strstr (text, "redis_url = redis://:********@cache:6379\n"));
    CHECK (text && strstr (text, "api_token = ********\n"));
    CHECK (text && strstr (text, "smtp_url = smtp://mailer:********@mail:25\n"));
    CHECK (text && strstr (text, "greeting = \" spaced \"\n"));
    CHECK (text && strstr (text, "tick = 100ms\n"));
    CHECK (text && !strstr (text, "pw"));
    if (verbose && text)
        printf ("%s", text);
    free (text);
    mem = open_memstream (&text, &len);
    hk_config_help (cfg, mem);
    fclose (mem);
    CHECK (text && strstr (text, "tick"));
    CHECK (text && strstr (text, "[1ms..1m]"));
    CHECK (text && strstr (text, "[1..1000]"));
    CHECK (text && strstr (text, "main loop pause"));
    CHECK (text && strstr (text, "(restart to change)"));
    CHECK (text && !strstr (text, ":pw@"));
    if (verbose && text)
        printf ("%s", text);
    free (text);
    hk_config_destroy (&cfg);
    CHECK (cfg == NULL);
    hk_config_destroy (&cfg);   /* NULL is fine */

    failures += s_redaction (verbose);

    hk_log_set_stream (NULL);
    fclose (logf);
    unlink (path);
    return failures;
}
