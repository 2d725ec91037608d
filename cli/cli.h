/* The tcpsession command: shared declarations.

   One program, several commands (list, follow, extract, verify), each in its
   own file and entered through cmd_<name>(argc, argv) with argv[0] the
   command's name. What they share lives here: opening a capture (a path,
   "-" for stdin, gzip-compressed or not), the progress line, and the exit
   codes. What the bindings use too (the session collector, endpoint and
   JSON text, the list row, digests) is the shared layer's: lib/tsl.h. */
#ifndef TCPS_CLI_H
#define TCPS_CLI_H

#include <stdint.h>
#include <stdio.h>
#include "tcpsession.h"
#include "tsl.h"

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
    tsl_capture cap;
    tcps_reader *rd;      /* cap.rd */
    uint64_t size;        /* bytes of the file, 0 when unknown (pipe, gzip) */
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
double cli_now(void);

/* ------------------------------------------------------- collecting */

/* Reassemble one capture with the shared layer's collector (tsl_collect),
   drawing the progress line. cfg may be NULL; flags: TSL_HASH. Returns 0,
   CLI_INPUT when the capture was unreadable or only partly readable
   (reported on stderr; sessions up to the fault were all closed and
   delivered), CLI_INTERNAL for out of memory, or a hook's non-zero value.
   stats and dstats as tsl_collect's. */
int cli_run(cli_input *in, const tcps_config *cfg, unsigned flags, const tsl_hooks *hooks, tcps_stats *stats,
            tcps_decode_stats *dstats);

/* ----------------------------------------------------------- commands */

int cmd_list(int argc, char **argv);
int cmd_follow(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_verify(int argc, char **argv);

#endif
