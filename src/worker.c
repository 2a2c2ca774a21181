/*
 * worker.c - one worker node: claim, run, complete, sleep when there is no
 * work. Forked by the supervisor; holds only the mapping it inherited.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "dcf/books.h"
#include "dcf/inject.h"
#include "dcf/lock.h"
#include "dcf/ring.h"
#include "dcf/turn.h"
#include "dcf/util.h"
#include "dcf/wait.h"
#include "worker.h"

/*
 * Chaos: a POSIX timer that delivers SIGKILL itself, after an exponential
 * delay of mean 1/rate. It strikes at whatever instruction the worker is on:
 * inside a task, asleep, or inside the books' critical section.
 */
static void
arm_chaos(const struct worker_ctx *w)
{
	const struct dcf_config *c = &w->sg->hdr->cfg;
	struct sigevent sev;
	struct itimerspec its;
	struct dcf_rng rng;
	timer_t tid;
	double rate, delay;

	if (c->fail_rate_ppm == 0)
		return;
	rate = (double)c->fail_rate_ppm / 1e6;
	dcf_rng_seed(&rng, c->seed ^ dcf_mix64(((uint64_t)w->node << 32) | w->gen));
	delay = -log(1.0 - dcf_rng_unit(&rng)) / rate;
	if (delay > 1e6)
		return;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGKILL;
	if (timer_create(CLOCK_MONOTONIC, &sev, &tid) == -1)
		return;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)delay;
	its.it_value.tv_nsec = (long)((delay - (double)(time_t)delay) * 1e9) + 1;
	timer_settime(tid, 0, &its, NULL);
}

static void
heartbeat(const struct worker_ctx *w)
{
	__atomic_store_n(&w->sg->nodes[w->node].heartbeat_ns, dcf_now_ns(), __ATOMIC_RELAXED);
}

/* Run one task; returns its result (cpu work) or 0. */
static uint64_t
run_task(const struct worker_ctx *w, const struct dcf_claim *cl)
{
	const struct dcf_config *c = &w->sg->hdr->cfg;
	uint64_t beat = c->hang_timeout_ms / 4 ? c->hang_timeout_ms / 4 : 1;

	if (cl->kind == DCF_WORK_SLEEP) {
		uint64_t end = dcf_now_ns() + (uint64_t)cl->arg_ms * 1000000ULL;
		struct timespec ts;

		for (;;) {
			uint64_t now = dcf_now_ns(), next;

			if (now >= end)
				break;
			next = now + beat * 1000000ULL;
			if (next > end)
				next = end;
			ts.tv_sec = (time_t)(next / DCF_NSEC);
			ts.tv_nsec = (long)(next % DCF_NSEC);
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
			heartbeat(w);
		}
		return 0;
	}
	if (cl->kind == DCF_WORK_CPU) {
		uint64_t left = dcf_task_cpu_iters(c, cl->id);
		uint64_t step = c->cpu_iters_per_ms * beat, x = c->seed + cl->id;

		if (step == 0)
			step = 1;
		while (left > 0) {
			uint64_t n = left < step ? left : step;

			x = dcf_lcg_run(x, n);
			left -= n;
			heartbeat(w);
		}
		return x;
	}
	return 0;
}

static void
notify_supervisor(const struct worker_ctx *w)
{
	uint64_t one = 1;

	while (write(w->notify_fd, &one, sizeof(one)) == -1 && errno == EINTR)
		;
}

#ifdef DCF_INJECT_ENABLE
/* Test hooks, from the environment (injection build only). */
struct worker_hooks {
	uint64_t iter;
	uint64_t corrupt_at;   /* DCF_CORRUPT: damage beyond repair, die holding the lock */
	uint64_t corrupt_q_at; /* DCF_CORRUPT_QUEUE: a queue field naming another ring */
	uint64_t scribble_at;  /* DCF_SCRIBBLE_GEN: our generation changed, then die busy */
	uint64_t poison;       /* DCF_POISON: the task that kills its worker */
	uint32_t net;
};

static uint64_t
env_u64(const char *name, uint64_t none)
{
	const char *v = getenv(name);

	return v != NULL ? strtoull(v, NULL, 10) : none;
}

static void
hooks_init(struct worker_hooks *k, const struct worker_ctx *w)
{
	/* DCF_INJECT_NODE=n: only node n's first process arms the injection point. */
	const char *only = getenv("DCF_INJECT_NODE");
	const char *crash = getenv("DCF_CRASH_NODE");

	if (only == NULL || (strtoul(only, NULL, 10) == w->node && w->gen == 1))
		dcf_inject_from_env();
	if (crash != NULL && strtoul(crash, NULL, 10) == w->node)
		raise(SIGKILL); /* a node that dies whenever it starts */
	memset(k, 0, sizeof(*k));
	k->corrupt_at = env_u64("DCF_CORRUPT", 0);
	k->corrupt_q_at = env_u64("DCF_CORRUPT_QUEUE", 0);
	k->scribble_at = env_u64("DCF_SCRIBBLE_GEN", 0);
	k->poison = env_u64("DCF_POISON", UINT64_MAX);
	k->net = w->sg->nodes[w->node].net;
}

/* Under the lock, at the start of every turn. */
static void
hooks_locked(struct dcf_seg *sg, void *arg)
{
	struct worker_hooks *k = arg;

	if (++k->iter == k->corrupt_at && sg->hdr->cnt.resets == 0) {
		sg->rings[DCF_RING_FREE].tail += 3 * sg->hdr->ring_cap;
		raise(SIGKILL);
	}
	if (k->corrupt_q_at != 0 && k->iter >= k->corrupt_q_at && sg->hdr->cnt.resets == 0) {
		uint32_t ring = DCF_RING_RECOVERY, slot;

		if (dcf_ring_depth(&sg->rings[ring]) == 0)
			ring = DCF_RING_NET0 + k->net;
		if (dcf_ring_peek(sg, ring, 0, &slot) == 0) {
			sg->tasks[slot].queue =
			    ring == DCF_RING_RECOVERY ? DCF_RING_NET0 + k->net : DCF_RING_RECOVERY;
			k->corrupt_q_at = 0;
		}
	}
}

/* After a claim, before the task runs. */
static void
hooks_claimed(struct worker_hooks *k, const struct worker_ctx *w, const struct dcf_claim *cl)
{
	struct dcf_seg *sg = w->sg;

	if (cl->id == k->poison)
		raise(SIGKILL);
	if (k->scribble_at != 0 && k->iter >= k->scribble_at && w->gen == 1 &&
	    sg->hdr->cnt.resets == 0 && dcf_lock(sg) == 0) {
		sg->nodes[w->node].gen += 100;
		dcf_unlock(sg);
		raise(SIGKILL);
	}
}
#endif

void
worker_main(const struct worker_ctx *w)
{
	struct dcf_seg *sg = w->sg;
	struct dcf_node *nd = &sg->nodes[w->node];
	struct dcf_turn t;
	sigset_t all;
	pid_t me = getpid();
#ifdef DCF_INJECT_ENABLE
	struct worker_hooks hooks;
#endif

	/* Die with the supervisor; the check closes the race with its death before prctl. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != w->parent)
		_exit(DCF_EXIT_SETUP);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* Ctrl-C, Ctrl-\ and a hangup reach the whole process group: stopping is
	 * the supervisor's call, with its grace period. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	dcf_seg_close_fd(sg);
	setproctitle("-dcf-worker Network-%u Node-%u", nd->net, nd->idx);
	prctl(PR_SET_NAME, "dcf-worker");
	/* The supervisor writes every line of the log: its queue is not ours. */
	dcf_log_queue_free();
	memset(&t, 0, sizeof(t));
	t.node = w->node;
	t.gen = w->gen;
	t.pid = me;
#ifdef DCF_INJECT_ENABLE
	hooks_init(&hooks, w);
	t.locked_hook = hooks_locked;
	t.hook_arg = &hooks;
#endif
	arm_chaos(w);

	/* The PID is a label: the supervisor stores it after fork, we store it before
	 * saying we are ready, so nobody ever sees an idle node without one. */
	__atomic_store_n(&nd->pid, (int32_t)me, __ATOMIC_RELAXED);
	if (dcf_turn_ready(sg, &t) == -1)
		_exit(errno == ESTALE ? DCF_EXIT_STALE : DCF_EXIT_RESET);
	for (;;) {
		int next = dcf_turn(sg, &t);

		if (next == -1)
			_exit(errno == ESTALE ? DCF_EXIT_STALE : DCF_EXIT_RESET);
		if (t.wake_sup)
			notify_supervisor(w);
		if (next == DCF_NEXT_EXIT)
			_exit(DCF_EXIT_OK);
		if (next == DCF_NEXT_SLEEP) {
			dcf_futex_wait(t.wake, t.word, NULL);
			continue;
		}
#ifdef DCF_INJECT_ENABLE
		hooks_claimed(&hooks, w, &t.cl);
#endif
		t.result = run_task(w, &t.cl);
	}
}
