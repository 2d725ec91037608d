# tcpsession - see README.md.  The targets a user runs:
#
#   make              the command (build/tcpsession) and the examples
#   make demo         lists and follows the TCP sessions of data/sample.pcap
#   make test         every test: suites, compile tests, sanitizers, the command's
#                     scripts, failing allocators, fuzz regressions, Python, Lua
#   make sanitize     the suites again under ASan + UBSan
#   make python       the Python binding into build/python/ (bindings/python/)
#   make lua          the Lua 5.4 module, build/lua/tcpsession.so (bindings/lua/)
#   make fuzz         the libFuzzer harnesses (clang) and their gcc replay drivers
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
#
# The rules live in mk/: lib.mk (the shared layer), cli.mk (the command and
# the examples), tests.mk, hostile.mk, fuzz.mk, bench.mk, python.mk, lua.mk,
# install.mk.  Every compiled file records the headers it includes (-MMD), so
# it is rebuilt when one of them changes.

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
# has Lua built in and exports its API; on macOS: LUA_LIB='-undefined dynamic_lookup'
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
DEPFLAGS = -MMD -MP -MF $@.d

# Sanitizer build: clang if there is one, else gcc.
SAN_CC    ?= $(shell command -v clang >/dev/null 2>&1 && echo clang || echo gcc)
TSAN_CC   ?= $(SAN_CC)
TSAN_FLAGS := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_CC   ?= clang

.DEFAULT_GOAL := all
.PHONY: all deps check-deps-build check-deps-test demo clean

include mk/lib.mk mk/cli.mk mk/tests.mk mk/hostile.mk mk/fuzz.mk mk/bench.mk \
        mk/python.mk mk/lua.mk mk/install.mk

deps:
	@bash .ci/deps test
check-deps-build:
	@test -n "$(NO_DEPS)" || bash .ci/deps build
check-deps-test:
	@test -n "$(NO_DEPS)" || bash .ci/deps test

DEMO_CAPTURE ?= data/sample.pcap
# the sessions of the sample capture, then one followed as tshark prints it
demo: check-deps-build
	@$(MAKE) --no-print-directory $(CLI_BIN)
	@test -f $(DEMO_CAPTURE) || { echo "$(DEMO_CAPTURE) is missing (see data/)" >&2; exit 1; }
	./$(CLI_BIN) list $(DEMO_CAPTURE)
	./$(CLI_BIN) follow -m ascii -s 2 $(DEMO_CAPTURE)

clean:
	rm -rf $(BUILD)

# the dependency files written by -MMD
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
