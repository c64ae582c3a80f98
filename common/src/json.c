/* json: see huikuan/json.h. */
#include "huikuan/json.h"

#include <stdio.h>
#include <string.h>

const char *
hk_json_unknown_key (json_object *obj, const char *const *allowed, char *known,
                     size_t known_len)
{
    json_object_object_foreach (obj, key, v) {
        (void) v;
        const char *const *a = allowed;
        while (*a && strcmp (*a, key) != 0)
            a++;
        if (*a)
            continue;
        if (known && known_len) {
            known[0] = '\0';
            for (a = allowed; *a; a++) {
                size_t used = strlen (known);
                snprintf (known + used, known_len - used, "%s%s", a == allowed ? "" : ", ", *a);
            }
        }
        return key;
    }
    return NULL;
}
