/* fuzz_common.h - pieces shared by the harnesses in fuzz/: a checking
   allocator that can fail on demand, a byte source that hands out its input
   in fuzzer-chosen pieces, and a way to read every byte of a span (so a
   span past its buffer faults under ASan).

   Everything is static; the state lives in structs the harness resets for
   every input (libFuzzer runs many inputs in one process).  Include
   tcpsession.h first to get fz_allocator. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define FZ_FN static __attribute__((unused))
#else
#define FZ_FN static
#endif

#ifndef FZ_NAME
#define FZ_NAME "fuzz"
#endif

#define FZ_CHECK(cond, what)                                                                     \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "%s: %s:%d: %s\n", FZ_NAME, __FILE__, __LINE__, what);               \
            fflush(stderr);                                                                      \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

/* ---- a checking allocator: a size header before each block; the size
   given to free/realloc must be the size allocated; allocation number
   fail_at (0-based) and, when fail_every is set, every fail_every-th one
   after it return NULL. */
typedef struct fz_alloc {
    size_t live_blocks, live_bytes, peak_bytes;
    long fail_at; /* -1: never */
    unsigned long fail_every;
    unsigned long count;
    int failed;
} fz_alloc;

#define FZ_HDR 16
#define FZ_MAX_ALLOC ((size_t)1 << 30) /* a hostile size must never get this far */

FZ_FN void fz_alloc_init(fz_alloc *a, long fail_at, unsigned long fail_every) {
    memset(a, 0, sizeof *a);
    a->fail_at = fail_at;
    a->fail_every = fail_every;
}

FZ_FN int fz_should_fail(fz_alloc *a) {
    unsigned long k = a->count++;
    if (a->fail_at < 0 || k < (unsigned long)a->fail_at) return 0;
    if (k == (unsigned long)a->fail_at || (a->fail_every && (k - (unsigned long)a->fail_at) % a->fail_every == 0)) {
        a->failed = 1;
        return 1;
    }
    return 0;
}

FZ_FN void *fz_malloc(size_t size, void *user) {
    fz_alloc *a = (fz_alloc *)user;
    unsigned char *p;
    FZ_CHECK(size > 0, "allocation of 0 bytes");
    FZ_CHECK(size <= FZ_MAX_ALLOC, "allocation of more than 1 GiB");
    if (fz_should_fail(a)) return NULL;
    p = (unsigned char *)malloc(size + FZ_HDR);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    a->live_blocks++;
    a->live_bytes += size;
    if (a->live_bytes > a->peak_bytes) a->peak_bytes = a->live_bytes;
    return p + FZ_HDR;
}

FZ_FN void fz_free(void *ptr, size_t size, void *user) {
    fz_alloc *a = (fz_alloc *)user;
    unsigned char *p;
    size_t had;
    FZ_CHECK(ptr != NULL, "free(NULL) reached the allocator");
    p = (unsigned char *)ptr - FZ_HDR;
    memcpy(&had, p, sizeof had);
    FZ_CHECK(had == size, "free: size differs from the allocated size");
    FZ_CHECK(a->live_blocks > 0 && a->live_bytes >= size, "free of more than is allocated");
    a->live_blocks--;
    a->live_bytes -= size;
    free(p);
}

FZ_FN void *fz_realloc(void *ptr, size_t old, size_t size, void *user) {
    fz_alloc *a = (fz_alloc *)user;
    unsigned char *p, *q;
    size_t had;
    FZ_CHECK(ptr != NULL && size > 0, "realloc of NULL or to 0 bytes");
    FZ_CHECK(size <= FZ_MAX_ALLOC, "reallocation to more than 1 GiB");
    p = (unsigned char *)ptr - FZ_HDR;
    memcpy(&had, p, sizeof had);
    FZ_CHECK(had == old, "realloc: old size differs from the allocated size");
    if (fz_should_fail(a)) return NULL;
    q = (unsigned char *)realloc(p, size + FZ_HDR);
    if (!q) return NULL;
    memcpy(q, &size, sizeof size);
    a->live_bytes = a->live_bytes - old + size;
    if (a->live_bytes > a->peak_bytes) a->peak_bytes = a->live_bytes;
    return q + FZ_HDR;
}

#ifdef TCPSESSION_H
FZ_FN tcps_allocator fz_allocator(fz_alloc *a) {
    tcps_allocator al;
    al.alloc = fz_malloc;
    al.realloc = fz_realloc;
    al.free = fz_free;
    al.user = a;
    return al;
}
#endif

/* ---- a byte source handing out its input in pieces of chunks[i]+1 bytes
   (the four sizes cycled) */
typedef struct fz_src {
    const uint8_t *data;
    size_t size, pos;
    uint8_t chunks[4];
    unsigned next;
} fz_src;

FZ_FN void fz_src_init(fz_src *s, const uint8_t *data, size_t size, const uint8_t chunks[4]) {
    s->data = data;
    s->size = size;
    s->pos = 0;
    memcpy(s->chunks, chunks, 4);
    s->next = 0;
}

/* the size of the next piece, at most len and what is left */
FZ_FN size_t fz_src_piece(fz_src *s, size_t len) {
    size_t n = (size_t)s->chunks[s->next++ & 3] + 1;
    if (n > len) n = len;
    if (n > s->size - s->pos) n = s->size - s->pos;
    return n;
}

/* a tcps_read_fn */
FZ_FN ptrdiff_t fz_read(void *user, void *buf, size_t len) {
    fz_src *s = (fz_src *)user;
    size_t n = fz_src_piece(s, len);
    if (n) memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return (ptrdiff_t)n;
}

/* read every byte of a span */
FZ_FN unsigned fz_touch(const uint8_t *p, size_t n) {
    unsigned sum = 0;
    size_t i;
    if (n) FZ_CHECK(p != NULL, "span with a length and no pointer");
    for (i = 0; i < n; i++) sum += p[i];
    return sum;
}

/* ---- reading option bytes off the front of the input */
typedef struct fz_in {
    const uint8_t *p;
    size_t n;
} fz_in;

FZ_FN uint8_t fz_u8(fz_in *in) {
    uint8_t v;
    if (!in->n) return 0;
    v = *in->p++;
    in->n--;
    return v;
}

FZ_FN uint32_t fz_u16(fz_in *in) {
    uint32_t v = fz_u8(in);
    return v << 8 | fz_u8(in);
}

FZ_FN uint32_t fz_u32(fz_in *in) {
    uint32_t v = fz_u16(in);
    return v << 16 | fz_u16(in);
}

#endif
