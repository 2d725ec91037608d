/* reader_harness.h - the body of fuzz_reader (pcap and snoop) and
   fuzz_pcapng: one capture read through one of the reader's sources, every
   packet checked, optionally decoded.  FZ_READER_PCAPNG picks the format
   the harness leans towards (the reader itself always detects the format).

   Input: 7 option bytes, then the capture.
     byte 0  bits 0-1  source: 0 and 3 memory, 1 read callback handing out
                       the capture in pieces of byte3..byte6 + 1 bytes
                       (cycled), 2 a FILE* (fmemopen) read in chunks
             bits 2-4  a magic put in front of the rest (so mutations do not
                       waste time breaking it):
                         fuzz_reader:  0, 6, 7 none; 1 pcap us LE; 2 pcap us
                                       BE; 3 pcap ns LE; 4 pcap ns BE;
                                       5 snoop ("snoop\0\0\0")
                         fuzz_pcapng:  odd: the SHB block type 0x0A0D0D0A;
                                       even: none
             bit 5     decode every packet (TCPS_DECODE_* from byte 2)
             bit 6     the allocator fails from allocation number byte 1 on
                       (and every (byte 2 >> 4)-th after it, when non-zero)
             bit 7     small reader limits from byte 2: max_record
                       16 << (byte2 & 15) bytes, max_interfaces 1 + (byte2 >> 4)
     byte 1  first failing allocation (bit 6)
     byte 2  limits (bit 7); decoder flags (bit 5): bit 0 verify checksums,
             bit 1 no defrag, bit 2 no tunnels, bit 3 small fragment limits
     bytes 3-6  callback piece sizes
   Checked: frame numbers count 1, 2, 3...; records within max_record; record
   offsets below the bytes consumed; nsec below 1e9; with the memory source
   every packet points into the input; the kept error is the one returned,
   has a message and an offset inside the input; DONE stays DONE; every byte
   of every span is readable; sizes given to free/realloc are those
   allocated and nothing is left allocated after close/destroy; an allocator
   failure gives TCPS_E_NOMEM and nothing else. */
#define _POSIX_C_SOURCE 200809L
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"

#ifdef FZ_READER_PCAPNG
#define FZ_NAME "fuzz_pcapng"
#else
#define FZ_NAME "fuzz_reader"
#endif
#include "fuzz_common.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_OPT_BYTES 7

static size_t fz_magic(uint8_t sel, uint8_t out[8]) {
#ifdef FZ_READER_PCAPNG
    static const uint8_t shb[4] = {0x0a, 0x0d, 0x0d, 0x0a};
    if (sel & 1) {
        memcpy(out, shb, 4);
        return 4;
    }
    return 0;
#else
    static const uint8_t magics[5][4] = {{0xd4, 0xc3, 0xb2, 0xa1},
                                         {0xa1, 0xb2, 0xc3, 0xd4},
                                         {0x4d, 0x3c, 0xb2, 0xa1},
                                         {0xa1, 0xb2, 0x3c, 0x4d},
                                         {'s', 'n', 'o', 'o'}};
    if (sel >= 1 && sel <= 4) {
        memcpy(out, magics[sel - 1], 4);
        return 4;
    }
    if (sel == 5) {
        memcpy(out, "snoop\0\0\0", 8);
        return 8;
    }
    return 0;
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_alloc al;
    fz_src src;
    tcps_reader_config rcfg, reff;
    tcps_decoder_config dcfg;
    tcps_reader *r = NULL;
    tcps_decoder *d = NULL;
    tcps_packet pkt;
    tcps_segment seg;
    FILE *fp = NULL;
    uint8_t *cap, magic[8];
    size_t mlen, caplen;
    uint64_t frames = 0, tcp = 0;
    volatile unsigned sink = 0;
    uint8_t o0, o1, o2;
    int rc, nomem = 0, source, decode;

    if (size < FZ_OPT_BYTES) return 0;
    o0 = data[0];
    o1 = data[1];
    o2 = data[2];
    source = o0 & 3;
    decode = (o0 & 0x20) != 0;

    /* the capture: an optional magic, then the rest, in an exactly sized block */
    mlen = fz_magic((uint8_t)((o0 >> 2) & 7), magic);
    caplen = mlen + size - FZ_OPT_BYTES;
    cap = (uint8_t *)malloc(caplen ? caplen : 1);
    if (!cap) return 0;
    memcpy(cap, magic, mlen);
    memcpy(cap + mlen, data + FZ_OPT_BYTES, size - FZ_OPT_BYTES);

    fz_alloc_init(&al, (o0 & 0x40) ? (long)o1 : -1, (o0 & 0x40) ? (unsigned long)(o2 >> 4) : 0);
    memset(&rcfg, 0, sizeof rcfg);
    rcfg.allocator = fz_allocator(&al);
    if (o0 & 0x80) {
        rcfg.max_record = 16u << (o2 & 15);
        rcfg.max_interfaces = 1u + (o2 >> 4);
    }
    memset(&dcfg, 0, sizeof dcfg);
    dcfg.allocator = rcfg.allocator;
    dcfg.flags = (o2 & 1 ? TCPS_DECODE_VERIFY_CHECKSUMS : 0) | (o2 & 2 ? TCPS_DECODE_NO_DEFRAG : 0) |
                 (o2 & 4 ? TCPS_DECODE_NO_TUNNELS : 0);
    if (o2 & 8) {
        dcfg.frag_max_datagrams = 2;
        dcfg.frag_max_bytes = 2048;
        dcfg.frag_timeout_ms = 5;
    }

    fz_src_init(&src, cap, caplen, data + 3);
    if (source == 2 && caplen > 0) fp = fmemopen(cap, caplen, "rb");
    if (source == 1)
        rc = tcps_reader_open_callback(&r, fz_read, &src, &rcfg);
    else if (fp)
        rc = tcps_reader_open_file(&r, fp, &rcfg);
    else
        rc = tcps_reader_open_memory(&r, cap, caplen, &rcfg);
    if (rc != TCPS_OK) {
        FZ_CHECK(rc < 0, "open failed with a non-negative code");
        FZ_CHECK(rc != TCPS_E_NOMEM || al.failed, "open: NOMEM without a failed allocation");
        FZ_CHECK(r == NULL, "open failed and still gave a reader");
        FZ_CHECK(al.live_blocks == 0, "leak after a failed open");
        goto out;
    }
    tcps_reader_config_effective(r, &reff);
    FZ_CHECK(reff.max_record > 0 && reff.max_interfaces > 0, "effective reader limits are 0");
    if (o0 & 0x80) FZ_CHECK(reff.max_record == rcfg.max_record, "effective max_record is not the one set");

    if (decode) {
        rc = tcps_decoder_create(&d, &dcfg);
        if (rc != TCPS_OK) {
            FZ_CHECK(rc == TCPS_E_NOMEM && al.failed, "decoder_create failed with valid arguments");
            d = NULL;
        }
    }

    while ((rc = tcps_reader_next(r, &pkt)) == TCPS_OK) {
        frames++;
        FZ_CHECK(pkt.frame == frames, "frame numbers are not 1, 2, 3, ...");
        FZ_CHECK(pkt.data.len <= reff.max_record, "record larger than max_record");
        FZ_CHECK(pkt.offset < tcps_reader_offset(r), "record offset not below the bytes consumed");
        FZ_CHECK(tcps_reader_offset(r) <= caplen, "consumed more bytes than the input has");
        FZ_CHECK(pkt.ts.nsec < 1000000000u, "nsec out of range");
        if (source == 0 || source == 3)
            FZ_CHECK(pkt.data.len == 0 || (pkt.data.ptr >= cap && pkt.data.len <= caplen &&
                                           (size_t)(pkt.data.ptr - cap) <= caplen - pkt.data.len),
                     "a memory-source packet does not point into the input");
        FZ_CHECK(tcps_reader_format(r) != 0, "a packet before the format was known");
        sink += fz_touch(pkt.data.ptr, pkt.data.len);
        if (d) {
            int got = tcps_decode(d, &pkt, &seg);
            if (got < 0) {
                FZ_CHECK(got == TCPS_E_NOMEM && al.failed, "tcps_decode failed with something else than NOMEM");
                nomem = 1;
                break;
            }
            FZ_CHECK(got == 0 || got == 1, "tcps_decode returned an unknown value");
            if (got == 1) {
                char text[64];
                tcp++;
                FZ_CHECK(seg.ip_version == 4 || seg.ip_version == 6, "segment of an unknown IP version");
                FZ_CHECK(seg.payload.len <= seg.payload_len, "captured payload longer than on the wire");
                FZ_CHECK(seg.hdr_len >= 20 && seg.hdr_len <= 60, "TCP header length out of range");
                FZ_CHECK(seg.opt.sack_count <= TCPS_MAX_SACK, "too many SACK blocks");
                FZ_CHECK(seg.opt.tfo_len <= 16, "TFO cookie too long");
                FZ_CHECK(seg.frame == pkt.frame, "segment frame differs from the packet");
                sink += fz_touch(seg.payload.ptr, seg.payload.len);
                tcps_addr_to_string(seg.src, seg.ip_version, text, sizeof text);
                tcps_addr_to_string(seg.dst, seg.ip_version, text, sizeof text);
            }
        }
    }
    if (nomem) {
        /* the reader is fine; only the decoder ran out */
    } else if (rc < 0) {
        const tcps_error *e = tcps_reader_error(r);
        FZ_CHECK(rc != TCPS_E_NOMEM || al.failed, "reader_next: NOMEM without a failed allocation");
        FZ_CHECK(rc != TCPS_E_IO, "reader_next: IO error from a source that never fails");
        FZ_CHECK(e != NULL && e->code == rc, "the reader's kept error is not the code returned");
        FZ_CHECK(e->message != NULL && e->message[0] != 0, "error without a message");
        FZ_CHECK(e->offset <= caplen, "error offset past the end of the input");
        FZ_CHECK(tcps_reader_next(r, &pkt) == rc, "the error is not sticky");
    } else {
        FZ_CHECK(rc == TCPS_DONE, "reader_next returned an unknown value");
        FZ_CHECK(tcps_reader_offset(r) <= caplen, "consumed more bytes than the input has");
        FZ_CHECK(tcps_reader_next(r, &pkt) == TCPS_DONE, "reader_next after DONE is not DONE");
    }
    if (d) {
        const tcps_decode_stats *st = tcps_decoder_stats(d);
        FZ_CHECK(st->packets <= frames, "decoder counted more packets than given");
        FZ_CHECK(st->tcp == tcp, "decoder's TCP count differs from the segments returned");
        tcps_decoder_destroy(d);
    }
    tcps_reader_close(r);
    FZ_CHECK(al.live_blocks == 0 && al.live_bytes == 0, "memory still allocated after close/destroy");
out:
    if (fp) fclose(fp);
    free(cap);
    (void)sink;
    return 0;
}
