/* api_auth.c - bearer-token authentication and roles for the management API.
 *
 * Static tokens (bootstrap, automation) are configured by their SHA-256 only; a request's
 * token is hashed and compared with every configured hash in constant time, so neither
 * the token nor which entry it matched leaks through timing. Roles are ordered:
 * admin > approver > auditor > user; a route names the lowest role it accepts.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mgmt/api_int.h"

#define API_TOKEN_MAX 8192            /* longer bearer values are not tokens of ours */

static const char *const role_names[] = {
	[0] = "none",
	[API_ROLE_USER] = "user",
	[API_ROLE_AUDITOR] = "auditor",
	[API_ROLE_APPROVER] = "approver",
	[API_ROLE_ADMIN] = "admin",
};

int api_role_parse(const char *s)
{
	if (!s)
		return -1;
	for (int r = API_ROLE_USER; r <= API_ROLE_ADMIN; r++)
		if (strcmp(s, role_names[r]) == 0)
			return r;
	return -1;
}

const char *api_role_name(int role)
{
	if (role < 0 || role > API_ROLE_ADMIN)
		return "none";
	return role_names[role];
}

void api_token_hash(const char *token, uint8_t out[32])
{
	unsigned int len = 32;

	if (EVP_Digest(token, strlen(token), out, &len, EVP_sha256(), NULL) != 1)
		memset(out, 0, 32); /* an all-zero hash matches no configured token */
}

/* Finds the token in "Bearer <token>" (RFC 6750: scheme case-insensitive, one or more
 * spaces). Returns its start and length in <len>, or NULL. */
static const char *bearer_token(const char *authz, size_t *len)
{
	const char *p, *e;

	if (!authz || strncasecmp(authz, "Bearer", 6) != 0 || (authz[6] != ' ' && authz[6] != '\t'))
		return NULL;
	p = authz + 6;
	while (*p == ' ' || *p == '\t')
		p++;
	e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e == p || (size_t)(e - p) > API_TOKEN_MAX)
		return NULL;
	for (const char *c = p; c < e; c++)
		if (*c == ' ' || *c == '\t')
			return NULL;
	*len = (size_t)(e - p);
	return p;
}

/* OIDC ID tokens for people (a later issue) plug in here: a bearer value that is a JWT
 * (three base64url parts) will be verified against the issuer's JWKS by the identity
 * module (signature, iss, aud, exp, nbf), and its groups mapped to a role; <who> then gets
 * the user's name. Until then no JWT is accepted. Returns 0 with <who> filled, or -1. */
static int auth_oidc(const struct api *a, const char *token, size_t len, struct api_ident *who)
{
	return -1;
}

int api_auth_check(const struct api *a, const char *authz, struct api_ident *who)
{
	uint8_t h[32];
	unsigned int hlen = sizeof(h);
	const char *tok;
	size_t len;
	int found = -1;

	tok = bearer_token(authz, &len);
	if (!tok)
		return API_AUTH_MISSING;
	if (EVP_Digest(tok, len, h, &hlen, EVP_sha256(), NULL) != 1)
		return API_AUTH_INVALID;
	/* Every configured hash is compared, whatever matched before. */
	for (unsigned i = 0; i < a->cfg.n_tokens; i++)
		if (CRYPTO_memcmp(h, a->cfg.tokens[i].sha256, sizeof(h)) == 0)
			found = (int)i;
	if (found >= 0) {
		const struct api_token *t = &a->cfg.tokens[found];

		snprintf(who->name, sizeof(who->name), "%s", t->name);
		who->role = t->role;
		return API_AUTH_OK;
	}
	if (auth_oidc(a, tok, len, who) == 0)
		return API_AUTH_OK;
	return API_AUTH_INVALID;
}
