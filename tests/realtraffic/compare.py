#!/usr/bin/env python3
"""Compare what the applications received with what tcpsession delivered.

  compare.py DIR

DIR is what record.sh wrote plus, from run.sh, sessions-client.jsonl and
sessions-server.jsonl (sessions.c on client.pcap and server.pcap) and
optionally tcpflow-client/ and tcpflow-server/ (tcpflow's output and
report.xml on the same captures).

Every connection has two directions. Each is judged on the capture taken at
its receiver (client-to-server on server.pcap, server-to-client on
client.pcap): that capture holds every packet the receiving stack was given,
so the direction passes only if tcpsession delivered exactly the bytes the
application read (same length, same SHA-256) and reported 0 bytes missing.
The same check on the sender's capture, and tcpflow's results, are printed as
information. The last line is "N passed, M failed"; the exit status is 1 if
anything failed, 3 if something failed and a capture is known to be
incomplete (tcpdump dropped frames, or it holds fewer than the relay passed).
"""
import hashlib
import json
import os
import sys
import xml.etree.ElementTree as ET

DIRS = ("c2s", "s2c")


def load_jsonl(path):
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError as e:
                raise SystemExit("%s:%d: not JSON: %s" % (path, n, e))
    return out


def key(client, cport, server, sport):
    return (client, int(cport), server, int(sport))


def index_sessions(sessions):
    """4-tuple (client first) -> [(session, swapped)] in stream order."""
    idx = {}
    for s in sorted(sessions, key=lambda s: s["stream"]):
        k = key(s["client"], s["cport"], s["server"], s["sport"])
        idx.setdefault(k, []).append((s, False))
        # a session whose SYN was never seen may have the roles swapped
        r = key(s["server"], s["sport"], s["client"], s["cport"])
        idx.setdefault(r, []).append((s, True))
    return idx


def session_dir(idx, k, use, uses, d):
    """Direction d of the use-th of uses connections on 4-tuple k:
    (info, None) or (None, why)."""
    found = idx.get(k, [])
    if not found:
        return None, "no session in the capture"
    if len(found) != uses:
        return None, "%d session(s) (streams %s) for %d connection(s) on this 4-tuple" % (
            len(found), ",".join(str(s["stream"]) for s, _ in found), uses)
    s, swapped = found[use]
    sd = s[{"c2s": "s2c", "s2c": "c2s"}[d] if swapped else d]
    info = dict(stream=s["stream"], end=s["end"], swapped=swapped, **sd)
    return info, None


def check(truth, info):
    return (info is not None and info["bytes"] == truth[0] and info["sha256"] == truth[1]
            and info["missing"] == 0)


def load_tcpflow(outdir, sub):
    """(src, sport, dst, dport) -> [(bytes, sha256)] in order of start, from
    tcpflow's report.xml."""
    path = os.path.join(outdir, sub, "report.xml")
    if not os.path.exists(path):
        return None
    flows = {}
    for fo in ET.parse(path).getroot().iter("fileobject"):
        tf = fo.find("tcpflow")
        if tf is None:
            continue
        k = key(tf.get("src_ipn"), tf.get("srcport"), tf.get("dst_ipn"), tf.get("dstport"))
        name = fo.findtext("filename")
        h = hashlib.sha256()
        n = 0
        if name:
            with open(os.path.join(outdir, name), "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
                    n += len(chunk)
        flows.setdefault(k, []).append((tf.get("startime"), n, h.hexdigest()))
    return {k: [(n, h) for _, n, h in sorted(v)] for k, v in flows.items()}


def capture_warnings(outdir, capinfo):
    """Reasons to doubt that each capture holds every TCP frame that crossed
    its interface: tcpdump's drop counter, and with the relay, its counters
    (frames one side sent, plus frames the relay delivered to it)."""
    out = []
    for side in ("client", "server"):
        if capinfo.get(side + "_dropped"):
            out.append("tcpdump dropped %s packets at the %s: failures may be the capture's"
                       % (capinfo[side + "_dropped"], side))
    try:
        with open(os.path.join(outdir, "relay.json")) as f:
            relay = json.load(f)
    except (OSError, ValueError):
        return out
    expect = dict(client=relay["a_to_b"]["tcp"] + relay["b_to_a"]["tcp_written"],
                  server=relay["b_to_a"]["tcp"] + relay["a_to_b"]["tcp_written"])
    for side in ("client", "server"):
        got = capinfo.get(side + "_captured")
        if got is not None and got < expect[side]:
            out.append("the %s capture has %d TCP frames, the relay passed %d: it is "
                       "incomplete, failures may be the capture's" % (side, got, expect[side]))
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    outdir = sys.argv[1]
    clients = load_jsonl(os.path.join(outdir, "client.jsonl"))
    servers = load_jsonl(os.path.join(outdir, "server.jsonl"))
    caps = {side: index_sessions(load_jsonl(os.path.join(outdir, "sessions-%s.jsonl" % side)))
            for side in ("client", "server")}
    tcpflow = {side: load_tcpflow(outdir, "tcpflow-" + side) for side in ("client", "server")}
    capinfo = {}
    try:
        with open(os.path.join(outdir, "capture.json")) as f:
            capinfo = json.load(f)
    except (OSError, ValueError):
        pass

    # connections by 4-tuple, in the order they were made (a 4-tuple may be
    # used several times in turn)
    srv, uses = {}, {}
    for r in sorted(servers, key=lambda r: r["start"]):
        srv.setdefault(key(r["client"], r["cport"], r["server"], r["sport"]), []).append(r)
    for r in sorted(clients, key=lambda r: r["start"]):
        if r["cport"] is not None:
            k = key(r["client"], r["cport"], r["server"], r["sport"])
            r["use"] = len(uses.setdefault(k, []))
            uses[k].append(r)
    passed = failed = 0
    notes = []
    sender_bad = 0
    tcpflow_bad = {"client": 0, "server": 0}
    rows = []
    conns = sorted(clients, key=lambda r: (r["cport"] is None, r["client"] or "", r["cport"] or 0,
                                           r["start"]))
    for i, c in enumerate(conns):
        if c["cport"] is None:
            failed += 2
            notes.append("connection %d (%s) never connected: %s" % (i, c["kind"], c["error"]))
            continue
        k = key(c["client"], c["cport"], c["server"], c["sport"])
        use, nuses = c["use"], len(uses[k])
        s = srv.get(k, [])
        if len(s) != nuses:
            failed += 2
            notes.append("%s:%d: the client made %d connection(s), the server saw %d"
                         % (k[0], k[1], nuses, len(s)))
            continue
        s = s[use]
        for r in (c, s):
            if r["error"]:
                notes.append("%s:%d: %s error: %s" % (k[0], k[1], r["role"], r["error"]))
        if c["sent_bytes"] != s["recv_bytes"] or s["sent_bytes"] != c["recv_bytes"]:
            notes.append("%s:%d: sent and received differ (client sent %d, server read %d; "
                         "server sent %d, client read %d)" % (
                             k[0], k[1], c["sent_bytes"], s["recv_bytes"], s["sent_bytes"],
                             c["recv_bytes"]))
        for d in DIRS:
            # the receiver's record is the truth; its capture is the judge
            recv, receiver, sender = (s, "server", "client") if d == "c2s" else (c, "client", "server")
            truth = (recv["recv_bytes"], recv["recv_sha256"])
            info, why = session_dir(caps[receiver], k, use, nuses, d)
            ok = check(truth, info)
            sinfo, _ = session_dir(caps[sender], k, use, nuses, d)
            sok = check(truth, sinfo)
            if not sok:
                sender_bad += 1
            tf = ""
            for side in (receiver,):
                flows = tcpflow[side]
                if flows is None:
                    continue
                fk = k if d == "c2s" else (k[2], k[3], k[0], k[1])
                got = flows.get(fk, [(0, hashlib.sha256(b"").hexdigest())] * nuses)
                tf = "ok" if len(got) == nuses and got[use] == truth else "WRONG"
                if tf != "ok":
                    tcpflow_bad[side] += 1
            if ok:
                passed += 1
            else:
                failed += 1
            rows.append(dict(conn="%s:%d" % (k[0], k[1]), kind=c["kind"], close=c["close"],
                             dir=d, app=truth[0],
                             ours=info["bytes"] if info else "-",
                             missing=info["missing"] if info else "-",
                             gaps=info["gaps"] if info else "-",
                             stream=info["stream"] if info else "-",
                             end=info["end"] if info else "-",
                             sender="ok" if sok else "DIFF", tcpflow=tf,
                             result="ok" if ok else "FAIL", info=info, why=why, truth=truth))

    cols = [("conn", 22), ("kind", 5), ("close", 10), ("dir", 3), ("stream", 6), ("app", 9),
            ("ours", 9), ("missing", 7), ("gaps", 4), ("end", 7), ("sender", 6),
            ("tcpflow", 7), ("result", 6)]
    print("  ".join(n.ljust(w) if n in ("conn", "kind", "close", "dir", "end") else n.rjust(w)
                    for n, w in cols))
    for r in rows:
        print("  ".join(str(r[n]).ljust(w) if n in ("conn", "kind", "close", "dir", "end")
                        else str(r[n]).rjust(w) for n, w in cols))
    fails = [r for r in rows if r["result"] != "ok"]
    if fails:
        print("\nFailures (judged on the receiver's capture):")
        for r in fails:
            if r["info"] is None:
                print("  %s %s: %s" % (r["conn"], r["dir"], r["why"]))
                continue
            inf = r["info"]
            print("  %s %s (stream %s, %s, %s): app read %d bytes sha256 %s..; tcpsession "
                  "delivered %d bytes sha256 %s.., %d missing in %d gaps (first at offset %d), "
                  "dup_bytes %d, ooo_segments %d, conflicts %d, anomalies 0x%x, end %s%s" % (
                      r["conn"], r["dir"], inf["stream"], r["kind"], r["close"], r["truth"][0],
                      r["truth"][1][:16], inf["bytes"], inf["sha256"][:16], inf["missing"],
                      inf["gaps"], inf["first_gap"], inf["dup_bytes"], inf["ooo_segments"],
                      inf["conflicts"], inf["anomalies"], inf["end"],
                      ", roles swapped" if inf["swapped"] else ""))
    for n in notes:
        print("note: " + n)
    warnings = capture_warnings(outdir, capinfo)
    for w in warnings:
        print("WARNING: " + w)
    print("\nsender-side captures: %d of %d connection directions differ from what the "
          "receiver read (information)" % (sender_bad, len(rows)))
    if tcpflow["client"] is not None or tcpflow["server"] is not None:
        print("tcpflow on the receiver-side captures: %d of %d connection directions wrong "
              "(information)" % (tcpflow_bad["client"] + tcpflow_bad["server"], len(rows)))
    print("%d passed, %d failed" % (passed, failed))
    if failed and warnings:
        return 3
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
