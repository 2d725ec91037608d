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

test: $(TEST_BINS)
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; (cd tests && ../$$t); done

clean:
	rm -rf $(BUILD)
