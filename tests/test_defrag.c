/* IP defragmentation tests: the IP cases of the libnids TESTS list (1a
   overlapping/duplicate fragments in every order, 1b several last fragments,
   1c the timeout, 1d a whole packet with the id of a pending datagram, 1e
   resource limits), IPv6 fragments, first-copy-wins overlaps, memory
   accounting, and allocator failure at every allocation. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"

#include <criterion/criterion.h>
#include <stdlib.h>

#include "pktbuild.h"

/* ---- a counting allocator that can fail the k-th allocation */

typedef struct counting {
    size_t live, peak;
    long allocs;    /* allocations made */
    long fail_at;   /* 1-based allocation number to fail, 0: never */
    long failures;
} counting;

static void *c_alloc(size_t size, void *user) {
    counting *c = (counting *)user;
    void *p;
    c->allocs++;
    if (c->fail_at && c->allocs == c->fail_at) {
        c->failures++;
        return NULL;
    }
    p = malloc(size);
    if (p) {
        c->live += size;
        if (c->live > c->peak) c->peak = c->live;
    }
    return p;
}
static void *c_realloc(void *ptr, size_t old, size_t size, void *user) {
    counting *c = (counting *)user;
    void *p;
    c->allocs++;
    if (c->fail_at && c->allocs == c->fail_at) {
        c->failures++;
        return NULL;
    }
    p = realloc(ptr, size);
    if (p) {
        c->live += size - old;
        if (c->live > c->peak) c->peak = c->live;
    }
    return p;
}
static void c_free(void *ptr, size_t size, void *user) {
    counting *c = (counting *)user;
    c->live -= size;
    free(ptr);
}

static tcps_decoder *new_decoder(uint32_t flags, counting *c, uint32_t max_dg, size_t max_bytes,
                                 uint32_t timeout) {
    tcps_decoder_config cfg;
    tcps_decoder *d = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = flags;
    cfg.frag_max_datagrams = max_dg;
    cfg.frag_max_bytes = max_bytes;
    cfg.frag_timeout_ms = timeout;
    if (c) {
        cfg.allocator.alloc = c_alloc;
        cfg.allocator.realloc = c_realloc;
        cfg.allocator.free = c_free;
        cfg.allocator.user = c;
    }
    cr_assert_eq(tcps_decoder_create(&d, &cfg), TCPS_OK);
    return d;
}

static pb_buf *B(void) {
    pb_buf *b = (pb_buf *)malloc(sizeof *b);
    cr_assert(b);
    return b;
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed) {
    size_t i;
    for (i = 0; i < n; i++) p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

/* An IPv4/TCP datagram (raw IP) with plen pattern bytes of payload. */
static void build4(pb_buf *b, size_t plen, uint16_t id, unsigned seed) {
    pb_tcp_hdr t = pb_tcp_default(40000, 80);
    pb_ip_hdr ip = pb_ip4("10.0.0.1", "10.0.0.2");
    uint8_t *p;
    ip.id = id;
    pb_init(b);
    p = pb_append(b, NULL, plen);
    fill_pattern(p, plen, seed);
    pb_tcp(b, &t);
    pb_ipv4(b, &ip, PB_TCP);
}
static void build6(pb_buf *b, size_t plen, unsigned seed, int with_dstopt) {
    pb_tcp_hdr t = pb_tcp_default(40000, 80);
    pb_ip_hdr ip = pb_ip6("2001:db8::1", "2001:db8::2");
    uint8_t *p;
    pb_init(b);
    p = pb_append(b, NULL, plen);
    fill_pattern(p, plen, seed);
    pb_tcp(b, &t);
    if (with_dstopt) {
        pb_ip6_ext(b, 60, PB_TCP, 16);
        pb_ipv6(b, &ip, 60);
    } else {
        pb_ipv6(b, &ip, PB_TCP);
    }
}

static tcps_time T(int64_t sec, uint32_t nsec) {
    tcps_time t;
    t.sec = sec;
    t.nsec = nsec;
    return t;
}

static int feed(tcps_decoder *d, const pb_buf *f, tcps_time ts, tcps_segment *seg) {
    tcps_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.linktype = TCPS_LINKTYPE_RAW;
    pkt.ts = ts;
    pkt.data.ptr = pb_data(f);
    pkt.data.len = pb_len(f);
    pkt.origlen = (uint32_t)pb_len(f);
    pkt.fcs_len = -1;
    return tcps_decode(d, &pkt, seg);
}

/* the segment carries exactly the datagram's TCP payload */
static void expect_payload(const tcps_segment *s, const pb_buf *dg, size_t iphl) {
    size_t tcp_off = iphl + 20, plen = pb_len(dg) - tcp_off;
    cr_assert_eq(s->payload_len, plen);
    cr_assert_eq(s->payload.len, plen);
    cr_assert_arr_eq(s->payload.ptr, pb_data(dg) + tcp_off, plen);
    cr_assert_eq(s->fragmented, 1);
    cr_assert_eq(s->sport, 40000);
}

/* ---- 1a: in order, out of order, overlaps and duplicates */

typedef struct piece {
    size_t off, len;
    int more;
} piece;

static void permute_and_check(const piece *pc, int n, const pb_buf *dg) {
    int idx[8], i, done = 0;
    pb_buf *f = B();
    for (i = 0; i < n; i++) idx[i] = i;
    /* every permutation (Heap's algorithm, iterative) */
    {
        int c[8] = {0};
        i = 0;
        for (;;) {
            tcps_decoder *d = new_decoder(TCPS_DECODE_VERIFY_CHECKSUMS, NULL, 0, 0, 0);
            tcps_segment s;
            int k, got = 0, r = 0;
            for (k = 0; k < n; k++) {
                pb_frag4(f, pb_data(dg), pc[idx[k]].off, pc[idx[k]].len, pc[idx[k]].more);
                r = feed(d, f, T(1, 0), &s);
                cr_assert_geq(r, 0);
                if (r == 1) {
                    got++;
                    expect_payload(&s, dg, 20);
                    cr_assert_eq(s.checksum, TCPS_CSUM_GOOD);
                }
            }
            /* the datagram completes exactly once, with the last piece that
               fills the last hole (duplicates after that start a new,
               incomplete datagram) */
            cr_assert_eq(got, 1, "permutation %d", done);
            cr_assert_eq(tcps_decoder_stats(d)->reassembled, 1);
            tcps_decoder_destroy(d);
            done++;
            while (i < n && c[i] >= i) c[i++] = 0;
            if (i >= n) break;
            if (i % 2 == 0) {
                int t = idx[0];
                idx[0] = idx[i];
                idx[i] = t;
            } else {
                int t = idx[c[i]];
                idx[c[i]] = idx[i];
                idx[i] = t;
            }
            c[i]++;
            i = 0;
        }
    }
    free(f);
}

Test(libnids_1a, three_fragments_every_order) {
    pb_buf *dg = B();
    static const piece pc[] = {{0, 24, 1}, {24, 40, 1}, {64, 36, 0}};
    build4(dg, 100 - 20, 7, 1);
    permute_and_check(pc, 3, dg);
    free(dg);
}

Test(libnids_1a, overlapping_pieces_every_order) {
    /* [0,32) [16,48) [40,64) [48,100 last): every pair of neighbours overlaps;
       the same bytes in each copy, so every order gives the original */
    pb_buf *dg = B();
    static const piece pc[] = {{0, 32, 1}, {16, 32, 1}, {40, 24, 1}, {48, 52, 0}};
    build4(dg, 80, 8, 2);
    permute_and_check(pc, 4, dg);
    free(dg);
}

Test(libnids_1a, contained_and_containing_pieces_every_order) {
    pb_buf *dg = B();
    static const piece pc[] = {{0, 8, 1}, {0, 56, 1}, {16, 8, 1}, {8, 40, 1}, {56, 44, 0}};
    build4(dg, 80, 9, 3);
    permute_and_check(pc, 5, dg);
    free(dg);
}

Test(libnids_1a, duplicates_are_counted_as_overlaps) {
    pb_buf *dg = B(), *f = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0, NULL, 0, 0, 0);
    build4(dg, 180, 10, 4);
    pb_frag4(f, pb_data(dg), 0, 96, 1);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->frag_overlaps, 1);
    pb_frag4(f, pb_data(dg), 96, 104, 0);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 1);
    expect_payload(&s, dg, 20);
    cr_assert_eq(tcps_decoder_stats(d)->fragments, 3);
    cr_assert_eq(tcps_decoder_stats(d)->reassembled, 1);
    cr_assert_eq(tcps_decoder_stats(d)->tcp, 1);
    tcps_decoder_destroy(d);
    free(dg);
    free(f);
}

Test(libnids_1a, overlap_first_copy_wins) {
    /* the second copy of bytes [32,64) differs: the first one seen is kept,
       whichever piece it came in */
    pb_buf *dg = B(), *alt = B(), *f = B();
    tcps_segment s;
    int order;
    build4(dg, 80, 11, 5);
    build4(alt, 80, 11, 99); /* same headers, other payload bytes */
    for (order = 0; order < 2; order++) {
        tcps_decoder *d = new_decoder(0, NULL, 0, 0, 0);
        if (order == 0) {
            pb_frag4(f, pb_data(dg), 0, 64, 1); /* original [0,64) */
            cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
            pb_frag4(f, pb_data(alt), 32, 68, 0); /* other bytes [32,100) */
            cr_assert_eq(feed(d, f, T(1, 0), &s), 1);
            /* IP payload [20,64) from the first copy, [64,100) from the second */
            cr_assert_arr_eq(s.payload.ptr, pb_data(dg) + 40, 44);
            cr_assert_arr_eq(s.payload.ptr + 44, pb_data(alt) + 84, 36);
        } else {
            pb_frag4(f, pb_data(alt), 32, 68, 0);
            cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
            pb_frag4(f, pb_data(dg), 0, 64, 1);
            /* IP payload [20,32) from dg, [32,100) from alt (seen first) */
            cr_assert_eq(feed(d, f, T(1, 0), &s), 1);
            cr_assert_arr_eq(s.payload.ptr, pb_data(dg) + 40, 12);
            cr_assert_arr_eq(s.payload.ptr + 12, pb_data(alt) + 52, 68);
        }
        cr_assert_eq(tcps_decoder_stats(d)->frag_overlaps, 1);
        tcps_decoder_destroy(d);
    }
    free(dg);
    free(alt);
    free(f);
}

/* ---- 1b: several fragments with "no more fragments" */

Test(libnids_1b, consistent_repeated_last_fragment) {
    pb_buf *dg = B(), *f = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0, NULL, 0, 0, 0);
    build4(dg, 60, 12, 6);
    pb_frag4(f, pb_data(dg), 40, 40, 0);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    pb_frag4(f, pb_data(dg), 56, 24, 0); /* another last fragment, same end */
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    pb_frag4(f, pb_data(dg), 0, 40, 1);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 1);
    expect_payload(&s, dg, 20);
    cr_assert_eq(tcps_decoder_stats(d)->malformed[TCPS_MALFORMED_FRAG_BAD], 0);
    tcps_decoder_destroy(d);
    free(dg);
    free(f);
}

Test(libnids_1b, inconsistent_last_fragments_are_malformed) {
    pb_buf *dg = B(), *f = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0, NULL, 0, 0, 0);
    const tcps_decode_stats *st = tcps_decoder_stats(d);
    build4(dg, 100, 13, 7);
    /* two last fragments ending at different places: the datagram is dropped */
    pb_frag4(f, pb_data(dg), 40, 40, 0);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    pb_frag4(f, pb_data(dg), 80, 40, 0);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    cr_assert_eq(st->malformed[TCPS_MALFORMED_FRAG_BAD], 1);
    pb_frag4(f, pb_data(dg), 0, 40, 1);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0); /* starts a new, incomplete one */
    /* a fragment beyond the end a last fragment set */
    pb_frag4(f, pb_data(dg), 48, 8, 0); /* last, ends at 56; [40,48) missing */
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    pb_frag4(f, pb_data(dg), 56, 64, 1);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    cr_assert_eq(st->malformed[TCPS_MALFORMED_FRAG_BAD], 2);
    /* a last fragment ending before data already received */
    pb_frag4(f, pb_data(dg), 0, 64, 1);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    pb_frag4(f, pb_data(dg), 8, 16, 0);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    cr_assert_eq(st->malformed[TCPS_MALFORMED_FRAG_BAD], 3);
    cr_assert_eq(st->reassembled, 0);
    tcps_decoder_destroy(d);
    free(dg);
    free(f);
}

/* ---- 1c: timeout on capture time */

Test(libnids_1c, completes_at_the_timeout_expires_after_it) {
    pb_buf *dg = B(), *f = B();
    tcps_segment s;
    int eps;
    build4(dg, 100, 14, 8);
    for (eps = 0; eps < 2; eps++) {
        tcps_decoder *d = new_decoder(0, NULL, 0, 0, 0); /* default 30 s */
        pb_frag4(f, pb_data(dg), 0, 64, 1);
        cr_assert_eq(feed(d, f, T(100, 500000000), &s), 0);
        pb_frag4(f, pb_data(dg), 64, 56, 0);
        if (!eps) {
            cr_assert_eq(feed(d, f, T(130, 500000000), &s), 1);
            expect_payload(&s, dg, 20);
            cr_assert_eq(tcps_decoder_stats(d)->frag_expired, 0);
        } else {
            cr_assert_eq(feed(d, f, T(130, 500000001), &s), 0);
            cr_assert_eq(tcps_decoder_stats(d)->frag_expired, 1);
            cr_assert_eq(tcps_decoder_stats(d)->reassembled, 0);
        }
        tcps_decoder_destroy(d);
    }
    free(dg);
    free(f);
}

Test(libnids_1c, configured_timeout_and_unrelated_packets_expire) {
    pb_buf *dg = B(), *f = B(), *other = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0, NULL, 0, 0, 1500);
    build4(dg, 100, 15, 9);
    build4(other, 10, 16, 9);
    pb_frag4(f, pb_data(dg), 0, 64, 1);
    cr_assert_eq(feed(d, f, T(10, 0), &s), 0);
    cr_assert_eq(feed(d, other, T(11, 400000000), &s), 1);
    cr_assert_eq(tcps_decoder_stats(d)->frag_expired, 0);
    cr_assert_eq(feed(d, other, T(11, 600000000), &s), 1); /* any packet moves time on */
    cr_assert_eq(tcps_decoder_stats(d)->frag_expired, 1);
    tcps_decoder_destroy(d);
    free(dg);
    free(f);
    free(other);
}

/* ---- 1d: F1, then a whole packet P' with the same id, then F2 */

Test(libnids_1d, whole_packet_with_same_id_between_fragments) {
    pb_buf *p = B(), *p2 = B(), *f = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0, NULL, 0, 0, 0);
    build4(p, 100, 17, 10);
    build4(p2, 50, 17, 77);
    pb_frag4(f, pb_data(p), 0, 64, 1);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    cr_assert_eq(feed(d, p2, T(1, 0), &s), 1);
    cr_assert_eq(s.fragmented, 0);
    cr_assert_eq(s.payload.len, 50);
    cr_assert_arr_eq(s.payload.ptr, pb_data(p2) + 40, 50);
    pb_frag4(f, pb_data(p), 64, 56, 0);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 1);
    expect_payload(&s, p, 20);
    tcps_decoder_destroy(d);
    free(p);
    free(p2);
    free(f);
}

/* ---- 1e: resource limits (the oldest incomplete datagram is evicted) */

static void junk_fragment(pb_buf *f, uint16_t id) {
    pb_buf *j = B();
    build4(j, 40, id, id);
    pb_frag4(f, pb_data(j), 8, 8, 1);
    free(j);
}

static int sendtcpfrag(uint32_t max_dg, int x, int y) {
    pb_buf *a = B(), *f = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0, NULL, max_dg, 0, 0);
    int i, got;
    build4(a, 200, 60000, 11);
    for (i = 0; i < x; i++) {
        junk_fragment(f, (uint16_t)(i + 1));
        cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    }
    pb_frag4(f, pb_data(a), 0, 104, 1);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    for (i = 0; i < y; i++) {
        junk_fragment(f, (uint16_t)(x + i + 1));
        cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    }
    pb_frag4(f, pb_data(a), 104, 116, 0);
    got = feed(d, f, T(1, 0), &s);
    if (got == 1) expect_payload(&s, a, 20);
    cr_assert_eq(tcps_decoder_stats(d)->frag_evicted,
                 (uint64_t)(x + y + 1 > (int)max_dg ? x + y + 1 - (int)max_dg : 0) + (got ? 0 : 1));
    tcps_decoder_destroy(d);
    free(a);
    free(f);
    return got;
}

Test(libnids_1e, datagram_limit) {
    /* x junk datagrams, then A, then y more, with room for 62: the oldest
       is evicted first, so A survives while fewer than 62 came after it */
    cr_assert_eq(sendtcpfrag(62, 650, 61), 1);
    cr_assert_eq(sendtcpfrag(62, 650, 62), 0);
    cr_assert_eq(sendtcpfrag(62, 0, 61), 1);
    cr_assert_eq(sendtcpfrag(62, 0, 62), 0);
    cr_assert_eq(sendtcpfrag(712, 650, 61), 1);
}

Test(libnids_1e, byte_limit_is_never_exceeded) {
    counting c;
    pb_buf *a = B(), *f = B();
    tcps_segment s;
    tcps_decoder *d;
    size_t base, limit = 64 * 1024;
    int i;
    memset(&c, 0, sizeof c);
    d = new_decoder(0, &c, 100000, limit, 0);
    build4(a, 1400, 1, 1);
    pb_frag4(f, pb_data(a), 0, 8, 1);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0); /* the hash table is made now */
    base = c.live;
    c.peak = 0;
    for (i = 0; i < 3000; i++) {
        junk_fragment(f, (uint16_t)(i + 2));
        cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
        cr_assert_leq(c.live, base + limit);
    }
    cr_assert_gt(tcps_decoder_stats(d)->frag_evicted, 0);
    cr_assert_leq(c.peak, base + limit);
    /* a datagram alone bigger than the limit is dropped, never held */
    build4(a, 60000, 2, 1);
    for (i = 0; i < 60000; i += 1480) {
        size_t len = 60020 - (size_t)i < 1480 ? 60020 - (size_t)i : 1480;
        pb_frag4(f, pb_data(a), (size_t)i, len, (size_t)i + len < 60020);
        cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
        cr_assert_leq(c.live, base + limit);
    }
    cr_assert_eq(tcps_decoder_stats(d)->reassembled, 0);
    tcps_decoder_destroy(d);
    cr_assert_eq(c.live, 0);
    free(a);
    free(f);
}

/* ---- IPv6 */

Test(ipv6, fragments_in_any_order_with_options_inside) {
    pb_buf *dg = B(), *f = B();
    tcps_segment s;
    int order;
    build6(dg, 300, 12, 1); /* destination options in the fragmentable part */
    for (order = 0; order < 2; order++) {
        tcps_decoder *d = new_decoder(TCPS_DECODE_VERIFY_CHECKSUMS, NULL, 0, 0, 0);
        size_t ul = pb_len(dg) - 40; /* 16 + 20 + 300 = 336 */
        if (order == 0) {
            pb_frag6(f, pb_data(dg), 0, 128, 1, 0xabcdef01);
            cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
            pb_frag6(f, pb_data(dg), 128, 128, 1, 0xabcdef01);
            cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
            pb_frag6(f, pb_data(dg), 256, ul - 256, 0, 0xabcdef01);
        } else {
            pb_frag6(f, pb_data(dg), 256, ul - 256, 0, 0xabcdef01);
            cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
            pb_frag6(f, pb_data(dg), 128, 128, 1, 0xabcdef01);
            cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
            pb_frag6(f, pb_data(dg), 0, 128, 1, 0xabcdef01);
        }
        cr_assert_eq(feed(d, f, T(1, 0), &s), 1);
        cr_assert_eq(s.ip_version, 6);
        expect_payload(&s, dg, 56);
        cr_assert_eq(s.checksum, TCPS_CSUM_GOOD);
        tcps_decoder_destroy(d);
    }
    free(dg);
    free(f);
}

Test(ipv6, first_fragment_cut_by_the_snaplen_is_decoded) {
    pb_buf *dg = B(), *f = B();
    tcps_segment s;
    tcps_packet pkt;
    tcps_decoder *d = new_decoder(0, NULL, 0, 0, 0);
    build6(dg, 300, 14, 0);
    pb_frag6(f, pb_data(dg), 0, 160, 1, 3);
    memset(&pkt, 0, sizeof pkt);
    pkt.linktype = TCPS_LINKTYPE_RAW;
    pkt.data.ptr = pb_data(f);
    pkt.data.len = 40 + 8 + 20 + 10; /* header, fragment header, TCP, 10 bytes */
    pkt.origlen = (uint32_t)pb_len(f);
    cr_assert_eq(tcps_decode(d, &pkt, &s), 1);
    cr_assert_eq(s.payload.len, 10);
    cr_assert_eq(s.payload_len, 140);
    cr_assert_eq(tcps_decoder_stats(d)->truncated, 1);
    /* a later fragment cut the same way is only counted */
    pb_frag6(f, pb_data(dg), 160, 160, 0, 3);
    pkt.data.ptr = pb_data(f);
    pkt.origlen = (uint32_t)pb_len(f);
    cr_assert_eq(tcps_decode(d, &pkt, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->fragments, 2);
    cr_assert_eq(tcps_decoder_stats(d)->reassembled, 0);
    tcps_decoder_destroy(d);
    free(dg);
    free(f);
}

Test(ipv6, key_is_addresses_and_id) {
    pb_buf *dg = B(), *f = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0, NULL, 0, 0, 0);
    build6(dg, 100, 13, 0);
    pb_frag6(f, pb_data(dg), 0, 64, 1, 1);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    pb_frag6(f, pb_data(dg), 64, 56, 0, 2); /* another id: does not complete */
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    pb_frag6(f, pb_data(dg), 64, 56, 0, 1);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 1);
    expect_payload(&s, dg, 40);
    tcps_decoder_destroy(d);
    free(dg);
    free(f);
}

Test(ipv4, key_includes_protocol_and_addresses) {
    pb_buf *dg = B(), *f = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0, NULL, 0, 0, 0);
    build4(dg, 100, 20, 1);
    pb_frag4(f, pb_data(dg), 0, 64, 1);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    pb_frag4(f, pb_data(dg), 64, 56, 0);
    f->mem[f->start + 9] = 17; /* other protocol */
    f->mem[f->start + 10] = f->mem[f->start + 11] = 0;
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    pb_frag4(f, pb_data(dg), 64, 56, 0);
    f->mem[f->start + 15] = 9; /* other source */
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    pb_frag4(f, pb_data(dg), 64, 56, 0);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 1);
    expect_payload(&s, dg, 20);
    tcps_decoder_destroy(d);
    free(dg);
    free(f);
}

Test(ipv4, too_big_and_no_defrag) {
    pb_buf *dg = B(), *f = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0, NULL, 0, 0, 0);
    build4(dg, 100, 21, 1);
    pb_frag4(f, pb_data(dg), 0, 64, 1);
    pb_put16(f->mem + f->start + 6, 0x2000 | 8189); /* offset 65512 + 44 > 65515 */
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->malformed[TCPS_MALFORMED_FRAG_BAD], 1);
    tcps_decoder_destroy(d);
    /* not rebuilt: the first fragment is decoded for what it holds (as
       tshark does with defragmentation off), the others are only counted */
    d = new_decoder(TCPS_DECODE_NO_DEFRAG, NULL, 0, 0, 0);
    pb_frag4(f, pb_data(dg), 0, 64, 1);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 1);
    cr_assert_eq(s.fragmented, 0);
    cr_assert_eq(s.payload_len, 44);
    cr_assert_arr_eq(s.payload.ptr, pb_data(dg) + 40, 44);
    pb_frag4(f, pb_data(dg), 64, 56, 0);
    cr_assert_eq(feed(d, f, T(1, 0), &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->fragments, 2);
    cr_assert_eq(tcps_decoder_stats(d)->reassembled, 0);
    tcps_decoder_destroy(d);
    free(dg);
    free(f);
}

Test(ipv4, largest_datagram) {
    pb_buf *dg = B(), *f = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(TCPS_DECODE_VERIFY_CHECKSUMS, NULL, 0, 0, 0);
    size_t off, total = 65535 - 20;
    build4(dg, total - 20, 22, 3);
    cr_assert_eq(pb_len(dg), 65535);
    for (off = 0; off < total; off += 1480) {
        size_t len = total - off < 1480 ? total - off : 1480;
        pb_frag4(f, pb_data(dg), off, len, off + len < total);
        cr_assert_eq(feed(d, f, T(1, 0), &s), off + len < total ? 0 : 1);
    }
    expect_payload(&s, dg, 20);
    cr_assert_eq(s.checksum, TCPS_CSUM_GOOD);
    tcps_decoder_destroy(d);
    free(dg);
    free(f);
}

Test(tunnel, fragments_inside_a_reassembled_datagram) {
    /* inner IPv4 fragments carried in fragmented outer IPv6 packets */
    pb_buf *inner = B(), *outer = B(), *f1 = B(), *f2 = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(TCPS_DECODE_VERIFY_CHECKSUMS, NULL, 0, 0, 0);
    pb_ip_hdr o6 = pb_ip6("2001:db8:ffff::1", "2001:db8:ffff::2");
    int k;
    build4(inner, 400, 23, 4);
    for (k = 0; k < 2; k++) {
        pb_frag4(f1, pb_data(inner), k ? 200 : 0, k ? 220 : 200, !k);
        /* wrap the inner fragment in IPv6 and fragment that */
        pb_init(outer);
        pb_append(outer, pb_data(f1), pb_len(f1));
        pb_ipv6(outer, &o6, 4);
        pb_frag6(f2, pb_data(outer), 0, 96, 1, 5u + (uint32_t)k);
        cr_assert_eq(feed(d, f2, T(1, 0), &s), 0);
        pb_frag6(f2, pb_data(outer), 96, pb_len(outer) - 40 - 96, 0, 5u + (uint32_t)k);
        cr_assert_eq(feed(d, f2, T(1, 0), &s), k);
    }
    expect_payload(&s, inner, 20);
    cr_assert_eq(s.tunnel_depth, 1);
    cr_assert_eq(s.checksum, TCPS_CSUM_GOOD);
    cr_assert_eq(tcps_decoder_stats(d)->reassembled, 3);
    tcps_decoder_destroy(d);
    free(inner);
    free(outer);
    free(f1);
    free(f2);
}

/* ---- allocator failure at every allocation */

static int run_script(counting *c, int *nomem) {
    pb_buf *dg = B(), *d6 = B(), *f = B();
    tcps_segment s;
    tcps_decoder_config cfg;
    tcps_decoder *d = NULL;
    int r, i, got = 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.allocator.alloc = c_alloc;
    cfg.allocator.realloc = c_realloc;
    cfg.allocator.free = c_free;
    cfg.allocator.user = c;
    cfg.frag_max_datagrams = 4;
    r = tcps_decoder_create(&d, &cfg);
    if (r != TCPS_OK) {
        cr_assert_eq(r, TCPS_E_NOMEM);
        cr_assert_null(d);
        (*nomem)++;
        free(dg);
        free(d6);
        free(f);
        return 0;
    }
    build4(dg, 5000, 30, 1);
    build6(d6, 3000, 31, 1);
    for (i = 0; i < 6; i++) {
        size_t off;
        for (off = 0; off < 5000 + 20; off += 1024) {
            size_t len = 5020 - off < 1024 ? 5020 - off : 1024;
            pb_frag4(f, pb_data(dg), off, len, off + len < 5020);
            f->mem[f->start + 5] = (uint8_t)i; /* id varies */
            f->mem[f->start + 10] = f->mem[f->start + 11] = 0;
            r = feed(d, f, T(1, 0), &s);
            if (r < 0) {
                cr_assert_eq(r, TCPS_E_NOMEM);
                (*nomem)++;
            } else if (r == 1) {
                got++;
            }
        }
    }
    for (i = 0; i < 2; i++) {
        size_t off, ul = pb_len(d6) - 40;
        for (off = 0; off < ul; off += 1000) {
            size_t len = ul - off < 1000 ? ul - off : 1000;
            pb_frag6(f, pb_data(d6), off, len, off + len < ul, 9);
            r = feed(d, f, T(1, 0), &s);
            if (r < 0) {
                cr_assert_eq(r, TCPS_E_NOMEM);
                (*nomem)++;
            } else if (r == 1) {
                got++;
                expect_payload(&s, d6, 56);
            }
        }
    }
    tcps_decoder_destroy(d);
    free(dg);
    free(d6);
    free(f);
    return got;
}

Test(alloc, failure_at_every_allocation) {
    counting c;
    int nomem = 0, got;
    long total, k;
    memset(&c, 0, sizeof c);
    got = run_script(&c, &nomem);
    cr_assert_eq(got, 8);
    cr_assert_eq(nomem, 0);
    cr_assert_eq(c.live, 0);
    total = c.allocs;
    cr_assert_gt(total, 3);
    for (k = 1; k <= total; k++) {
        memset(&c, 0, sizeof c);
        c.fail_at = k;
        nomem = 0;
        got = run_script(&c, &nomem);
        cr_assert_eq(c.failures, 1, "k=%ld", k);
        cr_assert_eq(nomem, 1, "k=%ld: the failure must be reported once", k);
        cr_assert_eq(c.live, 0, "k=%ld: leak", k);
        cr_assert_geq(got, k == 1 ? 0 : 6, "k=%ld: the decoder must stay usable", k);
    }
}
