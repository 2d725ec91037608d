# The shared layer (lib/): one static library under the command and both
# bindings, built position-independent so that the binding modules can link
# it.  It uses libcrypto (digests), libarchive (tar.gz) and zlib, found with
# pkg-config.
#
#   $(LIB_A)        -O2, for the command and the bindings
#   $(LIB_SAN_A)    ASan + UBSan with $(SAN_CC), for the sanitizer suites
#   $(LIB_GSAN_A)   ASan + UBSan with gcc, for the Lua module under test
#   $(LIB_TSAN_A)   ThreadSanitizer with $(TSAN_CC), for the suites with threads

LIB_SRCS    := $(wildcard lib/*.c)
LIB_PKGS    := libcrypto libarchive zlib
LIB_CFLAGS  := $(shell pkg-config --cflags $(LIB_PKGS) 2>/dev/null)
LIB_LIBS    := $(or $(shell pkg-config --libs $(LIB_PKGS) 2>/dev/null),-lcrypto -larchive -lz) -pthread
LIB_DEFS    := -D_POSIX_C_SOURCE=200809L -pthread -I. -Ilib $(LIB_CFLAGS)

LIB_A       := $(BUILD)/lib/libtsl.a
LIB_SAN_A   := $(BUILD)/lib-san/libtsl.a
LIB_GSAN_A  := $(BUILD)/lib-gsan/libtsl.a
LIB_TSAN_A  := $(BUILD)/lib-tsan/libtsl.a

# lib_variant DIR, COMPILER, FLAGS: the objects and archive of one build
define lib_variant
$(BUILD)/$(1)/%.o: lib/%.c
	@mkdir -p $$(dir $$@)
	$(2) $(STD) $(WARN) $(3) -fPIC $(LIB_DEFS) $$(DEPFLAGS) -c -o $$@ $$<
$(BUILD)/$(1)/libtsl.a: $(patsubst lib/%.c,$(BUILD)/$(1)/%.o,$(LIB_SRCS))
	@rm -f $$@
	ar rcs $$@ $$^
endef

$(eval $(call lib_variant,lib,$(CC),$(CFLAGS)))
$(eval $(call lib_variant,lib-san,$(SAN_CC),$(SAN_FLAGS)))
$(eval $(call lib_variant,lib-gsan,gcc,$(SAN_FLAGS)))
$(eval $(call lib_variant,lib-tsan,$(TSAN_CC),$(TSAN_FLAGS)))

.PHONY: lib
lib: $(LIB_A)
