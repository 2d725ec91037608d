#!/usr/bin/env bash
# test_follow.sh - tests of `tcpsession follow`.
#
#   TCPSESSION   the binary (default build/tcpsession)
#   TCPS_CORPUS  the shared capture corpus (default ../shared/corpus)
#   CC           compiler for the capture generator (default cc)
#   FOLLOW_JOBS  parallel tshark/tcpsession pairs on the corpus (default 2)
#
# Without tshark, the cases that diff against it are skipped with a message;
# without the corpus, so is the corpus comparison. The rest always runs:
# option spellings, -e in both orders, a missing stream, bad arguments,
# missing and truncated captures, stdin and gzip input, --all-data.
#
# The corpus comparison runs, per capture, one tshark and one tcpsession
# with a -z follow,tcp,MODE,N for every stream and every mode (ascii, ebcdic,
# hex, raw, yaml), and compares the two outputs byte for byte; a difference
# is reported with the stream, the modes and the first differing line. The
# whole script took 4 minutes on two cores (5 CPU-minutes, nearly all of it
# tshark: a start-up per capture, and each follow tap looks at every packet,
# so zeek/echo-connections.pcap, 500 streams of 82k packets, alone takes
# half a minute); without the corpus, about 20 seconds.
#
# Streams listed in tests/KNOWN_DIFFERENCES.md (where tshark is wrong) are
# left out of the comparison, with a count printed.
set -u

TCPSESSION=${TCPSESSION:-build/tcpsession}
TCPS_CORPUS=${TCPS_CORPUS:-../shared/corpus}
JOBS=${FOLLOW_JOBS:-2}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
case $TCPSESSION in /*) ;; *) TCPSESSION=$PWD/$TCPSESSION ;; esac
MODES="ascii ebcdic hex raw yaml"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}

if [ ! -x "$TCPSESSION" ]; then
    echo "FAIL: no binary at $TCPSESSION (set TCPSESSION)"
    echo "0 passed, 1 failed"
    exit 1
fi
have_tshark=0
if command -v tshark >/dev/null 2>&1; then have_tshark=1; else echo "skip: tshark not installed, no comparison with it"; fi

# ---------------------------------------------------------------- captures
if ! ${CC:-cc} -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -o "$tmp/follow_caps" "$here/follow_caps.c" 2>"$tmp/cc.err"; then
    bad "follow_caps.c does not compile: $(head -3 "$tmp/cc.err")"
    echo "$pass passed, $fail failed"
    exit 1
fi
cap=$tmp/caps
mkdir -p "$cap"
"$tmp/follow_caps" "$cap" || bad "follow_caps failed"

ts() { "$TCPSESSION" "$@" 2>"$tmp/err"; }

# expect_same NAME FILE1 FILE2
expect_same() {
    if cmp -s "$2" "$3"; then ok; else bad "$1: $(diff "$2" "$3" | head -4 | tr '\n' '|')"; fi
}

# ------------------------------------------------------- option spellings
B=$cap/basic.pcap
ts follow -m hex -s 0 "$B" >"$tmp/ref" || bad "follow -m hex -s 0: exit $?"
grep -q '^Follow: tcp,hex$' "$tmp/ref" && grep -q '^Filter: tcp.stream eq 0$' "$tmp/ref" ||
    bad "follow -m hex -s 0: no header"
n=0
for spelling in "follow -z follow,tcp,hex,0 $B" "-r $B -q -z follow,tcp,hex,0" "-r $B -z follow,tcp,hex,0" \
    "follow -zfollow,tcp,hex,0 -r $B" "follow $B -s 0 -m hex" "follow --mode=hex -s 0 $B" \
    "follow --mode hex -n -q -s 0 $B" "-n -q -r $B -z follow,tcp,hex,0"; do
    n=$((n + 1))
    # shellcheck disable=SC2086
    ts $spelling >"$tmp/out$n"
    rc=$?
    [ $rc = 0 ] || bad "'$spelling': exit $rc"
    expect_same "'$spelling' differs from 'follow -m hex -s 0'" "$tmp/ref" "$tmp/out$n"
done
ts follow -s 0 "$B" >"$tmp/a1"
ts follow -m ascii -s 0 "$B" >"$tmp/a2"
expect_same "the default mode is not ascii" "$tmp/a2" "$tmp/a1"

# several requests: printed in the reverse of their order, as tshark does
ts follow -z follow,tcp,raw,0 -z follow,tcp,yaml,0 -z follow,tcp,ascii,5 "$B" >"$tmp/multi"
{ ts follow -z follow,tcp,ascii,5 "$B"; ts follow -z follow,tcp,yaml,0 "$B"; ts follow -z follow,tcp,raw,0 "$B"; } >"$tmp/multi_ref"
expect_same "several -z are not printed last first" "$tmp/multi_ref" "$tmp/multi"

# ---------------------------------------------------------------- -e forms
ts follow -m raw -s 0 "$B" | tail -n +5 >"$tmp/s0"
for e in 10.0.0.1:43210,10.0.0.2:80 10.0.0.2:80,10.0.0.1:43210; do
    ts follow -m raw -e "$e" "$B" >"$tmp/e"
    rc=$?
    [ $rc = 0 ] || bad "-e $e: exit $rc"
    tail -n +5 "$tmp/e" >"$tmp/e_tail"
    expect_same "-e $e does not give stream 0's nodes and records" "$tmp/s0" "$tmp/e_tail"
    a=${e%,*} b=${e#*,}
    want="Filter: ((ip.src eq ${a%:*} and tcp.srcport eq ${a##*:}) and (ip.dst eq ${b%:*} and tcp.dstport eq ${b##*:})) or ((ip.src eq ${b%:*} and tcp.srcport eq ${b##*:}) and (ip.dst eq ${a%:*} and tcp.dstport eq ${a##*:}))"
    if [ "$(sed -n 4p "$tmp/e")" = "$want" ]; then ok; else bad "-e $e: filter line '$(sed -n 4p "$tmp/e")'"; fi
done
# IPv6, written unabbreviated: the filter shows it in RFC 5952 form
ts follow -m ascii -e '[2001:0db8:0000:0000:0000:0000:0000:0001]:50000,[2001:db8:0:1::25]:25' "$cap/ipv6.pcap" >"$tmp/e6"
if grep -q '^Node 0: \[2001:db8::1\]:50000$' "$tmp/e6" && grep -q 'ipv6.src eq 2001:db8::1 and tcp.srcport eq 50000' "$tmp/e6"; then ok; else bad "-e with IPv6: $(head -6 "$tmp/e6" | tr '\n' '|')"; fi
# port reuse: -e follows the first connection on the pair
ts follow -m ascii -e 10.0.0.1:43219,10.0.0.2:80 "$cap/reuse.pcap" >"$tmp/reuse"
if grep -q '^first$' "$tmp/reuse" && ! grep -q '^second$' "$tmp/reuse"; then ok; else bad "-e on a reused pair: not the first connection"; fi

# ------------------------------------------------------- missing stream
ts follow -m ascii -s 7 "$B" >"$tmp/none"
rc=$?
printf '\n%s\nFollow: tcp,ascii\nFilter: tcp.stream eq 7\nNode 0: :0\nNode 1: :0\n%s\n' \
    "===================================================================" \
    "===================================================================" >"$tmp/none_ref"
[ $rc = 0 ] || bad "missing stream: exit $rc"
expect_same "missing stream" "$tmp/none_ref" "$tmp/none"
ts follow -m yaml -s 7 "$B" >"$tmp/none_y"
printf 'peers:\n  - peer: 0\n    host: \n    port: 0\n  - peer: 1\n    host: \n    port: 0\npackets:\n' >"$tmp/none_y_ref"
expect_same "missing stream, yaml" "$tmp/none_y_ref" "$tmp/none_y"

# ---------------------------------------------------------- bad arguments
badarg() { # expected: exit 2, a message, nothing on stdout
    "$TCPSESSION" "$@" >"$tmp/bo" 2>"$tmp/be"
    rc=$?
    if [ $rc = 2 ] && [ -s "$tmp/be" ] && [ ! -s "$tmp/bo" ]; then ok; else bad "'$*': exit $rc (want 2), stderr '$(head -1 "$tmp/be")', $(wc -c <"$tmp/bo") bytes out"; fi
}
badarg follow -m bogus -s 0 "$B"
badarg follow -m utf-8 -s 0 "$B"
badarg follow -s x "$B"
badarg follow -s -1 "$B"
badarg follow -s "$B"
badarg follow -s 0
badarg follow -s 0 "$B" "$B"
badarg follow "$B"
badarg follow -m hex "$B"
badarg follow -e 10.0.0.1,10.0.0.2 "$B"
badarg follow -e 10.0.0.1:43210 "$B"
badarg follow -e 10.0.0.1:99999,10.0.0.2:80 "$B"
badarg follow -e 10.0.0.1:43210,[::1]:80 "$B"
badarg follow -e 10.0.0.300:1,10.0.0.2:80 "$B"
badarg follow -z follow,udp,ascii,0 "$B"
badarg follow -z follow,tcp,ascii "$B"
badarg follow -z follow,tcp,ascii,0,x "$B"
badarg follow -z follow,tcp,ascii,0 -m hex "$B"
badarg follow --bogus -s 0 "$B"
badarg -r "$B" -q -z follow,tcp,nope,0
"$TCPSESSION" follow --help >"$tmp/help" 2>&1 && grep -q 'usage: tcpsession follow' "$tmp/help" && ok || bad "follow --help"

# ------------------------------------------------- missing and cut captures
"$TCPSESSION" follow -s 0 "$tmp/no-such.pcap" >"$tmp/mo" 2>"$tmp/me"
rc=$?
if [ $rc = 3 ] && grep -q "no-such.pcap" "$tmp/me"; then ok; else bad "missing file: exit $rc, '$(cat "$tmp/me")'"; fi
T=$cap/truncated.pcap
cut_at=$(($(wc -c <"$T") - 30)) # follow_caps cuts 30 bytes into the last record
"$TCPSESSION" follow -m ascii -s 0 "$T" >"$tmp/to" 2>"$tmp/te"
rc=$?
if [ $rc = 3 ] && grep -q "truncated.pcap" "$tmp/te" && grep -q "byte $cut_at\b" "$tmp/te"; then ok; else bad "truncated capture: exit $rc, '$(cat "$tmp/te")' (want exit 3, the name and byte $cut_at)"; fi
if grep -q '^GET /index.html HTTP/1.1' "$tmp/to" && grep -q 'hello.world' "$tmp/to" && tail -1 "$tmp/to" | grep -q '^====='; then ok; else bad "truncated capture: what came before the fault is not printed"; fi

# ------------------------------------------------------------- stdin, gzip
ts follow -m yaml -s 0 "$B" >"$tmp/y"
ts follow -m yaml -s 0 - <"$B" >"$tmp/y_stdin"
expect_same "stdin" "$tmp/y" "$tmp/y_stdin"
gzip -c "$B" >"$tmp/basic.pcap.gz"
ts follow -m yaml -s 0 "$tmp/basic.pcap.gz" >"$tmp/y_gz"
expect_same "gzip" "$tmp/y" "$tmp/y_gz"

# --------------------------------------------------------------- --all-data
ts follow -m ascii -s 0 "$cap/hole_end.pcap" >"$tmp/h"
ts follow -m ascii -s 0 --all-data "$cap/hole_end.pcap" >"$tmp/h_all"
if ! grep -q 'missing' "$tmp/h" && ! grep -q 'hello' "$tmp/h"; then ok; else bad "hole at the end: data behind it printed by default"; fi
if grep -q '^\[18 bytes missing in capture file\]\.$' "$tmp/h_all" && grep -q '^hello.world$' "$tmp/h_all"; then ok; else bad "--all-data: no marker or no data after the hole"; fi

# ------------------------------------------------- synthetic vs tshark
# tshark_vs NAME CAPTURE ARGS...: the same arguments to both, stdout compared
tshark_vs() {
    local name=$1 f=$2
    shift 2
    tshark -n -r "$f" -q "$@" >"$tmp/tv_t" 2>/dev/null
    "$TCPSESSION" -r "$f" -q "$@" >"$tmp/tv_o" 2>/dev/null
    expect_same "$name differs from tshark" "$tmp/tv_t" "$tmp/tv_o"
}
if [ $have_tshark = 1 ]; then
    for f in "$cap"/*.pcap; do
        args=()
        for s in 0 1 2; do for m in $MODES; do args+=(-z "follow,tcp,$m,$s"); done; done
        tshark_vs "$(basename "$f")" "$f" "${args[@]}"
    done
    tshark_vs "-e" "$B" -z follow,tcp,hex,10.0.0.1:43210,10.0.0.2:80 -z follow,tcp,yaml,10.0.0.2:80,10.0.0.1:43210
    tshark_vs "-e IPv6" "$cap/ipv6.pcap" -z "follow,tcp,raw,[2001:db8:0:1::25]:25,[2001:db8::1]:50000" \
        -z "follow,tcp,ascii,[2001:db8::1]:50000,[2001:db8:0:1::25]:25"
    tshark_vs "-e, no such pair" "$B" -z follow,tcp,ascii,10.0.0.9:1,10.0.0.2:80
    tshark_vs "ranges" "$cap/ooo.pcap" -z follow,tcp,ascii,0,2-3 -z follow,tcp,hex,0,4 -z follow,tcp,raw,0,5-99
    tshark_vs "missing streams" "$B" -z follow,tcp,ascii,3 -z follow,tcp,hex,4 -z follow,tcp,raw,5 -z follow,tcp,yaml,6
    tshark_vs "truncated capture" "$T" -z follow,tcp,ascii,0 -z follow,tcp,yaml,0
fi

# ------------------------------------------------------------ the corpus
if [ ! -f "$TCPS_CORPUS/reference.tsv" ]; then
    echo "skip: no corpus at $TCPS_CORPUS, no corpus comparison"
elif [ $have_tshark = 0 ]; then
    echo "skip: corpus comparison needs tshark"
else
    t0=$(date +%s)
    known=$tmp/known
    # "- `FILE` stream N:" and "- follow `FILE` stream N:" lines of KNOWN_DIFFERENCES.md
    sed -n 's/^- \(follow \)\{0,1\}`\([^`]*\)` stream \([0-9][0-9]*\).*/\2\t\3/p' "$top/tests/KNOWN_DIFFERENCES.md" >"$known"
    # one line per capture: FILE STREAM... (streams tshark lists, known ones left out)
    awk -F'\t' -v known="$known" '
        BEGIN { while ((getline l < known) > 0) { split(l, k, "\t"); skip[k[1] "\t" k[2]] = 1 } }
        NR > 1 && $2 != "-" { if (($1 "\t" $2) in skip) { nskip++; next } s[$1] = s[$1] " " $2; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
        END { for (i = 1; i <= n; i++) print order[i] s[order[i]]; print nskip + 0 > "/dev/stderr" }
    ' "$TCPS_CORPUS/reference.tsv" >"$tmp/files" 2>"$tmp/nskip"
    export TCPSESSION TCPS_CORPUS MODES tmp
    # compare_one FILE STREAM...: prints "ok FILE N" or "FAIL: ..." lines
    compare_one() {
        local f=$1 s m k i
        shift
        local args=() req=()
        for s in "$@"; do for m in $MODES; do args+=(-z "follow,tcp,$m,$s"); req+=("$m $s"); done; done
        local base=$tmp/c.$$.$RANDOM
        tshark -n -r "$TCPS_CORPUS/$f" -q "${args[@]}" >"$base.t" 2>/dev/null
        "$TCPSESSION" -r "$TCPS_CORPUS/$f" -q "${args[@]}" >"$base.o" 2>/dev/null
        if cmp -s "$base.t" "$base.o"; then
            echo "ok $f $#"
        else
            # requests print last first, each starting with "peers:" or with a
            # Follow line after a separator: cut both outputs there and report
            # each request that differs, with its first differing line
            local sec='/^peers:$/ || (/^Follow: tcp,/ && prev ~ /^=+$/) { close(out "." n); n++ } { prev = $0; print > (out "." n) }'
            awk -v out="$base.ts" "$sec" "$base.t"
            awk -v out="$base.os" "$sec" "$base.o"
            local nreq=${#req[@]} nbad=0 line st
            local -A modes=() first=()
            local order=()
            for ((k = 1; k <= nreq; k++)); do
                i=$((nreq - k))
                [ -f "$base.ts.$k" ] || : >"$base.ts.$k"
                [ -f "$base.os.$k" ] || : >"$base.os.$k"
                cmp -s "$base.ts.$k" "$base.os.$k" && continue
                nbad=$((nbad + 1))
                st=${req[$i]#* } m=${req[$i]% *}
                if [ -z "${modes[$st]:-}" ]; then
                    order+=("$st")
                    line=$(cmp "$base.ts.$k" "$base.os.$k" 2>&1 | sed -n 's/.*line \([0-9]*\).*/\1/p')
                    [ -n "$line" ] || line=$(($(wc -l <"$base.os.$k") + 1))
                    first[$st]="$m, line $line: tshark '$(sed -n "${line}p" "$base.ts.$k" | cut -c1-100)' tcpsession '$(sed -n "${line}p" "$base.os.$k" | cut -c1-100)'"
                fi
                modes[$st]="${modes[$st]:-} $m"
            done
            for st in "${order[@]}"; do
                echo "FAIL: $f stream $st differs in mode(s)${modes[$st]}; first difference in ${first[$st]}"
            done
            [ $nbad -gt 0 ] || echo "FAIL: $f: outputs differ outside any request (preamble)"
            rm -f "$base".ts.* "$base".os.*
        fi
        rm -f "$base.t" "$base.o"
    }
    export -f compare_one
    # the capture with the most streams first, so that it does not end last
    awk '{ print NF - 1, $0 }' "$tmp/files" | sort -rn -s -k1,1 | cut -d' ' -f2- |
        tr '\n' '\0' | xargs -0 -P "$JOBS" -n 1 bash -c 'compare_one $1' _ >"$tmp/results"
    nfiles=$(grep -c '^ok ' "$tmp/results")
    nstreams=$(awk '/^ok /{ n += $3 } END { print n + 0 }' "$tmp/results")
    nfail=$(grep -c '^FAIL' "$tmp/results")
    nfailfiles=$(grep '^FAIL' "$tmp/results" | awk '{ print $2 }' | sort -u | wc -l)
    grep '^FAIL' "$tmp/results"
    pass=$((pass + nfiles))
    fail=$((fail + nfail))
    echo "corpus: $nfiles captures ($nstreams streams x 5 modes) identical to tshark; in $nfailfiles captures, $nfail streams differ; $(cat "$tmp/nskip") streams skipped as listed in tests/KNOWN_DIFFERENCES.md; $(($(date +%s) - t0)) s"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
