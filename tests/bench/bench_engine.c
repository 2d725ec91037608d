/* bench_engine - one timed pass of tcpsession over a capture.

       bench_engine [-m noop|hash] [-n MAX_SESSIONS] [-M] [-s] CAPTURE

   Reads CAPTURE (tcps_reader_open_path, read mode; -M maps it instead),
   reassembles every session with tcps_run and prints one RESULT line (see
   bench_hash.h) that tests/bench/run_engine_bench.sh reads:
     -m noop   the data callback only adds up the lengths it is given
     -m hash   every delivered byte goes through the streamed hash of
               bench_hash.h, with per-session state made in on_open and
               digested and freed in on_close: the same work the libnids and
               libtins programs do
   -s feeds the packets with tcps_reader_next + tcps_feed_packet and calls
   tcps_finish itself (what tcps_run does), to report the time the final
   flush and close of every session took apart (finish_secs).
   The time covers opening the capture to destroying the context.  Besides
   the peak RSS of the process, the line carries the peak of the bytes the
   engine itself had allocated at once and how many allocations it made
   (through a counting allocator), the
   sessions, their peak number, gaps and missing bytes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"

#include "bench_hash.h"

#include <unistd.h>

typedef struct app {
    bh_totals t;
    uint64_t live, peak, calls; /* allocator bytes, allocations */
} app;

static void *count_alloc(size_t size, void *user) {
    app *a = (app *)user;
    void *p = malloc(size);
    a->calls++;
    if (p) {
        a->live += size;
        if (a->live > a->peak) a->peak = a->live;
    }
    return p;
}
static void *count_realloc(void *ptr, size_t old, size_t size, void *user) {
    app *a = (app *)user;
    void *p = realloc(ptr, size);
    a->calls++;
    if (p) {
        a->live += size - old;
        if (a->live > a->peak) a->peak = a->live;
    }
    return p;
}
static void count_free(void *ptr, size_t size, void *user) {
    app *a = (app *)user;
    free(ptr);
    a->live -= size;
}

static int noop_data(const tcps_event *ev, void *user) {
    ((app *)user)->t.bytes += ev->data.len;
    return 0;
}

static int hash_open(const tcps_event *ev, void *user) {
    bh_dir *d = (bh_dir *)malloc(2 * sizeof *d);
    if (!d) return 1;
    bh_init(&d[0]);
    bh_init(&d[1]);
    ev->session->user = d;
    ((app *)user)->t.streams++;
    return 0;
}
static int hash_data(const tcps_event *ev, void *user) {
    bh_dir *d = (bh_dir *)ev->session->user;
    (void)user;
    bh_update(&d[ev->dir], ev->data.ptr, ev->data.len);
    return 0;
}
static int hash_close(const tcps_event *ev, void *user) {
    app *a = (app *)user;
    bh_dir *d = (bh_dir *)ev->session->user;
    if (!d) return 0;
    bh_add(&a->t, &d[0]);
    bh_add(&a->t, &d[1]);
    free(d);
    ev->session->user = NULL;
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = "hash", *path;
    unsigned long max_sessions = 0;
    int opt, rc, mmap_it = 0, split = 0;
    double finish_secs = 0;
    tcps_reader_config rcfg;
    tcps_config cfg;
    tcps_reader *rd = NULL;
    tcps_ctx *ctx = NULL;
    const tcps_stats *st;
    double t0, secs;
    uint64_t packets;
    char extra[512];
    static app a;

    while ((opt = getopt(argc, argv, "m:n:Ms")) != -1) {
        if (opt == 'm')
            mode = optarg;
        else if (opt == 'n')
            max_sessions = strtoul(optarg, NULL, 10);
        else if (opt == 'M')
            mmap_it = 1;
        else if (opt == 's')
            split = 1;
        else
            goto usage;
    }
    if (optind + 1 != argc || (strcmp(mode, "noop") && strcmp(mode, "hash"))) goto usage;
    path = argv[optind];

    memset(&rcfg, 0, sizeof rcfg);
    if (mmap_it) rcfg.flags = TCPS_READER_MMAP;
    memset(&cfg, 0, sizeof cfg);
    cfg.allocator.alloc = count_alloc;
    cfg.allocator.realloc = count_realloc;
    cfg.allocator.free = count_free;
    cfg.allocator.user = &a;
    cfg.user = &a;
    if (max_sessions) cfg.max_sessions = (uint32_t)max_sessions;
    if (!strcmp(mode, "noop")) {
        cfg.callbacks.on_data = noop_data;
    } else {
        cfg.callbacks.on_open = hash_open;
        cfg.callbacks.on_data = hash_data;
        cfg.callbacks.on_close = hash_close;
    }

    t0 = bh_now();
    rc = tcps_reader_open_path(&rd, path, &rcfg);
    if (rc != TCPS_OK) {
        fprintf(stderr, "bench_engine: %s: %s\n", path, tcps_result_message(rc));
        return 1;
    }
    rc = tcps_create(&ctx, &cfg);
    if (rc != TCPS_OK) {
        fprintf(stderr, "bench_engine: tcps_create: %s\n", tcps_result_message(rc));
        return 1;
    }
    if (split) {
        tcps_packet pkt;
        double t1;
        while ((rc = tcps_reader_next(rd, &pkt)) == TCPS_OK)
            if ((rc = tcps_feed_packet(ctx, &pkt)) < 0) break;
        if (rc == TCPS_DONE) {
            t1 = bh_now();
            rc = tcps_finish(ctx);
            finish_secs = bh_now() - t1;
        } else if (rc < 0 && rc != TCPS_E_ABORTED && tcps_ctx_error(ctx)->code == TCPS_OK) {
            fprintf(stderr, "bench_engine: %s: %s at byte %llu\n", path,
                    tcps_reader_error(rd)->message, (unsigned long long)tcps_reader_error(rd)->offset);
            return 1;
        }
    } else {
        rc = tcps_run(ctx, rd);
    }
    if (rc < 0) {
        fprintf(stderr, "bench_engine: %s: %s at byte %llu\n", path, tcps_ctx_error(ctx)->message,
                (unsigned long long)tcps_ctx_error(ctx)->offset);
        return 1;
    }
    st = tcps_ctx_stats(ctx);
    packets = st->packets;
    if (!strcmp(mode, "noop")) a.t.streams = st->sessions;
    snprintf(extra, sizeof extra,
             "sessions=%llu sessions_peak=%llu gaps=%llu missing=%llu buffered_peak=%llu "
             "alloc_peak=%llu alloc_calls=%llu finish_secs=%.6f",
             (unsigned long long)st->sessions, (unsigned long long)st->sessions_peak,
             (unsigned long long)st->gaps, (unsigned long long)st->missing,
             (unsigned long long)st->buffered_peak, (unsigned long long)a.peak,
             (unsigned long long)a.calls, finish_secs);
    tcps_destroy(ctx);
    tcps_reader_close(rd);
    secs = bh_now() - t0;
    bh_report(!strcmp(mode, "noop") ? "tcps-noop" : "tcps-hash", secs, packets, &a.t, extra);
    return 0;

usage:
    fprintf(stderr, "usage: %s [-m noop|hash] [-n MAX_SESSIONS] [-M] [-s] CAPTURE\n", argv[0]);
    return 2;
}
