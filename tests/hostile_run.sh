#!/bin/bash
# Hostile-input checks of `make test` (see tests/HOSTILE.md):
#   1. the adversarial captures at scale 1: results and peak memory within
#      the configured limits (build/san/hostile_caps check, ASan build);
#   2. failing allocators: every capture the suites build (saved by the tap
#      build in build/tap/caps/read), data/, the adversarial captures and
#      the corpus ($TCPS_CORPUS, skipped when absent), with the k-th
#      allocation failing (build/san/failalloc, ASan + LeakSanitizer); then
#      the segment sequences the reassembly suites feed (build/tap/caps/seg,
#      about 9000), every k, with the -O2 build (the allocator's accounting
#      finds leaks and wrong sizes; ASan over all of them takes ~10 min);
#      and the shared layer's extract writer (failalloc --extract) on data/,
#      the adversarial captures and the corpus, 40 values of k each.
# Every k runs for each capture where N (its allocation count) times its
# size is at most 64 MB; above that, 200 values of k (the first 100, then
# 100 spread evenly up to N). FAILALLOC_FULL=1 runs every k everywhere,
# with the ASan build and then the -O2 build (`make failalloc-full`).
# The last line is "hostile: P passed, F failed".
#   tests/hostile_run.sh [failalloc]     (failalloc: step 2 only)
set -uo pipefail
BUILD=${BUILD:-build}
only=${1:-}
pass=0
fail=0

count() { # add the "P passed, F failed" last line of a log; rc when no such line
    local log=$1 rc=$2 line p f
    line=$(grep -aE '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        fail=$((fail + 1))
        echo "hostile: no counts (exit $rc)"
        return
    fi
    p=$(sed -nE 's/^[a-z]+: ([0-9]+) passed.*/\1/p' <<<"$line")
    f=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$line")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    pass=$((pass + p))
    fail=$((fail + f))
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
caps=$BUILD/hostile/caps
mkdir -p "$caps"

for bin in "$BUILD/san/hostile_caps" "$BUILD/san/failalloc"; do
    if [ ! -x "$bin" ]; then
        echo "hostile: $bin is not built"
        echo "hostile: 0 passed, 1 failed"
        exit 1
    fi
done

if [ "$only" != failalloc ]; then
    echo "-- adversarial captures, scale 1 (limits and peak memory)"
    "$BUILD/san/hostile_caps" check 1 >"$log" 2>&1
    rc=$?
    cat "$log"
    count "$log" $rc
fi

"$BUILD/san/hostile_caps" write "$caps" 1 || fail=$((fail + 1))
inputs=(data "$caps")
seg=()
if [ -d "$BUILD/tap/caps/read" ]; then
    inputs+=("$BUILD/tap/caps/read")
    seg=("$BUILD/tap/caps/seg")
    echo "-- from the suites: $(ls "$BUILD/tap/caps/read" | wc -l) captures, $(ls "$BUILD/tap/caps/seg" | wc -l) segment sequences"
else
    echo "hostile: $BUILD/tap/caps is missing (make hostile-build): the suites' captures are not run"
    fail=$((fail + 1))
fi
if [ -n "${TCPS_CORPUS:-}" ] && [ -d "${TCPS_CORPUS}" ]; then
    inputs+=("$TCPS_CORPUS")
else
    echo "-- SKIPPED the corpus with failing allocators: TCPS_CORPUS (${TCPS_CORPUS:-unset}) is absent"
fi

run_failalloc() { # BIN ARGS... -- INPUTS...
    local bin=$1 args=() t0=$SECONDS rc
    shift
    while [ "$1" != -- ]; do args+=("$1"); shift; done
    shift
    echo "-- failing allocators: $bin ${args[*]} $*"
    "$bin" --quiet "${args[@]}" "$@" >"$log" 2>&1
    rc=$?
    grep -v '^ok ' "$log" | head -n 60
    echo "-- $((SECONDS - t0)) s"
    # one check per run (thousands of captures would swamp make test's
    # total); each failing capture and mode counts as a failure
    local before=$fail
    count "$log" $rc
    if [ $fail -eq $before ]; then pass=$((pass - $(sed -nE 's/^failalloc: ([0-9]+) passed.*/\1/p' "$log") + 1)); fi
}

if [ -n "${FAILALLOC_FULL:-}" ]; then
    run_failalloc "$BUILD/san/failalloc" -- "${inputs[@]}" "${seg[@]}"
    run_failalloc "$BUILD/san/failalloc" --extract -- "${inputs[@]}"
    [ -x "$BUILD/tests/failalloc" ] && run_failalloc "$BUILD/tests/failalloc" -- "${inputs[@]}" "${seg[@]}"
else
    run_failalloc "$BUILD/san/failalloc" --max-runs 200 --sample-above 64000000 -- "${inputs[@]}"
    # the extract writer, files and all: data/, the adversarial captures and
    # the corpus, sampled
    ex_inputs=(data "$caps")
    if [ -n "${TCPS_CORPUS:-}" ] && [ -d "${TCPS_CORPUS}" ]; then ex_inputs+=("$TCPS_CORPUS"); fi
    run_failalloc "$BUILD/san/failalloc" --extract --max-runs 40 -- "${ex_inputs[@]}"
    # the segment sequences: every k, the -O2 build (its own accounting
    # finds leaks and size mismatches; ASan over all of them: make failalloc-full)
    if [ ${#seg[@]} -gt 0 ]; then
        if [ -x "$BUILD/tests/failalloc" ]; then
            run_failalloc "$BUILD/tests/failalloc" -- "${seg[@]}"
        else
            echo "hostile: $BUILD/tests/failalloc is not built"
            fail=$((fail + 1))
        fi
    fi
fi

echo "hostile: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
