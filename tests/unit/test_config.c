/* test_config.c - the configuration loader: shipped files, defaults, values, and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <unistd.h>
#include <cmocka.h>

#include "appliance/config.h"

/* Each bad file in tests/unit/test_configs/ says what it breaks on line 1, the error
 * expected after "FILE:LINE: " on a "# expect: " line, and marks the line the error
 * must name with "# <- error" (no mark: the error names no line). */
static const char *const bad_files[] = {
	"bad_token_hash.conf", "bad_mtu_pair.conf", "bad_af_packet_framesz.conf", "bad_token_role.conf", "bad_record_policy.conf",
	"bad_type.conf", "bad_range.conf", "bad_range_seconds.conf", "bad_enum.conf", "bad_unjudged.conf", "bad_malformed.conf", "bad_replication.conf",
	"bad_enum_type.conf", "bad_bool.conf", "bad_size_string.conf",
	"bad_unknown_setting.conf", "bad_unknown_group.conf", "bad_misplaced_setting.conf",
	"bad_unknown_port_key.conf", "bad_unknown_toplevel.conf", "bad_group_type.conf",
	"bad_ports_not_list.conf", "bad_port_missing_dev.conf", "bad_port_name_long.conf",
	"bad_dup_port.conf", "bad_dup_dev.conf", "bad_too_many_ports.conf",
	"bad_too_many_eal_args.conf", "bad_eal_arg_type.conf", "bad_pair_unknown_port.conf",
	"bad_pair_port_twice.conf", "bad_pair_same_port.conf", "bad_no_pairs.conf",
	"bad_empty_pairs.conf", "bad_unpaired_port.conf", "bad_address.conf",
	"bad_address_prefix.conf", "bad_address_mapped.conf", "bad_port_zero.conf",
	"bad_protocol.conf", "bad_resource_missing.conf", "bad_dup_resource.conf",
	"bad_dup_endpoint.conf", "bad_int32.conf", "bad_syntax.conf",
	"bad_duplicate_setting.conf", "bad_include.conf", "bad_mbufs.conf", "bad_memcap.conf",
	"bad_pci_no_pci.conf", "bad_af_packet_qpairs.conf", "bad_eal_lcores.conf",
};

/* Writes "$TG_SRCDIR/<rel>" into <buf>. */
static const char *src_path(char *buf, size_t len, const char *rel)
{
	const char *root = getenv("TG_SRCDIR");

	snprintf(buf, len, "%s/%s", root ? root : ".", rel);
	return buf;
}

static int setup(void **state)
{
	*state = calloc(1, sizeof(struct cfg));
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* Loads <rel> (from the source root) and fails the test with the error if it does not load. */
static void load_ok(struct cfg *c, const char *rel)
{
	char path[512], err[CFG_ERR_MAX];

	src_path(path, sizeof(path), rel);
	if (cfg_load(c, path, err, sizeof(err)) != 0)
		fail_msg("%s did not load: %s", rel, err);
	assert_string_equal(c->path, path);
}

static void test_tollgate_conf_loads_and_documents_the_defaults(void **state)
{
	struct cfg *c = *state, d;

	load_ok(c, "appliance/tollgate.conf");
	cfg_defaults(&d);
	/* tollgate.conf writes every defaulted setting at its default value */
	assert_int_equal(c->n_eal_args, d.n_eal_args);
	assert_int_equal(c->n_workers, d.n_workers);
	assert_int_equal(c->poll, d.poll);
	assert_int_equal(c->spread, d.spread);
	assert_int_equal(c->poll_idle_us, d.poll_idle_us);
	assert_int_equal(c->poll_deep_idle_us, d.poll_deep_idle_us);
	assert_int_equal(c->poll_deep_after_ms, d.poll_deep_after_ms);
	assert_int_equal(c->mbufs, d.mbufs);
	assert_string_equal(c->log_level, d.log_level);
	assert_int_equal(c->dp.flow_capacity, d.dp.flow_capacity);
	assert_int_equal(c->dp.idle_timeout_s, d.dp.idle_timeout_s);
	assert_int_equal(c->dp.closed_timeout_s, d.dp.closed_timeout_s);
	assert_int_equal(c->dp.max_hold_bytes, d.dp.max_hold_bytes);
	assert_int_equal(c->dp.ooo_max_segs, d.dp.ooo_max_segs);
	assert_int_equal(c->dp.stream_memcap, d.dp.stream_memcap);
	assert_int_equal(c->dp.rto_ms, d.dp.rto_ms);
	assert_int_equal(c->dp.overload, d.dp.overload);
	assert_int_equal(c->dp.frag, d.dp.frag);
	assert_int_equal(c->dp.hold, d.dp.hold);
	assert_int_equal(c->dp.overlap, d.dp.overlap);
	assert_int_equal(c->dp.midstream, d.dp.midstream);
	assert_int_equal(c->dp.verify_cksum, d.dp.verify_cksum);
	assert_int_equal(c->dp.n_resources, 0);
	assert_int_equal(c->n_rule_files, 0);
	assert_string_equal(c->rule_cache_dir, "");
	assert_int_equal(c->dp.tls, DP_TLS_REFUSE);
	/* and its active ports are the af_packet form */
	assert_int_equal(c->n_ports, 2);
	assert_string_equal(c->ports[0].dev, "net_af_packet0,iface=tg-veth-c");
	assert_string_equal(c->ports[1].dev, "net_af_packet1,iface=tg-veth-s");
	assert_int_equal(c->ports[0].rx_desc, 1024);
	assert_int_equal(c->ports[1].tx_desc, 1024);
	assert_int_equal(c->n_pairs, 1);
	assert_int_equal(c->pairs[0].a, 0);
	assert_int_equal(c->pairs[0].b, 1);
}

static void test_demo_conf_loads(void **state)
{
	static const char *const eal[] = {
		"--no-huge", "--no-pci", "--no-shconf", "-m", "1024", "--file-prefix=tollgate" };
	struct cfg *c = *state;

	load_ok(c, "appliance/demo.conf");
	assert_int_equal(c->n_eal_args, 6);
	for (int i = 0; i < 6; i++)
		assert_string_equal(c->eal_args[i], eal[i]);
	assert_int_equal(c->n_ports, 2);
	assert_string_equal(c->ports[0].name, "client");
	assert_string_equal(c->ports[0].dev, "net_af_packet0,iface=tg-veth-c");
	assert_string_equal(c->ports[1].dev, "net_af_packet1,iface=tg-veth-s");
	assert_int_equal(c->n_pairs, 1);
	assert_int_equal(c->pairs[0].a, 0);
	assert_int_equal(c->pairs[0].b, 1);
	assert_int_equal(c->n_workers, 1);
	assert_int_equal(c->poll, CFG_POLL_ADAPTIVE);
	assert_int_equal(c->dp.stream_memcap, 160u << 20);
	/* rule files are resolved against the config file's directory */
	assert_int_equal(c->n_rule_files, 4);
	assert_non_null(strstr(c->rule_files[0], "appliance/../rules/packs/destructive.conf"));
	assert_non_null(strstr(c->rule_cache_dir, "appliance/../run/hscache"));
	assert_int_equal(c->dp.tls, DP_TLS_REFUSE);

	assert_int_equal(c->dp.n_resources, 4);
	assert_string_equal(c->dp.resources[0].name, "pg");
	assert_int_equal(c->dp.resources[0].proto, DP_PROTO_PG);
	assert_int_equal(c->dp.resources[0].ip_ver, 4);
	assert_int_equal(c->dp.resources[0].addr[0], htonl(0xC6120002)); /* 198.18.0.2 */
	assert_int_equal(c->dp.resources[0].port, 5432);
	assert_int_equal(c->dp.resources[1].proto, DP_PROTO_MYSQL);
	assert_int_equal(c->dp.resources[2].proto, DP_PROTO_REDIS);
	assert_int_equal(c->dp.resources[3].proto, DP_PROTO_HTTP);
}

static void test_minimal_file_gets_documented_defaults(void **state)
{
	struct cfg *c = *state;

	load_ok(c, "tests/unit/test_configs/minimal.conf");
	/* the values tollgate.conf documents, written out */
	assert_int_equal(c->n_eal_args, 0);
	assert_int_equal(c->ports[0].rx_desc, 1024);
	assert_int_equal(c->ports[0].tx_desc, 1024);
	assert_int_equal(c->ports[0].mtu, 1500);
	assert_int_equal(c->n_workers, 1);
	assert_int_equal(c->poll, CFG_POLL_BUSY);
	assert_int_equal(c->poll_idle_us, 200);
	assert_int_equal(c->poll_deep_idle_us, 1000);
	assert_int_equal(c->poll_deep_after_ms, 1000);
	assert_int_equal(c->mbufs, 65535);
	assert_string_equal(c->log_level, "info");
	assert_int_equal(c->dp.flow_capacity, 65536);
	assert_int_equal(c->dp.idle_timeout_s, 300);
	assert_int_equal(c->dp.closed_timeout_s, 10);
	assert_int_equal(c->dp.max_hold_bytes, 262144);
	assert_int_equal(c->dp.ooo_max_segs, 64);
	assert_int_equal(c->dp.stream_memcap, 268435456);
	assert_int_equal(c->dp.rto_ms, 200);
	assert_int_equal(c->dp.overload, DP_OVERLOAD_FAIL_CLOSED);
	assert_int_equal(c->dp.frag, DP_FRAG_DROP);
	assert_int_equal(c->dp.hold, DP_HOLD_STREAM);
	assert_int_equal(c->dp.unjudged, DP_UNJUDGED_BLOCK);
	assert_int_equal(c->dp.malformed, DP_MALFORMED_RESET);
	assert_int_equal(c->dp.replication, DP_REPLICATION_REFUSE);
	assert_int_equal(c->dp.overlap, DP_OVERLAP_REWRITE);
	assert_int_equal(c->dp.midstream, DP_MIDSTREAM_BYPASS);
	assert_int_equal(c->dp.verify_cksum, 1);
	assert_int_equal(c->dp.n_resources, 0);
}

static void test_values_units_and_ipv6(void **state)
{
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x02 };
	struct cfg *c = *state;
	const struct dp_resource *r = c->dp.resources;

	load_ok(c, "tests/unit/test_configs/units.conf");
	/* pairs come before ports in the file and still resolve by name */
	assert_int_equal(c->n_ports, 4);
	assert_int_equal(c->n_pairs, 2);
	assert_int_equal(c->pairs[0].a, 1);
	assert_int_equal(c->pairs[0].b, 0);
	assert_int_equal(c->pairs[1].a, 2);
	assert_int_equal(c->pairs[1].b, 3);
	assert_int_equal(c->ports[0].rx_desc, 4096);
	assert_int_equal(c->ports[0].tx_desc, 2048);
	assert_int_equal(c->ports[0].mtu, 1500);
	assert_int_equal(c->ports[2].mtu, 9000);
	assert_int_equal(c->ports[3].mtu, 9000);
	assert_int_equal(c->n_workers, 1);
	assert_int_equal(c->mbufs, 0x3FFFF);
	assert_int_equal(c->poll, CFG_POLL_ADAPTIVE);
	assert_int_equal(c->poll_idle_us, 50);
	assert_int_equal(c->poll_deep_idle_us, 5000);
	assert_int_equal(c->poll_deep_after_ms, 0);
	assert_int_equal(c->spread, CFG_SPREAD_SOFTWARE);
	assert_int_equal(c->dp.idle_timeout_s, 7200);
	assert_int_equal(c->dp.closed_timeout_s, 90);
	assert_int_equal(c->dp.max_hold_bytes, 1u << 20);
	assert_int_equal(c->dp.stream_memcap, 4294967296ull);
	assert_int_equal(c->dp.frag, DP_FRAG_REASSEMBLE);
	assert_int_equal(c->dp.hold, DP_HOLD_RESET);
	assert_int_equal(c->dp.unjudged, DP_UNJUDGED_FORWARD);
	assert_int_equal(c->dp.malformed, DP_MALFORMED_FORWARD);
	assert_int_equal(c->dp.replication, DP_REPLICATION_ALLOW);
	assert_int_equal(c->dp.overlap, DP_OVERLAP_RESET);
	assert_int_equal(c->dp.midstream, DP_MIDSTREAM_DROP);
	assert_int_equal(c->dp.overload, DP_OVERLOAD_FAIL_OPEN);
	assert_int_equal(c->dp.verify_cksum, 0);
	assert_string_equal(c->log_level, "debug");

	assert_int_equal(c->dp.n_resources, 5);
	assert_int_equal(r[0].ip_ver, 6);
	assert_memory_equal(r[0].addr, v6, 16);
	assert_int_equal(r[0].proto, DP_PROTO_PG);
	assert_int_equal(r[1].ip_ver, 4);
	assert_int_equal(r[1].addr[0], htonl(0xC6120002));
	assert_int_equal(r[1].addr[1], 0);
	assert_int_equal(r[1].proto, DP_PROTO_REDIS);
	assert_int_equal(r[2].proto, DP_PROTO_NONE);
	assert_int_equal(r[3].ip_ver, 6);
	assert_int_equal(r[3].proto, DP_PROTO_HTTP);
	assert_int_equal(r[3].port, 80);
	assert_int_equal(r[4].proto, DP_PROTO_MYSQL);
}

/* Reads the "# expect: " text and the line marked "# <- error" of <path>. */
static void read_expectation(const char *path, char *expect, size_t len, unsigned *line)
{
	char buf[512];
	unsigned n = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		fail_msg("cannot open %s", path);
	expect[0] = '\0';
	*line = 0;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		n++;
		if (strncmp(buf, "# expect: ", 10) == 0) {
			snprintf(expect, len, "%s", buf + 10);
			expect[strcspn(expect, "\n")] = '\0';
		}
		if (strstr(buf, "# <- error") != NULL)
			*line = n;
	}
	fclose(f);
	if (expect[0] == '\0')
		fail_msg("%s has no \"# expect: \" line", path);
}

static void test_bad_files_name_file_line_and_setting(void **state)
{
	struct cfg *c = *state;

	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		char path[512], rel[256], expect[512], want[1100], err[CFG_ERR_MAX];
		unsigned line;

		snprintf(rel, sizeof(rel), "tests/unit/test_configs/%s", bad_files[i]);
		src_path(path, sizeof(path), rel);
		read_expectation(path, expect, sizeof(expect), &line);
		if (line)
			snprintf(want, sizeof(want), "%s:%u: %s", path, line, expect);
		else
			snprintf(want, sizeof(want), "%s: %s", path, expect);
		memset(err, 0, sizeof(err));
		if (cfg_load(c, path, err, sizeof(err)) != -1)
			fail_msg("%s loaded, but should fail with: %s", bad_files[i], want);
		/* the error starts with the file, the line and the setting */
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("%s:\n  want: %s...\n  got:  %s", bad_files[i], want, err);
		assert_null(strchr(err, '\n'));
	}
}

/* Every bad_*.conf in test_configs/ is in bad_files[], so none is silently skipped. */
static void test_bad_files_all_listed(void **state)
{
	char dir[512];
	struct dirent *e;
	size_t found = 0;
	DIR *d = opendir(src_path(dir, sizeof(dir), "tests/unit/test_configs"));

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		bool listed = false;

		if (strncmp(e->d_name, "bad_", 4) != 0)
			continue;
		found++;
		for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++)
			listed |= strcmp(e->d_name, bad_files[i]) == 0;
		if (!listed)
			fail_msg("%s is not in bad_files[]", e->d_name);
	}
	closedir(d);
	assert_int_equal(found, sizeof(bad_files) / sizeof(bad_files[0]));
}

/* Writes <head> and <text> into a temporary file, loads it, removes it. Returns
 * cfg_load()'s result; <err> gets the error after "FILE:". */
static int load_head_text(struct cfg *c, const char *head, const char *text, char *err, size_t len)
{
	char path[] = "/tmp/tg-test-config-XXXXXX", buf[CFG_ERR_MAX];
	int fd = mkstemp(path), rc;
	FILE *f;

	assert_true(fd >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fputs(head, f);
	fputs(text, f);
	fclose(f);
	rc = cfg_load(c, path, buf, sizeof(buf));
	unlink(path);
	snprintf(err, len, "%s", rc == 0 ? "" : buf + strlen(path) + 1);
	return rc;
}

/* load_head_text() after the minimal ports and pairs (3 lines). */
static int load_text(struct cfg *c, const char *text, char *err, size_t len)
{
	static const char head[] =
		"ports = ( { name = \"c\"; dev = \"net_af_packet0,iface=a\"; },\n"
		"          { name = \"s\"; dev = \"net_af_packet1,iface=b\"; } );\n"
		"pairs = ( { client = \"c\"; server = \"s\"; } );\n";

	return load_head_text(c, head, text, err, len);
}

/* Loads "eal.args = [ <args> ]; workers.count = <count>" on two null ports (any number
 * of workers fits them). Returns cfg_load()'s result; <err> as load_head_text(). */
static int load_lcores(struct cfg *c, const char *args, unsigned count, char *err, size_t len)
{
	static const char head[] =
		"ports = ( { name = \"c\"; dev = \"net_null0\"; }, { name = \"s\"; dev = \"net_null1\"; } );\n"
		"pairs = ( { client = \"c\"; server = \"s\"; } );\n";
	char text[512];

	snprintf(text, sizeof(text), "eal = { args = [ %s ]; };\nworkers = { count = %u; };\n",
		 args, count);
	return load_head_text(c, head, text, err, len);
}

/* workers.count against the lcores of eal.args' -l, -c or --lcores: tollgated needs one
 * lcore more than workers (the main lcore), and EAL counts lcore ids, not CPUs. */
static void test_workers_need_eal_lcores(void **state)
{
	static const struct {
		const char *args;      /* eal.args */
		unsigned lcores;       /* lcores EAL makes of them (0: the check is skipped) */
	} cases[] = {
		{ "\"-l\", \"0-1\"", 2 },
		{ "\"-l0-2\"", 3 },
		{ "\"-l\", \"0-3,5\"", 5 },
		{ "\"-l\", \" 0 , 2-3 \"", 3 },
		{ "\"-l\", \"0,0,1\"", 2 },                 /* an lcore named twice is one */
		{ "\"--lcores\", \"0@0,1@0,2@1\"", 3 },       /* the @cpu part does not count */
		{ "\"--lcores=(0-1)@0\"", 2 },
		{ "\"--lcores\", \"0-2\"", 3 },
		{ "\"--lcores\", \"1,2@(5-7),(3-5)@(0,2),(0,6),7-8\"", 9 },
		{ "\"-c\", \"0x3\"", 2 },
		{ "\"-c0xF\"", 4 },
		{ "\"-c\", \"6\"", 2 },
		{ "\"--no-pci\"", 0 },             /* no lcore list: tollgated writes one */
		{ "\"-l\", \"zero\"", 0 },        /* EAL refuses it, with its own error */
		{ "\"-l\", \"0-1\", \"-c\", \"0x7\"", 0 },   /* and two lcore options */
	};
	struct cfg *c = *state;
	char err[CFG_ERR_MAX], want[CFG_ERR_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned n = cases[i].lcores;

		/* as many workers as lcores besides the main one: loads */
		if (load_lcores(c, cases[i].args, n ? n - 1 : 8, err, sizeof(err)) != 0)
			fail_msg("eal.args [ %s ]: %s", cases[i].args, err);
		if (n == 0)
			continue;
		/* one more: refused at workers.count (line 4) */
		if (load_lcores(c, cases[i].args, n, err, sizeof(err)) != -1)
			fail_msg("eal.args [ %s ] with workers.count = %u loaded", cases[i].args, n);
		snprintf(want, sizeof(want), "4: workers.count: %u workers need %u lcores (one main + %u "
			 "workers) but eal.args gives %u (", n, n + 1, n, n);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("eal.args [ %s ]:\n  want: %s...\n  got:  %s", cases[i].args, want, err);
	}
	/* the lcore option is shown as written */
	assert_int_equal(load_lcores(c, "\"-c\", \"0x3\"", 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "but eal.args gives 2 (\"-c 0x3\")"));
	assert_int_equal(load_lcores(c, "\"--lcores=(0-1)@0\"", 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "but eal.args gives 2 (\"--lcores=(0-1)@0\")"));
	/* service cores run no worker: "-l 0-2 -s 0x4" leaves one worker lcore (before,
	 * --check passed 2 workers there, and tollgated started with one: the other's RX
	 * queues were never polled) */
	assert_int_equal(load_lcores(c, "\"-l\", \"0-2\", \"-s\", \"0x4\"", 1, err, sizeof(err)), 0);
	assert_int_equal(load_lcores(c, "\"-l\", \"0-2\", \"-s\", \"0x4\"", 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "but eal.args gives 3 (\"-l 0-2\"), 1 of them service cores"));
	assert_int_equal(load_lcores(c, "\"-l\", \"0-3\", \"-S\", \"2-3\"", 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "2 of them service cores"));
	assert_int_equal(load_lcores(c, "\"-l\", \"0-3\", \"-S2-3\"", 1, err, sizeof(err)), 0);
	/* workers.count not written (1): the error names the line of the lcore option */
	assert_int_equal(load_text(c, "eal = {\n args = [ \"--no-pci\",\n \"-l\", \"0\" ]; };\n",
				   err, sizeof(err)), -1);
	assert_string_equal(err, "6: workers.count: 1 worker needs 2 lcores (one main + 1 worker) "
			    "but eal.args gives 1 (\"-l 0\")");
}

static void test_big_integers(void **state)
{
	struct cfg *c = *state;
	char err[CFG_ERR_MAX];

	/* libconfig 1.5 would cut these to 32 bits; the loader refuses them */
	assert_int_equal(load_text(c, "workers = { mbufs = 4294967296; };\n", err, sizeof(err)), -1);
	assert_string_equal(err, "4: workers.mbufs: 4294967296 does not fit in 32 bits: write 4294967296L");
	assert_int_equal(load_text(c, "workers = { mbufs = 0x80000000; };\n", err, sizeof(err)), -1);
	assert_string_equal(err, "4: workers.mbufs: 0x80000000 does not fit in 32 bits: write 0x80000000L");
	assert_int_equal(load_text(c, "workers = {\n count = 1;\n count2 = -2147483649; };\n",
				   err, sizeof(err)), -1);
	assert_non_null(strstr(err, "6: workers.count2: -2147483649 does not fit in 32 bits"));
	/* the largest plain integer is read as written, and ranges apply to it */
	assert_int_equal(load_text(c, "workers = { mbufs = 2147483647; };\n", err, sizeof(err)), -1);
	assert_string_equal(err, "4: workers.mbufs: must be between 1023 and 16777215");
	/* recorder text: normalized by default, raw on request, nothing else */
	assert_int_equal(load_text(c, "recorder = { dir = \"\"; };\n", err, sizeof(err)), 0);
	assert_int_equal(c->dp.record_raw, 0);
	assert_int_equal(c->rec_mask_statements, 1);    /* recorded statements masked */
	assert_int_equal(load_text(c, "recorder = { mask_statements = false; };\n", err,
				   sizeof(err)), 0);
	assert_int_equal(c->rec_mask_statements, 0);
	assert_int_equal(load_text(c, "recorder = { mask_statements = \"yes\"; };\n", err,
				   sizeof(err)), -1);
	assert_non_null(strstr(err, "recorder.mask_statements"));
	assert_int_equal(load_text(c, "recorder = { text = \"raw\"; policy = \"must_record\"; };\n",
				   err, sizeof(err)), 0);
	assert_int_equal(c->dp.record_raw, 1);
	assert_int_equal(c->dp.record, DP_RECORD_MUST);
	assert_int_equal(load_text(c, "recorder = { text = \"verbatim\"; };\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "recorder.text"));
	/* with L, as a unit string, inside strings and comments: all fine */
	assert_int_equal(load_text(c, "dataplane = { stream_memcap = 8589934592L; };\n"
				   "# stream_memcap = 8589934592;\n/* 99999999999 */\n"
				   "eal = { args = [ \"--base-virtaddr=0x7000000000\", \"99999999999\" ]; };\n",
				   err, sizeof(err)), 0);
	assert_int_equal(c->dp.stream_memcap, 8ull << 30);
	assert_int_equal(load_text(c, "dataplane = { stream_memcap = \"8g\"; idle_timeout = \"1d\"; };\n",
				   err, sizeof(err)), 0);
	assert_int_equal(c->dp.stream_memcap, 8ull << 30);
	assert_int_equal(c->dp.idle_timeout_s, 86400);
	/* a unit string that overflows 64 bits is refused, not wrapped */
	assert_int_equal(load_text(c, "dataplane = { stream_memcap = \"99999999999t\"; };\n",
				   err, sizeof(err)), -1);
	assert_non_null(strstr(err, "4: dataplane.stream_memcap: must be a number of bytes"));
}

/* libconfig's parse errors carry only a line: the loader adds that line's text, and for a
 * duplicate the setting's path, so that the error can be found without an editor. */
static void test_parse_errors_show_the_line(void **state)
{
	static const char ports2[] =
		"ports = ( { name = \"c\"; dev = \"net_null0\"; },\n"
		"          { name = \"s\";\n"
		"            name = \"t\"; dev = \"net_null1\"; } );\n";
	struct cfg *c = *state;
	char err[CFG_ERR_MAX], text[256];

	/* the duplicate's path: at the top, in groups, in an item of a list */
	assert_int_equal(load_text(c, "log = { level = \"info\"; };\nlog = { level = \"debug\"; };\n",
				   err, sizeof(err)), -1);
	assert_string_equal(err, "5: duplicate setting name: log");
	assert_int_equal(load_text(c, "workers = { count = 1; };\nrecorder = { dir = \"\"; # x = {\n"
				   "  dir = \"/tmp\"; };\n", err, sizeof(err)), -1);
	assert_string_equal(err, "6: duplicate setting name: recorder.dir");
	assert_int_equal(load_head_text(c, ports2, "", err, sizeof(err)), -1);
	assert_string_equal(err, "3: duplicate setting name: ports[1].name");
	assert_int_equal(load_text(c, "eal = { args = [ \"-m\", \"512\" ]; };\n"
				   "dataplane = { rto_ms = 100;\n"
				   "  /* } */ x = { rto_ms = 1; }; rto_ms = 200; };\n", err, sizeof(err)), -1);
	assert_string_equal(err, "6: duplicate setting name: dataplane.rto_ms");
	/* a syntax error shows its line, trimmed, without a comment after it ... */
	assert_int_equal(load_text(c, "workers = {\n\tcount = ;  // none\r\n};\n", err, sizeof(err)), -1);
	assert_string_equal(err, "5: syntax error near: count = ;");
	/* ... but with a '#' inside a string */
	assert_int_equal(load_text(c, "workers = { poll = \"#bu\\\"sy\"; count = ; }; # x\n", err,
				   sizeof(err)), -1);
	assert_string_equal(err, "4: syntax error near: workers = { poll = \"#bu\\\"sy\"; count = ; };");
	/* a long line is cut at 80 characters */
	snprintf(text, sizeof(text), "rules = { files = [ \"%0100d\" ]; cache_dir = ; };\n", 0);
	assert_int_equal(load_text(c, text, err, sizeof(err)), -1);
	assert_int_equal(strncmp(err, "4: syntax error near: rules = { files = [ \"000", 44), 0);
	assert_int_equal(strlen(err), strlen("4: syntax error near: ") + 80 + 3);
	assert_string_equal(err + strlen(err) - 3, "...");
}

/* A rule file of rules.files that cannot be read is named by the config's file, line and
 * setting (the rule loader alone knows only the rule file's path). */
static void test_rule_files_named_by_setting(void **state)
{
	struct cfg *c = *state;
	char err[CFG_ERR_MAX];

	/* the shipped demo's packs are there */
	load_ok(c, "appliance/demo.conf");
	assert_int_equal(cfg_rule_files_check(c, err, sizeof(err)), 0);
	/* the second of two, missing */
	assert_int_equal(load_text(c, "rules = {\n  files = [ \"/dev/null\",\n"
				   "    \"/nonexistent.conf\" ];\n};\n", err, sizeof(err)), 0);
	assert_int_equal(c->rule_file_line[0], 5);
	assert_int_equal(c->rule_file_line[1], 6);
	assert_int_equal(cfg_rule_files_check(c, err, sizeof(err)), -1);
	assert_string_equal(err + strlen(c->path), ":6: rules.files[1]: cannot open "
			    "\"/nonexistent.conf\": No such file or directory");
	assert_memory_equal(err, c->path, strlen(c->path));
	/* a relative one is shown as resolved against the config file's directory */
	assert_int_equal(load_text(c, "rules = { files = [ \"tg-no-such-pack.conf\" ]; };\n",
				   err, sizeof(err)), 0);
	assert_int_equal(cfg_rule_files_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":4: rules.files[0]: cannot open \"/tmp/tg-no-such-pack.conf\": "));
	/* one that opens but does not read */
	assert_int_equal(load_text(c, "rules = { files = [ \"/\" ]; };\n", err, sizeof(err)), 0);
	assert_int_equal(cfg_rule_files_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":4: rules.files[0]: cannot read \"/\": Is a directory"));
	/* none at all */
	assert_int_equal(load_text(c, "", err, sizeof(err)), 0);
	assert_int_equal(cfg_rule_files_check(c, err, sizeof(err)), 0);
}

static void test_missing_file(void **state)
{
	struct cfg *c = *state;
	char err[CFG_ERR_MAX];

	assert_int_equal(cfg_load(c, "/nonexistent/tollgate.conf", err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/tollgate.conf: cannot open: No such file or directory");
	assert_string_equal(c->path, "/nonexistent/tollgate.conf");
}

static void test_error_buffer_limits(void **state)
{
	struct cfg *c = *state;
	char path[512], err[24];

	src_path(path, sizeof(path), "tests/unit/test_configs/bad_range.conf");
	/* no buffer at all, then one too small: the error is cut, still terminated */
	assert_int_equal(cfg_load(c, path, NULL, 0), -1);
	memset(err, 'x', sizeof(err));
	assert_int_equal(cfg_load(c, path, err, sizeof(err)), -1);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_memory_equal(err, path, sizeof(err) - 1);
}

static void test_parse_proto(void **state)
{
	assert_int_equal(cfg_parse_proto("postgresql"), DP_PROTO_PG);
	assert_int_equal(cfg_parse_proto("pg"), DP_PROTO_PG);
	assert_int_equal(cfg_parse_proto("mysql"), DP_PROTO_MYSQL);
	assert_int_equal(cfg_parse_proto("redis"), DP_PROTO_REDIS);
	assert_int_equal(cfg_parse_proto("http"), DP_PROTO_HTTP);
	assert_int_equal(cfg_parse_proto("tcp"), DP_PROTO_NONE);
	assert_int_equal(cfg_parse_proto("PostgreSQL"), -1);
	assert_int_equal(cfg_parse_proto("test"), -1);
	assert_int_equal(cfg_parse_proto(""), -1);
	assert_int_equal(cfg_parse_proto(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tollgate_conf_loads_and_documents_the_defaults,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_demo_conf_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_minimal_file_gets_documented_defaults,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_units_and_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_files_name_file_line_and_setting,
						setup, teardown),
		cmocka_unit_test(test_bad_files_all_listed),
		cmocka_unit_test_setup_teardown(test_big_integers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workers_need_eal_lcores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_errors_show_the_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_files_named_by_setting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_buffer_limits, setup, teardown),
		cmocka_unit_test(test_parse_proto),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
