/* ids: random version-4 UUIDs.
 *
 * Random bytes come from getrandom() 4 KiB at a time into a per-thread buffer: one system call
 * per 256 UUIDs instead of one each (bulk intake makes two per event). A forked child drops the
 * buffer it inherited, so parent and child never hand out the same bytes. */
#include "huikuan/ids.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
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

#define HK_RANDOM_POOL 4096

static _Thread_local uint8_t s_pool[HK_RANDOM_POOL];
static _Thread_local size_t s_pool_used = HK_RANDOM_POOL; /* all used: refill first */
static _Thread_local unsigned s_pool_generation;
static unsigned s_fork_generation; /* bumped in a forked child */
static pthread_once_t s_atfork_once = PTHREAD_ONCE_INIT;

static void
s_after_fork_child (void)
{
    s_fork_generation++;
}

static void
s_register_atfork (void)
{
    pthread_atfork (NULL, NULL, s_after_fork_child);
}

void
hk_uuid_v4 (char out[HK_UUID_LEN])
{
    static const char hex[] = "0123456789abcdef";
    pthread_once (&s_atfork_once, s_register_atfork);
    if (s_pool_generation != s_fork_generation) {
        s_pool_used = HK_RANDOM_POOL;
        s_pool_generation = s_fork_generation;
    }
    if (s_pool_used + 16 > HK_RANDOM_POOL) {
        s_random_bytes (s_pool, HK_RANDOM_POOL);
        s_pool_used = 0;
    }
    uint8_t *b = s_pool + s_pool_used;
    s_pool_used += 16;
    b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80);
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = 0;
    /* the bytes handed out are not kept */
    for (int i = 0; i < 16; i++)
        b[i] = 0;
}
