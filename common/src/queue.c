/* queue: Redis access (hiredis) and reliable work queues on Redis Streams consumer groups.
 *
 * hk_redis_t wraps one blocking hiredis connection: URL parsing (AUTH, SELECT), connect and
 * command timeouts, and "a dead connection is freed and replaced" (STYLE 5): every command
 * that fails at the connection level reconnects and is retried once.
 *
 * hk_queue_t reads a stream through a consumer group, in this order:
 *   1. this consumer's own pending entries (XREADGROUP ... 0), once after the queue is created
 *      and again after every reconnect: what a crashed or restarted process had read but not
 *      acknowledged, and what a lost reply may have delivered;
 *   2. entries idle longer than claim_idle_ms in any consumer's pending list (XAUTOCLAIM), so
 *      the work of a dead or stuck consumer moves on; a message this consumer failed to
 *      process is retried the same way, claim_idle_ms after it was last delivered;
 *   3. new entries (XREADGROUP ... >), waiting up to block_ms when nothing else was found.
 * Redelivered entries carry their real delivery count (XPENDING), so a poison message can be
 * parked after a few tries. A missing group or stream (Redis restarted without its data) is
 * recreated on the spot. Entries deleted from the stream while pending are acknowledged and
 * skipped. */
#include "huikuan/queue.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "huikuan/errcodes.h"

#define HK_REDIS_TIMEOUT_MS 5000   /* connect and command timeout */
#define HK_REDIS_DEFAULT_PORT 6379
#define HK_STREAM_FIELD "d"

struct hk_redis {
    char *url;           /* as given (may hold a password: never logged) */
    char *host;
    int port;
    char *user;          /* ACL user; NULL for the default user */
    char *password;      /* NULL: no AUTH */
    int db;
    bool url_ok;
    redisContext *ctx;   /* NULL when not connected */
    uint64_t generation; /* bumped on every successful connect */
    char errstr[256];
};

struct hk_queue {
    hk_redis_t *r;       /* borrowed */
    char *stream;
    char *group;
    char *consumer;
    int64_t claim_idle_ms;
    uint64_t generation;      /* r->generation when the own pending list was last scanned */
    bool own_pending;         /* own pending list still to be re-read */
    char pending_cursor[48];  /* last id returned from the own pending list */
    char claim_cursor[48];    /* XAUTOCLAIM scan position */
    int64_t groups_made;      /* groups this handle created (none was there) */
};


/* ---------------------------------------------------------------------------------------
 * URL parsing
 */

static int
s_hexval (int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Copies len bytes of in, decoding %XX escapes; caller frees. NULL on ENOMEM or bad escape. */
static char *
s_pct_decode (const char *in, size_t len)
{
    char *out = malloc (len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '%') {
            int hi = i + 2 < len ? s_hexval ((unsigned char) in[i + 1]) : -1;
            int lo = i + 2 < len ? s_hexval ((unsigned char) in[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free (out);
                return NULL;
            }
            out[o++] = (char) (hi * 16 + lo);
            i += 2;
            continue;
        }
        out[o++] = in[i];
    }
    out[o] = 0;
    return out;
}

/* redis://[[user]:password@]host[:port][/db]; host may be [v6]. Fills self or returns -1
 * with errstr set. */
static int
s_parse_url (hk_redis_t *self, const char *url)
{
    const char *p = url;
    if (strncmp (p, "redis://", 8) == 0)
        p += 8;
    else if (strstr (p, "://")) {
        snprintf (self->errstr, sizeof self->errstr, "invalid redis url: scheme is not redis://");
        return -1;
    }
    const char *at = strrchr (p, '@');
    const char *slash_before_at = at ? memchr (p, '/', (size_t) (at - p)) : NULL;
    if (at && !slash_before_at) {
        const char *colon = memchr (p, ':', (size_t) (at - p));
        if (colon) {
            if (colon > p) {
                self->user = s_pct_decode (p, (size_t) (colon - p));
                if (!self->user)
                    goto bad_auth;
            }
            self->password = s_pct_decode (colon + 1, (size_t) (at - colon - 1));
        }
        else
            /* redis://password@host is a common shorthand */
            self->password = s_pct_decode (p, (size_t) (at - p));
        if (!self->password)
            goto bad_auth;
        p = at + 1;
    }
    const char *host_start = p, *host_end;
    if (*p == '[') {
        host_start = p + 1;
        host_end = strchr (host_start, ']');
        if (!host_end) {
            snprintf (self->errstr, sizeof self->errstr, "invalid redis url: unclosed '['");
            return -1;
        }
        p = host_end + 1;
    }
    else {
        host_end = p + strcspn (p, ":/?");
        p = host_end;
    }
    if (host_end == host_start) {
        snprintf (self->errstr, sizeof self->errstr, "invalid redis url: no host");
        return -1;
    }
    self->host = strndup (host_start, (size_t) (host_end - host_start));
    if (!self->host) {
        snprintf (self->errstr, sizeof self->errstr, "out of memory");
        return -1;
    }
    self->port = HK_REDIS_DEFAULT_PORT;
    if (*p == ':') {
        char *end;
        long port = strtol (p + 1, &end, 10);
        if (end == p + 1 || port <= 0 || port > 65535) {
            snprintf (self->errstr, sizeof self->errstr, "invalid redis url: bad port");
            return -1;
        }
        self->port = (int) port;
        p = end;
    }
    if (*p == '/' && p[1] && p[1] != '?') {
        char *end;
        long db = strtol (p + 1, &end, 10);
        if (end == p + 1 || db < 0 || db > 100000 || (*end && *end != '?')) {
            snprintf (self->errstr, sizeof self->errstr, "invalid redis url: bad database number");
            return -1;
        }
        self->db = (int) db;
        p = end;
    }
    else if (*p == '/')
        p++;
    if (*p && *p != '?') {
        snprintf (self->errstr, sizeof self->errstr, "invalid redis url: trailing characters");
        return -1;
    }
    return 0;

bad_auth:
    snprintf (self->errstr, sizeof self->errstr, "invalid redis url: bad user or password");
    return -1;
}


/* ---------------------------------------------------------------------------------------
 * Connection
 */

hk_redis_t *
hk_redis_new (const char *url)
{
    hk_redis_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->url = strdup (url ? url : "");
    if (!self->url) {
        free (self);
        return NULL;
    }
    /* A bad URL still gives an object: connect fails and says why. */
    self->url_ok = s_parse_url (self, self->url) == 0;
    return self;
}

static void
s_disconnect (hk_redis_t *self)
{
    if (self->ctx) {
        redisFree (self->ctx);
        self->ctx = NULL;
    }
}

void
hk_redis_destroy (hk_redis_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hk_redis_t *self = *self_p;
    s_disconnect (self);
    if (self->password)
        memset (self->password, 0, strlen (self->password));
    free (self->password);
    free (self->user);
    free (self->host);
    free (self->url);
    free (self);
    *self_p = NULL;
}

static struct timeval
s_tv (int64_t ms)
{
    struct timeval tv = { .tv_sec = (time_t) (ms / 1000),
                          .tv_usec = (suseconds_t) (ms % 1000) * 1000 };
    return tv;
}

/* Records the context's error and frees it: a failed connection is dead. */
static void
s_fail_ctx (hk_redis_t *self, const char *what)
{
    if (self->ctx && self->ctx->err)
        snprintf (self->errstr, sizeof self->errstr, "%s: %s", what, self->ctx->errstr);
    else
        snprintf (self->errstr, sizeof self->errstr, "%s: connection lost", what);
    s_disconnect (self);
}

/* Runs a setup command right after connecting; -1 with errstr on failure. */
static int
s_setup_cmd (hk_redis_t *self, const char *what, int argc, const char **argv)
{
    redisReply *reply = redisCommandArgv (self->ctx, argc, argv, NULL);
    if (!reply) {
        s_fail_ctx (self, what);
        return -1;
    }
    int rc = 0;
    if (reply->type == REDIS_REPLY_ERROR) {
        /* The reply text never contains the password. */
        snprintf (self->errstr, sizeof self->errstr, "%s failed: %s", what, reply->str);
        s_disconnect (self);
        rc = -1;
    }
    freeReplyObject (reply);
    return rc;
}

int
hk_redis_connect (hk_redis_t *self)
{
    if (!self)
        return HK_EINVAL;
    if (!self->url_ok)
        return HK_EREDIS; /* errstr says why since hk_redis_new */
    if (self->ctx && !self->ctx->err)
        return 0;
    s_disconnect (self);
    self->ctx = redisConnectWithTimeout (self->host, self->port, s_tv (HK_REDIS_TIMEOUT_MS));
    if (!self->ctx) {
        snprintf (self->errstr, sizeof self->errstr, "connect %s:%d: out of memory", self->host,
                  self->port);
        return HK_EREDIS;
    }
    if (self->ctx->err) {
        snprintf (self->errstr, sizeof self->errstr, "connect %s:%d: %s", self->host, self->port,
                  self->ctx->errstr);
        s_disconnect (self);
        return HK_EREDIS;
    }
    if (redisSetTimeout (self->ctx, s_tv (HK_REDIS_TIMEOUT_MS)) != REDIS_OK) {
        s_fail_ctx (self, "set timeout");
        return HK_EREDIS;
    }
    redisEnableKeepAlive (self->ctx);
    if (self->password) {
        const char *argv[3] = { "AUTH" };
        int argc = 1;
        if (self->user)
            argv[argc++] = self->user;
        argv[argc++] = self->password;
        if (s_setup_cmd (self, "AUTH", argc, argv) != 0)
            return HK_EREDIS;
    }
    if (self->db != 0) {
        char dbs[16];
        snprintf (dbs, sizeof dbs, "%d", self->db);
        const char *argv[2] = { "SELECT", dbs };
        if (s_setup_cmd (self, "SELECT", 2, argv) != 0)
            return HK_EREDIS;
    }
    self->generation++;
    self->errstr[0] = 0;
    return 0;
}

bool
hk_redis_ok (const hk_redis_t *self)
{
    return self && self->ctx && self->ctx->err == 0;
}

const char *
hk_redis_errstr (const hk_redis_t *self)
{
    return self ? self->errstr : "no redis handle";
}

/* One command with a reconnect-and-retry on a dead connection. timeout_ms > 0 overrides the
 * socket timeout for this command only (blocking reads). */
static redisReply *
s_command (hk_redis_t *self, int argc, const char **argv, const size_t *argvlen, int64_t timeout_ms)
{
    if (!self || argc <= 0 || !argv)
        return NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!hk_redis_ok (self) && hk_redis_connect (self) != 0)
            return NULL;
        if (timeout_ms > 0)
            redisSetTimeout (self->ctx, s_tv (timeout_ms));
        redisReply *reply = redisCommandArgv (self->ctx, argc, argv, argvlen);
        if (reply) {
            if (timeout_ms > 0)
                redisSetTimeout (self->ctx, s_tv (HK_REDIS_TIMEOUT_MS));
            return reply;
        }
        s_fail_ctx (self, argv[0]);
    }
    return NULL;
}

redisReply *
hk_redis_cmd (hk_redis_t *self, int argc, const char **argv, const size_t *argvlen)
{
    return s_command (self, argc, argv, argvlen, 0);
}

redisReply *
hk_redis_cmdf (hk_redis_t *self, const char *fmt, ...)
{
    if (!self || !fmt)
        return NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!hk_redis_ok (self) && hk_redis_connect (self) != 0)
            return NULL;
        va_list ap;
        va_start (ap, fmt);
        redisReply *reply = redisvCommand (self->ctx, fmt, ap);
        va_end (ap);
        if (reply)
            return reply;
        s_fail_ctx (self, "command");
    }
    return NULL;
}

/* Turns a reply into 0 or HK_EREDIS (freeing it), recording an error reply in errstr. */
static int
s_reply_error (hk_redis_t *self, redisReply *reply, const char *what)
{
    if (!reply)
        return HK_EREDIS;
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf (self->errstr, sizeof self->errstr, "%s: %s", what, reply->str);
        return HK_EREDIS;
    }
    return 0;
}

int
hk_stream_add (hk_redis_t *r, const char *stream, const void *data, size_t len, char *id_out,
               size_t id_len)
{
    if (!r || !stream || (!data && len))
        return HK_EINVAL;
    const char *argv[] = { "XADD", stream, "*", HK_STREAM_FIELD, data ? data : "" };
    size_t lens[] = { 4, strlen (stream), 1, strlen (HK_STREAM_FIELD), len };
    redisReply *reply = hk_redis_cmd (r, 5, argv, lens);
    int rc = s_reply_error (r, reply, "XADD");
    if (rc == 0 && reply->type != REDIS_REPLY_STRING) {
        snprintf (r->errstr, sizeof r->errstr, "XADD: unexpected reply type %d", reply->type);
        rc = HK_EREDIS;
    }
    if (rc == 0 && id_out && id_len)
        snprintf (id_out, id_len, "%s", reply->str);
    if (reply)
        freeReplyObject (reply);
    return rc;
}

/* A stream entry id "<ms>-<seq>". */
typedef struct {
    uint64_t ms, seq;
} s_id_t;

static bool
s_id_parse (const char *text, s_id_t *id)
{
    char *end;
    errno = 0;
    id->ms = strtoull (text, &end, 10);
    if (errno || end == text || *end != '-')
        return false;
    const char *seq = end + 1;
    id->seq = strtoull (seq, &end, 10);
    return !errno && end != seq && *end == '\0';
}

static bool
s_id_less (s_id_t a, s_id_t b)
{
    return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq);
}

/* The value of key in a flat [key, value, ...] reply array, or NULL. */
static const redisReply *
s_field (const redisReply *map, const char *key)
{
    if (!map || map->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < map->elements; i += 2)
        if (map->element[i]->type == REDIS_REPLY_STRING && strcmp (map->element[i]->str, key) == 0)
            return map->element[i + 1];
    return NULL;
}

/* The oldest entry group still needs: its oldest pending entry, else the one after the last
 * delivered to it. Returns 0 or HK_EREDIS. */
static int
s_group_needs (hk_redis_t *r, const char *stream, const redisReply *group, s_id_t *need)
{
    const redisReply *name = s_field (group, "name"), *pending = s_field (group, "pending");
    const redisReply *last = s_field (group, "last-delivered-id");
    if (!name || name->type != REDIS_REPLY_STRING || !pending
        || pending->type != REDIS_REPLY_INTEGER || !last || last->type != REDIS_REPLY_STRING
        || !s_id_parse (last->str, need)) {
        snprintf (r->errstr, sizeof r->errstr, "XINFO GROUPS %s: unexpected reply", stream);
        return HK_EREDIS;
    }
    if (pending->integer == 0) {
        need->seq++; /* everything up to the last delivered is acknowledged */
        return 0;
    }
    const char *argv[] = { "XPENDING", stream, name->str };
    redisReply *reply = hk_redis_cmd (r, 3, argv, NULL);
    int rc = s_reply_error (r, reply, "XPENDING");
    if (rc == 0
        && !(reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2
             && reply->element[1]->type == REDIS_REPLY_STRING
             && s_id_parse (reply->element[1]->str, need))) {
        snprintf (r->errstr, sizeof r->errstr, "XPENDING %s: unexpected reply", stream);
        rc = HK_EREDIS;
    }
    if (reply)
        freeReplyObject (reply);
    return rc;
}

int64_t
hk_stream_trim (hk_redis_t *r, const char *stream, int64_t keep_ms, bool groupless)
{
    if (!r || !stream || keep_ms < 0)
        return HK_EINVAL;
    /* the cut by age, on the server's clock */
    redisReply *reply = hk_redis_cmdf (r, "TIME");
    int rc = s_reply_error (r, reply, "TIME");
    if (rc == 0 && !(reply->type == REDIS_REPLY_ARRAY && reply->elements == 2
                     && reply->element[0]->type == REDIS_REPLY_STRING
                     && reply->element[1]->type == REDIS_REPLY_STRING)) {
        snprintf (r->errstr, sizeof r->errstr, "TIME: unexpected reply");
        rc = HK_EREDIS;
    }
    s_id_t cut = { 0, 0 };
    if (rc == 0) {
        uint64_t now_ms = strtoull (reply->element[0]->str, NULL, 10) * 1000u
                          + strtoull (reply->element[1]->str, NULL, 10) / 1000u;
        cut.ms = now_ms > (uint64_t) keep_ms ? now_ms - (uint64_t) keep_ms : 0;
    }
    if (reply)
        freeReplyObject (reply);
    if (rc != 0)
        return rc;

    const char *argv[] = { "XINFO", "GROUPS", stream };
    reply = hk_redis_cmd (r, 3, argv, NULL);
    if (reply && reply->type == REDIS_REPLY_ERROR && strstr (reply->str, "no such key")) {
        freeReplyObject (reply);
        return 0;
    }
    rc = s_reply_error (r, reply, "XINFO GROUPS");
    if (rc == 0 && reply->type != REDIS_REPLY_ARRAY) {
        snprintf (r->errstr, sizeof r->errstr, "XINFO GROUPS %s: unexpected reply", stream);
        rc = HK_EREDIS;
    }
    bool trim = rc == 0 && (reply->elements > 0 || groupless);
    for (size_t g = 0; trim && g < reply->elements; g++) {
        s_id_t need;
        rc = s_group_needs (r, stream, reply->element[g], &need);
        if (rc != 0)
            trim = false;
        else if (s_id_less (need, cut))
            cut = need;
    }
    if (reply)
        freeReplyObject (reply);
    if (!trim || (cut.ms == 0 && cut.seq == 0))
        return rc;
    char minid[48];
    snprintf (minid, sizeof minid, "%llu-%llu", (unsigned long long) cut.ms,
              (unsigned long long) cut.seq);
    const char *targv[] = { "XTRIM", stream, "MINID", minid };
    reply = hk_redis_cmd (r, 4, targv, NULL);
    int64_t removed = s_reply_error (r, reply, "XTRIM");
    if (removed == 0)
        removed = reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
    if (reply)
        freeReplyObject (reply);
    return removed;
}

int
hk_redis_pipeline (hk_redis_t *r, int n, const int *argcs, const char *const *const *argvs,
                   const size_t *const *lens)
{
    if (!r || n < 0 || (n > 0 && (!argcs || !argvs)))
        return HK_EINVAL;
    if (n == 0)
        return 0;
    if (!hk_redis_ok (r) && hk_redis_connect (r) != 0)
        return HK_EREDIS;
    for (int i = 0; i < n; i++)
        if (redisAppendCommandArgv (r->ctx, argcs[i], (const char **) argvs[i],
                                    lens ? lens[i] : NULL)
            != REDIS_OK) {
            s_fail_ctx (r, argvs[i][0]);
            return HK_EREDIS;
        }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        void *v = NULL;
        if (redisGetReply (r->ctx, &v) != REDIS_OK) {
            s_fail_ctx (r, argvs[i][0]);
            return HK_EREDIS; /* the connection is dropped: unread replies go with it */
        }
        if (rc == 0 && s_reply_error (r, v, argvs[i][0]) != 0)
            rc = HK_EREDIS;
        freeReplyObject (v);
    }
    return rc;
}

int
hk_stream_add_many (hk_redis_t *r, const char *const *streams, const char *const *datas,
                    const size_t *lens, int n)
{
    if (!r || n < 0 || (n > 0 && (!streams || !datas || !lens)))
        return HK_EINVAL;
    const char **argv = malloc ((size_t) (n ? n : 1) * 5 * sizeof *argv);
    size_t *al = malloc ((size_t) (n ? n : 1) * 5 * sizeof *al);
    const char *const **argvs = malloc ((size_t) (n ? n : 1) * sizeof *argvs);
    const size_t **alens = malloc ((size_t) (n ? n : 1) * sizeof *alens);
    int *argcs = malloc ((size_t) (n ? n : 1) * sizeof *argcs);
    int rc = argv && al && argvs && alens && argcs ? 0 : HK_ENOMEM;
    for (int i = 0; i < n && rc == 0; i++) {
        const char **a = argv + 5 * i;
        size_t *l = al + 5 * i;
        a[0] = "XADD", a[1] = streams[i], a[2] = "*", a[3] = HK_STREAM_FIELD, a[4] = datas[i];
        l[0] = 4, l[1] = strlen (streams[i]), l[2] = 1, l[3] = strlen (HK_STREAM_FIELD);
        l[4] = lens[i];
        argvs[i] = a, alens[i] = l, argcs[i] = 5;
    }
    if (rc == 0)
        rc = hk_redis_pipeline (r, n, argcs, argvs, alens);
    free (argv);
    free (al);
    free (argvs);
    free (alens);
    free (argcs);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Queues
 */

const char *
hk_tenant_name (const char *base, const char *tenant, char *buf, size_t len)
{
    int n = !tenant || !*tenant || strcmp (tenant, "default") == 0
                ? snprintf (buf, len, "%s", base)
                : snprintf (buf, len, "%s@%s", base, tenant);
    return n >= 0 && (size_t) n < len ? buf : NULL;
}

const char *
hk_notify_queue (const char *channel, const char *tenant, char *buf, size_t len)
{
    char base[80];
    int n = snprintf (base, sizeof base, "hk:notify:%s", channel);
    return n >= 0 && (size_t) n < sizeof base ? hk_tenant_name (base, tenant, buf, len) : NULL;
}

hk_queue_t *
hk_queue_new (hk_redis_t *r, const char *stream, const char *group, const char *consumer,
              int64_t claim_idle_ms)
{
    if (!r || !stream || !*stream || !group || !*group || !consumer || !*consumer)
        return NULL;
    hk_queue_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->r = r;
    self->stream = strdup (stream);
    self->group = strdup (group);
    self->consumer = strdup (consumer);
    if (!self->stream || !self->group || !self->consumer) {
        hk_queue_destroy (&self);
        return NULL;
    }
    self->claim_idle_ms = claim_idle_ms > 0 ? claim_idle_ms : 1;
    self->own_pending = true;
    strcpy (self->pending_cursor, "0");
    strcpy (self->claim_cursor, "0-0");
    return self;
}

void
hk_queue_destroy (hk_queue_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hk_queue_t *self = *self_p;
    free (self->stream);
    free (self->group);
    free (self->consumer);
    free (self);
    *self_p = NULL;
}

const char *
hk_queue_stream (const hk_queue_t *self)
{
    return self ? self->stream : "";
}

int64_t
hk_queue_groups_made (const hk_queue_t *self)
{
    return self ? self->groups_made : 0;
}

static bool
s_is_nogroup (const redisReply *reply)
{
    return reply && reply->type == REDIS_REPLY_ERROR && reply->str
           && strncmp (reply->str, "NOGROUP", 7) == 0;
}

/* XGROUP CREATE stream group 0 MKSTREAM; an existing group is fine. */
static int
s_create_group (hk_queue_t *self)
{
    const char *argv[] = { "XGROUP", "CREATE", self->stream, self->group, "0", "MKSTREAM" };
    redisReply *reply = hk_redis_cmd (self->r, 6, argv, NULL);
    int rc = 0;
    if (!reply)
        rc = HK_EREDIS;
    else if (reply->type == REDIS_REPLY_ERROR && strncmp (reply->str, "BUSYGROUP", 9) != 0)
        rc = s_reply_error (self->r, reply, "XGROUP CREATE");
    else if (reply->type != REDIS_REPLY_ERROR)
        self->groups_made++;
    if (reply)
        freeReplyObject (reply);
    /* A group made now has no pending entries; own pending of an old one is gone too. */
    return rc;
}

/* Runs a group command; on NOGROUP creates the group and runs it once more. */
static redisReply *
s_group_cmd (hk_queue_t *self, int argc, const char **argv, int64_t timeout_ms)
{
    redisReply *reply = s_command (self->r, argc, argv, NULL, timeout_ms);
    if (s_is_nogroup (reply)) {
        freeReplyObject (reply);
        if (s_create_group (self) != 0)
            return NULL;
        reply = s_command (self->r, argc, argv, NULL, timeout_ms);
    }
    return reply;
}

/* Runs an XACK (argv: XACK stream group id ...). */
static int
s_xack (hk_queue_t *self, int argc, const char **argv)
{
    redisReply *reply = hk_redis_cmd (self->r, argc, argv, NULL);
    int rc = 0;
    if (!reply)
        rc = HK_EREDIS;
    else if (reply->type == REDIS_REPLY_ERROR && !s_is_nogroup (reply))
        rc = s_reply_error (self->r, reply, "XACK");
    /* NOGROUP: the group and its pending list are gone; nothing left to acknowledge. */
    if (reply)
        freeReplyObject (reply);
    return rc;
}

static int
s_ack (hk_queue_t *self, const char *id)
{
    const char *argv[] = { "XACK", self->stream, self->group, id };
    return s_xack (self, 4, argv);
}

/* Delivery count of one pending entry (XPENDING s g id id 1); fallback when unknown. */
static int64_t
s_deliveries (hk_queue_t *self, const char *id, int64_t fallback)
{
    const char *argv[] = { "XPENDING", self->stream, self->group, id, id, "1" };
    redisReply *reply = hk_redis_cmd (self->r, 6, argv, NULL);
    int64_t count = fallback;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1) {
        redisReply *e = reply->element[0];
        if (e->type == REDIS_REPLY_ARRAY && e->elements >= 4
            && e->element[3]->type == REDIS_REPLY_INTEGER && e->element[3]->integer > 0)
            count = e->element[3]->integer;
    }
    if (reply)
        freeReplyObject (reply);
    return count;
}

static bool
s_in_batch (const hk_queue_msg_t *msgs, int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp (msgs[i].id, id) == 0)
            return true;
    return false;
}

/* Takes one stream entry ([id, [field, value, ...]] or [id, nil]) into msgs[*n].
 * Returns 1 when taken, 0 when skipped (deleted entry: acknowledged), HK_ENOMEM. */
static int
s_take_entry (hk_queue_t *self, const redisReply *entry, hk_queue_msg_t *msgs, int *n,
              bool redelivered)
{
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 1
        || entry->element[0]->type != REDIS_REPLY_STRING
        || entry->element[0]->len >= sizeof msgs[0].id)
        return 0;
    const char *id = entry->element[0]->str;
    const redisReply *fields = entry->elements >= 2 ? entry->element[1] : NULL;
    if (!fields || fields->type != REDIS_REPLY_ARRAY) {
        /* Deleted from the stream while pending: nothing to deliver, clear it. */
        s_ack (self, id);
        return 0;
    }
    if (s_in_batch (msgs, *n, id))
        return 0;
    const char *value = "";
    size_t vlen = 0;
    for (size_t f = 0; f + 1 < fields->elements; f += 2) {
        const redisReply *k = fields->element[f], *v = fields->element[f + 1];
        if (k->type == REDIS_REPLY_STRING && strcmp (k->str, HK_STREAM_FIELD) == 0
            && v->type == REDIS_REPLY_STRING) {
            value = v->str;
            vlen = v->len;
            break;
        }
    }
    /* An entry without "d" is delivered empty: the consumer logs and acknowledges it. */
    hk_queue_msg_t *m = &msgs[*n];
    m->data = malloc (vlen + 1);
    if (!m->data)
        return HK_ENOMEM;
    memcpy (m->data, value, vlen);
    m->data[vlen] = 0;
    m->len = vlen;
    snprintf (m->id, sizeof m->id, "%s", id);
    m->deliveries = redelivered ? s_deliveries (self, id, 2) : 1;
    (*n)++;
    return 1;
}

/* The entries array of an XREADGROUP reply for our one stream, or NULL (none). */
static const redisReply *
s_read_entries (const redisReply *reply)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1)
        return NULL;
    const redisReply *s = reply->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements < 2 || s->element[1]->type != REDIS_REPLY_ARRAY)
        return NULL;
    return s->element[1];
}

/* Step 1: own pending entries, from pending_cursor on. */
static int
s_read_own_pending (hk_queue_t *self, hk_queue_msg_t *msgs, int max, int *n)
{
    char count[16];
    snprintf (count, sizeof count, "%d", max - *n);
    const char *argv[] = { "XREADGROUP", "GROUP", self->group, self->consumer, "COUNT", count,
                           "STREAMS", self->stream, self->pending_cursor };
    redisReply *reply = s_group_cmd (self, 9, argv, 0);
    int rc = s_reply_error (self->r, reply, "XREADGROUP");
    if (rc == 0) {
        const redisReply *entries = s_read_entries (reply);
        /* Fewer than asked for: the list is through (the entries just read are no longer
         * idle, so claiming cannot hand them to us again). */
        if (!entries || entries->elements < (size_t) (max - *n))
            self->own_pending = false;
        if (entries)
            for (size_t i = 0; i < entries->elements && *n < max; i++) {
                const redisReply *e = entries->element[i];
                if (e->type == REDIS_REPLY_ARRAY && e->elements >= 1
                    && e->element[0]->type == REDIS_REPLY_STRING)
                    snprintf (self->pending_cursor, sizeof self->pending_cursor, "%s",
                              e->element[0]->str);
                if (s_take_entry (self, e, msgs, n, true) < 0) {
                    rc = HK_ENOMEM;
                    break;
                }
            }
    }
    if (reply)
        freeReplyObject (reply);
    return rc;
}

/* Step 2: entries idle longer than claim_idle_ms, claimed from whoever holds them. */
static int
s_autoclaim (hk_queue_t *self, hk_queue_msg_t *msgs, int max, int *n)
{
    char idle[24], count[16];
    snprintf (idle, sizeof idle, "%lld", (long long) self->claim_idle_ms);
    snprintf (count, sizeof count, "%d", max - *n);
    const char *argv[] = { "XAUTOCLAIM", self->stream, self->group, self->consumer, idle,
                           self->claim_cursor, "COUNT", count };
    redisReply *reply = s_group_cmd (self, 8, argv, 0);
    int rc = s_reply_error (self->r, reply, "XAUTOCLAIM");
    if (rc == 0 && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2) {
        const redisReply *next = reply->element[0], *entries = reply->element[1];
        if (next->type == REDIS_REPLY_STRING && next->len < sizeof self->claim_cursor)
            snprintf (self->claim_cursor, sizeof self->claim_cursor, "%s", next->str);
        else
            strcpy (self->claim_cursor, "0-0");
        if (entries->type == REDIS_REPLY_ARRAY)
            for (size_t i = 0; i < entries->elements && *n < max; i++)
                if (s_take_entry (self, entries->element[i], msgs, n, true) < 0) {
                    rc = HK_ENOMEM;
                    break;
                }
        /* Redis 7 also lists ids deleted from the stream; it already dropped them from the
         * pending list, so there is nothing to do with reply->element[2]. */
    }
    if (reply)
        freeReplyObject (reply);
    return rc;
}

/* Step 3: new entries, waiting up to block_ms (0: no wait). */
static int
s_read_new (hk_queue_t *self, hk_queue_msg_t *msgs, int max, int *n, int block_ms)
{
    char count[16], block[16];
    snprintf (count, sizeof count, "%d", max - *n);
    snprintf (block, sizeof block, "%d", block_ms);
    const char *argv[11] = { "XREADGROUP", "GROUP", self->group, self->consumer, "COUNT", count };
    int argc = 6;
    if (block_ms > 0) {
        /* BLOCK 0 would wait forever; leave it out for a poll. */
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
    }
    argv[argc++] = "STREAMS";
    argv[argc++] = self->stream;
    argv[argc++] = ">";
    /* The socket must not time out while Redis legitimately blocks. */
    int64_t timeout = block_ms > 0 ? (int64_t) block_ms + HK_REDIS_TIMEOUT_MS : 0;
    redisReply *reply = s_group_cmd (self, argc, argv, timeout);
    int rc = s_reply_error (self->r, reply, "XREADGROUP");
    if (rc == 0) {
        const redisReply *entries = s_read_entries (reply);
        for (size_t i = 0; entries && i < entries->elements && *n < max; i++)
            if (s_take_entry (self, entries->element[i], msgs, n, false) < 0) {
                rc = HK_ENOMEM;
                break;
            }
    }
    if (reply)
        freeReplyObject (reply);
    return rc;
}

int
hk_queue_read (hk_queue_t *self, hk_queue_msg_t *msgs, int max, int block_ms)
{
    if (!self || !msgs || max <= 0)
        return HK_EINVAL;
    if (block_ms < 0)
        block_ms = 0;
    if (self->generation != self->r->generation) {
        /* New connection (first use, or reconnected): a reply lost with the old connection
         * may have delivered entries to us; read our pending list again. */
        self->own_pending = true;
        strcpy (self->pending_cursor, "0");
        self->generation = self->r->generation;
    }
    int n = 0, rc = 0;
    /* A reconnect during this call changes r->generation: the next call scans again. */
    if (self->own_pending)
        rc = s_read_own_pending (self, msgs, max, &n);
    /* Claiming waits until our own list is through, or it would hand us our own entries
     * twice. */
    if (rc == 0 && n < max && !self->own_pending)
        rc = s_autoclaim (self, msgs, max, &n);
    if (rc == 0 && n < max && !self->own_pending)
        rc = s_read_new (self, msgs, max, &n, n > 0 ? 0 : block_ms);
    if (rc < 0 && n == 0)
        return rc;
    /* With some messages in hand they are returned; they stay pending until acknowledged. */
    return n;
}

int
hk_queue_read_any (hk_queue_t *const *qs, int nq, hk_queue_msg_t *msgs, int *which, int block_ms)
{
    if (!qs || nq <= 0 || nq > HK_QUEUE_ANY_MAX || !msgs || !which)
        return HK_EINVAL;
    for (int i = 0; i < nq; i++)
        if (!qs[i] || qs[i]->r != qs[0]->r || strcmp (qs[i]->group, qs[0]->group) != 0
            || strcmp (qs[i]->consumer, qs[0]->consumer) != 0)
            return HK_EINVAL;
    int n = 0, rc = 0;
    /* a queue's own pending list first, as hk_queue_read does (after a reconnect) */
    for (int i = 0; i < nq && rc == 0; i++) {
        hk_queue_t *q = qs[i];
        if (q->generation != q->r->generation) {
            q->own_pending = true;
            strcpy (q->pending_cursor, "0");
            q->generation = q->r->generation;
        }
        /* entry ids are per stream: each queue's are taken (and checked for repeats) apart */
        int one = 0;
        if (q->own_pending)
            rc = s_read_own_pending (q, msgs + n, 1, &one);
        if (one > 0)
            which[n++] = i;
    }
    if (rc < 0 || n > 0)
        return n > 0 ? n : rc;

    /* then one blocking read of new entries of them all: one entry a stream at most */
    char block[16];
    snprintf (block, sizeof block, "%d", block_ms > 0 ? block_ms : 1);
    const char *argv[9 + 2 * HK_QUEUE_ANY_MAX];
    int argc = 0;
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = qs[0]->group;
    argv[argc++] = qs[0]->consumer;
    argv[argc++] = "COUNT";
    argv[argc++] = "1";
    argv[argc++] = "BLOCK";
    argv[argc++] = block;
    argv[argc++] = "STREAMS";
    for (int i = 0; i < nq; i++)
        argv[argc++] = qs[i]->stream;
    for (int i = 0; i < nq; i++)
        argv[argc++] = ">";
    redisReply *reply = s_command (qs[0]->r, argc, argv, NULL,
                                   (int64_t) (block_ms > 0 ? block_ms : 1) + HK_REDIS_TIMEOUT_MS);
    /* NOGROUP (a stream or group gone with Redis's data) is an error here: the caller's
     * next hk_queue_read of each queue makes the group again */
    rc = s_reply_error (qs[0]->r, reply, "XREADGROUP");
    if (rc == 0 && reply->type == REDIS_REPLY_ARRAY)
        for (size_t s = 0; s < reply->elements && rc == 0; s++) {
            const redisReply *st = reply->element[s];
            if (st->type != REDIS_REPLY_ARRAY || st->elements < 2
                || st->element[0]->type != REDIS_REPLY_STRING
                || st->element[1]->type != REDIS_REPLY_ARRAY)
                continue;
            int i = 0;
            while (i < nq && strcmp (qs[i]->stream, st->element[0]->str) != 0)
                i++;
            const redisReply *entries = st->element[1];
            for (size_t e = 0; i < nq && e < entries->elements && n < nq; e++) {
                int one = 0;
                if (s_take_entry (qs[i], entries->element[e], msgs + n, &one, false) < 0)
                    rc = HK_ENOMEM;
                if (one > 0)
                    which[n++] = i;
            }
        }
    if (reply)
        freeReplyObject (reply);
    return rc < 0 && n == 0 ? rc : n;
}

void
hk_queue_batch_clear (hk_queue_msg_t *msgs, int n)
{
    if (!msgs)
        return;
    for (int i = 0; i < n; i++) {
        free (msgs[i].data);
        msgs[i].data = NULL;
        msgs[i].len = 0;
    }
}

int
hk_queue_ack (hk_queue_t *self, const char *id)
{
    if (!self || !id || !*id)
        return HK_EINVAL;
    return s_ack (self, id);
}

int
hk_queue_ack_many (hk_queue_t *self, const char *const *ids, int n)
{
    if (!self || !ids || n < 0)
        return HK_EINVAL;
    if (n == 0)
        return 0;
    const char **argv = malloc (sizeof *argv * (size_t) (n + 3));
    if (!argv)
        return HK_ENOMEM;
    argv[0] = "XACK";
    argv[1] = self->stream;
    argv[2] = self->group;
    int argc = 3;
    for (int k = 0; k < n; k++)
        if (ids[k] && *ids[k])
            argv[argc++] = ids[k];
    if (argc == 3) {
        free (argv);
        return 0;
    }
    int rc = s_xack (self, argc, argv);
    free (argv);
    return rc;
}

int64_t
hk_queue_pending (hk_queue_t *self)
{
    if (!self)
        return HK_EINVAL;
    const char *argv[] = { "XPENDING", self->stream, self->group };
    redisReply *reply = s_group_cmd (self, 3, argv, 0);
    int64_t rc = s_reply_error (self->r, reply, "XPENDING");
    if (rc == 0) {
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1
            && reply->element[0]->type == REDIS_REPLY_INTEGER)
            rc = reply->element[0]->integer;
        else {
            snprintf (self->r->errstr, sizeof self->r->errstr, "XPENDING: unexpected reply");
            rc = HK_EREDIS;
        }
    }
    if (reply)
        freeReplyObject (reply);
    return rc;
}
