/*
 * fuzzenv.h - a small world for the fuzz targets that need one: a bare
 * git repository holding a tiny inventory (one commit on main) and a
 * state directory whose `applied` names that commit, with two stored
 * plans.  Made once per process in a fresh temporary directory, removed
 * at exit.  Only test code includes <git2.h> besides git/repo.c; here it
 * is only to create the repository.
 */
#ifndef FIREBREAK_FUZZENV_H
#define FIREBREAK_FUZZENV_H

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <git2.h>

#include "base/fs.h"
#include "git/repo.h"

struct fuzz_env {
	char dir[64];        /* the temporary directory */
	char repo[128];      /* <dir>/repo.git */
	char state[128];     /* <dir>/state */
	char head[REPO_SHA_LEN + 1];
	pid_t owner;         /* who removes it: not the replay's children */
};

static const char *const fuzz_env_files[][2] = {
	{ "policy.yaml", "auto: [pin.modify]\napprovers: {\"*\": [alice]}\n"
	  "commands: {deploy: [\"*\"], drain: [ops], provision: [ops], dns: [alice]}\n"
	  "groups: {ops: [alice, bob]}\nidentities: {\"slack:UALICE\": alice, \"irc:bob\": bob}\n" },
	{ "roles/web.yaml", "# Front-end web servers.\nclasses: [profile::base, profile::web]\n"
	  "params: {nginx_workers: 4}\nservices: [app]\ndns: [www]\n" },
	{ "services/app.yaml", "version: 1.4.2   # pinned\nenvironments: {staging: 1.5.0-rc1}\n" },
	{ "dns/example.com.yaml", "zone_id: Z1\nttl: 300\nrecords:\n"
	  "  - {name: mail, type: A, value: 10.0.3.25}\n" },
	{ "hosts/web-01.example.com.yaml", "role: web\nip: 10.0.1.5\n" },
	{ "hosts/spare-01.example.com.yaml", "state: spare\n" },
};

static const char fuzz_env_plan[] =
	"{\"id\": \"%d\", \"base\": null, \"target\": \"%s\", \"decision\": \"approve\", "
	"\"outcome\": \"%s\", \"hash\": \"00\", \"approvals_needed\": [\"enc\"], "
	"\"changes\": [{\"type\": \"enc.add\", \"artifact\": \"enc/web-01.example.com.yaml\", "
	"\"object\": \"web-01.example.com\", \"before\": null, \"after\": {\"role\": \"web\"}}], "
	"\"artifacts\": [], \"errors\": []}\n";

static struct fuzz_env fuzz_env;

static void
fuzz_env_cleanup(void)
{
	if (fuzz_env.dir[0] && fuzz_env.owner == getpid())
		fs_rm_rf(fuzz_env.dir);
}

/* Make the world once (aborts when it cannot: a fuzz target without its
 * world tests nothing). */
static struct fuzz_env *
fuzz_env_get(void)
{
	static const struct repo_ident who = { "fuzz", "fuzz@localhost" };
	struct repo_change ch[sizeof(fuzz_env_files) / sizeof(*fuzz_env_files)];
	git_repository *g = NULL;
	struct repo *r = NULL;
	char path[256], json[1024];
	size_t i;
	int n;

	if (fuzz_env.head[0])
		return &fuzz_env;
	fuzz_tmpdir(fuzz_env.dir, sizeof(fuzz_env.dir));
	fuzz_env.owner = getpid();
	atexit(fuzz_env_cleanup);
	snprintf(fuzz_env.repo, sizeof(fuzz_env.repo), "%s/repo.git", fuzz_env.dir);
	snprintf(fuzz_env.state, sizeof(fuzz_env.state), "%s/state", fuzz_env.dir);
	git_libgit2_init();
	if (git_repository_init(&g, fuzz_env.repo, 1) != 0)
		abort();
	git_repository_free(g);
	for (i = 0; i < sizeof(ch) / sizeof(*ch); i++) {
		ch[i].path = fuzz_env_files[i][0];
		ch[i].data = fuzz_env_files[i][1];
		ch[i].len = strlen(fuzz_env_files[i][1]);
	}
	if (repo_open(&r, fuzz_env.repo) != OK ||
	    repo_commit(r, NULL, ch, sizeof(ch) / sizeof(*ch), &who, "inventory\n",
	    fuzz_env.head) != OK ||
	    repo_update_ref(r, "refs/heads/main", NULL, fuzz_env.head, NULL) != OK)
		abort();
	repo_free(r);
	snprintf(path, sizeof(path), "%s/plans", fuzz_env.state);
	if (fs_mkdir_p(path, 0700) != OK)
		abort();
	for (i = 1; i <= 2; i++) {
		n = snprintf(json, sizeof(json), fuzz_env_plan, (int)i, fuzz_env.head,
		    i == 1 ? "applied" : "open");
		if (n < 0 || (size_t)n >= sizeof(json))
			abort();
		snprintf(path, sizeof(path), "%s/plans/%d.json", fuzz_env.state, (int)i);
		if (fs_write_atomic(path, json, (size_t)n) != OK)
			abort();
	}
	snprintf(path, sizeof(path), "%s/applied", fuzz_env.state);
	snprintf(json, sizeof(json), "%s\n", fuzz_env.head);
	if (fs_write_atomic(path, json, strlen(json)) != OK)
		abort();
	return &fuzz_env;
}

#endif
