/* md5 of stdin with lib/md5.h, fed in pieces of argv[1] bytes,
   printed as md5sum prints it: for tests/cli/test_extract.sh */
#include <stdio.h>
#include <stdlib.h>
#include "md5.h"

int main(int argc, char **argv) {
    static char buf[1 << 16];
    size_t step = argc > 1 ? (size_t)atoi(argv[1]) : sizeof buf, n;
    md5_ctx c;
    uint8_t d[16];
    char h[33];
    if (step < 1 || step > sizeof buf) step = sizeof buf;
    md5_init(&c);
    while ((n = fread(buf, 1, step, stdin)) > 0) md5_update(&c, buf, n);
    md5_final(&c, d);
    md5_hex(d, h);
    printf("%s  -\n", h);
    return 0;
}
