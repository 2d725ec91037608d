-- Object lifetimes: sessions and captures collected mid-iteration, kept
-- past their capture, closed with <close>; nothing held afterwards
-- (tcpsession.memory() counts every byte the engine and the module hold,
-- and the runner repeats this file under AddressSanitizer with leak checks).
local T = require "check"
local ts = require "tcpsession"
local SAMPLE = "data/sample.pcap"

local function held() T.heap(); return (ts.memory()) end

T.eq(held(), 0, "nothing held at the start")

-- break out of the loop: the closing value releases the capture at once
do
    local kept
    for s in ts.sessions(SAMPLE) do
        kept = s
        break
    end
    local h = held()
    T.ok(h > 0 and h < 4096, "after a break only the kept session is held", h)
    T.eq(kept.stream, 0, "the kept session is readable")
    T.ok(kept.c2s:find("GET /", 1, true) == 1, "its bytes too")
    kept = nil
    T.eq(held(), 0, "nothing held once it is dropped")
end

-- no closing: the iterator dropped with sessions still open and queued
do
    local iter, cap = ts.sessions(SAMPLE)
    local s = iter(cap)
    T.eq(s.stream, 0, "first session by hand")
    iter, cap, s = nil, nil, nil
    T.eq(held(), 0, "capture collected mid-iteration: nothing held")
end

-- sessions outlive their capture, and stay whole after collections
do
    local all = {}
    do
        local cap <close> = assert(ts.open(SAMPLE))
        for s in cap:sessions() do all[#all + 1] = s end
    end
    T.heap()
    local ok = #all == 6
    for _, s in ipairs(all) do
        if #s.c2s ~= s.c2s_bytes or #s.chunks == 0 or type(s.c2s_sha256) ~= "string" then ok = false end
    end
    T.ok(ok, "six sessions readable after their capture closed and a collection")
    all = nil
    T.eq(held(), 0, "nothing held once they are dropped")
end

-- <close> on a session drops its bytes early; the numbers stay
do
    local keep
    for s in ts.sessions(SAMPLE) do
        local c <close> = s
        if s.stream == 1 then keep = s end
    end
    T.eq(keep.c2s, nil, "a closed session's bytes are gone")
    T.eq(keep.s2c_bytes, 295, "a closed session's numbers stay")
    keep = nil
    T.eq(held(), 0, "nothing held")
end

-- a closed capture: iterating again gives nothing, close twice is fine
do
    local cap = assert(ts.open(SAMPLE))
    local n = 0
    for _ in cap:sessions() do n = n + 1 end
    T.eq(n, 6, "six sessions")
    local again = 0
    for _ in cap:sessions() do again = again + 1 end
    T.eq(again, 0, "a finished capture gives no more")
    cap:close()
    cap:close()
    T.ok(cap:status() == true, "status after close")
    T.ok(tostring(cap):find("closed", 1, true), "tostring says closed")
end

-- streaming sessions kept from the callbacks outlive the run
do
    local kept = {}
    assert(ts.reassemble(SAMPLE, { on_open = function(s) kept[#kept + 1] = s end }))
    T.heap()
    T.ok(#kept == 6 and kept[6]["end"] == "eof" and kept[3].s2c_missing == 36,
        "sessions from reassemble() are readable after it returned")
    kept = nil
    T.eq(held(), 0, "nothing held once dropped")
end

-- many opened and abandoned captures: the Lua heap and the C side flat
do
    local rounds = T.sanitized and 100 or 1000
    local function round(i)
        for s in ts.sessions(SAMPLE) do
            local _ = s.s2c
            if s.stream == i % 6 then break end
        end
    end
    for i = 1, 50 do round(i) end
    local h0 = T.heap()
    for i = 1, rounds do round(i) end
    local h1 = T.heap()
    T.ok(h1 - h0 < 64, string.format("%d abandoned iterations: the Lua heap stays flat", rounds),
        string.format("%.1f KB -> %.1f KB", h0, h1))
    T.eq(held(), 0, "nothing held by the C side")
end

-- many reassemble() runs whose callbacks keep per-session fields
do
    local rounds = T.sanitized and 50 or 500
    local function round()
        assert(ts.reassemble(SAMPLE, { on_data = function(s, dir, d) s.n = (s.n or 0) + #d end }))
    end
    for _ = 1, 20 do round() end
    local h0 = T.heap()
    for _ = 1, rounds do round() end
    local h1 = T.heap()
    T.ok(h1 - h0 < 64, string.format("%d reassemble() runs: the Lua heap stays flat", rounds),
        string.format("%.1f KB -> %.1f KB", h0, h1))
    T.eq(held(), 0, "nothing held by the C side")
end

T.done()
