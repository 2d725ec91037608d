#!/bin/bash
# Run test scripts and record their counts.
#   tests/run_scripts.sh RESULTS SCRIPT...
# Each script ends with a line "N passed, M failed" (one word and a colon
# may stand before it). One line per script is appended to RESULTS:
# "NAME PASSED FAILED". A script that exits non-zero without such a line, or
# with no failure in it, counts as one failed test; one that printed no
# counts and exited 0 (it skipped, saying why) counts as nothing.
set -uo pipefail

results=$1
shift
: >"$results"
for script in "$@"; do
    [ -f "$script" ] || continue
    echo "== $script"
    log=$(mktemp)
    bash "$script" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -aE '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    rm -f "$log"
    if [ -z "$line" ]; then
        if [ "$rc" -ne 0 ]; then
            echo "== $script: exit $rc with no counts: counted as failed"
            echo "$script 0 1" >>"$results"
        fi
        continue
    fi
    passed=$(sed -nE 's/^([A-Za-z_-]+: )?([0-9]+) passed.*/\2/p' <<<"$line")
    failed=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$line")
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
    echo "$script $passed $failed" >>"$results"
done
exit 0
