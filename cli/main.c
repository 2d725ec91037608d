/* tcpsession: list, follow, extract and verify the TCP sessions of captures.
   This file holds main() and the one copy of the library's implementation. */
#define TCPSESSION_IMPLEMENTATION
#include "tcpsession.h"
#include "cli.h"
#include <stdarg.h>
#include <string.h>

const char *cli_prog = "tcpsession";

void cli_err(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: ", cli_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: tcpsession COMMAND [options] CAPTURE...\n"
            "\n"
            "Reassembles the TCP sessions of pcap and pcapng captures (\"-\" reads stdin;\n"
            "gzip-compressed captures are read as they are).\n"
            "\n"
            "commands:\n"
            "  list     a row per session: endpoints, bytes, missing bytes, hashes, end\n"
            "  follow   one session as tshark -z follow,tcp,MODE,N prints it\n"
            "  extract  every session to files: JSON, data per direction, transcript, ...\n"
            "  verify   compare every session with tshark or tcpflow on the same capture\n"
            "  version  print the version\n"
            "\n"
            "`tcpsession COMMAND --help` describes each command. tshark's own spelling\n"
            "also works: tcpsession -r CAPTURE -q -z follow,tcp,ascii,0\n"
            "\n"
            "exit status: 0 done; 1 verify found differences; 2 bad command line;\n"
            "3 a capture could not be read, or only partly (what came before the fault\n"
            "is still reported); 4 an output could not be written; 5 out of memory or a\n"
            "peer tool could not be run.\n");
}

int main(int argc, char **argv) {
    const char *cmd;
    int i;
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("tcpsession %s\n", tcps_version());
        return CLI_OK;
    }
    if (!strcmp(cmd, "list")) return cmd_list(argc - 1, argv + 1);
    if (!strcmp(cmd, "follow")) return cmd_follow(argc - 1, argv + 1);
    if (!strcmp(cmd, "extract")) return cmd_extract(argc - 1, argv + 1);
    if (!strcmp(cmd, "verify")) return cmd_verify(argc - 1, argv + 1);
    /* tshark's spelling: tcpsession -r FILE -q -z follow,tcp,MODE,N */
    for (i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-z") || !strncmp(argv[i], "-zfollow", 8)) {
            argv[0] = (char *)"follow";
            return cmd_follow(argc, argv);
        }
    cli_err("unknown command '%s' (try --help)", cmd);
    return CLI_USAGE;
}
