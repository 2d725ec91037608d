/* gen_sessions - a capture of many TCP sessions all open at once.

       gen_sessions OUT.pcap [SESSIONS] [SEED]      (default 1048576)

   SESSIONS distinct 4-tuples (IPv4 clients 10.0.0.0/8, port 40000; servers
   192.0.2.1-64 on port 80).  Each session sends, in rounds that go through
   every session before the next round starts: SYN, SYN-ACK, ACK, a request
   (32-95 bytes), a reply (64-191 bytes), the client's ACK.  No session
   closes, so at the end of the capture every one of them is live; within a
   round the sessions come in a scrambled order, so the session table is
   probed at random as on a busy link.  Ethernet link, correct IPv4 and TCP
   checksums, one microsecond between packets.  Deterministic for a seed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;
static uint32_t rnd(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

/* A per-session value that needs no table: a hash of the index. */
static uint32_t mix(uint32_t x, uint32_t salt) {
    x ^= salt * 0x9e3779b9u;
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static FILE *out;
static uint64_t ts_us = 1700000000ull * 1000000ull, packets, written, payload;
static uint8_t pool[4096];

static void put16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v) {
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}
static void le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s) {
    size_t i;
    for (i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1) s += (uint32_t)p[n - 1] << 8;
    return s;
}
static unsigned fold(uint32_t s) {
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return ~s & 0xffff;
}

/* One packet of session i; from_client picks the direction. */
static void emit(uint32_t i, int from_client, unsigned flags, uint32_t seq, uint32_t ack,
                 uint32_t len, uint32_t seed) {
    uint8_t f[14 + 20 + 20 + 256], rec[16];
    uint8_t *ip = f + 14, *tcp = f + 34;
    uint8_t cli[4], srv[4];
    size_t total = 54 + len;
    put32(cli, 0x0a000000u | (i & 0xffffff));
    put32(srv, 0xc0000201u + (mix(i, 1) & 63));
    memcpy(f, from_client ? "\x00\x16\x3e\x00\x00\x02\x00\x16\x3e\x00\x00\x01"
                          : "\x00\x16\x3e\x00\x00\x01\x00\x16\x3e\x00\x00\x02", 12);
    put16(f + 12, 0x0800);
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, (unsigned)(40 + len));
    put16(ip + 4, (unsigned)(packets & 0xffff));
    put16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = 6;
    put16(ip + 10, 0);
    memcpy(ip + 12, from_client ? cli : srv, 4);
    memcpy(ip + 16, from_client ? srv : cli, 4);
    put16(ip + 10, fold(sum16(ip, 20, 0)));
    put16(tcp, from_client ? 40000 : 80);
    put16(tcp + 2, from_client ? 80 : 40000);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = (uint8_t)flags;
    put16(tcp + 14, 65535);
    put16(tcp + 16, 0);
    put16(tcp + 18, 0);
    if (len) memcpy(tcp + 20, pool + (seed & 2047), len);
    put16(tcp + 16, fold(sum16(tcp, 20 + len, sum16(ip + 12, 8, 6 + 20 + len))));
    le32(rec, (uint32_t)(ts_us / 1000000));
    le32(rec + 4, (uint32_t)(ts_us % 1000000));
    le32(rec + 8, (uint32_t)total);
    le32(rec + 12, (uint32_t)total);
    fwrite(rec, 1, 16, out);
    fwrite(f, 1, total, out);
    written += 16 + total;
    payload += len;
    packets++;
    ts_us++;
}

int main(int argc, char **argv) {
    static char iobuf[1 << 20];
    uint8_t hdr[24];
    uint32_t n = 1u << 20, bits = 0, i, k, round;
    if (argc < 2) {
        fprintf(stderr, "usage: %s OUT.pcap [SESSIONS] [SEED]\n", argv[0]);
        return 2;
    }
    if (argc > 2) n = (uint32_t)strtoul(argv[2], NULL, 10);
    if (n < 1 || n > (1u << 24)) {
        fprintf(stderr, "gen_sessions: SESSIONS must be 1..16777216\n");
        return 2;
    }
    rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) | 1 : 0x2545f4914f6cdd1dull;
    for (k = 0; k < sizeof pool; k++) pool[k] = (uint8_t)(rnd() >> 24);
    while ((1u << bits) < n) bits++;
    out = fopen(argv[1], "wb");
    if (!out) {
        perror(argv[1]);
        return 1;
    }
    setvbuf(out, iobuf, _IOFBF, sizeof iobuf);
    le32(hdr, 0xa1b2c3d4u);
    hdr[4] = 2, hdr[5] = 0, hdr[6] = 4, hdr[7] = 0;
    le32(hdr + 8, 0);
    le32(hdr + 12, 0);
    le32(hdr + 16, 65535);
    le32(hdr + 20, 1);
    fwrite(hdr, 1, 24, out);
    written = 24;
    for (round = 0; round < 6; round++) {
        /* an odd multiplier and an offset: a permutation of 0..2^bits-1;
           indexes >= n are skipped */
        uint32_t mul = (mix(round, 7) | 1), add = mix(round, 9), mask = bits ? (1u << bits) - 1 : 0;
        for (k = 0; k <= mask; k++) {
            uint32_t cisn, sisn, req, rep;
            i = (k * mul + add) & mask;
            if (i >= n) continue;
            cisn = mix(i, 2);
            sisn = mix(i, 3);
            req = 32 + (mix(i, 4) & 63);
            rep = 64 + (mix(i, 5) & 127);
            switch (round) {
            case 0: emit(i, 1, 0x02, cisn, 0, 0, 0); break;
            case 1: emit(i, 0, 0x12, sisn, cisn + 1, 0, 0); break;
            case 2: emit(i, 1, 0x10, cisn + 1, sisn + 1, 0, 0); break;
            case 3: emit(i, 1, 0x18, cisn + 1, sisn + 1, req, mix(i, 6)); break;
            case 4: emit(i, 0, 0x18, sisn + 1, cisn + 1 + req, rep, mix(i, 8)); break;
            default: emit(i, 1, 0x10, cisn + 1 + req, sisn + 1 + rep, 0, 0); break;
            }
        }
    }
    if (fclose(out) != 0) {
        perror(argv[1]);
        return 1;
    }
    fprintf(stderr, "gen_sessions: %s: %u sessions, %llu packets, %llu bytes, %llu payload bytes\n", argv[1], n,
            (unsigned long long)packets, (unsigned long long)written, (unsigned long long)payload);
    return 0;
}
