/* Self-test of the JSON document checks shared by feed mappings and strategies. */
#include <string.h>

#include "check.h"
#include "huikuan/json.h"

int
hk_json_test (bool verbose)
{
    (void) verbose;
    int failures = 0;
    static const char *const allowed[] = { "name", "version", "rules", NULL };
    json_object *ok = json_tokener_parse ("{\"name\": \"x\", \"rules\": []}");
    json_object *typo = json_tokener_parse ("{\"name\": \"x\", \"rulez\": []}");
    json_object *empty = json_tokener_parse ("{}");
    char known[64] = "untouched";
    CHECK (hk_json_unknown_key (ok, allowed, known, sizeof known) == NULL);
    CHECK_STR (known, "untouched");
    CHECK (hk_json_unknown_key (empty, allowed, known, sizeof known) == NULL);
    const char *key = hk_json_unknown_key (typo, allowed, known, sizeof known);
    CHECK (key != NULL && strcmp (key, "rulez") == 0);
    CHECK_STR (known, "name, version, rules");
    char small[8];
    CHECK (hk_json_unknown_key (typo, allowed, small, sizeof small) != NULL);
    CHECK_STR (small, "name, v"); /* cut, still terminated */
    CHECK (hk_json_unknown_key (typo, allowed, NULL, 0) != NULL);
    json_object_put (ok);
    json_object_put (typo);
    json_object_put (empty);
    return failures;
}
