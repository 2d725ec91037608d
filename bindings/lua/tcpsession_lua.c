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

   Two ways to drive the engine:
     - sessions(): the engine's callbacks are C functions that never touch
       Lua; they gather each session's bytes, chunks and gaps, and the
       iterator hands a session to Lua when it has ended.
     - reassemble(): the engine's callbacks call the Lua functions, each
       through lua_pcall of a small C function that does every Lua step
       (allocation included). A Lua error is kept, the C callback returns
       non-zero, the engine stops cleanly, everything is released, and only
       then is the error raised again: no longjmp ever crosses the engine.

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

/* Grow *p (n used of *cap items of size sz) to hold one more: 0 or -1. */
static int lt_grow(lt_mem *m, void **p, size_t *cap, size_t n, size_t more, size_t sz) {
    size_t nc;
    void *q;
    if (n + more <= *cap) return 0;
    if (more > ((size_t)-1) / sz - n) return -1;
    nc = *cap ? *cap : 16;
    while (nc < n + more) {
        if (nc > ((size_t)-1) / 2 / sz) {
            nc = n + more;
            break;
        }
        nc *= 2;
    }
    q = *p ? lt_realloc(*p, *cap * sz, nc * sz, m) : lt_alloc(nc * sz, m);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

/* ----------------------------------------------------------- sessions */

typedef struct lt_chunk {
    uint64_t offset, frame, pos, len; /* pos: where the bytes start in the direction's buffer */
    tcps_time ts;
    int dir;
} lt_chunk;

typedef struct lt_gap {
    uint64_t offset, length, frame;
    tcps_time ts;
    int dir, reason;
} lt_gap;

/* One session. Owned by the capture while the engine holds it or while it
   waits in the ready queue; owned by its Lua object (lua_owned) once one
   exists and the engine is done with it. */
typedef struct lt_sess {
    lt_mem *mem;
    const tcps_session *live; /* the engine's, while it is open (reassemble) */
    tcps_session snap;        /* copied when it ended (or when the run stopped) */
    int closed;               /* ended: snap.end says how */
    int keep;                 /* bytes and chunks are kept (sessions(), data ~= false) */
    int streaming;            /* made by reassemble(): no gaps kept */
    uint8_t *buf[2];
    size_t len[2], cap[2];
    lt_chunk *chunks;
    size_t nchunks, capchunks;
    lt_gap *gaps;
    size_t ngaps, capgaps;
    int ref;       /* registry reference of the Lua object while open (reassemble) */
    int lua_owned; /* a Lua object exists and frees this */
    struct lt_sess *prev, *next;
} lt_sess;

static void lt_sess_release_data(lt_sess *s) {
    int i;
    for (i = 0; i < 2; i++) {
        lt_free(s->buf[i], s->cap[i], s->mem);
        s->buf[i] = NULL;
        s->len[i] = s->cap[i] = 0;
    }
    lt_free(s->chunks, s->capchunks * sizeof *s->chunks, s->mem);
    lt_free(s->gaps, s->capgaps * sizeof *s->gaps, s->mem);
    s->chunks = NULL;
    s->gaps = NULL;
    s->nchunks = s->capchunks = s->ngaps = s->capgaps = 0;
}

static void lt_sess_free(lt_sess *s) {
    lt_sess_release_data(s);
    lt_free(s, sizeof *s, s->mem);
}

static size_t lt_sess_bytes(const lt_sess *s) {
    return sizeof *s + s->cap[0] + s->cap[1] + s->capchunks * sizeof(lt_chunk) + s->capgaps * sizeof(lt_gap);
}

static const tcps_session *lt_view(const lt_sess *s) { return s->live ? s->live : &s->snap; }

/* ------------------------------------------------------------ capture */

#define LT_READING 0
#define LT_FINISHED 1 /* the engine closed every session; the queue may hold some */
#define LT_CLOSED 2   /* engine and reader released */

#define LT_EV_OPEN 0
#define LT_EV_DATA 1
#define LT_EV_GAP 2
#define LT_EV_CLOSE 3

typedef struct lt_cap {
    lt_mem *mem;
    tcps_reader *rd;
    tcps_ctx *ctx;
    tcps_packet pending; /* the first packet, read when opening */
    int has_pending;
    int state;
    int keep;            /* sessions(): keep bytes and chunks */
    int oom;             /* a callback could not allocate */
    /* the error, once there is one */
    int err_code;
    uint64_t err_offset;
    char err_msg[512];
    tcps_stats stats;    /* kept when the engine is released */
    lt_sess *open;       /* sessions the engine holds (doubly linked) */
    lt_sess *ready, *ready_tail; /* ended, not yet handed out (sessions()) */
    /* reassemble() */
    lua_State *L;
    int dispatch;        /* stack index of the dispatch closure */
    int errslot;         /* stack index where a callback's error is kept */
    int has_fn[4];
    int stop;            /* 1: a Lua error, 2: a callback returned false, 3: out of memory */
    char name[256];      /* the path, for messages (cut if longer) */
} lt_cap;

static void lt_set_error(lt_cap *c, int code, uint64_t offset, const char *msg, int with_offset) {
    c->err_code = code;
    c->err_offset = offset;
    if (with_offset)
        snprintf(c->err_msg, sizeof c->err_msg, "%s: %s at byte %llu", c->name, msg, (unsigned long long)offset);
    else
        snprintf(c->err_msg, sizeof c->err_msg, "%s: %s", c->name, msg);
}

static void lt_unlink_open(lt_cap *c, lt_sess *s) {
    if (s->prev) s->prev->next = s->next;
    else c->open = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

/* Give up a session the capture owns: free it, or, when a Lua object
   exists, let the object own it from now on. */
static void lt_disown(lt_cap *c, lt_sess *s) {
    if (s->ref != LUA_NOREF && s->ref != LUA_REFNIL && c->L) {
        luaL_unref(c->L, LUA_REGISTRYINDEX, s->ref);
        s->ref = LUA_NOREF;
    }
    if (!s->lua_owned) lt_sess_free(s);
}

/* A callback is stopping the run: copy every open session's numbers now.
   After a stop the engine may end and free sessions without calling
   on_close, so the live pointers must not be used past this point. */
static void lt_freeze_open(lt_cap *c) {
    lt_sess *s;
    for (s = c->open; s; s = s->next) {
        if (!s->live) continue;
        s->snap = *s->live;
        s->snap.user = NULL;
        s->live = NULL;
    }
}

/* Release the engine and the reader; every session still open is frozen
   (its numbers copied) and given up. Safe to call twice. */
static void lt_release(lt_cap *c) {
    if (c->ctx) c->stats = *tcps_ctx_stats(c->ctx);
    c->stats.decode = NULL;
    while (c->open) {
        lt_sess *s = c->open;
        lt_unlink_open(c, s);
        if (s->live) {
            s->snap = *s->live;
            s->snap.user = NULL;
            s->live = NULL;
        }
        lt_disown(c, s);
    }
    while (c->ready) {
        lt_sess *s = c->ready;
        c->ready = s->next;
        lt_disown(c, s);
    }
    c->ready_tail = NULL;
    if (c->ctx) tcps_destroy(c->ctx);
    if (c->rd) tcps_reader_close(c->rd);
    c->ctx = NULL;
    c->rd = NULL;
    c->has_pending = 0;
    c->state = LT_CLOSED;
}

/* -------------------------------------------- engine callbacks (C only) */

static int cb_open(const tcps_event *ev, void *user);
static int cb_data(const tcps_event *ev, void *user);
static int cb_gap(const tcps_event *ev, void *user);
static int cb_close(const tcps_event *ev, void *user);
static int lt_call_lua(lt_cap *c, int kind, const tcps_event *ev, lt_sess *s);

static int lt_oom(lt_cap *c) {
    c->oom = 1;
    c->stop = 3;
    lt_freeze_open(c);
    return 1;
}

static int cb_open(const tcps_event *ev, void *user) {
    lt_cap *c = (lt_cap *)user;
    lt_sess *s;
    if (c->stop) return 1;
    s = (lt_sess *)lt_alloc(sizeof *s, c->mem);
    if (!s) return lt_oom(c);
    memset(s, 0, sizeof *s);
    s->mem = c->mem;
    s->live = ev->session;
    s->keep = c->keep;
    s->streaming = c->L != NULL;
    s->ref = LUA_NOREF;
    ev->session->user = s;
    s->next = c->open;
    if (c->open) c->open->prev = s;
    c->open = s;
    if (c->L && c->has_fn[LT_EV_OPEN]) return lt_call_lua(c, LT_EV_OPEN, ev, s);
    return 0;
}

static int cb_data(const tcps_event *ev, void *user) {
    lt_cap *c = (lt_cap *)user;
    lt_sess *s = (lt_sess *)ev->session->user;
    if (c->stop) return 1;
    if (!s) return 0;
    if (s->keep) {
        int d = ev->dir ? 1 : 0;
        lt_chunk *k;
        if (lt_grow(s->mem, (void **)&s->buf[d], &s->cap[d], s->len[d], ev->data.len, 1) ||
            lt_grow(s->mem, (void **)&s->chunks, &s->capchunks, s->nchunks, 1, sizeof *s->chunks))
            return lt_oom(c);
        k = &s->chunks[s->nchunks++];
        k->offset = ev->offset;
        k->frame = ev->frame;
        k->pos = s->len[d];
        k->len = ev->data.len;
        k->ts = ev->ts;
        k->dir = d;
        if (ev->data.len) memcpy(s->buf[d] + s->len[d], ev->data.ptr, ev->data.len);
        s->len[d] += ev->data.len;
    }
    if (c->L && c->has_fn[LT_EV_DATA]) return lt_call_lua(c, LT_EV_DATA, ev, s);
    return 0;
}

static int cb_gap(const tcps_event *ev, void *user) {
    lt_cap *c = (lt_cap *)user;
    lt_sess *s = (lt_sess *)ev->session->user;
    if (c->stop) return 1;
    if (!s) return 0;
    if (!c->L) {
        lt_gap *g;
        if (lt_grow(s->mem, (void **)&s->gaps, &s->capgaps, s->ngaps, 1, sizeof *s->gaps)) return lt_oom(c);
        g = &s->gaps[s->ngaps++];
        g->offset = ev->offset;
        g->length = ev->length;
        g->frame = ev->frame;
        g->ts = ev->ts;
        g->dir = ev->dir ? 1 : 0;
        g->reason = ev->reason;
    }
    if (c->L && c->has_fn[LT_EV_GAP]) return lt_call_lua(c, LT_EV_GAP, ev, s);
    return 0;
}

static int cb_close(const tcps_event *ev, void *user) {
    lt_cap *c = (lt_cap *)user;
    lt_sess *s = (lt_sess *)ev->session->user;
    int rc = 0;
    if (!s) return c->stop ? 1 : 0;
    lt_unlink_open(c, s);
    s->snap = *ev->session;
    s->snap.user = NULL;
    s->snap.end = (uint8_t)ev->reason;
    s->live = NULL;
    s->closed = 1;
    ev->session->user = NULL;
    if (c->L) {
        if (!c->stop && c->has_fn[LT_EV_CLOSE]) rc = lt_call_lua(c, LT_EV_CLOSE, ev, s);
        lt_disown(c, s);
        return c->stop ? 1 : rc;
    }
    if (c->stop) {
        lt_disown(c, s);
        return 1;
    }
    s->next = NULL;
    if (c->ready_tail) c->ready_tail->next = s;
    else c->ready = s;
    c->ready_tail = s;
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
   pushed. opts: stack index of the options table, or 0. */
static int lt_cap_open(lua_State *L, lt_mem *mem, const char *path, int opts, int keep) {
    lt_cap *c;
    tcps_reader_config rcfg;
    tcps_config cfg;
    int rc;
    memset(&rcfg, 0, sizeof rcfg);
    memset(&cfg, 0, sizeof cfg);
    lt_config(L, opts, &cfg); /* may raise: before anything is allocated */
    c = (lt_cap *)lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    c->mem = mem;
    c->state = LT_CLOSED;
    c->keep = keep;
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
    cfg.callbacks.on_open = cb_open;
    cfg.callbacks.on_data = cb_data;
    cfg.callbacks.on_gap = cb_gap;
    cfg.callbacks.on_close = cb_close;
    cfg.user = c;
    rc = tcps_create(&c->ctx, &cfg);
    if (rc != TCPS_OK) {
        lt_set_error(c, rc, 0, tcps_result_message(rc), 0);
        goto fail;
    }
    c->state = LT_READING;
    /* Read the first record now, so a file that is no capture at all is an
       error of the opening call. */
    rc = tcps_reader_next(c->rd, &c->pending);
    if (rc == TCPS_OK) c->has_pending = 1;
    else if (rc < 0) {
        const tcps_error *e = tcps_reader_error(c->rd);
        lt_set_error(c, rc, e->offset, e->message, 1);
        goto fail;
    }
    return 1;
fail:
    lt_release(c);
    lua_pushnil(L);
    lua_pushstring(L, c->err_msg);
    lua_pushstring(L, tcps_result_name(c->err_code));
    lua_remove(L, -4); /* the capture object, after its message was copied */
    return 0;
}

/* One step: feed a packet, or finish at the end of the input. Returns 0
   while there is more, 1 once the engine finished (or stopped). */
static int lt_step(lt_cap *c) {
    tcps_packet pkt;
    int rc;
    if (c->state != LT_READING) return 1;
    if (c->has_pending) {
        pkt = c->pending;
        c->has_pending = 0;
        rc = TCPS_OK;
    } else {
        rc = tcps_reader_next(c->rd, &pkt);
    }
    if (rc == TCPS_OK) {
        rc = tcps_feed_packet(c->ctx, &pkt);
        if (rc >= 0) return 0;
    } else if (rc == TCPS_DONE) {
        rc = tcps_finish(c->ctx);
    } else {
        /* a damaged capture: every session so far ends, then the error */
        const tcps_error *e = tcps_reader_error(c->rd);
        lt_set_error(c, rc, e->offset, e->message, 1);
        rc = tcps_finish(c->ctx);
    }
    if (rc < 0 && !c->err_code) {
        if (c->oom || rc == TCPS_E_NOMEM) lt_set_error(c, TCPS_E_NOMEM, 0, tcps_result_message(TCPS_E_NOMEM), 0);
        else if (rc != TCPS_E_ABORTED) lt_set_error(c, rc, tcps_ctx_error(c->ctx)->offset, tcps_ctx_error(c->ctx)->message, 1);
    }
    c->stats = *tcps_ctx_stats(c->ctx);
    c->state = LT_FINISHED;
    return 1;
}

static lt_mem *lt_upmem(lua_State *L) { return (lt_mem *)lua_touserdata(L, lua_upvalueindex(1)); }

/* ------------------------------------------------------- session object */

typedef struct lt_sud {
    lt_sess *s;
} lt_sud;

static lt_sess *lt_checksess(lua_State *L, int i) {
    lt_sud *u = (lt_sud *)luaL_checkudata(L, i, LT_SESSION);
    if (!u->s) luaL_error(L, "session object already collected");
    return u->s;
}

/* Push a new Lua object for s (which it then owns, once the capture lets go). */
static lt_sud *lt_new_sud(lua_State *L) {
    lt_sud *u = (lt_sud *)lua_newuserdatauv(L, sizeof *u, 1);
    u->s = NULL;
    luaL_setmetatable(L, LT_SESSION);
    return u;
}

static void lt_push_session(lua_State *L, lt_sess *s) {
    lt_sud *u = lt_new_sud(L);
    u->s = s;
    s->lua_owned = 1;
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

static void lt_push_sha(lua_State *L, const lt_sess *s, int d) {
    char hex[TSL_HEX_MAX];
    if (tsl_digest_hex(TSL_SHA256, s->len[d] ? s->buf[d] : (const uint8_t *)"", s->len[d], hex))
        luaL_error(L, "tcpsession: out of memory");
    lua_pushstring(L, hex);
}

static void lt_push_chunks(lua_State *L, const lt_sess *s) {
    size_t i;
    lua_createtable(L, (int)(s->nchunks < INT32_MAX ? s->nchunks : 0), 0);
    for (i = 0; i < s->nchunks; i++) {
        const lt_chunk *k = &s->chunks[i];
        lua_createtable(L, 0, 5);
        lua_pushstring(L, lt_dir_name(k->dir));
        lua_setfield(L, -2, "dir");
        lt_push_time(L, k->ts);
        lua_setfield(L, -2, "ts");
        lua_pushinteger(L, (lua_Integer)k->frame);
        lua_setfield(L, -2, "frame");
        lua_pushinteger(L, (lua_Integer)k->offset);
        lua_setfield(L, -2, "offset");
        lua_pushlstring(L, (const char *)s->buf[k->dir] + k->pos, (size_t)k->len);
        lua_setfield(L, -2, "data");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

static void lt_push_gaps(lua_State *L, const lt_sess *s) {
    size_t i;
    lua_createtable(L, (int)(s->ngaps < INT32_MAX ? s->ngaps : 0), 0);
    for (i = 0; i < s->ngaps; i++) {
        const lt_gap *g = &s->gaps[i];
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
static void lt_push_field(lua_State *L, lt_sess *s, int f) {
    const tcps_session *v = lt_view(s);
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
        if (!s->keep) lua_pushnil(L);
        else lua_pushlstring(L, (const char *)s->buf[f - F_C2S], s->len[f - F_C2S]);
        break;
    case F_CHUNKS:
        if (!s->keep) lua_pushnil(L);
        else lt_push_chunks(L, s);
        break;
    case F_GAPS:
        if (s->streaming) lua_pushnil(L); /* reassemble(): gaps come to on_gap */
        else lt_push_gaps(L, s);
        break;
    case F_C2S_SHA256:
    case F_S2C_SHA256:
        if (!s->keep) lua_pushnil(L);
        else lt_push_sha(L, s, f - F_C2S_SHA256);
        break;
    default: lua_pushnil(L);
    }
}

static int sess_index(lua_State *L) {
    lt_sess *s = lt_checksess(L, 1);
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
    if (f >= F_CACHED && !lua_isnil(L, -1) && (s->closed || !s->live)) {
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

/* __gc: free the session, unless the capture still owns it (the engine
   holds it: cannot happen, the registry reference keeps the object alive). */
static int sess_gc(lua_State *L) {
    lt_sud *u = (lt_sud *)luaL_checkudata(L, 1, LT_SESSION);
    if (u->s) {
        if (!u->s->live && u->s->ref == LUA_NOREF) lt_sess_free(u->s);
        else u->s->lua_owned = 0; /* the capture frees it */
        u->s = NULL;
    }
    return 0;
}

/* s:close() and __close: drop the bytes, chunks and gaps now (the numbers stay). */
static int sess_close(lua_State *L) {
    lt_sud *u = (lt_sud *)luaL_checkudata(L, 1, LT_SESSION);
    if (u->s) {
        lt_sess_release_data(u->s);
        u->s->keep = 0;
    }
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
    lua_pushfstring(L, "tcpsession.session %I ", (lua_Integer)lt_view(u->s)->stream);
    lt_push_field(L, u->s, F_CLIENT);
    lua_pushliteral(L, " -> ");
    lt_push_field(L, u->s, F_SERVER);
    lua_pushfstring(L, " (%s)", u->s->closed ? lt_end_name(lt_view(u->s)->end) : "open");
    lua_concat(L, 5);
    return 1;
}

/* s:fields(): a plain table of every number and string field (no bytes). */
static int sess_fields(lua_State *L) {
    lt_sess *s = lt_checksess(L, 1);
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
    if (c->L) c->L = L; /* reassemble() was cut short by an error of its own */
    lt_release(c);
    c->L = NULL;
    return 0;
}

static int cap_close(lua_State *L) {
    lt_cap *c = lt_checkcap(L, 1);
    if (c->L) return luaL_error(L, "capture is being reassembled");
    lt_release(c);
    return 0;
}

/* The iterator: the next session that ended, or nil at the end. */
static int cap_next(lua_State *L) {
    lt_cap *c = lt_checkcap(L, 1);
    lt_sess *s;
    lt_sud *u;
    size_t held;
    if (c->L) return luaL_error(L, "capture is being reassembled");
    while (!c->ready) {
        if (c->state != LT_READING) {
            if (c->state == LT_FINISHED) lt_release(c);
            if (c->err_code == TCPS_E_NOMEM) return luaL_error(L, "%s", c->err_msg);
            return 0;
        }
        lt_step(c);
    }
    u = lt_new_sud(L); /* before the session leaves the queue: this may raise */
    s = c->ready;
    c->ready = s->next;
    if (!c->ready) c->ready_tail = NULL;
    s->next = NULL;
    held = lt_sess_bytes(s);
    u->s = s;
    s->lua_owned = 1;
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
    lt_push_stats(L, c->ctx ? tcps_ctx_stats(c->ctx) : &c->stats);
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
    if (!lt_cap_open(L, lt_upmem(L), path, opts, lt_opt_bool(L, opts, "data", 1))) return 3;
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

/* ---- reassemble(): calling Lua from the engine's callbacks */

typedef struct lt_call {
    lt_cap *c;
    const tcps_event *ev;
    lt_sess *s;
    int kind;
} lt_call;

/* Runs under lua_pcall; upvalues: on_open, on_data, on_gap, on_close, "c2s", "s2c". */
static int lt_dispatch(lua_State *L) {
    lt_call *k = (lt_call *)lua_touserdata(L, 1);
    const tcps_event *ev = k->ev;
    int nargs = 1;
    lua_settop(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1 + k->kind));
    if (k->s->ref == LUA_NOREF) {
        lt_push_session(L, k->s);
        lua_pushvalue(L, -1);
        k->s->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        lua_rawgeti(L, LUA_REGISTRYINDEX, k->s->ref);
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

/* Called by the C callbacks: never raises. Returns non-zero to stop. */
static int lt_call_lua(lt_cap *c, int kind, const tcps_event *ev, lt_sess *s) {
    lua_State *L = c->L;
    lt_call k;
    int rc;
    k.c = c;
    k.ev = ev;
    k.s = s;
    k.kind = kind;
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
    if (c->stop) lt_freeze_open(c);
    return c->stop;
}

/* tcpsession.reassemble(path, { on_open=, on_data=, on_gap=, on_close=, options... })
   -> stats | nil, message, code; a callback's error is raised again. */
static int l_reassemble(lua_State *L) {
    static const char *const names[4] = {"on_open", "on_data", "on_gap", "on_close"};
    const char *path = luaL_checkstring(L, 1);
    lt_cap *c;
    int i, dispatch, errslot, capidx;
    tcps_stats st;
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
    c->L = L;
    c->dispatch = dispatch;
    c->errslot = errslot;
    for (i = 0; i < 4; i++) {
        lua_getupvalue(L, dispatch, i + 1);
        c->has_fn[i] = !lua_isnil(L, -1);
        lua_pop(L, 1);
    }
    while (!lt_step(c)) {
    }
    st = c->ctx ? *tcps_ctx_stats(c->ctx) : c->stats;
    lt_release(c);
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
    lt_push_stats(L, &st);
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
