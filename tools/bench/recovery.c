/*
 * recovery.c - kill -9 a busy worker again and again and time, per kill:
 *   reclaim  from the kill to its task being back on the recovery ring;
 *   ready    from the kill to the replacement process claiming that task
 *            (its first task).
 * Both ends are CLOCK_MONOTONIC stamps the system itself writes into the
 * segment: the task's t_queued_ns (taken by the supervisor when it reclaims,
 * just before the transaction) and the node's busy_since_ns (taken by the
 * replacement when it claims). We only read them, after the fact, so our
 * polling does not blur them; what our polling saw is reported too, as a
 * check (it lags by up to the poll period, 20 us, plus scheduling).
 *
 * The run: 2 workers, 2 sleep tasks of an hour, no downtime, no attempt
 * limit to speak of, restarts unthrottled. Each kill targets the busy worker
 * of node (kill % 2); the next kill waits 2 ms after the replacement claims.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "dcf/util.h"
#include "dcfbench.h"
#include "launch.h"

#define POLL_NS    20000ULL
#define TIMEOUT_NS (5 * DCF_NSEC)

struct sample {
	double reclaim_us, ready_us, seen_reclaim_us, seen_ready_us;
};

/* One kill of node n's process; 0 and *out filled, or -1. */
static int
kill_once(struct bl_sup *s, uint32_t n, struct sample *out)
{
	struct dcf_node before, after;
	struct dcf_task t;
	uint64_t rec0, t_kill, seen_rec = 0, seen_ready = 0;

	bl_node(s, n, &before);
	if (before.state != DCF_NODE_BUSY || !bl_is_worker(s, before.pid) ||
	    before.task_slot >= s->sg.hdr->cfg.task_slots)
		return -1;
	rec0 = bl_counter(s, &s->sg.hdr->cnt.reclaimed);
	t_kill = dcf_now_ns();
	if (kill(before.pid, SIGKILL) == -1)
		return -1;
	for (;;) {
		uint64_t now;

		bl_nap(POLL_NS);
		now = dcf_now_ns();
		if (seen_rec == 0 && bl_counter(s, &s->sg.hdr->cnt.reclaimed) != rec0)
			seen_rec = now;
		bl_node(s, n, &after);
		if (after.gen != before.gen && after.state == DCF_NODE_BUSY) {
			seen_ready = now;
			if (seen_rec == 0)
				seen_rec = now;
			break;
		}
		if (now - t_kill > TIMEOUT_NS)
			return -1;
	}
	if (after.task_slot >= s->sg.hdr->cfg.task_slots)
		return -1;
	bl_task(s, after.task_slot, &t);
	if (t.id != before.task_id || t.t_queued_ns < t_kill || after.busy_since_ns < t_kill)
		return -1;
	out->reclaim_us = (double)(t.t_queued_ns - t_kill) / 1e3;
	out->ready_us = (double)(after.busy_since_ns - t_kill) / 1e3;
	out->seen_reclaim_us = (double)(seen_rec - t_kill) / 1e3;
	out->seen_ready_us = (double)(seen_ready - t_kill) / 1e3;
	return 0;
}

static void
print_list(const char *key, const struct sample *v, uint32_t n, size_t off)
{
	printf(",\"%s\":[", key);
	for (uint32_t i = 0; i < n; i++)
		printf("%s%.2f", i ? "," : "",
		    *(const double *)(const void *)((const char *)&v[i] + off));
	printf("]");
}

int
cmd_recovery(const struct db_opts *o)
{
	const char *args[] = {"--networks", "1", "--nodes", "2", "--tasks", "2", "--work", "sleep",
	    "--task-ms", "3600000", "--downtime", "0", "--max-attempts", "1000000",
	    "--max-restarts", "100000", "--restart-window", "1", "--fail-rate", "0", "--grace-ms",
	    "0", "--quiet", NULL};
	struct sample *v;
	struct bl_sup s;
	uint32_t ok = 0, failed = 0;

	v = calloc(o->kills, sizeof(*v));
	if (v == NULL || bl_start(&s, o->bin, "rec", args, o->log) == -1 ||
	    bl_attach(&s, 30000) == -1)
		return 1;
	/* Both workers busy with their hour-long task. */
	while (bl_counter(&s, &s.sg.hdr->cnt.running) < 2 &&
	    dcf_now_ns() - s.t_start_ns < 30 * DCF_NSEC)
		bl_nap(1000000);
	bl_nap(20000000);
	for (uint32_t k = 0; k < o->kills && failed < 10; k++) {
		if (kill_once(&s, k % 2, &v[ok]) == 0)
			ok++;
		else
			failed++;
		bl_nap(2000000);
	}
	printf("{\"kills\":%u,\"failed\":%u,\"failures_counted\":%llu", ok, failed,
	    (unsigned long long)bl_counter(&s, &s.sg.hdr->cnt.failures));
	print_list("reclaim_us", v, ok, offsetof(struct sample, reclaim_us));
	print_list("ready_us", v, ok, offsetof(struct sample, ready_us));
	print_list("seen_reclaim_us", v, ok, offsetof(struct sample, seen_reclaim_us));
	print_list("seen_ready_us", v, ok, offsetof(struct sample, seen_ready_us));
	printf("}\n");
	bl_stop(&s);
	free(v);
	return failed ? 1 : 0;
}
