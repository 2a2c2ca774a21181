/*
 * worker.h - one worker node, forked by the supervisor: what it is given
 * and how it ends. The worker knows nothing of the supervisor but this.
 */
#ifndef DCF_WORKER_H
#define DCF_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dcf/log.h"
#include "dcf/seg.h"

/* Worker exit codes the supervisor reads. */
#define DCF_EXIT_OK    0
#define DCF_EXIT_RESET 3 /* books beyond repair: supervisor must reset */
#define DCF_EXIT_STALE 4 /* the node slot is not ours any more */
#define DCF_EXIT_SETUP 5 /* could not start */
#define DCF_EXIT_LEASE 6 /* several hosts: the leases lapsed (layout.h lease_mono_ns) */

/* What a forked worker needs, all inherited through fork. */
struct worker_ctx {
	struct dcf_seg *sg;
	uint32_t node;
	uint32_t gen;
	pid_t parent;
	int notify_fd;     /* eventfd: wakes the supervisor */
	int spool_fd;      /* command mode: the spool directory (sup_cmd.h), else -1 */
	char cg_dir[4096]; /* command mode: this node's cgroup v2 directory, or "" */
	/* libdcf (supervisor.h, struct sup_embed): the program's task function.
	 * embedded: the process is the program's, so its title is left alone. */
	int embedded;
	int (*fn)(const void *in, size_t in_len, void *out, size_t *out_len, void *arg);
	void *fn_arg;
};

/* Claim, run, complete, sleep, until the system stops. Never returns. */
void worker_main(const struct worker_ctx *w) __attribute__((noreturn));

#endif
