#!/bin/bash
# Sum the result files of tests/run_suites.sh and tests/test_compile.sh
# ("NAME PASSED FAILED" per line) and print the closing line
# "N passed, M failed".  Exits 1 when anything failed or nothing ran.
set -uo pipefail

passed=0
failed=0
for f in "$@"; do
    [ -f "$f" ] || { echo "summary: $f missing (that step did not run)"; failed=$((failed + 1)); continue; }
    while read -r name p q; do
        [ -n "${name:-}" ] || continue
        passed=$((passed + p))
        failed=$((failed + q))
        [ "$q" -eq 0 ] || echo "FAILED: $name ($q)"
    done <"$f"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
