/* fuzz_reader - libFuzzer harness for the capture reader and the decoder.

   How to fuzz (from the top of the repository):
       make fuzz fuzz-corpus
       build/fuzz/fuzz_reader -dict=fuzz/reader.dict build/fuzz/corpus/reader build/fuzz/seeds/reader
   or `make fuzz-run SECONDS=600`.  A crash file reproduces without libFuzzer,
   with the gcc build of the same harness:
       build/fuzz/fuzz_reader-replay crash-<hash>

   Input layout: 5 option bytes, then the capture.
     byte 0, bits:  0x01 read through a callback (else from memory)
                    0x02 small limits: max_record 4096, max_interfaces 4
                    0x04 TCPS_DECODE_VERIFY_CHECKSUMS
                    0x08 TCPS_DECODE_NO_DEFRAG
                    0x10 TCPS_DECODE_NO_TUNNELS
                    0x20 the allocator fails from allocation number byte 1 on
                    0x40 small fragment limits (4 datagrams, 4 KiB, 1 ms)
     bytes 1-4: the sizes of successive callback reads (n+1 bytes, cycled)
   Every packet the reader returns is decoded; every byte of every span is
   read (so a span past its buffer faults under ASan); the allocator checks
   that the size given to free/realloc is the size allocated and that
   everything is freed at the end. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, what)                                                                        \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "fuzz_reader: %s:%d: %s\n", __FILE__, __LINE__, what);               \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

/* ---- a checking allocator: a size header before each block */
typedef struct fz_alloc {
    size_t live_blocks, live_bytes;
    long fail_at; /* the allocation number that fails first; -1: never */
    long count;
} fz_alloc;

#define FZ_HDR 16

static void *fz_malloc(size_t size, void *user) {
    fz_alloc *a = (fz_alloc *)user;
    unsigned char *p;
    CHECK(size > 0, "alloc of 0 bytes");
    if (a->fail_at >= 0 && a->count++ >= a->fail_at) return NULL;
    if (size > ((size_t)1 << 31)) return NULL; /* hostile sizes must never get this far */
    p = (unsigned char *)malloc(size + FZ_HDR);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    a->live_blocks++;
    a->live_bytes += size;
    return p + FZ_HDR;
}

static void fz_free(void *ptr, size_t size, void *user) {
    fz_alloc *a = (fz_alloc *)user;
    unsigned char *p = (unsigned char *)ptr - FZ_HDR;
    size_t had;
    CHECK(ptr != NULL, "free(NULL) reached the allocator");
    memcpy(&had, p, sizeof had);
    CHECK(had == size, "free: size differs from the allocated size");
    a->live_blocks--;
    a->live_bytes -= size;
    free(p);
}

static void *fz_realloc(void *ptr, size_t old, size_t size, void *user) {
    fz_alloc *a = (fz_alloc *)user;
    unsigned char *p = (unsigned char *)ptr - FZ_HDR, *q;
    size_t had;
    CHECK(ptr != NULL && size > 0, "realloc of NULL or to 0 bytes");
    memcpy(&had, p, sizeof had);
    CHECK(had == old, "realloc: old size differs from the allocated size");
    if (a->fail_at >= 0 && a->count++ >= a->fail_at) return NULL;
    if (size > ((size_t)1 << 31)) return NULL;
    q = (unsigned char *)realloc(p, size + FZ_HDR);
    if (!q) return NULL;
    memcpy(q, &size, sizeof size);
    a->live_bytes = a->live_bytes - old + size;
    return q + FZ_HDR;
}

/* ---- a read callback that hands out the input in fuzzer-chosen pieces */
typedef struct fz_src {
    const uint8_t *data;
    size_t size, pos;
    const uint8_t *chunks; /* 4 sizes, cycled */
    unsigned next;
} fz_src;

static ptrdiff_t fz_read(void *user, void *buf, size_t len) {
    fz_src *s = (fz_src *)user;
    size_t n = (size_t)s->chunks[s->next++ & 3] + 1;
    if (n > len) n = len;
    if (n > s->size - s->pos) n = s->size - s->pos;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return (ptrdiff_t)n;
}

static unsigned touch(tcps_span s) {
    unsigned sum = 0;
    size_t i;
    if (s.len) CHECK(s.ptr != NULL, "span with a length and no pointer");
    for (i = 0; i < s.len; i++) sum += s.ptr[i];
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_alloc al;
    fz_src src;
    tcps_allocator allocator;
    tcps_reader_config rcfg, reff;
    tcps_decoder_config dcfg, deff;
    tcps_reader *r = NULL;
    tcps_decoder *d = NULL;
    tcps_packet pkt;
    tcps_segment seg;
    uint64_t frames = 0;
    volatile unsigned sink = 0;
    uint8_t opt;
    int rc, nomem = 0;

    if (size < 5) return 0;
    opt = data[0];
    memset(&al, 0, sizeof al);
    al.fail_at = (opt & 0x20) ? (long)data[1] : -1;
    allocator.alloc = fz_malloc;
    allocator.realloc = fz_realloc;
    allocator.free = fz_free;
    allocator.user = &al;

    memset(&rcfg, 0, sizeof rcfg);
    rcfg.allocator = allocator;
    if (opt & 0x02) {
        rcfg.max_record = 4096;
        rcfg.max_interfaces = 4;
    }
    memset(&dcfg, 0, sizeof dcfg);
    dcfg.allocator = allocator;
    dcfg.flags = (opt & 0x04 ? TCPS_DECODE_VERIFY_CHECKSUMS : 0) |
                 (opt & 0x08 ? TCPS_DECODE_NO_DEFRAG : 0) | (opt & 0x10 ? TCPS_DECODE_NO_TUNNELS : 0);
    if (opt & 0x40) {
        dcfg.frag_max_datagrams = 4;
        dcfg.frag_max_bytes = 4096;
        dcfg.frag_timeout_ms = 1;
    }

    src.data = data + 5;
    src.size = size - 5;
    src.pos = 0;
    src.chunks = data + 1;
    src.next = 0;
    if (opt & 0x01)
        rc = tcps_reader_open_callback(&r, fz_read, &src, &rcfg);
    else
        rc = tcps_reader_open_memory(&r, data + 5, size - 5, &rcfg);
    if (rc != TCPS_OK) {
        CHECK(rc < 0, "open failed with a non-negative code");
        CHECK(r == NULL || rc != TCPS_OK, "unreachable");
        if (r) tcps_reader_close(r);
        CHECK(al.live_blocks == 0, "leak after a failed open");
        return 0;
    }
    tcps_reader_config_effective(r, &reff);
    CHECK(reff.max_record > 0 && reff.max_interfaces > 0, "effective reader limits are 0");
    if (opt & 0x02) CHECK(reff.max_record == 4096, "effective max_record is not the one set");

    rc = tcps_decoder_create(&d, &dcfg);
    if (rc != TCPS_OK) {
        CHECK(rc == TCPS_E_NOMEM, "decoder_create failed with valid arguments");
        tcps_reader_close(r);
        CHECK(al.live_blocks == 0, "leak after a failed decoder_create");
        return 0;
    }
    tcps_decoder_config_effective(d, &deff);
    CHECK(deff.flags == dcfg.flags, "effective decoder flags are not the ones set");

    while ((rc = tcps_reader_next(r, &pkt)) == TCPS_OK) {
        char text[64];
        int got;
        frames++;
        CHECK(pkt.frame == frames, "frame numbers are not 1, 2, 3, ...");
        CHECK(pkt.data.len <= reff.max_record, "record larger than max_record");
        CHECK(pkt.offset < tcps_reader_offset(r), "record offset not below the bytes consumed");
        CHECK(pkt.ts.nsec < 1000000000u, "nsec out of range");
        sink += touch(pkt.data);
        got = tcps_decode(d, &pkt, &seg);
        if (got < 0) {
            CHECK(got == TCPS_E_NOMEM, "tcps_decode failed with something else than NOMEM");
            nomem = 1;
            break;
        }
        CHECK(got == 0 || got == 1, "tcps_decode returned an unknown value");
        if (got == 1) {
            CHECK(seg.ip_version == 4 || seg.ip_version == 6, "segment of an unknown IP version");
            CHECK(seg.payload.len <= seg.payload_len, "captured payload longer than on the wire");
            CHECK(seg.hdr_len >= 20 && seg.hdr_len <= 60, "TCP header length out of range");
            CHECK(seg.opt.sack_count <= TCPS_MAX_SACK, "too many SACK blocks");
            CHECK(seg.opt.tfo_len <= 16, "TFO cookie too long");
            CHECK(seg.frame == pkt.frame, "segment frame differs from the packet");
            sink += touch(seg.payload);
            tcps_addr_to_string(seg.src, seg.ip_version, text, sizeof text);
            tcps_addr_to_string(seg.dst, seg.ip_version, text, sizeof text);
        }
    }
    if (rc < 0) {
        const tcps_error *e = tcps_reader_error(r);
        CHECK(e != NULL && e->code == rc, "the reader's kept error is not the code returned");
        CHECK(e->message != NULL && e->message[0] != 0, "error without a message");
        CHECK(e->offset <= size - 5, "error offset past the end of the input");
    } else if (!nomem) {
        CHECK(rc == TCPS_DONE, "reader_next returned an unknown value");
        CHECK(tcps_reader_offset(r) <= size - 5, "consumed more bytes than the input has");
        CHECK(tcps_reader_next(r, &pkt) == TCPS_DONE, "reader_next after DONE is not DONE");
    }
    CHECK(tcps_decoder_stats(d)->packets <= frames, "decoder counted more packets than given");
    tcps_decoder_destroy(d);
    tcps_reader_close(r);
    CHECK(al.live_blocks == 0 && al.live_bytes == 0, "memory still allocated after close/destroy");
    (void)sink;
    return 0;
}
