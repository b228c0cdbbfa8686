/*
 * fuzz_botcmd.c - bot command text (bot/botint.h): the tokenizer, the
 * command lookup, and the whole of bot_run() for what anyone in a chat
 * channel may type, against a real repository and state directory
 * (tests/fuzz/fuzzenv.h).
 *
 * A mutating command runs as an unmapped chat user, so it is refused
 * before it edits: a fuzzer that committed would change its own world.
 * Everything else runs as `alice`, who may approve (there is no
 * controller: the answer says so).
 *
 * Invariants, beyond "no crash, no leak, no undefined behaviour":
 *   - the tokenizer gives at most BOT_MAX_ARGS words, each valid UTF-8
 *     without control characters, or a reason;
 *   - a command found used one or two words, and at least that many
 *     were given;
 *   - bot_run answers with code 0, 1 or 3 and a non-empty text that is
 *     valid UTF-8 (it goes to Slack, Mattermost and IRC as it is).
 */
#include "fuzz.h"

#include "bot/botint.h"
#include "fuzzenv.h"

static int
utf8_ok(const char *s, size_t len)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < len) {
		if (!(k = utf8_decode((const unsigned char *)s + i, len - i, &cp)))
			return 0;
		i += k;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char branch[] = "main", bot_name[] = "firebreak", bot_email[] = "firebreak@localhost";
	struct fuzz_env *env = fuzz_env_get();
	char *text, *store = NULL, *av[BOT_MAX_ARGS], why[160];
	const struct command *c = NULL;
	struct bot_request rq;
	struct bot_answer ans;
	struct config cfg;
	size_t ac = 0, words = 0, i;
	int rc;

	if (size > 4 * BOT_MAX_TEXT)
		return 0;
	text = xstrndup((const char *)data, size);   /* a chat line stops at a NUL */
	why[0] = '\0';
	rc = bot_tokenize(text, &store, av, &ac, why, sizeof(why));
	if (rc != OK) {
		FUZZ_CHECK(rc == ERR_INVALID && why[0], "rc %d, why '%s'", rc, why);
	} else {
		FUZZ_CHECK(ac <= BOT_MAX_ARGS, "%zu words", ac);
		for (i = 0; i < ac; i++)
			FUZZ_CHECK(bot_text_ok(av[i], strlen(av[i])), "word %zu is not clean text", i);
		if ((c = bot_find_command(av, ac, &words)))
			FUZZ_CHECK((words == 1 || words == 2) && words <= ac, "%zu words of %zu",
			    words, ac);
	}
	free(store);

	memset(&cfg, 0, sizeof(cfg));
	cfg.repo = env->repo;
	cfg.state = env->state;
	cfg.branch = branch;
	cfg.bot_name = bot_name;
	cfg.bot_email = bot_email;
	memset(&rq, 0, sizeof(rq));
	rq.identity = c && c->kind == CMD_MUTATE ? "slack:UNOBODY" : "slack:UALICE";
	rq.via = "slack #fuzz";
	rq.text = text;
	rc = bot_run(&cfg, &rq, &ans);
	FUZZ_CHECK(rc == 0 || rc == 1 || rc == 3, "code %d", rc);
	FUZZ_CHECK(rc == ans.code, "returned %d, answer code %d", rc, ans.code);
	FUZZ_CHECK(ans.text.len > 0, "an empty answer");
	FUZZ_CHECK(utf8_ok(ans.text.data, ans.text.len), "answer is not UTF-8: %s", ans.text.data);
	FUZZ_CHECK(!ans.commit[0], "a commit was made: %s", ans.commit);
	bot_answer_dispose(&ans);
	free(text);
	return 0;
}
