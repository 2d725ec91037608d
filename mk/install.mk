# make install / make uninstall: the command, its man page, the header and its
# pkg-config file, the Lua module where Lua 5.4 is present.
.PHONY: install uninstall install-lua
VERSION := $(shell sed -n 's/^\#define TCPS_VERSION_STRING "\(.*\)"/\1/p' tcpsession.h)
install: all $(if $(HAVE_LUA),$(LUA_MOD))
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(CLI_BIN) $(DESTDIR)$(PREFIX)/bin/tcpsession
	install -m 644 tcpsession.h $(DESTDIR)$(PREFIX)/include/tcpsession.h
	printf 'prefix=%s\nincludedir=$${prefix}/include\n\nName: tcpsession\nDescription: %s\nVersion: %s\nCflags: -I$${includedir}\n' \
	  '$(PREFIX)' 'TCP session reassembly from pcap and pcapng captures, in one C header' '$(VERSION)' \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tcpsession.pc
	install -m 644 cli/tcpsession.1 $(DESTDIR)$(PREFIX)/share/man/man1/tcpsession.1
ifeq ($(HAVE_LUA),1)
	@$(MAKE) --no-print-directory install-lua
endif

# the Lua module alone (what luarocks' make build runs)
install-lua: $(LUA_MOD)
	install -d $(DESTDIR)$(LUA_CMOD_DIR)
	install -m 755 $(LUA_MOD) $(DESTDIR)$(LUA_CMOD_DIR)/tcpsession.so

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/tcpsession.h $(DESTDIR)$(PREFIX)/bin/tcpsession \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig/tcpsession.pc $(DESTDIR)$(PREFIX)/share/man/man1/tcpsession.1 \
	  $(DESTDIR)$(LUA_CMOD_DIR)/tcpsession.so

