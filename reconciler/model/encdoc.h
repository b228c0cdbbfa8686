/*
 * encdoc.h - what `firebreak import enc` reads from outside: the nodes
 * file (one fqdn a line) and each node's ENC document as an existing
 * script prints it (Puppet's external_nodes format: classes, parameters,
 * environment).  Both are hostile input, checked here against the
 * schema's name patterns, so what comes out can become hosts/ and roles/
 * files as it is.
 *
 * Layer: model (includes base; ydoc for the YAML).
 */
#ifndef FIREBREAK_ENCDOC_H
#define FIREBREAK_ENCDOC_H

#include <stddef.h>

#include "model/ydoc.h"

#define ENCDOC_NODES_MAX 100000

/* An ENC document, checked. */
struct encdoc {
	struct ynode *root;           /* owns; the parsed document */
	const char **classes;         /* owns the array; borrows from root; in the
	                               * document's order, without repeats */
	size_t nclasses;
	const struct ynode *params;   /* borrowed; a non-empty map, or NULL */
	const char *env;              /* borrowed; NULL: none, or "production" */
};

/*
 * Parse a script's stdout as an ENC document: a mapping with at most
 * classes (a list of class names, or a mapping of class names to
 * nothing: class parameters are refused), parameters (a mapping whose
 * keys are Puppet variable names) and environment (a Puppet environment
 * name).  OK with *out filled (dispose with encdoc_dispose()), or
 * ERR_INVALID / ERR_TOOBIG with err_last() saying what, without a
 * file name (the caller names the node), and *out empty.
 */
int encdoc_parse(struct encdoc *out, const char *text, size_t len);
void encdoc_dispose(struct encdoc *d);

/*
 * The nodes file (into a strlist: each name with its line): one fqdn a line, blanks around it ignored, blank lines
 * and lines starting with '#' skipped.  OK, or ERR_INVALID with err_last()
 * "FILE:LINE: what" (a name that is not a lowercase fqdn, one listed
 * twice, a NUL byte, none at all) and *out empty.
 */
int nodelist_parse(struct strlist *out, const char *file, const char *text, size_t len);

#endif
