.PHONY: python test-python bench-python
# The Python binding (bindings/python, on the SWIG interface bindings/tcpsession.i), built into $(PY_DIR) for $(PYTHON):
#   make python                      build; PYTHONPATH=$(PY_DIR) to import it
#   make test-python                 its unittest suite (part of make test)
#   make bench-python BENCH_MB=64    the binding against dpkt and the command
# pip install --no-build-isolation bindings/python   installs it (see its README).
PY_TAG    := $(shell $(PYTHON) -c 'import sys,platform;print(sys.implementation.cache_tag+"-"+platform.python_version())' 2>/dev/null)
PY_DIR    := $(BUILD)/python/$(PY_TAG)
PY_INC    := $(shell $(PYTHON) -c 'import sysconfig;print(sysconfig.get_paths()["include"])' 2>/dev/null)
PY_SUFFIX := $(shell $(PYTHON) -c 'import sysconfig;print(sysconfig.get_config_var("EXT_SUFFIX"))' 2>/dev/null)
PY_PKG    := $(wildcard bindings/python/tcpsession/*.py bindings/python/tcpsession/*.pyi) bindings/python/tcpsession/py.typed
PY_EXT    := $(PY_DIR)/tcpsession/_core$(PY_SUFFIX)
PY_CFLAGS := -O2 -g -fPIC -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wno-unused-parameter \
             -Wno-missing-field-initializers -Wno-cast-function-type

python: $(PY_EXT) $(addprefix $(PY_DIR)/tcpsession/,$(notdir $(PY_PKG)))

$(PY_DIR)/tcpsession_wrap.c: bindings/tcpsession.i tcpsession.h lib/tsl.h lib/extract.h
	@test -n "$(PY_INC)" || { echo "python: $(PYTHON) not found" >&2; exit 1; }
	@mkdir -p $(PY_DIR)/tcpsession
	$(SWIG) -python -I. -Ilib -o $@ -outdir $(PY_DIR)/tcpsession bindings/tcpsession.i

$(PY_EXT): $(PY_DIR)/tcpsession_wrap.c bindings/impl.c $(LIB_A) tcpsession.h lib/tsl.h lib/extract.h
	$(CC) $(PY_CFLAGS) -shared -I$(PY_INC) -I. -Ilib -Ibindings/python $(LIB_CFLAGS) -o $@ \
	  $(PY_DIR)/tcpsession_wrap.c bindings/impl.c $(LIB_A) $(LIB_LIBS) $(LDFLAGS)

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

