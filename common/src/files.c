/* files: filesystem helpers. */
#include "huikuan/files.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "huikuan/errcodes.h"

int
hk_mkdirs (const char *path)
{
    char tmp[4096];
    if (!path || !*path || strlen (path) >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return HK_EIO;
    }
    snprintf (tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir (tmp, 0755) != 0 && errno != EEXIST)
                return HK_EIO;
            *p = '/';
        }
    if (mkdir (tmp, 0755) != 0 && errno != EEXIST)
        return HK_EIO;
    struct stat st;
    if (stat (tmp, &st) != 0 || !S_ISDIR (st.st_mode)) {
        errno = ENOTDIR;
        return HK_EIO;
    }
    return 0;
}

int
hk_file_read_all (FILE *f, size_t max_bytes, char **data_out, size_t *len_out)
{
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc (cap + 1);
    if (!buf)
        return HK_ENOMEM;
    for (;;) {
        if (len == cap) {
            if (cap >= max_bytes) {
                free (buf);
                return HK_EINVAL;
            }
            char *grown = realloc (buf, cap * 2 + 1);
            if (!grown) {
                free (buf);
                return HK_ENOMEM;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread (buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror (f) || len > max_bytes) {
        free (buf);
        return ferror (f) ? HK_EIO : HK_EINVAL;
    }
    buf[len] = 0;
    *data_out = buf;
    *len_out = len;
    return 0;
}
