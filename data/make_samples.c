/* make_samples.c - writes the sample captures in data/.

   data/sample.pcap and data/sample.pcapng hold the same six TCP sessions, a
   small tour of what reassembly has to get right:
     0  HTTP over IPv4: a page whose HTML carries inline <script> elements,
        sent with chunked transfer coding; closed with FIN both ways.
     1  HTTP over IPv4: a JavaScript file sent gzip-compressed; its segments
        arrive out of order and one is retransmitted.
     2  IPv6: a request/response where one server segment never reached the
        capture; the client's ACK shows it was received (a gap).
     3  802.1Q VLAN 42: a short exchange ended by a reset.
     4  HTTP again on session 0's addresses and ports: a new connection on a
        reused 4-tuple.
     5  a connection picked up in the middle (no handshake in the capture).
   The pcapng file puts the IPv6 session on a second interface of link type
   raw IP with nanosecond timestamps (the others are Ethernet, microseconds):
   different link types in one file, which libpcap-based tools refuse.

   Build and run (from the top of the repository):
       cc -O2 -I. -Itests -o build/make_samples data/make_samples.c -lz
       build/make_samples data
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "tcpsession.h"
#include "capwriter.h"
#include "pktbuild.h"

static capw_buf pcap, ng;
static int64_t clock_us = 1700000000LL * 1000000; /* 2023-11-14 22:13:20 UTC */

typedef struct conv {
    const char *caddr, *saddr;
    int v6, vlan;
    uint16_t cport, sport;
    uint32_t cseq, sseq; /* next sequence number of each side */
} conv;

/* One segment, written to both captures. dir 0: client to server. */
static void emit(conv *c, int dir, uint16_t flags, uint32_t seq, uint32_t ack, const void *data, size_t len,
                 int64_t gap_us) {
    pb_buf b;
    pb_tcp_hdr t = pb_tcp_default(dir ? c->sport : c->cport, dir ? c->cport : c->sport);
    pb_ip_hdr ip = c->v6 ? pb_ip6(dir ? c->saddr : c->caddr, dir ? c->caddr : c->saddr)
                         : pb_ip4(dir ? c->saddr : c->caddr, dir ? c->caddr : c->saddr);
    size_t iplen;
    clock_us += gap_us;
    t.seq = seq;
    t.ack = ack;
    t.flags = flags;
    t.window = 64240;
    pb_init(&b);
    if (len) pb_append(&b, data, len);
    pb_tcp(&b, &t);
    if (c->v6) pb_ipv6(&b, &ip, PB_TCP);
    else pb_ipv4(&b, &ip, PB_TCP);
    iplen = pb_len(&b);
    if (c->v6) {
        /* pcapng: raw IP interface 1, nanoseconds */
        capw_ng_epb(&ng, 1, (uint64_t)clock_us * 1000, pb_data(&b), (uint32_t)iplen, (uint32_t)iplen, NULL);
    }
    if (c->vlan) {
        pb_vlan(&b, (uint16_t)c->vlan, c->v6 ? PB_ETH_IPV6 : PB_ETH_IPV4);
        pb_ether(&b, PB_ETH_VLAN);
    } else {
        pb_ether(&b, c->v6 ? PB_ETH_IPV6 : PB_ETH_IPV4);
    }
    if (pb_len(&b) < 60) pb_append_zeros(&b, 60 - pb_len(&b)); /* Ethernet padding */
    capw_pcap_record(&pcap, (uint32_t)(clock_us / 1000000), (uint32_t)(clock_us % 1000000), pb_data(&b),
                     (uint32_t)pb_len(&b), (uint32_t)pb_len(&b));
    if (!c->v6) capw_ng_epb(&ng, 0, (uint64_t)clock_us, pb_data(&b), (uint32_t)pb_len(&b), (uint32_t)pb_len(&b), NULL);
}

static void handshake(conv *c) {
    emit(c, 0, TCPS_TH_SYN, c->cseq, 0, NULL, 0, 20000);
    emit(c, 1, TCPS_TH_SYN | TCPS_TH_ACK, c->sseq, c->cseq + 1, NULL, 0, 30000);
    c->cseq++, c->sseq++;
    emit(c, 0, TCPS_TH_ACK, c->cseq, c->sseq, NULL, 0, 30000);
}

/* Send len bytes from one side in segments of at most mss, ACKed by the other. */
static void send_data(conv *c, int dir, const char *data, size_t len, size_t mss) {
    uint32_t *seq = dir ? &c->sseq : &c->cseq, *peer = dir ? &c->cseq : &c->sseq;
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < mss ? len - off : mss;
        emit(c, dir, TCPS_TH_ACK | (off + n == len ? TCPS_TH_PSH : 0), *seq, *peer, data + off, n, 800);
        *seq += (uint32_t)n;
        off += n;
    }
    emit(c, !dir, TCPS_TH_ACK, *peer, *seq, NULL, 0, 20000);
}

static void close_fin(conv *c) {
    emit(c, 0, TCPS_TH_FIN | TCPS_TH_ACK, c->cseq, c->sseq, NULL, 0, 50000);
    emit(c, 1, TCPS_TH_FIN | TCPS_TH_ACK, c->sseq, c->cseq + 1, NULL, 0, 20000);
    emit(c, 0, TCPS_TH_ACK, c->cseq + 1, c->sseq + 1, NULL, 0, 20000);
    c->cseq++, c->sseq++;
}

static const char page_html[] =
    "<!doctype html>\n<html><head><title>tcpsession sample</title>\n"
    "<script>\nfunction greet(name) {\n  return 'hello, ' + name;\n}\n</script>\n"
    "<script src=\"/app.js\"></script>\n</head>\n<body onload=\"start()\">\n"
    "<p>A page with two scripts inline and one from a file.</p>\n"
    "<script type=\"text/javascript\">\ndocument.title = greet('reader');\n</script>\n"
    "</body></html>\n";

static const char app_js[] =
    "/* app.js: served gzip-compressed in the sample capture */\n"
    "function start() {\n"
    "  var items = [];\n"
    "  for (var i = 0; i < 64; i++) items.push('item ' + i);\n"
    "  document.body.appendChild(document.createTextNode(items.join(', ')));\n"
    "}\n";

int main(int argc, char **argv) {
    char path[512], buf[8192];
    const char *dir = argc > 1 ? argv[1] : "data";
    size_t n, half;
    conv a = {"192.168.1.10", "93.184.216.34", 0, 0, 51000, 80, 1000000, 3000000};
    conv b = {"192.168.1.10", "93.184.216.34", 0, 0, 51002, 80, 2000000, 4000000};
    conv v6 = {"2001:db8:1::10", "2001:db8:2::80", 1, 0, 40001, 8080, 111111, 222222};
    conv vl = {"10.0.42.7", "10.0.42.1", 0, 42, 33000, 6379, 5000, 9000};
    conv mid = {"172.16.0.5", "172.16.0.9", 0, 0, 45454, 22, 77777777, 88888888};
    uint8_t gz[4096];
    uLongf gzlen;
    z_stream zs;

    capw_init(&pcap);
    capw_init(&ng);
    capw_pcap_header(&pcap, 0, 0, 65535, TCPS_LINKTYPE_ETHERNET);
    capw_ng_shb(&ng, 0);
    capw_ng_idb(&ng, TCPS_LINKTYPE_ETHERNET, 65535, NULL);
    {
        capw_opts o;
        capw_opts_init(&o, 0);
        capw_opt_u8(&o, CAPW_IF_TSRESOL, 9);
        capw_opts_end(&o);
        capw_ng_idb(&ng, TCPS_LINKTYPE_RAW, 65535, &o);
        capw_opts_free(&o);
    }

    /* 0: HTML page, chunked */
    handshake(&a);
    n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: example.test\r\nUser-Agent: sample\r\n\r\n");
    send_data(&a, 0, buf, n, 1460);
    half = sizeof page_html / 2;
    n = (size_t)snprintf(buf, sizeof buf,
                         "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%.*s\r\n%zx\r\n%s\r\n0\r\n\r\n",
                         half, (int)half, page_html, sizeof page_html - 1 - half, page_html + half);
    send_data(&a, 1, buf, n, 300);
    close_fin(&a);

    /* 1: gzip JavaScript, out of order and a retransmission */
    memset(&zs, 0, sizeof zs);
    deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = (Bytef *)app_js;
    zs.avail_in = sizeof app_js - 1;
    zs.next_out = gz;
    zs.avail_out = sizeof gz;
    deflate(&zs, Z_FINISH);
    gzlen = zs.total_out;
    deflateEnd(&zs);
    handshake(&b);
    n = (size_t)snprintf(buf, sizeof buf, "GET /app.js HTTP/1.1\r\nHost: example.test\r\nAccept-Encoding: gzip\r\n\r\n");
    send_data(&b, 0, buf, n, 1460);
    n = (size_t)snprintf(buf, sizeof buf,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nContent-Encoding: gzip\r\n"
                         "Content-Length: %lu\r\n\r\n",
                         (unsigned long)gzlen);
    memcpy(buf + n, gz, gzlen);
    n += gzlen;
    {
        /* three segments: the third is captured before the second, and the
           first is sent twice */
        size_t s1 = n / 3, s2 = n / 3;
        uint32_t q = b.sseq;
        emit(&b, 1, TCPS_TH_ACK, q, b.cseq, buf, s1, 800);
        emit(&b, 1, TCPS_TH_ACK | TCPS_TH_PSH, q + (uint32_t)(s1 + s2), b.cseq, buf + s1 + s2, n - s1 - s2, 800);
        emit(&b, 1, TCPS_TH_ACK, q + (uint32_t)s1, b.cseq, buf + s1, s2, 300);
        emit(&b, 1, TCPS_TH_ACK, q, b.cseq, buf, s1, 200000); /* retransmission */
        b.sseq += (uint32_t)n;
        emit(&b, 0, TCPS_TH_ACK, b.cseq, b.sseq, NULL, 0, 20000);
    }
    close_fin(&b);

    /* 2: IPv6, one server segment lost before the capture */
    handshake(&v6);
    send_data(&v6, 0, "LIST\n", 5, 1460);
    {
        const char *r1 = "first part of the answer\n", *r2 = "this part never reached the capture\n",
                   *r3 = "last part of the answer\n";
        uint32_t q = v6.sseq, l1 = (uint32_t)strlen(r1), l2 = (uint32_t)strlen(r2), l3 = (uint32_t)strlen(r3);
        emit(&v6, 1, TCPS_TH_ACK, q, v6.cseq, r1, l1, 900);
        emit(&v6, 1, TCPS_TH_ACK | TCPS_TH_PSH, q + l1 + l2, v6.cseq, r3, l3, 900);
        v6.sseq += l1 + l2 + l3;
        emit(&v6, 0, TCPS_TH_ACK, v6.cseq, v6.sseq, NULL, 0, 20000); /* the client had it all */
    }
    close_fin(&v6);

    /* 3: VLAN 42, ended by a reset */
    handshake(&vl);
    send_data(&vl, 0, "PING\r\n", 6, 1460);
    send_data(&vl, 1, "+PONG\r\n", 7, 1460);
    emit(&vl, 0, TCPS_TH_RST | TCPS_TH_ACK, vl.cseq, vl.sseq, NULL, 0, 10000);

    /* 4: session 0's 4-tuple again, a new connection */
    a.cseq = 6000000;
    a.sseq = 7000000;
    handshake(&a);
    n = (size_t)snprintf(buf, sizeof buf, "GET /favicon.ico HTTP/1.1\r\nHost: example.test\r\n\r\n");
    send_data(&a, 0, buf, n, 1460);
    n = (size_t)snprintf(buf, sizeof buf, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    send_data(&a, 1, buf, n, 1460);
    close_fin(&a);

    /* 5: picked up mid-stream */
    send_data(&mid, 1, "SSH-2.0-sample\r\n", 16, 1460);
    send_data(&mid, 0, "SSH-2.0-client\r\n", 16, 1460);

    snprintf(path, sizeof path, "%s/sample.pcap", dir);
    if (capw_save(&pcap, path) != 0) return perror(path), 1;
    snprintf(path, sizeof path, "%s/sample.pcapng", dir);
    if (capw_save(&ng, path) != 0) return perror(path), 1;
    capw_free(&pcap);
    capw_free(&ng);
    return 0;
}
