/* Self-test of metrics: registration, counters and gauges, Prometheus text with constant
 * labels, concurrent increments from two threads, the log summary, a full registry. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "huikuan/log.h"
#include "huikuan/metrics.h"

#define S_PER_THREAD 200000

static void *
s_bump (void *arg)
{
    hk_metric_t *m = arg;
    for (int i = 0; i < S_PER_THREAD; i++)
        hk_metric_add (m, 1);
    return NULL;
}

int
hk_metrics_test (bool verbose)
{
    int failures = 0;
    hk_metrics_reset ();
    hk_metrics_set_labels ("aging", "aging-1");

    hk_metric_t *c = hk_metric_counter ("hk_test_events_total", "Events seen");
    hk_metric_t *g = hk_metric_gauge ("hk_test_backlog", "Rows waiting\\now");
    CHECK (c != NULL && g != NULL);
    CHECK (hk_metric_counter ("hk_test_events_total", "again") == c);   /* found by name */
    CHECK (hk_metric_gauge ("hk_test_events_total", "other type") == NULL);
    CHECK (hk_metric_counter ("bad name", "x") == NULL);
    CHECK (hk_metric_counter ("1st", "x") == NULL);
    CHECK (hk_metric_counter ("", "x") == NULL);
    CHECK (hk_metric_counter (NULL, "x") == NULL);
    hk_metric_add (NULL, 1);   /* NULL-safe */
    hk_metric_set (NULL, 1);
    CHECK_INT (hk_metric_value (NULL), 0);

    hk_metric_add (c, 2);
    hk_metric_add (c, 3);
    hk_metric_add (c, -10);   /* counters only go up */
    CHECK_INT (hk_metric_value (c), 5);
    hk_metric_set (g, 7);
    hk_metric_add (g, -9);
    CHECK_INT (hk_metric_value (g), -2);

    char *text = hk_metrics_render ();
    CHECK (text != NULL);
    CHECK (text && strstr (text, "# HELP hk_test_events_total Events seen\n"
                                 "# TYPE hk_test_events_total counter\n"
                                 "hk_test_events_total{daemon=\"aging\",instance=\"aging-1\"} 5\n"));
    CHECK (text && strstr (text, "# HELP hk_test_backlog Rows waiting\\\\now\n"
                                 "# TYPE hk_test_backlog gauge\n"
                                 "hk_test_backlog{daemon=\"aging\",instance=\"aging-1\"} -2\n"));
    if (verbose && text)
        printf ("%s", text);
    free (text);

    /* label values are escaped; no labels, no braces */
    hk_metrics_set_labels ("ag\"ing", "a\\b\nc");
    text = hk_metrics_render ();
    CHECK (text && strstr (text, "hk_test_events_total{daemon=\"ag\\\"ing\",instance=\"a\\\\b\\nc\"} 5\n"));
    free (text);
    hk_metrics_set_labels (NULL, "only-instance");
    text = hk_metrics_render ();
    CHECK (text && strstr (text, "hk_test_events_total{instance=\"only-instance\"} 5\n"));
    free (text);
    hk_metrics_set_labels (NULL, NULL);
    text = hk_metrics_render ();
    CHECK (text && strstr (text, "\nhk_test_events_total 5\n"));
    free (text);
    hk_metrics_set_labels ("aging", "aging-1");

    /* Two writers while a reader renders */
    hk_metric_t *hits = hk_metric_counter ("hk_test_hits_total", "Concurrent hits");
    pthread_t t1, t2;
    CHECK_INT (pthread_create (&t1, NULL, s_bump, hits), 0);
    CHECK_INT (pthread_create (&t2, NULL, s_bump, hits), 0);
    for (int i = 0; i < 20; i++) {
        char *snap = hk_metrics_render ();
        CHECK (snap != NULL);
        free (snap);
    }
    pthread_join (t1, NULL);
    pthread_join (t2, NULL);
    CHECK_INT (hk_metric_value (hits), 2 * S_PER_THREAD);

    /* The summary line */
    FILE *f = tmpfile ();
    hk_log_set_stream (f);
    hk_log_level_t saved = hk_log_level;
    hk_log_init ("aging", HK_INFO, false);
    hk_metrics_log_summary ();
    fflush (f);
    long n = ftell (f);
    char *line = calloc (1, (size_t) n + 1);
    rewind (f);
    CHECK (fread (line, 1, (size_t) n, f) == (size_t) n);
    CHECK (strstr (line, " INFO aging[") != NULL);
    CHECK (strstr (line, " stats hk_test_events_total=5 hk_test_backlog=-2 "
                         "hk_test_hits_total=400000\n") != NULL);
    free (line);
    hk_log_set_stream (NULL);
    fclose (f);
    hk_log_init ("huikuan", saved, false);

    /* Reset drops everything; the registry has a fixed size */
    hk_metrics_reset ();
    text = hk_metrics_render ();
    CHECK_STR (text, "");
    free (text);
    int made = 0;
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf (name, sizeof name, "hk_test_%d_total", i);
        if (hk_metric_counter (name, "filler"))
            made++;
    }
    CHECK_INT (made, 256);
    hk_metrics_reset ();
    CHECK (hk_metric_counter ("hk_test_after_reset_total", "fine again") != NULL);
    hk_metrics_reset ();
    return failures;
}
