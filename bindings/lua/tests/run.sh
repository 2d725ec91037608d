#!/bin/bash
# The Lua module's tests: every bindings/lua/tests/test_*.lua with lua5.4
# and build/lua/tcpsession.so, then the memory tests again with the module
# built with AddressSanitizer (build/lua-san, gcc's libasan preloaded into
# the uninstrumented interpreter, leak check on).  Each test file prints
# "N passed, M failed"; a file that dies without that line counts as one
# failure.  Last line: "lua: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../../.."
BUILD=${BUILD:-build}
LUA=${LUA:-lua5.4}
export BUILD LUA TCPSESSION=${TCPSESSION:-$BUILD/tcpsession}
export LUA_PATH="bindings/lua/tests/?.lua;;"
passed=0 failed=0

if ! command -v "$LUA" >/dev/null 2>&1; then
    echo "lua: $LUA not found (apt-get install lua5.4 liblua5.4-dev): Lua tests skipped"
    exit 0
fi
if [ ! -f "$BUILD/lua/tcpsession.so" ]; then
    echo "lua: $BUILD/lua/tcpsession.so was not built (make lua; needs liblua5.4-dev)"
    echo "lua: 0 passed, 1 failed"
    exit 1
fi

run() { # NAME CPATH PRELOAD FILE
    local name=$1 cpath=$2 preload=$3 file=$4 out rc line p f
    out=$(LUA_CPATH="$cpath/?.so" LD_PRELOAD="$preload" "$LUA" "$file" 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed "s|^|$name: |"
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -z "$line" ]; then
        echo "$name: exit $rc without counts: one failure"
        failed=$((failed + 1))
        return
    fi
    p=${line%% passed*}
    f=${line#*, }
    f=${f%% failed}
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    passed=$((passed + p))
    failed=$((failed + f))
}

for t in bindings/lua/tests/test_*.lua; do
    run "$(basename "$t" .lua)" "$BUILD/lua" "" "$t"
done

check() { # NAME COMMAND...: one more passed or failed
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then
        echo "install: ok - $name"
        passed=$((passed + 1))
    else
        echo "install: not ok - $name"
        failed=$((failed + 1))
    fi
}

# make install puts the module where lua5.4 looks by default
dest=$(mktemp -d)
check "make install DESTDIR=... puts tcpsession.so under PREFIX/lib/lua/5.4" \
    make --no-print-directory install DESTDIR="$dest" PREFIX=/usr/local BUILD="$BUILD"
check "the installed module is found through lua5.4's own cpath (/usr/local/lib/lua/5.4/?.so)" \
    env -u LUA_CPATH -u LUA_CPATH_5_4 "$LUA" -e "
        assert(package.cpath:find('/usr/local/lib/lua/5.4/?.so', 1, true), package.cpath)
        package.cpath = '$dest/usr/local/lib/lua/5.4/?.so'
        assert(require('tcpsession').sessions)"
check "make uninstall removes it" \
    sh -c "make --no-print-directory uninstall DESTDIR='$dest' PREFIX=/usr/local BUILD='$BUILD' &&
           test ! -e '$dest/usr/local/lib/lua/5.4/tcpsession.so'"
rm -rf "$dest"

# the rockspec builds with luarocks, when it is installed
if command -v luarocks >/dev/null 2>&1; then
    tree=$(mktemp -d)
    check "luarocks make builds the rockspec" sh -c "luarocks --lua-version 5.4 make --tree '$tree' \
        bindings/lua/tcpsession-*.rockspec && LUA_CPATH='$tree/lib/lua/5.4/?.so' '$LUA' -e '
        local n = 0 for s in require(\"tcpsession\").sessions(\"data/sample.pcap\") do n = n + 1 end
        assert(n == 6)'"
    rm -rf "$tree" build/luarocks
else
    echo "install: luarocks not installed: the rockspec build is not tested"
fi

asan=$(gcc -print-file-name=libasan.so 2>/dev/null)
ubsan=$(gcc -print-file-name=libubsan.so 2>/dev/null)
if [ -f "$BUILD/lua-san/tcpsession.so" ] && [ -f "$asan" ] && [ -f "$ubsan" ]; then
    for t in test_gc test_callbacks test_errors test_sample; do
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=1 UBSAN_OPTIONS=print_stacktrace=1 \
            TCPS_LUA_SAN=1 run "asan-$t" "$BUILD/lua-san" "$asan $ubsan" "bindings/lua/tests/$t.lua"
    done
else
    echo "lua: no $BUILD/lua-san/tcpsession.so or no gcc libasan: the AddressSanitizer runs are skipped"
fi

echo "lua: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
