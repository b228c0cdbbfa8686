/*
 * chatpost - drive the outbox from the shell, for the e2e tests: open an
 * outbox on a state directory with the `chat:` list of a YAML config
 * file, post each SUMMARY as one message, then run the outbox (its event
 * loop in miniature: poll the backends' descriptors, tick, run what is
 * due) until nothing is pending or the timeout passes.
 *
 *	chatpost -c CONFIG -s STATE [-p PLAN] [-u URL] [-a] [-b BODYFILE]
 *	         [-t SECONDS] [-n] [SUMMARY...]
 *
 *	-a   offer approve/discard       -n   post only, do not deliver
 *	-t   give up after this long (default 20 s)
 *
 * Prints "posted <n>" after each message is stored, and at the end
 * "delivered D pending P dead X" (and the last error, if any).  Exit 0
 * when nothing is pending, 1 when something still is, 2 usage, 3 when the
 * outbox cannot be opened or a post fails.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/util.h"
#include "model/ydoc.h"
#include "state/outbox.h"

static void
usage(void)
{
	fprintf(stderr, "usage: chatpost -c CONFIG -s STATE [-p PLAN] [-u URL] [-a] "
	    "[-b BODYFILE] [-t SECONDS] [-n] [SUMMARY...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *config = NULL, *state = NULL, *plan = NULL, *url = NULL, *bodyfile = NULL;
	struct buf cfgtext = BUF_INIT, body = BUF_INIT;
	struct ynode *root = NULL;
	struct outbox *ob = NULL;
	double timeout = 20, deadline;
	int actions = 0, post_only = 0, line, col, c, i, delivered = 0, rc = 0;

	while ((c = getopt(argc, argv, "c:s:p:u:ab:t:n")) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 's': state = optarg; break;
		case 'p': plan = optarg; break;
		case 'u': url = optarg; break;
		case 'a': actions = 1; break;
		case 'b': bodyfile = optarg; break;
		case 't': timeout = strtod(optarg, NULL); break;
		case 'n': post_only = 1; break;
		default: usage();
		}
	}
	if (!config || !state)
		usage();
	if (fs_read(&cfgtext, config, 1 << 20) != OK ||
	    ydoc_parse(&root, cfgtext.data ? cfgtext.data : "", cfgtext.len, NULL, &line, &col) != OK) {
		fprintf(stderr, "chatpost: %s: %s\n", config, err_last());
		return 3;
	}
	if (bodyfile && fs_read(&body, bodyfile, 16 << 20) != OK) {
		fprintf(stderr, "chatpost: %s\n", err_last());
		return 3;
	}
	if (outbox_open(&ob, state, ynode_get(root, "chat")) != OK) {
		fprintf(stderr, "chatpost: %s:%s\n", config, err_last());
		return 3;
	}
	for (i = optind; i < argc; i++) {
		if (outbox_post(ob, plan, argv[i], bodyfile ? body.data : NULL, url, actions) != OK) {
			fprintf(stderr, "chatpost: post: %s\n", err_last());
			rc = 3;
			goto out;
		}
		printf("posted %d\n", i - optind + 1);
		fflush(stdout);
	}
	deadline = log_now() + timeout;
	while (!post_only && outbox_depth(ob) > 0 && log_now() < deadline) {
		struct pollfd pfd[8];
		int fds[8], due, wait_ms;
		size_t n, k;

		outbox_tick(ob);
		delivered += outbox_run(ob);
		if (outbox_depth(ob) == 0)
			break;
		due = outbox_next_due(ob);
		/* Tick often: a fresh IRC connection registers within ms. */
		wait_ms = due < 0 || due > 0 ? 100 : 0;
		n = outbox_fds(ob, fds, 8);
		for (k = 0; k < n; k++) {
			pfd[k].fd = fds[k];
			pfd[k].events = POLLIN;
		}
		poll(pfd, n, wait_ms);
	}
	printf("delivered %d pending %zu dead %zu\n", delivered, outbox_depth(ob), outbox_dead(ob));
	if (outbox_last_error(ob))
		printf("last error: %s\n", outbox_last_error(ob));
	rc = outbox_depth(ob) > 0 ? 1 : 0;
out:
	outbox_close(ob);
	ynode_free(root);
	buf_dispose(&cfgtext);
	buf_dispose(&body);
	return rc;
}
