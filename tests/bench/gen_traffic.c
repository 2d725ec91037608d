/* gen_traffic - write a large pcap of plausible TCP traffic for benchmarks.

       gen_traffic OUT.pcap MEGABYTES [SEED]

   Many interleaved sessions (256 open at a time, 10% over IPv6), each a
   handshake with options, a request of 100-900 bytes, a reply of 2 KB to
   4 MB mostly in full 1514-byte frames with an ACK every two segments,
   sometimes a second request, then FIN both ways.  Ethernet link, correct
   IPv4 and TCP checksums, timestamps a few microseconds apart.  Deterministic
   for a given seed.  Writes until the file reaches MEGABYTES MiB, then lets
   the open sessions close (replies cut short). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSESS 256
#define MSS 1460

static uint64_t rng_state;
static uint32_t rnd(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

typedef struct sess {
    int v6;
    uint8_t cli[16], srv[16];
    uint16_t cport, sport;
    uint32_t cseq, sseq;  /* next sequence number each way */
    int state;            /* 0 SYN, 1 SYN-ACK, 2 ACK, 3 request, 4 reply, 5 FIN c, 6 FIN s, 7 last ACK */
    uint32_t req_left, reply_left, unacked;
    int requests;
} sess;

static uint8_t payload_pool[1 << 16];
static FILE *out;
static uint64_t written, packets, limit_bytes;
static uint64_t ts_us = 1700000000ull * 1000000ull;
static uint32_t next_port = 1024;

static void w32(uint8_t *p, uint32_t v) { /* little endian: the pcap's byte order */
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static void b16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void b32(uint8_t *p, uint32_t v) {
    b16(p, v >> 16);
    b16(p + 2, v & 0xffff);
}
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s) {
    size_t i;
    for (i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1) s += (uint32_t)p[n - 1] << 8;
    return s;
}
static unsigned fin16(uint32_t s) {
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return ~s & 0xffff;
}

static void emit(sess *s, int from_client, uint8_t flags, uint32_t len) {
    uint8_t f[14 + 40 + 40 + MSS];
    uint8_t *ip = f + 14, *tcp;
    const uint8_t *src = from_client ? s->cli : s->srv, *dst = from_client ? s->srv : s->cli;
    int syn = (flags & 0x02) != 0;
    size_t iphl = s->v6 ? 40 : 20, thl = syn ? 40 : 32, total;
    uint32_t seq = from_client ? s->cseq : s->sseq, ack = from_client ? s->sseq : s->cseq, ps;
    uint8_t rec[16];

    memcpy(f, from_client ? "\x00\x16\x3e\x00\x00\x02\x00\x16\x3e\x00\x00\x01"
                          : "\x00\x16\x3e\x00\x00\x01\x00\x16\x3e\x00\x00\x02", 12);
    b16(f + 12, s->v6 ? 0x86dd : 0x0800);
    tcp = ip + iphl;
    if (s->v6) {
        b32(ip, 0x60000000u);
        b16(ip + 4, (unsigned)(thl + len));
        ip[6] = 6;
        ip[7] = 64;
        memcpy(ip + 8, src, 16);
        memcpy(ip + 24, dst, 16);
    } else {
        ip[0] = 0x45;
        ip[1] = 0;
        b16(ip + 2, (unsigned)(20 + thl + len));
        b16(ip + 4, (unsigned)(packets & 0xffff));
        b16(ip + 6, 0x4000);
        ip[8] = 64;
        ip[9] = 6;
        b16(ip + 10, 0);
        memcpy(ip + 12, src, 4);
        memcpy(ip + 16, dst, 4);
        b16(ip + 10, fin16(sum16(ip, 20, 0)));
    }
    b16(tcp, from_client ? s->cport : s->sport);
    b16(tcp + 2, from_client ? s->sport : s->cport);
    b32(tcp + 4, seq);
    b32(tcp + 8, (flags & 0x10) ? ack : 0);
    tcp[12] = (uint8_t)((thl / 4) << 4);
    tcp[13] = flags;
    b16(tcp + 14, syn ? 64240 : 501);
    b16(tcp + 16, 0);
    b16(tcp + 18, 0);
    if (syn) { /* MSS, SACK permitted, timestamps, window scale */
        static const uint8_t o[20] = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7};
        memcpy(tcp + 20, o, 20);
        w32(tcp + 28, (uint32_t)(ts_us / 1000));
    } else { /* NOP NOP timestamps */
        tcp[20] = 1;
        tcp[21] = 1;
        tcp[22] = 8;
        tcp[23] = 10;
        b32(tcp + 24, (uint32_t)(ts_us / 1000));
        b32(tcp + 28, (uint32_t)(ts_us / 1000) - 3);
    }
    if (len) memcpy(tcp + thl, payload_pool + (rnd() & 0x7fff), len);
    ps = sum16(src, s->v6 ? 16 : 4, 0);
    ps = sum16(dst, s->v6 ? 16 : 4, ps);
    ps += 6 + (uint32_t)(thl + len);
    b16(tcp + 16, fin16(sum16(tcp, thl + len, ps)));
    total = 14 + iphl + thl + len;

    ts_us += 1 + (rnd() & 15);
    w32(rec, (uint32_t)(ts_us / 1000000));
    w32(rec + 4, (uint32_t)(ts_us % 1000000));
    w32(rec + 8, (uint32_t)total);
    w32(rec + 12, (uint32_t)total);
    fwrite(rec, 1, 16, out);
    fwrite(f, 1, total, out);
    written += 16 + total;
    packets++;
    if (from_client)
        s->cseq += len + ((flags & 0x03) ? 1 : 0);
    else
        s->sseq += len + ((flags & 0x03) ? 1 : 0);
}

static void new_session(sess *s) {
    memset(s, 0, sizeof *s);
    s->v6 = rnd() % 10 == 0;
    if (s->v6) {
        static const uint8_t pre[8] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0};
        memcpy(s->cli, pre, 8);
        memcpy(s->srv, pre, 8);
        s->srv[7] = 1;
        b32(s->cli + 12, rnd());
        b32(s->srv + 12, 0x100 + rnd() % 64);
    } else {
        b32(s->cli, 0x0a000000u | (rnd() & 0xffffff));  /* 10/8 clients */
        b32(s->srv, 0xc6336400u | (rnd() % 64));        /* 198.51.100.0/26 servers */
    }
    s->cport = (uint16_t)(next_port++);
    if (next_port > 65000) next_port = 1024;
    s->sport = (rnd() & 3) ? 443 : 80;
    s->cseq = rnd();
    s->sseq = rnd();
}

static void start_reply(sess *s) {
    uint32_t r = rnd() % 100;
    s->req_left = 100 + rnd() % 800;
    s->reply_left = r < 60 ? 2000 + rnd() % 60000 : r < 95 ? 64000 + rnd() % 600000 : 1000000 + rnd() % 3000000;
    s->requests++;
}

/* one step of session s; returns 1 when it has finished */
static int step(sess *s) {
    switch (s->state) {
    case 0: emit(s, 1, 0x02, 0); s->state = 1; return 0;
    case 1: emit(s, 0, 0x12, 0); s->state = 2; return 0;
    case 2: emit(s, 1, 0x10, 0); start_reply(s); s->state = 3; return 0;
    case 3: emit(s, 1, 0x18, s->req_left); s->state = 4; return 0;
    case 4:
        if (written >= limit_bytes && s->reply_left > 20 * MSS) s->reply_left = 20 * MSS;
        if (s->reply_left) {
            uint32_t n = s->reply_left < MSS ? s->reply_left : MSS;
            s->reply_left -= n;
            emit(s, 0, s->reply_left ? 0x10 : 0x18, n);
            if (++s->unacked == 2 || !s->reply_left) {
                emit(s, 1, 0x10, 0);
                s->unacked = 0;
            }
            return 0;
        }
        if (s->requests < 3 && written < limit_bytes && rnd() % 4 == 0) {
            start_reply(s);
            s->state = 3;
            return 0;
        }
        s->state = 5;
        return 0;
    case 5: emit(s, 1, 0x11, 0); s->state = 6; return 0;
    case 6: emit(s, 0, 0x11, 0); s->state = 7; return 0;
    default: emit(s, 1, 0x10, 0); return 1;
    }
}

int main(int argc, char **argv) {
    static sess ss[NSESS];
    static char iobuf[1 << 20];
    uint8_t hdr[24];
    size_t i;
    int open = NSESS;
    if (argc < 3) {
        fprintf(stderr, "usage: %s OUT.pcap MEGABYTES [SEED]\n", argv[0]);
        return 2;
    }
    limit_bytes = (uint64_t)strtoull(argv[2], NULL, 10) << 20;
    rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) | 1 : 0x9e3779b97f4a7c15ull;
    out = fopen(argv[1], "wb");
    if (!out) {
        perror(argv[1]);
        return 1;
    }
    setvbuf(out, iobuf, _IOFBF, sizeof iobuf);
    for (i = 0; i < sizeof payload_pool; i++) payload_pool[i] = (uint8_t)(rnd() >> 24);
    w32(hdr, 0xa1b2c3d4u);
    hdr[4] = 2, hdr[5] = 0, hdr[6] = 4, hdr[7] = 0;
    w32(hdr + 8, 0);
    w32(hdr + 12, 0);
    w32(hdr + 16, 262144);
    w32(hdr + 20, 1);
    fwrite(hdr, 1, 24, out);
    written = 24;
    for (i = 0; i < NSESS; i++) new_session(&ss[i]);
    while (open > 0) {
        sess *s = &ss[rnd() % NSESS];
        if (s->state < 0) continue;
        if (step(s)) {
            if (written < limit_bytes)
                new_session(s);
            else
                s->state = -1, open--;
        }
    }
    if (fclose(out) != 0) {
        perror(argv[1]);
        return 1;
    }
    fprintf(stderr, "gen_traffic: %s: %llu packets, %llu bytes\n", argv[1],
            (unsigned long long)packets, (unsigned long long)written);
    return 0;
}
