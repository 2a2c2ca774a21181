/* turn.c - one turn of a worker's loop (turn.h). */
#include <errno.h>

#include "dcf/books.h"
#include "dcf/inject.h"
#include "dcf/lock.h"
#include "dcf/turn.h"
#include "dcf/util.h"

int
dcf_turn_ready(struct dcf_seg *sg, struct dcf_turn *t)
{
	int r;

	if (dcf_lock(sg) == -1)
		return -1;
	if (t->locked_hook != NULL)
		t->locked_hook(sg, t->hook_arg);
	r = dcf_node_ready_locked(sg, t->node, t->gen, dcf_now_ns());
	dcf_unlock(sg);
	return r;
}

/* The finished part of the batch in hand, as the books want it reported. */
static void
finished(const struct dcf_turn *t, struct dcf_finished *fin)
{
	fin->n = t->next;
	fin->start_ns = t->batch_ns;
	for (uint32_t i = 0; i < t->next; i++) {
		fin->slot[i] = t->cl.t[i].slot;
		fin->id[i] = t->cl.t[i].id;
		fin->result[i] = t->result[i];
	}
}

static void
reported(struct dcf_turn *t, const struct dcf_finished *fin)
{
	for (uint32_t i = 0; i < fin->n; i++)
		t->done_id[t->completed++] = fin->id[i];
}

/* Under the lock: report, claim or get ready to sleep. */
static int
turn_locked(struct dcf_seg *sg, struct dcf_turn *t, uint64_t now, uint32_t *back)
{
	struct dcf_finished fin;
	uint32_t k;

	if (t->locked_hook != NULL)
		t->locked_hook(sg, t->hook_arg);
	DCF_INJECT(DCF_OP_CLAIM, DCF_STEP_LOCKED);
	finished(t, &fin);
	if (t->cl.n > t->next) {
		/* Cut short: the finished reported, the rest given back, then a fresh claim. */
		struct dcf_given g;

		if (dcf_give_back_locked(sg, t->node, t->gen, now, &fin, &g) == -1)
			return -1;
		reported(t, &fin);
		t->given_back = g.returned;
		t->wake_sup |= g.wake_sup;
		*back = (g.to_recovery ? 1u : 0u) | (g.to_own ? 2u : 0u);
		t->cl.n = t->next = 0;
		fin.n = 0;
	}
	dcf_sleep_end_locked(sg, t->node);
	k = dcf_batch_size_locked(sg, t->node, t->kmax);
	if (dcf_complete_claim_locked(sg, t->node, t->gen, t->pid, now, &fin, k, &t->cl) == -1) {
		t->cl.n = 0;
		if (errno == ESHUTDOWN)
			return DCF_NEXT_EXIT;
		if (errno != ENOENT)
			return -1;
	} else {
		reported(t, &fin);
		t->wake_sup |= t->cl.wake_sup;
		if (t->cl.n > 0) {
			t->next = 0;
			t->batch_ns = now;
			return DCF_NEXT_RUN;
		}
		if (t->cl.stopping)
			return DCF_NEXT_EXIT;
	}
	t->next = 0;
	/* Nothing to do: a sleeper on its network's word until work comes. */
	if (dcf_sleep_begin_locked(sg, t->node, &t->word) == -1)
		return -1;
	t->wake = &sg->nets[sg->nodes[t->node].net].wake;
	return DCF_NEXT_SLEEP;
}

int
dcf_turn(struct dcf_seg *sg, struct dcf_turn *t)
{
	uint32_t net, back = 0;
	int next, e;

	t->completed = 0;
	t->given_back = 0;
	t->wake_sup = 0;
	if (dcf_lock(sg) == -1)
		return -1;
	net = sg->nodes[t->node].net;
	/* The turn's one clock read, under the lock: the completion's run time
	 * and the claim's start, never older than the wait for the lock. */
	next = turn_locked(sg, t, dcf_now_ns(), &back);
	e = errno;
	dcf_unlock(sg);
	if (next == -1) {
		errno = e == ENOENT ? EUCLEAN : e;
		return -1;
	}
	if (t->wake_sup)
		DCF_INJECT(t->given_back ? DCF_OP_GIVEBACK : DCF_OP_COMPLETE, DCF_STEP_UNLOCKED);
	if (back & 1)
		dcf_books_wake_ring(sg, DCF_RING_RECOVERY);
	if (back & 2)
		dcf_books_wake_ring(sg, DCF_RING_NET0 + net);
	if (next == DCF_NEXT_RUN) {
		DCF_INJECT(DCF_OP_CLAIM, DCF_STEP_UNLOCKED);
		if (t->cl.chain)
			dcf_books_wake_ring(sg,
			    t->cl.t[t->cl.n - 1].from_recovery ? DCF_RING_RECOVERY
			                                       : DCF_RING_NET0 + net);
	} else if (next == DCF_NEXT_SLEEP) {
		DCF_INJECT(DCF_OP_SLEEP, DCF_STEP_UNLOCKED);
	}
	return next;
}

const struct dcf_claim *
dcf_turn_next(struct dcf_seg *sg, struct dcf_turn *t)
{
	const struct dcf_claim *c;
	struct dcf_node *nd;
	uint64_t now;

	if (t->next >= t->cl.n)
		return NULL;
	c = &t->cl.t[t->next];
	if (t->next == 0)
		return c;   /* the claim said so itself */
	now = dcf_now_ns(); /* one clock read per task after the first */
	if (now - t->batch_ns > (t->give_back_ns != 0 ? t->give_back_ns : DCF_TURN_GIVE_BACK_NS))
		return NULL;
	/*
	 * Lock-free, and ours alone while we live (layout.h): what we run
	 * now. run_slot last, released: a death is charged to the task it
	 * names (books.c, dcf_node_died_locked, says why that is sound).
	 */
	nd = &sg->nodes[t->node];
	__atomic_store_n(&nd->busy_since_ns, now, __ATOMIC_RELAXED);
	__atomic_store_n(&nd->heartbeat_ns, now, __ATOMIC_RELAXED);
	__atomic_store_n(&nd->task_id, c->id, __ATOMIC_RELAXED);
	__atomic_store_n(&nd->from_recovery, (uint32_t)c->from_recovery, __ATOMIC_RELAXED);
	__atomic_store_n(&nd->run_slot, c->slot, __ATOMIC_RELEASE);
	return c;
}

void
dcf_turn_done(struct dcf_turn *t, uint64_t result)
{
	if (t->next < t->cl.n)
		t->result[t->next++] = result;
}
