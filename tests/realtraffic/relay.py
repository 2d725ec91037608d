#!/usr/bin/env python3
"""Impairing relay between two TAP devices (used when tc netem is missing).

Creates two TAP devices in the namespace it runs in (record.sh then moves one
into each endpoint namespace) and copies Ethernet frames between them. Frames
carrying TCP are impaired at random: dropped, duplicated, held back so that
later frames overtake them, and all delayed a little. Everything else (ARP,
IPv6 neighbour discovery) passes untouched. RST segments are never dropped:
TCP does not retransmit them, and a lost RST would leave the other
application waiting for its timeout instead of ending the connection.

Every random decision comes from a generator per direction seeded from --seed,
so the n-th TCP frame of a direction always meets the same fate; which frame is
the n-th still depends on the timing of the two TCP stacks.

Prints "ready" on stdout once both devices exist. On SIGUSR1 it sends what it
still holds, writes its counters as one JSON object to --stats and from then
on discards every frame (so the counters stay true while the captures are
stopped); on SIGTERM/SIGINT it exits and the devices go with it. The counters
let compare.py check that each tcpdump saw every TCP frame that crossed its
interface.
"""
import argparse
import fcntl
import heapq
import json
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


def tcp_flags(frame):
    """TCP flags of an Ethernet frame, or None if it does not carry TCP."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    off = 14
    if ethertype == 0x8100 and len(frame) >= 18:
        ethertype = struct.unpack_from("!H", frame, 16)[0]
        off = 18
    if ethertype == 0x0800:
        if len(frame) < off + 20 or frame[off + 9] != 6:
            return None
        ihl = (frame[off] & 15) * 4
        frag = struct.unpack_from("!H", frame, off + 6)[0] & 0x1FFF
        if frag:
            return 0
        off += ihl
    elif ethertype == 0x86DD:
        if len(frame) < off + 40 or frame[off + 6] != 6:
            return None
        off += 40
    else:
        return None
    if len(frame) < off + 14:
        return 0
    return frame[off + 13]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tap", nargs=2, required=True, metavar=("A", "B"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--loss", type=float, default=0.02)
    ap.add_argument("--dup", type=float, default=0.02)
    ap.add_argument("--reorder", type=float, default=0.04)
    ap.add_argument("--delay-ms", type=float, default=1.0)
    ap.add_argument("--reorder-ms", type=float, default=8.0)
    ap.add_argument("--stats", required=True)
    args = ap.parse_args()

    fds = [open_tap(args.tap[0]), open_tap(args.tap[1])]
    # direction 0: frames read from tap A, written to tap B; 1 the reverse
    rngs = [random.Random(args.seed * 2 + 1), random.Random(args.seed * 2 + 2)]
    names = ["a_to_b", "b_to_a"]
    # tcp: TCP frames read; tcp_written: TCP frames written to the other
    # side, copies included (what tcpdump there must see arrive)
    stats = {n: dict(frames=0, tcp=0, dropped=0, duplicated=0, reordered=0, tcp_written=0,
                     write_errors=0) for n in names}
    queue = []  # (release time, sequence, direction, is TCP, frame)
    seq = 0
    stop, freeze = [], []
    frozen = False

    def on_signal(signum, frame):
        (freeze if signum == signal.SIGUSR1 else stop).append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGUSR1, on_signal)
    print("ready", flush=True)

    base = args.delay_ms / 1000.0
    def release(until):
        while queue and queue[0][0] <= until:
            _, _, d, is_tcp, frame = heapq.heappop(queue)
            try:
                os.write(fds[1 - d], frame)
                stats[names[d]]["tcp_written"] += is_tcp
            except OSError:
                stats[names[d]]["write_errors"] += 1

    def write_stats():
        with open(args.stats, "w") as f:
            json.dump(dict(seed=args.seed, loss=args.loss, dup=args.dup, reorder=args.reorder,
                           delay_ms=args.delay_ms, reorder_ms=args.reorder_ms, **stats), f)
            f.write("\n")

    while not stop:
        if freeze and not frozen:
            release(float("inf"))
            write_stats()
            frozen = True
        now = time.monotonic()
        release(now)
        timeout = max(0.0, queue[0][0] - now) if queue else 0.5
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for d, fd in enumerate(fds):
            if fd not in ready:
                continue
            st = stats[names[d]]
            for _ in range(64):
                try:
                    frame = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    break
                if frozen:
                    continue
                st["frames"] += 1
                flags = tcp_flags(frame)
                if flags is None:
                    seq += 1
                    heapq.heappush(queue, (now, seq, d, 0, frame))
                    continue
                st["tcp"] += 1
                rng = rngs[d]
                # draw all three numbers every time so one decision does not
                # shift the others
                r_loss, r_dup, r_reo = rng.random(), rng.random(), rng.random()
                extra = rng.random() * args.reorder_ms / 1000.0
                if r_loss < args.loss and not (flags & 0x04):
                    st["dropped"] += 1
                    continue
                when = now + base
                if r_reo < args.reorder:
                    st["reordered"] += 1
                    when += args.reorder_ms / 2000.0 + extra
                seq += 1
                heapq.heappush(queue, (when, seq, d, 1, frame))
                if r_dup < args.dup:
                    st["duplicated"] += 1
                    seq += 1
                    heapq.heappush(queue, (when + extra, seq, d, 1, frame))
    if not frozen:
        release(float("inf"))
        write_stats()
    return 0


if __name__ == "__main__":
    sys.exit(main())
