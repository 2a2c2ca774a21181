/*
 * startup.c - time from forking the supervisor to every worker ready (its
 * node IDLE or BUSY in the segment), then the memory each worker costs.
 * The run has one long sleep task so it stays up while we measure.
 */
#include <stdio.h>

#include "dcf/util.h"
#include "dcfbench.h"
#include "launch.h"
#include "proc.h"

int
cmd_startup(const struct db_opts *o)
{
	const char *args[] = {"--networks", db_u64(o->networks), "--nodes",
	    db_u64(o->workers / o->networks), "--tasks", "1", "--work", "sleep", "--task-ms",
	    "3600000", "--fail-rate", "0", "--grace-ms", "0", "--quiet", NULL};
	struct bl_sup s;
	struct bp_mem m, sm;
	uint64_t t_ready, t0, pss = 0, rss = 0, anon = 0, shm = 0, pss_max = 0, t_stop;
	uint32_t counted = 0;
	size_t seg;

	if (bl_start(&s, o->bin, "up", args, o->log) == -1 || bl_attach(&s, 30000) == -1) {
		bl_stop(&s);
		return 1;
	}
	while (bl_ready(&s) < o->workers) {
		if (dcf_now_ns() - s.t_start_ns > 120 * DCF_NSEC) {
			fprintf(stderr, "dcfbench startup: not ready after 120 s\n");
			bl_stop(&s);
			return 1;
		}
		bl_nap(200000);
	}
	t_ready = dcf_now_ns() - s.t_start_ns;
	for (uint32_t n = 0; n < o->workers; n++) {
		struct dcf_node nd;

		bl_node(&s, n, &nd);
		if (!bl_is_worker(&s, nd.pid) || bp_mem(nd.pid, &m) == -1)
			continue;
		counted++;
		pss += m.pss_kib;
		rss += m.rss_kib;
		anon += m.pss_anon_kib;
		shm += m.pss_shmem_kib;
		if (m.pss_kib > pss_max)
			pss_max = m.pss_kib;
	}
	bp_mem(s.pid, &sm);
	seg = s.sg.size;
	t0 = dcf_now_ns();
	bl_stop(&s);
	t_stop = dcf_now_ns() - t0;
	if (counted == 0)
		counted = 1;
	printf("{\"workers\":%u,\"networks\":%u,\"ready_s\":%.6f,\"stop_s\":%.6f,\"measured\":%u,"
	       "\"worker_pss_kib\":%.1f,\"worker_pss_max_kib\":%llu,\"worker_rss_kib\":%.1f,"
	       "\"worker_pss_anon_kib\":%.1f,\"worker_pss_shmem_kib\":%.1f,"
	       "\"sup_pss_kib\":%llu,\"sup_rss_kib\":%llu,\"segment_bytes\":%zu}\n",
	    o->workers, o->networks, (double)t_ready / 1e9, (double)t_stop / 1e9, counted,
	    (double)pss / counted, (unsigned long long)pss_max, (double)rss / counted,
	    (double)anon / counted, (double)shm / counted, (unsigned long long)sm.pss_kib,
	    (unsigned long long)sm.rss_kib, seg);
	return 0;
}
