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

/* Under the lock: report, claim or get ready to sleep. */
static int
turn_locked(struct dcf_seg *sg, struct dcf_turn *t)
{
	if (t->locked_hook != NULL)
		t->locked_hook(sg, t->hook_arg);
	DCF_INJECT(DCF_OP_CLAIM, DCF_STEP_LOCKED);
	if (t->have) {
		if (dcf_complete_locked(sg, t->node, t->gen, t->cl.slot, t->cl.id, t->result,
		        &t->wake_sup) == -1)
			return -1;
		t->have = 0;
		t->completed = 1;
		t->done_id = t->cl.id;
	}
	dcf_sleep_end_locked(sg, t->node);
	if (dcf_claim_locked(sg, t->node, t->gen, t->pid, dcf_now_ns(), &t->cl) == 0) {
		t->have = 1;
		t->wake_sup |= t->cl.wake_sup;
		return DCF_NEXT_RUN;
	}
	if (errno == ESHUTDOWN)
		return DCF_NEXT_EXIT;
	if (errno != ENOENT)
		return -1;
	/* Nothing to do: a sleeper on its network's word until work comes. */
	if (dcf_sleep_begin_locked(sg, t->node, &t->word) == -1)
		return -1;
	t->wake = &sg->nets[sg->nodes[t->node].net].wake;
	return DCF_NEXT_SLEEP;
}

int
dcf_turn(struct dcf_seg *sg, struct dcf_turn *t)
{
	uint32_t net;
	int next, e;

	t->completed = 0;
	t->wake_sup = 0;
	if (dcf_lock(sg) == -1)
		return -1;
	net = sg->nodes[t->node].net;
	next = turn_locked(sg, t);
	e = errno;
	dcf_unlock(sg);
	if (next == -1) {
		errno = e == ENOENT ? EUCLEAN : e;
		return -1;
	}
	if (t->wake_sup)
		DCF_INJECT(DCF_OP_COMPLETE, DCF_STEP_UNLOCKED);
	if (next == DCF_NEXT_RUN) {
		DCF_INJECT(DCF_OP_CLAIM, DCF_STEP_UNLOCKED);
		if (t->cl.chain)
			dcf_books_wake_ring(sg,
			    t->cl.from_recovery ? DCF_RING_RECOVERY : DCF_RING_NET0 + net);
	} else if (next == DCF_NEXT_SLEEP) {
		DCF_INJECT(DCF_OP_SLEEP, DCF_STEP_UNLOCKED);
	}
	return next;
}
