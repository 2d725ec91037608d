/* The session collector: a capture read with tcps_next, a tsl_session per
   open session with its counters and digests, the caller's hooks. */
#include "tsl.h"
#include <stdlib.h>
#include <string.h>

typedef struct collector {
    const tsl_hooks *hooks;
    tcps_allocator mem;  /* the config's, else libc */
    unsigned flags;
    uint64_t sessions;
    tsl_session *open; /* sessions not closed yet */
} collector;

static void *libc_alloc(size_t size, void *user) {
    (void)user;
    return malloc(size);
}
static void libc_free(void *p, size_t size, void *user) {
    (void)size, (void)user;
    free(p);
}

static void ss_free(collector *c, tsl_session *ss) {
    tsl_hash_free(ss->sha_[0]);
    tsl_hash_free(ss->sha_[1]);
    c->mem.free(ss, sizeof *ss, c->mem.user);
}

static int on_open(collector *c, const tcps_event *ev) {
    tsl_session *ss = (tsl_session *)c->mem.alloc(sizeof *ss, c->mem.user);
    tcps_session *s = ev->session;
    if (!ss) return TCPS_E_NOMEM;
    memset(ss, 0, sizeof *ss);
    if (c->flags & TSL_HASH) {
        ss->sha_[0] = tsl_hash_new(TSL_SHA256);
        ss->sha_[1] = tsl_hash_new(TSL_SHA256);
        if (!ss->sha_[0] || !ss->sha_[1]) {
            ss_free(c, ss);
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
    return c->hooks->open ? c->hooks->open(ss, ev, c->hooks->user) : 0;
}

static int on_close(collector *c, tsl_session *ss, const tcps_event *ev) {
    int i, r;
    for (i = 0; i < 2; i++)
        if (ss->sha_[i]) tsl_hash_hex(ss->sha_[i], ss->dir[i].sha256);
    ss->end = ev->reason;
    r = c->hooks->close ? c->hooks->close(ss, ev, c->hooks->user) : 0;
    ev->session->user = NULL;
    if (ss->prev_) ss->prev_->next_ = ss->next_;
    else c->open = ss->next_;
    if (ss->next_) ss->next_->prev_ = ss->prev_;
    ss_free(c, ss);
    return r;
}

static int dispatch(collector *c, const tcps_event *ev) {
    tsl_session *ss;
    tsl_dir *d;
    if (ev->type == TCPS_EV_OPEN) return on_open(c, ev);
    ss = (tsl_session *)ev->session->user;
    if (!ss) return 0;
    d = &ss->dir[ev->dir & 1];
    switch (ev->type) {
    case TCPS_EV_DATA:
        if (ss->sha_[ev->dir]) tsl_hash_update(ss->sha_[ev->dir], ev->data.ptr, ev->data.len);
        d->bytes += ev->data.len;
        d->chunks++;
        return c->hooks->data ? c->hooks->data(ss, ev, c->hooks->user) : 0;
    case TCPS_EV_GAP:
        d->missing += ev->length;
        d->gaps++;
        return c->hooks->gap ? c->hooks->gap(ss, ev, c->hooks->user) : 0;
    case TCPS_EV_CLOSE: return on_close(c, ss, ev);
    default: return 0;
    }
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

static void set_err(char *err, size_t errlen, const tcps_error *e, int rc) {
    if (!err || !errlen) return;
    if (e && e->code == rc && e->message[0])
        snprintf(err, errlen, "%s at byte %llu (%s)", e->message, (unsigned long long)e->offset,
                 tcps_result_name(rc));
    else
        snprintf(err, errlen, "%s", tcps_result_message(rc));
}

int tsl_collect(tcps_reader *rd, const tcps_config *base, unsigned flags, const tsl_hooks *hooks,
                tcps_stats *stats, tcps_decode_stats *dstats, char *err, size_t errlen) {
    static const tsl_hooks none;
    tcps_config cfg;
    tcps_ctx *ctx;
    tcps_event ev;
    tcps_packet pkt;
    collector c;
    int rc, rerr = 0, finished = 0;
    if (err && errlen) err[0] = 0;
    if (base) cfg = *base;
    else memset(&cfg, 0, sizeof cfg);
    memset(&cfg.callbacks, 0, sizeof cfg.callbacks);
    cfg.flags |= TCPS_F_PULL;
    memset(&c, 0, sizeof c);
    c.hooks = hooks ? hooks : &none;
    c.flags = flags;
    c.mem = cfg.allocator;
    if (!c.mem.alloc || !c.mem.free) {
        c.mem.alloc = libc_alloc;
        c.mem.free = libc_free;
        c.mem.user = NULL;
    }
    rc = tcps_create(&ctx, &cfg);
    if (rc != TCPS_OK) {
        set_err(err, errlen, NULL, rc);
        return rc;
    }
    /* a packet at a time, its events queued (TCPS_F_PULL) and taken with
       tcps_next, then the packet hook; at the end (or a capture error) the
       queue of tcps_finish */
    for (rc = TCPS_OK; rc == TCPS_OK && !finished;) {
        int r = tcps_reader_next(rd, &pkt);
        if (r == TCPS_OK) {
            rc = tcps_feed_packet(ctx, &pkt);
        } else {
            if (r < 0) rerr = r;
            rc = tcps_finish(ctx);
            finished = 1;
        }
        if (rc < 0) break;
        while ((rc = tcps_next(ctx, NULL, &ev)) == TCPS_OK)
            if ((rc = dispatch(&c, &ev)) != 0) break;
        if (rc == TCPS_DONE) rc = TCPS_OK;
        if (rc == TCPS_OK && !finished && c.hooks->packet) rc = c.hooks->packet(c.sessions, c.hooks->packet_user);
    }
    /* the capture's error, after every session before it was delivered; a
       hook that stopped while they closed does not hide it */
    if (rerr && rc >= 0) rc = rerr;
    if (rc < 0) set_err(err, errlen, rc == rerr ? tcps_reader_error(rd) : tcps_ctx_error(ctx), rc);
    if (stats) {
        *stats = *tcps_ctx_stats(ctx);
        stats->decode = dstats;
    }
    if (dstats && tcps_ctx_stats(ctx)->decode) *dstats = *tcps_ctx_stats(ctx)->decode;
    tcps_destroy(ctx);
    while (c.open) { /* sessions a stop left open */
        tsl_session *ss = c.open;
        c.open = ss->next_;
        ss_free(&c, ss);
    }
    return rc;
}
