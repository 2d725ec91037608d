#!/bin/bash
# `make valgrind`: the test suites, failalloc and the command's test scripts
# under valgrind memcheck (--leak-check=full; definite and indirect leaks
# are errors). See tests/HOSTILE.md.
#   tests/valgrind.sh SUITE_BIN...
# Criterion runs each test in a forked worker, and a worker's valgrind
# errors do not fail the test nor change the runner's exit status, so every
# suite runs with --trace-children=yes and -j1, and the "ERROR SUMMARY" of
# every process (runner and workers) is added up: any error fails the suite.
# Programs the tests start (tshark, tcpflow, shells, python) are not traced,
# nor children forked without exec (--child-silent-after-fork: criterion's
# workers are exec'd, so they are checked; a test's own forked helper that
# leaves by _exit, holding a copy of the parent's heap, is not).
# The command's scripts run with TCPSESSION set to a wrapper that runs the
# command under valgrind with --error-exitcode=99, which no check accepts.
# VALGRIND_CORPUS=1 keeps TCPS_CORPUS for the suites (hours); by default the
# suites run without the corpus, and the malformed-file suite with it.
# The last line is "valgrind: P passed, F failed".
set -uo pipefail
BUILD=${BUILD:-build}
VG=(valgrind --trace-children=yes
    "--trace-children-skip=*/tshark,*/tcpflow,*/dumpcap,*/sh,*/bash,*/python3*,*/env,*/cc,*/gcc,*/clang*,*/gzip,*/tar,*/md5sum,*/sha256sum,*/cmp,*/diff"
    --child-silent-after-fork=yes
    --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30)
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
t_all=$SECONDS

errors_in() { # sum of the ERROR SUMMARY counts in a log
    awk '/ERROR SUMMARY: [0-9]+ errors/ { for (i = 1; i <= NF; i++) if ($i == "SUMMARY:") n += $(i + 1) } END { print n + 0 }' "$1"
}

run_one() { # NAME CMD...
    local name=$1 t0=$SECONDS rc errs
    shift
    "${VG[@]}" "$@" >"$log" 2>&1
    rc=$?
    errs=$(errors_in "$log")
    local summary
    summary=$(grep -a 'Synthesis: Tested:' "$log" | tail -n 1)
    if [ "$errs" -eq 0 ] && [ "$rc" -eq 0 ]; then
        pass=$((pass + 1))
        echo "ok   $name ($((SECONDS - t0)) s) ${summary#*Synthesis: }"
    else
        fail=$((fail + 1))
        echo "FAIL $name: exit $rc, $errs valgrind errors ($((SECONDS - t0)) s) ${summary#*Synthesis: }"
        grep -aE '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|[0-9,]+ bytes in)' "$log" | head -n 20
        grep -aE 'Failing: [1-9]|Crashing: [1-9]|\[FAIL\]' "$log" | head -n 10
    fi
}

for bin in "$@"; do
    name=$(basename "$bin")
    if [ ! -x "$bin" ]; then
        echo "FAIL $name: not built"
        fail=$((fail + 1))
        continue
    fi
    if [ "$name" = test_malformed ] || [ -n "${VALGRIND_CORPUS:-}" ]; then
        run_one "$name" "$bin" -j1
    else
        TCPS_CORPUS=/nonexistent run_one "$name" "$bin" -j1
    fi
done

# failing allocators on the small captures (every k would take hours under
# valgrind: 20 values of k per capture)
if [ -x "$BUILD/tests/failalloc" ] && [ -x "$BUILD/tests/hostile_caps" ]; then
    mkdir -p "$BUILD/hostile/caps"
    "$BUILD/tests/hostile_caps" write "$BUILD/hostile/caps" 1
    run_one "failalloc (data/, adversarial captures, 20 k each)" "$BUILD/tests/failalloc" --quiet --max-runs 20 \
        data "$BUILD/hostile/caps"
    run_one "hostile_caps check 1" "$BUILD/tests/hostile_caps" check 1
fi

# the command's scripts, the command under valgrind
if [ -x "$BUILD/tcpsession" ]; then
    wrap=$(mktemp -d)
    top=$(pwd)
    {
        echo '#!/bin/sh'
        printf 'exec valgrind -q --trace-children=yes %s --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 %s "$@"\n' \
            "'${VG[2]}'" "'$top/$BUILD/tcpsession'"
    } >"$wrap/tcpsession"
    chmod +x "$wrap/tcpsession"
    for s in tests/cli/test_*.sh; do
        t0=$SECONDS
        TCPSESSION=$wrap/tcpsession BUILD="$BUILD" bash "$s" >"$log" 2>&1
        rc=$?
        line=$(grep -aE '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
        if [ "$rc" -eq 0 ] && ! grep -q '^==[0-9]*== ' "$log"; then
            pass=$((pass + 1))
            echo "ok   $s under valgrind ($((SECONDS - t0)) s): $line"
        else
            fail=$((fail + 1))
            echo "FAIL $s under valgrind (exit $rc, $((SECONDS - t0)) s): $line"
            grep -aE '^FAIL|^==[0-9]+== (Invalid|Conditional|Use of|[0-9,]+ bytes in)' "$log" | head -n 20
        fi
    done
    rm -rf "$wrap"
fi

echo "valgrind: $((SECONDS - t_all)) s in all"
echo "valgrind: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
