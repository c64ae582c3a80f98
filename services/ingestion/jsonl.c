/* jsonl: JSON Lines to records. */
#include "jsonl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "encoding.h"
#include "huikuan/errcodes.h"

#define S_MAX_LINE ((size_t) 64 << 20)

typedef struct {
    char *buf;
    size_t len, cap;
    bool too_long;
} s_line_t;

/* Next line without its '\n' into l (NUL-terminated). 1, 0 at end of input, HK_ENOMEM. */
static int
s_next_line (FILE *f, s_line_t *l)
{
    l->len = 0;
    l->too_long = false;
    int c;
    bool any = false;
    while ((c = getc (f)) != EOF) {
        any = true;
        if (c == '\n')
            break;
        if (l->too_long)
            continue;
        if (l->len + 2 > l->cap) {
            if (l->cap >= S_MAX_LINE) {
                l->too_long = true;
                continue;
            }
            size_t cap = l->cap ? l->cap * 2 : 4096;
            char *b = realloc (l->buf, cap);
            if (!b)
                return HK_ENOMEM;
            l->buf = b;
            l->cap = cap;
        }
        l->buf[l->len++] = (char) c;
    }
    if (!any || (c == EOF && ferror (f)))
        return 0;   /* a failed read ends the input; the caller reports it */
    if (!l->buf) {
        l->buf = malloc (4096);
        if (!l->buf)
            return HK_ENOMEM;
        l->cap = 4096;
    }
    l->buf[l->len] = 0;
    return 1;
}

static bool
s_blank (const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* Canonical text of one member's value into *out (NULL: absent), or a reason why not. The
 * text points into v, which lives as long as the parsed line. */
static const char *
s_value (json_object *v, const char **out)
{
    *out = NULL;
    switch (json_object_get_type (v)) {
    case json_type_null:
        return NULL;
    case json_type_boolean:
        *out = json_object_get_boolean (v) ? "true" : "false";
        return NULL;
    case json_type_int: {
        /* json-c clamps integers that do not fit 64 bits to these */
        const char *t = json_object_get_string (v);
        if (strcmp (t, "9223372036854775807") == 0 || strcmp (t, "-9223372036854775808") == 0
            || strcmp (t, "18446744073709551615") == 0)
            return "integer too large: write amounts as strings";
        *out = t;
        return NULL;
    }
    case json_type_double: {
        /* the tokener keeps the number's text as written (json_object_new_double_s) */
        const char *t = json_object_get_userdata (v);
        if (!t || !*t)
            return "number not kept as written: write amounts as strings";
        if (strpbrk (t, "eE"))
            return "number in exponent form: write amounts as plain decimals or strings";
        *out = t;
        return NULL;
    }
    case json_type_string:
        if (strlen (json_object_get_string (v)) != (size_t) json_object_get_string_len (v))
            return "contains a NUL character";
        *out = json_object_get_string (v);
        return NULL;
    case json_type_object:
    case json_type_array:
        return "nested objects and arrays are not allowed: give a plain value";
    }
    return "unsupported JSON value";
}

/* One parsed object: a record to the sink, or a reject. Returns 0 or the sink's code. */
static int
s_object (json_object *obj, long line, const hk_sink_t *sink)
{
    json_object *k = NULL;
    if (!json_object_object_get_ex (obj, "kind", &k) || !json_object_is_type (k, json_type_string)) {
        sink->reject (sink->arg, line, "kind", k ? "must be a string" : "required");
        return 0;
    }
    hk_record_t rec = { .line = line };
    rec.kind = hk_record_kind_parse (json_object_get_string (k));
    if (rec.kind == HK_REC_UNKNOWN) {
        sink->reject (sink->arg, line, "kind", "unknown record kind");
        return 0;
    }
    json_object_object_foreach (obj, name, v) {
        if (strcmp (name, "kind") == 0)
            continue;
        const char *text;
        const char *bad = s_value (v, &text);
        if (bad) {
            sink->reject (sink->arg, line, name, bad);
            return 0;
        }
        if (!text)
            continue;
        if (hk_record_set (&rec, name, text) != 0) {
            sink->reject (sink->arg, line, "(line)", "more than 32 fields");
            return 0;
        }
    }
    return sink->record (sink->arg, &rec);
}

int
hk_jsonl_read (FILE *f, const hk_sink_t *sink, char *why, size_t whylen)
{
    json_tokener *tok = json_tokener_new ();
    if (!tok)
        return HK_ENOMEM;
    json_tokener_set_flags (tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    s_line_t l = { 0 };
    long lineno = 0;
    bool seen_json = false;
    int rc;
    while ((rc = s_next_line (f, &l)) == 1) {
        lineno++;
        char *text = l.buf;
        size_t len = l.len;
        if (lineno == 1 && len >= 3 && memcmp (text, "\xEF\xBB\xBF", 3) == 0) {
            text += 3;
            len -= 3;
        }
        if (l.too_long) {
            sink->reject (sink->arg, lineno, "(line)", "line longer than 64 MiB");
            seen_json = true;
            continue;
        }
        if (s_blank (text, len))
            continue;
        json_object *obj = NULL;
        enum json_tokener_error err = json_tokener_error_parse_unexpected;
        if (!memchr (text, 0, len)) {
            json_tokener_reset (tok);
            /* the terminating NUL ends a number at the end of the line */
            obj = json_tokener_parse_ex (tok, text, (int) len + 1);
            err = json_tokener_get_error (tok);
        }
        if (err != json_tokener_success) {
            if (!seen_json) {
                snprintf (why, whylen, "not JSON Lines: line %ld: %s", lineno,
                          json_tokener_error_desc (err));
                rc = HK_EPARSE;
                break;
            }
            sink->reject (sink->arg, lineno, "(line)", "not valid JSON");
            continue;
        }
        seen_json = true;
        if (!json_object_is_type (obj, json_type_object))
            sink->reject (sink->arg, lineno, "(line)", "not a JSON object");
        else
            rc = s_object (obj, lineno, sink);
        json_object_put (obj);
        if (rc < 0)
            break;
    }
    if (rc >= 0 && ferror (f)) {
        const char *e = hk_encoding_error (f);
        snprintf (why, whylen, "line %ld: %s", lineno + 1, e ? e : "read failed");
        rc = e ? HK_EPARSE : HK_EIO;
    }
    free (l.buf);
    json_tokener_free (tok);
    return rc < 0 ? rc : 0;
}
