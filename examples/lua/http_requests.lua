-- http_requests.lua - print every HTTP request line of a capture.
--
--     lua5.4 examples/lua/http_requests.lua capture.pcap
--
-- One line per request: stream, client, server, the request line. Requests
-- are found by walking each session's client-to-server bytes message by
-- message (headers, then a Content-Length body), so a body that happens to
-- hold "GET / HTTP/1.1" is not taken for a request; chunked request bodies
-- bytes the capture lost and stray bytes make the walk look for the next
-- thing shaped like a request line.
-- Methods: those of RFC 9110 and PATCH.
local tcpsession = require "tcpsession"

local METHODS = { GET = 1, POST = 1, PUT = 1, DELETE = 1, HEAD = 1, OPTIONS = 1, PATCH = 1, CONNECT = 1, TRACE = 1 }

-- Lines end with CRLF, or with a bare LF as some clients send.
local function request_at(data, pos)
    local line_end = data:find("\n", pos, true)
    if not line_end then return nil end
    local line = data:sub(pos, line_end - 1):gsub("\r$", "")
    local method = line:match("^(%u+) %S+ HTTP/%d%.%d$")
    if not method or not METHODS[method] then return nil end
    local head_end, body = data:find("\r?\n\r?\n", line_end - 1)
    if not head_end then return line, #data + 1 end
    local headers = "\n" .. data:sub(line_end + 1, head_end):lower()
    local len = tonumber(headers:match("\ncontent%-length:%s*(%d+)")) or 0
    if headers:find("\ntransfer%-encoding:[^\n]*chunked") then len = nil end
    return line, len and body + 1 + len
end

local function requests(data)
    local out, pos = {}, 1
    while pos <= #data do
        local line, next_pos = request_at(data, pos)
        if line then
            out[#out + 1] = line
            pos = next_pos or (pos + #line)
        else
            -- not at a request (a chunked body, lost bytes, stray bytes):
            -- go on from the next thing shaped like a request line
            local nxt = data:find("%u+ %S+ HTTP/%d%.%d\r?\n", pos + 1)
            if not nxt then break end
            pos = nxt
        end
    end
    return out
end

local path = arg[1] or error("usage: lua5.4 http_requests.lua CAPTURE")
local cap, err = tcpsession.open(path)
if not cap then
    io.stderr:write(err, "\n")
    os.exit(1)
end
for s in cap:sessions() do
    for _, line in ipairs(requests(s.c2s)) do
        print(string.format("%d\t%s\t%s\t%s", s.stream, s.client, s.server, line))
    end
end
local ok, why = cap:status()
if not ok then
    io.stderr:write(why, "\n")
    os.exit(1)
end
