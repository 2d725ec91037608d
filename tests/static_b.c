/* The second half of the TCPSESSION_STATIC test (see static_a.c). */
#define TCPSESSION_STATIC
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "api_use.h"

int static_b_check(void);

int static_b_check(void) {
    volatile tcps_test_fn sink = 0;
    return tcps_test_use_api(&sink);
}
