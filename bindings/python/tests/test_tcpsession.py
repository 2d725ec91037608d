"""Tests of the tcpsession Python package (standard-library unittest).

Run through tests/run.sh (make test-python), which builds the extension
into build/ and puts it first on sys.path. Environment: TCPSESSION (the
command, for the comparisons with `tcpsession list --json` and
`extract`), TCPS_CORPUS (the shared capture corpus; its tests skip,
saying so, when it is absent)."""
import gc
import gzip
import hashlib
import io
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import traceback
import unittest
from decimal import Decimal

import tcpsession

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capgen  # noqa: E402

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
SAMPLE = os.path.join(TOP, "data", "sample.pcap")
SAMPLE_NG = os.path.join(TOP, "data", "sample.pcapng")
CLI = os.environ.get("TCPSESSION") or os.path.join(TOP, "build", "tcpsession")
CORPUS = os.environ.get("TCPS_CORPUS") or os.path.join(TOP, "..", "shared", "corpus")
if not os.path.isabs(CORPUS):
    CORPUS = os.path.join(TOP, CORPUS)


def cli_list(path):
    """The command's list --json, one dict per session (numbers exact)."""
    out = subprocess.run([CLI, "list", "--json", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    return [json.loads(line, parse_float=Decimal) for line in out.decode().splitlines() if line.strip()]


def as_list_record(s):
    """A Session as list --json has it, times as exact decimals."""
    d = s.to_dict()
    d["first_ts"] = Decimal(d["first_ts"])
    d["last_ts"] = Decimal(d["last_ts"])
    return d


def need_cli(test):
    if not os.access(CLI, os.X_OK):
        test.skipTest("the tcpsession command (%s) is not built" % CLI)


class Tmp(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tcps-py-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


# ----------------------------------------------------------- the samples

class TestSamples(unittest.TestCase):
    """data/sample.pcap and .pcapng: six sessions described in data/make_samples.c."""

    def test_sessions_of_the_sample(self):
        ss = sorted(tcpsession.open(SAMPLE), key=lambda s: s.stream)
        self.assertEqual([s.stream for s in ss], list(range(6)))
        # make_samples.c: 0, 1, 4 HTTP on IPv4; 2 IPv6 with a gap; 3 a reset; 5 picked up midway
        self.assertEqual(ss[0].client.ip, "192.168.1.10")
        self.assertEqual(ss[0].server, tcpsession.Endpoint("93.184.216.34", 80, 4))
        self.assertTrue(ss[0].c2s.startswith(b"GET "))
        self.assertTrue(ss[0].s2c.startswith(b"HTTP/1."))
        self.assertEqual(ss[2].client.version, 6)
        self.assertGreater(ss[2].s2c_missing, 0)
        self.assertEqual(sum(g.length for g in ss[2].gaps if g.direction == tcpsession.S2C), ss[2].s2c_missing)
        self.assertEqual(ss[3].end, "rst")
        self.assertEqual(ss[3].vlans, (42,))
        self.assertEqual((ss[4].client, ss[4].server), (ss[0].client, ss[0].server))
        self.assertEqual(ss[5].end, "eof")
        self.assertEqual(ss[5].handshake, 0)

    def test_pcapng_gives_the_same_sessions(self):
        a = sorted((s.stream, s.client, s.server, s.c2s, s.s2c, s.end) for s in tcpsession.open(SAMPLE))
        b = sorted((s.stream, s.client, s.server, s.c2s, s.s2c, s.end) for s in tcpsession.open(SAMPLE_NG))
        self.assertEqual(a, b)

    def test_chunks_rebuild_the_bytes_in_exchange_order(self):
        for s in tcpsession.open(SAMPLE):
            got = [b"", b""]
            last = [-1, -1]
            for c, data in s.exchange():
                self.assertEqual(len(data), c.length)
                self.assertEqual(c.position, len(got[c.direction]))
                self.assertGreater(c.offset, last[c.direction])
                last[c.direction] = c.offset
                got[c.direction] += data
                self.assertGreaterEqual(c.frame, s.first_frame)
                self.assertLessEqual(c.frame, s.last_frame)
                self.assertTrue(s.first_ts - 1e-6 <= c.timestamp <= s.last_ts + 1e-6)
            self.assertEqual(got, [s.c2s, s.s2c])
            self.assertEqual(len(s.c2s), s.c2s_bytes)
            self.assertEqual(s.stats(tcpsession.C2S).bytes, s.c2s_bytes)

    def test_frames_in_exchange_order_do_not_go_back(self):
        for s in tcpsession.open(SAMPLE):
            frames = [c.frame for c in s.chunks]
            self.assertEqual(frames, sorted(frames))

    def test_sha256_in_c_equals_hashlib(self):
        a = {s.stream: (s.c2s_sha256, s.s2c_sha256) for s in tcpsession.open(SAMPLE, data=False, sha256=True)}
        b = {s.stream: (hashlib.sha256(s.c2s).hexdigest(), hashlib.sha256(s.s2c).hexdigest())
             for s in tcpsession.open(SAMPLE)}
        self.assertEqual(a, b)

    def test_data_false_keeps_no_bytes(self):
        s = next(iter(tcpsession.open(SAMPLE, data=False, chunks=False)))
        self.assertGreater(s.c2s_bytes, 0)
        with self.assertRaises(ValueError):
            s.c2s
        with self.assertRaises(ValueError):
            s.chunks

    def test_release_frees_the_bytes(self):
        with next(iter(tcpsession.open(SAMPLE))) as s:
            self.assertTrue(s.c2s)
        with self.assertRaises(ValueError):
            s.c2s
        self.assertGreater(s.c2s_bytes, 0)  # the counts stay

    def test_to_json_is_the_list_line(self):
        need_cli(self)
        for path in (SAMPLE, SAMPLE_NG):
            out = subprocess.run([CLI, "list", "--json", path], stdout=subprocess.PIPE, check=True).stdout.decode()
            for kw in (dict(sha256=True, data=False), dict()):  # hashed in C, or here from the kept bytes
                got = sorted(tcpsession.open(path, **kw), key=lambda s: s.stream)
                self.assertEqual("".join(s.to_json() + "\n" for s in got), out)

    def test_same_as_list_json(self):
        need_cli(self)
        for path in (SAMPLE, SAMPLE_NG):
            want = cli_list(path)
            got = sorted((as_list_record(s) for s in tcpsession.open(path, data=False, sha256=True)),
                         key=lambda d: d["stream"])
            self.assertEqual(got, want)

    def test_context_manager_and_stats(self):
        with tcpsession.open(SAMPLE) as r:
            n = sum(1 for _ in r)
            st = r.stats
        self.assertEqual(n, 6)
        self.assertEqual(st["sessions"], 6)
        self.assertEqual(st["closed_fin"] + st["closed_rst"] + st["closed_eof"], 6)

    def test_early_close_is_clean(self):
        r = tcpsession.open(SAMPLE)
        s = next(r)
        r.close()
        self.assertEqual(list(r), [])
        self.assertTrue(s.c2s or s.s2c)  # a session already given stays valid

    def test_options(self):
        # separate_vlans changes nothing here (one VLAN per session) but must be accepted
        self.assertEqual(len(list(tcpsession.open(SAMPLE, separate_vlans=True))), 6)
        with self.assertRaises(TypeError):
            tcpsession.open(SAMPLE, no_such_option=True)

    def test_version_and_constants(self):
        self.assertEqual(tcpsession.version(), tcpsession.__version__)
        self.assertRegex(tcpsession.version(), r"^\d+\.\d+\.\d+$")
        self.assertEqual(tcpsession.core.TCPS_E_TRUNCATED, -11)
        self.assertEqual(tcpsession.core.tcps_result_name(-11), "TCPS_E_TRUNCATED")

    def test_stub_lists_the_public_names(self):
        stub = os.path.join(os.path.dirname(tcpsession.__file__), "__init__.pyi")
        self.assertTrue(os.path.exists(stub), stub)
        text = open(stub).read()
        for name in tcpsession.__all__:
            self.assertRegex(text, r"(?m)^(def |class )?%s\b" % name, name)


# ---------------------------------------------------------- file objects

class TestSources(unittest.TestCase):
    def key(self, sessions):
        return sorted((s.stream, s.c2s, s.s2c, s.end) for s in sessions)

    def setUp(self):
        self.want = self.key(tcpsession.open(SAMPLE))
        with open(SAMPLE, "rb") as f:
            self.raw = f.read()

    def test_binary_file(self):
        with open(SAMPLE_NG, "rb") as f:
            self.assertEqual(self.key(tcpsession.open(f)), self.want)

    def test_bytesio(self):
        self.assertEqual(self.key(tcpsession.open(io.BytesIO(self.raw))), self.want)

    def test_gzip_file_object(self):
        self.assertEqual(self.key(tcpsession.open(gzip.GzipFile(fileobj=io.BytesIO(gzip.compress(self.raw))))),
                         self.want)

    def test_read_only_object(self):
        class Reader:  # only read(), in small pieces
            def __init__(self, b):
                self.b, self.i = b, 0

            def read(self, n):
                n = min(n, 7)
                out = self.b[self.i:self.i + n]
                self.i += len(out)
                return out
        self.assertEqual(self.key(tcpsession.open(Reader(self.raw))), self.want)

    def test_bytes_and_bytearray(self):
        self.assertEqual(self.key(tcpsession.open(self.raw)), self.want)
        self.assertEqual(self.key(tcpsession.open(bytearray(self.raw))), self.want)

    def test_pathlike(self):
        import pathlib
        self.assertEqual(self.key(tcpsession.open(pathlib.Path(SAMPLE))), self.want)

    def test_a_name_that_is_no_utf8(self):
        # as os.listdir gives it: the undecodable byte as a surrogate (a bytes
        # object would be the capture itself, not its name)
        d = tempfile.mkdtemp(prefix="tcps-py-name-")
        try:
            raw = os.path.join(os.fsencode(d), b"caf\xe9.pcap")
            with open(raw, "wb") as f:
                f.write(self.raw)
            self.assertEqual(self.key(tcpsession.open(os.fsdecode(raw))), self.want)
            closed = []
            with tcpsession.Reassembler(on_close=lambda s: closed.append((s.stream, s.c2s_bytes))) as r:
                r.feed_capture(os.fsdecode(raw))
            self.assertEqual(sorted(closed), sorted((s.stream, len(s.c2s)) for s in tcpsession.open(SAMPLE)))
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_missing_file(self):
        with self.assertRaises(FileNotFoundError):
            tcpsession.open(os.path.join(TOP, "no-such.pcap"))

    def test_exception_of_the_file_object_comes_back(self):
        class Broken(io.RawIOBase):
            def __init__(self, b):
                self.b = b
                self.calls = 0

            def readable(self):
                return True

            def readinto(self, buf):
                self.calls += 1
                if self.calls > 1:
                    raise OSError(5, "disk on fire")
                n = min(len(buf), 100)
                buf[:n] = self.b[:n]
                return n
        with self.assertRaises(OSError) as cm:
            list(tcpsession.open(Broken(self.raw)))
        self.assertEqual(str(cm.exception), "[Errno 5] disk on fire")

    def test_wrong_type(self):
        with self.assertRaises(TypeError):
            tcpsession.open(12)


# ---------------------------------------------------------------- errors

def record_offsets(raw):
    """Offsets of the records of a pcap (read here, not by the library)."""
    offs, i = [], 24
    endian = "<" if raw[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    while i + 16 <= len(raw):
        incl = struct.unpack(endian + "I", raw[i + 8:i + 12])[0]
        offs.append(i)
        i += 16 + incl
    return offs


class TestErrors(unittest.TestCase):
    def setUp(self):
        with open(SAMPLE, "rb") as f:
            self.raw = f.read()

    def test_truncated_capture(self):
        offs = record_offsets(self.raw)
        cut = offs[40] + 20  # inside record 41
        r = tcpsession.open(self.raw[:cut])
        got = []
        with self.assertRaises(tcpsession.TruncatedError) as cm:
            for s in r:
                got.append(s)
        e = cm.exception
        self.assertIsInstance(e, tcpsession.CaptureError)
        self.assertIsInstance(e, tcpsession.Error)
        self.assertEqual(e.code, tcpsession.core.TCPS_E_TRUNCATED)
        self.assertEqual(e.name, "TCPS_E_TRUNCATED")
        self.assertEqual(e.offset, offs[40])
        self.assertIn("at byte %d" % offs[40], str(e))
        # every session that had packets before the cut was delivered
        self.assertGreaterEqual(len(got), 4)
        full = {s.stream: s for s in tcpsession.open(SAMPLE)}
        for s in got:
            if s.end != "eof":
                self.assertEqual((s.c2s, s.s2c), (full[s.stream].c2s, full[s.stream].s2c))

    def test_truncated_not_strict(self):
        offs = record_offsets(self.raw)
        r = tcpsession.open(self.raw[:offs[10] + 3], strict=False)
        n = sum(1 for _ in r)
        self.assertGreaterEqual(n, 1)
        self.assertIsInstance(r.error, tcpsession.TruncatedError)
        self.assertEqual(r.error.offset, offs[10])

    def test_not_a_capture(self):
        with self.assertRaises(tcpsession.NotACaptureError) as cm:
            list(tcpsession.open(b"this is not a capture, it is some text\n" * 4))
        self.assertEqual(cm.exception.code, tcpsession.core.TCPS_E_FORMAT)
        self.assertEqual(cm.exception.offset, 0)

    def test_not_a_capture_file(self):
        path = os.path.join(TOP, "README.md")
        with self.assertRaises(tcpsession.NotACaptureError):
            list(tcpsession.open(path))

    def test_empty_input(self):
        with self.assertRaises(tcpsession.Error):
            list(tcpsession.open(b""))

    def test_reassembler_feed_capture_error(self):
        seen = []
        offs = record_offsets(self.raw)
        r = tcpsession.Reassembler(on_close=seen.append, keep_data=True)
        with self.assertRaises(tcpsession.TruncatedError) as cm:
            r.feed_capture(self.raw[:offs[30] + 5])
        self.assertEqual(cm.exception.offset, offs[30])
        self.assertEqual(seen, [])  # nothing closed yet: the FINs linger, finish() was not called
        r.finish()
        full = {s.stream: s for s in tcpsession.open(SAMPLE)}
        self.assertEqual(seen[0].stream, 0)  # session 0 ended before the cut: all of it is there
        self.assertEqual((seen[0].c2s, seen[0].s2c), (full[0].c2s, full[0].s2c))
        r.close()


# ------------------------------------------------------------ callbacks

class TestReassembler(unittest.TestCase):
    def test_same_as_open(self):
        data, closed = {}, []

        def on_data(session, direction, chunk, offset, ts, frame):
            data.setdefault((session.stream, direction), []).append(chunk)

        with tcpsession.Reassembler(on_data=on_data, on_close=closed.append) as r:
            r.feed_capture(SAMPLE)
        want = {s.stream: s for s in tcpsession.open(SAMPLE)}
        self.assertEqual(sorted(s.stream for s in closed), sorted(want))
        for s in closed:
            self.assertEqual(s.end, want[s.stream].end)
            self.assertEqual(b"".join(data.get((s.stream, 0), [])), want[s.stream].c2s)
            self.assertEqual(b"".join(data.get((s.stream, 1), [])), want[s.stream].s2c)

    def test_same_session_object_for_every_event(self):
        objs = {}

        def on_data(session, *a):
            objs.setdefault(session.stream, set()).add(id(session))
            self.assertFalse(session.closed)

        def on_close(session):
            objs[session.stream].add(id(session)) if session.stream in objs else None
            self.assertTrue(session.closed)

        with tcpsession.Reassembler(on_data=on_data, on_close=on_close) as r:
            r.feed_capture(SAMPLE)
        self.assertTrue(objs)
        for ids in objs.values():
            self.assertEqual(len(ids), 1)

    def test_gaps(self):
        gaps = []
        with tcpsession.Reassembler(on_gap=lambda *a: gaps.append(a[1:])) as r:
            r.feed_capture(SAMPLE_NG)
        full = [s for s in tcpsession.open(SAMPLE_NG) if s.gaps]
        self.assertEqual(len(gaps), sum(len(s.gaps) for s in full))
        self.assertEqual(gaps[0][0], tcpsession.S2C)

    def test_feed_packets_equals_feed_capture(self):
        pkts = []
        with open(SAMPLE, "rb") as f:
            raw = f.read()
        for off in record_offsets(raw):
            sec, usec, incl, _ = struct.unpack("<IIII", raw[off:off + 16])
            pkts.append(((sec, usec * 1000), raw[off + 16:off + 16 + incl]))
        a, b = [], []
        with tcpsession.Reassembler(on_close=a.append, keep_data=True) as r:
            r.feed_packets(iter(pkts))
        with tcpsession.Reassembler(on_close=b.append, keep_data=True) as r:
            r.feed_capture(SAMPLE)
        key = lambda ss: sorted((s.stream, s.c2s, s.s2c, s.end, s.first_time, s.packets) for s in ss)
        self.assertEqual(key(a), key(b))
        # floats are accepted as times too, one packet at a time
        c = []
        with tcpsession.Reassembler(on_close=c.append, keep_data=True) as r:
            for (sec, nsec), fr in pkts:
                r.feed_packet(sec + nsec / 1e9, fr)
        key2 = lambda ss: sorted((s.stream, s.c2s, s.s2c, s.end, s.packets) for s in ss)
        self.assertEqual(key2(c), key2(b))
        for x, y in zip(sorted(c, key=lambda s: s.stream), sorted(b, key=lambda s: s.stream)):
            self.assertAlmostEqual(x.first_ts, y.first_ts, delta=1e-6)  # a double holds ~0.2 us at 1.7e9 s

    def test_exception_in_callback_stops_and_comes_back(self):
        calls = []

        class Boom(Exception):
            pass

        def on_data(session, direction, data, offset, ts, frame):
            calls.append(offset)
            raise Boom("bad data at %d" % offset)

        r = tcpsession.Reassembler(on_data=on_data)
        caught = None
        try:  # not assertRaises: it drops the traceback
            r.feed_capture(SAMPLE)
        except Boom as e:
            caught = e
        self.assertIsNotNone(caught)
        self.assertEqual(len(calls), 1)  # feeding stopped at once
        tb = "".join(traceback.format_tb(caught.__traceback__))
        self.assertIn("on_data", tb)  # the callback's own frame is in the traceback
        self.assertIn("raise Boom", tb)
        r.close()

    def test_exception_in_on_close_from_finish(self):
        def on_close(session):
            raise KeyError(session.stream)

        r = tcpsession.Reassembler(on_close=on_close)
        with open(SAMPLE, "rb") as f:
            data = f.read()
        offs = record_offsets(data)
        # the first records only: sessions are still open, finish closes them
        try:
            r.feed_capture(data[:offs[5]])
        except tcpsession.Error:
            pass
        with self.assertRaises(KeyError):
            r.finish()
        r.close()

    def test_exception_in_feed_packets(self):
        def on_open(session):
            raise ZeroDivisionError("open")
        r = tcpsession.Reassembler(on_open=on_open)
        with open(SAMPLE, "rb") as f:
            raw = f.read()
        offs = record_offsets(raw)
        fed = []

        def pkts():
            for off in offs:
                sec, usec, incl, _ = struct.unpack("<IIII", raw[off:off + 16])
                fed.append(off)
                yield (sec, usec * 1000), raw[off + 16:off + 16 + incl]
        with self.assertRaises(ZeroDivisionError):
            r.feed_packets(pkts())
        self.assertEqual(len(fed), 1)  # the first packet opened a session; nothing more was read
        r.close()

    def test_a_raise_loses_nothing_when_fed_again(self):
        """A callable that raises at every k-th event, the same packets fed
        again after each exception and finish() called until it returns:
        the callables see exactly the events of an uninterrupted run."""
        with open(SAMPLE, "rb") as f:
            raw = f.read()
        offs = record_offsets(raw)

        def packets():
            for off in offs:
                sec, usec, incl, _ = struct.unpack("<IIII", raw[off:off + 16])
                yield (sec, usec * 1000), raw[off + 16:off + 16 + incl]

        def run(k):
            log, n = [], [0]

            class Stop(Exception):
                pass

            def note(*event):
                log.append(event)
                n[0] += 1
                if k and n[0] % k == 0:
                    raise Stop()
            r = tcpsession.Reassembler(
                on_open=lambda s: note("open", s.stream),
                on_data=lambda s, d, data, off, ts, fr: note("data", s.stream, d, off, bytes(data), fr),
                on_gap=lambda s, d, off, length, reason: note("gap", s.stream, d, off, length, reason),
                on_close=lambda s: note("close", s.stream, s.end, s.c2s_bytes, s.s2c_bytes))
            it, stops = packets(), 0
            for step in (lambda: r.feed_packets(it), r.finish):
                while True:
                    try:
                        step()
                        break
                    except Stop:
                        stops += 1
            r.close()
            return log, stops

        want, _ = run(0)
        self.assertGreater(len(want), 20)
        for k in (1, 2, 3, 7):
            got, stops = run(k)
            self.assertEqual(stops, len(want) // k)
            self.assertEqual(got, want, "raising at every %d-th event" % k)

    def test_context_manager_does_not_finish_on_exception(self):
        closed = []
        with self.assertRaises(RuntimeError):
            with tcpsession.Reassembler(on_close=closed.append) as r:
                with open(SAMPLE, "rb") as f:
                    raw = f.read()
                r.feed_capture(raw[:record_offsets(raw)[10]])  # sessions open, none ended yet
                raise RuntimeError("leave")
        self.assertEqual(closed, [])

    def test_reentry_from_a_callback_is_refused(self):
        r = None

        def on_data(session, *a):
            r.close()  # would free the engine under the running call

        r = tcpsession.Reassembler(on_data=on_data)
        with self.assertRaises(RuntimeError):
            r.feed_capture(SAMPLE)
        r.close()  # now it may
        r2 = None

        def on_open(session):
            r2.feed_capture(SAMPLE)

        r2 = tcpsession.Reassembler(on_open=on_open)
        with self.assertRaises(RuntimeError):
            r2.feed_capture(SAMPLE)
        r2.close()

    def test_bad_packets(self):
        r = tcpsession.Reassembler()
        with self.assertRaises(TypeError):
            r.feed_packets([b"not a pair"])
        r.feed_packets([(0.0, b"\x00" * 10)])  # a runt frame is counted, not an error
        self.assertEqual(r.stats["packets"], 1)
        r.close()


# --------------------------------------------------------- the corpus

class TestCorpus(unittest.TestCase):
    def test_identical_to_list_json_on_every_capture(self):
        need_cli(self)
        ref = os.path.join(CORPUS, "reference-files.tsv")
        if not os.path.exists(ref):
            self.skipTest("SKIPPED: no corpus at %s (TCPS_CORPUS)" % CORPUS)
        files = [line.split("\t")[0] for line in open(ref).read().splitlines()[1:] if line.strip()]
        self.assertGreater(len(files), 100)
        compared = sessions = 0
        for rel in files:
            path = os.path.join(CORPUS, rel)
            if not os.path.exists(path):
                continue
            text = subprocess.run([CLI, "list", "--json", path], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL).stdout.decode()
            want = [json.loads(line, parse_float=Decimal) for line in text.splitlines()]
            got, lines = [], []
            try:
                for s in tcpsession.open(path, data=False, chunks=False, sha256=True):
                    got.append(as_list_record(s))
                    lines.append((s.stream, s.to_json() + "\n"))
            except tcpsession.Error:
                pass  # a broken capture: the sessions before the fault are what list prints too
            got.sort(key=lambda d: d["stream"])
            with self.subTest(capture=rel):
                self.assertEqual(got, want)  # every field, as values
                self.assertEqual("".join(l for _, l in sorted(lines)), text)  # and as text
            compared += 1
            sessions += len(want)
        print("\n  corpus: %d captures, %d sessions compared with tcpsession list --json" % (compared, sessions),
              file=sys.stderr)
        self.assertGreater(compared, 100)

    def test_bytes_hash_as_list_says_on_the_corpus(self):
        """The kept bytes (data=True), hashed here, against the command's sha256."""
        need_cli(self)
        ref = os.path.join(CORPUS, "reference-files.tsv")
        if not os.path.exists(ref):
            self.skipTest("SKIPPED: no corpus at %s (TCPS_CORPUS)" % CORPUS)
        files = [line.split("\t")[0] for line in open(ref).read().splitlines()[1:] if line.strip()]
        n = 0
        for rel in files[::7]:
            path = os.path.join(CORPUS, rel)
            want = {d["stream"]: (d["c2s_sha256"], d["s2c_sha256"]) for d in cli_list(path)}
            got = {}
            try:
                with open(path, "rb") as f:  # and through a file object
                    for s in tcpsession.open(f):
                        got[s.stream] = (hashlib.sha256(s.c2s).hexdigest(), hashlib.sha256(s.s2c).hexdigest())
            except tcpsession.Error:
                pass
            with self.subTest(capture=rel):
                self.assertEqual(got, want)
            n += 1
        self.assertGreater(n, 10)


# -------------------------------------------- many sessions, memory, threads

class TestScale(Tmp):
    N = 100000

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="tcps-py-big-")
        cls.big = os.path.join(cls.dir, "sessions.pcap")
        capgen.write_sessions(cls.big, cls.N)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_100000_sessions_without_memory_growth(self):
        gc.collect()
        tracemalloc.start()
        n = bad = 0
        rss_mark = None
        for s in tcpsession.open(self.big):
            req, rep = capgen.request_reply(s.stream)
            if s.c2s != req or s.s2c != rep or s.end != "fin":
                bad += 1
            n += 1
            if n == 10000:
                tracemalloc.reset_peak()
                rss_mark = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_end = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.assertEqual(n, self.N)
        self.assertEqual(bad, 0)
        # Python-side memory stays flat after the first 10,000 sessions ...
        self.assertLess(peak, 2 << 20, "tracemalloc peak %d bytes" % peak)
        # ... and so does the process (C buffers included): 90,000 more sessions
        # with their bytes and chunk lists would be tens of MB if any were kept
        self.assertLess(rss_end - rss_mark, 16 * 1024, "ru_maxrss grew by %d KiB" % (rss_end - rss_mark))

    def test_two_threads_two_captures(self):
        def summary(path):
            return [(s.stream, s.c2s_bytes, s.s2c_bytes, s.c2s_sha256, s.s2c_sha256, s.end)
                    for s in tcpsession.open(path, data=False, chunks=False, sha256=True)]

        want_big, want_small = summary(self.big), summary(SAMPLE_NG)
        results, errors = {}, []

        def work(name, path):
            try:
                results[name] = summary(path)
            except BaseException as e:  # reported below
                errors.append(e)

        ts = [threading.Thread(target=work, args=("a", self.big)), threading.Thread(target=work, args=("b", self.big)),
              threading.Thread(target=work, args=("c", SAMPLE_NG))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(results["a"], want_big)
        self.assertEqual(results["b"], want_big)
        self.assertEqual(results["c"], want_small)

    def test_python_runs_while_c_reads(self):
        """The GIL is released while C works: another thread makes progress
        inside the time one feed_capture call (no callbacks: one C call for
        the whole capture) is running. Ordering, not speed, is checked."""
        state = {}

        def reader():
            r = tcpsession.Reassembler()
            state["calling"] = time.perf_counter()
            r.feed_capture(self.big)
            state["returned"] = time.perf_counter()
            r.close()

        t = threading.Thread(target=reader)
        marks = []
        t.start()
        while "returned" not in state:
            marks.append(time.perf_counter())
            for _ in range(200):
                pass
        t.join()
        lo, hi = state["calling"], state["returned"]
        if hi - lo < 0.1:
            self.skipTest("the C call was too short to tell (%.3f s)" % (hi - lo))
        # in the middle half of the call: with the GIL held, the other thread
        # could only run for a switch interval (5 ms) at each end (the call
        # lets go briefly while opening the file; the caller's bytecode after
        # it lets go before "returned" is set)
        a, b = lo + (hi - lo) / 4, hi - (hi - lo) / 4
        inside = sum(1 for m in marks if a < m < b)
        self.assertGreater(inside, 0, "no Python ran in the middle of %.3f s of C" % (hi - lo))

    def test_a_signal_stops_a_long_run(self):
        """Ctrl-C during a long C call: the handler's exception stops the feeding."""
        import signal

        class Alarm(Exception):
            pass

        def handler(signum, frame):
            raise Alarm()

        old = signal.signal(signal.SIGALRM, handler)
        r = tcpsession.Reassembler()
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            with self.assertRaises(Alarm):
                r.feed_capture(self.big)
                time.sleep(5)  # finished before the alarm: it comes here instead
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        fed = r.stats["packets"]
        r.close()
        self.assertLess(fed, self.N * 8, "the whole capture was fed: the alarm came after")

    def test_threads_with_callbacks(self):
        totals = {}

        def work(name):
            count = [0]

            def on_data(session, direction, data, offset, ts, frame):
                count[0] += len(data)
            with tcpsession.Reassembler(on_data=on_data) as r:
                r.feed_capture(self.big)
            totals[name] = count[0]

        ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        want = sum(len(a) + len(b) for a, b in (capgen.request_reply(n) for n in range(self.N)))
        self.assertEqual(totals, {0: want, 1: want})


# ------------------------------------------------------ the old surface

class TestTCPSessions(Tmp):
    def test_counts_and_tuples(self):
        t = tcpsession.TCPSessions(SAMPLE)
        t.process_pcap()
        self.assertEqual(t.get_total_session_count(), 6)
        ss = t.get_all_sessions()
        self.assertEqual([s.stream for s in ss], list(range(6)))
        tuples = t.get_unique_network_tuples()
        self.assertEqual(len(tuples), 5)  # session 4 reuses session 0's 4-tuple
        nt = ss[0].network_tuple()
        self.assertEqual(nt, tcpsession.NetworkTuple("192.168.1.10", "93.184.216.34", 51000, 80, 6))
        self.assertEqual(t.get_session_count(nt), 2)
        self.assertEqual(t.get_session_count(repr(nt)), 2)
        self.assertEqual(t.get_session_count(ss[3].network_tuple()), 1)
        self.assertEqual([s.stream for s in t.get_sessions(nt)], [0, 4])

    def test_process_pkts(self):
        with open(SAMPLE, "rb") as f:
            raw = f.read()
        pkts = []
        for off in record_offsets(raw):
            sec, usec, incl, _ = struct.unpack("<IIII", raw[off:off + 16])
            pkts.append((sec + usec / 1e6, raw[off + 16:off + 16 + incl]))
        a = tcpsession.TCPSessions(SAMPLE)
        a.process_pcap()
        b = tcpsession.TCPSessions("")
        b.process_pkts(pkts)
        key = lambda t: [(s.stream, s.c2s, s.s2c, s.end, s.packets) for s in t.get_all_sessions()]
        self.assertEqual(key(a), key(b))
        self.assertEqual(a.get_unique_network_tuples(), b.get_unique_network_tuples())

    def test_dump_all_sessions_is_what_extract_writes(self):
        need_cli(self)
        mine, theirs = os.path.join(self.tmp, "py"), os.path.join(self.tmp, "cli")
        t = tcpsession.TCPSessions(SAMPLE)
        t.process_pcap()
        t.dump_all_sessions(mine)
        subprocess.run([CLI, "extract", "-o", theirs, SAMPLE], check=True, stderr=subprocess.DEVNULL)
        folder = t.session_dirs(mine)
        self.assertTrue(os.path.isdir(folder), folder)
        n = 0
        for s in t.get_all_sessions():
            rel = os.path.join(os.path.basename(folder), str(s.stream), "%d.json" % s.stream)
            with open(os.path.join(mine, rel), "rb") as f:
                a = f.read()
            with open(os.path.join(theirs, rel), "rb") as f:
                b = f.read()
            self.assertEqual(a, b, rel)
            d = json.loads(a)
            # and it describes the session the Python object describes
            self.assertEqual((d["stream"], d["c2s_bytes"], d["s2c_bytes"], d["end"]),
                             (s.stream, s.c2s_bytes, s.s2c_bytes, s.end))
            self.assertEqual(d["c2s_sha256"], hashlib.sha256(s.c2s).hexdigest())
            # extract's "frame" is the packet that carried the bytes ("released_by" the one that freed them)
            self.assertEqual([c["frame"] for c in d["exchange"]], [c.data_frame for c in s.chunks])
            self.assertEqual([c.get("released_by", c["frame"]) for c in d["exchange"]], [c.frame for c in s.chunks])
            n += 1
        self.assertEqual(n, 6)

    def test_dump_after_process_pkts(self):
        with open(SAMPLE, "rb") as f:
            raw = f.read()
        pkts = []
        for off in record_offsets(raw):
            sec, usec, incl, _ = struct.unpack("<IIII", raw[off:off + 16])
            pkts.append(((sec + usec / 1e6, 0), raw[off + 16:off + 16 + incl]))  # (ts, frame) pairs too
        t = tcpsession.TCPSessions("")
        t.process_pkts(pkts)
        out = os.path.join(self.tmp, "o")
        t.dump_all_sessions(out)
        files = sorted(os.listdir(os.path.join(out, "packets.pcap")))
        self.assertIn("index.json", files)
        for n in range(6):
            self.assertIn(str(n), files)

    def test_dump_error(self):
        t = tcpsession.TCPSessions(SAMPLE)
        t.process_pcap()
        blocker = os.path.join(self.tmp, "file")
        open(blocker, "w").close()
        with self.assertRaises(tcpsession.Error):
            t.dump_all_sessions(blocker)  # not a directory


if __name__ == "__main__":
    unittest.main()
