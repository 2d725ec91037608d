-- Build from a checkout of the repository, at its top:
--     luarocks make bindings/lua/tcpsession-0.1.0-1.rockspec
-- (add --local for ~/.luarocks). The repository's Makefile builds the module
-- (`make lua`: the SWIG module made from bindings/tcpsession.i, the Lua
-- layer bindings/lua/tcpsession.lua compiled into it, tcpsession.h and the
-- shared layer in lib/) and installs it (`make install-lua`); it needs
-- swig, Lua 5.4's headers, libcrypto, libarchive and zlib (Debian: swig
-- liblua5.4-dev libssl-dev libarchive-dev zlib1g-dev).
rockspec_format = "3.0"
package = "tcpsession"
version = "0.1.0-1"
source = {
    -- a placeholder until the repository is published: set it to the real
    -- address then; `luarocks make` in a checkout
    -- builds what is there and does not fetch this
    url = "git+https://github.com/tcpsession/tcpsession.git",
    tag = "v0.1.0",
}
description = {
    summary = "TCP session reassembly of pcap and pcapng captures",
    detailed = [[
Reads pcap and pcapng captures and reassembles every TCP session in them:
each direction's bytes as the receiving application got them, in the order
the peers exchanged them, every missing byte reported as a gap. An iterator
over finished sessions and a streaming mode with callbacks.]],
    license = "MIT",
    homepage = "https://github.com/tcpsession/tcpsession",
}
dependencies = { "lua >= 5.4, < 5.5" }
build = {
    type = "make",
    build_target = "lua",
    build_variables = {
        NO_DEPS = "1",
        CC = "$(CC)",
        LUA_INC = "$(LUA_INCDIR)",
        BUILD = "build/luarocks",
    },
    install_target = "install-lua",
    install_variables = {
        NO_DEPS = "1",
        LUA_CMOD_DIR = "$(LIBDIR)",
        BUILD = "build/luarocks",
    },
    copy_directories = {},
}
