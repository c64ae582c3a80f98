/* metrics: the process-wide registry of counters and gauges (STYLE 9). See metrics.h.
 *
 * The registry is a fixed array of HK_METRICS_MAX slots: registering takes a mutex, updating
 * a value is one atomic operation and never locks. Rendering and the log summary take the
 * mutex only to walk the list. Slots are never freed: after hk_metrics_reset() a stale
 * pointer still points into the array (no crash), but it may then name another metric, so
 * callers register again after a reset.
 *
 * A name that is not a valid Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), a name
 * already registered with the other type, or a full registry yields NULL; every update
 * function accepts NULL and does nothing. Counters ignore negative increments. */
#include "huikuan/metrics.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "huikuan/log.h"

#define HK_METRICS_MAX 256

struct hk_metric {
    char name[128];
    char help[256];
    bool gauge;
    _Atomic int64_t value;
};

static pthread_mutex_t s_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct hk_metric s_registry[HK_METRICS_MAX];
static size_t s_count;                    /* guarded by s_mutex */
static char s_labels[512];                /* 'daemon="x",instance="y"'; guarded by s_mutex */

static bool
s_valid_name (const char *name)
{
    if (!name || !*name || strlen (name) >= sizeof s_registry[0].name)
        return false;
    if (!isalpha ((unsigned char) name[0]) && name[0] != '_' && name[0] != ':')
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum ((unsigned char) *p) && *p != '_' && *p != ':')
            return false;
    return true;
}

static hk_metric_t *
s_register (const char *name, const char *help, bool gauge)
{
    if (!s_valid_name (name))
        return NULL;
    hk_metric_t *m = NULL;
    pthread_mutex_lock (&s_mutex);
    for (size_t i = 0; i < s_count; i++)
        if (strcmp (s_registry[i].name, name) == 0) {
            m = s_registry[i].gauge == gauge ? &s_registry[i] : NULL;
            pthread_mutex_unlock (&s_mutex);
            return m;
        }
    if (s_count < HK_METRICS_MAX) {
        m = &s_registry[s_count];
        snprintf (m->name, sizeof m->name, "%s", name);
        snprintf (m->help, sizeof m->help, "%s", help ? help : "");
        m->gauge = gauge;
        atomic_store (&m->value, 0);
        s_count++;
    }
    pthread_mutex_unlock (&s_mutex);
    return m;
}

hk_metric_t *
hk_metric_counter (const char *name, const char *help)
{
    return s_register (name, help, false);
}

hk_metric_t *
hk_metric_gauge (const char *name, const char *help)
{
    return s_register (name, help, true);
}

void
hk_metric_add (hk_metric_t *m, int64_t by)
{
    if (!m || (!m->gauge && by < 0))
        return;
    atomic_fetch_add_explicit (&m->value, by, memory_order_relaxed);
}

void
hk_metric_set (hk_metric_t *m, int64_t value)
{
    if (m)
        atomic_store_explicit (&m->value, value, memory_order_relaxed);
}

int64_t
hk_metric_value (const hk_metric_t *m)
{
    return m ? atomic_load_explicit (&m->value, memory_order_relaxed) : 0;
}

/* Appends a label value escaped for the exposition format (\\, \" and \n). */
static size_t
s_label_value (char *buf, size_t len, size_t pos, const char *v)
{
    for (const char *p = v; *p && pos + 3 < len; p++) {
        if (*p == '\\' || *p == '"' || *p == '\n') {
            buf[pos++] = '\\';
            buf[pos++] = *p == '\n' ? 'n' : *p;
        }
        else
            buf[pos++] = *p;
    }
    buf[pos] = 0;
    return pos;
}

void
hk_metrics_set_labels (const char *daemon, const char *instance)
{
    char labels[sizeof s_labels] = "";
    size_t pos = 0;
    if (daemon && *daemon) {
        pos += (size_t) snprintf (labels, sizeof labels, "daemon=\"");
        pos = s_label_value (labels, sizeof labels - 2, pos, daemon);
        labels[pos++] = '"';
        labels[pos] = 0;
    }
    if (instance && *instance && pos + 16 < sizeof labels) {
        pos += (size_t) snprintf (labels + pos, sizeof labels - pos, "%sinstance=\"",
                                  pos ? "," : "");
        pos = s_label_value (labels, sizeof labels - 2, pos, instance);
        labels[pos++] = '"';
        labels[pos] = 0;
    }
    pthread_mutex_lock (&s_mutex);
    memcpy (s_labels, labels, sizeof s_labels);
    pthread_mutex_unlock (&s_mutex);
}

typedef struct {
    char *data;
    size_t len, cap;
    bool oom;
} s_text_t;

static void
s_text_put (s_text_t *t, const char *s, size_t n)
{
    if (t->oom)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *data = realloc (t->data, cap);
        if (!data) {
            t->oom = true;
            return;
        }
        t->data = data;
        t->cap = cap;
    }
    memcpy (t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = 0;
}

static void
s_text_puts (s_text_t *t, const char *s)
{
    s_text_put (t, s, strlen (s));
}

/* HELP text escaping: backslash and newline. */
static void
s_text_help (s_text_t *t, const char *help)
{
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            s_text_put (t, "\\\\", 2);
        else if (*p == '\n')
            s_text_put (t, "\\n", 2);
        else
            s_text_put (t, p, 1);
    }
}

char *
hk_metrics_render (void)
{
    s_text_t t = { 0 };
    s_text_put (&t, "", 0);   /* an empty registry renders as "" */
    pthread_mutex_lock (&s_mutex);
    for (size_t i = 0; i < s_count; i++) {
        const struct hk_metric *m = &s_registry[i];
        char num[64];
        s_text_puts (&t, "# HELP ");
        s_text_puts (&t, m->name);
        s_text_puts (&t, " ");
        s_text_help (&t, m->help);
        s_text_puts (&t, "\n# TYPE ");
        s_text_puts (&t, m->name);
        s_text_puts (&t, m->gauge ? " gauge\n" : " counter\n");
        s_text_puts (&t, m->name);
        if (*s_labels) {
            s_text_puts (&t, "{");
            s_text_puts (&t, s_labels);
            s_text_puts (&t, "}");
        }
        snprintf (num, sizeof num, " %lld\n", (long long) hk_metric_value (m));
        s_text_puts (&t, num);
    }
    pthread_mutex_unlock (&s_mutex);
    if (t.oom) {
        free (t.data);
        return NULL;
    }
    return t.data;
}

void
hk_metrics_log_summary (void)
{
    if (HK_INFO < hk_log_level)
        return;
    /* A snapshot, names copied, so the line is written without holding the registry lock. */
    static hk_kv_t kv[HK_METRICS_MAX];
    static char names[HK_METRICS_MAX][sizeof s_registry[0].name];
    static pthread_mutex_t summary = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock (&summary);
    pthread_mutex_lock (&s_mutex);
    size_t n = s_count;
    for (size_t i = 0; i < n; i++) {
        memcpy (names[i], s_registry[i].name, sizeof names[i]);
        kv[i] = HK_I (names[i], hk_metric_value (&s_registry[i]));
    }
    pthread_mutex_unlock (&s_mutex);
    hk_log_write (HK_INFO, "stats", kv, n);
    pthread_mutex_unlock (&summary);
}

void
hk_metrics_reset (void)
{
    pthread_mutex_lock (&s_mutex);
    s_count = 0;
    s_labels[0] = 0;
    pthread_mutex_unlock (&s_mutex);
}
