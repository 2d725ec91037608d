.PHONY: lua lua-san test-lua bench-lua
# The Lua 5.4 module (bindings/lua/README.md).
#   make lua         build/lua/tcpsession.so   (LUA_CPATH=build/lua/?.so lua5.4 ...)
#   make test-lua    its tests alone (make test runs them too)
#   make bench-lua   Lua's reassemble() against `tcpsession list --json`
# lua-san is the same module with AddressSanitizer (gcc's, loaded with
# LD_PRELOAD into the uninstrumented interpreter by the tests).
LUA_MOD      := $(BUILD)/lua/tcpsession.so
LUA_SAN_MOD  := $(BUILD)/lua-san/tcpsession.so
LUA_SAN_CC   ?= gcc
LUA_WRAP     := $(BUILD)/lua/tcpsession_wrap.c
LUA_LAYER    := $(BUILD)/lua/tcpsession_lua.inc
LUA_SRCS     := $(LUA_WRAP) bindings/lua/module.c bindings/impl.c
LUA_MOD_DEPS := $(LUA_SRCS) $(LUA_LAYER) tcpsession.h lib/tsl.h lib/extract.h
# the generated wrapper is SWIG's code: warnings of our own files only
LUA_CFLAGS   := -fPIC -shared -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wno-unused-parameter \
                -Wno-missing-field-initializers -I. -Ilib -I$(BUILD)/lua -I$(LUA_INC)
LUA_CMOD_DIR ?= $(PREFIX)/lib/lua/5.4
HAVE_LUA     := $(shell test -f $(LUA_INC)/lua.h && echo 1)
LUA_TEST_DEPS := $(LUA_MOD) $(LUA_SAN_MOD) $(BUILD)/lua/gen_sessions

lua: $(LUA_MOD)
lua-san: $(LUA_SAN_MOD)

# the SWIG module, from the interface the Python binding is made from too
$(LUA_WRAP): bindings/tcpsession.i tcpsession.h lib/tsl.h lib/extract.h
	@mkdir -p $(dir $@)
	$(SWIG) -lua -nomoduleglobal -I. -Ilib -o $@ bindings/tcpsession.i

# the Lua layer's text as the bytes of a C array, compiled into the module
$(LUA_LAYER): bindings/lua/tcpsession.lua
	@mkdir -p $(dir $@)
	od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g' > $@.tmp && mv $@.tmp $@

$(LUA_MOD): $(LUA_MOD_DEPS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LUA_CFLAGS) -o $@ $(LUA_SRCS) $(LIB_A) $(LIB_LIBS) $(LUA_LIB) $(LDFLAGS)

$(LUA_SAN_MOD): $(LUA_MOD_DEPS) $(LIB_GSAN_A)
	@mkdir -p $(dir $@)
	$(LUA_SAN_CC) $(SAN_FLAGS) $(LUA_CFLAGS) -o $@ $(LUA_SRCS) $(LIB_GSAN_A) $(LIB_LIBS) $(LUA_LIB)

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

