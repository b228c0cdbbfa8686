/*
 * console.c - chat on a terminal or in a log file: one line per message.
 *
 *	chat:
 *	  - {type: console, path: /var/log/firebreak/chat.log}   # "-": stdout
 *
 * A line is the summary, then " — approve 17 / discard 17" when the plan
 * waits for an approver, then " — <url>" when there is one, then the
 * outbox id as " [msg 42]":
 *
 *	plan 17 for a1b2c3d "drain web-02" by alice: 1 dns.modify -> approve — approve 17 / discard 17 — http://127.0.0.1:8088/plans/17 [msg 42]
 *
 * Control characters (CR, LF, ESC, ...) never reach the file: a commit
 * subject cannot forge a second line or drive the terminal.  The file is
 * opened with O_APPEND for each message, so logrotate's move-and-create
 * needs no signal.  Before writing, the file's last 64 KiB are searched for
 * the message's id: a message the outbox re-sends after a crash (written,
 * but not yet marked delivered) is not written twice.  stdout has no such
 * check.
 */
#include "base/fs.h"
#include "providers/chat/chat.h"
#include "providers/chat/chat_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONSOLE_SUMMARY_MAX 4000
#define CONSOLE_TAIL (64 * 1024)

struct console {
	char *path;     /* NULL: stdout */
};

static int
console_open(void **out, const struct ynode *cfg)
{
	static const char *const keys[] = { "path", NULL };
	struct console *c;
	const char *path;
	int rc;

	*out = NULL;
	if ((rc = chat_cfg_keys(cfg, keys)) != OK ||
	    (rc = chat_cfg_str(&path, cfg, "path", 1)) != OK)
		return rc;
	c = xcalloc(1, sizeof(*c));
	if (strcmp(path, "-") != 0)
		c->path = xstrdup(path);
	*out = c;
	return OK;
}

/* Is "<marker>" already in the last CONSOLE_TAIL bytes of the file? */
static int
already_written(int fd, const char *marker)
{
	struct stat st;
	char *tail;
	off_t off;
	size_t want, got = 0;
	int found;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
		return 0;
	want = st.st_size > CONSOLE_TAIL ? CONSOLE_TAIL : (size_t)st.st_size;
	off = st.st_size - (off_t)want;
	tail = xmalloc(want);
	while (got < want) {
		ssize_t n = pread(fd, tail + got, want - got, off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	found = memmem(tail, got, marker, strlen(marker)) != NULL;
	free(tail);
	return found;
}

static int
console_post(void *st, const struct chat_message *m, char **thread_out,
    unsigned *retry_after)
{
	struct console *c = st;
	struct buf line = BUF_INIT, marker = BUF_INIT;
	int fd = 1, rc = OK;

	*thread_out = NULL;
	*retry_after = 0;
	chat_put_oneline(&line, m->summary ? m->summary : "", CONSOLE_SUMMARY_MAX);
	if (m->actions && m->plan_id) {
		buf_puts(&line, " \xe2\x80\x94 approve ");
		chat_put_oneline(&line, m->plan_id, 64);
		buf_puts(&line, " / discard ");
		chat_put_oneline(&line, m->plan_id, 64);
	}
	if (m->url) {
		buf_puts(&line, " \xe2\x80\x94 ");
		chat_put_oneline(&line, m->url, 2048);
	}
	buf_puts(&marker, " [msg ");
	chat_put_oneline(&marker, m->id, 64);
	buf_puts(&marker, "]\n");
	buf_append(&line, marker.data, marker.len);

	if (c->path) {
		fd = open(c->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
		if (fd < 0) {
			/* A missing directory or a full disk is for an operator
			 * to fix; the message waits in the outbox meanwhile. */
			rc = err_set(ERR_AGAIN, "console: %s: %s", c->path, strerror(errno));
			goto out;
		}
		if (already_written(fd, marker.data))
			goto out;
	}
	/* One write() of the whole line: O_APPEND keeps concurrent lines
	 * whole on a regular file. */
	if (fs_write_all(fd, line.data, line.len) != 0)
		rc = err_set(ERR_AGAIN, "console: %s: %s", c->path ? c->path : "stdout",
		    strerror(errno));
out:
	if (c->path && fd >= 0)
		close(fd);
	buf_dispose(&line);
	buf_dispose(&marker);
	return rc;
}

static void
console_close(void *st)
{
	struct console *c = st;

	if (!c)
		return;
	free(c->path);
	free(c);
}

static const struct chat_ops console_ops = {
	.open = console_open,
	.post = console_post,
	.fd = NULL,
	.tick = NULL,
	.close = console_close,
};

const struct chat_provider chat_console = {
	.abi = CHAT_PROVIDER_ABI,
	.name = "console",
	.caps = CHAT_CAN_POST,
	.ops = &console_ops,
};
