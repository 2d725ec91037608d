/* tcpsession list: a row per session. */
#include "tcpsession.h"
#include "cli.h"
#include <stdlib.h>
#include <string.h>

typedef struct list_state {
    tsl_row *v;
    size_t n, cap;
    int oom;
} list_state;

static int keep_row(tsl_session *ss, const tcps_event *ev, void *user) {
    list_state *ls = (list_state *)user;
    (void)ev;
    if (ls->n == ls->cap) {
        size_t nc = ls->cap ? ls->cap * 2 : 256;
        tsl_row *nv = (tsl_row *)realloc(ls->v, nc * sizeof *nv);
        if (!nv) return ls->oom = CLI_INTERNAL;
        ls->v = nv, ls->cap = nc;
    }
    tsl_session_row(ss, &ls->v[ls->n++]);
    return 0;
}

static int by_stream(const void *a, const void *b) {
    const tsl_row *x = (const tsl_row *)a, *y = (const tsl_row *)b;
    return x->stream < y->stream ? -1 : x->stream > y->stream;
}

static void print_row(const tsl_row *r) {
    char ce[TSL_ENDPOINT_MAX], se[TSL_ENDPOINT_MAX], t0[40], t1[40];
    tsl_endpoint_text(&r->client, ce, sizeof ce);
    tsl_endpoint_text(&r->server, se, sizeof se);
    tsl_time_text(r->first, t0, sizeof t0);
    tsl_time_text(r->last, t1, sizeof t1);
    printf("%6llu  %-22s %-22s %12llu %12llu %8llu %8llu %8llu  %s  %s  %s\n", (unsigned long long)r->stream, ce,
           se, (unsigned long long)r->bytes[0], (unsigned long long)r->bytes[1],
           (unsigned long long)r->missing[0], (unsigned long long)r->missing[1],
           (unsigned long long)r->packets, t0, t1, tcps_end_name(r->end));
}

static void print_stats(const cli_input *in, const tcps_stats *st, double secs) {
    const tcps_decode_stats *d = st->decode;
    uint64_t bytes = tcps_reader_offset(in->rd);
    fprintf(stderr,
            "%s: %.3f s, %.1f MB, %.1f MB/s, %llu packets (%.0f/s), %llu TCP segments, %llu sessions "
            "(fin %llu, rst %llu, eof %llu, timeout %llu, evicted %llu, reused %llu), %llu bytes delivered, "
            "%llu missing in %llu gaps; segments dropped: %llu late (%llu bytes sent after a close), "
            "%llu bad checksum, %llu out of memory\n",
            in->name, secs, bytes / 1e6, secs > 0 ? bytes / 1e6 / secs : 0, (unsigned long long)st->packets,
            secs > 0 ? st->packets / secs : 0, (unsigned long long)st->segments, (unsigned long long)st->sessions,
            (unsigned long long)st->closed_fin, (unsigned long long)st->closed_rst,
            (unsigned long long)st->closed_eof, (unsigned long long)st->closed_timeout,
            (unsigned long long)st->closed_evicted, (unsigned long long)st->closed_reused,
            (unsigned long long)st->bytes, (unsigned long long)st->missing, (unsigned long long)st->gaps,
            (unsigned long long)st->late_segments, (unsigned long long)st->late_bytes,
            (unsigned long long)st->bad_checksum,
            (unsigned long long)st->nomem_segments);
    if (d)
        fprintf(stderr, "%s: decoder: packets without a TCP segment: %llu non-IP, %llu non-TCP, "
                        "%llu unsupported link, %llu malformed, %llu fragments held or dropped; "
                        "%llu fragments, %llu reassembled, %llu truncated\n",
                in->name, (unsigned long long)d->non_ip, (unsigned long long)d->non_tcp,
                (unsigned long long)d->unsupported_link, (unsigned long long)d->malformed_packets,
                (unsigned long long)d->fragment_packets, (unsigned long long)d->fragments,
                (unsigned long long)d->reassembled, (unsigned long long)d->truncated);
}

static void list_usage(FILE *f) {
    fprintf(f, "usage: tcpsession list [--json] [--stats] [--separate-vlans] CAPTURE...\n"
               "\n"
               "A row per TCP session, in order of the session's first packet (the stream\n"
               "number is tshark's tcp.stream): client and server (the client sent the SYN;\n"
               "without one, the first packet's source), bytes delivered each way, bytes\n"
               "missing each way, packets, first and last time, and how it ended (fin, rst,\n"
               "timeout, eof, evicted, reused).\n"
               "\n"
               "  --json            one JSON object per line: stream, client_ip, client_port,\n"
               "                    server_ip, server_port, c2s_bytes, s2c_bytes, c2s_missing,\n"
               "                    s2c_missing, c2s_sha256, s2c_sha256 (of the delivered bytes,\n"
               "                    gaps left out), packets, first_ts, last_ts, end, capture\n"
               "  --stats           throughput and counters on stderr at the end\n"
               "  --separate-vlans  sessions on different VLANs are different sessions\n");
}

int cmd_list(int argc, char **argv) {
    int json = 0, stats = 0, i, ret = CLI_OK, ncap = 0;
    tcps_config cfg;
    memset(&cfg, 0, sizeof cfg);
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--stats")) stats = 1;
        else if (!strcmp(argv[i], "--separate-vlans")) cfg.flags |= TCPS_F_SEPARATE_VLANS;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            list_usage(stdout);
            return CLI_OK;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_err("list: unknown option %s", argv[i]);
            list_usage(stderr);
            return CLI_USAGE;
        } else ncap++;
    }
    if (!ncap) {
        list_usage(stderr);
        return CLI_USAGE;
    }
    if (!json)
        printf("%6s  %-22s %-22s %12s %12s %8s %8s %8s  %-20s  %-20s  %s\n", "stream", "client", "server",
               "c2s_bytes", "s2c_bytes", "c2s_miss", "s2c_miss", "packets", "first", "last", "end");
    for (i = 1; i < argc; i++) {
        cli_input in;
        list_state ls;
        tsl_hooks hooks;
        tcps_stats st;
        tcps_decode_stats dst;
        double t0;
        size_t k;
        int rc;
        if (argv[i][0] == '-' && argv[i][1]) continue;
        rc = cli_open(&in, argv[i], 1);
        if (rc) {
            ret = rc;
            continue;
        }
        memset(&ls, 0, sizeof ls);
        memset(&hooks, 0, sizeof hooks);
        hooks.close = keep_row;
        hooks.user = &ls;
        t0 = cli_now();
        rc = cli_run(&in, &cfg, json ? TSL_HASH | TSL_HASH_THREAD : 0, &hooks, &st, &dst); /* the table shows no hash */
        if (ls.n) qsort(ls.v, ls.n, sizeof *ls.v, by_stream);
        if (!json && ncap > 1) printf("# %s\n", argv[i]);
        for (k = 0; k < ls.n; k++) json ? tsl_row_json(stdout, &ls.v[k], argv[i]) : print_row(&ls.v[k]);
        if (stats) print_stats(&in, &st, cli_now() - t0);
        free(ls.v);
        cli_close(&in);
        if (rc && !ret) ret = rc;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_err("list: cannot write the output");
        return CLI_OUTPUT;
    }
    return ret;
}
