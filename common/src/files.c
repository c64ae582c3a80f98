/* files: filesystem helpers. */
#include "huikuan/files.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

bool
hk_file_name_ok (const char *name)
{
    size_t n = name ? strlen (name) : 0;
    if (n == 0 || n > 100 || name[0] == '.')
        return false;
    for (const char *c = name; *c; c++)
        if (!isalnum ((unsigned char) *c) && *c != '.' && *c != '_' && *c != '-')
            return false;
    return true;
}

int
hk_file_publish (const char *dir, const char *name, const void *data, size_t len)
{
    if (!dir || !hk_file_name_ok (name) || (!data && len))
        return HK_EINVAL;
    static unsigned s_counter;
    char tmp[4096];
    snprintf (tmp, sizeof tmp, "%s/.publish.%s.%ld.%u", dir, name, (long) getpid (),
              __atomic_add_fetch (&s_counter, 1, __ATOMIC_RELAXED));
    int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        return HK_EIO;
    const char *p = data;
    for (size_t done = 0; done < len;) {
        ssize_t w = write (fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close (fd);
            unlink (tmp);
            errno = e;
            return HK_EIO;
        }
        done += (size_t) w;
    }
    if (fsync (fd) != 0 || close (fd) != 0) {
        int e = errno;
        unlink (tmp);
        errno = e;
        return HK_EIO;
    }
    return hk_file_link_in (tmp, dir, name);
}

int
hk_file_link_in (const char *tmp, const char *dir, const char *name)
{
    char final[4096];
    snprintf (final, sizeof final, "%s/%s", dir, name);
    /* link, not rename: a file waiting under that name is never replaced */
    int linked = link (tmp, final);
    int e = errno;
    unlink (tmp);
    if (linked != 0) {
        errno = e;
        return HK_EIO;
    }
    int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync (dfd); /* the link itself survives a crash */
        close (dfd);
    }
    return 0;
}
