-- tcpsession.lua - the Lua 5.4 module `tcpsession`, in Lua, on the SWIG
-- module made from bindings/tcpsession.i (the interface the Python binding
-- is made from too). Its C part reads and reassembles (the shared layer's
-- collector); this file is what a Lua user sees (bindings/lua/README.md):
--
--     local tcpsession = require "tcpsession"
--     for s in tcpsession.sessions("capture.pcap") do
--         print(s.stream, s.client, s.server, #s.c2s, #s.s2c, s["end"])
--     end
--
-- Both are linked into one tcpsession.so; its luaopen_tcpsession runs this
-- chunk with the SWIG module as its argument and returns what it returns.
local core = ...

local M = {}

-- one counter of the bytes held in C, for every run and session of this
-- Lua state: made first, so that it is finalized last
local MEM = core.Memory()

local KEEP_DATA, KEEP_CHUNKS, KEEP_GAPS = core.TSL_KEEP_DATA, core.TSL_KEEP_CHUNKS, core.TSL_KEEP_GAPS
local EV_OPEN, EV_DATA, EV_GAP, EV_CLOSE = core.TCPS_EV_OPEN, core.TCPS_EV_DATA, core.TCPS_EV_GAP, core.TCPS_EV_CLOSE
local DIRS = { [0] = "c2s", [1] = "s2c" }
local HUGE = 1 << 52 -- "no limit" for the counts of pump
local protect = core.protect

local function end_name(e) return core.tcps_end_name(e) or "open" end
local function gap_name(r) return core.tcps_gap_name(r) or "unknown" end

-- ------------------------------------------------------------- options

local function opt_bool(t, k, dflt)
    if t == nil or t[k] == nil then return dflt end
    return not not t[k]
end

local function opt_int(t, k, lo, hi)
    local v = t and t[k]
    if v == nil then return 0 end
    local n = math.tointeger(v)
    if not n or n < lo or n > hi then
        error(string.format("option %s: an integer from %d to %d expected", k, lo, hi), 3)
    end
    return n
end

local function new_run(opts, keep)
    local flags = 0
    if opt_bool(opts, "separate_vlans", false) then flags = flags | core.TCPS_F_SEPARATE_VLANS end
    if opt_bool(opts, "port_heuristic", false) then flags = flags | core.TCPS_F_PORT_HEURISTIC end
    if opt_bool(opts, "verify_checksums", false) then flags = flags | core.TCPS_F_VERIFY_CHECKSUMS end
    if opt_bool(opts, "no_defrag", false) then flags = flags | core.TCPS_F_NO_DEFRAG end
    local overlap = opt_bool(opts, "overlap_last", false) and core.TCPS_OVERLAP_LAST or 0
    local idle = opt_int(opts, "idle_timeout_ms", 0, 0xffffffff)
    local maxs = opt_int(opts, "max_sessions", 0, 0xffffffff)
    local run = core.Run(keep, flags, overlap, idle, maxs, MEM)
    if not run then error("tcpsession: out of memory", 3) end
    return run
end

-- ------------------------------------------------------------- sessions

local CORE, CACHE = {}, {} -- private keys of a session object
local Session = {}

local function time_of(sec, nsec) return sec + nsec / 1e9 end

local function endpoint_text(ss, which) return ss:endpoint_text(which) end
local function dir_field(i, d) return function(ss) return (select(i, ss:dir_stats(d))) end end
local function info_field(i) return function(ss) return (select(i, ss:info())) end end

local function chunks_of(ss)
    if ss.keep & KEEP_CHUNKS == 0 then return nil end
    local bufs = { [0] = ss:data(0), [1] = ss:data(1) }
    local out = {}
    for i = 0, ss:nchunks() - 1 do
        local d, off, len, sec, nsec, frame, _, pos = ss:chunk(i)
        out[i + 1] = { dir = DIRS[d], ts = time_of(sec, nsec), frame = frame, offset = off,
                       data = bufs[d]:sub(pos + 1, pos + len) }
    end
    return out
end

local function gaps_of(ss)
    if ss.keep & KEEP_GAPS == 0 then return nil end
    local out = {}
    for i = 0, ss:ngaps() - 1 do
        local d, off, len, reason, sec, nsec, frame = ss:gap(i)
        out[i + 1] = { dir = DIRS[d], offset = off, length = len, reason = gap_name(reason),
                       ts = time_of(sec, nsec), frame = frame }
    end
    return out
end

-- the numbers and strings, made on each access
local FIELDS = {
    stream = function(ss) return ss.stream end,
    client = function(ss) return endpoint_text(ss, 0) end,
    server = function(ss) return endpoint_text(ss, 1) end,
    client_ip = function(ss) return (ss:endpoint(0)) end,
    client_port = function(ss) return (select(2, ss:endpoint(0))) end,
    server_ip = function(ss) return (ss:endpoint(1)) end,
    server_port = function(ss) return (select(2, ss:endpoint(1))) end,
    ip_version = function(ss) return (select(3, ss:endpoint(0))) end,
    c2s_bytes = dir_field(1, 0), s2c_bytes = dir_field(1, 1),
    c2s_missing = dir_field(2, 0), s2c_missing = dir_field(2, 1),
    c2s_packets = dir_field(4, 0), s2c_packets = dir_field(4, 1),
    c2s_conflicts = dir_field(8, 0), s2c_conflicts = dir_field(8, 1),
    packets = info_field(12),
    first_ts = function(ss) local _, _, _, _, _, s, ns = ss:info() return time_of(s, ns) end,
    last_ts = function(ss) local _, _, _, _, _, _, _, s, ns = ss:info() return time_of(s, ns) end,
    first_sec = info_field(6), first_nsec = info_field(7),
    last_sec = info_field(8), last_nsec = info_field(9),
    first_frame = info_field(10), last_frame = info_field(11),
    ["end"] = function(ss) return ss.closed ~= 0 and end_name((select(4, ss:info()))) or "open" end,
    closed = function(ss) return ss.closed ~= 0 end,
    vlan = function(ss) local v = ss:vlan(0) if v >= 0 then return v end return nil end,
    handshake = function(ss) return (select(5, ss:info())) & 7 == 7 end,
}
-- the allocating ones, made on first access and kept once the session is closed
local CACHED = {
    c2s = function(ss) return ss:data(0) end,
    s2c = function(ss) return ss:data(1) end,
    chunks = chunks_of,
    gaps = gaps_of,
    c2s_sha256 = function(ss) return ss:data_sha256(0) end,
    s2c_sha256 = function(ss) return ss:data_sha256(1) end,
}
local FIELD_NAMES = {}
for k in pairs(FIELDS) do FIELD_NAMES[#FIELD_NAMES + 1] = k end
table.sort(FIELD_NAMES)

local methods = {}

-- s:fields(): a plain table of every number and string field
function methods.fields(s)
    local ss, t = rawget(s, CORE), {}
    for _, k in ipairs(FIELD_NAMES) do t[k] = FIELDS[k](ss) end
    return t
end

-- s:close() and __close: drop the bytes, chunks and gaps now (the numbers stay)
function methods.close(s)
    rawget(s, CORE):release(KEEP_DATA | KEEP_CHUNKS | KEEP_GAPS)
    rawset(s, CACHE, nil)
end

Session.__index = function(s, k)
    local ss = rawget(s, CORE)
    local f = FIELDS[k]
    if f then return f(ss) end
    f = CACHED[k]
    if f then
        local cache = rawget(s, CACHE)
        local v = cache and cache[k]
        if v ~= nil then return v end
        v = f(ss)
        if v ~= nil and ss.closed ~= 0 then
            if not cache then cache = {} rawset(s, CACHE, cache) end
            cache[k] = v
        end
        return v
    end
    return methods[k]
end

Session.__newindex = function(s, k, v)
    if FIELDS[k] or CACHED[k] then error(string.format("session field '%s' is read-only", k), 2) end
    rawset(s, k, v)
end

Session.__close = methods.close

Session.__tostring = function(s)
    local ss = rawget(s, CORE)
    return string.format("tcpsession.session %d %s -> %s (%s)", ss.stream, endpoint_text(ss, 0),
                         endpoint_text(ss, 1), FIELDS["end"](ss))
end

local function wrap(ss)
    return setmetatable({ [CORE] = ss }, Session)
end

-- ------------------------------------------------------------- captures

local Capture = {}
Capture.__index = Capture
local stats_of -- the counters of a run as a table (below)

-- Release the run: sessions with a Lua object keep their numbers.
local function release(cap)
    local run = cap.run
    if run then
        cap.final_stats = stats_of(run)
        run:close()
        cap.run = nil
    end
end

-- the error a run's call returned (nil, message, code), raised when it is
-- no capture's but memory's
local function failed(cap, ok, msg, code)
    if ok ~= nil then return false end
    if code == "TCPS_E_NOMEM" then
        release(cap)
        error(cap.name .. ": " .. msg, 0)
    end
    cap.err, cap.code = cap.name .. ": " .. msg, code
    return true
end

local function open(path, opts, keep)
    local run = new_run(opts, keep)
    local cap = setmetatable({ name = path, run = run }, Capture)
    local ok, msg, code = run:open_path(path, 1)
    if ok ~= nil then ok, msg, code = run:prime() end
    if ok == nil then
        run:close()
        cap.run = nil
        return nil, path .. ": " .. msg, code
    end
    return cap
end

-- The collector does not see the bytes sessions hold in C. Each session
-- handed out steps it as if they were Lua's; and once the sessions handed
-- out since the last full cycle hold more than GC_BYTES (or 64 times the
-- Lua heap, so that the cycle costs little next to what was read), a
-- full cycle frees the dropped ones: the bytes a loop holds stay bounded
-- whatever the collector's pace.
local GC_BYTES = 32 << 20
local since_full = 0

local function handed_out(o, held)
    if held > 4096 then
        since_full = since_full + held
        local heap = collectgarbage("count") * 1024
        if since_full > GC_BYTES and since_full > 64 * heap then
            since_full = 0
            collectgarbage()
        else
            collectgarbage("step", held // 1024)
        end
    end
    return o
end

-- The iterator: the next session that ended, or nil at the end.
local function next_session(cap)
    if cap.busy then error("capture is being reassembled", 2) end
    local run = cap.run
    if not run then return nil end
    local ss = run:pop()
    while not ss do
        local more, msg, code = run:pump(HUGE, 1, 0)
        if failed(cap, more, msg, code) then break end
        ss = run:pop()
        if not ss and more == 0 then
            failed(cap, run:check())
            break
        end
    end
    if not ss then
        release(cap)
        return nil
    end
    return handed_out(wrap(ss), ss:footprint())
end

function Capture.sessions(cap)
    return next_session, cap, nil, cap
end

function Capture.status(cap)
    if not cap.code then return true end
    return nil, cap.err, cap.code
end

function Capture.stats(cap)
    if cap.run then return stats_of(cap.run) end
    return cap.final_stats or {}
end

function Capture.close(cap)
    if cap.busy then error("capture is being reassembled", 2) end
    release(cap)
end

Capture.__close = Capture.close
Capture.__gc = release
Capture.__tostring = function(cap)
    return string.format("tcpsession.capture %s (%s)", cap.name, cap.run and "open" or "closed")
end

local STATS = {}
while core.stat_name(#STATS) do STATS[#STATS + 1] = core.stat_name(#STATS) end

function stats_of(run)
    local t = {}
    if run:closed() == 0 then
        for i, k in ipairs(STATS) do t[k] = run:stat(i - 1) end
    end
    return t
end

-- ------------------------------------------------------------- the API

local function check_opts(opts)
    if opts ~= nil and type(opts) ~= "table" then
        error(string.format("bad argument #2 (table expected, got %s)", type(opts)), 3)
    end
end

local function check_path(path)
    if type(path) ~= "string" and type(path) ~= "number" then
        error(string.format("bad argument #1 (string expected, got %s)", type(path)), 3)
    end
    return tostring(path)
end

-- tcpsession.open(path [, opts]) -> capture | nil, message, code
function M.open(path, opts)
    path = check_path(path)
    check_opts(opts)
    local keep = opt_bool(opts, "data", true) and (KEEP_DATA | KEEP_CHUNKS | KEEP_GAPS) or KEEP_GAPS
    return open(path, opts, keep)
end

-- tcpsession.sessions(path [, opts]) -> iterator, capture, nil, capture
function M.sessions(path, opts)
    local cap, msg, code = M.open(path, opts)
    if not cap then return nil, msg, code end
    return cap:sessions()
end

local CALLBACKS = { [EV_OPEN] = "on_open", [EV_DATA] = "on_data", [EV_GAP] = "on_gap", [EV_CLOSE] = "on_close" }

local function callable(v)
    if type(v) == "function" then return true end
    local mt = getmetatable(v)
    return type(mt) == "table" and mt.__call ~= nil
end

-- every event to its function; returns "stop" when one returned false,
-- or nil, message, code from the run
local function dispatch(run, fns, mask)
    local objs = {} -- stream -> object of the open sessions Lua has seen
    local on_open, on_data, on_gap, on_close = fns[EV_OPEN], fns[EV_DATA], fns[EV_GAP], fns[EV_CLOSE]
    local nxt, session = run.next, run.session
    while true do
        local ev, stream, d, off, len, sec, nsec, _, reason, data = nxt(run, mask)
        if not ev then return nil, stream, d end
        if ev == 0 then return end
        local o = objs[stream]
        if not o then
            o = wrap(session(run))
            objs[stream] = o
        end
        local r
        if ev == EV_DATA then
            r = on_data(o, DIRS[d], data, time_of(sec, nsec), off)
        elseif ev == EV_GAP then
            r = on_gap(o, DIRS[d], off, len, gap_name(reason), time_of(sec, nsec))
        elseif ev == EV_OPEN then
            r = on_open(o)
        else
            objs[stream] = nil
            if on_close then r = on_close(o, end_name(reason)) end
        end
        if r == false then return "stop" end
    end
end

-- tcpsession.reassemble(path, { on_open=, on_data=, on_gap=, on_close=, options... })
--   -> stats | nil, message, code; a callback's error is raised again
function M.reassemble(path, cbs)
    path = check_path(path)
    if type(cbs) ~= "table" then
        error(string.format("bad argument #2 (table expected, got %s)", type(cbs)), 2)
    end
    local fns, mask = {}, 0
    for ev, name in pairs(CALLBACKS) do
        local v = cbs[name]
        if v ~= nil then
            if not callable(v) then
                error(string.format("bad callback '%s' (function expected, got %s)", name, type(v)), 2)
            end
            fns[ev] = v
            mask = mask | (1 << ev)
        end
    end
    local cap, msg, code = open(path, cbs, 0)
    if not cap then return nil, msg, code end
    local run = cap.run
    cap.busy = true
    local ok, res, emsg, ecode = protect(dispatch, run, fns, mask)
    cap.busy = false
    if ok and res == nil and emsg == nil then failed(cap, run:check()) end
    release(cap)
    if not ok then error(res, 0) end -- the callback's error value, as it was
    if emsg then
        if ecode == "TCPS_E_NOMEM" then error(path .. ": " .. emsg, 0) end
        return nil, path .. ": " .. emsg, ecode
    end
    if cap.code then return nil, cap.err, cap.code end
    local st = cap.final_stats
    st.stopped = res == "stop"
    return st
end

-- tcpsession.memory() -> bytes held by the engine and this module now, peak
function M.memory()
    return MEM:bytes(), MEM:peak()
end

M.version = core.tcps_version()
M._VERSION = "tcpsession " .. core.TCPS_VERSION_STRING .. " (" .. _VERSION .. ")"

return M
