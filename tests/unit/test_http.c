/* Self-test of http: an ephemeral port on loopback, /healthz, /readyz ready and not ready,
 * /metrics, 404 and 405, bad listen addresses, stop. The client is a plain socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "huikuan/http.h"
#include "huikuan/metrics.h"

static atomic_bool s_db_up;

static bool
s_ready (void *arg, char *why, size_t len)
{
    int *calls = arg;
    (*calls)++;
    if (!atomic_load (&s_db_up)) {
        snprintf (why, len, "postgresql unreachable");
        return false;
    }
    return true;
}

/* One request over a fresh connection. Returns the status (or -1 when it could not connect)
 * and the whole response (headers and body) in resp (malloc'd, caller frees). */
static int
s_request (int port, const char *method, const char *path, char **resp)
{
    *resp = NULL;
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = { .tv_sec = 5 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    inet_pton (AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect (fd, (struct sockaddr *) &sa, sizeof sa) != 0) {
        close (fd);
        return -1;
    }
    char req[256];
    int n = snprintf (req, sizeof req,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                      "Content-Length: 0\r\n\r\n",
                      method, path);
    if (send (fd, req, (size_t) n, MSG_NOSIGNAL) != n) {
        close (fd);
        return -1;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc (cap);
    ssize_t got;
    while (buf && (got = recv (fd, buf + len, cap - len - 1, 0)) > 0) {
        len += (size_t) got;
        if (len + 1 == cap) {
            char *more = realloc (buf, cap * 2);
            if (!more)
                break;
            buf = more;
            cap *= 2;
        }
    }
    close (fd);
    if (!buf)
        return -1;
    buf[len] = 0;
    *resp = buf;
    int status = -1;
    if (sscanf (buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

static const char *
s_body (const char *resp)
{
    const char *b = resp ? strstr (resp, "\r\n\r\n") : NULL;
    return b ? b + 4 : "";
}

int
hk_http_test (bool verbose)
{
    int failures = 0;
    char err[256];
    int calls = 0;

    /* disabled */
    strcpy (err, "x");
    CHECK (hk_http_start ("off", s_ready, &calls, err, sizeof err) == NULL);
    CHECK_STR (err, "");
    strcpy (err, "x");
    CHECK (hk_http_start ("", s_ready, &calls, err, sizeof err) == NULL);
    CHECK_STR (err, "");
    /* bad addresses */
    CHECK (hk_http_start ("127.0.0.1:99999", s_ready, &calls, err, sizeof err) == NULL);
    CHECK (strstr (err, "port must be 0 to 65535") != NULL);
    CHECK (hk_http_start ("nohostport", s_ready, &calls, err, sizeof err) == NULL);
    CHECK (strstr (err, "expected host:port") != NULL);
    CHECK (hk_http_start ("no.such.host.invalid:0", s_ready, &calls, err, sizeof err) == NULL);
    CHECK (*err != 0);

    hk_metrics_reset ();
    hk_metrics_set_labels ("selftest", "selftest-1");
    hk_metric_t *m = hk_metric_counter ("hk_test_http_total", "Seen by the HTTP test");
    hk_metric_add (m, 11);

    hk_http_t *http = hk_http_start ("127.0.0.1:0", s_ready, &calls, err, sizeof err);
    CHECK (http != NULL);
    if (!http) {
        fprintf (stderr, "  http start: %s\n", err);
        return failures;
    }
    int port = hk_http_port (http);
    CHECK (port > 0);
    if (verbose)
        printf ("  listening on 127.0.0.1:%d\n", port);

    char *resp;
    CHECK_INT (s_request (port, "GET", "/healthz", &resp), 200);
    CHECK_STR (s_body (resp), "ok\n");
    free (resp);

    atomic_store (&s_db_up, true);
    CHECK_INT (s_request (port, "GET", "/readyz", &resp), 200);
    CHECK_STR (s_body (resp), "ready\n");
    free (resp);
    atomic_store (&s_db_up, false);
    CHECK_INT (s_request (port, "GET", "/readyz", &resp), 503);
    CHECK_STR (s_body (resp), "not ready: postgresql unreachable\n");
    free (resp);
    CHECK_INT (calls, 2);

    CHECK_INT (s_request (port, "GET", "/metrics", &resp), 200);
    CHECK (resp && strstr (resp, "version=0.0.4"));
    CHECK (resp && strstr (s_body (resp), "# TYPE hk_test_http_total counter\n"
                                          "hk_test_http_total{daemon=\"selftest\","
                                          "instance=\"selftest-1\"} 11\n"));
    if (verbose && resp)
        printf ("%s\n", resp);
    free (resp);

    CHECK_INT (s_request (port, "GET", "/nope", &resp), 404);
    free (resp);
    CHECK_INT (s_request (port, "GET", "/healthz/", &resp), 404);
    free (resp);
    CHECK_INT (s_request (port, "GET", "/healthz?verbose=1", &resp), 200);
    free (resp);
    CHECK_INT (s_request (port, "POST", "/healthz", &resp), 405);
    CHECK (resp && strstr (resp, "Allow: GET"));
    free (resp);

    /* the same port twice: a clear error */
    char listen[64];
    snprintf (listen, sizeof listen, "127.0.0.1:%d", port);
    hk_http_t *second = hk_http_start (listen, s_ready, &calls, err, sizeof err);
    CHECK (second == NULL);
    CHECK (strstr (err, "cannot listen on 127.0.0.1:") != NULL);
    if (verbose)
        printf ("  second server: %s\n", err);
    hk_http_stop (&second);

    hk_http_stop (&http);
    CHECK (http == NULL);
    hk_http_stop (&http);
    CHECK_INT (s_request (port, "GET", "/healthz", &resp), -1);
    free (resp);

    /* no ready callback: always ready */
    http = hk_http_start ("127.0.0.1:0", NULL, NULL, err, sizeof err);
    CHECK (http != NULL);
    CHECK_INT (s_request (hk_http_port (http), "GET", "/readyz", &resp), 200);
    free (resp);
    hk_http_stop (&http);

    hk_metrics_reset ();
    return failures;
}
