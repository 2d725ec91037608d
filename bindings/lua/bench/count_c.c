/* count_c CAPTURE - the C baseline of make bench-lua: the same work as
   count.lua's on_data callback (count the delivered bytes), in C, so the
   cost of the Lua binding shows apart from the engine's. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include <stdio.h>

static int on_data(const tcps_event *ev, void *user) {
    *(unsigned long long *)user += ev->data.len;
    return 0;
}

int main(int argc, char **argv) {
    tcps_config cfg = {0};
    tcps_reader *rd;
    tcps_ctx *ctx;
    unsigned long long bytes = 0;
    int rc;
    if (argc != 2) {
        fprintf(stderr, "usage: count_c CAPTURE\n");
        return 2;
    }
    cfg.callbacks.on_data = on_data;
    cfg.user = &bytes;
    if (tcps_reader_open_path(&rd, argv[1], NULL) != TCPS_OK) {
        fprintf(stderr, "%s: cannot open\n", argv[1]);
        return 1;
    }
    if (tcps_create(&ctx, &cfg) != TCPS_OK) return 1;
    rc = tcps_run(ctx, rd);
    printf("%llu sessions, %llu bytes\n", (unsigned long long)tcps_ctx_stats(ctx)->sessions, bytes);
    if (rc < 0) fprintf(stderr, "%s: %s\n", argv[1], tcps_ctx_error(ctx)->message);
    tcps_destroy(ctx);
    tcps_reader_close(rd);
    return rc < 0;
}
