/*
 * proc.h - running other programs (STYLE.md "Running programs").
 *
 * A program runs from an argv array through posix_spawn(): never a shell,
 * so a value like `$(rm -rf /)` reaches it as one literal argument.  The
 * child gets a small fixed environment (PATH=/usr/local/bin:/usr/bin:/bin,
 * HOME, LANG=C.UTF-8, plus what the caller adds), stdin from /dev/null,
 * stdout and stderr into one pipe, every other descriptor closed, default
 * signal dispositions and an empty signal mask, and its own process group,
 * so a timeout (SIGTERM, then SIGKILL after a grace period) reaches the
 * whole tree it started.  Output is kept up to a cap; past it the oldest
 * bytes are dropped, because the end of a failing tool's output is where
 * it says why.
 *
 * Two ways to run: proc_run() blocks until the program ends; proc_start()
 * returns a handle for a single-threaded event loop, which polls
 * proc_fd() for reading, wakes at least every proc_timeout_ms(), calls
 * proc_poll() each time, and collects the result with proc_finish().
 *
 * proc_fork() runs a function of this program in a forked child instead
 * of another program, under the same contract (captured output with its
 * cap, timeout, process group, the same handle): blocking work, such as
 * a DNS library's network calls, then never stops the loop, and the child
 * reads the parent's memory (a release's artifacts) without copying it.
 *
 * The calling process must leave reaping to proc: SIGCHLD not set to
 * SIG_IGN, and no waitpid(-1) elsewhere (either would take the status
 * proc_poll() waits for; the result then says "exit status unknown").  A
 * loop that wants to wake on SIGCHLD may block it and read a signalfd,
 * then call proc_poll() on every handle.
 *
 * Layer: base (includes base only).
 */
#ifndef FIREBREAK_PROC_H
#define FIREBREAK_PROC_H

#include <stddef.h>

#include "base/util.h"

#define PROC_OUTPUT_CAP (64 * 1024)   /* default cap on captured output */
#define PROC_GRACE_MS 2000            /* default SIGTERM -> SIGKILL delay */
#define PROC_PATH "/usr/local/bin:/usr/bin:/bin"

struct proc_opts {
	/* "NAME=value" entries added to the fixed environment (borrowed,
	 * NULL-terminated, may be NULL).  A NAME the fixed set has (PATH,
	 * HOME, LANG) replaces it.  NAME must be [A-Za-z_][A-Za-z0-9_]*. */
	const char *const *env;
	const char *cwd;          /* borrowed; NULL: inherit */
	unsigned timeout_ms;      /* 0: none */
	unsigned grace_ms;        /* 0: PROC_GRACE_MS */
	size_t output_cap;        /* 0: PROC_OUTPUT_CAP */
	/* Borrowed; NULL: stderr joins stdout in the captured output.  Else
	 * stderr goes to this file, opened by the child (created 0600 or
	 * truncated; never through a symlink): for a program whose stdout
	 * is data (an ENC script's YAML) and whose stderr is talk.
	 * proc_start() only; proc_fork() ignores it. */
	const char *stderr_path;
};

struct proc_result {
	int exited;               /* 1: exited with `code`; 0: killed by `signo` */
	int code;
	int signo;
	int timed_out;            /* the timeout fired (whatever ended it then) */
	int cancelled;            /* proc_cancel() or proc_finish() before the end */
	size_t dropped;           /* bytes of output lost off the front (cap) */
	double seconds;           /* wall time from start to end */
	struct buf output;        /* owns: stdout and stderr as they interleaved */
};

struct proc;

/*
 * Start argv[0] (an absolute path; there is no PATH search) with argv
 * (borrowed; NULL-terminated, copied as needed).  `o` may be NULL for the
 * defaults.  *out owns the handle until proc_finish().  ERR_INVALID for a
 * bad argv or env entry; ERR_NOTFOUND when the program does not exist; ERR
 * for any other failure to start (err_last() says which).
 */
int proc_start(struct proc **out, const char *const argv[], const struct proc_opts *o);

/* What a forked child runs: its return value is the exit status (a
 * negative value exits 1, one above 255 exits 255).  Borrows `arg`. */
typedef int (*proc_fn)(void *arg);

/*
 * Run fn(arg) in a forked child: no exec, so the child has a copy of the
 * parent's memory.  Safe only in a single-threaded process (the
 * controller is one): a lock another thread held at fork() stays held in
 * the child.  The child is set up as proc_start() sets up a program: its
 * own process group, stdin from /dev/null, stdout and stderr into the
 * captured pipe, every other descriptor closed (the parent's sockets,
 * listeners and files are not the child's to use: it cannot write to
 * them by mistake), default dispositions and an empty mask for the
 * signals a daemon changes (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE,
 * SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2), and o->cwd.  stdio's buffers of
 * stdout and stderr are discarded in the child (what the parent had not
 * flushed is the parent's), so fn may use printf() as long as it flushes.
 * fn never returns into the caller: the child _exit()s with its value,
 * without atexit handlers or stdio flushing beyond what fn did.
 * o->env must be NULL (there is no new environment without an exec).
 * *out owns the handle until proc_finish().  ERR_INVALID for an env;
 * ERR when fork or the pipe fails.
 */
int proc_fork(struct proc **out, proc_fn fn, void *arg, const struct proc_opts *o);

/* The descriptor to poll for reading, or -1 once the output ended (then
 * only the timeout matters).  Borrowed: never close it. */
int proc_fd(const struct proc *p);

/* The longest the caller may sleep before calling proc_poll() again, in
 * milliseconds (-1 never happens while the program runs; 0 after it ended). */
int proc_timeout_ms(const struct proc *p);

/*
 * Read what the program wrote, reap it when it ended, and enforce the
 * timeout.  Never blocks.  Returns 1 when the program has ended and its
 * output is complete (call proc_finish()), 0 while it runs.  When the
 * program itself exits, whatever it left behind in its process group is
 * killed: a hook is done when its main process is.
 */
int proc_poll(struct proc *p);

/* Ask the program to stop: SIGTERM now, SIGKILL after the grace period.
 * Keep calling proc_poll() until it returns 1. */
void proc_cancel(struct proc *p);

/*
 * Collect the result into *out (owns; dispose with proc_result_dispose())
 * and free the handle.  If the program still runs it is killed (SIGKILL,
 * its whole group) and reaped first, and out->cancelled is set.
 */
void proc_finish(struct proc_result *out, struct proc *p);

/*
 * Run to the end, blocking: proc_start(), then poll() until proc_poll()
 * says done, then proc_finish().  Returns what proc_start() returned;
 * on OK *out holds the result (how the program ended is in there, not in
 * the return value).
 */
int proc_run(struct proc_result *out, const char *const argv[], const struct proc_opts *o);

/* Did it exit 0, in time? */
int proc_result_ok(const struct proc_result *r);

/* How it ended, in words: "exited with status 3", "killed by SIGKILL",
 * "timed out after 2.0 s (killed by SIGTERM)". */
void proc_result_describe(struct buf *b, const struct proc_result *r);

void proc_result_dispose(struct proc_result *r);

/* The program's pid, which is also its process group's id (to name it
 * durably: base/orphan.h). */
long proc_pid(const struct proc *p);

#endif
