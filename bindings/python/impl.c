/* The library's implementation, compiled once for the extension. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
