#!/bin/bash
# Replays the inputs kept under tests/fuzz_regress/<harness>/ (each one made
# a harness fail once: see README there) and the seed inputs of every
# harness (fuzz/make_seeds.c) through the gcc + ASan/UBSan replay builds of
# the harnesses (build/fuzz/fuzz_<harness>-replay, `make fuzz-regress`
# builds them).  One test per input; a fault, a sanitizer report or a
# failed check in the harness fails it.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
passed=0
failed=0

run_dir() { # harness directory
    local h=$1 dir=$2 f bin=$BUILD/fuzz/fuzz_$1-replay
    if [ ! -x "$bin" ]; then
        echo "fuzz_regress: $bin missing: $dir counted as failed" >&2
        failed=$((failed + 1))
        return
    fi
    for f in "$dir"/*; do
        [ -f "$f" ] || continue
        case $f in *.md) continue ;; esac
        if "$bin" "$f" >/dev/null 2>"$BUILD/fuzz/regress.err"; then
            passed=$((passed + 1))
        else
            echo "FAIL: fuzz_$h $f"
            tail -n 20 "$BUILD/fuzz/regress.err"
            failed=$((failed + 1))
        fi
    done
}

mkdir -p "$BUILD/fuzz"
for d in tests/fuzz_regress/*/; do
    h=$(basename "$d")
    run_dir "$h" "${d%/}"
done
if [ -x "$BUILD/fuzz/make_seeds" ]; then
    seeds=$(mktemp -d)
    "$BUILD/fuzz/make_seeds" "$seeds" >/dev/null
    for d in "$seeds"/*/; do
        h=$(basename "$d")
        run_dir "$h" "${d%/}"
    done
    rm -rf "$seeds"
else
    echo "fuzz_regress: $BUILD/fuzz/make_seeds missing: the seeds were not replayed"
fi
echo "fuzz_regress: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
