# tcpsession - build, tests, fuzzing, benchmarks.  See README.md.
#
#   make              the command and the examples (needs a C compiler and zlib)
#   make demo         lists and follows the TCP sessions of data/sample.pcap
#   make test         every test: suites, compile tests, sanitizers, the command's
#                     scripts, failing allocators, fuzz regressions, Python, Lua
#   make sanitize     the suites again under ASan + UBSan
#   make python       the SWIG binding into build/python/ (bindings/python/)
#   make lua          the Lua 5.4 module, build/lua/tcpsession.so (bindings/lua/)
#   make fuzz         the libFuzzer harnesses (clang) and their gcc replay drivers
#   make fuzz-corpus  seed inputs for the harnesses
#   make fuzz-run     every harness for SECONDS seconds on its seeds
#   make valgrind     the suites under memcheck (long)
#   make bench        the benchmarks against the peers (not part of `make test`;
#                     also bench-python, bench-lua, bench-adversarial)
#   make install      PREFIX=/usr/local
#   make deps         as root: apt-get install what the tests need (Debian)
#
# `make demo` and `make test` first check for the Debian packages they need
# (.ci/deps); run as root they install what is missing, otherwise they only
# say what is missing.  NO_DEPS=1 skips that check.

CC       ?= cc
CXX      ?= c++
CFLAGS   ?= -O2 -g
CXXFLAGS ?= -O2 -g
LDFLAGS  ?=
PREFIX   ?= /usr/local
DESTDIR  ?=
PYTHON   ?= python3
SWIG     ?= swig
LUA      ?= lua5.4
LUA_INC  ?= /usr/include/lua5.4
# Libraries the Lua module links with: none on Linux, where the interpreter
# has Lua built in and exports its API (a second copy of Lua inside the
# module would break it); on macOS: LUA_LIB='-undefined dynamic_lookup'
LUA_LIB  ?=
BUILD    ?= build
SECONDS  ?= 60
NO_DEPS  ?=

# Tests run from the top of the repository; the shared capture corpus is
# looked for at $(TCPS_CORPUS) (tests skip those cases when it is absent).
TCPS_CORPUS ?= ../shared/corpus
export TCPS_CORPUS

WARN := -Wall -Wextra -Wpedantic
STD  := -std=c99

# Sanitizer build: clang if there is one, else gcc.
SAN_CC    ?= $(shell command -v clang >/dev/null 2>&1 && echo clang || echo gcc)
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_CC   ?= clang

TEST_SRCS  := $(wildcard tests/test_*.c)
TEST_NAMES := $(patsubst tests/%.c,%,$(TEST_SRCS))
TEST_BINS  := $(addprefix $(BUILD)/tests/,$(TEST_NAMES))
SAN_BINS   := $(addprefix $(BUILD)/san/,$(TEST_NAMES))
TEST_HDRS  := tcpsession.h $(wildcard tests/*.h) $(wildcard fuzz/*.h) $(CLI_HDRS)

# libpcap, for the live-capture example and the reader benchmark
PCAP_CFLAGS := $(shell pkg-config --cflags libpcap 2>/dev/null)
PCAP_LIBS   := $(shell pkg-config --libs libpcap 2>/dev/null || \
                 (test -f /usr/include/pcap/pcap.h && echo -lpcap))

# examples/*.c: one program each; live_pcap only where libpcap is installed
EXAMPLE_SRCS := $(filter-out examples/live_pcap.c,$(wildcard examples/*.c))
EXAMPLE_BINS := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRCS))
ifneq ($(PCAP_LIBS),)
EXAMPLE_BINS += $(BUILD)/examples/live_pcap
endif

# the tcpsession command: examples/cli/*.c, with zlib
CLI_SRCS := $(wildcard examples/cli/*.c)
CLI_HDRS := $(wildcard examples/cli/*.h)
CLI_BIN  := $(BUILD)/tcpsession

FUZZ_SRCS  := $(wildcard fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst fuzz/%.c,%,$(FUZZ_SRCS))
FUZZ_BINS  := $(addprefix $(BUILD)/fuzz/,$(FUZZ_NAMES))
FUZZ_REPLAY := $(addsuffix -replay,$(FUZZ_BINS))

# The QUICK START of the header's doc comment, turned into C at build time.
QUICKSTART := $(BUILD)/gen/quickstart.inc

.PHONY: all examples cli data test-scripts bench-reader bench-engine bench-cli python test-python bench-python demo test test-run test-suites test-compile sanitize \
        sanitize-run fuzz fuzz-corpus fuzz-run fuzz-regress bench install uninstall clean \
        deps check-deps-build check-deps-test suites-build san-build lua lua-san test-lua bench-lua \
        hostile-build failalloc failalloc-full bench-adversarial valgrind
.DEFAULT_GOAL := all

# `make` builds what needs only a C compiler; the command also needs zlib
HAVE_ZLIB := $(shell printf '\043include <zlib.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo 1)
ifeq ($(HAVE_ZLIB),1)
all: examples cli
else
all: examples
	@echo "make: zlib's header is missing (zlib1g-dev): build/tcpsession not built" >&2
endif
examples: $(EXAMPLE_BINS)
cli: $(CLI_BIN)

$(BUILD)/examples/%: examples/%.c tcpsession.h
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) -I. -o $@ $< $(LDFLAGS)

$(BUILD)/examples/live_pcap: examples/live_pcap.c tcpsession.h
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) -I. $(PCAP_CFLAGS) -o $@ $< $(PCAP_LIBS) $(LDFLAGS)

$(CLI_BIN): $(CLI_SRCS) $(CLI_HDRS) tcpsession.h
	@mkdir -p $(dir $@)
	$(CC) $(STD) -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) -I. -Iexamples/cli -o $@ $(CLI_SRCS) -lz $(LDFLAGS)

# The sample captures are committed; this rewrites them.
data: $(BUILD)/make_samples
	./$(BUILD)/make_samples data

$(BUILD)/make_samples: data/make_samples.c tcpsession.h tests/capwriter.h tests/pktbuild.h
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) -I. -Itests -o $@ $< -lz

# ------------------------------------------------------------ dependencies
deps:
	@bash .ci/deps test

check-deps-build:
	@test -n "$(NO_DEPS)" || bash .ci/deps build

check-deps-test:
	@test -n "$(NO_DEPS)" || bash .ci/deps test

# -------------------------------------------------------------------- demo
DEMO_CAPTURE ?= data/sample.pcap
# the sessions of the sample capture, then one followed as tshark prints it
demo: check-deps-build
	@$(MAKE) --no-print-directory $(CLI_BIN)
	@test -f $(DEMO_CAPTURE) || { echo "$(DEMO_CAPTURE) is missing (see data/)" >&2; exit 1; }
	./$(CLI_BIN) list $(DEMO_CAPTURE)
	./$(CLI_BIN) follow -m ascii -s 2 $(DEMO_CAPTURE)

# ------------------------------------------------------------------- tests
$(QUICKSTART): tcpsession.h tests/quickstart_extract.sh
	@mkdir -p $(dir $@)
	sh tests/quickstart_extract.sh tcpsession.h > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/%: tests/%.c $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) -I. -Itests -I$(BUILD)/gen -o $@ $< -lcriterion $(LDFLAGS)

$(BUILD)/san/%: tests/%.c $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(SAN_CC) $(STD) $(WARN) $(SAN_FLAGS) -I. -Itests -I$(BUILD)/gen -o $@ $< -lcriterion

$(BUILD)/tests/test_quickstart $(BUILD)/san/test_quickstart: $(QUICKSTART)

RESULTS := $(BUILD)/results

# A suite that fails to build is counted as failed and the rest still run
# (make -k); the last line of `make test` sums every suite.
test: check-deps-test
	@$(MAKE) --no-print-directory test-run

test-run:
	@rm -rf $(RESULTS); mkdir -p $(RESULTS)
	@$(MAKE) --no-print-directory -k suites-build || true
	@bash tests/run_suites.sh $(RESULTS)/suites.txt $(TEST_BINS)
	@CC="$(CC)" CXX="$(CXX)" BUILD="$(BUILD)" bash tests/test_compile.sh $(RESULTS)/compile.txt || true
	@$(MAKE) --no-print-directory -k san-build || true
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  bash tests/run_suites.sh $(RESULTS)/sanitize.txt $(SAN_BINS)
	@$(MAKE) --no-print-directory $(CLI_BIN) || true
	@$(MAKE) --no-print-directory python || true
	@$(MAKE) --no-print-directory -k $(LUA_TEST_DEPS) || true
	@$(MAKE) --no-print-directory -k hostile-build || true
	@$(MAKE) --no-print-directory -k $(FUZZ_REPLAY) $(BUILD)/fuzz/make_seeds || true
	@TCPSESSION=$(CLI_BIN) BUILD="$(BUILD)" PYTHON="$(PYTHON)" PYDIR="$(PY_DIR)" LUA="$(LUA)" \
	  bash tests/run_scripts.sh $(RESULTS)/scripts.txt \
	  $(wildcard tests/cli/test_*.sh) tests/realtraffic/run.sh tests/hostile_run.sh tests/fuzz_regress/run.sh \
	  bindings/python/tests/run.sh bindings/lua/tests/run.sh
	@bash tests/summary.sh $(RESULTS)/suites.txt $(RESULTS)/compile.txt $(RESULTS)/sanitize.txt \
	  $(RESULTS)/scripts.txt

# the command's test scripts and the real-traffic test alone
test-scripts:
	@mkdir -p $(RESULTS)
	@$(MAKE) --no-print-directory $(CLI_BIN)
	@TCPSESSION=$(CLI_BIN) BUILD="$(BUILD)" bash tests/run_scripts.sh $(RESULTS)/scripts.txt \
	  $(wildcard tests/cli/test_*.sh) tests/realtraffic/run.sh
	@bash tests/summary.sh $(RESULTS)/scripts.txt

suites-build: $(TEST_BINS)
san-build: $(SAN_BINS)

test-suites:
	@mkdir -p $(RESULTS)
	@$(MAKE) --no-print-directory -k suites-build || true
	@bash tests/run_suites.sh $(RESULTS)/suites.txt $(TEST_BINS)
	@bash tests/summary.sh $(RESULTS)/suites.txt

test-compile:
	@mkdir -p $(RESULTS)
	@CC="$(CC)" CXX="$(CXX)" BUILD="$(BUILD)" bash tests/test_compile.sh $(RESULTS)/compile.txt || true
	@bash tests/summary.sh $(RESULTS)/compile.txt

sanitize:
	@mkdir -p $(RESULTS)
	@$(MAKE) --no-print-directory -k san-build || true
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  bash tests/run_suites.sh $(RESULTS)/sanitize.txt $(SAN_BINS)
	@bash tests/summary.sh $(RESULTS)/sanitize.txt

# ------------------------------------------------------------- benchmarks
# The reader benchmark needs libpcap (pkg-config or the plain header).
BENCH_MB    ?= 1024
BENCH_FILE  ?= $(BUILD)/bench/traffic-$(BENCH_MB)M.pcap
# where bench-cli writes the outputs of extract and tcpflow (one file system)
BENCH_OUT   ?= $(BUILD)/bench/cli-out

$(BUILD)/bench/gen_traffic: tests/bench/gen_traffic.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 -o $@ $<

$(BUILD)/bench/bench_reader: tests/bench/bench_reader.c tcpsession.h
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 -g -DNDEBUG -I. $(PCAP_CFLAGS) -o $@ $< $(PCAP_LIBS)

$(BENCH_FILE): | $(BUILD)/bench/gen_traffic
	./$(BUILD)/bench/gen_traffic $@.tmp $(BENCH_MB) && mv $@.tmp $@

bench: bench-reader bench-engine bench-cli

# the command against tcpflow, tshark and sha256sum on the same capture
bench-cli: $(CLI_BIN)
	@$(MAKE) --no-print-directory $(BENCH_FILE)
	TCPSESSION=$(CLI_BIN) BUILD=$(BUILD) BENCH_OUT=$(BENCH_OUT) bash tests/bench/bench_cli.sh $(BENCH_FILE)

bench-reader:
	@if [ -z "$(PCAP_LIBS)" ]; then echo "bench: libpcap not found (apt-get install libpcap-dev)" >&2; exit 1; fi
	@$(MAKE) --no-print-directory $(BUILD)/bench/bench_reader $(BENCH_FILE)
	./$(BUILD)/bench/bench_reader $(BENCH_FILE)

# tcpsession against libnids and libtins; as root it records
# build/bench/bulk-1024M.pcap of this machine's own TCP on first use
bench-engine:
	BUILD=$(BUILD) CC="$(CC)" CXX="$(CXX)" bash tests/bench/run_engine_bench.sh

# ------------------------------------------------------------------ python
# The SWIG binding (bindings/python), built into $(PY_DIR) for $(PYTHON):
#   make python                      build; PYTHONPATH=$(PY_DIR) to import it
#   make test-python                 its unittest suite (part of make test)
#   make bench-python BENCH_MB=64    the binding against dpkt and the command
# pip install --no-build-isolation bindings/python   installs it (see its README).
PY_TAG    := $(shell $(PYTHON) -c 'import sys,platform;print(sys.implementation.cache_tag+"-"+platform.python_version())' 2>/dev/null)
PY_DIR    := $(BUILD)/python/$(PY_TAG)
PY_INC    := $(shell $(PYTHON) -c 'import sysconfig;print(sysconfig.get_paths()["include"])' 2>/dev/null)
PY_SUFFIX := $(shell $(PYTHON) -c 'import sysconfig;print(sysconfig.get_config_var("EXT_SUFFIX"))' 2>/dev/null)
PY_CLI    := $(addprefix examples/cli/,extract.c input.c http_js.c tarball.c)
PY_PKG    := $(wildcard bindings/python/tcpsession/*.py bindings/python/tcpsession/*.pyi) bindings/python/tcpsession/py.typed
PY_EXT    := $(PY_DIR)/tcpsession/_core$(PY_SUFFIX)
PY_CFLAGS := -O2 -g -fPIC -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wno-unused-parameter \
             -Wno-missing-field-initializers -Wno-cast-function-type
# sha256 with OpenSSL's code (as Python's hashlib) where libssl-dev is installed
PY_OPENSSL := $(shell printf '\043include <openssl/sha.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo 1)
ifeq ($(PY_OPENSSL),1)
PY_CFLAGS += -DPX_OPENSSL
PY_LIBS   := -lcrypto
endif

python: $(PY_EXT) $(addprefix $(PY_DIR)/tcpsession/,$(notdir $(PY_PKG)))

$(PY_DIR)/tcpsession_wrap.c: bindings/python/tcpsession.i bindings/python/engine.i tcpsession.h
	@test -n "$(PY_INC)" || { echo "python: $(PYTHON) not found" >&2; exit 1; }
	@mkdir -p $(PY_DIR)/tcpsession
	$(SWIG) -python -I. -Iexamples/cli -o $@ -outdir $(PY_DIR)/tcpsession bindings/python/tcpsession.i

$(PY_EXT): $(PY_DIR)/tcpsession_wrap.c bindings/python/impl.c $(PY_CLI) $(CLI_HDRS) tcpsession.h
	$(CC) $(PY_CFLAGS) -shared -I$(PY_INC) -I. -Iexamples/cli -Ibindings/python -o $@ \
	  $(PY_DIR)/tcpsession_wrap.c bindings/python/impl.c $(PY_CLI) -lz $(PY_LIBS) $(LDFLAGS)

$(PY_DIR)/tcpsession/%: bindings/python/tcpsession/% | $(PY_EXT)
	cp $< $@

test-python: python $(CLI_BIN)
	@PYTHON="$(PYTHON)" PYDIR="$(PY_DIR)" TCPSESSION=$(CLI_BIN) BUILD="$(BUILD)" bash bindings/python/tests/run.sh

# BENCH_FILE (1 GiB of mostly full-size frames), then a capture of small
# packets: BENCH_PY_SESSIONS sessions of 8 packets (per-packet costs)
DPKT_PYTHON       ?= /usr/bin/python3
BENCH_PY_SESSIONS ?= 100000
BENCH_PY_SMALL    := $(BUILD)/bench/sessions-$(BENCH_PY_SESSIONS).pcap

$(BENCH_PY_SMALL): bindings/python/tests/mkbench.py bindings/python/tests/capgen.py
	@mkdir -p $(dir $@)
	$(PYTHON) bindings/python/tests/mkbench.py $@.tmp $(BENCH_PY_SESSIONS) && mv $@.tmp $@

bench-python: python $(CLI_BIN)
	@$(MAKE) --no-print-directory $(BENCH_FILE) $(BENCH_PY_SMALL)
	PYTHON="$(PYTHON)" PYDIR="$(PY_DIR)" TCPSESSION=$(CLI_BIN) DPKT_PYTHON=$(DPKT_PYTHON) \
	  $(PYTHON) bindings/python/tests/bench.py $(BENCH_FILE) $(BENCH_PY_SMALL)

# -------------------------------------------------------------------- lua
# The Lua 5.4 module (bindings/lua/README.md).
#   make lua         build/lua/tcpsession.so   (LUA_CPATH=build/lua/?.so lua5.4 ...)
#   make test-lua    its tests alone (make test runs them too)
#   make bench-lua   Lua's reassemble() against `tcpsession list --json`
# lua-san is the same module with AddressSanitizer (gcc's, loaded with
# LD_PRELOAD into the uninstrumented interpreter by the tests).
LUA_MOD      := $(BUILD)/lua/tcpsession.so
LUA_SAN_MOD  := $(BUILD)/lua-san/tcpsession.so
LUA_SAN_CC   ?= gcc
LUA_MOD_DEPS := bindings/lua/tcpsession_lua.c tcpsession.h examples/cli/sha256.h
LUA_CMOD_DIR ?= $(PREFIX)/lib/lua/5.4
HAVE_LUA     := $(shell test -f $(LUA_INC)/lua.h && echo 1)
LUA_TEST_DEPS := $(LUA_MOD) $(LUA_SAN_MOD) $(BUILD)/lua/gen_sessions

lua: $(LUA_MOD)
lua-san: $(LUA_SAN_MOD)

$(LUA_MOD): $(LUA_MOD_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) -fPIC -shared -I. -Iexamples/cli -I$(LUA_INC) -o $@ $< $(LUA_LIB) $(LDFLAGS)

$(LUA_SAN_MOD): $(LUA_MOD_DEPS)
	@mkdir -p $(dir $@)
	$(LUA_SAN_CC) $(STD) $(WARN) $(SAN_FLAGS) -fPIC -shared -I. -Iexamples/cli -I$(LUA_INC) -o $@ $< $(LUA_LIB)

$(BUILD)/lua/gen_sessions: tests/bench/gen_sessions.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 -o $@ $<

test-lua:
	@mkdir -p $(RESULTS)
	@$(MAKE) --no-print-directory -k $(CLI_BIN) $(LUA_TEST_DEPS) || true
	@TCPSESSION=$(CLI_BIN) BUILD="$(BUILD)" LUA="$(LUA)" bash tests/run_scripts.sh $(RESULTS)/lua.txt \
	  bindings/lua/tests/run.sh
	@bash tests/summary.sh $(RESULTS)/lua.txt

$(BUILD)/lua/count_c: bindings/lua/bench/count_c.c tcpsession.h
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 -g -DNDEBUG -I. -o $@ $<

bench-lua: $(CLI_BIN) $(LUA_MOD) $(BUILD)/lua/count_c
	@$(MAKE) --no-print-directory $(BENCH_FILE)
	TCPSESSION=$(CLI_BIN) BUILD=$(BUILD) LUA=$(LUA) bash bindings/lua/bench/bench_lua.sh $(BENCH_FILE)

# ----------------------------------------------------------------- hostile
# Failing allocators (tests/failalloc.c), adversarial captures
# (tests/hostile_caps.c), the malformed corpus files, valgrind.  See
# tests/HOSTILE.md.
#   make failalloc         every capture the suites build, data/ and the
#                          corpus, with the k-th allocation failing, every k
#                          (ASan build; part of `make test`)
#   make failalloc-full    the same, also with the -O2 build
#   make bench-adversarial time per packet of each adversarial capture at
#                          1x, 10x and 100x
#   make valgrind          the suites and failalloc under memcheck
TAP_DIR  := $(BUILD)/tap/caps
TAP_BINS := $(addprefix $(BUILD)/tap/,$(TEST_NAMES))
HOSTILE_DIR := $(BUILD)/hostile

$(BUILD)/tap/%: tests/%.c $(TEST_HDRS) tests/failalloc_tap.h
	@mkdir -p $(dir $@)
	$(CC) $(STD) -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -w -O1 -g -I. -Itests -I$(BUILD)/gen \
	  -include tests/failalloc_tap.h -o $@ $< -lcriterion
$(BUILD)/tap/test_quickstart: $(QUICKSTART)

$(BUILD)/tests/failalloc: tests/failalloc.c tcpsession.h
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 -g -I. -o $@ $<
$(BUILD)/san/failalloc: tests/failalloc.c tcpsession.h
	@mkdir -p $(dir $@)
	$(SAN_CC) $(STD) $(WARN) $(SAN_FLAGS) -I. -o $@ $<
$(BUILD)/tests/hostile_caps: tests/hostile_caps.c tcpsession.h tests/capwriter.h tests/pktbuild.h
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 -g -I. -Itests -o $@ $<
$(BUILD)/san/hostile_caps: tests/hostile_caps.c tcpsession.h tests/capwriter.h tests/pktbuild.h
	@mkdir -p $(dir $@)
	$(SAN_CC) $(STD) $(WARN) $(SAN_FLAGS) -I. -Itests -o $@ $<

# the captures the suites build, saved by the tap (the suites' own results
# do not count here; they are counted by test-run)
$(TAP_DIR)/.done: $(TAP_BINS)
	@rm -rf $(TAP_DIR); mkdir -p $(TAP_DIR)/read $(TAP_DIR)/seg
	@for t in $(TAP_BINS); do TCPS_TAP_DIR=$(TAP_DIR) TCPS_CORPUS=/nonexistent $$t -j1 >/dev/null 2>&1 || true; done
	@echo "tap: $$(ls $(TAP_DIR)/read | wc -l) distinct captures and $$(ls $(TAP_DIR)/seg | wc -l) segment sequences from the suites"
	@touch $@

hostile-build: $(TAP_DIR)/.done $(BUILD)/san/failalloc $(BUILD)/san/hostile_caps $(BUILD)/tests/failalloc \
               $(BUILD)/tests/hostile_caps $(CLI_BIN)

failalloc: hostile-build
	@BUILD="$(BUILD)" bash tests/hostile_run.sh failalloc

failalloc-full: hostile-build
	@BUILD="$(BUILD)" FAILALLOC_FULL=1 bash tests/hostile_run.sh failalloc

bench-adversarial: $(BUILD)/tests/hostile_caps
	./$(BUILD)/tests/hostile_caps bench

valgrind: suites-build $(BUILD)/tests/failalloc $(BUILD)/tests/hostile_caps $(CLI_BIN)
	@mkdir -p $(RESULTS)
	@BUILD="$(BUILD)" bash tests/valgrind.sh $(TEST_BINS)

# -------------------------------------------------------------------- fuzz
# One libFuzzer binary per fuzz/fuzz_*.c (clang), and a replay build of the
# same harness with fuzz/driver.c and $(CC) under ASan/UBSan (no libFuzzer
# needed) that runs crash files or directories:
#     build/fuzz/fuzz_reader-replay crash-1234
# fuzz_http_js fuzzes the command's HTTP/JavaScript extraction: it links
# examples/cli/http_js.c and zlib, its reads (pread) served from memory.
# See fuzz/README.md.
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=all
FUZZ_HDRS  := tcpsession.h $(wildcard fuzz/*.h)
HTTPJS_SRC := examples/cli/http_js.c examples/cli/http_js.h
HTTPJS_FLAGS := -D_POSIX_C_SOURCE=200809L -Iexamples/cli -Wl,--wrap=pread
fuzz: $(FUZZ_BINS) $(FUZZ_REPLAY)

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(STD) $(WARN) $(FUZZ_FLAGS) -I. -o $@ $<

$(BUILD)/fuzz/fuzz_%-replay: fuzz/fuzz_%.c fuzz/driver.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(SAN_FLAGS) -I. -o $@ $< fuzz/driver.c

$(BUILD)/fuzz/fuzz_http_js: fuzz/fuzz_http_js.c $(HTTPJS_SRC) $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(STD) $(WARN) $(FUZZ_FLAGS) $(HTTPJS_FLAGS) -I. -o $@ $< examples/cli/http_js.c -lz

$(BUILD)/fuzz/fuzz_http_js-replay: fuzz/fuzz_http_js.c fuzz/driver.c $(HTTPJS_SRC) $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(SAN_FLAGS) $(HTTPJS_FLAGS) -I. -o $@ $< examples/cli/http_js.c fuzz/driver.c -lz

$(BUILD)/fuzz/make_seeds: fuzz/make_seeds.c tests/capwriter.h tests/pktbuild.h
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) -I. -Itests -o $@ $< -lz

SEEDS := $(BUILD)/fuzz/seeds
fuzz-corpus: $(BUILD)/fuzz/make_seeds
	@rm -rf $(SEEDS); mkdir -p $(SEEDS)
	$(BUILD)/fuzz/make_seeds $(SEEDS)
	@for d in $(SEEDS)/*/; do echo "$$d: $$(ls $$d | wc -l) seeds"; done

# Each harness runs SECONDS seconds; new inputs go to build/fuzz/corpus/NAME,
# crashes to build/fuzz/artifacts/.  A harness fuzz_X uses fuzz/X.dict, the
# seeds in build/fuzz/seeds/X and the regression inputs in
# tests/fuzz_regress/X when they exist.  Any crash, leak, timeout or OOM
# fails the target.
fuzz-run: fuzz fuzz-corpus
	@set -e; mkdir -p $(BUILD)/fuzz/artifacts; \
	for h in $(FUZZ_NAMES); do \
	  n=$${h#fuzz_}; corpus=$(BUILD)/fuzz/corpus/$$n; mkdir -p $$corpus; \
	  seeds=; test -d $(SEEDS)/$$n && seeds=$(SEEDS)/$$n; \
	  regress=; test -d tests/fuzz_regress/$$n && regress=tests/fuzz_regress/$$n; \
	  dict=; test -f fuzz/$$n.dict && dict=-dict=fuzz/$$n.dict; \
	  echo "== $$h for $(SECONDS) s"; \
	  $(BUILD)/fuzz/$$h $$dict -max_total_time=$(SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -max_len=65536 -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/artifacts/$$n- $$corpus $$seeds $$regress; \
	done

# The kept inputs of tests/fuzz_regress/ (every crash a harness found, and
# the seeds) replayed by the gcc builds: part of `make test`.
fuzz-regress: $(FUZZ_REPLAY) $(BUILD)/fuzz/make_seeds
	@BUILD="$(BUILD)" bash tests/fuzz_regress/run.sh

# ---------------------------------------------------------------- install
VERSION := $(shell sed -n 's/^\#define TCPS_VERSION_STRING "\(.*\)"/\1/p' tcpsession.h)
install: all $(if $(HAVE_LUA),$(LUA_MOD))
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(CLI_BIN) $(DESTDIR)$(PREFIX)/bin/tcpsession
	install -m 644 tcpsession.h $(DESTDIR)$(PREFIX)/include/tcpsession.h
	printf 'prefix=%s\nincludedir=$${prefix}/include\n\nName: tcpsession\nDescription: %s\nVersion: %s\nCflags: -I$${includedir}\n' \
	  '$(PREFIX)' 'TCP session reassembly from pcap and pcapng captures, in one C header' '$(VERSION)' \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tcpsession.pc
	install -m 644 examples/cli/tcpsession.1 $(DESTDIR)$(PREFIX)/share/man/man1/tcpsession.1
ifeq ($(HAVE_LUA),1)
	install -d $(DESTDIR)$(LUA_CMOD_DIR)
	install -m 755 $(LUA_MOD) $(DESTDIR)$(LUA_CMOD_DIR)/tcpsession.so
endif

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/tcpsession.h $(DESTDIR)$(PREFIX)/bin/tcpsession \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig/tcpsession.pc $(DESTDIR)$(PREFIX)/share/man/man1/tcpsession.1 \
	  $(DESTDIR)$(LUA_CMOD_DIR)/tcpsession.so

clean:
	rm -rf $(BUILD)
