/* Digests through libcrypto's EVP interface (it picks the CPU's SHA
   instructions where there are some). */
#include "tsl.h"
#include <openssl/evp.h>

struct tsl_hash {
    EVP_MD_CTX *md;
    int kind;
};

static const EVP_MD *md_of(int kind) { return kind == TSL_MD5 ? EVP_md5() : EVP_sha256(); }

tsl_hash *tsl_hash_new(int kind) {
    tsl_hash *h = (tsl_hash *)OPENSSL_malloc(sizeof *h);
    if (!h) return NULL;
    h->kind = kind;
    h->md = EVP_MD_CTX_new();
    if (!h->md || EVP_DigestInit_ex(h->md, md_of(kind), NULL) != 1) {
        tsl_hash_free(h);
        return NULL;
    }
    return h;
}

void tsl_hash_update(tsl_hash *h, const void *p, size_t n) {
    if (n) EVP_DigestUpdate(h->md, p, n);
}

static void to_hex(const unsigned char *d, unsigned n, char *hex) {
    static const char hx[] = "0123456789abcdef";
    unsigned i;
    for (i = 0; i < n; i++) {
        hex[2 * i] = hx[d[i] >> 4];
        hex[2 * i + 1] = hx[d[i] & 15];
    }
    hex[2 * n] = 0;
}

void tsl_hash_hex(tsl_hash *h, char hex[TSL_HEX_MAX]) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (EVP_DigestFinal_ex(h->md, d, &n) != 1 || EVP_DigestInit_ex(h->md, md_of(h->kind), NULL) != 1) n = 0;
    to_hex(d, n, hex);
}

void tsl_hash_free(tsl_hash *h) {
    if (!h) return;
    EVP_MD_CTX_free(h->md);
    OPENSSL_free(h);
}

int tsl_digest_hex(int kind, const void *p, size_t n, char hex[TSL_HEX_MAX]) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (EVP_Digest(p, n, d, &len, md_of(kind), NULL) != 1) {
        hex[0] = 0;
        return -1;
    }
    to_hex(d, len, hex);
    return 0;
}
