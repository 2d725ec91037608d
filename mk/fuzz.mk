# One libFuzzer binary per fuzz/fuzz_*.c (clang), and a replay build of the
# same harness with fuzz/driver.c and $(CC) under ASan/UBSan (no libFuzzer
# needed) that runs crash files or directories:
#     build/fuzz/fuzz_reader-replay crash-1234
# Harnesses that drive the shared layer (fuzz_http_js) link its sources
# compiled into the same binary, instrumented alike.  See fuzz/README.md.
#
#   make fuzz          the harnesses        make fuzz-corpus   their seed inputs
#   make fuzz-run      each for SECONDS s   make fuzz-regress  the kept inputs replayed
FUZZ_SRCS   := $(wildcard fuzz/fuzz_*.c)
FUZZ_NAMES  := $(patsubst fuzz/%.c,%,$(FUZZ_SRCS))
FUZZ_BINS   := $(addprefix $(BUILD)/fuzz/,$(FUZZ_NAMES))
FUZZ_REPLAY := $(addsuffix -replay,$(FUZZ_BINS))
FUZZ_FLAGS  := -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
               -fno-sanitize-recover=all
# harnesses over the shared layer: fuzz_NAME links lib/ and its libraries
FUZZ_LIB_NAMES := fuzz_http_js
# A build of several sources records with -MMD only the last one's headers:
# those rules take the harness's from a -MM pass of their own, and the
# shared layer's headers as prerequisites.
FUZZ_MM = $(CC) $(STD) $(LIB_DEFS) -MM -MP -MT $@ -MF $@.d $<

.PHONY: fuzz fuzz-corpus fuzz-run fuzz-regress
fuzz: $(FUZZ_BINS) $(FUZZ_REPLAY)

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(STD) $(WARN) $(FUZZ_FLAGS) $(DEPFLAGS) -I. -o $@ $<

$(BUILD)/fuzz/fuzz_%-replay: fuzz/fuzz_%.c fuzz/driver.c
	@mkdir -p $(dir $@)
	@$(FUZZ_MM)
	$(CC) $(STD) $(WARN) $(SAN_FLAGS) -I. -o $@ $< fuzz/driver.c

$(addprefix $(BUILD)/fuzz/,$(FUZZ_LIB_NAMES)): $(BUILD)/fuzz/%: fuzz/%.c $(LIB_SRCS) $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	@$(FUZZ_MM)
	$(FUZZ_CC) $(STD) $(WARN) $(FUZZ_FLAGS) $(LIB_DEFS) -o $@ $< $(LIB_SRCS) $(LIB_LIBS)

$(addsuffix -replay,$(addprefix $(BUILD)/fuzz/,$(FUZZ_LIB_NAMES))): $(BUILD)/fuzz/%-replay: fuzz/%.c fuzz/driver.c $(LIB_SRCS) $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	@$(FUZZ_MM)
	$(CC) $(STD) $(WARN) $(SAN_FLAGS) $(LIB_DEFS) -o $@ $< fuzz/driver.c $(LIB_SRCS) $(LIB_LIBS)

$(BUILD)/fuzz/make_seeds: fuzz/make_seeds.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(DEPFLAGS) -I. -Itests -o $@ $< -lz

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
