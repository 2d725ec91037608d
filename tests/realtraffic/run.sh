#!/usr/bin/env bash
# run.sh - the real-traffic correctness test (see README.md).
#
# Records the machine's own TCP stack under several impairment profiles
# (record.sh), runs sessions.c on the captures and compares what tcpsession
# delivered with what the applications received (compare.py). Skips, with one
# line and status 0, when it cannot run here (not root, no network
# namespaces, no way to impair the path, tcpdump, python3 or a C compiler
# missing). Run from the top of the repository (as `make test` does) or from
# anywhere: paths are found from this script's place.
#
# Environment: BUILD (build), CC (cc), PYTHON (python3), RT_SEED (first
# profile's seed, 1), RT_PROFILES (default "mild harsh reuse"; "extreme"
# also exists), RT_KEEP=1 keeps the captures of a passing run. tcpflow, when
# installed, is run on the same captures (but not those of reuse) and its
# errors are reported as information only.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${BUILD:-build}
[[ $build == /* ]] || build=$top/$build
out=$build/realtraffic
cc=${CC:-cc}
python=${PYTHON:-python3}

skip() {
    echo "realtraffic: SKIPPED: $*"
    exit 0
}

[[ $(id -u) == 0 ]] || skip "needs root (network namespaces and packet capture)"
for tool in ip tcpdump "$python" "$cc"; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done
probe=rtprobe$$
ip netns add "$probe" 2>/dev/null || skip "cannot create network namespaces"
if ! ip netns exec "$probe" true 2>/dev/null; then
    # e.g. in a chroot whose / is not a mount point: netns exec cannot remount
    ip netns del "$probe" 2>/dev/null
    skip "cannot run programs in a network namespace (ip netns exec failed)"
fi
impair=
if ip -n "$probe" link add rtp0 type veth peer name rtp1 2>/dev/null; then
    ip netns exec "$probe" tc qdisc add dev rtp0 root netem loss 1% 2>/dev/null && impair=netem
fi
ip netns del "$probe"
if [[ -z $impair ]]; then
    [[ -c /dev/net/tun ]] || skip "neither tc netem nor /dev/net/tun to impair the path"
    impair=relay
fi

rm -rf "$out"
mkdir -p "$out"
# the shared layer's library (its digests), built by make before the scripts run
build=${BUILD:-build}
[[ $build == /* ]] || build=$top/$build
if ! "$cc" -std=c99 -O2 -Wall -Wextra -I"$top" -I"$top/lib" -o "$out/sessions" "$here/sessions.c" \
    "$build/lib/libtsl.a" $(pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto) 2>"$out/build.log"; then
    cat "$out/build.log"
    echo "realtraffic: FAILED: sessions.c does not build"
    exit 1
fi

seed=${RT_SEED:-1}
profiles=${RT_PROFILES:-mild harsh reuse}
status=0 total_pass=0 total_fail=0 trc=0
count_line() { # add the "P passed, F failed" last line of a comparison
    local last
    last=$(tail -n1 "$1")
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        total_pass=$((total_pass + BASH_REMATCH[1]))
        total_fail=$((total_fail + BASH_REMATCH[2]))
    fi
}
for profile in $profiles; do
    dir=$out/$profile
    compare_args=() tcpflow=1
    case $profile in
    # a little of everything, like a bad Wi-Fi link
    mild) env=(RT_SEED="$seed" RT_COUNT=40 RT_LOSS=0.02 RT_DUP=0.02 RT_REORDER=0.04
        RT_DELAY_MS=1 RT_REORDER_MS=8) ;;
    # much loss, many duplicates and frames held back long enough to be
    # overtaken by many others
    harsh) env=(RT_SEED=$((seed + 1)) RT_COUNT=24 RT_LOSS=0.08 RT_DUP=0.08 RT_REORDER=0.15
        RT_DELAY_MS=1 RT_REORDER_MS=30) ;;
    # not run by default: a path few connections survive in good shape
    extreme) env=(RT_SEED=$((seed + 2)) RT_COUNT=24 RT_LOSS=0.15 RT_DUP=0.15 RT_REORDER=0.3
        RT_DELAY_MS=2 RT_REORDER_MS=50) ;;
    # 10000 short connections, 40 at a time, from 64 client ports: nearly
    # every connection takes a 4-tuple used before, often while late frames
    # of the previous connection are still on their way. Fails unless at
    # least 1000 connections reused a 4-tuple. No tcpflow: on a 4-tuple used
    # many times, its flows cannot be paired with the connections.
    reuse)
        env=(RT_SEED=$((seed + 3)) RT_PLAN=reuse RT_COUNT=10000 RT_PARALLEL=40 RT_PORTS=64
            RT_TW_REUSE=1 RT_TW_REUSE_DELAY_MS=20 RT_APP_TIMEOUT=300 RT_LOSS=0.01 RT_DUP=0.01
            RT_REORDER=0.01 RT_DELAY_MS=1 RT_REORDER_MS=8)
        compare_args=(--min-reuse 1000) tcpflow=0
        ;;
    *)
        echo "realtraffic: unknown profile $profile"
        exit 2
        ;;
    esac
    for attempt in 1 2; do
        echo "realtraffic: recording profile $profile (${env[*]})"
        rm -rf "$dir"
        if ! env "${env[@]}" RT_IMPAIR=$impair PYTHON="$python" "$here/record.sh" "$dir" \
            2>"$dir.record.log"; then
            cat "$dir.record.log"
            echo "realtraffic: FAILED: recording profile $profile failed"
            status=1
            break
        fi
        grep -E "^record: (impairment|client namespace|applications)" "$dir.record.log"
        for side in client server; do
            if ! "$out/sessions" "$dir/$side.pcap" >"$dir/sessions-$side.jsonl" \
                2>"$dir/sessions-$side.log"; then
                cat "$dir/sessions-$side.log"
                echo "realtraffic: sessions failed on $dir/$side.pcap"
            fi
            if ((tcpflow)) && command -v tcpflow >/dev/null 2>&1; then
                mkdir -p "$dir/tcpflow-$side"
                (cd "$dir" && tcpflow -r "$side.pcap" -o "tcpflow-$side" >/dev/null 2>&1) ||
                    rm -rf "$dir/tcpflow-$side"
            fi
        done
        rc=0
        "$python" "$here/compare.py" "${compare_args[@]}" "$dir" >"$dir/compare.txt" 2>&1 || rc=$?
        # 3: something failed on a capture that missed frames (a busy
        # machine): that says nothing about tcpsession, record again
        ((rc == 3)) || break
        grep -E "^WARNING" "$dir/compare.txt"
        ((attempt == 1)) && echo "realtraffic: the capture missed frames; recording again"
    done
    [[ -f $dir/compare.txt ]] || continue
    if ((rc)); then
        status=1
        cat "$dir/compare.txt"
        # the delivered bytes, for looking at the failures
        for side in client server; do
            mkdir -p "$dir/delivered-$side"
            "$out/sessions" -d "$dir/delivered-$side" "$dir/$side.pcap" >/dev/null 2>&1
        done
        ((rc == 3)) && echo "realtraffic: profile $profile: the captures were incomplete twice;" \
            "the failures above may not be tcpsession's"
        echo "realtraffic: profile $profile FAILED; captures, records and delivered bytes in $dir"
    else
        grep -E "^(reuse|sender-side|tcpflow|WARNING|note)" "$dir/compare.txt"
        echo "realtraffic: profile $profile: $(tail -n1 "$dir/compare.txt")"
    fi
    count_line "$dir/compare.txt"
    # The same captures with every 97th frame removed (frames the receiver
    # did get): every byte an application read must still be delivered or
    # reported missing, and nothing more reported (a FIN the capture lost
    # must not count as a missing byte). Not on the reuse profile: there a
    # removed SYN leaves no trace of where one connection on the 4-tuple
    # ends and the next begins.
    trc=0
    if [[ $profile == reuse ]]; then
        :
    elif ((rc == 0)) && command -v tshark >/dev/null 2>&1; then
        for side in client server; do
            tshark -r "$dir/$side.pcap" -Y 'frame.number % 97 != 0' -w "$dir/thinned-$side.pcap" 2>/dev/null &&
                "$out/sessions" "$dir/thinned-$side.pcap" >"$dir/sessions-thinned-$side.jsonl" \
                    2>"$dir/sessions-thinned-$side.log"
        done
        "$python" "$here/compare.py" --thinned "$dir" >"$dir/compare-thinned.txt" 2>&1 || trc=$?
        if ((trc)); then
            status=1
            cat "$dir/compare-thinned.txt"
            echo "realtraffic: profile $profile, every 97th frame removed: FAILED"
        else
            echo "realtraffic: profile $profile, every 97th frame removed:" \
                "$(tail -n1 "$dir/compare-thinned.txt")"
        fi
        count_line "$dir/compare-thinned.txt"
    elif ((rc == 0)); then
        echo "realtraffic: profile $profile: tshark is not installed: the check with frames removed SKIPPED"
    fi
    ((rc || trc)) || [[ ${RT_KEEP:-0} == 1 ]] || rm -f "$dir"/*.pcap
done
echo "realtraffic: $total_pass passed, $total_fail failed"
exit $status
