/* The session collector: the engine in pull mode, a tsl_session per
   session with its counters, digests and (on request) its bytes, chunks
   and gaps; and tsl_collect, a whole capture through it with hooks. */
#include "tsl.h"
#include <stdlib.h>
#include <string.h>

struct tsl_collector {
    tcps_ctx *ctx;
    tcps_reader *rd;    /* read when no event is left; NULL: packets fed */
    int read_state;     /* 0 reading, 1 finished (every session closed) */
    tcps_allocator mem; /* the config's, else libc */
    unsigned flags;
    uint64_t sessions;
    tsl_session *open; /* sessions not closed yet */
    tcps_error err;    /* the first error */
    tcps_event retry;  /* an event not taken for want of memory */
    int has_retry;
    tsl_hashq *hq;     /* TSL_HASH_THREAD: the digest thread */
};

/* ------------------------------------------------------------ sessions */

#define BLOCK_MIN 256
#define BLOCK_MAX 64000

static void free_blocks(tsl_session *ss) {
    int i;
    for (i = 0; i < 2; i++) {
        tsl_block *b = ss->data[i];
        while (b) {
            tsl_block *nx = b->next;
            ss->mem_.free(b, offsetof(tsl_block, d) + b->cap, ss->mem_.user);
            b = nx;
        }
        ss->data[i] = ss->tail_[i] = NULL;
        ss->kept[i] = 0;
    }
}

void tsl_session_release(tsl_session *ss, unsigned what) {
    if (!ss) return;
    if (what & TSL_KEEP_DATA) free_blocks(ss);
    if ((what & TSL_KEEP_CHUNKS) && ss->chunks) {
        ss->mem_.free(ss->chunks, ss->chcap_ * sizeof *ss->chunks, ss->mem_.user);
        ss->chunks = NULL;
        ss->nchunks = ss->chcap_ = 0;
    }
    if ((what & TSL_KEEP_GAPS) && ss->gaps) {
        ss->mem_.free(ss->gaps, ss->gpcap_ * sizeof *ss->gaps, ss->mem_.user);
        ss->gaps = NULL;
        ss->ngaps = ss->gpcap_ = 0;
    }
    ss->keep &= ~(what & (TSL_KEEP_DATA | TSL_KEEP_CHUNKS | TSL_KEEP_GAPS));
}

void tsl_session_hold(tsl_session *ss) { ss->refs_++; }

void tsl_session_free(tsl_session *ss) {
    if (!ss || --ss->refs_ > 0) return;
    tsl_session_release(ss, TSL_KEEP_DATA | TSL_KEEP_CHUNKS | TSL_KEEP_GAPS);
    tsl_hash_free(ss->sha_[0]);
    tsl_hash_free(ss->sha_[1]);
    ss->mem_.free(ss, sizeof *ss, ss->mem_.user);
}

size_t tsl_session_copy(const tsl_session *ss, int dir, uint64_t pos, void *dst, size_t n) {
    const tsl_block *b;
    unsigned char *w = (unsigned char *)dst;
    size_t done = 0;
    for (b = ss->data[dir & 1]; b && done < n; b = b->next) {
        size_t k;
        if (pos >= b->len) {
            pos -= b->len;
            continue;
        }
        k = b->len - (size_t)pos;
        if (k > n - done) k = n - done;
        memcpy(w + done, b->d + pos, k);
        done += k;
        pos = 0;
    }
    return done;
}

/* Append n bytes to direction d; -1 when out of memory (nothing kept):
   the blocks needed are made first. */
static int keepbytes(tsl_session *ss, int d, const unsigned char *p, size_t n) {
    tsl_block *b = ss->tail_[d], *first = NULL, *last = NULL;
    size_t room = b ? b->cap - b->len : 0, cap = b ? b->cap : 0;
    while (room < n) {
        tsl_block *nb;
        cap = cap ? cap * 2 : BLOCK_MIN;
        if (cap > BLOCK_MAX) cap = BLOCK_MAX;
        if (!b && !first && n > cap) cap = n < BLOCK_MAX ? n : BLOCK_MAX;
        nb = (tsl_block *)ss->mem_.alloc(offsetof(tsl_block, d) + cap, ss->mem_.user);
        if (!nb) {
            while (first) {
                nb = first->next;
                ss->mem_.free(first, offsetof(tsl_block, d) + first->cap, ss->mem_.user);
                first = nb;
            }
            return -1;
        }
        nb->next = NULL;
        nb->len = 0;
        nb->cap = cap;
        if (last) last->next = nb;
        else first = nb;
        last = nb;
        room += cap;
    }
    if (first) {
        if (b) b->next = first;
        else ss->data[d] = first;
        ss->tail_[d] = last;
    }
    if (!b) b = first;
    while (n) {
        size_t k = b->cap - b->len;
        if (k > n) k = n;
        memcpy(b->d + b->len, p, k);
        b->len += k;
        ss->kept[d] += k;
        p += k;
        n -= k;
        b = b->next;
    }
    return 0;
}

/* Room for one more of *n items of size sz in *v (capacity *cap). */
static int grow(const tcps_allocator *m, void **v, size_t *cap, size_t n, size_t sz) {
    size_t nc;
    void *p;
    if (n < *cap) return 0;
    nc = *cap ? *cap * 2 : 16;
    if (nc > ((size_t)-1) / sz) return -1;
    if (!(p = tsl_mem_realloc(m, *v, *cap * sz, nc * sz))) return -1;
    *v = p;
    *cap = nc;
    return 0;
}

/* ----------------------------------------------------------- collector */

static int on_open(tsl_collector *c, const tcps_event *ev, tsl_session **out) {
    tsl_session *ss = (tsl_session *)c->mem.alloc(sizeof *ss, c->mem.user);
    tcps_session *s = ev->session;
    if (!ss) return TCPS_E_NOMEM;
    memset(ss, 0, sizeof *ss);
    ss->refs_ = 1;
    ss->mem_ = c->mem;
    ss->keep = c->flags;
    if (c->flags & TSL_HASH) {
        ss->sha_[0] = tsl_hash_new(TSL_SHA256);
        ss->sha_[1] = tsl_hash_new(TSL_SHA256);
        if (!ss->sha_[0] || !ss->sha_[1]) {
            tsl_session_free(ss);
            return TCPS_E_NOMEM;
        }
    }
    ss->s = s;
    ss->stream = s->stream;
    ss->client = s->client;
    ss->server = s->server;
    ss->first_dir = s->first_dir;
    s->user = ss;
    ss->next_ = c->open;
    if (c->open) c->open->prev_ = ss;
    c->open = ss;
    c->sessions++;
    *out = ss;
    return TCPS_OK;
}

static void unlink_open(tsl_collector *c, tsl_session *ss) {
    if (ss->prev_) ss->prev_->next_ = ss->next_;
    else c->open = ss->next_;
    if (ss->next_) ss->next_->prev_ = ss->prev_;
    ss->prev_ = ss->next_ = NULL;
}

static void on_close(tsl_collector *c, tsl_session *ss, const tcps_event *ev) {
    int i;
    if (c->hq && (ss->sha_[0] || ss->sha_[1])) tsl_hashq_wait(c->hq); /* its bytes are hashed */
    for (i = 0; i < 2; i++)
        if (ss->sha_[i]) {
            tsl_hash_hex(ss->sha_[i], ss->dir[i].sha256);
            tsl_hash_free(ss->sha_[i]);
            ss->sha_[i] = NULL;
        }
    ss->final = *ev->session;
    ss->final.user = NULL;
    ss->final.end = (uint8_t)ev->reason;
    ss->s = &ss->final;
    ss->end = ev->reason;
    ss->closed = 1;
    ev->session->user = NULL;
    unlink_open(c, ss);
}

/* Keep what the event says in its session. 0, or TCPS_E_NOMEM with
   nothing changed. */
static int take(tsl_collector *c, const tcps_event *ev, tsl_session *ss) {
    tsl_dir *d = &ss->dir[ev->dir & 1];
    int k = ev->dir & 1;
    switch (ev->type) {
    case TCPS_EV_DATA:
        if (ss->keep & TSL_KEEP_CHUNKS) {
            tsl_chunk *ch;
            if (grow(&c->mem, (void **)&ss->chunks, &ss->chcap_, ss->nchunks, sizeof *ss->chunks))
                return TCPS_E_NOMEM;
            ch = &ss->chunks[ss->nchunks];
            ch->offset = ev->offset;
            ch->length = ev->data.len;
            ch->pos = d->bytes;
            ch->frame = ev->frame;
            ch->data_frame = ev->data_frame;
            ch->ts = ev->ts;
            ch->dir = k;
        }
        if ((ss->keep & TSL_KEEP_DATA) && keepbytes(ss, k, ev->data.ptr, ev->data.len)) return TCPS_E_NOMEM;
        if (ss->keep & TSL_KEEP_CHUNKS) ss->nchunks++;
        if (ss->sha_[k]) {
            if (c->hq) tsl_hashq_add(c->hq, ss->sha_[k], ev->data.ptr, ev->data.len);
            else tsl_hash_update(ss->sha_[k], ev->data.ptr, ev->data.len);
        }
        d->bytes += ev->data.len;
        d->chunks++;
        return 0;
    case TCPS_EV_GAP:
        if (ss->keep & TSL_KEEP_GAPS) {
            tsl_gap *g;
            if (grow(&c->mem, (void **)&ss->gaps, &ss->gpcap_, ss->ngaps, sizeof *ss->gaps)) return TCPS_E_NOMEM;
            g = &ss->gaps[ss->ngaps++];
            g->offset = ev->offset;
            g->length = ev->length;
            g->frame = ev->frame;
            g->ts = ev->ts;
            g->dir = k;
            g->reason = ev->reason;
        }
        d->missing += ev->length;
        d->gaps++;
        return 0;
    case TCPS_EV_CLOSE: on_close(c, ss, ev); return 0;
    default: return 0;
    }
}

static void note_error(tsl_collector *c, const tcps_error *e, int code) {
    if (c->err.code) return;
    c->err = *e;
    c->err.code = code;
}

int tsl_collector_new(tsl_collector **out, const tcps_config *base, unsigned flags) {
    tcps_config cfg;
    tsl_collector *c;
    int rc;
    if (!out) return TCPS_E_ARG;
    *out = NULL;
    if (base) cfg = *base;
    else memset(&cfg, 0, sizeof cfg);
    memset(&cfg.callbacks, 0, sizeof cfg.callbacks);
    cfg.flags |= TCPS_F_PULL;
    tsl_mem_default(&cfg.allocator);
    c = (tsl_collector *)cfg.allocator.alloc(sizeof *c, cfg.allocator.user);
    if (!c) return TCPS_E_NOMEM;
    memset(c, 0, sizeof *c);
    c->mem = cfg.allocator;
    c->flags = flags;
    rc = tcps_create(&c->ctx, &cfg);
    if (rc == TCPS_OK && (flags & (TSL_HASH | TSL_HASH_THREAD)) == (TSL_HASH | TSL_HASH_THREAD) &&
        (rc = tsl_hashq_new(&c->hq, &c->mem)) == TCPS_E_LIMIT)
        rc = TCPS_OK; /* no thread: digests on the caller's */
    if (rc != TCPS_OK) {
        if (c->ctx) tcps_destroy(c->ctx);
        c->mem.free(c, sizeof *c, c->mem.user);
        return rc;
    }
    *out = c;
    return TCPS_OK;
}

void tsl_collector_read(tsl_collector *c, tcps_reader *rd) {
    c->rd = rd;
    c->read_state = 0;
}

static int fed(tsl_collector *c, int rc) {
    if (rc < 0) note_error(c, tcps_ctx_error(c->ctx), rc);
    return rc;
}

int tsl_collector_feed_packet(tsl_collector *c, const tcps_packet *pkt) {
    return fed(c, tcps_feed_packet(c->ctx, pkt));
}

int tsl_collector_feed_frame(tsl_collector *c, uint32_t linktype, tcps_time ts, const void *frame,
                             size_t caplen, size_t origlen) {
    return fed(c, tcps_feed_frame(c->ctx, linktype, ts, frame, caplen, origlen));
}

int tsl_collector_finish(tsl_collector *c) { return fed(c, tcps_finish(c->ctx)); }

int tsl_collector_next(tsl_collector *c, tcps_event *ev, tsl_session **out) {
    for (;;) {
        tcps_event e;
        tsl_session *ss;
        int rc;
        if (c->has_retry) {
            e = c->retry;
            c->has_retry = 0;
            rc = TCPS_OK;
        } else rc = tcps_next(c->ctx, NULL, &e);
        if (rc == TCPS_OK) {
            if (e.type == TCPS_EV_OPEN) rc = on_open(c, &e, &ss);
            else if ((ss = (tsl_session *)e.session->user) != NULL) rc = take(c, &e, ss);
            else continue;
            if (rc != TCPS_OK) { /* the same event again on the next call */
                c->retry = e;
                c->has_retry = 1;
                return rc;
            }
            *ev = e;
            *out = ss;
            return TCPS_OK;
        }
        if (rc != TCPS_DONE) return fed(c, rc);
        if (!c->rd || c->read_state) return TCPS_DONE;
        {
            tcps_packet pkt;
            int r = tcps_reader_next(c->rd, &pkt);
            if (r == TCPS_OK) {
                if ((rc = tsl_collector_feed_packet(c, &pkt)) < 0) return rc;
                continue;
            }
            if (r < 0) note_error(c, tcps_reader_error(c->rd), r);
            c->read_state = 1;
            if ((rc = tsl_collector_finish(c)) < 0) return rc;
        }
    }
}

const tcps_error *tsl_collector_error(const tsl_collector *c) { return &c->err; }
const tcps_stats *tsl_collector_stats(const tsl_collector *c) { return tcps_ctx_stats(c->ctx); }
uint64_t tsl_collector_sessions(const tsl_collector *c) { return c->sessions; }

void tsl_collector_free(tsl_collector *c) {
    tcps_allocator m;
    if (!c) return;
    tsl_hashq_free(c->hq); /* no piece of a digest is hashed after this */
    while (c->open) {
        tsl_session *ss = c->open;
        unlink_open(c, ss);
        ss->final = *ss->s;
        ss->final.user = NULL;
        ss->s = &ss->final;
        if (!ss->held) tsl_session_free(ss);
    }
    tcps_destroy(c->ctx);
    m = c->mem;
    m.free(c, sizeof *c, m.user);
}

void tsl_session_row(const tsl_session *ss, tsl_row *r) {
    int i;
    r->stream = ss->stream;
    r->packets = ss->s->packets;
    r->client = ss->client;
    r->server = ss->server;
    for (i = 0; i < 2; i++) {
        r->bytes[i] = ss->dir[i].bytes;
        r->missing[i] = ss->dir[i].missing;
        memcpy(r->sha256[i], ss->dir[i].sha256, TSL_HEX_MAX);
    }
    r->first = ss->s->first_ts;
    r->last = ss->s->last_ts;
    r->end = ss->end;
}

/* -------------------------------------------------------- tsl_collect */

static void set_err(char *err, size_t errlen, const tcps_error *e, int rc) {
    if (!err || !errlen) return;
    if (e && e->code == rc && e->message[0])
        snprintf(err, errlen, "%s at byte %llu (%s)", e->message, (unsigned long long)e->offset,
                 tcps_result_name(rc));
    else
        snprintf(err, errlen, "%s", tcps_result_message(rc));
}

static int hook(const tsl_hooks *h, const tcps_event *ev, tsl_session *ss) {
    int (*fn)(tsl_session *, const tcps_event *, void *) = NULL;
    switch (ev->type) {
    case TCPS_EV_OPEN: fn = h->open; break;
    case TCPS_EV_DATA: fn = h->data; break;
    case TCPS_EV_GAP: fn = h->gap; break;
    case TCPS_EV_CLOSE: fn = h->close; break;
    default: break;
    }
    return fn ? fn(ss, ev, h->user) : 0;
}

int tsl_collect(tcps_reader *rd, const tcps_config *cfg, unsigned flags, const tsl_hooks *hooks,
                tcps_stats *stats, tcps_decode_stats *dstats, char *err, size_t errlen) {
    static const tsl_hooks none;
    const tsl_hooks *h = hooks ? hooks : &none;
    tsl_collector *c;
    tcps_event ev;
    tsl_session *ss;
    int rc, rerr = 0, finished = 0;
    if (err && errlen) err[0] = 0;
    rc = tsl_collector_new(&c, cfg, flags);
    if (rc != TCPS_OK) {
        set_err(err, errlen, NULL, rc);
        return rc;
    }
    /* a packet at a time, its events taken, then the packet hook; at the
       end (or a capture error) the events of tcps_finish */
    for (rc = TCPS_OK; rc == TCPS_OK && !finished;) {
        tcps_packet pkt;
        int r = tcps_reader_next(rd, &pkt);
        if (r == TCPS_OK) {
            rc = tsl_collector_feed_packet(c, &pkt);
        } else {
            if (r < 0) {
                rerr = r;
                note_error(c, tcps_reader_error(rd), r);
            }
            rc = tsl_collector_finish(c);
            finished = 1;
        }
        if (rc < 0) break;
        while ((rc = tsl_collector_next(c, &ev, &ss)) == TCPS_OK) {
            int hr = hook(h, &ev, ss);
            if (ev.type == TCPS_EV_CLOSE) tsl_session_free(ss);
            if ((rc = hr) != 0) break;
        }
        if (rc == TCPS_DONE) rc = TCPS_OK;
        if (rc == TCPS_OK && !finished && h->packet) rc = h->packet(tsl_collector_sessions(c), h->packet_user);
    }
    /* the capture's error, after every session before it was delivered; a
       hook that stopped while they closed does not hide it */
    if (rerr && rc >= 0) rc = rerr;
    if (rc < 0) set_err(err, errlen, rc == rerr ? tcps_reader_error(rd) : tsl_collector_error(c), rc);
    if (stats) {
        *stats = *tsl_collector_stats(c);
        stats->decode = dstats;
    }
    if (dstats && tsl_collector_stats(c)->decode) *dstats = *tsl_collector_stats(c)->decode;
    tsl_collector_free(c);
    return rc;
}
