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

typedef struct tsl_session {
    const tcps_session *s;  /* the engine's session, valid until the close hook returns */
    uint64_t stream;        /* copies of s's, valid as long as this */
    tcps_endpoint client, server;
    int first_dir;          /* TCPS_C2S when the client sent the first packet */
    tsl_dir dir[2];         /* [TCPS_C2S], [TCPS_S2C] */
    int end;                /* TCPS_END_* once closed, 0 before */
    void *user;             /* the hooks' per-session state */
    tsl_hash *sha_[2];
    struct tsl_session *prev_, *next_;
} tsl_session;

/* Every hook may be NULL. A non-zero return stops the run, which returns
   that value (the engine keeps the events not yet delivered; they are
   dropped with the context). */
typedef struct tsl_hooks {
    int (*open)(tsl_session *ss, const tcps_event *ev, void *user);
    int (*data)(tsl_session *ss, const tcps_event *ev, void *user);
    int (*gap)(tsl_session *ss, const tcps_event *ev, void *user);
    int (*close)(tsl_session *ss, const tcps_event *ev, void *user); /* ss final */
    /* after each packet read; for progress lines. sessions: opened so far */
    int (*packet)(uint64_t sessions, void *packet_user);
    void *user, *packet_user;
} tsl_hooks;

#define TSL_HASH 0x1 /* SHA-256 of each direction's delivered bytes */

/* The session row of a closed (or closing) session. */
void tsl_session_row(const tsl_session *ss, tsl_row *r);

/* Read rd to its end with tcps_next and call the hooks. cfg may be NULL
   (defaults); its callbacks are not used; its allocator, when set, is used
   for the collector's sessions too (the digests' state is libcrypto's).
   flags: TSL_HASH.
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
