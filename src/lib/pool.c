/*
 * pool.c - libdcf's public API (dcf.h): a pool is the engine (supervisor.h)
 * run a step at a time from inside the program's calls, fed with the
 * program's inputs and handing back each task's result exactly once.
 *
 * Exactly once: a result reaches the pool through the engine's ended hook
 * when its task is retired from the books (or quarantined), and the books
 * retire a task once (books.h). Here it goes straight to on_result, or to a
 * FIFO that dcf_wait empties; nothing in this file can deliver it twice,
 * and only running out of memory for the FIFO can drop one, which is
 * counted and reported as an error, never silent.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcf.h"
#include "dcf/layout.h"
#include "dcf/log.h"
#include "dcf/seg.h"
#include "dcf/supervisor.h"
#include "dcf/util.h"

#define POOL_IN_DEFAULT    4096u
#define POOL_OUT_DEFAULT   4096u
#define POOL_IO_MAX        (1u << 20)
#define POOL_QUEUE_DEFAULT 1024u
#define POOL_ATTEMPTS_MAX  1000u
#define ALIGN16(n)         (((n) + 15u) & ~(size_t)15u)
/* A non-blocking call looks at the books at least this often. */
#define POOL_LOOK_NS 1000000ULL
/* Inputs staged before a batch leaves for the books, at most. */
#define POOL_BATCH 256u
/* Without a task time limit, the watchdog still ends a worker stopped or
 * holding the books' lock this long (lock.h). */
#define POOL_HANG_DEFAULT_MS 10000u

/* The smallest options a caller may pass: the first version's. */
#define POOL_OPTS_V1 (offsetof(struct dcf_pool_opts, log_fd) + sizeof(int))

static __thread char last_buf[256];
static __thread const char *last_error = "";
/* One pool per process: the log and the workers' signals are process-wide. */
static int pool_running;

struct held {
	uint64_t id;
	int status, code;
	unsigned attempts, network, node;
	uint64_t run_ns;
	size_t off, len; /* its output in the FIFO's buffer */
};

struct dcf_pool {
	struct sup *s;
	struct sup_opts o;
	dcf_result_fn *on_result;
	void *result_arg;
	uint32_t batch;
	int stopped; /* dcf_pool_stop: no more submissions */
	int ended;   /* the engine's run is over */
	int in_call; /* inside on_result: the pool's functions refuse */
	size_t max_in;
	/* Results waiting for dcf_wait, and their outputs. */
	struct held *q;
	size_t qhead, qtail, qcap;
	unsigned char *buf;
	size_t bhead, bused, bcap;
	uint64_t lost;      /* results dropped for want of memory */
	uint64_t given;     /* on_result calls during the current dcf_wait */
	uint64_t next_look; /* worth_a_step's clock */
	struct dcf_pool_stats st;
};

static int fail(int e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(int e, const char *fmt, ...)
{
	va_list ap;

	/* A message without arguments is a literal: kept as it is, since the
	 * hot path's EAGAIN must not pay for a formatting. */
	if (strchr(fmt, '%') == NULL) {
		last_error = fmt;
	} else {
		va_start(ap, fmt);
		vsnprintf(last_buf, sizeof(last_buf), fmt, ap);
		va_end(ap);
		last_error = last_buf;
	}
	errno = e;
	return -1;
}

const char *
dcf_error(void)
{
	return last_error;
}

const char *
dcf_version(void)
{
	return DCF_VERSION;
}

/* --- results ------------------------------------------------------------ */

/* Room for one more held result of len bytes: the consumed front is dropped first. */
static int
hold_room(struct dcf_pool *p, size_t len)
{
	if (p->qhead == p->qtail) {
		p->qhead = p->qtail = 0;
		p->bhead = p->bused = 0;
	}
	if (p->qtail == p->qcap) {
		if (p->qhead > 0) {
			memmove(p->q, p->q + p->qhead, (p->qtail - p->qhead) * sizeof(*p->q));
			p->qtail -= p->qhead;
			p->qhead = 0;
		} else {
			size_t cap = p->qcap ? 2 * p->qcap : 1024;
			struct held *q = realloc(p->q, cap * sizeof(*q));

			if (q == NULL)
				return -1;
			p->q = q;
			p->qcap = cap;
		}
	}
	if (p->bcap - p->bused < len) {
		if (p->bhead > 0 && p->bhead >= p->bused / 2) {
			memmove(p->buf, p->buf + p->bhead, p->bused - p->bhead);
			for (size_t i = p->qhead; i < p->qtail; i++)
				p->q[i].off -= p->bhead;
			p->bused -= p->bhead;
			p->bhead = 0;
		}
		if (p->bcap - p->bused < len) {
			size_t cap = p->bcap ? p->bcap : 65536;
			unsigned char *b;

			while (cap - p->bused < len)
				cap *= 2;
			if ((b = realloc(p->buf, cap)) == NULL)
				return -1;
			p->buf = b;
			p->bcap = cap;
		}
	}
	return 0;
}

/* The engine's ended hook (supervisor.h): a task's one and only end. */
static void
pool_ended(void *ctx, const struct dcf_done *d, const void *out, int quarantined)
{
	struct dcf_pool *p = ctx;
	struct dcf_result r;

	memset(&r, 0, sizeof(r));
	r.id = d->id;
	r.attempts = d->attempts;
	r.network = d->node / p->o.cfg.nodes_per_net;
	r.node = d->node % p->o.cfg.nodes_per_net;
	r.run_ns = d->out.run_ns;
	if (quarantined) {
		r.status = DCF_QUARANTINED;
		p->st.quarantined++;
	} else if (out == NULL || d->out.how == DCF_HOW_OVERSIZE) {
		r.status = DCF_OVERSIZE;
		p->st.oversize++;
	} else {
		r.status = d->out.how == DCF_HOW_OK ? DCF_OK : DCF_FAILED;
		r.code = d->out.how == DCF_HOW_OK ? 0 : d->out.exit_code;
		r.out = out;
		r.out_len = d->out.out_bytes;
		if (r.status == DCF_OK)
			p->st.ok++;
		else
			p->st.failed++;
	}
	if (p->on_result != NULL) {
		p->in_call = 1;
		p->on_result(&r, p->result_arg);
		p->in_call = 0;
		p->st.delivered++;
		p->given++;
		return;
	}
	if (hold_room(p, ALIGN16(r.out_len)) == -1) {
		p->lost++;
		return;
	}
	p->q[p->qtail].id = r.id;
	p->q[p->qtail].status = r.status;
	p->q[p->qtail].code = r.code;
	p->q[p->qtail].attempts = r.attempts;
	p->q[p->qtail].network = r.network;
	p->q[p->qtail].node = r.node;
	p->q[p->qtail].run_ns = r.run_ns;
	p->q[p->qtail].off = p->bused;
	p->q[p->qtail].len = r.out_len;
	if (r.out_len > 0)
		memcpy(p->buf + p->bused, r.out, r.out_len);
	p->bused += ALIGN16(r.out_len); /* every output 16-byte aligned, as in the slots */
	p->qtail++;
}

/* --- starting ----------------------------------------------------------- */

static int
check_opts(struct dcf_pool *p, const struct dcf_pool_opts *in, struct dcf_pool_opts *o)
{
	long ncpu;
	uint64_t slots, want;
	char err[DCF_ERRLEN];

	if (in == NULL)
		return fail(EINVAL, "options: NULL; initialise them with dcf_pool_opts_init");
	if (in->size < POOL_OPTS_V1 || in->size > sizeof(*o))
		return fail(EINVAL,
		    "options: size %zu, want %zu to %zu; initialise them with dcf_pool_opts_init",
		    in->size, (size_t)POOL_OPTS_V1, sizeof(*o));
	memset(o, 0, sizeof(*o));
	memcpy(o, in, in->size);
	if (o->name == NULL) {
		snprintf(p->o.name, sizeof(p->o.name), "pool-%d", (int)getpid());
	} else if (dcf_name_check(o->name, err, sizeof(err)) == -1) {
		return fail(EINVAL, "name: %s", err);
	} else {
		snprintf(p->o.name, sizeof(p->o.name), "%s", o->name);
	}
	if (o->networks == 0)
		o->networks = 1;
	if (o->networks > DCF_MAX_NETS)
		return fail(EINVAL, "networks %u: want 1 to %u", o->networks, DCF_MAX_NETS);
	if (o->nodes == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		o->nodes = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (unsigned)ncpu;
	}
	if ((uint64_t)o->networks * o->nodes > DCF_MAX_NODES)
		return fail(EINVAL, "nodes %u x networks %u: want 1 to %u workers in all", o->nodes,
		    o->networks, DCF_MAX_NODES);
	if (o->attempts == 0)
		o->attempts = 3;
	if (o->attempts > POOL_ATTEMPTS_MAX)
		return fail(EINVAL, "attempts %u: want 1 to %u", o->attempts, POOL_ATTEMPTS_MAX);
	if (o->max_in == 0)
		o->max_in = POOL_IN_DEFAULT;
	if (o->max_out == 0)
		o->max_out = POOL_OUT_DEFAULT;
	if (o->max_in > POOL_IO_MAX)
		return fail(EINVAL, "max_in %zu: want at most %u bytes (1 MiB)", o->max_in,
		    POOL_IO_MAX);
	if (o->max_out > POOL_IO_MAX)
		return fail(EINVAL, "max_out %zu: want at most %u bytes (1 MiB)", o->max_out,
		    POOL_IO_MAX);
	if (o->queue == 1 || o->queue > DCF_MAX_TASK_SLOTS)
		return fail(EINVAL, "queue %u: want 2 to %u tasks", o->queue, DCF_MAX_TASK_SLOTS);
	if (o->log_fd < 0)
		return fail(EINVAL, "log_fd %d: want 0 (no log) or a descriptor", o->log_fd);
	want = o->queue;
	if (want == 0) {
		want = (uint64_t)o->networks * o->nodes * 4;
		if (want < POOL_QUEUE_DEFAULT)
			want = POOL_QUEUE_DEFAULT;
	}
	for (slots = 2; slots < want && slots < DCF_MAX_TASK_SLOTS;)
		slots <<= 1;
	p->o.cfg.task_slots = (uint32_t)slots;
	return 0;
}

struct dcf_pool *
dcf_pool_start(const struct dcf_pool_opts *in, dcf_task_fn *fn, void *arg)
{
	struct dcf_pool *p;
	struct dcf_pool_opts o;
	struct sup_embed emb;
	struct dcf_config *c;
	char err[DCF_ERRLEN];

	if (fn == NULL) {
		fail(EINVAL, "task function: NULL");
		return NULL;
	}
	if (pool_running) {
		fail(EBUSY, "a pool runs in this process already: free it first");
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		fail(ENOMEM, "out of memory");
		return NULL;
	}
	memset(&o, 0, sizeof(o));
	if (check_opts(p, in, &o) == -1) {
		free(p);
		return NULL;
	}
	c = &p->o.cfg;
	{
		uint32_t slots = c->task_slots;

		dcf_config_default(c);
		c->task_slots = slots;
	}
	c->nets = o.networks;
	c->nodes_per_net = o.nodes;
	c->max_nodes = o.networks * o.nodes;
	c->tasks = DCF_TASKS_STREAM;
	c->work = DCF_WORK_FN;
	c->task_ms_min = c->task_ms_max = 0;
	c->fail_rate_ppm = 0;
	c->downtime_ms_min = c->downtime_ms_max = 0;
	c->max_attempts = o.attempts;
	/* A worker killed with its task is the task's doing, not the worker's: give
	 * up on a node only when it cannot stay up at all. */
	c->max_restarts = 100;
	c->restart_window_s = 10;
	c->hang_timeout_ms = o.hang_timeout_ms ? o.hang_timeout_ms : POOL_HANG_DEFAULT_MS;
	c->timeout_ms = o.hang_timeout_ms;
	c->grace_ms = 0;
	/* Inputs and outputs start 16-byte aligned (dcf_out_off): any type fits them. */
	c->payload_max = (uint32_t)(ALIGN16(o.max_in) + ALIGN16(o.max_out));
	p->max_in = o.max_in;
	c->out_max = (uint32_t)o.max_out;
	p->o.level = DCF_INFO;
	p->on_result = o.on_result;
	p->result_arg = o.result_arg;
	p->batch = c->task_slots / 4 < POOL_BATCH ? c->task_slots / 4 : POOL_BATCH;
	if (p->batch == 0)
		p->batch = 1;
	if (dcf_config_check(c, err, sizeof(err)) == -1) {
		fail(EINVAL, "options: %s", err);
		free(p);
		return NULL;
	}
	memset(&emb, 0, sizeof(emb));
	emb.fn = fn;
	emb.fn_arg = arg;
	emb.ended = pool_ended;
	emb.ctx = p;
	emb.log_fd = o.log_fd;
	p->s = sup_open(&p->o, &emb, err, sizeof(err));
	if (p->s == NULL) {
		int e = errno;

		fail(e, "cannot start pool '%s': %s", p->o.name, err);
		free(p);
		return NULL;
	}
	pool_running = 1;
	return p;
}

/* --- submitting and collecting ------------------------------------------ */

static int
usable(struct dcf_pool *p)
{
	if (p == NULL)
		return fail(EINVAL, "pool: NULL");
	if (p->in_call)
		return fail(EDEADLK, "called from on_result, which must not call the pool");
	return 0;
}

/* The engine's run is over before its time, or results were dropped. */
static int
broken(struct dcf_pool *p)
{
	if (p->lost > 0)
		return fail(ENOMEM, "out of memory holding results: %llu lost",
		    (unsigned long long)p->lost);
	if (sup_failed(p->s))
		return fail(EIO, "every worker has failed: the pool cannot run tasks");
	if (p->ended && p->st.delivered < p->st.submitted)
		return fail(EIO, "the pool stopped with %llu tasks not run",
		    (unsigned long long)(p->st.submitted - p->st.delivered));
	return 0;
}

static void
step(struct dcf_pool *p, int may_block)
{
	if (!p->ended && sup_step(p->s, may_block))
		p->ended = 1;
}

/*
 * A non-blocking call looks at the books only when they may have something
 * for it (a completion waits to be retired) or at least once a millisecond
 * (a worker may have died): a program polling dcf_try_wait in a loop costs
 * a clock read per call, not a lock.
 */
static int
worth_a_step(struct dcf_pool *p)
{
	uint64_t now;

	if (sup_done(p->s) > 0)
		return 1;
	now = dcf_now_ns();
	if (now < p->next_look)
		return 0;
	p->next_look = now + POOL_LOOK_NS;
	return 1;
}

/* dcf.h's priorities are the books' (layout.h): the same numbers, spelt twice. */
_Static_assert(DCF_PRIORITY_MIN == DCF_PRIO_MIN, "dcf.h's lowest priority is the books'"); // NOLINT
_Static_assert(DCF_PRIORITY_MAX == DCF_PRIO_MAX,
    "dcf.h's highest priority is the books'"); // NOLINT

static int
submit(struct dcf_pool *p, const void *in, size_t in_len, int prio, uint64_t *id, int block)
{
	uint32_t staged;

	if (usable(p) == -1)
		return -1;
	if (prio < DCF_PRIORITY_MIN || prio > DCF_PRIORITY_MAX)
		return fail(EINVAL, "priority %d: want %d to %d", prio, DCF_PRIORITY_MIN,
		    DCF_PRIORITY_MAX);
	if (p->stopped)
		return fail(ESHUTDOWN, "submit after dcf_pool_stop");
	if (in == NULL && in_len > 0)
		return fail(EINVAL, "input: NULL with length %zu", in_len);
	if (in_len > p->max_in)
		return fail(EMSGSIZE, "input of %zu bytes: the pool's max_in is %zu", in_len,
		    p->max_in);
	while (sup_room(p->s) == 0) {
		if (broken(p) == -1)
			return -1;
		sup_flush(p->s);
		step(p, block);
		if (!block && sup_room(p->s) == 0)
			return fail(EAGAIN, "the pool is full");
	}
	if (sup_stage(p->s, in, (uint32_t)in_len, prio) == -1)
		return fail(ENOMEM, "out of memory staging an input");
	if (id != NULL)
		*id = p->st.submitted;
	p->st.submitted++;
	staged = sup_staged(p->s);
	/* A batch leaves when full, or at once when the workers have nothing queued. */
	if (staged >= p->batch || (staged == 1 && sup_queued(p->s) == 0))
		sup_flush(p->s);
	return 0;
}

int
dcf_submit(struct dcf_pool *p, const void *in, size_t in_len, uint64_t *id)
{
	return submit(p, in, in_len, 0, id, 1);
}

int
dcf_try_submit(struct dcf_pool *p, const void *in, size_t in_len, uint64_t *id)
{
	return submit(p, in, in_len, 0, id, 0);
}

int
dcf_submit_prio(struct dcf_pool *p, const void *in, size_t in_len, int prio, uint64_t *id)
{
	return submit(p, in, in_len, prio, id, 1);
}

static int
collect(struct dcf_pool *p, struct dcf_result *r, int block)
{
	if (usable(p) == -1)
		return -1;
	if (p->on_result != NULL && r != NULL)
		return fail(EINVAL, "result: not NULL, but on_result takes the results");
	if (p->on_result == NULL && r == NULL)
		return fail(EINVAL, "result: NULL");
	if (block)
		sup_flush(p->s); /* what it waits for may be staged */
	p->given = 0;
	for (int steps = 0;; steps++) {
		if (p->on_result != NULL && p->given > 0)
			return 0;
		if (r != NULL && p->qhead < p->qtail) {
			const struct held *h = &p->q[p->qhead++];

			memset(r, 0, sizeof(*r));
			r->id = h->id;
			r->status = h->status;
			r->code = h->code;
			r->out = h->len > 0 ? p->buf + h->off : NULL;
			r->out_len = h->len;
			r->attempts = h->attempts;
			r->network = h->network;
			r->node = h->node;
			r->run_ns = h->run_ns;
			p->bhead = h->off + ALIGN16(h->len);
			p->st.delivered++;
			return 0;
		}
		if (broken(p) == -1)
			return -1;
		if (p->st.delivered == p->st.submitted)
			return fail(ENODATA, "every task submitted has been delivered");
		if (!block && (steps > 0 || !worth_a_step(p)))
			return fail(EAGAIN, "no result yet");
		step(p, block);
		sup_flush(p->s);
	}
}

int
dcf_wait(struct dcf_pool *p, struct dcf_result *r)
{
	return collect(p, r, 1);
}

int
dcf_try_wait(struct dcf_pool *p, struct dcf_result *r)
{
	return collect(p, r, 0);
}

int
dcf_pool_stop(struct dcf_pool *p)
{
	if (usable(p) == -1)
		return -1;
	p->stopped = 1;
	sup_end_input(p->s);
	sup_flush(p->s);
	return 0;
}

void
dcf_pool_free(struct dcf_pool *p)
{
	if (p == NULL || p->in_call)
		return;
	sup_close(p->s);
	free(p->q);
	free(p->buf);
	free(p);
	pool_running = 0;
}

int
dcf_pool_stats(struct dcf_pool *p, struct dcf_pool_stats *st, size_t size)
{
	struct dcf_counters c;
	struct dcf_pool_stats s;
	uint32_t alive;

	if (p == NULL || st == NULL)
		return fail(EINVAL, "%s: NULL", p == NULL ? "pool" : "stats");
	if (size == 0 || size > sizeof(s))
		return fail(EINVAL, "stats size %zu: want 1 to %zu", size, sizeof(s));
	sup_counts(p->s, &c, &alive);
	s = p->st;
	s.reruns = c.reclaimed;
	s.deaths = c.failures;
	s.restarts = c.restarts;
	s.resets = c.resets;
	s.workers = alive;
	memcpy(st, &s, size);
	return 0;
}
