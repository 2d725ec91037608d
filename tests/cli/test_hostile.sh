#!/usr/bin/env bash
# tcpsession given hostile names and contents (see tests/HOSTILE.md):
#   - extract never writes outside OUTDIR, and never follows a symbolic link
#     planted at any name it writes (capture folder, session folders,
#     direction files, JSON, transcripts, scripts, index files, tcpflow-style
#     names, the tarball, a log inside OUTDIR): the link's target is left
#     untouched, whatever the exit status (0, or 4 when it refuses);
#   - capture files named with newlines, leading dashes, "..", quotes and
#     255-byte names, and captures whose payloads look like paths (HTTP
#     requests for ../../ paths, Content-Disposition file names), give only
#     names made of stream numbers, addresses and ports inside OUTDIR;
#   - OUTDIR given as a symbolic link is followed: the caller named it, as
#     with cp or tar; only links inside it are refused;
#   - the malformed files of the corpus, through `list`: exit 3 and a
#     message naming the file and the byte offset of the error.
# Usage: tests/cli/test_hostile.sh  (TCPSESSION: the binary, default
# build/tcpsession; TCPS_CORPUS: the shared corpus, default ../shared/corpus)
set -u
TCPSESSION=${TCPSESSION:-build/tcpsession}
TCPS_CORPUS=${TCPS_CORPUS:-../shared/corpus}
[ -d "$TCPS_CORPUS" ] && TCPS_CORPUS=$(cd "$TCPS_CORPUS" && pwd)
CC=${CC:-cc}
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }
skip() { echo "SKIP: $*"; }
rc04() { [ "$1" -eq 0 ] || [ "$1" -eq 4 ]; }

if [ ! -x "$TCPSESSION" ]; then echo "no binary at $TCPSESSION"; echo "0 passed, 1 failed"; exit 1; fi
TCPSESSION=$(cd "$(dirname "$TCPSESSION")" && pwd)/$(basename "$TCPSESSION")
T=$(mktemp -d "${TMPDIR:-/tmp}/test_hostile.XXXXXX")
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
S=$T/scratch # the test's own files: not counted as written by extract
mkdir -p "$S"
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)

if ! $CC -std=c99 -D_POSIX_C_SOURCE=200809L -O1 -Wall -Wextra -I"$TOP" -I"$TOP/tests" \
    -o "$T/mkcaps" "$HERE/extract_mkcaps.c" -lz; then
    echo "cannot build extract_mkcaps"; echo "0 passed, 1 failed"; exit 1
fi
mkdir -p "$T/caps" && "$T/mkcaps" "$T/caps" >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
rm -rf "$T/caps/http.expect"

# A capture whose payloads look like paths: an HTTP exchange asking for
# ../../ paths and answering with a script whose Content-Disposition names
# ../../ files, and raw lines of path-like text.
python3 - "$T/caps/paths.pcap" <<'PY'
import struct, sys
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def pkt(src, dst, sp, dp, seq, ack, flags, data=b''):
    tcp = struct.pack('!HHIIBBHHH', sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    ph = bytes(src) + bytes(dst) + struct.pack('!BBH', 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', csum(ph + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return ip + tcp
C, S = [10, 0, 0, 1], [10, 0, 0, 2]
req = b'GET /../../../../tmp/pwned.js HTTP/1.1\r\nHost: ../../x\r\n\r\n'
body = b'/* ../../../../tmp/pwned */ var a = "/etc/passwd";\n'
resp = (b'HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\n'
        b'Content-Disposition: attachment; filename="../../../../tmp/pwned.js"\r\n'
        b'Content-Length: %d\r\n\r\n' % len(body)) + body
raw = b'../../../../etc/shadow\n/tmp/pwned\n..\\..\\windows\\system32\n'
ps = [pkt(C, S, 40000, 80, 100, 0, 0x02), pkt(S, C, 80, 40000, 500, 101, 0x12), pkt(C, S, 40000, 80, 101, 501, 0x10),
      pkt(C, S, 40000, 80, 101, 501, 0x18, req), pkt(S, C, 80, 40000, 501, 101 + len(req), 0x18, resp),
      pkt(C, S, 40000, 80, 101 + len(req), 501 + len(resp), 0x18, raw),
      pkt(C, S, 40000, 80, 101 + len(req) + len(raw), 501 + len(resp), 0x11),
      pkt(S, C, 80, 40000, 501 + len(resp), 102 + len(req) + len(raw), 0x11)]
with open(sys.argv[1], 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
    for i, p in enumerate(ps):
        f.write(struct.pack('<IIII', 1000, i, len(p), len(p)) + p)
PY

# every name under OUTDIR must be one extract makes from numbers, addresses
# and ports (capture folders are named after the capture files, which the
# caller chose; they are checked separately)
names_ok() { # OUTDIR
    python3 - "$1" <<'PY'
import os, re, sys
top = sys.argv[1]
bad = []
sess = re.compile(r'^(\d+)(\.json|-c2s\.bin|-s2c\.bin|-transcript\.txt|-transcript\.hex|-js-\d+\.js)$')
flow = re.compile(r'^[0-9a-f.:]+\.\d{5}-[0-9a-f.:]+\.\d{5}(c\d+)?$')
for cap in os.listdir(top):
    p = os.path.join(top, cap)
    if not os.path.isdir(p) or os.path.islink(p): continue
    for n in os.listdir(p):
        q = os.path.join(p, n)
        if n in ('index.json', 'index.csv') or flow.match(n): continue
        if re.fullmatch(r'\d+', n) and os.path.isdir(q):
            for m in os.listdir(q):
                g = sess.match(m)
                if not g or g.group(1) != n: bad.append(os.path.join(cap, n, m))
            continue
        bad.append(os.path.join(cap, n))
for b in bad: print('   unexpected name:', repr(b))
sys.exit(1 if bad else 0)
PY
}

# files anywhere under T that changed or appeared, outside the given trees
outside_clean() { # allowed prefixes...
    local f p okk
    while IFS= read -r -d '' f; do
        okk=0
        for p in "$@"; do case "$f" in "$p"|"$p"/*) okk=1 ;; esac; done
        [ "$f" = "$T" ] && okk=1
        [ $okk -eq 1 ] || { echo "   written outside OUTDIR: $f"; return 1; }
    done < <(find "$T" \( -path "$T/caps" -o -path "$S" \) -prune -o -newer "$S/.mark" -print0 2>/dev/null)
    return 0
}

# ------------------------------------------------ planted symbolic links
# extract everything once (all outputs, tarball, log inside OUTDIR), then
# replace every file by a link to its own victim file and every directory
# by a link to an empty victim directory, and extract again
for variant in plain tcpflow; do
    O=$T/out-$variant
    extra=()
    [ $variant = tcpflow ] && extra=(--tcpflow-names)
    "$TCPSESSION" extract "$T"/caps/*.pcap -o "$O" --tar --log "$O/extract.log" "${extra[@]}" 2>"$S/err"
    check "$variant: first extract exits 0" [ $? -eq 0 ]
    check "$variant: names come from numbers, addresses and ports" names_ok "$O"
    mkdir -p "$T/victims-$variant"
    nf=0 nd=0
    # files first (deepest paths), then directories, deepest first
    while IFS= read -r f; do
        nf=$((nf + 1))
        v="$T/victims-$variant/f$nf"
        echo precious > "$v"
        rm -f "$f" && ln -s "$v" "$f"
        # and the temporary name a writer might use beside it
        [ -e "$f.tmp" ] || ln -s "$v" "$f.tmp"
    done < <(find "$O" -type f | sort)
    check "$variant: links planted at $nf file names" [ $nf -gt 10 ]
    "$TCPSESSION" extract "$T"/caps/*.pcap -o "$O" --tar --log "$O/extract.log" "${extra[@]}" 2>"$S/err"
    rc=$?
    check "$variant: re-extract over planted file links exits 0 or 4 (rc $rc)" rc04 $rc
    changed=$(grep -L '^precious$' "$T/victims-$variant"/f* 2>/dev/null | wc -l)
    check "$variant: no planted file link was followed ($changed victims changed)" [ "$changed" -eq 0 ]
    check "$variant: victim files still hold one line each" \
        [ "$(cat "$T/victims-$variant"/f* | wc -l)" -eq $nf ]
    # directories: every session folder (depth 2), then every capture folder
    for depth in 2 1; do
        rm -rf "$O" && "$TCPSESSION" extract "$T"/caps/*.pcap -o "$O" "${extra[@]}" 2>/dev/null
        nd=0
        while IFS= read -r d; do
            nd=$((nd + 1))
            v="$T/victims-$variant/d$depth-$nd"
            mkdir -p "$v"
            rm -rf "$d" && ln -s "$v" "$d"
        done < <(find "$O" -mindepth $depth -maxdepth $depth -type d | sort)
        check "$variant: links planted at $nd folder names of depth $depth" [ $nd -ge 3 ]
        "$TCPSESSION" extract "$T"/caps/*.pcap -o "$O" "${extra[@]}" 2>"$S/err"
        rc=$?
        check "$variant: re-extract over planted folder links (depth $depth) exits 0 or 4 (rc $rc)" \
            rc04 $rc
        check "$variant: no planted folder link (depth $depth) was entered" \
            [ -z "$(find "$T/victims-$variant" -mindepth 2 -print -quit)" ]
    done
done
# one session folder link, the rest of the capture folder real
O=$T/out-sess
"$TCPSESSION" extract "$T/caps/http.pcap" -o "$O" 2>/dev/null
mkdir -p "$T/victim-sess"
rm -rf "$O/http.pcap/0" && ln -s "$T/victim-sess" "$O/http.pcap/0"
"$TCPSESSION" extract "$T/caps/http.pcap" -o "$O" 2>/dev/null
check "a planted session folder link is not entered" [ -z "$(ls -A "$T/victim-sess")" ]

# the log named inside OUTDIR: a planted link there is not followed
O=$T/out-log
mkdir -p "$O" && echo precious > "$T/victim-log" && ln -s "$T/victim-log" "$O/extract.log"
"$TCPSESSION" extract "$T/caps/gap.pcap" -o "$O" --log "$O/extract.log" 2>"$S/err"
rc=$?
check "a planted log link is refused (exit 4, rc $rc) and not written" \
    [ $rc -eq 4 ] && [ "$(cat "$T/victim-log")" = precious ]

# ------------------------------------------------ OUTDIR itself a link
mkdir -p "$T/real-out" && ln -s "$T/real-out" "$T/link-out"
"$TCPSESSION" extract "$T/caps/gap.pcap" -o "$T/link-out" 2>/dev/null
check "OUTDIR given as a link is followed (the caller named it)" \
    [ $? -eq 0 ] && [ -f "$T/real-out/gap.pcap/index.json" ]

# ------------------------------------------------ hostile capture names
mkdir -p "$T/names"
long=$(printf 'x%.0s' $(seq 1 245)).pcap
for n in $'new\nline.pcap' '-rf.pcap' '--help.pcap' '..pcap' '...' ' .pcap' "quote'\"\`\$(id).pcap" \
    $'tab\there.pcap' 'index.json' 'tcpsession-extract.tar.gz' "$long"; do
    cp "$T/caps/http.pcap" "$T/names/$n"
done
touch "$S/.mark"
sleep 1
O=$T/out-names
mapfile -d '' names < <(find "$T/names" -type f -print0)
"$TCPSESSION" extract -o "$O" --tar "${names[@]}" 2>"$S/err"
rc=$?
# the capture named tcpsession-extract.tar.gz takes the tarball's name: the
# tarball is refused (exit 4, named), nothing is overwritten
check "hostile capture names: exit 4, the tarball's name taken by a folder (rc $rc)" \
    [ $rc -eq 4 ] && grep -q 'tcpsession-extract.tar.gz: Is a directory' "$S/err"
check "hostile capture names: nothing written outside OUTDIR" outside_clean "$O"
check "hostile capture names: every output name is made of numbers, addresses, ports" names_ok "$O"
nidx=$(find "$O" -name index.json -type f -printf . | wc -c)
check "hostile capture names: a folder per capture ($nidx of 11)" [ "$nidx" -eq 11 ]
# -r over a tree of such names
mkdir -p "$T/tree/..a/$'b\nc'" && cp "$T/caps/gap.pcap" "$T/tree/..a/$'b\nc'/x.pcap"
mkdir -p "$T/tree/-d" && cp "$T/caps/gap.pcap" "$T/tree/-d/-y.pcap"
touch "$S/.mark"
sleep 1
O=$T/out-tree
"$TCPSESSION" extract -r -o "$O" "$T/tree" 2>"$S/err"
rc=$?
check "-r over hostile directory names: exit 0 (rc $rc)" [ $rc -eq 0 ]
check "-r over hostile directory names: nothing written outside OUTDIR" outside_clean "$O"
check "-r over hostile directory names: both captures extracted" \
    [ "$(find "$O" -name index.json -type f -printf . | wc -c)" -eq 2 ]

# ------------------------------------------------ path-like payloads
touch "$S/.mark"
sleep 1
O=$T/out-paths
"$TCPSESSION" extract "$T/caps/paths.pcap" -o "$O" 2>"$S/err"
check "path-like payloads: exit 0" [ $? -eq 0 ]
check "path-like payloads: nothing written outside OUTDIR" outside_clean "$O"
check "path-like payloads: output names from numbers only" names_ok "$O"
check "path-like payloads: no file named after the payload" [ -z "$(find "$T" -name '*pwned*' -print -quit)" ]
check "path-like payloads: the script was still found" [ -n "$(find "$O" -name '*-js-*.js' -print -quit)" ]
[ -e /tmp/pwned.js ] && bad "/tmp/pwned.js exists"

# ------------------------------------------------ malformed corpus files
if [ -d "$TCPS_CORPUS" ]; then
    for spec in dpkt/truncated_dns_2.pcap:240 suricata-verify/bug-1450-04__tls_DER-incomplete-header.pcap:5035 \
        suricata-verify/bug-6875-01__fuzz.pcap:228 \
        suricata-verify/smtp-to-comma__10.7.29.101_49898-178.63.41.150_25.pcap:3695 \
        suricata-verify/http-mime-truncated.pcap:2715459; do
        c=${spec%%:*} off=${spec##*:}
        "$TCPSESSION" list "$TCPS_CORPUS/$c" > /dev/null 2> "$S/err"
        rc=$?
        check "list $c: exit 3 (rc $rc)" [ $rc -eq 3 ]
        check "list $c: the message names the file and byte $off" grep -qF "$c: " "$S/err"
        grep -q "at byte $off " "$S/err" || bad "list $c: no 'at byte $off' in: $(cat "$S/err")"
    done
    for c in zeek/empty.pcap tcpdump/empty.pcapng tcpdump/heap-overflow-1.pcap zeek/trunc__trunc-hdr.pcap; do
        "$TCPSESSION" list "$TCPS_CORPUS/$c" > /dev/null 2> "$S/err"
        check "list $c (well-formed container): exit 0" [ $? -eq 0 ]
    done
else
    skip "corpus not found at $TCPS_CORPUS: the malformed corpus files are not run through the command"
fi
: > "$T/empty.pcap"
"$TCPSESSION" list "$T/empty.pcap" > /dev/null 2> "$S/err"
check "list of an empty file: exit 3, file and byte 0 named" [ $? -eq 3 ] && grep -q 'empty.pcap: .*at byte 0' "$S/err"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
