/* extract.h - every session of one capture to files (the shared layer's
   writer under `tcpsession extract` and the Python binding's
   dump_all_sessions).

   Layout under the output directory, in the folder REL of the capture:
     REL/index.json, index.csv     every session of the capture
     REL/N/N.json                  the session's description
     REL/N/N-c2s.bin, N-s2c.bin    each direction's delivered bytes
     REL/N/N-transcript.txt        both directions in exchange order, escaped
     REL/N/N-transcript.hex        the same as a hex dump
     REL/N/N-js-K.js               each script found (none when none)
   where N is the stream number; with tcpflow_names the direction files are
   REL/<tcpflow's name> instead. The man page (cli/tcpsession.1) describes
   every file and field.

   Memory: bytes go to the files as the events come, through a small cache
   of open descriptors (LRU, reopened in append mode), so neither a big
   session nor many concurrent sessions are held in memory; the JSON is
   built at close from the chunk list and the direction files read back.
   Safety: every name comes from stream numbers, addresses and ports (never
   from packet contents); files are opened relative to directory
   descriptors with O_NOFOLLOW (and O_EXCL when created), so a symbolic
   link planted inside the output directory is never followed.

   Nothing is printed, no process is started and no limit is changed: the
   caller parallelizes (one capture per call, any number of calls at once
   on different folders) and raises RLIMIT_NOFILE if it wants a bigger
   descriptor cache. */
#ifndef TSL_EXTRACT_H
#define TSL_EXTRACT_H

#include "tsl.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSL_OUT_JSON 0x01
#define TSL_OUT_DATA 0x02
#define TSL_OUT_TRANSCRIPT 0x04
#define TSL_OUT_HEX 0x08
#define TSL_OUT_JS 0x10
#define TSL_OUT_INDEX 0x20
#define TSL_OUT_ALL 0x3f

/* Results; the same numbers as the command's exit statuses */
#define TSL_EXTRACT_OK 0
#define TSL_EXTRACT_INPUT 3  /* the capture could not be opened or read to its end: what came
                                before is written, marked partial */
#define TSL_EXTRACT_OUTPUT 4 /* something could not be written */
#define TSL_EXTRACT_NOMEM 5  /* out of memory */

typedef struct tsl_extract_options {
    unsigned outputs;       /* TSL_OUT_*; 0: all */
    int tcpflow_names;      /* direction files named as tcpflow names them */
    int have_stream;        /* only the session of this stream number */
    uint64_t stream;
    int have_endpoints;     /* only sessions between these two, either way */
    tcps_endpoint endpoints[2];
    int max_open_files;     /* descriptors the file cache may hold; 0: what the
                               soft RLIMIT_NOFILE leaves (64 kept free), 16 to 1000 */
    const char *outdir_name; /* the output directory as messages name it (NULL: ".") */
    int (*progress)(uint64_t sessions, void *user); /* after each packet; non-zero stops */
    void *progress_user;
    tcps_allocator allocator; /* for the engine and the writer; zero: libc */
} tsl_extract_options;

typedef struct tsl_extract_result {
    tcps_stats stats;       /* the context's (stats.decode points to decode) */
    tcps_decode_stats decode;
    uint64_t read_bytes;    /* of the capture */
    uint64_t sessions_written, bytes_written, scripts;
    int input_error;        /* the error was the capture's (TSL_EXTRACT_INPUT) */
    char error[700];        /* what went wrong first, "" when nothing did */
} tsl_extract_result;

/* Write the sessions of the capture read from rd into the folder rel
   (made with its parents, never through a link) under the directory
   outfd. capture: its name for the JSON files. rd NULL: the capture could
   not be opened (open_error says why); the index then says so. Returns a
   TSL_EXTRACT_* code; res is always filled. */
int tsl_extract(tcps_reader *rd, const char *capture, const char *open_error, int outfd, const char *rel,
                const tsl_extract_options *o, tsl_extract_result *res);

/* "json,data,transcript,hex,js,index" or "all", in any order, to TSL_OUT_*
   bits. 0, or -1 for a name not in the list or an empty list. */
int tsl_extract_outputs_parse(const char *list, unsigned *outputs);

#ifdef __cplusplus
}
#endif
#endif
