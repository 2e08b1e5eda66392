/* api_int.h - the management API's private parts, shared by api*.c, the unit test and
 * the fuzz target: the API object, the socket-free request core, auth and certificates.
 *
 * The core (api_core_new + api_handle) turns one request (method, path and query,
 * Authorization header, body) into one response (status, content type, body) without a
 * socket or an event loop; api_http.c feeds it from evhttp, the fuzz target directly.
 */
#ifndef TG_API_INT_H
#define TG_API_INT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <event2/keyvalq_struct.h>

#include "mgmt/api.h"

struct evhttp;
struct evconnlistener;
typedef struct ssl_ctx_st SSL_CTX;

#define API_ERR_MAX        256        /* longest error message in an answer */
#define API_DEF_MAX_BODY   (1u << 20) /* max_body when the config says 0 */

/* Request methods the core knows; anything else is API_M_OTHER (405). */
enum api_method {
	API_M_OTHER = 0,
	API_M_GET,
	API_M_HEAD,                   /* answered as GET, without the body */
	API_M_POST,
	API_M_PUT,
	API_M_DELETE,
	API_M_PATCH,
	API_M_OPTIONS,
};

/* Who made a request: a static token's name and role (or, later, an OIDC identity). */
struct api_ident {
	char name[64];                /* for the audit log */
	uint8_t role;                 /* enum api_role; 0: anonymous */
};

/* Answers by status class, for /metrics (1xx..5xx; [0] unused). */
struct api_counters {
	uint64_t by_class[6];         /* requests answered, by status / 100 */
	uint64_t auth_failures;       /* 401 answers */
	uint64_t forbidden;           /* 403 answers */
};

struct api {
	struct api_config cfg;        /* a copy: tokens, limits, listen address */
	struct api_ops ops;           /* a copy; missing ops answer 503 */
	struct rec *rec;              /* may be NULL: session and audit routes answer 503 */
	struct api_counters cnt;
	/* set by api_start only (api_http.c) */
	struct event_base *base;
	struct evhttp *http;
	struct evconnlistener *lst;
	SSL_CTX *ssl;
	uint16_t port;                /* the bound port (useful when listen asked for 0) */
};

/* One request, as the core sees it. Pointers belong to the caller for the call. */
struct api_request {
	int method;                   /* enum api_method */
	const char *target;           /* path and query ("/v1/sessions?limit=5"), NUL-ended */
	const char *authorization;    /* the Authorization header value, or NULL */
	const char *body;             /* request body (not NUL-ended), may be NULL if empty */
	size_t body_len;
};

/* One answer. <body> is malloc'd (free with api_response_free); the strings are static. */
struct api_response {
	int status;                   /* HTTP status code */
	const char *content_type;     /* "application/json" or the Prometheus text type */
	char *body;                   /* the body bytes (NUL-ended for convenience) */
	size_t body_len;              /* without the NUL */
	const char *allow;            /* the Allow header for 405, else NULL */
	const char *www_authenticate; /* the WWW-Authenticate header for 401, else NULL */
};

/* Whether a route takes a request body. */
enum api_body {
	API_BODY_NONE = 0,            /* a non-empty body is a 400 */
	API_BODY_OPTIONAL = 1,        /* empty, or a JSON object */
	API_BODY_REQUIRED = 2,        /* a JSON object */
};

#define API_ID_MAX 64                 /* longest {id} path segment accepted */

/* One call being answered: what a route handler gets. Valid during the handler only. */
struct api_call {
	struct api *a;
	const struct api_request *rq;
	struct api_response *rs;      /* the handler sets it (api_reply_*) */
	const struct api_ident *who;  /* the caller (anonymous for public routes) */
	const char *id;               /* the {id} path segment, or NULL */
	const struct evkeyvalq *query; /* query parameters, decoded, each name at most once */
	json_t *body;                 /* the body (an object), or NULL; owned by the core */
};

/* A route: path pattern, method, the lowest role allowed, and the handler. */
struct api_route {
	const char *path;             /* "/v1/sessions/{id}/events": {id} is one segment */
	uint8_t method;               /* enum api_method (HEAD is served by GET routes) */
	uint8_t role;                 /* enum api_role; 0: no token needed */
	uint8_t body;                 /* enum api_body */
	const char *const *params;    /* query parameters accepted, NULL-ended (NULL: none) */
	void (*fn)(struct api_call *c);
};

/* ---- api_routes.c: the handlers ---- */

/* The route table and its length (static data). */
const struct api_route *api_routes(unsigned *n);

/* ---- api.c: the core ---- */

/* Creates the socket-free core: validates and copies <cfg> and <ops>. Returns 0, or -1
 * with a message in <err>. */
int api_core_new(const struct api_config *cfg, const struct api_ops *ops, struct rec *rec,
		 struct api **out, char *err, size_t errlen);
/* Frees the core (api_stop frees the HTTP side first). NULL is ignored. */
void api_core_free(struct api *a);

/* Answers request <rq> into <rs> (always: the status is set and the body is JSON, or
 * Prometheus text for /metrics). Never fails; a failure is a 500 answer. */
void api_handle(struct api *a, const struct api_request *rq, struct api_response *rs);
void api_response_free(struct api_response *rs);

/* The reason phrase of <status> ("Not Found"); "Unknown" if not one the API uses. */
const char *api_status_text(int status);

/* Sets <rs> to {"error": <fmt...>} with <status>. Non-UTF-8 bytes in the message are
 * replaced, so that the answer is always valid JSON. */
void api_reply_error(struct api_response *rs, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A new JSON string of <s>; bytes that are not UTF-8 become '?'. NULL if <s> is NULL or
 * memory ran out. */
json_t *api_json_string(const char *s);
/* Sets <rs> to <j> serialized (steals the reference; NULL means 500). */
void api_reply_json(struct api_response *rs, int status, json_t *j);

/* ---- api_auth.c ---- */

enum api_auth_result {
	API_AUTH_OK = 0,              /* <who> is filled */
	API_AUTH_MISSING = 1,         /* no Authorization header, or not "Bearer" */
	API_AUTH_INVALID = 2,         /* a bearer token that no one has */
};

/* Checks the Authorization header value <authz> (may be NULL) against the configured
 * tokens (SHA-256, compared in constant time). Returns enum api_auth_result. */
int api_auth_check(const struct api *a, const char *authz, struct api_ident *who);
/* The role's name ("admin"), or "none" for 0. */
const char *api_role_name(int role);
/* SHA-256 of <token> into <out>, for configuration loaders and tests. */
void api_token_hash(const char *token, uint8_t out[32]);

/* ---- api_cert.c ---- */

/* Makes sure <state_dir>/api-cert.pem and api-key.pem exist and are usable: generates a
 * self-signed EC P-256 certificate (CN=tollgate, SAN IP:127.0.0.1, IP:::1,
 * DNS:localhost, 825 days) if either is missing or the certificate has expired; the key
 * is written 0600. The paths are returned in <cert> and <key> (each <pathlen> bytes).
 * Returns 0 (1 if it generated new ones), or -1 with a message in <err>. */
int api_cert_ensure(const char *state_dir, char *cert, char *key, size_t pathlen,
		    char *err, size_t errlen);

/* ---- api_http.c ---- */

/* The TCP port the API listens on (after api_start; 0 before). */
uint16_t api_port(const struct api *a);

#endif
