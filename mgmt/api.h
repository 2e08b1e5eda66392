/* api.h - the REST management API over HTTPS (DESIGN.md §6).
 *
 * libevent's evhttp serves it on the slow path's event loop, with OpenSSL through
 * bufferevent_openssl (TLS 1.2+); jansson reads and writes the JSON bodies. Routes are
 * versioned under /v1 and described in docs/openapi.yaml. Every route checks the
 * bearer token and the role it needs (admin > approver/auditor > user: see api_auth.c);
 * a missing or unknown token gets 401, a known token without the role 403.
 * Management actions are written to the recorder's audit database.
 *
 * Threads: everything runs on the thread that runs <base> (the slow path).
 */
#ifndef TG_API_H
#define TG_API_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct event_base;
struct rec;
struct api;

#define API_MAX_TOKENS 32

enum api_role {
	API_ROLE_USER     = 1,        /* own bindings and reviews (later issues) */
	API_ROLE_AUDITOR  = 2,        /* read sessions, events, audit, stats */
	API_ROLE_APPROVER = 3,        /* approve reviews (later issues) */
	API_ROLE_ADMIN    = 4,        /* everything: rules, kill, config */
};

/* A static bearer token for bootstrap and automation: only its SHA-256 is stored. */
struct api_token {
	char name[64];                /* who, in the audit log ("ci-bot") */
	uint8_t role;                 /* enum api_role */
	uint8_t sha256[32];           /* SHA-256 of the token text */
};

struct api_config {
	char listen[128];             /* "127.0.0.1:8443" or "[::1]:8443" */
	char cert[256];               /* PEM certificate file; "" = self-signed, generated
	                               * on first start into <state_dir>/api-cert.pem */
	char key[256];                /* PEM private key file */
	char state_dir[256];          /* where a generated certificate is kept */
	unsigned max_body;            /* largest request body accepted (bytes) */
	unsigned n_tokens;
	struct api_token tokens[API_MAX_TOKENS];
};

/* What the API asks of the daemon. Each returns a new JSON value (or -1 with a one-line
 * message in <err> for the ones returning int; the API answers 400/404/409 with it). */
struct api_ops {
	void *ctx;
	json_t *(*health)(void *ctx);                         /* {"status":"ok", ...} */
	json_t *(*stats)(void *ctx);                          /* counters, per worker and total */
	char *(*metrics)(void *ctx);                          /* Prometheus text, malloc'd */
	/* 0, or -1 (unknown). Called after flush, and only for a session the recorder
	 * does not know as closed (that one is answered 409 without asking). */
	int (*kill)(void *ctx, uint64_t sid, char *err, size_t errlen);
	json_t *(*rules_get)(void *ctx);                      /* files and their text, version */
	int (*rules_put)(void *ctx, json_t *body, json_t **result, char *err, size_t errlen);
	int (*rules_test)(void *ctx, json_t *body, json_t **result, char *err, size_t errlen);
	/* Writes what the workers sent the recorder so far, before a read of sessions or
	 * events: an answer then holds everything that happened before the request, not
	 * only what the last periodic batch wrote. May be NULL. */
	void (*flush)(void *ctx);
};

/* Starts serving on <base>. <rec> (may be NULL) serves sessions, events and audit and
 * receives audit records. Returns 0, or -1 with a message in <err>. */
int api_start(struct event_base *base, const struct api_config *cfg, const struct api_ops *ops,
	      struct rec *rec, struct api **out, char *err, size_t errlen);
void api_stop(struct api *a);

/* Parses a role name ("admin"); -1 if unknown. */
int api_role_parse(const char *s);

#endif
