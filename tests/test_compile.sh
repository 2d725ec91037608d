#!/bin/bash
# Compile tests: tcpsession.h as C99/C11 and C++11/17 with gcc, g++, clang
# and clang++ (-Wall -Wextra -Wpedantic -Werror), with the implementation,
# TCPSESSION_STATIC (two files linked together), TCPS_NO_STDIO, TCPS_NO_MMAP,
# an overridden TCPS_MALLOC/REALLOC/FREE, the #error when only some of those
# are defined, C++ code linked with the C implementation and the reverse, and
# the QUICK START of the doc comment.
#
#   CC=... CXX=... BUILD=build bash tests/test_compile.sh [RESULTS]
#
# Run from the top of the repository.  RESULTS gets "NAME PASSED FAILED" per
# check (see tests/summary.sh).  Programs are linked and run against the
# whole implementation: every public function must link (tests/api_use.h).
set -uo pipefail

results=${1:-/dev/null}
BUILD=${BUILD:-build}
out=$BUILD/compile
mkdir -p "$out"
[ "$results" = /dev/null ] || : >"$results"
STRICT=(-Wall -Wextra -Wpedantic -Werror -I. -Itests -I"$BUILD/gen")
npass=0
nfail=0

record() { # name ok log
    local name=$1 ok=$2 log=$3
    if [ "$ok" = 1 ]; then
        npass=$((npass + 1))
        echo "compile: ok    $name"
        echo "compile:$name 1 0" | tr ' ' '_' | sed 's/_1_0$/ 1 0/' >>"$results"
    else
        nfail=$((nfail + 1))
        echo "compile: FAIL  $name"
        sed 's/^/    /' "$log" | head -n 40
        echo "compile:$name 0 1" | tr ' ' '_' | sed 's/_0_1$/ 0 1/' >>"$results"
    fi
}

n=0
# check NAME CMD...: passes when every command of CMD (joined with &&) succeeds
check() {
    local name=$1
    shift
    n=$((n + 1))
    local log=$out/$n.log
    if bash -c "$*" >"$log" 2>&1; then record "$name" 1 "$log"; else record "$name" 0 "$log"; fi
}
# check_fails NAME PATTERN CMD: passes when CMD fails and its output matches PATTERN
check_fails() {
    local name=$1 pattern=$2
    shift 2
    n=$((n + 1))
    local log=$out/$n.log
    if bash -c "$*" >"$log" 2>&1; then
        echo "(compiled, but should not have)" >>"$log"
        record "$name" 0 "$log"
    elif grep -q -- "$pattern" "$log"; then
        record "$name" 1 "$log"
    else
        echo "(failed without the expected message: $pattern)" >>"$log"
        record "$name" 0 "$log"
    fi
}

q() { printf '%q ' "$@"; }

mkdir -p "$BUILD/gen"
sh tests/quickstart_extract.sh tcpsession.h >"$BUILD/gen/quickstart.inc.tmp" &&
    mv "$BUILD/gen/quickstart.inc.tmp" "$BUILD/gen/quickstart.inc"
cat >"$out/quickstart_tu.c" <<'EOF'
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "quickstart.inc"
int (*quickstart_entry)(void) = quickstart_main;
EOF
cat >"$out/twice.c" <<'EOF'
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "tcpsession.h"
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
EOF
cat >"$out/decl.c" <<'EOF'
#include "tcpsession.h"
#include "tcpsession.h"
int decl_version_major(void);
int decl_version_major(void) { return TCPS_VERSION_MAJOR; }
EOF
cat >"$out/nostdio_path.c" <<'EOF'
#define TCPS_NO_STDIO
#include "tcpsession.h"
int uses_path(tcps_reader **r);
int uses_path(tcps_reader **r) { return tcps_reader_open_path(r, "x", 0); }
EOF
cat >"$out/alloc.c" <<'EOF'
#include <stdlib.h>
#include <string.h>
typedef struct counts { long allocs, frees; } counts;
static counts g_counts; /* test program only: the macros have no context */
static void *my_malloc(size_t n) { g_counts.allocs++; return malloc(n); }
static void *my_realloc(void *p, size_t n) { if (!p) g_counts.allocs++; return realloc(p, n); }
static void my_free(void *p) { if (p) g_counts.frees++; free(p); }
#define TCPS_MALLOC(sz, u) ((void)(u), my_malloc(sz))
#define TCPS_REALLOC(p, old, sz, u) ((void)(old), (void)(u), my_realloc((p), (sz)))
#define TCPS_FREE(p, sz, u) ((void)(sz), (void)(u), my_free(p))
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "api_use.h"
int main(void) {
    volatile tcps_test_fn sink = 0;
    int bad = tcps_test_use_api(&sink);
    {   /* an empty classic pcap: the reader may allocate, and must free all */
        static const unsigned char empty[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0,
                                                0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0};
        tcps_reader *r = NULL;
        tcps_packet pkt;
        if (tcps_reader_open_memory(&r, empty, sizeof empty, NULL) != TCPS_OK) return 2;
        if (tcps_reader_next(r, &pkt) != TCPS_DONE) bad = 1;
        tcps_reader_close(r);
    }
    if (g_counts.allocs != g_counts.frees) bad = 1;
    return bad;
}
EOF
cat >"$out/assert.c" <<'EOF'
#define TCPS_ASSERT(x) ((void)sizeof(x))
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
EOF

CCS=()
for c in "${CC:-cc}" gcc clang; do
    command -v "$c" >/dev/null 2>&1 || { echo "compile: $c not found, skipped"; continue; }
    dup=0
    for d in "${CCS[@]}"; do [ "$(realpath "$(command -v "$d")")" = "$(realpath "$(command -v "$c")")" ] && dup=1; done
    [ $dup = 1 ] || CCS+=("$c")
done
CXXS=()
for c in "${CXX:-c++}" g++ clang++; do
    command -v "$c" >/dev/null 2>&1 || { echo "compile: $c not found, skipped"; continue; }
    dup=0
    for d in "${CXXS[@]}"; do [ "$(realpath "$(command -v "$d")")" = "$(realpath "$(command -v "$c")")" ] && dup=1; done
    [ $dup = 1 ] || CXXS+=("$c")
done

for cc in "${CCS[@]}"; do
    o=$out/$(basename "$cc")
    mkdir -p "$o"
    C99=("$cc" -std=c99 "${STRICT[@]}")
    check "$cc c99 declarations only, header twice" "$(q "${C99[@]}") -c $out/decl.c -o $o/decl.o"
    check "$cc c99 implementation -O0" "$(q "${C99[@]}") -O0 -c tests/compile_impl.c -o $o/impl0.o"
    check "$cc c99 implementation -O2" "$(q "${C99[@]}") -O2 -c tests/compile_impl.c -o $o/impl.o"
    check "$cc c11 implementation -O2" "$(q "$cc" -std=c11 "${STRICT[@]}") -O2 -c tests/compile_impl.c -o $o/impl11.o"
    check "$cc implementation included twice" "$(q "${C99[@]}") -c $out/twice.c -o $o/twice.o"
    check "$cc link and run: declarations + implementation object" \
        "$(q "${C99[@]}") -O2 tests/compile_main.c tests/compile_impl.c -o $o/main && $o/main"
    check "$cc TCPSESSION_STATIC: two files with the implementation, linked" \
        "$(q "${C99[@]}") -O2 tests/static_a.c tests/static_b.c -o $o/static && $o/static"
    check "$cc TCPS_NO_STDIO" \
        "$(q "${C99[@]}") -DTCPS_NO_STDIO -O2 tests/compile_main.c tests/compile_impl.c -o $o/nostdio && $o/nostdio"
    check_fails "$cc TCPS_NO_STDIO removes tcps_reader_open_path" "tcps_reader_open_path" \
        "$(q "${C99[@]}") -c $out/nostdio_path.c -o $o/nostdio_path.o"
    check "$cc TCPS_NO_MMAP" "$(q "${C99[@]}") -DTCPS_NO_MMAP -O2 -c tests/compile_impl.c -o $o/nommap.o"
    check "$cc TCPS_ASSERT overridden" "$(q "${C99[@]}") -c $out/assert.c -o $o/assert.o"
    check "$cc TCPS_MALLOC/REALLOC/FREE overridden, link and run" \
        "$(q "${C99[@]}") -O2 $out/alloc.c -o $o/alloc && $o/alloc"
    for only in "TCPS_MALLOC(s,u)=0" "TCPS_FREE(p,s,u)=0" "TCPS_MALLOC(s,u)=0|TCPS_REALLOC(p,o,s,u)=0"; do
        IFS='|' read -r -a defs <<<"$only"
        check_fails "$cc only ${defs[*]} is an #error" "define all of TCPS_MALLOC" \
            "$(q "${C99[@]}" "${defs[@]/#/-D}") -c tests/compile_impl.c -o $o/partial.o"
    done
    check "$cc QUICK START of the doc comment compiles" \
        "$(q "${C99[@]}") -c $out/quickstart_tu.c -o $o/quickstart.o"
done

for cxx in "${CXXS[@]}"; do
    o=$out/$(basename "$cxx")
    mkdir -p "$o"
    # the C compiler of the same family, for the mixed-language links
    case $cxx in *clang*) cc=clang ;; *) cc=gcc ;; esac
    command -v $cc >/dev/null 2>&1 || cc=${CC:-cc}
    for std in c++11 c++17; do
        check "$cxx $std implementation, link and run" \
            "$(q "$cxx" -std=$std "${STRICT[@]}") -O2 tests/cxx_compile.cpp -o $o/cxx-$std && $o/cxx-$std"
    done
    check "$cxx TCPSESSION_STATIC: two files compiled as C++, linked" \
        "$(q "$cxx" -std=c++11 "${STRICT[@]}") -x c++ tests/static_a.c tests/static_b.c -o $o/static && $o/static"
    check "$cxx C++ program linked with the C implementation ($cc)" \
        "$(q "$cc" -std=c99 "${STRICT[@]}") -O2 -c tests/compile_impl.c -o $o/impl_c.o && \
         $(q "$cxx" -std=c++11 "${STRICT[@]}") -DTCPS_TEST_DECL_ONLY tests/cxx_compile.cpp $o/impl_c.o -o $o/cxx_on_c && $o/cxx_on_c"
    check "$cxx C program ($cc) linked with the implementation compiled as C++" \
        "$(q "$cxx" -std=c++11 "${STRICT[@]}") -DTCPS_TEST_IMPL_ONLY -O2 -c tests/cxx_compile.cpp -o $o/impl_cxx.o && \
         $(q "$cc" -std=c99 "${STRICT[@]}") -c tests/compile_main.c -o $o/main_c.o && \
         $(q "$cxx") $o/main_c.o $o/impl_cxx.o -o $o/c_on_cxx && $o/c_on_cxx"
    check "$cxx TCPS_NO_STDIO" \
        "$(q "$cxx" -std=c++11 "${STRICT[@]}") -DTCPS_NO_STDIO -DTCPS_TEST_IMPL_ONLY -c tests/cxx_compile.cpp -o $o/nostdio.o"
done

echo "compile: $npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
