/*
 * launch.h - start a real dcf-supervisor for a benchmark and watch it through
 * a read-only mapping of its segment (the way dcf-status does): nothing in
 * the core is changed or hooked to be measured.
 *
 * The caller is made a child subreaper (bl_init), so workers orphaned by a
 * dying supervisor come back to it and bl_stop reaps them: no zombies.
 */
#ifndef BENCH_LAUNCH_H
#define BENCH_LAUNCH_H

#include <stdint.h>
#include <sys/types.h>

#include "dcf/seg.h"

struct bl_sup {
	pid_t pid;         /* the supervisor, our child; 0 once reaped */
	char name[40];     /* instance name, "bench-<ourpid>-<tag><n>" */
	struct dcf_seg sg; /* read-only; valid while attached */
	int attached;
	uint64_t t_start_ns; /* CLOCK_MONOTONIC just before the fork */
	int status;          /* from waitpid once reaped */
};

/* Become a child subreaper and keep our timers exact. */
void bl_init(void);
/* Fork and exec bin --name NAME args... (NULL-terminated); log to logpath or /dev/null. */
int bl_start(struct bl_sup *s, const char *bin, const char *tag, const char *const *args,
    const char *logpath);
/* Attach read-only, retrying until the segment is complete; -1 after timeout_ms. */
int bl_attach(struct bl_sup *s, unsigned timeout_ms);
/* A copy of node n taken between two equal, even reads of the seqlock word. */
void bl_node(const struct bl_sup *s, uint32_t n, struct dcf_node *out);
void bl_task(const struct bl_sup *s, uint32_t slot, struct dcf_task *out);
/* A counter, read atomically (each is one aligned word). */
uint64_t bl_counter(const struct bl_sup *s, const uint64_t *field);
/* Nodes IDLE or BUSY: ready to work. */
uint32_t bl_ready(const struct bl_sup *s);
/* Is pid a child of the supervisor (so ours to signal and to read)? */
int bl_is_worker(const struct bl_sup *s, pid_t pid);
/* Sleep ns with a 1 us timer slack. */
void bl_nap(uint64_t ns);
/* Wait up to ms for the supervisor to exit by itself; 0 once reaped. */
int bl_wait(struct bl_sup *s, unsigned ms);
/* SIGTERM (then SIGKILL after 10 s), reap it and every orphan; detach. */
int bl_stop(struct bl_sup *s);

#endif
