/* The tcpsession command's input: captures opened with the shared layer's
   tsl_capture_open, the progress line, and cli_run over tsl_collect. */
#include "tcpsession.h"
#include "cli.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int cli_open(cli_input *in, const char *path, int progress) {
    char err[256];
    int rc;
    memset(in, 0, sizeof *in);
    in->name = path;
    in->start = in->last_draw = cli_now();
    rc = tsl_capture_open(&in->cap, path, err, sizeof err);
    if (rc != TCPS_OK) {
        cli_err("%s: %s%s", strcmp(path, "-") ? path : "stdin", err,
                strcmp(err, "is a directory") ? "" : " (extract -r reads directories)");
        return rc == TCPS_E_NOMEM ? CLI_INTERNAL : CLI_INPUT;
    }
    in->rd = in->cap.rd;
    in->size = in->cap.size;
    in->progress = progress && isatty(2);
    return CLI_OK;
}

void cli_close(cli_input *in) {
    if (in->progress) fputs("\r\033[K", stderr);
    tsl_capture_close(&in->cap);
    in->rd = NULL;
}

void cli_progress(cli_input *in, uint64_t sessions, int final) {
    double now, el, mb;
    uint64_t done;
    if (!in->progress) return;
    now = cli_now();
    if (!final && now - in->last_draw < 0.1) return;
    in->last_draw = now;
    el = now - in->start;
    done = tcps_reader_offset(in->rd);
    mb = el > 0 ? done / 1e6 / el : 0;
    if (in->size) {
        double frac = (double)done / (double)in->size, left = frac > 0 ? el / frac - el : 0;
        fprintf(stderr, "\r\033[K%s: %5.1f%% of %.1f MB, %llu sessions, %.0f MB/s, %.0f s left", in->name,
                100 * frac, in->size / 1e6, (unsigned long long)sessions, mb, left);
    } else {
        fprintf(stderr, "\r\033[K%s: %.1f MB, %llu sessions, %.0f MB/s", in->name, done / 1e6,
                (unsigned long long)sessions, mb);
    }
}

/* ---------------------------------------------------------- cli_run */

typedef struct run_packet {
    cli_input *in;
    const tsl_hooks *hooks; /* the command's */
} run_packet;

/* after each packet: the progress line, then the command's own hook */
static int run_progress(uint64_t sessions, void *user) {
    run_packet *rp = (run_packet *)user;
    cli_progress(rp->in, sessions, 0);
    return rp->hooks && rp->hooks->packet ? rp->hooks->packet(sessions, rp->hooks->packet_user) : 0;
}

int cli_run(cli_input *in, const tcps_config *cfg, unsigned flags, const tsl_hooks *hooks, tcps_stats *stats,
            tcps_decode_stats *dstats) {
    static const tsl_hooks none;
    tsl_hooks h = hooks ? *hooks : none;
    run_packet rp;
    tcps_stats own; /* for the final progress line when the caller wants none */
    char err[320];
    int rc;
    if (!stats) stats = &own;
    if (in->progress) {
        rp.in = in;
        rp.hooks = hooks;
        h.packet = run_progress;
        h.packet_user = &rp;
    }
    rc = tsl_collect(in->rd, cfg, flags, &h, stats, dstats, err, sizeof err);
    cli_progress(in, stats->sessions, 1);
    if (rc >= 0) return rc;
    if (tcps_reader_error(in->rd)->code == rc) {
        cli_err("%s: %s; sessions up to there are complete, the rest is partial", in->name, err);
        return CLI_INPUT;
    }
    cli_err("%s: %s", in->name, err);
    return CLI_INTERNAL;
}
