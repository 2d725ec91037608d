#!/bin/bash
# Long fuzzing runs, in the background, at low priority: each harness named
# (reader pcapng decoder defrag reassembly diff http_js; none: all of them)
# runs FUZZ_SECONDS seconds (default 1850) on its own corpus, seeds and kept
# regression inputs, with its dictionary; the log, with libFuzzer's final
# statistics, goes to build/fuzz/long/NAME.log (wall seconds in NAME.wall,
# user+system CPU seconds in NAME.cpu).  Build first:
#     make fuzz fuzz-corpus
#     FUZZ_SECONDS=1850 bash fuzz/long_run.sh       (all seven at once)
#     bash fuzz/long_run.sh reader pcapng           (some)
# Then summarize:  bash fuzz/long_run.sh --summary
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
secs=${FUZZ_SECONDS:-1850}
out=$BUILD/fuzz/long
mkdir -p "$out" "$BUILD/fuzz/artifacts"

if [ "${1:-}" = "--summary" ]; then
    printf '%-12s %10s %12s %8s %8s %8s %7s %s\n' harness exec/s executions edges features corpus wall_s cpu_s
    for log in "$out"/*.log; do
        n=$(basename "$log" .log)
        done_line=$(grep -aE '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
        if [ -z "$done_line" ]; then
            echo "$n: running or stopped early: $(tail -c 300 "$log" | tail -n 1 | cut -c 1-100)"
            grep -aE 'ERROR: |SUMMARY: |Test unit written' "$log" | head -n 5 || true
            continue
        fi
        execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n 1)
        rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -n 1)
        cov=$(sed -nE 's/.* cov: ([0-9]+) .*/\1/p' <<<"$done_line")
        ft=$(sed -nE 's/.* ft: ([0-9]+) .*/\1/p' <<<"$done_line")
        corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$done_line")
        wall=$(cat "$out/$n.wall" 2>/dev/null || echo '?')
        cpu=$(awk '{printf "%.0f", $1 + $2}' "$out/$n.cpu" 2>/dev/null || true)
        printf '%-12s %10s %12s %8s %8s %8s %7s %s\n' "$n" "${rate:-?}" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$wall" "${cpu:-?}"
        grep -aE 'ERROR: |SUMMARY: |Test unit written' "$log" | head -n 5 || true
    done
    exit 0
fi

names=("$@")
[ ${#names[@]} -eq 0 ] && names=(reader pcapng decoder defrag reassembly diff http_js)
for n in "${names[@]}"; do
    bin=$BUILD/fuzz/fuzz_$n
    [ -x "$bin" ] || { echo "long_run: $bin missing (make fuzz)" >&2; exit 1; }
    corpus=$BUILD/fuzz/corpus/$n
    mkdir -p "$corpus"
    dirs=("$corpus")
    [ -d "$BUILD/fuzz/seeds/$n" ] && dirs+=("$BUILD/fuzz/seeds/$n")
    [ -d "tests/fuzz_regress/$n" ] && dirs+=("tests/fuzz_regress/$n")
    dict=()
    [ -f "fuzz/$n.dict" ] && dict=(-dict="fuzz/$n.dict")
    (
        start=$(date +%s)
        timer=()
        [ -x /usr/bin/time ] && timer=(/usr/bin/time -f '%U %S' -o "$out/$n.cpu")
        nice -n 10 "${timer[@]}" "$bin" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -max_len=65536 -print_final_stats=1 -artifact_prefix="$BUILD/fuzz/artifacts/$n-" \
            "${dirs[@]}" >"$out/$n.log" 2>&1 || true
        echo $(($(date +%s) - start)) >"$out/$n.wall"
    ) &
    echo "long_run: fuzz_$n for $secs s, log $out/$n.log (pid $!)"
done
