/* The extract writer (extract.h): one capture's sessions to files. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath, strcasecmp */
#endif
#include "tcpsession.h"
#include "extract.h"
#include "http_js.h"
#include "tarball.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define OUT_JSON TSL_OUT_JSON
#define OUT_DATA TSL_OUT_DATA
#define OUT_TRANSCRIPT TSL_OUT_TRANSCRIPT
#define OUT_HEX TSL_OUT_HEX
#define OUT_JS TSL_OUT_JS
#define OUT_INDEX TSL_OUT_INDEX
#define OUT_ALL TSL_OUT_ALL

#define F_C2S 0
#define F_S2C 1
#define F_TXT 2
#define F_HEX 3
#define NFILES 4
#define MD5_ALL 2 /* s->md5[TCPS_C2S], [TCPS_S2C]: each direction; ALL: both in order; HEX: as hex text */
#define MD5_HEX 3

#define LRU_MIN 16      /* descriptors kept open per capture: at least */
#define LRU_MAX 1000    /* and at most, by default */
#define FBUF 32768      /* write buffer of each open file */

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
    const tsl_extract_options *o;
    tcps_allocator mem; /* the options', else libc */
    const char *rel, *capture;
    tcps_reader *rd;
    int capfd;
    unsigned want_data; /* direction files are written (maybe only for a while) */
    ex_file *lru_head, *lru_tail;
    int lru_n, lru_cap;
    int failed; /* TSL_EXTRACT_OUTPUT or _NOMEM once something could not be written */
    char *errmsg; /* the result's */
    size_t errlen;
    FILE *idx_json, *idx_csv;
    uint64_t nidx, sessions_written, bytes_written, scripts;
    ex_sess *live;
    ex_tuple *tuples;
    size_t ntuples, ctuples;
} ex_run;

/* ------------------------------------------------------------ messages */

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
    vsnprintf(r->errmsg, r->errlen, fmt, ap);
    va_end(ap);
    return code;
}

/* -------------------------------------------------------------- files */

/* the session's folder, opened without following a link; -1 on failure */
static int sess_dirfd(ex_run *r, ex_sess *s) {
    int fd;
    if (!s->folder_made) {
        if (mkdirat(r->capfd, s->folder, 0777) != 0 && errno != EEXIST) {
            run_fail(r, TSL_EXTRACT_OUTPUT, "%s/%s: cannot create: %s", r->rel, s->folder, strerror(errno));
            return -1;
        }
        s->folder_made = 1;
    }
    fd = openat(r->capfd, s->folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0)
        run_fail(r, TSL_EXTRACT_OUTPUT, "%s/%s: %s", r->rel, s->folder,
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
        run_fail(r, TSL_EXTRACT_OUTPUT, "%s/%s%s%s: cannot write: %s", r->rel, folder ? folder : "", folder ? "/" : "",
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
            return run_fail(r, TSL_EXTRACT_OUTPUT, "%s/%s: cannot write: %s", r->rel, f->name,
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
    if (close(f->fd) != 0 && !rc) rc = run_fail(r, TSL_EXTRACT_OUTPUT, "%s/%s: %s", r->rel, f->name, strerror(errno));
    f->fd = -1;
    r->mem.free(f->buf, FBUF, r->mem.user);
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
    f->buf = (uint8_t *)r->mem.alloc(FBUF, r->mem.user);
    if (!f->buf) {
        close(fd);
        return run_fail(r, TSL_EXTRACT_NOMEM, "out of memory");
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

/* sessions seen before on this 4-tuple (either orientation); -1 when the
   table cannot grow */
static long tuple_count(ex_run *r, const tcps_endpoint *a, const tcps_endpoint *b) {
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
        ex_tuple *nt = (ex_tuple *)r->mem.alloc(nc * sizeof *nt, r->mem.user);
        if (!nt) return -1;
        memset(nt, 0, nc * sizeof *nt);
        for (k = 0; k < r->ctuples; k++)
            if (r->tuples[k].used) {
                size_t j = (size_t)fnv(r->tuples[k].key, 40) & (nc - 1);
                while (nt[j].used) j = (j + 1) & (nc - 1);
                nt[j] = r->tuples[k];
            }
        if (r->tuples) r->mem.free(r->tuples, r->ctuples * sizeof *r->tuples, r->mem.user);
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
    if (s->ch) r->mem.free(s->ch, s->cch * sizeof *s->ch, r->mem.user);
    if (s->gp) r->mem.free(s->gp, s->cgp * sizeof *s->gp, r->mem.user);
    if (s->js) r->mem.free(s->js, s->cjs * sizeof *s->js, r->mem.user);
    for (i = 0; i < 4; i++) tsl_hash_free(s->md5[i]);
    r->mem.free(s, sizeof *s, r->mem.user);
}

static int on_open(tsl_session *cs, const tcps_event *ev, void *user) {
    ex_run *r = (ex_run *)user;
    const tsl_extract_options *o = r->o;
    ex_sess *s;
    unsigned n = 0;
    int i;
    (void)ev;
    if (o->tcpflow_names) {
        long k = tuple_count(r, &cs->client, &cs->server);
        if (k < 0) return run_fail(r, TSL_EXTRACT_NOMEM, "out of memory");
        n = (unsigned)k;
    }
    if (o->have_stream && cs->stream != o->stream) return 0;
    if (o->have_endpoints && !tsl_session_between(cs->s, &o->endpoints[0], &o->endpoints[1])) return 0;
    s = (ex_sess *)r->mem.alloc(sizeof *s, r->mem.user);
    if (!s) return run_fail(r, TSL_EXTRACT_NOMEM, "out of memory");
    memset(s, 0, sizeof *s);
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
        if (!(s->md5[i] = tsl_hash_new(TSL_MD5))) return run_fail(r, TSL_EXTRACT_NOMEM, "out of memory");
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
    if (out & OUT_JSON) { /* the exchange, listed in N.json */
        if (s->nch == s->cch) {
            size_t nc = s->cch ? s->cch * 2 : 16;
            ex_chunk *nv = (ex_chunk *)tsl_mem_realloc(&r->mem, s->ch, s->cch * sizeof *nv, nc * sizeof *nv);
            if (!nv) return run_fail(r, TSL_EXTRACT_NOMEM, "out of memory");
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
    }
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
        ex_gap *nv = (ex_gap *)tsl_mem_realloc(&r->mem, s->gp, s->cgp * sizeof *nv, nc * sizeof *nv);
        if (!nv) return run_fail(r, TSL_EXTRACT_NOMEM, "out of memory");
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
        ex_script *nv = (ex_script *)tsl_mem_realloc(&r->mem, s->js, s->cjs * sizeof *nv, nc * sizeof *nv);
        if (!nv) return run_fail(r, TSL_EXTRACT_NOMEM, "out of memory");
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
            return run_fail(r, TSL_EXTRACT_OUTPUT, "%s/%s/%s: cannot write: %s", r->rel, s->folder, e->file,
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

/* the len bytes of a file read back, mapped: NULL for no file, "" for an
   empty one, MAP_FAILED when it cannot be */
static const uint8_t *map_back(int fd, uint64_t len) {
    void *p;
    if (fd < 0) return NULL;
    if (len == 0) return (const uint8_t *)"";
    if (len > (uint64_t)SIZE_MAX) return (const uint8_t *)MAP_FAILED;
    p = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0);
    return (const uint8_t *)p;
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
        return run_fail(r, TSL_EXTRACT_NOMEM, "out of memory");
    }
    setvbuf(f, NULL, _IOFBF, 1 << 16);
    putc('{', f);
    put_list_fields(f, cs, r->capture);
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
        return run_fail(r, TSL_EXTRACT_OUTPUT, "%s/%s/%s: cannot write: %s", r->rel, s->folder, name, strerror(errno));
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
    partial = tcps_reader_error(r->rd)->code < 0;
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
        const uint8_t *m[2];
        void *u[2];
        u[0] = r, u[1] = s;
        for (i = 0; i < 2; i++) m[i] = map_back(fds[i], s->filepos[i]);
        if (m[1] == MAP_FAILED || m[0] == MAP_FAILED)
            run_fail(r, TSL_EXTRACT_OUTPUT, "%s/%s: cannot read back: %s", r->rel, s->folder, strerror(errno));
        else if (http_js_scan(m[0], (size_t)s->filepos[0], m[1], (size_t)s->filepos[1], js_found, u, &res, &r->mem) < 0)
            run_fail(r, TSL_EXTRACT_NOMEM, "out of memory");
        for (i = 0; i < 2; i++)
            if (m[i] && m[i] != MAP_FAILED && s->filepos[i]) munmap((void *)m[i], (size_t)s->filepos[i]);
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

/* The folder rel under outfd, made as needed: its descriptor, or -1 (-2
   out of memory) with err set. */
static int make_folder(const tcps_allocator *mem, const char *outdir, int outfd, const char *rel, char *err,
                       size_t errlen) {
    size_t n = strlen(rel) + 1;
    char *p = (char *)mem->alloc(n, mem->user), *comp, *save = NULL;
    int fd = p ? dup(outfd) : -1;
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    if (fd < 0) {
        mem->free(p, n, mem->user);
        snprintf(err, errlen, "%s: %s", outdir, strerror(errno));
        return -1;
    }
    memcpy(p, rel, n);
    for (comp = strtok_r(p, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
        int nfd;
        if (mkdirat(fd, comp, 0777) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s/%s: cannot create %s: %s", outdir, rel, comp, strerror(errno));
            break;
        }
        nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (nfd < 0) {
            snprintf(err, errlen, "%s/%s: %s: %s", outdir, rel, comp,
                     errno == ELOOP || errno == ENOTDIR ? "not a directory (a symbolic link is not followed)"
                                                        : strerror(errno));
            break;
        }
        close(fd);
        fd = nfd;
    }
    mem->free(p, n, mem->user);
    if (comp) {
        close(fd);
        return -1;
    }
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

/* the index files' heads; the json's list is closed by index_end */
static void index_begin(ex_run *r) {
    r->idx_json = open_index(r, "index.json");
    r->idx_csv = open_index(r, "index.csv");
    if (r->idx_json) {
        fputs("{\"capture\":", r->idx_json);
        tsl_json_str(r->idx_json, r->capture, strlen(r->capture));
        fputs(",\"folder\":", r->idx_json);
        tsl_json_str(r->idx_json, r->rel, strlen(r->rel));
        fputs(",\"sessions\":[", r->idx_json);
    }
    if (r->idx_csv)
        fputs("stream,client_ip,client_port,server_ip,server_port,c2s_bytes,s2c_bytes,c2s_missing,"
              "s2c_missing,c2s_sha256,s2c_sha256,packets,first_ts,last_ts,end,partial,folder,scripts\n",
              r->idx_csv);
}

static int index_end(ex_run *r, int rc, const char *msg) {
    if (r->idx_json) {
        fprintf(r->idx_json, "\n],\"count\":%llu,\"partial\":%s,\"error\":", (unsigned long long)r->nidx,
                rc ? "true" : "false");
        if (msg && *msg) tsl_json_str(r->idx_json, msg, strlen(msg));
        else fputs("null", r->idx_json);
        fputs("}\n", r->idx_json);
        if (fclose(r->idx_json) != 0 && !rc) rc = run_fail(r, TSL_EXTRACT_OUTPUT, "%s/index.json: cannot write", r->rel);
    }
    if (r->idx_csv && fclose(r->idx_csv) != 0 && !rc)
        rc = run_fail(r, TSL_EXTRACT_OUTPUT, "%s/index.csv: cannot write", r->rel);
    return rc;
}

int tsl_extract(tcps_reader *rd, const char *capture, const char *open_error, int outfd, const char *rel,
                const tsl_extract_options *opts, tsl_extract_result *res) {
    static const tsl_extract_options defaults;
    tsl_extract_options o = opts ? *opts : defaults;
    tsl_hooks hooks;
    ex_run r;
    int rc = TSL_EXTRACT_OK;
    memset(res, 0, sizeof *res);
    if (!o.outputs) o.outputs = OUT_ALL;
    if (!o.outdir_name) o.outdir_name = ".";
    memset(&r, 0, sizeof r);
    r.o = &o;
    r.rel = rel;
    r.capture = capture;
    r.rd = rd;
    r.errmsg = res->error;
    r.errlen = sizeof res->error;
    r.want_data = o.outputs & (OUT_DATA | OUT_JSON | OUT_JS);
    if (!o.max_open_files) { /* what the soft limit allows; it is not raised here */
        struct rlimit rl;
        o.max_open_files = LRU_MAX;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < LRU_MAX + 64)
            o.max_open_files = rl.rlim_cur > 64 + LRU_MIN ? (int)(rl.rlim_cur - 64) : LRU_MIN;
    }
    r.lru_cap = o.max_open_files > LRU_MIN ? o.max_open_files : LRU_MIN;
    r.mem = o.allocator;
    tsl_mem_default(&r.mem);
    r.capfd = make_folder(&r.mem, o.outdir_name, outfd, rel, res->error, sizeof res->error);
    if (r.capfd < 0) return r.capfd == -2 ? TSL_EXTRACT_NOMEM : TSL_EXTRACT_OUTPUT;
    if (o.outputs & OUT_INDEX) index_begin(&r);
    if (!rd) {
        rc = TSL_EXTRACT_INPUT;
        res->input_error = 1;
        snprintf(res->error, sizeof res->error, "%s", open_error ? open_error : "cannot open");
    } else if (!r.failed) {
        char err[400];
        tcps_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.allocator = r.mem;
        memset(&hooks, 0, sizeof hooks);
        hooks.open = on_open;
        hooks.data = on_data;
        hooks.gap = on_gap;
        hooks.close = on_close;
        hooks.user = &r;
        hooks.packet = o.progress;
        hooks.packet_user = o.progress_user;
        /* only the json and the index print the sha256 */
        rc = tsl_collect(rd, &cfg, (o.outputs & (OUT_JSON | OUT_INDEX)) ? TSL_HASH | TSL_HASH_THREAD : 0, &hooks, &res->stats,
                         &res->decode, err, sizeof err);
        res->read_bytes = tcps_reader_offset(rd);
        if (r.failed) { /* a hook's failure: its message is in res->error */
            rc = r.failed;
        } else if (rc < 0) {
            res->input_error = tcps_reader_error(rd)->code == rc;
            snprintf(res->error, sizeof res->error, "%s", err);
            rc = res->input_error ? TSL_EXTRACT_INPUT : TSL_EXTRACT_NOMEM;
        } else if (rc > 0) { /* the progress hook stopped it */
            snprintf(res->error, sizeof res->error, "stopped before the end");
            res->input_error = 1;
            rc = TSL_EXTRACT_INPUT;
        }
    }
    while (r.live) sess_free(&r, r.live); /* sessions a failure left open */
    if (r.failed) rc = r.failed;
    rc = index_end(&r, rc, res->error);
    res->sessions_written = r.sessions_written;
    res->bytes_written = r.bytes_written;
    res->scripts = r.scripts;
    if (r.tuples) r.mem.free(r.tuples, r.ctuples * sizeof *r.tuples, r.mem.user);
    close(r.capfd);
    return rc;
}

int tsl_extract_outputs_parse(const char *list, unsigned *out) {
    static const char *const names[] = {"json", "data", "transcript", "hex", "js", "index"};
    const char *p = list;
    *out = 0;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        unsigned i;
        if (n == 0) { /* ",," */
        } else if (n == 3 && !strncmp(p, "all", 3)) {
            *out |= OUT_ALL;
        } else {
            for (i = 0; i < 6 && !(strlen(names[i]) == n && !strncmp(p, names[i], n)); i++) {}
            if (i == 6) return -1;
            *out |= 1u << i;
        }
        p += n;
        if (*p == ',') p++;
    }
    return *out ? 0 : -1;
}
