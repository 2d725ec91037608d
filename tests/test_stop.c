/* A stop loses nothing: a callback that stops the run at every k-th event,
   resumed each time, sees exactly the events of the uninterrupted run, in
   the same order, with the same bytes. Checked for tcps_run, for packets
   fed one by one, and for the pull API (tcps_next with a reader, and with
   packets fed and drained), on data/ and on every capture of the corpus. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "fnv.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One event as the log keeps it: what it says, and a hash of its bytes. */
typedef struct entry {
    int type, dir, reason;
    uint64_t stream, offset, length, hash;
} entry;

typedef struct elog {
    entry *v;
    size_t n, cap;
    uint64_t seen; /* events delivered, for the stop rule */
    uint64_t every; /* stop after every k-th event; 0: never */
    uint64_t stops;
} elog;

static void add(elog *l, const tcps_event *ev) {
    entry *e;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = (entry *)realloc(l->v, l->cap * sizeof *l->v);
        cr_assert(l->v != NULL);
    }
    e = &l->v[l->n++];
    memset(e, 0, sizeof *e);
    e->type = ev->type;
    e->dir = ev->dir;
    e->stream = ev->session->stream;
    e->offset = ev->offset;
    e->length = ev->type == TCPS_EV_DATA ? ev->data.len : ev->length;
    e->reason = ev->type == TCPS_EV_GAP ? ev->reason : ev->type == TCPS_EV_CLOSE ? ev->session->end : 0;
    if (ev->type == TCPS_EV_DATA) e->hash = fnv(ev->data.ptr, ev->data.len);
}

static int on_event(const tcps_event *ev, void *user) {
    elog *l = (elog *)user;
    add(l, ev);
    l->seen++;
    return l->every && l->seen % l->every == 0;
}

static tcps_config config(elog *l, uint32_t flags) {
    tcps_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = flags;
    if (!(flags & TCPS_F_PULL)) {
        cfg.callbacks.on_open = on_event;
        cfg.callbacks.on_data = on_event;
        cfg.callbacks.on_gap = on_event;
        cfg.callbacks.on_close = on_event;
        cfg.user = l;
    }
    return cfg;
}

/* Every event kept: tcps_finish until it has none left. */
static void finish_all(tcps_ctx *c, elog *l) {
    int rc;
    while ((rc = tcps_finish(c)) == TCPS_E_ABORTED) l->stops++;
    cr_assert_eq(rc, TCPS_OK, "tcps_finish: %s", tcps_result_name(rc));
}

/* The three ways of reading: 0 tcps_run, 1 packets fed one by one, 2
   tcps_next with the reader, 3 packets fed in pull mode and drained with
   tcps_next(ctx, NULL). Returns the reader's result (TCPS_OK or its error). */
static int read_capture(const char *path, int how, elog *l) {
    tcps_reader *r;
    tcps_ctx *c;
    tcps_config cfg = config(l, how >= 2 ? TCPS_F_PULL : 0);
    tcps_packet pkt;
    tcps_event ev;
    int rc;
    cr_assert_eq(tcps_reader_open_path(&r, path, NULL), TCPS_OK, "%s", path);
    cr_assert_eq(tcps_create(&c, &cfg), TCPS_OK);
    switch (how) {
    case 0:
        while ((rc = tcps_run(c, r)) == TCPS_E_ABORTED) l->stops++;
        finish_all(c, l);
        break;
    case 1:
        while ((rc = tcps_reader_next(r, &pkt)) == TCPS_OK) {
            int fr = tcps_feed_packet(c, &pkt);
            if (fr == TCPS_E_ABORTED) l->stops++;
            else cr_assert_eq(fr, TCPS_OK, "feed: %s", tcps_result_name(fr));
        }
        finish_all(c, l);
        break;
    case 2:
        while ((rc = tcps_next(c, r, &ev)) == TCPS_OK) add(l, &ev);
        if (rc == TCPS_DONE) rc = TCPS_OK;
        break;
    default:
        while ((rc = tcps_reader_next(r, &pkt)) == TCPS_OK) {
            cr_assert_eq(tcps_feed_packet(c, &pkt), TCPS_OK);
            while (tcps_next(c, NULL, &ev) == TCPS_OK) add(l, &ev);
        }
        cr_assert_eq(tcps_finish(c), TCPS_OK);
        while (tcps_next(c, NULL, &ev) == TCPS_OK) add(l, &ev);
        break;
    }
    if (rc == TCPS_DONE) rc = TCPS_OK;
    tcps_destroy(c);
    tcps_reader_close(r);
    return rc;
}

static const char *type_name(int t) { return tcps_event_name(t); }

static void same_log(const char *path, const char *what, const elog *ref, const elog *got) {
    size_t i, n = ref->n < got->n ? ref->n : got->n;
    for (i = 0; i < n; i++) {
        const entry *a = &ref->v[i], *b = &got->v[i];
        cr_assert(a->type == b->type && a->stream == b->stream && a->dir == b->dir &&
                      a->offset == b->offset && a->length == b->length &&
                      a->reason == b->reason && a->hash == b->hash,
                  "%s, %s: event %zu differs: %s stream %llu dir %d offset %llu length %llu, "
                  "expected %s stream %llu dir %d offset %llu length %llu",
                  path, what, i, type_name(b->type), (unsigned long long)b->stream, b->dir,
                  (unsigned long long)b->offset, (unsigned long long)b->length,
                  type_name(a->type), (unsigned long long)a->stream, a->dir,
                  (unsigned long long)a->offset, (unsigned long long)a->length);
    }
    cr_assert_eq(got->n, ref->n, "%s, %s: %zu events, the uninterrupted run has %zu", path, what,
                 got->n, ref->n);
}

static const uint64_t every[] = {1, 2, 3, 7, 61};

/* Checks one capture; returns the number of events of its uninterrupted run. */
static size_t check_capture(const char *path) {
    elog ref, got;
    int rc_ref, rc, how;
    size_t k, n;
    char what[64];
    memset(&ref, 0, sizeof ref);
    rc_ref = read_capture(path, 0, &ref);
    cr_assert_eq(ref.stops, 0);
    for (how = 0; how < 4; how++) {
        size_t nk = how < 2 ? sizeof every / sizeof every[0] : 1;
        for (k = 0; k < nk; k++) {
            memset(&got, 0, sizeof got);
            got.every = how < 2 ? every[k] : 0;
            rc = read_capture(path, how, &got);
            snprintf(what, sizeof what, "%s, stop every %llu",
                     how == 0 ? "tcps_run" : how == 1 ? "fed" : how == 2 ? "tcps_next" : "fed, pulled",
                     (unsigned long long)got.every);
            cr_assert_eq(rc, rc_ref, "%s, %s: %s, expected %s", path, what, tcps_result_name(rc),
                         tcps_result_name(rc_ref));
            if (got.every && ref.n >= got.every)
                cr_assert(got.stops > 0, "%s, %s: never stopped", path, what);
            same_log(path, what, &ref, &got);
            free(got.v);
        }
    }
    n = ref.n;
    free(ref.v);
    return n;
}

Test(stop, data_captures) {
    static const char *files[] = {"data/sample.pcap", "data/sample.pcapng"};
    size_t i, events = 0;
    for (i = 0; i < sizeof files / sizeof files[0]; i++) events += check_capture(files[i]);
    cr_assert_gt(events, 20);
}

Test(stop, corpus_captures, .timeout = 600) {
    const char *corpus = getenv("TCPS_CORPUS");
    char list[1024], line[1024], path[2100];
    FILE *f;
    size_t files = 0, events = 0;
    if (!corpus) corpus = "../shared/corpus";
    snprintf(list, sizeof list, "%s/reference-files.tsv", corpus);
    f = fopen(list, "r");
    if (!f) {
        printf("SKIP stop on the corpus: no %s\n", list);
        return;
    }
    cr_assert(fgets(line, sizeof line, f) != NULL); /* the header */
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        snprintf(path, sizeof path, "%s/%s", corpus, line);
        {
            tcps_reader *r;
            if (tcps_reader_open_path(&r, path, NULL) != TCPS_OK) continue; /* not a capture we read */
            tcps_reader_close(r);
        }
        events += check_capture(path);
        files++;
    }
    fclose(f);
    printf("stop: %zu corpus captures, %zu events each way, every stop resumed without a loss\n",
           files, events);
    cr_assert_gt(files, 100);
    cr_assert_gt(events, 10000);
}
