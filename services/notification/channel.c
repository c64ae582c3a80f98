/* channel: file outbox and SMTP writers. */
#include "channel.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "huikuan/errcodes.h"

int
hk_channel_file_write (const char *dir, const char *contact_id, const char *message,
                       char *ref, size_t reflen)
{
    char tmp[1100], path[1100];
    snprintf (path, sizeof path, "%s/%s.eml", dir, contact_id);
    snprintf (tmp, sizeof tmp, "%s/.%s.eml.tmp", dir, contact_id);
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf (ref, reflen, "%s: %s", tmp, strerror (errno));
        return HK_EIO;
    }
    size_t len = strlen (message), done = 0;
    while (done < len) {
        ssize_t w = write (fd, message + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf (ref, reflen, "%s: %s", tmp, strerror (errno));
            close (fd);
            unlink (tmp);
            return HK_EIO;
        }
        done += (size_t) w;
    }
    if (fsync (fd) != 0 || close (fd) != 0 || rename (tmp, path) != 0) {
        snprintf (ref, reflen, "%s: %s", path, strerror (errno));
        unlink (tmp);
        return HK_EIO;
    }
    snprintf (ref, reflen, "%s", path);
    return 0;
}

typedef struct {
    const char *data;
    size_t left;
} s_upload_t;

static size_t
s_read (char *buf, size_t size, size_t nmemb, void *arg)
{
    s_upload_t *up = arg;
    size_t n = size * nmemb < up->left ? size * nmemb : up->left;
    memcpy (buf, up->data, n);
    up->data += n;
    up->left -= n;
    return n;
}

int
hk_channel_smtp_send (const char *url, const char *sender, const char *recipient,
                      const char *message, char *ref, size_t reflen)
{
    CURL *curl = curl_easy_init ();
    if (!curl) {
        snprintf (ref, reflen, "curl_easy_init failed");
        return HK_EIO;
    }
    char from[300], to[300];
    snprintf (from, sizeof from, "<%s>", sender);
    snprintf (to, sizeof to, "<%s>", recipient);
    struct curl_slist *rcpt = curl_slist_append (NULL, to);
    s_upload_t up = { message, strlen (message) };
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt (curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt (curl, CURLOPT_READFUNCTION, s_read);
    curl_easy_setopt (curl, CURLOPT_READDATA, &up);
    curl_easy_setopt (curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform (curl);
    long code = 0;
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK)
        snprintf (ref, reflen, "smtp %ld", code);
    else
        snprintf (ref, reflen, "%s", *errbuf ? errbuf : curl_easy_strerror (rc));
    curl_slist_free_all (rcpt);
    curl_easy_cleanup (curl);
    return rc == CURLE_OK ? 0 : HK_EIO;
}
