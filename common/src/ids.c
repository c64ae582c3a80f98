/* ids: random version-4 UUIDs. */
#include "huikuan/ids.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static void
s_random_bytes (uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom (buf + got, len - got, 0);
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    if (got == len)
        return;
    int fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        while (got < len) {
            ssize_t n = read (fd, buf + got, len - got);
            if (n <= 0)
                break;
            got += (size_t) n;
        }
        close (fd);
    }
    /* Last resort: never seen on Linux, but the contract says never fail. */
    uint64_t x = (uint64_t) time (NULL) ^ ((uint64_t) getpid () << 32) ^ (uintptr_t) buf;
    for (; got < len; got++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[got] = (uint8_t) x;
    }
}

void
hk_uuid_v4 (char out[HK_UUID_LEN])
{
    uint8_t b[16];
    s_random_bytes (b, sizeof b);
    b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80);
    snprintf (out, HK_UUID_LEN,
              "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
              b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
              b[15]);
}
