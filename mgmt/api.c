/* api.c - the management API's request core: route lookup, method and role checks,
 * query and body parsing, JSON answers. No socket here (api_http.c feeds it). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>

#include "mgmt/api_int.h"

#define API_MAX_QUERY_PARAMS 16       /* more parameters than any route has: a 400 */

static const char API_JSON[] = "application/json";

const char *api_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default:  return "Unknown";
	}
}

/* Answers 500 with a fixed body: what is left when even allocation failed. */
static void reply_oom(struct api_response *rs)
{
	static const char msg[] = "{\"error\":\"out of memory\"}\n";

	free(rs->body);
	rs->status = 500;
	rs->content_type = API_JSON;
	rs->body = strdup(msg);
	rs->body_len = rs->body ? sizeof(msg) - 1 : 0;
}

void api_reply_json(struct api_response *rs, int status, json_t *j)
{
	char *text;
	size_t len;

	if (!j) {
		api_reply_error(rs, 500, "internal error: no answer");
		return;
	}
	text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (!text) {
		reply_oom(rs);
		return;
	}
	len = strlen(text);
	/* One more byte for the newline: answers read well with curl. */
	char *body = realloc(text, len + 2);
	if (!body) {
		free(text);
		reply_oom(rs);
		return;
	}
	body[len] = '\n';
	body[len + 1] = 0;
	free(rs->body);
	rs->status = status;
	rs->content_type = API_JSON;
	rs->body = body;
	rs->body_len = len + 1;
}

json_t *api_json_string(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j || !s)
		return j;
	/* Not UTF-8 (bytes from the request, or a cut in the middle of a character): keep
	 * the ASCII, so that the answer is valid JSON. */
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

void api_reply_error(struct api_response *rs, int status, const char *fmt, ...)
{
	char msg[API_ERR_MAX];
	va_list ap;
	json_t *s;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s = api_json_string(msg);
	json_t *j = json_object();
	if (!s || !j || json_object_set_new(j, "error", s) != 0) {
		json_decref(j);
		reply_oom(rs);
		return;
	}
	api_reply_json(rs, status, j);
	if (rs->status == status)
		rs->allow = rs->www_authenticate = NULL;
}

void api_response_free(struct api_response *rs)
{
	free(rs->body);
	rs->body = NULL;
	rs->body_len = 0;
}

int api_core_new(const struct api_config *cfg, const struct api_ops *ops, struct rec *rec,
		 struct api **out, char *err, size_t errlen)
{
	struct api *a;

	*out = NULL;
	if (!cfg || !ops) {
		snprintf(err, errlen, "api: no configuration or no operations");
		return -1;
	}
	if (cfg->n_tokens > API_MAX_TOKENS) {
		snprintf(err, errlen, "api: %u tokens, at most %d", cfg->n_tokens, API_MAX_TOKENS);
		return -1;
	}
	for (unsigned i = 0; i < cfg->n_tokens; i++) {
		const struct api_token *t = &cfg->tokens[i];

		if (t->role < API_ROLE_USER || t->role > API_ROLE_ADMIN) {
			snprintf(err, errlen, "api: token %u (%.64s) has no valid role", i,
				 t->name);
			return -1;
		}
		if (!memchr(t->name, 0, sizeof(t->name)) || !t->name[0]) {
			snprintf(err, errlen, "api: token %u has no name", i);
			return -1;
		}
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "api: out of memory");
		return -1;
	}
	a->cfg = *cfg;
	if (!a->cfg.max_body)
		a->cfg.max_body = API_DEF_MAX_BODY;
	a->ops = *ops;
	a->rec = rec;
	*out = a;
	return 0;
}

void api_core_free(struct api *a)
{
	free(a);
}

/* Matches <path> (<plen> bytes) against the pattern <pat>; "{id}" takes one non-empty
 * segment, returned in <id>/<idlen>. Returns 1 on a match. */
static int path_match(const char *pat, const char *path, size_t plen, const char **id,
		      size_t *idlen)
{
	size_t i = 0;

	*id = NULL;
	*idlen = 0;
	while (*pat) {
		if (strncmp(pat, "{id}", 4) == 0) {
			size_t s = i;

			while (i < plen && path[i] != '/')
				i++;
			if (i == s)
				return 0;
			*id = path + s;
			*idlen = i - s;
			pat += 4;
			continue;
		}
		if (i >= plen || path[i] != *pat)
			return 0;
		i++;
		pat++;
	}
	return i == plen;
}

static const char *method_name(int m)
{
	static const char *const names[] = {
		[API_M_GET] = "GET", [API_M_HEAD] = "HEAD", [API_M_POST] = "POST",
		[API_M_PUT] = "PUT", [API_M_DELETE] = "DELETE", [API_M_PATCH] = "PATCH",
		[API_M_OPTIONS] = "OPTIONS",
	};

	if (m > 0 && m < (int)(sizeof(names) / sizeof(names[0])) && names[m])
		return names[m];
	return "?";
}

/* The Allow header for a path whose routes accept <mask> (bit per method). Static
 * strings: the route table has few combinations. */
static const char *allow_header(unsigned mask)
{
	static const struct {
		unsigned mask;
		const char *text;
	} known[] = {
		{ 1u << API_M_GET, "GET, HEAD" },
		{ 1u << API_M_POST, "POST" },
		{ 1u << API_M_PUT, "PUT" },
		{ (1u << API_M_GET) | (1u << API_M_PUT), "GET, HEAD, PUT" },
		{ (1u << API_M_GET) | (1u << API_M_POST), "GET, HEAD, POST" },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i].mask == mask)
			return known[i].text;
	return "GET, HEAD, POST, PUT";
}

/* Parses the query string <q> into <kv>, accepting only the route's <params>, each once.
 * Returns 0, or -1 after answering 400. */
static int parse_query(struct api_response *rs, const char *q, const char *const *params,
		       struct evkeyvalq *kv)
{
	const struct evkeyval *p;
	unsigned n = 0;

	if (!q || !*q)
		return 0;
	if (evhttp_parse_query_str(q, kv) != 0) {
		api_reply_error(rs, 400, "malformed query string");
		return -1;
	}
	TAILQ_FOREACH(p, kv, next) {
		int known = 0;

		if (++n > API_MAX_QUERY_PARAMS) {
			api_reply_error(rs, 400, "too many query parameters");
			return -1;
		}
		for (const char *const *k = params; k && *k; k++)
			if (strcmp(*k, p->key) == 0)
				known = 1;
		if (!known) {
			api_reply_error(rs, 400, "unknown query parameter '%.64s'", p->key);
			return -1;
		}
		for (const struct evkeyval *o = TAILQ_FIRST(kv); o != p; o = TAILQ_NEXT(o, next))
			if (strcmp(o->key, p->key) == 0) {
				api_reply_error(rs, 400, "query parameter '%.64s' given twice",
						p->key);
				return -1;
			}
	}
	return 0;
}

/* Parses the body for a route that takes <mode>. Returns 0 with *out (NULL for an empty
 * optional body), or -1 after answering 400. */
static int parse_body(struct api_response *rs, const struct api_request *rq, int mode,
		      json_t **out)
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	if (rq->body_len == 0 || !rq->body) {
		if (mode == API_BODY_REQUIRED) {
			api_reply_error(rs, 400, "a JSON object body is required");
			return -1;
		}
		return 0;
	}
	if (mode == API_BODY_NONE) {
		api_reply_error(rs, 400, "this route takes no request body");
		return -1;
	}
	j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		api_reply_error(rs, 400, "malformed JSON: %s (line %d, column %d)", jerr.text,
				jerr.line, jerr.column);
		return -1;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		api_reply_error(rs, 400, "the body must be a JSON object");
		return -1;
	}
	*out = j;
	return 0;
}

/* Checks the caller against the route's role. Returns 0, or -1 after answering 401/403. */
static int authorize(struct api *a, const struct api_request *rq, const struct api_route *r,
		     struct api_response *rs, struct api_ident *who)
{
	memset(who, 0, sizeof(*who));
	snprintf(who->name, sizeof(who->name), "anonymous");
	if (r->role == 0)
		return 0;
	switch (api_auth_check(a, rq->authorization, who)) {
	case API_AUTH_OK:
		break;
	case API_AUTH_MISSING:
		a->cnt.auth_failures++;
		api_reply_error(rs, 401, "a bearer token is required");
		rs->www_authenticate = "Bearer realm=\"tollgate\"";
		return -1;
	default:
		a->cnt.auth_failures++;
		api_reply_error(rs, 401, "unknown bearer token");
		rs->www_authenticate = "Bearer realm=\"tollgate\", error=\"invalid_token\"";
		return -1;
	}
	if (who->role < r->role) {
		a->cnt.forbidden++;
		api_reply_error(rs, 403, "this route needs the %s role; '%s' is %s",
				api_role_name(r->role), who->name, api_role_name(who->role));
		return -1;
	}
	return 0;
}

/* Finds the route for <path>; answers 404 or 405 if there is none for the method. */
static const struct api_route *route_find(const struct api_request *rq, const char *path,
					  size_t plen, struct api_response *rs, char *id)
{
	unsigned n, mask = 0;
	const struct api_route *routes = api_routes(&n);
	int m = rq->method == API_M_HEAD ? API_M_GET : rq->method;

	for (unsigned i = 0; i < n; i++) {
		const char *seg;
		size_t seglen;

		if (!path_match(routes[i].path, path, plen, &seg, &seglen))
			continue;
		mask |= 1u << routes[i].method;
		if (routes[i].method != m)
			continue;
		id[0] = 0;
		if (seg) {
			/* Longer than any id: keep a prefix, the handler rejects it. */
			size_t l = seglen < API_ID_MAX ? seglen : API_ID_MAX;

			memcpy(id, seg, l);
			id[l] = 0;
		}
		return &routes[i];
	}
	if (mask) {
		api_reply_error(rs, 405, "method %s not allowed here", method_name(rq->method));
		rs->allow = allow_header(mask);
	} else {
		api_reply_error(rs, 404, "no route %.*s", (int)(plen > 128 ? 128 : plen), path);
	}
	return NULL;
}

/* The core without the counting: see api_handle. */
static void handle(struct api *a, const struct api_request *rq, struct api_response *rs)
{
	char id[API_ID_MAX + 1];
	const char *t = rq->target ? rq->target : "";
	const char *q = strchr(t, '?');
	size_t plen = q ? (size_t)(q - t) : strlen(t);
	const struct api_route *r;
	struct api_ident who;
	struct evkeyvalq kv;
	json_t *body = NULL;

	if (t[0] != '/') {
		api_reply_error(rs, 404, "no route %.128s", t);
		return;
	}
	r = route_find(rq, t, plen, rs, id);
	if (!r || authorize(a, rq, r, rs, &who) != 0)
		return;
	if (rq->body_len > a->cfg.max_body) {
		api_reply_error(rs, 413, "request body of %zu bytes, at most %u", rq->body_len,
				a->cfg.max_body);
		return;
	}
	TAILQ_INIT(&kv);
	if (parse_query(rs, q ? q + 1 : NULL, r->params, &kv) == 0 &&
	    parse_body(rs, rq, r->body, &body) == 0) {
		struct api_call c = {
			.a = a, .rq = rq, .rs = rs, .who = &who, .query = &kv, .body = body,
			.id = strstr(r->path, "{id}") ? id : NULL,
		};

		rs->status = 0;
		r->fn(&c);
		if (rs->status == 0)
			api_reply_error(rs, 500, "internal error: the route gave no answer");
	}
	json_decref(body);
	evhttp_clear_headers(&kv);
}

void api_handle(struct api *a, const struct api_request *rq, struct api_response *rs)
{
	memset(rs, 0, sizeof(*rs));
	handle(a, rq, rs);
	if (rs->status >= 100 && rs->status < 600)
		a->cnt.by_class[rs->status / 100]++;
}
