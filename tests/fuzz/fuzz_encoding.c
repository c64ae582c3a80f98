/* Fuzz target: hk_encoding_utf8 (UTF-8 validation, GB18030 detection and conversion through
 * iconv). The first byte picks the declared encoding (none, gb18030, utf-8) and the stdio
 * buffer size (odd sizes split sequences across reads); the rest is the file. Traps when the
 * stream hands out anything that is not valid UTF-8, or fails without saying why. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "encoding.h"

/* Strict UTF-8 check, incremental: state is the number of continuation bytes still due. */
static bool
s_valid (const unsigned char *p, size_t n, int *need, unsigned char *lo, unsigned char *hi)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char b = p[i];
        if (*need) {
            if (b < *lo || b > *hi)
                return false;
            (*need)--;
            *lo = 0x80, *hi = 0xBF;
            continue;
        }
        *lo = 0x80, *hi = 0xBF;
        if (b < 0x80)
            continue;
        if (b >= 0xC2 && b <= 0xDF)
            *need = 1;
        else if (b >= 0xE0 && b <= 0xEF) {
            *need = 2;
            if (b == 0xE0)
                *lo = 0xA0;
            if (b == 0xED)
                *hi = 0x9F;
        }
        else if (b >= 0xF0 && b <= 0xF4) {
            *need = 3;
            if (b == 0xF0)
                *lo = 0x90;
            if (b == 0xF4)
                *hi = 0x8F;
        }
        else
            return false;
    }
    return true;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const char *const names[] = { NULL, "gb18030", "utf-8", "gbk" };
    const char *declared = names[data[0] & 3];
    static const size_t bufs[] = { 0, 1, 3, 7, 64, 4096, 0, 0 };
    size_t bufsize = bufs[(data[0] >> 2) & 7];
    FILE *in = fmemopen ((void *) (data + 1), size - 1, "r");
    if (!in)
        return 0;
    char why[256];
    FILE *f = hk_encoding_utf8 (in, declared, why, sizeof why);
    if (!f)
        return 0;       /* in closed by hk_encoding_utf8 */
    if (bufsize == 1)
        setvbuf (f, NULL, _IONBF, 0);
    else if (bufsize)
        setvbuf (f, NULL, _IOFBF, bufsize);
    unsigned char buf[5000];
    size_t chunk = 1 + (data[0] >> 5) * 613;
    int need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    for (;;) {
        size_t n = fread (buf, 1, chunk, f);
        if (!s_valid (buf, n, &need, &lo, &hi))
            __builtin_trap ();
        if (n < chunk)
            break;
    }
    if (need != 0 || (ferror (f) && !hk_encoding_error (f)))
        __builtin_trap ();  /* ended inside a character, or failed without a reason */
    fclose (f);
    return 0;
}
