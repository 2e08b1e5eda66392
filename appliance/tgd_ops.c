/* tgd_ops.c - the daemon's side of the management API: health, stats, metrics, kill,
 * rules get / put (compile and swap) / test. Runs on the slow path thread, which is
 * also the policy publisher, so reading the policy in force needs no lock. */
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include "appliance/tgd_ops.h"
#include "common/tg_log.h"
#include "common/tg_rule_files.h"
#include "dataplane/dp_counters.h"
#include "dataplane/policy.h"
#include "dataplane/worker.h"
#include "dataplane/proto/sql_lex.h"
#include "rules/rule.h"
#include "slowpath/recorder.h"
#include "slowpath/policy_build.h"

static const char *const action_names[] = { "allow", "alert", "mask", "review", "block", "reset" };

void tgd_ops_config(const struct tgd *d, struct api_config *ac)
{
	const struct cfg *c = &d->cfg;

	memset(ac, 0, sizeof(*ac));
	snprintf(ac->listen, sizeof(ac->listen), "%s", c->mgmt_listen);
	snprintf(ac->cert, sizeof(ac->cert), "%s", c->mgmt_cert);
	snprintf(ac->key, sizeof(ac->key), "%s", c->mgmt_key);
	snprintf(ac->state_dir, sizeof(ac->state_dir), "%s",
		 c->mgmt_state_dir[0] ? c->mgmt_state_dir : "/var/lib/tollgate");
	ac->max_body = c->mgmt_max_body;
	ac->n_tokens = c->n_tokens < API_MAX_TOKENS ? c->n_tokens : API_MAX_TOKENS;
	for (unsigned i = 0; i < ac->n_tokens; i++) {
		snprintf(ac->tokens[i].name, sizeof(ac->tokens[i].name), "%s", c->tokens[i].name);
		ac->tokens[i].role = c->tokens[i].role;
		memcpy(ac->tokens[i].sha256, c->tokens[i].sha256, 32);
	}
}

static json_t *counters_json(const struct dp_counters *c)
{
	json_t *o = json_object();

	for (int i = 0; i < DP_CNT__MAX; i++)
		json_object_set_new(o, dp_counter_name(i), json_integer((json_int_t)c->v[i]));
	return o;
}

static json_t *op_health(void *ctx)
{
	struct tgd *d = ctx;
	const struct dp_policy *p = d->slot ? d->slot->cur : NULL;

	return json_pack("{s:s, s:i, s:I, s:I, s:i, s:b}", "status", "ok", "workers",
			 d->n_workers_init, "policy_version", (json_int_t)(p ? p->version : 0),
			 "started_ns", (json_int_t)d->started_ns, "rules", p ? (int)p->n_rules : 0,
			 "recording", d->rec != NULL);
}

static json_t *op_stats(void *ctx)
{
	struct tgd *d = ctx;
	struct dp_counters sum;
	json_t *workers = json_array(), *o;

	tgd_sum_counters(d->workers, d->n_workers_init, &sum);
	for (uint16_t i = 0; i < d->n_workers_init; i++) {
		json_t *w = counters_json(&d->workers[i].cnt);
		json_object_set_new(w, "worker", json_integer(i));
		json_object_set_new(w, "event_ring_used", json_integer(
			d->ev_ring[i] ? (json_int_t)rte_ring_count(d->ev_ring[i]) : 0));
		json_array_append_new(workers, w);
	}
	o = json_object();
	json_object_set_new(o, "total", counters_json(&sum));
	json_object_set_new(o, "workers", workers);
	/* per port, summed over the workers: the frames received on it (tx_*: sent) */
	json_t *ports = json_object();
	for (uint16_t p = 0; p < d->cfg.n_ports; p++) {
		struct dp_counters pc;

		tgd_sum_port_counters(d->workers, d->n_workers_init, p, &pc);
		json_object_set_new(ports, d->cfg.ports[p].name, counters_json(&pc));
	}
	json_object_set_new(o, "ports", ports);
	json_object_set_new(o, "events_drained", json_integer((json_int_t)d->ev_drained));
	if (d->slot && d->slot->cur)
		json_object_set_new(o, "policy_version", json_integer((json_int_t)d->slot->cur->version));
	return o;
}

/* Appends printf output to a growing buffer. */
struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 16384) + (size_t)n;
		char *np = realloc(b->p, cap);
		if (np == NULL)
			return;
		b->p = np;
		b->cap = cap;
	}
}

char *tgd_ops_metrics_text(struct tgd *d)
{
	struct sbuf b = { 0 };

	for (int i = 0; i < DP_CNT__MAX; i++) {
		const char *n = dp_counter_name(i);
		sb_printf(&b, "# HELP tollgate_%s_total %s\n# TYPE tollgate_%s_total counter\n", n,
			  dp_counter_help(i), n);
		for (uint16_t w = 0; w < d->n_workers_init; w++)
			sb_printf(&b, "tollgate_%s_total{worker=\"%u\"} %" PRIu64 "\n", n, w,
				  d->workers[w].cnt.v[i]);
	}
	/* per port, summed over the workers: every counter, for the frames received on
	 * the port (tx_*: sent on it) */
	struct dp_counters pc[DP_MAX_PORTS];

	for (uint16_t p = 0; p < d->cfg.n_ports; p++)
		tgd_sum_port_counters(d->workers, d->n_workers_init, p, &pc[p]);
	for (int i = 0; i < DP_CNT__MAX; i++) {
		const char *n = dp_counter_name(i);
		sb_printf(&b, "# HELP tollgate_port_%s_total %s, per port\n"
			  "# TYPE tollgate_port_%s_total counter\n", n, dp_counter_help(i), n);
		for (uint16_t p = 0; p < d->cfg.n_ports; p++)
			sb_printf(&b, "tollgate_port_%s_total{port=\"%s\"} %" PRIu64 "\n", n,
				  d->cfg.ports[p].name, pc[p].v[i]);
	}
	sb_printf(&b, "# HELP tollgate_event_ring_used Events waiting in a worker's ring\n"
		  "# TYPE tollgate_event_ring_used gauge\n");
	for (uint16_t w = 0; w < d->n_workers_init; w++)
		sb_printf(&b, "tollgate_event_ring_used{worker=\"%u\"} %u\n", w,
			  d->ev_ring[w] ? rte_ring_count(d->ev_ring[w]) : 0);
	sb_printf(&b, "# HELP tollgate_rule_verdicts_total Recorded commands by deciding rule and "
		  "action\n# TYPE tollgate_rule_verdicts_total counter\n");
	for (unsigned k = 0; k < d->n_verdicts; k++)
		for (unsigned a = 0; a < 6; a++)
			if (d->verdicts[k].n[a])
				sb_printf(&b, "tollgate_rule_verdicts_total{rule=\"%s\",action=\"%s\"} %"
					  PRIu64 "\n", d->verdicts[k].rule, action_names[a],
					  d->verdicts[k].n[a]);
	sb_printf(&b, "# HELP tollgate_recorder_statements_masked_total Recorded statements whose "
		  "text field rules masked (recorder.mask_statements)\n# TYPE "
		  "tollgate_recorder_statements_masked_total counter\n"
		  "tollgate_recorder_statements_masked_total %" PRIu64 "\n", d->rec_statements_masked);
	sb_printf(&b, "# HELP tollgate_recorder_unavailable 1: recorder.dir is set but its store "
		  "could not be opened, nothing is recorded\n# TYPE tollgate_recorder_unavailable "
		  "gauge\ntollgate_recorder_unavailable %d\n", d->rec_unavailable ? 1 : 0);
	sb_printf(&b, "# HELP tollgate_policy_version Version of the policy in force\n"
		  "# TYPE tollgate_policy_version gauge\ntollgate_policy_version %" PRIu64 "\n",
		  d->slot && d->slot->cur ? d->slot->cur->version : 0);
	sb_printf(&b, "# HELP tollgate_policy_rules Rules in force\n"
		  "# TYPE tollgate_policy_rules gauge\ntollgate_policy_rules %u\n",
		  d->slot && d->slot->cur ? d->slot->cur->n_rules : 0);
	return b.p;
}

static char *op_metrics(void *ctx)
{
	return tgd_ops_metrics_text(ctx);
}

static void op_flush(void *ctx)
{
	tgd_slow_flush(ctx);
}

static int op_kill(void *ctx, uint64_t sid, char *err, size_t errlen)
{
	struct tgd *d = ctx;
	unsigned w = (unsigned)((sid >> 40) & 0xff);
	struct dp_ctl_msg msg = { .type = DP_CTL_KILL, .sid = sid };
	json_t *s = NULL;

	if (w >= d->n_workers_init || d->ctl_ring[w] == NULL) {
		snprintf(err, errlen, "unknown session");
		return -1;
	}
	/* a session the recorder does not know cannot be killed; the API flushed the
	 * rings and answered 409 for a closed one just before calling this */
	if (d->rec) {
		if (rec_session(d->rec, sid, &s) < 0 || s == NULL) {
			snprintf(err, errlen, "unknown session");
			return -1;
		}
		json_decref(s);
	}
	if (rte_ring_mp_enqueue_elem(d->ctl_ring[w], &msg, sizeof(msg)) != 0) {
		snprintf(err, errlen, "the worker's command ring is full, try again");
		return -1;
	}
	return 0;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = 0;
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

static json_t *op_rules_get(void *ctx)
{
	struct tgd *d = ctx;
	const struct dp_policy *p = d->slot ? d->slot->cur : NULL;
	json_t *files = json_array();

	for (int i = 0; i < d->cfg.n_rule_files; i++) {
		size_t n = 0;
		char *text = read_file(d->cfg.rule_files[i], &n);
		const char *base = strrchr(d->cfg.rule_files[i], '/');
		/* "name" is what PUT /v1/rules takes back; "path" is where the file lives */
		json_array_append_new(files, json_pack("{s:s, s:s, s:s%}", "name",
						       base ? base + 1 : d->cfg.rule_files[i],
						       "path", d->cfg.rule_files[i],
						       "text", text ? text : "", text ? n : 0));
		free(text);
	}
	return json_pack("{s:I, s:s, s:i, s:o}", "version", (json_int_t)(p ? p->version : 0),
			 "hash", p ? p->hash : "", "rules", p ? (int)p->n_rules : 0, "files", files);
}

static int write_file(const char *path, const char *text, size_t len)
{
	char tmp[CFG_PATH_MAX + 16];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (f == NULL)
		return -1;
	if (fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		unlink(tmp);
		return -1;
	}
	return rename(tmp, path);
}

static int op_rules_put(void *ctx, json_t *body, json_t **result, char *err, size_t errlen)
{
	struct tgd *d = ctx;
	json_t *files = json_object_get(body, "files"), *f;
	char dir[CFG_PATH_MAX], paths[CFG_MAX_RULE_FILES][CFG_PATH_MAX];
	const char *state = d->cfg.mgmt_state_dir[0] ? d->cfg.mgmt_state_dir : "/var/lib/tollgate";
	size_t i, n;
	struct dp_policy *p;

	if (!json_is_array(files) || (n = json_array_size(files)) == 0 || n > CFG_MAX_RULE_FILES) {
		snprintf(err, errlen, "\"files\" must be an array of 1 to %d {\"name\", \"text\"}",
			 CFG_MAX_RULE_FILES);
		return -1;
	}
	/* rules put through the API live in <state_dir>/rules.d; SIGHUP recompiles them
	 * (not the config's files) until the daemon restarts */
	if ((size_t)snprintf(dir, sizeof(dir), "%s/rules.d", state) >= sizeof(dir) - 110) {
		snprintf(err, errlen, "state_dir is too long");
		return -1;
	}
	mkdir(state, 0700);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %.200s: %s", dir, strerror(errno));
		return -1;
	}
	json_array_foreach(files, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		json_t *text = json_object_get(f, "text");
		if (!tg_rule_file_name_ok(name) || !json_is_string(text)) {
			snprintf(err, errlen, "files[%zu]: \"name\" must be a plain file name "
				 "([A-Za-z0-9._-]) and \"text\" a string", i);
			return -1;
		}
		if ((size_t)snprintf(paths[i], sizeof(paths[i]), "%s/%s.new", dir, name) >=
		    sizeof(paths[i])) {
			snprintf(err, errlen, "files[%zu]: path too long", i);
			return -1;
		}
		if (write_file(paths[i], json_string_value(text), json_string_length(text)) < 0) {
			snprintf(err, errlen, "cannot write %.200s: %s", paths[i], strerror(errno));
			return -1;
		}
	}
	{
		const char *fl[CFG_MAX_RULE_FILES];
		char cerr[CFG_ERR_MAX];
		for (i = 0; i < n; i++)
			fl[i] = paths[i];
		p = policy_build(fl, (unsigned)n, &d->cfg.dp, d->cfg.rule_cache_dir,
				 d->n_workers_init, cerr, sizeof(cerr));
		if (p == NULL) {
			for (i = 0; i < n; i++)
				unlink(paths[i]);
			/* name the file as the client did: without the directory and ".new" */
			char *pos;
			while ((pos = strstr(cerr, dir)) != NULL)
				memmove(pos, pos + strlen(dir) + 1, strlen(pos + strlen(dir) + 1) + 1);
			while ((pos = strstr(cerr, ".new:")) != NULL)
				memmove(pos, pos + 4, strlen(pos + 4) + 1);
			TG_ERR("rules", "rules put through the API: %s (rules in force kept)", cerr);
			snprintf(err, errlen, "%s", cerr);
			return -1;
		}
	}
	/* compiled: the files become the rule set in force (and what SIGHUP recompiles) */
	d->cfg.n_rule_files = (int)n;
	for (i = 0; i < n; i++) {
		char final[CFG_PATH_MAX];
		snprintf(final, sizeof(final), "%.*s", (int)(strlen(paths[i]) - 4), paths[i]);
		rename(paths[i], final);
		snprintf(d->cfg.rule_files[i], sizeof(d->cfg.rule_files[i]), "%s", final);
	}
	d->rules_from_api = true;
	dp_policy_publish(d->slot, p);
	TG_INFO("rules", "policy %" PRIu64 ": %u rules put through the API", p->version, p->n_rules);
	*result = json_pack("{s:I, s:i, s:s}", "version", (json_int_t)p->version, "rules",
			    (int)p->n_rules, "hash", p->hash);
	return 0;
}

static int resource_index(const struct tgd *d, const char *name)
{
	if (name == NULL)
		return 0;
	for (unsigned i = 0; i < d->cfg.dp.n_resources; i++)
		if (strcmp(d->cfg.dp.resources[i].name, name) == 0)
			return (int)i;
	return -1;
}

struct rule_scratch *tgd_rule_scratch(struct tgd *d)
{
	const struct dp_policy *p = d->slot ? d->slot->cur : NULL;
	struct rule_set *rs = p ? p->ops.rules : NULL;

	if (rs == NULL)
		return NULL;
	/* grown in place for the policy's databases when it changed (rule_scratch_alloc) */
	if (d->scratch == NULL || d->scratch_version != p->version) {
		if (rule_scratch_alloc(rs, &d->scratch) < 0)
			return NULL;
		d->scratch_version = p->version;
	}
	return d->scratch;
}

/* POST /v1/rules/test with a result row: what masking does to it. */
static int rules_test_row(struct tgd *d, struct rule_set *rs, uint16_t res, json_t *row,
			  json_t *cols, json_t **result, char *err, size_t errlen)
{
	size_t n = json_array_size(row), total = 0, i;
	struct rule_field *fields;
	uint8_t *buf;
	json_t *v, *out;
	uint8_t proto = d->cfg.dp.n_resources ? d->cfg.dp.resources[res].proto : DP_PROTO_PG;

	if (n == 0 || n > 1024 || (cols && (!json_is_array(cols) || json_array_size(cols) != n))) {
		snprintf(err, errlen, "\"row\" must have 1 to 1024 strings, and \"columns\" (if "
			 "given) as many names");
		return -1;
	}
	json_array_foreach(row, i, v) {
		if (!json_is_string(v)) {
			snprintf(err, errlen, "row[%zu] must be a string", i);
			return -1;
		}
		total += json_string_length(v) + 1;
	}
	fields = calloc(n, sizeof(*fields));
	buf = malloc(total + 1);
	if (fields == NULL || buf == NULL) {
		free(fields);
		free(buf);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	total = 0;
	json_array_foreach(row, i, v) {
		size_t l = json_string_length(v);
		const char *name = cols ? json_string_value(json_array_get(cols, i)) : NULL;
		memcpy(buf + total, json_string_value(v), l);
		buf[total + l] = '\t';
		fields[i].off = (uint32_t)total;
		fields[i].len = (uint32_t)l;
		fields[i].col_rule = -1;
		if (rs && name)
			fields[i].col = rule_column_mask(rs, proto, res, name, (uint32_t)strlen(name),
							 &fields[i].col_rule);
		total += l + 1;
	}
	struct rule_mask_stats st = { 0 };
	if (rs)
		rule_mask_fields(rs, d->scratch, proto, res, buf, (uint32_t)total, fields,
				 (unsigned)n, &st);
	out = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(out, json_stringn((const char *)buf + fields[i].off, fields[i].len));
	free(fields);
	free(buf);
	*result = json_pack("{s:I, s:o, s:i}", "policy_version",
			    (json_int_t)(d->slot && d->slot->cur ? d->slot->cur->version : 0),
			    "row", out, "fields_masked", (int)st.fields_masked);
	return 0;
}

static int op_rules_test(void *ctx, json_t *body, json_t **result, char *err, size_t errlen)
{
	struct tgd *d = ctx;
	const struct dp_policy *p = d->slot ? d->slot->cur : NULL;
	struct rule_set *rs = p ? p->ops.rules : NULL;
	const char *sql = json_string_value(json_object_get(body, "sql"));
	json_t *row = json_object_get(body, "row");
	int res = resource_index(d, json_string_value(json_object_get(body, "resource")));
	json_t *stmts;

	if (sql == NULL && !json_is_array(row)) {
		snprintf(err, errlen, "\"sql\" (a string) or \"row\" (an array of strings) is required");
		return -1;
	}
	if (res < 0) {
		snprintf(err, errlen, "unknown resource");
		return -1;
	}
	if (rs && tgd_rule_scratch(d) == NULL) {
		snprintf(err, errlen, "cannot allocate a rule scratch");
		return -1;
	}
	if (sql == NULL)
		return rules_test_row(d, rs, (uint16_t)res, row, json_object_get(body, "columns"),
				      result, err, errlen);
	size_t len = strlen(sql), cap = 2 * len + 64;
	char *norm = malloc(cap), *fp = malloc(cap);
	struct sql_stmt st[64];
	struct sql_lex_out out = { .norm = norm, .norm_cap = (uint32_t)cap, .fp = fp,
				   .fp_cap = (uint32_t)cap, .stmts = st, .stmts_cap = 64 };
	if (norm == NULL || fp == NULL) {
		free(norm);
		free(fp);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sql_lex(sql, len, d->cfg.dp.n_resources &&
		d->cfg.dp.resources[res].proto == DP_PROTO_MYSQL ? SQL_LEX_MYSQL : 0, &out);
	stmts = json_array();
	for (uint32_t i = 0; i < out.n_stmts; i++) {
		struct rule_verdict v = { .rule = -1 };
		if (rs)
			rule_check_command(rs, d->scratch,
					   d->cfg.dp.n_resources ? d->cfg.dp.resources[res].proto : DP_PROTO_PG,
					   (uint16_t)res, norm + st[i].norm_off, st[i].norm_len,
					   fp + st[i].fp_off, st[i].fp_len, sql + st[i].raw_off,
					   st[i].nested ? 0 : st[i].raw_len, &v);
		json_array_append_new(stmts, json_pack("{s:s%, s:s%, s:s, s:s?, s:s?, s:b}",
			"normalized", norm + st[i].norm_off, (size_t)st[i].norm_len,
			"fingerprint", fp + st[i].fp_off, (size_t)st[i].fp_len,
			"action", action_names[v.action < 6 ? v.action : 0],
			"rule", v.id, "message", v.message, "nested", st[i].nested));
	}
	free(norm);
	free(fp);
	*result = json_pack("{s:I, s:o}", "policy_version", (json_int_t)(p ? p->version : 0),
			    "statements", stmts);
	return 0;
}

void tgd_ops_init(struct tgd *d, struct api_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->ctx = d;
	ops->health = op_health;
	ops->stats = op_stats;
	ops->metrics = op_metrics;
	ops->kill = op_kill;
	ops->flush = op_flush;
	ops->rules_get = op_rules_get;
	ops->rules_put = op_rules_put;
	ops->rules_test = op_rules_test;
}
