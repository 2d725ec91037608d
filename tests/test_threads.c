/* No globals: contexts in separate threads do not disturb each other. Four
   threads reassemble captures at the same time, each with its own reader
   and context, and must get what one thread alone gets. */
#define _POSIX_C_SOURCE 200809L
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "tsl.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    const char *path;
    int rounds;
    tsl_hash *h;
    char digest[65];
    unsigned long long bytes, events;
    int rc;
} job;

static int on_event(const tcps_event *ev, void *user) {
    job *j = (job *)user;
    uint64_t hdr[4];
    hdr[0] = (uint64_t)ev->type;
    hdr[1] = ev->session->stream;
    hdr[2] = ev->offset;
    hdr[3] = ev->length;
    tsl_hash_update(j->h, hdr, sizeof hdr);
    if (ev->type == TCPS_EV_DATA) {
        tsl_hash_update(j->h, ev->data.ptr, ev->data.len);
        j->bytes += ev->data.len;
    }
    j->events++;
    return 0;
}

static void *run(void *arg) {
    job *j = (job *)arg;
    int k;
    if (!(j->h = tsl_hash_new(TSL_SHA256))) {
        j->rc = TCPS_E_NOMEM;
        return NULL;
    }
    for (k = 0; k < j->rounds; k++) {
        tcps_reader *r;
        tcps_ctx *c;
        tcps_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.callbacks.on_open = cfg.callbacks.on_data = cfg.callbacks.on_gap = cfg.callbacks.on_close = on_event;
        cfg.user = j;
        if ((j->rc = tcps_reader_open_path(&r, j->path, NULL)) != TCPS_OK) return NULL;
        if ((j->rc = tcps_create(&c, &cfg)) != TCPS_OK) return NULL;
        j->rc = tcps_run(c, r);
        tcps_destroy(c);
        tcps_reader_close(r);
        if (j->rc != TCPS_OK) return NULL;
    }
    tsl_hash_hex(j->h, j->digest);
    tsl_hash_free(j->h);
    return NULL;
}

Test(threads, separate_contexts_in_parallel) {
    const char *paths[2] = {"data/sample.pcap", "data/sample.pcapng"};
    job alone[2], par[4];
    pthread_t t[4];
    int i;
    for (i = 0; i < 2; i++) {
        memset(&alone[i], 0, sizeof alone[i]);
        alone[i].path = paths[i];
        alone[i].rounds = 50;
        run(&alone[i]);
        cr_assert_eq(alone[i].rc, TCPS_OK);
        cr_assert_gt(alone[i].bytes, 0);
    }
    for (i = 0; i < 4; i++) {
        memset(&par[i], 0, sizeof par[i]);
        par[i].path = paths[i % 2];
        par[i].rounds = 50;
        cr_assert_eq(pthread_create(&t[i], NULL, run, &par[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(par[i].rc, TCPS_OK);
        cr_assert_eq(par[i].events, alone[i % 2].events, "thread %d", i);
        cr_assert_str_eq(par[i].digest, alone[i % 2].digest, "thread %d saw other events", i);
    }
}
