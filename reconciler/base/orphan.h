/*
 * orphan.h - programs a killed process left running.
 *
 * Layer: base.  A controller killed with -9 leaves its children (an apply
 * provider's program, say) running: nobody reads their output or reaps
 * them any more.  The next controller must stop such a program before it
 * runs the same step again, or the two would run at once.  It can only do
 * that for a process it can name without doubt, and a pid alone does not
 * (pids are reused, soon on a system with pid_max 32768), so a process is
 * named by its pid, its start time (clock ticks after boot, field 22 of
 * /proc/PID/stat) and the boot's id: the three together never name two
 * processes.  Every child proc.h starts leads its own process group, so
 * the group's id is the leader's pid.
 *
 * Linux only (/proc).  A zombie is not running: a killed controller's
 * children are reparented to an init that may be slow to reap them.
 */
#ifndef FIREBREAK_ORPHAN_H
#define FIREBREAK_ORPHAN_H

#define ORPHAN_BOOT_ID 40

struct orphan {
	long pid;                  /* the process (and its group's id) */
	unsigned long long start;  /* its start time, clock ticks after boot */
	char boot[ORPHAN_BOOT_ID]; /* /proc/sys/kernel/random/boot_id */
};

/* Name process `pid`, which runs now.  ERR_NOTFOUND when there is no
 * such process; ERR when /proc cannot say. */
int orphan_identify(struct orphan *out, long pid);

/* 1 when the process `o` names still runs (same boot, same start time,
 * not a zombie), else 0. */
int orphan_alive(const struct orphan *o);

/* Send `sig` to o's process group if its leader is still the process `o`
 * names.  OK when sent; ERR_NOTFOUND when it is gone (nothing sent). */
int orphan_signal(const struct orphan *o, int sig);

/*
 * SIGKILL whatever is left of o's process group once its leader, seen
 * alive earlier by this process, is gone: a group whose leader ended
 * keeps its id reserved while any member lives, so the id still names
 * the same group (proc.h kills such leftovers too, when it reaps a
 * leader).  Call it only after orphan_alive() said 1 for `o`.
 */
void orphan_kill_rest(const struct orphan *o);

#endif
