#!/usr/bin/env bash
# record.sh OUTDIR - capture this machine's own TCP stack under loss,
# reordering and duplication, with the applications' own record of what they
# received. Run as root. See README.md.
#
# Topology: two network namespaces, "client" and "server", each with one
# interface towards the other. The path between them is impaired in both
# directions, either by tc netem on a veth pair (when the kernel has sch_netem)
# or by relay.py, a userspace relay between two TAP devices living in a third
# namespace. tcpdump runs on the interface of each endpoint namespace:
#
#   OUTDIR/server.pcap  taken at the server: client-to-server data as the
#                       server's stack received it (after loss, duplication
#                       and reordering), server-to-client data as sent.
#   OUTDIR/client.pcap  taken at the client: the mirror image.
#
# compare.py judges each direction on the capture taken at its receiver: that
# capture holds every packet the receiving stack got, in the order it got
# them, so a reassembler must deliver exactly what the application read, with
# nothing missing. The sender-side capture is checked too, as information:
# with the relay it holds every transmission (retransmissions included) and
# none of the impairment; with netem, which works on the sender's egress
# queue before tcpdump sees the frames, it shows the impaired stream as well.
#
# Also written: OUTDIR/client.jsonl and server.jsonl (apps.py records),
# OUTDIR/impair.json (method, parameters, relay counters), tcpdump and
# application logs, OUTDIR/capture.json (tcpdump's drop counters).
#
# Environment (all optional): RT_SEED (1), RT_COUNT (40 connections),
# RT_PARALLEL (8), RT_LOSS (0.02), RT_DUP (0.02), RT_REORDER (0.04),
# RT_DELAY_MS (1), RT_REORDER_MS (8), RT_IMPAIR (auto|netem|relay),
# RT_PLAN (mixed|reuse: apps.py's plan), RT_APP_TIMEOUT (100: seconds the
# server accepts connections). For 4-tuple reuse, in the client namespace:
# RT_PORTS (unset: the system's range; N: ephemeral ports 40000 to
# 40000+N-1), RT_TW_REUSE (net.ipv4.tcp_tw_reuse, unset: the system's) and
# RT_TW_REUSE_DELAY_MS (net.ipv4.tcp_tw_reuse_delay, where the kernel has it).
set -euo pipefail

out=${1:?usage: record.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

seed=${RT_SEED:-1}
count=${RT_COUNT:-40}
parallel=${RT_PARALLEL:-8}
loss=${RT_LOSS:-0.02}
dup=${RT_DUP:-0.02}
reorder=${RT_REORDER:-0.04}
delay_ms=${RT_DELAY_MS:-1}
reorder_ms=${RT_REORDER_MS:-8}
impair=${RT_IMPAIR:-auto}
plan=${RT_PLAN:-mixed}
app_timeout=${RT_APP_TIMEOUT:-100}
ports=${RT_PORTS:-}
tw_reuse=${RT_TW_REUSE:-}
tw_reuse_delay=${RT_TW_REUSE_DELAY_MS:-}
python=${PYTHON:-python3}

id=$$
nsc=rtc$id nss=rts$id nsm=rtm$id
ifc=rtc$id ifs=rts$id # interface names in the client and server namespaces
v4c=10.77.0.1 v4s=10.77.0.2 v6c=fd77::1 v6s=fd77::2
port=5001

pids=()
tcpdump_client='' tcpdump_server=''
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    for n in "$nsc" "$nss" "$nsm"; do ip netns del "$n" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "record: $*" >&2; }

# wait_for FILE PATTERN SECONDS
wait_for() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    log "timed out waiting for '$2' in $1"
    return 1
}

ip netns add "$nsc"
ip netns add "$nss"
ip -n "$nsc" link set lo up
ip -n "$nss" link set lo up
# TCP Fast Open, client and server (a per-namespace setting)
ip netns exec "$nsc" sysctl -qw net.ipv4.tcp_fastopen=3
ip netns exec "$nss" sysctl -qw net.ipv4.tcp_fastopen=3
# 4-tuple reuse: few ephemeral ports, so that successive connections to one
# server address take the same ports again; TIME_WAIT on the client's side
# may be reused (with timestamps, on by default) after tcp_tw_reuse_delay
if [[ -n $ports ]]; then
    ip netns exec "$nsc" sysctl -qw net.ipv4.ip_local_port_range="40000 $((40000 + ports - 1))"
fi
[[ -n $tw_reuse ]] && ip netns exec "$nsc" sysctl -qw net.ipv4.tcp_tw_reuse="$tw_reuse"
if [[ -n $tw_reuse_delay && -e /proc/sys/net/ipv4/tcp_tw_reuse_delay ]]; then
    ip netns exec "$nsc" sysctl -qw net.ipv4.tcp_tw_reuse_delay="$tw_reuse_delay"
fi
client_get() { ip netns exec "$nsc" sysctl -n "net.ipv4.$1" | tr '\t' ' '; }
client_sysctl="ports $(client_get ip_local_port_range), tw_reuse $(client_get tcp_tw_reuse)"
if [[ -e /proc/sys/net/ipv4/tcp_tw_reuse_delay ]]; then
    client_sysctl+=", tw_reuse_delay $(client_get tcp_tw_reuse_delay) ms"
fi

method=
if [[ $impair != relay ]]; then
    # netem percentages; the same impairment on both ends of a veth pair
    # (netem draws its own random numbers: RT_SEED does not apply)
    pct() { awk -v x="$1" 'BEGIN { printf "%g%%", x * 100 }'; }
    ip link add "$ifc" netns "$nsc" type veth peer name "$ifs" netns "$nss"
    ok=1
    for ns_dev in "$nsc/$ifc" "$nss/$ifs"; do
        ip netns exec "${ns_dev%/*}" tc qdisc add dev "${ns_dev#*/}" root netem \
            delay "${delay_ms}ms" reorder "$(pct "$reorder")" loss "$(pct "$loss")" \
            duplicate "$(pct "$dup")" 2>/dev/null || ok=0
    done
    if ((ok)); then
        method=netem
    else
        ip -n "$nsc" link del "$ifc" 2>/dev/null || true
        [[ $impair == netem ]] && { log "tc netem is not available"; exit 1; }
    fi
fi
if [[ -z $method ]]; then
    method=relay
    ip netns add "$nsm"
    ip netns exec "$nsm" "$python" "$here/relay.py" --tap "$ifc" "$ifs" --seed "$seed" \
        --loss "$loss" --dup "$dup" --reorder "$reorder" --delay-ms "$delay_ms" \
        --reorder-ms "$reorder_ms" --stats "$out/relay.json" >"$out/relay.log" 2>&1 &
    relay_pid=$!
    pids+=("$relay_pid")
    wait_for "$out/relay.log" ready 10
    ip -n "$nsm" link set "$ifc" netns "$nsc"
    ip -n "$nsm" link set "$ifs" netns "$nss"
fi
log "impairment: $method (loss $loss, duplicate $dup, reorder $reorder, seed $seed)"
log "client namespace: $client_sysctl"

ip -n "$nsc" addr add "$v4c/24" dev "$ifc"
ip -n "$nss" addr add "$v4s/24" dev "$ifs"
ip -n "$nsc" addr add "$v6c/64" dev "$ifc" nodad
ip -n "$nss" addr add "$v6s/64" dev "$ifs" nodad
ip -n "$nsc" link set "$ifc" up
ip -n "$nss" link set "$ifs" up

for side in client server; do
    ns=$nsc dev=$ifc
    [[ $side == server ]] && ns=$nss dev=$ifs
    ip netns exec "$ns" tcpdump -i "$dev" -n -s 0 -U -B 131072 -w "$out/$side.pcap" tcp \
        >"$out/tcpdump-$side.log" 2>&1 &
    pids+=($!)
    if [[ $side == client ]]; then tcpdump_client=$!; else tcpdump_server=$!; fi
done
wait_for "$out/tcpdump-client.log" "listening on" 10
wait_for "$out/tcpdump-server.log" "listening on" 10

start=$(date +%s.%N)
ip netns exec "$nss" "$python" "$here/apps.py" server --v4 "$v4s" --v6 "$v6s" --port "$port" \
    --expect "$count" --timeout "$app_timeout" --out "$out/server.jsonl" >"$out/server.log" 2>&1 &
server_pid=$!
pids+=("$server_pid")
wait_for "$out/server.log" listening 10
# in the background so that a signal reaches the trap at once
ip netns exec "$nsc" "$python" "$here/apps.py" client --v4 "$v4s" --v6 "$v6s" --port "$port" \
    --count "$count" --seed "$seed" --parallel "$parallel" --plan "$plan" \
    --out "$out/client.jsonl" >"$out/client.log" 2>&1 &
client_pid=$!
pids+=("$client_pid")
client_rc=0
wait "$client_pid" || client_rc=$?
# the server ends when it has served every connection; one that never came
# (a failed connect, recorded by the client) must not hold the run up long
for ((i = 0; i < 150; i++)); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
kill -TERM "$server_pid" 2>/dev/null || true
server_rc=0
wait "$server_pid" || server_rc=$?
end=$(date +%s.%N)
log "applications done in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')s" \
    "(client $client_rc, server $server_rc)"

# let late duplicates and retransmissions pass, freeze the relay (it sends
# what it still holds and writes its counters), wait until tcpdump has
# written the last frames (it gets them from the kernel in blocks, up to a
# second late; the files stop growing), stop it, then the relay
sleep 1
[[ -n ${relay_pid:-} ]] && kill -USR1 "$relay_pid"
last='' stable=0
for ((i = 0; i < 50 && stable < 3; i++)); do
    sleep 0.4
    now=$(stat -c %s "$out/client.pcap" "$out/server.pcap" | tr '\n' ' ')
    if [[ $now == "$last" ]]; then stable=$((stable + 1)); else stable=0; fi
    last=$now
done
kill -INT "$tcpdump_client" "$tcpdump_server"
wait "$tcpdump_client" || true
wait "$tcpdump_server" || true
if [[ -n ${relay_pid:-} ]]; then
    kill -TERM "$relay_pid"
    wait "$relay_pid" || true
fi

drops() { sed -n 's/^\([0-9]*\) packets* dropped by kernel.*/\1/p' "$1" | head -n1; }
captured() { sed -n 's/^\([0-9]*\) packets* captured.*/\1/p' "$1" | head -n1; }
cat >"$out/capture.json" <<JSON
{"method": "$method", "seed": $seed, "loss": $loss, "dup": $dup, "reorder": $reorder,
 "client_captured": $(captured "$out/tcpdump-client.log"), "client_dropped": $(drops "$out/tcpdump-client.log"),
 "server_captured": $(captured "$out/tcpdump-server.log"), "server_dropped": $(drops "$out/tcpdump-server.log"),
 "client_rc": $client_rc, "server_rc": $server_rc}
JSON
log "$(tr -d '\n' <"$out/capture.json")"
[[ -f $out/relay.json ]] && log "relay: $(cat "$out/relay.json")"
exit 0
