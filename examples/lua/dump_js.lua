-- dump_js.lua - print the JavaScript each session carried.
--
--     lua5.4 examples/lua/dump_js.lua capture.pcap [OUTDIR]
--
-- With OUTDIR (an existing folder), each script goes to its own file
-- OUTDIR/N-js-K.js (N the stream, K counting from 1 in each session)
-- instead of to the standard output.
-- Walks the server-to-client bytes of every session as HTTP/1.x responses
-- and prints, under a "// ----" line naming the stream and the request:
--   - bodies whose Content-Type is JavaScript (javascript, ecmascript);
--   - the contents of <script> elements in HTML bodies (not the empty
--     ones that only load a file with src=, not those whose type= is no
--     script, such as application/ld+json).
-- Handled in pure Lua: Content-Length, chunked transfer coding (chunk
-- extensions and trailers skipped), bodies that end with the connection,
-- and Content-Encoding gzip, x-gzip and deflate (zlib or raw), inflated by
-- the small RFC 1951 decoder below (no checksum verification; a body cut
-- short gives what inflates up to the cut, and says so). Not handled:
-- br (Brotli) and compress, printed as a note; HTTP/2; responses to HEAD
-- (a body is expected when the headers announce one); bytes the capture
-- lost: the answer is read up to its first gap (said in the label), as
-- nothing after a hole can be trusted to line up.
local tcpsession = require "tcpsession"

-- ------------------------------------------------------------ inflate
local LBASE = { 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163,
    195, 227, 258 }
local LEXT = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0 }
local DBASE = { 1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
    4097, 6145, 8193, 12289, 16385, 24577 }
local DEXT = { 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13 }
local CLORDER = { 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15 }

-- Raw deflate data from pos: the inflated string, and when the data was
-- cut or broken, a second value saying so (what came before is kept, as
-- for a body the capture cut short).
local function inflate(data, pos)
    local buf, cnt = 0, 0
    local out, n = {}, 0
    local function bits(k)
        while cnt < k do
            local b = data:byte(pos) or error("deflate data ends early")
            pos = pos + 1
            buf = buf | (b << cnt)
            cnt = cnt + 8
        end
        local v = buf & ((1 << k) - 1)
        buf = buf >> k
        cnt = cnt - k
        return v
    end
    local function build(lengths, count_of)
        local count, offs, sym = {}, {}, {}
        for i = 0, 15 do count[i] = 0 end
        for s = 0, count_of - 1 do count[lengths[s] or 0] = count[lengths[s] or 0] + 1 end
        offs[1] = 0
        for i = 1, 14 do offs[i + 1] = offs[i] + count[i] end
        for s = 0, count_of - 1 do
            local l = lengths[s] or 0
            if l ~= 0 then
                sym[offs[l]] = s
                offs[l] = offs[l] + 1
            end
        end
        return { count = count, sym = sym }
    end
    local function decode(h)
        local code, first, index = 0, 0, 0
        for len = 1, 15 do
            code = code | bits(1)
            local c = h.count[len]
            if code - c < first then return h.sym[index + code - first] end
            index = index + c
            first = (first + c) << 1
            code = code << 1
        end
        error("bad Huffman code")
    end
    local fixed_l, fixed_d
    local ok, err = pcall(function()
    repeat
        local last, kind = bits(1), bits(2)
        if kind == 0 then
            buf, cnt = 0, 0
            local len = data:byte(pos) + (data:byte(pos + 1) << 8)
            pos = pos + 4
            if pos + len - 1 > #data then error("stored block ends early") end
            for i = pos, pos + len - 1 do
                n = n + 1
                out[n] = string.char(data:byte(i))
            end
            pos = pos + len
        elseif kind == 1 or kind == 2 then
            local lcode, dcode
            if kind == 1 then
                if not fixed_l then
                    local l = {}
                    for s = 0, 143 do l[s] = 8 end
                    for s = 144, 255 do l[s] = 9 end
                    for s = 256, 279 do l[s] = 7 end
                    for s = 280, 287 do l[s] = 8 end
                    local d = {}
                    for s = 0, 29 do d[s] = 5 end
                    fixed_l, fixed_d = build(l, 288), build(d, 30)
                end
                lcode, dcode = fixed_l, fixed_d
            else
                local nlen, ndist, ncode = bits(5) + 257, bits(5) + 1, bits(4) + 4
                local cl = {}
                for i = 1, ncode do cl[CLORDER[i]] = bits(3) end
                local clcode = build(cl, 19)
                local lens, i = {}, 0
                while i < nlen + ndist do
                    local sym = decode(clcode)
                    if sym < 16 then
                        lens[i] = sym
                        i = i + 1
                    else
                        local rep, val
                        if sym == 16 then
                            if i == 0 then error("repeat with no length") end
                            val, rep = lens[i - 1], 3 + bits(2)
                        elseif sym == 17 then
                            val, rep = 0, 3 + bits(3)
                        else
                            val, rep = 0, 11 + bits(7)
                        end
                        for _ = 1, rep do
                            lens[i] = val
                            i = i + 1
                        end
                    end
                end
                local l, d = {}, {}
                for s = 0, nlen - 1 do l[s] = lens[s] end
                for s = 0, ndist - 1 do d[s] = lens[nlen + s] end
                lcode, dcode = build(l, nlen), build(d, ndist)
            end
            while true do
                local sym = decode(lcode)
                if sym < 256 then
                    n = n + 1
                    out[n] = string.char(sym)
                elseif sym == 256 then
                    break
                else
                    sym = sym - 256
                    if sym > 29 then error("bad length code") end
                    local len = LBASE[sym] + bits(LEXT[sym])
                    local ds = decode(dcode)
                    if ds > 29 then error("bad distance code") end
                    local dist = DBASE[ds + 1] + bits(DEXT[ds + 1])
                    if dist > n then error("distance too far back") end
                    for _ = 1, len do
                        n = n + 1
                        out[n] = out[n - dist]
                    end
                end
            end
        else
            error("bad block type")
        end
    until last == 1
    end)
    return table.concat(out), not ok and err:gsub("^.-:%d+: ", "") or nil
end

local function gunzip(data)
    if data:byte(1) ~= 31 or data:byte(2) ~= 139 or data:byte(3) ~= 8 then error("not gzip data") end
    local flg, pos = data:byte(4), 11
    if flg & 4 ~= 0 then pos = pos + 2 + data:byte(pos) + (data:byte(pos + 1) << 8) end
    if flg & 8 ~= 0 then pos = data:find("\0", pos, true) + 1 end
    if flg & 16 ~= 0 then pos = data:find("\0", pos, true) + 1 end
    if flg & 2 ~= 0 then pos = pos + 2 end
    return inflate(data, pos)
end

local function decode_body(body, encoding)
    encoding = (encoding or "identity"):lower()
    if encoding == "identity" or encoding == "" then return body end
    if encoding == "gzip" or encoding == "x-gzip" then
        local ok, r, cut = pcall(gunzip, body)
        if not ok then return nil, "gzip body not inflated: " .. r:gsub("^.-:%d+: ", "") end
        return r, cut and ("gzip body inflated up to where it broke off: " .. cut) or true
    end
    if encoding == "deflate" then
        -- a zlib header (RFC 1950) is what servers send, raw deflate happens too
        local b1, b2 = body:byte(1, 2)
        local zlib = b1 and b2 and b1 & 15 == 8 and ((b1 << 8) | b2) % 31 == 0
        local r, cut = inflate(body, zlib and 3 or 1)
        return r, cut and ("deflate body inflated up to where it broke off: " .. cut) or true
    end
    return nil, "Content-Encoding " .. encoding .. " not decoded"
end

-- --------------------------------------------------------------- HTTP

local function dechunk(data, pos)
    local parts = {}
    while true do
        local line_end = data:find("\r\n", pos, true)
        if not line_end then return table.concat(parts), #data + 1, true end
        local size = tonumber(data:sub(pos, line_end - 1):match("^%s*(%x+)"), 16)
        if not size then return table.concat(parts), #data + 1, true end
        pos = line_end + 2
        if size == 0 then
            local trailer_end = data:find("\r\n\r\n", line_end, true)
            return table.concat(parts), trailer_end and trailer_end + 4 or #data + 1
        end
        parts[#parts + 1] = data:sub(pos, pos + size - 1)
        pos = pos + size + 2
    end
end

-- Every response of a server-to-client stream: { status, headers, body, note }
local function responses(data)
    local out, pos = {}, 1
    while pos <= #data do
        local start = data:find("HTTP/%d%.%d %d%d%d", pos)
        if not start then break end
        local head_end = data:find("\r\n\r\n", start, true)
        if not head_end then break end
        local head = data:sub(start, head_end + 1)
        local status = tonumber(head:match("^HTTP/%d%.%d (%d%d%d)"))
        local h = {}
        for k, v in head:gmatch("\r\n([^:\r\n]+):[ \t]*([^\r\n]*)") do h[k:lower()] = v end
        local body, cut = "", false
        pos = head_end + 4
        if status >= 200 and status ~= 204 and status ~= 304 then
            if (h["transfer-encoding"] or ""):lower():find("chunked") then
                body, pos, cut = dechunk(data, pos)
            elseif h["content-length"] and tonumber(h["content-length"]) then
                local len = tonumber(h["content-length"])
                body = data:sub(pos, pos + len - 1)
                cut = #body < len
                pos = pos + len
            else
                body = data:sub(pos) -- ends with the connection
                pos = #data + 1
            end
        end
        local decoded, note = decode_body(body, h["content-encoding"])
        out[#out + 1] = { status = status, headers = h, body = decoded, note = note ~= true and note or nil, cut = cut }
    end
    return out
end

local function request_targets(c2s)
    local t = {}
    for line in c2s:gmatch("(%u+ %S+) HTTP/%d%.%d\r\n") do t[#t + 1] = line end
    return t
end

local function is_js_type(ct)
    ct = (ct or ""):lower()
    return ct:find("javascript", 1, true) or ct:find("ecmascript", 1, true)
end

-- The contents of the <script> elements of an HTML text that hold code.
local function scripts(html)
    local out, pos = {}, 1
    local lower = html:lower()
    while true do
        local s, e = lower:find("<script[%s>/]", pos)
        if not s then break end
        local tag_end = lower:find(">", s, true)
        if not tag_end then break end
        local attrs = lower:sub(s + 7, tag_end - 1)
        local close = lower:find("</script%s*>", tag_end + 1)
        local body = html:sub(tag_end + 1, (close or #html + 1) - 1)
        local ttype = attrs:match("type%s*=%s*[\"']?([^\"'%s>]+)")
        local code = not ttype or is_js_type(ttype) or ttype == "module"
        if code and body:find("%S") then out[#out + 1] = body end
        pos = close or #html + 1
    end
    return out
end

-- --------------------------------------------------------------- main

local path = arg[1] or error("usage: lua5.4 dump_js.lua CAPTURE [OUTDIR]")
local outdir = arg[2]
local written = {}
-- loaded by another script as loadfile(...)(sink): each script goes to
-- sink(stream, code) instead (the tests use this)
local sink = type((...)) == "function" and (...) or nil

local function emit(s, label, code)
    if sink then
        sink(s.stream, code)
        return
    end
    if not outdir then
        print(label)
        print(code)
        return
    end
    written[s.stream] = (written[s.stream] or 0) + 1
    local name = string.format("%s/%d-js-%d.js", outdir, s.stream, written[s.stream])
    local f = assert(io.open(name, "wb"))
    f:write(code)
    f:close()
end
local cap, err = tcpsession.open(path)
if not cap then
    io.stderr:write(err, "\n")
    os.exit(1)
end
for s in cap:sessions() do
    local targets = request_targets(s.c2s)
    -- bytes after a hole cannot be parsed: read the answer up to its first gap
    local s2c, lost = s.s2c, ""
    for _, g in ipairs(s.gaps) do
        if g.dir == "s2c" then
            local upto = 0
            for _, k in ipairs(s.chunks) do
                if k.dir == "s2c" and k.offset < g.offset then upto = upto + #k.data end
            end
            s2c = s2c:sub(1, upto)
            lost = string.format(" (read up to the %d bytes the capture lost at offset %d)", g.length, g.offset)
            break
        end
    end
    for i, r in ipairs(responses(s2c)) do
        local what = targets[i] or "?"
        local ct = r.headers["content-type"]
        local label = string.format("// ---- stream %d %s -> %s: %s", s.stream, s.client, s.server, what)
        local extra = (r.cut and ", cut short" or "") .. (r.body and r.note and (", " .. r.note) or "") .. lost
        if is_js_type(ct) or (ct or ""):lower():find("html", 1, true) then
            if not r.body then
                if not outdir then print(label .. ": " .. r.note .. lost) end
            elseif is_js_type(ct) then
                if #r.body > 0 then emit(s, label .. ": " .. ct .. extra, r.body) end
            else
                for k, code in ipairs(scripts(r.body)) do
                    emit(s, string.format("%s: <script> %d%s", label, k, extra), code)
                end
            end
        end
    end
end
local ok, why = cap:status()
if not ok then
    io.stderr:write(why, "\n")
    os.exit(1)
end
