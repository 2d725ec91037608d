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

void cli_report_reader_error(const cli_input *in, const tcps_error *e) {
    cli_err("%s: %s at byte %llu (%s); sessions up to there are complete, the rest is partial",
            in->name, e->message, (unsigned long long)e->offset, tcps_result_name(e->code));
}

const char *cli_end_name(int end) {
    switch (end) {
    case TCPS_END_FIN: return "fin";
    case TCPS_END_RST: return "rst";
    case TCPS_END_TIMEOUT: return "timeout";
    case TCPS_END_EOF: return "eof";
    case TCPS_END_EVICTED: return "evicted";
    case TCPS_END_REUSED: return "reused";
    default: return "open";
    }
}

void cli_addr(const tcps_endpoint *e, char *buf, size_t size) {
    tcps_addr_to_string(e->addr, e->ip_version, buf, size);
}

void cli_time(tcps_time t, char *buf, size_t size) {
    snprintf(buf, size, "%lld.%09u", (long long)t.sec, t.nsec);
}

void cli_json_chars(FILE *f, const char *s, size_t n) {
    static const char hx[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            putc('\\', f);
            putc(ch, f);
        } else if (ch == '\n') {
            fputs("\\n", f);
        } else if (ch == '\r') {
            fputs("\\r", f);
        } else if (ch == '\t') {
            fputs("\\t", f);
        } else if (ch < 0x20 || ch > 0x7e) {
            fputs("\\u00", f);
            putc(hx[ch >> 4], f);
            putc(hx[ch & 15], f);
        } else {
            putc(ch, f);
        }
    }
}

void cli_json_str(FILE *f, const char *s, size_t n) {
    putc('"', f);
    cli_json_chars(f, s, n);
    putc('"', f);
}

/* ---------------------------------------------------------- cli_run */

typedef struct run_state {
    const cli_hooks *hooks;
    cli_input *in;
    uint64_t sessions;
    int stop;
    cli_session *open; /* summaries of sessions not closed yet */
} run_state;

static cli_session *cs_of(const tcps_event *ev) { return (cli_session *)ev->session->user; }

static int on_open(const tcps_event *ev, void *user) {
    run_state *st = (run_state *)user;
    cli_session *cs = (cli_session *)calloc(1, sizeof *cs);
    if (!cs) return st->stop = CLI_INTERNAL;
    cs->s = ev->session;
    cs->stream = ev->session->stream;
    cs->client = ev->session->client;
    cs->server = ev->session->server;
    cs->first_dir = ev->session->first_dir;
    sha256_init(&cs->dir[0].sha);
    sha256_init(&cs->dir[1].sha);
    ev->session->user = cs;
    cs->next_ = st->open;
    if (st->open) st->open->prev_ = cs;
    st->open = cs;
    st->sessions++;
    if (st->hooks && st->hooks->open) return st->stop = st->hooks->open(cs, ev, st->hooks->user);
    return 0;
}

static int on_data(const tcps_event *ev, void *user) {
    run_state *st = (run_state *)user;
    cli_session *cs = cs_of(ev);
    cli_dir *d = &cs->dir[ev->dir];
    if (!st->hooks || !st->hooks->no_hash) sha256_update(&d->sha, ev->data.ptr, ev->data.len);
    d->bytes += ev->data.len;
    d->chunks++;
    if (st->hooks && st->hooks->data) return st->stop = st->hooks->data(cs, ev, st->hooks->user);
    return 0;
}

static int on_gap(const tcps_event *ev, void *user) {
    run_state *st = (run_state *)user;
    cli_session *cs = cs_of(ev);
    cs->dir[ev->dir].missing += ev->length;
    cs->dir[ev->dir].gaps++;
    if (st->hooks && st->hooks->gap) return st->stop = st->hooks->gap(cs, ev, st->hooks->user);
    return 0;
}

static int on_close(const tcps_event *ev, void *user) {
    run_state *st = (run_state *)user;
    cli_session *cs = cs_of(ev);
    uint8_t dg[32];
    int i, r = 0;
    for (i = 0; i < 2 && !(st->hooks && st->hooks->no_hash); i++) {
        sha256_final(&cs->dir[i].sha, dg);
        sha256_hex(dg, cs->dir[i].sha256);
    }
    cs->end = ev->reason;
    if (st->hooks && st->hooks->close) r = st->hooks->close(cs, ev, st->hooks->user);
    ev->session->user = NULL;
    if (cs->prev_) cs->prev_->next_ = cs->next_;
    else st->open = cs->next_;
    if (cs->next_) cs->next_->prev_ = cs->prev_;
    free(cs);
    return st->stop = r;
}

int cli_run(cli_input *in, const tcps_config *base, const cli_hooks *hooks, tcps_stats *stats,
            tcps_decode_stats *dstats) {
    tcps_config cfg;
    tcps_ctx *ctx;
    tcps_packet pkt;
    run_state st;
    int rc, ret = CLI_OK;
    if (base) cfg = *base;
    else memset(&cfg, 0, sizeof cfg);
    memset(&st, 0, sizeof st);
    st.hooks = hooks;
    st.in = in;
    cfg.callbacks.on_open = on_open;
    cfg.callbacks.on_data = on_data;
    cfg.callbacks.on_gap = on_gap;
    cfg.callbacks.on_close = on_close;
    cfg.user = &st;
    rc = tcps_create(&ctx, &cfg);
    if (rc != TCPS_OK) {
        cli_err("%s", tcps_result_message(rc));
        return CLI_INTERNAL;
    }
    for (;;) {
        rc = tcps_reader_next(in->rd, &pkt);
        if (rc == TCPS_DONE) break;
        if (rc < 0) {
            cli_progress(in, st.sessions, 1);
            cli_report_reader_error(in, tcps_reader_error(in->rd));
            ret = CLI_INPUT;
            break;
        }
        rc = tcps_feed_packet(ctx, &pkt);
        if (rc == TCPS_E_ABORTED) break;
        if (rc < 0) {
            cli_err("%s: %s", in->name, tcps_ctx_error(ctx)->message);
            ret = CLI_INTERNAL;
            break;
        }
        cli_progress(in, st.sessions, 0);
    }
    if (!st.stop) tcps_finish(ctx);
    cli_progress(in, st.sessions, 1);
    if (stats) {
        *stats = *tcps_ctx_stats(ctx);
        stats->decode = dstats;
    }
    if (dstats && tcps_ctx_stats(ctx)->decode) *dstats = *tcps_ctx_stats(ctx)->decode;
    tcps_destroy(ctx);
    while (st.open) { /* sessions a stop left open */
        cli_session *cs = st.open;
        st.open = cs->next_;
        free(cs);
    }
    if (st.stop && ret == CLI_OK) ret = st.stop;
    return ret;
}
