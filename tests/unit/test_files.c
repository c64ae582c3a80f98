/* Self-test of files: mkdir -p and reading a small document whole, with its size limit. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "huikuan/errcodes.h"
#include "huikuan/files.h"

int
hk_files_test (bool verbose)
{
    int failures = 0;
    char root[] = "/tmp/hk_files_XXXXXX";
    CHECK (mkdtemp (root) != NULL);
    char deep[256];
    snprintf (deep, sizeof deep, "%s/a/b/c", root);
    CHECK_INT (hk_mkdirs (deep), 0);
    CHECK_INT (hk_mkdirs (deep), 0); /* exists: fine */
    struct stat st;
    CHECK (stat (deep, &st) == 0 && S_ISDIR (st.st_mode));
    char file[300];
    snprintf (file, sizeof file, "%s/a/plain", root);
    FILE *f = fopen (file, "w");
    CHECK (f != NULL);
    for (int i = 0; f && i < 20000; i++)
        fputs ("0123456789", f); /* 200,000 bytes: several buffer growths */
    if (f)
        fclose (f);
    char below[320];
    snprintf (below, sizeof below, "%s/sub", file);
    CHECK_INT (hk_mkdirs (below), HK_EIO); /* a file in the way */

    f = fopen (file, "r");
    char *data = NULL;
    size_t len = 0;
    CHECK_INT (hk_file_read_all (f, 1 << 20, &data, &len), 0);
    CHECK_INT (len, 200000);
    CHECK (data && data[len] == 0 && data[199999] == '9');
    free (data);
    rewind (f);
    data = NULL;
    CHECK_INT (hk_file_read_all (f, 100000, &data, &len), HK_EINVAL);
    CHECK (data == NULL);
    fclose (f);

    unlink (file);
    snprintf (file, sizeof file, "rm -rf '%s'", root);
    CHECK_INT (system (file), 0);
    if (verbose)
        printf ("files: %d failures\n", failures);
    return failures;
}
