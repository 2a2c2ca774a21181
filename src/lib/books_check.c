/* books_check.c - the invariants of books.h, repair after a crash, full reset. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcf/books.h"
#include "dcf/mutex.h"
#include "dcf/ring.h"
#include "dcf/tx.h"

#define FAIL(...) \
	do { \
		snprintf(err, errlen, __VA_ARGS__); \
		goto fail; \
	} while (0)

int
dcf_books_check_locked(struct dcf_seg *sg, char *err, size_t errlen)
{
	struct dcf_hdr *h = sg->hdr;
	const struct dcf_config *c = &sg->cfg;
	uint8_t *seen = calloc(c->task_slots, 1);
	uint8_t *chained = calloc(c->task_slots, 1);
	uint32_t *sleepers = calloc(c->nets, sizeof(uint32_t));
	uint32_t *alive = calloc(c->nets, sizeof(uint32_t));
	uint64_t queued = 0, running = 0;

	if (seen == NULL || chained == NULL || sleepers == NULL || alive == NULL)
		FAIL("out of memory");
	/* I1, from the rings' side. */
	for (uint32_t r = 0; r < sg->nrings; r++) {
		struct dcf_ring *rg = &sg->rings[r];
		uint32_t depth = rg->tail - rg->head, lvl, net;
		uint32_t want = r == DCF_RING_FREE ? DCF_TASK_FREE
		    : r == DCF_RING_DONE           ? DCF_TASK_DONE
		                                   : DCF_TASK_QUEUED;

		if (depth > sg->ring_cap)
			FAIL("ring %u: depth %u over capacity", r, depth);
		for (uint32_t i = 0; i < depth; i++) {
			uint32_t s;

			dcf_ring_peek(sg, r, i, &s);
			if (s >= c->task_slots)
				FAIL("ring %u: slot index %u out of range", r, s);
			if (seen[s]++)
				FAIL("task slot %u is in two places", s);
			if (sg->tasks[s].state != want)
				FAIL("ring %u holds slot %u in state %u", r, s, sg->tasks[s].state);
			if (want == DCF_TASK_QUEUED && sg->tasks[s].queue != r)
				FAIL("slot %u in ring %u says it is queued on %u", s, r,
				    sg->tasks[s].queue);
			if (want == DCF_TASK_QUEUED && dcf_ring_what(c->nets, r, &lvl, &net) == 0 &&
			    sg->tasks[s].prio != lvl)
				FAIL("slot %u of level %u is queued on ring %u of level %u", s,
				    sg->tasks[s].prio, r, lvl);
			if (want == DCF_TASK_QUEUED && sg->tasks[s].pin != 0 &&
			    dcf_ring_what(c->nets, r, &lvl, &net) == 0 &&
			    net != sg->tasks[s].pin - 1)
				FAIL("slot %u pinned to network %u is queued on ring %u", s,
				    sg->tasks[s].pin - 1, r);
		}
		if (want == DCF_TASK_QUEUED)
			queued += depth;
	}
	/* I2 from the nodes' side: each chain, its slots RUNNING and the node's. */
	for (uint32_t n = 0; n < c->max_nodes; n++) {
		struct dcf_node *nd = &sg->nodes[n];
		uint32_t s = nd->task_slot, k = 0;

		if (nd->state == DCF_NODE_EMPTY)
			continue;
		if (s == DCF_NONE) {
			if (nd->held != 0 || nd->state == DCF_NODE_BUSY)
				FAIL("node %u: no chain, but %u held, state %u", n, nd->held,
				    nd->state);
			continue;
		}
		if (nd->state != DCF_NODE_BUSY || nd->held == 0 || nd->held > DCF_BATCH_MAX)
			FAIL("node %u: a chain of %u slots in state %u", n, nd->held, nd->state);
		for (; k < nd->held; k++) {
			struct dcf_task *t;

			if (s >= c->task_slots)
				FAIL("node %u: chain slot out of range", n);
			t = &sg->tasks[s];
			if (t->state != DCF_TASK_RUNNING || t->owner_node != n ||
			    t->owner_gen != nd->gen)
				FAIL("node %u points at slot %u it does not own", n, s);
			if (chained[s]++)
				FAIL("slot %u is twice on a chain", s);
			s = t->next_owned;
		}
		if (s != DCF_NONE)
			FAIL("node %u: its chain is longer than the %u it holds", n, nd->held);
	}
	/* I1 from the slots' side, and I2 from the tasks' side. */
	for (uint32_t s = 0; s < c->task_slots; s++) {
		struct dcf_task *t = &sg->tasks[s];

		if (t->state >= DCF_TASK_NSTATES)
			FAIL("slot %u: bad state %u", s, t->state);
		if (t->state != DCF_TASK_RUNNING) {
			if (!seen[s])
				FAIL("slot %u (state %u) is in no ring", s, t->state);
			continue;
		}
		running++;
		if (t->owner_node >= c->max_nodes)
			FAIL("slot %u: owner node %u out of range", s, t->owner_node);
		/* Chains hold only their owner's RUNNING slots: on one, on its owner's. */
		if (!chained[s])
			FAIL("slot %u: owner node %u does not hold it", s, t->owner_node);
	}
	/* I5. */
	for (uint32_t n = 0; n < c->max_nodes; n++) {
		struct dcf_node *nd = &sg->nodes[n];

		if (nd->state == DCF_NODE_EMPTY)
			continue;
		if (nd->net >= c->nets || nd->state >= DCF_NODE_NSTATES)
			FAIL("node %u: bad network or state", n);
		sleepers[nd->net] += nd->sleeping != 0;
		alive[nd->net] += dcf_node_alive(nd->state);
	}
	for (uint32_t i = 0; i < c->nets; i++) {
		if (sg->nets[i].sleepers != sleepers[i])
			FAIL("network %u: %u sleepers counted, %u sleeping", i,
			    sg->nets[i].sleepers, sleepers[i]);
		if (sg->nets[i].alive != alive[i])
			FAIL("network %u: %u alive counted, %u alive", i, sg->nets[i].alive,
			    alive[i]);
		if (sg->nets[i].paused > 1)
			FAIL("network %u: paused is %u, not 0 or 1", i, sg->nets[i].paused);
	}
	/* I3, I4. */
	if (h->cnt.running != running)
		FAIL("running counter %llu, %llu slots running", (unsigned long long)h->cnt.running,
		    (unsigned long long)running);
	if (h->cnt.dispatched != queued + running + h->cnt.completed + h->cnt.quarantined)
		FAIL("dispatched %llu != queued %llu + running %llu + completed %llu + quarantined "
		     "%llu",
		    (unsigned long long)h->cnt.dispatched, (unsigned long long)queued,
		    (unsigned long long)running, (unsigned long long)h->cnt.completed,
		    (unsigned long long)h->cnt.quarantined);
	if (h->cnt.dispatched > h->cnt.next_id ||
	    h->cnt.skipped > h->cnt.next_id - h->cnt.dispatched)
		FAIL("dispatched %llu and skipped %llu, past the next id %llu",
		    (unsigned long long)h->cnt.dispatched, (unsigned long long)h->cnt.skipped,
		    (unsigned long long)h->cnt.next_id);
	if (h->cnt.next_id > c->tasks)
		FAIL("dispatched %llu tasks of %llu", (unsigned long long)h->cnt.next_id,
		    (unsigned long long)c->tasks);
	free(seen);
	free(chained);
	free(sleepers);
	free(alive);
	return 0;
fail:
	free(seen);
	free(chained);
	free(sleepers);
	free(alive);
	errno = EUCLEAN;
	return -1;
}

int
dcf_books_repair_locked(struct dcf_seg *sg)
{
	char err[DCF_ERRLEN];

	if (dcf_wal_redo_locked(sg) == -1)
		return -1;
	return dcf_books_check_locked(sg, err, sizeof(err));
}

struct qent {
	uint64_t t;
	uint32_t slot;
};

static int
qent_cmp(const void *a, const void *b)
{
	const struct qent *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static void
push_raw(struct dcf_seg *sg, uint32_t ring, uint32_t s)
{
	struct dcf_ring *r = &sg->rings[ring];

	dcf_ring_slots(sg, ring)[r->tail & (sg->ring_cap - 1)] = s;
	r->tail++;
}

/*
 * Was RUNNING slot s the one its owner was running? The owner's run_slot
 * says (books.h); when it names no slot the owner holds, its chain's head
 * was (the chain itself may be what is damaged: only the owner fields and
 * the two node words are read).
 */
static int
ran_it(struct dcf_seg *sg, uint32_t s)
{
	const struct dcf_task *t = &sg->tasks[s];
	const struct dcf_node *nd;
	uint32_t run;

	if (t->owner_node >= sg->cfg.max_nodes)
		return 1;
	nd = &sg->nodes[t->owner_node];
	run = nd->run_slot;
	if (nd->gen != t->owner_gen)
		return 1;
	if (run < sg->cfg.task_slots && sg->tasks[run].state == DCF_TASK_RUNNING &&
	    sg->tasks[run].owner_node == t->owner_node && sg->tasks[run].owner_gen == nd->gen)
		return run == s;
	return nd->task_slot == s || nd->task_slot >= sg->cfg.task_slots;
}

int
dcf_books_reset(struct dcf_seg *sg, uint32_t max_attempts, char *err, size_t errlen)
{
	struct dcf_hdr *h = sg->hdr;
	const struct dcf_config *c = &sg->cfg;
	struct qent *q = calloc(c->task_slots, sizeof(*q));
	struct qent *d = calloc(c->task_slots, sizeof(*d));
	uint8_t *ran = calloc(c->task_slots, 1);
	uint32_t nq = 0, nd_ = 0, lvl, net;
	uint64_t queued = 0;
	int reclaimed = 0;

	if (q == NULL || d == NULL || ran == NULL) {
		free(q);
		free(d);
		free(ran);
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	/* Every worker is dead: nobody else can hold or wait on the lock. */
	memset(&h->lock, 0, sizeof(h->lock));
	dcf_mutex_init(&h->lock);
	h->wal.n = 0;
	if (h->seq & 1)
		h->seq++;
	for (uint32_t r = 0; r < sg->nrings; r++) {
		sg->rings[r].head = 0;
		sg->rings[r].tail = 0;
	}
	for (uint32_t n = 0; n < c->max_nodes; n++) {
		struct dcf_node *nd = &sg->nodes[n];

		/* Chains are emptied below, once their running tasks are known. */
		nd->sleeping = 0;
		/* Its worker is dead (see above): I5 wants alive == 0, so it is down. */
		if (dcf_node_alive(nd->state))
			nd->state = DCF_NODE_DOWN;
	}
	for (uint32_t i = 0; i < c->nets; i++) {
		sg->nets[i].sleepers = 0;
		sg->nets[i].alive = 0;
	}
	/* Before any slot changes: which running tasks were being run. */
	for (uint32_t s = 0; s < c->task_slots; s++)
		ran[s] = sg->tasks[s].state == DCF_TASK_RUNNING && ran_it(sg, s);
	for (uint32_t s = 0; s < c->task_slots; s++) {
		struct dcf_task *t = &sg->tasks[s];

		switch (t->state) {
		case DCF_TASK_FREE:
			push_raw(sg, DCF_RING_FREE, s);
			break;
		case DCF_TASK_DONE:
			/* In the order they ran: a node's completions stay in its order. */
			d[nd_].t = t->t_started_ns;
			d[nd_++].slot = s;
			break;
		case DCF_TASK_RUNNING:
			reclaimed++;
			t->next_owned = DCF_NONE;
			/* Held, not the one its node ran (books.h): no attempt. */
			if (!ran[s])
				goto requeue;
			if (++t->attempts >= max_attempts) {
				t->state = DCF_TASK_FREE;
				h->cnt.quarantined++;
				push_raw(sg, DCF_RING_FREE, s);
				break;
			}
			h->cnt.reclaimed++;
		requeue:
			t->queue = DCF_NONE;
			/* FALLTHROUGH */
		default: /* QUEUED, or a state we cannot read: run it again */
			t->state = DCF_TASK_QUEUED;
			if (t->prio >= DCF_LEVELS)
				t->prio = DCF_LEVEL_DEFAULT;
			if (t->pin > c->nets)
				t->pin = 0;
			/* Its level's recovery ring (a pinned one: its network's), unless it waits
			 * on a queue of its level it may be on. */
			if (t->queue != dcf_delay_ring(sg) &&
			    (dcf_ring_what(c->nets, t->queue, &lvl, &net) == -1 || lvl != t->prio ||
			        (t->pin != 0 && net != t->pin - 1)))
				t->queue = dcf_ring_of(c->nets, t->prio,
				    t->pin != 0 ? t->pin - 1 : DCF_NONE);
			q[nq].t = t->t_queued_ns;
			q[nq++].slot = s;
			break;
		}
	}
	for (uint32_t n = 0; n < c->max_nodes; n++) {
		sg->nodes[n].task_slot = DCF_NONE;
		sg->nodes[n].run_slot = DCF_NONE;
		sg->nodes[n].held = 0;
	}
	free(ran);
	/* Back in the order they were queued in. */
	qsort(d, nd_, sizeof(*d), qent_cmp);
	for (uint32_t i = 0; i < nd_; i++)
		push_raw(sg, DCF_RING_DONE, d[i].slot);
	free(d);
	qsort(q, nq, sizeof(*q), qent_cmp);
	for (uint32_t i = 0; i < nq; i++)
		push_raw(sg, sg->tasks[q[i].slot].queue, q[i].slot);
	queued = nq;
	free(q);
	h->cnt.running = 0;
	h->cnt.resets++;
	if (h->cnt.dispatched != queued + h->cnt.completed + h->cnt.quarantined) {
		snprintf(err, errlen,
		    "after reset: dispatched %llu but %llu queued, %llu completed, "
		    "%llu quarantined",
		    (unsigned long long)h->cnt.dispatched, (unsigned long long)queued,
		    (unsigned long long)h->cnt.completed, (unsigned long long)h->cnt.quarantined);
		errno = EUCLEAN;
		return -1;
	}
	__atomic_store_n(&h->sys_state, DCF_SYS_RUNNING, __ATOMIC_RELEASE);
	return reclaimed;
}
