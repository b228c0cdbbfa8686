/*
 * orphan.c - see orphan.h.
 */
#include "base/orphan.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "base/fs.h"
#include "base/util.h"

/* The boot's id, one line of 36 characters. */
static int
boot_id(char out[ORPHAN_BOOT_ID])
{
	struct buf b = BUF_INIT;
	int rc = fs_read(&b, "/proc/sys/kernel/random/boot_id", 256);

	out[0] = '\0';
	if (rc == OK) {
		size_t n = strcspn(b.data ? b.data : "", "\n");

		if (n == 0 || n >= ORPHAN_BOOT_ID)
			rc = err_set(ERR, "/proc/sys/kernel/random/boot_id: not a boot id");
		else
			snprintf(out, ORPHAN_BOOT_ID, "%.*s", (int)n, b.data);
	}
	buf_dispose(&b);
	return rc;
}

/*
 * Process pid's state letter and start time from /proc/PID/stat.  The
 * command name (field 2) is in parentheses and may hold anything,
 * spaces and ')' included: the fields after it are counted from the last
 * ')'.
 */
static int
stat_of(long pid, char *state, unsigned long long *start)
{
	char path[64];
	struct buf b = BUF_INIT;
	const char *p;
	int rc, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((rc = fs_read(&b, path, 4096)) != OK) {
		buf_dispose(&b);
		return rc == ERR_NOTFOUND ? ERR_NOTFOUND : rc;
	}
	p = b.data ? strrchr(b.data, ')') : NULL;
	rc = ERR;
	if (p && p[1] == ' ' && p[2]) {
		*state = p[2];
		/* p + 2 is field 3; the start time is field 22. */
		for (field = 3, p += 2; *p && field < 22; p++)
			if (*p == ' ')
				field++;
		if (field == 22 && sscanf(p, "%llu", start) == 1)
			rc = OK;
	}
	buf_dispose(&b);
	return rc == OK ? OK : err_set(ERR, "%s: cannot read the start time", path);
}

int
orphan_identify(struct orphan *out, long pid)
{
	char state;
	int rc;

	memset(out, 0, sizeof(*out));
	if (pid <= 1)
		return err_set(ERR_NOTFOUND, "no process %ld", pid);
	if ((rc = boot_id(out->boot)) != OK)
		return rc;
	if ((rc = stat_of(pid, &state, &out->start)) != OK)
		return rc == ERR_NOTFOUND ? err_set(ERR_NOTFOUND, "no process %ld", pid) : rc;
	out->pid = pid;
	return OK;
}

int
orphan_alive(const struct orphan *o)
{
	char boot[ORPHAN_BOOT_ID], state;
	unsigned long long start;

	if (o->pid <= 1 || !o->boot[0] || boot_id(boot) != OK || strcmp(boot, o->boot) != 0)
		return 0;
	if (stat_of(o->pid, &state, &start) != OK)
		return 0;
	return start == o->start && state != 'Z' && state != 'X';
}

int
orphan_signal(const struct orphan *o, int sig)
{
	if (!orphan_alive(o))
		return err_set(ERR_NOTFOUND, "process %ld is gone", o->pid);
	if (kill(-(pid_t)o->pid, sig) != 0 && errno != ESRCH)
		return err_set(ERR, "signalling process group %ld: %s", o->pid, strerror(errno));
	return OK;
}

void
orphan_kill_rest(const struct orphan *o)
{
	if (o->pid > 1)
		(void)kill(-(pid_t)o->pid, SIGKILL);
}
