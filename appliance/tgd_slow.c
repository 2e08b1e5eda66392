/* tgd_slow.c - the slow path's event loop: worker events -> recorder batches, the
 * management API, SIGHUP rule reloads, retention, a periodic summary.
 *
 * One libevent event_base on the main lcore. A timer fires every recorder.batch_ms:
 * it drains every worker's event ring into one batch and writes it in one LMDB
 * transaction (so one core sustains hundreds of thousands of events per second), and
 * checks the quit and reload flags. The API's evhttp runs on the same base, so its
 * handlers read the recorder on the writer's thread, between batches.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_malloc.h>
#include <rte_errno.h>
#include "appliance/tgd-t.h"
#include "appliance/tgd_ops.h"
#include "appliance/tgd_recmask.h"
#include "common/tg_clock.h"
#include "common/tg_log.h"
#include "dataplane/dp_counters.h"
#include "rules/rule.h"
#include "dataplane/loop.h"
#include "dataplane/worker.h"
#include "slowpath/event-t.h"
#include "slowpath/recorder.h"
#include "mgmt/api.h"

#define SLOW_BATCH_MAX     4096            /* events per write transaction at most */
#define SLOW_SUMMARY_NS    (10ull * 1000000000ull)
#define SLOW_RETAIN_NS     (60ull * 1000000000ull)
#define SLOW_RETAIN_BUDGET 256

struct slow_state {
	struct tgd *d;
	struct event_base *base;
	struct event *tick;
	struct tg_event *batch;        /* SLOW_BATCH_MAX events */
	uint64_t next_summary_ns;
	uint64_t next_retain_ns;
	uint64_t last_rx, last_tx;
};

int tgd_slow_init(struct tgd *d)
{
	const struct cfg *c = &d->cfg;
	char name[RTE_RING_NAMESIZE], err[512];
	uint16_t boot = 0;
	int64_t off;

	d->started_ns = tg_wall_ns();
	if (c->rec_dir[0]) {
		if (rec_open(c->rec_dir, c->rec_map_size, 0, &d->rec, err, sizeof(err)) < 0) {
			/* The appliance is inline: not starting stops every session behind it.
			 * Only recorder.policy = must_record puts the recording first (as it
			 * resets a session whose events cannot be queued); best_effort runs
			 * without recording, said in the log and in /metrics. A store that
			 * reached its map limit fails here (the boot counter cannot be
			 * written), and stopped the appliance from starting at all. */
			if (c->dp.record == DP_RECORD_MUST) {
				TG_ERR("recorder", "%s (recorder.policy = must_record: not starting)",
				       err);
				return -1;
			}
			TG_ERR("recorder", "%s: running WITHOUT recording (recorder.policy = "
			       "best_effort); free the store (or raise recorder.map_size) and "
			       "restart", err);
			d->rec_unavailable = true;
		}
	}
	if (d->rec) {
		boot = rec_boot(d->rec);
		const char *names[DP_MAX_RESOURCES];
		for (unsigned i = 0; i < c->dp.n_resources; i++)
			names[i] = c->dp.resources[i].name;
		rec_set_resources(d->rec, names, c->dp.n_resources);
		TG_INFO("recorder", "recording into %s (boot %u)", c->rec_dir, boot);
	}
	/* the workers' clock (TSC ns) against the wall clock, for event times */
	off = (int64_t)(tg_wall_ns() - dp_loop_clock_ns());
	for (uint16_t i = 0; i < d->n_workers_init; i++) {
		struct dp_worker *w = &d->workers[i];
		/* session ids unique across restarts: boot << 48 | worker << 40 | counter */
		w->next_flow_id = (uint64_t)boot << 48 | (uint64_t)i << 40;
		w->realtime_off_ns = off;
		snprintf(name, sizeof(name), "tg_ctl%u", i);
		d->ctl_ring[i] = rte_ring_create_elem(name, sizeof(struct dp_ctl_msg), 256,
						      (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (d->ctl_ring[i] == NULL) {
			TG_ERR("main", "control ring of worker %u: %s", i, rte_strerror(rte_errno));
			return -1;
		}
		w->ctl_ring = d->ctl_ring[i];
		if (d->rec == NULL)
			continue;
		snprintf(name, sizeof(name), "tg_ev%u", i);
		d->ev_ring[i] = rte_ring_create_elem(name, sizeof(struct tg_event),
						     rte_align32pow2(c->rec_ring_size), (int)rte_socket_id(),
						     RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (d->ev_ring[i] == NULL) {
			TG_ERR("recorder", "event ring of worker %u (%u events): %s", i,
			       c->rec_ring_size, rte_strerror(rte_errno));
			return -1;
		}
		w->ev_ring = d->ev_ring[i];
	}
	return 0;
}

/* Counts the verdicts of command events by rule, for /metrics. */
static void count_verdicts(struct tgd *d, const struct tg_event *ev, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const struct tg_event *e = &ev[i];
		unsigned k;
		if (e->type != EV_COMMAND || e->u.cmd.rule[0] == 0 || e->u.cmd.action > 5)
			continue;
		for (k = 0; k < d->n_verdicts; k++)
			if (strcmp(d->verdicts[k].rule, e->u.cmd.rule) == 0)
				break;
		if (k == d->n_verdicts) {
			if (k == TGD_MAX_VERDICT_RULES)
				continue;
			snprintf(d->verdicts[k].rule, sizeof(d->verdicts[k].rule), "%s", e->u.cmd.rule);
			d->n_verdicts++;
		}
		d->verdicts[k].n[e->u.cmd.action]++;
	}
}

/* Takes every waiting event from the rings and writes them, one transaction per
 * SLOW_BATCH_MAX. Returns the number of events taken. */
static unsigned slow_drain(struct slow_state *s)
{
	struct tgd *d = s->d;
	unsigned total = 0, n = 0;
	int more = 1;

	if (d->rec == NULL)
		return 0;
	while (more) {
		more = 0;
		for (uint16_t i = 0; i < d->n_workers_init && n < SLOW_BATCH_MAX; i++) {
			if (d->ev_ring[i] == NULL)
				continue;
			unsigned got = rte_ring_sc_dequeue_burst_elem(d->ev_ring[i], s->batch + n,
								      sizeof(struct tg_event),
								      SLOW_BATCH_MAX - n, NULL);
			n += got;
		}
		if (n == SLOW_BATCH_MAX)
			more = 1;
		if (n) {
			/* a failed batch is counted by the recorder (events_lost) */
			tgd_mask_statements(d, s->batch, n);
			count_verdicts(d, s->batch, n);
			rec_write(d->rec, s->batch, n);
			total += n;
			n = 0;
		}
	}
	d->ev_drained += total;
	return total;
}

static void slow_summary(struct slow_state *s)
{
	struct dp_counters sum;
	struct tgd *d = s->d;

	tgd_sum_counters(d->workers, d->n_workers_init, &sum);
	if (DP_CNT_GET(&sum, rx_pkts) == s->last_rx && DP_CNT_GET(&sum, tx_pkts) == s->last_tx)
		return;
	TG_INFO("main", "rx %" PRIu64 " pkts (+%" PRIu64 "), tx %" PRIu64 " pkts (+%" PRIu64
		"), flows %" PRIu64 ", blocked %" PRIu64 ", masked %" PRIu64 ", events %" PRIu64
		" (lost %" PRIu64 ")",
		DP_CNT_GET(&sum, rx_pkts), DP_CNT_GET(&sum, rx_pkts) - s->last_rx,
		DP_CNT_GET(&sum, tx_pkts), DP_CNT_GET(&sum, tx_pkts) - s->last_tx,
		DP_CNT_GET(&sum, flow_created), DP_CNT_GET(&sum, cmd_blocked),
		DP_CNT_GET(&sum, fields_masked), d->ev_drained, DP_CNT_GET(&sum, ev_lost));
	s->last_rx = DP_CNT_GET(&sum, rx_pkts);
	s->last_tx = DP_CNT_GET(&sum, tx_pkts);
}

static void slow_tick(evutil_socket_t fd, short what, void *arg)
{
	struct slow_state *s = arg;
	struct tgd *d = s->d;
	uint64_t now = tg_mono_ns();

	(void)fd;
	(void)what;
	/* a quiet tick flushes the last commit's meta page (rec_sync): while events flow,
	 * each commit's own sync does it for the one before */
	if (slow_drain(s) == 0 && d->rec)
		rec_sync(d->rec);
	if (__atomic_exchange_n(d->reload, false, __ATOMIC_RELAXED))
		tgd_policy_reload(d);
	if (now >= s->next_summary_ns) {
		slow_summary(s);
		s->next_summary_ns = now + SLOW_SUMMARY_NS;
	}
	if (d->rec && now >= s->next_retain_ns) {
		int n = rec_retain(d->rec, d->cfg.rec_max_age_s, d->cfg.rec_max_bytes,
				   SLOW_RETAIN_BUDGET);
		if (n > 0)
			TG_INFO("recorder", "retention removed %d sessions", n);
		/* a full budget means more may be due: come back on the next tick, so the
		 * writer is never stopped for long and retention keeps up */
		s->next_retain_ns = n >= SLOW_RETAIN_BUDGET ? now : now + SLOW_RETAIN_NS;
	}
	if (__atomic_load_n(d->quit, __ATOMIC_RELAXED))
		event_base_loopbreak(s->base);
}

void tgd_slow_run(struct tgd *d)
{
	struct slow_state s = { .d = d };
	struct timeval tv = { 0, (long)d->cfg.rec_batch_ms * 1000 };
	char err[512];

	s.batch = calloc(SLOW_BATCH_MAX, sizeof(struct tg_event));
	s.base = event_base_new();
	if (s.batch == NULL || s.base == NULL) {
		TG_ERR("main", "slow path: out of memory");
		goto out;
	}
	if (d->cfg.mgmt_listen[0]) {
		struct api_config ac;
		struct api_ops ops;
		tgd_ops_config(d, &ac);
		tgd_ops_init(d, &ops);
		if (api_start(s.base, &ac, &ops, d->rec, &d->api, err, sizeof(err)) < 0)
			TG_ERR("api", "management API not started: %s", err);
	}
	s.tick = event_new(s.base, -1, EV_PERSIST, slow_tick, &s);
	if (s.tick == NULL || event_add(s.tick, &tv) != 0) {
		TG_ERR("main", "slow path: cannot arm its timer");
		goto out;
	}
	s.next_summary_ns = tg_mono_ns() + SLOW_SUMMARY_NS;
	s.next_retain_ns = tg_mono_ns();
	d->slow = &s;
	event_base_dispatch(s.base);
	d->slow = NULL;
out:
	if (d->api) {
		api_stop(d->api);
		d->api = NULL;
	}
	if (s.tick)
		event_free(s.tick);
	if (s.base)
		event_base_free(s.base);
	free(s.batch);
}

void tgd_slow_flush(struct tgd *d)
{
	if (d->slow)
		slow_drain(d->slow);
}

void tgd_slow_fini(struct tgd *d)
{
	struct slow_state s = { .d = d };

	/* the workers stopped (and their flows closed): record what they left */
	s.batch = calloc(SLOW_BATCH_MAX, sizeof(struct tg_event));
	if (s.batch && d->rec) {
		unsigned n = slow_drain(&s);
		if (n)
			TG_INFO("recorder", "recorded %u events left at stop", n);
	}
	free(s.batch);
	if (d->rec) {
		const struct rec_stats *st = rec_stats(d->rec);
		TG_INFO("recorder", "events written %" PRIu64 ", batches %" PRIu64 ", lost %" PRIu64
			", write errors %" PRIu64, st->events_written, st->batches, st->events_lost,
			st->write_errors);
		rec_close(d->rec);
		d->rec = NULL;
	}
	rule_scratch_free(d->scratch);  /* the API's and the recorder's (tgd_rule_scratch) */
	d->scratch = NULL;
	for (uint16_t i = 0; i < d->n_workers_init; i++) {
		rte_ring_free(d->ev_ring[i]);
		rte_ring_free(d->ctl_ring[i]);
		d->ev_ring[i] = d->ctl_ring[i] = NULL;
	}
}
