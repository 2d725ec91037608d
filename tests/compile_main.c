/* A C program that includes only the declarations and links with the
   implementation compiled elsewhere (tests/compile_impl.c, or the C++
   tests/cxx_compile.cpp with TCPS_TEST_IMPL_ONLY). */
#include "tcpsession.h"
#include "api_use.h"

int main(void) {
    volatile tcps_test_fn sink = 0;
    return tcps_test_use_api(&sink);
}
