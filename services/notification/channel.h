/* channel: writers that hand a rendered message to a real channel.
 *  - file: the message is written atomically (temporary name, then rename) into an outbox
 *    folder as <contact_id>.eml; rewriting the same contact gives the same file.
 *  - smtp: sent with libcurl to an SMTP server (smtp://host:port). */
#ifndef HK_NOTIFICATION_CHANNEL_H
#define HK_NOTIFICATION_CHANNEL_H

#include <stddef.h>

/* Writes message into dir/<contact_id>.eml. ref (at least 1024 bytes) receives the path.
 * Returns 0 or HK_EIO. */
int hk_channel_file_write (const char *dir, const char *contact_id, const char *message,
                           char *ref, size_t reflen);

/* Sends message to recipient through url. ref receives the server's last response line.
 * Returns 0, or HK_EIO with the reason in ref. */
int hk_channel_smtp_send (const char *url, const char *sender, const char *recipient,
                          const char *message, char *ref, size_t reflen);

#endif
