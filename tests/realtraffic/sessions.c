/* sessions.c - one JSON line per TCP session of a capture, for the
   real-traffic test (compare.py matches them with what the applications
   received).

       sessions [-d DIR] CAPTURE

   For each session: its stream number, client and server address and port,
   the capture times of its first and last packet, then for each direction
   the number and SHA-256 of the bytes delivered (gaps not included), the
   bytes reported missing and the gap events and its first sequence number,
   and how the session ended. With -d, the delivered bytes of each direction
   are also written to DIR/<stream>.c2s and DIR/<stream>.s2c (gaps left
   out), for looking at a failure byte by byte. Exit status 1 when the
   capture cannot be read to its end. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "tsl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct side {
    tsl_hash *hash;
    uint64_t bytes, missing, gaps;
    uint64_t first_gap; /* stream offset of the first gap, if any */
    FILE *dump;
} side;

typedef struct session_out {
    side dir[2];
} session_out;

typedef struct app {
    const char *dump_dir;
    int failed;
} app;

static const char *end_name(int end) {
    switch (end) {
    case TCPS_END_NONE: return "none";
    case TCPS_END_FIN: return "fin";
    case TCPS_END_RST: return "rst";
    case TCPS_END_TIMEOUT: return "timeout";
    case TCPS_END_EOF: return "eof";
    case TCPS_END_EVICTED: return "evicted";
    case TCPS_END_REUSED: return "reused";
    default: return "unknown";
    }
}

static int on_open(const tcps_event *ev, void *user) {
    app *a = (app *)user;
    session_out *s = (session_out *)calloc(1, sizeof *s);
    int d;
    if (!s) return 1;
    for (d = 0; d < 2; d++) {
        if (!(s->dir[d].hash = tsl_hash_new(TSL_SHA256))) return 1;
        if (a->dump_dir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%llu.%s", a->dump_dir,
                     (unsigned long long)ev->session->stream, d == TCPS_C2S ? "c2s" : "s2c");
            s->dir[d].dump = fopen(path, "wb");
            if (!s->dir[d].dump) a->failed = 1;
        }
    }
    ev->session->user = s;
    return 0;
}

static int on_data(const tcps_event *ev, void *user) {
    session_out *s = (session_out *)ev->session->user;
    side *sd;
    (void)user;
    if (!s || ev->dir < 0 || ev->dir > 1) return 0;
    sd = &s->dir[ev->dir];
    tsl_hash_update(sd->hash, ev->data.ptr, ev->data.len);
    sd->bytes += ev->data.len;
    if (sd->dump) fwrite(ev->data.ptr, 1, ev->data.len, sd->dump);
    return 0;
}

static int on_gap(const tcps_event *ev, void *user) {
    session_out *s = (session_out *)ev->session->user;
    side *sd;
    (void)user;
    if (!s || ev->dir < 0 || ev->dir > 1) return 0;
    sd = &s->dir[ev->dir];
    if (!sd->gaps) sd->first_gap = ev->offset;
    sd->gaps++;
    sd->missing += ev->length;
    return 0;
}

static void print_side(const char *name, side *sd, const tcps_dir_stats *st) {
    char hex[TSL_HEX_MAX];
    tsl_hash_hex(sd->hash, hex);
    tsl_hash_free(sd->hash);
    sd->hash = NULL;
    printf("\"%s\": {\"bytes\": %llu, \"sha256\": \"%s\", \"missing\": %llu, \"gaps\": %llu, "
           "\"first_gap\": %lld, \"stats_bytes\": %llu, \"stats_missing\": %llu, "
           "\"dup_bytes\": %llu, \"ooo_segments\": %llu, \"conflicts\": %llu, "
           "\"anomalies\": %u, \"isn\": %u, \"syn\": %u, \"fin\": %u, \"rst\": %u}",
           name, (unsigned long long)sd->bytes, hex, (unsigned long long)sd->missing,
           (unsigned long long)sd->gaps, sd->gaps ? (long long)sd->first_gap : -1LL,
           (unsigned long long)st->bytes, (unsigned long long)st->missing,
           (unsigned long long)st->dup_bytes, (unsigned long long)st->ooo_segments,
           (unsigned long long)st->conflicts, (unsigned)st->anomalies, (unsigned)st->isn,
           (unsigned)st->syn_seen, (unsigned)st->fin_seen, (unsigned)st->rst_seen);
}

static int on_close(const tcps_event *ev, void *user) {
    const tcps_session *ss = ev->session;
    session_out *s = (session_out *)ss->user;
    char cli[48], srv[48];
    int d;
    (void)user;
    if (!s) return 0;
    tcps_addr_to_string(ss->client.addr, ss->client.ip_version, cli, sizeof cli);
    tcps_addr_to_string(ss->server.addr, ss->server.ip_version, srv, sizeof srv);
    printf("{\"stream\": %llu, \"client\": \"%s\", \"cport\": %u, \"server\": \"%s\", "
           "\"sport\": %u, \"end\": \"%s\", \"handshake\": %u, \"packets\": %llu, "
           "\"first_frame\": %llu, \"last_frame\": %llu, \"first_ts\": %lld.%09u, "
           "\"last_ts\": %lld.%09u, ",
           (unsigned long long)ss->stream, cli, (unsigned)ss->client.port, srv,
           (unsigned)ss->server.port, end_name(ss->end ? ss->end : ev->reason),
           (unsigned)ss->handshake, (unsigned long long)ss->packets,
           (unsigned long long)ss->first_frame, (unsigned long long)ss->last_frame,
           (long long)ss->first_ts.sec, (unsigned)ss->first_ts.nsec, (long long)ss->last_ts.sec,
           (unsigned)ss->last_ts.nsec);
    print_side("c2s", &s->dir[TCPS_C2S], &ss->dir[TCPS_C2S]);
    printf(", ");
    print_side("s2c", &s->dir[TCPS_S2C], &ss->dir[TCPS_S2C]);
    printf("}\n");
    for (d = 0; d < 2; d++)
        if (s->dir[d].dump) fclose(s->dir[d].dump);
    free(s);
    ((tcps_session *)ss)->user = NULL;
    return 0;
}

int main(int argc, char **argv) {
    app a;
    tcps_config cfg;
    tcps_reader *rd = NULL;
    tcps_ctx *ctx = NULL;
    const tcps_stats *st;
    const char *path;
    int rc, argi = 1;

    memset(&a, 0, sizeof a);
    if (argc == 4 && strcmp(argv[1], "-d") == 0) {
        a.dump_dir = argv[2];
        argi = 3;
    }
    if (argi != argc - 1) {
        fprintf(stderr, "usage: %s [-d DIR] CAPTURE\n", argv[0]);
        return 2;
    }
    path = argv[argi];
    memset(&cfg, 0, sizeof cfg);
    cfg.callbacks.on_open = on_open;
    cfg.callbacks.on_data = on_data;
    cfg.callbacks.on_gap = on_gap;
    cfg.callbacks.on_close = on_close;
    cfg.user = &a;
    rc = tcps_reader_open_path(&rd, path, NULL);
    if (rc != TCPS_OK) {
        fprintf(stderr, "%s: cannot open: %s\n", path, tcps_result_message(rc));
        return 1;
    }
    rc = tcps_create(&ctx, &cfg);
    if (rc != TCPS_OK) {
        fprintf(stderr, "tcps_create: %s\n", tcps_result_message(rc));
        tcps_reader_close(rd);
        return 1;
    }
    rc = tcps_run(ctx, rd);
    if (rc < 0)
        fprintf(stderr, "%s: %s at byte %llu\n", path, tcps_ctx_error(ctx)->message,
                (unsigned long long)tcps_ctx_error(ctx)->offset);
    st = tcps_ctx_stats(ctx);
    fprintf(stderr,
            "%s: %llu packets, %llu segments, %llu sessions, %llu bytes delivered, "
            "%llu missing in %llu gaps\n",
            path, (unsigned long long)st->packets, (unsigned long long)st->segments,
            (unsigned long long)st->sessions, (unsigned long long)st->bytes,
            (unsigned long long)st->missing, (unsigned long long)st->gaps);
    tcps_destroy(ctx);
    tcps_reader_close(rd);
    if (a.failed) fprintf(stderr, "could not write every file in %s\n", a.dump_dir);
    return rc < 0 || a.failed ? 1 : 0;
}
