/* md5.h - MD5 (RFC 1321) for the tcpsession tools and tests.
   Only for the fields the old Python tool wrote (combined_*_md5sum and
   the like): MD5 is not a security hash. No dependencies: static
   functions, include anywhere.

       md5_ctx h;
       md5_init(&h);
       md5_update(&h, data, len);      (any number of times)
       md5_final(&h, digest);          (16 bytes)
       md5_hex(digest, text);          (33 bytes with the NUL)
*/
#ifndef TCPS_MD5_H
#define TCPS_MD5_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define MD5__FN static __attribute__((unused))
#else
#define MD5__FN static
#endif

typedef struct md5_ctx {
    uint32_t s[4];
    uint64_t bytes;
    uint8_t block[64];
    size_t fill;
} md5_ctx;

/* T[i] = floor(2^32 * |sin(i + 1)|), RFC 1321 section 3.4 */
static const uint32_t md5__t[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

/* shift amounts per round, four per round */
static const uint8_t md5__r[16] = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};

#define MD5__ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

MD5__FN void md5__block(md5_ctx *c, const uint8_t *p) {
    uint32_t x[16], a = c->s[0], b = c->s[1], cc = c->s[2], d = c->s[3], f, t;
    int i, g;
    for (i = 0; i < 16; i++)
        x[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    for (i = 0; i < 64; i++) {
        if (i < 16) {
            f = (b & cc) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (b & d) | (cc & ~d);
            g = (5 * i + 1) & 15;
        } else if (i < 48) {
            f = b ^ cc ^ d;
            g = (3 * i + 5) & 15;
        } else {
            f = cc ^ (b | ~d);
            g = (7 * i) & 15;
        }
        t = a + f + md5__t[i] + x[g];
        a = d;
        d = cc;
        cc = b;
        b = b + MD5__ROL(t, md5__r[(i >> 4) * 4 + (i & 3)]);
    }
    c->s[0] += a;
    c->s[1] += b;
    c->s[2] += cc;
    c->s[3] += d;
}

MD5__FN void md5_init(md5_ctx *c) {
    c->s[0] = 0x67452301;
    c->s[1] = 0xefcdab89;
    c->s[2] = 0x98badcfe;
    c->s[3] = 0x10325476;
    c->bytes = 0;
    c->fill = 0;
}

MD5__FN void md5_update(md5_ctx *c, const void *data, size_t len) {
    const uint8_t *p = (const uint8_t *)data;
    c->bytes += len;
    if (c->fill) {
        size_t take = 64 - c->fill < len ? 64 - c->fill : len;
        memcpy(c->block + c->fill, p, take);
        c->fill += take, p += take, len -= take;
        if (c->fill < 64) return;
        md5__block(c, c->block);
        c->fill = 0;
    }
    for (; len >= 64; p += 64, len -= 64) md5__block(c, p);
    if (len) memcpy(c->block, p, len);
    c->fill = len;
}

MD5__FN void md5_final(md5_ctx *c, uint8_t out[16]) {
    uint64_t bits = c->bytes * 8;
    uint8_t pad[72];
    size_t n = (c->fill < 56 ? 56 : 120) - c->fill;
    int i;
    memset(pad, 0, sizeof pad);
    pad[0] = 0x80;
    for (i = 0; i < 8; i++) pad[n + i] = (uint8_t)(bits >> (8 * i)); /* length little-endian */
    md5_update(c, pad, n + 8);
    for (i = 0; i < 16; i++) out[i] = (uint8_t)(c->s[i >> 2] >> (8 * (i & 3)));
}

MD5__FN void md5_hex(const uint8_t d[16], char out[33]) {
    static const char hx[] = "0123456789abcdef";
    int i;
    for (i = 0; i < 16; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[32] = 0;
}

#endif
