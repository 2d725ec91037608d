/* Opening a capture: a path or stdin, plain or gzip-compressed. A plain
   regular file is mapped and read from memory: one copy less than read(2)
   (the engine's spans then point into the page cache), measured faster
   with the pages cached (tests/bench/bench_layer.sh). */
#include "tsl.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static ptrdiff_t gz_read(void *user, void *buf, size_t len) {
    int n;
    if (len > (1u << 30)) len = 1u << 30;
    n = gzread((gzFile)user, buf, (unsigned)len);
    return n < 0 ? -1 : n;
}

static int fail(tsl_capture *c, char *err, size_t errlen, int rc, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
    tsl_capture_close(c);
    return rc;
}

int tsl_capture_open(tsl_capture *c, const char *path, char *err, size_t errlen) {
    unsigned char magic[2];
    struct stat st;
    int rc, fd, is_gz = 0;
    memset(c, 0, sizeof *c);
    if (err && errlen) err[0] = 0;
    if (strcmp(path, "-") == 0) {
        int d = dup(0);
        /* gzread passes plain data through, so stdin may be either */
        if (d < 0 || !(c->gz_ = gzdopen(d, "rb"))) {
            if (d >= 0) close(d);
            return fail(c, err, errlen, TCPS_E_IO, "cannot read");
        }
    } else {
        if ((fd = open(path, O_RDONLY)) < 0) return fail(c, err, errlen, TCPS_E_IO, strerror(errno));
        if (fstat(fd, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                close(fd);
                return fail(c, err, errlen, TCPS_E_IO, "is a directory");
            }
            if (S_ISREG(st.st_mode)) c->size = (uint64_t)st.st_size;
        }
        if (read(fd, magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) is_gz = 1;
        if (!is_gz && c->size > 0 && c->size <= (uint64_t)SIZE_MAX) {
            void *m = mmap(NULL, (size_t)c->size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (m != MAP_FAILED) {
                posix_madvise(m, (size_t)c->size, POSIX_MADV_SEQUENTIAL);
                c->map_ = m;
                c->map_len_ = (size_t)c->size;
            }
        }
        close(fd);
        if (is_gz) {
            if (!(c->gz_ = gzopen(path, "rb"))) return fail(c, err, errlen, TCPS_E_IO, "cannot open");
            c->size = 0; /* the compressed size says little about progress */
        }
    }
    if (c->gz_) {
        gzbuffer((gzFile)c->gz_, 1 << 17);
        rc = tcps_reader_open_callback(&c->rd, gz_read, c->gz_, NULL);
    } else if (c->map_) {
        rc = tcps_reader_open_memory(&c->rd, c->map_, c->map_len_, NULL);
    } else {
        rc = tcps_reader_open_path(&c->rd, path, NULL);
    }
    if (rc != TCPS_OK) return fail(c, err, errlen, rc, tcps_result_message(rc));
    return TCPS_OK;
}

void tsl_capture_close(tsl_capture *c) {
    if (c->rd) tcps_reader_close(c->rd);
    if (c->gz_) gzclose((gzFile)c->gz_);
    if (c->map_) munmap(c->map_, c->map_len_);
    c->rd = NULL;
    c->gz_ = NULL;
    c->map_ = NULL;
}
