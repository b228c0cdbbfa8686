/*
 * orch_exec.c - the `exec` orchestrator: a local program per host, for
 * Bolt, Rundeck's CLI, Ansible ad hoc or a site script.  (Named so: the
 * apply provider has exec.c, and the library's members need unique
 * names.)
 *
 *   rollout:
 *     orchestrator:
 *       type: exec
 *       argv: [/usr/local/bin/run-puppet, "{host}"]
 *       timeout: 900
 *
 * No shell: argv[0] runs with the other elements as its arguments, {host}
 * replaced inside its element, FIREBREAK_HOST in the environment.  The
 * program's exit status is read as Puppet's --detailed-exitcodes (0
 * unchanged, 2 changed, 4/6 failed, 1 could not run, 255 unreachable), so
 * a wrapper passes Puppet's status through.
 */
#include "providers/orchestrate/orchestrate.h"

#include <stdlib.h>
#include <string.h>

#include "base/names.h"

struct exec_cfg {
	struct orch_template t;
};

static void
oexec_close(void *st)
{
	struct exec_cfg *c = st;

	if (!c)
		return;
	orch_template_dispose(&c->t);
	free(c);
}

static int
oexec_open(void **out, const struct ynode *cfg)
{
	struct exec_cfg *c = xcalloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if ((rc = orch_template_parse(&c->t, cfg, "orchestrator exec", NULL)) != OK) {
		oexec_close(c);
		return rc;
	}
	*out = c;
	return OK;
}

static int
oexec_start(void **run, void *st, const char *host)
{
	struct exec_cfg *c = st;
	char **argv;
	int rc;

	*run = NULL;
	if (!valid_fqdn(host))
		return err_set(ERR_INVALID, "'%.80s' is not a valid fqdn; it never reaches argv", host);
	argv = orch_template_expand(&c->t, host);
	rc = orch_proc_start(run, argv, host, c->t.timeout_s);
	orch_argv_free(argv);
	return rc;
}

static const struct orch_ops oexec_ops = {
	.open = oexec_open,
	.start = oexec_start,
	.fd = orch_proc_fd,
	.timeout_ms = orch_proc_timeout_ms,
	.step = orch_proc_step,
	.cancel = orch_proc_cancel,
	.finish = orch_proc_finish,
	.close = oexec_close,
};

const struct orch_provider orch_exec = {
	.abi = ORCH_PROVIDER_ABI,
	.name = "exec",
	.ops = &oexec_ops,
};
