/* files: filesystem helpers. */
#include "huikuan/files.h"

#include <errno.h>
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
