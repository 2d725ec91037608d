"""TCP session reassembly from pcap and pcapng captures.

A thin layer over the C library tcpsession.h and its shared layer, through
the SWIG module ``tcpsession.core`` (made from bindings/tcpsession.i, the
interface the Lua module is made from too). Reading and reassembling run
in C with the GIL released; Python sees one object per session when the
session ends.

    import tcpsession

    for s in tcpsession.open("capture.pcap"):
        print(s.stream, s.client, s.server, len(s.c2s), len(s.s2c), s.end)

    def on_data(session, direction, data, offset, timestamp, frame):
        ...
    with tcpsession.Reassembler(on_data=on_data) as r:
        r.feed_capture("huge.pcapng")          # or r.feed_packets(...)

The old pure-Python TCPSession surface is :class:`TCPSessions`.
"""

import builtins as _builtins
import collections
import errno as _errno
import json
import math as _math
import os
import struct
import tempfile

from . import core as _core

__all__ = [
    "open", "Session", "Reassembler", "SessionReader", "TCPSessions", "NetworkTuple",
    "Endpoint", "Chunk", "Gap", "DirStats", "Error", "CaptureError", "NotACaptureError",
    "TruncatedError", "MalformedCaptureError", "LimitError", "C2S", "S2C", "version",
]

__version__ = _core.tcps_version()

C2S = 0  #: client to server
S2C = 1  #: server to client

END_NAMES = {v: _core.tcps_end_name(v) for v in range(_core.TCPS_END_LIST_END_)}
GAP_NAMES = {v: _core.tcps_gap_name(v) for v in range(1, _core.TCPS_GAP_LIST_END_)}
DIR_NAMES = ("c2s", "s2c")

#: Linktype of Ethernet frames (the default of feed_packets/process_pkts).
LINKTYPE_ETHERNET = 1


def version():
    """The C library's version string."""
    return _core.tcps_version()


# ----------------------------------------------------------------- errors

class Error(Exception):
    """An error of the C library.

    ``code`` is the library's result code (a negative int), ``name`` its
    name (``"TCPS_E_TRUNCATED"``), ``offset`` the byte offset in the capture
    where the problem was found (0 when not about the input) and ``message``
    what was wrong. Every session before the fault was delivered.
    """

    def __init__(self, code, offset=0, message=None, name=None):
        self.code = code
        self.offset = offset
        self.message = message or _core.tcps_result_message(code)
        self.name = name or _core.tcps_result_name(code)
        super().__init__("%s at byte %d (%s)" % (self.message, offset, self.name))


class CaptureError(Error):
    """The capture is malformed (any of the format codes, -10 to -19)."""


class NotACaptureError(CaptureError):
    """The input is not a pcap, pcapng or snoop capture (TCPS_E_FORMAT)."""


class TruncatedError(CaptureError):
    """The capture ends in the middle of a record (TCPS_E_TRUNCATED)."""


class MalformedCaptureError(CaptureError):
    """A header, block or record is malformed."""


class LimitError(Error):
    """A resource limit was reached (TCPS_E_LIMIT)."""


def _error_class(code):
    if code == _core.TCPS_E_FORMAT:
        return NotACaptureError
    if code == _core.TCPS_E_TRUNCATED:
        return TruncatedError
    if -19 <= code <= -10:
        return MalformedCaptureError
    if code == _core.TCPS_E_LIMIT:
        return LimitError
    return Error


def _raise(err):
    code, offset, message, name = err
    if code == _core.TCPS_E_NOMEM:
        raise MemoryError(message)
    raise _error_class(code)(code, offset, message, name)


# ------------------------------------------------------------ small types

Endpoint = collections.namedtuple("Endpoint", "ip port version")
Endpoint.__doc__ = "One side of a session: address text, port, IP version (4 or 6)."

Chunk = collections.namedtuple("Chunk", "direction offset length timestamp frame data_frame position")
Chunk.__doc__ = """Bytes delivered in one piece, in exchange order.

direction: C2S or S2C; offset: stream offset of the first byte (0 is the
first byte after the SYN); length; timestamp: capture time (float seconds)
of the packet that made the bytes deliverable, frame: its number (1-based,
as tshark counts); data_frame: the packet that carried them (differs for
out-of-order data); position: index of the first byte in session.c2s or
session.s2c."""

Gap = collections.namedtuple("Gap", "direction offset length reason timestamp frame")
Gap.__doc__ = """Bytes that will never come: direction, stream offset, length, reason
("acked", "close", "limit" or "truncated"), time and frame of the event."""

DirStats = collections.namedtuple(
    "DirStats", "bytes missing gaps packets payload_packets dup_bytes ooo_segments conflicts isn "
    "anomalies syn_options options mss wscale syn fin rst")
DirStats.__doc__ = "Counters of one direction (tcps_dir_stats); wscale is -1 when the SYN had none."

NetworkTuple = collections.namedtuple("NetworkTuple", "sip dip sp dp proto")
NetworkTuple.__doc__ = "Client address, server address, client port, server port, protocol (6)."


def _t(sec, nsec):
    return sec + nsec * 1e-9


# ---------------------------------------------------------------- Session

_KEEP_DATA, _KEEP_CHUNKS, _KEEP_GAPS, _HASH = _core.TSL_KEEP_DATA, _core.TSL_KEEP_CHUNKS, _core.TSL_KEEP_GAPS, \
    _core.TSL_HASH


class Session:
    """One TCP session.

    Made by :func:`open` (when the session ends) and given to the
    callbacks of :class:`Reassembler`. The delivered bytes stay in C
    memory until :attr:`c2s` / :attr:`s2c` are read (each read makes a
    ``bytes``) and are freed with the object or by :meth:`release`.
    """

    __slots__ = ("_ss", "_info", "capture", "__weakref__")

    def __init__(self, ss, capture=None):
        self._ss = ss
        self._info = None
        self.capture = capture

    def _i(self):
        info = self._info
        if info is None:
            ss = self._ss
            (closed, stream, first_dir, end, handshake, fs, fns, ls, lns, ff, lf, packets,
             nvlan) = ss.info()
            info = (closed, stream, tuple(ss.endpoint(0)), tuple(ss.endpoint(1)), first_dir, end, handshake,
                    tuple(ss.vlan(i) for i in range(nvlan)), (fs, fns), (ls, lns), ff, lf, packets,
                    tuple(ss.dir_stats(0)), tuple(ss.dir_stats(1)))
            if closed:  # final
                self._info = info
        return info

    # identity
    @property
    def stream(self):
        """Number in order of the first packet (tshark's tcp.stream)."""
        return self._ss.stream

    @property
    def client(self):
        """Endpoint(ip, port, version) of the client (the SYN's sender)."""
        return Endpoint(*self._i()[2])

    @property
    def server(self):
        """Endpoint(ip, port, version) of the server."""
        return Endpoint(*self._i()[3])

    @property
    def first_direction(self):
        """Direction of the session's first packet (C2S or S2C)."""
        return self._i()[4]

    @property
    def closed(self):
        """True once the session ended."""
        return bool(self._ss.closed)

    @property
    def end(self):
        """How it ended: "fin", "rst", "timeout", "eof", "evicted", "reused" ("open" before)."""
        return END_NAMES.get(self._i()[5], "open")

    @property
    def end_code(self):
        """How it ended, as the library's TCPS_END_* number."""
        return self._i()[5]

    @property
    def handshake(self):
        """Bits of the handshake seen: 1 SYN, 2 SYN-ACK, 4 ACK."""
        return self._i()[6]

    @property
    def vlans(self):
        """VLAN ids of the session's first packet (outer first)."""
        return self._i()[7]

    @property
    def first_time(self):
        """(seconds, nanoseconds) of the first packet."""
        return self._i()[8]

    @property
    def last_time(self):
        """(seconds, nanoseconds) of the last packet."""
        return self._i()[9]

    @property
    def first_ts(self):
        """Capture time of the first packet, float seconds."""
        return _t(*self._i()[8])

    @property
    def last_ts(self):
        """Capture time of the last packet, float seconds."""
        return _t(*self._i()[9])

    @property
    def first_frame(self):
        return self._i()[10]

    @property
    def last_frame(self):
        return self._i()[11]

    @property
    def packets(self):
        """Packets of the session, both ways."""
        return self._i()[12]

    def stats(self, direction):
        """DirStats of one direction (C2S or S2C)."""
        return DirStats(*self._i()[13 + (direction & 1)])

    @property
    def c2s_stats(self):
        return self.stats(C2S)

    @property
    def s2c_stats(self):
        return self.stats(S2C)

    @property
    def c2s_bytes(self):
        """Bytes delivered client to server."""
        return self._i()[13][0]

    @property
    def s2c_bytes(self):
        """Bytes delivered server to client."""
        return self._i()[14][0]

    @property
    def c2s_missing(self):
        """Bytes client to server that the capture never had (in gaps)."""
        return self._i()[13][1]

    @property
    def s2c_missing(self):
        return self._i()[14][1]

    # data
    def data(self, direction):
        """The bytes delivered one way, as a new ``bytes``.

        Raises ValueError when the bytes were not kept (``data=False``)."""
        b = self._ss.data(direction & 1)
        if b is None:
            raise ValueError("the session's bytes were not kept (data=False, or released)")
        return b

    @property
    def c2s(self):
        """Everything the server's application received, as bytes (made on each access)."""
        return self.data(C2S)

    @property
    def s2c(self):
        """Everything the client's application received, as bytes (made on each access)."""
        return self.data(S2C)

    @property
    def chunks(self):
        """The delivered pieces in exchange order: a list of Chunk."""
        ss = self._ss
        if not ss.keep & _KEEP_CHUNKS:
            raise ValueError("chunks were not kept (chunks=False)")
        get = ss.chunk
        return [Chunk(d, o, n, s + ns * 1e-9, f, df, p)
                for d, o, n, s, ns, f, df, p in (get(i) for i in range(ss.nchunks()))]

    @property
    def gaps(self):
        """Missing bytes, in the order they were reported: a list of Gap."""
        ss = self._ss
        if not ss.keep & _KEEP_GAPS:
            raise ValueError("gaps were not kept (chunks=False)")
        get = ss.gap
        return [Gap(d, o, n, GAP_NAMES.get(r, str(r)), s + ns * 1e-9, f)
                for d, o, n, r, s, ns, f in (get(i) for i in range(ss.ngaps()))]

    def exchange(self):
        """Yield (Chunk, bytes) in the order the peers exchanged them."""
        bufs = (self.data(C2S), self.data(S2C))
        for c in self.chunks:
            yield c, bufs[c.direction][c.position:c.position + c.length]

    def sha256(self, direction):
        """Hex sha256 of the bytes delivered one way (gaps left out)."""
        ss = self._ss
        h = ss.sha256(direction & 1)  # computed while reading (sha256=True)
        if h is None:
            h = ss.data_sha256(direction & 1)  # of the kept bytes, without copying them out
            if h is None:
                raise ValueError("the session's bytes were not kept (data=False, or released)")
            h = h.decode("ascii")
        return h

    @property
    def c2s_sha256(self):
        return self.sha256(C2S)

    @property
    def s2c_sha256(self):
        return self.sha256(S2C)

    def network_tuple(self):
        """NetworkTuple(sip, dip, sp, dp, 6) of the session (client first)."""
        c, s = self.client, self.server
        return NetworkTuple(c.ip, s.ip, c.port, s.port, 6)

    def to_dict(self):
        """The session as one line of ``tcpsession list --json`` (same keys and values;
        the times are the strings of the command's numbers)."""
        d = json.loads(self.to_json(), parse_float=str)
        d["capture"] = self.capture
        return d

    def to_json(self):
        """The session as one line of ``tcpsession list --json``, written by the C layer
        the command uses (needs sha256=True for the hashes, else the kept bytes are
        hashed here)."""
        ss = self._ss
        cap = b"" if self.capture is None else os.fsencode(self.capture)
        if ss.sha256(0) is not None:
            hexes = ("", "")
        else:
            hexes = (self.sha256(C2S), self.sha256(S2C))
        return ss.json(self.capture is not None, cap, *hexes).decode("ascii")

    def release(self):
        """Free the kept bytes now (counts, chunks and gaps stay)."""
        self._ss.release(_KEEP_DATA)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False

    def __repr__(self):
        i = self._i()

        def ep(e):
            return ("[%s]:%d" if e[2] == 6 else "%s:%d") % (e[0], e[1])
        return "<Session %d %s -> %s %d/%d bytes %s>" % (
            i[1], ep(i[2]), ep(i[3]), i[13][0], i[14][0], END_NAMES.get(i[5], "open"))


# ----------------------------------------------------------------- sources

def _source(src):
    """(object for C, kind, name): kind 0 path, 1 memory, 2 file object."""
    if isinstance(src, (str, os.PathLike)):
        path = os.fsencode(src)
        if path != b"-" and not os.path.exists(path):
            raise FileNotFoundError(_errno.ENOENT, os.strerror(_errno.ENOENT), os.fsdecode(src))
        return path, 0, os.fsdecode(src)
    if isinstance(src, (bytes, bytearray, memoryview)):
        return src, 1, "<memory>"
    if hasattr(src, "readinto") or hasattr(src, "read"):
        return src, 2, getattr(src, "name", "<file>") if isinstance(getattr(src, "name", None), str) else "<file>"
    raise TypeError("a path, a binary file object or a bytes-like object is needed, not %s" % type(src).__name__)


def _attach(run, src, finish):
    """Give run its source; returns what must stay alive while it is read."""
    obj, kind, name = _source(src)
    if kind == 0:
        try:
            run.open_path(obj, finish)
        except Error as e:  # the file could not be opened at all
            raise OSError("cannot open the capture: %s" % e.message) from None
        return None
    if kind == 1:
        # the memory is read in place: a view keeps it (a bytearray cannot
        # be resized under it) until it is read
        view = memoryview(obj).cast("B") if not isinstance(obj, bytes) else obj
        run.open_memory(view, finish)
        return view
    run.open_file(obj, finish)
    return obj


def _keep(data, chunks, sha256):
    # the digests on a thread of their own, beside the one that reads
    return (_KEEP_DATA if data else 0) | (_KEEP_CHUNKS | _KEEP_GAPS if chunks else 0) | \
        (_HASH | _core.TSL_HASH_THREAD if sha256 else 0)


_FLAGS = {"separate_vlans": 0x02, "verify_checksums": 0x01, "no_defrag": 0x04, "port_heuristic": 0x08}


def _flags(kw):
    f = 0
    for k, v in kw.items():
        if k not in _FLAGS:
            raise TypeError("unknown option %r" % k)
        if v:
            f |= _FLAGS[k]
    return f


def _new_run(keep, flags):
    run = _core.Run(keep, flags)
    if run is None:
        raise MemoryError("tcpsession: no memory for the engine")
    return run


_STAT_NAMES = []
while _core.stat_name(len(_STAT_NAMES)) is not None:
    _STAT_NAMES.append(_core.stat_name(len(_STAT_NAMES)))


def _stats(run):
    if run.closed():
        return {}
    return {k: run.stat(i) for i, k in enumerate(_STAT_NAMES)}


# Sessions are taken from C in batches, to pay the GIL and the call once
# for many: a batch is complete at _BATCH sessions, _BATCH_BYTES of kept
# bytes, or _BATCH_EVENTS events after its first session ended (so a
# session is never held back long), and at the end of the capture.
_BATCH, _BATCH_BYTES, _BATCH_EVENTS = 64, 4 << 20, 16384
# Events taken by one C call when nothing is handed out (between calls,
# Python runs: signal handlers, other threads)
_SILENT_EVENTS = 65536


class _Busy:
    """The run of a call that feeds or frees it: refused while another call is
    at work on it (another thread, or a callback of this one)."""

    __slots__ = ("owner",)

    def __init__(self, owner):
        self.owner = owner

    def __enter__(self):
        o = self.owner
        if o._busy:
            raise RuntimeError("this reader is in use (by another thread, or by the call whose callback this is)")
        o._busy = True

    def __exit__(self, *exc):
        self.owner._busy = False
        return False


class SessionReader:
    """Iterator of the sessions of one capture, in the order they end.

    Returned by :func:`open`; a context manager. After a capture error the
    sessions up to the fault (and those the end closed) are yielded, then
    the error is raised (``strict=False``: kept in :attr:`error` instead).
    """

    def __init__(self, src, data=True, chunks=True, sha256=False, strict=True, **flags):
        _, _, self.name = _source(src)
        self._run = _new_run(_keep(data, chunks, sha256), _flags(flags))
        self._busy = False
        self._keep = _attach(self._run, src, 1)
        self._batch = collections.deque()
        self._strict = strict
        self._done = False
        #: the capture error (an Error) once met, with strict=False
        self.error = None

    def __iter__(self):
        return self

    def __next__(self):
        batch = self._batch
        while not batch:
            if self._done:
                raise StopIteration
            run = self._run
            with _Busy(self):
                more = run.pump(_BATCH_EVENTS, _BATCH, _BATCH_BYTES)
                name = self.name
                ss = run.pop()
                while ss is not None:
                    batch.append(Session(ss, name))
                    ss = run.pop()
            if not more and not batch:
                self._done = True
                self._keep = None
                try:
                    run.check()
                except Error as e:
                    self.error = e
                    if self._strict:
                        raise
                raise StopIteration
        return batch.popleft()

    @property
    def stats(self):
        """The engine's counters so far (dict)."""
        return _stats(self._run)

    def close(self):
        """Stop reading and free the engine (sessions already given stay valid)."""
        with _Busy(self):
            self._done = True
            self._batch.clear()
            self._run.close()
            self._keep = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def open(src, *, data=True, chunks=True, sha256=False, strict=True, **flags):
    """Iterate over the TCP sessions of a capture, each when it ends.

    src: a path (str or PathLike; "-" is stdin), a binary file object
    (anything with readinto or read, e.g. open(p, "rb"), io.BytesIO,
    gzip.open(p)), or a bytes-like object (bytes, bytearray, memoryview)
    holding the capture itself.

    data: keep each direction's bytes (Session.c2s / .s2c); with
    data=False only counts are kept, so memory does not depend on the
    sessions' sizes. chunks: keep the chunk and gap lists. sha256: compute
    each direction's sha256 in C while reading (Session.sha256 otherwise
    hashes the kept bytes). flags: separate_vlans, verify_checksums,
    no_defrag, port_heuristic (see tcpsession.h).

    Raises tcpsession.Error (a subclass) when the capture is malformed,
    after yielding every session up to the fault.
    """
    return SessionReader(src, data=data, chunks=chunks, sha256=sha256, strict=strict, **flags)


# ------------------------------------------------------------- Reassembler

_EV_OPEN, _EV_DATA, _EV_GAP, _EV_CLOSE = _core.TCPS_EV_OPEN, _core.TCPS_EV_DATA, _core.TCPS_EV_GAP, \
    _core.TCPS_EV_CLOSE


class Reassembler:
    """Streaming reassembly with callbacks, for captures larger than memory.

    Callbacks (any may be None):
      on_open(session)
      on_data(session, direction, data, offset, timestamp, frame)
      on_gap(session, direction, offset, length, reason)      reason: TCPS_GAP_* number
      on_close(session)                                       counts final here
    ``session`` is the same Session object for every event of a session.
    An exception raised by a callback stops feeding and comes out of the
    feeding call (feed_capture, feed_packets, finish) with its traceback;
    the events not delivered yet are delivered first by the next feeding
    call, so feeding again loses nothing.

    keep_data / chunks / sha256: what the Session objects keep (as open()).
    Use as a context manager: leaving the block calls finish() (unless an
    exception is on its way) and frees the engine.
    """

    def __init__(self, on_data=None, on_gap=None, on_close=None, on_open=None, *, keep_data=False,
                 chunks=False, sha256=False, **flags):
        self._run = _new_run(_keep(keep_data, chunks, sha256), _flags(flags))
        self._on = {_EV_OPEN: on_open, _EV_DATA: on_data, _EV_GAP: on_gap, _EV_CLOSE: on_close}
        self._mask = sum(1 << t for t, fn in self._on.items() if fn is not None)
        self._objs = {}  # stream -> Session of the open sessions Python has seen
        self._src = None
        self._busy = False
        self._finished = False

    def _drain(self):
        """Every event taken now to the callables (the source, if any, is read on)."""
        run = self._run
        if run.closed():
            raise ValueError("the reassembler is closed")
        if not self._mask:
            while run.pump(_SILENT_EVENTS):
                pass
        else:
            # the C functions themselves, not the proxy's methods: one call less per event
            on, objs, mask, nxt = self._on, self._objs, self._mask, _core._core.Run_next
            on_data = on[_EV_DATA]
            while True:
                ev, stream, d, off, length, sec, nsec, frame, reason, data = nxt(run, mask)
                if not ev:
                    break
                o = objs.get(stream)
                if o is None:
                    o = objs[stream] = Session(run.session())
                if ev == _EV_DATA:
                    on_data(o, d, data, off, sec + nsec * 1e-9, frame)
                elif ev == _EV_GAP:
                    on[_EV_GAP](o, d, off, length, reason)
                else:
                    if ev == _EV_CLOSE:
                        del objs[stream]
                    fn = on[ev]
                    if fn is not None:
                        fn(o)
        self._src = None
        run.check()

    def feed_capture(self, src):
        """Read a whole capture (path, binary file object or bytes) and feed every packet.

        Sessions stay open until finish() (another capture may follow).
        Raises tcpsession.Error after feeding everything before the fault."""
        with _Busy(self):
            self._drain()  # what an earlier stop left
            self._src = _attach(self._run, src, 0)
            self._drain()

    def feed_packets(self, packets, linktype=LINKTYPE_ETHERNET):
        """Feed an iterable of (timestamp, frame) pairs: timestamp in float seconds or
        (sec, nsec); frame a bytes-like object of the given link type (Ethernet default)."""
        with _Busy(self):
            self._drain()
            feed, drain = self._run.feed_frame, self._drain
            for item in packets:
                if not isinstance(item, tuple) or len(item) != 2:
                    raise TypeError("packets must be (timestamp, bytes) pairs")
                ts, frame = item
                if isinstance(ts, tuple) and len(ts) == 2:
                    sec, nsec = int(ts[0]), int(ts[1])
                else:
                    ts = float(ts)
                    sec = _math.floor(ts)
                    nsec = int((ts - sec) * 1e9 + 0.5)
                    if nsec >= 1000000000:
                        sec, nsec = sec + 1, nsec - 1000000000
                feed(linktype, sec, nsec, frame)
                drain()

    def feed_packet(self, timestamp, frame, linktype=LINKTYPE_ETHERNET):
        """Feed one frame (libpcap-style live capture)."""
        self.feed_packets(((timestamp, frame),), linktype)

    def finish(self):
        """End of input: every open session is flushed and closed (callbacks run)."""
        with _Busy(self):
            self._finished = True
            if self._run.closed():
                return
            self._drain()
            self._run.finish()
            self._drain()

    @property
    def stats(self):
        """The engine's counters (dict)."""
        return _stats(self._run)

    def close(self):
        """Free the engine without calling any more callbacks."""
        with _Busy(self):
            self._run.close()
            self._objs.clear()
            self._src = None

    def run(self, src):
        """feed_capture(src) then finish()."""
        self.feed_capture(src)
        self.finish()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None and not self._finished:
                self.finish()
        finally:
            self.close()
        return False


# ------------------------------------------------ the old TCPSession surface

def _write_pcap(path, packets, linktype):
    """Write (ts, frame) pairs as a pcap file (nanosecond magic)."""
    with _builtins.open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, linktype))
        pack = struct.Struct("<IIII").pack
        for ts, buf in packets:
            if isinstance(ts, tuple):
                ts = ts[0]  # (timestamp, frame number), as the old library accepted
            sec = int(ts // 1)
            nsec = int(round((ts - sec) * 1e9))
            if nsec >= 1000000000:
                sec, nsec = sec + 1, nsec - 1000000000
            f.write(pack(sec, nsec, len(buf), len(buf)))
            f.write(buf)


class TCPSessions:
    """The surface of the old pure-Python TCPSession library, natively.

    s = TCPSessions("in.pcap"); s.process_pcap()
    s.get_total_session_count(); s.get_all_sessions(); s.dump_all_sessions("out")

    Sessions are Session objects (bytes kept), in stream order.
    """

    def __init__(self, inpcap):
        self.pcap = inpcap
        self._sessions = []
        self._by_tuple = {}
        self._tmp = None

    def process_pcap(self):
        """Read and reassemble the capture given to the constructor."""
        self._load(self.pcap)

    def process_pkts(self, pkts, linktype=LINKTYPE_ETHERNET):
        """Reassemble an iterable of (timestamp, frame bytes) pairs (e.g. a dpkt.pcap.Reader).

        The packets are written to a temporary pcap file (so that
        dump_all_sessions can run the extract command on them), then read."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tcpsession-")
        path = os.path.join(self._tmp.name, "packets.pcap")
        _write_pcap(path, pkts, linktype)
        self.pcap = path
        self._load(path)

    def _load(self, path):
        self._sessions = sorted(open(path, data=True, chunks=True), key=lambda s: s.stream)
        self._by_tuple = {}
        for s in self._sessions:
            self._by_tuple.setdefault(s.network_tuple(), []).append(s)

    def _key(self, network_tuple):
        if isinstance(network_tuple, str):
            for k in self._by_tuple:
                if repr(k) == network_tuple:
                    return k
        return NetworkTuple(*network_tuple) if len(network_tuple) == 5 else NetworkTuple(*network_tuple, 6)

    def get_all_sessions(self):
        """Every session, in stream order (list of Session)."""
        return list(self._sessions)

    def get_sessions(self, network_tuple):
        """The sessions of one NetworkTuple (or its repr), in stream order."""
        return list(self._by_tuple.get(self._key(network_tuple), []))

    def get_session_count(self, network_tuple):
        """How many sessions used this NetworkTuple (or its repr)."""
        return len(self._by_tuple.get(self._key(network_tuple), []))

    def get_total_session_count(self):
        """Number of sessions (tshark's streams) in the capture."""
        return len(self._sessions)

    def get_unique_network_tuples(self):
        """repr() of every distinct NetworkTuple, in order of first appearance."""
        return [repr(k) for k in self._by_tuple]

    def dump_all_sessions(self, out_dir, *options):
        """Write every session as ``tcpsession extract -o out_dir CAPTURE`` does (the same
        C writer): out_dir/CAPTURE/N/N.json and the other files. The options of extract
        that concern one capture may be given: "--outputs", "json,index"; "--no-js";
        "--tcpflow-names"; "-s", N; "-e", "IP:PORT,IP:PORT"."""
        if not self.pcap:
            raise ValueError("nothing processed")
        outputs, no_js, tcpflow, stream, endpoints = "", False, False, -1, ""
        opts = iter(options)
        for o in opts:
            if o in ("--outputs", "-s", "-e"):
                v = next(opts, None)
                if v is None:
                    raise ValueError("dump_all_sessions: %s wants a value" % o)
                if o == "--outputs":
                    outputs = str(v)
                elif o == "-s":
                    stream = int(v)
                    if stream < 0:
                        raise ValueError("dump_all_sessions: -s wants a stream number")
                else:
                    endpoints = str(v)
            elif o == "--no-js":
                no_js = True
            elif o == "--tcpflow-names":
                tcpflow = True
            else:
                raise ValueError("dump_all_sessions: not an option of one capture's extract: %r" % (o,))
        if no_js:
            names = (outputs or "all").replace("all", "json,data,transcript,hex,js,index").split(",")
            outputs = ",".join(n for n in names if n and n != "js") or "none"
        rel = os.path.basename(self.session_dirs(out_dir))
        res = _core.extract(os.fsencode(self.pcap), os.fsencode(out_dir), os.fsencode(rel), outputs, int(tcpflow),
                            stream, endpoints)
        rc, msg = res.code, res.message
        if rc == 2:
            raise ValueError("dump_all_sessions: " + msg)
        if rc != 0:
            raise Error(-3, 0, "tcpsession extract failed (exit status %d): %s" % (rc, msg), "TCPS_E_IO")

    def session_dirs(self, out_dir):
        """The folder dump_all_sessions writes this capture's sessions into."""
        return os.path.join(out_dir, os.path.basename(self.pcap.rstrip("/")))
