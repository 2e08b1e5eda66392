/* cli_rules.c - tollctl's rule commands against the appliance: rules get (print or save
 * the files in force), rules put (send files to compile and swap in), and the online
 * rules test. The offline rule commands are in tollctl.c. */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/cli.h"
#include "common/tg_rule_files.h"

#define CLI_RULE_FILE_MAX (16u << 20) /* largest rule file `rules put` sends */

static const char cli_rules_get_usage[] = "usage: tollctl rules get [--dir DIR]\n";

static int cli_rules_get_opt(void *ctx, int opt, char *arg)
{
	if (opt != 'd')
		return CLI_EXIT_USAGE;
	*(const char **)ctx = arg;
	return 0;
}

/* Writes <text> to <dir>/<the last part of name> (replacing it): the server names its
 * files by their paths on the appliance. Returns 0 or -1 (message printed). */
static int cli_write_file(const char *dir, const char *path_name, const char *text)
{
	const char *name = strrchr(path_name, '/') != NULL ? strrchr(path_name, '/') + 1 : path_name;
	char path[4096];
	FILE *f;
	int bad;

	if (!tg_rule_file_name_ok(name)) {
		fprintf(stderr, "tollctl: the server sent a rule file named \"%s\": not written\n", name);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "tollctl: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	bad = fputs(text, f) < 0;
	if ((fclose(f) != 0) | bad) {
		fprintf(stderr, "tollctl: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	printf("wrote %s\n", path);
	return 0;
}

int cli_cmd_rules_get(struct cli_global *g, int argc, char **argv)
{
	static const struct option lo[] = { CLI_GLOBAL_LONGOPTS,
					    { "dir", required_argument, NULL, 'd' },
					    { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	const char *dir = NULL;
	json_t *j, *files, *f, *ver;
	size_t i;
	int rc;

	if ((rc = cli_getopt_online(g, argc, argv, cli_rules_get_usage, lo, cli_rules_get_opt, &dir)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (optind != argc) {
		fprintf(stderr, "tollctl rules get: unexpected \"%s\"\n", argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if ((rc = cli_call(g, "GET", "/v1/rules", NULL, CLI_NF_ROUTE, NULL, &j, NULL)) != CLI_EXIT_OK)
		return rc;
	files = json_object_get(j, "files");
	ver = json_object_get(j, "version");
	if (g->json && dir == NULL) {
		cli_print_json(j);
		goto out;
	}
	if (dir == NULL && json_is_integer(ver))
		printf("# rules version %lld\n", (long long)json_integer_value(ver));
	else if (dir == NULL && json_is_string(ver))
		printf("# rules version %s\n", json_string_value(ver));
	json_array_foreach(files, i, f) {
		const char *name = cli_jstr(f, "name", "?"), *text = cli_jstr(f, "text", "");
		size_t n = strlen(text);

		if (dir != NULL) {
			if (cli_write_file(dir, name, text) < 0)
				rc = CLI_EXIT_FAIL;
			continue;
		}
		printf("# ---- %s ----\n%s%s", name, text, n && text[n - 1] != '\n' ? "\n" : "");
	}
out:
	json_decref(j);
	return rc;
}

/* Reads file <path> whole (at most CLI_RULE_FILE_MAX bytes) into a new string. */
static char *cli_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL) {
		fprintf(stderr, "tollctl: cannot read %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *p;

			cap = cap ? cap * 2 : 65536;
			if (cap > CLI_RULE_FILE_MAX + 4097 || (p = realloc(buf, cap)) == NULL) {
				fprintf(stderr, "tollctl: %s: larger than %u MiB\n", path,
					CLI_RULE_FILE_MAX >> 20);
				goto err;
			}
			buf = p;
		}
		size_t r = fread(buf + n, 1, 4096, f);

		n += r;
		if (r < 4096)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "tollctl: cannot read %s: %s\n", path, strerror(errno));
		goto err;
	}
	if (memchr(buf, '\0', n) != NULL) {
		fprintf(stderr, "tollctl: %s: a rule file is text (it holds a NUL byte)\n", path);
		goto err;
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
err:
	free(buf);
	fclose(f);
	return NULL;
}

static const char cli_rules_put_usage[] =
	"usage: tollctl rules put [--comment TEXT] [--if-version N] FILE...\n";

struct cli_put_opts {
	const char *comment;
	long long if_version;         /* -1: none */
};

static int cli_rules_put_opt(void *ctx, int opt, char *arg)
{
	struct cli_put_opts *o = ctx;
	char *end;

	if (opt == 'c') {
		o->comment = arg;
		return 0;
	}
	if (opt == 'V') {
		errno = 0;
		o->if_version = strtoll(arg, &end, 10);
		if (errno == 0 && end != arg && *end == '\0' && o->if_version >= 0)
			return 0;
		fprintf(stderr, "tollctl: --if-version \"%s\": give a version number\n", arg);
	}
	return CLI_EXIT_USAGE;
}

int cli_cmd_rules_put(struct cli_global *g, int argc, char **argv)
{
	static const struct option lo[] = { CLI_GLOBAL_LONGOPTS,
					    { "comment", required_argument, NULL, 'c' },
					    { "if-version", required_argument, NULL, 'V' },
					    { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	struct cli_put_opts o = { .if_version = -1 };
	json_t *body = NULL, *files, *j = NULL, *ver;
	int rc;

	if ((rc = cli_getopt_online(g, argc, argv, cli_rules_put_usage, lo, cli_rules_put_opt, &o)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (optind == argc) {
		fprintf(stderr, "tollctl rules put: give the rule files\n%s", cli_rules_put_usage);
		return CLI_EXIT_USAGE;
	}
	if ((body = json_object()) == NULL || (files = json_array()) == NULL) {
		json_decref(body);
		return CLI_EXIT_FAIL;
	}
	json_object_set_new(body, "files", files);
	if (o.comment != NULL)
		json_object_set_new(body, "comment", json_string(o.comment));
	if (o.if_version >= 0)
		json_object_set_new(body, "if_version", json_integer(o.if_version));
	for (int i = optind; i < argc; i++) {
		char *copy = strdup(argv[i]), *name = copy != NULL ? basename(copy) : NULL;
		char *text;
		json_t *t;

		if (name == NULL || !tg_rule_file_name_ok(name)) {
			fprintf(stderr, "tollctl: %s: a rule file's name is letters, digits, '.', '_', "
				"'-' (not starting with '.')\n", argv[i]);
			free(copy);
			rc = CLI_EXIT_USAGE;
			goto out;
		}
		if ((text = cli_slurp(argv[i])) == NULL) {
			free(copy);
			rc = CLI_EXIT_FAIL;
			goto out;
		}
		/* json_string() refuses text that is not UTF-8: say which file */
		if ((t = json_string(text)) == NULL) {
			fprintf(stderr, "tollctl: %s: not UTF-8 text\n", argv[i]);
			free(text);
			free(copy);
			rc = CLI_EXIT_FAIL;
			goto out;
		}
		json_array_append_new(files, json_pack("{s:s,s:o}", "name", name, "text", t));
		free(text);
		free(copy);
	}
	if ((rc = cli_call(g, "PUT", "/v1/rules", body, CLI_NF_ROUTE, NULL, &j, NULL)) != CLI_EXIT_OK)
		goto out;
	ver = json_object_get(j, "version");
	if (g->json) {
		cli_print_json(j);
	} else {
		if (json_is_integer(ver))
			printf("rules accepted: version %lld\n", (long long)json_integer_value(ver));
		else
			printf("rules accepted\n");
		json_object_del(j, "version");
		cli_kv_print(stdout, j, 2);
	}
out:
	json_decref(j);
	json_decref(body);
	return rc;
}

/* Prints the answer of POST /v1/rules/test for a statement: each statement with its
 * fingerprint and verdict, as the offline `rules test` does. */
static void cli_rules_test_print(const json_t *j)
{
	const json_t *st = json_object_get(j, "statements");
	size_t i;
	json_t *s;

	if (!json_is_array(st)) {
		cli_kv_print(stdout, j, 0);
		return;
	}
	if (json_is_integer(json_object_get(j, "policy_version")))
		printf("rules version %lld\n", (long long)json_integer_value(json_object_get(j, "policy_version")));
	if (json_array_size(st) == 0)
		printf("no statements\n");
	json_array_foreach((json_t *)st, i, s) {
		const char *rule = cli_jstr(s, "rule", cli_jstr(s, "id", "")), *msg = cli_jstr(s, "message", "");

		printf("statement %zu: %s\n", i + 1, cli_jstr(s, "normalized", cli_jstr(s, "text", "")));
		if (cli_jstr(s, "fingerprint", NULL) != NULL)
			printf("  fingerprint: %s\n", cli_jstr(s, "fingerprint", ""));
		printf("  verdict:     %s%s%s%s%s\n", cli_jstr(s, "action", cli_jstr(s, "verdict", "?")),
		       *rule ? "  rule " : "", rule, *msg ? ": " : "", msg);
	}
}

int cli_cmd_rules_test(struct cli_global *g, const char *sql, const char *resource,
		       const char *protocol)
{
	/* "s*": a member left out when NULL (the API takes no null for them) */
	json_t *body = json_pack("{s:s,s:s*,s:s*}", "sql", sql, "resource", resource, "protocol",
				 protocol), *j;
	char err[256];
	int rc;

	if (cli_global_finish(g, err, sizeof(err)) < 0) {
		fprintf(stderr, "tollctl: %s\n", err);
		json_decref(body);
		return CLI_EXIT_USAGE;
	}
	if (body == NULL) {
		fprintf(stderr, "tollctl: --sql: not UTF-8 text\n");
		return CLI_EXIT_USAGE;
	}
	rc = cli_call(g, "POST", "/v1/rules/test", body, CLI_NF_ROUTE, NULL, &j, NULL);
	json_decref(body);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (g->json)
		cli_print_json(j);
	else
		cli_rules_test_print(j);
	json_decref(j);
	return CLI_EXIT_OK;
}
