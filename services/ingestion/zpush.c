/* zpush: systems that push feeds over ZeroMQ. See zpush.h. */
#include "zpush.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <zmq.h>

#include "encoding.h"
#include "huikuan/errcodes.h"
#include "huikuan/files.h"
#include "huikuan/log.h"
#include "huikuan/v1/feed.pb-c.h"

#define S_POLL_MS 200

/* proto3 strings must be UTF-8 and the JSON Lines reader wants them so; protobuf-c does not
 * check. */
static bool
s_utf8_ok (const char *s)
{
    return hk_encoding_is_utf8 (s, strlen (s));
}

int
hk_zpush_to_jsonl (const void *data, size_t len, char *name, size_t name_len, char **text_out,
                   size_t *text_len, char *why, size_t why_len)
{
    *text_out = NULL;
    *text_len = 0;
    Huikuan__V1__FeedBatch *b = huikuan__v1__feed_batch__unpack (NULL, len, data);
    if (!b) {
        snprintf (why, why_len, "not a FeedBatch (protobuf)");
        return HK_EINVAL;
    }
    int rc = 0;
    if (!hk_file_name_ok (b->name)) {
        snprintf (why, why_len, "name: letters, digits, '.', '_', '-', at most 100, not hidden");
        rc = HK_EINVAL;
    }
    else if (b->n_records == 0) {
        snprintf (why, why_len, "no records");
        rc = HK_EINVAL;
    }
    char *text = NULL;
    size_t size = 0;
    FILE *out = rc == 0 ? open_memstream (&text, &size) : NULL;
    if (rc == 0 && !out)
        rc = HK_ENOMEM;
    /* one JSON object a line: "kind" and the fields as strings (the JSON Lines reader checks
     * them like any feed's, so a bad record is a reject of its line, not of the batch) */
    for (size_t i = 0; rc == 0 && i < b->n_records; i++) {
        const Huikuan__V1__FeedRecord *r = b->records[i];
        bool utf8 = s_utf8_ok (r->kind);
        for (size_t f = 0; utf8 && f < r->n_fields; f++)
            utf8 = s_utf8_ok (r->fields[f]->name) && s_utf8_ok (r->fields[f]->value);
        if (!utf8) {
            snprintf (why, why_len, "record %zu: text that is not UTF-8", i + 1);
            rc = HK_EINVAL;
            break;
        }
        json_object *o = json_object_new_object ();
        if (!o) {
            rc = HK_ENOMEM;
            break;
        }
        json_object_object_add (o, "kind", json_object_new_string (r->kind));
        for (size_t f = 0; f < r->n_fields; f++)
            if (r->fields[f]->name && *r->fields[f]->name && strcmp (r->fields[f]->name, "kind"))
                json_object_object_add (o, r->fields[f]->name,
                                        json_object_new_string (r->fields[f]->value));
        fprintf (out, "%s\n", json_object_to_json_string_ext (o, JSON_C_TO_STRING_PLAIN));
        json_object_put (o);
    }
    if (out && fclose (out) != 0 && rc == 0)
        rc = HK_ENOMEM;
    if (rc == 0) {
        snprintf (name, name_len, "%s", b->name);
        *text_out = text;
        *text_len = size;
    }
    else
        free (text);
    huikuan__v1__feed_batch__free_unpacked (b, NULL);
    return rc;
}

struct hk_zpush {
    void *ctx, *sock;
    pthread_t thread;
    atomic_bool stop;
    char inbox[1024];
    int64_t max_bytes;
    unsigned seq;
};

/* Stores one batch; writes the answer into reply. */
static void
s_take (hk_zpush_t *self, const void *data, size_t len, char *reply, size_t reply_len)
{
    if ((int64_t) len > self->max_bytes) {
        snprintf (reply, reply_len, "rejected: larger than push_max_bytes");
        return;
    }
    char name[128], why[160], file[256];
    char *text;
    size_t text_len;
    if (hk_zpush_to_jsonl (data, len, name, sizeof name, &text, &text_len, why, sizeof why) != 0) {
        snprintf (reply, reply_len, "rejected: %s", why);
        return;
    }
    /* the batch's name, made unique, ".jsonl" so the inbox reads it as JSON Lines */
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    snprintf (file, sizeof file, "%s.%lld%06ld.%u.jsonl", name, (long long) ts.tv_sec,
              ts.tv_nsec / 1000, ++self->seq);
    int rc = hk_file_publish (self->inbox, file, text, text_len);
    free (text);
    if (rc != 0) {
        HK_LOG (HK_WARN, "zpush.store_failed", HK_S ("file", file), HK_S ("error", strerror (errno)));
        snprintf (reply, reply_len, "failed: cannot store the batch, send it again");
        return;
    }
    HK_LOG (HK_INFO, "zpush.accepted", HK_S ("file", file), HK_I ("bytes", (int64_t) len));
    snprintf (reply, reply_len, "accepted %s", file);
}

/* ROUTER frames: identity, (empty delimiter from REQ clients), payload. */
static void *
s_serve (void *arg)
{
    hk_zpush_t *self = arg;
    while (!atomic_load (&self->stop)) {
        zmq_pollitem_t item = { self->sock, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, S_POLL_MS) <= 0 || !(item.revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t frames[3];
        int n = 0, more = 1;
        bool overflow = false;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init (&m);
            if (zmq_msg_recv (&m, self->sock, 0) < 0) {
                zmq_msg_close (&m);
                break;
            }
            more = zmq_msg_more (&m);
            if (n < 3)
                frames[n++] = m;
            else {
                overflow = true;
                zmq_msg_close (&m);
            }
        }
        char reply[400];
        if (n < 2 || overflow)
            snprintf (reply, sizeof reply, "rejected: one FeedBatch per message");
        else
            s_take (self, zmq_msg_data (&frames[n - 1]), zmq_msg_size (&frames[n - 1]), reply,
                    sizeof reply);
        if (n >= 2) {
            /* identity and delimiter back, then the answer */
            for (int i = 0; i < n - 1; i++)
                zmq_send (self->sock, zmq_msg_data (&frames[i]), zmq_msg_size (&frames[i]),
                          ZMQ_SNDMORE);
            zmq_send (self->sock, reply, strlen (reply), 0);
        }
        for (int i = 0; i < n; i++)
            zmq_msg_close (&frames[i]);
    }
    return NULL;
}

hk_zpush_t *
hk_zpush_start (const char *endpoint, const char *inbox, int64_t max_bytes, char *err,
                size_t err_len)
{
    hk_zpush_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_len, "out of memory");
        return NULL;
    }
    snprintf (self->inbox, sizeof self->inbox, "%s", inbox);
    self->max_bytes = max_bytes;
    self->ctx = zmq_ctx_new ();
    self->sock = self->ctx ? zmq_socket (self->ctx, ZMQ_ROUTER) : NULL;
    int linger = 0;
    int64_t maxmsg = max_bytes + 1024; /* larger ones are cut off by ZeroMQ itself */
    if (!self->sock || zmq_setsockopt (self->sock, ZMQ_LINGER, &linger, sizeof linger) != 0
        || zmq_setsockopt (self->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0
        || zmq_bind (self->sock, endpoint) != 0) {
        snprintf (err, err_len, "push_zmq %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        if (self->sock)
            zmq_close (self->sock);
        if (self->ctx)
            zmq_ctx_term (self->ctx);
        free (self);
        return NULL;
    }
    if (pthread_create (&self->thread, NULL, s_serve, self) != 0) {
        snprintf (err, err_len, "cannot start the push thread");
        zmq_close (self->sock);
        zmq_ctx_term (self->ctx);
        free (self);
        return NULL;
    }
    return self;
}

void
hk_zpush_stop (hk_zpush_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hk_zpush_t *self = *self_p;
    atomic_store (&self->stop, true);
    pthread_join (self->thread, NULL);
    zmq_close (self->sock);
    zmq_ctx_term (self->ctx);
    free (self);
    *self_p = NULL;
}
