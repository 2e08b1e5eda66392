/* rule_load.c - rule sets: reading the files, hashing them (the set's version and the
 * cache key), handing each to rule_parse.c and the whole set to rule_compile.c; and the
 * set's accessors.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/tg_log.h"
#include "rules/rule.h"
#include "rules/rule_int.h"

/* Bumped whenever the way databases are compiled changes, so that old cache entries
 * are never read back. */
#define LD_CACHE_FORMAT  "tollgate-rules-cache-v2"   /* v2: class prefilters */

/* State of one rule_set_load() call. */
struct ld_ctx {
	struct rule_set *rs;         /* being filled */
	const struct dp_config *res; /* resource names, or NULL */
	const char *file;            /* the file being read, first in every error */
	char *err;
	size_t errlen;
};

/* Writes "FILE: <fmt>" into the error buffer. Returns -1. */
static int ld_err(struct ld_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ld_err(struct ld_ctx *x, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (x->err == NULL || x->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(x->err, x->errlen, "%s: %s", x->file, msg);
	return -1;
}

/* ---- files ----------------------------------------------------------------------------- */

/* Reads the whole file into a NUL-terminated buffer in *<out>, its length in *<len>. */
static int ld_read(struct ld_ctx *x, char **out, size_t *len)
{
	FILE *f = fopen(x->file, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		return ld_err(x, "cannot open: %s", strerror(errno));
	if ((buf = malloc(RULE_FILE_MAX + 1)) == NULL) {
		fclose(f);
		return ld_err(x, "out of memory");
	}
	n = fread(buf, 1, RULE_FILE_MAX + 1, f);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return ld_err(x, "cannot read: %s", strerror(errno));
	}
	fclose(f);
	if (n > RULE_FILE_MAX) {
		free(buf);
		return ld_err(x, "too large (over %u bytes)", RULE_FILE_MAX);
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Fills the per-protocol column lists and resource maps that the match side reads. */
static int ld_index(struct ld_ctx *x)
{
	struct rule_set *rs = x->rs;

	if (rs->n_unless > 0) {
		if ((rs->unless_rules = calloc(rs->n_unless, sizeof(uint32_t))) == NULL)
			return ld_err(x, "out of memory");
		for (unsigned i = 0; i < rs->n_rules; i++)
			if (rs->rules[i].unless_slot >= 0)
				rs->unless_rules[rs->rules[i].unless_slot] = i;
	}
	for (unsigned p = 0; p < DP_PROTO__MAX; p++) {
		for (unsigned i = 0; i < rs->n_rules; i++) {
			const struct rule *r = &rs->rules[i];

			if (!r->enabled || !(r->protos & (1u << p)) || r->action != RULE_MASK)
				continue;
			if (r->target == RULE_T_COLUMN) {
				if (rs->cols[p] == NULL &&
				    (rs->cols[p] = calloc(rs->n_rules, sizeof(uint32_t))) == NULL)
					return ld_err(x, "out of memory");
				rs->cols[p][rs->n_cols[p]++] = i;
			}
			if (r->target == RULE_T_FIELD) {
				rs->field_all[p] |= r->all_res;
				for (unsigned w = 0; w < RULE_RES_WORDS; w++)
					rs->field_res[p][w] |= r->res[w];
			}
			rs->result_all[p] |= r->all_res;
			for (unsigned w = 0; w < RULE_RES_WORDS; w++)
				rs->result_res[p][w] |= r->res[w];
		}
	}
	return 0;
}

static void ld_hex(const unsigned char *d, unsigned n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Reads every file: the set hash (the files' bytes), the cache key (their lengths and
 * bytes, Hyperscan's version and the platform), and the rules. */
static int ld_files(struct ld_ctx *x, const char *const *files, unsigned n_files, char *key_hex)
{
	EVP_MD_CTX *hs = EVP_MD_CTX_new(), *ks = EVP_MD_CTX_new();
	unsigned char d[EVP_MAX_MD_SIZE];
	hs_platform_info_t plat;
	unsigned dl;
	int rc = -1;

	memset(&plat, 0, sizeof(plat));
	if (hs == NULL || ks == NULL || !EVP_DigestInit_ex(hs, EVP_sha256(), NULL) ||
	    !EVP_DigestInit_ex(ks, EVP_sha256(), NULL)) {
		ld_err(x, "cannot set up SHA-256");
		goto out;
	}
	hs_populate_platform(&plat);
	EVP_DigestUpdate(ks, LD_CACHE_FORMAT, sizeof(LD_CACHE_FORMAT));
	EVP_DigestUpdate(ks, hs_version(), strlen(hs_version()) + 1);
	EVP_DigestUpdate(ks, &plat.tune, sizeof(plat.tune));
	EVP_DigestUpdate(ks, &plat.cpu_features, sizeof(plat.cpu_features));
	for (unsigned i = 0; i < n_files; i++) {
		uint64_t len64;
		size_t len = 0;
		char *text = NULL;

		x->file = files[i];
		if (ld_read(x, &text, &len) < 0)
			goto out;
		len64 = len;
		EVP_DigestUpdate(hs, text, len);
		EVP_DigestUpdate(ks, &len64, sizeof(len64));
		EVP_DigestUpdate(ks, text, len);
		if (rule_parse_text(x->rs, x->res, x->file, i, text, len, x->err, x->errlen) < 0) {
			free(text);
			goto out;
		}
		free(text);
	}
	if (!EVP_DigestFinal_ex(hs, d, &dl) || dl != 32) {
		ld_err(x, "cannot compute SHA-256");
		goto out;
	}
	ld_hex(d, 32, x->rs->hash);
	if (!EVP_DigestFinal_ex(ks, d, &dl) || dl != 32) {
		ld_err(x, "cannot compute SHA-256");
		goto out;
	}
	ld_hex(d, 32, key_hex);
	rc = 0;
out:
	EVP_MD_CTX_free(hs);
	EVP_MD_CTX_free(ks);
	return rc;
}

int rule_set_load(const char *const *files, unsigned n_files, const struct dp_config *res,
		  const char *cache_dir, struct rule_set **out, char *err, size_t errlen)
{
	struct ld_ctx x = { .res = res, .file = "rules", .err = err, .errlen = errlen };
	struct rule_set *rs;
	char key_hex[65];
	double t0 = rule_now_ms();

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	*out = NULL;
	if (n_files == 0 || files == NULL)
		return ld_err(&x, "no rule files given");
	if ((rs = calloc(1, sizeof(*rs))) == NULL || (rs->files = calloc(n_files, sizeof(char *))) == NULL) {
		free(rs);
		return ld_err(&x, "out of memory");
	}
	x.rs = rs;
	for (unsigned i = 0; i < n_files; i++) {
		if ((rs->files[i] = strdup(files[i])) == NULL) {
			ld_err(&x, "out of memory");
			goto err;
		}
		rs->n_files++;
	}
	if (ld_files(&x, files, n_files, key_hex) < 0 || ld_index(&x) < 0 ||
	    rule_check_disabled(rs, err, errlen) < 0 ||
	    rule_compile_set(rs, key_hex, cache_dir, err, errlen) < 0)
		goto err;
	TG_INFO("rules", "rule set %.12s: %u rules from %u files; %u databases compiled, "
		"%u read from the cache, in %.1f ms", rs->hash, rs->n_rules, n_files,
		rs->n_compiled, rs->n_cached, rule_now_ms() - t0);
	*out = rs;
	return 0;
err:
	rule_set_free(rs);
	return -1;
}

void rule_set_free(struct rule_set *rs)
{
	if (rs == NULL)
		return;
	rule_dbs_free(rs);
	for (unsigned i = 0; i < rs->n_rules; i++) {
		struct rule *r = &rs->rules[i];

		free(r->message);
		for (unsigned k = 0; r->pats != NULL && k < r->n_pats; k++)
			free(r->pats[k].re);
		for (unsigned k = 0; r->unless != NULL && k < r->n_unless; k++)
			free(r->unless[k].re);
		for (unsigned k = 0; r->cols != NULL && k < r->n_cols; k++)
			free(r->cols[k]);
		free(r->pats);
		free(r->unless);
		free(r->cols);
	}
	free(rs->rules);
	free(rs->unless_rules);
	for (unsigned p = 0; p < DP_PROTO__MAX; p++)
		free(rs->cols[p]);
	for (unsigned i = 0; i < rs->n_files; i++)
		free(rs->files[i]);
	free(rs->files);
	free(rs);
}

unsigned rule_set_count(const struct rule_set *rs)
{
	return rs != NULL ? rs->n_rules : 0;
}

const char *rule_id(const struct rule_set *rs, unsigned i)
{
	return rs != NULL && i < rs->n_rules ? rs->rules[i].id : NULL;
}

uint8_t rule_action(const struct rule_set *rs, unsigned i)
{
	return rs != NULL && i < rs->n_rules ? rs->rules[i].action : RULE_ALLOW;
}

const char *rule_set_hash(const struct rule_set *rs)
{
	return rs != NULL ? rs->hash : NULL;
}
