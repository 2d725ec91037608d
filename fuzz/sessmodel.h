/* sessmodel.h - the reference model of refmodel.h over many connections: a
   deliberately simple session layer that decides which session each
   segment belongs to, and a differential runner that feeds the traffic of
   sessgen.h to this model and to the engine and compares them session by
   session.

   The session layer keeps every session in a list in order of opening
   (each with its 4-tuple, one rm_model, and a state: open, closing, done)
   and the tombstones in a list in order of making; it looks things up by
   scanning. Its rules (those of tcpsession.h, written out plainly):
   - Capture time is the latest time seen. Before each segment, every
     closing session closed linger_ms or more ago (in whole milliseconds,
     rounded toward zero) ends, then every tombstone older than 60 s goes.
   - A segment goes to the live (open or closing) session of its 4-tuple,
     unless it is a SYN without ACK whose direction started with another
     ISN: then that session ends (REUSED, or its close reason if it was
     closing) and a new session starts with the segment.
   - No live session but a tombstone: a SYN (with or without ACK) whose
     sequence number is not the ISN its side had removes the tombstone and
     starts a new session. Anything else is late (a retransmission, an ACK,
     data sent after the close): dropped and counted. So is a segment the
     live session's model drops as an earlier connection's (one that would
     start a direction but acknowledges nothing since the peer's SYN).
   - Neither: a new session starts.
   - Before a new session starts with max_sessions live, the live session
     that was given a segment longest ago ends (EVICTED, or its close reason
     if it was closing).
   - A session is closing from the segment after which its model has it
     closed (a RST taken, or both directions delivered up to their FIN).
   - A session that ends finishes its model (gaps for what never came); its
     end reason is the model's, or what ended it (REUSED, EVICTED, EOF)
     where the model says EOF. Ended by FIN or RST it leaves a tombstone
     with the ISN of each side. Beyond max(1024, max_sessions / 16)
     tombstones the oldest goes. A new session of the 4-tuple removes its
     tombstone.
   - At the end every live session ends (EOF).

   The runner (sm_run) feeds both a packet at a time and, as soon as both
   ended it, compares the n-th session the model opened with the n-th the
   engine opened (then forgets both): the same 4-tuple; then as refmodel.h
   compares one
   connection (bytes, gaps, totals, end reason, the order of the events),
   except for the frame number of the packet being fed when an event came,
   which differs when a session ends while another one's packet is fed (the
   frame a DATA event's bytes came from is compared). Then the late
   segments counted. With opt.truth the same engine run is also held to
   sessgen.h's rules (sg_check), which need no model. */
#ifndef TCPS_SESSMODEL_H
#define TCPS_SESSMODEL_H

#include "refmodel.h"
#include "sessgen.h"

#define SM_OPEN 0
#define SM_CLOSING 1
#define SM_DONE 2
#define SM_TOMB_MS 60000

typedef struct sm_sess {
    uint32_t tuple, conn; /* conn: the connection of the packet that opened it */
    int state;
    tcps_time close_ts;
    uint64_t touch;       /* when it was last given a segment */
    size_t live_at;       /* its place in sm_model.livev while live */
    rm_model m;
    rm_out out;
} sm_sess;

typedef struct sm_tomb {
    uint32_t tuple;
    int gone;
    tcps_time ts;
    uint32_t isn[2]; /* by endpoint */
    int started[2];
} sm_tomb;

typedef struct sm_model {
    int policy;
    uint32_t linger_ms, max_sessions, max_tombs;
    sm_sess **s;         /* in order of opening */
    size_t n, cap;
    long *live_of;       /* per tuple: its live session, or -1 */
    long *tomb_of;       /* per tuple: its tombstone, or -1 */
    sm_tomb *tombs;      /* in order of making */
    size_t ntombs, tcap, thead, tlive;
    size_t *closing;     /* sessions in order of closing (ended ones skipped) */
    size_t nclosing, ccap, chead;
    size_t live;
    size_t *livev;       /* the live sessions, in no order */
    size_t lcap;
    size_t *ready;       /* sessions ended since the runner last looked */
    size_t nready, rcap;
    uint64_t touch, late;
    tcps_time now;
    int have_now;
} sm_model;

SG_FN void sm_init(sm_model *m, uint32_t ntuples, int policy, uint32_t linger_ms, uint32_t max_sessions) {
    uint32_t i;
    memset(m, 0, sizeof *m);
    m->policy = policy;
    m->linger_ms = linger_ms ? linger_ms : 1000;
    m->max_sessions = max_sessions ? max_sessions : 1048576;
    m->max_tombs = m->max_sessions / 16 > 1024 ? m->max_sessions / 16 : 1024;
    m->live_of = (long *)rm_xrealloc(NULL, (ntuples ? ntuples : 1) * sizeof *m->live_of);
    m->tomb_of = (long *)rm_xrealloc(NULL, (ntuples ? ntuples : 1) * sizeof *m->tomb_of);
    for (i = 0; i < ntuples; i++) m->live_of[i] = m->tomb_of[i] = -1;
}

SG_FN void sm_free(sm_model *m) {
    size_t i;
    for (i = 0; i < m->n; i++) {
        if (!m->s[i]) continue;
        rm_model_free(&m->s[i]->m);
        rm_out_free(&m->s[i]->out);
        free(m->s[i]);
    }
    free(m->s);
    free(m->ready);
    free(m->live_of);
    free(m->tomb_of);
    free(m->tombs);
    free(m->closing);
    free(m->livev);
    memset(m, 0, sizeof *m);
}

/* a - b in milliseconds, rounded toward zero */
SG_FN int64_t sm_ms(tcps_time a, tcps_time b) {
    return (a.sec - b.sec) * 1000 + ((int64_t)a.nsec - (int64_t)b.nsec) / 1000000;
}

SG_FN void sm_tomb_remove(sm_model *m, size_t i) {
    sm_tomb *t = &m->tombs[i];
    if (t->gone) return;
    t->gone = 1;
    m->tomb_of[t->tuple] = -1;
    m->tlive--;
    while (m->thead < m->ntombs && m->tombs[m->thead].gone) m->thead++;
}

SG_FN void sm_make_tomb(sm_model *m, const sm_sess *s) {
    sm_tomb *t;
    int k;
    if (m->tlive >= m->max_tombs) sm_tomb_remove(m, m->thead);
    if (m->ntombs == m->tcap) {
        m->tcap = m->tcap ? m->tcap * 2 : 256;
        m->tombs = (sm_tomb *)rm_xrealloc(m->tombs, m->tcap * sizeof *m->tombs);
    }
    t = &m->tombs[m->ntombs];
    memset(t, 0, sizeof *t);
    t->tuple = s->tuple;
    t->ts = m->now;
    for (k = 0; k < 2; k++) {
        t->isn[k] = s->m.d[k].isn;
        t->started[k] = s->m.d[k].started;
    }
    m->tomb_of[s->tuple] = (long)m->ntombs++;
    m->tlive++;
}

SG_FN void sm_finalize(sm_model *m, size_t i, int trigger) {
    sm_sess *s = m->s[i];
    int reason;
    rm_model_finish(&s->m);
    reason = s->out.end_reason == TCPS_END_EOF ? trigger : s->out.end_reason;
    s->out.end_reason = reason;
    if (s->out.nev && s->out.ev[s->out.nev - 1].type == TCPS_EV_CLOSE) s->out.ev[s->out.nev - 1].reason = reason;
    s->state = SM_DONE;
    m->live_of[s->tuple] = -1;
    m->livev[s->live_at] = m->livev[--m->live];
    m->s[m->livev[s->live_at]]->live_at = s->live_at;
    if (reason == TCPS_END_FIN || reason == TCPS_END_RST) sm_make_tomb(m, s);
    /* what waited in the model is gone; its output stays until compared */
    rm_model_free(&s->m);
    if (m->nready == m->rcap) {
        m->rcap = m->rcap ? m->rcap * 2 : 256;
        m->ready = (size_t *)rm_xrealloc(m->ready, m->rcap * sizeof *m->ready);
    }
    m->ready[m->nready++] = i;
}

SG_FN void sm_expire(sm_model *m) {
    while (m->chead < m->nclosing) {
        sm_sess *s = m->s[m->closing[m->chead]]; /* NULL: ended and compared */
        if (s && s->state == SM_CLOSING) {
            if (sm_ms(m->now, s->close_ts) < (int64_t)m->linger_ms) break;
            sm_finalize(m, m->closing[m->chead], TCPS_END_EOF);
        }
        m->chead++;
    }
    while (m->thead < m->ntombs && sm_ms(m->now, m->tombs[m->thead].ts) > SM_TOMB_MS) sm_tomb_remove(m, m->thead);
}

SG_FN size_t sm_new_session(sm_model *m, uint32_t tuple, uint32_t conn) {
    sm_sess *s;
    if (m->live >= m->max_sessions && m->live) { /* the idlest goes */
        size_t i, best = m->livev[0];
        for (i = 1; i < m->live; i++)
            if (m->s[m->livev[i]]->touch < m->s[best]->touch) best = m->livev[i];
        sm_finalize(m, best, TCPS_END_EVICTED);
    }
    if (m->tomb_of[tuple] >= 0) sm_tomb_remove(m, (size_t)m->tomb_of[tuple]);
    s = (sm_sess *)rm_xrealloc(NULL, sizeof *s);
    memset(s, 0, sizeof *s);
    s->tuple = tuple;
    s->conn = conn;
    s->state = SM_OPEN;
    rm_model_init(&s->m, m->policy, &s->out);
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->s = (sm_sess **)rm_xrealloc(m->s, m->cap * sizeof *m->s);
    }
    m->s[m->n] = s;
    m->live_of[tuple] = (long)m->n;
    if (m->live == m->lcap) {
        m->lcap = m->lcap ? m->lcap * 2 : 1024;
        m->livev = (size_t *)rm_xrealloc(m->livev, m->lcap * sizeof *m->livev);
    }
    s->live_at = m->live;
    m->livev[m->live++] = m->n;
    return m->n++;
}

/* One segment of `tuple`, from the packet of connection `conn`. */
SG_FN void sm_segment(sm_model *m, uint32_t tuple, uint32_t conn, const rm_seg_in *g, const uint8_t *payload,
                       tcps_time ts, uint64_t frame) {
    int syn_only = (g->flags & (TCPS_TH_SYN | TCPS_TH_ACK)) == TCPS_TH_SYN;
    long at;
    sm_sess *s;
    if (!m->have_now || tcps_time_cmp(ts, m->now) > 0) m->now = ts;
    m->have_now = 1;
    sm_expire(m);
    at = m->live_of[tuple];
    if (at >= 0) {
        const rm_mdir *d = &m->s[at]->m.d[g->from];
        if (syn_only && d->started && d->isn != g->seq) {
            sm_finalize(m, (size_t)at, TCPS_END_REUSED);
            at = -1;
        }
    } else if (m->tomb_of[tuple] >= 0) {
        const sm_tomb *t = &m->tombs[m->tomb_of[tuple]];
        if (!(g->flags & TCPS_TH_SYN) || (t->started[g->from] && t->isn[g->from] == g->seq)) {
            m->late++;
            return;
        }
        sm_tomb_remove(m, (size_t)m->tomb_of[tuple]);
    }
    if (at < 0) at = (long)sm_new_session(m, tuple, conn);
    s = m->s[at];
    s->touch = ++m->touch;
    {
        int older = s->out.older;
        rm_model_segment(&s->m, g, payload, frame);
        if (s->out.older != older) m->late++; /* an earlier connection's: late, as the engine counts it */
    }
    if (s->state == SM_OPEN && s->m.closing) {
        s->state = SM_CLOSING;
        s->close_ts = m->now;
        if (m->nclosing == m->ccap) {
            m->ccap = m->ccap ? m->ccap * 2 : 1024;
            m->closing = (size_t *)rm_xrealloc(m->closing, m->ccap * sizeof *m->closing);
        }
        m->closing[m->nclosing++] = (size_t)at;
    }
}

SG_FN void sm_finish(sm_model *m) {
    size_t i;
    for (i = 0; i < m->n; i++)
        if (m->s[i] && m->s[i]->state != SM_DONE) sm_finalize(m, i, TCPS_END_EOF);
}

/* ------------------------------------------------------------- engine */

typedef struct sm_esess {
    uint32_t tuple, conn;
    int c2s_from; /* endpoint of the engine's client */
    int closed;
    rm_out out;
} sm_esess;

typedef struct sm_engine {
    const sg_traffic *t;
    sm_esess **s;    /* in order of opening; NULL once compared */
    size_t n, cap;
    size_t *ready;   /* sessions closed since the runner last looked */
    size_t nready, rcap;
    sg_check *truth; /* also sessgen.h's check (NULL: not) */
    int errors;
    char err[256];
} sm_engine;

SG_FN int sm_e_from(const sm_esess *s, const tcps_event *ev) {
    return ev->dir == TCPS_C2S ? s->c2s_from : !s->c2s_from;
}

SG_FN sm_esess *sm_e_get(sm_engine *e, const tcps_event *ev) {
    uintptr_t i = (uintptr_t)ev->session->user;
    if (i == 0 || i > e->n || !e->s[i - 1]) {
        if (!e->errors++)
            snprintf(e->err, sizeof e->err, "event of a session never opened, or after its CLOSE (stream %llu)",
                     (unsigned long long)ev->session->stream);
        return NULL;
    }
    return e->s[i - 1];
}

SG_FN int sm_e_open(const tcps_event *ev, void *user) {
    sm_engine *e = (sm_engine *)user;
    sm_esess *s;
    const sg_tuple *u;
    if (ev->frame < 1 || ev->frame > e->t->npkts) {
        if (!e->errors++) snprintf(e->err, sizeof e->err, "OPEN at frame %llu", (unsigned long long)ev->frame);
        return 0;
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 1024;
        e->s = (sm_esess **)rm_xrealloc(e->s, e->cap * sizeof *e->s);
    }
    s = (sm_esess *)rm_xrealloc(NULL, sizeof *s);
    memset(s, 0, sizeof *s);
    e->s[e->n++] = s;
    s->conn = e->t->pkts[ev->frame - 1].conn;
    s->tuple = e->t->conns[s->conn].tuple;
    u = &e->t->tuples[s->tuple];
    s->c2s_from = ev->session->client.port == u->cport && memcmp(ev->session->client.addr, u->cli, 4) == 0 ? 0 : 1;
    if (e->truth) sg_on_open(ev, e->truth);
    ev->session->user = (void *)(uintptr_t)e->n;
    rm_out_event(&s->out, TCPS_EV_OPEN, sm_e_from(s, ev), 0, 0, 0, ev->frame, ev->data_frame, NULL);
    return 0;
}

SG_FN int sm_e_data(const tcps_event *ev, void *user) {
    sm_engine *e = (sm_engine *)user;
    sm_esess *s = sm_e_get(e, ev);
    if (!s) return 0;
    if (e->truth) sg_on_data(ev, e->truth);
    if (ev->length != ev->data.len) rm_fail(&s->out, "DATA length != data.len", ev->length, ev->data.len);
    rm_out_event(&s->out, TCPS_EV_DATA, sm_e_from(s, ev), ev->offset, ev->data.len, 0, ev->frame, ev->data_frame,
                 ev->data.ptr);
    return 0;
}

SG_FN int sm_e_gap(const tcps_event *ev, void *user) {
    sm_engine *e = (sm_engine *)user;
    sm_esess *s = sm_e_get(e, ev);
    if (!s) return 0;
    if (e->truth) sg_on_gap(ev, e->truth);
    rm_out_event(&s->out, TCPS_EV_GAP, sm_e_from(s, ev), ev->offset, ev->length, ev->reason, ev->frame, ev->frame,
                 NULL);
    return 0;
}

SG_FN int sm_e_close(const tcps_event *ev, void *user) {
    sm_engine *e = (sm_engine *)user;
    sm_esess *s = sm_e_get(e, ev);
    if (!s) return 0;
    if (e->truth) sg_on_close(ev, e->truth);
    rm_totals_of(&s->out, ev->session, s->c2s_from);
    s->out.end_reason = ev->session->end;
    if (ev->reason != ev->session->end)
        rm_fail(&s->out, "CLOSE reason != session end", (unsigned long long)ev->reason, ev->session->end);
    rm_out_event(&s->out, TCPS_EV_CLOSE, -1, 0, 0, ev->reason, ev->frame, ev->frame, NULL);
    s->closed = 1;
    if (e->nready == e->rcap) {
        e->rcap = e->rcap ? e->rcap * 2 : 256;
        e->ready = (size_t *)rm_xrealloc(e->ready, e->rcap * sizeof *e->ready);
    }
    e->ready[e->nready++] = (uintptr_t)ev->session->user - 1;
    return 0;
}

/* ------------------------------------------------------------- runner */

typedef struct sm_options {
    uint32_t max_sessions; /* 0: default */
    int overlap;           /* TCPS_OVERLAP_* */
    int via_pcap;          /* the engine reads a pcap of the traffic (tcps_feed_packet per
                              record) instead of being fed segments (needs capwriter.h and
                              pktbuild.h) */
    int truth;             /* also hold the engine to sessgen.h's rules */
} sm_options;

typedef struct sm_result {
    int differ;             /* model and engine disagree, or a rule broke */
    char *report;           /* when differ: what, and both outputs (malloc'd) */
    size_t sessions;        /* the model's */
    uint64_t late, evicted, reused; /* the engine's counts */
    uint32_t split;         /* connections evicted with packets to come (truth) */
    uint32_t stray;         /* sessions opened by late packets (truth) */
} sm_result;

/* zero what depends on the packet being fed when an event came */
SG_FN void sm_unframe(rm_out *o) {
    size_t i;
    for (i = 0; i < o->nev; i++) {
        o->ev[i].frame = 0;
        if (o->ev[i].type != TCPS_EV_DATA) o->ev[i].data_frame = 0;
    }
}

SG_FN void sm_dump_tuple(rm_buf *b, const sg_traffic *t, uint32_t tuple, size_t from_pkt) {
    size_t i, shown = 0;
    const sg_tuple *u = &t->tuples[tuple];
    rm_printf(b, "4-tuple %lu: %u.%u.%u.%u:%u - %u.%u.%u.%u:%u; its packets from frame %lu:\n", (unsigned long)tuple,
              u->cli[0], u->cli[1], u->cli[2], u->cli[3], u->cport, u->srv[0], u->srv[1], u->srv[2], u->srv[3],
              u->sport, (unsigned long)from_pkt + 1);
    for (i = from_pkt; i < t->npkts && shown < 200; i++) {
        const sg_pkt *k = &t->pkts[i];
        if (t->conns[k->conn].tuple != tuple) continue;
        rm_printf(b, "  #%lu t=%llu.%06llu conn %lu %s %s%s%s%s seq=%lu ack=%lu len=%lu%s\n", (unsigned long)i + 1,
                  (unsigned long long)(k->ts_us / 1000000u), (unsigned long long)(k->ts_us % 1000000u),
                  (unsigned long)k->conn, k->from ? "S>C" : "C>S", k->flags & TCPS_TH_SYN ? "S" : "",
                  k->flags & TCPS_TH_ACK ? "A" : "", k->flags & TCPS_TH_FIN ? "F" : "",
                  k->flags & TCPS_TH_RST ? "R" : "", (unsigned long)k->seq, (unsigned long)k->ack,
                  (unsigned long)k->len, k->late ? " (late)" : "");
        shown++;
    }
}

typedef struct sm_runner {
    const sg_traffic *t;
    sm_model m;
    sm_engine e;
    char why[1024];
    const char *diff;
    rm_buf b;
} sm_runner;

/* The first difference: what, the packets of the 4-tuple, the session of
   each side (either may be NULL). */
SG_FN void sm_differ(sm_runner *r, const char *what, size_t i, const sm_sess *ms, const sm_esess *es, long conn) {
    const sg_traffic *t = r->t;
    char d[1024];
    if (r->diff) return;
    snprintf(r->why, sizeof r->why, "%s", what);
    r->diff = r->why;
    sg_describe(t, d, sizeof d);
    rm_printf(&r->b, "DIFFERENCE: %s\n%s\n", what, d);
    if (conn < 0 && (ms || es)) conn = (long)(ms ? ms->conn : es->conn);
    if (conn >= 0 && (size_t)conn < t->nconns) {
        size_t first = t->conns[conn].first_pkt;
        sm_dump_tuple(&r->b, t, t->conns[conn].tuple, first > 20 ? first - 20 : 0);
    }
    if (ms || es) rm_printf(&r->b, "session %lu:\n", (unsigned long)i);
    if (ms) rm_dump_out(&r->b, "model", &ms->out);
    if (es) rm_dump_out(&r->b, "engine", &es->out);
}

/* Compare session i of both sides if both ended; then free them. */
SG_FN void sm_pair(sm_runner *r, size_t i) {
    sm_sess *ms;
    sm_esess *es;
    char w[1024], w2[400];
    const char *d = NULL;
    if (i >= r->m.n || i >= r->e.n) return;
    ms = r->m.s[i];
    es = r->e.s[i];
    if (!ms || !es || ms->state != SM_DONE || !es->closed) return;
    if (ms->tuple != es->tuple) {
        snprintf(w, sizeof w, "session %lu: the model's is on 4-tuple %lu, the engine's on %lu", (unsigned long)i,
                 (unsigned long)ms->tuple, (unsigned long)es->tuple);
        d = w;
    } else if (ms->out.errors) {
        snprintf(w, sizeof w, "session %lu: the model broke its own invariants: %s", (unsigned long)i, ms->out.err);
        d = w;
    } else if (es->out.errors) {
        snprintf(w, sizeof w, "session %lu: engine invariant broken: %s", (unsigned long)i, es->out.err);
        d = w;
    } else {
        sm_unframe(&ms->out);
        sm_unframe(&es->out);
        if (rm_compare(&ms->out, &es->out, w2, sizeof w2)) {
            snprintf(w, sizeof w, "session %lu (connection %lu): %s", (unsigned long)i, (unsigned long)ms->conn, w2);
            d = w;
        }
    }
    if (d) sm_differ(r, d, i, ms, es, -1);
    rm_out_free(&ms->out);
    free(ms);
    r->m.s[i] = NULL;
    rm_out_free(&es->out);
    free(es);
    r->e.s[i] = NULL;
}

SG_FN void sm_drain(sm_runner *r) {
    size_t i;
    for (i = 0; i < r->m.nready; i++) sm_pair(r, r->m.ready[i]);
    for (i = 0; i < r->e.nready; i++) sm_pair(r, r->e.ready[i]);
    r->m.nready = r->e.nready = 0;
}

SG_FN void sm_model_packet(sm_runner *r, size_t i, uint8_t *payload) {
    const sg_traffic *t = r->t;
    const sg_pkt *k = &t->pkts[i];
    rm_seg_in g;
    tcps_time ts;
    memset(&g, 0, sizeof g);
    g.from = k->from;
    g.flags = k->flags;
    g.seq = k->seq;
    g.ack = k->ack;
    g.len = g.caplen = k->len;
    sg_payload(t, k, payload);
    ts.sec = (int64_t)(k->ts_us / 1000000u);
    ts.nsec = (uint32_t)(k->ts_us % 1000000u) * 1000u;
    sm_segment(&r->m, t->conns[k->conn].tuple, k->conn, &g, payload, ts, (uint64_t)i + 1);
}

/* Feed t to the model and to the engine, a packet at a time, comparing
   each session once both sides ended it; fill res. Returns res->differ. */
SG_FN int sm_run(const sg_traffic *t, const sm_options *opt, sm_result *res) {
    sm_runner r;
    sg_check truth;
    tcps_config cfg;
    tcps_ctx *ctx = NULL;
    const tcps_stats *st;
    uint8_t *payload = (uint8_t *)rm_xrealloc(NULL, sg_max_payload(t));
    size_t i;
    int rc = TCPS_OK;
#if defined(CAPWRITER_H) && defined(PKTBUILD_H)
    capw_buf cap;
    tcps_reader *rd = NULL;
#endif

    memset(res, 0, sizeof *res);
    memset(&r, 0, sizeof r);
    r.t = t;
    sm_init(&r.m, t->ntuples, opt->overlap, t->p.linger_ms, opt->max_sessions);
    r.e.t = t;
    if (opt->truth) {
        sg_check_init(&truth, t);
        truth.max_sessions = opt->max_sessions;
        r.e.truth = &truth;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.callbacks.on_open = sm_e_open;
    cfg.callbacks.on_data = sm_e_data;
    cfg.callbacks.on_gap = sm_e_gap;
    cfg.callbacks.on_close = sm_e_close;
    cfg.user = &r.e;
    cfg.overlap = opt->overlap;
    cfg.linger_ms = t->p.linger_ms;
    cfg.max_sessions = opt->max_sessions;
    if (tcps_create(&ctx, &cfg) != TCPS_OK) rm_die("tcps_create");
#if defined(CAPWRITER_H) && defined(PKTBUILD_H)
    if (opt->via_pcap) {
        tcps_packet pkt;
        sg_write_pcap(t, &cap);
        if (tcps_reader_open_memory(&rd, cap.data, cap.len, NULL) != TCPS_OK) rm_die("tcps_reader_open_memory");
        for (i = 0; !r.diff && rc == TCPS_OK; i++) {
            int n = tcps_reader_next(rd, &pkt);
            if (n == TCPS_DONE) break;
            if (n != TCPS_OK || pkt.frame != (uint64_t)i + 1) rm_die("reading back the pcap");
            sm_model_packet(&r, i, payload);
            rc = tcps_feed_packet(ctx, &pkt);
            sm_drain(&r);
        }
    } else
#endif
    {
        for (i = 0; i < t->npkts && !r.diff && rc == TCPS_OK; i++) {
            tcps_segment g;
            sm_model_packet(&r, i, payload);
            sg_segment(t, i, &g, payload);
            rc = tcps_feed_segment(ctx, &g);
            sm_drain(&r);
        }
    }
    if (rc == TCPS_OK && !r.diff) {
        sm_finish(&r.m);
        rc = tcps_finish(ctx);
        sm_drain(&r);
    }
    st = tcps_ctx_stats(ctx);
    res->sessions = r.m.n;
    res->late = st->late_segments;
    res->evicted = st->closed_evicted;
    res->reused = st->closed_reused;

    if (!r.diff) {
        char w[1024];
        if (rc != TCPS_OK) {
            snprintf(w, sizeof w, "the engine failed: %s", tcps_result_name(rc));
            sm_differ(&r, w, 0, NULL, NULL, -1);
        } else if (r.e.errors) {
            snprintf(w, sizeof w, "engine: %s", r.e.err);
            sm_differ(&r, w, 0, NULL, NULL, -1);
        } else if (r.m.n != r.e.n || st->sessions != r.m.n) {
            size_t j = 0;
            while (j < r.m.n && j < r.e.n && !r.m.s[j] && !r.e.s[j]) j++;
            snprintf(w, sizeof w, "the model opened %lu sessions, the engine %lu (stats %llu); the first unmatched: %lu",
                     (unsigned long)r.m.n, (unsigned long)r.e.n, (unsigned long long)st->sessions, (unsigned long)j);
            sm_differ(&r, w, j, j < r.m.n ? r.m.s[j] : NULL, j < r.e.n ? r.e.s[j] : NULL, -1);
        } else if (st->late_segments != r.m.late) {
            snprintf(w, sizeof w, "late segments: the model %llu, the engine %llu", (unsigned long long)r.m.late,
                     (unsigned long long)st->late_segments);
            sm_differ(&r, w, 0, NULL, NULL, -1);
        } else if (opt->truth && sg_check_finish(&truth, st)) {
            snprintf(w, sizeof w, "against what was generated: %s", truth.err);
            sm_differ(&r, w, 0, NULL, NULL, truth.err_conn);
        }
    }
    if (opt->truth) {
        res->split = truth.split;
        res->stray = truth.stray;
        sg_check_free(&truth);
    }
    if (r.diff) {
        res->differ = 1;
        res->report = r.b.p;
    }
    tcps_destroy(ctx);
#if defined(CAPWRITER_H) && defined(PKTBUILD_H)
    if (rd) {
        tcps_reader_close(rd);
        capw_free(&cap);
    }
#endif
    for (i = 0; i < r.e.n; i++)
        if (r.e.s[i]) {
            rm_out_free(&r.e.s[i]->out);
            free(r.e.s[i]);
        }
    free(r.e.s);
    free(r.e.ready);
    sm_free(&r.m);
    free(payload);
    return res->differ;
}

/* ------------------------------------------------------ fuzzer encoding */

/* After the 4 bytes "SESS" (see fuzz_diff.c), each byte optional (0 when
   the input ends):
     0-3  seed (big-endian)
     4    connections on the shared 4-tuples: 1 + 24 b
     5    client hosts 1 + (b >> 5), ports 1 + (b & 31)
     6    at most 1 + (b & 63) connections at once; bit 6 TCPS_OVERLAP_LAST
     7    open fillers 20 b          8  closed fillers 4 b
     9    request bytes up to 16 << (b & 7), response up to 16 << ((b >> 3) & 7),
          segments of up to 1200, 100, 536 or 40 bytes (b >> 6)
     10   reordered (b & 15) x 4 %, duplicated (b >> 4) x 4 %
     11   RST ends (b & 15) x 6 %, late retransmissions (b >> 4) x 6 %
     12   lost b & 31 %, ISN modes b >> 5 (SG_ISN_* bits; 0: all)
     13   SYN while the previous connection lingers: b x 100 / 255 %
     14   max_sessions: 0 default, 1..15 that, else 16 (b - 15)
     15   linger_ms: 0 default (1000), else 20 b
     16   capture time between packets 1 to 1 + 16 b microseconds
   (no new connection after 60000 packets), then up to 64 mutations of the
   generated packets, 3 bytes each: a packet
   (16 bits, modulo their number) and an operation (low 3 bits): 0 drop it,
   1 send it again (b >> 3) + 1 packets later, 2 move it that far, 3 toggle
   one of SYN, ACK, FIN, RST, PSH ((b >> 3) % 5), 4 move it and every later
   packet (b >> 3) x 100 ms later in time; 5-7 nothing. The generator's
   promises (and sessgen.h's check) hold only without mutations. */
#define SM_MAX_MUTATIONS 64
#define SM_MAX_PACKETS 60000 /* no connection starts after this many packets */

typedef struct sm_input {
    sg_params p;
    sm_options opt;
    const uint8_t *mut; /* mutation records */
    size_t nmut;
} sm_input;

SG_FN void sm_decode(const uint8_t *data, size_t size, sm_input *in) {
    uint8_t b[17];
    static const uint32_t mss[4] = {1200, 100, 536, 40};
    size_t n = size < sizeof b ? size : sizeof b;
    memset(b, 0, sizeof b);
    memcpy(b, data, n);
    memset(in, 0, sizeof *in);
    in->p.seed = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
    in->p.conns = 1 + 24u * b[4];
    in->p.hosts = 1 + (b[5] >> 5);
    in->p.ports = 1 + (b[5] & 31);
    in->p.active = 1 + (b[6] & 63);
    in->opt.overlap = (b[6] & 64) ? TCPS_OVERLAP_LAST : TCPS_OVERLAP_FIRST;
    in->p.filler_open = 20u * b[7];
    in->p.filler_closed = 4u * b[8];
    in->p.req_max = 16u << (b[9] & 7);
    in->p.resp_max = 16u << ((b[9] >> 3) & 7);
    in->p.mss = mss[b[9] >> 6];
    in->p.reorder_pct = (b[10] & 15) * 4u;
    in->p.dup_pct = (b[10] >> 4) * 4u;
    in->p.rst_pct = (b[11] & 15) * 6u;
    in->p.late_pct = (b[11] >> 4) * 6u;
    in->p.loss_pct = b[12] & 31;
    in->p.isn_modes = b[12] >> 5;
    in->p.soon_pct = b[13] * 100u / 255u;
    in->opt.max_sessions = b[14] < 16 ? b[14] : 16u * (b[14] - 15u);
    in->p.linger_ms = 20u * b[15];
    in->p.step_us = 1 + 16u * b[16];
    in->p.max_packets = SM_MAX_PACKETS;
    if (size > sizeof b) {
        in->mut = data + sizeof b;
        in->nmut = (size - sizeof b) / 3;
        if (in->nmut > SM_MAX_MUTATIONS) in->nmut = SM_MAX_MUTATIONS;
    }
    in->opt.truth = in->nmut == 0;
}

SG_FN void sm_mutate(sg_traffic *t, const uint8_t *mut, size_t nmut) {
    static const uint16_t flags[5] = {TCPS_TH_SYN, TCPS_TH_ACK, TCPS_TH_FIN, TCPS_TH_RST, TCPS_TH_PSH};
    size_t m, j;
    for (m = 0; m < nmut && t->npkts; m++) {
        const uint8_t *r = mut + 3 * m;
        size_t i = ((size_t)r[0] << 8 | r[1]) % t->npkts, to;
        unsigned op = r[2] & 7, arg = r[2] >> 3;
        sg_pkt k = t->pkts[i];
        switch (op) {
        case 0:
            memmove(&t->pkts[i], &t->pkts[i + 1], (t->npkts - i - 1) * sizeof k);
            t->npkts--;
            break;
        case 1:
        case 2:
            to = i + arg + 1 < t->npkts ? i + arg + 1 : t->npkts - 1;
            if (op == 1) { /* a copy, inserted at `to` */
                sg_push(t, &k);
                memmove(&t->pkts[to + 1], &t->pkts[to], (t->npkts - 1 - to) * sizeof k);
                t->pkts[to] = k;
            } else {
                memmove(&t->pkts[i], &t->pkts[i + 1], (to - i) * sizeof k);
                t->pkts[to] = k;
            }
            break;
        case 3: t->pkts[i].flags ^= flags[arg % 5]; break;
        case 4:
            for (j = i; j < t->npkts; j++) t->pkts[j].ts_us += (uint64_t)arg * 100000u;
            break;
        default: break;
        }
    }
}

#endif
