/*
 * test_crash.c - processes SIGKILLed at every step of every critical
 * section, and the survivors carrying on.
 *
 *  every point: for each operation on the books (and each of its paths) a
 *    child runs it armed to die at one step: with the lock held and nothing
 *    written, with the journal built, published, after each store, applied,
 *    cleared, and after unlocking. The parent (the survivor) takes the lock,
 *    repairs on EOWNERDEAD, and the books must then be exactly the books
 *    before the operation (died before the publish) or exactly the books
 *    after it (died after), consistent, with one repair counted and every
 *    sleeper woken. Over several rounds, some with ring counters wrapping.
 *  workers: real worker processes armed at every step of their own critical
 *    sections (claim, complete, sleep, wake, ready), with counts, while a
 *    mini supervisor dispatches, retires, reaps, reclaims and restarts; other
 *    workers or the parent repair; every id ends retired exactly once or
 *    quarantined, one repair per death under the lock.
 *  sleepers and wakers: a waiter killed asleep does not swallow a wake-up; a
 *    waker killed between its unlock and its wake, or holding the lock after
 *    pushing work, strands nobody once the reaper (or the repairer) wakes all.
 *  unrecoverable: a corrupt ring or a malformed journal plus a dead holder
 *    makes the lock unrecoverable for everyone; the full reset rebuilds
 *    books from which every task still finishes, exactly once.
 */
#include "testutil.h"

static int
setup(void **state)
{
	return tu_setup(state);
}

static int
teardown(void **state)
{
	return tu_teardown(state);
}

static const char *
step_name(int step)
{
	static char buf[32];

	switch (step) {
	case DCF_STEP_LOCKED:
		return "locked";
	case DCF_STEP_BUILT:
		return "built";
	case DCF_STEP_PUBLISHED:
		return "published";
	case DCF_STEP_APPLIED:
		return "applied";
	case DCF_STEP_CLEARED:
		return "cleared";
	case DCF_STEP_UNLOCKED:
		return "unlocked";
	default:
		snprintf(buf, sizeof(buf), "apply(%d)", step - DCF_STEP_APPLY(0));
		return buf;
	}
}

/* ==== every point of every operation =================================== */

#define W_NODES 4 /* 2 networks x 2 nodes: node n is on network n / 2 */

struct world {
	struct dcf_seg sg;
	struct tu_ledger *L;
	uint32_t x; /* the node this round works with */
	uint64_t now;
	unsigned kills, holder_kills, not_reached;
	unsigned kills_by_op[DCF_OP_COUNT];
};

/* What an operation said, for the ledger and for the checks on its result. */
struct act_out {
	struct dcf_claims cs;
	struct dcf_finished fin;
	struct dcf_given g;
	struct dcf_done dn[8];
	uint32_t count;
	struct dcf_claim cl;
	struct dcf_done d;
	struct dcf_reclaim rc;
	uint64_t id;
	int wake;
	uint32_t word;
};

static uint32_t
gen_of(struct world *w, uint32_t n)
{
	return w->sg.nodes[n].gen;
}

static uint32_t
ring_x(struct world *w)
{
	return DCF_RING_NET0 + w->sg.nodes[w->x].net;
}

/* The parent's own operations, lock held, each followed by the check. */
static void
w_dispatch(struct world *w, uint32_t ring)
{
	assert_int_equal(dcf_dispatch_locked(&w->sg, ring, ++w->now), 0);
	tu_assert_books(&w->sg);
}

static int
w_claim(struct world *w, uint32_t n)
{
	struct dcf_claim cl;

	if (dcf_claim_locked(&w->sg, n, gen_of(w, n), 5000 + (pid_t)n, ++w->now, &cl) == -1) {
		assert_int_equal(errno, ENOENT);
		return -1;
	}
	tu_mark(w->L->executed, cl.id);
	tu_assert_books(&w->sg);
	return 0;
}

/* The first count tasks of node n's chain (all of it: count = held), finished. */
static void
chain_fin(struct world *w, uint32_t n, uint32_t count, struct dcf_finished *fin)
{
	uint32_t s = w->sg.nodes[n].task_slot;

	memset(fin, 0, sizeof(*fin));
	fin->start_ns = w->now - 1;
	for (; fin->n < count && s != DCF_NONE; fin->n++) {
		fin->slot[fin->n] = s;
		fin->id[fin->n] = w->sg.tasks[s].id;
		fin->result[fin->n] = tu_result(w->sg.tasks[s].id);
		s = w->sg.tasks[s].next_owned;
	}
}

/* The i-th slot of node n's chain. */
static uint32_t
chain_at(struct world *w, uint32_t n, uint32_t i)
{
	uint32_t s = w->sg.nodes[n].task_slot;

	while (i-- > 0)
		s = w->sg.tasks[s].next_owned;
	return s;
}

static void
w_complete(struct world *w, uint32_t n)
{
	struct dcf_finished fin;
	struct dcf_claims cs;

	chain_fin(w, n, w->sg.nodes[n].held, &fin);
	assert_int_equal(dcf_complete_claim_locked(&w->sg, n, gen_of(w, n), 5000 + (pid_t)n,
	                     ++w->now, &fin, 0, &cs),
	    0);
	for (uint32_t i = 0; i < fin.n; i++)
		tu_mark(w->L->completed, fin.id[i]);
	tu_assert_books(&w->sg);
}

/* Node n claims a batch of up to k. */
static uint32_t
w_claim_n(struct world *w, uint32_t n, uint32_t k)
{
	struct dcf_claims cs;

	assert_int_equal(dcf_complete_claim_locked(&w->sg, n, gen_of(w, n), 5000 + (pid_t)n,
	                     ++w->now, NULL, k, &cs),
	    0);
	for (uint32_t i = 0; i < cs.n; i++)
		tu_mark(w->L->executed, cs.t[i].id);
	tu_assert_books(&w->sg);
	return cs.n;
}

static void
w_died(struct world *w, uint32_t n)
{
	struct dcf_reclaim rc;

	assert_int_equal(dcf_node_died_locked(&w->sg, n, gen_of(w, n), w->sg.hdr->cfg.max_attempts,
	                     ++w->now, &rc),
	    0);
	tu_assert_books(&w->sg);
}

static void
w_start(struct world *w, uint32_t n)
{
	assert_int_equal(dcf_node_start_locked(&w->sg, n, gen_of(w, n) + 1, 5000 + (pid_t)n, 1,
	                     ++w->now),
	    0);
	tu_assert_books(&w->sg);
}

static void
w_ready(struct world *w, uint32_t n)
{
	assert_int_equal(dcf_node_ready_locked(&w->sg, n, gen_of(w, n), ++w->now), 0);
	tu_assert_books(&w->sg);
}

static void
w_sleep(struct world *w, uint32_t n)
{
	uint32_t v;

	assert_int_equal(dcf_sleep_begin_locked(&w->sg, n, &v), 0);
	tu_assert_books(&w->sg);
}

/*
 * Bring the books to a plain state: every node alive, idle and awake, every
 * queued task (delayed retries too) run and completed, everything retired.
 */
static void
tidy(struct world *w)
{
	int moved;

	w->sg.hdr->sup_waiting = 0;
	for (uint32_t n = 0; n < W_NODES; n++) {
		uint32_t st = w->sg.nodes[n].state;

		if (st == DCF_NODE_BUSY) {
			w_complete(w, n);
		} else if (st == DCF_NODE_STARTING) {
			w_ready(w, n);
		} else if (st != DCF_NODE_IDLE) {
			w_start(w, n);
			w_ready(w, n);
		}
		dcf_sleep_end_locked(&w->sg, n);
		tu_assert_books(&w->sg);
	}
	/* Retries waiting out a delay: due now. */
	for (uint64_t id; dcf_move_ring_locked(&w->sg, dcf_delay_ring(&w->sg), DCF_RING_RECOVERY,
	                      w->now, &id) == 0;)
		tu_assert_books(&w->sg);
	do {
		moved = 0;
		for (uint32_t n = 0; n < W_NODES; n++) {
			if (w_claim(w, n) == 0) {
				w_complete(w, n);
				moved = 1;
			}
		}
	} while (moved);
	tu_retire_all_locked(&w->sg, w->L, INT_MAX);
	tu_assert_books(&w->sg);
	assert_int_equal(tu_depth(&w->sg, DCF_RING_FREE), w->sg.hdr->cfg.task_slots);
}

/* Preparations: from a tidy state, the state the operation works on. */
static void
prep_none(struct world *w)
{
	(void)w;
}

static void
prep_claim_net(struct world *w)
{
	w_dispatch(w, ring_x(w));
	w_dispatch(w, ring_x(w));
	w_sleep(w, w->x ^ 1); /* the other node of the network sleeps: chain */
}

static void
prep_claim_recovery(struct world *w)
{
	w_dispatch(w, DCF_RING_RECOVERY);
	w_dispatch(w, ring_x(w));
}

static void
prep_busy(struct world *w)
{
	w_dispatch(w, ring_x(w));
	assert_int_equal(w_claim(w, w->x), 0);
}

static void
prep_busy_sup_waiting(struct world *w)
{
	prep_busy(w);
	w->sg.hdr->sup_waiting = 1;
}

static void
prep_done(struct world *w)
{
	prep_busy(w);
	w_complete(w, w->x);
}

static void
prep_last_attempt(struct world *w)
{
	w_dispatch(w, ring_x(w));
	for (uint32_t a = 1; a < w->sg.hdr->cfg.max_attempts; a++) {
		assert_int_equal(w_claim(w, w->x), 0);
		w_died(w, w->x);
		w_start(w, w->x);
		w_ready(w, w->x);
	}
	assert_int_equal(w_claim(w, w->x), 0);
}

/* A failed run put back on the delay ring, as a retry waiting out --retry-delay. */
static void
prep_delayed(struct world *w)
{
	struct dcf_done d;

	prep_done(w);
	assert_int_equal(dcf_retry_locked(&w->sg, dcf_delay_ring(&w->sg), ++w->now, &d), 0);
	w->L->completed[d.id]--;
	tu_assert_books(&w->sg);
}

static void
prep_sleeping(struct world *w)
{
	w_sleep(w, w->x);
}

static void
prep_queued(struct world *w)
{
	w_dispatch(w, ring_x(w));
	w_dispatch(w, ring_x(w));
}

static void
prep_down(struct world *w)
{
	w_died(w, w->x);
}

static void
prep_starting(struct world *w)
{
	w_died(w, w->x);
	w_start(w, w->x);
}

/* Batches: node x holds several tasks. */
static void
prep_batch_claim(struct world *w)
{
	w_dispatch(w, DCF_RING_RECOVERY);
	w_dispatch(w, DCF_RING_RECOVERY);
	for (int i = 0; i < 3; i++)
		w_dispatch(w, ring_x(w));
	w_sleep(w, w->x ^ 1); /* the other node of the network sleeps: chain */
}

static void
prep_busy_one_more(struct world *w)
{
	prep_busy(w);
	w_dispatch(w, ring_x(w));
}

static void
prep_holding3(struct world *w)
{
	for (int i = 0; i < 3; i++)
		w_dispatch(w, ring_x(w));
	assert_int_equal(w_claim_n(w, w->x, 3), 3);
}

static void
prep_holding3_more(struct world *w)
{
	prep_holding3(w);
	w_dispatch(w, DCF_RING_RECOVERY);
	w_dispatch(w, ring_x(w));
	w_dispatch(w, ring_x(w));
	w->sg.hdr->sup_waiting = DCF_SUP_WAKE_DONE;
}

/* Four held, the worker on the second (what it stores without the lock). */
static void
prep_holding4_running2(struct world *w)
{
	w_dispatch(w, DCF_RING_RECOVERY);
	for (int i = 0; i < 3; i++)
		w_dispatch(w, ring_x(w));
	w_dispatch(w, ring_x(w)); /* one queued behind them */
	assert_int_equal(w_claim_n(w, w->x, 4), 4);
	w->sg.nodes[w->x].run_slot = chain_at(w, w->x, 1);
}

static void
prep_holding4_last_attempt(struct world *w)
{
	prep_holding4_running2(w);
	w->sg.tasks[chain_at(w, w->x, 1)].attempts = w->sg.hdr->cfg.max_attempts - 1;
}

static void
prep_done3(struct world *w)
{
	prep_holding3(w);
	w_complete(w, w->x);
}

/* The operations under test; everything they use is read from the books. */
static int
act_dispatch_net(struct world *w, struct act_out *o)
{
	(void)o;
	return dcf_dispatch_locked(&w->sg, ring_x(w), w->now);
}

static int
act_dispatch_recovery(struct world *w, struct act_out *o)
{
	(void)o;
	return dcf_dispatch_locked(&w->sg, DCF_RING_RECOVERY, w->now);
}

static int
act_claim(struct world *w, struct act_out *o)
{
	return dcf_claim_locked(&w->sg, w->x, gen_of(w, w->x), 5000 + (pid_t)w->x, w->now, &o->cl);
}

static int
act_complete(struct world *w, struct act_out *o)
{
	uint32_t slot = w->sg.nodes[w->x].task_slot;

	o->id = w->sg.tasks[slot].id;
	return dcf_complete_locked(&w->sg, w->x, gen_of(w, w->x), slot, o->id, tu_result(o->id),
	    &o->wake);
}

static int
act_claim4(struct world *w, struct act_out *o)
{
	return dcf_complete_claim_locked(&w->sg, w->x, gen_of(w, w->x), 5000 + (pid_t)w->x, w->now,
	    NULL, 4, &o->cs);
}

/* Report the whole chain, and claim up to 4 more. */
static int
act_turn(struct world *w, struct act_out *o)
{
	chain_fin(w, w->x, w->sg.nodes[w->x].held, &o->fin);
	return dcf_complete_claim_locked(&w->sg, w->x, gen_of(w, w->x), 5000 + (pid_t)w->x, w->now,
	    &o->fin, 4, &o->cs);
}

static int
act_complete_all(struct world *w, struct act_out *o)
{
	chain_fin(w, w->x, w->sg.nodes[w->x].held, &o->fin);
	return dcf_complete_claim_locked(&w->sg, w->x, gen_of(w, w->x), 5000 + (pid_t)w->x, w->now,
	    &o->fin, 0, &o->cs);
}

/* The first task finished (the worker is on the second): the rest given back. */
static int
act_give_back(struct world *w, struct act_out *o)
{
	chain_fin(w, w->x, 1, &o->fin);
	return dcf_give_back_locked(&w->sg, w->x, gen_of(w, w->x), w->now, &o->fin, &o->g);
}

static int
act_give_back_all(struct world *w, struct act_out *o)
{
	chain_fin(w, w->x, 0, &o->fin);
	return dcf_give_back_locked(&w->sg, w->x, gen_of(w, w->x), w->now, &o->fin, &o->g);
}

static int
act_dispatch5(struct world *w, struct act_out *o)
{
	uint32_t rings[5] = {ring_x(w), DCF_RING_RECOVERY, ring_x(w),
	    DCF_RING_NET0 + (w->sg.nodes[w->x].net ^ 1), ring_x(w)};
	int r = dcf_dispatch_n_locked(&w->sg, rings, 5, w->now);

	o->count = r > 0 ? (uint32_t)r : 0;
	return r == -1 ? -1 : 0;
}

static int
act_retire8(struct world *w, struct act_out *o)
{
	return dcf_retire_n_locked(&w->sg, 8, o->dn, &o->count);
}

static int
act_retire(struct world *w, struct act_out *o)
{
	return dcf_retire_locked(&w->sg, &o->d);
}

static int
act_retry_net(struct world *w, struct act_out *o)
{
	return dcf_retry_locked(&w->sg, ring_x(w), w->now, &o->d);
}

static int
act_retry_delay(struct world *w, struct act_out *o)
{
	return dcf_retry_locked(&w->sg, dcf_delay_ring(&w->sg), w->now, &o->d);
}

static int
act_undelay(struct world *w, struct act_out *o)
{
	return dcf_move_ring_locked(&w->sg, dcf_delay_ring(&w->sg), ring_x(w), w->now, &o->id);
}

static int
act_skip(struct world *w, struct act_out *o)
{
	(void)o;
	return dcf_skip_locked(&w->sg, 3);
}

static int
act_died(struct world *w, struct act_out *o)
{
	return dcf_node_died_locked(&w->sg, w->x, gen_of(w, w->x), w->sg.hdr->cfg.max_attempts,
	    w->now, &o->rc);
}

static int
act_move(struct world *w, struct act_out *o)
{
	return dcf_move_locked(&w->sg, w->sg.nodes[w->x].net, w->now, &o->id);
}

static int
act_sleep(struct world *w, struct act_out *o)
{
	return dcf_sleep_begin_locked(&w->sg, w->x, &o->word);
}

static int
act_wake(struct world *w, struct act_out *o)
{
	(void)o;
	dcf_sleep_end_locked(&w->sg, w->x);
	return 0;
}

static int
act_start(struct world *w, struct act_out *o)
{
	(void)o;
	return dcf_node_start_locked(&w->sg, w->x, gen_of(w, w->x) + 1, 5000 + (pid_t)w->x, 1,
	    w->now);
}

static int
act_ready(struct world *w, struct act_out *o)
{
	(void)o;
	return dcf_node_ready_locked(&w->sg, w->x, gen_of(w, w->x), w->now);
}

static int
act_stop(struct world *w, struct act_out *o)
{
	(void)o;
	return dcf_node_set_state_locked(&w->sg, w->x, DCF_NODE_STOPPED);
}

/* What the reference run must have said, per path. */
enum expect {
	E_NONE,
	E_CHAIN,
	E_FROM_RECOVERY,
	E_WAKE_SUP,
	E_REQUEUED,
	E_QUARANTINED,
	E_NO_TASK,
	E_CLAIMED4,   /* 2 from recovery, then 2 from its network, and a chain wake */
	E_TURN,       /* 3 reported, 3 claimed (1 from recovery), the supervisor told */
	E_COMPLETED3, /* 3 reported, none claimed */
	E_ONE_ONE,    /* 1 reported, 1 claimed */
	E_GAVE3,      /* 3 given back: 2 to its ring, 1 to recovery... */
	E_GAVE4,
	E_DISPATCHED5,
	E_RETIRED3,
	E_HELD4,   /* a death holding 4: one attempt, 3 requeued */
	E_HELD4_Q, /* the same with the running one quarantined */
};

static const struct variant {
	const char *name;
	int op;
	int has_locked; /* passes DCF_STEP_LOCKED before any check */
	void (*prep)(struct world *);
	int (*act)(struct world *, struct act_out *);
	enum expect expect;
} variants[] = {
    {"dispatch to a network", DCF_OP_DISPATCH, 1, prep_none, act_dispatch_net, E_NONE},
    {"dispatch to recovery", DCF_OP_DISPATCH, 1, prep_none, act_dispatch_recovery, E_NONE},
    {"claim from a network", DCF_OP_CLAIM, 1, prep_claim_net, act_claim, E_CHAIN},
    {"claim from recovery", DCF_OP_CLAIM, 1, prep_claim_recovery, act_claim, E_FROM_RECOVERY},
    {"complete", DCF_OP_COMPLETE, 1, prep_busy, act_complete, E_NONE},
    {"complete, supervisor waiting", DCF_OP_COMPLETE, 1, prep_busy_sup_waiting, act_complete,
        E_WAKE_SUP},
    {"retire", DCF_OP_RETIRE, 1, prep_done, act_retire, E_NONE},
    {"retry on its network", DCF_OP_RETIRE, 1, prep_done, act_retry_net, E_NONE},
    {"retry after a delay", DCF_OP_RETIRE, 1, prep_done, act_retry_delay, E_NONE},
    {"retry's delay over", DCF_OP_MOVE, 1, prep_delayed, act_undelay, E_NONE},
    {"skip ids", DCF_OP_DISPATCH, 0, prep_none, act_skip, E_NONE},
    {"reclaim a running task", DCF_OP_RECLAIM, 1, prep_busy, act_died, E_REQUEUED},
    {"quarantine at max attempts", DCF_OP_RECLAIM, 1, prep_last_attempt, act_died, E_QUARANTINED},
    {"death of a sleeping node", DCF_OP_RECLAIM, 1, prep_sleeping, act_died, E_NO_TASK},
    {"move to recovery", DCF_OP_MOVE, 1, prep_queued, act_move, E_NONE},
    {"sleep", DCF_OP_SLEEP, 1, prep_none, act_sleep, E_NONE},
    {"wake", DCF_OP_WAKE, 1, prep_sleeping, act_wake, E_NONE},
    {"node restart", DCF_OP_NODE, 1, prep_down, act_start, E_NONE},
    {"node ready", DCF_OP_NODE, 0, prep_starting, act_ready, E_NONE},
    {"node stop", DCF_OP_NODE, 0, prep_sleeping, act_stop, E_NONE},
    {"batched claim, recovery then network", DCF_OP_CLAIM, 1, prep_batch_claim, act_claim4,
        E_CLAIMED4},
    {"complete one, claim one", DCF_OP_TURN, 1, prep_busy_one_more, act_turn, E_ONE_ONE},
    {"batched complete + claim", DCF_OP_TURN, 1, prep_holding3_more, act_turn, E_TURN},
    {"batched complete", DCF_OP_COMPLETE, 1, prep_holding3, act_complete_all, E_COMPLETED3},
    {"give back, one finished", DCF_OP_GIVEBACK, 1, prep_holding4_running2, act_give_back, E_GAVE3},
    {"give back, none finished", DCF_OP_GIVEBACK, 1, prep_holding4_running2, act_give_back_all,
        E_GAVE4},
    {"batched dispatch", DCF_OP_DISPATCH, 1, prep_none, act_dispatch5, E_DISPATCHED5},
    {"batched retire", DCF_OP_RETIRE, 1, prep_done3, act_retire8, E_RETIRED3},
    {"death holding 4, running the 2nd", DCF_OP_RECLAIM, 1, prep_holding4_running2, act_died,
        E_HELD4},
    {"death holding 4, the running one's last attempt", DCF_OP_RECLAIM, 1,
        prep_holding4_last_attempt, act_died, E_HELD4_Q},
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

static void
check_expect(const struct variant *v, const struct act_out *o)
{
	int ok = 1;

	switch (v->expect) {
	case E_NONE:
		break;
	case E_CHAIN:
		ok = o->cl.chain && !o->cl.from_recovery;
		break;
	case E_FROM_RECOVERY:
		ok = o->cl.from_recovery;
		break;
	case E_WAKE_SUP:
		ok = o->wake == 1;
		break;
	case E_REQUEUED:
		ok = o->rc.had_task && !o->rc.quarantined;
		break;
	case E_QUARANTINED:
		ok = o->rc.had_task && o->rc.quarantined;
		break;
	case E_NO_TASK:
		ok = !o->rc.had_task;
		break;
	case E_CLAIMED4:
		ok = o->cs.n == 4 && o->cs.t[0].from_recovery && o->cs.t[1].from_recovery &&
		    !o->cs.t[2].from_recovery && !o->cs.t[3].from_recovery && o->cs.chain;
		break;
	case E_TURN:
		ok = o->fin.n == 3 && o->cs.n == 3 && o->cs.t[0].from_recovery && o->cs.wake_sup;
		break;
	case E_COMPLETED3:
		ok = o->fin.n == 3 && o->cs.n == 0;
		break;
	case E_ONE_ONE:
		ok = o->fin.n == 1 && o->cs.n == 1;
		break;
	case E_GAVE3:
		ok = o->fin.n == 1 && o->g.returned == 3 && o->g.to_recovery == 0 &&
		    o->g.to_own == 3;
		break;
	case E_GAVE4:
		ok = o->g.returned == 4 && o->g.to_recovery == 1 && o->g.to_own == 3;
		break;
	case E_DISPATCHED5:
		ok = o->count == 5;
		break;
	case E_RETIRED3:
		ok = o->count == 3;
		break;
	case E_HELD4:
		ok = o->rc.had_task && !o->rc.quarantined && o->rc.attempts == 1 &&
		    o->rc.requeued == 3;
		break;
	case E_HELD4_Q:
		ok = o->rc.had_task && o->rc.quarantined && o->rc.requeued == 3;
		break;
	}
	if (!ok)
		fail_msg("%s: the operation did not take the path under test", v->name);
}

/*
 * Run v in a child armed to die at step. Then, as the survivor: lock
 * (repairing), and check that the books are exactly *s0 or *s1 as the step
 * says, consistent, repaired once if the child died holding the lock.
 * Returns the journal length the dead child left published (0 if none).
 */
static uint32_t
kill_at(struct world *w, const struct variant *v, int step, int reached, const struct tu_img *s0,
    const struct tu_img *s1, int restore)
{
	struct dcf_hdr *h = w->sg.hdr;
	int holding = reached && step != DCF_STEP_UNLOCKED;
	int published = reached && step >= DCF_STEP_PUBLISHED && step <= DCF_STEP_APPLIED;
	int applying = reached && step >= DCF_STEP_APPLY(0) && step <= DCF_STEP_APPLIED;
	uint32_t wake0[2], n;
	uint64_t repairs = h->cnt.repairs;
	pid_t pid;
	int st;

	pid = tu_fork();
	if (pid == 0) {
		struct act_out o;
		int r;

		dcf_seg_close_fd(&w->sg);
		dcf_inject_arm(v->op, step, 1);
		if (dcf_lock(&w->sg) == -1)
			_exit(TU_EX_NOTREC);
		r = v->act(w, &o);
		dcf_unlock(&w->sg);
		DCF_INJECT(v->op, DCF_STEP_UNLOCKED);
		_exit(r == 0 ? TU_EX_NOTREACHED : TU_EX_FAIL);
	}
	st = tu_waitpid(pid);
	if (reached) {
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
			fail_msg("%s, step %s: child %s, expected SIGKILL", v->name,
			    step_name(step), tu_status_str(st));
		w->kills++;
		w->holder_kills += holding;
		w->kills_by_op[v->op]++;
	} else {
		if (!WIFEXITED(st) || WEXITSTATUS(st) != TU_EX_NOTREACHED)
			fail_msg("%s, step %s: child %s, expected it to finish", v->name,
			    step_name(step), tu_status_str(st));
		w->not_reached++;
	}
	/* What the dead left: a published record exactly between publish and clear. */
	n = h->wal.n;
	if (published != (n > 0))
		fail_msg("%s, step %s: journal length %u left behind", v->name, step_name(step), n);
	if (applying != (int)(h->seq & 1))
		fail_msg("%s, step %s: seq %llu", v->name, step_name(step),
		    (unsigned long long)h->seq);
	wake0[0] = w->sg.nets[0].wake;
	wake0[1] = w->sg.nets[1].wake;

	tu_lock(&w->sg);
	assert_int_equal(h->cnt.repairs, repairs + (uint64_t)holding);
	if (holding && (w->sg.nets[0].wake == wake0[0] || w->sg.nets[1].wake == wake0[1]))
		fail_msg("%s, step %s: the repair woke nobody", v->name, step_name(step));
	assert_int_equal(h->wal.n, 0);
	assert_int_equal(h->seq & 1, 0);
	tu_assert_books(&w->sg);
	{
		const struct tu_img *want = reached && step < DCF_STEP_PUBLISHED ? s0 : s1;
		const char *d = tu_books_diff(&w->sg, want);

		if (d != NULL)
			fail_msg("%s, step %s: books are not the books %s the operation: %s",
			    v->name, step_name(step), want == s0 ? "before" : "after", d);
	}
	if (restore)
		tu_img_restore(&w->sg, s0);
	dcf_unlock(&w->sg);
	return n;
}

/* Every step of one operation path; returns its journal length. Lock held on entry. */
static uint32_t
sweep(struct world *w, const struct variant *v)
{
	struct tu_img s0 = {NULL, 0}, s1 = {NULL, 0};
	struct act_out ref;
	uint32_t n;

	tidy(w);
	v->prep(w);
	w->now++;
	/* The reference: the operation done whole, by us. */
	tu_img_take(&s0, &w->sg);
	memset(&ref, 0, sizeof(ref));
	if (v->act(w, &ref) != 0)
		fail_msg("%s: %s", v->name, strerror(errno));
	check_expect(v, &ref);
	tu_assert_books(&w->sg);
	tu_img_take(&s1, &w->sg);
	tu_img_restore(&w->sg, &s0);
	dcf_unlock(&w->sg);

	kill_at(w, v, DCF_STEP_LOCKED, v->has_locked, &s0, &s1, 1);
	kill_at(w, v, DCF_STEP_BUILT, 1, &s0, &s1, 1);
	n = kill_at(w, v, DCF_STEP_PUBLISHED, 1, &s0, &s1, 1);
	assert_true(n >= 1 && n <= DCF_WAL_MAX);
	for (uint32_t k = 0; k < n; k++)
		kill_at(w, v, DCF_STEP_APPLY((int)k), 1, &s0, &s1, 1);
	kill_at(w, v, DCF_STEP_APPLY((int)n), 0, &s0, &s1, 1); /* there is no store n */
	kill_at(w, v, DCF_STEP_APPLIED, 1, &s0, &s1, 1);
	kill_at(w, v, DCF_STEP_CLEARED, 1, &s0, &s1, 1);
	kill_at(w, v, DCF_STEP_UNLOCKED, 1, &s0, &s1, 0); /* the books stay as after */

	/* The ledger learns what the operation did, as the survivor sees it. */
	for (uint32_t i = 0; i < ref.cs.n; i++)
		tu_mark(w->L->executed, ref.cs.t[i].id);
	if (v->act == act_turn || v->act == act_complete_all || v->act == act_give_back)
		for (uint32_t i = 0; i < ref.fin.n; i++)
			tu_mark(w->L->completed, ref.fin.id[i]);
	if (v->act == act_retire8)
		for (uint32_t i = 0; i < ref.count; i++)
			tu_mark(w->L->retired, ref.dn[i].id);
	if (v->act == act_claim)
		tu_mark(w->L->executed, ref.cl.id);
	else if (v->act == act_complete)
		tu_mark(w->L->completed, ref.id);
	else if (v->act == act_retire)
		tu_mark(w->L->retired, ref.d.id);
	else if (v->act == act_retry_net || v->act == act_retry_delay)
		w->L->completed[ref.d
		                    .id]--; /* that run's completion is taken back: it runs again */
	tu_img_free(&s0);
	tu_img_free(&s1);
	return n;
}

static void
test_every_point(void **state)
{
	const unsigned rounds = 4;
	struct dcf_config c;
	struct world *w = calloc(1, sizeof(*w));
	uint32_t nlen[NVARIANTS] = {0};
	unsigned expect_kills = 0;
	char err[DCF_ERRLEN];
	uint64_t t0 = dcf_now_ns();
	(void)state;

	assert_non_null(w);
	tu_config(&c);
	c.task_slots = 16;
	c.tasks = 400;
	tu_seg_create(&w->sg, "every", &c);
	w->L = tu_ledger_new(c.tasks);
	tu_lock(&w->sg);
	for (uint32_t n = 0; n < W_NODES; n++)
		tu_node_up_locked(&w->sg, n, 1, 0);
	dcf_unlock(&w->sg);

	for (unsigned r = 0; r < rounds; r++) {
		w->x = r % W_NODES;
		if (r % 2 == 1) {
			/* This round's counters cross 2^32 within a few operations. */
			tu_lock(&w->sg);
			tidy(w);
			tu_rebase_rings(&w->sg, UINT32_MAX - 2 - r);
			tu_assert_books(&w->sg);
			dcf_unlock(&w->sg);
		}
		for (size_t i = 0; i < NVARIANTS; i++) {
			uint32_t n;

			tu_lock(&w->sg);
			n = sweep(w, &variants[i]);
			/* The same path writes the same number of stores every time. */
			if (r == 0)
				nlen[i] = n;
			else if (n != nlen[i])
				fail_msg("%s: %u stores in round %u, %u before", variants[i].name,
				    n, r, nlen[i]);
			expect_kills += (unsigned)variants[i].has_locked + n + 5;
		}
	}
	/* (Each kill checked its own repair: restoring images rewinds the counter.) */
	assert_int_equal(w->kills, expect_kills);
	for (int op = 0; op < DCF_OP_COUNT; op++)
		if (w->kills_by_op[op] == 0)
			fail_msg("no kill in operation %s", dcf_op_name(op));

	/* And on from there: every task to its end, exactly once. */
	tu_lock(&w->sg);
	while (w->sg.hdr->cnt.next_id < c.tasks) {
		while (w->sg.hdr->cnt.next_id < c.tasks && tu_depth(&w->sg, DCF_RING_FREE) > 0)
			w_dispatch(w,
			    w->sg.hdr->cnt.next_id % 5 == 0
			        ? DCF_RING_RECOVERY
			        : DCF_RING_NET0 + (uint32_t)(w->sg.hdr->cnt.next_id % 2));
		tidy(w);
	}
	assert_int_equal(w->sg.hdr->cnt.quarantined, 2 * rounds); /* two paths quarantine */
	if (tu_ledger_verify(&w->sg, w->L, 0, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	dcf_unlock(&w->sg);
	printf("    %u kills (%u holding the lock), %u points not reached as expected, %.2f s\n",
	    w->kills, w->holder_kills, w->not_reached, (double)(dcf_now_ns() - t0) / 1e9);
	printf("    stores per path:");
	for (size_t i = 0; i < NVARIANTS; i++)
		printf(" %u", nlen[i]);
	printf("\n");
	tu_ledger_free(w->L);
	dcf_seg_destroy(&w->sg);
	free(w);
}

/* ==== real workers killed at their own crash points ==================== */

#define WL_NODES       6 /* 2 networks x 3 */
#define WL_OUTSTANDING 6

struct point {
	int op, step;
	unsigned long count;
};

struct workload {
	struct dcf_seg sg;
	struct tu_ledger *L;
	pid_t pid[WL_NODES];
	uint32_t gen[WL_NODES];
	struct point armed[WL_NODES]; /* op -1: not armed */
	struct point sched[96];
	unsigned hits[96];
	int sched_of[WL_NODES];
	size_t nsched;
	unsigned target, armed_spawns;
	unsigned kills, holder_kills, restarts, had_task, quarantined, stops;
	int stopping, alive;
	uint32_t kmax;        /* the workers' largest batch (turn.h) */
	uint32_t outstanding; /* tasks dispatched and not yet completed, at most */
	uint32_t slow_every;  /* tu_worker's */
};

/*
 * Every crash point of a worker's critical sections, one task a batch. The
 * numbers of stores are those the every-point sweep measures: claim 19,
 * complete 13 (14 when the supervisor waits), complete one + claim one 24,
 * sleep 2, wake 2, ready 1.
 */
static void
build_schedule(struct workload *wl)
{
	static const struct {
		int op, napply, locked, unlocked;
	} ops[] = {
	    {DCF_OP_CLAIM, 19, 1, 1}, {DCF_OP_COMPLETE, 13, 1, 1}, {DCF_OP_TURN, 24, 1, 0},
	    {DCF_OP_SLEEP, 2, 1, 1}, {DCF_OP_WAKE, 2, 1, 0},
	    {DCF_OP_NODE, 1, 0, 0}, /* dcf_node_ready_locked */
	};

	wl->nsched = 0;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		int steps[40], ns = 0;

		if (ops[i].locked)
			steps[ns++] = DCF_STEP_LOCKED;
		steps[ns++] = DCF_STEP_BUILT;
		steps[ns++] = DCF_STEP_PUBLISHED;
		for (int k = 0; k < ops[i].napply; k++)
			steps[ns++] = DCF_STEP_APPLY(k);
		steps[ns++] = DCF_STEP_APPLIED;
		steps[ns++] = DCF_STEP_CLEARED;
		if (ops[i].unlocked)
			steps[ns++] = DCF_STEP_UNLOCKED;
		for (int s = 0; s < ns; s++) {
			assert_true(wl->nsched < sizeof(wl->sched) / sizeof(wl->sched[0]));
			wl->sched[wl->nsched].op = ops[i].op;
			wl->sched[wl->nsched].step = steps[s];
			wl->nsched++;
		}
	}
}

static void
wl_spawn(struct workload *wl, uint32_t n, int restart)
{
	struct tu_worker wk = {&wl->sg, wl->L, n, ++wl->gen[n], 0, 0, 0, wl->kmax, wl->slow_every,
	    0};

	tu_lock(&wl->sg);
	assert_int_equal(dcf_node_start_locked(&wl->sg, n, wk.gen, 0, restart, dcf_now_ns()), 0);
	tu_assert_books(&wl->sg);
	dcf_unlock(&wl->sg);
	wl->armed[n].op = -1;
	wl->sched_of[n] = -1;
	if (wl->armed_spawns < wl->target) {
		unsigned k = wl->armed_spawns++;
		struct point p = wl->sched[k % wl->nsched];

		/* Die at the first, second or third time through the point. */
		p.count = p.op == DCF_OP_NODE ? 1 : 1 + (k / wl->nsched) % 3;
		wk.arm_op = p.op;
		wk.arm_step = p.step;
		wk.arm_count = p.count;
		wl->armed[n] = p;
		wl->sched_of[n] = (int)(k % wl->nsched);
	}
	wl->pid[n] = tu_spawn_worker(&wk);
	wl->alive++;
}

/* The mini supervisor's reaper: one ended worker. */
static void
wl_reaped(struct workload *wl, pid_t pid, int st)
{
	struct dcf_reclaim rc;
	char err[DCF_ERRLEN];
	uint32_t n;

	for (n = 0; n < WL_NODES && wl->pid[n] != pid; n++)
		;
	if (n >= WL_NODES) {
		fail_msg("reaped a child that is no worker: %d", (int)pid);
		return; /* not reached: fail_msg longjmps */
	}
	wl->pid[n] = 0;
	wl->alive--;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && wl->armed[n].op >= 0) {
		wl->kills++;
		wl->holder_kills += wl->armed[n].step != DCF_STEP_UNLOCKED;
		wl->hits[wl->sched_of[n]]++;
		if (tu_node_died(&wl->sg, n, wl->gen[n], &rc, err, sizeof(err)) == -1)
			fail_msg("after node %u died at %s %s: %s", n, dcf_op_name(wl->armed[n].op),
			    step_name(wl->armed[n].step), err);
		wl->had_task += rc.had_task;
		wl->quarantined += rc.quarantined;
		if (!wl->stopping) {
			wl_spawn(wl, n, 1);
			wl->restarts++;
		}
		return;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == TU_EX_OK && wl->stopping) {
		tu_lock(&wl->sg);
		assert_int_equal(wl->sg.nodes[n].task_slot, DCF_NONE);
		assert_int_equal(dcf_node_set_state_locked(&wl->sg, n, DCF_NODE_STOPPED), 0);
		tu_assert_books(&wl->sg);
		dcf_unlock(&wl->sg);
		wl->stops++;
		return;
	}
	fail_msg("worker of node %u: %s (armed: %s)", n, tu_status_str(st),
	    wl->armed[n].op >= 0 ? step_name(wl->armed[n].step) : "no");
}

/*
 * The mini supervisor: dispatch (a few tasks outstanding, so that workers
 * often sleep), retire into the ledger, now and then move a queued task to
 * the recovery ring, reap and restart; stop when every task is retired or
 * quarantined. It sleeps on the ledger's word: completions it asked for and
 * SIGCHLD both bump it.
 */
/* The level each id was dispatched at (wl_run). */
static uint32_t
wl_level(uint64_t id)
{
	return (uint32_t)(id / 3 % DCF_LEVELS);
}

/* Under the lock: every task in the books still has its level, whatever died holding it. */
static void
wl_check_levels(struct workload *wl)
{
	for (uint32_t k = 0; k < wl->sg.cfg.task_slots; k++) {
		const struct dcf_task *t = &wl->sg.tasks[k];

		if (t->state != DCF_TASK_FREE && t->prio != wl_level(t->id))
			fail_msg("task %llu has level %u, dispatched at %u",
			    (unsigned long long)t->id, t->prio, wl_level(t->id));
	}
}

static void
wl_run(struct workload *wl, uint64_t deadline)
{
	struct dcf_hdr *h = wl->sg.hdr;
	const struct dcf_config *c = &h->cfg;

	for (uint64_t iter = 0;; iter++) {
		uint32_t e = __atomic_load_n(&wl->L->ev, __ATOMIC_SEQ_CST);
		uint8_t woke[DCF_MAX_RINGS] = {0};
		int st, retired, sent = 0, stop_now = 0, idle;
		struct timespec ts;
		pid_t pid;

		while ((pid = tu_reap_any(&st)) > 0)
			wl_reaped(wl, pid, st);
		if (wl->stopping && wl->alive == 0)
			return;
		tu_lock(&wl->sg);
		retired = tu_retire_all_locked(&wl->sg, wl->L, INT_MAX);
		if (!wl->stopping) {
			while (h->cnt.next_id < c->tasks &&
			    h->cnt.next_id - h->cnt.completed - h->cnt.quarantined <
			        wl->outstanding) {
				uint64_t id = h->cnt.next_id;
				/* Every level: reclaims and moves keep each task's. */
				uint32_t ring = dcf_ring_of(c->nets, wl_level(id),
				    id % 11 == 5 ? DCF_NONE : (uint32_t)(id % c->nets));

				assert_int_equal(dcf_dispatch_locked(&wl->sg, ring, dcf_now_ns()),
				    0);
				woke[ring] = 1;
				sent++;
			}
			if (iter % 7 == 3) {
				uint64_t id;

				if (dcf_move_locked(&wl->sg, (uint32_t)(iter % c->nets),
				        dcf_now_ns(), &id) == 0)
					woke[DCF_RING_RECOVERY] = 1; /* wakes every network */
			}
			if (h->cnt.retired + h->cnt.quarantined == c->tasks) {
				__atomic_store_n(&h->sys_state, DCF_SYS_STOPPING, __ATOMIC_RELEASE);
				wl->stopping = stop_now = 1;
			}
		}
		tu_assert_books(&wl->sg);
		wl_check_levels(wl);
		idle = retired == 0 && sent == 0 && !stop_now;
		if (idle)
			h->sup_waiting = 1;
		dcf_unlock(&wl->sg);
		for (uint32_t r = DCF_RING_RECOVERY; r < h->nrings; r++)
			if (woke[r])
				dcf_books_wake_ring(&wl->sg, r);
		if (stop_now)
			dcf_books_wake_all(&wl->sg);
		if (!idle)
			continue;
		if (!tu_time_left(deadline, &ts))
			fail_msg("hung: dispatched %llu, completed %llu, retired %llu, quarantined "
			         "%llu; "
			         "%u kills",
			    (unsigned long long)h->cnt.next_id,
			    (unsigned long long)h->cnt.completed,
			    (unsigned long long)h->cnt.retired,
			    (unsigned long long)h->cnt.quarantined, wl->kills);
		dcf_futex_wait(&wl->L->ev, e, &ts);
	}
}

static void
test_workers_killed(void **state)
{
	struct dcf_config c;
	struct workload *wl = calloc(1, sizeof(*wl));
	struct dcf_hdr *h;
	char err[DCF_ERRLEN];
	uint64_t t0 = dcf_now_ns();
	unsigned long mine = tu_repairs_here;
	unsigned missed = 0;
	(void)state;

	assert_non_null(wl);
	tu_config(&c);
	c.nodes_per_net = 3;
	c.max_nodes = WL_NODES;
	c.task_slots = 64;
	c.tasks = 20000;
	tu_seg_create(&wl->sg, "workers", &c);
	h = wl->sg.hdr;
	wl->L = tu_ledger_new(c.tasks);
	wl->kmax = 1; /* one task a batch: the paths the schedule counts */
	wl->outstanding = WL_OUTSTANDING;
	build_schedule(wl);
	wl->target = 6 * (unsigned)wl->nsched;
	tu_sigchld_word(&wl->L->ev);
	for (uint32_t n = 0; n < WL_NODES; n++)
		wl_spawn(wl, n, 0);
	wl_run(wl, tu_deadline(120000));
	tu_sigchld_word(NULL);

	/* Every armed worker died at its point, but those still at work when all was done. */
	assert_int_equal(wl->armed_spawns, wl->target);
	assert_true(wl->kills + WL_NODES >= wl->target);
	for (size_t i = 0; i < wl->nsched; i++)
		missed += wl->hits[i] == 0;
	tu_lock(&wl->sg);
	tu_assert_books(&wl->sg);
	/* One repair per death under the lock, by whoever locked next: workers and us. */
	mine = tu_repairs_here - mine;
	assert_int_equal(h->cnt.repairs, wl->holder_kills);
	assert_int_equal(h->cnt.repairs, wl->L->stat[TU_ST_REPAIRS] + mine);
	assert_int_equal(h->cnt.failures, wl->kills);
	assert_int_equal(h->cnt.restarts, wl->restarts);
	assert_int_equal(h->cnt.quarantined, wl->quarantined);
	assert_int_equal(h->cnt.reclaimed, wl->had_task - wl->quarantined);
	assert_int_equal(wl->stops + wl->kills, wl->restarts + WL_NODES);
	if (tu_ledger_verify(&wl->sg, wl->L, 0, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	dcf_unlock(&wl->sg);
	printf("    %u kills (%u holding the lock) at %zu points, %u points never hit; %llu "
	       "reclaimed, "
	       "%llu quarantined; repairs: %llu by workers, %lu by the supervisor; %.2f s\n",
	    wl->kills, wl->holder_kills, wl->nsched, missed, (unsigned long long)h->cnt.reclaimed,
	    (unsigned long long)h->cnt.quarantined, (unsigned long long)wl->L->stat[TU_ST_REPAIRS],
	    mine, (double)(dcf_now_ns() - t0) / 1e9);
	assert_int_equal(missed, 0);
	assert_true(mine > 0 && wl->L->stat[TU_ST_REPAIRS] > 0);
	tu_ledger_free(wl->L);
	dcf_seg_destroy(&wl->sg);
	free(wl);
}

/*
 * The same with batches: workers claim as the real one does (the books size
 * each batch, up to DCF_BATCH_MAX), a deep queue so that batches are large,
 * and every 211th task slow enough to cut its batch short. They are killed at
 * points of the batched claim, the complete + claim, the lone complete and
 * the give-back (a batch's store counts vary: not every point is reached);
 * every id still ends retired exactly once or quarantined.
 */
static void
build_batch_schedule(struct workload *wl)
{
	static const int ops[] = {DCF_OP_CLAIM, DCF_OP_TURN, DCF_OP_COMPLETE, DCF_OP_GIVEBACK};
	static const int steps[] = {DCF_STEP_LOCKED, DCF_STEP_BUILT, DCF_STEP_PUBLISHED,
	    DCF_STEP_APPLY(0), DCF_STEP_APPLY(4), DCF_STEP_APPLY(9), DCF_STEP_APPLY(17),
	    DCF_STEP_APPLY(30), DCF_STEP_APPLY(60), DCF_STEP_APPLIED, DCF_STEP_CLEARED};

	wl->nsched = 0;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
			wl->sched[wl->nsched].op = ops[i];
			wl->sched[wl->nsched].step = steps[k];
			wl->nsched++;
		}
}

static void
test_workers_killed_batches(void **state)
{
	struct dcf_config c;
	struct workload *wl = calloc(1, sizeof(*wl));
	struct dcf_hdr *h;
	char err[DCF_ERRLEN];
	uint64_t t0 = dcf_now_ns();
	unsigned long mine = tu_repairs_here;
	(void)state;

	assert_non_null(wl);
	tu_config(&c);
	c.nodes_per_net = 3;
	c.max_nodes = WL_NODES;
	c.task_slots = 256;
	c.tasks = 30000;
	tu_seg_create(&wl->sg, "wbatch", &c);
	h = wl->sg.hdr;
	wl->L = tu_ledger_new(c.tasks);
	wl->kmax = 0;
	wl->outstanding = 200;
	wl->slow_every = 211;
	build_batch_schedule(wl);
	wl->target = 3 * (unsigned)wl->nsched;
	tu_sigchld_word(&wl->L->ev);
	for (uint32_t n = 0; n < WL_NODES; n++)
		wl_spawn(wl, n, 0);
	wl_run(wl, tu_deadline(120000));
	tu_sigchld_word(NULL);

	tu_lock(&wl->sg);
	tu_assert_books(&wl->sg);
	mine = tu_repairs_here - mine;
	assert_int_equal(h->cnt.repairs, wl->holder_kills);
	assert_int_equal(h->cnt.repairs, wl->L->stat[TU_ST_REPAIRS] + mine);
	assert_int_equal(h->cnt.failures, wl->kills);
	assert_int_equal(h->cnt.quarantined, wl->quarantined);
	/* One attempt per death with a task, whatever the batch held. */
	assert_int_equal(h->cnt.reclaimed, wl->had_task - wl->quarantined);
	if (tu_ledger_verify(&wl->sg, wl->L, 0, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	dcf_unlock(&wl->sg);
	printf("    %u kills (%u holding the lock); %llu batches of more than one, %llu cut short; "
	       "%llu reclaimed, %llu quarantined; %.2f s\n",
	    wl->kills, wl->holder_kills, (unsigned long long)wl->L->stat[TU_ST_BATCHES],
	    (unsigned long long)wl->L->stat[TU_ST_GIVEBACKS], (unsigned long long)h->cnt.reclaimed,
	    (unsigned long long)h->cnt.quarantined, (double)(dcf_now_ns() - t0) / 1e9);
	assert_true(wl->kills > wl->nsched);
	assert_true(wl->L->stat[TU_ST_BATCHES] > 0 && wl->L->stat[TU_ST_GIVEBACKS] > 0);
	tu_ledger_free(wl->L);
	dcf_seg_destroy(&wl->sg);
	free(wl);
}

/* ==== small scenarios with real workers on one network =================== */

struct bed {
	struct dcf_seg sg;
	struct tu_ledger *L;
	pid_t pid[4];
	uint32_t gen[4];
	uint64_t deadline;
};

static struct bed *
bed_new(uint32_t nodes, uint64_t tasks)
{
	struct bed *b = calloc(1, sizeof(*b));
	struct dcf_config c;

	assert_non_null(b);
	tu_config(&c);
	c.nets = 1;
	c.nodes_per_net = nodes;
	c.max_nodes = nodes;
	c.task_slots = 16;
	c.tasks = tasks;
	tu_seg_create(&b->sg, "bed", &c);
	b->L = tu_ledger_new(tasks);
	b->deadline = tu_deadline(30000);
	tu_sigchld_word(&b->L->ev);
	return b;
}

/* Start node as its next generation, in a worker armed at (op, step) if op >= 0. */
static pid_t
bed_worker(struct bed *b, uint32_t node, int op, int step)
{
	struct tu_worker wk = {&b->sg, b->L, node, ++b->gen[node], op, step, op >= 0, 1, 0, 0};

	tu_lock(&b->sg);
	assert_int_equal(dcf_node_start_locked(&b->sg, node, wk.gen, 0, wk.gen > 1, dcf_now_ns()),
	    0);
	dcf_unlock(&b->sg);
	b->pid[node] = tu_spawn_worker(&wk);
	return b->pid[node];
}

static void
bed_dispatch(struct bed *b, int n, int wake)
{
	tu_lock(&b->sg);
	for (int i = 0; i < n; i++)
		assert_int_equal(dcf_dispatch_locked(&b->sg, DCF_RING_NET0, dcf_now_ns()), 0);
	tu_assert_books(&b->sg);
	dcf_unlock(&b->sg);
	if (wake)
		dcf_books_wake_ring(&b->sg, DCF_RING_NET0);
}

/* In a child: dispatch one task as the supervisor would, with its crash points. */
static void
child_dispatch(struct bed *b)
{
	TU_CHILD_CHECK(dcf_lock(&b->sg) == 0, "lock: %s", strerror(errno));
	TU_CHILD_CHECK(dcf_dispatch_locked(&b->sg, DCF_RING_NET0, dcf_now_ns()) == 0,
	    "dispatch: %s", strerror(errno));
	dcf_unlock(&b->sg);
	DCF_INJECT(DCF_OP_DISPATCH, DCF_STEP_UNLOCKED);
	dcf_books_wake_ring(&b->sg, DCF_RING_NET0);
}

/* Sleep (on the ledger's word) until k tasks are completed; nobody dies meanwhile. */
static void
bed_wait_completed(struct bed *b, uint64_t k)
{
	for (;;) {
		uint32_t e = __atomic_load_n(&b->L->ev, __ATOMIC_SEQ_CST);
		struct timespec ts;
		int done;

		tu_lock(&b->sg);
		done = b->sg.hdr->cnt.completed >= k;
		if (!done)
			b->sg.hdr->sup_waiting = 1;
		dcf_unlock(&b->sg);
		if (done)
			return;
		if (!tu_time_left(b->deadline, &ts))
			fail_msg("stranded: %llu of %llu completed",
			    (unsigned long long)b->sg.hdr->cnt.completed, (unsigned long long)k);
		dcf_futex_wait(&b->L->ev, e, &ts);
	}
}

/* The queue holds what it held: nobody took the task, node's worker still sleeps. */
static void
bed_assert_stranded(struct bed *b, uint32_t node, uint32_t queued, uint64_t completed)
{
	tu_wait_asleep(&b->sg, b->pid[node], node);
	tu_lock(&b->sg);
	assert_int_equal(tu_depth(&b->sg, DCF_RING_NET0), queued);
	assert_int_equal(b->sg.hdr->cnt.completed, completed);
	tu_assert_books(&b->sg);
	dcf_unlock(&b->sg);
}

/* Stop the workers, reap them (all must exit cleanly), retire, check the ledger. */
static void
bed_finish(struct bed *b)
{
	char err[DCF_ERRLEN];

	tu_lock(&b->sg);
	__atomic_store_n(&b->sg.hdr->sys_state, DCF_SYS_STOPPING, __ATOMIC_RELEASE);
	dcf_unlock(&b->sg);
	dcf_books_wake_all(&b->sg);
	for (uint32_t n = 0; n < b->sg.hdr->cfg.max_nodes; n++) {
		if (b->pid[n] <= 0)
			continue;
		tu_assert_exit(tu_waitpid(b->pid[n]), TU_EX_OK);
		b->pid[n] = 0;
		tu_lock(&b->sg);
		assert_int_equal(dcf_node_set_state_locked(&b->sg, n, DCF_NODE_STOPPED), 0);
		dcf_unlock(&b->sg);
	}
	tu_sigchld_word(NULL);
	tu_lock(&b->sg);
	tu_retire_all_locked(&b->sg, b->L, INT_MAX);
	tu_assert_books(&b->sg);
	if (tu_ledger_verify(&b->sg, b->L, 0, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	dcf_unlock(&b->sg);
	tu_ledger_free(b->L);
	dcf_seg_destroy(&b->sg);
	free(b);
}

/*
 * A worker that dies holding a batch of 4, as it starts the second: its
 * death counts one attempt, for the second; the first (run, not reported),
 * the third and fourth (never started) are queued again with their attempts
 * as they were; then every task runs to its end exactly once more.
 */
static void
test_death_holding_batch(void **state)
{
	struct bed *b = bed_new(1, 8);
	struct tu_worker wk = {&b->sg, b->L, 0, ++b->gen[0], 0, 0, 0, 4, 0, 2};
	struct dcf_hdr *h = b->sg.hdr;
	struct dcf_reclaim rc;
	uint32_t attempts = 0, ones = 0, s;
	int st;
	(void)state;

	tu_lock(&b->sg);
	for (int i = 0; i < 8; i++)
		assert_int_equal(dcf_dispatch_locked(&b->sg, DCF_RING_NET0, dcf_now_ns()), 0);
	/* As if tasks had run for a while: they are short, and batched. */
	b->sg.nets[0].run_avg_ns = 1000;
	assert_int_equal(dcf_node_start_locked(&b->sg, 0, wk.gen, 0, 0, dcf_now_ns()), 0);
	dcf_unlock(&b->sg);
	b->pid[0] = tu_spawn_worker(&wk);
	tu_reap_node(&b->sg, b->pid[0], 0, b->gen[0], &rc, &st);
	tu_assert_killed(st);
	b->pid[0] = 0;
	assert_true(rc.had_task);
	assert_false(rc.quarantined);
	assert_int_equal(rc.attempts, 1);
	assert_int_equal(rc.requeued, 3);
	tu_lock(&b->sg);
	assert_int_equal(h->cnt.running, 0);
	assert_int_equal(h->cnt.reclaimed, 1);
	assert_int_equal(tu_depth(&b->sg, DCF_RING_RECOVERY), 4);
	assert_int_equal(tu_depth(&b->sg, DCF_RING_NET0), 4);
	for (uint32_t i = 0; i < 4; i++) {
		const struct dcf_task *t;

		assert_int_equal(dcf_ring_peek(&b->sg, DCF_RING_RECOVERY, i, &s), 0);
		t = &b->sg.tasks[s];
		attempts += t->attempts;
		ones += t->attempts == 1;
		assert_int_equal(t->id, i); /* in the order they were held */
		assert_int_equal(t->attempts, i == 1 ? 1u : 0u);
		assert_int_equal(t->runs, i <= 1 ? 1u : 0u); /* the unstarted' claims undone */
	}
	assert_int_equal(attempts, 1);
	assert_int_equal(ones, 1);
	dcf_unlock(&b->sg);
	/* A replacement, one task at a time, finishes all 8. */
	bed_worker(b, 0, -1, 0);
	dcf_books_wake_all(&b->sg);
	bed_wait_completed(b, 8);
	bed_finish(b);
}

/* A waiter killed in its futex wait does not swallow the wake-up meant for another. */
static void
test_sleeper_killed(void **state)
{
	struct bed *b = bed_new(2, 2);
	struct dcf_reclaim rc;
	char err[DCF_ERRLEN];
	pid_t a, s;
	(void)state;

	a = bed_worker(b, 0, -1, 0);
	s = bed_worker(b, 1, -1, 0);
	tu_wait_asleep(&b->sg, a, 0);
	tu_wait_asleep(&b->sg, s, 1);
	kill(a, SIGKILL);
	tu_assert_killed(tu_waitpid(a));
	b->pid[0] = 0;
	/* The books still count the dead as asleep; the kernel has dropped it. */
	tu_lock(&b->sg);
	assert_int_equal(b->sg.nets[0].sleepers, 2);
	dcf_unlock(&b->sg);
	bed_dispatch(b, 1, 1); /* wakes one: it must be the live one */
	bed_wait_completed(b, 1);
	/* The reaper takes the dead out of the count. */
	if (tu_node_died(&b->sg, 0, b->gen[0], &rc, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_false(rc.had_task);
	tu_lock(&b->sg);
	assert_int_equal(b->sg.nets[0].sleepers, 1); /* the survivor, asleep again */
	assert_int_equal(b->sg.nets[0].alive, 1);
	dcf_unlock(&b->sg);
	/* The last sleeper killed too; a new worker still gets the next task. */
	tu_wait_asleep(&b->sg, s, 1);
	kill(s, SIGKILL);
	tu_assert_killed(tu_waitpid(s));
	b->pid[1] = 0;
	if (tu_node_died(&b->sg, 1, b->gen[1], &rc, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	bed_worker(b, 0, -1, 0);
	bed_dispatch(b, 1, 1);
	bed_wait_completed(b, 2);
	bed_finish(b);
}

/* A dispatcher killed after unlocking, before its wake: the reaper's wake_all rescues the sleeper. */
static void
test_waker_killed_before_wake(void **state)
{
	struct bed *b = bed_new(1, 1);
	pid_t w, p;
	(void)state;

	w = bed_worker(b, 0, -1, 0);
	tu_wait_asleep(&b->sg, w, 0);
	p = tu_fork();
	if (p == 0) {
		dcf_inject_arm(DCF_OP_DISPATCH, DCF_STEP_UNLOCKED, 1);
		child_dispatch(b);
		_exit(TU_EX_NOTREACHED);
	}
	tu_assert_killed(tu_waitpid(p));
	bed_assert_stranded(b, 0, 1, 0);
	dcf_books_wake_all(&b->sg); /* what the supervisor does after any reaping */
	bed_wait_completed(b, 1);
	bed_finish(b);
}

/* A worker killed before its chained wake: the reaper reclaims its task and wakes the other. */
static void
test_chain_waker_killed(void **state)
{
	struct bed *b = bed_new(2, 2);
	struct dcf_reclaim rc;
	char err[DCF_ERRLEN];
	pid_t a, s;
	(void)state;

	s = bed_worker(b, 1, -1, 0);
	tu_wait_asleep(&b->sg, s, 1);
	bed_dispatch(b, 2, 0); /* queued, nobody told */
	bed_assert_stranded(b, 1, 2, 0);
	a = bed_worker(b, 0, DCF_OP_CLAIM, DCF_STEP_UNLOCKED); /* claims with chain set, dies */
	tu_assert_killed(tu_waitpid(a));
	b->pid[0] = 0;
	bed_assert_stranded(b, 1, 1, 0);
	if (tu_node_died(&b->sg, 0, b->gen[0], &rc, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_true(rc.had_task);
	assert_int_equal(rc.attempts, 1);
	bed_wait_completed(b, 2);
	assert_int_equal(b->L->stat[TU_ST_CHAINS], 0); /* nobody chained: the reaper woke it */
	bed_finish(b);
}

/* A worker killed between completing and waking the waiting supervisor: SIGCHLD wakes it. */
static void
test_completer_killed_before_wake(void **state)
{
	struct bed *b = bed_new(1, 1);
	struct dcf_reclaim rc;
	uint32_t e;
	pid_t a;
	int st;
	(void)state;

	a = bed_worker(b, 0, DCF_OP_COMPLETE, DCF_STEP_UNLOCKED);
	tu_wait_asleep(&b->sg, a, 0);
	e = __atomic_load_n(&b->L->ev, __ATOMIC_SEQ_CST);
	tu_lock(&b->sg);
	assert_int_equal(dcf_dispatch_locked(&b->sg, DCF_RING_NET0, dcf_now_ns()), 0);
	b->sg.hdr->sup_waiting = 1;
	dcf_unlock(&b->sg);
	dcf_books_wake_ring(&b->sg, DCF_RING_NET0);
	/* Asleep until something bumps the word: the completer never will. */
	while (__atomic_load_n(&b->L->ev, __ATOMIC_SEQ_CST) == e) {
		struct timespec ts;

		if (!tu_time_left(b->deadline, &ts))
			fail_msg("the supervisor was never woken");
		dcf_futex_wait(&b->L->ev, e, &ts);
	}
	tu_reap_node(&b->sg, a, 0, b->gen[0], &rc, &st);
	tu_assert_killed(st);
	b->pid[0] = 0;
	assert_false(rc.had_task);
	tu_lock(&b->sg);
	assert_int_equal(b->sg.hdr->cnt.completed, 1); /* it did complete */
	assert_int_equal(b->sg.hdr->sup_waiting, 0);   /* and took the request to wake us */
	assert_int_equal(tu_depth(&b->sg, DCF_RING_DONE), 1);
	dcf_unlock(&b->sg);
	bed_finish(b);
}

/* A holder killed after pushing work, before unlocking: the repairer wakes everyone. */
static void
test_holder_killed_before_wake(void **state)
{
	struct bed *b = bed_new(1, 1);
	pid_t w, p;
	(void)state;

	w = bed_worker(b, 0, -1, 0);
	tu_wait_asleep(&b->sg, w, 0);
	p = tu_fork();
	if (p == 0) {
		dcf_inject_arm(DCF_OP_DISPATCH, DCF_STEP_CLEARED, 1);
		child_dispatch(b);
		_exit(TU_EX_NOTREACHED);
	}
	tu_assert_killed(tu_waitpid(p));
	tu_wait_asleep(&b->sg, w, 0); /* still asleep: the lock is the dead's */
	tu_lock(&b->sg);              /* EOWNERDEAD: repair, wake all */
	assert_int_equal(b->sg.hdr->cnt.repairs, 1);
	assert_int_equal(tu_depth(&b->sg, DCF_RING_NET0), 1);
	dcf_unlock(&b->sg);
	bed_wait_completed(b, 1);
	bed_finish(b);
}

/* trylock meets a dead holder too, and repairs like lock. */
static void
test_trylock_repairs(void **state)
{
	struct bed *b = bed_new(1, 2);
	pid_t p;
	(void)state;

	p = tu_fork();
	if (p == 0) {
		TU_CHILD_CHECK(dcf_lock(&b->sg) == 0, "lock");
		raise(SIGKILL); /* anywhere, not only at a crash point */
	}
	tu_assert_killed(tu_waitpid(p));
	assert_int_equal(dcf_trylock(&b->sg), 0);
	assert_int_equal(b->sg.hdr->cnt.repairs, 1);
	tu_assert_books(&b->sg);
	dcf_unlock(&b->sg);
	/* A published, half-applied retirement: trylock finishes it. */
	bed_worker(b, 0, -1, 0);
	bed_dispatch(b, 2, 1);
	bed_wait_completed(b, 2);
	tu_wait_asleep(&b->sg, b->pid[0], 0); /* nobody else near the lock */
	p = tu_fork();
	if (p == 0) {
		struct dcf_done d;

		dcf_inject_arm(DCF_OP_RETIRE, DCF_STEP_APPLY(0), 1);
		TU_CHILD_CHECK(dcf_lock(&b->sg) == 0, "lock");
		(void)!dcf_retire_locked(&b->sg, &d);
		_exit(TU_EX_NOTREACHED);
	}
	tu_assert_killed(tu_waitpid(p));
	assert_true(b->sg.hdr->wal.n > 1);
	assert_int_equal(dcf_trylock(&b->sg), 0);
	assert_int_equal(b->sg.hdr->cnt.repairs, 2);
	assert_int_equal(b->sg.hdr->cnt.retired, 1);
	assert_int_equal(tu_depth(&b->sg, DCF_RING_DONE), 1);
	tu_assert_books(&b->sg);
	/* The ledger learns of the retirement the dead one made. */
	{
		uint32_t slot = 0;

		for (uint32_t s = 0; s < b->sg.hdr->cfg.task_slots; s++)
			if (b->sg.tasks[s].state == DCF_TASK_DONE)
				slot = s;
		tu_mark(b->L->retired, b->sg.tasks[slot].id ^ 1); /* the other of ids 0, 1 */
	}
	dcf_unlock(&b->sg);
	bed_finish(b);
}

/* A repairer killed halfway through its replay: the next one replays it all again. */
static void
test_repairer_killed(void **state)
{
	struct bed *b = bed_new(1, 2);
	struct dcf_hdr *h = b->sg.hdr;
	struct tu_img s0 = {NULL, 0}, s1 = {NULL, 0};
	struct dcf_claim cl;
	const char *d;
	uint32_t n;
	pid_t p;
	(void)state;

	/* A node run by hand; the reference claim gives the books after. */
	tu_lock(&b->sg);
	tu_node_up_locked(&b->sg, 0, ++b->gen[0], 0);
	assert_int_equal(dcf_dispatch_locked(&b->sg, DCF_RING_NET0, 1), 0);
	assert_int_equal(dcf_dispatch_locked(&b->sg, DCF_RING_NET0, 2), 0);
	tu_img_take(&s0, &b->sg);
	assert_int_equal(dcf_claim_locked(&b->sg, 0, 1, 77, 3, &cl), 0);
	tu_img_take(&s1, &b->sg);
	tu_img_restore(&b->sg, &s0);
	dcf_unlock(&b->sg);

	p = tu_fork();
	if (p == 0) {
		dcf_inject_arm(DCF_OP_CLAIM, DCF_STEP_APPLY(2), 1);
		TU_CHILD_CHECK(dcf_lock(&b->sg) == 0, "lock");
		(void)!dcf_claim_locked(&b->sg, 0, 1, 77, 3, &cl);
		_exit(TU_EX_NOTREACHED);
	}
	tu_assert_killed(tu_waitpid(p));
	n = h->wal.n;
	assert_true(n > 6);
	/* The next locker dies replaying store 6 of the record (op "any": the replay's). */
	p = tu_fork();
	if (p == 0) {
		dcf_inject_arm(DCF_OP_ANY, DCF_STEP_APPLY(6), 1);
		dcf_lock(&b->sg);
		_exit(TU_EX_NOTREACHED);
	}
	tu_assert_killed(tu_waitpid(p));
	assert_int_equal(h->wal.n, n);       /* still published: not finished */
	assert_int_equal(h->cnt.repairs, 0); /* and not counted */
	tu_lock(&b->sg);
	assert_int_equal(h->cnt.repairs, 1);
	assert_int_equal(h->wal.n, 0);
	assert_int_equal(h->seq & 1, 0);
	tu_assert_books(&b->sg);
	if ((d = tu_books_diff(&b->sg, &s1)) != NULL)
		fail_msg("not the books after the claim: %s", d);
	tu_mark(b->L->executed, cl.id);
	/* Carry on: the claim is finished by hand, the other task by a worker. */
	{
		int wake;

		assert_int_equal(dcf_complete_locked(&b->sg, 0, 1, cl.slot, cl.id, tu_result(cl.id),
		                     &wake),
		    0);
		tu_mark(b->L->completed, cl.id);
		assert_int_equal(dcf_node_died_locked(&b->sg, 0, 1, 3, 4, &(struct dcf_reclaim){0}),
		    0);
	}
	dcf_unlock(&b->sg);
	bed_worker(b, 0, -1, 0);
	dcf_books_wake_all(&b->sg);
	bed_wait_completed(b, 2);
	tu_img_free(&s0);
	tu_img_free(&s1);
	bed_finish(b);
}

/* A process killed while it waits for the lock (not holding it) leaves nothing to repair. */
static void
test_lock_waiter_killed(void **state)
{
	struct bed *b = bed_new(1, 1);
	pid_t w, p;
	(void)state;

	tu_lock(&b->sg);
	w = tu_fork();
	if (w == 0) {
		dcf_lock(&b->sg);
		_exit(TU_EX_NOTREACHED);
	}
	tu_wait_futex(w, (const uint32_t *)&b->sg.hdr->lock.__data.__lock, NULL);
	kill(w, SIGKILL);
	tu_assert_killed(tu_waitpid(w));
	p = tu_fork();
	if (p == 0) {
		TU_CHILD_CHECK(dcf_lock(&b->sg) == 0, "lock: %s", strerror(errno));
		dcf_unlock(&b->sg);
		_exit(TU_EX_OK);
	}
	dcf_unlock(&b->sg);
	tu_assert_exit(tu_waitpid(p), TU_EX_OK);
	tu_lock(&b->sg);
	assert_int_equal(b->sg.hdr->cnt.repairs, 0);
	tu_assert_books(&b->sg);
	dcf_unlock(&b->sg);
	/* And the lock still serves a worker. */
	bed_worker(b, 0, -1, 0);
	bed_dispatch(b, 1, 1);
	bed_wait_completed(b, 1);
	bed_finish(b);
}

/*
 * The unrecoverable path. Books with queued, running and completed tasks,
 * then damage the repair cannot explain (how) and a holder that dies: every
 * locker gets ENOTRECOVERABLE from then on; the full reset rebuilds the
 * books; real workers then finish every task, each exactly once.
 */
static void
unrecoverable(int how)
{
	struct bed *b = bed_new(2, 12);
	struct dcf_hdr *h = b->sg.hdr;
	struct dcf_claim cl;
	struct dcf_done d;
	char err[DCF_ERRLEN];
	int wake, r;
	pid_t p;

	/* Two nodes run by hand (no processes): one completes, one is left running. */
	tu_lock(&b->sg);
	for (uint32_t n = 0; n < 2; n++)
		tu_node_up_locked(&b->sg, n, ++b->gen[n], 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(dcf_dispatch_locked(&b->sg, DCF_RING_NET0, (uint64_t)i), 0);
	assert_int_equal(dcf_claim_locked(&b->sg, 0, 1, 1, 10, &cl), 0);
	tu_mark(b->L->executed, cl.id);
	assert_int_equal(dcf_complete_locked(&b->sg, 0, 1, cl.slot, cl.id, tu_result(cl.id), &wake),
	    0);
	tu_mark(b->L->completed, cl.id);
	assert_int_equal(dcf_retire_locked(&b->sg, &d), 0);
	tu_mark(b->L->retired, d.id);
	assert_int_equal(dcf_claim_locked(&b->sg, 0, 1, 1, 11, &cl), 0);
	tu_mark(b->L->executed, cl.id);
	assert_int_equal(dcf_complete_locked(&b->sg, 0, 1, cl.slot, cl.id, tu_result(cl.id), &wake),
	    0);
	tu_mark(b->L->completed, cl.id);
	assert_int_equal(dcf_claim_locked(&b->sg, 1, 1, 1, 12, &cl), 0);
	tu_mark(b->L->executed, cl.id);
	tu_assert_books(&b->sg);
	if (how == 0) {
		/* A queued slot pushed into the done ring as well: in two places. */
		uint32_t s, *done = dcf_ring_slots(&b->sg, DCF_RING_DONE);

		assert_int_equal(dcf_ring_peek(&b->sg, DCF_RING_NET0, 0, &s), 0);
		done[b->sg.rings[DCF_RING_DONE].tail & b->sg.rings[DCF_RING_DONE].mask] = s;
		b->sg.rings[DCF_RING_DONE].tail++;
		assert_int_equal(dcf_books_check_locked(&b->sg, err, sizeof(err)), -1);
	}
	dcf_unlock(&b->sg);

	p = tu_fork();
	if (p == 0) {
		struct dcf_claim c2;

		if (how == 0) {
			dcf_inject_arm(DCF_OP_CLAIM, DCF_STEP_LOCKED, 1);
			TU_CHILD_CHECK(dcf_lock(&b->sg) == 0, "lock");
			(void)!dcf_claim_locked(&b->sg, 0, 1, 1, 13, &c2);
		} else {
			/* A published record with a store outside the segment. */
			TU_CHILD_CHECK(dcf_lock(&b->sg) == 0, "lock");
			h->wal.e[0].off = (uint32_t)b->sg.size + 64;
			h->wal.e[0].width = 8;
			h->wal.e[0].val = 1;
			__atomic_store_n(&h->wal.n, 1, __ATOMIC_RELEASE);
			raise(SIGKILL);
		}
		_exit(TU_EX_NOTREACHED);
	}
	tu_assert_killed(tu_waitpid(p));

	errno = 0;
	assert_int_equal(dcf_lock(&b->sg), -1);
	assert_int_equal(errno, ENOTRECOVERABLE);
	assert_int_equal(h->sys_state, DCF_SYS_RESET);
	errno = 0;
	assert_int_equal(dcf_lock(&b->sg), -1);
	assert_int_equal(errno, ENOTRECOVERABLE);
	errno = 0;
	assert_int_equal(dcf_trylock(&b->sg), -1);
	assert_int_equal(errno, ENOTRECOVERABLE);
	/* A worker meets it too, and says so. */
	p = tu_fork();
	if (p == 0) {
		struct tu_worker wk = {&b->sg, b->L, 0, 1, 0, 0, 0, 1, 0, 0};

		_exit(tu_worker_main(&wk));
	}
	tu_assert_exit(tu_waitpid(p), TU_EX_NOTREC);
	assert_int_equal(h->cnt.repairs, 0);

	/* Every worker is dead (none run): the reset. */
	r = dcf_books_reset(&b->sg, h->cfg.max_attempts, err, sizeof(err));
	if (r < 0)
		fail_msg("reset: %s", err);
	assert_int_equal(r, 1); /* node 1's task */
	tu_lock(&b->sg);
	tu_assert_books(&b->sg);
	assert_int_equal(h->cnt.resets, 1);
	assert_int_equal(h->wal.n, 0);
	assert_int_equal(tu_depth(&b->sg, DCF_RING_DONE), 1);
	assert_int_equal(tu_depth(&b->sg, DCF_RING_RECOVERY), 1);
	assert_int_equal(tu_depth(&b->sg, DCF_RING_NET0), 3);
	assert_int_equal(tu_depth(&b->sg, DCF_RING_FREE), 16 - 5);
	assert_int_equal(h->cnt.next_id, 6);
	assert_int_equal(h->cnt.completed, 2);
	dcf_unlock(&b->sg);

	/* Real workers finish what is left; the supervisor (us) dispatches the rest. */
	bed_worker(b, 0, -1, 0);
	bed_worker(b, 1, -1, 0);
	bed_dispatch(b, 6, 1);
	bed_wait_completed(b, 12);
	bed_finish(b);
}

static void
test_unrecoverable_corrupt_ring(void **state)
{
	(void)state;
	unrecoverable(0);
}

static void
test_unrecoverable_bad_journal(void **state)
{
	(void)state;
	unrecoverable(1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_every_point, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_workers_killed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_workers_killed_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_death_holding_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sleeper_killed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_waker_killed_before_wake, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_waker_killed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_completer_killed_before_wake, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_holder_killed_before_wake, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trylock_repairs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_repairer_killed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lock_waiter_killed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unrecoverable_corrupt_ring, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unrecoverable_bad_journal, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
