/* hostile_caps - adversarial captures: memory bounds and linear time.

     hostile_caps write DIR [SCALE]   write the captures at SCALE (default 1)
     hostile_caps check [SCALE]       build them in memory, run each through a
                                      context with the limits below and a
                                      counting allocator, check the results
                                      and the peak memory (part of make test)
     hostile_caps bench               time per packet at 1x, 10x and 100x
     hostile_caps run|build S NAME [default]
                                      build one capture at scale S and run it
                                      (with the library's default limits), or
                                      only build it: under cachegrind, the
                                      difference of the two instruction
                                      counts is the engine's work

   At scale S:
     syn_flood      10000*S SYNs, each from a distinct address and port
     ooo_tiny       one session, 1000*S one-byte segments: the first byte
                    comes last, the others in a scrambled order
     overlap_quad   one session, 500*S one-byte segments at even offsets
                    behind a hole, then 500*S segments of 1000 bytes each
                    covering the first 500 of them, then segments nested around the middle, each one
                    byte wider on both sides (quadratic for a reassembler
                    that compares every new segment with every held one)
     frag_never     1000*S IPv4 and 1000*S IPv6 first fragments (more
                    fragments flag set), each of a distinct datagram, never
                    completed
     seq_wrap       one session whose sequence numbers wrap past 2^32 in
                    its middle, 1000*S segments of 100 bytes, every 7th one
                    missing and every pair around the wrap swapped
     ng_ifaces      pcapng: 100*S interfaces, a packet on each, and blocks
                    with 1000*S options each (an IDB, EPBs, a custom block)
   Limits set in the config of every check (bounds below are asserted):
     max_sessions 4096, max_buffer_dir 64 KiB, max_buffer_total 1 MiB,
     frag_max_datagrams 256, frag_max_bytes 256 KiB.
   The last line of check is "hostile: P passed, F failed". */
#define _POSIX_C_SOURCE 200809L
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "capwriter.h"
#include "pktbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#define LIM_SESSIONS 4096u
#define LIM_BUF_DIR (64u << 10)
#define LIM_BUF_TOTAL (1u << 20)
#define LIM_FRAG_DGRAMS 256u
#define LIM_FRAG_BYTES (256u << 10)

/* ------------------------------------------------------------ allocator */

typedef struct acct {
    long long live, peak;
    long calls;
} acct;

static void *ac_alloc(size_t n, void *u) {
    acct *a = (acct *)u;
    a->calls++;
    a->live += (long long)n;
    if (a->live > a->peak) a->peak = a->live;
    return malloc(n);
}
static void *ac_realloc(void *p, size_t o, size_t n, void *u) {
    acct *a = (acct *)u;
    a->calls++;
    a->live += (long long)n - (long long)o;
    if (a->live > a->peak) a->peak = a->live;
    return realloc(p, n);
}
static void ac_free(void *p, size_t n, void *u) {
    acct *a = (acct *)u;
    a->live -= (long long)n;
    free(p);
}

/* ------------------------------------------------------------- building */

static pb_buf *pkt; /* one frame at a time (140 KB: not on the stack) */
static uint32_t tsec;

static void rec(capw_buf *b) {
    tsec++;
    capw_pcap_record(b, 1000000 + tsec / 1000, (tsec % 1000) * 1000, pb_data(pkt), (uint32_t)pb_len(pkt),
                     (uint32_t)pb_len(pkt));
}

static void tcp4(capw_buf *b, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack,
                 uint16_t flags, const void *data, size_t len) {
    pb_tcp_hdr t = pb_tcp_default(sp, dp);
    pb_ip_hdr ip = pb_ip4("0.0.0.0", "0.0.0.0");
    pb_put32(ip.src, src);
    pb_put32(ip.dst, dst);
    t.seq = seq, t.ack = ack, t.flags = flags;
    pb_init(pkt);
    if (len) pb_append(pkt, data, len);
    pb_tcp(pkt, &t);
    pb_ipv4(pkt, &ip, PB_TCP);
    rec(b);
}

#define CLI 0x0a000001u
#define SRV 0x0a000002u
#define CISN 0x11110000u
#define SISN 0x22220000u

static void handshake(capw_buf *b, uint32_t cisn) {
    tcp4(b, CLI, SRV, 40000, 80, cisn, 0, TCPS_TH_SYN, NULL, 0);
    tcp4(b, SRV, CLI, 80, 40000, SISN, cisn + 1, TCPS_TH_SYN | TCPS_TH_ACK, NULL, 0);
    tcp4(b, CLI, SRV, 40000, 80, cisn + 1, SISN + 1, TCPS_TH_ACK, NULL, 0);
}

static uint8_t pat(uint64_t off) { return (uint8_t)('a' + (off * 7 + off / 251) % 26); }

static void c2s(capw_buf *b, uint32_t cisn, uint64_t off, size_t len) {
    uint8_t d[2048];
    size_t i;
    for (i = 0; i < len; i++) d[i] = pat(off + i);
    tcp4(b, CLI, SRV, 40000, 80, (uint32_t)(cisn + 1 + off), SISN + 1, TCPS_TH_ACK | TCPS_TH_PSH, d, len);
}

static void start(capw_buf *b) {
    capw_init(b);
    capw_pcap_header(b, 0, 0, 262144, TCPS_LINKTYPE_RAW);
    tsec = 0;
}

static void mk_syn_flood(capw_buf *b, long n) {
    long i;
    start(b);
    for (i = 0; i < n; i++)
        tcp4(b, 0x0b000000u + (uint32_t)(i / 50000), SRV, (uint16_t)(10000 + i % 50000), 80, (uint32_t)i * 7919u, 0,
             TCPS_TH_SYN, NULL, 0);
}

static void mk_ooo_tiny(capw_buf *b, long n) {
    long i, step = 7919; /* prime, coprime with n unless n is a multiple */
    start(b);
    handshake(b, CISN);
    while (n % step == 0) step += 2;
    for (i = 0; i < n - 1; i++) c2s(b, CISN, (uint64_t)(1 + (i * step) % (n - 1)), 1);
    c2s(b, CISN, 0, 1);
    tcp4(b, CLI, SRV, 40000, 80, CISN + 1 + (uint32_t)n, SISN + 1, TCPS_TH_FIN | TCPS_TH_ACK, NULL, 0);
}

static void mk_overlap_quad(capw_buf *b, long n) {
    long i;
    start(b);
    handshake(b, CISN);
    for (i = 1; i <= n; i++) c2s(b, CISN, (uint64_t)(2 * i), 1);
    for (i = 0; i < n; i++) c2s(b, CISN, 1, 1000);
    for (i = 0; i < n; i++) {
        long w = i % 600; /* nested around offset 700, one byte wider each time */
        c2s(b, CISN, (uint64_t)(700 - w), (size_t)(2 * w + 1));
    }
    c2s(b, CISN, 0, 1);
}

static void mk_frag_never(capw_buf *b, long n) {
    long i;
    static uint8_t pay[64];
    pb_buf dg;
    start(b);
    for (i = 0; i < 2 * n; i++) {
        pb_tcp_hdr t = pb_tcp_default((uint16_t)(1024 + i % 60000), 80);
        pb_ip_hdr ip = (i & 1) ? pb_ip6("2001:db8::1", "2001:db8::2") : pb_ip4("10.9.0.1", "10.9.0.2");
        t.seq = (uint32_t)i;
        ip.id = (uint16_t)i;
        if (!(i & 1)) pb_put32(ip.src, 0x0a090000u + (uint32_t)(i >> 17)); /* ids wrap every 65536 */
        else pb_put32(ip.src + 12, (uint32_t)i);
        pb_init(&dg);
        pb_append(&dg, pay, sizeof pay);
        pb_tcp(&dg, &t);
        if (i & 1) {
            pb_ipv6(&dg, &ip, PB_TCP);
            pb_frag6(pkt, pb_data(&dg), 0, 48, 1, (uint32_t)i);
        } else {
            pb_ipv4(&dg, &ip, PB_TCP);
            pb_frag4(pkt, pb_data(&dg), 0, 48, 1);
        }
        rec(b);
    }
}

#define WRAP_SEG 100
static uint32_t wrap_isn(long n) { return (uint32_t)(0u - (uint32_t)(n / 2) * WRAP_SEG - 1u); }

static void mk_seq_wrap(capw_buf *b, long n) {
    long i;
    uint32_t isn = wrap_isn(n);
    start(b);
    handshake(b, isn);
    for (i = 0; i < n; i++) {
        long j = i;
        if (i >= n / 2 - 4 && i < n / 2 + 4) j = i ^ 1; /* swap pairs around the wrap */
        if (j % 7 == 3) continue;                        /* holes on both sides */
        c2s(b, isn, (uint64_t)j * WRAP_SEG, WRAP_SEG);
    }
    tcp4(b, CLI, SRV, 40000, 80, isn + 1 + (uint32_t)(n * WRAP_SEG), SISN + 1, TCPS_TH_FIN | TCPS_TH_ACK, NULL, 0);
    tcp4(b, SRV, CLI, 80, 40000, SISN + 1, isn + 2 + (uint32_t)(n * WRAP_SEG), TCPS_TH_FIN | TCPS_TH_ACK, NULL, 0);
}

static void mk_ng_ifaces(capw_buf *b, long nif, long nopt) {
    capw_opts many;
    long i;
    static const uint8_t val[4] = {1, 2, 3, 4};
    capw_init(b);
    capw_ng_shb(b, 0);
    capw_opts_init(&many, 0);
    for (i = 0; i < nopt; i++) capw_opt(&many, (uint16_t)(0x8000 + i % 1000), val, (uint16_t)(i % 5));
    capw_ng_idb(b, TCPS_LINKTYPE_RAW, 0, &many); /* interface 0: a huge option list */
    for (i = 1; i < nif; i++) capw_ng_idb(b, (uint16_t)(i % 3 ? TCPS_LINKTYPE_RAW : TCPS_LINKTYPE_ETHERNET), 0, NULL);
    capw_ng_custom(b, 32473, many.data, many.len);
    for (i = 0; i < nif; i++) {
        pb_tcp_hdr t = pb_tcp_default((uint16_t)(2000 + i % 60000), 80);
        pb_ip_hdr ip = pb_ip4("10.7.0.1", "10.7.0.2");
        t.flags = TCPS_TH_SYN;
        pb_put32(ip.src, 0x0a070000u + (uint32_t)i);
        pb_init(pkt);
        pb_tcp(pkt, &t);
        pb_ipv4(pkt, &ip, PB_TCP);
        if (i % 3 == 0 && i > 0) pb_ether(pkt, PB_ETH_IPV4);
        capw_ng_epb(b, (uint32_t)i, (uint64_t)i, pb_data(pkt), (uint32_t)pb_len(pkt), (uint32_t)pb_len(pkt),
                    i < 4 ? &many : NULL);
    }
    capw_opts_free(&many);
}

/* The late-retransmission case of the tombstone fix: a session closed by
   FIN both ways, then, 5 s later (past linger_ms), its data segment again.
   One session, whatever the allocator does. */
static void mk_late_after_fin(capw_buf *b) {
    start(b);
    handshake(b, CISN);
    c2s(b, CISN, 0, 10);
    tcp4(b, CLI, SRV, 40000, 80, CISN + 11, SISN + 1, TCPS_TH_FIN | TCPS_TH_ACK, NULL, 0);
    tcp4(b, SRV, CLI, 80, 40000, SISN + 1, CISN + 12, TCPS_TH_FIN | TCPS_TH_ACK, NULL, 0);
    tcp4(b, CLI, SRV, 40000, 80, CISN + 12, SISN + 2, TCPS_TH_ACK, NULL, 0);
    tsec += 5000; /* past linger_ms: the session is gone, its tombstone stays */
    c2s(b, CISN, 0, 10);
}

typedef struct kase {
    const char *name;
    long per_scale; /* packets-ish unit at scale 1 */
} kase;

enum { K_SYN, K_OOO, K_OVL, K_FRAG, K_WRAP, K_NG, K_LATE, K_COUNT };
static const kase kases[K_COUNT] = {{"syn_flood", 10000}, {"ooo_tiny", 1000}, {"overlap_quad", 500},
                                    {"frag_never", 1000}, {"seq_wrap", 1000},  {"ng_ifaces", 100},
                                    {"late_after_fin", 0}};

static void build(int k, long scale, capw_buf *b) {
    long n = kases[k].per_scale * scale;
    switch (k) {
    case K_SYN: mk_syn_flood(b, n); break;
    case K_OOO: mk_ooo_tiny(b, n); break;
    case K_OVL: mk_overlap_quad(b, n); break;
    case K_FRAG: mk_frag_never(b, n); break;
    case K_WRAP: mk_seq_wrap(b, n); break;
    case K_NG: mk_ng_ifaces(b, n, 1000 * scale); break;
    default: mk_late_after_fin(b); break;
    }
}

/* ------------------------------------------------------------- running */

typedef struct result {
    int rc;
    acct mem;
    tcps_stats st;
    tcps_decode_stats ds;
    uint64_t packets, data_bytes, gap_bytes, bad_bytes, opens, closes;
    uint64_t next_off[2];
    int order_bad;
} result;

static int on_ev(const tcps_event *e, void *u) {
    result *r = (result *)u;
    size_t i;
    if (e->type == TCPS_EV_OPEN) r->opens++;
    if (e->type == TCPS_EV_CLOSE) r->closes++;
    if (e->type == TCPS_EV_DATA || e->type == TCPS_EV_GAP) {
        if (e->session->stream == 0) {
            if (e->offset != r->next_off[e->dir]) r->order_bad = 1;
            r->next_off[e->dir] = e->offset + e->length;
        }
    }
    if (e->type == TCPS_EV_DATA) {
        r->data_bytes += e->data.len;
        if (e->dir == TCPS_C2S)
            for (i = 0; i < e->data.len; i++)
                if (e->data.ptr[i] != pat(e->offset + i)) r->bad_bytes++;
    }
    if (e->type == TCPS_EV_GAP) r->gap_bytes += e->length;
    return 0;
}

static void run(const capw_buf *b, result *r, int default_limits) {
    tcps_config cfg;
    tcps_reader_config rc;
    tcps_ctx *ctx;
    tcps_reader *rd;
    memset(r, 0, sizeof *r);
    memset(&cfg, 0, sizeof cfg);
    memset(&rc, 0, sizeof rc);
    cfg.allocator.alloc = ac_alloc, cfg.allocator.realloc = ac_realloc, cfg.allocator.free = ac_free;
    cfg.allocator.user = &r->mem;
    rc.allocator = cfg.allocator;
    cfg.callbacks.on_open = cfg.callbacks.on_data = cfg.callbacks.on_gap = cfg.callbacks.on_close = on_ev;
    cfg.user = r;
    if (!default_limits) {
        cfg.max_sessions = LIM_SESSIONS;
        cfg.max_buffer_dir = LIM_BUF_DIR;
        cfg.max_buffer_total = LIM_BUF_TOTAL;
        cfg.frag_max_datagrams = LIM_FRAG_DGRAMS;
        cfg.frag_max_bytes = LIM_FRAG_BYTES;
    }
    if (tcps_reader_open_memory(&rd, b->data, b->len, &rc) != TCPS_OK) abort();
    if (tcps_create(&ctx, &cfg) != TCPS_OK) abort();
    r->rc = tcps_run(ctx, rd);
    r->st = *tcps_ctx_stats(ctx);
    r->ds = *r->st.decode;
    r->st.decode = NULL;
    r->packets = r->st.packets;
    tcps_destroy(ctx);
    tcps_reader_close(rd);
}

/* --------------------------------------------------------------- checks */

static long n_pass, n_fail;

static void expect(int ok, const char *name, const char *what, long long got, long long want) {
    if (ok) {
        n_pass++;
        return;
    }
    n_fail++;
    printf("FAIL %s: %s (got %lld, want %lld)\n", name, what, got, want);
}

/* Memory bounds, each from a limit: sessions * what one session may hold,
   buffered bytes plus the per-node overhead of 1-byte segments, fragment
   bytes plus per-datagram state. The constants are generous upper bounds of
   the private structures (a session with its tombstone is under 1 KiB; a
   buffered node costs its bytes plus under 128 bytes); what matters is that
   none of them grows with the scale. */
#define BASE_BYTES (1ll << 20) /* context, decoder, reader, tables at start */
#define SESSION_BYTES 2048ll

static void check_case(int k, long scale) {
    capw_buf b;
    result r;
    const char *nm = kases[k].name;
    long n = kases[k].per_scale * scale;
    build(k, scale, &b);
    run(&b, &r, 0);
    expect(r.mem.live == 0, nm, "bytes left after destroy", r.mem.live, 0);
    expect(r.bad_bytes == 0, nm, "delivered bytes differ from those sent", (long long)r.bad_bytes, 0);
    expect(r.opens == r.closes, nm, "every session opened is closed", (long long)r.closes, (long long)r.opens);
    switch (k) {
    case K_SYN:
        expect(r.rc == TCPS_OK, nm, "result", r.rc, 0);
        expect(r.st.sessions == (uint64_t)n, nm, "sessions", (long long)r.st.sessions, n);
        expect(r.st.sessions_peak <= LIM_SESSIONS, nm, "live sessions within max_sessions",
               (long long)r.st.sessions_peak, LIM_SESSIONS);
        expect(r.st.closed_evicted == (uint64_t)(n - (long)LIM_SESSIONS), nm, "evicted", (long long)r.st.closed_evicted,
               n - (long)LIM_SESSIONS);
        expect(r.mem.peak <= BASE_BYTES + SESSION_BYTES * LIM_SESSIONS, nm, "peak memory", r.mem.peak,
               BASE_BYTES + SESSION_BYTES * LIM_SESSIONS);
        break;
    case K_OOO:
        expect(r.st.buffered_peak <= LIM_BUF_DIR, nm, "buffered bytes within max_buffer_dir",
               (long long)r.st.buffered_peak, LIM_BUF_DIR);
        expect(r.data_bytes + r.gap_bytes == (uint64_t)n, nm, "every byte delivered or reported missing",
               (long long)(r.data_bytes + r.gap_bytes), n);
        expect(r.order_bad == 0, nm, "data and gaps in stream order", r.order_bad, 0);
        expect(r.mem.peak <= BASE_BYTES + 2 * (long long)LIM_BUF_DIR * 128, nm, "peak memory", r.mem.peak,
               BASE_BYTES + 2 * (long long)LIM_BUF_DIR * 128);
        break;
    case K_OVL: {
        long end = TCPS__MAX(2 * n + 1, 700 + TCPS__MIN(n - 1, 599) + 1);
        if (end < 1001) end = 1001;
        expect(r.data_bytes + r.gap_bytes == (uint64_t)end, nm, "every byte delivered or reported missing",
               (long long)(r.data_bytes + r.gap_bytes), end);
        expect(r.st.buffered_peak <= LIM_BUF_DIR, nm, "buffered bytes within max_buffer_dir",
               (long long)r.st.buffered_peak, LIM_BUF_DIR);
        expect(r.order_bad == 0, nm, "data in stream order", r.order_bad, 0);
        expect(r.mem.peak <= BASE_BYTES + 2 * (long long)LIM_BUF_DIR * 128, nm, "peak memory", r.mem.peak,
               BASE_BYTES + 2 * (long long)LIM_BUF_DIR * 128);
        break;
    }
    case K_FRAG:
        expect(r.ds.fragments == (uint64_t)(2 * n), nm, "fragments seen", (long long)r.ds.fragments, 2 * n);
        expect(r.ds.reassembled == 0, nm, "nothing reassembled", (long long)r.ds.reassembled, 0);
        expect(r.ds.frag_evicted >= (uint64_t)(2 * n - (long)LIM_FRAG_DGRAMS), nm, "evicted by the limits",
               (long long)r.ds.frag_evicted, 2 * n - (long)LIM_FRAG_DGRAMS);
        expect(r.mem.peak <= BASE_BYTES + 2 * (long long)LIM_FRAG_BYTES + 512ll * LIM_FRAG_DGRAMS, nm,
               "peak memory", r.mem.peak, BASE_BYTES + 2 * (long long)LIM_FRAG_BYTES + 512ll * LIM_FRAG_DGRAMS);
        break;
    case K_WRAP: {
        long missing = 0, i;
        for (i = 0; i < n; i++) missing += i % 7 == 3;
        expect(r.gap_bytes == (uint64_t)missing * WRAP_SEG, nm, "missing bytes", (long long)r.gap_bytes,
               missing * WRAP_SEG);
        expect(r.data_bytes == (uint64_t)(n - missing) * WRAP_SEG, nm, "delivered bytes", (long long)r.data_bytes,
               (n - missing) * WRAP_SEG);
        expect(r.order_bad == 0, nm, "data and gaps in stream order", r.order_bad, 0);
        expect(r.st.closed_fin == 1, nm, "closed by FIN", (long long)r.st.closed_fin, 1);
        break;
    }
    case K_NG:
        expect(r.rc == TCPS_OK, nm, "result", r.rc, 0);
        expect(r.st.sessions == (uint64_t)n, nm, "one session per interface", (long long)r.st.sessions, n);
        expect(r.mem.peak <= BASE_BYTES + SESSION_BYTES * n + 64ll * n + 2 * (long long)b.len, nm,
               "peak memory", r.mem.peak, BASE_BYTES + SESSION_BYTES * n + 64ll * n + 2 * (long long)b.len);
        break;
    default:
        expect(r.rc == TCPS_OK, nm, "result", r.rc, 0);
        expect(r.st.sessions == 1, nm, "the late segment belongs to the closed session",
               (long long)r.st.sessions, 1);
        break;
    }
    printf("%-15s scale %ld: %llu packets, %llu sessions, %llu bytes delivered, %llu missing, peak %lld bytes\n",
           nm, scale, (unsigned long long)r.packets, (unsigned long long)r.st.sessions,
           (unsigned long long)r.data_bytes, (unsigned long long)r.gap_bytes, r.mem.peak);
    capw_free(&b);
}

/* ---------------------------------------------------------------- bench */

static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}
static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void bench(void) {
    static const long scales[3] = {1, 10, 100};
    int k, s, rep, lim;
    printf("%-22s %6s %10s %12s %12s %8s %8s\n", "capture", "scale", "packets", "ns/pkt cpu", "ns/pkt wall", "vs 1x",
           "vs 10x");
    for (lim = 0; lim < 2; lim++)
        for (k = 0; k < K_LATE; k++) {
            double base = 0, base10 = 0;
            if (lim && k != K_SYN && k != K_OOO && k != K_OVL) continue;
            for (s = 0; s < 3; s++) {
                capw_buf b;
                result r;
                double best_c = 1e30, best_w = 1e30;
                char name[64];
                build(k, scales[s], &b);
                for (rep = 0; rep < 3; rep++) {
                    double c0 = cpu_now(), w0 = wall_now(), c, w;
                    run(&b, &r, lim);
                    c = cpu_now() - c0, w = wall_now() - w0;
                    if (c < best_c) best_c = c;
                    if (w < best_w) best_w = w;
                }
                best_c = best_c * 1e9 / (double)(r.packets ? r.packets : 1);
                best_w = best_w * 1e9 / (double)(r.packets ? r.packets : 1);
                if (s == 0) base = best_c;
                if (s == 1) base10 = best_c;
                snprintf(name, sizeof name, "%s%s", kases[k].name, lim ? " (default limits)" : "");
                printf("%-22s %5ldx %10llu %12.0f %12.0f %7.2fx", name, scales[s], (unsigned long long)r.packets,
                       best_c, best_w, base > 0 ? best_c / base : 0.0);
                if (s == 2) printf(" %7.2fx", base10 > 0 ? best_c / base10 : 0.0);
                printf("\n");
                fflush(stdout);
                capw_free(&b);
            }
        }
    printf("(best of 3 runs each, from memory; ns per packet of cpu time (user+sys) and of wall time;\n"
           " \"vs 1x\", \"vs 10x\": cpu time per packet over that at 1x / 10x; 1.00 is linear.\n"
           " Limits: those of `check` (max_sessions %u, max_buffer_dir %u, frag_max_datagrams %u), or the\n"
           " library's defaults where marked)\n", LIM_SESSIONS, LIM_BUF_DIR, LIM_FRAG_DGRAMS);
}

int main(int argc, char **argv) {
    int k;
    pkt = (pb_buf *)malloc(sizeof *pkt);
    if (!pkt) return 2;
    if (argc >= 3 && strcmp(argv[1], "write") == 0) {
        long scale = argc > 3 ? atol(argv[3]) : 1;
        char path[4096];
        mkdir(argv[2], 0777);
        for (k = 0; k < K_COUNT; k++) {
            capw_buf b;
            build(k, scale, &b);
            snprintf(path, sizeof path, "%s/%s%s", argv[2], kases[k].name, k == K_NG ? ".pcapng" : ".pcap");
            if (capw_save(&b, path) != 0) {
                fprintf(stderr, "hostile_caps: cannot write %s\n", path);
                return 1;
            }
            capw_free(&b);
        }
        free(pkt);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "check") == 0) {
        long scale = argc > 2 ? atol(argv[2]) : 1;
        for (k = 0; k < K_COUNT; k++) check_case(k, scale);
        printf("hostile: %ld passed, %ld failed\n", n_pass, n_fail);
        free(pkt);
        return n_fail ? 1 : 0;
    }
    if (argc >= 2 && strcmp(argv[1], "bench") == 0) {
        bench();
        free(pkt);
        return 0;
    }
    if (argc >= 4 && (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "build") == 0)) {
        /* one capture built (and run): instruction counts per packet come
           from the difference of the two under cachegrind */
        long scale = atol(argv[2]);
        capw_buf b;
        result r;
        for (k = 0; k < K_COUNT && strcmp(kases[k].name, argv[3]) != 0; k++) {}
        if (k == K_COUNT) return 2;
        build(k, scale, &b);
        if (argv[1][0] == 'r') {
            run(&b, &r, argc > 4 && strcmp(argv[4], "default") == 0);
            printf("%s scale %ld: %llu packets\n", argv[3], scale, (unsigned long long)r.packets);
        }
        capw_free(&b);
        free(pkt);
        return 0;
    }
    fprintf(stderr, "usage: hostile_caps write DIR [SCALE] | check [SCALE] | bench |\n"
                    "       run|build SCALE NAME [default]\n");
    return 2;
}
