/*
 * dcf.h - libdcf: a crash-safe process pool for C programs.
 *
 * A pool forks worker processes that run your task function on the inputs
 * you submit, and hands every task's result back to you exactly once,
 * whatever happens to the workers: a worker killed at any instruction
 * (SIGKILL, the OOM killer, a crash in your function) is replaced, and the
 * task it was running runs again on another worker. A task whose workers
 * died `attempts` times is quarantined: you get it back with that status
 * instead of a pool that hangs.
 *
 *     static int square(const void *in, size_t in_len, void *out, size_t *out_len, void *arg)
 *     {
 *             uint64_t x;
 *
 *             memcpy(&x, in, sizeof(x));
 *             x *= x;
 *             memcpy(out, &x, sizeof(x));
 *             *out_len = sizeof(x);
 *             return 0;
 *     }
 *
 *     struct dcf_pool_opts o;
 *     dcf_pool_opts_init(&o);
 *     struct dcf_pool *p = dcf_pool_start(&o, square, NULL);
 *     for (uint64_t x = 0; x < 1000; x++)
 *             dcf_submit(p, &x, sizeof(x), NULL);
 *     dcf_pool_stop(p);
 *     struct dcf_result r;
 *     while (dcf_wait(p, &r) == 0)
 *             ... r.id, r.status, r.out, r.out_len ...
 *     dcf_pool_free(p);
 *
 * Link with `pkg-config --cflags --libs dcf`. Every function returns 0 (or a
 * pointer) on success and -1 (or NULL) with errno set on failure; dcf_error()
 * then says what was wrong in one line.
 *
 * THE TASK FUNCTION runs in a worker process forked from yours by
 * dcf_pool_start (and again whenever a worker is replaced). It gets:
 *   in, in_len   the task's input, as submitted (read-only: do not write it;
 *                it is what a rerun gets);
 *   out, *out_len  a buffer of *out_len bytes (the pool's max_out); write
 *                the result there and set *out_len to its length;
 *                in and out are 16-byte aligned, as a result's out is;
 *   arg          the pointer given to dcf_pool_start, in the worker's copy of
 *                your memory.
 * It returns 0 for success, anything else for failure: that value comes back
 * as the result's code, with the output. A failure is the function's answer,
 * not a crash, and is never retried. Only a worker's death reruns a task, so
 * the function may run more than once for one task (at-least-once execution)
 * while its result is delivered exactly once.
 *
 * What the task function may do:
 *   - use any memory, file or library; start threads, if it joins them
 *     before it returns; fork, if it reaps its children before it returns;
 *   - change signal dispositions or the signal mask, if it restores them
 *     before it returns. In a worker SIGINT, SIGTERM, SIGHUP, SIGQUIT and
 *     SIGPIPE are ignored (stopping is the pool's decision) and no signal is
 *     blocked; SIGKILL is how the pool ends a hung worker.
 * What it must not do:
 *   - call any function of this header (it is in a worker, not your program);
 *   - exec (fork, then exec in the child, is fine);
 *   - exit, _exit or abort, unless it means to crash: the task then runs
 *     again elsewhere and is quarantined after `attempts` deaths;
 *   - rely on state your program changes after dcf_pool_start: a worker sees
 *     your memory as it was when that worker was forked.
 *
 * THE PROGRAM that starts a pool is its supervisor: it forks, reaps and
 * replaces workers and books their tasks, inside the calls it makes to the
 * pool (nothing runs behind its back: no thread, no signal handler). So:
 *   - call a pool's functions from the thread that started it (a worker's
 *     death signal is tied to that thread: PR_SET_PDEATHSIG), and call into
 *     the pool regularly: a blocking dcf_wait or dcf_submit sleeps in the
 *     kernel and wakes for every event;
 *   - while a pool runs, SIGCHLD is blocked in that thread and read from a
 *     signalfd; in a program with threads, block SIGCHLD in every thread
 *     (before creating them), and do not set SIGCHLD to SIG_IGN;
 *   - do not reap children you did not fork yourself (wait(), waitpid(-1,
 *     ...)): a worker reaped by someone else is counted as dead. Reap your
 *     own by PID: while the pool runs, their SIGCHLD goes to its signalfd;
 *   - workers inherit the descriptors open at their fork, as any child
 *     does, and hold them while they live (a pipe's reader sees no end of
 *     file while a worker holds its write end): start the pool before you
 *     open what the workers must not hold, and know that a worker forked
 *     later to replace a dead one inherits what is open then;
 *   - one pool at a time per process.
 * When the program dies, its workers die with it (PR_SET_PDEATHSIG) and the
 * pool's tasks go with them: a pool is as durable as the program using it.
 * The pool's books live in POSIX shared memory named after the pool, which
 * dcf-status(1) can watch: `dcf-status --name NAME`.
 */
#ifndef DCF_H
#define DCF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DCF_API __attribute__((visibility("default")))

/* The task function: see above. */
typedef int dcf_task_fn(const void *in, size_t in_len, void *out, size_t *out_len, void *arg);

/* How a task ended (struct dcf_result.status). */
enum dcf_status {
	DCF_OK = 0,          /* the function returned 0 */
	DCF_FAILED = 1,      /* the function returned code, non-zero */
	DCF_QUARANTINED = 2, /* its worker died `attempts` times running it: no output */
	DCF_OVERSIZE = 3     /* the function set *out_len above max_out: no output */
};

struct dcf_result {
	uint64_t id;       /* the task's id, as dcf_submit gave it */
	int status;        /* enum dcf_status */
	int code;          /* DCF_FAILED: the function's return value; else 0 */
	const void *out;   /* the output, 16-byte aligned: valid until your next call */
	size_t out_len;    /* its length (0 unless DCF_OK or DCF_FAILED) */
	unsigned attempts; /* workers that died running this task */
	unsigned network;  /* where its last run ran */
	unsigned node;
	uint64_t run_ns; /* its last run's duration */
};

/* Called with each result, from inside your calls on the pool; it must not
 * call the pool's functions. r and r->out are valid until it returns. */
typedef void dcf_result_fn(const struct dcf_result *r, void *arg);

/*
 * A pool's options. Fields are only ever added at the end: always initialise
 * with dcf_pool_opts_init (every field 0: its default), then set those you
 * want.
 */
struct dcf_pool_opts {
	size_t size;              /* sizeof(struct dcf_pool_opts): set by dcf_pool_opts_init */
	const char *name;         /* for dcf-status: letters, digits, '-', '_', '.', at most
	                              32; NULL: "pool-PID" */
	unsigned networks;        /* groups of workers, 1-256; 0: 1 */
	unsigned nodes;           /* workers per network, 1-8192 in all; 0: one per CPU */
	unsigned attempts;        /* worker deaths that quarantine a task, 1-1000; 0: 3 */
	unsigned hang_timeout_ms; /* a task running longer is taken for hung: its worker is
	                              killed and the task runs again; 0: no limit */
	size_t max_in;            /* bytes of input per task, at most 1 MiB; 0: 4096 */
	size_t max_out;           /* bytes of output per task, at most 1 MiB; 0: 4096 */
	unsigned queue;           /* tasks in the pool's books at once (rounded up to a power
	                              of two); 0: 1024, at least 4 per worker */
	dcf_result_fn *on_result; /* NULL: collect results with dcf_wait */
	void *result_arg;         /* on_result's arg */
	int log_fd;               /* 0: no log; else the descriptor the pool narrates its
	                              workers' deaths and restarts to (e.g. 2) */
};

static inline void
dcf_pool_opts_init(struct dcf_pool_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
}

struct dcf_pool;

/* Start a pool: create its books, fork its workers. NULL with errno EINVAL
 * (bad options, or SIGCHLD set to SIG_IGN), EEXIST (a pool or dcf system of that name runs), EBUSY (this
 * process runs a pool already), ENOMEM, or what fork or shm_open said. */
DCF_API struct dcf_pool *dcf_pool_start(const struct dcf_pool_opts *o, dcf_task_fn *fn, void *arg);

/*
 * Submit one task: in_len bytes at in are copied. *id (if id is not NULL)
 * gets its id, counting from 0 in submission order. dcf_submit blocks while
 * the pool is full; dcf_try_submit fails with EAGAIN instead. Errors:
 * EMSGSIZE (in_len above max_in), EINVAL (in NULL with in_len > 0),
 * ESHUTDOWN (after dcf_pool_stop), EIO (the pool failed: every worker gave
 * up, see dcf_error). Submitted tasks go to the workers in batches: a batch
 * leaves when it is full, when workers are waiting, or at your next
 * dcf_wait or dcf_pool_stop.
 */
DCF_API int dcf_submit(struct dcf_pool *p, const void *in, size_t in_len, uint64_t *id);
DCF_API int dcf_try_submit(struct dcf_pool *p, const void *in, size_t in_len, uint64_t *id);

/*
 * dcf_submit with a priority from DCF_PRIORITY_MIN to DCF_PRIORITY_MAX
 * (dcf_submit's is 0): of the tasks queued in the pool (up to its queue),
 * a worker takes the highest priority first, and a task put back after its
 * worker died before those of its priority that never ran; within a
 * priority, in submission order. EINVAL for a priority out of range.
 */
#define DCF_PRIORITY_MIN (-4)
#define DCF_PRIORITY_MAX 4
DCF_API int dcf_submit_prio(struct dcf_pool *p, const void *in, size_t in_len, int prio,
    uint64_t *id);

/*
 * The next result, in completion order. dcf_wait blocks until there is one;
 * dcf_try_wait fails with EAGAIN instead. Both fail with ENODATA when every
 * task submitted has been delivered. With on_result set, r must be NULL: the
 * call returns 0 once at least one result has been given to on_result.
 */
DCF_API int dcf_wait(struct dcf_pool *p, struct dcf_result *r);
DCF_API int dcf_try_wait(struct dcf_pool *p, struct dcf_result *r);

/* No more submissions. Tasks submitted run on and their results still come
 * through dcf_wait (or on_result). Does not block. */
DCF_API int dcf_pool_stop(struct dcf_pool *p);

/* End the pool at once: workers killed, books removed, memory freed. Results
 * not collected are lost; collect them first (dcf_wait until ENODATA). */
DCF_API void dcf_pool_free(struct dcf_pool *p);

struct dcf_pool_stats {
	uint64_t submitted;
	uint64_t delivered; /* results handed to you */
	uint64_t ok, failed, quarantined, oversize;
	uint64_t reruns;   /* runs started again because a worker died */
	uint64_t deaths;   /* worker processes that died */
	uint64_t restarts; /* workers forked to replace them */
	unsigned workers;  /* alive now */
	uint64_t resets;   /* times the books were rebuilt after a worker damaged them */
};

/* The pool's counters so far. size: sizeof(struct dcf_pool_stats). */
DCF_API int dcf_pool_stats(struct dcf_pool *p, struct dcf_pool_stats *st, size_t size);

/* The calling thread's last error, one line, e.g. "nodes 0: want 1 to 8192". */
DCF_API const char *dcf_error(void);

/* The library's version, "MAJOR.MINOR.PATCH". */
DCF_API const char *dcf_version(void);

#ifdef __cplusplus
}
#endif

#endif
