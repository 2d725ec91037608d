-- 100,000 sessions (tests/bench/gen_sessions: all open until the end of the
-- capture) through sessions() and reassemble(): the Lua heap stays flat
-- while they go by, and nothing is held at the end.
local T = require "check"
local ts = require "tcpsession"

local N = 100000
local gen = T.build .. "/lua/gen_sessions"
if not io.open(gen) then
    T.ok(false, "the capture generator is built", gen .. " missing (make " .. gen .. ")")
    T.done()
end
local path = os.tmpname()
assert(os.execute(T.shq(gen) .. " " .. T.shq(path) .. " " .. N .. " 7 >/dev/null 2>&1"), "gen_sessions failed")

-- heap samples (KB, no forced collection: the collector must keep up by
-- itself) every 10,000 sessions, from the 20,000th on
local function flat(samples)
    local lo, hi = math.huge, 0
    for _, v in ipairs(samples) do
        lo = math.min(lo, v)
        hi = math.max(hi, v)
    end
    return hi - lo, lo, hi
end

do
    local n, bytes, samples = 0, 0, {}
    local seen = {}
    for s in ts.sessions(path) do
        n = n + 1
        bytes = bytes + #s.c2s + #s.s2c
        if #s.chunks ~= 2 then seen.bad = true end
        if n >= 20000 and n % 10000 == 0 then samples[#samples + 1] = collectgarbage("count") end
    end
    T.eq(n, N, "sessions(): 100,000 sessions")
    T.ok(not seen.bad, "each with its request and reply")
    local spread, lo, hi = flat(samples)
    print(string.format("sessions(): Lua heap %.0f-%.0f KB over %d samples", lo, hi, #samples))
    T.ok(spread < 4096, "sessions(): the Lua heap stays flat (within 4 MB)", string.format("%.0f KB to %.0f KB", lo, hi))
    T.heap()
    T.eq((ts.memory()), 0, "sessions(): nothing held at the end")
end

do
    local n, samples = 0, {}
    local st = assert(ts.reassemble(path, {
        on_data = function(s, dir, data) s.n = (s.n or 0) + #data end,
        on_close = function(s)
            n = n + 1
            if n >= 20000 and n % 10000 == 0 then samples[#samples + 1] = collectgarbage("count") end
        end,
    }))
    T.eq(n, N, "reassemble(): 100,000 closes")
    T.eq(st.sessions, N, "reassemble(): stats agree")
    local spread, lo, hi = flat(samples)
    print(string.format("reassemble(): Lua heap %.0f-%.0f KB over %d samples", lo, hi, #samples))
    T.ok(spread < 4096, "reassemble(): the Lua heap stays flat (within 4 MB)", string.format("%.0f KB to %.0f KB", lo, hi))
    T.heap()
    T.eq((ts.memory()), 0, "reassemble(): nothing held at the end")
end

os.remove(path)
T.done()
