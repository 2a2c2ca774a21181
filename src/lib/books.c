/* books.c - dispatch, claim, complete, retire, reclaim: each one transaction. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcf/books.h"
#include "dcf/inject.h"
#include "dcf/lock.h"
#include "dcf/ring.h"
#include "dcf/tx.h"
#include "dcf/util.h"
#include "dcf/wait.h"

uint32_t
dcf_task_ms(const struct dcf_config *c, uint64_t id)
{
	uint64_t span = (uint64_t)c->task_ms_max - c->task_ms_min + 1;

	return c->task_ms_min +
	    (uint32_t)(dcf_mix64(c->seed ^ (id * 0x2545f4914f6cdd1dULL)) % span);
}

uint64_t
dcf_task_cpu_iters(const struct dcf_config *c, uint64_t id)
{
	return (uint64_t)dcf_task_ms(c, id) * c->cpu_iters_per_ms;
}

uint64_t
dcf_task_cpu_expect(const struct dcf_config *c, uint64_t id)
{
	return dcf_lcg_jump(c->seed + id, dcf_task_cpu_iters(c, id));
}

static int
is_net_ring(const struct dcf_seg *sg, uint32_t ring)
{
	return ring >= DCF_RING_NET0 && ring < DCF_RING_NET0 + sg->cfg.nets;
}

/* Tell sleepers of ring that work came (under the lock: a hint, see wait.h). */
static void
bump_ring(struct dcf_seg *sg, uint32_t ring)
{
	if (is_net_ring(sg, ring)) {
		__atomic_add_fetch(&sg->nets[ring - DCF_RING_NET0].wake, 1, __ATOMIC_RELEASE);
		return;
	}
	if (ring == dcf_delay_ring(sg))
		return; /* nobody claims from it */
	for (uint32_t n = 0; n < sg->cfg.nets; n++)
		__atomic_add_fetch(&sg->nets[n].wake, 1, __ATOMIC_RELEASE);
}

/*
 * Should work waiting for network net (depth items) wake one of its
 * sleepers? Waking costs a context switch and one more process contending
 * for the lock, so wake only when no awake worker will take the item soon:
 *  - nobody in the network is awake: always (progress);
 *  - its tasks are long, or not measured yet: yes, an awake worker may be
 *    inside a task for a long time;
 *  - its tasks are short (shorter than a wake-up): awake workers come back
 *    for more at once, so keep only a few awake, about one per CPU.
 * A wrong guess never strands work: a network without awake workers always
 * wakes one, a long task raises the average when it completes, and every
 * death wakes everyone (the supervisor).
 */
#define SHORT_TASK_NS 50000ULL

static int
want_wake(struct dcf_seg *sg, uint32_t net_id, uint32_t depth)
{
	static uint32_t width;
	const struct dcf_net *net = &sg->nets[net_id];
	uint32_t sleepers = __atomic_load_n(&net->sleepers, __ATOMIC_RELAXED);
	uint32_t alive = __atomic_load_n(&net->alive, __ATOMIC_RELAXED);
	uint64_t avg = __atomic_load_n(&net->run_avg_ns, __ATOMIC_RELAXED);

	if (sleepers == 0 || depth == 0)
		return 0;
	if (alive <= sleepers)
		return 1;
	/* Every sleeper already has a wake on its way: another finds nobody. */
	if (__atomic_load_n(&net->woken, __ATOMIC_RELAXED) >= sleepers)
		return 0;
	if (avg == 0 || avg >= SHORT_TASK_NS)
		return 1;
	if (width == 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		width = ncpu > 0 ? (uint32_t)ncpu : 1;
	}
	return alive - sleepers < width;
}

/*
 * Wake one sleeper of network n, counting it in woken only if the kernel
 * says one woke: counting the intent instead strands sleepers whose wake
 * found nobody (a sleeper between its check-in and its futex wait).
 */
static void
wake_one(struct dcf_seg *sg, uint32_t n)
{
	int k = dcf_futex_wake(&sg->nets[n].wake, 1);

	if (k > 0)
		__atomic_add_fetch(&sg->nets[n].woken, (uint32_t)k, __ATOMIC_RELAXED);
}

void
dcf_books_wake_ring(struct dcf_seg *sg, uint32_t ring)
{
	if (is_net_ring(sg, ring)) {
		uint32_t n = ring - DCF_RING_NET0;

		if (want_wake(sg, n, dcf_ring_depth(&sg->rings[ring])))
			wake_one(sg, n);
		return;
	}
	for (uint32_t n = 0; n < sg->cfg.nets; n++)
		if (want_wake(sg, n, dcf_ring_depth(&sg->rings[ring])))
			wake_one(sg, n);
}

void
dcf_books_wake_all(struct dcf_seg *sg)
{
	for (uint32_t n = 0; n < sg->cfg.nets; n++) {
		__atomic_add_fetch(&sg->nets[n].wake, 1, __ATOMIC_RELEASE);
		dcf_futex_wake(&sg->nets[n].wake, INT_MAX);
		/* Everyone is awake or about to be: the count starts again. */
		__atomic_store_n(&sg->nets[n].woken, 0, __ATOMIC_RELAXED);
	}
}

static int
dispatch(struct dcf_seg *sg, uint32_t ring, uint64_t now, const void *payload, uint32_t payload_len)
{
	struct dcf_hdr *h = sg->hdr;
	struct dcf_task *t;
	struct dcf_tx tx;
	uint64_t id = h->cnt.next_id;
	uint32_t s;

	DCF_INJECT(DCF_OP_DISPATCH, DCF_STEP_LOCKED);
	if (id >= sg->cfg.tasks) {
		errno = ENODATA;
		return -1;
	}
	if (ring == DCF_RING_FREE || ring == DCF_RING_DONE || ring >= sg->nrings) {
		errno = EINVAL;
		return -1;
	}
	if (payload_len > sg->cfg.payload_max) {
		errno = EMSGSIZE;
		return -1;
	}
	dcf_tx_begin(&tx, sg, DCF_OP_DISPATCH);
	if (dcf_ring_pop_tx(&tx, DCF_RING_FREE, &s) == -1)
		return errno == ENOENT ? (errno = ENOSPC, -1) : -1;
	t = &sg->tasks[s];
	if (t->state != DCF_TASK_FREE) {
		errno = EUCLEAN;
		return -1;
	}
	/* The slot is free: its payload may be written before the commit. */
	t->id = id;
	t->kind = sg->cfg.work;
	t->prio = 0;
	t->arg_ms = sg->cfg.work == DCF_WORK_CMD ? 0 : dcf_task_ms(&sg->cfg, id);
	t->attempts = 0;
	t->result = 0;
	t->owner_node = DCF_NONE;
	t->owner_gen = 0;
	t->owner_pid = 0;
	t->t_queued_ns = now;
	t->t_started_ns = 0;
	if (payload_len > 0)
		memcpy(dcf_payload(sg, s), payload, payload_len);
	t->payload_len = payload_len;
	t->runs = 0;
	t->tries = 0;
	memset(&t->out, 0, sizeof(t->out));
	dcf_tx_put32(&tx, &t->queue, ring);
	dcf_tx_put32(&tx, &t->state, DCF_TASK_QUEUED);
	if (dcf_ring_push_tx(&tx, ring, s) == -1)
		return -1;
	dcf_tx_put64(&tx, &h->cnt.next_id, id + 1);
	if (ring == DCF_RING_RECOVERY)
		dcf_tx_put64(&tx, &h->cnt.to_recovery, h->cnt.to_recovery + 1);
	dcf_tx_commit(&tx);
	bump_ring(sg, ring);
	return 0;
}

int
dcf_dispatch_locked(struct dcf_seg *sg, uint32_t ring, uint64_t now)
{
	return dispatch(sg, ring, now, NULL, 0);
}

int
dcf_dispatch_cmd_locked(struct dcf_seg *sg, uint32_t ring, uint64_t now, const void *payload,
    uint32_t payload_len)
{
	return dispatch(sg, ring, now, payload, payload_len);
}

int
dcf_skip_locked(struct dcf_seg *sg, uint64_t n)
{
	struct dcf_hdr *h = sg->hdr;
	struct dcf_tx tx;

	if (n > sg->cfg.tasks || h->cnt.next_id > sg->cfg.tasks - n) {
		errno = ENODATA;
		return -1;
	}
	dcf_tx_begin(&tx, sg, DCF_OP_DISPATCH);
	dcf_tx_put64(&tx, &h->cnt.next_id, h->cnt.next_id + n);
	dcf_tx_put64(&tx, &h->cnt.skipped, h->cnt.skipped + n);
	dcf_tx_commit(&tx);
	return 0;
}

int
dcf_claim_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen, pid_t pid, uint64_t now,
    struct dcf_claim *out)
{
	struct dcf_hdr *h = sg->hdr;
	struct dcf_node *nd;
	struct dcf_task *t;
	struct dcf_tx tx;
	uint32_t ring, s;

	DCF_INJECT(DCF_OP_CLAIM, DCF_STEP_LOCKED);
	if (node >= sg->cfg.max_nodes || sg->nodes[node].gen != gen) {
		errno = ESTALE;
		return -1;
	}
	if (__atomic_load_n(&h->sys_state, __ATOMIC_ACQUIRE) != DCF_SYS_RUNNING) {
		errno = ESHUTDOWN;
		return -1;
	}
	nd = &sg->nodes[node];
	if (nd->net >= sg->cfg.nets) {
		errno = EUCLEAN;
		return -1;
	}
	dcf_tx_begin(&tx, sg, DCF_OP_CLAIM);
	ring = DCF_RING_RECOVERY;
	if (dcf_ring_pop_tx(&tx, ring, &s) == -1) {
		if (errno != ENOENT)
			return -1;
		ring = DCF_RING_NET0 + nd->net;
		if (dcf_ring_pop_tx(&tx, ring, &s) == -1)
			return -1;
	}
	t = &sg->tasks[s];
	if (t->state != DCF_TASK_QUEUED || t->queue != ring) {
		errno = EUCLEAN;
		return -1;
	}
	dcf_tx_put32(&tx, &t->state, DCF_TASK_RUNNING);
	dcf_tx_put32(&tx, &t->queue, DCF_NONE);
	dcf_tx_put32(&tx, &t->owner_node, node);
	dcf_tx_put32(&tx, &t->owner_gen, gen);
	dcf_tx_put32(&tx, (uint32_t *)&t->owner_pid, (uint32_t)pid);
	dcf_tx_put64(&tx, &t->t_started_ns, now);
	dcf_tx_put32(&tx, &t->runs, t->runs + 1);
	dcf_tx_put32(&tx, &nd->state, DCF_NODE_BUSY);
	dcf_tx_put32(&tx, &nd->task_slot, s);
	dcf_tx_put64(&tx, &nd->task_id, t->id);
	dcf_tx_put64(&tx, &nd->busy_since_ns, now);
	dcf_tx_put32(&tx, &nd->from_recovery, ring == DCF_RING_RECOVERY);
	dcf_tx_put32(&tx, &t->flags, ring == DCF_RING_RECOVERY ? DCF_TASK_F_RECOVERY : 0);
	dcf_tx_put64(&tx, &h->cnt.running, h->cnt.running + 1);
	dcf_tx_put64(&tx, &h->cnt.claims, h->cnt.claims + 1);
	out->wake_sup = 0;
	if (h->sup_waiting & DCF_SUP_WAKE_CLAIM) {
		dcf_tx_put32(&tx, &h->sup_waiting, 0);
		out->wake_sup = 1;
	}
	dcf_tx_commit(&tx);
	__atomic_store_n(&nd->heartbeat_ns, now, __ATOMIC_RELAXED);
	out->slot = s;
	out->id = t->id;
	out->kind = t->kind;
	out->arg_ms = t->arg_ms;
	out->attempts = t->attempts;
	out->runs = t->runs;
	out->tries = t->tries;
	out->from_recovery = ring == DCF_RING_RECOVERY;
	out->chain = want_wake(sg, nd->net, dcf_ring_depth(&sg->rings[ring]));
	return 0;
}

int
dcf_complete_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen, uint32_t slot, uint64_t id,
    uint64_t result, int *wake_sup)
{
	struct dcf_hdr *h = sg->hdr;
	struct dcf_node *nd;
	struct dcf_task *t;
	struct dcf_tx tx;

	DCF_INJECT(DCF_OP_COMPLETE, DCF_STEP_LOCKED);
	*wake_sup = 0;
	if (node >= sg->cfg.max_nodes || slot >= sg->cfg.task_slots) {
		errno = EINVAL;
		return -1;
	}
	nd = &sg->nodes[node];
	t = &sg->tasks[slot];
	if (t->state != DCF_TASK_RUNNING || t->id != id || t->owner_node != node ||
	    t->owner_gen != gen || nd->gen != gen || nd->net >= sg->cfg.nets) {
		errno = ESTALE;
		return -1;
	}
	dcf_tx_begin(&tx, sg, DCF_OP_COMPLETE);
	dcf_tx_put32(&tx, &t->state, DCF_TASK_DONE);
	dcf_tx_put64(&tx, &t->result, result);
	if (dcf_ring_push_tx(&tx, DCF_RING_DONE, slot) == -1)
		return -1;
	dcf_tx_put64(&tx, &h->cnt.running, h->cnt.running - 1);
	dcf_tx_put64(&tx, &h->cnt.completed, h->cnt.completed + 1);
	dcf_tx_put32(&tx, &nd->state, DCF_NODE_IDLE);
	dcf_tx_put32(&tx, &nd->task_slot, DCF_NONE);
	dcf_tx_put64(&tx, &nd->completed, nd->completed + 1);
	dcf_tx_put64(&tx, &sg->nets[nd->net].completed, sg->nets[nd->net].completed + 1);
	{
		/* The run time's moving average (1/8 weight), for want_wake. */
		struct dcf_net *net = &sg->nets[nd->net];
		uint64_t now = dcf_now_ns(),
		         run = now > t->t_started_ns ? now - t->t_started_ns : 0;
		uint64_t avg = net->run_avg_ns;

		avg = avg == 0 ? run + 1 : avg - avg / 8 + run / 8;
		dcf_tx_put64(&tx, &net->run_avg_ns, avg ? avg : 1);
	}
	if (h->sup_waiting) {
		dcf_tx_put32(&tx, &h->sup_waiting, 0);
		*wake_sup = 1;
	}
	dcf_tx_commit(&tx);
	return 0;
}

/* What a DONE slot's task was, for the supervisor's books and log. */
static void
tell_done(const struct dcf_task *t, uint32_t s, struct dcf_done *out)
{
	out->id = t->id;
	out->slot = s;
	out->runs = t->runs;
	out->tries = t->tries;
	out->attempts = t->attempts;
	out->out = t->out;
	out->node = t->owner_node;
	out->gen = t->owner_gen;
	out->from_recovery = (t->flags & DCF_TASK_F_RECOVERY) != 0;
	out->kind = t->kind;
	out->arg_ms = t->arg_ms;
	out->result = t->result;
}

const struct dcf_task *
dcf_done_head_locked(struct dcf_seg *sg)
{
	uint32_t s;

	if (dcf_ring_peek(sg, DCF_RING_DONE, 0, &s) == -1 || s >= sg->cfg.task_slots)
		return NULL;
	return &sg->tasks[s];
}

/* In tx: pop the DONE ring's head, check it, say what it was. NULL on error. */
static struct dcf_task *
pop_done(struct dcf_seg *sg, struct dcf_tx *tx, struct dcf_done *out, uint32_t *s)
{
	struct dcf_task *t;

	if (dcf_ring_pop_tx(tx, DCF_RING_DONE, s) == -1)
		return NULL;
	t = &sg->tasks[*s];
	if (t->state != DCF_TASK_DONE) {
		errno = EUCLEAN;
		return NULL;
	}
	tell_done(t, *s, out);
	return t;
}

int
dcf_retire_locked(struct dcf_seg *sg, struct dcf_done *out)
{
	struct dcf_hdr *h = sg->hdr;
	struct dcf_task *t;
	struct dcf_tx tx;
	uint64_t *ended;
	uint32_t s;

	DCF_INJECT(DCF_OP_RETIRE, DCF_STEP_LOCKED);
	dcf_tx_begin(&tx, sg, DCF_OP_RETIRE);
	if ((t = pop_done(sg, &tx, out, &s)) == NULL)
		return -1;
	switch (t->out.how) {
	case DCF_HOW_NONE:
	case DCF_HOW_OK:
		ended = &h->cnt.succeeded;
		break;
	case DCF_HOW_TIMEOUT:
		ended = &h->cnt.timed_out;
		break;
	default:
		ended = &h->cnt.failed;
		break;
	}
	dcf_tx_put32(&tx, &t->state, DCF_TASK_FREE);
	if (dcf_ring_push_tx(&tx, DCF_RING_FREE, s) == -1)
		return -1;
	dcf_tx_put64(&tx, &h->cnt.retired, h->cnt.retired + 1);
	dcf_tx_put64(&tx, ended, *ended + 1);
	dcf_tx_commit(&tx);
	return 0;
}

int
dcf_retry_locked(struct dcf_seg *sg, uint32_t ring, uint64_t now, struct dcf_done *out)
{
	struct dcf_hdr *h = sg->hdr;
	struct dcf_task *t;
	struct dcf_tx tx;
	uint32_t s;

	DCF_INJECT(DCF_OP_RETIRE, DCF_STEP_LOCKED);
	if (ring < DCF_RING_RECOVERY || ring >= sg->nrings) {
		errno = EINVAL;
		return -1;
	}
	dcf_tx_begin(&tx, sg, DCF_OP_RETIRE);
	if ((t = pop_done(sg, &tx, out, &s)) == NULL)
		return -1;
	dcf_tx_put32(&tx, &t->state, DCF_TASK_QUEUED);
	dcf_tx_put32(&tx, &t->queue, ring);
	dcf_tx_put32(&tx, &t->tries, t->tries + 1);
	dcf_tx_put64(&tx, &t->t_queued_ns, now);
	if (dcf_ring_push_tx(&tx, ring, s) == -1)
		return -1;
	/* No longer completed: queued again (I4). */
	dcf_tx_put64(&tx, &h->cnt.completed, h->cnt.completed - 1);
	dcf_tx_put64(&tx, &h->cnt.retried, h->cnt.retried + 1);
	dcf_tx_commit(&tx);
	bump_ring(sg, ring);
	return 0;
}

/* Node slot `node` as generation gen: EINVAL (no such node) or ESTALE (another gen). */
static struct dcf_node *
node_as(struct dcf_seg *sg, uint32_t node, uint32_t gen)
{
	if (node >= sg->cfg.max_nodes || sg->nodes[node].net >= sg->cfg.nets) {
		errno = EINVAL;
		return NULL;
	}
	/* A later generation runs there now: changing it would orphan its task. */
	if (sg->nodes[node].gen != gen) {
		errno = ESTALE;
		return NULL;
	}
	return &sg->nodes[node];
}

int
dcf_node_died_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen, uint32_t max_attempts,
    uint64_t now, struct dcf_reclaim *out)
{
	struct dcf_hdr *h = sg->hdr;
	struct dcf_node *nd;
	struct dcf_net *net;
	struct dcf_tx tx;
	uint32_t s;

	DCF_INJECT(DCF_OP_RECLAIM, DCF_STEP_LOCKED);
	memset(out, 0, sizeof(*out));
	if ((nd = node_as(sg, node, gen)) == NULL)
		return -1;
	net = &sg->nets[nd->net];
	dcf_tx_begin(&tx, sg, DCF_OP_RECLAIM);
	s = nd->task_slot;
	if (s < sg->cfg.task_slots && sg->tasks[s].state == DCF_TASK_RUNNING &&
	    sg->tasks[s].owner_node == node && sg->tasks[s].owner_gen == gen) {
		struct dcf_task *t = &sg->tasks[s];
		uint32_t attempts = t->attempts + 1;

		out->had_task = 1;
		out->id = t->id;
		out->attempts = attempts;
		out->slot = s;
		out->runs = t->runs;
		dcf_tx_put32(&tx, &t->attempts, attempts);
		dcf_tx_put64(&tx, &h->cnt.running, h->cnt.running - 1);
		if (attempts >= max_attempts) {
			out->quarantined = 1;
			dcf_tx_put32(&tx, &t->state, DCF_TASK_FREE);
			if (dcf_ring_push_tx(&tx, DCF_RING_FREE, s) == -1)
				return -1;
			dcf_tx_put64(&tx, &h->cnt.quarantined, h->cnt.quarantined + 1);
		} else {
			dcf_tx_put32(&tx, &t->state, DCF_TASK_QUEUED);
			dcf_tx_put32(&tx, &t->queue, DCF_RING_RECOVERY);
			dcf_tx_put64(&tx, &t->t_queued_ns, now);
			if (dcf_ring_push_tx(&tx, DCF_RING_RECOVERY, s) == -1)
				return -1;
			dcf_tx_put64(&tx, &h->cnt.reclaimed, h->cnt.reclaimed + 1);
		}
	}
	if (nd->sleeping)
		dcf_tx_put32(&tx, &net->sleepers, net->sleepers - 1);
	if (dcf_node_alive(nd->state))
		dcf_tx_put32(&tx, &net->alive, net->alive - 1);
	dcf_tx_put32(&tx, &nd->sleeping, 0);
	dcf_tx_put32(&tx, &nd->task_slot, DCF_NONE);
	dcf_tx_put32(&tx, &nd->state, DCF_NODE_DOWN);
	dcf_tx_put64(&tx, &nd->failures, nd->failures + 1);
	dcf_tx_put64(&tx, &h->cnt.failures, h->cnt.failures + 1);
	dcf_tx_commit(&tx);
	if (out->had_task && !out->quarantined)
		bump_ring(sg, DCF_RING_RECOVERY);
	return 0;
}

int
dcf_move_ring_locked(struct dcf_seg *sg, uint32_t from, uint32_t to, uint64_t now, uint64_t *id)
{
	struct dcf_tx tx;
	struct dcf_task *t;
	uint32_t s;

	DCF_INJECT(DCF_OP_MOVE, DCF_STEP_LOCKED);
	if (from < DCF_RING_RECOVERY || from >= sg->nrings || to < DCF_RING_RECOVERY ||
	    to >= sg->nrings || from == to) {
		errno = EINVAL;
		return -1;
	}
	dcf_tx_begin(&tx, sg, DCF_OP_MOVE);
	if (dcf_ring_pop_tx(&tx, from, &s) == -1)
		return -1;
	t = &sg->tasks[s];
	if (t->state != DCF_TASK_QUEUED || t->queue != from) {
		errno = EUCLEAN;
		return -1;
	}
	*id = t->id;
	dcf_tx_put32(&tx, &t->queue, to);
	dcf_tx_put64(&tx, &t->t_queued_ns, now);
	if (dcf_ring_push_tx(&tx, to, s) == -1)
		return -1;
	if (to == DCF_RING_RECOVERY)
		dcf_tx_put64(&tx, &sg->hdr->cnt.to_recovery, sg->hdr->cnt.to_recovery + 1);
	dcf_tx_commit(&tx);
	bump_ring(sg, to);
	return 0;
}

int
dcf_move_locked(struct dcf_seg *sg, uint32_t net, uint64_t now, uint64_t *id)
{
	if (net >= sg->cfg.nets) {
		errno = EINVAL;
		return -1;
	}
	return dcf_move_ring_locked(sg, DCF_RING_NET0 + net, DCF_RING_RECOVERY, now, id);
}

int
dcf_sleep_begin_locked(struct dcf_seg *sg, uint32_t node, uint32_t *word_val)
{
	struct dcf_node *nd;
	struct dcf_net *net;
	struct dcf_tx tx;

	DCF_INJECT(DCF_OP_SLEEP, DCF_STEP_LOCKED);
	if (node >= sg->cfg.max_nodes || sg->nodes[node].net >= sg->cfg.nets) {
		errno = EINVAL;
		return -1;
	}
	nd = &sg->nodes[node];
	net = &sg->nets[nd->net];
	*word_val = __atomic_load_n(&net->wake, __ATOMIC_ACQUIRE);
	if (nd->sleeping)
		return 0;
	dcf_tx_begin(&tx, sg, DCF_OP_SLEEP);
	dcf_tx_put32(&tx, &nd->sleeping, 1);
	dcf_tx_put32(&tx, &net->sleepers, net->sleepers + 1);
	dcf_tx_commit(&tx);
	return 0;
}

void
dcf_sleep_end_locked(struct dcf_seg *sg, uint32_t node)
{
	struct dcf_node *nd;
	struct dcf_net *net;
	struct dcf_tx tx;

	DCF_INJECT(DCF_OP_WAKE, DCF_STEP_LOCKED);
	if (node >= sg->cfg.max_nodes || sg->nodes[node].net >= sg->cfg.nets)
		return;
	nd = &sg->nodes[node];
	net = &sg->nets[nd->net];
	if (!nd->sleeping)
		return;
	/* One wake in flight has arrived (never below 0: a sleeper may also
	 * come back without a counted wake, its word having changed). */
	{
		uint32_t w = __atomic_load_n(&net->woken, __ATOMIC_RELAXED);

		while (w > 0 && !__atomic_compare_exchange_n(&net->woken, &w, w - 1, 0,
		                    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			;
	}
	dcf_tx_begin(&tx, sg, DCF_OP_WAKE);
	dcf_tx_put32(&tx, &nd->sleeping, 0);
	dcf_tx_put32(&tx, &net->sleepers, net->sleepers - 1);
	dcf_tx_commit(&tx);
}

int
dcf_node_start_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen, pid_t pid, int restart,
    uint64_t now)
{
	struct dcf_node *nd;
	struct dcf_net *net;
	struct dcf_tx tx;

	DCF_INJECT(DCF_OP_NODE, DCF_STEP_LOCKED);
	if (node >= sg->cfg.max_nodes || sg->nodes[node].net >= sg->cfg.nets) {
		errno = EINVAL;
		return -1;
	}
	nd = &sg->nodes[node];
	net = &sg->nets[nd->net];
	__atomic_store_n(&nd->heartbeat_ns, now, __ATOMIC_RELAXED);
	dcf_tx_begin(&tx, sg, DCF_OP_NODE);
	if (!dcf_node_alive(nd->state))
		dcf_tx_put32(&tx, &net->alive, net->alive + 1);
	dcf_tx_put32(&tx, &nd->state, DCF_NODE_STARTING);
	dcf_tx_put32(&tx, &nd->gen, gen);
	dcf_tx_put32(&tx, (uint32_t *)&nd->pid, (uint32_t)pid);
	dcf_tx_put32(&tx, &nd->task_slot, DCF_NONE);
	if (restart) {
		dcf_tx_put64(&tx, &nd->restarts, nd->restarts + 1);
		dcf_tx_put64(&tx, &sg->hdr->cnt.restarts, sg->hdr->cnt.restarts + 1);
	}
	dcf_tx_commit(&tx);
	return 0;
}

int
dcf_node_start_failed_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen, int restart)
{
	struct dcf_node *nd;
	struct dcf_net *net;
	struct dcf_tx tx;

	if ((nd = node_as(sg, node, gen)) == NULL)
		return -1;
	net = &sg->nets[nd->net];
	dcf_tx_begin(&tx, sg, DCF_OP_NODE);
	if (dcf_node_alive(nd->state))
		dcf_tx_put32(&tx, &net->alive, net->alive - 1);
	dcf_tx_put32(&tx, &nd->state, DCF_NODE_DOWN);
	dcf_tx_put32(&tx, (uint32_t *)&nd->pid, 0);
	if (restart && nd->restarts > 0 && sg->hdr->cnt.restarts > 0) {
		dcf_tx_put64(&tx, &nd->restarts, nd->restarts - 1);
		dcf_tx_put64(&tx, &sg->hdr->cnt.restarts, sg->hdr->cnt.restarts - 1);
	}
	dcf_tx_commit(&tx);
	return 0;
}

int
dcf_node_ready_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen, uint64_t now)
{
	struct dcf_node *nd;
	struct dcf_tx tx;

	if (node >= sg->cfg.max_nodes || sg->nodes[node].gen != gen) {
		errno = ESTALE;
		return -1;
	}
	nd = &sg->nodes[node];
	__atomic_store_n(&nd->heartbeat_ns, now, __ATOMIC_RELAXED);
	if (nd->state != DCF_NODE_STARTING)
		return 0;
	dcf_tx_begin(&tx, sg, DCF_OP_NODE);
	dcf_tx_put32(&tx, &nd->state, DCF_NODE_IDLE);
	dcf_tx_commit(&tx);
	return 0;
}

int
dcf_node_set_state_locked(struct dcf_seg *sg, uint32_t node, uint32_t state)
{
	struct dcf_node *nd;
	struct dcf_net *net;
	struct dcf_tx tx;

	if (node >= sg->cfg.max_nodes || sg->nodes[node].net >= sg->cfg.nets ||
	    dcf_node_alive(state)) {
		errno = EINVAL;
		return -1;
	}
	nd = &sg->nodes[node];
	net = &sg->nets[nd->net];
	dcf_tx_begin(&tx, sg, DCF_OP_NODE);
	if (dcf_node_alive(nd->state))
		dcf_tx_put32(&tx, &net->alive, net->alive - 1);
	if (nd->sleeping) {
		dcf_tx_put32(&tx, &net->sleepers, net->sleepers - 1);
		dcf_tx_put32(&tx, &nd->sleeping, 0);
	}
	dcf_tx_put32(&tx, &nd->state, state);
	dcf_tx_commit(&tx);
	return 0;
}
