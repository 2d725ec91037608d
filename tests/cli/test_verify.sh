#!/bin/bash
# tests/cli/test_verify.sh - `tcpsession verify` against tshark and tcpflow.
#
#     TCPSESSION=build/tcpsession TCPS_CORPUS=../shared/corpus bash tests/cli/test_verify.sh
#
# Builds its captures with tests/cli/mkcaps_verify.c (the bytes each session
# carries are written beside them, so the hashes are checked against what
# the captures were made of, not against our own output). Cases that need
# tshark or tcpflow are skipped with a message when the tool is missing; a
# stand-in tshark script checks the failure path and exit status 1 without
# either. Takes about 15 s with both tools installed.
set -u
cd "$(dirname "$0")/../.." || exit 2
BIN=${TCPSESSION:-build/tcpsession}
CORPUS=${TCPS_CORPUS:-../shared/corpus}
CC=${CC:-cc}
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
skip() { echo "skip: $*"; }
check() { # check NAME CONDITION...
    local name=$1
    shift
    if "$@"; then ok; else bad "$name"; fi
}

if [ ! -x "$BIN" ]; then
    echo "FAIL: $BIN is not built"
    echo "0 passed, 1 failed"
    exit 1
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/test_verify.XXXXXX")
trap 'rm -rf "$T"' EXIT
if ! $CC -std=c99 -D_POSIX_C_SOURCE=200809L -O1 -Itests -o "$T/mkcaps" tests/cli/mkcaps_verify.c ||
    ! "$T/mkcaps" "$T"; then
    echo "FAIL: cannot build the test captures"
    echo "0 passed, 1 failed"
    exit 1
fi
have_tshark=0 have_tcpflow=0
command -v tshark >/dev/null 2>&1 && have_tshark=1
command -v tcpflow >/dev/null 2>&1 && have_tcpflow=1
sha() { sha256sum "$1" | cut -d' ' -f1; }
# value of a JSON field in one line of --json output (our own flat objects)
jfield() { sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p"; }

# ---------------------------------------------------------- command line
"$BIN" verify --help >"$T/out" 2>&1
check "--help exits 0 and names --against" [ $? = 0 ]
check "--help text" grep -q -- "--against tshark" "$T/out"
"$BIN" verify "$T/two.pcap" >/dev/null 2>&1
check "no --against: exit 2" [ $? = 2 ]
"$BIN" verify --against wireshark "$T/two.pcap" >/dev/null 2>&1
check "unknown peer: exit 2" [ $? = 2 ]
"$BIN" verify --against tshark >/dev/null 2>&1
check "no capture: exit 2" [ $? = 2 ]
TSHARK=$T/no-such-tshark "$BIN" verify --against tshark "$T/two.pcap" >/dev/null 2>"$T/err"
check "peer not installed: exit 5" [ $? = 5 ]
check "peer not installed: says so" grep -q "not installed" "$T/err"
TCPFLOW=$T/no-such-tcpflow "$BIN" verify --against tcpflow "$T/two.pcap" >/dev/null 2>&1
check "tcpflow not installed: exit 5" [ $? = 5 ]

# A stand-in tshark: stream 0 of two.pcap with byte 3000 of the server's
# bytes changed, stream 1 absent from follow's output. verify must fail
# those rows and exit 1.
if command -v xxd >/dev/null 2>&1; then
    {
        echo "==================================================================="
        echo "Follow: tcp,raw"
        echo "Filter: tcp.stream eq 0"
        echo "Node 0: 10.0.0.1:40000"
        echo "Node 1: 10.0.0.2:80"
        xxd -p -c 100000 "$T/two.0.c2s"
        printf '\t%s\n' "$(head -c 3000 "$T/two.0.s2c" | xxd -p -c 100000)"
        printf '\t58%s\n' "$(tail -c 42 "$T/two.0.s2c" | xxd -p -c 100000)"
        echo "==================================================================="
    } >"$T/fake-follow"
    printf '#!/bin/sh\ncase "$*" in *fields*) printf "0\\n0\\n1\\n" ;; *) cat "%s" ;; esac\n' \
        "$T/fake-follow" >"$T/fake-tshark"
    chmod +x "$T/fake-tshark"
fi
if command -v xxd >/dev/null 2>&1; then
    TSHARK=$T/fake-tshark "$BIN" verify --against tshark "$T/two.pcap" >"$T/out" 2>&1
    rc=$?
    check "differences: exit 1 (got $rc)" [ $rc = 1 ]
    check "differences: summary line" [ "$(tail -n 1 "$T/out")" = "1 passed, 3 failed" ]
    check "differences: s2c byte 3000 named" grep -q "s2c .*FAIL.*bytes differ from offset 3000" "$T/out"
    check "differences: stream 1 missing" grep -q "1  c2s .*FAIL.*tshark has no stream 1" "$T/out"
else
    skip "xxd missing: stand-in tshark cases"
fi

# ---------------------------------------------------------------- tshark
if [ $have_tshark = 1 ]; then
    "$BIN" verify --against tshark "$T/two.pcap" >"$T/out" 2>&1
    rc=$?
    check "two.pcap vs tshark: exit 0 (got $rc)" [ $rc = 0 ]
    check "two.pcap vs tshark: 4 passed" [ "$(tail -n 1 "$T/out")" = "4 passed, 0 failed" ]
    "$BIN" verify --against tshark --json "$T/two.pcap" >"$T/json" 2>"$T/err"
    check "--json: 4 rows" [ "$(wc -l <"$T/json")" = 4 ]
    check "--json: summary on stderr" grep -q "^4 passed, 0 failed$" "$T/err"
    for s in 0 1; do
        for d in c2s s2c; do
            row=$(grep "\"stream\":$s,\"dir\":\"$d\"" "$T/json")
            want=$(sha "$T/two.$s.$d")
            check "--json $s $d: ours_sha256 is the bytes sent" [ "$(echo "$row" | jfield ours_sha256)" = "$want" ]
            check "--json $s $d: peer_sha256 is the bytes sent" [ "$(echo "$row" | jfield peer_sha256)" = "$want" ]
            check "--json $s $d: status ok" [ "$(echo "$row" | jfield status)" = ok ]
        done
    done
    "$BIN" verify --against tshark -a "$T/hole.pcap" >"$T/out" 2>&1
    rc=$?
    check "hole.pcap vs tshark: exit 0 (got $rc)" [ $rc = 0 ]
    check "hole.pcap: data behind the hole is a known difference" \
        grep -q "^ *0  c2s .* 200 *100  known  we deliver 100 bytes held behind a hole" "$T/out"
    "$BIN" verify --against tshark "$T/synack.pcap" >"$T/out" 2>&1
    check "synack.pcap (node 0 is the server): exit 0" [ $? = 0 ]
    gzip -c "$T/two.pcap" >"$T/two.pcap.gz"
    "$BIN" verify --against tshark "$T/two.pcap.gz" >"$T/out" 2>&1
    check "gzip capture: exit 0" [ $? = 0 ]
    check "gzip capture: 4 passed" [ "$(tail -n 1 "$T/out")" = "4 passed, 0 failed" ]
    "$BIN" verify --against tshark - <"$T/two.pcap" >"$T/out" 2>&1
    check "stdin: exit 0" [ $? = 0 ]
    check "stdin: 4 passed" [ "$(tail -n 1 "$T/out")" = "4 passed, 0 failed" ]
    "$BIN" verify --against tshark --keep "$T/two.pcap" >"$T/out" 2>"$T/err"
    kept=$(sed -n 's/.*output kept in //p' "$T/err")
    check "--keep: directory named and kept" [ -n "$kept" ] && [ -d "$kept" ]
    check "--keep: tshark's bytes of stream 0 node 1" cmp -s "$kept/tshark/0.1" "$T/two.0.s2c"
    [ -n "$kept" ] && rm -rf "$kept"
    "$BIN" verify --against tshark "$T/missing.pcap" >"$T/out" 2>"$T/err"
    check "missing capture: exit 3" [ $? = 3 ]
    check "missing capture: named" grep -q "missing.pcap" "$T/err"
    head -c $(($(wc -c <"$T/two.pcap") - 10)) "$T/two.pcap" >"$T/cut.pcap"
    "$BIN" verify --against tshark "$T/cut.pcap" >"$T/out" 2>"$T/err"
    check "truncated capture: exit 3" [ $? = 3 ]
    check "truncated capture: byte offset" grep -q "at byte [0-9]" "$T/err"
    if [ -f "$CORPUS/dpkt/http.pcap" ]; then
        "$BIN" verify --against tshark "$CORPUS/dpkt/http.pcap" "$CORPUS/pcapplusplus/650HttpResponses.pcap" \
            >"$T/out" 2>&1
        rc=$?
        check "corpus vs tshark: exit 0 (got $rc)" [ $rc = 0 ]
        check "corpus: known rows for data tshark drops at the end" grep -q "known  we deliver" "$T/out"
        check "corpus: no failed row" grep -q " 0 failed$" "$T/out"
        # three connections on one 4-tuple, each on its own VLAN: tshark
        # merges them into one stream, --separate-vlans keeps them apart
        "$BIN" verify --against tshark --separate-vlans -a "$CORPUS/zeek/vlan-collisions.pcap" >"$T/out" 2>&1
        check "--separate-vlans vs tshark: exit 0" [ $? = 0 ]
        check "--separate-vlans: sessions matched to tshark's merged stream" \
            [ "$(grep -c "tshark's stream 0, which merges the VLANs" "$T/out")" = 4 ]
    else
        skip "corpus absent ($CORPUS): corpus cases"
    fi
else
    skip "tshark not installed: tshark cases"
fi

# --------------------------------------------------------------- tcpflow
if [ $have_tcpflow = 1 ]; then
    "$BIN" verify --against tcpflow "$T/two.pcap" >"$T/out" 2>&1
    rc=$?
    check "two.pcap vs tcpflow: exit 0 (got $rc)" [ $rc = 0 ]
    check "two.pcap vs tcpflow: 4 passed" [ "$(tail -n 1 "$T/out")" = "4 passed, 0 failed" ]
    "$BIN" verify --against tcpflow -a "$T/pad.pcap" >"$T/out" 2>&1
    check "pad.pcap vs tcpflow: exit 0" [ $? = 0 ]
    check "pad.pcap: the 4 bytes of padding after the server's 2 are known" \
        grep -q "^ *0  s2c .* 13 *17  known  tcpflow writes 4 bytes after our last byte (the Ethernet padding" "$T/out"
    "$BIN" verify --against tcpflow -a "$T/hole.pcap" >"$T/out" 2>&1
    check "hole.pcap vs tcpflow: exit 0" [ $? = 0 ]
    check "hole.pcap: tcpflow's zeros for the hole are known" \
        grep -q "^ *0  c2s .* 200 *300  known  tcpflow writes the 100 missing bytes as zeros" "$T/out"
    gzip -c "$T/two.pcap" >"$T/two2.pcap.gz"
    "$BIN" verify --against tcpflow "$T/two2.pcap.gz" >"$T/out" 2>&1
    check "gzip capture vs tcpflow (copied for it): exit 0" [ $? = 0 ]
    "$BIN" verify --against tcpflow --json "$T/two.pcap" 2>/dev/null | grep '"stream":0,"dir":"s2c"' >"$T/row"
    check "tcpflow --json: peer bytes" [ "$(jfield peer_bytes <"$T/row")" = "$(wc -c <"$T/two.0.s2c")" ]
    if [ -f "$CORPUS/zeek/workshop_2011_browse.pcap" ]; then
        "$BIN" verify --against tcpflow "$CORPUS/zeek/workshop_2011_browse.pcap" >"$T/out" 2>&1
        check "corpus vs tcpflow (padding only): exit 0" [ $? = 0 ]
        check "corpus vs tcpflow: padding rows" [ "$(grep -c "known  tcpflow writes 6 bytes" "$T/out")" = 6 ]
    else
        skip "corpus absent ($CORPUS): tcpflow corpus case"
    fi
else
    skip "tcpflow not installed: tcpflow cases"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
