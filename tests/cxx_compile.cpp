// tcpsession.h compiled as C++ (see tests/test_compile.sh).
//   default                 implementation included here, and a main()
//   TCPS_TEST_DECL_ONLY     declarations only, linked with the C object of
//                           tests/compile_impl.c (extern "C" is right)
//   TCPS_TEST_IMPL_ONLY     the implementation only, as C++, for a C main()
#ifndef TCPS_TEST_DECL_ONLY
#define TCPSESSION_IMPLEMENTATION
#endif
#include "tcpsession.h"
#include "tcpsession.h" // twice: the include guards must hold

#ifndef TCPS_TEST_IMPL_ONLY
#include "api_use.h"

int main() {
    volatile tcps_test_fn sink = 0;
    tcps_config cfg = tcps_config();
    tcps_reader_config rcfg = tcps_reader_config();
    tcps_decoder_config dcfg = tcps_decoder_config();
    (void)cfg;
    (void)rcfg;
    (void)dcfg;
    return tcps_test_use_api(&sink);
}
#endif
