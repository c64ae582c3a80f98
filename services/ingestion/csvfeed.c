/* csvfeed: project-schema CSV to records. */
#include "csvfeed.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "feed.h"
#include "huikuan/errcodes.h"

int
hk_csvfeed_read (FILE *f, const hk_sink_t *sink, char *why, size_t whylen)
{
    hk_csv_t *csv = hk_csv_new (f, ',');
    if (!csv)
        return HK_ENOMEM;
    char **fields;
    int n, rc;
    long line;
    rc = hk_csv_next (csv, &fields, &n, &line);
    if (rc <= 0) {
        snprintf (why, whylen, "%s", rc == 0 ? "empty file: no header row" : hk_csv_error (csv));
        hk_csv_destroy (&csv);
        return rc == 0 ? HK_EPARSE : rc;
    }
    /* The header's names, trimmed and lower-cased, owned here. A record holds at most
     * HK_RECORD_MAX_FIELDS fields: columns beyond that would be dropped unseen, so such a
     * header fails the file (as would a name given twice: which column is meant?). */
    int ncols = n, named = 0;
    char **names = calloc ((size_t) ncols + 1, sizeof *names);
    if (!names) {
        hk_csv_destroy (&csv);
        return HK_ENOMEM;
    }
    int kind_col = -1;
    for (int i = 0; i < ncols; i++) {
        const char *v = fields[i];
        while (*v == ' ' || *v == '\t')
            v++;
        names[i] = strdup (v);
        if (!names[i]) {
            for (int j = 0; j < i; j++)
                free (names[j]);
            free (names);
            hk_csv_destroy (&csv);
            return HK_ENOMEM;
        }
        size_t len = strlen (names[i]);
        while (len && (names[i][len - 1] == ' ' || names[i][len - 1] == '\t'))
            names[i][--len] = 0;
        for (char *c = names[i]; *c; c++)
            *c = (char) tolower ((unsigned char) *c);
        if (strcmp (names[i], "kind") == 0)
            kind_col = i;
        named += *names[i] != 0;
    }
    rc = 0;
    if (named > HK_RECORD_MAX_FIELDS) {
        snprintf (why, whylen, "header names %d columns; at most %d are read", named,
                  HK_RECORD_MAX_FIELDS);
        rc = HK_EPARSE;
    }
    int col[HK_RECORD_MAX_FIELDS], ncol = 0; /* the named columns, at most that many here */
    for (int i = 0; i < ncols && rc == 0; i++) {
        if (!*names[i])
            continue;
        for (int j = 0; j < ncol && rc == 0; j++)
            if (strcmp (names[i], names[col[j]]) == 0) {
                snprintf (why, whylen, "header names column \"%.64s\" twice (columns %d and %d)",
                          names[i], col[j] + 1, i + 1);
                rc = HK_EPARSE;
            }
        col[ncol++] = i;
    }
    hk_record_kind_t file_kind = HK_REC_UNKNOWN;
    if (rc == 0 && kind_col < 0) {
        char missing[200];
        file_kind = hk_feed_kind_of_header (names, ncols, missing, sizeof missing);
        if (file_kind == HK_REC_UNKNOWN) {
            snprintf (why, whylen, "header names no known record kind; missing: %s", missing);
            rc = HK_EPARSE;
        }
        else if (sink->one_kind)
            rc = sink->one_kind (sink->arg, file_kind);
    }
    while (rc == 0 && (rc = hk_csv_next (csv, &fields, &n, &line)) == 1) {
        hk_record_t rec = { .kind = file_kind, .line = line };
        if (kind_col >= 0) {
            const char *k = kind_col < n ? fields[kind_col] : "";
            rec.kind = hk_record_kind_parse (k);
            if (rec.kind == HK_REC_UNKNOWN) {
                sink->reject (sink->arg, line, "kind", *k ? "unknown record kind" : "required");
                rc = 0;
                continue;
            }
        }
        for (int i = 0; i < ncols && i < n; i++) {
            if (i == kind_col || !*names[i])
                continue;
            /* trim the value in place */
            char *v = fields[i];
            while (*v == ' ' || *v == '\t')
                v++;
            size_t len = strlen (v);
            while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
                v[--len] = 0;
            hk_record_set (&rec, names[i], v);
        }
        rc = sink->record (sink->arg, &rec);
    }
    if (rc == HK_EPARSE && !*why)
        snprintf (why, whylen, "%s", hk_csv_error (csv));
    for (int i = 0; i < ncols; i++)
        free (names[i]);
    free (names);
    hk_csv_destroy (&csv);
    return rc;
}
