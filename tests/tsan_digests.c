/* The shared layer's threads under ThreadSanitizer (make test-tsan): the
   collector's digest thread (TSL_HASH_THREAD) and the digest queue itself.
   Criterion cannot start under ThreadSanitizer (its shared arena is mapped
   where the sanitizer's shadow memory lives), so this is a plain program
   that ends with a summary in criterion's words for tests/run_suites.sh.

     - tsl_hashq: interleaved pieces of 0 bytes to 300 KiB for 7 digests,
       waited for at random points, give each digest of its bytes at once;
     - the collector with the digest thread gives every session the same
       bytes and SHA-256 each way as without it, on 1500 connections with
       reused 4-tuples and 2% loss;
     - a collector freed in the middle of a capture, pieces still queued;
     - two collectors with digest threads in two threads at once. */
#define _POSIX_C_SOURCE 200809L
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "capwriter.h"
#include "pktbuild.h"
#include "fuzz/sessgen.h"
#include "tsl.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tested, failing;

#define CHECK(cond, ...)                                                                                         \
    do {                                                                                                         \
        if (!(cond)) {                                                                                           \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                          \
            printf(__VA_ARGS__);                                                                                 \
            printf("\n");                                                                                        \
            return 1;                                                                                            \
        }                                                                                                        \
    } while (0)

static void run(const char *name, int (*fn)(void)) {
    int bad = fn();
    tested++;
    failing += bad != 0;
    printf("%s %s\n", bad ? "not ok -" : "ok -", name);
}

static int pieces_make_the_whole_digest(void) {
    enum { H = 7, N = 3000 };
    tsl_hashq *q;
    tsl_hash *h[H];
    unsigned char *all[H], *piece = (unsigned char *)malloc(300 << 10);
    size_t len[H], cap[H];
    uint64_t x = 0x9e3779b97f4a7c15u;
    int i, k;
    CHECK(piece, "no memory");
    CHECK(tsl_hashq_new(&q, NULL) == TCPS_OK, "no digest thread");
    for (k = 0; k < H; k++) {
        h[k] = tsl_hash_new(TSL_SHA256);
        cap[k] = 1 << 16;
        len[k] = 0;
        all[k] = (unsigned char *)malloc(cap[k]);
        CHECK(h[k] && all[k], "no memory");
    }
    for (i = 0; i < N; i++) {
        size_t n, j;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        k = (int)(x % H);
        n = (x >> 8) % 5 == 0 ? (size_t)((x >> 16) % (300 << 10)) : (size_t)((x >> 16) % 2000);
        for (j = 0; j < n; j++) piece[j] = (unsigned char)(x >> (j % 56)) ^ (unsigned char)j;
        while (len[k] + n > cap[k]) {
            cap[k] *= 2;
            CHECK((all[k] = (unsigned char *)realloc(all[k], cap[k])) != NULL, "no memory");
        }
        memcpy(all[k] + len[k], piece, n);
        len[k] += n;
        tsl_hashq_add(q, h[k], piece, n);
        if ((x >> 40) % 97 == 0) tsl_hashq_wait(q);
    }
    tsl_hashq_wait(q);
    for (k = 0; k < H; k++) {
        char got[TSL_HEX_MAX], want[TSL_HEX_MAX];
        tsl_hash_hex(h[k], got);
        CHECK(tsl_digest_hex(TSL_SHA256, all[k], len[k], want) == 0, "no memory");
        CHECK(strcmp(got, want) == 0, "digest %d of %zu bytes: %s, want %s", k, len[k], got, want);
        tsl_hash_free(h[k]);
        free(all[k]);
    }
    tsl_hashq_free(q);
    free(piece);
    return 0;
}

static void make_traffic(capw_buf *cap, uint64_t seed, uint32_t conns) {
    sg_params p;
    sg_traffic t;
    sg_params_default(&p, seed, conns);
    p.filler_open = 1500;
    p.filler_closed = 300;
    p.loss_pct = 2;
    sg_generate(&t, &p);
    sg_write_pcap(&t, cap);
    sg_free(&t);
}

/* Per stream: bytes and digests each way, from a whole run of a collector */
typedef struct row {
    uint64_t bytes[2];
    char sha[2][TSL_HEX_MAX];
    int seen;
} row;

static int collect(const capw_buf *cap, unsigned flags, row *rows, size_t nrows, size_t *sessions) {
    tcps_reader *rd;
    tsl_collector *c;
    tcps_event ev;
    tsl_session *ss;
    int rc;
    *sessions = 0;
    if (tcps_reader_open_memory(&rd, cap->data, cap->len, NULL) != TCPS_OK) return -1;
    if (tsl_collector_new(&c, NULL, flags) != TCPS_OK) return -1;
    tsl_collector_read(c, rd);
    while ((rc = tsl_collector_next(c, &ev, &ss)) == TCPS_OK) {
        row *r;
        if (ev.type != TCPS_EV_CLOSE) continue;
        if (ss->stream < nrows) {
            r = &rows[ss->stream];
            r->bytes[0] = ss->dir[0].bytes;
            r->bytes[1] = ss->dir[1].bytes;
            memcpy(r->sha[0], ss->dir[0].sha256, TSL_HEX_MAX);
            memcpy(r->sha[1], ss->dir[1].sha256, TSL_HEX_MAX);
            r->seen = 1;
        }
        ++*sessions;
        tsl_session_free(ss);
    }
    tsl_collector_free(c);
    tcps_reader_close(rd);
    return rc == TCPS_DONE ? 0 : rc;
}

#define MAXROWS 8192
static capw_buf traffic;

static int collector_thread_equals_inline(void) {
    row *a = (row *)calloc(MAXROWS, sizeof *a), *b = (row *)calloc(MAXROWS, sizeof *b);
    size_t na, nb, i;
    CHECK(a && b, "no memory");
    CHECK(collect(&traffic, TSL_HASH, a, MAXROWS, &na) == 0, "inline run failed");
    CHECK(collect(&traffic, TSL_HASH | TSL_HASH_THREAD, b, MAXROWS, &nb) == 0, "threaded run failed");
    CHECK(na > 2500 && na == nb, "%zu and %zu sessions", na, nb);
    for (i = 0; i < MAXROWS; i++) {
        CHECK(a[i].seen == b[i].seen, "stream %zu seen once only", i);
        CHECK(a[i].bytes[0] == b[i].bytes[0] && a[i].bytes[1] == b[i].bytes[1], "stream %zu bytes", i);
        CHECK(strcmp(a[i].sha[0], b[i].sha[0]) == 0 && strcmp(a[i].sha[1], b[i].sha[1]) == 0,
              "stream %zu: digests differ", i);
        CHECK(!a[i].seen || strlen(a[i].sha[0]) == 64, "stream %zu: no digest", i);
    }
    free(a);
    free(b);
    return 0;
}

static int freed_in_the_middle(void) {
    tcps_reader *rd;
    tsl_collector *c;
    tcps_event ev;
    tsl_session *ss;
    int i;
    CHECK(tcps_reader_open_memory(&rd, traffic.data, traffic.len, NULL) == TCPS_OK, "reader");
    CHECK(tsl_collector_new(&c, NULL, TSL_HASH | TSL_HASH_THREAD) == TCPS_OK, "collector");
    tsl_collector_read(c, rd);
    for (i = 0; i < 5000 && tsl_collector_next(c, &ev, &ss) == TCPS_OK; i++)
        if (ev.type == TCPS_EV_CLOSE) tsl_session_free(ss);
    CHECK(i == 5000, "the capture ended after %d events", i);
    tsl_collector_free(c); /* sessions open, pieces queued */
    tcps_reader_close(rd);
    return 0;
}

typedef struct job {
    row *rows;
    size_t n;
    int rc;
} job;

static void *job_run(void *arg) {
    job *j = (job *)arg;
    j->rc = collect(&traffic, TSL_HASH | TSL_HASH_THREAD, j->rows, MAXROWS, &j->n);
    return NULL;
}

static int two_collectors_at_once(void) {
    job j[2];
    pthread_t t[2];
    int k;
    for (k = 0; k < 2; k++) {
        j[k].rows = (row *)calloc(MAXROWS, sizeof(row));
        CHECK(j[k].rows, "no memory");
        CHECK(pthread_create(&t[k], NULL, job_run, &j[k]) == 0, "thread");
    }
    for (k = 0; k < 2; k++) pthread_join(t[k], NULL);
    CHECK(j[0].rc == 0 && j[1].rc == 0, "runs failed");
    CHECK(j[0].n == j[1].n && j[0].n > 2500, "%zu and %zu sessions", j[0].n, j[1].n);
    CHECK(memcmp(j[0].rows, j[1].rows, MAXROWS * sizeof(row)) == 0, "the two runs differ");
    free(j[0].rows);
    free(j[1].rows);
    return 0;
}

int main(void) {
    make_traffic(&traffic, 0x75110009u, 1500);
    run("hashq: pieces in order make the whole digest", pieces_make_the_whole_digest);
    run("collector: the digest thread gives the inline digests", collector_thread_equals_inline);
    run("collector: freed in the middle with pieces queued", freed_in_the_middle);
    run("collector: two with digest threads at once", two_collectors_at_once);
    capw_free(&traffic);
    printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: 0\n", tested, tested - failing,
           failing);
    return failing != 0;
}
