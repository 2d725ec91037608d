/* fuzz_decoder - libFuzzer harness for the packet decoder (tcps_decode):
   one packet (or a few, so fragments can meet) of a fuzzer-chosen link
   type, through link layers, VLAN/MPLS/PPPoE, IPv4 options and IPv6
   extension headers, IP-in-IP, GRE and UDP tunnels, IP fragments and TCP
   options.

       make fuzz fuzz-corpus
       build/fuzz/fuzz_decoder -dict=fuzz/decoder.dict build/fuzz/corpus/decoder build/fuzz/seeds/decoder
   A crash file reproduces without libFuzzer:
       build/fuzz/fuzz_decoder-replay crash-<hash>

   Input: 4 option bytes, then the packets.
     byte 0  the link type: index into lt_table below (mod its size)
     byte 1  bit 0 TCPS_DECODE_VERIFY_CHECKSUMS, bit 1 TCPS_DECODE_NO_DEFRAG,
             bit 2 TCPS_DECODE_NO_TUNNELS, bit 3 small fragment limits
             (2 datagrams, 2 KiB, 5 ms); bits 4-5 the packet's fcs_len:
             -1, 0, 2, 4; bit 6 the wire length is byte 2 more than the
             captured one (snapshot cut); bit 7 the allocator fails from
             allocation number byte 2 on
     byte 2  see byte 1
     byte 3  bits 0-1: packets before the last one, each behind a 2-byte
             big-endian length (cut to what is left); bits 2-7: capture
             time between packets, in ms (x 100)
     the rest: the packets; the last one takes what remains.
   Checked for each packet: the result is 0 or 1 (TCPS_E_NOMEM only when
   an allocation failed); a segment has IP version 4 or 6, a TCP header of
   20 to 60 bytes in steps of 4, at most TCPS_MAX_SACK SACK blocks and 16
   TFO bytes, the packet's frame and time, no tunnel layer with
   NO_TUNNELS, no reassembly with NO_DEFRAG, no checksum verdict unless
   verification is on (with it, a bad checksum is marked, not dropped: the
   context drops it), a captured payload no longer than the wire one and
   inside the packet unless it was rebuilt from fragments; every payload
   byte is read.  At the end: the stats count every packet and every
   segment returned, and every allocation was freed with its size. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "../tests/accounting.h"
#define FZ_NAME "fuzz_decoder"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t lt_table[] = {
    TCPS_LINKTYPE_NULL,  TCPS_LINKTYPE_ETHERNET, TCPS_LINKTYPE_PPP,     TCPS_LINKTYPE_RAW_OLD1,
    TCPS_LINKTYPE_RAW_OLD2, TCPS_LINKTYPE_RAW,   TCPS_LINKTYPE_CHDLC,   105 /* IEEE 802.11 */,
    TCPS_LINKTYPE_LOOP,  TCPS_LINKTYPE_LINUX_SLL, 127 /* radiotap */,   129 /* ARCnet Linux */,
    178 /* Juniper Ethernet */, TCPS_LINKTYPE_IPV4, TCPS_LINKTYPE_IPV6, 239 /* NFLOG */,
    242 /* IPoIB */,     TCPS_LINKTYPE_LINUX_SLL2, 147 /* USER0: no decoder */, 0x10002u /* a snoop type */
};
#define LT_COUNT (sizeof lt_table / sizeof lt_table[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int32_t fcs[4] = {-1, 0, 2, 4};
    fz_alloc al;
    fz_in in;
    tcps_decoder_config cfg, eff;
    tcps_decoder *d = NULL;
    const tcps_decode_stats *st;
    uint8_t o0, o1, o2, o3;
    uint64_t decoded = 0, tcp = 0, frame = 0;
    int64_t ms = 0;
    volatile unsigned sink = 0;
    int extra, rc, i;

    if (size < 4) return 0;
    in.p = data;
    in.n = size;
    o0 = fz_u8(&in);
    o1 = fz_u8(&in);
    o2 = fz_u8(&in);
    o3 = fz_u8(&in);
    fz_alloc_init(&al, (o1 & 0x80) ? (long)o2 : -1, 0);
    memset(&cfg, 0, sizeof cfg);
    cfg.allocator = fz_allocator(&al);
    cfg.flags = (o1 & 1 ? TCPS_DECODE_VERIFY_CHECKSUMS : 0) | (o1 & 2 ? TCPS_DECODE_NO_DEFRAG : 0) |
                (o1 & 4 ? TCPS_DECODE_NO_TUNNELS : 0);
    if (o1 & 8) {
        cfg.frag_max_datagrams = 2;
        cfg.frag_max_bytes = 2048;
        cfg.frag_timeout_ms = 5;
    }
    rc = tcps_decoder_create(&d, &cfg);
    if (rc != TCPS_OK) {
        FZ_CHECK(rc == TCPS_E_NOMEM && al.failed, "decoder_create failed with valid arguments");
        FZ_CHECK(al.live_blocks == 0, "leak after a failed decoder_create");
        return 0;
    }
    tcps_decoder_config_effective(d, &eff);
    FZ_CHECK(eff.flags == cfg.flags, "effective decoder flags are not the ones set");
    FZ_CHECK(eff.frag_max_datagrams > 0 && eff.frag_max_bytes > 0 && eff.frag_timeout_ms > 0,
             "an effective fragment limit is 0");

    extra = o3 & 3;
    for (i = 0; i <= extra; i++) {
        tcps_packet pkt;
        tcps_segment seg;
        size_t len = in.n;
        uint8_t *copy;
        int got;
        if (i < extra) {
            len = fz_u16(&in);
            if (len > in.n) len = in.n;
        }
        /* an exactly sized copy, so a read past the packet faults */
        copy = (uint8_t *)malloc(len ? len : 1);
        if (!copy) break;
        if (len) memcpy(copy, in.p, len);
        in.p += len;
        in.n -= len;
        memset(&pkt, 0, sizeof pkt);
        memset(&seg, 0xa5, sizeof seg); /* what the decoder leaves alone shows */
        pkt.linktype = lt_table[o0 % LT_COUNT];
        pkt.frame = ++frame;
        pkt.ts.sec = 1700000000 + ms / 1000;
        pkt.ts.nsec = (uint32_t)(ms % 1000) * 1000000u;
        ms += (int64_t)(o3 >> 2) * 100;
        pkt.offset = (uint64_t)(in.p - data);
        pkt.data.ptr = copy;
        pkt.data.len = len;
        pkt.origlen = (uint32_t)len + ((o1 & 0x40) ? o2 : 0u);
        pkt.fcs_len = fcs[(o1 >> 4) & 3];
        got = tcps_decode(d, &pkt, &seg);
        decoded++;
        if (got < 0) {
            FZ_CHECK(got == TCPS_E_NOMEM && al.failed, "tcps_decode failed with something else than NOMEM");
            free(copy);
            continue;
        }
        FZ_CHECK(got == 0 || got == 1, "tcps_decode returned an unknown value");
        if (got == 1) {
            char text[64];
            tcp++;
            FZ_CHECK(seg.ip_version == 4 || seg.ip_version == 6, "segment of an unknown IP version");
            FZ_CHECK(seg.hdr_len >= 20 && seg.hdr_len <= 60 && seg.hdr_len % 4 == 0, "TCP header length");
            FZ_CHECK(seg.opt.sack_count <= TCPS_MAX_SACK, "too many SACK blocks");
            FZ_CHECK(seg.opt.tfo_len <= 16, "TFO cookie too long");
            FZ_CHECK(seg.frame == pkt.frame, "segment frame differs from the packet");
            FZ_CHECK(seg.ts.sec == pkt.ts.sec && seg.ts.nsec == pkt.ts.nsec, "segment time differs from the packet");
            FZ_CHECK(seg.payload.len <= seg.payload_len, "captured payload longer than on the wire");
            FZ_CHECK(seg.fragmented == 0 || seg.fragmented == 1, "fragmented is not 0 or 1");
            if (cfg.flags & TCPS_DECODE_NO_TUNNELS) FZ_CHECK(seg.tunnel_depth == 0, "a tunnel opened with NO_TUNNELS");
            if (cfg.flags & TCPS_DECODE_NO_DEFRAG) FZ_CHECK(!seg.fragmented, "a datagram rebuilt with NO_DEFRAG");
            if (!(cfg.flags & TCPS_DECODE_VERIFY_CHECKSUMS))
                FZ_CHECK(seg.checksum == TCPS_CSUM_UNCHECKED && seg.ip_checksum == TCPS_CSUM_UNCHECKED,
                         "a checksum verdict without verification");
            else
                FZ_CHECK(seg.checksum <= TCPS_CSUM_BAD && seg.ip_checksum <= TCPS_CSUM_BAD,
                         "a checksum verdict out of range");
            if (!seg.fragmented && seg.payload.len)
                FZ_CHECK(seg.payload.ptr >= copy && (size_t)(seg.payload.ptr - copy) <= len - seg.payload.len,
                         "the payload of an unfragmented packet is not inside the packet");
            sink += fz_touch(seg.payload.ptr, seg.payload.len);
            FZ_CHECK(tcps_addr_to_string(seg.src, seg.ip_version, text, sizeof text) != NULL, "addr_to_string");
            FZ_CHECK(tcps_addr_to_string(seg.dst, seg.ip_version, text, sizeof text) != NULL, "addr_to_string");
        }
        free(copy);
    }
    st = tcps_decoder_stats(d);
    FZ_CHECK(st->packets == decoded, "stats.packets differs from the packets decoded");
    FZ_CHECK(st->tcp == tcp, "stats.tcp differs from the segments returned");
    FZ_CHECK(acct_decoder(st) == NULL, "the decoder's counters do not account for every packet");
    FZ_CHECK(st->reassembled <= st->fragments, "more datagrams reassembled than fragments seen");
    FZ_CHECK(st->linktype_count >= 1 && st->linktype_count <= TCPS_STATS_LINKTYPES, "linktype_count");
    for (i = 0; i < TCPS_MALFORMED_COUNT; i++)
        FZ_CHECK(tcps_malformed_name(i) != NULL && tcps_malformed_message(i) != NULL, "malformed name");
    tcps_decoder_destroy(d);
    FZ_CHECK(al.live_blocks == 0 && al.live_bytes == 0, "memory still allocated after destroy");
    (void)sink;
    return 0;
}
