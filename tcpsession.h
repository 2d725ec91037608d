/* tcpsession.h - v0.1.0 - MIT licensed (see the end of this file)
   TCP session reassembly from pcap and pcapng captures, in one C header.

   Reads packet captures (pcap or pcapng; from memory, a path, a FILE* or a
   read callback) and reassembles every TCP session in them: for each
   direction, the bytes the receiving application was handed by its TCP stack
   (retransmissions dropped, overlaps resolved, segments put back in order,
   every missing byte reported as a gap), in the order the peers exchanged them.

   USAGE
     In exactly one C or C++ file:
         #define TCPSESSION_IMPLEMENTATION
         #include "tcpsession.h"
     Everywhere else just #include "tcpsession.h".

   QUICK START (compiled by the tests, see tests/test_quickstart.c)

         static int on_data(const tcps_event *ev, void *user) {
             fwrite(ev->data.ptr, 1, ev->data.len, stdout);
             (void)user;
             return 0;
         }
         ...
         tcps_config cfg = {0};
         tcps_ctx *ctx;
         tcps_reader *rd;
         cfg.callbacks.on_data = on_data;
         if (tcps_reader_open_path(&rd, "capture.pcap", NULL) != TCPS_OK) ...
         if (tcps_create(&ctx, &cfg) != TCPS_OK) ...
         int rc = tcps_run(ctx, rd);     (reads, reassembles, closes everything)
         if (rc < 0) fprintf(stderr, "%s at byte %llu\n", tcps_ctx_error(ctx)->message,
                             (unsigned long long)tcps_ctx_error(ctx)->offset);
         tcps_destroy(ctx);
         tcps_reader_close(rd);

   LAYERS
     Each layer is usable on its own:
       tcps_reader    capture bytes   -> tcps_packet  (one record, not copied)
       tcps_decoder   tcps_packet     -> tcps_segment (link, IP, defrag, TCP)
       tcps_ctx       tcps_segment    -> events       (sessions, reassembly)
     tcps_ctx owns a decoder, so most programs only open a reader and a ctx.

   OPTIONS (#define before including)
     TCPSESSION_IMPLEMENTATION  compile the implementation in this file
     TCPSESSION_STATIC          make every function static (file-local)
     TCPS_API                   prefix of public declarations (default extern)
     TCPS_ASSERT(x)             internal assertions (default assert.h)
     TCPS_MALLOC(sz,u) TCPS_REALLOC(p,old,new,u) TCPS_FREE(p,sz,u)
                                default allocator used when the config's
                                allocator is all NULL (define all or none)
     TCPS_NO_STDIO              no stdio: drops tcps_reader_open_file/_path
     TCPS_NO_MMAP               no mmap code: TCPS_READER_MMAP is ignored

   MEMORY
     Every allocation goes through the allocator in the config struct
     ({alloc, realloc, free, user}; the old size is passed to realloc and free,
     so arenas work). All NULL means TCPS_MALLOC & co (libc by default).
     An allocator returning NULL is an error like any other: the call returns
     TCPS_E_NOMEM, nothing leaks, and the object can still be destroyed.

   ERRORS
     Functions return int: TCPS_OK (0), TCPS_DONE (1, end of input) or a
     negative tcps_result. The last error stays on the object (tcps_reader_error,
     tcps_ctx_error) with a message and the byte offset in the capture where it
     was found. tcps_result_name() and tcps_result_message() describe any code.

   CALLBACKS AND SPAN LIFETIME
     tcps_callbacks holds function pointers; NULL means "not interested". A
     callback returning non-zero stops the run: no further callback is
     called by that feeding call, which returns TCPS_E_ABORTED. A stop loses
     nothing: the call still takes its packet in, and the events not yet
     delivered (the rest of that packet's, their bytes copied) are kept in
     order and delivered first by the next feeding call or by tcps_finish;
     each call that is stopped again keeps the rest. So a caller may stop,
     do its work, and go on feeding; or call tcps_finish until it returns
     TCPS_OK to have every event. tcps_destroy drops what is still kept.
     Out of memory while keeping an event: the call returns TCPS_E_NOMEM.
     Spans (tcps_span) point into the packet or into the reassembly buffer and
     are valid only during the callback (in pull mode: until the next
     tcps_next call). In-order data is never copied, but after a stop.

   LIMITS AND UNTRUSTED INPUT
     Every byte of input is treated as hostile. Lengths are checked against
     what remains before use, sizes are overflow-checked before allocation,
     and no allocation is sized from an unchecked field. Memory is bounded by
     the limits in tcps_config (sessions, buffered out-of-order bytes per
     direction and in total, IP fragments); reaching a limit flushes or evicts
     with gap events and is counted, it never aborts.

   THREADING
     No globals, no threads. Separate readers, decoders and contexts may be
     used from separate threads; one object must not be used by two threads
     at once.
*/
#ifndef TCPSESSION_H
#define TCPSESSION_H

#include <stddef.h>
#include <stdint.h>
#ifndef TCPS_NO_STDIO
#include <stdio.h>
#endif

#define TCPS_VERSION_MAJOR 0
#define TCPS_VERSION_MINOR 1
#define TCPS_VERSION_PATCH 0
#define TCPS_VERSION_STRING "0.1.0"

#if defined(__GNUC__) || defined(__clang__)
#define TCPS__MAYBE_UNUSED __attribute__((unused))
#else
#define TCPS__MAYBE_UNUSED
#endif

#ifndef TCPS_API
#ifdef TCPSESSION_STATIC
#define TCPS_API static TCPS__MAYBE_UNUSED
#else
#define TCPS_API extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- basics */

/* Result codes: one list makes the enum, the names and the messages.
   Grouped: -1.. arguments/memory/IO, -10.. capture format, -20.. limits,
   -30.. callbacks. */
#define TCPS_RESULT_LIST(X)                                                    \
    X(TCPS_OK, 0, "success")                                                   \
    X(TCPS_DONE, 1, "end of input")                                            \
    X(TCPS_E_ARG, -1, "invalid argument")                                      \
    X(TCPS_E_NOMEM, -2, "out of memory")                                       \
    X(TCPS_E_IO, -3, "read error")                                             \
    X(TCPS_E_STATE, -4, "call not valid in this state")                        \
    X(TCPS_E_FORMAT, -10, "not a pcap or pcapng capture")                      \
    X(TCPS_E_TRUNCATED, -11, "capture ends in the middle of a record")         \
    X(TCPS_E_BAD_HEADER, -12, "malformed file or section header")              \
    X(TCPS_E_BAD_BLOCK, -13, "malformed pcapng block")                         \
    X(TCPS_E_BAD_RECORD, -14, "malformed packet record")                       \
    X(TCPS_E_BAD_INTERFACE, -15, "packet refers to an undefined interface")    \
    X(TCPS_E_TOO_LARGE, -16, "record larger than the configured maximum")      \
    X(TCPS_E_VERSION, -17, "unsupported capture format version")               \
    X(TCPS_E_LIMIT, -20, "resource limit reached")                             \
    X(TCPS_E_ABORTED, -30, "stopped by a callback")

typedef enum tcps_result {
#define TCPS__RESULT_ENUM(name, value, msg) name = value,
    TCPS_RESULT_LIST(TCPS__RESULT_ENUM)
#undef TCPS__RESULT_ENUM
    TCPS_RESULT_END_ = 2
} tcps_result;

TCPS_API const char *tcps_result_name(int code);    /* "TCPS_E_NOMEM" */
TCPS_API const char *tcps_result_message(int code); /* "out of memory" */
TCPS_API const char *tcps_version(void);            /* TCPS_VERSION_STRING */

/* An error kept on an object: the code, a message that says what was wrong
   (static storage, never NULL), and the byte offset in the input where it was
   found (0 when the error is not about the input). */
typedef struct tcps_error {
    int code;
    uint64_t offset;
    const char *message;
} tcps_error;

/* A run of bytes; never owns them. */
typedef struct tcps_span {
    const uint8_t *ptr;
    size_t len;
} tcps_span;

/* A point in capture time, to the nanosecond (nsec < 1e9). */
typedef struct tcps_time {
    int64_t sec;
    uint32_t nsec;
} tcps_time;

/* Caller-supplied allocator. All NULL: TCPS_MALLOC/REALLOC/FREE (libc). Set
   all three or none. old_size/size are what was asked for when the block was
   allocated, so arenas and counters need no header of their own. */
typedef struct tcps_allocator {
    void *(*alloc)(size_t size, void *user);
    void *(*realloc)(void *ptr, size_t old_size, size_t new_size, void *user);
    void (*free)(void *ptr, size_t size, void *user);
    void *user;
} tcps_allocator;

/* ---------------------------------------------------------- capture reader */

/* Link-layer types (LINKTYPE_ values, as in pcap and pcapng headers). */
#define TCPS_LINKTYPE_NULL 0
#define TCPS_LINKTYPE_ETHERNET 1
#define TCPS_LINKTYPE_RAW_OLD1 12 /* DLT_RAW on most BSDs and Linux */
#define TCPS_LINKTYPE_RAW_OLD2 14 /* DLT_RAW on OpenBSD */
#define TCPS_LINKTYPE_PPP 9
#define TCPS_LINKTYPE_RAW 101
#define TCPS_LINKTYPE_CHDLC 104
#define TCPS_LINKTYPE_LOOP 108
#define TCPS_LINKTYPE_LINUX_SLL 113
#define TCPS_LINKTYPE_IPV4 228
#define TCPS_LINKTYPE_IPV6 229
#define TCPS_LINKTYPE_LINUX_SLL2 276

#define TCPS_FORMAT_PCAP 1
#define TCPS_FORMAT_PCAPNG 2
#define TCPS_FORMAT_SNOOP 3 /* Sun snoop (RFC 1761), as tshark reads it */

/* One packet record. data points into the input (memory or mapped file) or
   into the reader's buffer; it is valid until the next tcps_reader_next. */
typedef struct tcps_packet {
    tcps_time ts;        /* capture time, if_tsoffset and if_tsresol applied */
    uint64_t frame;      /* 1-based number of the packet record, as tshark counts */
    uint64_t offset;     /* byte offset of the record (or block) in the input */
    uint32_t linktype;   /* LINKTYPE_ value, FCS bits removed */
    uint32_t interface;  /* pcapng interface id within its section; 0 for pcap */
    uint32_t section;    /* pcapng section number, from 0; 0 for pcap */
    uint32_t origlen;    /* length of the packet on the wire */
    uint32_t snaplen;    /* the interface's snapshot length (0: unknown) */
    int32_t fcs_len;     /* FCS bytes at the end of each frame; -1 unknown */
    tcps_span data;      /* the captured bytes; data.len is the caplen */
} tcps_packet;

/* A read callback: fill buf with up to len bytes, return how many (0 at the
   end of input, negative on error). Short reads are fine. */
typedef ptrdiff_t (*tcps_read_fn)(void *user, void *buf, size_t len);

/* Zero means default for every field. */
typedef struct tcps_reader_config {
    tcps_allocator allocator;
    uint32_t max_record; /* largest block/record accepted, default 64 MiB */
    uint32_t max_interfaces; /* pcapng interfaces per section, default 65536 */
    uint32_t flags;          /* TCPS_READER_* */
} tcps_reader_config;

/* tcps_reader_config.flags */
#define TCPS_READER_MMAP 0x1 /* tcps_reader_open_path maps regular files (POSIX)
                                instead of reading them; see tcps_reader_open_path */

/* The reader.
   Formats: pcap (microsecond and nanosecond magic, either byte order,
   versions 2.0-2.4; the FCS length in the upper bits of the link type
   field becomes fcs_len) and pcapng (any number of sections in either byte
   order; interface ids restart in each section; EPB, SPB and the obsolete
   PB are packets, every other block is skipped, streamed past when it is
   larger than max_record). if_tsresol (10^-n and 2^-n, any n), if_tsoffset
   (saturating), if_fcslen (in bits, as the spec says) and the epb_flags FCS
   length (in bytes) are applied. An SPB has no time (ts is 0); its caplen
   is min(original length, interface snaplen, bytes held). A block length
   that is not a multiple of 4 is rounded up, as Wireshark does. Sun
   snoop files (RFC 1761, version 2) are read too; their Ethernet frames
   are LINKTYPE_ETHERNET, other snoop link types 0x10000 + the snoop code.
   Errors: empty input, a bad magic: TCPS_E_FORMAT; a cut or malformed file
   or section header: TCPS_E_BAD_HEADER; input ending inside a record:
   TCPS_E_TRUNCATED (input ending exactly after a record is TCPS_DONE). The
   error offset is that of the offending record or block, and every record
   before it has been returned. Errors are sticky.
   Memory: the memory source is never copied (packets point into it); the
   other sources read through one buffer that grows only when full of data
   that really arrived, and never beyond about max_record. */
typedef struct tcps_reader tcps_reader;

TCPS_API int tcps_reader_open_memory(tcps_reader **out, const void *data, size_t size,
                                     const tcps_reader_config *cfg);
TCPS_API int tcps_reader_open_callback(tcps_reader **out, tcps_read_fn read, void *read_user,
                                       const tcps_reader_config *cfg);
#ifndef TCPS_NO_STDIO
/* The FILE* stays the caller's: tcps_reader_close does not close it. */
TCPS_API int tcps_reader_open_file(tcps_reader **out, FILE *fp, const tcps_reader_config *cfg);
/* "-" is stdin (read, never closed). Files are read in chunks through a
   buffer; with TCPS_READER_MMAP in cfg->flags, regular files are
   memory-mapped instead (POSIX, unless TCPS_NO_MMAP), so packets point into
   the mapping. Reading is the default because it measured faster: mapping
   costs a page fault per page on first touch (about 8x slower than read()
   on a virtual machine) and the reader touches every byte once anyway. */
TCPS_API int tcps_reader_open_path(tcps_reader **out, const char *path,
                                   const tcps_reader_config *cfg);
#endif
/* TCPS_OK and *pkt filled, TCPS_DONE at the clean end, or a negative error
   (kept: tcps_reader_error). Records before an error were all returned. */
TCPS_API int tcps_reader_next(tcps_reader *r, tcps_packet *pkt);
TCPS_API void tcps_reader_close(tcps_reader *r);
TCPS_API const tcps_error *tcps_reader_error(const tcps_reader *r);
TCPS_API int tcps_reader_format(const tcps_reader *r);     /* TCPS_FORMAT_*, 0 before the header */
TCPS_API uint64_t tcps_reader_offset(const tcps_reader *r); /* input bytes consumed so far */
TCPS_API void tcps_reader_config_effective(const tcps_reader *r, tcps_reader_config *out);

/* ------------------------------------------------------------ TCP segments */

#define TCPS_TH_FIN 0x001
#define TCPS_TH_SYN 0x002
#define TCPS_TH_RST 0x004
#define TCPS_TH_PSH 0x008
#define TCPS_TH_ACK 0x010
#define TCPS_TH_URG 0x020
#define TCPS_TH_ECE 0x040
#define TCPS_TH_CWR 0x080
#define TCPS_TH_AE 0x100 /* formerly NS */

/* Bits of tcps_tcp_options.present: TCPS_OPT_* of TCPS_OPT_LIST, below */

#define TCPS_MAX_SACK 4
#define TCPS_MAX_VLAN 4

typedef struct tcps_tcp_options {
    uint32_t present;   /* TCPS_OPT_* bits */
    uint16_t mss;
    uint8_t wscale;
    uint8_t sack_count; /* blocks kept in sack[] */
    uint32_t sack[TCPS_MAX_SACK][2]; /* left and right edges */
    uint32_t ts_val, ts_ecr;
    uint8_t tfo_len;    /* TFO cookie bytes kept in tfo_cookie (0..16) */
    uint8_t tfo_cookie[16];
} tcps_tcp_options;

#define TCPS_CSUM_UNCHECKED 0
#define TCPS_CSUM_GOOD 1
#define TCPS_CSUM_BAD 2

/* One decoded TCP segment. Addresses are in network byte order; an IPv4
   address fills the first 4 bytes of src/dst and the rest are zero. */
typedef struct tcps_segment {
    /* from the packet */
    tcps_time ts;
    uint64_t frame;
    uint32_t interface;
    /* written by the layers that find a segment */
    uint16_t sport, dport;
    uint8_t src[16], dst[16];
    uint32_t seq, ack;
    uint16_t flags;       /* TCPS_TH_* */
    uint16_t window;      /* as sent, not scaled */
    uint16_t urgent;
    uint16_t hdr_len;     /* TCP header length in bytes */
    /* zero unless a layer sets them: tcps_decode clears every field from
       here to the end of the struct for each packet */
    uint8_t ip_version;   /* 4 or 6 (of the innermost IP header) */
    uint8_t ttl;          /* TTL or hop limit */
    uint8_t vlan_count;   /* VLAN tags seen; the first TCPS_MAX_VLAN ids kept */
    uint8_t tunnel_depth; /* IP or GRE encapsulations removed */
    uint8_t checksum;     /* TCPS_CSUM_*: UNCHECKED unless verification is on */
    uint8_t ip_checksum;  /* TCPS_CSUM_* of the IPv4 header */
    uint8_t fragmented;   /* 1 if made from IP fragments */
    uint8_t reserved_;
    uint16_t vlan[TCPS_MAX_VLAN];
    tcps_span payload;    /* the captured payload */
    uint32_t payload_len; /* payload length on the wire; more than payload.len
                             when the snapshot length cut the packet */
    tcps_tcp_options opt;
} tcps_segment;

/* -------------------------------------------------------------- decoder */

/* Why a packet was counted as malformed. */
#define TCPS_MALFORMED_LIST(X)                                                 \
    X(LINK_TRUNCATED, "link-layer header truncated")                           \
    X(LINK_BAD, "bad link-layer header")                                       \
    X(IP_TRUNCATED, "IP header truncated")                                     \
    X(IP_BAD_VERSION, "IP version does not match the link type")               \
    X(IP_BAD_HEADER_LEN, "IPv4 header length below 20 or past the packet")     \
    X(IP_BAD_TOTAL_LEN, "IP total length below the header length")             \
    X(IP_BAD_CHECKSUM, "IPv4 header checksum wrong (verification on)")        \
    X(IP6_BAD_EXT, "IPv6 extension header truncated or malformed")             \
    X(FRAG_BAD, "IP fragment malformed")                                       \
    X(TCP_TRUNCATED, "TCP header truncated")                                   \
    X(TCP_BAD_OFFSET, "TCP data offset below 5 or past the segment")           \
    X(TCP_BAD_CHECKSUM, "TCP checksum wrong (verification on)")                \
    X(TUNNEL_TOO_DEEP, "too many nested encapsulations")

typedef enum tcps_malformed {
#define TCPS__MALFORMED_ENUM(name, msg) TCPS_MALFORMED_##name,
    TCPS_MALFORMED_LIST(TCPS__MALFORMED_ENUM)
#undef TCPS__MALFORMED_ENUM
    TCPS_MALFORMED_COUNT
} tcps_malformed;

TCPS_API const char *tcps_malformed_name(int reason);    /* "TCP_BAD_OFFSET" */
TCPS_API const char *tcps_malformed_message(int reason);

#define TCPS_STATS_LINKTYPES 16

/* Each packet has one outcome, counted once:
     packets = tcp + non_ip + non_tcp + unsupported_link + malformed_packets
               + fragment_packets + nomem + other
   (other is a fault of the decoder: the tests hold it at 0). The other
   counters (ipv4, tunnels, fragments, malformed[] by reason, ...) describe
   packets without partitioning them. */
typedef struct tcps_decode_stats {
    uint64_t packets;          /* packets given to the decoder */
    uint64_t bytes;            /* captured bytes of those packets */
    uint64_t tcp;              /* TCP segments produced */
    uint64_t ipv4, ipv6;       /* packets whose (innermost) IP was v4 / v6 */
    uint64_t non_ip;           /* link layer carried something else (ARP, ...) */
    uint64_t non_tcp;          /* IP carried something else (UDP, ICMP, ...) */
    uint64_t unsupported_link; /* packets of a link type not decoded */
    uint64_t malformed_packets;/* dropped as malformed (the reason in malformed[]) */
    uint64_t fragment_packets; /* IP fragments that completed no datagram: held
                                  for the rest, or dropped by the limits */
    uint64_t nomem;            /* decoding ran out of memory (TCPS_E_NOMEM) */
    uint64_t other;            /* no outcome: a decoder fault, always 0 */
    uint64_t truncated;        /* TCP segments whose payload the snaplen cut */
    uint64_t tunnels;          /* packets with IP-in-IP, GRE, ... removed */
    uint64_t fragments;        /* IP fragments seen */
    uint64_t reassembled;      /* datagrams rebuilt from fragments */
    uint64_t frag_expired;     /* incomplete datagrams dropped on timeout */
    uint64_t frag_evicted;     /* incomplete datagrams dropped by the limits */
    uint64_t frag_overlaps;    /* fragments overlapping earlier ones */
    uint64_t malformed[TCPS_MALFORMED_COUNT];
    uint32_t linktype_count;   /* distinct link types seen (first 16 kept) */
    struct {
        uint32_t linktype;
        uint64_t packets;
    } linktypes[TCPS_STATS_LINKTYPES];
} tcps_decode_stats;

/* Decoder flags */
/* check IPv4 and TCP checksums: bad segments are marked (checksum,
   ip_checksum) and counted, not dropped; a context with
   TCPS_F_VERIFY_CHECKSUMS drops them */
#define TCPS_DECODE_VERIFY_CHECKSUMS 0x1
#define TCPS_DECODE_NO_DEFRAG 0x2        /* count IP fragments, do not rebuild */
#define TCPS_DECODE_NO_TUNNELS 0x4       /* do not look inside tunnels: IP-in-IP,
                                            GRE, VXLAN, Geneve, GTP-U, L2TP,
                                            Teredo, AYIYA */

/* Zero means default for every field. */
typedef struct tcps_decoder_config {
    tcps_allocator allocator;
    uint32_t flags;              /* TCPS_DECODE_* */
    uint32_t frag_max_datagrams; /* incomplete datagrams held, default 4096 */
    size_t frag_max_bytes;       /* fragment bytes held in all, default 16 MiB */
    uint32_t frag_timeout_ms;    /* capture time an incomplete datagram lives, default 30000 */
} tcps_decoder_config;

typedef struct tcps_decoder tcps_decoder;

TCPS_API int tcps_decoder_create(tcps_decoder **out, const tcps_decoder_config *cfg);
TCPS_API void tcps_decoder_destroy(tcps_decoder *d);
/* 1 when *seg holds a TCP segment, 0 when the packet held none (counted in
   the stats), or TCPS_E_NOMEM. seg->payload may point into the decoder's
   defragmentation buffer: valid until the next tcps_decode call. */
TCPS_API int tcps_decode(tcps_decoder *d, const tcps_packet *pkt, tcps_segment *seg);
TCPS_API const tcps_decode_stats *tcps_decoder_stats(const tcps_decoder *d);
TCPS_API void tcps_decoder_config_effective(const tcps_decoder *d, tcps_decoder_config *out);

/* --------------------------------------------------- sessions, reassembly */

#define TCPS_C2S 0 /* client to server */
#define TCPS_S2C 1 /* server to client */

/* Name tables. Each list makes the constants and the text a front-end shows
   (tcps_end_name() and the rest below): X(CONSTANT, value, "name", "meaning").
   The names are the ones every output uses (JSON, tables, the bindings). */

/* How a session ended (tcps_session.end, the CLOSE event's reason) */
#define TCPS_END_LIST(X)                                                       \
    X(TCPS_END_NONE, 0, "open", "still open")                                  \
    X(TCPS_END_FIN, 1, "fin", "FIN each way")                                  \
    X(TCPS_END_RST, 2, "rst", "reset")                                         \
    X(TCPS_END_TIMEOUT, 3, "timeout", "idle longer than idle_timeout_ms")      \
    X(TCPS_END_EOF, 4, "eof", "end of capture (tcps_finish)")                  \
    X(TCPS_END_EVICTED, 5, "evicted", "pushed out by max_sessions")            \
    X(TCPS_END_REUSED, 6, "reused", "a new connection took the same 4-tuple")

/* Why bytes are missing (the GAP event's reason) */
#define TCPS_GAP_LIST(X)                                                       \
    X(TCPS_GAP_ACKED, 1, "acked", "the peer acknowledged bytes the capture never had") \
    X(TCPS_GAP_CLOSE, 2, "close", "a hole left when the session ended, data beyond it") \
    X(TCPS_GAP_LIMIT, 3, "limit", "a buffer limit forced buffered data out")   \
    X(TCPS_GAP_TRUNCATED, 4, "truncated", "the snapshot length cut a segment's payload")

/* Anomaly bits of tcps_dir_stats.anomalies */
#define TCPS_ANOM_LIST(X)                                                      \
    X(TCPS_ANOM_SYN_DATA, 0x0001, "syn_data", "data on a SYN (TCP Fast Open)") \
    X(TCPS_ANOM_FIN_DATA, 0x0002, "fin_data", "data on a FIN")                 \
    X(TCPS_ANOM_DATA_AFTER_FIN, 0x0004, "data_after_fin", "data beyond the FIN") \
    X(TCPS_ANOM_RST_DATA, 0x0008, "rst_data", "data on a RST")                 \
    X(TCPS_ANOM_URGENT, 0x0010, "urgent", "URG flag (urgent data kept inline)") \
    X(TCPS_ANOM_BAD_FLAGS, 0x0020, "bad_flags", "SYN+FIN, SYN+RST, no flags, ...") \
    X(TCPS_ANOM_DATA_BEFORE_START, 0x0040, "data_before_start",                \
      "data before the first sequence tracked")                                \
    X(TCPS_ANOM_DATA_AFTER_RST, 0x0080, "data_after_rst", "data after a RST")  \
    X(TCPS_ANOM_CONFLICT, 0x0100, "conflict", "overlapping copies with different bytes") \
    X(TCPS_ANOM_FIN_INFERRED, 0x0400, "fin_inferred",                          \
      "no FIN captured, but the peer acknowledged one more sequence number "   \
      "than the data and the other side's FIN was acknowledged: that number "  \
      "is taken as the lost FIN, not as a missing byte")                       \
    X(TCPS_ANOM_FIN_UNCERTAIN, 0x0800, "fin_uncertain",                        \
      "no FIN captured, the peer acknowledged beyond the data and nothing "    \
      "shows the direction closed: the last sequence number acknowledged may " \
      "be a FIN or a byte. Alone it is taken as a FIN (no gap); after missing " \
      "data, as a byte (in the gap)")

/* TCP option bits of tcps_tcp_options.present and tcps_dir_stats.options */
#define TCPS_OPT_LIST(X)                                                       \
    X(TCPS_OPT_MSS, 0x0001, "mss", "maximum segment size")                     \
    X(TCPS_OPT_WSCALE, 0x0002, "wscale", "window scale")                       \
    X(TCPS_OPT_SACK_PERM, 0x0004, "sack_perm", "SACK permitted")               \
    X(TCPS_OPT_SACK, 0x0008, "sack", "selective acknowledgement blocks")       \
    X(TCPS_OPT_TIMESTAMP, 0x0010, "timestamp", "timestamps")                   \
    X(TCPS_OPT_TFO, 0x0020, "tfo", "TCP Fast Open cookie")                     \
    X(TCPS_OPT_MD5, 0x0040, "md5", "MD5 signature (RFC 2385)")                 \
    X(TCPS_OPT_MPTCP, 0x0080, "mptcp", "multipath TCP")                        \
    X(TCPS_OPT_USER_TIMEOUT, 0x0100, "user_timeout", "user timeout (RFC 5482)") \
    X(TCPS_OPT_AUTH, 0x0200, "auth", "TCP authentication option (RFC 5925)")   \
    X(TCPS_OPT_UNKNOWN, 0x4000, "unknown", "some option kind not listed above") \
    X(TCPS_OPT_MALFORMED, 0x8000, "malformed",                                 \
      "option list ran past the header, or a bad length")

/* Event types (tcps_event.type) */
#define TCPS_EV_LIST(X)                                                        \
    X(TCPS_EV_OPEN, 1, "open", "a session starts")                             \
    X(TCPS_EV_DATA, 2, "data", "bytes delivered in order")                     \
    X(TCPS_EV_GAP, 3, "gap", "bytes that will never come")                     \
    X(TCPS_EV_CLOSE, 4, "close", "the last event of a session")

#define TCPS__NAME_ENUM(constant, value, name, meaning) constant = value,
enum tcps_end_reason { TCPS_END_LIST(TCPS__NAME_ENUM) TCPS_END_LIST_END_ };
enum tcps_gap_reason { TCPS_GAP_LIST(TCPS__NAME_ENUM) TCPS_GAP_LIST_END_ };
enum tcps_anomaly { TCPS_ANOM_LIST(TCPS__NAME_ENUM) TCPS_ANOM_LIST_END_ };
enum tcps_option { TCPS_OPT_LIST(TCPS__NAME_ENUM) TCPS_OPT_LIST_END_ };
enum tcps_event_type { TCPS_EV_LIST(TCPS__NAME_ENUM) TCPS_EV_LIST_END_ };
#undef TCPS__NAME_ENUM

/* The name of a value ("fin", "acked", "open"...), or NULL for a value not in
   the list. For bit sets (anomalies, options) pass one bit; tcps_bit_names()
   walks a set. */
TCPS_API const char *tcps_end_name(int end);
TCPS_API const char *tcps_gap_name(int reason);
TCPS_API const char *tcps_anomaly_name(uint32_t bit);
TCPS_API const char *tcps_option_name(uint32_t bit);
TCPS_API const char *tcps_event_name(int type);
/* Its meaning, for help text and documentation, or NULL. */
TCPS_API const char *tcps_end_meaning(int end);
TCPS_API const char *tcps_gap_meaning(int reason);
TCPS_API const char *tcps_anomaly_meaning(uint32_t bit);
TCPS_API const char *tcps_option_meaning(uint32_t bit);
TCPS_API const char *tcps_event_meaning(int type);
/* The lowest set bit of *bits that has a name, cleared from *bits, with its
   name: for (b = set; (name = tcps_bit_names(TCPS_BITS_ANOMALY, &b));) ...
   Bits without a name are skipped. NULL when none is left. */
#define TCPS_BITS_ANOMALY 1
#define TCPS_BITS_OPTION 2
TCPS_API const char *tcps_bit_names(int kind, uint32_t *bits);

typedef struct tcps_endpoint {
    uint8_t addr[16];   /* IPv4 in the first 4 bytes */
    uint16_t port;
    uint8_t ip_version; /* 4 or 6 */
} tcps_endpoint;

typedef struct tcps_dir_stats {
    uint64_t bytes;          /* delivered */
    uint64_t missing;        /* reported in gap events */
    uint64_t gaps;           /* gap events */
    uint64_t packets;        /* segments seen this way */
    uint64_t payload_packets;/* segments with payload */
    uint64_t dup_bytes;      /* payload bytes dropped as already delivered */
    uint64_t ooo_segments;   /* segments buffered out of order */
    uint64_t conflicts;      /* overlaps whose bytes differed */
    uint64_t buffered;       /* out-of-order bytes held now */
    uint32_t isn;            /* first sequence number (of the SYN, or first seen) */
    uint32_t anomalies;      /* TCPS_ANOM_* */
    uint16_t syn_options;    /* TCPS_OPT_* seen on the SYN of this side */
    uint16_t options;        /* TCPS_OPT_* seen on any segment this way */
    uint16_t mss;            /* from the SYN, 0 if none */
    uint8_t wscale;          /* from the SYN, 0xff if none */
    uint8_t syn_seen, fin_seen, rst_seen;
} tcps_dir_stats;

/* A session as the callbacks see it. Read-only but for user. */
typedef struct tcps_session {
    uint64_t stream;      /* number in order of first packet; tshark's tcp.stream */
    tcps_endpoint client; /* the SYN sender, else see tcps_config.flags */
    tcps_endpoint server;
    uint8_t first_dir;    /* direction of the session's first packet; its
                             source is tshark's "node 0" */
    uint8_t end;          /* TCPS_END_* (NONE while open) */
    uint8_t ending;       /* TCPS_END_FIN or _RST once the session ends so: its
                             CLOSE comes linger_ms later. After FIN no more
                             bytes can be delivered; after RST some may */
    uint8_t handshake;    /* bits: 1 SYN, 2 SYN-ACK, 4 ACK of the handshake seen */
    uint8_t vlan_count;
    uint16_t vlan[TCPS_MAX_VLAN];
    tcps_time first_ts, last_ts;
    uint64_t first_frame, last_frame;
    uint64_t packets;
    tcps_dir_stats dir[2]; /* [TCPS_C2S], [TCPS_S2C] */
    void *user;            /* yours: set it in on_open */
} tcps_session;

/* One event. For DATA: data, offset (stream offset of data.ptr[0], 0 is the
   first byte after the SYN), ts/frame of the packet that made it
   deliverable, data_ts/data_frame of the packet that carried the bytes
   (they differ for out-of-order data). For GAP: offset, length, reason
   (TCPS_GAP_*). For CLOSE: reason (TCPS_END_*). */
typedef struct tcps_event {
    int type;             /* TCPS_EV_* */
    int dir;              /* TCPS_C2S / TCPS_S2C (DATA, GAP) */
    tcps_session *session;
    tcps_span data;
    uint64_t offset;
    uint64_t length;      /* GAP: bytes missing; DATA: data.len */
    int reason;
    tcps_time ts;
    uint64_t frame;
    tcps_time data_ts;
    uint64_t data_frame;
} tcps_event;

typedef int (*tcps_event_fn)(const tcps_event *ev, void *user);

typedef struct tcps_callbacks {
    tcps_event_fn on_open;  /* a session starts */
    tcps_event_fn on_data;  /* bytes delivered in order */
    tcps_event_fn on_gap;   /* bytes that will never come */
    tcps_event_fn on_close; /* the last event of a session */
} tcps_callbacks;

/* Overlap policies */
#define TCPS_OVERLAP_FIRST 0 /* default: bytes seen first win (tshark, Linux) */
#define TCPS_OVERLAP_LAST 1  /* buffered bytes are replaced by later copies */

/* Context flags */
#define TCPS_F_VERIFY_CHECKSUMS 0x01 /* drop segments with bad checksums */
#define TCPS_F_SEPARATE_VLANS 0x02   /* sessions on different VLANs are distinct */
#define TCPS_F_NO_DEFRAG 0x04        /* do not rebuild IP fragments */
#define TCPS_F_PORT_HEURISTIC 0x08   /* no SYN seen: the side on the lower port
                                        below 1024 is the server (default: the
                                        first packet's source is the client) */
#define TCPS_F_PULL 0x10             /* pull mode from the start: events are
                                        queued for tcps_next, callbacks unused
                                        (for feeding packets yourself) */
#define TCPS_F_NO_TUNNELS 0x20       /* do not look inside tunnels
                                        (TCPS_DECODE_NO_TUNNELS) */

/* Zero means default for every field. */
typedef struct tcps_config {
    tcps_allocator allocator;
    tcps_callbacks callbacks;
    void *user;                 /* last argument of every callback */
    uint32_t flags;             /* TCPS_F_* */
    int overlap;                /* TCPS_OVERLAP_* */
    uint32_t max_sessions;      /* live sessions, default 1048576; the idlest is evicted */
    size_t max_buffer_dir;      /* out-of-order bytes per direction, default 4 MiB */
    size_t max_buffer_total;    /* out-of-order bytes in all, default 64 MiB */
    uint32_t idle_timeout_ms;   /* capture time without packets before a session
                                   ends, default 0: never (as tshark) */
    uint32_t linger_ms;         /* capture time a session stays after FIN/RST for
                                   late segments, default 1000 */
    uint32_t frag_max_datagrams;/* as tcps_decoder_config */
    size_t frag_max_bytes;
    uint32_t frag_timeout_ms;
} tcps_config;

/* Every packet and segment is accounted for: packets fed through
   tcps_feed_packet/frame are decode->packets, each counted once by the
   decoder's outcome (see tcps_decode_stats); each TCP segment fed, from the
   decoder or tcps_feed_segment, is counted once in
     segments = session_segments + late_segments + bad_checksum + nomem_segments. */
typedef struct tcps_stats {
    uint64_t packets;           /* packets fed */
    uint64_t segments;          /* TCP segments fed */
    uint64_t session_segments;  /* segments given to a session */
    uint64_t sessions;          /* sessions opened */
    uint64_t sessions_live;     /* open now */
    uint64_t sessions_peak;
    uint64_t closed_fin, closed_rst, closed_timeout, closed_eof, closed_evicted, closed_reused;
    uint64_t bytes;             /* delivered, both ways, all sessions */
    uint64_t missing;           /* reported in gaps */
    uint64_t gaps;
    uint64_t gaps_limit;        /* gaps forced by the buffer limits */
    uint64_t late_segments;     /* dropped: segments of a closed session
                                   (retransmissions, ACKs, data sent after the
                                   close, which no receiver took) */
    uint64_t late_bytes;        /* payload of late segments beyond what their
                                   session delivered or reported missing */
    uint64_t bad_checksum;      /* dropped by verification (TCPS_F_VERIFY_CHECKSUMS) */
    uint64_t nomem_segments;    /* dropped: no memory for a new session (the
                                   call returned TCPS_E_NOMEM) */
    uint64_t buffered;          /* out-of-order bytes held now */
    uint64_t buffered_peak;
    const tcps_decode_stats *decode;
} tcps_stats;

typedef struct tcps_ctx tcps_ctx;

TCPS_API int tcps_create(tcps_ctx **out, const tcps_config *cfg);
/* Frees everything; no callbacks are called (call tcps_finish first for the
   closes). */
TCPS_API void tcps_destroy(tcps_ctx *ctx);
/* Feed one decoded segment (third layer alone). */
TCPS_API int tcps_feed_segment(tcps_ctx *ctx, const tcps_segment *seg);
/* Feed one captured packet: decoded, defragmented, then fed. */
TCPS_API int tcps_feed_packet(tcps_ctx *ctx, const tcps_packet *pkt);
/* Feed one frame from a live source (libpcap's pcap_next_ex and the like). */
TCPS_API int tcps_feed_frame(tcps_ctx *ctx, uint32_t linktype, tcps_time ts, const void *data,
                             size_t caplen, size_t origlen);
/* End of input: every open session is flushed (gaps for holes) and closed. */
TCPS_API int tcps_finish(tcps_ctx *ctx);
/* Read r to its end, feed every packet, then tcps_finish. A reader error is
   returned (and copied to tcps_ctx_error) after every packet before it was
   fed and every session closed. */
TCPS_API int tcps_run(tcps_ctx *ctx, tcps_reader *r);
/* Pull mode, for bindings: the next event, reading r as needed. TCPS_OK with
   *ev filled, TCPS_DONE after the last close, or an error. Spans stay valid
   until the next call. Do not mix with callbacks on the same context.
   With r NULL (and TCPS_F_PULL in the config), packets are fed with
   tcps_feed_packet/frame/segment and tcps_finish, whose events are queued;
   tcps_next then returns them in order and TCPS_DONE when none is left.
   Their spans may point into the packets fed: keep those until then. */
TCPS_API int tcps_next(tcps_ctx *ctx, tcps_reader *r, tcps_event *ev);
TCPS_API const tcps_stats *tcps_ctx_stats(const tcps_ctx *ctx);
TCPS_API const tcps_error *tcps_ctx_error(const tcps_ctx *ctx);
TCPS_API void tcps_config_effective(const tcps_ctx *ctx, tcps_config *out);

/* Helpers */
/* Write "1.2.3.4" or RFC 5952 IPv6 text into buf (at least 46 bytes). */
TCPS_API char *tcps_addr_to_string(const uint8_t *addr, int ip_version, char *buf, size_t size);
/* a < b: negative, equal: 0, a > b: positive */
TCPS_API int tcps_time_cmp(tcps_time a, tcps_time b);

#ifdef __cplusplus
}
#endif

#endif /* TCPSESSION_H */

/* ======================================================================= */
/*                              IMPLEMENTATION                             */
/* ======================================================================= */

#ifdef TCPSESSION_IMPLEMENTATION
#ifndef TCPSESSION_IMPLEMENTATION_DONE
#define TCPSESSION_IMPLEMENTATION_DONE

#include <string.h>
#include <limits.h>

#ifndef TCPS_ASSERT
#include <assert.h>
#define TCPS_ASSERT(x) assert(x)
#endif

#if defined(TCPS_MALLOC) && defined(TCPS_REALLOC) && defined(TCPS_FREE)
/* all three given */
#elif !defined(TCPS_MALLOC) && !defined(TCPS_REALLOC) && !defined(TCPS_FREE)
#include <stdlib.h>
#define TCPS_MALLOC(sz, u) ((void)(u), malloc(sz))
#define TCPS_REALLOC(p, old, sz, u) ((void)(old), (void)(u), realloc((p), (sz)))
#define TCPS_FREE(p, sz, u) ((void)(sz), (void)(u), free(p))
#else
#error "tcpsession.h: define all of TCPS_MALLOC, TCPS_REALLOC and TCPS_FREE, or none"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- common --
   Owns: allocator wrappers, byte-order readers, result tables, time
   arithmetic, address text. Touches nothing else. */

#define TCPS__UNUSED(x) (void)(x)
#define TCPS__PRIVATE static TCPS__MAYBE_UNUSED
#define TCPS__MIN(a, b) ((a) < (b) ? (a) : (b))
#define TCPS__MAX(a, b) ((a) > (b) ? (a) : (b))

typedef struct tcps__alloc {
    tcps_allocator a;
} tcps__alloc;

TCPS__PRIVATE void *tcps__default_alloc(size_t size, void *user) { return TCPS_MALLOC(size, user); }
TCPS__PRIVATE void *tcps__default_realloc(void *p, size_t old, size_t size, void *user) {
    return TCPS_REALLOC(p, old, size, user);
}
TCPS__PRIVATE void tcps__default_free(void *p, size_t size, void *user) { TCPS_FREE(p, size, user); }

/* Fill in the defaults; 0 if the allocator is usable, TCPS_E_ARG if only some
   of its functions were given. */
TCPS__PRIVATE int tcps__alloc_init(tcps_allocator *dst, const tcps_allocator *src) {
    if (!src || (!src->alloc && !src->realloc && !src->free)) {
        dst->alloc = tcps__default_alloc;
        dst->realloc = tcps__default_realloc;
        dst->free = tcps__default_free;
        dst->user = src ? src->user : NULL;
        return TCPS_OK;
    }
    if (!src->alloc || !src->realloc || !src->free) return TCPS_E_ARG;
    *dst = *src;
    return TCPS_OK;
}

TCPS__PRIVATE void *tcps__malloc(const tcps_allocator *a, size_t size) {
    if (size == 0) size = 1;
    return a->alloc(size, a->user);
}
TCPS__PRIVATE void *tcps__calloc(const tcps_allocator *a, size_t n, size_t size) {
    void *p;
    if (size && n > SIZE_MAX / size) return NULL;
    p = tcps__malloc(a, n * size);
    if (p) memset(p, 0, (n * size) > 0 ? n * size : 1);
    return p;
}
TCPS__PRIVATE void *tcps__realloc(const tcps_allocator *a, void *p, size_t old, size_t size) {
    if (!p) return tcps__malloc(a, size);
    if (size == 0) size = 1;
    return a->realloc(p, old ? old : 1, size, a->user);
}
TCPS__PRIVATE void tcps__free(const tcps_allocator *a, void *p, size_t size) {
    if (p) a->free(p, size ? size : 1, a->user);
}

/* Grow an array of elem-sized items to hold at least need items; doubles.
   Overflow-checked. */
TCPS__PRIVATE int tcps__grow(const tcps_allocator *a, void **arr, size_t *cap, size_t need, size_t elem) {
    size_t ncap = *cap ? *cap : 8;
    void *p;
    if (need <= *cap) return TCPS_OK;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) return TCPS_E_NOMEM;
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem) return TCPS_E_NOMEM;
    p = tcps__realloc(a, *arr, *cap * elem, ncap * elem);
    if (!p) return TCPS_E_NOMEM;
    *arr = p;
    *cap = ncap;
    return TCPS_OK;
}

TCPS__PRIVATE uint16_t tcps__be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
TCPS__PRIVATE uint32_t tcps__be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
TCPS__PRIVATE uint16_t tcps__le16(const uint8_t *p) { return (uint16_t)((p[1] << 8) | p[0]); }
TCPS__PRIVATE uint32_t tcps__le32(const uint8_t *p) {
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}
TCPS__PRIVATE uint64_t tcps__le64(const uint8_t *p) {
    return ((uint64_t)tcps__le32(p + 4) << 32) | tcps__le32(p);
}
TCPS__PRIVATE uint64_t tcps__be64(const uint8_t *p) {
    return ((uint64_t)tcps__be32(p) << 32) | tcps__be32(p + 4);
}

#define TCPS__NS_PER_SEC 1000000000u

TCPS_API int tcps_time_cmp(tcps_time a, tcps_time b) {
    if (a.sec != b.sec) return a.sec < b.sec ? -1 : 1;
    if (a.nsec != b.nsec) return a.nsec < b.nsec ? -1 : 1;
    return 0;
}

/* a - b in milliseconds, saturated to the int64 range */
TCPS__PRIVATE int64_t tcps__time_diff_ms(tcps_time a, tcps_time b) {
    int64_t ds;
    if ((b.sec > 0 && a.sec < INT64_MIN / 2) || (b.sec < 0 && a.sec > INT64_MAX / 2))
        return a.sec < b.sec ? INT64_MIN / 2 : INT64_MAX / 2;
    ds = a.sec - b.sec;
    if (ds > INT64_MAX / 2000) return INT64_MAX / 2;
    if (ds < INT64_MIN / 2000) return INT64_MIN / 2;
    return ds * 1000 + ((int64_t)a.nsec - (int64_t)b.nsec) / 1000000;
}

static const struct {
    int code;
    const char *name, *message;
} tcps__results[] = {
#define TCPS__RESULT_ROW(name, value, msg) {value, #name, msg},
    TCPS_RESULT_LIST(TCPS__RESULT_ROW)
#undef TCPS__RESULT_ROW
};

TCPS_API const char *tcps_result_name(int code) {
    size_t i;
    for (i = 0; i < sizeof tcps__results / sizeof tcps__results[0]; i++)
        if (tcps__results[i].code == code) return tcps__results[i].name;
    return "TCPS_E_UNKNOWN";
}

TCPS_API const char *tcps_result_message(int code) {
    size_t i;
    for (i = 0; i < sizeof tcps__results / sizeof tcps__results[0]; i++)
        if (tcps__results[i].code == code) return tcps__results[i].message;
    return "unknown result code";
}

TCPS_API const char *tcps_version(void) { return TCPS_VERSION_STRING; }

typedef struct tcps__name_row {
    long value;
    const char *name, *meaning;
} tcps__name_row;
#define TCPS__NAME_ROW(constant, value, name, meaning) {value, name, meaning},
static const tcps__name_row tcps__end_rows[] = {TCPS_END_LIST(TCPS__NAME_ROW)};
static const tcps__name_row tcps__gap_rows[] = {TCPS_GAP_LIST(TCPS__NAME_ROW)};
static const tcps__name_row tcps__anom_rows[] = {TCPS_ANOM_LIST(TCPS__NAME_ROW)};
static const tcps__name_row tcps__opt_rows[] = {TCPS_OPT_LIST(TCPS__NAME_ROW)};
static const tcps__name_row tcps__ev_rows[] = {TCPS_EV_LIST(TCPS__NAME_ROW)};
#undef TCPS__NAME_ROW
#define TCPS__ROWS(t) t, sizeof t / sizeof t[0]

TCPS__PRIVATE const tcps__name_row *tcps__name_find(const tcps__name_row *t, size_t n, long value) {
    size_t i;
    for (i = 0; i < n; i++)
        if (t[i].value == value) return &t[i];
    return NULL;
}
TCPS__PRIVATE const char *tcps__name_of(const tcps__name_row *t, size_t n, long value, int meaning) {
    const tcps__name_row *r = tcps__name_find(t, n, value);
    return r ? (meaning ? r->meaning : r->name) : NULL;
}

TCPS_API const char *tcps_end_name(int v) { return tcps__name_of(TCPS__ROWS(tcps__end_rows), v, 0); }
TCPS_API const char *tcps_gap_name(int v) { return tcps__name_of(TCPS__ROWS(tcps__gap_rows), v, 0); }
TCPS_API const char *tcps_anomaly_name(uint32_t v) { return tcps__name_of(TCPS__ROWS(tcps__anom_rows), (long)v, 0); }
TCPS_API const char *tcps_option_name(uint32_t v) { return tcps__name_of(TCPS__ROWS(tcps__opt_rows), (long)v, 0); }
TCPS_API const char *tcps_event_name(int v) { return tcps__name_of(TCPS__ROWS(tcps__ev_rows), v, 0); }
TCPS_API const char *tcps_end_meaning(int v) { return tcps__name_of(TCPS__ROWS(tcps__end_rows), v, 1); }
TCPS_API const char *tcps_gap_meaning(int v) { return tcps__name_of(TCPS__ROWS(tcps__gap_rows), v, 1); }
TCPS_API const char *tcps_anomaly_meaning(uint32_t v) { return tcps__name_of(TCPS__ROWS(tcps__anom_rows), (long)v, 1); }
TCPS_API const char *tcps_option_meaning(uint32_t v) { return tcps__name_of(TCPS__ROWS(tcps__opt_rows), (long)v, 1); }
TCPS_API const char *tcps_event_meaning(int v) { return tcps__name_of(TCPS__ROWS(tcps__ev_rows), v, 1); }

TCPS_API const char *tcps_bit_names(int kind, uint32_t *bits) {
    const tcps__name_row *t = kind == TCPS_BITS_ANOMALY ? tcps__anom_rows : tcps__opt_rows;
    size_t n = kind == TCPS_BITS_ANOMALY ? sizeof tcps__anom_rows / sizeof *t : sizeof tcps__opt_rows / sizeof *t;
    const tcps__name_row *r;
    if (!bits || (kind != TCPS_BITS_ANOMALY && kind != TCPS_BITS_OPTION)) return NULL;
    while (*bits) {
        uint32_t bit = *bits & (~*bits + 1u);
        *bits &= ~bit;
        if ((r = tcps__name_find(t, n, (long)bit)) != NULL) return r->name;
    }
    return NULL;
}
#undef TCPS__ROWS

static const char *const tcps__malformed_names[] = {
#define TCPS__MALFORMED_NAME(name, msg) #name,
    TCPS_MALFORMED_LIST(TCPS__MALFORMED_NAME)
#undef TCPS__MALFORMED_NAME
};
static const char *const tcps__malformed_messages[] = {
#define TCPS__MALFORMED_MSG(name, msg) msg,
    TCPS_MALFORMED_LIST(TCPS__MALFORMED_MSG)
#undef TCPS__MALFORMED_MSG
};

TCPS_API const char *tcps_malformed_name(int reason) {
    return reason >= 0 && reason < TCPS_MALFORMED_COUNT ? tcps__malformed_names[reason] : "UNKNOWN";
}
TCPS_API const char *tcps_malformed_message(int reason) {
    return reason >= 0 && reason < TCPS_MALFORMED_COUNT ? tcps__malformed_messages[reason]
                                                        : "unknown reason";
}

TCPS__PRIVATE void tcps__set_error(tcps_error *e, int code, uint64_t offset, const char *message) {
    e->code = code;
    e->offset = offset;
    e->message = message ? message : tcps_result_message(code);
}

TCPS_API char *tcps_addr_to_string(const uint8_t *a, int ip_version, char *buf, size_t size) {
    static const char hex[] = "0123456789abcdef";
    char tmp[48];
    size_t n = 0, i;
    if (!buf || size == 0) return buf;
    if (ip_version == 4) {
        for (i = 0; i < 4; i++) {
            unsigned v = a[i];
            if (i) tmp[n++] = '.';
            if (v >= 100) tmp[n++] = (char)('0' + v / 100);
            if (v >= 10) tmp[n++] = (char)('0' + v / 10 % 10);
            tmp[n++] = (char)('0' + v % 10);
        }
    } else {
        /* RFC 5952: lower case, no leading zeros, the longest run of two or
           more zero groups (the first if tied) becomes "::". */
        unsigned g[8];
        int best = -1, bestlen = 0, run = -1, runlen = 0, k;
        for (k = 0; k < 8; k++) g[k] = (unsigned)(a[2 * k] << 8 | a[2 * k + 1]);
        for (k = 0; k < 8; k++) {
            if (g[k] == 0) {
                if (run < 0) run = k, runlen = 0;
                runlen++;
                if (runlen > bestlen) best = run, bestlen = runlen;
            } else {
                run = -1;
            }
        }
        if (bestlen < 2) best = -1;
        /* IPv4-mapped ::ffff:a.b.c.d */
        if (best == 0 && bestlen == 5 && g[5] == 0xffff) {
            memcpy(tmp, "::ffff:", 7);
            n = 7;
            tcps_addr_to_string(a + 12, 4, tmp + n, sizeof tmp - n);
            n += strlen(tmp + n);
        } else {
            for (k = 0; k < 8; k++) {
                int started = 0, sh;
                if (k == best) { /* "::" stands for the run and both its separators */
                    tmp[n++] = ':';
                    tmp[n++] = ':';
                    k += bestlen - 1;
                    continue;
                }
                if (k && k != best + bestlen) tmp[n++] = ':';
                for (sh = 12; sh >= 0; sh -= 4) {
                    unsigned d = (g[k] >> sh) & 15;
                    if (d || started || sh == 0) tmp[n++] = hex[d], started = 1;
                }
            }
        }
    }
    tmp[n] = 0;
    if (n >= size) n = size - 1;
    memcpy(buf, tmp, n);
    buf[n] = 0;
    return buf;
}

/* ------------------------------------------------------ section: reader --
   Owns: tcps_reader (pcap and pcapng parsing, input sources). Produces
   tcps_packet views. Touches only the common section.

   The reader looks at its input through a window: win[0..len) holds the
   input bytes from offset base, and pos is the next unread byte. For memory
   and memory-mapped sources the window is the whole input and never moves,
   so packets point straight into it. For FILE*, descriptor and callback
   sources the window is a buffer that starts small and doubles only when it
   is full of bytes that really arrived: a record claiming more than
   cfg.max_record is TCPS_E_TOO_LARGE before anything is allocated for it,
   one claiming less but longer than the input is TCPS_E_TRUNCATED after
   at most twice the bytes that did arrive were allocated, and the buffer
   never grows past about max_record. Nothing seeks. */

#ifndef TCPS_NO_STDIO
#if defined(__unix__) || defined(__unix) || defined(__APPLE__)
#define TCPS__POSIX_IO 1
#include <sys/types.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#ifndef TCPS_NO_MMAP
#define TCPS__MMAP 1
#include <sys/mman.h>
#endif
#endif
#endif

#define TCPS__DEFAULT_MAX_RECORD (64u * 1024u * 1024u)
#define TCPS__DEFAULT_MAX_INTERFACES 65536u
#define TCPS__READ_CHUNK ((size_t)128 * 1024)

#define TCPS__RD_START 0
#define TCPS__RD_RUN 1
#define TCPS__RD_DONE 2
#define TCPS__RD_ERROR 3

#define TCPS__SRC_MEM 0  /* memory buffer or mapped file: zero copy */
#define TCPS__SRC_READ 1 /* read function into the buffer */

#define TCPS__NG_SHB 0x0A0D0D0Au
#define TCPS__NG_IDB 1u
#define TCPS__NG_PB 2u
#define TCPS__NG_SPB 3u
#define TCPS__NG_EPB 6u
#define TCPS__NG_BOM 0x1A2B3C4Du

/* timestamp units of a pcapng interface */
#define TCPS__TS_DEC 0   /* 10^-e, e <= 9: div = 10^e, mul = 10^(9-e) */
#define TCPS__TS_DECF 1  /* 10^-e, e > 9: div = 10^e (0 if > 10^19), ndiv = 10^(e-9) (0 if too big) */
#define TCPS__TS_BIN 2   /* 2^-e */

typedef struct tcps__iface {
    uint32_t linktype;
    uint32_t snaplen;
    int32_t fcs_len;
    uint32_t ts_kind;
    uint32_t ts_exp;
    uint64_t ts_div;
    uint64_t ts_mul; /* TS_DEC: multiplier to nanoseconds; TS_DECF: divisor to nanoseconds */
    int64_t ts_offset;
} tcps__iface;

struct tcps_reader {
    tcps_allocator alloc;
    tcps_reader_config cfg;
    tcps_error err;
    int format;
    int state;
    int big_endian; /* integers of the current file/section */
    /* window on the input */
    const uint8_t *win;
    size_t len, pos;
    uint64_t base;
    /* streaming source */
    int src;
    int eof;
    uint8_t *buf;
    size_t cap;
    tcps_read_fn read;
    void *read_user;
#ifndef TCPS_NO_STDIO
    FILE *fp;
    int close_fp;
#ifdef TCPS__POSIX_IO
    int fd, close_fd;
#endif
#ifdef TCPS__MMAP
    void *map;
    size_t map_size;
#endif
#endif
    uint64_t frame;
    /* pcap */
    int pcap_nsec;
    int pcap_swapped_lengths; /* 0 no, 1 yes, 2 when caplen > origlen (v2.3) */
    uint32_t pcap_linktype, pcap_snaplen;
    int32_t pcap_fcs_len;
    /* pcapng */
    uint32_t sections; /* section headers seen */
    tcps__iface *ifs;
    size_t n_ifs, cap_ifs;
};

static const uint64_t tcps__pow10[20] = {1ull,
                                         10ull,
                                         100ull,
                                         1000ull,
                                         10000ull,
                                         100000ull,
                                         1000000ull,
                                         10000000ull,
                                         100000000ull,
                                         1000000000ull,
                                         10000000000ull,
                                         100000000000ull,
                                         1000000000000ull,
                                         10000000000000ull,
                                         100000000000000ull,
                                         1000000000000000ull,
                                         10000000000000000ull,
                                         100000000000000000ull,
                                         1000000000000000000ull,
                                         10000000000000000000ull};

TCPS__PRIVATE uint16_t tcps__rd16(const tcps_reader *r, const uint8_t *p) {
    return r->big_endian ? tcps__be16(p) : tcps__le16(p);
}
TCPS__PRIVATE uint32_t tcps__rd32(const tcps_reader *r, const uint8_t *p) {
    return r->big_endian ? tcps__be32(p) : tcps__le32(p);
}
TCPS__PRIVATE uint64_t tcps__rd64(const tcps_reader *r, const uint8_t *p) {
    return r->big_endian ? tcps__be64(p) : tcps__le64(p);
}

TCPS__PRIVATE int tcps__rd_fail(tcps_reader *r, int code, uint64_t offset, const char *msg) {
    tcps__set_error(&r->err, code, offset, msg);
    r->state = TCPS__RD_ERROR;
    return code;
}

/* Make at least n bytes available at r->pos. TCPS_OK; TCPS_DONE when the
   input ends first (r->len - r->pos tells how many there are); or
   TCPS_E_NOMEM / TCPS_E_IO. */
TCPS__PRIVATE int tcps__fill(tcps_reader *r, size_t n) {
    if (r->len - r->pos >= n) return TCPS_OK;
    if (r->src == TCPS__SRC_MEM || r->eof) return TCPS_DONE;
    if (r->pos) { /* keep only the unread tail */
        size_t keep = r->len - r->pos;
        if (keep) memmove(r->buf, r->buf + r->pos, keep);
        r->base += r->pos;
        r->len = keep;
        r->pos = 0;
    }
    while (r->len < n) {
        ptrdiff_t got;
        if (r->len == r->cap) { /* full of real data: grow */
            size_t ncap;
            void *p;
            if (r->cap == 0) ncap = TCPS__READ_CHUNK;
            else if (r->cap > SIZE_MAX / 2) ncap = SIZE_MAX;
            else ncap = r->cap * 2;
            /* doubling keeps the number of reallocations logarithmic even
               when every record is a little longer than the last; near
               the max_record cap, take just what is needed */
            if (ncap > n && ncap - 64 > r->cfg.max_record) ncap = n;
            p = tcps__realloc(&r->alloc, r->buf, r->cap, ncap);
            if (!p) return TCPS_E_NOMEM;
            r->buf = (uint8_t *)p;
            r->cap = ncap;
        }
        r->win = r->buf;
        got = r->read(r->read_user, r->buf + r->len, r->cap - r->len);
        if (got < 0 || (size_t)got > r->cap - r->len) return TCPS_E_IO;
        if (got == 0) {
            r->eof = 1;
            return TCPS_DONE;
        }
        r->len += (size_t)got;
    }
    return TCPS_OK;
}

/* Skip n bytes from r->pos without holding them. TCPS_OK, TCPS_DONE if the
   input ends first, or an error. */
TCPS__PRIVATE int tcps__skip(tcps_reader *r, uint64_t n) {
    for (;;) {
        size_t have = r->len - r->pos;
        int rc;
        if ((uint64_t)have >= n) {
            r->pos += (size_t)n;
            return TCPS_OK;
        }
        r->pos = r->len;
        n -= have;
        rc = tcps__fill(r, 1);
        if (rc != TCPS_OK) return rc;
    }
}

/* fill() did not give what a record needs: end of input, truncation or an
   I/O error. at_start: no byte of this record has been read yet. */
TCPS__PRIVATE int tcps__rd_short(tcps_reader *r, int rc, uint64_t off, int at_start, const char *msg) {
    if (rc == TCPS_E_NOMEM) return tcps__rd_fail(r, rc, off, "out of memory growing the read buffer");
    if (rc < 0) return tcps__rd_fail(r, TCPS_E_IO, off, "read error (the read function failed)");
    if (at_start && r->len == r->pos) {
        r->state = TCPS__RD_DONE;
        return TCPS_DONE;
    }
    return tcps__rd_fail(r, TCPS_E_TRUNCATED, off, msg);
}

/* ---- timestamps */

TCPS__PRIVATE void tcps__ts_setup(tcps__iface *f, uint8_t resol) {
    uint32_t e = resol & 0x7fu;
    f->ts_exp = e;
    f->ts_div = 0;
    f->ts_mul = 0;
    if (resol & 0x80u) {
        f->ts_kind = TCPS__TS_BIN;
    } else if (e <= 9) {
        f->ts_kind = TCPS__TS_DEC;
        f->ts_div = tcps__pow10[e];
        f->ts_mul = tcps__pow10[9 - e];
    } else {
        f->ts_kind = TCPS__TS_DECF;
        f->ts_div = e <= 19 ? tcps__pow10[e] : 0;
        f->ts_mul = e - 9 <= 19 ? tcps__pow10[e - 9] : 0;
    }
}

/* floor(x * 10^9 / 2^e) for 1 <= e <= 127, in 128-bit arithmetic made of
   64-bit halves. x < 2^e, so the result is below 10^9. */
TCPS__PRIVATE uint64_t tcps__mul1e9_shr(uint64_t x, uint32_t e) {
    uint64_t lo = (x & 0xffffffffu) * 1000000000u; /* < 2^62 */
    uint64_t hi = (x >> 32) * 1000000000u;         /* < 2^62 */
    uint64_t L = lo + (hi << 32);
    uint64_t H = (hi >> 32) + (L < lo ? 1u : 0u);
    if (e >= 64) return H >> (e - 64);
    return (L >> e) | (H << (64 - e));
}

TCPS__PRIVATE int64_t tcps__add_sat(int64_t a, int64_t b) {
    if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b) return INT64_MIN;
    return a + b;
}

TCPS__PRIVATE tcps_time tcps__ts_convert(const tcps__iface *f, uint64_t t) {
    uint64_t s, ns;
    tcps_time out;
    switch (f->ts_kind) {
    case TCPS__TS_DEC:
        s = t / f->ts_div;
        ns = (t - s * f->ts_div) * f->ts_mul;
        break;
    case TCPS__TS_DECF:
        if (f->ts_div) {
            s = t / f->ts_div;
            ns = (t - s * f->ts_div) / f->ts_mul;
        } else {
            s = 0;
            ns = f->ts_mul ? t / f->ts_mul : 0;
        }
        break;
    default:
        if (f->ts_exp == 0) {
            s = t;
            ns = 0;
        } else if (f->ts_exp < 64) {
            s = t >> f->ts_exp;
            ns = tcps__mul1e9_shr(t & ((((uint64_t)1) << f->ts_exp) - 1), f->ts_exp);
        } else {
            s = 0;
            ns = tcps__mul1e9_shr(t, f->ts_exp);
        }
        break;
    }
    out.sec = tcps__add_sat(s > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)s, f->ts_offset);
    out.nsec = (uint32_t)ns;
    return out;
}

/* ---- pcapng options: code, length, value padded to 4 bytes */

typedef struct tcps__opts {
    const uint8_t *p;
    size_t left;
} tcps__opts;

/* 1: one option in code, val, vlen; 0: the end; -1: malformed (runs past
   the block). */
TCPS__PRIVATE int tcps__opt_next(const tcps_reader *r, tcps__opts *o, uint32_t *code,
                                 const uint8_t **val, size_t *vlen) {
    size_t l, padded;
    if (o->left == 0) return 0;
    if (o->left < 4) return -1;
    *code = tcps__rd16(r, o->p);
    l = tcps__rd16(r, o->p + 2);
    if (*code == 0) return 0; /* opt_endofopt */
    padded = (l + 3) & ~(size_t)3;
    if (padded > o->left - 4) return -1;
    *val = o->p + 4;
    *vlen = l;
    o->p += 4 + padded;
    o->left -= 4 + padded;
    return 1;
}

/* Walk options only to check their bounds. */
TCPS__PRIVATE int tcps__opts_valid(const tcps_reader *r, const uint8_t *p, size_t size) {
    tcps__opts o;
    uint32_t code;
    const uint8_t *val;
    size_t vlen;
    int rc;
    o.p = p;
    o.left = size;
    while ((rc = tcps__opt_next(r, &o, &code, &val, &vlen)) > 0) {
    }
    return rc == 0;
}

/* ---- file header */

TCPS__PRIVATE int tcps__ng_shb(tcps_reader *r);

TCPS__PRIVATE int tcps__read_header(tcps_reader *r) {
    const uint8_t *p;
    uint32_t magic, lt;
    uint16_t major, minor;
    int rc = tcps__fill(r, 4);
    if (rc < 0) return tcps__rd_short(r, rc, 0, 0, NULL);
    if (rc == TCPS_DONE)
        return tcps__rd_fail(r, TCPS_E_FORMAT, 0,
                             r->len == r->pos ? "empty input (not a capture)"
                                              : "input too short to be a capture");
    p = r->win + r->pos;
    magic = tcps__le32(p);
    r->state = TCPS__RD_RUN;
    if (magic == TCPS__NG_SHB) {
        r->format = TCPS_FORMAT_PCAPNG;
        return tcps__ng_shb(r);
    }
    if (magic == 0x6f6f6e73u) { /* "snoo": Sun snoop, RFC 1761 */
        static const uint8_t id[8] = {'s', 'n', 'o', 'o', 'p', 0, 0, 0};
        uint32_t dl;
        rc = tcps__fill(r, 16);
        if (rc < 0) return tcps__rd_short(r, rc, 0, 0, NULL);
        if (rc == TCPS_DONE) return tcps__rd_fail(r, TCPS_E_BAD_HEADER, 0, "snoop file header cut short");
        p = r->win + r->pos;
        if (memcmp(p, id, 8) != 0) return tcps__rd_fail(r, TCPS_E_FORMAT, 0, "unknown magic number: not a capture");
        r->big_endian = 1;
        if (tcps__rd32(r, p + 8) != 2) return tcps__rd_fail(r, TCPS_E_VERSION, 0, "unsupported snoop version (not 2)");
        dl = tcps__rd32(r, p + 12);
        /* 0 (IEEE 802.3) and 4 (Ethernet) frames are Ethernet; the other
           RFC 1761 types have no decoder here */
        r->pcap_linktype = (dl == 0 || dl == 4) ? TCPS_LINKTYPE_ETHERNET : 0x10000u + dl;
        r->pcap_fcs_len = -1;
        r->pcap_snaplen = 0;
        r->format = TCPS_FORMAT_SNOOP;
        r->pos += 16;
        return TCPS_OK;
    }
    if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du) r->big_endian = 0;
    else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u) r->big_endian = 1;
    else return tcps__rd_fail(r, TCPS_E_FORMAT, 0, "unknown magic number: not a pcap or pcapng file");
    r->pcap_nsec = magic == 0xa1b23c4du || magic == 0x4d3cb2a1u;
    rc = tcps__fill(r, 24);
    if (rc < 0) return tcps__rd_short(r, rc, 0, 0, NULL);
    if (rc == TCPS_DONE) return tcps__rd_fail(r, TCPS_E_BAD_HEADER, 0, "pcap file header cut short");
    p = r->win + r->pos;
    major = tcps__rd16(r, p + 4);
    minor = tcps__rd16(r, p + 6);
    /* As libpcap: 2.0 to 2.4, and 543.0 (DG/UX). Before 2.3 caplen and
       len were written the other way round; 2.3 files have either order. */
    if (major == 2 && minor <= 4) r->pcap_swapped_lengths = minor < 3 ? 1 : minor == 3 ? 2 : 0;
    else if (major == 543 && minor == 0) r->pcap_swapped_lengths = 1;
    else return tcps__rd_fail(r, TCPS_E_VERSION, 0, "unsupported pcap version (not 2.0 to 2.4)");
    r->pcap_snaplen = tcps__rd32(r, p + 16);
    lt = tcps__rd32(r, p + 20);
    /* low 16 bits: link type; bit 26 (P): bits 28-31 hold the FCS length
       in 16-bit words; the other bits are reserved and ignored. */
    r->pcap_linktype = lt & 0xffffu;
    r->pcap_fcs_len = (lt & 0x04000000u) ? (int32_t)(((lt >> 28) & 0xfu) * 2u) : -1;
    r->format = TCPS_FORMAT_PCAP;
    r->pos += 24;
    return TCPS_OK;
}

/* ---- pcap records */

TCPS__PRIVATE int tcps__pcap_next(tcps_reader *r, tcps_packet *pkt) {
    const uint8_t *p;
    uint32_t sec, frac, caplen, origlen;
    uint64_t off = r->base + r->pos;
    int rc;
    if (r->len - r->pos < 16) {
        rc = tcps__fill(r, 16);
        if (rc != TCPS_OK) return tcps__rd_short(r, rc, off, 1, "pcap record header cut short");
    }
    p = r->win + r->pos;
    sec = tcps__rd32(r, p);
    frac = tcps__rd32(r, p + 4);
    caplen = tcps__rd32(r, p + 8);
    origlen = tcps__rd32(r, p + 12);
    if (r->pcap_swapped_lengths && (r->pcap_swapped_lengths == 1 || caplen > origlen)) {
        uint32_t t = caplen;
        caplen = origlen;
        origlen = t;
    }
    if (caplen > r->cfg.max_record)
        return tcps__rd_fail(r, TCPS_E_TOO_LARGE, off,
                             "pcap record: captured length above the max_record limit");
    if (r->len - r->pos - 16 < caplen) {
        rc = tcps__fill(r, 16 + (size_t)caplen);
        if (rc != TCPS_OK) return tcps__rd_short(r, rc, off, 0, "pcap record data cut short");
        p = r->win + r->pos;
    }
    pkt->ts.sec = sec;
    if (r->pcap_nsec) {
        pkt->ts.sec += frac / 1000000000u;
        pkt->ts.nsec = frac % 1000000000u;
    } else if (frac < 1000000u) {
        pkt->ts.nsec = frac * 1000u;
    } else { /* out-of-range microseconds: carry into seconds */
        pkt->ts.sec += frac / 1000000u;
        pkt->ts.nsec = frac % 1000000u * 1000u;
    }
    pkt->frame = ++r->frame;
    pkt->offset = off;
    pkt->linktype = r->pcap_linktype;
    pkt->interface = 0;
    pkt->section = 0;
    pkt->origlen = origlen;
    pkt->snaplen = r->pcap_snaplen;
    pkt->fcs_len = r->pcap_fcs_len;
    pkt->data.ptr = p + 16;
    pkt->data.len = caplen;
    r->pos += 16 + (size_t)caplen;
    return TCPS_OK;
}

/* ---- snoop records: original length, included length, record length
   (header, data and padding), cumulative drops, seconds, microseconds */

TCPS__PRIVATE int tcps__snoop_next(tcps_reader *r, tcps_packet *pkt) {
    const uint8_t *p;
    uint32_t origlen, caplen, reclen, usec;
    uint64_t off = r->base + r->pos;
    int rc;
    if (r->len - r->pos < 24) {
        rc = tcps__fill(r, 24);
        if (rc != TCPS_OK) return tcps__rd_short(r, rc, off, 1, "snoop record header cut short");
    }
    p = r->win + r->pos;
    origlen = tcps__rd32(r, p);
    caplen = tcps__rd32(r, p + 4);
    reclen = tcps__rd32(r, p + 8);
    usec = tcps__rd32(r, p + 20);
    if (caplen > r->cfg.max_record)
        return tcps__rd_fail(r, TCPS_E_TOO_LARGE, off, "snoop record: included length above the max_record limit");
    if (reclen < 24 || reclen - 24 < caplen)
        return tcps__rd_fail(r, TCPS_E_BAD_RECORD, off, "snoop record: record length below header and data");
    if (reclen - 24 - caplen > 1024)
        return tcps__rd_fail(r, TCPS_E_BAD_RECORD, off, "snoop record: more than 1024 bytes of padding");
    if (r->len - r->pos < reclen) {
        rc = tcps__fill(r, reclen);
        if (rc != TCPS_OK) return tcps__rd_short(r, rc, off, 0, "snoop record data cut short");
        p = r->win + r->pos;
    }
    pkt->ts.sec = (int64_t)tcps__rd32(r, p + 16) + usec / 1000000u;
    pkt->ts.nsec = usec % 1000000u * 1000u;
    pkt->frame = ++r->frame;
    pkt->offset = off;
    pkt->linktype = r->pcap_linktype;
    pkt->interface = 0;
    pkt->section = 0;
    pkt->origlen = origlen;
    pkt->snaplen = 0;
    pkt->fcs_len = -1;
    pkt->data.ptr = p + 24;
    pkt->data.len = caplen;
    r->pos += reclen;
    return TCPS_OK;
}

/* ---- pcapng blocks */

/* Section header block at r->pos (its type already seen). */
TCPS__PRIVATE int tcps__ng_shb(tcps_reader *r) {
    const uint8_t *p;
    uint64_t off = r->base + r->pos;
    uint32_t blen, bom, trail;
    uint64_t alen;
    uint16_t major;
    int first = r->sections == 0;
    int cut = first ? TCPS_E_BAD_HEADER : TCPS_E_TRUNCATED;
    int rc = tcps__fill(r, 12);
    if (rc < 0) return tcps__rd_short(r, rc, off, 0, NULL);
    if (rc == TCPS_DONE) return tcps__rd_fail(r, cut, off, "pcapng section header block cut short");
    p = r->win + r->pos;
    bom = tcps__le32(p + 8);
    if (bom == TCPS__NG_BOM) r->big_endian = 0;
    else if (tcps__be32(p + 8) == TCPS__NG_BOM) r->big_endian = 1;
    else return tcps__rd_fail(r, TCPS_E_BAD_HEADER, off, "pcapng section header: bad byte-order magic");
    blen = tcps__rd32(r, p + 4);
    if (blen < 28) return tcps__rd_fail(r, TCPS_E_BAD_HEADER, off, "pcapng section header block shorter than 28 bytes");
    alen = ((uint64_t)blen + 3) & ~(uint64_t)3; /* see tcps__ng_block */
    if (alen > r->cfg.max_record)
        return tcps__rd_fail(r, TCPS_E_TOO_LARGE, off, "pcapng section header block above the max_record limit");
    rc = tcps__fill(r, (size_t)alen);
    if (rc < 0) return tcps__rd_short(r, rc, off, 0, NULL);
    if (rc == TCPS_DONE) return tcps__rd_fail(r, cut, off, "pcapng section header block cut short");
    p = r->win + r->pos;
    trail = tcps__rd32(r, p + (size_t)alen - 4);
    if (trail != blen && trail != alen)
        return tcps__rd_fail(r, TCPS_E_BAD_HEADER, off,
                             "pcapng section header: trailing block length differs from the leading one");
    major = tcps__rd16(r, p + 12);
    if (major != 1) return tcps__rd_fail(r, TCPS_E_VERSION, off, "unsupported pcapng major version (not 1)");
    if (!tcps__opts_valid(r, p + 24, (size_t)alen - 28))
        return tcps__rd_fail(r, TCPS_E_BAD_HEADER, off, "pcapng section header: an option runs past the block");
    if (r->sections < UINT32_MAX) r->sections++;
    r->n_ifs = 0; /* interface ids restart in each section */
    r->pos += (size_t)alen;
    return TCPS_OK;
}

TCPS__PRIVATE int tcps__ng_idb(tcps_reader *r, const uint8_t *body, size_t blen_body, uint64_t off) {
    tcps__iface f;
    tcps__opts o;
    uint32_t code;
    const uint8_t *val;
    size_t vlen;
    uint8_t resol = 6;
    int rc;
    if (blen_body < 8)
        return tcps__rd_fail(r, TCPS_E_BAD_BLOCK, off, "pcapng interface description block too short");
    if (r->n_ifs >= r->cfg.max_interfaces)
        return tcps__rd_fail(r, TCPS_E_LIMIT, off, "pcapng section has more interfaces than max_interfaces");
    memset(&f, 0, sizeof f);
    f.linktype = tcps__rd16(r, body);
    f.snaplen = tcps__rd32(r, body + 4);
    f.fcs_len = -1;
    o.p = body + 8;
    o.left = blen_body - 8;
    while ((rc = tcps__opt_next(r, &o, &code, &val, &vlen)) > 0) {
        if (code == 9 && vlen == 1) resol = val[0];                /* if_tsresol */
        else if (code == 13 && vlen == 1) f.fcs_len = val[0] / 8;  /* if_fcslen, in bits */
        else if (code == 14 && vlen == 8) f.ts_offset = (int64_t)tcps__rd64(r, val); /* if_tsoffset */
    }
    if (rc < 0)
        return tcps__rd_fail(r, TCPS_E_BAD_BLOCK, off, "pcapng interface description: an option runs past the block");
    tcps__ts_setup(&f, resol);
    if (r->n_ifs == r->cap_ifs) {
        void *arr = r->ifs;
        if (tcps__grow(&r->alloc, &arr, &r->cap_ifs, r->n_ifs + 1, sizeof f) != TCPS_OK)
            return tcps__rd_fail(r, TCPS_E_NOMEM, off, "out of memory for pcapng interfaces");
        r->ifs = (tcps__iface *)arr;
    }
    r->ifs[r->n_ifs++] = f;
    return TCPS_OK;
}

/* The next block: TCPS_OK with its type, body and padded size (the block is
   in the window at r->pos), or with size 0 when the block was handled or
   passed here (a section header, a block above max_record that we do not
   read); TCPS_DONE at the end, or an error. */
TCPS__PRIVATE int tcps__ng_block(tcps_reader *r, uint32_t *type, const uint8_t **body,
                                 size_t *size) {
    const uint8_t *p;
    uint64_t off = r->base + r->pos, alen;
    uint32_t blen, trail;
    int rc;
    if (r->len - r->pos < 8) {
        rc = tcps__fill(r, 8);
        if (rc != TCPS_OK) return tcps__rd_short(r, rc, off, 1, "pcapng block header cut short");
    }
    p = r->win + r->pos;
    *type = tcps__rd32(r, p);
    *size = 0;
    if (*type == TCPS__NG_SHB) return tcps__ng_shb(r);
    blen = tcps__rd32(r, p + 4);
    if (blen < 12) return tcps__rd_fail(r, TCPS_E_BAD_BLOCK, off, "pcapng block length below 12 bytes");
    /* The spec wants a multiple of 4. Some writers put the unpadded length
       there; like Wireshark, round it up, and accept either value in the
       trailer. */
    alen = ((uint64_t)blen + 3) & ~(uint64_t)3;
    if (alen > r->cfg.max_record) {
        if (*type == TCPS__NG_EPB || *type == TCPS__NG_SPB || *type == TCPS__NG_PB || *type == TCPS__NG_IDB)
            return tcps__rd_fail(r, TCPS_E_TOO_LARGE, off, "pcapng block above the max_record limit");
        /* a block we do not read: stream past it, then check its trailer */
        rc = tcps__skip(r, alen - 4);
        if (rc == TCPS_OK) rc = tcps__fill(r, 4);
        if (rc != TCPS_OK) return tcps__rd_short(r, rc, off, 0, "pcapng block cut short");
        trail = tcps__rd32(r, r->win + r->pos);
        r->pos += 4;
    } else {
        if (r->len - r->pos < (size_t)alen) {
            rc = tcps__fill(r, (size_t)alen);
            if (rc != TCPS_OK) return tcps__rd_short(r, rc, off, 0, "pcapng block cut short");
            p = r->win + r->pos;
        }
        trail = tcps__rd32(r, p + alen - 4);
        *body = p + 8;
        *size = (size_t)alen;
    }
    if (trail != blen && trail != alen)
        return tcps__rd_fail(r, TCPS_E_BAD_BLOCK, off,
                             "pcapng block: trailing block length differs from the leading one");
    return TCPS_OK;
}

/* An enhanced (or obsolete) packet block's packet. */
TCPS__PRIVATE int tcps__ng_epb(tcps_reader *r, uint32_t type, const uint8_t *body, size_t bodylen,
                               uint64_t off, tcps_packet *pkt) {
    const tcps__iface *f;
    uint64_t ts;
    size_t padded, vlen;
    uint32_t caplen, code;
    const uint8_t *val;
    tcps__opts o;
    int rc;
    if (bodylen < 20)
        return tcps__rd_fail(r, TCPS_E_BAD_BLOCK, off,
                             type == TCPS__NG_EPB ? "pcapng enhanced packet block too short"
                                                  : "pcapng packet block too short");
    pkt->interface = type == TCPS__NG_EPB ? tcps__rd32(r, body) : tcps__rd16(r, body);
    if (pkt->interface >= r->n_ifs)
        return tcps__rd_fail(r, TCPS_E_BAD_INTERFACE, off,
                             "pcapng packet names an interface not described in its section");
    f = &r->ifs[pkt->interface];
    ts = ((uint64_t)tcps__rd32(r, body + 4) << 32) | tcps__rd32(r, body + 8);
    caplen = tcps__rd32(r, body + 12);
    if (caplen > bodylen - 20)
        return tcps__rd_fail(r, TCPS_E_BAD_BLOCK, off,
                             "pcapng packet: captured length runs past the end of the block");
    padded = ((size_t)caplen + 3) & ~(size_t)3; /* <= bodylen - 20: both multiples of 4 */
    pkt->fcs_len = f->fcs_len;
    o.p = body + 20 + padded;
    o.left = bodylen - 20 - padded;
    while ((rc = tcps__opt_next(r, &o, &code, &val, &vlen)) > 0) {
        if (code == 2 && vlen == 4) { /* epb_flags: bits 5-8 FCS length in bytes */
            uint32_t bits = (tcps__rd32(r, val) >> 5) & 0xfu;
            if (bits) pkt->fcs_len = (int32_t)bits;
        }
    }
    if (rc < 0) return tcps__rd_fail(r, TCPS_E_BAD_BLOCK, off, "pcapng packet: an option runs past the block");
    pkt->ts = tcps__ts_convert(f, ts);
    pkt->linktype = f->linktype;
    pkt->snaplen = f->snaplen;
    pkt->origlen = tcps__rd32(r, body + 16);
    pkt->data.ptr = body + 20;
    pkt->data.len = caplen;
    return TCPS_OK;
}

/* A simple packet block's packet: interface 0, no timestamp. */
TCPS__PRIVATE int tcps__ng_spb(tcps_reader *r, const uint8_t *body, size_t bodylen, uint64_t off,
                               tcps_packet *pkt) {
    const tcps__iface *f;
    uint32_t caplen;
    if (bodylen < 4) return tcps__rd_fail(r, TCPS_E_BAD_BLOCK, off, "pcapng simple packet block too short");
    if (r->n_ifs == 0)
        return tcps__rd_fail(r, TCPS_E_BAD_INTERFACE, off,
                             "pcapng simple packet block before any interface description");
    f = &r->ifs[0];
    pkt->origlen = tcps__rd32(r, body);
    caplen = (uint32_t)TCPS__MIN((size_t)pkt->origlen, bodylen - 4);
    if (f->snaplen && caplen > f->snaplen) caplen = f->snaplen;
    pkt->interface = 0;
    pkt->ts.sec = 0;
    pkt->ts.nsec = 0;
    pkt->fcs_len = f->fcs_len;
    pkt->linktype = f->linktype;
    pkt->snaplen = f->snaplen;
    pkt->data.ptr = body + 4;
    pkt->data.len = caplen;
    return TCPS_OK;
}

TCPS__PRIVATE int tcps__ng_next(tcps_reader *r, tcps_packet *pkt) {
    for (;;) {
        uint64_t off = r->base + r->pos;
        const uint8_t *body = NULL;
        size_t size = 0;
        uint32_t type = 0;
        int rc = tcps__ng_block(r, &type, &body, &size);
        if (rc != TCPS_OK) return rc;
        if (!size) continue;
        if (type == TCPS__NG_EPB || type == TCPS__NG_PB) rc = tcps__ng_epb(r, type, body, size - 12, off, pkt);
        else if (type == TCPS__NG_SPB) rc = tcps__ng_spb(r, body, size - 12, off, pkt);
        else if (type == TCPS__NG_IDB) rc = tcps__ng_idb(r, body, size - 12, off);
        /* NRB, ISB, DSB, custom and unknown blocks: nothing we need */
        if (rc != TCPS_OK) return rc;
        r->pos += size;
        if (type != TCPS__NG_EPB && type != TCPS__NG_PB && type != TCPS__NG_SPB) continue;
        pkt->frame = ++r->frame;
        pkt->offset = off;
        pkt->section = r->sections - 1;
        return TCPS_OK;
    }
}

/* ---- public API */

TCPS_API int tcps_reader_next(tcps_reader *r, tcps_packet *pkt) {
    int rc;
    if (!r) return TCPS_E_ARG;
    if (r->state == TCPS__RD_ERROR) return r->err.code;
    if (r->state == TCPS__RD_DONE) return TCPS_DONE;
    if (!pkt) return TCPS_E_ARG;
    if (r->state == TCPS__RD_START) {
        rc = tcps__read_header(r);
        if (rc != TCPS_OK) return rc;
    }
    if (r->format == TCPS_FORMAT_PCAP) return tcps__pcap_next(r, pkt);
    if (r->format == TCPS_FORMAT_SNOOP) return tcps__snoop_next(r, pkt);
    return tcps__ng_next(r, pkt);
}

TCPS__PRIVATE int tcps__reader_new(tcps_reader **out, const tcps_reader_config *cfg) {
    tcps_allocator a;
    tcps_reader *r;
    if (tcps__alloc_init(&a, cfg ? &cfg->allocator : NULL) != TCPS_OK) return TCPS_E_ARG;
    r = (tcps_reader *)tcps__calloc(&a, 1, sizeof *r);
    if (!r) return TCPS_E_NOMEM;
    r->alloc = a;
    if (cfg) r->cfg = *cfg;
    r->cfg.allocator = a;
    if (!r->cfg.max_record) r->cfg.max_record = TCPS__DEFAULT_MAX_RECORD;
    if (!r->cfg.max_interfaces) r->cfg.max_interfaces = TCPS__DEFAULT_MAX_INTERFACES;
    tcps__set_error(&r->err, TCPS_OK, 0, NULL);
    r->state = TCPS__RD_START;
#if !defined(TCPS_NO_STDIO) && defined(TCPS__POSIX_IO)
    r->fd = -1;
#endif
    *out = r;
    return TCPS_OK;
}

TCPS_API int tcps_reader_open_memory(tcps_reader **out, const void *data, size_t size,
                                     const tcps_reader_config *cfg) {
    tcps_reader *r;
    int rc;
    if (!out) return TCPS_E_ARG;
    *out = NULL;
    if (!data && size) return TCPS_E_ARG;
    rc = tcps__reader_new(&r, cfg);
    if (rc != TCPS_OK) return rc;
    r->src = TCPS__SRC_MEM;
    r->win = (const uint8_t *)data;
    r->len = size;
    *out = r;
    return TCPS_OK;
}

TCPS_API int tcps_reader_open_callback(tcps_reader **out, tcps_read_fn read, void *read_user,
                                       const tcps_reader_config *cfg) {
    tcps_reader *r;
    int rc;
    if (!out) return TCPS_E_ARG;
    *out = NULL;
    if (!read) return TCPS_E_ARG;
    rc = tcps__reader_new(&r, cfg);
    if (rc != TCPS_OK) return rc;
    r->src = TCPS__SRC_READ;
    r->read = read;
    r->read_user = read_user;
    *out = r;
    return TCPS_OK;
}

#ifndef TCPS_NO_STDIO
TCPS__PRIVATE ptrdiff_t tcps__read_file(void *user, void *buf, size_t len) {
    FILE *fp = (FILE *)user;
    size_t n = fread(buf, 1, len, fp);
    if (n == 0 && ferror(fp)) return -1;
    return (ptrdiff_t)n;
}

TCPS_API int tcps_reader_open_file(tcps_reader **out, FILE *fp, const tcps_reader_config *cfg) {
    int rc;
    if (!out) return TCPS_E_ARG;
    *out = NULL;
    if (!fp) return TCPS_E_ARG;
    rc = tcps_reader_open_callback(out, tcps__read_file, fp, cfg);
    if (rc == TCPS_OK) (*out)->fp = fp;
    return rc;
}

#ifdef TCPS__POSIX_IO
TCPS__PRIVATE ptrdiff_t tcps__read_fd(void *user, void *buf, size_t len) {
    tcps_reader *r = (tcps_reader *)user;
    ssize_t n;
    if (len > ((size_t)1 << 30)) len = (size_t)1 << 30;
    do {
        n = read(r->fd, buf, len);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : (ptrdiff_t)n;
}
#endif

TCPS_API int tcps_reader_open_path(tcps_reader **out, const char *path, const tcps_reader_config *cfg) {
    int rc;
#ifdef TCPS__POSIX_IO
    int fd;
    tcps_reader *r;
#ifdef TCPS__MMAP
    struct stat st;
#endif
#else
    FILE *fp;
#endif
    if (!out) return TCPS_E_ARG;
    *out = NULL;
    if (!path) return TCPS_E_ARG;
#ifdef TCPS__POSIX_IO
    if (strcmp(path, "-") == 0) {
        fd = 0; /* stdin: read, never mapped, never closed */
    } else {
        do {
            fd = open(path, O_RDONLY);
        } while (fd < 0 && errno == EINTR);
        if (fd < 0) return TCPS_E_IO;
    }
    rc = tcps__reader_new(&r, cfg);
    if (rc != TCPS_OK) {
        if (fd != 0) close(fd);
        return rc;
    }
#ifdef TCPS__MMAP
    if ((r->cfg.flags & TCPS_READER_MMAP) && fd != 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size > 0 && (uint64_t)st.st_size <= (uint64_t)SIZE_MAX) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            close(fd);
            r->map = m;
            r->map_size = (size_t)st.st_size;
            r->src = TCPS__SRC_MEM;
            r->win = (const uint8_t *)m;
            r->len = r->map_size;
            *out = r;
            return TCPS_OK;
        }
    }
#endif
    r->src = TCPS__SRC_READ;
    r->read = tcps__read_fd;
    r->read_user = r;
    r->fd = fd;
    r->close_fd = fd != 0;
    *out = r;
    return TCPS_OK;
#else
    if (strcmp(path, "-") == 0) return tcps_reader_open_file(out, stdin, cfg);
    fp = fopen(path, "rb");
    if (!fp) return TCPS_E_IO;
    rc = tcps_reader_open_file(out, fp, cfg);
    if (rc != TCPS_OK) {
        fclose(fp);
        return rc;
    }
    (*out)->close_fp = 1;
    return TCPS_OK;
#endif
}
#endif /* TCPS_NO_STDIO */

TCPS_API void tcps_reader_close(tcps_reader *r) {
    tcps_allocator a;
    if (!r) return;
    a = r->alloc;
#ifndef TCPS_NO_STDIO
    if (r->close_fp && r->fp) fclose(r->fp);
#ifdef TCPS__MMAP
    if (r->map) munmap(r->map, r->map_size);
#endif
#ifdef TCPS__POSIX_IO
    if (r->close_fd && r->fd >= 0) close(r->fd);
#endif
#endif
    tcps__free(&a, r->buf, r->cap);
    tcps__free(&a, r->ifs, r->cap_ifs * sizeof *r->ifs);
    tcps__free(&a, r, sizeof *r);
}

TCPS_API const tcps_error *tcps_reader_error(const tcps_reader *r) { return r ? &r->err : NULL; }

TCPS_API int tcps_reader_format(const tcps_reader *r) { return r ? r->format : 0; }

TCPS_API uint64_t tcps_reader_offset(const tcps_reader *r) { return r ? r->base + r->pos : 0; }

TCPS_API void tcps_reader_config_effective(const tcps_reader *r, tcps_reader_config *out) {
    if (r && out) *out = r->cfg;
}

/* ---------------------------------------------------- end section: reader */



/* ----------------------------------------------------- section: decoder --
   Owns: tcps_decoder (link layers, IPv4/IPv6, extension headers, tunnels,
   defragmentation, TCP header and options, checksums, decode statistics).
   Turns a tcps_packet into a tcps_segment. Touches only the common section. */

/* Decoding works on a view (ptr, n captured bytes) plus "extra": bytes that
   were on the wire after the captured end. Each layer bounds the view by its
   own length field, so padding and FCS never become payload, and a snaplen
   cut shows up as payload_len > payload.len. */

#define TCPS__MAX_TUNNEL 8  /* encapsulations removed before TUNNEL_TOO_DEEP */
#define TCPS__MAX_HELD 12   /* reassembled datagrams alive during one decode */
#define TCPS__FRAG_MAX_END 65535u
/* link types decoded beyond the public TCPS_LINKTYPE_ list */
#define TCPS__LT_IEEE802_11 105
#define TCPS__LT_RADIOTAP 127
#define TCPS__LT_NFLOG 239
#define TCPS__LT_IPOIB 242
#define TCPS__LT_ARCNET_LINUX 129
#define TCPS__LT_JUNIPER_ETHER 178

typedef struct tcps__frag {
    struct tcps__frag *hnext;        /* hash chain */
    struct tcps__frag *older, *newer; /* age list, oldest first */
    uint32_t hash, id;
    uint8_t version, proto, have_first, have_last;
    uint8_t next;                     /* protocol after the fragment header (offset 0) */
    uint8_t src[16], dst[16];
    tcps_time deadline;               /* first fragment time + timeout */
    uint32_t total;                   /* datagram payload length, once the last fragment is in */
    uint8_t *data;
    size_t cap;
    uint32_t (*rng)[2];               /* received ranges, sorted, merged */
    size_t nrng, rngcap;
    size_t mem;                       /* bytes accounted to frag_max_bytes */
} tcps__frag;

struct tcps_decoder {
    tcps_allocator alloc;
    tcps_decoder_config cfg;
    tcps_decode_stats stats;
    uint32_t lt_last;                 /* index in stats.linktypes of the last link type */
    tcps__frag **buckets;
    uint32_t nbuckets;                /* power of two, 0 until the first fragment */
    tcps__frag *oldest, *newest;
    uint32_t frag_count;
    size_t frag_bytes;
    struct { uint8_t *ptr; size_t cap; } held[TCPS__MAX_HELD];
    uint32_t nheld;
};

/* State of one tcps_decode call. */
typedef struct tcps__dx {
    tcps_decoder *d;
    tcps_segment *seg;
    tcps_time ts;
    int depth;      /* encapsulations removed */
    int ipver;      /* innermost IP version reached */
    int fragmented;
    /* pseudo-header addresses when they differ from the IP header's: the
       final destination of a source route, an IPv6 home address; the TCP
       checksum covers them and they name the connection's endpoints */
    const uint8_t *ph_src, *ph_dst;
    int drop;       /* TCPS__DROP_*: why the packet gave no segment; the last
                       layer to decide sets it, tcps_decode counts it once */
} tcps__dx;

#define TCPS__DROP_OTHER 0 /* no layer said: a fault of the decoder */
#define TCPS__DROP_NON_IP 1
#define TCPS__DROP_NON_TCP 2
#define TCPS__DROP_UNSUPPORTED_LINK 3
#define TCPS__DROP_MALFORMED 4
#define TCPS__DROP_FRAGMENT 5

#define TCPS__MAL(dx, why) \
    ((dx)->d->stats.malformed[TCPS_MALFORMED_##why]++, (dx)->drop = TCPS__DROP_MALFORMED, 0)
#define TCPS__DROP(dx, why) ((dx)->drop = TCPS__DROP_##why)

TCPS__PRIVATE int tcps__ip(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra, int want);
TCPS__PRIVATE int tcps__ether(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra);
TCPS__PRIVATE int tcps__ethertype(tcps__dx *dx, uint16_t type, const uint8_t *p, size_t n,
                                  size_t extra);

/* ---- checksums */

TCPS__PRIVATE uint32_t tcps__sum(uint32_t s, const uint8_t *p, size_t n) {
    uint64_t acc = s;
    while (n >= 4) {
        acc += tcps__be32(p);
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        acc += tcps__be16(p);
        p += 2;
        n -= 2;
    }
    if (n) acc += (uint32_t)p[0] << 8;
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return (uint32_t)acc;
}

/* TCP checksum over a pseudo header and the whole segment; 1 if right. */
TCPS__PRIVATE int tcps__tcp_csum_ok(const tcps__dx *dx, const uint8_t *tcp, size_t len) {
    const tcps_segment *seg = dx->seg;
    const uint8_t *src = dx->ph_src ? dx->ph_src : seg->src;
    const uint8_t *dst = dx->ph_dst ? dx->ph_dst : seg->dst;
    uint8_t ph[40];
    uint32_t s;
    if (seg->ip_version == 4) {
        memcpy(ph, src, 4);
        memcpy(ph + 4, dst, 4);
        ph[8] = 0;
        ph[9] = 6;
        ph[10] = (uint8_t)(len >> 8);
        ph[11] = (uint8_t)len;
        s = tcps__sum(0, ph, 12);
    } else {
        memcpy(ph, src, 16);
        memcpy(ph + 16, dst, 16);
        ph[32] = (uint8_t)(len >> 24);
        ph[33] = (uint8_t)(len >> 16);
        ph[34] = (uint8_t)(len >> 8);
        ph[35] = (uint8_t)len;
        ph[36] = ph[37] = ph[38] = 0;
        ph[39] = 6;
        s = tcps__sum(0, ph, 40);
    }
    s = tcps__sum(s, tcp, len);
    return s == 0xffff;
}

/* ---- TCP */

/* cut: the snapshot length ended the header, so an option running past the
   end is not a malformed list */
TCPS__PRIVATE void tcps__tcp_options(tcps_tcp_options *o, const uint8_t *p, size_t n, int cut) {
    while (n > 0) {
        uint8_t kind = p[0], len;
        if (kind == 0) break;
        if (kind == 1) {
            p++, n--;
            continue;
        }
        if (n < 2 || (len = p[1]) < 2 || len > n) {
            if (!cut || (n >= 2 && p[1] < 2)) o->present |= TCPS_OPT_MALFORMED;
            break;
        }
        switch (kind) {
        case 2:
            if (len == 4) o->present |= TCPS_OPT_MSS, o->mss = tcps__be16(p + 2);
            else o->present |= TCPS_OPT_MALFORMED;
            break;
        case 3:
            if (len == 3) o->present |= TCPS_OPT_WSCALE, o->wscale = p[2];
            else o->present |= TCPS_OPT_MALFORMED;
            break;
        case 4:
            if (len == 2) o->present |= TCPS_OPT_SACK_PERM;
            else o->present |= TCPS_OPT_MALFORMED;
            break;
        case 5:
            if (len >= 10 && (len - 2) % 8 == 0) {
                unsigned i, k = (unsigned)(len - 2) / 8;
                o->present |= TCPS_OPT_SACK;
                for (i = 0; i < k && o->sack_count < TCPS_MAX_SACK; i++) {
                    o->sack[o->sack_count][0] = tcps__be32(p + 2 + 8 * i);
                    o->sack[o->sack_count][1] = tcps__be32(p + 6 + 8 * i);
                    o->sack_count++;
                }
            } else {
                o->present |= TCPS_OPT_MALFORMED;
            }
            break;
        case 8:
            if (len == 10) {
                o->present |= TCPS_OPT_TIMESTAMP;
                o->ts_val = tcps__be32(p + 2);
                o->ts_ecr = tcps__be32(p + 6);
            } else {
                o->present |= TCPS_OPT_MALFORMED;
            }
            break;
        case 19: o->present |= len == 18 ? TCPS_OPT_MD5 : TCPS_OPT_MALFORMED; break;
        case 28: o->present |= len == 4 ? TCPS_OPT_USER_TIMEOUT : TCPS_OPT_MALFORMED; break;
        case 29: o->present |= len >= 4 ? TCPS_OPT_AUTH : TCPS_OPT_MALFORMED; break;
        case 30: o->present |= len >= 3 ? TCPS_OPT_MPTCP : TCPS_OPT_MALFORMED; break;
        case 34:
        case 254: {
            size_t skip = 2;
            if (kind == 254) {
                if (len < 4 || tcps__be16(p + 2) != 0xF989) {
                    o->present |= TCPS_OPT_UNKNOWN;
                    break;
                }
                skip = 4;
            }
            /* a cookie request is empty; a cookie is 4..16 bytes */
            if (len - skip != 0 && (len - skip < 4 || len - skip > 16)) {
                o->present |= TCPS_OPT_MALFORMED;
                break;
            }
            o->present |= TCPS_OPT_TFO;
            o->tfo_len = (uint8_t)(len - skip);
            memcpy(o->tfo_cookie, p + skip, len - skip);
            break;
        }
        default: o->present |= TCPS_OPT_UNKNOWN; break;
        }
        p += len;
        n -= len;
    }
}

/* p/n: the captured TCP segment; wire: its length on the wire. */
TCPS__PRIVATE int tcps__tcp(tcps__dx *dx, const uint8_t *p, size_t n, size_t wire) {
    tcps_segment *s = dx->seg;
    size_t hl;
    if (n < 20) return TCPS__MAL(dx, TCP_TRUNCATED);
    hl = (size_t)(p[12] >> 4) * 4;
    if (hl < 20 || hl > wire) return TCPS__MAL(dx, TCP_BAD_OFFSET);
    s->sport = tcps__be16(p);
    s->dport = tcps__be16(p + 2);
    s->seq = tcps__be32(p + 4);
    s->ack = tcps__be32(p + 8);
    s->flags = (uint16_t)(((p[12] & 1) << 8) | p[13]);
    s->window = tcps__be16(p + 14);
    s->urgent = tcps__be16(p + 18);
    s->hdr_len = (uint16_t)hl;
    if (hl <= n) {
        if (hl > 20) tcps__tcp_options(&s->opt, p + 20, hl - 20, 0);
        s->payload.ptr = p + hl;
        s->payload.len = n - hl;
    } else {
        /* the snapshot length cut the options: the segment still counts (as
           in tshark), with what was captured of them and no payload */
        tcps__tcp_options(&s->opt, p + 20, n - 20, 1);
        s->payload.ptr = p + n;
        s->payload.len = 0;
    }
    s->payload_len = (uint32_t)(wire - hl);
    s->tunnel_depth = (uint8_t)dx->depth;
    s->fragmented = (uint8_t)dx->fragmented;
    if (n < wire) dx->d->stats.truncated++;
    if (dx->d->cfg.flags & TCPS_DECODE_VERIFY_CHECKSUMS) {
        if (n == wire) {
            s->checksum = tcps__tcp_csum_ok(dx, p, n) ? TCPS_CSUM_GOOD : TCPS_CSUM_BAD;
            if (s->checksum == TCPS_CSUM_BAD) dx->d->stats.malformed[TCPS_MALFORMED_TCP_BAD_CHECKSUM]++;
        } else {
            s->checksum = TCPS_CSUM_UNCHECKED;
        }
    }
    /* The connection's endpoints are those of the pseudo header: the final
       destination of an unfinished source route, the home address of a
       mobile IPv6 node (tshark names the conversation after them too). */
    if (dx->ph_src) memcpy(s->src, dx->ph_src, dx->ipver == 6 ? 16 : 4);
    if (dx->ph_dst) memcpy(s->dst, dx->ph_dst, dx->ipver == 6 ? 16 : 4);
    return 1;
}

/* ---- tunnels over UDP and GRE */

/* The packet holds no TCP segment we decode: counted as not TCP. */
TCPS__PRIVATE int tcps__not_tcp(tcps__dx *dx) {
    TCPS__DROP(dx, NON_TCP);
    return 0;
}

/* 1: go into the tunnel; 0: not, and the packet's drop is set (not TCP
   under TCPS_DECODE_NO_TUNNELS, malformed when nested too deep). */
TCPS__PRIVATE int tcps__tunnel_enter(tcps__dx *dx) {
    if (dx->d->cfg.flags & TCPS_DECODE_NO_TUNNELS) {
        TCPS__DROP(dx, NON_TCP);
        return 0;
    }
    if (dx->depth >= TCPS__MAX_TUNNEL) return TCPS__MAL(dx, TUNNEL_TOO_DEEP);
    dx->depth++;
    return 1;
}

/* PPP protocol field (maybe compressed), optionally after FF 03. */
TCPS__PRIVATE int tcps__ppp(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    uint16_t proto;
    if (n >= 2 && p[0] == 0xff && p[1] == 0x03) p += 2, n -= 2;
    if (n < 1) return TCPS__MAL(dx, LINK_TRUNCATED);
    if (p[0] & 1) {
        proto = p[0];
        p++, n--;
    } else {
        if (n < 2) return TCPS__MAL(dx, LINK_TRUNCATED);
        proto = tcps__be16(p);
        p += 2, n -= 2;
    }
    if (proto == 0x0021) return tcps__ip(dx, p, n, extra, 4);
    if (proto == 0x0057) return tcps__ip(dx, p, n, extra, 6);
    TCPS__DROP(dx, NON_IP);
    return 0;
}

/* An 802.11 data frame: header, then LLC/SNAP. */
TCPS__PRIVATE int tcps__wlan(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    size_t hl = 24;
    unsigned sub;
    if (n < 24) return TCPS__MAL(dx, LINK_TRUNCATED);
    sub = p[0] >> 4;
    /* data frames only, with a body, not protected */
    if (((p[0] >> 2) & 3) != 2 || (sub & 4) || (p[1] & 0x40)) {
        TCPS__DROP(dx, NON_IP);
        return 0;
    }
    if ((p[1] & 3) == 3) hl += 6;     /* four addresses */
    if (sub & 8) {                    /* QoS control, maybe HT control */
        hl += 2;
        if (p[1] & 0x80) hl += 4;
    }
    if (n < hl + 8) return TCPS__MAL(dx, LINK_TRUNCATED);
    p += hl, n -= hl;
    if (p[0] != 0xaa || p[1] != 0xaa || p[2] != 0x03 || p[3] || p[4] || p[5]) {
        TCPS__DROP(dx, NON_IP);
        return 0;
    }
    return tcps__ethertype(dx, tcps__be16(p + 6), p + 8, n - 8, extra);
}

TCPS__PRIVATE int tcps__gre(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    uint16_t fl, proto;
    size_t hl = 4;
    if (n < 4) return TCPS__MAL(dx, LINK_TRUNCATED);
    fl = tcps__be16(p);
    proto = tcps__be16(p + 2);
    if ((fl & 7) == 0) {
        if (fl & 0x4000) goto other; /* source routing (RFC 1701): not decoded */
        if (fl & 0x8000) hl += 4;
        if (fl & 0x2000) hl += 4;
        if (fl & 0x1000) hl += 4;
    } else if ((fl & 7) == 1 && proto == 0x880B) {
        /* enhanced GRE (PPTP): key always, sequence and ack optional */
        hl += 4;
        if (fl & 0x1000) hl += 4;
        if (fl & 0x0080) hl += 4;
    } else {
        goto other;
    }
    if (n < hl) return TCPS__MAL(dx, LINK_TRUNCATED);
    p += hl, n -= hl;
    switch (proto) {
    case 0x0800: case 0x86DD: case 0x6558: case 0x880B: case 0x8847: case 0x8848:
    case 0x8200: case 0x8210: /* Aruba: 802.11 frames */
        break;
    case 0x88BE: /* ERSPAN type II (sequence bit set) or type I (no header) */
        if (fl & 0x1000) {
            if (n < 8) return TCPS__MAL(dx, LINK_TRUNCATED);
            p += 8, n -= 8;
        }
        proto = 0x6558;
        break;
    case 0x22EB: /* ERSPAN type III, optional platform sub-header */
        if (n < 12) return TCPS__MAL(dx, LINK_TRUNCATED);
        hl = (p[11] & 1) ? 20 : 12;
        if (n < hl) return TCPS__MAL(dx, LINK_TRUNCATED);
        p += hl, n -= hl;
        proto = 0x6558;
        break;
    default: goto other;
    }
    if (!tcps__tunnel_enter(dx)) return 0;
    if (proto == 0x880B) return tcps__ppp(dx, p, n, extra);
    if (proto == 0x6558) return tcps__ether(dx, p, n, extra);
    if (proto == 0x8200 || proto == 0x8210) return tcps__wlan(dx, p, n, extra);
    return tcps__ethertype(dx, proto, p, n, extra);
other:
    return tcps__not_tcp(dx);
}

/* The tunnels over UDP. Each gets the UDP payload (p, n captured; extra
   bytes on the wire beyond it) and decodes what it carries. */

TCPS__PRIVATE int tcps__vxlan(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    /* flags, reserved, VNI; Ethernet follows */
    if (n < 8 || !(p[0] & 0x08)) return tcps__not_tcp(dx);
    if (!tcps__tunnel_enter(dx)) return 0;
    return tcps__ether(dx, p + 8, n - 8, extra);
}

TCPS__PRIVATE int tcps__geneve(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    size_t hl;
    uint16_t proto;
    if (n < 8 || (p[0] >> 6) != 0) return tcps__not_tcp(dx);
    hl = 8 + (size_t)(p[0] & 0x3f) * 4;
    proto = tcps__be16(p + 2);
    if (n < hl) return TCPS__MAL(dx, LINK_TRUNCATED);
    if (!tcps__tunnel_enter(dx)) return 0;
    if (proto == 0x6558) return tcps__ether(dx, p + hl, n - hl, extra);
    return tcps__ethertype(dx, proto, p + hl, n - hl, extra);
}

TCPS__PRIVATE int tcps__gtpu(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    size_t hl = 8;
    /* G-PDU only */
    if (n < 8 || (p[0] >> 5) != 1 || !(p[0] & 0x10) || p[1] != 0xff) return tcps__not_tcp(dx);
    if (p[0] & 0x07) {
        uint8_t next;
        if (n < 12) return TCPS__MAL(dx, LINK_TRUNCATED);
        next = (p[0] & 0x04) ? p[11] : 0;
        hl = 12;
        while (next) { /* extension headers: length in 4-byte units, next type last */
            size_t el;
            if (n - hl < 1 || p[hl] == 0) return TCPS__MAL(dx, LINK_BAD);
            el = (size_t)p[hl] * 4;
            if (n - hl < el) return TCPS__MAL(dx, LINK_TRUNCATED);
            next = p[hl + el - 1];
            hl += el;
        }
    }
    if (n <= hl) return tcps__not_tcp(dx);
    if (!tcps__tunnel_enter(dx)) return 0;
    return tcps__ip(dx, p + hl, n - hl, extra, 0);
}

TCPS__PRIVATE int tcps__l2tp(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    /* L2TPv2 data messages carrying PPP */
    uint16_t fl;
    size_t hl = 6;
    if (n < 6) return tcps__not_tcp(dx);
    fl = tcps__be16(p);
    if ((fl & 0x000f) != 2 || (fl & 0x8000)) return tcps__not_tcp(dx);
    if (fl & 0x4000) hl += 2;
    if (fl & 0x0800) hl += 4;
    if (fl & 0x0200) {
        if (n < hl + 2) return TCPS__MAL(dx, LINK_TRUNCATED);
        hl += 2 + (size_t)tcps__be16(p + hl);
    }
    if (n < hl) return TCPS__MAL(dx, LINK_TRUNCATED);
    if (!tcps__tunnel_enter(dx)) return 0;
    return tcps__ppp(dx, p + hl, n - hl, extra);
}

TCPS__PRIVATE int tcps__ayiya(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    /* forward operation, IPv4 or IPv6 inside */
    size_t hl;
    if (n < 8 || (p[2] & 0x0f) != 1 || (p[3] != 4 && p[3] != 41)) return tcps__not_tcp(dx);
    hl = 8 + ((size_t)1 << (p[0] >> 4)) + (size_t)(p[1] >> 4) * 4;
    if (n < hl) return TCPS__MAL(dx, LINK_TRUNCATED);
    if (!tcps__tunnel_enter(dx)) return 0;
    return tcps__ip(dx, p + hl, n - hl, extra, p[3] == 4 ? 4 : 6);
}

TCPS__PRIVATE int tcps__teredo(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    /* IPv6, maybe after authentication / origin indication */
    size_t off = 0;
    if (n >= 4 && tcps__be16(p) == 0x0001) {
        size_t al = 4 + (size_t)p[2] + p[3] + 9;
        if (n < al) return tcps__not_tcp(dx);
        off = al;
    }
    if (n - off >= 8 && tcps__be16(p + off) == 0x0000) off += 8;
    if (n - off < 40 || (p[off] >> 4) != 6) return tcps__not_tcp(dx);
    if (!tcps__tunnel_enter(dx)) return 0;
    return tcps__ip(dx, p + off, n - off, extra, 6);
}

typedef int (*tcps__udp_tunnel)(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra);

/* The UDP ports of the tunnels we look inside, either side. */
static const struct {
    uint16_t port;
    tcps__udp_tunnel decode;
} tcps__udp_tunnels[] = {{4789, tcps__vxlan}, {6081, tcps__geneve}, {2152, tcps__gtpu},
                         {3544, tcps__teredo}, {1701, tcps__l2tp},  {5072, tcps__ayiya}};

TCPS__PRIVATE int tcps__udp(tcps__dx *dx, const uint8_t *p, size_t n, size_t wire) {
    uint16_t sp, dp, ulen;
    size_t i, k = sizeof tcps__udp_tunnels / sizeof tcps__udp_tunnels[0];
    if (dx->d->cfg.flags & TCPS_DECODE_NO_TUNNELS) return tcps__not_tcp(dx);
    if (n < 8) {
        if (n < wire && wire >= 8) return TCPS__MAL(dx, LINK_TRUNCATED); /* cut by the snaplen */
        return tcps__not_tcp(dx);
    }
    sp = tcps__be16(p);
    dp = tcps__be16(p + 2);
    ulen = tcps__be16(p + 4);
    /* the first port of the list that either side uses */
    for (i = 0; i < k && sp != tcps__udp_tunnels[i].port && dp != tcps__udp_tunnels[i].port; i++) {}
    if (i == k) return tcps__not_tcp(dx);
    if (ulen >= 8 && ulen < wire) wire = ulen; /* UDP length bounds the payload */
    if (n > wire) n = wire;
    p += 8, n -= 8;
    /* a tunnel header cut by the snaplen */
    if (n < 8 && wire - 8 > n) return TCPS__MAL(dx, LINK_TRUNCATED);
    return tcps__udp_tunnels[i].decode(dx, p, n, wire - 8 - n);
}

/* Upper-layer protocol of an IP packet: p/n captured, wire = length on the wire. */
TCPS__PRIVATE int tcps__l4(tcps__dx *dx, int proto, const uint8_t *p, size_t n, size_t wire) {
    switch (proto) {
    case 6: return tcps__tcp(dx, p, n, wire);
    case 4:
    case 41:
        if (!tcps__tunnel_enter(dx)) return 0;
        return tcps__ip(dx, p, n, wire - n, proto == 4 ? 4 : 6);
    case 47:
        if (dx->d->cfg.flags & TCPS_DECODE_NO_TUNNELS) break;
        return tcps__gre(dx, p, n, wire - n);
    case 17: return tcps__udp(dx, p, n, wire);
    default: break;
    }
    return tcps__not_tcp(dx);
}

/* ---- defragmentation */

TCPS__PRIVATE uint32_t tcps__frag_hash(int version, const uint8_t *src, const uint8_t *dst,
                                       uint32_t id, int proto) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)id << 16) ^ (uint64_t)(proto << 8) ^ (uint64_t)version;
    size_t i, alen = version == 4 ? 4 : 16;
    for (i = 0; i < alen; i += 4) {
        h = (h ^ tcps__be32(src + i)) * 0xff51afd7ed558ccdull;
        h = (h ^ tcps__be32(dst + i)) * 0xc4ceb9fe1a85ec53ull;
    }
    h ^= h >> 29;
    return (uint32_t)h;
}

TCPS__PRIVATE void tcps__frag_free(tcps_decoder *d, tcps__frag *f) {
    tcps__frag **pp = &d->buckets[f->hash & (d->nbuckets - 1)];
    while (*pp && *pp != f) pp = &(*pp)->hnext;
    if (*pp) *pp = f->hnext;
    if (f->older) f->older->newer = f->newer;
    else d->oldest = f->newer;
    if (f->newer) f->newer->older = f->older;
    else d->newest = f->older;
    d->frag_count--;
    d->frag_bytes -= f->mem;
    tcps__free(&d->alloc, f->data, f->cap);
    tcps__free(&d->alloc, f->rng, f->rngcap * sizeof *f->rng);
    tcps__free(&d->alloc, f, sizeof *f);
}

TCPS__PRIVATE void tcps__frag_expire(tcps_decoder *d, tcps_time now) {
    while (d->oldest && tcps_time_cmp(now, d->oldest->deadline) > 0) {
        d->stats.frag_expired++;
        tcps__frag_free(d, d->oldest);
    }
}

/* Make room for delta more bytes by dropping the oldest datagrams other than
   keep; 1 if it fits now. */
TCPS__PRIVATE int tcps__frag_room(tcps_decoder *d, size_t delta, const tcps__frag *keep) {
    if (delta > d->cfg.frag_max_bytes - (keep ? keep->mem : 0)) return 0; /* can never fit */
    while (d->frag_bytes + delta > d->cfg.frag_max_bytes || delta > d->cfg.frag_max_bytes) {
        tcps__frag *o = d->oldest;
        if (o == keep) o = o->newer;
        if (!o) return 0;
        d->stats.frag_evicted++;
        tcps__frag_free(d, o);
    }
    return 1;
}

/* One fragment as the IP layer read it. */
typedef struct tcps__fragment {
    int version;              /* 4 or 6 */
    const uint8_t *src, *dst; /* the datagram's addresses (4 or 16 bytes) */
    uint32_t id;
    int proto;                /* the protocol this fragment names (IPv6: its next header) */
    int key_proto;            /* the protocol that is part of the key (IPv4: proto; IPv6: 0) */
    uint32_t off;             /* byte offset of p in the datagram's payload */
    int more;                 /* more fragments follow */
    const uint8_t *p;
    size_t len;
} tcps__fragment;

/* A rebuilt datagram: its payload (held by the decoder until the next
   packet) and the protocol that follows. */
typedef struct tcps__datagram {
    const uint8_t *p;
    size_t len;
    int proto;
} tcps__datagram;

/* The datagram fg belongs to, made when it is the first fragment seen.
   *out stays NULL when there is no room (counted). 0 or TCPS_E_NOMEM. */
TCPS__PRIVATE int tcps__frag_get(tcps__dx *dx, const tcps__fragment *fg, tcps__frag **out) {
    tcps_decoder *d = dx->d;
    size_t alen = fg->version == 4 ? 4 : 16;
    uint32_t h;
    tcps__frag *f;
    *out = NULL;
    if (!d->nbuckets) {
        uint32_t nb = 64;
        while (nb < d->cfg.frag_max_datagrams && nb < 65536) nb <<= 1;
        d->buckets = (tcps__frag **)tcps__calloc(&d->alloc, nb, sizeof *d->buckets);
        if (!d->buckets) return TCPS_E_NOMEM;
        d->nbuckets = nb;
    }
    h = tcps__frag_hash(fg->version, fg->src, fg->dst, fg->id, fg->key_proto);
    for (f = d->buckets[h & (d->nbuckets - 1)]; f; f = f->hnext)
        if (f->hash == h && f->id == fg->id && f->version == fg->version &&
            f->proto == fg->key_proto && !memcmp(f->src, fg->src, alen) &&
            !memcmp(f->dst, fg->dst, alen)) {
            *out = f;
            return 0;
        }
    if (d->frag_count >= d->cfg.frag_max_datagrams && d->oldest) {
        d->stats.frag_evicted++;
        tcps__frag_free(d, d->oldest);
    }
    if (!tcps__frag_room(d, sizeof *f, NULL)) {
        d->stats.frag_evicted++;
        return 0;
    }
    f = (tcps__frag *)tcps__calloc(&d->alloc, 1, sizeof *f);
    if (!f) return TCPS_E_NOMEM;
    f->hash = h;
    f->id = fg->id;
    f->version = (uint8_t)fg->version;
    f->proto = (uint8_t)fg->key_proto;
    memcpy(f->src, fg->src, alen);
    memcpy(f->dst, fg->dst, alen);
    f->deadline.sec = dx->ts.sec + d->cfg.frag_timeout_ms / 1000;
    f->deadline.nsec = dx->ts.nsec + (d->cfg.frag_timeout_ms % 1000) * 1000000u;
    if (f->deadline.nsec >= TCPS__NS_PER_SEC) f->deadline.nsec -= TCPS__NS_PER_SEC, f->deadline.sec++;
    f->mem = sizeof *f;
    f->hnext = d->buckets[h & (d->nbuckets - 1)];
    d->buckets[h & (d->nbuckets - 1)] = f;
    f->older = d->newest;
    if (d->newest) d->newest->newer = f;
    else d->oldest = f;
    d->newest = f;
    d->frag_count++;
    d->frag_bytes += f->mem;
    *out = f;
    return 0;
}

/* Room in f for data up to end and one more range: 1, 0 when the budget
   cannot give it (f was freed, counted), or TCPS_E_NOMEM (f kept as it was). */
TCPS__PRIVATE int tcps__frag_grow(tcps_decoder *d, tcps__frag *f, uint32_t end) {
    size_t ncap = f->cap, nr = f->rngcap, delta;
    if (end <= f->cap && f->nrng + 1 <= f->rngcap) return 1;
    if (end > ncap) {
        ncap = ncap ? ncap * 2 : 2048;
        if (ncap < end) ncap = end;
        if (ncap > TCPS__FRAG_MAX_END) ncap = TCPS__FRAG_MAX_END;
    }
    if (f->nrng + 1 > nr) nr = nr ? nr * 2 : 4;
    delta = (ncap - f->cap) + (nr - f->rngcap) * sizeof *f->rng;
    if (!tcps__frag_room(d, delta, f)) {
        d->stats.frag_evicted++;
        tcps__frag_free(d, f);
        return 0;
    }
    if (ncap != f->cap) {
        uint8_t *nd = (uint8_t *)tcps__realloc(&d->alloc, f->data, f->cap, ncap);
        if (!nd) return TCPS_E_NOMEM;
        f->data = nd;
        d->frag_bytes += ncap - f->cap;
        f->mem += ncap - f->cap;
        f->cap = ncap;
    }
    if (nr != f->rngcap) {
        void *nrp = tcps__realloc(&d->alloc, f->rng, f->rngcap * sizeof *f->rng, nr * sizeof *f->rng);
        if (!nrp) return TCPS_E_NOMEM;
        f->rng = (uint32_t(*)[2])nrp;
        d->frag_bytes += (nr - f->rngcap) * sizeof *f->rng;
        f->mem += (nr - f->rngcap) * sizeof *f->rng;
        f->rngcap = nr;
    }
    return 1;
}

/* Copy the bytes of [off, end) that f does not have yet (the first copy
   wins), then merge the range into f's sorted ranges. */
TCPS__PRIVATE void tcps__frag_put(tcps_decoder *d, tcps__frag *f, uint32_t off, uint32_t end,
                                  const uint8_t *p) {
    size_t i, j, pos = off;
    uint32_t s = off, e = end;
    int overlap = 0;
    for (i = 0; i < f->nrng && pos < end; i++) {
        if (f->rng[i][1] <= pos) continue;
        if (f->rng[i][0] >= end) break;
        if (f->rng[i][0] > pos) memcpy(f->data + pos, p + (pos - off), f->rng[i][0] - pos);
        overlap = 1;
        pos = f->rng[i][1];
    }
    if (pos < end) memcpy(f->data + pos, p + (pos - off), end - pos);
    if (overlap) d->stats.frag_overlaps++;
    if (end == off) return;
    for (i = 0; i < f->nrng && f->rng[i][1] < s; i++) {}
    for (j = i; j < f->nrng && f->rng[j][0] <= e; j++) {
        if (f->rng[j][0] < s) s = f->rng[j][0];
        if (f->rng[j][1] > e) e = f->rng[j][1];
    }
    /* ranges i..j-1 are replaced by [s, e) */
    if (j == i) {
        memmove(f->rng + i + 1, f->rng + i, (f->nrng - i) * sizeof *f->rng);
        f->nrng++;
    } else if (j > i + 1) {
        memmove(f->rng + i + 1, f->rng + j, (f->nrng - j) * sizeof *f->rng);
        f->nrng -= j - i - 1;
    }
    f->rng[i][0] = s;
    f->rng[i][1] = e;
}

/* When f has every byte: hand its payload to out (held by the decoder), free
   f and return 1; otherwise 0. */
TCPS__PRIVATE int tcps__frag_done(tcps_decoder *d, tcps__frag *f, tcps__datagram *out) {
    if (!f->have_last || !f->have_first ||
        !(f->total == 0 || (f->nrng == 1 && f->rng[0][0] == 0 && f->rng[0][1] == f->total)))
        return 0;
    TCPS_ASSERT(d->nheld < TCPS__MAX_HELD);
    d->held[d->nheld].ptr = f->data;
    d->held[d->nheld].cap = f->cap;
    d->nheld++;
    out->p = f->data;
    out->len = f->total;
    out->proto = f->next;
    d->frag_bytes -= f->cap;
    f->mem -= f->cap;
    f->data = NULL;
    f->cap = 0;
    tcps__frag_free(d, f);
    d->stats.reassembled++;
    return 1;
}

/* Add one fragment. 1 when it completed a datagram (out filled), 0 when it
   is held or dropped (counted), or TCPS_E_NOMEM. */
TCPS__PRIVATE int tcps__defrag(tcps__dx *dx, const tcps__fragment *fg, tcps__datagram *out) {
    tcps_decoder *d = dx->d;
    uint32_t end, limit = fg->version == 4 ? TCPS__FRAG_MAX_END - 20 : TCPS__FRAG_MAX_END;
    tcps__frag *f;
    int r;

    if (fg->off > limit || fg->len > limit - fg->off) return TCPS__MAL(dx, FRAG_BAD);
    end = fg->off + (uint32_t)fg->len;
    if ((r = tcps__frag_get(dx, fg, &f)) < 0) return r;
    if (!f) return 0;

    /* consistency of the datagram's end (as Linux: a mismatch kills it) */
    if (fg->more ? (f->have_last && end > f->total)
                 : ((f->have_last && end != f->total) || (f->nrng && end < f->rng[f->nrng - 1][1]))) {
        tcps__frag_free(d, f);
        return TCPS__MAL(dx, FRAG_BAD);
    }
    if ((r = tcps__frag_grow(d, f, end)) <= 0) {
        /* a datagram made for this fragment holds nothing yet: let it go */
        if (r < 0 && !f->nrng && !f->have_last) tcps__frag_free(d, f);
        return r;
    }
    if (!fg->more) {
        f->have_last = 1;
        f->total = end;
    }
    if (fg->off == 0) {
        f->have_first = 1;
        f->next = (uint8_t)fg->proto; /* IPv6: from the first fragment, as RFC 8200 says */
    }
    tcps__frag_put(d, f, fg->off, end, fg->p);
    return tcps__frag_done(d, f, out);
}

/* ---- IP */

TCPS__PRIVATE int tcps__ip6_chain(tcps__dx *dx, int nh, const uint8_t *p, size_t n, size_t extra,
                                  int allow_frag);

TCPS__PRIVATE int tcps__ip4(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    tcps_segment *s = dx->seg;
    size_t hl, tl, wire;
    uint16_t fo;
    if (n < 20) return TCPS__MAL(dx, IP_TRUNCATED);
    hl = (size_t)(p[0] & 15) * 4;
    if (hl < 20) return TCPS__MAL(dx, IP_BAD_HEADER_LEN);
    if (hl > n) {
        if (hl <= n + extra) return TCPS__MAL(dx, IP_TRUNCATED);
        return TCPS__MAL(dx, IP_BAD_HEADER_LEN);
    }
    dx->ipver = 4;
    tl = tcps__be16(p + 2);
    wire = n + extra;
    if (tl == 0) tl = wire; /* TSO: the length is the captured one, as tshark does */
    if (tl < hl) return TCPS__MAL(dx, IP_BAD_TOTAL_LEN);
    if (tl < wire) wire = tl;
    if (n > wire) n = wire;
    s->ip_version = 4;
    s->ttl = p[8];
    memset(s->src, 0, sizeof s->src);
    memset(s->dst, 0, sizeof s->dst);
    memcpy(s->src, p + 12, 4);
    memcpy(s->dst, p + 16, 4);
    s->ip_checksum = TCPS_CSUM_UNCHECKED;
    if (dx->d->cfg.flags & TCPS_DECODE_VERIFY_CHECKSUMS) {
        if (tcps__sum(0, p, hl) == 0xffff) {
            s->ip_checksum = TCPS_CSUM_GOOD;
        } else {
            s->ip_checksum = TCPS_CSUM_BAD;
            dx->d->stats.malformed[TCPS_MALFORMED_IP_BAD_CHECKSUM]++;
        }
    }
    dx->ph_src = dx->ph_dst = NULL;
    if (hl > 20) {
        /* an unfinished loose/strict source route: the checksum covers the
           final destination, the route's last address */
        size_t o = 20;
        while (o < hl && p[o] != 0) {
            size_t ol;
            if (p[o] == 1) {
                o++;
                continue;
            }
            if (hl - o < 2 || (ol = p[o + 1]) < 2 || ol > hl - o) break;
            if ((p[o] == 131 || p[o] == 137) && ol >= 7 && p[o + 2] <= ol)
                dx->ph_dst = p + o + 3 + ((ol - 3) / 4 - 1) * 4;
            o += ol;
        }
    }
    fo = tcps__be16(p + 6);
    if (fo & 0x3fff) { /* MF or an offset: a fragment */
        tcps__fragment fg;
        tcps__datagram dg;
        int r;
        dx->d->stats.fragments++;
        TCPS__DROP(dx, FRAGMENT); /* unless it completes a datagram */
        if ((dx->d->cfg.flags & TCPS_DECODE_NO_DEFRAG) || n < wire) {
            /* not rebuilt (or cut by the snaplen, so it cannot be): a first
               fragment is decoded for what it holds, as tshark does */
            if (fo & 0x1fff) return 0;
            return tcps__l4(dx, p[9], p + hl, n - hl, wire - hl);
        }
        fg.version = 4;
        fg.src = p + 12;
        fg.dst = p + 16;
        fg.id = tcps__be16(p + 4);
        fg.proto = fg.key_proto = p[9];
        fg.off = (uint32_t)(fo & 0x1fff) * 8;
        fg.more = (fo & 0x2000) != 0;
        fg.p = p + hl;
        fg.len = n - hl;
        r = tcps__defrag(dx, &fg, &dg);
        if (r <= 0) return r;
        dx->fragmented = 1;
        return tcps__l4(dx, dg.proto, dg.p, dg.len, dg.len);
    }
    return tcps__l4(dx, p[9], p + hl, n - hl, wire - hl);
}

/* IPv6 extension headers, from next header nh at p. */
TCPS__PRIVATE int tcps__ip6_chain(tcps__dx *dx, int nh, const uint8_t *p, size_t n, size_t extra,
                                  int allow_frag) {
    tcps_segment *s = dx->seg;
    for (;;) {
        size_t el;
        switch (nh) {
        case 0:   /* hop-by-hop */
        case 43:  /* routing */
        case 60:  /* destination options */
            if (n < 8) return TCPS__MAL(dx, IP6_BAD_EXT);
            el = ((size_t)p[1] + 1) * 8;
            break;
        case 51: /* AH */
            if (n < 8) return TCPS__MAL(dx, IP6_BAD_EXT);
            el = ((size_t)p[1] + 2) * 4;
            break;
        case 44: { /* fragment */
            uint16_t fo;
            tcps__fragment fg;
            tcps__datagram dg;
            int r;
            if (n < 8) return TCPS__MAL(dx, IP6_BAD_EXT);
            fo = tcps__be16(p + 2);
            if ((fo & 0xfff9) == 0) { /* atomic fragment (RFC 6946) */
                nh = p[0];
                p += 8, n -= 8;
                continue;
            }
            dx->d->stats.fragments++;
            TCPS__DROP(dx, FRAGMENT); /* unless it completes a datagram */
            if (!allow_frag) return TCPS__MAL(dx, FRAG_BAD);
            if ((dx->d->cfg.flags & TCPS_DECODE_NO_DEFRAG) || extra) {
                if (fo & 0xfff8) return 0; /* as for IPv4: only a first fragment */
                nh = p[0];
                p += 8, n -= 8;
                allow_frag = 0;
                continue;
            }
            fg.version = 6;
            fg.src = s->src;
            fg.dst = s->dst;
            fg.id = tcps__be32(p + 4);
            fg.proto = p[0];
            fg.key_proto = 0;
            fg.off = (uint32_t)(fo & 0xfff8);
            fg.more = fo & 1;
            fg.p = p + 8;
            fg.len = n - 8;
            r = tcps__defrag(dx, &fg, &dg);
            if (r <= 0) return r;
            dx->fragmented = 1;
            nh = dg.proto;
            p = dg.p;
            n = dg.len;
            allow_frag = 0;
            continue;
        }
        default:
            return tcps__l4(dx, nh, p, n, n + extra);
        }
        if (el > n) {
            if (el <= n + extra) return TCPS__MAL(dx, IP_TRUNCATED);
            return TCPS__MAL(dx, IP6_BAD_EXT);
        }
        {
            if (nh == 43 && p[3] > 0 && el >= 24) {
                /* segments left: the checksum uses the final destination,
                   the last address (types 0 and 2) or the first (SRH, 4) */
                if (p[2] == 0 || p[2] == 2) dx->ph_dst = p + 8 + ((el - 8) / 16 - 1) * 16;
                else if (p[2] == 4) dx->ph_dst = p + 8;
            } else if (nh == 60) { /* home address option: the real source */
                size_t o = 2;
                while (o < el) {
                    if (p[o] == 0) {
                        o++;
                        continue;
                    }
                    if (el - o < 2 || (size_t)p[o + 1] + 2 > el - o) break;
                    if (p[o] == 0xC9 && p[o + 1] == 16) dx->ph_src = p + o + 2;
                    o += (size_t)p[o + 1] + 2;
                }
            }
        }
        nh = p[0];
        p += el, n -= el;
    }
}

TCPS__PRIVATE int tcps__ip6(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    tcps_segment *s = dx->seg;
    size_t pl, wire;
    if (n < 40) return TCPS__MAL(dx, IP_TRUNCATED);
    dx->ipver = 6;
    pl = tcps__be16(p + 4);
    wire = n + extra - 40;
    if (pl == 0 && p[6] == 0) pl = wire; /* jumbogram: the captured length, as tshark */
    if (pl < wire) wire = pl;
    n -= 40;
    if (n > wire) n = wire;
    s->ip_version = 6;
    s->ttl = p[7];
    s->ip_checksum = TCPS_CSUM_UNCHECKED;
    dx->ph_src = dx->ph_dst = NULL;
    memcpy(s->src, p + 8, 16);
    memcpy(s->dst, p + 24, 16);
    return tcps__ip6_chain(dx, p[6], p + 40, n, wire - n, 1);
}

/* want: 4 or 6 when the encapsulation says which, 0 to go by the version nibble */
TCPS__PRIVATE int tcps__ip(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra, int want) {
    int v;
    if (n < 1) return TCPS__MAL(dx, IP_TRUNCATED);
    v = p[0] >> 4;
    if (want && v != want) return TCPS__MAL(dx, IP_BAD_VERSION);
    if (v == 4) return tcps__ip4(dx, p, n, extra);
    if (v == 6) return tcps__ip6(dx, p, n, extra);
    return TCPS__MAL(dx, IP_BAD_VERSION);
}

/* ---- link layers */

TCPS__PRIVATE int tcps__mpls(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    for (;;) {
        if (n < 4) return TCPS__MAL(dx, LINK_TRUNCATED);
        p += 4, n -= 4;
        if (p[-2] & 1) break; /* bottom of stack */
    }
    if (n < 1) return TCPS__MAL(dx, LINK_TRUNCATED);
    if ((p[0] >> 4) == 4 || (p[0] >> 4) == 6) return tcps__ip(dx, p, n, extra, 0);
    /* first nibble 0: a pseudowire control word, then Ethernet (tshark's
       default guess) */
    if ((p[0] >> 4) == 0 && n >= 4 + 14) return tcps__ether(dx, p + 4, n - 4, extra);
    TCPS__DROP(dx, NON_IP);
    return 0;
}

TCPS__PRIVATE int tcps__ethertype(tcps__dx *dx, uint16_t type, const uint8_t *p, size_t n,
                                  size_t extra) {
    tcps_segment *s = dx->seg;
    for (;;) {
        if (type <= 1500) { /* 802.3 length: only LLC/SNAP with OUI 0 is decoded */
            if (type < n) { /* the length bounds the payload */
                n = type;
                extra = 0;
            } else if (type < n + extra) {
                extra = type - n;
            }
            if (n < 8 && extra) return TCPS__MAL(dx, LINK_TRUNCATED);
            if (n < 8 || p[0] != 0xaa || p[1] != 0xaa || p[2] != 0x03 || p[3] || p[4] || p[5]) {
                TCPS__DROP(dx, NON_IP);
                return 0;
            }
            type = tcps__be16(p + 6);
            p += 8, n -= 8;
            if (type <= 1500) break;
            continue;
        }
        switch (type) {
        case 0x0800: return tcps__ip(dx, p, n, extra, 4);
        case 0x86DD: return tcps__ip(dx, p, n, extra, 6);
        case 0x8100:
        case 0x88A8:
        case 0x9100:
            if (n < 4) return TCPS__MAL(dx, LINK_TRUNCATED);
            if (s->vlan_count < TCPS_MAX_VLAN) s->vlan[s->vlan_count] = tcps__be16(p) & 0x0fff;
            if (s->vlan_count < 255) s->vlan_count++;
            type = tcps__be16(p + 2);
            p += 4, n -= 4;
            continue;
        case 0x8847:
        case 0x8848: return tcps__mpls(dx, p, n, extra);
        case 0x8864: { /* PPPoE session */
            size_t len;
            if (n < 8) return TCPS__MAL(dx, LINK_TRUNCATED);
            if (p[0] != 0x11 || p[1] != 0) return TCPS__MAL(dx, LINK_BAD);
            len = tcps__be16(p + 4);
            p += 6, n -= 6;
            if (len < n) n = len; /* the PPPoE length bounds the payload */
            else if (len < n + extra) extra = len - n;
            return tcps__ppp(dx, p, n, extra);
        }
        default: TCPS__DROP(dx, NON_IP); return 0;
        }
    }
    TCPS__DROP(dx, NON_IP);
    return 0;
}

TCPS__PRIVATE int tcps__ether(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    uint16_t type;
    if (n < 14) return TCPS__MAL(dx, LINK_TRUNCATED);
    type = tcps__be16(p + 12);
    return tcps__ethertype(dx, type, p + 14, n - 14, extra);
}

/* BSD loopback: a 4-byte address family, in the capturing machine's byte
   order (NULL) or in network order (LOOP). */
TCPS__PRIVATE int tcps__loop(tcps__dx *dx, uint32_t lt, const uint8_t *p, size_t n, size_t extra) {
    uint32_t fam;
    if (n < 4) return TCPS__MAL(dx, LINK_TRUNCATED);
    if (lt == TCPS_LINKTYPE_LOOP) {
        fam = tcps__be32(p);
    } else {
        /* families are small, so whichever reading is small is the right one */
        fam = tcps__le32(p);
        if (fam > 0xffff) fam = tcps__be32(p);
    }
    if (fam == 2) return tcps__ip(dx, p + 4, n - 4, extra, 4);
    if (fam == 24 || fam == 28 || fam == 30) return tcps__ip(dx, p + 4, n - 4, extra, 6);
    TCPS__DROP(dx, NON_IP);
    return 0;
}

TCPS__PRIVATE int tcps__radiotap(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    size_t rl;
    if (n < 4) return TCPS__MAL(dx, LINK_TRUNCATED);
    rl = tcps__le16(p + 2);
    if (rl < 8 || rl > n) return TCPS__MAL(dx, LINK_TRUNCATED);
    return tcps__wlan(dx, p + rl, n - rl, extra);
}

/* Linux NFLOG: family, version, resource id; then TLVs (in host byte order:
   both are tried) until the payload one (type 9). */
TCPS__PRIVATE int tcps__nflog(tcps__dx *dx, const uint8_t *p, size_t n) {
    size_t off = 4;
    int fam;
    if (n < 4) return TCPS__MAL(dx, LINK_TRUNCATED);
    fam = p[0];
    while (n - off >= 4) {
        size_t tl = tcps__le16(p + off);
        unsigned type = tcps__le16(p + off + 2);
        if (tl < 4 || tl > n - off) {
            tl = tcps__be16(p + off);
            type = tcps__be16(p + off + 2);
            if (tl < 4 || tl > n - off) return TCPS__MAL(dx, LINK_BAD);
        }
        if ((type & 0x7fff) == 9) {
            if (fam == 2) return tcps__ip(dx, p + off + 4, tl - 4, 0, 4);
            if (fam == 10) return tcps__ip(dx, p + off + 4, tl - 4, 0, 6);
            break;
        }
        tl = (tl + 3) & ~(size_t)3;
        if (tl > n - off) break;
        off += tl;
    }
    TCPS__DROP(dx, NON_IP);
    return 0;
}

/* Linux ARCnet: source, destination, 2-byte offset, protocol; RFC 1201
   framing (0xd4 IP, 0xd5 ARP) adds a split flag and a sequence number, and
   an exception packet (flag 0xff) four bytes more. */
TCPS__PRIVATE int tcps__arcnet(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    size_t hl = 5;
    if (n < 5) return TCPS__MAL(dx, LINK_TRUNCATED);
    if (p[4] == 0xd4) {
        if (n < 6) return TCPS__MAL(dx, LINK_TRUNCATED);
        hl = p[5] == 0xff ? 12 : 8;
        if (n < hl) return TCPS__MAL(dx, LINK_TRUNCATED);
    }
    if (p[4] == 0xf0 || p[4] == 0xd4) return tcps__ip(dx, p + hl, n - hl, extra, 4);
    TCPS__DROP(dx, NON_IP);
    return 0;
}

/* Juniper Ethernet: "MGC", flags; with the extension bit, a 2-byte length of
   TLVs; then the Ethernet frame, unless the no-L2 bit says there is none. */
TCPS__PRIVATE int tcps__juniper(tcps__dx *dx, const uint8_t *p, size_t n, size_t extra) {
    size_t hl = 4;
    if (n < 4 || p[0] != 0x4d || p[1] != 0x47 || p[2] != 0x43) return TCPS__MAL(dx, LINK_BAD);
    if (p[3] & 0x80) {
        if (n < 6) return TCPS__MAL(dx, LINK_TRUNCATED);
        hl = 6 + (size_t)tcps__be16(p + 4);
        if (n < hl) return TCPS__MAL(dx, LINK_TRUNCATED);
    }
    if (!(p[3] & 0x02)) return tcps__ether(dx, p + hl, n - hl, extra);
    TCPS__DROP(dx, UNSUPPORTED_LINK);
    return 0;
}

/* The link layer of link type lt: p, n captured, extra bytes on the wire beyond. */
TCPS__PRIVATE int tcps__link(tcps__dx *dx, uint32_t lt, const uint8_t *p, size_t n, size_t extra) {
    switch (lt) {
    case TCPS_LINKTYPE_ETHERNET: return tcps__ether(dx, p, n, extra);
    case TCPS_LINKTYPE_RAW:
    case TCPS_LINKTYPE_RAW_OLD1:
    case TCPS_LINKTYPE_RAW_OLD2: return tcps__ip(dx, p, n, extra, 0);
    case TCPS_LINKTYPE_IPV4: return tcps__ip(dx, p, n, extra, 4);
    case TCPS_LINKTYPE_IPV6: return tcps__ip(dx, p, n, extra, 6);
    case TCPS_LINKTYPE_NULL:
    case TCPS_LINKTYPE_LOOP: return tcps__loop(dx, lt, p, n, extra);
    case TCPS_LINKTYPE_LINUX_SLL:
        if (n < 16) return TCPS__MAL(dx, LINK_TRUNCATED);
        return tcps__ethertype(dx, tcps__be16(p + 14), p + 16, n - 16, extra);
    case TCPS_LINKTYPE_LINUX_SLL2:
        if (n < 20) return TCPS__MAL(dx, LINK_TRUNCATED);
        return tcps__ethertype(dx, tcps__be16(p), p + 20, n - 20, extra);
    case TCPS_LINKTYPE_PPP: return tcps__ppp(dx, p, n, extra);
    case TCPS_LINKTYPE_CHDLC:
        if (n < 4) return TCPS__MAL(dx, LINK_TRUNCATED);
        return tcps__ethertype(dx, tcps__be16(p + 2), p + 4, n - 4, extra);
    case TCPS__LT_IPOIB: /* two 20-byte addresses, 2-byte type, 2 reserved */
        if (n < 44) return TCPS__MAL(dx, LINK_TRUNCATED);
        return tcps__ethertype(dx, tcps__be16(p + 40), p + 44, n - 44, extra);
    case TCPS__LT_IEEE802_11: return tcps__wlan(dx, p, n, extra);
    case TCPS__LT_RADIOTAP: return tcps__radiotap(dx, p, n, extra);
    case TCPS__LT_NFLOG: return tcps__nflog(dx, p, n);
    case TCPS__LT_ARCNET_LINUX: return tcps__arcnet(dx, p, n, extra);
    case TCPS__LT_JUNIPER_ETHER: return tcps__juniper(dx, p, n, extra);
    default: TCPS__DROP(dx, UNSUPPORTED_LINK); return 0;
    }
}

/* ---- API */

TCPS_API int tcps_decoder_create(tcps_decoder **out, const tcps_decoder_config *cfg) {
    tcps_allocator a;
    tcps_decoder *d;
    if (!out) return TCPS_E_ARG;
    *out = NULL;
    if (tcps__alloc_init(&a, cfg ? &cfg->allocator : NULL) != TCPS_OK) return TCPS_E_ARG;
    d = (tcps_decoder *)tcps__calloc(&a, 1, sizeof *d);
    if (!d) return TCPS_E_NOMEM;
    d->alloc = a;
    if (cfg) d->cfg = *cfg;
    d->cfg.allocator = a;
    if (!d->cfg.frag_max_datagrams) d->cfg.frag_max_datagrams = 4096;
    if (!d->cfg.frag_max_bytes) d->cfg.frag_max_bytes = (size_t)16 << 20;
    if (!d->cfg.frag_timeout_ms) d->cfg.frag_timeout_ms = 30000;
    *out = d;
    return TCPS_OK;
}

TCPS__PRIVATE void tcps__release_held(tcps_decoder *d) {
    while (d->nheld) {
        d->nheld--;
        tcps__free(&d->alloc, d->held[d->nheld].ptr, d->held[d->nheld].cap);
    }
}

TCPS_API void tcps_decoder_destroy(tcps_decoder *d) {
    if (!d) return;
    tcps__release_held(d);
    while (d->oldest) tcps__frag_free(d, d->oldest);
    tcps__free(&d->alloc, d->buckets, (size_t)d->nbuckets * sizeof *d->buckets);
    tcps__free(&d->alloc, d, sizeof *d);
}

TCPS_API int tcps_decode(tcps_decoder *d, const tcps_packet *pkt, tcps_segment *seg) {
    tcps__dx dx;
    const uint8_t *p;
    size_t n, extra;
    uint32_t i;
    int r;
    if (!d || !pkt || !seg || (!pkt->data.ptr && pkt->data.len)) return TCPS_E_ARG;
    if (d->nheld) tcps__release_held(d);
    d->stats.packets++;
    d->stats.bytes += pkt->data.len;
    /* per link type count: the last one is almost always the same */
    i = d->lt_last;
    if (i >= d->stats.linktype_count || d->stats.linktypes[i].linktype != pkt->linktype) {
        for (i = 0; i < d->stats.linktype_count; i++)
            if (d->stats.linktypes[i].linktype == pkt->linktype) break;
        if (i == d->stats.linktype_count && i < TCPS_STATS_LINKTYPES) {
            d->stats.linktypes[i].linktype = pkt->linktype;
            d->stats.linktype_count++;
        }
    }
    if (i < d->stats.linktype_count) {
        d->stats.linktypes[i].packets++;
        d->lt_last = i;
    }
    if (d->oldest) tcps__frag_expire(d, pkt->ts);

    /* The fields the layers set only when they find them are the struct's
       tail, cleared here at once (a field added at the end is cleared too);
       the head is written for every segment. Clearing the whole struct
       would cost more than the rest of a plain Ethernet/IPv4/TCP decode. */
    memset(&seg->ip_version, 0, sizeof *seg - offsetof(tcps_segment, ip_version));
    seg->ts = pkt->ts;
    seg->frame = pkt->frame;
    seg->interface = pkt->interface;
    dx.d = d;
    dx.seg = seg;
    dx.ts = pkt->ts;
    dx.depth = 0;
    dx.ipver = 0;
    dx.fragmented = 0;
    dx.ph_src = dx.ph_dst = NULL;
    dx.drop = TCPS__DROP_OTHER;
    p = pkt->data.ptr;
    n = pkt->data.len;
    extra = pkt->origlen > n ? pkt->origlen - n : 0;
    if (pkt->fcs_len > 0) { /* the FCS is the last bytes on the wire */
        size_t fcs = (size_t)pkt->fcs_len;
        if (extra >= fcs) {
            extra -= fcs;
        } else {
            fcs -= extra;
            extra = 0;
            n = n > fcs ? n - fcs : 0;
        }
    }
    r = tcps__link(&dx, pkt->linktype, p, n, extra);
    if (dx.ipver == 4) d->stats.ipv4++;
    else if (dx.ipver == 6) d->stats.ipv6++;
    if (dx.depth) d->stats.tunnels++;
    if (r == 1) {
        d->stats.tcp++;
    } else if (r < 0) {
        d->stats.nomem++;
    } else {
        switch (dx.drop) {
        case TCPS__DROP_NON_IP: d->stats.non_ip++; break;
        case TCPS__DROP_NON_TCP: d->stats.non_tcp++; break;
        case TCPS__DROP_UNSUPPORTED_LINK: d->stats.unsupported_link++; break;
        case TCPS__DROP_MALFORMED: d->stats.malformed_packets++; break;
        case TCPS__DROP_FRAGMENT: d->stats.fragment_packets++; break;
        default: d->stats.other++; break;
        }
    }
    return r;
}

TCPS_API const tcps_decode_stats *tcps_decoder_stats(const tcps_decoder *d) {
    return d ? &d->stats : NULL;
}

TCPS_API void tcps_decoder_config_effective(const tcps_decoder *d, tcps_decoder_config *out) {
    if (d && out) *out = d->cfg;
}

/* --------------------------------------------------- end section: decoder */



/* ----------------------------------------------------- section: sessions --
   Owns: tcps_ctx (session table, lifecycle, reassembly, events). Uses the
   decoder for tcps_feed_packet and the reader for tcps_run / tcps_next.

   Data flow for one segment: find or make the session of its 4-tuple, let
   its ACK release the peer's data (gaps for bytes the peer acknowledged but
   the capture never had), then place its payload: behind the delivered
   point it is a duplicate, at it the bytes go out at once (a span into the
   packet, never copied), beyond it they wait in a min-heap ordered by
   stream offset. When the delivered point moves, every buffered segment it
   reaches becomes a candidate; the overlap policy picks among candidates by
   arrival (first seen wins, or last), and the winner gives all its bytes
   from the delivered point on. That is what tshark's Follow TCP Stream and
   the Linux receive queue deliver. Each segment enters and leaves each heap
   once: O(log n) per segment whatever the overlap pattern.

   Sessions end on FIN both ways (all data before them delivered) or RST,
   after lingering linger_ms of capture time for late segments; or on idle
   timeout, eviction, port reuse or tcps_finish. A FIN/RST-closed session
   leaves a small tombstone so that its late packets (final ACKs,
   retransmitted FINs, data sent after the close) are not taken for a new
   session: only a SYN or SYN-ACK with a new sequence number starts one. The table
   holds one entry per 4-tuple (a session, or a tombstone that the next
   session on the tuple replaces), so no lookup depends on a chain's order. */

#define TCPS__DEF_MAX_SESSIONS 1048576u
#define TCPS__DEF_MAX_BUFFER_DIR ((size_t)4 << 20)
#define TCPS__DEF_MAX_BUFFER_TOTAL ((size_t)64 << 20)
#define TCPS__DEF_LINGER_MS 1000u
#define TCPS__TOMB_MS 60000
#define TCPS__ACK_SANITY ((int64_t)1 << 30) /* an ACK this far ahead is noise */

typedef struct tcps__node {
    uint64_t start;   /* stream offset of data[0] */
    uint64_t arrival; /* order of arrival in its direction */
    uint32_t caplen;  /* bytes held */
    uint32_t wirelen; /* bytes on the wire; caplen < wirelen when the snaplen cut them */
    tcps_time ts;
    uint64_t frame;
    struct tcps__node *next_free;
    uint8_t *data;
} tcps__node;

typedef struct tcps__heap {
    tcps__node **v;
    size_t n, cap;
} tcps__heap;

#define TCPS__BY_START 0
#define TCPS__BY_FIRST 1
#define TCPS__BY_LAST 2

struct tcps__sess;

typedef struct tcps__dir {
    uint64_t next;     /* stream offset of the next byte to deliver */
    uint64_t fin_off;  /* stream offset of the FIN */
    uint64_t acked;    /* highest offset the peer acknowledged */
    uint64_t arrivals;
    size_t held;       /* bytes charged for buffered segments */
    tcps__heap heap;   /* buffered segments, min-heap by start */
    uint32_t base_seq; /* sequence number of offset 0 */
    uint32_t isn;      /* first sequence number seen (tshark's base_seq) */
    uint8_t started, fin, finished, ack_seen;
    uint8_t idx;       /* TCPS_C2S or TCPS_S2C */
    uint8_t in_held;
    struct tcps__sess *sess;
    struct tcps__dir *hprev, *hnext; /* directions holding data, oldest first */
} tcps__dir;

typedef struct tcps__key {
    uint8_t a[16], b[16];
    uint16_t pa, pb;
    uint16_t vlan[TCPS_MAX_VLAN];
    uint8_t vlan_count, ipv;
    uint8_t pad_[2];
} tcps__key;

#define TCPS__KIND_SESS 1
#define TCPS__KIND_TOMB 2

typedef struct tcps__entry {
    struct tcps__entry *hnext;
    uint64_t hash;
    tcps__key key;
    int kind;
} tcps__entry;

typedef struct tcps__tomb {
    tcps__entry e;
    struct tcps__tomb *prev, *next;
    tcps_time ts;
    uint64_t stream;
    uint32_t isn[2]; /* by key side */
    uint32_t end[2]; /* by key side: the sequence number after the last one the
                        session accounted for (delivered, reported missing, or
                        its FIN) */
    uint8_t started[2];
} tcps__tomb;

#define TCPS__OPEN 0
#define TCPS__CLOSING 1
#define TCPS__DONE 2

typedef struct tcps__sess {
    tcps__entry e;
    tcps_session pub;
    tcps__dir d[2];
    struct tcps__sess *lprev, *lnext; /* LRU, most recent first */
    struct tcps__sess *cprev, *cnext; /* closing, oldest first */
    struct tcps__sess *next_free;
    struct tcps__tomb *spare; /* the tombstone, allocated with the session so that
                                 closing it never needs memory */
    tcps_time close_ts;
    uint8_t client_side; /* key side (0 a, 1 b) of the client */
    uint8_t state;
    uint8_t end_hint;
} tcps__sess;

struct tcps_ctx {
    tcps_config cfg;
    tcps_decoder *dec;
    tcps__entry **buckets;
    size_t nbuckets, nentries;
    uint64_t seed;
    tcps__sess *lru_head, *lru_tail;
    tcps__sess *closing_head, *closing_tail;
    tcps__tomb *tomb_head, *tomb_tail;
    size_t ntombs, max_tombs;
    tcps__dir *held_head, *held_tail;
    size_t held_total;
    tcps__heap scratch;
    tcps__node *grave_nodes;
    tcps__sess *grave_sess;
    /* pull mode */
    tcps_event *queue;   /* events not delivered yet: pull mode, or after a stop */
    size_t qlen, qcap, qpos;
    size_t *qstash, qscap; /* per queued event: where its DATA bytes were copied
                            in stash ((size_t)-1: not copied) */
    uint8_t *stash;      /* copies of the bytes of events queued after a stop */
    size_t stash_len, stash_cap;
    int pull, pull_state, pull_err;
    /* the packet being fed */
    tcps_time now, cur_ts;
    uint64_t cur_frame, frames;
    int have_now, aborted, oom;
    /* the last bytes delivered in this call, to check dropped copies against */
    const uint8_t *last_ptr;
    uint64_t last_off, last_len;
    const tcps__dir *last_dir;
    tcps_stats stats;
    tcps_error err;
};

/* --- heaps */

TCPS__PRIVATE int tcps__node_before(const tcps__node *x, const tcps__node *y, int by) {
    if (by == TCPS__BY_START)
        return x->start < y->start || (x->start == y->start && x->arrival < y->arrival);
    if (by == TCPS__BY_FIRST) return x->arrival < y->arrival;
    return x->arrival > y->arrival;
}

/* The caller made room (h->cap > h->n). */
TCPS__PRIVATE void tcps__heap_push(tcps__heap *h, tcps__node *x, int by) {
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!tcps__node_before(x, h->v[up], by)) break;
        h->v[i] = h->v[up];
        i = up;
    }
    h->v[i] = x;
}

TCPS__PRIVATE tcps__node *tcps__heap_pop(tcps__heap *h, int by) {
    tcps__node *top = h->v[0], *x;
    size_t i = 0, n;
    n = --h->n;
    if (n == 0) return top;
    x = h->v[n];
    for (;;) {
        size_t l = 2 * i + 1, m;
        if (l >= n) break;
        m = l;
        if (l + 1 < n && tcps__node_before(h->v[l + 1], h->v[l], by)) m = l + 1;
        if (!tcps__node_before(h->v[m], x, by)) break;
        h->v[i] = h->v[m];
        i = m;
    }
    h->v[i] = x;
    return top;
}

/* --- events */

/* Events are queued in pull mode, and in callback mode once a callback
   stopped the run (and until the queue is delivered): then the bytes of a
   DATA event are copied, since they may point into the caller's packet. The
   sessions and buffers the queued events point to stay allocated (the
   graveyard is freed only when the queue is empty). */
TCPS__PRIVATE void tcps__enqueue(tcps_ctx *c, const tcps_event *ev) {
    size_t at = (size_t)-1;
    if (tcps__grow(&c->cfg.allocator, (void **)&c->queue, &c->qcap, c->qlen + 1, sizeof *c->queue) != TCPS_OK ||
        (!c->pull && tcps__grow(&c->cfg.allocator, (void **)&c->qstash, &c->qscap, c->qlen + 1,
                                sizeof *c->qstash) != TCPS_OK)) {
        c->oom = 1;
        return;
    }
    if (!c->pull && ev->type == TCPS_EV_DATA) {
        if (tcps__grow(&c->cfg.allocator, (void **)&c->stash, &c->stash_cap, c->stash_len + ev->data.len, 1) !=
            TCPS_OK) {
            c->oom = 1;
            return;
        }
        at = c->stash_len;
        memcpy(c->stash + at, ev->data.ptr, ev->data.len);
        c->stash_len += ev->data.len;
    }
    if (!c->pull) c->qstash[c->qlen] = at;
    c->queue[c->qlen++] = *ev;
}

TCPS__PRIVATE int tcps__call(tcps_ctx *c, const tcps_event *ev) {
    tcps_event_fn fn = NULL;
    switch (ev->type) {
    case TCPS_EV_OPEN: fn = c->cfg.callbacks.on_open; break;
    case TCPS_EV_DATA: fn = c->cfg.callbacks.on_data; break;
    case TCPS_EV_GAP: fn = c->cfg.callbacks.on_gap; break;
    case TCPS_EV_CLOSE: fn = c->cfg.callbacks.on_close; break;
    default: break;
    }
    return fn && fn(ev, c->cfg.user) != 0;
}

TCPS__PRIVATE void tcps__emit(tcps_ctx *c, tcps_event *ev) {
    if (c->pull || c->aborted || c->qpos < c->qlen) {
        tcps__enqueue(c, ev);
        return;
    }
    if (tcps__call(c, ev)) c->aborted = 1;
}

/* Callback mode: deliver what a stop left queued, in order, until a
   callback stops again (c->aborted) or the queue is empty. */
TCPS__PRIVATE void tcps__drain(tcps_ctx *c) {
    while (c->qpos < c->qlen) {
        tcps_event ev = c->queue[c->qpos];
        if (c->qstash[c->qpos] != (size_t)-1) ev.data.ptr = c->stash + c->qstash[c->qpos];
        c->qpos++;
        if (tcps__call(c, &ev)) {
            c->aborted = 1;
            return;
        }
    }
    c->qpos = c->qlen = 0;
    c->stash_len = 0;
}

TCPS__PRIVATE void tcps__event_init(tcps_ctx *c, tcps_event *ev, int type, tcps__sess *s, int dir) {
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->dir = dir;
    ev->session = &s->pub;
    ev->ts = ev->data_ts = c->cur_ts;
    ev->frame = ev->data_frame = c->cur_frame;
}

TCPS__PRIVATE void tcps__deliver(tcps_ctx *c, tcps__sess *s, tcps__dir *d, const uint8_t *p, uint64_t len,
                          tcps_time dts, uint64_t dframe) {
    tcps_event ev;
    if (len == 0) return;
    tcps__event_init(c, &ev, TCPS_EV_DATA, s, d->idx);
    ev.data.ptr = p;
    ev.data.len = (size_t)len;
    ev.offset = d->next;
    ev.length = len;
    ev.data_ts = dts;
    ev.data_frame = dframe;
    s->pub.dir[d->idx].bytes += len;
    c->stats.bytes += len;
    c->last_ptr = p;
    c->last_off = d->next;
    c->last_len = len;
    c->last_dir = d;
    tcps__emit(c, &ev);
}

TCPS__PRIVATE void tcps__gap(tcps_ctx *c, tcps__sess *s, tcps__dir *d, uint64_t off, uint64_t len, int reason) {
    tcps_event ev;
    tcps_dir_stats *ds = &s->pub.dir[d->idx];
    if (len == 0) return;
    tcps__event_init(c, &ev, TCPS_EV_GAP, s, d->idx);
    ev.offset = off;
    ev.length = len;
    ev.reason = reason;
    ds->missing += len;
    ds->gaps++;
    c->stats.missing += len;
    c->stats.gaps++;
    if (reason == TCPS_GAP_LIMIT) c->stats.gaps_limit++;
    tcps__emit(c, &ev);
}

/* --- buffered segments */

TCPS__PRIVATE size_t tcps__node_cost(const tcps__node *n) { return sizeof *n + n->caplen; }

TCPS__PRIVATE void tcps__held_unlink(tcps_ctx *c, tcps__dir *d) {
    if (!d->in_held) return;
    if (d->hprev) d->hprev->hnext = d->hnext; else c->held_head = d->hnext;
    if (d->hnext) d->hnext->hprev = d->hprev; else c->held_tail = d->hprev;
    d->hprev = d->hnext = NULL;
    d->in_held = 0;
}

/* A node leaves its direction: to the graveyard, freed when the events
   that point into it can no longer be read. */
TCPS__PRIVATE void tcps__drop_node(tcps_ctx *c, tcps__dir *d, tcps__node *n) {
    size_t cost = tcps__node_cost(n);
    d->held -= cost;
    c->held_total -= cost;
    c->stats.buffered = c->held_total;
    d->sess->pub.dir[d->idx].buffered = d->held;
    if (d->held == 0) tcps__held_unlink(c, d);
    n->next_free = c->grave_nodes;
    c->grave_nodes = n;
}

/* Compare the captured bytes of n below `upto` with the bytes delivered
   last, where they overlap: a buffered copy that lost to different bytes is
   a conflicting overlap. */
TCPS__PRIVATE void tcps__check_conflict(tcps_ctx *c, tcps__dir *d, const tcps__node *n, uint64_t upto) {
    uint64_t lo, hi, nend = n->start + n->caplen;
    if (c->last_dir != d || !c->last_ptr) return;
    lo = TCPS__MAX(n->start, c->last_off);
    hi = TCPS__MIN(TCPS__MIN(upto, nend), c->last_off + c->last_len);
    if (lo >= hi) return;
    if (memcmp(n->data + (lo - n->start), c->last_ptr + (lo - c->last_off), (size_t)(hi - lo)) != 0) {
        d->sess->pub.dir[d->idx].conflicts++;
        d->sess->pub.dir[d->idx].anomalies |= TCPS_ANOM_CONFLICT;
    }
}

/* Can bytes from stream offset `start` be delivered now? Not beyond a FIN:
   they wait until an ACK past the FIN shows the receiver never took it. */
TCPS__PRIVATE int tcps__in_order(const tcps__dir *d, uint64_t start) {
    return start <= d->next && !(d->fin && start >= d->fin_off);
}

/* Deliver every buffered segment the delivered point reaches, in policy
   order. c->scratch is empty on entry and on exit and has room for every
   node of the direction (tcps__buffer makes sure). */
TCPS__PRIVATE void tcps__release(tcps_ctx *c, tcps__sess *s, tcps__dir *d) {
    tcps__heap *el = &c->scratch;
    int by = c->cfg.overlap == TCPS_OVERLAP_LAST ? TCPS__BY_LAST : TCPS__BY_FIRST;
    tcps_dir_stats *ds = &s->pub.dir[d->idx];
    for (;;) {
        tcps__node *n;
        uint64_t end, cap_end, skip;
        while (d->heap.n && tcps__in_order(d, d->heap.v[0]->start))
            tcps__heap_push(el, tcps__heap_pop(&d->heap, TCPS__BY_START), by);
        if (el->n == 0) break;
        n = tcps__heap_pop(el, by);
        end = n->start + n->wirelen;
        cap_end = n->start + n->caplen;
        if (d->fin && end > d->fin_off) { /* held before a FIN inside it came: the rest is lost */
            ds->anomalies |= TCPS_ANOM_DATA_AFTER_FIN;
            end = d->fin_off;
            cap_end = TCPS__MIN(cap_end, end);
        }
        if (end <= d->next) { /* wholly delivered already */
            tcps__check_conflict(c, d, n, end);
            ds->dup_bytes += end - n->start;
            tcps__drop_node(c, d, n);
            continue;
        }
        skip = d->next - n->start;
        tcps__check_conflict(c, d, n, d->next);
        ds->dup_bytes += skip;
        if (d->next < cap_end) tcps__deliver(c, s, d, n->data + skip, cap_end - d->next, n->ts, n->frame);
        if (cap_end < end) {
            uint64_t from = TCPS__MAX(d->next, cap_end);
            tcps__gap(c, s, d, from, end - from, TCPS_GAP_TRUNCATED);
        }
        d->next = end;
        tcps__drop_node(c, d, n);
    }
    if (d->fin && !d->finished && d->next >= d->fin_off) d->finished = 1;
}

/* Give up waiting for the first hole of d: report it and deliver what
   follows it. */
TCPS__PRIVATE void tcps__flush_hole(tcps_ctx *c, tcps__sess *s, tcps__dir *d, int reason) {
    uint64_t start;
    if (d->heap.n == 0) return;
    start = d->heap.v[0]->start;
    if (d->fin && start >= d->fin_off) { /* all that is left lies beyond the FIN */
        while (d->heap.n) {
            s->pub.dir[d->idx].anomalies |= TCPS_ANOM_DATA_AFTER_FIN;
            tcps__drop_node(c, d, tcps__heap_pop(&d->heap, TCPS__BY_START));
        }
        return;
    }
    if (start > d->next) {
        tcps__gap(c, s, d, d->next, start - d->next, reason);
        d->next = start;
    }
    tcps__release(c, s, d);
}

/* Hold an out-of-order segment. Returns 0 when held, 1 when making room
   (flushing holes under the limits) made it in order, or TCPS_E_NOMEM. */
TCPS__PRIVATE int tcps__buffer(tcps_ctx *c, tcps__sess *s, tcps__dir *d, uint64_t start, const uint8_t *p,
                        uint32_t caplen, uint32_t wirelen) {
    tcps__node *n;
    size_t cost = sizeof *n + caplen, need;
    while (d->held + cost > c->cfg.max_buffer_dir && d->heap.n) {
        tcps__flush_hole(c, s, d, TCPS_GAP_LIMIT);
        if (tcps__in_order(d, start)) return 1;
    }
    if (cost > c->cfg.max_buffer_dir || cost > c->cfg.max_buffer_total) { /* could never be held: skip to it */
        if (d->fin && start >= d->fin_off) return 0;
        tcps__gap(c, s, d, d->next, start - d->next, TCPS_GAP_LIMIT);
        d->next = start;
        return 1;
    }
    while (c->held_total + cost > c->cfg.max_buffer_total && c->held_head) {
        tcps__dir *victim = c->held_head;
        tcps__flush_hole(c, victim->sess, victim, TCPS_GAP_LIMIT);
        if (tcps__in_order(d, start)) return 1;
    }
    need = d->heap.n + 1;
    if (tcps__grow(&c->cfg.allocator, (void **)&d->heap.v, &d->heap.cap, need, sizeof *d->heap.v) ||
        tcps__grow(&c->cfg.allocator, (void **)&c->scratch.v, &c->scratch.cap, need,
                   sizeof *c->scratch.v))
        return TCPS_E_NOMEM;
    n = (tcps__node *)tcps__malloc(&c->cfg.allocator, cost);
    if (!n) return TCPS_E_NOMEM;
    n->start = start;
    n->arrival = d->arrivals++;
    n->caplen = caplen;
    n->wirelen = wirelen;
    n->ts = c->cur_ts;
    n->frame = c->cur_frame;
    n->next_free = NULL;
    n->data = (uint8_t *)(n + 1);
    if (caplen) memcpy(n->data, p, caplen);
    tcps__heap_push(&d->heap, n, TCPS__BY_START);
    d->held += cost;
    c->held_total += cost;
    c->stats.buffered = c->held_total;
    if (c->held_total > c->stats.buffered_peak) c->stats.buffered_peak = c->held_total;
    s->pub.dir[d->idx].buffered = d->held;
    s->pub.dir[d->idx].ooo_segments++;
    if (!d->in_held) {
        d->in_held = 1;
        d->hprev = c->held_tail;
        d->hnext = NULL;
        if (c->held_tail) c->held_tail->hnext = d; else c->held_head = d;
        c->held_tail = d;
    }
    return 0;
}

/* Payload [start, start + wirelen) of which caplen bytes were captured. */
TCPS__PRIVATE int tcps__data(tcps_ctx *c, tcps__sess *s, tcps__dir *d, uint64_t start, const uint8_t *p,
                      uint32_t caplen, uint32_t wirelen) {
    uint64_t end = start + wirelen, skip;
    tcps_dir_stats *ds = &s->pub.dir[d->idx];
    if (d->fin && end > d->fin_off && end > d->next) {
        /* Bytes beyond a FIN wait: the receiver ignores them unless it never
           took the FIN, which its ACKs will show. */
        ds->anomalies |= TCPS_ANOM_DATA_AFTER_FIN;
        if (start < d->fin_off) {
            uint32_t keep = (uint32_t)(d->fin_off - start), kc = TCPS__MIN(caplen, keep);
            int r = tcps__data(c, s, d, start, p, kc, keep);
            if (r < 0) return r;
            if (kc) p += kc;
            caplen -= kc, wirelen -= keep, start = d->fin_off;
        }
        return tcps__buffer(c, s, d, start, p, caplen, wirelen) < 0 ? TCPS_E_NOMEM : TCPS_OK;
    }
    if (end <= d->next) {
        ds->dup_bytes += wirelen;
        return TCPS_OK;
    }
    if (start > d->next) {
        int r = tcps__buffer(c, s, d, start, p, caplen, wirelen);
        if (r != 1) return r;
        if (end <= d->next) { /* making room delivered past it */
            ds->dup_bytes += wirelen;
            return TCPS_OK;
        }
    }
    skip = d->next - start;
    ds->dup_bytes += skip;
    if (skip < caplen) tcps__deliver(c, s, d, p + skip, caplen - skip, c->cur_ts, c->cur_frame);
    if (caplen < wirelen) {
        uint64_t from = TCPS__MAX(d->next, start + caplen);
        tcps__gap(c, s, d, from, end - from, TCPS_GAP_TRUNCATED);
    }
    d->next = end;
    tcps__release(c, s, d);
    return TCPS_OK;
}

/* Stream offset of a sequence number, relative to where d has got to. */
TCPS__PRIVATE int64_t tcps__unwrap(const tcps__dir *d, uint32_t seq) {
    uint32_t u = seq - (uint32_t)(d->base_seq + (uint32_t)d->next);
    int64_t delta = u < 0x80000000u ? (int64_t)u : (int64_t)u - ((int64_t)1 << 32);
    return (int64_t)d->next + delta;
}

/* The peer of d acknowledged up to seq: buffered data below it will not be
   filled any more (the receiver had it, the capture did not). */
TCPS__PRIVATE void tcps__acked(tcps_ctx *c, tcps__sess *s, tcps__dir *d, uint32_t seq) {
    int64_t off;
    if (!d->started) return;
    off = tcps__unwrap(d, seq);
    if (off < 0 || off - (int64_t)d->next > TCPS__ACK_SANITY) return;
    if (!d->ack_seen || (uint64_t)off > d->acked) d->acked = (uint64_t)off;
    d->ack_seen = 1;
    if (d->fin && (uint64_t)off > d->fin_off + 1) { /* data past the FIN was taken: the FIN was not */
        d->fin = 0;
        d->finished = 0;
        s->pub.dir[d->idx].anomalies |= TCPS_ANOM_DATA_AFTER_FIN;
        s->pub.dir[d->idx].anomalies &= ~(uint32_t)TCPS_ANOM_FIN_INFERRED;
        tcps__release(c, s, d);
    }
    while (d->heap.n && (uint64_t)off > d->heap.v[0]->start) tcps__flush_hole(c, s, d, TCPS_GAP_ACKED);
}

/* --- session table */

TCPS__PRIVATE uint64_t tcps__hash_key(const tcps__key *k, uint64_t seed) {
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = seed ^ 0x9e3779b97f4a7c15ull;
    size_t i;
    for (i = 0; i + 8 <= sizeof *k; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 32);
}

/* Canonical key of a segment; returns the key side (0 or 1) of its source. */
TCPS__PRIVATE int tcps__make_key(const tcps_ctx *c, const tcps_segment *g, tcps__key *k) {
    int cmp = memcmp(g->src, g->dst, 16), side;
    memset(k, 0, sizeof *k);
    side = (cmp > 0 || (cmp == 0 && g->sport > g->dport)) ? 1 : 0;
    memcpy(side ? k->b : k->a, g->src, 16);
    memcpy(side ? k->a : k->b, g->dst, 16);
    k->pa = side ? g->dport : g->sport;
    k->pb = side ? g->sport : g->dport;
    k->ipv = g->ip_version;
    if (c->cfg.flags & TCPS_F_SEPARATE_VLANS) {
        int i, n = TCPS__MIN(g->vlan_count, TCPS_MAX_VLAN);
        k->vlan_count = g->vlan_count;
        for (i = 0; i < n; i++) k->vlan[i] = g->vlan[i];
    }
    return side;
}

TCPS__PRIVATE tcps__entry *tcps__lookup(tcps_ctx *c, const tcps__key *k, uint64_t h) {
    tcps__entry *e;
    if (!c->nbuckets) return NULL;
    for (e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && memcmp(&e->key, k, sizeof *k) == 0) return e;
    return NULL;
}

TCPS__PRIVATE void tcps__tomb_remove(tcps_ctx *c, struct tcps__tomb *t);

/* A key has one entry: a session, or the tombstone of a closed one. A new
   entry supersedes a tombstone of its key (the new connection now owns the
   4-tuple); two sessions never share one. Lookups therefore never depend on
   the order of a chain. */
TCPS__PRIVATE int tcps__table_insert(tcps_ctx *c, tcps__entry *e) {
    tcps__entry *old = tcps__lookup(c, &e->key, e->hash);
    size_t i;
    if (old) {
        TCPS_ASSERT(old->kind == TCPS__KIND_TOMB && e->kind == TCPS__KIND_SESS);
        tcps__tomb_remove(c, (struct tcps__tomb *)old);
    }
    if (c->nentries + 1 > c->nbuckets) { /* load factor 1: double */
        size_t nb = c->nbuckets ? c->nbuckets * 2 : 1024;
        tcps__entry **nbk = (tcps__entry **)tcps__calloc(&c->cfg.allocator, nb, sizeof *nbk);
        if (nbk) {
            for (i = 0; i < c->nbuckets; i++) {
                tcps__entry *x = c->buckets[i], *nx;
                for (; x; x = nx) {
                    nx = x->hnext;
                    x->hnext = nbk[x->hash & (nb - 1)];
                    nbk[x->hash & (nb - 1)] = x;
                }
            }
            tcps__free(&c->cfg.allocator, c->buckets, c->nbuckets * sizeof *c->buckets);
            c->buckets = nbk;
            c->nbuckets = nb;
        } else if (!c->nbuckets) {
            return TCPS_E_NOMEM;
        } /* else: keep the smaller table, chains get longer */
    }
    i = e->hash & (c->nbuckets - 1);
    e->hnext = c->buckets[i];
    c->buckets[i] = e;
    c->nentries++;
    return TCPS_OK;
}

TCPS__PRIVATE void tcps__table_remove(tcps_ctx *c, tcps__entry *e) {
    tcps__entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*pp && *pp != e) pp = &(*pp)->hnext;
    if (*pp) {
        *pp = e->hnext;
        c->nentries--;
    }
}

TCPS__PRIVATE void tcps__lru_unlink(tcps_ctx *c, tcps__sess *s) {
    if (s->lprev) s->lprev->lnext = s->lnext; else c->lru_head = s->lnext;
    if (s->lnext) s->lnext->lprev = s->lprev; else c->lru_tail = s->lprev;
    s->lprev = s->lnext = NULL;
}

TCPS__PRIVATE void tcps__lru_front(tcps_ctx *c, tcps__sess *s) {
    s->lprev = NULL;
    s->lnext = c->lru_head;
    if (c->lru_head) c->lru_head->lprev = s; else c->lru_tail = s;
    c->lru_head = s;
}

TCPS__PRIVATE void tcps__closing_unlink(tcps_ctx *c, tcps__sess *s) {
    if (s->state != TCPS__CLOSING) return;
    if (s->cprev) s->cprev->cnext = s->cnext; else c->closing_head = s->cnext;
    if (s->cnext) s->cnext->cprev = s->cprev; else c->closing_tail = s->cprev;
    s->cprev = s->cnext = NULL;
}

TCPS__PRIVATE void tcps__tomb_remove(tcps_ctx *c, tcps__tomb *t) {
    tcps__table_remove(c, &t->e);
    if (t->prev) t->prev->next = t->next; else c->tomb_head = t->next;
    if (t->next) t->next->prev = t->prev; else c->tomb_tail = t->prev;
    c->ntombs--;
    tcps__free(&c->cfg.allocator, t, sizeof *t);
}

TCPS__PRIVATE void tcps__make_tomb(tcps_ctx *c, tcps__sess *s) {
    tcps__tomb *t;
    int i;
    if (c->ntombs >= c->max_tombs && c->tomb_head) tcps__tomb_remove(c, c->tomb_head);
    t = s->spare;
    s->spare = NULL;
    if (!t) return;
    t->e.hash = s->e.hash;
    t->e.key = s->e.key;
    t->e.kind = TCPS__KIND_TOMB;
    t->ts = c->now;
    t->stream = s->pub.stream;
    for (i = 0; i < 2; i++) {
        int side = (i == TCPS_C2S) ? s->client_side : !s->client_side;
        const tcps__dir *d = &s->d[i];
        t->isn[side] = d->isn;
        t->started[side] = d->started;
        t->end[side] = d->base_seq + (uint32_t)d->next + (d->fin ? 1u : 0u);
    }
    if (tcps__table_insert(c, &t->e) != TCPS_OK) {
        tcps__free(&c->cfg.allocator, t, sizeof *t);
        return;
    }
    t->prev = c->tomb_tail;
    if (c->tomb_tail) c->tomb_tail->next = t; else c->tomb_head = t;
    c->tomb_tail = t;
    c->ntombs++;
}

TCPS__PRIVATE void tcps__free_dir(tcps_ctx *c, tcps__dir *d) {
    size_t i;
    for (i = 0; i < d->heap.n; i++) tcps__free(&c->cfg.allocator, d->heap.v[i], tcps__node_cost(d->heap.v[i]));
    tcps__free(&c->cfg.allocator, d->heap.v, d->heap.cap * sizeof *d->heap.v);
    d->heap.v = NULL;
    d->heap.n = d->heap.cap = 0;
}

/* Where a direction's stream ends when the session does, d's heap being
   empty: its FIN, or else what the peer acknowledged. A FIN the capture
   missed looks like one byte acknowledged beyond the data; it is taken as
   the FIN when the capture shows the direction closed (the other side's FIN
   acknowledged by d's sender), and flagged as uncertain when it does not. */
TCPS__PRIVATE uint64_t tcps__stream_end(tcps__sess *s, tcps__dir *d) {
    const tcps__dir *p = &s->d[!d->idx];
    uint32_t *anom = &s->pub.dir[d->idx].anomalies;
    if (d->fin) return TCPS__MAX(d->next, d->fin_off);
    if (!d->ack_seen || d->acked <= d->next) return d->next;
    if (p->fin && p->ack_seen && p->acked > p->fin_off) {
        d->fin = 1;
        d->fin_off = d->acked - 1;
        *anom |= TCPS_ANOM_FIN_INFERRED;
        return d->fin_off;
    }
    *anom |= TCPS_ANOM_FIN_UNCERTAIN;
    return d->acked > d->next + 1 ? d->acked : d->next;
}

/* End a session: flush both directions (gaps for what never came), say how
   it ended, and take it out of the table. */
TCPS__PRIVATE void tcps__finalize(tcps_ctx *c, tcps__sess *s, int trigger) {
    tcps_event ev;
    int i, reason, closed = 0;
    for (i = 0; i < 2; i++) {
        int dir = i == 0 ? s->pub.first_dir : !s->pub.first_dir;
        tcps__dir *d = &s->d[dir];
        uint64_t tail;
        while (d->heap.n) tcps__flush_hole(c, s, d, TCPS_GAP_CLOSE);
        tail = tcps__stream_end(s, d);
        if (d->fin) closed++;
        if (tail > d->next) {
            int why = d->ack_seen && d->acked >= tail ? TCPS_GAP_ACKED : TCPS_GAP_CLOSE;
            tcps__gap(c, s, d, d->next, tail - d->next, why);
            d->next = tail;
        }
        if (d->fin) d->finished = 1;
    }
    if (s->state == TCPS__CLOSING) reason = s->end_hint;
    else if (closed == 2 || (s->pub.dir[0].fin_seen && s->pub.dir[1].fin_seen)) reason = TCPS_END_FIN;
    else reason = trigger;
    s->pub.end = (uint8_t)reason;
    switch (reason) {
    case TCPS_END_FIN: c->stats.closed_fin++; break;
    case TCPS_END_RST: c->stats.closed_rst++; break;
    case TCPS_END_TIMEOUT: c->stats.closed_timeout++; break;
    case TCPS_END_EOF: c->stats.closed_eof++; break;
    case TCPS_END_EVICTED: c->stats.closed_evicted++; break;
    default: c->stats.closed_reused++; break;
    }
    tcps__event_init(c, &ev, TCPS_EV_CLOSE, s, 0);
    ev.reason = reason;
    tcps__emit(c, &ev);

    tcps__closing_unlink(c, s);
    tcps__lru_unlink(c, s);
    tcps__table_remove(c, &s->e);
    for (i = 0; i < 2; i++) {
        tcps__held_unlink(c, &s->d[i]);
        tcps__free_dir(c, &s->d[i]);
    }
    s->state = TCPS__DONE;
    c->stats.sessions_live--;
    if (reason == TCPS_END_FIN || reason == TCPS_END_RST) tcps__make_tomb(c, s);
    s->next_free = c->grave_sess;
    c->grave_sess = s;
}

TCPS__PRIVATE void tcps__start_closing(tcps_ctx *c, tcps__sess *s, int hint) {
    if (s->state != TCPS__OPEN) return;
    s->state = TCPS__CLOSING;
    s->end_hint = (uint8_t)hint;
    s->pub.ending = (uint8_t)hint;
    s->close_ts = c->now;
    s->cprev = c->closing_tail;
    s->cnext = NULL;
    if (c->closing_tail) c->closing_tail->cnext = s; else c->closing_head = s;
    c->closing_tail = s;
}

/* Capture time moved on: end lingering, idle and old things. */
TCPS__PRIVATE void tcps__expire(tcps_ctx *c) {
    while (c->closing_head &&
           tcps__time_diff_ms(c->now, c->closing_head->close_ts) >= (int64_t)c->cfg.linger_ms)
        tcps__finalize(c, c->closing_head, c->closing_head->end_hint);
    if (c->cfg.idle_timeout_ms)
        while (c->lru_tail &&
               tcps__time_diff_ms(c->now, c->lru_tail->pub.last_ts) > (int64_t)c->cfg.idle_timeout_ms)
            tcps__finalize(c, c->lru_tail, TCPS_END_TIMEOUT);
    while (c->tomb_head && tcps__time_diff_ms(c->now, c->tomb_head->ts) > TCPS__TOMB_MS)
        tcps__tomb_remove(c, c->tomb_head);
}

TCPS__PRIVATE void tcps__endpoint(tcps_endpoint *ep, const uint8_t *addr, uint16_t port, int ipv) {
    memcpy(ep->addr, addr, 16);
    ep->port = port;
    ep->ip_version = (uint8_t)ipv;
}

/* A segment arriving at a closed session's tombstone. A SYN or SYN-ACK
   with a new initial sequence number opens a new connection (its SYN-ACK
   may be the first packet the capture has of it). Anything else is late:
   a retransmission, an ACK, or data sent after the close, which no
   receiver took (its stack had closed): dropped, counted in late_segments,
   and its bytes beyond what the session delivered or reported missing in
   late_bytes. Returns 1 when the segment is late. */
TCPS__PRIVATE int tcps__tomb_late(tcps_ctx *c, const tcps__tomb *t, int side, const tcps_segment *g) {
    uint32_t from, span, beyond;
    if ((g->flags & TCPS_TH_SYN) && !(t->started[side] && t->isn[side] == g->seq)) return 0;
    c->stats.late_segments++;
    if (!g->payload_len) return 1;
    if (!t->started[side]) {
        c->stats.late_bytes += g->payload_len;
        return 1;
    }
    from = g->seq + ((g->flags & TCPS_TH_SYN) ? 1u : 0u) - t->isn[side];
    span = t->end[side] - t->isn[side];
    if (from > span) beyond = from - span > (uint32_t)1 << 31 ? 0 : g->payload_len; /* before the start: old */
    else beyond = g->payload_len > span - from ? g->payload_len - (span - from) : 0;
    c->stats.late_bytes += beyond;
    return 1;
}

/* A segment that would start direction dir of s, the peer having sent a
   SYN, but that acknowledges none of what the peer sent since that SYN, or
   is a reset without ACK (which a client in SYN-SENT drops, RFC 9293
   3.10.7.3): a late packet of an earlier connection on the 4-tuple (a
   retransmission arriving after the new SYN), not a part of this one. */
TCPS__PRIVATE int tcps__older_connection(const tcps__sess *s, int dir, const tcps_segment *g) {
    const tcps__dir *d = &s->d[dir], *p = &s->d[!dir];
    if (d->started || !s->pub.dir[!dir].syn_seen || (g->flags & TCPS_TH_SYN)) return 0;
    if (!(g->flags & TCPS_TH_ACK)) return (g->flags & TCPS_TH_RST) != 0;
    return tcps__unwrap(p, g->ack) < 0;
}

TCPS__PRIVATE tcps__sess *tcps__new_session(tcps_ctx *c, const tcps__key *k, uint64_t h, const tcps_segment *g,
                                     int src_side) {
    tcps__sess *s;
    tcps_event ev;
    int src_is_client, i;
    uint16_t fl = g->flags;
    if (c->stats.sessions_live >= c->cfg.max_sessions && c->lru_tail)
        tcps__finalize(c, c->lru_tail, TCPS_END_EVICTED);
    s = (tcps__sess *)tcps__calloc(&c->cfg.allocator, 1, sizeof *s);
    if (!s) return NULL;
    s->spare = (tcps__tomb *)tcps__calloc(&c->cfg.allocator, 1, sizeof *s->spare);
    if (!s->spare) {
        tcps__free(&c->cfg.allocator, s, sizeof *s);
        return NULL;
    }
    s->e.hash = h;
    s->e.key = *k;
    s->e.kind = TCPS__KIND_SESS;
    if (tcps__table_insert(c, &s->e) != TCPS_OK) {
        tcps__free(&c->cfg.allocator, s->spare, sizeof *s->spare);
        tcps__free(&c->cfg.allocator, s, sizeof *s);
        return NULL;
    }
    if ((fl & (TCPS_TH_SYN | TCPS_TH_ACK)) == TCPS_TH_SYN) src_is_client = 1;
    else if ((fl & (TCPS_TH_SYN | TCPS_TH_ACK)) == (TCPS_TH_SYN | TCPS_TH_ACK)) src_is_client = 0;
    else if ((c->cfg.flags & TCPS_F_PORT_HEURISTIC) && g->sport < 1024 && g->dport >= 1024) src_is_client = 0;
    else if ((c->cfg.flags & TCPS_F_PORT_HEURISTIC) && g->dport < 1024 && g->sport >= 1024) src_is_client = 1;
    else src_is_client = 1;
    s->client_side = (uint8_t)(src_is_client ? src_side : !src_side);
    if (src_is_client) {
        tcps__endpoint(&s->pub.client, g->src, g->sport, g->ip_version);
        tcps__endpoint(&s->pub.server, g->dst, g->dport, g->ip_version);
    } else {
        tcps__endpoint(&s->pub.client, g->dst, g->dport, g->ip_version);
        tcps__endpoint(&s->pub.server, g->src, g->sport, g->ip_version);
    }
    s->pub.first_dir = src_is_client ? TCPS_C2S : TCPS_S2C;
    s->pub.stream = c->stats.sessions++;
    s->pub.first_ts = s->pub.last_ts = g->ts;
    s->pub.first_frame = s->pub.last_frame = g->frame;
    s->pub.vlan_count = g->vlan_count;
    memcpy(s->pub.vlan, g->vlan, sizeof s->pub.vlan);
    for (i = 0; i < 2; i++) {
        s->d[i].idx = (uint8_t)i;
        s->d[i].sess = s;
        s->pub.dir[i].wscale = 0xff;
    }
    tcps__lru_front(c, s);
    c->stats.sessions_live++;
    if (c->stats.sessions_live > c->stats.sessions_peak) c->stats.sessions_peak = c->stats.sessions_live;
    tcps__event_init(c, &ev, TCPS_EV_OPEN, s, s->pub.first_dir);
    tcps__emit(c, &ev);
    return s;
}

/* What a segment tells of its session whatever it carries: counts, times,
   options, flag anomalies, the handshake. */
TCPS__PRIVATE void tcps__seg_notes(tcps__sess *s, int dir, const tcps_segment *g) {
    tcps_dir_stats *ds = &s->pub.dir[dir];
    uint16_t fl = g->flags;
    ds->packets++;
    s->pub.packets++;
    if (tcps_time_cmp(g->ts, s->pub.last_ts) > 0) s->pub.last_ts = g->ts;
    s->pub.last_frame = g->frame;
    ds->options |= (uint16_t)g->opt.present;
    if (((fl & TCPS_TH_SYN) && (fl & (TCPS_TH_FIN | TCPS_TH_RST))) ||
        !(fl & (TCPS_TH_SYN | TCPS_TH_FIN | TCPS_TH_RST | TCPS_TH_ACK)))
        ds->anomalies |= TCPS_ANOM_BAD_FLAGS;
    if (fl & TCPS_TH_URG) ds->anomalies |= TCPS_ANOM_URGENT;
    if (fl & TCPS_TH_SYN) {
        ds->syn_seen = 1;
        ds->syn_options = (uint16_t)g->opt.present;
        if (g->opt.present & TCPS_OPT_MSS) ds->mss = g->opt.mss;
        if (g->opt.present & TCPS_OPT_WSCALE) ds->wscale = g->opt.wscale;
        if (!(fl & TCPS_TH_ACK) && dir == TCPS_C2S) s->pub.handshake |= 1;
        if ((fl & TCPS_TH_ACK) && dir == TCPS_S2C) s->pub.handshake |= 2;
    } else if ((fl & TCPS_TH_ACK) && dir == TCPS_C2S && (s->pub.handshake & 2)) {
        s->pub.handshake |= 4;
    }
}

/* Start (or re-base) direction d at segment g; 1 when it was not started. */
TCPS__PRIVATE int tcps__seg_start(tcps__sess *s, int dir, const tcps_segment *g, uint32_t seq_data) {
    tcps__dir *d = &s->d[dir], *p = &s->d[!dir];
    int syn = (g->flags & TCPS_TH_SYN) != 0, fresh = !d->started;
    /* a SYN-ACK whose ACK lies before the peer's SYN (or absurdly far
       beyond what it sent) acknowledges another SYN: a late one of an
       earlier connection on the 4-tuple. An ACK beyond the SYN by its data
       (Fast Open) is this connection's. */
    int64_t ao = (g->flags & TCPS_TH_ACK) && p->started ? tcps__unwrap(p, g->ack) : 0;
    int other_conn = syn && s->pub.dir[!dir].syn_seen && (ao < 0 || ao - (int64_t)p->next > TCPS__ACK_SANITY);
    if (fresh || (syn && !other_conn && d->next == 0 && d->heap.n == 0 && s->pub.dir[dir].missing == 0 &&
                  d->base_seq != seq_data)) {
        /* tshark's base sequence: the SYN's, or one before the first byte
           seen (so a later SYN with that number is not taken for a new
           connection). A SYN re-bases a direction that has had no data
           yet: the packets before it (a stray RST, say) did not start it. */
        d->started = 1;
        d->isn = syn ? g->seq : g->seq - 1;
        d->base_seq = seq_data;
        d->next = 0;
        d->fin = d->finished = d->ack_seen = 0; /* in the old numbering: void */
        d->acked = 0;
        s->pub.dir[dir].isn = d->isn;
    }
    return fresh;
}

/* The payload of g, from stream offset start of direction dir. */
TCPS__PRIVATE int tcps__seg_payload(tcps_ctx *c, tcps__sess *s, int dir, const tcps_segment *g,
                                    int64_t start) {
    tcps__dir *d = &s->d[dir];
    tcps_dir_stats *ds = &s->pub.dir[dir];
    uint16_t fl = g->flags;
    int64_t end = start + (int64_t)g->payload_len;
    const uint8_t *ptr = g->payload.ptr;
    uint32_t caplen = (uint32_t)TCPS__MIN(g->payload.len, g->payload_len), wirelen = g->payload_len;
    ds->payload_packets++;
    if (fl & TCPS_TH_SYN) ds->anomalies |= TCPS_ANOM_SYN_DATA;
    if (fl & TCPS_TH_FIN) ds->anomalies |= TCPS_ANOM_FIN_DATA;
    if (fl & TCPS_TH_RST) ds->anomalies |= TCPS_ANOM_RST_DATA;
    if (d->fin && end > (int64_t)d->fin_off) ds->anomalies |= TCPS_ANOM_DATA_AFTER_FIN;
    if (s->state == TCPS__CLOSING && s->end_hint == TCPS_END_RST && !(fl & TCPS_TH_RST))
        ds->anomalies |= TCPS_ANOM_DATA_AFTER_RST;
    if (end <= 0) {
        ds->anomalies |= TCPS_ANOM_DATA_BEFORE_START;
        ds->dup_bytes += wirelen;
        return TCPS_OK;
    }
    if (start < 0) { /* the part before the first tracked byte is dropped */
        uint32_t cut = (uint32_t)-start;
        ds->anomalies |= TCPS_ANOM_DATA_BEFORE_START;
        ds->dup_bytes += cut;
        if (cut && caplen) ptr += TCPS__MIN(cut, caplen);
        caplen -= TCPS__MIN(cut, caplen);
        wirelen -= cut;
        start = 0;
    }
    return tcps__data(c, s, d, (uint64_t)start, ptr, caplen, wirelen);
}

/* A RST of direction dir: would the receiver take it? Its ACK, if any, must
   acknowledge at least the peer's SYN (RFC 9293 3.10.7.3), and its sequence
   number must lie roughly in the window. Injected resets fail one or the
   other; the connection then goes on. */
TCPS__PRIVATE int tcps__seg_rst_ok(tcps__sess *s, int dir, const tcps_segment *g, int fresh) {
    tcps__dir *d = &s->d[dir], *p = &s->d[!dir];
    if ((g->flags & TCPS_TH_ACK) && p->started) {
        int64_t ao = tcps__unwrap(p, g->ack);
        if (ao < 0 || ao - (int64_t)p->next > TCPS__ACK_SANITY) return 0;
    }
    if (!fresh) {
        int64_t ro = tcps__unwrap(d, g->seq) - (int64_t)d->next;
        if (ro < -65536 || ro > TCPS__ACK_SANITY) return 0;
    }
    return 1;
}

/* One segment of session s, travelling in direction dir. */
TCPS__PRIVATE int tcps__segment(tcps_ctx *c, tcps__sess *s, int dir, const tcps_segment *g) {
    tcps__dir *d = &s->d[dir], *p = &s->d[!dir];
    uint16_t fl = g->flags;
    uint32_t seq_data = g->seq + ((fl & TCPS_TH_SYN) ? 1u : 0u);
    int r = TCPS_OK, fresh;

    tcps__seg_notes(s, dir, g);
    /* The ACK first: the peer's bytes it covers come before this data. */
    if (fl & TCPS_TH_ACK) tcps__acked(c, s, p, g->ack);
    fresh = tcps__seg_start(s, dir, g, seq_data);
    if (g->payload_len) r = tcps__seg_payload(c, s, dir, g, tcps__unwrap(d, seq_data));
    if (fl & TCPS_TH_FIN) {
        int64_t fo = tcps__unwrap(d, seq_data) + (int64_t)g->payload_len;
        s->pub.dir[dir].fin_seen = 1;
        if (!d->fin && fo >= 0) {
            d->fin = 1;
            d->fin_off = (uint64_t)fo;
        }
        if (d->fin && d->next >= d->fin_off) d->finished = 1;
    }
    if (fl & TCPS_TH_RST) {
        s->pub.dir[dir].rst_seen = 1;
        if (tcps__seg_rst_ok(s, dir, g, fresh)) tcps__start_closing(c, s, TCPS_END_RST);
    }
    if (d->finished && p->finished) tcps__start_closing(c, s, TCPS_END_FIN);
    return r;
}

TCPS__PRIVATE int tcps__feed(tcps_ctx *c, const tcps_segment *g) {
    tcps__key k;
    uint64_t h;
    tcps__entry *e;
    tcps__sess *s = NULL;
    int side, dir, syn_only;

    if (g->ip_version != 4 && g->ip_version != 6) return TCPS_E_ARG;
    c->stats.segments++;
    c->cur_ts = g->ts;
    c->cur_frame = g->frame;
    if (!c->have_now || tcps_time_cmp(g->ts, c->now) > 0) c->now = g->ts;
    c->have_now = 1;
    tcps__expire(c);
    if ((c->cfg.flags & TCPS_F_VERIFY_CHECKSUMS) &&
        (g->checksum == TCPS_CSUM_BAD || g->ip_checksum == TCPS_CSUM_BAD)) {
        c->stats.bad_checksum++;
        return TCPS_OK;
    }
    side = tcps__make_key(c, g, &k);
    h = tcps__hash_key(&k, c->seed);
    e = tcps__lookup(c, &k, h);
    syn_only = (g->flags & (TCPS_TH_SYN | TCPS_TH_ACK)) == TCPS_TH_SYN;
    if (e && e->kind == TCPS__KIND_TOMB) {
        tcps__tomb *t = (tcps__tomb *)e;
        if (tcps__tomb_late(c, t, side, g)) return TCPS_OK;
        tcps__tomb_remove(c, t);
        e = NULL;
    }
    if (e) {
        s = (tcps__sess *)e;
        dir = side == s->client_side ? TCPS_C2S : TCPS_S2C;
        if (syn_only && s->d[dir].started && s->d[dir].isn != g->seq) { /* port reuse */
            tcps__finalize(c, s, TCPS_END_REUSED);
            s = NULL;
        }
    }
    if (!s) {
        s = tcps__new_session(c, &k, h, g, side);
        if (!s) {
            c->stats.nomem_segments++;
            return tcps__set_error(&c->err, TCPS_E_NOMEM, 0, NULL), TCPS_E_NOMEM;
        }
    } else if (c->lru_head != s) {
        tcps__lru_unlink(c, s);
        tcps__lru_front(c, s);
    }
    dir = side == s->client_side ? TCPS_C2S : TCPS_S2C;
    if (tcps__older_connection(s, dir, g)) {
        c->stats.late_segments++;
        c->stats.late_bytes += g->payload_len;
        return TCPS_OK;
    }
    c->stats.session_segments++;
    if (tcps__segment(c, s, dir, g) == TCPS_E_NOMEM) {
        tcps__set_error(&c->err, TCPS_E_NOMEM, 0, "out of memory buffering a segment");
        return TCPS_E_NOMEM;
    }
    return TCPS_OK;
}

TCPS__PRIVATE void tcps__free_graveyard(tcps_ctx *c) {
    while (c->grave_nodes) {
        tcps__node *n = c->grave_nodes;
        c->grave_nodes = n->next_free;
        tcps__free(&c->cfg.allocator, n, tcps__node_cost(n));
    }
    while (c->grave_sess) {
        tcps__sess *s = c->grave_sess;
        c->grave_sess = s->next_free;
        if (s->spare) tcps__free(&c->cfg.allocator, s->spare, sizeof *s->spare);
        tcps__free(&c->cfg.allocator, s, sizeof *s);
    }
}

/* Before and after each public feeding call. */
TCPS__PRIVATE void tcps__begin(tcps_ctx *c) {
    c->aborted = 0;
    c->oom = 0;
    c->last_dir = NULL;
    c->last_ptr = NULL;
    if (c->pull) return;
    tcps__drain(c);
    if (c->qpos == c->qlen) tcps__free_graveyard(c);
}

TCPS__PRIVATE int tcps__end(tcps_ctx *c, int r) {
    if (!c->pull && c->qpos == c->qlen) tcps__free_graveyard(c);
    c->last_ptr = NULL;
    c->last_dir = NULL;
    if (r == TCPS_OK && c->oom) {
        tcps__set_error(&c->err, TCPS_E_NOMEM, 0, "out of memory queueing an event");
        r = TCPS_E_NOMEM;
    }
    if (r == TCPS_OK && c->aborted) {
        tcps__set_error(&c->err, TCPS_E_ABORTED, 0, NULL);
        r = TCPS_E_ABORTED;
    }
    c->stats.decode = c->dec ? tcps_decoder_stats(c->dec) : NULL;
    return r;
}

TCPS_API int tcps_create(tcps_ctx **out, const tcps_config *cfg) {
    tcps_allocator al;
    tcps_decoder_config dc;
    tcps_ctx *c;
    int r;
    if (!out) return TCPS_E_ARG;
    *out = NULL;
    r = tcps__alloc_init(&al, cfg ? &cfg->allocator : NULL);
    if (r != TCPS_OK) return r;
    c = (tcps_ctx *)tcps__calloc(&al, 1, sizeof *c);
    if (!c) return TCPS_E_NOMEM;
    if (cfg) c->cfg = *cfg;
    c->cfg.allocator = al;
    if (c->cfg.overlap != TCPS_OVERLAP_LAST) c->cfg.overlap = TCPS_OVERLAP_FIRST;
    if (!c->cfg.max_sessions) c->cfg.max_sessions = TCPS__DEF_MAX_SESSIONS;
    if (!c->cfg.max_buffer_dir) c->cfg.max_buffer_dir = TCPS__DEF_MAX_BUFFER_DIR;
    if (!c->cfg.max_buffer_total) c->cfg.max_buffer_total = TCPS__DEF_MAX_BUFFER_TOTAL;
    if (!c->cfg.linger_ms) c->cfg.linger_ms = TCPS__DEF_LINGER_MS;
    c->max_tombs = TCPS__MAX(c->cfg.max_sessions / 16, 1024u);
    c->pull = (c->cfg.flags & TCPS_F_PULL) != 0;
    c->seed = (uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ull;
    memset(&dc, 0, sizeof dc);
    dc.allocator = al;
    if (c->cfg.flags & TCPS_F_VERIFY_CHECKSUMS) dc.flags |= TCPS_DECODE_VERIFY_CHECKSUMS;
    if (c->cfg.flags & TCPS_F_NO_DEFRAG) dc.flags |= TCPS_DECODE_NO_DEFRAG;
    if (c->cfg.flags & TCPS_F_NO_TUNNELS) dc.flags |= TCPS_DECODE_NO_TUNNELS;
    dc.frag_max_datagrams = c->cfg.frag_max_datagrams;
    dc.frag_max_bytes = c->cfg.frag_max_bytes;
    dc.frag_timeout_ms = c->cfg.frag_timeout_ms;
    r = tcps_decoder_create(&c->dec, &dc);
    if (r != TCPS_OK) {
        tcps__free(&al, c, sizeof *c);
        return r;
    }
    tcps_decoder_config_effective(c->dec, &dc);
    c->cfg.frag_max_datagrams = dc.frag_max_datagrams;
    c->cfg.frag_max_bytes = dc.frag_max_bytes;
    c->cfg.frag_timeout_ms = dc.frag_timeout_ms;
    c->stats.decode = tcps_decoder_stats(c->dec);
    tcps__set_error(&c->err, TCPS_OK, 0, NULL);
    *out = c;
    return TCPS_OK;
}

TCPS_API void tcps_destroy(tcps_ctx *c) {
    tcps_allocator al;
    if (!c) return;
    al = c->cfg.allocator;
    while (c->lru_head) {
        tcps__sess *s = c->lru_head;
        int i;
        c->lru_head = s->lnext;
        for (i = 0; i < 2; i++) tcps__free_dir(c, &s->d[i]);
        if (s->spare) tcps__free(&al, s->spare, sizeof *s->spare);
        tcps__free(&al, s, sizeof *s);
    }
    while (c->tomb_head) {
        tcps__tomb *t = c->tomb_head;
        c->tomb_head = t->next;
        tcps__free(&al, t, sizeof *t);
    }
    tcps__free_graveyard(c);
    tcps__free(&al, c->buckets, c->nbuckets * sizeof *c->buckets);
    tcps__free(&al, c->scratch.v, c->scratch.cap * sizeof *c->scratch.v);
    tcps__free(&al, c->queue, c->qcap * sizeof *c->queue);
    tcps__free(&al, c->qstash, c->qscap * sizeof *c->qstash);
    tcps__free(&al, c->stash, c->stash_cap);
    tcps_decoder_destroy(c->dec);
    tcps__free(&al, c, sizeof *c);
}

TCPS_API int tcps_feed_segment(tcps_ctx *c, const tcps_segment *seg) {
    if (!c || !seg) return TCPS_E_ARG;
    tcps__begin(c);
    return tcps__end(c, tcps__feed(c, seg));
}

TCPS__PRIVATE int tcps__feed_packet(tcps_ctx *c, const tcps_packet *pkt) {
    tcps_segment seg;
    int r;
    c->stats.packets++;
    r = tcps_decode(c->dec, pkt, &seg);
    if (r < 0) {
        tcps__set_error(&c->err, r, pkt->offset, r == TCPS_E_NOMEM ? "out of memory decoding a packet" : NULL);
        return r;
    }
    return r == 1 ? tcps__feed(c, &seg) : TCPS_OK;
}

TCPS_API int tcps_feed_packet(tcps_ctx *c, const tcps_packet *pkt) {
    if (!c || !pkt) return TCPS_E_ARG;
    tcps__begin(c);
    return tcps__end(c, tcps__feed_packet(c, pkt));
}

TCPS_API int tcps_feed_frame(tcps_ctx *c, uint32_t linktype, tcps_time ts, const void *data, size_t caplen,
                             size_t origlen) {
    tcps_packet pkt;
    if (!c || (!data && caplen) || caplen > UINT32_MAX) return TCPS_E_ARG;
    memset(&pkt, 0, sizeof pkt);
    pkt.ts = ts;
    pkt.frame = ++c->frames;
    pkt.linktype = linktype;
    pkt.origlen = (uint32_t)TCPS__MIN(TCPS__MAX(origlen, caplen), (size_t)UINT32_MAX);
    pkt.fcs_len = -1;
    pkt.data.ptr = (const uint8_t *)data;
    pkt.data.len = caplen;
    return tcps_feed_packet(c, &pkt);
}

/* Close every live session, in stream order. */
typedef struct tcps__by_stream {
    uint64_t stream;
    tcps__sess *s;
} tcps__by_stream;

/* Heap sort of (stream, session) pairs: no recursion, no extra memory, and
   the keys sit in the array, not behind the pointers. */
TCPS__PRIVATE void tcps__sift(tcps__by_stream *v, size_t j, size_t n) {
    for (;;) {
        size_t l = 2 * j + 1, m = j;
        tcps__by_stream t;
        if (l < n && v[l].stream > v[m].stream) m = l;
        if (l + 1 < n && v[l + 1].stream > v[m].stream) m = l + 1;
        if (m == j) return;
        t = v[j], v[j] = v[m], v[m] = t;
        j = m;
    }
}

TCPS__PRIVATE void tcps__finish(tcps_ctx *c) {
    while (c->lru_head) {
        size_t n = 0, cap = (size_t)c->stats.sessions_live, i;
        tcps__by_stream *v = (tcps__by_stream *)tcps__calloc(&c->cfg.allocator, cap ? cap : 1, sizeof *v);
        tcps__sess *s;
        if (!v) { /* no memory to sort: close in activity order */
            while (c->lru_tail) tcps__finalize(c, c->lru_tail, TCPS_END_EOF);
            break;
        }
        for (s = c->lru_head; s && n < cap; s = s->lnext) v[n].stream = s->pub.stream, v[n++].s = s;
        for (i = n / 2; i-- > 0;) tcps__sift(v, i, n);
        for (i = n; i-- > 1;) {
            tcps__by_stream t = v[0];
            v[0] = v[i], v[i] = t;
            tcps__sift(v, 0, i);
        }
        for (i = 0; i < n; i++) tcps__finalize(c, v[i].s, TCPS_END_EOF);
        tcps__free(&c->cfg.allocator, v, (cap ? cap : 1) * sizeof *v);
    }
}

TCPS_API int tcps_finish(tcps_ctx *c) {
    if (!c) return TCPS_E_ARG;
    tcps__begin(c);
    tcps__finish(c);
    return tcps__end(c, TCPS_OK);
}

TCPS_API int tcps_run(tcps_ctx *c, tcps_reader *r) {
    tcps_packet pkt;
    int rc;
    if (!c || !r) return TCPS_E_ARG;
    if (c->pull) return TCPS_E_STATE;
    for (;;) {
        rc = tcps_reader_next(r, &pkt);
        if (rc == TCPS_DONE) break;
        if (rc < 0) {
            const tcps_error *re = tcps_reader_error(r);
            tcps_finish(c);
            tcps__set_error(&c->err, rc, re->offset, re->message);
            return rc;
        }
        rc = tcps_feed_packet(c, &pkt);
        if (rc < 0) return rc;
    }
    return tcps_finish(c);
}

#define TCPS__PULL_READING 0
#define TCPS__PULL_FINISHED 1
#define TCPS__PULL_DONE 2

TCPS_API int tcps_next(tcps_ctx *c, tcps_reader *r, tcps_event *ev) {
    tcps_packet pkt;
    int rc;
    if (!c || !ev) return TCPS_E_ARG;
    c->pull = 1;
    if (!r) {
        if (c->qpos < c->qlen) {
            *ev = c->queue[c->qpos++];
            return TCPS_OK;
        }
        c->qpos = c->qlen = 0;
        tcps__free_graveyard(c);
        return TCPS_DONE;
    }
    for (;;) {
        if (c->qpos < c->qlen) {
            *ev = c->queue[c->qpos++];
            return TCPS_OK;
        }
        c->qpos = c->qlen = 0;
        tcps__free_graveyard(c);
        if (c->pull_state == TCPS__PULL_FINISHED) {
            c->pull_state = TCPS__PULL_DONE;
            if (c->pull_err) return c->pull_err;
        }
        if (c->pull_state == TCPS__PULL_DONE) return c->pull_err ? c->pull_err : TCPS_DONE;
        rc = tcps_reader_next(r, &pkt);
        if (rc == TCPS_OK) {
            tcps__begin(c);
            rc = tcps__end(c, tcps__feed_packet(c, &pkt));
            if (rc < 0) return rc;
            continue;
        }
        if (rc < 0) {
            const tcps_error *re = tcps_reader_error(r);
            tcps__set_error(&c->err, rc, re->offset, re->message);
            c->pull_err = rc;
        }
        tcps__begin(c);
        tcps__finish(c);
        rc = tcps__end(c, TCPS_OK);
        c->pull_state = TCPS__PULL_FINISHED;
        if (rc < 0) return rc;
    }
}

TCPS_API const tcps_stats *tcps_ctx_stats(const tcps_ctx *c) { return c ? &c->stats : NULL; }
TCPS_API const tcps_error *tcps_ctx_error(const tcps_ctx *c) { return c ? &c->err : NULL; }
TCPS_API void tcps_config_effective(const tcps_ctx *c, tcps_config *out) {
    if (c && out) *out = c->cfg;
}

/* -------------------------------------------------- end section: sessions */

#ifdef __cplusplus
}
#endif

#endif /* TCPSESSION_IMPLEMENTATION_DONE */
#endif /* TCPSESSION_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
MIT License

Copyright (c) 2026 the tcpsession authors

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
HISTORY
  0.1.0  first release: pcap/pcapng reader, decoder, sessions and reassembly
*/
