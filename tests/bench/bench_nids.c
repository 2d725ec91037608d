/* bench_nids - one timed pass of libnids over a capture, doing the same work
   on the delivered bytes as bench_engine -m hash.

       bench_nids [-n MAX_STREAMS] CAPTURE

   nids_params.filename is the capture; checksum verification is off for
   every address (captures of a local TCP stack carry offloaded, unfilled
   checksums that libnids would otherwise drop); port-scan detection is off;
   the stream table is sized for MAX_STREAMS live streams (default 65536:
   libnids keeps at most 3/4 of n_tcp_streams).  The TCP callback asks for
   both directions at NIDS_JUST_EST and hashes every new byte (nids_discard
   is never called, so libnids drops what was handed over: the usual
   "consume everything" use).  State per stream is made at NIDS_JUST_EST
   and digested and freed at NIDS_CLOSE, NIDS_RESET, NIDS_TIMED_OUT or
   NIDS_EXITING.  libnids' own warnings (what it rejected) are counted.
   Prints one RESULT line (bench_hash.h). */
#define _DEFAULT_SOURCE
#include <nids.h>

#include "bench_hash.h"

#include <unistd.h>

static bh_totals tot;
static uint64_t warnings, est;

static void count_syslog(int type, int err, void *iph, void *data) {
    (void)type, (void)err, (void)iph, (void)data;
    warnings++;
}

static void finish_stream(void **param) {
    bh_dir *d = (bh_dir *)*param;
    if (!d) return;
    bh_add(&tot, &d[0]);
    bh_add(&tot, &d[1]);
    free(d);
    *param = NULL;
}

static void on_tcp(struct tcp_stream *s, void **param) {
    bh_dir *d;
    switch (s->nids_state) {
    case NIDS_JUST_EST:
        d = (bh_dir *)malloc(2 * sizeof *d);
        if (!d) abort();
        bh_init(&d[0]);
        bh_init(&d[1]);
        *param = d;
        s->client.collect++;
        s->server.collect++;
        tot.streams++;
        est++;
        return;
    case NIDS_DATA:
        d = (bh_dir *)*param;
        if (!d) return;
        /* server half: bytes the client sent; client half: the server's */
        if (s->server.count_new) bh_update(&d[0], (const uint8_t *)s->server.data, (size_t)s->server.count_new);
        if (s->client.count_new) bh_update(&d[1], (const uint8_t *)s->client.data, (size_t)s->client.count_new);
        return;
    default: /* NIDS_CLOSE, NIDS_RESET, NIDS_TIMED_OUT, NIDS_EXITING */
        finish_stream(param);
        return;
    }
}

int main(int argc, char **argv) {
    static struct nids_chksum_ctl nochk = {0, 0, NIDS_DONT_CHKSUM, 0};
    long max_streams = 65536;
    double t0, secs;
    char extra[128];
    int opt;

    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt == 'n')
            max_streams = strtol(optarg, NULL, 10);
        else
            goto usage;
    }
    if (optind + 1 != argc || max_streams < 1 || max_streams > (1L << 28)) goto usage;

    t0 = bh_now();
    nids_params.filename = argv[optind];
    nids_params.device = NULL;
    nids_params.pcap_filter = NULL;
    nids_params.n_tcp_streams = (int)(max_streams / 3 * 4 + 4);
    nids_params.n_hosts = 4096;
    nids_params.scan_num_hosts = 0;
    nids_params.syslog = count_syslog;
    nids_params.multiproc = 0;
    nids_register_chksum_ctl(&nochk, 1);
    if (!nids_init()) {
        fprintf(stderr, "bench_nids: nids_init: %s\n", nids_errbuf);
        return 1;
    }
    nids_register_tcp(on_tcp);
    nids_run();
    nids_exit(); /* NIDS_EXITING for the streams still open */
    secs = bh_now() - t0;
    snprintf(extra, sizeof extra, "established=%llu warnings=%llu", (unsigned long long)est,
             (unsigned long long)warnings);
    bh_report("libnids", secs, 0, &tot, extra);
    return 0;

usage:
    fprintf(stderr, "usage: %s [-n MAX_STREAMS] CAPTURE\n", argv[0]);
    return 2;
}
