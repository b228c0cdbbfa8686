/*
 * import_tree.c - what both halves of `firebreak import` share (see
 * importint.h): the inventory checkout's files, read from its work tree;
 * the inventory as it will be, loaded and rendered before anything is
 * written; the writing, one file at a time and each atomically; and the
 * equality of YAML values as Puppet reads them, for the checks.
 */
#include "cli/importint.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "model/inventory.h"
#include "renderers/renderer.h"

/* ---- the checkout's files ------------------------------------------------------ */

void
wfiles_put(struct wfiles *w, const char *path, char *data, size_t len)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (strcmp(w->v[i].path, path) == 0) {
			free(w->v[i].data);
			w->v[i].data = data;
			w->v[i].len = len;
			return;
		}
	if (w->n == w->alloc) {
		w->alloc = w->alloc ? w->alloc * 2 : 64;
		w->v = xrealloc(w->v, w->alloc * sizeof(*w->v));
	}
	w->v[w->n].path = xstrdup(path);
	w->v[w->n].data = data;
	w->v[w->n++].len = len;
}

const struct wfile *
wfiles_find(const struct wfiles *w, const char *path)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (strcmp(w->v[i].path, path) == 0)
			return &w->v[i];
	return NULL;
}

void
wfiles_dispose(struct wfiles *w)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		free(w->v[i].path);
		free(w->v[i].data);
	}
	free(w->v);
	memset(w, 0, sizeof(*w));
}

/* One file of the checkout, if it is a regular file (a symlink is not
 * followed: an import reads the checkout and nothing it points at). */
static void
read_one(struct wfiles *w, const char *dir, const char *rel)
{
	char *path = xasprintf("%s/%s", dir, rel);
	struct buf b = BUF_INIT;
	struct stat st;
	int rc;

	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		free(path);
		return;
	}
	if ((size_t)st.st_size > INVENTORY_MAX_FILE) {
		wfiles_put(w, rel, NULL, (size_t)st.st_size);
		free(path);
		return;
	}
	if ((rc = fs_read(&b, path, INVENTORY_MAX_FILE)) != OK)
		die(EXIT_ENV, "%s: %s", path, err_last());
	wfiles_put(w, rel, b.data ? buf_steal(&b) : xstrdup(""), b.len);
	buf_dispose(&b);
	free(path);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
wtree_read(struct wfiles *w, const char *dir)
{
	static const char *const subdirs[] = { "hosts", "roles", "services", "dns" };
	struct stat st;
	size_t i, j;

	memset(w, 0, sizeof(*w));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		die(EXIT_ENV, "%s: not a directory (--repo names the inventory checkout to write "
		    "into)", dir);
	read_one(w, dir, "policy.yaml");
	for (i = 0; i < sizeof(subdirs) / sizeof(*subdirs); i++) {
		char *sub = xasprintf("%s/%s", dir, subdirs[i]);
		DIR *d = opendir(sub);
		struct dirent *e;
		char **names = NULL;
		size_t n = 0, alloc = 0;

		if (!d) {
			if (errno != ENOENT)
				die(EXIT_ENV, "%s: %s", sub, strerror(errno));
			free(sub);
			continue;
		}
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.' || !str_has_suffix(e->d_name, ".yaml"))
				continue;
			if (n == alloc) {
				alloc = alloc ? alloc * 2 : 64;
				names = xrealloc(names, alloc * sizeof(*names));
			}
			names[n++] = xasprintf("%s/%s", subdirs[i], e->d_name);
		}
		closedir(d);
		xqsort(names, n, sizeof(*names), name_cmp);
		for (j = 0; j < n; j++) {
			read_one(w, dir, names[j]);
			free(names[j]);
		}
		free(names);
		free(sub);
	}
}

int
import_model(struct model **out, struct diags *d, const struct wfiles *w,
    const struct wfiles *over, const char *skip)
{
	struct loader *l = loader_new();
	size_t i;

	for (i = 0; i < w->n; i++) {
		const struct wfile *f = over ? wfiles_find(over, w->v[i].path) : NULL;

		if (skip && strcmp(w->v[i].path, skip) == 0)
			continue;
		if (!f)
			f = &w->v[i];
		loader_add(l, f->path, f->data, f->len);
	}
	for (i = 0; over && i < over->n; i++)
		if (!wfiles_find(w, over->v[i].path))
			loader_add(l, over->v[i].path, over->v[i].data, over->v[i].len);
	return loader_finish(l, out, d);
}

void
import_render(struct model **m, struct artifacts *art, const struct wfiles *w,
    const struct wfiles *over, const char *skip, const char *what)
{
	struct diags d = { NULL, 0, 0 };
	int rc;

	memset(art, 0, sizeof(*art));
	rc = import_model(m, &d, w, over, skip);
	if (rc == ERR_INVALID) {
		print_diags(stderr, &d);
		die(EXIT_INPUT, "%s would not pass `firebreak check` (%zu problem%s above); "
		    "nothing was written", what, d.n, d.n == 1 ? "" : "s");
	}
	if (rc != OK)
		die(EXIT_ENV, "%s", err_last());
	diags_dispose(&d);
	if ((rc = render_all(art, *m, NULL)) != OK)
		die(exit_for(rc), "rendering %s: %s; nothing was written", what, err_last());
}

void
import_refuse_existing(const char *dir, const char *path, int force)
{
	char *full = xasprintf("%s/%s", dir, path);
	struct stat st;

	if (lstat(full, &st) == 0 && !force)
		die(EXIT_INPUT, "%s exists: import does not replace inventory files (--force "
		    "does); nothing was written", full);
	if (lstat(full, &st) == 0 && !S_ISREG(st.st_mode))
		die(EXIT_INPUT, "%s exists and is not a regular file; nothing was written", full);
	free(full);
}

void
import_write(const char *dir, const struct wfiles *over)
{
	size_t i;

	for (i = 0; i < over->n; i++) {
		char *full = xasprintf("%s/%s", dir, over->v[i].path);
		char *slash = strrchr(full, '/');

		*slash = '\0';
		if (fs_mkdir_p(full, 0755) != OK)
			die(EXIT_ENV, "%s: %s (%zu of %zu files were written)", full, err_last(), i,
			    over->n);
		*slash = '/';
		if (fs_write_atomic_mode(full, over->v[i].data, over->v[i].len, 0644) != OK)
			die(EXIT_ENV, "%s: %s (%zu of %zu files were written)", full, err_last(), i,
			    over->n);
		free(full);
	}
}

/* ---- equality as Puppet reads it ------------------------------------------- */

static const struct ynode *
map_lookup(const struct ynode *map, const struct ynode *key)
{
	size_t i;

	for (i = 0; i < map->n; i++)
		if (import_same(map->keys[i], key))
			return map->items[i];
	return NULL;
}

int
import_same(const struct ynode *a, const struct ynode *b)
{
	size_t i;

	if (a->type != b->type || a->n != b->n)
		return 0;
	if (a->type == YNODE_SCALAR)
		return ynode_scalar_kind(a) == ynode_scalar_kind(b) &&
		    (ynode_scalar_kind(a) == YSCALAR_NULL ||
		    (a->len == b->len && memcmp(a->str, b->str, a->len) == 0));
	for (i = 0; i < a->n; i++) {
		const struct ynode *bv = a->type == YNODE_MAP ? map_lookup(b, a->keys[i]) :
		    b->items[i];

		if (!bv || !import_same(a->items[i], bv))
			return 0;
	}
	return 1;
}
