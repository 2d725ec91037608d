/* tarball: a .tar.gz of a directory tree, written with libarchive in the
   POSIX pax format (plain ustar headers where they suffice). */
#ifndef TSL_TARBALL_H
#define TSL_TARBALL_H

#include <stddef.h>

/* Write the tree under the directory dirfd into a new file outname created
   in that same directory (O_EXCL; an old one is removed first) and left
   out of the archive. Member names start with prefix ("" for none, else
   "name/"). Symbolic links are never followed nor archived; directories and
   regular files are, in name order, with their mode and mtime. Returns 0,
   or -1 with a message in err. */
int tarball_write_dir(int dirfd, const char *prefix, const char *outname, char *err, size_t errlen);

#endif
