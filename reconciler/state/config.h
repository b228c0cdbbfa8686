/*
 * config.h - the controller's configuration (DESIGN.md "Controller
 * configuration"): a YAML file outside the inventory repository.  Secrets
 * come from files named here, never from the file itself or the repo.
 *
 * Layer: state (includes plan, model, git, base).
 */
#ifndef FIREBREAK_CONFIG_H
#define FIREBREAK_CONFIG_H

#include "model/validate.h"
#include "state/healthcfg.h"
#include "model/ydoc.h"
#include "plan/radius.h"

#define ROLLOUT_PARALLEL_MAX 256
#define ROLLOUT_GATES_MAX 16
#define ROLLOUT_BACKOFF_DEFAULT 10   /* seconds before a busy host's first retry */

/*
 * `rollout:` (DESIGN.md "Rollout"): Puppet runs on the hosts a release
 * changed.  The orchestrator mapping is checked by its backend at load
 * (providers/orchestrate/orchestrate.h), so a malformed argv template is
 * refused with its line before anything runs.
 */
struct config_rollout {
	const struct ynode *orchestrator;   /* borrows root: {type, argv, timeout} */
	const char *orch_type;              /* borrows root */
	struct radius_size canary;          /* default 1 */
	struct radius_size batch;           /* default "25%" */
	unsigned parallel;                  /* default 10 */
	unsigned long max_failures;         /* default 0 */
	int staged;                         /* default 1 */
	struct strlist gates;               /* health check names (issue 10) */
	unsigned retry_backoff;             /* seconds; doubles per retry */
	int line;                           /* of the `rollout:` key's value */
};

/*
 * `ha:` (DESIGN.md "High availability"): several controllers on one
 * repository, one leader elected through etcd v3 (its JSON gateway).
 * Checked at load: endpoints are http(s)://host:port URLs, the name is
 * [A-Za-z0-9._-]{1,64}, lease_seconds 1..3600 (default 10).
 */
#define HA_ENDPOINTS_MAX 16
struct config_ha {
	char *endpoints[HA_ENDPOINTS_MAX];   /* owns */
	size_t nendpoints;
	char *name;                          /* owns: this instance, unique */
	unsigned lease_seconds;
	int line;                            /* of the `ha:` key's value */
};

struct config {
	char *path;              /* the configuration file */
	char *repo;              /* local repository the controller reads */
	char *branch;            /* default "main" */
	char *remote;            /* URL to fetch from, or NULL */
	unsigned poll_seconds;   /* fetch interval with a remote; default 60 */
	unsigned drift_seconds;  /* read the world this often; 0 (default): never */
	char *state;             /* state directory */
	char *bot_name, *bot_email;
	char *listen;            /* "host:port"; NULL: no HTTP listener */
	char *hook_secret;       /* the push hooks' secret (from hook_secret_file), or NULL */
	/* remote_auth: credentials to fetch from and push to `remote` (https:
	 * username + password_file; ssh: username, ssh_key_file,
	 * ssh_pubkey_file, passphrase_file).  Any may be NULL. */
	char *remote_user, *remote_password, *remote_ssh_key, *remote_ssh_pubkey,
	    *remote_passphrase;
	/* retention: {days, plans}: closed plans are deleted when older than
	 * `days` or beyond the newest `plans` (default 90, 10000). */
	unsigned retain_days;
	unsigned long retain_plans;
	const struct ynode *chat;   /* borrows root: the `chat:` list, or NULL */
	const struct ynode *apply;  /* borrows root: the `apply:` list, or NULL */
	struct health_config *health;    /* owns: `health:`, or NULL (state/healthcfg.h) */
	struct metrics_config *metrics;  /* owns: `metrics:`, or NULL */
	struct config_rollout *rollout;   /* owns; NULL without a `rollout:` block */
	struct config_ha *ha;             /* owns; NULL without an `ha:` block */
	struct ynode *root;      /* owns the parsed document */
};

/*
 * Load and check the file: unknown keys (with a did-you-mean), wrong
 * types, unreadable secret files, each with file:line.  ERR_INVALID with
 * the problems in `d`, ERR_NOTFOUND when the file is missing.  Relative
 * paths in the file are taken relative to the file's directory.
 */
int config_load(struct config **out, const char *path, struct diags *d);
void config_free(struct config *c);
/* Forget the `ha:` block (`--no-ha`: this instance's state alone). */
void config_drop_ha(struct config *c);

/* The remote's credentials, borrowed from the config (see remote_auth). */
struct repo_auth;
void config_repo_auth(const struct config *c, struct repo_auth *out);

#endif
