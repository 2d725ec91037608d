#!/usr/bin/env python3
"""Client and server whose connections make the real-traffic test's truth.

Each side writes one JSON line per connection: the 4-tuple as its socket
reports it, and the length and SHA-256 of exactly the bytes recv() returned on
that socket, in order. That is what the receiving TCP stack handed the
application, which is what a reassembler must deliver for that direction.

  apps.py server --v4 ADDR --v6 ADDR --port P --expect N --out FILE
  apps.py client --v4 ADDR --v6 ADDR --port P --count N --seed S --out FILE
                 [--plan mixed|reuse]

The client draws a plan of N connections from the seed; the first 16 bytes
of each connection tell the server what to do (kind, two sizes, a seed). The
seed is different for every connection of a plan; both sides record it, so
that compare.py can pair the client's and the server's record of a
connection exactly even when many connections used the same 4-tuple.

The "mixed" plan (the default) has every kind below, with sizes up to 3 MB.
The "reuse" plan is many short connections on ports the system chooses (the
test narrows the client's ephemeral port range, so that successive
connections keep landing on 4-tuples used before): short, up and down with
small sizes, empty, and every way of ending, FIN from either side first or a
RST from either side.

  empty  connect and close: no byte either way
  up     client sends a bytes then half-closes; server reads to EOF and
         closes (b=1: with a RST, SO_LINGER 0)
  down   server sends a bytes and closes; client half-closes after the
         header when b=1
  rr     a request/response exchanges of random sizes; the end is b:
         0 FIN from the client, 1 RST from the client after the last
         response, 2 RST from the server after the client's last byte,
         3 FIN from the server after its last response (the client closes
         when it has read it: the server's side waits in TIME_WAIT)
  short  like rr with small sizes (requests up to 4 KB, responses up to
         15 KB)
  bidi   both send at once (a up, b down), half-close, read to EOF
  half   client sends a bytes and half-closes; only then does the server
         send b bytes (data after the client's FIN) and close
  tfo    like rr, but the header and the first request go in the SYN (TCP
         Fast Open; the first connection to a server only gets the cookie)
  slow   like up, to the second port, whose sockets have a tiny receive
         buffer and a server that reads a little at a time: the window
         fills, closes and reopens

Nobody resets a connection while data may still be on its way to it: the
reset comes only after the application has read everything the peer will
send, so the bytes read before ECONNRESET are all there is.
"""
import argparse
import errno
import hashlib
import ipaddress
import json
import random
import select
import socket
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HDR = struct.Struct("!2sBBIII")  # magic, kind, pad, a, b, seed
KINDS = {"empty": 0, "up": 1, "down": 2, "rr": 3, "bidi": 4, "half": 5, "slow": 6, "tfo": 7,
         "short": 8}
# how an rr, tfo or short connection ends, by its b
RR_ENDS = ["fin", "rst-client", "rst-server", "fin-server"]
KIND_NAMES = {v: k for k, v in KINDS.items()}
TIMEOUT = 40.0
CHUNK = 65536


def payload(seed, n):
    return random.Random(seed).randbytes(n)


class Conn:
    """A socket that hashes and counts everything received."""

    def __init__(self, sock):
        self.sock = sock
        self.h = hashlib.sha256()
        self.received = 0
        self.sent = 0
        self.buf = b""
        self.eof = False
        self.reset = False

    def _fill(self):
        try:
            data = self.sock.recv(CHUNK)
        except ConnectionResetError:
            self.reset = True
            data = b""
        if not data:
            self.eof = True
            return False
        self.h.update(data)
        self.received += len(data)
        self.buf += data
        return True

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError("connection ended after %d of %d bytes" % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_eof(self, pause=0.0):
        while self._fill():
            self.buf = b""
            if pause:
                time.sleep(pause)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)
        self.sent += len(data)

    def reset_close(self):
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def tuple_of(sock):
    """The client's view of its connection's 4-tuple."""
    local, peer = sock.getsockname(), sock.getpeername()
    return dict(client=str(ipaddress.ip_address(local[0])), cport=local[1],
                server=str(ipaddress.ip_address(peer[0])), sport=peer[1])


class Recorder:
    def __init__(self, path):
        self.f = open(path, "w")
        self.lock = threading.Lock()
        self.count = 0

    def write(self, rec):
        with self.lock:
            self.f.write(json.dumps(rec, sort_keys=True) + "\n")
            self.f.flush()
            self.count += 1


def record(rec_out, role, t, c, kind, close, err, seed):
    rec = dict(role=role, kind=kind, close=close, recv_bytes=c.received,
               recv_sha256=c.h.hexdigest(), sent_bytes=c.sent, reset_seen=c.reset,
               error=err, seed=seed)
    rec.update(t)
    rec_out.write(rec)


# ---------------------------------------------------------------- server

def serve_one(sock, peer, rec_out, accepted, order):
    """One connection; accepted is the wall-clock time of its accept() and
    order its number in the order of accept() (on one 4-tuple, the order in
    which the connections using it were made)."""
    start = time.monotonic()
    sock.settimeout(TIMEOUT)
    local = sock.getsockname()
    t = dict(client=str(ipaddress.ip_address(peer[0])), cport=peer[1],
             server=str(ipaddress.ip_address(local[0])), sport=local[1], start=start,
             accepted=accepted, order=order)
    c = Conn(sock)
    kind, close, err, seed = "empty", "fin", None, None
    try:
        try:
            hdr = c.read_exact(HDR.size)
        except EOFError:
            hdr = None
        if hdr is None:
            sock.close()
        else:
            magic, k, _, a, b, seed = HDR.unpack(hdr)
            if magic != b"RT" or k not in KIND_NAMES:
                raise ValueError("bad header")
            kind = KIND_NAMES[k]
            rng = random.Random(seed)
            if kind in ("up", "slow"):
                c.read_to_eof(0.003 if kind == "slow" else 0.0)
                if b == 1:
                    close = "rst-server"
                    c.reset_close()
                else:
                    sock.close()
            elif kind == "down":
                c.send(payload(seed, a))
                sock.shutdown(socket.SHUT_WR)
                c.read_to_eof()
                sock.close()
            elif kind in ("rr", "tfo", "short"):
                close = RR_ENDS[b]
                for _ in range(a):
                    reqlen, resplen = struct.unpack("!II", c.read_exact(8))
                    c.read_exact(reqlen)
                    c.send(struct.pack("!I", resplen) + payload(rng.getrandbits(32), resplen))
                if b == 2:
                    c.read_exact(1)  # the client has read every response
                    c.reset_close()
                elif b == 3:
                    # the server closes first; the client closes on our FIN
                    sock.shutdown(socket.SHUT_WR)
                    c.read_to_eof()
                    sock.close()
                else:
                    c.read_to_eof()
                    sock.close()
            elif kind == "bidi":
                def sender():
                    c.send(payload(seed + 1, b))
                    sock.shutdown(socket.SHUT_WR)
                th = threading.Thread(target=sender)
                th.start()
                c.read_to_eof()
                th.join()
                sock.close()
            elif kind == "half":
                c.read_to_eof()
                c.send(payload(seed + 1, b))
                sock.close()
    except Exception as e:  # recorded, the comparison reports it
        err = "%s: %s" % (type(e).__name__, e)
        try:
            sock.close()
        except OSError:
            pass
    record(rec_out, "server", t, c, kind, close, err, seed)


def server(args):
    rec_out = Recorder(args.out)
    listeners = []
    for fam, addr, port in ((socket.AF_INET, args.v4, args.port),
                            (socket.AF_INET6, args.v6, args.port),
                            (socket.AF_INET, args.v4, args.port + 1),
                            (socket.AF_INET6, args.v6, args.port + 1)):
        if not addr:
            continue
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if port != args.port:  # the slow readers' port: a small window
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
        ls.bind((addr, port))
        ls.listen(128)
        ls.settimeout(0.2)
        listeners.append(ls)
    print("listening", flush=True)
    threads = []
    deadline = time.monotonic() + args.timeout
    accepted = 0
    while accepted < args.expect and time.monotonic() < deadline:
        ready, _, _ = select.select(listeners, [], [], 0.2)
        for ls in ready:
            try:
                s, peer = ls.accept()
            except (socket.timeout, BlockingIOError):
                continue
            when = time.time()
            accepted += 1
            th = threading.Thread(target=serve_one, args=(s, peer, rec_out, when, accepted),
                                  daemon=True)
            th.start()
            threads.append(th)
    for th in threads:
        th.join(max(0.1, deadline - time.monotonic()))
    return 0 if rec_out.count == args.expect else 1


# ---------------------------------------------------------------- client

def make_plan(count, seed):
    """count connections drawn from seed, as jobs: lists of specs
    (kind, a, b, seed, ipv6, client port) run one after the other. A client
    port of 0 lets the system choose one; a job whose connections all name
    the same port carries several connections on one 4-tuple in turn."""
    rng = random.Random(seed)

    def size():
        r = rng.random()
        if r < 0.1:
            return 0
        if r < 0.4:
            return rng.randint(1, 20000)
        if r < 0.75:
            return rng.randint(20000, 400000)
        return rng.randint(400000, 3000000)

    # the first connections cover every kind and every end; the rest are random
    base = [("empty", 0), ("up", 0), ("up", 1), ("down", 0), ("down", 1), ("rr", 0),
            ("rr", 1), ("rr", 2), ("bidi", 0), ("half", 0), ("slow", 0)]
    conns = []
    for i in range(count):
        kind, b = base[i] if i < len(base) else (rng.choice(base[1:])[0], None)
        if kind == "empty":
            a, b = 0, 0
        elif kind in ("up", "down"):
            a = size()
            b = rng.choice([0, 0, 1]) if b is None else b
        elif kind == "slow":
            a, b = rng.randint(20000, 200000), 0
        elif kind == "rr":
            a, b = rng.randint(1, 120), rng.randint(0, 2) if b is None else b
        elif kind == "tfo":
            a, b = rng.randint(1, 20), 0
        else:
            a, b = size(), size()
        conns.append((kind, a, b, rng.getrandbits(31), i % 4 == 3))
    jobs = [[c] for c in conns]
    # for IPv4 and for IPv6: a chain of three connections on a fixed client
    # port, where the server closes first ("down") so that its side of the
    # 4-tuple waits in TIME_WAIT when the next SYN comes; and two Fast Open
    # connections in turn (the first gets the cookie, the second sends data
    # in its SYN)
    if count >= 21:
        jobs = jobs[:-10]
        for v6 in (False, True):
            port = rng.randint(20000, 30000)
            jobs.append([("down", size() // 4, 0, rng.getrandbits(31), v6, port)
                         for _ in range(3)])
            jobs.append([("tfo", rng.randint(1, 20), 0, rng.getrandbits(31), v6, 0)
                         for _ in range(2)])
    return [[c if len(c) == 6 else c + (0,) for c in job] for job in jobs]


def make_reuse_plan(count, seed):
    """count short connections drawn from seed, each a job of its own, all on
    ports the system chooses. With a narrow ephemeral port range most of them
    land on a 4-tuple that an earlier connection used. The ends are mixed so
    that TIME_WAIT falls on either side: a FIN from the client first leaves
    the client's side in TIME_WAIT (reused after tcp_tw_reuse_delay, with
    tcp_tw_reuse set), a FIN from the server first leaves the server's side
    there (the next SYN takes it over), a RST leaves none."""
    rng = random.Random(seed)
    # (kind, b, weight); a is drawn below
    mix = [("short", 0, 20), ("short", 3, 25), ("short", 1, 15), ("short", 2, 15),
           ("up", 0, 4), ("up", 1, 5), ("down", 0, 8), ("down", 1, 3), ("empty", 0, 5)]
    weights = [w for _, _, w in mix]
    jobs = []
    for i in range(count):
        # the first connections take every kind and end once
        kind, b, _ = mix[i] if i < len(mix) else rng.choices(mix, weights)[0]
        if kind == "short":
            a = rng.randint(1, 3)
        elif kind in ("up", "down"):
            a = rng.randint(1, 15000)
        else:
            a = 0
        jobs.append([(kind, a, b, rng.getrandbits(31), rng.random() < 0.5, 0)])
    return jobs


def unique_seeds(jobs):
    """Make the seeds of a plan all different (they pair the two sides'
    records of a connection); changes nothing but a rare repeated seed."""
    seen = set()
    out = []
    for job in jobs:
        new = []
        for spec in job:
            sd = spec[3]
            while sd in seen:
                sd = (sd + 1) % (1 << 31)
            seen.add(sd)
            new.append(spec[:3] + (sd,) + spec[4:])
        out.append(new)
    return out


def connect(fam, addr, port, local_port):
    """(connected socket, times it waited for a free port). From local_port
    if not 0, retried while the previous connection on that port is still
    closing. From a port the system chooses, retried while it has none for
    this destination (EADDRNOTAVAIL: every port of the range is in use or in
    TIME_WAIT that may not be reused yet)."""
    waits = attempt = 0
    deadline = time.monotonic() + TIMEOUT
    while True:
        attempt += 1
        sock = socket.socket(fam, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT)
        try:
            if local_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", local_port))
            sock.connect((addr, port))
            return sock, waits
        except OSError as e:
            sock.close()
            if local_port:
                if attempt >= 50:
                    raise
                time.sleep(0.2)
            elif e.errno == errno.EADDRNOTAVAIL and time.monotonic() < deadline:
                waits += 1
                time.sleep(random.uniform(0.002, 0.01))
            else:
                raise


def client_one(spec, args, rec_out, ident):
    kind, a, b, seed, v6, local_port = spec
    fam, addr = (socket.AF_INET6, args.v6) if v6 and args.v6 else (socket.AF_INET, args.v4)
    c = Conn(None)
    close, err, t = "fin", None, None
    start = time.monotonic()
    sock = None
    waits = 0
    try:
        port = args.port + 1 if kind == "slow" else args.port
        hdr = HDR.pack(b"RT", KINDS[kind], 0, a, b, seed)
        if kind == "tfo":
            # connected by the first send, which carries hdr
            sock = c.sock = socket.socket(fam, socket.SOCK_STREAM)
        else:
            sock, waits = connect(fam, addr, port, local_port)
            c.sock = sock
            # wall-clock time once connected and before anything is sent: on
            # one 4-tuple, between the SYN of this connection and that of
            # the next (compare.py finds the sessions with it)
            t = tuple_of(sock)
            t["connected"] = time.time()
        if kind == "empty":
            sock.close()
        else:
            if kind != "tfo":
                c.send(hdr)
            if kind in ("up", "slow"):
                close = "rst-server" if b == 1 else "fin"
                c.send(payload(seed, a))
                sock.shutdown(socket.SHUT_WR)
                c.read_to_eof()
                sock.close()
            elif kind == "down":
                if b == 1:
                    close = "half"
                    sock.shutdown(socket.SHUT_WR)
                c.read_to_eof()
                sock.close()
            elif kind in ("rr", "tfo", "short"):
                close = RR_ENDS[b]
                srng = random.Random(seed)  # mirrors the server's
                mine = random.Random(seed ^ 0x5A5A5A5A)
                for _ in range(a):
                    if kind == "short":
                        reqlen = mine.choice([mine.randint(1, 300), mine.randint(300, 4000)])
                        resplen = mine.choice([mine.randint(1, 1000), mine.randint(1000, 15000)])
                    else:
                        reqlen = mine.choice([mine.randint(1, 300), mine.randint(300, 40000)])
                        resplen = mine.choice([0, mine.randint(1, 500), mine.randint(500, 60000)])
                    req = struct.pack("!II", reqlen, resplen) + payload(mine.getrandbits(32), reqlen)
                    if t is None:
                        # blocking: with a timeout Python's socket is
                        # non-blocking and this returns EINPROGRESS
                        n = sock.sendto(hdr + req[:1000], socket.MSG_FASTOPEN, (addr, port))
                        sock.settimeout(TIMEOUT)
                        c.sent += n
                        t = tuple_of(sock)
                        t["connected"] = time.time()
                        req = (hdr + req)[n:]
                    c.send(req)
                    n = struct.unpack("!I", c.read_exact(4))[0]
                    if n != resplen:
                        raise ValueError("response length %d, asked %d" % (n, resplen))
                    got = c.read_exact(n)
                    if got != payload(srng.getrandbits(32), n):
                        raise ValueError("response bytes differ from the server's")
                if b == 1:
                    c.reset_close()
                elif b == 2:
                    c.send(b"!")
                    c.read_to_eof()
                    sock.close()
                elif b == 3:
                    c.read_to_eof()  # the server's FIN comes first
                    sock.close()
                else:
                    sock.shutdown(socket.SHUT_WR)
                    c.read_to_eof()
                    sock.close()
            elif kind == "bidi":
                def sender():
                    c.send(payload(seed, a))
                    sock.shutdown(socket.SHUT_WR)
                th = threading.Thread(target=sender)
                th.start()
                c.read_to_eof()
                th.join()
                sock.close()
            elif kind == "half":
                close = "half"
                c.send(payload(seed, a))
                sock.shutdown(socket.SHUT_WR)
                c.read_to_eof()
                sock.close()
    except Exception as e:
        err = "%s: %s" % (type(e).__name__, e)
        try:
            if sock:
                sock.close()
        except OSError:
            pass
    if t is None:
        t = dict(client=None, cport=None, server=addr, sport=args.port, connected=None)
    t["start"] = start
    t["id"] = ident
    t["port_waits"] = waits
    record(rec_out, "client", t, c, kind, close, err, seed)


def client(args):
    rec_out = Recorder(args.out)
    plan = make_reuse_plan if args.plan == "reuse" else make_plan
    jobs = unique_seeds(plan(args.count, args.seed))
    # every connection's number in the plan, for the records
    numbered, n = [], 0
    for job in jobs:
        numbered.append([(n + i, spec) for i, spec in enumerate(job)])
        n += len(job)

    def run_job(job):
        for ident, spec in job:
            client_one(spec, args, rec_out, ident)

    with ThreadPoolExecutor(max_workers=args.parallel) as ex:
        for f in [ex.submit(run_job, job) for job in numbered]:
            f.result()
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--v4", required=True)
    ap.add_argument("--v6", default="")
    ap.add_argument("--port", type=int, default=5001)
    ap.add_argument("--out", required=True)
    ap.add_argument("--expect", type=int, default=40)
    ap.add_argument("--timeout", type=float, default=100.0)
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--plan", choices=["mixed", "reuse"], default="mixed")
    args = ap.parse_args()
    return server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    sys.exit(main())
