-- check.lua - the assertions of the Lua tests: one "ok - name" or
-- "not ok - name: why" line per check, then "N passed, M failed".
local M = { passed = 0, failed = 0 }

function M.ok(cond, name, why)
    if cond then
        M.passed = M.passed + 1
        print("ok - " .. name)
    else
        M.failed = M.failed + 1
        print("not ok - " .. name .. (why and (": " .. tostring(why)) or ""))
    end
    return cond
end

function M.eq(got, want, name)
    return M.ok(got == want, name, string.format("got %s, want %s", tostring(got), tostring(want)))
end

function M.skip(what)
    print("SKIP " .. what)
end

-- Paths and programs, from the environment the runner sets.
M.build = os.getenv("BUILD") or "build"
M.cli = os.getenv("TCPSESSION") or (M.build .. "/tcpsession")
M.lua = os.getenv("LUA") or "lua5.4"
M.corpus = os.getenv("TCPS_CORPUS") or "../shared/corpus"
M.sanitized = os.getenv("TCPS_LUA_SAN") == "1"

function M.shq(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function M.readfile(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local d = f:read("a")
    f:close()
    return d
end

function M.writefile(path, data)
    local f = assert(io.open(path, "wb"))
    f:write(data)
    f:close()
end

-- The whole heap, after two full collections.
function M.heap()
    collectgarbage()
    collectgarbage()
    return collectgarbage("count")
end

function M.done()
    print(string.format("%d passed, %d failed", M.passed, M.failed))
    os.exit(M.failed == 0 and 0 or 1)
end

return M
