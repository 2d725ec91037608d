/* The library's implementation, compiled once for each binding (the Python
   extension, the Lua module). */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
