/* ids: random UUIDs for events, contacts and cases. */
#ifndef HUIKUAN_IDS_H
#define HUIKUAN_IDS_H

#define HK_UUID_LEN 37  /* 36 characters and NUL */

/* Writes a random (version 4) UUID in lowercase canonical form. Never fails: falls back from
 * getrandom() to /dev/urandom. */
void hk_uuid_v4 (char out[HK_UUID_LEN]);

#endif
