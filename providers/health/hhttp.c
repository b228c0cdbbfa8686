/*
 * hhttp.c - the HTTP requests of one health evaluation, run in parallel
 * through libcurl's multi interface.  Blocking: only ever called in the
 * evaluation's child (health_registry.c), never in the controller's loop.
 * See hsource.h.
 *
 * What a source says is hostile: a body past HEALTH_BODY_MAX ends the
 * transfer; redirects are not followed (a source that answers 3xx is
 * misconfigured, and following would send the query elsewhere); only
 * http and https; the error text is ours (an HTTP status or one of
 * libcurl's own fixed strings), never the body.
 */
#include "providers/health/hsource.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t
on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct health_http *h = ctx;
	size_t n = size * nmemb;

	if (h->body.len + n > HEALTH_BODY_MAX)
		return 0;      /* libcurl ends the transfer: CURLE_WRITE_ERROR */
	buf_append(&h->body, data, n);
	return n;
}

static CURL *
easy_for(struct health_http *h, unsigned timeout)
{
	CURL *e = curl_easy_init();

	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, h->url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, h->post);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(h->post));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(e, CURLOPT_PRIVATE, h);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)timeout);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)timeout);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(e, CURLOPT_USERAGENT, "firebreak-health");
	return e;
}

static void
done(CURL *e, CURLcode rc, unsigned timeout)
{
	struct health_http *h = NULL;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&h);
	if (!h)
		return;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &h->status);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		snprintf(h->error, sizeof(h->error), "timed out after %u s", timeout);
	else if (rc == CURLE_WRITE_ERROR)
		snprintf(h->error, sizeof(h->error), "an answer larger than %u bytes",
		    HEALTH_BODY_MAX);
	else if (rc != CURLE_OK)
		snprintf(h->error, sizeof(h->error), "%s", curl_easy_strerror(rc));
	else if (h->status != 200)
		snprintf(h->error, sizeof(h->error), "HTTP %ld", h->status);
}

void
health_http_run(struct health_http *rq, size_t n, unsigned parallel, unsigned timeout)
{
	CURLM *m = curl_multi_init();
	size_t next = 0, running = 0, i;

	if (!m) {
		for (i = 0; i < n; i++)
			snprintf(rq[i].error, sizeof(rq[i].error), "libcurl could not start");
		return;
	}
	if (!parallel)
		parallel = 1;
	while (next < n || running) {
		CURLMsg *msg;
		int still = 0, left;

		while (next < n && running < parallel) {
			CURL *e = easy_for(&rq[next], timeout);

			if (!e || curl_multi_add_handle(m, e) != CURLM_OK) {
				snprintf(rq[next].error, sizeof(rq[next].error), "libcurl could not start");
				if (e)
					curl_easy_cleanup(e);
			} else {
				running++;
			}
			next++;
		}
		curl_multi_perform(m, &still);
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			done(msg->easy_handle, msg->data.result, timeout);
			curl_multi_remove_handle(m, msg->easy_handle);
			curl_easy_cleanup(msg->easy_handle);
			running--;
		}
		if (running)
			curl_multi_poll(m, NULL, 0, 200, NULL);
	}
	curl_multi_cleanup(m);
}

void
health_http_dispose(struct health_http *rq, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		size_t k;

		free(rq[i].url);
		free(rq[i].post);
		buf_dispose(&rq[i].body);
		for (k = 0; rq[i].names && k < rq[i].count; k++)
			free(rq[i].names[k]);
		free(rq[i].names);
		free(rq[i].idx);
	}
	free(rq);
}

char *
health_urlencode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b = BUF_INIT;
	const unsigned char *p;

	buf_puts(&b, "");
	for (p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			buf_putc(&b, (char)*p);
		} else {
			buf_putc(&b, '%');
			buf_putc(&b, hex[*p >> 4]);
			buf_putc(&b, hex[*p & 15]);
		}
	}
	return buf_steal(&b);
}
