/* Helpers for the reassembly tests: build tcps_segment values by hand and
   record every event a context emits, checking the invariants that hold
   for any input (offsets contiguous per direction, close last). */
#ifndef REASM_UTIL_H
#define REASM_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tcpsession.h"
#include "accounting.h"

#define RU_MAX_SESS 4096

typedef struct ru_dir {
    uint8_t *buf;   /* bytes by stream offset; gaps left as 0 */
    uint8_t *known; /* 1 where buf holds a delivered byte */
    size_t len, cap;
    uint64_t next;  /* offset the next event must start at */
    uint64_t missing, delivered;
    int gaps, chunks;
    int gap_reasons[8];
} ru_dir;

typedef struct ru_sess {
    uint64_t stream;
    int opened, closed, reason, events_after_close;
    uint32_t anomalies[2]; /* by direction, as the close saw them */
    tcps_endpoint client, server;
    ru_dir d[2];
} ru_sess;

typedef struct ru_rec {
    ru_sess s[RU_MAX_SESS];
    int n;
    int errors;           /* invariant violations seen */
    char log[8192];       /* compact event log: "O0 D0+5 G1+2 C0" */
    size_t loglen;
    long abort_at;        /* return non-zero from the n-th callback (0: never) */
    long calls;
} ru_rec;

static void ru_log(ru_rec *r, const char *fmt, unsigned long long a, unsigned long long b) {
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, fmt, a, b);
    if (n > 0 && r->loglen + (size_t)n + 2 < sizeof r->log) {
        if (r->loglen) r->log[r->loglen++] = ' ';
        memcpy(r->log + r->loglen, tmp, (size_t)n);
        r->loglen += (size_t)n;
        r->log[r->loglen] = 0;
    }
}

static void ru_dir_put(ru_dir *d, uint64_t off, const uint8_t *p, size_t n) {
    size_t need = (size_t)off + n;
    if (need > d->cap) {
        size_t nc = d->cap ? d->cap : 256;
        while (nc < need) nc *= 2;
        d->buf = (uint8_t *)realloc(d->buf, nc);
        d->known = (uint8_t *)realloc(d->known, nc);
        memset(d->buf + d->cap, 0, nc - d->cap);
        memset(d->known + d->cap, 0, nc - d->cap);
        d->cap = nc;
    }
    if (p) {
        memcpy(d->buf + off, p, n);
        memset(d->known + off, 1, n);
    }
    if (need > d->len) d->len = need;
}

static ru_sess *ru_get(ru_rec *r, const tcps_event *ev) {
    uintptr_t i = (uintptr_t)ev->session->user;
    if (i == 0 || i > (uintptr_t)r->n) {
        r->errors++;
        return NULL;
    }
    return &r->s[i - 1];
}

static int ru_ret(ru_rec *r) {
    r->calls++;
    return r->abort_at && r->calls >= r->abort_at;
}

static int ru_on_open(const tcps_event *ev, void *user) {
    ru_rec *r = (ru_rec *)user;
    ru_sess *s;
    if (r->n >= RU_MAX_SESS) {
        r->errors++;
        return ru_ret(r);
    }
    s = &r->s[r->n++];
    memset(s, 0, sizeof *s);
    s->opened = 1;
    s->stream = ev->session->stream;
    s->client = ev->session->client;
    s->server = ev->session->server;
    ev->session->user = (void *)(uintptr_t)r->n;
    ru_log(r, "O%llu", (unsigned long long)s->stream, 0);
    return ru_ret(r);
}

static int ru_on_data(const tcps_event *ev, void *user) {
    ru_rec *r = (ru_rec *)user;
    ru_sess *s = ru_get(r, ev);
    ru_dir *d;
    if (!s) return ru_ret(r);
    if (s->closed) s->events_after_close++;
    d = &s->d[ev->dir];
    if (ev->offset != d->next || ev->length != ev->data.len || ev->data.len == 0) r->errors++;
    ru_dir_put(d, ev->offset, ev->data.ptr, ev->data.len);
    d->next = ev->offset + ev->data.len;
    d->delivered += ev->data.len;
    d->chunks++;
    ru_log(r, ev->dir ? "D%llu:%llu>" : "D%llu:%llu<", (unsigned long long)s->stream,
           (unsigned long long)ev->data.len);
    return ru_ret(r);
}

static int ru_on_gap(const tcps_event *ev, void *user) {
    ru_rec *r = (ru_rec *)user;
    ru_sess *s = ru_get(r, ev);
    ru_dir *d;
    if (!s) return ru_ret(r);
    if (s->closed) s->events_after_close++;
    d = &s->d[ev->dir];
    if (ev->offset != d->next || ev->length == 0) r->errors++;
    ru_dir_put(d, ev->offset, NULL, (size_t)ev->length);
    d->next = ev->offset + ev->length;
    d->missing += ev->length;
    d->gaps++;
    if (ev->reason >= 0 && ev->reason < 8) d->gap_reasons[ev->reason]++;
    ru_log(r, ev->dir ? "G%llu:%llu>" : "G%llu:%llu<", (unsigned long long)s->stream,
           (unsigned long long)ev->length);
    return ru_ret(r);
}

static int ru_on_close(const tcps_event *ev, void *user) {
    ru_rec *r = (ru_rec *)user;
    ru_sess *s = ru_get(r, ev);
    if (!s) return ru_ret(r);
    if (s->closed) r->errors++;
    s->closed = 1;
    s->reason = ev->reason;
    s->anomalies[0] = ev->session->dir[0].anomalies;
    s->anomalies[1] = ev->session->dir[1].anomalies;
    ru_log(r, "C%llu:%llu", (unsigned long long)s->stream, (unsigned long long)ev->reason);
    return ru_ret(r);
}

static void ru_free(ru_rec *r) {
    int i, k;
    for (i = 0; i < r->n; i++)
        for (k = 0; k < 2; k++) {
            free(r->s[i].d[k].buf);
            free(r->s[i].d[k].known);
        }
    r->n = 0;
}

static void ru_config(tcps_config *cfg, ru_rec *r) {
    memset(cfg, 0, sizeof *cfg);
    cfg->callbacks.on_open = ru_on_open;
    cfg->callbacks.on_data = ru_on_data;
    cfg->callbacks.on_gap = ru_on_gap;
    cfg->callbacks.on_close = ru_on_close;
    cfg->user = r;
}

/* --- segments by hand */

typedef struct ru_ep {
    uint8_t addr[16];
    uint16_t port;
    int v;
} ru_ep;

static ru_ep ru_v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
    ru_ep e;
    memset(&e, 0, sizeof e);
    e.addr[0] = a, e.addr[1] = b, e.addr[2] = c, e.addr[3] = d;
    e.port = port;
    e.v = 4;
    return e;
}

static long ru_frame;

/* Feed one segment from `from` to `to` at capture time ms. */
static int ru_seg(tcps_ctx *c, ru_ep from, ru_ep to, uint32_t seq, uint32_t ack, uint16_t flags,
                  const void *data, size_t len, long ms) {
    tcps_segment g;
    memset(&g, 0, sizeof g);
    g.ts.sec = ms / 1000;
    g.ts.nsec = (uint32_t)(ms % 1000) * 1000000u;
    g.frame = (uint64_t)++ru_frame;
    g.ip_version = (uint8_t)from.v;
    memcpy(g.src, from.addr, 16);
    memcpy(g.dst, to.addr, 16);
    g.sport = from.port;
    g.dport = to.port;
    g.seq = seq;
    g.ack = ack;
    g.flags = flags;
    g.window = 65535;
    g.hdr_len = 20;
    g.payload.ptr = (const uint8_t *)data;
    g.payload.len = len;
    g.payload_len = (uint32_t)len;
    return tcps_feed_segment(c, &g);
}

#define RU_A TCPS_TH_ACK
#define RU_PA (TCPS_TH_PSH | TCPS_TH_ACK)
#define RU_S TCPS_TH_SYN
#define RU_SA (TCPS_TH_SYN | TCPS_TH_ACK)
#define RU_FA (TCPS_TH_FIN | TCPS_TH_ACK)
#define RU_R TCPS_TH_RST
#define RU_RA (TCPS_TH_RST | TCPS_TH_ACK)

#endif
