# tcpsession - build, tests, fuzzing, benchmarks.  See README.md.
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wpedantic
STD     := -std=c99
BUILD   ?= build

TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

.PHONY: all test clean
all:

$(BUILD)/tests/%: tests/%.c tcpsession.h $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) -I. -Itests -o $@ $< -lcriterion

# Tests run from the top of the repository; the shared capture corpus is
# looked for at $(TCPS_CORPUS) (tests skip those cases when it is absent).
TCPS_CORPUS ?= ../shared/corpus
export TCPS_CORPUS

test: $(TEST_BINS)
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; ./$$t; done

clean:
	rm -rf $(BUILD)
