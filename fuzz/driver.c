/* driver - run a fuzz harness without libFuzzer, to reproduce a crash with
   any compiler (the Makefile builds build/fuzz/<harness>-replay with $(CC)
   and ASan/UBSan):

       build/fuzz/fuzz_reader-replay FILE-OR-DIRECTORY...

   Every file named, and every regular file in a directory named, is passed
   once to LLVMFuzzerTestOneInput.  With no argument, standard input is. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long runs;

static int run_stream(FILE *fp, const char *name) {
    size_t cap = 1 << 16, n = 0, got;
    uint8_t *buf = (uint8_t *)malloc(cap), *exact;
    if (!buf) return perror("malloc"), 1;
    while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *p = (uint8_t *)realloc(buf, cap *= 2);
            if (!p) return free(buf), perror("realloc"), 1;
            buf = p;
        }
    }
    if (ferror(fp)) {
        fprintf(stderr, "driver: cannot read %s\n", name);
        free(buf);
        return 1;
    }
    /* an exactly sized copy, so reading past the end faults under ASan */
    exact = (uint8_t *)malloc(n ? n : 1);
    if (!exact) return free(buf), perror("malloc"), 1;
    memcpy(exact, buf, n);
    free(buf);
    fprintf(stderr, "driver: %s (%lu bytes)\n", name, (unsigned long)n);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    runs++;
    return 0;
}

static int run_path(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return perror(path), 1;
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        struct dirent *de;
        int bad = 0;
        if (!dir) return perror(path), 1;
        while ((de = readdir(dir)) != NULL) {
            char sub[4096];
            struct stat s2;
            if (de->d_name[0] == '.') continue;
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            if (stat(sub, &s2) == 0 && S_ISREG(s2.st_mode)) bad |= run_path(sub);
        }
        closedir(dir);
        return bad;
    } else {
        FILE *fp = fopen(path, "rb");
        int bad;
        if (!fp) return perror(path), 1;
        bad = run_stream(fp, path);
        fclose(fp);
        return bad;
    }
}

int main(int argc, char **argv) {
    int i, bad = 0;
    if (argc < 2)
        bad = run_stream(stdin, "<stdin>");
    else
        for (i = 1; i < argc; i++) bad |= run_path(argv[i]);
    fprintf(stderr, "driver: %lu inputs ran without a fault\n", runs);
    return bad;
}
