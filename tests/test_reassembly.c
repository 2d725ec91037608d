/* Sessions and reassembly, driven with segments built by hand. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "reasm_util.h"
#include <criterion/criterion.h>

static ru_rec rec;
static tcps_ctx *ctx;
static ru_ep C, S;

static void setup_with(const tcps_config *extra) {
    tcps_config cfg;
    memset(&rec, 0, sizeof rec);
    ru_config(&cfg, &rec);
    if (extra) {
        cfg.flags = extra->flags;
        cfg.overlap = extra->overlap;
        cfg.max_sessions = extra->max_sessions;
        cfg.max_buffer_dir = extra->max_buffer_dir;
        cfg.max_buffer_total = extra->max_buffer_total;
        cfg.idle_timeout_ms = extra->idle_timeout_ms;
        cfg.linger_ms = extra->linger_ms;
    }
    C = ru_v4(10, 0, 0, 1, 40000);
    S = ru_v4(10, 0, 0, 2, 80);
    cr_assert_eq(tcps_create(&ctx, &cfg), TCPS_OK);
}
static void setup(void) { setup_with(NULL); }
static void teardown(void) {
    if (ctx) {
        const char *why = acct_ctx(tcps_ctx_stats(ctx), tcps_ctx_stats(ctx)->segments);
        cr_expect(why == NULL, "%s", why);
    }
    tcps_destroy(ctx);
    ctx = NULL;
    ru_free(&rec);
}

#define CISN 1000u
#define SISN 5000u

static void handshake(long ms) {
    cr_assert_eq(ru_seg(ctx, C, S, CISN, 0, RU_S, NULL, 0, ms), TCPS_OK);
    cr_assert_eq(ru_seg(ctx, S, C, SISN, CISN + 1, RU_SA, NULL, 0, ms + 1), TCPS_OK);
    cr_assert_eq(ru_seg(ctx, C, S, CISN + 1, SISN + 1, RU_A, NULL, 0, ms + 2), TCPS_OK);
}

/* client data at stream offset off */
static int cdata(uint32_t off, const char *s, long ms) {
    return ru_seg(ctx, C, S, CISN + 1 + off, SISN + 1, RU_PA, s, strlen(s), ms);
}
static int sdata(uint32_t off, const char *s, uint32_t ack_off, long ms) {
    return ru_seg(ctx, S, C, SISN + 1 + off, CISN + 1 + ack_off, RU_PA, s, strlen(s), ms);
}

static void assert_dir(int si, int dir, const char *want) {
    ru_dir *d;
    cr_assert_lt(si, rec.n, "session %d never opened", si);
    d = &rec.s[si].d[dir];
    cr_assert_eq(d->len, strlen(want), "dir %d: %zu bytes, want %zu (%s)", dir, d->len, strlen(want), rec.log);
    cr_assert(memcmp(d->buf, want, d->len) == 0, "dir %d: got %.*s want %s", dir, (int)d->len, d->buf, want);
}

TestSuite(reassembly, .init = setup, .fini = teardown);

Test(reassembly, handshake_data_fin) {
    const tcps_session *s;
    handshake(0);
    cr_assert_eq(cdata(0, "hello", 10), TCPS_OK);
    cr_assert_eq(sdata(0, "world!", 5, 11), TCPS_OK);
    cr_assert_eq(ru_seg(ctx, C, S, CISN + 6, SISN + 7, RU_FA, NULL, 0, 12), TCPS_OK);
    cr_assert_eq(ru_seg(ctx, S, C, SISN + 7, CISN + 7, RU_FA, NULL, 0, 13), TCPS_OK);
    cr_assert_eq(ru_seg(ctx, C, S, CISN + 7, SISN + 8, RU_A, NULL, 0, 14), TCPS_OK);
    cr_assert_eq(tcps_finish(ctx), TCPS_OK);
    cr_assert_eq(rec.errors, 0);
    cr_assert_eq(rec.n, 1);
    assert_dir(0, TCPS_C2S, "hello");
    assert_dir(0, TCPS_S2C, "world!");
    cr_assert_eq(rec.s[0].reason, TCPS_END_FIN);
    cr_assert_str_eq(rec.log, "O0 D0:5< D0:6> C0:1");
    s = NULL;
    (void)s;
    cr_assert_eq(tcps_ctx_stats(ctx)->closed_fin, 1);
    cr_assert_eq(tcps_ctx_stats(ctx)->bytes, 11);
}

Test(reassembly, client_is_syn_sender) {
    handshake(0);
    tcps_finish(ctx);
    cr_assert_eq(rec.s[0].client.port, 40000);
    cr_assert_eq(rec.s[0].server.port, 80);
}

Test(reassembly, retransmission_dropped) {
    handshake(0);
    cdata(0, "hello", 10);
    cdata(0, "hello", 20);
    cdata(5, " you", 30);
    cdata(3, "lo yo", 40); /* overlaps both, nothing new */
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "hello you");
    cr_assert_eq(rec.errors, 0);
}

Test(reassembly, out_of_order_reordered) {
    handshake(0);
    cdata(4, "ef", 10);
    cdata(2, "cd", 11);
    cr_assert_eq(rec.s[0].d[0].delivered, 0);
    cdata(0, "ab", 12);
    cr_assert_eq(rec.s[0].d[0].delivered, 6, "released the moment the hole filled");
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "abcdef");
    cr_assert_eq(rec.s[0].d[0].chunks, 3);
    cr_assert_eq(rec.s[0].d[0].missing, 0);
}

/* In-order data wins over buffered copies of the same bytes (tshark and
   Linux both deliver the in-order segment whole). */
Test(reassembly, overlap_inorder_over_buffered) {
    handshake(0);
    cdata(5, "XXXXX", 10);
    cdata(0, "abcdefgh", 11);
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "abcdefghXX");
    cr_assert_eq(tcps_ctx_stats(ctx)->sessions, 1);
}

Test(reassembly, overlap_two_buffered_first_wins) {
    handshake(0);
    cdata(5, "AAAAA", 10);
    cdata(5, "BBBBB", 11);
    cdata(0, "01234", 12);
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "01234AAAAA");
}

Test(reassembly, overlap_later_starting_earlier) {
    /* A (first) covers 10..20, B (second) 5..15: at 5 only B can continue
       the stream, and it gives all its bytes; A fills 15..20. */
    handshake(0);
    cdata(10, "AAAAAAAAAA", 10);
    cdata(5, "BBBBBBBBBB", 11);
    cdata(0, "01234", 12);
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "01234BBBBBBBBBBAAAAA");
}

/* Two buffered segments can both continue the stream: the one seen first
   gives its bytes, the other only what lies beyond (tshark's choice). */
Test(reassembly, overlap_two_candidates_first_arrival_wins) {
    handshake(0);
    cdata(5, "AAAAAAAAAA", 10);      /* 5..15, first */
    cdata(3, "BBBBBBBBBBBBBBBBB", 11); /* 3..20, second */
    cdata(0, "01234567", 12);
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "01234567AAAAAAABBBBB");
}

Test(reassembly, retransmission_with_other_bytes_keeps_first) {
    handshake(0);
    cdata(0, "GOOD", 10);
    cdata(0, "EVIL", 11);
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "GOOD");
}

Test(reassembly, partial_overlap_in_order) {
    handshake(0);
    cdata(0, "hello", 10);
    cdata(3, "LOWOR", 11);
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "helloWOR");
}

Test(reassembly, acked_gap_then_data) {
    handshake(0);
    cdata(0, "hello", 10);
    cdata(10, "world", 11); /* 5..10 never captured */
    cr_assert_eq(rec.s[0].d[0].delivered, 5);
    sdata(0, "", 15, 12);   /* an ACK of everything: the receiver had it */
    ru_seg(ctx, S, C, SISN + 1, CISN + 1 + 15, RU_A, NULL, 0, 13);
    tcps_finish(ctx);
    cr_assert_eq(rec.errors, 0);
    cr_assert_eq(rec.s[0].d[0].missing, 5);
    cr_assert_eq(rec.s[0].d[0].gap_reasons[TCPS_GAP_ACKED], 1);
    cr_assert_eq(rec.s[0].d[0].delivered, 10);
    cr_assert(memcmp(rec.s[0].d[0].buf + 10, "world", 5) == 0);
}

/* The server's segment acknowledges client bytes behind a hole: the gap and
   those bytes come before the server's data. */
Test(reassembly, order_of_exchange_follows_acks) {
    handshake(0);
    cdata(0, "req1", 10);
    cdata(8, "req3", 11);
    sdata(0, "resp", 12, 12);
    tcps_finish(ctx);
    cr_assert_str_eq(rec.log, "O0 D0:4< G0:4< D0:4< D0:4> C0:4");
}

Test(reassembly, sequence_wrap) {
    uint32_t isn = 0xfffffff0u;
    char want[41];
    int i;
    for (i = 0; i < 40; i++) want[i] = (char)('a' + i % 26);
    want[40] = 0;
    ru_seg(ctx, C, S, isn, 0, RU_S, NULL, 0, 0);
    ru_seg(ctx, S, C, SISN, isn + 1, RU_SA, NULL, 0, 1);
    ru_seg(ctx, C, S, isn + 1 + 30, SISN + 1, RU_PA, want + 30, 10, 2);
    ru_seg(ctx, C, S, isn + 1 + 10, SISN + 1, RU_PA, want + 10, 10, 3); /* wraps inside */
    ru_seg(ctx, C, S, isn + 1 + 20, SISN + 1, RU_PA, want + 20, 10, 4);
    ru_seg(ctx, C, S, isn + 1, SISN + 1, RU_PA, want, 10, 5);
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, want);
}

Test(reassembly, syn_with_data) {
    ru_seg(ctx, C, S, CISN, 0, RU_S, "GET", 3, 0);
    ru_seg(ctx, S, C, SISN, CISN + 4, RU_SA, NULL, 0, 1);
    cdata(3, " /", 2);
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "GET /");
}

Test(reassembly, syn_data_flagged) {
    ru_seg(ctx, C, S, CISN, 0, RU_S, "GET", 3, 0);
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "GET");
    cr_assert_eq(tcps_ctx_stats(ctx)->sessions, 1);
}

static uint32_t anomalies_of_last_session_seen;
static int keep_anomalies(const tcps_event *ev, void *user) {
    (void)user;
    anomalies_of_last_session_seen = ev->session->dir[0].anomalies | ev->session->dir[1].anomalies;
    return ru_on_close(ev, &rec);
}

Test(reassembly, urgent_data_inline_and_flagged) {
    tcps_config cfg;
    tcps_destroy(ctx);
    ru_config(&cfg, &rec);
    cfg.callbacks.on_close = keep_anomalies;
    cr_assert_eq(tcps_create(&ctx, &cfg), TCPS_OK);
    handshake(0);
    ru_seg(ctx, C, S, CISN + 1, SISN + 1, RU_PA | TCPS_TH_URG, "abc", 3, 10);
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "abc");
    cr_assert(anomalies_of_last_session_seen & TCPS_ANOM_URGENT);
}

Test(reassembly, invalid_flags_flagged_not_fatal) {
    tcps_config cfg;
    tcps_destroy(ctx);
    ru_config(&cfg, &rec);
    cfg.callbacks.on_close = keep_anomalies;
    cr_assert_eq(tcps_create(&ctx, &cfg), TCPS_OK);
    handshake(0);
    cr_assert_eq(ru_seg(ctx, C, S, CISN + 1, SISN + 1, TCPS_TH_SYN | TCPS_TH_FIN, NULL, 0, 5), TCPS_OK);
    cr_assert_eq(ru_seg(ctx, C, S, CISN + 1, SISN + 1, 0, "x", 1, 6), TCPS_OK);
    tcps_finish(ctx);
    cr_assert(anomalies_of_last_session_seen & TCPS_ANOM_BAD_FLAGS);
}

Test(reassembly, data_before_isn_trimmed) {
    handshake(0);
    /* starts two bytes before the first data byte (partly outside the window) */
    ru_seg(ctx, C, S, CISN - 1, SISN + 1, RU_PA, "xxhi", 4, 10);
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "hi");
}

/* The receiver ignores data beyond a FIN (RFC 9293 3.10.7.4, and tshark
   does not deliver it either). */
Test(reassembly, data_after_fin_not_delivered) {
    handshake(0);
    ru_seg(ctx, C, S, CISN + 1, SISN + 1, RU_FA | TCPS_TH_PSH, "abc", 3, 10);
    cdata(4, "def", 11); /* one past the FIN's sequence number */
    cdata(3, "ghi", 12); /* on the FIN's own number */
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "abc");
    cr_assert_eq(rec.s[0].d[0].missing, 0);
}

Test(reassembly, data_after_fin_held_before_the_fin_came) {
    handshake(0);
    cdata(5, "after", 10); /* held: beyond a hole */
    ru_seg(ctx, C, S, CISN + 1 + 3, SISN + 1, RU_FA, NULL, 0, 11);
    cdata(0, "abc", 12);
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "abc");
}

/* The receiver acknowledged data beyond a FIN: it never took that FIN (a
   bad checksum, an injection), so the data counts, after a one-number hole. */
Test(reassembly, ack_past_fin_voids_it) {
    handshake(0);
    ru_seg(ctx, C, S, CISN + 1, SISN + 1, RU_FA | TCPS_TH_PSH, "abc", 3, 10);
    cdata(4, "def", 11);
    cr_assert_eq(rec.s[0].d[0].delivered, 3);
    ru_seg(ctx, S, C, SISN + 1, CISN + 1 + 7, RU_A, NULL, 0, 12);
    tcps_finish(ctx);
    cr_assert_eq(rec.errors, 0);
    cr_assert_eq(rec.s[0].d[0].delivered, 6);
    cr_assert_eq(rec.s[0].d[0].missing, 1);
    cr_assert(memcmp(rec.s[0].d[0].buf + 4, "def", 3) == 0);
}

/* A reset whose ACK does not acknowledge the SYN is not taken (RFC 9293):
   the connection goes on. */
Test(reassembly, injected_rst_ignored) {
    ru_seg(ctx, C, S, CISN, 0, RU_S, NULL, 0, 0);
    ru_seg(ctx, S, C, 0, CISN, RU_RA, NULL, 0, 1); /* acks the SYN's own number */
    ru_seg(ctx, S, C, SISN, CISN + 1, RU_SA, NULL, 0, 2000);
    ru_seg(ctx, C, S, CISN + 1, SISN + 1, RU_A, NULL, 0, 2001);
    cdata(0, "hello", 2002);
    sdata(0, "world", 5, 2003);
    tcps_finish(ctx);
    cr_assert_eq(rec.n, 1);
    assert_dir(0, TCPS_C2S, "hello");
    assert_dir(0, TCPS_S2C, "world"); /* the SYN-ACK re-based the stray reset's direction */
    cr_assert_eq(rec.s[0].reason, TCPS_END_EOF);
}

Test(reassembly, rst_acking_the_syn_closes) {
    ru_seg(ctx, C, S, CISN, 0, RU_S, NULL, 0, 0);
    ru_seg(ctx, S, C, 0, CISN + 1, RU_RA, NULL, 0, 1);
    tcps_finish(ctx);
    cr_assert_eq(rec.s[0].reason, TCPS_END_RST);
}

/* tshark's base sequence without a SYN is one before the first byte: a SYN
   with that number belongs to the same connection, another starts a new one. */
Test(reassembly, midstream_then_syn) {
    ru_seg(ctx, C, S, 1000, 5000, RU_PA, "hello", 5, 0);
    ru_seg(ctx, C, S, 999, 0, RU_S, NULL, 0, 1);
    cr_assert_eq(rec.n, 1);
    ru_seg(ctx, C, S, 1000, 0, RU_S, NULL, 0, 2);
    cr_assert_eq(rec.n, 2);
    tcps_finish(ctx);
}

Test(reassembly, keepalive_dropped) {
    handshake(0);
    cdata(0, "abc", 10);
    ru_seg(ctx, C, S, CISN + 1 + 2, SISN + 1, RU_A, "\0", 1, 20); /* seq-1 probe */
    cdata(3, "d", 30);
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "abcd");
}

Test(reassembly, rst_with_data_delivered_then_closed) {
    handshake(0);
    cdata(0, "abc", 10);
    ru_seg(ctx, S, C, SISN + 1, CISN + 4, RU_RA, "bye", 3, 11);
    tcps_finish(ctx);
    assert_dir(0, TCPS_S2C, "bye");
    cr_assert_eq(rec.s[0].reason, TCPS_END_RST);
}

Test(reassembly, port_reuse_after_fin_new_stream) {
    handshake(0);
    cdata(0, "one", 10);
    ru_seg(ctx, C, S, CISN + 4, SISN + 1, RU_FA, NULL, 0, 11);
    ru_seg(ctx, S, C, SISN + 1, CISN + 5, RU_FA, NULL, 0, 12);
    ru_seg(ctx, C, S, CISN + 5, SISN + 2, RU_A, NULL, 0, 13);
    /* 5 s later the final ACK is repeated (late), then a new connection */
    ru_seg(ctx, C, S, CISN + 5, SISN + 2, RU_A, NULL, 0, 5000);
    ru_seg(ctx, C, S, 90000, 0, RU_S, NULL, 0, 5001);
    ru_seg(ctx, S, C, 70000, 90001, RU_SA, NULL, 0, 5002);
    ru_seg(ctx, C, S, 90001, 70001, RU_PA, "two", 3, 5003);
    tcps_finish(ctx);
    cr_assert_eq(rec.errors, 0);
    cr_assert_eq(rec.n, 2);
    cr_assert_eq(rec.s[1].stream, 1);
    assert_dir(0, TCPS_C2S, "one");
    assert_dir(1, TCPS_C2S, "two");
    cr_assert_eq(rec.s[0].reason, TCPS_END_FIN);
    cr_assert_eq(tcps_ctx_stats(ctx)->late_segments, 1);
}

/* A new connection on a 4-tuple whose last one is still lingering after
   its FINs: the old one's tombstone and the new session must never both be
   in the table, or a lookup after the table grows (a rehash reorders its
   chains) finds the tombstone and drops the new session's segments. */
Test(reassembly, reuse_while_lingering_survives_table_growth) {
    static const char reply[] = "the reply";
    uint32_t isn2 = CISN + 100, sisn2 = SISN + 100;
    int i;
    handshake(0);
    cdata(0, "one", 10);
    ru_seg(ctx, C, S, CISN + 4, SISN + 1, RU_FA, NULL, 0, 11);
    ru_seg(ctx, S, C, SISN + 1, CISN + 5, RU_FA, NULL, 0, 12);
    ru_seg(ctx, C, S, CISN + 5, SISN + 2, RU_A, NULL, 0, 13);
    /* within the linger time: the same tuple again, ISNs close to the old */
    ru_seg(ctx, C, S, isn2, 0, RU_S, NULL, 0, 100);
    ru_seg(ctx, S, C, sisn2, isn2 + 1, RU_SA, NULL, 0, 101);
    ru_seg(ctx, C, S, isn2 + 1, sisn2 + 1, RU_A, NULL, 0, 102);
    ru_seg(ctx, C, S, isn2 + 1, sisn2 + 1, RU_PA, "t", 1, 103);
    /* other connections: the table doubles (at 1025 entries, at 2049), and
       the new session's next segments come after each doubling */
    for (i = 0; i < 2400; i++) {
        ru_ep o = ru_v4(10, 0, (uint8_t)(1 + i / 250), (uint8_t)(1 + i % 250), 50000);
        cr_assert_eq(ru_seg(ctx, o, S, 7000u + (uint32_t)i, 0, RU_S, NULL, 0, 200), TCPS_OK);
        if (i == 1200) ru_seg(ctx, C, S, isn2 + 2, sisn2 + 1, RU_PA, "w", 1, 201);
    }
    ru_seg(ctx, C, S, isn2 + 3, sisn2 + 1, RU_PA, "o", 1, 300);
    ru_seg(ctx, S, C, sisn2 + 1, isn2 + 4, RU_PA, reply, strlen(reply), 301);
    ru_seg(ctx, C, S, isn2 + 4, sisn2 + 1 + (uint32_t)strlen(reply), RU_FA, NULL, 0, 302);
    ru_seg(ctx, S, C, sisn2 + 1 + (uint32_t)strlen(reply), isn2 + 5, RU_FA, NULL, 0, 303);
    tcps_finish(ctx);
    cr_assert_eq(rec.errors, 0);
    cr_assert_eq(rec.s[1].stream, 1);
    assert_dir(0, TCPS_C2S, "one");
    assert_dir(1, TCPS_C2S, "two");
    assert_dir(1, TCPS_S2C, reply);
    cr_assert_eq(rec.s[1].d[TCPS_C2S].missing + rec.s[1].d[TCPS_S2C].missing, 0);
    cr_assert_eq(rec.s[1].reason, TCPS_END_FIN);
    cr_assert_eq(tcps_ctx_stats(ctx)->late_segments, 0);
}

/* After a session closed: its old bytes again, and bytes sent after the
   close (which no receiver took), are late and counted, the new bytes in
   late_bytes; a SYN-ACK with a new sequence number is a new connection
   whose SYN the capture missed. */
Test(reassembly, after_close_late_data_counted_and_syn_ack_opens) {
    handshake(0);
    cdata(0, "one", 10);
    ru_seg(ctx, C, S, CISN + 4, SISN + 1, RU_FA, NULL, 0, 11);
    ru_seg(ctx, S, C, SISN + 1, CISN + 5, RU_FA, NULL, 0, 12);
    ru_seg(ctx, C, S, CISN + 5, SISN + 2, RU_A, NULL, 0, 13);
    /* after the linger time */
    cr_assert_eq(cdata(0, "one", 3000), TCPS_OK);
    cr_assert_eq(cdata(3, "after", 3001), TCPS_OK);
    cr_assert_eq(tcps_ctx_stats(ctx)->late_segments, 2);
    cr_assert_eq(tcps_ctx_stats(ctx)->late_bytes, 4, "the FIN's number is in the session, 4 bytes past it");
    cr_assert_eq(rec.n, 1);
    cr_assert_eq(ru_seg(ctx, S, C, SISN + 70000, CISN + 90001, RU_SA, NULL, 0, 4000), TCPS_OK);
    cr_assert_eq(ru_seg(ctx, C, S, CISN + 90001, SISN + 70001, RU_PA, "fresh", 5, 4001), TCPS_OK);
    tcps_finish(ctx);
    cr_assert_eq(rec.errors, 0);
    cr_assert_eq(rec.n, 2);
    assert_dir(0, TCPS_C2S, "one");
    assert_dir(1, TCPS_C2S, "fresh");
    cr_assert_eq(rec.s[1].client.port, C.port, "the SYN-ACK's receiver is the client");
}

/* A half-closed connection whose client FIN the capture missed: the server
   acknowledged it (one more than the data), went on sending, closed, and
   the client acknowledged the server's FIN. That number is the lost FIN,
   not a missing byte, and the session ended by FIN. */
Test(reassembly, lost_fin_inferred_from_the_close) {
    handshake(0);
    cdata(0, "req", 10);
    /* client "de" + FIN at offset 3 not captured */
    sdata(0, "resp", 6, 20);
    sdata(4, "more", 6, 21);
    ru_seg(ctx, S, C, SISN + 9, CISN + 7, RU_FA, NULL, 0, 22);
    ru_seg(ctx, C, S, CISN + 7, SISN + 10, RU_A, NULL, 0, 23);
    tcps_finish(ctx);
    cr_assert_eq(rec.errors, 0);
    assert_dir(0, TCPS_S2C, "respmore");
    cr_assert_eq(rec.s[0].d[TCPS_C2S].missing, 2, "%s", rec.log);
    cr_assert_eq(rec.s[0].reason, TCPS_END_FIN);
    cr_assert(rec.s[0].anomalies[TCPS_C2S] & TCPS_ANOM_FIN_INFERRED);
    cr_assert(!(rec.s[0].anomalies[TCPS_C2S] & TCPS_ANOM_FIN_UNCERTAIN));
    cr_assert(tcps_ctx_stats(ctx)->closed_fin == 1);
}

/* The same acknowledgement with nothing showing the client closed: the last
   number may be a FIN or a byte, and the session says so. */
Test(reassembly, unproven_fin_flagged_uncertain) {
    handshake(0);
    cdata(0, "req", 10);
    sdata(0, "resp", 4, 20); /* acknowledges "req" and one more */
    tcps_finish(ctx);
    cr_assert_eq(rec.errors, 0);
    cr_assert_eq(rec.s[0].d[TCPS_C2S].missing, 0);
    cr_assert_eq(rec.s[0].reason, TCPS_END_EOF);
    cr_assert(rec.s[0].anomalies[TCPS_C2S] & TCPS_ANOM_FIN_UNCERTAIN);
    cr_assert(!(rec.s[0].anomalies[TCPS_C2S] & TCPS_ANOM_FIN_INFERRED));
}

Test(reassembly, rst_then_reuse_with_new_sequence) {
    handshake(0);
    cdata(0, "one", 10);
    ru_seg(ctx, C, S, CISN + 4, 0, RU_R, NULL, 0, 11);
    ru_seg(ctx, C, S, 777777, 0, RU_S, NULL, 0, 20);
    ru_seg(ctx, S, C, 888888, 777778, RU_SA, NULL, 0, 21);
    ru_seg(ctx, C, S, 777778, 888889, RU_PA, "two", 3, 22);
    tcps_finish(ctx);
    cr_assert_eq(rec.n, 2);
    cr_assert_eq(rec.s[0].reason, TCPS_END_RST);
    assert_dir(1, TCPS_C2S, "two");
}

Test(reassembly, syn_after_established_with_other_isn_is_new_session) {
    handshake(0);
    cdata(0, "one", 10);
    ru_seg(ctx, C, S, 123456, 0, RU_S, NULL, 0, 20);
    ru_seg(ctx, C, S, 123457, 0, RU_PA, "two", 3, 21);
    tcps_finish(ctx);
    cr_assert_eq(rec.n, 2);
    cr_assert_eq(rec.s[0].reason, TCPS_END_REUSED);
    assert_dir(0, TCPS_C2S, "one");
    assert_dir(1, TCPS_C2S, "two");
}

Test(reassembly, retransmitted_syn_same_session) {
    ru_seg(ctx, C, S, CISN, 0, RU_S, NULL, 0, 0);
    ru_seg(ctx, C, S, CISN, 0, RU_S, NULL, 0, 1000);
    ru_seg(ctx, S, C, SISN, CISN + 1, RU_SA, NULL, 0, 1001);
    tcps_finish(ctx);
    cr_assert_eq(rec.n, 1);
}

Test(reassembly, streams_numbered_by_first_packet) {
    ru_ep C2 = ru_v4(10, 0, 0, 3, 40001);
    ru_seg(ctx, C, S, CISN, 0, RU_S, NULL, 0, 0);
    ru_seg(ctx, C2, S, 1, 0, RU_S, NULL, 0, 1);
    ru_seg(ctx, S, C, SISN, CISN + 1, RU_SA, NULL, 0, 2);
    tcps_finish(ctx);
    cr_assert_eq(rec.n, 2);
    cr_assert_eq(rec.s[0].stream, 0);
    cr_assert_eq(rec.s[0].client.addr[3], 1);
    cr_assert_eq(rec.s[1].stream, 1);
    cr_assert_eq(rec.s[1].client.addr[3], 3);
}

Test(reassembly, midstream_first_source_is_client) {
    ru_seg(ctx, S, C, 5000, 1000, RU_PA, "HTTP/1.1 200 OK", 15, 0);
    ru_seg(ctx, C, S, 1000, 5015, RU_A, NULL, 0, 1);
    tcps_finish(ctx);
    cr_assert_eq(rec.s[0].client.port, 80, "without a SYN the first source is the client (tshark node 0)");
    assert_dir(0, TCPS_C2S, "HTTP/1.1 200 OK");
}

Test(reassembly, snaplen_cut_is_a_gap) {
    tcps_segment g;
    handshake(0);
    memset(&g, 0, sizeof g);
    g.ip_version = 4;
    memcpy(g.src, C.addr, 16);
    memcpy(g.dst, S.addr, 16);
    g.sport = C.port;
    g.dport = S.port;
    g.seq = CISN + 1;
    g.ack = SISN + 1;
    g.flags = RU_PA;
    g.payload.ptr = (const uint8_t *)"abcd";
    g.payload.len = 4;
    g.payload_len = 10;
    cr_assert_eq(tcps_feed_segment(ctx, &g), TCPS_OK);
    cdata(10, "next", 20);
    tcps_finish(ctx);
    cr_assert_eq(rec.errors, 0);
    cr_assert_eq(rec.s[0].d[0].missing, 6);
    cr_assert_eq(rec.s[0].d[0].gap_reasons[TCPS_GAP_TRUNCATED], 1);
    cr_assert(memcmp(rec.s[0].d[0].buf + 10, "next", 4) == 0);
}

Test(reassembly, hole_before_fin_reported_at_finish) {
    handshake(0);
    cdata(0, "hello", 10);
    cdata(10, "world", 11);
    ru_seg(ctx, C, S, CISN + 16, SISN + 1, RU_FA, NULL, 0, 12);
    tcps_finish(ctx);
    cr_assert_eq(rec.errors, 0);
    cr_assert_eq(rec.s[0].d[0].missing, 5);
    cr_assert_eq(rec.s[0].d[0].gap_reasons[TCPS_GAP_CLOSE], 1);
    cr_assert_eq(rec.s[0].d[0].delivered, 10);
}

Test(reassembly, unseen_tail_acked_reported_at_finish) {
    handshake(0);
    cdata(0, "hello", 10);
    ru_seg(ctx, S, C, SISN + 1, CISN + 1 + 25, RU_A, NULL, 0, 11);
    tcps_finish(ctx);
    cr_assert_eq(rec.s[0].d[0].missing, 20);
    cr_assert_eq(rec.s[0].d[0].gap_reasons[TCPS_GAP_ACKED], 1);
}

Test(reassembly, bad_checksum_dropped_only_when_verifying) {
    tcps_segment g;
    tcps_config cfg;
    int pass;
    for (pass = 0; pass < 2; pass++) {
        tcps_destroy(ctx);
        ru_free(&rec);
        memset(&rec, 0, sizeof rec);
        ru_config(&cfg, &rec);
        cfg.flags = pass ? TCPS_F_VERIFY_CHECKSUMS : 0;
        cr_assert_eq(tcps_create(&ctx, &cfg), TCPS_OK);
        handshake(0);
        memset(&g, 0, sizeof g);
        g.ip_version = 4;
        memcpy(g.src, C.addr, 16);
        memcpy(g.dst, S.addr, 16);
        g.sport = C.port;
        g.dport = S.port;
        g.seq = CISN + 1;
        g.flags = RU_PA;
        g.checksum = TCPS_CSUM_BAD;
        g.payload.ptr = (const uint8_t *)"evil";
        g.payload.len = g.payload_len = 4;
        tcps_feed_segment(ctx, &g);
        cdata(0, "good", 10);
        tcps_finish(ctx);
        assert_dir(0, TCPS_C2S, pass ? "good" : "evil");
        cr_assert_eq(tcps_ctx_stats(ctx)->bad_checksum, pass ? 1u : 0u);
    }
}

Test(reassembly, callback_abort_stops_cleanly) {
    int r;
    rec.abort_at = 3; /* open, data, -> stop at the second data */
    handshake(0);
    cr_assert_eq(cdata(0, "a", 10), TCPS_OK);
    r = cdata(1, "b", 11);
    cr_assert_eq(r, TCPS_E_ABORTED);
    cr_assert_eq(tcps_ctx_error(ctx)->code, TCPS_E_ABORTED);
}

/* --- limits */

TestSuite(limits, .fini = teardown);

Test(limits, per_direction_buffer_flushes_with_gaps) {
    tcps_config extra;
    char buf[100];
    uint32_t i;
    memset(&extra, 0, sizeof extra);
    extra.max_buffer_dir = 2000;
    setup_with(&extra);
    memset(buf, 'z', sizeof buf);
    handshake(0);
    /* offset 0 is lost; 200 segments of 100 bytes arrive behind it */
    for (i = 1; i <= 200; i++) {
        cr_assert_eq(ru_seg(ctx, C, S, CISN + 1 + i * 100, SISN + 1, RU_PA, buf, 100, 10 + i), TCPS_OK);
        cr_assert_leq(tcps_ctx_stats(ctx)->buffered, 2000);
    }
    tcps_finish(ctx);
    cr_assert_eq(rec.errors, 0);
    cr_assert_eq(rec.s[0].d[0].delivered + rec.s[0].d[0].missing, 201 * 100);
    cr_assert_eq(rec.s[0].d[0].missing, 100);
    cr_assert_geq(rec.s[0].d[0].gap_reasons[TCPS_GAP_LIMIT], 1);
    cr_assert_geq(tcps_ctx_stats(ctx)->gaps_limit, 1);
}

Test(limits, total_buffer_shared_between_sessions) {
    tcps_config extra;
    char buf[100];
    int k, i;
    memset(&extra, 0, sizeof extra);
    extra.max_buffer_total = 5000;
    setup_with(&extra);
    memset(buf, 'q', sizeof buf);
    for (k = 0; k < 10; k++) {
        ru_ep c = ru_v4(10, 1, 0, (uint8_t)k, 1000);
        ru_seg(ctx, c, S, 0, 0, RU_S, NULL, 0, k * 100); /* data starts at seq 1 */
        for (i = 1; i <= 20; i++) { /* offsets 100..2099: the first 100 bytes were lost */
            ru_seg(ctx, c, S, 1 + (uint32_t)i * 100, 1, RU_PA, buf, 100, k * 100 + i);
            cr_assert_leq(tcps_ctx_stats(ctx)->buffered, 5000);
        }
    }
    tcps_finish(ctx);
    cr_assert_eq(rec.errors, 0);
    cr_assert_eq(rec.n, 10);
    for (k = 0; k < 10; k++)
        cr_assert_eq(rec.s[k].d[0].delivered + rec.s[k].d[0].missing, 2100);
    cr_assert_geq(tcps_ctx_stats(ctx)->gaps_limit, 1);
}

Test(limits, idle_timeout) {
    tcps_config extra;
    ru_ep C2 = ru_v4(10, 0, 0, 9, 999);
    memset(&extra, 0, sizeof extra);
    extra.idle_timeout_ms = 1000;
    setup_with(&extra);
    handshake(0);
    ru_seg(ctx, C2, S, 1, 0, RU_S, NULL, 0, 5000);
    cr_assert_eq(rec.s[0].closed, 1);
    cr_assert_eq(rec.s[0].reason, TCPS_END_TIMEOUT);
    cr_assert_eq(rec.s[1].closed, 0);
    tcps_finish(ctx);
}

Test(limits, max_sessions_evicts_idlest) {
    tcps_config extra;
    int k;
    memset(&extra, 0, sizeof extra);
    extra.max_sessions = 2;
    setup_with(&extra);
    for (k = 0; k < 3; k++) ru_seg(ctx, ru_v4(10, 2, 0, (uint8_t)k, 5), S, 1, 0, RU_S, NULL, 0, k);
    cr_assert_eq(rec.s[0].closed, 1);
    cr_assert_eq(rec.s[0].reason, TCPS_END_EVICTED);
    cr_assert_leq(tcps_ctx_stats(ctx)->sessions_live, 2);
    tcps_finish(ctx);
}

/* --- the overlap policy "last" */

Test(limits, overlap_last_policy) {
    tcps_config extra;
    memset(&extra, 0, sizeof extra);
    extra.overlap = TCPS_OVERLAP_LAST;
    setup_with(&extra);
    handshake(0);
    cdata(5, "AAAAA", 10);
    cdata(5, "BBBBB", 11);
    cdata(0, "01234", 12);
    cdata(15, "CCCCCCCCCC", 13);     /* 15..25, first */
    cdata(13, "DDDDDDDDDDDDDDDDD", 14); /* 13..30, last */
    cdata(10, "eeeeeeee", 15);
    tcps_finish(ctx);
    assert_dir(0, TCPS_C2S, "01234BBBBBeeeeeeeeDDDDDDDDDDDD");
}

/* A SYN-ACK of an earlier connection on the same 4-tuple comes late (a
   relay held it): other sequence number, and an ACK of another client SYN.
   It must not re-base the server's direction, which has sent nothing yet:
   taken, the client's next ACK of the real SYN-ACK would acknowledge
   65,612 bytes the server never sent (seen on a live capture of reused
   ports through a lossy relay). */
Test(reassembly, late_syn_ack_of_an_earlier_connection_is_not_taken) {
    handshake(0);
    cdata(0, "request", 10);
    ru_seg(ctx, S, C, SISN - 65614u, CISN - 168610u, RU_SA, NULL, 0, 11);
    ru_seg(ctx, C, S, CISN + 1 + 7, SISN + 1, RU_A, NULL, 0, 12);
    ru_seg(ctx, S, C, SISN + 1, CISN + 1 + 7, RU_RA, NULL, 0, 13);
    tcps_finish(ctx);
    cr_assert_eq(rec.errors, 0);
    cr_assert_eq(rec.n, 1, "%zu sessions", (size_t)rec.n);
    cr_assert_eq(rec.s[0].d[1].missing, 0, "%llu bytes missing s2c", (unsigned long long)rec.s[0].d[1].missing);
    cr_assert_eq(rec.s[0].d[1].delivered, 0);
    cr_assert_eq(rec.s[0].d[0].delivered, 7);
    cr_assert_eq(rec.s[0].reason, TCPS_END_RST);
}

/* A stray RST started the server's direction; the SYN-ACK that comes
   acknowledges the client's SYN and re-bases the direction as before, and
   so does one that acknowledges Fast Open data of the SYN as well. */
Test(reassembly, syn_ack_acking_the_syn_still_rebases) {
    ru_seg(ctx, C, S, CISN, 0, RU_S, NULL, 0, 0);
    ru_seg(ctx, S, C, SISN + 77, 0, RU_R, NULL, 0, 1); /* a stray RST starts nothing */
    ru_seg(ctx, S, C, SISN, CISN + 1, RU_SA, NULL, 0, 2);
    ru_seg(ctx, C, S, CISN + 1, SISN + 1, RU_A, NULL, 0, 3);
    sdata(0, "hello", 0, 4);
    tcps_finish(ctx);
    cr_assert_eq(rec.errors, 0);
    cr_assert_eq(rec.s[0].d[1].delivered, 5);
    cr_assert_eq(rec.s[0].d[1].missing, 0);
}

Test(reassembly, syn_ack_of_fast_open_data_rebases) {
    ru_seg(ctx, C, S, CISN, 0, RU_S, "early", 5, 0);
    ru_seg(ctx, S, C, SISN + 77, 0, RU_R, NULL, 0, 1);
    ru_seg(ctx, S, C, SISN, CISN + 1 + 5, RU_SA, NULL, 0, 2);
    ru_seg(ctx, C, S, CISN + 1 + 5, SISN + 1, RU_A, NULL, 0, 3);
    sdata(0, "hello", 5, 4);
    tcps_finish(ctx);
    cr_assert_eq(rec.errors, 0);
    cr_assert_eq(rec.s[0].d[0].delivered, 5);
    cr_assert_eq(rec.s[0].d[1].delivered, 5);
    cr_assert_eq(rec.s[0].d[1].missing, 0);
}
