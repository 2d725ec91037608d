/* refmodel.h - a reference model of tcpsession's delivery contract, and a
   differential runner that feeds the same segments to the model and to the
   engine (tcps_feed_segment) and compares what comes out.

   The model is written to be obviously right, not fast (quadratic):

   - Per direction, every payload segment is kept in a list in arrival order,
     each waiting, used or dropped.
   - The delivered point D starts at offset 0, which is the first sequence
     number seen in that direction (+1 if that segment is a SYN); the ISN
     reported is the SYN's sequence number, else one before the first byte.
     A SYN whose data would start elsewhere moves offset 0 there while D is
     0 and nothing waits. Sequence numbers are turned into offsets by their
     signed 32-bit distance from D. Bytes before offset 0 are duplicates.
   - A FIN, while it stands, is a wall at its offset: a segment arriving
     across it is cut in two there, and what lies at or beyond it waits.
   - Delivery step: a waiting segment with start <= D (and not beyond the
     wall) ends, for delivery, at its end or at the wall, whichever is first.
     If that is not beyond D it is used up as a duplicate. Else, among such
     segments, the first in arrival order (the last, for TCPS_OVERLAP_LAST)
     wins and gives its bytes from D to that end (captured bytes as DATA,
     the rest as a TRUNCATED gap); the rest of it, beyond the wall, is lost.
     Repeat until no waiting segment covers D.
   - An ACK (ACK flag, peer direction started, not before offset 0, not more
     than 2^30 ahead of D) more than one byte beyond a standing FIN shows the
     receiver never took the FIN: it is forgotten and what waited behind it
     is ordinary data. Then, while the ACK is above the start of the lowest
     waiting segment, the hole before it becomes a gap (ACKED) and delivery
     goes on from that segment; if that segment lies beyond the FIN, all
     that waits is dropped instead.
   - A RST closes the connection unless its ACK (when it has one and the
     peer started) is not sane in the sense above, or its sequence number
     (when its direction had started before it) lies more than 64 KiB behind
     D or more than 2^30 ahead. When both directions have delivered up to
     their FIN, the connection closes by FIN. The first of these to happen
     gives the end reason; without one it is FIN if both sides sent a FIN,
     else EOF.
   - At the end, each direction (the first sender's first): every hole with
     data beyond it becomes a CLOSE gap, up to the FIN (what waits beyond the
     FIN is dropped); then the tail up to the FIN (if a FIN stands), or else
     up to the highest ACK when it is more than one byte beyond D, becomes a
     gap (ACKED when the peer acknowledged it all).

   The runner keeps to one connection: one 4-tuple, no idle timeout, linger
   long enough never to end before tcps_finish (so a RST or the FINs only
   decide the end reason), and a SYN without ACK that would start a new
   connection (a started direction, another ISN) gets the ACK flag.
   Memory limits: the model has none. When the input asks for small limits
   and the engine reports LIMIT gaps, or data waited behind a FIN (the
   engine may drop it to make room, without a gap), only the event
   invariants and the origin of every delivered byte are checked. */
#ifndef TCPS_REFMODEL_H
#define TCPS_REFMODEL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tcpsession.h"

#define RM_MAX_SEGS 4096
#define RM_PORT0 1000
#define RM_PORT1 2000
#define RM_FLAGS (TCPS_TH_SYN | TCPS_TH_ACK | TCPS_TH_FIN | TCPS_TH_RST | TCPS_TH_PSH)

/* ---------------------------------------------------------------- input */

/* One segment, from endpoint 0 or 1. Its payload is made by rm_pattern. */
typedef struct rm_seg_in {
    int from;
    uint16_t flags;
    uint32_t seq, ack;
    uint32_t len;    /* on the wire */
    uint32_t caplen; /* captured (<= len) */
    uint8_t tag;     /* 0: the same bytes as any other copy; else different */
} rm_seg_in;

typedef struct rm_input {
    int overlap;                           /* TCPS_OVERLAP_* */
    size_t max_buffer_dir, max_buffer_total; /* 0: defaults (never reached here) */
    rm_seg_in *v;
    size_t n, cap;
} rm_input;

static void rm_die(const char *what) {
    fprintf(stderr, "refmodel: out of memory (%s)\n", what);
    abort();
}

static void *rm_xrealloc(void *p, size_t size) {
    void *q = realloc(p, size ? size : 1);
    if (!q) rm_die("realloc");
    return q;
}

static void rm_input_add(rm_input *in, const rm_seg_in *s) {
    if (in->n == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 64;
        in->v = (rm_seg_in *)rm_xrealloc(in->v, in->cap * sizeof *in->v);
    }
    in->v[in->n++] = *s;
}

static void rm_input_free(rm_input *in) {
    free(in->v);
    in->v = NULL;
    in->n = in->cap = 0;
}

/* The byte a segment from `from` carries at sequence number seq. Copies
   with the same tag agree; different tags give different bytes. */
static uint8_t rm_pattern(int from, uint32_t seq, uint8_t tag) {
    uint32_t h = seq * 2654435761u;
    return (uint8_t)((h >> 24) ^ (from ? 0x5a : 0x00) ^ tag);
}

/* ------------------------------------------------------- recorded output */

typedef struct rm_ev {
    int type;     /* TCPS_EV_* */
    int from;     /* endpoint whose bytes these are (OPEN: first sender) */
    uint64_t off, len;
    int reason;
    uint64_t frame, data_frame;
} rm_ev;

typedef struct rm_totals {
    uint64_t bytes, missing, gaps, dup_bytes, ooo_segments, packets, payload_packets;
    uint32_t isn;
    int syn_seen, fin_seen, rst_seen;
} rm_totals;

typedef struct rm_out {
    rm_ev *ev;
    size_t nev, evcap;
    uint8_t *bytes[2]; /* delivered bytes, concatenated, by endpoint */
    size_t nbytes[2], bcap[2];
    uint64_t next[2];  /* offset the next DATA/GAP must start at */
    rm_totals t[2];
    int opened, closed, end_reason;
    /* what the model went through (to see what a generator reaches) */
    int rebases, fin_voids, fin_drops, rst_ignored, walled;
    int older;         /* segments dropped as an earlier connection's */
    int errors;        /* invariant violations */
    char err[256];     /* the first one */
} rm_out;

static void rm_out_free(rm_out *o) {
    free(o->ev);
    free(o->bytes[0]);
    free(o->bytes[1]);
    memset(o, 0, sizeof *o);
}

static void rm_fail(rm_out *o, const char *msg, unsigned long long a, unsigned long long b) {
    if (!o->errors++) snprintf(o->err, sizeof o->err, "%s (%llu, %llu)", msg, a, b);
}

static void rm_out_event(rm_out *o, int type, int from, uint64_t off, uint64_t len, int reason, uint64_t frame,
                         uint64_t data_frame, const uint8_t *data) {
    rm_ev *e;
    if (o->closed) rm_fail(o, "event after CLOSE", (unsigned long long)type, 0);
    if (type == TCPS_EV_OPEN) {
        if (o->opened) rm_fail(o, "second OPEN", 0, 0);
        o->opened = 1;
    } else if (!o->opened) {
        rm_fail(o, "event before OPEN", (unsigned long long)type, 0);
    }
    if (type == TCPS_EV_CLOSE) o->closed = 1;
    if (type == TCPS_EV_DATA || type == TCPS_EV_GAP) {
        if (from < 0 || from > 1) {
            rm_fail(o, "bad direction", (unsigned long long)from, 0);
            return;
        }
        if (off != o->next[from]) rm_fail(o, "offset not contiguous", (unsigned long long)off, o->next[from]);
        if (len == 0) rm_fail(o, "empty DATA or GAP", (unsigned long long)type, off);
        o->next[from] = off + len;
    }
    if (type == TCPS_EV_DATA) {
        size_t need = o->nbytes[from] + (size_t)len;
        if (need > o->bcap[from]) {
            size_t nc = o->bcap[from] ? o->bcap[from] : 256;
            while (nc < need) nc *= 2;
            o->bytes[from] = (uint8_t *)rm_xrealloc(o->bytes[from], nc);
            o->bcap[from] = nc;
        }
        memcpy(o->bytes[from] + o->nbytes[from], data, (size_t)len);
        o->nbytes[from] = need;
    }
    if (o->nev == o->evcap) {
        o->evcap = o->evcap ? o->evcap * 2 : 64;
        o->ev = (rm_ev *)rm_xrealloc(o->ev, o->evcap * sizeof *o->ev);
    }
    e = &o->ev[o->nev++];
    e->type = type;
    e->from = from;
    e->off = off;
    e->len = len;
    e->reason = reason;
    e->frame = frame;
    e->data_frame = data_frame;
}

/* ----------------------------------------------------------------- model */

#define RM_WAIT 0    /* not used yet: waits for the delivered point */
#define RM_USED 1    /* gave its bytes, or was found wholly delivered */
#define RM_DROPPED 2 /* beyond a FIN the receiver took: thrown away */

typedef struct rm_mseg {
    uint64_t start;
    uint32_t caplen, wirelen;
    uint8_t *data;
    uint64_t frame;
    int state; /* RM_WAIT, RM_USED, RM_DROPPED */
} rm_mseg;

typedef struct rm_mdir {
    int started;
    uint32_t isn, base;
    uint64_t D;
    rm_mseg *s;
    size_t n, cap;
    int fin;
    uint64_t fin_off;
    int ack_seen;
    uint64_t acked;
    uint64_t dup;
} rm_mdir;

typedef struct rm_model {
    int policy;
    int opened, first_from;
    int closing;      /* TCPS_END_RST or TCPS_END_FIN once closing; 0 before */
    uint64_t frame;
    rm_mdir d[2];
    rm_out *out;
} rm_model;

static void rm_model_init(rm_model *m, int policy, rm_out *out) {
    memset(m, 0, sizeof *m);
    m->policy = policy;
    m->out = out;
}

static void rm_model_free(rm_model *m) {
    int k;
    size_t i;
    for (k = 0; k < 2; k++) {
        for (i = 0; i < m->d[k].n; i++) free(m->d[k].s[i].data);
        free(m->d[k].s);
    }
    memset(m, 0, sizeof *m);
}

/* Offset of seq: its signed 32-bit distance from the delivered point. */
static int64_t rm_offset(const rm_mdir *d, uint32_t seq) {
    uint32_t here = d->base + (uint32_t)d->D;
    uint32_t diff = seq - here;
    int64_t delta = diff >= 0x80000000u ? (int64_t)diff - 4294967296LL : (int64_t)diff;
    return (int64_t)d->D + delta;
}

/* Bytes at or beyond a FIN (while it stands) are behind the wall. */
static int rm_walled(const rm_mdir *d, uint64_t start) { return d->fin && start >= d->fin_off; }

/* Where a segment's bytes end for delivery: not past a standing FIN. */
static uint64_t rm_seg_end(const rm_mdir *d, const rm_mseg *x) {
    uint64_t end = x->start + x->wirelen;
    return d->fin && end > d->fin_off ? d->fin_off : end;
}

static void rm_model_deliver(rm_model *m, int from) {
    rm_mdir *d = &m->d[from];
    for (;;) {
        rm_mseg *w = NULL;
        size_t i;
        uint64_t capend, end;
        for (i = 0; i < d->n; i++) {
            rm_mseg *x = &d->s[i];
            if (x->state != RM_WAIT || x->start > d->D || rm_walled(d, x->start)) continue;
            end = rm_seg_end(d, x);
            if (end <= d->D) { /* wholly delivered already */
                x->state = RM_USED;
                d->dup += end - x->start;
                continue;
            }
            if (!w || m->policy == TCPS_OVERLAP_LAST) w = x; /* first arrival wins, or last */
        }
        if (!w) return;
        w->state = RM_USED;
        d->dup += d->D - w->start;
        end = rm_seg_end(d, w);
        capend = w->start + w->caplen < end ? w->start + w->caplen : end;
        if (d->D < capend) {
            rm_out_event(m->out, TCPS_EV_DATA, from, d->D, capend - d->D, 0, m->frame, w->frame,
                         w->data + (d->D - w->start));
            d->D = capend;
        }
        if (d->D < end) {
            rm_out_event(m->out, TCPS_EV_GAP, from, d->D, end - d->D, TCPS_GAP_TRUNCATED, m->frame, m->frame,
                         NULL);
            d->D = end;
        }
    }
}

/* Lowest start of a waiting segment. */
static int rm_model_lowest(const rm_mdir *d, uint64_t *lo) {
    size_t i;
    int found = 0;
    *lo = 0;
    for (i = 0; i < d->n; i++) {
        const rm_mseg *x = &d->s[i];
        if (x->state == RM_WAIT && (!found || x->start < *lo)) {
            *lo = x->start;
            found = 1;
        }
    }
    return found;
}

/* Stop waiting for the hole at D: it becomes a gap up to the lowest waiting
   segment, and delivery goes on from there. When all that waits lies beyond
   the FIN, nothing more will be delivered: it is thrown away. */
static void rm_model_skip_hole(rm_model *m, int from, uint64_t lo, int reason) {
    rm_mdir *d = &m->d[from];
    size_t i;
    if (rm_walled(d, lo)) {
        for (i = 0; i < d->n; i++)
            if (d->s[i].state == RM_WAIT) d->s[i].state = RM_DROPPED;
        m->out->fin_drops++;
        return;
    }
    if (lo > d->D) {
        rm_out_event(m->out, TCPS_EV_GAP, from, d->D, lo - d->D, reason, m->frame, m->frame, NULL);
        d->D = lo;
    }
    rm_model_deliver(m, from);
}

static void rm_model_ack(rm_model *m, int from, uint32_t ack) {
    rm_mdir *d = &m->d[from];
    int64_t off;
    uint64_t lo = 0;
    if (!d->started) return;
    off = rm_offset(d, ack);
    if (off < 0 || off - (int64_t)d->D > ((int64_t)1 << 30)) return;
    if (!d->ack_seen || (uint64_t)off > d->acked) d->acked = (uint64_t)off;
    d->ack_seen = 1;
    if (d->fin && (uint64_t)off > d->fin_off + 1) { /* bytes past the FIN were taken: the FIN was not */
        d->fin = 0;
        m->out->fin_voids++;
        rm_model_deliver(m, from);
    }
    while (rm_model_lowest(d, &lo) && (uint64_t)off > lo) rm_model_skip_hole(m, from, lo, TCPS_GAP_ACKED);
}

/* Place payload [start, start + wirelen) (caplen bytes captured) that
   does not cross a standing FIN. */
static void rm_model_piece(rm_model *m, int from, uint64_t start, const uint8_t *p, uint32_t caplen,
                           uint32_t wirelen) {
    rm_mdir *d = &m->d[from];
    rm_mseg x;
    if (start + wirelen <= d->D) { /* a duplicate */
        d->dup += wirelen;
        return;
    }
    memset(&x, 0, sizeof x);
    x.start = start;
    x.wirelen = wirelen;
    x.caplen = caplen;
    x.data = (uint8_t *)rm_xrealloc(NULL, caplen);
    if (caplen) memcpy(x.data, p, caplen);
    x.frame = m->frame;
    x.state = RM_WAIT;
    if (start > d->D || rm_walled(d, start)) m->out->t[from].ooo_segments++;
    if (rm_walled(d, start)) m->out->walled++;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->s = (rm_mseg *)rm_xrealloc(d->s, d->cap * sizeof *d->s);
    }
    d->s[d->n++] = x;
    rm_model_deliver(m, from);
}

static int rm_model_finished(const rm_mdir *d) { return d->fin && d->D >= d->fin_off; }

static void rm_model_segment(rm_model *m, const rm_seg_in *g, const uint8_t *payload, uint64_t frame) {
    rm_mdir *d = &m->d[g->from], *p = &m->d[!g->from];
    rm_totals *t = &m->out->t[g->from];
    int syn = (g->flags & TCPS_TH_SYN) != 0, fresh = !d->started;
    uint32_t seq_data = g->seq + (syn ? 1u : 0u);
    size_t i;
    m->frame = frame;
    /* the first packet this way after the peer's SYN acknowledges nothing
       sent since, or is a reset without ACK (dropped in SYN-SENT): an
       earlier connection's, not this one's */
    if (m->opened && fresh && m->out->t[!g->from].syn_seen && !syn &&
        ((g->flags & TCPS_TH_ACK) ? rm_offset(p, g->ack) < 0 : (g->flags & TCPS_TH_RST) != 0)) {
        m->out->older++;
        return;
    }
    if (!m->opened) {
        m->opened = 1;
        m->first_from = g->from;
        rm_out_event(m->out, TCPS_EV_OPEN, g->from, 0, 0, 0, frame, frame, NULL);
    }
    t->packets++;
    if (syn) t->syn_seen = 1;
    if (g->flags & TCPS_TH_ACK) rm_model_ack(m, !g->from, g->ack);
    if (!d->started || (syn && d->D == 0 && d->base != seq_data &&
                        !((g->flags & TCPS_TH_ACK) && p->started && m->out->t[!g->from].syn_seen &&
                          (rm_offset(p, g->ack) < 0 || rm_offset(p, g->ack) - (int64_t)p->D > ((int64_t)1 << 30))))) {
        /* Offset 0 is the first byte seen (after the SYN's sequence number).
           A SYN moves offset 0 while nothing has been delivered or is
           waiting (with D == 0 no gap can have been reported either),
           unless it is a SYN-ACK whose ACK lies before the peer's SYN (or
           absurdly far beyond): a late one of an earlier connection on the
           4-tuple.
           A FIN or ACK offset seen before it belonged to the old
           numbering and is forgotten. */
        int waiting = 0;
        for (i = 0; i < d->n; i++) waiting |= d->s[i].state == RM_WAIT;
        if (!d->started || !waiting) {
            if (d->started) m->out->rebases++;
            d->started = 1;
            d->isn = syn ? g->seq : g->seq - 1; /* without a SYN: one before the first byte */
            d->base = seq_data;
            d->D = 0;
            d->fin = 0;
            d->ack_seen = 0;
            d->acked = 0;
            t->isn = d->isn;
        }
    }
    if (g->len) {
        int64_t start = rm_offset(d, seq_data), end = start + (int64_t)g->len;
        t->payload_packets++;
        if (end <= 0) {
            d->dup += g->len;
        } else {
            uint32_t cut = start < 0 ? (uint32_t)-start : 0;
            uint32_t wire = g->len - cut, cap = g->caplen > cut ? g->caplen - cut : 0;
            uint32_t at = cut < g->caplen ? cut : g->caplen; /* first captured byte kept */
            uint64_t s0 = (uint64_t)(start + (int64_t)cut), e0 = s0 + wire;
            d->dup += cut;
            if (d->fin && e0 > d->fin_off && e0 > d->D) {
                /* split at the FIN: the part beyond it waits behind the wall */
                if (s0 < d->fin_off) {
                    uint32_t keep = (uint32_t)(d->fin_off - s0), kc = cap < keep ? cap : keep;
                    rm_model_piece(m, g->from, s0, kc ? payload + at : NULL, kc, keep);
                    at += kc, cap -= kc, wire -= keep, s0 = d->fin_off;
                }
            }
            rm_model_piece(m, g->from, s0, cap ? payload + at : NULL, cap, wire);
        }
    }
    if (g->flags & TCPS_TH_FIN) {
        int64_t fo = rm_offset(d, seq_data) + (int64_t)g->len;
        t->fin_seen = 1;
        if (!d->fin && fo >= 0) {
            size_t i;
            d->fin = 1;
            d->fin_off = (uint64_t)fo;
            /* data that waited before the FIN came and now lies behind it
               is walled in as much as data arriving there later */
            for (i = 0; i < d->n; i++)
                if (d->s[i].state == RM_WAIT && rm_walled(d, d->s[i].start)) m->out->walled++;
        }
    }
    if (g->flags & TCPS_TH_RST) {
        /* taken only when its ACK (if any) is sane for the peer and its
           sequence number is near where this direction is */
        int ok = 1;
        t->rst_seen = 1;
        if ((g->flags & TCPS_TH_ACK) && p->started) {
            int64_t ao = rm_offset(p, g->ack);
            ok = ao >= 0 && ao - (int64_t)p->D <= ((int64_t)1 << 30);
        }
        if (ok && !fresh) {
            int64_t ro = rm_offset(d, g->seq) - (int64_t)d->D;
            ok = ro >= -65536 && ro <= ((int64_t)1 << 30);
        }
        if (!ok) m->out->rst_ignored++;
        if (ok && !m->closing) m->closing = TCPS_END_RST;
    }
    if (!m->closing && rm_model_finished(d) && rm_model_finished(p)) m->closing = TCPS_END_FIN;
}

static void rm_model_finish(rm_model *m) {
    int i, closed = 0;
    size_t k;
    if (!m->opened) return;
    for (i = 0; i < 2; i++) {
        int from = i == 0 ? m->first_from : !m->first_from;
        rm_mdir *d = &m->d[from];
        rm_totals *t = &m->out->t[from];
        const rm_mdir *p = &m->d[!from];
        uint64_t lo = 0, tail;
        while (rm_model_lowest(d, &lo)) rm_model_skip_hole(m, from, lo, TCPS_GAP_CLOSE);
        tail = d->D;
        if (d->fin) {
            if (d->fin_off > tail) tail = d->fin_off;
            closed++;
        } else if (d->ack_seen && d->acked > d->D && p->fin && p->ack_seen && p->acked > p->fin_off) {
            tail = d->acked - 1; /* the last number acknowledged: the FIN the capture missed */
            closed++;
        } else if (d->ack_seen && d->acked > d->D + 1) {
            tail = d->acked;
        }
        if (tail > d->D) {
            int why = d->ack_seen && d->acked >= tail ? TCPS_GAP_ACKED : TCPS_GAP_CLOSE;
            rm_out_event(m->out, TCPS_EV_GAP, from, d->D, tail - d->D, why, m->frame, m->frame, NULL);
            d->D = tail;
        }
        t->dup_bytes = d->dup;
    }
    if (m->closing) m->out->end_reason = m->closing;
    else m->out->end_reason =
        closed == 2 || (m->out->t[0].fin_seen && m->out->t[1].fin_seen) ? TCPS_END_FIN : TCPS_END_EOF;
    rm_out_event(m->out, TCPS_EV_CLOSE, -1, 0, 0, m->out->end_reason, m->frame, m->frame, NULL);
    /* per-direction totals from the events */
    for (k = 0; k < m->out->nev; k++) {
        const rm_ev *e = &m->out->ev[k];
        if (e->type == TCPS_EV_DATA) m->out->t[e->from].bytes += e->len;
        if (e->type == TCPS_EV_GAP) {
            m->out->t[e->from].missing += e->len;
            m->out->t[e->from].gaps++;
        }
    }
}

/* ---------------------------------------------------------------- engine */

/* The engine's per-direction totals of session s into out, by endpoint
   (c2s_from: the endpoint of the client). */
static void rm_totals_of(rm_out *out, const tcps_session *s, int c2s_from) {
    int k;
    for (k = 0; k < 2; k++) {
        const tcps_dir_stats *ds = &s->dir[k];
        rm_totals *t = &out->t[k == TCPS_C2S ? c2s_from : !c2s_from];
        t->bytes = ds->bytes;
        t->missing = ds->missing;
        t->gaps = ds->gaps;
        t->dup_bytes = ds->dup_bytes;
        t->ooo_segments = ds->ooo_segments;
        t->packets = ds->packets;
        t->payload_packets = ds->payload_packets;
        t->isn = ds->isn;
        t->syn_seen = ds->syn_seen;
        t->fin_seen = ds->fin_seen;
        t->rst_seen = ds->rst_seen;
    }
}

typedef struct rm_engine_rec {
    rm_out *out;
    const tcps_session *sess;
    int c2s_from;           /* endpoint of the client */
    uint64_t frame;         /* frame being fed (0 during finish: keep last) */
    size_t max_dir, max_total;
    const tcps_ctx *ctx;
} rm_engine_rec;

static void rm_engine_check_limits(rm_engine_rec *r, const tcps_session *s) {
    const tcps_stats *st = tcps_ctx_stats(r->ctx);
    if (st && st->buffered > r->max_total) rm_fail(r->out, "buffered over max_buffer_total", st->buffered, r->max_total);
    if (s && (s->dir[0].buffered > r->max_dir || s->dir[1].buffered > r->max_dir))
        rm_fail(r->out, "buffered over max_buffer_dir", s->dir[0].buffered > s->dir[1].buffered ? s->dir[0].buffered : s->dir[1].buffered,
                r->max_dir);
}

static int rm_engine_from(rm_engine_rec *r, const tcps_event *ev) {
    if (ev->session != r->sess) rm_fail(r->out, "event of another session", 0, 0);
    if (ev->dir != TCPS_C2S && ev->dir != TCPS_S2C) {
        rm_fail(r->out, "bad event dir", (unsigned long long)ev->dir, 0);
        return 0;
    }
    return ev->dir == TCPS_C2S ? r->c2s_from : !r->c2s_from;
}

static int rm_engine_on_open(const tcps_event *ev, void *user) {
    rm_engine_rec *r = (rm_engine_rec *)user;
    if (r->sess) rm_fail(r->out, "more than one session", 0, 0);
    r->sess = ev->session;
    r->c2s_from = ev->session->client.port == RM_PORT0 ? 0 : 1;
    rm_out_event(r->out, TCPS_EV_OPEN, rm_engine_from(r, ev), 0, 0, 0, ev->frame, ev->data_frame, NULL);
    return 0;
}

static int rm_engine_on_data(const tcps_event *ev, void *user) {
    rm_engine_rec *r = (rm_engine_rec *)user;
    if (ev->length != ev->data.len) rm_fail(r->out, "DATA length != data.len", ev->length, ev->data.len);
    rm_out_event(r->out, TCPS_EV_DATA, rm_engine_from(r, ev), ev->offset, ev->data.len, 0, ev->frame,
                 ev->data_frame, ev->data.ptr);
    rm_engine_check_limits(r, ev->session);
    return 0;
}

static int rm_engine_on_gap(const tcps_event *ev, void *user) {
    rm_engine_rec *r = (rm_engine_rec *)user;
    rm_out_event(r->out, TCPS_EV_GAP, rm_engine_from(r, ev), ev->offset, ev->length, ev->reason, ev->frame,
                 ev->frame, NULL);
    rm_engine_check_limits(r, ev->session);
    return 0;
}

static int rm_engine_on_close(const tcps_event *ev, void *user) {
    rm_engine_rec *r = (rm_engine_rec *)user;
    if (ev->session != r->sess) rm_fail(r->out, "CLOSE of another session", 0, 0);
    rm_totals_of(r->out, ev->session, r->c2s_from);
    r->out->end_reason = ev->session->end;
    if (ev->reason != ev->session->end) rm_fail(r->out, "CLOSE reason != session end", (unsigned long long)ev->reason, ev->session->end);
    rm_out_event(r->out, TCPS_EV_CLOSE, -1, 0, 0, ev->reason, ev->frame, ev->frame, NULL);
    return 0;
}

/* ---------------------------------------------------------------- runner */

typedef struct rm_result {
    int differ;           /* model and engine disagree, or an invariant broke */
    int limited;          /* the engine hit (or may have hit) a buffer limit: compared loosely */
    size_t segments;      /* fed */
    char *report;         /* when differ: what, and both outputs (malloc'd) */
} rm_result;

typedef struct rm_buf {
    char *p;
    size_t n, cap;
} rm_buf;

static void rm_printf(rm_buf *b, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void rm_printf(rm_buf *b, const char *fmt, ...) {
    va_list ap;
    int n;
    if (b->cap - b->n < 512) {
        b->cap = b->cap ? b->cap * 2 : 4096;
        b->p = (char *)rm_xrealloc(b->p, b->cap);
    }
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= b->cap - b->n) {
        b->cap = b->n + (size_t)n + 512;
        b->p = (char *)rm_xrealloc(b->p, b->cap);
        va_start(ap, fmt);
        vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
    }
    b->n += (size_t)n;
}

static const char *rm_evname(int type) {
    switch (type) {
    case TCPS_EV_OPEN: return "OPEN";
    case TCPS_EV_DATA: return "DATA";
    case TCPS_EV_GAP: return "GAP";
    case TCPS_EV_CLOSE: return "CLOSE";
    default: return "?";
    }
}

static void rm_dump_input(rm_buf *b, const rm_input *in) {
    size_t i;
    rm_printf(b, "input: overlap=%s max_buffer_dir=%lu max_buffer_total=%lu, %lu segments\n",
              in->overlap == TCPS_OVERLAP_LAST ? "LAST" : "FIRST", (unsigned long)in->max_buffer_dir,
              (unsigned long)in->max_buffer_total, (unsigned long)in->n);
    for (i = 0; i < in->n && i < 200; i++) {
        const rm_seg_in *g = &in->v[i];
        rm_printf(b, "  #%lu ep%d %s%s%s%s%s seq=%lu ack=%lu len=%lu cap=%lu tag=%u\n", (unsigned long)(i + 1), g->from,
                  g->flags & TCPS_TH_SYN ? "S" : "", g->flags & TCPS_TH_ACK ? "A" : "",
                  g->flags & TCPS_TH_FIN ? "F" : "", g->flags & TCPS_TH_RST ? "R" : "",
                  g->flags & TCPS_TH_PSH ? "P" : "", (unsigned long)g->seq,
                  (unsigned long)g->ack, (unsigned long)g->len, (unsigned long)g->caplen, g->tag);
    }
    if (i < in->n) rm_printf(b, "  ...\n");
}

static void rm_dump_out(rm_buf *b, const char *name, const rm_out *o) {
    size_t i;
    int k;
    rm_printf(b, "%s: %lu events%s%s\n", name, (unsigned long)o->nev, o->errors ? ", invariant broken: " : "",
              o->errors ? o->err : "");
    for (i = 0; i < o->nev && i < 300; i++) {
        const rm_ev *e = &o->ev[i];
        rm_printf(b, "  %-5s ep%d off=%llu len=%llu reason=%d frame=%llu data_frame=%llu\n", rm_evname(e->type),
                  e->from, (unsigned long long)e->off, (unsigned long long)e->len, e->reason,
                  (unsigned long long)e->frame, (unsigned long long)e->data_frame);
    }
    if (i < o->nev) rm_printf(b, "  ...\n");
    for (k = 0; k < 2; k++) {
        const rm_totals *t = &o->t[k];
        rm_printf(b,
                  "  ep%d: bytes=%llu missing=%llu gaps=%llu dup=%llu ooo=%llu packets=%llu payload=%llu isn=%lu "
                  "syn=%d fin=%d rst=%d\n",
                  k, (unsigned long long)t->bytes, (unsigned long long)t->missing, (unsigned long long)t->gaps,
                  (unsigned long long)t->dup_bytes, (unsigned long long)t->ooo_segments,
                  (unsigned long long)t->packets, (unsigned long long)t->payload_packets, (unsigned long)t->isn,
                  t->syn_seen, t->fin_seen, t->rst_seen);
    }
    rm_printf(b, "  end=%d\n", o->end_reason);
}

/* First difference between model (a) and engine (b), or NULL. */
static const char *rm_compare(const rm_out *a, const rm_out *b, char *why, size_t whylen) {
    size_t i, ai, bi;
    int k;
    for (k = 0; k < 2; k++) {
        /* per direction: the bytes, the gaps, the totals */
        if (a->nbytes[k] != b->nbytes[k] ||
            (a->nbytes[k] && memcmp(a->bytes[k], b->bytes[k], a->nbytes[k]) != 0)) {
            size_t n = a->nbytes[k] < b->nbytes[k] ? a->nbytes[k] : b->nbytes[k], j = 0;
            while (j < n && a->bytes[k][j] == b->bytes[k][j]) j++;
            snprintf(why, whylen, "ep%d delivered bytes differ: model %lu bytes, engine %lu, first difference at byte %lu",
                     k, (unsigned long)a->nbytes[k], (unsigned long)b->nbytes[k], (unsigned long)j);
            return why;
        }
        for (ai = 0, bi = 0;; ai++, bi++) {
            while (ai < a->nev && !(a->ev[ai].type == TCPS_EV_GAP && a->ev[ai].from == k)) ai++;
            while (bi < b->nev && !(b->ev[bi].type == TCPS_EV_GAP && b->ev[bi].from == k)) bi++;
            if (ai == a->nev && bi == b->nev) break;
            if (ai == a->nev || bi == b->nev || a->ev[ai].off != b->ev[bi].off || a->ev[ai].len != b->ev[bi].len ||
                a->ev[ai].reason != b->ev[bi].reason) {
                snprintf(why, whylen, "ep%d gap lists differ (model event %lu, engine event %lu)", k,
                         (unsigned long)ai, (unsigned long)bi);
                return why;
            }
        }
        if (memcmp(&a->t[k], &b->t[k], sizeof a->t[k]) != 0) {
            snprintf(why, whylen, "ep%d totals differ", k);
            return why;
        }
    }
    if (a->end_reason != b->end_reason) {
        snprintf(why, whylen, "end reason differs: model %d engine %d", a->end_reason, b->end_reason);
        return why;
    }
    /* the whole event sequence: order of exchange, chunks, frames */
    for (i = 0; i < a->nev || i < b->nev; i++) {
        const rm_ev *x = i < a->nev ? &a->ev[i] : NULL, *y = i < b->nev ? &b->ev[i] : NULL;
        if (!x || !y || x->type != y->type || x->from != y->from || x->off != y->off || x->len != y->len ||
            x->reason != y->reason || x->frame != y->frame || x->data_frame != y->data_frame) {
            snprintf(why, whylen, "event sequences differ at event %lu", (unsigned long)i);
            return why;
        }
    }
    return NULL;
}

/* Loose check under limits: every delivered byte is one some segment of
   that direction could have carried at that offset. */
static const char *rm_check_origin(const rm_out *b, const uint8_t tags[2][256], const uint32_t base[2],
                                   char *why, size_t whylen) {
    size_t i, pos[2] = {0, 0};
    for (i = 0; i < b->nev; i++) {
        const rm_ev *e = &b->ev[i];
        uint64_t j;
        if (e->type != TCPS_EV_DATA) continue;
        for (j = 0; j < e->len; j++) {
            uint32_t seq = base[e->from] + (uint32_t)(e->off + j);
            uint8_t got = b->bytes[e->from][pos[e->from] + j];
            int t, ok = 0;
            for (t = 0; t < 256 && !ok; t++)
                if (tags[e->from][t] && rm_pattern(e->from, seq, (uint8_t)t) == got) ok = 1;
            if (!ok) {
                snprintf(why, whylen, "ep%d byte at offset %llu was never sent", e->from,
                         (unsigned long long)(e->off + j));
                return why;
            }
        }
        pos[e->from] += (size_t)e->len;
    }
    return NULL;
}

static void rm_fill_segment(tcps_segment *g, const rm_seg_in *s, const uint8_t *payload, uint64_t frame) {
    static const uint8_t a0[4] = {10, 0, 0, 1}, a1[4] = {10, 0, 0, 2};
    memset(g, 0, sizeof *g);
    g->ts.sec = 1 + (int64_t)(frame / 1000000u);
    g->ts.nsec = (uint32_t)(frame % 1000000u) * 1000u;
    g->frame = frame;
    g->ip_version = 4;
    memcpy(g->src, s->from ? a1 : a0, 4);
    memcpy(g->dst, s->from ? a0 : a1, 4);
    g->sport = s->from ? RM_PORT1 : RM_PORT0;
    g->dport = s->from ? RM_PORT0 : RM_PORT1;
    g->seq = s->seq;
    g->ack = s->ack;
    g->flags = s->flags;
    g->window = 65535;
    g->hdr_len = 20;
    g->payload.ptr = payload;
    g->payload.len = s->caplen;
    g->payload_len = s->len;
}

/* Feed `in` to the model and the engine; fill res. Returns res->differ.
   When model_out is not NULL it receives the model's output (free it with
   rm_out_free). */
static int rm_run_ex(const rm_input *in, rm_result *res, rm_out *model_out) {
    rm_out mo, eo;
    rm_model m;
    rm_engine_rec er;
    tcps_config cfg;
    tcps_ctx *ctx = NULL;
    uint8_t *payload = NULL;
    size_t pcap = 0, i;
    uint8_t tags[2][256];
    uint32_t base[2] = {0, 0};
    char why[512];
    const char *diff = NULL;
    const tcps_stats *st;

    memset(res, 0, sizeof *res);
    memset(&mo, 0, sizeof mo);
    memset(&eo, 0, sizeof eo);
    memset(tags, 0, sizeof tags);
    rm_model_init(&m, in->overlap, &mo);
    memset(&er, 0, sizeof er);
    er.out = &eo;
    memset(&cfg, 0, sizeof cfg);
    cfg.callbacks.on_open = rm_engine_on_open;
    cfg.callbacks.on_data = rm_engine_on_data;
    cfg.callbacks.on_gap = rm_engine_on_gap;
    cfg.callbacks.on_close = rm_engine_on_close;
    cfg.user = &er;
    cfg.overlap = in->overlap;
    cfg.max_buffer_dir = in->max_buffer_dir;
    cfg.max_buffer_total = in->max_buffer_total;
    cfg.linger_ms = UINT32_MAX; /* never ends before tcps_finish */
    if (tcps_create(&ctx, &cfg) != TCPS_OK) rm_die("tcps_create");
    tcps_config_effective(ctx, &cfg);
    er.max_dir = cfg.max_buffer_dir;
    er.max_total = cfg.max_buffer_total;
    er.ctx = ctx;

    for (i = 0; i < in->n && i < RM_MAX_SEGS; i++) {
        rm_seg_in s = in->v[i];
        uint64_t frame = (uint64_t)i + 1;
        uint32_t j, syn;
        tcps_segment g;
        int rc;
        s.from = s.from ? 1 : 0;
        s.flags &= RM_FLAGS;
        if (s.caplen > s.len) s.caplen = s.len;
        /* one connection: a SYN that would start another one is a SYN-ACK.
           The engine's ISN is asked too: under small limits it may have
           dropped data the model still holds, and re-based where the model
           did not. */
        if ((s.flags & (TCPS_TH_SYN | TCPS_TH_ACK)) == TCPS_TH_SYN && m.d[s.from].started &&
            (m.d[s.from].isn != s.seq ||
             (er.sess && er.sess->dir[s.from == er.c2s_from ? TCPS_C2S : TCPS_S2C].isn != s.seq)))
            s.flags |= TCPS_TH_ACK;
        syn = (s.flags & TCPS_TH_SYN) ? 1u : 0u;
        if (s.caplen > pcap) {
            pcap = s.caplen;
            payload = (uint8_t *)rm_xrealloc(payload, pcap);
        }
        for (j = 0; j < s.caplen; j++) payload[j] = rm_pattern(s.from, s.seq + syn + j, s.tag);
        if (s.len) tags[s.from][s.tag] = 1;
        er.frame = frame;
        rm_model_segment(&m, &s, payload, frame);
        rm_fill_segment(&g, &s, payload, frame);
        rc = tcps_feed_segment(ctx, &g);
        if (rc != TCPS_OK) rm_fail(&eo, "tcps_feed_segment failed", (unsigned long long)-rc, frame);
        rm_engine_check_limits(&er, er.sess);
        res->segments++;
    }
    rm_model_finish(&m);
    if (tcps_finish(ctx) != TCPS_OK) rm_fail(&eo, "tcps_finish failed", 0, 0);
    st = tcps_ctx_stats(ctx);
    if (st->buffered != 0 || st->sessions_live != 0) rm_fail(&eo, "state left after finish", st->buffered, st->sessions_live);
    if (mo.opened && !eo.closed) rm_fail(&eo, "no CLOSE", 0, 0);
    if (mo.opened != eo.opened) rm_fail(&eo, "OPEN count differs from model", (unsigned long long)mo.opened, (unsigned long long)eo.opened);
    if (st->bytes != eo.t[0].bytes + eo.t[1].bytes || st->missing != eo.t[0].missing + eo.t[1].missing)
        rm_fail(&eo, "ctx stats disagree with session stats", st->bytes, st->missing);
    /* Under small limits the engine may also throw away data waiting behind
       a FIN to make room (it is dropped without a gap, as it would be if the
       FIN stood to the end): the model, without limits, cannot follow. */
    res->limited = st->gaps_limit != 0 || ((in->max_buffer_dir || in->max_buffer_total) && mo.walled);
    /* offset 0 of each direction as the engine has it (after any re-basing
       SYN): one after its base sequence number */
    base[0] = eo.t[0].isn + 1u;
    base[1] = eo.t[1].isn + 1u;

    if (mo.errors) {
        diff = "the model broke its own invariants";
    } else if (eo.errors) {
        snprintf(why, sizeof why, "engine invariant broken: %s", eo.err);
        diff = why;
    } else if (res->limited) {
        diff = rm_check_origin(&eo, (const uint8_t(*)[256])tags, base, why, sizeof why);
    } else {
        diff = rm_compare(&mo, &eo, why, sizeof why);
    }
    if (diff) {
        rm_buf b = {NULL, 0, 0};
        res->differ = 1;
        rm_printf(&b, "DIFFERENCE: %s\n", diff);
        rm_dump_input(&b, in);
        rm_dump_out(&b, "model", &mo);
        rm_dump_out(&b, "engine", &eo);
        res->report = b.p;
    }
    tcps_destroy(ctx);
    free(payload);
    rm_model_free(&m);
    if (model_out) *model_out = mo;
    else rm_out_free(&mo);
    rm_out_free(&eo);
    return res->differ;
}

static int rm_run(const rm_input *in, rm_result *res) { return rm_run_ex(in, res, NULL); }

/* ------------------------------------------------------- fuzzer encoding */

/* Bytes -> rm_input. Header: options byte, then the first sequence number
   of each endpoint (4 bytes each, big-endian). Then records:
     b0   bit0 endpoint, bit1 SYN, bit2 ACK, bit3 FIN, bit4 RST,
          bits5-6 seq mode, bit7 an extra byte follows
     b1   payload length
     seq  mode 0: int8 from the endpoint's cursor (highest end sent)
          mode 1: int16 from the cursor, mode 2: uint16 from its first seq,
          mode 3: a raw 32-bit sequence number
     ack  (ACK only) int8 from the peer's cursor; -128: a raw 32-bit ack
     ext  (bit7) low nibble: payload tag (different bytes), high nibble:
          bytes cut by the snapshot length (x8)
   Options byte: bit0 TCPS_OVERLAP_LAST, bit1 small buffer limits (bits 2-5
   size the per-direction limit, bits 6-7 the total). */
typedef struct rm_reader {
    const uint8_t *p;
    size_t n;
} rm_reader;

static int rm_get8(rm_reader *r, uint8_t *v) {
    if (!r->n) return 0;
    *v = *r->p++;
    r->n--;
    return 1;
}

static int rm_get16(rm_reader *r, uint16_t *v) {
    uint8_t a = 0, b = 0;
    if (r->n < 2) return 0;
    rm_get8(r, &a);
    rm_get8(r, &b);
    *v = (uint16_t)(a << 8 | b);
    return 1;
}

static int rm_get32(rm_reader *r, uint32_t *v) {
    uint16_t a = 0, b = 0;
    if (r->n < 4) return 0;
    rm_get16(r, &a);
    rm_get16(r, &b);
    *v = (uint32_t)a << 16 | b;
    return 1;
}

static void rm_decode_bytes(const uint8_t *data, size_t size, rm_input *in) {
    rm_reader r;
    uint8_t opt = 0;
    uint32_t cursor[2] = {0, 0}, first[2] = {0, 0};
    r.p = data;
    r.n = size;
    memset(in, 0, sizeof *in);
    rm_get8(&r, &opt);
    if (!rm_get32(&r, &first[0]) || !rm_get32(&r, &first[1])) return;
    cursor[0] = first[0];
    cursor[1] = first[1];
    in->overlap = (opt & 1) ? TCPS_OVERLAP_LAST : TCPS_OVERLAP_FIRST;
#ifndef RM_NO_SMALL_LIMITS
    if (opt & 2) {
        static const size_t total_mul[4] = {1, 2, 3, 8};
        in->max_buffer_dir = 100 + 60 * (size_t)((opt >> 2) & 15);
        in->max_buffer_total = in->max_buffer_dir * total_mul[opt >> 6];
    }
#endif
    while (in->n < RM_MAX_SEGS) {
        uint8_t b0, len, ext = 0;
        rm_seg_in s;
        uint32_t end;
        memset(&s, 0, sizeof s);
        if (!rm_get8(&r, &b0) || !rm_get8(&r, &len)) break;
        s.from = b0 & 1;
        if (b0 & 2) s.flags |= TCPS_TH_SYN;
        if (b0 & 4) s.flags |= TCPS_TH_ACK;
        if (b0 & 8) s.flags |= TCPS_TH_FIN;
        if (b0 & 16) s.flags |= TCPS_TH_RST;
        switch ((b0 >> 5) & 3) {
        case 0: {
            uint8_t v;
            if (!rm_get8(&r, &v)) return;
            s.seq = cursor[s.from] + (uint32_t)(int32_t)(int8_t)v;
            break;
        }
        case 1: {
            uint16_t v;
            if (!rm_get16(&r, &v)) return;
            s.seq = cursor[s.from] + (uint32_t)(int32_t)(int16_t)v;
            break;
        }
        case 2: {
            uint16_t v;
            if (!rm_get16(&r, &v)) return;
            s.seq = first[s.from] + v;
            break;
        }
        default:
            if (!rm_get32(&r, &s.seq)) return;
            break;
        }
        if (s.flags & TCPS_TH_ACK) {
            uint8_t v;
            if (!rm_get8(&r, &v)) return;
            if (v == 0x80) {
                if (!rm_get32(&r, &s.ack)) return;
            } else {
                s.ack = cursor[!s.from] + (uint32_t)(int32_t)(int8_t)v;
            }
        } else {
            s.ack = cursor[!s.from];
        }
        if ((b0 & 0x80) && !rm_get8(&r, &ext)) return;
        s.len = len;
        s.tag = (uint8_t)(ext & 15);
        s.caplen = (uint32_t)(ext >> 4) * 8u >= s.len ? 0 : s.len - (uint32_t)(ext >> 4) * 8u;
        end = s.seq + ((s.flags & TCPS_TH_SYN) ? 1u : 0u) + s.len + ((s.flags & TCPS_TH_FIN) ? 1u : 0u);
        if ((int32_t)(end - cursor[s.from]) > 0) cursor[s.from] = end;
        rm_input_add(in, &s);
    }
}

#endif
