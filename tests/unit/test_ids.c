/* Self-test of ids: shape and uniqueness of v4 UUIDs. */
#include <ctype.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "huikuan/digest.h"
#include "huikuan/errcodes.h"
#include "huikuan/ids.h"

int
hk_ids_test (bool verbose)
{
    int failures = 0;
    char a[HK_UUID_LEN], b[HK_UUID_LEN];
    hk_uuid_v4 (a);
    hk_uuid_v4 (b);
    CHECK_INT (strlen (a), 36);
    CHECK (strcmp (a, b) != 0);
    CHECK (a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
    CHECK (a[14] == '4');
    CHECK (strchr ("89ab", a[19]) != NULL);
    for (int i = 0; i < 36; i++)
        if (i != 8 && i != 13 && i != 18 && i != 23)
            CHECK (isxdigit ((unsigned char) a[i]) && !isupper ((unsigned char) a[i]));
    /* Many in a row (the random pool is refilled several times): all distinct. */
    enum { MANY = 2000 };
    char (*many)[HK_UUID_LEN] = malloc (MANY * sizeof *many);
    CHECK (many != NULL);
    if (many) {
        for (int i = 0; i < MANY; i++)
            hk_uuid_v4 (many[i]);
        qsort (many, MANY, sizeof *many, (int (*) (const void *, const void *)) strcmp);
        int same = 0;
        for (int i = 1; i < MANY; i++)
            same += strcmp (many[i - 1], many[i]) == 0;
        CHECK_INT (same, 0);
        free (many);
    }
    /* A forked child does not reuse the random bytes its parent still holds. */
    int fds[2];
    CHECK_INT (pipe (fds), 0);
    hk_uuid_v4 (a); /* the pool is filled before the fork */
    pid_t pid = fork ();
    if (pid == 0) {
        char c[HK_UUID_LEN];
        hk_uuid_v4 (c);
        _exit (write (fds[1], c, HK_UUID_LEN) == HK_UUID_LEN ? 0 : 1);
    }
    hk_uuid_v4 (a);
    char from_child[HK_UUID_LEN] = "";
    CHECK_INT (read (fds[0], from_child, HK_UUID_LEN), HK_UUID_LEN);
    int status = -1;
    waitpid (pid, &status, 0);
    CHECK_INT (status, 0);
    CHECK_INT (strlen (from_child), 36);
    CHECK (strcmp (a, from_child) != 0);
    close (fds[0]);
    close (fds[1]);

    /* the in-memory string hash is FNV-1a 32 (reference vectors) */
    CHECK_INT (hk_str_hash (""), 0x811c9dc5u);
    CHECK_INT (hk_str_hash ("a"), 0xe40c292cu);
    CHECK_INT (hk_str_hash ("foobar"), 0xbf9cf968u);

    /* digest (ids and hashes share this test): FIPS 180-2 vectors */
    char hex[HK_SHA256_HEX_LEN];
    CHECK_INT (hk_sha256_hex ("abc", 3, hex), 0);
    CHECK_STR (hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_INT (hk_sha256_hex ("", 0, hex), 0);
    CHECK_STR (hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    char path[] = "/tmp/hk_digest_XXXXXX";
    int fd = mkstemp (path);
    CHECK (fd >= 0);
    CHECK_INT (write (fd, "abc", 3), 3);
    close (fd);
    CHECK_INT (hk_sha256_file_hex (path, hex), 0);
    CHECK_STR (hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    unlink (path);
    CHECK_INT (hk_sha256_file_hex ("/nonexistent/file", hex), HK_EIO);
    if (verbose)
        printf ("ids: %s %s\n", a, b);
    return failures;
}
