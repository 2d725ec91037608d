#!/bin/bash
# Run criterion suites and record their counts.
#   tests/run_suites.sh RESULTS BIN...
# Each binary runs from the current directory (the top of the repository).
# One line per binary is appended to RESULTS: "NAME PASSED FAILED".  A binary
# that is missing (it did not build), crashes before its summary, or exits
# non-zero while its summary shows no failure counts as one failed test.
# Always exits 0: tests/summary.sh decides.
set -uo pipefail

results=$1
shift
: >"$results"
for bin in "$@"; do
    name=${bin#./}
    if [ ! -x "$bin" ]; then
        echo "== $name: DID NOT BUILD"
        echo "$name 0 1" >>"$results"
        continue
    fi
    echo "== $name"
    log=$(mktemp)
    "$bin" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -a 'Synthesis: Tested:' "$log" | tail -n 1)
    # a sanitizer report inside a criterion worker does not always fail the
    # test by itself: any report fails the suite
    san=$(grep -acE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer' "$log")
    rm -f "$log"
    if [ -z "$line" ]; then
        echo "== $name: no criterion summary (exit $rc): counted as failed"
        echo "$name 0 1" >>"$results"
        continue
    fi
    passed=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$line")
    failed=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$line")
    if [ "$san" -gt 0 ]; then
        echo "== $name: $san sanitizer reports: counted as failed"
        failed=$((failed + 1))
    fi
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        echo "== $name: exit $rc with no failing test: counted as failed"
        failed=1
    fi
    echo "$name $passed $failed" >>"$results"
done
exit 0
