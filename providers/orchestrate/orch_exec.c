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

/* The state is the template itself (orch_template_start, _close). */
static int
oexec_open(void **out, const struct ynode *cfg)
{
	struct orch_template *t = xcalloc(1, sizeof(*t));
	int rc;

	*out = NULL;
	if ((rc = orch_template_parse(t, cfg, "orchestrator exec", NULL)) != OK) {
		orch_template_close(t);
		return rc;
	}
	*out = t;
	return OK;
}

static const struct orch_ops oexec_ops = {
	.open = oexec_open,
	.start = orch_template_start,
	.fd = orch_proc_fd,
	.timeout_ms = orch_proc_timeout_ms,
	.step = orch_proc_step,
	.cancel = orch_proc_cancel,
	.finish = orch_proc_finish,
	.close = orch_template_close,
};

const struct orch_provider orch_exec = {
	.abi = ORCH_PROVIDER_ABI,
	.name = "exec",
	.ops = &oexec_ops,
};
