/* TCPSESSION_STATIC: this file and static_b.c each compile the whole
   implementation as file-local functions; linking both into one program
   proves that nothing clashes.  Built and run by tests/test_compile.sh. */
#define TCPSESSION_STATIC
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "api_use.h"

int static_b_check(void);

int main(void) {
    volatile tcps_test_fn sink = 0;
    int bad = tcps_test_use_api(&sink);
    bad |= static_b_check();
    return bad;
}
