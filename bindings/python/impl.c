/* The library's implementation, compiled once for the extension, and the
   two symbols the command's sources expect from its main.c (the extract
   command is linked in for TCPSessions.dump_all_sessions). */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "cli.h"
#include <stdarg.h>

const char *cli_prog = "tcpsession";

void cli_err(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: ", cli_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
