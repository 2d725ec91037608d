/* Decoder tests: link types, VLAN/MPLS/PPPoE, tunnels, IPv4 options, IPv6
   extension chains, TCP options, truncation at every length, padding/FCS,
   TSO length 0, checksum verification. Frames come from pktbuild.h. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"

#include <criterion/criterion.h>
#include <stdlib.h>

#include "pktbuild.h"

static const char PAYLOAD[] = "GET / HTTP/1.0\r\n\r\n";
#define PLEN (sizeof PAYLOAD - 1)

static tcps_decoder *new_decoder(uint32_t flags) {
    tcps_decoder_config cfg;
    tcps_decoder *d = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = flags;
    cr_assert_eq(tcps_decoder_create(&d, &cfg), TCPS_OK);
    return d;
}

static int decode_buf(tcps_decoder *d, uint32_t lt, const uint8_t *p, size_t caplen, size_t origlen,
                      tcps_segment *seg) {
    tcps_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.linktype = lt;
    pkt.frame = 1;
    pkt.data.ptr = p;
    pkt.data.len = caplen;
    pkt.origlen = (uint32_t)origlen;
    pkt.fcs_len = -1;
    return tcps_decode(d, &pkt, seg);
}

static int decode_pb(tcps_decoder *d, uint32_t lt, const pb_buf *b, tcps_segment *seg) {
    return decode_buf(d, lt, pb_data(b), pb_len(b), pb_len(b), seg);
}

/* payload + TCP + IPv4 10.0.0.1 -> 10.0.0.2, ports 40000 -> 80 */
static void build_tcp4(pb_buf *b) {
    pb_tcp_hdr t = pb_tcp_default(40000, 80);
    pb_ip_hdr ip = pb_ip4("10.0.0.1", "10.0.0.2");
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN);
    pb_tcp(b, &t);
    pb_ipv4(b, &ip, PB_TCP);
}
static void build_tcp6(pb_buf *b) {
    pb_tcp_hdr t = pb_tcp_default(40000, 80);
    pb_ip_hdr ip = pb_ip6("2001:db8::1", "2001:db8::2");
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN);
    pb_tcp(b, &t);
    pb_ipv6(b, &ip, PB_TCP);
}

static void expect_seg4(const tcps_segment *s) {
    static const uint8_t src[16] = {10, 0, 0, 1}, dst[16] = {10, 0, 0, 2};
    cr_assert_eq(s->ip_version, 4);
    cr_assert_arr_eq(s->src, src, 16);
    cr_assert_arr_eq(s->dst, dst, 16);
    cr_assert_eq(s->sport, 40000);
    cr_assert_eq(s->dport, 80);
    cr_assert_eq(s->seq, 1000);
    cr_assert_eq(s->flags, TCPS_TH_PSH | TCPS_TH_ACK);
    cr_assert_eq(s->payload.len, PLEN);
    cr_assert_eq(s->payload_len, PLEN);
    cr_assert_arr_eq(s->payload.ptr, PAYLOAD, PLEN);
}
static void expect_seg6(const tcps_segment *s) {
    uint8_t src[16], dst[16];
    pb_addr(src, 6, "2001:db8::1");
    pb_addr(dst, 6, "2001:db8::2");
    cr_assert_eq(s->ip_version, 6);
    cr_assert_arr_eq(s->src, src, 16);
    cr_assert_arr_eq(s->dst, dst, 16);
    cr_assert_eq(s->sport, 40000);
    cr_assert_eq(s->dport, 80);
    cr_assert_eq(s->payload.len, PLEN);
    cr_assert_eq(s->payload_len, PLEN);
    cr_assert_arr_eq(s->payload.ptr, PAYLOAD, PLEN);
}

static uint64_t malformed_total(const tcps_decoder *d) {
    const tcps_decode_stats *st = tcps_decoder_stats(d);
    uint64_t n = 0;
    int i;
    for (i = 0; i < TCPS_MALFORMED_COUNT; i++) n += st->malformed[i];
    return n;
}

static pb_buf *B(void) {
    pb_buf *b = (pb_buf *)malloc(sizeof *b);
    cr_assert(b);
    return b;
}

/* ARCnet as Linux captures it: RFC 1051 (protocol 0xf0, IP right after a
   5-byte header) and RFC 1201 (0xd4, a split flag and sequence number) */
Test(link, arcnet_linux) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    static const uint8_t h1051[5] = {0xbe, 0x50, 0xc3, 0x00, 0xf0}, h1201[8] = {1, 2, 0, 0, 0xd4, 0, 0, 7};
    build_tcp4(b);
    pb_prepend(b, h1051, 5);
    cr_assert_eq(decode_pb(d, 129, b, &s), 1);
    expect_seg4(&s);
    build_tcp4(b);
    pb_prepend(b, h1201, 8);
    cr_assert_eq(decode_pb(d, 129, b, &s), 1);
    expect_seg4(&s);
    cr_assert_eq(decode_buf(d, 129, h1201, 6, 6, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->malformed[TCPS_MALFORMED_LINK_TRUNCATED], 1);
    tcps_decoder_destroy(d);
    free(b);
}

/* Juniper Ethernet: "MGC", flags, optional extension TLVs, Ethernet */
Test(link, juniper_ethernet) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    static const uint8_t ext[22] = {0x4d, 0x47, 0x43, 0x80, 0x00, 0x10, 3, 1, 1, 6, 1, 0x0e, 1, 2, 0x8c, 0, 4, 4, 0x4c, 1, 0, 0};
    static const uint8_t plain[4] = {0x4d, 0x47, 0x43, 0x01}, bad[4] = {0x4d, 0x47, 0x44, 0};
    build_tcp4(b);
    pb_ether(b, PB_ETH_IPV4);
    pb_prepend(b, ext, sizeof ext);
    cr_assert_eq(decode_pb(d, 178, b, &s), 1);
    expect_seg4(&s);
    build_tcp4(b);
    pb_ether(b, PB_ETH_IPV4);
    pb_prepend(b, plain, sizeof plain);
    cr_assert_eq(decode_pb(d, 178, b, &s), 1);
    expect_seg4(&s);
    build_tcp4(b);
    pb_ether(b, PB_ETH_IPV4);
    pb_prepend(b, bad, sizeof bad);
    cr_assert_eq(decode_pb(d, 178, b, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->malformed[TCPS_MALFORMED_LINK_BAD], 1);
    tcps_decoder_destroy(d);
    free(b);
}

Test(link, ethernet_ipv4_and_ipv6) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    build_tcp4(b);
    pb_ether(b, PB_ETH_IPV4);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 1);
    expect_seg4(&s);
    cr_assert_eq(s.checksum, TCPS_CSUM_UNCHECKED);
    build_tcp6(b);
    pb_ether(b, PB_ETH_IPV6);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 1);
    expect_seg6(&s);
    cr_assert_eq(tcps_decoder_stats(d)->tcp, 2);
    cr_assert_eq(tcps_decoder_stats(d)->ipv4, 1);
    cr_assert_eq(tcps_decoder_stats(d)->ipv6, 1);
    cr_assert_eq(tcps_decoder_stats(d)->linktype_count, 1);
    cr_assert_eq(tcps_decoder_stats(d)->linktypes[0].linktype, 1);
    cr_assert_eq(tcps_decoder_stats(d)->linktypes[0].packets, 2);
    tcps_decoder_destroy(d);
    free(b);
}

Test(link, ethernet_8023_and_snap) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    static const uint8_t stp[] = {0x42, 0x42, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    build_tcp4(b);
    pb_ether_snap(b, PB_ETH_IPV4);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 1);
    expect_seg4(&s);
    /* plain 802.3 with another LLC: skipped, counted as non-IP */
    pb_init(b);
    pb_append(b, stp, sizeof stp);
    {
        uint8_t *h = pb_prepend(b, NULL, 14);
        pb_put16(h + 12, sizeof stp);
    }
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->non_ip, 1);
    cr_assert_eq(malformed_total(d), 0);
    /* SNAP inside a VLAN tag */
    build_tcp6(b);
    {
        uint8_t snap[8] = {0xaa, 0xaa, 0x03, 0, 0, 0, 0x86, 0xdd};
        size_t len = pb_len(b) + 8;
        pb_prepend(b, snap, 8);
        pb_vlan(b, 12, (uint16_t)len);
    }
    pb_ether(b, PB_ETH_VLAN);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 1);
    expect_seg6(&s);
    cr_assert_eq(s.vlan_count, 1);
    tcps_decoder_destroy(d);
    free(b);
}

Test(link, mpls_pseudowire_control_word_then_ethernet) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    build_tcp4(b);
    pb_ether(b, PB_ETH_IPV4);
    pb_prepend(b, NULL, 4); /* control word */
    pb_mpls(b, 17, 1);
    pb_ether(b, PB_ETH_MPLS);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 1);
    expect_seg4(&s);
    tcps_decoder_destroy(d);
    free(b);
}

Test(link, padding_and_fcs_are_not_payload) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_packet pkt;
    tcps_decoder *d = new_decoder(TCPS_DECODE_VERIFY_CHECKSUMS);
    build_tcp4(b);
    pb_ether(b, PB_ETH_IPV4);
    pb_append(b, "\xde\xad\xbe\xef\x01\x02", 6); /* padding */
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 1);
    expect_seg4(&s);
    cr_assert_eq(s.checksum, TCPS_CSUM_GOOD);
    /* FCS declared: stripped even when the IP length would allow it (TSO) */
    build_tcp4(b);
    b->mem[b->start + 2] = 0; /* total length 0 */
    b->mem[b->start + 3] = 0;
    {   /* fix the header checksum */
        uint8_t *h = b->mem + b->start;
        h[10] = h[11] = 0;
        pb_put16(h + 10, pb_fold(pb_sum(0, h, 20)));
    }
    pb_ether(b, PB_ETH_IPV4);
    pb_append(b, "\x11\x22\x33\x44", 4);
    memset(&pkt, 0, sizeof pkt);
    pkt.linktype = 1;
    pkt.data.ptr = pb_data(b);
    pkt.data.len = pb_len(b);
    pkt.origlen = (uint32_t)pb_len(b);
    pkt.fcs_len = 4;
    cr_assert_eq(tcps_decode(d, &pkt, &s), 1);
    expect_seg4(&s);
    cr_assert_eq(s.checksum, TCPS_CSUM_GOOD);
    tcps_decoder_destroy(d);
    free(b);
}

Test(link, tso_total_length_zero_uses_captured_length) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    pb_tcp_hdr t = pb_tcp_default(40000, 80);
    pb_ip_hdr ip = pb_ip4("10.0.0.1", "10.0.0.2");
    ip.total_len = 0;
    pb_init(b);
    pb_append_zeros(b, 3000); /* bigger than any MTU: a TSO super-frame */
    pb_tcp(b, &t);
    pb_ipv4(b, &ip, PB_TCP);
    pb_ether(b, PB_ETH_IPV4);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 1);
    cr_assert_eq(s.payload.len, 3000);
    cr_assert_eq(s.payload_len, 3000);
    tcps_decoder_destroy(d);
    free(b);
}

Test(link, vlan_stacks) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    /* 6 tags of three TPIDs: the first 4 ids kept, all counted */
    build_tcp4(b);
    pb_vlan(b, 106, PB_ETH_IPV4);
    pb_vlan(b, 105, 0x8100);
    pb_vlan(b, 104, 0x8100);
    pb_vlan(b, 103, 0x9100);
    pb_vlan(b, 102, 0x8100);
    pb_vlan(b, 101, 0x8100);
    pb_ether(b, PB_ETH_QINQ);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 1);
    expect_seg4(&s);
    cr_assert_eq(s.vlan_count, 6);
    cr_assert_eq(s.vlan[0], 101);
    cr_assert_eq(s.vlan[1], 102);
    cr_assert_eq(s.vlan[2], 103);
    cr_assert_eq(s.vlan[3], 104);
    /* one tag, IPv6 */
    build_tcp6(b);
    pb_vlan(b, 7, PB_ETH_IPV6);
    pb_ether(b, PB_ETH_VLAN);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 1);
    expect_seg6(&s);
    cr_assert_eq(s.vlan_count, 1);
    cr_assert_eq(s.vlan[0], 7);
    tcps_decoder_destroy(d);
    free(b);
}

Test(link, mpls_stacks) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    build_tcp4(b);
    pb_mpls(b, 300, 1);
    pb_mpls(b, 200, 0);
    pb_mpls(b, 100, 0);
    pb_ether(b, PB_ETH_MPLS);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 1);
    expect_seg4(&s);
    build_tcp6(b);
    pb_mpls(b, 16, 1);
    pb_vlan(b, 9, PB_ETH_MPLS);
    pb_ether(b, PB_ETH_VLAN);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 1);
    expect_seg6(&s);
    cr_assert_eq(s.vlan_count, 1);
    tcps_decoder_destroy(d);
    free(b);
}

Test(link, pppoe_session) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    build_tcp4(b);
    pb_pppoe(b, 0x0021);
    pb_ether(b, PB_ETH_PPPOE);
    pb_append_zeros(b, 10); /* padding after the PPPoE length */
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 1);
    expect_seg4(&s);
    build_tcp6(b);
    pb_pppoe(b, 0x0057);
    pb_ether(b, PB_ETH_PPPOE);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 1);
    expect_seg6(&s);
    /* LCP: not IP */
    build_tcp4(b);
    pb_pppoe(b, 0xc021);
    pb_ether(b, PB_ETH_PPPOE);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->non_ip, 1);
    tcps_decoder_destroy(d);
    free(b);
}

Test(link, linux_cooked) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    build_tcp4(b);
    pb_sll(b, PB_ETH_IPV4);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_LINUX_SLL, b, &s), 1);
    expect_seg4(&s);
    build_tcp6(b);
    pb_sll2(b, PB_ETH_IPV6);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_LINUX_SLL2, b, &s), 1);
    expect_seg6(&s);
    build_tcp4(b);
    pb_vlan(b, 5, PB_ETH_IPV4);
    pb_sll(b, PB_ETH_VLAN);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_LINUX_SLL, b, &s), 1);
    cr_assert_eq(s.vlan_count, 1);
    cr_assert_eq(tcps_decoder_stats(d)->linktype_count, 2);
    tcps_decoder_destroy(d);
    free(b);
}

Test(link, raw_ip_variants) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    static const uint32_t raw[] = {TCPS_LINKTYPE_RAW, TCPS_LINKTYPE_RAW_OLD1, TCPS_LINKTYPE_RAW_OLD2};
    size_t i;
    for (i = 0; i < 3; i++) {
        build_tcp4(b);
        cr_assert_eq(decode_pb(d, raw[i], b, &s), 1);
        expect_seg4(&s);
        build_tcp6(b);
        cr_assert_eq(decode_pb(d, raw[i], b, &s), 1);
        expect_seg6(&s);
    }
    build_tcp4(b);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_IPV4, b, &s), 1);
    expect_seg4(&s);
    build_tcp6(b);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_IPV6, b, &s), 1);
    expect_seg6(&s);
    /* the wrong version for the link type */
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_IPV4, b, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->malformed[TCPS_MALFORMED_IP_BAD_VERSION], 1);
    cr_assert_eq(tcps_decoder_stats(d)->linktype_count, 5);
    tcps_decoder_destroy(d);
    free(b);
}

Test(link, bsd_null_both_orders_and_loop) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    static const uint32_t fam6[] = {24, 28, 30};
    int be;
    size_t i;
    for (be = 0; be < 2; be++) {
        build_tcp4(b);
        pb_null(b, 2, be);
        cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_NULL, b, &s), 1, "null v4 be=%d", be);
        expect_seg4(&s);
        for (i = 0; i < 3; i++) {
            build_tcp6(b);
            pb_null(b, fam6[i], be);
            cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_NULL, b, &s), 1, "null fam %u be=%d",
                         fam6[i], be);
            expect_seg6(&s);
        }
    }
    build_tcp4(b);
    pb_null(b, 2, 1);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_LOOP, b, &s), 1);
    expect_seg4(&s);
    build_tcp6(b);
    pb_null(b, 30, 1);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_LOOP, b, &s), 1);
    expect_seg6(&s);
    /* loop is network order only: little-endian 2 is not AF_INET there */
    build_tcp4(b);
    pb_null(b, 2, 0);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_LOOP, b, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->non_ip, 1);
    tcps_decoder_destroy(d);
    free(b);
}

Test(link, ppp_and_chdlc) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    build_tcp4(b);
    pb_prepend(b, "\xff\x03\x00\x21", 4);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_PPP, b, &s), 1);
    expect_seg4(&s);
    build_tcp6(b);
    pb_prepend(b, "\x00\x57", 2); /* no address/control */
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_PPP, b, &s), 1);
    expect_seg6(&s);
    build_tcp4(b);
    pb_prepend(b, "\x21", 1); /* compressed protocol field */
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_PPP, b, &s), 1);
    build_tcp4(b);
    pb_prepend(b, "\x0f\x00\x08\x00", 4);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_CHDLC, b, &s), 1);
    expect_seg4(&s);
    build_tcp6(b);
    pb_prepend(b, "\x8f\x00\x86\xdd", 4);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_CHDLC, b, &s), 1);
    expect_seg6(&s);
    tcps_decoder_destroy(d);
    free(b);
}

Test(link, unsupported_and_non_ip) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    build_tcp4(b);
    cr_assert_eq(decode_pb(d, 147, b, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->unsupported_link, 1);
    pb_init(b);
    pb_append_zeros(b, 28);
    pb_ether(b, 0x0806); /* ARP */
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->non_ip, 1);
    cr_assert_eq(malformed_total(d), 0);
    tcps_decoder_destroy(d);
    free(b);
}

Test(ip, ipv4_options_and_non_tcp) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(TCPS_DECODE_VERIFY_CHECKSUMS);
    static const uint8_t opts[8] = {0x94, 0x04, 0, 0, 0x01, 0x01, 0x01, 0x00}; /* router alert, NOPs, EOL */
    pb_tcp_hdr t = pb_tcp_default(40000, 80);
    pb_ip_hdr ip = pb_ip4("10.0.0.1", "10.0.0.2");
    ip.opts = opts;
    ip.optlen = sizeof opts;
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN);
    pb_tcp(b, &t);
    pb_ipv4(b, &ip, PB_TCP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg4(&s);
    cr_assert_eq(s.ip_checksum, TCPS_CSUM_GOOD);
    cr_assert_eq(s.checksum, TCPS_CSUM_GOOD);
    /* UDP and ICMP (with a quoted TCP header inside) are not segments */
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN);
    pb_udp(b, 53, 53);
    pb_ipv4(b, &ip, PB_UDP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 0);
    build_tcp4(b);
    pb_prepend(b, "\x03\x03\x00\x00\x00\x00\x00\x00", 8);
    pb_ipv4(b, &ip, 1);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->non_tcp, 2);
    cr_assert_eq(malformed_total(d), 0);
    tcps_decoder_destroy(d);
    free(b);
}

Test(ip, ipv4_bad_headers) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    const tcps_decode_stats *st = tcps_decoder_stats(d);
    build_tcp4(b);
    b->mem[b->start] = 0x44; /* IHL 4 */
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 0);
    cr_assert_eq(st->malformed[TCPS_MALFORMED_IP_BAD_HEADER_LEN], 1);
    build_tcp4(b);
    b->mem[b->start] = 0x4f; /* IHL 15: 60 bytes, more than the packet... */
    pb_init(b);
    pb_append(b, "\x4f\x00\x00\x28", 4);
    pb_append_zeros(b, 36);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 0);
    cr_assert_eq(st->malformed[TCPS_MALFORMED_IP_BAD_HEADER_LEN], 2);
    build_tcp4(b);
    pb_put16(b->mem + b->start + 2, 19); /* total length below the header */
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 0);
    cr_assert_eq(st->malformed[TCPS_MALFORMED_IP_BAD_TOTAL_LEN], 1);
    build_tcp4(b);
    b->mem[b->start] = 0x55; /* version 5 */
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 0);
    cr_assert_eq(st->malformed[TCPS_MALFORMED_IP_BAD_VERSION], 1);
    tcps_decoder_destroy(d);
    free(b);
}

Test(ip, ipv4_total_length_bounds_payload) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    build_tcp4(b);
    pb_append(b, "TRAILER", 7);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg4(&s);
    tcps_decoder_destroy(d);
    free(b);
}

Test(ip, ipv6_extension_chain) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(TCPS_DECODE_VERIFY_CHECKSUMS);
    pb_tcp_hdr t = pb_tcp_default(40000, 80);
    pb_ip_hdr ip = pb_ip6("2001:db8::1", "2001:db8::2");
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN);
    pb_tcp(b, &t);
    pb_ip6_ext(b, 60, PB_TCP, 16);  /* destination options */
    pb_ip6_ext(b, 51, 60, 24);      /* AH */
    pb_ip6_ext(b, 43, 51, 24);      /* routing */
    pb_ip6_ext(b, 0, 43, 8);        /* hop-by-hop */
    pb_ipv6(b, &ip, 0);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg6(&s);
    cr_assert_eq(s.checksum, TCPS_CSUM_GOOD);
    /* an atomic fragment header (offset 0, no MF) is just skipped */
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN);
    pb_tcp(b, &t);
    {
        uint8_t *h = pb_prepend(b, NULL, 8);
        h[0] = PB_TCP;
        pb_put32(h + 4, 77);
    }
    pb_ipv6(b, &ip, 44);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg6(&s);
    cr_assert_eq(s.fragmented, 0);
    /* ESP and no-next-header end the chain: not TCP */
    pb_init(b);
    pb_append_zeros(b, 40);
    pb_ipv6(b, &ip, 50);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 0);
    pb_init(b);
    pb_ip6_ext(b, 60, 59, 8);
    pb_ipv6(b, &ip, 60);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->non_tcp, 2);
    /* an extension header longer than the payload */
    pb_init(b);
    pb_ip6_ext(b, 60, PB_TCP, 8);
    b->mem[b->start + 1] = 200;
    pb_ipv6(b, &ip, 60);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->malformed[TCPS_MALFORMED_IP6_BAD_EXT], 1);
    tcps_decoder_destroy(d);
    free(b);
}

Test(ip, ipv6_jumbo_payload_length_zero) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    pb_tcp_hdr t = pb_tcp_default(40000, 80);
    pb_ip_hdr ip = pb_ip6("2001:db8::1", "2001:db8::2");
    ip.total_len = 0;
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN);
    pb_tcp(b, &t);
    {   /* hop-by-hop with a jumbo payload option */
        uint8_t *h = pb_prepend(b, NULL, 8);
        h[0] = PB_TCP;
        h[2] = 0xC2;
        h[3] = 4;
        pb_put32(h + 4, (uint32_t)(pb_len(b)));
    }
    pb_ipv6(b, &ip, 0);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg6(&s);
    tcps_decoder_destroy(d);
    free(b);
}

/* ---- tunnels */

Test(tunnel, ip_in_ip_all_combinations) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    pb_ip_hdr o4 = pb_ip4("192.0.2.1", "192.0.2.2");
    pb_ip_hdr o6 = pb_ip6("2001:db8:ffff::1", "2001:db8:ffff::2");
    build_tcp4(b);
    pb_ipv4(b, &o4, 4);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg4(&s);
    cr_assert_eq(s.tunnel_depth, 1);
    build_tcp6(b);
    pb_ipv4(b, &o4, 41);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg6(&s);
    build_tcp6(b);
    pb_ipv6(b, &o6, 41);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg6(&s);
    build_tcp4(b);
    pb_ipv6(b, &o6, 4);
    pb_ipv4(b, &o4, 41);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg4(&s);
    cr_assert_eq(s.tunnel_depth, 2);
    cr_assert_eq(tcps_decoder_stats(d)->tunnels, 4);
    tcps_decoder_destroy(d);
    /* with tunnels off: the outer packet is not TCP */
    d = new_decoder(TCPS_DECODE_NO_TUNNELS);
    build_tcp4(b);
    pb_ipv4(b, &o4, 4);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->non_tcp, 1);
    tcps_decoder_destroy(d);
    free(b);
}

Test(tunnel, too_deep) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    pb_ip_hdr o4 = pb_ip4("192.0.2.1", "192.0.2.2");
    int i;
    build_tcp4(b);
    for (i = 0; i < 8; i++) pb_ipv4(b, &o4, 4);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    cr_assert_eq(s.tunnel_depth, 8);
    pb_ipv4(b, &o4, 4);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->malformed[TCPS_MALFORMED_TUNNEL_TOO_DEEP], 1);
    tcps_decoder_destroy(d);
    free(b);
}

Test(tunnel, gre_variants) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    pb_ip_hdr o4 = pb_ip4("192.0.2.1", "192.0.2.2");
    int c, k, q;
    for (c = 0; c < 2; c++)
        for (k = 0; k < 2; k++)
            for (q = 0; q < 2; q++) {
                build_tcp4(b);
                pb_gre(b, PB_ETH_IPV4, c, k, q);
                pb_ipv4(b, &o4, PB_GRE);
                pb_ether(b, PB_ETH_IPV4);
                cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 1, "C%d K%d S%d", c, k, q);
                expect_seg4(&s);
                cr_assert_eq(s.tunnel_depth, 1);
            }
    build_tcp6(b);
    pb_gre(b, PB_ETH_IPV6, 0, 1, 0);
    pb_ipv4(b, &o4, PB_GRE);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg6(&s);
    /* transparent Ethernet bridging with a VLAN inside */
    build_tcp4(b);
    pb_vlan(b, 33, PB_ETH_IPV4);
    pb_ether(b, PB_ETH_VLAN);
    pb_gre(b, 0x6558, 0, 1, 0);
    pb_ipv4(b, &o4, PB_GRE);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg4(&s);
    cr_assert_eq(s.vlan_count, 1);
    /* ERSPAN type II: 8-byte header after a GRE header with a sequence number */
    build_tcp4(b);
    pb_ether(b, PB_ETH_IPV4);
    pb_prepend(b, "\x10\x01\x00\x05\x00\x00\x00\x00", 8);
    pb_gre(b, 0x88BE, 0, 0, 1);
    pb_ipv4(b, &o4, PB_GRE);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg4(&s);
    /* ERSPAN type III with the platform sub-header */
    build_tcp4(b);
    pb_ether(b, PB_ETH_IPV4);
    pb_prepend(b, "\x00\x00\x00\x00\x00\x00\x00\x00", 8);
    pb_prepend(b, "\x20\x01\x00\x05\x00\x00\x00\x00\x00\x00\x00\x01", 12);
    pb_gre(b, 0x22EB, 0, 0, 1);
    pb_ipv4(b, &o4, PB_GRE);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg4(&s);
    /* GRE with routing (RFC 1701) is not looked into */
    build_tcp4(b);
    pb_gre(b, PB_ETH_IPV4, 0, 0, 0);
    b->mem[b->start] = 0x40;
    pb_ipv4(b, &o4, PB_GRE);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 0);
    tcps_decoder_destroy(d);
    free(b);
}

Test(tunnel, pptp_enhanced_gre) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    pb_ip_hdr o4 = pb_ip4("192.0.2.1", "192.0.2.2");
    uint8_t *h;
    build_tcp4(b);
    pb_prepend(b, "\xff\x03\x00\x21", 4);
    h = pb_prepend(b, NULL, 12); /* flags K S, version 1, PPP; payload length, call id, seq */
    pb_put16(h, 0x3001);
    pb_put16(h + 2, 0x880B);
    pb_put16(h + 4, (unsigned)pb_len(b) - 12);
    pb_ipv4(b, &o4, PB_GRE);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg4(&s);
    tcps_decoder_destroy(d);
    free(b);
}

Test(tunnel, udp_encapsulations) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    pb_ip_hdr o4 = pb_ip4("192.0.2.1", "192.0.2.2");
    pb_ip_hdr o6 = pb_ip6("2001:db8:ffff::1", "2001:db8:ffff::2");
    /* VXLAN */
    build_tcp4(b);
    pb_ether(b, PB_ETH_IPV4);
    pb_prepend(b, "\x08\x00\x00\x00\x00\x01\x00\x00", 8);
    pb_udp(b, 50000, 4789);
    pb_ipv4(b, &o4, PB_UDP);
    pb_ether(b, PB_ETH_IPV4);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_ETHERNET, b, &s), 1);
    expect_seg4(&s);
    cr_assert_eq(s.tunnel_depth, 1);
    /* Geneve with 8 bytes of options, Ethernet inside */
    build_tcp6(b);
    pb_ether(b, PB_ETH_IPV6);
    pb_prepend(b, NULL, 8);
    pb_prepend(b, "\x02\x00\x65\x58\x00\x00\x01\x00", 8);
    pb_udp(b, 50000, 6081);
    pb_ipv6(b, &o6, PB_UDP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg6(&s);
    /* GTP-U with a sequence number and one extension header */
    build_tcp4(b);
    {
        uint8_t *h;
        pb_prepend(b, "\x01\x00\x00\x00", 4); /* extension: 4 bytes, next 0 */
        h = pb_prepend(b, NULL, 12);
        h[0] = 0x36; /* version 1, PT, E, S */
        h[1] = 0xff;
        pb_put16(h + 2, (unsigned)pb_len(b) - 8);
        pb_put32(h + 4, 1);
        h[11] = 0x85;
    }
    pb_udp(b, 2152, 2152);
    pb_ipv4(b, &o4, PB_UDP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg4(&s);
    /* Teredo, with an origin indication */
    build_tcp6(b);
    pb_prepend(b, "\x00\x00\x12\x34\xc0\x00\x02\x01", 8);
    pb_udp(b, 3544, 40000);
    pb_ipv4(b, &o4, PB_UDP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg6(&s);
    cr_assert_eq(tcps_decoder_stats(d)->tunnels, 4);
    tcps_decoder_destroy(d);
    free(b);
}


Test(tunnel, l2tp_and_ayiya) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    pb_ip_hdr o4 = pb_ip4("192.0.2.1", "192.0.2.2");
    /* L2TPv2 data with the length and sequence fields, PPP inside */
    build_tcp6(b);
    pb_prepend(b, "\xff\x03\x00\x57", 4);
    {
        uint8_t *h = pb_prepend(b, NULL, 12);
        pb_put16(h, 0x4802); /* L, S, version 2 */
        pb_put16(h + 2, (unsigned)pb_len(b));
        pb_put16(h + 4, 7);  /* tunnel */
        pb_put16(h + 6, 9);  /* session */
    }
    pb_udp(b, 1701, 1701);
    pb_ipv4(b, &o4, PB_UDP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg6(&s);
    cr_assert_eq(s.tunnel_depth, 1);
    /* L2TP control messages are not looked into */
    pb_init(b);
    pb_append_zeros(b, 20);
    b->mem[b->start] = 0xc8;
    b->mem[b->start + 1] = 0x02;
    pb_udp(b, 1701, 1701);
    pb_ipv4(b, &o4, PB_UDP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 0);
    /* AYIYA: 16-byte identity, 20-byte signature, forward, IPv6 */
    build_tcp6(b);
    {
        uint8_t *h = pb_prepend(b, NULL, 8 + 16 + 20);
        h[0] = 0x41;
        h[1] = 0x52;
        h[2] = 0x11;
        h[3] = 41;
    }
    pb_udp(b, 5072, 5072);
    pb_ipv4(b, &o4, PB_UDP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg6(&s);
    tcps_decoder_destroy(d);
    free(b);
}

/* an 802.11 QoS data frame (to the AP) with LLC/SNAP in front of what is in b */
static void pb_wlan_qos(pb_buf *b, uint16_t type) {
    uint8_t snap[8] = {0xaa, 0xaa, 0x03, 0, 0, 0, 0, 0};
    uint8_t *h;
    pb_put16(snap + 6, type);
    pb_prepend(b, snap, 8);
    h = pb_prepend(b, NULL, 26);
    h[0] = 0x88; /* type data, subtype QoS data */
    h[1] = 0x01; /* to DS */
}

Test(link, wlan_radiotap_and_aruba_gre) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    pb_ip_hdr o4 = pb_ip4("192.0.2.1", "192.0.2.2");
    build_tcp4(b);
    pb_wlan_qos(b, PB_ETH_IPV4);
    cr_assert_eq(decode_pb(d, 105, b, &s), 1);
    expect_seg4(&s);
    build_tcp6(b);
    pb_wlan_qos(b, PB_ETH_IPV6);
    pb_prepend(b, "\x00\x00\x08\x00\x00\x00\x00\x00", 8); /* empty radiotap header */
    cr_assert_eq(decode_pb(d, 127, b, &s), 1);
    expect_seg6(&s);
    build_tcp4(b);
    pb_wlan_qos(b, PB_ETH_IPV4);
    pb_gre(b, 0x8200, 0, 0, 0);
    pb_ipv4(b, &o4, PB_GRE);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    expect_seg4(&s);
    cr_assert_eq(s.tunnel_depth, 1);
    /* a protected frame is not decoded */
    build_tcp4(b);
    pb_wlan_qos(b, PB_ETH_IPV4);
    b->mem[b->start + 1] |= 0x40;
    cr_assert_eq(decode_pb(d, 105, b, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->non_ip, 1);
    tcps_decoder_destroy(d);
    free(b);
}

Test(link, ipoib_and_nflog) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    int be;
    build_tcp4(b);
    {
        uint8_t *h = pb_prepend(b, NULL, 44);
        pb_put16(h + 40, PB_ETH_IPV4);
    }
    cr_assert_eq(decode_pb(d, 242, b, &s), 1);
    expect_seg4(&s);
    for (be = 0; be < 2; be++) {
        size_t plen;
        uint8_t *h;
        build_tcp6(b);
        plen = pb_len(b);
        if (plen % 4) pb_append_zeros(b, 4 - plen % 4);
        h = pb_prepend(b, NULL, 4); /* payload TLV */
        if (be) {
            pb_put16(h, (unsigned)plen + 4);
            pb_put16(h + 2, 9);
        } else {
            h[0] = (uint8_t)(plen + 4);
            h[1] = (uint8_t)((plen + 4) >> 8);
            h[2] = 9;
        }
        h = pb_prepend(b, NULL, 8); /* a prefix TLV before it: length 8 */
        if (be) {
            pb_put16(h, 8);
            pb_put16(h + 2, 10);
        } else {
            h[0] = 8;
            h[2] = 10;
        }
        h = pb_prepend(b, NULL, 4);
        h[0] = 10; /* AF_INET6 */
        cr_assert_eq(decode_pb(d, 239, b, &s), 1, "be=%d", be);
        expect_seg6(&s);
    }
    tcps_decoder_destroy(d);
    free(b);
}

Test(checksum, pseudo_header_final_destination_and_home_address) {
    /* the TCP checksum is computed with the route's final destination
       (IPv4 source route, IPv6 routing header) or the home address, and
       those are the segment's addresses too (as tshark names them) */
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(TCPS_DECODE_VERIFY_CHECKSUMS);
    pb_tcp_hdr t = pb_tcp_default(40000, 80);
    pb_ip_hdr fin4 = pb_ip4("10.0.0.1", "10.9.9.9"); /* for the checksum only */
    pb_ip_hdr ip4 = pb_ip4("10.0.0.1", "10.0.0.2");
    pb_ip_hdr fin6 = pb_ip6("2001:db8::1", "2001:db8::99");
    pb_ip_hdr hoa6 = pb_ip6("2001:db8::77", "2001:db8::2");
    pb_ip_hdr ip6 = pb_ip6("2001:db8::1", "2001:db8::2");
    uint8_t lsrr[12] = {1, 131, 11, 4, 10, 0, 0, 2, 10, 9, 9, 9};
    uint8_t *h;
    ip4.opts = lsrr;
    ip4.optlen = sizeof lsrr;
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN);
    pb_tcp(b, &t);
    pb_fill_tcp_csum(b, &fin4);
    pb_ipv4(b, &ip4, PB_TCP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    cr_assert_eq(s.checksum, TCPS_CSUM_GOOD);
    cr_assert_arr_eq(s.src, ip4.src, 4);
    cr_assert_arr_eq(s.dst, fin4.dst, 4, "the final destination of the route");
    /* routing header type 0, one segment left */
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN);
    pb_tcp(b, &t);
    pb_fill_tcp_csum(b, &fin6);
    h = pb_prepend(b, NULL, 24);
    h[0] = PB_TCP;
    h[1] = 2;
    h[2] = 0;
    h[3] = 1;
    memcpy(h + 8, fin6.dst, 16);
    pb_ipv6(b, &ip6, 43);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    cr_assert_eq(s.checksum, TCPS_CSUM_GOOD);
    cr_assert_arr_eq(s.dst, fin6.dst, 16);
    /* destination options with a home address option */
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN);
    pb_tcp(b, &t);
    pb_fill_tcp_csum(b, &hoa6);
    h = pb_prepend(b, NULL, 24);
    h[0] = PB_TCP;
    h[1] = 2;
    h[2] = 1; /* PadN, 4 bytes */
    h[3] = 2;
    h[6] = 0xC9;
    h[7] = 16;
    memcpy(h + 8, hoa6.src, 16);
    pb_ipv6(b, &ip6, 60);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    cr_assert_eq(s.checksum, TCPS_CSUM_GOOD);
    cr_assert_arr_eq(s.src, hoa6.src, 16, "the home address");
    cr_assert_eq(malformed_total(d), 0);
    tcps_decoder_destroy(d);
    free(b);
}

/* ---- TCP */

static tcps_tcp_options parse_opts(const uint8_t *o, size_t n);

Test(tcp, options_all_kinds) {
    tcps_tcp_options o;
    static const uint8_t o1[] = {
        2, 4, 0x05, 0xb4,                  /* MSS 1460 */
        1, 3, 3, 7,                        /* NOP, wscale 7 */
        4, 2,                              /* SACK permitted */
        8, 10, 0, 0, 0, 1, 0, 0, 0, 2,     /* timestamps 1, 2 */
        28, 4, 0x80, 10,                   /* user timeout */
        30, 4, 0x00, 0x81,                 /* MPTCP */
        99, 3, 0,                          /* unknown kind */
    };
    static const uint8_t o2[] = {
        5, 18, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0, 40, /* 2 SACK blocks */
        34, 10, 1, 2, 3, 4, 5, 6, 7, 8,    /* TFO cookie, 8 bytes */
    };
    static const uint8_t o3[] = { /* 4 SACK blocks */
        1, 1, 5, 34, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
        0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8,
    };
    o = parse_opts(o1, sizeof o1);
    cr_assert_eq(o.present, TCPS_OPT_MSS | TCPS_OPT_WSCALE | TCPS_OPT_SACK_PERM |
                                TCPS_OPT_TIMESTAMP | TCPS_OPT_USER_TIMEOUT | TCPS_OPT_MPTCP |
                                TCPS_OPT_UNKNOWN);
    cr_assert_eq(o.mss, 1460);
    cr_assert_eq(o.wscale, 7);
    cr_assert_eq(o.ts_val, 1);
    cr_assert_eq(o.ts_ecr, 2);
    o = parse_opts(o2, sizeof o2);
    cr_assert_eq(o.present, TCPS_OPT_SACK | TCPS_OPT_TFO);
    cr_assert_eq(o.sack_count, 2);
    cr_assert_eq(o.sack[0][0], 10);
    cr_assert_eq(o.sack[0][1], 20);
    cr_assert_eq(o.sack[1][0], 30);
    cr_assert_eq(o.sack[1][1], 40);
    cr_assert_eq(o.tfo_len, 8);
    cr_assert_eq(o.tfo_cookie[7], 8);
    o = parse_opts(o3, sizeof o3);
    cr_assert_eq(o.present, TCPS_OPT_SACK);
    cr_assert_eq(o.sack_count, 4);
    cr_assert_eq(o.sack[3][1], 8);
}

static tcps_tcp_options parse_opts(const uint8_t *o, size_t n) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    pb_tcp_hdr t = pb_tcp_default(1, 2);
    pb_ip_hdr ip = pb_ip4("10.0.0.1", "10.0.0.2");
    t.opts = o;
    t.optlen = n;
    pb_init(b);
    pb_tcp(b, &t);
    pb_ipv4(b, &ip, PB_TCP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    tcps_decoder_destroy(d);
    free(b);
    return s.opt;
}

Test(tcp, options_experimental_tfo_md5_ao_and_malformed) {
    tcps_tcp_options o;
    static const uint8_t tfo254[] = {254, 8, 0xF9, 0x89, 9, 9, 9, 9};
    static const uint8_t exp_other[] = {254, 4, 0x12, 0x34};
    static const uint8_t md5[20] = {19, 18};
    static const uint8_t ao[8] = {29, 8, 1, 2};
    static const uint8_t zero_len[] = {2, 0, 0, 0};
    static const uint8_t past_end[] = {1, 1, 8, 10, 0, 0, 0, 0};
    static const uint8_t bad_mss[] = {2, 3, 0, 1};
    static const uint8_t eol_then_junk[] = {3, 3, 2, 0, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t tfo_req[] = {34, 2, 1, 1};
    o = parse_opts(tfo254, sizeof tfo254);
    cr_assert_eq(o.present, TCPS_OPT_TFO);
    cr_assert_eq(o.tfo_len, 4);
    o = parse_opts(exp_other, sizeof exp_other);
    cr_assert_eq(o.present, TCPS_OPT_UNKNOWN);
    o = parse_opts(md5, sizeof md5);
    cr_assert_eq(o.present, TCPS_OPT_MD5);
    o = parse_opts(ao, sizeof ao);
    cr_assert_eq(o.present, TCPS_OPT_AUTH);
    o = parse_opts(zero_len, sizeof zero_len);
    cr_assert_eq(o.present, TCPS_OPT_MALFORMED);
    o = parse_opts(past_end, sizeof past_end);
    cr_assert_eq(o.present, TCPS_OPT_MALFORMED);
    o = parse_opts(bad_mss, sizeof bad_mss);
    cr_assert(o.present & TCPS_OPT_MALFORMED);
    cr_assert_eq(o.mss, 0);
    o = parse_opts(eol_then_junk, sizeof eol_then_junk);
    cr_assert_eq(o.present, TCPS_OPT_WSCALE);
    cr_assert_eq(o.wscale, 2);
    o = parse_opts(tfo_req, sizeof tfo_req);
    cr_assert_eq(o.present, TCPS_OPT_TFO);
    cr_assert_eq(o.tfo_len, 0);
}

Test(tcp, bad_data_offset) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    pb_tcp_hdr t = pb_tcp_default(40000, 80);
    pb_ip_hdr ip = pb_ip4("10.0.0.1", "10.0.0.2");
    t.data_offset = 4;
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN);
    pb_tcp(b, &t);
    pb_ipv4(b, &ip, PB_TCP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 0);
    t.data_offset = 15; /* 60 bytes, segment is 20 + PLEN = 38 */
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN);
    pb_tcp(b, &t);
    pb_ipv4(b, &ip, PB_TCP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->malformed[TCPS_MALFORMED_TCP_BAD_OFFSET], 2);
    tcps_decoder_destroy(d);
    free(b);
}

Test(tcp, flags_all_nine_bits) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    pb_tcp_hdr t = pb_tcp_default(40000, 80);
    pb_ip_hdr ip = pb_ip4("10.0.0.1", "10.0.0.2");
    t.flags = 0x1ff;
    t.urgent = 3;
    t.window = 1234;
    t.ack = 0xdeadbeef;
    pb_init(b);
    pb_tcp(b, &t);
    pb_ipv4(b, &ip, PB_TCP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    cr_assert_eq(s.flags, 0x1ff);
    cr_assert_eq(s.urgent, 3);
    cr_assert_eq(s.window, 1234);
    cr_assert_eq(s.ack, 0xdeadbeef);
    cr_assert_eq(s.hdr_len, 20);
    cr_assert_eq(s.payload_len, 0);
    tcps_decoder_destroy(d);
    free(b);
}

/* ---- truncation at every length */

static void check_prefixes(uint32_t lt, const pb_buf *b, size_t payload_len, uint32_t flags) {
    size_t full = pb_len(b), k;
    uint8_t *copy = (uint8_t *)malloc(full ? full : 1);
    tcps_decoder *d = new_decoder(flags);
    tcps_segment s;
    cr_assert(copy);
    for (k = 0; k <= full; k++) {
        uint64_t before = malformed_total(d);
        int r;
        memcpy(copy, pb_data(b), k); /* exactly k bytes: ASan catches any over-read */
        {
            uint8_t *exact = (uint8_t *)malloc(k ? k : 1);
            memcpy(exact, copy, k);
            r = decode_buf(d, lt, exact, k, full, &s);
            if (r == 1) {
                /* a segment: the cut must be in the payload, and accounted */
                cr_assert_eq(s.payload_len, payload_len, "k=%zu", k);
                cr_assert_eq(s.payload.len + (full - k), payload_len, "k=%zu", k);
                cr_assert(s.payload.ptr >= exact && s.payload.ptr + s.payload.len <= exact + k);
                if (flags & TCPS_DECODE_VERIFY_CHECKSUMS)
                    cr_assert_eq(s.checksum, k == full ? TCPS_CSUM_GOOD : TCPS_CSUM_UNCHECKED);
            } else {
                cr_assert_eq(r, 0, "k=%zu", k);
                cr_assert_eq(malformed_total(d), before + 1, "k=%zu: no reason counted", k);
            }
            free(exact);
        }
    }
    cr_assert_eq(tcps_decoder_stats(d)->truncated, payload_len);
    tcps_decoder_destroy(d);
    free(copy);
}

Test(truncation, every_prefix) {
    pb_buf *b = B();
    pb_ip_hdr o4 = pb_ip4("192.0.2.1", "192.0.2.2");
    build_tcp4(b);
    pb_vlan(b, 3, PB_ETH_IPV4);
    pb_ether(b, PB_ETH_VLAN);
    check_prefixes(TCPS_LINKTYPE_ETHERNET, b, PLEN, 0);
    check_prefixes(TCPS_LINKTYPE_ETHERNET, b, PLEN, TCPS_DECODE_VERIFY_CHECKSUMS);
    build_tcp6(b);
    pb_ip6_ext(b, 60, 6, 8);
    b->mem[b->start + 40 + 6] = 60; /* the IPv6 header now points at the option header */
    pb_init(b);
    {
        pb_tcp_hdr t = pb_tcp_default(40000, 80);
        pb_ip_hdr ip = pb_ip6("2001:db8::1", "2001:db8::2");
        pb_append(b, PAYLOAD, PLEN);
        pb_tcp(b, &t);
        pb_ip6_ext(b, 60, PB_TCP, 8);
        pb_ipv6(b, &ip, 60);
    }
    pb_sll2(b, PB_ETH_IPV6);
    check_prefixes(TCPS_LINKTYPE_LINUX_SLL2, b, PLEN, TCPS_DECODE_VERIFY_CHECKSUMS);
    build_tcp4(b);
    pb_gre(b, PB_ETH_IPV4, 1, 1, 1);
    pb_ipv4(b, &o4, PB_GRE);
    pb_pppoe(b, 0x0021);
    pb_ether(b, PB_ETH_PPPOE);
    check_prefixes(TCPS_LINKTYPE_ETHERNET, b, PLEN, 0);
    build_tcp4(b);
    pb_mpls(b, 1, 1);
    pb_ether(b, PB_ETH_MPLS);
    check_prefixes(TCPS_LINKTYPE_ETHERNET, b, PLEN, 0);
    build_tcp6(b);
    pb_ether_snap(b, PB_ETH_IPV6);
    check_prefixes(TCPS_LINKTYPE_ETHERNET, b, PLEN, 0);
    build_tcp4(b);
    pb_ether(b, PB_ETH_IPV4);
    pb_prepend(b, "\x08\x00\x00\x00\x00\x01\x00\x00", 8);
    pb_udp(b, 50000, 4789);
    pb_ipv4(b, &o4, PB_UDP);
    pb_ether(b, PB_ETH_IPV4);
    check_prefixes(TCPS_LINKTYPE_ETHERNET, b, PLEN, 0);
    build_tcp4(b);
    pb_null(b, 2, 0);
    check_prefixes(TCPS_LINKTYPE_NULL, b, PLEN, 0);
    free(b);
}

Test(truncation, options_cut_by_the_snaplen) {
    /* the fixed header is there, the options are cut: still a segment (as
       tshark counts it), no payload captured, nothing malformed */
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(TCPS_DECODE_VERIFY_CHECKSUMS);
    static const uint8_t o[] = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
    pb_tcp_hdr t = pb_tcp_default(40000, 80);
    pb_ip_hdr ip = pb_ip4("10.0.0.1", "10.0.0.2");
    size_t k;
    t.opts = o;
    t.optlen = sizeof o;
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN);
    pb_tcp(b, &t);
    pb_ipv4(b, &ip, PB_TCP);
    for (k = 40; k < 56; k++) {
        cr_assert_eq(decode_buf(d, TCPS_LINKTYPE_RAW, pb_data(b), k, pb_len(b), &s), 1);
        cr_assert_eq(s.hdr_len, 36);
        cr_assert_eq(s.payload.len, 0);
        cr_assert_eq(s.payload_len, PLEN);
        cr_assert_eq(s.checksum, TCPS_CSUM_UNCHECKED);
        cr_assert_eq(s.opt.present, k >= 44 ? TCPS_OPT_MSS : 0, "k=%zu", k);
    }
    cr_assert_eq(malformed_total(d), 0);
    /* but a data offset past the segment itself is malformed */
    cr_assert_eq(decode_buf(d, TCPS_LINKTYPE_RAW, pb_data(b), 40, 40, &s), 0);
    cr_assert_eq(tcps_decoder_stats(d)->malformed[TCPS_MALFORMED_TCP_BAD_OFFSET], 1);
    tcps_decoder_destroy(d);
    free(b);
}

/* ---- checksums */

Test(checksum, off_by_default_and_bad_ones_counted) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    pb_tcp_hdr t = pb_tcp_default(40000, 80);
    pb_ip_hdr ip = pb_ip4("10.0.0.1", "10.0.0.2");
    t.bad_checksum = 1;
    ip.bad_checksum = 1;
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN);
    pb_tcp(b, &t);
    pb_ipv4(b, &ip, PB_TCP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    cr_assert_eq(s.checksum, TCPS_CSUM_UNCHECKED);
    cr_assert_eq(s.ip_checksum, TCPS_CSUM_UNCHECKED);
    cr_assert_eq(malformed_total(d), 0);
    tcps_decoder_destroy(d);
    d = new_decoder(TCPS_DECODE_VERIFY_CHECKSUMS);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1); /* still returned */
    expect_seg4(&s);
    cr_assert_eq(s.checksum, TCPS_CSUM_BAD);
    cr_assert_eq(s.ip_checksum, TCPS_CSUM_BAD);
    cr_assert_eq(tcps_decoder_stats(d)->malformed[TCPS_MALFORMED_TCP_BAD_CHECKSUM], 1);
    cr_assert_eq(tcps_decoder_stats(d)->malformed[TCPS_MALFORMED_IP_BAD_CHECKSUM], 1);
    /* IPv6 bad TCP checksum; odd payload length */
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN - 1);
    pb_tcp(b, &t);
    ip = pb_ip6("2001:db8::1", "2001:db8::2");
    pb_ipv6(b, &ip, PB_TCP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    cr_assert_eq(s.checksum, TCPS_CSUM_BAD);
    t.bad_checksum = 0;
    pb_init(b);
    pb_append(b, PAYLOAD, PLEN - 1);
    pb_tcp(b, &t);
    pb_ipv6(b, &ip, PB_TCP);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    cr_assert_eq(s.checksum, TCPS_CSUM_GOOD);
    tcps_decoder_destroy(d);
    free(b);
}

Test(api, config_defaults_and_bad_allocator) {
    tcps_decoder *d;
    tcps_decoder_config cfg, eff;
    memset(&cfg, 0, sizeof cfg);
    cr_assert_eq(tcps_decoder_create(&d, NULL), TCPS_OK);
    tcps_decoder_config_effective(d, &eff);
    cr_assert_eq(eff.frag_max_datagrams, 4096);
    cr_assert_eq(eff.frag_max_bytes, (size_t)16 << 20);
    cr_assert_eq(eff.frag_timeout_ms, 30000);
    tcps_decoder_destroy(d);
    cfg.allocator.alloc = (void *(*)(size_t, void *))1;
    cr_assert_eq(tcps_decoder_create(&d, &cfg), TCPS_E_ARG);
    cr_assert_eq(tcps_decoder_create(NULL, NULL), TCPS_E_ARG);
    tcps_decoder_destroy(NULL);
}

/* What one packet's layers set must not survive into the next packet's
   segment: the tail of tcps_segment is cleared for every packet. */
Test(segment, nothing_left_from_the_previous_packet) {
    pb_buf *b = B();
    tcps_segment s;
    tcps_decoder *d = new_decoder(0);
    pb_ip_hdr o4 = pb_ip4("192.0.2.1", "192.0.2.2");
    memset(&s, 0xa5, sizeof s);
    build_tcp4(b);
    pb_ipv4(b, &o4, 4); /* a tunnel: depth 1 */
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    cr_assert_eq(s.tunnel_depth, 1);
    build_tcp4(b);
    cr_assert_eq(decode_pb(d, TCPS_LINKTYPE_RAW, b, &s), 1);
    cr_assert_eq(s.tunnel_depth, 0);
    cr_assert_eq(s.vlan_count, 0);
    cr_assert_eq(s.fragmented, 0);
    cr_assert_eq(s.checksum, TCPS_CSUM_UNCHECKED);
    cr_assert_eq(s.reserved_, 0);
    tcps_decoder_destroy(d);
    free(b);
}

static int count_open(const tcps_event *ev, void *user) {
    (void)ev;
    ++*(int *)user;
    return 0;
}

/* TCPS_F_NO_TUNNELS reaches the context's decoder. */
Test(tunnel, context_flag) {
    pb_buf *b = B();
    pb_ip_hdr o4 = pb_ip4("192.0.2.1", "192.0.2.2");
    tcps_time ts = {1, 0};
    int flags[2] = {0, TCPS_F_NO_TUNNELS}, i;
    build_tcp4(b);
    pb_ipv4(b, &o4, 4);
    for (i = 0; i < 2; i++) {
        tcps_config cfg;
        tcps_ctx *c;
        int opened = 0;
        memset(&cfg, 0, sizeof cfg);
        cfg.flags = (uint32_t)flags[i];
        cfg.callbacks.on_open = count_open;
        cfg.user = &opened;
        cr_assert_eq(tcps_create(&c, &cfg), TCPS_OK);
        cr_assert_eq(tcps_feed_frame(c, TCPS_LINKTYPE_RAW, ts, pb_data(b), pb_len(b), pb_len(b)), TCPS_OK);
        cr_assert_eq(tcps_finish(c), TCPS_OK);
        cr_assert_eq(tcps_ctx_stats(c)->decode->non_tcp, (uint64_t)i);
        cr_assert_eq(opened, !i);
        tcps_destroy(c);
    }
    free(b);
}
