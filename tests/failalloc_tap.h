/* failalloc_tap.h - collect the captures the test suites build.

   Forced in front of a suite (cc -include tests/failalloc_tap.h ...), it
   compiles the implementation first, then routes the suite's calls through
   taps that save a copy of what the suite gives the library into
   $TCPS_TAP_DIR, named by a hash of the content (duplicates collapse):
     - tcps_reader_open_memory/_path/_file/_callback: the capture bytes
       (the callback is read to its end and replayed from memory);
     - tcps_decode: each packet given to a decoder, written at
       tcps_decoder_destroy as one pcapng per decoder (an interface per
       link type), so decoder and defragmentation cases become captures;
     - tcps_feed_segment: each segment rebuilt as a raw IPv4/IPv6 packet
       (addresses, ports, sequence and acknowledgement numbers, flags,
       window, payload; a payload the snapshot length cut keeps its wire
       length), written at tcps_destroy as one pcapng per context. TCP
       options are not carried over (the reassembly does not depend on them).
   The suites run as usual; `make failalloc` then runs every saved capture
   with failing allocators (tests/failalloc.c). Inputs above 8 MiB are not
   saved. Not thread-safe for tcps_decode and tcps_feed_segment (the suites
   that use threads open paths only). */
#ifndef FAILALLOC_TAP_H
#define FAILALLOC_TAP_H

#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "capwriter.h"
#include "pktbuild.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAP_MAX_SAVE (8u << 20)

static void tap_save(const void *data, size_t size, const char *kind) {
    const char *dir = getenv("TCPS_TAP_DIR");
    const uint8_t *p = (const uint8_t *)data;
    uint64_t h = 0xcbf29ce484222325ull;
    char path[4096];
    FILE *f;
    size_t i;
    if (!dir || !*dir || size > TAP_MAX_SAVE || (!data && size)) return;
    for (i = 0; i < size; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    /* segment sequences apart (DIR/seg; the rest in DIR/read): many and
       small, make test runs them with the -O2 build */
    snprintf(path, sizeof path, "%s/%s/%s-%016llx.cap", dir, strcmp(kind, "seg") ? "read" : "seg", kind,
             (unsigned long long)h);
    f = fopen(path, "wb");
    if (!f) return;
    if (size) fwrite(data, 1, size, f);
    fclose(f);
}

static int tap_reader_open_memory(tcps_reader **out, const void *data, size_t size, const tcps_reader_config *cfg) {
    tap_save(data, size, "mem");
    return tcps_reader_open_memory(out, data, size, cfg);
}

static void tap_save_file(FILE *fp, const char *kind) {
    long at = ftell(fp);
    capw_buf b;
    uint8_t chunk[65536];
    size_t n;
    if (at < 0) return; /* a pipe: cannot read it twice */
    capw_init(&b);
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0 && b.len <= TAP_MAX_SAVE) capw_bytes(&b, chunk, n);
    tap_save(b.data, b.len, kind);
    capw_free(&b);
    clearerr(fp);
    fseek(fp, at, SEEK_SET);
}

static int tap_reader_open_path(tcps_reader **out, const char *path, const tcps_reader_config *cfg) {
    FILE *fp = path && strcmp(path, "-") != 0 ? fopen(path, "rb") : NULL;
    if (fp) {
        tap_save_file(fp, "path");
        fclose(fp);
    }
    return tcps_reader_open_path(out, path, cfg);
}

static int tap_reader_open_file(tcps_reader **out, FILE *fp, const tcps_reader_config *cfg) {
    if (fp) tap_save_file(fp, "file");
    return tcps_reader_open_file(out, fp, cfg);
}

/* A callback source is read to its end first (errors included: the first
   negative return ends the copy and is replayed at that point). */
typedef struct tap_replay {
    capw_buf b;
    size_t pos;
    ptrdiff_t err;
    tcps_read_fn fn;
    void *user;
    struct tap_replay *next;
} tap_replay;

static ptrdiff_t tap_replay_read(void *user, void *buf, size_t len) {
    tap_replay *t = (tap_replay *)user;
    size_t n = t->b.len - t->pos;
    if (n == 0) return t->err;
    if (n > len) n = len;
    memcpy(buf, t->b.data + t->pos, n);
    t->pos += n;
    return (ptrdiff_t)n;
}

static int tap_reader_open_callback(tcps_reader **out, tcps_read_fn fn, void *user, const tcps_reader_config *cfg) {
    /* kept until exit: the reader may outlive this call by any amount */
    static tap_replay *all;
    tap_replay *t = (tap_replay *)calloc(1, sizeof *t);
    uint8_t chunk[4096];
    if (!t || !fn) {
        free(t);
        return tcps_reader_open_callback(out, fn, user, cfg);
    }
    capw_init(&t->b);
    for (;;) {
        ptrdiff_t r = fn(user, chunk, sizeof chunk);
        if (r <= 0) {
            t->err = r;
            break;
        }
        capw_bytes(&t->b, chunk, (size_t)r);
        if (t->b.len > 4 * TAP_MAX_SAVE) break;
    }
    tap_save(t->b.data, t->b.len, "cb");
    t->next = all;
    all = t;
    return tcps_reader_open_callback(out, tap_replay_read, t, cfg);
}

/* tcps_decode: packets collected per decoder */
typedef struct tap_dec {
    const tcps_decoder *d;
    capw_buf b;
    uint32_t lt[64];
    int nlt;
    struct tap_dec *next;
} tap_dec;

static tap_dec *tap_decs;

static int tap_decode(tcps_decoder *d, const tcps_packet *pkt, tcps_segment *seg) {
    tap_dec *t;
    int i;
    for (t = tap_decs; t && t->d != d; t = t->next) {}
    if (!t && d && pkt && (t = (tap_dec *)calloc(1, sizeof *t)) != NULL) {
        t->d = d;
        capw_init(&t->b);
        capw_ng_shb(&t->b, 0);
        t->next = tap_decs;
        tap_decs = t;
    }
    if (t && pkt && t->b.len < TAP_MAX_SAVE && (pkt->data.ptr || !pkt->data.len)) {
        for (i = 0; i < t->nlt && t->lt[i] != pkt->linktype; i++) {}
        if (i == t->nlt && t->nlt < 64 && pkt->linktype <= 0xffff) {
            capw_opts o;
            capw_opts_init(&o, 0);
            capw_opt_u8(&o, CAPW_IF_TSRESOL, 9);
            t->lt[t->nlt++] = pkt->linktype;
            capw_ng_idb(&t->b, (uint16_t)pkt->linktype, 0, &o);
            capw_opts_free(&o);
        }
        if (i < t->nlt)
            capw_ng_epb(&t->b, (uint32_t)i, (uint64_t)pkt->ts.sec * 1000000000u + pkt->ts.nsec, pkt->data.ptr,
                        (uint32_t)pkt->data.len, pkt->origlen > pkt->data.len ? pkt->origlen : (uint32_t)pkt->data.len,
                        NULL);
    }
    return tcps_decode(d, pkt, seg);
}

static void tap_decoder_destroy(tcps_decoder *d) {
    tap_dec **pp, *t;
    for (pp = &tap_decs; (t = *pp) != NULL; pp = &t->next)
        if (t->d == d) {
            *pp = t->next;
            if (t->nlt) tap_save(t->b.data, t->b.len, "dec");
            capw_free(&t->b);
            free(t);
            break;
        }
    tcps_decoder_destroy(d);
}

/* tcps_feed_segment: segments collected per context */
typedef struct tap_ctx {
    const tcps_ctx *c;
    capw_buf b;
    struct tap_ctx *next;
} tap_ctx;

static tap_ctx *tap_ctxs;
static pb_buf tap_pkt;

static int tap_feed_segment(tcps_ctx *c, const tcps_segment *seg) {
    tap_ctx *t;
    for (t = tap_ctxs; t && t->c != c; t = t->next) {}
    if (!t && c && seg && (t = (tap_ctx *)calloc(1, sizeof *t)) != NULL) {
        capw_opts o;
        t->c = c;
        capw_init(&t->b);
        capw_ng_shb(&t->b, 0);
        capw_opts_init(&o, 0);
        capw_opt_u8(&o, CAPW_IF_TSRESOL, 9);
        capw_ng_idb(&t->b, TCPS_LINKTYPE_RAW, 0, &o);
        capw_opts_free(&o);
        t->next = tap_ctxs;
        tap_ctxs = t;
    }
    if (t && seg && t->b.len < TAP_MAX_SAVE && seg->payload_len <= 65000 && seg->payload.len <= seg->payload_len &&
        (seg->ip_version == 4 || seg->ip_version == 6) && (seg->payload.ptr || !seg->payload.len)) {
        pb_tcp_hdr th = pb_tcp_default(seg->sport, seg->dport);
        pb_ip_hdr ip = pb_ip4("0.0.0.0", "0.0.0.0");
        size_t cut = seg->payload_len - seg->payload.len;
        ip.version = seg->ip_version;
        memcpy(ip.src, seg->src, 16);
        memcpy(ip.dst, seg->dst, 16);
        th.seq = seg->seq, th.ack = seg->ack, th.flags = seg->flags, th.window = seg->window;
        th.urgent = seg->urgent;
        pb_init(&tap_pkt);
        if (seg->payload.len) pb_append(&tap_pkt, seg->payload.ptr, seg->payload.len);
        if (cut) pb_append_zeros(&tap_pkt, cut);
        pb_tcp(&tap_pkt, &th);
        if (seg->ip_version == 4) pb_ipv4(&tap_pkt, &ip, PB_TCP);
        else pb_ipv6(&tap_pkt, &ip, PB_TCP);
        capw_ng_epb(&t->b, 0, (uint64_t)seg->ts.sec * 1000000000u + seg->ts.nsec, pb_data(&tap_pkt),
                    (uint32_t)(pb_len(&tap_pkt) - cut), (uint32_t)pb_len(&tap_pkt), NULL);
    }
    return tcps_feed_segment(c, seg);
}

static void tap_destroy(tcps_ctx *c) {
    tap_ctx **pp, *t;
    for (pp = &tap_ctxs; (t = *pp) != NULL; pp = &t->next)
        if (t->c == c) {
            *pp = t->next;
            tap_save(t->b.data, t->b.len, "seg");
            capw_free(&t->b);
            free(t);
            break;
        }
    tcps_destroy(c);
}

#define tcps_feed_segment tap_feed_segment
#define tcps_destroy tap_destroy
#define tcps_reader_open_memory tap_reader_open_memory
#define tcps_reader_open_path tap_reader_open_path
#define tcps_reader_open_file tap_reader_open_file
#define tcps_reader_open_callback tap_reader_open_callback
#define tcps_decode tap_decode
#define tcps_decoder_destroy tap_decoder_destroy

#endif
