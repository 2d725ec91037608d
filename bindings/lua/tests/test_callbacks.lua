-- reassemble(): what the callbacks are given, a callback that raises
-- (the error comes back as reassemble's, nothing leaks, the module still
-- works), a callback that returns false (a clean stop), bad arguments.
local T = require "check"
local ts = require "tcpsession"
local SAMPLE = "data/sample.pcap"

-- the arguments
do
    local opened, closed, data, gaps = {}, {}, 0, {}
    local args_ok, next_off = true, {}
    local st = assert(ts.reassemble(SAMPLE, {
        on_open = function(s) opened[#opened + 1] = s.stream end,
        on_data = function(s, dir, chunk, t, offset)
            if (dir ~= "c2s" and dir ~= "s2c") or type(chunk) ~= "string" or type(t) ~= "number"
                or math.type(offset) ~= "integer" or s.closed then
                args_ok = false
            end
            local key = s.stream .. dir
            if offset < (next_off[key] or 0) then args_ok = false end
            next_off[key] = offset + #chunk
            data = data + #chunk
        end,
        on_gap = function(s, dir, offset, length, reason, t)
            gaps[#gaps + 1] = string.format("%d %s %d %d %s", s.stream, dir, offset, length, reason)
        end,
        on_close = function(s, why)
            closed[#closed + 1] = s.stream
            if why ~= s["end"] or not s.closed then args_ok = false end
        end,
    }))
    T.eq(#opened, 6, "on_open once per session")
    T.eq(#closed, 6, "on_close once per session")
    T.ok(args_ok, "callback arguments have the documented types, offsets go forward")
    T.eq(data, st.bytes, "on_data bytes add up to the stats")
    T.eq(table.concat(gaps, ","), "2 s2c 25 36 acked", "on_gap gives the lost segment of stream 2")
    T.eq(st.sessions, 6, "stats: sessions")
    T.eq(st.stopped, false, "stats: not stopped")
end

-- per-session fields of the caller's own, and read-only ones
do
    local totals = {}
    assert(ts.reassemble(SAMPLE, {
        on_data = function(s, dir, chunk)
            s.seen = (s.seen or 0) + #chunk
        end,
        on_close = function(s)
            totals[s.stream] = s.seen or 0
        end,
    }))
    T.eq(totals[0], 58 + 450, "a field set on the session stays with it")
    local ok, err = pcall(ts.reassemble, SAMPLE, { on_open = function(s) s.stream = 7 end })
    T.ok(not ok and tostring(err):find("read%-only"), "built-in fields are read-only", err)
end

T.heap()
local base = select(1, ts.memory())
T.eq(base, 0, "nothing held once the sessions were collected")

-- an error in each kind of callback
for _, kind in ipairs({ "on_open", "on_data", "on_gap", "on_close" }) do
    local calls, kept = 0, nil
    local cbs = {}
    cbs[kind] = function(s)
        calls = calls + 1
        kept = s
        if kind ~= "on_gap" and calls < 3 then return end
        error("stop in " .. kind)
    end
    local ok, err = pcall(ts.reassemble, SAMPLE, cbs)
    T.ok(not ok and tostring(err):find("stop in " .. kind, 1, true), kind .. ": the error comes back", err)
    T.ok(kept and math.type(kept.stream) == "integer" and type(kept["end"]) == "string",
        kind .. ": the session is still readable after the run", kept and kept["end"])
    kept = nil
    T.heap()
    T.eq(select(1, ts.memory()), base, kind .. ": nothing held after the error")
end

-- an error object that is not a string comes back as it was
do
    local obj = setmetatable({}, { __tostring = function() return "custom error" end })
    local ok, err = pcall(ts.reassemble, SAMPLE, { on_data = function() error(obj) end })
    T.ok(not ok and rawequal(err, obj), "the error value itself comes back")
end

-- a run after the error works normally
do
    local st = ts.reassemble(SAMPLE, {})
    T.ok(st and st.sessions == 6, "the module works after an error")
end

-- a callback may itself reassemble another capture
do
    local inner = 0
    assert(ts.reassemble(SAMPLE, {
        on_open = function(s)
            if s.stream == 0 then
                assert(ts.reassemble("data/sample.pcapng", { on_close = function() inner = inner + 1 end }))
            end
        end,
    }))
    T.eq(inner, 6, "a nested reassemble() inside a callback")
end

-- full collections inside the callbacks: the live sessions stay whole
do
    local bytes = 0
    local st = assert(ts.reassemble(SAMPLE, {
        on_data = function(s, dir, d)
            collectgarbage()
            bytes = bytes + #d
            s.mark = s.stream
        end,
        on_close = function(s)
            collectgarbage()
            if s.mark ~= nil and s.mark ~= s.stream then error("session state lost") end
        end,
    }))
    T.eq(bytes, st.bytes, "collections inside callbacks change nothing")
end

-- return false: a clean stop
do
    local calls = 0
    local st, err = ts.reassemble(SAMPLE, { on_data = function() calls = calls + 1; return false end })
    T.ok(st and st.stopped == true, "returning false stops the run", err)
    T.eq(calls, 1, "no callback after the stop")
    T.heap()
    T.eq(select(1, ts.memory()), base, "nothing held after a stop")
end

-- errors inside a coroutine's callbacks, and yields refused cleanly
do
    local co = coroutine.wrap(function()
        return pcall(ts.reassemble, SAMPLE, { on_data = function() coroutine.yield(1) end })
    end)
    local ok, err = co()
    T.ok(ok == false and tostring(err):find("yield", 1, true), "a yield inside a callback is an error, not a crash", err)
    T.heap()
    T.eq(select(1, ts.memory()), base, "nothing held after the refused yield")
end

-- bad arguments are raised as errors
do
    local ok1 = pcall(ts.reassemble, SAMPLE, { on_data = 42 })
    local ok2 = pcall(ts.reassemble, SAMPLE)
    local ok3 = pcall(ts.reassemble, nil, {})
    local ok4 = pcall(ts.reassemble, SAMPLE, { max_sessions = -1 })
    T.ok(not ok1 and not ok2 and not ok3 and not ok4, "bad arguments raise")
    local called = 0
    local callable = setmetatable({}, { __call = function() called = called + 1 end })
    assert(ts.reassemble(SAMPLE, { on_close = callable }))
    T.eq(called, 6, "a callable table is a callback")
end

T.done()
