/*
 * inject.h - named crash points for tests.
 *
 * Every transaction (tx.h) passes through numbered steps; a test arms one
 * (operation, step, count) in a forked child and the child SIGKILLs itself
 * on the count-th time it reaches that point. In the normal build
 * (DCF_INJECT_ENABLE undefined) every point compiles to nothing.
 */
#ifndef DCF_INJECT_H
#define DCF_INJECT_H

/* The operations that mutate the books (see books.h). */
enum dcf_op {
	DCF_OP_DISPATCH = 0,
	DCF_OP_CLAIM,
	DCF_OP_COMPLETE,
	DCF_OP_RETIRE,
	DCF_OP_RECLAIM,
	DCF_OP_MOVE,
	DCF_OP_SLEEP,
	DCF_OP_WAKE,
	DCF_OP_NODE,
	DCF_OP_TURN,     /* a worker's complete and claim in one transaction */
	DCF_OP_GIVEBACK, /* a worker gives back the tasks it has not started */
	DCF_OP_COUNT,    /* the books' operations end here */
	/* Not the books': the supervisor's committer, writing to its store (storeq.h). */
	DCF_OP_STORE = 64
};

/* Steps inside one operation. */
#define DCF_STEP_LOCKED    0         /* lock held, nothing written */
#define DCF_STEP_BUILT     1         /* journal written, not published */
#define DCF_STEP_PUBLISHED 2         /* journal published, nothing applied */
#define DCF_STEP_APPLY(k)  (3 + (k)) /* entry k applied (k < DCF_WAL_MAX) */
#define DCF_STEP_APPLIED   1000      /* all applied, journal not cleared */
#define DCF_STEP_CLEARED   1001      /* journal cleared, lock still held */
#define DCF_STEP_UNLOCKED  1002      /* lock released, wake-up not yet sent */
/* DCF_OP_STORE's steps, one commit's life. */
#define DCF_STEP_STORE_TAKEN     0 /* a batch taken, nothing of it written */
#define DCF_STEP_STORE_WRITTEN   1 /* its rows written, the transaction not committed */
#define DCF_STEP_STORE_COMMITTED 2 /* committed, nobody told yet */
#define DCF_STEP_ANY             (-1)
#define DCF_OP_ANY               (-1)

const char *dcf_op_name(int op);

#ifdef DCF_INJECT_ENABLE
/* Die at the count-th hit (count >= 1) of (op, step); DCF_*_ANY matches all. Any thread. */
void dcf_inject_arm(int op, int step, unsigned long count);
void dcf_inject_disarm(void);
void dcf_inject_hit(int op, int step);
/*
 * Arm from DCF_INJECT="op:step:count" (op by name or number, step a number);
 * with DCF_INJECT_ACTION=stop the process SIGSTOPs itself instead of dying.
 */
int dcf_inject_from_env(void);
/* The same from another variable: DCF_INJECT_SUP arms the supervisor itself. */
int dcf_inject_from_var(const char *var);
#define DCF_INJECT(op, step) dcf_inject_hit((op), (step))
#else
#define DCF_INJECT(op, step) ((void)0)
#endif

#endif
