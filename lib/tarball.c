/* tarball: a directory tree as a .tar.gz through libarchive (pax format,
   restricted: plain ustar headers unless a name or size needs more; gzip
   filter). The walk is ours: names in order, no link followed. */
#include "tarball.h"
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct tb {
    struct archive *a;
    struct archive_entry *e;
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

static int tb_put(tb *t, const void *p, size_t n, const char *name) {
    while (n) {
        la_ssize_t k = archive_write_data(t->a, p, n);
        if (k <= 0) return tb_fail(t, archive_error_string(t->a) ? archive_error_string(t->a) : "cannot write", name);
        p = (const char *)p + k;
        n -= (size_t)k;
    }
    return 0;
}

/* a member's header: a directory or a regular file of size bytes, with the
   mode and mtime of st, owned by 0:0 */
static int tb_member(tb *t, const char *name, unsigned type, uint64_t size, const struct stat *st) {
    archive_entry_clear(t->e);
    archive_entry_set_pathname(t->e, name);
    archive_entry_set_filetype(t->e, type);
    archive_entry_set_perm(t->e, st->st_mode & 07777);
    archive_entry_set_size(t->e, (la_int64_t)size);
    archive_entry_set_mtime(t->e, st->st_mtime, 0);
    if (archive_write_header(t->a, t->e) != ARCHIVE_OK)
        return tb_fail(t, archive_error_string(t->a) ? archive_error_string(t->a) : "cannot write", name);
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
                rc = tb_member(t, path, AE_IFDIR, 0, &st);
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
                rc = tb_member(t, path, AE_IFREG, left, &st);
                while (!rc && left) {
                    ssize_t k = read(fd, buf, left < sizeof buf ? (size_t)left : sizeof buf);
                    if (k <= 0) {
                        rc = tb_fail(t, k < 0 ? strerror(errno) : "file shrank while archived", path);
                        break;
                    }
                    rc = tb_put(t, buf, (size_t)k, path);
                    left -= (uint64_t)k;
                }
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
    memset(&t, 0, sizeof t);
    t.err = err;
    t.errlen = errlen;
    t.outname = outname;
    fd = openat(dirfd, outname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (fd < 0 && errno == EEXIST && unlinkat(dirfd, outname, 0) == 0)
        fd = openat(dirfd, outname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (fd < 0) return tb_fail(&t, strerror(errno), outname);
    t.a = archive_write_new();
    t.e = archive_entry_new();
    if (!t.a || !t.e || archive_write_add_filter_gzip(t.a) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(t.a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(t.a, 1) != ARCHIVE_OK || archive_write_open_fd(t.a, fd) != ARCHIVE_OK) {
        rc = tb_fail(&t, t.a && archive_error_string(t.a) ? archive_error_string(t.a) : "cannot start the archive",
                     outname);
    } else {
        rc = tb_dir(&t, dirfd, prefix, 1);
        if (archive_write_close(t.a) != ARCHIVE_OK && !rc)
            rc = tb_fail(&t, archive_error_string(t.a) ? archive_error_string(t.a) : "cannot write", outname);
    }
    if (t.e) archive_entry_free(t.e);
    if (t.a) archive_write_free(t.a);
    close(fd);
    return rc ? -1 : 0;
}
