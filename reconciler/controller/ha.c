/*
 * ha.c - two or more controllers on one repository, one leader elected
 * through a coordinator (etcd v3: providers/coord/), fenced
 * (DESIGN.md "High availability").  See ctl.h for the functions the loop
 * calls and hactl.h-free callers; this header comment is the design.
 *
 * Keys, all under firebreak/<branch>/:
 *
 *   leader            the leader's name; on its lease.  Its create
 *                     revision is the fence: every write the leader makes
 *                     is a transaction comparing it
 *   applied           {"commit", "plan", "at"}: the commit point of an
 *                     apply, written (fenced) before the leader's release
 *                     switch; followers switch to it
 *   members/<name>    {"applied", "plan", "at", "leader"}: each instance's
 *                     release, on its lease, for `status`
 *   state/<path>      the leader's state directory, mirrored: plan-seq,
 *                     open-plans.json, plans/<id>.json, outbox/<post>.json,
 *                     outbox/<id>.sending, outbox/<id>.sent, outbox/seq, threads/<key>.<n>,
 *                     rollouts/<id>.json, health.json, retention.json
 *   state-init        set once the first leader pushed its own state
 *   claims/<sha256>   an inbound chat event someone took (2-hour lease)
 *   q/cmd-<sha256>    a chat command a follower took, for the leader
 *   q/req-<n>         an approve, discard or rollout request sent through
 *                     etcd (`firebreak approve` beside a follower)
 *   a/<n>             its answer
 *   back              written once when a leader can act after etcd was
 *                     unreachable (the one chat line about it)
 *
 * The mirror.  While an instance leads, every state file it replaces
 * through fs_write_atomic() (and the outbox's markers and removals) is
 * also queued for etcd (base/fs.h: fs_set_mirror).  The queue goes out
 * as one fenced transaction at the end of every loop turn, before every
 * chat post (the outbox's in-flight marker is a barrier: a leader that
 * cannot write it does not post), right after every delivery (the .sent
 * mark: a successor must not post it again) and with the applied commit
 * before a release switch.  So etcd always holds a state the leader could have
 * crashed in, and nothing reached the world that etcd does not know
 * about.  A write etcd refuses (the fence no longer holds) deposes the
 * leader: it stops at once and rejoins as a follower, whose local state
 * is replaced from etcd the next time it leads.
 *
 * Failover is a restart on another disk: the successor replaces its
 * state files with etcd's (adoption), then starts as a lone controller
 * would after a kill -9 (DESIGN.md "State directory"): announcements
 * written ahead are queued once, applies cut short are finished, open
 * plans are kept with their ids and approvals, rollouts resume, and the
 * outbox delivers what was not delivered.
 *
 * Acting.  A leader acts only while its lease is certainly alive: until
 * the send time of its last answered keep-alive plus the TTL etcd gave,
 * less a margin.  A leader that was paused (SIGSTOP, a long GC-like stall)
 * finds that deadline passed the moment it runs again, and stops before
 * anything else; a partitioned one stops within lease_seconds.
 *
 * Nothing here blocks the loop for long: the keep-alive is asynchronous,
 * every other call has a deadline (HA_CALL_MS, at most a third of the
 * lease), and the synchronous calls keep the keep-alive moving.
 */
#include "controller/ctl.h"
#include "controller/http.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

#include "base/crypto.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/names.h"
#include "git/repo.h"
#include "plan/pipeline.h"
#include "plan/plan.h"
#include "providers/chat/chat.h"
#include "providers/coord/coord.h"
#include "state/outbox.h"
#include "state/state.h"

#define HA_POLL_S 0.2            /* followers read leader and applied this often */
#define HA_CLAIM_TTL 7200        /* an inbound event's claim: > Slack's last retry */
#define HA_CLAIM_RENEW 1800      /* a new claim lease this often */
#define HA_IRC_BUCKET 30         /* seconds: IRC lines have no ids */
#define HA_TXN_OPS 100           /* below etcd's default --max-txn-ops (128) */
#define HA_TXN_BYTES (900u << 10)  /* below etcd's default request limit (1.5 MiB) */
#define HA_VALUE_MAX (600u << 10)  /* a plan record above this loses its diffs */

struct hitem {
	char *key;
	char *val;                  /* NULL: delete */
	size_t len;
};

struct hactl {
	const struct config *cfg;
	const struct coord_provider *cp;
	void *cs;
	char pfx[300];              /* "firebreak/<branch>/" */
	char *statedir;
	size_t sdlen;
	int call_ms;
	/* The lease. */
	int64_t lease;
	long ttl;
	double lease_until, ka_sent, next_ka, next_grant;
	int ka_flight;
	/* Leadership. */
	int leader;                 /* we hold the leader key */
	int deposed;                /* a fenced write was refused */
	int64_t fence;              /* the leader key's create revision */
	char leader_name[80];
	double next_poll;
	/* The mirror's queue. */
	struct hitem *items;
	size_t n, alloc;
	int mirroring;
	/* What etcd says is applied. */
	char applied[41], applied_plan[24];
	long long applied_at;
	double follow_retry;
	/* Claims. */
	int64_t claim_lease;
	double claim_lease_at;
	/* Outage: etcd unreachable for longer than the lease. */
	double unreachable_since;
	int outage;
	int64_t last_rev, outage_rev;
	/* Counters for /metrics. */
	unsigned long elections, failovers, deposals;
	int seen_other;             /* another instance led since we started */
	char last_claim[65];        /* ctl_ha_last_claim() */
	int http_fd;                /* the HTTP socket every term listens on (0: none):
	                             * a request that comes while the role changes
	                             * waits in its backlog instead of being refused */
	unsigned long req_seq;
};

static int
key_of(char *out, size_t n, const struct hactl *h, const char *rest)
{
	int k = snprintf(out, n, "%s%s", h->pfx, rest);

	return k < 0 || (size_t)k >= n ? err_set(ERR_TOOBIG, "etcd key too long") : OK;
}

/* ---- the mirror ----------------------------------------------------------- */

/* Is a state file (relative path) one the mirror keeps?  The names are
 * the state directory's own; anything else is left alone, and the same
 * check guards what adoption writes from etcd. */
static int
digits_then(const char *s, const char *suffix)
{
	size_t i = 0;

	while (s[i] >= '0' && s[i] <= '9')
		i++;
	return i > 0 && i <= 20 && strcmp(s + i, suffix) == 0;
}

static int
mirrored(const char *rel)
{
	const char *f;

	if (strcmp(rel, "plan-seq") == 0 || strcmp(rel, "open-plans.json") == 0 ||
	    strcmp(rel, "health.json") == 0 || strcmp(rel, "retention.json") == 0)
		return 1;
	if (strncmp(rel, "plans/", 6) == 0)
		return digits_then(rel + 6, ".json");
	if (strncmp(rel, "rollouts/", 9) == 0)
		return digits_then(rel + 9, ".json");
	if (strncmp(rel, "outbox/", 7) == 0) {
		f = rel + 7;
		return strcmp(f, "seq") == 0 || digits_then(f, ".json") || digits_then(f, ".sending") ||
		    digits_then(f, ".sent");
	}
	if (strncmp(rel, "threads/", 8) == 0) {
		f = rel + 8;
		if (!*f || *f == '.' || strlen(f) > 100)
			return 0;
		for (; *f; f++)
			if (!((*f >= 'a' && *f <= 'z') || (*f >= 'A' && *f <= 'Z') ||
			    (*f >= '0' && *f <= '9') || *f == '.' || *f == '_' || *f == '-'))
				return 0;
		return 1;
	}
	return 0;
}

/* The path relative to the state directory, or NULL. */
static const char *
rel_of(const struct hactl *h, const char *path)
{
	if (strncmp(path, h->statedir, h->sdlen) != 0 || path[h->sdlen] != '/')
		return NULL;
	return path + h->sdlen + 1;
}

static void
queue_item(struct hactl *h, const char *rel, const void *data, size_t len, int del)
{
	char key[COORD_KEY_MAX];
	size_t i;

	{
		int k = snprintf(key, sizeof(key), "%sstate/%s", h->pfx, rel);

		if (k < 0 || (size_t)k >= sizeof(key))
			return;
	}
	/* The latest write of a key replaces an earlier one still queued. */
	for (i = 0; i < h->n; i++)
		if (strcmp(h->items[i].key, key) == 0) {
			free(h->items[i].key);
			free(h->items[i].val);
			memmove(&h->items[i], &h->items[i + 1], (h->n - i - 1) * sizeof(*h->items));
			h->n--;
			break;
		}
	if (h->n == h->alloc) {
		h->alloc = h->alloc ? h->alloc * 2 : 32;
		h->items = xrealloc(h->items, h->alloc * sizeof(*h->items));
	}
	h->items[h->n].key = xstrdup(key);
	h->items[h->n].val = del ? NULL : xmalloc(len + 1);
	if (!del) {
		memcpy(h->items[h->n].val, data, len);
		h->items[h->n].val[len] = '\0';
	}
	h->items[h->n].len = len;
	h->n++;
}

static void
queue_clear(struct hactl *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->items[i].key);
		free(h->items[i].val);
	}
	h->n = 0;
}

/* A plan record too large for one etcd value keeps everything but its
 * diffs (the plan page of a successor shows the changes, not the lines). */
static char *
shrink_plan(const char *data, size_t len, size_t *out_len)
{
	json_t *j = json_loadb(data, len, 0, NULL), *a;
	size_t i;
	char *text;

	if (!j)
		return NULL;
	json_array_foreach(json_object_get(j, "artifacts"), i, a)
		json_object_set_new(a, "diff", json_string("(not kept in etcd: the plan is too "
		    "large)\n"));
	json_object_set_new(j, "diffs_dropped", json_true());
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (text)
		*out_len = strlen(text);
	return text;
}

static int ha_flush(struct hactl *h, const struct coord_op *extra, size_t nextra);

static int
mirror_put(void *ctx, const char *path, const void *data, size_t len)
{
	struct hactl *h = ctx;
	const char *rel = rel_of(h, path);
	char *small = NULL;

	if (!rel || !mirrored(rel))
		return OK;
	if (h->deposed || !h->leader)
		return err_set(ERR_DENIED, "not the leader any more: %s is not written", rel);
	if (len > HA_VALUE_MAX && strncmp(rel, "plans/", 6) == 0 &&
	    (small = shrink_plan(data, len, &len)))
		data = small;
	if (len > HA_VALUE_MAX) {
		free(small);
		return err_set(ERR_TOOBIG, "%s: %zu bytes is too large for etcd", rel, len);
	}
	queue_item(h, rel, data, len, 0);
	free(small);
	/* Before a chat post: etcd knows, and we still lead.  And right
	 * after one: etcd knows it was delivered (outbox.c's .sent mark), so
	 * a successor does not post it again. */
	if (str_has_suffix(rel, ".sending") || str_has_suffix(rel, ".sent"))
		return ha_flush(h, NULL, 0);
	return OK;
}

static int
mirror_del(void *ctx, const char *path)
{
	struct hactl *h = ctx;
	const char *rel = rel_of(h, path);

	if (!rel || !mirrored(rel) || h->deposed || !h->leader)
		return OK;
	queue_item(h, rel, NULL, 0, 1);
	return OK;
}

static void
depose(struct hactl *h, const char *why)
{
	if (!h->deposed)
		log_event(NULL, "ha: %s is no longer the leader: %s", h->cfg->ha->name, why);
	h->deposed = 1;
	h->deposals++;
}

/*
 * Send the queue (and `extra`, e.g. the applied commit) as transactions
 * that each compare the leader key's create revision with ours.  OK: all
 * of it is in etcd.  A refused comparison deposes us (ERR_DENIED); an
 * unreachable etcd keeps the queue for the next try (ERR_AGAIN).
 */
static int
ha_flush(struct hactl *h, const struct coord_op *extra, size_t nextra)
{
	char lkey[COORD_KEY_MAX];
	size_t done = 0;
	int rc = OK;

	if (h->deposed || !h->leader)
		return err_set(ERR_DENIED, "not the leader");
	if (!h->n && !nextra)
		return OK;
	key_of(lkey, sizeof(lkey), h, "leader");
	while (done < h->n || nextra) {
		struct coord_op ops[HA_TXN_OPS + 4];
		struct coord_cmp cmp = { lkey, COORD_CREATE, COORD_EQ, h->fence, NULL, 0 };
		struct coord_op get = { COORD_GET, lkey, NULL, 0, 0 };
		struct coord_txn t;
		struct coord_txn_result r;
		size_t k = 0, bytes = 0, i;

		for (i = done; i < h->n && k < HA_TXN_OPS; i++) {
			if (k && bytes + h->items[i].len * 4 / 3 + 512 > HA_TXN_BYTES)
				break;
			ops[k].type = h->items[i].val ? COORD_PUT : COORD_DEL;
			ops[k].key = h->items[i].key;
			ops[k].val = h->items[i].val;
			ops[k].vlen = h->items[i].len;
			ops[k].lease = 0;
			bytes += h->items[i].len * 4 / 3 + 512;
			k++;
		}
		/* What comes with the queue goes in its last transaction. */
		if (i == h->n)
			for (size_t x = 0; x < nextra && k < HA_TXN_OPS + 4; x++)
				ops[k++] = extra[x];
		memset(&t, 0, sizeof(t));
		t.cmp = &cmp;
		t.ncmp = 1;
		t.ok = ops;
		t.nok = k;
		t.fail = &get;
		t.nfail = 1;
		if ((rc = h->cp->ops->txn(h->cs, &t, &r, h->call_ms)) != OK)
			break;
		if (!r.succeeded) {
			const char *who = r.ngets && r.gets[0].n ? (const char *)r.gets[0].v[0].val : NULL;
			char why[160];

			snprintf(why, sizeof(why), "a write was fenced off (the leader is %.64s)",
			    who ? who : "nobody");
			coord_txn_result_dispose(&r);
			depose(h, why);
			return err_set(ERR_DENIED, "%s", why);
		}
		h->last_rev = r.rev;
		coord_txn_result_dispose(&r);
		done = i;
		if (i == h->n)
			nextra = 0;
	}
	/* What went out leaves the queue. */
	for (size_t i = 0; i < done; i++) {
		free(h->items[i].key);
		free(h->items[i].val);
	}
	memmove(h->items, h->items + done, (h->n - done) * sizeof(*h->items));
	h->n -= done;
	return rc;
}

/* ---- the lease and leadership ---------------------------------------------- */

static int
grant(struct hactl *h)
{
	long granted;
	int rc;

	h->next_grant = log_now() + 1;
	if ((rc = h->cp->ops->grant(h->cs, h->cfg->ha->lease_seconds, &h->lease, &granted,
	    h->call_ms)) != OK) {
		h->lease = 0;
		return rc;
	}
	h->ttl = granted;
	h->ka_sent = log_now();
	h->lease_until = h->ka_sent + (double)granted - (granted > 10 ? 1.0 : granted * 0.1);
	h->next_ka = h->ka_sent + granted / 3.0;
	h->unreachable_since = 0;
	return OK;
}

static void
unreachable(struct hactl *h, const char *why)
{
	double now = log_now();

	if (!h->unreachable_since) {
		h->unreachable_since = now;
		log_event(NULL, "ha: etcd: %s", why);
	}
	if (!h->outage && now - h->unreachable_since > h->cfg->ha->lease_seconds) {
		h->outage = 1;
		h->outage_rev = h->last_rev;
		log_event(NULL, "ha: etcd unreachable for %u s: no instance can act until it is back",
		    h->cfg->ha->lease_seconds);
	}
}

/* The keep-alive, without blocking: start one when due, take its answer. */
static void
keepalive(struct hactl *h)
{
	long ttl;
	int rc;

	if (h->ka_flight && h->cp->ops->keepalive_poll(h->cs, &ttl, &rc)) {
		h->ka_flight = 0;
		if (rc != OK) {
			unreachable(h, err_last());
		} else if (ttl <= 0) {
			log_event(NULL, "ha: the lease expired");
			h->lease = 0;
			if (h->leader)
				depose(h, "its lease expired");
			h->leader = 0;
		} else {
			h->lease_until = h->ka_sent + (double)ttl - (ttl > 10 ? 1.0 : ttl * 0.1);
			h->unreachable_since = 0;
		}
	}
	if (h->lease && !h->ka_flight && log_now() >= h->next_ka) {
		int ms = (int)(h->ttl * 1000 / 3);

		h->ka_sent = log_now();
		h->next_ka = h->ka_sent + h->ttl / 3.0;
		if (h->cp->ops->keepalive_start(h->cs, h->lease, ms > 100 ? ms : 100) == OK)
			h->ka_flight = 1;
		else
			unreachable(h, err_last());
	}
}

/* Parse the applied key's JSON into h. */
static void
take_applied(struct hactl *h, const struct coord_kv *kv)
{
	json_t *j = json_loadb((const char *)kv->val, kv->len, JSON_REJECT_DUPLICATES, NULL);
	const char *commit = json_string_value(json_object_get(j, "commit"));
	const char *plan = json_string_value(json_object_get(j, "plan"));
	uint64_t v;

	if (commit && strlen(commit) == 40 && strspn(commit, "0123456789abcdef") == 40 &&
	    plan && parse_u64(&v, plan, 1, 1ull << 62) == OK) {
		snprintf(h->applied, sizeof(h->applied), "%s", commit);
		snprintf(h->applied_plan, sizeof(h->applied_plan), "%s", plan);
		h->applied_at = (long long)json_integer_value(json_object_get(j, "at"));
	} else if (!h->deposed) {
		log_event(NULL, "ha: etcd's applied key is not {commit, plan}; ignored");
	}
	json_decref(j);
}

/* Put key = text on `lease`, unconditionally (one txn). */
static int
put_leased(struct hactl *h, const char *key, const char *text, int64_t lease)
{
	struct coord_op op;
	struct coord_txn t;
	struct coord_txn_result r;
	int rc;

	memset(&op, 0, sizeof(op));
	op.type = COORD_PUT;
	op.key = key;
	op.val = text;
	op.vlen = strlen(text);
	op.lease = lease;
	memset(&t, 0, sizeof(t));
	t.ok = &op;
	t.nok = 1;
	rc = h->cp->ops->txn(h->cs, &t, &r, h->call_ms);
	if (rc == OK)
		coord_txn_result_dispose(&r);
	return rc;
}

/* Our member record (what status shows for this instance). */
static void
put_member(struct ctl *c)
{
	struct hactl *h = c->ha;
	char key[COORD_KEY_MAX], rest[128];
	json_t *j;
	char *text;

	if (!h->lease)
		return;
	snprintf(rest, sizeof(rest), "members/%s", h->cfg->ha->name);
	key_of(key, sizeof(key), h, rest);
	j = json_pack("{s:s, s:I, s:b}", "applied", c->base.sha, "at", (json_int_t)time(NULL),
	    "leader", h->leader && !h->deposed);
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	put_leased(h, key, text, h->lease);
	free(text);
}

/*
 * Read the leader key and the applied commit; a follower whose lease is
 * alive takes the leader key when nobody holds it.  Returns 1 when we
 * lead now (won, or the key is still ours), 0 otherwise.
 */
static int
campaign(struct ctl *c)
{
	struct hactl *h = c->ha;
	char lkey[COORD_KEY_MAX], akey[COORD_KEY_MAX];
	struct coord_cmp cmp;
	struct coord_op put, get[2];
	struct coord_txn t;
	struct coord_txn_result r;
	const struct coord_kv *lead;
	int won = 0;

	key_of(lkey, sizeof(lkey), h, "leader");
	key_of(akey, sizeof(akey), h, "applied");
	memset(&cmp, 0, sizeof(cmp));
	cmp.key = lkey;
	cmp.target = COORD_CREATE;
	cmp.op = COORD_EQ;
	cmp.num = 0;
	memset(&put, 0, sizeof(put));
	put.type = COORD_PUT;
	put.key = lkey;
	put.val = h->cfg->ha->name;
	put.vlen = strlen(h->cfg->ha->name);
	put.lease = h->lease;
	memset(get, 0, sizeof(get));
	get[0].type = COORD_GET;
	get[0].key = lkey;
	get[1].type = COORD_GET;
	get[1].key = akey;
	memset(&t, 0, sizeof(t));
	/* Without a live lease, only look. */
	if (h->lease && log_now() < h->lease_until) {
		struct coord_op ok[3] = { put, get[0], get[1] };

		t.cmp = &cmp;
		t.ncmp = 1;
		t.ok = ok;
		t.nok = 3;
		t.fail = get;
		t.nfail = 2;
		if (h->cp->ops->txn(h->cs, &t, &r, h->call_ms) != OK) {
			unreachable(h, err_last());
			return 0;
		}
	} else {
		t.ok = get;
		t.nok = 2;
		if (h->cp->ops->txn(h->cs, &t, &r, h->call_ms) != OK) {
			unreachable(h, err_last());
			return 0;
		}
		r.succeeded = 0;
	}
	h->unreachable_since = 0;
	h->last_rev = r.rev;
	lead = r.ngets > 0 && r.gets[0].n ? &r.gets[0].v[0] : NULL;
	if (r.ngets > 1 && r.gets[1].n)
		take_applied(h, &r.gets[1].v[0]);
	if (lead) {
		int ours = lead->lease == h->lease && h->lease &&
		    strcmp((const char *)lead->val, h->cfg->ha->name) == 0;

		if (!ours && strcmp(h->leader_name, (const char *)lead->val) != 0) {
			log_event(NULL, "ha: the leader is %.64s", (const char *)lead->val);
			h->seen_other = 1;
		}
		snprintf(h->leader_name, sizeof(h->leader_name), "%.64s", (const char *)lead->val);
		if (ours && log_now() < h->lease_until) {
			h->fence = lead->create_rev;
			won = 1;
		}
	} else {
		h->leader_name[0] = '\0';
	}
	coord_txn_result_dispose(&r);
	if (won) {
		h->leader = 1;
		h->deposed = 0;
		h->elections++;
		if (h->seen_other)
			h->failovers++;
		snprintf(h->leader_name, sizeof(h->leader_name), "%s", h->cfg->ha->name);
		log_event(NULL, "ha: %s leads (fence %lld)", h->cfg->ha->name, (long long)h->fence);
	}
	return won;
}

/* ---- followers: the release store follows the applied commit --------------- */

static void
follow_applied(struct ctl *c)
{
	struct hactl *h = c->ha;
	struct snapshot target;
	struct plan *p = NULL;
	double t0 = log_now();

	if (!h->applied[0] || strcmp(h->applied, c->base.sha) == 0 || log_now() < h->follow_retry)
		return;
	memset(&target, 0, sizeof(target));
	if (pipeline_plan(&p, c->repo, &(struct repo_ident){ c->cfg->bot_name, c->cfg->bot_email },
	    h->applied_plan, &c->base, h->applied, &target) != OK) {
		/* Not fetched here yet, perhaps: fetch, and try again shortly. */
		log_event(NULL, "ha: cannot render the applied commit %.7s yet: %s", h->applied,
		    err_last());
		h->follow_retry = log_now() + 2;
		c->fetch_now = 1;
		return;
	}
	if (state_apply(c->st, p, &target.art) != OK) {
		log_event(NULL, "ha: switching to %.7s (plan %s): %s", h->applied, h->applied_plan,
		    err_last());
		h->follow_retry = log_now() + 2;
		snapshot_dispose(&target);
		plan_free(p);
		return;
	}
	snapshot_dispose(&c->base);
	c->base = target;
	c->last_applied_at = (double)time(NULL);
	log_event(NULL, "ha: release switched to %.7s (plan %s) in %.0f ms", h->applied,
	    h->applied_plan, (log_now() - t0) * 1000);
	plan_free(p);
	put_member(c);
}

/* ---- the leader's queue: commands and requests from followers --------------- */

/* Delete `key` if we still lead.  1 when we took it. */
static int
take(struct hactl *h, const char *key)
{
	struct coord_op del = { COORD_DEL, key, NULL, 0, 0 };
	char lkey[COORD_KEY_MAX];

	key_of(lkey, sizeof(lkey), h, "leader");
	{
		struct coord_cmp cmp[2] = {
			{ lkey, COORD_CREATE, COORD_EQ, h->fence, NULL, 0 },
			{ key, COORD_CREATE, COORD_GT, 0, NULL, 0 },
		};
		struct coord_txn t = { cmp, 2, &del, NULL, 1, 0 };
		struct coord_txn_result r;
		struct coord_kvs kvs;
		int gone;

		if (h->cp->ops->txn(h->cs, &t, &r, h->call_ms) == OK) {
			coord_txn_result_dispose(&r);
			return r.succeeded;
		}
		/* No answer (a slow etcd): the delete may have happened.  We saw
		 * the key, and since then only the holder of our fence can have
		 * deleted it: if it is gone while we still lead, it was us, and
		 * the command is ours to run (else nobody would). */
		log_event(NULL, "ha: taking %.120s: %s; looking again", key, err_last());
		if (h->cp->ops->range(h->cs, key, 0, &kvs, h->call_ms * 3) != OK)
			return 0;
		/* ... unless our term may be over: a successor may have taken it. */
		gone = kvs.n == 0 && ctl_ha_leading(h);
		coord_kvs_dispose(&kvs);
		if (gone)
			log_event(NULL, "ha: %.120s was taken by us (its answer was lost)", key);
		return gone;
	}
}

/* A bounded, printable string field (owns), or NULL. */
static char *
field(const json_t *j, const char *name, size_t max)
{
	const char *s = json_string_value(json_object_get(j, name));
	size_t n;

	if (!s || (n = strlen(s)) > max)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return NULL;
	return xstrdup(s);
}

static void
run_command(struct ctl *c, const struct coord_kv *kv)
{
	json_t *j = json_loadb((const char *)kv->val, kv->len, JSON_REJECT_DUPLICATES, NULL);
	struct chat_command cmd;
	json_int_t backend = json_integer_value(json_object_get(j, "backend"));

	memset(&cmd, 0, sizeof(cmd));
	cmd.identity = field(j, "identity", 200);
	cmd.via = field(j, "via", 200);
	cmd.text = field(j, "text", 4000);
	cmd.reply_to = field(j, "reply_to", 2000);
	cmd.flags = (unsigned)json_integer_value(json_object_get(j, "flags")) &
	    (CHAT_CMD_VERIFIED | CHAT_CMD_MAY_APPROVE);
	if (!j || !cmd.identity || !cmd.via || !cmd.text || !c->ob || backend < 0 ||
	    (size_t)backend >= outbox_backend_count(c->ob)) {
		log_event(NULL, "ha: a queued chat command is malformed; dropped");
	} else if (take(c->ha, kv->key)) {
		const char *id = strstr(kv->key, "/q/cmd-");

		if (!jobs_enqueue(c, &cmd, (int)backend))
			log_event(NULL, "ha: the command queue is full; `%s` dropped", cmd.text);
		else if (id && strlen(id + 7) < sizeof(c->jobs[0]->claim))
			snprintf(c->jobs[c->njobs - 1]->claim, sizeof(c->jobs[0]->claim), "%s", id + 7);
	}
	chat_command_dispose(&cmd);
	json_decref(j);
}

static void
answer_request(struct ctl *c, const struct coord_kv *kv)
{
	struct hactl *h = c->ha;
	const char *id = strrchr(kv->key, '-');
	char akey[COORD_KEY_MAX], rest[80];
	struct buf out = BUF_INIT;
	char *line = xstrndup((const char *)kv->val, kv->len);

	if (!id || strlen(id + 1) > 40 || strspn(id + 1, "0123456789abcdef") != strlen(id + 1) ||
	    strlen(line) > CTL_MAX_REQUEST || strchr(line, '\n')) {
		log_event(NULL, "ha: a queued request is malformed; dropped");
		free(line);
		return;
	}
	if (!take(h, kv->key)) {
		free(line);
		return;
	}
	snprintf(rest, sizeof(rest), "a/%s", id + 1);
	key_of(akey, sizeof(akey), h, rest);
	ctlsock_answer(c, line, &out);
	{
		struct coord_op op = { COORD_PUT, akey, out.data, out.len, h->lease };

		if (ha_flush(h, &op, 1) != OK)
			log_event(NULL, "ha: answering a request: %s", err_last());
	}
	buf_dispose(&out);
	free(line);
}

static void
serve_queue(struct ctl *c)
{
	struct hactl *h = c->ha;
	struct coord_kvs kvs;
	char key[COORD_KEY_MAX];

	key_of(key, sizeof(key), h, "q/");
	if (h->cp->ops->range(h->cs, key, 1, &kvs, h->call_ms) != OK)
		return;
	for (size_t i = 0; i < kvs.n && !h->deposed; i++) {
		const char *rest = kvs.v[i].key + strlen(key);

		if (strncmp(rest, "cmd-", 4) == 0)
			run_command(c, &kvs.v[i]);
		else if (strncmp(rest, "req-", 4) == 0)
			answer_request(c, &kvs.v[i]);
	}
	coord_kvs_dispose(&kvs);
}

/* ---- after an outage: one line ---------------------------------------------- */

static void
say_back(struct ctl *c)
{
	struct hactl *h = c->ha;
	char key[COORD_KEY_MAX], lkey[COORD_KEY_MAX];
	char *text;

	if (!h->outage)
		return;
	h->outage = 0;
	key_of(key, sizeof(key), h, "back");
	key_of(lkey, sizeof(lkey), h, "leader");
	text = xasprintf("%s can act again: etcd is reachable and %s leads",
	    "firebreak", h->cfg->ha->name);
	{
		/* Once per outage, whoever leads first after it: the key's last
		 * write must be older than what we saw before it. */
		struct coord_cmp cmp[2] = {
			{ lkey, COORD_CREATE, COORD_EQ, h->fence, NULL, 0 },
			{ key, COORD_MOD, COORD_LT, h->outage_rev + 1, NULL, 0 },
		};
		struct coord_op op = { COORD_PUT, key, h->cfg->ha->name, strlen(h->cfg->ha->name), 0 };
		struct coord_txn t = { cmp, 2, &op, NULL, 1, 0 };
		struct coord_txn_result r;

		if (h->cp->ops->txn(h->cs, &t, &r, h->call_ms) == OK) {
			if (r.succeeded) {
				log_event(NULL, "ha: %s", text);
				ctl_notify(c, NULL, text, NULL, 0);
			}
			coord_txn_result_dispose(&r);
		}
	}
	free(text);
}

/* ---- adoption: the leader's state directory from etcd ---------------------- */

static int
list_local(struct hactl *h, const char *sub, struct strlist *out)
{
	char dir[4096];
	DIR *d;
	struct dirent *e;

	snprintf(dir, sizeof(dir), "%s/%s", h->statedir, sub);
	if (!(d = opendir(dir)))
		return OK;
	while ((e = readdir(d))) {
		char rel[600];

		if (e->d_name[0] == '.')
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", sub, e->d_name);
		/* The rollout journals are the local tail of a record: a record
		 * from etcd must not get another term's tail. */
		if (mirrored(rel) || (strcmp(sub, "rollouts") == 0 && str_has_suffix(rel, ".journal")))
			strlist_push(out, rel, 0);
	}
	closedir(d);
	return OK;
}

static int
push_file(struct hactl *h, const char *rel)
{
	char path[4096];
	struct buf b = BUF_INIT;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", h->statedir, rel);
	if ((rc = fs_read(&b, path, 64u << 20)) != OK) {
		buf_dispose(&b);
		return rc == ERR_NOTFOUND ? OK : rc;
	}
	rc = mirror_put(h, path, b.data ? b.data : "", b.len);
	buf_dispose(&b);
	return rc == ERR_TOOBIG ? OK : rc;
}

/* Push the local state to etcd: the first leader, when etcd has none. */
static int
push_local(struct hactl *h)
{
	static const char *const files[] = { "plan-seq", "open-plans.json", "health.json",
		"retention.json" };
	static const char *const dirs[] = { "plans", "outbox", "threads", "rollouts" };
	struct strlist l = { NULL, NULL, 0 };
	char applied[41], key[COORD_KEY_MAX], ikey[COORD_KEY_MAX], *text;
	size_t i;
	int rc = OK;

	for (i = 0; i < sizeof(files) / sizeof(*files); i++)
		if ((rc = push_file(h, files[i])) != OK)
			return rc;
	for (i = 0; i < sizeof(dirs) / sizeof(*dirs); i++)
		list_local(h, dirs[i], &l);
	for (i = 0; i < l.n && rc == OK; i++)
		if (!str_has_suffix(l.v[i], ".journal"))
			rc = push_file(h, l.v[i]);
	strlist_dispose(&l);
	if (rc != OK)
		return rc;
	/* The first leader's applied commit becomes everyone's. */
	state_read_applied(h->cfg->state, applied);
	key_of(key, sizeof(key), h, "applied");
	key_of(ikey, sizeof(ikey), h, "state-init");
	{
		char plan[24] = "";
		char path[4096];
		struct buf b = BUF_INIT;
		json_t *j;

		snprintf(path, sizeof(path), "%s/current/PLAN", h->cfg->state);
		if (fs_read(&b, path, 64) == OK && b.len)
			snprintf(plan, sizeof(plan), "%.*s", (int)strcspn(b.data, "\n"), b.data);
		buf_dispose(&b);
		j = json_pack("{s:s, s:s, s:I}", "commit", applied, "plan", plan[0] ? plan : "0",
		    "at", (json_int_t)time(NULL));
		text = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	{
		struct coord_op ops[2] = {
			{ COORD_PUT, key, text, strlen(text), 0 },
			{ COORD_PUT, ikey, h->cfg->ha->name, strlen(h->cfg->ha->name), 0 },
		};

		rc = ha_flush(h, applied[0] ? ops : ops + 1, applied[0] ? 2 : 1);
	}
	if (rc == OK)
		log_event(NULL, "ha: etcd had no state: %s's own (applied %.7s) is everyone's now",
		    h->cfg->ha->name, applied[0] ? applied : "nothing");
	free(text);
	return rc;
}

/* Replace the local state files with etcd's.  The state lock is held. */
static int
adopt(struct hactl *h)
{
	struct coord_kvs kvs;
	struct strlist local = { NULL, NULL, 0 };
	char key[COORD_KEY_MAX], ikey[COORD_KEY_MAX];
	static const char *const files[] = { "plan-seq", "open-plans.json", "health.json",
		"retention.json" };
	static const char *const dirs[] = { "plans", "outbox", "threads", "rollouts" };
	size_t i, j, pl = 0;
	int rc, inited = 0;
	double t0 = log_now();

	key_of(key, sizeof(key), h, "state/");
	key_of(ikey, sizeof(ikey), h, "state-init");
	{
		struct coord_kvs ik;

		if ((rc = h->cp->ops->range(h->cs, ikey, 0, &ik, h->call_ms * 3)) != OK)
			return rc;
		inited = ik.n > 0;
		coord_kvs_dispose(&ik);
	}
	if (!inited)
		return push_local(h);
	if ((rc = h->cp->ops->range(h->cs, key, 1, &kvs, h->call_ms * 10)) != OK)
		return rc;
	for (i = 0; i < sizeof(files) / sizeof(*files); i++)
		strlist_push(&local, files[i], 0);
	for (i = 0; i < sizeof(dirs) / sizeof(*dirs); i++)
		list_local(h, dirs[i], &local);
	pl = strlen(key);
	/* Files etcd does not have go; etcd's are written. */
	for (i = 0; i < local.n; i++) {
		for (j = 0; j < kvs.n && strcmp(kvs.v[j].key + pl, local.v[i]) != 0; j++)
			;
		if (j == kvs.n) {
			char path[4096];

			snprintf(path, sizeof(path), "%s/%s", h->statedir, local.v[i]);
			unlink(path);
		}
	}
	for (i = 0; i < kvs.n; i++) {
		const char *rel = kvs.v[i].key + pl;
		char path[4096];

		if (!mirrored(rel)) {
			log_event(NULL, "ha: etcd holds %.100s, which is no state file; ignored", rel);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", h->statedir, rel);
		{
			char *slash = strrchr(path, '/');

			*slash = '\0';
			fs_mkdir_p(path, STATE_MODE_PRIVATE_DIR);
			*slash = '/';
		}
		if (str_has_suffix(rel, ".sending")) {
			fs_write_atomic(path, "", 0);
			continue;
		}
		if ((rc = fs_write_atomic(path, kvs.v[i].val, kvs.v[i].len)) != OK)
			break;
	}
	strlist_dispose(&local);
	if (rc == OK)
		log_event(NULL, "ha: adopted etcd's state (%zu files) in %.0f ms", kvs.n,
		    (log_now() - t0) * 1000);
	coord_kvs_dispose(&kvs);
	return rc;
}

/* ---- the loop's side ------------------------------------------------------- */

int
ctl_ha_leading(const struct hactl *h)
{
	return h->leader && !h->deposed && log_now() < h->lease_until;
}

void
ctl_ha_mirror(struct hactl *h, int on)
{
	if (on && !h->mirroring) {
		h->mirroring = 1;
		fs_set_mirror(&(struct fs_mirror){ mirror_put, mirror_del, h });
	} else if (!on && h->mirroring) {
		fs_set_mirror(NULL);
		h->mirroring = 0;
		queue_clear(h);
	}
}

int
ctl_ha_begin(struct ctl *c)
{
	struct hactl *h = c->ha;

	/* Adoption made the release etcd's applied commit; if a leader's is
	 * not, it must not act on another base. */
	if (h->leader && h->applied[0] && strcmp(h->applied, c->base.sha) != 0)
		return err_set(ERR_AGAIN, "the release is %.7s, not the applied commit %.7s",
		    c->base.sha, h->applied);
	put_member(c);
	return OK;
}

void
ctl_ha_end(struct ctl *c)
{
	struct hactl *h = c->ha;

	if (!h || !h->mirroring)
		return;
	if (ctl_ha_leading(h))
		ha_flush(h, NULL, 0);
	ctl_ha_mirror(h, 0);
}

/* The open plan etcd's state names, kept open under its id: re-planned
 * from the same commits, it must hash the same (what was reviewed). */
static int
reopen_one(void *ctx, const char *file, json_t *j, uint64_t pending)
{
	struct ctl *c = ctx;
	const char *outcome = json_string_value(json_object_get(j, "outcome"));
	const char *id = json_string_value(json_object_get(j, "id"));
	const char *base = json_string_value(json_object_get(j, "base"));
	const char *target = json_string_value(json_object_get(j, "target"));
	const char *hash = json_string_value(json_object_get(j, "hash"));
	struct snapshot snap;
	struct plan *p = NULL;
	char head[41];

	(void)file;
	(void)pending;
	if (!outcome || strcmp(outcome, "open") != 0 || !id || !target || !hash || c->open ||
	    strcmp(base ? base : "", c->base.sha) != 0 ||
	    repo_resolve(c->repo, c->ref, head) != OK || strcmp(head, target) != 0)
		return 0;
	memset(&snap, 0, sizeof(snap));
	if (pipeline_plan(&p, c->repo, &(struct repo_ident){ c->cfg->bot_name, c->cfg->bot_email },
	    id, &c->base, target, &snap) != OK)
		return 0;
	if (strcmp(p->hash, hash) != 0 || p->decision == DECISION_INVALID) {
		snapshot_dispose(&snap);
		plan_free(p);
		return 0;
	}
	ctl_keep_approvals(c, j);
	ctl_carry_approvals(c, p);
	c->open = p;
	c->open_target = snap;
	snprintf(c->head, sizeof(c->head), "%s", head);
	log_event(NULL, "ha: plan %s for %.7s stays open under its id", id, target);
	return 0;
}

void
ctl_ha_reopen(struct ctl *c)
{
	state_each_open(c->cfg->state, reopen_one, c);
}

size_t
ctl_ha_pollfds(struct ctl *c, int *timeout)
{
	struct hactl *h = c->ha;
	int t = h->cp->ops->timeout_ms(h->cs), next;

	if (t >= 0 && t < *timeout)
		*timeout = t;
	next = (int)((h->next_poll - log_now()) * 1000) + 1;
	if (next < 1)
		next = 1;
	if (next < *timeout)
		*timeout = next;
	if (h->lease) {
		next = (int)((h->next_ka - log_now()) * 1000) + 1;
		if (next < 1)
			next = 1;
		if (next < *timeout)
			*timeout = next;
	}
	return 0;
}

int
ctl_ha_turn(struct ctl *c, int leading)
{
	struct hactl *h = c->ha;

	keepalive(h);
	if (leading) {
		if (!ctl_ha_leading(h)) {
			if (!h->deposed)
				depose(h, log_now() >= h->lease_until ? "its lease may have expired "
				    "(etcd unanswered, or this process was paused)" : "lost");
			h->leader = 0;
			return 0;
		}
		if (log_now() >= h->next_poll) {
			h->next_poll = log_now() + HA_POLL_S;
			serve_queue(c);
		}
		return !h->deposed;
	}
	if (!h->lease && log_now() >= h->next_grant && grant(h) != OK)
		unreachable(h, err_last());
	if (log_now() >= h->next_poll) {
		h->next_poll = log_now() + HA_POLL_S;
		if (campaign(c))
			return 0;
		follow_applied(c);
	}
	return 1;
}

void
ctl_ha_after_turn(struct ctl *c, int leading)
{
	struct hactl *h = c->ha;

	if (!leading)
		return;
	say_back(c);
	if (h->n && ha_flush(h, NULL, 0) != OK && !h->deposed)
		unreachable(h, err_last());
}

int
ctl_ha_commit(struct ctl *c, const struct plan *p)
{
	struct hactl *h = c->ha;
	char key[COORD_KEY_MAX], *text;
	json_t *j;
	int rc;

	if (!ctl_ha_leading(h))
		return err_set(ERR_DENIED, "not the leader: plan %s is not applied here", p->id);
	key_of(key, sizeof(key), h, "applied");
	j = json_pack("{s:s, s:s, s:I}", "commit", p->target, "plan", p->id, "at",
	    (json_int_t)time(NULL));
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	{
		struct coord_op op = { COORD_PUT, key, text, strlen(text), 0 };

		rc = ha_flush(h, &op, 1);
	}
	free(text);
	if (rc != OK) {
		/* Whatever it was, etcd does not say this plan is applied: step
		 * down and let etcd's state be the truth again. */
		if (!h->deposed)
			depose(h, err_last());
		return rc;
	}
	snprintf(h->applied, sizeof(h->applied), "%s", p->target);
	snprintf(h->applied_plan, sizeof(h->applied_plan), "%s", p->id);
	h->applied_at = (long long)time(NULL);
	return OK;
}

void
ctl_ha_applied(struct ctl *c)
{
	put_member(c);
}

int64_t
ctl_ha_fence(const struct hactl *h)
{
	return h && h->leader && !h->deposed ? h->fence : 0;
}

int
ctl_ha_http_fd(const struct hactl *h)
{
	return h ? h->http_fd : 0;
}

int
ctl_may_act(struct ctl *c)
{
	struct hactl *h = c->ha;

	if (!h)
		return 1;
	if (ctl_ha_leading(h))
		return 1;
	if (h->leader && !h->deposed)
		depose(h, log_now() >= h->lease_until ? "its lease may have expired (etcd "
		    "unanswered, or this process was paused)" : "lost");
	return 0;
}

/* ---- inbound chat: claimed once --------------------------------------------- */

static int
claim_lease(struct hactl *h)
{
	long granted;

	if (h->claim_lease && log_now() - h->claim_lease_at < HA_CLAIM_RENEW)
		return OK;
	if (h->cp->ops->grant(h->cs, HA_CLAIM_TTL, &h->claim_lease, &granted, h->call_ms) != OK) {
		h->claim_lease = 0;
		return ERR_AGAIN;
	}
	h->claim_lease_at = log_now();
	return OK;
}

static void
claim_key(char *out, size_t n, struct hactl *h, const char *what, long long bucket)
{
	unsigned char d[CRYPTO_SHA256_LEN];
	char rest[128], hex[2 * CRYPTO_SHA256_LEN + 1];
	struct buf b = BUF_INIT;

	buf_printf(&b, "%lld\n%s", bucket, what);
	crypto_sha256(d, b.data, b.len);
	buf_dispose(&b);
	for (size_t i = 0; i < sizeof(d); i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	snprintf(rest, sizeof(rest), "claims/%s", hex);
	key_of(out, n, h, rest);
}

/* 1: ours; 0: someone else's; <0: etcd cannot say. */
static int
claim(struct hactl *h, const char *what, int bucketed)
{
	char k[3][COORD_KEY_MAX];
	struct coord_cmp cmp[3];
	struct coord_op op;
	struct coord_txn t;
	struct coord_txn_result r;
	long long b = bucketed ? (long long)time(NULL) / HA_IRC_BUCKET : 0;
	size_t n = bucketed ? 3 : 1, i;

	if (claim_lease(h) != OK)
		return ERR_AGAIN;
	/* IRC lines carry no id: the same line from the same person within a
	 * bucket either side is the same event. */
	for (i = 0; i < n; i++) {
		claim_key(k[i], sizeof(k[i]), h, what, bucketed ? b - 1 + (long long)i : 0);
		memset(&cmp[i], 0, sizeof(cmp[i]));
		cmp[i].key = k[i];
		cmp[i].target = COORD_CREATE;
		cmp[i].op = COORD_EQ;
	}
	memset(&op, 0, sizeof(op));
	op.type = COORD_PUT;
	op.key = bucketed ? k[1] : k[0];
	op.val = h->cfg->ha->name;
	op.vlen = strlen(h->cfg->ha->name);
	op.lease = h->claim_lease;
	memset(&t, 0, sizeof(t));
	t.cmp = cmp;
	t.ncmp = n;
	t.ok = &op;
	t.nok = 1;
	if (h->cp->ops->txn(h->cs, &t, &r, h->call_ms) != OK)
		return ERR_AGAIN;
	coord_txn_result_dispose(&r);
	return r.succeeded;
}

/* A follower hands a command it claimed to the leader. */
static int
forward(struct hactl *h, const char *id, int backend, const struct chat_command *cmd)
{
	char key[COORD_KEY_MAX], rest[128];
	json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:s?, s:i}", "backend", backend, "identity",
	    cmd->identity ? cmd->identity : "", "via", cmd->via ? cmd->via : "", "text",
	    cmd->text ? cmd->text : "", "reply_to", cmd->reply_to, "flags", (int)cmd->flags);
	char *text = json_dumps(j, JSON_COMPACT);
	int rc;

	json_decref(j);
	snprintf(rest, sizeof(rest), "q/cmd-%.64s", id);
	key_of(key, sizeof(key), h, rest);
	rc = put_leased(h, key, text, h->claim_lease);
	free(text);
	return rc;
}

int
ctl_ha_chat_in(struct ctl *c, int backend, const char *route, const char *body, size_t len,
    const struct chat_command *cmd)
{
	struct hactl *h = c->ha;
	struct buf what = BUF_INIT;
	int rc, bucketed = route == NULL;
	const char *id;

	if (route) {
		/* The same request, from a retry or a second instance behind a
		 * load balancer, has the same route and body. */
		buf_printf(&what, "http\n%s\n", route);
		buf_append(&what, body, len);
	} else {
		buf_printf(&what, "line\n%d\n%s\n%s\n%s", backend, cmd->identity ? cmd->identity : "",
		    cmd->reply_to ? cmd->reply_to : "", cmd->text ? cmd->text : "");
	}
	buf_putc(&what, '\0');
	rc = claim(h, what.data, bucketed);
	if (rc < 0) {
		buf_dispose(&what);
		log_event(NULL, "ha: cannot claim an inbound chat event: etcd unreachable");
		return CTL_HA_DOWN;
	}
	if (rc == 0) {
		buf_dispose(&what);
		return CTL_HA_LOST;
	}
	{
		unsigned char d[CRYPTO_SHA256_LEN];
		char hex[2 * CRYPTO_SHA256_LEN + 1];

		crypto_sha256(d, what.data, what.len);
		for (size_t i = 0; i < sizeof(d); i++)
			snprintf(hex + 2 * i, 3, "%02x", d[i]);
		if (ctl_ha_leading(h)) {
			snprintf(h->last_claim, sizeof(h->last_claim), "%s", hex);
			buf_dispose(&what);
			return CTL_HA_MINE;
		}
		id = hex;
		rc = forward(h, id, backend, cmd);
	}
	buf_dispose(&what);
	if (rc != OK)
		return CTL_HA_DOWN;
	log_event(NULL, "ha: chat: %s: `%s` handed to the leader %s", cmd->identity ? cmd->identity : "?",
	    cmd->text ? cmd->text : "", h->leader_name[0] ? h->leader_name : "(none yet)");
	return CTL_HA_FORWARDED;
}

const char *
ctl_ha_last_claim(const struct hactl *h)
{
	return h->last_claim;
}

void
ctl_ha_requeue(struct ctl *c)
{
	struct hactl *h = c->ha;

	if (!h)
		return;
	for (size_t i = 0; i < c->njobs; i++) {
		struct botjob *j = c->jobs[i];

		if (j->proc || !j->claim[0] || j->health_host || j->reply_only)
			continue;
		if (claim_lease(h) != OK || forward(h, j->claim, j->backend, &j->cmd) != OK) {
			log_event(NULL, "ha: `%s` was not started and cannot be handed back: %s",
			    j->cmd.text ? j->cmd.text : "", err_last());
			continue;
		}
		log_event(NULL, "ha: `%s` was not started: handed back for the next leader",
		    j->cmd.text ? j->cmd.text : "");
	}
}

/* ---- status and metrics ----------------------------------------------------- */

static void
status_lines(struct hactl *h, struct buf *b)
{
	char key[COORD_KEY_MAX];
	struct coord_kvs kvs;
	long long now = (long long)time(NULL);

	key_of(key, sizeof(key), h, "leader");
	if (h->cp->ops->range(h->cs, key, 0, &kvs, h->call_ms) != OK) {
		buf_printf(b, "ha: etcd unreachable (%s)\n", err_last());
		return;
	}
	buf_printf(b, "ha leader: %s\n", kvs.n ? (const char *)kvs.v[0].val : "none");
	coord_kvs_dispose(&kvs);
	key_of(key, sizeof(key), h, "applied");
	if (h->cp->ops->range(h->cs, key, 0, &kvs, h->call_ms) == OK && kvs.n)
		take_applied(h, &kvs.v[0]);
	coord_kvs_dispose(&kvs);
	buf_printf(b, "ha applied: %s (plan %s)\n", h->applied[0] ? h->applied : "(nothing yet)",
	    h->applied[0] ? h->applied_plan : "-");
	key_of(key, sizeof(key), h, "members/");
	if (h->cp->ops->range(h->cs, key, 1, &kvs, h->call_ms) != OK)
		return;
	for (size_t i = 0; i < kvs.n; i++) {
		json_t *j = json_loadb((const char *)kvs.v[i].val, kvs.v[i].len,
		    JSON_REJECT_DUPLICATES, NULL);
		const char *sha = json_string_value(json_object_get(j, "applied"));
		const char *name = kvs.v[i].key + strlen(key);

		if (!sha || strlen(name) > 64) {
			json_decref(j);
			continue;
		}
		if (h->applied[0] && strcmp(sha, h->applied) != 0)
			buf_printf(b, "ha member %s: applied %.7s, lag %lld s (behind %.7s)\n", name,
			    *sha ? sha : "nothing", h->applied_at && now > h->applied_at ?
			    now - h->applied_at : 0, h->applied);
		else
			buf_printf(b, "ha member %s: applied %.7s, lag 0 s\n", name, *sha ? sha :
			    "nothing");
		json_decref(j);
	}
	coord_kvs_dispose(&kvs);
}

void
ctl_ha_status(struct ctl *c, struct buf *b)
{
	buf_printf(b, "ha instance: %s (%s)\n", c->ha->cfg->ha->name,
	    ctl_ha_leading(c->ha) ? "leader" : "follower");
	status_lines(c->ha, b);
}

void
ctl_ha_metrics(struct ctl *c, struct buf *out)
{
	struct hactl *h = c->ha;

	buf_printf(out, "# HELP firebreak_leader 1 while this instance leads (HA)\n"
	    "# TYPE firebreak_leader gauge\nfirebreak_leader{instance=\"%s\"} %d\n",
	    h->cfg->ha->name, ctl_ha_leading(h));
	buf_printf(out, "# HELP firebreak_failovers_total times this instance took over from "
	    "another leader\n# TYPE firebreak_failovers_total counter\n"
	    "firebreak_failovers_total %lu\n", h->failovers);
	buf_printf(out, "# HELP firebreak_elections_total times this instance became the "
	    "leader\n# TYPE firebreak_elections_total counter\nfirebreak_elections_total %lu\n",
	    h->elections);
	buf_printf(out, "# HELP firebreak_deposed_total times this instance stopped leading\n"
	    "# TYPE firebreak_deposed_total counter\nfirebreak_deposed_total %lu\n", h->deposals);
}

/* ---- the whole: follow, lead, follow ... ---------------------------------- */

static int
ha_open(struct hactl **out, const struct config *cfg)
{
	struct hactl *h = xcalloc(1, sizeof(*h));
	int rc;

	h->cfg = cfg;
	h->cp = coord_find("etcd");
	h->statedir = xstrdup(cfg->state);
	h->sdlen = strlen(h->statedir);
	while (h->sdlen > 1 && h->statedir[h->sdlen - 1] == '/')
		h->statedir[--h->sdlen] = '\0';
	h->call_ms = (int)(cfg->ha->lease_seconds * 1000 / 3);
	if (h->call_ms > 1000)
		h->call_ms = 1000;
	snprintf(h->pfx, sizeof(h->pfx), "firebreak/%s/", cfg->branch);
	if ((rc = h->cp->ops->open(&h->cs, (const char *const *)cfg->ha->endpoints,
	    cfg->ha->nendpoints)) != OK) {
		free(h->statedir);
		free(h);
		return rc;
	}
	*out = h;
	return OK;
}

static void
ha_close(struct hactl *h)
{
	if (!h)
		return;
	queue_clear(h);
	free(h->items);
	if (h->http_fd > 0)
		close(h->http_fd);
	if (h->lease)
		h->cp->ops->revoke(h->cs, h->lease, h->call_ms);
	h->cp->ops->close(h->cs);
	free(h->statedir);
	free(h);
}

/* Switch the release store to etcd's applied commit (the state is open). */
static int
sync_release(struct hactl *h, struct state *st)
{
	struct snapshot base, target;
	struct diags d = { NULL, 0, 0 };
	struct plan *p = NULL;
	struct repo *r;
	char local[41], key[COORD_KEY_MAX];
	struct coord_kvs kvs;
	int rc;

	key_of(key, sizeof(key), h, "applied");
	if ((rc = h->cp->ops->range(h->cs, key, 0, &kvs, h->call_ms)) != OK)
		return rc;
	if (kvs.n)
		take_applied(h, &kvs.v[0]);
	coord_kvs_dispose(&kvs);
	if ((rc = state_read_applied(h->cfg->state, local)) != OK)
		return rc;
	if (!h->applied[0] || strcmp(local, h->applied) == 0)
		return OK;
	if ((rc = repo_open(&r, h->cfg->repo)) != OK)
		return rc;
	memset(&target, 0, sizeof(target));
	rc = snapshot_load(&base, r, local, &d);
	diags_dispose(&d);
	if (rc == OK) {
		rc = pipeline_plan(&p, r, &(struct repo_ident){ h->cfg->bot_name, h->cfg->bot_email },
		    h->applied_plan, &base, h->applied, &target);
		if (rc == OK)
			rc = state_apply(st, p, &target.art);
		if (rc == OK)
			log_event(NULL, "ha: release switched to %.7s (plan %s)", h->applied,
			    h->applied_plan);
		snapshot_dispose(&target);
		snapshot_dispose(&base);
		plan_free(p);
	}
	repo_free(r);
	return rc;
}

/* Take the state lock and replace the state files with etcd's. */
static int
adopt_locked(struct hactl *h)
{
	struct state *st;
	int rc;

	if ((rc = state_open(&st, h->cfg->state, 1)) != OK)
		return rc;
	rc = adopt(h);
	if (rc == OK)
		rc = sync_release(h, st);
	state_close(st);
	return rc;
}

int
ctl_ha_run(const struct config *cfg, const struct controller_opts *opts)
{
	struct hactl *h;
	int rc;

	if ((rc = ha_open(&h, cfg)) != OK)
		return rc;
	if (cfg->listen && (rc = http_listen(&h->http_fd, cfg->listen)) != OK) {
		h->http_fd = 0;
		ha_close(h);
		return rc;
	}
	log_event(NULL, "ha: %s joins on %zu etcd endpoint%s (lease %u s)", cfg->ha->name,
	    cfg->ha->nendpoints, cfg->ha->nendpoints == 1 ? "" : "s", cfg->ha->lease_seconds);
	if (grant(h) != OK)
		unreachable(h, err_last());
	for (;;) {
		/* Follow until we lead (or stop). */
		rc = ctl_run(cfg, opts, h);
		if (rc != CTL_ROLE)
			break;
		/* We hold the leader key: etcd's state becomes ours. */
		if (adopt_locked(h) != OK) {
			log_event(NULL, "ha: adopting etcd's state failed: %s; following again",
			    err_last());
			depose(h, "could not adopt etcd's state");
			h->leader = 0;
			continue;
		}
		rc = ctl_run(cfg, opts, h);
		if (rc != CTL_ROLE)
			break;
		h->leader = 0;
		h->deposed = 0;
	}
	/* A clean stop hands over at once: revoking the lease (ha_close)
	 * deletes the leader key with it. */
	if (h->leader)
		log_event(NULL, "ha: %s steps down", cfg->ha->name);
	ha_close(h);
	return rc;
}

/* ---- the shell: requests through etcd --------------------------------------- */

int
controller_ha_ask(const struct config *cfg, const char *line, char **reply)
{
	struct hactl *h;
	char rkey[COORD_KEY_MAX], akey[COORD_KEY_MAX], rest[80], id[40];
	unsigned char rnd[8];
	double end;
	int rc;

	*reply = NULL;
	if ((rc = ha_open(&h, cfg)) != OK)
		return rc;
	{
		/* A request id nobody else picks: the time and our pid, hashed. */
		struct timespec ts;
		unsigned char d[CRYPTO_SHA256_LEN];

		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(rest, sizeof(rest), "%ld.%ld.%ld", (long)ts.tv_sec, ts.tv_nsec, (long)getpid());
		crypto_sha256(d, rest, strlen(rest));
		memcpy(rnd, d, sizeof(rnd));
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	snprintf(rest, sizeof(rest), "q/req-%s", id);
	key_of(rkey, sizeof(rkey), h, rest);
	snprintf(rest, sizeof(rest), "a/%s", id);
	key_of(akey, sizeof(akey), h, rest);
	{
		struct coord_op op = { COORD_PUT, rkey, line, strlen(line), 0 };
		struct coord_txn t = { NULL, 0, &op, NULL, 1, 0 };
		struct coord_txn_result r;

		if ((rc = h->cp->ops->txn(h->cs, &t, &r, 3000)) != OK) {
			ha_close(h);
			return rc;
		}
		coord_txn_result_dispose(&r);
	}
	/* The leader takes it within a poll, or a successor within a lease. */
	end = log_now() + 30 + cfg->ha->lease_seconds;
	rc = err_set(ERR_AGAIN, "no leader answered within %u s", 30 + cfg->ha->lease_seconds);
	while (log_now() < end) {
		struct coord_kvs kvs;

		if (h->cp->ops->range(h->cs, akey, 0, &kvs, 2000) == OK && kvs.n) {
			*reply = xstrndup((const char *)kvs.v[0].val, kvs.v[0].len);
			coord_kvs_dispose(&kvs);
			rc = OK;
			break;
		}
		coord_kvs_dispose(&kvs);
		poll(NULL, 0, 100);
	}
	{
		struct coord_op ops[2] = { { COORD_DEL, akey, NULL, 0, 0 },
			{ COORD_DEL, rkey, NULL, 0, 0 } };
		struct coord_txn t = { NULL, 0, ops, NULL, 2, 0 };
		struct coord_txn_result r;

		if (h->cp->ops->txn(h->cs, &t, &r, 2000) == OK)
			coord_txn_result_dispose(&r);
	}
	h->lease = 0;
	ha_close(h);
	return rc;
}

int
controller_ha_fence(const struct config *cfg, const char *fence)
{
	struct hactl *h;
	char lkey[COORD_KEY_MAX];
	uint64_t rev;
	int rc;

	if (parse_u64(&rev, fence, 1, (uint64_t)INT64_MAX) != OK)
		return err_set(ERR_INVALID, "--ha-fence is the leader key's create revision");
	if ((rc = ha_open(&h, cfg)) != OK)
		return rc;
	key_of(lkey, sizeof(lkey), h, "leader");
	{
		struct coord_cmp cmp = { lkey, COORD_CREATE, COORD_EQ, (int64_t)rev, NULL, 0 };
		struct coord_txn t = { &cmp, 1, NULL, NULL, 0, 0 };
		struct coord_txn_result r;

		if ((rc = h->cp->ops->txn(h->cs, &t, &r, 2000)) == OK) {
			if (!r.succeeded)
				rc = err_set(ERR_DENIED, "the controller that ran this command no longer "
				    "leads (etcd's leader key is not the one of revision %s)", fence);
			coord_txn_result_dispose(&r);
		}
	}
	ha_close(h);
	return rc;
}

int
controller_ha_status(const struct config *cfg, struct buf *out)
{
	struct hactl *h;
	int rc;

	if ((rc = ha_open(&h, cfg)) != OK)
		return rc;
	h->call_ms = 2000;
	status_lines(h, out);
	ha_close(h);
	return OK;
}
