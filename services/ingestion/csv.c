/* csv: streaming RFC 4180 reader. */
#include "csv.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "huikuan/errcodes.h"

struct hk_csv {
    FILE *f;
    char sep;
    long line;          /* line of the next character */
    char *buf;          /* field bytes of the current record, NUL-separated */
    size_t buf_len, buf_cap;
    size_t *starts;     /* offsets of fields in buf */
    char **fields;
    int nfields, fields_cap;
    bool first;
    int pending[3];     /* pushed-back bytes, read last-in first-out */
    int npending;
    char error[160];
};

hk_csv_t *
hk_csv_new (FILE *f, char sep)
{
    hk_csv_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->f = f;
    self->sep = sep;
    self->line = 1;
    self->first = true;
    return self;
}

void
hk_csv_destroy (hk_csv_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hk_csv_t *self = *self_p;
    free (self->buf);
    free (self->starts);
    free (self->fields);
    free (self);
    *self_p = NULL;
}

const char *
hk_csv_error (const hk_csv_t *self)
{
    return self->error;
}

static bool
s_put (hk_csv_t *self, char c)
{
    if (self->buf_len + 1 >= self->buf_cap) {
        size_t cap = self->buf_cap ? self->buf_cap * 2 : 1024;
        char *b = realloc (self->buf, cap);
        if (!b)
            return false;
        self->buf = b;
        self->buf_cap = cap;
    }
    self->buf[self->buf_len++] = c;
    return true;
}

static bool
s_start_field (hk_csv_t *self)
{
    if (self->nfields >= self->fields_cap) {
        int cap = self->fields_cap ? self->fields_cap * 2 : 16;
        size_t *s = realloc (self->starts, (size_t) cap * sizeof *s);
        if (!s)
            return false;
        self->starts = s;
        char **fl = realloc (self->fields, (size_t) cap * sizeof *fl);
        if (!fl)
            return false;
        self->fields = fl;
        self->fields_cap = cap;
    }
    self->starts[self->nfields++] = self->buf_len;
    return true;
}

static int
s_getc (hk_csv_t *self)
{
    if (self->npending > 0)
        return self->pending[--self->npending];
    return getc (self->f);
}

int
hk_csv_next (hk_csv_t *self, char ***fields, int *nfields, long *line)
{
    self->buf_len = 0;
    self->nfields = 0;
    if (self->first) {
        self->first = false;
        /* skip a UTF-8 byte order mark; anything else is pushed back */
        int b[3] = { s_getc (self), EOF, EOF };
        if (b[0] == 0xEF) {
            b[1] = s_getc (self);
            if (b[1] == 0xBB)
                b[2] = s_getc (self);
        }
        if (!(b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF))
            for (int i = 2; i >= 0; i--)
                if (b[i] != EOF)
                    self->pending[self->npending++] = b[i];
    }
    int c = s_getc (self);
    /* skip blank lines between records */
    while (c == '\n' || c == '\r') {
        if (c == '\n')
            self->line++;
        c = s_getc (self);
    }
    if (c == EOF)
        return 0;
    if (!s_start_field (self))
        return HK_ENOMEM;
    *line = self->line;
    bool quoted = false, was_quoted = false;
    long quote_line = self->line;
    for (;; c = s_getc (self)) {
        if (c == EOF) {
            if (quoted) {
                snprintf (self->error, sizeof self->error,
                          "line %ld: quoted field not closed before end of file", quote_line);
                return HK_EPARSE;
            }
            break;
        }
        if (quoted) {
            if (c == '"') {
                int n = s_getc (self);
                if (n == '"') {
                    if (!s_put (self, '"'))
                        return HK_ENOMEM;
                    continue;
                }
                quoted = false;
                if (n != EOF)
                    self->pending[self->npending++] = n;
                continue;
            }
            if (c == '\n')
                self->line++;
            if (!s_put (self, (char) c))
                return HK_ENOMEM;
            continue;
        }
        if (c == '"' && !was_quoted && self->buf_len == self->starts[self->nfields - 1]) {
            quoted = was_quoted = true;
            quote_line = self->line;
            continue;
        }
        if (c == self->sep) {
            if (!s_put (self, '\0') || !s_start_field (self))
                return HK_ENOMEM;
            was_quoted = false;
            continue;
        }
        if (c == '\r') {
            int n = s_getc (self);
            if (n != '\n' && n != EOF)
                self->pending[self->npending++] = n;
            self->line++;
            break;
        }
        if (c == '\n') {
            self->line++;
            break;
        }
        if (!s_put (self, (char) c))
            return HK_ENOMEM;
    }
    if (!s_put (self, '\0'))
        return HK_ENOMEM;
    for (int i = 0; i < self->nfields; i++)
        self->fields[i] = self->buf + self->starts[i];
    *fields = self->fields;
    *nfields = self->nfields;
    return 1;
}
