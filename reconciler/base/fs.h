/*
 * fs.h - the file operations state and artifacts go through.
 * fs_write_atomic() is the only way a file firebreak keeps is replaced.
 */
#ifndef FIREBREAK_FS_H
#define FIREBREAK_FS_H

#include <stddef.h>

#include "base/util.h"

/*
 * Replace `path` with `len` bytes: write a temporary file in the same
 * directory, fsync it, rename it over `path`, fsync the directory.  A
 * reader sees the old file or the new one, never a mix; a crash leaves
 * one of the two (and perhaps a stray temporary, which is harmless).
 */
int fs_write_atomic(const char *path, const void *data, size_t len);

/* write() all of it, across short writes and EINTR: 0, or -1 with errno. */
int fs_write_all(int fd, const void *data, size_t len);

/* Write a new file (O_EXCL) without syncing; the caller syncs in bulk. */
int fs_write_new(const char *path, const void *data, size_t len);

/* Read a whole file into `out` (appended), refusing more than `cap`
 * bytes.  ERR_NOTFOUND when it does not exist. */
int fs_read(struct buf *out, const char *path, size_t cap);

/* Is `rel` a plain relative path (no "..", no leading '/', only
 * [A-Za-z0-9._-/])?  Artifact paths come from validated names; this is
 * the second lock on the door. */
int fs_path_safe(const char *rel);
/* fs_write_new() at dir/rel, making parent directories; refuses an
 * unsafe `rel` with ERR_INVALID. */
int fs_write_under(const char *dir, const char *rel, const void *data, size_t len);

int fs_mkdir_p(const char *path, unsigned mode);   /* like mkdir -p */
int fs_fsync_dir(const char *path);
int fs_rm_rf(const char *path);                    /* no symlink is followed */

#endif
