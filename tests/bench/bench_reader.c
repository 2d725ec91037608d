/* bench_reader - how fast tcpsession reads and decodes a capture, next to
   `cat` and libpcap on the same file, in the same run.

       bench_reader CAPTURE [RUNS]          (make bench)

   Measured, each RUNS times (default 3), the best run kept:
     cat          cat CAPTURE > /dev/null: the cost of getting the bytes
     libpcap      pcap_open_offline + pcap_next_ex over every record
     tcps reader  tcps_reader_open_path + tcps_reader_next (no decoding)
     tcps decode  the same + tcps_decode on every packet
   Each measurement runs in its own child process (its time includes the
   fork and the open); the peak RSS is that child's (pages of a memory-mapped
   capture count in it).  One untimed `cat` first warms the page cache.
   Prints MB/s of capture and packets/s, and the ratios of our throughput to
   cat's and to libpcap's (above 1: faster). */
#define _DEFAULT_SOURCE /* wait4 */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct counts {
    uint64_t packets, bytes, tcp;
    int ok;
} counts;

typedef struct result {
    double secs;
    long rss_kb;
    counts c;
} result;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static counts run_libpcap(const char *path) {
    counts c = {0, 0, 0, 0};
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    pcap_t *p = pcap_open_offline(path, err);
    int rc;
    if (!p) {
        fprintf(stderr, "libpcap: %s\n", err);
        return c;
    }
    while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
        c.packets++;
        c.bytes += h->caplen;
    }
    c.ok = rc == PCAP_ERROR_BREAK; /* end of the file */
    if (!c.ok) fprintf(stderr, "libpcap: %s\n", pcap_geterr(p));
    pcap_close(p);
    return c;
}

static counts run_tcps(const char *path, int decode) {
    counts c = {0, 0, 0, 0};
    tcps_reader *r;
    tcps_decoder *d = NULL;
    tcps_packet pkt;
    tcps_segment seg;
    int rc = tcps_reader_open_path(&r, path, NULL);
    if (rc != TCPS_OK) {
        fprintf(stderr, "tcpsession: %s: %s\n", path, tcps_result_message(rc));
        return c;
    }
    if (decode && tcps_decoder_create(&d, NULL) != TCPS_OK) {
        tcps_reader_close(r);
        return c;
    }
    while ((rc = tcps_reader_next(r, &pkt)) == TCPS_OK) {
        c.packets++;
        c.bytes += pkt.data.len;
        if (decode && tcps_decode(d, &pkt, &seg) == 1) c.tcp++;
    }
    c.ok = rc == TCPS_DONE;
    if (!c.ok)
        fprintf(stderr, "tcpsession: %s at byte %llu\n", tcps_reader_error(r)->message,
                (unsigned long long)tcps_reader_error(r)->offset);
    if (d) tcps_decoder_destroy(d);
    tcps_reader_close(r);
    return c;
}

enum { M_CAT, M_LIBPCAP, M_READER, M_DECODE };

/* run one measurement in a child process */
static int measure(int what, const char *path, result *res) {
    int fds[2];
    pid_t pid;
    int status;
    struct rusage ru;
    double t0;
    if (pipe(fds) != 0) return -1;
    t0 = now();
    pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        counts c = {0, 0, 0, 1};
        close(fds[0]);
        if (what == M_CAT) {
            if (!freopen("/dev/null", "w", stdout)) _exit(127);
            close(fds[1]);
            execlp("cat", "cat", path, (char *)NULL);
            _exit(127);
        }
        if (what == M_LIBPCAP) c = run_libpcap(path);
        if (what == M_READER) c = run_tcps(path, 0);
        if (what == M_DECODE) c = run_tcps(path, 1);
        if (write(fds[1], &c, sizeof c) != (ssize_t)sizeof c) _exit(126);
        _exit(c.ok ? 0 : 1);
    }
    close(fds[1]);
    memset(&res->c, 0, sizeof res->c);
    if (what != M_CAT && read(fds[0], &res->c, sizeof res->c) != (ssize_t)sizeof res->c) res->c.ok = 0;
    close(fds[0]);
    if (wait4(pid, &status, 0, &ru) != pid) return -1;
    res->secs = now() - t0;
    res->rss_kb = ru.ru_maxrss;
    if (what == M_CAT) res->c.ok = 1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && res->c.ok ? 0 : -1;
}

int main(int argc, char **argv) {
    static const char *names[] = {"cat", "libpcap", "tcps reader", "tcps decode"};
    result best[4];
    struct stat st;
    double mb;
    uint64_t packets = 0;
    int runs = argc > 2 ? atoi(argv[2]) : 3, i, k;
    if (argc < 2 || runs < 1) {
        fprintf(stderr, "usage: %s CAPTURE [RUNS]\n", argv[0]);
        return 2;
    }
    if (stat(argv[1], &st) != 0) {
        perror(argv[1]);
        return 1;
    }
    mb = (double)st.st_size / 1e6;
    {
        result warm;
        if (measure(M_CAT, argv[1], &warm) != 0) {
            fprintf(stderr, "bench_reader: cat %s failed\n", argv[1]);
            return 1;
        }
    }
    for (i = 0; i < 4; i++) {
        best[i].secs = -1;
        for (k = 0; k < runs; k++) {
            result r;
            if (measure(i, argv[1], &r) != 0) {
                fprintf(stderr, "bench_reader: %s failed on %s\n", names[i], argv[1]);
                return 1;
            }
            if (best[i].secs < 0 || r.secs < best[i].secs) best[i] = r;
        }
        if (i > 0) {
            if (packets && best[i].c.packets != packets) {
                fprintf(stderr, "bench_reader: %s counted %llu packets, libpcap %llu\n", names[i],
                        (unsigned long long)best[i].c.packets, (unsigned long long)packets);
                return 1;
            }
            packets = best[i].c.packets;
        }
    }
    printf("capture: %s, %.1f MB, %llu packets (best of %d runs each)\n", argv[1], mb,
           (unsigned long long)packets, runs);
    printf("%-12s %9s %10s %12s %10s\n", "", "seconds", "MB/s", "packets/s", "peak RSS");
    for (i = 0; i < 4; i++) {
        char pps[32] = "-";
        if (i != M_CAT) snprintf(pps, sizeof pps, "%.0f", (double)packets / best[i].secs);
        printf("%-12s %9.3f %10.1f %12s %7.1f MB\n", names[i], best[i].secs, mb / best[i].secs, pps,
               best[i].rss_kb / 1024.0);
    }
    printf("ratios (throughput, above 1 is faster):\n");
    printf("  tcps reader / cat      %.2f\n", best[M_CAT].secs / best[M_READER].secs);
    printf("  tcps decode / cat      %.2f\n", best[M_CAT].secs / best[M_DECODE].secs);
    printf("  tcps reader / libpcap  %.2f\n", best[M_LIBPCAP].secs / best[M_READER].secs);
    printf("  tcps decode / libpcap  %.2f\n", best[M_LIBPCAP].secs / best[M_DECODE].secs);
    return 0;
}
