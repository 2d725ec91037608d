-- summary.lua - a table of the sessions of a capture, in stream order.
--
--     lua5.4 examples/lua/summary.lua capture.pcap
--
-- Only the numbers are needed, so the bytes are not kept ({ data = false }):
-- memory stays small on big captures.
local tcpsession = require "tcpsession"

local path = arg[1] or error("usage: lua5.4 summary.lua CAPTURE")
local rows = {}
local cap, err = tcpsession.open(path, { data = false })
if not cap then
    io.stderr:write(err, "\n")
    os.exit(1)
end
for s in cap:sessions() do
    rows[#rows + 1] = s:fields()
end
table.sort(rows, function(a, b) return a.stream < b.stream end)

local fmt = "%6s  %-24s %-24s %10s %10s %8s %7s %9s  %s"
print(string.format(fmt, "stream", "client", "server", "c2s", "s2c", "missing", "packets", "seconds", "end"))
local total = { c2s = 0, s2c = 0, missing = 0, packets = 0 }
for _, r in ipairs(rows) do
    local missing = r.c2s_missing + r.s2c_missing
    print(string.format(fmt, r.stream, r.client, r.server, r.c2s_bytes, r.s2c_bytes, missing, r.packets,
        string.format("%.3f", r.last_ts - r.first_ts), r["end"]))
    total.c2s = total.c2s + r.c2s_bytes
    total.s2c = total.s2c + r.s2c_bytes
    total.missing = total.missing + missing
    total.packets = total.packets + r.packets
end
print(string.format(fmt, "total", #rows .. " sessions", "", total.c2s, total.s2c, total.missing, total.packets, "", ""))
local ok, why = cap:status()
if not ok then
    io.stderr:write(why, "\n")
    os.exit(1)
end
