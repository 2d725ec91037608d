#!/bin/bash
# tests/bench/bench_layer.sh - the everyday commands against the engine under
# them and against the physical limit of each job, on one capture, in one run.
#
#     bash tests/bench/bench_layer.sh [CAPTURE]        (make bench-layer)
#
# CAPTURE defaults to $BENCH_FILE (make makes build/bench/traffic-1024M.pcap
# with tests/bench/gen_traffic.c). The page cache is warmed first; each
# figure is the best of $RUNS (default 3) wall-clock runs. Printed, with
# the ratio and the target:
#   list               tcpsession list (the table: no hash shown, none made)
#                      / the engine with a no-op callback        <= 1.5
#   list --json        (SHA-256 of every delivered byte)
#                      / openssl dgst -sha256 CAPTURE            <= 1.3
#   follow -s N        N the session in the middle of the capture
#                      / the engine up to N's last packet        <= 1.3
#   extract --outputs data   (each direction's bytes to a file)
#                      / cp CAPTURE into the same file system    <= 2
# Outputs go under $BENCH_OUT (default build/bench/layer-out) and are removed.
set -u
cd "$(dirname "$0")/../.." || exit 2
BIN=${TCPSESSION:-build/tcpsession}
BUILD=${BUILD:-build}
CAP=${1:-${BENCH_FILE:-$BUILD/bench/traffic-1024M.pcap}}
OUT=${BENCH_OUT:-$BUILD/bench/layer-out}
RUNS=${RUNS:-3}
UPTO=$BUILD/bench/bench_upto
for f in "$BIN" "$UPTO"; do [ -x "$f" ] || { echo "bench_layer: $f is not built (make bench-layer)" >&2; exit 1; }; done
[ -f "$CAP" ] || { echo "bench_layer: $CAP is missing" >&2; exit 1; }
command -v openssl >/dev/null || { echo "bench_layer: openssl is not installed" >&2; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT"

# best NAME CMD...: the least wall time of RUNS runs, into $best; output to /dev/null
best() {
    local name=$1 i t0 t1 s
    shift
    best=
    for ((i = 0; i < RUNS; i++)); do
        rm -rf "$OUT/run"
        mkdir -p "$OUT/run"
        sync
        t0=$(date +%s.%N)
        "$@" >/dev/null 2>"$OUT/$name.err" || { echo "bench_layer: $name failed: $(head -c 300 "$OUT/$name.err")" >&2; exit 1; }
        t1=$(date +%s.%N)
        s=$(echo "$t1 - $t0" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$s < $best" | bc)" = 1 ]; then best=$s; fi
    done
}
# the timed pass of bench_upto reports its own seconds (the untimed search
# pass before it is not counted)
best_upto() {
    local i s
    best=
    for ((i = 0; i < RUNS; i++)); do
        s=$("$UPTO" "$@" | awk '{print $2}') || exit 1
        if [ -z "$best" ] || [ "$(echo "$s < $best" | bc)" = 1 ]; then best=$s; fi
    done
}
fmt() { printf '%.3f' "$1"; }
rows=()
row() { # NAME SECONDS FLOOR_NAME FLOOR_SECONDS TARGET
    local r
    r=$(echo "$2 / $4" | bc -l)
    rows+=("$(printf '%-26s %8s s   %-30s %8s s   %5.2fx   target <= %s   %s' "$1" "$(fmt "$2")" "$3" "$(fmt "$4")" \
        "$r" "$5" "$([ "$(echo "$r <= $5" | bc)" = 1 ] && echo met || echo MISSED)")")
}

size=$(stat -c %s "$CAP")
cat "$CAP" >/dev/null
sessions=$("$BIN" list --json "$CAP" | wc -l)
mid=$((sessions / 2))
echo "capture: $CAP, $(echo "$size / 1048576" | bc) MiB, $sessions sessions; best of $RUNS wall-clock runs"

best_upto "$CAP"; t_engine=$best
best list "$BIN" list "$CAP"; t_list=$best
row "list" "$t_list" "engine, no-op callback" "$t_engine" 1.5

best openssl openssl dgst -sha256 "$CAP"; t_ssl=$best
best list_json "$BIN" list --json "$CAP"; t_json=$best
row "list --json" "$t_json" "openssl dgst -sha256" "$t_ssl" 1.3

best_upto "$CAP" "$mid"; t_upto=$best
best follow "$BIN" follow -m raw -s "$mid" "$CAP"; t_follow=$best
row "follow -s $mid" "$t_follow" "engine up to its last packet" "$t_upto" 1.3

best cp cp "$CAP" "$OUT/run/copy"; t_cp=$best
best extract "$BIN" extract --outputs data -o "$OUT/run" "$CAP"; t_ex=$best
row "extract --outputs data" "$t_ex" "cp CAPTURE (same file system)" "$t_cp" 2
rm -rf "$OUT"

echo
for r in "${rows[@]}"; do echo "$r"; done
