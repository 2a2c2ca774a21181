/*
 * idle.c - what a system with nothing to do costs: CPU time and wake-ups of
 * the supervisor and every worker over a window of 1-second samples.
 *
 * A dcf run ends when its last task completes, so "idle" is a run whose
 * only tasks (--busy of them, 1 by default) sleep for an hour: every other
 * worker has no work and sleeps on its network's futex word. The busy ones
 * are reported apart, as is the supervisor.
 */
#include <stdio.h>
#include <stdlib.h>

#include "dcf/util.h"
#include "dcfbench.h"
#include "launch.h"
#include "proc.h"

enum { C_SUP, C_BUSY, C_IDLE, C_N };
static const char *const cls_name[C_N] = {"supervisor", "busy", "idle"};

struct member {
	pid_t pid;
	int cls;
	struct bp_cpu last;
};

struct cls_sum {
	uint32_t procs;
	uint64_t run_ns, ticks, vcsw, nvcsw;
};

static int
members(struct bl_sup *s, uint32_t workers, struct member *m)
{
	int k = 0;

	m[k].pid = s->pid;
	m[k++].cls = C_SUP;
	for (uint32_t n = 0; n < workers; n++) {
		struct dcf_node nd;

		bl_node(s, n, &nd);
		if (!bl_is_worker(s, nd.pid))
			continue;
		m[k].pid = nd.pid;
		m[k++].cls = nd.state == DCF_NODE_BUSY ? C_BUSY : C_IDLE;
	}
	return k;
}

int
cmd_idle(const struct db_opts *o)
{
	const char *args[] = {"--networks", db_u64(o->networks), "--nodes",
	    db_u64(o->workers / o->networks), "--tasks", db_u64(o->busy), "--work", "sleep",
	    "--task-ms", "3600000", "--fail-rate", "0", "--grace-ms", "0", "--quiet", NULL};
	struct cls_sum tot[C_N] = {{0, 0, 0, 0, 0}};
	struct bl_sup s;
	struct member *m;
	uint64_t t_prev;
	int k, lost = 0;

	m = calloc(o->workers + 1, sizeof(*m));
	if (m == NULL || bl_start(&s, o->bin, "idle", args, o->log) == -1 ||
	    bl_attach(&s, 30000) == -1)
		return 1;
	while (bl_ready(&s) < o->workers && dcf_now_ns() - s.t_start_ns < 120 * DCF_NSEC)
		bl_nap(1000000);
	bl_nap((uint64_t)o->settle_ms * 1000000ULL);
	k = members(&s, o->workers, m);
	for (int i = 0; i < k; i++) {
		bp_cpu(m[i].pid, &m[i].last);
		tot[m[i].cls].procs++;
	}
	t_prev = dcf_now_ns();
	printf("{\"workers\":%d,\"seconds\":%u,\"windows\":[", k - 1, o->seconds);
	for (uint32_t w = 0; w < o->seconds; w++) {
		uint64_t run = 0, vcsw = 0, now;

		bl_nap(t_prev + DCF_NSEC - dcf_now_ns());
		now = dcf_now_ns();
		for (int i = 0; i < k; i++) {
			struct bp_cpu c;
			struct cls_sum *t = &tot[m[i].cls];

			if (bp_cpu(m[i].pid, &c) == -1) {
				lost++;
				continue;
			}
			run += c.run_ns - m[i].last.run_ns;
			vcsw += c.vcsw - m[i].last.vcsw;
			t->run_ns += c.run_ns - m[i].last.run_ns;
			t->ticks += c.ticks - m[i].last.ticks;
			t->vcsw += c.vcsw - m[i].last.vcsw;
			t->nvcsw += c.nvcsw - m[i].last.nvcsw;
			m[i].last = c;
		}
		printf("%s{\"secs\":%.6f,\"run_ns\":%llu,\"vcsw\":%llu}", w ? "," : "",
		    (double)(now - t_prev) / 1e9, (unsigned long long)run,
		    (unsigned long long)vcsw);
		t_prev = now;
	}
	printf("],\"lost\":%d,\"classes\":{", lost);
	for (int c = 0; c < C_N; c++)
		printf("%s\"%s\":{\"procs\":%u,\"run_ns\":%llu,\"ticks\":%llu,\"vcsw\":%llu,"
		       "\"nvcsw\":%llu}",
		    c ? "," : "", cls_name[c], tot[c].procs, (unsigned long long)tot[c].run_ns,
		    (unsigned long long)tot[c].ticks, (unsigned long long)tot[c].vcsw,
		    (unsigned long long)tot[c].nvcsw);
	printf("}}\n");
	bl_stop(&s);
	free(m);
	return lost ? 1 : 0;
}
