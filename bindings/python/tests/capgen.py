"""Captures written here for the tests: Ethernet/IPv4/TCP frames in pcap.

Checksums are left at zero (the library checks them only when asked)."""
import struct

PCAP_US = 0xA1B2C3D4


def ipv4(a):
    return bytes(int(x) for x in a.split("."))


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    """An Ethernet frame carrying one TCP segment (flags: a string of S A F R P)."""
    f = 0
    for ch, bit in (("F", 1), ("S", 2), ("R", 4), ("P", 8), ("A", 16)):
        if ch in flags:
            f |= bit
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, f, 65535, 0, 0)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6, 0,
                     ipv4(src), ipv4(dst))
    eth = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00"
    return eth + ip + tcp + payload


class PcapWriter:
    """pcap (microseconds, Ethernet) to a binary file object."""

    def __init__(self, f, linktype=1):
        self.f = f
        self.rec = struct.Struct("<IIII")
        f.write(struct.pack("<IHHiIII", PCAP_US, 2, 4, 0, 0, 262144, linktype))
        self.offsets = []  # byte offset of each record

    def write(self, ts_us, data):
        self.offsets.append(self.f.tell())
        self.f.write(self.rec.pack(ts_us // 1000000, ts_us % 1000000, len(data), len(data)))
        self.f.write(data)


def conversation(n, t_us, client="10.1.2.3", server="10.9.8.7", cport=40000, sport=80, request=None,
                 reply=None):
    """The packets of one complete session: handshake, a request, a reply, FIN
    both ways. Yields (ts_us, frame); the request and reply are returned by
    request_reply(n)."""
    req, rep = request_reply(n) if request is None else (request, reply)
    c, s = 1000 + n * 7, 50000 + n * 13
    yield t_us, frame(client, server, cport, sport, c, 0, "S")
    yield t_us + 1, frame(server, client, sport, cport, s, c + 1, "SA")
    yield t_us + 2, frame(client, server, cport, sport, c + 1, s + 1, "A")
    yield t_us + 3, frame(client, server, cport, sport, c + 1, s + 1, "PA", req)
    yield t_us + 4, frame(server, client, sport, cport, s + 1, c + 1 + len(req), "PA", rep)
    yield t_us + 5, frame(client, server, cport, sport, c + 1 + len(req), s + 1 + len(rep), "FA")
    yield t_us + 6, frame(server, client, sport, cport, s + 1 + len(rep), c + 2 + len(req), "FA")
    yield t_us + 7, frame(client, server, cport, sport, c + 2 + len(req), s + 2 + len(rep), "A")


def request_reply(n):
    req = b"GET /%d HTTP/1.1\r\nHost: example\r\n\r\n" % n
    rep = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (n % 97) + b"x" * (n % 97)
    return req, rep


def write_sessions(path, count):
    """count sessions one after the other (each on its own client port and
    address), 1 ms apart; returns the record offsets."""
    with open(path, "wb") as f:
        w = PcapWriter(f)
        t = 1700000000 * 1000000
        for n in range(count):
            client = "10.%d.%d.%d" % (1 + (n >> 16) % 200, (n >> 8) & 255, n & 255)
            for ts, fr in conversation(n, t, client=client, cport=1024 + n % 60000):
                w.write(ts, fr)
            t += 1000
        return w.offsets
