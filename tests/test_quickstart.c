/* The QUICK START of tcpsession.h's doc comment, compiled and run.

   The Makefile extracts the snippet from the header at build time
   (tests/quickstart_extract.sh -> build/gen/quickstart.inc), so the
   documentation cannot drift from the API: if the snippet stops compiling,
   or stops doing what it says, this suite fails.

   The snippet opens "capture.pcap" in the current directory and writes every
   delivered byte to stdout; the test writes a small capture of one HTTP-like
   exchange there and checks that stdout holds exactly the two messages, the
   request first (the reply acknowledges it). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quickstart.inc"

#define REQ "GET / HTTP/1.0\r\n\r\n"
#define RSP "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"

typedef struct buf {
    uint8_t d[4096];
    size_t n;
} buf;

static void put(buf *b, const void *p, size_t n) {
    cr_assert_leq(b->n + n, sizeof b->d);
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void le32(buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}
static void be16at(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void be32at(uint8_t *p, uint32_t v) {
    be16at(p, v >> 16);
    be16at(p + 2, v & 0xffff);
}
static unsigned csum(const uint8_t *p, size_t n, uint32_t sum) {
    size_t i;
    for (i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1) sum += (uint32_t)p[n - 1] << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return ~sum & 0xffff;
}

/* One Ethernet/IPv4/TCP frame from 10.0.0.1:40000 (client) or 10.0.0.2:80,
   with correct checksums, as a pcap record at time t ms. */
static void frame(buf *b, int from_client, uint8_t flags, uint32_t seq, uint32_t ack,
                  const char *payload, unsigned t) {
    uint8_t f[14 + 20 + 20 + 256];
    size_t plen = payload ? strlen(payload) : 0, len = 14 + 20 + 20 + plen;
    uint8_t *ip = f + 14, *tcp = f + 34, pseudo[12];
    uint8_t ca[4] = {10, 0, 0, 1}, sa[4] = {10, 0, 0, 2};
    uint32_t sum = 0;
    size_t i;
    cr_assert_leq(plen, 256);
    memset(f, 0, sizeof f);
    memcpy(f, from_client ? "\x02\0\0\0\0\x02" "\x02\0\0\0\0\x01" : "\x02\0\0\0\0\x01" "\x02\0\0\0\0\x02", 12);
    be16at(f + 12, 0x0800);
    ip[0] = 0x45;
    be16at(ip + 2, (unsigned)(20 + 20 + plen));
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, from_client ? ca : sa, 4);
    memcpy(ip + 16, from_client ? sa : ca, 4);
    be16at(ip + 10, csum(ip, 20, 0));
    be16at(tcp, from_client ? 40000 : 80);
    be16at(tcp + 2, from_client ? 80 : 40000);
    be32at(tcp + 4, seq);
    be32at(tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    be16at(tcp + 14, 65535);
    if (plen) memcpy(tcp + 20, payload, plen);
    memcpy(pseudo, ip + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = 6;
    be16at(pseudo + 10, (unsigned)(20 + plen));
    for (i = 0; i < 12; i += 2) sum += (uint32_t)(pseudo[i] << 8 | pseudo[i + 1]);
    be16at(tcp + 16, csum(tcp, 20 + plen, sum));
    le32(b, 1700000000u + t / 1000);
    le32(b, (t % 1000) * 1000);
    le32(b, (uint32_t)len);
    le32(b, (uint32_t)len);
    put(b, f, len);
}

static void write_capture(const char *path) {
    static buf b;
    FILE *fp;
    const uint32_t c = 1000, s = 5000, rl = sizeof REQ - 1, sl = sizeof RSP - 1;
    b.n = 0;
    le32(&b, 0xa1b2c3d4u);
    le32(&b, 2 | 4u << 16); /* version 2.4 */
    le32(&b, 0);
    le32(&b, 0);
    le32(&b, 65535);
    le32(&b, TCPS_LINKTYPE_ETHERNET);
    frame(&b, 1, 0x02, c, 0, NULL, 0);                     /* SYN */
    frame(&b, 0, 0x12, s, c + 1, NULL, 10);                /* SYN-ACK */
    frame(&b, 1, 0x10, c + 1, s + 1, NULL, 20);            /* ACK */
    frame(&b, 1, 0x18, c + 1, s + 1, REQ, 30);             /* request */
    frame(&b, 0, 0x18, s + 1, c + 1 + rl, RSP, 40);        /* reply, acks it */
    frame(&b, 1, 0x11, c + 1 + rl, s + 1 + sl, NULL, 50);  /* FIN */
    frame(&b, 0, 0x11, s + 1 + sl, c + 2 + rl, NULL, 60);  /* FIN */
    frame(&b, 1, 0x10, c + 2 + rl, s + 2 + sl, NULL, 70);  /* last ACK */
    fp = fopen(path, "wb");
    cr_assert_not_null(fp, "cannot write %s", path);
    cr_assert_eq(fwrite(b.d, 1, b.n, fp), b.n);
    cr_assert_eq(fclose(fp), 0);
}

static char dir[64];

static void enter_tmpdir(void) {
    strcpy(dir, "/tmp/tcps-quickstart-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(chdir(dir), 0);
    cr_redirect_stdout();
}
static void leave_tmpdir(void) {
    char path[96];
    snprintf(path, sizeof path, "%s/capture.pcap", dir);
    remove(path);
    rmdir(dir);
}

Test(quickstart, prints_both_directions_in_order, .init = enter_tmpdir, .fini = leave_tmpdir) {
    write_capture("capture.pcap");
    cr_assert_eq(quickstart_main(), 0, "the QUICK START failed on a valid capture");
    fflush(stdout);
    cr_assert_stdout_eq_str(REQ RSP);
}

Test(quickstart, fails_cleanly_without_capture, .init = enter_tmpdir, .fini = leave_tmpdir) {
    cr_assert_neq(quickstart_main(), 0, "no capture.pcap, yet the QUICK START succeeded");
    fflush(stdout);
    cr_assert_stdout_eq_str("");
}
