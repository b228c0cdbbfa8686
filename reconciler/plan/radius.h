/*
 * radius.h - which hosts a plan's rollout runs Puppet on, and how many go
 * in its canary and in each batch (DESIGN.md "Rollout").  Pure functions
 * of the plan and the two models: no I/O, no clock.
 *
 * Layer: plan (includes renderers, model, git, base).
 */
#ifndef FIREBREAK_RADIUS_H
#define FIREBREAK_RADIUS_H

#include <stddef.h>

#include "model/model.h"
#include "model/ydoc.h"
#include "plan/plan.h"

/*
 * The plan's blast radius as hosts: every host of `target` that is not
 * decommissioned whose ENC document the plan adds or modifies, or whose
 * role receives (`services:`) a service whose pin changed in the host's
 * environment -- active, drained and spare alike.  A pin is matched by
 * its hiera_key in the target's services, else the base's (a deleted
 * service), and a host's role counts in either model.  A pin file that
 * changes for an environment no receiving host is in runs nothing.
 * Appends the fqdns to *out sorted and without repeats (strings copied;
 * `base` may be NULL).  An invalid plan has none.
 */
void radius_hosts(struct strlist *out, const struct plan *p, const struct model *base,
    const struct model *target);

/* A count of hosts, or a percentage of them ("25%"). */
struct radius_size {
	unsigned long n;
	int pct;                  /* n is a percentage (1..100) */
};

/*
 * Parse "3" or "25%" (a YAML integer or string).  `min` is the least
 * count allowed (0 for a canary, 1 for a batch); a percentage is 1..100.
 * ERR_INVALID otherwise.
 */
int radius_size_parse(struct radius_size *out, const char *s, unsigned long min);

/* How many of `total` hosts: a percentage rounds up, at least 1 when
 * total > 0; never more than total. */
size_t radius_size_of(const struct radius_size *s, size_t total);

/* "3" or "25%" into out. */
void radius_size_format(char *out, size_t n, const struct radius_size *s);

#endif
