-- Errors come back as nil, message, code: a missing file, a directory, a
-- file that is no capture, an empty one, a capture cut in its header and
-- one cut inside its last record (whose message gives the byte offset of
-- that record, found here by walking the pcap records independently).
local T = require "check"
local ts = require "tcpsession"

local tmp = os.tmpname()
local function tmpfile(data)
    T.writefile(tmp, data)
    return tmp
end

local function expect(path, code, what, pattern)
    local a, msg, c = ts.open(path)
    T.ok(a == nil and type(msg) == "string" and msg:find(path, 1, true) == 1 and c == code,
        what .. ": open gives nil, message, " .. code, tostring(msg) .. " " .. tostring(c))
    if pattern then T.ok(msg and msg:find(pattern), what .. ": message says why", msg) end
    local b, msg2, c2 = ts.sessions(path)
    T.ok(b == nil and msg2 == msg and c2 == code, what .. ": sessions() the same")
    local d, msg3, c3 = ts.reassemble(path, {})
    T.ok(d == nil and msg3 == msg and c3 == code, what .. ": reassemble() the same")
end

expect("no/such/file.pcap", "TCPS_E_IO", "missing file", "No such file")
expect("data", "TCPS_E_IO", "a directory")
expect(tmpfile("this is plain text, not a capture at all\n"), "TCPS_E_FORMAT", "text file", "at byte 0")
expect(tmpfile(""), "TCPS_E_FORMAT", "empty file")

local sample = assert(T.readfile("data/sample.pcap"))
expect(tmpfile(sample:sub(1, 10)), "TCPS_E_BAD_HEADER", "cut in the file header")

-- the last record's offset, from the pcap format: 24-byte file header, then
-- 16-byte record headers whose third field is the captured length
local le = sample:sub(1, 4) == "\212\195\178\161"
local fmt = le and "<I4" or ">I4"
local pos, last = 25, nil
while pos <= #sample do
    last = pos - 1
    local incl = string.unpack(fmt, sample, pos + 8)
    pos = pos + 16 + incl
end
T.eq(pos, #sample + 1, "the sample's records end at its end")

local cut = tmpfile(sample:sub(1, #sample - 10))
do
    local cap, msg = ts.open(cut)
    T.ok(cap, "a capture cut in its last record opens", msg)
    local n = 0
    for _ in cap:sessions() do n = n + 1 end
    T.eq(n, 6, "every session before the cut is delivered")
    local ok, m, code = cap:status()
    T.ok(ok == nil and code == "TCPS_E_TRUNCATED", "status(): nil, message, TCPS_E_TRUNCATED", tostring(m) .. " " .. tostring(code))
    T.ok(m and m:find(cut, 1, true) == 1 and m:find("at byte " .. last .. "$"),
        "the message names the file and the offset of the cut record (" .. last .. ")", m)
    cap:close()
end
do
    local closes = 0
    local st, m, code = ts.reassemble(cut, { on_close = function() closes = closes + 1 end })
    T.ok(st == nil and code == "TCPS_E_TRUNCATED" and m:find("at byte " .. last .. "$"),
        "reassemble(): nil, message, code on the cut capture", tostring(m))
    T.eq(closes, 6, "reassemble(): every session closed before the error")
end

-- argument errors are raised, not returned
T.ok(not pcall(ts.open), "open() without a path raises")
T.ok(not pcall(ts.open, "data/sample.pcap", 5), "options that are no table raise")
T.ok(not pcall(ts.open, "data/sample.pcap", { idle_timeout_ms = "soon" }), "a bad option raises")

os.remove(tmp)
T.heap()
T.eq((ts.memory()), 0, "nothing held after the errors")
T.done()
