/* mkcaps_verify - the small captures tests/cli/test_list.sh and
   test_verify.sh run on.

       mkcaps_verify DIR

   DIR/two.pcap      two complete sessions (IPv4 with a request and a reply,
                     then IPv6), handshake to FIN; the bytes each way are
                     written beside it as DIR/two.<stream>.<c2s|s2c>
   DIR/hole.pcap     one session whose client sends bytes 0-99, then 200-299;
                     100-199 never appear and nothing acknowledges them, and
                     the capture ends: the last 100 bytes sit behind a hole
   DIR/pad.pcap      one session whose server's last segment is 2 bytes in
                     a 60-byte Ethernet frame (4 bytes of padding after the
                     IP datagram, as a NIC pads short frames)
   DIR/synack.pcap   one session whose capture starts with the SYN-ACK, so
                     the first packet's source is the server
*/
#include "capwriter.h"
#include "pktbuild.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

typedef struct conn {
    int v6;
    const char *ca, *sa;
    uint16_t cp, sp;
    uint32_t cseq, sseq; /* next sequence numbers */
    uint32_t t;          /* microseconds */
} conn;

static void frame(capw_buf *cap, conn *c, int from_client, uint32_t seq, uint32_t ack, uint16_t flags,
                  const void *data, size_t len, size_t pad) {
    pb_buf b;
    pb_tcp_hdr t = pb_tcp_default(from_client ? c->cp : c->sp, from_client ? c->sp : c->cp);
    pb_ip_hdr ip = c->v6 ? pb_ip6(from_client ? c->ca : c->sa, from_client ? c->sa : c->ca)
                         : pb_ip4(from_client ? c->ca : c->sa, from_client ? c->sa : c->ca);
    pb_init(&b);
    if (len) pb_append(&b, data, len);
    t.seq = seq;
    t.ack = ack;
    t.flags = flags;
    pb_tcp(&b, &t);
    if (c->v6) pb_ipv6(&b, &ip, PB_TCP);
    else pb_ipv4(&b, &ip, PB_TCP);
    pb_ether(&b, c->v6 ? PB_ETH_IPV6 : PB_ETH_IPV4);
    if (pad) pb_append_zeros(&b, pad);
    c->t += 1000;
    capw_pcap_record(cap, 1700000000 + c->t / 1000000, c->t % 1000000, pb_data(&b), (uint32_t)pb_len(&b),
                     (uint32_t)pb_len(&b));
}

static void handshake(capw_buf *cap, conn *c) {
    frame(cap, c, 1, c->cseq, 0, F_SYN, NULL, 0, 0);
    frame(cap, c, 0, c->sseq, c->cseq + 1, F_SYN | F_ACK, NULL, 0, 0);
    c->cseq++, c->sseq++;
    frame(cap, c, 1, c->cseq, c->sseq, F_ACK, NULL, 0, 0);
}

static void send_data(capw_buf *cap, conn *c, int from_client, const char *data, size_t len) {
    if (from_client) {
        frame(cap, c, 1, c->cseq, c->sseq, F_ACK | F_PSH, data, len, 0);
        c->cseq += (uint32_t)len;
        frame(cap, c, 0, c->sseq, c->cseq, F_ACK, NULL, 0, 0);
    } else {
        frame(cap, c, 0, c->sseq, c->cseq, F_ACK | F_PSH, data, len, 0);
        c->sseq += (uint32_t)len;
        frame(cap, c, 1, c->cseq, c->sseq, F_ACK, NULL, 0, 0);
    }
}

static void finish(capw_buf *cap, conn *c) {
    frame(cap, c, 1, c->cseq, c->sseq, F_FIN | F_ACK, NULL, 0, 0);
    frame(cap, c, 0, c->sseq, c->cseq + 1, F_FIN | F_ACK, NULL, 0, 0);
    c->cseq++, c->sseq++;
    frame(cap, c, 1, c->cseq, c->sseq, F_ACK, NULL, 0, 0);
}

static void save(capw_buf *b, const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (capw_save(b, path) != 0) {
        perror(path);
        exit(1);
    }
}

static void save_bytes(const char *dir, const char *name, const char *data, size_t len) {
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

int main(int argc, char **argv) {
    capw_buf b;
    conn c;
    static char big[3000];
    const char *req = "GET /index.html HTTP/1.1\r\nHost: example.test\r\n\r\n";
    const char *rsp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    const char *q6 = "PING six\n", *r6 = "PONG six\n";
    char hole[300];
    size_t i;
    if (argc != 2) {
        fprintf(stderr, "usage: mkcaps_verify DIR\n");
        return 2;
    }
    for (i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);

    /* two.pcap */
    capw_init(&b);
    capw_pcap_header(&b, 0, 0, 65535, 1);
    memset(&c, 0, sizeof c);
    c.ca = "10.0.0.1", c.sa = "10.0.0.2", c.cp = 40000, c.sp = 80, c.cseq = 1000, c.sseq = 5000;
    handshake(&b, &c);
    send_data(&b, &c, 1, req, strlen(req));
    send_data(&b, &c, 0, rsp, strlen(rsp));
    send_data(&b, &c, 0, big, 1400);
    send_data(&b, &c, 0, big + 1400, 1600);
    finish(&b, &c);
    memset(&c, 0, sizeof c);
    c.v6 = 1, c.ca = "2001:db8::1", c.sa = "2001:db8:0:1::2", c.cp = 40001, c.sp = 7, c.cseq = 77,
    c.sseq = 4000000000u, c.t = 1000000;
    handshake(&b, &c);
    send_data(&b, &c, 1, q6, strlen(q6));
    send_data(&b, &c, 0, r6, strlen(r6));
    finish(&b, &c);
    save(&b, argv[1], "two.pcap");
    capw_free(&b);
    {
        static char s2c[4096];
        size_t n = strlen(rsp);
        memcpy(s2c, rsp, n);
        memcpy(s2c + n, big, 3000);
        save_bytes(argv[1], "two.0.c2s", req, strlen(req));
        save_bytes(argv[1], "two.0.s2c", s2c, n + 3000);
        save_bytes(argv[1], "two.1.c2s", q6, strlen(q6));
        save_bytes(argv[1], "two.1.s2c", r6, strlen(r6));
    }

    /* hole.pcap */
    capw_init(&b);
    capw_pcap_header(&b, 0, 0, 65535, 1);
    memset(&c, 0, sizeof c);
    c.ca = "192.168.1.1", c.sa = "192.168.1.2", c.cp = 50000, c.sp = 21, c.cseq = 100, c.sseq = 900;
    for (i = 0; i < sizeof hole; i++) hole[i] = (char)('A' + i / 100);
    handshake(&b, &c);
    frame(&b, &c, 1, c.cseq, c.sseq, F_ACK | F_PSH, hole, 100, 0);
    frame(&b, &c, 0, c.sseq, c.cseq + 100, F_ACK, NULL, 0, 0);
    frame(&b, &c, 1, c.cseq + 200, c.sseq, F_ACK | F_PSH, hole + 200, 100, 0);
    save(&b, argv[1], "hole.pcap");
    capw_free(&b);

    /* pad.pcap */
    capw_init(&b);
    capw_pcap_header(&b, 0, 0, 65535, 1);
    memset(&c, 0, sizeof c);
    c.ca = "172.16.0.1", c.sa = "172.16.0.2", c.cp = 33000, c.sp = 25, c.cseq = 1, c.sseq = 2;
    handshake(&b, &c);
    send_data(&b, &c, 0, "220 ready\r\n", 11);
    send_data(&b, &c, 1, "QUIT\r\n", 6);
    frame(&b, &c, 0, c.sseq, c.cseq, F_ACK | F_PSH, "\r\n", 2, 4); /* 14+20+20+2+4 = 60 */
    c.sseq += 2;
    frame(&b, &c, 1, c.cseq, c.sseq, F_ACK, NULL, 0, 6);
    finish(&b, &c);
    save(&b, argv[1], "pad.pcap");
    capw_free(&b);

    /* synack.pcap */
    capw_init(&b);
    capw_pcap_header(&b, 0, 0, 65535, 1);
    memset(&c, 0, sizeof c);
    c.ca = "10.9.9.9", c.sa = "10.8.8.8", c.cp = 1234, c.sp = 443, c.cseq = 10, c.sseq = 20;
    frame(&b, &c, 0, c.sseq, c.cseq + 1, F_SYN | F_ACK, NULL, 0, 0);
    c.cseq++, c.sseq++;
    frame(&b, &c, 1, c.cseq, c.sseq, F_ACK, NULL, 0, 0);
    send_data(&b, &c, 1, "client first", 12);
    send_data(&b, &c, 0, "server second", 13);
    finish(&b, &c);
    save(&b, argv[1], "synack.pcap");
    capw_free(&b);
    return 0;
}
