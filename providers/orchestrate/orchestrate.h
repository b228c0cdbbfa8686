/*
 * orchestrate.h - orchestrators: how a Puppet run is triggered on one
 * host, and how its result is read (DESIGN.md "Rollout").  Each backend is
 * one file exporting one `struct orch_provider`, listed once in
 * providers/orchestrate/orchestrate_registry.c; the core finds backends by
 * name and never includes a backend's own file.
 *
 * Layer: providers (includes base, model, plan and this folder).
 *
 * A run must not stop the controller's one event loop, so it is a handle
 * the loop drives, like an apply provider's (providers/apply/apply.h):
 *
 *	op = orch_find("ssh");             at start-up
 *	op->ops->open(&st, cfg);           checks the `orchestrator:` mapping
 *	op->ops->start(&run, st, host);    a child process, never a shell
 *	... poll op->ops->fd(run) for reading, at most
 *	    op->ops->timeout_ms(run) ms; each wake-up:
 *	if (op->ops->step(run)) op->ops->finish(&res, run);
 *	op->ops->close(st);                at shutdown
 *
 * Templates: each argv element may hold `{host}`, replaced by the host's
 * fqdn inside that one element (a whole element, "{host}", or part of
 * one, "--certname={host}"); it never splits an element or adds one.  A
 * host name that is not a valid fqdn (base/names.h) never reaches argv:
 * start() refuses it.  A template that could put text outside its element
 * -- an unknown or unclosed placeholder, a NUL byte, a placeholder in the
 * program's name, no {host} at all, and for ssh a remote word the remote
 * shell would split or interpret -- is refused by open(), so at config
 * load, with the element's line.
 */
#ifndef FIREBREAK_ORCHESTRATE_H
#define FIREBREAK_ORCHESTRATE_H

#include <stddef.h>

#include "base/util.h"
#include "model/ydoc.h"

#define ORCH_PROVIDER_ABI 1
#define ORCH_TIMEOUT_DEFAULT 900     /* seconds per host */
#define ORCH_TIMEOUT_MAX 86400
#define ORCH_ARGV_MAX 64
#define ORCH_ARG_MAX 4096
#define ORCH_TAIL_MAX 1500           /* bytes of output a result keeps */
#define ORCH_LINE_MAX 160            /* bytes of its one-line excerpt */

/* What one host's run came to (Puppet's --detailed-exitcodes). */
enum orch_status {
	ORCH_UNCHANGED,       /* exit 0 */
	ORCH_CHANGED,         /* exit 2 */
	ORCH_FAILED,          /* exit 4 or 6, any other status, a signal */
	ORCH_BUSY,            /* exit 1: Puppet could not run (a run in
	                       * progress, the agent disabled): retry */
	ORCH_UNREACHABLE,     /* exit 255 (ssh's own failure) or the timeout */
};

/* "unchanged", "changed", "failed", "busy", "unreachable". */
const char *orch_status_name(enum orch_status s);

struct orch_result {
	enum orch_status status;
	int code;             /* the exit status, or -1 (signal, timeout) */
	int timed_out;
	double seconds;       /* wall time of the run */
	char *how;            /* owns: "exited with status 4", "timed out after
	                       * 900.0 s (killed by SIGTERM)" */
	char *tail;           /* owns: the last ORCH_TAIL_MAX bytes of output,
	                       * printable: every control character but newline
	                       * and tab is '?'; "" when there was none */
	char *line;           /* owns: one line of it for chat: the last line
	                       * that says something, no control character at
	                       * all (no newline either), at most ORCH_LINE_MAX
	                       * bytes, cut on a UTF-8 boundary */
};

void orch_result_dispose(struct orch_result *r);

struct orch_ops {
	/*
	 * Open from the `orchestrator:` mapping (borrowed; {type, argv,
	 * timeout}).  *out owns the backend's state.  ERR_INVALID with
	 * err_last() naming the key and its line for a bad config.
	 */
	int (*open)(void **out, const struct ynode *cfg);
	/*
	 * Begin a run on `host` (borrowed; must be a valid fqdn, else
	 * ERR_INVALID and nothing runs).  *run owns the run until finish().
	 * Never blocks for long.  Another negative code when the program
	 * cannot start (err_last() says why).
	 */
	int (*start)(void **run, void *st, const char *host);
	/* A descriptor to poll for reading, or -1 (then only the timeout). */
	int (*fd)(void *run);
	/* The longest the loop may sleep before calling step(), in ms. */
	int (*timeout_ms)(void *run);
	/* Make progress without blocking.  1: done, call finish(); 0: not yet. */
	int (*step)(void *run);
	/* Stop early (superseded, aborted, shutdown): SIGTERM, then SIGKILL. */
	void (*cancel)(void *run);
	/* The result into *out (owns; orch_result_dispose), and free the run
	 * (if it had not ended it is killed first). */
	void (*finish)(struct orch_result *out, void *run);
	void (*close)(void *st);
};

struct orch_provider {
	unsigned abi;                 /* ORCH_PROVIDER_ABI */
	const char *name;             /* "ssh", "exec" */
	const struct orch_ops *ops;
};

/* The backend of that name, or NULL.  Checks ABI and required ops. */
const struct orch_provider *orch_find(const char *name);
/* "ssh, exec": the names, for messages. */
const char *orch_names(void);

/* ---- for backends ---- */

/*
 * A parsed argv template: each element's text and where {host} goes.
 * orch_template_parse() checks `argv:` (a non-empty list of strings,
 * at most ORCH_ARGV_MAX, each at most ORCH_ARG_MAX bytes, no NUL, no
 * placeholder but {host}, {host} at least once, none in argv[0]) and
 * resolves a bare program name in PROC_PATH (a name with a '/' must be
 * absolute).  ERR_INVALID naming `who` ("orchestrator ssh") and the line.
 */
struct orch_template {
	char **argv;              /* owns; NULL-terminated */
	size_t argc;
	int *lines;               /* owns; each element's line */
	unsigned timeout_s;
};
int orch_template_parse(struct orch_template *t, const struct ynode *cfg, const char *who,
    const char *const known_keys[]);
void orch_template_dispose(struct orch_template *t);
/* argv with {host} replaced (owns each string and the array). */
char **orch_template_expand(const struct orch_template *t, const char *host);
void orch_argv_free(char **argv);
/* The start and close ops of a backend whose state is a heap-allocated
 * orch_template: the template for `host` (a valid fqdn, or ERR_INVALID
 * before anything runs) started with orch_proc_start(). */
int orch_template_start(void **run, void *st, const char *host);
void orch_template_close(void *st);

/*
 * Run argv as a child the loop drives (base/proc.h), with FIREBREAK_HOST
 * in its environment.  The shared run handle both backends use.
 */
int orch_proc_start(void **run, char **argv, const char *host, unsigned timeout_s);
int orch_proc_fd(void *run);
int orch_proc_timeout_ms(void *run);
int orch_proc_step(void *run);
void orch_proc_cancel(void *run);
/* Classify by Puppet's --detailed-exitcodes (255 and the timeout are
 * unreachable) and cut the output into tail and line. */
void orch_proc_finish(struct orch_result *out, void *run);

/* The tail and one line of captured output, sanitised (see orch_result). */
void orch_output_cut(struct orch_result *r, const char *out, size_t len, size_t dropped);

#endif
