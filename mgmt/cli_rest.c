/* cli_rest.c - tollctl's REST client: one libcurl request per call, HTTPS with a
 * bearer token, JSON bodies (jansson), and the mapping of HTTP errors to messages and
 * exit codes. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "mgmt/cli.h"

#define CLI_BODY_MAX (256u << 20)     /* largest answer read: a metrics page, events */

struct cli_buf {
	char *p;
	size_t len, cap;
	int overflow;                 /* the answer was larger than CLI_BODY_MAX */
};

static size_t cli_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct cli_buf *b = arg;
	size_t n = size * nmemb;

	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > CLI_BODY_MAX || (p = realloc(b->p, cap)) == NULL) {
			b->overflow = 1;
			return 0;             /* libcurl stops with CURLE_WRITE_ERROR */
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

int cli_http(const struct cli_global *g, const char *method, const char *path,
	     const char *body, struct cli_resp *r, char *err, size_t errlen)
{
	char url[CLI_URL_MAX + 1024], ebuf[CURL_ERROR_SIZE] = "";
	char auth[CLI_TOKEN_MAX + 32];
	struct curl_slist *h = NULL, *h2;
	struct cli_buf b = { 0 };
	CURL *c = curl_easy_init();
	CURLcode rc;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	if (c == NULL) {
		snprintf(err, errlen, "cannot initialize libcurl");
		return -1;
	}
	snprintf(url, sizeof(url), "%s%s", g->url, path);
	h2 = curl_slist_append(h, "Accept: application/json");
	h = h2 != NULL ? h2 : h;
	if (body != NULL && (h2 = curl_slist_append(h, "Content-Type: application/json")) != NULL)
		h = h2;
	if (g->token[0] != '\0') {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", g->token);
		if ((h2 = curl_slist_append(h, auth)) != NULL)
			h = h2;
		explicit_bzero(auth, sizeof(auth));
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "tollctl/" TG_VERSION);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	/* never follow a redirect: the token would go along to wherever it points */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, g->timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, g->timeout_s < 10 ? g->timeout_s : 10L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cli_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (g->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (g->cacert[0] != '\0') {
		curl_easy_setopt(c, CURLOPT_CAINFO, g->cacert);
	}
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		/* POST and PUT both send <body> (or an empty one) */
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(body != NULL ? strlen(body) : 0));
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s%s", b.overflow ? "the answer is larger than 256 MiB" :
			 ebuf[0] ? ebuf : curl_easy_strerror(rc), rc == CURLE_PEER_FAILED_VERIFICATION ?
			 " (trust the appliance's certificate with --cacert FILE, its api-cert.pem, "
			 "or skip the check with --insecure)" : "");
		free(b.p);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	r->body = b.p != NULL ? b.p : strdup("");
	r->len = b.len;
	if (r->body == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	ret = 0;
out:
	curl_slist_free_all(h);       /* holds a copy of the Authorization header */
	curl_easy_cleanup(c);
	return ret;
}

void cli_resp_free(struct cli_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

int cli_resp_judge(const struct cli_resp *r, enum cli_nf nf, const char *id, FILE *err)
{
	json_t *j;
	const char *msg;
	int rc;

	if (r->status >= 200 && r->status < 300)
		return CLI_EXIT_OK;
	j = json_loads(r->body != NULL ? r->body : "", 0, NULL);
	msg = cli_jstr(j, "error", NULL);
	switch (r->status) {
	case 401:
		fprintf(err, "tollctl: bad or missing token (give --token-file, --token or "
			"$TOLLGATE_TOKEN)\n");
		rc = CLI_EXIT_AUTH;
		break;
	case 403:
		fprintf(err, "tollctl: token lacks the role for this%s%s\n", msg ? ": " : "", msg ? msg : "");
		rc = CLI_EXIT_AUTH;
		break;
	case 404:
		if (nf == CLI_NF_SESSION)
			fprintf(err, "tollctl: unknown session %s\n", id != NULL ? id : "");
		else
			fprintf(err, "tollctl: not found: %s\n", msg ? msg : "no such route on this server");
		rc = CLI_EXIT_NOTFOUND;
		break;
	default:
		if (msg != NULL)
			fprintf(err, "tollctl: %s (HTTP %ld)\n", msg, r->status);
		else
			fprintf(err, "tollctl: the server answered HTTP %ld\n", r->status);
		rc = CLI_EXIT_FAIL;
		break;
	}
	json_decref(j);
	return rc;
}

int cli_call(const struct cli_global *g, const char *method, const char *path,
	     const json_t *body, enum cli_nf nf, const char *id, json_t **out,
	     struct cli_resp *raw)
{
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	struct cli_resp r;
	json_error_t je;
	char err[CURL_ERROR_SIZE + 256];
	int rc;

	if (out != NULL)
		*out = NULL;
	if (body != NULL && text == NULL) {
		fprintf(stderr, "tollctl: out of memory\n");
		return CLI_EXIT_FAIL;
	}
	rc = cli_http(g, method, path, text, &r, err, sizeof(err));
	free(text);
	if (rc < 0) {
		fprintf(stderr, "tollctl: cannot reach %s: %s\n", g->url, err);
		return CLI_EXIT_UNREACHABLE;
	}
	if ((rc = cli_resp_judge(&r, nf, id, stderr)) != CLI_EXIT_OK)
		goto out;
	if (out != NULL && (*out = json_loadb(r.body, r.len, JSON_DECODE_ANY, &je)) == NULL) {
		fprintf(stderr, "tollctl: %s%s answered with bad JSON: %s\n", g->url, path, je.text);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (raw != NULL) {
		*raw = r;
		return CLI_EXIT_OK;
	}
out:
	cli_resp_free(&r);
	return rc;
}

int cli_query_add(char *path, size_t cap, const char *key, const char *val)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = strlen(path);
	int n = snprintf(path + o, cap - o, "%c%s=", strchr(path, '?') ? '&' : '?', key);

	if (n < 0 || (size_t)n >= cap - o)
		return -1;
	o += (size_t)n;
	for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
		/* RFC 3986 unreserved characters pass, everything else is %XX */
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			if (o + 1 >= cap)
				return -1;
			path[o++] = (char)*p;
		} else {
			if (o + 3 >= cap)
				return -1;
			path[o++] = '%';
			path[o++] = hex[*p >> 4];
			path[o++] = hex[*p & 15];
		}
	}
	path[o] = '\0';
	return 0;
}
