#!/bin/bash
# record_bulk.sh - record real bulk TCP traffic of this machine's own TCP stack.
#
#     [RATE=Mbit/s] record_bulk.sh OUT.pcap [MEGABYTES] [LOSS%]
#                                     (as root; defaults 250, 1024, 0.02)
#
# Three network namespaces joined by veth pairs (traffic stays inside them):
# client -- router -- server.  MTU 1500 and segmentation offload limited to
# one segment per packet, so the capture holds ~1514-byte frames as on a real
# Ethernet link rather than the 64 KB super-segments of loopback.  The router
# forwards and drops LOSS% of the packets at random (iptables statistic), so
# the kernel's own loss recovery (fast retransmit, SACK, RTO) is in the
# capture.  tcpdump records on the client's interface: a server packet lost in
# the router never reaches it (a hole, then the retransmission), a client
# packet lost there was seen (the retransmission is a duplicate).
#
# The client runs 8 workers; each repeatedly opens a connection, asks the
# server for a download or sends an upload (sizes from 4 KB to 32 MB, most
# below 1 MB), reads to the end and closes.  Workers stop starting transfers
# once the capture reaches MEGABYTES MiB.  The applications count the bytes
# they really received; OUT.pcap.info gets those totals (the bytes every
# reassembler should deliver) and tcpdump's drop count.
# Needs root, tcpdump, python3, iproute2 and iptables (legacy or nft).
set -euo pipefail

out=${1:?usage: record_bulk.sh OUT.pcap [MEGABYTES] [LOSS%]}
mb=${2:-1024}
loss=${3:-0.02}
rate=${RATE:-250}
[ "$(id -u)" = 0 ] || { echo "record_bulk.sh: needs root (network namespaces)" >&2; exit 1; }
command -v tcpdump >/dev/null || { echo "record_bulk.sh: tcpdump missing" >&2; exit 1; }
command -v python3 >/dev/null || { echo "record_bulk.sh: python3 missing" >&2; exit 1; }

loss_p=$(awk -v l="$loss" 'BEGIN { printf "%.6f", l / 100 }')
ipt=$(command -v iptables-legacy || command -v iptables || true)
if [ "$loss" != 0 ] && [ -z "$ipt" ]; then
    echo "record_bulk.sh: iptables missing: recording without loss" >&2
    loss=0
fi

tag=tsb$$
nc=${tag}c nr=${tag}r ns=${tag}s
work=$(mktemp -d)
cleanup() {
    [ -n "${dump_pid:-}" ] && kill "$dump_pid" 2>/dev/null || true
    [ -n "${srv_pid:-}" ] && kill "$srv_pid" 2>/dev/null || true
    for n in "$nc" "$nr" "$ns"; do ip netns del "$n" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

for n in "$nc" "$nr" "$ns"; do
    ip netns add "$n"
    ip -n "$n" link set lo up
done
ip link add c0 netns "$nc" type veth peer name rc0 netns "$nr"
ip link add s0 netns "$ns" type veth peer name rs0 netns "$nr"
for x in "$nc c0 10.231.1.1/24" "$nr rc0 10.231.1.2/24" "$nr rs0 10.231.2.2/24" "$ns s0 10.231.2.1/24"; do
    set -- $x
    ip -n "$1" link set "$2" mtu 1500 gso_max_segs 1 gso_max_size 1500 up
    ip -n "$1" addr add "$3" dev "$2"
done
ip -n "$nc" route add default via 10.231.1.2
ip -n "$ns" route add default via 10.231.2.2
ip netns exec "$nr" sysctl -q -w net.ipv4.ip_forward=1
# The router's links run at RATE Mbit/s each way (tbf, a 1 MB queue: a real
# bottleneck, whose overflow is congestion loss), slow enough for tcpdump to
# keep every packet on a busy 2-core machine.
for i in rc0 rs0; do
    ip netns exec "$nr" tc qdisc add dev "$i" root tbf rate "${rate}mbit" burst 64kb limit 1mb
done
if [ "$loss" != 0 ]; then
    ip netns exec "$nr" "$ipt" -A FORWARD -m statistic --mode random --probability "$loss_p" -j DROP
fi

cat > "$work/bulk.py" <<'EOF'
import os, random, socket, struct, sys, threading

PORT = 5201
CHUNK = 1 << 16
pool = random.Random(7).randbytes(8 << 20)

def send_bytes(sock, n, seed):
    off = (seed * 7919) % (len(pool) - CHUNK)
    while n > 0:
        k = min(n, CHUNK)
        sock.sendall(pool[off:off + k])
        n -= k
        off = (off + k) % (len(pool) - CHUNK)

def recv_all(sock):
    got = 0
    while True:
        b = sock.recv(1 << 18)
        if not b:
            return got
        got += len(b)

def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        b = sock.recv(n - len(buf))
        if not b:
            raise EOFError
        buf += b
    return buf

def server(statfile):
    total = [0, 0]
    lock = threading.Lock()
    def handle(c):
        with c:
            op, n, seed = struct.unpack("!BQI", recv_exact(c, 13))
            if op == 0:          # download: the server sends n bytes
                send_bytes(c, n, seed)
                c.shutdown(socket.SHUT_WR)
                got = recv_all(c)
            else:                # upload: the server reads to the end
                got = recv_all(c)
            with lock:
                total[0] += 13 + got
                total[1] += 1
                with open(statfile, "w") as f:
                    f.write("%d %d\n" % (total[0], total[1]))
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("10.231.2.1", PORT))
    ls.listen(128)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()

def client(pcap, limit, statfile):
    rng = random.Random(11)
    lock = threading.Lock()
    total = [0, 0]
    def size():
        r = rng.random()
        if r < 0.70: return rng.randint(4 << 10, 1 << 20)
        if r < 0.95: return rng.randint(1 << 20, 8 << 20)
        return rng.randint(8 << 20, 32 << 20)
    def worker(wid):
        k = 0
        while True:
            try:
                have = os.stat(pcap).st_size
            except FileNotFoundError:
                have = 0
            if have >= limit:
                return
            with lock:
                n, op, seed = size(), rng.randint(0, 1), rng.randint(0, 1 << 30)
            # near the end, smaller transfers so the capture ends near its size
            n = min(n, max(4096, (limit - have) // 16))
            with socket.create_connection(("10.231.2.1", PORT)) as c:
                c.sendall(struct.pack("!BQI", op, n, seed))
                if op == 0:
                    c.shutdown(socket.SHUT_WR)
                    got = recv_all(c)
                else:
                    send_bytes(c, n, seed)
                    c.shutdown(socket.SHUT_WR)
                    got = recv_all(c)
            with lock:
                total[0] += got
                total[1] += 1
            k += 1
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in ts: t.start()
    for t in ts: t.join()
    with open(statfile, "w") as f:
        f.write("%d %d\n" % (total[0], total[1]))

if sys.argv[1] == "server":
    server(sys.argv[2])
else:
    client(sys.argv[2], int(sys.argv[3]), sys.argv[4])
EOF

mkdir -p "$(dirname "$out")"
rm -f "$out.tmp"
ip netns exec "$ns" python3 "$work/bulk.py" server "$work/server.txt" &
srv_pid=$!
ip netns exec "$nc" tcpdump -i c0 -s 0 -B 262144 -n -w "$out.tmp" tcp 2> "$work/tcpdump.txt" &
dump_pid=$!
sleep 1.5
start=$(date +%s)
ip netns exec "$nc" python3 "$work/bulk.py" client "$out.tmp" $((mb << 20)) "$work/client.txt"
sleep 1.5
kill -INT "$dump_pid"
wait "$dump_pid" || true
dump_pid=
end=$(date +%s)
read -r cbytes conns < "$work/client.txt"
read -r sbytes sconns < "$work/server.txt" || true
drops=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$work/tcpdump.txt")
cat "$work/tcpdump.txt" >&2
{
    echo "kind real (this machine's TCP stack, veth pairs between three namespaces, MTU 1500, router at $rate Mbit/s each way with a 1 MB queue, dropping $loss% at random)"
    echo "connections $conns"
    echo "app_bytes $((cbytes + sbytes))   (received by the applications: client $cbytes + server $sbytes)"
    echo "kernel_drops ${drops:-unknown}"
    echo "seconds $((end - start))"
} > "$out.info"
cat "$out.info"
if [ "${drops:-0}" != 0 ]; then
    echo "record_bulk.sh: tcpdump dropped $drops packets (machine too busy): capture discarded;" \
         "try a lower RATE" >&2
    rm -f "$out.tmp" "$out.info"
    exit 3
fi
mv "$out.tmp" "$out"

