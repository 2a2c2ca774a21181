/* supervisor.h - dcf-supervisor's private interfaces: options, worker, supervisor. */
#ifndef DCF_SUPERVISOR_H
#define DCF_SUPERVISOR_H

#include <stdint.h>
#include <sys/types.h>

#include "dcf/layout.h"
#include "dcf/log.h"
#include "dcf/seg.h"

/* Worker exit codes the supervisor reads. */
#define DCF_EXIT_OK    0
#define DCF_EXIT_RESET 3 /* books beyond repair: supervisor must reset */
#define DCF_EXIT_STALE 4 /* the node slot is not ours any more */
#define DCF_EXIT_SETUP 5 /* could not start */

struct sup_opts {
	struct dcf_config cfg;
	char name[DCF_NAME_MAX + 1];
	const char *log_path;
	enum dcf_level level;
	int seed_given;
};

/* 0 ok; 1 printed help or version (exit 0); -1 printed a usage error (exit 2). */
int sup_parse_options(int argc, char **argv, struct sup_opts *o);

/* What a forked worker needs, all inherited through fork. */
struct worker_ctx {
	struct dcf_seg *sg;
	uint32_t node;
	uint32_t gen;
	pid_t parent;
	int notify_fd; /* eventfd: wakes the supervisor */
	int tty;
	enum dcf_level level;
};

void worker_main(const struct worker_ctx *w) __attribute__((noreturn));
/* In a forked worker: the supervisor's fatal-signal handlers back to default. */
void worker_reset_signals(void);

/* Runs the whole system; returns the process exit code. */
int supervisor_run(struct sup_opts *o);

#endif
