/* fuzz_defrag - libFuzzer harness for IP fragment reassembly, through the
   public API: IPv4 and IPv6 fragments of a few datagrams (any offsets,
   lengths, order, overlaps, conflicting copies, capture time jumps) given
   one packet per call to tcps_decode, or to tcps_feed_frame of a context,
   with fuzzer-chosen limits and timeout.

       make fuzz fuzz-corpus
       build/fuzz/fuzz_defrag -dict=fuzz/defrag.dict build/fuzz/corpus/defrag build/fuzz/seeds/defrag
   A crash file reproduces without libFuzzer:
       build/fuzz/fuzz_defrag-replay crash-<hash>

   Input: 6 option bytes, then 6-byte fragment records.
     byte 0  bit 0 verify checksums, bit 1 no defragmentation, bit 2 feed a
             context (tcps_feed_frame) instead of a bare decoder, bit 3 the
             allocator fails from allocation number byte 5 on (then every
             (byte 4 & 15)-th), bit 4 Ethernet frames (else raw IP), bit 5
             IPv6 fragments carry a hop-by-hop header before the fragment
             header
     byte 1  frag_max_datagrams (0: default)
     byte 2  frag_max_bytes, 64 b (0: default)
     byte 3  frag_timeout_ms, (b & 127) x 10, x 1000 with bit 7 (0: default)
     byte 4, 5  see byte 0
   Record:
     r0  bit 0 IPv6, bits 1-2 datagram (0..3), bit 3 more fragments, bit 4
         conflicting bytes (every byte xor 0x55), bit 5 another source
         address, bits 6-7 capture time step: 0, 1 ms, r5 x 10 ms, r5 s
     r1-r2  fragment offset in 8-byte units (13 bits)
     r3-r4  fragment length in bytes (12 bits)
     r5  see r0
   Datagram k is a TCP segment (ports 40000+k -> 80, a 20-byte header)
   followed by a byte pattern; each fragment carries its slice of it.
   Checked: results; a reassembled segment without conflicting copies in
   the input holds exactly the pattern; held memory stays within
   frag_max_bytes plus the fixed parts; the statistics add up; nothing
   leaks. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "../tests/accounting.h"
#define FZ_NAME "fuzz_defrag"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DG_MAX (8191u * 8u + 4095u) /* largest offset + length a record can give */

/* byte pos of datagram k: a TCP header, then the pattern */
static uint8_t tpl(unsigned k, size_t pos) {
    static const uint8_t tcp[20] = {0x9c, 0x40, 0x00, 0x50, 0, 0, 0x03, 0xe8, 0, 0, 0x13, 0x88,
                                    0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0};
    if (pos < 20) {
        if (pos == 1) return (uint8_t)(0x40 + k);
        if (pos == 5) return (uint8_t)k;
        return tcp[pos];
    }
    return (uint8_t)(pos * 7u + k * 31u + (pos >> 8));
}

static void be16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static unsigned ip_csum(const uint8_t *p, size_t n) {
    uint32_t s = 0;
    size_t i;
    for (i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return ~s & 0xffff;
}

typedef struct df_state {
    uint64_t data_bytes;
    unsigned sum;
} df_state;

static int df_on_data(const tcps_event *ev, void *user) {
    df_state *st = (df_state *)user;
    st->sum += fz_touch(ev->data.ptr, ev->data.len); /* every byte readable */
    st->data_bytes += ev->data.len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_alloc al;
    fz_in in;
    tcps_decoder_config dcfg, eff;
    tcps_config ccfg;
    tcps_decoder *d = NULL;
    tcps_ctx *ctx = NULL;
    df_state st;
    uint8_t o[6], *pkt;
    size_t bound = 0;
    int64_t ms = 0;
    uint64_t frames = 0, tcp = 0;
    int rc, i, conflicts = 0, via_ctx, eth;
    volatile unsigned sink = 0;

    if (size < 6) return 0;
    in.p = data;
    in.n = size;
    for (i = 0; i < 6; i++) o[i] = fz_u8(&in);
    via_ctx = (o[0] & 4) != 0;
    eth = (o[0] & 0x10) != 0;
    fz_alloc_init(&al, (o[0] & 8) ? (long)o[5] : -1, (o[0] & 8) ? (unsigned long)(o[4] & 15) : 0);
    memset(&st, 0, sizeof st);
    memset(&dcfg, 0, sizeof dcfg);
    dcfg.allocator = fz_allocator(&al);
    dcfg.flags = (o[0] & 1 ? TCPS_DECODE_VERIFY_CHECKSUMS : 0) | (o[0] & 2 ? TCPS_DECODE_NO_DEFRAG : 0);
    dcfg.frag_max_datagrams = o[1];
    dcfg.frag_max_bytes = (size_t)o[2] * 64;
    dcfg.frag_timeout_ms = (uint32_t)(o[3] & 0x7f) * ((o[3] & 0x80) ? 1000u : 10u);
    if (via_ctx) {
        memset(&ccfg, 0, sizeof ccfg);
        ccfg.allocator = dcfg.allocator;
        ccfg.callbacks.on_data = df_on_data;
        ccfg.user = &st;
        ccfg.flags = (o[0] & 1 ? TCPS_F_VERIFY_CHECKSUMS : 0) | (o[0] & 2 ? TCPS_F_NO_DEFRAG : 0);
        ccfg.frag_max_datagrams = dcfg.frag_max_datagrams;
        ccfg.frag_max_bytes = dcfg.frag_max_bytes;
        ccfg.frag_timeout_ms = dcfg.frag_timeout_ms;
        rc = tcps_create(&ctx, &ccfg);
    } else {
        rc = tcps_decoder_create(&d, &dcfg);
    }
    if (rc != TCPS_OK) {
        FZ_CHECK(rc == TCPS_E_NOMEM && al.failed, "create failed with valid arguments");
        FZ_CHECK(al.live_blocks == 0, "leak after a failed create");
        return 0;
    }
    if (d) {
        size_t nb = 64;
        tcps_decoder_config_effective(d, &eff);
        FZ_CHECK(!dcfg.frag_max_datagrams || eff.frag_max_datagrams == dcfg.frag_max_datagrams, "frag_max_datagrams");
        FZ_CHECK(!dcfg.frag_max_bytes || eff.frag_max_bytes == dcfg.frag_max_bytes, "frag_max_bytes");
        FZ_CHECK(!dcfg.frag_timeout_ms || eff.frag_timeout_ms == dcfg.frag_timeout_ms, "frag_timeout_ms");
        while (nb < eff.frag_max_datagrams && nb < 65536) nb <<= 1;
        /* what fragments may hold, the hash table, the rebuilt datagrams
           still in use, the decoder itself */
        bound = eff.frag_max_bytes + nb * sizeof(void *) + TCPS__MAX_HELD * (size_t)TCPS__FRAG_MAX_END +
                sizeof(struct tcps_decoder);
    }
    pkt = (uint8_t *)malloc(14 + 48 + 8 + 4096);
    if (!pkt) goto out;

    while (in.n >= 6) {
        uint8_t r0 = fz_u8(&in);
        unsigned off8 = fz_u16(&in) & 0x1fff, len = fz_u16(&in) & 0x0fff, r5 = fz_u8(&in);
        unsigned k = (r0 >> 1) & 3, v6 = r0 & 1, more = (r0 >> 3) & 1, j;
        size_t off = (size_t)off8 * 8, n = 0, ipstart;
        uint8_t *payload, *copy;
        tcps_packet p;
        tcps_segment seg;

        if (r0 & 0x10) conflicts = 1;
        switch (r0 >> 6) {
        case 1: ms += 1; break;
        case 2: ms += (int64_t)r5 * 10; break;
        case 3: ms += (int64_t)r5 * 1000; break;
        default: break;
        }
        if (eth) {
            memset(pkt, 0, 12);
            pkt[0] = 2, pkt[11] = 1;
            be16(pkt + 12, v6 ? 0x86dd : 0x0800);
            n = 14;
        }
        ipstart = n;
        if (!v6) {
            uint8_t *h = pkt + n;
            memset(h, 0, 20);
            h[0] = 0x45;
            be16(h + 2, 20 + len);
            be16(h + 4, 0x4000 + k);
            be16(h + 6, (more ? 0x2000u : 0u) | off8);
            h[8] = 64;
            h[9] = 6;
            h[12] = 10, h[15] = (r0 & 0x20) ? 3 : 1;
            h[16] = 10, h[19] = 2;
            be16(h + 10, ip_csum(h, 20));
            n += 20;
        } else {
            uint8_t *h = pkt + n;
            int hbh = (o[0] & 0x20) != 0;
            memset(h, 0, 40 + (hbh ? 8 : 0) + 8);
            h[0] = 0x60;
            be16(h + 4, (hbh ? 8u : 0u) + 8u + len);
            h[6] = hbh ? 0 : 44;
            h[7] = 64;
            h[8] = 0x20, h[9] = 0x01, h[10] = 0x0d, h[11] = 0xb8, h[23] = (r0 & 0x20) ? 3 : 1;
            h[24] = 0x20, h[25] = 0x01, h[26] = 0x0d, h[27] = 0xb8, h[39] = 2;
            n += 40;
            if (hbh) { /* hop-by-hop: next fragment, 8 bytes, PadN */
                pkt[n] = 44;
                pkt[n + 2] = 1;
                pkt[n + 3] = 4;
                n += 8;
            }
            pkt[n] = 6;
            be16(pkt + n + 2, (unsigned)(off8 << 3) | more);
            pkt[n + 4] = 0, pkt[n + 5] = 0, pkt[n + 6] = 0x40, pkt[n + 7] = (uint8_t)k;
            n += 8;
        }
        payload = pkt + n;
        for (j = 0; j < len; j++) payload[j] = (uint8_t)(tpl(k, off + j) ^ ((r0 & 0x10) ? 0x55 : 0));
        n += len;
        (void)ipstart;

        /* an exactly sized copy, so reads past the packet fault */
        copy = (uint8_t *)malloc(n);
        if (!copy) break;
        memcpy(copy, pkt, n);
        frames++;
        if (ctx) {
            tcps_time ts;
            ts.sec = 1700000000 + ms / 1000;
            ts.nsec = (uint32_t)(ms % 1000) * 1000000u;
            rc = tcps_feed_frame(ctx, eth ? TCPS_LINKTYPE_ETHERNET : TCPS_LINKTYPE_RAW, ts, copy, n, n);
            FZ_CHECK(rc == TCPS_OK || (rc == TCPS_E_NOMEM && al.failed), "tcps_feed_frame failed");
            free(copy);
            continue;
        }
        memset(&p, 0, sizeof p);
        p.linktype = eth ? TCPS_LINKTYPE_ETHERNET : TCPS_LINKTYPE_RAW;
        p.frame = frames;
        p.ts.sec = 1700000000 + ms / 1000;
        p.ts.nsec = (uint32_t)(ms % 1000) * 1000000u;
        p.data.ptr = copy;
        p.data.len = n;
        p.origlen = (uint32_t)n;
        p.fcs_len = -1;
        rc = tcps_decode(d, &p, &seg);
        FZ_CHECK(rc == 0 || rc == 1 || (rc == TCPS_E_NOMEM && al.failed), "tcps_decode result");
        if (rc == 1) {
            tcp++;
            FZ_CHECK(seg.payload.len <= seg.payload_len, "captured payload longer than on the wire");
            sink += fz_touch(seg.payload.ptr, seg.payload.len);
            if (dcfg.flags & TCPS_DECODE_NO_DEFRAG) FZ_CHECK(!seg.fragmented, "rebuilt with NO_DEFRAG");
            if (seg.fragmented && !conflicts && seg.hdr_len == 20 && seg.sport >= 40000 && seg.sport < 40004) {
                unsigned kk = seg.sport - 40000u;
                size_t x;
                for (x = 0; x < seg.payload.len; x++)
                    FZ_CHECK(seg.payload.ptr[x] == tpl(kk, 20 + x), "a rebuilt datagram differs from what was sent");
            }
        }
        FZ_CHECK(al.live_bytes <= bound, "the decoder holds more than frag_max_bytes and its fixed parts");
        free(copy);
    }
    free(pkt);

    if (d) {
        const tcps_decode_stats *s = tcps_decoder_stats(d);
        FZ_CHECK(s->packets == frames, "stats.packets differs from the packets decoded");
        FZ_CHECK(s->tcp == tcp, "stats.tcp differs from the segments returned");
        FZ_CHECK(acct_decoder(s) == NULL, "the decoder's counters do not account for every packet");
        FZ_CHECK(s->reassembled <= s->fragments, "more datagrams rebuilt than fragments seen");
        if (dcfg.flags & TCPS_DECODE_NO_DEFRAG) FZ_CHECK(s->reassembled == 0, "rebuilt with NO_DEFRAG");
    } else {
        const tcps_stats *s;
        rc = tcps_finish(ctx);
        FZ_CHECK(rc == TCPS_OK || (rc == TCPS_E_NOMEM && al.failed), "tcps_finish failed");
        s = tcps_ctx_stats(ctx);
        FZ_CHECK(s->sessions_live == 0 && s->buffered == 0, "state left after tcps_finish");
        FZ_CHECK(s->packets == frames, "stats.packets differs from the frames fed");
        FZ_CHECK(acct_ctx(s, 0) == NULL, "the counters do not account for every packet and segment");
        FZ_CHECK(s->decode && s->decode->reassembled <= s->decode->fragments, "more datagrams rebuilt than fragments");
        FZ_CHECK(s->bytes == st.data_bytes, "stats.bytes differs from the DATA events");
    }
out:
    if (d) tcps_decoder_destroy(d);
    if (ctx) tcps_destroy(ctx);
    FZ_CHECK(al.live_blocks == 0 && al.live_bytes == 0, "memory still allocated after destroy");
    (void)sink;
    return 0;
}
