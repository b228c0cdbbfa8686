/*
 * fuzz_encdoc.c - what `firebreak import enc` reads from outside
 * (model/encdoc.h): an existing ENC script's document, and the nodes
 * file.
 *
 * Input: a first byte 'N' reads the rest as a nodes file; anything else
 * reads the whole input as an ENC document.
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - a refusal leaves nothing behind and says why (a nodes file's with
 *     "nodes:LINE:" and a line inside the input);
 *   - a document's classes are Puppet class names without repeats, its
 *     parameters a non-empty map of Puppet variable names, its
 *     environment a Puppet environment name: all that hosts/ and roles/
 *     files may hold;
 *   - a nodes list holds lowercase fqdns, none twice, each with the line
 *     it came from, in order.
 */
#include "fuzz.h"

#include "base/names.h"
#include "model/encdoc.h"

static void
check_nodes(const char *text, size_t len)
{
	struct strlist l;
	size_t i, j, lines = 1;
	int rc = nodelist_parse(&l, "nodes", text, len);

	for (i = 0; i < len; i++)
		lines += text[i] == '\n';
	if (rc != OK) {
		FUZZ_CHECK(l.n == 0 && l.v == NULL, "refused with %zu nodes", l.n);
		FUZZ_CHECK(strncmp(err_last(), "nodes", 5) == 0, "message \"%s\"", err_last());
		if (err_last()[5] == ':') {
			unsigned long line = strtoul(err_last() + 6, NULL, 10);

			FUZZ_CHECK(line >= 1 && line <= lines, "line %lu of %zu", line, lines);
		}
		return;
	}
	FUZZ_CHECK(l.n > 0, "an empty list accepted");
	for (i = 0; i < l.n; i++) {
		FUZZ_CHECK(valid_fqdn(l.v[i]), "node %s", l.v[i]);
		FUZZ_CHECK(l.lines[i] >= 1 && (size_t)l.lines[i] <= lines, "line %d", l.lines[i]);
		FUZZ_CHECK(i == 0 || l.lines[i] > l.lines[i - 1], "lines out of order");
		for (j = 0; j < i && l.n < 200; j++)
			FUZZ_CHECK(strcmp(l.v[i], l.v[j]) != 0, "%s twice", l.v[i]);
	}
	strlist_dispose(&l);
}

static void
check_doc(const char *text, size_t len)
{
	struct encdoc d;
	size_t i, j;

	if (encdoc_parse(&d, text, len) != OK) {
		FUZZ_CHECK(d.root == NULL && d.classes == NULL && err_last()[0], "refusal");
		return;
	}
	for (i = 0; i < d.nclasses; i++) {
		FUZZ_CHECK(valid_class(d.classes[i]), "class %s", d.classes[i]);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(d.classes[i], d.classes[j]) != 0, "class %s twice",
			    d.classes[i]);
	}
	if (d.params) {
		FUZZ_CHECK(d.params->type == YNODE_MAP && d.params->n > 0, "params");
		for (i = 0; i < d.params->n; i++)
			FUZZ_CHECK(valid_param_key(d.params->keys[i]->str), "param %s",
			    d.params->keys[i]->str);
	}
	if (d.env)
		FUZZ_CHECK(valid_env(d.env), "env %s", d.env);
	encdoc_dispose(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size && data[0] == 'N')
		check_nodes((const char *)data + 1, size - 1);
	else
		check_doc((const char *)data, size);
	return 0;
}
