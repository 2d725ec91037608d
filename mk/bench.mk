# Benchmarks: programs, not timed tests; each runs the peers and the physical
# limit of its job on the same capture in the same run (tests/bench/README.md).
#   make bench   bench-reader, bench-engine, bench-cli and bench-layer

.PHONY: bench bench-reader bench-engine bench-cli bench-layer
# The reader benchmark needs libpcap (pkg-config or the plain header).
BENCH_MB    ?= 1024
BENCH_FILE  ?= $(BUILD)/bench/traffic-$(BENCH_MB)M.pcap
# where bench-cli writes the outputs of extract and tcpflow (one file system)
BENCH_OUT   ?= $(BUILD)/bench/cli-out

$(BUILD)/bench/gen_traffic: tests/bench/gen_traffic.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 -o $@ $<

$(BUILD)/bench/bench_reader: tests/bench/bench_reader.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 -g -DNDEBUG $(DEPFLAGS) -I. $(PCAP_CFLAGS) -o $@ $< $(PCAP_LIBS)

$(BENCH_FILE): | $(BUILD)/bench/gen_traffic
	$(BUILD)/bench/gen_traffic $@.tmp $(BENCH_MB) && mv $@.tmp $@

bench: bench-reader bench-engine bench-cli bench-layer

$(BUILD)/bench/bench_upto: tests/bench/bench_upto.c tcpsession.h
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 -g -DNDEBUG $(DEPFLAGS) -I. -o $@ $<

# the everyday commands against the engine under them and the physical
# limit of each job (openssl dgst, cp), with ratios and targets
bench-layer: $(CLI_BIN) $(BUILD)/bench/bench_upto
	@$(MAKE) --no-print-directory $(BENCH_FILE)
	TCPSESSION=$(CLI_BIN) BUILD=$(BUILD) bash tests/bench/bench_layer.sh $(BENCH_FILE)

# the command against tcpflow, tshark and sha256sum on the same capture
bench-cli: $(CLI_BIN)
	@$(MAKE) --no-print-directory $(BENCH_FILE)
	TCPSESSION=$(CLI_BIN) BUILD=$(BUILD) BENCH_OUT=$(BENCH_OUT) bash tests/bench/bench_cli.sh $(BENCH_FILE)

bench-reader:
	@if [ -z "$(PCAP_LIBS)" ]; then echo "bench: libpcap not found (apt-get install libpcap-dev)" >&2; exit 1; fi
	@$(MAKE) --no-print-directory $(BUILD)/bench/bench_reader $(BENCH_FILE)
	$(BUILD)/bench/bench_reader $(BENCH_FILE)

# tcpsession against libnids and libtins; as root it records
# build/bench/bulk-1024M.pcap of this machine's own TCP on first use
bench-engine:
	BUILD=$(BUILD) CC="$(CC)" CXX="$(CXX)" bash tests/bench/run_engine_bench.sh

