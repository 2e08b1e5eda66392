/* tgd-t.h - the daemon's state, shared by tollgated.c (start-up, workers, stop),
 * tgd_slow.c (the slow path's event loop: events -> recorder, API, timers) and
 * tgd_ops.c (what the management API asks of the daemon). */
#ifndef TG_TGD_T_H
#define TG_TGD_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <rte_lcore.h>
#include "appliance/config-t.h"
#include "dataplane/dp_counters-t.h"

#define TGD_EAL_ARGS_MAX   (1 + CFG_MAX_EAL_ARGS + DP_MAX_PORTS + 4)
#define TGD_EAL_ARG_LEN    (CFG_PATH_MAX + 16)
#define TGD_MAX_VERDICT_RULES 512

struct rte_mempool;
struct rte_ring;
struct dp_worker;
struct dp_loop;
struct dp_policy_slot;
struct rec;
struct api;
struct rule_scratch;

/* The daemon's state, on the heap (the config alone is tens of kilobytes). */
struct tgd {
	struct cfg cfg;                                 /* loaded configuration */
	const char *cfg_path;                           /* -c FILE */
	const char *pidfile;                            /* --pidfile PATH, or NULL */
	bool check;                                     /* --check: validate and exit */
	bool pid_written;                               /* the pid file is ours to remove */
	int eal_argc;                                   /* EAL arguments built */
	char eal_store[TGD_EAL_ARGS_MAX][TGD_EAL_ARG_LEN]; /* their text (EAL may keep pointers) */
	char *eal_argv[TGD_EAL_ARGS_MAX + 1];           /* argv handed to rte_eal_init */
	uint16_t port_id[DP_MAX_PORTS];                 /* config port index -> ethdev id */
	uint16_t n_ports_configured;                    /* ports dp_port_setup touched */
	struct rte_mempool *pool;                       /* packet mbufs */
	struct dp_worker *workers;                      /* n_workers, cache aligned */
	struct dp_loop *loops;                          /* one per worker */
	uint16_t n_workers_init;                        /* workers dp_worker_init succeeded on */
	struct dp_handoff *handoff;                     /* several workers reassembling: where
	                                                 * datagrams go to their flow's worker */
	unsigned lcore[RTE_MAX_LCORE];                  /* worker index -> lcore id */
	struct dp_policy_slot *slot;                    /* where rule snapshots are published */
	bool launched[RTE_MAX_LCORE];                   /* worker index -> loop launched */
	/* slow path */
	struct rte_ring *ev_ring[RTE_MAX_LCORE];        /* worker i -> slow path events */
	struct rte_ring *ctl_ring[RTE_MAX_LCORE];       /* slow path -> worker i commands */
	struct rec *rec;                                /* recorder (NULL: not recording) */
	bool rec_unavailable;                           /* recorder.dir is set but its store
	                                                 * could not be opened: running
	                                                 * without recording (best_effort) */
	void *slow;                                     /* tgd_slow_run()'s state while it runs */
	struct api *api;                                /* management API (NULL: off) */
	uint64_t rec_statements_masked;                 /* recorded statements masked */
	struct rule_scratch *scratch;                   /* the slow path's rule scratch (API
	                                                 * rules test, recorded statements):
	                                                 * tgd_rule_scratch() */
	uint64_t scratch_version;                       /* policy version it was made for */
	uint64_t ev_drained;                            /* events taken from the rings */
	uint64_t started_ns;                            /* wall clock at start */
	volatile bool *quit;                            /* the quit flag (signal handler) */
	volatile bool *reload;                          /* the reload flag (SIGHUP) */
	bool rules_from_api;                            /* rule_files were put through the API */
	unsigned n_verdicts;                            /* rules in verdicts[] */
	struct tgd_verdicts {
		char rule[64];                          /* rule id */
		uint64_t n[6];                          /* commands, by enum rule_action */
	} verdicts[TGD_MAX_VERDICT_RULES];              /* from the recorded command events */
};

/* tollgated.c */
void tgd_sum_counters(const struct dp_worker *w, uint16_t n, struct dp_counters *sum);
/* The same for port <port>'s counters (dp_worker's port_cnt). */
void tgd_sum_port_counters(const struct dp_worker *w, uint16_t n, uint16_t port,
			   struct dp_counters *sum);
void tgd_policy_reload(struct tgd *d);
struct dp_policy *tgd_policy_build(struct tgd *d, unsigned n_workers, char *err, size_t errlen);

/* tgd_slow.c */
/* Creates the event and control rings and opens the recorder; sets the workers'
 * session id base and clocks. Before the loops start. Returns 0 or -1 (logged). */
int tgd_slow_init(struct tgd *d);
/* Runs the slow path until the quit flag is set: drains events into the recorder,
 * serves the API, reloads rules on SIGHUP, applies retention, logs a summary. */
void tgd_slow_run(struct tgd *d);
/* Writes what the workers' rings hold now, as the next timer tick would (for the API's
 * reads and kills, on the slow path's own thread). A no-op outside tgd_slow_run(). */
void tgd_slow_flush(struct tgd *d);
/* After the loops stopped: records what is left in the rings, closes the recorder. */
void tgd_slow_fini(struct tgd *d);

#endif
