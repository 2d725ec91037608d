/* tcpsession_lua.c - the Lua 5.4 module `tcpsession`.

   A hand-written C module over tcpsession.h (see bindings/lua/README.md for
   why not SWIG, and for the whole API):

       local tcpsession = require "tcpsession"
       for s in tcpsession.sessions("capture.pcap") do
           print(s.stream, s.client, s.server, #s.c2s, #s.s2c, s["end"])
       end
       local stats = assert(tcpsession.reassemble("capture.pcap", {
           on_data = function(s, dir, data, ts, offset) ... end,
       }))

   The sessions are the shared layer's (lib/tsl.h): its collector reads and
   reassembles, keeps each session's bytes, chunks and gaps, and hands out
   the events one at a time. Two ways to use it:
     - sessions(): the iterator takes events until a session has ended and
       hands that session to Lua.
     - reassemble(): each event goes to its Lua function, through lua_pcall
       of a small C function that does every Lua step (allocation
       included). A Lua error is kept, no further event is taken,
       everything is released, and only then is the error raised again: no
       longjmp ever crosses the engine.

   Every allocation of the engine and of this module goes through a
   counting allocator (tcpsession.memory() reports the bytes held), and the
   garbage collector is told about the bytes a session object holds, so a
   loop over many sessions stays flat. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "tsl.h" /* the shared layer: names, endpoint text, digests */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"

#if LUA_VERSION_NUM < 504
#error "tcpsession's Lua module needs Lua 5.4"
#endif

#define LT_CAPTURE "tcpsession.capture"
#define LT_SESSION "tcpsession.session"

/* ------------------------------------------------------------- memory */

/* Bytes held by the engine and the module in one Lua state. Lives in a
   userdata in the registry, so it outlives every object that frees into it
   (lua_close runs all finalizers before it frees any object). */
typedef struct lt_mem {
    size_t bytes, peak;
} lt_mem;

static void *lt_alloc(size_t size, void *user) {
    lt_mem *m = (lt_mem *)user;
    void *p = malloc(size ? size : 1);
    if (p) {
        m->bytes += size;
        if (m->bytes > m->peak) m->peak = m->bytes;
    }
    return p;
}

static void *lt_realloc(void *ptr, size_t old_size, size_t new_size, void *user) {
    lt_mem *m = (lt_mem *)user;
    void *p = realloc(ptr, new_size ? new_size : 1);
    if (p) {
        m->bytes = m->bytes - old_size + new_size;
        if (m->bytes > m->peak) m->peak = m->bytes;
    }
    return p;
}

static void lt_free(void *ptr, size_t size, void *user) {
    lt_mem *m = (lt_mem *)user;
    if (!ptr) return;
    m->bytes -= size;
    free(ptr);
}

static tcps_allocator lt_allocator(lt_mem *m) {
    tcps_allocator a;
    a.alloc = lt_alloc;
    a.realloc = lt_realloc;
    a.free = lt_free;
    a.user = m;
    return a;
}

/* ------------------------------------------------------------ capture */

#define LT_READING 0
#define LT_FINISHED 1 /* the collector is done; the queue may hold some */
#define LT_CLOSED 2   /* collector and reader released */

#define LT_EV_OPEN 0
#define LT_EV_DATA 1
#define LT_EV_GAP 2
#define LT_EV_CLOSE 3

/* A session is the collector's while it is open; then the capture's while
   it waits in the ready queue (linked through its user field); then its
   Lua object's. In reassemble(), a session given to a callback gets its
   Lua object at once (held), kept alive by the capture's table of open
   sessions' objects until the session closes. */
typedef struct lt_cap {
    lt_mem *mem;
    tcps_reader *rd;
    tsl_collector *col;
    int state;
    unsigned keep;       /* TSL_KEEP_* */
    /* the error, once there is one */
    int err_code;
    uint64_t err_offset;
    char err_msg[512];
    tcps_stats stats;    /* kept when the collector is released */
    tsl_session *ready, *ready_tail; /* ended, not yet handed out (sessions()) */
    /* reassemble() */
    lua_State *L;
    int dispatch;        /* stack index of the dispatch closure */
    int errslot;         /* stack index where a callback's error is kept */
    int objs;            /* registry reference: session -> object of open sessions */
    int has_fn[4];
    int stop;            /* 1: a Lua error, 2: a callback returned false */
    char name[256];      /* the path, for messages (cut if longer) */
} lt_cap;

static size_t lt_sess_bytes(const tsl_session *s) {
    return sizeof *s + (size_t)s->kept[0] + (size_t)s->kept[1] + s->nchunks * sizeof(tsl_chunk) +
           s->ngaps * sizeof(tsl_gap);
}

static void lt_set_error(lt_cap *c, int code, uint64_t offset, const char *msg, int with_offset) {
    c->err_code = code;
    c->err_offset = offset;
    if (with_offset)
        snprintf(c->err_msg, sizeof c->err_msg, "%s: %s at byte %llu", c->name, msg, (unsigned long long)offset);
    else
        snprintf(c->err_msg, sizeof c->err_msg, "%s: %s", c->name, msg);
}

/* Release the collector and the reader: sessions with a Lua object go to
   it (their numbers copied), the others are freed. Safe to call twice. */
static void lt_release(lua_State *L, lt_cap *c) {
    if (c->col) {
        c->stats = *tsl_collector_stats(c->col);
        c->stats.decode = NULL;
        tsl_collector_free(c->col);
    }
    c->col = NULL;
    if (c->objs != LUA_NOREF) {
        luaL_unref(L, LUA_REGISTRYINDEX, c->objs);
        c->objs = LUA_NOREF;
    }
    while (c->ready) {
        tsl_session *s = c->ready;
        c->ready = (tsl_session *)s->user;
        tsl_session_free(s);
    }
    c->ready_tail = NULL;
    if (c->rd) tcps_reader_close(c->rd);
    c->rd = NULL;
    c->state = LT_CLOSED;
}

/* The next event from the collector: 1 with *ev and *ss, or 0 once it is
   done (err_code then says how it ended: a damaged capture, no memory). */
static int lt_next(lt_cap *c, tcps_event *ev, tsl_session **ss) {
    int rc;
    if (c->state != LT_READING) return 0;
    rc = tsl_collector_next(c->col, ev, ss);
    if (rc == TCPS_OK) return 1;
    if (rc == TCPS_DONE) {
        const tcps_error *e = tsl_collector_error(c->col);
        if (e->code && !c->err_code) lt_set_error(c, e->code, e->offset, e->message, 1);
    } else if (!c->err_code) {
        if (rc == TCPS_E_NOMEM) lt_set_error(c, rc, 0, tcps_result_message(rc), 0);
        else lt_set_error(c, rc, tsl_collector_error(c->col)->offset, tsl_collector_error(c->col)->message, 1);
    }
    c->stats = *tsl_collector_stats(c->col);
    c->state = LT_FINISHED;
    return 0;
}

/* ------------------------------------------------------------ options */

static int lt_opt_bool(lua_State *L, int t, const char *k, int dflt) {
    int v = dflt;
    if (t && lua_getfield(L, t, k) != LUA_TNIL) v = lua_toboolean(L, -1);
    if (t) lua_pop(L, 1);
    return v;
}

static lua_Integer lt_opt_int(lua_State *L, int t, const char *k, lua_Integer lo, lua_Integer hi) {
    lua_Integer v = 0;
    if (!t) return 0;
    if (lua_getfield(L, t, k) != LUA_TNIL) {
        int ok;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok || v < lo || v > hi) luaL_error(L, "option %s: an integer from %I to %I expected", k, lo, hi);
    }
    lua_pop(L, 1);
    return v;
}

/* Fill cfg from the options table at index t (0: none). */
static void lt_config(lua_State *L, int t, tcps_config *cfg) {
    if (lt_opt_bool(L, t, "separate_vlans", 0)) cfg->flags |= TCPS_F_SEPARATE_VLANS;
    if (lt_opt_bool(L, t, "port_heuristic", 0)) cfg->flags |= TCPS_F_PORT_HEURISTIC;
    if (lt_opt_bool(L, t, "verify_checksums", 0)) cfg->flags |= TCPS_F_VERIFY_CHECKSUMS;
    if (lt_opt_bool(L, t, "no_defrag", 0)) cfg->flags |= TCPS_F_NO_DEFRAG;
    if (lt_opt_bool(L, t, "overlap_last", 0)) cfg->overlap = TCPS_OVERLAP_LAST;
    cfg->idle_timeout_ms = (uint32_t)lt_opt_int(L, t, "idle_timeout_ms", 0, UINT32_MAX);
    cfg->max_sessions = (uint32_t)lt_opt_int(L, t, "max_sessions", 0, UINT32_MAX);
}

/* Push a new capture object for path, or return 0 with nil, message, code
   pushed. opts: stack index of the options table, or 0. keep: TSL_KEEP_*. */
static int lt_cap_open(lua_State *L, lt_mem *mem, const char *path, int opts, unsigned keep) {
    lt_cap *c;
    tcps_reader_config rcfg;
    tcps_config cfg;
    tcps_packet first;
    int rc;
    memset(&rcfg, 0, sizeof rcfg);
    memset(&cfg, 0, sizeof cfg);
    lt_config(L, opts, &cfg); /* may raise: before anything is allocated */
    c = (lt_cap *)lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    c->mem = mem;
    c->state = LT_CLOSED;
    c->keep = keep;
    c->objs = LUA_NOREF;
    snprintf(c->name, sizeof c->name, "%s", path);
    luaL_setmetatable(L, LT_CAPTURE);
    rcfg.allocator = lt_allocator(mem);
    errno = 0;
    rc = tcps_reader_open_path(&c->rd, path, &rcfg);
    if (rc != TCPS_OK) {
        const char *why = rc == TCPS_E_IO && errno ? strerror(errno) : tcps_result_message(rc);
        lt_set_error(c, rc, 0, why, 0);
        goto fail;
    }
    cfg.allocator = lt_allocator(mem);
    rc = tsl_collector_new(&c->col, &cfg, keep);
    if (rc != TCPS_OK) {
        lt_set_error(c, rc, 0, tcps_result_message(rc), 0);
        goto fail;
    }
    c->state = LT_READING;
    /* Read the first record now, so a file that is no capture at all is an
       error of the opening call; the collector reads the rest. */
    rc = tcps_reader_next(c->rd, &first);
    if (rc == TCPS_OK) rc = tsl_collector_feed_packet(c->col, &first);
    if (rc < 0) {
        const tcps_error *e = tcps_reader_error(c->rd);
        if (e->code == rc) lt_set_error(c, rc, e->offset, e->message, 1);
        else lt_set_error(c, rc, 0, tcps_result_message(rc), 0);
        goto fail;
    }
    tsl_collector_read(c->col, c->rd);
    return 1;
fail:
    lt_release(L, c);
    lua_pushnil(L);
    lua_pushstring(L, c->err_msg);
    lua_pushstring(L, tcps_result_name(c->err_code));
    lua_remove(L, -4); /* the capture object, after its message was copied */
    return 0;
}

static lt_mem *lt_upmem(lua_State *L) { return (lt_mem *)lua_touserdata(L, lua_upvalueindex(1)); }

/* ------------------------------------------------------- session object */

typedef struct lt_sud {
    tsl_session *s;
} lt_sud;

static tsl_session *lt_checksess(lua_State *L, int i) {
    lt_sud *u = (lt_sud *)luaL_checkudata(L, i, LT_SESSION);
    if (!u->s) luaL_error(L, "session object already collected");
    return u->s;
}

/* A new session object (it frees its session when collected). */
static lt_sud *lt_new_sud(lua_State *L) {
    lt_sud *u = (lt_sud *)lua_newuserdatauv(L, sizeof *u, 1);
    u->s = NULL;
    luaL_setmetatable(L, LT_SESSION);
    return u;
}

static const char *lt_dir_name(int d) { return d ? "s2c" : "c2s"; }

static const char *lt_end_name(int end) {
    const char *n = tcps_end_name(end);
    return n ? n : "open";
}

static const char *lt_gap_name(int r) {
    const char *n = tcps_gap_name(r);
    return n ? n : "unknown";
}

static void lt_push_time(lua_State *L, tcps_time t) { lua_pushnumber(L, (lua_Number)t.sec + t.nsec / 1e9); }

static void lt_push_addr(lua_State *L, const tcps_endpoint *e, int with_port) {
    char a[TSL_ENDPOINT_MAX];
    lua_pushstring(L, with_port ? tsl_endpoint_text(e, a, sizeof a) : tsl_addr_text(e, a, sizeof a));
}

/* One direction's kept bytes as a Lua string */
static void lt_push_bytes(lua_State *L, const tsl_session *s, int d, uint64_t pos, size_t n) {
    luaL_Buffer b;
    char *w = luaL_buffinitsize(L, &b, n);
    luaL_pushresultsize(&b, tsl_session_copy(s, d, pos, w, n));
}

static void lt_push_sha(lua_State *L, const tsl_session *s, int d) {
    char hex[TSL_HEX_MAX];
    tsl_hash *h = tsl_hash_new(TSL_SHA256);
    const tsl_block *b;
    if (!h) luaL_error(L, "tcpsession: out of memory");
    for (b = s->data[d]; b; b = b->next) tsl_hash_update(h, b->d, b->len);
    tsl_hash_hex(h, hex);
    tsl_hash_free(h);
    lua_pushstring(L, hex);
}

static void lt_push_chunks(lua_State *L, const tsl_session *s) {
    size_t i;
    lua_createtable(L, (int)(s->nchunks < INT32_MAX ? s->nchunks : 0), 0);
    for (i = 0; i < s->nchunks; i++) {
        const tsl_chunk *k = &s->chunks[i];
        lua_createtable(L, 0, 5);
        lua_pushstring(L, lt_dir_name(k->dir));
        lua_setfield(L, -2, "dir");
        lt_push_time(L, k->ts);
        lua_setfield(L, -2, "ts");
        lua_pushinteger(L, (lua_Integer)k->frame);
        lua_setfield(L, -2, "frame");
        lua_pushinteger(L, (lua_Integer)k->offset);
        lua_setfield(L, -2, "offset");
        lt_push_bytes(L, s, k->dir, k->pos, (size_t)k->length);
        lua_setfield(L, -2, "data");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

static void lt_push_gaps(lua_State *L, const tsl_session *s) {
    size_t i;
    lua_createtable(L, (int)(s->ngaps < INT32_MAX ? s->ngaps : 0), 0);
    for (i = 0; i < s->ngaps; i++) {
        const tsl_gap *g = &s->gaps[i];
        lua_createtable(L, 0, 6);
        lua_pushstring(L, lt_dir_name(g->dir));
        lua_setfield(L, -2, "dir");
        lua_pushinteger(L, (lua_Integer)g->offset);
        lua_setfield(L, -2, "offset");
        lua_pushinteger(L, (lua_Integer)g->length);
        lua_setfield(L, -2, "length");
        lua_pushstring(L, lt_gap_name(g->reason));
        lua_setfield(L, -2, "reason");
        lt_push_time(L, g->ts);
        lua_setfield(L, -2, "ts");
        lua_pushinteger(L, (lua_Integer)g->frame);
        lua_setfield(L, -2, "frame");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* Field names: plain numbers and strings made on each access; the
   allocating ones (CACHED) are made once and kept in the user value. */
enum {
    F_STREAM, F_CLIENT, F_SERVER, F_CLIENT_IP, F_CLIENT_PORT, F_SERVER_IP, F_SERVER_PORT, F_IP_VERSION,
    F_C2S_BYTES, F_S2C_BYTES, F_C2S_MISSING, F_S2C_MISSING, F_C2S_PACKETS, F_S2C_PACKETS, F_PACKETS,
    F_FIRST_TS, F_LAST_TS, F_FIRST_SEC, F_FIRST_NSEC, F_LAST_SEC, F_LAST_NSEC, F_FIRST_FRAME, F_LAST_FRAME,
    F_END, F_CLOSED, F_VLAN, F_HANDSHAKE, F_C2S_CONFLICTS, F_S2C_CONFLICTS,
    F_CACHED, /* the ones below are cached */
    F_C2S = F_CACHED, F_S2C, F_CHUNKS, F_GAPS, F_C2S_SHA256, F_S2C_SHA256,
    F_COUNT
};

static const char *const lt_fields[F_COUNT + 1] = {
    "stream", "client", "server", "client_ip", "client_port", "server_ip", "server_port", "ip_version",
    "c2s_bytes", "s2c_bytes", "c2s_missing", "s2c_missing", "c2s_packets", "s2c_packets", "packets",
    "first_ts", "last_ts", "first_sec", "first_nsec", "last_sec", "last_nsec", "first_frame", "last_frame",
    "end", "closed", "vlan", "handshake", "c2s_conflicts", "s2c_conflicts",
    "c2s", "s2c", "chunks", "gaps", "c2s_sha256", "s2c_sha256", NULL};

static int lt_field_index(const char *k) {
    int i;
    for (i = 0; i < F_COUNT; i++)
        if (strcmp(k, lt_fields[i]) == 0) return i;
    return -1;
}

/* Push field f of s; for the cached ones, the caller stores the result. */
static void lt_push_field(lua_State *L, tsl_session *s, int f) {
    const tcps_session *v = s->s;
    switch (f) {
    case F_STREAM: lua_pushinteger(L, (lua_Integer)v->stream); break;
    case F_CLIENT: lt_push_addr(L, &v->client, 1); break;
    case F_SERVER: lt_push_addr(L, &v->server, 1); break;
    case F_CLIENT_IP: lt_push_addr(L, &v->client, 0); break;
    case F_SERVER_IP: lt_push_addr(L, &v->server, 0); break;
    case F_CLIENT_PORT: lua_pushinteger(L, v->client.port); break;
    case F_SERVER_PORT: lua_pushinteger(L, v->server.port); break;
    case F_IP_VERSION: lua_pushinteger(L, v->client.ip_version); break;
    case F_C2S_BYTES: lua_pushinteger(L, (lua_Integer)v->dir[0].bytes); break;
    case F_S2C_BYTES: lua_pushinteger(L, (lua_Integer)v->dir[1].bytes); break;
    case F_C2S_MISSING: lua_pushinteger(L, (lua_Integer)v->dir[0].missing); break;
    case F_S2C_MISSING: lua_pushinteger(L, (lua_Integer)v->dir[1].missing); break;
    case F_C2S_PACKETS: lua_pushinteger(L, (lua_Integer)v->dir[0].packets); break;
    case F_S2C_PACKETS: lua_pushinteger(L, (lua_Integer)v->dir[1].packets); break;
    case F_PACKETS: lua_pushinteger(L, (lua_Integer)v->packets); break;
    case F_FIRST_TS: lt_push_time(L, v->first_ts); break;
    case F_LAST_TS: lt_push_time(L, v->last_ts); break;
    case F_FIRST_SEC: lua_pushinteger(L, (lua_Integer)v->first_ts.sec); break;
    case F_FIRST_NSEC: lua_pushinteger(L, (lua_Integer)v->first_ts.nsec); break;
    case F_LAST_SEC: lua_pushinteger(L, (lua_Integer)v->last_ts.sec); break;
    case F_LAST_NSEC: lua_pushinteger(L, (lua_Integer)v->last_ts.nsec); break;
    case F_FIRST_FRAME: lua_pushinteger(L, (lua_Integer)v->first_frame); break;
    case F_LAST_FRAME: lua_pushinteger(L, (lua_Integer)v->last_frame); break;
    case F_END: lua_pushstring(L, s->closed ? lt_end_name(v->end) : "open"); break;
    case F_CLOSED: lua_pushboolean(L, s->closed); break;
    case F_VLAN:
        if (v->vlan_count) lua_pushinteger(L, v->vlan[0]);
        else lua_pushnil(L);
        break;
    case F_HANDSHAKE: lua_pushboolean(L, (v->handshake & 7) == 7); break;
    case F_C2S_CONFLICTS: lua_pushinteger(L, (lua_Integer)v->dir[0].conflicts); break;
    case F_S2C_CONFLICTS: lua_pushinteger(L, (lua_Integer)v->dir[1].conflicts); break;
    case F_C2S:
    case F_S2C:
        if (!(s->keep & TSL_KEEP_DATA)) lua_pushnil(L);
        else lt_push_bytes(L, s, f - F_C2S, 0, (size_t)s->kept[f - F_C2S]);
        break;
    case F_CHUNKS:
        if (!(s->keep & TSL_KEEP_CHUNKS)) lua_pushnil(L);
        else lt_push_chunks(L, s);
        break;
    case F_GAPS: /* nil in reassemble(): gaps come to on_gap */
        if (!(s->keep & TSL_KEEP_GAPS)) lua_pushnil(L);
        else lt_push_gaps(L, s);
        break;
    case F_C2S_SHA256:
    case F_S2C_SHA256:
        if (!(s->keep & TSL_KEEP_DATA)) lua_pushnil(L);
        else lt_push_sha(L, s, f - F_C2S_SHA256);
        break;
    default: lua_pushnil(L);
    }
}

static int sess_index(lua_State *L) {
    tsl_session *s = lt_checksess(L, 1);
    const char *k = lua_tostring(L, 2);
    int f;
    /* the user value: cached fields and the caller's own */
    if (lua_getiuservalue(L, 1, 1) == LUA_TTABLE) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, -2) != LUA_TNIL) return 1;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (!k || lua_type(L, 2) != LUA_TSTRING) return 0;
    f = lt_field_index(k);
    if (f < 0) { /* a method? */
        luaL_getmetatable(L, LT_SESSION);
        lua_getfield(L, -1, "__methods");
        lua_getfield(L, -1, k);
        return 1;
    }
    lt_push_field(L, s, f);
    if (f >= F_CACHED && !lua_isnil(L, -1) && s->s == &s->final) {
        if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_setiuservalue(L, 1, 1);
        }
        lua_pushvalue(L, 2);
        lua_pushvalue(L, -3);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
    return 1;
}

static int sess_newindex(lua_State *L) {
    lt_checksess(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING && lt_field_index(lua_tostring(L, 2)) >= 0)
        return luaL_error(L, "session field '%s' is read-only", lua_tostring(L, 2));
    if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 1, 1);
    }
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
    return 0;
}

/* __gc: free the session (an open one's object cannot be collected: the
   capture's table of open sessions' objects holds it). */
static int sess_gc(lua_State *L) {
    lt_sud *u = (lt_sud *)luaL_checkudata(L, 1, LT_SESSION);
    tsl_session_free(u->s);
    u->s = NULL;
    return 0;
}

/* s:close() and __close: drop the bytes, chunks and gaps now (the numbers stay). */
static int sess_close(lua_State *L) {
    lt_sud *u = (lt_sud *)luaL_checkudata(L, 1, LT_SESSION);
    if (u->s) tsl_session_release(u->s, TSL_KEEP_DATA | TSL_KEEP_CHUNKS | TSL_KEEP_GAPS);
    lua_pushnil(L);
    lua_setiuservalue(L, 1, 1);
    return 0;
}

static int sess_tostring(lua_State *L) {
    lt_sud *u = (lt_sud *)luaL_checkudata(L, 1, LT_SESSION);
    if (!u->s) {
        lua_pushstring(L, "tcpsession.session (collected)");
        return 1;
    }
    lua_pushfstring(L, "tcpsession.session %I ", (lua_Integer)u->s->stream);
    lt_push_field(L, u->s, F_CLIENT);
    lua_pushliteral(L, " -> ");
    lt_push_field(L, u->s, F_SERVER);
    lua_pushfstring(L, " (%s)", u->s->closed ? lt_end_name(u->s->end) : "open");
    lua_concat(L, 5);
    return 1;
}

/* s:fields(): a plain table of every number and string field (no bytes). */
static int sess_fields(lua_State *L) {
    tsl_session *s = lt_checksess(L, 1);
    int f;
    lua_createtable(L, 0, F_CACHED);
    for (f = 0; f < F_CACHED; f++) {
        lt_push_field(L, s, f);
        lua_setfield(L, -2, lt_fields[f]);
    }
    return 1;
}

/* ------------------------------------------------------- capture object */

static lt_cap *lt_checkcap(lua_State *L, int i) { return (lt_cap *)luaL_checkudata(L, i, LT_CAPTURE); }

static int cap_gc(lua_State *L) {
    lt_cap *c = lt_checkcap(L, 1);
    lt_release(L, c); /* also when reassemble() was cut short by an error of its own */
    c->L = NULL;
    return 0;
}

static int cap_close(lua_State *L) {
    lt_cap *c = lt_checkcap(L, 1);
    if (c->L) return luaL_error(L, "capture is being reassembled");
    lt_release(L, c);
    return 0;
}

/* The iterator: the next session that ended, or nil at the end. */
static int cap_next(lua_State *L) {
    lt_cap *c = lt_checkcap(L, 1);
    tsl_session *s;
    lt_sud *u;
    size_t held;
    if (c->L) return luaL_error(L, "capture is being reassembled");
    while (!c->ready) {
        tcps_event ev;
        if (!lt_next(c, &ev, &s)) {
            if (c->state == LT_FINISHED) lt_release(L, c);
            if (c->err_code == TCPS_E_NOMEM) return luaL_error(L, "%s", c->err_msg);
            return 0;
        }
        if (ev.type == TCPS_EV_CLOSE) {
            s->user = NULL;
            if (c->ready_tail) c->ready_tail->user = s;
            else c->ready = s;
            c->ready_tail = s;
        }
    }
    u = lt_new_sud(L); /* before the session leaves the queue: this may raise */
    s = c->ready;
    c->ready = (tsl_session *)s->user;
    if (!c->ready) c->ready_tail = NULL;
    s->user = NULL;
    held = lt_sess_bytes(s);
    u->s = s;
    /* the collector does not see these bytes: make it work as if it had */
    if (held > 4096) lua_gc(L, LUA_GCSTEP, (int)(held / 1024 < 1 << 30 ? held / 1024 : 1 << 30));
    return 1;
}

/* cap:sessions(): iterator, state, nil, closing value (a `break` releases
   the capture at once). */
static int cap_sessions(lua_State *L) {
    lt_checkcap(L, 1);
    lua_pushcfunction(L, cap_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    lua_pushvalue(L, 1);
    return 4;
}

/* cap:status(): true, or nil, message, code once the capture was found
   damaged (sessions up to the damage were all delivered). */
static int cap_status(lua_State *L) {
    lt_cap *c = lt_checkcap(L, 1);
    if (!c->err_code) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushnil(L);
    lua_pushstring(L, c->err_msg);
    lua_pushstring(L, tcps_result_name(c->err_code));
    return 3;
}

static void lt_push_stats(lua_State *L, const tcps_stats *st) {
    lua_createtable(L, 0, 20);
#define LT_STAT(name)                                                                                            \
    lua_pushinteger(L, (lua_Integer)st->name);                                                                   \
    lua_setfield(L, -2, #name)
    LT_STAT(packets);
    LT_STAT(segments);
    LT_STAT(sessions);
    LT_STAT(bytes);
    LT_STAT(missing);
    LT_STAT(gaps);
    LT_STAT(closed_fin);
    LT_STAT(closed_rst);
    LT_STAT(closed_timeout);
    LT_STAT(closed_eof);
    LT_STAT(closed_evicted);
    LT_STAT(closed_reused);
    LT_STAT(session_segments);
    LT_STAT(late_segments);
    LT_STAT(late_bytes);
    LT_STAT(bad_checksum);
    LT_STAT(nomem_segments);
    LT_STAT(sessions_peak);
    LT_STAT(buffered_peak);
#undef LT_STAT
}

static int cap_stats(lua_State *L) {
    lt_cap *c = lt_checkcap(L, 1);
    lt_push_stats(L, c->col ? tsl_collector_stats(c->col) : &c->stats);
    return 1;
}

static int cap_tostring(lua_State *L) {
    lt_cap *c = lt_checkcap(L, 1);
    lua_pushfstring(L, "tcpsession.capture %s (%s)", c->name, c->state == LT_CLOSED ? "closed" : "open");
    return 1;
}

/* -------------------------------------------------------- module functions */

/* tcpsession.open(path [, opts]) -> capture | nil, message, code */
static int l_open(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    int opts = lua_istable(L, 2) ? 2 : 0;
    if (!lua_isnoneornil(L, 2) && !opts) luaL_typeerror(L, 2, "table");
    unsigned keep = lt_opt_bool(L, opts, "data", 1) ? TSL_KEEP_DATA | TSL_KEEP_CHUNKS | TSL_KEEP_GAPS : TSL_KEEP_GAPS;
    if (!lt_cap_open(L, lt_upmem(L), path, opts, keep)) return 3;
    return 1;
}

/* tcpsession.sessions(path [, opts]) -> iterator, capture, nil, capture */
static int l_sessions(lua_State *L) {
    int n = l_open(L);
    if (n != 1) return n;
    lua_replace(L, 1);
    lua_settop(L, 1);
    return cap_sessions(L);
}

/* ---- reassemble(): each event to its Lua function */

typedef struct lt_call {
    lt_cap *c;
    const tcps_event *ev;
    tsl_session *s;
    int kind;
} lt_call;

/* Runs under lua_pcall; upvalues: on_open, on_data, on_gap, on_close, "c2s", "s2c". */
static int lt_dispatch(lua_State *L) {
    lt_call *k = (lt_call *)lua_touserdata(L, 1);
    const tcps_event *ev = k->ev;
    int nargs = 1;
    lua_settop(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1 + k->kind));
    lua_rawgeti(L, LUA_REGISTRYINDEX, k->c->objs);
    if (k->s->held) {
        lua_rawgetp(L, -1, k->s);
        lua_remove(L, -2);
    } else { /* its object, kept in the table until the session closes */
        lt_sud *u = lt_new_sud(L);
        u->s = k->s;
        k->s->held = 1;
        lua_pushvalue(L, -1);
        lua_rawsetp(L, -3, k->s);
        lua_remove(L, -2);
    }
    switch (k->kind) {
    case LT_EV_DATA:
        lua_pushvalue(L, lua_upvalueindex(ev->dir ? 6 : 5));
        lua_pushlstring(L, (const char *)ev->data.ptr, ev->data.len);
        lt_push_time(L, ev->ts);
        lua_pushinteger(L, (lua_Integer)ev->offset);
        nargs = 5;
        break;
    case LT_EV_GAP:
        lua_pushvalue(L, lua_upvalueindex(ev->dir ? 6 : 5));
        lua_pushinteger(L, (lua_Integer)ev->offset);
        lua_pushinteger(L, (lua_Integer)ev->length);
        lua_pushstring(L, lt_gap_name(ev->reason));
        lt_push_time(L, ev->ts);
        nargs = 6;
        break;
    case LT_EV_CLOSE:
        lua_pushstring(L, lt_end_name(ev->reason));
        nargs = 2;
        break;
    default: break;
    }
    lua_call(L, nargs, 1);
    lua_pushboolean(L, lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1));
    return 1;
}

/* A closed session leaves the capture: to its object, or freed. */
static void lt_let_go(lua_State *L, lt_cap *c, tsl_session *s) {
    if (!s->held) {
        tsl_session_free(s);
        return;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->objs);
    lua_pushnil(L);
    lua_rawsetp(L, -2, s);
    lua_pop(L, 1);
}

/* One event to its function, if there is one; never raises. Sets c->stop. */
static void lt_call_lua(lt_cap *c, const tcps_event *ev, tsl_session *s) {
    static const int kinds[] = {-1, LT_EV_OPEN, LT_EV_DATA, LT_EV_GAP, LT_EV_CLOSE};
    lua_State *L = c->L;
    lt_call k;
    int rc;
    k.kind = ev->type >= TCPS_EV_OPEN && ev->type <= TCPS_EV_CLOSE ? kinds[ev->type] : -1;
    if (k.kind >= 0 && c->has_fn[k.kind]) {
        k.c = c;
        k.ev = ev;
        k.s = s;
        lua_pushvalue(L, c->dispatch);
        lua_pushlightuserdata(L, &k);
        rc = lua_pcall(L, 1, 1, 0);
        if (rc != LUA_OK) {
            lua_replace(L, c->errslot); /* the error value, kept until everything is released */
            c->stop = 1;
        } else {
            if (lua_toboolean(L, -1)) c->stop = 2;
            lua_pop(L, 1);
        }
    }
    if (ev->type == TCPS_EV_CLOSE) lt_let_go(L, c, s);
}

/* tcpsession.reassemble(path, { on_open=, on_data=, on_gap=, on_close=, options... })
   -> stats | nil, message, code; a callback's error is raised again. */
static int l_reassemble(lua_State *L) {
    static const char *const names[4] = {"on_open", "on_data", "on_gap", "on_close"};
    const char *path = luaL_checkstring(L, 1);
    lt_cap *c;
    int i, dispatch, errslot, capidx;
    tcps_event ev;
    tsl_session *s;
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    for (i = 0; i < 4; i++) {
        int t = lua_getfield(L, 2, names[i]);
        if (t != LUA_TNIL && t != LUA_TFUNCTION && !luaL_getmetafield(L, -1, "__call"))
            return luaL_error(L, "bad callback '%s' (function expected, got %s)", names[i], luaL_typename(L, -1));
        if (t != LUA_TNIL && t != LUA_TFUNCTION) lua_pop(L, 1); /* the __call field */
    }
    lua_pushliteral(L, "c2s");
    lua_pushliteral(L, "s2c");
    lua_pushcclosure(L, lt_dispatch, 6);
    dispatch = lua_gettop(L);
    lua_pushnil(L);
    errslot = lua_gettop(L);
    if (!lt_cap_open(L, lt_upmem(L), path, 2, 0)) return 3;
    capidx = lua_gettop(L);
    c = lt_checkcap(L, capidx);
    luaL_checkstack(L, 8, "reassemble");
    lua_newtable(L);
    c->objs = luaL_ref(L, LUA_REGISTRYINDEX);
    c->L = L;
    c->dispatch = dispatch;
    c->errslot = errslot;
    for (i = 0; i < 4; i++) {
        lua_getupvalue(L, dispatch, i + 1);
        c->has_fn[i] = !lua_isnil(L, -1);
        lua_pop(L, 1);
    }
    while (!c->stop && lt_next(c, &ev, &s)) lt_call_lua(c, &ev, s);
    lt_release(L, c);
    c->L = NULL;
    lua_settop(L, capidx);
    if (c->stop == 1) {
        lua_pushvalue(L, errslot);
        return lua_error(L);
    }
    if (c->err_code == TCPS_E_NOMEM) return luaL_error(L, "%s", c->err_msg); /* as sessions() */
    if (c->err_code) {
        lua_pushnil(L);
        lua_pushstring(L, c->err_msg);
        lua_pushstring(L, tcps_result_name(c->err_code));
        return 3;
    }
    lt_push_stats(L, &c->stats);
    lua_pushboolean(L, c->stop == 2);
    lua_setfield(L, -2, "stopped");
    return 1;
}

/* tcpsession.memory() -> bytes held by the engine and this module now, peak */
static int l_memory(lua_State *L) {
    lt_mem *m = lt_upmem(L);
    lua_pushinteger(L, (lua_Integer)m->bytes);
    lua_pushinteger(L, (lua_Integer)m->peak);
    return 2;
}

static const luaL_Reg lt_funcs[] = {{"open", l_open},
                                    {"sessions", l_sessions},
                                    {"reassemble", l_reassemble},
                                    {"memory", l_memory},
                                    {NULL, NULL}};

static const luaL_Reg lt_cap_methods[] = {{"sessions", cap_sessions},
                                          {"status", cap_status},
                                          {"stats", cap_stats},
                                          {"close", cap_close},
                                          {NULL, NULL}};

static const luaL_Reg lt_sess_methods[] = {{"close", sess_close}, {"fields", sess_fields}, {NULL, NULL}};

#if defined(_WIN32)
#define LT_EXPORT __declspec(dllexport)
#else
#define LT_EXPORT __attribute__((visibility("default")))
#endif

LT_EXPORT int luaopen_tcpsession(lua_State *L);

LT_EXPORT int luaopen_tcpsession(lua_State *L) {
    lt_mem *m;
    luaL_checkversion(L);
    if (luaL_newmetatable(L, LT_CAPTURE)) {
        luaL_newlib(L, lt_cap_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, cap_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, cap_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, cap_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, LT_SESSION)) {
        luaL_newlib(L, lt_sess_methods);
        lua_setfield(L, -2, "__methods");
        lua_pushcfunction(L, sess_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, sess_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushcfunction(L, sess_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, sess_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, sess_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    /* one byte counter per Lua state, kept in the registry */
    if (lua_getfield(L, LUA_REGISTRYINDEX, "tcpsession.memory") != LUA_TUSERDATA) {
        lua_pop(L, 1);
        m = (lt_mem *)lua_newuserdatauv(L, sizeof *m, 0);
        memset(m, 0, sizeof *m);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "tcpsession.memory");
    }
    luaL_newlibtable(L, lt_funcs);
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, lt_funcs, 1);
    lua_pushstring(L, tcps_version());
    lua_setfield(L, -2, "version");
    lua_pushliteral(L, "tcpsession " TCPS_VERSION_STRING " (Lua " LUA_VERSION_MAJOR "." LUA_VERSION_MINOR ")");
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
