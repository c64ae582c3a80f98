/* json: small checks over json-c objects shared by the documents the fleet reads (feed
 * mappings, strategies). */
#ifndef HUIKUAN_JSON_H
#define HUIKUAN_JSON_H

#include <json-c/json.h>
#include <stddef.h>

/* The first key of obj that is not in allowed (NULL-terminated), or NULL when every key is
 * known. When one is unknown and known is not NULL, known gets the allowed keys as
 * "a, b, c" (cut to known_len) for the caller's error message. */
const char *hk_json_unknown_key (json_object *obj, const char *const *allowed, char *known,
                                 size_t known_len);

#endif
