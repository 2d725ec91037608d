/* tcpsession extract: every session of captures to files.

   Layout under OUTDIR, a folder per capture (named after the capture; with
   -r, the directory's name and the path below it):
     CAPTURE/index.json, index.csv     every session of the capture
     CAPTURE/N/N.json                  the session's description
     CAPTURE/N/N-c2s.bin, N-s2c.bin    each direction's delivered bytes
     CAPTURE/N/N-transcript.txt        both directions in exchange order, escaped
     CAPTURE/N/N-transcript.hex        the same as a hex dump
     CAPTURE/N/N-js-K.js               each script found (none when none)
   where N is the stream number. With --tcpflow-names the direction files
   are CAPTURE/<tcpflow's name> instead.

   Memory: bytes go to the files as the events come, through a small cache
   of open descriptors (LRU, reopened in append mode), so neither a big
   session nor many concurrent sessions are held in memory; the JSON is
   built at close from the chunk list and the direction files read back.
   Safety: every name comes from stream numbers, addresses and ports (never
   from packet contents); files are opened relative to directory
   descriptors with O_NOFOLLOW (and O_EXCL when created), so a symbolic link
   planted inside OUTDIR is never followed. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath, strcasecmp */
#endif
#include "tcpsession.h"
#include "cli.h"
#include "http_js.h"
#include "tarball.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUT_JSON 0x01
#define OUT_DATA 0x02
#define OUT_TRANSCRIPT 0x04
#define OUT_HEX 0x08
#define OUT_JS 0x10
#define OUT_INDEX 0x20
#define OUT_ALL 0x3f

#define F_C2S 0
#define F_S2C 1
#define F_TXT 2
#define F_HEX 3
#define NFILES 4
#define MD5_ALL 2 /* s->md5[TCPS_C2S], [TCPS_S2C]: each direction; ALL: both in order; HEX: as hex text */
#define MD5_HEX 3

#define LRU_MIN 16      /* descriptors kept open per capture: at least */
#define LRU_MAX 1000    /* and at most (the descriptor limit permitting) */
#define FBUF 16384      /* write buffer of each open file */
#define TAR_NAME "tcpsession-extract.tar.gz"

typedef struct ex_opts {
    int recurse, jobs, tar, tcpflow_names, stats;
    unsigned outputs;
    int have_stream;
    uint64_t stream;
    int have_ep;
    tcps_endpoint ep[2];
    const char *outdir, *logpath;
    FILE *log;
} ex_opts;

typedef struct ex_job {
    char *path; /* to open */
    char *rel;  /* folder under OUTDIR */
} ex_job;

struct ex_sess;
struct ex_run;

typedef struct ex_file {
    int fd;         /* -1 while closed */
    int created;    /* exists on disk */
    int in_session; /* in the session folder, else in the capture folder */
    char name[160];
    uint8_t *buf;
    size_t fill;
    struct ex_file *lprev, *lnext;
    struct ex_sess *owner;
} ex_file;

typedef struct ex_chunk {
    uint64_t offset, length, frame, filepos, rel_frame;
    tcps_time ts;
    int dir;
} ex_chunk;

typedef struct ex_gap {
    uint64_t offset, length;
    int dir, reason;
} ex_gap;

typedef struct ex_script {
    char file[64];
    int kind;
    uint64_t response, offset, length;
    char ctype[64], cenc[32];
    int chunked;
} ex_script;

typedef struct ex_sess {
    uint64_t stream;
    unsigned tuple_n; /* earlier sessions on the same 4-tuple (tcpflow's cN) */
    char folder[24];
    int folder_made;
    ex_file f[NFILES];
    ex_chunk *ch;
    size_t nch, cch;
    ex_gap *gp;
    size_t ngp, cgp;
    uint64_t filepos[2];
    tsl_hash *md5[4]; /* [MD5_C2S], [MD5_S2C], [MD5_ALL], [MD5_HEX], with the json output */
    ex_script *js;
    size_t njs, cjs;
    struct ex_sess *prev, *next;
} ex_sess;

typedef struct ex_tuple {
    uint8_t key[40];
    unsigned count;
    int used;
} ex_tuple;

typedef struct ex_run {
    const ex_opts *o;
    const char *rel;
    cli_input *in;
    int capfd;
    unsigned want_data; /* direction files are written (maybe only for a while) */
    ex_file *lru_head, *lru_tail;
    int lru_n, lru_cap;
    int failed; /* CLI_OUTPUT or CLI_INTERNAL once something could not be written */
    char errmsg[600];
    FILE *idx_json, *idx_csv;
    uint64_t nidx, sessions_written, bytes_written, scripts;
    ex_sess *live;
    ex_tuple *tuples;
    size_t ntuples, ctuples;
} ex_run;

/* ------------------------------------------------------------ messages */

static void ex_log(const ex_opts *o, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#include <stdarg.h>
static void ex_log(const ex_opts *o, const char *fmt, ...) {
    va_list ap;
    char t[40];
    if (!o->log) return;
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(t, sizeof t, "%lld.%03ld", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
    }
    fprintf(o->log, "%s [%ld] ", t, (long)getpid());
    va_start(ap, fmt);
    vfprintf(o->log, fmt, ap);
    va_end(ap);
    fputc('\n', o->log);
    fflush(o->log);
}

static int run_fail(ex_run *r, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int run_fail(ex_run *r, int code, const char *fmt, ...) {
    va_list ap;
    if (r->failed) return r->failed;
    r->failed = code;
    va_start(ap, fmt);
    vsnprintf(r->errmsg, sizeof r->errmsg, fmt, ap);
    va_end(ap);
    cli_err("extract: %s", r->errmsg);
    ex_log(r->o, "error: %s", r->errmsg);
    return code;
}

/* -------------------------------------------------------------- files */

/* the session's folder, opened without following a link; -1 on failure */
static int sess_dirfd(ex_run *r, ex_sess *s) {
    int fd;
    if (!s->folder_made) {
        if (mkdirat(r->capfd, s->folder, 0777) != 0 && errno != EEXIST) {
            run_fail(r, CLI_OUTPUT, "%s/%s: cannot create: %s", r->rel, s->folder, strerror(errno));
            return -1;
        }
        s->folder_made = 1;
    }
    fd = openat(r->capfd, s->folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0)
        run_fail(r, CLI_OUTPUT, "%s/%s: %s", r->rel, s->folder,
                 errno == ELOOP || errno == ENOTDIR ? "not a directory (a symbolic link is not followed)"
                                                    : strerror(errno));
    return fd;
}

/* create (replacing what was there, never through a link) or reopen for appending */
static int open_out(ex_run *r, int dirfd, const char *folder, const char *name, int created) {
    int fd;
    if (created) {
        fd = openat(dirfd, name, O_WRONLY | O_APPEND | O_NOFOLLOW);
    } else {
        fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
        if (fd < 0 && errno == EEXIST && unlinkat(dirfd, name, 0) == 0)
            fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    }
    if (fd < 0)
        run_fail(r, CLI_OUTPUT, "%s/%s%s%s: cannot write: %s", r->rel, folder ? folder : "", folder ? "/" : "",
                 name, errno == ELOOP ? "a symbolic link is not followed" : strerror(errno));
    return fd;
}

static void lru_unlink(ex_run *r, ex_file *f) {
    if (f->lprev) f->lprev->lnext = f->lnext;
    else r->lru_head = f->lnext;
    if (f->lnext) f->lnext->lprev = f->lprev;
    else r->lru_tail = f->lprev;
    f->lprev = f->lnext = NULL;
    r->lru_n--;
}

static int file_flush(ex_run *r, ex_file *f) {
    size_t done = 0;
    while (done < f->fill) {
        ssize_t k = write(f->fd, f->buf + done, f->fill - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            f->fill = 0;
            return run_fail(r, CLI_OUTPUT, "%s/%s: cannot write: %s", r->rel, f->name,
                            k < 0 ? strerror(errno) : "no space");
        }
        done += (size_t)k;
    }
    r->bytes_written += f->fill;
    f->fill = 0;
    return 0;
}

static int file_close(ex_run *r, ex_file *f) {
    int rc = 0;
    if (f->fd < 0) return 0;
    rc = file_flush(r, f);
    if (close(f->fd) != 0 && !rc) rc = run_fail(r, CLI_OUTPUT, "%s/%s: %s", r->rel, f->name, strerror(errno));
    f->fd = -1;
    free(f->buf);
    f->buf = NULL;
    lru_unlink(r, f);
    return rc;
}

static int file_open(ex_run *r, ex_file *f) {
    int dfd = r->capfd, fd;
    if (f->fd >= 0) {
        if (r->lru_head != f) { /* most recent first */
            lru_unlink(r, f);
            goto link;
        }
        return 0;
    }
    if (r->lru_n >= r->lru_cap && file_close(r, r->lru_tail)) return -1;
    if (f->in_session && (dfd = sess_dirfd(r, f->owner)) < 0) return -1;
    fd = open_out(r, dfd, f->in_session ? f->owner->folder : NULL, f->name, f->created);
    if (f->in_session) close(dfd);
    if (fd < 0) return -1;
    f->buf = (uint8_t *)malloc(FBUF);
    if (!f->buf) {
        close(fd);
        return run_fail(r, CLI_INTERNAL, "out of memory");
    }
    f->fd = fd;
    f->created = 1;
    f->fill = 0;
link:
    f->lnext = r->lru_head;
    f->lprev = NULL;
    if (r->lru_head) r->lru_head->lprev = f;
    else r->lru_tail = f;
    r->lru_head = f;
    r->lru_n++;
    return 0;
}

static int file_write(ex_run *r, ex_file *f, const void *p, size_t n) {
    if (file_open(r, f)) return -1;
    if (f->fill + n > FBUF && file_flush(r, f)) return -1;
    if (n >= FBUF) {
        uint8_t *keep = f->buf;
        int rc;
        f->buf = (uint8_t *)p;
        f->fill = n;
        rc = file_flush(r, f);
        f->buf = keep;
        return rc ? -1 : 0;
    }
    memcpy(f->buf + f->fill, p, n);
    f->fill += n;
    return 0;
}

static int file_puts(ex_run *r, ex_file *f, const char *s) { return file_write(r, f, s, strlen(s)); }

/* ------------------------------------------------------------ naming */

/* tcpflow 1.6: IPv4 as four zero-padded 3-digit numbers, IPv6 as inet_ntop
   text; the port as 5 digits; "src-dst"; cN for the N-th later connection
   on the same 4-tuple */
static void tcpflow_name(const tcps_endpoint *src, const tcps_endpoint *dst, unsigned n, char *out, size_t size) {
    char a[64], b[64];
    const tcps_endpoint *e[2];
    char *t[2];
    int i;
    e[0] = src, e[1] = dst, t[0] = a, t[1] = b;
    for (i = 0; i < 2; i++) {
        if (e[i]->ip_version == 4)
            snprintf(t[i], 64, "%03u.%03u.%03u.%03u", e[i]->addr[0], e[i]->addr[1], e[i]->addr[2], e[i]->addr[3]);
        else if (!inet_ntop(AF_INET6, e[i]->addr, t[i], 64))
            snprintf(t[i], 64, "unknown");
    }
    if (n) snprintf(out, size, "%s.%05u-%s.%05uc%u", a, src->port, b, dst->port, n);
    else snprintf(out, size, "%s.%05u-%s.%05u", a, src->port, b, dst->port);
}

static uint64_t fnv(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    while (n--) h = (h ^ *p++) * 1099511628211ull;
    return h;
}

/* sessions seen before on this 4-tuple (either orientation) */
static unsigned tuple_count(ex_run *r, const tcps_endpoint *a, const tcps_endpoint *b) {
    uint8_t key[40];
    const tcps_endpoint *lo = a, *hi = b;
    size_t i, mask;
    memset(key, 0, sizeof key);
    if (memcmp(a->addr, b->addr, 16) > 0 || (!memcmp(a->addr, b->addr, 16) && a->port > b->port)) lo = b, hi = a;
    memcpy(key, lo->addr, 16);
    memcpy(key + 16, hi->addr, 16);
    key[32] = (uint8_t)(lo->port >> 8), key[33] = (uint8_t)lo->port;
    key[34] = (uint8_t)(hi->port >> 8), key[35] = (uint8_t)hi->port;
    key[36] = a->ip_version;
    if (r->ntuples * 2 >= r->ctuples) {
        size_t nc = r->ctuples ? r->ctuples * 2 : 1024, k;
        ex_tuple *nt = (ex_tuple *)calloc(nc, sizeof *nt);
        if (!nt) return 0;
        for (k = 0; k < r->ctuples; k++)
            if (r->tuples[k].used) {
                size_t j = (size_t)fnv(r->tuples[k].key, 40) & (nc - 1);
                while (nt[j].used) j = (j + 1) & (nc - 1);
                nt[j] = r->tuples[k];
            }
        free(r->tuples);
        r->tuples = nt;
        r->ctuples = nc;
    }
    mask = r->ctuples - 1;
    for (i = (size_t)fnv(key, 40) & mask;; i = (i + 1) & mask) {
        if (!r->tuples[i].used) {
            r->tuples[i].used = 1;
            memcpy(r->tuples[i].key, key, 40);
            r->tuples[i].count = 1;
            r->ntuples++;
            return 0;
        }
        if (!memcmp(r->tuples[i].key, key, 40)) return r->tuples[i].count++;
    }
}

/* ----------------------------------------------------------- hooks */

static const char *dir_name(int d) { return d == TCPS_C2S ? "c2s" : "s2c"; }

static const char *gap_reason(int g) {
    const char *n = tcps_gap_name(g);
    return n ? n : "unknown";
}

static void sess_free(ex_run *r, ex_sess *s) {
    int i;
    for (i = 0; i < NFILES; i++) file_close(r, &s->f[i]);
    if (s->prev) s->prev->next = s->next;
    else r->live = s->next;
    if (s->next) s->next->prev = s->prev;
    free(s->ch);
    free(s->gp);
    free(s->js);
    for (i = 0; i < 4; i++) tsl_hash_free(s->md5[i]);
    free(s);
}

static int on_open(tsl_session *cs, const tcps_event *ev, void *user) {
    ex_run *r = (ex_run *)user;
    const ex_opts *o = r->o;
    ex_sess *s;
    unsigned n = 0;
    int i;
    (void)ev;
    if (o->tcpflow_names) n = tuple_count(r, &cs->client, &cs->server);
    if (o->have_stream && cs->stream != o->stream) return 0;
    if (o->have_ep && !tsl_session_between(cs->s, &o->ep[0], &o->ep[1])) return 0;
    s = (ex_sess *)calloc(1, sizeof *s);
    if (!s) return run_fail(r, CLI_INTERNAL, "out of memory");
    s->stream = cs->stream;
    s->tuple_n = n;
    snprintf(s->folder, sizeof s->folder, "%llu", (unsigned long long)cs->stream);
    for (i = 0; i < NFILES; i++) {
        s->f[i].fd = -1;
        s->f[i].owner = s;
        s->f[i].in_session = 1;
    }
    if (o->tcpflow_names) {
        tcpflow_name(&cs->client, &cs->server, n, s->f[F_C2S].name, sizeof s->f[F_C2S].name);
        tcpflow_name(&cs->server, &cs->client, n, s->f[F_S2C].name, sizeof s->f[F_S2C].name);
        s->f[F_C2S].in_session = s->f[F_S2C].in_session = 0;
    } else {
        snprintf(s->f[F_C2S].name, sizeof s->f[F_C2S].name, "%s-c2s.bin", s->folder);
        snprintf(s->f[F_S2C].name, sizeof s->f[F_S2C].name, "%s-s2c.bin", s->folder);
    }
    snprintf(s->f[F_TXT].name, sizeof s->f[F_TXT].name, "%s-transcript.txt", s->folder);
    snprintf(s->f[F_HEX].name, sizeof s->f[F_HEX].name, "%s-transcript.hex", s->folder);
    s->next = r->live;
    if (r->live) r->live->prev = s;
    r->live = s;
    cs->user = s;
    for (i = 0; i < 4 && (o->outputs & OUT_JSON); i++)
        if (!(s->md5[i] = tsl_hash_new(TSL_MD5))) return run_fail(r, CLI_INTERNAL, "out of memory");
    return 0;
}

static const char hexd[] = "0123456789abcdef";

/* printable ASCII but '\\' as is; \n \r \t \\ and \xNN escaped; a line
   break after each \n so that text reads as text (line breaks of the file
   are layout only, the escapes carry every byte) */
static int put_escaped(ex_run *r, ex_file *f, const uint8_t *p, size_t n) {
    char out[8192 + 8];
    size_t o = 0, i;
    for (i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (o > 8192 - 5 && file_write(r, f, out, o)) return -1;
        if (o > 8192 - 5) o = 0;
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[o++] = (char)c;
        } else if (c == '\\') {
            out[o++] = '\\', out[o++] = '\\';
        } else if (c == '\n') {
            out[o++] = '\\', out[o++] = 'n', out[o++] = '\n';
        } else if (c == '\r') {
            out[o++] = '\\', out[o++] = 'r';
        } else if (c == '\t') {
            out[o++] = '\\', out[o++] = 't';
        } else {
            out[o++] = '\\', out[o++] = 'x', out[o++] = hexd[c >> 4], out[o++] = hexd[c & 15];
        }
    }
    if (o && file_write(r, f, out, o)) return -1;
    return 0;
}

/* 16 bytes a line: stream offset, hex bytes, printable text */
static int put_hexdump(ex_run *r, ex_file *f, uint64_t off, const uint8_t *p, size_t n) {
    char out[8192 + 128];
    size_t o = 0, i, j;
    for (i = 0; i < n; i += 16) {
        size_t k = n - i < 16 ? n - i : 16;
        int s;
        if (o > 8192 && file_write(r, f, out, o)) return -1;
        if (o > 8192) o = 0;
        for (s = 60; s >= 0; s -= 4) out[o++] = hexd[((off + i) >> s) & 15];
        out[o++] = ' ';
        out[o++] = ' ';
        for (j = 0; j < 16; j++) {
            if (j < k) {
                out[o++] = hexd[p[i + j] >> 4];
                out[o++] = hexd[p[i + j] & 15];
            } else {
                out[o++] = ' ';
                out[o++] = ' ';
            }
            out[o++] = ' ';
            if (j == 7) out[o++] = ' ';
        }
        out[o++] = ' ';
        out[o++] = '|';
        for (j = 0; j < k; j++) out[o++] = p[i + j] >= 0x20 && p[i + j] < 0x7f ? (char)p[i + j] : '.';
        out[o++] = '|';
        out[o++] = '\n';
    }
    if (o && file_write(r, f, out, o)) return -1;
    return 0;
}

/* the md5 of the bytes written as hex text */
static void md5_hexupdate(tsl_hash *m, const uint8_t *p, size_t n) {
    char out[4096];
    size_t o = 0, i;
    for (i = 0; i < n; i++) {
        out[o++] = hexd[p[i] >> 4];
        out[o++] = hexd[p[i] & 15];
        if (o == sizeof out) {
            tsl_hash_update(m, out, o);
            o = 0;
        }
    }
    tsl_hash_update(m, out, o);
}

static int on_data(tsl_session *cs, const tcps_event *ev, void *user) {
    ex_run *r = (ex_run *)user;
    ex_sess *s = (ex_sess *)cs->user;
    unsigned out = r->o->outputs;
    ex_chunk *c;
    char head[200];
    if (!s) return 0;
    if (s->nch == s->cch) {
        size_t nc = s->cch ? s->cch * 2 : 16;
        ex_chunk *nv = (ex_chunk *)realloc(s->ch, nc * sizeof *nv);
        if (!nv) return run_fail(r, CLI_INTERNAL, "out of memory");
        s->ch = nv;
        s->cch = nc;
    }
    c = &s->ch[s->nch++];
    c->dir = ev->dir;
    c->offset = ev->offset;
    c->length = ev->data.len;
    c->frame = ev->data_frame;
    c->rel_frame = ev->frame;
    c->ts = ev->data_ts;
    c->filepos = s->filepos[ev->dir];
    s->filepos[ev->dir] += ev->data.len;
    if (out & OUT_JSON) {
        tsl_hash_update(s->md5[ev->dir], ev->data.ptr, ev->data.len);
        tsl_hash_update(s->md5[MD5_ALL], ev->data.ptr, ev->data.len);
        md5_hexupdate(s->md5[MD5_HEX], ev->data.ptr, ev->data.len);
    }
    if (r->want_data && file_write(r, &s->f[ev->dir], ev->data.ptr, ev->data.len)) return r->failed;
    if (out & (OUT_TRANSCRIPT | OUT_HEX)) {
        char t[40];
        tsl_time_text(ev->data_ts, t, sizeof t);
        snprintf(head, sizeof head, "== %s frame %llu time %s offset %llu length %llu\n", dir_name(ev->dir),
                 (unsigned long long)ev->data_frame, t, (unsigned long long)ev->offset,
                 (unsigned long long)ev->data.len);
        if (out & OUT_TRANSCRIPT) {
            if (file_puts(r, &s->f[F_TXT], head) || put_escaped(r, &s->f[F_TXT], ev->data.ptr, ev->data.len) ||
                file_puts(r, &s->f[F_TXT], "\n"))
                return r->failed;
        }
        if (out & OUT_HEX) {
            if (file_puts(r, &s->f[F_HEX], head) ||
                put_hexdump(r, &s->f[F_HEX], ev->offset, ev->data.ptr, ev->data.len))
                return r->failed;
        }
    }
    return 0;
}

static int on_gap(tsl_session *cs, const tcps_event *ev, void *user) {
    ex_run *r = (ex_run *)user;
    ex_sess *s = (ex_sess *)cs->user;
    char head[200], t[40];
    if (!s) return 0;
    if (s->ngp == s->cgp) {
        size_t nc = s->cgp ? s->cgp * 2 : 4;
        ex_gap *nv = (ex_gap *)realloc(s->gp, nc * sizeof *nv);
        if (!nv) return run_fail(r, CLI_INTERNAL, "out of memory");
        s->gp = nv;
        s->cgp = nc;
    }
    s->gp[s->ngp].dir = ev->dir;
    s->gp[s->ngp].offset = ev->offset;
    s->gp[s->ngp].length = ev->length;
    s->gp[s->ngp].reason = ev->reason;
    s->ngp++;
    tsl_time_text(ev->ts, t, sizeof t);
    snprintf(head, sizeof head, "== %s GAP frame %llu time %s offset %llu length %llu reason %s\n",
             dir_name(ev->dir), (unsigned long long)ev->frame, t, (unsigned long long)ev->offset,
             (unsigned long long)ev->length, gap_reason(ev->reason));
    if ((r->o->outputs & OUT_TRANSCRIPT) && file_puts(r, &s->f[F_TXT], head)) return r->failed;
    if ((r->o->outputs & OUT_HEX) && file_puts(r, &s->f[F_HEX], head)) return r->failed;
    return 0;
}

/* ------------------------------------------------------- JSON at close */

static void json_esc(FILE *f, const uint8_t *s, size_t n) { tsl_json_chars(f, (const char *)s, n); }

static void json_hex(FILE *f, const uint8_t *s, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        putc(hexd[s[i] >> 4], f);
        putc(hexd[s[i] & 15], f);
    }
}

/* a stretch of a direction file, through a callback in pieces */
static int read_back(int fd, uint64_t pos, uint64_t len, FILE *f, void (*fn)(FILE *, const uint8_t *, size_t)) {
    uint8_t buf[65536];
    while (len) {
        ssize_t k = pread(fd, buf, len < sizeof buf ? (size_t)len : sizeof buf, (off_t)pos);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        fn(f, buf, (size_t)k);
        pos += (uint64_t)k;
        len -= (uint64_t)k;
    }
    return 0;
}

/* ["name",...] of the bits set, in the header's names */
static void put_flags(FILE *f, int kind, uint32_t bits) {
    const char *n;
    int first = 1;
    putc('[', f);
    while ((n = tcps_bit_names(kind, &bits)) != NULL) {
        fprintf(f, "%s\"%s\"", first ? "" : ",", n);
        first = 0;
    }
    putc(']', f);
}

static void put_dir_stats(FILE *f, const tcps_dir_stats *d) {
    fprintf(f,
            "{\"bytes\":%llu,\"missing\":%llu,\"gaps\":%llu,\"packets\":%llu,\"payload_packets\":%llu,"
            "\"dup_bytes\":%llu,\"ooo_segments\":%llu,\"conflicts\":%llu,\"isn\":%u,\"anomalies\":",
            (unsigned long long)d->bytes, (unsigned long long)d->missing, (unsigned long long)d->gaps,
            (unsigned long long)d->packets, (unsigned long long)d->payload_packets,
            (unsigned long long)d->dup_bytes, (unsigned long long)d->ooo_segments,
            (unsigned long long)d->conflicts, d->isn);
    put_flags(f, TCPS_BITS_ANOMALY, d->anomalies);
    fputs(",\"syn_options\":", f);
    put_flags(f, TCPS_BITS_OPTION, d->syn_options);
    fputs(",\"options\":", f);
    put_flags(f, TCPS_BITS_OPTION, d->options);
    fprintf(f, ",\"mss\":%u,\"wscale\":", d->mss);
    if (d->wscale == 0xff) fputs("null", f);
    else fprintf(f, "%u", d->wscale);
    fprintf(f, ",\"syn\":%s,\"fin\":%s,\"rst\":%s}", d->syn_seen ? "true" : "false", d->fin_seen ? "true" : "false",
            d->rst_seen ? "true" : "false");
}

/* the members of the session's `list --json` row; capture NULL: without it */
static void put_list_fields(FILE *f, const tsl_session *cs, const char *capture) {
    tsl_row row;
    tsl_session_row(cs, &row);
    tsl_row_members(f, &row, capture);
}

static int js_found(const http_js_found *fj, void *user) {
    void **u = (void **)user;
    ex_run *r = (ex_run *)u[0];
    ex_sess *s = (ex_sess *)u[1];
    ex_script *e;
    int dfd, fd;
    size_t done = 0;
    if (s->njs == s->cjs) {
        size_t nc = s->cjs ? s->cjs * 2 : 4;
        ex_script *nv = (ex_script *)realloc(s->js, nc * sizeof *nv);
        if (!nv) return run_fail(r, CLI_INTERNAL, "out of memory");
        s->js = nv;
        s->cjs = nc;
    }
    e = &s->js[s->njs];
    memset(e, 0, sizeof *e);
    snprintf(e->file, sizeof e->file, "%s-js-%zu.js", s->folder, s->njs + 1);
    e->kind = fj->kind;
    e->response = fj->response;
    e->offset = fj->offset;
    e->length = fj->len;
    e->chunked = fj->chunked;
    snprintf(e->ctype, sizeof e->ctype, "%s", fj->content_type);
    snprintf(e->cenc, sizeof e->cenc, "%s", fj->content_encoding);
    if ((dfd = sess_dirfd(r, s)) < 0) return r->failed;
    fd = open_out(r, dfd, s->folder, e->file, 0);
    close(dfd);
    if (fd < 0) return r->failed;
    while (done < fj->len) {
        ssize_t k = write(fd, fj->data + done, fj->len - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            close(fd);
            return run_fail(r, CLI_OUTPUT, "%s/%s/%s: cannot write: %s", r->rel, s->folder, e->file,
                            k < 0 ? strerror(errno) : "no space");
        }
        done += (size_t)k;
    }
    close(fd);
    r->bytes_written += fj->len;
    s->njs++;
    r->scripts++;
    return 0;
}

static int open_back(ex_run *r, ex_sess *s, int i) {
    int dfd = r->capfd, fd;
    if (!s->f[i].created) return -1;
    if (s->f[i].in_session && (dfd = openat(r->capfd, s->folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)) < 0)
        return -1;
    fd = openat(dfd, s->f[i].name, O_RDONLY | O_NOFOLLOW);
    if (s->f[i].in_session) close(dfd);
    return fd;
}

static void old_tool_fields(FILE *f, const tsl_session *cs, ex_sess *s, const int fds[2]) {
    char ip[2][64], hx[TSL_HEX_MAX];
    size_t i;
    int d, pass;
    tsl_addr_text(&cs->client, ip[0], sizeof ip[0]);
    tsl_addr_text(&cs->server, ip[1], sizeof ip[1]);
    fprintf(f, ",\n\"sip\":\"%s\",\"dip\":\"%s\",\"sport\":%u,\"dport\":%u,\"proto\":6", ip[0], ip[1],
            cs->client.port, cs->server.port);
    for (pass = 0; pass < 2; pass++) {
        fprintf(f, ",\n\"%s\":[", pass ? "tcp_payload_ascii" : "tcp_payload_hex");
        for (i = 0; i < s->nch; i++) {
            const ex_chunk *c = &s->ch[i];
            fprintf(f, "%s[\"%s\",%llu,\"", i ? ",\n " : "", ip[c->dir], (unsigned long long)c->frame);
            if (fds[c->dir] >= 0) read_back(fds[c->dir], c->filepos, c->length, f, pass ? json_esc : json_hex);
            fputs("\"]", f);
        }
        fputs("]", f);
        tsl_hash_hex(s->md5[pass ? MD5_ALL : MD5_HEX], hx);
        fprintf(f, ",\n\"%s\":\"%s\"", pass ? "tcp_ordered_payload_md5sum" : "tcp_ordered_hex_payload_md5sum", hx);
    }
    for (d = 0; d < 2; d++) {
        fprintf(f, ",\n\"combined_%s_payload\":\"", d ? "dst" : "src");
        if (fds[d] >= 0) read_back(fds[d], 0, s->filepos[d], f, json_esc);
        tsl_hash_hex(s->md5[d], hx);
        fprintf(f, "\",\n\"combined_%s_payload_md5sum\":\"%s\"", d ? "dst" : "src", hx);
    }
}

static int write_json(ex_run *r, const tsl_session *cs, ex_sess *s, int partial, const int fds[2]) {
    char name[64], t[40];
    int dfd, fd, i;
    size_t k;
    FILE *f;
    snprintf(name, sizeof name, "%s.json", s->folder);
    if ((dfd = sess_dirfd(r, s)) < 0) return r->failed;
    fd = open_out(r, dfd, s->folder, name, 0);
    close(dfd);
    if (fd < 0) return r->failed;
    if (!(f = fdopen(fd, "w"))) {
        close(fd);
        return run_fail(r, CLI_INTERNAL, "out of memory");
    }
    setvbuf(f, NULL, _IOFBF, 1 << 16);
    putc('{', f);
    put_list_fields(f, cs, r->in->name);
    fprintf(f, ",\"partial\":%s,\"folder\":\"%s\",\"first_dir\":\"%s\",\"handshake\":%u,\"vlan\":[",
            partial ? "true" : "false", s->folder, dir_name(cs->first_dir), cs->s->handshake);
    for (i = 0; i < cs->s->vlan_count && i < TCPS_MAX_VLAN; i++) fprintf(f, "%s%u", i ? "," : "", cs->s->vlan[i]);
    fputs("],\n\"files\":{", f);
    {
        const char *keys[NFILES] = {"c2s", "s2c", "transcript", "hex"};
        unsigned need[NFILES] = {OUT_DATA, OUT_DATA, OUT_TRANSCRIPT, OUT_HEX};
        int first = 1;
        for (i = 0; i < NFILES; i++) {
            if (!(r->o->outputs & need[i]) || !s->f[i].created) continue;
            /* relative to the capture's folder */
            fprintf(f, "%s\"%s\":\"%s%s%s\"", first ? "" : ",", keys[i], s->f[i].in_session ? s->folder : "",
                    s->f[i].in_session ? "/" : "", s->f[i].name);
            first = 0;
        }
    }
    fputs("},\n\"c2s\":", f);
    put_dir_stats(f, &cs->s->dir[0]);
    fputs(",\n\"s2c\":", f);
    put_dir_stats(f, &cs->s->dir[1]);
    fputs(",\n\"exchange\":[", f);
    for (k = 0; k < s->nch; k++) {
        const ex_chunk *c = &s->ch[k];
        tsl_time_text(c->ts, t, sizeof t);
        fprintf(f, "%s{\"dir\":\"%s\",\"frame\":%llu,\"ts\":%s,\"offset\":%llu,\"length\":%llu", k ? ",\n " : "",
                dir_name(c->dir), (unsigned long long)c->frame, t, (unsigned long long)c->offset,
                (unsigned long long)c->length);
        if (c->rel_frame != c->frame) fprintf(f, ",\"released_by\":%llu", (unsigned long long)c->rel_frame);
        putc('}', f);
    }
    fputs("],\n\"gaps\":[", f);
    for (k = 0; k < s->ngp; k++)
        fprintf(f, "%s{\"dir\":\"%s\",\"offset\":%llu,\"length\":%llu,\"reason\":\"%s\"}", k ? ",\n " : "",
                dir_name(s->gp[k].dir), (unsigned long long)s->gp[k].offset, (unsigned long long)s->gp[k].length,
                gap_reason(s->gp[k].reason));
    fputs("],\n\"javascript\":[", f);
    for (k = 0; k < s->njs; k++) {
        const ex_script *e = &s->js[k];
        fprintf(f,
                "%s{\"file\":\"%s/%s\",\"kind\":\"%s\",\"response\":%llu,\"response_offset\":%llu,"
                "\"length\":%llu,\"chunked\":%s,\"content_type\":",
                k ? ",\n " : "", s->folder, e->file, e->kind == HTTP_JS_RESPONSE ? "response" : "inline",
                (unsigned long long)e->response, (unsigned long long)e->offset, (unsigned long long)e->length,
                e->chunked ? "true" : "false");
        tsl_json_str(f, e->ctype, strlen(e->ctype));
        fputs(",\"content_encoding\":", f);
        tsl_json_str(f, e->cenc, strlen(e->cenc));
        putc('}', f);
    }
    putc(']', f);
    old_tool_fields(f, cs, s, fds);
    fputs("}\n", f);
    if (fflush(f) != 0 || ferror(f)) {
        fclose(f);
        return run_fail(r, CLI_OUTPUT, "%s/%s/%s: cannot write: %s", r->rel, s->folder, name, strerror(errno));
    }
    r->bytes_written += (uint64_t)ftello(f);
    fclose(f);
    return 0;
}

static void index_row(ex_run *r, const tsl_session *cs, const ex_sess *s, int partial) {
    char c[64], sv[64], t0[40], t1[40];
    if (r->idx_json) {
        fputs(r->nidx ? ",\n{" : "\n{", r->idx_json);
        put_list_fields(r->idx_json, cs, NULL);
        fprintf(r->idx_json, ",\"partial\":%s,\"folder\":\"%s\",\"scripts\":%zu}", partial ? "true" : "false",
                s->folder, s->njs);
    }
    if (r->idx_csv) {
        tsl_addr_text(&cs->client, c, sizeof c);
        tsl_addr_text(&cs->server, sv, sizeof sv);
        tsl_time_text(cs->s->first_ts, t0, sizeof t0);
        tsl_time_text(cs->s->last_ts, t1, sizeof t1);
        fprintf(r->idx_csv, "%llu,%s,%u,%s,%u,%llu,%llu,%llu,%llu,%s,%s,%llu,%s,%s,%s,%s,%s,%zu\n",
                (unsigned long long)cs->stream, c, cs->client.port, sv, cs->server.port,
                (unsigned long long)cs->dir[0].bytes, (unsigned long long)cs->dir[1].bytes,
                (unsigned long long)cs->dir[0].missing, (unsigned long long)cs->dir[1].missing, cs->dir[0].sha256,
                cs->dir[1].sha256, (unsigned long long)cs->s->packets, t0, t1, tcps_end_name(cs->end),
                partial ? "true" : "false", s->folder, s->njs);
    }
    r->nidx++;
}

static int on_close(tsl_session *cs, const tcps_event *ev, void *user) {
    ex_run *r = (ex_run *)user;
    ex_sess *s = (ex_sess *)cs->user;
    unsigned out = r->o->outputs;
    int partial, fds[2] = {-1, -1}, i, rc = 0;
    (void)ev;
    if (!s) return 0;
    /* sessions closed by the end of a capture that broke off are partial */
    partial = tcps_reader_error(r->in->rd)->code < 0;
    for (i = 0; i < NFILES; i++) rc |= file_close(r, &s->f[i]);
    if (rc) goto done;
    /* an empty direction or transcript still gets its file (tcpflow too
       writes an empty file for a direction that sent no data) */
    for (i = 0; i < NFILES; i++) {
        static const unsigned need[NFILES] = {OUT_DATA, OUT_DATA, OUT_TRANSCRIPT, OUT_HEX};
        if ((out & need[i]) && !s->f[i].created && (file_open(r, &s->f[i]) || file_close(r, &s->f[i]))) goto done;
    }
    if (out & (OUT_JSON | OUT_JS)) {
        fds[0] = open_back(r, s, 0);
        fds[1] = open_back(r, s, 1);
    }
    if (out & OUT_JS) {
        http_js_result res;
        void *u[2];
        u[0] = r, u[1] = s;
        if (http_js_scan(fds[0], fds[1], js_found, u, &res) < 0) run_fail(r, CLI_INTERNAL, "out of memory");
        if (r->failed) goto done;
    }
    if ((out & OUT_JSON) && write_json(r, cs, s, partial, fds)) goto done;
    if (!(out & OUT_DATA)) /* written only to be read back */
        for (i = 0; i < 2; i++)
            if (s->f[i].created) {
                int dfd = s->f[i].in_session ? openat(r->capfd, s->folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
                                             : r->capfd;
                if (dfd >= 0) unlinkat(dfd, s->f[i].name, 0);
                if (dfd >= 0 && dfd != r->capfd) close(dfd);
            }
    index_row(r, cs, s, partial);
    r->sessions_written++;
done:
    for (i = 0; i < 2; i++)
        if (fds[i] >= 0) close(fds[i]);
    cs->user = NULL;
    sess_free(r, s);
    return r->failed;
}

/* ------------------------------------------------------ one capture */

static int make_folder(const char *outdir, int outfd, const char *rel, char *err, size_t errlen) {
    char *p = strdup(rel), *comp, *save = NULL;
    int fd = dup(outfd);
    if (!p || fd < 0) {
        free(p);
        if (fd >= 0) close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (comp = strtok_r(p, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
        int nfd;
        if (mkdirat(fd, comp, 0777) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s/%s: cannot create %s: %s", outdir, rel, comp, strerror(errno));
            close(fd);
            free(p);
            return -1;
        }
        nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (nfd < 0) {
            snprintf(err, errlen, "%s/%s: %s: %s", outdir, rel, comp,
                     errno == ELOOP || errno == ENOTDIR ? "not a directory (a symbolic link is not followed)"
                                                        : strerror(errno));
            close(fd);
            free(p);
            return -1;
        }
        close(fd);
        fd = nfd;
    }
    free(p);
    return fd;
}

static FILE *open_index(ex_run *r, const char *name) {
    int fd = open_out(r, r->capfd, NULL, name, 0);
    FILE *f;
    if (fd < 0) return NULL;
    f = fdopen(fd, "w");
    if (!f) close(fd);
    return f;
}

static void print_stats(const ex_run *r, const tcps_stats *st, double secs) {
    uint64_t bytes = r->in->rd ? tcps_reader_offset(r->in->rd) : 0;
    fprintf(stderr,
            "%s: %.3f s, %.1f MB read, %.1f MB/s, %llu packets, %llu sessions (%llu extracted), "
            "%llu bytes delivered, %llu missing in %llu gaps, %.1f MB written, %llu scripts\n",
            r->in->name, secs, bytes / 1e6, secs > 0 ? bytes / 1e6 / secs : 0, (unsigned long long)st->packets,
            (unsigned long long)st->sessions, (unsigned long long)r->sessions_written,
            (unsigned long long)st->bytes, (unsigned long long)st->missing, (unsigned long long)st->gaps,
            r->bytes_written / 1e6, (unsigned long long)r->scripts);
}

/* descriptors the cache may hold: raise the soft limit to the hard one and
   leave room for the reader, the index, read-backs and the other workers'
   inheritance; thrashing the cache costs an open and a close per write */
static int lru_capacity(void) {
    struct rlimit rl;
    rlim_t n;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return LRU_MIN;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    n = rl.rlim_cur == RLIM_INFINITY ? LRU_MAX : rl.rlim_cur;
    n = n > 64 ? n - 64 : LRU_MIN;
    if (n > LRU_MAX) n = LRU_MAX;
    if (n < LRU_MIN) n = LRU_MIN;
    return (int)n;
}

static int extract_capture(const ex_opts *o, int outfd, const ex_job *j) {
    ex_run r;
    cli_input in;
    tsl_hooks hooks;
    tcps_stats st;
    tcps_decode_stats dst;
    char err[700], readerr[400];
    double t0 = cli_now();
    int rc, opened;
    memset(&r, 0, sizeof r);
    memset(&st, 0, sizeof st);
    readerr[0] = 0;
    r.o = o;
    r.rel = j->rel;
    r.in = &in;
    r.want_data = o->outputs & (OUT_DATA | OUT_JSON | OUT_JS);
    r.lru_cap = lru_capacity();
    r.capfd = make_folder(o->outdir, outfd, j->rel, err, sizeof err);
    if (r.capfd < 0) {
        cli_err("extract: %s", err);
        ex_log(o, "error: %s", err);
        return CLI_OUTPUT;
    }
    ex_log(o, "%s: extracting into %s/%s", j->path, o->outdir, j->rel);
    rc = cli_open(&in, j->path, 1);
    opened = rc == 0;
    if (!opened) {
        snprintf(readerr, sizeof readerr, "cannot open: %s", strerror(errno));
        in.name = j->path;
        in.rd = NULL;
    }
    if (o->outputs & OUT_INDEX) {
        r.idx_json = open_index(&r, "index.json");
        r.idx_csv = open_index(&r, "index.csv");
        if (r.idx_json) {
            fputs("{\"capture\":", r.idx_json);
            tsl_json_str(r.idx_json, j->path, strlen(j->path));
            fputs(",\"folder\":", r.idx_json);
            tsl_json_str(r.idx_json, j->rel, strlen(j->rel));
            fputs(",\"sessions\":[", r.idx_json);
        }
        if (r.idx_csv)
            fputs("stream,client_ip,client_port,server_ip,server_port,c2s_bytes,s2c_bytes,c2s_missing,"
                  "s2c_missing,c2s_sha256,s2c_sha256,packets,first_ts,last_ts,end,partial,folder,scripts\n",
                  r.idx_csv);
    }
    if (opened && !r.failed) {
        tcps_config cfg;
        memset(&cfg, 0, sizeof cfg);
        memset(&hooks, 0, sizeof hooks);
        hooks.open = on_open;
        hooks.data = on_data;
        hooks.gap = on_gap;
        hooks.close = on_close;
        hooks.user = &r;
        /* only the json and the index print the sha256 */
        rc = cli_run(&in, &cfg, (o->outputs & (OUT_JSON | OUT_INDEX)) ? TSL_HASH : 0, &hooks, &st, &dst);
        if (tcps_reader_error(in.rd)->code < 0) {
            const tcps_error *e = tcps_reader_error(in.rd);
            snprintf(readerr, sizeof readerr, "%s at byte %llu (%s)", e->message, (unsigned long long)e->offset,
                     tcps_result_name(e->code));
        }
    }
    while (r.live) sess_free(&r, r.live); /* sessions a failure left open */
    if (r.failed && (!rc || rc == CLI_INPUT)) rc = r.failed;
    if (r.idx_json) {
        const char *msg = readerr[0] ? readerr : r.failed ? r.errmsg : NULL;
        fprintf(r.idx_json, "\n],\"count\":%llu,\"partial\":%s,\"error\":", (unsigned long long)r.nidx,
                rc ? "true" : "false");
        if (msg) tsl_json_str(r.idx_json, msg, strlen(msg));
        else fputs("null", r.idx_json);
        fputs("}\n", r.idx_json);
        if (fclose(r.idx_json) != 0 && !rc) rc = run_fail(&r, CLI_OUTPUT, "%s/index.json: cannot write", j->rel);
    }
    if (r.idx_csv && fclose(r.idx_csv) != 0 && !rc) rc = run_fail(&r, CLI_OUTPUT, "%s/index.csv: cannot write", j->rel);
    if (o->stats && opened) print_stats(&r, &st, cli_now() - t0);
    ex_log(o, "%s: %llu sessions written, %.1f MB, %llu scripts, %.3f s%s%s", j->path,
           (unsigned long long)r.sessions_written, r.bytes_written / 1e6, (unsigned long long)r.scripts,
           cli_now() - t0, readerr[0] ? "; partial: " : "", readerr);
    if (opened) cli_close(&in);
    free(r.tuples);
    close(r.capfd);
    return rc;
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

static int parse_outputs(const char *s, unsigned *out) {
    static const char *const names[] = {"json", "data", "transcript", "hex", "js", "index"};
    char buf[256], *t, *save = NULL;
    *out = 0;
    snprintf(buf, sizeof buf, "%s", s);
    for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        unsigned i;
        if (!strcmp(t, "all")) {
            *out |= OUT_ALL;
            continue;
        }
        for (i = 0; i < 6 && strcmp(t, names[i]); i++) {}
        if (i == 6) return -1;
        *out |= 1u << i;
    }
    return *out ? 0 : -1;
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
    o.outputs = OUT_ALL;
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
            o.tcpflow_names = 1;
        } else if (!strcmp(a, "--stats")) {
            o.stats = 1;
        } else if (!strcmp(a, "--outputs") && more) {
            if (parse_outputs(argv[++i], &o.outputs)) {
                cli_err("extract: --outputs takes a list of json,data,transcript,hex,js,index");
                free(inputs);
                return CLI_USAGE;
            }
        } else if (!strcmp(a, "-s") && more) {
            char *end;
            o.stream = strtoull(argv[++i], &end, 10);
            if (*end || end == argv[i]) {
                cli_err("extract: -s wants a stream number");
                free(inputs);
                return CLI_USAGE;
            }
            o.have_stream = 1;
        } else if (!strcmp(a, "-e") && more) {
            ++i;
            if (tsl_endpoint_pair_parse(argv[i], strlen(argv[i]), o.ep)) {
                cli_err("extract: -e wants IP:PORT,IP:PORT");
                free(inputs);
                return CLI_USAGE;
            }
            o.have_ep = 1;
        } else if (a[0] == '-' && a[1]) {
            cli_err("extract: unknown option or missing value: %s", a);
            usage(stderr);
            free(inputs);
            return CLI_USAGE;
        } else {
            inputs[ninputs++] = argv[i];
        }
    }
    if (no_js) o.outputs &= ~(unsigned)OUT_JS;
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
