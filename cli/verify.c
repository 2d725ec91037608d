/* tcpsession verify: run tshark or tcpflow on the same capture and compare
   every session and direction with what tcpsession delivers.

   The peer runs first and leaves its bytes in files (tcpflow writes its own;
   tshark's raw follow output is decoded into a file per stream and node).
   Then the capture is reassembled once, and every chunk we deliver is
   compared with the peer's bytes as it arrives, so the first differing byte
   is known exactly without holding any session in memory:
     - against tshark, at the count of bytes delivered so far (tshark's
       follow output leaves gaps out, as our count does);
     - against tcpflow, at the chunk's stream offset (tcpflow writes each
       segment at its sequence offset in the file, so a hole stays a run of
       zeros).
   Each direction of each session becomes a row: ok, known (a difference
   whose cause is understood and is not our error; counted as passed) or
   FAIL, with the reason. */
#include "tcpsession.h"
#include "cli.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <arpa/inet.h>
#include <dirent.h>

#define PEER_TSHARK 1
#define PEER_TCPFLOW 2

#define ST_OK 0
#define ST_KNOWN 1
#define ST_FAIL 2

#define NONE UINT64_MAX

/* ------------------------------------------------------------- helpers */

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = (char *)malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static char *xprintf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static char *xprintf(const char *fmt, ...) {
    va_list ap;
    int n;
    char *p;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    p = (char *)malloc((size_t)n + 1);
    if (!p) return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* The program to run for a peer: $TSHARK / $TCPFLOW, else the name, found
   in PATH. NULL when it is not there. */
static char *find_prog(const char *name, const char *env) {
    const char *e = getenv(env), *path, *p;
    if (e && *e) return access(e, X_OK) == 0 ? xstrdup(e) : NULL;
    path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    for (p = path; *p;) {
        const char *q = strchr(p, ':');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        char *full = xprintf("%.*s/%s", (int)n, n ? p : ".", name);
        if (full && access(full, X_OK) == 0) return full;
        free(full);
        p += n;
        if (*p == ':') p++;
    }
    return NULL;
}

/* Run argv with stdout and stderr to files; the exit status, 127 when it
   could not be started, 128+N when killed by signal N. No shell. */
static int run_prog(char *const argv[], const char *out, const char *err) {
    pid_t pid;
    int st;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) return 127;
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int fi = open("/dev/null", O_RDONLY);
        if (fo < 0 || fe < 0 || fi < 0) _exit(127);
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return 127;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return 127;
}

static void rm_tree(const char *path) {
    DIR *d = opendir(path);
    struct dirent *e;
    if (d) {
        while ((e = readdir(d)) != NULL) {
            char *p;
            struct stat st;
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            p = xprintf("%s/%s", path, e->d_name);
            if (!p) continue;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) rm_tree(p);
            else unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(path);
}

/* "ip:port" or "[ip6]:port", as tshark's follow header writes endpoints */
static void ep_text(const tcps_endpoint *e, char *buf, size_t size) {
    char a[64];
    tsl_addr_text(e, a, sizeof a);
    snprintf(buf, size, e->ip_version == 6 ? "[%s]:%u" : "%s:%u", a, e->port);
}

/* ---------------------------------------------------------- the rows */

typedef struct vrow {
    int64_t stream;    /* -1: only the peer has it */
    const char *dir;   /* "c2s", "s2c" or "-" */
    char src[64], dst[64];
    int64_t ours, peer; /* bytes; -1 none */
    int64_t ours_missing, peer_missing;
    char ours_sha[65], peer_sha[65];
    int status;
    char *reason;
} vrow;

typedef struct rows {
    vrow *v;
    size_t n, cap;
} rows;

static vrow *row_add(rows *r) {
    vrow *x;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        vrow *nv = (vrow *)realloc(r->v, nc * sizeof *nv);
        if (!nv) return NULL;
        r->v = nv, r->cap = nc;
    }
    x = &r->v[r->n++];
    memset(x, 0, sizeof *x);
    x->peer = x->peer_missing = -1;
    x->dir = "-";
    return x;
}

/* ------------------------------------------------------ peer records */

/* One direction of the peer's output: a file of its bytes. */
typedef struct pdir {
    char *path;        /* NULL: no bytes */
    uint64_t size, missing, chunks;
    char sha[65];
} pdir;

/* tshark: one stream */
typedef struct tstream {
    int64_t id;
    char node[2][64];
    pdir d[2];         /* by node */
    int seen;          /* follow printed it */
    int used;
} tstream;

/* tcpflow: one file (one direction of one connection) */
typedef struct tfile {
    char *path;
    uint64_t size;
    uint8_t src[16], dst[16];
    int ipv;
    uint16_t sport, dport;
    int64_t start_us; /* its first packet */
    int vlan;         /* -1 none */
    int used;
} tfile;

typedef struct peer {
    int kind;
    char *prog;
    char *tmp;       /* working directory */
    const char *capture; /* what the peer reads */
    int rc;          /* the peer's exit status */
    char *err_text;  /* first line of its complaints */
    tstream *ts;
    size_t nts;
    tfile *tf;
    size_t ntf;
} peer;

static int by_id(const void *a, const void *b) {
    const tstream *x = (const tstream *)a, *y = (const tstream *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static tstream *ts_find(peer *p, int64_t id) {
    size_t lo = 0, hi = p->nts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->ts[mid].id < id) lo = mid + 1;
        else if (p->ts[mid].id > id) hi = mid;
        else return &p->ts[mid];
    }
    return NULL;
}

/* The peer's complaint, without tshark's "Running as user" line. */
static char *first_err_line(const char *path) {
    FILE *f = fopen(path, "r");
    char line[512];
    char *r = NULL;
    if (!f) return NULL;
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = 0;
        if (!n || strstr(line, "Running as user") || strstr(line, "This could be dangerous") ||
            strstr(line, "reportfilename")) continue;
        r = xstrdup(line);
        break;
    }
    fclose(f);
    return r;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* tshark's follow marks a hole with the text "[N bytes missing in capture
   file]" (and a NUL) as a chunk of its own. Returns N, or -1. */
static int64_t gap_marker(const uint8_t *b, size_t n) {
    static const char tail[] = " bytes missing in capture file]";
    size_t i = 1, tl = sizeof tail - 1;
    int64_t v = 0;
    if (n && b[n - 1] == 0) n--;
    if (n < 2 + tl || b[0] != '[') return -1;
    while (i < n && b[i] >= '0' && b[i] <= '9' && v < ((int64_t)1 << 50)) v = v * 10 + (b[i++] - '0');
    if (i == 1 || n - i != tl || memcmp(b + i, tail, tl) != 0) return -1;
    return v;
}

typedef struct tparse {
    tstream *cur;
    FILE *f[2];
    tsl_hash *sha[2]; /* restarted by each tparse_end */
} tparse;

static void tparse_end(peer *p, tparse *tp) {
    int k;
    (void)p;
    if (!tp->cur) return;
    for (k = 0; k < 2; k++) {
        if (tp->f[k]) fclose(tp->f[k]);
        tp->f[k] = NULL;
        tsl_hash_hex(tp->sha[k], tp->cur->d[k].sha);
    }
    tp->cur = NULL;
}

/* Decode one run of tshark -q -z follow,tcp,raw,N ... output. */
static int tshark_parse(peer *p, const char *path) {
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint8_t *buf = NULL;
    size_t bcap = 0;
    tparse tp;
    int ret = 0;
    if (!f) return -1;
    memset(&tp, 0, sizeof tp);
    tp.sha[0] = tsl_hash_new(TSL_SHA256);
    tp.sha[1] = tsl_hash_new(TSL_SHA256);
    if (!tp.sha[0] || !tp.sha[1]) ret = -1;
    while (!ret && (len = getline(&line, &cap, f)) >= 0) {
        char *s = line;
        int node = 0;
        size_t n, i;
        long long id;
        while (len && (s[len - 1] == '\n' || s[len - 1] == '\r')) s[--len] = 0;
        if (!strncmp(s, "=====", 5)) {
            tparse_end(p, &tp);
            continue;
        }
        if (!strncmp(s, "Follow: ", 8)) continue;
        if (sscanf(s, "Filter: tcp.stream eq %lld", &id) == 1) {
            tparse_end(p, &tp);
            tp.cur = ts_find(p, id);
            if (tp.cur) tp.cur->seen = 1;
            continue;
        }
        if (!tp.cur) continue;
        if (!strncmp(s, "Node 0: ", 8) || !strncmp(s, "Node 1: ", 8)) {
            snprintf(tp.cur->node[s[5] - '0'], sizeof tp.cur->node[0], "%s", s + 8);
            continue;
        }
        if (*s == '\t') node = 1, s++, len--;
        if (len <= 0) continue;
        n = (size_t)len / 2;
        if (n > bcap) {
            uint8_t *nb = (uint8_t *)realloc(buf, n);
            if (!nb) {
                ret = -1;
                break;
            }
            buf = nb, bcap = n;
        }
        for (i = 0; i < n; i++) {
            int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
            if (hi < 0 || lo < 0) break;
            buf[i] = (uint8_t)(hi << 4 | lo);
        }
        if (i < n) continue; /* not a data line */
        {
            int64_t gm = gap_marker(buf, n);
            pdir *d = &tp.cur->d[node];
            if (gm >= 0) {
                d->missing += (uint64_t)gm;
                continue;
            }
            if (!tp.f[node]) {
                if (!d->path) d->path = xprintf("%s/tshark/%lld.%d", p->tmp, (long long)tp.cur->id, node);
                tp.f[node] = d->path ? fopen(d->path, "ab") : NULL;
                if (!tp.f[node]) {
                    cli_err("verify: cannot write %s: %s", d->path ? d->path : "tshark output", strerror(errno));
                    ret = -1;
                    break;
                }
            }
            if (fwrite(buf, 1, n, tp.f[node]) != n) {
                cli_err("verify: cannot write %s: %s", d->path, strerror(errno));
                ret = -1;
                break;
            }
            tsl_hash_update(tp.sha[node], buf, n);
            d->size += n;
            d->chunks++;
        }
    }
    if (tp.sha[0] && tp.sha[1]) tparse_end(p, &tp);
    tsl_hash_free(tp.sha[0]);
    tsl_hash_free(tp.sha[1]);
    free(line);
    free(buf);
    fclose(f);
    return ret;
}

#define TSHARK_BATCH 250

static int tshark_run(peer *p, int verbose) {
    char *out = xprintf("%s/tshark-streams.txt", p->tmp), *err = xprintf("%s/tshark-stderr.txt", p->tmp);
    char *dir = xprintf("%s/tshark", p->tmp);
    char *argv[16 + 2 * TSHARK_BATCH];
    FILE *f;
    char *line = NULL;
    size_t cap = 0, i, k;
    int rc, ret = 0;
    if (!out || !err || !dir) return CLI_INTERNAL;
    mkdir(dir, 0755);
    /* every stream index, including TCP inside tunnels and ICMP errors */
    k = 0;
    argv[k++] = p->prog;
    argv[k++] = (char *)"-n";
    argv[k++] = (char *)"-r";
    argv[k++] = (char *)p->capture;
    argv[k++] = (char *)"-T";
    argv[k++] = (char *)"fields";
    argv[k++] = (char *)"-E";
    argv[k++] = (char *)"occurrence=a";
    argv[k++] = (char *)"-E";
    argv[k++] = (char *)"aggregator=,";
    argv[k++] = (char *)"-e";
    argv[k++] = (char *)"tcp.stream";
    argv[k] = NULL;
    if (verbose) fprintf(stderr, "verify: running %s -n -r %s -T fields -e tcp.stream\n", p->prog, p->capture);
    rc = run_prog(argv, out, err);
    if (rc == 127) {
        cli_err("verify: cannot run %s", p->prog);
        ret = CLI_INTERNAL;
        goto done;
    }
    p->rc = rc;
    f = fopen(out, "r");
    if (f) {
        int64_t maxid = -1;
        uint8_t *have = NULL;
        size_t hcap = 0;
        while (getline(&line, &cap, f) >= 0) {
            char *s = line;
            while (*s) {
                if (*s >= '0' && *s <= '9') {
                    long long v = strtoll(s, &s, 10);
                    if (v >= 0 && v < (1LL << 40)) {
                        if ((uint64_t)v >= hcap) {
                            size_t nc = hcap ? hcap : 1024;
                            uint8_t *nh;
                            while (nc <= (uint64_t)v) nc *= 2;
                            nh = (uint8_t *)realloc(have, nc);
                            if (!nh) {
                                ret = CLI_INTERNAL;
                                break;
                            }
                            memset(nh + hcap, 0, nc - hcap);
                            have = nh, hcap = nc;
                        }
                        have[v] = 1;
                        if (v > maxid) maxid = v;
                    }
                } else {
                    s++;
                }
            }
        }
        fclose(f);
        for (i = 0; (int64_t)i <= maxid && !ret; i++)
            if (have[i]) {
                if ((p->nts & (p->nts - 1)) == 0) {
                    tstream *nt = (tstream *)realloc(p->ts, (p->nts ? p->nts * 2 : 1) * sizeof *nt);
                    if (!nt) {
                        ret = CLI_INTERNAL;
                        break;
                    }
                    p->ts = nt;
                }
                memset(&p->ts[p->nts], 0, sizeof p->ts[0]);
                p->ts[p->nts++].id = (int64_t)i;
            }
        free(have);
    }
    if (ret) goto done;
    qsort(p->ts, p->nts, sizeof *p->ts, by_id);
    /* their bytes: many follow taps per run, each run reads the capture once */
    for (i = 0; i < p->nts; i += TSHARK_BATCH) {
        size_t j, n = p->nts - i < TSHARK_BATCH ? p->nts - i : TSHARK_BATCH;
        char *fout = xprintf("%s/tshark-follow-%zu.txt", p->tmp, i / TSHARK_BATCH);
        char **taps = (char **)calloc(n, sizeof *taps);
        if (!fout || !taps) {
            free(fout);
            free(taps);
            ret = CLI_INTERNAL;
            break;
        }
        k = 0;
        argv[k++] = p->prog;
        argv[k++] = (char *)"-n";
        argv[k++] = (char *)"-r";
        argv[k++] = (char *)p->capture;
        argv[k++] = (char *)"-q";
        for (j = 0; j < n; j++) {
            taps[j] = xprintf("follow,tcp,raw,%lld", (long long)p->ts[i + j].id);
            argv[k++] = (char *)"-z";
            argv[k++] = taps[j] ? taps[j] : (char *)"follow,tcp,raw,0";
        }
        argv[k] = NULL;
        if (verbose)
            fprintf(stderr, "verify: running %s -n -r %s -q -z follow,tcp,raw,N for streams %lld-%lld\n",
                    p->prog, p->capture, (long long)p->ts[i].id, (long long)p->ts[i + n - 1].id);
        rc = run_prog(argv, fout, err);
        if (rc > p->rc) p->rc = rc;
        if (tshark_parse(p, fout) != 0) ret = CLI_INTERNAL;
        for (j = 0; j < n; j++) free(taps[j]);
        free(taps);
        free(fout);
        if (ret) break;
    }
done:
    if (!p->err_text) p->err_text = first_err_line(err);
    free(line);
    free(out);
    free(err);
    free(dir);
    return ret;
}

/* "2004-05-13T10:17:08.222534Z" in microseconds since 1970 */
static int64_t iso_us(const char *s) {
    struct tm tm;
    int y, mo, d, h, mi, n = 0;
    double sec;
    int64_t days;
    if (sscanf(s, "%d-%d-%dT%d:%d:%lf%n", &y, &mo, &d, &h, &mi, &sec, &n) < 6) return -1;
    memset(&tm, 0, sizeof tm);
    /* days from civil (proleptic Gregorian), no timegm needed */
    y -= mo <= 2;
    {
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        days = era * 146097 + doe - 719468;
    }
    (void)tm;
    return ((days * 86400 + h * 3600 + mi * 60) * 1000000) + (int64_t)(sec * 1e6 + 0.5);
}

static const char *xml_attr(const char *tag, const char *end, const char *name, char *out, size_t size) {
    size_t nl = strlen(name);
    const char *p = tag;
    while ((p = strstr(p, name)) != NULL && p < end) {
        if ((p == tag || p[-1] == ' ') && p[nl] == '=' && (p[nl + 1] == '\'' || p[nl + 1] == '"')) {
            char q = p[nl + 1];
            const char *v = p + nl + 2, *e = strchr(v, q);
            size_t n;
            if (!e || e > end) return NULL;
            n = (size_t)(e - v) < size - 1 ? (size_t)(e - v) : size - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return out;
        }
        p += nl;
    }
    return NULL;
}

/* VLAN id from tcpflow's file name (template %A.%a-%B.%b%V%v%C%c: "--N"
   after the destination port when the packets had a VLAN tag). */
static int tf_name_vlan(const char *path) {
    const char *b = strrchr(path, '/'), *v;
    b = b ? b + 1 : path;
    v = strstr(b, "--");
    return v ? atoi(v + 2) : -1;
}

static int tcpflow_run(peer *p, int verbose) {
    char *dir = xprintf("%s/tcpflow", p->tmp), *out = xprintf("%s/tcpflow-stdout.txt", p->tmp),
         *err = xprintf("%s/tcpflow-stderr.txt", p->tmp), *rep = NULL, *x = NULL;
    char *argv[12];
    int rc, ret = 0, k = 0;
    FILE *f;
    long sz;
    const char *s;
    if (!dir || !out || !err) return CLI_INTERNAL;
    mkdir(dir, 0755);
    argv[k++] = p->prog;
    argv[k++] = (char *)"-r";
    argv[k++] = (char *)p->capture;
    argv[k++] = (char *)"-o";
    argv[k++] = dir;
    argv[k] = NULL;
    if (verbose) fprintf(stderr, "verify: running %s -r %s -o %s\n", p->prog, p->capture, dir);
    rc = run_prog(argv, out, err);
    if (rc == 127) {
        cli_err("verify: cannot run %s", p->prog);
        ret = CLI_INTERNAL;
        goto done;
    }
    p->rc = rc;
    p->err_text = first_err_line(err);
    rep = xprintf("%s/report.xml", dir);
    f = rep ? fopen(rep, "rb") : NULL;
    if (!f) goto done; /* no report: no flows we can read; every session fails */
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    x = sz >= 0 ? (char *)malloc((size_t)sz + 1) : NULL;
    if (!x || fread(x, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        ret = CLI_INTERNAL;
        goto done;
    }
    x[sz] = 0;
    fclose(f);
    /* <fileobject><filename>P</filename><filesize>N</filesize>
       <tcpflow startime='...' ... src_ipn='..' dst_ipn='..' srcport='..' dstport='..' .../> */
    for (s = x; (s = strstr(s, "<fileobject>")) != NULL;) {
        const char *e = strstr(s, "</fileobject>"), *fn, *fz, *tg;
        char a[128], b[128], sp[16], dp[16], st[64];
        tfile t;
        if (!e) break;
        fn = strstr(s, "<filename>");
        fz = strstr(s, "<filesize>");
        tg = strstr(s, "<tcpflow ");
        memset(&t, 0, sizeof t);
        if (fn && fn < e && fz && fz < e && tg && tg < e && xml_attr(tg, e, "src_ipn", a, sizeof a) &&
            xml_attr(tg, e, "dst_ipn", b, sizeof b) && xml_attr(tg, e, "srcport", sp, sizeof sp) &&
            xml_attr(tg, e, "dstport", dp, sizeof dp) && xml_attr(tg, e, "startime", st, sizeof st)) {
            const char *fe = strstr(fn, "</filename>");
            if (fe && fe < e) {
                size_t n = (size_t)(fe - fn - 10);
                t.path = (char *)malloc(n + 1);
                if (t.path) {
                    memcpy(t.path, fn + 10, n);
                    t.path[n] = 0;
                }
            }
            t.size = strtoull(fz + 10, NULL, 10);
            if (inet_pton(AF_INET, a, t.src) == 1 && inet_pton(AF_INET, b, t.dst) == 1) t.ipv = 4;
            else if (inet_pton(AF_INET6, a, t.src) == 1 && inet_pton(AF_INET6, b, t.dst) == 1) t.ipv = 6;
            t.sport = (uint16_t)atoi(sp);
            t.dport = (uint16_t)atoi(dp);
            t.start_us = iso_us(st);
            t.vlan = t.path ? tf_name_vlan(t.path) : -1;
            if (t.path && t.ipv) {
                if ((p->ntf & (p->ntf - 1)) == 0) {
                    tfile *nt = (tfile *)realloc(p->tf, (p->ntf ? p->ntf * 2 : 1) * sizeof *nt);
                    if (!nt) {
                        free(t.path);
                        ret = CLI_INTERNAL;
                        break;
                    }
                    p->tf = nt;
                }
                p->tf[p->ntf++] = t;
            } else {
                free(t.path);
            }
        }
        s = e;
    }
done:
    free(x);
    free(rep);
    free(dir);
    free(out);
    free(err);
    return ret;
}

static void peer_free(peer *p) {
    size_t i;
    int k;
    for (i = 0; i < p->nts; i++)
        for (k = 0; k < 2; k++) free(p->ts[i].d[k].path);
    for (i = 0; i < p->ntf; i++) free(p->tf[i].path);
    free(p->ts);
    free(p->tf);
    free(p->err_text);
    p->ts = NULL;
    p->tf = NULL;
    p->nts = p->ntf = 0;
    p->err_text = NULL;
}

/* ------------------------------------------------- our side, compared */

/* Ethernet pads frames to 60 bytes: after 14 bytes of header and 40 of
   IPv4 and TCP headers, at most 6 bytes of padding follow a segment (more
   with FCS bytes kept in the capture). */
#define PAD_MAX 10

#define DIFF_NONE 0
#define DIFF_BYTES 1 /* a byte differs */
#define DIFF_SHORT 2 /* the peer has no byte there */

typedef struct vdir {
    const char *path; /* the peer's file for this direction, NULL: none */
    uint64_t peer_size;
    int fd;
    uint64_t delivered;    /* our bytes so far */
    uint64_t data_end;     /* stream offset after our last byte */
    uint64_t diff_at;      /* first differing position (peer coordinates) */
    int diff_kind;
    uint64_t close_gap_at; /* delivered count at our first TCPS_GAP_CLOSE */
    uint64_t gap_bytes_nonzero; /* tcpflow: bytes inside our gaps that are not zero in its file */
    uint64_t gap_first_nonzero;
    int peer_dir;          /* tshark: the node that sent this direction */
    uint64_t zruns, zrun_first, zrun_start, zrun_end; /* tcpflow: short runs over our bytes */
    tfile *tf;             /* tcpflow: the file */
    int matched;           /* tcpflow: looked for its file */
} vdir;

typedef struct vsess {
    tstream *ts;
    int vlan_merged; /* --separate-vlans: matched to tshark's stream by endpoints */
    int swapped;  /* tshark's node 0 is not our first packet's source */
    int endpoint_mismatch;
    vdir d[2];
} vsess;

typedef struct vstate {
    peer *p;
    rows *r;
    int64_t count[3];
    int separate_vlans;
    int oom;
} vstate;

/* Read up to len bytes of a peer file at off. Keeps one descriptor per
   direction; when descriptors run out, opens and closes per read. */
static ssize_t peer_read(vdir *d, uint64_t off, void *buf, size_t len) {
    ssize_t n;
    int tmp = 0;
    if (!d->path) return 0;
    if (d->fd < 0) {
        d->fd = open(d->path, O_RDONLY);
        if (d->fd < 0) {
            if (errno != EMFILE && errno != ENFILE) return -1;
            tmp = open(d->path, O_RDONLY);
            if (tmp < 0) return -1;
            n = pread(tmp, buf, len, (off_t)off);
            close(tmp);
            return n;
        }
    }
    n = pread(d->fd, buf, len, (off_t)off);
    return n;
}

/* Compare our bytes with the peer's at position pos; note the first
   difference. With runs set (tcpflow), keep comparing past runs of at most
   PAD_MAX differing bytes (the padding of a short frame, a keep-alive or
   an ACK, that tcpflow wrote over data; padding is usually zeros but not
   always) and count them; a longer run ends the comparison. */
static void compare_at(vdir *d, uint64_t pos, const uint8_t *ours, size_t len, int runs) {
    uint8_t buf[65536];
    size_t done = 0;
    if (d->diff_kind != DIFF_NONE) return;
    while (done < len) {
        size_t want = len - done < sizeof buf ? len - done : sizeof buf, i;
        ssize_t got = pos + done < d->peer_size ? peer_read(d, pos + done, buf, want) : 0;
        if (got < 0) got = 0;
        for (i = 0; i < (size_t)got; i++) {
            uint64_t at = pos + done + i;
            if (buf[i] == ours[done + i]) continue;
            if (runs) {
                if (d->zrun_end == at) {
                    d->zrun_end = at + 1;
                    if (at + 1 - d->zrun_start <= PAD_MAX) continue;
                } else if (d->zrun_end < at || d->zrun_end == NONE) {
                    if (!d->zruns) d->zrun_first = at;
                    d->zruns++;
                    d->zrun_start = at;
                    d->zrun_end = at + 1;
                    continue;
                }
            }
            d->diff_kind = DIFF_BYTES;
            d->diff_at = at;
            return;
        }
        if ((size_t)got < want) {
            d->diff_kind = DIFF_SHORT;
            d->diff_at = pos + done + (size_t)got;
            return;
        }
        done += want;
    }
}

static int sender_is(const tcps_endpoint *e, const tfile *t) {
    return t->ipv == e->ip_version && !memcmp(t->src, e->addr, e->ip_version == 4 ? 4 : 16) &&
           t->sport == e->port;
}

/* tcpflow's file for direction dir of a session: same addresses and ports
   that way, not taken yet, first packet within the session's time. */
static tfile *tf_match(vstate *vs, tsl_session *cs, int dir, int64_t upto_us) {
    const tcps_endpoint *src = dir == TCPS_C2S ? &cs->client : &cs->server;
    const tcps_endpoint *dst = dir == TCPS_C2S ? &cs->server : &cs->client;
    int64_t from = cs->s->first_ts.sec * 1000000 + cs->s->first_ts.nsec / 1000 - 1;
    tfile *best = NULL;
    size_t i;
    for (i = 0; i < vs->p->ntf; i++) {
        tfile *t = &vs->p->tf[i];
        if (t->used || !sender_is(src, t) || t->dport != dst->port ||
            memcmp(t->dst, dst->addr, dst->ip_version == 4 ? 4 : 16))
            continue;
        if (t->start_us < from || t->start_us > upto_us + 1) continue;
        if (vs->separate_vlans && cs->s->vlan_count && t->vlan >= 0 && t->vlan != cs->s->vlan[0]) continue;
        if (!best || t->start_us < best->start_us) best = t;
    }
    return best;
}

static void vd_set_tf(vdir *d, tfile *t) {
    d->matched = 1;
    d->tf = t;
    if (t) {
        t->used = 1;
        d->path = t->size ? t->path : NULL;
        d->peer_size = t->size;
    }
}

static int v_open(tsl_session *cs, const tcps_event *ev, void *user) {
    vstate *vs = (vstate *)user;
    vsess *v = (vsess *)calloc(1, sizeof *v);
    int k;
    (void)ev;
    if (!v) return vs->oom = CLI_INTERNAL;
    cs->user = v;
    for (k = 0; k < 2; k++) {
        v->d[k].fd = -1;
        v->d[k].diff_at = NONE;
        v->d[k].close_gap_at = NONE;
        v->d[k].gap_first_nonzero = NONE;
        v->d[k].zrun_end = NONE;
        v->d[k].peer_dir = k;
    }
    if (vs->p->kind == PEER_TSHARK) {
        char c[64], s[64];
        tstream *t = ts_find(vs->p, (int64_t)cs->stream);
        ep_text(&cs->client, c, sizeof c);
        ep_text(&cs->server, s, sizeof s);
        if (vs->separate_vlans && (!t || !((!strcmp(t->node[0], c) && !strcmp(t->node[1], s)) ||
                                           (!strcmp(t->node[0], s) && !strcmp(t->node[1], c))))) {
            /* tshark numbers VLAN-merged sessions differently: find the
               stream of the same endpoints */
            size_t i;
            for (i = 0; i < vs->p->nts; i++) {
                tstream *u = &vs->p->ts[i];
                if ((!strcmp(u->node[0], c) && !strcmp(u->node[1], s)) ||
                    (!strcmp(u->node[0], s) && !strcmp(u->node[1], c))) {
                    t = u;
                    v->vlan_merged = 1;
                    break;
                }
            }
        }
        v->ts = t;
        if (t) {
            t->used = 1;
            /* node 0 sent the stream's first packet */
            if (!strcmp(t->node[0], c) && !strcmp(t->node[1], s)) v->d[0].peer_dir = 0, v->d[1].peer_dir = 1;
            else if (!strcmp(t->node[0], s) && !strcmp(t->node[1], c)) v->d[0].peer_dir = 1, v->d[1].peer_dir = 0;
            else v->endpoint_mismatch = 1;
            v->swapped = v->d[0].peer_dir != (cs->first_dir == TCPS_C2S ? 0 : 1);
            for (k = 0; k < 2; k++) {
                pdir *pd = &t->d[v->d[k].peer_dir];
                v->d[k].path = pd->path;
                v->d[k].peer_size = pd->size;
            }
        }
    }
    return 0;
}

static int v_data(tsl_session *cs, const tcps_event *ev, void *user) {
    vstate *vs = (vstate *)user;
    vsess *v = (vsess *)cs->user;
    vdir *d = &v->d[ev->dir];
    if (vs->p->kind == PEER_TSHARK) {
        compare_at(d, d->delivered, ev->data.ptr, ev->data.len, 0);
    } else {
        if (!d->matched)
            vd_set_tf(d, tf_match(vs, cs, ev->dir, ev->data_ts.sec * 1000000 + ev->data_ts.nsec / 1000));
        compare_at(d, ev->offset, ev->data.ptr, ev->data.len, 1);
    }
    d->delivered += ev->data.len;
    d->data_end = ev->offset + ev->data.len;
    return 0;
}

static int v_gap(tsl_session *cs, const tcps_event *ev, void *user) {
    vstate *vs = (vstate *)user;
    vsess *v = (vsess *)cs->user;
    vdir *d = &v->d[ev->dir];
    if (ev->reason == TCPS_GAP_CLOSE && d->close_gap_at == NONE) d->close_gap_at = d->delivered;
    if (vs->p->kind == PEER_TCPFLOW) {
        /* what tcpflow's file holds where we have a hole (bounded: a few MB
           of checking per gap is plenty to tell zeros from data) */
        uint8_t buf[65536];
        uint64_t off = ev->offset, end = ev->offset + ev->length, lim = ev->offset + ((uint64_t)4 << 20);
        if (!d->matched)
            vd_set_tf(d, tf_match(vs, cs, ev->dir, ev->ts.sec * 1000000 + ev->ts.nsec / 1000));
        if (end > lim) end = lim;
        if (end > d->peer_size) end = d->peer_size;
        while (off < end) {
            size_t want = end - off < sizeof buf ? (size_t)(end - off) : sizeof buf, i;
            ssize_t got = peer_read(d, off, buf, want);
            if (got <= 0) break;
            for (i = 0; i < (size_t)got; i++)
                if (buf[i]) {
                    if (d->gap_first_nonzero == NONE) d->gap_first_nonzero = off + i;
                    d->gap_bytes_nonzero++;
                }
            off += (uint64_t)got;
        }
    }
    return 0;
}

static void fill_row_common(vrow *w, tsl_session *cs, int dir) {
    const tcps_endpoint *src = dir == TCPS_C2S ? &cs->client : &cs->server;
    const tcps_endpoint *dst = dir == TCPS_C2S ? &cs->server : &cs->client;
    w->stream = (int64_t)cs->stream;
    w->dir = dir == TCPS_C2S ? "c2s" : "s2c";
    ep_text(src, w->src, sizeof w->src);
    ep_text(dst, w->dst, sizeof w->dst);
    w->ours = (int64_t)cs->dir[dir].bytes;
    w->ours_missing = (int64_t)cs->dir[dir].missing;
    memcpy(w->ours_sha, cs->dir[dir].sha256, 65);
}

static void judge_tshark(vstate *vs, tsl_session *cs, vsess *v, int k, vrow *w) {
    vdir *d = &v->d[k];
    uint64_t ours = cs->dir[k].bytes;
    tstream *t = v->ts;
    pdir *pd;
    if (!t || !t->seen) {
        w->status = ST_FAIL;
        w->reason = xprintf("tshark has no stream %llu", (unsigned long long)cs->stream);
        return;
    }
    pd = &t->d[d->peer_dir];
    w->peer = (int64_t)pd->size;
    w->peer_missing = (int64_t)pd->missing;
    memcpy(w->peer_sha, pd->size ? pd->sha : cs->dir[k].sha256, 65);
    if (!pd->size) tsl_digest_hex(TSL_SHA256, "", 0, w->peer_sha); /* sha of nothing */
    if (v->endpoint_mismatch && (!t->node[0][0] || !strcmp(t->node[0], ":0")) && !pd->size &&
        !cs->dir[k].bytes) {
        w->status = ST_KNOWN;
        w->reason = xprintf("tshark's follow got no segment of stream %llu (a TCP header it would not "
                            "follow: malformed, or quoted in an ICMP error); neither side has data",
                            (unsigned long long)cs->stream);
        return;
    }
    if (v->endpoint_mismatch) {
        char c[64], s[64];
        ep_text(&cs->client, c, sizeof c);
        ep_text(&cs->server, s, sizeof s);
        w->status = ST_FAIL;
        w->reason = xprintf("tshark's stream %llu is %s - %s, ours is %s - %s%s",
                            (unsigned long long)cs->stream, t->node[0], t->node[1], c, s,
                            vs->separate_vlans ? " (with --separate-vlans the numbering differs from "
                                                 "tshark's, which merges VLANs)"
                                               : "");
        return;
    }
    if (v->vlan_merged && !(d->diff_kind == DIFF_NONE && pd->size == ours)) {
        w->status = ST_KNOWN;
        w->reason = xprintf("tshark merges the sessions of these endpoints on different VLANs into its stream "
                            "%lld; with --separate-vlans we keep VLAN %u apart",
                            (long long)t->id, cs->s->vlan_count ? cs->s->vlan[0] : 0u);
        return;
    }
    if (d->diff_kind == DIFF_NONE && pd->size == ours) {
        w->status = ST_OK;
        if (v->vlan_merged)
            w->reason = xprintf("same bytes as tshark's stream %lld, which merges the VLANs of these endpoints",
                                (long long)t->id);
        if (pd->missing != cs->dir[k].missing)
            w->reason = xprintf("same bytes; missing: tshark %llu, ours %llu (see tests/KNOWN_DIFFERENCES.md)",
                                (unsigned long long)pd->missing, (unsigned long long)cs->dir[k].missing);
        return;
    }
    if (d->diff_kind == DIFF_SHORT && d->diff_at == pd->size && d->close_gap_at == pd->size) {
        w->status = ST_KNOWN;
        w->reason = xprintf("we deliver %llu bytes held behind a hole when the capture ended (%llu bytes "
                            "missing); tshark drops them; the %llu bytes before the hole match",
                            (unsigned long long)(ours - pd->size), (unsigned long long)cs->dir[k].missing,
                            (unsigned long long)pd->size);
        return;
    }
    w->status = ST_FAIL;
    if (d->diff_kind == DIFF_BYTES)
        w->reason = xprintf("bytes differ from offset %llu (of the delivered bytes)", (unsigned long long)d->diff_at);
    else if (d->diff_kind == DIFF_SHORT)
        w->reason = xprintf("tshark has %llu bytes, we deliver %llu; the first %llu match", (unsigned long long)pd->size,
                            (unsigned long long)ours, (unsigned long long)d->diff_at);
    else
        w->reason = xprintf("tshark has %llu bytes, we deliver %llu (a prefix of them)%s", (unsigned long long)pd->size,
                            (unsigned long long)ours, cs->dir[k].missing ? "" : "");
}

/* Files of tcpflow for the same addresses and ports that way within the
   session's time, not matched: tcpflow split the connection (it starts a
   new file, cN, when segments follow a FIN or jump far in sequence). They
   are folded into this row. */
static int tf_split(vstate *vs, tsl_session *cs, int dir, uint64_t *bytes, uint64_t *largest) {
    int n = 0;
    tfile *t;
    *bytes = *largest = 0;
    while ((t = tf_match(vs, cs, dir, cs->s->last_ts.sec * 1000000 + cs->s->last_ts.nsec / 1000)) != NULL) {
        t->used = 1;
        *bytes += t->size;
        if (t->size > *largest) *largest = t->size;
        n++;
    }
    return n;
}

static void judge_tcpflow(vstate *vs, tsl_session *cs, vsess *v, int k, vrow *w) {
    vdir *d = &v->d[k];
    uint64_t ours = cs->dir[k].bytes, extra, split_bytes, split_max;
    const tcps_dir_stats *ds = &cs->s->dir[k];
    int split = tf_split(vs, cs, k, &split_bytes, &split_max), pad_files = 0;
    char more[240] = "";
    w->peer = d->tf ? (int64_t)d->tf->size : 0;
    if (split && split_max <= PAD_MAX) {
        /* a short frame after the end (an ACK, FIN or RST with padding) made
           tcpflow open a new file holding only its padding */
        pad_files = split;
        split = 0;
    }
    if (split)
        snprintf(more, sizeof more, "; tcpflow split this direction: %d more file(s) of %llu bytes (cN: it starts a "
                 "new file when segments follow a FIN or jump far in sequence)",
                 split, (unsigned long long)split_bytes);
    if (!d->tf && !ours && !split && !pad_files) {
        w->status = ST_OK;
        return;
    }
    if (!d->tf && !ours && pad_files) {
        w->status = ST_KNOWN;
        w->reason = xprintf("tcpflow wrote %d file(s) of %llu bytes: the Ethernet padding of short frames taken "
                            "as payload", pad_files, (unsigned long long)split_bytes);
        return;
    }
    if (!d->tf && !vs->p->ntf && vs->p->rc && vs->p->err_text) {
        /* tcpflow refused the capture and said why ("sorry - unknown data
           link type", "unknown file format"): nothing to compare */
        w->status = ST_KNOWN;
        w->reason = xprintf("tcpflow could not read this capture (it exited with status %d: %s)", vs->p->rc,
                            vs->p->err_text);
        return;
    }
    if (!d->tf) {
        w->status = ST_FAIL;
        w->reason = xprintf("tcpflow wrote no file for this direction%s%s",
                            vs->p->ntf ? "" : " (nor any for this capture: a link type or encapsulation "
                                              "it does not decode?)", more);
        return;
    }
    if (d->diff_kind == DIFF_BYTES) {
        w->status = ds->conflicts && !split ? ST_KNOWN : ST_FAIL;
        w->reason = xprintf("byte %llu differs%s%s", (unsigned long long)d->diff_at,
                            ds->conflicts ? " (retransmitted bytes that differ from the first copy: tcpflow "
                                            "writes each copy over the last, we keep the first, as tshark)"
                                          : "", more);
        return;
    }
    if (d->diff_kind == DIFF_SHORT) {
        w->status = ST_FAIL;
        w->reason = xprintf("tcpflow's file ends at %llu, our bytes go to %llu%s", (unsigned long long)d->tf->size,
                            (unsigned long long)d->data_end, more);
        return;
    }
    if (d->gap_bytes_nonzero) {
        w->status = ST_FAIL;
        w->reason = xprintf("tcpflow has %llu non-zero bytes where we report bytes missing (first at %llu)%s",
                            (unsigned long long)d->gap_bytes_nonzero, (unsigned long long)d->gap_first_nonzero, more);
        return;
    }
    extra = d->tf->size > d->data_end ? d->tf->size - d->data_end : 0;
    if (!extra && !cs->dir[k].missing && !d->zruns && !split && !pad_files) {
        w->status = ST_OK;
        return;
    }
    if (extra > PAD_MAX || split) {
        w->status = ST_FAIL;
        w->reason = xprintf("tcpflow has %llu bytes after our last byte (offset %llu)%s", (unsigned long long)extra,
                            (unsigned long long)d->data_end, more);
        return;
    }
    w->status = ST_KNOWN;
    {
        char a[160] = "", b[160] = "", c[200] = "";
        if (extra)
            snprintf(a, sizeof a, "tcpflow writes %llu bytes after our last byte (the Ethernet padding of a short "
                     "frame taken as payload)", (unsigned long long)extra);
        if (d->zruns)
            snprintf(c, sizeof c, "%stcpflow has %llu run(s) of at most %d bytes that differ, from offset %llu (the "
                     "padding of a short frame written over data)",
                     extra ? "; " : "", (unsigned long long)d->zruns, PAD_MAX, (unsigned long long)d->zrun_first);
        if (cs->dir[k].missing)
            snprintf(b, sizeof b, "%stcpflow writes the %llu missing bytes as zeros, with no marker",
                     extra || d->zruns ? "; " : "", (unsigned long long)cs->dir[k].missing);
        if (pad_files)
            snprintf(c + strlen(c), sizeof c - strlen(c), "%s%d more file(s) (cN) of %llu bytes of padding of short "
                     "frames after the end", extra || d->zruns ? "; " : "tcpflow wrote ", pad_files,
                     (unsigned long long)split_bytes);
        w->reason = xprintf("%s%s%s", a, c, b);
    }
    (void)ours;
}

static int v_close(tsl_session *cs, const tcps_event *ev, void *user) {
    vstate *vs = (vstate *)user;
    vsess *v = (vsess *)cs->user;
    int k;
    (void)ev;
    for (k = 0; k < 2; k++) {
        vrow *w = row_add(vs->r);
        if (!w) return vs->oom = CLI_INTERNAL;
        fill_row_common(w, cs, k);
        if (vs->p->kind == PEER_TSHARK) {
            judge_tshark(vs, cs, v, k, w);
        } else {
            if (!v->d[k].matched) {
                vd_set_tf(&v->d[k], tf_match(vs, cs, k, cs->s->last_ts.sec * 1000000 + cs->s->last_ts.nsec / 1000));
            }
            judge_tcpflow(vs, cs, v, k, w);
        }
        if (v->d[k].fd >= 0) close(v->d[k].fd);
        vs->count[w->status]++;
    }
    free(v);
    cs->user = NULL;
    return 0;
}

/* Streams or files of the peer that no session of ours matched. */
static void peer_only(vstate *vs) {
    size_t i;
    int k;
    if (vs->p->kind == PEER_TSHARK) {
        for (i = 0; i < vs->p->nts; i++) {
            tstream *t = &vs->p->ts[i];
            if (t->used) continue;
            for (k = 0; k < 2; k++) {
                vrow *w = row_add(vs->r);
                if (!w) {
                    vs->oom = CLI_INTERNAL;
                    return;
                }
                w->stream = t->id;
                w->dir = k ? "node1" : "node0";
                snprintf(w->src, sizeof w->src, "%s", t->node[k]);
                snprintf(w->dst, sizeof w->dst, "%s", t->node[!k]);
                w->ours = -1;
                w->peer = (int64_t)t->d[k].size;
                w->peer_missing = (int64_t)t->d[k].missing;
                memcpy(w->peer_sha, t->d[k].sha, 65);
                if ((!t->node[0][0] || !strcmp(t->node[0], ":0")) && !t->d[0].size && !t->d[1].size) {
                    w->status = ST_KNOWN;
                    w->reason = xprintf("tshark numbers a TCP header it found inside another packet (an "
                                        "ICMP error's quote, a tunnel) as stream %lld; no TCP segment of it, no data",
                                        (long long)t->id);
                } else {
                    w->status = ST_FAIL;
                    w->reason = xprintf("only tshark has stream %lld", (long long)t->id);
                }
                vs->count[w->status]++;
            }
        }
    } else {
        for (i = 0; i < vs->p->ntf; i++) {
            tfile *t = &vs->p->tf[i];
            vrow *w;
            const char *b;
            if (t->used) continue;
            w = row_add(vs->r);
            if (!w) {
                vs->oom = CLI_INTERNAL;
                return;
            }
            w->stream = -1;
            b = strrchr(t->path, '/');
            snprintf(w->src, sizeof w->src, "%s", b ? b + 1 : t->path);
            w->ours = -1;
            w->peer = (int64_t)t->size;
            w->status = ST_FAIL;
            w->reason = xprintf("only tcpflow has this flow");
            vs->count[w->status]++;
        }
    }
}

static int by_row(const void *a, const void *b) {
    const vrow *x = (const vrow *)a, *y = (const vrow *)b;
    if (x->stream != y->stream) {
        if (x->stream < 0) return 1;
        if (y->stream < 0) return -1;
        return x->stream < y->stream ? -1 : 1;
    }
    return strcmp(x->dir, y->dir);
}

static const char *status_name(int s) { return s == ST_OK ? "ok" : s == ST_KNOWN ? "known" : "FAIL"; }

static void print_rows(const char *capture, const char *peer_name, rows *r, int json, int all) {
    size_t i;
    for (i = 0; i < r->n; i++) {
        vrow *w = &r->v[i];
        if (json) {
            printf("{\"capture\":");
            tsl_json_str(stdout, capture, strlen(capture));
            printf(",\"peer\":\"%s\",\"stream\":%lld,\"dir\":\"%s\",\"src\":", peer_name, (long long)w->stream, w->dir);
            tsl_json_str(stdout, w->src, strlen(w->src));
            printf(",\"dst\":");
            tsl_json_str(stdout, w->dst, strlen(w->dst));
            printf(",\"ours_bytes\":%lld,\"peer_bytes\":%lld,\"ours_missing\":%lld,\"peer_missing\":%lld,"
                   "\"ours_sha256\":\"%s\",\"peer_sha256\":\"%s\",\"status\":\"%s\",\"reason\":",
                   (long long)w->ours, (long long)w->peer, (long long)w->ours_missing, (long long)w->peer_missing,
                   w->ours_sha, w->peer_sha, status_name(w->status));
            tsl_json_str(stdout, w->reason ? w->reason : "", w->reason ? strlen(w->reason) : 0);
            printf("}\n");
        } else {
            char s[24], o[24], p[24];
            if (!all && w->status == ST_OK && !w->reason) continue;
            if (w->stream >= 0) snprintf(s, sizeof s, "%lld", (long long)w->stream);
            else snprintf(s, sizeof s, "-");
            if (w->ours >= 0) snprintf(o, sizeof o, "%lld", (long long)w->ours);
            else snprintf(o, sizeof o, "-");
            if (w->peer >= 0) snprintf(p, sizeof p, "%lld", (long long)w->peer);
            else snprintf(p, sizeof p, "-");
            printf("%6s  %-5s  %-45s %12s %12s  %-5s  %s\n", s, w->dir, w->src, o, p, status_name(w->status),
                   w->reason ? w->reason : "");
        }
    }
}

/* The peers read plain files: stdin and (for tcpflow) gzip are copied to a
   plain capture in the working directory first. */
static int spool(const char *src, const char *dst) {
    gzFile g = strcmp(src, "-") ? gzopen(src, "rb") : gzdopen(dup(0), "rb");
    FILE *f;
    char buf[1 << 16];
    int n, ret = 0;
    if (!g) {
        cli_err("%s: %s", src, strerror(errno));
        return CLI_INPUT;
    }
    f = fopen(dst, "wb");
    if (!f) {
        cli_err("%s: %s", dst, strerror(errno));
        gzclose(g);
        return CLI_OUTPUT;
    }
    while ((n = gzread(g, buf, sizeof buf)) > 0)
        if (fwrite(buf, 1, (size_t)n, f) != (size_t)n) {
            ret = CLI_OUTPUT;
            break;
        }
    if (n < 0) ret = CLI_INPUT;
    if (fclose(f) != 0) ret = CLI_OUTPUT;
    gzclose(g);
    if (ret) cli_err("%s: cannot copy to %s", src, dst);
    return ret;
}

static int is_gzip(const char *path) {
    unsigned char m[2];
    int fd = open(path, O_RDONLY), r = 0;
    if (fd < 0) return 0;
    if (read(fd, m, 2) == 2 && m[0] == 0x1f && m[1] == 0x8b) r = 1;
    close(fd);
    return r;
}

static void verify_usage(FILE *f) {
    fprintf(f,
            "usage: tcpsession verify --against tshark|tcpflow [options] CAPTURE...\n"
            "\n"
            "Runs the peer tool on each capture and compares every session, each\n"
            "direction, with what tcpsession delivers. Prints a row per session and\n"
            "direction that is not simply equal (all rows with -a), each with its reason,\n"
            "then `N passed, M failed`. A row is ok (same bytes), known (a difference\n"
            "whose cause is understood and is not an error of ours: counted as passed)\n"
            "or FAIL.\n"
            "\n"
            "  --against tshark   tshark -q -z follow,tcp,raw,N for every tcp.stream (in\n"
            "                     batches); bytes compared per direction in tshark's node\n"
            "                     order, gap markers left out as our hashes leave gaps out\n"
            "  --against tcpflow  tcpflow -r CAPTURE -o DIR; its files matched to sessions\n"
            "                     by addresses, ports and time; bytes compared at their\n"
            "                     stream offsets (tcpflow writes holes as zeros)\n"
            "  -a, --all          print every row, also those that are equal\n"
            "  --json             one JSON object per row (capture, peer, stream, dir, src,\n"
            "                     dst, ours_bytes, peer_bytes, ours_missing, peer_missing,\n"
            "                     ours_sha256, peer_sha256, status, reason)\n"
            "  --keep             keep the peer's output (the directory is printed)\n"
            "  --separate-vlans   sessions on different VLANs are different sessions\n"
            "  -v, --verbose      say which peer commands run\n"
            "\n"
            "The peer is found in PATH, or named by $TSHARK / $TCPFLOW. Work files go\n"
            "under $TMPDIR (default /tmp).\n"
            "\n"
            "exit status: 0 every row passed; 1 some row failed; 2 bad command line;\n"
            "3 a capture could not be read (or only partly); 5 the peer could not be run\n"
            "or out of memory.\n");
}

int cmd_verify(int argc, char **argv) {
    int kind = 0, json = 0, keep = 0, all = 0, verbose = 0, i, ret = CLI_OK, ncap = 0, differ = 0;
    int64_t total[3] = {0, 0, 0};
    tcps_config cfg;
    const char *tmpbase = getenv("TMPDIR");
    char *prog = NULL;
    struct rlimit rl;
    memset(&cfg, 0, sizeof cfg);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--against") || !strncmp(a, "--against=", 10)) {
            const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : "");
            if (!strcmp(v, "tshark")) kind = PEER_TSHARK;
            else if (!strcmp(v, "tcpflow")) kind = PEER_TCPFLOW;
            else {
                cli_err("verify: --against takes tshark or tcpflow, not '%s'", v);
                return CLI_USAGE;
            }
            argv[i] = NULL;
            if (a[9] != '=') argv[i - 1] = NULL;
        } else if (!strcmp(a, "--json")) json = 1, argv[i] = NULL;
        else if (!strcmp(a, "--keep")) keep = 1, argv[i] = NULL;
        else if (!strcmp(a, "-a") || !strcmp(a, "--all")) all = 1, argv[i] = NULL;
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) verbose = 1, argv[i] = NULL;
        else if (!strcmp(a, "--separate-vlans")) cfg.flags |= TCPS_F_SEPARATE_VLANS, argv[i] = NULL;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            verify_usage(stdout);
            return CLI_OK;
        } else if (a[0] == '-' && a[1]) {
            cli_err("verify: unknown option %s", a);
            verify_usage(stderr);
            return CLI_USAGE;
        } else {
            ncap++;
        }
    }
    if (!kind || !ncap) {
        if (!kind) cli_err("verify: --against tshark|tcpflow is required");
        verify_usage(stderr);
        return CLI_USAGE;
    }
    prog = kind == PEER_TSHARK ? find_prog("tshark", "TSHARK") : find_prog("tcpflow", "TCPFLOW");
    if (!prog) {
        cli_err("verify: %s is not installed (or not in PATH; $%s names it)", kind == PEER_TSHARK ? "tshark" : "tcpflow",
                kind == PEER_TSHARK ? "TSHARK" : "TCPFLOW");
        return CLI_INTERNAL;
    }
    /* one descriptor per open session direction while comparing */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (!json)
        printf("%6s  %-5s  %-45s %12s %12s  %-5s  %s\n", "stream", "dir", "from", "ours", kind == PEER_TSHARK ? "tshark" : "tcpflow",
               "state", "reason");
    for (i = 1; i < argc; i++) {
        peer p;
        rows r;
        vstate vs;
        cli_input in;
        tsl_hooks hooks;
        char *tmpl, *copy = NULL;
        int rc;
        size_t k;
        if (!argv[i]) continue;
        memset(&p, 0, sizeof p);
        memset(&r, 0, sizeof r);
        p.kind = kind;
        p.prog = prog;
        p.capture = argv[i];
        if (strcmp(argv[i], "-") && access(argv[i], R_OK) != 0) {
            cli_err("%s: %s", argv[i], strerror(errno));
            ret = CLI_INPUT;
            continue;
        }
        tmpl = xprintf("%s/tcpsession-verify-XXXXXX", tmpbase && *tmpbase ? tmpbase : "/tmp");
        if (!tmpl || !mkdtemp(tmpl)) {
            cli_err("verify: cannot make a work directory under %s: %s", tmpbase ? tmpbase : "/tmp", strerror(errno));
            free(tmpl);
            ret = CLI_OUTPUT;
            break;
        }
        p.tmp = tmpl;
        if (!strcmp(argv[i], "-") || (kind == PEER_TCPFLOW && is_gzip(argv[i]))) {
            copy = xprintf("%s/capture.pcap", tmpl);
            if (!copy || (rc = spool(argv[i], copy)) != 0) {
                ret = copy ? rc : CLI_INTERNAL;
                rm_tree(tmpl);
                free(tmpl);
                free(copy);
                continue;
            }
            p.capture = copy;
        }
        rc = kind == PEER_TSHARK ? tshark_run(&p, verbose) : tcpflow_run(&p, verbose);
        if (rc) {
            ret = rc;
            peer_free(&p);
            if (!keep) rm_tree(tmpl);
            free(tmpl);
            free(copy);
            break;
        }
        rc = cli_open(&in, p.capture, 1);
        if (rc) {
            ret = rc;
        } else {
            memset(&vs, 0, sizeof vs);
            vs.p = &p;
            vs.r = &r;
            vs.separate_vlans = (cfg.flags & TCPS_F_SEPARATE_VLANS) != 0;
            memset(&hooks, 0, sizeof hooks);
            hooks.open = v_open;
            hooks.data = v_data;
            hooks.gap = v_gap;
            hooks.close = v_close;
            hooks.user = &vs;
            rc = cli_run(&in, &cfg, TSL_HASH | TSL_HASH_THREAD, &hooks, NULL, NULL);
            cli_close(&in);
            if (rc == CLI_INPUT && ret == CLI_OK) ret = CLI_INPUT;
            else if (rc && rc != CLI_INPUT) ret = rc;
            if (!vs.oom && rc != CLI_INTERNAL) peer_only(&vs);
            if (r.n) qsort(r.v, r.n, sizeof *r.v, by_row);
            if (!json && ncap > 1) printf("# %s\n", argv[i]);
            print_rows(argv[i], kind == PEER_TSHARK ? "tshark" : "tcpflow", &r, json, all);
            if (p.rc && p.err_text && !json)
                printf("# %s exited with status %d: %s\n", kind == PEER_TSHARK ? "tshark" : "tcpflow", p.rc, p.err_text);
            for (k = 0; k < 3; k++) total[k] += vs.count[k];
            if (vs.count[ST_FAIL]) differ = 1;
        }
        for (k = 0; k < r.n; k++) free(r.v[k].reason);
        free(r.v);
        peer_free(&p);
        if (keep) fprintf(stderr, "verify: %s: %s output kept in %s\n", argv[i], kind == PEER_TSHARK ? "tshark's" : "tcpflow's", tmpl);
        else rm_tree(tmpl);
        free(tmpl);
        free(copy);
        if (ret == CLI_INTERNAL) break;
    }
    free(prog);
    if (!json) printf("%lld passed, %lld failed\n", (long long)(total[ST_OK] + total[ST_KNOWN]), (long long)total[ST_FAIL]);
    else fprintf(stderr, "%lld passed, %lld failed\n", (long long)(total[ST_OK] + total[ST_KNOWN]), (long long)total[ST_FAIL]);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_err("verify: cannot write the output");
        return CLI_OUTPUT;
    }
    if (ret) return ret;
    return differ ? CLI_DIFFER : CLI_OK;
}
