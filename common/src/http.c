/* http: the per-daemon status endpoint on libmicrohttpd's own thread. See http.h.
 *
 * Only GET is served (405 with "Allow: GET" otherwise); paths other than /healthz, /readyz
 * and /metrics get 404. Bodies of requests are read and dropped. Every answer carries
 * "Cache-Control: no-store". libmicrohttpd's error messages go to the log as "http.error",
 * except those during start, which are returned in err. */
#include "huikuan/http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "huikuan/errcodes.h"
#include "huikuan/files.h"
#include "huikuan/log.h"
#include "huikuan/metrics.h"

#if MHD_VERSION < 0x00097002
typedef int s_mhd_result_t;
#else
typedef enum MHD_Result s_mhd_result_t;
#endif

/* Where POSTed files go (hk_http_accept_uploads). Set once; read by the HTTP thread. */
typedef struct {
    char prefix[64];
    char dir[1024];
    int64_t max_bytes;
} s_uploads_t;

struct hk_http {
    struct MHD_Daemon *mhd;
    hk_ready_fn ready;   /* may be NULL: always ready */
    void *arg;
    int port;
    _Atomic (s_uploads_t *) uploads;
};

/* One upload in progress: written under a hidden name, renamed in when complete. */
typedef struct {
    int fd;
    char tmp[1200], name[128];
    int64_t bytes;
    bool too_big, failed;
} s_upload_t;

/* Where MHD's messages go while hk_http_start runs on this thread. */
static __thread char *s_start_err;
static __thread size_t s_start_errlen;

static void
s_mhd_log (void *cls, const char *fmt, va_list ap)
{
    (void) cls;
    char msg[512];
    vsnprintf (msg, sizeof msg, fmt, ap);
    size_t n = strlen (msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == '.'))
        msg[--n] = 0;
    if (s_start_err) {
        if (!*s_start_err)   /* the first message is the cause; later ones are consequences */
            snprintf (s_start_err, s_start_errlen, "%s", msg);
        return;
    }
    HK_LOG (HK_WARN, "http.error", HK_S ("error", msg));
}

/* Queues a response. body: copied, or taken (free()d by libmicrohttpd) when owned. */
static s_mhd_result_t
s_reply (struct MHD_Connection *conn, unsigned status, const char *body, bool owned,
         const char *content_type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer (
        strlen (body), (void *) body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (!r) {
        if (owned)
            free ((void *) body);
        return MHD_NO;
    }
    MHD_add_response_header (r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header (r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header (r, MHD_HTTP_HEADER_ALLOW, MHD_HTTP_METHOD_GET);
    s_mhd_result_t rc = MHD_queue_response (conn, status, r);
    MHD_destroy_response (r);
    return rc;
}

static const char *const s_plain = "text/plain; charset=utf-8";

static int s_started; /* con_cls of requests without a body of interest */

static s_upload_t *
s_upload_begin (const s_uploads_t *up, const char *name)
{
    s_upload_t *u = calloc (1, sizeof *u);
    if (!u)
        return NULL;
    snprintf (u->name, sizeof u->name, "%s", name);
    snprintf (u->tmp, sizeof u->tmp, "%s/.upload.%s.%ld.%p", up->dir, name, (long) getpid (),
              (void *) u);
    u->fd = open (u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (u->fd < 0) {
        HK_LOG (HK_WARN, "http.upload_failed", HK_S ("file", name), HK_S ("error", strerror (errno)));
        u->failed = true;
    }
    return u;
}

static void
s_upload_discard (s_upload_t *u)
{
    if (u->fd >= 0) {
        close (u->fd);
        u->fd = -1;
        unlink (u->tmp);
    }
}

/* Called by libmicrohttpd when a request ends, also when the client went away mid-upload. */
static void
s_completed (void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void) cls, (void) conn, (void) toe;
    if (*con_cls && *con_cls != &s_started) {
        s_upload_t *u = *con_cls;
        s_upload_discard (u);
        free (u);
    }
    *con_cls = NULL;
}

/* Body chunks go to the file; at the end: fsync, rename in, 202. Nothing is acknowledged that
 * is not on disk under its final name. */
static s_mhd_result_t
s_upload (hk_http_t *self, struct MHD_Connection *conn, s_upload_t *u, const char *data,
          size_t *size)
{
    const s_uploads_t *up = atomic_load (&self->uploads);
    if (*size) {
        if (!u->failed && !u->too_big) {
            u->bytes += (int64_t) *size;
            if (up && u->bytes > up->max_bytes)
                u->too_big = true;
            for (size_t done = 0; !u->too_big && done < *size;) {
                ssize_t w = write (u->fd, data + done, *size - done);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0) {
                    u->failed = true;
                    break;
                }
                done += (size_t) w;
            }
        }
        *size = 0;
        return MHD_YES;
    }
    if (u->too_big) {
        s_upload_discard (u);
        return s_reply (conn, MHD_HTTP_CONTENT_TOO_LARGE, "too large\n", false, s_plain);
    }
    if (u->failed || fsync (u->fd) != 0) {
        s_upload_discard (u);
        return s_reply (conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot store the file\n", false,
                        s_plain);
    }
    int closed = close (u->fd);
    u->fd = -1;
    if (closed != 0) {
        unlink (u->tmp);
        return s_reply (conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot store the file\n", false,
                        s_plain);
    }
    /* never replace a file that is waiting: the client picks another name */
    if (hk_file_link_in (u->tmp, up ? up->dir : ".", u->name) != 0) {
        if (errno == EEXIST)
            return s_reply (conn, MHD_HTTP_CONFLICT, "a file of that name is waiting\n", false,
                            s_plain);
        return s_reply (conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot store the file\n", false,
                        s_plain);
    }
    HK_LOG (HK_INFO, "http.upload", HK_S ("file", u->name), HK_I ("bytes", u->bytes));
    char body[300];
    snprintf (body, sizeof body, "{\"accepted\":\"%s\",\"bytes\":%lld}\n", u->name,
              (long long) u->bytes);
    return s_reply (conn, MHD_HTTP_ACCEPTED, body, false, "application/json");
}

static s_mhd_result_t
s_handle (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size,
          void **con_cls)
{
    (void) version;
    hk_http_t *self = cls;
    if (!*con_cls) {   /* headers only so far; answer once the body (if any) is in */
        const s_uploads_t *up = atomic_load (&self->uploads);
        size_t plen = up ? strlen (up->prefix) : 0;
        if (up && strcmp (method, MHD_HTTP_METHOD_POST) == 0
            && strncmp (url, up->prefix, plen) == 0) {
            if (!hk_file_name_ok (url + plen)) {
                *con_cls = &s_started;
                return s_reply (conn, MHD_HTTP_BAD_REQUEST,
                                "file name: letters, digits, '.', '_', '-', not hidden\n", false,
                                s_plain);
            }
            s_upload_t *u = s_upload_begin (up, url + plen);
            if (!u)
                return MHD_NO;
            *con_cls = u;
            return MHD_YES;
        }
        *con_cls = &s_started;
        return MHD_YES;
    }
    if (*con_cls != &s_started)
        return s_upload (self, conn, *con_cls, upload_data, upload_data_size);
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp (method, MHD_HTTP_METHOD_GET) != 0)
        return s_reply (conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", false,
                        s_plain);
    if (strcmp (url, "/healthz") == 0)
        return s_reply (conn, MHD_HTTP_OK, "ok\n", false, s_plain);
    if (strcmp (url, "/readyz") == 0) {
        char why[256] = "";
        if (!self->ready || self->ready (self->arg, why, sizeof why))
            return s_reply (conn, MHD_HTTP_OK, "ready\n", false, s_plain);
        why[sizeof why - 1] = 0;
        char body[300];
        snprintf (body, sizeof body, "not ready: %s\n", *why ? why : "unknown reason");
        return s_reply (conn, MHD_HTTP_SERVICE_UNAVAILABLE, body, false, s_plain);
    }
    if (strcmp (url, "/metrics") == 0) {
        char *text = hk_metrics_render ();
        if (!text)
            return s_reply (conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", false,
                            s_plain);
        return s_reply (conn, MHD_HTTP_OK, text, true, "text/plain; version=0.0.4; charset=utf-8");
    }
    return s_reply (conn, MHD_HTTP_NOT_FOUND, "not found\n", false, s_plain);
}

/* Splits "host:port" / "[v6]:port" / ":port" and resolves it. Returns 0 or -1 with err. */
static int
s_resolve (const char *listen, struct sockaddr_storage *addr, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr (listen, ':');
    if (!colon || !colon[1]) {
        snprintf (err, errlen, "http_listen \"%s\": expected host:port", listen);
        return -1;
    }
    const char *h = listen;
    size_t hlen = (size_t) (colon - listen);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen >= sizeof host) {
        snprintf (err, errlen, "http_listen \"%s\": host name too long", listen);
        return -1;
    }
    if (hlen == 0)
        snprintf (host, sizeof host, "0.0.0.0");
    else
        snprintf (host, sizeof host, "%.*s", (int) hlen, h);
    const char *port = colon + 1;
    char *end;
    errno = 0;
    long n = strtol (port, &end, 10);
    if (*end || errno || n < 0 || n > 65535) {
        snprintf (err, errlen, "http_listen \"%s\": port must be 0 to 65535", listen);
        return -1;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo (host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf (err, errlen, "http_listen \"%s\": %s", listen,
                  rc == EAI_SYSTEM ? strerror (errno) : gai_strerror (rc));
        if (res)
            freeaddrinfo (res);
        return -1;
    }
    memset (addr, 0, sizeof *addr);
    memcpy (addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo (res);
    return 0;
}

hk_http_t *
hk_http_start (const char *listen, hk_ready_fn ready, void *arg, char *err, size_t errlen)
{
    char scratch[8];
    if (!err || !errlen) {
        err = scratch;
        errlen = sizeof scratch;
    }
    *err = 0;
    if (!listen || !*listen || strcmp (listen, "off") == 0)
        return NULL;
    struct sockaddr_storage addr;
    if (s_resolve (listen, &addr, err, errlen) != 0)
        return NULL;
    hk_http_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->ready = ready;
    self->arg = arg;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    char mhd_err[256] = "";
    s_start_err = mhd_err;
    s_start_errlen = sizeof mhd_err;
    errno = 0;
    /* The port argument is only used in libmicrohttpd's messages: the address decides. */
    uint16_t port = ntohs (addr.ss_family == AF_INET6
                               ? ((struct sockaddr_in6 *) &addr)->sin6_port
                               : ((struct sockaddr_in *) &addr)->sin_port);
    self->mhd = MHD_start_daemon (flags, port, NULL, NULL, s_handle, self,
                                  MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, (void *) NULL,
                                  MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 10,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 64,
                                  MHD_OPTION_NOTIFY_COMPLETED, s_completed, (void *) NULL,
                                  MHD_OPTION_END);
    int saved = errno;
    s_start_err = NULL;
    if (!self->mhd) {
        snprintf (err, errlen, "cannot listen on %s: %s", listen,
                  *mhd_err ? mhd_err : saved ? strerror (saved) : "libmicrohttpd failed to start");
        free (self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->mhd, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? (int) info->port : 0;
    if (self->port == 0) {
        snprintf (err, errlen, "cannot listen on %s: bound port unknown", listen);
        MHD_stop_daemon (self->mhd);
        free (self);
        return NULL;
    }
    return self;
}

int
hk_http_accept_uploads (hk_http_t *self, const char *prefix, const char *dir, int64_t max_bytes)
{
    if (!self || !prefix || !dir || strlen (prefix) >= 64 || strlen (dir) >= 1024 || max_bytes <= 0)
        return HK_EINVAL;
    s_uploads_t *up = calloc (1, sizeof *up);
    if (!up)
        return HK_ENOMEM;
    snprintf (up->prefix, sizeof up->prefix, "%s", prefix);
    snprintf (up->dir, sizeof up->dir, "%s", dir);
    up->max_bytes = max_bytes;
    s_uploads_t *none = NULL;
    if (!atomic_compare_exchange_strong (&self->uploads, &none, up)) {
        free (up);
        return HK_ECONFLICT; /* once per endpoint */
    }
    return 0;
}

int
hk_http_port (const hk_http_t *self)
{
    return self ? self->port : 0;
}

void
hk_http_stop (hk_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hk_http_t *self = *self_p;
    MHD_stop_daemon (self->mhd);   /* joins the thread: no handler runs after this */
    free (atomic_load (&self->uploads));
    free (self);
    *self_p = NULL;
}
