/* The reassembler against the reference model of fuzz/refmodel.h: random
   segment sequences from fixed seeds, and hand-written tricky cases whose
   expected output is also checked on its own (so the model is tested too).
   The same comparison runs under libFuzzer in fuzz/fuzz_diff.c. At the end,
   long captures of many connections on reused 4-tuples against the model's
   session layer (fuzz/sessmodel.h), as fuzz_diff.c's "SESS" inputs. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "fuzz/refmodel.h"
#include "capwriter.h"
#include "pktbuild.h"
#include "fuzz/sessmodel.h"
#include <criterion/criterion.h>

/* --- helpers */

static rm_input in;
static rm_out mo;

static void init(void) {
    memset(&in, 0, sizeof in);
    memset(&mo, 0, sizeof mo);
}
static void fini(void) {
    rm_input_free(&in);
    rm_out_free(&mo);
}

TestSuite(refmodel, .init = init, .fini = fini);

static void seg(int from, uint16_t flags, uint32_t seq, uint32_t ack, uint32_t len, uint8_t tag) {
    rm_seg_in s;
    memset(&s, 0, sizeof s);
    s.from = from;
    s.flags = flags;
    s.seq = seq;
    s.ack = ack;
    s.len = s.caplen = len;
    s.tag = tag;
    rm_input_add(&in, &s);
}

/* Model and engine agree; keep the model's output in mo. */
static void run_same(void) {
    rm_result res;
    rm_out_free(&mo);
    rm_run_ex(&in, &res, &mo);
    cr_assert(!res.differ, "%s", res.report ? res.report : "");
    free(res.report);
}

/* Delivered bytes of `from` number i (counting DATA bytes only, gaps
   skipped) for i in [pos, pos + n) were sent with tag `tag` at sequence
   number base + i. */
static void expect_bytes(int from, uint32_t base, size_t pos, size_t n, uint8_t tag) {
    size_t i;
    cr_assert_geq(mo.nbytes[from], pos + n, "ep%d: %lu bytes delivered", from, (unsigned long)mo.nbytes[from]);
    for (i = pos; i < pos + n; i++)
        cr_assert_eq(mo.bytes[from][i], rm_pattern(from, base + (uint32_t)i, tag), "ep%d byte %lu", from,
                     (unsigned long)i);
}

/* The n-th GAP event of `from` */
static const rm_ev *gap_of(int from, int nth) {
    size_t i;
    for (i = 0; i < mo.nev; i++)
        if (mo.ev[i].type == TCPS_EV_GAP && mo.ev[i].from == from && nth-- == 0) return &mo.ev[i];
    return NULL;
}

static void expect_gap(int from, int nth, uint64_t off, uint64_t len, int reason) {
    const rm_ev *g = gap_of(from, nth);
    cr_assert(g != NULL, "ep%d: no gap #%d", from, nth);
    cr_assert_eq(g->off, off, "ep%d gap #%d at %llu", from, nth, (unsigned long long)g->off);
    cr_assert_eq(g->len, len, "ep%d gap #%d len %llu", from, nth, (unsigned long long)g->len);
    cr_assert_eq(g->reason, reason, "ep%d gap #%d reason %d", from, nth, g->reason);
}

#define S TCPS_TH_SYN
#define A TCPS_TH_ACK
#define F TCPS_TH_FIN
#define SA (TCPS_TH_SYN | TCPS_TH_ACK)
#define FA (TCPS_TH_FIN | TCPS_TH_ACK)

/* --- hand-written cases */

Test(refmodel, wraparound) {
    uint32_t i0 = 0xfffffff0u, i1 = 0xffffffe0u;
    seg(0, S, i0, 0, 0, 0);
    seg(1, SA, i1, i0 + 1, 0, 0);
    seg(0, A, i0 + 1, i1 + 1, 0, 0);
    seg(0, A, i0 + 1 + 30, i1 + 1, 30, 0); /* beyond the wrap, early */
    seg(0, A, i0 + 1, i1 + 1, 30, 0);      /* across the wrap */
    seg(1, A, i1 + 1, i0 + 61, 100, 0);    /* across the wrap, one piece */
    seg(0, FA, i0 + 61, i1 + 101, 0, 0);
    seg(1, FA, i1 + 101, i0 + 62, 0, 0);
    run_same();
    cr_assert_eq(mo.nbytes[0], 60);
    cr_assert_eq(mo.nbytes[1], 100);
    expect_bytes(0, i0 + 1, 0, 60, 0);
    expect_bytes(1, i1 + 1, 0, 100, 0);
    cr_assert(gap_of(0, 0) == NULL && gap_of(1, 0) == NULL);
    cr_assert_eq(mo.end_reason, TCPS_END_FIN);
}

static void overlap_case(int policy) {
    in.overlap = policy;
    seg(0, A, 1000, 5000, 0, 0); /* first seen: offset 0 is 1000 */
    seg(0, A, 1005, 5000, 10, 1);
    seg(0, A, 1005, 5000, 10, 2); /* the same range, other bytes */
    seg(0, A, 1008, 5000, 20, 3); /* reaches further */
    seg(0, A, 1000, 5000, 5, 0);  /* fills the hole */
    run_same();
    cr_assert_eq(mo.nbytes[0], 28);
    expect_bytes(0, 1000, 0, 5, 0);
    /* at offset 5 two copies start: the first or the last of them */
    expect_bytes(0, 1000, 5, 10, policy == TCPS_OVERLAP_LAST ? 2 : 1);
    /* at 15 only the third covers */
    expect_bytes(0, 1000, 15, 13, 3);
}

Test(refmodel, overlap_first) { overlap_case(TCPS_OVERLAP_FIRST); }
Test(refmodel, overlap_last) { overlap_case(TCPS_OVERLAP_LAST); }

/* LAST chooses among the segments that start at or before the delivered
   point, not byte by byte: a later copy of the middle loses to an earlier
   segment that covers the delivered point. */
Test(refmodel, overlap_last_is_per_segment) {
    in.overlap = TCPS_OVERLAP_LAST;
    seg(0, A, 1000, 5000, 0, 0);
    seg(0, A, 1005, 5000, 10, 1);
    seg(0, A, 1008, 5000, 4, 2);
    seg(0, A, 1000, 5000, 5, 0);
    run_same();
    cr_assert_eq(mo.nbytes[0], 15);
    expect_bytes(0, 1000, 5, 10, 1);
}

Test(refmodel, ack_gaps) {
    seg(0, A, 1000, 5000, 0, 0);
    seg(1, A, 5000, 1000, 0, 0);
    seg(0, A, 1010, 5000, 10, 0);  /* hole [0,10) */
    seg(1, A, 5000, 1010, 0, 0);   /* ACK at the buffered start: no gap yet */
    run_same();
    cr_assert(gap_of(0, 0) == NULL || gap_of(0, 0)->reason != TCPS_GAP_ACKED);
    seg(1, A, 5000, 1015, 0, 0);   /* ACK inside it: the hole is a gap */
    seg(1, A, 5000, 1030, 0, 0);   /* ACK beyond all data: a tail gap at the end */
    run_same();
    expect_gap(0, 0, 0, 10, TCPS_GAP_ACKED);
    expect_gap(0, 1, 20, 10, TCPS_GAP_ACKED);
    cr_assert(gap_of(0, 2) == NULL);
    cr_assert_eq(mo.nbytes[0], 10);
    expect_bytes(0, 1010, 0, 10, 0); /* the only bytes delivered: offsets 10..19 */
}

Test(refmodel, ack_ordering_and_several_holes) {
    seg(0, A, 1000, 5000, 0, 0);
    seg(0, A, 1010, 5000, 5, 0);
    seg(0, A, 1020, 5000, 5, 0);
    seg(0, A, 1030, 5000, 5, 0);
    seg(1, A, 5000, 1021, 3, 0); /* ACK covers two holes, not the third */
    run_same();
    expect_gap(0, 0, 0, 10, TCPS_GAP_ACKED);
    expect_gap(0, 1, 15, 5, TCPS_GAP_ACKED);
    expect_gap(0, 2, 25, 5, TCPS_GAP_CLOSE);
    /* the ACK's consequences come before the data of its own segment */
    cr_assert_eq(mo.ev[1].type, TCPS_EV_GAP);
    cr_assert_eq(mo.ev[1].from, 0);
}

Test(refmodel, ack_too_far_ahead_is_ignored) {
    seg(0, A, 1000, 5000, 0, 0);
    seg(0, A, 1010, 5000, 10, 0);
    seg(1, A, 5000, 1000u + (1u << 30) + 1u, 0, 0);
    run_same();
    expect_gap(0, 0, 0, 10, TCPS_GAP_CLOSE);
    cr_assert(gap_of(0, 1) == NULL);
}

Test(refmodel, ack_at_the_sanity_limit_counts) {
    seg(0, A, 1000, 5000, 0, 0);
    seg(0, A, 1010, 5000, 10, 0);
    seg(1, A, 5000, 1000u + (1u << 30), 0, 0);
    run_same();
    expect_gap(0, 0, 0, 10, TCPS_GAP_ACKED);
    expect_gap(0, 1, 20, (1u << 30) - 20, TCPS_GAP_ACKED);
}

Test(refmodel, ack_before_the_peer_started_is_forgotten) {
    seg(1, A, 5000, 1015, 0, 0); /* ep0 not seen yet */
    seg(0, A, 1000, 5000, 0, 0);
    seg(0, A, 1010, 5000, 10, 0);
    run_same();
    expect_gap(0, 0, 0, 10, TCPS_GAP_CLOSE);
}

Test(refmodel, data_before_the_first_sequence) {
    seg(0, A, 1000, 5000, 10, 0);
    seg(0, A, 995, 5000, 10, 0);   /* half before offset 0, the rest a duplicate */
    seg(0, A, 990, 5000, 5, 0);    /* wholly before */
    seg(0, A, 1008, 5000, 10, 1);  /* overlaps two delivered bytes */
    run_same();
    cr_assert_eq(mo.nbytes[0], 18);
    expect_bytes(0, 1000, 0, 10, 0);
    expect_bytes(0, 1000, 10, 8, 1);
    /* the part before offset 0 is a duplicate too: 5 + 5, then 5, then 2 */
    cr_assert_eq(mo.t[0].dup_bytes, 5 + 5 + 5 + 2);
    cr_assert_eq(mo.t[0].isn, 999); /* no SYN: one before the first byte */
    cr_assert(gap_of(0, 0) == NULL);
}

Test(refmodel, syn_counts_one) {
    seg(0, S, 1000, 0, 0, 0);
    seg(0, A, 1001, 0, 4, 0);
    seg(1, SA, 7000, 1005, 3, 0); /* data on a SYN-ACK starts at 7001 */
    run_same();
    cr_assert_eq(mo.nbytes[0], 4);
    cr_assert_eq(mo.nbytes[1], 3);
    expect_bytes(0, 1001, 0, 4, 0);
    expect_bytes(1, 7001, 0, 3, 0);
}

Test(refmodel, fin_tail) {
    seg(0, S, 1000, 0, 0, 0);
    seg(0, A, 1001, 0, 10, 0);
    seg(0, FA, 1021, 0, 0, 0); /* FIN at offset 20: [10,20) never seen */
    seg(1, SA, 3000, 1001, 0, 0);
    run_same();
    expect_gap(0, 0, 10, 10, TCPS_GAP_CLOSE);
    rm_input_free(&in);
    seg(0, S, 1000, 0, 0, 0);
    seg(0, A, 1001, 0, 10, 0);
    seg(0, FA, 1021, 0, 0, 0);
    seg(1, SA, 3000, 1022, 0, 0); /* the peer acknowledged the FIN */
    run_same();
    expect_gap(0, 0, 10, 10, TCPS_GAP_ACKED);
}

/* With no FIN seen, an ACK one byte beyond the data may be the FIN's own:
   no gap; two bytes beyond is a gap of two. */
Test(refmodel, tail_ack_rule) {
    seg(0, A, 1000, 5000, 10, 0);
    seg(1, A, 5000, 1011, 0, 0);
    run_same();
    cr_assert(gap_of(0, 0) == NULL);
    rm_input_free(&in);
    seg(0, A, 1000, 5000, 10, 0);
    seg(1, A, 5000, 1012, 0, 0);
    run_same();
    expect_gap(0, 0, 10, 2, TCPS_GAP_ACKED);
}

Test(refmodel, truncated_payload) {
    rm_seg_in s;
    seg(0, A, 1000, 5000, 10, 0);
    memset(&s, 0, sizeof s);
    s.flags = A;
    s.seq = 1010;
    s.ack = 5000;
    s.len = 20;
    s.caplen = 6;
    rm_input_add(&in, &s);
    seg(0, A, 1030, 5000, 5, 0);
    run_same();
    cr_assert_eq(mo.nbytes[0], 21);
    expect_gap(0, 0, 16, 14, TCPS_GAP_TRUNCATED);
}

/* A SYN that would begin another connection is turned into a SYN-ACK by the
   runner (one lifetime); a retransmitted SYN (same ISN) is kept. */
Test(refmodel, retransmitted_syn) {
    seg(0, S, 1000, 0, 0, 0);
    seg(0, S, 1000, 0, 0, 0);
    seg(0, A, 1001, 0, 5, 0);
    seg(0, S, 900, 0, 0, 0);
    run_same();
    cr_assert_eq(mo.nbytes[0], 5);
}

#define R TCPS_TH_RST
#define RA (TCPS_TH_RST | TCPS_TH_ACK)

/* --- base sequence without a SYN (tshark's: one before the first byte) */

Test(refmodel, isn_without_syn_is_one_before_the_first_byte) {
    seg(0, A, 1000, 5000, 0, 0);
    seg(0, S, 999, 0, 0, 0); /* the same ISN: a retransmission, not a new connection */
    seg(0, A, 1000, 5000, 10, 0);
    seg(1, A, 5000, 1010, 4, 0);
    run_same();
    cr_assert_eq(mo.t[0].isn, 999);
    cr_assert_eq(mo.t[1].isn, 4999);
    cr_assert_eq(mo.nbytes[0], 10);
    expect_bytes(0, 1000, 0, 10, 0);
    cr_assert(gap_of(0, 0) == NULL);
}

/* --- a SYN re-bases a direction that has had no data yet */

Test(refmodel, syn_rebases_a_direction_without_data) {
    seg(0, A, 5000, 9000, 0, 0); /* stray segment: starts ep0 at 5000 */
    seg(0, S, 1000, 0, 0, 0);    /* another ISN: made a SYN-ACK by the runner, still re-bases */
    seg(0, A, 1001, 9000, 10, 0);
    run_same();
    cr_assert_eq(mo.t[0].isn, 1000);
    cr_assert_eq(mo.nbytes[0], 10);
    expect_bytes(0, 1001, 0, 10, 0);
    cr_assert(gap_of(0, 0) == NULL);
}

Test(refmodel, syn_does_not_rebase_after_data) {
    seg(0, A, 5000, 9000, 10, 0);
    seg(0, S, 1000, 0, 0, 0);
    seg(0, A, 5010, 9000, 10, 0);
    run_same();
    cr_assert_eq(mo.t[0].isn, 4999);
    cr_assert_eq(mo.nbytes[0], 20);
    expect_bytes(0, 5000, 0, 20, 0);
}

Test(refmodel, syn_does_not_rebase_while_data_waits) {
    seg(0, A, 5000, 9000, 0, 0);
    seg(0, A, 5010, 9000, 10, 0); /* waits: [10,20) */
    seg(0, S, 1000, 0, 0, 0);
    run_same();
    cr_assert_eq(mo.t[0].isn, 4999);
    expect_gap(0, 0, 0, 10, TCPS_GAP_CLOSE);
    expect_bytes(0, 5010, 0, 10, 0);
}

/* --- the FIN wall */

/* Data beyond a FIN waits; the peer acknowledging the FIN itself shows the
   receiver took it: the data is thrown away, no gap after the FIN. */
Test(refmodel, data_after_an_acked_fin_is_dropped) {
    seg(0, A, 1000, 5000, 10, 0);
    seg(0, FA, 1010, 5000, 0, 0); /* FIN at offset 10 */
    seg(0, A, 1011, 5000, 10, 0); /* beyond it: waits */
    seg(1, A, 5000, 1011, 0, 0);  /* acknowledges the FIN, not the data */
    run_same();
    cr_assert_eq(mo.nbytes[0], 10);
    cr_assert(gap_of(0, 0) == NULL);
    cr_assert_eq(mo.t[0].ooo_segments, 1);
    cr_assert_eq(mo.t[0].dup_bytes, 0);
}

/* An ACK beyond FIN + 1 shows the receiver took data past the FIN, so not
   the FIN: the FIN's own sequence number becomes a 1-byte ACKED gap and the
   data waiting behind it is delivered. */
Test(refmodel, ack_beyond_the_fin_voids_it) {
    seg(0, A, 1000, 5000, 10, 0);
    seg(0, FA, 1010, 5000, 0, 0);
    seg(0, A, 1011, 5000, 10, 0);
    seg(1, A, 5000, 1021, 0, 0);
    run_same();
    expect_gap(0, 0, 10, 1, TCPS_GAP_ACKED);
    cr_assert(gap_of(0, 1) == NULL);
    cr_assert_eq(mo.nbytes[0], 20);
    expect_bytes(0, 1000, 0, 10, 0);
    expect_bytes(0, 1001, 10, 10, 0); /* offsets 11..20 */
    cr_assert_eq(mo.end_reason, TCPS_END_EOF);
}

/* Nobody acknowledges anything: at the end, what lies beyond the FIN is
   dropped and no gap is reported past it. */
Test(refmodel, data_beyond_the_fin_is_dropped_at_the_end) {
    seg(0, A, 1000, 5000, 10, 0);
    seg(0, F, 1010, 0, 0, 0);
    seg(0, F, 1030, 0, 10, 0); /* a second FIN further on does not move the first */
    seg(0, 0, 1011, 0, 10, 0);
    run_same();
    cr_assert_eq(mo.nbytes[0], 10);
    cr_assert(gap_of(0, 0) == NULL);
    cr_assert_eq(mo.t[0].ooo_segments, 2);
}

/* A segment arriving across the FIN is cut there: the part before it is
   handled as usual (here a duplicate), the rest waits. */
Test(refmodel, segment_across_the_fin_is_cut) {
    seg(0, A, 1000, 5000, 10, 0);
    seg(0, FA, 1010, 5000, 0, 0);
    seg(0, A, 1005, 5000, 20, 0); /* [5,10) duplicate, [10,25) behind the wall */
    run_same();
    cr_assert_eq(mo.nbytes[0], 10);
    cr_assert_eq(mo.t[0].dup_bytes, 5);
    cr_assert(gap_of(0, 0) == NULL);
    rm_input_free(&in);
    seg(0, A, 1000, 5000, 10, 0);
    seg(0, FA, 1010, 5000, 0, 0);
    seg(0, A, 1005, 5000, 20, 0);
    seg(1, A, 5000, 1020, 0, 0); /* voids the FIN: the waiting part goes out */
    run_same();
    cr_assert_eq(mo.nbytes[0], 25);
    expect_bytes(0, 1000, 0, 25, 0);
    cr_assert_eq(mo.t[0].dup_bytes, 5);
}

/* A segment held before a FIN that falls inside it is delivered up to the
   FIN only; the rest is lost even if the FIN is voided later. */
Test(refmodel, held_segment_crossing_a_later_fin) {
    seg(0, A, 1000, 5000, 0, 0);
    seg(0, A, 1010, 5000, 20, 0);  /* waits: [10,30) */
    seg(0, FA, 1020, 5000, 0, 0);  /* FIN at 20 */
    seg(0, A, 1000, 5000, 10, 0);  /* fills [0,10): [10,20) follows */
    run_same();
    cr_assert_eq(mo.nbytes[0], 20);
    expect_bytes(0, 1000, 0, 20, 0);
    cr_assert(gap_of(0, 0) == NULL);
    seg(1, A, 5000, 1030, 0, 0); /* voids the FIN: [20,30) is a gap, not data */
    run_same();
    cr_assert_eq(mo.nbytes[0], 20);
    expect_gap(0, 0, 20, 10, TCPS_GAP_ACKED);
}

/* Both FINs delivered: the end is FIN even if a RST follows. */
Test(refmodel, fin_close_comes_before_a_later_rst) {
    seg(0, S, 1000, 0, 0, 0);
    seg(1, SA, 3000, 1001, 0, 0);
    seg(0, FA, 1001, 3001, 0, 0);
    seg(1, FA, 3001, 1002, 0, 0);
    seg(0, R, 1002, 0, 0, 0);
    run_same();
    cr_assert_eq(mo.end_reason, TCPS_END_FIN);
    cr_assert_eq(mo.t[0].rst_seen, 1);
}

/* --- RST acceptance */

Test(refmodel, rst_in_window_closes) {
    seg(0, S, 1000, 0, 0, 0);
    seg(1, SA, 3000, 1001, 0, 0);
    seg(0, A, 1001, 3001, 10, 0);
    seg(1, RA, 3001, 1011, 0, 0);
    seg(0, FA, 1011, 3001, 0, 0); /* both FINs seen would be FIN: the RST came first */
    seg(1, FA, 3001, 1012, 0, 0);
    run_same();
    cr_assert_eq(mo.end_reason, TCPS_END_RST);
    cr_assert_eq(mo.t[1].rst_seen, 1);
}

/* Its ACK is before the peer's offset 0, or too far ahead: not taken. */
Test(refmodel, rst_with_an_insane_ack_is_ignored) {
    seg(0, S, 1000, 0, 0, 0);
    seg(1, SA, 3000, 1001, 0, 0);
    seg(0, A, 1001, 3001, 10, 0);
    seg(1, RA, 3001, 990, 0, 0);
    seg(1, RA, 3001, 1011u + (1u << 30) + 1u, 0, 0);
    run_same();
    cr_assert_eq(mo.end_reason, TCPS_END_EOF);
    cr_assert_eq(mo.t[1].rst_seen, 1);
    rm_input_free(&in);
    seg(0, S, 1000, 0, 0, 0);
    seg(1, SA, 3000, 1001, 0, 0);
    seg(0, A, 1001, 3001, 10, 0);
    seg(1, RA, 3001, 1011u + (1u << 30), 0, 0); /* at the bound: taken */
    run_same();
    cr_assert_eq(mo.end_reason, TCPS_END_RST);
}

/* Its sequence number: at most 64 KiB behind the delivered point, at most
   2^30 ahead. */
Test(refmodel, rst_sequence_window) {
    static const struct {
        uint32_t seq;
        int end;
    } c[] = {
        {3001u - 65536u, TCPS_END_RST},
        {3001u - 65537u, TCPS_END_EOF},
        {3001u + (1u << 30), TCPS_END_RST},
        {3001u + (1u << 30) + 1u, TCPS_END_EOF},
    };
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        rm_input_free(&in);
        seg(0, S, 1000, 0, 0, 0);
        seg(1, SA, 3000, 1001, 0, 0);
        seg(1, R, c[i].seq, 0, 0, 0);
        run_same();
        cr_assert_eq(mo.end_reason, c[i].end, "case %lu", (unsigned long)i);
        cr_assert_eq(mo.t[1].rst_seen, 1);
    }
}

/* A RST that starts its direction has no sequence to be compared with. */
Test(refmodel, rst_first_in_its_direction) {
    /* an answer to a SYN without ACK: a client in SYN-SENT drops it
       (RFC 9293 3.10.7.3) and sends its SYN again */
    seg(0, S, 1000, 0, 0, 0);
    seg(1, R, 123456789u, 0, 0, 0);
    run_same();
    cr_assert_eq(mo.end_reason, TCPS_END_EOF);
    rm_input_free(&in);
    seg(0, S, 1000, 0, 0, 0);
    seg(1, RA, 123456789u, 1001, 0, 0); /* acknowledging the SYN: refused */
    run_same();
    cr_assert_eq(mo.end_reason, TCPS_END_RST);
    rm_input_free(&in);
    seg(0, S, 1000, 0, 0, 0);
    seg(1, RA, 123456789u, 999, 0, 0); /* but its ACK still is */
    run_same();
    cr_assert_eq(mo.end_reason, TCPS_END_EOF);
}

/* --- random sequences */

typedef struct rng {
    uint64_t s;
} rng;

static uint32_t rnext(rng *r) {
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(r->s >> 33);
}
static uint32_t rbelow(rng *r, uint32_t n) { return n ? rnext(r) % n : 0; }

/* Insert a copy of s at position pos of in. */
static void seg_insert(size_t pos, const rm_seg_in *s) {
    rm_input_add(&in, s);
    if (pos < in.n - 1) {
        memmove(&in.v[pos + 1], &in.v[pos], (in.n - 1 - pos) * sizeof *in.v);
        in.v[pos] = *s;
    }
}

/* FIN placement of a direction */
#define FIN_NONE 0
#define FIN_END 1     /* after all data */
#define FIN_EARLY 2   /* inside the data: what follows waits behind it */
#define FIN_KEPT 3    /* inside the data, and no ACK ever passes FIN + 1 */

static void gen_case(rng *r) {
    uint32_t isn[2], slen[2], fin_at[2];
    int fin_mode[2];
    size_t i, first;
    int k, hs = (int)rbelow(r, 2);
    in.overlap = rbelow(r, 2) ? TCPS_OVERLAP_LAST : TCPS_OVERLAP_FIRST;
    for (k = 0; k < 2; k++) {
        isn[k] = rbelow(r, 4) == 0 ? 0xffffffffu - rbelow(r, 3000) : rnext(r);
        slen[k] = rbelow(r, 5) == 0 ? 0 : rbelow(r, 2500);
        fin_mode[k] = (int)rbelow(r, 4);
        fin_at[k] = fin_mode[k] >= FIN_EARLY ? rbelow(r, slen[k] + 1) : slen[k];
    }
    if (hs) {
        if (rbelow(r, 4) == 0) { /* a stray segment before the SYN: the SYN re-bases */
            int from = (int)rbelow(r, 2);
            seg(from, rbelow(r, 2) ? R : A, rnext(r), rnext(r), 0, 0);
        }
        seg(0, S, isn[0], 0, 0, 0);
        seg(1, SA, isn[1], isn[0] + 1, 0, 0);
        seg(0, A, isn[0] + 1, isn[1] + 1, 0, 0);
    }
    first = in.n;
    for (k = 0; k < 2; k++) {
        uint32_t off = 0, lossy = rbelow(r, 3);
        while (off < slen[k]) {
            uint32_t len = 1 + rbelow(r, 300);
            if (len > slen[k] - off) len = slen[k] - off;
            if (!(lossy && rbelow(r, 6) == 0)) seg(k, A, isn[k] + 1 + off, 0, len, 0);
            if (rbelow(r, 6) == 0) seg(k, A, isn[k] + 1 + off, 0, len, 0); /* duplicate */
            if (rbelow(r, 8) == 0) { /* overlapping re-cut, maybe other bytes */
                uint32_t a = off > 50 ? off - rbelow(r, 50) : 0;
                seg(k, A, isn[k] + 1 + a, 0, 1 + rbelow(r, 200), (uint8_t)(rbelow(r, 2) ? 1 + rbelow(r, 15) : 0));
            }
            if (rbelow(r, 12) == 0) { /* cut by the snapshot length */
                seg(k, A, isn[k] + 1 + off, 0, len, 0);
                in.v[in.n - 1].caplen = rbelow(r, len);
            }
            if (rbelow(r, 30) == 0) seg(k, A, isn[k] + 1 - rbelow(r, 20), 0, rbelow(r, 40), 0); /* before start */
            off += len;
        }
        if (fin_mode[k] != FIN_NONE) {
            seg(k, FA, isn[k] + 1 + fin_at[k], 0, 0, 0);
            if (rbelow(r, 3) == 0) seg(k, FA, isn[k] + 1 + fin_at[k], 0, 0, 0); /* retransmitted */
        }
        for (i = rbelow(r, 4); i > 0; i--) seg(k, A, isn[k] + 1 + slen[k], 0, 0, 0); /* pure ACKs */
    }
    /* shuffle within a window */
    {
        uint32_t win = 1 + rbelow(r, 24);
        for (i = first; i + 1 < in.n; i++) {
            size_t j = i + rbelow(r, win);
            rm_seg_in t;
            if (j >= in.n) j = in.n - 1;
            t = in.v[i], in.v[i] = in.v[j], in.v[j] = t;
        }
    }
    /* ACKs: mostly what the peer sent so far, sometimes ahead (gaps); never
       past FIN + 1 where the FIN is to be kept */
    {
        uint32_t sent[2] = {0, 0};
        for (i = first; i < in.n; i++) {
            rm_seg_in *s = &in.v[i];
            int p = !s->from;
            uint32_t end = s->seq + s->len - (isn[s->from] + 1);
            uint32_t a;
            if (end <= slen[s->from] + 1 && end > sent[s->from]) sent[s->from] = end;
            switch (rbelow(r, 10)) {
            case 0: a = rbelow(r, slen[p] + 3); break;
            case 1: a = (1u << 30) - 2 + rbelow(r, 5); break;
            case 2: s->flags = (uint16_t)(s->flags & ~A); a = 0; break;
            case 3: a = fin_at[p] + rbelow(r, 3); break; /* around the FIN */
            default: a = sent[p]; break;
            }
            if (fin_mode[p] == FIN_KEPT && a > fin_at[p] + 1) a = fin_at[p] + 1;
            s->ack = isn[p] + 1 + a;
        }
    }
    /* RSTs: in the window or not, with a sane ACK or not */
    for (i = rbelow(r, 3) == 0 ? 1 + rbelow(r, 2) : 0; i > 0; i--) {
        rm_seg_in s;
        int p;
        memset(&s, 0, sizeof s);
        s.from = (int)rbelow(r, 2);
        p = !s.from;
        s.flags = R;
        switch (rbelow(r, 5)) {
        case 0: s.seq = isn[s.from] + 1 - 65536 - rbelow(r, 3); break;       /* at the edge behind */
        case 1: s.seq = isn[s.from] + 1 + (1u << 30) - 1 + rbelow(r, 3); break; /* at the edge ahead */
        case 2: s.seq = rnext(r); break;
        default: s.seq = isn[s.from] + 1 + rbelow(r, slen[s.from] + 2); break;
        }
        if (rbelow(r, 2)) {
            s.flags |= A;
            switch (rbelow(r, 4)) {
            case 0: s.ack = isn[p] - rbelow(r, 100); break; /* before the peer's data */
            case 1: s.ack = rnext(r); break;
            default: s.ack = isn[p] + 1 + rbelow(r, slen[p] + 2); break;
            }
        }
        seg_insert(first + rbelow(r, (uint32_t)(in.n - first + 1)), &s);
    }
}

Test(refmodel, random_sequences) {
    int seed, limited = 0, rebases = 0, voids = 0, drops = 0, rst_closed = 0, rst_ignored = 0;
    for (seed = 0; seed < 3000; seed++) {
        rng r;
        rm_result res;
        r.s = 0x853c49e6748fea9bull ^ ((uint64_t)seed * 0x9e3779b97f4a7c15ull);
        rm_input_free(&in);
        rm_out_free(&mo);
        gen_case(&r);
        rm_run_ex(&in, &res, &mo);
        cr_assert(!res.differ, "seed %d\n%s", seed, res.report ? res.report : "");
        limited += res.limited;
        rebases += mo.rebases > 0;
        voids += mo.fin_voids > 0;
        drops += mo.fin_drops > 0;
        rst_closed += mo.end_reason == TCPS_END_RST;
        rst_ignored += mo.rst_ignored > 0;
        free(res.report);
    }
    cr_assert_eq(limited, 0, "default limits were reached");
    /* the generator reaches every rule, often */
    cr_log_info("random_sequences: %d re-based, %d FINs voided, %d with data dropped beyond a FIN, %d closed by "
                "RST, %d with a RST ignored",
                rebases, voids, drops, rst_closed, rst_ignored);
    cr_assert_gt(rebases, 50);
    cr_assert_gt(voids, 100);
    cr_assert_gt(drops, 100);
    cr_assert_gt(rst_closed, 100);
    cr_assert_gt(rst_ignored, 100);
}

/* Random bytes in the fuzzer's encoding (fuzz/fuzz_diff.c), small limits
   included: where a limit forced a gap only the invariants are checked. */
Test(refmodel, random_fuzzer_inputs) {
    int seed;
    uint8_t buf[1200];
    for (seed = 0; seed < 1500; seed++) {
        rng r;
        rm_result res;
        size_t n, i;
        r.s = 0x2545f4914f6cdd1dull + (uint64_t)seed * 0x100000001b3ull;
        n = 9 + rbelow(&r, sizeof buf - 9);
        for (i = 0; i < n; i++) buf[i] = (uint8_t)rnext(&r);
        buf[0] &= 0xfd; /* limits off: see the limit test below */
        for (i = 9; i < n; i++) /* mostly near the cursor, like real streams */
            if (rbelow(&r, 4)) buf[i] &= 0x9f;
        rm_input_free(&in);
        rm_decode_bytes(buf, n, &in);
        rm_run(&in, &res);
        cr_assert(!res.differ, "seed %d\n%s", seed, res.report ? res.report : "");
        free(res.report);
    }
}

/* Regression (found by fuzz/fuzz_diff.c, fixed): when holding an
   out-of-order segment would pass max_buffer_dir, the first hole is flushed
   (LIMIT gap) and what was buffered after it delivered. If that delivery
   passes the end of the new segment, the segment is a duplicate: the
   delivered point must not move back (offsets stay contiguous). */
Test(refmodel, limit_flush_past_the_new_segment) {
    in.max_buffer_dir = 350; /* one 200-byte segment fits, 200 + 100 do not */
    in.max_buffer_total = 100000;
    seg(0, A, 1000, 5000, 0, 0);   /* offset 0 */
    seg(0, A, 1300, 5000, 200, 0); /* held: [300,500) */
    seg(0, A, 1001, 5000, 100, 0); /* [1,101): flushing delivers up to 500 */
    seg(0, A, 1101, 5000, 10, 0);  /* [101,111): already behind */
    run_same();
}

/* Regression, visible only under -fsanitize=undefined (fixed): a segment
   whose payload starts before offset 0 and whose captured payload is empty
   with a NULL pointer must not make the engine compute NULL + 0. */
Test(refmodel, null_payload_before_start) {
    rm_seg_in s;
    seg(0, A, 1000, 5000, 0, 0);
    memset(&s, 0, sizeof s);
    s.flags = A;
    s.seq = 990;
    s.ack = 5000;
    s.len = 20;
    s.caplen = 0; /* the runner passes a NULL payload pointer */
    rm_input_add(&in, &s);
    run_same();
    expect_gap(0, 0, 0, 10, TCPS_GAP_TRUNCATED);
    cr_assert_eq(mo.t[0].dup_bytes, 10); /* the part before offset 0 */
}

/* Regression (found by fuzz/fuzz_reassembly.c, fixed): with
   max_buffer_total below max_buffer_dir, a segment larger than
   max_buffer_total must never be held (stats.buffered would pass the
   limit); it is skipped to like one over max_buffer_dir (LIMIT gap). */
Test(refmodel, segment_over_max_buffer_total_is_not_held) {
    in.max_buffer_dir = 0;     /* default, 4 MiB */
    in.max_buffer_total = 100; /* smaller than one 200-byte segment */
    seg(0, A, 1000, 5000, 0, 0);
    seg(0, A, 1010, 5000, 200, 0); /* out of order: would be held */
    run_same();
}

/* Regression, visible only under clang -fsanitize=undefined (found by
   fuzz/fuzz_reassembly.c and fuzz/fuzz_diff.c): a segment that crosses a
   standing FIN is cut at the FIN (tcps__data); when its captured payload
   is empty with a NULL pointer, stepping over the kept part computes
   NULL + 0 ("applying zero offset to null pointer", undefined in C), the
   same fault as null_payload_before_start in another place. */
Test(refmodel, null_payload_across_a_fin) {
    seg(0, A, 1000, 5000, 10, 0);
    in.v[in.n - 1].caplen = 0; /* no captured byte at all: the runner passes NULL */
    seg(0, FA, 1010, 5000, 0, 0);
    seg(0, A, 1005, 5000, 20, 0);
    in.v[in.n - 1].caplen = 0;
    run_same();
    expect_gap(0, 0, 0, 10, TCPS_GAP_TRUNCATED);
    cr_assert(gap_of(0, 1) == NULL);
    cr_assert_eq(mo.t[0].dup_bytes, 5);
}

/* --- the engine alone */

typedef struct eng_count {
    uint64_t bytes[2]; /* by endpoint (RM_PORT0 is endpoint 0) */
} eng_count;

static int eng_on_data(const tcps_event *ev, void *user) {
    eng_count *c = (eng_count *)user;
    int client_is_0 = ev->session->client.port == RM_PORT0;
    c->bytes[ev->dir == TCPS_C2S ? !client_is_0 : client_is_0] += ev->length;
    return 0;
}

/* Feed `in` to the engine alone (no runner adjustments). */
static eng_count engine_only(void) {
    eng_count c;
    tcps_config cfg;
    tcps_ctx *ctx = NULL;
    uint8_t payload[1500];
    size_t i;
    uint32_t j;
    memset(&c, 0, sizeof c);
    memset(&cfg, 0, sizeof cfg);
    cfg.callbacks.on_data = eng_on_data;
    cfg.user = &c;
    cr_assert_eq(tcps_create(&ctx, &cfg), TCPS_OK);
    for (i = 0; i < in.n; i++) {
        tcps_segment g;
        const rm_seg_in *s = &in.v[i];
        cr_assert_leq(s->caplen, sizeof payload);
        for (j = 0; j < s->caplen; j++) payload[j] = rm_pattern(s->from, s->seq + j, s->tag);
        rm_fill_segment(&g, s, payload, (uint64_t)i + 1);
        cr_assert_eq(tcps_feed_segment(ctx, &g), TCPS_OK);
    }
    cr_assert_eq(tcps_finish(ctx), TCPS_OK);
    tcps_destroy(ctx);
    return c;
}

/* Regression (found by the differential fuzzer): the capture begins with
   a server's late FIN of an earlier connection on the same ports, then the
   client's SYN, the server's SYN-ACK and data. The SYN-ACK re-bases the
   server's direction and must forget that FIN, or every byte after it
   would count as "beyond the FIN" and be dropped. */
Test(refmodel, fin_before_a_rebasing_syn_is_forgotten) {
    eng_count c;
    seg(1, FA, 5000, 9000, 0, 0); /* stray FIN from the server */
    seg(0, S, 1000, 0, 0, 0);
    seg(1, SA, 3000, 1001, 0, 0); /* re-bases the server's direction */
    seg(0, A, 1001, 3001, 0, 0);
    seg(1, A, 3001, 1001, 10, 0);
    c = engine_only();
    cr_expect_eq(c.bytes[1], 10, "server bytes delivered: %llu", (unsigned long long)c.bytes[1]);
}

/* --- many sessions (fuzz/sessmodel.h) */

typedef struct sess_case {
    const char *what;
    uint32_t conns, hosts, ports, active, filler_open, filler_closed, max_sessions, linger_ms, step_us;
    unsigned loss_pct, isn_modes;
    int overlap;
    int late_only; /* every reuse after the linger, most after a late packet */
} sess_case;

static void run_sessions(const sess_case *c, uint64_t seed, sm_result *res) {
    sg_params p;
    sg_traffic t;
    sm_options o;
    sg_params_default(&p, seed, c->conns);
    p.req_min = 50, p.req_max = 400; /* captures of 1 to 5 MB */
    p.resp_min = 100, p.resp_max = 1500;
    p.mss = 500;
    if (c->hosts) p.hosts = c->hosts, p.ports = c->ports;
    if (c->active) p.active = c->active;
    p.filler_open = c->filler_open;
    p.filler_closed = c->filler_closed;
    p.linger_ms = c->linger_ms;
    if (c->step_us) p.step_us = c->step_us;
    p.loss_pct = c->loss_pct;
    p.isn_modes = c->isn_modes;
    if (c->loss_pct) p.reorder_pct = 25, p.dup_pct = 15;
    if (c->late_only) p.soon_pct = 0, p.late_pct = 90;
    memset(&o, 0, sizeof o);
    o.max_sessions = c->max_sessions;
    o.overlap = c->overlap;
    o.via_pcap = 1;
    o.truth = 1;
    sg_generate(&t, &p);
    sm_run(&t, &o, res);
    cr_log_info("%s: %lu connections, %lu packets; %lu sessions, %llu late, %llu evicted, %llu reused, %lu split, "
                "%lu opened by late packets",
                c->what, (unsigned long)t.nconns, (unsigned long)t.npkts, (unsigned long)res->sessions,
                (unsigned long long)res->late, (unsigned long long)res->evicted, (unsigned long long)res->reused,
                (unsigned long)res->split, (unsigned long)res->stray);
    sg_free(&t);
}

Test(refmodel, many_sessions_on_reused_tuples) {
    static const sess_case cases[] = {
        /* the table past 2048 sessions while 64 4-tuples are reused */
        {"table growth", 2500, 0, 0, 0, 2200, 300, 0, 0, 0, 0, 0, TCPS_OVERLAP_FIRST, 0},
        /* eviction of busy connections, and of idle ones */
        {"max_sessions 40", 1500, 0, 0, 0, 0, 0, 40, 0, 0, 0, 0, TCPS_OVERLAP_FIRST, 0},
        {"max_sessions 2", 400, 1, 4, 4, 100, 0, 2, 0, 0, 0, 0, TCPS_OVERLAP_FIRST, 0},
        {"max_sessions 300", 1500, 0, 0, 0, 1200, 100, 300, 0, 0, 0, SG_ISN_BELOW, TCPS_OVERLAP_LAST, 0},
        /* lost segments, more reordering, the other overlap policy */
        {"loss", 1500, 0, 0, 0, 300, 0, 0, 0, 0, 8, 0, TCPS_OVERLAP_LAST, 0},
        /* a short linger: packets after a close come late */
        {"linger 30 ms", 1500, 4, 16, 48, 0, 100, 0, 30, 1500, 0, 0, TCPS_OVERLAP_FIRST, 0},
        /* more 4-tuples closed than tombstones kept (1024 with this max_sessions) */
        {"tombstones pushed out", 150, 2, 32, 64, 0, 9000, 16000, 30, 3, 0, SG_ISN_EQUAL, TCPS_OVERLAP_FIRST, 1},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sm_result res;
        run_sessions(&cases[i], 0x77000 + i, &res);
        cr_assert(!res.differ, "%s\n%s", cases[i].what, res.report ? res.report : "");
        if (cases[i].max_sessions && cases[i].max_sessions < 1000) cr_assert_gt(res.evicted, 0, "%s", cases[i].what);
        if (cases[i].late_only) cr_assert_gt(res.stray, 0, "%s: every late packet found its tombstone", cases[i].what);
        free(res.report);
    }
}

/* Random parameters in fuzz_diff.c's "SESS" encoding, some with mutations
   (then only the model is compared). */
Test(refmodel, random_session_inputs) {
    int seed;
    for (seed = 0; seed < 16; seed++) {
        rng r;
        uint8_t buf[17 + 3 * 12];
        size_t n = 17, i;
        sm_input si;
        sm_result res;
        sg_traffic t;
        r.s = 0x6a09e667f3bcc909ull ^ (uint64_t)seed * 0x9e3779b97f4a7c15ull;
        for (i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)rnext(&r);
        buf[4] %= 32;  /* at most 745 connections */
        buf[7] %= 64;  /* at most 1260 open fillers */
        if (seed % 3 == 0) n += 3 * (1 + rbelow(&r, 12));
        sm_decode(buf, n, &si);
        si.opt.via_pcap = 1;
        sg_generate(&t, &si.p);
        sm_mutate(&t, si.mut, si.nmut);
        sm_run(&t, &si.opt, &res);
        cr_assert(!res.differ, "seed %d\n%s", seed, res.report ? res.report : "");
        free(res.report);
        sg_free(&t);
    }
}
