/*
 * turn.h - one turn of a worker's loop, the same for the real worker and
 * the tests' workers: lock, report the batch in hand (completed, or the
 * unstarted rest given back), claim the next batch (or register as a
 * sleeper), unlock, wake whom the claim owes. Between turns the worker runs
 * its batch's tasks in order: dcf_turn_next, run it, dcf_turn_done.
 *
 * The order inside the critical section is fixed here and nowhere else:
 * give back (when a batch is cut short), end the sleep, then complete and
 * claim in one transaction; so a worker reports a batch and takes the next
 * under one lock hold, and holds only the tasks of one batch.
 */
#ifndef DCF_TURN_H
#define DCF_TURN_H

#include <stdint.h>
#include <sys/types.h>

#include "dcf/books.h"
#include "dcf/seg.h"

/* What the worker does after a turn. */
enum dcf_next {
	DCF_NEXT_RUN = 0,   /* run the batch (dcf_turn_next), then turn again */
	DCF_NEXT_SLEEP = 1, /* wait on t->wake for a change from t->word, then turn again */
	DCF_NEXT_EXIT = 2   /* the system stops: exit cleanly */
};

/*
 * A batch whose unstarted tasks have waited this long since it was claimed
 * is cut short: they are given back for other workers to take.
 */
#define DCF_TURN_GIVE_BACK_NS 1000000ULL

struct dcf_turn {
	/* Who: fixed for the worker's life. */
	uint32_t node, gen;
	pid_t pid;
	/* The largest batch to claim: 0 for DCF_BATCH_MAX (the books size
	 * each batch, books.h), 1 for one task at a time. */
	uint32_t kmax;
	/* How long a batch's unstarted tasks may wait before it is cut short:
	 * 0 for DCF_TURN_GIVE_BACK_NS. */
	uint64_t give_back_ns;
	/* Called under the lock before anything else, in every turn and in
	 * dcf_turn_ready (test hooks), or NULL. */
	void (*locked_hook)(struct dcf_seg *sg, void *arg);
	void *hook_arg;
	/* The batch in hand: cl.t[0 .. cl.n-1], of which the first `next` are
	 * finished with result[]; claimed at batch_ns. */
	struct dcf_claims cl;
	uint32_t next;
	uint64_t batch_ns;
	uint64_t result[DCF_BATCH_MAX];
	/* What the turn did. */
	uint32_t completed; /* tasks reported completed: done_id[0 .. completed-1] */
	uint64_t done_id[DCF_BATCH_MAX];
	uint32_t given_back;  /* tasks given back unstarted */
	int wake_sup;         /* the supervisor sleeps and wants to hear of it */
	uint32_t *wake, word; /* DCF_NEXT_SLEEP: where and on what to wait */
};

/* The worker's first transaction: attached and ready. -1 with errno as dcf_lock or ESTALE. */
int dcf_turn_ready(struct dcf_seg *sg, struct dcf_turn *t);

/*
 * One turn. Returns enum dcf_next, or -1 with errno ENOTRECOVERABLE (the
 * books need a reset), ESTALE (the node is not ours any more) or EUCLEAN
 * (a corrupt queue). The caller tells the supervisor when t->wake_sup.
 */
int dcf_turn(struct dcf_seg *sg, struct dcf_turn *t);

/*
 * After DCF_NEXT_RUN: the next task of the batch to run, or NULL when the
 * batch is done or cut short (its unstarted tasks waited longer than
 * give_back_ns): turn again. Before returning a task after the
 * first, it says in the node's record, without the lock, that this is the
 * task it runs now (layout.h: run_slot): what a death is charged to.
 */
const struct dcf_claim *dcf_turn_next(struct dcf_seg *sg, struct dcf_turn *t);
/* The task dcf_turn_next returned has finished with result. */
void dcf_turn_done(struct dcf_turn *t, uint64_t result);

#endif
