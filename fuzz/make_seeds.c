/* make_seeds - write seed inputs for the fuzz harnesses.

       build/fuzz/make_seeds DIR      (make fuzz-corpus)

   DIR/reader/ gets small valid captures for fuzz_reader, each behind the
   harness's 5 option bytes (see fuzz/fuzz_reader.c) in a few option
   combinations: pcap in both byte orders with micro- and nanosecond
   timestamps, pcapng with several interfaces, enhanced and simple packet
   blocks, two sections, if_tsresol; Ethernet, VLAN, Linux SLL, raw IP and
   BSD loopback links; IPv4, IPv6, IPv4 fragments; TCP with options and data.
   A harness added later writes its seeds under DIR/<name>/ from here too.

   The captures are built by the small writers below; the tests have fuller
   ones (tests/capwriter.h, tests/pktbuild.h) that these may move to. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct sbuf {
    uint8_t *d;
    size_t n, cap;
    int be; /* byte order of the capture being written */
} sbuf;

static void put(sbuf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n) cap *= 2;
        b->d = (uint8_t *)realloc(b->d, cap);
        if (!b->d) {
            perror("make_seeds");
            exit(1);
        }
        b->cap = cap;
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void u8(sbuf *b, unsigned v) {
    uint8_t x = (uint8_t)v;
    put(b, &x, 1);
}
/* in the capture's byte order */
static void c16(sbuf *b, unsigned v) {
    uint8_t x[2];
    x[b->be ? 1 : 0] = (uint8_t)v;
    x[b->be ? 0 : 1] = (uint8_t)(v >> 8);
    put(b, x, 2);
}
static void c32(sbuf *b, uint32_t v) {
    if (b->be) {
        c16(b, v >> 16);
        c16(b, v & 0xffff);
    } else {
        c16(b, v & 0xffff);
        c16(b, v >> 16);
    }
}
static void set_c32(sbuf *b, size_t at, uint32_t v) {
    sbuf t = {0, 0, 0, 0};
    t.be = b->be;
    c32(&t, v);
    memcpy(b->d + at, t.d, 4);
    free(t.d);
}
/* network order */
static void n16(sbuf *b, unsigned v) {
    u8(b, v >> 8);
    u8(b, v & 0xff);
}
static void n32(sbuf *b, uint32_t v) {
    n16(b, v >> 16);
    n16(b, v & 0xffff);
}
static void pad4(sbuf *b) {
    while (b->n & 3) u8(b, 0);
}

static unsigned fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum) {
    size_t i;
    for (i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1) sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

/* ---- packets (network layer up, into b) */

typedef struct tcpspec {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    int options; /* MSS, SACK-permitted, timestamps, window scale */
    const char *payload;
} tcpspec;

/* TCP header + payload with the checksum over the given pseudo-header sum */
static void tcp(sbuf *b, const tcpspec *t, const uint8_t *src, const uint8_t *dst, int alen) {
    size_t start = b->n, plen = t->payload ? strlen(t->payload) : 0, hlen = t->options ? 40 : 20;
    uint32_t sum = 0;
    unsigned c;
    n16(b, t->sport);
    n16(b, t->dport);
    n32(b, t->seq);
    n32(b, t->ack);
    u8(b, (unsigned)(hlen / 4) << 4);
    u8(b, t->flags);
    n16(b, 64240);
    n16(b, 0); /* checksum */
    n16(b, 0);
    if (t->options) {
        static const uint8_t o[20] = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
        put(b, o, sizeof o);
    }
    if (plen) put(b, t->payload, plen);
    sum = sum16(src, (size_t)alen, sum);
    sum = sum16(dst, (size_t)alen, sum);
    sum += 6 + (uint32_t)(hlen + plen);
    c = ~fold(sum16(b->d + start, b->n - start, sum)) & 0xffff;
    b->d[start + 16] = (uint8_t)(c >> 8);
    b->d[start + 17] = (uint8_t)c;
}

static const uint8_t v4a[4] = {192, 0, 2, 1}, v4b[4] = {198, 51, 100, 7};
static const uint8_t v6a[16] = {0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t v6b[16] = {0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

static void ipv4_tcp(sbuf *b, const tcpspec *t, int reverse) {
    size_t start = b->n;
    sbuf seg = {0, 0, 0, 0};
    unsigned c;
    const uint8_t *s = reverse ? v4b : v4a, *d = reverse ? v4a : v4b;
    tcp(&seg, t, s, d, 4);
    u8(b, 0x45);
    u8(b, 0);
    n16(b, (unsigned)(20 + seg.n));
    n16(b, 0x1234);
    n16(b, 0x4000); /* DF */
    u8(b, 64);
    u8(b, 6);
    n16(b, 0);
    put(b, s, 4);
    put(b, d, 4);
    c = ~fold(sum16(b->d + start, 20, 0)) & 0xffff;
    b->d[start + 10] = (uint8_t)(c >> 8);
    b->d[start + 11] = (uint8_t)c;
    put(b, seg.d, seg.n);
    free(seg.d);
}

/* the same datagram as two fragments: fragment `part` (0 or 1) */
static void ipv4_tcp_fragment(sbuf *b, const tcpspec *t, int part) {
    sbuf seg = {0, 0, 0, 0};
    size_t start = b->n, off = part ? 24 : 0, len;
    unsigned c;
    tcp(&seg, t, v4a, v4b, 4);
    len = part ? seg.n - 24 : 24;
    u8(b, 0x45);
    u8(b, 0);
    n16(b, (unsigned)(20 + len));
    n16(b, 0x4321);
    n16(b, (unsigned)(off / 8) | (part ? 0 : 0x2000));
    u8(b, 64);
    u8(b, 6);
    n16(b, 0);
    put(b, v4a, 4);
    put(b, v4b, 4);
    c = ~fold(sum16(b->d + start, 20, 0)) & 0xffff;
    b->d[start + 10] = (uint8_t)(c >> 8);
    b->d[start + 11] = (uint8_t)c;
    put(b, seg.d + off, len);
    free(seg.d);
}

static void ipv6_tcp(sbuf *b, const tcpspec *t, int reverse) {
    sbuf seg = {0, 0, 0, 0};
    const uint8_t *s = reverse ? v6b : v6a, *d = reverse ? v6a : v6b;
    tcp(&seg, t, s, d, 16);
    n32(b, 0x60000000u);
    n16(b, (unsigned)seg.n);
    u8(b, 6);
    u8(b, 64);
    put(b, s, 16);
    put(b, d, 16);
    put(b, seg.d, seg.n);
    free(seg.d);
}

/* ---- link layers */
enum { L_ETH = 1, L_NULL = 0, L_RAW = 101, L_SLL = 113 };

static void link_hdr(sbuf *b, int link, int ipv, int vlan) {
    static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
    unsigned et = ipv == 6 ? 0x86dd : 0x0800;
    switch (link) {
    case L_ETH:
        put(b, macs, 12);
        if (vlan) {
            n16(b, 0x8100);
            n16(b, 42);
        }
        n16(b, et);
        break;
    case L_SLL:
        n16(b, 0); /* to us */
        n16(b, 1);
        n16(b, 6);
        put(b, macs, 6);
        n16(b, 0);
        n16(b, et);
        break;
    case L_NULL: { /* host byte order AF_ value: little endian here */
        uint8_t af[4] = {(uint8_t)(ipv == 6 ? 30 : 2), 0, 0, 0};
        put(b, af, 4);
        break;
    }
    default:
        break;
    }
}

/* The frames of one short TCP session, the handshake to the close. */
typedef struct frames {
    sbuf f[12];
    int n;
} frames;

static void session(frames *fs, int link, int ipv, int vlan, int fragment) {
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
    int i;
    memset(fs, 0, sizeof *fs);
    for (i = 0; i < (int)(sizeof steps / sizeof steps[0]); i++) {
        int reverse = steps[i].sport == 80;
        if (fragment && i == 3) {
            int part;
            for (part = 0; part < 2; part++) {
                link_hdr(&fs->f[fs->n], link, 4, vlan);
                ipv4_tcp_fragment(&fs->f[fs->n++], &steps[i], part);
            }
            continue;
        }
        link_hdr(&fs->f[fs->n], link, ipv, vlan);
        if (ipv == 6)
            ipv6_tcp(&fs->f[fs->n++], &steps[i], reverse);
        else
            ipv4_tcp(&fs->f[fs->n++], &steps[i], reverse);
    }
}
static void frames_free(frames *fs) {
    int i;
    for (i = 0; i < fs->n; i++) free(fs->f[i].d);
}

/* ---- capture files */
static void pcap_file(sbuf *b, int be, int nsec, int link, const frames *fs, int snaplen) {
    int i;
    b->be = be;
    c32(b, nsec ? 0xa1b23c4du : 0xa1b2c3d4u);
    c16(b, 2);
    c16(b, 4);
    c32(b, 0);
    c32(b, 0);
    c32(b, (uint32_t)snaplen);
    c32(b, (uint32_t)link);
    for (i = 0; i < fs->n; i++) {
        uint32_t caplen = (uint32_t)fs->f[i].n;
        if (caplen > (uint32_t)snaplen) caplen = (uint32_t)snaplen;
        c32(b, 1700000000u + (uint32_t)i);
        c32(b, nsec ? 123456789u : 123456u);
        c32(b, caplen);
        c32(b, (uint32_t)fs->f[i].n);
        put(b, fs->f[i].d, caplen);
    }
}

static size_t ng_begin(sbuf *b, uint32_t type) {
    size_t at = b->n;
    c32(b, type);
    c32(b, 0); /* length, set by ng_end */
    return at;
}
static void ng_end(sbuf *b, size_t at) {
    uint32_t len;
    pad4(b);
    len = (uint32_t)(b->n - at + 4);
    c32(b, len);
    set_c32(b, at + 4, len);
}
static void ng_shb(sbuf *b) {
    size_t at = ng_begin(b, 0x0a0d0d0au);
    c32(b, 0x1a2b3c4du);
    c16(b, 1);
    c16(b, 0);
    c32(b, 0xffffffffu);
    c32(b, 0xffffffffu);
    c16(b, 3); /* shb_userappl */
    c16(b, 10);
    put(b, "make_seeds", 10);
    pad4(b);
    c32(b, 0); /* opt_endofopt */
    ng_end(b, at);
}
static void ng_idb(sbuf *b, int link, int snaplen, int tsresol) {
    size_t at = ng_begin(b, 1);
    c16(b, (unsigned)link);
    c16(b, 0);
    c32(b, (uint32_t)snaplen);
    if (tsresol >= 0) {
        c16(b, 9);
        c16(b, 1);
        u8(b, (unsigned)tsresol);
        pad4(b);
        c32(b, 0);
    }
    ng_end(b, at);
}
static void ng_epb(sbuf *b, uint32_t ifid, uint64_t ts, const sbuf *f) {
    size_t at = ng_begin(b, 6);
    c32(b, ifid);
    c32(b, (uint32_t)(ts >> 32));
    c32(b, (uint32_t)ts);
    c32(b, (uint32_t)f->n);
    c32(b, (uint32_t)f->n);
    put(b, f->d, f->n);
    pad4(b);
    c16(b, 2); /* epb_flags: inbound */
    c16(b, 4);
    c32(b, 1);
    c32(b, 0);
    ng_end(b, at);
}
static void ng_spb(sbuf *b, const sbuf *f) {
    size_t at = ng_begin(b, 3);
    c32(b, (uint32_t)f->n);
    put(b, f->d, f->n);
    ng_end(b, at);
}

/* ---- output */
static const char *outdir;
static int nwritten;

static void emit(const char *harness, const char *name, const uint8_t *prefix, size_t plen,
                 const sbuf *cap) {
    char path[1024];
    FILE *fp;
    snprintf(path, sizeof path, "%s/%s", outdir, harness);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", outdir, harness, name);
    fp = fopen(path, "wb");
    if (!fp || fwrite(prefix, 1, plen, fp) != plen || fwrite(cap->d, 1, cap->n, fp) != cap->n ||
        fclose(fp) != 0) {
        perror(path);
        exit(1);
    }
    nwritten++;
}

/* fuzz_reader: each capture with a few option prefixes */
static void reader_seed(const char *name, const sbuf *cap) {
    static const uint8_t prefixes[][5] = {
        {0x00, 0, 0, 0, 0},          /* memory */
        {0x01, 0, 6, 63, 255},       /* callback, 1/7/64/256-byte reads */
        {0x06, 0, 0, 0, 0},          /* small limits, checksums verified */
        {0x29, 3, 200, 1, 9},        /* callback, allocation 3 fails, no defrag */
    };
    size_t i;
    for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        char file[256];
        snprintf(file, sizeof file, "%s-%zu", name, i);
        emit("reader", file, prefixes[i], 5, cap);
    }
}

static void reader_seeds(void) {
    static const struct {
        const char *name;
        int link, ipv, vlan, frag, be, nsec;
    } pc[] = {
        {"pcap-eth-v4", L_ETH, 4, 0, 0, 0, 0},   {"pcap-be-ns-eth-v6", L_ETH, 6, 0, 0, 1, 1},
        {"pcap-vlan-v4", L_ETH, 4, 1, 0, 0, 0},  {"pcap-sll-v6", L_SLL, 6, 0, 0, 0, 1},
        {"pcap-raw-v4-frag", L_RAW, 4, 0, 1, 1, 0}, {"pcap-null-v4", L_NULL, 4, 0, 0, 0, 0},
        {"pcap-eth-frag", L_ETH, 4, 0, 1, 0, 0},
    };
    size_t i;
    for (i = 0; i < sizeof pc / sizeof pc[0]; i++) {
        frames fs;
        sbuf cap = {0, 0, 0, 0};
        session(&fs, pc[i].link, pc[i].ipv, pc[i].vlan, pc[i].frag);
        pcap_file(&cap, pc[i].be, pc[i].nsec, pc[i].link, &fs, 65535);
        reader_seed(pc[i].name, &cap);
        free(cap.d);
        cap.d = NULL;
        cap.n = cap.cap = 0;
        /* the same with a snaplen that cuts the payloads */
        pcap_file(&cap, pc[i].be, pc[i].nsec, pc[i].link, &fs, 60);
        if (i == 0) reader_seed("pcap-eth-v4-snap60", &cap);
        free(cap.d);
        frames_free(&fs);
    }
    {   /* pcapng: two interfaces (Ethernet, raw IPv6 at ns resolution), EPBs
           interleaved, an SPB, then a second section */
        int be;
        for (be = 0; be < 2; be++) {
            frames a, b6;
            sbuf cap = {0, 0, 0, 0};
            int i;
            cap.be = be;
            session(&a, L_ETH, 4, 0, 0);
            session(&b6, L_RAW, 6, 0, 0);
            ng_shb(&cap);
            ng_idb(&cap, L_ETH, 65535, -1);
            ng_idb(&cap, L_RAW, 262144, 9);
            for (i = 0; i < a.n || i < b6.n; i++) {
                if (i < a.n) ng_epb(&cap, 0, 1700000000000000ull + (uint64_t)i * 1000, &a.f[i]);
                if (i < b6.n) ng_epb(&cap, 1, 1700000000000000000ull + (uint64_t)i * 1000, &b6.f[i]);
            }
            ng_shb(&cap);
            ng_idb(&cap, L_ETH, 128, 6);
            for (i = 0; i < a.n; i++) ng_spb(&cap, &a.f[i]);
            reader_seed(be ? "pcapng-be" : "pcapng-le", &cap);
            free(cap.d);
            frames_free(&a);
            frames_free(&b6);
        }
    }
    {   /* the smallest inputs: headers alone */
        sbuf cap = {0, 0, 0, 0};
        frames none;
        memset(&none, 0, sizeof none);
        pcap_file(&cap, 0, 0, L_ETH, &none, 65535);
        reader_seed("pcap-empty", &cap);
        cap.n = 0;
        ng_shb(&cap);
        reader_seed("pcapng-shb-only", &cap);
        free(cap.d);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0777) != 0 && errno != EEXIST) {
        perror(outdir);
        return 1;
    }
    reader_seeds();
    printf("make_seeds: %d seeds in %s\n", nwritten, outdir);
    return 0;
}
