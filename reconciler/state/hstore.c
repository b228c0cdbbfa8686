/*
 * hstore.c - the health checks' durable state.  See hstore.h.
 */
#include "state/hstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "base/util.h"
#include "state/state.h"

static void
ensure(json_t *o, const char *key, json_t *(*make)(void))
{
	if (!json_is_object(json_object_get(o, key)))
		json_object_set_new(o, key, make());
}

int
hstore_load(json_t **out, const char *dir)
{
	char path[4096];
	struct buf b = BUF_INIT;
	json_error_t je;
	json_t *o;
	int rc;

	*out = NULL;
	if (snprintf(path, sizeof(path), "%s/health.json", dir) >= (int)sizeof(path))
		return err_set(ERR_TOOBIG, "state directory path too long");
	rc = fs_read(&b, path, HSTORE_MAX);
	if (rc == ERR_NOTFOUND) {
		o = json_object();
	} else if (rc != OK) {
		buf_dispose(&b);
		return rc;
	} else {
		o = json_loadb(b.data ? b.data : "", b.len, JSON_REJECT_DUPLICATES, &je);
		if (!json_is_object(o)) {
			json_decref(o);
			buf_dispose(&b);
			return err_set(ERR_INVALID, "%s: not the health state (line %d: %s); move it "
			    "away to start afresh (episodes begin again)", path, je.line, je.text);
		}
	}
	buf_dispose(&b);
	ensure(o, "episodes", json_object);
	ensure(o, "drained", json_object);
	ensure(o, "would_act", json_object);
	if (!json_is_integer(json_object_get(o, "seq")))
		json_object_set_new(o, "seq", json_integer(0));
	*out = o;
	return OK;
}

int
hstore_save(const json_t *store, const char *dir)
{
	char path[4096], *text;
	int rc;

	if (snprintf(path, sizeof(path), "%s/health.json", dir) >= (int)sizeof(path))
		return err_set(ERR_TOOBIG, "state directory path too long");
	text = json_dumps(store, JSON_INDENT(1) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	if (!text)
		return err_set(ERR, "cannot encode the health state");
	rc = fs_write_atomic_mode(path, text, strlen(text), STATE_MODE_PRIVATE);
	free(text);
	return rc;
}
