/* tarball: ustar (POSIX.1-1988 as extended by POSIX.1-2001 pax headers)
   written through zlib's gzip writer. Each member is a 512-byte header
   followed by its data padded to 512 bytes; two zero blocks end the
   archive. Numeric fields are octal text. */
#include "tarball.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

typedef struct tb {
    gzFile gz;
    char *err;
    size_t errlen;
    const char *outname;
    int failed;
} tb;

static int tb_fail(tb *t, const char *what, const char *name) {
    if (!t->failed) snprintf(t->err, t->errlen, "%s: %s", name, what);
    t->failed = 1;
    return -1;
}

static int tb_put(tb *t, const void *p, size_t n) {
    while (n) {
        unsigned k = n > (1u << 30) ? 1u << 30 : (unsigned)n;
        if (gzwrite(t->gz, p, k) != (int)k) return tb_fail(t, "cannot write the archive", t->outname);
        p = (const char *)p + k;
        n -= k;
    }
    return 0;
}

static int tb_pad(tb *t, uint64_t size) {
    static const char zero[512] = {0};
    size_t r = (size_t)(size % 512);
    return r ? tb_put(t, zero, 512 - r) : 0;
}

/* octal in a field of w bytes: w-1 digits and a NUL */
static int tb_octal(char *f, size_t w, uint64_t v) {
    size_t i = w - 1;
    f[i] = 0;
    while (i > 0) {
        f[--i] = (char)('0' + (v & 7));
        v >>= 3;
    }
    return v ? -1 : 0;
}

static int tb_header(tb *t, const char *name, char type, uint64_t size, unsigned mode, uint64_t mtime) {
    unsigned char h[512];
    size_t nl = strlen(name), split = 0, i;
    unsigned sum = 0;
    memset(h, 0, sizeof h);
    if (nl <= 100) {
        memcpy(h, name, nl);
    } else {
        /* ustar: prefix (155) "/" name (100), split at a slash */
        for (i = nl - 1; i > 0; i--)
            if (name[i] == '/' && i <= 155 && nl - i - 1 <= 100 && nl - i - 1 > 0) {
                split = i;
                break;
            }
        if (!split) return 1; /* needs a pax header */
        memcpy(h + 345, name, split);
        memcpy(h, name + split + 1, nl - split - 1);
    }
    tb_octal((char *)h + 100, 8, mode & 07777);
    tb_octal((char *)h + 108, 8, 0);
    tb_octal((char *)h + 116, 8, 0);
    if (tb_octal((char *)h + 124, 12, size)) return 1;
    if (tb_octal((char *)h + 136, 12, mtime)) tb_octal((char *)h + 136, 12, 0);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    for (i = 0; i < 512; i++) sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum & 0777777);
    h[155] = ' ';
    return tb_put(t, h, 512);
}

/* pax record "LEN key=value\n", LEN counting itself */
static size_t tb_record(char *out, size_t cap, const char *key, const char *val) {
    size_t body = strlen(key) + strlen(val) + 3, len = body + 1, d;
    for (;;) {
        char tmp[24];
        d = (size_t)snprintf(tmp, sizeof tmp, "%zu", len);
        if (body + d == len) break;
        len = body + d;
    }
    if (out && len < cap) snprintf(out, cap, "%zu %s=%s\n", len, key, val);
    return len;
}

static int tb_member(tb *t, const char *name, char type, uint64_t size, unsigned mode, uint64_t mtime) {
    int rc = tb_header(t, name, type, size, mode, mtime);
    if (rc <= 0) return rc;
    {
        /* pax extended header carrying the full path and size */
        size_t cap = strlen(name) + 128, n;
        char *rec = (char *)malloc(cap), sz[32], short_name[100];
        if (!rec) return tb_fail(t, "out of memory", name);
        n = tb_record(rec, cap, "path", name);
        snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
        n += tb_record(rec + n, cap - n, "size", sz);
        snprintf(short_name, sizeof short_name, "PaxHeaders/%.80s", name + (strlen(name) > 80 ? strlen(name) - 80 : 0));
        if (tb_header(t, short_name, 'x', n, 0644, mtime) != 0 || tb_put(t, rec, n) || tb_pad(t, n)) {
            free(rec);
            return tb_fail(t, "cannot write the archive", t->outname);
        }
        free(rec);
        /* the ustar header itself: a shortened name, size 0 when it does not fit */
        snprintf(short_name, sizeof short_name, "%.99s", name + (strlen(name) > 99 ? strlen(name) - 99 : 0));
        if (tb_header(t, short_name, type, size < 077777777777ull ? size : 0, mode, mtime) != 0)
            return tb_fail(t, "cannot write the archive", t->outname);
    }
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int tb_dir(tb *t, int dfd, const char *prefix, int top) {
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    int fd2 = dup(dfd), rc = 0;
    if (fd2 < 0 || !(d = fdopendir(fd2))) {
        if (fd2 >= 0) close(fd2);
        return tb_fail(t, strerror(errno), prefix[0] ? prefix : ".");
    }
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (top && !strcmp(e->d_name, t->outname)) continue;
        if (n == cap) {
            char **nv;
            cap = cap ? cap * 2 : 64;
            nv = (char **)realloc(names, cap * sizeof *nv);
            if (!nv) {
                rc = tb_fail(t, "out of memory", prefix);
                break;
            }
            names = nv;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = tb_fail(t, "out of memory", prefix);
            break;
        }
        n++;
    }
    closedir(d);
    if (!rc) qsort(names, n, sizeof *names, by_name);
    for (i = 0; i < n && !rc; i++) {
        struct stat st;
        size_t pl = strlen(prefix), nl = strlen(names[i]);
        char *path = (char *)malloc(pl + nl + 2);
        if (!path) {
            rc = tb_fail(t, "out of memory", names[i]);
            break;
        }
        memcpy(path, prefix, pl);
        memcpy(path + pl, names[i], nl + 1);
        if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = tb_fail(t, strerror(errno), path);
        } else if (S_ISDIR(st.st_mode)) {
            int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
            if (sub < 0) {
                rc = tb_fail(t, strerror(errno), path);
            } else {
                path[pl + nl] = '/';
                path[pl + nl + 1] = 0;
                rc = tb_member(t, path, '5', 0, (unsigned)st.st_mode, (uint64_t)st.st_mtime);
                if (!rc) rc = tb_dir(t, sub, path, 0);
                close(sub);
            }
        } else if (S_ISREG(st.st_mode)) {
            int fd = openat(dfd, names[i], O_RDONLY | O_NOFOLLOW);
            if (fd < 0) {
                rc = tb_fail(t, strerror(errno), path);
            } else {
                uint64_t left = (uint64_t)st.st_size;
                char buf[65536];
                rc = tb_member(t, path, '0', left, (unsigned)st.st_mode, (uint64_t)st.st_mtime);
                while (!rc && left) {
                    ssize_t k = read(fd, buf, left < sizeof buf ? (size_t)left : sizeof buf);
                    if (k <= 0) {
                        rc = tb_fail(t, k < 0 ? strerror(errno) : "file shrank while archived", path);
                        break;
                    }
                    rc = tb_put(t, buf, (size_t)k);
                    left -= (uint64_t)k;
                }
                if (!rc) rc = tb_pad(t, (uint64_t)st.st_size);
                close(fd);
            }
        } /* symbolic links and special files are left out */
        free(path);
    }
    for (i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

int tarball_write_dir(int dirfd, const char *prefix, const char *outname, char *err, size_t errlen) {
    tb t;
    int fd, rc;
    static const char zero[1024] = {0};
    memset(&t, 0, sizeof t);
    t.err = err;
    t.errlen = errlen;
    t.outname = outname;
    fd = openat(dirfd, outname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (fd < 0 && errno == EEXIST && unlinkat(dirfd, outname, 0) == 0)
        fd = openat(dirfd, outname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (fd < 0) {
        tb_fail(&t, strerror(errno), outname);
        return -1;
    }
    t.gz = gzdopen(fd, "wb6");
    if (!t.gz) {
        close(fd);
        tb_fail(&t, "cannot start the gzip writer", outname);
        return -1;
    }
    gzbuffer(t.gz, 1 << 17);
    rc = tb_dir(&t, dirfd, prefix, 1);
    if (!rc) rc = tb_put(&t, zero, sizeof zero);
    if (gzclose(t.gz) != Z_OK && !rc) rc = tb_fail(&t, "cannot write the archive", outname);
    return rc ? -1 : 0;
}
