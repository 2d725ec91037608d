# The tcpsession command (cli/) and the example programs (examples/).

CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(patsubst cli/%.c,$(BUILD)/cli/%.o,$(CLI_SRCS))
CLI_BIN  := $(BUILD)/tcpsession

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

.PHONY: examples cli data
all: examples cli
examples: $(EXAMPLE_BINS)
cli: $(CLI_BIN)

$(BUILD)/examples/%: examples/%.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(DEPFLAGS) -I. -o $@ $< $(LDFLAGS)

$(BUILD)/examples/live_pcap: examples/live_pcap.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(DEPFLAGS) -I. $(PCAP_CFLAGS) -o $@ $< $(PCAP_LIBS) $(LDFLAGS)

$(BUILD)/cli/%.o: cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(DEPFLAGS) $(LIB_DEFS) -Icli -c -o $@ $<

$(CLI_BIN): $(CLI_OBJS) $(LIB_A)
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJS) $(LIB_A) $(LIB_LIBS) $(LDFLAGS)

# The sample captures are committed; this rewrites them.
data: $(BUILD)/make_samples
	$(BUILD)/make_samples data

$(BUILD)/make_samples: data/make_samples.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(DEPFLAGS) -I. -Itests -o $@ $< -lz
