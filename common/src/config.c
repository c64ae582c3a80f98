/* config: the per-daemon configuration table (STYLE 7). See config.h.
 *
 * Every key's value is kept twice: as text (what the operator wrote, or the table default)
 * and, for INT, DURATION and BOOL, as a number. A load reads everything into a candidate set
 * first (defaults, then the file, then the environment), validates every key, and only then
 * replaces the current values, so a failed load or reload never leaves a half-applied
 * configuration behind.
 *
 * File format: "key = value" lines; blank lines and lines whose first non-blank character is
 * '#' are ignored ('#' elsewhere is part of the value: passwords may contain it). Surrounding
 * blanks are trimmed; a value in double quotes keeps its blanks and may use \" and \\.
 * A key given twice: the later line wins. A key that no table knows is an error.
 *
 * When two tables name the same key, the later table's entry replaces the earlier one (a
 * daemon may override a shared default that way). */
#include "huikuan/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "huikuan/log.h"

#define S_REDACTED "********"

/* ---------------------------------------------------------------------------------------
 * Validators of the shared table */

static int
s_valid_log_level (const char *value, char *err, size_t errlen)
{
    hk_log_level_t level;
    if (hk_log_level_parse (value, &level) == 0)
        return 0;
    snprintf (err, errlen, "must be one of debug, info, warn, error");
    return -1;
}

static int
s_valid_log_format (const char *value, char *err, size_t errlen)
{
    if (strcmp (value, "text") == 0 || strcmp (value, "json") == 0)
        return 0;
    snprintf (err, errlen, "must be text or json");
    return -1;
}

static int
s_valid_time_zone (const char *value, char *err, size_t errlen)
{
    if (hk_tz_valid (value))
        return 0;
    snprintf (err, errlen, "unknown time zone (expected an IANA name such as Asia/Shanghai)");
    return -1;
}

/* At most max bytes of letters, digits and the characters of extra; otherwise err says so
 * (bad: what the value may contain). */
static int
s_check_chars (const char *value, size_t max, const char *extra, const char *bad, char *err,
               size_t errlen)
{
    size_t n = strlen (value);
    if (n > max) {
        snprintf (err, errlen, "too long (%zu bytes, at most %zu)", n, max);
        return -1;
    }
    for (const char *p = value; *p; p++)
        if (!isalnum ((unsigned char) *p) && !strchr (extra, *p)) {
            snprintf (err, errlen, "%s", bad);
            return -1;
        }
    return 0;
}

/* Names that end up in Redis keys, database rows and log lines: printable, no blanks. */
static int
s_check_name (const char *value, bool allow_empty, char *err, size_t errlen)
{
    if (!*value && !allow_empty) {
        snprintf (err, errlen, "must not be empty");
        return -1;
    }
    return s_check_chars (value, 100, "._-:@", "may only contain letters, digits and . _ - : @",
                          err, errlen);
}

/* A host name or address others can connect to: empty (this host's name), a DNS name, an
 * IPv4 address or an IPv6 literal, bracketed or not. */
static int
s_valid_host (const char *value, char *err, size_t errlen)
{
    return s_check_chars (value, 253, ".-:[]",
                          "a host name or address: letters, digits and . - : [ ] only", err,
                          errlen);
}

static int
s_valid_instance (const char *value, char *err, size_t errlen)
{
    return s_check_name (value, true, err, errlen);
}

static int
s_valid_tenant (const char *value, char *err, size_t errlen)
{
    return s_check_name (value, false, err, errlen);
}

/* "host:port", "[v6]:port", ":port", or "" / "off" to disable. */
static int
s_valid_listen (const char *value, char *err, size_t errlen)
{
    if (*value == 0 || strcmp (value, "off") == 0)
        return 0;
    const char *colon = strrchr (value, ':');
    if (!colon) {
        snprintf (err, errlen, "expected host:port (port 0 for any), or off");
        return -1;
    }
    if (value[0] == '[' && colon[-1] != ']') {
        snprintf (err, errlen, "expected [address]:port for IPv6");
        return -1;
    }
    const char *port = colon + 1;
    char *end;
    errno = 0;
    long n = strtol (port, &end, 10);
    if (!*port || *end || errno || n < 0 || n > 65535 || !isdigit ((unsigned char) *port)) {
        snprintf (err, errlen, "port must be a number from 0 to 65535");
        return -1;
    }
    return 0;
}

#define S_MS  INT64_C (1000)
#define S_SEC INT64_C (1000000)
#define S_DAY (INT64_C (86400) * S_SEC)

const hk_cfg_entry_t hk_config_common[] = {
    { "instance", HK_CFG_STRING, "", 0, 0, HK_CFG_NORELOAD, s_valid_instance,
      "unique name of this instance (empty: <kind>-<hostname>-<pid>)" },
    { "database_url", HK_CFG_STRING, "postgresql:///huikuan", 0, 0,
      HK_CFG_SENSITIVE | HK_CFG_NORELOAD, NULL, "PostgreSQL connection URI" },
    { "redis_url", HK_CFG_STRING, "redis://127.0.0.1:6379", 0, 0,
      HK_CFG_SENSITIVE | HK_CFG_NORELOAD, NULL,
      "Redis server URL (redis://[:password@]host:port[/db])" },
    { "bus_bind", HK_CFG_STRING, "tcp://127.0.0.1:*", 0, 0, HK_CFG_NORELOAD, NULL,
      "ZeroMQ endpoint the event publisher binds to" },
    { "advertise_host", HK_CFG_STRING, "", 0, 0, HK_CFG_NORELOAD, s_valid_host,
      "host name or address announced for a wildcard bus_bind or http_listen (empty: this"
      " host's name)" },
    { "http_listen", HK_CFG_STRING, "127.0.0.1:0", 0, 0, HK_CFG_NORELOAD, s_valid_listen,
      "host:port of /healthz, /readyz and /metrics (port 0: any free port; off: none)" },
    { "log_level", HK_CFG_STRING, "info", 0, 0, 0, s_valid_log_level,
      "lowest level logged: debug, info, warn or error" },
    { "log_format", HK_CFG_STRING, "text", 0, 0, 0, s_valid_log_format,
      "log line format: text (key=value) or json (one object per line)" },
    { "tenant", HK_CFG_STRING, "default", 0, 0, HK_CFG_NORELOAD, s_valid_tenant,
      "tenant whose receivables this instance works on" },
    { "tenant_time_zone", HK_CFG_STRING, "Asia/Shanghai", 0, 0, HK_CFG_NORELOAD,
      s_valid_time_zone, "IANA time zone of the tenant's business day" },
    { "tick", HK_CFG_DURATION, "100ms", 1 * S_MS, 60 * S_SEC, 0, NULL,
      "main loop pause when there is no work" },
    { "run_dir", HK_CFG_STRING, "run", 0, 0, HK_CFG_NORELOAD, NULL,
      "folder for the instance's working files" },
    { "migrate_on_start", HK_CFG_BOOL, "true", 0, 0, HK_CFG_NORELOAD, NULL,
      "apply pending schema migrations at start" },
    { "stats_period", HK_CFG_DURATION, "60s", 1 * S_SEC, S_DAY, 0, NULL,
      "interval between one-line stats summaries in the log" },
    { "claim_idle", HK_CFG_DURATION, "30s", 100 * S_MS, S_DAY, 0, NULL,
      "stream messages pending this long on a dead consumer are claimed by another" },
    { "housekeeping_interval", HK_CFG_DURATION, "60s", 0, S_DAY, 0, NULL,
      "how often one instance of the fleet applies the retention settings (0: never)" },
    { "stream_retention", HK_CFG_DURATION, "24h", 0, 3650 * S_DAY, 0, NULL,
      "Redis stream entries every consumer group acknowledged are kept this long" },
    { "outbox_retention", HK_CFG_DURATION, "7d", 60 * S_SEC, 3650 * S_DAY, 0, NULL,
      "published outbox events are kept this long (the bus catches up from them)" },
    { "dedup_retention", HK_CFG_DURATION, "30d", 3600 * S_SEC, 3650 * S_DAY, 0, NULL,
      "records of consumed events (deduplication) are kept this long" },
    { "instance_expiry", HK_CFG_DURATION, "2m", 15 * S_SEC, S_DAY, 0, NULL,
      "an instance silent this long (no heartbeat) is removed from fleet_instance" },
    { 0 },
};

/* ---------------------------------------------------------------------------------------
 * The object */

typedef struct {
    const hk_cfg_entry_t *entry;
    bool shared;      /* from hk_config_common: HUIKUAN_<KEY> applies too */
    char *value;      /* current text; owned */
    int64_t number;   /* INT, DURATION (us), BOOL (0/1) */
} cfg_key_t;

/* One key's value while a load is in progress. */
typedef struct {
    char *value;      /* owned */
    int64_t number;
    char where[256];  /* "default", "file:line" or the environment variable */
} cfg_candidate_t;

struct hk_config {
    char *daemon;
    char *env_prefix;   /* "HUIKUAN_AGING_" */
    char *file;         /* from the last load, for reloads; NULL: none */
    size_t count;
    cfg_key_t *keys;
};

static const char *
s_type_name (hk_cfg_type_t type)
{
    switch (type) {
    case HK_CFG_STRING: return "string";
    case HK_CFG_INT: return "integer";
    case HK_CFG_BOOL: return "bool";
    case HK_CFG_DURATION: return "duration";
    default: return "?";
    }
}

/* Shortest exact spelling of a duration: "1d", "90s", "100ms". */
static void
s_duration_format (int64_t us, char *buf, size_t len)
{
    static const struct {
        int64_t us;
        const char *unit;
    } units[] = {
        { 7 * S_DAY, "w" },         { S_DAY, "d" },  { INT64_C (3600) * S_SEC, "h" },
        { INT64_C (60) * S_SEC, "m" }, { S_SEC, "s" }, { S_MS, "ms" },
    };
    if (us != 0)
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (us % units[i].us == 0) {
                snprintf (buf, len, "%" PRId64 "%s", us / units[i].us, units[i].unit);
                return;
            }
    snprintf (buf, len, "%" PRId64 "us", us);
}

static char *
s_strdup (const char *s)
{
    return strdup (s ? s : "");
}

static bool
s_has_range (const hk_cfg_entry_t *e)
{
    return !(e->min == 0 && e->max == 0);
}

/* Parses and checks one value against its entry. Returns 0, or -1 with a reason. */
static int
s_check (const hk_cfg_entry_t *e, const char *value, int64_t *number, char *reason,
         size_t rlen)
{
    *number = 0;
    switch (e->type) {
    case HK_CFG_STRING:
        break;
    case HK_CFG_INT: {
        char *end;
        errno = 0;
        long long n = strtoll (value, &end, 10);
        if (!*value || *end || isspace ((unsigned char) *value)) {
            snprintf (reason, rlen, "\"%s\" is not an integer", value);
            return -1;
        }
        if (errno == ERANGE) {
            snprintf (reason, rlen, "%s is out of range", value);
            return -1;
        }
        if (s_has_range (e) && (n < e->min || n > e->max)) {
            snprintf (reason, rlen, "%lld is outside %" PRId64 "..%" PRId64, n, e->min, e->max);
            return -1;
        }
        *number = n;
        break;
    }
    case HK_CFG_BOOL: {
        static const char *const yes[] = { "true", "yes", "on", "1" };
        static const char *const no[] = { "false", "no", "off", "0" };
        bool found = false;
        for (size_t i = 0; i < 4 && !found; i++) {
            if (strcasecmp (value, yes[i]) == 0) {
                *number = 1;
                found = true;
            }
            else if (strcasecmp (value, no[i]) == 0) {
                *number = 0;
                found = true;
            }
        }
        if (!found) {
            snprintf (reason, rlen, "\"%s\" is not a boolean (true/false, yes/no, on/off, 1/0)",
                      value);
            return -1;
        }
        break;
    }
    case HK_CFG_DURATION: {
        int64_t us;
        if (hk_duration_parse (value, &us) != 0) {
            snprintf (reason, rlen,
                      "\"%s\" is not a duration (a number and unit: 500ms, 30s, 5m, 2h, 3d)",
                      value);
            return -1;
        }
        if (s_has_range (e) && (us < e->min || us > e->max)) {
            char lo[32], hi[32];
            s_duration_format (e->min, lo, sizeof lo);
            s_duration_format (e->max, hi, sizeof hi);
            snprintf (reason, rlen, "%s is outside %s..%s", value, lo, hi);
            return -1;
        }
        *number = us;
        break;
    }
    default:
        snprintf (reason, rlen, "unknown type in the config table");
        return -1;
    }
    if (e->validate) {
        char why[256] = "";
        if (e->validate (value, why, sizeof why) != 0) {
            snprintf (reason, rlen, "%s", *why ? why : "invalid value");
            return -1;
        }
    }
    return 0;
}

static ssize_t
s_find (const hk_config_t *self, const char *name)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->keys[i].entry->name, name) == 0)
            return (ssize_t) i;
    return -1;
}

hk_config_t *
hk_config_new (const char *daemon, const hk_cfg_entry_t *const *tables)
{
    hk_config_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->daemon = s_strdup (daemon);
    size_t total = 0;
    for (size_t t = 0; tables && tables[t]; t++)
        for (const hk_cfg_entry_t *e = tables[t]; e->name; e++)
            total++;
    self->keys = calloc (total ? total : 1, sizeof *self->keys);
    size_t plen = strlen ("HUIKUAN__") + strlen (self->daemon ? self->daemon : "") + 1;
    self->env_prefix = malloc (plen);
    if (!self->daemon || !self->keys || !self->env_prefix) {
        hk_config_destroy (&self);
        return NULL;
    }
    char *p = self->env_prefix + sprintf (self->env_prefix, "HUIKUAN_");
    for (const char *d = self->daemon; *d; d++)
        *p++ = isalnum ((unsigned char) *d) ? (char) toupper ((unsigned char) *d) : '_';
    strcpy (p, "_");

    for (size_t t = 0; tables && tables[t]; t++)
        for (const hk_cfg_entry_t *e = tables[t]; e->name; e++) {
            ssize_t at = s_find (self, e->name);
            cfg_key_t *k = at >= 0 ? &self->keys[at] : &self->keys[self->count++];
            free (k->value);
            k->entry = e;
            k->shared = tables[t] == hk_config_common;
            /* Until the first load the getters see the defaults. */
            k->value = s_strdup (e->default_value);
            if (!k->value) {
                hk_config_destroy (&self);
                return NULL;
            }
            char reason[64];
            if (s_check (e, k->value, &k->number, reason, sizeof reason) != 0)
                k->number = 0;
        }
    return self;
}

void
hk_config_destroy (hk_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hk_config_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        free (self->keys[i].value);
    free (self->keys);
    free (self->daemon);
    free (self->env_prefix);
    free (self->file);
    free (self);
    *self_p = NULL;
}

static void
s_candidates_free (cfg_candidate_t *cand, size_t n)
{
    if (!cand)
        return;
    for (size_t i = 0; i < n; i++)
        free (cand[i].value);
    free (cand);
}

static int
s_set (cfg_candidate_t *c, const char *value, size_t vlen, const char *where)
{
    char *copy = strndup (value, vlen);
    if (!copy)
        return HK_ENOMEM;
    free (c->value);
    c->value = copy;
    snprintf (c->where, sizeof c->where, "%s", where);
    return 0;
}

/* Unquotes a "..." value in place (\" and \\ escapes). Returns its new length, or -1 when
 * the closing quote is missing or another unescaped quote comes before the end. */
static ssize_t
s_unquote (char *v, size_t n)
{
    size_t out = 0;
    for (size_t i = 1; i < n; i++) {
        if (v[i] == '\\' && i + 1 < n && (v[i + 1] == '"' || v[i + 1] == '\\'))
            v[out++] = v[++i];
        else if (v[i] == '"') {
            if (i != n - 1)
                return -1;
            v[out] = 0;
            return (ssize_t) out;
        }
        else
            v[out++] = v[i];
    }
    return -1;
}

static int
s_read_file (hk_config_t *self, const char *file, cfg_candidate_t *cand, char *err,
             size_t errlen)
{
    FILE *f = fopen (file, "r");
    if (!f) {
        snprintf (err, errlen, "%s: cannot open: %s", file, strerror (errno));
        return HK_ECONFIG;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, rc = 0;
    while (rc == 0 && (got = getline (&line, &cap, f)) != -1) {
        lineno++;
        char *s = line;
        if (lineno == 1 && strncmp (s, "\xEF\xBB\xBF", 3) == 0)
            s += 3;   /* UTF-8 byte order mark */
        size_t n = strlen (s);
        if (n != (size_t) got - (size_t) (s - line)) {
            snprintf (err, errlen, "%s:%d: NUL byte in line", file, lineno);
            rc = HK_ECONFIG;
            break;
        }
        while (n && isspace ((unsigned char) s[n - 1]))
            s[--n] = 0;
        while (isspace ((unsigned char) *s))
            s++, n--;
        if (n == 0 || *s == '#')
            continue;
        char *eq = strchr (s, '=');
        if (!eq) {
            snprintf (err, errlen, "%s:%d: expected \"key = value\"", file, lineno);
            rc = HK_ECONFIG;
            break;
        }
        char *kend = eq;
        while (kend > s && isspace ((unsigned char) kend[-1]))
            kend--;
        *kend = 0;
        if (kend == s) {
            snprintf (err, errlen, "%s:%d: missing key before '='", file, lineno);
            rc = HK_ECONFIG;
            break;
        }
        ssize_t at = s_find (self, s);
        if (at < 0) {
            snprintf (err, errlen, "%s:%d: %s: unknown key (see --help for the keys)", file,
                      lineno, s);
            rc = HK_ECONFIG;
            break;
        }
        char *v = eq + 1;
        while (isspace ((unsigned char) *v))
            v++;
        ssize_t vlen = (ssize_t) strlen (v);
        if (*v == '"' && (vlen = s_unquote (v, (size_t) vlen)) < 0) {
            snprintf (err, errlen, "%s:%d: %s: unterminated or stray quote in value", file,
                      lineno, s);
            rc = HK_ECONFIG;
            break;
        }
        char where[256];
        snprintf (where, sizeof where, "%s:%d", file, lineno);
        if (s_set (&cand[at], v, (size_t) vlen, where) != 0) {
            snprintf (err, errlen, "%s:%d: out of memory", file, lineno);
            rc = HK_ENOMEM;
        }
    }
    if (rc == 0 && ferror (f)) {
        snprintf (err, errlen, "%s: read error: %s", file, strerror (errno));
        rc = HK_ECONFIG;
    }
    free (line);
    fclose (f);
    return rc;
}

/* Reads defaults, file and environment into cand (self->count entries) and validates them.
 * Returns 0, HK_ECONFIG or HK_ENOMEM with the reason in err. */
static int
s_read (hk_config_t *self, const char *file, cfg_candidate_t *cand, char *err, size_t errlen)
{
    for (size_t i = 0; i < self->count; i++) {
        const char *def = self->keys[i].entry->default_value;
        if (s_set (&cand[i], def ? def : "", def ? strlen (def) : 0, "default") != 0) {
            snprintf (err, errlen, "out of memory");
            return HK_ENOMEM;
        }
    }
    if (file) {
        int rc = s_read_file (self, file, cand, err, errlen);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < self->count; i++) {
        const char *name = self->keys[i].entry->name;
        char var[256], upper[200];
        size_t u = 0;
        for (; name[u] && u < sizeof upper - 1; u++)
            upper[u] = isalnum ((unsigned char) name[u]) ? (char) toupper ((unsigned char) name[u])
                                                          : '_';
        upper[u] = 0;
        snprintf (var, sizeof var, "%s%s", self->env_prefix, upper);
        const char *value = getenv (var);
        if (!value && self->keys[i].shared) {
            snprintf (var, sizeof var, "HUIKUAN_%s", upper);
            value = getenv (var);
        }
        if (value && s_set (&cand[i], value, strlen (value), var) != 0) {
            snprintf (err, errlen, "out of memory");
            return HK_ENOMEM;
        }
    }
    for (size_t i = 0; i < self->count; i++) {
        char reason[320];
        const hk_cfg_entry_t *e = self->keys[i].entry;
        if (s_check (e, cand[i].value, &cand[i].number, reason, sizeof reason) != 0) {
            snprintf (err, errlen, "%s: %s: %s", cand[i].where, e->name, reason);
            return HK_ECONFIG;
        }
    }
    return 0;
}

int
hk_config_load (hk_config_t *self, const char *file, char *err, size_t errlen)
{
    char scratch[8];
    if (!err || !errlen) {
        err = scratch;
        errlen = sizeof scratch;
    }
    *err = 0;
    if (!self)
        return HK_EINVAL;
    char *file_copy = NULL;
    if (file && !(file_copy = strdup (file))) {
        snprintf (err, errlen, "out of memory");
        return HK_ENOMEM;
    }
    cfg_candidate_t *cand = calloc (self->count ? self->count : 1, sizeof *cand);
    if (!cand) {
        free (file_copy);
        snprintf (err, errlen, "out of memory");
        return HK_ENOMEM;
    }
    int rc = s_read (self, file, cand, err, errlen);
    if (rc != 0) {
        s_candidates_free (cand, self->count);
        free (file_copy);
        return rc;
    }
    for (size_t i = 0; i < self->count; i++) {
        free (self->keys[i].value);
        self->keys[i].value = cand[i].value;
        self->keys[i].number = cand[i].number;
        cand[i].value = NULL;
    }
    s_candidates_free (cand, self->count);
    free (self->file);
    self->file = file_copy;
    return 0;
}

int
hk_config_reload (hk_config_t *self, char *err, size_t errlen)
{
    char scratch[8];
    if (!err || !errlen) {
        err = scratch;
        errlen = sizeof scratch;
    }
    *err = 0;
    if (!self)
        return HK_EINVAL;
    cfg_candidate_t *cand = calloc (self->count ? self->count : 1, sizeof *cand);
    if (!cand) {
        snprintf (err, errlen, "out of memory");
        return HK_ENOMEM;
    }
    int rc = s_read (self, self->file, cand, err, errlen);
    if (rc != 0) {
        s_candidates_free (cand, self->count);
        return rc == HK_ENOMEM ? HK_ENOMEM : HK_ECONFIG;
    }
    int changed = 0;
    for (size_t i = 0; i < self->count; i++) {
        cfg_key_t *k = &self->keys[i];
        bool differs = k->entry->type == HK_CFG_STRING ? strcmp (k->value, cand[i].value) != 0
                                                        : k->number != cand[i].number;
        if (!differs)
            continue;
        if (k->entry->flags & HK_CFG_NORELOAD) {
            HK_LOG (HK_WARN, "config.reload_ignored", HK_S ("key", k->entry->name),
                    HK_S ("reason", "takes effect after a restart"));
            continue;
        }
        char shown[256];
        hk_config_redact (k->entry, cand[i].value, shown, sizeof shown);
        HK_LOG (HK_INFO, "config.changed", HK_S ("key", k->entry->name), HK_S ("value", shown));
        free (k->value);
        k->value = cand[i].value;
        k->number = cand[i].number;
        cand[i].value = NULL;
        changed++;
    }
    s_candidates_free (cand, self->count);
    return changed;
}

static const cfg_key_t *
s_key (const hk_config_t *self, const char *name)
{
    ssize_t at = self && name ? s_find (self, name) : -1;
    if (at < 0) {
        HK_LOG (HK_ERROR, "config.unknown_key", HK_S ("key", name ? name : "(null)"));
        assert (!"config key not in any table");
        return NULL;
    }
    return &self->keys[at];
}

const char *
hk_config_str (const hk_config_t *self, const char *name)
{
    const cfg_key_t *k = s_key (self, name);
    return k ? k->value : "";
}

int64_t
hk_config_int (const hk_config_t *self, const char *name)
{
    const cfg_key_t *k = s_key (self, name);
    if (!k)
        return 0;
    assert (k->entry->type != HK_CFG_STRING);
    return k->number;
}

bool
hk_config_bool (const hk_config_t *self, const char *name)
{
    const cfg_key_t *k = s_key (self, name);
    if (!k)
        return false;
    assert (k->entry->type == HK_CFG_BOOL);
    return k->number != 0;
}

/* ---------------------------------------------------------------------------------------
 * Redaction */

typedef struct {
    char *buf;
    size_t len, pos;
} s_out_t;

static void
s_put (s_out_t *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n && o->pos + 1 < o->len; i++)
        o->buf[o->pos++] = s[i];
    o->buf[o->pos] = 0;
}

static bool
s_secret_param (const char *k, size_t n)
{
    static const char *const names[] = {
        "password", "passwd", "pass", "pwd", "sslpassword", "secret", "token",
        "access_token", "auth", "api_key", "apikey", "key",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen (names[i]) == n && strncasecmp (k, names[i], n) == 0)
            return true;
    return false;
}

/* Replaces the password of scheme://user:password@host/...?password=... Returns -1 when the
 * URL does not parse clearly (the caller then hides all of it). */
static int
s_redact_url (const char *value, const char *sep, s_out_t *o)
{
    if (sep == value)
        return -1;
    for (const char *p = value; p < sep; p++)
        if (!isalnum ((unsigned char) *p) && !strchr ("+-.", *p))
            return -1;
    const char *rest = sep + 3;
    size_t auth_len = strcspn (rest, "/?#");
    const char *at = NULL;
    for (const char *p = rest; p < rest + auth_len; p++)
        if (*p == '@')
            at = p;
    size_t path_len = strcspn (rest + auth_len, "?#");
    /* An '@' after the authority but before the query: likely a password with a '/' in it. */
    if (memchr (rest + auth_len, '@', path_len))
        return -1;
    s_put (o, value, (size_t) (rest - value));
    if (at) {
        const char *colon = memchr (rest, ':', (size_t) (at - rest));
        bool redis = (size_t) (sep - value) >= 5 && strncasecmp (value, "redis", 5) == 0;
        if (colon) {
            s_put (o, rest, (size_t) (colon - rest) + 1);
            s_put (o, S_REDACTED, strlen (S_REDACTED));
        }
        else if (redis)   /* redis://secret@host: older clients read that as the password */
            s_put (o, S_REDACTED, strlen (S_REDACTED));
        else
            s_put (o, rest, (size_t) (at - rest));
        rest = at;
    }
    const char *q = strchr (rest, '?');
    const char *hash = strchr (rest, '#');
    if (hash && q && hash < q)
        q = NULL;
    if (!q) {
        s_put (o, rest, strlen (rest));
        return 0;
    }
    s_put (o, rest, (size_t) (q - rest) + 1);
    const char *p = q + 1;
    const char *end = hash ? hash : p + strlen (p);
    while (p < end) {
        const char *amp = memchr (p, '&', (size_t) (end - p));
        const char *pend = amp ? amp : end;
        const char *eq = memchr (p, '=', (size_t) (pend - p));
        if (eq && s_secret_param (p, (size_t) (eq - p))) {
            s_put (o, p, (size_t) (eq - p) + 1);
            s_put (o, S_REDACTED, strlen (S_REDACTED));
        }
        else
            s_put (o, p, (size_t) (pend - p));
        if (amp)
            s_put (o, "&", 1);
        p = amp ? amp + 1 : end;
    }
    s_put (o, end, strlen (end));
    return 0;
}

void
hk_config_redact (const hk_cfg_entry_t *entry, const char *value, char *buf, size_t len)
{
    if (!buf || !len)
        return;
    if (!value)
        value = "";
    bool sensitive = entry && (entry->flags & HK_CFG_SENSITIVE);
    const char *sep = strstr (value, "://");
    if (!sep) {
        snprintf (buf, len, "%s", sensitive && *value ? S_REDACTED : value);
        return;
    }
    s_out_t o = { buf, len, 0 };
    buf[0] = 0;
    if (s_redact_url (value, sep, &o) != 0)
        snprintf (buf, len, "%s", S_REDACTED);
}

/* ---------------------------------------------------------------------------------------
 * Display */

static void
s_print_value (FILE *out, const char *v)
{
    size_t n = strlen (v);
    bool quote = n && (isspace ((unsigned char) v[0]) || isspace ((unsigned char) v[n - 1])
                       || v[0] == '"');
    if (!quote) {
        fprintf (out, "%s", v);
        return;
    }
    fputc ('"', out);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc ('\\', out);
        fputc (*p, out);
    }
    fputc ('"', out);
}

void
hk_config_dump (const hk_config_t *self, FILE *out)
{
    if (!self || !out)
        return;
    for (size_t i = 0; i < self->count; i++) {
        const cfg_key_t *k = &self->keys[i];
        size_t cap = strlen (k->value) * 4 + 64;   /* room for the masks */
        char *shown = malloc (cap);
        if (!shown) {
            fprintf (out, "%s = %s\n", k->entry->name, S_REDACTED);
            continue;
        }
        hk_config_redact (k->entry, k->value, shown, cap);
        fprintf (out, "%s = ", k->entry->name);
        s_print_value (out, shown);
        fputc ('\n', out);
        free (shown);
    }
}

void
hk_config_help (const hk_config_t *self, FILE *out)
{
    if (!self || !out)
        return;
    fprintf (out, "  %-20s %-9s %-24s %s\n", "KEY", "TYPE", "DEFAULT", "DESCRIPTION");
    for (size_t i = 0; i < self->count; i++) {
        const hk_cfg_entry_t *e = self->keys[i].entry;
        const char *type = s_type_name (e->type);
        char def[256];
        hk_config_redact (e, e->default_value, def, sizeof def);
        if (!*def)
            snprintf (def, sizeof def, "\"\"");
        char range[80] = "";
        if (s_has_range (e) && e->type == HK_CFG_DURATION) {
            char lo[32], hi[32];
            s_duration_format (e->min, lo, sizeof lo);
            s_duration_format (e->max, hi, sizeof hi);
            snprintf (range, sizeof range, " [%s..%s]", lo, hi);
        }
        else if (s_has_range (e) && e->type == HK_CFG_INT)
            snprintf (range, sizeof range, " [%" PRId64 "..%" PRId64 "]", e->min, e->max);
        fprintf (out, "  %-20s %-9s %-24s %s%s%s%s\n", e->name, type, def,
                 e->help ? e->help : "", range,
                 (e->flags & HK_CFG_NORELOAD) ? " (restart to change)" : "",
                 (e->flags & HK_CFG_SENSITIVE) ? " (sensitive)" : "");
    }
}
