/* Thousands of connections reusing a few 4-tuples, in one capture built in
   memory (fuzz/sessgen.h makes the traffic and checks the result):
   connections 48 at a time over 64 client endpoints (2 hosts x 32 ports) to
   one server, each with a handshake, a request and a response in several
   segments (some swapped, some sent twice), ending by FIN both ways or by
   RST; the next connection on a 4-tuple has initial sequence numbers just
   above, equal to or below where the previous one ended, and its SYN comes
   while the previous one still lingers (linger_ms, 1000 ms of capture time)
   or after, sometimes after a late retransmission of the previous one.
   Short connections on 4-tuples of their own keep thousands of sessions
   open, so the session table doubles several times while tuples are
   reused. Checked: every connection's bytes come back exactly, both ways,
   with no gap; one session per connection; each ends as it was ended; the
   late segments counted are exactly the late packets sent.

   The capture is read from memory with tcps_run. The two large captures
   (18 and 12 MB) pass the tap's 8 MiB bound (tests/failalloc_tap.h), so
   the failing-allocator pass of `make test` does not replay them;
   small_capture is the one it replays (under 1 MB, still past the first
   doubling of the table). */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "capwriter.h"
#include "pktbuild.h"
#include "fuzz/sessgen.h"
#include <criterion/criterion.h>

#define TAP_SAVES_UP_TO ((size_t)8 << 20) /* TAP_MAX_SAVE of tests/failalloc_tap.h */

typedef struct outcome {
    tcps_stats st;
    uint32_t split;
    size_t capture_bytes;
} outcome;

/* Generate p, write it as a pcap, run it through a context with
   max_sessions (0: default); the checks' verdict in k. */
static outcome run(const sg_params *p, uint32_t max_sessions, sg_traffic *t, sg_check *k) {
    capw_buf cap;
    tcps_reader *rd = NULL;
    tcps_ctx *ctx = NULL;
    tcps_config cfg;
    outcome o;
    char what[1024];
    int rc;
    memset(&o, 0, sizeof o);
    sg_generate(t, p);
    sg_write_pcap(t, &cap);
    o.capture_bytes = cap.len;
    sg_check_init(k, t);
    k->max_sessions = max_sessions;
    sg_check_config(&cfg, k);
    cr_assert_eq(tcps_reader_open_memory(&rd, cap.data, cap.len, NULL), TCPS_OK);
    cr_assert_eq(tcps_create(&ctx, &cfg), TCPS_OK);
    rc = tcps_run(ctx, rd);
    cr_assert_eq(rc, TCPS_OK, "tcps_run: %s", tcps_result_name(rc));
    sg_check_finish(k, tcps_ctx_stats(ctx));
    o.st = *tcps_ctx_stats(ctx);
    o.st.decode = NULL;
    o.split = k->split;
    tcps_destroy(ctx);
    tcps_reader_close(rd);
    capw_free(&cap);
    sg_describe(t, what, sizeof what);
    cr_log_info("%s; %.1f MB; sessions %llu, at most %llu live, %llu late, %llu evicted", what,
                (double)o.capture_bytes / 1e6, (unsigned long long)o.st.sessions,
                (unsigned long long)o.st.sessions_peak, (unsigned long long)o.st.late_segments,
                (unsigned long long)o.st.closed_evicted);
    return o;
}

static void expect_clean(const sg_check *k, const outcome *o) {
    cr_assert_eq(k->errors, 0, "%lu errors, the first: %s", k->errors, k->err);
    cr_assert_eq(o->st.missing, 0, "%llu bytes missing", (unsigned long long)o->st.missing);
    cr_assert_eq(o->st.gaps, 0);
    cr_assert_eq(o->st.sessions, k->t->nconns, "%llu sessions for %lu connections",
                 (unsigned long long)o->st.sessions, (unsigned long)k->t->nconns);
    cr_assert_eq(o->st.late_segments, k->t->late, "%llu late segments counted, %lu late packets sent",
                 (unsigned long long)o->st.late_segments, (unsigned long)k->t->late);
}

/* 5200 connections on 64 4-tuples, with 4400 open and 600 closed short
   connections elsewhere: over 4096 sessions live at the end. */
Test(reuse, many_connections_on_reused_tuples) {
    sg_params p;
    sg_traffic t;
    sg_check k;
    outcome o;
    sg_params_default(&p, 0x5eed0001u, 5200);
    p.filler_open = 4400;
    p.filler_closed = 600;
    o = run(&p, 0, &t, &k);
    expect_clean(&k, &o);
    /* what the capture had to hold */
    cr_assert_geq(t.reuse[SG_SOON], 1000, "%lu SYNs while the previous connection lingered",
                  (unsigned long)t.reuse[SG_SOON]);
    cr_assert_geq(t.reuse[SG_AFTER], 1000, "%lu SYNs after the linger", (unsigned long)t.reuse[SG_AFTER]);
    cr_assert_geq(t.isn_modes[SG_ISN_ABOVE], 500);
    cr_assert_geq(t.isn_modes[SG_ISN_EQUAL], 500);
    cr_assert_geq(t.isn_modes[SG_ISN_BELOW], 500);
    cr_assert_geq(t.late, 300);
    cr_assert_geq(t.rst, 300);
    cr_assert_geq(t.peak_active, 48);
    cr_assert_gt(o.st.sessions_peak, 4096, "at most %llu sessions live", (unsigned long long)o.st.sessions_peak);
    cr_assert_eq(o.st.closed_reused, 0);
    cr_assert_eq(o.st.closed_fin + o.st.closed_rst + o.st.closed_eof, t.nconns);
    cr_assert_gt(o.capture_bytes, TAP_SAVES_UP_TO);
    sg_check_free(&k);
    sg_free(&t);
}

/* max_sessions far below the sessions a capture holds: 3000 open short
   connections, then 2500 on the reused tuples while the oldest are pushed
   out. The idlest session goes first, so no connection that still has
   packets to come is evicted, and every byte still arrives. */
Test(reuse, eviction_keeps_the_busy_connections) {
    sg_params p;
    sg_traffic t;
    sg_check k;
    outcome o;
    sg_params_default(&p, 0x5eed0002u, 3500);
    p.filler_open = 3000;
    p.filler_closed = 200;
    o = run(&p, 600, &t, &k);
    cr_assert_eq(k.errors, 0, "%lu errors, the first: %s", k.errors, k.err);
    cr_assert_eq(o.split, 0, "%lu connections evicted while they had packets to come", (unsigned long)o.split);
    cr_assert_gt(o.st.closed_evicted, 2000, "%llu evicted", (unsigned long long)o.st.closed_evicted);
    cr_assert_leq(o.st.sessions_peak, 600);
    cr_assert_eq(o.st.missing, 0);
    cr_assert_eq(o.st.sessions, t.nconns);
    cr_assert_gt(o.capture_bytes, TAP_SAVES_UP_TO);
    sg_check_free(&k);
    sg_free(&t);
}

/* Small enough for the failing-allocator pass, large enough for a table
   doubling: 350 connections on 8 4-tuples and 1100 open ones elsewhere. */
Test(reuse, small_capture) {
    sg_params p;
    sg_traffic t;
    sg_check k;
    outcome o;
    sg_params_default(&p, 0x5eed0003u, 350);
    p.hosts = 1;
    p.ports = 8;
    p.active = 10;
    p.filler_open = 1100;
    p.req_min = 10, p.req_max = 120;
    p.resp_min = 10, p.resp_max = 300;
    p.mss = 100;
    p.step_us = 2000;
    o = run(&p, 0, &t, &k);
    expect_clean(&k, &o);
    cr_assert_geq(t.reuse[SG_SOON], 50);
    cr_assert_geq(t.reuse[SG_AFTER], 50);
    cr_assert_gt(o.st.sessions_peak, 1024);
    cr_assert_lt(o.capture_bytes, 1000000, "%lu bytes", (unsigned long)o.capture_bytes);
    sg_check_free(&k);
    sg_free(&t);
}
