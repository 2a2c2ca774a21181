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

/* Level lvl's ring for network net (DCF_NONE: its recovery ring). */
static uint32_t
ring_of(const struct dcf_seg *sg, uint32_t lvl, uint32_t net)
{
	return dcf_ring_of(sg->cfg.nets, lvl, net);
}

/* Which network's ring this is: 0 and *net (DCF_NONE: a recovery ring), or -1. */
static int
ring_net(const struct dcf_seg *sg, uint32_t ring, uint32_t *net)
{
	uint32_t lvl;

	return dcf_ring_what(sg->cfg.nets, ring, &lvl, net);
}

static int
is_recovery_ring(const struct dcf_seg *sg, uint32_t ring)
{
	uint32_t net;

	return ring_net(sg, ring, &net) == 0 && net == DCF_NONE;
}

/*
 * Where a queued task waits, at its level: the recovery ring or network
 * net's; a pinned one (dcf-submit --network) its own network's, always.
 */
static uint32_t
task_ring(const struct dcf_seg *sg, const struct dcf_task *t, int recovery, uint32_t net)
{
	uint32_t lvl = t->prio < DCF_LEVELS ? t->prio : DCF_LEVEL_DEFAULT;

	if (t->pin != 0 && t->pin <= sg->cfg.nets)
		return ring_of(sg, lvl, t->pin - 1);
	return ring_of(sg, lvl, recovery ? DCF_NONE : net);
}

/* Tasks queued at every level for network net's workers (their own rings and the recovery rings). */
static uint32_t
depth_for(struct dcf_seg *sg, uint32_t net)
{
	uint32_t d = 0;

	for (uint32_t l = 0; l < DCF_LEVELS; l++)
		d += dcf_ring_depth(&sg->rings[ring_of(sg, l, DCF_NONE)]) +
		    dcf_ring_depth(&sg->rings[ring_of(sg, l, net)]);
	return d;
}

/* Tell sleepers of ring that work came (under the lock: a hint, see wait.h). */
static void
bump_ring(struct dcf_seg *sg, uint32_t ring)
{
	uint32_t net;

	if (ring_net(sg, ring, &net) == -1)
		return; /* the delay ring: nobody claims from it */
	if (net != DCF_NONE) {
		__atomic_add_fetch(&sg->nets[net].wake, 1, __ATOMIC_RELEASE);
		return;
	}
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
	/*
	 * Long tasks, or not measured yet: always. The count of wakes in flight
	 * is a hint that can run high (a woken sleeper may check in before its
	 * waker counts it), and trusted here it would strand work behind
	 * workers busy for a long time.
	 */
	if (avg == 0 || avg >= SHORT_TASK_NS)
		return 1;
	/* Every sleeper already has a wake on its way: another finds nobody (short tasks: an
	 * awake worker is back for it at once, whatever the hint says). */
	if (__atomic_load_n(&net->woken, __ATOMIC_RELAXED) >= sleepers)
		return 0;
	if (width == 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		width = ncpu > 0 ? (uint32_t)ncpu : 1;
	}
	return alive - sleepers < width;
}

static int
has_sleepers(const struct dcf_seg *sg, uint32_t n)
{
	return __atomic_load_n(&sg->nets[n].sleepers, __ATOMIC_RELAXED) > 0;
}

/*
 * Wake one sleeper of network n, counted in woken before the wake (so the
 * one woken, checking in at once, finds its count there to take back) and
 * taken back if the kernel says nobody woke: a count left for a wake that
 * found nobody would strand sleepers (one between its check-in and its
 * futex wait).
 */
static void
wake_one(struct dcf_seg *sg, uint32_t n)
{
	uint32_t *woken = &sg->nets[n].woken, w;

	__atomic_add_fetch(woken, 1, __ATOMIC_RELAXED);
	if (dcf_futex_wake(&sg->nets[n].wake, 1) > 0)
		return;
	w = __atomic_load_n(woken, __ATOMIC_RELAXED);
	while (w > 0 &&
	    !__atomic_compare_exchange_n(woken, &w, w - 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void
dcf_books_wake_ring(struct dcf_seg *sg, uint32_t ring)
{
	uint32_t net;

	if (ring_net(sg, ring, &net) == -1)
		return;
	/* What they would claim: every level's work for them, not this ring's alone. */
	if (net != DCF_NONE) {
		if (has_sleepers(sg, net) && want_wake(sg, net, depth_for(sg, net)))
			wake_one(sg, net);
		return;
	}
	for (uint32_t n = 0; n < sg->cfg.nets; n++)
		if (has_sleepers(sg, n) && want_wake(sg, n, depth_for(sg, n)))
			wake_one(sg, n);
}

/* Every sleeper of network n. */
static void
wake_net_all(struct dcf_seg *sg, uint32_t n)
{
	__atomic_add_fetch(&sg->nets[n].wake, 1, __ATOMIC_RELEASE);
	dcf_futex_wake(&sg->nets[n].wake, INT_MAX);
	/* Everyone is awake or about to be: the count starts again. */
	__atomic_store_n(&sg->nets[n].woken, 0, __ATOMIC_RELAXED);
}

void
dcf_books_wake_all(struct dcf_seg *sg)
{
	for (uint32_t n = 0; n < sg->cfg.nets; n++)
		wake_net_all(sg, n);
}

int
dcf_set_paused_locked(struct dcf_seg *sg, uint32_t net, uint32_t paused)
{
	struct dcf_tx tx;
	uint32_t lo = net == DCF_NONE ? 0 : net, hi = net == DCF_NONE ? sg->cfg.nets : net + 1;

	if (net != DCF_NONE && net >= sg->cfg.nets) {
		errno = EINVAL;
		return -1;
	}
	dcf_tx_begin(&tx, sg, DCF_OP_NODE);
	for (uint32_t n = lo; n < hi; n++)
		dcf_tx_put32(&tx, &sg->nets[n].paused, paused ? 1 : 0);
	dcf_tx_commit(&tx);
	/* Resumed: its sleepers look again (a pause needs no wake: they find nothing). */
	for (uint32_t n = lo; n < hi && !paused; n++)
		wake_net_all(sg, n);
	return 0;
}

int
dcf_set_removed_locked(struct dcf_seg *sg, uint32_t net, uint32_t removed)
{
	struct dcf_tx tx;

	if (net >= sg->cfg.nets) {
		errno = EINVAL;
		return -1;
	}
	dcf_tx_begin(&tx, sg, DCF_OP_NODE);
	dcf_tx_put32(&tx, &sg->nets[net].removed, removed ? 1 : 0);
	dcf_tx_commit(&tx);
	return 0;
}

void
dcf_set_draining_locked(struct dcf_seg *sg)
{
	struct dcf_tx tx;

	dcf_tx_begin(&tx, sg, DCF_OP_NODE);
	dcf_tx_put32(&tx, &sg->hdr->draining, 1);
	dcf_tx_commit(&tx);
}

/* Every bound of a transaction below, against the journal's size (layout.h). */
_Static_assert(3 * DCF_BATCH_MAX + 8 + 9 * DCF_BATCH_MAX + 2 + 9 <= DCF_WAL_MAX,
    "a worker's complete + claim of DCF_BATCH_MAX each must fit the journal");
_Static_assert(4 * DCF_BATCH_MAX + 13 + 2 * DCF_LEVELS <= DCF_WAL_MAX,
    "a give-back must fit the journal");
_Static_assert(5 * DCF_BATCH_MAX + 15 + 2 * DCF_LEVELS <= DCF_WAL_MAX,
    "a death holding a batch must fit");
_Static_assert(4 * DCF_SUP_BATCH + 3 <= DCF_WAL_MAX, "a batched dispatch must fit the journal");
_Static_assert(2 * DCF_SUP_BATCH + 7 <= DCF_WAL_MAX, "a batched retire must fit the journal");

/*
 * Dispatch ids next_id .. next_id + n - 1 (n at most the free slots and the
 * ids left), id next_id + i queued on rings[i], payloads[i] copied into its
 * slot if payloads is given: one transaction, one pop of the free ring and
 * one push per ring named. Returns how many were dispatched.
 */
static int
dispatch_n(struct dcf_seg *sg, const uint32_t *rings, uint32_t n, uint64_t now,
    const void *const *payloads, const uint32_t *lens, const struct dcf_prior *prior,
    const uint64_t *ids)
{
	struct dcf_hdr *h = sg->hdr;
	struct dcf_tx tx;
	uint64_t id0 = h->cnt.next_id, to_recovery = 0, next = id0;
	uint32_t slots[DCF_SUP_BATCH], grp[DCF_SUP_BATCH], dist[DCF_SUP_BATCH], ndist = 0, got;

	DCF_INJECT(DCF_OP_DISPATCH, DCF_STEP_LOCKED);
	if (n == 0 || n > DCF_SUP_BATCH) {
		errno = EINVAL;
		return -1;
	}
	if (ids == NULL && id0 >= sg->cfg.tasks) {
		errno = ENODATA;
		return -1;
	}
	if (ids == NULL && n > sg->cfg.tasks - id0)
		n = (uint32_t)(sg->cfg.tasks - id0);
	for (uint32_t i = 0; i < n; i++) {
		if (ids != NULL && ids[i] >= sg->cfg.tasks) {
			errno = EINVAL;
			return -1;
		}
		if (rings[i] == DCF_RING_FREE || rings[i] == DCF_RING_DONE ||
		    rings[i] >= sg->nrings) {
			errno = EINVAL;
			return -1;
		}
		if (payloads != NULL && lens[i] > sg->cfg.payload_max) {
			errno = EMSGSIZE;
			return -1;
		}
		/* A pinned task only ever waits on its own network's rings (or out a delay). */
		if (prior != NULL && prior[i].pin != 0) {
			uint32_t lvl, net;

			if (prior[i].pin > sg->cfg.nets ||
			    (rings[i] != dcf_delay_ring(sg) &&
			        (dcf_ring_what(sg->cfg.nets, rings[i], &lvl, &net) == -1 ||
			            net != prior[i].pin - 1))) {
				errno = EINVAL;
				return -1;
			}
		}
	}
	dcf_tx_begin(&tx, sg, DCF_OP_DISPATCH);
	if (dcf_ring_pop_n_tx(&tx, DCF_RING_FREE, slots, n, &got) == -1)
		return errno == ENOENT ? (errno = ENOSPC, -1) : -1;
	n = got;
	for (uint32_t i = 0; i < n; i++) {
		struct dcf_task *t = &sg->tasks[slots[i]];
		uint64_t id = ids != NULL ? ids[i] : id0 + i;
		uint32_t len = payloads != NULL ? lens[i] : 0;

		if (t->state != DCF_TASK_FREE) {
			errno = EUCLEAN;
			return -1;
		}
		/* The slot is free: its fields and payload may be written before the commit. */
		t->id = id;
		t->kind = sg->cfg.work;
		{
			uint32_t lvl, net;

			t->prio = dcf_ring_what(sg->cfg.nets, rings[i], &lvl, &net) == 0
			    ? lvl
			    : DCF_LEVEL_DEFAULT;
		}
		t->arg_ms = sg->cfg.work >= DCF_WORK_CMD ? 0 : dcf_task_ms(&sg->cfg, id);
		t->attempts = prior != NULL ? prior[i].attempts : 0;
		t->result = 0;
		t->owner_node = DCF_NONE;
		t->owner_gen = 0;
		t->owner_pid = 0;
		t->t_queued_ns = now;
		t->t_started_ns = 0;
		if (len > 0)
			memcpy(dcf_payload(sg, slots[i]), payloads[i], len);
		t->payload_len = len;
		t->runs = prior != NULL ? prior[i].runs : 0;
		t->tries = prior != NULL ? prior[i].tries : 0;
		t->timeout_ms = prior != NULL ? prior[i].timeout_ms : 0;
		t->retries = prior != NULL ? prior[i].retries : sg->cfg.retries;
		t->pin = prior != NULL ? prior[i].pin : 0;
		t->argv_len = prior != NULL && prior[i].argv_len > 0 && prior[i].argv_len <= len
		    ? prior[i].argv_len
		    : len;
		t->next_owned = DCF_NONE;
		t->flags = 0; /* a cancel was the slot's last task's */
		if (id >= next)
			next = id + 1;
		memset(&t->out, 0, sizeof(t->out));
		dcf_tx_put32(&tx, &t->queue, rings[i]);
		dcf_tx_put32(&tx, &t->state, DCF_TASK_QUEUED);
		to_recovery += (uint64_t)is_recovery_ring(sg, rings[i]);
		if (ndist == 0 || dist[ndist - 1] != rings[i]) {
			uint32_t d = 0;

			while (d < ndist && dist[d] != rings[i])
				d++;
			if (d == ndist)
				dist[ndist++] = rings[i];
		}
	}
	/* One push per ring, its slots in id order. */
	for (uint32_t d = 0; d < ndist; d++) {
		uint32_t k = 0;

		for (uint32_t i = 0; i < n; i++)
			if (rings[i] == dist[d])
				grp[k++] = slots[i];
		if (dcf_ring_push_n_tx(&tx, dist[d], grp, k) == -1)
			return -1;
	}
	dcf_tx_put64(&tx, &h->cnt.next_id, ids != NULL ? next : id0 + n);
	dcf_tx_put64(&tx, &h->cnt.dispatched, h->cnt.dispatched + n);
	if (to_recovery > 0)
		dcf_tx_put64(&tx, &h->cnt.to_recovery, h->cnt.to_recovery + to_recovery);
	dcf_tx_commit(&tx);
	for (uint32_t d = 0; d < ndist; d++)
		bump_ring(sg, dist[d]);
	return (int)n;
}

int
dcf_dispatch_n_locked(struct dcf_seg *sg, const uint32_t *rings, uint32_t n, uint64_t now)
{
	return dispatch_n(sg, rings, n, now, NULL, NULL, NULL, NULL);
}

int
dcf_dispatch_cmd_n_locked(struct dcf_seg *sg, const uint32_t *rings, uint32_t n, uint64_t now,
    const void *const *payloads, const uint32_t *lens, const struct dcf_prior *prior)
{
	return dispatch_n(sg, rings, n, now, payloads, lens, prior, NULL);
}

int
dcf_dispatch_ids_locked(struct dcf_seg *sg, const uint32_t *rings, uint32_t n, uint64_t now,
    const void *const *payloads, const uint32_t *lens, const struct dcf_prior *prior,
    const uint64_t *ids)
{
	return dispatch_n(sg, rings, n, now, payloads, lens, prior, ids);
}

int
dcf_dispatch_locked(struct dcf_seg *sg, uint32_t ring, uint64_t now)
{
	return dispatch_n(sg, &ring, 1, now, NULL, NULL, NULL, NULL) == -1 ? -1 : 0;
}

int
dcf_dispatch_cmd_locked(struct dcf_seg *sg, uint32_t ring, uint64_t now, const void *payload,
    uint32_t payload_len)
{
	return dispatch_n(sg, &ring, 1, now, &payload, &payload_len, NULL, NULL) == -1 ? -1 : 0;
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

/*
 * A batch's size: how many tasks a worker of node's network should claim at
 * once. Batching saves a lock round trip per task, but a task claimed
 * waits behind those before it in its worker's hand, so:
 *  - commands, tasks not measured yet, and tasks longer than
 *    BATCH_BUDGET_NS: one at a time (a long task must not hold short ones
 *    hostage);
 *  - shorter ones: about BATCH_BUDGET_NS of work, up to kmax
 *    (DCF_BATCH_MAX at most);
 *  - never more than the worker's share of what is queued for it, so one
 *    worker does not take everything while others are awake.
 * A wrong guess costs time, never a task: a batch whose tasks wait too long
 * behind a slow one is given back (dcf_give_back_locked).
 */
#define BATCH_BUDGET_NS 50000ULL

uint32_t
dcf_batch_size_locked(struct dcf_seg *sg, uint32_t node, uint32_t kmax)
{
	const struct dcf_net *net;
	uint64_t avg, k;
	uint32_t depth, alive, sleepers, awake, fair;

	if (kmax == 0 || kmax > DCF_BATCH_MAX)
		kmax = DCF_BATCH_MAX;
	if (kmax == 1 || node >= sg->cfg.max_nodes || sg->nodes[node].net >= sg->cfg.nets ||
	    sg->cfg.work == DCF_WORK_CMD)
		return 1;
	net = &sg->nets[sg->nodes[node].net];
	avg = net->run_avg_ns;
	if (avg == 0 || avg >= BATCH_BUDGET_NS)
		return 1;
	k = BATCH_BUDGET_NS / avg;
	if (k > kmax)
		k = kmax;
	depth = depth_for(sg, sg->nodes[node].net);
	alive = net->alive;
	sleepers = net->sleepers;
	awake = alive > sleepers ? alive - sleepers : 1;
	fair = depth / awake + (depth % awake != 0);
	if (k > fair)
		k = fair;
	return k > 0 ? (uint32_t)k : 1;
}

/*
 * Check that fin lists the first fin->n slots of node's chain, in order,
 * each RUNNING with its id and owned by (node, gen). *rest: the slot after
 * them (DCF_NONE: the whole chain). ESTALE otherwise.
 */
static int
chain_prefix(struct dcf_seg *sg, const struct dcf_node *nd, uint32_t node, uint32_t gen,
    const struct dcf_finished *fin, uint32_t *rest)
{
	uint32_t s = nd->task_slot;

	if (fin->n > nd->held) {
		errno = ESTALE;
		return -1;
	}
	for (uint32_t i = 0; i < fin->n; i++) {
		const struct dcf_task *t;

		if (s >= sg->cfg.task_slots || fin->slot[i] != s) {
			errno = ESTALE;
			return -1;
		}
		t = &sg->tasks[s];
		if (t->state != DCF_TASK_RUNNING || t->id != fin->id[i] || t->owner_node != node ||
		    t->owner_gen != gen) {
			errno = ESTALE;
			return -1;
		}
		s = t->next_owned;
	}
	*rest = s;
	return 0;
}

/* In tx: fin's tasks DONE with their results, on the done ring; the node's and network's counts. */
static int
complete_tx(struct dcf_seg *sg, struct dcf_tx *tx, struct dcf_node *nd,
    const struct dcf_finished *fin, uint64_t now)
{
	struct dcf_net *net = &sg->nets[nd->net];
	uint64_t avg = net->run_avg_ns, run;

	for (uint32_t i = 0; i < fin->n; i++) {
		struct dcf_task *t = &sg->tasks[fin->slot[i]];

		dcf_tx_put32(tx, &t->state, DCF_TASK_DONE);
		dcf_tx_put64(tx, &t->result, fin->result[i]);
	}
	if (dcf_ring_push_n_tx(tx, DCF_RING_DONE, fin->slot, fin->n) == -1)
		return -1;
	dcf_tx_put64(tx, &nd->completed, nd->completed + fin->n);
	dcf_tx_put64(tx, &net->completed, net->completed + fin->n);
	/* The run time's moving average (1/8 weight), per task of the batch: for
	 * want_wake and the next batch's size. */
	run = now > fin->start_ns ? (now - fin->start_ns) / fin->n : 0;
	avg = avg == 0 ? run + 1 : avg - avg / 8 + run / 8;
	dcf_tx_put64(tx, &net->run_avg_ns, avg ? avg : 1);
	return 0;
}

/*
 * In tx: pop up to k queued tasks, from the highest level down, at each the
 * recovery ring's first, then the network's, and make them RUNNING for
 * (node, gen), chained in that order. Returns how many (0: none queued), or
 * -1.
 */
static int
claim_tx(struct dcf_seg *sg, struct dcf_tx *tx, uint32_t node, uint32_t gen, pid_t pid,
    uint64_t now, uint32_t k, struct dcf_claims *out)
{
	uint32_t slots[DCF_BATCH_MAX], m = 0, got, net = sg->nodes[node].net;

	/* A paused network's workers take nothing, as if nothing were queued. */
	if (sg->nets[net].paused)
		return 0;
	for (uint32_t r = 0; r < 2 * DCF_LEVELS && m < k; r++) {
		uint32_t lvl = DCF_LEVELS - 1 - r / 2,
		         ring = ring_of(sg, lvl, r % 2 ? net : DCF_NONE);

		if (dcf_ring_pop_n_tx(tx, ring, slots + m, k - m, &got) == -1) {
			if (errno != ENOENT)
				return -1;
			continue;
		}
		for (uint32_t j = m; j < m + got; j++) {
			const struct dcf_task *t = &sg->tasks[slots[j]];

			if (t->state != DCF_TASK_QUEUED || t->queue != ring || t->prio != lvl) {
				errno = EUCLEAN;
				return -1;
			}
			out->t[j].from_recovery = r % 2 == 0;
		}
		m += got;
	}
	for (uint32_t j = 0; j < m; j++) {
		struct dcf_task *t = &sg->tasks[slots[j]];
		struct dcf_claim *c = &out->t[j];

		dcf_tx_put32(tx, &t->state, DCF_TASK_RUNNING);
		dcf_tx_put32(tx, &t->queue, DCF_NONE);
		dcf_tx_put32(tx, &t->owner_node, node);
		dcf_tx_put32(tx, &t->owner_gen, gen);
		dcf_tx_put32(tx, (uint32_t *)&t->owner_pid, (uint32_t)pid);
		dcf_tx_put64(tx, &t->t_started_ns, now);
		dcf_tx_put32(tx, &t->runs, t->runs + 1);
		dcf_tx_put32(tx, &t->flags,
		    (t->flags & DCF_TASK_F_CANCELLED) |
		        (c->from_recovery ? DCF_TASK_F_RECOVERY : 0));
		dcf_tx_put32(tx, &t->next_owned, j + 1 < m ? slots[j + 1] : DCF_NONE);
		c->slot = slots[j];
		c->id = t->id;
		c->kind = t->kind;
		c->arg_ms = t->arg_ms;
		c->attempts = t->attempts;
		c->runs = t->runs + 1;
		c->tries = t->tries;
		c->chain = 0;
		c->wake_sup = 0;
	}
	return (int)m;
}

int
dcf_complete_claim_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen, pid_t pid, uint64_t now,
    const struct dcf_finished *fin, uint32_t k, struct dcf_claims *out)
{
	static const struct dcf_finished none = {0};
	struct dcf_hdr *h = sg->hdr;
	struct dcf_node *nd;
	struct dcf_tx tx;
	uint32_t n, rest = DCF_NONE, m = 0, wake_for;
	int op, r;

	if (fin == NULL)
		fin = &none;
	n = fin->n;
	op = n > 0 ? (k > 0 ? DCF_OP_TURN : DCF_OP_COMPLETE) : DCF_OP_CLAIM;
	/* Lock held, nothing written: about to complete, and to claim or turn. */
	if (n > 0)
		DCF_INJECT(DCF_OP_COMPLETE, DCF_STEP_LOCKED);
	if (k > 0)
		DCF_INJECT(op, DCF_STEP_LOCKED);
	out->n = 0;
	out->chain = 0;
	out->wake_sup = 0;
	out->stopping = 0;
	if (node >= sg->cfg.max_nodes || sg->nodes[node].gen != gen) {
		errno = ESTALE;
		return -1;
	}
	nd = &sg->nodes[node];
	if (nd->net >= sg->cfg.nets) {
		errno = EUCLEAN;
		return -1;
	}
	if (n > DCF_BATCH_MAX || k > DCF_BATCH_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (chain_prefix(sg, nd, node, gen, fin, &rest) == -1)
		return -1;
	/* Tasks held and not reported finished are given back, never dropped. */
	if (rest != DCF_NONE && (n > 0 || k > 0)) {
		errno = n > 0 ? EINVAL : EBUSY;
		return -1;
	}
	if (__atomic_load_n(&h->sys_state, __ATOMIC_ACQUIRE) != DCF_SYS_RUNNING || nd->retire) {
		out->stopping = 1;
		if (n == 0) {
			errno = ESHUTDOWN;
			return -1;
		}
		k = 0;
	}
	dcf_tx_begin(&tx, sg, (uint32_t)op);
	if (k > 0) {
		if ((r = claim_tx(sg, &tx, node, gen, pid, now, k, out)) == -1)
			return -1;
		m = (uint32_t)r;
	}
	if (n == 0 && m == 0) {
		errno = ENOENT;
		return -1;
	}
	if (n > 0 && complete_tx(sg, &tx, nd, fin, now) == -1)
		return -1;
	if (m > 0) {
		const struct dcf_claim *c0 = &out->t[0];

		/* Not stored when they stay as they are: BUSY, busy again. */
		if (n == 0)
			dcf_tx_put32(&tx, &nd->state, DCF_NODE_BUSY);
		dcf_tx_put32(&tx, &nd->task_slot, c0->slot);
		dcf_tx_put32(&tx, &nd->run_slot, c0->slot);
		dcf_tx_put64(&tx, &nd->task_id, c0->id);
		dcf_tx_put64(&tx, &nd->busy_since_ns, now);
		dcf_tx_put32(&tx, &nd->from_recovery, (uint32_t)c0->from_recovery);
		dcf_tx_put64(&tx, &h->cnt.claims, h->cnt.claims + m);
	} else {
		dcf_tx_put32(&tx, &nd->state, DCF_NODE_IDLE);
		dcf_tx_put32(&tx, &nd->task_slot, DCF_NONE);
		dcf_tx_put32(&tx, &nd->run_slot, DCF_NONE);
	}
	if (m != n) {
		dcf_tx_put32(&tx, &nd->held, m);
		dcf_tx_put64(&tx, &h->cnt.running, h->cnt.running + m - n);
	}
	if (n > 0)
		dcf_tx_put64(&tx, &h->cnt.completed, h->cnt.completed + n);
	/*
	 * A sleeping supervisor wants completions, and claims too when it logs
	 * starts. For short tasks it asks for a batch of completions
	 * (sup_wake_done) rather than each: it hears when the done ring holds
	 * that many, or when this worker found nothing more to claim (the queue
	 * is dry: it must refill, and whoever waits for the last results gets
	 * them), so a wake-up is never put off past the work in hand.
	 */
	wake_for = n > 0 || m > 0 ? DCF_SUP_WAKE_CLAIM : 0;
	if (n > 0 &&
	    (m == 0 || h->sup_wake_done <= 1 ||
	        dcf_ring_depth(&sg->rings[DCF_RING_DONE]) + n >= h->sup_wake_done))
		wake_for |= DCF_SUP_WAKE_DONE;
	if (h->sup_waiting & wake_for) {
		dcf_tx_put32(&tx, &h->sup_waiting, 0);
		out->wake_sup = 1;
	}
	tx.op = (uint32_t)(n > 0 && m > 0 ? DCF_OP_TURN : n > 0 ? DCF_OP_COMPLETE : DCF_OP_CLAIM);
	dcf_tx_commit(&tx);
	__atomic_store_n(&nd->heartbeat_ns, now, __ATOMIC_RELAXED);
	out->n = m;
	if (m > 0 && has_sleepers(sg, nd->net))
		out->chain = want_wake(sg, nd->net, depth_for(sg, nd->net));
	return 0;
}

int
dcf_give_back_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen, uint64_t now,
    const struct dcf_finished *fin, struct dcf_given *out)
{
	struct dcf_hdr *h = sg->hdr;
	struct dcf_node *nd;
	struct dcf_tx tx;
	uint32_t back[DCF_BATCH_MAX], ring[DCF_BATCH_MAX], grp[DCF_BATCH_MAX], s, r;
	uint32_t nrec = 0, nown = 0;

	DCF_INJECT(DCF_OP_GIVEBACK, DCF_STEP_LOCKED);
	memset(out, 0, sizeof(*out));
	if (node >= sg->cfg.max_nodes || sg->nodes[node].gen != gen) {
		errno = ESTALE;
		return -1;
	}
	nd = &sg->nodes[node];
	if (nd->net >= sg->cfg.nets || fin->n > DCF_BATCH_MAX) {
		errno = fin->n > DCF_BATCH_MAX ? EINVAL : EUCLEAN;
		return -1;
	}
	if (chain_prefix(sg, nd, node, gen, fin, &s) == -1)
		return -1;
	/* The rest of the chain, never started: back where each came from. */
	for (r = 0; s != DCF_NONE; r++) {
		const struct dcf_task *t;

		if (s >= sg->cfg.task_slots || fin->n + r >= nd->held) {
			errno = EUCLEAN;
			return -1;
		}
		t = &sg->tasks[s];
		if (t->state != DCF_TASK_RUNNING || t->owner_node != node || t->owner_gen != gen) {
			errno = EUCLEAN;
			return -1;
		}
		back[r] = s;
		ring[r] = task_ring(sg, t, (t->flags & DCF_TASK_F_RECOVERY) != 0, nd->net);
		if (t->flags & DCF_TASK_F_RECOVERY)
			nrec++;
		else
			nown++;
		s = t->next_owned;
	}
	if (r == 0) {
		errno = ENOENT; /* nothing to give back: a plain completion */
		return -1;
	}
	dcf_tx_begin(&tx, sg, DCF_OP_GIVEBACK);
	if (fin->n > 0 && complete_tx(sg, &tx, nd, fin, now) == -1)
		return -1;
	for (uint32_t i = 0; i < r; i++) {
		struct dcf_task *t = &sg->tasks[back[i]];

		dcf_tx_put32(&tx, &t->state, DCF_TASK_QUEUED);
		dcf_tx_put32(&tx, &t->queue, ring[i]);
		/* It never ran: this claim was not a run. */
		if (t->runs > 0)
			dcf_tx_put32(&tx, &t->runs, t->runs - 1);
	}
	/* In front of what was queued behind them, ring by ring, in the order
	 * claimed: they were first in line. */
	for (uint32_t i = 0; i < r; i++) {
		uint32_t k = 0;
		int seen = 0;

		for (uint32_t j = 0; j < i && !seen; j++)
			seen = ring[j] == ring[i];
		if (seen)
			continue;
		for (uint32_t j = i; j < r; j++)
			if (ring[j] == ring[i])
				grp[k++] = back[j];
		if (dcf_ring_unpop_n_tx(&tx, ring[i], grp, k) == -1)
			return -1;
	}
	dcf_tx_put32(&tx, &nd->state, DCF_NODE_IDLE);
	dcf_tx_put32(&tx, &nd->task_slot, DCF_NONE);
	dcf_tx_put32(&tx, &nd->run_slot, DCF_NONE);
	dcf_tx_put32(&tx, &nd->held, 0);
	dcf_tx_put64(&tx, &h->cnt.running, h->cnt.running - fin->n - r);
	if (fin->n > 0) {
		dcf_tx_put64(&tx, &h->cnt.completed, h->cnt.completed + fin->n);
		if (h->sup_waiting) {
			dcf_tx_put32(&tx, &h->sup_waiting, 0);
			out->wake_sup = 1;
		}
	}
	dcf_tx_commit(&tx);
	for (uint32_t i = 0; i < r; i++)
		if (i == 0 || ring[i] != ring[i - 1])
			bump_ring(sg, ring[i]);
	out->returned = r;
	out->to_recovery = nrec;
	out->to_own = nown;
	return 0;
}

int
dcf_claim_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen, pid_t pid, uint64_t now,
    struct dcf_claim *out)
{
	struct dcf_claims cs;

	if (dcf_complete_claim_locked(sg, node, gen, pid, now, NULL, 1, &cs) == -1)
		return -1;
	*out = cs.t[0];
	out->chain = cs.chain;
	out->wake_sup = cs.wake_sup;
	return 0;
}

int
dcf_complete_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen, uint32_t slot, uint64_t id,
    uint64_t result, int *wake_sup)
{
	struct dcf_finished fin;
	struct dcf_claims cs;

	*wake_sup = 0;
	if (node >= sg->cfg.max_nodes || slot >= sg->cfg.task_slots) {
		DCF_INJECT(DCF_OP_COMPLETE, DCF_STEP_LOCKED);
		errno = EINVAL;
		return -1;
	}
	fin.n = 1;
	fin.slot[0] = slot;
	fin.id[0] = id;
	fin.result[0] = result;
	fin.start_ns = sg->tasks[slot].t_started_ns;
	if (dcf_complete_claim_locked(sg, node, gen, 0, dcf_now_ns(), &fin, 0, &cs) == -1)
		return -1;
	*wake_sup = cs.wake_sup;
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
	out->retries = t->retries;
	out->attempts = t->attempts;
	out->out = t->out;
	out->node = t->owner_node;
	out->gen = t->owner_gen;
	out->from_recovery = (t->flags & DCF_TASK_F_RECOVERY) != 0;
	out->killed = (t->flags & DCF_TASK_F_KILLED) != 0;
	out->kind = t->kind;
	out->arg_ms = t->arg_ms;
	out->result = t->result;
}

int
dcf_cancel_locked(struct dcf_seg *sg, uint64_t id, struct dcf_done *out)
{
	for (uint32_t s = 0; s < sg->cfg.task_slots; s++) {
		struct dcf_task *t = &sg->tasks[s];
		struct dcf_tx tx;

		if (t->state == DCF_TASK_FREE || t->id != id)
			continue;
		if (t->state != DCF_TASK_QUEUED) {
			errno = t->state == DCF_TASK_RUNNING ? EBUSY : EALREADY;
			return -1;
		}
		if (t->flags & DCF_TASK_F_CANCELLED) {
			errno = ECANCELED;
			return -1;
		}
		dcf_tx_begin(&tx, sg, DCF_OP_NODE);
		dcf_tx_put32(&tx, &t->flags, t->flags | DCF_TASK_F_CANCELLED);
		dcf_tx_commit(&tx);
		tell_done(t, s, out);
		return 0;
	}
	errno = ENOENT;
	return -1;
}

/* Every bound of the move below. */
#define REPRIO_MOVES (DCF_WAL_MAX - 8)

int
dcf_reprio_locked(struct dcf_seg *sg, uint64_t id, uint32_t lvl)
{
	uint32_t s, from, to, olvl, net, pos, v;
	struct dcf_task *t = NULL;
	struct dcf_tx tx;

	if (lvl >= DCF_LEVELS) {
		errno = EINVAL;
		return -1;
	}
	for (s = 0; s < sg->cfg.task_slots && t == NULL; s++)
		if (sg->tasks[s].state != DCF_TASK_FREE && sg->tasks[s].id == id)
			t = &sg->tasks[s];
	if (t == NULL) {
		errno = ENOENT;
		return -1;
	}
	s--;
	if (t->state != DCF_TASK_QUEUED) {
		errno = t->state == DCF_TASK_RUNNING ? EBUSY : EALREADY;
		return -1;
	}
	from = t->queue;
	if (from == dcf_delay_ring(sg)) {
		dcf_tx_begin(&tx, sg, DCF_OP_MOVE);
		dcf_tx_put32(&tx, &t->prio, lvl);
		dcf_tx_commit(&tx);
		return 0;
	}
	if (dcf_ring_what(sg->cfg.nets, from, &olvl, &net) == -1) {
		errno = EUCLEAN;
		return -1;
	}
	if (olvl == lvl)
		return 0;
	to = ring_of(sg, lvl, net);
	for (pos = 0; dcf_ring_peek(sg, from, pos, &v) == 0 && v != s; pos++)
		;
	if (v != s) {
		errno = EUCLEAN;
		return -1;
	}
	dcf_tx_begin(&tx, sg, DCF_OP_MOVE);
	if (dcf_ring_remove_tx(&tx, from, pos, REPRIO_MOVES) == -1 ||
	    dcf_ring_push_tx(&tx, to, s) == -1)
		return -1;
	dcf_tx_put32(&tx, &t->queue, to);
	dcf_tx_put32(&tx, &t->prio, lvl);
	dcf_tx_commit(&tx);
	bump_ring(sg, to);
	return 0;
}

const struct dcf_task *
dcf_done_peek_locked(struct dcf_seg *sg, uint32_t i)
{
	uint32_t s;

	if (dcf_ring_peek(sg, DCF_RING_DONE, i, &s) == -1 || s >= sg->cfg.task_slots)
		return NULL;
	return &sg->tasks[s];
}

const struct dcf_task *
dcf_done_head_locked(struct dcf_seg *sg)
{
	return dcf_done_peek_locked(sg, 0);
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

/* One sample, after a commit, outside the journal (layout.h, dcf_hist). */
static void
hist_add(struct dcf_hist *hi, uint64_t ns)
{
	unsigned b = 0;

	while (b < DCF_HIST_BUCKETS - 1 && ns > dcf_hist_bound_ns(b))
		b++;
	__atomic_store_n(&hi->bucket[b], hi->bucket[b] + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&hi->sum_ns, hi->sum_ns + ns, __ATOMIC_RELAXED);
}

int
dcf_retire_n_locked(struct dcf_seg *sg, uint32_t max, struct dcf_done *out, uint32_t *n)
{
	struct dcf_hdr *h = sg->hdr;
	struct dcf_tx tx;
	uint32_t slots[DCF_SUP_BATCH], got;
	uint64_t ok = 0, timed_out = 0, failed = 0, cancelled = 0;
	uint64_t run_ns[DCF_SUP_BATCH], wait_ns[DCF_SUP_BATCH];

	DCF_INJECT(DCF_OP_RETIRE, DCF_STEP_LOCKED);
	*n = 0;
	if (max == 0 || max > DCF_SUP_BATCH) {
		errno = EINVAL;
		return -1;
	}
	dcf_tx_begin(&tx, sg, DCF_OP_RETIRE);
	if (dcf_ring_pop_n_tx(&tx, DCF_RING_DONE, slots, max, &got) == -1)
		return -1;
	for (uint32_t i = 0; i < got; i++) {
		struct dcf_task *t = &sg->tasks[slots[i]];

		if (t->state != DCF_TASK_DONE) {
			errno = EUCLEAN;
			return -1;
		}
		tell_done(t, slots[i], &out[i]);
		run_ns[i] = t->out.run_ns;
		wait_ns[i] =
		    t->t_started_ns > t->t_queued_ns ? t->t_started_ns - t->t_queued_ns : 0;
		switch (t->out.how) {
		case DCF_HOW_NONE:
		case DCF_HOW_OK:
			ok++;
			break;
		case DCF_HOW_TIMEOUT:
			timed_out++;
			break;
		case DCF_HOW_CANCELLED:
			cancelled++;
			break;
		default:
			failed++;
			break;
		}
		dcf_tx_put32(&tx, &t->state, DCF_TASK_FREE);
	}
	if (dcf_ring_push_n_tx(&tx, DCF_RING_FREE, slots, got) == -1)
		return -1;
	dcf_tx_put64(&tx, &h->cnt.retired, h->cnt.retired + got);
	if (ok > 0)
		dcf_tx_put64(&tx, &h->cnt.succeeded, h->cnt.succeeded + ok);
	if (timed_out > 0)
		dcf_tx_put64(&tx, &h->cnt.timed_out, h->cnt.timed_out + timed_out);
	if (failed > 0)
		dcf_tx_put64(&tx, &h->cnt.failed, h->cnt.failed + failed);
	if (cancelled > 0)
		dcf_tx_put64(&tx, &h->cnt.cancelled, h->cnt.cancelled + cancelled);
	dcf_tx_commit(&tx);
	for (uint32_t i = 0; i < got; i++) {
		hist_add(&h->h_run, run_ns[i]);
		hist_add(&h->h_wait, wait_ns[i]);
	}
	*n = got;
	return 0;
}

int
dcf_retire_locked(struct dcf_seg *sg, struct dcf_done *out)
{
	uint32_t n;

	return dcf_retire_n_locked(sg, 1, out, &n);
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

/*
 * The tasks node's chain holds, in order, each RUNNING and owned by (node,
 * gen); a chain that breaks off is cut there (the rest is not its). Returns
 * how many.
 */
static uint32_t
chain_of(struct dcf_seg *sg, const struct dcf_node *nd, uint32_t node, uint32_t gen,
    uint32_t *chain)
{
	uint32_t s = nd->task_slot, n = 0;

	while (n < DCF_BATCH_MAX && s < sg->cfg.task_slots) {
		const struct dcf_task *t = &sg->tasks[s];

		if (t->state != DCF_TASK_RUNNING || t->owner_node != node || t->owner_gen != gen)
			break;
		chain[n++] = s;
		s = t->next_owned;
	}
	return n;
}

int
dcf_node_died_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen, uint32_t max_attempts,
    uint64_t now, struct dcf_reclaim *out)
{
	struct dcf_hdr *h = sg->hdr;
	struct dcf_node *nd;
	struct dcf_net *net;
	struct dcf_tx tx;
	uint32_t chain[DCF_BATCH_MAX], back[DCF_BATCH_MAX], grp[DCF_BATCH_MAX], nc, nback = 0;
	uint32_t ri = 0, run, lvls = 0;

	DCF_INJECT(DCF_OP_RECLAIM, DCF_STEP_LOCKED);
	memset(out, 0, sizeof(*out));
	if ((nd = node_as(sg, node, gen)) == NULL)
		return -1;
	net = &sg->nets[nd->net];
	nc = chain_of(sg, nd, node, gen, chain);
	/*
	 * Which of its tasks was running: the worker moves run_slot along its
	 * chain without the lock, storing it before it starts each task, and
	 * is its only writer while alive; we are called after reaping it, so
	 * its last store is what we read, and no later one can come. A kill
	 * between finishing task i and storing i + 1 charges i, one that
	 * finished (as a worker that dies before its completion's commit is
	 * charged today); a kill after the store and before i + 1 starts
	 * charges i + 1 (as a worker that dies right after its claim): one
	 * attempt charged for one death, never two, never none. A value not
	 * on the chain (the stores are aligned words: it cannot be torn, but
	 * the books may be damaged) charges the head.
	 */
	run = __atomic_load_n(&nd->run_slot, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < nc; i++)
		if (chain[i] == run)
			ri = i;
	dcf_tx_begin(&tx, sg, DCF_OP_RECLAIM);
	for (uint32_t i = 0; i < nc; i++) {
		struct dcf_task *t = &sg->tasks[chain[i]];

		if (i == ri) {
			uint32_t attempts = t->attempts + (max_attempts != DCF_DEATH_UNCHARGED);

			out->had_task = 1;
			out->id = t->id;
			out->attempts = attempts;
			out->slot = chain[i];
			out->runs = t->runs;
			dcf_tx_put32(&tx, &t->attempts, attempts);
			if (max_attempts != DCF_DEATH_UNCHARGED && attempts >= max_attempts) {
				out->quarantined = 1;
				dcf_tx_put32(&tx, &t->state, DCF_TASK_FREE);
				if (dcf_ring_push_tx(&tx, DCF_RING_FREE, chain[i]) == -1)
					return -1;
				dcf_tx_put64(&tx, &h->cnt.quarantined, h->cnt.quarantined + 1);
				continue;
			}
			dcf_tx_put64(&tx, &h->cnt.reclaimed, h->cnt.reclaimed + 1);
		} else if (i > ri && t->runs > 0) {
			/* Held, never started: that claim was not a run. Those before
			 * the running one ran and were not reported: they run again. */
			dcf_tx_put32(&tx, &t->runs, t->runs - 1);
		}
		dcf_tx_put32(&tx, &t->state, DCF_TASK_QUEUED);
		dcf_tx_put32(&tx, &t->queue, task_ring(sg, t, 1, nd->net));
		dcf_tx_put64(&tx, &t->t_queued_ns, now);
		back[nback++] = chain[i];
	}
	/*
	 * Each to the tail of its level's recovery ring, in the order it held
	 * them; a pinned one to the head of its own network's ring of its level,
	 * ahead of the new ones there (no other network may take it).
	 */
	for (uint32_t i = 0; i < nback; i++) {
		uint32_t r = task_ring(sg, &sg->tasks[back[i]], 1, nd->net), k = 0, lvl, rnet;
		int seen = 0;

		for (uint32_t j = 0; j < i && !seen; j++)
			seen = task_ring(sg, &sg->tasks[back[j]], 1, nd->net) == r;
		if (seen)
			continue;
		for (uint32_t j = i; j < nback; j++)
			if (task_ring(sg, &sg->tasks[back[j]], 1, nd->net) == r)
				grp[k++] = back[j];
		if (dcf_ring_what(sg->cfg.nets, r, &lvl, &rnet) == -1) {
			errno = EUCLEAN;
			return -1;
		}
		if ((rnet == DCF_NONE ? dcf_ring_push_n_tx(&tx, r, grp, k)
		                      : dcf_ring_unpop_n_tx(&tx, r, grp, k)) == -1)
			return -1;
		lvls |= 1u << lvl;
	}
	out->requeued = nc > 0 ? nc - 1 : 0;
	if (nc > 0)
		dcf_tx_put64(&tx, &h->cnt.running, h->cnt.running - nc);
	if (nd->sleeping)
		dcf_tx_put32(&tx, &net->sleepers, net->sleepers - 1);
	if (dcf_node_alive(nd->state))
		dcf_tx_put32(&tx, &net->alive, net->alive - 1);
	dcf_tx_put32(&tx, &nd->sleeping, 0);
	dcf_tx_put32(&tx, &nd->task_slot, DCF_NONE);
	dcf_tx_put32(&tx, &nd->run_slot, DCF_NONE);
	dcf_tx_put32(&tx, &nd->held, 0);
	dcf_tx_put32(&tx, &nd->state, DCF_NODE_DOWN);
	if (max_attempts != DCF_DEATH_UNCHARGED) {
		dcf_tx_put64(&tx, &nd->failures, nd->failures + 1);
		dcf_tx_put64(&tx, &h->cnt.failures, h->cnt.failures + 1);
	}
	dcf_tx_commit(&tx);
	/* A recovery ring's bump wakes every network (a pinned task's own among them). */
	for (uint32_t l = 0; l < DCF_LEVELS; l++)
		if (lvls & (1u << l))
			bump_ring(sg, ring_of(sg, l, DCF_NONE));
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
	{
		uint32_t lvl, net;

		/* A queue's level is its tasks' (dcf-ctl priority moves one between levels). */
		if (dcf_ring_what(sg->cfg.nets, to, &lvl, &net) == 0 && lvl != t->prio)
			dcf_tx_put32(&tx, &t->prio, lvl);
	}
	dcf_tx_put64(&tx, &t->t_queued_ns, now);
	if (dcf_ring_push_tx(&tx, to, s) == -1)
		return -1;
	if (is_recovery_ring(sg, to))
		dcf_tx_put64(&tx, &sg->hdr->cnt.to_recovery, sg->hdr->cnt.to_recovery + 1);
	dcf_tx_commit(&tx);
	bump_ring(sg, to);
	return 0;
}

int
dcf_evacuate_locked(struct dcf_seg *sg, uint32_t ring, uint64_t now, uint64_t *id, int *moved)
{
	uint32_t lvl, net, s, to;
	struct dcf_task *t;
	struct dcf_tx tx;

	DCF_INJECT(DCF_OP_MOVE, DCF_STEP_LOCKED);
	if (dcf_ring_what(sg->cfg.nets, ring, &lvl, &net) == -1 || net == DCF_NONE) {
		errno = EINVAL;
		return -1;
	}
	dcf_tx_begin(&tx, sg, DCF_OP_MOVE);
	if (dcf_ring_pop_tx(&tx, ring, &s) == -1)
		return -1;
	t = &sg->tasks[s];
	if (t->state != DCF_TASK_QUEUED || t->queue != ring) {
		errno = EUCLEAN;
		return -1;
	}
	*id = t->id;
	*moved = t->pin == 0;
	to = *moved ? ring_of(sg, lvl, DCF_NONE) : ring;
	if (dcf_ring_push_tx(&tx, to, s) == -1)
		return -1;
	if (*moved) {
		dcf_tx_put32(&tx, &t->queue, to);
		dcf_tx_put64(&tx, &t->t_queued_ns, now);
		dcf_tx_put64(&tx, &sg->hdr->cnt.to_recovery, sg->hdr->cnt.to_recovery + 1);
	}
	dcf_tx_commit(&tx);
	if (*moved)
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
	/* The highest level first: the order the network's workers would have taken them in. */
	for (uint32_t l = DCF_LEVELS; l-- > 0;)
		if (dcf_ring_depth(&sg->rings[ring_of(sg, l, net)]) > 0)
			return dcf_move_ring_locked(sg, ring_of(sg, l, net),
			    ring_of(sg, l, DCF_NONE), now, id);
	errno = ENOENT;
	return -1;
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

		while (w > 0 &&
		    !__atomic_compare_exchange_n(&net->woken, &w, w - 1, 0, __ATOMIC_RELAXED,
		        __ATOMIC_RELAXED))
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
	dcf_tx_put32(&tx, &nd->run_slot, DCF_NONE);
	if (nd->retire)
		dcf_tx_put32(&tx, &nd->retire, 0);
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
dcf_node_retire_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen)
{
	struct dcf_node *nd;
	struct dcf_tx tx;

	if ((nd = node_as(sg, node, gen)) == NULL)
		return -1;
	dcf_tx_begin(&tx, sg, DCF_OP_NODE);
	dcf_tx_put32(&tx, &nd->retire, 1);
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
