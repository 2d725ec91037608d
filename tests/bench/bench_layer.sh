#!/bin/bash
# tests/bench/bench_layer.sh - the everyday commands against the engine under
# them and against the physical limit of each job, on one capture, in one run.
#
#     bash tests/bench/bench_layer.sh [CAPTURE]        (make bench-layer)
#
# CAPTURE defaults to $BENCH_FILE (make makes build/bench/traffic-1024M.pcap
# with tests/bench/gen_traffic.c). The page cache is warmed first; each
# figure is the best of $RUNS (default 3) wall-clock runs, of $RUNS_SHORT
# (default 9) for the runs of a tenth of a second (follow and its floor). Printed, with
# the ratio and the target:
#   list               tcpsession list (the table: no hash shown, none made)
#                      / the engine with a no-op callback        <= 1.5
#   list --json        (SHA-256 of every delivered byte)
#                      / openssl dgst -sha256 CAPTURE            <= 1.3
#   follow -s N        N the session in the middle of the capture
#                      / the engine up to N's last packet        <= 1.3
#   extract --outputs data   (each direction's bytes to a file)
#                      / cp CAPTURE into the same file system    <= 2
#                      and, for what the file system adds, against cp plus
#                      making as many folders and (1 KB) files as extract
#                      made (python3; no target: on a disk file system
#                      creating thousands of files costs more than copying
#                      a gigabyte into the page cache)
# Outputs go under $BENCH_OUT (default build/bench/layer-out). cp and extract
# take turns, each into a folder of its own after a sync, and nothing is
# deleted until the end: on ext4, creating files where many were just
# deleted is slow, and one tool would pay for the other's clean-up.
set -u
cd "$(dirname "$0")/../.." || exit 2
BIN=${TCPSESSION:-build/tcpsession}
BUILD=${BUILD:-build}
CAP=${1:-${BENCH_FILE:-$BUILD/bench/traffic-1024M.pcap}}
OUT=${BENCH_OUT:-$BUILD/bench/layer-out}
RUNS=${RUNS:-3}
RUNS_SHORT=${RUNS_SHORT:-9}
UPTO=$BUILD/bench/bench_upto
for f in "$BIN" "$UPTO"; do [ -x "$f" ] || { echo "bench_layer: $f is not built (make bench-layer)" >&2; exit 1; }; done
[ -f "$CAP" ] || { echo "bench_layer: $CAP is missing" >&2; exit 1; }
command -v openssl >/dev/null || { echo "bench_layer: openssl is not installed" >&2; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT"

# once NAME CMD...: one run's wall time into $secs; output to /dev/null
once() {
    local name=$1 t0 t1
    shift
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>"$OUT/$name.err" || { echo "bench_layer: $name failed: $(head -c 300 "$OUT/$name.err")" >&2; exit 1; }
    t1=$(date +%s.%N)
    secs=$(echo "$t1 - $t0" | bc -l)
}
least() { if [ -z "$1" ] || [ "$(echo "$2 < $1" | bc)" = 1 ]; then echo "$2"; else echo "$1"; fi; }
# best NAME CMD...: the least wall time of RUNS runs, into $best
best() {
    local i
    best=
    for ((i = 0; i < RUNS; i++)); do
        once "$@"
        best=$(least "$best" "$secs")
    done
}
# the timed pass of bench_upto reports its own seconds (the untimed search
# pass before it is not counted)
best_upto() {
    local i s n=$RUNS
    [ $# -gt 1 ] && n=$RUNS_SHORT
    best=
    for ((i = 0; i < n; i++)); do
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
RUNS=$RUNS_SHORT RUNS_SHORT=$RUNS_SHORT best follow "$BIN" follow -m raw -s "$mid" "$CAP"; t_follow=$best
row "follow -s $mid" "$t_follow" "engine up to its last packet" "$t_upto" 1.3

t_cp= t_ex=
for ((i = 0; i < RUNS; i++)); do
    sync
    once cp cp "$CAP" "$OUT/copy-$i"
    t_cp=$(least "$t_cp" "$secs")
    mkdir -p "$OUT/extract-$i"
    sync
    once extract "$BIN" extract --outputs data -o "$OUT/extract-$i" "$CAP"
    t_ex=$(least "$t_ex" "$secs")
done
row "extract --outputs data" "$t_ex" "cp CAPTURE (same file system)" "$t_cp" 2
ndirs=$(find "$OUT/extract-0" -mindepth 1 -type d | wc -l)
nfiles=$(find "$OUT/extract-0" -type f | wc -l)
if command -v python3 >/dev/null; then
    t_tree=
    for ((i = 0; i < RUNS; i++)); do
        sync
        once tree python3 -c 'import os, sys
top, nd, nf = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.mkdir(top)
for i in range(nd):
    os.mkdir("%s/%d" % (top, i))
for i in range(nf):
    fd = os.open("%s/%d/%d.bin" % (top, i % max(nd, 1), i), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, b"x" * 1000)
    os.close(fd)' "$OUT/tree-$i" "$ndirs" "$nfiles"
        t_tree=$(least "$t_tree" "$secs")
    done
    rows+=("$(printf '%-26s %8s s   %-30s %8s s   %5.2fx   (%d folders, %d files)' "extract --outputs data" "$(fmt "$t_ex")" \
        "cp + making the same tree" "$(fmt "$(echo "$t_cp + $t_tree" | bc -l)")" "$(echo "$t_ex / ($t_cp + $t_tree)" | bc -l)" \
        "$ndirs" "$nfiles")")
fi
rm -rf "$OUT"

echo
for r in "${rows[@]}"; do echo "$r"; done
