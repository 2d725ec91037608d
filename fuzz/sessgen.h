/* sessgen.h - captures of many TCP connections over a few reused 4-tuples,
   and a check of what the engine makes of them that needs no model.

   The generator (sg_generate) makes the traffic of sg_params: `conns`
   connections between `hosts` x `ports` client endpoints and one server,
   at most `active` of them at once, their packets interleaved. Each one has
   a handshake, a request and a response cut into segments of at most `mss`
   bytes (some swapped with their neighbour, some sent twice, some lost to
   the capture), the receivers' ACKs, and ends by FIN both ways or by a
   RST. When a connection ends its client endpoint is free again and a later
   connection takes the same 4-tuple with initial sequence numbers near
   where the previous one ended: above (as Linux picks them), equal, or
   below (never the previous ISN itself, which would make the SYN a
   retransmission). The new SYN comes either while the previous connection
   still lingers in the engine (less than linger_ms of capture time after
   its close) or after the linger, sometimes after a late retransmission of
   the previous connection that the engine must drop (counted in
   stats.late_segments). Besides them, `filler_open` and `filler_closed`
   short connections on 4-tuples of their own (left open to the end, or
   closed by FIN) make the session table grow past its doublings.

   Every connection is unambiguous from the capture alone: its SYN is
   always captured, nothing of it comes after the next SYN on its 4-tuple,
   and late packets come only after the engine ended the connection (those
   within 5 ms of a linger's end either way are counted as unsure). With
   max_packets, no connection starts once that many packets were made.

   The check (sg_check, the callbacks of sg_check_config): every byte
   delivered is the byte the connection that sent it had at that stream
   offset; for every connection, delivered plus reported missing is every
   byte, and without loss every byte is delivered and no gap is reported;
   one session per connection, ending as the connection did; and
   stats.late_segments counts exactly the late packets generated (a bound
   when loss or eviction can end sessions later or earlier). Where
   max_sessions evicted a connection while it still had packets to come,
   what is left of it opens sessions of its own, and may take in the next
   connection on its 4-tuple (a SYN from a side that session never saw
   starts nothing new): such connections, and any after a late packet that
   found no tombstone (sg_tombs_kept), are held to the byte rule only.
   Sessions and bytes are attributed to connections by the frame numbers
   of the events.

   With tests/capwriter.h and tests/pktbuild.h included first, sg_write_pcap
   writes the traffic as an Ethernet pcap (frame i+1 is packet i).
   Everything is static; allocation failure aborts (test tooling). */
#ifndef TCPS_SESSGEN_H
#define TCPS_SESSGEN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tcpsession.h"

#if defined(__GNUC__) || defined(__clang__)
#define SG_FN static __attribute__((unused))
#else
#define SG_FN static
#endif

/* ------------------------------------------------------------ parameters */

#define SG_ISN_ABOVE 1 /* a little above where the previous connection ended */
#define SG_ISN_EQUAL 2 /* exactly where it ended */
#define SG_ISN_BELOW 4 /* below that (inside its range, or under its ISN) */

typedef struct sg_params {
    uint64_t seed;
    uint32_t conns;         /* connections on the shared 4-tuples */
    uint32_t hosts, ports;  /* client hosts x client ports, to one server */
    uint32_t active;        /* connections at once (fillers included), at most */
    uint32_t filler_open;   /* short connections on 4-tuples of their own, never closed */
    uint32_t filler_closed; /* the same, closed by FIN */
    uint32_t req_min, req_max;   /* request bytes */
    uint32_t resp_min, resp_max; /* response bytes */
    uint32_t mss;           /* largest payload of one segment */
    unsigned isn_modes;     /* SG_ISN_* to choose among (0: all) */
    unsigned soon_pct;      /* reuses whose SYN comes while the previous one lingers */
    unsigned reorder_pct;   /* data segments swapped with the next one */
    unsigned dup_pct;       /* data segments sent again a little later */
    unsigned rst_pct;       /* connections ended by a RST instead of FINs */
    unsigned late_pct;      /* connections followed by a late retransmission */
    unsigned loss_pct;      /* data segments and pure ACKs the capture loses */
    uint32_t linger_ms;     /* the context's linger_ms (0: its default, 1000) */
    uint32_t step_us;       /* capture time between packets: 1..step_us */
    size_t max_packets;     /* no connection starts after this many packets (0: no limit) */
} sg_params;

/* Defaults: 64 4-tuples, 48 connections at once, requests of 100 to 800
   bytes and responses of 300 to 3000 in segments of up to 1200. */
SG_FN void sg_params_default(sg_params *p, uint64_t seed, uint32_t conns) {
    memset(p, 0, sizeof *p);
    p->seed = seed;
    p->conns = conns;
    p->hosts = 2;
    p->ports = 32;
    p->active = 48;
    p->req_min = 100, p->req_max = 800;
    p->resp_min = 300, p->resp_max = 3000;
    p->mss = 1200;
    p->soon_pct = 50;
    p->reorder_pct = 10;
    p->dup_pct = 5;
    p->rst_pct = 15;
    p->late_pct = 30;
    p->step_us = 300;
}

/* ------------------------------------------------------------- traffic */

typedef struct sg_rng {
    uint64_t s;
} sg_rng;

SG_FN uint32_t sg_next(sg_rng *r) { /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}
SG_FN uint32_t sg_below(sg_rng *r, uint32_t n) { return n ? sg_next(r) % n : 0; }
SG_FN uint32_t sg_range(sg_rng *r, uint32_t lo, uint32_t hi) { return hi > lo ? lo + sg_below(r, hi - lo + 1) : lo; }
SG_FN int sg_pct(sg_rng *r, unsigned pct) { return sg_below(r, 100) < pct; }

typedef struct sg_tuple {
    uint8_t cli[4], srv[4];
    uint16_t cport, sport;
} sg_tuple;

#define SG_END_FIN 1  /* FIN both ways */
#define SG_END_RST 2  /* a RST after the response */
#define SG_END_OPEN 3 /* never closed: ends at the end of the capture or by eviction */

#define SG_FIRST 0 /* the first connection on its 4-tuple */
#define SG_SOON 1  /* its SYN came while the previous one lingered */
#define SG_AFTER 2 /* its SYN came after the previous one's linger */
#define SG_NEAR 3  /* within a few ms of the linger's end either way */

typedef struct sg_conn {
    uint32_t tuple;
    uint32_t isn[2];  /* [0] the client's, [1] the server's */
    uint32_t len[2];  /* request and response bytes */
    uint32_t seed;    /* of its payload bytes (sg_byte) */
    uint8_t end;      /* SG_END_* */
    uint8_t reuse;    /* SG_FIRST, SG_SOON, SG_AFTER, SG_NEAR */
    uint8_t filler;
    uint8_t isn_mode; /* SG_ISN_* of its client ISN (0 on a fresh 4-tuple) */
    size_t first_pkt, last_pkt; /* its first and last packet in the capture */
    uint32_t lost, late;        /* its packets the capture lost; sent late */
} sg_conn;

typedef struct sg_pkt {
    uint64_t ts_us;
    uint32_t conn;
    uint32_t seq, ack;
    uint32_t off;   /* stream offset of the payload */
    uint32_t len;   /* payload bytes */
    uint16_t flags;
    uint8_t from;   /* 0 the client, 1 the server */
    uint8_t late;   /* a retransmission after the connection ended: the engine drops it */
} sg_pkt;

typedef struct sg_traffic {
    sg_params p;
    sg_tuple *tuples;
    uint32_t ntuples;
    sg_conn *conns;
    uint32_t nconns;
    sg_pkt *pkts;
    size_t npkts, cap;
    /* what the generator made */
    uint32_t reuse[4];      /* connections by sg_conn.reuse */
    uint32_t isn_modes[8];  /* reusing connections by client ISN mode */
    uint32_t late, lost, rst, peak_active, fillers;
    uint32_t unsure;        /* packets after a close, within 5 ms of the linger's end:
                               the engine may take them or drop them as late */
    uint64_t bytes;         /* payload bytes of all connections */
} sg_traffic;

SG_FN void sg_oom(void) {
    fprintf(stderr, "sessgen: out of memory\n");
    abort();
}

SG_FN void *sg_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) sg_oom();
    return q;
}

/* The byte of connection c's direction `from` at stream offset off. */
SG_FN uint8_t sg_byte(const sg_conn *c, int from, uint32_t off) {
    uint32_t x = c->seed ^ (from ? 0x5bd1e995u : 0u);
    x += off * 0x9e3779b1u;
    x ^= x >> 16;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    return (uint8_t)(x >> 8);
}

SG_FN void sg_payload(const sg_traffic *t, const sg_pkt *k, uint8_t *out) {
    const sg_conn *c = &t->conns[k->conn];
    uint32_t i;
    for (i = 0; i < k->len; i++) out[i] = sg_byte(c, k->from, k->off + i);
}

SG_FN void sg_free(sg_traffic *t) {
    free(t->tuples);
    free(t->conns);
    free(t->pkts);
    memset(t, 0, sizeof *t);
}

SG_FN void sg_push(sg_traffic *t, const sg_pkt *k) {
    if (t->npkts == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4096;
        t->pkts = (sg_pkt *)sg_xrealloc(t->pkts, t->cap * sizeof *t->pkts);
    }
    t->pkts[t->npkts++] = *k;
}

/* --- one connection's packets, in the order it sends them */

typedef struct sg_plan {
    sg_pkt *v;
    uint8_t *lost;  /* by plan index */
    size_t n, cap, pos;
    size_t trigger; /* the packet after which the engine closes it (FIN/RST) */
    size_t late_src;/* the packet a late retransmission copies */
} sg_plan;

SG_FN void sg_plan_add(sg_plan *pl, uint32_t conn, int from, uint16_t flags, uint32_t seq, uint32_t off,
                       uint32_t len) {
    sg_pkt *k;
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? pl->cap * 2 : 32;
        pl->v = (sg_pkt *)sg_xrealloc(pl->v, pl->cap * sizeof *pl->v);
        pl->lost = (uint8_t *)sg_xrealloc(pl->lost, pl->cap);
    }
    k = &pl->v[pl->n];
    memset(k, 0, sizeof *k);
    k->conn = conn;
    k->from = (uint8_t)from;
    k->flags = flags;
    k->seq = seq;
    k->off = off;
    k->len = len;
    pl->lost[pl->n] = 0;
    pl->n++;
}

SG_FN int sg_is_data(const sg_pkt *k) { return k->len > 0; }

/* the payload of one direction in segments of up to mss, from `from` */
SG_FN void sg_plan_data(sg_plan *pl, sg_rng *r, const sg_conn *c, uint32_t ci, int from, uint32_t mss,
                        int acks_every) {
    uint32_t off = 0, n = 0;
    if (!c->len[from]) return;
    while (off < c->len[from]) {
        uint32_t len = sg_range(r, mss / 3 + 1, mss);
        if (len > c->len[from] - off) len = c->len[from] - off;
        sg_plan_add(pl, ci, from, TCPS_TH_ACK | TCPS_TH_PSH, c->isn[from] + 1 + off, off, len);
        off += len;
        if (acks_every && ++n % (uint32_t)acks_every == 0 && off < c->len[from])
            sg_plan_add(pl, ci, !from, TCPS_TH_ACK, 0, 0, 0);
    }
    sg_plan_add(pl, ci, !from, TCPS_TH_ACK, 0, 0, 0); /* the receiver's ACK of it all */
}

/* The packets of connection ci; ACK numbers are those of a receiver that
   got every packet sent before (lost ones included: the capture lost them,
   not the network). */
SG_FN void sg_plan_conn(sg_traffic *t, sg_plan *pl, sg_rng *r, uint32_t ci) {
    const sg_params *p = &t->p;
    sg_conn *c = &t->conns[ci];
    uint32_t i, k, first_end, mss = p->mss ? p->mss : 1200;
    uint8_t *got[2];
    uint32_t prefix[2] = {0, 0}, sent[2] = {0, 0};
    int syn[2] = {0, 0}, fin[2] = {0, 0};
    pl->n = pl->pos = 0;
    sg_plan_add(pl, ci, 0, TCPS_TH_SYN, c->isn[0], 0, 0);
    if (!c->filler && sg_pct(r, p->dup_pct)) sg_plan_add(pl, ci, 0, TCPS_TH_SYN, c->isn[0], 0, 0);
    sg_plan_add(pl, ci, 1, TCPS_TH_SYN | TCPS_TH_ACK, c->isn[1], 0, 0);
    sg_plan_add(pl, ci, 0, TCPS_TH_ACK, c->isn[0] + 1, 0, 0);
    sg_plan_data(pl, r, c, ci, 0, mss, 0);
    sg_plan_data(pl, r, c, ci, 1, mss, 2);
    first_end = (uint32_t)pl->n;
    /* reordering and duplicates among the data segments */
    for (i = 3; i + 1 < first_end; i++)
        if (sg_is_data(&pl->v[i]) && sg_is_data(&pl->v[i + 1]) && pl->v[i].from == pl->v[i + 1].from &&
            sg_pct(r, p->reorder_pct)) {
            sg_pkt x = pl->v[i];
            pl->v[i] = pl->v[i + 1], pl->v[i + 1] = x;
            i++;
        }
    for (i = 3; i < first_end; i++)
        if (sg_is_data(&pl->v[i]) && sg_pct(r, p->dup_pct)) {
            sg_pkt x = pl->v[i];
            uint32_t at = i + 1 + sg_below(r, 4);
            if (at > first_end) at = first_end;
            sg_plan_add(pl, ci, 0, 0, 0, 0, 0); /* room */
            memmove(&pl->v[at + 1], &pl->v[at], (pl->n - 1 - at) * sizeof *pl->v);
            pl->v[at] = x;
            first_end++;
            i++;
        }
    /* the end */
    pl->trigger = pl->late_src = 0;
    if (c->end == SG_END_FIN) {
        int a = (int)sg_below(r, 2); /* who closes first */
        sg_plan_add(pl, ci, a, TCPS_TH_FIN | TCPS_TH_ACK, c->isn[a] + 1 + c->len[a], c->len[a], 0);
        sg_plan_add(pl, ci, !a, TCPS_TH_FIN | TCPS_TH_ACK, c->isn[!a] + 1 + c->len[!a], c->len[!a], 0);
        pl->trigger = pl->n - 1;
        sg_plan_add(pl, ci, a, TCPS_TH_ACK, c->isn[a] + 2 + c->len[a], c->len[a], 0);
        switch (sg_below(r, 3)) { /* what may come late */
        case 0: pl->late_src = pl->n - 1; break;     /* the final ACK */
        case 1: pl->late_src = pl->trigger; break;   /* the second FIN */
        default: pl->late_src = pl->trigger - 1; break; /* the first FIN */
        }
    } else if (c->end == SG_END_RST) {
        int a = (int)sg_below(r, 2);
        sg_plan_add(pl, ci, a, TCPS_TH_RST | TCPS_TH_ACK, c->isn[a] + 1 + c->len[a], c->len[a], 0);
        pl->trigger = pl->n - 1;
        pl->late_src = pl->trigger - 1; /* the last ACK before it */
    }
    /* a data segment may come late too: the last one of the response */
    if (c->end != SG_END_OPEN && sg_below(r, 3) == 0)
        for (k = first_end; k-- > 3;)
            if (sg_is_data(&pl->v[k]) && pl->v[k].from == 1) {
                pl->late_src = k;
                break;
            }
    /* losses: data segments and pure ACKs before the end; never a SYN, FIN
       or RST, nor the last segment of a direction (bytes after the last
       one captured could not be known to be missing) */
    if (p->loss_pct && !c->filler)
        for (i = 3; i < first_end; i++)
            if (!(pl->v[i].flags & (TCPS_TH_SYN | TCPS_TH_FIN | TCPS_TH_RST)) &&
                !(pl->v[i].len && pl->v[i].off + pl->v[i].len == c->len[pl->v[i].from]) && sg_pct(r, p->loss_pct))
                pl->lost[i] = 1;
    /* ACK numbers */
    got[0] = (uint8_t *)calloc(c->len[0] + 1, 1);
    got[1] = (uint8_t *)calloc(c->len[1] + 1, 1);
    if (!got[0] || !got[1]) sg_oom();
    for (i = 0; i < pl->n; i++) {
        sg_pkt *x = &pl->v[i];
        int f = x->from, q = !f;
        if (x->flags & TCPS_TH_ACK)
            x->ack = syn[q] ? c->isn[q] + 1 + prefix[q] + (fin[q] && prefix[q] == c->len[q] ? 1u : 0u) : 0;
        if (x->flags == TCPS_TH_ACK && !x->len) /* a pure ACK: at the sender's next sequence number */
            x->seq = c->isn[f] + 1 + sent[f] + (fin[f] ? 1u : 0u);
        if (x->len && x->off + x->len > sent[f]) sent[f] = x->off + x->len;
        if (x->flags & TCPS_TH_SYN) syn[f] = 1;
        if (x->flags & TCPS_TH_FIN) fin[f] = 1;
        if (x->len) {
            memset(got[f] + x->off, 1, x->len);
            while (prefix[f] < c->len[f] && got[f][prefix[f]]) prefix[f]++;
        }
    }
    free(got[0]);
    free(got[1]);
}

/* --- the schedule */

typedef struct sg_slot { /* per 4-tuple */
    int busy;
    uint32_t last;       /* the last connection on it (+1; 0: none) */
    uint64_t close_us;   /* when the engine started closing the last one */
    uint64_t ready_us;   /* the next connection may start then */
    uint64_t late_us;    /* a late packet is due then (0: none) */
    sg_pkt late_pkt;
} sg_slot;

typedef struct sg_run {
    uint32_t conn;
    uint64_t close_us; /* when its FIN or RST exchange made the engine close it */
    sg_plan plan;
} sg_run;

SG_FN uint32_t sg_isn_near(sg_rng *r, uint32_t isn, uint32_t end, uint32_t used, unsigned modes, uint8_t *mode) {
    uint32_t x;
    unsigned m;
    if (!modes) modes = SG_ISN_ABOVE | SG_ISN_EQUAL | SG_ISN_BELOW;
    do m = 1u << sg_below(r, 3); while (!(modes & m));
    *mode = (uint8_t)m;
    if (m == SG_ISN_ABOVE) x = end + 1 + (sg_below(r, 2) ? sg_below(r, 64) : sg_below(r, 250000));
    else if (m == SG_ISN_EQUAL) x = end;
    else x = sg_below(r, 2) ? end - 1 - sg_below(r, used + 1) : isn - 1 - sg_below(r, 100000);
    if (x == isn) x--; /* the previous ISN again would be a retransmitted SYN */
    return x;
}

SG_FN void sg_new_conn(sg_traffic *t, sg_rng *r, uint32_t ci, uint32_t tuple, int filler, int closed) {
    const sg_params *p = &t->p;
    sg_conn *c = &t->conns[ci];
    memset(c, 0, sizeof *c);
    c->tuple = tuple;
    c->filler = (uint8_t)filler;
    c->seed = sg_next(r);
    if (filler) {
        c->len[0] = sg_below(r, 2) ? 0 : sg_range(r, 1, 60);
        c->len[1] = sg_below(r, 2) ? 0 : sg_range(r, 1, 200);
        c->end = closed ? SG_END_FIN : SG_END_OPEN;
    } else {
        c->len[0] = sg_range(r, p->req_min, p->req_max);
        c->len[1] = sg_range(r, p->resp_min, p->resp_max);
        c->end = sg_pct(r, p->rst_pct) ? SG_END_RST : SG_END_FIN;
    }
    c->isn[0] = sg_below(r, 4) ? sg_next(r) : 0xffffffffu - sg_below(r, 4000);
    c->isn[1] = sg_below(r, 4) ? sg_next(r) : 0xffffffffu - sg_below(r, 4000);
}

/* Make the traffic of *p into t (free it with sg_free). */
SG_FN void sg_generate(sg_traffic *t, const sg_params *params) {
    sg_params P = *params;
    sg_rng r;
    sg_slot *slot;
    sg_run *act;
    uint32_t nact = 0, started = 0, fill_started = 0, fill_total, fill_open_left, i, reuse_tuples;
    uint64_t now = 1000000;
    uint32_t linger_us;
    memset(t, 0, sizeof *t);
    if (!P.hosts) P.hosts = 1;
    if (!P.ports) P.ports = 1;
    if (P.hosts * P.ports > 65536) P.ports = 65536 / P.hosts;
    if (!P.active) P.active = 1;
    if (!P.mss) P.mss = 1200;
    if (!P.step_us) P.step_us = 1;
    if (P.req_max < P.req_min) P.req_max = P.req_min;
    if (P.resp_max < P.resp_min) P.resp_max = P.resp_min;
    t->p = P;
    linger_us = (P.linger_ms ? P.linger_ms : 1000u) * 1000u;
    r.s = P.seed;
    reuse_tuples = P.hosts * P.ports;
    fill_total = P.filler_open + P.filler_closed;
    fill_open_left = P.filler_open;
    t->ntuples = reuse_tuples + fill_total;
    t->nconns = P.conns + fill_total;
    t->tuples = (sg_tuple *)sg_xrealloc(NULL, t->ntuples * sizeof *t->tuples);
    t->conns = (sg_conn *)sg_xrealloc(NULL, (t->nconns ? t->nconns : 1) * sizeof *t->conns);
    for (i = 0; i < t->ntuples; i++) {
        sg_tuple *u = &t->tuples[i];
        u->srv[0] = 10, u->srv[1] = 0, u->srv[2] = 0, u->srv[3] = 1;
        if (i < reuse_tuples) {
            uint32_t h = i / P.ports;
            u->cli[0] = 10, u->cli[1] = 1, u->cli[2] = (uint8_t)(h >> 8), u->cli[3] = (uint8_t)h;
            u->cport = (uint16_t)(32768 + (i % P.ports) * 7 % 28000);
            u->sport = 80;
        } else {
            uint32_t f = i - reuse_tuples;
            u->cli[0] = 10, u->cli[1] = (uint8_t)(16 + (f >> 16)), u->cli[2] = (uint8_t)(f >> 8), u->cli[3] = (uint8_t)f;
            u->cport = (uint16_t)(50000 + f % 10000);
            u->sport = 443;
        }
    }
    slot = (sg_slot *)calloc(t->ntuples ? t->ntuples : 1, sizeof *slot);
    act = (sg_run *)calloc(P.active, sizeof *act);
    if (!slot || !act) sg_oom();

    for (;;) {
        uint32_t a;
        uint64_t wake = UINT64_MAX;
        /* late packets that are due */
        for (i = 0; i < reuse_tuples; i++)
            if (slot[i].late_us && slot[i].late_us <= now) {
                sg_pkt k = slot[i].late_pkt;
                k.ts_us = now;
                k.late = 1;
                sg_push(t, &k);
                t->conns[k.conn].late++;
                t->conns[k.conn].last_pkt = t->npkts - 1;
                t->late++;
                slot[i].late_us = 0;
                now += 1 + sg_below(&r, P.step_us);
            }
        /* start connections while there is room */
        if (P.max_packets && t->npkts >= P.max_packets) { /* enough: start nothing more */
            t->nconns = started + fill_started;
            P.conns = started;
            fill_total = fill_started;
            t->p.conns = started;
        }
        while (nact < P.active && (started < P.conns || fill_started < fill_total)) {
            uint32_t ci, tuple = 0, nready = 0, pick;
            int filler;
            sg_conn *c;
            filler = fill_started < fill_total &&
                     (started >= P.conns || (uint64_t)fill_started * P.conns <= (uint64_t)started * fill_total);
            if (!filler) {
                for (i = 0; i < reuse_tuples; i++)
                    if (!slot[i].busy && slot[i].ready_us <= now && !slot[i].late_us) nready++;
                if (!nready) break;
            }
            ci = started + fill_started;
            if (filler) {
                tuple = reuse_tuples + fill_started;
                /* open and closed ones mixed */
                if (sg_below(&r, fill_total - fill_started) < fill_open_left) {
                    sg_new_conn(t, &r, ci, tuple, 1, 0);
                    fill_open_left--;
                } else {
                    sg_new_conn(t, &r, ci, tuple, 1, 1);
                }
                fill_started++;
                t->fillers++;
            } else {
                pick = sg_below(&r, nready);
                for (i = 0; i < reuse_tuples; i++)
                    if (!slot[i].busy && slot[i].ready_us <= now && !slot[i].late_us && pick-- == 0) break;
                tuple = i;
                sg_new_conn(t, &r, ci, tuple, 0, 0);
                c = &t->conns[ci];
                if (slot[tuple].last) {
                    const sg_conn *o = &t->conns[slot[tuple].last - 1];
                    uint64_t since = now - slot[tuple].close_us;
                    int k;
                    for (k = 0; k < 2; k++) {
                        uint32_t used = o->len[k] + (o->end == SG_END_FIN ? 1u : 0u);
                        uint8_t m;
                        c->isn[k] = sg_isn_near(&r, o->isn[k], o->isn[k] + 1 + used, used, P.isn_modes, &m);
                        if (k == 0) c->isn_mode = m;
                    }
                    c->reuse = since + 5000 < linger_us ? SG_SOON : since > linger_us + 5000 ? SG_AFTER : SG_NEAR;
                    t->isn_modes[c->isn_mode]++;
                }
                started++;
                slot[tuple].busy = 1;
                slot[tuple].last = ci + 1;
            }
            c = &t->conns[ci];
            t->reuse[c->reuse]++;
            t->bytes += (uint64_t)c->len[0] + c->len[1];
            if (c->end == SG_END_RST) t->rst++;
            act[nact].conn = ci;
            act[nact].close_us = 0;
            sg_plan_conn(t, &act[nact].plan, &r, ci);
            nact++;
            if (nact > t->peak_active) t->peak_active = nact;
            c->first_pkt = c->last_pkt = t->npkts; /* its SYN goes out now */
            {
                sg_pkt k = act[nact - 1].plan.v[0];
                k.ts_us = now;
                sg_push(t, &k);
                act[nact - 1].plan.pos = 1;
                now += 1 + sg_below(&r, P.step_us);
            }
        }
        if (!nact) {
            if (started >= P.conns && fill_started >= fill_total) {
                int pending = 0;
                for (i = 0; i < reuse_tuples; i++)
                    if (slot[i].late_us) pending = 1, wake = wake < slot[i].late_us ? wake : slot[i].late_us;
                if (!pending) break;
            } else {
                for (i = 0; i < reuse_tuples; i++) {
                    uint64_t w = slot[i].late_us ? slot[i].late_us : slot[i].ready_us;
                    if (!slot[i].busy && w < wake) wake = w;
                }
            }
            if (wake == UINT64_MAX) break;
            if (wake > now) now = wake;
            continue;
        }
        /* one packet of one of the running connections */
        a = sg_below(&r, nact);
        {
            sg_run *x = &act[a];
            sg_plan *pl = &x->plan;
            sg_conn *c = &t->conns[x->conn];
            size_t at = pl->pos++;
            if (pl->lost[at]) {
                c->lost++;
                t->lost++;
            } else {
                sg_pkt k = pl->v[at];
                k.ts_us = now;
                if (c->end != SG_END_OPEN && at == pl->trigger) x->close_us = now;
                if (c->end != SG_END_OPEN && at > pl->trigger) {
                    /* after the close (a FIN or ACK): once the linger is
                       over the engine has ended the session, the packet
                       is late */
                    if (now >= x->close_us + linger_us + 5000) {
                        k.late = 1;
                        c->late++;
                        t->late++;
                    } else if (now + 5000 > x->close_us + linger_us) {
                        t->unsure++;
                    }
                }
                sg_push(t, &k);
                c->last_pkt = t->npkts - 1;
                now += 1 + sg_below(&r, P.step_us);
            }
            if (pl->pos == pl->n) { /* done: its 4-tuple is free again */
                if (!c->filler) {
                    sg_slot *s = &slot[c->tuple];
                    uint64_t lo = now > x->close_us ? now - x->close_us : 0; /* since its close */
                    s->close_us = x->close_us;
                    s->busy = 0;
                    if (sg_pct(&r, P.soon_pct) && lo + 10000 < linger_us) {
                        s->ready_us = s->close_us + sg_range(&r, (uint32_t)lo + 1000, linger_us - 10000);
                    } else {
                        uint64_t after = s->close_us + linger_us + 20000 + sg_below(&r, 600000);
                        if (!P.loss_pct && sg_pct(&r, P.late_pct)) {
                            s->late_us = s->close_us + linger_us + 8000 + sg_below(&r, (uint32_t)(after - s->close_us - linger_us - 8000) / 2);
                            s->late_pkt = pl->v[pl->late_src];
                            if (after < s->late_us + 3000) after = s->late_us + 3000;
                        }
                        s->ready_us = after;
                    }
                }
                free(pl->v);
                free(pl->lost);
                memset(pl, 0, sizeof *pl);
                act[a] = act[--nact];
                memset(&act[nact], 0, sizeof act[nact]);
            }
        }
    }
    free(slot);
    free(act);
}

/* ----------------------------------------------------------- the check */

typedef struct sg_sess {
    uint32_t conn;
    uint64_t next[2]; /* by engine direction */
    int closed;
    int stray;        /* opened by a late packet: the tombstone was gone */
} sg_sess;

typedef struct sg_result {
    uint64_t bytes[2], missing[2];
    uint32_t gaps[2];
    uint32_t sessions;
    uint64_t foreign;  /* bytes of other connections delivered in its sessions */
    int reason;        /* of its last session */
    int split;         /* evicted while it still had packets to come */
    int own_syn;       /* its first packet opened a session */
    int strayed;       /* a late packet of it opened a session */
} sg_result;

typedef struct sg_check {
    const sg_traffic *t;
    sg_sess *s;
    size_t ns, cap;
    sg_result *r;          /* by connection */
    unsigned long errors;
    char err[512];         /* the first error */
    uint32_t split;        /* connections evicted while they had packets to come */
    long at_conn;          /* the connection being checked (-1: none) */
    long err_conn;         /* that of the first error (-1: none) */
    uint32_t stray;        /* sessions opened by late packets */
    uint32_t max_sessions; /* the context's (0: default) */
} sg_check;

SG_FN void sg_fail(sg_check *k, const char *fmt, unsigned long long a, unsigned long long b, unsigned long long c) {
    if (!k->errors++) {
        snprintf(k->err, sizeof k->err, fmt, a, b, c);
        k->err_conn = k->at_conn;
    }
}

SG_FN void sg_check_init(sg_check *k, const sg_traffic *t) {
    memset(k, 0, sizeof *k);
    k->t = t;
    k->at_conn = k->err_conn = -1;
    k->r = (sg_result *)calloc(t->nconns ? t->nconns : 1, sizeof *k->r);
    if (!k->r) sg_oom();
}

SG_FN void sg_check_free(sg_check *k) {
    free(k->s);
    free(k->r);
    memset(k, 0, sizeof *k);
}

/* the session of an event (NULL after an error was counted) */
SG_FN sg_sess *sg_sess_of(sg_check *k, const tcps_event *ev) {
    uintptr_t i = (uintptr_t)ev->session->user;
    k->at_conn = -1;
    if (i == 0 || i > k->ns) {
        sg_fail(k, "event of a session never opened (stream %llu)", (unsigned long long)ev->session->stream, 0, 0);
        return NULL;
    }
    k->at_conn = (long)k->s[i - 1].conn;
    return &k->s[i - 1];
}

/* the endpoint (0 client, 1 server of the connection) sending direction dir */
SG_FN int sg_from(const sg_check *k, const tcps_event *ev, const sg_sess *s) {
    const sg_tuple *u = &k->t->tuples[k->t->conns[s->conn].tuple];
    int client_is_cli = ev->session->client.port == u->cport && memcmp(ev->session->client.addr, u->cli, 4) == 0;
    return ev->dir == TCPS_C2S ? !client_is_cli : client_is_cli;
}

SG_FN int sg_on_open(const tcps_event *ev, void *user) {
    sg_check *k = (sg_check *)user;
    sg_sess *s;
    if (ev->frame < 1 || ev->frame > k->t->npkts) {
        sg_fail(k, "OPEN at frame %llu of %llu", (unsigned long long)ev->frame, (unsigned long long)k->t->npkts, 0);
        return 0;
    }
    if (k->ns == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 1024;
        k->s = (sg_sess *)sg_xrealloc(k->s, k->cap * sizeof *k->s);
    }
    s = &k->s[k->ns++];
    memset(s, 0, sizeof *s);
    s->conn = k->t->pkts[ev->frame - 1].conn;
    if (k->t->pkts[ev->frame - 1].late) {
        s->stray = 1;
        k->stray++;
        k->r[s->conn].strayed = 1;
    } else {
        k->r[s->conn].sessions++;
        if (ev->frame - 1 == k->t->conns[s->conn].first_pkt) k->r[s->conn].own_syn = 1;
    }
    ev->session->user = (void *)(uintptr_t)k->ns;
    return 0;
}

SG_FN int sg_on_data(const tcps_event *ev, void *user) {
    sg_check *k = (sg_check *)user;
    sg_sess *s = sg_sess_of(k, ev);
    const sg_conn *c;
    uint32_t owner, abs, i;
    int from;
    if (!s) return 0;
    from = sg_from(k, ev, s);
    if (s->closed) sg_fail(k, "connection %llu: DATA after CLOSE", s->conn, 0, 0);
    if (ev->offset != s->next[ev->dir] || ev->data.len != ev->length || !ev->data.len)
        sg_fail(k, "connection %llu: DATA at offset %llu, expected %llu", s->conn, ev->offset, s->next[ev->dir]);
    s->next[ev->dir] = ev->offset + ev->length;
    /* the bytes are those of the connection that sent the packet they came
       in, at the sequence numbers the session gives them: offset 0 is one
       after the ISN the session has for that direction */
    owner = ev->data_frame >= 1 && ev->data_frame <= k->t->npkts ? k->t->pkts[ev->data_frame - 1].conn : s->conn;
    c = &k->t->conns[owner];
    abs = ev->session->dir[ev->dir].isn + 1u + (uint32_t)ev->offset - (c->isn[from] + 1u);
    if ((uint64_t)abs + ev->data.len > c->len[from]) {
        sg_fail(k, "connection %llu: bytes delivered beyond its stream (endpoint %llu, at %llu)", owner,
                (unsigned long long)from, abs);
    } else {
        for (i = 0; i < ev->data.len; i++)
            if (ev->data.ptr[i] != sg_byte(c, from, abs + i)) {
                sg_fail(k, "connection %llu: wrong byte at stream offset %llu (endpoint %llu)", owner,
                        (unsigned long long)abs + i, (unsigned long long)from);
                break;
            }
    }
    if (s->stray) return 0;
    if (owner != s->conn) k->r[s->conn].foreign += ev->data.len;
    else k->r[s->conn].bytes[from] += ev->data.len;
    return 0;
}

SG_FN int sg_on_gap(const tcps_event *ev, void *user) {
    sg_check *k = (sg_check *)user;
    sg_sess *s = sg_sess_of(k, ev);
    int from;
    if (!s) return 0;
    from = sg_from(k, ev, s);
    if (s->closed) sg_fail(k, "connection %llu: GAP after CLOSE", s->conn, 0, 0);
    if (ev->offset != s->next[ev->dir] || !ev->length)
        sg_fail(k, "connection %llu: GAP at offset %llu, expected %llu", s->conn, ev->offset, s->next[ev->dir]);
    s->next[ev->dir] = ev->offset + ev->length;
    if (!s->stray) {
        k->r[s->conn].missing[from] += ev->length;
        k->r[s->conn].gaps[from]++;
    }
    return 0;
}

SG_FN int sg_on_close(const tcps_event *ev, void *user) {
    sg_check *k = (sg_check *)user;
    sg_sess *s = sg_sess_of(k, ev);
    sg_result *r;
    if (!s) return 0;
    r = &k->r[s->conn];
    if (s->closed) sg_fail(k, "connection %llu: second CLOSE", s->conn, 0, 0);
    s->closed = 1;
    if (s->stray) return 0;
    r->reason = ev->reason;
    if (ev->reason == TCPS_END_EVICTED && ev->frame >= 1 && ev->frame - 1 < k->t->conns[s->conn].last_pkt &&
        !r->split) {
        r->split = 1;
        k->split++;
    }
    return 0;
}

/* cfg with sg_check's callbacks (the other fields zero) */
SG_FN void sg_check_config(tcps_config *cfg, sg_check *k) {
    memset(cfg, 0, sizeof *cfg);
    cfg->callbacks.on_open = sg_on_open;
    cfg->callbacks.on_data = sg_on_data;
    cfg->callbacks.on_gap = sg_on_gap;
    cfg->callbacks.on_close = sg_on_close;
    cfg->user = k;
    cfg->linger_ms = k->t->p.linger_ms;
    cfg->max_sessions = k->max_sessions;
}

static const char *const sg_reason_names[] = {"NONE", "FIN", "RST", "TIMEOUT", "EOF", "EVICTED", "REUSED"};

SG_FN const char *sg_reason_name(int r) { return r >= 0 && r <= 6 ? sg_reason_names[r] : "?"; }

/* Whether every tombstone the engine needs stays in its table: one per
   4-tuple closed by FIN or RST, and the engine keeps max_sessions / 16 of
   them, at least 1024 (the oldest go first beyond that). When it may not,
   a late packet may find no tombstone and open a session of its own, which
   the check then allows. */
SG_FN int sg_tombs_kept(const sg_traffic *t, uint32_t max_sessions) {
    uint64_t kept = (max_sessions ? max_sessions : 1048576u) / 16;
    return (uint64_t)t->p.filler_closed + t->p.hosts * t->p.ports + 16 <= (kept > 1024 ? kept : 1024);
}

/* After tcps_finish: the per-connection rules. Returns the error count;
   k->err says the first. */
SG_FN unsigned long sg_check_finish(sg_check *k, const tcps_stats *st) {
    const sg_traffic *t = k->t;
    uint32_t i;
    uint64_t want_sessions = t->nconns + k->stray, bytes = 0, missing = 0, lo, hi;
    size_t j;
    uint8_t *exempt = (uint8_t *)calloc(t->nconns ? t->nconns : 1, 1);
    long *prev = (long *)sg_xrealloc(NULL, (t->ntuples ? t->ntuples : 1) * sizeof *prev);
    uint32_t nexempt = 0;
    /* Eviction of a connection with packets to come splits it; what is left
       of it, or a session a late packet opened, may then take in the next
       connection on its 4-tuple (a SYN on a direction the session never saw
       starts nothing new). Such connections are checked only for the bytes
       delivered. */
    for (i = 0; i < t->ntuples; i++) prev[i] = -1;
    for (i = 0; i < t->nconns; i++) {
        long q = prev[t->conns[i].tuple];
        exempt[i] = (uint8_t)(k->r[i].split || (q >= 0 && (exempt[q] || k->r[q].strayed) && !k->r[i].own_syn));
        nexempt += exempt[i];
        prev[t->conns[i].tuple] = (long)i;
    }
    free(prev);
    for (j = 0; j < k->ns; j++)
        if (k->at_conn = (long)k->s[j].conn, !k->s[j].closed) sg_fail(k, "connection %llu: a session never closed", k->s[j].conn, 0, 0);
    for (i = 0; i < t->nconns; i++) {
        const sg_conn *c = &t->conns[i];
        const sg_result *r = &k->r[i];
        int f;
        k->at_conn = (long)i;
        bytes += r->bytes[0] + r->bytes[1] + r->foreign;
        missing += r->missing[0] + r->missing[1];
        if (exempt[i]) continue;
        if (r->foreign)
            sg_fail(k, "connection %llu: %llu bytes of other connections in its session", i, r->foreign, 0);
        if (r->sessions != 1) {
            sg_fail(k, "connection %llu: %llu sessions (its first packet is frame %llu)", i, r->sessions,
                    (unsigned long long)c->first_pkt + 1);
            continue;
        }
        for (f = 0; f < 2; f++) {
            if (r->bytes[f] + r->missing[f] != c->len[f])
                sg_fail(k, "connection %llu: %llu bytes delivered or missing of %llu", i, r->bytes[f] + r->missing[f],
                        c->len[f]);
            else if (!c->lost && (r->missing[f] || r->gaps[f]))
                sg_fail(k, "connection %llu: %llu bytes missing in %llu gaps, none lost", i, r->missing[f],
                        r->gaps[f]);
        }
        if (c->end == SG_END_OPEN) {
            if (r->reason != TCPS_END_EOF && r->reason != TCPS_END_EVICTED)
                sg_fail(k, "connection %llu (left open): ended %llu", i, (unsigned long long)r->reason, 0);
        } else if (r->reason != (c->end == SG_END_FIN ? TCPS_END_FIN : TCPS_END_RST) &&
                   !(c->lost && (r->reason == TCPS_END_REUSED || r->reason == TCPS_END_EOF ||
                                 r->reason == TCPS_END_FIN))) {
            sg_fail(k, "connection %llu: ended %llu, sent %llu (1 FIN, 2 RST)", i, (unsigned long long)r->reason,
                    c->end);
        }
    }
    if (sg_tombs_kept(t, k->max_sessions))
        for (j = 0; j < k->ns; j++) /* a late packet finds its tombstone, but after an eviction */
            if (k->at_conn = (long)k->s[j].conn, k->s[j].stray && !exempt[k->s[j].conn]) {
                sg_fail(k, "connection %llu: a late packet opened a session of its own", k->s[j].conn, 0, 0);
                break;
            }
    free(exempt);
    k->at_conn = -1;
    if (st->sessions != k->ns || (!nexempt && k->ns != want_sessions))
        sg_fail(k, "%llu sessions opened (stats %llu), %llu expected", (unsigned long long)k->ns,
                (unsigned long long)st->sessions, (unsigned long long)want_sessions);
    if (!k->stray && (st->bytes != bytes || st->missing != missing))
        sg_fail(k, "stats: %llu bytes, %llu missing; the events: %llu", (unsigned long long)st->bytes,
                (unsigned long long)st->missing, (unsigned long long)bytes);
    if (st->sessions_live || st->buffered)
        sg_fail(k, "left after finish: %llu live, %llu buffered", st->sessions_live, st->buffered, 0);
    /* late segments: the late packets (those within 5 ms of a linger's end
       either way), but for those that opened sessions; loss (a session
       closing after its FIN exchange) lowers the count, eviction (a session
       ended before its last ACK) raises it */
    lo = t->late > k->stray ? t->late - k->stray : 0;
    hi = (uint64_t)t->late + t->unsure;
    if (t->p.loss_pct || k->split) lo = 0;
    if (st->closed_evicted) hi = UINT64_MAX;
    if (st->late_segments < lo || st->late_segments > hi)
        sg_fail(k, "%llu late segments counted, %llu to %llu expected", (unsigned long long)st->late_segments,
                (unsigned long long)lo, (unsigned long long)hi);
    return k->errors;
}

/* One line about what the traffic holds. */
SG_FN void sg_describe(const sg_traffic *t, char *buf, size_t len) {
    snprintf(buf, len,
             "%lu connections (%lu on %lu shared 4-tuples: %lu first, %lu SYN while the previous lingered, %lu "
             "after, %lu near the linger's end; client ISN above/equal/below the previous end %lu/%lu/%lu; %lu "
             "RST), %lu packets, %lu late, %lu lost, %llu payload bytes, up to %lu at once",
             (unsigned long)t->nconns, (unsigned long)t->p.conns, (unsigned long)(t->p.hosts * t->p.ports),
             (unsigned long)t->reuse[SG_FIRST] - (unsigned long)t->fillers,
             (unsigned long)t->reuse[SG_SOON], (unsigned long)t->reuse[SG_AFTER], (unsigned long)t->reuse[SG_NEAR],
             (unsigned long)t->isn_modes[SG_ISN_ABOVE], (unsigned long)t->isn_modes[SG_ISN_EQUAL],
             (unsigned long)t->isn_modes[SG_ISN_BELOW], (unsigned long)t->rst, (unsigned long)t->npkts,
             (unsigned long)t->late, (unsigned long)t->lost, (unsigned long long)t->bytes,
             (unsigned long)t->peak_active);
}

/* ---------------------------------------------------------- feeding */

/* Packet i as a decoded segment; payload must have room for its bytes. */
SG_FN void sg_segment(const sg_traffic *t, size_t i, tcps_segment *g, uint8_t *payload) {
    const sg_pkt *k = &t->pkts[i];
    const sg_tuple *u = &t->tuples[t->conns[k->conn].tuple];
    memset(g, 0, sizeof *g);
    g->ts.sec = (int64_t)(k->ts_us / 1000000u);
    g->ts.nsec = (uint32_t)(k->ts_us % 1000000u) * 1000u;
    g->frame = (uint64_t)i + 1;
    g->ip_version = 4;
    memcpy(g->src, k->from ? u->srv : u->cli, 4);
    memcpy(g->dst, k->from ? u->cli : u->srv, 4);
    g->sport = k->from ? u->sport : u->cport;
    g->dport = k->from ? u->cport : u->sport;
    g->seq = k->seq;
    g->ack = k->ack;
    g->flags = k->flags;
    g->window = 65535;
    g->hdr_len = 20;
    sg_payload(t, k, payload);
    g->payload.ptr = k->len ? payload : NULL;
    g->payload.len = k->len;
    g->payload_len = k->len;
}

/* The largest payload of a packet (a buffer for sg_segment). */
SG_FN uint32_t sg_max_payload(const sg_traffic *t) {
    size_t i;
    uint32_t m = 1;
    for (i = 0; i < t->npkts; i++)
        if (t->pkts[i].len > m) m = t->pkts[i].len;
    return m;
}

#if defined(CAPWRITER_H) && defined(PKTBUILD_H)
/* The traffic as an Ethernet pcap (microseconds), frame i+1 being packet i. */
SG_FN void sg_write_pcap(const sg_traffic *t, capw_buf *out) {
    pb_buf *b = (pb_buf *)sg_xrealloc(NULL, sizeof *b);
    uint8_t *payload = (uint8_t *)sg_xrealloc(NULL, sg_max_payload(t));
    size_t i;
    capw_init(out);
    capw_pcap_header(out, 0, 0, 65535, TCPS_LINKTYPE_ETHERNET);
    for (i = 0; i < t->npkts; i++) {
        const sg_pkt *k = &t->pkts[i];
        const sg_tuple *u = &t->tuples[t->conns[k->conn].tuple];
        pb_tcp_hdr th = pb_tcp_default(k->from ? u->sport : u->cport, k->from ? u->cport : u->sport);
        pb_ip_hdr ip = pb_ip4("0.0.0.0", "0.0.0.0");
        memcpy(ip.src, k->from ? u->srv : u->cli, 4);
        memcpy(ip.dst, k->from ? u->cli : u->srv, 4);
        th.seq = k->seq, th.ack = k->ack, th.flags = k->flags;
        sg_payload(t, k, payload);
        pb_init(b);
        if (k->len) pb_append(b, payload, k->len);
        pb_tcp(b, &th);
        pb_ipv4(b, &ip, PB_TCP);
        pb_ether(b, PB_ETH_IPV4);
        capw_pcap_record(out, (uint32_t)(k->ts_us / 1000000u), (uint32_t)(k->ts_us % 1000000u), pb_data(b),
                         (uint32_t)pb_len(b), (uint32_t)pb_len(b));
    }
    free(payload);
    free(b);
}
#endif

#endif
