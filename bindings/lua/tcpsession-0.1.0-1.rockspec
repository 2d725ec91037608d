-- Build from a checkout of the repository, at its top:
--     luarocks make bindings/lua/tcpsession-0.1.0-1.rockspec
-- (add --local for ~/.luarocks). The module is compiled from
-- bindings/lua/tcpsession_lua.c with the repository's tcpsession.h and the
-- shared layer's sources in lib/; it needs Lua 5.4's headers and libcrypto
-- (Debian: liblua5.4-dev libssl-dev).
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
    type = "builtin",
    modules = {
        tcpsession = {
            sources = { "bindings/lua/tcpsession_lua.c", "lib/text.c", "lib/digest.c", "lib/collect.c", "lib/mem.c" },
            defines = { "_POSIX_C_SOURCE=200809L" },
            incdirs = { ".", "lib" },
            libraries = { "crypto" },
        },
    },
    copy_directories = {},
}
