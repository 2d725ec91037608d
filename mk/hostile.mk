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

.PHONY: hostile-build failalloc failalloc-full bench-adversarial valgrind

$(BUILD)/tap/%: tests/%.c tests/failalloc_tap.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(STD) -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -w -O1 -g $(DEPFLAGS) $(TEST_INC) \
	  -include tests/failalloc_tap.h -o $@ $< $(LIB_A) -lcriterion $(LIB_LIBS)
$(BUILD)/tap/test_quickstart: $(QUICKSTART)

$(BUILD)/tests/failalloc: tests/failalloc.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 -g $(DEPFLAGS) $(TEST_INC) -o $@ $< $(LIB_A) $(LIB_LIBS)
$(BUILD)/san/failalloc: tests/failalloc.c $(LIB_SAN_A)
	@mkdir -p $(dir $@)
	$(SAN_CC) $(STD) $(WARN) $(SAN_FLAGS) $(DEPFLAGS) $(TEST_INC) -o $@ $< $(LIB_SAN_A) $(LIB_LIBS)
$(BUILD)/tests/hostile_caps: tests/hostile_caps.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 -g $(DEPFLAGS) -I. -Itests -o $@ $<
$(BUILD)/san/hostile_caps: tests/hostile_caps.c
	@mkdir -p $(dir $@)
	$(SAN_CC) $(STD) $(WARN) $(SAN_FLAGS) $(DEPFLAGS) -I. -Itests -o $@ $<

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
	$(BUILD)/tests/hostile_caps bench

valgrind: suites-build $(BUILD)/tests/failalloc $(BUILD)/tests/hostile_caps $(CLI_BIN)
	@mkdir -p $(RESULTS)
	@BUILD="$(BUILD)" bash tests/valgrind.sh $(TEST_BINS)
