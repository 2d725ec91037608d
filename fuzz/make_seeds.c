/* make_seeds - write the seed inputs of every fuzz harness.

       build/fuzz/make_seeds DIR      (make fuzz-corpus)

   DIR/<harness>/ gets small valid inputs in that harness's layout (option
   bytes first; see the comment at the top of each fuzz/fuzz_*.c):
     reader      pcap (both byte orders, micro/nanoseconds, versions 2.2 and
                 2.4, FCS bits, cut snaplen) and snoop captures
     pcapng      sections in both byte orders, several interfaces with
                 if_tsresol/if_tsoffset/if_fcslen, EPB/SPB/PB, NRB, ISB,
                 custom blocks, a second section
     decoder     one frame of each link type, VLAN/QinQ/MPLS/PPPoE, IPv4
                 options, IPv6 extension headers, TCP options, IP-in-IP,
                 GRE, UDP tunnels, fragments
     defrag      IPv4 and IPv6 fragment sequences: in order, reversed,
                 overlapping, never completed
     reassembly  segment records: handshakes, data, out of order, overlaps,
                 FIN/RST, several sessions
     diff        the reference model's record format (fuzz/refmodel.h), and
                 "SESS" inputs: long traffic on reused 4-tuples (fuzz/sessmodel.h)
     http_js     HTTP/1.x sessions: JavaScript responses (length, chunked,
                 gzip, deflate), HTML with scripts, HEAD, 1xx, 204, 304
   Captures and frames are built with tests/capwriter.h and tests/pktbuild.h. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "capwriter.h"
#include "pktbuild.h"

#define LT_NULL 0
#define LT_ETH 1
#define LT_PPP 9
#define LT_RAW 101
#define LT_CHDLC 104
#define LT_LOOP 108
#define LT_SLL 113
#define LT_IPV4 228
#define LT_IPV6 229
#define LT_SLL2 276

/* ---- output */
static const char *outdir;
static int nwritten;

static void emit2(const char *harness, const char *name, const void *a, size_t an, const void *b, size_t bn) {
    char path[1024];
    FILE *fp;
    snprintf(path, sizeof path, "%s/%s", outdir, harness);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", outdir, harness, name);
    fp = fopen(path, "wb");
    if (!fp || (an && fwrite(a, 1, an, fp) != an) || (bn && fwrite(b, 1, bn, fp) != bn) || fclose(fp) != 0) {
        perror(path);
        exit(1);
    }
    nwritten++;
}

/* ---- frames */
static pb_buf *pbs[4]; /* large (140 KB each): allocated once */

typedef struct tcpspec {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t flags;
    int options; /* MSS, SACK-permitted, timestamps, window scale */
    const char *payload;
} tcpspec;

static const uint8_t syn_opts[20] = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};

/* TCP + IP (v4 or v6) into b, client 192.0.2.1 / 2001:db8::1 */
static void ip_tcp(pb_buf *b, int ipv, const tcpspec *s, int reverse) {
    pb_tcp_hdr t = pb_tcp_default(s->sport, s->dport);
    pb_ip_hdr ip = ipv == 6 ? (reverse ? pb_ip6("2001:db8::2", "2001:db8::1") : pb_ip6("2001:db8::1", "2001:db8::2"))
                            : (reverse ? pb_ip4("198.51.100.7", "192.0.2.1") : pb_ip4("192.0.2.1", "198.51.100.7"));
    t.seq = s->seq;
    t.ack = s->ack;
    t.flags = s->flags;
    if (s->options) {
        t.opts = syn_opts;
        t.optlen = sizeof syn_opts;
    }
    pb_init(b);
    if (s->payload) pb_append(b, s->payload, strlen(s->payload));
    pb_tcp(b, &t);
    ip.frag = 0x4000;
    if (ipv == 6) pb_ipv6(b, &ip, PB_TCP);
    else pb_ipv4(b, &ip, PB_TCP);
}

static void link_hdr(pb_buf *b, int link, int ipv, int vlan) {
    uint16_t et = ipv == 6 ? PB_ETH_IPV6 : PB_ETH_IPV4;
    switch (link) {
    case LT_ETH:
        if (vlan) {
            pb_vlan(b, 42, et);
            pb_ether(b, PB_ETH_VLAN);
        } else {
            pb_ether(b, et);
        }
        break;
    case LT_SLL: pb_sll(b, et); break;
    case LT_SLL2: pb_sll2(b, et); break;
    case LT_NULL: pb_null(b, ipv == 6 ? 30 : 2, 0); break;
    case LT_LOOP: pb_null(b, ipv == 6 ? 30 : 2, 1); break;
    default: break;
    }
}

/* The frames of one short TCP session, handshake to close, as a list of
   byte strings. */
typedef struct frames {
    uint8_t *f[12];
    size_t n[12];
    int count;
} frames;

static void frames_add(frames *fs, const pb_buf *b) {
    fs->n[fs->count] = pb_len(b);
    fs->f[fs->count] = (uint8_t *)malloc(pb_len(b));
    if (!fs->f[fs->count]) abort();
    memcpy(fs->f[fs->count], pb_data(b), pb_len(b));
    fs->count++;
}

static void frames_free(frames *fs) {
    int i;
    for (i = 0; i < fs->count; i++) free(fs->f[i]);
    fs->count = 0;
}

static const tcpspec steps[] = {
    {40000, 80, 1000, 0, 0x02, 1, NULL},
    {80, 40000, 5000, 1001, 0x12, 1, NULL},
    {40000, 80, 1001, 5001, 0x10, 0, NULL},
    {40000, 80, 1001, 5001, 0x18, 0, "GET /seed HTTP/1.1\r\nHost: example\r\n\r\n"},
    {80, 40000, 5001, 1038, 0x18, 0, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nseed"},
    {40000, 80, 1038, 5043, 0x11, 0, NULL},
    {80, 40000, 5043, 1039, 0x11, 0, NULL},
    {40000, 80, 1039, 5044, 0x10, 0, NULL},
};
#define NSTEPS ((int)(sizeof steps / sizeof steps[0]))

static void session(frames *fs, int link, int ipv, int vlan, int fragment) {
    int i;
    memset(fs, 0, sizeof *fs);
    for (i = 0; i < NSTEPS; i++) {
        pb_buf *b = pbs[0];
        ip_tcp(b, ipv, &steps[i], steps[i].sport == 80);
        if (fragment && i == 3 && ipv == 4) {
            /* the request in two fragments: 24 bytes, then the rest */
            int part;
            uint8_t *dg = b->mem + b->start;
            dg[6] = 0; /* no DF */
            for (part = 0; part < 2; part++) {
                size_t len = pb_len(b) - 20;
                if (part) pb_frag4(pbs[1], dg, 24, len - 24, 0);
                else pb_frag4(pbs[1], dg, 0, 24, 1);
                link_hdr(pbs[1], link, 4, vlan);
                frames_add(fs, pbs[1]);
            }
            continue;
        }
        link_hdr(b, link, ipv, vlan);
        frames_add(fs, b);
    }
}

/* ---- captures */
static void pcap_capture(capw_buf *c, int be, int nsec, uint16_t minor, uint32_t lt, const frames *fs,
                         uint32_t snaplen) {
    int i;
    capw_pcap_header_ex(c, be, nsec, 2, minor, snaplen, lt);
    for (i = 0; i < fs->count; i++) {
        uint32_t cl = (uint32_t)fs->n[i] < snaplen ? (uint32_t)fs->n[i] : snaplen;
        capw_pcap_record(c, 1700000000u + (uint32_t)i, nsec ? 123456789u : 123456u, fs->f[i], cl,
                         (uint32_t)fs->n[i]);
    }
}

/* Sun snoop (RFC 1761): big endian, records padded to 4 bytes */
static void snoop_capture(capw_buf *c, uint32_t datalink, const frames *fs) {
    int i;
    capw_init(c);
    c->big_endian = 1;
    capw_bytes(c, "snoop\0\0\0", 8);
    capw_u32(c, 2);
    capw_u32(c, datalink);
    for (i = 0; i < fs->count; i++) {
        uint32_t n = (uint32_t)fs->n[i], pad = (4 - n % 4) % 4;
        capw_u32(c, n);
        capw_u32(c, n);
        capw_u32(c, 24 + n + pad);
        capw_u32(c, 0);
        capw_u32(c, 1700000000u + (uint32_t)i);
        capw_u32(c, 250000);
        capw_bytes(c, fs->f[i], n);
        capw_bytes(c, NULL, pad);
    }
}

/* ---- reader and pcapng harnesses: 7 option bytes (reader_harness.h) */
static const uint8_t reader_opts[][7] = {
    {0x00, 0, 0x00, 0, 0, 0, 0},    /* memory */
    {0x01, 0, 0x00, 0, 6, 63, 255}, /* callback: 1/7/64/256-byte reads */
    {0x02, 0, 0x00, 0, 0, 0, 0},    /* FILE* */
    {0x21, 0, 0x01, 2, 2, 2, 2},    /* callback, decode, checksums verified */
    {0x81, 0, 0x14, 9, 200, 1, 31}, /* small limits: max_record 256, 2 interfaces */
    {0x60, 4, 0x20, 0, 0, 0, 0},    /* decode; allocation 4 fails, then every 2nd */
};
#define NREADER_OPTS (sizeof reader_opts / sizeof reader_opts[0])

static void reader_seed(const char *harness, const char *name, const capw_buf *cap, unsigned magic_sel,
                        size_t magic_len) {
    size_t i;
    char file[256];
    for (i = 0; i < NREADER_OPTS; i++) {
        snprintf(file, sizeof file, "%s-%zu", name, i);
        emit2(harness, file, reader_opts[i], 7, cap->data, cap->len);
    }
    if (magic_sel && cap->len >= magic_len) { /* the magic left to the harness */
        uint8_t o[7];
        for (i = 0; i < 2; i++) {
            memcpy(o, reader_opts[i], 7);
            o[0] = (uint8_t)(o[0] | magic_sel << 2);
            snprintf(file, sizeof file, "%s-m%zu", name, i);
            emit2(harness, file, o, 7, cap->data + magic_len, cap->len - magic_len);
        }
    }
}

static void reader_seeds(void) {
    static const struct {
        const char *name;
        int link, ipv, vlan, frag, be, nsec;
    } pc[] = {
        {"pcap-eth-v4", LT_ETH, 4, 0, 0, 0, 0},    {"pcap-be-ns-eth-v6", LT_ETH, 6, 0, 0, 1, 1},
        {"pcap-vlan-v4", LT_ETH, 4, 1, 0, 0, 0},   {"pcap-sll-v6", LT_SLL, 6, 0, 0, 0, 1},
        {"pcap-raw-v4-frag", LT_RAW, 4, 0, 1, 1, 0}, {"pcap-null-v4", LT_NULL, 4, 0, 0, 0, 0},
        {"pcap-sll2-v4", LT_SLL2, 4, 0, 0, 1, 0},  {"pcap-loop-v6", LT_LOOP, 6, 0, 0, 0, 0},
    };
    size_t i;
    for (i = 0; i < sizeof pc / sizeof pc[0]; i++) {
        frames fs;
        capw_buf cap;
        unsigned sel = pc[i].nsec ? (pc[i].be ? 4u : 3u) : (pc[i].be ? 2u : 1u);
        capw_init(&cap);
        session(&fs, pc[i].link, pc[i].ipv, pc[i].vlan, pc[i].frag);
        pcap_capture(&cap, pc[i].be, pc[i].nsec, 4, (uint32_t)pc[i].link, &fs, 65535);
        reader_seed("reader", pc[i].name, &cap, sel, 4);
        if (i == 0) {
            capw_free(&cap);
            pcap_capture(&cap, 0, 0, 4, LT_ETH, &fs, 60); /* the snaplen cuts payloads */
            reader_seed("reader", "pcap-eth-v4-snap60", &cap, 1, 4);
            capw_free(&cap);
            pcap_capture(&cap, 1, 0, 2, LT_ETH, &fs, 65535); /* 2.2: lengths swapped */
            reader_seed("reader", "pcap-v22", &cap, 2, 4);
            capw_free(&cap);
            pcap_capture(&cap, 0, 1, 4, LT_ETH | CAPW_PCAP_FCS(2), &fs, 65535); /* FCS bits */
            reader_seed("reader", "pcap-fcs", &cap, 3, 4);
            capw_free(&cap);
            snoop_capture(&cap, 4, &fs);
            reader_seed("reader", "snoop-eth", &cap, 5, 8);
            capw_free(&cap);
            snoop_capture(&cap, 2, &fs); /* a snoop link type without a decoder */
            reader_seed("reader", "snoop-other", &cap, 5, 8);
        }
        capw_free(&cap);
        frames_free(&fs);
    }
    {
        capw_buf cap;
        frames none;
        memset(&none, 0, sizeof none);
        capw_init(&cap);
        pcap_capture(&cap, 0, 0, 4, LT_ETH, &none, 65535);
        reader_seed("reader", "pcap-empty", &cap, 1, 4);
        capw_free(&cap);
    }
}

static void pcapng_seeds(void) {
    int be;
    for (be = 0; be < 2; be++) {
        frames a, b6;
        capw_buf cap;
        capw_opts o;
        int i;
        static const uint8_t nrb_addr[4] = {192, 0, 2, 1};
        capw_init(&cap);
        session(&a, LT_ETH, 4, 0, 0);
        session(&b6, LT_RAW, 6, 0, 0);
        capw_opts_init(&o, be);
        capw_opt(&o, 3, "make_seeds", 10); /* shb_userappl */
        capw_opts_end(&o);
        capw_ng_shb_ex(&cap, be, 1, 0, &o);
        capw_opts_free(&o);
        capw_ng_idb(&cap, LT_ETH, 65535, NULL);
        capw_opts_init(&o, be);
        capw_opt_u8(&o, CAPW_IF_TSRESOL, 9);
        capw_opt_u64(&o, CAPW_IF_TSOFFSET, 100);
        capw_opts_end(&o);
        capw_ng_idb(&cap, LT_RAW, 262144, &o);
        capw_opts_free(&o);
        capw_opts_init(&o, be);
        capw_opt_u8(&o, CAPW_IF_TSRESOL, 0x94); /* 2^-20 */
        capw_opt_u8(&o, CAPW_IF_FCSLEN, 32);
        capw_opts_end(&o);
        capw_ng_idb(&cap, LT_ETH, 1500, &o);
        capw_opts_free(&o);
        capw_ng_nrb_ipv4(&cap, nrb_addr, "client.example");
        for (i = 0; i < a.count || i < b6.count; i++) {
            if (i < a.count) {
                capw_opts_init(&o, be);
                capw_opt_u32(&o, CAPW_EPB_FLAGS, i & 1 ? CAPW_EPB_FLAGS_FCS(0) | 1 : 2);
                capw_opts_end(&o);
                capw_ng_epb(&cap, 0, 1700000000000000ull + (uint64_t)i * 1000, a.f[i], (uint32_t)a.n[i],
                            (uint32_t)a.n[i], &o);
                capw_opts_free(&o);
            }
            if (i < b6.count)
                capw_ng_epb(&cap, 1, 1700000000000000000ull + (uint64_t)i * 1000, b6.f[i], (uint32_t)b6.n[i],
                            (uint32_t)b6.n[i], NULL);
            if (i == 2) capw_ng_isb(&cap, 0, 1700000000000002ull);
            if (i == 3) capw_ng_custom(&cap, 32473, "custom block", 12);
            if (i == 4) capw_ng_pb(&cap, 2, (uint64_t)1700000000 << 20, a.f[i], (uint32_t)a.n[i],
                                   (uint32_t)a.n[i] + 4, NULL);
        }
        /* a second section: interface ids start again */
        capw_ng_shb(&cap, !be);
        capw_opts_init(&o, !be);
        capw_opt_u8(&o, CAPW_IF_TSRESOL, 6);
        capw_opts_end(&o);
        capw_ng_idb(&cap, LT_ETH, 128, &o);
        capw_opts_free(&o);
        for (i = 0; i < a.count; i++) capw_ng_spb(&cap, (uint32_t)a.n[i], a.f[i], (uint32_t)a.n[i]);
        reader_seed("pcapng", be ? "pcapng-be" : "pcapng-le", &cap, 1, 4);
        capw_free(&cap);
        frames_free(&a);
        frames_free(&b6);
    }
    {
        capw_buf cap;
        uint8_t big[600];
        frames a;
        int i;
        /* only a section header; then a block bigger than a small max_record */
        capw_init(&cap);
        capw_ng_shb(&cap, 0);
        reader_seed("pcapng", "pcapng-shb-only", &cap, 1, 4);
        memset(big, 0x5a, sizeof big);
        capw_ng_idb(&cap, LT_RAW, 0, NULL);
        capw_ng_custom(&cap, 32473, big, sizeof big);
        session(&a, LT_RAW, 4, 0, 1);
        for (i = 0; i < a.count; i++)
            capw_ng_epb(&cap, 0, (uint64_t)i, a.f[i], (uint32_t)a.n[i], (uint32_t)a.n[i], NULL);
        reader_seed("pcapng", "pcapng-big-block", &cap, 1, 4);
        capw_free(&cap);
        frames_free(&a);
    }
}

/* ---- decoder: 4 option bytes (fuzz_decoder.c), then extra packets behind
   2-byte lengths, then the last packet */
static void decoder_seed(const char *name, uint8_t lt_index, uint8_t flags, const pb_buf *b) {
    uint8_t o[4];
    o[0] = lt_index;
    o[1] = flags;
    o[2] = 0;
    o[3] = 0;
    emit2("decoder", name, o, 4, pb_data(b), pb_len(b));
}

/* indexes in fuzz_decoder.c's link type table */
enum { DI_NULL = 0, DI_ETH = 1, DI_PPP = 2, DI_RAW12 = 3, DI_RAW14 = 4, DI_RAW = 5, DI_CHDLC = 6,
       DI_LOOP = 8, DI_SLL = 9, DI_IPV4 = 13, DI_IPV6 = 14, DI_SLL2 = 17 };

static void decoder_seeds(void) {
    static const tcpspec data = {40000, 80, 1001, 5001, 0x18, 0, "GET / HTTP/1.0\r\n\r\n"};
    static const tcpspec syn = {40000, 80, 1000, 0, 0x02, 1, NULL};
    pb_buf *b = pbs[0];
    int ipv;
    for (ipv = 4; ipv <= 6; ipv += 2) {
        char name[64];
        static const struct { int lt; uint8_t idx; const char *n; } links[] = {
            {LT_ETH, DI_ETH, "eth"}, {LT_SLL, DI_SLL, "sll"}, {LT_SLL2, DI_SLL2, "sll2"},
            {LT_NULL, DI_NULL, "null"}, {LT_LOOP, DI_LOOP, "loop"}, {LT_RAW, DI_RAW, "raw"},
        };
        size_t i;
        for (i = 0; i < sizeof links / sizeof links[0]; i++) {
            ip_tcp(b, ipv, i & 1 ? &syn : &data, 0);
            link_hdr(b, links[i].lt, ipv, 0);
            snprintf(name, sizeof name, "%s-v%d", links[i].n, ipv);
            decoder_seed(name, links[i].idx, 0, b);
        }
        ip_tcp(b, ipv, &data, 0);
        snprintf(name, sizeof name, "ipv%d-link-v%d", ipv, ipv);
        decoder_seed(name, ipv == 4 ? DI_IPV4 : DI_IPV6, 0x01, b);
        /* VLAN, QinQ, MPLS, PPPoE, 802.3 SNAP */
        ip_tcp(b, ipv, &data, 0);
        pb_vlan(b, 7, ipv == 6 ? PB_ETH_IPV6 : PB_ETH_IPV4);
        pb_vlan(b, 100, PB_ETH_VLAN);
        pb_ether(b, PB_ETH_QINQ);
        snprintf(name, sizeof name, "qinq-v%d", ipv);
        decoder_seed(name, DI_ETH, 0, b);
        ip_tcp(b, ipv, &data, 0);
        pb_mpls(b, 16, 1);
        pb_mpls(b, 17, 0);
        pb_ether(b, PB_ETH_MPLS);
        snprintf(name, sizeof name, "mpls-v%d", ipv);
        decoder_seed(name, DI_ETH, 0, b);
        ip_tcp(b, ipv, &data, 0);
        pb_pppoe(b, ipv == 6 ? 0x0057 : 0x0021);
        pb_ether(b, PB_ETH_PPPOE);
        snprintf(name, sizeof name, "pppoe-v%d", ipv);
        decoder_seed(name, DI_ETH, 0, b);
        ip_tcp(b, ipv, &data, 0);
        pb_ether_snap(b, ipv == 6 ? PB_ETH_IPV6 : PB_ETH_IPV4);
        snprintf(name, sizeof name, "snap-v%d", ipv);
        decoder_seed(name, DI_ETH, 0, b);
        /* GRE (checksum, key, sequence) over IPv4 */
        {
            pb_ip_hdr o4 = pb_ip4("203.0.113.1", "203.0.113.2");
            ip_tcp(b, ipv, &data, 0);
            pb_gre(b, ipv == 6 ? PB_ETH_IPV6 : PB_ETH_IPV4, 1, 1, 1);
            pb_ipv4(b, &o4, PB_GRE);
            pb_ether(b, PB_ETH_IPV4);
            snprintf(name, sizeof name, "gre-v%d", ipv);
            decoder_seed(name, DI_ETH, 0, b);
            /* IP in IP (4 in 4, 6 in 4) */
            ip_tcp(b, ipv, &data, 0);
            pb_ipv4(b, &o4, ipv == 6 ? 41 : 4);
            snprintf(name, sizeof name, "ipip-v%d", ipv);
            decoder_seed(name, DI_RAW, 0, b);
            /* VXLAN: UDP 4789, 8-byte header, Ethernet */
            ip_tcp(b, ipv, &data, 0);
            pb_ether(b, ipv == 6 ? PB_ETH_IPV6 : PB_ETH_IPV4);
            {
                uint8_t *h = pb_prepend(b, NULL, 8);
                h[0] = 0x08;
                h[6] = 0x12;
            }
            pb_udp(b, 50000, 4789);
            pb_ipv4(b, &o4, PB_UDP);
            pb_ether(b, PB_ETH_IPV4);
            snprintf(name, sizeof name, "vxlan-v%d", ipv);
            decoder_seed(name, DI_ETH, 0, b);
        }
    }
    {   /* IPv4 options; IPv6 extension headers; TCP options of every kind */
        static const uint8_t ipopts[8] = {0x07, 7, 4, 0, 0, 0, 0, 1}; /* record route */
        static const uint8_t topts[40] = {2, 4, 5, 0xb4, 4, 2, 3, 3, 7, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2,
                                          5, 10, 0, 0, 0, 10, 0, 0, 0, 20, 34, 6, 1, 2, 3, 4, 28, 4, 0, 10};
        pb_tcp_hdr t = pb_tcp_default(40000, 80);
        pb_ip_hdr ip = pb_ip4("10.0.0.1", "10.0.0.2");
        pb_ip_hdr ip6 = pb_ip6("2001:db8::1", "2001:db8::2");
        t.opts = topts;
        t.optlen = sizeof topts;
        ip.opts = ipopts;
        ip.optlen = sizeof ipopts;
        pb_init(b);
        pb_append(b, "data", 4);
        pb_tcp(b, &t);
        pb_ipv4(b, &ip, PB_TCP);
        pb_ether(b, PB_ETH_IPV4);
        decoder_seed("ipopts-tcpopts", DI_ETH, 0x01, b);
        pb_init(b);
        pb_append(b, "data", 4);
        pb_tcp(b, &t);
        pb_ip6_ext(b, 60, PB_TCP, 8);
        pb_ip6_ext(b, 43, 60, 8);
        pb_ip6_ext(b, 0, 43, 8);
        pb_ipv6(b, &ip6, 0);
        pb_ether(b, PB_ETH_IPV6);
        decoder_seed("ip6ext-tcpopts", DI_ETH, 0x01, b);
    }
    {   /* two IPv4 fragments: the first behind a 2-byte length, the second last */
        pb_buf *f1 = pbs[1], *f2 = pbs[2];
        static const char payload[] = "a payload long enough to be cut into two IPv4 fragments";
        pb_tcp_hdr t = pb_tcp_default(40000, 80);
        pb_ip_hdr ip = pb_ip4("10.0.0.1", "10.0.0.2");
        uint8_t o[4] = {DI_RAW, 0, 0, 1}, len[2];
        capw_buf out;
        pb_init(b);
        pb_append(b, payload, sizeof payload - 1);
        pb_tcp(b, &t);
        pb_ipv4(b, &ip, PB_TCP);
        pb_frag4(f1, pb_data(b), 0, 32, 1);
        pb_frag4(f2, pb_data(b), 32, pb_len(b) - 20 - 32, 0);
        capw_init(&out);
        capw_bytes(&out, o, 4);
        len[0] = (uint8_t)(pb_len(f1) >> 8);
        len[1] = (uint8_t)pb_len(f1);
        capw_bytes(&out, len, 2);
        capw_bytes(&out, pb_data(f1), pb_len(f1));
        capw_bytes(&out, pb_data(f2), pb_len(f2));
        emit2("decoder", "frag4-two", out.data, out.len, NULL, 0);
        capw_free(&out);
    }
}

/* ---- defrag: 6 option bytes, then 6-byte fragment records (fuzz_defrag.c) */
static void rec(capw_buf *c, unsigned r0, unsigned off8, unsigned len, unsigned r5) {
    uint8_t r[6];
    r[0] = (uint8_t)r0;
    r[1] = (uint8_t)(off8 >> 8);
    r[2] = (uint8_t)off8;
    r[3] = (uint8_t)(len >> 8);
    r[4] = (uint8_t)len;
    r[5] = (uint8_t)r5;
    capw_bytes(c, r, 6);
}

static void defrag_seeds(void) {
    static const uint8_t opts[][6] = {
        {0x00, 0, 0, 0, 0, 0},    /* bare decoder, defaults */
        {0x04, 0, 0, 0, 0, 0},    /* through tcps_feed_frame */
        {0x00, 2, 8, 1, 0, 0},    /* 2 datagrams, 512 bytes, 10 ms */
        {0x10, 0, 0, 0, 0, 0},    /* Ethernet link */
        {0x08, 0, 0, 0, 3, 2},    /* allocation 2 fails, every 3rd after */
    };
    size_t i;
    for (i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        int v;
        for (v = 0; v < 2; v++) {
            char name[64];
            capw_buf c;
            unsigned ver = (unsigned)v; /* r0 bit 0: IPv6 */
            capw_init(&c);
            /* in order: 3 fragments of datagram 0 */
            capw_bytes(&c, opts[i], 6);
            rec(&c, ver | 0x08, 0, 64, 0);
            rec(&c, ver | 0x08 | 0x40, 8, 64, 0);
            rec(&c, ver | 0x40, 16, 30, 0);
            snprintf(name, sizeof name, "inorder-v%d-%zu", v ? 6 : 4, i);
            emit2("defrag", name, c.data, c.len, NULL, 0);
            c.len = 6;
            /* reversed, with an overlap, two datagrams interleaved */
            rec(&c, ver | 0x02, 4, 20, 0);
            rec(&c, ver | 0x08, 2, 24, 0);
            rec(&c, ver | 0x04 | 0x08, 0, 40, 0);
            rec(&c, ver | 0x08, 0, 24, 0);
            rec(&c, ver | 0x02 | 0x08 | 0x40, 0, 32, 0);
            rec(&c, ver | 0x04 | 0x80, 5, 8, 3);
            snprintf(name, sizeof name, "reverse-v%d-%zu", v ? 6 : 4, i);
            emit2("defrag", name, c.data, c.len, NULL, 0);
            c.len = 6;
            /* never completed; then time passes */
            rec(&c, ver | 0x08, 0, 200, 0);
            rec(&c, ver | 0x06 | 0x08, 0, 200, 0);
            rec(&c, ver | 0xc0, 100, 8, 40);
            rec(&c, ver | 0x10 | 0x08, 0, 48, 0);
            rec(&c, ver | 0x10, 6, 8, 0);
            snprintf(name, sizeof name, "incomplete-v%d-%zu", v ? 6 : 4, i);
            emit2("defrag", name, c.data, c.len, NULL, 0);
            capw_free(&c);
        }
    }
}

/* ---- reassembly: 8 option bytes, then 6-byte records (fuzz_reassembly.c) */
static void seg6(capw_buf *c, unsigned src, unsigned dst, unsigned flags, int dseq, int dack, unsigned len,
                 unsigned step) {
    uint8_t r[6];
    r[0] = (uint8_t)((src & 7) | (dst & 7) << 3);
    r[1] = (uint8_t)flags;
    r[2] = (uint8_t)(int8_t)dseq;
    r[3] = (uint8_t)(int8_t)dack;
    r[4] = (uint8_t)len;
    r[5] = (uint8_t)step;
    capw_bytes(c, r, 6);
    if (len & 1) capw_u8(c, 0); /* snaplen cut byte */
}

static void reassembly_seeds(void) {
    static const uint8_t opts[][8] = {
        {0x00, 0x80, 0xff, 0xff, 0, 0, 0, 0},    /* defaults */
        {0x01, 0x02, 4, 8, 0, 5, 0, 0},          /* last wins, 4 sessions, small buffers */
        {0x02, 0x00, 0xff, 0xff, 10, 50, 0, 0},  /* port heuristic, idle timeout */
        {0x00, 0x80, 0xff, 0xff, 0, 0, 7, 3},    /* allocator fails */
        {0x04, 0x80, 0xff, 0xff, 0, 0, 0, 0x10}, /* VLANs apart; tcps_feed_frame */
        {0x00, 0x03, 0x20, 0x40, 0, 0, 0, 0x20}, /* a pcap read in pull mode */
        {0x01, 0x80, 0xff, 0xff, 0, 3, 0, 0x30}, /* a pcap through tcps_run */
    };
    size_t i;
    for (i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        char name[64];
        capw_buf c;
        capw_init(&c);
        capw_bytes(&c, opts[i], 8);
        /* client 1 -> server 0: handshake, data both ways, FINs */
        seg6(&c, 1, 0, 0x02, 0, 0, 0, 1);
        seg6(&c, 0, 1, 0x12, 0, 0, 0, 1);
        seg6(&c, 1, 0, 0x10, 0, 0, 0, 1);
        seg6(&c, 1, 0, 0x18, 0, 0, 40, 1);
        seg6(&c, 0, 1, 0x18, 0, 0, 100, 1);
        seg6(&c, 0, 1, 0x18, 60, 0, 20, 1);   /* a hole of 60 */
        seg6(&c, 0, 1, 0x18, -80, 0, 60, 1);  /* fills it */
        seg6(&c, 1, 0, 0x11, 0, 0, 0, 1);
        seg6(&c, 0, 1, 0x11, 0, 0, 0, 1);
        seg6(&c, 1, 0, 0x10, 0, 0, 0, 1);
        snprintf(name, sizeof name, "session-%zu", i);
        emit2("reassembly", name, c.data, c.len, NULL, 0);
        c.len = 8;
        /* several sessions, out of order, overlaps, a RST, IPv6 */
        seg6(&c, 1, 0, 0x02, 0, 0, 0, 1);
        seg6(&c, 3, 2, 0x18, 0, 0, 30, 1);
        seg6(&c, 4, 5, 0x02, 0, 0, 0, 1);
        seg6(&c, 5, 4, 0x12, 0, 0, 0, 1);
        seg6(&c, 4, 5, 0x18, 20, 0, 10, 2);
        seg6(&c, 4, 5, 0x18, -30, 0, 25, 2);
        seg6(&c, 4, 5, 0x18, -15, 0, 17, 2);
        seg6(&c, 1, 0, 0x18, 1, 0, 33, 0x45);
        seg6(&c, 3, 2, 0x14, 0, 0, 0, 1);
        seg6(&c, 1, 0, 0x02, 90, 0, 0, 0x7f);
        snprintf(name, sizeof name, "many-%zu", i);
        emit2("reassembly", name, c.data, c.len, NULL, 0);
        capw_free(&c);
    }
}

/* ---- diff: refmodel.h's rm_decode_bytes layout */
static void diff_rec(capw_buf *c, unsigned b0, unsigned len, int dseq, int ack) {
    capw_u8(c, (uint8_t)b0);
    capw_u8(c, (uint8_t)len);
    capw_u8(c, (uint8_t)(int8_t)dseq); /* mode 0: int8 delta from the cursor */
    if (b0 & 4) capw_u8(c, (uint8_t)(int8_t)ack);
}

/* ---- diff, "SESS": many connections on reused 4-tuples (sm_decode in
   fuzz/sessmodel.h): seed, connections, hosts/ports, at once, fillers,
   sizes, reordering, ends, loss/ISN modes, reuse during the linger,
   max_sessions, linger, time between packets; then mutations */
static void diff_sessions_seeds(void) {
    static const struct {
        const char *name;
        uint8_t b[17];
        uint8_t mut[9];
        size_t nmut;
    } v[] = {
        /* 961 connections on 64 4-tuples, 1200 open and 160 closed elsewhere */
        {"sessions-table-growth", {0, 0, 0, 1, 40, 0x3f, 47, 60, 40, 0x76, 0x32, 0x52, 0, 128, 0, 0, 12}, {0}, 0},
        /* max_sessions 3 over 12 at once */
        {"sessions-eviction", {0, 0, 0, 2, 12, 0x27, 11, 5, 5, 0x65, 0x11, 0x33, 0, 128, 3, 0, 30}, {0}, 0},
        /* 10 % lost, ISN below the previous end, linger 40 ms */
        {"sessions-loss-short-linger", {0, 0, 0, 3, 20, 0x1f, 31, 10, 10, 0x75, 0x22, 0x8a, 0x8a, 200, 0, 2, 60},
         {0}, 0},
        /* 241 connections and 220 others; a packet dropped, one sent again, a SYN toggled */
        {"sessions-mutated", {0, 0, 0, 1, 10, 0x3f, 47, 10, 5, 0x76, 0x32, 0x52, 0, 128, 0, 0, 12},
         {0x01, 0x00, 0x00, 0x02, 0x00, 0x19, 0x03, 0x00, 0x03}, 9},
    };
    size_t i;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        capw_buf c;
        capw_init(&c);
        capw_bytes(&c, "SESS", 4);
        capw_bytes(&c, v[i].b, sizeof v[i].b);
        if (v[i].nmut) capw_bytes(&c, v[i].mut, v[i].nmut);
        emit2("diff", v[i].name, c.data, c.len, NULL, 0);
        capw_free(&c);
    }
}

static void diff_seeds(void) {
    static const uint8_t opts[] = {0x00, 0x01, 0x06, 0x47};
    size_t i;
    for (i = 0; i < sizeof opts; i++) {
        char name[64];
        capw_buf c;
        capw_init(&c);
        c.big_endian = 1;
        capw_u8(&c, opts[i]);
        capw_u32(&c, i & 1 ? 0xfffffff0u : 1000);
        capw_u32(&c, 5000);
        diff_rec(&c, 0x02, 0, 0, 0);    /* SYN from 0 */
        diff_rec(&c, 0x07, 0, 0, 0);    /* SYN-ACK from 1 */
        diff_rec(&c, 0x04, 30, 0, 0);   /* data from 0 */
        diff_rec(&c, 0x04, 20, 40, 0);  /* beyond a hole */
        diff_rec(&c, 0x04, 50, -60, 0); /* over the hole and more */
        diff_rec(&c, 0x05, 100, 0, 0);  /* data from 1 */
        diff_rec(&c, 0x05, 10, -50, 0); /* retransmission */
        diff_rec(&c, 0x0c, 0, 0, 0);    /* FIN from 0 */
        diff_rec(&c, 0x0d, 0, 0, 0);    /* FIN from 1 */
        snprintf(name, sizeof name, "session-%zu", i);
        emit2("diff", name, c.data, c.len, NULL, 0);
        capw_free(&c);
    }
    diff_sessions_seeds();
}

/* ---- http_js: 7 option bytes (fuzz_http_js.c), the client's bytes, the
   server's */
static void http_seed(const char *name, uint8_t o0, const char *c2s, const void *s2c, size_t s2clen) {
    uint8_t o[7] = {0, 0, 0, 0, 0, 0, 0};
    size_t cl = strlen(c2s);
    capw_buf c;
    o[0] = o0;
    o[1] = (uint8_t)(cl >> 8);
    o[2] = (uint8_t)cl;
    o[3] = 255, o[4] = 3, o[5] = 40, o[6] = 7;
    capw_init(&c);
    capw_bytes(&c, o, 7);
    capw_bytes(&c, c2s, cl);
    capw_bytes(&c, s2c, s2clen);
    emit2("http_js", name, c.data, c.len, NULL, 0);
    capw_free(&c);
}

static size_t zip(const char *text, uint8_t *out, size_t cap, int gzip) {
    z_stream z;
    size_t n;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, gzip ? 31 : 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    z.next_in = (Bytef *)(uintptr_t)text;
    z.avail_in = (uInt)strlen(text);
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    n = cap - z.avail_out;
    deflateEnd(&z);
    return n;
}

static void http_js_seeds(void) {
    static const char js[] = "function f(a){return a+1}\nconsole.log(f(41));\n";
    static const char html[] = "<html><head><script>var a = 1;</script>"
                               "<script type=\"text/javascript\">alert(a)</script>"
                               "<script src=\"x.js\"></script><SCRIPT type=module>import x from './x.js'</SCRIPT>"
                               "<script type=\"text/plain\">not js</script></head></html>";
    char s2c[4096], c2s[1024];
    uint8_t z[512];
    size_t zn, n;
    capw_buf c;

    snprintf(c2s, sizeof c2s, "GET /a.js HTTP/1.1\r\nHost: example\r\n\r\nGET / HTTP/1.1\r\nHost: example\r\n\r\n");
    n = (size_t)snprintf(s2c, sizeof s2c,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nContent-Length: %zu\r\n\r\n%s"
                         "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %zu\r\n\r\n%s",
                         strlen(js), js, strlen(html), html);
    http_seed("length", 0, c2s, s2c, n);
    http_seed("length-stop", 0x04, c2s, s2c, n);
    http_seed("no-requests", 0x01, c2s, s2c, n);

    n = (size_t)snprintf(s2c, sizeof s2c,
                         "HTTP/1.1 100 Continue\r\n\r\n"
                         "HTTP/1.1 200 OK\r\nContent-Type: text/javascript\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "10\r\nfunction g(){}\n;\r\n5;ext=1\r\nvar x\r\n0\r\nTrailer: y\r\n\r\n"
                         "HTTP/1.1 204 No Content\r\n\r\n"
                         "HTTP/1.1 304 Not Modified\r\nContent-Type: text/javascript\r\n\r\n"
                         "HTTP/1.0 200 OK\r\nContent-Type: application/ecmascript\r\n\r\nvar end = 1;");
    snprintf(c2s, sizeof c2s, "POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n"
                              "GET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n");
    http_seed("chunked", 0, c2s, s2c, n);

    /* gzip and deflate bodies, and a HEAD whose response has a length but no body */
    capw_init(&c);
    zn = zip(js, z, sizeof z, 1);
    n = (size_t)snprintf(s2c, sizeof s2c,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nContent-Encoding: gzip\r\n"
                         "Content-Length: %zu\r\n\r\n", zn);
    capw_bytes(&c, s2c, n);
    capw_bytes(&c, z, zn);
    n = (size_t)snprintf(s2c, sizeof s2c,
                         "HTTP/1.1 200 OK\r\nContent-Type: text/javascript\r\nContent-Length: 50\r\n\r\n");
    capw_bytes(&c, s2c, n);
    zn = zip(html, z, sizeof z, 0);
    n = (size_t)snprintf(s2c, sizeof s2c,
                         "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: deflate\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n%zx\r\n", zn);
    capw_bytes(&c, s2c, n);
    capw_bytes(&c, z, zn);
    capw_bytes(&c, "\r\n0\r\n\r\n", 7);
    snprintf(c2s, sizeof c2s, "GET /z.js HTTP/1.1\r\n\r\nHEAD /h.js HTTP/1.1\r\n\r\nGET /i HTTP/1.1\r\n\r\n");
    http_seed("gzip-deflate-head", 0, c2s, c.data, c.len);
    capw_free(&c);

    snprintf(c2s, sizeof c2s, "CONNECT example:443 HTTP/1.1\r\n\r\n");
    n = (size_t)snprintf(s2c, sizeof s2c, "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01");
    http_seed("connect", 0, c2s, s2c, n);
    http_seed("not-http", 0, "", "\x16\x03\x01\x02\x00", 5);
}

int main(int argc, char **argv) {
    int i;
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0777) != 0 && errno != EEXIST) {
        perror(outdir);
        return 1;
    }
    for (i = 0; i < 4; i++) {
        pbs[i] = (pb_buf *)malloc(sizeof *pbs[i]);
        if (!pbs[i]) return perror("malloc"), 1;
    }
    reader_seeds();
    pcapng_seeds();
    decoder_seeds();
    defrag_seeds();
    reassembly_seeds();
    diff_seeds();
    http_js_seeds();
    for (i = 0; i < 4; i++) free(pbs[i]);
    printf("make_seeds: %d seeds in %s\n", nwritten, outdir);
    return 0;
}
