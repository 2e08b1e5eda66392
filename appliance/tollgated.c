/* tollgated.c - the appliance daemon: config, EAL, ports, worker lcores, clean stop.
 *
 * Start-up: load the config -> EAL arguments (config eal.args, one -a/--vdev per port,
 * an lcore list) -> rte_eal_init -> decoders -> mbuf pool -> ports -> workers -> one
 * poll loop per worker lcore. The main lcore is the slow path (tgd_slow.c: recorder,
 * management API, SIGHUP rule reloads). Stop: the signal handler sets the quit flag, the
 * loops return, counters are printed, flows closed and recorded, ports stopped.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_random.h>
#include <rte_spinlock.h>
#include <rte_telemetry.h>
#include "appliance/config.h"
#include "common/tg_log.h"
#include "dataplane/dp_counters.h"
#include "dataplane/handoff.h"
#include "dataplane/loop.h"
#include "dataplane/port.h"
#include "dataplane/proto/proto.h"
#include "dataplane/worker.h"
#include "dataplane/policy.h"
#include "slowpath/policy_build.h"
#include "appliance/tgd-t.h"

#define TGD_POOL_NAME      "tg_mbufs"

/* The quit flag: the one mutable global the style allows, because a signal handler
 * has no other way to reach the loops. Loops get it by pointer. */
static volatile bool tgd_quit;
/* SIGHUP: reload the rules. Set by the handler, taken by the slow path. */
static volatile bool tgd_reload;

/* What the telemetry callback reads. DPDK 22.11's rte_telemetry_register_cmd() passes
 * no user argument, so the callback can only find the workers through a static; it is
 * written at start-up and cleared, under the lock, before the workers are freed (the
 * callback runs on the telemetry thread, possibly while tollgated is stopping). */
static struct {
	rte_spinlock_t lock;
	const struct dp_worker *w;    /* workers array, or NULL */
	uint16_t n;                   /* workers in it */
} tgd_tel = { .lock = RTE_SPINLOCK_INITIALIZER };


static void tgd_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s -c FILE [--pidfile PATH]   run the appliance\n"
		"       %s -c FILE --check            validate FILE and exit (also: --check FILE)\n"
		"  -c, --config FILE   configuration file (libconfig)\n"
		"      --check         load and validate the configuration, print \"FILE: ok\"\n"
		"      --pidfile PATH  write the process id to PATH while running\n"
		"  -h, --help          this text\n", prog, prog);
}

/* Parses the command line into <d>. Returns 0, 1 when it printed the help, or -1 on a
 * usage error (printed). */
static int tgd_parse_args(struct tgd *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config",  required_argument, NULL, 'c' },
		{ "check",   no_argument,       NULL, 'C' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "help",    no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': d->cfg_path = optarg; break;
		case 'C': d->check = true; break;
		case 'p': d->pidfile = optarg; break;
		case 'h': tgd_usage(stdout, argv[0]); return 1;
		default:  tgd_usage(stderr, argv[0]); return -1;
		}
	}
	/* "--check FILE": the file is the one positional argument. */
	if (optind < argc && d->cfg_path == NULL)
		d->cfg_path = argv[optind++];
	if (optind < argc || d->cfg_path == NULL) {
		tgd_usage(stderr, argv[0]);
		return -1;
	}
	return 0;
}

static void tgd_on_signal(int sig)
{
	/* Only the flag: nothing else is async-signal-safe here. */
	if (sig == SIGHUP)
		__atomic_store_n(&tgd_reload, true, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&tgd_quit, true, __ATOMIC_RELAXED);
}


/* Appends one EAL argument. Returns 0, or -1 when the list is full. */
static int tgd_eal_push(struct tgd *d, const char *arg)
{
	if (d->eal_argc >= TGD_EAL_ARGS_MAX || strlen(arg) >= TGD_EAL_ARG_LEN) {
		TG_ERR("main", "too many or too long EAL arguments at \"%s\"", arg);
		return -1;
	}
	strcpy(d->eal_store[d->eal_argc], arg);
	d->eal_argv[d->eal_argc] = d->eal_store[d->eal_argc];
	d->eal_argc++;
	d->eal_argv[d->eal_argc] = NULL;
	return 0;
}

/* Tells whether the configured EAL arguments contain an option whose name (short or
 * long, separate or attached value) is one of <names> (NULL-terminated). */
static bool tgd_eal_has(const struct cfg *c, const char *const *names)
{
	for (int i = 0; i < c->n_eal_args; i++) {
		const char *a = c->eal_args[i];

		for (const char *const *n = names; *n; n++) {
			size_t len = strlen(*n);

			if (strncmp(a, *n, len) != 0)
				continue;
			/* "-l", "-l0-1", "--lcores", "--lcores=..." but not "--log-level". */
			if (a[len] == '\0' || a[len] == '=' || (*n)[1] != '-')
				return true;
		}
	}
	return false;
}

/* Writes an lcore list for the main lcore and <n_workers> workers into <out>: the first
 * CPUs of the process's affinity (taskset, systemd CPUAffinity=, a cgroup cpuset), so
 * that "-l 0-N" never names a CPU the process may not use. Returns 0, or -1 (logged)
 * when there are not enough CPUs. */
static int tgd_lcore_list(unsigned n_workers, char *out, size_t outlen)
{
	cpu_set_t set;
	unsigned want = n_workers + 1, have = 0;
	size_t o = 0;

	if (sched_getaffinity(0, sizeof(set), &set) != 0) {
		TG_ERR("main", "sched_getaffinity: %s", strerror(errno));
		return -1;
	}
	out[0] = '\0';
	for (unsigned cpu = 0; cpu < CPU_SETSIZE && have < want; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		int n = snprintf(out + o, outlen - o, "%s%u", have ? "," : "", cpu);
		if (n < 0 || (size_t)n >= outlen - o)
			return -1;
		o += (size_t)n;
		have++;
	}
	if (have < want) {
		TG_ERR("main", "%u workers need %u CPUs (one more for the main lcore), the process "
		       "may use %u: lower workers or give EAL an lcore list that shares CPUs, "
		       "e.g. \"--lcores\", \"0@0,1@0,2@1\" (main and worker 1 on CPU 0, worker 2 "
		       "on CPU 1; with adaptive polling)", n_workers, want, have);
		return -1;
	}
	return 0;
}

/* Builds the EAL argument list: program name, the config's eal.args, one argument per
 * port, and an lcore list and --no-pci where the config does not say otherwise.
 * Returns 0 or -1 (logged). */
static int tgd_build_eal_args(struct tgd *d, const char *prog)
{
	static const char *const lcore_opts[] = { "-l", "-c", "--lcores", NULL };
	static const char *const pci_opts[] = { "-a", "--allow", "-b", "--block", "--no-pci", NULL };
	const struct cfg *c = &d->cfg;
	char buf[TGD_EAL_ARG_LEN], err[CFG_ERR_MAX];
	bool any_pci = false;

	if (tgd_eal_push(d, prog) < 0)
		return -1;
	for (int i = 0; i < c->n_eal_args; i++)
		if (tgd_eal_push(d, c->eal_args[i]) < 0)
			return -1;
	for (uint16_t p = 0; p < c->n_ports; p++) {
		if (dp_port_eal_arg(c->ports[p].dev, buf, sizeof(buf), err, sizeof(err)) < 0) {
			TG_ERR("main", "port %s: %s", c->ports[p].name, err);
			return -1;
		}
		any_pci |= dp_port_is_pci(c->ports[p].dev);
		if (tgd_eal_push(d, buf) < 0)
			return -1;
	}
	/* With only virtual ports and no PCI option, EAL would take over every NIC bound
	 * to a DPDK driver on the machine, ports of other applications included. */
	if (!any_pci && !tgd_eal_has(c, pci_opts) && tgd_eal_push(d, "--no-pci") < 0)
		return -1;
	if (!tgd_eal_has(c, lcore_opts)) {
		if (tgd_lcore_list(c->n_workers, buf, sizeof(buf)) < 0)
			return -1;
		if (tgd_eal_push(d, "-l") < 0 || tgd_eal_push(d, buf) < 0)
			return -1;
	}
	return 0;
}

/* Writes the pid file. Returns 0 or -1 (logged). */
static int tgd_write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		TG_ERR("main", "pid file %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0) {
		TG_ERR("main", "pid file %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Sums every worker's counters into <sum>. The workers write theirs concurrently with
 * plain stores and no lock: each counter is an aligned uint64_t, so a plain load on
 * x86-64 or arm64 sees an old or a new value, never a torn one; the sum is a
 * slightly stale snapshot, which is all a counter report needs. */
void tgd_sum_counters(const struct dp_worker *w, uint16_t n, struct dp_counters *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (uint16_t i = 0; i < n; i++)
		dp_counters_sum(sum, &w[i].cnt);
}

void tgd_sum_port_counters(const struct dp_worker *w, uint16_t n, uint16_t port,
			   struct dp_counters *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (uint16_t i = 0; i < n; i++)
		dp_counters_sum(sum, &w[i].port_cnt[port]);
}

/* Telemetry "/tollgate/stats": the summed counters as a dict (see tgd_sum_counters for
 * why reading them from the telemetry thread without a lock is sound). */
static int tgd_tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp_counters sum;
	uint16_t n;

	rte_spinlock_lock(&tgd_tel.lock);
	n = tgd_tel.w ? tgd_tel.n : 0;
	tgd_sum_counters(tgd_tel.w, n, &sum);
	rte_spinlock_unlock(&tgd_tel.lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "workers", n);
	for (int i = 0; i < DP_CNT__MAX; i++)
		rte_tel_data_add_dict_u64(d, dp_counter_name(i), sum.v[i]);
	return 0;
}

static void tgd_tel_publish(const struct dp_worker *w, uint16_t n)
{
	rte_spinlock_lock(&tgd_tel.lock);
	tgd_tel.w = w;
	tgd_tel.n = n;
	rte_spinlock_unlock(&tgd_tel.lock);
}

/* Logs "name value" for the non-zero counters of <c> as one line. */
static void tgd_log_counters(const char *what, const struct dp_counters *c)
{
	char line[1024];
	size_t o = 0;

	line[0] = '\0';
	for (int i = 0; i < DP_CNT__MAX && o < sizeof(line); i++) {
		if (c->v[i] == 0)
			continue;
		int n = snprintf(line + o, sizeof(line) - o, "%s%s %" PRIu64, o ? ", " : "",
				 dp_counter_name(i), c->v[i]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	TG_INFO("main", "%s: %s", what, o ? line : "all counters zero");
}

/* Creates the mbuf pool, warning when it looks too small for the rings it must fill. */
static int tgd_pool_create(struct tgd *d)
{
	const struct cfg *c = &d->cfg;
	uint64_t need = 0;
	uint32_t frame_max = 0;

	for (uint16_t p = 0; p < c->n_ports; p++) {
		unsigned rx = c->ports[p].rx_desc ? c->ports[p].rx_desc : 1024;
		unsigned tx = c->ports[p].tx_desc ? c->ports[p].tx_desc : 1024;
		need += (uint64_t)(rx + tx) * c->n_workers;
	}
	need += (uint64_t)c->n_workers * (256 + DP_BURST);    /* per-lcore caches, a burst */
	if (c->n_workers > 1)                                  /* frames between workers */
		need += (uint64_t)c->n_workers * DP_HANDOFF_RING;
	if (c->mbufs < need)
		TG_WARN("main", "mbufs = %u is below the %" PRIu64 " the rings alone can hold: "
			"expect rx_nombuf drops", c->mbufs, need);
	/* every mbuf holds the largest frame any port may deliver, whole */
	for (uint16_t p = 0; p < c->n_ports; p++) {
		uint32_t f = dp_port_frame_max(c->ports[p].dev, c->ports[p].mtu);
		frame_max = f > frame_max ? f : frame_max;
	}
	d->pool = dp_worker_pool_create(TGD_POOL_NAME, c->mbufs, frame_max, (int)rte_socket_id());
	if (d->pool == NULL) {
		TG_ERR("main", "creating the pool of %u mbufs of %u bytes: %s", c->mbufs,
		       dp_worker_data_room(frame_max), rte_strerror(rte_errno));
		return -1;
	}
	if (dp_worker_data_room(frame_max) > RTE_MBUF_DEFAULT_BUF_SIZE)
		TG_INFO("main", "mbufs of %u bytes (frames up to %u bytes): %" PRIu64 " MiB for %u mbufs",
			dp_worker_data_room(frame_max), frame_max,
			(uint64_t)dp_worker_data_room(frame_max) * c->mbufs >> 20, c->mbufs);
	return 0;
}

/* Resolves and starts every configured port. Returns 0 or -1 (logged). */
static int tgd_ports_setup(struct tgd *d)
{
	const struct cfg *c = &d->cfg;
	char err[CFG_ERR_MAX];

	for (uint16_t p = 0; p < c->n_ports; p++) {
		const struct cfg_port *cp = &c->ports[p];

		if (dp_port_lookup(cp->dev, &d->port_id[p], err, sizeof(err)) < 0) {
			TG_ERR("port", "port %s: %s", cp->name, err);
			return -1;
		}
		d->n_ports_configured = p + 1;
		if (dp_port_setup(d->port_id[p], c->n_workers, cp->rx_desc, cp->tx_desc, cp->mtu,
				  d->pool, err, sizeof(err)) < 0) {
			TG_ERR("port", "port %s (%s): %s", cp->name, cp->dev, err);
			return -1;
		}
		TG_INFO("port", "port %s is ethdev %u (%s)", cp->name, d->port_id[p], cp->dev);
	}
	return 0;
}

/* Adaptive polling on af_packet ports: the loop sleeps in poll() on the PMD's socket of
 * its own queue on each port, so that a frame ends the sleep (dataplane/loop.h). Only
 * its own: another worker's socket stays readable while that worker is busy, and would
 * keep this one from sleeping. */
static void tgd_wake_fds(struct tgd *d, struct dp_loop *lp, uint16_t queue)
{
	const struct cfg *c = &d->cfg;

	lp->n_wake = 0;
	for (uint16_t p = 0; p < c->n_ports && lp->n_wake < DP_LOOP_WAKE_MAX; p++) {
		int fd;

		if (!dp_port_is_af_packet(c->ports[p].dev))
			continue;
		fd = dp_port_af_packet_queue_fd(d->port_id[p], queue, c->ports[p].dev);
		if (fd < 0)
			TG_WARN("main", "port %s, queue %u: its af_packet socket was not found; a "
				"sleeping worker waits out its sleeps there", c->ports[p].name,
				queue);
		else
			lp->wake_fd[lp->n_wake++] = fd;
	}
}

/* Allocates and initialises the workers and their loops. Returns 0 or -1 (logged). */
static int tgd_workers_init(struct tgd *d)
{
	const struct cfg *c = &d->cfg;
	uint16_t peer[DP_MAX_PORTS];
	uint8_t server_side[DP_MAX_PORTS] = { 0 };
	unsigned lcore, i = 0;

	for (uint16_t p = 0; p < DP_MAX_PORTS; p++)
		peer[p] = UINT16_MAX;
	for (uint16_t k = 0; k < c->n_pairs; k++) {
		if (c->pairs[k].a >= c->n_ports || c->pairs[k].b >= c->n_ports) {
			TG_ERR("main", "pair %u names a port that does not exist", k);
			return -1;
		}
		peer[c->pairs[k].a] = c->pairs[k].b;
		peer[c->pairs[k].b] = c->pairs[k].a;
		server_side[c->pairs[k].b] = 1;
	}
	d->workers = rte_zmalloc("tg_workers", sizeof(*d->workers) * c->n_workers,
				 RTE_CACHE_LINE_SIZE);
	d->loops = rte_zmalloc("tg_loops", sizeof(*d->loops) * c->n_workers, RTE_CACHE_LINE_SIZE);
	if (d->workers == NULL || d->loops == NULL) {
		TG_ERR("main", "allocating %u workers: out of memory", c->n_workers);
		return -1;
	}
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (i == c->n_workers)
			break;
		struct dp_worker *w = &d->workers[i];
		int rc = dp_worker_init(w, (uint16_t)i, c->n_ports, peer, server_side, &c->dp, d->pool);

		if (rc < 0) {
			TG_ERR("worker", "worker %u: init: %s", i, rte_strerror(-rc));
			return -1;
		}
		d->n_workers_init = (uint16_t)(i + 1);
		w->queue = (uint16_t)i;
		w->lcore = lcore;
		d->lcore[i] = lcore;
		d->loops[i].w = w;
		memcpy(d->loops[i].port_id, d->port_id, sizeof(d->port_id));
		d->loops[i].poll = c->poll == CFG_POLL_ADAPTIVE ? DP_POLL_ADAPTIVE : DP_POLL_BUSY;
		d->loops[i].idle_us_max = c->poll_idle_us;
		d->loops[i].deep_us_max = c->poll_deep_idle_us;
		d->loops[i].deep_after_ms = c->poll_deep_after_ms;
		d->loops[i].quit = &tgd_quit;
		if (c->poll == CFG_POLL_ADAPTIVE)
			tgd_wake_fds(d, &d->loops[i], (uint16_t)i);
		i++;
	}
	/* rte_lcore_count() counted lcores that run no worker (service cores, -s/-S): each
	 * worker owns an RX queue of every port, and a queue nobody polls loses what RSS
	 * puts there, so too few worker lcores is an error, not fewer workers */
	if (i < c->n_workers) {
		TG_ERR("main", "workers = %u, but EAL has only %u worker lcores (service cores run "
		       "no worker): fix eal.args' lcore list", c->n_workers, i);
		return -1;
	}
	return 0;
}

/* Compiles the configured rule files into a snapshot. Returns NULL on error, with one
 * line in <err> (<errlen> bytes). */
struct dp_policy *tgd_policy_build(struct tgd *d, unsigned n_workers, char *err, size_t errlen)
{
	const char *files[CFG_MAX_RULE_FILES];

	/* a file of rules.files that is not there is named by its setting (the config's
	 * file and line), not by its path only; files put through the API are ours */
	if (!d->rules_from_api && cfg_rule_files_check(&d->cfg, err, errlen) < 0)
		return NULL;
	for (int i = 0; i < d->cfg.n_rule_files; i++)
		files[i] = d->cfg.rule_files[i];
	return policy_build(files, (unsigned)d->cfg.n_rule_files, &d->cfg.dp, d->cfg.rule_cache_dir,
			    n_workers, err, errlen);
}

/* Creates the policy slot, publishes the configured rules, attaches the workers.
 * Returns 0 or -1 (logged): a broken rule file stops start-up. */
static int tgd_policy_init(struct tgd *d)
{
	char err[CFG_ERR_MAX];
	struct dp_policy *p;

	d->slot = dp_policy_slot_create(d->n_workers_init);
	if (d->slot == NULL) {
		TG_ERR("rules", "cannot create the policy slot");
		return -1;
	}
	p = tgd_policy_build(d, d->n_workers_init, err, sizeof(err));
	if (p == NULL) {
		TG_ERR("rules", "%s", err);
		return -1;
	}
	/* no worker is online yet: the grace period is immediate */
	dp_policy_publish(d->slot, p);
	for (uint16_t i = 0; i < d->n_workers_init; i++)
		dp_worker_attach_policy(&d->workers[i], d->slot);
	TG_INFO("rules", "policy %" PRIu64 ": %u rules from %d files (set %.16s)", p->version,
		p->n_rules, d->cfg.n_rule_files, p->hash[0] ? p->hash : "-");
	return 0;
}

/* SIGHUP: compile the rule files again and swap the snapshot in; on error the rules in
 * force stay (the error names file, line and rule). */
void tgd_policy_reload(struct tgd *d)
{
	char err[CFG_ERR_MAX];
	struct cfg *fresh = calloc(1, sizeof(*fresh));
	struct dp_policy *p;

	if (fresh == NULL)
		return;
	/* the rule file list may have changed: read it again from the config file; the
	 * rest of the config needs a restart and is ignored here */
	if (cfg_load(fresh, d->cfg_path, err, sizeof(err)) != 0) {
		TG_ERR("rules", "reload: %s (rules in force kept)", err);
		free(fresh);
		return;
	}
	/* rules put through the API stay the rule set until a restart: SIGHUP recompiles
	 * them; otherwise the config's list (it may have changed) */
	if (!d->rules_from_api) {
		d->cfg.n_rule_files = fresh->n_rule_files;
		memcpy(d->cfg.rule_files, fresh->rule_files, sizeof(d->cfg.rule_files));
		memcpy(d->cfg.rule_file_line, fresh->rule_file_line, sizeof(d->cfg.rule_file_line));
	}
	free(fresh);
	p = tgd_policy_build(d, d->n_workers_init, err, sizeof(err));
	if (p == NULL) {
		TG_ERR("rules", "%s", err);
		TG_ERR("rules", "reload failed: the rules in force are kept");
		return;
	}
	dp_policy_publish(d->slot, p);
	TG_INFO("rules", "policy %" PRIu64 ": %u rules (set %.16s) in force", p->version,
		p->n_rules, p->hash[0] ? p->hash : "-");
}

/* Launches one loop per worker. Returns 0, or -1 (logged) with the quit flag set. */
static int tgd_launch(struct tgd *d)
{
	for (uint16_t i = 0; i < d->n_workers_init; i++) {
		int rc = rte_eal_remote_launch(dp_loop_run, &d->loops[i], d->lcore[i]);

		if (rc != 0) {
			TG_ERR("main", "worker %u: launch on lcore %u: %s", i, d->lcore[i],
			       rte_strerror(-rc));
			__atomic_store_n(&tgd_quit, true, __ATOMIC_RELAXED);
			return -1;
		}
		d->launched[i] = true;
	}
	return 0;
}

/* Waits for the launched loops and prints per-worker and total counters. */
static void tgd_join_and_report(struct tgd *d)
{
	struct dp_counters sum;
	char prefix[32];

	for (uint16_t i = 0; i < d->n_workers_init; i++)
		if (d->launched[i] && rte_eal_wait_lcore(d->lcore[i]) != 0)
			TG_WARN("main", "worker %u on lcore %u returned an error", i, d->lcore[i]);
	if (d->workers == NULL)
		return;
	for (uint16_t i = 0; i < d->n_workers_init; i++) {
		fprintf(stderr, "worker %u (lcore %u):\n", i, d->lcore[i]);
		snprintf(prefix, sizeof(prefix), "  w%u ", i);
		dp_counters_print(stderr, prefix, &d->workers[i].cnt);
	}
	tgd_sum_counters(d->workers, d->n_workers_init, &sum);
	fprintf(stderr, "total:\n");
	dp_counters_print(stderr, "  ", &sum);
	tgd_log_counters("totals", &sum);
	/* per port, summed over the workers: what befell the frames received on it, and
	 * what was sent on it */
	for (uint16_t p = 0; p < d->cfg.n_ports; p++) {
		struct dp_counters pc;

		tgd_sum_port_counters(d->workers, d->n_workers_init, p, &pc);
		fprintf(stderr, "port %s:\n", d->cfg.ports[p].name);
		dp_counters_print(stderr, "  ", &pc);
	}
}

/* Releases everything, in the reverse order of start-up. Safe on a partial start. */
static void tgd_shutdown(struct tgd *d)
{
	for (uint16_t p = 0; p < d->n_ports_configured; p++)
		dp_port_stop(d->port_id[p]);
	tgd_tel_publish(NULL, 0);
	for (uint16_t i = 0; i < d->n_workers_init; i++)
		dp_worker_fini(&d->workers[i]);
	if (d->handoff) {
		dp_handoff_rings_free(d->handoff);
		rte_free(d->handoff);
		d->handoff = NULL;
	}
	tgd_slow_fini(d);               /* records the close events the workers just sent */
	dp_policy_slot_free(d->slot);
	d->slot = NULL;
	for (uint16_t p = 0; p < d->n_ports_configured; p++)
		dp_port_close(d->port_id[p]);
	rte_free(d->loops);
	rte_free(d->workers);
	rte_mempool_free(d->pool);
	rte_eal_cleanup();
}

/* Several workers: a frame whose flow RSS could not see goes to the worker RSS gives
 * that flow (dataplane/handoff.h). NICs leave fragments to queue 0, so with fragments =
 * "reassemble" worker 0 reassembles every datagram and passes each on; and an IPv6
 * segment with a routing header in transit was hashed on its next waypoint, not on its
 * final destination. That needs each port's RSS key and redirection table, read from
 * the started ports; where a port has no RSS or does not tell them, every worker finds
 * the owner of every protected segment itself (software flow spreading). Returns 0, or
 * -1 (logged). */
static int tgd_handoff_init(struct tgd *d)
{
	const struct cfg *c = &d->cfg;
	char err[256];

	if (d->n_workers_init < 2)
		return 0;
	d->handoff = rte_zmalloc("tg_handoff", sizeof(*d->handoff), RTE_CACHE_LINE_SIZE);
	if (d->handoff == NULL) {
		TG_ERR("main", "handoff between workers: out of memory");
		return -1;
	}
	d->handoff->n_workers = d->n_workers_init;
	/* A port whose PMD has no RSS (af_packet), or whose RSS key and table cannot be
	 * read: nothing this process can follow steers a flow to one worker, so the workers
	 * decide the owner themselves, for every port's segments (both directions of a flow
	 * must agree). That is correct whatever the device does; with RSS followed, only
	 * the frames the NIC cannot hash right (fragments, routed IPv6) change worker. */
	if (c->spread == CFG_SPREAD_SOFTWARE) {
		snprintf(err, sizeof(err), "workers.spread = \"software\"");
		d->handoff->soft = 1;
	}
	for (uint16_t p = 0; p < c->n_ports && !d->handoff->soft; p++) {
		if (!dp_port_rss_capable(d->port_id[p])) {
			snprintf(err, sizeof(err), "port %u has no RSS", d->port_id[p]);
			d->handoff->soft = 1;
		} else if (dp_port_rss_get(d->port_id[p], &d->handoff->rss[p], err,
					   sizeof(err)) < 0) {
			d->handoff->soft = 1;
		}
	}
	if (d->handoff->soft)
		d->handoff->seed = (uint32_t)rte_rand();
	if (dp_handoff_rings_create(d->handoff, (int)rte_socket_id()) < 0) {
		TG_ERR("main", "handoff between workers: cannot create %u rings", d->n_workers_init);
		return -1;
	}
	/* adaptive polling: a worker that hands frames to a sleeping one wakes it */
	if (c->poll == CFG_POLL_ADAPTIVE) {
		if (dp_handoff_wake_init(d->handoff) < 0) {
			TG_ERR("main", "handoff between workers: eventfd: %s", strerror(errno));
			return -1;
		}
		for (uint16_t i = 0; i < d->n_workers_init; i++) {
			d->loops[i].kick_fd = d->handoff->wake[i].efd;
			d->loops[i].kick_on = 1;
		}
	}
	for (uint16_t i = 0; i < d->n_workers_init; i++)
		d->workers[i].handoff = d->handoff;
	if (d->handoff->soft)
		TG_INFO("main", "%u workers and %s: flows are spread in software (each worker "
			"passes other workers' segments to them)", d->n_workers_init, err);
	else
		TG_INFO("main", "%u workers: %sIPv6 segments with a routing header are passed to "
			"the worker that owns their flow", d->n_workers_init,
			c->dp.frag == DP_FRAG_REASSEMBLE ? "reassembled fragments and " : "");
	return 0;
}

/* Loads the configuration; with --check prints the verdict. Returns 0, or 1 (printed). */
static int tgd_load(struct tgd *d)
{
	char err[CFG_ERR_MAX];
	int lvl;

	if (cfg_load(&d->cfg, d->cfg_path, err, sizeof(err)) != 0) {
		if (d->check)
			fprintf(stderr, "%s\n", err);
		else
			TG_ERR("config", "%s", err);
		return 1;
	}
	if (d->check) {
		struct dp_policy *p = tgd_policy_build(d, 1, err, sizeof(err));
		if (p == NULL) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		printf("%s: ok (%u rules)\n", d->cfg_path, p->n_rules);
		p->destroy(p);
		return 0;
	}
	lvl = tg_log_level_parse(d->cfg.log_level);
	if (lvl < 0)
		TG_WARN("config", "unknown log level \"%s\", keeping info", d->cfg.log_level);
	else
		tg_log_set_level((enum tg_log_level)lvl);
	if (d->cfg.n_workers == 0 || d->cfg.n_ports == 0) {
		TG_ERR("config", "%s: need at least one worker and one port", d->cfg_path);
		return 1;
	}
	return 0;
}

/* Starts EAL with SIGINT/SIGTERM blocked, so that every thread EAL creates (worker
 * lcores, interrupt and telemetry threads) inherits the blocked mask and the signals
 * reach the main thread only: its 100 ms sleep wakes at once, and no EAL thread's
 * system call is interrupted. A signal during start-up stays pending until then.
 * Returns 0 or -1 (logged). */
static int tgd_eal_start(struct tgd *d)
{
	struct sigaction sa = { .sa_handler = tgd_on_signal };
	sigset_t sigs;
	int rc;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	rc = rte_eal_init(d->eal_argc, d->eal_argv);
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	if (rc < 0) {
		TG_ERR("main", "rte_eal_init: %s", rte_strerror(rte_errno));
		return -1;
	}
	if (rte_lcore_count() - 1 < d->cfg.n_workers) {
		TG_ERR("main", "workers = %u, but EAL has %u worker lcores: fix eal.args' lcore list",
		       d->cfg.n_workers, rte_lcore_count() - 1);
		rte_eal_cleanup();
		return -1;
	}
	if (rte_lcore_count() - 1 > d->cfg.n_workers)
		TG_WARN("main", "EAL has %u worker lcores, %u used (workers)",
			rte_lcore_count() - 1, d->cfg.n_workers);
	return 0;
}

/* Everything before the data plane: arguments, config (and --check), EAL.
 * Returns -1 to go on, or the exit status: 0 (help, check ok), 1 (config or EAL
 * error, logged), 2 (usage). Leaves nothing of EAL to undo when it returns >= 0. */
static int tgd_prepare(struct tgd *d, int argc, char **argv)
{
	int rc = tgd_parse_args(d, argc, argv);

	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (tgd_load(d) != 0)
		return 1;
	if (d->check)
		return 0;
	if (tgd_build_eal_args(d, argv[0]) < 0 || tgd_eal_start(d) < 0)
		return 1;
	return -1;
}

int main(int argc, char **argv)
{
	struct tgd *d = calloc(1, sizeof(*d));
	int rc;

	if (d == NULL) {
		fprintf(stderr, "tollgated: out of memory\n");
		return 1;
	}
	rc = tgd_prepare(d, argc, argv);
	if (rc >= 0) {
		free(d);
		return rc;
	}
	/* Decoders are registered before any worker can look one up. */
	proto_register_builtin();

	rc = 1;
	d->quit = &tgd_quit;
	d->reload = &tgd_reload;
	if (tgd_pool_create(d) < 0 || tgd_ports_setup(d) < 0 || tgd_workers_init(d) < 0 || tgd_handoff_init(d) < 0 ||
	    tgd_policy_init(d) < 0 || tgd_slow_init(d) < 0)
		goto out;
	tgd_tel_publish(d->workers, d->n_workers_init);
	if (rte_telemetry_register_cmd("/tollgate/stats", tgd_tel_stats,
				       "Data-plane counters summed over the workers. No parameters") != 0)
		TG_WARN("main", "telemetry command /tollgate/stats not registered");
	if (d->pidfile) {
		if (tgd_write_pidfile(d->pidfile) < 0)
			goto out;
		d->pid_written = true;
	}
	if (tgd_launch(d) == 0) {
		TG_INFO("main", "running: %u workers, %u ports, %u pairs (config %s)",
			d->n_workers_init, d->cfg.n_ports, d->cfg.n_pairs, d->cfg_path);
		tgd_slow_run(d);
		TG_INFO("main", "stopping");
		rc = 0;
	}
out:
	tgd_join_and_report(d);
	tgd_shutdown(d);
	if (d->pid_written)
		unlink(d->pidfile);
	TG_INFO("main", "%s", rc == 0 ? "stopped" : "stopped after a start-up error");
	free(d);
	return rc;
}
