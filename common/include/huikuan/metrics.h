/* metrics: counters and gauges kept in one process-wide registry, shown in Prometheus text
 * format on /metrics and as a one-line summary in the log every period (STYLE 9).
 * Updates are atomic: the HTTP thread reads while the main loop writes. */
#ifndef HUIKUAN_METRICS_H
#define HUIKUAN_METRICS_H

#include <stdint.h>

typedef struct hk_metric hk_metric_t;

/* Registers (or finds, by name) a counter / gauge. name: "hk_events_published_total".
 * The registry owns metrics; they live until hk_metrics_reset(). NULL on ENOMEM. */
hk_metric_t *hk_metric_counter (const char *name, const char *help);
hk_metric_t *hk_metric_gauge (const char *name, const char *help);
void hk_metric_add (hk_metric_t *m, int64_t by);   /* NULL-safe */
void hk_metric_set (hk_metric_t *m, int64_t value); /* NULL-safe */
int64_t hk_metric_value (const hk_metric_t *m);

/* Constant labels put on every sample, e.g. daemon="aging",instance="aging-1". Copied. */
void hk_metrics_set_labels (const char *daemon, const char *instance);
/* Prometheus text exposition (version 0.0.4); malloc'd, caller frees; NULL on ENOMEM. */
char *hk_metrics_render (void);
/* Logs one line with every metric's value (event "stats"). */
void hk_metrics_log_summary (void);
/* Drops every metric (tests). */
void hk_metrics_reset (void);

#endif
