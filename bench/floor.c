/*
 * floor.c - the cost floor of `make bench`: what merely reading every blob
 * of a commit with libgit2 and running libyaml's event parser over each
 * *.yaml blob costs, building nothing.
 *
 *	floor [-v] [--rev REV] REPO
 *
 * Prints the elapsed wall time in seconds (CLOCK_MONOTONIC, from before
 * libgit2 is initialised to the last event of the last blob) on stdout.
 * With -v it also prints the number of trees, blobs, bytes and YAML events
 * on stderr.  A blob that libyaml rejects is an error (exit 1, with the
 * path and libyaml's message), so the floor doubles as a syntax check of a
 * generated inventory.
 *
 * libgit2 runs with its defaults (object hash verification on, no blob
 * caching), which is what firebreak gets unless it changes them.
 *
 * Exit codes as firebreak's: 0 ok, 1 bad input, 2 usage, 3 environment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <git2.h>
#include <yaml.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_ENV = 3 };

struct floor_stats {
	git_repository *repo;
	size_t trees, blobs, yaml_blobs;
	unsigned long long bytes, events;
	int failed;            /* exit code to return, once set */
};

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
has_yaml_suffix(const char *name)
{
	size_t n = strlen(name);

	return n >= 5 && memcmp(name + n - 5, ".yaml", 5) == 0;
}

/* Run libyaml's event parser to STREAM_END; 0 or -1 with a message printed. */
static int
parse_events(struct floor_stats *st, const char *path, const unsigned char *data, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int done = 0, rc = 0;

	if (!yaml_parser_initialize(&parser)) {
		fprintf(stderr, "floor: yaml_parser_initialize failed\n");
		return -1;
	}
	yaml_parser_set_input_string(&parser, data, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			fprintf(stderr, "floor: %s:%zu:%zu: %s\n", path,
			    parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			    parser.problem ? parser.problem : "YAML error");
			rc = -1;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		st->events++;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return rc;
}

static int
visit(const char *root, const git_tree_entry *entry, void *payload)
{
	struct floor_stats *st = payload;
	const char *name = git_tree_entry_name(entry);
	git_blob *blob = NULL;
	const void *data;
	size_t len;

	if (git_tree_entry_type(entry) == GIT_OBJECT_TREE) {
		st->trees++;
		return 0;
	}
	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB)
		return 0;   /* submodules: nothing to read */
	if (git_blob_lookup(&blob, st->repo, git_tree_entry_id(entry)) < 0) {
		const git_error *e = git_error_last();

		fprintf(stderr, "floor: %s%s: %s\n", root, name, e ? e->message : "cannot read blob");
		st->failed = EXIT_FAIL;
		return -1;
	}
	data = git_blob_rawcontent(blob);
	len = (size_t)git_blob_rawsize(blob);
	st->blobs++;
	st->bytes += len;
	if (has_yaml_suffix(name)) {
		char path[4096];
		int n = snprintf(path, sizeof path, "%s%s", root, name);

		if (n < 0 || (size_t)n >= sizeof path)
			path[0] = '\0';
		st->yaml_blobs++;
		if (parse_events(st, path, data, len) < 0) {
			git_blob_free(blob);
			st->failed = EXIT_FAIL;
			return -1;
		}
	}
	git_blob_free(blob);
	return 0;
}

static void
usage(void)
{
	fputs("usage: floor [-v] [--rev REV] REPO\n", stderr);
	exit(EXIT_USAGE);
}

int
main(int argc, char **argv)
{
	struct floor_stats st = { 0 };
	const char *rev = "HEAD", *path = NULL;
	git_object *obj = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	int verbose = 0, rc = EXIT_OK;
	double t0, t1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0)
			verbose = 1;
		else if (strcmp(argv[i], "--rev") == 0 && i + 1 < argc)
			rev = argv[++i];
		else if (argv[i][0] != '-' && path == NULL)
			path = argv[i];
		else
			usage();
	}
	if (path == NULL)
		usage();

	t0 = now_seconds();
	git_libgit2_init();
	if (git_repository_open(&st.repo, path) < 0) {
		rc = EXIT_ENV;
		goto fail;
	}
	if (git_revparse_single(&obj, st.repo, rev) < 0
	    || git_object_peel((git_object **)&commit, obj, GIT_OBJECT_COMMIT) < 0
	    || git_commit_tree(&tree, commit) < 0) {
		rc = EXIT_FAIL;
		goto fail;
	}
	if (git_tree_walk(tree, GIT_TREEWALK_PRE, visit, &st) < 0) {
		rc = st.failed ? st.failed : EXIT_FAIL;
		goto fail;
	}
	t1 = now_seconds();

	printf("%.6f\n", t1 - t0);
	if (verbose)
		fprintf(stderr, "floor: %s %s: %zu trees, %zu blobs (%zu yaml), %llu bytes, %llu events\n",
		    path, rev, st.trees, st.blobs, st.yaml_blobs, st.bytes, st.events);
	goto out;

fail:
	if (!st.failed) {
		const git_error *e = git_error_last();

		fprintf(stderr, "floor: %s: %s\n", path, e ? e->message : "failed");
	}
out:
	git_tree_free(tree);
	git_commit_free(commit);
	git_object_free(obj);
	git_repository_free(st.repo);
	git_libgit2_shutdown();
	return rc;
}
