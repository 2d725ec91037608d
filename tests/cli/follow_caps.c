/* follow_caps: write the small captures that tests/cli/test_follow.sh runs
   `tcpsession follow` (and tshark, when installed) on.

   usage: follow_caps OUTDIR

   Each capture is one situation follow must render as tshark does:
     basic.pcap        handshake, a request, a two-segment answer, FINs
     retrans.pcap      a plain retransmission, and one that carries more
                       bytes than the original (only the new ones count)
     ooo.pcap          segments arriving out of order, released later
     ackgap.pcap       a lost segment the receiver acknowledged: the hole
                       becomes "[N bytes missing in capture file]"
     ackgap_late.pcap  the hole is acknowledged before the data behind it
                       arrives; a later ACK passes both
     hole_end.pcap     data still waiting behind a hole when the capture ends
     overlap.pcap      two different copies of the same bytes (first wins)
     ipv6.pcap         an IPv6 session, server speaking first
     midstream.pcap    no handshake; the server's packet comes first
     snaplen.pcap      segments cut by a 100-byte snapshot length
     bytes.pcap        every byte value, lines ending in spaces, records of
                       8, 16 and 17 bytes (the hex dump's corner cases)
     reuse.pcap        two connections on the same ports, one after another
     twostreams.pcap   two sessions interleaved
     truncated.pcap    basic.pcap cut in the middle of its 8th record
   Timestamps advance a millisecond per packet from 1700000000.123456. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../capwriter.h"
#include "../pktbuild.h"

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

typedef struct conv {
    capw_buf *cap;
    const char *addr[2];
    uint16_t port[2];
    int v6;
    uint32_t usec;
    uint32_t snaplen;
} conv;

static void pkt(conv *c, int dir, uint32_t seq, uint32_t ack, unsigned flags, const void *data, size_t len) {
    pb_buf *b = (pb_buf *)malloc(sizeof *b);
    pb_tcp_hdr t = pb_tcp_default(c->port[dir], c->port[!dir]);
    pb_ip_hdr ip = c->v6 ? pb_ip6(c->addr[dir], c->addr[!dir]) : pb_ip4(c->addr[dir], c->addr[!dir]);
    size_t caplen;
    if (!b) abort();
    t.seq = seq;
    t.ack = ack;
    t.flags = (uint16_t)flags;
    pb_init(b);
    if (len) pb_append(b, data, len);
    pb_tcp(b, &t);
    if (c->v6) pb_ipv6(b, &ip, PB_TCP);
    else pb_ipv4(b, &ip, PB_TCP);
    pb_ether(b, c->v6 ? PB_ETH_IPV6 : PB_ETH_IPV4);
    caplen = pb_len(b);
    if (c->snaplen && caplen > c->snaplen) caplen = c->snaplen;
    capw_pcap_record(c->cap, 1700000000 + (123456 + c->usec) / 1000000, (123456 + c->usec) % 1000000, pb_data(b),
                     (uint32_t)caplen, (uint32_t)pb_len(b));
    c->usec += 1000;
    free(b);
}

static void start(conv *c, capw_buf *cap, const char *a, const char *b, uint16_t pa, uint16_t pb, int v6) {
    memset(c, 0, sizeof *c);
    c->cap = cap;
    c->addr[0] = a;
    c->addr[1] = b;
    c->port[0] = pa;
    c->port[1] = pb;
    c->v6 = v6;
    capw_init(cap);
    capw_pcap_header(cap, 0, 0, 65535, 1);
}

static void save(capw_buf *cap, const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (capw_save(cap, path) != 0) {
        fprintf(stderr, "follow_caps: cannot write %s\n", path);
        exit(1);
    }
    capw_free(cap);
}

/* client ISN 100, server ISN 5000 */
static void handshake(conv *c) {
    pkt(c, 0, 100, 0, F_SYN, NULL, 0);
    pkt(c, 1, 5000, 101, F_SYN | F_ACK, NULL, 0);
    pkt(c, 0, 101, 5001, F_ACK, NULL, 0);
}

int main(int argc, char **argv) {
    capw_buf cap;
    conv c;
    const char *out;
    static const char req[] = "GET /index.html HTTP/1.1\r\nHost: example\r\n\r\n"; /* 43 */
    static const char r1[] = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n";   /* 38 */
    static const char r2[] = "hello\tworld\n";                                    /* 12 */
    uint8_t all[256], big[300];
    int i;
    if (argc != 2) {
        fprintf(stderr, "usage: follow_caps OUTDIR\n");
        return 2;
    }
    out = argv[1];
    for (i = 0; i < 256; i++) all[i] = (uint8_t)i;
    for (i = 0; i < 300; i++) big[i] = (uint8_t)('a' + i % 26);

    /* basic */
    start(&c, &cap, "10.0.0.1", "10.0.0.2", 43210, 80, 0);
    handshake(&c);
    pkt(&c, 0, 101, 5001, F_PSH | F_ACK, req, 43);
    pkt(&c, 1, 5001, 144, F_ACK, NULL, 0);
    pkt(&c, 1, 5001, 144, F_PSH | F_ACK, r1, 38);
    pkt(&c, 1, 5039, 144, F_PSH | F_ACK, r2, 12);
    pkt(&c, 0, 144, 5051, F_ACK, NULL, 0);
    pkt(&c, 0, 144, 5051, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 1, 5051, 145, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 0, 145, 5052, F_ACK, NULL, 0);
    {
        /* truncated: the same capture cut inside its 8th record */
        capw_buf t;
        size_t cut = 24, n = 0;
        while (n < 7) { /* skip 7 records: 16-byte header + caplen */
            uint32_t cl = (uint32_t)cap.data[cut + 8] | (uint32_t)cap.data[cut + 9] << 8 |
                          (uint32_t)cap.data[cut + 10] << 16 | (uint32_t)cap.data[cut + 11] << 24;
            cut += 16 + cl;
            n++;
        }
        capw_init(&t);
        capw_bytes(&t, cap.data, cut + 30);
        save(&t, out, "truncated.pcap");
    }
    save(&cap, out, "basic.pcap");

    /* retrans */
    start(&c, &cap, "10.0.0.1", "10.0.0.2", 43211, 80, 0);
    handshake(&c);
    pkt(&c, 0, 101, 5001, F_PSH | F_ACK, req, 20);
    pkt(&c, 0, 101, 5001, F_PSH | F_ACK, req, 20);      /* the same again */
    pkt(&c, 0, 101, 5001, F_PSH | F_ACK, req, 43);      /* again, with more */
    pkt(&c, 1, 5001, 144, F_PSH | F_ACK, r1, 38);
    pkt(&c, 1, 5001, 144, F_PSH | F_ACK, r1, 38);
    pkt(&c, 1, 5039, 144, F_PSH | F_ACK, r2, 12);
    pkt(&c, 0, 144, 5051, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 1, 5051, 145, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 0, 145, 5052, F_ACK, NULL, 0);
    save(&cap, out, "retrans.pcap");

    /* ooo: the second and third pieces come before the first */
    start(&c, &cap, "10.0.0.1", "10.0.0.2", 43212, 80, 0);
    handshake(&c);
    pkt(&c, 0, 111, 5001, F_PSH | F_ACK, req + 10, 10);
    pkt(&c, 0, 131, 5001, F_PSH | F_ACK, req + 30, 13);
    pkt(&c, 0, 121, 5001, F_PSH | F_ACK, req + 20, 10);
    pkt(&c, 0, 101, 5001, F_PSH | F_ACK, req, 10);
    pkt(&c, 1, 5001, 144, F_PSH | F_ACK, r1, 38);
    pkt(&c, 1, 5039, 144, F_PSH | F_ACK, r2, 12);
    pkt(&c, 0, 144, 5051, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 1, 5051, 145, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 0, 145, 5052, F_ACK, NULL, 0);
    save(&cap, out, "ooo.pcap");

    /* ackgap: the server's first segment is lost, the client acks it all */
    start(&c, &cap, "10.0.0.1", "10.0.0.2", 43213, 80, 0);
    handshake(&c);
    pkt(&c, 0, 101, 5001, F_PSH | F_ACK, req, 43);
    pkt(&c, 1, 5039, 144, F_PSH | F_ACK, r2, 12); /* 38 bytes before it never seen */
    pkt(&c, 0, 144, 5051, F_ACK, NULL, 0);
    pkt(&c, 0, 144, 5051, F_PSH | F_ACK, "more", 4);
    pkt(&c, 1, 5051, 148, F_PSH | F_ACK, "ok", 2);
    pkt(&c, 0, 148, 5053, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 1, 5053, 149, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 0, 149, 5054, F_ACK, NULL, 0);
    save(&cap, out, "ackgap.pcap");

    /* ackgap_late: the ack passes the hole before the data behind it comes */
    start(&c, &cap, "10.0.0.1", "10.0.0.2", 43214, 80, 0);
    handshake(&c);
    pkt(&c, 0, 101, 5001, F_PSH | F_ACK, req, 43);
    pkt(&c, 0, 144, 5039, F_ACK, NULL, 0);         /* acks 38 bytes never seen */
    pkt(&c, 1, 5039, 144, F_PSH | F_ACK, r2, 12);
    pkt(&c, 0, 144, 5051, F_ACK, NULL, 0);
    pkt(&c, 0, 144, 5051, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 1, 5051, 145, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 0, 145, 5052, F_ACK, NULL, 0);
    save(&cap, out, "ackgap_late.pcap");

    /* hole_end: data behind a hole, never acknowledged */
    start(&c, &cap, "10.0.0.1", "10.0.0.2", 43215, 80, 0);
    handshake(&c);
    pkt(&c, 0, 101, 5001, F_PSH | F_ACK, req, 43);
    pkt(&c, 1, 5001, 144, F_PSH | F_ACK, r1, 20);
    pkt(&c, 1, 5039, 144, F_PSH | F_ACK, r2, 12);  /* 18 bytes missing before it */
    pkt(&c, 0, 144, 5021, F_ACK, NULL, 0);
    save(&cap, out, "hole_end.pcap");

    /* overlap: a later copy with different bytes loses */
    start(&c, &cap, "10.0.0.1", "10.0.0.2", 43216, 80, 0);
    handshake(&c);
    pkt(&c, 0, 111, 5001, F_PSH | F_ACK, "GOOD-GOOD-", 10);
    pkt(&c, 0, 111, 5001, F_PSH | F_ACK, "EVIL-EVIL-EVIL", 14);
    pkt(&c, 0, 101, 5001, F_PSH | F_ACK, "0123456789", 10);
    pkt(&c, 0, 115, 5001, F_PSH | F_ACK, "evil-evil-tail", 14);
    pkt(&c, 1, 5001, 129, F_PSH | F_ACK, r1, 38);
    pkt(&c, 0, 129, 5039, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 1, 5039, 130, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 0, 130, 5040, F_ACK, NULL, 0);
    save(&cap, out, "overlap.pcap");

    /* ipv6, the server greets first (SMTP-like) */
    start(&c, &cap, "2001:db8::1", "2001:db8:0:1::25", 50000, 25, 1);
    handshake(&c);
    pkt(&c, 1, 5001, 101, F_PSH | F_ACK, "220 hello\r\n", 11);
    pkt(&c, 0, 101, 5012, F_PSH | F_ACK, "EHLO x\r\n", 8);
    pkt(&c, 1, 5012, 109, F_PSH | F_ACK, "250 ok\r\n", 8);
    pkt(&c, 0, 109, 5020, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 1, 5020, 110, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 0, 110, 5021, F_ACK, NULL, 0);
    save(&cap, out, "ipv6.pcap");

    /* midstream: no handshake, the server's data comes first */
    start(&c, &cap, "192.168.1.10", "192.168.1.20", 40000, 8080, 0);
    pkt(&c, 1, 7000, 300, F_PSH | F_ACK, r1, 38);
    pkt(&c, 0, 300, 7038, F_PSH | F_ACK, req, 43);
    pkt(&c, 1, 7038, 343, F_PSH | F_ACK, r2, 12);
    pkt(&c, 0, 343, 7050, F_ACK, NULL, 0);
    save(&cap, out, "midstream.pcap");

    /* snaplen: 100-byte snapshots cut two 300-byte segments */
    start(&c, &cap, "10.0.0.1", "10.0.0.2", 43217, 80, 0);
    c.snaplen = 100;
    handshake(&c);
    pkt(&c, 0, 101, 5001, F_PSH | F_ACK, req, 43);
    pkt(&c, 1, 5001, 144, F_PSH | F_ACK, big, 300);
    pkt(&c, 1, 5301, 144, F_PSH | F_ACK, big, 300);
    pkt(&c, 1, 5601, 144, F_PSH | F_ACK, "end", 3);
    pkt(&c, 0, 144, 5604, F_ACK, NULL, 0);
    save(&cap, out, "snaplen.pcap");

    /* bytes: every value; records of 8, 16, 17 bytes, ending in spaces */
    start(&c, &cap, "10.0.0.1", "10.0.0.2", 43218, 80, 0);
    handshake(&c);
    pkt(&c, 0, 101, 5001, F_PSH | F_ACK, all, 256);
    pkt(&c, 1, 5001, 357, F_PSH | F_ACK, "abcdefg ", 8);
    pkt(&c, 1, 5009, 357, F_PSH | F_ACK, "abcdefghijklmno ", 16);
    pkt(&c, 1, 5025, 357, F_PSH | F_ACK, "abcdefghijklmnop ", 17);
    pkt(&c, 0, 357, 5042, F_PSH | F_ACK, " \r\n \x7f\x80 ", 7);
    pkt(&c, 1, 5042, 364, F_PSH | F_ACK, all + 32, 95); /* the printable ones */
    pkt(&c, 0, 364, 5137, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 1, 5137, 365, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 0, 365, 5138, F_ACK, NULL, 0);
    save(&cap, out, "bytes.pcap");

    /* reuse: the same ports twice */
    start(&c, &cap, "10.0.0.1", "10.0.0.2", 43219, 80, 0);
    handshake(&c);
    pkt(&c, 0, 101, 5001, F_PSH | F_ACK, "first", 5);
    pkt(&c, 1, 5001, 106, F_PSH | F_ACK, "one", 3);
    pkt(&c, 0, 106, 5004, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 1, 5004, 107, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 0, 107, 5005, F_ACK, NULL, 0);
    c.usec += 5000000;
    pkt(&c, 0, 900000, 0, F_SYN, NULL, 0);
    pkt(&c, 1, 800000, 900001, F_SYN | F_ACK, NULL, 0);
    pkt(&c, 0, 900001, 800001, F_ACK, NULL, 0);
    pkt(&c, 0, 900001, 800001, F_PSH | F_ACK, "second", 6);
    pkt(&c, 1, 800001, 900007, F_PSH | F_ACK, "two", 3);
    pkt(&c, 0, 900007, 800004, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 1, 800004, 900008, F_FIN | F_ACK, NULL, 0);
    pkt(&c, 0, 900008, 800005, F_ACK, NULL, 0);
    save(&cap, out, "reuse.pcap");

    /* twostreams: two sessions interleaved */
    {
        conv d;
        capw_buf *shared = &cap;
        start(&c, shared, "10.0.0.1", "10.0.0.2", 43220, 80, 0);
        d = c;
        d.addr[0] = "10.0.0.3";
        d.port[0] = 43221;
        handshake(&c);
        d.usec = c.usec;
        handshake(&d);
        c.usec = d.usec;
        pkt(&c, 0, 101, 5001, F_PSH | F_ACK, "A-request", 9);
        d.usec = c.usec;
        pkt(&d, 0, 101, 5001, F_PSH | F_ACK, "B-request", 9);
        c.usec = d.usec;
        pkt(&c, 1, 5001, 110, F_PSH | F_ACK, "A-answer", 8);
        d.usec = c.usec;
        pkt(&d, 1, 5001, 110, F_PSH | F_ACK, "B-answer", 8);
        save(shared, out, "twostreams.pcap");
    }
    return 0;
}
