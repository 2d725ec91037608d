/* Opening captures for the tcpsession command: paths, stdin, gzip; the
   progress line; the per-session summary shared by every command. */
#include "tcpsession.h"
#include "cli.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static ptrdiff_t gz_read(void *user, void *buf, size_t len) {
    int n;
    if (len > (1u << 30)) len = 1u << 30;
    n = gzread((gzFile)user, buf, (unsigned)len);
    return n < 0 ? -1 : n;
}

int cli_open(cli_input *in, const char *path, int progress) {
    unsigned char magic[2];
    int rc, is_gz = 0;
    struct stat st;
    memset(in, 0, sizeof *in);
    in->name = path;
    in->fd = -1;
    in->start = in->last_draw = cli_now();
    if (strcmp(path, "-") == 0) {
        /* gzread passes plain data through, so stdin may be either */
        in->gz = gzdopen(dup(0), "rb");
        if (!in->gz) {
            cli_err("stdin: cannot read");
            return CLI_INPUT;
        }
        gzbuffer((gzFile)in->gz, 1 << 17);
        rc = tcps_reader_open_callback(&in->rd, gz_read, in->gz, NULL);
    } else {
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            cli_err("%s: %s", path, strerror(errno));
            return CLI_INPUT;
        }
        if (fstat(fd, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                close(fd);
                cli_err("%s: is a directory (extract -r reads directories)", path);
                return CLI_INPUT;
            }
            if (S_ISREG(st.st_mode)) in->size = (uint64_t)st.st_size;
        }
        if (read(fd, magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) is_gz = 1;
        close(fd);
        if (is_gz) {
            in->gz = gzopen(path, "rb");
            if (!in->gz) {
                cli_err("%s: cannot open", path);
                return CLI_INPUT;
            }
            gzbuffer((gzFile)in->gz, 1 << 17);
            in->size = 0; /* the compressed size says little about progress */
            rc = tcps_reader_open_callback(&in->rd, gz_read, in->gz, NULL);
        } else {
            rc = tcps_reader_open_path(&in->rd, path, NULL);
        }
    }
    if (rc != TCPS_OK) {
        cli_err("%s: %s", path, tcps_result_message(rc));
        cli_close(in);
        return rc == TCPS_E_NOMEM ? CLI_INTERNAL : CLI_INPUT;
    }
    in->progress = progress && isatty(2);
    return CLI_OK;
}

void cli_close(cli_input *in) {
    if (in->progress) fputs("\r\033[K", stderr);
    if (in->rd) tcps_reader_close(in->rd);
    if (in->gz) gzclose((gzFile)in->gz);
    in->rd = NULL;
    in->gz = NULL;
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

static int run_progress(uint64_t sessions, void *user) {
    cli_progress((cli_input *)user, sessions, 0);
    return 0;
}

int cli_run(cli_input *in, const tcps_config *cfg, unsigned flags, const tsl_hooks *hooks, tcps_stats *stats,
            tcps_decode_stats *dstats) {
    static const tsl_hooks none;
    tsl_hooks h = hooks ? *hooks : none;
    char err[320];
    int rc;
    if (in->progress) {
        h.packet = run_progress;
        h.packet_user = in;
    }
    rc = tsl_collect(in->rd, cfg, flags, &h, stats, dstats, err, sizeof err);
    cli_progress(in, stats ? stats->sessions : 0, 1);
    if (rc >= 0) return rc;
    if (tcps_reader_error(in->rd)->code == rc) {
        cli_err("%s: %s; sessions up to there are complete, the rest is partial", in->name, err);
        return CLI_INPUT;
    }
    cli_err("%s: %s", in->name, err);
    return CLI_INTERNAL;
}
