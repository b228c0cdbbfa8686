/*
 * validate.h - diagnostics (every problem, each with file:line:column) and
 * the strict name patterns.  Anything read from git or chat passes one of
 * these validators before it becomes a path, a YAML key, a Terraform label
 * or a resource name: none of them admits '/', "..", quotes, spaces,
 * newlines, '$', '{' or '%'.
 */
#ifndef FIREBREAK_VALIDATE_H
#define FIREBREAK_VALIDATE_H

#include <stddef.h>

#include "util.h"

struct model;

struct diag {
	char *file;      /* owns; repository-relative path */
	int line, col;   /* 1-based; 0 when the problem is the whole file */
	char *message;   /* owns */
};

struct diags {
	struct diag *v;
	size_t n, alloc;
};

void diags_add(struct diags *d, const char *file, int line, int col,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void diags_sort(struct diags *d);      /* by file, line, column, message */
void diags_dispose(struct diags *d);

/* Patterns: each returns 1 when s is valid. */
int valid_fqdn(const char *s);       /* lowercase DNS labels, >= 2 labels, <= 253 */
int valid_zone(const char *s);       /* like an fqdn */
int valid_role(const char *s);       /* [a-z][a-z0-9_-]{0,62} */
int valid_service(const char *s);    /* [a-z][a-z0-9_-]{0,62} */
int valid_env(const char *s);        /* [a-z][a-z0-9_]{0,62}: a Puppet environment */
int valid_class(const char *s);      /* Puppet class: a::b::c */
int valid_hiera_key(const char *s);  /* segments [a-z0-9_]+ joined by "::" */
int valid_version(const char *s);    /* [0-9A-Za-z][0-9A-Za-z._+~-]{0,63} */
int valid_ipv4(const char *s);       /* dotted quad, no leading zeros */
int valid_ipv6(const char *s);
int valid_record_name(const char *s);/* "@" or relative labels, '_' and a leading '*' allowed */
int valid_record_type(const char *s);/* A AAAA CNAME MX TXT NS SRV CAA PTR */
int valid_zone_id(const char *s);    /* [A-Z0-9]{1,32} */
int valid_param_key(const char *s);  /* a Puppet variable name: [a-z_][a-zA-Z0-9_]* */
int valid_user(const char *s);       /* a policy user or group: [a-z][a-z0-9_.-]{0,63} */

/* The closest candidate within edit distance 2, or NULL (borrows). */
const char *did_you_mean(const char *word, const char *const *candidates, size_t n);

/*
 * Cross-file checks over a model whose files each parsed: roles that
 * exist, IPs used once among active hosts, DNS names that do not collide
 * (a CNAME beside another record of the same name).  Appends to `d`.
 */
void validate_model(struct diags *d, const struct model *m);

#endif
