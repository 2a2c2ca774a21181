/*
 * turn.h - one turn of a worker's loop, the same for the real worker and
 * the tests' workers: lock, report the task in hand as completed, claim the
 * next (or register as a sleeper), unlock, wake whom the claim owes.
 *
 * The order inside the critical section is fixed here and nowhere else:
 * complete, end the sleep, claim; so a worker never holds two tasks and a
 * completion and the next claim are one transaction apart under one lock.
 */
#ifndef DCF_TURN_H
#define DCF_TURN_H

#include <stdint.h>
#include <sys/types.h>

#include "dcf/books.h"
#include "dcf/seg.h"

/* What the worker does after a turn. */
enum dcf_next {
	DCF_NEXT_RUN = 0,   /* run t->cl, then turn again with its result */
	DCF_NEXT_SLEEP = 1, /* wait on t->wake for a change from t->word, then turn again */
	DCF_NEXT_EXIT = 2   /* the system stops: exit cleanly */
};

struct dcf_turn {
	/* Who: fixed for the worker's life. */
	uint32_t node, gen;
	pid_t pid;
	/* Called under the lock before anything else, in every turn and in
	 * dcf_turn_ready (test hooks), or NULL. */
	void (*locked_hook)(struct dcf_seg *sg, void *arg);
	void *hook_arg;
	/* The task in hand: have it, and its result, when the turn begins. */
	int have;
	uint64_t result;
	struct dcf_claim cl;
	/* What the turn did. */
	int completed; /* it reported done_id as completed */
	uint64_t done_id;
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

#endif
