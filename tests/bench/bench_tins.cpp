// bench_tins - one timed pass of libtins' TCPIP::StreamFollower over a
// capture, doing the same work on the delivered bytes as bench_engine -m hash.
//
//     bench_tins CAPTURE
//
// FileSniffer reads the capture; every PDU goes to a StreamFollower (streams
// that start with a handshake, as libtins follows by default).  On a new
// stream, client and server data callbacks hash the payload libtins hands
// over (it clears it after each callback: auto_cleanup_payloads).  State per
// stream is made on the new-stream callback and digested and freed when the
// stream closes, is terminated by libtins (buffer limits, keep-alive), or at
// the end of the capture.  Keep-alive is raised to a day so that no stream
// of a capture is dropped for being idle.  Prints one RESULT line
// (bench_hash.h) with the streams libtins terminated itself.
#include <tins/tins.h>
#include <tins/tcp_ip/stream_follower.h>

#include <chrono>
#include <map>
#include <unistd.h>

#include "bench_hash.h"

using namespace Tins;

static bh_totals tot;
static uint64_t terminated_data, terminated_sack, terminated_timeout, closed;

struct state {
    bh_dir d[2];
};

// Streams are keyed by their Stream object's address while alive.
static std::map<const TCPIP::Stream *, state *> live;

static void finish(const TCPIP::Stream &s) {
    auto it = live.find(&s);
    if (it == live.end()) return;
    bh_add(&tot, &it->second->d[0]);
    bh_add(&tot, &it->second->d[1]);
    delete it->second;
    live.erase(it);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CAPTURE\n", argv[0]);
        return 2;
    }
    double t0 = bh_now();
    try {
        FileSniffer sniffer(argv[1]);
        TCPIP::StreamFollower follower;
        follower.stream_keep_alive(std::chrono::hours(24));
        follower.new_stream_callback([](TCPIP::Stream &s) {
            state *st = new state;
            bh_init(&st->d[0]);
            bh_init(&st->d[1]);
            live[&s] = st;
            tot.streams++;
            s.auto_cleanup_payloads(true);
            s.client_data_callback([st](TCPIP::Stream &x) {
                const TCPIP::Stream::payload_type &p = x.client_payload();
                bh_update(&st->d[0], p.data(), p.size());
            });
            s.server_data_callback([st](TCPIP::Stream &x) {
                const TCPIP::Stream::payload_type &p = x.server_payload();
                bh_update(&st->d[1], p.data(), p.size());
            });
            s.stream_closed_callback([](TCPIP::Stream &x) {
                closed++;
                finish(x);
            });
        });
        follower.stream_termination_callback(
            [](TCPIP::Stream &s, TCPIP::StreamFollower::TerminationReason why) {
                if (why == TCPIP::StreamFollower::BUFFERED_DATA)
                    terminated_data++;
                else if (why == TCPIP::StreamFollower::SACKED_SEGMENTS)
                    terminated_sack++;
                else
                    terminated_timeout++;
                finish(s);
            });
        sniffer.sniff_loop([&](PDU &pdu) {
            follower.process_packet(pdu);
            return true;
        });
        // The end of the capture: what is still open counts as it stands.
        while (!live.empty()) finish(*live.begin()->first);
    } catch (std::exception &e) {
        fprintf(stderr, "bench_tins: %s\n", e.what());
        return 1;
    }
    double secs = bh_now() - t0;
    char extra[160];
    snprintf(extra, sizeof extra, "closed=%llu terminated_buffered=%llu terminated_sack=%llu "
             "terminated_timeout=%llu",
             (unsigned long long)closed, (unsigned long long)terminated_data,
             (unsigned long long)terminated_sack, (unsigned long long)terminated_timeout);
    bh_report("libtins", secs, 0, &tot, extra);
    return 0;
}
