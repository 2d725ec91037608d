-- The example scripts of examples/lua/, run on data/sample.pcap; what they
-- must print comes from data/make_samples.c, which wrote the capture.
local T = require "check"

local function run(script, capture)
    local p = io.popen(T.shq(T.lua) .. " examples/lua/" .. script .. " " .. T.shq(capture) .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("a")
    p:close()
    local rc = tonumber(out:match("exit=(%d+)\n$"))
    return out:gsub("exit=%d+\n$", ""), rc
end

-- the strings the generator sent
local REQ0 = "GET / HTTP/1.1\r\nHost: example.test\r\nUser-Agent: sample\r\n\r\n"
local SCRIPT1 = "\nfunction greet(name) {\n  return 'hello, ' + name;\n}\n"
local SCRIPT2 = "\ndocument.title = greet('reader');\n"
local APP_JS = "/* app.js: served gzip-compressed in the sample capture */\n" ..
    "function start() {\n" ..
    "  var items = [];\n" ..
    "  for (var i = 0; i < 64; i++) items.push('item ' + i);\n" ..
    "  document.body.appendChild(document.createTextNode(items.join(', ')));\n" ..
    "}\n"

for _, cap in ipairs({ "data/sample.pcap", "data/sample.pcapng" }) do
    local out, rc = run("http_requests.lua", cap)
    T.eq(rc, 0, "http_requests " .. cap .. ": exit 0")
    T.eq(out, "0\t192.168.1.10:51000\t93.184.216.34:80\tGET / HTTP/1.1\n" ..
        "1\t192.168.1.10:51002\t93.184.216.34:80\tGET /app.js HTTP/1.1\n" ..
        "4\t192.168.1.10:51000\t93.184.216.34:80\tGET /favicon.ico HTTP/1.1\n",
        "http_requests " .. cap .. ": the three request lines")

    out, rc = run("dump_js.lua", cap)
    T.eq(rc, 0, "dump_js " .. cap .. ": exit 0")
    local blocks = {}
    for label, code in out:gmatch("// %-%-%-%- ([^\n]*)\n(.-)\n%f[/%z]") do blocks[#blocks + 1] = { label, code } end
    T.eq(#blocks, 3, "dump_js " .. cap .. ": two inline scripts and one file (the src= element is empty)")
    T.ok(blocks[1] and blocks[1][1]:find("^stream 0 .*GET /: <script> 1$") and blocks[1][2] == SCRIPT1,
        "dump_js " .. cap .. ": first inline script, out of the chunked page", blocks[1] and blocks[1][2])
    T.ok(blocks[2] and blocks[2][2] == SCRIPT2, "dump_js " .. cap .. ": second inline script")
    T.ok(blocks[3] and blocks[3][1]:find("^stream 1 .*GET /app.js: application/javascript$") and
        blocks[3][2] == APP_JS, "dump_js " .. cap .. ": app.js, gzip inflated", blocks[3] and blocks[3][2])

    out, rc = run("summary.lua", cap)
    T.eq(rc, 0, "summary " .. cap .. ": exit 0")
    local rows = {}
    for line in out:gmatch("[^\n]+") do
        local f = {}
        for w in line:gmatch("%S+") do f[#f + 1] = w end
        rows[#rows + 1] = f
    end
    T.eq(#rows, 8, "summary " .. cap .. ": header, six sessions, total")
    T.ok(rows[2] and rows[2][1] == "0" and tonumber(rows[2][4]) == #REQ0 and rows[2][9] == "fin",
        "summary " .. cap .. ": stream 0, its request's length, fin")
    T.ok(rows[4] and rows[4][1] == "2" and rows[4][6] == "36", "summary " .. cap .. ": stream 2 misses 36 bytes")
    T.ok(rows[5] and rows[5][9] == "rst" and rows[7] and rows[7][9] == "eof", "summary " .. cap .. ": rst and eof")
    T.ok(rows[8] and rows[8][1] == "total" and rows[8][2] == "6", "summary " .. cap .. ": total of six sessions")
end

local out, rc = run("summary.lua", "no/such.pcap")
T.ok(rc ~= 0 and out:find("no/such.pcap: ", 1, true), "an example given a missing file says so and fails", out)

-- dump_js.lua against the command's JavaScript extraction (extract
-- --outputs js, in C with zlib) on every corpus capture: the same scripts
-- for each session. Captures where the server's bytes have gaps are left
-- out: there the two differ on purpose (the command drops a message a hole
-- cut; the example keeps what came before the hole, marked "cut short").
local ts = require "tcpsession"
local list = io.open(T.corpus .. "/reference-files.tsv")
if not list then
    T.skip("dump_js against extract: no corpus at " .. T.corpus)
else
    local root = os.tmpname()
    os.remove(root)
    assert(os.execute("mkdir -p " .. T.shq(root .. "/cli")))
    os.execute(T.shq(T.cli) .. " extract -r --outputs js -o " .. T.shq(root .. "/cli") .. " " .. T.shq(T.corpus) ..
        " >/dev/null 2>&1")
    -- the command's files, N/N-js-K.js in a folder per capture
    local want_of = {}
    local p = io.popen("cd " .. T.shq(root .. "/cli/corpus") .. " 2>/dev/null && find . -name '*-js-*.js' | sort")
    for f in p:lines() do
        local file, stream = f:match("^%./(.+)/(%d+)/%d+%-js%-%d+%.js$")
        if file then
            want_of[file] = want_of[file] or {}
            table.insert(want_of[file], stream .. "\0" .. T.readfile(root .. "/cli/corpus/" .. f:sub(3)))
        end
    end
    p:close()
    local dump_js = assert(loadfile("examples/lua/dump_js.lua"))
    local real_exit, real_stderr = os.exit, io.stderr
    local compared, same, with_gaps, scripts, first_diff = 0, 0, 0, 0, nil
    for line in list:lines() do
        local file = line:match("^([^\t]+)\t")
        local cap = file and file ~= "file" and ts.open(T.corpus .. "/" .. file, { data = false })
        if cap then
            local gaps = false
            for s in cap:sessions() do
                if s.s2c_missing > 0 then gaps = true end
            end
            if gaps then
                with_gaps = with_gaps + 1
            else
                local got = {}
                arg = { T.corpus .. "/" .. file }
                os.exit = function(code) error("exit " .. tostring(code)) end
                io.stderr = io.open("/dev/null", "w")
                pcall(dump_js, function(stream, code) got[#got + 1] = stream .. "\0" .. code end)
                io.stderr:close()
                io.stderr, os.exit = real_stderr, real_exit
                local want = want_of[file] or {}
                table.sort(want)
                table.sort(got)
                compared = compared + 1
                scripts = scripts + #want
                if table.concat(want, "\1") == table.concat(got, "\1") then
                    same = same + 1
                elseif not first_diff then
                    first_diff = string.format("%s: %d scripts from extract, %d from dump_js", file, #want, #got)
                end
            end
        end
    end
    list:close()
    os.execute("rm -rf " .. T.shq(root))
    print(string.format("dump_js against extract: %d captures compared (%d scripts), %d identical; %d with lost server bytes left out",
        compared, scripts, same, with_gaps))
    T.ok(compared > 100 and scripts > 100, "dump_js against extract: enough captures and scripts compared", compared)
    T.eq(same, compared, "dump_js finds the same scripts as extract on every capture without gaps" ..
        (first_diff and (" (first difference: " .. first_diff .. ")") or ""))
end

T.done()
