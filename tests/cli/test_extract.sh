#!/usr/bin/env bash
# tcpsession extract: outputs checked on captures built here and on the corpus.
# Usage: tests/cli/test_extract.sh   (TCPSESSION: the binary, default build/tcpsession;
# TCPS_CORPUS: the shared corpus, default ../shared/corpus). About 10 s of CPU; a minute or
# so of wall time, most of it tshark and tcpflow starting up.
set -u
TCPSESSION=${TCPSESSION:-build/tcpsession}
TCPS_CORPUS=${TCPS_CORPUS:-../shared/corpus}
# absolute: some checks run tcpflow from another directory
[ -d "$TCPS_CORPUS" ] && TCPS_CORPUS=$(cd "$TCPS_CORPUS" && pwd)
CC=${CC:-cc}
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }
skip() { echo "SKIP: $*"; }

if [ ! -x "$TCPSESSION" ]; then echo "no binary at $TCPSESSION"; echo "0 passed, 1 failed"; exit 1; fi
TCPSESSION=$(cd "$(dirname "$TCPSESSION")" && pwd)/$(basename "$TCPSESSION")
T=$(mktemp -d "${TMPDIR:-/tmp}/test_extract.XXXXXX")
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)

if ! $CC -std=c99 -D_POSIX_C_SOURCE=200809L -O1 -Wall -Wextra -I"$TOP" -I"$TOP/tests" \
    -o "$T/mkcaps" "$HERE/extract_mkcaps.c" -lz; then
    echo "cannot build extract_mkcaps"; echo "0 passed, 1 failed"; exit 1
fi
mkdir -p "$T/caps" && "$T/mkcaps" "$T/caps" || { echo "0 passed, 1 failed"; exit 1; }

# validate OUT against `list --json` of each capture: JSON parses, direction
# files hash to list's sha256, transcripts add up, old-tool fields agree
validate() { # OUTDIR CAPTURE-FOLDER CAPTURE
    "$TCPSESSION" list --json "$3" > "$T/list.json" 2>/dev/null
    python3 - "$1/$2" "$T/list.json" <<'PY'
import hashlib, json, os, re, sys
d, lj = sys.argv[1], sys.argv[2]
errs = []
rows = [json.loads(l) for l in open(lj)]
idx = json.load(open(os.path.join(d, 'index.json')))
if len(idx['sessions']) != len(rows): errs.append('index has %d sessions, list %d' % (len(idx['sessions']), len(rows)))
csv = open(os.path.join(d, 'index.csv')).read().splitlines()
if len(csv) != len(rows) + 1: errs.append('index.csv rows')
def unescape(s):
    out = bytearray(); i = 0
    s = s.replace('\n', '')
    while i < len(s):
        c = s[i]
        if c != '\\': out += c.encode('latin-1'); i += 1; continue
        n = s[i + 1]
        if n == 'x': out.append(int(s[i + 2:i + 4], 16)); i += 4
        else: out += {'n': b'\n', 'r': b'\r', 't': b'\t', '\\': b'\\'}[n]; i += 2
    return bytes(out)
for r in rows:
    n = str(r['stream'])
    js = json.load(open(os.path.join(d, n, n + '.json')))
    for k in r:
        if k != 'capture' and js.get(k) != r[k]: errs.append('%s: %s differs from list' % (n, k))
    data = {}
    for dr in ('c2s', 's2c'):
        b = open(os.path.join(d, n, '%s-%s.bin' % (n, dr)), 'rb').read()
        data[dr] = b
        if hashlib.sha256(b).hexdigest() != r[dr + '_sha256']: errs.append('%s %s sha256' % (n, dr))
        if len(b) != r[dr + '_bytes']: errs.append('%s %s length' % (n, dr))
    # exchange: chunks tile each direction (offsets skip exactly the gaps)
    tot = {'c2s': 0, 's2c': 0}
    for c in js['exchange']: tot[c['dir']] += c['length']
    for g in js['gaps']: pass
    if tot['c2s'] != r['c2s_bytes'] or tot['s2c'] != r['s2c_bytes']: errs.append('%s exchange lengths' % n)
    if sum(g['length'] for g in js['gaps'] if g['dir'] == 'c2s') != r['c2s_missing']: errs.append('%s gaps' % n)
    # transcript: headers and escaped bodies
    t = open(os.path.join(d, n, n + '-transcript.txt'), encoding='latin-1').read()
    parts = re.split(r'^== (c2s|s2c) frame \d+ time [\d.]+ offset (\d+) length (\d+)\n', t, flags=re.M)
    got = {'c2s': b'', 's2c': b''}
    for i in range(1, len(parts), 4):
        body = re.sub(r'^== (c2s|s2c) GAP .*\n', '', parts[i + 3], flags=re.M)
        body = body[:-1] if body.endswith('\n') else body
        u = unescape(body)
        if len(u) != int(parts[i + 2]): errs.append('%s transcript chunk length' % n); break
        got[parts[i]] += u
    if got['c2s'] != data['c2s'] or got['s2c'] != data['s2c']: errs.append('%s transcript bytes' % n)
    h = open(os.path.join(d, n, n + '-transcript.hex')).read()
    hexbytes = sum(len(re.findall(r'[0-9a-f]{2}', l[18:67])) for l in h.splitlines() if not l.startswith('=='))
    if hexbytes != r['c2s_bytes'] + r['s2c_bytes']: errs.append('%s hex dump length' % n)
    # the old tool's fields: lossless text, md5 sums
    for side, dr in (('src', 'c2s'), ('dst', 's2c')):
        if js['combined_%s_payload' % side].encode('latin-1') != data[dr]: errs.append('%s combined_%s_payload' % (n, side))
        if js['combined_%s_payload_md5sum' % side] != hashlib.md5(data[dr]).hexdigest(): errs.append('%s %s md5' % (n, side))
    hx = ''.join(p[2] for p in js['tcp_payload_hex'])
    if js['tcp_ordered_hex_payload_md5sum'] != hashlib.md5(hx.encode()).hexdigest(): errs.append('%s hex md5' % n)
    raw = b''.join(p[2].encode('latin-1') for p in js['tcp_payload_ascii'])
    if js['tcp_ordered_payload_md5sum'] != hashlib.md5(raw).hexdigest(): errs.append('%s ordered md5' % n)
    if bytes.fromhex(hx) != raw: errs.append('%s hex and ascii differ' % n)
    if (js['sip'], js['sport'], js['dip'], js['dport'], js['proto']) != (r['client_ip'], r['client_port'], r['server_ip'], r['server_port'], 6): errs.append('%s old tuple' % n)
for e in errs[:5]: print('   ', e)
sys.exit(1 if errs else 0)
PY
}

# ---------------------------------------------------------------- built captures
"$TCPSESSION" extract -r "$T/caps" -o "$T/out" --log "$T/log" > "$T/stdout" 2> "$T/stderr"
check "extract -r exits 0 on good captures ($(head -c 300 "$T/stderr"))" [ $? -eq 0 ]
check "every JSON file parses" python3 -c '
import json, sys, glob
fs = glob.glob(sys.argv[1] + "/**/*.json", recursive=True)
[json.load(open(f)) for f in fs]
sys.exit(0 if len(fs) >= 9 else 1)' "$T/out"
for c in http gap ipv6 reuse; do
    check "$c.pcap outputs agree with list --json" validate "$T/out" "caps/$c.pcap" "$T/caps/$c.pcap"
done
for k in 1 2 3 4; do
    check "script $k found and decoded (gzip+chunked, deflate, inline)" cmp -s "$T/caps/http.expect/$k.js" "$T/out/caps/http.pcap/0/0-js-$k.js"
done
check "no fifth script (HEAD body, <script src>, text/template skipped)" [ ! -e "$T/out/caps/http.pcap/0/0-js-5.js" ]
check "sessions without scripts get no script file" [ -z "$(find "$T/out/caps/gap.pcap" "$T/out/caps/reuse.pcap" -name '*.js')" ]
check "the gap is described" python3 -c '
import json,sys; g=json.load(open(sys.argv[1]))["gaps"]
sys.exit(0 if g==[{"dir":"s2c","offset":11,"length":12,"reason":"acked"}] else 1)' "$T/out/caps/gap.pcap/0/0.json"
check "the gap is shown in the transcript" grep -q '^== s2c GAP .*offset 11 length 12 reason acked' "$T/out/caps/gap.pcap/0/0-transcript.txt"
check "IPv6 addresses in RFC 5952 form" python3 -c '
import json,sys; j=json.load(open(sys.argv[1]))
sys.exit(0 if (j["client_ip"],j["server_ip"])==("2001:db8::1","2001:db8:0:1::2") else 1)' "$T/out/caps/ipv6.pcap/0/0.json"
check "a reused tuple gives two sessions" [ -d "$T/out/caps/reuse.pcap/1" ]
check "the log says what was done" grep -q 'sessions written' "$T/log"

# more live directions than descriptors: the cache evicts and reopens in append mode
"$T/mkcaps" big "$T/many.pcap" 2
(ulimit -n 90 && "$TCPSESSION" extract "$T/many.pcap" -o "$T/many" 2>/dev/null)
check "a small descriptor cache (ulimit -n 90, 200 live sessions) exits 0" [ $? -eq 0 ]
check "a small descriptor cache gives whole files" validate "$T/many" many.pcap "$T/many.pcap"

# selection of outputs and sessions
"$TCPSESSION" extract "$T/caps/reuse.pcap" -s 1 --outputs data -o "$T/sel" 2>/dev/null
check "-s 1 --outputs data: only session 1's data" [ "$(cd "$T/sel" && find . -type f | sort | tr '\n' ' ')" = "./reuse.pcap/1/1-c2s.bin ./reuse.pcap/1/1-s2c.bin " ]
"$TCPSESSION" extract "$T/caps/http.pcap" -e 10.0.0.2:80,10.0.0.1:43210 --no-js -o "$T/sel2" 2>/dev/null
check "-e selects the session, --no-js writes no script" [ -f "$T/sel2/http.pcap/0/0.json" ] && [ -z "$(find "$T/sel2" -name '*.js')" ]

# -j 2 gives what -j 1 gives
"$TCPSESSION" extract -r "$T/caps" -o "$T/j1" -j 1 2>/dev/null
"$TCPSESSION" extract -r "$T/caps" -o "$T/j2" -j 2 2>/dev/null
check "-j 2 output is -j 1 output" diff -r "$T/j1" "$T/j2"

# --tar lists what was written
"$TCPSESSION" extract -r "$T/caps" -o "$T/tar" --tar 2>/dev/null
(cd "$T/tar" && find . -mindepth 1 ! -name tcpsession-extract.tar.gz \( -type d -printf '%P/\n' -o -printf '%P\n' \) | sort) > "$T/tree.txt"
tar -tzf "$T/tar/tcpsession-extract.tar.gz" 2>/dev/null | sort > "$T/tarlist.txt"
check "--tar holds the same files" cmp -s "$T/tree.txt" "$T/tarlist.txt"
mkdir -p "$T/untar" && tar -xzf "$T/tar/tcpsession-extract.tar.gz" -C "$T/untar" 2>/dev/null
check "--tar contents are the files" diff -r --exclude=tcpsession-extract.tar.gz "$T/tar" "$T/untar"

# --tcpflow-names are tcpflow's names
if command -v tcpflow > /dev/null; then
    tf_caps="$T/caps/reuse.pcap $T/caps/ipv6.pcap $T/caps/http.pcap"
    for c in tcpflow/test7-three-flows.pcap tcpflow/bug5.pcap pcapplusplus/four_ipv6_http_streams.pcap; do
        [ -f "$TCPS_CORPUS/$c" ] && tf_caps="$tf_caps $TCPS_CORPUS/$c"
    done
    for c in $tf_caps; do
        b=$(basename "$c")
        mkdir -p "$T/tf/$b" && (cd "$T/tf/$b" && tcpflow -r "$c" > /dev/null 2>&1)
        "$TCPSESSION" extract --tcpflow-names --outputs data "$c" -o "$T/tfo" 2>/dev/null
        check "--tcpflow-names match tcpflow on $b" [ "$(cd "$T/tf/$b" && ls | grep -v report.xml)" = "$(cd "$T/tfo/$b" && ls)" ]
    done
    for b in reuse.pcap ipv6.pcap http.pcap; do
        check "tcpflow's files hold our bytes on $b" diff -r -x report.xml "$T/tf/$b" "$T/tfo/$b"
    done
else
    skip "tcpflow not installed: --tcpflow-names not compared"
fi

# ---------------------------------------------------------------- bad input
"$TCPSESSION" extract "$T/nosuch.pcap" -o "$T/bad1" 2> "$T/err"
rc=$?
check "missing file: exit 3, named" [ $rc -eq 3 ] && grep -q 'nosuch.pcap' "$T/err"
mkdir -p "$T/empty/sub" && echo hi > "$T/empty/readme.txt"
"$TCPSESSION" extract -r "$T/empty" -o "$T/bad2" 2> "$T/err"
rc=$?
check "directory without captures: exit 3, named" [ $rc -eq 3 ] && grep -q 'empty: no captures' "$T/err"
size=$(stat -c %s "$T/caps/http.pcap")
head -c $((size - 700)) "$T/caps/http.pcap" > "$T/cut.pcap"
"$TCPSESSION" extract "$T/cut.pcap" -o "$T/bad3" 2> "$T/err"
rc=$?
check "truncated capture: exit 3, file and byte offset named" [ $rc -eq 3 ] && grep -q 'cut.pcap: .* at byte [0-9]' "$T/err"
check "truncated capture: what came before is kept, marked partial" python3 -c '
import json,sys; i=json.load(open(sys.argv[1]))
s=i["sessions"]
sys.exit(0 if i["partial"] and "at byte" in i["error"] and len(s)==1 and s[0]["partial"] and s[0]["s2c_bytes"]>0 else 1)' "$T/bad3/cut.pcap/index.json"
check "truncated capture: session JSON says partial" python3 -c '
import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["partial"] else 1)' "$T/bad3/cut.pcap/0/0.json"
printf 'this is not a capture at all\n' > "$T/text.pcap"
"$TCPSESSION" extract "$T/text.pcap" -o "$T/bad4" 2> "$T/err"
rc=$?
check "not a capture: exit 3, file and byte offset named" [ $rc -eq 3 ] && grep -q 'text.pcap: .*at byte 0' "$T/err"
echo file > "$T/plainfile"
"$TCPSESSION" extract "$T/caps/gap.pcap" -o "$T/plainfile/out" 2> "$T/err"
rc=$?
check "output directory that cannot be made: exit 4, named" [ $rc -eq 4 ] && grep -q 'plainfile/out' "$T/err"
if [ "$(id -u)" != 0 ]; then
    mkdir -p "$T/ro" && chmod 555 "$T/ro"
    "$TCPSESSION" extract "$T/caps/gap.pcap" -o "$T/ro" 2> "$T/err"
    rc=$?
    check "unwritable output directory: exit 4, named" [ $rc -eq 4 ] && grep -q "$T/ro" "$T/err"
else
    skip "running as root: a read-only directory is writable, that case is not tested"
fi

# a symbolic link planted in OUTDIR is not followed
echo precious > "$T/victim"
mkdir -p "$T/victimdir"
"$TCPSESSION" extract "$T/caps/gap.pcap" -o "$T/sym" 2>/dev/null
rm -f "$T/sym/gap.pcap/0/0-c2s.bin" && ln -s "$T/victim" "$T/sym/gap.pcap/0/0-c2s.bin"
ln -s "$T/victim" "$T/sym/gap.pcap/index.csv.tmp" 2>/dev/null
rm -f "$T/sym/gap.pcap/index.json" && ln -s "$T/victim" "$T/sym/gap.pcap/index.json"
"$TCPSESSION" extract "$T/caps/gap.pcap" -o "$T/sym" 2>/dev/null
check "planted file links are not followed" [ "$(cat "$T/victim")" = precious ] && [ ! -L "$T/sym/gap.pcap/0/0-c2s.bin" ]
mkdir -p "$T/sym2" && ln -s "$T/victimdir" "$T/sym2/gap.pcap"
"$TCPSESSION" extract "$T/caps/gap.pcap" -o "$T/sym2" 2> "$T/err"
rc=$?
check "a planted directory link is refused (exit 4) and not entered" [ $rc -eq 4 ] && [ -z "$(ls "$T/victimdir")" ]
rm -rf "$T/sym3" && "$TCPSESSION" extract "$T/caps/gap.pcap" -o "$T/sym3" 2>/dev/null
rm -rf "$T/sym3/gap.pcap/0" && ln -s "$T/victimdir" "$T/sym3/gap.pcap/0"
"$TCPSESSION" extract "$T/caps/gap.pcap" -o "$T/sym3" 2>/dev/null
check "a planted session folder link is not entered" [ -z "$(ls "$T/victimdir")" ]

# ---------------------------------------------------------------- corpus
if [ -d "$TCPS_CORPUS" ]; then
    # captures with HTTP pages and scripts; the counts were checked against
    # tshark --export-objects http (response files of a JavaScript type plus
    # non-blank inline scripts of the exported pages), and are checked again
    # below when tshark is installed
    for spec in dpkt/http.pcap:2 tcpflow/test1.pcap:4 zeek/http__100-continue.pcap:4 pcapplusplus/one_ipv6_http_stream.pcap:-; do
        c=${spec%%:*} want=${spec##*:} b=$(basename "$c")
        [ -f "$TCPS_CORPUS/$c" ] || { skip "$c absent"; continue; }
        rm -rf "$T/co"
        "$TCPSESSION" extract "$TCPS_CORPUS/$c" -o "$T/co" 2>/dev/null
        check "corpus $c: exit 0" [ $? -eq 0 ]
        check "corpus $c: outputs agree with list --json" validate "$T/co" "$b" "$TCPS_CORPUS/$c"
        got=$(find "$T/co/$b" -name '*.js' | wc -l)
        if [ "$want" != - ]; then
            check "corpus $c: $want scripts (got $got)" [ "$got" -eq "$want" ]
        fi
        if command -v tshark > /dev/null && [ "$want" != - ]; then
            rm -rf "$T/eo" && mkdir -p "$T/eo"
            tshark -r "$TCPS_CORPUS/$c" -q --export-objects "http,$T/eo" > /dev/null 2>&1
            n=$(python3 - "$T/eo" <<'PY'
import os, re, sys
n = 0
for f in os.listdir(sys.argv[1]):
    b = open(os.path.join(sys.argv[1], f), 'rb').read()
    if f.endswith('.js'): n += 1; continue
    for m in re.finditer(rb'<script(\s[^>]*)?>(.*?)(</script|$)', b, re.I | re.S):
        t = re.search(rb'type\s*=\s*["\']?([^"\'\s>]+)', (m.group(1) or b'').lower())
        if t and not re.search(rb'javascript|ecmascript|jscript|module', t.group(1)): continue
        if m.group(2).strip(): n += 1
print(n)
PY
)
            check "corpus $c: tshark's exported objects hold as many scripts ($n)" [ "$n" -eq "$got" ]
        fi
    done
    c=tcpsession/failed_test_sl1_2010.pcap
    if [ -f "$TCPS_CORPUS/$c" ]; then
        rm -rf "$T/co" && "$TCPSESSION" extract "$TCPS_CORPUS/$c" -o "$T/co" 2>/dev/null
        check "corpus $c: outputs agree with list --json" validate "$T/co" "$(basename $c)" "$TCPS_CORPUS/$c"
    fi
else
    skip "corpus not found at $TCPS_CORPUS: corpus cases skipped"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
