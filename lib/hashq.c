/* The digest thread of a collector (TSL_HASH_THREAD): the delivered bytes
   are copied into slots and hashed by one worker thread, in the order they
   were added, while the reading thread goes on reassembling.

   Slots form a ring of HQ_SLOTS buffers of HQ_CAP bytes. The reading thread
   fills the slot at `head` with pieces, each a header (its digest, its
   length) and its bytes, whatever digest they are for, and publishes the
   slot by moving head on when it is full (or at tsl_hashq_wait): one lock
   and one wake-up per slot, not per piece. The worker hashes the pieces of
   the slot at `tail` and moves tail on. A digest is read only after
   tsl_hashq_wait, when every slot published before has been hashed: the
   mutex orders the worker's updates before the reader's final. */
#include "tsl.h"
#include <pthread.h>
#include <string.h>

#define HQ_SLOTS 128
#define HQ_CAP (64u << 10)

typedef struct hq_piece { /* in a slot, followed by len bytes, then padding to HQ_ALIGN */
    tsl_hash *h;
    size_t len;
} hq_piece;

#define HQ_ALIGN sizeof(hq_piece)
#define HQ_ROUND(n) (((n) + HQ_ALIGN - 1) / HQ_ALIGN * HQ_ALIGN)

typedef struct hq_slot {
    size_t len; /* bytes of pieces */
    unsigned char *buf;
} hq_slot;

struct tsl_hashq {
    tcps_allocator mem;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work, room; /* the worker waits for work, the reader for room */
    unsigned head, tail;       /* slots published / hashed; head - tail <= HQ_SLOTS */
    int stop;
    hq_slot slot[HQ_SLOTS];
};

static void *worker(void *arg) {
    tsl_hashq *q = (tsl_hashq *)arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        hq_slot *s;
        while (q->tail == q->head && !q->stop) pthread_cond_wait(&q->work, &q->lock);
        if (q->tail == q->head) break; /* stopped, and nothing left */
        size_t at;
        s = &q->slot[q->tail % HQ_SLOTS];
        pthread_mutex_unlock(&q->lock);
        for (at = 0; at < s->len;) {
            hq_piece pc;
            memcpy(&pc, s->buf + at, sizeof pc);
            tsl_hash_update(pc.h, s->buf + at + sizeof pc, pc.len);
            at += sizeof pc + HQ_ROUND(pc.len);
        }
        pthread_mutex_lock(&q->lock);
        s->len = 0;
        q->tail++;
        pthread_cond_signal(&q->room);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

static void free_slots(tsl_hashq *q) {
    int i;
    for (i = 0; i < HQ_SLOTS; i++)
        if (q->slot[i].buf) q->mem.free(q->slot[i].buf, HQ_CAP, q->mem.user);
}

int tsl_hashq_new(tsl_hashq **out, const tcps_allocator *a) {
    tsl_hashq *q;
    tcps_allocator m;
    int i;
    *out = NULL;
    if (a) m = *a;
    else memset(&m, 0, sizeof m);
    tsl_mem_default(&m);
    if (!(q = (tsl_hashq *)m.alloc(sizeof *q, m.user))) return TCPS_E_NOMEM;
    memset(q, 0, sizeof *q);
    q->mem = m;
    for (i = 0; i < HQ_SLOTS; i++)
        if (!(q->slot[i].buf = (unsigned char *)m.alloc(HQ_CAP, m.user))) {
            free_slots(q);
            m.free(q, sizeof *q, m.user);
            return TCPS_E_NOMEM;
        }
    if (pthread_mutex_init(&q->lock, NULL) != 0) goto no_thread;
    if (pthread_cond_init(&q->work, NULL) != 0) goto no_work;
    if (pthread_cond_init(&q->room, NULL) != 0) goto no_room;
    if (pthread_create(&q->thread, NULL, worker, q) != 0) goto no_create;
    *out = q;
    return TCPS_OK;
no_create:
    pthread_cond_destroy(&q->room);
no_room:
    pthread_cond_destroy(&q->work);
no_work:
    pthread_mutex_destroy(&q->lock);
no_thread:
    free_slots(q);
    m.free(q, sizeof *q, m.user);
    return TCPS_E_LIMIT;
}

/* Hand the filling slot to the worker (lock held). */
static void publish(tsl_hashq *q) {
    if (!q->slot[q->head % HQ_SLOTS].len) return;
    q->head++;
    pthread_cond_signal(&q->work);
}

void tsl_hashq_add(tsl_hashq *q, tsl_hash *h, const void *p, size_t n) {
    const unsigned char *src = (const unsigned char *)p;
    while (n) {
        hq_slot *s = &q->slot[q->head % HQ_SLOTS];
        hq_piece pc;
        /* the filling slot is the reader's alone: no lock to append to it */
        if (HQ_CAP - s->len < sizeof pc + HQ_ALIGN) {
            pthread_mutex_lock(&q->lock);
            publish(q);
            while (q->head - q->tail == HQ_SLOTS) pthread_cond_wait(&q->room, &q->lock);
            pthread_mutex_unlock(&q->lock);
            continue;
        }
        pc.h = h;
        pc.len = HQ_CAP - s->len - sizeof pc;
        if (pc.len > n) pc.len = n;
        memcpy(s->buf + s->len, &pc, sizeof pc);
        memcpy(s->buf + s->len + sizeof pc, src, pc.len);
        s->len += sizeof pc + HQ_ROUND(pc.len);
        src += pc.len;
        n -= pc.len;
    }
}

void tsl_hashq_wait(tsl_hashq *q) {
    pthread_mutex_lock(&q->lock);
    publish(q);
    while (q->tail != q->head) pthread_cond_wait(&q->room, &q->lock);
    pthread_mutex_unlock(&q->lock);
}

void tsl_hashq_free(tsl_hashq *q) {
    tcps_allocator m;
    if (!q) return;
    pthread_mutex_lock(&q->lock);
    publish(q);
    q->stop = 1;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->thread, NULL);
    pthread_cond_destroy(&q->room);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->lock);
    free_slots(q);
    m = q->mem;
    m.free(q, sizeof *q, m.user);
}
