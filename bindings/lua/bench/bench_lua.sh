#!/bin/bash
# make bench-lua: the same capture through `tcpsession list --json` and
# through Lua (reassemble() with an on_data callback that counts bytes;
# then sessions() without the bytes kept), best of 3 runs each, by CPU time
# (user+sys) and by wall time, and the ratio Lua / command.  The command's
# list hashes every byte (sha256, for its c2s_sha256/s2c_sha256 fields);
# the Lua callback does not, so a C program doing what the callback does
# (build/lua/count_c) runs too: Lua / C is the binding's own cost.
#   bench_lua.sh CAPTURE        (TCPSESSION, BUILD, LUA from the Makefile)
set -euo pipefail
cap=$1
BUILD=${BUILD:-build}
LUA=${LUA:-lua5.4}
TCPSESSION=${TCPSESSION:-$BUILD/tcpsession}
export LUA_CPATH="$BUILD/lua/?.so"
here=$(dirname "$0")
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

best() { # prints "cpu wall" of the best of 3 runs (by cpu)
    local bc="" bw="" i
    for i in 1 2 3; do
        /usr/bin/time -f "%U %S %e" -o "$tmp" "$@" >/dev/null
        read -r u s w <"$tmp"
        c=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
        if [ -z "$bc" ] || awk -v a="$c" -v b="$bc" 'BEGIN { exit !(a < b) }'; then bc=$c bw=$w; fi
    done
    echo "$bc $bw"
}

size=$(stat -c %s "$cap")
echo "capture: $cap ($((size / 1048576)) MiB); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (shared machine)"
echo "Lua: $("$LUA" -e 'print(require("tcpsession")._VERSION)')"
"$LUA" "$here/count.lua" "$cap"
read -r cc cw < <(best "$TCPSESSION" list --json "$cap")
read -r kc kw < <(best "$BUILD/lua/count_c" "$cap")
read -r sc sw < <(best "$LUA" "$here/count.lua" "$cap" stream)
read -r ic iw < <(best "$LUA" "$here/count.lua" "$cap" sessions)
printf '%-44s %8s %8s %8s %8s\n' "best of 3" "cpu s" "wall s" "cpu x" "wall x"
row() { awk -v n="$1" -v c="$2" -v w="$3" -v cc="$cc" -v cw="$cw" \
    'BEGIN { printf "%-44s %8.2f %8.2f %8.2f %8.2f\n", n, c, w, c / cc, w / cw }'; }
row "tcpsession list --json" "$cc" "$cw"
row "C callbacks count bytes (count_c)" "$kc" "$kw"
row "Lua reassemble(), on_data counts bytes" "$sc" "$sw"
row "Lua sessions({ data = false })" "$ic" "$iw"
awk -v s="$sc" -v c="$cc" 'BEGIN { r = s / c; printf "ratio (Lua on_data / list --json, cpu): %.2fx, target 1.5x: %s\n", r, r <= 1.5 ? "met" : "NOT met" }'
awk -v s="$sc" -v c="$kc" 'BEGIN { printf "ratio (Lua on_data / the same callback in C, cpu): %.2fx\n", (c > 0 ? s / c : 0) }'
