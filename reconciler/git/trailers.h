/*
 * trailers.h - the trailers of a commit message ("Requested-by: alice"),
 * as git interpret-trailers reads them: `Key: value` lines of the last
 * paragraph.
 *
 * Layer: git (includes base/ only).  A pure function over a string: who
 * may be believed (only the bot's own commits, DESIGN.md "Bot commits")
 * is the caller's question.
 */
#ifndef FIREBREAK_TRAILERS_H
#define FIREBREAK_TRAILERS_H

#include "base/util.h"

/* The value of trailer `key` (matched without regard to case) in the last
 * paragraph of `message` (may be NULL): the last such line's text after
 * "Key: " (owns), or NULL when there is none. */
char *trailer_get(const char *message, const char *key);

#endif
