/*
 * chat_util.c - see chat_util.h.
 */
#include "providers/chat/chat_util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/fs.h"
#include "base/secret.h"
#include "providers/chat/slack_in.h"

#define CHAT_HTTP_BODY_MAX (1024 * 1024)

int
chat_cfg_keys(const struct ynode *cfg, const char *const *allowed)
{
	const struct ynode *k;

	if (!cfg || cfg->type != YNODE_MAP)
		return err_set(ERR_INVALID, "must be a mapping");
	if ((k = ynode_unknown_key(cfg, allowed, NULL)))
		return err_set(ERR_INVALID, "unknown key '%s'", k->str);
	return OK;
}

int
chat_cfg_str(const char **out, const struct ynode *cfg, const char *key, int required)
{
	const struct ynode *v = ynode_get(cfg, key);
	size_t i;

	*out = NULL;
	if (!v || (v->type == YNODE_SCALAR && ynode_scalar_kind(v) == YSCALAR_NULL)) {
		if (required)
			return err_set(ERR_INVALID, "%s: missing", key);
		return OK;
	}
	if (v->type != YNODE_SCALAR)
		return err_set(ERR_INVALID, "%s: must be a string, not %s", key,
		    ynode_type_name(v));
	if (v->len == 0)
		return err_set(ERR_INVALID, "%s: is empty", key);
	for (i = 0; i < v->len; i++) {
		unsigned char c = (unsigned char)v->str[i];

		if (c < 0x20 || c == 0x7f)
			return err_set(ERR_INVALID, "%s: holds a control character", key);
	}
	*out = v->str;
	return OK;
}

int
chat_read_secret(char **out, const char *path, const char *key)
{
	/* err_last() names the path and the reason; add the key.  Whatever
	 * the reason, the provider's entry is what is wrong: ERR_INVALID. */
	if (secret_read(out, path, SECRET_TOKEN) != OK)
		return err_set(ERR_INVALID, "%s: %s", key, err_last());
	return OK;
}

void
chat_secret_free(char *secret)
{
	secret_free(secret);
}

size_t
chat_utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n;

	if (len <= max)
		return len;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* The length of the UTF-8 sequence a lead byte starts (1 for anything
 * that is not a valid lead, which the cut then treats as one byte). */
static size_t
utf8_seq_len(unsigned char c)
{
	if (c >= 0xF0 && c <= 0xF4)
		return 4;
	if (c >= 0xE0)
		return c <= 0xEF ? 3 : 1;
	if (c >= 0xC2)
		return 2;
	return 1;
}

size_t
chat_put_oneline(struct buf *b, const char *s, size_t max)
{
	size_t i = 0, used = 0, n = strlen(s);

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t k;

		if (c == '\r' || c == '\n' || c == '\t') {
			if (used + 1 > max)
				break;
			buf_putc(b, ' ');
			used++;
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			i++;
			continue;
		}
		k = utf8_seq_len(c);
		if (i + k > n)
			k = n - i;
		if (used + k > max)
			break;
		buf_append(b, s + i, k);
		used += k;
		i += k;
	}
	return i;
}

size_t
chat_md_append(struct buf *b, const char *s, size_t n, size_t limit, unsigned flags)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		const char *rep = s + i;
		size_t rl = 1, k = 1;

		if ((flags & CHAT_MD_ENTITIES) && c == '&')
			rep = "&amp;", rl = 5;
		else if ((flags & CHAT_MD_ENTITIES) && c == '<')
			rep = "&lt;", rl = 4;
		else if ((flags & CHAT_MD_ENTITIES) && c == '>')
			rep = "&gt;", rl = 4;
		else if ((flags & CHAT_MD_CODE) && c == '`' && i + 1 < n && s[i + 1] == '`')
			rep = "`\xe2\x80\x8b", rl = 4;
		else if ((flags & CHAT_MD_MENTIONS) && c == '@' && i + 1 < n &&
		    ((s[i + 1] >= 'a' && s[i + 1] <= 'z') || (s[i + 1] >= 'A' && s[i + 1] <= 'Z') ||
		    (s[i + 1] >= '0' && s[i + 1] <= '9')))
			rep = "@\xe2\x80\x8b", rl = 4;
		else if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			rep = "", rl = 0;
		else if (c >= 0x80) {
			k = utf8_seq_len(c);
			if (i + k > n)
				k = n - i;
			rl = k;
		}
		if (b->len + rl > limit)
			break;
		buf_append(b, rep, rl);
		i += k;
	}
	return i;
}

int
chat_url_ok(const char *url)
{
	const char *p;

	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return 0;
	if (strlen(url) > 2048)
		return 0;
	for (p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

struct chat_http {
	CURL *curl;
	char *proxy;
};

int
chat_http_open(struct chat_http **out, const char *proxy)
{
	static int global_done;
	struct chat_http *h;

	*out = NULL;
	/* curl_global_init is thread-safe since libcurl 7.84; the daemon is
	 * single-threaded anyway.  Never cleaned up: it lives as long as the
	 * process. */
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return err_set(ERR, "libcurl initialisation failed");
		global_done = 1;
	}
	h = xcalloc(1, sizeof(*h));
	if (!(h->curl = curl_easy_init())) {
		free(h);
		return err_set(ERR, "libcurl: cannot make a handle");
	}
	h->proxy = xstrdup(proxy ? proxy : "");
	*out = h;
	return OK;
}

void
chat_http_close(struct chat_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h->proxy);
	free(h);
}

static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;

	if (buf_append(b, p, size * n) != OK)
		return 0;   /* over the cap: libcurl stops with CURLE_WRITE_ERROR */
	return size * n;
}

static size_t
on_header(char *p, size_t size, size_t n, void *ud)
{
	struct chat_http_result *res = ud;
	size_t len = size * n, i;
	unsigned long v = 0;

	/* A new status line (after a 100 Continue, say) starts afresh. */
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0)
		res->retry_after = 0;
	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		i = 12;
		while (i < len && (p[i] == ' ' || p[i] == '\t'))
			i++;
		/* Only the delta-seconds form; an HTTP date counts as absent. */
		for (; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
			v = v * 10 + (unsigned long)(p[i] - '0');
			if (v > 86400)
				v = 86400;
		}
		res->retry_after = (unsigned)v;
	}
	return len;
}

int
chat_http_post(struct chat_http *h, const char *what, const char *url,
    const char *const *headers, const char *body, size_t len,
    struct chat_http_result *res)
{
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hl = NULL, *tmp;
	CURLcode cc;
	size_t i;
	int rc = OK;

	memset(res, 0, sizeof(*res));
	res->body.cap = CHAT_HTTP_BODY_MAX;
	errbuf[0] = '\0';
	for (i = 0; headers && headers[i]; i++) {
		if (!(tmp = curl_slist_append(hl, headers[i])))
			goto oom;
		hl = tmp;
	}
	/* No "Expect: 100-continue" round trip. */
	if (!(tmp = curl_slist_append(hl, "Expect:")))
		goto oom;
	hl = tmp;

	curl_easy_reset(h->curl);
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	/* "" turns proxies off, including any http_proxy in the environment. */
	curl_easy_setopt(h->curl, CURLOPT_PROXY, h->proxy);
	curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "firebreak");
	curl_easy_setopt(h->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CHAT_HTTP_BODY_MAX);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &res->body);
	curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, res);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, errbuf);

	cc = curl_easy_perform(h->curl);
	switch (cc) {
	case CURLE_OK:
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &res->status);
		break;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		rc = err_set(ERR, "%s: the response is larger than 1 MiB", what);
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		rc = err_set(ERR_INVALID, "%s: %s", what, curl_easy_strerror(cc));
		break;
	default:
		/* errbuf may name the host, never the path (which is where a
		 * webhook keeps its secret): libcurl's messages name hosts. */
		rc = err_set(ERR_AGAIN, "%s: %s", what,
		    errbuf[0] ? errbuf : curl_easy_strerror(cc));
		break;
	}
	/* The handle keeps pointers to our header list and buffers: unhook
	 * them before they go away. */
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hl);
	return rc;
oom:
	curl_slist_free_all(hl);
	return err_set(ERR, "%s: out of memory", what);
}

int
chat_url_origin(char *out, size_t n, const char *url)
{
	const char *host, *end, *port = NULL;
	size_t hl, i, k = 0;
	int https;

	if (!chat_url_ok(url))
		return err_set(ERR_INVALID, "not an http(s) URL");
	https = strncmp(url, "https://", 8) == 0;
	host = url + (https ? 8 : 7);
	end = host + strcspn(host, "/?#");
	if (memchr(host, '@', (size_t)(end - host)))
		return err_set(ERR_INVALID, "a URL with a user name is not accepted");
	for (i = 0; host + i < end; i++)
		if (host[i] == ':')
			port = host + i;
	hl = (size_t)((port ? port : end) - host);
	if (!hl)
		return err_set(ERR_INVALID, "a URL without a host");
	if (port) {
		size_t pl = (size_t)(end - port - 1);

		if (!pl || pl > 5 || strspn(port + 1, "0123456789") < pl)
			return err_set(ERR_INVALID, "a URL with a bad port");
		if ((https && pl == 3 && strncmp(port + 1, "443", 3) == 0) ||
		    (!https && pl == 2 && strncmp(port + 1, "80", 2) == 0))
			port = NULL;
	}
	if (n < 9 + hl + 7)
		return err_set(ERR_TOOBIG, "URL origin too long");
	k = (size_t)snprintf(out, n, "%s://", https ? "https" : "http");
	for (i = 0; i < hl; i++)
		out[k++] = (char)((host[i] >= 'A' && host[i] <= 'Z') ? host[i] + 32 : host[i]);
	out[k] = '\0';
	if (port)
		snprintf(out + k, n - k, "%.*s", (int)(end - port), port);
	return OK;
}

int
chat_url_same_origin(const char *url, const char *origin_url)
{
	char a[300], b[300];

	return chat_url_origin(a, sizeof(a), url) == OK &&
	    chat_url_origin(b, sizeof(b), origin_url) == OK && strcmp(a, b) == 0;
}

int
chat_reply_post(const char *url, const char *text)
{
	static const char *const headers[] = { "Content-Type: application/json", NULL };
	struct chat_http *h = NULL;
	struct chat_http_result res;
	struct buf body = BUF_INIT;
	int rc = OK;

	memset(&res, 0, sizeof(res));
	if (strchr(text, '\n') && strchr(text, '\n')[1]) {
		char *fenced = xasprintf("```\n%s```", text);

		chat_reply_json(&body, fenced, 0);
		free(fenced);
	} else {
		chat_reply_json(&body, text, 0);
	}
	if ((rc = chat_http_open(&h, NULL)) != OK ||
	    (rc = chat_http_post(h, "response_url", url, headers, body.data, body.len, &res)) != OK)
		rc = err_set(rc, "answering through response_url: %s", err_last());
	else if (res.status < 200 || res.status > 299)
		rc = err_set(ERR, "response_url answered HTTP %ld", res.status);
	buf_dispose(&res.body);
	buf_dispose(&body);
	chat_http_close(h);
	return rc;
}

void
chat_ack_json(struct chat_http_reply *rep, unsigned status, const char *text)
{
	rep->status = status;
	rep->content_type = "application/json";
	chat_reply_json(&rep->body, text, 0);
}
