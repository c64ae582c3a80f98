/* encoding: UTF-8 pass-through with validation, or GB18030 → UTF-8 through iconv, as a stdio
 * stream (glibc fopencookie). */
#define _GNU_SOURCE
#include "encoding.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define S_WINDOW (64 * 1024)    /* detection window, and the size of the input buffer */
#define S_OUTBUF (16 * 1024)    /* converted bytes not yet handed out */

typedef struct s_stream {
    FILE *in;                   /* owned */
    FILE *out;                  /* the cookie stream, for hk_encoding_error lookups */
    bool convert;               /* GB18030 via iconv; else UTF-8 validated */
    const char *name;           /* "UTF-8" or "GB18030" */
    iconv_t cd;
    unsigned char *ibuf;        /* raw bytes [ipos, ilen) not yet consumed */
    size_t ipos, ilen;
    bool in_eof;
    uint64_t consumed;          /* raw bytes dropped from ibuf before ibuf[0] */
    char *obuf;                 /* converted bytes [opos, olen) not yet handed out */
    size_t opos, olen;
    int need;                   /* UTF-8 validator: continuation bytes still expected */
    unsigned char lo, hi;       /* and the range of the next one */
    size_t vpos, vend;          /* UTF-8: validated up to vpos, whole characters up to vend */
    int err;                    /* errno of a failure; sticky */
    char error[160];
    struct s_stream *next;
} s_stream_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static s_stream_t *s_streams;   /* open streams, for hk_encoding_error */

typedef enum { S_UNKNOWN, S_AUTO, S_UTF8, S_GB18030 } s_enc_t;

static s_enc_t
s_enc_of (const char *declared)
{
    if (!declared)
        return S_AUTO;
    char norm[16];
    size_t n = 0;
    for (const char *c = declared; *c; c++) {
        if (*c == '-' || *c == '_')
            continue;
        if (n + 1 >= sizeof norm)
            return S_UNKNOWN;
        norm[n++] = (char) tolower ((unsigned char) *c);
    }
    norm[n] = 0;
    if (n == 0 || strcmp (norm, "auto") == 0)
        return S_AUTO;
    if (strcmp (norm, "utf8") == 0)
        return S_UTF8;
    if (strcmp (norm, "gb18030") == 0 || strcmp (norm, "gbk") == 0
        || strcmp (norm, "gb2312") == 0 || strcmp (norm, "cp936") == 0)
        return S_GB18030;
    return S_UNKNOWN;
}

bool
hk_encoding_known (const char *declared)
{
    return s_enc_of (declared) != S_UNKNOWN;
}

/* One byte through the strict UTF-8 validator (Unicode table 3-7: no overlong forms, no
 * surrogates, nothing above U+10FFFF). False for an invalid byte. */
static bool
s_utf8_step (s_stream_t *self, unsigned char b)
{
    if (self->need > 0) {
        if (b < self->lo || b > self->hi)
            return false;
        self->need--;
        self->lo = 0x80;
        self->hi = 0xBF;
        return true;
    }
    self->lo = 0x80;
    self->hi = 0xBF;
    if (b < 0x80)
        return true;
    if (b >= 0xC2 && b <= 0xDF)
        self->need = 1;
    else if (b == 0xE0) {
        self->need = 2;
        self->lo = 0xA0;
    }
    else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF)
        self->need = 2;
    else if (b == 0xED) {
        self->need = 2;
        self->hi = 0x9F;
    }
    else if (b == 0xF0) {
        self->need = 3;
        self->lo = 0x90;
    }
    else if (b >= 0xF1 && b <= 0xF3)
        self->need = 3;
    else if (b == 0xF4) {
        self->need = 3;
        self->hi = 0x8F;
    }
    else
        return false;
    return true;
}

static void
s_fail (s_stream_t *self, const char *what, uint64_t at)
{
    self->err = EILSEQ;
    snprintf (self->error, sizeof self->error, "%s: %s at byte %llu", self->name, what,
              (unsigned long long) at);
}

static void
s_fail_read (s_stream_t *self, int err)
{
    self->err = err;
    snprintf (self->error, sizeof self->error, "read failed: %s", strerror (err));
}

/* More raw bytes: keeps [ipos, ilen) at the front and reads after it. Returns the number of
 * bytes read; 0 at end of input (in_eof) or on a read error (err set). */
static size_t
s_fill (s_stream_t *self)
{
    if (self->in_eof || self->err)
        return 0;
    if (self->ipos > 0) {
        memmove (self->ibuf, self->ibuf + self->ipos, self->ilen - self->ipos);
        if (!self->convert) {
            self->vpos -= self->ipos;
            self->vend -= self->ipos;
        }
        self->consumed += self->ipos;
        self->ilen -= self->ipos;
        self->ipos = 0;
    }
    if (self->ilen == S_WINDOW)
        return 0;               /* cannot happen: leftovers are at most one sequence */
    size_t n = fread (self->ibuf + self->ilen, 1, S_WINDOW - self->ilen, self->in);
    self->ilen += n;
    if (n == 0) {
        if (ferror (self->in))
            s_fail_read (self, errno ? errno : EIO);
        else
            self->in_eof = true;
    }
    return n;
}

/* UTF-8: validated bytes straight into buf. Only whole characters are validated ahead
 * ([ipos, vend) is ready to hand out; vpos is where validation goes on), so a bad or truncated
 * sequence never reaches the caller, and bytes before it all do. */
static size_t
s_read_utf8 (s_stream_t *self, char *buf, size_t size)
{
    size_t done = 0;
    while (done < size) {
        if (self->ipos < self->vend) {
            size_t n = self->vend - self->ipos;
            if (n > size - done)
                n = size - done;
            memcpy (buf + done, self->ibuf + self->ipos, n);
            self->ipos += n;
            done += n;
            continue;
        }
        if (self->err)
            break;
        if (self->vpos == self->ilen && s_fill (self) == 0) {
            if (self->in_eof && self->need > 0)
                s_fail (self, "truncated sequence at end of input", self->consumed + self->vend);
            break;
        }
        for (; self->vpos < self->ilen; self->vpos++) {
            if (!s_utf8_step (self, self->ibuf[self->vpos])) {
                s_fail (self, "invalid byte sequence", self->consumed + self->vpos);
                break;
            }
            if (self->need == 0)
                self->vend = self->vpos + 1;
        }
    }
    return done;
}

/* GB18030: converts the next piece of input into obuf (opos = olen = 0 on entry). */
static void
s_convert (s_stream_t *self)
{
    char *op = self->obuf;
    size_t ol = S_OUTBUF;
    while (op == self->obuf && !self->err) {
        if (self->ipos == self->ilen) {
            if (s_fill (self) == 0) {
                if (self->in_eof)
                    iconv (self->cd, NULL, NULL, &op, &ol);   /* reset shift state */
                break;
            }
        }
        char *ip = (char *) self->ibuf + self->ipos;
        size_t il = self->ilen - self->ipos;
        size_t r = iconv (self->cd, &ip, &il, &op, &ol);
        int e = errno;
        self->ipos = (size_t) ((unsigned char *) ip - self->ibuf);
        if (r != (size_t) -1 || e == E2BIG)
            continue;
        if (e == EINVAL) {
            /* a sequence split at the end of the buffer: hand out what is converted, or read
             * more and try again */
            if (op != self->obuf || s_fill (self) > 0)
                continue;
            if (!self->err)
                s_fail (self, "truncated sequence at end of input",
                        self->consumed + self->ipos);
            break;
        }
        s_fail (self, "invalid byte sequence", self->consumed + self->ipos);
    }
    self->olen = (size_t) (op - self->obuf);
}

static ssize_t
s_read (void *cookie, char *buf, size_t size)
{
    s_stream_t *self = cookie;
    size_t done = 0;
    if (!self->convert)
        done = s_read_utf8 (self, buf, size);
    else
        while (done < size) {
            if (self->opos == self->olen) {
                if (done > 0 || self->err)
                    break;
                self->opos = self->olen = 0;
                s_convert (self);
                if (self->olen == 0)
                    break;
            }
            size_t n = self->olen - self->opos;
            if (n > size - done)
                n = size - done;
            memcpy (buf + done, self->obuf + self->opos, n);
            self->opos += n;
            done += n;
        }
    if (done > 0)
        return (ssize_t) done;
    if (self->err) {
        errno = self->err;
        return -1;
    }
    return 0;
}

static void
s_free (s_stream_t *self)
{
    if (self->cd != (iconv_t) -1)
        iconv_close (self->cd);
    free (self->ibuf);
    free (self->obuf);
    free (self);
}

static int
s_close (void *cookie)
{
    s_stream_t *self = cookie;
    pthread_mutex_lock (&s_lock);
    for (s_stream_t **p = &s_streams; *p; p = &(*p)->next)
        if (*p == self) {
            *p = self->next;
            break;
        }
    pthread_mutex_unlock (&s_lock);
    int rc = fclose (self->in);
    s_free (self);
    return rc == 0 ? 0 : -1;
}

bool
hk_encoding_is_utf8 (const char *s, size_t len)
{
    s_stream_t probe = { .need = 0 };
    for (size_t i = 0; i < len; i++)
        if (!s_utf8_step (&probe, (unsigned char) s[i]))
            return false;
    return probe.need == 0;
}

/* Whether the first ilen bytes are valid UTF-8 (a sequence cut by the window is fine unless
 * the input ended there); *bad is the offset of the first invalid byte. */
static bool
s_sniff_utf8 (s_stream_t *self, size_t *bad)
{
    s_stream_t probe = { .need = 0 };
    for (size_t i = 0; i < self->ilen; i++)
        if (!s_utf8_step (&probe, self->ibuf[i])) {
            *bad = i;
            return false;
        }
    *bad = self->ilen;
    return probe.need == 0 || !self->in_eof;
}

/* Same for GB18030, by converting into a scratch buffer. */
static bool
s_sniff_gb18030 (s_stream_t *self, size_t *bad)
{
    char scratch[4096];
    char *ip = (char *) self->ibuf;
    size_t il = self->ilen;
    bool ok = true;
    while (il > 0) {
        char *op = scratch;
        size_t ol = sizeof scratch;
        if (iconv (self->cd, &ip, &il, &op, &ol) != (size_t) -1 || errno == E2BIG)
            continue;
        ok = errno == EINVAL && !self->in_eof;
        break;
    }
    *bad = (size_t) ((unsigned char *) ip - self->ibuf);
    iconv (self->cd, NULL, NULL, NULL, NULL);
    return ok;
}

/* The work of hk_encoding_utf8; on failure `in` is left to the caller. */
static FILE *
s_wrap (FILE *in, const char *declared, char *why, size_t whylen)
{
    s_enc_t enc = s_enc_of (declared);
    if (enc == S_UNKNOWN) {
        snprintf (why, whylen, "unknown encoding '%.40s' (known: utf-8, gb18030, gbk, gb2312)",
                  declared);
        return NULL;
    }
    s_stream_t *self = calloc (1, sizeof *self);
    if (self) {
        self->cd = (iconv_t) -1;
        self->ibuf = malloc (S_WINDOW);
        self->obuf = malloc (S_OUTBUF);
        self->lo = 0x80;
        self->hi = 0xBF;
    }
    if (!self || !self->ibuf || !self->obuf) {
        snprintf (why, whylen, "out of memory");
        if (self)
            s_free (self);
        return NULL;
    }
    self->in = in;
    if (enc != S_UTF8) {
        self->cd = iconv_open ("UTF-8", "GB18030");
        if (self->cd == (iconv_t) -1) {
            snprintf (why, whylen, "GB18030 conversion unavailable: %s", strerror (errno));
            s_free (self);
            return NULL;
        }
    }
    if (enc == S_AUTO) {
        /* the detection window: the first 64 KiB, kept in ibuf and replayed */
        while (self->ilen < S_WINDOW && s_fill (self) > 0)
            ;
        if (self->err) {
            snprintf (why, whylen, "%s", self->error);
            s_free (self);
            return NULL;
        }
        size_t bad_utf8, bad_gb;
        if (s_sniff_utf8 (self, &bad_utf8))
            enc = S_UTF8;
        else if (s_sniff_gb18030 (self, &bad_gb))
            enc = S_GB18030;
        else {
            snprintf (why, whylen,
                      "neither UTF-8 (invalid at byte %zu) nor GB18030 (invalid at byte %zu); "
                      "declare the encoding",
                      bad_utf8, bad_gb);
            s_free (self);
            return NULL;
        }
    }
    self->convert = enc == S_GB18030;
    self->name = self->convert ? "GB18030" : "UTF-8";
    cookie_io_functions_t io = { .read = s_read, .close = s_close };
    FILE *out = fopencookie (self, "r", io);
    if (!out) {
        snprintf (why, whylen, "out of memory");
        s_free (self);
        return NULL;
    }
    self->out = out;
    pthread_mutex_lock (&s_lock);
    self->next = s_streams;
    s_streams = self;
    pthread_mutex_unlock (&s_lock);
    return out;
}

FILE *
hk_encoding_utf8 (FILE *in, const char *declared, char *why, size_t whylen)
{
    FILE *out = s_wrap (in, declared, why, whylen);
    if (!out && in)
        fclose (in);
    return out;
}

static s_stream_t *
s_find (FILE *f)
{
    for (s_stream_t *s = s_streams; s; s = s->next)
        if (s->out == f)
            return s;
    return NULL;
}

const char *
hk_encoding_error (FILE *f)
{
    pthread_mutex_lock (&s_lock);
    s_stream_t *s = s_find (f);
    const char *e = s && s->err ? s->error : NULL;
    pthread_mutex_unlock (&s_lock);
    return e;
}

const char *
hk_encoding_name (FILE *f)
{
    pthread_mutex_lock (&s_lock);
    s_stream_t *s = s_find (f);
    const char *n = s ? s->name : NULL;
    pthread_mutex_unlock (&s_lock);
    return n;
}
