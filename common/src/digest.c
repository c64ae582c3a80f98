/* digest: SHA-256 through OpenSSL's EVP interface. */
#include "huikuan/digest.h"

#include <openssl/evp.h>
#include <stdio.h>

#include "huikuan/errcodes.h"

static void
s_hex (const unsigned char *md, unsigned len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * len] = 0;
}

int
hk_sha256_hex (const void *data, size_t len, char out[HK_SHA256_HEX_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!EVP_Digest (data, len, md, &mdlen, EVP_sha256 (), NULL))
        return HK_ENOMEM;
    s_hex (md, mdlen, out);
    return 0;
}

int
hk_sha256_file_hex (const char *path, char out[HK_SHA256_HEX_LEN])
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return HK_EIO;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    if (!ctx || !EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL)) {
        EVP_MD_CTX_free (ctx);
        fclose (f);
        return HK_ENOMEM;
    }
    unsigned char buf[65536];
    size_t n;
    int rc = 0;
    while ((n = fread (buf, 1, sizeof buf, f)) > 0)
        if (!EVP_DigestUpdate (ctx, buf, n)) {
            rc = HK_ENOMEM;
            break;
        }
    if (ferror (f))
        rc = HK_EIO;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (rc == 0 && EVP_DigestFinal_ex (ctx, md, &mdlen))
        s_hex (md, mdlen, out);
    else if (rc == 0)
        rc = HK_ENOMEM;
    EVP_MD_CTX_free (ctx);
    fclose (f);
    return rc;
}

uint32_t
hk_str_hash (const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 16777619u;
    return h;
}
