/* mapping: a company's CSV to records through a column-mapping file. */
#include "mapping.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "csv.h"
#include "encoding.h"
#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "huikuan/json.h"

#define S_MAX_FILE (1 << 20)    /* a mapping file is configuration, not data */
#define S_MAX_FMT 32

/* The feed schema of docs/feeds.md: field names per kind, '*' marking required ones. */
#define S_SCHEMA_MAX 20
static const char *const s_schema[HK_REC_KIND_COUNT][S_SCHEMA_MAX] = {
    [HK_REC_DEBTOR] = { "debtor_id*", "name", "size_class", "time_zone", "calendar", "address",
                        "distance_km", "credit_limit", "currency", "email", "phone", "country",
                        "cause_of_default", "cooperative", "reachability", "do_not_contact",
                        "bankrupt", "closure", "clearance_sale" },
    [HK_REC_CONTACT] = { "contact_id*", "debtor_id*", "role*", "name", "phone", "email",
                         "postal_address" },
    [HK_REC_CONTRACT] = { "contract_id*", "debtor_id*", "terms*", "period_day", "due_on",
                          "signed_by", "sealed", "signed_on" },
    [HK_REC_INVOICE] = { "invoice_id*", "debtor_id*", "currency*", "amount*", "due_on*",
                         "issued_on", "contract_id", "debtor_name", "debtor_email" },
    [HK_REC_CREDIT_NOTE] = { "credit_note_id*", "debtor_id*", "currency*", "amount*",
                             "invoice_id", "issued_on" },
    [HK_REC_PAYMENT] = { "payment_id*", "currency*", "amount*", "received_at*", "debtor_id",
                         "invoice_id", "reference", "payer_name", "payer_account" },
    [HK_REC_PROMISE] = { "promise_id*", "debtor_id*", "currency*", "amount*", "promised_at*",
                         "invoice_id", "recorded_at" },
    [HK_REC_DISPUTE] = { "dispute_id*", "debtor_id*", "invoice_id*", "opened_on*", "currency",
                         "amount", "reason", "status", "resolved_on" },
    [HK_REC_INCOMING_PAYMENT] = { "debtor_id*", "expected_on*", "note" },
    [HK_REC_DELIVERY] = { "delivery_id*", "debtor_id*", "delivered_on*", "contract_id",
                          "currency", "amount", "quantity" },
    [HK_REC_LIMITATION_INTERRUPTION] = { "interruption_id*", "debtor_id*", "invoice_id*",
                                         "interruption*", "occurred_on*", "evidence" },
    [HK_REC_CONTACT_OUTCOME] = { "outcome_id*", "task_id*", "outcome*", "occurred_at*", "note" },
};

typedef enum { S_TEXT, S_AMOUNT, S_DATE, S_INSTANT } s_type_t;
typedef enum { S_COLUMN, S_CONST, S_TEMPLATE } s_from_t;

/* A date format: 'Y' YYYY, 'y' YY, 'M' M, 'm' MM, 'D' D, 'd' DD, 'L' the literal byte lit. */
typedef struct {
    int n;
    struct {
        char kind, lit;
    } tok[S_MAX_FMT];
    char text[S_MAX_FMT + 1];
} s_datefmt_t;

typedef struct {
    char *lit;                  /* literal text, or NULL for a column */
    int col;
} s_part_t;

typedef struct {
    char *name;                 /* canonical field name */
    s_type_t type;
    s_from_t from;
    int col;                    /* S_COLUMN: column id */
    char *text;                 /* S_CONST */
    s_part_t *parts;            /* S_TEMPLATE */
    int nparts;
    char *fallback;             /* "default" */
    char **map_from, **map_to;
    int nmap;
    s_datefmt_t fmt;
    int time_min;               /* minute of day for instants made from dates; -1: none */
} s_field_t;

typedef struct {
    hk_record_kind_t kind;
    int when_col;               /* -1: every row */
    bool when_not_empty;
    char *when_equals;
    s_field_t *fields;
    int nfields;
} s_spec_t;

struct hk_mapping {
    char sep, dec;
    char group[8];
    char *encoding;
    char *time_zone;
    s_datefmt_t fmt;
    char **columns;             /* every column the mapping uses, by id */
    int ncolumns;
    s_spec_t *specs;
    int nspecs;
};

/* ---------------------------------------------------------------------------------------- */
/* Loading */

typedef struct {
    char *why;
    size_t whylen;
    const char *file;           /* base name of the mapping, for messages */
} s_ctx_t;

static void
s_err (s_ctx_t *ctx, const char *where, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (msg, sizeof msg, fmt, ap);
    va_end (ap);
    snprintf (ctx->why, ctx->whylen, "%s: %s%s%s", ctx->file, where ? where : "",
              where ? ": " : "", msg);
}

/* Every key of obj is in allowed (NULL-terminated). */
static bool
s_keys_ok (s_ctx_t *ctx, json_object *obj, const char *const *allowed, const char *where)
{
    char list[200];
    const char *key = hk_json_unknown_key (obj, allowed, list, sizeof list);
    if (key)
        s_err (ctx, where, "unknown option '%.60s' (known: %s)", key, list);
    return !key;
}

/* The string member key of obj: 1 and *out (borrowed from obj), 0 when absent (or null), -1
 * after an error when it is not a string. */
static int
s_string (s_ctx_t *ctx, json_object *obj, const char *key, const char **out, const char *where)
{
    json_object *v = NULL;
    *out = NULL;
    if (!json_object_object_get_ex (obj, key, &v) || !v)
        return 0;
    if (!json_object_is_type (v, json_type_string)) {
        s_err (ctx, where, "'%s' must be a string", key);
        return -1;
    }
    *out = json_object_get_string (v);
    return 1;
}

static bool
s_dup (const char *s, char **out)
{
    *out = strdup (s ? s : "");
    return *out != NULL;
}

/* Parses a date format; false with reason. */
static bool
s_datefmt_parse (const char *text, s_datefmt_t *fmt, char *reason, size_t len)
{
    int ny = 0, nm = 0, nd = 0;
    fmt->n = 0;
    if (strlen (text) > S_MAX_FMT) {
        snprintf (reason, len, "bad date format: longer than %d characters", S_MAX_FMT);
        return false;
    }
    snprintf (fmt->text, sizeof fmt->text, "%s", text);
    for (const char *p = text; *p;) {
        char c = *p, kind;
        if (c == 'Y' || c == 'M' || c == 'D') {
            size_t run = 0;
            while (p[run] == c)
                run++;
            if (c == 'Y' && (run == 4 || run == 2))
                kind = run == 4 ? 'Y' : 'y', ny++;
            else if (c == 'M' && run <= 2)
                kind = run == 1 ? 'M' : 'm', nm++;
            else if (c == 'D' && run <= 2)
                kind = run == 1 ? 'D' : 'd', nd++;
            else {
                snprintf (reason, len, "bad date format '%s': use YYYY or YY, M or MM, D or DD",
                          text);
                return false;
            }
            fmt->tok[fmt->n].kind = kind;
            fmt->tok[fmt->n++].lit = 0;
            p += run;
            continue;
        }
        /* punctuation and non-ASCII bytes ("YYYY年M月D日") are literals */
        if (isalnum ((unsigned char) c) || (unsigned char) c < 0x20 || c == 0x7F) {
            snprintf (reason, len,
                      "bad date format '%s': unknown token '%c' (tokens: YYYY, YY, M, MM, D, DD, "
                      "and punctuation)",
                      text, isprint ((unsigned char) c) ? c : '?');
            return false;
        }
        fmt->tok[fmt->n].kind = 'L';
        fmt->tok[fmt->n++].lit = c;
        p++;
    }
    if (ny != 1 || nm != 1 || nd != 1) {
        snprintf (reason, len, "bad date format '%s': needs one year, one month and one day",
                  text);
        return false;
    }
    return true;
}

/* Column id of name, adding it. -1 on ENOMEM. */
static int
s_column (hk_mapping_t *m, const char *name)
{
    for (int i = 0; i < m->ncolumns; i++)
        if (strcmp (m->columns[i], name) == 0)
            return i;
    char **c = realloc (m->columns, (size_t) (m->ncolumns + 1) * sizeof *c);
    if (!c)
        return -1;
    m->columns = c;
    if (!s_dup (name, &m->columns[m->ncolumns]))
        return -1;
    return m->ncolumns++;
}

static s_type_t
s_type_of (const char *name)
{
    size_t n = strlen (name);
    if (strcmp (name, "amount") == 0 || strcmp (name, "credit_limit") == 0)
        return S_AMOUNT;
    if (strcmp (name, "received_at") == 0 || strcmp (name, "promised_at") == 0
        || strcmp (name, "recorded_at") == 0 || strcmp (name, "occurred_at") == 0)
        return S_INSTANT;
    if (n > 3 && strcmp (name + n - 3, "_on") == 0)
        return S_DATE;
    return S_TEXT;
}

/* The schema entry of name in kind: 1 required, 0 optional, -1 unknown. */
static int
s_schema_field (hk_record_kind_t kind, const char *name)
{
    for (int i = 0; i < S_SCHEMA_MAX && s_schema[kind][i]; i++) {
        const char *s = s_schema[kind][i];
        size_t n = strlen (s), has_star = s[n - 1] == '*';
        if (strlen (name) == n - has_star && strncmp (s, name, n - has_star) == 0)
            return (int) has_star;
    }
    return -1;
}

/* Parses a template into parts. false after an error (ctx) or ENOMEM (*nomem). */
static bool
s_template (s_ctx_t *ctx, hk_mapping_t *m, s_field_t *fd, const char *t, const char *where)
{
    size_t len = strlen (t);
    char *lit = malloc (len + 1);
    if (!lit)
        goto nomem;
    size_t nl = 0;
    for (const char *p = t;;) {
        bool end = !*p;
        bool open = *p == '{' && p[1] != '{';
        if ((end || open) && nl > 0) {
            s_part_t *parts = realloc (fd->parts, (size_t) (fd->nparts + 1) * sizeof *parts);
            if (!parts)
                goto nomem;
            fd->parts = parts;
            lit[nl] = 0;
            if (!s_dup (lit, &parts[fd->nparts].lit))
                goto nomem;
            parts[fd->nparts++].col = -1;
            nl = 0;
        }
        if (end)
            break;
        if (open) {
            const char *close = strchr (p + 1, '}');
            if (!close || close == p + 1) {
                s_err (ctx, where, "template: '{' without a column name and '}'");
                free (lit);
                return false;
            }
            memcpy (lit, p + 1, (size_t) (close - p - 1));
            lit[close - p - 1] = 0;
            s_part_t *parts = realloc (fd->parts, (size_t) (fd->nparts + 1) * sizeof *parts);
            if (!parts)
                goto nomem;
            fd->parts = parts;
            parts[fd->nparts].lit = NULL;
            parts[fd->nparts].col = s_column (m, lit);
            if (parts[fd->nparts++].col < 0)
                goto nomem;
            p = close + 1;
            continue;
        }
        if ((*p == '{' || *p == '}') && p[1] == *p) {
            lit[nl++] = *p;
            p += 2;
            continue;
        }
        if (*p == '}') {
            s_err (ctx, where, "template: '}' without '{' (write '}}' for a brace)");
            free (lit);
            return false;
        }
        lit[nl++] = *p++;
    }
    free (lit);
    return true;
nomem:
    free (lit);
    s_err (ctx, where, "out of memory");
    return false;
}

static bool
s_field (s_ctx_t *ctx, hk_mapping_t *m, s_field_t *fd, json_object *spec, const char *where)
{
    static const char *const keys[] = { "column", "const", "template", "default", "map",
                                        "date_format", "time", NULL };
    if (!json_object_is_type (spec, json_type_object)) {
        s_err (ctx, where, "must be an object with \"column\", \"const\" or \"template\"");
        return false;
    }
    if (!s_keys_ok (ctx, spec, keys, where))
        return false;
    const char *column, *cnst, *tmpl, *fallback, *datefmt, *time;
    int hc = s_string (ctx, spec, "column", &column, where);
    int hk = s_string (ctx, spec, "const", &cnst, where);
    int ht = s_string (ctx, spec, "template", &tmpl, where);
    if (hc < 0 || hk < 0 || ht < 0 || s_string (ctx, spec, "default", &fallback, where) < 0
        || s_string (ctx, spec, "date_format", &datefmt, where) < 0
        || s_string (ctx, spec, "time", &time, where) < 0)
        return false;
    if (hc + hk + ht != 1) {
        s_err (ctx, where, hc + hk + ht == 0 ? "field without \"column\", \"const\" or \"template\""
                                             : "give only one of \"column\", \"const\", \"template\"");
        return false;
    }
    json_object *map = NULL;
    json_object_object_get_ex (spec, "map", &map);
    if (!hc && (fallback || map || datefmt || time)) {
        s_err (ctx, where, "\"default\", \"map\", \"date_format\" and \"time\" apply to "
                           "\"column\" sources only");
        return false;
    }
    fd->time_min = -1;
    fd->fmt = m->fmt;
    if (hc) {
        fd->from = S_COLUMN;
        if (!*column) {
            s_err (ctx, where, "empty column name");
            return false;
        }
        if ((fd->col = s_column (m, column)) < 0)
            goto nomem;
        if (fallback && !s_dup (fallback, &fd->fallback))
            goto nomem;
    }
    else if (hk) {
        fd->from = S_CONST;
        if (!s_dup (cnst, &fd->text))
            goto nomem;
    }
    else {
        fd->from = S_TEMPLATE;
        if (!s_template (ctx, m, fd, tmpl, where))
            return false;
    }
    if (map) {
        if (!json_object_is_type (map, json_type_object)) {
            s_err (ctx, where, "\"map\" must be an object of strings");
            return false;
        }
        int n = json_object_object_length (map);
        fd->map_from = calloc ((size_t) n + 1, sizeof (char *));
        fd->map_to = calloc ((size_t) n + 1, sizeof (char *));
        if (!fd->map_from || !fd->map_to)
            goto nomem;
        json_object_object_foreach (map, from, to) {
            if (!json_object_is_type (to, json_type_string)) {
                s_err (ctx, where, "\"map\": the value for '%.60s' must be a string", from);
                return false;
            }
            if (!s_dup (from, &fd->map_from[fd->nmap]) || !s_dup (json_object_get_string (to),
                                                                  &fd->map_to[fd->nmap]))
                goto nomem;
            fd->nmap++;
        }
    }
    if (datefmt) {
        if (fd->type != S_DATE && fd->type != S_INSTANT) {
            s_err (ctx, where, "\"date_format\" applies to date and instant fields only");
            return false;
        }
        char reason[160];
        if (!s_datefmt_parse (datefmt, &fd->fmt, reason, sizeof reason)) {
            s_err (ctx, where, "%s", reason);
            return false;
        }
    }
    if (time) {
        if (fd->type != S_INSTANT) {
            s_err (ctx, where, "\"time\" applies to instant fields (received_at, promised_at, "
                               "recorded_at, occurred_at) only");
            return false;
        }
        int hh, mm, used = 0;
        if (sscanf (time, "%2d:%2d%n", &hh, &mm, &used) != 2 || time[used] || strlen (time) != 5
            || hh < 0 || hh > 23 || mm < 0 || mm > 59) {
            s_err (ctx, where, "\"time\" must be HH:MM (00:00 to 23:59)");
            return false;
        }
        if (!m->time_zone) {
            s_err (ctx, where, "\"time\" needs the mapping's \"time_zone\"");
            return false;
        }
        fd->time_min = hh * 60 + mm;
    }
    return true;
nomem:
    s_err (ctx, where, "out of memory");
    return false;
}

static bool
s_record_spec (s_ctx_t *ctx, hk_mapping_t *m, s_spec_t *sp, json_object *obj, int index)
{
    static const char *const keys[] = { "kind", "when", "fields", "description", NULL };
    static const char *const when_keys[] = { "column", "not_empty", "equals", NULL };
    char where[160];
    snprintf (where, sizeof where, "records[%d]", index);
    sp->when_col = -1;
    if (!json_object_is_type (obj, json_type_object)) {
        s_err (ctx, where, "must be an object");
        return false;
    }
    if (!s_keys_ok (ctx, obj, keys, where))
        return false;
    const char *kind;
    int hk = s_string (ctx, obj, "kind", &kind, where);
    if (hk < 0)
        return false;
    if (hk == 0) {
        s_err (ctx, where, "\"kind\" is required");
        return false;
    }
    sp->kind = hk_record_kind_parse (kind);
    if (sp->kind == HK_REC_UNKNOWN) {
        s_err (ctx, where, "unknown kind '%.40s' (known: debtor, contact, contract, invoice, "
                           "credit_note, payment, promise, dispute, incoming_payment, delivery, "
                           "limitation_interruption, contact_outcome)",
               kind);
        return false;
    }
    json_object *when = NULL;
    if (json_object_object_get_ex (obj, "when", &when) && when) {
        char w[180];
        snprintf (w, sizeof w, "%s.when", where);
        if (!json_object_is_type (when, json_type_object)) {
            s_err (ctx, w, "must be an object");
            return false;
        }
        if (!s_keys_ok (ctx, when, when_keys, w))
            return false;
        const char *col, *eq;
        int hcol = s_string (ctx, when, "column", &col, w);
        if (hcol < 0 || s_string (ctx, when, "equals", &eq, w) < 0)
            return false;
        json_object *ne = NULL;
        json_object_object_get_ex (when, "not_empty", &ne);
        if (ne && !json_object_is_type (ne, json_type_boolean)) {
            s_err (ctx, w, "'not_empty' must be true or false");
            return false;
        }
        sp->when_not_empty = ne && json_object_get_boolean (ne);
        if (hcol == 0 || !*col || (!sp->when_not_empty && !eq)) {
            s_err (ctx, w, "needs a \"column\" and \"not_empty\": true or \"equals\"");
            return false;
        }
        if ((sp->when_col = s_column (m, col)) < 0 || (eq && !s_dup (eq, &sp->when_equals))) {
            s_err (ctx, w, "out of memory");
            return false;
        }
    }
    json_object *fields = NULL;
    if (!json_object_object_get_ex (obj, "fields", &fields) || !fields
        || !json_object_is_type (fields, json_type_object)) {
        s_err (ctx, where, "\"fields\" (an object) is required");
        return false;
    }
    int n = json_object_object_length (fields);
    if (n > HK_RECORD_MAX_FIELDS) {
        s_err (ctx, where, "more than %d fields", HK_RECORD_MAX_FIELDS);
        return false;
    }
    sp->fields = calloc ((size_t) n + 1, sizeof *sp->fields);
    if (!sp->fields) {
        s_err (ctx, where, "out of memory");
        return false;
    }
    json_object_object_foreach (fields, name, spec) {
        char w[240];
        snprintf (w, sizeof w, "%s.fields.%.60s", where, name);
        if (s_schema_field (sp->kind, name) < 0) {
            s_err (ctx, w, "no field '%.60s' in a %s record (docs/feeds.md)", name,
                   hk_record_kind_name (sp->kind));
            return false;
        }
        s_field_t *fd = &sp->fields[sp->nfields++];
        fd->type = s_type_of (name);
        if (!s_dup (name, &fd->name)) {
            s_err (ctx, w, "out of memory");
            return false;
        }
        if (!s_field (ctx, m, fd, spec, w))
            return false;
    }
    for (int i = 0; i < S_SCHEMA_MAX && s_schema[sp->kind][i]; i++) {
        const char *s = s_schema[sp->kind][i];
        size_t len = strlen (s);
        if (s[len - 1] != '*')
            continue;
        bool given = false;
        for (int f = 0; f < sp->nfields && !given; f++)
            given = strlen (sp->fields[f].name) == len - 1
                    && strncmp (sp->fields[f].name, s, len - 1) == 0;
        if (!given) {
            s_err (ctx, where, "a %s record needs the field %.*s", hk_record_kind_name (sp->kind),
                   (int) len - 1, s);
            return false;
        }
    }
    return true;
}

/* The options at the top of the file. */
static bool
s_options (s_ctx_t *ctx, hk_mapping_t *m, json_object *root)
{
    static const char *const keys[] = { "description", "separator", "encoding",
                                        "decimal_separator", "group_separator", "date_format",
                                        "time_zone", "records", NULL };
    if (!s_keys_ok (ctx, root, keys, NULL))
        return false;
    const char *description, *sep, *enc, *dec, *group, *datefmt, *zone;
    if (s_string (ctx, root, "description", &description, NULL) < 0
        || s_string (ctx, root, "separator", &sep, NULL) < 0
        || s_string (ctx, root, "encoding", &enc, NULL) < 0
        || s_string (ctx, root, "decimal_separator", &dec, NULL) < 0
        || s_string (ctx, root, "group_separator", &group, NULL) < 0
        || s_string (ctx, root, "date_format", &datefmt, NULL) < 0
        || s_string (ctx, root, "time_zone", &zone, NULL) < 0)
        return false;
    m->sep = ',';
    if (sep) {
        if (strlen (sep) != 1 || *sep == '"' || *sep == '\n' || *sep == '\r') {
            s_err (ctx, "separator", "must be one character other than a quote or newline");
            return false;
        }
        m->sep = *sep;
    }
    if (enc && *enc) {
        if (!hk_encoding_known (enc)) {
            s_err (ctx, "encoding", "unknown encoding '%.40s' (known: utf-8, gb18030, gbk, "
                                    "gb2312, auto)", enc);
            return false;
        }
        if (strcasecmp (enc, "auto") != 0 && !s_dup (enc, &m->encoding)) {
            s_err (ctx, NULL, "out of memory");
            return false;
        }
    }
    m->dec = '.';
    if (dec) {
        if (strcmp (dec, ".") != 0 && strcmp (dec, ",") != 0) {
            s_err (ctx, "decimal_separator", "must be \".\" or \",\"");
            return false;
        }
        m->dec = *dec;
    }
    if (group) {
        static const char *const groups[] = { "", ".", ",", " ", "'", "\xC2\xA0",
                                              "\xE2\x80\xAF", NULL };
        const char *const *g = groups;
        while (*g && strcmp (*g, group) != 0)
            g++;
        if (!*g || (*group == m->dec && group[1] == 0)) {
            s_err (ctx, "group_separator", "must be \"\", \".\", \",\", \" \", \"'\", U+00A0 "
                                           "or U+202F, and differ from the decimal separator");
            return false;
        }
        snprintf (m->group, sizeof m->group, "%s", group);
    }
    char reason[160];
    if (!s_datefmt_parse (datefmt ? datefmt : "YYYY-MM-DD", &m->fmt, reason, sizeof reason)) {
        s_err (ctx, "date_format", "%s", reason);
        return false;
    }
    if (zone) {
        if (!hk_tz_valid (zone)) {
            s_err (ctx, "time_zone", "unknown time zone '%.60s' (an IANA name such as "
                                     "Asia/Shanghai)", zone);
            return false;
        }
        if (!s_dup (zone, &m->time_zone)) {
            s_err (ctx, NULL, "out of memory");
            return false;
        }
    }
    return true;
}

/* The file's text (NUL-terminated, caller frees), or NULL with why. */
static char *
s_slurp (s_ctx_t *ctx, const char *path)
{
    FILE *f = fopen (path, "r");
    if (!f) {
        s_err (ctx, NULL, "cannot open: %s", strerror (errno));
        return NULL;
    }
    char *text = malloc (S_MAX_FILE + 1);
    size_t n = text ? fread (text, 1, S_MAX_FILE + 1, f) : 0;
    bool bad = ferror (f);
    fclose (f);
    if (!text || bad || n > S_MAX_FILE) {
        s_err (ctx, NULL, !text ? "out of memory" : bad ? "read failed" : "larger than 1 MiB");
        free (text);
        return NULL;
    }
    text[n] = 0;
    if (strlen (text) != n) {
        s_err (ctx, NULL, "not a JSON file (contains NUL bytes)");
        free (text);
        return NULL;
    }
    return text;
}

hk_mapping_t *
hk_mapping_load (const char *path, char *why, size_t whylen)
{
    const char *slash = strrchr (path, '/');
    s_ctx_t ctx = { .why = why, .whylen = whylen, .file = slash ? slash + 1 : path };
    char *text = s_slurp (&ctx, path);
    if (!text)
        return NULL;
    json_tokener *tok = json_tokener_new ();
    hk_mapping_t *m = calloc (1, sizeof *m);
    json_object *root = NULL;
    if (!tok || !m) {
        s_err (&ctx, NULL, "out of memory");
        goto fail;
    }
    json_tokener_set_flags (tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    const char *body = strncmp (text, "\xEF\xBB\xBF", 3) == 0 ? text + 3 : text;
    root = json_tokener_parse_ex (tok, body, (int) strlen (body) + 1);
    if (json_tokener_get_error (tok) != json_tokener_success) {
        int line = 1;
        for (size_t i = 0; i < json_tokener_get_parse_end (tok) && body[i]; i++)
            line += body[i] == '\n';
        s_err (&ctx, NULL, "not valid JSON: line %d: %s", line,
               json_tokener_error_desc (json_tokener_get_error (tok)));
        goto fail;
    }
    if (!json_object_is_type (root, json_type_object)) {
        s_err (&ctx, NULL, "must be a JSON object with \"records\"");
        goto fail;
    }
    if (!s_options (&ctx, m, root))
        goto fail;
    json_object *records = NULL;
    if (!json_object_object_get_ex (root, "records", &records) || !records
        || !json_object_is_type (records, json_type_array)
        || json_object_array_length (records) == 0) {
        s_err (&ctx, "records", "required: a non-empty array of record mappings");
        goto fail;
    }
    size_t n = json_object_array_length (records);
    m->specs = calloc (n, sizeof *m->specs);
    if (!m->specs) {
        s_err (&ctx, NULL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        m->nspecs++;
        if (!s_record_spec (&ctx, m, &m->specs[i], json_object_array_get_idx (records, i),
                            (int) i))
            goto fail;
    }
    json_object_put (root);
    json_tokener_free (tok);
    free (text);
    return m;
fail:
    json_object_put (root);
    if (tok)
        json_tokener_free (tok);
    free (text);
    hk_mapping_destroy (&m);
    return NULL;
}

static void
s_field_free (s_field_t *fd)
{
    free (fd->name);
    free (fd->text);
    for (int i = 0; i < fd->nparts; i++)
        free (fd->parts[i].lit);
    free (fd->parts);
    free (fd->fallback);
    for (int i = 0; fd->map_from && fd->map_from[i]; i++)
        free (fd->map_from[i]);
    for (int i = 0; fd->map_to && fd->map_to[i]; i++)
        free (fd->map_to[i]);
    free (fd->map_from);
    free (fd->map_to);
}

void
hk_mapping_destroy (hk_mapping_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hk_mapping_t *m = *self_p;
    for (int i = 0; i < m->nspecs; i++) {
        s_spec_t *sp = &m->specs[i];
        for (int f = 0; f < sp->nfields; f++)
            s_field_free (&sp->fields[f]);
        free (sp->fields);
        free (sp->when_equals);
    }
    free (m->specs);
    for (int i = 0; i < m->ncolumns; i++)
        free (m->columns[i]);
    free (m->columns);
    free (m->encoding);
    free (m->time_zone);
    free (m);
    *self_p = NULL;
}

const char *
hk_mapping_encoding (const hk_mapping_t *m)
{
    return m ? m->encoding : NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Converting values */

/* Amount text with the mapping's separators → "1234.50" into out (at least strlen(in) + 3
 * bytes). NULL, or the reason it is not an amount. Text only: never through a double. */
static const char *
s_amount (const hk_mapping_t *m, const char *in, char *out)
{
    const char *p = in;
    size_t n = 0, glen = strlen (m->group);
    if (*p == '-' || *p == '+') {
        if (*p == '-')
            out[n++] = '-';
        p++;
    }
    size_t int_at = n, digits = 0;
    int since_group = -1;       /* digits since the last group separator; -1: none yet */
    for (;;) {
        if (*p >= '0' && *p <= '9') {
            out[n++] = *p++;
            digits++;
            if (since_group >= 0)
                since_group++;
            continue;
        }
        if (glen && strncmp (p, m->group, glen) == 0) {
            if (digits == 0 || (since_group < 0 ? digits > 3 : since_group != 3))
                return "not a number: misplaced group separator";
            since_group = 0;
            p += glen;
            continue;
        }
        break;
    }
    if (since_group >= 0 && since_group != 3)
        return "not a number: misplaced group separator";
    /* leading zeros go, one stays */
    size_t z = 0;
    while (z + 1 < digits && out[int_at + z] == '0')
        z++;
    memmove (out + int_at, out + int_at + z, digits - z);
    n -= z;
    size_t frac = 0;
    if (*p == m->dec) {
        p++;
        if (digits == 0)
            out[n++] = '0';
        out[n++] = '.';
        while (*p >= '0' && *p <= '9') {
            out[n++] = *p++;
            frac++;
        }
        if (frac == 0)
            n--;                /* "12." is 12 */
    }
    if (*p)
        return m->dec == ',' ? "not a number (decimal separator ',')"
                             : "not a number (decimal separator '.')";
    if (digits == 0 && frac == 0)
        return "not a number";
    out[n] = 0;
    return NULL;
}

/* Date text in fmt → day number. NULL, or the reason. */
static const char *
s_date (const s_datefmt_t *fmt, const char *s, int32_t *days)
{
    int year = -1, month = -1, day = -1;
    for (int i = 0; i < fmt->n; i++) {
        char k = fmt->tok[i].kind;
        if (k == 'L') {
            if (*s != fmt->tok[i].lit)
                return "not a date in the mapping's date format";
            s++;
            continue;
        }
        int min = 2, max = 2;
        if (k == 'Y')
            min = max = 4;
        else if (k == 'M' || k == 'D')
            min = 1;
        else if ((k == 'm' || k == 'd') && (i + 1 == fmt->n || fmt->tok[i + 1].kind == 'L'))
            min = 1;            /* MM and DD take "3" when a separator follows */
        int v = 0, nd = 0;
        while (nd < max && *s >= '0' && *s <= '9') {
            v = v * 10 + (*s++ - '0');
            nd++;
        }
        if (nd < min)
            return "not a date in the mapping's date format";
        if (k == 'Y')
            year = v;
        else if (k == 'y')
            year = v < 69 ? 2000 + v : 1900 + v;
        else if (k == 'M' || k == 'm')
            month = v;
        else
            day = v;
    }
    if (*s)
        return "not a date in the mapping's date format";
    char iso[32];
    if (snprintf (iso, sizeof iso, "%04d-%02d-%02d", year, month, day) >= (int) sizeof iso
        || hk_date_parse (iso, days) != 0)
        return "no such date";
    return NULL;
}

/* RFC 3339 text of the local time minute on date in zone: "2013-01-15T12:00:00-05:00". */
static const char *
s_instant (const char *zone, int32_t date, int minute, char *out, size_t len)
{
    int64_t us;
    hk_local_t loc;
    if (hk_tz_instant (zone, date, minute, &us) != 0 || hk_tz_local (zone, us, &loc) != 0)
        return "cannot place the time in the mapping's time zone";
    char day[32];
    hk_date_format (loc.date, day, sizeof day);
    int off = loc.utc_offset_min, aoff = off < 0 ? -off : off, n;
    if (off == 0)
        n = snprintf (out, len, "%sT%02d:%02d:%02dZ", day, loc.minute_of_day / 60,
                      loc.minute_of_day % 60, loc.second);
    else
        n = snprintf (out, len, "%sT%02d:%02d:%02d%c%02d:%02d", day, loc.minute_of_day / 60,
                      loc.minute_of_day % 60, loc.second, off < 0 ? '-' : '+', aoff / 60,
                      aoff % 60);
    return n < 0 || (size_t) n >= len ? "cannot place the time in the mapping's time zone" : NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Reading */

typedef struct {
    char *buf;
    size_t len, cap;
} s_arena_t;

/* Room for need more bytes at a->buf + a->len; NULL on ENOMEM. */
static char *
s_room (s_arena_t *a, size_t need)
{
    if (a->len + need > a->cap) {
        size_t cap = a->cap ? a->cap : 1024;
        while (a->len + need > cap)
            cap *= 2;
        char *b = realloc (a->buf, cap);
        if (!b)
            return NULL;
        a->buf = b;
        a->cap = cap;
    }
    return a->buf + a->len;
}

static bool
s_append (s_arena_t *a, const char *s, size_t n)
{
    char *at = s_room (a, n + 1);
    if (!at)
        return false;
    memcpy (at, s, n);
    at[n] = 0;
    a->len += n;
    return true;
}

/* The value of fd for the row (cells by column id) appended to a, NUL-terminated, a->len just
 * past it; *present false when absent. NULL, a reason for a reject, or "" for ENOMEM. */
static const char *
s_value (const hk_mapping_t *m, const s_field_t *fd, const char *const *cells, s_arena_t *a,
         bool *present)
{
    size_t start = a->len;
    *present = false;
    if (fd->from == S_CONST) {
        if (!*fd->text)
            return NULL;
        if (!s_append (a, fd->text, strlen (fd->text)))
            return "";
        a->len++;   /* past the NUL */
        *present = true;
        return NULL;
    }
    if (fd->from == S_TEMPLATE) {
        for (int i = 0; i < fd->nparts; i++) {
            const char *t = fd->parts[i].lit ? fd->parts[i].lit : cells[fd->parts[i].col];
            if (!*t) {
                a->len = start;
                return NULL;
            }
            if (!s_append (a, t, strlen (t)))
                return "";
        }
        a->len++;   /* past the NUL */
        *present = a->len - start > 1;
        if (!*present)
            a->len = start;
        return NULL;
    }
    const char *v = cells[fd->col];
    if (!*v && fd->fallback)
        v = fd->fallback;
    for (int i = 0; i < fd->nmap; i++)
        if (strcmp (v, fd->map_from[i]) == 0) {
            v = fd->map_to[i];
            break;
        }
    if (!*v)
        return NULL;
    const char *bad = NULL;
    int32_t days;
    switch (fd->type) {
    case S_AMOUNT: {
        char *at = s_room (a, strlen (v) + 3);
        if (!at)
            return "";
        if ((bad = s_amount (m, v, at)) != NULL)
            return bad;
        a->len += strlen (at);
        break;
    }
    case S_DATE: {
        char *at = s_room (a, 16);
        if (!at)
            return "";
        if ((bad = s_date (&fd->fmt, v, &days)) != NULL)
            return bad;
        hk_date_format (days, at, 16);
        a->len += strlen (at);
        break;
    }
    case S_INSTANT:
        if (fd->time_min >= 0) {
            char *at = s_room (a, 40);
            if (!at)
                return "";
            if ((bad = s_date (&fd->fmt, v, &days)) != NULL
                || (bad = s_instant (m->time_zone, days, fd->time_min, at, 40)) != NULL)
                return bad;
            a->len += strlen (at);
            break;
        }
        /* without "time" the column already holds an instant; validation checks it */
        /* fall through */
    case S_TEXT:
        if (!s_append (a, v, strlen (v)))
            return "";
        break;
    }
    a->len++;       /* past the NUL */
    *present = true;
    return NULL;
}

static char *
s_trim (char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t len = strlen (v);
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        v[--len] = 0;
    return v;
}

/* The position of the nth (1-based) header column named name, case aside; -1 when there is
 * none; *count gets how many columns have that name. */
static int
s_find_column (char **header, int n, const char *name, size_t namelen, int nth, int *count)
{
    int pos = -1;
    *count = 0;
    for (int i = 0; i < n; i++)
        if (strlen (header[i]) == namelen && strncasecmp (header[i], name, namelen) == 0
            && ++*count == nth)
            pos = i;
    return pos;
}

/* Column ids → header positions (names compared case aside); HK_EPARSE naming the missing
 * ones. A column the header names more than once is ambiguous: the mapping names one of them
 * as "Name#2" (the second), and a plain "Name" fails the file rather than taking either. */
static int
s_resolve (const hk_mapping_t *m, char **header, int n, int *pos, char *why, size_t whylen)
{
    for (int i = 0; i < n; i++)
        header[i] = s_trim (header[i]);
    char missing[200] = "";
    int nmissing = 0;
    for (int c = 0; c < m->ncolumns; c++) {
        const char *name = m->columns[c];
        int count;
        pos[c] = s_find_column (header, n, name, strlen (name), 1, &count);
        if (count > 1) {
            snprintf (why, whylen,
                      "the header names column \"%.64s\" %d times; the mapping must say which:"
                      " \"%.64s#1\" … \"%.64s#%d\"",
                      name, count, name, name, count);
            return HK_EPARSE;
        }
        const char *hash = strrchr (name, '#');
        if (count == 0 && hash && hash > name && hash[1] >= '1' && hash[1] <= '9'
            && strspn (hash + 1, "0123456789") == strlen (hash + 1) && strlen (hash + 1) < 4)
            pos[c] = s_find_column (header, n, name, (size_t) (hash - name), atoi (hash + 1),
                                    &count);
        if (pos[c] < 0) {
            size_t used = strlen (missing);
            snprintf (missing + used, sizeof missing - used, "%s%s", nmissing ? ", " : "",
                      name);
            nmissing++;
        }
    }
    if (nmissing) {
        snprintf (why, whylen, "the header lacks column%s the mapping uses: %s",
                  nmissing > 1 ? "s" : "", missing);
        return HK_EPARSE;
    }
    return 0;
}

int
hk_mapping_read (const hk_mapping_t *m, FILE *f, const hk_sink_t *sink, char *why,
                 size_t whylen)
{
    hk_csv_t *csv = hk_csv_new (f, m->sep);
    int *pos = calloc ((size_t) m->ncolumns + 1, sizeof *pos);
    const char **cells = calloc ((size_t) m->ncolumns + 1, sizeof *cells);
    s_arena_t arena = { 0 };
    int rc = HK_ENOMEM;
    if (!csv || !pos || !cells)
        goto done;
    char **row;
    int n;
    long line;
    rc = hk_csv_next (csv, &row, &n, &line);
    if (rc <= 0) {
        if (rc == HK_EPARSE)
            snprintf (why, whylen, "%s", hk_csv_error (csv));
        else if (rc == 0 && !ferror (f)) {
            snprintf (why, whylen, "empty file: no header row");
            rc = HK_EPARSE;
        }
        goto done;
    }
    if ((rc = s_resolve (m, row, n, pos, why, whylen)) != 0)
        goto done;
    while ((rc = hk_csv_next (csv, &row, &n, &line)) == 1) {
        rc = 0;
        for (int c = 0; c < m->ncolumns; c++)
            cells[c] = pos[c] < n ? s_trim (row[pos[c]]) : "";
        for (int s = 0; s < m->nspecs && rc == 0; s++) {
            const s_spec_t *sp = &m->specs[s];
            if (sp->when_col >= 0) {
                const char *w = cells[sp->when_col];
                if ((sp->when_not_empty && !*w)
                    || (sp->when_equals && strcmp (w, sp->when_equals) != 0))
                    continue;
            }
            hk_record_t rec = { .kind = sp->kind, .line = line };
            size_t at[HK_RECORD_MAX_FIELDS];
            bool has[HK_RECORD_MAX_FIELDS];
            const char *bad = NULL;
            int f_bad = 0;
            arena.len = 0;
            for (int i = 0; i < sp->nfields && !bad; i++) {
                at[i] = arena.len;
                bad = s_value (m, &sp->fields[i], cells, &arena, &has[i]);
                f_bad = i;
            }
            if (bad && !*bad) {
                rc = HK_ENOMEM;
                break;
            }
            if (bad) {
                sink->reject (sink->arg, line, sp->fields[f_bad].name, bad);
                continue;
            }
            for (int i = 0; i < sp->nfields; i++)
                if (has[i])
                    hk_record_set (&rec, sp->fields[i].name, arena.buf + at[i]);
            rc = sink->record (sink->arg, &rec);
        }
        if (rc < 0)
            break;
    }
    if (rc == HK_EPARSE)
        snprintf (why, whylen, "%s", hk_csv_error (csv));
done:
    /* a stream that failed (an encoding error) explains whatever came of it */
    if ((rc >= 0 || rc == HK_EPARSE) && ferror (f)) {
        const char *e = hk_encoding_error (f);
        snprintf (why, whylen, "%s", e ? e : "read failed");
        rc = e ? HK_EPARSE : HK_EIO;
    }
    hk_csv_destroy (&csv);
    free (pos);
    free (cells);
    free (arena.buf);
    return rc < 0 ? rc : 0;
}
