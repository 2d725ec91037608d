/* bench_upto - the engine with a no-op callback, the floor the command's
   speed is measured against (tests/bench/bench_layer.sh).

       bench_upto CAPTURE          read and reassemble all of CAPTURE
       bench_upto CAPTURE STREAM   only up to the last packet of session STREAM

   With STREAM, a first pass (not timed) finds that session's last frame;
   the timed pass then feeds the packets up to it and stops, which is the
   least any tool must do to have the whole session. Prints
   "seconds S packets P" with S the wall time of the timed pass (opening the
   capture to destroying the context). The capture is mapped and read from
   memory, as the command reads a regular file. */
#define _POSIX_C_SOURCE 200809L
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* the capture mapped, as tsl_capture_open maps it */
static int open_mapped(tcps_reader **rd, const char *path, void **map, size_t *len) {
    struct stat st;
    int fd = open(path, O_RDONLY);
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) return -1;
    *len = (size_t)st.st_size;
    *map = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (*map == MAP_FAILED) return -1;
    posix_madvise(*map, *len, POSIX_MADV_SEQUENTIAL);
    return tcps_reader_open_memory(rd, *map, *len, NULL);
}

typedef struct find {
    uint64_t stream, last_frame;
    int found;
} find;

static int on_close(const tcps_event *ev, void *user) {
    find *f = (find *)user;
    if (ev->session->stream == f->stream) f->last_frame = ev->session->last_frame, f->found = 1;
    return 0;
}

static int noop(const tcps_event *ev, void *user) {
    (void)ev, (void)user;
    return 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    tcps_config cfg = {0};
    tcps_reader *rd;
    tcps_ctx *ctx;
    tcps_packet pkt;
    find f = {0, 0, 0};
    uint64_t n = 0;
    void *map;
    size_t len;
    double t0;
    int rc;
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: bench_upto CAPTURE [STREAM]\n");
        return 2;
    }
    if (argc == 3) {
        f.stream = strtoull(argv[2], NULL, 10);
        cfg.callbacks.on_close = on_close;
        cfg.user = &f;
        if (tcps_reader_open_path(&rd, argv[1], NULL) || tcps_create(&ctx, &cfg)) return 1;
        tcps_run(ctx, rd);
        tcps_destroy(ctx);
        tcps_reader_close(rd);
        if (!f.found) {
            fprintf(stderr, "bench_upto: no stream %s\n", argv[2]);
            return 1;
        }
    }
    cfg.callbacks.on_open = cfg.callbacks.on_data = cfg.callbacks.on_gap = cfg.callbacks.on_close = noop;
    cfg.user = NULL;
    t0 = now();
    if (open_mapped(&rd, argv[1], &map, &len) || tcps_create(&ctx, &cfg)) return 1;
    while ((!f.found || n < f.last_frame) && (rc = tcps_reader_next(rd, &pkt)) == TCPS_OK) {
        n++;
        tcps_feed_packet(ctx, &pkt);
    }
    if (!f.found) tcps_finish(ctx);
    tcps_destroy(ctx);
    tcps_reader_close(rd);
    munmap(map, len);
    printf("seconds %.4f packets %llu\n", now() - t0, (unsigned long long)n);
    return 0;
}
