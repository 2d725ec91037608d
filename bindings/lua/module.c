/* module.c - luaopen_tcpsession: the Lua module `tcpsession` is the SWIG
   module made from bindings/tcpsession.i (luaopen_tcpsession_core, linked
   into the same tcpsession.so) with the Lua layer bindings/lua/tcpsession.lua
   run on top of it. The layer's text is compiled in (tcpsession_lua.inc,
   made from the .lua file by the build), so the module stays one file. */
#include "lauxlib.h"
#include "lua.h"

#if LUA_VERSION_NUM < 504
#error "tcpsession's Lua module needs Lua 5.4"
#endif

#if defined(_WIN32)
#define TSB_EXPORT __declspec(dllexport)
#else
#define TSB_EXPORT __attribute__((visibility("default")))
#endif

int luaopen_tcpsession_core(lua_State *L);

static const char layer[] = {
#include "tcpsession_lua.inc"
};

TSB_EXPORT int luaopen_tcpsession(lua_State *L);

TSB_EXPORT int luaopen_tcpsession(lua_State *L) {
    static const char *const swig_globals[] = {"swig_type", "swig_equals"};
    int i, top;
    luaL_checkversion(L);
    /* SWIG's runtime sets two global functions: put back what was there */
    for (i = 0; i < 2; i++) lua_getglobal(L, swig_globals[i]);
    top = lua_gettop(L);
    lua_pushcfunction(L, luaopen_tcpsession_core);
    lua_call(L, 0, 1);
    for (i = 1; i >= 0; i--) {
        lua_pushvalue(L, top - 1 + i);
        lua_setglobal(L, swig_globals[i]);
    }
    if (luaL_loadbufferx(L, layer, sizeof layer, "=tcpsession.lua", "t") != LUA_OK) return lua_error(L);
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    return 1;
}
