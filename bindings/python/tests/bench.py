"""The Python binding against a dpkt reassembly loop and the C command, on one capture, in one run.

    make bench-python [BENCH_MB=64]          (the Makefile sets the variables below)
    PYDIR=build/python/<tag> TCPSESSION=build/tcpsession DPKT_PYTHON=/usr/bin/python3 \\
        python3 bindings/python/tests/bench.py CAPTURE

Two jobs, each done the same way by every contender. "list": what
`tcpsession list --json` does per session: the bytes each way and the
sha256 of each direction's delivered bytes, then one JSON line per session.
"bytes": the old pure-Python tool's job: each direction's reassembled bytes
as one Python bytes object per session (no hashing), then one JSON line. Each runs in its own process (so its cpu time
and peak memory are its own), best of BENCH_RUNS (3) by cpu time; the page
cache is warmed first. Contenders:

  cli        build/tcpsession list --json CAPTURE
  binding    tcpsession.open(CAPTURE, data=False, chunks=False, sha256=True)
             (hashing in C, as the command does)
  binding+py tcpsession.open(CAPTURE, chunks=False): the bytes of each
             direction as Python bytes, hashed with hashlib
  dpkt       dpkt.pcap.Reader + Ethernet/IP/TCP parsing and an in-order
             reassembly per direction in Python (Debian's python3-dpkt under
             DPKT_PYTHON), hashing with hashlib. It runs on the first
             DPKT_MB MiB (default 64) of the capture when the capture is
             larger, and its times are scaled by the bytes read; the report
             says so.
  bytes job  binding: tcpsession.open(CAPTURE, chunks=False) taking s.c2s and
             s.s2c; dpkt: the same loop keeping each direction's segments
             and joining them into one bytes object when the session ends.
  2 threads  the binding in two threads of one process, each reading the
             whole capture: the wall time against one thread's shows how
             much the two ran at once (the GIL is released while C works).

The machine may be shared: compare the ratios, and prefer cpu time.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
DPKT_MB = float(os.environ.get("DPKT_MB", "64"))

BINDING = r'''
import json, sys, tcpsession
out = open("/dev/null", "w")
n = 0
for s in tcpsession.open(sys.argv[1], data=False, chunks=False, sha256=True):
    out.write(s.to_json() + "\n")
    n += 1
print(n, file=sys.stderr)
'''

BINDING_PY = r'''
import hashlib, json, sys, tcpsession
out = open("/dev/null", "w")
n = 0
for s in tcpsession.open(sys.argv[1], chunks=False):
    out.write(s.to_json() + "\n")  # the hashes: hashlib over s.c2s and s.s2c
    s.release()
    n += 1
print(n, file=sys.stderr)
'''

THREADS = r'''
import resource, sys, threading, time, tcpsession
def work(res, i):
    res[i] = sum(s.c2s_bytes + s.s2c_bytes for s in
                 tcpsession.open(sys.argv[1], data=False, chunks=False, sha256=True))
nthreads = int(sys.argv[2])
res = [None] * nthreads
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t0, c0 = time.perf_counter(), cpu()
ts = [threading.Thread(target=work, args=(res, i)) for i in range(nthreads)]
for t in ts: t.start()
for t in ts: t.join()
print("%.6f %.6f %s" % (time.perf_counter() - t0, cpu() - c0, res))
'''

BINDING_BYTES = r'''
import json, sys, tcpsession
out = open("/dev/null", "w")
n = 0
for s in tcpsession.open(sys.argv[1], chunks=False):
    c2s, s2c = s.c2s, s.s2c
    out.write(json.dumps({"stream": s.stream, "c2s_bytes": len(c2s), "s2c_bytes": len(s2c)}) + "\n")
    s.release()
    n += 1
print(n, file=sys.stderr)
'''

# A reassembly loop on dpkt, as the old pure-Python tool was built: per
# direction, bytes in sequence order from the first sequence seen, segments
# ahead of it kept until the stream reaches them, retransmissions dropped.
DPKT = r'''
import hashlib, json, socket, sys
import dpkt
path, limit, job = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = open("/dev/null", "w")
class Joined(list):
    """the "bytes" job: keeps the segments, joined into one bytes object at the end"""
    update = list.append
    def hexdigest(self):
        return len(b"".join(self))
new_hash = hashlib.sha256 if job == "list" else Joined
flows = {}
nstream = [0]
def emit(f):
    out.write(json.dumps({"stream": f["stream"], "client_ip": f["cip"], "client_port": f["cport"],
        "server_ip": f["sip"], "server_port": f["sport"], "c2s_bytes": f["n"][0], "s2c_bytes": f["n"][1],
        "c2s_sha256": f["h"][0].hexdigest(), "s2c_sha256": f["h"][1].hexdigest(), "end": f["end"]}) + "\n")
def ip_text(b):
    return socket.inet_ntop(socket.AF_INET6 if len(b) == 16 else socket.AF_INET, b)
read = 0
with open(path, "rb") as fp:
    for ts, buf in dpkt.pcap.Reader(fp):
        read += 16 + len(buf)
        if read > limit:
            break
        eth = dpkt.ethernet.Ethernet(buf)
        ip = eth.data
        if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
            continue
        tcp = ip.data
        if not isinstance(tcp, dpkt.tcp.TCP):
            continue
        a, b = (ip.src, tcp.sport), (ip.dst, tcp.dport)
        key = (a, b) if a < b else (b, a)
        f = flows.get(key)
        syn = tcp.flags & dpkt.tcp.TH_SYN
        ack = tcp.flags & dpkt.tcp.TH_ACK
        if f is None:
            if not (syn or tcp.data):
                continue  # a late ACK or FIN of a flow already reported
            client = b if (syn and ack) else a
            f = flows[key] = {"stream": nstream[0], "client": client, "next": [None, None], "pend": [{}, {}],
                              "n": [0, 0], "h": [new_hash(), new_hash()], "fin": [False, False],
                              "end": "eof", "cip": ip_text(client[0]), "cport": client[1],
                              "sip": ip_text((b if client == a else a)[0]), "sport": (b if client == a else a)[1]}
            nstream[0] += 1
        d = 0 if a == f["client"] else 1
        seq = tcp.seq
        if syn:
            f["next"][d] = (seq + 1) & 0xffffffff
        data = tcp.data
        if data:
            if f["next"][d] is None:
                f["next"][d] = seq
            nxt = f["next"][d]
            off = (seq - nxt) & 0xffffffff
            if off >= 0x80000000:  # starts before what was delivered
                back = 0x100000000 - off
                if back < len(data):
                    data, seq = data[back:], nxt
                else:
                    data = b""
                off = 0
            if data:
                if off:
                    p = f["pend"][d]
                    if seq not in p or len(p[seq]) < len(data):
                        p[seq] = data
                else:
                    h, p = f["h"][d], f["pend"][d]
                    h.update(data)
                    f["n"][d] += len(data)
                    nxt = (nxt + len(data)) & 0xffffffff
                    while p:
                        s2 = min(p, key=lambda s: (s - nxt) & 0xffffffff)
                        o = (s2 - nxt) & 0xffffffff
                        if o >= 0x80000000:
                            seg = p.pop(s2)
                            back = 0x100000000 - o
                            if back < len(seg):
                                seg = seg[back:]
                                h.update(seg); f["n"][d] += len(seg); nxt = (nxt + len(seg)) & 0xffffffff
                        elif o == 0:
                            seg = p.pop(s2)
                            h.update(seg); f["n"][d] += len(seg); nxt = (nxt + len(seg)) & 0xffffffff
                        else:
                            break
                    f["next"][d] = nxt
        if tcp.flags & dpkt.tcp.TH_RST:
            f["end"] = "rst"
            emit(flows.pop(key))
        elif tcp.flags & dpkt.tcp.TH_FIN:
            f["fin"][d] = True
            if f["fin"][0] and f["fin"][1]:
                f["end"] = "fin"
                emit(flows.pop(key))
for f in flows.values():
    emit(f)
print(nstream[0], read if read <= limit else read - 16 - len(buf), file=sys.stderr)
'''


def run(cmd, env=None, stdout=subprocess.DEVNULL):
    """(wall s, cpu s, peak RSS MiB, stderr text) of one child process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, env=env)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("bench: %s failed (%d): %s" % (cmd[0], p.returncode, err.decode(errors="replace")[-2000:]))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0, err.decode(errors="replace")


def best(cmd, env=None):
    runs = [run(cmd, env) for _ in range(RUNS)]
    return min(runs, key=lambda r: r[1]), runs


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for i, cap in enumerate(sys.argv[1:]):
        if i:
            print()
        bench(cap, threads=(i == 0))


def bench(cap, threads):
    python = os.environ.get("PYTHON", sys.executable)
    # the interpreter itself, not a launcher script in front of it (a pyenv
    # shim runs bash and pyenv for every start, which would be timed too)
    python = subprocess.run([python, "-c", "import sys; print(sys.executable)"], stdout=subprocess.PIPE,
                            check=True).stdout.decode().strip() or python
    pydir = os.environ.get("PYDIR")
    cli = os.environ.get("TCPSESSION", "build/tcpsession")
    dpkt_python = os.environ.get("DPKT_PYTHON", "/usr/bin/python3")
    env = dict(os.environ)
    if pydir:
        env["PYTHONPATH"] = os.path.abspath(pydir) + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    size = os.path.getsize(cap)
    mb = size / 1e6
    print("capture: %s, %.1f MB; best of %d by cpu time (user+sys); the machine may be shared" % (cap, mb, RUNS))
    print("sha256: libcrypto's everywhere (the CLI and the binding through the shared layer, dpkt through hashlib)")
    with open(cap, "rb") as f:  # warm the page cache (small reads: a child's peak RSS counts the parent's)
        while f.read(1 << 16):
            pass

    rows = []
    (w, c, m, _), _ = best([cli, "list", "--json", cap])
    rows.append(("cli: tcpsession list --json", w, c, m, ""))
    cli_cpu, cli_wall = c, w
    (w, c, m, e), _ = best([python, "-c", BINDING, cap], env)
    rows.append(("binding, sha256 in C", w, c, m, "%s sessions" % e.strip()))
    bind_cpu, bind_wall = c, w
    (w, c, m, e), _ = best([python, "-c", BINDING_PY, cap], env)
    rows.append(("binding, bytes + hashlib", w, c, m, ""))
    bpy_cpu, bpy_wall = c, w

    limit = size if size <= DPKT_MB * 1048576 else int(DPKT_MB * 1048576)

    def dpkt_run(job):
        w, c, m, e = run([dpkt_python, "-c", DPKT, cap, str(limit), job])
        nsess, read = (int(x) for x in e.split())
        scale = (size - 24) / max(read, 1)
        note = "%d sessions" % nsess
        if scale > 1.001:
            note = "ran on the first %.1f MB (%d sessions), times scaled x%.2f to the whole capture" % (
                read / 1e6, nsess, scale)
        return w * scale, c * scale, m, note

    w, c, m, note = dpkt_run("list")
    rows.append(("dpkt reassembly loop + hashlib", w, c, m, note))
    dpkt_cpu, dpkt_wall = c, w
    (w, c, m, e), _ = best([python, "-c", BINDING_BYTES, cap], env)
    rows.append(("bytes job: binding", w, c, m, ""))
    bb_cpu, bb_wall = c, w
    w, c, m, note = dpkt_run("bytes")
    rows.append(("bytes job: dpkt reassembly loop", w, c, m, note))
    db_cpu, db_wall = c, w

    print()
    print("%-34s %9s %9s %9s %9s  %s" % ("", "cpu s", "wall s", "MB/s cpu", "peak MiB", ""))
    for name, w, c, m, note in rows:
        print("%-34s %9.3f %9.3f %9.1f %9.1f  %s" % (name, c, w, mb / c if c else 0, m, note))
    print()
    print("dpkt: %s" % dpkt_python)
    print("list job, binding vs dpkt:   %.1fx faster by cpu (%.1fx by wall)   target >= 50x" % (
        dpkt_cpu / bind_cpu, dpkt_wall / bind_wall))
    print("bytes job, binding vs dpkt:  %.1fx faster by cpu (%.1fx by wall)   target >= 50x" % (
        db_cpu / bb_cpu, db_wall / bb_wall))
    print("binding vs the CLI:    %.2fx the CLI's cpu time (%.2fx wall)   target <= 1.5x" % (
        bind_cpu / cli_cpu, bind_wall / cli_wall))
    print("bytes+hashlib vs CLI:  %.2fx the CLI's cpu time (%.2fx wall); vs dpkt %.1fx faster by cpu" % (
        bpy_cpu / cli_cpu, bpy_wall / cli_wall, dpkt_cpu / bpy_cpu))

    if not threads:
        return
    # parallelism: one process, one thread then two threads on the same capture. The
    # process's cpu time over its wall time says how many threads really ran at once
    # (wall time alone also counts the other jobs of a shared machine).
    walls, cpus = {}, {}
    for n in (1, 2):
        for _ in range(RUNS):
            out = subprocess.run([python, "-c", THREADS, cap, str(n)], env=env, stdout=subprocess.PIPE,
                                 check=True).stdout.decode().split(" ", 2)
            wt, ct = float(out[0]), float(out[1])
            if n not in walls or wt < walls[n]:
                walls[n], cpus[n] = wt, ct
    print("threads: 1 thread reading the capture %.3f s wall (%.2f cpu s); 2 threads each reading it "
          "%.3f s wall (%.2f cpu s): %.2fx the wall time for 2x the work (1.0 = fully parallel, 2.0 = serial), "
          "%.2f cores busy on average (%d cores here)" % (
              walls[1], cpus[1], walls[2], cpus[2], walls[2] / walls[1], cpus[2] / walls[2], os.cpu_count() or 0))


if __name__ == "__main__":
    main()
