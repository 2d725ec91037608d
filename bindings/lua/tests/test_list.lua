-- The Lua module against `tcpsession list --json`: on the sample captures
-- and on every capture of $TCPS_CORPUS, the same sessions with the same
-- values in every field list prints (sha256 included), the same verdict on
-- damaged captures; and reassemble() delivers what sessions() gathered.
local T = require "check"
local ts = require "tcpsession"

local FIELDS = { "stream", "client_ip", "client_port", "server_ip", "server_port", "c2s_bytes", "s2c_bytes",
    "c2s_missing", "s2c_missing", "c2s_sha256", "s2c_sha256", "packets", "first_ts", "last_ts", "end" }

-- list --json prints flat objects; every value but "capture" is a number or
-- a string without quotes or backslashes.
local function cli_rows(path)
    local p = io.popen(T.shq(T.cli) .. " list --json " .. T.shq(path) .. " 2>/dev/null; echo \"exit=$?\"")
    local rows, rc = {}, nil
    for line in p:lines() do
        local e = line:match("^exit=(%d+)$")
        if e then
            rc = tonumber(e)
        else
            local r = {}
            for k, v in line:gmatch('"([%w_]+)":"([^"\\]*)"') do r[k] = v end
            for k, v in line:gmatch('"([%w_]+)":(%-?[%d%.]+)') do r[k] = v end
            rows[#rows + 1] = r
        end
    end
    p:close()
    return rows, rc
end

local function invariants(s)
    if #s.c2s ~= s.c2s_bytes or #s.s2c ~= s.s2c_bytes then return "string lengths differ from the byte counts" end
    local pos, got, miss = { c2s = 0, s2c = 0 }, { c2s = 0, s2c = 0 }, { c2s = 0, s2c = 0 }
    for _, g in ipairs(s.gaps) do miss[g.dir] = miss[g.dir] + g.length end
    if miss.c2s ~= s.c2s_missing or miss.s2c ~= s.s2c_missing then return "gaps do not add up to missing" end
    for _, k in ipairs(s.chunks) do
        if k.offset < pos[k.dir] then return "chunk offsets go back" end
        pos[k.dir] = k.offset + #k.data
        got[k.dir] = got[k.dir] + #k.data
    end
    if got.c2s ~= s.c2s_bytes or got.s2c ~= s.s2c_bytes then return "chunks do not add up to the bytes" end
    return nil
end

local function lua_rows(path)
    local iter, cap, msg = ts.sessions(path)
    if not iter then return {}, cap, nil end
    local rows, bad = {}, nil
    for s in iter, cap, nil, cap do
        local r = {}
        for _, f in ipairs(FIELDS) do r[f] = tostring(s[f]) end
        r.first_ts = string.format("%d.%09d", s.first_sec, s.first_nsec)
        r.last_ts = string.format("%d.%09d", s.last_sec, s.last_nsec)
        r.chunks = #s.chunks
        r.gaps = #s.gaps
        rows[#rows + 1] = r
        bad = bad or invariants(s)
    end
    local ok, err = cap:status()
    return rows, (not ok) and err or nil, bad
end

local function streamed(path)
    local per = {}
    local function get(s)
        local r = per[s.stream]
        if not r then
            r = { c2s_bytes = 0, s2c_bytes = 0, c2s_missing = 0, s2c_missing = 0, chunks = 0, gaps = 0 }
            per[s.stream] = r
        end
        return r
    end
    local st, err = ts.reassemble(path, {
        on_data = function(s, dir, data, ts_, offset)
            local r = get(s)
            r[dir .. "_bytes"] = r[dir .. "_bytes"] + #data
            r.chunks = r.chunks + 1
        end,
        on_gap = function(s, dir, offset, length, reason)
            local r = get(s)
            r[dir .. "_missing"] = r[dir .. "_missing"] + length
            r.gaps = r.gaps + 1
        end,
        on_close = function(s, why)
            get(s)["end"] = why
        end,
    })
    return per, st and nil or err
end

local function compare(path)
    local want, rc = cli_rows(path)
    local got, err, bad = lua_rows(path)
    local by = {}
    for _, r in ipairs(got) do by[tonumber(r.stream)] = r end
    local diff
    if #want ~= #got then diff = string.format("%d sessions listed, %d from Lua", #want, #got) end
    for _, w in ipairs(want) do
        if diff then break end
        local g = by[tonumber(w.stream)]
        if not g then
            diff = "stream " .. w.stream .. " missing"
            break
        end
        for _, f in ipairs(FIELDS) do
            if w[f] ~= g[f] then
                diff = string.format("stream %s %s: list %s, Lua %s", w.stream, f, tostring(w[f]), tostring(g[f]))
                break
            end
        end
    end
    -- exit 3: the capture could not be read, or only partly
    if not diff and (rc == 3) ~= (err ~= nil) then
        diff = string.format("list exit %s, Lua error %s", tostring(rc), tostring(err))
    end
    local okc = T.ok(not diff, "same as list --json: " .. path, diff)
    if bad then T.ok(false, "consistent chunks and gaps: " .. path, bad) end
    -- streaming
    local per, serr = streamed(path)
    local sdiff
    if (serr ~= nil) ~= (err ~= nil) then sdiff = "error " .. tostring(serr) .. " / " .. tostring(err) end
    for _, g in ipairs(got) do
        if sdiff then break end
        local p = per[tonumber(g.stream)]
        if not p then
            sdiff = "stream " .. g.stream .. " never seen by the callbacks"
        else
            for _, f in ipairs({ "c2s_bytes", "s2c_bytes", "c2s_missing", "s2c_missing", "end", "chunks", "gaps" }) do
                if tostring(p[f]) ~= tostring(g[f]) then
                    sdiff = string.format("stream %s %s: reassemble %s, sessions %s", g.stream, f, tostring(p[f]), tostring(g[f]))
                    break
                end
            end
        end
    end
    local n = 0
    for _ in pairs(per) do n = n + 1 end
    if not sdiff and n ~= #got then sdiff = string.format("%d sessions streamed, %d iterated", n, #got) end
    T.ok(not sdiff, "reassemble() as sessions(): " .. path, sdiff)
    return okc
end

local f = io.open(T.cli, "rb")
if not f then
    T.ok(false, "the tcpsession command is built", T.cli .. " missing (make cli)")
    T.done()
end
f:close()

compare("data/sample.pcap")
compare("data/sample.pcapng")

local list = io.open(T.corpus .. "/reference-files.tsv")
if not list then
    T.skip("corpus comparison: no corpus at " .. T.corpus .. " (set TCPS_CORPUS)")
else
    local n, same, gz = 0, 0, 0
    for line in list:lines() do
        local file = line:match("^([^\t]+)\t")
        if file and file ~= "file" then
            local path = T.corpus .. "/" .. file
            local head = (T.readfile(path) or ""):sub(1, 2)
            if head == "\31\139" then
                gz = gz + 1 -- the command reads gzip; the module reads captures only
            else
                n = n + 1
                if compare(path) then same = same + 1 end
            end
        end
    end
    list:close()
    print(string.format("corpus: %d captures compared, %d identical; %d gzip files left out", n, same, gz))
    T.ok(n > 100, "corpus: more than 100 captures compared", n)
end

T.done()
