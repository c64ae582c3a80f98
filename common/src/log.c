/* log: structured log lines (STYLE 8). See log.h.
 *
 * Text:  2026-11-24T07:27:24.123Z INFO aging[1234] invoice.aged invoice=INV-1 dpd=3
 * JSON:  {"ts":"2026-11-24T07:27:24.123Z","level":"info","daemon":"aging","pid":1234,
 *         "event":"invoice.aged","invoice":"INV-1","dpd":3}
 *
 * A line is built in memory and written with one fwrite, then flushed, so lines from
 * different threads never interleave (stdio locks the stream per call). Text values that are
 * empty or contain blanks, quotes, '=', backslashes or control characters are double-quoted
 * with C-style escapes. Phone numbers, e-mail addresses and names are masked before they
 * are written, in both formats. Bytes that are not valid UTF-8 are written as '?'.
 *
 * hk_log_init and hk_log_set_stream change process-wide state: call them from the main
 * thread while no other thread logs. */
#include "huikuan/log.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "huikuan/errcodes.h"

hk_log_level_t hk_log_level = HK_INFO;

static char s_daemon[64] = "huikuan";
static bool s_json;
static FILE *s_stream;   /* NULL: stderr */

static const char *const s_level_upper[] = { "DEBUG", "INFO", "WARN", "ERROR" };
static const char *const s_level_lower[] = { "debug", "info", "warn", "error" };

void
hk_log_init (const char *daemon, hk_log_level_t level, bool json)
{
    snprintf (s_daemon, sizeof s_daemon, "%s", daemon && *daemon ? daemon : "huikuan");
    hk_log_level = level < HK_DEBUG ? HK_DEBUG : level > HK_ERROR ? HK_ERROR : level;
    s_json = json;
}

int
hk_log_level_parse (const char *name, hk_log_level_t *out)
{
    if (!name)
        return HK_EINVAL;
    for (int i = HK_DEBUG; i <= HK_ERROR; i++)
        if (strcasecmp (name, s_level_lower[i]) == 0) {
            if (out)
                *out = (hk_log_level_t) i;
            return 0;
        }
    return HK_EINVAL;
}

void
hk_log_set_stream (void *file)
{
    s_stream = file;
}

/* ---------------------------------------------------------------------------------------
 * UTF-8 */

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0 when it is not valid. */
static size_t
s_utf8_len (const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if ((p[0] & 0xE0) == 0xC0) {
        n = 2;
        cp = p[0] & 0x1F;
    }
    else if ((p[0] & 0xF0) == 0xE0) {
        n = 3;
        cp = p[0] & 0x0F;
    }
    else if ((p[0] & 0xF8) == 0xF0) {
        n = 4;
        cp = p[0] & 0x07;
    }
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)
        || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* Length of the character at p: its UTF-8 length, or 1 for a stray byte. */
static size_t
s_char_len (const char *p)
{
    size_t n = s_utf8_len ((const unsigned char *) p);
    return n ? n : 1;
}

/* ---------------------------------------------------------------------------------------
 * Masking */

/* Appends n bytes of s to buf (len bytes, pos used) if they fit whole; once something did
 * not fit, nothing more is added (the output is cut, never holed). */
static void
s_mask_put (char *buf, size_t len, size_t *pos, const char *s, size_t n)
{
    if (*pos >= len || *pos + n + 1 > len) {
        *pos = len;
        return;
    }
    memcpy (buf + *pos, s, n);
    *pos += n;
    buf[*pos] = 0;
}

void
hk_mask_phone (const char *in, char *buf, size_t len)
{
    if (!buf || !len)
        return;
    buf[0] = 0;
    if (!in)
        return;
    size_t digits = 0;
    for (const char *p = in; *p; p++)
        if (isdigit ((unsigned char) *p))
            digits++;
    /* The last four digits stay visible only when they are a small part of the number. */
    size_t keep_from = digits >= 7 ? digits - 4 : digits;
    size_t pos = 0, seen = 0;
    for (const char *p = in; *p;) {
        size_t n = s_char_len (p);
        if (isdigit ((unsigned char) *p)) {
            s_mask_put (buf, len, &pos, seen >= keep_from ? p : "*", 1);
            seen++;
        }
        else if (strchr ("+-() .", *p))
            s_mask_put (buf, len, &pos, p, 1);
        else
            s_mask_put (buf, len, &pos, "*", 1);
        p += n;
    }
}

/* First character of s (n bytes) then "***". */
static void
s_mask_part (const char *s, size_t n, char *buf, size_t len, size_t *pos)
{
    if (n > 0) {
        size_t c = s_utf8_len ((const unsigned char *) s);
        if (c && c <= n)
            s_mask_put (buf, len, pos, s, c);
    }
    s_mask_put (buf, len, pos, "***", 3);
}

void
hk_mask_email (const char *in, char *buf, size_t len)
{
    if (!buf || !len)
        return;
    buf[0] = 0;
    if (!in || !*in)
        return;
    size_t pos = 0;
    const char *at = strrchr (in, '@');
    if (!at) {
        s_mask_part (in, strlen (in), buf, len, &pos);
        return;
    }
    s_mask_part (in, (size_t) (at - in), buf, len, &pos);
    s_mask_put (buf, len, &pos, "@", 1);
    const char *domain = at + 1;
    const char *dot = strrchr (domain, '.');
    if (!dot || dot == domain || !dot[1]) {
        s_mask_part (domain, strlen (domain), buf, len, &pos);
        return;
    }
    s_mask_part (domain, (size_t) (dot - domain), buf, len, &pos);
    /* The top-level domain stays: ".cn" says little about the person. Keep it short. */
    size_t tld = strlen (dot);
    bool plain = tld <= 16;
    for (const char *p = dot + 1; *p && plain; p++)
        plain = isalnum ((unsigned char) *p) || *p == '-';
    s_mask_put (buf, len, &pos, plain ? dot : ".***", plain ? tld : 4);
}

void
hk_mask_name (const char *in, char *buf, size_t len)
{
    if (!buf || !len)
        return;
    buf[0] = 0;
    if (!in || !*in)
        return;
    size_t pos = 0, chars = 0;
    for (const char *p = in; *p; p += s_char_len (p))
        chars++;
    size_t first = s_utf8_len ((const unsigned char *) in);
    /* A one-character name would be shown whole: mask it all. */
    if (chars > 1 && first)
        s_mask_put (buf, len, &pos, in, first);
    else
        s_mask_put (buf, len, &pos, "*", 1);
    for (size_t i = 1; i < chars; i++)
        s_mask_put (buf, len, &pos, "*", 1);
}

/* ---------------------------------------------------------------------------------------
 * Line buffer: on the stack for ordinary lines, on the heap for long ones. */

typedef struct {
    char *data;
    size_t len, cap;
    bool heap, full;
    char local[1024];
} s_line_t;

static void
s_line_init (s_line_t *l)
{
    l->data = l->local;
    l->len = 0;
    l->cap = sizeof l->local;
    l->heap = l->full = false;
}

static bool
s_line_room (s_line_t *l, size_t n)
{
    if (l->full)
        return false;
    if (l->len + n + 2 <= l->cap)   /* keeps room for "\n" and NUL */
        return true;
    size_t cap = l->cap * 2;
    while (cap < l->len + n + 2)
        cap *= 2;
    char *data = l->heap ? realloc (l->data, cap) : malloc (cap);
    if (!data) {
        l->full = true;   /* out of memory: the line is cut here */
        return false;
    }
    if (!l->heap)
        memcpy (data, l->local, l->len);
    l->data = data;
    l->cap = cap;
    l->heap = true;
    return true;
}

static void
s_line_put (s_line_t *l, const char *s, size_t n)
{
    if (s_line_room (l, n)) {
        memcpy (l->data + l->len, s, n);
        l->len += n;
    }
}

static void
s_line_puts (s_line_t *l, const char *s)
{
    s_line_put (l, s, strlen (s));
}

static void
s_line_free (s_line_t *l)
{
    if (l->heap)
        free (l->data);
    s_line_init (l);
}

/* Copies s with invalid UTF-8 bytes replaced by '?'. Returns NULL when s is already valid
 * (use it as is), or a malloc'd copy the caller frees. */
static char *
s_utf8_clean (const char *s, bool *oom)
{
    const char *p = s;
    while (*p) {
        size_t n = s_utf8_len ((const unsigned char *) p);
        if (!n)
            break;
        p += n;
    }
    if (!*p)
        return NULL;
    char *copy = strdup (s);
    if (!copy) {
        *oom = true;
        return NULL;
    }
    for (char *q = copy + (p - s); *q;) {
        size_t n = s_utf8_len ((const unsigned char *) q);
        if (n)
            q += n;
        else
            *q++ = '?';
    }
    return copy;
}

/* Keys and event names are code literals; anything odd in them becomes '_'. */
static void
s_line_name (s_line_t *l, const char *name)
{
    if (!name || !*name) {
        s_line_puts (l, "_");
        return;
    }
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!isalnum ((unsigned char) c) && !strchr ("._-:/", c))
            c = '_';
        s_line_put (l, &c, 1);
    }
}

static bool
s_needs_quotes (const char *v)
{
    if (!*v)
        return true;
    for (const unsigned char *p = (const unsigned char *) v; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '=' || *p == '\\')
            return true;
    return false;
}

static void
s_line_value (s_line_t *l, const char *v)
{
    if (!s_needs_quotes (v)) {
        s_line_puts (l, v);
        return;
    }
    s_line_put (l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *) v; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': s_line_put (l, "\\\"", 2); break;
        case '\\': s_line_put (l, "\\\\", 2); break;
        case '\n': s_line_put (l, "\\n", 2); break;
        case '\r': s_line_put (l, "\\r", 2); break;
        case '\t': s_line_put (l, "\\t", 2); break;
        default:
            if (*p < ' ' || *p == 0x7f) {
                snprintf (esc, sizeof esc, "\\x%02x", *p);
                s_line_puts (l, esc);
            }
            else
                s_line_put (l, (const char *) p, 1);
        }
    }
    s_line_put (l, "\"", 1);
}

/* The value to write for a string-like pair: masked for PII, made valid UTF-8. *owned is set
 * when the result was allocated (caller frees). */
static const char *
s_kv_text (const hk_kv_t *kv, char *scratch, size_t slen, char **owned)
{
    *owned = NULL;
    const char *v = kv->s ? kv->s : "";
    if (kv->kind == HK_KV_PHONE || kv->kind == HK_KV_EMAIL || kv->kind == HK_KV_NAME) {
        size_t need = 2 * strlen (v) + 32;   /* enough for every mask */
        char *out = scratch;
        if (need > slen) {
            out = malloc (need);
            if (!out)
                return "***";
            *owned = out;
            slen = need;
        }
        if (kv->kind == HK_KV_PHONE)
            hk_mask_phone (v, out, slen);
        else if (kv->kind == HK_KV_EMAIL)
            hk_mask_email (v, out, slen);
        else
            hk_mask_name (v, out, slen);
        v = out;
    }
    bool oom = false;
    char *clean = s_utf8_clean (v, &oom);
    if (oom)
        return "?";
    if (clean) {
        free (*owned);
        *owned = clean;
        v = clean;
    }
    return v;
}

static void
s_timestamp (char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    size_t n = strftime (buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (buf + n, len - n, ".%03dZ", (int) (ts.tv_nsec / 1000000) % 1000);
}

static void
s_write (const char *data, size_t len)
{
    FILE *out = s_stream ? s_stream : stderr;
    fwrite (data, 1, len, out);
    fflush (out);
}

static void
s_write_text (const char *ts, hk_log_level_t level, const char *event, const hk_kv_t *kv,
              size_t n)
{
    s_line_t l;
    s_line_init (&l);
    char prefix[160];
    snprintf (prefix, sizeof prefix, "%s %s %s[%d] ", ts, s_level_upper[level], s_daemon,
              (int) getpid ());
    s_line_puts (&l, prefix);
    s_line_name (&l, event);
    for (size_t i = 0; i < n; i++) {
        if (kv[i].kind == HK_KV_NONE)
            continue;
        s_line_put (&l, " ", 1);
        s_line_name (&l, kv[i].key);
        s_line_put (&l, "=", 1);
        if (kv[i].kind == HK_KV_INT) {
            char num[32];
            snprintf (num, sizeof num, "%lld", (long long) kv[i].i);
            s_line_puts (&l, num);
        }
        else {
            char scratch[256], *owned;
            s_line_value (&l, s_kv_text (&kv[i], scratch, sizeof scratch, &owned));
            free (owned);
        }
    }
    /* s_line_room always leaves room for the newline, even when the line was cut. */
    l.data[l.len++] = '\n';
    s_write (l.data, l.len);
    s_line_free (&l);
}

static bool
s_reserved (const char *key)
{
    static const char *const names[] = { "ts", "level", "daemon", "pid", "event" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp (key, names[i]) == 0)
            return true;
    return false;
}

static void
s_write_json (const char *ts, hk_log_level_t level, const char *event, const hk_kv_t *kv,
              size_t n)
{
    json_object *o = json_object_new_object ();
    if (!o)
        return;
    json_object_object_add (o, "ts", json_object_new_string (ts));
    json_object_object_add (o, "level", json_object_new_string (s_level_lower[level]));
    json_object_object_add (o, "daemon", json_object_new_string (s_daemon));
    json_object_object_add (o, "pid", json_object_new_int64 (getpid ()));
    bool oom = false;
    char *clean = s_utf8_clean (event ? event : "", &oom);
    json_object_object_add (o, "event", json_object_new_string (clean ? clean : event ? event : ""));
    free (clean);
    for (size_t i = 0; i < n; i++) {
        if (kv[i].kind == HK_KV_NONE)
            continue;
        const char *key = kv[i].key ? kv[i].key : "_";
        char renamed[128];
        if (s_reserved (key)) {   /* never overwrite the fixed prefix */
            snprintf (renamed, sizeof renamed, "%s_", key);
            key = renamed;
        }
        char *key_clean = s_utf8_clean (key, &oom);
        json_object *value;
        if (kv[i].kind == HK_KV_INT)
            value = json_object_new_int64 (kv[i].i);
        else {
            char scratch[256], *owned;
            value = json_object_new_string (s_kv_text (&kv[i], scratch, sizeof scratch, &owned));
            free (owned);
        }
        json_object_object_add (o, key_clean ? key_clean : key, value);
        free (key_clean);
    }
    size_t len = 0;
    const char *text = json_object_to_json_string_length (
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (text) {
        s_line_t l;
        s_line_init (&l);
        s_line_put (&l, text, len);
        if (!l.full) {
            l.data[l.len++] = '\n';
            s_write (l.data, l.len);
        }
        s_line_free (&l);
    }
    json_object_put (o);
}

void
hk_log_write (hk_log_level_t level, const char *event, const hk_kv_t *kv, size_t n)
{
    if (level < hk_log_level)
        return;
    if (level < HK_DEBUG)
        level = HK_DEBUG;
    if (level > HK_ERROR)
        level = HK_ERROR;
    char ts[40];
    s_timestamp (ts, sizeof ts);
    if (!kv)
        n = 0;
    if (s_json)
        s_write_json (ts, level, event, kv, n);
    else
        s_write_text (ts, level, event, kv, n);
}
