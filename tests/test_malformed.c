#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"

/* The malformed files of the shared corpus ($TCPS_CORPUS; SOURCES.md lists
   them as BAD INPUT, fuzzer finds, cut, empty or tiny files) each run
   through a whole context (tcps_run) and give the result, byte offset and
   number of packets written below, with no crash (this suite runs in the
   ASan build and under `make valgrind` too). The expectations come from the
   bytes of each file, walked by hand with the pcap record layout (16-byte
   record header: ts_sec, ts_frac, caplen, origlen; the file header is 24
   bytes), not from our own output:
     - a record header needing more bytes than remain: TCPS_E_TRUNCATED at
       the record's offset;
     - a caplen needing more bytes than remain: TCPS_E_TRUNCATED there too;
     - a caplen above max_record (64 MiB by default): TCPS_E_TOO_LARGE at
       the record (tshark's "File has N-byte packet, bigger than maximum");
     - a well-formed container around malformed packets: TCPS_DONE (the
       packets are counted as malformed, never an error).
   Every record before the error is fed, so `packets` is the number of
   whole records before it. Skips (and says so) when the corpus is absent;
   the empty-input and cut-header cases are built in memory and always run. */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bad_file {
    const char *file;
    int rc;            /* tcps_run's result (TCPS_OK for a clean end) */
    uint64_t offset;   /* error offset (0 when rc is TCPS_OK) */
    uint64_t packets;  /* packets fed */
    const char *why;
} bad_file;

static const bad_file cases[] = {
    /* 247 bytes: header, one record of 200 bytes (24+16+200 = 240), then 7
       bytes, fewer than a record header's 16 */
    {"dpkt/truncated_dns_2.pcap", TCPS_E_TRUNCATED, 240, 1, "7 bytes left where a 16-byte record header starts"},
    /* the 7th record at 5035 claims 4325376 bytes; 645 remain */
    {"suricata-verify/bug-1450-04__tls_DER-incomplete-header.pcap", TCPS_E_TRUNCATED, 5035, 6,
     "caplen 4325376 with 645 bytes left"},
    /* the 2nd record at 228 claims 1409179648 bytes (0x53fe0000), over 64 MiB */
    {"suricata-verify/bug-6875-01__fuzz.pcap", TCPS_E_TOO_LARGE, 228, 1, "caplen 1409179648 above max_record"},
    /* the 19th record at 3695 claims 3925868813 bytes */
    {"suricata-verify/smtp-to-comma__10.7.29.101_49898-178.63.41.150_25.pcap", TCPS_E_TOO_LARGE, 3695, 18,
     "caplen 3925868813 above max_record"},
    /* 2696 whole records end at 2715459; one byte remains */
    {"suricata-verify/http-mime-truncated.pcap", TCPS_E_TRUNCATED, 2715459, 2696,
     "1 byte left where a record header starts"},
    /* 41 bytes: header + a record header with caplen 1 + that byte: whole */
    {"tcpdump/heap-overflow-1.pcap", TCPS_OK, 0, 1, "one 1-byte record, complete (the IP header is what is cut)"},
    {"tcpdump/truncated-aack.pcap", TCPS_OK, 0, 1, "one 10-byte PPP record, complete"},
    {"zeek/trunc__trunc-hdr.pcap", TCPS_OK, 0, 1, "one 8-byte record, complete"},
    {"zeek/trunc__ip4-trunc.pcap", TCPS_OK, 0, 1, "IPv4 header cut by caplen: a malformed packet"},
    {"zeek/trunc__ipv4-truncated-broken-header.pcap", TCPS_OK, 0, 1, "broken IPv4 header: a malformed packet"},
    {"zeek/trunc__ip6-trunc.pcap", TCPS_OK, 0, 1, "IPv6 header cut: a malformed packet"},
    {"zeek/trunc__ip-discarder-truncated-tcp-oob.pcapng", TCPS_OK, 0, 1, "SHB, IDB, one EPB: 116 bytes, whole"},
    {"zeek/empty.pcap", TCPS_OK, 0, 0, "file header only"},
    {"tcpdump/empty.pcap", TCPS_OK, 0, 0, "file header only"},
    {"tcpdump/empty.pcapng", TCPS_OK, 0, 0, "SHB and IDB only"},
    {"tcpdump/time_2106_overflow.pcapng", TCPS_OK, 0, 1, "one EPB with a timestamp past 2106"},
    {"tcpdump/tcp_header_heapoverflow.pcap", TCPS_OK, 0, 1, "TCP header cut by caplen"},
    {"tcpdump/heapoverflow-tcp_print.pcap", TCPS_OK, 0, 1, "malformed TCP header"},
    {"tcpdump/tcp-auth-heapoverflow.pcap", TCPS_OK, 0, 1, "malformed TCP auth option"},
    {"tcpdump/ipv4_invalid_total_length.pcap", TCPS_OK, 0, 1, "IPv4 total length invalid"},
    {"tcpdump/ipv4_invalid_hdr_length.pcap", TCPS_OK, 0, 1, "IPv4 header length invalid"},
    {"tcpdump/ipv6_invalid_length.pcap", TCPS_OK, 0, 1, "IPv6 payload length invalid"},
    {"tcpdump/LINKTYPE_IPV4_invalid.pcap", TCPS_OK, 0, 1, "IPv6 inside link type IPV4"},
    {"tcpdump/juniper_es_oobr.pcap", TCPS_OK, 0, 1, "link type with reserved FCS bits"},
    {"tcpdump/pktap-heap-overflow.pcap", TCPS_OK, 0, 2, "PKTAP, no TCP"},
    {"tcpdump/ppp-invalid-lengths.pcap", TCPS_OK, 0, 1, "PPP with invalid lengths"},
    {"tcpdump/beep-oobr.pcap", TCPS_OK, 0, 2, "truncated frames"},
    {"tcpdump/bgp-as-path-oobr.pcap", TCPS_OK, 0, 4, "oversized and truncated frames"},
    {"tcpdump/bgp_vpn_rt-oobr.pcap", TCPS_OK, 0, 38, "caplen truncation"},
    {"tcpdump/bgp-bgp_capabilities_print-oobr-1.pcap", TCPS_OK, 0, 1, "TCP in a truncated IP fragment"},
    {"tcpdump/hoobr_nfs_printfh.pcap", TCPS_OK, 0, 9, "all frames caplen-truncated"},
    {"tcpdump/kday4.pcap", TCPS_OK, 0, 13, "fuzzed TCP, several streams"},
    {"tcpdump/tcp_rst_data-trunc.pcap", TCPS_OK, 0, 1, "RST with payload cut by caplen"},
    {"tcpdump/timestamp_invalid_nano.pcap", TCPS_OK, 0, 3, "fraction >= 1e9"},
    {"tcpdump/timestamp_invalid_micro.pcap", TCPS_OK, 0, 3, "fraction >= 1e6"},
    {"tcpdump/bigtcp-ipv6.pcap", TCPS_OK, 0, 1, "80 KB jumbo frame"},
    {"pcapplusplus/ip4_bad_fragment.pcap", TCPS_OK, 0, 1, "malformed IPv4 fragment"},
    {"pcapplusplus/tcp-malformed.pcap", TCPS_OK, 0, 2, "malformed TCP header"},
    {"zeek/tcp__truncated-header.pcap", TCPS_OK, 0, 24, "every TCP header cut by snaplen"},
    {"suricata-verify/issue-3341-tcphdr-01__urgent11_cve_2019_12260.pcap", TCPS_OK, 0, 10,
     "malformed TCP options (URGENT/11)"},
};

static int on_ev(const tcps_event *e, void *u) {
    (void)e;
    ++*(long *)u;
    return 0;
}

static void run_bytes(const char *name, const uint8_t *data, size_t size, int want_rc, uint64_t want_off,
                      uint64_t want_pkts) {
    tcps_reader *rd;
    tcps_ctx *ctx;
    tcps_config cfg;
    long events = 0;
    int rc;
    memset(&cfg, 0, sizeof cfg);
    cfg.callbacks.on_open = cfg.callbacks.on_data = cfg.callbacks.on_gap = cfg.callbacks.on_close = on_ev;
    cfg.user = &events;
    rc = tcps_reader_open_memory(&rd, data, size, NULL);
    cr_assert_eq(rc, TCPS_OK, "%s: open", name);
    cr_assert_eq(tcps_create(&ctx, &cfg), TCPS_OK);
    rc = tcps_run(ctx, rd);
    cr_expect_eq(rc, want_rc, "%s: %s, want %s", name, tcps_result_name(rc), tcps_result_name(want_rc));
    if (want_rc < 0) {
        const tcps_error *e = tcps_ctx_error(ctx);
        cr_expect_eq(e->code, want_rc, "%s: error kept on the context", name);
        cr_expect_eq(e->offset, want_off, "%s: offset %llu, want %llu", name, (unsigned long long)e->offset,
                     (unsigned long long)want_off);
        cr_expect(e->message && e->message[0], "%s: message", name);
        cr_expect_eq(tcps_reader_error(rd)->offset, want_off, "%s: reader offset", name);
    }
    cr_expect_eq(tcps_ctx_stats(ctx)->packets, want_pkts, "%s: %llu packets fed, want %llu", name,
                 (unsigned long long)tcps_ctx_stats(ctx)->packets, (unsigned long long)want_pkts);
    cr_expect_eq(tcps_ctx_stats(ctx)->sessions_live, 0, "%s: every session closed", name);
    tcps_destroy(ctx);
    tcps_reader_close(rd);
}

static uint8_t *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (uint8_t *)malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    *size = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

Test(malformed, corpus_files) {
    const char *dir = getenv("TCPS_CORPUS");
    char path[4096];
    size_t i, found = 0;
    FILE *probe;
    snprintf(path, sizeof path, "%s/SOURCES.md", dir ? dir : "");
    probe = dir ? fopen(path, "r") : NULL;
    if (!probe) {
        fprintf(stderr, "malformed: SKIPPED the corpus files: no capture corpus (TCPS_CORPUS=%s)\n",
                dir ? dir : "(unset)");
        return;
    }
    fclose(probe);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t size = 0;
        uint8_t *data;
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].file);
        data = slurp(path, &size);
        cr_expect_not_null(data, "%s: missing from the corpus", cases[i].file);
        if (!data) continue;
        run_bytes(cases[i].file, data, size, cases[i].rc, cases[i].offset, cases[i].packets);
        free(data);
        found++;
    }
    cr_expect_eq(found, sizeof cases / sizeof cases[0]);
}

/* Empty and tiny inputs, and every cut of a small capture: the expected
   result follows from where the cut falls (file header: 24 bytes; records
   of 16 + caplen bytes). */
Test(malformed, empty_tiny_and_cut) {
    static const uint8_t hdr[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0};
    uint8_t buf[24 + 2 * (16 + 60)];
    size_t cut, i;
    run_bytes("empty", hdr, 0, TCPS_E_FORMAT, 0, 0);
    memcpy(buf, hdr, 24);
    for (i = 0; i < 2; i++) {
        uint8_t *r = buf + 24 + i * 76;
        memset(r, 0, 76);
        r[8] = r[12] = 60; /* caplen = origlen = 60: an Ethernet frame of zeros */
    }
    for (cut = 1; cut <= sizeof buf; cut++) {
        char name[64];
        int want;
        uint64_t off = 0, pkts;
        if (cut < 4) want = TCPS_E_FORMAT; /* not even a magic number */
        else if (cut < 24) want = TCPS_E_BAD_HEADER;
        else if (cut == 24 || cut == 100 || cut == 176) want = TCPS_OK;
        else want = TCPS_E_TRUNCATED, off = cut < 100 ? 24 : 100;
        pkts = cut >= 176 ? 2 : cut >= 100 ? 1 : 0;
        snprintf(name, sizeof name, "cut at %zu", cut);
        run_bytes(name, buf, cut, want, off, pkts);
    }
}
