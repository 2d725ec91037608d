/* The shared layer (lib/tsl.h): digests against known answers and in
   pieces; endpoint text both ways, strict, on every kind of wrong input;
   JSON string text that gives back every byte; the list row; and the
   collector against the engine run directly, on thousands of sessions with
   reused 4-tuples, loss and a growing table, with stops and capture errors. */
#define _POSIX_C_SOURCE 200809L /* open_memstream, fmemopen */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "capwriter.h"
#include "pktbuild.h"
#include "fuzz/sessgen.h"
#include "tsl.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ digests */

Test(digest, known_answers) {
    char hex[TSL_HEX_MAX];
    cr_assert_eq(tsl_digest_hex(TSL_SHA256, "abc", 3, hex), 0);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_assert_eq(tsl_digest_hex(TSL_SHA256, "", 0, hex), 0);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cr_assert_eq(tsl_digest_hex(TSL_MD5, "abc", 3, hex), 0);
    cr_assert_str_eq(hex, "900150983cd24fb0d6963f7d28e17f72");
    cr_assert_eq(tsl_digest_hex(TSL_MD5, "", 0, hex), 0);
    cr_assert_str_eq(hex, "d41d8cd98f00b204e9800998ecf8427e");
}

/* Fed in pieces of 1, 7, 64 and 65536 bytes across the block edges, a
   running hash gives the one-shot digest, and starts over after each. */
Test(digest, pieces_and_restart) {
    static const size_t lens[] = {0, 1, 55, 56, 57, 63, 64, 65, 127, 128, 1000, 100003};
    static const size_t steps[] = {1, 7, 64, 65536};
    uint8_t *buf = (uint8_t *)malloc(100003);
    size_t i, j, k, off;
    int kind;
    cr_assert(buf);
    for (i = 0; i < 100003; i++) buf[i] = (uint8_t)(i * 2654435761u >> 13);
    for (kind = TSL_SHA256; kind <= TSL_MD5; kind++) {
        tsl_hash *h = tsl_hash_new(kind);
        cr_assert(h);
        for (i = 0; i < sizeof lens / sizeof *lens; i++)
            for (j = 0; j < sizeof steps / sizeof *steps; j++) {
                char want[TSL_HEX_MAX], got[TSL_HEX_MAX];
                cr_assert_eq(tsl_digest_hex(kind, buf, lens[i], want), 0);
                for (off = 0; off < lens[i]; off += k) {
                    k = lens[i] - off < steps[j] ? lens[i] - off : steps[j];
                    tsl_hash_update(h, buf + off, k);
                }
                tsl_hash_hex(h, got);
                cr_assert_str_eq(got, want, "kind %d, %zu bytes in pieces of %zu", kind, lens[i], steps[j]);
            }
        tsl_hash_free(h);
    }
    free(buf);
}

/* -------------------------------------------------------- endpoints */

static tcps_endpoint ep(const char *s) {
    tcps_endpoint e;
    cr_assert_eq(tsl_endpoint_parse(s, strlen(s), &e), 0, "%s refused", s);
    return e;
}

Test(endpoint, text_round_trip) {
    static const char *const ok[] = {"192.0.2.1:80", "0.0.0.0:0", "255.255.255.255:65535", "[2001:db8::1]:443",
                                     "[::]:1", "[::ffff:192.0.2.1]:8080", "[fe80::1:2:3:4]:5"};
    size_t i;
    for (i = 0; i < sizeof ok / sizeof *ok; i++) {
        char text[TSL_ENDPOINT_MAX];
        tcps_endpoint e = ep(ok[i]), back;
        tsl_endpoint_text(&e, text, sizeof text);
        cr_assert_str_eq(text, ok[i]);
        back = ep(text);
        cr_assert(tsl_endpoint_eq(&e, &back));
    }
    /* RFC 5952: the text printed is the canonical one */
    {
        char text[TSL_ENDPOINT_MAX];
        tcps_endpoint e = ep("[2001:0DB8:0:0:0:0:0:1]:0443");
        cr_assert_str_eq(tsl_endpoint_text(&e, text, sizeof text), "[2001:db8::1]:443");
        cr_assert_eq(e.port, 443);
    }
}

Test(endpoint, refuses_what_is_not_one) {
    static const char *const bad[] = {"",          "192.0.2.1",      "192.0.2.1:",     ":80",
                                      "192.0.2.1:65536", "192.0.2.1:+80", " 192.0.2.1:80", "192.0.2.1:80 ",
                                      "192.0.2.1:8x",    "192.0.2.1:123456", "192.0.2:80", "::1:80",
                                      "2001:db8::1:443", "[::1]80",       "[::1]:",         "[::1",
                                      "[192.0.2.1]:80",  "[::1]:80]",     "[]:80",          "192.0.2.256:1",
                                      "192.0.2.1:-1",    "1.2.3.4:80:90"};
    size_t i;
    for (i = 0; i < sizeof bad / sizeof *bad; i++) {
        tcps_endpoint e;
        memset(&e, 0xa5, sizeof e);
        cr_assert_eq(tsl_endpoint_parse(bad[i], strlen(bad[i]), &e), -1, "'%s' accepted", bad[i]);
        cr_assert_eq(e.ip_version, 0, "'%s' left a value behind", bad[i]);
    }
    /* n is the length: what follows is not read */
    {
        tcps_endpoint e;
        cr_assert_eq(tsl_endpoint_parse("192.0.2.1:80,junk", 12, &e), 0);
        cr_assert_eq(e.port, 80);
    }
}

Test(endpoint, pairs) {
    tcps_endpoint p[2];
    const char *s = "192.0.2.1:1234,[2001:db8::2]:80";
    cr_assert_eq(tsl_endpoint_pair_parse(s, strlen(s), p), -1, "mixed IP versions accepted");
    s = "[2001:db8::1]:1234,[2001:db8::2]:80";
    cr_assert_eq(tsl_endpoint_pair_parse(s, strlen(s), p), 0);
    cr_assert_eq(p[0].port, 1234);
    cr_assert_eq(p[1].port, 80);
    s = "192.0.2.1:1,192.0.2.2:2,";
    cr_assert_eq(tsl_endpoint_pair_parse(s, strlen(s), p), -1);
    s = "192.0.2.1:1";
    cr_assert_eq(tsl_endpoint_pair_parse(s, strlen(s), p), -1);
}

/* Random strings over the endpoint alphabet: nothing accepted that does not
   print back to text that parses to the same endpoint. */
Test(endpoint, random_text) {
    static const char alpha[] = "0123456789abcdef:.[],";
    uint64_t x = 0x9e3779b97f4a7c15ull;
    long accepted = 0, i;
    for (i = 0; i < 300000; i++) {
        char s[40], text[TSL_ENDPOINT_MAX];
        size_t n, k;
        tcps_endpoint e, back;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        n = (size_t)(x % 24);
        for (k = 0; k < n; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            s[k] = alpha[x % (sizeof alpha - 1)];
        }
        if (n > 4 && (x >> 40) % 3 == 0) { /* often the shape of one */
            s[0] = '1', s[1] = '.', s[2] = '2', s[3] = '.';
        }
        if (tsl_endpoint_parse(s, n, &e)) continue;
        accepted++;
        tsl_endpoint_text(&e, text, sizeof text);
        cr_assert_eq(tsl_endpoint_parse(text, strlen(text), &back), 0, "%.*s printed as %s", (int)n, s, text);
        cr_assert(tsl_endpoint_eq(&e, &back));
    }
    cr_log_info("%ld of 300000 accepted", accepted);
}

/* --------------------------------------------------------------- JSON */

static char *json_of(const void *p, size_t n, size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    cr_assert(f);
    tsl_json_str(f, p, n);
    cr_assert_eq(fclose(f), 0);
    return buf;
}

/* Decode the escapes the writer uses; -1 for anything else */
static long json_back(const char *s, size_t n, uint8_t *out) {
    size_t i = 1, o = 0;
    if (n < 2 || s[0] != '"' || s[n - 1] != '"') return -1;
    while (i < n - 1) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || c == '"') return -1;
        if (c != '\\') {
            out[o++] = c, i++;
            continue;
        }
        if (i + 1 >= n - 1) return -1;
        switch (s[i + 1]) {
        case '"': case '\\': out[o++] = (uint8_t)s[i + 1]; i += 2; break;
        case 'n': out[o++] = '\n'; i += 2; break;
        case 'r': out[o++] = '\r'; i += 2; break;
        case 't': out[o++] = '\t'; i += 2; break;
        case 'u': {
            unsigned v;
            if (i + 6 > n - 1 || sscanf(s + i + 2, "%4x", &v) != 1 || v > 0xff) return -1;
            out[o++] = (uint8_t)v;
            i += 6;
            break;
        }
        default: return -1;
        }
    }
    return (long)o;
}

Test(json, every_byte_comes_back) {
    uint8_t all[512], back[512];
    size_t len, i;
    char *j;
    for (i = 0; i < 512; i++) all[i] = (uint8_t)(i * 7);
    j = json_of(all, sizeof all, &len);
    cr_assert_eq(json_back(j, len, back), 512);
    cr_assert(memcmp(all, back, 512) == 0);
    free(j);
    j = json_of("a\"b\\c\n\x01\x7f\xff", 9, &len);
    cr_assert_str_eq(j, "\"a\\\"b\\\\c\\n\\u0001\\u007f\\u00ff\"");
    free(j);
    j = json_of("", 0, &len);
    cr_assert_str_eq(j, "\"\"");
    free(j);
}

/* ------------------------------------------------------- the list row */

Test(row, list_json_line) {
    tsl_row r;
    char *line;
    memset(&r, 0, sizeof r);
    r.stream = 7;
    r.packets = 12;
    r.client = ep("[2001:db8::1]:5000");
    r.server = ep("[2001:db8::2]:443");
    r.bytes[0] = 10, r.bytes[1] = 20, r.missing[1] = 5;
    strcpy(r.sha256[0], "aa");
    strcpy(r.sha256[1], "bb");
    r.first.sec = 1, r.first.nsec = 5;
    r.last.sec = 2, r.last.nsec = 999999999;
    r.end = TCPS_END_RST;
    line = tsl_row_json_string(&r, "a\"b.pcap");
    cr_assert(line);
    cr_assert_str_eq(line, "{\"stream\":7,\"client_ip\":\"2001:db8::1\",\"client_port\":5000,\"server_ip\":"
                           "\"2001:db8::2\",\"server_port\":443,\"c2s_bytes\":10,\"s2c_bytes\":20,"
                           "\"c2s_missing\":0,\"s2c_missing\":5,\"c2s_sha256\":\"aa\",\"s2c_sha256\":\"bb\","
                           "\"packets\":12,\"first_ts\":1.000000005,\"last_ts\":2.999999999,\"end\":\"rst\","
                           "\"capture\":\"a\\\"b.pcap\"}\n");
    free(line);
    r.end = 0; /* still open; no capture member */
    line = tsl_row_json_string(&r, NULL);
    cr_assert(strstr(line, "\"end\":\"open\"}\n"), "%s", line);
    cr_assert_null(strstr(line, "capture"));
    free(line);
}

/* ---------------------------------------------------------- collector */

/* What the engine delivers, gathered by callbacks of our own */
typedef struct direct {
    tsl_row *v;
    size_t n;
} direct;

typedef struct dsess {
    size_t i;
    tsl_hash *h[2];
} dsess;

static int d_open(const tcps_event *ev, void *user) {
    direct *d = (direct *)user;
    dsess *s = (dsess *)calloc(1, sizeof *s);
    cr_assert(s);
    d->v = (tsl_row *)realloc(d->v, (d->n + 1) * sizeof *d->v);
    cr_assert(d->v);
    memset(&d->v[d->n], 0, sizeof *d->v);
    s->i = d->n++;
    s->h[0] = tsl_hash_new(TSL_SHA256);
    s->h[1] = tsl_hash_new(TSL_SHA256);
    ev->session->user = s;
    return 0;
}

static int d_data(const tcps_event *ev, void *user) {
    direct *d = (direct *)user;
    dsess *s = (dsess *)ev->session->user;
    tsl_hash_update(s->h[ev->dir], ev->data.ptr, ev->data.len);
    d->v[s->i].bytes[ev->dir] += ev->data.len;
    return 0;
}

static int d_gap(const tcps_event *ev, void *user) {
    direct *d = (direct *)user;
    dsess *s = (dsess *)ev->session->user;
    d->v[s->i].missing[ev->dir] += ev->length;
    return 0;
}

static int d_close(const tcps_event *ev, void *user) {
    direct *d = (direct *)user;
    dsess *s = (dsess *)ev->session->user;
    tsl_row *r = &d->v[s->i];
    const tcps_session *t = ev->session;
    int i;
    r->stream = t->stream;
    r->packets = t->packets;
    r->client = t->client;
    r->server = t->server;
    r->first = t->first_ts;
    r->last = t->last_ts;
    r->end = ev->reason;
    for (i = 0; i < 2; i++) {
        tsl_hash_hex(s->h[i], r->sha256[i]);
        tsl_hash_free(s->h[i]);
    }
    free(s);
    ev->session->user = NULL;
    return 0;
}

typedef struct rows {
    tsl_row *v;
    size_t n;
    uint64_t opened;
    int stop_at; /* close hook returns 42 at this close (1-based), 0: never */
} rows;

static int c_open(tsl_session *ss, const tcps_event *ev, void *user) {
    (void)ss, (void)ev;
    ((rows *)user)->opened++;
    return 0;
}

static int c_close(tsl_session *ss, const tcps_event *ev, void *user) {
    rows *r = (rows *)user;
    (void)ev;
    r->v = (tsl_row *)realloc(r->v, (r->n + 1) * sizeof *r->v);
    cr_assert(r->v);
    tsl_session_row(ss, &r->v[r->n++]);
    cr_assert_eq(ss->dir[0].bytes + ss->dir[1].bytes, ss->s->dir[0].bytes + ss->s->dir[1].bytes);
    return r->stop_at && (int)r->n == r->stop_at ? 42 : 0;
}

/* The rows of the engine run directly, with the callbacks above */
static void engine_rows(const capw_buf *cap, direct *d) {
    tcps_reader *rd;
    tcps_ctx *ctx;
    tcps_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.callbacks.on_open = d_open;
    cfg.callbacks.on_data = d_data;
    cfg.callbacks.on_gap = d_gap;
    cfg.callbacks.on_close = d_close;
    cfg.user = d;
    cr_assert_eq(tcps_reader_open_memory(&rd, cap->data, cap->len, NULL), TCPS_OK);
    cr_assert_eq(tcps_create(&ctx, &cfg), TCPS_OK);
    cr_assert_eq(tcps_run(ctx, rd), TCPS_OK);
    tcps_destroy(ctx);
    tcps_reader_close(rd);
}

static int by_stream(const void *a, const void *b) {
    const tsl_row *x = (const tsl_row *)a, *y = (const tsl_row *)b;
    return x->stream < y->stream ? -1 : x->stream > y->stream;
}

static void make_traffic(capw_buf *cap, uint64_t seed, uint32_t conns, unsigned loss) {
    sg_params p;
    sg_traffic t;
    sg_params_default(&p, seed, conns);
    p.filler_open = 1500;
    p.filler_closed = 300;
    p.loss_pct = loss;
    sg_generate(&t, &p);
    sg_write_pcap(&t, cap);
    sg_free(&t);
}

static void same_rows(const tsl_row *a, const tsl_row *b, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        char x[512], y[512];
        FILE *f = fmemopen(x, sizeof x, "w"), *g = fmemopen(y, sizeof y, "w");
        tsl_row_json(f, &a[i], NULL);
        tsl_row_json(g, &b[i], NULL);
        fclose(f);
        fclose(g);
        cr_assert_str_eq(x, y, "session %zu", i);
    }
}

/* Thousands of sessions, 4-tuples reused, 2% of the segments lost: the
   collector's rows (counts and SHA-256 each way, end, times) are exactly
   what the engine delivered to callbacks of our own, and its totals are
   the engine's counters. */
Test(collect, equals_the_engine_on_reused_tuples_with_loss, .timeout = 120) {
    capw_buf cap;
    tcps_reader *rd;
    tcps_stats st;
    direct *d = (direct *)calloc(1, sizeof *d);
    rows r;
    char err[256];
    uint64_t bytes = 0, missing = 0;
    size_t i;
    int rc;
    cr_assert(d);
    make_traffic(&cap, 0x75110001u, 2500, 2);
    engine_rows(&cap, d);

    memset(&r, 0, sizeof r);
    {
        tsl_hooks h;
        memset(&h, 0, sizeof h);
        h.open = c_open;
        h.close = c_close;
        h.user = &r;
        cr_assert_eq(tcps_reader_open_memory(&rd, cap.data, cap.len, NULL), TCPS_OK);
        rc = tsl_collect(rd, NULL, TSL_HASH, &h, &st, NULL, err, sizeof err);
        tcps_reader_close(rd);
    }
    cr_assert_eq(rc, TCPS_OK, "%s", err);
    cr_assert_str_eq(err, "");
    cr_assert_gt(d->n, 4000, "%zu sessions", d->n);
    cr_assert_eq(r.n, d->n);
    cr_assert_eq(r.opened, d->n);
    cr_assert_eq(st.sessions, d->n);
    qsort(d->v, d->n, sizeof *d->v, by_stream);
    qsort(r.v, r.n, sizeof *r.v, by_stream);
    same_rows(d->v, r.v, r.n);
    for (i = 0; i < r.n; i++) bytes += r.v[i].bytes[0] + r.v[i].bytes[1], missing += r.v[i].missing[0] + r.v[i].missing[1];
    cr_assert_eq(bytes, st.bytes);
    cr_assert_eq(missing, st.missing);
    cr_assert_gt(missing, 0, "the loss left no gap");
    free(d->v);
    free(d);
    free(r.v);
    capw_free(&cap);
}

/* The same with the digests on their own thread (TSL_HASH_THREAD): every
   row, SHA-256 each way included, is the engine's. tests/tsan_digests.c
   runs the digest thread under ThreadSanitizer (make test-tsan). */
Test(collect, digest_thread_gives_the_same_rows) {
    capw_buf cap;
    tcps_reader *rd;
    tcps_stats st;
    direct *d = (direct *)calloc(1, sizeof *d);
    rows r;
    tsl_hooks h;
    char err[256];
    int rc;
    cr_assert(d);
    make_traffic(&cap, 0x75110009u, 1500, 2);
    engine_rows(&cap, d);
    memset(&r, 0, sizeof r);
    memset(&h, 0, sizeof h);
    h.open = c_open;
    h.close = c_close;
    h.user = &r;
    cr_assert_eq(tcps_reader_open_memory(&rd, cap.data, cap.len, NULL), TCPS_OK);
    rc = tsl_collect(rd, NULL, TSL_HASH | TSL_HASH_THREAD, &h, &st, NULL, err, sizeof err);
    tcps_reader_close(rd);
    cr_assert_eq(rc, TCPS_OK, "%s", err);
    cr_assert_gt(d->n, 2500, "%zu sessions", d->n);
    cr_assert_eq(r.n, d->n);
    qsort(d->v, d->n, sizeof *d->v, by_stream);
    qsort(r.v, r.n, sizeof *r.v, by_stream);
    same_rows(d->v, r.v, r.n);
    free(d->v);
    free(d);
    free(r.v);
    capw_free(&cap);
}

/* Without TSL_HASH no digest is made; a hook's stop ends the run with its
   value and nothing leaks (the sanitizer run checks); the sessions left
   open are not delivered. */
Test(collect, no_hash_and_a_stop) {
    capw_buf cap;
    tcps_reader *rd;
    tsl_hooks h;
    rows r;
    char err[256];
    int rc;
    make_traffic(&cap, 0x75110002u, 300, 0);
    memset(&h, 0, sizeof h);
    h.close = c_close;
    h.user = &r;
    memset(&r, 0, sizeof r);
    cr_assert_eq(tcps_reader_open_memory(&rd, cap.data, cap.len, NULL), TCPS_OK);
    cr_assert_eq(tsl_collect(rd, NULL, 0, &h, NULL, NULL, err, sizeof err), TCPS_OK);
    tcps_reader_close(rd);
    cr_assert_gt(r.n, 1000);
    cr_assert_str_eq(r.v[0].sha256[0], "");
    free(r.v);

    memset(&r, 0, sizeof r);
    r.stop_at = 100;
    cr_assert_eq(tcps_reader_open_memory(&rd, cap.data, cap.len, NULL), TCPS_OK);
    rc = tsl_collect(rd, NULL, TSL_HASH, &h, NULL, NULL, err, sizeof err);
    tcps_reader_close(rd);
    cr_assert_eq(rc, 42);
    cr_assert_eq(r.n, 100);
    free(r.v);
    capw_free(&cap);
}

/* A capture cut inside a record: every session before the cut is closed
   and delivered, then the error comes with its byte offset, also when a
   hook stops the run while those sessions close. */
Test(collect, capture_error_after_every_session) {
    capw_buf cap;
    tcps_reader *rd;
    tsl_hooks h;
    rows r;
    char err[256], want[64];
    size_t cut, closes;
    int rc;
    make_traffic(&cap, 0x75110003u, 200, 0);
    cut = cap.len - 7;
    memset(&h, 0, sizeof h);
    h.open = c_open;
    h.close = c_close;
    h.user = &r;
    memset(&r, 0, sizeof r);
    cr_assert_eq(tcps_reader_open_memory(&rd, cap.data, cut, NULL), TCPS_OK);
    rc = tsl_collect(rd, NULL, TSL_HASH, &h, NULL, NULL, err, sizeof err);
    cr_assert_eq(rc, TCPS_E_TRUNCATED, "%s", tcps_result_name(rc));
    snprintf(want, sizeof want, "at byte %llu (TCPS_E_TRUNCATED)",
             (unsigned long long)tcps_reader_error(rd)->offset);
    cr_assert(strstr(err, want), "%s", err);
    cr_assert_eq(r.n, r.opened, "%zu of %llu sessions delivered", r.n, (unsigned long long)r.opened);
    tcps_reader_close(rd);
    free(r.v);
    closes = r.n;

    memset(&r, 0, sizeof r);
    r.stop_at = (int)closes; /* the last close: the open fillers close after the cut */
    cr_assert_eq(tcps_reader_open_memory(&rd, cap.data, cut, NULL), TCPS_OK);
    rc = tsl_collect(rd, NULL, 0, &h, NULL, NULL, err, sizeof err);
    tcps_reader_close(rd);
    cr_assert_eq(rc, TCPS_E_TRUNCATED, "%d", rc);
    cr_assert_eq(r.n, closes);
    free(r.v);
    capw_free(&cap);
}

/* tcps_session.ending, which follow stops on: set before the close of
   every session closed by FINs or a RST (the close waits linger_ms), never
   on another, and after FINs no byte and no gap comes for the session; on
   thousands of reused-tuple sessions with loss, duplicates, reordering and
   late retransmissions. */
typedef struct endings {
    uint64_t fin_early, rst_early, data_after_fin, closes_fin, closes_rst, others_marked;
} endings;

static int e_data(tsl_session *ss, const tcps_event *ev, void *user) {
    (void)ev;
    if (ss->s->ending == TCPS_END_FIN) ((endings *)user)->data_after_fin++;
    return 0;
}

static int e_close(tsl_session *ss, const tcps_event *ev, void *user) {
    endings *e = (endings *)user;
    if (ev->reason == TCPS_END_FIN) e->closes_fin++, e->fin_early += ss->s->ending == TCPS_END_FIN;
    else if (ev->reason == TCPS_END_RST) e->closes_rst++, e->rst_early += ss->s->ending == TCPS_END_RST;
    else if (ss->s->ending) e->others_marked++;
    return 0;
}

Test(collect, ending_comes_before_the_close, .timeout = 120) {
    sg_params p;
    sg_traffic t;
    capw_buf cap;
    tcps_reader *rd;
    tsl_hooks h;
    endings e;
    char err[256];
    sg_params_default(&p, 0x75110004u, 3000);
    p.filler_open = 500;
    p.loss_pct = 1;
    p.dup_pct = 5;
    p.reorder_pct = 5;
    p.late_pct = 20;
    p.rst_pct = 15;
    sg_generate(&t, &p);
    sg_write_pcap(&t, &cap);
    memset(&h, 0, sizeof h);
    memset(&e, 0, sizeof e);
    h.data = e_data;
    h.gap = e_data;
    h.close = e_close;
    h.user = &e;
    cr_assert_eq(tcps_reader_open_memory(&rd, cap.data, cap.len, NULL), TCPS_OK);
    cr_assert_eq(tsl_collect(rd, NULL, 0, &h, NULL, NULL, err, sizeof err), TCPS_OK, "%s", err);
    tcps_reader_close(rd);
    cr_assert_gt(e.closes_fin, 1500, "%llu FIN closes", (unsigned long long)e.closes_fin);
    cr_assert_gt(e.closes_rst, 200, "%llu RST closes", (unsigned long long)e.closes_rst);
    cr_assert_eq(e.fin_early, e.closes_fin);
    cr_assert_eq(e.rst_early, e.closes_rst);
    cr_assert_eq(e.others_marked, 0);
    cr_assert_eq(e.data_after_fin, 0, "%llu data or gap events after ending by FINs",
                 (unsigned long long)e.data_after_fin);
    sg_free(&t);
    capw_free(&cap);
}

/* --------------------------------------------- the resumable collector */

/* Each session's kept bytes, chunks and gaps against the engine's own
   callbacks: the bytes hash to what the engine delivered, the chunks tile
   each direction's bytes in order (pos, lengths), the gaps add up to the
   missing bytes. Read from a reader, and fed frame by frame with the
   events taken a few at a time. */
typedef struct kept_check {
    tsl_row *v;
    size_t n, events;
} kept_check;

static void check_kept(kept_check *k, tsl_session *ss) {
    tsl_row *r;
    int d;
    size_t i;
    uint64_t pos[2] = {0, 0}, missing[2] = {0, 0};
    k->v = (tsl_row *)realloc(k->v, (k->n + 1) * sizeof *k->v);
    cr_assert(k->v);
    r = &k->v[k->n++];
    tsl_session_row(ss, r);
    cr_assert(ss->closed);
    cr_assert_eq(ss->s, &ss->final);
    for (d = 0; d < 2; d++) {
        unsigned char *all = (unsigned char *)malloc(ss->kept[d] + 1);
        cr_assert(all);
        cr_assert_eq(ss->kept[d], ss->dir[d].bytes);
        cr_assert_eq(tsl_session_copy(ss, d, 0, all, ss->kept[d] + 1), ss->kept[d]);
        if (ss->kept[d] > 3) { /* a copy from inside, across blocks */
            unsigned char part[3];
            cr_assert_eq(tsl_session_copy(ss, d, ss->kept[d] - 3, part, 3), 3);
            cr_assert_eq(memcmp(part, all + ss->kept[d] - 3, 3), 0);
        }
        cr_assert_eq(tsl_digest_hex(TSL_SHA256, all, ss->kept[d], r->sha256[d]), 0);
        free(all);
    }
    for (i = 0; i < ss->nchunks; i++) {
        const tsl_chunk *c = &ss->chunks[i];
        cr_assert_eq(c->pos, pos[c->dir], "chunk %zu of stream %llu", i, (unsigned long long)ss->stream);
        pos[c->dir] += c->length;
    }
    for (i = 0; i < ss->ngaps; i++) missing[ss->gaps[i].dir] += ss->gaps[i].length;
    for (d = 0; d < 2; d++) {
        cr_assert_eq(pos[d], ss->dir[d].bytes);
        cr_assert_eq(missing[d], ss->dir[d].missing);
        cr_assert_eq(ss->nchunks ? 1 : 0, ss->dir[0].chunks + ss->dir[1].chunks ? 1 : 0);
    }
    tsl_session_free(ss);
}

Test(collector, keeps_bytes_chunks_and_gaps_exactly, .timeout = 180) {
    const unsigned keep = TSL_KEEP_DATA | TSL_KEEP_CHUNKS | TSL_KEEP_GAPS;
    capw_buf cap;
    tcps_reader *rd;
    direct *d = (direct *)calloc(1, sizeof *d);
    kept_check k[2];
    int way;
    cr_assert(d);
    make_traffic(&cap, 0x75110005u, 2500, 3);
    engine_rows(&cap, d);
    qsort(d->v, d->n, sizeof *d->v, by_stream);

    memset(k, 0, sizeof k);
    for (way = 0; way < 2; way++) {
        tsl_collector *c;
        tcps_event ev;
        tsl_session *ss;
        tcps_packet pkt;
        uint64_t missing = 0;
        size_t i;
        int rc;
        cr_assert_eq(tcps_reader_open_memory(&rd, cap.data, cap.len, NULL), TCPS_OK);
        cr_assert_eq(tsl_collector_new(&c, NULL, keep), TCPS_OK);
        if (way == 0) {
            tsl_collector_read(c, rd);
            while ((rc = tsl_collector_next(c, &ev, &ss)) == TCPS_OK) {
                k[way].events++;
                if (ev.type == TCPS_EV_CLOSE) check_kept(&k[way], ss);
            }
        } else {
            /* fed: a packet, then at most 3 events; the rest after the
               next packet is fed (the reader's memory stays) */
            while ((rc = tcps_reader_next(rd, &pkt)) == TCPS_OK) {
                int took = 0;
                cr_assert_geq(tsl_collector_feed_frame(c, pkt.linktype, pkt.ts, pkt.data.ptr, pkt.data.len, pkt.origlen), 0);
                while (took++ < 3 && tsl_collector_next(c, &ev, &ss) == TCPS_OK) {
                    k[way].events++;
                    if (ev.type == TCPS_EV_CLOSE) check_kept(&k[way], ss);
                }
            }
            cr_assert_eq(rc, TCPS_DONE);
            cr_assert_geq(tsl_collector_finish(c), 0);
            while ((rc = tsl_collector_next(c, &ev, &ss)) == TCPS_OK) {
                k[way].events++;
                if (ev.type == TCPS_EV_CLOSE) check_kept(&k[way], ss);
            }
        }
        cr_assert_eq(rc, TCPS_DONE);
        cr_assert_eq(tsl_collector_error(c)->code, 0);
        cr_assert_eq(tsl_collector_stats(c)->sessions, d->n);
        cr_assert_eq(tsl_collector_sessions(c), d->n);
        tsl_collector_free(c);
        tcps_reader_close(rd);
        cr_assert_eq(k[way].n, d->n);
        qsort(k[way].v, k[way].n, sizeof *k[way].v, by_stream);
        same_rows(d->v, k[way].v, d->n);
        for (i = 0; i < d->n; i++) missing += d->v[i].missing[0] + d->v[i].missing[1];
        cr_assert_gt(missing, 0);
        free(k[way].v);
    }
    cr_assert_eq(k[0].events, k[1].events);
    free(d->v);
    free(d);
    capw_free(&cap);
}

/* Sessions a caller holds stay its own when the collector goes, with the
   numbers they had; the others are freed (the sanitizer run checks). */
/* References (tsl_session_hold): a session lives until its last one is
   dropped, whether the collector closed it, handed it over or was freed
   with it still open. */
Test(collector, references_keep_sessions_alive) {
    capw_buf cap;
    tcps_reader *rd;
    tsl_collector *c;
    tcps_event ev;
    tsl_session *ref[16], *ss;
    size_t n = 0, i, closed = 0, events = 0;
    make_traffic(&cap, 0x75110007u, 300, 0);
    cr_assert_eq(tcps_reader_open_memory(&rd, cap.data, cap.len, NULL), TCPS_OK);
    cr_assert_eq(tsl_collector_new(&c, NULL, TSL_HASH | TSL_KEEP_DATA), TCPS_OK);
    tsl_collector_read(c, rd);
    /* two references to each of 16 sessions, taken at their open */
    while (tsl_collector_next(c, &ev, &ss) == TCPS_OK && ++events < 4000) {
        if (ev.type == TCPS_EV_OPEN && n < 16) {
            tsl_session_hold(ss);
            tsl_session_hold(ss);
            ref[n++] = ss;
        }
        if (ev.type == TCPS_EV_CLOSE) {
            for (i = 0; i < n; i++) closed += ref[i] == ss;
            tsl_session_free(ss); /* the collector's, handed over */
        }
    }
    cr_assert_eq(n, 16);
    cr_assert_gt(closed, 0, "some referenced sessions closed before the collector was freed");
    cr_assert_lt(closed, 16, "and some were still open");
    tsl_collector_free(c);
    tcps_reader_close(rd);
    for (i = 0; i < n; i++) {
        /* closed or not, each has its final numbers and bytes */
        cr_assert_eq(ref[i]->s, &ref[i]->final);
        cr_assert_eq(ref[i]->final.stream, ref[i]->stream);
        cr_assert_eq(ref[i]->kept[0], ref[i]->dir[0].bytes);
        cr_assert_eq(ref[i]->final.dir[1].bytes, ref[i]->dir[1].bytes);
        tsl_session_free(ref[i]); /* one reference left: still readable */
        cr_assert_eq(ref[i]->final.stream, ref[i]->stream);
        cr_assert_eq(ref[i]->kept[1], ref[i]->dir[1].bytes);
        tsl_session_free(ref[i]); /* the last: freed (the sanitizer runs check that it is) */
    }
    capw_free(&cap);
}

Test(collector, held_sessions_outlive_it) {
    capw_buf cap;
    tcps_reader *rd;
    tsl_collector *c;
    tcps_event ev;
    tsl_session *held[8], *ss;
    size_t n = 0, i;
    make_traffic(&cap, 0x75110006u, 200, 0);
    cr_assert_eq(tcps_reader_open_memory(&rd, cap.data, cap.len, NULL), TCPS_OK);
    cr_assert_eq(tsl_collector_new(&c, NULL, TSL_HASH | TSL_KEEP_DATA), TCPS_OK);
    tsl_collector_read(c, rd);
    while (n < 8 && tsl_collector_next(c, &ev, &ss) == TCPS_OK)
        if (ev.type == TCPS_EV_OPEN) ss->held = 1, held[n++] = ss;
    cr_assert_eq(n, 8);
    for (i = 0; i < 50; i++) { /* some more events; a close hands a session over */
        cr_assert_eq(tsl_collector_next(c, &ev, &ss), TCPS_OK);
        if (ev.type == TCPS_EV_CLOSE && !ss->held) tsl_session_free(ss);
    }
    tsl_collector_free(c);
    tcps_reader_close(rd);
    for (i = 0; i < n; i++) {
        cr_assert_eq(held[i]->s, &held[i]->final);
        cr_assert_eq(held[i]->final.stream, held[i]->stream);
        cr_assert_eq(held[i]->kept[0], held[i]->dir[0].bytes);
        tsl_session_free(held[i]);
    }
    capw_free(&cap);
}
