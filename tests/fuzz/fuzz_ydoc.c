/*
 * fuzz_ydoc.c - YAML documents (model/ydoc.h), the parser every file of
 * the inventory repository and the controller's config go through.
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - a failure is ERR_INVALID or ERR_TOOBIG with a message and a line
 *     and column inside the input (the user is told where);
 *   - a parsed tree, emitted as YAML by yemit_value() (what the ENC
 *     renderer does with a host's params), parses back to the same values
 *     of the same kinds: what Puppet reads is what the file said;
 *   - yemit_json() of it is JSON that jansson reads;
 *   - ynode_dup() is ynode_equal() to the original;
 *   - every node's byte range lies in the input, inside its parent's.
 */
#include "fuzz.h"

#include <jansson.h>

#include "model/ydoc.h"

/* Reading back what we emitted: one level deeper (under "v:"), and
 * quoting may have made it longer. */
static const struct ydoc_limits back_limits = { 64u << 20, 40, 1000000 };

static int same(const struct ynode *a, const struct ynode *b);

/* Map b's value for a's key (keys compared as values), or NULL. */
static const struct ynode *
lookup(const struct ynode *map, const struct ynode *key)
{
	size_t i;

	for (i = 0; i < map->n; i++)
		if (same(map->keys[i], key))
			return map->items[i];
	return NULL;
}

/* Equal values of equal kinds (a null may change its spelling: null and
 * ~ are one value); maps compared as sets of keys (the emitter sorts
 * them). */
static int
same(const struct ynode *a, const struct ynode *b)
{
	size_t i;

	if (a->type != b->type || a->n != b->n)
		return 0;
	if (a->type == YNODE_SCALAR)
		return ynode_scalar_kind(a) == ynode_scalar_kind(b) &&
		    (ynode_scalar_kind(a) == YSCALAR_NULL ||
		    (a->len == b->len && memcmp(a->str, b->str, a->len) == 0));
	for (i = 0; i < a->n; i++) {
		const struct ynode *bv = a->type == YNODE_MAP ? lookup(b, a->keys[i]) : b->items[i];

		if (!bv || !same(a->items[i], bv))
			return 0;
	}
	return 1;
}

/* Every node's byte range lies in the input, its children's in its own
 * (the editor splices by them). */
static void
check_marks(const struct ynode *n, size_t lo, size_t hi)
{
	size_t i;

	FUZZ_CHECK(n->start <= n->end && n->start >= lo && n->end <= hi,
	    "bytes [%zu, %zu) outside [%zu, %zu)", n->start, n->end, lo, hi);
	FUZZ_CHECK(n->line >= 1 && n->col >= 1, "position %d:%d", n->line, n->col);
	for (i = 0; i < n->n; i++) {
		if (n->keys)
			check_marks(n->keys[i], n->start, n->end);
		check_marks(n->items[i], n->start, n->end);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ynode *root = NULL, *back = NULL, *dup;
	struct buf y = BUF_INIT, j = BUF_INIT;
	int line = 0, col = 0, rc;
	json_t *jv;

	rc = ydoc_parse(&root, (const char *)data, size, &YDOC_DEFAULT_LIMITS, &line, &col);
	if (rc != OK) {
		FUZZ_CHECK(root == NULL, "a failed parse left a tree");
		FUZZ_CHECK(rc == ERR_INVALID || rc == ERR_TOOBIG, "rc %d", rc);
		FUZZ_CHECK(err_last()[0] != '\0', "no message");
		FUZZ_CHECK(line >= 1 && col >= 1, "no position: %d:%d (%s)", line, col, err_last());
		return 0;
	}
	FUZZ_CHECK(root != NULL, "OK without a tree");
	if (root->n || root->type == YNODE_SCALAR)
		check_marks(root, 0, size);

	dup = ynode_dup(root);
	FUZZ_CHECK(ynode_equal(root, dup), "a copy differs");
	ynode_free(dup);

	/* As the ENC renderer writes params: under a key, two spaces in. */
	buf_puts(&y, "v:");
	yemit_value(&y, root, 2);
	rc = ydoc_parse(&back, y.data, y.len, &back_limits, &line, &col);
	FUZZ_CHECK(rc == OK, "emitted YAML does not parse: %d:%d %s\n%s", line, col, err_last(),
	    y.data);
	FUZZ_CHECK(back->type == YNODE_MAP && back->n == 1, "emitted YAML is not one key");
	FUZZ_CHECK(same(root, back->items[0]), "emitted YAML reads back differently:\n%s", y.data);

	yemit_json(&j, root);
	jv = json_loadb(j.data, j.len, JSON_DECODE_ANY, NULL);
	FUZZ_CHECK(jv != NULL, "emitted JSON does not parse: %s", j.data);
	json_decref(jv);

	ynode_free(back);
	ynode_free(root);
	buf_dispose(&y);
	buf_dispose(&j);
	return 0;
}
