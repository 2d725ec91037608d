#define TCPSESSION_IMPLEMENTATION
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "tcpsession.h"
#include "fnv.h"

/* The capture reader: every pcap and pcapng feature, every input source,
   truncation at every byte, hostile lengths and allocator failure. The
   captures are built here with tests/capwriter.h. */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capwriter.h"

/* ------------------------------------------------------------ helpers */

/* What a packet said, kept after the reader moved on. */
typedef struct rec {
    tcps_time ts;
    uint64_t frame, offset;
    uint32_t linktype, interface, section, origlen, snaplen;
    int32_t fcs_len;
    size_t caplen;
    uint8_t data[64]; /* first bytes */
    uint64_t hash;    /* FNV-1a of all captured bytes */
} rec;

#define MAX_RECS 4096

typedef struct result {
    rec r[MAX_RECS];
    size_t n;
    int rc;
    tcps_error err;
    uint64_t end_offset;
} result;

/* Read r to its end (or an error), then close it. */
static result *drain(tcps_reader *r) {
    result *res = (result *)calloc(1, sizeof *res);
    tcps_packet p;
    int rc;
    cr_assert_not_null(res);
    cr_assert_eq(tcps_reader_format(r), 0, "format is 0 before the header is read");
    while ((rc = tcps_reader_next(r, &p)) == TCPS_OK) {
        rec *x;
        cr_assert_lt(res->n, MAX_RECS);
        x = &res->r[res->n++];
        x->ts = p.ts;
        x->frame = p.frame;
        x->offset = p.offset;
        x->linktype = p.linktype;
        x->interface = p.interface;
        x->section = p.section;
        x->origlen = p.origlen;
        x->snaplen = p.snaplen;
        x->fcs_len = p.fcs_len;
        x->caplen = p.data.len;
        cr_assert(p.ts.nsec < 1000000000u);
        memcpy(x->data, p.data.ptr, p.data.len < sizeof x->data ? p.data.len : sizeof x->data);
        x->hash = fnv(p.data.ptr, p.data.len);
    }
    res->rc = rc;
    res->err = *tcps_reader_error(r);
    res->end_offset = tcps_reader_offset(r);
    if (rc < 0) {
        tcps_packet q;
        cr_assert_eq(res->err.code, rc, "the error is kept on the reader");
        cr_assert_not_null(res->err.message);
        cr_assert_eq(tcps_reader_next(r, &q), rc, "after an error, the same error again");
        cr_assert_eq(tcps_reader_error(r)->offset, res->err.offset);
    } else {
        cr_assert_eq(rc, TCPS_DONE);
        cr_assert_eq(tcps_reader_next(r, &p), TCPS_DONE, "DONE stays DONE");
    }
    tcps_reader_close(r);
    return res;
}

static result *read_mem(const void *data, size_t len, const tcps_reader_config *cfg) {
    tcps_reader *r;
    int rc = tcps_reader_open_memory(&r, data, len, cfg);
    cr_assert_eq(rc, TCPS_OK, "open_memory: %s", tcps_result_name(rc));
    return drain(r);
}

typedef struct feeder {
    const uint8_t *p;
    size_t len, pos;
    size_t chunk; /* most bytes per call */
    int fail_at;  /* return -1 once pos reaches this (if > 0) */
} feeder;

static ptrdiff_t feed_fn(void *user, void *buf, size_t len) {
    feeder *f = (feeder *)user;
    size_t n = f->len - f->pos;
    if (f->fail_at > 0 && f->pos >= (size_t)f->fail_at) return -1;
    if (n > len) n = len;
    if (n > f->chunk) n = f->chunk;
    memcpy(buf, f->p + f->pos, n);
    f->pos += n;
    return (ptrdiff_t)n;
}

static result *read_cb(const void *data, size_t len, size_t chunk, const tcps_reader_config *cfg) {
    tcps_reader *r;
    feeder f;
    int rc;
    f.p = (const uint8_t *)data;
    f.len = len;
    f.pos = 0;
    f.chunk = chunk;
    f.fail_at = 0;
    rc = tcps_reader_open_callback(&r, feed_fn, &f, cfg);
    cr_assert_eq(rc, TCPS_OK);
    return drain(r);
}

static void same_results(const result *a, const result *b, const char *what) {
    size_t i;
    cr_assert_eq(a->n, b->n, "%s: %zu vs %zu packets", what, a->n, b->n);
    cr_assert_eq(a->rc, b->rc, "%s: %s vs %s", what, tcps_result_name(a->rc), tcps_result_name(b->rc));
    cr_assert_eq(a->err.offset, b->err.offset, "%s: error offsets", what);
    for (i = 0; i < a->n; i++) {
        const rec *x = &a->r[i], *y = &b->r[i];
        cr_assert(x->ts.sec == y->ts.sec && x->ts.nsec == y->ts.nsec && x->frame == y->frame &&
                      x->offset == y->offset && x->linktype == y->linktype && x->interface == y->interface &&
                      x->section == y->section && x->origlen == y->origlen && x->snaplen == y->snaplen &&
                      x->fcs_len == y->fcs_len && x->caplen == y->caplen && x->hash == y->hash,
                  "%s: packet %zu differs", what, i + 1);
    }
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed) {
    size_t i;
    for (i = 0; i < n; i++) p[i] = (uint8_t)(seed * 31u + i * 7u + (i >> 8));
}

/* A counting allocator that can fail the k-th allocation. */
typedef struct counting {
    long calls, fail_at; /* fail_at: 1-based allocation (alloc or realloc) to fail, 0 none */
    size_t live, peak, biggest;
} counting;

static void *c_alloc(size_t size, void *user) {
    counting *c = (counting *)user;
    void *p;
    if (++c->calls == c->fail_at) return NULL;
    p = malloc(size);
    if (p) {
        c->live += size;
        if (c->live > c->peak) c->peak = c->live;
        if (size > c->biggest) c->biggest = size;
    }
    return p;
}
static void *c_realloc(void *ptr, size_t old, size_t size, void *user) {
    counting *c = (counting *)user;
    void *p;
    if (++c->calls == c->fail_at) return NULL;
    p = realloc(ptr, size);
    if (p) {
        c->live = c->live - old + size;
        if (c->live > c->peak) c->peak = c->live;
        if (size > c->biggest) c->biggest = size;
    }
    return p;
}
static void c_free(void *ptr, size_t size, void *user) {
    counting *c = (counting *)user;
    c->live -= size;
    free(ptr);
}
static tcps_reader_config counting_config(counting *c) {
    tcps_reader_config cfg;
    memset(&cfg, 0, sizeof cfg);
    memset(c, 0, sizeof *c);
    cfg.allocator.alloc = c_alloc;
    cfg.allocator.realloc = c_realloc;
    cfg.allocator.free = c_free;
    cfg.allocator.user = c;
    return cfg;
}

/* ------------------------------------------------------------ pcap */

static void check_pcap_variant(int be, int nsec) {
    capw_buf b;
    uint8_t d1[60], d2[1514], d3[1];
    result *res;
    fill_pattern(d1, sizeof d1, 1);
    fill_pattern(d2, sizeof d2, 2);
    fill_pattern(d3, sizeof d3, 3);
    capw_init(&b);
    capw_pcap_header(&b, be, nsec, 65535, TCPS_LINKTYPE_ETHERNET);
    capw_pcap_record(&b, 1700000000u, nsec ? 123456789u : 123456u, d1, 60, 60);
    capw_pcap_record(&b, 1700000001u, 0, d2, 1514, 1514);
    capw_pcap_record(&b, 0xffffffffu, nsec ? 999999999u : 999999u, d3, 1, 9000);
    res = read_mem(b.data, b.len, NULL);
    cr_assert_eq(res->rc, TCPS_DONE, "%s", res->err.message);
    cr_assert_eq(res->n, 3);
    cr_assert_eq(res->end_offset, b.len);
    cr_expect_eq(res->r[0].ts.sec, 1700000000);
    cr_expect_eq(res->r[0].ts.nsec, nsec ? 123456789u : 123456000u);
    cr_expect_eq(res->r[0].offset, 24);
    cr_expect_eq(res->r[0].frame, 1);
    cr_expect_eq(res->r[0].caplen, 60);
    cr_expect_eq(res->r[0].hash, fnv(d1, 60));
    cr_expect_eq(res->r[0].linktype, TCPS_LINKTYPE_ETHERNET);
    cr_expect_eq(res->r[0].snaplen, 65535);
    cr_expect_eq(res->r[0].fcs_len, -1);
    cr_expect_eq(res->r[0].interface, 0);
    cr_expect_eq(res->r[0].section, 0);
    cr_expect_eq(res->r[1].offset, 24 + 16 + 60);
    cr_expect_eq(res->r[1].frame, 2);
    cr_expect_eq(res->r[1].hash, fnv(d2, 1514));
    cr_expect_eq(res->r[1].ts.nsec, 0);
    /* seconds are unsigned 32-bit in pcap */
    cr_expect_eq(res->r[2].ts.sec, 4294967295ll);
    cr_expect_eq(res->r[2].ts.nsec, nsec ? 999999999u : 999999000u);
    cr_expect_eq(res->r[2].caplen, 1);
    cr_expect_eq(res->r[2].origlen, 9000);
    cr_expect_eq(res->r[2].offset, 24 + 16 + 60 + 16 + 1514);
    free(res);
    capw_free(&b);
}

Test(pcap, usec_little_endian) { check_pcap_variant(0, 0); }
Test(pcap, usec_big_endian) { check_pcap_variant(1, 0); }
Test(pcap, nsec_little_endian) { check_pcap_variant(0, 1); }
Test(pcap, nsec_big_endian) { check_pcap_variant(1, 1); }

Test(pcap, format_known_after_first_packet) {
    capw_buf b;
    tcps_reader *r;
    tcps_packet p;
    capw_init(&b);
    capw_pcap_header(&b, 0, 0, 100, 1);
    capw_pcap_record(&b, 1, 2, "abcd", 4, 4);
    cr_assert_eq(tcps_reader_open_memory(&r, b.data, b.len, NULL), TCPS_OK);
    cr_expect_eq(tcps_reader_format(r), 0);
    cr_expect_eq(tcps_reader_offset(r), 0);
    cr_assert_eq(tcps_reader_next(r, &p), TCPS_OK);
    cr_expect_eq(tcps_reader_format(r), TCPS_FORMAT_PCAP);
    cr_expect_eq(tcps_reader_offset(r), b.len);
    cr_expect(p.data.ptr == b.data + 24 + 16, "memory source: data points into the input");
    cr_expect_eq(tcps_reader_next(r, &p), TCPS_DONE);
    tcps_reader_close(r);
    capw_free(&b);
}

Test(pcap, fcs_bits_in_linktype) {
    capw_buf b;
    result *res;
    /* P bit with 2 words: 4 bytes of FCS */
    capw_init(&b);
    capw_pcap_header(&b, 0, 0, 65535, TCPS_LINKTYPE_ETHERNET | CAPW_PCAP_FCS(2));
    capw_pcap_record(&b, 1, 0, "0123456789abcdef", 16, 16);
    res = read_mem(b.data, b.len, NULL);
    cr_assert_eq(res->n, 1);
    cr_expect_eq(res->r[0].linktype, TCPS_LINKTYPE_ETHERNET);
    cr_expect_eq(res->r[0].fcs_len, 4);
    free(res);
    capw_free(&b);
    /* big endian, 1 word */
    capw_init(&b);
    capw_pcap_header(&b, 1, 0, 65535, TCPS_LINKTYPE_LINUX_SLL | CAPW_PCAP_FCS(1));
    capw_pcap_record(&b, 1, 0, "0123456789abcdef", 16, 16);
    res = read_mem(b.data, b.len, NULL);
    cr_expect_eq(res->r[0].linktype, TCPS_LINKTYPE_LINUX_SLL);
    cr_expect_eq(res->r[0].fcs_len, 2);
    free(res);
    capw_free(&b);
    /* P bit with 0: no FCS at all */
    capw_init(&b);
    capw_pcap_header(&b, 0, 0, 65535, TCPS_LINKTYPE_ETHERNET | CAPW_PCAP_FCS(0));
    capw_pcap_record(&b, 1, 0, "0123456789abcdef", 16, 16);
    res = read_mem(b.data, b.len, NULL);
    cr_expect_eq(res->r[0].fcs_len, 0);
    free(res);
    capw_free(&b);
    /* FCS length bits without the P bit, and reserved bits: ignored (the
       corpus has 0x30000084 from tcpdump's juniper_es_oobr.pcap) */
    capw_init(&b);
    capw_pcap_header(&b, 0, 0, 65535, 0x30000084u | 0x00ff0000u);
    capw_pcap_record(&b, 1, 0, "0123456789abcdef", 16, 16);
    res = read_mem(b.data, b.len, NULL);
    cr_expect_eq(res->r[0].linktype, 0x84);
    cr_expect_eq(res->r[0].fcs_len, -1);
    free(res);
    capw_free(&b);
}

Test(pcap, versions) {
    capw_buf b;
    result *res;
    /* 2.2: caplen and len were written the other way round */
    capw_init(&b);
    capw_pcap_header_ex(&b, 0, 0, 2, 2, 65535, 1);
    capw_u32(&b, 5);
    capw_u32(&b, 6);
    capw_u32(&b, 1500); /* len first */
    capw_u32(&b, 8);    /* then caplen */
    capw_bytes(&b, "12345678", 8);
    res = read_mem(b.data, b.len, NULL);
    cr_assert_eq(res->rc, TCPS_DONE, "%s", res->err.message);
    cr_expect_eq(res->r[0].caplen, 8);
    cr_expect_eq(res->r[0].origlen, 1500);
    free(res);
    capw_free(&b);
    /* 2.3: either order; caplen > len means swapped */
    capw_init(&b);
    capw_pcap_header_ex(&b, 1, 0, 2, 3, 65535, 1);
    capw_pcap_record(&b, 5, 6, "12345678", 8, 1500);
    capw_u32(&b, 5);
    capw_u32(&b, 6);
    capw_u32(&b, 1500);
    capw_u32(&b, 8);
    capw_bytes(&b, "12345678", 8);
    res = read_mem(b.data, b.len, NULL);
    cr_assert_eq(res->n, 2);
    cr_expect(res->r[0].caplen == 8 && res->r[0].origlen == 1500);
    cr_expect(res->r[1].caplen == 8 && res->r[1].origlen == 1500);
    free(res);
    capw_free(&b);
    /* unknown versions */
    {
        static const uint16_t bad[][2] = {{1, 0}, {3, 0}, {2, 5}, {0, 0}};
        size_t i;
        for (i = 0; i < 4; i++) {
            capw_init(&b);
            capw_pcap_header_ex(&b, (int)(i & 1), 0, bad[i][0], bad[i][1], 65535, 1);
            capw_pcap_record(&b, 5, 6, "12345678", 8, 8);
            res = read_mem(b.data, b.len, NULL);
            cr_expect_eq(res->rc, TCPS_E_VERSION, "version %u.%u", bad[i][0], bad[i][1]);
            cr_expect_eq(res->err.offset, 0);
            cr_expect_eq(res->n, 0);
            free(res);
            capw_free(&b);
        }
    }
}

Test(pcap, out_of_range_fractions_carry_into_seconds) {
    capw_buf b;
    result *res;
    capw_init(&b);
    capw_pcap_header(&b, 0, 0, 65535, 1);
    capw_pcap_record(&b, 10, 1000000u, "x", 1, 1);       /* exactly one second */
    capw_pcap_record(&b, 10, 0xffffffffu, "x", 1, 1);    /* 4294.967295 s */
    res = read_mem(b.data, b.len, NULL);
    cr_expect(res->r[0].ts.sec == 11 && res->r[0].ts.nsec == 0);
    cr_expect(res->r[1].ts.sec == 10 + 4294 && res->r[1].ts.nsec == 967295000u);
    free(res);
    capw_free(&b);
    capw_init(&b);
    capw_pcap_header(&b, 1, 1, 65535, 1);
    capw_pcap_record(&b, 10, 0xffffffffu, "x", 1, 1); /* 4.294967295 s */
    res = read_mem(b.data, b.len, NULL);
    cr_expect(res->r[0].ts.sec == 14 && res->r[0].ts.nsec == 294967295u);
    free(res);
    capw_free(&b);
}

Test(pcap, header_errors_at_offset_zero) {
    static const uint8_t junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    capw_buf b;
    result *res;
    res = read_mem(NULL, 0, NULL);
    cr_expect_eq(res->rc, TCPS_E_FORMAT, "empty input");
    cr_expect_eq(res->err.offset, 0);
    cr_expect(strstr(res->err.message, "empty") != NULL, "%s", res->err.message);
    free(res);
    res = read_mem(junk, sizeof junk - 1, NULL);
    cr_expect_eq(res->rc, TCPS_E_FORMAT, "bad magic");
    cr_expect(strstr(res->err.message, "magic") != NULL, "%s", res->err.message);
    free(res);
    capw_init(&b);
    capw_pcap_header(&b, 0, 0, 65535, 1);
    res = read_mem(b.data, 10, NULL);
    cr_expect_eq(res->rc, TCPS_E_BAD_HEADER, "short header");
    cr_expect_eq(res->err.offset, 0);
    free(res);
    res = read_mem(b.data, 3, NULL);
    cr_expect_eq(res->rc, TCPS_E_FORMAT, "3 bytes");
    free(res);
    res = read_mem(b.data, b.len, NULL);
    cr_expect_eq(res->rc, TCPS_DONE, "a header and no records is a valid empty capture");
    cr_expect_eq(res->n, 0);
    free(res);
    capw_free(&b);
}

Test(pcap, hostile_lengths) {
    capw_buf b;
    result *res;
    counting c;
    tcps_reader_config cfg;
    /* caplen 0xfffffff0: above max_record */
    capw_init(&b);
    capw_pcap_header(&b, 0, 0, 65535, 1);
    capw_pcap_record(&b, 1, 0, "abcd", 4, 4);
    capw_u32(&b, 2);
    capw_u32(&b, 0);
    capw_u32(&b, 0xfffffff0u);
    capw_u32(&b, 0xfffffff0u);
    capw_bytes(&b, NULL, 1000);
    res = read_mem(b.data, b.len, NULL);
    cr_expect_eq(res->rc, TCPS_E_TOO_LARGE);
    cr_expect_eq(res->n, 1);
    cr_expect_eq(res->err.offset, 24 + 16 + 4);
    free(res);
    /* same through a stream: no big allocation */
    cfg = counting_config(&c);
    res = read_cb(b.data, b.len, 1, &cfg);
    cr_expect_eq(res->rc, TCPS_E_TOO_LARGE);
    cr_expect_eq(res->n, 1);
    cr_expect_lt(c.biggest, 1u << 20, "biggest allocation %zu", c.biggest);
    cr_expect_eq(c.live, 0);
    free(res);
    capw_free(&b);
    /* caplen 60 MiB (under the limit) in a 1 KiB input: truncated, and the
       buffer never grew beyond what arrived */
    capw_init(&b);
    capw_pcap_header(&b, 0, 0, 65535, 1);
    capw_pcap_record(&b, 1, 0, "abcd", 4, 4);
    capw_u32(&b, 2);
    capw_u32(&b, 0);
    capw_u32(&b, 60u << 20);
    capw_u32(&b, 60u << 20);
    capw_bytes(&b, NULL, 1000);
    cfg = counting_config(&c);
    res = read_cb(b.data, b.len, 4096, &cfg);
    cr_expect_eq(res->rc, TCPS_E_TRUNCATED);
    cr_expect_eq(res->n, 1);
    cr_expect_eq(res->err.offset, 24 + 16 + 4);
    cr_expect_lt(c.biggest, 1u << 20, "biggest allocation %zu", c.biggest);
    cr_expect_eq(c.live, 0);
    free(res);
    /* a smaller max_record turns it into TOO_LARGE */
    cfg = counting_config(&c);
    cfg.max_record = 1u << 20;
    res = read_mem(b.data, b.len, &cfg);
    cr_expect_eq(res->rc, TCPS_E_TOO_LARGE);
    free(res);
    capw_free(&b);
}

Test(pcap, records_bigger_than_the_read_chunk) {
    capw_buf b;
    uint8_t *big = (uint8_t *)malloc(3u << 20);
    result *a, *c;
    size_t i;
    fill_pattern(big, 3u << 20, 9);
    capw_init(&b);
    capw_pcap_header(&b, 0, 1, 0x4000000u, 1);
    for (i = 0; i < 5; i++) capw_pcap_record(&b, (uint32_t)i, 0, big + i, (uint32_t)((3u << 20) - i * 100000u), 3u << 20);
    a = read_mem(b.data, b.len, NULL);
    c = read_cb(b.data, b.len, 65536 + 3, NULL);
    cr_assert_eq(a->rc, TCPS_DONE);
    cr_assert_eq(a->n, 5);
    cr_expect_eq(a->r[4].hash, fnv(big + 4, (3u << 20) - 400000u));
    same_results(a, c, "streamed");
    free(a);
    free(c);
    capw_free(&b);
    free(big);
}

/* ------------------------------------------------------------ pcapng */

static void check_pcapng_basic(int be) {
    capw_buf b;
    capw_opts o;
    uint8_t d1[60], d2[61];
    result *res;
    size_t off_epb1, off_epb2;
    fill_pattern(d1, sizeof d1, 4);
    fill_pattern(d2, sizeof d2, 5);
    capw_init(&b);
    capw_ng_shb(&b, be);
    capw_ng_idb(&b, TCPS_LINKTYPE_ETHERNET, 65535, NULL);
    off_epb1 = b.len;
    capw_ng_epb(&b, 0, 1700000000123456ull, d1, 60, 64, NULL);
    capw_opts_init(&o, be);
    capw_opt(&o, 1, "a comment", 9);
    capw_opts_end(&o);
    off_epb2 = b.len;
    capw_ng_epb(&b, 0, 1700000001000000ull, d2, 61, 61, &o);
    capw_opts_free(&o);
    res = read_mem(b.data, b.len, NULL);
    cr_assert_eq(res->rc, TCPS_DONE, "%s at %llu", res->err.message, (unsigned long long)res->err.offset);
    cr_assert_eq(res->n, 2);
    cr_expect_eq(res->end_offset, b.len);
    cr_expect_eq(res->r[0].offset, off_epb1);
    cr_expect_eq(res->r[1].offset, off_epb2);
    cr_expect_eq(res->r[0].ts.sec, 1700000000);
    cr_expect_eq(res->r[0].ts.nsec, 123456000u);
    cr_expect_eq(res->r[0].caplen, 60);
    cr_expect_eq(res->r[0].origlen, 64);
    cr_expect_eq(res->r[0].hash, fnv(d1, 60));
    cr_expect_eq(res->r[1].hash, fnv(d2, 61));
    cr_expect_eq(res->r[1].frame, 2);
    cr_expect_eq(res->r[0].linktype, TCPS_LINKTYPE_ETHERNET);
    cr_expect_eq(res->r[0].snaplen, 65535);
    cr_expect_eq(res->r[0].fcs_len, -1);
    cr_expect_eq(res->r[0].section, 0);
    free(res);
    capw_free(&b);
}

Test(pcapng, basic_little_endian) { check_pcapng_basic(0); }
Test(pcapng, basic_big_endian) { check_pcapng_basic(1); }

Test(pcapng, sections_in_both_byte_orders) {
    capw_buf b;
    capw_opts o;
    result *res;
    size_t bad_at;
    capw_init(&b);
    capw_ng_shb(&b, 0);
    capw_ng_idb(&b, TCPS_LINKTYPE_ETHERNET, 1000, NULL);
    capw_opts_init(&o, 0);
    capw_opt_u8(&o, CAPW_IF_TSRESOL, 9);
    capw_ng_idb(&b, TCPS_LINKTYPE_RAW, 2000, &o);
    capw_opts_free(&o);
    capw_ng_epb(&b, 1, 5000000001ull, "abcd", 4, 4, NULL);
    capw_ng_epb(&b, 0, 5000001ull, "abcd", 4, 4, NULL);
    capw_ng_shb(&b, 1); /* new section, big endian: interface ids restart */
    capw_opts_init(&o, 1);
    capw_opt_u8(&o, CAPW_IF_TSRESOL, 3);
    capw_ng_idb(&b, TCPS_LINKTYPE_LINUX_SLL, 3000, &o);
    capw_opts_free(&o);
    capw_ng_epb(&b, 0, 7001ull, "abcdefgh", 8, 8, NULL);
    capw_ng_shb(&b, 0);
    capw_ng_idb(&b, TCPS_LINKTYPE_NULL, 0, NULL);
    capw_ng_idb(&b, TCPS_LINKTYPE_IPV4, 0, NULL);
    capw_ng_epb(&b, 1, 9000000ull, "ab", 2, 2, NULL);
    bad_at = b.len;
    capw_ng_epb(&b, 2, 9000000ull, "ab", 2, 2, NULL); /* only 2 interfaces here */
    res = read_mem(b.data, b.len, NULL);
    cr_assert_eq(res->n, 4);
    cr_expect(res->r[0].interface == 1 && res->r[0].linktype == TCPS_LINKTYPE_RAW && res->r[0].snaplen == 2000);
    cr_expect(res->r[0].ts.sec == 5 && res->r[0].ts.nsec == 1);
    cr_expect(res->r[1].interface == 0 && res->r[1].linktype == TCPS_LINKTYPE_ETHERNET);
    cr_expect(res->r[1].ts.sec == 5 && res->r[1].ts.nsec == 1000);
    cr_expect(res->r[0].section == 0 && res->r[1].section == 0);
    cr_expect(res->r[2].section == 1 && res->r[2].interface == 0 && res->r[2].linktype == TCPS_LINKTYPE_LINUX_SLL);
    cr_expect(res->r[2].ts.sec == 7 && res->r[2].ts.nsec == 1000000u);
    cr_expect_eq(res->r[2].caplen, 8);
    cr_expect(res->r[3].section == 2 && res->r[3].interface == 1 && res->r[3].linktype == TCPS_LINKTYPE_IPV4);
    cr_expect_eq(res->r[3].frame, 4);
    cr_expect_eq(res->rc, TCPS_E_BAD_INTERFACE);
    cr_expect_eq(res->err.offset, bad_at);
    free(res);
    capw_free(&b);
}

/* One packet on an interface with the given options; returns its time. */
static tcps_time ts_for(int be, int has_resol, uint8_t resol, int has_off, int64_t offset, uint64_t ts) {
    capw_buf b;
    capw_opts o;
    result *res;
    tcps_time t;
    capw_init(&b);
    capw_ng_shb(&b, be);
    capw_opts_init(&o, be);
    if (has_resol) capw_opt_u8(&o, CAPW_IF_TSRESOL, resol);
    if (has_off) capw_opt_u64(&o, CAPW_IF_TSOFFSET, (uint64_t)offset);
    capw_opts_end(&o);
    capw_ng_idb(&b, 1, 0, &o);
    capw_opts_free(&o);
    capw_ng_epb(&b, 0, ts, "x", 1, 1, NULL);
    res = read_mem(b.data, b.len, NULL);
    cr_assert_eq(res->n, 1, "%s", res->err.message);
    t = res->r[0].ts;
    free(res);
    capw_free(&b);
    return t;
}

#define EXPECT_TS(t, s, ns)                                                                       \
    cr_expect((t).sec == (int64_t)(s) && (t).nsec == (uint32_t)(ns), "got %lld.%09u, want %lld.%09u", \
              (long long)(t).sec, (t).nsec, (long long)(s), (unsigned)(ns))

Test(pcapng, tsresol_powers_of_ten_exact) {
    /* units of 10^-e: sec * 10^e + frac gives back sec and frac * 10^(9-e) */
    uint64_t p10 = 1, sec = 1700000000u;
    unsigned e;
    for (e = 0; e <= 9; e++, p10 *= 10) {
        uint64_t frac = p10 > 1 ? p10 - 1 - (p10 / 3) : 0;
        uint64_t scale = 1;
        unsigned k;
        tcps_time t;
        for (k = e; k < 9; k++) scale *= 10;
        t = ts_for((int)(e & 1), 1, (uint8_t)e, 0, 0, sec * p10 + frac);
        EXPECT_TS(t, sec, frac * scale);
    }
    /* default is microseconds */
    EXPECT_TS(ts_for(0, 0, 0, 0, 0, 1234567891ull), 1234, 567891000u);
}

Test(pcapng, tsresol_powers_of_two_and_absurd_values) {
    EXPECT_TS(ts_for(0, 1, 0x80 | 0, 0, 0, 42), 42, 0);
    EXPECT_TS(ts_for(0, 1, 0x80 | 10, 0, 0, 5 * 1024 + 512), 5, 500000000u);
    EXPECT_TS(ts_for(1, 1, 0x80 | 10, 0, 0, 5 * 1024 + 1), 5, 976562u); /* 1e9/1024 = 976562.5 */
    EXPECT_TS(ts_for(0, 1, 0x80 | 30, 0, 0, (7ull << 30) + (1ull << 29)), 7, 500000000u);
    EXPECT_TS(ts_for(0, 1, 0x80 | 32, 0, 0, (3ull << 32) + 1), 3, 0u);  /* 0.23 ns truncated */
    EXPECT_TS(ts_for(0, 1, 0x80 | 32, 0, 0, (3ull << 32) + 5), 3, 1u);  /* 1.16 ns */
    EXPECT_TS(ts_for(0, 1, 0x80 | 63, 0, 0, (1ull << 63) - 1), 0, 999999999u);
    EXPECT_TS(ts_for(0, 1, 0x80 | 63, 0, 0, UINT64_MAX), 1, 999999999u);
    EXPECT_TS(ts_for(0, 1, 0x80 | 64, 0, 0, 1ull << 63), 0, 500000000u);
    EXPECT_TS(ts_for(0, 1, 0x80 | 64, 0, 0, UINT64_MAX), 0, 999999999u);
    EXPECT_TS(ts_for(0, 1, 0x80 | 127, 0, 0, UINT64_MAX), 0, 0u);
    /* 10^-10 .. 10^-127 */
    EXPECT_TS(ts_for(0, 1, 10, 0, 0, 12345678901234ull), 1234, 567890123u);
    EXPECT_TS(ts_for(0, 1, 19, 0, 0, UINT64_MAX), 1, 844674407u);
    EXPECT_TS(ts_for(0, 1, 20, 0, 0, UINT64_MAX), 0, 184467440u);
    EXPECT_TS(ts_for(0, 1, 28, 0, 0, UINT64_MAX), 0, 1u);
    EXPECT_TS(ts_for(0, 1, 29, 0, 0, UINT64_MAX), 0, 0u);
    EXPECT_TS(ts_for(0, 1, 127, 0, 0, UINT64_MAX), 0, 0u);
    /* 10^0 with the largest count: seconds saturate */
    EXPECT_TS(ts_for(0, 1, 0, 0, 0, UINT64_MAX), INT64_MAX, 0u);
}

Test(pcapng, tsoffset_and_saturation) {
    EXPECT_TS(ts_for(0, 0, 0, 1, 100, 1500000), 101, 500000000u);
    EXPECT_TS(ts_for(1, 1, 3, 1, -5, 1234567), 1229, 567000000u); /* as tshark */
    EXPECT_TS(ts_for(0, 1, 0, 1, INT64_MAX, 10), INT64_MAX, 0u);
    EXPECT_TS(ts_for(0, 1, 0, 1, INT64_MIN, 0), INT64_MIN, 0u);
    EXPECT_TS(ts_for(0, 1, 0, 1, INT64_MIN, 1), INT64_MIN + 1, 0u);
}

Test(pcapng, fcs_length_from_idb_and_epb_flags) {
    capw_buf b;
    capw_opts o;
    result *res;
    capw_init(&b);
    capw_ng_shb(&b, 1);
    capw_opts_init(&o, 1);
    capw_opt_u8(&o, CAPW_IF_FCSLEN, 32); /* bits */
    capw_ng_idb(&b, 1, 0, &o);
    capw_opts_free(&o);
    capw_ng_idb(&b, 1, 0, NULL);
    capw_ng_epb(&b, 0, 1, "abcdefgh", 8, 8, NULL);
    capw_opts_init(&o, 1);
    capw_opt_u32(&o, CAPW_EPB_FLAGS, CAPW_EPB_FLAGS_FCS(2) | 1u); /* inbound, 2 bytes of FCS */
    capw_ng_epb(&b, 0, 1, "abcdefgh", 8, 8, &o);
    capw_ng_epb(&b, 1, 1, "abcdefgh", 8, 8, &o);
    capw_opts_free(&o);
    capw_opts_init(&o, 1);
    capw_opt_u32(&o, CAPW_EPB_FLAGS, 2u); /* outbound, FCS length not given */
    capw_ng_epb(&b, 0, 1, "abcdefgh", 8, 8, &o);
    capw_ng_epb(&b, 1, 1, "abcdefgh", 8, 8, &o);
    capw_opts_free(&o);
    capw_ng_pb(&b, 1, 1, "abcdefgh", 8, 8, NULL);
    res = read_mem(b.data, b.len, NULL);
    cr_assert_eq(res->n, 6, "%s", res->err.message);
    cr_expect_eq(res->r[0].fcs_len, 4);
    cr_expect_eq(res->r[1].fcs_len, 2);
    cr_expect_eq(res->r[2].fcs_len, 2);
    cr_expect_eq(res->r[3].fcs_len, 4);
    cr_expect_eq(res->r[4].fcs_len, -1);
    cr_expect_eq(res->r[5].fcs_len, -1);
    free(res);
    capw_free(&b);
}

Test(pcapng, simple_and_obsolete_packet_blocks) {
    capw_buf b;
    capw_opts o;
    result *res;
    uint8_t d[100];
    fill_pattern(d, sizeof d, 6);
    capw_init(&b);
    capw_ng_shb(&b, 0);
    capw_opts_init(&o, 0);
    capw_opt_u8(&o, CAPW_IF_TSRESOL, 0x80 | 10);
    capw_ng_idb(&b, TCPS_LINKTYPE_ETHERNET, 20, &o); /* snaplen 20 */
    capw_opts_free(&o);
    capw_ng_idb(&b, TCPS_LINKTYPE_RAW, 0, NULL);
    capw_ng_spb(&b, 60, d, 20);  /* held 20 = snaplen, origlen 60 */
    capw_ng_spb(&b, 10, d, 12);  /* origlen 10 < held 12 */
    capw_ng_spb(&b, 100, d, 40); /* held 40 > snaplen 20 (not what the spec wants, but bounded) */
    capw_ng_pb(&b, 1, 1234567, d, 50, 90, NULL);
    capw_ng_pb(&b, 0, 5 * 1024 + 512, d, 10, 60, NULL);
    res = read_mem(b.data, b.len, NULL);
    cr_assert_eq(res->rc, TCPS_DONE, "%s", res->err.message);
    cr_assert_eq(res->n, 5);
    cr_expect(res->r[0].caplen == 20 && res->r[0].origlen == 60 && res->r[0].interface == 0);
    cr_expect(res->r[0].ts.sec == 0 && res->r[0].ts.nsec == 0, "SPB has no time");
    cr_expect_eq(res->r[0].hash, fnv(d, 20));
    cr_expect(res->r[1].caplen == 10 && res->r[1].origlen == 10);
    cr_expect(res->r[2].caplen == 20 && res->r[2].origlen == 100);
    cr_expect(res->r[3].caplen == 50 && res->r[3].origlen == 90 && res->r[3].interface == 1);
    cr_expect(res->r[3].linktype == TCPS_LINKTYPE_RAW && res->r[3].hash == fnv(d, 50));
    EXPECT_TS(res->r[3].ts, 1, 234567000u);
    EXPECT_TS(res->r[4].ts, 5, 500000000u);
    cr_expect_eq(res->r[4].frame, 5);
    free(res);
    capw_free(&b);
    /* an SPB before any interface */
    capw_init(&b);
    capw_ng_shb(&b, 0);
    capw_ng_spb(&b, 4, d, 4);
    res = read_mem(b.data, b.len, NULL);
    cr_expect_eq(res->rc, TCPS_E_BAD_INTERFACE);
    cr_expect_eq(res->err.offset, 28);
    free(res);
    capw_free(&b);
}

Test(pcapng, non_packet_blocks_are_skipped) {
    static const uint8_t addr[4] = {10, 0, 0, 1};
    capw_buf b;
    result *res;
    size_t off[3];
    capw_init(&b);
    capw_ng_shb(&b, 0);
    capw_ng_nrb_ipv4(&b, addr, "host.example");
    capw_ng_idb(&b, 1, 0, NULL);
    capw_ng_custom(&b, 32473, "custom data", 11);
    off[0] = b.len;
    capw_ng_epb(&b, 0, 1, "abcd", 4, 4, NULL);
    capw_ng_isb(&b, 0, 5);
    capw_ng_block(&b, 0x12345678u, "unknown block type", 18);
    capw_ng_block(&b, CAPW_NG_DSB, "\x4b\x53\x4c\x4b\0\0\0\0", 8);
    capw_ng_block(&b, 0x40000BADu, NULL, 0);
    off[1] = b.len;
    capw_ng_epb(&b, 0, 2, "efgh", 4, 4, NULL);
    capw_ng_nrb_ipv4(&b, addr, "again");
    off[2] = b.len;
    capw_ng_epb(&b, 0, 3, "ijkl", 4, 4, NULL);
    capw_ng_isb(&b, 0, 6);
    res = read_mem(b.data, b.len, NULL);
    cr_assert_eq(res->rc, TCPS_DONE, "%s", res->err.message);
    cr_assert_eq(res->n, 3);
    cr_expect(res->r[0].offset == off[0] && res->r[1].offset == off[1] && res->r[2].offset == off[2]);
    cr_expect(res->r[0].frame == 1 && res->r[1].frame == 2 && res->r[2].frame == 3);
    cr_expect(memcmp(res->r[2].data, "ijkl", 4) == 0);
    cr_expect_eq(res->end_offset, b.len);
    free(res);
    capw_free(&b);
}

Test(pcapng, big_unknown_blocks_are_streamed_past) {
    capw_buf b;
    uint8_t *junk = (uint8_t *)calloc(1, 200000);
    tcps_reader_config cfg;
    counting c;
    result *a, *s;
    capw_init(&b);
    capw_ng_shb(&b, 0);
    capw_ng_idb(&b, 1, 0, NULL);
    capw_ng_epb(&b, 0, 1, "abcd", 4, 4, NULL);
    capw_ng_custom(&b, 1, junk, 200000);
    capw_ng_epb(&b, 0, 2, "efgh", 4, 4, NULL);
    cfg = counting_config(&c);
    cfg.max_record = 4096;
    a = read_mem(b.data, b.len, &cfg);
    cr_expect_eq(a->rc, TCPS_DONE, "%s", a->err.message);
    cr_expect_eq(a->n, 2);
    s = read_cb(b.data, b.len, 1000, &cfg);
    same_results(a, s, "streamed past");
    cr_expect_lt(c.peak, 200000, "the big block was not buffered (peak %zu)", c.peak);
    free(a);
    free(s);
    /* but a packet block above the limit is an error */
    capw_ng_epb(&b, 0, 3, junk, 5000, 5000, NULL);
    a = read_mem(b.data, b.len, &cfg);
    cr_expect_eq(a->rc, TCPS_E_TOO_LARGE);
    cr_expect_eq(a->n, 2);
    free(a);
    capw_free(&b);
    free(junk);
}

Test(pcapng, block_length_not_a_multiple_of_four) {
    /* Wireshark rounds such a length up and accepts either value in the
       trailer; so do we. */
    capw_buf b;
    result *res;
    uint8_t d[64];
    int variant;
    fill_pattern(d, sizeof d, 7);
    for (variant = 0; variant < 2; variant++) {
        capw_init(&b);
        capw_ng_shb(&b, variant);
        capw_ng_idb(&b, 1, 0, NULL);
        capw_u32(&b, CAPW_NG_EPB);
        capw_u32(&b, 32 + 61);
        capw_u32(&b, 0);
        capw_u32(&b, 0);
        capw_u32(&b, 2000000);
        capw_u32(&b, 61);
        capw_u32(&b, 61);
        capw_bytes(&b, d, 64);
        capw_u32(&b, variant ? 96 : 93);
        capw_ng_epb(&b, 0, 3000000, d, 60, 60, NULL);
        res = read_mem(b.data, b.len, NULL);
        cr_expect_eq(res->rc, TCPS_DONE, "%s", res->err.message);
        cr_assert_eq(res->n, 2);
        cr_expect(res->r[0].caplen == 61 && res->r[0].hash == fnv(d, 61));
        cr_expect(res->r[1].caplen == 60 && res->r[1].ts.sec == 3);
        free(res);
        capw_free(&b);
    }
}

/* Append a block with a raw body to b; returns its offset. */
static size_t raw_block(capw_buf *b, uint32_t type, uint32_t len_field, const void *body, size_t bodylen,
                        uint32_t trailer) {
    size_t at = b->len;
    capw_u32(b, type);
    capw_u32(b, len_field);
    capw_bytes(b, body, bodylen);
    capw_u32(b, trailer);
    return at;
}

static void expect_error(const capw_buf *b, int code, size_t offset, size_t packets, const char *what) {
    result *res = read_mem(b->data, b->len, NULL);
    result *s = read_cb(b->data, b->len, 1, NULL);
    cr_expect_eq(res->rc, code, "%s: got %s (%s)", what, tcps_result_name(res->rc), res->err.message);
    cr_expect_eq(res->err.offset, offset, "%s: offset %llu, want %zu", what, (unsigned long long)res->err.offset,
                 offset);
    cr_expect_eq(res->n, packets, "%s: %zu packets before the error", what, res->n);
    cr_expect(res->err.message && strlen(res->err.message) > 10, "%s: a message", what);
    same_results(res, s, what);
    free(res);
    free(s);
}

static void ng_start(capw_buf *b, int be) {
    capw_init(b);
    capw_ng_shb(b, be);
    capw_ng_idb(b, 1, 0, NULL);
    capw_ng_epb(b, 0, 1, "abcd", 4, 4, NULL);
}

Test(pcapng, hostile_blocks) {
    capw_buf b;
    capw_opts o;
    size_t at;
    uint8_t body[64];
    memset(body, 0, sizeof body);

    ng_start(&b, 0);
    at = b.len;
    capw_u32(&b, CAPW_NG_EPB);
    capw_u32(&b, 0xfffffff0u);
    capw_bytes(&b, NULL, 100);
    expect_error(&b, TCPS_E_TOO_LARGE, at, 1, "EPB claiming 4 GiB");
    capw_free(&b);

    ng_start(&b, 1);
    at = b.len;
    capw_u32(&b, 0x77u);
    capw_u32(&b, 0xfffffff0u);
    capw_bytes(&b, NULL, 100);
    expect_error(&b, TCPS_E_TRUNCATED, at, 1, "unknown block claiming 4 GiB");
    capw_free(&b);

    ng_start(&b, 0);
    at = raw_block(&b, 0x99, 0, NULL, 0, 0);
    expect_error(&b, TCPS_E_BAD_BLOCK, at, 1, "zero-length block");
    capw_free(&b);

    ng_start(&b, 0);
    at = b.len;
    capw_u32(&b, 0x99);
    capw_u32(&b, 8);
    capw_u32(&b, 8);
    expect_error(&b, TCPS_E_BAD_BLOCK, at, 1, "8-byte block");
    capw_free(&b);

    ng_start(&b, 1);
    at = b.len;
    capw_ng_epb(&b, 0, 2, "abcd", 4, 4, NULL);
    b.data[b.len - 1] ^= 4;
    capw_ng_epb(&b, 0, 3, "abcd", 4, 4, NULL);
    expect_error(&b, TCPS_E_BAD_BLOCK, at, 1, "trailer mismatch");
    capw_free(&b);

    ng_start(&b, 0);
    at = b.len;
    capw_ng_epb(&b, 1, 2, "abcd", 4, 4, NULL);
    expect_error(&b, TCPS_E_BAD_INTERFACE, at, 1, "EPB on an undefined interface");
    capw_free(&b);

    ng_start(&b, 0);
    at = b.len;
    capw_ng_pb(&b, 7, 2, "abcd", 4, 4, NULL);
    expect_error(&b, TCPS_E_BAD_INTERFACE, at, 1, "PB on an undefined interface");
    capw_free(&b);

    /* option length running past the block */
    ng_start(&b, 0);
    capw_opts_init(&o, 0);
    capw_u16(&o, 1);
    capw_u16(&o, 100);
    capw_u32(&o, 0);
    at = b.len;
    capw_ng_epb(&b, 0, 2, "abcd", 4, 4, &o);
    expect_error(&b, TCPS_E_BAD_BLOCK, at, 1, "EPB option past the block");
    capw_free(&b);
    capw_init(&b);
    capw_ng_shb(&b, 0);
    at = b.len;
    capw_ng_idb(&b, 1, 0, &o);
    expect_error(&b, TCPS_E_BAD_BLOCK, at, 0, "IDB option past the block");
    capw_free(&b);
    capw_init(&b);
    capw_ng_shb_ex(&b, 0, 1, 0, &o);
    expect_error(&b, TCPS_E_BAD_HEADER, 0, 0, "SHB option past the block");
    capw_free(&b);
    capw_opts_free(&o);

    /* an option header whose value is missing: code 9, length 1, then the
       trailer */
    ng_start(&b, 0);
    body[8] = 9;
    body[10] = 1;
    at = raw_block(&b, CAPW_NG_IDB, 24, body, 12, 24);
    memset(body, 0, sizeof body);
    expect_error(&b, TCPS_E_BAD_BLOCK, at, 1, "IDB option header without its value");
    capw_free(&b);

    /* captured length running past the block */
    ng_start(&b, 0);
    at = b.len;
    capw_ng_epb(&b, 0, 2, "abcd", 4, 4, NULL);
    capw_put32(&b, at + 8 + 12, 8); /* 4 bytes held */
    expect_error(&b, TCPS_E_BAD_BLOCK, at, 1, "EPB caplen past the block");
    capw_free(&b);

    /* blocks too short for their fixed fields */
    ng_start(&b, 0);
    at = raw_block(&b, CAPW_NG_EPB, 28, body, 16, 28);
    expect_error(&b, TCPS_E_BAD_BLOCK, at, 1, "EPB too short");
    capw_free(&b);
    ng_start(&b, 0);
    at = raw_block(&b, CAPW_NG_IDB, 16, body, 4, 16);
    expect_error(&b, TCPS_E_BAD_BLOCK, at, 1, "IDB too short");
    capw_free(&b);
    ng_start(&b, 0);
    at = raw_block(&b, CAPW_NG_SPB, 12, NULL, 0, 12);
    expect_error(&b, TCPS_E_BAD_BLOCK, at, 1, "SPB too short");
    capw_free(&b);

    /* section headers */
    ng_start(&b, 0);
    at = b.len;
    capw_ng_shb(&b, 1);
    capw_put32(&b, at + 8, 0x11223344u);
    expect_error(&b, TCPS_E_BAD_HEADER, at, 1, "second SHB with a bad byte-order magic");
    capw_free(&b);
    ng_start(&b, 0);
    at = b.len;
    capw_ng_shb_ex(&b, 0, 2, 0, NULL);
    expect_error(&b, TCPS_E_VERSION, at, 1, "pcapng 2.0");
    capw_free(&b);
    capw_init(&b);
    capw_ng_shb(&b, 0);
    capw_put32(&b, 4, 24);
    expect_error(&b, TCPS_E_BAD_HEADER, 0, 0, "SHB shorter than 28");
    capw_free(&b);
    capw_init(&b);
    capw_ng_shb(&b, 1);
    capw_put32(&b, b.len - 4, 0);
    expect_error(&b, TCPS_E_BAD_HEADER, 0, 0, "SHB trailer mismatch");
    capw_free(&b);
}

Test(pcapng, interface_limit) {
    capw_buf b;
    tcps_reader_config cfg;
    result *res;
    size_t at;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_interfaces = 2;
    capw_init(&b);
    capw_ng_shb(&b, 0);
    capw_ng_idb(&b, 1, 0, NULL);
    capw_ng_idb(&b, 1, 0, NULL);
    capw_ng_epb(&b, 1, 2, "abcd", 4, 4, NULL);
    capw_ng_shb(&b, 0); /* the limit is per section */
    capw_ng_idb(&b, 1, 0, NULL);
    capw_ng_idb(&b, 1, 0, NULL);
    capw_ng_epb(&b, 1, 2, "abcd", 4, 4, NULL);
    at = b.len;
    capw_ng_idb(&b, 1, 0, NULL);
    capw_ng_epb(&b, 2, 2, "abcd", 4, 4, NULL);
    res = read_mem(b.data, b.len, &cfg);
    cr_expect_eq(res->rc, TCPS_E_LIMIT);
    cr_expect_eq(res->n, 2);
    cr_expect_eq(res->err.offset, at);
    free(res);
    capw_free(&b);
}

/* ------------------------------------------------- truncation at every byte */

typedef struct boundary {
    size_t end;     /* offset just after a record or block */
    int is_packet;  /* 1 if it was a packet */
} boundary;

static void cut_everywhere(const capw_buf *b, const boundary *bd, size_t nbd, size_t header_len, int pcapng) {
    size_t cut;
    for (cut = 0; cut <= b->len; cut++) {
        /* an exact-size copy, so reading past the cut trips the sanitizer */
        uint8_t *copy = (uint8_t *)malloc(cut ? cut : 1);
        result *m, *s;
        size_t i, packets = 0, start = 0;
        int at_boundary = cut == header_len;
        memcpy(copy, b->data, cut);
        for (i = 0; i < nbd; i++) {
            if (bd[i].end <= cut) {
                packets += (size_t)bd[i].is_packet;
                start = bd[i].end;
            }
            if (bd[i].end == cut) at_boundary = 1;
        }
        if (cut >= header_len && start < header_len) start = header_len;
        m = read_mem(copy, cut, NULL);
        s = read_cb(copy, cut, 1, NULL);
        cr_assert_eq(m->n, packets, "cut %zu: %zu packets, want %zu", cut, m->n, packets);
        if (cut < 4) {
            cr_assert_eq(m->rc, TCPS_E_FORMAT, "cut %zu: %s", cut, tcps_result_name(m->rc));
            cr_assert_eq(m->err.offset, 0);
        } else if (cut < header_len) {
            cr_assert_eq(m->rc, TCPS_E_BAD_HEADER, "cut %zu: %s", cut, tcps_result_name(m->rc));
            cr_assert_eq(m->err.offset, 0);
        } else if (at_boundary) {
            cr_assert_eq(m->rc, TCPS_DONE, "cut %zu: %s (%s)", cut, tcps_result_name(m->rc), m->err.message);
            cr_assert_eq(m->end_offset, cut);
        } else {
            cr_assert_eq(m->rc, TCPS_E_TRUNCATED, "cut %zu: %s (%s)", cut, tcps_result_name(m->rc),
                         m->err.message);
            cr_assert_eq(m->err.offset, start, "cut %zu: offset %llu, want %zu", cut,
                         (unsigned long long)m->err.offset, start);
        }
        same_results(m, s, pcapng ? "pcapng cut, 1-byte reads" : "pcap cut, 1-byte reads");
        free(m);
        free(s);
        free(copy);
    }
}

Test(truncation, pcap_cut_at_every_byte) {
    capw_buf b;
    boundary bd[4];
    uint8_t d[40];
    int i;
    fill_pattern(d, sizeof d, 8);
    capw_init(&b);
    capw_pcap_header(&b, 1, 0, 65535, 1);
    for (i = 0; i < 4; i++) {
        capw_pcap_record(&b, (uint32_t)i, 0, d, (uint32_t)(i * 13), 40);
        bd[i].end = b.len;
        bd[i].is_packet = 1;
    }
    cut_everywhere(&b, bd, 4, 24, 0);
    capw_free(&b);
}

Test(truncation, pcapng_cut_at_every_byte) {
    static const uint8_t addr[4] = {1, 2, 3, 4};
    capw_buf b;
    capw_opts o;
    boundary bd[12];
    size_t n = 0, header_len;
    uint8_t d[40];
    fill_pattern(d, sizeof d, 9);
    capw_init(&b);
    capw_ng_shb(&b, 0);
    header_len = b.len;
    capw_ng_idb(&b, 1, 0, NULL);
    bd[n].end = b.len, bd[n++].is_packet = 0;
    capw_ng_epb(&b, 0, 1, d, 13, 40, NULL);
    bd[n].end = b.len, bd[n++].is_packet = 1;
    capw_ng_nrb_ipv4(&b, addr, "a.example");
    bd[n].end = b.len, bd[n++].is_packet = 0;
    capw_opts_init(&o, 0);
    capw_opt_u32(&o, CAPW_EPB_FLAGS, 1);
    capw_opts_end(&o);
    capw_ng_epb(&b, 0, 2, d, 40, 40, &o);
    capw_opts_free(&o);
    bd[n].end = b.len, bd[n++].is_packet = 1;
    capw_ng_shb(&b, 1);
    bd[n].end = b.len, bd[n++].is_packet = 0;
    capw_ng_idb(&b, 101, 100, NULL);
    bd[n].end = b.len, bd[n++].is_packet = 0;
    capw_ng_spb(&b, 40, d, 40);
    bd[n].end = b.len, bd[n++].is_packet = 1;
    capw_ng_pb(&b, 0, 3, d, 7, 7, NULL);
    bd[n].end = b.len, bd[n++].is_packet = 1;
    cut_everywhere(&b, bd, n, header_len, 1);
    capw_free(&b);
}

/* ------------------------------------------------------------ sources */

static void build_mixed(capw_buf *b) {
    uint8_t d[3300];
    int i;
    capw_opts o;
    fill_pattern(d, sizeof d, 10);
    capw_init(b);
    capw_ng_shb(b, 0);
    capw_opts_init(&o, 0);
    capw_opt_u8(&o, CAPW_IF_TSRESOL, 9);
    capw_ng_idb(b, 1, 0, &o);
    capw_opts_free(&o);
    for (i = 0; i < 300; i++) capw_ng_epb(b, 0, (uint64_t)i * 1000003u, d + i, (uint32_t)(i * 7 % 2000), 2000, NULL);
    capw_ng_shb(b, 1);
    capw_ng_idb(b, 113, 0, NULL);
    for (i = 0; i < 300; i++) capw_ng_epb(b, 0, (uint64_t)i, d + i, (uint32_t)(i * 11 % 2900), 2900, NULL);
}

static char *temp_path(const capw_buf *b) {
    static int counter;
    char *path = (char *)malloc(256);
    snprintf(path, 256, "/tmp/tcps_test_reader_%d_%d.cap", (int)getpid(), counter++);
    cr_assert_eq(capw_save(b, path), 0);
    return path;
}

Test(sources, all_sources_agree) {
    capw_buf b;
    result *ref, *x;
    tcps_reader *r;
    char *path;
    FILE *fp;
    char cmd[512];
    size_t chunks[] = {1, 3, 4096, 1 << 20};
    size_t i;
    build_mixed(&b);
    ref = read_mem(b.data, b.len, NULL);
    cr_assert_eq(ref->rc, TCPS_DONE, "%s", ref->err.message);
    cr_assert_eq(ref->n, 600);
    for (i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        x = read_cb(b.data, b.len, chunks[i], NULL);
        same_results(ref, x, "callback");
        free(x);
    }
    path = temp_path(&b);
    cr_assert_eq(tcps_reader_open_path(&r, path, NULL), TCPS_OK);
    x = drain(r);
    same_results(ref, x, "path (read)");
    free(x);
    {
        tcps_reader_config cfg;
        tcps_packet p;
        memset(&cfg, 0, sizeof cfg);
        cfg.flags = TCPS_READER_MMAP;
        cr_assert_eq(tcps_reader_open_path(&r, path, &cfg), TCPS_OK);
        x = drain(r);
        same_results(ref, x, "path (mapped)");
        free(x);
        /* mapped: packets point into one mapping, at their file offsets */
        cr_assert_eq(tcps_reader_open_path(&r, path, &cfg), TCPS_OK);
        cr_assert_eq(tcps_reader_next(r, &p), TCPS_OK);
        {
            const uint8_t *first = p.data.ptr - p.offset;
            cr_assert_eq(tcps_reader_next(r, &p), TCPS_OK);
            cr_expect(p.data.ptr - p.offset == first, "zero copy from the mapping");
        }
        tcps_reader_close(r);
    }
    fp = fopen(path, "rb");
    cr_assert_not_null(fp);
    cr_assert_eq(tcps_reader_open_file(&r, fp, NULL), TCPS_OK);
    x = drain(r);
    same_results(ref, x, "FILE*");
    free(x);
    /* the FILE* is still ours: it must still be open */
    cr_expect_eq(fseek(fp, 0, SEEK_SET), 0);
    cr_expect_eq(fgetc(fp), 0x0a);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "cat %s", path);
    fp = popen(cmd, "r");
    cr_assert_not_null(fp);
    cr_assert_eq(tcps_reader_open_file(&r, fp, NULL), TCPS_OK);
    x = drain(r);
    same_results(ref, x, "pipe (popen)");
    free(x);
    cr_expect_eq(pclose(fp), 0);
    /* a FIFO named by path: read, not mapped */
    {
        char fifo[300];
        pid_t pid;
        int st;
        snprintf(fifo, sizeof fifo, "%s.fifo", path);
        cr_assert_eq(mkfifo(fifo, 0600), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            int fd = open(fifo, O_WRONLY);
            size_t off = 0;
            while (fd >= 0 && off < b.len) {
                size_t n = b.len - off < 777 ? b.len - off : 777;
                ssize_t w = write(fd, b.data + off, n);
                if (w <= 0) _exit(1);
                off += (size_t)w;
            }
            _exit(0);
        }
        cr_assert_eq(tcps_reader_open_path(&r, fifo, NULL), TCPS_OK);
        x = drain(r);
        same_results(ref, x, "FIFO path");
        free(x);
        waitpid(pid, &st, 0);
        unlink(fifo);
    }
    unlink(path);
    free(path);
    free(ref);
    capw_free(&b);
}

Test(sources, stdin_dash_from_a_pipe) {
    capw_buf b;
    result *ref, *x;
    tcps_reader *r;
    int fds[2], st;
    pid_t pid;
    build_mixed(&b);
    ref = read_mem(b.data, b.len, NULL);
    cr_assert_eq(pipe(fds), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        size_t off = 0;
        close(fds[0]);
        while (off < b.len) {
            size_t n = b.len - off < 1000 ? b.len - off : 1000;
            ssize_t w = write(fds[1], b.data + off, n);
            if (w <= 0) _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    cr_assert_eq(dup2(fds[0], 0), 0);
    close(fds[0]);
    cr_assert_eq(tcps_reader_open_path(&r, "-", NULL), TCPS_OK);
    x = drain(r);
    same_results(ref, x, "stdin pipe");
    waitpid(pid, &st, 0);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    free(x);
    free(ref);
    capw_free(&b);
}

Test(sources, open_errors) {
    tcps_reader *r = (tcps_reader *)&r;
    tcps_reader_config cfg;
    cr_expect_eq(tcps_reader_open_path(&r, "/nonexistent/dir/x.pcap", NULL), TCPS_E_IO);
    cr_expect_null(r);
    cr_expect_eq(tcps_reader_open_memory(&r, NULL, 5, NULL), TCPS_E_ARG);
    cr_expect_eq(tcps_reader_open_callback(&r, NULL, NULL, NULL), TCPS_E_ARG);
    cr_expect_eq(tcps_reader_open_file(&r, NULL, NULL), TCPS_E_ARG);
    cr_expect_eq(tcps_reader_open_memory(NULL, "", 0, NULL), TCPS_E_ARG);
    memset(&cfg, 0, sizeof cfg);
    cfg.allocator.alloc = c_alloc; /* only one of the three */
    cr_expect_eq(tcps_reader_open_memory(&r, "", 0, &cfg), TCPS_E_ARG);
    tcps_reader_close(NULL);
    cr_expect_eq(tcps_reader_next(NULL, NULL), TCPS_E_ARG);
}

Test(sources, read_error_is_reported) {
    capw_buf b;
    tcps_reader *r;
    feeder f;
    result *res;
    build_mixed(&b);
    f.p = b.data;
    f.len = b.len;
    f.pos = 0;
    f.chunk = 1000;
    f.fail_at = 50000;
    cr_assert_eq(tcps_reader_open_callback(&r, feed_fn, &f, NULL), TCPS_OK);
    res = drain(r);
    cr_expect_eq(res->rc, TCPS_E_IO);
    cr_expect_gt(res->n, 10);
    cr_expect_lt(res->r[res->n - 1].offset, 50000);
    free(res);
    capw_free(&b);
}

/* The input ends just before an unreadable page: any read past the end
   faults, with or without a sanitizer. */
Test(sources, no_read_past_the_end) {
    capw_buf b;
    long page = sysconf(_SC_PAGESIZE);
    size_t span, cut;
    uint8_t *m;
    build_mixed(&b);
    span = (b.len + (size_t)page - 1) / (size_t)page * (size_t)page;
    m = (uint8_t *)mmap(NULL, span + (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(m != MAP_FAILED);
    cr_assert_eq(mprotect(m + span, (size_t)page, PROT_NONE), 0);
    for (cut = b.len; cut + 2000 > b.len && cut > 0; cut -= 37) {
        result *res;
        memcpy(m + span - cut, b.data, cut);
        res = read_mem(m + span - cut, cut, NULL);
        cr_expect(res->rc == TCPS_DONE || res->rc == TCPS_E_TRUNCATED);
        free(res);
    }
    munmap(m, span + (size_t)page);
    capw_free(&b);
}

/* ------------------------------------------------------------ memory */

Test(memory, config_effective) {
    tcps_reader *r;
    tcps_reader_config cfg, eff;
    counting c;
    memset(&eff, 0, sizeof eff);
    cr_assert_eq(tcps_reader_open_memory(&r, "", 0, NULL), TCPS_OK);
    tcps_reader_config_effective(r, &eff);
    cr_expect_eq(eff.max_record, 64u << 20);
    cr_expect_eq(eff.max_interfaces, 65536);
    cr_expect(eff.allocator.alloc && eff.allocator.realloc && eff.allocator.free);
    tcps_reader_close(r);
    cfg = counting_config(&c);
    cfg.max_record = 12345;
    cfg.max_interfaces = 3;
    cr_assert_eq(tcps_reader_open_memory(&r, "", 0, &cfg), TCPS_OK);
    tcps_reader_config_effective(r, &eff);
    cr_expect_eq(eff.max_record, 12345);
    cr_expect_eq(eff.max_interfaces, 3);
    cr_expect(eff.allocator.alloc == c_alloc && eff.allocator.user == &c);
    tcps_reader_close(r);
    cr_expect_eq(c.live, 0);
}

static void fail_every_allocation(const capw_buf *b, int streamed) {
    result *ref = read_mem(b->data, b->len, NULL);
    long k;
    int saw_nomem = 0;
    for (k = 1;; k++) {
        counting c;
        tcps_reader_config cfg = counting_config(&c);
        tcps_reader *r;
        feeder f;
        int rc;
        c.fail_at = k;
        f.p = b->data;
        f.len = b->len;
        f.pos = 0;
        f.chunk = 5000;
        f.fail_at = 0;
        rc = streamed ? tcps_reader_open_callback(&r, feed_fn, &f, &cfg)
                      : tcps_reader_open_memory(&r, b->data, b->len, &cfg);
        if (rc == TCPS_E_NOMEM) {
            cr_expect_eq(c.live, 0);
            saw_nomem = 1;
            continue;
        }
        cr_assert_eq(rc, TCPS_OK);
        {
            result *res = drain(r);
            cr_expect_eq(c.live, 0, "k=%ld: %zu bytes leaked", k, c.live);
            if (res->rc == TCPS_E_NOMEM) {
                saw_nomem = 1;
                cr_expect_leq(res->n, ref->n);
                free(res);
                continue;
            }
            same_results(ref, res, "allocation never failed");
            free(res);
        }
        if (c.calls < k) break; /* the k-th allocation never happened: done */
    }
    cr_expect(saw_nomem);
    cr_expect_gt(k, 3, "several allocations were tried (%ld)", k);
    free(ref);
}

Test(memory, allocator_failure_at_every_allocation) {
    capw_buf b;
    uint8_t d[100];
    int i;
    fill_pattern(d, sizeof d, 11);
    capw_init(&b);
    capw_ng_shb(&b, 0);
    for (i = 0; i < 40; i++) capw_ng_idb(&b, (uint16_t)i, 0, NULL);
    for (i = 0; i < 40; i++) capw_ng_epb(&b, (uint32_t)i, (uint64_t)i, d, 100, 100, NULL);
    capw_ng_custom(&b, 1, NULL, 300000); /* makes the stream buffer grow */
    capw_ng_epb(&b, 39, 1, d, 100, 100, NULL);
    fail_every_allocation(&b, 0);
    fail_every_allocation(&b, 1);
    capw_free(&b);
}

Test(memory, streaming_buffer_stays_small) {
    capw_buf b;
    counting c;
    tcps_reader_config cfg;
    result *res;
    uint8_t d[1500];
    int i;
    fill_pattern(d, sizeof d, 12);
    capw_init(&b);
    capw_pcap_header(&b, 0, 0, 65535, 1);
    for (i = 0; i < 4000; i++) capw_pcap_record(&b, (uint32_t)i, 0, d, 1000 + (uint32_t)(i % 500), 1500);
    cfg = counting_config(&c);
    res = read_cb(b.data, b.len, 65536, &cfg);
    cr_expect_eq(res->rc, TCPS_DONE);
    cr_expect_eq(res->n, 4000);
    cr_expect_lt(c.peak, 1u << 20, "peak %zu for a %zu-byte capture", c.peak, b.len);
    cr_expect_eq(c.live, 0);
    free(res);
    capw_free(&b);
}

Test(memory, growing_records_do_not_reallocate_each_time) {
    capw_buf b;
    counting c;
    tcps_reader_config cfg;
    result *res;
    uint8_t *d = (uint8_t *)calloc(1, 1u << 20);
    uint32_t len;
    capw_init(&b);
    capw_pcap_header(&b, 0, 0, 1u << 20, 1);
    for (len = 100000; len < 400000; len += 1000) capw_pcap_record(&b, 1, 0, d, len, len);
    cfg = counting_config(&c);
    res = read_cb(b.data, b.len, 1u << 20, &cfg);
    cr_expect_eq(res->rc, TCPS_DONE);
    cr_expect_eq(res->n, 300);
    cr_expect_lt(c.calls, 10, "%ld allocations for 300 growing records", c.calls);
    cr_expect_lt(c.peak, 1u << 20, "peak %zu", c.peak);
    free(res);
    capw_free(&b);
    free(d);
}

/* Sun snoop (RFC 1761): big-endian header and records padded to 4 */
static void snoop_record(capw_buf *b, uint32_t sec, uint32_t usec, const uint8_t *d, uint32_t caplen,
                         uint32_t origlen) {
    uint32_t reclen = 24 + ((caplen + 3) & ~3u);
    capw_u32(b, origlen);
    capw_u32(b, caplen);
    capw_u32(b, reclen);
    capw_u32(b, 0);
    capw_u32(b, sec);
    capw_u32(b, usec);
    capw_bytes(b, d, caplen);
    capw_pad4(b);
}

Test(reader, snoop) {
    capw_buf b;
    tcps_reader *r;
    tcps_packet pkt;
    static const uint8_t frame[61] = {1, 2, 3};
    size_t cut;
    capw_init(&b);
    b.big_endian = 1;
    capw_bytes(&b, "snoop\0\0\0", 8);
    capw_u32(&b, 2);
    capw_u32(&b, 4); /* Ethernet */
    snoop_record(&b, 1000, 250000, frame, 61, 61);
    snoop_record(&b, 1001, 999999, frame, 20, 1514);
    cr_assert_eq(tcps_reader_open_memory(&r, b.data, b.len, NULL), TCPS_OK);
    cr_assert_eq(tcps_reader_next(r, &pkt), TCPS_OK);
    cr_assert_eq(tcps_reader_format(r), TCPS_FORMAT_SNOOP);
    cr_assert_eq(pkt.linktype, TCPS_LINKTYPE_ETHERNET);
    cr_assert_eq(pkt.data.len, 61);
    cr_assert_eq(pkt.ts.sec, 1000);
    cr_assert_eq(pkt.ts.nsec, 250000000u);
    cr_assert_eq(pkt.data.ptr[2], 3);
    cr_assert_eq(tcps_reader_next(r, &pkt), TCPS_OK);
    cr_assert_eq(pkt.origlen, 1514);
    cr_assert_eq(pkt.data.len, 20);
    cr_assert_eq(pkt.frame, 2);
    cr_assert_eq(tcps_reader_next(r, &pkt), TCPS_DONE);
    tcps_reader_close(r);
    /* cut anywhere inside the second record: the first comes, then an error */
    for (cut = 16 + 24 + 64 + 1; cut < b.len; cut++) {
        cr_assert_eq(tcps_reader_open_memory(&r, b.data, cut, NULL), TCPS_OK);
        cr_assert_eq(tcps_reader_next(r, &pkt), TCPS_OK);
        cr_assert_eq(tcps_reader_next(r, &pkt), TCPS_E_TRUNCATED, "cut at %zu", cut);
        tcps_reader_close(r);
    }
    /* a record length that does not hold its data */
    b.data[16 + 8 + 3] = 30;
    cr_assert_eq(tcps_reader_open_memory(&r, b.data, b.len, NULL), TCPS_OK);
    cr_assert_eq(tcps_reader_next(r, &pkt), TCPS_E_BAD_RECORD);
    cr_assert_eq(tcps_reader_error(r)->offset, 16);
    tcps_reader_close(r);
    capw_free(&b);
}
