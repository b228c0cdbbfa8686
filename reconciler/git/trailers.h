/*
 * trailers.h - the trailers of a commit message ("Requested-by: alice"),
 * as git interpret-trailers reads them: `Key: value` lines of the last
 * paragraph.
 *
 * Layer: git (includes base/ and git/repo.h).  trailer_get() is a pure
 * function over a string; trailer_of_bot() is the one rule for whose
 * trailers are believed, used wherever a commit's requester is shown or
 * counted (plan summaries, `history`, the self-approval check).
 */
#ifndef FIREBREAK_TRAILERS_H
#define FIREBREAK_TRAILERS_H

#include "base/util.h"
#include "git/repo.h"

/* The value of trailer `key` (matched without regard to case) in the last
 * paragraph of `message` (may be NULL): the last such line's text after
 * "Key: " (owns), or NULL when there is none. */
char *trailer_get(const char *message, const char *key);

/*
 * 1 when commit `e` is one the bot made: its author AND its committer are
 * both exactly `bot`'s name and email.  A commit whose author is forged as
 * the bot's but committed by someone else is not the bot's.  `bot` NULL
 * (no configuration at hand, e.g. `firebreak plan --repo`): 0 for every
 * commit.  This is a rule for honest history, not an authentication:
 * whoever can push can also forge a committer.
 */
int trailer_is_bot_commit(const struct repo_log_entry *e, const struct repo_ident *bot);

/*
 * Trailer `key` of commit `e` (owns), believed only when the bot made the
 * commit (trailer_is_bot_commit); NULL for any other commit, whatever its
 * message says, and when the bot's commit has no such trailer.  For any
 * other commit the person is its author (e->author), never a trailer.
 */
char *trailer_of_bot(const struct repo_log_entry *e, const struct repo_ident *bot,
    const char *key);

#endif
