/* Self-test of files: mkdir -p and reading a small document whole, with its size limit. */
#include <errno.h>
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

    /* names a client may give; publishing: complete or absent, never replacing */
    CHECK (hk_file_name_ok ("erp-push.2026_11.jsonl"));
    CHECK (!hk_file_name_ok (""));
    CHECK (!hk_file_name_ok (".hidden"));
    CHECK (!hk_file_name_ok ("../escape"));
    CHECK (!hk_file_name_ok ("a/b"));
    CHECK (!hk_file_name_ok ("名字.csv"));
    CHECK (!hk_file_name_ok (NULL));
    char longname[102];
    memset (longname, 'a', 101);
    longname[101] = 0;
    CHECK (!hk_file_name_ok (longname));
    CHECK_INT (hk_file_publish (root, "pushed.csv", "a,b\n", 4), 0);
    snprintf (file, sizeof file, "%s/pushed.csv", root);
    f = fopen (file, "r");
    char got[16] = "";
    CHECK (f && fgets (got, sizeof got, f));
    CHECK_STR (got, "a,b\n");
    if (f)
        fclose (f);
    CHECK_INT (hk_file_publish (root, "pushed.csv", "x\n", 2), HK_EIO);
    CHECK_INT (errno, EEXIST);
    CHECK_INT (hk_file_publish (root, "../pushed.csv", "x\n", 2), HK_EINVAL);
    CHECK_INT (hk_file_publish ("/nonexistent/dir", "p.csv", "x\n", 2), HK_EIO);
    f = fopen (file, "r");
    CHECK (f && fgets (got, sizeof got, f));
    CHECK_STR (got, "a,b\n"); /* the waiting file was not replaced */
    if (f)
        fclose (f);
    snprintf (file, sizeof file, "ls -A '%s' | grep -c '^\\.' >/dev/null", root);
    CHECK (system (file) != 0); /* no hidden leftovers */

    snprintf (file, sizeof file, "rm -rf '%s'", root);
    CHECK_INT (system (file), 0);
    if (verbose)
        printf ("files: %d failures\n", failures);
    return failures;
}
