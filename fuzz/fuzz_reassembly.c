/* Fuzzing the session table and the reassembler together: segments over a
   handful of endpoints (many 4-tuples, IPv4 and IPv6), any TCP flags (SYN
   reuse, RST, FIN), capture time that jumps (idle timeout, linger), tiny
   limits (sessions, buffers) and an allocator that fails on demand.
   Checked: per session, OPEN first, DATA/GAP offsets contiguous from 0 in
   each direction, exactly one CLOSE and nothing after it; buffered bytes
   within max_buffer_dir / max_buffer_total; the totals of the events match
   the context's statistics; after tcps_finish nothing is left open; after
   tcps_destroy every byte allocated was freed with the size it was
   allocated with. Any violation prints what and aborts.

   The segments reach the context by one of four paths (option byte 7,
   bits 4-5): 0 tcps_feed_segment, one call per segment; 1 tcps_feed_frame,
   each segment built into an Ethernet frame (a VLAN tag when it has one);
   2 all the frames written into a pcap in memory, read back with tcps_next
   (pull mode, events dispatched to the same checks); 3 the same pcap
   through tcps_run.  Paths 0 and 1 also check the statistics after every
   call.

   Input: 8 bytes of options, then records (see below).
     byte 0  bit 0 TCPS_OVERLAP_LAST, bit 1 TCPS_F_PORT_HEURISTIC,
             bit 2 TCPS_F_SEPARATE_VLANS (records with bit 6 of r5 get a tag)
     byte 1  max_sessions 2 + (b & 15); bit 7: the default
     byte 2  max_buffer_dir 64 + 16 b (0xff: default)
     byte 3  max_buffer_total 64 + 32 b (0xff: default)
     byte 4  idle_timeout_ms 50 (b & 127)
     byte 5  linger_ms 20 b
     byte 6  allocation number 3 b fails (0: none)
     byte 7  bits 0-3: after that, every n-th allocation fails; bits 4-5:
             the feeding path */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "../tests/accounting.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FR_MAX_SESS 2048
#define FR_MAX_SEGS 2048
#define FR_NEP 6

typedef struct fr_sess {
    int opened, closed;
    uint64_t next[2];
    uint64_t bytes, missing;
    uint64_t stream;
} fr_sess;

typedef struct fr_alloc {
    size_t live, peak;
    unsigned long count, fail_at; /* fail allocation number fail_at (0: never) */
    unsigned long fail_every;     /* then every n-th one (0: only once) */
    int failed;
} fr_alloc;

typedef struct fr_state {
    fr_sess s[FR_MAX_SESS];
    int n;
    size_t max_dir, max_total;
    const tcps_ctx *ctx;
    uint64_t bytes, missing, closes;
} fr_state;

static void fr_fail(const char *what, unsigned long long a, unsigned long long b) {
    fprintf(stderr, "fuzz_reassembly: %s (%llu, %llu)\n", what, a, b);
    fflush(stderr);
    abort();
}

/* --- an allocator that checks sizes and fails on demand */

#define FR_HDR 16

static int fr_should_fail(fr_alloc *a) {
    a->count++;
    if (!a->fail_at || a->count < a->fail_at) return 0;
    if (a->count == a->fail_at || (a->fail_every && (a->count - a->fail_at) % a->fail_every == 0)) {
        a->failed = 1;
        return 1;
    }
    return 0;
}

static void *fr_malloc(size_t size, void *user) {
    fr_alloc *a = (fr_alloc *)user;
    uint8_t *p;
    if (fr_should_fail(a)) return NULL;
    if (size > ((size_t)1 << 30)) fr_fail("allocation too large", size, 0);
    p = (uint8_t *)malloc(size + FR_HDR);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    a->live += size;
    if (a->live > a->peak) a->peak = a->live;
    return p + FR_HDR;
}

static void fr_free(void *ptr, size_t size, void *user) {
    fr_alloc *a = (fr_alloc *)user;
    uint8_t *p = (uint8_t *)ptr - FR_HDR;
    size_t was;
    if (!ptr) return;
    memcpy(&was, p, sizeof was);
    if (was != size) fr_fail("free with another size than allocated", was, size);
    a->live -= size;
    free(p);
}

static void *fr_realloc(void *ptr, size_t old, size_t size, void *user) {
    fr_alloc *a = (fr_alloc *)user;
    uint8_t *p, *q;
    size_t was;
    if (!ptr) fr_fail("realloc of NULL", old, size);
    p = (uint8_t *)ptr - FR_HDR;
    memcpy(&was, p, sizeof was);
    if (was != old) fr_fail("realloc with another old size than allocated", was, old);
    if (fr_should_fail(a)) return NULL;
    if (size > ((size_t)1 << 30)) fr_fail("allocation too large", size, 0);
    q = (uint8_t *)realloc(p, size + FR_HDR);
    if (!q) return NULL;
    memcpy(q, &size, sizeof size);
    a->live = a->live - old + size;
    if (a->live > a->peak) a->peak = a->live;
    return q + FR_HDR;
}

/* --- event checks */

static void fr_check_limits(fr_state *st, const tcps_session *s) {
    const tcps_stats *cs = tcps_ctx_stats(st->ctx);
    if (cs->buffered > st->max_total) fr_fail("stats.buffered over max_buffer_total", cs->buffered, st->max_total);
    if (s && s->dir[0].buffered > st->max_dir) fr_fail("C2S buffered over max_buffer_dir", s->dir[0].buffered, st->max_dir);
    if (s && s->dir[1].buffered > st->max_dir) fr_fail("S2C buffered over max_buffer_dir", s->dir[1].buffered, st->max_dir);
}

static fr_sess *fr_get(fr_state *st, const tcps_event *ev) {
    uintptr_t i = (uintptr_t)ev->session->user;
    fr_sess *s;
    if (i == 0) fr_fail("event for a session never opened", (unsigned long long)ev->type, 0);
    if (i > FR_MAX_SESS) return NULL; /* beyond what we track */
    s = &st->s[i - 1];
    if (s->closed) fr_fail("event after CLOSE", (unsigned long long)ev->type, s->stream);
    if (ev->session->stream != s->stream) fr_fail("stream number changed", s->stream, ev->session->stream);
    return s;
}

static int fr_on_open(const tcps_event *ev, void *user) {
    fr_state *st = (fr_state *)user;
    if (ev->session->user) fr_fail("OPEN of a session already opened", 0, 0);
    if (ev->session->stream != (uint64_t)st->n)
        fr_fail("stream numbers not consecutive", ev->session->stream, (unsigned long long)st->n);
    st->n++;
    ev->session->user = (void *)(uintptr_t)st->n;
    if (st->n <= FR_MAX_SESS) {
        fr_sess *s = &st->s[st->n - 1];
        memset(s, 0, sizeof *s);
        s->opened = 1;
        s->stream = ev->session->stream;
    }
    return 0;
}

static void fr_span(fr_state *st, const tcps_event *ev, fr_sess *s) {
    if (ev->dir != TCPS_C2S && ev->dir != TCPS_S2C) fr_fail("bad direction", (unsigned long long)ev->dir, 0);
    if (ev->length == 0) fr_fail("empty DATA or GAP", (unsigned long long)ev->type, ev->offset);
    if (s) {
        if (ev->offset != s->next[ev->dir])
            fr_fail("offsets not contiguous", ev->offset, s->next[ev->dir]);
        s->next[ev->dir] = ev->offset + ev->length;
    }
    fr_check_limits(st, ev->session);
}

static int fr_on_data(const tcps_event *ev, void *user) {
    fr_state *st = (fr_state *)user;
    fr_sess *s = fr_get(st, ev);
    volatile uint8_t sink = 0;
    size_t i;
    if (ev->length != ev->data.len || !ev->data.ptr) fr_fail("DATA span", ev->length, ev->data.len);
    for (i = 0; i < ev->data.len; i++) sink ^= ev->data.ptr[i]; /* readable, all of it */
    (void)sink;
    fr_span(st, ev, s);
    st->bytes += ev->length;
    return 0;
}

static int fr_on_gap(const tcps_event *ev, void *user) {
    fr_state *st = (fr_state *)user;
    fr_sess *s = fr_get(st, ev);
    if (ev->reason < TCPS_GAP_ACKED || ev->reason > TCPS_GAP_TRUNCATED) fr_fail("gap reason", (unsigned long long)ev->reason, 0);
    fr_span(st, ev, s);
    st->missing += ev->length;
    return 0;
}

static int fr_on_close(const tcps_event *ev, void *user) {
    fr_state *st = (fr_state *)user;
    fr_sess *s = fr_get(st, ev);
    const tcps_session *ss = ev->session;
    int k;
    if (ev->reason != ss->end || ss->end < TCPS_END_FIN || ss->end > TCPS_END_REUSED)
        fr_fail("close reason", (unsigned long long)ev->reason, ss->end);
    for (k = 0; k < 2; k++) {
        if (s && ss->dir[k].bytes + ss->dir[k].missing != s->next[k])
            fr_fail("session totals disagree with its events", ss->dir[k].bytes + ss->dir[k].missing, s->next[k]);
        if (ss->dir[k].buffered != 0) fr_fail("closed with bytes buffered", ss->dir[k].buffered, (unsigned long long)k);
    }
    if (s) s->closed = 1;
    st->closes++;
    return 0;
}

/* --- input */

typedef struct fr_in {
    const uint8_t *p;
    size_t n;
} fr_in;

static uint8_t fr_u8(fr_in *in) {
    uint8_t v;
    if (!in->n) return 0;
    v = *in->p++;
    in->n--;
    return v;
}

static uint32_t fr_u32(fr_in *in) {
    uint32_t v = 0;
    int i;
    for (i = 0; i < 4; i++) v = v << 8 | fr_u8(in);
    return v;
}

static void fr_endpoint(int i, uint8_t addr[16], uint16_t *port, uint8_t *ipv) {
    /* three IPv4 hosts, one IPv6; two ports each; a port below 1024 */
    static const uint16_t ports[FR_NEP] = {80, 40000, 443, 40000, 80, 5555};
    memset(addr, 0, 16);
    if (i < 4) {
        addr[0] = 10, addr[3] = (uint8_t)(1 + i / 2);
        *ipv = 4;
    } else {
        addr[0] = 0x20, addr[1] = 0x01, addr[2] = 0x0d, addr[3] = 0xb8, addr[15] = (uint8_t)(i - 3);
        *ipv = 6;
    }
    *port = ports[i];
}

/* --- frames and an in-memory pcap for the feeding paths 1 to 3 */

typedef struct fr_buf {
    uint8_t *p;
    size_t n, cap;
} fr_buf;

static void fr_put(fr_buf *b, const void *p, size_t n) {
    if (n > b->cap - b->n) {
        size_t nc = b->cap ? b->cap : 4096;
        uint8_t *np;
        while (nc - b->n < n) nc *= 2;
        np = (uint8_t *)realloc(b->p, nc);
        if (!np) fr_fail("out of memory in the harness", nc, 0);
        b->p = np;
        b->cap = nc;
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void fr_le32(fr_buf *b, uint32_t v) {
    uint8_t x[4];
    x[0] = (uint8_t)v, x[1] = (uint8_t)(v >> 8), x[2] = (uint8_t)(v >> 16), x[3] = (uint8_t)(v >> 24);
    fr_put(b, x, 4);
}

static void fr_be16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void fr_be32(uint8_t *p, uint32_t v) {
    fr_be16(p, v >> 16);
    fr_be16(p + 2, v & 0xffff);
}

/* Ethernet (+ VLAN) + IP + TCP headers of g into hdr; returns their length.
   The payload (g->payload) follows them on the wire. */
static size_t fr_headers(const tcps_segment *g, uint8_t hdr[80]) {
    size_t n = 12;
    memset(hdr, 0, 80);
    hdr[0] = 2, hdr[6] = 2, hdr[11] = 1;
    if (g->vlan_count) {
        fr_be16(hdr + n, 0x8100);
        fr_be16(hdr + n + 2, g->vlan[0]);
        n += 4;
    }
    fr_be16(hdr + n, g->ip_version == 4 ? 0x0800 : 0x86dd);
    n += 2;
    if (g->ip_version == 4) {
        hdr[n] = 0x45;
        fr_be16(hdr + n + 2, 40 + g->payload_len);
        hdr[n + 8] = 64;
        hdr[n + 9] = 6;
        memcpy(hdr + n + 12, g->src, 4);
        memcpy(hdr + n + 16, g->dst, 4);
        n += 20;
    } else {
        hdr[n] = 0x60;
        fr_be16(hdr + n + 4, 20 + g->payload_len);
        hdr[n + 6] = 6;
        hdr[n + 7] = 64;
        memcpy(hdr + n + 8, g->src, 16);
        memcpy(hdr + n + 24, g->dst, 16);
        n += 40;
    }
    fr_be16(hdr + n, g->sport);
    fr_be16(hdr + n + 2, g->dport);
    fr_be32(hdr + n + 4, g->seq);
    fr_be32(hdr + n + 8, g->ack);
    hdr[n + 12] = (uint8_t)(0x50 | ((g->flags >> 8) & 1));
    hdr[n + 13] = (uint8_t)g->flags;
    fr_be16(hdr + n + 14, g->window);
    return n + 20;
}

/* Records:
     r0  bits0-2 source endpoint (mod 6), bits3-5 destination (mod 6; the
         same as the source picks the next one, and IPv4/IPv6 mixes are
         made IPv4), bit6: raw 32-bit sequence number follows, bit7: raw
         32-bit ack follows
     r1  TCP flags (FIN SYN RST PSH ACK URG ECE CWR)
     r2  int8 sequence delta from the highest end sent on that (src,dst)
     r3  int8 ack delta from the highest end sent the other way
     r4  payload length (0..255); bit7 of r5 makes it x8
     r5  bits0-6 capture time step (ms; x100 if bit6), bit7 see r4;
     [seq32] [ack32] [r6: bytes cut by the snaplen when the length is odd] */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fr_state st; /* large: kept off the stack, reset every run */
    fr_alloc al;
    fr_in in;
    tcps_config cfg;
    tcps_ctx *ctx = NULL;
    uint8_t o[8];
    uint32_t cursor[FR_NEP][FR_NEP];
    uint8_t *payload = NULL, hdr[80];
    size_t pcap = 0;
    fr_buf frame = {NULL, 0, 0}, capture = {NULL, 0, 0};
    int path, lenient = 0;
    int64_t ms = 0;
    int i, nseg = 0, rc;
    const tcps_stats *cs;

    in.p = data;
    in.n = size;
    for (i = 0; i < 8; i++) o[i] = fr_u8(&in);
    memset(&st, 0, sizeof st);
    memset(&al, 0, sizeof al);
    memset(&cfg, 0, sizeof cfg);
    cfg.allocator.alloc = fr_malloc;
    cfg.allocator.realloc = fr_realloc;
    cfg.allocator.free = fr_free;
    cfg.allocator.user = &al;
    path = (o[7] >> 4) & 3;
    if (path != 2) { /* pull mode takes no callbacks */
        cfg.callbacks.on_open = fr_on_open;
        cfg.callbacks.on_data = fr_on_data;
        cfg.callbacks.on_gap = fr_on_gap;
        cfg.callbacks.on_close = fr_on_close;
    }
    cfg.user = &st;
    cfg.overlap = (o[0] & 1) ? TCPS_OVERLAP_LAST : TCPS_OVERLAP_FIRST;
    if (o[0] & 2) cfg.flags |= TCPS_F_PORT_HEURISTIC;
    if (o[0] & 4) cfg.flags |= TCPS_F_SEPARATE_VLANS;
    cfg.max_sessions = 2 + (o[1] & 15);
    if (o[1] & 0x80) cfg.max_sessions = 0; /* default */
    cfg.max_buffer_dir = (o[2] == 0xff) ? 0 : 64 + (size_t)o[2] * 16;
    cfg.max_buffer_total = (o[3] == 0xff) ? 0 : 64 + (size_t)o[3] * 32;
    cfg.idle_timeout_ms = (uint32_t)(o[4] & 0x7f) * 50u;
    cfg.linger_ms = (uint32_t)o[5] * 20u;
    al.fail_at = o[6] ? (unsigned long)o[6] * 3u : 0;
    al.fail_every = o[7] & 0x0f;

    rc = tcps_create(&ctx, &cfg);
    if (rc != TCPS_OK) {
        if (rc != TCPS_E_NOMEM || !al.failed) fr_fail("tcps_create", (unsigned long long)-rc, 0);
        if (al.live) fr_fail("leak after a failed tcps_create", al.live, 0);
        return 0;
    }
    tcps_config_effective(ctx, &cfg);
    st.max_dir = cfg.max_buffer_dir;
    st.max_total = cfg.max_buffer_total;
    st.ctx = ctx;
    memset(cursor, 0, sizeof cursor);
    if (path >= 2) { /* pcap header: little endian, microseconds, Ethernet */
        fr_le32(&capture, 0xa1b2c3d4u);
        fr_le32(&capture, 0x00040002u);
        fr_le32(&capture, 0);
        fr_le32(&capture, 0);
        fr_le32(&capture, 262144);
        fr_le32(&capture, 1);
    }

    while (in.n >= 6 && nseg < FR_MAX_SEGS) {
        uint8_t r0 = fr_u8(&in), r1 = fr_u8(&in), r2 = fr_u8(&in), r3 = fr_u8(&in), r4 = fr_u8(&in),
                r5 = fr_u8(&in);
        int src = (r0 & 7) % FR_NEP, dst = ((r0 >> 3) & 7) % FR_NEP;
        tcps_segment g;
        uint32_t len = (r5 & 0x80) ? (uint32_t)r4 * 8u : r4, caplen, j, end;
        uint8_t sip, dip;
        if (dst == src) dst = (dst + 1) % FR_NEP;
        memset(&g, 0, sizeof g);
        fr_endpoint(src, g.src, &g.sport, &sip);
        fr_endpoint(dst, g.dst, &g.dport, &dip);
        if (sip != dip) { /* one IP version per segment: use the IPv4 twin */
            if (sip == 6) fr_endpoint(src - 4, g.src, &g.sport, &sip);
            else fr_endpoint(dst - 4, g.dst, &g.dport, &dip);
            if (memcmp(g.src, g.dst, 16) == 0 && g.sport == g.dport) g.dport++;
        }
        g.ip_version = sip;
        g.flags = r1;
        g.seq = (r0 & 0x40) ? fr_u32(&in) : cursor[src][dst] + (uint32_t)(int32_t)(int8_t)r2;
        g.ack = (r0 & 0x80) ? fr_u32(&in) : cursor[dst][src] + (uint32_t)(int32_t)(int8_t)r3;
        caplen = len;
        if (len & 1) {
            uint8_t cut = fr_u8(&in);
            caplen = cut >= len ? 0 : len - cut;
        }
        if ((o[0] & 4) && (r5 & 0x40)) {
            g.vlan_count = 1;
            g.vlan[0] = (uint16_t)(r3 & 3);
        }
        ms += (r5 & 0x40) ? (int64_t)(r5 & 0x3f) * 100 : (int64_t)(r5 & 0x3f);
        g.ts.sec = 1000 + ms / 1000;
        g.ts.nsec = (uint32_t)(ms % 1000) * 1000000u;
        g.frame = (uint64_t)++nseg;
        g.window = 1024;
        g.hdr_len = 20;
        if (caplen > pcap) {
            uint8_t *np = (uint8_t *)realloc(payload, caplen);
            if (!np) break;
            payload = np;
            pcap = caplen;
        }
        for (j = 0; j < caplen; j++) payload[j] = (uint8_t)((g.seq + j) * 131u ^ r0);
        g.payload.ptr = caplen ? payload : NULL;
        g.payload.len = caplen;
        g.payload_len = len;
        end = g.seq + len + ((g.flags & TCPS_TH_SYN) ? 1u : 0u) + ((g.flags & TCPS_TH_FIN) ? 1u : 0u);
        if ((int32_t)(end - cursor[src][dst]) > 0 || (g.flags & TCPS_TH_SYN)) cursor[src][dst] = end;

        if (path >= 1) {
            size_t hl = fr_headers(&g, hdr);
            frame.n = 0;
            fr_put(&frame, hdr, hl);
            fr_put(&frame, g.payload.ptr, caplen);
            if (path >= 2) {
                fr_le32(&capture, (uint32_t)g.ts.sec);
                fr_le32(&capture, g.ts.nsec / 1000u);
                fr_le32(&capture, (uint32_t)frame.n);
                fr_le32(&capture, (uint32_t)(hl + len));
                fr_put(&capture, frame.p, frame.n);
                continue;
            }
            rc = tcps_feed_frame(ctx, TCPS_LINKTYPE_ETHERNET, g.ts, frame.p, frame.n, hl + len);
        } else {
            rc = tcps_feed_segment(ctx, &g);
        }
        if (rc != TCPS_OK && !(rc == TCPS_E_NOMEM && al.failed)) fr_fail("tcps_feed_segment", (unsigned long long)-rc, g.frame);
        cs = tcps_ctx_stats(ctx);
        if (cs->buffered > st.max_total) fr_fail("stats.buffered over max_buffer_total", cs->buffered, st.max_total);
        if (cs->sessions_live > cfg.max_sessions) fr_fail("sessions_live over max_sessions", cs->sessions_live, cfg.max_sessions);
        if (cs->sessions != (uint64_t)st.n) fr_fail("stats.sessions != OPEN events", cs->sessions, (unsigned long long)st.n);
        if (cs->sessions_live != (uint64_t)st.n - st.closes) fr_fail("sessions_live != OPEN - CLOSE", cs->sessions_live, (unsigned long long)st.n - st.closes);
    }
    if (path >= 2) {
        tcps_reader_config rcfg;
        tcps_reader *rd = NULL;
        memset(&rcfg, 0, sizeof rcfg);
        rcfg.allocator = cfg.allocator;
        rc = tcps_reader_open_memory(&rd, capture.p, capture.n, &rcfg);
        if (rc != TCPS_OK) {
            if (rc != TCPS_E_NOMEM || !al.failed) fr_fail("tcps_reader_open_memory", (unsigned long long)-rc, 0);
            rc = tcps_finish(ctx);
        } else if (path == 3) {
            rc = tcps_run(ctx, rd);
            if (rc == TCPS_E_NOMEM && al.failed) rc = tcps_finish(ctx); /* run stops at the error */
        } else {
            tcps_event ev;
            for (;;) {
                rc = tcps_next(ctx, rd, &ev);
                if (rc == TCPS_E_NOMEM && al.failed) {
                    /* an event that could not be queued is lost (the error
                       says so): the rest is drained unchecked */
                    lenient = 1;
                    continue;
                }
                if (rc != TCPS_OK) break;
                if (lenient) continue;
                switch (ev.type) {
                case TCPS_EV_OPEN: fr_on_open(&ev, &st); break;
                case TCPS_EV_DATA: fr_on_data(&ev, &st); break;
                case TCPS_EV_GAP: fr_on_gap(&ev, &st); break;
                case TCPS_EV_CLOSE: fr_on_close(&ev, &st); break;
                default: fr_fail("tcps_next: unknown event type", (unsigned long long)ev.type, 0);
                }
            }
            if (rc == TCPS_DONE) {
                if (tcps_next(ctx, rd, &ev) != TCPS_DONE) fr_fail("tcps_next after DONE is not DONE", 0, 0);
                rc = TCPS_OK;
            }
        }
        if (rd) tcps_reader_close(rd);
    } else {
        rc = tcps_finish(ctx);
    }
    if (rc != TCPS_OK && !(rc == TCPS_E_NOMEM && al.failed)) fr_fail("tcps_finish", (unsigned long long)-rc, 0);
    cs = tcps_ctx_stats(ctx);
    if (cs->sessions_live != 0) fr_fail("sessions left after tcps_finish", cs->sessions_live, 0);
    if (cs->buffered != 0) fr_fail("bytes left buffered after tcps_finish", cs->buffered, 0);
    if (lenient) goto done;
    if (st.closes != (uint64_t)st.n) fr_fail("OPEN without CLOSE", (unsigned long long)st.n, st.closes);
    if (cs->bytes != st.bytes) fr_fail("stats.bytes != DATA events", cs->bytes, st.bytes);
    if (cs->missing != st.missing) fr_fail("stats.missing != GAP events", cs->missing, st.missing);
    if (cs->closed_fin + cs->closed_rst + cs->closed_timeout + cs->closed_eof + cs->closed_evicted + cs->closed_reused !=
        st.closes)
        fr_fail("closed_* counters != CLOSE events", st.closes, 0);
    if (acct_ctx(cs, UINT64_MAX) != NULL) fr_fail(acct_ctx(cs, UINT64_MAX), cs->segments, cs->session_segments);
done:
    tcps_destroy(ctx);
    free(payload);
    free(frame.p);
    free(capture.p);
    if (al.live) fr_fail("memory not freed by tcps_destroy", al.live, 0);
    return 0;
}
