#!/bin/bash
# tests/bench/bench_cli.sh - the tcpsession command against the tools it
# replaces, on the same capture in one run.
#
#     bash tests/bench/bench_cli.sh [CAPTURE]
#
# CAPTURE defaults to $BENCH_FILE, else build/bench/traffic-1024M.pcap,
# which is generated with tests/bench/gen_traffic.c (1 GiB of synthetic
# sessions) when missing. Measured, each with the page cache warm (the
# capture is read once first, so every tool reads it from memory):
#
#   extract   tcpsession extract --outputs data (each direction's bytes to a
#             file) against tcpflow -r (the same), both writing under
#             $BENCH_OUT (default build/bench/cli-out: one file system),
#             each into a fresh folder, nothing deleted until both ran
#             (ext4 without a journal makes file creation scan inodes
#             deleted in the last minutes, so a tool run right after the
#             other's output was removed pays for it). Also `cat CAPTURE >
#             FILE` on the same file system: the floor of reading the
#             capture and writing its bytes once.      target: >= 5x
#   follow    every stream, once per stream, the way scripts drive tshark:
#             tshark -r CAPTURE -q -z follow,tcp,raw,N against
#             tcpsession follow -m raw -s N. With many streams a fixed sample
#             of BENCH_FOLLOW_SAMPLE streams (default 3, spread over the
#             capture) runs for both and the per-stream mean is scaled to
#             all streams; the report says so. Also every stream in one
#             tcpsession run (-z repeated, as tshark accepts). target: >= 100x
#   list      tcpsession list --json (hashes every delivered byte) against
#             sha256sum of the capture file.              target: <= 2x
#
# BENCH_EXTRACT_ALL=0 skips the run of extract with every output (about 18x
# the capture's size on disk). Commands missing from the build (follow, extract) or peers not installed
# are reported as skipped; the rest still runs. Needs about 3 GB free under
# build/bench for a 1 GiB capture. Times are wall-clock seconds; the
# machine is shared, so compare the ratios, not the absolute times.
set -u
cd "$(dirname "$0")/../.." || exit 2
BIN=${TCPSESSION:-build/tcpsession}
BUILD=${BUILD:-build}
BENCH_MB=${BENCH_MB:-1024}
CAP=${1:-${BENCH_FILE:-$BUILD/bench/traffic-${BENCH_MB}M.pcap}}
SAMPLE=${BENCH_FOLLOW_SAMPLE:-3}
OUT=${BENCH_OUT:-$BUILD/bench/cli-out}
CC=${CC:-cc}

die() { echo "bench_cli: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "$BIN is not built (make)"
if [ ! -f "$CAP" ]; then
    [ -f tests/bench/gen_traffic.c ] || die "$CAP is missing and tests/bench/gen_traffic.c is not there to make it"
    mkdir -p "$BUILD/bench"
    $CC -std=c99 -O2 -o "$BUILD/bench/gen_traffic" tests/bench/gen_traffic.c || die "cannot build gen_traffic"
    echo "generating $CAP ($BENCH_MB MiB)..."
    "$BUILD/bench/gen_traffic" "$CAP.tmp" "$BENCH_MB" && mv "$CAP.tmp" "$CAP" || die "cannot generate $CAP"
fi

now() { date +%s.%N; }
# run NAME CMD...: wall seconds into $secs, peak RSS (MB) into $rss, cpu
# seconds (user+sys) into $cpu, output to $OUT/NAME.log
run() {
    local name=$1 t0 t1 rc
    shift
    t0=$(now)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M %U %S' -o "$OUT/$name.rss" "$@" >"$OUT/$name.log" 2>&1
        rc=$?
    else
        "$@" >"$OUT/$name.log" 2>&1
        rc=$?
    fi
    t1=$(now)
    secs=$(echo "$t1 - $t0" | bc -l)
    rss=$( [ -s "$OUT/$name.rss" ] && awk 'END { printf "%.0f", $1 / 1024 }' "$OUT/$name.rss" || echo "?")
    cpu=$( [ -s "$OUT/$name.rss" ] && awk 'END { printf "%.2f (user %.2f, sys %.2f)", $2 + $3, $2, $3 }' "$OUT/$name.rss" || echo "?")
    return $rc
}
fmt() { printf "%.2f" "$1"; }
ratio() { echo "$1 / $2" | bc -l; }
has_cmd() { # does this build have the command (not a stub)?
    "$BIN" "$1" --help >/dev/null 2>&1
}
command -v bc >/dev/null || die "bc is needed for the arithmetic"

rm -rf "$OUT"
mkdir -p "$OUT"
size=$(stat -c %s "$CAP")
mb=$(echo "$size / 1048576" | bc -l)
echo "capture: $CAP, $(fmt "$mb") MiB"
echo "warming the page cache..."
cat "$CAP" >/dev/null
declare -a summary

# ---------------------------------------------------------------- list
run sha256sum sha256sum "$CAP"
t_sha=$secs
run list "$BIN" list --json "$CAP"
t_list=$secs
rss_list=$rss
nstreams=$(grep -c '^{' "$OUT/list.log")
r=$(ratio "$t_list" "$t_sha")
echo "list --json: $(fmt "$t_list") s ($(fmt "$(echo "$mb / $t_list" | bc -l)") MiB/s, $rss_list MB peak), sha256sum: $(fmt "$t_sha") s: $(fmt "$r")x sha256sum's time (target <= 2)"
summary+=("list --json / sha256sum      $(fmt "$r")x   target <= 2     $( [ "$(echo "$r <= 2" | bc)" = 1 ] && echo met || echo MISSED)")
echo "sessions: $nstreams"

# ------------------------------------------------------------- extract
if ! has_cmd extract; then
    echo "extract: not in this build, skipped"
    summary+=("extract: not in this build")
elif ! command -v tcpflow >/dev/null; then
    echo "extract: tcpflow not installed, skipped"
    summary+=("extract: tcpflow not installed")
else
    mkdir -p "$OUT/tcpflow"
    run cat sh -c 'cat "$1" >"$2"' sh "$CAP" "$OUT/cat.out"
    echo "cat CAPTURE > FILE: $(fmt "$secs") s, cpu $cpu"
    run tcpflow tcpflow -r "$CAP" -o "$OUT/tcpflow"
    t_tf=$secs
    rss_tf=$rss
    cpu_tf=$cpu
    n_tf=$(find "$OUT/tcpflow" -type f ! -name report.xml | wc -l)
    du_tf=$(du -sm "$OUT/tcpflow" | cut -f1)
    sync
    if run extract "$BIN" extract --outputs data "$CAP" -o "$OUT/extract" && [ -d "$OUT/extract" ]; then
        t_ex=$secs
        rss_ex=$rss
        n_ex=$(find "$OUT/extract" -type f -name '*.bin' | wc -l)
        du_ex=$(du -sm "$OUT/extract" | cut -f1)
        r=$(ratio "$t_tf" "$t_ex")
        echo "extract --outputs data: $(fmt "$t_ex") s, cpu $cpu ($n_ex files, $du_ex MB, $rss_ex MB peak)"
        echo "tcpflow -r:             $(fmt "$t_tf") s, cpu $cpu_tf ($n_tf files, $du_tf MB, $rss_tf MB peak)"
        echo "extract: $(fmt "$r")x faster than tcpflow (target >= 5)"
        summary+=("extract vs tcpflow           $(fmt "$r")x   target >= 5     $( [ "$(echo "$r >= 5" | bc)" = 1 ] && echo met || echo MISSED)")
        sync
        if [ "${BENCH_EXTRACT_ALL:-1}" = 0 ]; then
            echo "extract (every output): skipped (BENCH_EXTRACT_ALL=0)"
        elif run extract-all "$BIN" extract "$CAP" -o "$OUT/extract-all"; then
            echo "extract (every output: JSON, data, transcripts, hex, JavaScript, index): $(fmt "$secs") s, cpu $cpu, $(du -sm "$OUT/extract-all" | cut -f1) MB, $rss MB peak"
        else
            echo "extract (every output) failed: $(tail -n 2 "$OUT/extract-all.log")"
        fi
    else
        echo "extract failed: $(tail -n 3 "$OUT/extract.log")"
        summary+=("extract: failed")
    fi
    rm -rf "$OUT/tcpflow" "$OUT/extract" "$OUT/extract-all" "$OUT/cat.out"
fi

# -------------------------------------------------------------- follow
if [ "$nstreams" = 0 ]; then
    echo "follow: no sessions, skipped"
elif ! has_cmd follow; then
    echo "follow: not in this build, skipped"
    summary+=("follow: not in this build")
else
    if [ "$nstreams" -le "$SAMPLE" ]; then
        streams=$(seq 0 $((nstreams - 1)))
        how="all $nstreams streams"
    else
        streams=$(awk -v n="$nstreams" -v k="$SAMPLE" 'BEGIN { for (i = 0; i < k; i++) print int((i + 0.5) * n / k) }')
        how="a sample of $SAMPLE of $nstreams streams ($(echo $streams | tr ' ' ',')), per-stream mean scaled to all"
    fi
    k=0
    t_ours=0
    ferr=0
    for s in $streams; do
        run "follow-$s" "$BIN" follow -m raw -s "$s" "$CAP" || { echo "follow -s $s: exit $?: $(tail -n 1 "$OUT/follow-$s.log")"; ferr=1; }
        t_ours=$(echo "$t_ours + $secs" | bc -l)
        k=$((k + 1))
    done
    all_ours=$(echo "$t_ours / $k * $nstreams" | bc -l)
    echo "follow: $how: tcpsession $(fmt "$t_ours") s for $k, $(fmt "$all_ours") s for all"
    # every stream in one run: -z repeated, as tshark accepts it (batches of 1000)
    t_one=0
    for first in $(seq 0 1000 $((nstreams - 1))); do
        args=()
        for s in $(seq "$first" $((first + 999 < nstreams - 1 ? first + 999 : nstreams - 1))); do
            args+=(-z "follow,tcp,raw,$s")
        done
        run "follow-all-$first" "$BIN" follow "${args[@]}" "$CAP" || { echo "follow -z (from $first): exit $?: $(tail -n 1 "$OUT/follow-all-$first.log")"; ferr=1; }
        t_one=$(echo "$t_one + $secs" | bc -l)
    done
    echo "follow: all $nstreams streams in one run per 1000 (-z repeated): $(fmt "$t_one") s, $rss MB peak"
    if [ $ferr = 1 ]; then
        echo "follow: a run failed, no ratio"
        summary+=("follow: failed")
    elif command -v tshark >/dev/null; then
        t_ts=0
        same=0
        for s in $streams; do
            run "tshark-$s" tshark -r "$CAP" -q -z "follow,tcp,raw,$s" || echo "tshark -z follow,tcp,raw,$s: exit $?"
            grep -v "Running as user\|This could be dangerous" "$OUT/tshark-$s.log" >"$OUT/tshark-$s.out"
            mv "$OUT/tshark-$s.out" "$OUT/tshark-$s.log"
            t_ts=$(echo "$t_ts + $secs" | bc -l)
            cmp -s "$OUT/tshark-$s.log" "$OUT/follow-$s.log" && same=$((same + 1))
        done
        all_ts=$(echo "$t_ts / $k * $nstreams" | bc -l)
        r=$(ratio "$all_ts" "$all_ours")
        r1=$(ratio "$all_ts" "$t_one")
        echo "follow: tshark $(fmt "$t_ts") s for $k, $(fmt "$all_ts") s for all: one run per stream $(fmt "$r")x faster, one run for all $(fmt "$r1")x faster (target >= 100); output identical for $same of $k"
        summary+=("follow per stream vs tshark   $(fmt "$r")x   target >= 100   $( [ "$(echo "$r >= 100" | bc)" = 1 ] && echo met || echo MISSED)  ($how)")
        summary+=("follow all in one run vs tshark $(fmt "$r1")x   target >= 100   $( [ "$(echo "$r1 >= 100" | bc)" = 1 ] && echo met || echo MISSED)")
    else
        echo "follow: tshark not installed, no ratio"
        summary+=("follow: tshark not installed")
    fi
fi

echo
echo "summary ($CAP, $(fmt "$mb") MiB, $nstreams sessions):"
for line in "${summary[@]}"; do echo "  $line"; done
rm -rf "$OUT"
