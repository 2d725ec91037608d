/* segments - print every TCP segment of a capture, one line each.

     segments CAPTURE          (pcap or pcapng; "-" reads standard input)

   Each line: frame number, capture time (seconds.nanoseconds since the
   epoch), source > destination, flags, sequence and acknowledgement numbers
   (raw, not relative), and the payload length on the wire:

     4 1700000000.250000000 10.0.0.1:40000 > 10.0.0.2:80 [P.] seq 1001 ack 5001 len 18
     9 1700000001.000000000 [2001:db8::1]:40000 > [2001:db8::2]:443 [S] seq 7 ack 0 len 0

   Flags use tcpdump's letters: S SYN, F FIN, R RST, P PSH, U URG, E ECE,
   W CWR, e AE, and "." for ACK ("none" when no flag is set).  When the snapshot length cut the payload,
   "(captured N)" follows.  The decoder's statistics go to standard error at
   the end.  Exit status: 0 on success, 1 when the capture is bad (the
   segments before the fault are printed, then the error with its byte
   offset), 2 on a usage or setup error. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"

#include <stdio.h>
#include <string.h>

static void endpoint(char *out, size_t size, const uint8_t *addr, int ipv, unsigned port) {
    char a[64];
    tcps_addr_to_string(addr, ipv, a, sizeof a);
    if (ipv == 6)
        snprintf(out, size, "[%s]:%u", a, port);
    else
        snprintf(out, size, "%s:%u", a, port);
}

static void flag_letters(char *out, unsigned flags) {
    static const struct {
        unsigned bit;
        char c;
    } map[] = {{TCPS_TH_SYN, 'S'}, {TCPS_TH_FIN, 'F'}, {TCPS_TH_RST, 'R'}, {TCPS_TH_PSH, 'P'},
               {TCPS_TH_URG, 'U'}, {TCPS_TH_ECE, 'E'}, {TCPS_TH_CWR, 'W'}, {TCPS_TH_AE, 'e'},
               {TCPS_TH_ACK, '.'}};
    size_t i, n = 0;
    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (flags & map[i].bit) out[n++] = map[i].c;
    out[n] = 0;
    if (n == 0) strcpy(out, "none");
}

static void print_stats(const tcps_decode_stats *st) {
    int i;
    fprintf(stderr,
            "packets %llu, bytes %llu, tcp segments %llu, ipv4 %llu, ipv6 %llu, not ip %llu, "
            "not tcp %llu, unsupported link %llu\n",
            (unsigned long long)st->packets, (unsigned long long)st->bytes,
            (unsigned long long)st->tcp, (unsigned long long)st->ipv4,
            (unsigned long long)st->ipv6, (unsigned long long)st->non_ip,
            (unsigned long long)st->non_tcp, (unsigned long long)st->unsupported_link);
    fprintf(stderr,
            "truncated %llu, tunnels %llu, fragments %llu, reassembled %llu, "
            "fragments expired %llu, evicted %llu, overlapping %llu\n",
            (unsigned long long)st->truncated, (unsigned long long)st->tunnels,
            (unsigned long long)st->fragments, (unsigned long long)st->reassembled,
            (unsigned long long)st->frag_expired, (unsigned long long)st->frag_evicted,
            (unsigned long long)st->frag_overlaps);
    for (i = 0; i < TCPS_MALFORMED_COUNT; i++)
        if (st->malformed[i])
            fprintf(stderr, "malformed %s: %llu (%s)\n", tcps_malformed_name(i),
                    (unsigned long long)st->malformed[i], tcps_malformed_message(i));
    for (i = 0; i < (int)st->linktype_count && i < TCPS_STATS_LINKTYPES; i++)
        fprintf(stderr, "link type %u: %llu packets\n", (unsigned)st->linktypes[i].linktype,
                (unsigned long long)st->linktypes[i].packets);
}

int main(int argc, char **argv) {
    tcps_reader *rd = NULL;
    tcps_decoder *dec = NULL;
    tcps_packet pkt;
    tcps_segment seg;
    int rc, status = 0;

    if (argc != 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: %s CAPTURE   (pcap or pcapng; - for standard input)\n", argv[0]);
        return 2;
    }
    rc = tcps_reader_open_path(&rd, argv[1], NULL);
    if (rc != TCPS_OK) {
        fprintf(stderr, "segments: %s: %s\n", argv[1], tcps_result_message(rc));
        return rc == TCPS_E_IO || rc == TCPS_E_ARG || rc == TCPS_E_NOMEM ? 2 : 1;
    }
    rc = tcps_decoder_create(&dec, NULL);
    if (rc != TCPS_OK) {
        fprintf(stderr, "segments: %s\n", tcps_result_message(rc));
        tcps_reader_close(rd);
        return 2;
    }
    while ((rc = tcps_reader_next(rd, &pkt)) == TCPS_OK) {
        char src[80], dst[80], flags[16];
        int d = tcps_decode(dec, &pkt, &seg);
        if (d < 0) {
            fprintf(stderr, "segments: frame %llu: %s\n", (unsigned long long)pkt.frame,
                    tcps_result_message(d));
            status = 2;
            break;
        }
        if (d == 0) continue;
        endpoint(src, sizeof src, seg.src, seg.ip_version, seg.sport);
        endpoint(dst, sizeof dst, seg.dst, seg.ip_version, seg.dport);
        flag_letters(flags, seg.flags);
        printf("%llu %lld.%09u %s > %s [%s] seq %lu ack %lu len %lu", (unsigned long long)seg.frame,
               (long long)seg.ts.sec, (unsigned)seg.ts.nsec, src, dst, flags,
               (unsigned long)seg.seq, (unsigned long)seg.ack, (unsigned long)seg.payload_len);
        if (seg.payload.len < seg.payload_len) printf(" (captured %lu)", (unsigned long)seg.payload.len);
        putchar('\n');
    }
    fflush(stdout);
    print_stats(tcps_decoder_stats(dec));
    if (rc < 0 && status == 0) {
        const tcps_error *e = tcps_reader_error(rd);
        fprintf(stderr, "segments: %s: %s (%s) at byte %llu\n", argv[1], e->message,
                tcps_result_name(e->code), (unsigned long long)e->offset);
        status = 1;
    }
    tcps_decoder_destroy(dec);
    tcps_reader_close(rd);
    return status;
}
