/* Properties of the reassembler over thousands of random cases:
   - any segmentation, reordering, duplication and consistent overlap of a
     byte stream reassembles to exactly that stream;
   - with segments lost, every delivered byte is the original byte at its
     offset, and delivered plus reported-missing bytes cover the stream;
   - with the receiver's ACKs in the capture, the missing bytes are exactly
     those no captured segment carried;
   - a failing allocator, at every allocation of a run, gives clean errors,
     no leak, and never corrupts what was delivered;
   - long captures (fuzz/sessgen.h): thousands of connections reusing a few
     4-tuples with initial sequence numbers near the previous connection's
     (above, equal, below), new SYNs during and after the linger, late
     retransmissions, thousands of other sessions growing the table, and
     max_sessions below what the capture holds: every connection's bytes
     come back at their offsets, delivered plus missing is every byte (all
     delivered when nothing was lost), one session per connection, the late
     segments counted are the late packets sent. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "reasm_util.h"
#include "capwriter.h"
#include "pktbuild.h"
#include "fuzz/sessgen.h"
#include <criterion/criterion.h>

typedef struct rng { uint64_t s; } rng;
static uint64_t rnext(rng *r) {
    uint64_t x = r->s;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return r->s = x;
}
static uint32_t rbelow(rng *r, uint32_t n) { return n ? (uint32_t)(rnext(r) % n) : 0; }

typedef struct pseg {
    int dir;
    uint32_t off, len;
} pseg;

#define MAXSEG 4096
static pseg segs[MAXSEG];
static int nseg;
static uint8_t stream[2][6000];
static uint32_t slen[2];
static uint8_t covered[2][6000];
static ru_rec rec;

static const ru_ep *ep(int dir, int from) {
    static ru_ep c, s;
    c = ru_v4(192, 168, 1, 10, 51000);
    s = ru_v4(192, 168, 1, 20, 443);
    return (dir == 0) == (from == 1) ? &c : &s;
}
#define ISN0 0x7ffffff0u /* crosses the sign boundary of seq arithmetic */
#define ISN1 0xfffffc00u /* wraps */
static uint32_t isn_of(int dir) { return dir ? ISN1 : ISN0; }

static void add_seg(int dir, uint32_t off, uint32_t len) {
    if (nseg < MAXSEG && len) segs[nseg].dir = dir, segs[nseg].off = off, segs[nseg].len = len, nseg++;
}

static void make_case(rng *r) {
    int dir;
    nseg = 0;
    for (dir = 0; dir < 2; dir++) {
        uint32_t i, off = 0;
        slen[dir] = rbelow(r, 5000);
        for (i = 0; i < slen[dir]; i++) stream[dir][i] = (uint8_t)rnext(r);
        while (off < slen[dir]) {
            uint32_t len = 1 + (rbelow(r, 8) == 0 ? rbelow(r, 1400) : rbelow(r, 200));
            if (len > slen[dir] - off) len = slen[dir] - off;
            add_seg(dir, off, len);
            off += len;
        }
    }
}

static void feed_handshake(tcps_ctx *c, long *ms) {
    ru_seg(c, *ep(0, 1), *ep(0, 0), ISN0, 0, RU_S, NULL, 0, (*ms)++);
    ru_seg(c, *ep(1, 1), *ep(1, 0), ISN1, ISN0 + 1, RU_SA, NULL, 0, (*ms)++);
    ru_seg(c, *ep(0, 1), *ep(0, 0), ISN0 + 1, ISN1 + 1, RU_A, NULL, 0, (*ms)++);
}

static int feed_seg(tcps_ctx *c, const pseg *p, uint32_t ack_off, long ms) {
    return ru_seg(c, *ep(p->dir, 1), *ep(p->dir, 0), isn_of(p->dir) + 1 + p->off,
                  isn_of(!p->dir) + 1 + ack_off, RU_PA, stream[p->dir] + p->off, p->len, ms);
}

static void feed_fins(tcps_ctx *c, long ms) {
    ru_seg(c, *ep(0, 1), *ep(0, 0), ISN0 + 1 + slen[0], ISN1 + 1 + slen[1], RU_FA, NULL, 0, ms);
    ru_seg(c, *ep(1, 1), *ep(1, 0), ISN1 + 1 + slen[1], ISN0 + 2 + slen[0], RU_FA, NULL, 0, ms + 1);
}

static tcps_ctx *new_ctx(void) {
    tcps_config cfg;
    tcps_ctx *c;
    memset(&rec, 0, sizeof rec);
    ru_config(&cfg, &rec);
    cr_assert_eq(tcps_create(&c, &cfg), TCPS_OK);
    return c;
}

static void check_against_stream(int seed, int want_exact) {
    int dir;
    cr_assert_eq(rec.errors, 0, "seed %d: event invariants broken", seed);
    cr_assert_eq(rec.n, 1, "seed %d: %d sessions", seed, rec.n);
    cr_assert_eq(rec.s[0].closed, 1, "seed %d", seed);
    for (dir = 0; dir < 2; dir++) {
        ru_dir *d = &rec.s[0].d[dir];
        uint32_t i;
        cr_assert_eq(d->delivered + d->missing, slen[dir], "seed %d dir %d: %llu + %llu != %u", seed, dir,
                     (unsigned long long)d->delivered, (unsigned long long)d->missing, slen[dir]);
        for (i = 0; i < slen[dir]; i++) {
            if (d->known[i]) cr_assert_eq(d->buf[i], stream[dir][i], "seed %d dir %d offset %u", seed, dir, i);
            cr_assert_eq(d->known[i], covered[dir][i], "seed %d dir %d offset %u: known %d covered %d",
                         seed, dir, i, d->known[i], covered[dir][i]);
        }
        if (want_exact) cr_assert_eq(d->missing, 0, "seed %d dir %d", seed, dir);
    }
}

/* Shuffled, duplicated, overlapping (with the same bytes), some lost. */
static void run_shuffled(int seed, int lossy) {
    rng r;
    tcps_ctx *c;
    long ms = 0;
    int i, n0, dir;
    r.s = 0x9e3779b97f4a7c15ull ^ (uint64_t)(seed + 1) * 0x100000001b3ull;
    make_case(&r);
    n0 = nseg;
    for (i = 0; i < n0 / 4; i++) add_seg(segs[rbelow(&r, (uint32_t)n0)].dir, 0, 0); /* no-op guard */
    for (i = 0; i < n0 / 5 + 1; i++) { /* duplicates */
        if (!n0) break;
        segs[nseg] = segs[rbelow(&r, (uint32_t)n0)];
        if (nseg < MAXSEG) nseg++;
    }
    for (dir = 0; dir < 2; dir++)
        for (i = 0; i < 4 && slen[dir] > 2; i++) { /* overlapping re-cuts */
            uint32_t a = rbelow(&r, slen[dir] - 1), b = a + 1 + rbelow(&r, slen[dir] - a - 1);
            add_seg(dir, a, b - a);
        }
    for (i = nseg - 1; i > 0; i--) { /* shuffle */
        int j = (int)rbelow(&r, (uint32_t)i + 1);
        pseg t = segs[i];
        segs[i] = segs[j], segs[j] = t;
    }
    memset(covered, 0, sizeof covered);
    c = new_ctx();
    feed_handshake(c, &ms);
    for (i = 0; i < nseg; i++) {
        if (lossy && rbelow(&r, 8) == 0) continue;
        memset(covered[segs[i].dir] + segs[i].off, 1, segs[i].len);
        cr_assert_eq(feed_seg(c, &segs[i], 0, ms++), TCPS_OK);
    }
    feed_fins(c, ms);
    cr_assert_eq(tcps_finish(c), TCPS_OK);
    check_against_stream(seed, !lossy);
    tcps_destroy(c);
    ru_free(&rec);
}

Test(properties, reorder_duplicate_overlap_reassembles_exactly) {
    int seed;
    for (seed = 0; seed < 1500; seed++) run_shuffled(seed, 0);
}

Test(properties, loss_is_accounted_for_exactly) {
    int seed;
    for (seed = 0; seed < 1500; seed++) run_shuffled(10000 + seed, 1);
}

/* Sent in order, the capture loses or duplicates some segments, and the
   receiver acknowledges everything sent so far after each segment. */
Test(properties, acked_losses_are_exact_gaps) {
    int seed;
    for (seed = 0; seed < 1500; seed++) {
        rng r;
        tcps_ctx *c;
        long ms = 0;
        int i;
        uint32_t sent[2] = {0, 0};
        r.s = 0x51ed270b27a0c3f5ull ^ (uint64_t)(seed + 7) * 0x2545f4914f6cdd1dull;
        make_case(&r);
        /* interleave the two directions, keeping each in order */
        memset(covered, 0, sizeof covered);
        c = new_ctx();
        feed_handshake(c, &ms);
        for (i = 0; i < nseg; i++) {
            pseg *p = &segs[i];
            int copies = rbelow(&r, 10) == 0 ? 0 : (rbelow(&r, 10) == 0 ? 2 : 1);
            int k;
            sent[p->dir] = p->off + p->len;
            for (k = 0; k < copies; k++) {
                memset(covered[p->dir] + p->off, 1, p->len);
                cr_assert_eq(feed_seg(c, p, sent[!p->dir], ms++), TCPS_OK);
            }
            /* the receiver's ACK of everything sent so far */
            ru_seg(c, *ep(!p->dir, 1), *ep(!p->dir, 0), isn_of(!p->dir) + 1 + sent[!p->dir],
                   isn_of(p->dir) + 1 + sent[p->dir], RU_A, NULL, 0, ms++);
        }
        feed_fins(c, ms);
        cr_assert_eq(tcps_finish(c), TCPS_OK);
        check_against_stream(seed, 0);
        /* every hole was acknowledged, so reported when the ACK came */
        cr_assert_eq(rec.s[0].d[0].gap_reasons[TCPS_GAP_CLOSE] + rec.s[0].d[1].gap_reasons[TCPS_GAP_CLOSE], 0,
                     "seed %d: a hole waited for the close: %s", seed, rec.log);
        tcps_destroy(c);
        ru_free(&rec);
    }
}

/* --- failing allocator */

typedef struct fail_alloc {
    long count, fail_at;
    long long live;
    int bad_size;
} fail_alloc;

static void *fa_alloc(size_t size, void *user) {
    fail_alloc *f = (fail_alloc *)user;
    void *p;
    if (++f->count == f->fail_at) return NULL;
    p = malloc(size);
    if (p) f->live += (long long)size;
    return p;
}
static void *fa_realloc(void *ptr, size_t old, size_t size, void *user) {
    fail_alloc *f = (fail_alloc *)user;
    void *p;
    if (++f->count == f->fail_at) return NULL;
    p = realloc(ptr, size);
    if (p) f->live += (long long)size - (long long)old;
    return p;
}
static void fa_free(void *ptr, size_t size, void *user) {
    fail_alloc *f = (fail_alloc *)user;
    f->live -= (long long)size;
    free(ptr);
}

static long run_with_allocator(fail_alloc *fa, int check) {
    tcps_config cfg;
    tcps_ctx *c = NULL;
    rng r;
    long ms = 0;
    int i, rc;
    memset(&rec, 0, sizeof rec);
    ru_config(&cfg, &rec);
    cfg.allocator.alloc = fa_alloc;
    cfg.allocator.realloc = fa_realloc;
    cfg.allocator.free = fa_free;
    cfg.allocator.user = fa;
    rc = tcps_create(&c, &cfg);
    if (rc != TCPS_OK) {
        cr_assert_eq(rc, TCPS_E_NOMEM);
        cr_assert_null(c);
        return 0;
    }
    r.s = 12345;
    make_case(&r);
    for (i = nseg - 1; i > 0; i--) {
        int j = (int)rbelow(&r, (uint32_t)i + 1);
        pseg t = segs[i];
        segs[i] = segs[j], segs[j] = t;
    }
    feed_handshake(c, &ms);
    for (i = 0; i < nseg; i++) {
        rc = feed_seg(c, &segs[i], 0, ms++);
        cr_assert(rc == TCPS_OK || rc == TCPS_E_NOMEM, "rc %d", rc);
    }
    /* a few more sessions so the table grows */
    for (i = 0; i < 1500; i++) {
        rc = ru_seg(c, ru_v4(10, 9, (uint8_t)(i >> 8), (uint8_t)i, 7), ru_v4(10, 8, 0, 1, 80), 1, 0, RU_S,
                    NULL, 0, ms++);
        cr_assert(rc == TCPS_OK || rc == TCPS_E_NOMEM);
    }
    feed_fins(c, ms);
    rc = tcps_finish(c);
    cr_assert(rc == TCPS_OK || rc == TCPS_E_NOMEM);
    if (check) {
        int dir;
        for (dir = 0; dir < 2 && rec.n > 0; dir++) {
            ru_dir *d = &rec.s[0].d[dir];
            uint32_t k;
            for (k = 0; k < d->len && k < slen[dir]; k++)
                if (d->known[k]) cr_assert_eq(d->buf[k], stream[dir][k], "fail_at %ld: byte %u corrupted", fa->fail_at, k);
        }
    }
    tcps_destroy(c);
    cr_assert_eq(rec.errors, 0);
    ru_free(&rec);
    return fa->count;
}

Test(properties, failing_allocator_every_k) {
    fail_alloc fa;
    long total, k;
    memset(&fa, 0, sizeof fa);
    total = run_with_allocator(&fa, 1);
    cr_assert_eq(fa.live, 0, "leak in a clean run: %lld bytes", fa.live);
    cr_assert_gt(total, 10);
    for (k = 1; k <= total; k++) {
        memset(&fa, 0, sizeof fa);
        fa.fail_at = k;
        run_with_allocator(&fa, 1);
        cr_assert_eq(fa.live, 0, "failing allocation %ld of %ld leaked %lld bytes", k, total, fa.live);
    }
}

/* --- long captures: many connections on reused 4-tuples */

/* sessgen.h's defaults with shorter requests and responses (about 5 MB of
   capture for 2500 connections: the failing-allocator pass replays them) */
static void long_params(sg_params *p, uint64_t seed, uint32_t conns) {
    sg_params_default(p, seed, conns);
    p->req_min = 50, p->req_max = 400;
    p->resp_min = 100, p->resp_max = 1500;
    p->mss = 500;
}

/* Run the traffic of p as a pcap read from memory; the check's verdict and
   the context's statistics. */
static unsigned long run_long(const sg_params *p, uint32_t max_sessions, sg_traffic *t, sg_check *k,
                              tcps_stats *st) {
    capw_buf cap;
    tcps_reader *rd = NULL;
    tcps_ctx *c = NULL;
    tcps_config cfg;
    const char *acct;
    char what[1024];
    sg_generate(t, p);
    sg_write_pcap(t, &cap);
    sg_check_init(k, t);
    k->max_sessions = max_sessions;
    sg_check_config(&cfg, k);
    cr_assert_eq(tcps_reader_open_memory(&rd, cap.data, cap.len, NULL), TCPS_OK);
    cr_assert_eq(tcps_create(&c, &cfg), TCPS_OK);
    cr_assert_eq(tcps_run(c, rd), TCPS_OK);
    sg_check_finish(k, tcps_ctx_stats(c));
    acct = acct_ctx(tcps_ctx_stats(c), 0);
    cr_assert(acct == NULL, "seed %llu: %s", (unsigned long long)p->seed, acct);
    *st = *tcps_ctx_stats(c);
    st->decode = NULL;
    tcps_destroy(c);
    tcps_reader_close(rd);
    sg_describe(t, what, sizeof what);
    cr_log_info("seed %llu, max_sessions %lu: %s; %.1f MB; %llu sessions, %llu evicted, %llu late, %lu split",
                (unsigned long long)p->seed, (unsigned long)max_sessions, what, (double)cap.len / 1e6,
                (unsigned long long)st->sessions, (unsigned long long)st->closed_evicted,
                (unsigned long long)st->late_segments, (unsigned long)k->split);
    capw_free(&cap);
    return k->errors;
}

/* Each ISN rule alone, then all together on one host's 32 ports with
   heavier reordering and duplication: exact, and the table past 2048 live
   sessions. */
Test(properties, reused_tuples_reassemble_exactly) {
    static const unsigned modes[] = {SG_ISN_ABOVE, SG_ISN_EQUAL, SG_ISN_BELOW, 0};
    size_t i;
    for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        sg_params p;
        sg_traffic t;
        sg_check k;
        tcps_stats st;
        long_params(&p, 0x1000 + i, 2500);
        p.isn_modes = modes[i];
        p.filler_open = 2200;
        p.filler_closed = 300;
        if (!modes[i]) p.reorder_pct = 40, p.dup_pct = 25, p.hosts = 1, p.active = 32;
        cr_assert_eq(run_long(&p, 0, &t, &k, &st), 0, "seed %llu: %lu errors, the first: %s",
                     (unsigned long long)p.seed, k.errors, k.err);
        cr_assert_eq(st.missing, 0);
        cr_assert_eq(st.sessions, t.nconns);
        cr_assert_eq(st.late_segments, t.late);
        cr_assert_gt(st.sessions_peak, 2048);
        cr_assert_gt(t.reuse[SG_SOON], 400);
        cr_assert_gt(t.reuse[SG_AFTER], 400);
        sg_check_free(&k);
        sg_free(&t);
    }
}

/* The capture loses data segments and pure ACKs: every delivered byte is
   still the right one, and the rest is reported missing. */
Test(properties, reused_tuples_with_loss_account_for_every_byte) {
    int seed;
    for (seed = 0; seed < 2; seed++) {
        sg_params p;
        sg_traffic t;
        sg_check k;
        tcps_stats st;
        long_params(&p, 0x2000 + (uint64_t)seed, 2500);
        p.loss_pct = seed ? 3 : 12;
        p.filler_open = 1500;
        cr_assert_eq(run_long(&p, 0, &t, &k, &st), 0, "seed %llu: %lu errors, the first: %s",
                     (unsigned long long)p.seed, k.errors, k.err);
        cr_assert_gt(st.missing, 0);
        cr_assert_gt(t.lost, 100);
        sg_check_free(&k);
        sg_free(&t);
    }
}

/* max_sessions below the connections running at once (48), then far below
   the idle ones: busy connections are split by eviction and their pieces
   still deliver the right bytes; with enough idle sessions to evict first
   none is split. */
Test(properties, reused_tuples_under_small_max_sessions) {
    static const uint32_t limits[] = {16, 40, 300};
    size_t i;
    for (i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        sg_params p;
        sg_traffic t;
        sg_check k;
        tcps_stats st;
        long_params(&p, 0x3000 + i, 2500);
        p.filler_open = limits[i] >= 300 ? 1500 : 0;
        cr_assert_eq(run_long(&p, limits[i], &t, &k, &st), 0, "max_sessions %lu: %lu errors, the first: %s",
                     (unsigned long)limits[i], k.errors, k.err);
        cr_assert_gt(st.closed_evicted, 100);
        cr_assert_leq(st.sessions_peak, limits[i]);
        if (limits[i] < 48) cr_assert_gt(k.split, 0);
        else cr_assert_eq(k.split, 0);
        sg_check_free(&k);
        sg_free(&t);
    }
}
