/* The tcpsession command: shared declarations.

   One program, several commands (list, follow, extract, verify), each in its
   own file and entered through cmd_<name>(argc, argv) with argv[0] the
   command's name. What they share lives here: opening a capture (a path,
   "-" for stdin, gzip-compressed or not), the progress line, the per-session
   summary every command reports, JSON text, and the exit codes. */
#ifndef TCPS_CLI_H
#define TCPS_CLI_H

#include <stdint.h>
#include <stdio.h>
#include "tcpsession.h"
#include "sha256.h"

/* Exit codes (documented in the man page and in `tcpsession --help`) */
#define CLI_OK 0       /* done, everything as asked */
#define CLI_DIFFER 1   /* verify: some session differs from the peer tool */
#define CLI_USAGE 2    /* bad command line */
#define CLI_INPUT 3    /* a capture could not be read, or only partly */
#define CLI_OUTPUT 4   /* an output could not be written */
#define CLI_INTERNAL 5 /* out of memory, or a peer tool could not be run */

extern const char *cli_prog; /* "tcpsession" */

/* Print "tcpsession: " and the message to stderr. */
void cli_err(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* ------------------------------------------------------------ input */

typedef struct cli_input {
    const char *name;     /* as given on the command line ("-" for stdin) */
    tcps_reader *rd;
    uint64_t size;        /* bytes of the file, 0 when unknown (pipe, gzip) */
    void *gz;             /* gzFile when the capture is gzip-compressed */
    int fd;
    int progress;         /* draw a progress line on stderr */
    double start;         /* monotonic seconds when opened */
    double last_draw;
} cli_input;

/* Open a capture: "-" is stdin; gzip input (by its magic bytes, so a .gz
   name is not needed) is decompressed on the fly. Returns 0, or prints why
   not and returns CLI_INPUT. progress: 1 draws a line on stderr when stderr
   is a terminal. */
int cli_open(cli_input *in, const char *path, int progress);
void cli_close(cli_input *in);
/* Redraw the progress line (at most 10 times a second unless final). */
void cli_progress(cli_input *in, uint64_t sessions, int final);
/* Say what went wrong with a capture: name, message, byte offset. */
void cli_report_reader_error(const cli_input *in, const tcps_error *e);
double cli_now(void);

/* --------------------------------------------------- session summary */

typedef struct cli_dir {
    uint64_t bytes, missing, gaps, chunks;
    sha256_ctx sha;
    char sha256[65]; /* hex, final once the session closed */
} cli_dir;

typedef struct cli_session {
    const tcps_session *s; /* valid until the close hook returns */
    uint64_t stream;
    tcps_endpoint client, server;
    int first_dir;         /* TCPS_C2S when the client sent the first packet */
    cli_dir dir[2];        /* [TCPS_C2S], [TCPS_S2C] */
    int end;               /* TCPS_END_* once closed */
    void *user;            /* for the command's own per-session state */
    struct cli_session *prev_, *next_; /* cli_run's list of open sessions */
} cli_session;

/* Hooks a command adds to the summary; any may be NULL. A non-zero return
   stops the run. */
typedef struct cli_hooks {
    int (*open)(cli_session *cs, const tcps_event *ev, void *user);
    int (*data)(cli_session *cs, const tcps_event *ev, void *user);
    int (*gap)(cli_session *cs, const tcps_event *ev, void *user);
    int (*close)(cli_session *cs, const tcps_event *ev, void *user); /* summary final */
    void *user;
    int no_hash; /* the command needs no sha256: cli_dir.sha256 stays empty */
} cli_hooks;

/* Reassemble one capture, keeping a cli_session per session and calling the
   hooks. cfg may be NULL (defaults); its callbacks and user are replaced.
   Returns 0, CLI_INPUT when the capture was unreadable or only partly
   readable (reported on stderr; sessions up to the fault were all closed and
   delivered), CLI_INTERNAL for out of memory, or a hook's non-zero value.
   stats and dstats, when given, receive the context's and the decoder's
   statistics at the end (stats->decode is set to dstats). */
int cli_run(cli_input *in, const tcps_config *cfg, const cli_hooks *hooks, tcps_stats *stats,
            tcps_decode_stats *dstats);

/* "fin", "rst", "timeout", "eof", "evicted", "reused" */
const char *cli_end_name(int end);
/* Address text: dotted IPv4 or RFC 5952 IPv6. */
void cli_addr(const tcps_endpoint *e, char *buf, size_t size);
/* "seconds.nanoseconds" with 9 digits */
void cli_time(tcps_time t, char *buf, size_t size);

/* --------------------------------------------------------------- JSON */

/* A JSON string literal of n bytes (quotes included). Control characters,
   '"', '\\' and every byte above 0x7e become \u00XX escapes of their
   value: the reader gets one code point 0-255 per byte, nothing is lost. */
void cli_json_str(FILE *f, const char *s, size_t n);
/* The same without the quotes, for strings written in pieces. */
void cli_json_chars(FILE *f, const char *s, size_t n);

/* ----------------------------------------------------------- commands */

int cmd_list(int argc, char **argv);
int cmd_follow(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_verify(int argc, char **argv);

#endif
