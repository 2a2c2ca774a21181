/*
 * supervisor.h - the engine: forks the worker nodes, feeds the books, reaps
 * the dead, reclaims their tasks, restarts them. dcf-supervisor runs it over
 * a whole run (supervisor_run); libdcf's pool (dcf.h) drives it a step at a
 * time from inside its calls (sup_open, sup_step, sup_close).
 */
#ifndef DCF_SUPERVISOR_H
#define DCF_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dcf/books.h"

#include "dcf/layout.h"
#include "dcf/log.h"
#include "dcf/seg.h"
#include "dcf/store.h"
#include "dcf/worker.h"

/* --allow-user: at most this many users */
#define SUP_ALLOW_MAX 32

/* --resume, --resume-failed */
enum sup_resume { SUP_RESUME_NONE, SUP_RESUME_ALL, SUP_RESUME_FAILED };

struct sup_opts {
	struct dcf_config cfg;
	char name[DCF_NAME_MAX + 1];
	const char *log_path;
	enum dcf_level level;
	int seed_given;
	int level_given;
	/* Command mode: a template (cmd_argc > 0) or --commands, else the demo. */
	char **cmd_argv;
	int cmd_argc;
	const char *commands_path; /* --commands FILE ("-": standard input) */
	const char *arg_file;      /* -a FILE, or NULL: standard input */
	int null_sep;              /* -0: lines end in NUL */
	const char *joblog_path;
	const char *results_dir;
	enum sup_resume resume;
	const char *store_path; /* --store FILE */
	int serve;              /* --serve: tasks from dcf-submit (svc.h), until stopped */
	const char *host_id;    /* --serve, a PostgreSQL store: this host's identity (store.h's
	                         * owner); the supervisor fills in HOSTNAME/NAME */
	uint32_t lease_ms;      /* --lease: its claims' lease (30 s) */
	uint32_t
	    allow_uid[SUP_ALLOW_MAX]; /* --allow-user: others who may submit (root's service) */
	uint32_t nallow;
	const char *allow_text; /* --allow-user as given (options.c reads it into allow_uid) */
	uint64_t keep_count;    /* --keep N: finished tasks kept (0: no limit by count) */
	uint64_t keep_age_ms;   /* --keep AGE (0: no limit by age) */
	int no_cgroups;         /* --no-cgroups: task trees are process groups only */
	uint32_t schedule;      /* --schedule: enum sup_schedule */
	uint32_t start_nets;    /* networks at the start; cfg.nets is the room (--max-networks);
	                         * 0: as many */
	uint32_t start_nodes;   /* nodes a network starts with; cfg.nodes_per_net is its room
	                         * (--max-nodes); 0: as many */
	/* How to open it: dcf_store_open, which the program links (store.h). */
	struct dcf_store *(
	    *store_open)(const struct dcf_store_open_opts *o, char *err, size_t errlen);
};

/* --schedule: which network's queue a new task goes to. */
enum sup_schedule {
	SUP_SCHED_ROUND_ROBIN = 0, /* the seed's: task id modulo the networks */
	SUP_SCHED_LEAST_LOADED,    /* the shortest queue (and running tasks) per live node */
	SUP_SCHED_WEIGHTED,        /* round-robin weighted by live nodes (smooth, as nginx's) */
};

/* Command mode: the bytes of one task's command, at most (one argument's
 * limit, MAX_ARG_STRLEN, and the template's room besides). */
#define SUP_CMD_MAX (128u * 1024 + 8192)

static inline int
sup_cmd_mode(const struct sup_opts *o)
{
	return o->cmd_argc > 0 || o->commands_path != NULL || o->serve;
}

/*
 * libdcf's pool: the third way to feed the engine, beside the demo's
 * synthetic tasks and command mode's input. The embedding program stages
 * inputs (sup_stage), the engine dispatches them in batches, the workers run
 * fn on them (work DCF_WORK_FN), and every task's end reaches ended()
 * exactly once, from inside sup_step: d says how it ended (d->out.how
 * DCF_HOW_OK, _EXIT with exit_code, or _OVERSIZE), out is its output
 * (d->out.out_bytes bytes, valid during the call); quarantined: its workers
 * died max_attempts times, no output. In this mode the engine touches no
 * process-wide state but SIGCHLD's mask in the calling thread: no signal
 * handler, no subreaper, no process title, and it reaps only its own
 * workers, by PID.
 */
struct sup_embed {
	int (*fn)(const void *in, size_t in_len, void *out, size_t *out_len, void *arg);
	void *fn_arg;
	void (*ended)(void *ctx, const struct dcf_done *d, const void *out, int quarantined);
	void *ctx;
	int log_fd; /* 0: no log; else where the engine narrates */
};

struct sup;

/* Set up and fork the workers. NULL with errno and a one-line message. */
struct sup *sup_open(struct sup_opts *o, const struct sup_embed *emb, char *err, size_t errlen);
/* Stage one input for dispatch (copied). -1 with errno ENOMEM. */
int sup_stage(struct sup *s, const void *in, uint32_t len, int32_t prio);
/* Inputs staged and not yet in the books. */
uint32_t sup_staged(const struct sup *s);
/* Free task slots beyond what is staged: inputs that would be dispatched at once. */
uint32_t sup_room(const struct sup *s);
/* Tasks queued in the books and not yet claimed (a hint, read without the lock). */
uint32_t sup_queued(const struct sup *s);
/* Completed tasks waiting to be retired (a hint, read without the lock). */
uint32_t sup_done(const struct sup *s);
/* Dispatch what is staged now, if the lock is free. */
void sup_flush(struct sup *s);
/* No more inputs: once every staged one ran, the run ends. */
void sup_end_input(struct sup *s);
/* One pass of the loop; may_block: sleep in the kernel until something happens
 * when there is nothing to do. 1 once the run is over (every worker gone). */
int sup_step(struct sup *s, int may_block);
/* Stop now: every worker killed; sup_step then returns 1 once they are reaped. */
void sup_kill(struct sup *s);
/* The run failed for good (every node failed, or the books could not be rebuilt). */
int sup_failed(const struct sup *s);
/* The books' counters and the live workers, for the pool's stats. */
void sup_counts(const struct sup *s, struct dcf_counters *c, uint32_t *alive);
/* End it: the segment removed, memory freed, SIGCHLD's mask restored. */
void sup_close(struct sup *s);

/* 0 ok; 1 printed help or version (exit 0); -1 printed a usage error (exit 2). */
int sup_parse_options(int argc, char **argv, struct sup_opts *o);

/* Runs the whole system; returns the process exit code. */
int supervisor_run(struct sup_opts *o);

#endif
