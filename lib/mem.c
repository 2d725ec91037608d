/* Allocators: the caller's, or libc's where the caller gave none. */
#include "tsl.h"
#include <stdlib.h>
#include <string.h>

static void *libc_alloc(size_t size, void *user) {
    (void)user;
    return malloc(size ? size : 1);
}
static void *libc_realloc(void *p, size_t old, size_t size, void *user) {
    (void)old, (void)user;
    return realloc(p, size ? size : 1);
}
static void libc_free(void *p, size_t size, void *user) {
    (void)size, (void)user;
    free(p);
}

void tsl_mem_default(tcps_allocator *a) {
    if (a->alloc && a->free) return;
    a->alloc = libc_alloc;
    a->realloc = libc_realloc;
    a->free = libc_free;
    a->user = NULL;
}

void *tsl_mem_realloc(const tcps_allocator *a, void *p, size_t old, size_t size) {
    void *q;
    if (!p) return a->alloc(size, a->user);
    if (a->realloc) return a->realloc(p, old, size, a->user);
    if (!(q = a->alloc(size, a->user))) return NULL;
    memcpy(q, p, old < size ? old : size);
    a->free(p, old, a->user);
    return q;
}
