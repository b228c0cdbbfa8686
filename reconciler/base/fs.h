/*
 * fs.h - the file operations state and artifacts go through.
 * fs_write_atomic() is the only way a file firebreak keeps is replaced.
 *
 * Modes are exact: every file and directory made here gets the mode its
 * caller names, whatever the process umask (a shell's 022 would make a
 * plan world-readable, a 077 would lock Puppet's group out of a release).
 * The umask can only take bits away, so a file is never more open than
 * asked, not even for the moment before its mode is set.  A directory
 * keeps a setgid bit it inherits (how a group is handed down a tree).
 *
 * Layer: base (includes base only).
 */
#ifndef FIREBREAK_FS_H
#define FIREBREAK_FS_H

#include <stddef.h>

#include "base/util.h"

/*
 * Replace `path` with `len` bytes, mode 0600: write a temporary file in
 * the same directory, fsync it, rename it over `path`, fsync the
 * directory.  A reader sees the old file or the new one, never a mix; a
 * crash leaves one of the two (and perhaps a stray temporary, which
 * fs_tmp_stale() recognises).  The temporary is "<path>.tmp.<pid>.<n>",
 * made with O_CREAT|O_EXCL (never a file or link already there) and
 * removed on any failure.
 */
int fs_write_atomic(const char *path, const void *data, size_t len);
/* The same with mode `mode` (e.g. 0640 for what a group reads). */
int fs_write_atomic_mode(const char *path, const void *data, size_t len, unsigned mode);

/*
 * A mirror: a process that keeps a copy of what it writes elsewhere (the
 * HA leader keeps its state in etcd: controller/ha.c) sets one, and
 * fs_write_atomic() calls put() after the temporary is written and before
 * the rename; a put() that fails fails the write (nothing is replaced:
 * the leader was deposed).  Writers that replace or remove files some
 * other way call fs_mirror_put() / fs_mirror_del() themselves.  With no
 * mirror set (the default, and every process but an HA leader) all three
 * do nothing.  One per process; the functions must not write files
 * through fs_write_atomic() themselves.
 */
struct fs_mirror {
	int (*put)(void *ctx, const char *path, const void *data, size_t len);
	int (*del)(void *ctx, const char *path);
	void *ctx;
};
void fs_set_mirror(const struct fs_mirror *m);    /* copied; NULL: none */
int fs_mirror_put(const char *path, const void *data, size_t len);
int fs_mirror_del(const char *path);

/* 1 when `name` (a file name or path) is a temporary of fs_write_atomic()
 * whose process is gone, so it can be removed; 0 otherwise (a live
 * process may be about to rename it in). */
int fs_tmp_stale(const char *name);

/* write() all of it, across short writes and EINTR: 0, or -1 with errno. */
int fs_write_all(int fd, const void *data, size_t len);

/* Write a new file (O_EXCL) of mode `mode` without syncing; the caller
 * syncs in bulk.  A file left half-written by a failure is removed. */
int fs_write_new(const char *path, const void *data, size_t len, unsigned mode);

/* Read a whole file into `out` (appended), refusing more than `cap`
 * bytes.  ERR_NOTFOUND when it does not exist. */
int fs_read(struct buf *out, const char *path, size_t cap);

/* Is `rel` a plain relative path (no "..", no leading '/', only
 * [A-Za-z0-9._-/])?  Artifact paths come from validated names; this is
 * the second lock on the door. */
int fs_path_safe(const char *rel);
/* fs_write_new() at dir/rel, making parent directories (the file's mode
 * with x where it has r: 0640 -> 0750, 0644 -> 0755); refuses an unsafe
 * `rel` with ERR_INVALID. */
int fs_write_under(const char *dir, const char *rel, const void *data, size_t len,
    unsigned mode);

/* Like mkdir -p; the directories it makes get exactly `mode`, those
 * already there are left as they are. */
int fs_mkdir_p(const char *path, unsigned mode);
/* Set the mode of the directory `path` to exactly `mode` (keeping its
 * setgid bit).  ERR_NOTFOUND when it is missing, ERR_DENIED when it is
 * someone else's. */
int fs_chmod_dir(const char *path, unsigned mode);
int fs_fsync_dir(const char *path);
int fs_rm_rf(const char *path);                    /* no symlink is followed */

#endif
