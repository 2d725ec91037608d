/* pktbuild.h - build test frames: link header, VLAN tags, MPLS, PPPoE,
   tunnels, IPv4 (options) / IPv6 (extension headers), TCP (options, payload)
   with correct lengths and checksums, and IP fragments of a datagram.

   Frames are built from the inside out in a pb_buf: the payload first, then
   each header is prepended in front of what is there. Lengths and checksums
   are filled from what follows, so build in this order:

       pb_buf b;
       pb_tcp_hdr t = pb_tcp_default(1234, 80);     (ports; seq, flags... after)
       pb_ip_hdr ip = pb_ip4("10.0.0.1", "10.0.0.2"); (or pb_ip6(...))
       pb_init(&b);
       pb_append(&b, "hello", 5);       payload
       pb_tcp(&b, &t);                  TCP header (checksum filled by the IP header)
       pb_ipv4(&b, &ip, PB_TCP);        IPv4 header; fills the pending TCP checksum
       pb_vlan(&b, 100, PB_ETH_IPV4);   optional tags, innermost first
       pb_ether(&b, PB_ETH_VLAN);       link header
       pb_append_zeros(&b, 4);          optional trailing padding / FCS
       ... use pb_data(&b), pb_len(&b)

   IPv6: prepend extension headers with pb_ip6_ext() (innermost first) before
   pb_ipv6(); each takes the next-header value of what follows it.
   Fragments: pb_frag4() / pb_frag6() cut one fragment out of a complete IP
   datagram (the bytes from its IP header on) into a new pb_buf.

   Everything is static; no globals. Addresses are given as text
   ("10.0.0.1", "2001:db8::1"). Nothing here checks its input: it is for
   tests that know what they build (overflowing PB_CAP asserts). */
#ifndef PKTBUILD_H
#define PKTBUILD_H

#include <arpa/inet.h>
#include <assert.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define PB_FN static __attribute__((unused))
#else
#define PB_FN static
#endif

#define PB_CAP 70000 /* room on each side of the start point */
#define PB_TCP 6
#define PB_UDP 17
#define PB_GRE 47
#define PB_ETH_IPV4 0x0800
#define PB_ETH_IPV6 0x86DD
#define PB_ETH_VLAN 0x8100
#define PB_ETH_QINQ 0x88A8
#define PB_ETH_MPLS 0x8847
#define PB_ETH_PPPOE 0x8864

typedef struct pb_buf {
    uint8_t mem[2 * PB_CAP];
    size_t start, end;
    size_t l4_pos;   /* TCP header waiting for its checksum (0: none) */
    int l4_pending;
} pb_buf;

typedef struct pb_tcp_hdr {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t flags; /* TCPS_TH_* values (9 bits) */
    uint16_t window, urgent;
    const uint8_t *opts; /* raw option bytes; padded with EOL to 4 bytes */
    size_t optlen;
    int bad_checksum;    /* 1: store a wrong checksum */
    int data_offset;     /* 0: computed; else the raw 4-bit value to store */
} pb_tcp_hdr;

typedef struct pb_ip_hdr {
    int version;
    uint8_t src[16], dst[16];
    uint8_t ttl;
    uint16_t id;          /* IPv4 identification */
    uint16_t frag;        /* IPv4 flags+offset field as sent (DF 0x4000) */
    const uint8_t *opts;  /* IPv4 options, a multiple of 4 bytes */
    size_t optlen;
    int total_len;        /* -1: computed; else stored as is (0 for TSO) */
    int bad_checksum;     /* 1: wrong IPv4 header checksum */
} pb_ip_hdr;

PB_FN void pb_init(pb_buf *b) {
    b->start = b->end = PB_CAP;
    b->l4_pos = 0;
    b->l4_pending = 0;
}
PB_FN const uint8_t *pb_data(const pb_buf *b) { return b->mem + b->start; }
PB_FN size_t pb_len(const pb_buf *b) { return b->end - b->start; }

PB_FN uint8_t *pb_prepend(pb_buf *b, const void *p, size_t n) {
    assert(b->start >= n);
    b->start -= n;
    if (p) memcpy(b->mem + b->start, p, n);
    else memset(b->mem + b->start, 0, n);
    return b->mem + b->start;
}
PB_FN uint8_t *pb_append(pb_buf *b, const void *p, size_t n) {
    uint8_t *at = b->mem + b->end;
    assert(sizeof b->mem - b->end >= n);
    if (p) memcpy(at, p, n);
    else memset(at, 0, n);
    b->end += n;
    return at;
}
PB_FN void pb_append_zeros(pb_buf *b, size_t n) { pb_append(b, NULL, n); }

PB_FN void pb_put16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
PB_FN void pb_put32(uint8_t *p, uint32_t v) {
    pb_put16(p, v >> 16);
    pb_put16(p + 2, v & 0xffff);
}

/* Internet checksum helpers */
PB_FN uint32_t pb_sum(uint32_t s, const uint8_t *p, size_t n) {
    size_t i;
    for (i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1) s += (uint32_t)p[n - 1] << 8;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return s;
}
PB_FN uint16_t pb_fold(uint32_t s) { return (uint16_t)~s; }

PB_FN pb_tcp_hdr pb_tcp_default(uint16_t sport, uint16_t dport) {
    pb_tcp_hdr t;
    memset(&t, 0, sizeof t);
    t.sport = sport;
    t.dport = dport;
    t.seq = 1000;
    t.ack = 0;
    t.flags = 0x18; /* PSH ACK */
    t.window = 65535;
    return t;
}

PB_FN void pb_addr(uint8_t *dst, int version, const char *text) {
    memset(dst, 0, 16);
    assert(inet_pton(version == 4 ? AF_INET : AF_INET6, text, dst) == 1);
}

PB_FN pb_ip_hdr pb_ip4(const char *src, const char *dst) {
    pb_ip_hdr h;
    memset(&h, 0, sizeof h);
    h.version = 4;
    pb_addr(h.src, 4, src);
    pb_addr(h.dst, 4, dst);
    h.ttl = 64;
    h.id = 0x1234;
    h.total_len = -1;
    return h;
}
PB_FN pb_ip_hdr pb_ip6(const char *src, const char *dst) {
    pb_ip_hdr h = pb_ip4("0.0.0.0", "0.0.0.0");
    h.version = 6;
    pb_addr(h.src, 6, src);
    pb_addr(h.dst, 6, dst);
    return h;
}

/* TCP header in front of the payload; its checksum is filled by the next
   pb_ipv4/pb_ipv6. */
PB_FN void pb_tcp(pb_buf *b, const pb_tcp_hdr *t) {
    size_t ol = (t->optlen + 3) & ~(size_t)3, hl = 20 + ol;
    uint8_t *h = pb_prepend(b, NULL, hl);
    pb_put16(h, t->sport);
    pb_put16(h + 2, t->dport);
    pb_put32(h + 4, t->seq);
    pb_put32(h + 8, t->ack);
    h[12] = (uint8_t)(((t->data_offset ? (size_t)t->data_offset : hl / 4) << 4) | ((t->flags >> 8) & 1));
    h[13] = (uint8_t)t->flags;
    pb_put16(h + 14, t->window);
    pb_put16(h + 18, t->urgent);
    if (t->optlen) memcpy(h + 20, t->opts, t->optlen);
    b->l4_pos = b->start;
    b->l4_pending = t->bad_checksum ? 2 : 1;
}

PB_FN void pb_fill_tcp_csum(pb_buf *b, const pb_ip_hdr *ip) {
    uint8_t *t = b->mem + b->l4_pos;
    size_t len = b->end - b->l4_pos;
    uint8_t ph[40];
    uint32_t s;
    uint16_t c;
    if (!b->l4_pending) return;
    if (ip->version == 4) {
        memcpy(ph, ip->src, 4);
        memcpy(ph + 4, ip->dst, 4);
        ph[8] = 0;
        ph[9] = PB_TCP;
        pb_put16(ph + 10, (unsigned)len);
        s = pb_sum(0, ph, 12);
    } else {
        memcpy(ph, ip->src, 16);
        memcpy(ph + 16, ip->dst, 16);
        pb_put32(ph + 32, (uint32_t)len);
        ph[36] = ph[37] = ph[38] = 0;
        ph[39] = PB_TCP;
        s = pb_sum(0, ph, 40);
    }
    t[16] = t[17] = 0;
    c = pb_fold(pb_sum(s, t, len));
    if (b->l4_pending == 2) c ^= 0x5555;
    pb_put16(t + 16, c);
    b->l4_pending = 0;
}

/* IPv4 header in front of everything built so far (up to the end: add
   trailing padding after this call). */
PB_FN void pb_ipv4(pb_buf *b, const pb_ip_hdr *ip, uint8_t proto) {
    size_t hl = 20 + ip->optlen, tl;
    uint8_t *h;
    pb_fill_tcp_csum(b, ip);
    h = pb_prepend(b, NULL, hl);
    tl = pb_len(b);
    h[0] = (uint8_t)(0x40 | (hl / 4));
    pb_put16(h + 2, ip->total_len >= 0 ? (unsigned)ip->total_len : (unsigned)tl);
    pb_put16(h + 4, ip->id);
    pb_put16(h + 6, ip->frag);
    h[8] = ip->ttl;
    h[9] = proto;
    memcpy(h + 12, ip->src, 4);
    memcpy(h + 16, ip->dst, 4);
    if (ip->optlen) memcpy(h + 20, ip->opts, ip->optlen);
    pb_put16(h + 10, pb_fold(pb_sum(0, h, hl)) ^ (ip->bad_checksum ? 0x1111 : 0));
}

/* One IPv6 extension header (hop-by-hop 0, routing 43, destination 60:
   len a multiple of 8 >= 8; AH 51: a multiple of 4 >= 8). Its own body is
   zeros (PadN-free padding: Pad1 options) but for the length byte. */
PB_FN void pb_ip6_ext(pb_buf *b, uint8_t type, uint8_t next, size_t len) {
    uint8_t *h = pb_prepend(b, NULL, len);
    h[0] = next;
    h[1] = (uint8_t)(type == 51 ? len / 4 - 2 : len / 8 - 1);
}

PB_FN void pb_ipv6(pb_buf *b, const pb_ip_hdr *ip, uint8_t next) {
    uint8_t *h;
    size_t pl = pb_len(b);
    /* the TCP checksum uses the upper-layer length, not the payload length */
    pb_fill_tcp_csum(b, ip);
    h = pb_prepend(b, NULL, 40);
    h[0] = 0x60;
    pb_put16(h + 4, ip->total_len >= 0 ? (unsigned)ip->total_len : (unsigned)pl);
    h[6] = next;
    h[7] = ip->ttl;
    memcpy(h + 8, ip->src, 16);
    memcpy(h + 24, ip->dst, 16);
}

PB_FN void pb_udp(pb_buf *b, uint16_t sport, uint16_t dport) {
    uint8_t *h = pb_prepend(b, NULL, 8);
    pb_put16(h, sport);
    pb_put16(h + 2, dport);
    pb_put16(h + 4, (unsigned)pb_len(b));
}

/* GRE version 0 with optional checksum/key/sequence (C, K, S). */
PB_FN void pb_gre(pb_buf *b, uint16_t proto, int csum, int key, int seq) {
    size_t hl = 4 + (csum ? 4 : 0) + (key ? 4 : 0) + (seq ? 4 : 0);
    uint8_t *h = pb_prepend(b, NULL, hl);
    pb_put16(h, (unsigned)((csum ? 0x8000 : 0) | (key ? 0x2000 : 0) | (seq ? 0x1000 : 0)));
    pb_put16(h + 2, proto);
    if (csum) pb_put16(h + 4, pb_fold(pb_sum(0, h, pb_len(b))));
}

PB_FN void pb_ether(pb_buf *b, uint16_t type) {
    static const uint8_t macs[14] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0, 0};
    uint8_t *h = pb_prepend(b, macs, 14);
    pb_put16(h + 12, type);
}

/* 802.3 frame with LLC/SNAP (OUI 0) carrying type */
PB_FN void pb_ether_snap(pb_buf *b, uint16_t type) {
    uint8_t snap[8] = {0xaa, 0xaa, 0x03, 0, 0, 0, 0, 0};
    uint8_t *h;
    pb_put16(snap + 6, type);
    pb_prepend(b, snap, 8);
    h = pb_prepend(b, NULL, 14);
    h[0] = 2;
    pb_put16(h + 12, (unsigned)pb_len(b) - 14);
}

/* A VLAN tag: its TCI and the type of what follows (the tag's own TPID is
   the type given to the header in front of it). */
PB_FN void pb_vlan(pb_buf *b, uint16_t vid, uint16_t next_type) {
    uint8_t *h = pb_prepend(b, NULL, 4);
    pb_put16(h, vid & 0x0fff);
    pb_put16(h + 2, next_type);
}

PB_FN void pb_mpls(pb_buf *b, uint32_t label, int bottom) {
    uint8_t *h = pb_prepend(b, NULL, 4);
    pb_put32(h, (label << 12) | (bottom ? 0x100u : 0) | 64u);
}

PB_FN void pb_pppoe(pb_buf *b, uint16_t ppp_proto) {
    uint8_t *h = pb_prepend(b, NULL, 8);
    h[0] = 0x11;
    pb_put16(h + 2, 0x0101);
    pb_put16(h + 4, (unsigned)pb_len(b) - 6);
    pb_put16(h + 6, ppp_proto);
}

/* Linux cooked capture v1 (16 bytes) and v2 (20 bytes) */
PB_FN void pb_sll(pb_buf *b, uint16_t proto) {
    uint8_t *h = pb_prepend(b, NULL, 16);
    pb_put16(h + 2, 1);
    pb_put16(h + 4, 6);
    pb_put16(h + 14, proto);
}
PB_FN void pb_sll2(pb_buf *b, uint16_t proto) {
    uint8_t *h = pb_prepend(b, NULL, 20);
    pb_put16(h, proto);
    pb_put32(h + 4, 2);
    pb_put16(h + 8, 1);
    h[11] = 6;
}

/* BSD null / loopback: a 4-byte family, little or big endian */
PB_FN void pb_null(pb_buf *b, uint32_t family, int big_endian) {
    uint8_t *h = pb_prepend(b, NULL, 4);
    if (big_endian) {
        pb_put32(h, family);
    } else {
        h[0] = (uint8_t)family;
        h[1] = (uint8_t)(family >> 8);
        h[2] = (uint8_t)(family >> 16);
        h[3] = (uint8_t)(family >> 24);
    }
}

/* One fragment of an IPv4 datagram dg (header included): payload bytes
   [off, off+len) with MF set when more; off a multiple of 8. */
PB_FN void pb_frag4(pb_buf *out, const uint8_t *dg, size_t off, size_t len, int more) {
    size_t hl = (size_t)(dg[0] & 15) * 4;
    uint8_t *h;
    pb_init(out);
    pb_append(out, dg + hl + off, len);
    h = pb_prepend(out, dg, hl);
    pb_put16(h + 2, (unsigned)(hl + len));
    pb_put16(h + 6, (unsigned)((more ? 0x2000 : 0) | (off / 8)));
    h[10] = h[11] = 0;
    pb_put16(h + 10, pb_fold(pb_sum(0, h, hl)));
}

/* One fragment of an IPv6 packet dg whose unfragmentable part is the 40-byte
   header: a fragment header (id) is inserted before the bytes [off,
   off+len) of what followed the IPv6 header. */
PB_FN void pb_frag6(pb_buf *out, const uint8_t *dg, size_t off, size_t len, int more, uint32_t id) {
    uint8_t *h;
    pb_init(out);
    pb_append(out, dg + 40 + off, len);
    h = pb_prepend(out, NULL, 8);
    h[0] = dg[6];
    pb_put16(h + 2, (unsigned)(off | (more ? 1 : 0)));
    pb_put32(h + 4, id);
    h = pb_prepend(out, dg, 40);
    pb_put16(h + 4, (unsigned)(len + 8));
    h[6] = 44;
}

#endif
