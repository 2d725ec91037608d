/* tcpsession extract: every session of captures to files.

   The writing is the shared layer's (lib/extract.h, where the layout is
   described); this file is the command around it: the options, finding
   the captures (-r walks directories), -j workers (one process per
   capture at a time), the descriptor limit, --tar, --log and --stats. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath, strcasecmp */
#endif
#include "tcpsession.h"
#include "cli.h"
#include "extract.h"
#include "tarball.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LRU_MAX 1000 /* descriptors the writer's cache holds at most */
#define TAR_NAME "tcpsession-extract.tar.gz"

typedef struct ex_opts {
    int recurse, jobs, tar, stats;
    tsl_extract_options w; /* what the writer is given */
    const char *outdir, *logpath;
    FILE *log;
} ex_opts;

typedef struct ex_job {
    char *path; /* to open */
    char *rel;  /* folder under OUTDIR */
} ex_job;

static void ex_log(const ex_opts *o, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void ex_log(const ex_opts *o, const char *fmt, ...) {
    va_list ap;
    struct timespec ts;
    if (!o->log) return;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(o->log, "%lld.%03ld [%ld] ", (long long)ts.tv_sec, ts.tv_nsec / 1000000, (long)getpid());
    va_start(ap, fmt);
    vfprintf(o->log, fmt, ap);
    va_end(ap);
    fputc('\n', o->log);
    fflush(o->log);
}

/* descriptors the cache may hold: raise the soft limit to the hard one and
   leave room for the reader, the index, read-backs and the other workers'
   inheritance; thrashing the cache costs an open and a close per write */
static int lru_capacity(void) {
    struct rlimit rl;
    rlim_t n;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    n = rl.rlim_cur == RLIM_INFINITY ? LRU_MAX : rl.rlim_cur;
    n = n > 64 ? n - 64 : 0;
    return (int)(n > LRU_MAX ? LRU_MAX : n);
}

static int ex_progress(uint64_t sessions, void *user) {
    cli_progress((cli_input *)user, sessions, 0);
    return 0;
}

static int extract_capture(const ex_opts *o, int outfd, const ex_job *j) {
    tsl_extract_options w = o->w;
    tsl_extract_result res;
    cli_input in;
    char openerr[300];
    double t0 = cli_now();
    int rc, opened;
    ex_log(o, "%s: extracting into %s/%s", j->path, o->outdir, j->rel);
    openerr[0] = 0;
    opened = cli_open(&in, j->path, 1) == CLI_OK;
    if (!opened) snprintf(openerr, sizeof openerr, "cannot open: %s", strerror(errno));
    if (opened && in.progress) {
        w.progress = ex_progress;
        w.progress_user = &in;
    }
    rc = tsl_extract(opened ? in.rd : NULL, j->path, openerr, outfd, j->rel, &w, &res);
    if (opened) cli_progress(&in, res.stats.sessions, 1);
    if (res.error[0] && !(rc == TSL_EXTRACT_INPUT && !opened)) { /* cli_open said why already */
        if (res.input_error)
            cli_err("%s: %s; sessions up to there are complete, the rest is partial", j->path, res.error);
        else
            cli_err("extract: %s", res.error);
        ex_log(o, "error: %s", res.error);
    }
    if (o->stats && opened) {
        double secs = cli_now() - t0;
        fprintf(stderr,
                "%s: %.3f s, %.1f MB read, %.1f MB/s, %llu packets, %llu sessions (%llu extracted), "
                "%llu bytes delivered, %llu missing in %llu gaps, %.1f MB written, %llu scripts\n",
                j->path, secs, res.read_bytes / 1e6, secs > 0 ? res.read_bytes / 1e6 / secs : 0,
                (unsigned long long)res.stats.packets, (unsigned long long)res.stats.sessions,
                (unsigned long long)res.sessions_written, (unsigned long long)res.stats.bytes,
                (unsigned long long)res.stats.missing, (unsigned long long)res.stats.gaps, res.bytes_written / 1e6,
                (unsigned long long)res.scripts);
    }
    ex_log(o, "%s: %llu sessions written, %.1f MB, %llu scripts, %.3f s%s%s", j->path,
           (unsigned long long)res.sessions_written, res.bytes_written / 1e6, (unsigned long long)res.scripts,
           cli_now() - t0, res.input_error ? "; partial: " : "", res.input_error ? res.error : "");
    if (opened) cli_close(&in);
    return rc; /* the writer's codes are the command's exit statuses */
}

/* ------------------------------------------------------- finding captures */

typedef struct job_list {
    ex_job *v;
    size_t n, cap;
} job_list;

static int add_job(job_list *jl, const char *path, const char *rel) {
    char *rr;
    size_t k;
    unsigned dup = 1;
    if (jl->n == jl->cap) {
        size_t nc = jl->cap ? jl->cap * 2 : 16;
        ex_job *nv = (ex_job *)realloc(jl->v, nc * sizeof *nv);
        if (!nv) return -1;
        jl->v = nv;
        jl->cap = nc;
    }
    rr = (char *)malloc(strlen(rel) + 16);
    if (!rr) return -1;
    strcpy(rr, rel);
    /* two captures of the same name: the later ones get ~2, ~3, ... */
    for (k = 0; k < jl->n; k++)
        if (!strcmp(jl->v[k].rel, rr)) {
            sprintf(rr, "%s~%u", rel, ++dup);
            k = (size_t)-1;
        }
    jl->v[jl->n].path = strdup(path);
    jl->v[jl->n].rel = rr;
    if (!jl->v[jl->n].path) return -1;
    jl->n++;
    return 0;
}

static int is_capture_name(const char *n) {
    static const char *const ext[] = {".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz"};
    size_t l = strlen(n), i;
    for (i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t e = strlen(ext[i]);
        if (l > e && !strcasecmp(n + l - e, ext[i])) return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* every capture below dir, in name order; symbolic links to directories are not entered */
static int walk(job_list *jl, const char *dir, const char *rel, int depth) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    int rc = 0;
    if (!d) {
        cli_err("extract: %s: %s", dir, strerror(errno));
        return CLI_INPUT;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
        if (n == cap) {
            char **nv = (char **)realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *nv);
            if (!nv) break;
            names = nv;
        }
        if ((names[n] = strdup(e->d_name)) != NULL) n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (i = 0; i < n; i++) {
        size_t pl = strlen(dir) + strlen(names[i]) + 2, rl = strlen(rel) + strlen(names[i]) + 2;
        char *p = (char *)malloc(pl), *q = (char *)malloc(rl);
        struct stat st;
        if (p && q) {
            snprintf(p, pl, "%s/%s", dir, names[i]);
            snprintf(q, rl, "%s/%s", rel, names[i]);
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                if (depth < 64) {
                    int r2 = walk(jl, p, q, depth + 1);
                    if (r2 && !rc) rc = r2;
                }
            } else if (is_capture_name(names[i]) && stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
                if (add_job(jl, p, q)) rc = CLI_INTERNAL;
            }
        }
        free(p);
        free(q);
        free(names[i]);
    }
    free(names);
    return rc;
}

static const char *base_name(const char *p, char *buf, size_t size) {
    size_t l = strlen(p);
    const char *s;
    while (l > 1 && p[l - 1] == '/') l--;
    if (l >= size) l = size - 1;
    memcpy(buf, p, l);
    buf[l] = 0;
    s = strrchr(buf, '/');
    s = s ? s + 1 : buf;
    if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) {
        /* "." and the like: the real directory's name */
        char *rp = realpath(p, NULL);
        if (rp) {
            const char *b = strrchr(rp, '/');
            snprintf(buf, size, "%s", b && b[1] ? b + 1 : "root");
            free(rp);
            return buf;
        }
        return "capture";
    }
    return s;
}

/* --------------------------------------------------------- options */

static void usage(FILE *f) {
    fprintf(f,
            "usage: tcpsession extract [options] CAPTURE|DIR... -o OUTDIR\n"
            "\n"
            "Writes every TCP session of the captures to files, a folder per capture\n"
            "(named after the capture; with -r, the directory's name and the path below\n"
            "it, so captures of the same name do not collide):\n"
            "  index.json, index.csv     a row per session (the fields of list --json,\n"
            "                            partial, folder, scripts); index.json also says\n"
            "                            whether the capture was read to its end (partial,\n"
            "                            error with the byte offset)\n"
            "  N/N.json                  the session: list --json fields, per-direction\n"
            "                            counters (dup_bytes, ooo_segments, conflicts,\n"
            "                            anomalies, TCP options, mss, wscale), the exchange\n"
            "                            (dir, frame, ts, offset, length per chunk), the gaps\n"
            "                            (dir, offset, length, reason), the scripts found,\n"
            "                            and the old tcpsessions_from_pcap.py fields (sip,\n"
            "                            dip, sport, dport, proto, tcp_payload_hex,\n"
            "                            tcp_payload_ascii, combined_src/dst_payload and\n"
            "                            their md5sum, tcp_ordered_(hex_)payload_md5sum)\n"
            "  N/N-c2s.bin, N/N-s2c.bin  each direction's delivered bytes, gaps left out\n"
            "  N/N-transcript.txt        both directions in exchange order: a line\n"
            "                            \"== DIR frame F time T offset O length L\" then\n"
            "                            the bytes, escaped (\\\\ \\n \\r \\t \\xNN; a line break\n"
            "                            follows each \\n and ends each chunk, for reading\n"
            "                            only); \"== DIR GAP ...\" for missing bytes\n"
            "  N/N-transcript.hex        the same as a hex dump (stream offsets)\n"
            "  N/N-js-K.js               JavaScript: bodies of HTTP/1.x responses of a\n"
            "                            JavaScript type and inline <script> elements of HTML\n"
            "                            bodies, chunked coding and gzip/deflate undone\n"
            "N is the stream number (tshark's tcp.stream). Text in JSON is lossless: each\n"
            "byte becomes the code point of the same value (\\u0000-\\u00ff), so encoding\n"
            "the decoded string as ISO-8859-1 gives the bytes back.\n"
            "\n"
            "  -o OUTDIR          where to write (created if missing)\n"
            "  -r                 read directories recursively (.pcap, .pcapng, .cap and\n"
            "                     their .gz)\n"
            "  -j N               N captures at a time (processes)\n"
            "  --tar              also pack OUTDIR into OUTDIR/" TAR_NAME "\n"
            "  --log FILE         append what was done to FILE\n"
            "  --no-js            do not look for JavaScript\n"
            "  --outputs LIST     which outputs: json,data,transcript,hex,js,index (default\n"
            "                     all)\n"
            "  --tcpflow-names    direction files named as tcpflow names them, in the\n"
            "                     capture's folder (IPv4 0-padded, ports 5 digits, cN\n"
            "                     for later sessions on the same 4-tuple)\n"
            "  -s N               only session N\n"
            "  -e IP:PORT,IP:PORT only the sessions between these endpoints ([v6]:port)\n"
            "  --stats            throughput and counters on stderr\n"
            "\n"
            "Names of files come only from stream numbers, addresses and ports; nothing\n"
            "is written outside OUTDIR and no symbolic link inside it is followed.\n"
            "Exit status: 0 done; 2 bad command line; 3 a capture was missing or could\n"
            "not be read to its end (what came before is written and marked partial);\n"
            "4 an output could not be written; 5 out of memory.\n");
}

int cmd_extract(int argc, char **argv) {
    ex_opts o;
    job_list jl;
    int i, ret = CLI_OK, outfd, no_js = 0;
    char **inputs;
    int ninputs = 0;
    memset(&o, 0, sizeof o);
    memset(&jl, 0, sizeof jl);
    o.jobs = 1;
    o.w.outputs = TSL_OUT_ALL;
    inputs = (char **)calloc((size_t)argc + 1, sizeof *inputs);
    if (!inputs) return CLI_INTERNAL;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            free(inputs);
            return CLI_OK;
        } else if (!strcmp(a, "-o") && more) {
            o.outdir = argv[++i];
        } else if (!strcmp(a, "-r")) {
            o.recurse = 1;
        } else if (!strcmp(a, "-j") && more) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 256) {
                cli_err("extract: -j wants a number from 1 to 256");
                free(inputs);
                return CLI_USAGE;
            }
            o.jobs = (int)v;
        } else if (!strcmp(a, "--tar")) {
            o.tar = 1;
        } else if (!strcmp(a, "--log") && more) {
            o.logpath = argv[++i];
        } else if (!strcmp(a, "--no-js")) {
            no_js = 1;
        } else if (!strcmp(a, "--tcpflow-names")) {
            o.w.tcpflow_names = 1;
        } else if (!strcmp(a, "--stats")) {
            o.stats = 1;
        } else if (!strcmp(a, "--outputs") && more) {
            if (tsl_extract_outputs_parse(argv[++i], &o.w.outputs)) {
                cli_err("extract: --outputs takes a list of json,data,transcript,hex,js,index");
                free(inputs);
                return CLI_USAGE;
            }
        } else if (!strcmp(a, "-s") && more) {
            char *end;
            o.w.stream = strtoull(argv[++i], &end, 10);
            if (*end || end == argv[i]) {
                cli_err("extract: -s wants a stream number");
                free(inputs);
                return CLI_USAGE;
            }
            o.w.have_stream = 1;
        } else if (!strcmp(a, "-e") && more) {
            ++i;
            if (tsl_endpoint_pair_parse(argv[i], strlen(argv[i]), o.w.endpoints)) {
                cli_err("extract: -e wants IP:PORT,IP:PORT");
                free(inputs);
                return CLI_USAGE;
            }
            o.w.have_endpoints = 1;
        } else if (a[0] == '-' && a[1]) {
            cli_err("extract: unknown option or missing value: %s", a);
            usage(stderr);
            free(inputs);
            return CLI_USAGE;
        } else {
            inputs[ninputs++] = argv[i];
        }
    }
    if (no_js) o.w.outputs &= ~(unsigned)TSL_OUT_JS;
    if (!o.outdir || !ninputs) {
        cli_err("extract: %s", !o.outdir ? "-o OUTDIR is required" : "no capture given");
        usage(stderr);
        free(inputs);
        return CLI_USAGE;
    }
    if (mkdir(o.outdir, 0777) != 0 && errno != EEXIST) {
        cli_err("extract: %s: cannot create the output directory: %s", o.outdir, strerror(errno));
        free(inputs);
        return CLI_OUTPUT;
    }
    o.w.outdir_name = o.outdir;
    o.w.max_open_files = lru_capacity();
    outfd = open(o.outdir, O_RDONLY | O_DIRECTORY);
    if (outfd < 0 || faccessat(outfd, ".", W_OK | X_OK, 0) != 0) {
        cli_err("extract: %s: the output directory is not writable: %s", o.outdir, strerror(errno));
        if (outfd >= 0) close(outfd);
        free(inputs);
        return CLI_OUTPUT;
    }
    if (o.logpath) {
        /* O_NOFOLLOW: the log may sit in OUTDIR, where a link could be planted */
        int lfd = open(o.logpath, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0644);
        o.log = lfd >= 0 ? fdopen(lfd, "a") : NULL;
        if (!o.log && lfd >= 0) close(lfd);
        if (!o.log) {
            cli_err("extract: %s: cannot open the log: %s", o.logpath, strerror(errno));
            close(outfd);
            free(inputs);
            return CLI_OUTPUT;
        }
    }
    for (i = 0; i < ninputs; i++) {
        const char *p = inputs[i];
        struct stat st;
        char bn[512];
        if (!strcmp(p, "-")) {
            if (add_job(&jl, p, "stdin")) ret = CLI_INTERNAL;
            continue;
        }
        if (stat(p, &st) != 0) {
            cli_err("extract: %s: %s", p, strerror(errno));
            ex_log(&o, "error: %s: %s", p, strerror(errno));
            if (ret < CLI_INPUT) ret = CLI_INPUT;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            size_t before = jl.n;
            int rc;
            if (!o.recurse) {
                cli_err("extract: %s: is a directory (use -r to read the captures in it)", p);
                if (ret < CLI_USAGE) ret = CLI_USAGE;
                continue;
            }
            rc = walk(&jl, p, base_name(p, bn, sizeof bn), 0);
            if (rc && ret < rc) ret = rc;
            if (jl.n == before) {
                cli_err("extract: %s: no captures in this directory (.pcap, .pcapng, .cap, or their .gz)", p);
                ex_log(&o, "error: %s: no captures", p);
                if (ret < CLI_INPUT) ret = CLI_INPUT;
            }
            continue;
        }
        if (add_job(&jl, p, base_name(p, bn, sizeof bn))) ret = CLI_INTERNAL;
    }
    free(inputs);
    if (o.jobs > 1 && jl.n > 1) {
        /* worker k takes captures k, k+N, ...: each capture's output is the same whoever writes it */
        pid_t *pids = (pid_t *)calloc((size_t)o.jobs, sizeof *pids);
        int k, nw = o.jobs < (int)jl.n ? o.jobs : (int)jl.n;
        if (!pids) return CLI_INTERNAL;
        fflush(stdout);
        fflush(stderr);
        if (o.log) fflush(o.log);
        for (k = 0; k < nw; k++) {
            pid_t pid = fork();
            if (pid == 0) {
                int wr = 0;
                size_t q;
                for (q = (size_t)k; q < jl.n; q += (size_t)nw) {
                    int rc = extract_capture(&o, outfd, &jl.v[q]);
                    if (rc > wr) wr = rc;
                }
                fflush(stdout);
                fflush(stderr);
                _exit(wr);
            }
            if (pid < 0) {
                cli_err("extract: cannot start a worker: %s", strerror(errno));
                ret = CLI_INTERNAL;
                break;
            }
            pids[k] = pid;
        }
        for (k = 0; k < nw; k++) {
            int status;
            if (!pids[k]) continue;
            while (waitpid(pids[k], &status, 0) < 0 && errno == EINTR) {}
            if (WIFEXITED(status)) {
                if (WEXITSTATUS(status) > ret) ret = WEXITSTATUS(status);
            } else if (ret < CLI_INTERNAL) {
                ret = CLI_INTERNAL;
            }
        }
        free(pids);
    } else {
        size_t q;
        for (q = 0; q < jl.n; q++) {
            int rc = extract_capture(&o, outfd, &jl.v[q]);
            if (rc > ret) ret = rc;
            if (rc == CLI_OUTPUT || rc == CLI_INTERNAL) break; /* the disk or memory is the problem */
        }
    }
    if (o.tar && jl.n) {
        char err[600];
        if (tarball_write_dir(outfd, "", TAR_NAME, err, sizeof err) != 0) {
            cli_err("extract: %s/%s", o.outdir, err);
            if (ret < CLI_OUTPUT) ret = CLI_OUTPUT;
        } else {
            ex_log(&o, "wrote %s/%s", o.outdir, TAR_NAME);
        }
    }
    {
        size_t q;
        for (q = 0; q < jl.n; q++) {
            free(jl.v[q].path);
            free(jl.v[q].rel);
        }
        free(jl.v);
    }
    if (o.log) fclose(o.log);
    close(outfd);
    return ret;
}
