/* capwriter.h - write pcap and pcapng captures into a growable memory buffer.

   Used by the tests and by the script that makes the sample captures in
   data/. Everything is static; there are no globals. Running out of memory
   aborts (this is test tooling).

   BUFFER
     capw_buf b;  capw_init(&b);  ...  capw_free(&b);
     b.data / b.len: the bytes written so far.
     capw_save(&b, path): write them to a file (0 on success).
     b.big_endian: byte order of the integers written next; set by
     capw_pcap_header and capw_ng_shb, may be changed by hand to make
     broken files.
     capw_u8/u16/u32/u64(&b, v), capw_bytes(&b, p, n), capw_pad4(&b): raw
     writes in that byte order, for hand-made hostile input.

   PCAP
     capw_pcap_header(&b, big_endian, nsec, snaplen, linktype)
       version 2.4; linktype is the whole 32-bit field, so the FCS bits can
       be set with CAPW_PCAP_FCS(words): linktype | CAPW_PCAP_FCS(2) says
       "4 bytes of FCS" (the P bit and the length in 16-bit words).
     capw_pcap_header_ex(&b, big_endian, nsec, major, minor, snaplen, linktype)
     capw_pcap_record(&b, sec, frac, data, caplen, origlen)
       frac is microseconds or nanoseconds, as the header said. data may be
       NULL (caplen zero bytes are written then).

   PCAPNG
     capw_ng_shb(&b, big_endian)                 section header, version 1.0,
                                                 section length -1, no options
     capw_ng_shb_ex(&b, big_endian, major, minor, opts)
     capw_ng_idb(&b, linktype, snaplen, opts)    interface description
     capw_ng_epb(&b, ifid, ts, data, caplen, origlen, opts)   enhanced packet
     capw_ng_spb(&b, origlen, data, datalen)     simple packet (datalen bytes
                                                 are stored, padded)
     capw_ng_pb(&b, ifid, ts, data, caplen, origlen, opts)    obsolete packet block
     capw_ng_nrb_ipv4(&b, addr4, name)           name resolution block, one record
     capw_ng_isb(&b, ifid, ts)                   interface statistics, no options
     capw_ng_custom(&b, pen, data, len)          custom block (type 0x00000BAD)
     capw_ng_block(&b, type, body, bodylen)      any block: header, body padded
                                                 to 4, trailer
     ts is the raw 64-bit timestamp in the interface's units.
     opts is NULL or a capw_opts built in the same byte order:
       capw_opts o; capw_opts_init(&o, b.big_endian);
       capw_opt_u8(&o, CAPW_IF_TSRESOL, 9);      10^-9 s units
       capw_opt_u64(&o, CAPW_IF_TSOFFSET, 100);  seconds added
       capw_opt_u8(&o, CAPW_IF_FCSLEN, 32);      FCS length in bits
       capw_opt_u32(&o, CAPW_EPB_FLAGS, CAPW_EPB_FLAGS_FCS(4));
       capw_opt(&o, code, value, len);           anything else
       capw_opts_end(&o);                        opt_endofopt (optional)
       ... capw_opts_free(&o);
*/
#ifndef CAPWRITER_H
#define CAPWRITER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define CAPW_FN static __attribute__((unused))
#else
#define CAPW_FN static
#endif

#define CAPW_PCAP_FCS(words) (0x04000000u | ((uint32_t)(words) << 28))

#define CAPW_IF_TSRESOL 9
#define CAPW_IF_FCSLEN 13
#define CAPW_IF_TSOFFSET 14
#define CAPW_EPB_FLAGS 2
#define CAPW_EPB_FLAGS_FCS(bytes) (((uint32_t)(bytes) & 0xfu) << 5)

#define CAPW_NG_SHB 0x0A0D0D0Au
#define CAPW_NG_IDB 1u
#define CAPW_NG_PB 2u
#define CAPW_NG_SPB 3u
#define CAPW_NG_NRB 4u
#define CAPW_NG_ISB 5u
#define CAPW_NG_EPB 6u
#define CAPW_NG_DSB 0x0Au
#define CAPW_NG_CUSTOM 0x00000BADu

typedef struct capw_buf {
    uint8_t *data;
    size_t len, cap;
    int big_endian;
} capw_buf;

typedef capw_buf capw_opts;

CAPW_FN void capw_init(capw_buf *b) {
    b->data = NULL;
    b->len = b->cap = 0;
    b->big_endian = 0;
}

CAPW_FN void capw_free(capw_buf *b) {
    free(b->data);
    capw_init(b);
}

CAPW_FN void capw_bytes(capw_buf *b, const void *p, size_t n) {
    if (n > b->cap - b->len) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap - b->len < n) ncap *= 2;
        b->data = (uint8_t *)realloc(b->data, ncap);
        if (!b->data) abort();
        b->cap = ncap;
    }
    if (p) memcpy(b->data + b->len, p, n);
    else memset(b->data + b->len, 0, n);
    b->len += n;
}

CAPW_FN void capw_u8(capw_buf *b, uint8_t v) { capw_bytes(b, &v, 1); }

CAPW_FN void capw_u16(capw_buf *b, uint16_t v) {
    uint8_t x[2];
    if (b->big_endian) x[0] = (uint8_t)(v >> 8), x[1] = (uint8_t)v;
    else x[0] = (uint8_t)v, x[1] = (uint8_t)(v >> 8);
    capw_bytes(b, x, 2);
}

CAPW_FN void capw_u32(capw_buf *b, uint32_t v) {
    uint8_t x[4];
    int i;
    for (i = 0; i < 4; i++) x[b->big_endian ? 3 - i : i] = (uint8_t)(v >> (8 * i));
    capw_bytes(b, x, 4);
}

CAPW_FN void capw_u64(capw_buf *b, uint64_t v) {
    uint8_t x[8];
    int i;
    for (i = 0; i < 8; i++) x[b->big_endian ? 7 - i : i] = (uint8_t)(v >> (8 * i));
    capw_bytes(b, x, 8);
}

CAPW_FN void capw_pad4(capw_buf *b) {
    static const uint8_t zero[4] = {0, 0, 0, 0};
    if (b->len % 4) capw_bytes(b, zero, 4 - b->len % 4);
}

/* Overwrite a 32-bit value at offset off in the buffer's byte order. */
CAPW_FN void capw_put32(capw_buf *b, size_t off, uint32_t v) {
    int i;
    for (i = 0; i < 4; i++) b->data[off + (size_t)(b->big_endian ? 3 - i : i)] = (uint8_t)(v >> (8 * i));
}

CAPW_FN int capw_save(const capw_buf *b, const char *path) {
    FILE *f = fopen(path, "wb");
    int rc = 0;
    if (!f) return -1;
    if (b->len && fwrite(b->data, 1, b->len, f) != b->len) rc = -1;
    if (fclose(f) != 0) rc = -1;
    return rc;
}

/* ---- pcap */

CAPW_FN void capw_pcap_header_ex(capw_buf *b, int big_endian, int nsec, uint16_t major, uint16_t minor,
                                uint32_t snaplen, uint32_t linktype) {
    b->big_endian = big_endian;
    capw_u32(b, nsec ? 0xa1b23c4du : 0xa1b2c3d4u);
    capw_u16(b, major);
    capw_u16(b, minor);
    capw_u32(b, 0); /* thiszone */
    capw_u32(b, 0); /* sigfigs */
    capw_u32(b, snaplen);
    capw_u32(b, linktype);
}

CAPW_FN void capw_pcap_header(capw_buf *b, int big_endian, int nsec, uint32_t snaplen, uint32_t linktype) {
    capw_pcap_header_ex(b, big_endian, nsec, 2, 4, snaplen, linktype);
}

CAPW_FN void capw_pcap_record(capw_buf *b, uint32_t sec, uint32_t frac, const void *data, uint32_t caplen,
                             uint32_t origlen) {
    capw_u32(b, sec);
    capw_u32(b, frac);
    capw_u32(b, caplen);
    capw_u32(b, origlen);
    capw_bytes(b, data, caplen);
}

/* ---- pcapng options */

CAPW_FN void capw_opts_init(capw_opts *o, int big_endian) {
    capw_init(o);
    o->big_endian = big_endian;
}
CAPW_FN void capw_opts_free(capw_opts *o) { capw_free(o); }

CAPW_FN void capw_opt(capw_opts *o, uint16_t code, const void *val, uint16_t len) {
    capw_u16(o, code);
    capw_u16(o, len);
    capw_bytes(o, val, len);
    capw_pad4(o);
}
CAPW_FN void capw_opt_u8(capw_opts *o, uint16_t code, uint8_t v) { capw_opt(o, code, &v, 1); }
CAPW_FN void capw_opt_u32(capw_opts *o, uint16_t code, uint32_t v) {
    capw_u16(o, code);
    capw_u16(o, 4);
    capw_u32(o, v);
}
CAPW_FN void capw_opt_u64(capw_opts *o, uint16_t code, uint64_t v) {
    capw_u16(o, code);
    capw_u16(o, 8);
    capw_u64(o, v);
}
CAPW_FN void capw_opts_end(capw_opts *o) {
    capw_u16(o, 0);
    capw_u16(o, 0);
}

/* ---- pcapng blocks */

/* Start a block: returns the offset of its length field, to be finished by
   capw_ng_end. */
CAPW_FN size_t capw_ng_begin(capw_buf *b, uint32_t type) {
    size_t at;
    capw_u32(b, type);
    at = b->len;
    capw_u32(b, 0);
    return at;
}

CAPW_FN void capw_ng_end(capw_buf *b, size_t at, const capw_opts *opts) {
    uint32_t total;
    capw_pad4(b);
    if (opts && opts->len) capw_bytes(b, opts->data, opts->len);
    total = (uint32_t)(b->len - (at - 4) + 4);
    capw_put32(b, at, total);
    capw_u32(b, total);
}

CAPW_FN void capw_ng_block(capw_buf *b, uint32_t type, const void *body, size_t bodylen) {
    size_t at = capw_ng_begin(b, type);
    capw_bytes(b, body, bodylen);
    capw_ng_end(b, at, NULL);
}

CAPW_FN void capw_ng_shb_ex(capw_buf *b, int big_endian, uint16_t major, uint16_t minor, const capw_opts *opts) {
    size_t at;
    b->big_endian = big_endian;
    at = capw_ng_begin(b, CAPW_NG_SHB);
    capw_u32(b, 0x1A2B3C4Du);
    capw_u16(b, major);
    capw_u16(b, minor);
    capw_u64(b, UINT64_MAX); /* section length unknown */
    capw_ng_end(b, at, opts);
}

CAPW_FN void capw_ng_shb(capw_buf *b, int big_endian) { capw_ng_shb_ex(b, big_endian, 1, 0, NULL); }

CAPW_FN void capw_ng_idb(capw_buf *b, uint16_t linktype, uint32_t snaplen, const capw_opts *opts) {
    size_t at = capw_ng_begin(b, CAPW_NG_IDB);
    capw_u16(b, linktype);
    capw_u16(b, 0);
    capw_u32(b, snaplen);
    capw_ng_end(b, at, opts);
}

CAPW_FN void capw_ng_epb(capw_buf *b, uint32_t ifid, uint64_t ts, const void *data, uint32_t caplen,
                        uint32_t origlen, const capw_opts *opts) {
    size_t at = capw_ng_begin(b, CAPW_NG_EPB);
    capw_u32(b, ifid);
    capw_u32(b, (uint32_t)(ts >> 32));
    capw_u32(b, (uint32_t)ts);
    capw_u32(b, caplen);
    capw_u32(b, origlen);
    capw_bytes(b, data, caplen);
    capw_ng_end(b, at, opts);
}

CAPW_FN void capw_ng_pb(capw_buf *b, uint16_t ifid, uint64_t ts, const void *data, uint32_t caplen,
                       uint32_t origlen, const capw_opts *opts) {
    size_t at = capw_ng_begin(b, CAPW_NG_PB);
    capw_u16(b, ifid);
    capw_u16(b, 0); /* drops count */
    capw_u32(b, (uint32_t)(ts >> 32));
    capw_u32(b, (uint32_t)ts);
    capw_u32(b, caplen);
    capw_u32(b, origlen);
    capw_bytes(b, data, caplen);
    capw_ng_end(b, at, opts);
}

CAPW_FN void capw_ng_spb(capw_buf *b, uint32_t origlen, const void *data, uint32_t datalen) {
    size_t at = capw_ng_begin(b, CAPW_NG_SPB);
    capw_u32(b, origlen);
    capw_bytes(b, data, datalen);
    capw_ng_end(b, at, NULL);
}

CAPW_FN void capw_ng_nrb_ipv4(capw_buf *b, const uint8_t addr[4], const char *name) {
    size_t at = capw_ng_begin(b, CAPW_NG_NRB);
    size_t n = strlen(name) + 1;
    capw_u16(b, 1); /* nrb_record_ipv4 */
    capw_u16(b, (uint16_t)(4 + n));
    capw_bytes(b, addr, 4);
    capw_bytes(b, name, n);
    capw_pad4(b);
    capw_u16(b, 0); /* nrb_record_end */
    capw_u16(b, 0);
    capw_ng_end(b, at, NULL);
}

CAPW_FN void capw_ng_isb(capw_buf *b, uint32_t ifid, uint64_t ts) {
    size_t at = capw_ng_begin(b, CAPW_NG_ISB);
    capw_u32(b, ifid);
    capw_u32(b, (uint32_t)(ts >> 32));
    capw_u32(b, (uint32_t)ts);
    capw_ng_end(b, at, NULL);
}

CAPW_FN void capw_ng_custom(capw_buf *b, uint32_t pen, const void *data, size_t len) {
    size_t at = capw_ng_begin(b, CAPW_NG_CUSTOM);
    capw_u32(b, pen);
    capw_bytes(b, data, len);
    capw_ng_end(b, at, NULL);
}

#endif /* CAPWRITER_H */
