/*
 * importint.h - what the parts of `firebreak import` share
 * (import_tree.c: the work tree, verification, writing; cmd_import.c:
 * `import zone`; cmd_import_enc.c: `import enc`).  Only those three
 * files include it.
 *
 * An import reads the inventory checkout it writes into (its work tree,
 * not a commit: the team may not have committed yet), computes every
 * file it will write in memory, loads the inventory as it will then be
 * (the files on disk with the new ones laid over them), validates and
 * renders it, and checks that the rendering gives back what it read.
 * Only then is anything written, each file atomically; on any error
 * nothing is.
 *
 * Layer: cli.
 */
#ifndef FIREBREAK_IMPORTINT_H
#define FIREBREAK_IMPORTINT_H

#include <stddef.h>

#include "cli/cli.h"
#include "model/artifact.h"
#include "model/model.h"
#include "model/ydoc.h"

/* One inventory file: its repository path and content. */
struct wfile {
	char *path;               /* owns; "hosts/web-01.example.com.yaml" */
	char *data;               /* owns; NUL-terminated; NULL: too big to read */
	size_t len;
};

struct wfiles {
	struct wfile *v;          /* owns */
	size_t n, alloc;
};

/* Read the inventory files of the checkout at dir (policy.yaml, hosts/,
 * roles/, services/, dns/); dies (exit 3) when dir cannot be read. */
void wtree_read(struct wfiles *w, const char *dir);
const struct wfile *wfiles_find(const struct wfiles *w, const char *path);
/* Add (or replace) path with data (steals data). */
void wfiles_put(struct wfiles *w, const char *path, char *data, size_t len);
void wfiles_dispose(struct wfiles *w);

/*
 * The model of w with `over` laid over it, leaving out `skip` (may be
 * NULL).  OK, or ERR_INVALID with `d` filled.
 */
int import_model(struct model **out, struct diags *d, const struct wfiles *w,
    const struct wfiles *over, const char *skip);
/* The same, rendered: *art (owns) every artifact.  Dies (exit 1) with
 * the problems when the result is not a valid inventory: `what` says
 * what was being checked ("the imported inventory"). */
void import_render(struct model **m, struct artifacts *art, const struct wfiles *w,
    const struct wfiles *over, const char *skip, const char *what);

/* Refuse (exit 1) to replace dir/path when it exists, unless force. */
void import_refuse_existing(const char *dir, const char *path, int force);
/* Write every file of `over` under dir, atomically one by one (0644);
 * dies (exit 3) naming the file on an I/O error. */
void import_write(const char *dir, const struct wfiles *over);

/* Values equal as Puppet reads them: maps as sets of keys, any spelling
 * of null, scalars by text and kind. */
int import_same(const struct ynode *a, const struct ynode *b);

int import_enc(int argc, char **argv);

#endif
