/* FNV-1a, 64 bits: the tests' fingerprint of a span of bytes (not a
   cryptographic hash; enough to tell two byte sequences apart in a test). */
#ifndef TCPS_TEST_FNV_H
#define TCPS_TEST_FNV_H

#include <stddef.h>
#include <stdint.h>

static uint64_t fnv(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull; /* the FNV offset basis */
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull; /* the FNV prime */
    return h;
}

#endif
