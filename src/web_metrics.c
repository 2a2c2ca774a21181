/*
 * web_metrics.c - dcf-web's /metrics: a snapshot (and a service's store
 * counts) in Prometheus' text exposition format, version 0.0.4.
 *
 * Names follow Prometheus' conventions: the dcf_ prefix, base units
 * (seconds), _total on counters, labels only of small fixed sets (a
 * network's number, a state): never a task id. Counters are the books'
 * own, so they only grow while one supervisor runs; a new supervisor
 * starts them again, which Prometheus reads as a counter reset.
 */
#include <errno.h>
#include <stdio.h>

#include "dcf/layout.h"
#include "dcf/store.h"
#include "web.h"

static void
head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
one(FILE *f, const char *name, const char *type, const char *help, unsigned long long v)
{
	head(f, name, type, help);
	fprintf(f, "%s %llu\n", name, v);
}

/* A histogram of the books (layout.h, dcf_hist): buckets made cumulative, in seconds. */
static void
hist(FILE *f, const char *name, const char *help, const struct dcf_hist *h)
{
	unsigned long long cum = 0;

	head(f, name, "histogram", help);
	for (unsigned b = 0; b < DCF_HIST_BUCKETS; b++) {
		cum += h->bucket[b];
		if (b < DCF_HIST_BUCKETS - 1)
			fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name,
			    (double)dcf_hist_bound_ns(b) / 1e9, cum);
		else
			fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
	}
	fprintf(f, "%s_sum %.9f\n%s_count %llu\n", name, (double)h->sum_ns / 1e9, name, cum);
}

int
web_metrics(FILE *f, const struct dcf_snap *s, const struct dcf_store_counts *sc)
{
	static const char *const node_states[DCF_NODE_NSTATES] = {NULL, "starting", "idle", "busy",
	    "down", "failed", "stopped"};
	const struct dcf_counters *c = &s->hdr.cnt;
	const uint32_t nets = s->hdr.cfg.nets;

	one(f, "dcf_up", "gauge", "1: the supervisor runs and its books add up.",
	    s->consistent ? 1 : 0);
	head(f, "dcf_start_time_seconds", "gauge",
	    "When the supervisor made the system, in seconds since the epoch.");
	fprintf(f, "dcf_start_time_seconds %.3f\n", (double)s->hdr.created_ns / 1e9);

	head(f, "dcf_tasks", "gauge", "Tasks of the run in the books, by state.");
	fprintf(f,
	    "dcf_tasks{state=\"pending\"} %llu\ndcf_tasks{state=\"queued\"} %llu\n"
	    "dcf_tasks{state=\"running\"} %llu\ndcf_tasks{state=\"completed\"} %llu\n"
	    "dcf_tasks{state=\"quarantined\"} %llu\ndcf_tasks{state=\"skipped\"} %llu\n",
	    (unsigned long long)s->pending, (unsigned long long)s->queued,
	    (unsigned long long)s->running, (unsigned long long)s->completed,
	    (unsigned long long)s->quarantined, (unsigned long long)s->skipped);
	if (sc != NULL) {
		/* Unfinished by an index, finished by another's length: never a count of every task. */
		head(f, "dcf_store_tasks", "gauge",
		    "Tasks kept in the service's store: queued, running, or finished (any "
		    "outcome).");
		fprintf(f,
		    "dcf_store_tasks{state=\"queued\"} %llu\ndcf_store_tasks{state=\"running\"} "
		    "%llu\n"
		    "dcf_store_tasks{state=\"finished\"} %llu\n",
		    (unsigned long long)sc->by_state[DCF_SS_QUEUED],
		    (unsigned long long)sc->by_state[DCF_SS_RUNNING],
		    (unsigned long long)sc->finished);
	}
	one(f, "dcf_tasks_dispatched_total", "counter", "Tasks given a slot in the books.",
	    c->dispatched);
	one(f, "dcf_tasks_completed_total", "counter", "Task runs completed and booked.",
	    c->completed);
	head(f, "dcf_tasks_ended_total", "counter", "Tasks ended for good, by outcome.");
	fprintf(f,
	    "dcf_tasks_ended_total{outcome=\"succeeded\"} %llu\n"
	    "dcf_tasks_ended_total{outcome=\"failed\"} %llu\n"
	    "dcf_tasks_ended_total{outcome=\"timed_out\"} %llu\n"
	    "dcf_tasks_ended_total{outcome=\"cancelled\"} %llu\n",
	    (unsigned long long)c->succeeded, (unsigned long long)c->failed,
	    (unsigned long long)c->timed_out, (unsigned long long)c->cancelled);
	one(f, "dcf_task_failures_total", "counter",
	    "Task runs that failed (exit status, signal, no exec) and were not retried.",
	    c->failed);
	one(f, "dcf_task_timeouts_total", "counter", "Tasks that timed out after their retries.",
	    c->timed_out);
	one(f, "dcf_task_retries_total", "counter", "Task runs queued again after a failure.",
	    c->retried);
	one(f, "dcf_tasks_quarantined_total", "counter",
	    "Tasks not run again: the processes running them died too often.", c->quarantined);
	one(f, "dcf_tasks_reclaimed_total", "counter",
	    "Tasks taken back from a dead worker and queued again.", c->reclaimed);
	one(f, "dcf_task_claims_total", "counter", "Task runs started (reclaimed ones again).",
	    c->claims);
	one(f, "dcf_node_failures_total", "counter", "Worker processes that died.", c->failures);
	one(f, "dcf_node_restarts_total", "counter", "Worker processes started again.",
	    c->restarts);
	one(f, "dcf_lock_repairs_total", "counter",
	    "Books repaired after a process died holding their lock.", c->repairs);
	one(f, "dcf_resets_total", "counter", "Full resets of the books.", c->resets);
	one(f, "dcf_recovery_queue_depth", "gauge", "Tasks in the recovery queue.",
	    s->recovery_depth);
	head(f, "dcf_queue_depth", "gauge", "Tasks queued for a network.");
	for (uint32_t n = 0; n < nets; n++)
		fprintf(f, "dcf_queue_depth{network=\"%u\"} %u\n", n, s->net[n].queue_depth);
	head(f, "dcf_network_completed_total", "counter", "Task runs completed by a network.");
	for (uint32_t n = 0; n < nets; n++)
		fprintf(f, "dcf_network_completed_total{network=\"%u\"} %llu\n", n,
		    (unsigned long long)s->net[n].completed);
	head(f, "dcf_network_paused", "gauge",
	    "1: the network takes no new tasks (dcf-ctl pause).");
	for (uint32_t n = 0; n < nets; n++)
		fprintf(f, "dcf_network_paused{network=\"%u\"} %u\n", n,
		    s->nets[n].paused ? 1u : 0u);
	head(f, "dcf_nodes", "gauge", "Nodes by network and state.");
	for (uint32_t n = 0; n < nets; n++)
		for (uint32_t st = DCF_NODE_STARTING; st < DCF_NODE_NSTATES; st++)
			fprintf(f, "dcf_nodes{network=\"%u\",state=\"%s\"} %u\n", n,
			    node_states[st], s->net[n].by_state[st]);
	hist(f, "dcf_task_run_seconds", "How long ended tasks' last runs ran.", &s->hdr.h_run);
	hist(f, "dcf_task_queue_wait_seconds",
	    "How long ended tasks' last runs waited in a queue before they started.",
	    &s->hdr.h_wait);
	if (ferror(f)) {
		errno = errno ? errno : EIO;
		return -1;
	}
	return 0;
}
