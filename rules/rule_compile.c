/* rule_compile.c - the Hyperscan databases of a rule set (one per protocol and target,
 * and per field class (digit and upper-case levels) of field rules, shared between
 * protocols that have the same rules; one with start of match per field rule), their
 * on-disk cache, and the per-worker scratch.
 *
 * Cache layout: <cache_dir>/<key>/<protocol>-<kind>.hsdb, <protocol>-field-<digit
 * level>-<upper level>.hsdb (class prefilters) and som-<rule id>.hsdb, where <key> is
 * the SHA-256 of the rule files (lengths and bytes), Hyperscan's version, the platform
 * and the cache format (made by rule_load.c). A database is written to a temporary
 * file and renamed into place, so that a reader never sees half of one; an entry that
 * does not deserialize is compiled again and rewritten.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/tg_log.h"
#include "rules/rule.h"
#include "rules/rule_int.h"

#define RC_CACHE_DB_MAX  (512u << 20)   /* a larger cache file is not one of ours */

static const char *const rc_kind_names[RULE_DB__MAX] = {
	[RULE_DB_STATEMENT] = "statement", [RULE_DB_FINGERPRINT] = "fingerprint",
	[RULE_DB_RAW] = "raw", [RULE_DB_FIELD] = "field", [RULE_DB_FIELD_SOM] = "field-som",
};

static const char *const rc_proto_names[DP_PROTO__MAX] = {
	[DP_PROTO_PG] = "postgresql", [DP_PROTO_MYSQL] = "mysql", [DP_PROTO_REDIS] = "redis",
	[DP_PROTO_HTTP] = "http", [DP_PROTO_TEST] = "test",
};

/* The rules of one (protocol, kind), as indexes in file order. */
struct rc_list {
	uint32_t *idx;
	unsigned n;
};

/* Where each expression handed to Hyperscan came from (for its error messages). */
struct rc_origin {
	uint32_t rule;
	const struct rule_pattern *pat;
	int unless;                  /* one of the rule's unless patterns */
};

/* The arrays of one hs_compile_multi() call. */
struct rc_exprs {
	const char **re;
	unsigned *flags;
	unsigned *ids;
	struct rc_origin *from;
	unsigned n;
};

const char *rule_proto_name(unsigned proto)
{
	return proto < DP_PROTO__MAX ? rc_proto_names[proto] : NULL;
}

static int rc_target_of(unsigned kind)
{
	return kind <= RULE_DB_RAW ? (int)kind : RULE_T_FIELD;
}

/* Compile flags of <r>'s patterns in a database of <kind>.
 * Command targets: the first hit of a rule decides, so HS_FLAG_SINGLEMATCH and no
 * start of match. Field targets: MULTILINE, since the fields of a slice are joined
 * with '\n' and ^/$ must find each field's (and line's) edges; start of match only in
 * the second database, which runs over the fields that had a hit. */
static unsigned rc_flags(const struct rule *r, unsigned kind)
{
	unsigned f = HS_FLAG_DOTALL;

	if (r->nocase)
		f |= HS_FLAG_CASELESS;
	if (kind <= RULE_DB_RAW)
		f |= HS_FLAG_SINGLEMATCH;
	else if (kind == RULE_DB_FIELD_SOM)
		f |= HS_FLAG_MULTILINE | HS_FLAG_SOM_LEFTMOST;
	else
		f |= HS_FLAG_MULTILINE;
	return f;
}

/* Writes "FILE:LINE: rule ID: pattern "RE": <msg>" for a Hyperscan error. */
static int rc_pattern_err(const struct rule *r, const struct rule_pattern *p, unsigned kind,
			  int unless, const char *msg, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s:%u: rule %s: %s \"%.200s\": %s%s", r->file, p->line, r->id,
		 unless ? "unless pattern" : "pattern", p->re, msg,
		 kind == RULE_DB_FIELD_SOM ? " (with start of match, needed to mask a range)" : "");
	return -1;
}

/* ---- the cache ----------------------------------------------------------------------- */

/* Reads and deserializes <path>. Returns 0, or -1 when absent or unusable. */
static int rc_cache_read(const char *path, hs_database_t **db)
{
	struct stat st;
	char *bytes = NULL, *info = NULL;
	ssize_t got;
	size_t n = 0;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || (size_t)st.st_size > RC_CACHE_DB_MAX ||
	    (bytes = malloc((size_t)st.st_size)) == NULL)
		goto out;
	while (n < (size_t)st.st_size && (got = read(fd, bytes + n, (size_t)st.st_size - n)) > 0)
		n += (size_t)got;
	if (n != (size_t)st.st_size)
		goto out;
	/* hs_serialized_database_info() checks the header (magic, version, platform)
	 * before anything is built from it */
	if (hs_serialized_database_info(bytes, n, &info) != HS_SUCCESS || info == NULL ||
	    strstr(info, "Mode: BLOCK") == NULL)
		goto out;
	if (hs_deserialize_database(bytes, n, db) != HS_SUCCESS)
		goto out;
	rc = 0;
out:
	free(info);
	free(bytes);
	close(fd);
	return rc;
}

/* Creates <path> (mode 0700) if it is missing. */
static int rc_mkdir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return -1;
}

/* Serializes <db> into <dir>/<name> through a temporary file and a rename. Failure
 * is logged, not fatal: the set still works, the next start compiles again. */
static void rc_cache_write(const char *cache_dir, const char *dir, const char *name,
			   const hs_database_t *db)
{
	char path[4096], tmp[4096];
	char *bytes = NULL;
	size_t n = 0, done = 0;
	int fd = -1;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >= sizeof(tmp)) {
		TG_WARN("rules", "rule cache: path too long under %s", dir);
		return;
	}
	if (rc_mkdir(cache_dir) < 0 || rc_mkdir(dir) < 0) {
		TG_WARN("rules", "rule cache: cannot create %s: %s", dir, strerror(errno));
		return;
	}
	if (hs_serialize_database(db, &bytes, &n) != HS_SUCCESS) {
		TG_WARN("rules", "rule cache: cannot serialize %s", name);
		return;
	}
	if ((fd = mkstemp(tmp)) < 0)
		goto fail;
	while (done < n) {
		ssize_t w = write(fd, bytes + done, n - done);

		if (w <= 0)
			goto fail;
		done += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	free(bytes);
	return;
fail:
	TG_WARN("rules", "rule cache: cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(bytes);
}

/* ---- compiling --------------------------------------------------------------------- */

static void rc_exprs_add(struct rc_exprs *e, const struct rule *r, uint32_t ri,
			const struct rule_pattern *p, unsigned kind, unsigned id)
{
	e->re[e->n] = p->re;
	e->flags[e->n] = rc_flags(r, kind);
	e->ids[e->n] = id;
	e->from[e->n].rule = ri;
	e->from[e->n].pat = p;
	e->from[e->n].unless = (id & RULE_ID_UNLESS) != 0;
	e->n++;
}

static void rc_exprs_free(struct rc_exprs *e)
{
	free(e->re);
	free(e->flags);
	free(e->ids);
	free(e->from);
}

/* Compiles the database of <kind> for the rules in <l>. */
static int rc_compile(const struct rule_set *rs, const struct rc_list *l, unsigned kind,
		      hs_database_t **db, char *err, size_t errlen)
{
	struct rc_exprs e = { 0 };
	hs_compile_error_t *ce = NULL;
	unsigned total = 0;
	int rc = -1;

	for (unsigned i = 0; i < l->n; i++) {
		const struct rule *r = &rs->rules[l->idx[i]];

		total += r->n_pats + (kind <= RULE_DB_RAW ? r->n_unless : 0);
	}
	e.re = calloc(total, sizeof(*e.re));
	e.flags = calloc(total, sizeof(*e.flags));
	e.ids = calloc(total, sizeof(*e.ids));
	e.from = calloc(total, sizeof(*e.from));
	if (e.re == NULL || e.flags == NULL || e.ids == NULL || e.from == NULL) {
		snprintf(err, errlen, "rules: out of memory");
		goto out;
	}
	for (unsigned i = 0; i < l->n; i++) {
		uint32_t ri = l->idx[i];
		const struct rule *r = &rs->rules[ri];

		/* pattern ids are rule indexes: the callback needs nothing else */
		for (unsigned k = 0; k < r->n_pats; k++)
			rc_exprs_add(&e, r, ri, &r->pats[k], kind, ri);
		for (unsigned k = 0; kind <= RULE_DB_RAW && k < r->n_unless; k++)
			rc_exprs_add(&e, r, ri, &r->unless[k], kind, ri | RULE_ID_UNLESS);
	}
	if (hs_compile_multi(e.re, e.flags, e.ids, e.n, HS_MODE_BLOCK, NULL, db, &ce) != HS_SUCCESS) {
		if (ce != NULL && ce->expression >= 0 && (unsigned)ce->expression < e.n) {
			const struct rc_origin *o = &e.from[ce->expression];
			const struct rule *r = &rs->rules[o->rule];

			rc_pattern_err(r, o->pat, kind, o->unless, ce->message, err, errlen);
		} else {
			snprintf(err, errlen, "%s: rules: cannot compile the %s database: %s",
				 rs->files[0], rc_kind_names[kind], ce ? ce->message : "unknown error");
		}
		*db = NULL;
		goto out;
	}
	rc = 0;
out:
	hs_free_compile_error(ce);
	rc_exprs_free(&e);
	return rc;
}

/* Fills <l> with the enabled rules of <proto> whose target is that of <kind>. */
static int rc_list_build(const struct rule_set *rs, unsigned proto, unsigned kind, struct rc_list *l)
{
	int target = rc_target_of(kind);

	l->n = 0;
	for (unsigned i = 0; i < rs->n_rules; i++) {
		const struct rule *r = &rs->rules[i];

		if (r->enabled && r->target == target && (r->protos & (1u << proto))) {
			if (l->idx == NULL && (l->idx = calloc(rs->n_rules, sizeof(uint32_t))) == NULL)
				return -1;
			l->idx[l->n++] = i;
		}
	}
	return 0;
}

static int rc_list_eq(const struct rc_list *a, const struct rc_list *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->idx, b->idx, a->n * sizeof(uint32_t)) == 0);
}

/* Gets the database <name> for <l>: from the cache, or compiled (and then cached). */
static int rc_get(struct rule_set *rs, const struct rc_list *l, unsigned kind, const char *name,
		  const char *key_dir, const char *cache_dir, hs_database_t **db, char *err,
		  size_t errlen)
{
	char path[4096];
	double t0 = rule_now_ms();

	if (key_dir != NULL && (size_t)snprintf(path, sizeof(path), "%s/%s", key_dir, name) < sizeof(path) &&
	    rc_cache_read(path, db) == 0) {
		rs->n_cached++;
		rs->compile_ms += rule_now_ms() - t0;
	} else {
		if (rc_compile(rs, l, kind, db, err, errlen) < 0)
			return -1;
		rs->n_compiled++;
		if (key_dir != NULL)
			rc_cache_write(cache_dir, key_dir, name, *db);
		rs->compile_ms += rule_now_ms() - t0;
	}
	rs->owned[rs->n_owned++] = *db;
	return 0;
}

/* Whether pattern <re> means the same inside a field alone and inside several fields
 * joined with '\n' (multi-line mode: ^ and $ see the separators). Not so with the
 * anchors at the edges of the whole text (\A, \z, \Z) or a group that turns
 * multi-line mode off ((?-m)); \Q...\E is not parsed, so a quoted "\A" is refused
 * too (harmless: such a rule is only scanned field by field). */
static int rc_joinable(const char *re)
{
	for (const char *q = re; *q != '\0'; q++) {
		if (*q == '\\') {
			if (q[1] == 'A' || q[1] == 'z' || q[1] == 'Z')
				return 0;
			if (q[1] != '\0')
				q++;
		} else if (q[0] == '(' && q[1] == '?') {
			int minus = 0;

			for (q += 2; *q != '\0' && *q != ':' && *q != ')'; q++) {
				if (*q == '-')
					minus = 1;
				else if (*q == 'm' && minus)
					return 0;
			}
			if (*q == '\0')
				break;
		}
	}
	return 1;
}

/* Gives each enabled field rule its bit in the prefilter's hit words, and says whether
 * its exact pass may join fields (rule.batch). */
static void rc_field_bits(struct rule_set *rs)
{
	for (uint32_t i = 0; i < rs->n_rules; i++) {
		struct rule *r = &rs->rules[i];

		if (!r->enabled || r->target != RULE_T_FIELD)
			continue;
		r->batch = 1;
		for (unsigned k = 0; k < r->n_pats; k++)
			r->batch &= (uint8_t)rc_joinable(r->pats[k].re);
		if (rs->n_field < RULE_FIELD_BITS - 1) {
			r->fbit = (uint8_t)rs->n_field;
			rs->field_rules[rs->n_field] = i;
		} else {
			r->fbit = RULE_FIELD_BITS - 1;
		}
		rs->n_field++;
	}
}

/* Whether <r> is an enabled field rule of protocol <p>. */
static int rc_field_rule_of(const struct rule *r, unsigned p)
{
	return r->enabled && r->target == RULE_T_FIELD && (r->protos & (1u << p));
}

/* The promise of <r> that level kind <upper> is about. */
static uint16_t rc_promise(const struct rule *r, int upper)
{
	return upper ? r->min_upper : r->min_digits;
}

/* Picks the levels of one count (digits, or upper-case letters with <upper>) of
 * protocol <p> into <thr> (at most <max>): the smallest distinct promises of its field
 * rules (a larger promise than the last level's is counted as that one: a weaker
 * promise, still kept). Returns the number of levels. */
static unsigned rc_levels_pick(const struct rule_set *rs, unsigned p, int upper, uint16_t *thr,
			       unsigned max)
{
	unsigned n = 1;

	thr[0] = 0;
	for (unsigned i = 0; i < rs->n_rules; i++) {
		const struct rule *r = &rs->rules[i];
		uint16_t v = rc_promise(r, upper);
		unsigned k;

		if (!rc_field_rule_of(r, p) || v == 0)
			continue;
		/* insert into the sorted thresholds; drop the largest when full */
		for (k = 1; k < n && thr[k] < v; k++)
			;
		if (k < n && thr[k] == v)
			continue;
		if (k == max)
			continue;
		if (n == max)
			n--;
		memmove(&thr[k + 1], &thr[k], (n - k) * sizeof(thr[0]));
		thr[k] = v;
		n++;
	}
	return n;
}

/* Whether rule <r>'s promises let it match a field at digit level <dl> and upper-case
 * level <ul> of protocol <p>: its promise is below the next level's threshold (the
 * top level admits every rule). */
static int rc_admits(const struct rule_set *rs, const struct rule *r, unsigned p, unsigned dl,
		     unsigned ul)
{
	return (dl + 1 == rs->n_lev[p] || r->min_digits < rs->thr[p][dl + 1]) &&
	       (ul + 1 == rs->n_ulev[p] || r->min_upper < rs->uthr[p][ul + 1]);
}

/* Picks the levels of every protocol, sorts its (digit level, upper level) cells into
 * classes (cells that admit the same rules) and gets each class's prefilter: the top
 * cell's, with every field rule, is db[RULE_DB_FIELD]; protocols with the same rules
 * in a class share its database. */
static int rc_classes(struct rule_set *rs, const char *key_dir, const char *cache_dir,
		      char *err, size_t errlen)
{
	struct rc_list lists[DP_PROTO__MAX][RULE_CLASSES], l = { 0 };
	char name[64];
	int rc = -1;

	memset(lists, 0, sizeof(lists));
	if ((l.idx = calloc(rs->n_rules + 1, sizeof(uint32_t))) == NULL)
		goto oom;
	for (unsigned p = 1; p < DP_PROTO__MAX; p++) {
		unsigned all = 0;

		rs->n_lev[p] = rc_levels_pick(rs, p, 0, rs->thr[p], RULE_LEVELS);
		rs->n_ulev[p] = rc_levels_pick(rs, p, 1, rs->uthr[p], RULE_ULEVELS);
		rs->n_cls[p] = 0;
		memset(rs->cell[p], RULE_CLASS_NONE, sizeof(rs->cell[p]));
		for (unsigned n = 0, dl = 0; n <= RULE_DIGITS_MAX; n++) {
			while (dl + 1 < rs->n_lev[p] && rs->thr[p][dl + 1] <= n)
				dl++;
			rs->dlev[p][n] = (uint8_t)dl;
		}
		for (unsigned n = 0, ul = 0; n <= RULE_UPPER_MAX; n++) {
			while (ul + 1 < rs->n_ulev[p] && rs->uthr[p][ul + 1] <= n)
				ul++;
			rs->ulev[p][n] = (uint8_t)ul;
		}
		if (rs->db[p][RULE_DB_FIELD] == NULL)
			continue;
		for (uint32_t i = 0; i < rs->n_rules; i++)
			all += (unsigned)rc_field_rule_of(&rs->rules[i], p);
		for (unsigned dl = 0; dl < rs->n_lev[p]; dl++)
			for (unsigned ul = 0; ul < rs->n_ulev[p]; ul++) {
				unsigned c, q = 0, qc = 0;

				l.n = 0;
				for (uint32_t i = 0; i < rs->n_rules; i++)
					if (rc_field_rule_of(&rs->rules[i], p) &&
					    rc_admits(rs, &rs->rules[i], p, dl, ul))
						l.idx[l.n++] = i;
				if (l.n == 0)
					continue;            /* nothing to scan such fields for */
				for (c = 0; c < rs->n_cls[p] && !rc_list_eq(&lists[p][c], &l); c++)
					;
				rs->cell[p][dl][ul] = (uint8_t)c;
				if (c < rs->n_cls[p])
					continue;            /* a class of this protocol already */
				lists[p][c].n = l.n;
				if ((lists[p][c].idx = malloc(l.n * sizeof(uint32_t))) == NULL)
					goto oom;
				memcpy(lists[p][c].idx, l.idx, l.n * sizeof(uint32_t));
				rs->n_cls[p]++;
				if (l.n == all) {
					rs->cls[p][c] = rs->db[p][RULE_DB_FIELD];
					continue;
				}
				for (q = 1; q < p; q++) {
					for (qc = 0; qc < rs->n_cls[q] && !rc_list_eq(&lists[q][qc], &l); qc++)
						;
					if (qc < rs->n_cls[q])
						break;
				}
				if (q < p) {
					rs->cls[p][c] = rs->cls[q][qc];
					continue;
				}
				snprintf(name, sizeof(name), "%s-field-%u-%u.hsdb", rc_proto_names[p], dl, ul);
				if (rc_get(rs, &l, RULE_DB_FIELD, name, key_dir, cache_dir, &rs->cls[p][c],
					   err, errlen) < 0)
					goto out;
			}
		if (rs->n_cls[p] > rs->max_cls)
			rs->max_cls = rs->n_cls[p];
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "rules: out of memory");
out:
	for (unsigned p = 0; p < DP_PROTO__MAX; p++)
		for (unsigned c = 0; c < RULE_CLASSES; c++)
			free(lists[p][c].idx);
	free(l.idx);
	return rc;
}

/* Compiles each enabled field rule's own start-of-match database. */
static int rc_field_rules(struct rule_set *rs, const char *key_dir, const char *cache_dir,
			  char *err, size_t errlen)
{
	for (uint32_t i = 0; i < rs->n_rules; i++) {
		struct rule *r = &rs->rules[i];
		struct rc_list one = { .idx = &i, .n = 1 };
		char name[RULE_ID_MAX + 16];

		if (!r->enabled || r->target != RULE_T_FIELD)
			continue;
		snprintf(name, sizeof(name), "som-%s.hsdb", r->id);
		if (rc_get(rs, &one, RULE_DB_FIELD_SOM, name, key_dir, cache_dir, &r->som, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int rule_compile_set(struct rule_set *rs, const char *key_hex, const char *cache_dir,
		     char *err, size_t errlen)
{
	struct rc_list lists[DP_PROTO__MAX][RULE_DB__MAX];
	char key_dir[4096], *kd = NULL, name[64];
	int rc = -1;

	memset(lists, 0, sizeof(lists));
	if ((rs->owned = calloc(DP_PROTO__MAX * (RULE_DB__MAX + RULE_CLASSES) + rs->n_rules,
				 sizeof(*rs->owned))) == NULL) {
		snprintf(err, errlen, "rules: out of memory");
		return -1;
	}
	if (cache_dir != NULL && cache_dir[0] != '\0') {
		if ((size_t)snprintf(key_dir, sizeof(key_dir), "%s/%s", cache_dir, key_hex) >= sizeof(key_dir)) {
			snprintf(err, errlen, "%s: cache directory path too long", cache_dir);
			return -1;
		}
		kd = key_dir;
	}
	rc_field_bits(rs);
	for (unsigned kind = 0; kind < RULE_DB__MAX; kind++) {
		/* the all-rules SOM database only backs up the last hit bit */
		if (kind == RULE_DB_FIELD_SOM && rs->n_field < RULE_FIELD_BITS)
			continue;
		for (unsigned p = 1; p < DP_PROTO__MAX; p++) {
			struct rc_list *l = &lists[p][kind];
			unsigned q;

			if (rc_list_build(rs, p, kind, l) < 0) {
				snprintf(err, errlen, "rules: out of memory");
				goto out;
			}
			if (l->n == 0)
				continue;
			for (q = 1; q < p; q++)
				if (rc_list_eq(&lists[q][kind], l))
					break;
			if (q < p) {
				rs->db[p][kind] = rs->db[q][kind];
				continue;
			}
			snprintf(name, sizeof(name), "%s-%s.hsdb", rc_proto_names[p], rc_kind_names[kind]);
			if (rc_get(rs, l, kind, name, kd, cache_dir, &rs->db[p][kind], err, errlen) < 0)
				goto out;
		}
	}
	/* after the prefilters: a bad pattern is reported without the start-of-match note */
	if (rc_classes(rs, kd, cache_dir, err, errlen) < 0 ||
	    rc_field_rules(rs, kd, cache_dir, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	for (unsigned p = 0; p < DP_PROTO__MAX; p++)
		for (unsigned kind = 0; kind < RULE_DB__MAX; kind++)
			free(lists[p][kind].idx);
	return rc;
}

int rule_check_disabled(const struct rule_set *rs, char *err, size_t errlen)
{
	for (unsigned i = 0; i < rs->n_rules; i++) {
		const struct rule *r = &rs->rules[i];
		/* the strictest flags the rule's patterns would be compiled with */
		unsigned kind = r->target == RULE_T_FIELD ? RULE_DB_FIELD_SOM : r->target;

		if (r->enabled || r->target == RULE_T_COLUMN)
			continue;
		for (unsigned k = 0; k < (unsigned)r->n_pats + r->n_unless; k++) {
			const struct rule_pattern *p = k < r->n_pats ? &r->pats[k] : &r->unless[k - r->n_pats];
			hs_expr_info_t *info = NULL;
			hs_compile_error_t *ce = NULL;

			if (hs_expression_info(p->re, rc_flags(r, kind), &info, &ce) != HS_SUCCESS) {
				rc_pattern_err(r, p, kind, k >= r->n_pats, ce ? ce->message : "invalid",
					       err, errlen);
				hs_free_compile_error(ce);
				return -1;
			}
			free(info);
		}
	}
	return 0;
}

void rule_dbs_free(struct rule_set *rs)
{
	for (unsigned i = 0; i < rs->n_owned; i++)
		hs_free_database(rs->owned[i]);
	free(rs->owned);
	rs->owned = NULL;
	rs->n_owned = 0;
	memset(rs->db, 0, sizeof(rs->db));
	memset(rs->cls, 0, sizeof(rs->cls));
	for (unsigned i = 0; i < rs->n_rules; i++)
		rs->rules[i].som = NULL;
}

/* ---- scratch ------------------------------------------------------------------------- */

int rule_scratch_alloc(const struct rule_set *rs, struct rule_scratch **sp)
{
	struct rule_scratch *s = *sp;
	int created = 0;

	if (rs == NULL)
		return -1;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		created = 1;
		if ((s->bt.join = malloc(RULE_JOIN_CAP)) == NULL)
			goto fail;
	}
	/* a join buffer per class of the protocol with the most */
	for (; s->n_sl < rs->max_cls; s->n_sl++)
		if ((s->sl[s->n_sl].join = malloc(RULE_JOIN_CAP)) == NULL)
			goto fail;
	for (unsigned i = 0; i < rs->n_owned; i++)
		if (hs_alloc_scratch(rs->owned[i], &s->hs) != HS_SUCCESS)
			goto fail;
	if (rs->n_unless > s->unless_cap) {
		unsigned words = (rs->n_unless + 63) / 64;
		uint64_t *c = calloc(words, sizeof(uint64_t)), *v = calloc(words, sizeof(uint64_t));

		if (c == NULL || v == NULL) {
			free(c);
			free(v);
			goto fail;
		}
		free(s->cand);
		free(s->veto);
		s->cand = c;
		s->veto = v;
		s->unless_cap = words * 64;
	}
	*sp = s;
	return 0;
fail:
	if (created)
		rule_scratch_free(s);
	return -1;
}

void rule_scratch_free(struct rule_scratch *s)
{
	if (s == NULL)
		return;
	hs_free_scratch(s->hs);
	free(s->cand);
	free(s->veto);
	for (unsigned k = 0; k < s->n_sl; k++)
		free(s->sl[k].join);
	free(s->bt.join);
	free(s);
}
