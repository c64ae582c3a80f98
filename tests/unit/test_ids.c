/* Self-test of ids: shape and uniqueness of v4 UUIDs. */
#include <ctype.h>

#include "check.h"
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
    if (verbose)
        printf ("ids: %s %s\n", a, b);
    return failures;
}
