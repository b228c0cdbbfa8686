/*
 * ssh.c - the `ssh` orchestrator: one OpenSSH client per host, never a
 * local shell, BatchMode always on (a host that asks for a password or a
 * host key confirmation is unreachable, not a hung prompt).
 *
 *   rollout:
 *     orchestrator:
 *       type: ssh
 *       argv: [ssh, -o, BatchMode=yes, "{host}", sudo, puppet, agent, --test,
 *              --detailed-exitcodes]
 *       timeout: 900
 *
 * argv is ssh's own: options, then the destination ("{host}" or
 * "user@{host}"), then the remote command.  ssh joins the remote words
 * with spaces and the remote user's shell splits them again, so a remote
 * word must mean the same word there: each is limited to letters, digits
 * and _@%+=:,./- (and {host}, an fqdn).  A word with a space, a quote, a
 * '$', ';', '|', '&', '*' or a newline is refused at config load: it
 * would put text outside its argv element on the host.  Without
 * `-o BatchMode=yes` in the options it is added; `BatchMode=no` is
 * refused.  Exit status 255 is ssh's own failure (no route, refused, no
 * key): the host is unreachable.
 */
#include "providers/orchestrate/orchestrate.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/names.h"

/* ssh(1) options that take an argument. */
static const char ssh_arg_opts[] = "BbcDEeFIiJLlmOopQRSWw";

static int
remote_word_ok(const char *s)
{
	for (; *s; s++) {
		if (strncmp(s, "{host}", 6) == 0) {
			s += 5;
			continue;
		}
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("_@%+=:,./-", *s)))
			return 0;
	}
	return 1;
}

static int
destination_ok(const char *s)
{
	const char *at = strchr(s, '@');
	char user[64];

	if (strcmp(s, "{host}") == 0)
		return 1;
	if (!at || strcmp(at + 1, "{host}") != 0 || (size_t)(at - s) >= sizeof(user) || at == s)
		return 0;
	memcpy(user, s, (size_t)(at - s));
	user[at - s] = '\0';
	return valid_user(user);
}

static int
ssh_open(void **out, const struct ynode *cfg)
{
	struct orch_template *t = xcalloc(1, sizeof(*t));
	size_t i, dest = 0;
	int batch = 0, rc;
	const char *prog;

	*out = NULL;
	if ((rc = orch_template_parse(t, cfg, "orchestrator ssh", NULL)) != OK)
		goto fail;
	prog = strrchr(t->argv[0], '/') ? strrchr(t->argv[0], '/') + 1 : t->argv[0];
	if (strncmp(prog, "ssh", 3) != 0) {
		rc = err_set(ERR_INVALID, "orchestrator ssh: argv[0] (line %d): expected an OpenSSH "
		    "client (ssh), got \"%.80s\"; use type: exec for other programs", t->lines[0],
		    t->argv[0]);
		goto fail;
	}
	/* Options up to the destination. */
	for (i = 1; i < t->argc; i++) {
		const char *a = t->argv[i];

		if (a[0] != '-') {
			dest = i;
			break;
		}
		if (strcmp(a, "--") == 0) {
			dest = i + 1;
			break;
		}
		if (a[1] && strchr(ssh_arg_opts, a[1]) && !a[2]) {
			const char *v = i + 1 < t->argc ? t->argv[i + 1] : "";

			if (a[1] == 'o' && strncasecmp(v, "BatchMode=", 10) == 0) {
				if (strcasecmp(v + 10, "yes") != 0) {
					rc = err_set(ERR_INVALID, "orchestrator ssh: argv[%zu] (line %d): "
					    "BatchMode must be yes (a prompt would hang the run)", i + 1,
					    t->lines[i + 1 < t->argc ? i + 1 : i]);
					goto fail;
				}
				batch = 1;
			}
			i++;
		} else if (a[1] == 'o' && strncasecmp(a + 2, "BatchMode=", 10) == 0) {
			if (strcasecmp(a + 12, "yes") != 0) {
				rc = err_set(ERR_INVALID, "orchestrator ssh: argv[%zu] (line %d): BatchMode "
				    "must be yes", i, t->lines[i]);
				goto fail;
			}
			batch = 1;
		}
	}
	if (!dest || dest >= t->argc || !destination_ok(t->argv[dest])) {
		rc = err_set(ERR_INVALID, "orchestrator ssh: argv: the destination after ssh's "
		    "options must be \"{host}\" or \"user@{host}\"%s%.80s%s",
		    dest && dest < t->argc ? ", got \"" : "",
		    dest && dest < t->argc ? t->argv[dest] : "", dest && dest < t->argc ? "\"" : "");
		goto fail;
	}
	if (dest + 1 >= t->argc) {
		rc = err_set(ERR_INVALID, "orchestrator ssh: argv (line %d): no remote command after "
		    "the destination (e.g. sudo puppet agent --test --detailed-exitcodes)",
		    t->lines[dest]);
		goto fail;
	}
	for (i = dest + 1; i < t->argc; i++)
		if (!remote_word_ok(t->argv[i])) {
			rc = err_set(ERR_INVALID, "orchestrator ssh: argv[%zu] (line %d): \"%.80s\" "
			    "would not stay one word on the host (its shell splits and expands what "
			    "ssh sends); remote words may hold letters, digits, _@%%+=:,./- and {host}",
			    i, t->lines[i], t->argv[i]);
			goto fail;
		}
	if (!batch) {
		/* -o BatchMode=yes right after the program. */
		t->argv = xrealloc(t->argv, (t->argc + 3) * sizeof(*t->argv));
		t->lines = xrealloc(t->lines, (t->argc + 2) * sizeof(*t->lines));
		memmove(t->argv + 3, t->argv + 1, (t->argc - 1) * sizeof(*t->argv));
		memmove(t->lines + 3, t->lines + 1, (t->argc - 1) * sizeof(*t->lines));
		t->argv[1] = xstrdup("-o");
		t->argv[2] = xstrdup("BatchMode=yes");
		t->lines[1] = t->lines[2] = t->lines[0];
		t->argc += 2;
		t->argv[t->argc] = NULL;
	}
	*out = t;
	return OK;
fail:
	orch_template_close(t);
	return rc;
}

static const struct orch_ops ssh_ops = {
	.open = ssh_open,
	.start = orch_template_start,
	.fd = orch_proc_fd,
	.timeout_ms = orch_proc_timeout_ms,
	.step = orch_proc_step,
	.cancel = orch_proc_cancel,
	.finish = orch_proc_finish,
	.close = orch_template_close,
};

const struct orch_provider orch_ssh = {
	.abi = ORCH_PROVIDER_ABI,
	.name = "ssh",
	.ops = &ssh_ops,
};
