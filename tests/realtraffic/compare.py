#!/usr/bin/env python3
"""Compare what the applications received with what tcpsession delivered.

  compare.py [--min-reuse N] DIR

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

Many connections may use one 4-tuple in turn, so the 4-tuple alone does not
say which session is which connection:

- the client's and the server's records of a connection are paired by
  4-tuple and the seed the connection's header carried (different for every
  connection); those the server read no header on (empty connections) in
  order of use (the client's order of connect(), the server's of accept());
- on one 4-tuple, connection j's SYN left after connection j-1 was connected
  (the 4-tuple was free only once j-1 had been used and closed) and before
  connection j was connected (the client records that time), so its session
  in either capture is the one that starts between those two times. If
  several do, the last that saw the client's SYN (an earlier one is a SYN
  the peer refused); a connection that has none fails.

Sessions of a capture that no connection took are listed; those that
delivered bytes in the direction that capture judges fail (bytes no
application received). With --min-reuse N the run also fails (counted as one
failure) unless at least N connections used a 4-tuple an earlier
connection had used: the reuse profile must keep testing reuse.
"""
import argparse
import hashlib
import json
import os
import sys
import xml.etree.ElementTree as ET

DIRS = ("c2s", "s2c")
TABLE_MAX = 400  # rows of the table printed in full


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
    """4-tuple (client first) -> [(session, swapped)] in stream order (the
    order of their first packets)."""
    idx = {}
    for s in sorted(sessions, key=lambda s: s["stream"]):
        k = key(s["client"], s["cport"], s["server"], s["sport"])
        idx.setdefault(k, []).append((s, False))
        # a session whose SYN was never seen may have the roles swapped
        r = key(s["server"], s["sport"], s["client"], s["cport"])
        idx.setdefault(r, []).append((s, True))
    return idx


def assign_sessions(idx, uses):
    """For each connection (client record id): (session, swapped) of this
    capture, or None. uses: 4-tuple -> client records in order of use."""
    out = {}
    for k, conns in uses.items():
        found = idx.get(k, [])
        after = float("-inf")
        for c in conns:
            before = c["connected"]
            cand = [x for x in found if after < x[0]["first_ts"] <= before]
            # the client's SYN seen: handshake bit 1 of a session not swapped
            syn = [x for x in cand if not x[1] and x[0]["handshake"] & 1]
            out[c["id"]] = (syn or cand)[-1] if cand else None
            after = before
    return out


def session_dir(found, d):
    """Direction d of a connection's session found by assign_sessions:
    (info, None) or (None, why)."""
    if found is None:
        return None, "no session in the capture"
    s, swapped = found
    sd = s[{"c2s": "s2c", "s2c": "c2s"}[d] if swapped else d]
    info = dict(stream=s["stream"], end=s["end"], swapped=swapped, **sd)
    return info, None


def pair_records(uses, servers):
    """client record id -> the server's record of the same connection; and
    the server records no client record pairs with."""
    srv = {}
    for r in sorted(servers, key=lambda r: r["order"]):
        srv.setdefault(key(r["client"], r["cport"], r["server"], r["sport"]), []).append(r)
    pairs, unpaired = {}, []
    for k, recs in srv.items():
        conns = uses.get(k, [])
        by_seed = {r["seed"]: r for r in recs if r["seed"] is not None}
        rest_c = []
        for c in conns:
            r = by_seed.pop(c["seed"], None)
            if r is not None:
                pairs[c["id"]] = r
            else:
                rest_c.append(c)
        # no header read: in order of use, when the numbers agree
        rest_s = [r for r in recs if r["seed"] is None]
        if len(rest_c) == len(rest_s):
            pairs.update((c["id"], r) for c, r in zip(rest_c, rest_s))
        else:
            unpaired += rest_s
        unpaired += by_seed.values()
    return pairs, unpaired


def first_closer(r):
    """Who ended a connection first, from the client's record: the side left
    in TIME_WAIT after a FIN, or none after a RST."""
    if r["close"].startswith("rst"):
        return "rst"
    if r["close"] == "fin-server" or (r["kind"] == "down" and r["close"] == "fin"):
        return "fin-server-first"
    return "fin-client-first"


def reuse_report(uses, client_sessions):
    """Lines about 4-tuple reuse and the count of connections that used a
    4-tuple used before."""
    reused = sum(len(v) - 1 for v in uses.values())
    most = max((len(v) for v in uses.values()), default=0)
    after = {}
    near = {"c2s": 0, "s2c": 0}
    pairs = 0
    for k, conns in uses.items():
        for prev, c in zip(conns, conns[1:]):
            how = first_closer(prev)
            after[how] = after.get(how, 0) + 1
            a, b = client_sessions.get(prev["id"]), client_sessions.get(c["id"])
            if a is None or b is None or a[1] or b[1]:
                continue
            # the new connection's first sequence numbers, from the previous
            # one's: Linux often picks them just above (TIME_WAIT reuse:
            # the old next sequence number plus 64 KB)
            pairs += 1
            for d in near:
                if (b[0][d]["isn"] - a[0][d]["isn"]) % (1 << 32) < (1 << 20):
                    near[d] += 1
    lines = ["reuse: %d of %d connections used a 4-tuple an earlier one had used (%d 4-tuples, "
             "up to %d connections on one)" % (reused, sum(len(v) for v in uses.values()),
                                              len(uses), most)]
    if reused:
        lines.append("reuse: the previous connection on the 4-tuple ended with %s" % ", ".join(
            "%s %d" % (h, n) for h, n in sorted(after.items())))
        lines.append("reuse: new ISN less than 1 MiB above the previous connection's, in the "
                     "%d reuses seen on the client capture: client's %d, server's %d"
                     % (pairs, near["c2s"], near["s2c"]))
    return reused, lines


def check(truth, info):
    return (info is not None and info["bytes"] == truth[0] and info["sha256"] == truth[1]
            and info["missing"] == 0)


# TCPS_ANOM_FIN_UNCERTAIN: the last sequence number the peer acknowledged
# may be a lost FIN or a lost byte, and the engine says it cannot tell
FIN_UNCERTAIN = 0x0800


def check_accounting(truth, info):
    """On a capture that lost packets the receiver got: what was delivered
    plus what was reported missing is exactly what the application read,
    but for the one sequence number a direction flagged fin_uncertain says
    may be a byte or a FIN."""
    if info is None:
        return False
    have = info["bytes"] + info["missing"]
    if info["anomalies"] & FIN_UNCERTAIN:
        return abs(have - truth[0]) <= 1
    return have == truth[0]


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
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--min-reuse", type=int, default=0)
    ap.add_argument("--thinned", action="store_true",
                    help="judge sessions-thinned-*.jsonl, made from the captures with packets "
                         "removed: every byte the application read must be delivered or reported "
                         "missing, and no more than that reported")
    ap.add_argument("dir")
    args = ap.parse_args()
    global check
    if args.thinned:
        check = check_accounting
    outdir = args.dir
    clients = load_jsonl(os.path.join(outdir, "client.jsonl"))
    servers = load_jsonl(os.path.join(outdir, "server.jsonl"))
    prefix = "sessions-thinned" if args.thinned else "sessions"
    sessions = {side: load_jsonl(os.path.join(outdir, "%s-%s.jsonl" % (prefix, side)))
                for side in ("client", "server")}
    tcpflow = {side: None if args.thinned else load_tcpflow(outdir, "tcpflow-" + side)
               for side in ("client", "server")}
    capinfo = {}
    try:
        with open(os.path.join(outdir, "capture.json")) as f:
            capinfo = json.load(f)
    except (OSError, ValueError):
        pass

    # connections by 4-tuple, in the order they used it
    uses = {}
    for r in sorted((r for r in clients if r["cport"] is not None), key=lambda r: r["connected"]):
        k = key(r["client"], r["cport"], r["server"], r["sport"])
        r["use"] = len(uses.setdefault(k, []))
        uses[k].append(r)
    pairs, unpaired = pair_records(uses, servers)
    found = {side: assign_sessions(index_sessions(sessions[side]), uses)
             for side in ("client", "server")}

    passed = failed = unjudged = 0
    notes = []
    sender_bad = 0
    tcpflow_bad = {"client": 0, "server": 0}
    rows = []
    conns = sorted(clients, key=lambda r: (r["cport"] is None, r["client"] or "", r["cport"] or 0,
                                           r["connected"] or 0))
    for c in conns:
        if c["cport"] is None:
            failed += 2
            notes.append("connection %d (%s) never connected: %s" % (c["id"], c["kind"],
                                                                     c["error"]))
            continue
        k = key(c["client"], c["cport"], c["server"], c["sport"])
        use, nuses = c["use"], len(uses[k])
        if args.thinned and nuses > 1:
            # a removed SYN leaves nothing to tell where one connection on
            # the 4-tuple ends and the next begins: not judged
            unjudged += 1
            continue
        s = pairs.get(c["id"])
        if s is None:
            failed += 2
            notes.append("%s:%d (use %d of %d, %s): the server has no record of this connection"
                         % (k[0], k[1], use + 1, nuses, c["kind"]))
            continue
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
            info, why = session_dir(found[receiver][c["id"]], d)
            ok = check(truth, info)
            sinfo, _ = session_dir(found[sender][c["id"]], d)
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
                             dir=d, app=truth[0], use="%d/%d" % (use + 1, nuses),
                             ours=info["bytes"] if info else "-",
                             missing=info["missing"] if info else "-",
                             gaps=info["gaps"] if info else "-",
                             stream=info["stream"] if info else "-",
                             end=info["end"] if info else "-",
                             sender="ok" if sok else "DIFF", tcpflow=tf,
                             result="ok" if ok else "FAIL", info=info, why=why, truth=truth))
    for r in unpaired:
        failed += 2
        notes.append("%s:%d: the server's connection number %d has no client record"
                     % (r["client"], r["cport"], r["order"]))

    # sessions no connection took; bytes in the direction a capture judges
    # are bytes no application received
    extras = []
    for side, d in (("server", "c2s"), ("client", "s2c")):
        taken = {x[0]["stream"] for x in found[side].values() if x is not None}
        for ses in sessions[side]:
            if ses["stream"] in taken:
                continue
            # as the connections see it: the session's client may be the server
            swapped = not ses["handshake"] & 1 and \
                key(ses["server"], ses["sport"], ses["client"], ses["cport"]) in uses
            sd = ses[{"c2s": "s2c", "s2c": "c2s"}[d] if swapped else d]
            # the connection that had the 4-tuple when the session began
            k = key(ses["client"], ses["cport"], ses["server"], ses["sport"])
            if swapped:
                k = (k[2], k[3], k[0], k[1])
            before = [c for c in uses.get(k, []) if c["connected"] <= ses["first_ts"]]
            during = "no use"
            if before:
                c = before[-1]
                during = "use %d/%d (%s, %s)" % (c["use"] + 1, len(uses[k]), c["kind"], c["close"])
            extras.append((side, d, ses, sd["bytes"], during))
            if sd["bytes"] and not (args.thinned and len(uses.get(k, [])) > 1):
                failed += 1

    cols = [("conn", 22), ("use", 7), ("kind", 5), ("close", 10), ("dir", 3), ("stream", 6),
            ("app", 9), ("ours", 9), ("missing", 7), ("gaps", 4), ("end", 7), ("sender", 6),
            ("tcpflow", 7), ("result", 6)]
    left = ("conn", "kind", "close", "dir", "end")

    def line(r):
        return "  ".join(str(r[n]).ljust(w) if n in left else str(r[n]).rjust(w) for n, w in cols)

    # the whole table goes to table.txt; printed too unless it is long
    # (then only its failed rows are)
    header = "  ".join(n.ljust(w) if n in left else n.rjust(w) for n, w in cols)
    with open(os.path.join(outdir, "table.txt"), "w") as f:
        f.write(header + "\n")
        for r in rows:
            f.write(line(r) + "\n")
    print(header)
    shown = rows if len(rows) <= TABLE_MAX else [r for r in rows if r["result"] != "ok"]
    for r in shown:
        print(line(r))
    if shown is not rows:
        print("(%d rows, %d shown: the failed ones; all in table.txt)" % (len(rows), len(shown)))
    fails = [r for r in rows if r["result"] != "ok"]
    if fails:
        print("\nFailures (judged on the receiver's capture):")
        for r in fails:
            if r["info"] is None:
                print("  %s %s (use %s, %s, %s): %s" % (r["conn"], r["dir"], r["use"], r["kind"],
                                                        r["close"], r["why"]))
                continue
            inf = r["info"]
            print("  %s %s (stream %s, use %s, %s, %s): app read %d bytes sha256 %s..; "
                  "tcpsession delivered %d bytes sha256 %s.., %d missing in %d gaps (first at "
                  "offset %d), dup_bytes %d, ooo_segments %d, conflicts %d, anomalies 0x%x, "
                  "end %s%s" % (
                      r["conn"], r["dir"], inf["stream"], r["use"], r["kind"], r["close"],
                      r["truth"][0], r["truth"][1][:16], inf["bytes"], inf["sha256"][:16],
                      inf["missing"], inf["gaps"], inf["first_gap"], inf["dup_bytes"],
                      inf["ooo_segments"], inf["conflicts"], inf["anomalies"], inf["end"],
                      ", roles swapped" if inf["swapped"] else ""))
    bad_extras = [x for x in extras if x[3]]
    if bad_extras:
        print("\nSessions no connection took that delivered bytes no application received:")
        for side, d, ses, n, during in bad_extras:
            print("  %s capture, stream %d (%s:%d -> %s:%d, first packet at %.6f, during %s "
                  "of the 4-tuple, %s, end %s): %d bytes %s" % (
                      side, ses["stream"], ses["client"], ses["cport"], ses["server"],
                      ses["sport"], ses["first_ts"], during,
                      "SYN seen" if ses["handshake"] & 1 else "no SYN seen", ses["end"], n, d))
    if extras:
        notes.append("%d session(s) in the captures no connection took (%d of them delivered "
                     "bytes)" % (len(extras), len(bad_extras)))
    if unjudged:
        notes.append("%d connection(s) on reused 4-tuples not judged with frames removed" % unjudged)
    for n in notes:
        print("note: " + n)
    warnings = capture_warnings(outdir, capinfo)
    for w in warnings:
        print("WARNING: " + w)
    reused, lines = reuse_report(uses, found["client"])
    waits = sum(c.get("port_waits", 0) for c in clients)
    if waits:
        lines.append("reuse: connect() found no free port %d times (the client waited and "
                     "tried again)" % waits)
    print()
    for ln in lines:
        print(ln)
    if reused < args.min_reuse:
        failed += 1
        print("FAILED: only %d connections used a 4-tuple used before, fewer than %d: this "
              "run did not test reuse" % (reused, args.min_reuse))
    print("sender-side captures: %d of %d connection directions differ from what the "
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
