/* engine.i - the C half of the Python binding: the loops that read and reassemble a
   capture, and the per-session records the Python objects wrap.

   Included by the SWIG interface (tcpsession.i). Every function that
   SWIG exposes takes and returns PyObject* (SWIG passes them through), so
   reference counts and exceptions are handled here.

   Sessions are the shared layer's (lib/tsl.h): its collector reads and
   reassembles, keeps each session's bytes, chunks, gaps and digests, and
   hands out the events one at a time; this file turns them into Python
   objects and calls.

   Threading: the loops run with the GIL released. A callable is called
   with the GIL taken back for its duration, and so is the read method of
   a file object (PyGILState_Ensure).

   Errors: a Python exception raised inside a callable is stored with its
   traceback, no further event is taken (the rest stay queued in the
   collector and go to the callables at the start of the next feeding
   call), and the feeding function restores the exception and returns
   NULL: the caller sees the original exception. Capture errors come back
   as (code, offset, message) tuples and the Python layer turns them into
   tcpsession.Error subclasses. */
%{
#include <stddef.h>
#include <string.h>
#include "tcpsession.h"
#include "tsl.h"     /* the shared layer: the collector, digests, the list row */
#include "extract.h" /* and the extract writer */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* What the Python layer asks to keep (its _PX_* values) */
#define PX_DATA 0x1   /* each direction's delivered bytes */
#define PX_CHUNKS 0x2 /* the list of chunks and gaps */
#define PX_SHA 0x4    /* sha256 of each direction, in C */

static unsigned px_keep(unsigned opts) {
    return ((opts & PX_DATA) ? TSL_KEEP_DATA : 0) | ((opts & PX_CHUNKS) ? TSL_KEEP_CHUNKS | TSL_KEEP_GAPS : 0) |
           ((opts & PX_SHA) ? TSL_HASH : 0);
}

/* A run: the shared layer's collector, and what Python gave it. The
   sessions are the collector's tsl_session records; a Python object wraps
   one in a capsule that frees it (tsl_session_free) once the collector has
   handed it over. */
typedef struct px_run {
    tsl_collector *col;
    tcps_reader *rd;
    PyObject *on_open, *on_data, *on_gap, *on_close, *factory;
    PyObject *open_objs; /* Reassembler: stream -> Session object of open sessions (held) */
    PyObject *exc_type, *exc_val, *exc_tb; /* stored exception of a callback */
    PyObject *src;      /* the file object being read */
    Py_buffer view;     /* the memory being read */
    int have_view;
    Py_buffer frame;    /* feed_packets: the packet whose events are not all taken */
    int have_frame;
    int done;           /* iterator: the capture was read to its end (or to an error) */
    int busy;           /* a call is feeding it (GIL released, or in a callback) */
    tsl_session **q;    /* iterator: sessions that ended, not yet handed out */
    size_t qn, qcap, qbytes;
} px_run;

static const char PX_CAPSULE[] = "tcpsession.session";

static void px_capsule_free(PyObject *cap) {
    tsl_session_free((tsl_session *)PyCapsule_GetPointer(cap, PX_CAPSULE));
}

static tsl_session *px_sess_of(PyObject *cap) {
    tsl_session *s = (tsl_session *)PyCapsule_GetPointer(cap, PX_CAPSULE);
    if (!s && !PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "session already released");
    return s;
}

static double px_ts(tcps_time t) { return (double)t.sec + (double)t.nsec * 1e-9; }

/* Keep the first exception a callback raised (the GIL is held). */
static void px_store_exc(px_run *r) {
    if (!r->exc_type) PyErr_Fetch(&r->exc_type, &r->exc_val, &r->exc_tb);
    else PyErr_Clear();
}

/* ------------------------------------------------------------ callbacks */

/* The Session object of an open session, made on first need and held by
   the run until the session closes (GIL held). */
static PyObject *px_pyobj(px_run *r, tsl_session *ss) {
    PyObject *cap, *o, *key;
    if (ss->user) return (PyObject *)ss->user;
    cap = PyCapsule_New(ss, PX_CAPSULE, px_capsule_free);
    if (!cap) return NULL;
    o = PyObject_CallFunctionObjArgs(r->factory, cap, NULL);
    if (!o) {
        /* the capsule must not free the session the collector holds */
        PyCapsule_SetDestructor(cap, NULL);
        Py_DECREF(cap);
        return NULL;
    }
    Py_DECREF(cap);
    key = PyLong_FromUnsignedLongLong(ss->stream);
    if (!key || PyDict_SetItem(r->open_objs, key, o) != 0) {
        Py_XDECREF(key);
        PyCapsule_SetDestructor(cap, NULL);
        Py_DECREF(o);
        return NULL;
    }
    Py_DECREF(key);
    Py_DECREF(o); /* the dict's reference is the run's */
    ss->held = 1;
    ss->user = o;
    return o;
}

/* A closed session leaves the run: its object (if any) owns it now. */
static void px_let_go(px_run *r, tsl_session *ss) {
    if (ss->user) {
        PyObject *key = PyLong_FromUnsignedLongLong(ss->stream);
        ss->user = NULL;
        if (!key || PyDict_DelItem(r->open_objs, key) != 0) PyErr_Clear();
        Py_XDECREF(key); /* the object, and with it ss, may be gone now */
    } else tsl_session_free(ss);
}

/* One event to the Reassembler's callables (GIL held). 0, or -1 when a
   callable raised (the exception is stored). */
static int px_dispatch(px_run *r, const tcps_event *ev, tsl_session *ss) {
    PyObject *fn = NULL, *o, *res = NULL;
    switch (ev->type) {
    case TCPS_EV_OPEN: fn = r->on_open; break;
    case TCPS_EV_DATA: fn = r->on_data; break;
    case TCPS_EV_GAP: fn = r->on_gap; break;
    case TCPS_EV_CLOSE: fn = r->on_close; break;
    default: break;
    }
    if (!fn) {
        if (ev->type == TCPS_EV_CLOSE) px_let_go(r, ss);
        return 0;
    }
    o = px_pyobj(r, ss);
    if (o) switch (ev->type) {
        case TCPS_EV_DATA:
            res = PyObject_CallFunction(fn, "Oiy#KdK", o, ev->dir & 1, (const char *)ev->data.ptr,
                                        (Py_ssize_t)ev->data.len, (unsigned long long)ev->offset, px_ts(ev->ts),
                                        (unsigned long long)ev->frame);
            break;
        case TCPS_EV_GAP:
            res = PyObject_CallFunction(fn, "OiKKi", o, ev->dir & 1, (unsigned long long)ev->offset,
                                        (unsigned long long)ev->length, ev->reason);
            break;
        default: res = PyObject_CallFunctionObjArgs(fn, o, NULL); break;
        }
    if (ev->type == TCPS_EV_CLOSE) px_let_go(r, ss);
    if (!res) {
        px_store_exc(r);
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

/* Python is needed for this event: a callable for it, or its object. */
static int px_wants(const px_run *r, const tcps_event *ev, const tsl_session *ss) {
    switch (ev->type) {
    case TCPS_EV_OPEN: return r->on_open != NULL;
    case TCPS_EV_DATA: return r->on_data != NULL;
    case TCPS_EV_GAP: return r->on_gap != NULL;
    case TCPS_EV_CLOSE: return r->on_close != NULL || ss->user != NULL;
    default: return 0;
    }
}

#define PX_RAISED 1 /* a callable raised: its exception is stored */

/* Reassembler: take every queued event to the callables. With ts (the
   GIL released, *ts the thread's state), the GIL is taken back for each
   call only. 0; PX_RAISED (the rest stays queued for the next call); or
   the collector's error code. */
static int px_drain(px_run *r, PyThreadState **ts) {
    tcps_event ev;
    tsl_session *ss;
    int rc, out = 0;
    while ((rc = tsl_collector_next(r->col, &ev, &ss)) == TCPS_OK) {
        if (!px_wants(r, &ev, ss)) {
            if (ev.type == TCPS_EV_CLOSE) tsl_session_free(ss);
            continue;
        }
        if (ts) PyEval_RestoreThread(*ts);
        out = px_dispatch(r, &ev, ss) ? PX_RAISED : 0;
        if (ts) *ts = PyEval_SaveThread();
        if (out) break;
    }
    if (!out && rc < 0) out = rc;
    if (!out && r->have_frame) { /* every event of the packet was taken */
        if (ts) PyEval_RestoreThread(*ts);
        PyBuffer_Release(&r->frame);
        if (ts) *ts = PyEval_SaveThread();
        r->have_frame = 0;
    }
    return out;
}

/* ------------------------------------------------------------------ run */

static ptrdiff_t px_read(void *user, void *buf, size_t len) {
    px_run *r = (px_run *)user;
    PyGILState_STATE g = PyGILState_Ensure();
    ptrdiff_t got = -1;
    PyObject *res;
    if (len > (1u << 24)) len = 1u << 24;
    if (PyObject_HasAttrString(r->src, "readinto")) {
        PyObject *mv = PyMemoryView_FromMemory((char *)buf, (Py_ssize_t)len, PyBUF_WRITE);
        res = mv ? PyObject_CallMethod(r->src, "readinto", "O", mv) : NULL;
        if (mv) {
            /* the memory is the reader's: no view may outlive this call
               (an exception of readinto is kept aside meanwhile) */
            PyObject *et, *ev, *etb, *rel;
            PyErr_Fetch(&et, &ev, &etb);
            rel = PyObject_CallMethod(mv, "release", NULL);
            if (!rel) PyErr_Clear();
            Py_XDECREF(rel);
            Py_DECREF(mv);
            PyErr_Restore(et, ev, etb);
        }
        if (res) {
            if (res == Py_None) got = 0; /* non-blocking source with nothing now: treat as the end */
            else {
                Py_ssize_t n = PyLong_AsSsize_t(res);
                if (n < 0 || (size_t)n > len) {
                    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "readinto returned a bad count");
                } else got = n;
            }
        }
    } else {
        res = PyObject_CallMethod(r->src, "read", "n", (Py_ssize_t)len);
        if (res) {
            Py_buffer v;
            if (PyObject_GetBuffer(res, &v, PyBUF_SIMPLE) == 0) {
                if ((size_t)v.len <= len) {
                    memcpy(buf, v.buf, (size_t)v.len);
                    got = v.len;
                } else PyErr_SetString(PyExc_ValueError, "read returned more than asked");
                PyBuffer_Release(&v);
            }
        }
    }
    Py_XDECREF(res);
    if (got < 0) px_store_exc(r);
    PyGILState_Release(g);
    return got;
}

/* Close the reader of a run (after a whole capture was fed). */
static void px_close_reader(px_run *r) {
    if (r->col) tsl_collector_read(r->col, NULL);
    if (r->rd) tcps_reader_close(r->rd);
    r->rd = NULL;
    if (r->have_view) PyBuffer_Release(&r->view);
    r->have_view = 0;
    Py_CLEAR(r->src);
}

/* Free the collector and every session the run still has; held sessions
   go to their objects, which the run then lets go of. */
static void px_run_release(px_run *r) {
    size_t i;
    if (r->col) tsl_collector_free(r->col);
    r->col = NULL;
    px_close_reader(r);
    if (r->open_objs) PyDict_Clear(r->open_objs);
    if (r->have_frame) PyBuffer_Release(&r->frame);
    r->have_frame = 0;
    for (i = 0; i < r->qn; i++) tsl_session_free(r->q[i]);
    r->qn = r->qbytes = 0;
}

static void px_run_free(px_run *r) {
    if (!r) return;
    px_run_release(r);
    free(r->q);
    Py_XDECREF(r->open_objs);
    Py_XDECREF(r->on_open);
    Py_XDECREF(r->on_data);
    Py_XDECREF(r->on_gap);
    Py_XDECREF(r->on_close);
    Py_XDECREF(r->factory);
    Py_XDECREF(r->exc_type);
    Py_XDECREF(r->exc_val);
    Py_XDECREF(r->exc_tb);
    free(r);
}

static void px_run_capsule_free(PyObject *cap) { px_run_free((px_run *)PyCapsule_GetPointer(cap, "tcpsession.run")); }

static px_run *px_run_of(PyObject *cap) {
    px_run *r = (px_run *)PyCapsule_GetPointer(cap, "tcpsession.run");
    return r;
}

/* The run for a call that feeds or frees it: refused while another call
   is at work on it (another thread, or a callback of this one). Checked
   and set with the GIL held, so two threads cannot both pass. */
static px_run *px_run_enter(PyObject *cap) {
    px_run *r = px_run_of(cap);
    if (r && r->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this reader is in use (by another thread, or by the call whose callback this is)");
        return NULL;
    }
    if (r) r->busy = 1;
    return r;
}

static PyObject *px_none_or(PyObject *o) {
    if (o == Py_None) return NULL;
    Py_XINCREF(o);
    return o;
}

/* Attach a source: str/bytes path, an object with the buffer protocol, or
   a binary file object. kind: 0 path, 1 memory, 2 file object. */
static int px_attach(px_run *r, PyObject *src, int kind) {
    int rc;
    if (kind == 0) {
        const char *path = PyBytes_AsString(src);
        if (!path) return -1;
        Py_BEGIN_ALLOW_THREADS
        rc = tcps_reader_open_path(&r->rd, path, NULL);
        Py_END_ALLOW_THREADS
    } else if (kind == 1) {
        if (PyObject_GetBuffer(src, &r->view, PyBUF_SIMPLE) != 0) return -1;
        r->have_view = 1;
        rc = tcps_reader_open_memory(&r->rd, r->view.buf, (size_t)r->view.len, NULL);
    } else {
        Py_INCREF(src);
        r->src = src;
        rc = tcps_reader_open_callback(&r->rd, px_read, r, NULL);
    }
    if (rc != TCPS_OK) {
        r->rd = NULL;
        if (rc == TCPS_E_NOMEM) PyErr_NoMemory();
        else PyErr_Format(PyExc_OSError, "cannot open the capture: %s", tcps_result_message(rc));
        return -1;
    }
    return 0;
}

static px_run *px_run_new(unsigned opts, uint32_t flags) {
    px_run *r = (px_run *)calloc(1, sizeof *r);
    tcps_config cfg;
    if (!r) return NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = flags;
    if (tsl_collector_new(&r->col, &cfg, px_keep(opts)) != TCPS_OK) {
        free(r);
        return NULL;
    }
    return r;
}

/* After a loop: a stored callback exception comes back (-1), then the
   collector's out of memory; else 0. */
static int px_check(px_run *r, int rc) {
    if (r->exc_type) {
        PyErr_Restore(r->exc_type, r->exc_val, r->exc_tb);
        r->exc_type = r->exc_val = r->exc_tb = NULL;
        return -1;
    }
    if (rc == TCPS_E_NOMEM) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static PyObject *px_err_of(const tcps_error *e) {
    if (!e->code) Py_RETURN_NONE;
    return Py_BuildValue("(iKss)", e->code, (unsigned long long)e->offset, e->message, tcps_result_name(e->code));
}

/* Sessions are handed to Python in batches, to pay the GIL and the call
   once for many: a batch is complete at PX_BATCH sessions, PX_BATCH_BYTES
   of kept bytes, or PX_BATCH_EVENTS events after its first session ended
   (so a session is never held back long), and at the end of the capture. */
#define PX_BATCH 64
#define PX_BATCH_BYTES (4u << 20)
#define PX_BATCH_EVENTS 16384

/* Iterator: take events until a batch of sessions is queued, the capture
   ends or something stops; the GIL is released meanwhile. Returns the
   collector's last result. */
static int px_pump(px_run *r) {
    tcps_event ev;
    tsl_session *ss;
    unsigned since = 0, events = 0;
    int rc = TCPS_OK;
    Py_BEGIN_ALLOW_THREADS
    while (!r->exc_type) {
        if (r->qn && (r->qn >= PX_BATCH || r->qbytes >= PX_BATCH_BYTES || ++since > PX_BATCH_EVENTS)) break;
        rc = tsl_collector_next(r->col, &ev, &ss);
        if (rc != TCPS_OK) break;
        if (ev.type == TCPS_EV_CLOSE) {
            if (r->qn == r->qcap) {
                size_t nc = r->qcap ? r->qcap * 2 : PX_BATCH * 2;
                tsl_session **nq = (tsl_session **)realloc(r->q, nc * sizeof *nq);
                if (!nq) {
                    tsl_session_free(ss);
                    rc = TCPS_E_NOMEM;
                    break;
                }
                r->q = nq;
                r->qcap = nc;
            }
            r->q[r->qn++] = ss;
            r->qbytes += ss->kept[0] + ss->kept[1];
        }
        if ((++events & 0xffff) == 0) {
            /* now and then, let Ctrl-C (a signal handler's exception) stop a long run */
            Py_BLOCK_THREADS
            if (PyErr_CheckSignals() < 0) px_store_exc(r);
            Py_UNBLOCK_THREADS
        }
    }
    Py_END_ALLOW_THREADS
    return rc;
}

static PyObject *px_endpoint(const tcps_endpoint *e) {
    char buf[64];
    tsl_addr_text(e, buf, sizeof buf);
    return Py_BuildValue("(sii)", buf, (int)e->port, (int)e->ip_version);
}

static PyObject *px_dir(const tcps_dir_stats *d) {
    return Py_BuildValue("(KKKKKKKKIIIIIiiii)", (unsigned long long)d->bytes, (unsigned long long)d->missing,
                         (unsigned long long)d->gaps, (unsigned long long)d->packets,
                         (unsigned long long)d->payload_packets, (unsigned long long)d->dup_bytes,
                         (unsigned long long)d->ooo_segments, (unsigned long long)d->conflicts, (unsigned)d->isn,
                         (unsigned)d->anomalies, (unsigned)d->syn_options, (unsigned)d->options, (unsigned)d->mss,
                         d->wscale == 0xff ? -1 : (int)d->wscale, (int)d->syn_seen, (int)d->fin_seen,
                         (int)d->rst_seen);
}

%}

/* ----------------------------------------------------------------------
   What SWIG wraps: PyObject* in, PyObject* out. The Python layer
   (tcpsession/__init__.py) is the documented API; these are its engine. */

%ignore px_iter_next_;
%ignore px_reasm_feed_capture_;
%ignore px_reasm_feed_packets_;

%inline %{
/* A run that iterates a capture. kind: 0 path (bytes), 1 buffer, 2 file
   object. opts: PX_* bits. flags: TCPS_F_* bits. */
PyObject *px_iter_open(PyObject *src, int kind, unsigned opts, unsigned flags) {
    px_run *r = px_run_new(opts, flags);
    PyObject *cap;
    if (!r) return PyErr_NoMemory();
    if (px_attach(r, src, kind) != 0) {
        px_run_free(r);
        return NULL;
    }
    tsl_collector_read(r->col, r->rd);
    cap = PyCapsule_New(r, "tcpsession.run", px_run_capsule_free);
    if (!cap) px_run_free(r);
    return cap;
}

/* The next sessions that ended: (list of capsules, error tuple or None).
   An empty list means the capture is done. A read error of a file object
   is raised as the file object raised it. */
static PyObject *px_iter_next_(px_run *r);
PyObject *px_iter_next(PyObject *runcap) {
    px_run *r = px_run_enter(runcap);
    PyObject *out;
    if (!r) return NULL;
    out = px_iter_next_(r);
    r->busy = 0;
    return out;
}

static PyObject *px_iter_next_(px_run *r) {
    PyObject *list, *err = NULL;
    size_t i;
    int rc = TCPS_OK;
    if (!r->col) return Py_BuildValue("([]O)", Py_None);
    if (!r->done && (rc = px_pump(r)) != TCPS_OK) r->done = 1;
    if (r->done && !r->qn && r->rd) {
        err = px_err_of(tsl_collector_error(r->col));
        px_close_reader(r);
    }
    if (px_check(r, rc)) {
        Py_XDECREF(err);
        return NULL;
    }
    if (!err) {
        err = Py_None;
        Py_INCREF(err);
    }
    if (!(list = PyList_New((Py_ssize_t)r->qn))) {
        Py_DECREF(err);
        return NULL;
    }
    for (i = 0; i < r->qn; i++) {
        PyObject *c = PyCapsule_New(r->q[i], PX_CAPSULE, px_capsule_free);
        if (!c) {
            size_t j;
            for (j = i; j < r->qn; j++) tsl_session_free(r->q[j]);
            r->qn = r->qbytes = 0;
            Py_DECREF(list);
            Py_DECREF(err);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, c);
    }
    r->qn = r->qbytes = 0;
    return Py_BuildValue("(NN)", list, err);
}

/* A streaming reassembler: callables or None; factory(capsule) makes the
   Session object the callbacks receive. */
PyObject *px_reasm_new(unsigned opts, unsigned flags, PyObject *on_open, PyObject *on_data, PyObject *on_gap,
                       PyObject *on_close, PyObject *factory) {
    px_run *r = px_run_new(opts, flags);
    PyObject *cap;
    if (!r) return PyErr_NoMemory();
    if (!(r->open_objs = PyDict_New())) {
        px_run_free(r);
        return NULL;
    }
    r->on_open = px_none_or(on_open);
    r->on_data = px_none_or(on_data);
    r->on_gap = px_none_or(on_gap);
    r->on_close = px_none_or(on_close);
    Py_INCREF(factory);
    r->factory = factory;
    cap = PyCapsule_New(r, "tcpsession.run", px_run_capsule_free);
    if (!cap) px_run_free(r);
    return cap;
}

/* Feed a whole capture; returns the error tuple or None. Its open
   sessions stay open (finish closes them). */
static PyObject *px_reasm_feed_capture_(px_run *r, PyObject *src, int kind);
PyObject *px_reasm_feed_capture(PyObject *runcap, PyObject *src, int kind) {
    px_run *r = px_run_enter(runcap);
    PyObject *out;
    if (!r) return NULL;
    out = px_reasm_feed_capture_(r, src, kind);
    r->busy = 0;
    return out;
}

static PyObject *px_reasm_feed_capture_(px_run *r, PyObject *src, int kind) {
    PyObject *err = NULL;
    unsigned long packets = 0;
    int rc = 0;
    if (!r->col) {
        PyErr_SetString(PyExc_ValueError, "the reassembler is closed");
        return NULL;
    }
    if ((rc = px_drain(r, NULL)) == 0) {
        PyThreadState *ts;
        int got = TCPS_OK;
        px_close_reader(r); /* a capture whose last events an earlier stop left */
        if (px_attach(r, src, kind) != 0) return NULL;
        /* the GIL released for the whole capture, taken back for calls */
        ts = PyEval_SaveThread();
        for (;;) {
            tcps_packet pkt;
            got = tcps_reader_next(r->rd, &pkt);
            if (got != TCPS_OK) break;
            if ((rc = tsl_collector_feed_packet(r->col, &pkt)) < 0 || (rc = px_drain(r, &ts)) != 0) break;
            if ((++packets & 0xffff) == 0) {
                /* now and then, let Ctrl-C (a signal handler's exception) stop a long run */
                PyEval_RestoreThread(ts);
                if (PyErr_CheckSignals() < 0) {
                    px_store_exc(r);
                    rc = PX_RAISED;
                }
                ts = PyEval_SaveThread();
                if (rc) break;
            }
        }
        PyEval_RestoreThread(ts);
        if (got < 0 && !r->exc_type) err = px_err_of(tcps_reader_error(r->rd));
        if (rc < 0 && !err) err = px_err_of(tsl_collector_error(r->col));
        /* after a stop the reader stays open until its packet's last events
           are taken, by the next call */
        if (rc != PX_RAISED) px_close_reader(r);
    }
    if (px_check(r, rc)) {
        Py_XDECREF(err);
        return NULL;
    }
    if (err) return err;
    Py_RETURN_NONE;
}

/* Feed packets: an iterable of (timestamp, frame bytes), the timestamp a
   number of seconds or a (sec, nsec) pair. */
static PyObject *px_reasm_feed_packets_(px_run *r, PyObject *iterable, unsigned linktype);
PyObject *px_reasm_feed_packets(PyObject *runcap, PyObject *iterable, unsigned linktype) {
    px_run *r = px_run_enter(runcap);
    PyObject *out;
    if (!r) return NULL;
    out = px_reasm_feed_packets_(r, iterable, linktype);
    r->busy = 0;
    return out;
}

static PyObject *px_reasm_feed_packets_(px_run *r, PyObject *iterable, unsigned linktype) {
    PyObject *it, *item;
    int rc;
    if (!r->col) {
        PyErr_SetString(PyExc_ValueError, "the reassembler is closed");
        return NULL;
    }
    if ((rc = px_drain(r, NULL)) != 0) { /* what an earlier stop left */
        if (px_check(r, rc)) return NULL;
        return px_err_of(tsl_collector_error(r->col));
    }
    px_close_reader(r);
    it = PyObject_GetIter(iterable);
    if (!it) return NULL;
    while ((item = PyIter_Next(it)) != NULL) {
        PyObject *tso, *bo;
        tcps_time ts;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            Py_DECREF(item);
            Py_DECREF(it);
            PyErr_SetString(PyExc_TypeError, "packets must be (timestamp, bytes) pairs");
            return NULL;
        }
        tso = PyTuple_GET_ITEM(item, 0);
        bo = PyTuple_GET_ITEM(item, 1);
        if (PyTuple_Check(tso) && PyTuple_GET_SIZE(tso) == 2) {
            ts.sec = PyLong_AsLongLong(PyTuple_GET_ITEM(tso, 0));
            ts.nsec = (uint32_t)PyLong_AsUnsignedLong(PyTuple_GET_ITEM(tso, 1));
        } else {
            double d = PyFloat_AsDouble(tso), fl;
            fl = d < 0 ? (double)(long long)d - ((double)(long long)d != d) : (double)(long long)d;
            ts.sec = (int64_t)fl;
            ts.nsec = (uint32_t)((d - fl) * 1e9 + 0.5);
            if (ts.nsec >= 1000000000u) ts.sec++, ts.nsec -= 1000000000u;
        }
        if (PyErr_Occurred() || PyObject_GetBuffer(bo, &r->frame, PyBUF_SIMPLE) != 0) {
            Py_DECREF(item);
            Py_DECREF(it);
            return NULL;
        }
        /* the packet's memory stays until its events are taken */
        r->have_frame = 1;
        Py_DECREF(item);
        rc = tsl_collector_feed_frame(r->col, linktype, ts, r->frame.buf, (size_t)r->frame.len, (size_t)r->frame.len);
        if (rc >= 0) rc = px_drain(r, NULL);
        if (rc != 0) {
            Py_DECREF(it);
            if (px_check(r, rc)) return NULL;
            return px_err_of(tsl_collector_error(r->col));
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

/* End of input: every open session is closed (their callbacks run). */
PyObject *px_reasm_finish(PyObject *runcap) {
    px_run *r = px_run_enter(runcap);
    int rc;
    if (!r) return NULL;
    if (!r->col) {
        r->busy = 0;
        Py_RETURN_NONE;
    }
    rc = px_drain(r, NULL);
    if (rc == 0) {
        px_close_reader(r);
        PyThreadState *ts = PyEval_SaveThread();
        rc = tsl_collector_finish(r->col);
        if (rc >= 0) rc = px_drain(r, &ts);
        PyEval_RestoreThread(ts);
    }
    r->busy = 0;
    if (px_check(r, rc)) return NULL;
    if (rc < 0) return px_err_of(tsl_collector_error(r->col));
    Py_RETURN_NONE;
}

/* Free the engine now (the capsule would do it when collected). */
PyObject *px_run_close(PyObject *runcap) {
    px_run *r = px_run_enter(runcap);
    if (!r) return NULL;
    r->busy = 0;
    px_run_release(r);
    Py_RETURN_NONE;
}

/* The context's counters, as a dict. */
PyObject *px_run_stats(PyObject *runcap) {
    px_run *r = px_run_of(runcap);
    const tcps_stats *st;
    if (!r) return NULL;
    if (!r->col) return PyDict_New();
    st = tsl_collector_stats(r->col);
    return Py_BuildValue("{sKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsK}", "packets", (unsigned long long)st->packets,
                         "late_bytes", (unsigned long long)st->late_bytes,
                         "session_segments", (unsigned long long)st->session_segments, "bad_checksum",
                         (unsigned long long)st->bad_checksum, "nomem_segments",
                         (unsigned long long)st->nomem_segments,
                         "segments", (unsigned long long)st->segments, "sessions", (unsigned long long)st->sessions,
                         "sessions_live", (unsigned long long)st->sessions_live, "sessions_peak",
                         (unsigned long long)st->sessions_peak, "bytes", (unsigned long long)st->bytes, "missing",
                         (unsigned long long)st->missing, "gaps", (unsigned long long)st->gaps, "late_segments",
                         (unsigned long long)st->late_segments, "closed_fin", (unsigned long long)st->closed_fin,
                         "closed_rst", (unsigned long long)st->closed_rst, "closed_eof",
                         (unsigned long long)st->closed_eof, "closed_timeout", (unsigned long long)st->closed_timeout,
                         "closed_evicted", (unsigned long long)st->closed_evicted, "closed_reused",
                         (unsigned long long)st->closed_reused, "buffered_peak",
                         (unsigned long long)st->buffered_peak);
}

/* ------------------------------------------------------ session accessors */

/* (closed, stream, client, server, first_dir, end, handshake, vlans,
    (first sec, nsec), (last sec, nsec), first_frame, last_frame, packets,
    c2s stats, s2c stats) */
PyObject *px_sess_info(PyObject *cap) {
    tsl_session *ss = px_sess_of(cap);
    const tcps_session *t;
    PyObject *vl;
    int i;
    if (!ss) return NULL;
    t = ss->s;
    vl = PyTuple_New(t->vlan_count < TCPS_MAX_VLAN ? t->vlan_count : TCPS_MAX_VLAN);
    if (!vl) return NULL;
    for (i = 0; i < PyTuple_GET_SIZE(vl); i++) PyTuple_SET_ITEM(vl, i, PyLong_FromLong(t->vlan[i]));
    return Py_BuildValue("(iKNNiiiN(Li)(Li)KKKNN)", ss->closed, (unsigned long long)t->stream,
                         px_endpoint(&t->client), px_endpoint(&t->server), (int)t->first_dir, (int)t->end,
                         (int)t->handshake, vl, (long long)t->first_ts.sec, (int)t->first_ts.nsec,
                         (long long)t->last_ts.sec, (int)t->last_ts.nsec, (unsigned long long)t->first_frame,
                         (unsigned long long)t->last_frame, (unsigned long long)t->packets, px_dir(&t->dir[0]),
                         px_dir(&t->dir[1]));
}

/* The bytes delivered one way (None when they were not kept). */
PyObject *px_sess_data(PyObject *cap, int dir) {
    tsl_session *ss = px_sess_of(cap);
    PyObject *out;
    if (!ss) return NULL;
    if (!(ss->keep & TSL_KEEP_DATA)) Py_RETURN_NONE;
    dir &= 1;
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)ss->kept[dir]);
    if (out) tsl_session_copy(ss, dir, 0, PyBytes_AS_STRING(out), (size_t)ss->kept[dir]);
    return out;
}

/* Drop the kept bytes now. */
PyObject *px_sess_release(PyObject *cap) {
    tsl_session *ss = px_sess_of(cap);
    if (!ss) return NULL;
    tsl_session_release(ss, TSL_KEEP_DATA);
    Py_RETURN_NONE;
}

/* [(dir, offset, length, ts sec, ts nsec, frame, data_frame, pos), ...] */
PyObject *px_sess_chunks(PyObject *cap) {
    tsl_session *ss = px_sess_of(cap);
    PyObject *l;
    size_t i;
    if (!ss) return NULL;
    if (!(ss->keep & TSL_KEEP_CHUNKS)) Py_RETURN_NONE;
    l = PyList_New((Py_ssize_t)ss->nchunks);
    if (!l) return NULL;
    for (i = 0; i < ss->nchunks; i++) {
        const tsl_chunk *c = &ss->chunks[i];
        PyObject *t = Py_BuildValue("(iKKLiKKK)", c->dir, (unsigned long long)c->offset,
                                    (unsigned long long)c->length, (long long)c->ts.sec, (int)c->ts.nsec,
                                    (unsigned long long)c->frame, (unsigned long long)c->data_frame,
                                    (unsigned long long)c->pos);
        if (!t) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    return l;
}

/* [(dir, offset, length, reason, ts sec, ts nsec, frame), ...] */
PyObject *px_sess_gaps(PyObject *cap) {
    tsl_session *ss = px_sess_of(cap);
    PyObject *l;
    size_t i;
    if (!ss) return NULL;
    if (!(ss->keep & TSL_KEEP_GAPS)) Py_RETURN_NONE;
    l = PyList_New((Py_ssize_t)ss->ngaps);
    if (!l) return NULL;
    for (i = 0; i < ss->ngaps; i++) {
        const tsl_gap *g = &ss->gaps[i];
        PyObject *t = Py_BuildValue("(iKKiLiK)", g->dir, (unsigned long long)g->offset,
                                    (unsigned long long)g->length, g->reason, (long long)g->ts.sec,
                                    (int)g->ts.nsec, (unsigned long long)g->frame);
        if (!t) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    return l;
}

/* The sha256 (hex) of one direction, computed in C; None when not asked
   for or the session is still open. */
PyObject *px_sess_sha256(PyObject *cap, int dir) {
    tsl_session *ss = px_sess_of(cap);
    if (!ss) return NULL;
    if (!(ss->keep & TSL_HASH) || !ss->closed) Py_RETURN_NONE;
    return PyUnicode_FromString(ss->dir[dir & 1].sha256);
}

/* The session as `tcpsession list --json` prints it (one line, no newline),
   written by the shared layer; capture: the capture's name as bytes (None:
   "capture":null); c2s_hex, s2c_hex: the hashes when the binding did not
   compute them ("" to use its own). */
PyObject *px_sess_list_json(PyObject *cap, PyObject *capture, const char *c2s_hex, const char *s2c_hex) {
    tsl_session *ss = px_sess_of(cap);
    tsl_row row;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    PyObject *out;
    if (!ss) return NULL;
    if (capture != Py_None && !PyBytes_Check(capture)) {
        PyErr_SetString(PyExc_TypeError, "capture: bytes or None");
        return NULL;
    }
    tsl_session_row(ss, &row);
    if (*c2s_hex || !(ss->keep & TSL_HASH)) snprintf(row.sha256[0], sizeof row.sha256[0], "%s", c2s_hex);
    if (*s2c_hex || !(ss->keep & TSL_HASH)) snprintf(row.sha256[1], sizeof row.sha256[1], "%s", s2c_hex);
    row.end = ss->s->end;
    if (!(f = open_memstream(&buf, &len))) return PyErr_NoMemory();
    putc('{', f);
    tsl_row_members(f, &row, capture == Py_None ? NULL : PyBytes_AS_STRING(capture));
    fputs(capture == Py_None ? ",\"capture\":null}" : "}", f);
    if (fclose(f) != 0) {
        free(buf);
        return PyErr_NoMemory();
    }
    out = PyUnicode_DecodeASCII(buf, (Py_ssize_t)len, "strict");
    free(buf);
    return out;
}

/* The sessions of one capture to files under out_dir, by the writer
   `tcpsession extract` uses: into out_dir/rel (made as needed). outputs:
   the --outputs list ("" for all); stream < 0: every session; endpoints:
   "IP:PORT,IP:PORT" or "". capture, out_dir, rel: bytes. Returns (code, message): code 0, or the
   command's exit status for what went wrong (3 the capture, 4 the
   output, 5 memory; 2 a bad argument), message "" or why. The GIL is
   released while it runs. */
PyObject *px_extract(PyObject *capture_b, PyObject *out_dir_b, PyObject *rel_b, const char *outputs,
                     int tcpflow_names, long long stream, const char *endpoints) {
    tsl_extract_options o;
    tsl_extract_result *res;
    tsl_capture cap;
    char openerr[300];
    int rc = 0, outfd = -1, opened = 0;
    const char *capture, *out_dir, *rel;
    PyObject *ret;
    if (!PyBytes_Check(capture_b) || !PyBytes_Check(out_dir_b) || !PyBytes_Check(rel_b)) {
        PyErr_SetString(PyExc_TypeError, "capture, out_dir, rel: bytes");
        return NULL;
    }
    capture = PyBytes_AS_STRING(capture_b);
    out_dir = PyBytes_AS_STRING(out_dir_b);
    rel = PyBytes_AS_STRING(rel_b);
    if (!(res = (tsl_extract_result *)calloc(1, sizeof *res))) return PyErr_NoMemory();
    memset(&o, 0, sizeof o);
    o.tcpflow_names = tcpflow_names;
    o.outdir_name = out_dir;
    if (*outputs && tsl_extract_outputs_parse(outputs, &o.outputs)) {
        rc = 2;
        snprintf(res->error, sizeof res->error, "outputs: a list of json,data,transcript,hex,js,index");
    }
    if (stream >= 0) o.have_stream = 1, o.stream = (uint64_t)stream;
    if (!rc && *endpoints && tsl_endpoint_pair_parse(endpoints, strlen(endpoints), o.endpoints)) {
        rc = 2;
        snprintf(res->error, sizeof res->error, "endpoints: IP:PORT,IP:PORT");
    }
    o.have_endpoints = *endpoints != 0;
    if (!rc) {
        Py_BEGIN_ALLOW_THREADS
        if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
            rc = 4;
            snprintf(res->error, sizeof res->error, "%s: cannot create: %s", out_dir, strerror(errno));
        } else if ((outfd = open(out_dir, O_RDONLY | O_DIRECTORY)) < 0) {
            rc = 4;
            snprintf(res->error, sizeof res->error, "%s: %s", out_dir, strerror(errno));
        } else {
            opened = tsl_capture_open(&cap, capture, openerr, sizeof openerr) == TCPS_OK;
            rc = tsl_extract(opened ? cap.rd : NULL, capture, openerr, outfd, rel, &o, res);
            if (opened) tsl_capture_close(&cap);
            close(outfd);
        }
        Py_END_ALLOW_THREADS
    }
    ret = Py_BuildValue("(is)", rc, res->error);
    free(res);
    return ret;
}
%}
