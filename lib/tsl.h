/* tsl.h - the shared layer between tcpsession.h and its users (the
   tcpsession command, the Python and Lua bindings, the tests).

   What is said the same way everywhere is written once here:
     - digests of delivered bytes, through libcrypto's EVP interface;
     - the text of an endpoint ("192.0.2.1:80", "[2001:db8::1]:443"), both
       ways, and of a timestamp;
     - JSON string text;
     - the `list --json` row;
     - the session collector: a capture read with tcps_next, each session's
       counters and digests kept while it is open, hooks for what a user adds.

   Nothing here prints, exits, forks or reads argv: errors are results
   (TCPS_* codes) with a message in the caller's buffer. The names of end
   reasons, gap reasons, anomaly and option bits are the header's
   (tcps_end_name and its siblings). */
#ifndef TSL_H
#define TSL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "tcpsession.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- memory */

/* Every allocation of the shared layer goes through a tcps_allocator (the
   caller's; libcrypto's digest state and libarchive's are their own). */

/* Fill in libc's functions when a has no alloc or no free. */
void tsl_mem_default(tcps_allocator *a);
/* p (old bytes) resized to size: through a->realloc, or alloc, copy and
   free; p NULL allocates. NULL when out of memory (p is then unchanged). */
void *tsl_mem_realloc(const tcps_allocator *a, void *p, size_t old, size_t size);

/* ------------------------------------------------------------ digests */

#define TSL_SHA256 0
#define TSL_MD5 1
#define TSL_HEX_MAX 65 /* the longest hex digest with its NUL (SHA-256) */

typedef struct tsl_hash tsl_hash;

/* A running digest of kind TSL_SHA256 or TSL_MD5; NULL when out of memory. */
tsl_hash *tsl_hash_new(int kind);
void tsl_hash_update(tsl_hash *h, const void *p, size_t n);
/* The digest of everything since creation (or the last call) as lower-case
   hex with its NUL; the hash starts over empty. */
void tsl_hash_hex(tsl_hash *h, char hex[TSL_HEX_MAX]);
void tsl_hash_free(tsl_hash *h);
/* The digest of one buffer; 0, or -1 when out of memory (hex is then ""). */
int tsl_digest_hex(int kind, const void *p, size_t n, char hex[TSL_HEX_MAX]);

/* A digest thread: pieces added are copied (into 128 slots of 64 KiB)
   and hashed into their tsl_hash by one worker thread, in the order they
   were added, while the caller goes on. A digest may be read (tsl_hash_hex)
   once tsl_hashq_wait returned. One thread adds, waits and frees.
   tsl_hashq_new returns TCPS_OK, TCPS_E_NOMEM, or TCPS_E_LIMIT when no
   thread could be started. */
typedef struct tsl_hashq tsl_hashq;
int tsl_hashq_new(tsl_hashq **q, const tcps_allocator *a);
void tsl_hashq_add(tsl_hashq *q, tsl_hash *h, const void *p, size_t n);
void tsl_hashq_wait(tsl_hashq *q); /* every piece added so far is hashed */
void tsl_hashq_free(tsl_hashq *q); /* waits, stops the thread, frees */

/* --------------------------------------------------------------- text */

#define TSL_ENDPOINT_MAX 56 /* "[" 45-byte IPv6 "]:" 5-digit port, NUL */

/* "192.0.2.1:80" or "[2001:db8::1]:443" (RFC 5952 text). Returns buf. */
char *tsl_endpoint_text(const tcps_endpoint *e, char *buf, size_t size);
/* The address alone, dotted IPv4 or RFC 5952 IPv6. Returns buf. */
char *tsl_addr_text(const tcps_endpoint *e, char *buf, size_t size);
/* The inverse of tsl_endpoint_text on n bytes of s: an IPv4 address or a
   bracketed IPv6 one, ':', a port of 1 to 5 digits (0-65535), nothing else
   (no blanks, no sign). Returns 0, or -1 with *e zeroed. */
int tsl_endpoint_parse(const char *s, size_t n, tcps_endpoint *e);
/* "A,B": two endpoints of the same IP version. 0 or -1. */
int tsl_endpoint_pair_parse(const char *s, size_t n, tcps_endpoint pair[2]);
int tsl_endpoint_eq(const tcps_endpoint *a, const tcps_endpoint *b);
/* The session is between a and b, in either direction. */
int tsl_session_between(const tcps_session *s, const tcps_endpoint *a, const tcps_endpoint *b);
/* "seconds.nanoseconds" with 9 digits. Returns buf. */
char *tsl_time_text(tcps_time t, char *buf, size_t size);

/* n bytes as the inside of a JSON string: '"' and '\\' escaped, \n \r \t,
   every other byte below 0x20 or above 0x7e as \u00XX of its value (a
   reader gets one code point 0-255 per byte; nothing is lost). */
void tsl_json_chars(FILE *f, const void *s, size_t n);
/* The same with the quotes. */
void tsl_json_str(FILE *f, const void *s, size_t n);

/* ------------------------------------------------ the list --json row */

typedef struct tsl_row {
    uint64_t stream, packets;
    tcps_endpoint client, server;
    uint64_t bytes[2], missing[2];   /* [TCPS_C2S], [TCPS_S2C] */
    char sha256[2][TSL_HEX_MAX];     /* "" when not computed */
    tcps_time first, last;
    int end;                         /* TCPS_END_*, 0 while open */
} tsl_row;

/* The row's members, in the documented order, without the braces:
   "stream":0,...,"end":"fin","capture":"NAME". capture NULL leaves the
   capture member out. For writers that add members after it. */
void tsl_row_members(FILE *f, const tsl_row *r, const char *capture);
/* One line of `tcpsession list --json`: {members}\n */
void tsl_row_json(FILE *f, const tsl_row *r, const char *capture);
/* The same into a string the caller frees with free(); NULL when out of memory. */
char *tsl_row_json_string(const tsl_row *r, const char *capture);

/* ------------------------------------------------------------ captures */

typedef struct tsl_capture {
    tcps_reader *rd;
    uint64_t size; /* bytes of the file; 0 when unknown (a pipe, gzip) */
    void *gz_, *map_;
    size_t map_len_;
} tsl_capture;

/* Open a capture for reading: a path, or "-" for stdin; gzip-compressed
   input (known by its first two bytes, whatever the name) is decompressed
   as it is read; a plain regular file is mapped into memory (it must not
   shrink while it is read). Returns TCPS_OK, or a TCPS_E_* code with a message in err
   (the path is not in it). A directory is refused. */
int tsl_capture_open(tsl_capture *c, const char *path, char *err, size_t errlen);
void tsl_capture_close(tsl_capture *c);

/* ---------------------------------------------------------- collector */

typedef struct tsl_dir {
    uint64_t bytes, missing, gaps, chunks;
    char sha256[TSL_HEX_MAX]; /* hex once the session closed; "" without TSL_HASH */
} tsl_dir;

/* A chunk of delivered bytes (TSL_KEEP_CHUNKS), in exchange order */
typedef struct tsl_chunk {
    uint64_t offset, length; /* stream offset of its first byte; its bytes */
    uint64_t pos;            /* where they are in the direction's kept bytes */
    uint64_t frame, data_frame;
    tcps_time ts;
    int dir;
} tsl_chunk;

/* A gap (TSL_KEEP_GAPS) */
typedef struct tsl_gap {
    uint64_t offset, length, frame;
    tcps_time ts;
    int dir, reason; /* TCPS_GAP_* */
} tsl_gap;

/* Kept bytes (TSL_KEEP_DATA) are a list of blocks that double from 256
   bytes to 64000: nothing is copied as they grow, and blocks stay small
   enough for the allocator to reuse from one session to the next (one
   buffer per direction made big sessions map and unmap memory: a page
   fault per 4 KiB, more than the reassembly costs). */
typedef struct tsl_block {
    struct tsl_block *next;
    size_t len, cap;
    unsigned char d[1]; /* cap bytes */
} tsl_block;

/* A session as the collector keeps it. Read-only for its users but for
   user and held. */
typedef struct tsl_session {
    const tcps_session *s;  /* the engine's session while open; once closed
                               (or the collector freed), &final */
    uint64_t stream;        /* copies of s's */
    tcps_endpoint client, server;
    int first_dir;          /* TCPS_C2S when the client sent the first packet */
    tsl_dir dir[2];         /* [TCPS_C2S], [TCPS_S2C] */
    int end;                /* TCPS_END_* once closed, 0 before */
    int closed;
    void *user;             /* the caller's per-session state */
    int held;               /* set by a caller that takes over the collector's
                               reference to an open session: see
                               tsl_collector_free */
    tsl_block *data[2];     /* TSL_KEEP_DATA: each direction's bytes */
    uint64_t kept[2];       /* their count */
    tsl_chunk *chunks;      /* TSL_KEEP_CHUNKS */
    size_t nchunks;
    tsl_gap *gaps;          /* TSL_KEEP_GAPS */
    size_t ngaps;
    unsigned keep;          /* TSL_HASH and the TSL_KEEP_* still kept */
    tcps_session final;     /* the engine's session as it closed */
    /* private */
    tcps_allocator mem_;
    tsl_hash *sha_[2];
    tsl_block *tail_[2];
    size_t chcap_, gpcap_;
    unsigned refs_;
    struct tsl_session *prev_, *next_;
} tsl_session;

#define TSL_HASH 0x1        /* SHA-256 of each direction's delivered bytes */
#define TSL_KEEP_DATA 0x2   /* keep each direction's bytes */
#define TSL_KEEP_CHUNKS 0x4 /* keep the chunks' places */
#define TSL_KEEP_GAPS 0x8   /* keep the gaps */
#define TSL_HASH_THREAD 0x10 /* with TSL_HASH: digests on a thread of their own
                                (tsl_hashq), when one can be started: the
                                collector is still used from one thread only */

/* The session row of a closed (or closing) session. */
void tsl_session_row(const tsl_session *ss, tsl_row *r);
/* Copy n kept bytes of direction dir from position pos into dst; returns
   how many there were (fewer at the end). */
size_t tsl_session_copy(const tsl_session *ss, int dir, uint64_t pos, void *dst, size_t n);
/* Drop what is kept of what (TSL_KEEP_* bits) now; the counters stay. */
void tsl_session_release(tsl_session *ss, unsigned what);
/* Free a session the caller owns: one a close event handed over, or a held
   one after tsl_collector_free. With references taken by
   tsl_session_hold, this drops one and frees with the last. */
void tsl_session_free(tsl_session *ss);
/* One more reference to ss (open or closed): each reference is dropped by
   one tsl_session_free. A binding gives one to each object that wraps ss,
   so the session lives as long as the last of them and of the collector. */
void tsl_session_hold(tsl_session *ss);

/* The collector: reassembles with the engine in pull mode and keeps a
   tsl_session per session, its counters and digests (and with TSL_KEEP_*
   its bytes, chunks and gaps, under the config's allocator). Packets come
   from a reader (tsl_collector_read) or are fed; tsl_collector_next hands
   out the events one at a time, each with its session. A caller may stop
   taking them at any time and take the rest later: nothing is dropped.

   Ownership: the collector owns a session while it is open. The close event
   hands it to the caller, who frees it with tsl_session_free (at once, or
   whenever it is done with it). A caller that keeps a reference to an open
   session takes one (tsl_session_hold), or sets ss->held to take over the
   collector's: tsl_collector_free then copies the session's numbers into
   final and drops its own reference only. */
typedef struct tsl_collector tsl_collector;

/* cfg may be NULL (defaults); its callbacks are not used; its allocator,
   when set, is the collector's too (the digests' state is libcrypto's).
   flags: TSL_HASH, TSL_KEEP_*. Returns TCPS_OK or TCPS_E_NOMEM/TCPS_E_ARG. */
int tsl_collector_new(tsl_collector **out, const tcps_config *cfg, unsigned flags);
/* Read packets from rd from now on, when no event is left (rd stays the
   caller's; keep it open while the collector reads it). At its end, or
   at an error of the capture, every open session is closed. */
void tsl_collector_read(tsl_collector *c, tcps_reader *rd);
/* Feed packets yourself (no reader): their events are queued; take them
   with tsl_collector_next before the packet's memory goes away. */
int tsl_collector_feed_packet(tsl_collector *c, const tcps_packet *pkt);
int tsl_collector_feed_frame(tsl_collector *c, uint32_t linktype, tcps_time ts, const void *frame,
                             size_t caplen, size_t origlen);
/* End of input: every open session closes (its events are queued). */
int tsl_collector_finish(tsl_collector *c);
/* The next event, with *ss its session. TCPS_OK; TCPS_DONE when none is
   left (with a reader: after it was read to its end, or to a fault of the
   capture, and every session closed: see tsl_collector_error);
   TCPS_E_NOMEM when the event could not be kept (it comes again on the
   next call); or the engine's error. ev->session is the engine's: use
   (*ss)->s. For a close event, *ss is now the caller's. */
int tsl_collector_next(tsl_collector *c, tcps_event *ev, tsl_session **ss);
/* The first error: the capture's (with its byte offset) or the context's;
   code 0 when none. */
const tcps_error *tsl_collector_error(const tsl_collector *c);
/* The context's statistics (decode points into the collector). */
const tcps_stats *tsl_collector_stats(const tsl_collector *c);
uint64_t tsl_collector_sessions(const tsl_collector *c); /* opened so far */
/* Free the collector and every session it alone refers to (the others are
   left to their holders, closed == 0, s == &final). */
void tsl_collector_free(tsl_collector *c);

/* Every hook may be NULL. A non-zero return stops the run, which returns
   that value. */
typedef struct tsl_hooks {
    int (*open)(tsl_session *ss, const tcps_event *ev, void *user);
    int (*data)(tsl_session *ss, const tcps_event *ev, void *user);
    int (*gap)(tsl_session *ss, const tcps_event *ev, void *user);
    int (*close)(tsl_session *ss, const tcps_event *ev, void *user); /* ss final */
    /* after each packet read; for progress lines. sessions: opened so far */
    int (*packet)(uint64_t sessions, void *packet_user);
    void *user, *packet_user;
} tsl_hooks;

/* Read rd to its end with a collector and call the hooks (sessions are
   freed after their close hook). cfg and flags as tsl_collector_new's.
   Returns TCPS_OK; a hook's non-zero value; or a negative TCPS_E_* code
   with a message in err (for a capture error: its message and byte offset,
   after every session before the fault was closed and delivered). stats,
   when given, receives the context's statistics, and dstats the decoder's
   (stats->decode then points to dstats). */
int tsl_collect(tcps_reader *rd, const tcps_config *cfg, unsigned flags, const tsl_hooks *hooks,
                tcps_stats *stats, tcps_decode_stats *dstats, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
