/*
 * geninv.c - generate an inventory repository (DESIGN.md schema v1) of any
 * size, for `make bench`.
 *
 *	geninv --hosts N --roles R --services S --zones Z [--seed X]
 *	       [--no-checkout] --out DIR
 *	geninv --change-one-host DIR
 *
 * The first form creates a non-bare git repository at DIR (branch main) with
 * one commit holding policy.yaml, hosts/, roles/, services/ and dns/.  It
 * does not write 100k files and `git add` them: it streams every blob into
 * one `git fast-import` child, which packs them directly, builds the trees
 * with `git mktree` and the commit with `git commit-tree` (see
 * cmd_generate() for why), and then, unless --no-checkout, lets `git reset
 * --hard` fill the work tree and the index so `git status` is clean.  At
 * 100k hosts that is about 2 s without the checkout; writing the 100k files
 * of the work tree costs more than the rest (4 s here).
 *
 * The second form adds ONE commit on top that changes one host's params
 * (the key `bench_rev` takes the number of commits so far), the "one-host
 * change" that the plan and apply benchmarks time.  It prints `host=<fqdn>`.
 *
 * Everything is deterministic: a seeded PRNG (splitmix64) decides, and the
 * author and committer dates are fixed, so the same arguments give the same
 * commit ids on every machine.
 *
 * What it makes (the generators are gen_zone(), gen_role(), ... below):
 *	zone	z07.bench.example: zone_id, ttl, MX/TXT at "@", an A and a CNAME
 *	host	h050000.z07.bench.example (always inside exactly one zone);
 *		ip 10.a.b.c unique per host; 90% active, 4% drained, 5% spare
 *		(no role), 1% decommissioned; a third name an environment;
 *		a few have classes or params
 *	role	lb000, api004, web008, ...: classes, 3-5 params, 1-4 services,
 *		a third have dns; lbNNN (one per 50 roles, 3 hosts each) have
 *		backends_of: apiNNN (12 hosts each), so `backends` stay short
 *	service	svc012: version, some environments overrides, some hiera_key
 *		profile::svc012::version (else the default svc012::version)
 *	env	production, staging, canary
 * The host in the middle of the sorted hosts/ listing (h050000 at 100k)
 * is active and has params {bench_rev: 0, workers: 8}; --change-one-host
 * edits exactly that host.
 *
 * git runs through posix_spawnp with an argv array and an environment
 * stripped of GIT_* variables (a GIT_DIR inherited from a hook would point
 * every command at the wrong repository).  No shell is involved.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_ENV = 3 };

/* Fixed dates keep commit ids reproducible. */
#define GEN_EPOCH 1700000000L
#define GEN_IDENT "geninv <geninv@bench.example>"

/* Cap on what we read back from git (an ls-tree of 10M hosts is ~400 MB). */
#define CAPTURE_CAP ((size_t)1 << 30)

/* Flush the fast-import stream once this much is buffered. */
#define STREAM_CHUNK ((size_t)1 << 20)

/* ---------------------------------------------------------------- utilities */

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void
die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("geninv: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		die(EXIT_FAIL, "out of memory (%zu bytes)", n);
	return q;
}

/* A growable byte buffer; `data` is NUL-terminated whenever len > 0. */
struct sbuf {
	char *data;
	size_t len, alloc;
};

static void
sb_reserve(struct sbuf *b, size_t extra)
{
	size_t need, n;

	if (extra > SIZE_MAX - b->len - 1)
		die(EXIT_FAIL, "buffer overflow");
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return;
	n = b->alloc ? b->alloc : 256;
	while (n < need)
		n = n > SIZE_MAX / 2 ? need : n * 2;
	b->data = xrealloc(b->data, n);
	b->alloc = n;
}

static void
sb_add(struct sbuf *b, const void *p, size_t n)
{
	sb_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
sb_puts(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	sb_reserve(b, 128);
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->alloc - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		die(EXIT_FAIL, "vsnprintf failed");
	if ((size_t)n >= b->alloc - b->len) {
		sb_reserve(b, (size_t)n);
		va_start(ap, fmt);
		n = vsnprintf(b->data + b->len, b->alloc - b->len, fmt, ap);
		va_end(ap);
		if (n < 0 || (size_t)n >= b->alloc - b->len)
			die(EXIT_FAIL, "vsnprintf failed");
	}
	b->len += (size_t)n;
}

static void
sb_free(struct sbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}

/* snprintf into a fixed array; a truncation is a programming error here. */
static void fmt_fixed(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
fmt_fixed(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		die(EXIT_FAIL, "internal: name too long");
}

/* Checked decimal parse: all of s, in [min, max]. */
static int
parse_count(uint64_t *out, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ------------------------------------------------------------------- PRNG */

/* splitmix64: tiny, fast, and the same sequence everywhere. */
static uint64_t rng_state;

static uint64_t
rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); the modulo bias is irrelevant for test data. */
static size_t
rng_below(size_t n)
{
	return n ? (size_t)(rng_next() % n) : 0;
}

/* ----------------------------------------------------------- running git */

static char **clean_env;

/* environ without GIT_* variables, so that `git -C DIR` means DIR. */
static void
env_init(void)
{
	size_t n = 0, k = 0;

	while (environ[n] != NULL)
		n++;
	clean_env = xrealloc(NULL, (n + 1) * sizeof *clean_env);
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "GIT_", 4) != 0)
			clean_env[k++] = environ[i];
	clean_env[k] = NULL;
}

struct child {
	pid_t pid;
	int to_child;    /* write end of the child's stdin, or -1 */
	int from_child;  /* read end of the child's stdout, or -1 */
};

/*
 * Start `argv` (argv[0] looked up in PATH).  With `pipe_in` the child's
 * stdin is a pipe we write, else /dev/null; with `pipe_out` its stdout is a
 * pipe we read, else ours.  stderr stays ours so git's messages are seen.
 */
static int
child_start(struct child *c, const char *const *argv, int pipe_in, int pipe_out,
    char *const *envp)
{
	posix_spawn_file_actions_t fa;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	char **args;
	size_t n, i;
	int rc;

	c->pid = -1;
	c->to_child = c->from_child = -1;
	if (pipe_in && pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe_out && pipe2(out, O_CLOEXEC) < 0) {
		if (pipe_in) {
			close(in[0]);
			close(in[1]);
		}
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	if (pipe_in)
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (pipe_out)
		posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	/* posix_spawnp() takes char *const[]: a writable copy, not a cast. */
	for (n = 0; argv[n]; n++)
		;
	args = xrealloc(NULL, (n + 1) * sizeof(*args));
	for (i = 0; i < n; i++)
		if (!(args[i] = strdup(argv[i])))
			die(EXIT_FAIL, "out of memory");
	args[n] = NULL;
	rc = posix_spawnp(&c->pid, argv[0], &fa, NULL, args, envp);
	for (i = 0; i < n; i++)
		free(args[i]);
	free(args);
	posix_spawn_file_actions_destroy(&fa);
	if (pipe_in)
		close(in[0]);
	if (pipe_out)
		close(out[1]);
	if (rc != 0) {
		if (pipe_in)
			close(in[1]);
		if (pipe_out)
			close(out[0]);
		errno = rc;
		return -1;
	}
	c->to_child = pipe_in ? in[1] : -1;
	c->from_child = pipe_out ? out[0] : -1;
	return 0;
}

/* Wait for the child; 0 when it exited 0, else -1 with a message printed. */
static int
child_finish(struct child *c, const char *what)
{
	int st;

	if (c->to_child >= 0)
		close(c->to_child);
	if (c->from_child >= 0)
		close(c->from_child);
	c->to_child = c->from_child = -1;
	while (waitpid(c->pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		fprintf(stderr, "geninv: %s exited %d\n", what, WEXITSTATUS(st));
	else
		fprintf(stderr, "geninv: %s killed by signal %d\n", what,
		    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return -1;
}

/* "git fast-import" -> "fast-import", for messages. */
static const char *
git_what(const char *const *argv)
{
	if (argv[1] != NULL && strcmp(argv[1], "-C") == 0 && argv[2] != NULL && argv[3] != NULL)
		return argv[3];
	return argv[1] != NULL ? argv[1] : argv[0];
}

static void
run_git(const char *const *argv)
{
	struct child c;

	if (child_start(&c, argv, 0, 0, clean_env) < 0)
		die(EXIT_ENV, "cannot run %s: %s", argv[0], strerror(errno));
	if (child_finish(&c, git_what(argv)) < 0)
		exit(EXIT_FAIL);
}

/* Run argv and return its stdout in *out (appended). */
static void
run_git_capture(struct sbuf *out, const char *const *argv)
{
	struct child c;
	char tmp[65536];

	if (child_start(&c, argv, 0, 1, clean_env) < 0)
		die(EXIT_ENV, "cannot run %s: %s", argv[0], strerror(errno));
	for (;;) {
		ssize_t n = read(c.from_child, tmp, sizeof tmp);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(EXIT_FAIL, "read from git: %s", strerror(errno));
		if (n == 0)
			break;
		if (out->len + (size_t)n > CAPTURE_CAP)
			die(EXIT_FAIL, "git output over %zu bytes", CAPTURE_CAP);
		sb_add(out, tmp, (size_t)n);
	}
	if (child_finish(&c, git_what(argv)) < 0)
		exit(EXIT_FAIL);
}

/* ----------------------------------------------------- fast-import stream */

struct stream {
	struct child git;
	struct sbuf buf;
};

static void
stream_flush(struct stream *s)
{
	if (s->buf.len == 0)
		return;
	if (write_all(s->git.to_child, s->buf.data, s->buf.len) < 0)
		die(EXIT_FAIL, "writing to git fast-import: %s", strerror(errno));
	s->buf.len = 0;
}

/* `marks`: NULL, or a --export-marks=FILE option (FILE relative to dir). */
static void
stream_open(struct stream *s, const char *dir, const char *marks, char *const *envp)
{
	const char *argv[] = { "git", "-C", dir, "fast-import", "--quiet", "--done", marks, NULL };

	memset(s, 0, sizeof *s);
	if (child_start(&s->git, argv, 1, 0, envp) < 0)
		die(EXIT_ENV, "cannot run git fast-import: %s", strerror(errno));
}

static void
stream_close(struct stream *s)
{
	sb_puts(&s->buf, "done\n");
	stream_flush(s);
	sb_free(&s->buf);
	if (child_finish(&s->git, "git fast-import") < 0)
		exit(EXIT_FAIL);
}

/* Start a commit on top of refs/heads/main ("^0": the branch exists already). */
static void
stream_commit(struct stream *s, long when, const char *msg)
{
	sb_printf(&s->buf, "commit refs/heads/main\n"
	    "author %s %ld +0000\ncommitter %s %ld +0000\ndata %zu\n%s\n"
	    "from refs/heads/main^0\n",
	    GEN_IDENT, when, GEN_IDENT, when, strlen(msg), msg);
}

static void
stream_file(struct stream *s, const char *path, const struct sbuf *content)
{
	sb_printf(&s->buf, "M 100644 inline %s\ndata %zu\n", path, content->len);
	sb_add(&s->buf, content->data ? content->data : "", content->len);
	sb_puts(&s->buf, "\n");
	if (s->buf.len >= STREAM_CHUNK)
		stream_flush(s);
}

/* ------------------------------------------------------------- the model */

enum host_state { ST_ACTIVE, ST_DRAINED, ST_SPARE, ST_DECOMMISSIONED };

struct gen {
	size_t nhosts, nroles, nservices, nzones;
	uint64_t seed;
	size_t nlb;           /* roles 0..nlb-1 are lb, nlb..2nlb-1 their api backends */
	size_t nsmall;        /* host slots reserved for lb and api roles */
	size_t stride;        /* every stride-th host (offset 1) is a small slot */
	int host_digits;
	char (*roles)[32];    /* role names by index */
	char (*zones)[32];    /* zone names by index */
};

/* Hosts per lb role and per api (backend) role: keeps `backends` short. */
#define LB_HOSTS  3
#define API_HOSTS 12

/* Kinds of the ordinary roles, cycled by index. */
static const char *const role_kinds[] = {
	"web", "app", "db", "cache", "worker", "queue", "search", "batch",
	"smtp", "ci", "metrics", "log",
};
#define NKINDS (sizeof role_kinds / sizeof role_kinds[0])

static const char *
role_kind(const struct gen *g, size_t r)
{
	if (r < g->nlb)
		return "lb";
	if (r < 2 * g->nlb)
		return "api";
	return role_kinds[r % NKINDS];
}

static void
gen_names(struct gen *g)
{
	size_t d = 6, n = g->nhosts > 0 ? g->nhosts - 1 : 0;
	size_t digits = 1;

	while (n >= 10) {
		n /= 10;
		digits++;
	}
	g->host_digits = (int)(digits > d ? digits : d);

	/* lb/api pairs only when there is room for them and ordinary roles. */
	g->nlb = g->nroles >= 3 ? g->nroles / 50 : 0;
	if (g->nroles >= 3 && g->nlb == 0)
		g->nlb = 1;
	g->nsmall = g->nlb * (LB_HOSTS + API_HOSTS);
	if (g->nsmall == 0 || g->nhosts < g->nsmall * 4) {
		g->nlb = 0;
		g->nsmall = 0;
	}
	g->stride = g->nsmall ? g->nhosts / g->nsmall : 0;

	g->roles = xrealloc(NULL, g->nroles * sizeof *g->roles);
	for (size_t r = 0; r < g->nroles; r++)
		fmt_fixed(g->roles[r], sizeof g->roles[r], "%s%03zu", role_kind(g, r), r);
	g->zones = xrealloc(NULL, g->nzones * sizeof *g->zones);
	for (size_t z = 0; z < g->nzones; z++)
		fmt_fixed(g->zones[z], sizeof g->zones[z], "z%02zu.bench.example", z);
}

/* ------------------------------------------------------------- documents */

static void
gen_policy(struct sbuf *d)
{
	sb_puts(d,
	    "# Generated by bench/geninv: who may do what, what applies by itself.\n"
	    "auto: [pin.modify, enc.modify]\n"
	    "observe: [dns.delete]\n"
	    "limits: {dns.delete: 5, enc.modify: 50}\n"
	    "approvers: {dns: [alice, bob], \"*\": [alice]}\n"
	    "commands: {deploy: [\"*\"], drain: [ops], provision: [ops], dns: [alice, bob]}\n"
	    "groups: {ops: [alice, bob, carol]}\n"
	    "identities: {\"slack:U024BE7LH\": alice, \"mattermost:8x3k\": bob, \"irc:carol\": carol}\n");
}

static void
gen_zone(struct sbuf *d, const struct gen *g, size_t z)
{
	const char *zn = g->zones[z];

	sb_printf(d, "# zone %s\n", zn);
	sb_printf(d, "zone_id: Z%02zuBENCH%07" PRIu64 "\n", z, rng_next() % 10000000);
	sb_printf(d, "ttl: %u\n", z % 4 == 3 ? 60u : 300u);
	sb_puts(d, "records:\n");
	sb_printf(d, "  - {name: \"@\", type: MX, values: [\"10 mx1.%s.\", \"20 mx2.%s.\"]}\n",
	    zn, zn);
	sb_printf(d, "  - {name: \"@\", type: TXT, value: \"v=spf1 mx -all\"}\n");
	sb_printf(d, "  - {name: mail, type: A, ttl: 3600, values: [10.255.%zu.25, 10.255.%zu.26]}\n",
	    z % 256, z % 256);
	sb_printf(d, "  - {name: docs, type: CNAME, value: docs.cdn-bench.example.}\n");
}

static void
gen_service(struct sbuf *d, size_t s)
{
	unsigned major = (unsigned)rng_below(5) + 1;
	unsigned minor = (unsigned)rng_below(20);
	unsigned patch = (unsigned)rng_below(30);
	size_t r = rng_below(100);

	sb_printf(d, "version: %u.%u.%u\n", major, minor, patch);
	if (r < 20)
		sb_printf(d, "environments: {staging: %u.%u.0-rc%u}\n",
		    major, minor + 1, (unsigned)rng_below(3) + 1);
	else if (r < 25)
		sb_printf(d, "environments: {staging: %u.%u.0-rc1, canary: %u.%u.%u}\n",
		    major, minor + 1, major, minor, patch + 1);
	if (rng_below(100) < 30)
		sb_printf(d, "hiera_key: profile::svc%03zu::version\n", s);
}

static void
gen_role(struct sbuf *d, const struct gen *g, size_t r)
{
	const char *name = g->roles[r], *kind = role_kind(g, r);
	size_t picks[4], npicks = 1 + rng_below(4);
	size_t nparams = 3 + rng_below(3), start = rng_below(7);

	sb_printf(d, "# role %s\n", name);
	sb_printf(d, "classes:\n  - profile::base\n  - profile::%s\n  - role::%s\n", kind, name);

	/* A few params from a pool of shapes Puppet modules take. */
	sb_puts(d, "params:\n");
	for (size_t i = 0; i < nparams; i++) {
		switch ((start + i) % 7) {
		case 0: sb_printf(d, "  workers: %zu\n", 1 + rng_below(32)); break;
		case 1: sb_printf(d, "  log_level: %s\n", rng_below(4) ? "info" : "warn"); break;
		case 2: sb_printf(d, "  tls: %s\n", rng_below(3) ? "true" : "false"); break;
		case 3: sb_printf(d, "  listen_port: %zu\n", 8000 + r); break;
		case 4: sb_puts(d, "  ntp_servers: [ntp1.bench.example, ntp2.bench.example]\n"); break;
		case 5: sb_printf(d, "  limits:\n    nofile: %zu\n    nproc: 4096\n",
			    (size_t)1024 << rng_below(7)); break;
		default: sb_printf(d, "  motd: \"Managed by Puppet: %s\"\n", name); break;
		}
	}

	if (g->nservices > 0) {
		if (npicks > g->nservices)
			npicks = g->nservices;
		for (size_t i = 0; i < npicks; i++) {
			size_t s;
			int dup;

			do {
				s = rng_below(g->nservices);
				dup = 0;
				for (size_t j = 0; j < i; j++)
					dup |= picks[j] == s;
			} while (dup);
			picks[i] = s;
		}
		sb_puts(d, "services: [");
		for (size_t i = 0; i < npicks; i++)
			sb_printf(d, "%ssvc%03zu", i ? ", " : "", picks[i]);
		sb_puts(d, "]\n");
	}

	if (r < g->nlb || rng_below(3) == 0)
		sb_printf(d, "dns: [%s]\n", name);
	if (r < g->nlb)
		sb_printf(d, "backends_of: %s\n", g->roles[g->nlb + r]);
	else if (r >= 2 * g->nlb && rng_below(20) == 0)
		sb_puts(d, "environment: staging\n");
}

/* The host in the middle of the sorted listing: --change-one-host edits it. */
static size_t
canary_index(const struct gen *g)
{
	return g->nhosts / 2;
}

static void
gen_host(struct sbuf *d, char *fqdn, size_t fqdn_size, const struct gen *g, size_t i)
{
	size_t z = rng_below(g->nzones);
	size_t role, r;
	enum host_state st;
	const char *env = NULL;

	fmt_fixed(fqdn, fqdn_size, "h%0*zu.%s", g->host_digits, i, g->zones[z]);

	/* lb and api roles take every stride-th host until they are full. */
	if (g->nsmall && i % g->stride == 1 && i / g->stride < g->nsmall) {
		size_t slot = i / g->stride;

		role = slot < g->nlb * LB_HOSTS ? slot / LB_HOSTS
		    : g->nlb + (slot - g->nlb * LB_HOSTS) / API_HOSTS;
	} else {
		role = 2 * g->nlb + rng_below(g->nroles - 2 * g->nlb);
	}

	r = rng_below(1000);
	st = r < 900 ? ST_ACTIVE : r < 940 ? ST_DRAINED : r < 990 ? ST_SPARE : ST_DECOMMISSIONED;
	r = rng_below(100);
	if (r < 25)
		env = "production";
	else if (r < 33)
		env = "staging";
	else if (r < 35)
		env = "canary";

	if (i == canary_index(g)) {
		st = ST_ACTIVE;
		env = NULL;
	}

	if (rng_below(50) == 0)
		sb_printf(d, "# rack r%02zu, asset %06zu\n", rng_below(40), i);
	if (st != ST_SPARE)
		sb_printf(d, "role: %s\n", g->roles[role]);
	if (env != NULL && st != ST_SPARE)
		sb_printf(d, "environment: %s\n", env);
	/* 250 addresses per /24, skipping .0 and .251-.255: unique up to 16M hosts. */
	sb_printf(d, "ip: 10.%zu.%zu.%zu\n", i / (250 * 256), (i / 250) % 256, i % 250 + 1);
	sb_printf(d, "state: %s\n", st == ST_ACTIVE ? "active" : st == ST_DRAINED ? "drained"
	    : st == ST_SPARE ? "spare" : "decommissioned");
	if (st == ST_SPARE)
		return;
	r = rng_below(100);
	if (r < 3)
		sb_puts(d, "classes: [profile::debug]\n");
	else if (r < 4)
		sb_puts(d, "classes: [profile::debug, profile::tcpdump]\n");
	if (i == canary_index(g)) {
		sb_puts(d, "params: {bench_rev: 0, workers: 8}\n");
		return;
	}
	r = rng_below(100);
	if (r < 3)
		sb_printf(d, "params: {workers: %zu}\n", 2 + rng_below(62));
	else if (r < 5)
		sb_puts(d, "params: {log_level: debug, tls: false}\n");
}

/* ------------------------------------------------------------- commands */

static int
dir_missing_or_empty(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	int empty = 1;

	if (dp == NULL)
		return errno == ENOENT;
	while ((e = readdir(dp)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	closedir(dp);
	return empty;
}

static void
print_head(const char *dir, const char *prefix)
{
	const char *argv[] = { "git", "-C", dir, "rev-parse", "HEAD", NULL };
	struct sbuf out = { 0 };

	run_git_capture(&out, argv);
	printf("%shead=%s", prefix, out.len ? out.data : "\n");
	sb_free(&out);
}

/*
 * The first commit is built in two steps because fast-import keeps a
 * tree's entries in an array and scans it on every `M` command: 100k files
 * in hosts/ would cost 100k^2/2 name comparisons (40 s).  So fast-import
 * only stores the blobs (with marks, exported to a file), `git mktree`
 * (which sorts) makes each directory's tree from the marks, and
 * `git commit-tree` + `git update-ref` make the commit.  All linear.
 */
enum { DIR_ROOT, DIR_DNS, DIR_HOSTS, DIR_ROLES, DIR_SERVICES, NDIRS };
static const char *const dir_names[NDIRS] = { "", "dns", "hosts", "roles", "services" };

struct file {
	unsigned char dir;      /* DIR_* */
	char name[64];          /* within its directory */
	char oid[72];           /* hex object id, from the marks file */
};

struct filelist {
	struct file *v;
	size_t n, alloc;
};

/* Record a file and send its blob; its mark is its index + 1. */
static void
add_file(struct filelist *fl, struct stream *s, int dir, const char *name,
    const struct sbuf *content)
{
	struct file *f;

	if (fl->n == fl->alloc) {
		fl->alloc = fl->alloc ? fl->alloc * 2 : 1024;
		fl->v = xrealloc(fl->v, fl->alloc * sizeof *fl->v);
	}
	f = &fl->v[fl->n++];
	f->dir = (unsigned char)dir;
	fmt_fixed(f->name, sizeof f->name, "%s", name);
	f->oid[0] = '\0';
	sb_printf(&s->buf, "blob\nmark :%zu\ndata %zu\n", fl->n, content->len);
	sb_add(&s->buf, content->data ? content->data : "", content->len);
	sb_puts(&s->buf, "\n");
	if (s->buf.len >= STREAM_CHUNK)
		stream_flush(s);
}

static int
is_oid(const char *p, size_t n)
{
	if (n != 40 && n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

/* Read ":<mark> <oid>" lines written by fast-import --export-marks. */
static void
read_marks(struct filelist *fl, const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL, *sp;
	size_t cap = 0;
	ssize_t n;
	uint64_t mark;

	if (fp == NULL)
		die(EXIT_FAIL, "%s: %s", path, strerror(errno));
	while ((n = getline(&line, &cap, fp)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		sp = strchr(line, ' ');
		if (line[0] != ':' || sp == NULL)
			die(EXIT_FAIL, "%s: bad line \"%s\"", path, line);
		*sp = '\0';
		if (parse_count(&mark, line + 1, 1, fl->n) < 0 || !is_oid(sp + 1, strlen(sp + 1)))
			die(EXIT_FAIL, "%s: bad mark line", path);
		fmt_fixed(fl->v[mark - 1].oid, sizeof fl->v[mark - 1].oid, "%s", sp + 1);
	}
	free(line);
	fclose(fp);
	for (size_t i = 0; i < fl->n; i++)
		if (fl->v[i].oid[0] == '\0')
			die(EXIT_FAIL, "%s: no mark for %s", path, fl->v[i].name);
}

/*
 * Run `git mktree` (or another command printing one object id) with `input`
 * on its stdin; the id goes to oid.  The command reads all of its input
 * before it writes, so writing everything and then reading cannot deadlock.
 */
static void
run_git_oid(const char *const *argv, char *const *envp, const struct sbuf *input,
    char *oid, size_t oid_size)
{
	struct child c;
	struct sbuf out = { 0 };
	char tmp[256];

	if (child_start(&c, argv, input != NULL, 1, envp) < 0)
		die(EXIT_ENV, "cannot run git: %s", strerror(errno));
	if (input != NULL) {
		if (write_all(c.to_child, input->data ? input->data : "", input->len) < 0)
			die(EXIT_FAIL, "writing to git %s: %s", git_what(argv), strerror(errno));
		close(c.to_child);
		c.to_child = -1;
	}
	for (;;) {
		ssize_t n = read(c.from_child, tmp, sizeof tmp);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(EXIT_FAIL, "read from git: %s", strerror(errno));
		if (n == 0)
			break;
		if (out.len + (size_t)n > 4096)
			die(EXIT_FAIL, "git %s: unexpected output", git_what(argv));
		sb_add(&out, tmp, (size_t)n);
	}
	if (child_finish(&c, git_what(argv)) < 0)
		exit(EXIT_FAIL);
	if (out.len > 0 && out.data[out.len - 1] == '\n')
		out.data[--out.len] = '\0';
	if (!is_oid(out.data ? out.data : "", out.len))
		die(EXIT_FAIL, "git %s printed no object id", git_what(argv));
	fmt_fixed(oid, oid_size, "%s", out.data);
	sb_free(&out);
}

static void
make_tree(const char *dir, const struct sbuf *listing, char *oid, size_t oid_size)
{
	const char *argv[] = { "git", "-C", dir, "mktree", NULL };

	run_git_oid(argv, clean_env, listing, oid, oid_size);
}

/* The commit identity and date travel in the environment of commit-tree. */
static char **
commit_env(long when)
{
	static char date[64];
	static char an[] = "GIT_AUTHOR_NAME=geninv", ae[] = "GIT_AUTHOR_EMAIL=geninv@bench.example",
	    cn[] = "GIT_COMMITTER_NAME=geninv", ce[] = "GIT_COMMITTER_EMAIL=geninv@bench.example";
	static char *extra[] = { an, ae, cn, ce, NULL, NULL, NULL };
	static char adate[80], cdate[80];
	size_t n = 0, k = 0;
	char **env;

	fmt_fixed(date, sizeof date, "%ld +0000", when);
	fmt_fixed(adate, sizeof adate, "GIT_AUTHOR_DATE=%s", date);
	fmt_fixed(cdate, sizeof cdate, "GIT_COMMITTER_DATE=%s", date);
	extra[4] = adate;
	extra[5] = cdate;
	while (clean_env[n] != NULL)
		n++;
	env = xrealloc(NULL, (n + 7) * sizeof *env);
	for (size_t i = 0; i < n; i++)
		env[k++] = clean_env[i];
	for (size_t i = 0; extra[i] != NULL; i++)
		env[k++] = extra[i];
	env[k] = NULL;
	return env;
}

/*
 * fast-import deflates every object with a fresh zlib stream; glibc returns
 * the freed ~256 KiB to the kernel each time (brk up, brk down), which is a
 * third of the run at 100k blobs.  A high trim threshold keeps the memory.
 * Other C libraries ignore the variable; a user's own setting wins.
 */
static char **
fast_import_env(void)
{
	static char tunables[] =
	    "GLIBC_TUNABLES=glibc.malloc.trim_threshold=536870912:glibc.malloc.mmap_threshold=33554432";
	size_t n = 0, k = 0;
	int have = 0;
	char **env;

	while (clean_env[n] != NULL)
		have |= strncmp(clean_env[n++], "GLIBC_TUNABLES=", 15) == 0;
	env = xrealloc(NULL, (n + 2) * sizeof *env);
	for (size_t i = 0; i < n; i++)
		env[k++] = clean_env[i];
	if (!have)
		env[k++] = tunables;
	env[k] = NULL;
	return env;
}

static int
cmd_generate(struct gen *g, const char *dir, int checkout)
{
	struct stream s;
	struct filelist fl = { 0 };
	struct sbuf doc = { 0 }, msg = { 0 }, listing = { 0 };
	char name[96], marks[4096], trees[NDIRS][72], root[72], commit[72];
	char **env;

	if (!dir_missing_or_empty(dir))
		die(EXIT_USAGE, "%s exists and is not empty", dir);
	{
		const char *argv[] = { "git", "init", "-q", "-b", "main", dir, NULL };

		run_git(argv);
	}
	fmt_fixed(marks, sizeof marks, "%s/.git/geninv-marks", dir);

	rng_state = g->seed;
	gen_names(g);

	/* 1. Every blob, through fast-import. */
	env = fast_import_env();
	stream_open(&s, dir, "--export-marks=.git/geninv-marks", env);
	free(env);
	gen_policy(&doc);
	add_file(&fl, &s, DIR_ROOT, "policy.yaml", &doc);
	for (size_t z = 0; z < g->nzones; z++) {
		doc.len = 0;
		gen_zone(&doc, g, z);
		fmt_fixed(name, sizeof name, "%s.yaml", g->zones[z]);
		add_file(&fl, &s, DIR_DNS, name, &doc);
	}
	for (size_t i = 0; i < g->nservices; i++) {
		doc.len = 0;
		gen_service(&doc, i);
		fmt_fixed(name, sizeof name, "svc%03zu.yaml", i);
		add_file(&fl, &s, DIR_SERVICES, name, &doc);
	}
	for (size_t r = 0; r < g->nroles; r++) {
		doc.len = 0;
		gen_role(&doc, g, r);
		fmt_fixed(name, sizeof name, "%s.yaml", g->roles[r]);
		add_file(&fl, &s, DIR_ROLES, name, &doc);
	}
	for (size_t i = 0; i < g->nhosts; i++) {
		char fqdn[96];

		doc.len = 0;
		gen_host(&doc, fqdn, sizeof fqdn, g, i);
		fmt_fixed(name, sizeof name, "%s.yaml", fqdn);
		add_file(&fl, &s, DIR_HOSTS, name, &doc);
	}
	stream_close(&s);
	read_marks(&fl, marks);
	unlink(marks);

	/* 2. One tree per directory, then the root tree. */
	for (int d = 1; d < NDIRS; d++) {
		listing.len = 0;
		for (size_t i = 0; i < fl.n; i++)
			if (fl.v[i].dir == d)
				sb_printf(&listing, "100644 blob %s\t%s\n", fl.v[i].oid, fl.v[i].name);
		make_tree(dir, &listing, trees[d], sizeof trees[d]);
	}
	listing.len = 0;
	for (size_t i = 0; i < fl.n; i++)
		if (fl.v[i].dir == DIR_ROOT)
			sb_printf(&listing, "100644 blob %s\t%s\n", fl.v[i].oid, fl.v[i].name);
	for (int d = 1; d < NDIRS; d++)
		sb_printf(&listing, "040000 tree %s\t%s\n", trees[d], dir_names[d]);
	make_tree(dir, &listing, root, sizeof root);

	/* 3. The commit, and the branch pointing at it. */
	sb_printf(&msg, "geninv: %zu hosts, %zu roles, %zu services, %zu zones (seed %" PRIu64 ")\n",
	    g->nhosts, g->nroles, g->nservices, g->nzones, g->seed);
	env = commit_env(GEN_EPOCH);
	{
		const char *argv[] = { "git", "-C", dir, "commit-tree", root, NULL };

		run_git_oid(argv, env, &msg, commit, sizeof commit);
	}
	free(env);
	{
		const char *argv[] = { "git", "-C", dir, "update-ref", "refs/heads/main", commit, NULL };

		run_git(argv);
	}

	if (checkout) {
		const char *argv[] = { "git", "-C", dir, "reset", "-q", "--hard", NULL };

		run_git(argv);
	}
	printf("out=%s hosts=%zu roles=%zu services=%zu zones=%zu lb_roles=%zu head=%s\n",
	    dir, g->nhosts, g->nroles, g->nservices, g->nzones, g->nlb, commit);
	free(fl.v);
	sb_free(&doc);
	sb_free(&msg);
	sb_free(&listing);
	free(g->roles);
	free(g->zones);
	return EXIT_OK;
}

/* Does the host document say `state: active` and name a role? */
static int
host_is_active(const char *doc)
{
	return strstr(doc, "\nstate: active\n") != NULL
	    && (strncmp(doc, "role: ", 6) == 0 || strstr(doc, "\nrole: ") != NULL);
}

/*
 * The new text of a host document with params.bench_rev = rev: rewrite the
 * value if the key is there, else add the key to the flow map, else add a
 * params line.  Hosts from geninv write params as one flow-map line.
 */
static void
edit_host(struct sbuf *out, const char *doc, size_t len, uint64_t rev)
{
	const char *p = strstr(doc, "params: {");
	const char *lineend, *key;

	if (p != NULL && p != doc && p[-1] != '\n')
		p = NULL;
	if (p == NULL) {
		sb_add(out, doc, len);
		if (len > 0 && doc[len - 1] != '\n')
			sb_puts(out, "\n");
		sb_printf(out, "params: {bench_rev: %" PRIu64 "}\n", rev);
		return;
	}
	lineend = strchr(p, '\n');
	if (lineend == NULL)
		lineend = doc + len;
	key = strstr(p, "bench_rev: ");
	if (key != NULL && key < lineend) {
		const char *v = key + strlen("bench_rev: ");

		while (*v >= '0' && *v <= '9')
			v++;
		sb_add(out, doc, (size_t)(key - doc));
		sb_printf(out, "bench_rev: %" PRIu64, rev);
		sb_add(out, v, len - (size_t)(v - doc));
	} else {
		const char *brace = p + strlen("params: {");

		sb_add(out, doc, (size_t)(brace - doc));
		sb_printf(out, "bench_rev: %" PRIu64 ", ", rev);
		sb_add(out, brace, len - (size_t)(brace - doc));
	}
}

static int
cmd_change_one_host(const char *dir)
{
	struct sbuf list = { 0 }, doc = { 0 }, newdoc = { 0 }, count = { 0 }, msg = { 0 };
	struct stream s;
	char **names = NULL;
	size_t n = 0, alloc = 0, pick = (size_t)-1;
	uint64_t rev;
	char path[1024], spec[1100], fqdn[1024];
	struct stat sb;

	{
		const char *argv[] = { "git", "-C", dir, "rev-list", "--count", "HEAD", NULL };

		run_git_capture(&count, argv);
		if (count.len > 0 && count.data[count.len - 1] == '\n')
			count.data[--count.len] = '\0';
		if (parse_count(&rev, count.data ? count.data : "", 1, UINT64_MAX / 2) < 0)
			die(EXIT_FAIL, "%s: cannot count commits", dir);
	}
	{
		const char *argv[] = { "git", "-C", dir, "ls-tree", "--name-only", "HEAD:hosts", NULL };

		run_git_capture(&list, argv);
	}
	for (char *p = list.data, *nl; p != NULL && *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 1024;
			names = xrealloc(names, alloc * sizeof *names);
		}
		names[n++] = p;
	}
	if (n == 0)
		die(EXIT_FAIL, "%s: no hosts/ in HEAD", dir);

	/* From the middle of the sorted listing, the first active host. */
	for (size_t k = 0; k < n && k < 1000; k++) {
		size_t i = (n / 2 + k) % n;
		const char *argv[] = { "git", "-C", dir, "cat-file", "blob", spec, NULL };

		fmt_fixed(spec, sizeof spec, "HEAD:hosts/%s", names[i]);
		doc.len = 0;
		run_git_capture(&doc, argv);
		if (doc.len > 0 && host_is_active(doc.data)) {
			pick = i;
			break;
		}
	}
	if (pick == (size_t)-1)
		die(EXIT_FAIL, "%s: no active host near the middle of hosts/", dir);

	fmt_fixed(path, sizeof path, "hosts/%s", names[pick]);
	fmt_fixed(fqdn, sizeof fqdn, "%s", names[pick]);
	if (strlen(fqdn) > 5 && strcmp(fqdn + strlen(fqdn) - 5, ".yaml") == 0)
		fqdn[strlen(fqdn) - 5] = '\0';
	edit_host(&newdoc, doc.data, doc.len, rev);

	stream_open(&s, dir, NULL, clean_env);
	sb_printf(&msg, "bench: %s params bench_rev=%" PRIu64, fqdn, rev);
	stream_commit(&s, GEN_EPOCH + (long)rev * 60, msg.data);
	stream_file(&s, path, &newdoc);
	stream_close(&s);

	/* Keep a checked-out work tree in step (one file to touch). */
	fmt_fixed(spec, sizeof spec, "%s/.git/index", dir);
	if (stat(spec, &sb) == 0) {
		const char *argv[] = { "git", "-C", dir, "reset", "-q", "--hard", NULL };

		run_git(argv);
	}
	printf("host=%s ", fqdn);
	print_head(dir, "");

	free(names);
	sb_free(&list);
	sb_free(&doc);
	sb_free(&newdoc);
	sb_free(&count);
	sb_free(&msg);
	return EXIT_OK;
}

static void
usage(void)
{
	fputs("usage: geninv --hosts N --roles R --services S --zones Z [--seed X]\n"
	    "              [--no-checkout] --out DIR\n"
	    "       geninv --change-one-host DIR\n", stderr);
	exit(EXIT_USAGE);
}

static uint64_t
opt_count(const char *opt, const char *val, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (parse_count(&v, val, min, max) < 0)
		die(EXIT_USAGE, "%s wants a number in [%" PRIu64 ", %" PRIu64 "], not \"%s\"",
		    opt, min, max, val ? val : "");
	return v;
}

int
main(int argc, char **argv)
{
	struct gen g = { .seed = 1 };
	const char *out = NULL, *change = NULL;
	int checkout = 1, have = 0;

	signal(SIGPIPE, SIG_IGN);
	env_init();
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--hosts") == 0) {
			g.nhosts = opt_count(a, v, 1, 16000000);
			have |= 1;
			i++;
		} else if (strcmp(a, "--roles") == 0) {
			g.nroles = opt_count(a, v, 1, 999999);
			have |= 2;
			i++;
		} else if (strcmp(a, "--services") == 0) {
			g.nservices = opt_count(a, v, 1, 999999);
			have |= 4;
			i++;
		} else if (strcmp(a, "--zones") == 0) {
			g.nzones = opt_count(a, v, 1, 256);
			have |= 8;
			i++;
		} else if (strcmp(a, "--seed") == 0) {
			g.seed = opt_count(a, v, 0, UINT64_MAX);
			i++;
		} else if (strcmp(a, "--out") == 0 && v != NULL) {
			out = v;
			i++;
		} else if (strcmp(a, "--change-one-host") == 0 && v != NULL) {
			change = v;
			i++;
		} else if (strcmp(a, "--no-checkout") == 0) {
			checkout = 0;
		} else {
			usage();
		}
	}
	if (change != NULL) {
		if (out != NULL || have != 0)
			usage();
		return cmd_change_one_host(change);
	}
	if (out == NULL || have != 15)
		usage();
	return cmd_generate(&g, out, checkout);
}
