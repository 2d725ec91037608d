/* bench_hash.h - the work every reassembly benchmark program does on the
   bytes its library delivers, so that tcpsession, libnids and libtins are
   measured doing exactly the same thing, plus the timing and memory probes
   they share.  C and C++.

   The hash mixes 32-byte blocks into four independent 64-bit lanes with the
   xxHash64 round (acc = rotl(acc + word * P2, 31) * P1; the lanes run in
   parallel, over 10 GB/s on one core) and is streamed per direction: a
   direction's digest does not depend on how its bytes were cut into chunks,
   so libraries that deliver the same bytes get the same digests even when
   they hand them over in different pieces.  The digests of all directions
   are added (the order of sessions does not matter either): equal totals
   mean every tool delivered the same bytes.  It is a checksum for comparing
   tools, nothing more. */
#ifndef BENCH_HASH_H
#define BENCH_HASH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define BH_P1 0x9E3779B185EBCA87ull
#define BH_P2 0xC2B2AE3D27D4EB4Full
#define BH_P3 0x165667B19E3779F9ull
#define BH_P4 0x85EBCA77C2B2AE63ull

typedef struct bh_dir {
    uint64_t acc[4], len;
    uint8_t tail[32];
    unsigned ntail;
} bh_dir;

static void bh_init(bh_dir *d) {
    d->acc[0] = BH_P1 + BH_P2;
    d->acc[1] = BH_P2;
    d->acc[2] = 0;
    d->acc[3] = 0 - BH_P1;
    d->len = 0;
    d->ntail = 0;
}

static uint64_t bh_word(const uint8_t *p) {
    uint64_t w;
    memcpy(&w, p, 8); /* host order: the same in every program here */
    return w;
}

static uint64_t bh_round(uint64_t acc, uint64_t w) {
    acc += w * BH_P2;
    acc = (acc << 31) | (acc >> 33);
    return acc * BH_P1;
}

static void bh_blocks(uint64_t *acc, const uint8_t *p, size_t nblocks) {
    uint64_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    while (nblocks--) {
        a0 = bh_round(a0, bh_word(p));
        a1 = bh_round(a1, bh_word(p + 8));
        a2 = bh_round(a2, bh_word(p + 16));
        a3 = bh_round(a3, bh_word(p + 24));
        p += 32;
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

static void bh_update(bh_dir *d, const uint8_t *p, size_t n) {
    d->len += n;
    if (d->ntail) {
        size_t k = 32 - d->ntail;
        if (k > n) k = n;
        memcpy(d->tail + d->ntail, p, k);
        d->ntail += (unsigned)k;
        p += k;
        n -= k;
        if (d->ntail < 32) return;
        bh_blocks(d->acc, d->tail, 1);
        d->ntail = 0;
    }
    bh_blocks(d->acc, p, n / 32);
    p += n & ~(size_t)31;
    n &= 31;
    if (n) memcpy(d->tail, p, n);
    d->ntail = (unsigned)n;
}

static uint64_t bh_rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* The direction's digest (an empty direction counts as 0). */
static uint64_t bh_final(const bh_dir *d) {
    uint64_t h;
    uint8_t last[32];
    unsigned i;
    if (!d->len) return 0;
    h = bh_rotl(d->acc[0], 1) + bh_rotl(d->acc[1], 7) + bh_rotl(d->acc[2], 12) +
        bh_rotl(d->acc[3], 18);
    memset(last, 0, sizeof last);
    memcpy(last, d->tail, d->ntail);
    for (i = 0; i < d->ntail; i += 8) {
        h ^= bh_round(0, bh_word(last + i));
        h = bh_rotl(h, 27) * BH_P1 + BH_P4;
    }
    h ^= d->len;
    h ^= h >> 33; /* avalanche, so that sums of digests mix well */
    h *= BH_P2;
    h ^= h >> 29;
    h *= BH_P3;
    h ^= h >> 32;
    return h;
}

/* Totals a program prints. */
typedef struct bh_totals {
    uint64_t bytes;   /* bytes hashed (or counted, without hashing) */
    uint64_t digest;  /* sum of direction digests */
    uint64_t streams; /* sessions seen by the callbacks */
    uint64_t dirs;    /* non-empty directions */
} bh_totals;

static void bh_add(bh_totals *t, const bh_dir *d) {
    if (!d->len) return;
    t->bytes += d->len;
    t->digest += bh_final(d);
    t->dirs++;
}

static double bh_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds this process used so far: user + system, or user only. */
static double bh_cpu(int user_only) {
    struct rusage ru;
    double u;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    u = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    return user_only ? u : u + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Peak resident set of this process in KiB (VmHWM), -1 if unknown. */
static long bh_peak_rss_kb(void) {
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

/* The one line run_engine_bench.sh reads.  secs is wall-clock time of the
   measured part; cpu is the whole process's user + system time (on a shared
   machine the steadier of the two), user its user time alone (without the
   kernel's copying of the capture out of the page cache). */
static void bh_report(const char *tool, double secs, uint64_t packets, const bh_totals *t,
                      const char *extra) {
    printf("RESULT tool=%s secs=%.6f cpu=%.6f user=%.6f packets=%llu bytes=%llu digest=%016llx streams=%llu "
           "dirs=%llu rss_kb=%ld %s\n",
           tool, secs, bh_cpu(0), bh_cpu(1), (unsigned long long)packets, (unsigned long long)t->bytes,
           (unsigned long long)t->digest, (unsigned long long)t->streams,
           (unsigned long long)t->dirs, bh_peak_rss_kb(), extra ? extra : "");
    fflush(stdout);
}

#endif
