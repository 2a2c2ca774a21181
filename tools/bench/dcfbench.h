/*
 * dcfbench.h - the subcommands of build/bench/dcfbench, each of which runs a
 * real dcf-supervisor and measures it from outside (launch.h, proc.h).
 * Each prints one JSON object on stdout; exit 0 ok, 1 failure, 2 usage.
 */
#ifndef BENCH_DCFBENCH_H
#define BENCH_DCFBENCH_H

#include <stdint.h>

struct db_opts {
	const char *bin; /* the dcf-supervisor to run */
	const char *log; /* its log file, or NULL for /dev/null */
	uint32_t workers;
	uint32_t networks;
	uint64_t tasks;
	uint32_t kills;
	uint32_t seconds;
	uint32_t settle_ms;
	uint32_t busy; /* idle: workers given a long sleep task */
};

int cmd_startup(const struct db_opts *o);
int cmd_idle(const struct db_opts *o);
int cmd_longrun(const struct db_opts *o);
int cmd_recovery(const struct db_opts *o);

/* "%u" of v into one of a few rotating static buffers, for argument lists. */
const char *db_u64(uint64_t v);

#endif
