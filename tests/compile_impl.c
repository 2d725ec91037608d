/* The implementation alone, as a C object, for the compile tests: linked with
   tests/compile_main.c (C) and tests/cxx_compile.cpp (C++, declarations only). */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
