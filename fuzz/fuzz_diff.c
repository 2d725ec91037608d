/* Differential fuzzing of the reassembler: the same segments go to the
   engine (tcps_feed_segment) and to the reference model in refmodel.h; any
   difference in the bytes delivered, the gaps, the per-direction totals or
   the order of events, or a broken event invariant, prints both outputs and
   aborts. Input format: see rm_decode_bytes in refmodel.h.

   Build with -DRM_NO_SMALL_LIMITS to keep the default buffer limits for
   every input (the model has no limits; inputs that ask for small ones are
   otherwise checked only loosely once a LIMIT gap happens). */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "refmodel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rm_input in;
    rm_result res;
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
