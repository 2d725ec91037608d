/* failalloc - every capture run again with its k-th allocation failing.

     failalloc [--max-runs M] [--sample-above W] [--extract] [--quiet] FILE_OR_DIR...

   For each capture (directories are walked) and for three ways of reading
   it (A: memory reader + tcps_run with callbacks; B: read-callback reader in
   uneven chunks + tcps_next, the pull mode the bindings use; C: the same
   reader under the shared layer's collector, tsl_collect with SHA-256 and
   every session's bytes, chunks and gaps kept, its sessions and what they
   keep taken from the same allocator), a first run
   with a counting allocator gives N, the number of allocations (malloc and
   realloc both count; the reader and the context share the allocator), the
   result and the full event log (type, stream, direction, offset, length,
   reason and an FNV-1a hash of the bytes). Then, for k = 1..N, the k-th
   allocation returns NULL and the run must:
     - end with TCPS_E_NOMEM, kept on the object that failed (context or
       reader) with a message; or, where the engine absorbs the failure by
       design (tcps_finish closes sessions in activity order when it has no
       memory to sort them by stream), end as the full run did with the same
       events, maybe in another order;
     - have delivered exactly a prefix of the full run's events; when the
       reader ran out of memory, tcps_run and tcps_next still close every
       session (documented: "a reader error is returned after every packet
       before it was fed and every session closed"), so the prefix may be
       followed by closing events only: buffered data and CLOSE/LIMIT gaps,
       and one EOF close for each session still open;
     - free every byte: the allocator keeps a table of live blocks and
       checks that the size passed to realloc and free is the size that was
       asked for (arenas depend on it), and that nothing is left after
       tcps_destroy and tcps_reader_close.
   Built with -fsanitize=address,undefined as well, LeakSanitizer and ASan
   check the same runs.

   --max-runs M: when N > M, only k = 1..M/2 and M/2 values spread evenly
   over the rest (always including N) are run; 0 (the default) runs every k.
   --extract: instead of the three, D: the shared layer's extract writer
   (every output, tcpflow names, a descriptor cache of 16) into a temporary directory,
   the engine and the writer on the same allocator; a failure must end in
   TSL_EXTRACT_NOMEM with a message (or as a reader failure), never as an
   output error, and free every byte.
   --sample-above W: --max-runs applies only to captures where N times the
   capture's size is above W bytes (the work of running every k); the others
   run every k.
   The last line is "failalloc: P passed, F failed" (one check per capture
   and mode); the exit status is 1 when anything failed. */
#define _XOPEN_SOURCE 700 /* POSIX 2008 with nftw */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "fnv.h"
#include "accounting.h"
#include "tsl.h"
#include "extract.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ allocator */

typedef struct blk {
    void *p;
    size_t size;
} blk;

typedef struct fa {
    long count, fail_at;
    int failed;         /* the fail_at-th call returned NULL */
    long long live, peak;
    long bad_size;      /* free/realloc given a size other than the block's */
    long unknown;       /* free/realloc of a pointer never handed out */
    blk *tab;           /* open addressing, linear probing, backward-shift delete */
    size_t cap, n;
} fa;

static size_t fa_hash(const void *p, size_t cap) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x & (cap - 1);
}

static void fa_put(fa *a, void *p, size_t size);

static void fa_grow(fa *a) {
    blk *old = a->tab;
    size_t oc = a->cap, i;
    a->cap = oc ? oc * 2 : 1024;
    a->tab = (blk *)calloc(a->cap, sizeof *a->tab);
    if (!a->tab) abort();
    a->n = 0;
    for (i = 0; i < oc; i++)
        if (old[i].p) fa_put(a, old[i].p, old[i].size);
    free(old);
}

static void fa_put(fa *a, void *p, size_t size) {
    size_t i;
    if ((a->n + 1) * 2 > a->cap) fa_grow(a);
    i = fa_hash(p, a->cap);
    while (a->tab[i].p) i = (i + 1) & (a->cap - 1);
    a->tab[i].p = p;
    a->tab[i].size = size;
    a->n++;
}

/* Remove p; returns its recorded size, or (size_t)-1 when unknown. */
static size_t fa_take(fa *a, void *p) {
    size_t i, j, size;
    if (!a->cap) return (size_t)-1;
    i = fa_hash(p, a->cap);
    while (a->tab[i].p && a->tab[i].p != p) i = (i + 1) & (a->cap - 1);
    if (!a->tab[i].p) return (size_t)-1;
    size = a->tab[i].size;
    a->tab[i].p = NULL;
    a->n--;
    j = i;
    for (;;) { /* backward shift */
        size_t h;
        j = (j + 1) & (a->cap - 1);
        if (!a->tab[j].p) break;
        h = fa_hash(a->tab[j].p, a->cap);
        if (((j - h) & (a->cap - 1)) >= ((j - i) & (a->cap - 1))) {
            a->tab[i] = a->tab[j];
            a->tab[j].p = NULL;
            i = j;
        }
    }
    return size;
}

static void fa_account(fa *a, long long delta) {
    a->live += delta;
    if (a->live > a->peak) a->peak = a->live;
}

static void *fa_alloc(size_t size, void *user) {
    fa *a = (fa *)user;
    void *p;
    if (++a->count == a->fail_at) {
        a->failed = 1;
        return NULL;
    }
    p = malloc(size ? size : 1);
    if (!p) abort();
    fa_put(a, p, size);
    fa_account(a, (long long)size);
    return p;
}

static void *fa_realloc(void *ptr, size_t old, size_t size, void *user) {
    fa *a = (fa *)user;
    void *p;
    size_t had;
    if (!ptr) return fa_alloc(size, user);
    if (++a->count == a->fail_at) {
        a->failed = 1;
        return NULL; /* the old block stays the caller's */
    }
    had = fa_take(a, ptr);
    if (had == (size_t)-1) a->unknown++;
    else if (had != old) a->bad_size++;
    p = realloc(ptr, size ? size : 1);
    if (!p) abort();
    fa_put(a, p, size);
    fa_account(a, (long long)size - (long long)(had == (size_t)-1 ? old : had));
    return p;
}

static void fa_free(void *ptr, size_t size, void *user) {
    fa *a = (fa *)user;
    size_t had;
    if (!ptr) return;
    had = fa_take(a, ptr);
    if (had == (size_t)-1) {
        a->unknown++;
        return; /* not ours: freeing it would be a double free */
    }
    if (had != size) a->bad_size++;
    fa_account(a, -(long long)had);
    free(ptr);
}

/* Free whatever the library left, so a leak is reported once, not by LSan too. */
static void fa_reset(fa *a) {
    size_t i;
    for (i = 0; i < a->cap; i++)
        if (a->tab[i].p) free(a->tab[i].p);
    free(a->tab);
    memset(a, 0, sizeof *a);
}

static tcps_allocator fa_allocator(fa *a) {
    tcps_allocator al;
    al.alloc = fa_alloc;
    al.realloc = fa_realloc;
    al.free = fa_free;
    al.user = a;
    return al;
}

/* ------------------------------------------------------------ event log */

typedef struct ev {
    int type, dir, reason;
    uint64_t stream, offset, length, hash;
} ev;

typedef struct evlog {
    ev *v;
    size_t n, cap;
} evlog;

static int on_event(const tcps_event *e, void *user) {
    evlog *l = (evlog *)user;
    ev x;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = (ev *)realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) abort();
    }
    memset(&x, 0, sizeof x);
    x.type = e->type;
    x.dir = e->type == TCPS_EV_DATA || e->type == TCPS_EV_GAP ? e->dir : 0;
    x.reason = e->type == TCPS_EV_GAP || e->type == TCPS_EV_CLOSE ? e->reason : 0;
    x.stream = e->session ? e->session->stream : ~0ull;
    x.offset = e->type == TCPS_EV_DATA || e->type == TCPS_EV_GAP ? e->offset : 0;
    x.length = e->type == TCPS_EV_DATA || e->type == TCPS_EV_GAP ? e->length : 0;
    x.hash = e->type == TCPS_EV_DATA ? fnv(e->data.ptr, e->data.len) : 0;
    if (e->type == TCPS_EV_DATA && e->data.len != e->length) x.hash ^= 1; /* caught as a mismatch */
    l->v[l->n++] = x;
    return 0;
}

static int ev_eq(const ev *a, const ev *b) {
    return a->type == b->type && a->dir == b->dir && a->reason == b->reason && a->stream == b->stream &&
           a->offset == b->offset && a->length == b->length && a->hash == b->hash;
}

static int ev_cmp(const void *pa, const void *pb) {
    const ev *a = (const ev *)pa, *b = (const ev *)pb;
#define C(f) if (a->f != b->f) return a->f < b->f ? -1 : 1
    C(stream); C(type); C(dir); C(offset); C(length); C(reason); C(hash);
#undef C
    return 0;
}

/* ------------------------------------------------------------- one run */

typedef struct input {
    const uint8_t *data;
    size_t size, pos;
    unsigned chunk; /* uneven read sizes */
} input;

static ptrdiff_t read_chunks(void *user, void *buf, size_t len) {
    input *in = (input *)user;
    size_t n = in->size - in->pos;
    in->chunk = in->chunk * 1103515245u + 12345u;
    if (n > len) n = len;
    if (n > 1 + (in->chunk >> 16) % 9000) n = 1 + (in->chunk >> 16) % 9000;
    memcpy(buf, in->data + in->pos, n);
    in->pos += n;
    return (ptrdiff_t)n;
}

/* mode C: the collector's hooks log what they are given */
static int h_event(tsl_session *ss, const tcps_event *e, void *user) {
    (void)ss;
    return on_event(e, user);
}

typedef struct outcome {
    int rc;           /* what the run ended with */
    int where;        /* 0 ended normally, 1 reader open, 2 create, 3 ctx, 4 reader */
    int err_ok;       /* the error kept on the object matches rc and has a message */
    const char *unaccounted; /* the counters do not add up: which rule */
} outcome;



#define W_END 0
#define W_OPEN 1
#define W_CREATE 2
#define W_CTX 3
#define W_READER 4

/* mode D: the extract writer into a temporary directory, removed after */
static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static outcome run_one(const uint8_t *data, size_t size, int mode, fa *a, evlog *log) {
    tcps_reader_config rc;
    tcps_config cfg;
    tcps_reader *rd = NULL;
    tcps_ctx *ctx = NULL;
    input in;
    outcome o;
    int r;
    memset(&o, 0, sizeof o);
    memset(&rc, 0, sizeof rc);
    memset(&cfg, 0, sizeof cfg);
    rc.allocator = fa_allocator(a);
    cfg.allocator = fa_allocator(a);
    in.data = data, in.size = size, in.pos = 0, in.chunk = 7;
    r = mode == 0 ? tcps_reader_open_memory(&rd, data, size, &rc)
                  : tcps_reader_open_callback(&rd, read_chunks, &in, &rc);
    if (r != TCPS_OK) {
        o.rc = r, o.where = W_OPEN, o.err_ok = rd == NULL;
        return o;
    }
    if (mode == 0) {
        cfg.callbacks.on_open = cfg.callbacks.on_data = on_event;
        cfg.callbacks.on_gap = cfg.callbacks.on_close = on_event;
        cfg.user = log;
    }
    if (mode == 3) {
        tsl_extract_options eo;
        tsl_extract_result *res = (tsl_extract_result *)calloc(1, sizeof *res);
        char dir[] = "/tmp/failalloc-XXXXXX";
        int fd;
        if (!res || !mkdtemp(dir) || (fd = open(dir, O_RDONLY | O_DIRECTORY)) < 0) abort();
        memset(&eo, 0, sizeof eo);
        eo.allocator = fa_allocator(a);
        eo.max_open_files = 16;
        eo.tcpflow_names = 1; /* its tuple table allocates too */
        r = tsl_extract(rd, "capture", NULL, fd, "out", &eo, res);
        close(fd);
        if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0) abort();
        o.unaccounted = acct_ctx(&res->stats, 0);
        o.err_ok = r == TSL_EXTRACT_OK || res->error[0] != 0;
        if (r == TSL_EXTRACT_OK) o.rc = TCPS_OK, o.where = W_END;
        else if (r == TSL_EXTRACT_NOMEM) o.rc = TCPS_E_NOMEM, o.where = W_CTX;
        else if (r == TSL_EXTRACT_INPUT && res->input_error) {
            o.rc = tcps_reader_error(rd)->code;
            o.where = W_READER;
        } else o.rc = -1000 - r, o.where = W_END; /* an output error: never right */
        free(res);
        tcps_reader_close(rd);
        return o;
    }
    if (mode == 2) {
        tsl_hooks h;
        tcps_stats st;
        tcps_decode_stats dst;
        char err[256];
        memset(&h, 0, sizeof h);
        h.open = h.data = h.gap = h.close = h_event;
        h.user = log;
        r = tsl_collect(rd, &cfg, TSL_HASH | TSL_KEEP_DATA | TSL_KEEP_CHUNKS | TSL_KEEP_GAPS, &h, &st, &dst, err,
                        sizeof err);
        o.rc = r;
        o.unaccounted = acct_ctx(&st, 0);
        o.where = r >= 0 ? W_END : tcps_reader_error(rd)->code == r ? W_READER : W_CTX;
        o.err_ok = r >= 0 || err[0] != 0;
        tcps_reader_close(rd);
        return o;
    }
    r = tcps_create(&ctx, &cfg);
    if (r != TCPS_OK) {
        o.rc = r, o.where = W_CREATE, o.err_ok = ctx == NULL;
        tcps_reader_close(rd);
        return o;
    }
    if (mode == 0) {
        r = tcps_run(ctx, rd);
    } else {
        tcps_event e;
        while ((r = tcps_next(ctx, rd, &e)) == TCPS_OK) on_event(&e, log);
        if (r == TCPS_DONE) r = TCPS_OK;
    }
    o.rc = r;
    o.unaccounted = acct_ctx(tcps_ctx_stats(ctx), 0);
    if (r < 0) {
        const tcps_error *re = tcps_reader_error(rd), *ce = tcps_ctx_error(ctx);
        o.where = re->code == r ? W_READER : W_CTX;
        o.err_ok = ce->code == r && ce->message && ce->message[0];
    } else {
        o.where = W_END;
        o.err_ok = 1;
    }
    tcps_destroy(ctx);
    tcps_reader_close(rd);
    return o;
}

/* ------------------------------------------------------------- checking */

static int quiet;
static long sample_above = -1;
static long n_pass, n_fail;

typedef struct ref {
    outcome o;
    evlog log;
    long n;
    long long peak;
} ref;

/* The events after the common prefix, when the reader failed: closing
   events only, and every session open after the prefix closed once. */
static const char *check_tail(const evlog *ref_log, const evlog *got, size_t pre) {
    size_t i, j;
    for (i = pre; i < got->n; i++) {
        const ev *e = &got->v[i];
        if (e->type == TCPS_EV_OPEN) return "a session opened after the failure";
        if (e->type == TCPS_EV_GAP && e->reason != TCPS_GAP_CLOSE && e->reason != TCPS_GAP_LIMIT)
            return "a gap after the failure that is not a closing gap";
        if (e->type == TCPS_EV_CLOSE && e->reason != TCPS_END_EOF) return "a close after the failure not at EOF";
    }
    /* each session opened in the prefix and not closed there: one close */
    for (i = 0; i < pre; i++) {
        long closes = 0, later = 0;
        if (got->v[i].type != TCPS_EV_OPEN) continue;
        for (j = 0; j < got->n; j++)
            if (got->v[j].type == TCPS_EV_CLOSE && got->v[j].stream == got->v[i].stream) {
                closes++;
                if (j >= pre) later++;
            }
        if (closes != 1) return "a session not closed exactly once after a reader failure";
    }
    (void)ref_log;
    return NULL;
}

static const char *check_run(const ref *R, const outcome *o, const evlog *got, const fa *a) {
    size_t pre = 0;
    if (a->unknown) return "free or realloc of a block the allocator never gave";
    if (a->bad_size) return "free or realloc given a size other than the block's";
    if (a->n || a->live) return "memory left allocated after destroy and close";
    while (pre < got->n && pre < R->log.n && ev_eq(&got->v[pre], &R->log.v[pre])) pre++;
    if (!a->failed) return "the failing allocation was never reached";
    if (o->rc == TCPS_E_NOMEM) {
        if (!o->err_ok) return "TCPS_E_NOMEM without the error kept on the object";
        if (o->where == W_OPEN || o->where == W_CREATE) return got->n ? "events before the object existed" : NULL;
        if (pre == got->n) return NULL;
        if (o->where == W_READER) return check_tail(&R->log, got, pre);
        return "events delivered before the failure differ from the full run's";
    }
    if (o->rc == R->o.rc && o->where == R->o.where) {
        /* absorbed: the same events, maybe in another order */
        ev *x, *y;
        int same;
        if (got->n != R->log.n) return "the failure was absorbed but events were lost or added";
        if (pre == got->n) return NULL;
        x = (ev *)malloc(got->n * sizeof *x), y = (ev *)malloc(got->n * sizeof *y);
        if (!x || !y) abort();
        memcpy(x, got->v, got->n * sizeof *x);
        memcpy(y, R->log.v, got->n * sizeof *y);
        qsort(x, got->n, sizeof *x, ev_cmp);
        qsort(y, got->n, sizeof *y, ev_cmp);
        same = memcmp(x, y, got->n * sizeof *x) == 0;
        free(x), free(y);
        return same ? NULL : "the failure was absorbed but the events differ";
    }
    return "ended neither in TCPS_E_NOMEM nor as the full run did";
}

static const char *mode_name[4] = {"run", "pull", "collect", "extract"};
static int mode_first = 0, mode_last = 2;

static void test_capture(const char *name, const uint8_t *data, size_t size, int mode, long max_runs,
                         long *runs_total) {
    ref R;
    fa a;
    long k, runs = 0, absorbed = 0;
    const char *why = NULL;
    long bad_k = 0;
    memset(&R, 0, sizeof R);
    memset(&a, 0, sizeof a);
    R.o = run_one(data, size, mode, &a, &R.log);
    R.n = a.count;
    R.peak = a.peak;
    if (sample_above >= 0 && (double)R.n * (double)size <= (double)sample_above) max_runs = 0;
    if (a.n || a.bad_size || a.unknown) why = "the full run leaks or mismatches sizes", bad_k = 0;
    if (!why && R.o.unaccounted) why = R.o.unaccounted, bad_k = 0;
    fa_reset(&a);
    for (k = 1; !why && k <= R.n; k++) {
        evlog got;
        outcome o;
        long half = max_runs / 2;
        if (max_runs > 0 && R.n > max_runs && k > half) {
            /* the i-th of half values spread over (half, N]: half + ceil(i * (N - half) / half) */
            long i = ((k - half) * half + (R.n - half) - 1) / (R.n - half);
            if (half + (i * (R.n - half) + half - 1) / half != k) continue;
        }
        memset(&got, 0, sizeof got);
        a.fail_at = k;
        o = run_one(data, size, mode, &a, &got);
        runs++;
        why = check_run(&R, &o, &got, &a);
        if (o.rc != TCPS_E_NOMEM) {
            absorbed++;
            if (getenv("FAILALLOC_VERBOSE"))
                printf("     k=%ld absorbed: %s, %zu events (full run %zu)\n", k, tcps_result_name(o.rc), got.n, R.log.n);
        }
        if (why) bad_k = k;
        fa_reset(&a);
        free(got.v);
    }
    *runs_total += runs;
    if (why) {
        n_fail++;
        printf("FAIL %s [%s]: k=%ld of %ld: %s\n", name, mode_name[mode], bad_k, R.n, why);
    } else {
        n_pass++;
        if (!quiet)
            printf("ok   %s [%s]: %ld allocations, %ld runs (%ld absorbed), %zu events, %s, peak %lld bytes\n",
                   name, mode_name[mode], R.n, runs, absorbed, R.log.n, tcps_result_name(R.o.rc), R.peak);
    }
    free(R.log.v);
}

/* ---------------------------------------------------------------- files */

static int skip_name(const char *n) {
    size_t l = strlen(n);
    return n[0] == '.' || (l > 3 && strcmp(n + l - 3, ".md") == 0) || (l > 4 && strcmp(n + l - 4, ".tsv") == 0) ||
           (l > 5 && strcmp(n + l - 5, ".meta") == 0) || strcmp(n, "make-reference") == 0 ||
           (l > 2 && strcmp(n + l - 2, ".c") == 0);
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static long files_done;

static void do_path(const char *path, long max_runs, long *runs_total) {
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("FAIL %s: cannot stat\n", path);
        n_fail++;
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        char **names = NULL;
        size_t n = 0, cap = 0, i;
        if (!d) return;
        while ((de = readdir(d)) != NULL) {
            if (skip_name(de->d_name)) continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                names = (char **)realloc(names, cap * sizeof *names);
                if (!names) abort();
            }
            names[n] = (char *)malloc(strlen(path) + strlen(de->d_name) + 2);
            if (!names[n]) abort();
            sprintf(names[n], "%s/%s", path, de->d_name);
            n++;
        }
        closedir(d);
        qsort(names, n, sizeof *names, name_cmp);
        for (i = 0; i < n; i++) {
            do_path(names[i], max_runs, runs_total);
            free(names[i]);
        }
        free(names);
        return;
    }
    if (S_ISREG(st.st_mode)) {
        FILE *f = fopen(path, "rb");
        uint8_t *buf;
        size_t got;
        int mode;
        if (!f) return;
        buf = (uint8_t *)malloc((size_t)st.st_size + 1);
        if (!buf) abort();
        got = fread(buf, 1, (size_t)st.st_size, f);
        fclose(f);
        for (mode = mode_first; mode <= mode_last; mode++)
            test_capture(path, buf, got, mode, max_runs, runs_total);
        free(buf);
        files_done++;
    }
}

int main(int argc, char **argv) {
    long max_runs = 0, runs = 0;
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--max-runs") == 0 && i + 1 < argc) {
            max_runs = atol(argv[++i]);
            continue;
        }
        if (strcmp(argv[i], "--sample-above") == 0 && i + 1 < argc) {
            sample_above = atol(argv[++i]);
            continue;
        }
        if (strcmp(argv[i], "--extract") == 0) { /* the extract writer alone */
            mode_first = mode_last = 3;
            continue;
        }
        if (strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
            continue;
        }
        do_path(argv[i], max_runs, &runs);
    }
    printf("failalloc: %ld captures, %ld failing runs checked%s\n", files_done, runs,
           max_runs ? " (sampled where N > --max-runs)" : "");
    printf("failalloc: %ld passed, %ld failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
