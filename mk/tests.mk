# The test suites (tests/test_*.c, criterion), their sanitizer builds, the
# compile tests, and `make test`, which runs everything and sums it up.
#
#   make test-suites   the suites alone      make sanitize   under ASan + UBSan
#   make test-compile  the compile tests     make test-scripts  the command's scripts
#   make test-tsan     the suites whose code runs threads, under ThreadSanitizer

TEST_SRCS  := $(wildcard tests/test_*.c)
TEST_NAMES := $(patsubst tests/%.c,%,$(TEST_SRCS))
TEST_BINS  := $(addprefix $(BUILD)/tests/,$(TEST_NAMES))
SAN_BINS   := $(addprefix $(BUILD)/san/,$(TEST_NAMES))
TSAN_BINS  := $(BUILD)/tsan/tsan_digests
TEST_INC   := -I. -Itests -Ilib -I$(BUILD)/gen $(LIB_CFLAGS)

# The QUICK START of the header's doc comment, turned into C at build time.
QUICKSTART := $(BUILD)/gen/quickstart.inc

.PHONY: test test-run test-scripts test-suites test-compile sanitize test-tsan suites-build san-build tsan-build

$(QUICKSTART): tcpsession.h tests/quickstart_extract.sh
	@mkdir -p $(dir $@)
	sh tests/quickstart_extract.sh tcpsession.h > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/%: tests/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(DEPFLAGS) $(TEST_INC) -o $@ $< $(LIB_A) -lcriterion $(LIB_LIBS) $(LDFLAGS)

$(BUILD)/san/%: tests/%.c $(LIB_SAN_A)
	@mkdir -p $(dir $@)
	$(SAN_CC) $(STD) $(WARN) $(SAN_FLAGS) $(DEPFLAGS) $(TEST_INC) -o $@ $< $(LIB_SAN_A) -lcriterion $(LIB_LIBS)

$(BUILD)/tsan/%: tests/%.c $(LIB_TSAN_A)
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(STD) $(WARN) $(TSAN_FLAGS) $(DEPFLAGS) $(TEST_INC) -o $@ $< $(LIB_TSAN_A) $(LIB_LIBS)

$(BUILD)/tests/test_quickstart $(BUILD)/san/test_quickstart: $(QUICKSTART)

RESULTS := $(BUILD)/results
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:exitcode=66
TEST_SCRIPTS = $(wildcard tests/cli/test_*.sh) tests/realtraffic/run.sh tests/hostile_run.sh \
               tests/fuzz_regress/run.sh bindings/python/tests/run.sh bindings/lua/tests/run.sh

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
	@$(SAN_ENV) bash tests/run_suites.sh $(RESULTS)/sanitize.txt $(SAN_BINS)
	@$(MAKE) --no-print-directory -k tsan-build || true
	@$(TSAN_ENV) bash tests/run_suites.sh $(RESULTS)/tsan.txt $(TSAN_BINS)
	@$(MAKE) --no-print-directory $(CLI_BIN) || true
	@$(MAKE) --no-print-directory python || true
	@$(MAKE) --no-print-directory -k $(LUA_TEST_DEPS) || true
	@$(MAKE) --no-print-directory -k hostile-build || true
	@$(MAKE) --no-print-directory -k $(FUZZ_REPLAY) $(BUILD)/fuzz/make_seeds || true
	@TCPSESSION=$(CLI_BIN) BUILD="$(BUILD)" PYTHON="$(PYTHON)" PYDIR="$(PY_DIR)" LUA="$(LUA)" \
	  bash tests/run_scripts.sh $(RESULTS)/scripts.txt $(TEST_SCRIPTS)
	@bash tests/summary.sh $(RESULTS)/suites.txt $(RESULTS)/compile.txt $(RESULTS)/sanitize.txt \
	  $(RESULTS)/tsan.txt $(RESULTS)/scripts.txt

# the command's test scripts and the real-traffic test alone
test-scripts:
	@mkdir -p $(RESULTS)
	@$(MAKE) --no-print-directory $(CLI_BIN)
	@TCPSESSION=$(CLI_BIN) BUILD="$(BUILD)" bash tests/run_scripts.sh $(RESULTS)/scripts.txt \
	  $(wildcard tests/cli/test_*.sh) tests/realtraffic/run.sh
	@bash tests/summary.sh $(RESULTS)/scripts.txt

suites-build: $(TEST_BINS)
san-build: $(SAN_BINS)
tsan-build: $(TSAN_BINS)

test-suites:
	@mkdir -p $(RESULTS)
	@$(MAKE) --no-print-directory -k suites-build || true
	@bash tests/run_suites.sh $(RESULTS)/suites.txt $(TEST_BINS)
	@bash tests/summary.sh $(RESULTS)/suites.txt

test-compile:
	@mkdir -p $(RESULTS)
	@CC="$(CC)" CXX="$(CXX)" BUILD="$(BUILD)" bash tests/test_compile.sh $(RESULTS)/compile.txt || true
	@bash tests/summary.sh $(RESULTS)/compile.txt

test-tsan:
	@mkdir -p $(RESULTS)
	@$(MAKE) --no-print-directory -k tsan-build || true
	@$(TSAN_ENV) bash tests/run_suites.sh $(RESULTS)/tsan.txt $(TSAN_BINS)
	@bash tests/summary.sh $(RESULTS)/tsan.txt

sanitize:
	@mkdir -p $(RESULTS)
	@$(MAKE) --no-print-directory -k san-build || true
	@$(SAN_ENV) bash tests/run_suites.sh $(RESULTS)/sanitize.txt $(SAN_BINS)
	@bash tests/summary.sh $(RESULTS)/sanitize.txt
