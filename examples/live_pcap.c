/* live_pcap.c - reassemble TCP sessions from a live interface with libpcap.

   Packets come from libpcap (pcap_next_ex), one at a time, and go to
   tcps_feed_frame with their link type and timestamp: the way to use
   tcpsession on live traffic. A line is printed for every session as it ends.

       live_pcap -i eth0 [-f 'tcp port 80'] [-c COUNT]   (needs capture rights)
       live_pcap -r capture.pcap                          (libpcap reads a file)

   Built by `make` only where libpcap's header is installed (libpcap-dev). */
#define _DEFAULT_SOURCE /* u_int and friends in pcap.h */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static int on_close(const tcps_event *ev, void *user) {
    const tcps_session *s = ev->session;
    char c[64], v[64];
    static const char *ends[] = {"open", "fin", "rst", "timeout", "eof", "evicted", "reused"};
    (void)user;
    tcps_addr_to_string(s->client.addr, s->client.ip_version, c, sizeof c);
    tcps_addr_to_string(s->server.addr, s->server.ip_version, v, sizeof v);
    printf("%llu %s:%u > %s:%u  %llu bytes > %llu bytes <  missing %llu/%llu  %s\n",
           (unsigned long long)s->stream, c, s->client.port, v, s->server.port,
           (unsigned long long)s->dir[TCPS_C2S].bytes, (unsigned long long)s->dir[TCPS_S2C].bytes,
           (unsigned long long)s->dir[TCPS_C2S].missing, (unsigned long long)s->dir[TCPS_S2C].missing,
           ev->reason >= 0 && ev->reason <= 6 ? ends[ev->reason] : "?");
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    char errbuf[PCAP_ERRBUF_SIZE];
    const char *iface = NULL, *file = NULL, *filter = NULL;
    long count = -1, seen = 0;
    pcap_t *p;
    tcps_config cfg;
    tcps_ctx *ctx;
    struct pcap_pkthdr *h;
    const u_char *data;
    int i, rc;
    for (i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-i")) iface = argv[i + 1];
        else if (!strcmp(argv[i], "-r")) file = argv[i + 1];
        else if (!strcmp(argv[i], "-f")) filter = argv[i + 1];
        else if (!strcmp(argv[i], "-c")) count = atol(argv[i + 1]);
    }
    if (!iface == !file) {
        fprintf(stderr, "usage: live_pcap (-i IFACE | -r FILE) [-f FILTER] [-c COUNT]\n");
        return 2;
    }
    p = iface ? pcap_open_live(iface, 262144, 1, 100, errbuf) : pcap_open_offline(file, errbuf);
    if (!p) {
        fprintf(stderr, "live_pcap: %s\n", errbuf);
        return 1;
    }
    if (filter) {
        struct bpf_program prog;
        if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 || pcap_setfilter(p, &prog) != 0) {
            fprintf(stderr, "live_pcap: %s\n", pcap_geterr(p));
            return 1;
        }
        pcap_freecode(&prog);
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.callbacks.on_close = on_close;
    cfg.idle_timeout_ms = 120000; /* live: idle sessions end after two minutes */
    if (tcps_create(&ctx, &cfg) != TCPS_OK) return 1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!stop && (count < 0 || seen < count) && (rc = pcap_next_ex(p, &h, &data)) >= 0) {
        tcps_time ts;
        if (rc == 0) continue; /* timeout */
        ts.sec = h->ts.tv_sec;
        ts.nsec = (uint32_t)h->ts.tv_usec * 1000u;
        if (pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO) ts.nsec = (uint32_t)h->ts.tv_usec;
        if (tcps_feed_frame(ctx, (uint32_t)pcap_datalink(p), ts, data, h->caplen, h->len) == TCPS_E_NOMEM)
            fprintf(stderr, "live_pcap: out of memory, packet %ld dropped\n", seen + 1);
        seen++;
    }
    tcps_finish(ctx);
    tcps_destroy(ctx);
    pcap_close(p);
    return 0;
}
