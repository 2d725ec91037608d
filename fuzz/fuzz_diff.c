/* Differential fuzzing of the reassembler: the same segments go to the
   engine (tcps_feed_segment) and to the reference model in refmodel.h; any
   difference in the bytes delivered, the gaps, the per-direction totals or
   the order of events, or a broken event invariant, prints both outputs and
   aborts. Input format: see rm_decode_bytes in refmodel.h.

   An input that begins with "SESS" is long traffic instead: thousands of
   connections over a few reused 4-tuples, thousands more on 4-tuples of
   their own (the session table grows), a small max_sessions, as
   sessgen.h makes them from the parameter bytes that follow (see sm_decode
   in sessmodel.h), maybe mutated; the engine is compared with the model
   of sessmodel.h session by session, and, unmutated, held to what was
   generated (every connection's bytes exactly, one session each, the late
   segments counted).

   Build with -DRM_NO_SMALL_LIMITS to keep the default buffer limits for
   every input (the model has no limits; inputs that ask for small ones are
   otherwise checked only loosely once a LIMIT gap happens). */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "refmodel.h"
#include "sessmodel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sessions(const uint8_t *data, size_t size) {
    sm_input in;
    sm_result res;
    sg_traffic t;
    sm_decode(data, size, &in);
    sg_generate(&t, &in.p);
    sm_mutate(&t, in.mut, in.nmut);
    sm_run(&t, &in.opt, &res);
    if (res.differ) {
        fputs(res.report, stderr);
        fflush(stderr);
        abort();
    }
    free(res.report);
    sg_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rm_input in;
    rm_result res;
    if (size >= 4 && memcmp(data, "SESS", 4) == 0) {
        sessions(data + 4, size - 4);
        return 0;
    }
    rm_decode_bytes(data, size, &in);
    rm_run(&in, &res);
    if (res.differ) {
        fputs(res.report, stderr);
        fflush(stderr);
        abort();
    }
    free(res.report);
    rm_input_free(&in);
    return 0;
}
