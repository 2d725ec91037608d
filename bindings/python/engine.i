/* engine.i - the C half of the Python binding: the loops that read and reassemble a
   capture, and the per-session records the Python objects wrap.

   Included by the SWIG interface (tcpsession.i). Every function that
   SWIG exposes takes and returns PyObject* (SWIG passes them through), so
   reference counts and exceptions are handled here.

   Threading: the loops run with the GIL released. A callback into Python
   (an on_* callable, or the read method of a file object) takes the GIL
   back with PyGILState_Ensure for its duration.

   Errors: a Python exception raised inside a callback is stored with its
   traceback, the callback returns non-zero so the engine stops
   (TCPS_E_ABORTED), and the feeding function restores the exception and
   returns NULL: the caller sees the original exception. Capture errors
   come back as (code, offset, message) tuples and the Python layer turns
   them into tcpsession.Error subclasses. */
%{
#include <stddef.h>
#include <string.h>
#include "tcpsession.h"
#include "tsl.h"     /* the shared layer: digests, the list row */
#include "extract.h" /* and the extract writer */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define PX_DATA 0x1   /* keep each direction's delivered bytes */
#define PX_CHUNKS 0x2 /* keep the list of chunks and gaps */
#define PX_SHA 0x4    /* sha256 of each direction, in C */

typedef struct px_chunk {
    uint64_t offset, length, frame, data_frame, pos; /* pos: index in the direction's bytes */
    tcps_time ts;
    int dir;
} px_chunk;

typedef struct px_gap {
    uint64_t offset, length, frame;
    tcps_time ts;
    int dir, reason;
} px_gap;

/* Kept bytes live in a list of blocks that double from 256 bytes up to
   PX_BLOCK_MAX: no reallocation copies, and blocks small enough for
   malloc to reuse from one session to the next (one contiguous buffer per
   direction made the allocator map and unmap memory for every big session:
   a page fault per 4 KiB, which cost more than the reassembly). */
#define PX_BLOCK_MIN 256
#define PX_BLOCK_MAX 65000
typedef struct px_block {
    struct px_block *next;
    size_t len, cap;
    uint8_t d[1];
} px_block;

typedef struct px_sess {
    tcps_session snap;        /* the session at its last update (final once closed) */
    const tcps_session *live; /* the engine's copy while open */
    struct px_block *head[2], *tail[2]; /* the kept bytes of each direction */
    size_t len[2];
    uint64_t delivered[2];
    px_chunk *ch;
    size_t nch, cch;
    px_gap *gp;
    size_t ngp, cgp;
    tsl_hash *sha[2];         /* with PX_SHA, while open */
    char sha_hex[2][65];
    unsigned opts;
    int closed, oom;
    PyObject *pyobj;                /* Reassembler: the Session object given to callbacks */
    struct px_sess *prev, *next;    /* the run's open sessions */
    struct px_sess *qnext;          /* the run's queue of closed sessions */
} px_sess;

typedef struct px_run {
    tcps_ctx *ctx;
    tcps_reader *rd;
    unsigned opts;
    px_sess *live;
    px_sess *qhead, *qtail;
    PyObject *on_open, *on_data, *on_gap, *on_close, *factory;
    PyObject *exc_type, *exc_val, *exc_tb; /* stored exception of a callback */
    PyObject *src;      /* the file object being read */
    Py_buffer view;     /* the memory being read */
    int have_view;
    int done;           /* the capture was read to its end (or to an error) */
    int err_code;       /* reader or context error, 0 when none */
    uint64_t err_offset;
    const char *err_message;
    int nomem;
    int busy;           /* a call is feeding it (GIL released, or in a callback) */
    size_t qn, qbytes;  /* sessions queued, and their kept bytes */
    uint64_t fed;       /* packets fed */
} px_run;

static const char PX_CAPSULE[] = "tcpsession.session";

/* ------------------------------------------------------- session records */

static void px_free_blocks(px_sess *s) {
    int i;
    for (i = 0; i < 2; i++) {
        px_block *b = s->head[i];
        while (b) {
            px_block *nx = b->next;
            free(b);
            b = nx;
        }
        s->head[i] = s->tail[i] = NULL;
        s->len[i] = 0;
    }
}

/* Append n bytes to direction d; -1 when out of memory. */
static int px_append(px_sess *s, int d, const uint8_t *p, size_t n) {
    while (n) {
        px_block *b = s->tail[d];
        size_t k;
        if (!b || b->len == b->cap) {
            size_t cap = b ? b->cap * 2 : PX_BLOCK_MIN;
            if (cap > PX_BLOCK_MAX) cap = PX_BLOCK_MAX;
            if (!b && n > cap) cap = n < PX_BLOCK_MAX ? n : PX_BLOCK_MAX;
            b = (px_block *)malloc(offsetof(px_block, d) + cap);
            if (!b) return -1;
            b->next = NULL;
            b->len = 0;
            b->cap = cap;
            if (s->tail[d]) s->tail[d]->next = b;
            else s->head[d] = b;
            s->tail[d] = b;
        }
        k = b->cap - b->len;
        if (k > n) k = n;
        memcpy(b->d + b->len, p, k);
        b->len += k;
        s->len[d] += k;
        p += k;
        n -= k;
    }
    return 0;
}

static void px_sess_free(px_sess *s) {
    if (!s) return;
    px_free_blocks(s);
    free(s->ch);
    free(s->gp);
    tsl_hash_free(s->sha[0]); /* sessions freed while open */
    tsl_hash_free(s->sha[1]);
    free(s);
}

static void px_capsule_free(PyObject *cap) {
    px_sess_free((px_sess *)PyCapsule_GetPointer(cap, PX_CAPSULE));
}

static px_sess *px_sess_of(PyObject *cap) {
    px_sess *s = (px_sess *)PyCapsule_GetPointer(cap, PX_CAPSULE);
    if (!s && !PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "session already released");
    return s;
}

static int px_grow(void **p, size_t *cap, size_t need, size_t elem) {
    size_t nc;
    void *np;
    if (need <= *cap) return 0;
    nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > ((size_t)-1 / 2) / elem) return -1;
        nc *= 2;
    }
    np = realloc(*p, nc * elem);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

/* ------------------------------------------------------------ callbacks */

/* Keep the first exception a callback raised (the GIL is held). */
static void px_store_exc(px_run *r) {
    if (!r->exc_type) PyErr_Fetch(&r->exc_type, &r->exc_val, &r->exc_tb);
    else PyErr_Clear();
}

/* The Session object for a record, made on first need (GIL held). */
static PyObject *px_pyobj(px_run *r, px_sess *s) {
    PyObject *cap;
    if (s->pyobj) return s->pyobj;
    cap = PyCapsule_New(s, PX_CAPSULE, px_capsule_free);
    if (!cap) return NULL;
    s->pyobj = PyObject_CallFunctionObjArgs(r->factory, cap, NULL);
    if (!s->pyobj) {
        /* the capsule must not free the record the run still holds */
        PyCapsule_SetDestructor(cap, NULL);
        Py_DECREF(cap);
        return NULL;
    }
    Py_DECREF(cap);
    return s->pyobj;
}

static double px_ts(tcps_time t) { return (double)t.sec + (double)t.nsec * 1e-9; }

static int px_on_open(const tcps_event *ev, void *user) {
    px_run *r = (px_run *)user;
    px_sess *s = (px_sess *)calloc(1, sizeof *s);
    int stop = 0;
    if (!s) {
        r->nomem = 1;
        return 1;
    }
    s->opts = r->opts;
    s->snap = *ev->session;
    s->live = ev->session;
    if ((s->opts & PX_SHA) && (!(s->sha[0] = tsl_hash_new(TSL_SHA256)) || !(s->sha[1] = tsl_hash_new(TSL_SHA256)))) {
        tsl_hash_free(s->sha[0]);
        free(s);
        r->nomem = 1;
        return 1;
    }
    s->next = r->live;
    if (r->live) r->live->prev = s;
    r->live = s;
    ev->session->user = s;
    if (r->on_open) {
        PyGILState_STATE g = PyGILState_Ensure();
        PyObject *o = px_pyobj(r, s), *res = NULL;
        if (o) res = PyObject_CallFunctionObjArgs(r->on_open, o, NULL);
        if (!res) {
            px_store_exc(r);
            stop = 1;
        }
        Py_XDECREF(res);
        PyGILState_Release(g);
    }
    return stop;
}

static int px_on_data(const tcps_event *ev, void *user) {
    px_run *r = (px_run *)user;
    px_sess *s = (px_sess *)ev->session->user;
    size_t n = ev->data.len;
    int d = ev->dir & 1, stop = 0;
    if (!s) return 0;
    if (s->opts & PX_CHUNKS) {
        px_chunk *c;
        if (px_grow((void **)&s->ch, &s->cch, s->nch + 1, sizeof *s->ch)) {
            r->nomem = 1;
            return 1;
        }
        c = &s->ch[s->nch++];
        c->offset = ev->offset;
        c->length = n;
        c->frame = ev->frame;
        c->data_frame = ev->data_frame;
        c->ts = ev->ts;
        c->dir = d;
        c->pos = s->delivered[d];
    }
    if (s->opts & PX_DATA) {
        if (px_append(s, d, ev->data.ptr, n)) {
            r->nomem = 1;
            return 1;
        }
    }
    if (s->opts & PX_SHA) tsl_hash_update(s->sha[d], ev->data.ptr, n);
    s->delivered[d] += n;
    if (r->on_data) {
        PyGILState_STATE g = PyGILState_Ensure();
        PyObject *o = px_pyobj(r, s), *res = NULL;
        if (o)
            res = PyObject_CallFunction(r->on_data, "Oiy#KdK", o, d, (const char *)ev->data.ptr, (Py_ssize_t)n,
                                        (unsigned long long)ev->offset, px_ts(ev->ts),
                                        (unsigned long long)ev->frame);
        if (!res) {
            px_store_exc(r);
            stop = 1;
        }
        Py_XDECREF(res);
        PyGILState_Release(g);
    }
    return stop;
}

static int px_on_gap(const tcps_event *ev, void *user) {
    px_run *r = (px_run *)user;
    px_sess *s = (px_sess *)ev->session->user;
    int stop = 0;
    if (!s) return 0;
    if (s->opts & PX_CHUNKS) {
        px_gap *g;
        if (px_grow((void **)&s->gp, &s->cgp, s->ngp + 1, sizeof *s->gp)) {
            r->nomem = 1;
            return 1;
        }
        g = &s->gp[s->ngp++];
        g->offset = ev->offset;
        g->length = ev->length;
        g->frame = ev->frame;
        g->ts = ev->ts;
        g->dir = ev->dir & 1;
        g->reason = ev->reason;
    }
    if (r->on_gap) {
        PyGILState_STATE gs = PyGILState_Ensure();
        PyObject *o = px_pyobj(r, s), *res = NULL;
        if (o)
            res = PyObject_CallFunction(r->on_gap, "OiKKi", o, ev->dir & 1, (unsigned long long)ev->offset,
                                        (unsigned long long)ev->length, ev->reason);
        if (!res) {
            px_store_exc(r);
            stop = 1;
        }
        Py_XDECREF(res);
        PyGILState_Release(gs);
    }
    return stop;
}

static void px_unlink(px_run *r, px_sess *s) {
    if (s->prev) s->prev->next = s->next;
    else r->live = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static int px_on_close(const tcps_event *ev, void *user) {
    px_run *r = (px_run *)user;
    px_sess *s = (px_sess *)ev->session->user;
    int i, stop = 0;
    if (!s) return 0;
    s->snap = *ev->session;
    s->snap.end = (uint8_t)ev->reason;
    s->snap.user = NULL;
    s->live = NULL;
    s->closed = 1;
    ev->session->user = NULL;
    if (s->opts & PX_SHA)
        for (i = 0; i < 2; i++) {
            tsl_hash_hex(s->sha[i], s->sha_hex[i]);
            tsl_hash_free(s->sha[i]);
            s->sha[i] = NULL;
        }
    px_unlink(r, s);
    if (r->on_close || s->pyobj) {
        /* Reassembler: hand it over, then drop the run's reference */
        PyGILState_STATE g = PyGILState_Ensure();
        if (r->on_close) {
            PyObject *o = px_pyobj(r, s), *res = NULL;
            if (o) res = PyObject_CallFunctionObjArgs(r->on_close, o, NULL);
            if (!res) {
                px_store_exc(r);
                stop = 1;
            }
            Py_XDECREF(res);
        }
        if (s->pyobj) Py_CLEAR(s->pyobj); /* may free s */
        else px_sess_free(s);
        PyGILState_Release(g);
        return stop;
    }
    if (r->factory) { /* a Reassembler nobody asked about this session */
        px_sess_free(s);
        return 0;
    }
    /* iterator: queue it for the next batch */
    if (r->qtail) r->qtail->qnext = s;
    else r->qhead = s;
    r->qtail = s;
    r->qn++;
    r->qbytes += s->len[0] + s->len[1];
    return 0;
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

static void px_run_free(px_run *r) {
    if (!r) return;
    if (r->ctx) tcps_destroy(r->ctx);
    if (r->rd) tcps_reader_close(r->rd);
    while (r->live) {
        px_sess *s = r->live;
        px_unlink(r, s);
        s->live = NULL;
        if (s->pyobj) Py_CLEAR(s->pyobj);
        else px_sess_free(s);
    }
    while (r->qhead) {
        px_sess *s = r->qhead;
        r->qhead = s->qnext;
        px_sess_free(s);
    }
    if (r->have_view) PyBuffer_Release(&r->view);
    Py_XDECREF(r->src);
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

/* Close the reader of a run (after a whole capture was fed). */
static void px_close_reader(px_run *r) {
    if (r->rd) tcps_reader_close(r->rd);
    r->rd = NULL;
    if (r->have_view) PyBuffer_Release(&r->view);
    r->have_view = 0;
    Py_CLEAR(r->src);
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

static px_run *px_run_new(unsigned opts, uint32_t flags, int with_callbacks) {
    px_run *r = (px_run *)calloc(1, sizeof *r);
    tcps_config cfg;
    int rc;
    if (!r) return NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = flags;
    cfg.callbacks.on_open = px_on_open;
    cfg.callbacks.on_data = px_on_data;
    cfg.callbacks.on_gap = px_on_gap;
    cfg.callbacks.on_close = px_on_close;
    cfg.user = r;
    r->opts = opts;
    (void)with_callbacks;
    rc = tcps_create(&r->ctx, &cfg);
    if (rc != TCPS_OK) {
        free(r);
        return NULL;
    }
    return r;
}

/* After a loop: a stored callback exception comes back (NULL returned),
   then out of memory; else 0. */
static int px_check(px_run *r) {
    if (r->exc_type) {
        PyErr_Restore(r->exc_type, r->exc_val, r->exc_tb);
        r->exc_type = r->exc_val = r->exc_tb = NULL;
        return -1;
    }
    if (r->nomem) {
        r->nomem = 0;
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void px_note_error(px_run *r, const tcps_error *e) {
    if (r->err_code) return;
    r->err_code = e->code;
    r->err_offset = e->offset;
    r->err_message = e->message;
}

/* Sessions are handed to Python in batches, to pay the GIL and the call
   once for many: a batch is complete at PX_BATCH sessions, PX_BATCH_BYTES
   of kept bytes, or PX_BATCH_PACKETS packets after its first session ended
   (so a session is never held back long), and at the end of the capture. */
#define PX_BATCH 64
#define PX_BATCH_BYTES (4u << 20)
#define PX_BATCH_PACKETS 4096

/* Read packets until a batch of sessions is queued (until_queued), the
   capture ends or something stops; the GIL is released meanwhile. */
static void px_pump(px_run *r, int until_queued) {
    tcps_packet pkt;
    int rc;
    unsigned since = 0;
    Py_BEGIN_ALLOW_THREADS
    while (!r->done && !r->exc_type && !r->nomem) {
        if (until_queued && r->qhead &&
            (r->qn >= PX_BATCH || r->qbytes >= PX_BATCH_BYTES || ++since > PX_BATCH_PACKETS))
            break;
        rc = tcps_reader_next(r->rd, &pkt);
        if (rc == TCPS_DONE) {
            r->done = 1;
            break;
        }
        if (rc < 0) {
            px_note_error(r, tcps_reader_error(r->rd));
            r->done = 1;
            break;
        }
        rc = tcps_feed_packet(r->ctx, &pkt);
        if (rc == TCPS_E_ABORTED) break;
        if (rc < 0) {
            px_note_error(r, tcps_ctx_error(r->ctx));
            r->done = 1;
            break;
        }
        if ((++r->fed & 0xffff) == 0) {
            /* now and then, let Ctrl-C (a signal handler's exception) stop a long run */
            Py_BLOCK_THREADS
            if (PyErr_CheckSignals() < 0) px_store_exc(r);
            Py_UNBLOCK_THREADS
        }
    }
    Py_END_ALLOW_THREADS
}

static PyObject *px_err_tuple(px_run *r) {
    if (!r->err_code) Py_RETURN_NONE;
    return Py_BuildValue("(iKss)", r->err_code, (unsigned long long)r->err_offset, r->err_message,
                         tcps_result_name(r->err_code));
}
static PyObject *px_endpoint(const tcps_endpoint *e) {
    char buf[64];
    tcps_addr_to_string(e->addr, e->ip_version, buf, sizeof buf);
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
    px_run *r = px_run_new(opts, flags, 0);
    PyObject *cap;
    if (!r) return PyErr_NoMemory();
    if (px_attach(r, src, kind) != 0) {
        px_run_free(r);
        return NULL;
    }
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
    PyObject *list, *out;
    if (!r->qhead && !r->done) px_pump(r, 1);
    if (r->done && !r->qhead && r->ctx && r->rd) {
        /* end of input (clean or not): close what is still open */
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = tcps_finish(r->ctx);
        Py_END_ALLOW_THREADS
        if (rc < 0 && rc != TCPS_E_ABORTED) px_note_error(r, tcps_ctx_error(r->ctx));
        px_close_reader(r);
    }
    if (px_check(r)) return NULL;
    list = PyList_New(0);
    if (!list) return NULL;
    while (r->qhead) {
        px_sess *s = r->qhead;
        PyObject *c;
        r->qhead = s->qnext;
        if (!r->qhead) r->qtail = NULL;
        s->qnext = NULL;
        r->qn--;
        r->qbytes -= s->len[0] + s->len[1];
        c = PyCapsule_New(s, PX_CAPSULE, px_capsule_free);
        if (!c) {
            px_sess_free(s);
            Py_DECREF(list);
            return NULL;
        }
        if (PyList_Append(list, c) != 0) {
            Py_DECREF(c);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(c);
    }
    out = Py_BuildValue("(NN)", list, px_err_tuple(r));
    return out;
}

/* A streaming reassembler: callables or None; factory(capsule) makes the
   Session object the callbacks receive. */
PyObject *px_reasm_new(unsigned opts, unsigned flags, PyObject *on_open, PyObject *on_data, PyObject *on_gap,
                       PyObject *on_close, PyObject *factory) {
    px_run *r = px_run_new(opts, flags, 1);
    PyObject *cap;
    if (!r) return PyErr_NoMemory();
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

/* Feed a whole capture; returns the error tuple or None. */
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
    if (!r->ctx) {
        PyErr_SetString(PyExc_ValueError, "the reassembler is closed");
        return NULL;
    }
    if (r->rd) {
        PyErr_SetString(PyExc_RuntimeError, "the reassembler is already reading a capture");
        return NULL;
    }
    if (px_attach(r, src, kind) != 0) return NULL;
    r->done = 0;
    r->err_code = 0;
    px_pump(r, 0);
    px_close_reader(r);
    if (px_check(r)) return NULL;
    return px_err_tuple(r);
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
    long long count = 0;
    if (!r->ctx) {
        PyErr_SetString(PyExc_ValueError, "the reassembler is closed");
        return NULL;
    }
    it = PyObject_GetIter(iterable);
    if (!it) return NULL;
    while ((item = PyIter_Next(it)) != NULL) {
        PyObject *tso, *bo;
        tcps_time ts;
        Py_buffer v;
        int rc;
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
        if (PyErr_Occurred() || PyObject_GetBuffer(bo, &v, PyBUF_SIMPLE) != 0) {
            Py_DECREF(item);
            Py_DECREF(it);
            return NULL;
        }
        rc = tcps_feed_frame(r->ctx, linktype, ts, v.buf, (size_t)v.len, (size_t)v.len);
        PyBuffer_Release(&v);
        Py_DECREF(item);
        if (rc < 0) {
            Py_DECREF(it);
            if (px_check(r)) return NULL;
            return Py_BuildValue("(iKss)", rc, 0ULL, tcps_ctx_error(r->ctx)->message, tcps_result_name(rc));
        }
        count++;
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) return NULL;
    if (px_check(r)) return NULL;
    (void)count;
    Py_RETURN_NONE;
}

/* End of input: every open session is closed (their callbacks run). */
PyObject *px_reasm_finish(PyObject *runcap) {
    px_run *r = px_run_enter(runcap);
    int rc;
    if (!r) return NULL;
    if (!r->ctx) {
        r->busy = 0;
        Py_RETURN_NONE;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = tcps_finish(r->ctx);
    Py_END_ALLOW_THREADS
    r->busy = 0;
    if (px_check(r)) return NULL;
    if (rc < 0 && rc != TCPS_E_ABORTED)
        return Py_BuildValue("(iKss)", rc, 0ULL, tcps_ctx_error(r->ctx)->message, tcps_result_name(rc));
    Py_RETURN_NONE;
}

/* Free the engine now (the capsule would do it when collected). */
PyObject *px_run_close(PyObject *runcap) {
    px_run *r = px_run_enter(runcap);
    if (!r) return NULL;
    r->busy = 0;
    if (r->ctx) tcps_destroy(r->ctx);
    r->ctx = NULL;
    px_close_reader(r);
    while (r->live) {
        px_sess *s = r->live;
        px_unlink(r, s);
        s->live = NULL;
        if (s->pyobj) Py_CLEAR(s->pyobj);
        else px_sess_free(s);
    }
    while (r->qhead) {
        px_sess *s = r->qhead;
        r->qhead = s->qnext;
        px_sess_free(s);
    }
    r->qtail = NULL;
    r->qn = r->qbytes = 0;
    Py_RETURN_NONE;
}

/* The context's counters, as a dict. */
PyObject *px_run_stats(PyObject *runcap) {
    px_run *r = px_run_of(runcap);
    const tcps_stats *st;
    if (!r) return NULL;
    if (!r->ctx) return PyDict_New();
    st = tcps_ctx_stats(r->ctx);
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
    px_sess *s = px_sess_of(cap);
    const tcps_session *t;
    PyObject *vl;
    int i;
    if (!s) return NULL;
    t = s->live ? s->live : &s->snap;
    vl = PyTuple_New(t->vlan_count < TCPS_MAX_VLAN ? t->vlan_count : TCPS_MAX_VLAN);
    if (!vl) return NULL;
    for (i = 0; i < PyTuple_GET_SIZE(vl); i++) PyTuple_SET_ITEM(vl, i, PyLong_FromLong(t->vlan[i]));
    return Py_BuildValue("(iKNNiiiN(Li)(Li)KKKNN)", s->closed, (unsigned long long)t->stream, px_endpoint(&t->client),
                         px_endpoint(&t->server), (int)t->first_dir, s->closed ? (int)s->snap.end : (int)t->end,
                         (int)t->handshake, vl, (long long)t->first_ts.sec, (int)t->first_ts.nsec,
                         (long long)t->last_ts.sec, (int)t->last_ts.nsec, (unsigned long long)t->first_frame,
                         (unsigned long long)t->last_frame, (unsigned long long)t->packets, px_dir(&t->dir[0]),
                         px_dir(&t->dir[1]));
}

/* The bytes delivered one way (None when they were not kept). */
PyObject *px_sess_data(PyObject *cap, int dir) {
    px_sess *s = px_sess_of(cap);
    if (!s) return NULL;
    if (!(s->opts & PX_DATA)) Py_RETURN_NONE;
    dir &= 1;
    {
        PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)s->len[dir]);
        char *w;
        const px_block *b;
        if (!out) return NULL;
        w = PyBytes_AS_STRING(out);
        for (b = s->head[dir]; b; b = b->next) {
            memcpy(w, b->d, b->len);
            w += b->len;
        }
        return out;
    }
}

/* Drop the kept bytes now. */
PyObject *px_sess_release(PyObject *cap) {
    px_sess *s = px_sess_of(cap);
    int i;
    if (!s) return NULL;
    (void)i;
    px_free_blocks(s);
    s->opts &= ~(unsigned)PX_DATA;
    Py_RETURN_NONE;
}

/* [(dir, offset, length, ts sec, ts nsec, frame, data_frame, pos), ...] */
PyObject *px_sess_chunks(PyObject *cap) {
    px_sess *s = px_sess_of(cap);
    PyObject *l;
    size_t i;
    if (!s) return NULL;
    if (!(s->opts & PX_CHUNKS)) Py_RETURN_NONE;
    l = PyList_New((Py_ssize_t)s->nch);
    if (!l) return NULL;
    for (i = 0; i < s->nch; i++) {
        const px_chunk *c = &s->ch[i];
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
    px_sess *s = px_sess_of(cap);
    PyObject *l;
    size_t i;
    if (!s) return NULL;
    if (!(s->opts & PX_CHUNKS)) Py_RETURN_NONE;
    l = PyList_New((Py_ssize_t)s->ngp);
    if (!l) return NULL;
    for (i = 0; i < s->ngp; i++) {
        const px_gap *g = &s->gp[i];
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
    px_sess *s = px_sess_of(cap);
    if (!s) return NULL;
    if (!(s->opts & PX_SHA) || !s->closed) Py_RETURN_NONE;
    return PyUnicode_FromString(s->sha_hex[dir & 1]);
}

/* The session as `tcpsession list --json` prints it (one line, no newline),
   written by the shared layer; capture: the capture's name as bytes (None:
   "capture":null); c2s_hex, s2c_hex: the hashes when the binding did not
   compute them ("" to use its own). */
PyObject *px_sess_list_json(PyObject *cap, PyObject *capture, const char *c2s_hex, const char *s2c_hex) {
    px_sess *s = px_sess_of(cap);
    const tcps_session *t;
    tsl_row row;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    PyObject *out;
    int i;
    if (!s) return NULL;
    if (capture != Py_None && !PyBytes_Check(capture)) {
        PyErr_SetString(PyExc_TypeError, "capture: bytes or None");
        return NULL;
    }
    t = s->live ? s->live : &s->snap;
    row.stream = t->stream;
    row.packets = t->packets;
    row.client = t->client;
    row.server = t->server;
    for (i = 0; i < 2; i++) {
        const char *given = i ? s2c_hex : c2s_hex;
        row.bytes[i] = t->dir[i].bytes;
        row.missing[i] = t->dir[i].missing;
        snprintf(row.sha256[i], sizeof row.sha256[i], "%s", *given || !(s->opts & PX_SHA) ? given : s->sha_hex[i]);
    }
    row.first = t->first_ts;
    row.last = t->last_ts;
    row.end = s->closed ? s->snap.end : t->end;
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
