/*
 * hstore.h - the health checks' durable state (DESIGN.md "Health checks
 * and actions": episodes are kept in the state directory, so a restart
 * does not repeat them).
 *
 *   <state>/health.json (0600, replaced with fs_write_atomic):
 *   {
 *     "seq": N,                      episodes begun so far
 *     "would_act": {"health.drain": N},   cumulative would-act events
 *     "source_down": bool,           "unreachable" said, "back" not yet
 *     "drained": {FQDN: COMMIT},     hosts a health action drained (still
 *                                    checked, so their recovery is said)
 *     "episodes": {"CHECK HOST": {"id": N, "since": T, "finding": TEXT,
 *                   "said": {"would": 1, "held": 1, "report": 1, ...},
 *                   "agreed": bool, "drain": COMMIT}}
 *   }
 *
 * The controller owns the object in memory and saves it when an episode
 * begins, ends or says something: a handful of small writes per incident,
 * none per healthy evaluation.
 *
 * Layer: state.
 */
#ifndef FIREBREAK_HSTORE_H
#define FIREBREAK_HSTORE_H

#include <jansson.h>

#define HSTORE_MAX (16u << 20)

/* Read <dir>/health.json into *out (owns), or a fresh object when there is
 * none.  A file that is not such an object is ERR_INVALID (never guessed
 * away: the episodes are what keep chat from hearing things twice). */
int hstore_load(json_t **out, const char *dir);
/* Replace <dir>/health.json with `store` (borrowed). */
int hstore_save(const json_t *store, const char *dir);

#endif
