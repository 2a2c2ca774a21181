/*
 * longrun.c - a long run of zero-work tasks: the time each million took, read
 * from the segment's retired counter every millisecond (interpolated between
 * samples), and the memory of
 * the supervisor and the workers near the start, the middle and the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "dcf/util.h"
#include "dcfbench.h"
#include "launch.h"
#include "proc.h"

#define STEP 1000000ULL
static const double mem_at[] = {0.01, 0.5, 0.99};
#define NMEM (sizeof(mem_at) / sizeof(mem_at[0]))

struct mem_sample {
	uint64_t retired;
	double t;
	struct bp_mem sup, workers; /* workers: summed */
	uint32_t nworkers;
};

static void
sample_mem(struct bl_sup *s, uint32_t workers, uint64_t retired, struct mem_sample *ms)
{
	ms->retired = retired;
	ms->t = (double)(dcf_now_ns() - s->t_start_ns) / 1e9;
	bp_mem(s->pid, &ms->sup);
	for (uint32_t n = 0; n < workers; n++) {
		struct dcf_node nd;
		struct bp_mem m;

		bl_node(s, n, &nd);
		if (!bl_is_worker(s, nd.pid) || bp_mem(nd.pid, &m) == -1)
			continue;
		ms->nworkers++;
		ms->workers.rss_kib += m.rss_kib;
		ms->workers.pss_kib += m.pss_kib;
		ms->workers.pss_anon_kib += m.pss_anon_kib;
		ms->workers.pss_shmem_kib += m.pss_shmem_kib;
	}
}

static void
print_mem(const char *sep, const struct mem_sample *m)
{
	printf("%s{\"retired\":%llu,\"t\":%.6f,\"sup_rss_kib\":%llu,\"sup_pss_kib\":%llu,"
	       "\"workers\":%u,\"workers_rss_kib\":%llu,\"workers_pss_kib\":%llu}",
	    sep, (unsigned long long)m->retired, m->t, (unsigned long long)m->sup.rss_kib,
	    (unsigned long long)m->sup.pss_kib, m->nworkers, (unsigned long long)m->workers.rss_kib,
	    (unsigned long long)m->workers.pss_kib);
}

int
cmd_longrun(const struct db_opts *o)
{
	const char *args[] = {"--networks", db_u64(o->networks), "--nodes",
	    db_u64(o->workers / o->networks), "--tasks", db_u64(o->tasks), "--work", "none",
	    "--fail-rate", "0", "--quiet", NULL};
	struct mem_sample mem[NMEM] = {{0, 0, {0, 0, 0, 0}, {0, 0, 0, 0}, 0}};
	uint64_t nmarks = o->tasks / STEP, next = 1, *mark, r_prev = 0, t_prev;
	struct bl_sup s;
	unsigned nmem = 0;
	double wall;

	mark = calloc(nmarks + 1, sizeof(*mark));
	if (mark == NULL || bl_start(&s, o->bin, "long", args, o->log) == -1 ||
	    bl_attach(&s, 30000) == -1)
		return 1;
	t_prev = s.t_start_ns;
	for (;;) {
		uint64_t r = bl_counter(&s, &s.sg.hdr->cnt.retired), now = dcf_now_ns();

		/* Interpolate between two samples: a late sample must not make
		 * the million before it look slow and the next one fast. */
		while (next <= nmarks && r >= next * STEP) {
			mark[next] = r > r_prev ? t_prev +
			        (uint64_t)((double)(next * STEP - r_prev) / (double)(r - r_prev) *
			            (double)(now - t_prev))
			                        : now;
			next++;
		}
		r_prev = r;
		t_prev = now;
		while (
		    nmem < NMEM && (double)r >= mem_at[nmem] * (double)o->tasks && r < o->tasks) {
			sample_mem(&s, o->workers, r, &mem[nmem]);
			nmem++;
		}
		if (waitpid(s.pid, &s.status, WNOHANG) == s.pid)
			break;
		bl_nap(1000000);
	}
	s.pid = 0;
	wall = (double)(dcf_now_ns() - s.t_start_ns) / 1e9;
	printf("{\"tasks\":%llu,\"workers\":%u,\"wall_s\":%.6f,\"exit\":%d,\"million_s\":[",
	    (unsigned long long)o->tasks, o->workers, wall,
	    WIFEXITED(s.status) ? WEXITSTATUS(s.status) : 128 + WTERMSIG(s.status));
	for (uint64_t k = 1; k < next; k++)
		printf("%s%.6f", k > 1 ? "," : "", (double)(mark[k] - s.t_start_ns) / 1e9);
	printf("],\"mem\":[");
	for (unsigned i = 0; i < nmem; i++)
		print_mem(i ? "," : "", &mem[i]);
	printf("]}\n");
	bl_stop(&s);
	free(mark);
	return 0;
}
