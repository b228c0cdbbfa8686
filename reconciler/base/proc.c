/*
 * proc.c - running other programs without a shell.  See proc.h.
 *
 * posix_spawn() rather than fork(): glibc spawns with
 * clone(CLONE_VM|CLONE_VFORK), which costs the same whether the controller
 * holds 20 MB or 300 MB, and it reports a failed execve() as the return
 * value instead of an exit status 127 we would have to guess from.  The
 * file actions set up the child's descriptors (stdin /dev/null, stdout and
 * stderr into our pipe, closefrom(3) for everything else) and the
 * attributes its process group and signals.
 *
 * proc_fork() has to fork(): its child runs our own code on our memory.
 * fork() copies page tables (about a millisecond per 100 MB mapped), not
 * pages, and happens once per apply, not per event.
 */
#include "base/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"

#if !defined(__GLIBC__) || !__GLIBC_PREREQ(2, 34)
#error "proc.c needs glibc 2.34 (posix_spawn_file_actions_addclosefrom_np)"
#endif

#define PROC_TICK_MS 250     /* liveness check while the program runs */
#define PROC_DRAIN_MS 500    /* how long output may trail the reaped leader */
#define PROC_ENV_MAX 64

struct proc {
	pid_t pid;               /* also the process group id */
	int fd;                  /* read end of the output pipe; -1 after EOF */
	int reaped;
	int wstatus;             /* valid once reaped; -1: unknown (ECHILD) */
	int timed_out, cancelled;
	int term_sent, kill_sent;
	double start, end;
	double deadline;         /* when to send SIGTERM; 0: no timeout */
	double kill_at;          /* when to send SIGKILL, once TERM was sent */
	double drain_until;      /* give up waiting for EOF after the leader ended */
	unsigned grace_ms;
	size_t cap, dropped;
	struct buf out;
};

static int
env_name_ok(const char *s, size_t *namelen)
{
	size_t i;

	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; s[i] && s[i] != '='; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	if (s[i] != '=')
		return 0;
	*namelen = i;
	return 1;
}

/*
 * The child's whole environment: the fixed entries, each replaced by a
 * caller entry of the same name, then the caller's others.  Nothing of
 * ours leaks in (no tokens in the controller's environment reach a hook
 * unless the config passes them on purpose).  env[] strings are borrowed
 * except the HOME one, which is env_home.
 */
static int
build_env(const char *env[PROC_ENV_MAX + 1], char **env_home, const char *const *extra)
{
	const char *fixed[3];
	const char *home = getenv("HOME");
	size_t n = 0, i, j, nl, ml;

	/* HOME from our own environment when it is a plain absolute path:
	 * tools look for their configuration there (~/.aws, ~/.terraformrc). */
	if (!home || home[0] != '/' || strchr(home, '\n'))
		home = "/";
	*env_home = xasprintf("HOME=%s", home);
	fixed[0] = "PATH=" PROC_PATH;
	fixed[1] = *env_home;
	fixed[2] = "LANG=C.UTF-8";
	for (i = 0; extra && extra[i]; i++)
		if (!env_name_ok(extra[i], &nl))
			return err_set(ERR_INVALID, "bad environment entry \"%.40s\": want NAME=value",
			    extra[i]);
	for (i = 0; i < 3; i++) {
		const char *use = fixed[i];

		ml = (size_t)(strchr(fixed[i], '=') - fixed[i]);
		for (j = 0; extra && extra[j]; j++)
			if (env_name_ok(extra[j], &nl) && nl == ml &&
			    memcmp(extra[j], fixed[i], nl) == 0)
				use = extra[j];
		env[n++] = use;
	}
	for (j = 0; extra && extra[j]; j++) {
		int dup = 0;

		env_name_ok(extra[j], &nl);
		for (i = 0; i < n; i++)
			if (strncmp(env[i], extra[j], nl + 1) == 0)
				dup = 1;
		if (dup)
			continue;
		if (n == PROC_ENV_MAX)
			return err_set(ERR_INVALID, "more than %d environment entries", PROC_ENV_MAX);
		env[n++] = extra[j];
	}
	env[n] = NULL;
	return OK;
}

/* A descriptor of ours at 3 or above, close-on-exec, so that the child's
 * dup2() onto 0..2 never meets it (a daemon may start with 0..2 closed). */
static int
fd_high(int fd)
{
	int nfd;

	if (fd >= 3)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/*
 * A writable copy of a NULL-terminated string vector (owns; strv_free).
 * posix_spawn() takes char *const[] though it never writes them: copying
 * keeps the types honest without casting const away.
 */
static char **
strv_dup(const char *const *v)
{
	size_t n = 0, i;
	char **d;

	while (v[n])
		n++;
	d = xmalloc((n + 1) * sizeof(*d));
	for (i = 0; i < n; i++)
		d[i] = xstrdup(v[i]);
	d[n] = NULL;
	return d;
}

static void
strv_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

int
proc_start(struct proc **out, const char *const argv[], const struct proc_opts *o)
{
	static const struct proc_opts none;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t empty, all;
	const char *env[PROC_ENV_MAX + 1];
	char *env_home = NULL, **sargv = NULL, **senv = NULL;
	struct proc *p = NULL;
	int pfd[2] = { -1, -1 }, rc, e;
	int fa_ok = 0, at_ok = 0;
	pid_t pid;

	*out = NULL;
	if (!o)
		o = &none;
	if (!argv || !argv[0] || argv[0][0] != '/')
		return err_set(ERR_INVALID, "program \"%.80s\" is not an absolute path",
		    argv && argv[0] ? argv[0] : "");
	if ((rc = build_env(env, &env_home, o->env)) != OK)
		goto out;
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		rc = err_set(ERR, "pipe: %s", strerror(errno));
		goto out;
	}
	pfd[0] = fd_high(pfd[0]);
	pfd[1] = fd_high(pfd[1]);
	if (pfd[0] < 0 || pfd[1] < 0) {
		rc = err_set(ERR, "fcntl: %s", strerror(errno));
		goto out;
	}
	if (fcntl(pfd[0], F_SETFL, O_NONBLOCK) != 0) {
		rc = err_set(ERR, "fcntl: %s", strerror(errno));
		goto out;
	}

	if ((e = posix_spawn_file_actions_init(&fa)) != 0)
		goto spawn_err;
	fa_ok = 1;
	if ((e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
	    (e = posix_spawn_file_actions_adddup2(&fa, pfd[1], 1)) != 0 ||
	    (o->stderr_path ? (e = posix_spawn_file_actions_addopen(&fa, 2, o->stderr_path,
	    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600)) :
	    (e = posix_spawn_file_actions_adddup2(&fa, pfd[1], 2))) != 0 ||
	    (e = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0)
		goto spawn_err;
	if (o->cwd && (e = posix_spawn_file_actions_addchdir_np(&fa, o->cwd)) != 0)
		goto spawn_err;
	if ((e = posix_spawnattr_init(&at)) != 0)
		goto spawn_err;
	at_ok = 1;
	sigemptyset(&empty);
	sigfillset(&all);
	/* Our own group, so kill(-pid) reaches everything the program starts;
	 * default dispositions and an empty mask, so a SIGPIPE we ignore or a
	 * SIGTERM the event loop blocks for signalfd() is not inherited. */
	if ((e = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (e = posix_spawnattr_setpgroup(&at, 0)) != 0 ||
	    (e = posix_spawnattr_setsigmask(&at, &empty)) != 0 ||
	    (e = posix_spawnattr_setsigdefault(&at, &all)) != 0)
		goto spawn_err;
	sargv = strv_dup(argv);
	senv = strv_dup(env);
	e = posix_spawn(&pid, argv[0], &fa, &at, sargv, senv);
	if (e != 0) {
		rc = err_set(e == ENOENT ? ERR_NOTFOUND : ERR, "cannot run %s: %s", argv[0],
		    strerror(e));
		goto out;
	}
	close(pfd[1]);
	pfd[1] = -1;

	p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->fd = pfd[0];
	pfd[0] = -1;
	p->start = log_now();
	p->grace_ms = o->grace_ms ? o->grace_ms : PROC_GRACE_MS;
	p->cap = o->output_cap ? o->output_cap : PROC_OUTPUT_CAP;
	if (o->timeout_ms)
		p->deadline = p->start + o->timeout_ms / 1000.0;
	*out = p;
	rc = OK;
	goto out;

spawn_err:
	rc = err_set(ERR, "posix_spawn setup: %s", strerror(e));
out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (at_ok)
		posix_spawnattr_destroy(&at);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	free(env_home);
	strv_free(sargv);
	strv_free(senv);
	return rc;
}

/* The signals a daemon blocks, ignores or catches: a forked child gets
 * them back at their defaults and unblocked, so a timeout's SIGTERM ends
 * it even when the loop blocks SIGTERM for its signalfd.  Fault signals
 * (SIGSEGV, SIGABRT, ...) keep what a sanitizer installed. */
static const int fork_reset_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2,
};

/* In the forked child: become what proc_start() makes of a program.
 * Only async-signal-safe calls plus __fpurge (no locks in a
 * single-threaded process); any failure ends the child at once. */
static void
fork_child_setup(int wfd, const char *cwd)
{
	sigset_t mask;
	size_t i;
	int nul;

	setpgid(0, 0);
	for (i = 0; i < sizeof(fork_reset_signals) / sizeof(*fork_reset_signals); i++)
		signal(fork_reset_signals[i], SIG_DFL);
	sigemptyset(&mask);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	/* What the parent had buffered is the parent's to write. */
	__fpurge(stdout);
	__fpurge(stderr);
	if ((nul = open("/dev/null", O_RDONLY)) < 0 || dup2(nul, 0) < 0 ||
	    dup2(wfd, 1) < 0 || dup2(wfd, 2) < 0)
		_exit(126);
	/* Every descriptor of the parent: its listeners, clients, repository
	 * and state files.  fd_high() put wfd at 3 or above, so it is gone
	 * too, after the dup2 onto 1 and 2. */
	closefrom(3);
	if (cwd && chdir(cwd) != 0)
		_exit(126);
}

int
proc_fork(struct proc **out, proc_fn fn, void *arg, const struct proc_opts *o)
{
	static const struct proc_opts none;
	struct proc *p;
	int pfd[2] = { -1, -1 }, rc;
	pid_t pid;

	*out = NULL;
	if (!o)
		o = &none;
	if (o->env)
		return err_set(ERR_INVALID, "proc_fork: a forked child keeps the environment "
		    "(env must be NULL)");
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return err_set(ERR, "pipe: %s", strerror(errno));
	pfd[0] = fd_high(pfd[0]);
	pfd[1] = fd_high(pfd[1]);
	if (pfd[0] < 0 || pfd[1] < 0 || fcntl(pfd[0], F_SETFL, O_NONBLOCK) != 0) {
		rc = err_set(ERR, "fcntl: %s", strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		rc = err_set(ERR, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		fork_child_setup(pfd[1], o->cwd);
		rc = fn(arg);
		_exit(rc < 0 ? 1 : rc > 255 ? 255 : rc);
	}
	/* Both sides set the group, so it exists before either goes on: a
	 * timeout's kill(-pid) right away cannot miss the child. */
	setpgid(pid, pid);
	close(pfd[1]);
	p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->fd = pfd[0];
	p->start = log_now();
	p->grace_ms = o->grace_ms ? o->grace_ms : PROC_GRACE_MS;
	p->cap = o->output_cap ? o->output_cap : PROC_OUTPUT_CAP;
	if (o->timeout_ms)
		p->deadline = p->start + o->timeout_ms / 1000.0;
	*out = p;
	return OK;
fail:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	return rc;
}

int
proc_fd(const struct proc *p)
{
	return p->fd;
}

/* Keep the last `cap` bytes: drop from the front to make room. */
static void
keep_tail(struct proc *p, const char *d, size_t n)
{
	if (n >= p->cap) {
		p->dropped += p->out.len + (n - p->cap);
		buf_reset(&p->out);
		d += n - p->cap;
		n = p->cap;
	} else if (p->out.len + n > p->cap) {
		size_t drop = p->out.len + n - p->cap;

		memmove(p->out.data, p->out.data + drop, p->out.len - drop);
		p->out.len -= drop;
		p->out.data[p->out.len] = '\0';
		p->dropped += drop;
	}
	buf_append(&p->out, d, n);
}

static void
read_output(struct proc *p)
{
	char chunk[16384];
	ssize_t n;

	while (p->fd >= 0) {
		n = read(p->fd, chunk, sizeof(chunk));
		if (n > 0) {
			keep_tail(p, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* EOF, or an error that will not go away. */
		close(p->fd);
		p->fd = -1;
	}
}

/*
 * Reap the leader if it ended.  waitid(WNOWAIT) first: while the leader is
 * an unreaped zombie its pid cannot be reused, so killing its group
 * (whatever it left running, which holds our pipe open) cannot hit a
 * stranger.  Only then is it reaped.
 */
static void
check_leader(struct proc *p, int block)
{
	siginfo_t si;
	int r, st;

	if (p->reaped)
		return;
	memset(&si, 0, sizeof(si));
	do
		r = waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOWAIT | (block ? 0 : WNOHANG));
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		/* ECHILD: someone else reaped it (SIGCHLD ignored?). */
		p->reaped = 1;
		p->wstatus = -1;
		p->end = log_now();
		return;
	}
	if (si.si_pid != p->pid)
		return;
	kill(-p->pid, SIGKILL);
	do
		r = waitpid(p->pid, &st, 0);
	while (r < 0 && errno == EINTR);
	p->reaped = 1;
	p->wstatus = r == p->pid ? st : -1;
	p->end = log_now();
	p->drain_until = p->end + PROC_DRAIN_MS / 1000.0;
}

static int
proc_done(const struct proc *p)
{
	return p->reaped && p->fd < 0;
}

int
proc_poll(struct proc *p)
{
	double now;

	read_output(p);
	check_leader(p, 0);
	now = log_now();
	if (p->reaped && p->fd >= 0 && now >= p->drain_until) {
		/* Something that left our process group (setsid) still holds
		 * the pipe: stop listening rather than wait for it. */
		read_output(p);
		if (p->fd >= 0) {
			close(p->fd);
			p->fd = -1;
		}
	}
	if (!p->reaped && p->deadline > 0 && !p->term_sent && now >= p->deadline) {
		p->timed_out = 1;
		p->term_sent = 1;
		p->kill_at = now + p->grace_ms / 1000.0;
		kill(-p->pid, SIGTERM);
	}
	if (!p->reaped && p->term_sent && !p->kill_sent && now >= p->kill_at) {
		p->kill_sent = 1;
		kill(-p->pid, SIGKILL);
	}
	return proc_done(p);
}

static int
ms_until(double when, double now)
{
	double ms = (when - now) * 1000.0;

	if (ms <= 0)
		return 0;
	return ms > 1e9 ? 1000000000 : (int)ms + 1;
}

int
proc_timeout_ms(const struct proc *p)
{
	double now = log_now();
	int t;

	if (proc_done(p))
		return 0;
	if (p->reaped)
		return ms_until(p->drain_until, now);
	/* The output ended, so the leader is exiting: look again soon.
	 * Otherwise a slower tick notices a leader that ended while a child
	 * it left behind keeps the pipe open. */
	t = p->fd < 0 ? 5 : PROC_TICK_MS;
	if (p->deadline > 0 && !p->term_sent && ms_until(p->deadline, now) < t)
		t = ms_until(p->deadline, now);
	if (p->term_sent && !p->kill_sent && ms_until(p->kill_at, now) < t)
		t = ms_until(p->kill_at, now);
	return t;
}

void
proc_cancel(struct proc *p)
{
	if (p->reaped || p->term_sent)
		return;
	p->cancelled = 1;
	p->term_sent = 1;
	p->kill_at = log_now() + p->grace_ms / 1000.0;
	kill(-p->pid, SIGTERM);
}

void
proc_finish(struct proc_result *out, struct proc *p)
{
	memset(out, 0, sizeof(*out));
	if (!proc_done(p)) {
		read_output(p);
		if (!p->reaped) {
			p->cancelled = 1;
			kill(-p->pid, SIGKILL);
			check_leader(p, 1);
		}
		read_output(p);
		if (p->fd >= 0) {
			close(p->fd);
			p->fd = -1;
		}
	}
	if (p->wstatus >= 0 && WIFEXITED(p->wstatus)) {
		out->exited = 1;
		out->code = WEXITSTATUS(p->wstatus);
	} else if (p->wstatus >= 0 && WIFSIGNALED(p->wstatus)) {
		out->signo = WTERMSIG(p->wstatus);
	} else {
		out->exited = 1;
		out->code = -1;    /* unknown */
	}
	out->timed_out = p->timed_out;
	out->cancelled = p->cancelled;
	out->dropped = p->dropped;
	out->seconds = p->end - p->start;
	out->output = p->out;
	if (!out->output.data)
		buf_puts(&out->output, "");
	free(p);
}

int
proc_run(struct proc_result *out, const char *const argv[], const struct proc_opts *o)
{
	struct proc *p;
	struct pollfd pfd;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = proc_start(&p, argv, o)) != OK)
		return rc;
	while (!proc_poll(p)) {
		pfd.fd = proc_fd(p);
		pfd.events = POLLIN;
		pfd.revents = 0;
		poll(&pfd, pfd.fd >= 0 ? 1 : 0, proc_timeout_ms(p));
	}
	proc_finish(out, p);
	return OK;
}

int
proc_result_ok(const struct proc_result *r)
{
	return r->exited && r->code == 0 && !r->timed_out && !r->cancelled;
}

static const char *
sig_name(int signo, char *tmp, size_t n)
{
	const char *a = sigabbrev_np(signo);

	if (a)
		snprintf(tmp, n, "SIG%s", a);
	else
		snprintf(tmp, n, "signal %d", signo);
	return tmp;
}

void
proc_result_describe(struct buf *b, const struct proc_result *r)
{
	char sig[32];

	if (r->timed_out)
		buf_printf(b, "timed out after %.1f s (", r->seconds);
	else if (r->cancelled)
		buf_puts(b, "cancelled (");
	if (!r->exited)
		buf_printf(b, "killed by %s", sig_name(r->signo, sig, sizeof(sig)));
	else if (r->code < 0)
		buf_puts(b, "exit status unknown");
	else
		buf_printf(b, "exited with status %d", r->code);
	if (r->timed_out || r->cancelled)
		buf_putc(b, ')');
}

void
proc_result_dispose(struct proc_result *r)
{
	buf_dispose(&r->output);
}

long
proc_pid(const struct proc *p)
{
	return (long)p->pid;
}
