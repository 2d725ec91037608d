-- What data/make_samples.c put into the sample captures, read back through
-- the Lua module: every fact checked here is in the generator's source.
local T = require "check"
local ts = require "tcpsession"

for _, path in ipairs({ "data/sample.pcap", "data/sample.pcapng" }) do
    local by = {}
    local order = {}
    for s in ts.sessions(path) do
        by[s.stream] = s
        order[#order + 1] = s.stream
    end
    local n = 0
    for _ in pairs(by) do n = n + 1 end
    T.eq(n, 6, path .. ": six sessions")

    local s0, s1, s2, s3, s4, s5 = by[0], by[1], by[2], by[3], by[4], by[5]
    T.eq(s0.c2s, "GET / HTTP/1.1\r\nHost: example.test\r\nUser-Agent: sample\r\n\r\n", path .. ": stream 0 request")
    T.ok(s0.s2c:find("Transfer-Encoding: chunked", 1, true) and s0.s2c:find("function greet(name)", 1, true),
        path .. ": stream 0 chunked page")
    T.eq(s0.client, "192.168.1.10:51000", path .. ": stream 0 client")
    T.eq(s0.server, "93.184.216.34:80", path .. ": stream 0 server")
    T.eq(s0.client_ip .. "|" .. s0.client_port .. "|" .. s0.server_ip .. "|" .. s0.server_port,
        "192.168.1.10|51000|93.184.216.34|80", path .. ": stream 0 ip and port fields")
    T.eq(s0["end"], "fin", path .. ": stream 0 ends with FIN")
    T.ok(s0.handshake, path .. ": stream 0 handshake seen")
    T.eq(s0.chunks[1].dir, "c2s", path .. ": the request comes first in exchange order")
    T.eq(s0.chunks[#s0.chunks].dir, "s2c", path .. ": the response comes last")
    -- first_ts: the generator's clock starts at 1700000000 s and the first
    -- packet of the first handshake is at most a second later
    T.ok(s0.first_sec == 1700000000 and s0.first_ts >= 1700000000 and s0.first_ts < 1700000001,
        path .. ": stream 0 first time", s0.first_ts)

    T.ok(s1.s2c:find("HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nContent-Encoding: gzip", 1, true) == 1,
        path .. ": stream 1 response, reordered and retransmitted, in order")
    local clen = tonumber(s1.s2c:match("Content%-Length: (%d+)"))
    local body = s1.s2c:sub(s1.s2c:find("\r\n\r\n", 1, true) + 4)
    T.eq(#body, clen, path .. ": stream 1 body as long as its Content-Length")
    T.eq(body:sub(1, 2), "\31\139", path .. ": stream 1 body is gzip")
    T.eq(s1.s2c_missing, 0, path .. ": stream 1 nothing missing")

    T.eq(s2.ip_version, 6, path .. ": stream 2 IPv6")
    T.eq(s2.client, "[2001:db8:1::10]:40001", path .. ": stream 2 client in brackets")
    T.eq(s2.c2s, "LIST\n", path .. ": stream 2 request")
    T.eq(s2.s2c, "first part of the answer\nlast part of the answer\n", path .. ": stream 2 answer without the lost part")
    local g = s2.gaps[1]
    T.ok(#s2.gaps == 1 and g.dir == "s2c" and g.offset == 25 and g.length == 36 and g.reason == "acked",
        path .. ": stream 2 one gap of the 36 lost bytes at offset 25",
        g and string.format("%s %d %d %s", g.dir, g.offset, g.length, g.reason))
    T.eq(s2.s2c_missing, 36, path .. ": stream 2 missing")

    T.ok(s3.c2s == "PING\r\n" and s3.s2c == "+PONG\r\n", path .. ": stream 3 data")
    T.eq(s3["end"], "rst", path .. ": stream 3 reset")
    T.eq(s3.vlan, 42, path .. ": stream 3 VLAN 42")

    T.eq(s4.client .. " " .. s4.server, s0.client .. " " .. s0.server, path .. ": stream 4 reuses stream 0's 4-tuple")
    T.ok(s4.c2s:find("GET /favicon.ico", 1, true) == 1 and s4.s2c:find("404", 1, true), path .. ": stream 4 data")

    T.eq(s5["end"], "eof", path .. ": stream 5 still open at the end")
    T.eq(s5.handshake, false, path .. ": stream 5 no handshake")
    T.ok(s5.c2s == "SSH-2.0-sample\r\n" or s5.s2c == "SSH-2.0-sample\r\n", path .. ": stream 5 data")

    -- chunks: in order per direction, adding up to the strings
    local ok = true
    for _, s in pairs(by) do
        local pos = { c2s = 0, s2c = 0 }
        local cat = { c2s = {}, s2c = {} }
        for _, k in ipairs(s.chunks) do
            local missing = 0
            for _, gp in ipairs(s.gaps) do
                if gp.dir == k.dir and gp.offset >= pos[k.dir] and gp.offset < k.offset then missing = missing + gp.length end
            end
            if k.offset ~= pos[k.dir] + missing then ok = false end
            pos[k.dir] = k.offset + #k.data
            cat[k.dir][#cat[k.dir] + 1] = k.data
            if type(k.ts) ~= "number" or math.type(k.frame) ~= "integer" then ok = false end
        end
        if table.concat(cat.c2s) ~= s.c2s or table.concat(cat.s2c) ~= s.s2c then ok = false end
    end
    T.ok(ok, path .. ": chunks contiguous (but for gaps) and the same bytes as c2s and s2c")
end

-- both files hold the same sessions
local a, b = {}, {}
for s in ts.sessions("data/sample.pcap") do a[#a + 1] = s.stream .. s.c2s .. s.s2c .. s["end"] end
for s in ts.sessions("data/sample.pcapng") do b[#b + 1] = s.stream .. s.c2s .. s.s2c .. s["end"] end
T.eq(table.concat(a, "|"), table.concat(b, "|"), "pcap and pcapng give the same sessions")

T.done()
