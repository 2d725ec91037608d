/* Captures for tests/cli/test_extract.sh, and what extract must find in them.

   extract_mkcaps DIR          writes into DIR:
     http.pcap      one HTTP/1.1 session: a JavaScript response gzip-compressed
                    and sent chunked; an HTML page (deflate) with inline
                    scripts, an empty <script src>, a non-JavaScript
                    <script type=text/template>; a HEAD answered with a
                    Content-Length and no body; a plain text/javascript body
     http.expect/1.js ... 4.js   the scripts in the order they must be found
     gap.pcap       a session whose server lost a segment the client acknowledged
     ipv6.pcap      an IPv6 session
     reuse.pcap     two sessions, one after the other, on the same 4-tuple
   extract_mkcaps big FILE MB  about MB megabytes of many concurrent sessions */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "tcpsession.h"
#include "capwriter.h"
#include "pktbuild.h"

typedef struct conn {
    const char *ip[2]; /* client, server */
    uint16_t port[2];
    uint32_t seq[2];   /* next sequence number of each side */
    int v6;
} conn;

static capw_buf cap;
static uint64_t now_us = 1700000000ull * 1000000ull;

static void emit(conn *c, int from, uint16_t flags, const void *data, size_t len) {
    pb_buf *b = (pb_buf *)malloc(sizeof *b);
    pb_tcp_hdr t = pb_tcp_default(c->port[from], c->port[!from]);
    pb_ip_hdr ip = c->v6 ? pb_ip6(c->ip[from], c->ip[!from]) : pb_ip4(c->ip[from], c->ip[!from]);
    t.seq = c->seq[from];
    t.ack = c->seq[!from];
    t.flags = flags;
    if (!(flags & TCPS_TH_ACK)) t.ack = 0;
    pb_init(b);
    if (len) pb_append(b, data, len);
    pb_tcp(b, &t);
    if (c->v6) {
        pb_ipv6(b, &ip, PB_TCP);
        pb_ether(b, PB_ETH_IPV6);
    } else {
        pb_ipv4(b, &ip, PB_TCP);
        pb_ether(b, PB_ETH_IPV4);
    }
    now_us += 1000;
    capw_pcap_record(&cap, (uint32_t)(now_us / 1000000), (uint32_t)(now_us % 1000000), pb_data(b),
                     (uint32_t)pb_len(b), (uint32_t)pb_len(b));
    c->seq[from] += (uint32_t)len + ((flags & (TCPS_TH_SYN | TCPS_TH_FIN)) ? 1 : 0);
    free(b);
}

static void handshake(conn *c) {
    emit(c, 0, TCPS_TH_SYN, NULL, 0);
    emit(c, 1, TCPS_TH_SYN | TCPS_TH_ACK, NULL, 0);
    emit(c, 0, TCPS_TH_ACK, NULL, 0);
}

static void send_data(conn *c, int from, const void *data, size_t len) {
    const uint8_t *p = (const uint8_t *)data;
    while (len) {
        size_t k = len > 1400 ? 1400 : len;
        emit(c, from, TCPS_TH_ACK | TCPS_TH_PSH, p, k);
        p += k;
        len -= k;
    }
    emit(c, !from, TCPS_TH_ACK, NULL, 0);
}

static void finish(conn *c) {
    emit(c, 0, TCPS_TH_FIN | TCPS_TH_ACK, NULL, 0);
    emit(c, 1, TCPS_TH_FIN | TCPS_TH_ACK, NULL, 0);
    emit(c, 0, TCPS_TH_ACK, NULL, 0);
}

static size_t zpack(const char *in, uint8_t *out, size_t cap_out, int gzip) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, gzip ? 31 : 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) exit(1);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)strlen(in);
    z.next_out = out;
    z.avail_out = (uInt)cap_out;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) exit(1);
    deflateEnd(&z);
    return cap_out - z.avail_out;
}

static void save(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (capw_save(&cap, path)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    capw_free(&cap);
}

static void put_file(const char *dir, const char *name, const void *p, size_t n) {
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static const char js1[] =
    "function greet(name) {\n  return 'hello, ' + name + '\\n';\n}\n/* padding so that the body spans "
    "several chunks and segments: 0123456789012345678901234567890123456789 */\nvar x = [1,2,3].map(greet);\n";
static const char inline1[] = "\n  var a = 1; if (a < 2) { document.title = \"</scr\" + \"ipt>\"; }\n";
static const char inline2[] = "console.log('second');";
static const char js4[] = "alert(\"plain\");\n";

static void make_http(const char *dir) {
    conn c = {{"10.0.0.1", "10.0.0.2"}, {43210, 80}, {1000, 5000}, 0};
    static uint8_t z[65536], body[65536], resp[70000];
    char html[4096], expdir[4096];
    size_t zn, bn = 0, off = 0, rn;
    capw_init(&cap);
    capw_pcap_header(&cap, 0, 0, 65535, 1);
    handshake(&c);
    /* 1: gzip + chunked JavaScript, chunks of 50 bytes */
    send_data(&c, 0, "GET /app.js HTTP/1.1\r\nHost: t\r\n\r\n", 33);
    zn = zpack(js1, z, sizeof z, 1);
    rn = (size_t)sprintf((char *)resp, "HTTP/1.1 200 OK\r\nContent-Type: application/javascript; charset=utf-8\r\n"
                                       "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n");
    while (off < zn) {
        size_t k = zn - off > 50 ? 50 : zn - off;
        rn += (size_t)sprintf((char *)resp + rn, "%zx;ext=1\r\n", k);
        memcpy(resp + rn, z + off, k);
        rn += k;
        memcpy(resp + rn, "\r\n", 2);
        rn += 2;
        off += k;
    }
    rn += (size_t)sprintf((char *)resp + rn, "0\r\nX-Trailer: 1\r\n\r\n");
    send_data(&c, 1, resp, rn);
    /* 2: HTML, deflate, inline scripts */
    send_data(&c, 0, "GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n", 36);
    snprintf(html, sizeof html,
             "<!DOCTYPE html><html><head><SCRIPT type=\"text/javascript\">%s</SCRIPT>"
             "<script src=\"/app.js\"></script><script type=\"text/template\"><b>not code</b></script>"
             "</head><body><scripted>no</scripted><script>%s</script></body></html>",
             inline1, inline2);
    zn = zpack(html, z, sizeof z, 0);
    rn = (size_t)sprintf((char *)resp, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: deflate\r\n"
                                       "Content-Length: %zu\r\n\r\n", zn);
    memcpy(resp + rn, z, zn);
    send_data(&c, 1, resp, rn + zn);
    /* 3: HEAD: a length but no body */
    send_data(&c, 0, "HEAD /app.js HTTP/1.1\r\nHost: t\r\n\r\n", 34);
    rn = (size_t)sprintf((char *)resp, "HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\n"
                                       "Content-Length: 4321\r\n\r\n");
    send_data(&c, 1, resp, rn);
    /* 4: plain */
    send_data(&c, 0, "GET /b.js HTTP/1.1\r\nHost: t\r\n\r\n", 31);
    rn = (size_t)sprintf((char *)resp, "HTTP/1.1 200 OK\r\nContent-Type: text/javascript\r\nContent-Length: %zu\r\n\r\n%s",
                         strlen(js4), js4);
    send_data(&c, 1, resp, rn);
    finish(&c);
    save(dir, "http.pcap");
    snprintf(expdir, sizeof expdir, "%s/http.expect", dir);
    (void)bn;
    (void)body;
    put_file(expdir, "1.js", js1, strlen(js1));
    put_file(expdir, "2.js", inline1, strlen(inline1));
    put_file(expdir, "3.js", inline2, strlen(inline2));
    put_file(expdir, "4.js", js4, strlen(js4));
}

static void make_gap(const char *dir) {
    conn c = {{"10.1.0.1", "10.1.0.2"}, {40000, 8080}, {7000, 9000}, 0};
    capw_init(&cap);
    capw_pcap_header(&cap, 0, 0, 65535, 1);
    handshake(&c);
    send_data(&c, 0, "request\n", 8);
    emit(&c, 1, TCPS_TH_ACK | TCPS_TH_PSH, "first part|", 11);
    c.seq[1] += 12; /* "missing part" never captured */
    emit(&c, 1, TCPS_TH_ACK | TCPS_TH_PSH, "last part", 9);
    emit(&c, 0, TCPS_TH_ACK, NULL, 0); /* acknowledges all of it */
    finish(&c);
    save(dir, "gap.pcap");
}

static void make_ipv6(const char *dir) {
    conn c = {{"2001:db8::1", "2001:db8:0:1::2"}, {50000, 443}, {1, 100}, 1};
    capw_init(&cap);
    capw_pcap_header(&cap, 0, 0, 65535, 1);
    handshake(&c);
    send_data(&c, 0, "ping over v6\n", 13);
    send_data(&c, 1, "pong over v6\n\x00\xff", 15);
    finish(&c);
    save(dir, "ipv6.pcap");
}

static void make_reuse(const char *dir) {
    int k;
    capw_init(&cap);
    capw_pcap_header(&cap, 0, 0, 65535, 1);
    for (k = 0; k < 2; k++) {
        conn c = {{"172.16.5.2", "172.16.5.92"}, {5678, 9999}, {100000u + 50000u * (unsigned)k, 7u + 90000u * (unsigned)k}, 0};
        char msg[64];
        int n = sprintf(msg, "session %d\n", k);
        handshake(&c);
        send_data(&c, 0, msg, (size_t)n);
        send_data(&c, 1, msg, (size_t)n);
        finish(&c);
        now_us += 5000000; /* well after the first one closed */
    }
    save(dir, "reuse.pcap");
}

/* many concurrent sessions, each a request and a response of varied size */
static void make_big(const char *path, unsigned mb) {
    FILE *f = fopen(path, "wb");
    static uint8_t payload[1400];
    uint64_t written = 0, goal = (uint64_t)mb << 20;
    unsigned i, round = 0;
    conn c[200];
    if (!f) exit(1);
    for (i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 7 + 3);
    capw_init(&cap);
    capw_pcap_header(&cap, 0, 0, 65535, 1);
    while (written < goal) {
        for (i = 0; i < 200; i++) {
            char a[32], b[32];
            static char ips[200][2][32];
            snprintf(a, sizeof a, "10.%u.%u.%u", (round >> 8) & 255, round & 255, i);
            snprintf(b, sizeof b, "192.168.%u.%u", i & 255, (round * 7) & 255);
            memcpy(ips[i][0], a, sizeof a);
            memcpy(ips[i][1], b, sizeof b);
            c[i].ip[0] = ips[i][0];
            c[i].ip[1] = ips[i][1];
            c[i].port[0] = (uint16_t)(1024 + ((round * 200 + i) % 60000));
            c[i].port[1] = 80;
            c[i].seq[0] = 1000 * i + round;
            c[i].seq[1] = 77777 * i + round;
            c[i].v6 = 0;
            handshake(&c[i]);
        }
        for (i = 0; i < 200; i++) emit(&c[i], 0, TCPS_TH_ACK | TCPS_TH_PSH, payload, 300);
        {
            unsigned seg;
            for (seg = 0; seg < 20; seg++)
                for (i = 0; i < 200; i++)
                    if (seg < 2 + (i % 19)) emit(&c[i], 1, TCPS_TH_ACK, payload, 1400);
        }
        for (i = 0; i < 200; i++) finish(&c[i]);
        round++;
        if (fwrite(cap.data, 1, cap.len, f) != cap.len) exit(1);
        written += cap.len;
        cap.len = 0;
    }
    fclose(f);
    capw_free(&cap);
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "big")) {
        make_big(argv[2], (unsigned)atoi(argv[3]));
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: extract_mkcaps DIR | big FILE MB\n");
        return 2;
    }
    {
        char d[4096];
        snprintf(d, sizeof d, "mkdir -p '%s/http.expect'", argv[1]);
        if (system(d) != 0) return 1;
    }
    make_http(argv[1]);
    make_gap(argv[1]);
    make_ipv6(argv[1]);
    make_reuse(argv[1]);
    return 0;
}
