/* The pull API (tcps_next) gives exactly the events the callbacks give, in
   the same order, with spans that stay valid until the next call; and after
   a reader error, every event before it, then the error. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "capwriter.h"
#include "tsl.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct evlog {
    char *text;
    size_t len, cap;
    long events;
} evlog;

static void logf_(evlog *l, const tcps_event *ev) {
    char line[256];
    int n;
    char hex[65] = "-";
    if (ev->type == TCPS_EV_DATA) tsl_digest_hex(TSL_SHA256, ev->data.ptr, ev->data.len, hex);
    n = snprintf(line, sizeof line, "%d s%llu d%d o%llu l%llu r%d f%llu df%llu %s\n", ev->type,
                 (unsigned long long)ev->session->stream, ev->dir, (unsigned long long)ev->offset,
                 (unsigned long long)ev->length, ev->reason, (unsigned long long)ev->frame,
                 (unsigned long long)ev->data_frame, hex);
    if (l->len + (size_t)n + 1 > l->cap) {
        l->cap = (l->cap + (size_t)n + 1) * 2;
        l->text = (char *)realloc(l->text, l->cap);
    }
    memcpy(l->text + l->len, line, (size_t)n + 1);
    l->len += (size_t)n;
    l->events++;
}

static int cb(const tcps_event *ev, void *user) {
    logf_((evlog *)user, ev);
    return 0;
}

static int by_callbacks(const void *data, size_t size, evlog *l) {
    tcps_reader *r;
    tcps_ctx *c;
    tcps_config cfg;
    int rc;
    memset(&cfg, 0, sizeof cfg);
    cfg.callbacks.on_open = cfg.callbacks.on_data = cfg.callbacks.on_gap = cfg.callbacks.on_close = cb;
    cfg.user = l;
    cr_assert_eq(tcps_reader_open_memory(&r, data, size, NULL), TCPS_OK);
    cr_assert_eq(tcps_create(&c, &cfg), TCPS_OK);
    rc = tcps_run(c, r);
    tcps_destroy(c);
    tcps_reader_close(r);
    return rc;
}

/* Each event is hashed when it is pulled: under AddressSanitizer a span
   that did not stay valid until the next call would fault here. */
static int by_pull(const void *data, size_t size, evlog *l) {
    tcps_reader *r;
    tcps_ctx *c;
    tcps_event ev;
    int rc;
    cr_assert_eq(tcps_reader_open_memory(&r, data, size, NULL), TCPS_OK);
    cr_assert_eq(tcps_create(&c, NULL), TCPS_OK);
    while ((rc = tcps_next(c, r, &ev)) == TCPS_OK) logf_(l, &ev);
    cr_assert_eq(tcps_next(c, r, &ev), rc, "the end is sticky");
    tcps_destroy(c);
    tcps_reader_close(r);
    return rc == TCPS_DONE ? TCPS_OK : rc;
}

static void *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    void *p;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc((size_t)n + 1);
    *size = fread(p, 1, (size_t)n, f);
    fclose(f);
    return p;
}

static void compare_on(const void *data, size_t size, const char *what) {
    evlog a = {0}, b = {0};
    int ra = by_callbacks(data, size, &a), rb = by_pull(data, size, &b);
    cr_assert_eq(ra, rb, "%s: run %d, pull %d", what, ra, rb);
    cr_assert_eq(a.events, b.events, "%s: %ld events by callbacks, %ld pulled", what, a.events, b.events);
    cr_assert(a.len == b.len && memcmp(a.text, b.text, a.len) == 0, "%s: event streams differ", what);
    free(a.text);
    free(b.text);
}

Test(pull, same_events_as_callbacks_on_the_samples) {
    const char *files[] = {"data/sample.pcap", "data/sample.pcapng"};
    size_t i;
    for (i = 0; i < 2; i++) {
        size_t size;
        void *data = slurp(files[i], &size);
        cr_assert_not_null(data, "%s missing", files[i]);
        compare_on(data, size, files[i]);
        free(data);
    }
}

Test(pull, same_events_as_callbacks_on_corpus_captures) {
    const char *corpus = getenv("TCPS_CORPUS");
    const char *files[] = {"pcapplusplus/example2.pcap", "zeek/tcp__reassembly.pcap",
                           "tcpsession/failed_test_sl1_2010.pcap", "pcapplusplus/650HttpResponses.pcap",
                           "suricata-verify/eve-overlap-payload-01__tcp-overlap.pcap"};
    size_t i, done = 0;
    char path[1024];
    if (!corpus) corpus = "../shared/corpus";
    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t size;
        void *data;
        snprintf(path, sizeof path, "%s/%s", corpus, files[i]);
        data = slurp(path, &size);
        if (!data) continue;
        compare_on(data, size, files[i]);
        free(data);
        done++;
    }
    if (!done) printf("SKIP pull on corpus captures: no corpus at %s\n", corpus);
}

Test(pull, reader_error_after_every_event_before_it) {
    size_t size, cut;
    void *data = slurp("data/sample.pcap", &size);
    cr_assert_not_null(data);
    /* cut inside the last record */
    cut = size - 10;
    compare_on(data, cut, "truncated sample");
    {
        evlog l = {0};
        cr_assert_eq(by_pull(data, cut, &l), TCPS_E_TRUNCATED);
        cr_assert_gt(l.events, 20);
        free(l.text);
    }
    free(data);
}
