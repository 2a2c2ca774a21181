/* proc.h - what /proc says about a process: CPU time, context switches, memory. */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <stdint.h>
#include <sys/types.h>

struct bp_cpu {
	uint64_t run_ns; /* /proc/PID/schedstat: time on a CPU */
	uint64_t ticks;  /* /proc/PID/stat: utime + stime, clock ticks */
	uint64_t vcsw;   /* voluntary context switches: wake-ups after sleeping */
	uint64_t nvcsw;  /* involuntary: preempted */
};

struct bp_mem {
	uint64_t rss_kib; /* /proc/PID/smaps_rollup */
	uint64_t pss_kib;
	uint64_t pss_anon_kib;
	uint64_t pss_shmem_kib;
};

int bp_cpu(pid_t pid, struct bp_cpu *c);
int bp_mem(pid_t pid, struct bp_mem *m);

#endif
