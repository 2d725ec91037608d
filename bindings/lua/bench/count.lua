-- count.lua CAPTURE [MODE] - the Lua side of make bench-lua.
--   stream    reassemble() with an on_data callback that counts bytes (default)
--   sessions  sessions(path, { data = false }), counting each session's bytes
local tcpsession = require "tcpsession"
local path, mode = arg[1], arg[2] or "stream"
local bytes, sessions = 0, 0
if mode == "stream" then
    local st = assert(tcpsession.reassemble(path, {
        on_data = function(s, dir, data) bytes = bytes + #data end,
    }))
    sessions = st.sessions
else
    local cap = assert(tcpsession.open(path, { data = false }))
    for s in cap:sessions() do
        bytes = bytes + s.c2s_bytes + s.s2c_bytes
        sessions = sessions + 1
    end
    assert(cap:status())
end
print(string.format("%d sessions, %d bytes", sessions, bytes))
