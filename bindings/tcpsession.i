/* tcpsession.i - the one SWIG interface of the Python and Lua bindings.

   It wraps tcpsession.h (constants, names, the version) and the shared
   layer (lib/tsl.h): a Run reads a capture, or packets fed to it, through
   the shared collector and hands out what it gives, either sessions once
   they ended (pump/pop) or events one at a time (next). The idiomatic API
   of each language is written in that language on top of this module:
   bindings/python/tcpsession/__init__.py (the package) and
   bindings/lua/tcpsession.lua. What SWIG wraps is the same for both; what
   differs is in the typemaps:

     result codes (tsb_result)   Python: the tcpsession exception (with the
                                 capture's byte offset), MemoryError;
                                 Lua: nil, message, code name
     byte spans (tsb_bytes)      Python bytes / Lua string; nil when absent
     bytes in (buf, len)         any bytes-like object / Lua string
     integers out (... *OUT)     Python int / Lua integer, appended to the
                                 results (a list in Python, values in Lua)

   %rename drops the C prefixes of what this file adds: tsb_run is Run,
   tsl_session is Session, tsb_extract is extract (the header's own
   functions keep their documented names: tcps_result_name, tcps_end_name,
   ...). Python releases the GIL in the calls
   that read and reassemble (pump, the opens, finish, extract); a file
   object is read through a small C reader that takes the GIL back for
   its read method (the only language-specific C here). */

#if defined(SWIGPYTHON)
%module(package="tcpsession", threads="1",
        docstring="Low-level wrapper of tcpsession.h and its shared layer; use the tcpsession package.") core
#else
%module tcpsession_core
#endif

%{
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tcpsession.h"
#include "tsl.h"
#include "extract.h"
%}

#if defined(SWIGPYTHON)
%nothread;
#endif

/* ------------------------------------------------------------ typemaps */

%include "stdint.i"

/* Integers handed back through pointers: one more result each. */
%define TSB_OUT(TYPE, PYNEW)
%typemap(in, numinputs=0) TYPE *OUT (TYPE tmp) { tmp = 0; $1 = &tmp; }
#if defined(SWIGPYTHON)
%typemap(argout) TYPE *OUT { $result = SWIG_Python_AppendOutput($result, PYNEW(*$1)); }
#else
%typemap(argout) TYPE *OUT { lua_pushinteger(L, (lua_Integer)*$1); SWIG_arg++; }
#endif
%enddef
TSB_OUT(int, PyLong_FromLong)
TSB_OUT(uint64_t, PyLong_FromUnsignedLongLong)
TSB_OUT(int64_t, PyLong_FromLongLong)

/* Lua 5.4 has integers: 64-bit counters stay exact */
#if defined(SWIGLUA)
%typemap(out) uint64_t, int64_t, uint32_t, unsigned, int { lua_pushinteger(L, (lua_Integer)$1); SWIG_arg++; }
#endif

/* Bytes in: a bytes-like object / a Lua string. The memory is the
   caller's for the call only (the functions that keep it say so). */
#if defined(SWIGPYTHON)
%typemap(in) (const void *buf, size_t len) (Py_buffer view) {
    if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) != 0) SWIG_fail;
    $1 = view.buf;
    $2 = (size_t)view.len;
    PyBuffer_Release(&view);
}
%typemap(typecheck) (const void *buf, size_t len) { $1 = PyObject_CheckBuffer($input); }
#else
%typemap(in, checkfn="lua_isstring") (const void *buf, size_t len) {
    $1 = (void *)lua_tolstring(L, $input, &$2);
}
#endif

/* Paths: in Python any str, bytes or os.PathLike the OS takes (names
   that are no UTF-8 included, as os.fsencode gives them). */
#if defined(SWIGPYTHON)
%typemap(in) const char *path (PyObject *enc = NULL) {
    if (!PyUnicode_FSConverter($input, &enc)) SWIG_fail;
    $1 = PyBytes_AS_STRING(enc);
}
%typemap(freearg) const char *path { Py_XDECREF(enc$argnum); }
%apply const char *path { const char *capture, const char *out_dir, const char *rel };
#endif

/* Bytes out: a span (NULL: None / nil), or len bytes of a session's
   direction copied straight into the new bytes / string; owned spans are
   freed after; nomem raises MemoryError / a Lua error. */
%{
typedef struct tsb_bytes {
    const void *ptr;
    size_t len;
    void *owned;             /* freed with free() once converted */
    const tsl_session *from; /* else: the bytes kept of direction dir */
    int dir;
    int nomem;
} tsb_bytes;
%}
typedef struct tsb_bytes tsb_bytes;
#if defined(SWIGPYTHON)
%typemap(out) tsb_bytes {
    if ($1.nomem) {
        free($1.owned);
        PyErr_NoMemory();
        SWIG_fail;
    }
    if ($1.from) {
        $result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)$1.len);
        if ($result) tsl_session_copy($1.from, $1.dir, 0, PyBytes_AS_STRING($result), $1.len);
    } else if (!$1.ptr) $result = SWIG_Py_Void();
    else $result = PyBytes_FromStringAndSize((const char *)$1.ptr, (Py_ssize_t)$1.len);
    free($1.owned);
    if (!$result) SWIG_fail;
}
#else
%typemap(out) tsb_bytes {
    if ($1.nomem) {
        free($1.owned);
        return luaL_error(L, "tcpsession: out of memory");
    }
    if ($1.from) {
        luaL_Buffer b;
        char *w = luaL_buffinitsize(L, &b, $1.len);
        luaL_pushresultsize(&b, tsl_session_copy($1.from, $1.dir, 0, w, $1.len));
    } else if (!$1.ptr) lua_pushnil(L);
    else lua_pushlstring(L, (const char *)$1.ptr, $1.len);
    free($1.owned);
    SWIG_arg++;
}
#endif

/* ... and a span as one more result */
%typemap(in, numinputs=0) tsb_bytes *OUT (tsb_bytes tmp) { memset(&tmp, 0, sizeof tmp); $1 = &tmp; }
#if defined(SWIGPYTHON)
%typemap(argout) tsb_bytes *OUT {
    PyObject *o = $1->ptr ? PyBytes_FromStringAndSize((const char *)$1->ptr, (Py_ssize_t)$1->len) : SWIG_Py_Void();
    if (!o) SWIG_fail;
    $result = SWIG_Python_AppendOutput($result, o);
}
#else
%typemap(argout) tsb_bytes *OUT {
    if ($1->ptr) lua_pushlstring(L, (const char *)$1->ptr, $1->len);
    else lua_pushnil(L);
    SWIG_arg++;
}
#endif

/* Results: >= 0 is returned; < 0 is the error of the run (arg1). */
%{
typedef int tsb_result;
%}
typedef int tsb_result;
#if defined(SWIGPYTHON)
%typemap(out) tsb_result {
    if ($1 < 0) {
        tsb_py_raise(arg1, $1);
        SWIG_fail;
    }
    $result = PyLong_FromLong($1);
}
#else
%typemap(out) tsb_result {
    if ($1 < 0) {
        lua_pushnil(L);
        lua_pushstring(L, tsb_msg(arg1));
        lua_pushstring(L, tcps_result_name($1));
        return 3;
    }
    lua_pushinteger(L, $1);
    SWIG_arg++;
}
#endif

/* ----------------------------------------------------------- the C side */

%{
/* A run: the shared collector, the source it reads (a path, memory, or
   the language's reader), and what it hands out. Sessions are the
   collector's tsl_session records; every object that wraps one holds a
   reference (tsl_session_hold), so a session outlives the run as long as
   an object needs it. */
typedef struct tsb_run {
    tsl_collector *col;
    tcps_allocator mem;  /* the engine's, the sessions' and the readers' (zero: libc) */
    tcps_reader *rd;     /* the source being read; NULL: packets are fed */
    int finish_at_end;   /* a read to the end closes every session (open()) */
    void *src;           /* the language's reader state, freed with src_free */
    void (*src_free)(void *src);
    tcps_error err;      /* the source's error, or the last call's */
    char err_text[320];  /* its message */
    int err_reported;    /* check() gave it */
    tcps_event ev;       /* the current event (next) */
    tsl_session *cur;    /* its session: a reference of the run's */
    unsigned char *frame; /* the last packet fed: it stays until its events are taken */
    size_t frame_cap;
    tsl_session **q;     /* pump: sessions that ended, each a reference */
    size_t qhead, qn, qcap;
    uint64_t qbytes;
    char msg[400];
} tsb_run;

/* A counting allocator: the bytes a run and its sessions hold now, and
   the most they held. One may serve many runs; it must outlive them and
   every session they made (Lua keeps one per state in the module). */
typedef struct tsb_mem {
    size_t bytes, peak;
} tsb_mem;

static void *tsb_mem_alloc(size_t size, void *user) {
    tsb_mem *m = (tsb_mem *)user;
    void *p = malloc(size ? size : 1);
    if (p && (m->bytes += size) > m->peak) m->peak = m->bytes;
    return p;
}

static void *tsb_mem_realloc(void *ptr, size_t old_size, size_t new_size, void *user) {
    tsb_mem *m = (tsb_mem *)user;
    void *p = realloc(ptr, new_size ? new_size : 1);
    if (p && (m->bytes = m->bytes - old_size + new_size) > m->peak) m->peak = m->bytes;
    return p;
}

static void tsb_mem_free(void *ptr, size_t size, void *user) {
    if (!ptr) return;
    ((tsb_mem *)user)->bytes -= size;
    free(ptr);
}

static tcps_allocator tsb_mem_allocator(tsb_mem *m) {
    tcps_allocator a;
    memset(&a, 0, sizeof a);
    if (m) {
        a.alloc = tsb_mem_alloc;
        a.realloc = tsb_mem_realloc;
        a.free = tsb_mem_free;
        a.user = m;
    }
    return a;
}

/* The counters both languages report, by name */
static const struct {
    const char *name;
    size_t at;
} tsb_stats[] = {
#define TSB_STAT(f) {#f, offsetof(tcps_stats, f)}
    TSB_STAT(packets),        TSB_STAT(segments),      TSB_STAT(session_segments), TSB_STAT(sessions),
    TSB_STAT(sessions_live),  TSB_STAT(sessions_peak), TSB_STAT(closed_fin),       TSB_STAT(closed_rst),
    TSB_STAT(closed_timeout), TSB_STAT(closed_eof),    TSB_STAT(closed_evicted),   TSB_STAT(closed_reused),
    TSB_STAT(bytes),          TSB_STAT(missing),       TSB_STAT(gaps),             TSB_STAT(late_segments),
    TSB_STAT(late_bytes),     TSB_STAT(bad_checksum),  TSB_STAT(nomem_segments),   TSB_STAT(buffered_peak),
#undef TSB_STAT
};
#define TSB_NSTATS ((int)(sizeof tsb_stats / sizeof tsb_stats[0]))

/* The name of counter i of Run.stat, or None / nil past the last */
static const char *tsb_stat_name(int i) { return i >= 0 && i < TSB_NSTATS ? tsb_stats[i].name : NULL; }

/* A session wrapped by an object of the language */
#define TSB_WRAPPED ((void *)&tsb_wrapped_mark)
static const char tsb_wrapped_mark = 0;

static void tsb_set_err(tsb_run *r, int code, uint64_t offset, const char *msg) {
    memset(&r->err, 0, sizeof r->err);
    r->err.code = code;
    r->err.offset = offset;
    snprintf(r->err_text, sizeof r->err_text, "%s", msg && *msg ? msg : tcps_result_message(code));
    r->err.message = r->err_text;
    r->err_reported = 0;
}

/* The message of the run's error: "what at byte N" for a capture's fault. */
static const tcps_error *tsb_error(const tsb_run *r) {
    static const tcps_error none = {0, 0, NULL};
    if (r->err.code) return &r->err;
    return r->col ? tsl_collector_error(r->col) : &none;
}

#if defined(SWIGLUA) /* Python's exceptions carry the message and offset apart */
static const char *tsb_msg(tsb_run *r) {
    const tcps_error *e = tsb_error(r);
    const char *m;
    if (!e->code) return tcps_result_message(TCPS_E_NOMEM);
    m = e->message && *e->message ? e->message : tcps_result_message(e->code);
    if (e->code <= -10 && e->code >= -19)
        snprintf(r->msg, sizeof r->msg, "%s at byte %llu", m, (unsigned long long)e->offset);
    else snprintf(r->msg, sizeof r->msg, "%s", m);
    return r->msg;
}
#endif

static void tsb_drop_cur(tsb_run *r) {
    if (r->cur && r->ev.type == TCPS_EV_CLOSE) tsl_session_free(r->cur);
    r->cur = NULL;
    r->ev.type = 0;
}

/* Close the source's reader. The language's state (and an exception its
   read raised) stays until the next source or the run's release. */
static void tsb_close_source(tsb_run *r) {
    if (r->rd) tcps_reader_close(r->rd);
    r->rd = NULL;
}

static void tsb_free_source(tsb_run *r) {
    tsb_close_source(r);
    if (r->src_free) r->src_free(r->src);
    r->src = NULL;
    r->src_free = NULL;
}

static void tsb_run_release(tsb_run *r) {
    tsb_drop_cur(r);
    while (r->qn) {
        tsl_session_free(r->q[r->qhead++]);
        r->qn--;
    }
    r->qhead = 0;
    r->qbytes = 0;
    if (r->col) tsl_collector_free(r->col);
    r->col = NULL;
    tsb_free_source(r);
}

/* The next event of the collector, reading the source when none is left.
   TCPS_OK, TCPS_DONE, or an error (in r->err for the source's). */
static int tsb_take(tsb_run *r, tcps_event *ev, tsl_session **ss) {
    for (;;) {
        int rc = tsl_collector_next(r->col, ev, ss), got;
        tcps_packet pkt;
        if (rc != TCPS_DONE || !r->rd) return rc;
        got = tcps_reader_next(r->rd, &pkt);
        if (got == TCPS_OK) {
            if ((rc = tsl_collector_feed_packet(r->col, &pkt)) < 0) return rc;
            continue;
        }
        if (got < 0) {
            const tcps_error *e = tcps_reader_error(r->rd);
            tsb_set_err(r, got, e->offset, e->message);
        }
        tsb_close_source(r);
        if (r->finish_at_end && (rc = tsl_collector_finish(r->col)) < 0) return rc;
    }
}

static int tsb_attach(tsb_run *r, tcps_reader *rd, int finish_at_end) {
    r->rd = rd;
    /* (the caller freed the previous source's state with tsb_check_idle) */
    r->finish_at_end = finish_at_end;
    memset(&r->err, 0, sizeof r->err);
    return TCPS_OK;
}

static int tsb_check_idle(tsb_run *r) {
    if (!r->col) {
        tsb_set_err(r, TCPS_E_ARG, 0, "the run is closed");
        return TCPS_E_ARG;
    }
    if (r->rd || r->ev.type || r->qn) {
        tsb_set_err(r, TCPS_E_ARG, 0, "the run has events not taken yet");
        return TCPS_E_ARG;
    }
    tsb_free_source(r);
    return TCPS_OK;
}
%}

#if defined(SWIGPYTHON)
%{
/* Python: raise the run's error (the stored exception of a file object's
   read method first) as tcpsession._raise does for (code, offset,
   message, name). */
typedef struct tsb_pyfile {
    PyObject *obj;
    PyObject *et, *ev, *etb; /* what its read method raised */
} tsb_pyfile;

static void tsb_py_raise(tsb_run *r, int rc) {
    PyObject *mod, *res;
    const tcps_error *e;
    if (r && r->src && r->src_free) {
        tsb_pyfile *pf = (tsb_pyfile *)r->src;
        if (pf->et) {
            PyErr_Restore(pf->et, pf->ev, pf->etb);
            pf->et = pf->ev = pf->etb = NULL;
            return;
        }
    }
    if (rc == TCPS_E_NOMEM) {
        PyErr_NoMemory();
        return;
    }
    e = r ? tsb_error(r) : NULL;
    if (!(mod = PyImport_ImportModule("tcpsession"))) return;
    res = PyObject_CallMethod(mod, "_raise", "((iKss))", rc, e && e->code == rc ? (unsigned long long)e->offset : 0ULL,
                              e && e->code == rc && e->message && *e->message ? e->message : tcps_result_message(rc),
                              tcps_result_name(rc));
    Py_XDECREF(res);
    Py_DECREF(mod);
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, tcps_result_message(rc));
}

static void tsb_pyfile_free(void *p) {
    tsb_pyfile *pf = (tsb_pyfile *)p;
    PyGILState_STATE g = PyGILState_Ensure();
    Py_XDECREF(pf->obj);
    Py_XDECREF(pf->et);
    Py_XDECREF(pf->ev);
    Py_XDECREF(pf->etb);
    PyGILState_Release(g);
    free(pf);
}

/* The reader's read: obj.readinto(view) (or obj.read(n)), with the GIL. */
static ptrdiff_t tsb_pyfile_read(void *user, void *buf, size_t len) {
    tsb_pyfile *pf = (tsb_pyfile *)user;
    PyGILState_STATE g = PyGILState_Ensure();
    ptrdiff_t got = -1;
    PyObject *res;
    if (len > (1u << 24)) len = 1u << 24;
    if (PyObject_HasAttrString(pf->obj, "readinto")) {
        PyObject *mv = PyMemoryView_FromMemory((char *)buf, (Py_ssize_t)len, PyBUF_WRITE);
        res = mv ? PyObject_CallMethod(pf->obj, "readinto", "O", mv) : NULL;
        if (mv) { /* no view of the reader's memory may outlive the call */
            PyObject *et, *ev, *etb, *rel;
            PyErr_Fetch(&et, &ev, &etb);
            rel = PyObject_CallMethod(mv, "release", NULL);
            if (!rel) PyErr_Clear();
            Py_XDECREF(rel);
            Py_DECREF(mv);
            PyErr_Restore(et, ev, etb);
        }
        if (res) {
            if (res == Py_None) got = 0; /* a non-blocking source with nothing now: the end */
            else {
                Py_ssize_t n = PyLong_AsSsize_t(res);
                if (n < 0 || (size_t)n > len) {
                    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "readinto returned a bad count");
                } else got = n;
            }
        }
    } else if ((res = PyObject_CallMethod(pf->obj, "read", "n", (Py_ssize_t)len)) != NULL) {
        Py_buffer v;
        if (PyObject_GetBuffer(res, &v, PyBUF_SIMPLE) == 0) {
            if ((size_t)v.len <= len) {
                memcpy(buf, v.buf, (size_t)v.len);
                got = v.len;
            } else PyErr_SetString(PyExc_ValueError, "read returned more than asked");
            PyBuffer_Release(&v);
        }
    }
    Py_XDECREF(res);
    if (got < 0) {
        if (!pf->et) PyErr_Fetch(&pf->et, &pf->ev, &pf->etb);
        else PyErr_Clear();
    }
    PyGILState_Release(g);
    return got;
}
%}
#endif

%{
/* The methods that hand back several values (declared in %extend below;
   each pointer is one more result of the call). */

static tsb_result tsb_run_next(struct tsb_run *self, unsigned mask, uint64_t *stream, int *dir, uint64_t *offset,
                               uint64_t *length, int64_t *sec, int *nsec, uint64_t *frame, int *reason,
                               tsb_bytes *data) {
    tcps_event *ev = &self->ev;
    tsl_session *ss;
    int rc;
    if (!self->col) return 0;
    tsb_drop_cur(self);
    for (;;) {
        if ((rc = tsb_take(self, ev, &ss)) != TCPS_OK) {
            ev->type = 0;
            return rc == TCPS_DONE ? 0 : rc;
        }
        if ((mask >> ev->type) & 1) break;
        if (ev->type == TCPS_EV_CLOSE) {
            if (ss->user) break;
            tsl_session_free(ss);
        }
    }
    self->cur = ss;
    *stream = ss->stream;
    *dir = ev->dir & 1;
    *offset = ev->offset;
    *length = ev->type == TCPS_EV_DATA ? (uint64_t)ev->data.len : ev->length;
    *sec = ev->ts.sec;
    *nsec = (int)ev->ts.nsec;
    *frame = ev->frame;
    *reason = ev->reason;
    if (ev->type == TCPS_EV_DATA) {
        data->ptr = ev->data.len ? ev->data.ptr : (const void *)"";
        data->len = ev->data.len;
    }
    return ev->type;
}

static void tsl_session_chunk(tsl_session *self, size_t i, int *dir, uint64_t *offset, uint64_t *length,
                              int64_t *sec, int *nsec, uint64_t *frame, uint64_t *data_frame, uint64_t *pos) {
    const tsl_chunk *c;
    if (i >= self->nchunks) return;
    c = &self->chunks[i];
    *dir = c->dir, *offset = c->offset, *length = c->length, *sec = c->ts.sec, *nsec = (int)c->ts.nsec;
    *frame = c->frame, *data_frame = c->data_frame, *pos = c->pos;
}

static void tsl_session_gap(tsl_session *self, size_t i, int *dir, uint64_t *offset, uint64_t *length,
                            int *reason, int64_t *sec, int *nsec, uint64_t *frame) {
    const tsl_gap *g;
    if (i >= self->ngaps) return;
    g = &self->gaps[i];
    *dir = g->dir, *offset = g->offset, *length = g->length, *reason = g->reason, *sec = g->ts.sec;
    *nsec = (int)g->ts.nsec, *frame = g->frame;
}

static void tsl_session_info(tsl_session *self, int *closed, uint64_t *stream, int *first_dir, int *end,
                             int *handshake, int64_t *first_sec, int *first_nsec, int64_t *last_sec,
                             int *last_nsec, uint64_t *first_frame, uint64_t *last_frame, uint64_t *packets,
                             int *vlan_count) {
    const tcps_session *t = self->s;
    *closed = self->closed, *stream = t->stream, *first_dir = t->first_dir, *end = t->end;
    *handshake = t->handshake, *first_sec = t->first_ts.sec, *first_nsec = (int)t->first_ts.nsec;
    *last_sec = t->last_ts.sec, *last_nsec = (int)t->last_ts.nsec, *first_frame = t->first_frame;
    *last_frame = t->last_frame, *packets = t->packets;
    *vlan_count = t->vlan_count < TCPS_MAX_VLAN ? t->vlan_count : TCPS_MAX_VLAN;
}

static void tsl_session_dir_stats(tsl_session *self, int d, uint64_t *bytes, uint64_t *missing, uint64_t *gaps,
                                  uint64_t *packets, uint64_t *payload_packets, uint64_t *dup_bytes,
                                  uint64_t *ooo_segments, uint64_t *conflicts, uint64_t *isn, int *anomalies,
                                  int *syn_options, int *options, int *mss, int *wscale, int *syn, int *fin,
                                  int *rst) {
    const tcps_dir_stats *x = &self->s->dir[d & 1];
    *bytes = x->bytes, *missing = x->missing, *gaps = x->gaps, *packets = x->packets;
    *payload_packets = x->payload_packets, *dup_bytes = x->dup_bytes, *ooo_segments = x->ooo_segments;
    *conflicts = x->conflicts, *isn = x->isn, *anomalies = (int)x->anomalies, *syn_options = x->syn_options;
    *options = x->options, *mss = x->mss, *wscale = x->wscale == 0xff ? -1 : x->wscale;
    *syn = x->syn_seen, *fin = x->fin_seen, *rst = x->rst_seen;
}

static char *tsl_session_endpoint(tsl_session *self, int which, int *port, int *ip_version) {
    const tcps_endpoint *e = which ? &self->server : &self->client;
    char *buf = (char *)malloc(TSL_ENDPOINT_MAX);
    if (buf) tsl_addr_text(e, buf, TSL_ENDPOINT_MAX);
    *port = e->port;
    *ip_version = e->ip_version;
    return buf;
}
%}

#if defined(SWIGLUA)
%{
/* protect(f, ...): f(...) under lua_pcall, without a continuation: a
   callback that yields gets an error (the layer's loop holds a run in the
   middle of its events, and a coroutine suspended there could be dropped
   with it). Returns true, f's results; or false, the error value. */
static int tsb_lua_protect(lua_State *L) {
    int rc;
    luaL_checkany(L, 1);
    rc = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    lua_pushboolean(L, rc == LUA_OK);
    lua_insert(L, 1);
    return lua_gettop(L);
}
%}
%native(protect) int tsb_lua_protect(lua_State *L);
#endif

/* ------------------------------------------------------------- Run */

%rename(Memory) tsb_mem;
%nodefaultctor tsb_mem;
typedef struct tsb_mem {} tsb_mem;
%extend tsb_mem {
    tsb_mem() { return (tsb_mem *)calloc(1, sizeof(tsb_mem)); }
    ~tsb_mem() { free($self); }
    uint64_t bytes() { return $self->bytes; }
    uint64_t peak() { return $self->peak; }
}

%rename(Run) tsb_run;
%rename("%(strip:[tsb_])s") "";
%nodefaultctor tsb_run;
typedef struct tsb_run {} tsb_run;

#if defined(SWIGPYTHON)
%thread tsb_run::open_path;
%thread tsb_run::pump;
%thread tsb_run::finish;
%thread tsb_extract;
#endif
%newobject tsb_run::pop;
%newobject tsb_run::session;

%extend tsb_run {
    /* keep: TSL_HASH | TSL_KEEP_*; flags: TCPS_F_*; overlap: TCPS_OVERLAP_*;
       0 for the engine's defaults of the two limits. */
    tsb_run(unsigned keep, unsigned flags = 0, int overlap = 0, uint32_t idle_timeout_ms = 0,
            uint32_t max_sessions = 0, tsb_mem *mem = NULL) {
        tsb_run *r = (tsb_run *)calloc(1, sizeof *r);
        tcps_config cfg;
        if (!r) return NULL;
        memset(&cfg, 0, sizeof cfg);
        cfg.allocator = r->mem = tsb_mem_allocator(mem);
        cfg.flags = flags;
        cfg.overlap = overlap;
        cfg.idle_timeout_ms = idle_timeout_ms;
        cfg.max_sessions = max_sessions;
        if (tsl_collector_new(&r->col, &cfg, keep) != TCPS_OK) {
            free(r);
            return NULL;
        }
        return r;
    }
    ~tsb_run() {
        tsb_run_release($self);
        free($self->q);
        free($self->frame);
        free($self);
    }

    /* Read a capture file ("-": stdin) with read(2) (a mapping would count
       the whole file in the process's memory). finish: its end closes
       every session. */
    tsb_result open_path(const char *path, int finish = 1) {
        tcps_reader *rd;
        int rc = tsb_check_idle($self);
        if (rc != TCPS_OK) return rc;
        tcps_reader_config rc_;
        memset(&rc_, 0, sizeof rc_);
        rc_.allocator = $self->mem;
        errno = 0;
        if ((rc = tcps_reader_open_path(&rd, path, &rc_)) != TCPS_OK) {
            tsb_set_err($self, rc, 0, rc == TCPS_E_IO && errno ? strerror(errno) : NULL);
            return rc;
        }
        return tsb_attach($self, rd, finish);
    }
    /* Read a capture in memory; the caller keeps it unchanged until it is read. */
    tsb_result open_memory(const void *buf, size_t len, int finish = 1) {
        tcps_reader *rd;
        int rc = tsb_check_idle($self);
        if (rc != TCPS_OK) return rc;
        tcps_reader_config rc_;
        memset(&rc_, 0, sizeof rc_);
        rc_.allocator = $self->mem;
        if ((rc = tcps_reader_open_memory(&rd, buf, len, &rc_)) != TCPS_OK) {
            tsb_set_err($self, rc, 0, NULL);
            return rc;
        }
        return tsb_attach($self, rd, finish);
    }
#if defined(SWIGPYTHON)
    /* Read a binary file object (readinto or read), with the GIL taken back for it. */
    tsb_result open_file(PyObject *obj, int finish = 1) {
        tcps_reader *rd;
        tsb_pyfile *pf;
        int rc = tsb_check_idle($self);
        if (rc != TCPS_OK) return rc;
        if (!(pf = (tsb_pyfile *)calloc(1, sizeof *pf))) return TCPS_E_NOMEM;
        if ((rc = tcps_reader_open_callback(&rd, tsb_pyfile_read, pf, NULL)) != TCPS_OK) {
            free(pf);
            tsb_set_err($self, rc, 0, NULL);
            return rc;
        }
        Py_INCREF(obj);
        pf->obj = obj;
        $self->src = pf;
        $self->src_free = tsb_pyfile_free;
        return tsb_attach($self, rd, finish);
    }
#endif
    /* Feed one packet of the link type (its bytes are copied). */
    tsb_result feed_frame(uint32_t linktype, int64_t sec, uint32_t nsec, const void *buf, size_t len) {
        tcps_time ts;
        int rc = tsb_check_idle($self);
        if (rc != TCPS_OK) return rc;
        if (len > $self->frame_cap) {
            unsigned char *p = (unsigned char *)realloc($self->frame, len);
            if (!p) return TCPS_E_NOMEM;
            $self->frame = p;
            $self->frame_cap = len;
        }
        if (len) memcpy($self->frame, buf, len);
        ts.sec = sec;
        ts.nsec = nsec;
        memset(&$self->err, 0, sizeof $self->err);
        rc = tsl_collector_feed_frame($self->col, linktype, ts, $self->frame, len, len);
        return rc < 0 ? rc : 0;
    }
    /* End of input: every open session closes (take the events after). */
    tsb_result finish() {
        int rc = tsb_check_idle($self);
        if (rc != TCPS_OK) return rc;
        rc = tsl_collector_finish($self->col);
        return rc < 0 ? rc : 0;
    }
    /* Read the source's first packet now, so that a file that is no
       capture fails here rather than in the first pump or next. */
    tsb_result prime() {
        tcps_packet pkt;
        int got, rc;
        if (!$self->rd) return 0;
        got = tcps_reader_next($self->rd, &pkt);
        if (got == TCPS_OK) return (rc = tsl_collector_feed_packet($self->col, &pkt)) < 0 ? rc : 0;
        if (got < 0) {
            const tcps_error *e = tcps_reader_error($self->rd);
            tsb_set_err($self, got, e->offset, e->message);
            tsb_close_source($self);
            return got;
        }
        return 0;
    }
    /* 0, or the error the source ended with (raised / nil, message, code). */
    tsb_result check() {
        int rc = $self->err_reported ? 0 : $self->err.code;
        $self->err_reported = 1; /* reported once */
        return rc < 0 ? rc : 0;
    }
    /* Free the collector and every session no object holds. */
    void close() { tsb_run_release($self); }
    int closed() { return $self->col == NULL; }

    /* Take events without handing them out: with max_sessions > 0, the
       sessions that end are queued for pop, until max_sessions or max_bytes
       of their kept bytes are queued and max_events more events were taken
       (so none waits long); with 0, they are dropped (and sessions that an
       object holds are left to it), for max_events events. 1: stopped at a
       limit; 0: nothing more to take (see error_code). */
    tsb_result pump(uint64_t max_events, uint64_t max_sessions = 0, uint64_t max_bytes = 0) {
        tcps_event ev;
        tsl_session *ss;
        uint64_t n = 0;
        int rc;
        if (!$self->col) return 0;
        tsb_drop_cur($self);
        for (;;) {
            if (max_sessions) {
                if ($self->qn && ($self->qn >= max_sessions || (max_bytes && $self->qbytes >= max_bytes) ||
                                  ++n > max_events))
                    return 1;
            } else if (++n > max_events) return 1;
            if ((rc = tsb_take($self, &ev, &ss)) != TCPS_OK) return rc == TCPS_DONE ? 0 : rc;
            if (ev.type != TCPS_EV_CLOSE) continue;
            if (!max_sessions) {
                tsl_session_free(ss);
                continue;
            }
            if ($self->qhead + $self->qn == $self->qcap) {
                if ($self->qhead) {
                    memmove($self->q, $self->q + $self->qhead, $self->qn * sizeof *$self->q);
                    $self->qhead = 0;
                } else {
                    size_t nc = $self->qcap ? $self->qcap * 2 : 64;
                    tsl_session **nq = (tsl_session **)realloc($self->q, nc * sizeof *nq);
                    if (!nq) {
                        tsl_session_free(ss);
                        return TCPS_E_NOMEM;
                    }
                    $self->q = nq;
                    $self->qcap = nc;
                }
            }
            $self->q[$self->qhead + $self->qn++] = ss;
            $self->qbytes += ss->kept[0] + ss->kept[1];
        }
    }
    /* The next session pump queued (the object owns it), or None / nil. */
    tsl_session *pop() {
        tsl_session *ss;
        if (!$self->qn) return NULL;
        ss = $self->q[$self->qhead++];
        $self->qn--;
        $self->qbytes -= ss->kept[0] + ss->kept[1];
        if (!$self->qn) $self->qhead = 0;
        return ss;
    }

    /* The next event whose type bit (1 << TCPS_EV_*) is in mask, or the
       close of a session an object holds; the others are taken and
       dropped. Returns its type and stream, direction, offset, length (a
       data event's bytes, a gap's), time (sec, nsec), frame, reason
       (a gap's or close's), and a data event's bytes (else None / nil);
       0 when nothing is left to take. */
    tsb_result next(unsigned mask, uint64_t *OUT, int *OUT, uint64_t *OUT, uint64_t *OUT, int64_t *OUT,
                    int *OUT, uint64_t *OUT, int *OUT, tsb_bytes *OUT);
    /* The current event's session as an object of its own; its close
       event will be handed out whatever the mask. */
    tsl_session *session() {
        if (!$self->cur) return NULL;
        tsl_session_hold($self->cur);
        $self->cur->user = TSB_WRAPPED;
        return $self->cur;
    }

    /* The context's counter i, by the names of stat_name (0 once closed). */
    uint64_t stat(int i) {
        if (!$self->col || i < 0 || i >= TSB_NSTATS) return 0;
        return *(const uint64_t *)((const char *)tsl_collector_stats($self->col) + tsb_stats[i].at);
    }
}

/* ------------------------------------------------------------ Session */

%rename(Session) tsl_session;
%newobject tsl_session::endpoint;
%newobject tsl_session::endpoint_text;
%nodefaultctor tsl_session;
%immutable;
typedef struct tsl_session {
    const tcps_session *s;
    uint64_t stream;
    tcps_endpoint client, server;
    int first_dir;
    int end;
    int closed;
    unsigned keep;
} tsl_session;
%mutable;

%extend tsl_session {
    ~tsl_session() { tsl_session_free($self); }
    /* The bytes kept of one direction (None / nil: not kept). */
    tsb_bytes data(int dir) {
        tsb_bytes b;
        memset(&b, 0, sizeof b);
        if (!($self->keep & TSL_KEEP_DATA)) return b;
        b.from = $self;
        b.dir = dir & 1;
        b.len = (size_t)$self->kept[dir & 1];
        return b;
    }
    size_t nchunks() { return $self->keep & TSL_KEEP_CHUNKS ? $self->nchunks : 0; }
    size_t ngaps() { return $self->keep & TSL_KEEP_GAPS ? $self->ngaps : 0; }
    /* chunk i: direction, offset, length, sec, nsec, frame, data_frame, position */
    void chunk(size_t i, int *OUT, uint64_t *OUT, uint64_t *OUT, int64_t *OUT, int *OUT, uint64_t *OUT,
               uint64_t *OUT, uint64_t *OUT);
    /* gap i: direction, offset, length, reason, sec, nsec, frame */
    void gap(size_t i, int *OUT, uint64_t *OUT, uint64_t *OUT, int *OUT, int64_t *OUT, int *OUT, uint64_t *OUT);
    /* The hex SHA-256 computed while reading (None / nil: not asked for, or still open). */
    const char *sha256(int dir) {
        return ($self->keep & TSL_HASH) && $self->closed ? $self->dir[dir & 1].sha256 : NULL;
    }
    /* The hex SHA-256 of the bytes kept of one direction (None / nil: not kept). */
    tsb_bytes data_sha256(int dir) {
        tsb_bytes out;
        tsl_hash *h;
        const tsl_block *b;
        memset(&out, 0, sizeof out);
        if (!($self->keep & TSL_KEEP_DATA)) return out;
        if (!(h = tsl_hash_new(TSL_SHA256)) || !(out.owned = malloc(TSL_HEX_MAX))) {
            tsl_hash_free(h);
            out.nomem = 1;
            return out;
        }
        for (b = $self->data[dir & 1]; b; b = b->next) tsl_hash_update(h, b->d, b->len);
        tsl_hash_hex(h, (char *)out.owned);
        tsl_hash_free(h);
        out.ptr = out.owned;
        out.len = TSL_HEX_MAX - 1;
        return out;
    }
    /* The bytes an object of this session holds in C (for a garbage collector's pace). */
    uint64_t footprint() {
        return sizeof *$self + $self->kept[0] + $self->kept[1] + $self->nchunks * sizeof(tsl_chunk) +
               $self->ngaps * sizeof(tsl_gap);
    }
    /* Drop what (TSL_KEEP_* bits) is kept now; the numbers stay. */
    void release(unsigned what); /* tsl_session_release */
    /* The `tcpsession list --json` line (no newline) by the shared writer;
       has_capture 0: "capture":null; c2s_hex/s2c_hex: hashes the caller
       computed ("" for the collector's). */
    tsb_bytes json(int has_capture, const void *buf, size_t len, const char *c2s_hex, const char *s2c_hex) {
        tsb_bytes b;
        tsl_row row;
        char *name = NULL, *out = NULL;
        size_t n = 0;
        FILE *f;
        memset(&b, 0, sizeof b);
        b.nomem = 1; /* until it is written */
        if (has_capture) {
            if (!(name = (char *)malloc(len + 1))) return b;
            memcpy(name, buf, len);
            name[len] = 0;
        }
        tsl_session_row($self, &row);
        if (*c2s_hex || !($self->keep & TSL_HASH)) snprintf(row.sha256[0], sizeof row.sha256[0], "%s", c2s_hex);
        if (*s2c_hex || !($self->keep & TSL_HASH)) snprintf(row.sha256[1], sizeof row.sha256[1], "%s", s2c_hex);
        row.end = $self->s->end;
        if ((f = open_memstream(&out, &n)) != NULL) {
            putc('{', f);
            tsl_row_members(f, &row, name);
            fputs(name ? "}" : ",\"capture\":null}", f);
            if (fclose(f) == 0) {
                b.ptr = b.owned = out;
                b.len = n;
                b.nomem = 0;
            } else free(out);
        }
        free(name);
        return b;
    }
}

%extend tsl_session {
    /* closed, stream, first_dir, end, handshake, first (sec, nsec), last
       (sec, nsec), first_frame, last_frame, packets, vlan_count */
    void info(int *OUT, uint64_t *OUT, int *OUT, int *OUT, int *OUT, int64_t *OUT, int *OUT, int64_t *OUT,
              int *OUT, uint64_t *OUT, uint64_t *OUT, uint64_t *OUT, int *OUT);
    /* VLAN id i of the first packet (outer first), -1 beyond them */
    int vlan(int i) {
        const tcps_session *t = $self->s;
        return i >= 0 && i < t->vlan_count && i < TCPS_MAX_VLAN ? t->vlan[i] : -1;
    }
    /* The client's (0) or server's (1) address text, and port, IP version */
    char *endpoint(int which, int *OUT, int *OUT);
    /* "192.0.2.1:80", "[2001:db8::1]:443" */
    char *endpoint_text(int which) {
        char *buf = (char *)malloc(TSL_ENDPOINT_MAX);
        if (buf) tsl_endpoint_text(which ? &$self->server : &$self->client, buf, TSL_ENDPOINT_MAX);
        return buf;
    }
    /* One direction's counters (tcps_dir_stats): bytes missing gaps packets
       payload_packets dup_bytes ooo_segments conflicts isn anomalies
       syn_options options mss wscale (-1: none) syn fin rst */
    void dir_stats(int d, uint64_t *OUT, uint64_t *OUT, uint64_t *OUT, uint64_t *OUT, uint64_t *OUT,
                   uint64_t *OUT, uint64_t *OUT, uint64_t *OUT, uint64_t *OUT, int *OUT, int *OUT, int *OUT,
                   int *OUT, int *OUT, int *OUT, int *OUT, int *OUT);
}
/* ---------------------------------------------------------- extract */

%{
typedef struct tsb_extract_result {
    int code;          /* 0, or the command's exit status: 2 argument, 3 capture, 4 output, 5 memory */
    char message[720];
} tsb_extract_result;

/* The sessions of one capture to files under out_dir/rel, by the writer
   `tcpsession extract` uses. outputs: the --outputs list ("" for all);
   stream < 0: every session; endpoints: "IP:PORT,IP:PORT" or "". */
static tsb_extract_result tsb_extract(const char *capture, const char *out_dir, const char *rel, const char *outputs,
                                      int tcpflow_names, long long stream, const char *endpoints) {
    tsb_extract_result out;
    tsl_extract_options o;
    tsl_extract_result *res;
    tsl_capture cap;
    char openerr[300];
    int outfd, opened;
    memset(&out, 0, sizeof out);
    if (!(res = (tsl_extract_result *)calloc(1, sizeof *res))) {
        out.code = 5;
        snprintf(out.message, sizeof out.message, "out of memory");
        return out;
    }
    memset(&o, 0, sizeof o);
    o.tcpflow_names = tcpflow_names;
    o.outdir_name = out_dir;
    if (*outputs && tsl_extract_outputs_parse(outputs, &o.outputs)) {
        out.code = 2;
        snprintf(out.message, sizeof out.message, "outputs: a list of json,data,transcript,hex,js,index");
    } else if (*endpoints && tsl_endpoint_pair_parse(endpoints, strlen(endpoints), o.endpoints)) {
        out.code = 2;
        snprintf(out.message, sizeof out.message, "endpoints: IP:PORT,IP:PORT");
    } else if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        out.code = 4;
        snprintf(out.message, sizeof out.message, "%s: cannot create: %s", out_dir, strerror(errno));
    } else if ((outfd = open(out_dir, O_RDONLY | O_DIRECTORY)) < 0) {
        out.code = 4;
        snprintf(out.message, sizeof out.message, "%s: %s", out_dir, strerror(errno));
    } else {
        if (stream >= 0) o.have_stream = 1, o.stream = (uint64_t)stream;
        o.have_endpoints = *endpoints != 0;
        opened = tsl_capture_open(&cap, capture, openerr, sizeof openerr) == TCPS_OK;
        out.code = tsl_extract(opened ? cap.rd : NULL, capture, openerr, outfd, rel, &o, res);
        if (opened) tsl_capture_close(&cap);
        close(outfd);
        snprintf(out.message, sizeof out.message, "%s", res->error);
    }
    free(res);
    return out;
}
%}
%immutable;
typedef struct tsb_extract_result {
    int code;
    char message[720];
} tsb_extract_result;
%mutable;
const char *tsb_stat_name(int i);
tsb_extract_result tsb_extract(const char *capture, const char *out_dir, const char *rel, const char *outputs,
                               int tcpflow_names, long long stream, const char *endpoints);

/* ------------------------------------------------- the header's names */

/* The header's constants, result names and messages, the names of end
   and gap reasons, anomaly and option bits (tcps_end_name ...), the
   version; the rest of its C API is reached through Run (the counters
   by name: Run.stat and stat_name). Its function names keep their prefix: they are the
   documented C names. */
%ignore tcps_stats;
%ignore tcps_reader_open_file;
%ignore tcps_reader_open_callback;
%ignore tcps_reader_open_memory;
%ignore tcps_read_fn;
%ignore tcps_allocator;
%ignore tcps_event_fn;
%ignore tcps_callbacks;
%ignore tcps_config;
%ignore tcps_reader_config;
%ignore tcps_decoder_config;
%ignore tcps_decode_stats;
%ignore tcps_decode_stats::linktypes;
%ignore tcps_decode_stats_linktypes;
%ignore tcps_segment;
%ignore tcps_tcp_options;
%ignore tcps_packet;
%ignore tcps_event;
%ignore tcps_session;
%ignore tcps_dir_stats;
%ignore tcps_endpoint;
%ignore tcps_span;
%ignore tcps_time;
%ignore tcps_error;
%ignore tcps_create;
%ignore tcps_destroy;
%ignore tcps_feed_segment;
%ignore tcps_feed_packet;
%ignore tcps_feed_frame;
%ignore tcps_finish;
%ignore tcps_run;
%ignore tcps_next;
%ignore tcps_ctx_stats;
%ignore tcps_ctx_error;
%ignore tcps_config_effective;
%ignore tcps_reader_open_path;
%ignore tcps_reader_next;
%ignore tcps_reader_close;
%ignore tcps_reader_error;
%ignore tcps_reader_format;
%ignore tcps_reader_offset;
%ignore tcps_reader_config_effective;
%ignore tcps_decoder_create;
%ignore tcps_decoder_destroy;
%ignore tcps_decode;
%ignore tcps_decoder_stats;
%ignore tcps_decoder_config_effective;
%ignore tcps_addr_to_string;
%ignore tcps_time_cmp;
%ignore TCPS__MAYBE_UNUSED;
%include "tcpsession.h"

/* The shared layer's flags of what a Run keeps */
#define TSL_HASH 0x1
#define TSL_KEEP_DATA 0x2
#define TSL_KEEP_CHUNKS 0x4
#define TSL_KEEP_GAPS 0x8
#define TSL_HASH_THREAD 0x10
