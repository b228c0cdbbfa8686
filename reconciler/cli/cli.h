/*
 * cli.h - what the subcommands of firebreak-core share.  Only files of
 * reconciler/cli/ include it.
 *
 * Layer: cli, the top: it may include every layer below and the provider
 * interfaces (providers/X/X.h), never a backend's own header.
 *
 *   cli.c             options, errors, exit codes, the subcommand table
 *   cmd_inventory.c   check, render, plan, apply, enc
 *   cmd_controller.c  run, approve, discard, status, fetch
 *   cmd_chat.c        chat, reply
 *   cmd_import.c      import zone (and what both imports share)
 *   cmd_import_enc.c  import enc
 *   import_tree.c     the checkout, the check before writing, the writing
 *   main.c            the libc-only front (`firebreak`): enc --state, exec
 */
#ifndef FIREBREAK_CLI_H
#define FIREBREAK_CLI_H

#include <stdio.h>

#include "base/util.h"
#include "model/diag.h"
#include "state/config.h"

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_USAGE = 2, EXIT_ENV = 3 };

/*
 * A command that is about to exit need not free 100k hosts one by one:
 * that costs more than the exit itself.  Sanitizer builds (make SAN=1,
 * which CI runs) free everything, so leaks stay visible.
 */
#if defined(__SANITIZE_ADDRESS__)
#define FREE_AT_EXIT 1
#else
#define FREE_AT_EXIT 0
#endif

struct repo;

struct opts {
	const char *repo, *rev, *out, *state, *from, *to, *format, *config, *as;
	const char *identity, *via, *reply_to, *chat_entry, *reason, *check, *host, *ha_fence;
	const char *from_axfr, *from_file, *tsig, *zone_id, *script, *nodes;
	int check_only, bootstrap_apply, json, unverified, no_approve, health_action;
	int force, skip_unsupported;
	const char *args[16];
	int nargs;
};

/* "firebreak: <message>" and "(firebreak --help for usage)", exit 2. */
_Noreturn void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "firebreak: <message>" on stderr, exit `code`. */
_Noreturn void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* What an internal error code means for the exit status. */
int exit_for(int rc);

/*
 * Parse --name value / --name=value for the option names in `accepted`
 * (space-separated words; flags: -n, --json, --bootstrap-apply,
 * --unverified, --no-approve), and at most max_args plain arguments
 * (everything after "--" is one).  Anything else is a usage error.
 */
void parse_opts(struct opts *o, int argc, char **argv, const char *accepted, int max_args);
/* --no-ha was given (any subcommand): load_config() drops `ha:`. */
extern int cli_no_ha;
int want_json(const struct opts *o);

/* The repository at path (dies with exit 3 when it cannot be opened). */
struct repo *open_repo(const char *path);
/* rev (or HEAD) to a full sha (dies with exit 1 when it names nothing). */
void resolve(struct repo *r, const char *rev, char out[41]);
void print_diags(FILE *f, const struct diags *d);
/* The controller config at path (dies with exit 1 naming file:line). */
struct config *load_config(const char *path);

/* Approve or discard through the running controller, else on the state
 * directory (also the bot's decide_offline). */
int decide_anywhere(const struct config *cfg, int approve, const char *id, const char *user,
    char **msg);

int cmd_check(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_enc(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_trust(int argc, char **argv);
int cmd_health(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_discard(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_rollout(int argc, char **argv);
int cmd_drift(int argc, char **argv);
int cmd_retry(int argc, char **argv);
int cmd_reconcile(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_reply(int argc, char **argv);
int cmd_import(int argc, char **argv);

#endif
