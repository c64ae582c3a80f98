/* http: the small per-daemon HTTP endpoint (libmicrohttpd, own thread):
 *   GET /healthz  200 "ok" while the process runs
 *   GET /readyz   200 "ready", or 503 with the reason, from the ready callback
 *   GET /metrics  Prometheus text from the metrics registry */
#ifndef HUIKUAN_HTTP_H
#define HUIKUAN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Called on the HTTP thread: must only read thread-safe state (atomics). Writes a reason to
 * why when not ready. */
typedef bool (*hk_ready_fn) (void *arg, char *why, size_t len);

typedef struct hk_http hk_http_t;

/* listen: "127.0.0.1:9101", port 0 for an ephemeral one; "" or "off" disables (returns NULL
 * with err ""). NULL on failure with the reason in err. */
hk_http_t *hk_http_start (const char *listen, hk_ready_fn ready, void *arg, char *err,
                          size_t errlen);
/* Lets clients push files: POST <prefix><name> with the file as the body stores it in dir
 * under <name> (letters, digits, '.', '_', '-'; not hidden): written under a hidden name,
 * fsynced, then linked in, and only then answered 202 {"accepted": name, "bytes": n}. A name
 * already waiting gets 409, a body over max_bytes 413; an aborted upload leaves nothing.
 * Call once, after start. Returns 0, HK_EINVAL or HK_ECONFLICT (already set). */
int hk_http_accept_uploads (hk_http_t *self, const char *prefix, const char *dir,
                            int64_t max_bytes);

/* The bound port. */
int hk_http_port (const hk_http_t *self);
void hk_http_stop (hk_http_t **self_p);

#endif
