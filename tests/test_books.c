/*
 * test_books.c - every operation on the books, one process, the invariants
 * (books.h I1..I5) checked after each: dispatch, claim, complete, retire,
 * node death and reclaim to the recovery ring, quarantine at max_attempts,
 * stale work refused once a node's generation moved on, move, sleep and
 * wake bookkeeping, node states; a whole run with every ring's counters
 * wrapping at 2^32; the checker shown to catch each kind of damage; the full
 * reset. A refused operation must leave the segment byte for byte as it was.
 */
#include "testutil.h"

#define NOW  1000u
#define NET0 DCF_RING_NET0
#define NET1 (DCF_RING_NET0 + 1)

struct fix {
	struct dcf_seg sg;
	struct dcf_hdr *h;
	struct tu_img im;
};

static int
setup(void **state)
{
	struct dcf_config c;
	struct fix *f = calloc(1, sizeof(*f));

	tu_setup(state);
	if (f == NULL)
		return -1;
	tu_config(&c);
	c.max_nodes = 5; /* nodes 0,1 on network 0; 2,3 on network 1; 4 spare */
	c.tasks = 40;
	c.work = DCF_WORK_CPU;
	tu_seg_create(&f->sg, "books", &c);
	f->h = f->sg.hdr;
	tu_lock(&f->sg); /* tests run with the lock held */
	for (uint32_t n = 0; n < 4; n++)
		tu_node_up_locked(&f->sg, n, 1, 0);
	tu_assert_books(&f->sg);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	if (f != NULL) {
		dcf_unlock(&f->sg);
		dcf_seg_destroy(&f->sg);
		tu_img_free(&f->im);
		free(f);
	}
	return tu_teardown(state);
}

/* The operation succeeded and the books are consistent. */
#define OK(f, expr) \
	do { \
		if ((expr) != 0) \
			fail_msg("%s: %s", #expr, strerror(errno)); \
		tu_assert_books(&(f)->sg); \
	} while (0)

/* The operation was refused with e and changed nothing at all. */
#define REFUSED(f, expr, e) \
	do { \
		tu_img_take(&(f)->im, &(f)->sg); \
		errno = 0; \
		if ((expr) != -1) \
			fail_msg("%s was not refused", #expr); \
		if (errno != (e)) \
			fail_msg("%s: errno %d (%s), expected %d", #expr, errno, strerror(errno), \
			    (e)); \
		if (!tu_img_same_bytes(&(f)->sg, &(f)->im)) \
			fail_msg("%s changed the segment", #expr); \
		tu_assert_books(&(f)->sg); \
	} while (0)

static uint32_t
ring_at(struct fix *f, uint32_t ring, uint32_t i)
{
	uint32_t v;

	assert_int_equal(dcf_ring_peek(&f->sg, ring, i, &v), 0);
	return v;
}

static int
claim(struct fix *f, uint32_t node, uint32_t gen, struct dcf_claim *cl)
{
	return dcf_claim_locked(&f->sg, node, gen, 2000 + (pid_t)node, NOW + 1, cl);
}

static int
complete(struct fix *f, uint32_t node, uint32_t gen, const struct dcf_claim *cl, int *wake)
{
	return dcf_complete_locked(&f->sg, node, gen, cl->slot, cl->id, tu_result(cl->id), wake);
}

static void
test_dispatch(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	struct dcf_task *t;
	uint32_t w0 = f->sg.nets[0].wake, w1 = f->sg.nets[1].wake, s;

	s = ring_at(f, DCF_RING_FREE, 0);
	OK(f, dcf_dispatch_locked(&f->sg, NET0, NOW));
	t = &f->sg.tasks[s];
	assert_int_equal(h->cnt.next_id, 1);
	assert_int_equal(t->id, 0);
	assert_int_equal(t->state, DCF_TASK_QUEUED);
	assert_int_equal(t->queue, NET0);
	assert_int_equal(t->kind, DCF_WORK_CPU);
	assert_int_equal(t->arg_ms, dcf_task_ms(&h->cfg, 0));
	assert_int_equal(t->attempts, 0);
	assert_int_equal(t->owner_node, DCF_NONE);
	assert_int_equal(t->t_queued_ns, NOW);
	assert_int_equal(tu_depth(&f->sg, DCF_RING_FREE), 7);
	assert_int_equal(tu_depth(&f->sg, NET0), 1);
	assert_int_equal(ring_at(f, NET0, 0), s);
	/* Its network's sleepers are told, the other's are not. */
	assert_int_equal(f->sg.nets[0].wake, w0 + 1);
	assert_int_equal(f->sg.nets[1].wake, w1);

	OK(f, dcf_dispatch_locked(&f->sg, NET1, NOW));
	assert_int_equal(f->sg.nets[1].wake, w1 + 1);
	assert_int_equal(f->sg.tasks[ring_at(f, NET1, 0)].id, 1);

	/* The recovery ring belongs to every network: all are told. */
	OK(f, dcf_dispatch_locked(&f->sg, DCF_RING_RECOVERY, NOW));
	assert_int_equal(h->cnt.to_recovery, 1);
	assert_int_equal(f->sg.nets[0].wake, w0 + 2);
	assert_int_equal(f->sg.nets[1].wake, w1 + 2);
	assert_int_equal(f->sg.tasks[ring_at(f, DCF_RING_RECOVERY, 0)].queue, DCF_RING_RECOVERY);

	REFUSED(f, dcf_dispatch_locked(&f->sg, DCF_RING_FREE, NOW), EINVAL);
	REFUSED(f, dcf_dispatch_locked(&f->sg, DCF_RING_DONE, NOW), EINVAL);
	REFUSED(f, dcf_dispatch_locked(&f->sg, h->nrings, NOW), EINVAL);
	while (tu_depth(&f->sg, DCF_RING_FREE) > 0)
		OK(f, dcf_dispatch_locked(&f->sg, NET1, NOW));
	assert_int_equal(h->cnt.next_id, 8);
	REFUSED(f, dcf_dispatch_locked(&f->sg, NET0, NOW), ENOSPC);
	/* A free ring that names a slot that is not free: corruption, refused. */
	f->sg.rings[DCF_RING_FREE].head--;
	tu_img_take(&f->im, &f->sg);
	errno = 0;
	assert_int_equal(dcf_dispatch_locked(&f->sg, NET0, NOW), -1);
	assert_int_equal(errno, EUCLEAN);
	assert_true(tu_img_same_bytes(&f->sg, &f->im));
	f->sg.rings[DCF_RING_FREE].head++;
	tu_assert_books(&f->sg);
}

static void
test_claim(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	struct dcf_claim cl;
	struct dcf_task *t;
	struct dcf_node *nd;

	REFUSED(f, claim(f, 0, 1, &cl), ENOENT);
	OK(f, dcf_dispatch_locked(&f->sg, NET0, NOW));              /* id 0 */
	OK(f, dcf_dispatch_locked(&f->sg, NET1, NOW));              /* id 1 */
	OK(f, dcf_dispatch_locked(&f->sg, DCF_RING_RECOVERY, NOW)); /* id 2 */

	/* The recovery ring comes first, whatever the network. */
	OK(f, claim(f, 0, 1, &cl));
	assert_int_equal(cl.id, 2);
	assert_true(cl.from_recovery);
	assert_int_equal(cl.attempts, 0);
	assert_int_equal(cl.kind, DCF_WORK_CPU);
	assert_int_equal(cl.arg_ms, dcf_task_ms(&h->cfg, 2));
	t = &f->sg.tasks[cl.slot];
	nd = &f->sg.nodes[0];
	assert_int_equal(t->state, DCF_TASK_RUNNING);
	assert_int_equal(t->queue, DCF_NONE);
	assert_int_equal(t->owner_node, 0);
	assert_int_equal(t->owner_gen, 1);
	assert_int_equal(t->owner_pid, 2000);
	assert_int_equal(t->t_started_ns, NOW + 1);
	assert_int_equal(nd->state, DCF_NODE_BUSY);
	assert_int_equal(nd->task_slot, cl.slot);
	assert_int_equal(nd->task_id, 2);
	assert_int_equal(nd->from_recovery, 1);
	assert_int_equal(nd->busy_since_ns, NOW + 1);
	assert_int_equal(nd->heartbeat_ns, NOW + 1);
	assert_int_equal(h->cnt.running, 1);

	/* Then each node its own network's ring. */
	OK(f, claim(f, 2, 1, &cl));
	assert_int_equal(cl.id, 1);
	assert_false(cl.from_recovery);
	REFUSED(f, claim(f, 3, 1, &cl), ENOENT); /* network 0's task is not for network 1 */
	OK(f, claim(f, 1, 1, &cl));
	assert_int_equal(cl.id, 0);
	assert_int_equal(f->sg.nodes[1].from_recovery, 0);
	assert_int_equal(h->cnt.running, 3);

	OK(f, dcf_dispatch_locked(&f->sg, NET1, NOW));
	REFUSED(f, claim(f, 3, 2, &cl), ESTALE); /* not the node's generation */
	REFUSED(f, claim(f, 5, 1, &cl), ESTALE); /* not a node */
	REFUSED(f, claim(f, UINT32_MAX, 1, &cl), ESTALE);
	h->sys_state = DCF_SYS_STOPPING;
	REFUSED(f, claim(f, 3, 1, &cl), ESHUTDOWN);
	h->sys_state = DCF_SYS_RESET;
	REFUSED(f, claim(f, 3, 1, &cl), ESHUTDOWN);
	h->sys_state = DCF_SYS_RUNNING;
	OK(f, claim(f, 3, 1, &cl));
	assert_int_equal(cl.id, 3);
}

/* chain: more work and sleepers, so the claimer must wake one more. */
static void
test_claim_chain(void **state)
{
	struct fix *f = *state;
	struct dcf_claim cl;
	uint32_t w;

	OK(f, dcf_dispatch_locked(&f->sg, NET1, NOW));
	OK(f, dcf_dispatch_locked(&f->sg, NET1, NOW));
	OK(f, dcf_sleep_begin_locked(&f->sg, 3, &w));
	OK(f, claim(f, 2, 1, &cl));
	assert_true(cl.chain);
	dcf_sleep_end_locked(&f->sg, 3);
	tu_assert_books(&f->sg);
	OK(f, claim(f, 3, 1, &cl));
	assert_false(cl.chain); /* nothing left */
	OK(f, dcf_dispatch_locked(&f->sg, NET0, NOW));
	OK(f, dcf_dispatch_locked(&f->sg, NET0, NOW));
	OK(f, claim(f, 0, 1, &cl));
	assert_false(cl.chain); /* work left, but nobody asleep */
}

static void
test_complete(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	struct dcf_claim cl, other;
	struct dcf_task *t;
	int wake = -1;

	OK(f, dcf_dispatch_locked(&f->sg, NET0, NOW));
	OK(f, dcf_dispatch_locked(&f->sg, NET0, NOW));
	OK(f, claim(f, 0, 1, &cl));
	OK(f, claim(f, 1, 1, &other));
	t = &f->sg.tasks[cl.slot];

	REFUSED(f, dcf_complete_locked(&f->sg, 0, 1, cl.slot, cl.id + 1, 0, &wake), ESTALE);
	REFUSED(f, dcf_complete_locked(&f->sg, 0, 2, cl.slot, cl.id, 0, &wake), ESTALE);
	REFUSED(f, dcf_complete_locked(&f->sg, 1, 1, cl.slot, cl.id, 0, &wake), ESTALE);
	REFUSED(f, dcf_complete_locked(&f->sg, 0, 1, other.slot, other.id, 0, &wake), ESTALE);
	REFUSED(f, dcf_complete_locked(&f->sg, 0, 1, h->cfg.task_slots, cl.id, 0, &wake), EINVAL);
	REFUSED(f, dcf_complete_locked(&f->sg, 5, 1, cl.slot, cl.id, 0, &wake), EINVAL);

	OK(f, complete(f, 0, 1, &cl, &wake));
	assert_int_equal(wake, 0);
	assert_int_equal(t->state, DCF_TASK_DONE);
	assert_int_equal(t->result, tu_result(cl.id));
	assert_int_equal(tu_depth(&f->sg, DCF_RING_DONE), 1);
	assert_int_equal(ring_at(f, DCF_RING_DONE, 0), cl.slot);
	assert_int_equal(h->cnt.running, 1);
	assert_int_equal(h->cnt.completed, 1);
	assert_int_equal(f->sg.nodes[0].state, DCF_NODE_IDLE);
	assert_int_equal(f->sg.nodes[0].task_slot, DCF_NONE);
	assert_int_equal(f->sg.nodes[0].completed, 1);
	assert_int_equal(f->sg.nets[0].completed, 1);
	/* Twice is refused: a task completes once. */
	REFUSED(f, complete(f, 0, 1, &cl, &wake), ESTALE);

	/* A supervisor asleep waiting for completions is told, once. */
	h->sup_waiting = 1;
	OK(f, complete(f, 1, 1, &other, &wake));
	assert_int_equal(wake, 1);
	assert_int_equal(h->sup_waiting, 0);
	assert_int_equal(h->cnt.completed, 2);
	assert_int_equal(h->cnt.running, 0);
}

static void
test_retire(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	struct dcf_claim cl;
	struct dcf_done d;
	int wake;

	REFUSED(f, dcf_retire_locked(&f->sg, &d), ENOENT);
	OK(f, dcf_dispatch_locked(&f->sg, NET1, NOW));
	OK(f, claim(f, 3, 1, &cl));
	OK(f, complete(f, 3, 1, &cl, &wake));
	OK(f, dcf_retire_locked(&f->sg, &d));
	assert_int_equal(d.id, cl.id);
	assert_int_equal(d.node, 3);
	assert_int_equal(d.kind, DCF_WORK_CPU);
	assert_int_equal(d.arg_ms, cl.arg_ms);
	assert_int_equal(d.result, tu_result(cl.id));
	assert_int_equal(f->sg.tasks[cl.slot].state, DCF_TASK_FREE);
	/* Back at the end of the free ring. */
	assert_int_equal(tu_depth(&f->sg, DCF_RING_FREE), 8);
	assert_int_equal(ring_at(f, DCF_RING_FREE, 7), cl.slot);
	assert_int_equal(tu_depth(&f->sg, DCF_RING_DONE), 0);
	assert_int_equal(h->cnt.retired, 1);
	REFUSED(f, dcf_retire_locked(&f->sg, &d), ENOENT);
}

static void
test_node_death(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	struct dcf_claim cl, again;
	struct dcf_reclaim rc;
	struct dcf_task *t;
	uint32_t w0 = f->sg.nets[0].wake, w1 = f->sg.nets[1].wake, word;

	OK(f, dcf_dispatch_locked(&f->sg, NET0, NOW));
	OK(f, claim(f, 0, 1, &cl));
	t = &f->sg.tasks[cl.slot];
	assert_int_equal(f->sg.nets[0].alive, 2);

	/* The worker died: its task goes to the recovery ring, one attempt used. */
	OK(f, dcf_node_died_locked(&f->sg, 0, 1, h->cfg.max_attempts, NOW + 5, &rc));
	assert_true(rc.had_task);
	assert_false(rc.quarantined);
	assert_int_equal(rc.id, cl.id);
	assert_int_equal(rc.attempts, 1);
	assert_int_equal(t->state, DCF_TASK_QUEUED);
	assert_int_equal(t->queue, DCF_RING_RECOVERY);
	assert_int_equal(t->attempts, 1);
	assert_int_equal(t->t_queued_ns, NOW + 5);
	assert_int_equal(ring_at(f, DCF_RING_RECOVERY, 0), cl.slot);
	assert_int_equal(h->cnt.running, 0);
	assert_int_equal(h->cnt.reclaimed, 1);
	assert_int_equal(h->cnt.failures, 1);
	assert_int_equal(f->sg.nodes[0].state, DCF_NODE_DOWN);
	assert_int_equal(f->sg.nodes[0].task_slot, DCF_NONE);
	assert_int_equal(f->sg.nodes[0].failures, 1);
	assert_int_equal(f->sg.nets[0].alive, 1);
	assert_int_equal(f->sg.nets[0].wake, w0 + 1 + 1);
	assert_int_equal(f->sg.nets[1].wake, w1 + 1);

	/* Any node may run it now; it says it has been tried once. */
	OK(f, claim(f, 2, 1, &again));
	assert_int_equal(again.id, cl.id);
	assert_int_equal(again.slot, cl.slot);
	assert_int_equal(again.attempts, 1);
	assert_true(again.from_recovery);

	/* An idle node's death reclaims nothing; a sleeping one's leaves the count. */
	OK(f, dcf_sleep_begin_locked(&f->sg, 3, &word));
	assert_int_equal(f->sg.nets[1].sleepers, 1);
	OK(f, dcf_node_died_locked(&f->sg, 3, 1, h->cfg.max_attempts, NOW, &rc));
	assert_false(rc.had_task);
	assert_int_equal(f->sg.nets[1].sleepers, 0);
	assert_int_equal(f->sg.nodes[3].sleeping, 0);
	assert_int_equal(f->sg.nets[1].alive, 1);
	assert_int_equal(h->cnt.reclaimed, 1);
	assert_int_equal(h->cnt.failures, 2);
	/* Reaped twice is still dead once as far as the counts go. */
	OK(f, dcf_node_died_locked(&f->sg, 3, 1, h->cfg.max_attempts, NOW, &rc));
	assert_int_equal(f->sg.nets[1].alive, 1);

	/* The restart: a new generation, counted as a restart. */
	OK(f, dcf_node_start_locked(&f->sg, 0, 2, 3000, 1, NOW));
	assert_int_equal(f->sg.nodes[0].state, DCF_NODE_STARTING);
	assert_int_equal(f->sg.nodes[0].gen, 2);
	assert_int_equal(f->sg.nodes[0].restarts, 1);
	assert_int_equal(h->cnt.restarts, 1);
	assert_int_equal(f->sg.nets[0].alive, 2);
	OK(f, dcf_node_ready_locked(&f->sg, 0, 2, NOW));
	assert_int_equal(f->sg.nodes[0].state, DCF_NODE_IDLE);

	REFUSED(f, dcf_node_died_locked(&f->sg, 5, 1, 3, NOW, &rc), EINVAL);
	/* A death reported for a generation that is gone touches nothing. */
	OK(f, dcf_dispatch_locked(&f->sg, NET0, NOW));
	OK(f, claim(f, 0, 2, &cl));
	REFUSED(f, dcf_node_died_locked(&f->sg, 0, 1, h->cfg.max_attempts, NOW, &rc), ESTALE);
	assert_false(rc.had_task);
	assert_int_equal(f->sg.nodes[0].state, DCF_NODE_BUSY);
}

/* A task that kills every worker that runs it is given up after max_attempts. */
static void
test_quarantine(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	struct dcf_reclaim rc;
	struct dcf_claim cl;
	uint32_t slot = DCF_NONE, gen = 1;

	OK(f, dcf_dispatch_locked(&f->sg, NET0, NOW));
	OK(f, dcf_dispatch_locked(&f->sg, NET0, NOW));
	for (uint32_t a = 1; a <= h->cfg.max_attempts; a++) {
		OK(f, claim(f, 0, gen, &cl));
		assert_int_equal(cl.id, 0);
		assert_int_equal(cl.attempts, a - 1);
		slot = cl.slot;
		OK(f, dcf_node_died_locked(&f->sg, 0, gen, h->cfg.max_attempts, NOW, &rc));
		assert_true(rc.had_task);
		assert_int_equal(rc.attempts, a);
		OK(f, dcf_node_start_locked(&f->sg, 0, ++gen, 0, 1, NOW));
		OK(f, dcf_node_ready_locked(&f->sg, 0, gen, NOW));
		if (a < h->cfg.max_attempts) {
			assert_false(rc.quarantined);
			assert_int_equal(f->sg.tasks[slot].state, DCF_TASK_QUEUED);
		}
	}
	assert_true(rc.quarantined);
	assert_int_equal(f->sg.tasks[slot].state, DCF_TASK_FREE);
	assert_int_equal(ring_at(f, DCF_RING_FREE, tu_depth(&f->sg, DCF_RING_FREE) - 1), slot);
	assert_int_equal(h->cnt.quarantined, 1);
	assert_int_equal(h->cnt.reclaimed, h->cfg.max_attempts - 1);
	assert_int_equal(tu_depth(&f->sg, DCF_RING_RECOVERY), 0);
	/* It is gone for good; the next task is unaffected. */
	OK(f, claim(f, 0, gen, &cl));
	assert_int_equal(cl.id, 1);
	assert_int_equal(cl.attempts, 0);
	REFUSED(f, claim(f, 1, 1, &cl), ENOENT);
}

/* Work done under an old generation can never be recorded. */
static void
test_stale_completion(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	struct dcf_reclaim rc;
	struct dcf_claim old, cl;
	int wake;

	OK(f, dcf_dispatch_locked(&f->sg, NET0, NOW));
	OK(f, claim(f, 0, 1, &old));
	OK(f, dcf_node_died_locked(&f->sg, 0, 1, h->cfg.max_attempts, NOW, &rc));
	/* The task is queued again: completing it is refused. */
	REFUSED(f, complete(f, 0, 1, &old, &wake), ESTALE);
	OK(f, dcf_node_start_locked(&f->sg, 0, 2, 0, 1, NOW));
	REFUSED(f, complete(f, 0, 1, &old, &wake), ESTALE);
	REFUSED(f, dcf_node_ready_locked(&f->sg, 0, 1, NOW), ESTALE);
	OK(f, dcf_node_ready_locked(&f->sg, 0, 2, NOW));
	REFUSED(f, claim(f, 0, 1, &cl), ESTALE);
	/* Same node, same slot, same task, new generation: still not the old one's. */
	OK(f, claim(f, 0, 2, &cl));
	assert_int_equal(cl.slot, old.slot);
	assert_int_equal(cl.id, old.id);
	REFUSED(f, complete(f, 0, 1, &old, &wake), ESTALE);
	REFUSED(f, complete(f, 1, 1, &cl, &wake), ESTALE);
	OK(f, complete(f, 0, 2, &cl, &wake));
	assert_int_equal(h->cnt.completed, 1);
	REFUSED(f, complete(f, 0, 2, &cl, &wake), ESTALE);
}

static void
test_move(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	uint64_t id = 99;
	uint32_t s, w0 = f->sg.nets[0].wake;

	REFUSED(f, dcf_move_locked(&f->sg, 1, NOW, &id), ENOENT);
	REFUSED(f, dcf_move_locked(&f->sg, 2, NOW, &id), EINVAL);
	OK(f, dcf_dispatch_locked(&f->sg, NET1, NOW));
	OK(f, dcf_dispatch_locked(&f->sg, NET1, NOW));
	s = ring_at(f, NET1, 0);
	OK(f, dcf_move_locked(&f->sg, 1, NOW + 9, &id));
	assert_int_equal(id, 0);
	assert_int_equal(f->sg.tasks[s].queue, DCF_RING_RECOVERY);
	assert_int_equal(f->sg.tasks[s].state, DCF_TASK_QUEUED);
	assert_int_equal(f->sg.tasks[s].t_queued_ns, NOW + 9);
	assert_int_equal(ring_at(f, DCF_RING_RECOVERY, 0), s);
	assert_int_equal(tu_depth(&f->sg, NET1), 1);
	assert_int_equal(h->cnt.to_recovery, 1);
	assert_int_equal(f->sg.nets[0].wake, w0 + 1); /* network 0 may take it now */
}

static void
test_sleep(void **state)
{
	struct fix *f = *state;
	uint32_t w = 0, w0;

	w0 = f->sg.nets[0].wake;
	OK(f, dcf_sleep_begin_locked(&f->sg, 1, &w));
	assert_int_equal(w, w0);
	assert_int_equal(f->sg.nodes[1].sleeping, 1);
	assert_int_equal(f->sg.nets[0].sleepers, 1);
	/* Again: the word is read afresh, the node counted once. */
	dcf_books_wake_all(&f->sg);
	OK(f, dcf_sleep_begin_locked(&f->sg, 1, &w));
	assert_int_equal(w, w0 + 1);
	assert_int_equal(f->sg.nets[0].sleepers, 1);
	OK(f, dcf_sleep_begin_locked(&f->sg, 0, &w));
	assert_int_equal(f->sg.nets[0].sleepers, 2);
	assert_int_equal(f->sg.nets[1].sleepers, 0);
	dcf_sleep_end_locked(&f->sg, 1);
	tu_assert_books(&f->sg);
	assert_int_equal(f->sg.nets[0].sleepers, 1);
	assert_int_equal(f->sg.nodes[1].sleeping, 0);
	tu_img_take(&f->im, &f->sg);
	dcf_sleep_end_locked(&f->sg, 1);  /* not asleep: nothing */
	dcf_sleep_end_locked(&f->sg, 77); /* not a node: nothing */
	assert_true(tu_img_same_bytes(&f->sg, &f->im));
	REFUSED(f, dcf_sleep_begin_locked(&f->sg, 77, &w), EINVAL);
	/* A node that stops while asleep is no longer counted. */
	OK(f, dcf_node_set_state_locked(&f->sg, 0, DCF_NODE_STOPPED));
	assert_int_equal(f->sg.nets[0].sleepers, 0);
	assert_int_equal(f->sg.nodes[0].sleeping, 0);
}

static void
test_node_states(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;

	/* The spare node: starting counts it alive, ready makes it idle. */
	OK(f, dcf_node_start_locked(&f->sg, 4, 1, 4444, 0, NOW));
	assert_int_equal(f->sg.nodes[4].pid, 4444);
	assert_int_equal(f->sg.nodes[4].restarts, 0);
	assert_int_equal(h->cnt.restarts, 0);
	assert_int_equal(f->sg.nets[0].alive, 3);
	REFUSED(f, dcf_node_ready_locked(&f->sg, 4, 2, NOW), ESTALE);
	REFUSED(f, dcf_node_ready_locked(&f->sg, 5, 1, NOW), ESTALE);
	OK(f, dcf_node_ready_locked(&f->sg, 4, 1, NOW));
	assert_int_equal(f->sg.nodes[4].state, DCF_NODE_IDLE);
	OK(f, dcf_node_ready_locked(&f->sg, 4, 1, NOW)); /* once is enough */
	assert_int_equal(f->sg.nodes[4].state, DCF_NODE_IDLE);
	/* Restarting an alive node does not count it twice. */
	OK(f, dcf_node_start_locked(&f->sg, 4, 2, 0, 1, NOW));
	assert_int_equal(f->sg.nets[0].alive, 3);
	/* Final states are not alive states, and alive ones cannot be set. */
	REFUSED(f, dcf_node_set_state_locked(&f->sg, 4, DCF_NODE_IDLE), EINVAL);
	REFUSED(f, dcf_node_set_state_locked(&f->sg, 4, DCF_NODE_BUSY), EINVAL);
	REFUSED(f, dcf_node_set_state_locked(&f->sg, 4, DCF_NODE_STARTING), EINVAL);
	REFUSED(f, dcf_node_set_state_locked(&f->sg, 5, DCF_NODE_STOPPED), EINVAL);
	OK(f, dcf_node_set_state_locked(&f->sg, 4, DCF_NODE_FAILED));
	assert_int_equal(f->sg.nets[0].alive, 2);
	OK(f, dcf_node_set_state_locked(&f->sg, 4, DCF_NODE_STOPPED));
	assert_int_equal(f->sg.nets[0].alive, 2);
	assert_int_equal(f->sg.nodes[4].state, DCF_NODE_STOPPED);
	REFUSED(f, dcf_node_start_locked(&f->sg, 5, 1, 0, 0, NOW), EINVAL);
	/* A node whose network is out of range: refused. */
	f->sg.nodes[4].net = 9;
	tu_img_take(&f->im, &f->sg);
	errno = 0;
	assert_int_equal(dcf_node_start_locked(&f->sg, 4, 3, 0, 0, NOW), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(dcf_node_set_state_locked(&f->sg, 4, DCF_NODE_FAILED), -1);
	assert_int_equal(errno, EINVAL);
	assert_true(tu_img_same_bytes(&f->sg, &f->im));
	f->sg.nodes[4].net = 0;
	tu_assert_books(&f->sg);
}

/*
 * Run every task to the end with nodes 0..3 (generation gen), the books
 * checked after each operation; seen[id] counts retirements. How many.
 */
static uint64_t
run_to_end(struct fix *f, uint32_t gen, uint8_t *seen)
{
	struct dcf_hdr *h = f->h;
	struct dcf_claim cl[4];
	int have[4] = {0}, wake;
	uint64_t retired = 0;
	struct dcf_done d;

	while (h->cnt.retired + h->cnt.quarantined < h->cfg.tasks) {
		/* Dispatch what fits, mostly to the networks, some to recovery. */
		while (h->cnt.next_id < h->cfg.tasks && tu_depth(&f->sg, DCF_RING_FREE) > 0) {
			uint64_t id = h->cnt.next_id;
			uint32_t ring =
			    id % 7 == 3 ? DCF_RING_RECOVERY : DCF_RING_NET0 + (uint32_t)(id % 2);

			OK(f, dcf_dispatch_locked(&f->sg, ring, NOW));
		}
		for (uint32_t n = 0; n < 4; n++) {
			if (have[n]) {
				OK(f, complete(f, n, gen, &cl[n], &wake));
				have[n] = 0;
			}
			if (claim(f, n, gen, &cl[n]) == 0)
				have[n] = 1;
			else
				assert_int_equal(errno, ENOENT);
			tu_assert_books(&f->sg);
		}
		while (dcf_retire_locked(&f->sg, &d) == 0) {
			tu_assert_books(&f->sg);
			assert_true(d.id < 40);
			assert_int_equal(seen[d.id], 0);
			assert_int_equal(d.result, tu_result(d.id));
			seen[d.id] = 1;
			retired++;
		}
		assert_int_equal(errno, ENOENT);
	}
	return retired;
}

/*
 * A whole run of every task through every state, with every ring's counters
 * started just below 2^32 so that they wrap on the way.
 */
static void
test_full_run_wrapping(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	const uint32_t base = UINT32_MAX - 2;
	uint8_t seen[40] = {0};

	tu_rebase_rings(&f->sg, base);
	tu_assert_books(&f->sg);
	assert_int_equal(run_to_end(f, 1, seen), 40);
	REFUSED(f, dcf_dispatch_locked(&f->sg, NET0, NOW), ENODATA);
	assert_int_equal(h->cnt.completed, 40);
	assert_int_equal(h->cnt.running, 0);
	assert_int_equal(tu_depth(&f->sg, DCF_RING_FREE), 8);
	/* Every ring that moved went past 2^32. */
	for (uint32_t r = 0; r < h->nrings; r++) {
		if (r == DCF_RING_RECOVERY || f->sg.rings[r].head != base)
			assert_true(f->sg.rings[r].head < base);
	}
	assert_true(f->sg.rings[DCF_RING_FREE].head > 30);
}

/* The checker is not a rubber stamp: each kind of damage is caught. */
static void
test_checker_catches(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	struct dcf_claim cl;
	struct tu_img good = {NULL, 0};
	char err[DCF_ERRLEN];
	uint32_t w, qslot, rslot, fslot;
	int wake;

	OK(f, dcf_dispatch_locked(&f->sg, NET0, NOW));
	OK(f, dcf_dispatch_locked(&f->sg, NET0, NOW));
	OK(f, dcf_dispatch_locked(&f->sg, NET1, NOW));
	OK(f, claim(f, 0, 1, &cl));
	OK(f, complete(f, 0, 1, &cl, &wake));
	OK(f, claim(f, 0, 1, &cl));
	OK(f, dcf_sleep_begin_locked(&f->sg, 3, &w));
	rslot = cl.slot;
	qslot = ring_at(f, NET1, 0);
	fslot = ring_at(f, DCF_RING_FREE, 0);
	tu_img_take(&good, &f->sg);
	for (int k = 0;; k++) {
		const char *want;

		tu_img_restore(&f->sg, &good);
		assert_int_equal(dcf_books_check_locked(&f->sg, err, sizeof(err)), 0);
		switch (k) {
		case 0:
			h->cnt.running++;
			want = "running counter";
			break;
		case 1:
			h->cnt.dispatched++;
			want = "dispatched";
			break;
		case 2:
			h->cnt.completed--;
			want = "dispatched";
			break;
		case 3:
			h->cnt.quarantined++;
			want = "dispatched";
			break;
		case 4:
			h->cnt.next_id = h->cfg.tasks + 1;
			h->cnt.dispatched = h->cfg.tasks + 1;
			h->cnt.completed = h->cfg.tasks - 1;
			want = "of 40";
			break;
		case 5:
			f->sg.rings[DCF_RING_FREE].tail--;
			want = "in no ring";
			break;
		case 6:
			dcf_ring_slots(&f->sg, DCF_RING_DONE)[f->sg.rings[DCF_RING_DONE].tail & 7] =
			    fslot;
			f->sg.rings[DCF_RING_DONE].tail++;
			want = "in two places";
			break;
		case 7:
			f->sg.tasks[qslot].queue = NET0;
			want = "says it is queued on";
			break;
		case 8:
			f->sg.tasks[qslot].state = DCF_TASK_DONE;
			want = "holds slot";
			break;
		case 9:
			f->sg.tasks[fslot].state = 7;
			want = "holds slot";
			break;
		case 10:
			f->sg.nodes[0].task_slot = DCF_NONE;
			want = "no chain";
			break;
		case 11:
			f->sg.tasks[rslot].owner_gen = 2;
			want = "does not own";
			break;
		case 12:
			f->sg.nodes[0].state = DCF_NODE_IDLE;
			want = "a chain of 1 slots in state 2";
			break;
		case 13:
			f->sg.tasks[rslot].owner_node = 99;
			want = "does not own";
			break;
		case 14:
			f->sg.nodes[1].task_slot = qslot;
			want = "a chain of 0 slots";
			break;
		case 15:
			f->sg.nets[1].sleepers = 0;
			want = "sleepers";
			break;
		case 16:
			f->sg.nodes[2].sleeping = 1;
			want = "sleepers";
			break;
		case 17:
			f->sg.nets[0].alive = 3;
			want = "alive";
			break;
		case 18:
			f->sg.nodes[2].state = DCF_NODE_DOWN;
			want = "alive";
			break;
		case 19:
			f->sg.nodes[2].net = 7;
			want = "bad network";
			break;
		case 20:
			f->sg.rings[NET1].tail += 9;
			want = "over capacity";
			break;
		case 21:
			dcf_ring_slots(&f->sg, NET1)[f->sg.rings[NET1].head & 7] = 8;
			want = "out of range";
			break;
		case 22:
			f->sg.nodes[0].task_slot = 8;
			want = "out of range";
			break;
		case 23:
			/* A chain longer than the node says it holds. */
			f->sg.tasks[rslot].next_owned = qslot;
			want = "longer than the 1 it holds";
			break;
		case 24:
			f->sg.tasks[rslot].next_owned = rslot;
			f->sg.nodes[0].held = 2;
			want = "twice on a chain";
			break;
		case 25:
			f->sg.nodes[0].held = 2;
			want = "out of range";
			break;
		case 26:
			/* A running slot of node 0 that its chain does not hold. */
			f->sg.tasks[qslot].state = DCF_TASK_RUNNING;
			f->sg.tasks[qslot].owner_node = 0;
			f->sg.tasks[qslot].owner_gen = 1;
			f->sg.rings[NET1].head++;
			h->cnt.running++;
			want = "does not hold it";
			break;
		case 27:
			f->sg.nodes[0].held = DCF_BATCH_MAX + 1;
			want = "a chain of";
			break;
		default:
			goto done;
		}
		err[0] = '\0';
		errno = 0;
		if (dcf_books_check_locked(&f->sg, err, sizeof(err)) != -1)
			fail_msg("damage %d not caught", k);
		assert_int_equal(errno, EUCLEAN);
		if (strstr(err, want) == NULL)
			fail_msg("damage %d: message '%s' lacks '%s'", k, err, want);
	}
done:
	tu_img_restore(&f->sg, &good);
	tu_img_free(&good);
	tu_assert_books(&f->sg);
}

/*
 * The full reset, on books whose rings are garbage: rebuilt from the task
 * table, running tasks reclaimed (or quarantined at their last attempt),
 * queued ones back in order, nothing lost, and the result passes the check.
 */
static void
test_reset(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	struct dcf_claim c0, c2;
	char err[DCF_ERRLEN];
	uint64_t ids_queued[2];
	uint8_t seen[40] = {0};
	uint32_t w;
	int wake, r;

	for (int i = 0; i < 7; i++)
		OK(f, dcf_dispatch_locked(&f->sg, i < 4 ? NET0 : NET1, NOW + (uint64_t)i));
	OK(f, claim(f, 0, 1, &c0)); /* id 0, running */
	OK(f, claim(f, 1, 1, &c2)); /* id 1: completed below */
	OK(f, complete(f, 1, 1, &c2, &wake));
	OK(f, claim(f, 2, 1, &c2)); /* id 4, running, on its last attempt */
	f->sg.tasks[c2.slot].attempts = h->cfg.max_attempts - 1;
	ids_queued[0] = f->sg.tasks[ring_at(f, NET0, 0)].id;
	ids_queued[1] = f->sg.tasks[ring_at(f, NET1, 0)].id;
	assert_int_equal(ids_queued[0], 2);
	assert_int_equal(ids_queued[1], 5);
	OK(f, dcf_sleep_begin_locked(&f->sg, 3, &w));
	/* Wreck the rings and leave a half-done journal behind. */
	for (uint32_t i = 0; i < h->nrings; i++) {
		f->sg.rings[i].head = 12345u * i;
		f->sg.rings[i].tail = 99999u * i + 3;
	}
	h->wal.n = 3;
	h->seq |= 1;
	h->sys_state = DCF_SYS_RESET;
	dcf_unlock(&f->sg); /* the reset's caller holds no lock: it re-creates it */

	r = dcf_books_reset(&f->sg, h->cfg.max_attempts, err, sizeof(err));
	if (r < 0)
		fail_msg("reset: %s", err);
	assert_int_equal(r, 2);
	tu_lock(&f->sg);
	tu_assert_books(&f->sg);
	assert_int_equal(h->wal.n, 0);
	assert_int_equal(h->seq & 1, 0);
	assert_int_equal(h->sys_state, DCF_SYS_RUNNING);
	assert_int_equal(h->cnt.resets, 1);
	assert_int_equal(h->cnt.running, 0);
	assert_int_equal(h->cnt.reclaimed, 1);
	assert_int_equal(h->cnt.quarantined, 1);
	assert_int_equal(h->cnt.completed, 1);
	/* The running task waits in the recovery ring, one attempt more. */
	assert_int_equal(tu_depth(&f->sg, DCF_RING_RECOVERY), 1);
	assert_int_equal(ring_at(f, DCF_RING_RECOVERY, 0), c0.slot);
	assert_int_equal(f->sg.tasks[c0.slot].attempts, 1);
	/* The one on its last attempt is quarantined; its slot is free. */
	assert_int_equal(f->sg.tasks[c2.slot].state, DCF_TASK_FREE);
	/* Queued tasks are where they were, in the order they were queued. */
	assert_int_equal(tu_depth(&f->sg, NET0), 2);
	assert_int_equal(f->sg.tasks[ring_at(f, NET0, 0)].id, 2);
	assert_int_equal(f->sg.tasks[ring_at(f, NET0, 1)].id, 3);
	assert_int_equal(tu_depth(&f->sg, NET1), 2);
	assert_int_equal(f->sg.tasks[ring_at(f, NET1, 0)].id, 5);
	assert_int_equal(f->sg.tasks[ring_at(f, NET1, 1)].id, 6);
	assert_int_equal(tu_depth(&f->sg, DCF_RING_DONE), 1);
	assert_int_equal(tu_depth(&f->sg, DCF_RING_FREE), 8 - 1 - 4 - 1);
	/* Every worker was dead: no node is alive, asleep or holding a task. */
	for (uint32_t n = 0; n < 4; n++) {
		assert_int_equal(f->sg.nodes[n].task_slot, DCF_NONE);
		assert_int_equal(f->sg.nodes[n].sleeping, 0);
		assert_int_equal(f->sg.nodes[n].state, DCF_NODE_DOWN);
	}
	assert_int_equal(f->sg.nets[0].alive + f->sg.nets[1].alive, 0);
	/* And the books work: restart the nodes and finish every task. */
	for (uint32_t n = 0; n < 4; n++)
		tu_node_up_locked(&f->sg, n, 2, 1);
	tu_assert_books(&f->sg);
	assert_int_equal(run_to_end(f, 2, seen), 40 - 1);
	for (uint64_t id = 0; id < 40; id++)
		assert_int_equal(seen[id], id != 4); /* all but the quarantined one */
	assert_int_equal(h->cnt.retired, 39);

	/* Books that cannot account for every task are not passed as repaired. */
	h->cnt.completed += 5;
	dcf_unlock(&f->sg);
	err[0] = '\0';
	errno = 0;
	assert_int_equal(dcf_books_reset(&f->sg, h->cfg.max_attempts, err, sizeof(err)), -1);
	assert_int_equal(errno, EUCLEAN);
	assert_non_null(strstr(err, "after reset"));
	h->cnt.completed -= 5;
	tu_lock(&f->sg);
}

static void
test_task_numbers(void **state)
{
	struct fix *f = *state;
	const struct dcf_config *c = &f->h->cfg;
	struct dcf_config other = *c;

	other.seed++;
	for (uint64_t id = 0; id < 200; id++) {
		uint32_t ms = dcf_task_ms(c, id);

		assert_true(ms >= c->task_ms_min && ms <= c->task_ms_max);
		assert_int_equal(ms, dcf_task_ms(c, id));
		assert_int_equal(dcf_task_cpu_iters(c, id), (uint64_t)ms * c->cpu_iters_per_ms);
		assert_int_equal(dcf_task_cpu_expect(c, id),
		    dcf_lcg_run(c->seed + id, dcf_task_cpu_iters(c, id)));
	}
	/* The durations depend on the seed. */
	{
		int differ = 0;

		for (uint64_t id = 0; id < 50; id++)
			differ += dcf_task_ms(c, id) != dcf_task_ms(&other, id);
		assert_true(differ > 10);
	}
}

/* ---- batches ---------------------------------------------------------- */

static int
claim_n(struct fix *f, uint32_t node, uint32_t k, struct dcf_claims *cs)
{
	return dcf_complete_claim_locked(&f->sg, node, 1, 2000 + (pid_t)node, NOW + 1, NULL, k, cs);
}

/* The first n of node's chain, finished. */
static void
fin_of(struct fix *f, uint32_t node, uint32_t n, struct dcf_finished *fin)
{
	uint32_t s = f->sg.nodes[node].task_slot;

	memset(fin, 0, sizeof(*fin));
	fin->start_ns = NOW;
	for (; fin->n < n; fin->n++) {
		fin->slot[fin->n] = s;
		fin->id[fin->n] = f->sg.tasks[s].id;
		fin->result[fin->n] = tu_result(f->sg.tasks[s].id);
		s = f->sg.tasks[s].next_owned;
	}
}

static void
test_batch_dispatch_retire(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	uint32_t rings[DCF_SUP_BATCH + 1] = {NET0, NET1, DCF_RING_RECOVERY, NET0, NET1, NET1};
	uint32_t w0 = f->sg.nets[0].wake, w1 = f->sg.nets[1].wake, n;
	struct dcf_done d[DCF_SUP_BATCH];
	struct dcf_claims cs;
	struct dcf_finished fin;
	const void *pl[1] = {"x"};
	uint32_t len[1] = {1};
	int wake;

	REFUSED(f, dcf_dispatch_n_locked(&f->sg, rings, 0, NOW), EINVAL);
	REFUSED(f, dcf_dispatch_n_locked(&f->sg, rings, DCF_SUP_BATCH + 1, NOW), EINVAL);
	rings[3] = DCF_RING_DONE;
	REFUSED(f, dcf_dispatch_n_locked(&f->sg, rings, 4, NOW), EINVAL);
	rings[3] = NET0;
	REFUSED(f, dcf_dispatch_cmd_n_locked(&f->sg, rings, 1, NOW, pl, len, NULL), EMSGSIZE);
	/* Ids 0..3 in one transaction, each on its ring, in id order. */
	assert_int_equal(dcf_dispatch_n_locked(&f->sg, rings, 4, NOW), 4);
	tu_assert_books(&f->sg);
	assert_int_equal(h->cnt.next_id, 4);
	assert_int_equal(h->cnt.to_recovery, 1);
	assert_int_equal(tu_depth(&f->sg, NET0), 2);
	assert_int_equal(f->sg.tasks[ring_at(f, NET0, 0)].id, 0);
	assert_int_equal(f->sg.tasks[ring_at(f, NET0, 1)].id, 3);
	assert_int_equal(f->sg.tasks[ring_at(f, NET1, 0)].id, 1);
	assert_int_equal(f->sg.tasks[ring_at(f, DCF_RING_RECOVERY, 0)].id, 2);
	assert_int_equal(f->sg.tasks[ring_at(f, NET0, 1)].queue, NET0);
	assert_int_equal(f->sg.tasks[ring_at(f, NET0, 1)].state, DCF_TASK_QUEUED);
	/* Each network told once per ring named: its own, and recovery's. */
	assert_int_equal(f->sg.nets[0].wake, w0 + 2);
	assert_int_equal(f->sg.nets[1].wake, w1 + 2);
	/* Only as many as there are free slots: 4 of 6. */
	assert_int_equal(dcf_dispatch_n_locked(&f->sg, rings, 6, NOW), 4);
	tu_assert_books(&f->sg);
	assert_int_equal(h->cnt.next_id, 8);
	REFUSED(f, dcf_dispatch_n_locked(&f->sg, rings, 2, NOW), ENOSPC);

	/* Retire: up to max in one transaction, in the done ring's order. */
	REFUSED(f, dcf_retire_n_locked(&f->sg, 4, d, &n), ENOENT);
	OK(f, claim_n(f, 0, 3, &cs));
	assert_int_equal(cs.n, 3);
	fin_of(f, 0, 3, &fin);
	OK(f, dcf_complete_claim_locked(&f->sg, 0, 1, 2000, NOW + 2, &fin, 0, &cs));
	REFUSED(f, dcf_retire_n_locked(&f->sg, 0, d, &n), EINVAL);
	REFUSED(f, dcf_retire_n_locked(&f->sg, DCF_SUP_BATCH + 1, d, &n), EINVAL);
	OK(f, dcf_retire_n_locked(&f->sg, 2, d, &n));
	assert_int_equal(n, 2);
	assert_int_equal(d[0].id, fin.id[0]);
	assert_int_equal(d[1].id, fin.id[1]);
	assert_int_equal(d[1].result, tu_result(fin.id[1]));
	assert_int_equal(h->cnt.retired, 2);
	assert_int_equal(h->cnt.succeeded, 2);
	assert_int_equal(tu_depth(&f->sg, DCF_RING_FREE), 2);
	OK(f, dcf_retire_n_locked(&f->sg, DCF_SUP_BATCH, d, &n));
	assert_int_equal(n, 1);
	assert_int_equal(d[0].id, fin.id[2]);
	(void)wake;
}

static void
test_batch_claim_complete(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	struct dcf_claims cs;
	struct dcf_finished fin;
	struct dcf_node *nd = &f->sg.nodes[0];
	uint32_t rings[5] = {DCF_RING_RECOVERY, NET0, NET0, NET0, NET0};

	assert_int_equal(dcf_dispatch_n_locked(&f->sg, rings, 5, NOW), 5);
	/* The batch's size: 1 until tasks are known short, then the budget, capped by the
	 * queue's share per awake worker (5 queued, 2 awake: 3) and kmax. */
	assert_int_equal(dcf_batch_size_locked(&f->sg, 0, 0), 1);
	f->sg.nets[0].run_avg_ns = 100000;
	assert_int_equal(dcf_batch_size_locked(&f->sg, 0, 0), 1);
	f->sg.nets[0].run_avg_ns = 1000;
	assert_int_equal(dcf_batch_size_locked(&f->sg, 0, 0), 3);
	assert_int_equal(dcf_batch_size_locked(&f->sg, 0, 2), 2);
	assert_int_equal(dcf_batch_size_locked(&f->sg, 0, 1), 1);
	f->sg.nets[0].run_avg_ns = 25000;
	assert_int_equal(dcf_batch_size_locked(&f->sg, 0, 0), 2);
	assert_int_equal(dcf_batch_size_locked(&f->sg, 99, 0), 1);

	REFUSED(f, claim_n(f, 0, DCF_BATCH_MAX + 1, &cs), EINVAL);
	REFUSED(f, dcf_complete_claim_locked(&f->sg, 0, 2, 1, NOW, NULL, 1, &cs), ESTALE);
	/* Three in one transaction: the recovery ring's first, chained in order. */
	OK(f, claim_n(f, 0, 3, &cs));
	assert_int_equal(cs.n, 3);
	assert_true(cs.t[0].from_recovery);
	assert_false(cs.t[1].from_recovery);
	assert_int_equal(cs.t[0].id, 0);
	assert_int_equal(cs.t[1].id, 1);
	assert_int_equal(cs.t[2].id, 2);
	assert_int_equal(nd->state, DCF_NODE_BUSY);
	assert_int_equal(nd->held, 3);
	assert_int_equal(nd->task_slot, cs.t[0].slot);
	assert_int_equal(nd->run_slot, cs.t[0].slot);
	assert_int_equal(nd->task_id, 0);
	assert_int_equal(f->sg.tasks[cs.t[0].slot].next_owned, cs.t[1].slot);
	assert_int_equal(f->sg.tasks[cs.t[1].slot].next_owned, cs.t[2].slot);
	assert_int_equal(f->sg.tasks[cs.t[2].slot].next_owned, DCF_NONE);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(f->sg.tasks[cs.t[i].slot].owner_node, 0);
		assert_int_equal(f->sg.tasks[cs.t[i].slot].runs, 1);
		assert_int_equal(cs.t[i].runs, 1);
	}
	assert_int_equal(h->cnt.running, 3);
	assert_int_equal(h->cnt.claims, 3);

	/* Tasks in hand: no claim before they are reported or given back. */
	REFUSED(f, claim_n(f, 0, 1, &cs), EBUSY);
	fin_of(f, 0, 2, &fin);
	REFUSED(f, dcf_complete_claim_locked(&f->sg, 0, 1, 1, NOW, &fin, 0, &cs), EINVAL);
	fin_of(f, 0, 3, &fin);
	fin.id[1]++;
	REFUSED(f, dcf_complete_claim_locked(&f->sg, 0, 1, 1, NOW, &fin, 1, &cs), ESTALE);
	fin_of(f, 0, 3, &fin);
	fin.slot[0] = fin.slot[1];
	REFUSED(f, dcf_complete_claim_locked(&f->sg, 0, 1, 1, NOW, &fin, 1, &cs), ESTALE);
	fin_of(f, 0, 3, &fin);
	REFUSED(f, dcf_complete_claim_locked(&f->sg, 1, 1, 1, NOW, &fin, 1, &cs), ESTALE);

	/* All three reported and two more asked for, in one transaction: the last two. */
	h->sup_waiting = DCF_SUP_WAKE_DONE;
	OK(f, dcf_complete_claim_locked(&f->sg, 0, 1, 2000, NOW + 10, &fin, 4, &cs));
	assert_int_equal(cs.n, 2);
	assert_true(cs.wake_sup);
	assert_int_equal(h->sup_waiting, 0);
	assert_int_equal(cs.t[0].id, 3);
	assert_int_equal(h->cnt.completed, 3);
	assert_int_equal(h->cnt.running, 2);
	assert_int_equal(nd->completed, 3);
	assert_int_equal(f->sg.nets[0].completed, 3);
	assert_int_equal(tu_depth(&f->sg, DCF_RING_DONE), 3);
	assert_int_equal(ring_at(f, DCF_RING_DONE, 2), fin.slot[2]);
	assert_int_equal(f->sg.tasks[fin.slot[2]].result, fin.result[2]);
	assert_int_equal(nd->held, 2);
	assert_int_equal(nd->task_id, 3);

	/* Stopping: the completion still lands; nothing is claimed. */
	h->sys_state = DCF_SYS_STOPPING;
	fin_of(f, 0, 2, &fin);
	OK(f, dcf_complete_claim_locked(&f->sg, 0, 1, 2000, NOW + 20, &fin, 4, &cs));
	assert_int_equal(cs.n, 0);
	assert_true(cs.stopping);
	assert_int_equal(nd->state, DCF_NODE_IDLE);
	assert_int_equal(nd->held, 0);
	assert_int_equal(nd->task_slot, DCF_NONE);
	assert_int_equal(h->cnt.completed, 5);
	assert_int_equal(h->cnt.running, 0);
	REFUSED(f, claim_n(f, 0, 4, &cs), ESHUTDOWN);
	h->sys_state = DCF_SYS_RUNNING;
	REFUSED(f, claim_n(f, 0, 4, &cs), ENOENT);
}

static void
test_give_back(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	struct dcf_claims cs;
	struct dcf_finished fin;
	struct dcf_given g;
	struct dcf_node *nd = &f->sg.nodes[0];
	uint32_t rings[6] = {DCF_RING_RECOVERY, NET0, NET0, NET0, NET0, DCF_RING_RECOVERY};

	assert_int_equal(dcf_dispatch_n_locked(&f->sg, rings, 5, NOW), 5);
	OK(f, claim_n(f, 0, 4, &cs));
	assert_int_equal(cs.n, 4);
	fin_of(f, 0, 4, &fin);
	REFUSED(f, dcf_give_back_locked(&f->sg, 0, 1, NOW, &fin, &g), ENOENT); /* nothing left */
	fin_of(f, 0, 1, &fin);
	REFUSED(f, dcf_give_back_locked(&f->sg, 0, 2, NOW, &fin, &g), ESTALE);
	fin.id[0]++;
	REFUSED(f, dcf_give_back_locked(&f->sg, 0, 1, NOW, &fin, &g), ESTALE);
	/* The first finished (from recovery); ids 1..3 back at the head of network 0's ring,
	 * in order, before id 4 that waited behind them. */
	fin_of(f, 0, 1, &fin);
	OK(f, dcf_give_back_locked(&f->sg, 0, 1, NOW + 5, &fin, &g));
	assert_int_equal(g.returned, 3);
	assert_int_equal(g.to_own, 3);
	assert_int_equal(g.to_recovery, 0);
	assert_int_equal(tu_depth(&f->sg, NET0), 4);
	for (uint32_t i = 0; i < 4; i++) {
		const struct dcf_task *t = &f->sg.tasks[ring_at(f, NET0, i)];

		assert_int_equal(t->id, i + 1);
		assert_int_equal(t->state, DCF_TASK_QUEUED);
		assert_int_equal(t->runs, 0); /* never run: the claim is undone */
		assert_int_equal(t->attempts, 0);
	}
	assert_int_equal(h->cnt.completed, 1);
	assert_int_equal(h->cnt.running, 0);
	assert_int_equal(tu_depth(&f->sg, DCF_RING_DONE), 1);
	assert_int_equal(nd->state, DCF_NODE_IDLE);
	assert_int_equal(nd->held, 0);
	assert_int_equal(nd->task_slot, DCF_NONE);

	/* None finished: a recovery task goes back to the recovery ring's head. */
	assert_int_equal(dcf_dispatch_n_locked(&f->sg, rings + 5, 1, NOW), 1);
	OK(f, dcf_dispatch_locked(&f->sg, DCF_RING_RECOVERY, NOW));
	OK(f, claim_n(f, 0, 3, &cs));
	assert_int_equal(cs.n, 3);
	fin_of(f, 0, 0, &fin);
	OK(f, dcf_give_back_locked(&f->sg, 0, 1, NOW + 6, &fin, &g));
	assert_int_equal(g.to_recovery, 2);
	assert_int_equal(g.to_own, 1);
	assert_int_equal(f->sg.tasks[ring_at(f, DCF_RING_RECOVERY, 0)].id, 5);
	assert_int_equal(f->sg.tasks[ring_at(f, DCF_RING_RECOVERY, 1)].id, 6);
	assert_int_equal(f->sg.tasks[ring_at(f, NET0, 0)].id, 1);
	assert_int_equal(h->cnt.running, 0);
}

/* A death holding a batch: one attempt, for the task it ran; the rest queued again. */
static void
test_death_holding_batch(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	struct dcf_claims cs;
	struct dcf_reclaim rc;
	uint32_t rings[4] = {NET0, NET0, NET0, NET0};

	assert_int_equal(dcf_dispatch_n_locked(&f->sg, rings, 4, NOW), 4);
	OK(f, claim_n(f, 0, 4, &cs));
	/* The worker ran the first two and was on the third (its lock-free store). */
	f->sg.nodes[0].run_slot = cs.t[2].slot;
	OK(f, dcf_node_died_locked(&f->sg, 0, 1, h->cfg.max_attempts, NOW + 9, &rc));
	assert_true(rc.had_task);
	assert_false(rc.quarantined);
	assert_int_equal(rc.id, 2);
	assert_int_equal(rc.attempts, 1);
	assert_int_equal(rc.requeued, 3);
	assert_int_equal(h->cnt.reclaimed, 1);
	assert_int_equal(h->cnt.running, 0);
	assert_int_equal(tu_depth(&f->sg, DCF_RING_RECOVERY), 4);
	for (uint32_t i = 0; i < 4; i++) {
		const struct dcf_task *t = &f->sg.tasks[ring_at(f, DCF_RING_RECOVERY, i)];

		assert_int_equal(t->id, i);
		assert_int_equal(t->attempts, i == 2 ? 1u : 0u);
		assert_int_equal(t->runs, i <= 2 ? 1u : 0u);
		assert_int_equal(t->t_queued_ns, NOW + 9);
	}
	assert_int_equal(f->sg.nodes[0].held, 0);
	assert_int_equal(f->sg.nodes[0].run_slot, DCF_NONE);

	/* A run_slot not on the chain: the head is charged. At its last attempt it is
	 * quarantined; the others still go back. */
	OK(f, dcf_node_start_locked(&f->sg, 0, 2, 3000, 1, NOW));
	OK(f, dcf_node_ready_locked(&f->sg, 0, 2, NOW));
	OK(f, dcf_complete_claim_locked(&f->sg, 0, 2, 3000, NOW, NULL, 3, &cs));
	assert_int_equal(cs.n, 3);
	f->sg.tasks[cs.t[0].slot].attempts = h->cfg.max_attempts - 1;
	f->sg.nodes[0].run_slot = 12345;
	OK(f, dcf_node_died_locked(&f->sg, 0, 2, h->cfg.max_attempts, NOW + 10, &rc));
	assert_true(rc.quarantined);
	assert_int_equal(rc.id, cs.t[0].id);
	assert_int_equal(rc.requeued, 2);
	assert_int_equal(h->cnt.quarantined, 1);
	assert_int_equal(h->cnt.reclaimed, 1);
	assert_int_equal(f->sg.tasks[cs.t[0].slot].state, DCF_TASK_FREE);
	assert_int_equal(tu_depth(&f->sg, DCF_RING_RECOVERY), 3);
}

/* The reset empties every chain; only the task each node ran is charged an attempt. */
static void
test_reset_chains(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->h;
	struct dcf_claims cs;
	char err[DCF_ERRLEN];
	uint32_t rings[3] = {NET0, NET0, NET0};
	int r;

	assert_int_equal(dcf_dispatch_n_locked(&f->sg, rings, 3, NOW), 3);
	OK(f, claim_n(f, 0, 3, &cs));
	f->sg.nodes[0].run_slot = cs.t[1].slot;
	dcf_unlock(&f->sg);
	r = dcf_books_reset(&f->sg, h->cfg.max_attempts, err, sizeof(err));
	if (r < 0)
		fail_msg("%s", err);
	tu_lock(&f->sg);
	assert_int_equal(r, 3);
	tu_assert_books(&f->sg);
	assert_int_equal(h->cnt.reclaimed, 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(f->sg.tasks[cs.t[i].slot].attempts, i == 1 ? 1u : 0u);
		assert_int_equal(f->sg.tasks[cs.t[i].slot].state, DCF_TASK_QUEUED);
		assert_int_equal(f->sg.tasks[cs.t[i].slot].next_owned, DCF_NONE);
	}
	assert_int_equal(f->sg.nodes[0].held, 0);
	assert_int_equal(f->sg.nodes[0].task_slot, DCF_NONE);
	assert_int_equal(f->sg.nodes[0].run_slot, DCF_NONE);
}

/* Level lvl's ring of network net (DCF_NONE: its recovery ring), in the 2-network fixture. */
static uint32_t
lring(uint32_t lvl, uint32_t net)
{
	return dcf_ring_of(2, lvl, net);
}

/*
 * Priorities: a claim takes the highest level first, and within a level the
 * recovery ring before the network's, each in FIFO order. A give-back puts
 * each task back at the head of its own level's ring; a death sends each
 * to its level's recovery ring, where it goes before new tasks of its
 * level and after any of a higher one.
 */
static void
test_priority_order(void **state)
{
	struct fix *f = *state;
	struct dcf_claims cs;
	struct dcf_finished fin;
	struct dcf_given g;
	struct dcf_reclaim rc;
	const uint32_t lo = 0, mid = DCF_LEVEL_DEFAULT, hi = DCF_LEVELS - 1;
	/* ids 0..6 */
	uint32_t rings[7] = {lring(mid, 0), lring(lo, 0), lring(hi, 0), lring(mid, DCF_NONE),
	    lring(hi, 0), lring(mid, 0), lring(hi, 1)};
	const uint64_t want[6] = {2, 4, 3, 0, 5, 1};

	assert_int_equal(lring(mid, 0), NET0);
	assert_int_equal(lring(mid, DCF_NONE), DCF_RING_RECOVERY);
	assert_int_equal(dcf_dispatch_n_locked(&f->sg, rings, 7, NOW), 7);
	tu_assert_books(&f->sg);
	for (uint32_t i = 0; i < 7; i++) {
		uint32_t lvl = DCF_LEVELS, net = 0;

		/* Each slot has its ring's level, and its ring's network. */
		assert_int_equal(dcf_ring_what(2, rings[i], &lvl, &net), 0);
		assert_int_equal(dcf_ring_of(2, lvl, net), rings[i]);
		for (uint32_t k = 0; k < f->h->cfg.task_slots; k++)
			if (f->sg.tasks[k].state == DCF_TASK_QUEUED && f->sg.tasks[k].id == i)
				assert_int_equal(f->sg.tasks[k].prio, lvl);
	}
	assert_int_equal(dcf_ring_what(2, dcf_delay_ring(&f->sg), &(uint32_t){0}, &(uint32_t){0}),
	    -1);
	/* Network 0's worker: hi (2, 4), mid recovery (3), mid (0, 5), lo (1); never 6. */
	OK(f, claim_n(f, 0, DCF_BATCH_MAX, &cs));
	assert_int_equal(cs.n, 6);
	for (uint32_t i = 0; i < 6; i++) {
		assert_int_equal(cs.t[i].id, want[i]);
		assert_int_equal(cs.t[i].from_recovery, want[i] == 3);
	}
	/* The first two finished; the rest back, each at its own ring's head. */
	fin_of(f, 0, 2, &fin);
	OK(f, dcf_give_back_locked(&f->sg, 0, 1, NOW + 2, &fin, &g));
	assert_int_equal(g.returned, 4);
	assert_int_equal(g.to_recovery, 1);
	assert_int_equal(tu_depth(&f->sg, lring(mid, DCF_NONE)), 1);
	assert_int_equal(tu_depth(&f->sg, lring(mid, 0)), 2);
	assert_int_equal(f->sg.tasks[ring_at(f, lring(mid, 0), 0)].id, 0);
	assert_int_equal(f->sg.tasks[ring_at(f, lring(mid, 0), 1)].id, 5);
	assert_int_equal(tu_depth(&f->sg, lring(lo, 0)), 1);
	/* Claimed again, in the same order. */
	OK(f, claim_n(f, 0, DCF_BATCH_MAX, &cs));
	assert_int_equal(cs.n, 4);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(cs.t[i].id, want[i + 2]);
	/* The worker dies on its first (3): each goes to its level's recovery ring. */
	f->sg.nodes[0].run_slot = cs.t[0].slot;
	OK(f, dcf_node_died_locked(&f->sg, 0, 1, f->h->cfg.max_attempts, NOW + 3, &rc));
	assert_int_equal(rc.id, 3);
	assert_int_equal(tu_depth(&f->sg, lring(mid, DCF_NONE)), 3);
	assert_int_equal(tu_depth(&f->sg, lring(lo, DCF_NONE)), 1);
	assert_int_equal(f->sg.tasks[ring_at(f, lring(lo, DCF_NONE), 0)].id, 1);
	/* A new mid task on network 0 and a new hi one on the recovery ring (2 and 4 retired). */
	{
		struct dcf_done d[2];
		uint32_t got;

		OK(f, dcf_retire_n_locked(&f->sg, 2, d, &got));
		assert_int_equal(got, 2);
	}
	rings[0] = lring(mid, 0);
	rings[1] = lring(hi, DCF_NONE);
	assert_int_equal(dcf_dispatch_n_locked(&f->sg, rings, 2, NOW + 4), 2); /* ids 7, 8 */
	/* Network 1's worker: hi 8 (recovery), hi 6 (its own), then the reclaimed
	 * mid ones (3, 0, 5) before the new mid 7, which is network 0's anyway,
	 * then lo 1. */
	OK(f, claim_n(f, 2, DCF_BATCH_MAX, &cs));
	{
		const uint64_t want2[6] = {8, 6, 3, 0, 5, 1};

		assert_int_equal(cs.n, 6);
		for (uint32_t i = 0; i < 6; i++)
			assert_int_equal(cs.t[i].id, want2[i]);
	}
	assert_int_equal(tu_depth(&f->sg, lring(mid, 0)), 1);
}

/* A move between levels takes the task's level with it; the checker catches a mismatch. */
static void
test_priority_move(void **state)
{
	struct fix *f = *state;
	uint64_t id;
	uint32_t s;

	OK(f, dcf_dispatch_locked(&f->sg, lring(1, 0), NOW));
	s = ring_at(f, lring(1, 0), 0);
	assert_int_equal(f->sg.tasks[s].prio, 1);
	OK(f, dcf_move_ring_locked(&f->sg, lring(1, 0), lring(7, 1), NOW + 1, &id));
	assert_int_equal(id, 0);
	assert_int_equal(f->sg.tasks[s].prio, 7);
	assert_int_equal(f->sg.tasks[s].queue, lring(7, 1));
	/* Network 1 has no live node left: dcf_move_locked takes its highest level first. */
	OK(f, dcf_dispatch_locked(&f->sg, lring(2, 1), NOW));
	OK(f, dcf_move_locked(&f->sg, 1, NOW + 2, &id));
	assert_int_equal(id, 0);
	assert_int_equal(ring_at(f, lring(7, DCF_NONE), 0), s);
	OK(f, dcf_move_locked(&f->sg, 1, NOW + 2, &id));
	assert_int_equal(id, 1);
	REFUSED(f, dcf_move_locked(&f->sg, 1, NOW + 2, &id), ENOENT);
	/* Damage: a task whose level is not its ring's. */
	f->sg.tasks[s].prio = 3;
	{
		char err[DCF_ERRLEN];

		assert_int_equal(dcf_books_check_locked(&f->sg, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "level"));
	}
	f->sg.tasks[s].prio = 7;
	tu_assert_books(&f->sg);
}

/*
 * dcf-ctl priority in the books: a queued task leaves the middle of its
 * ring (the shorter side moves up) for the tail of its level's ring of the
 * same network; a claim then takes it in its new place. A running, ended
 * or unknown task, or a level out of range, is refused and nothing changes.
 */
static void
test_reprio(void **state)
{
	struct fix *f = *state;
	struct dcf_claims cs;
	struct dcf_tx tx;
	uint32_t rings[6] = {NET0, NET0, NET0, NET0, NET0, NET0};
	const uint64_t want[6] = {1, 0, 2, 3, 5, 4};

	assert_int_equal(dcf_dispatch_n_locked(&f->sg, rings, 6, NOW), 6);
	REFUSED(f, dcf_reprio_locked(&f->sg, 99, 8), ENOENT);
	REFUSED(f, dcf_reprio_locked(&f->sg, 1, DCF_LEVELS), EINVAL);
	/* Too deep for the moves allowed: refused whole. */
	tu_img_take(&f->im, &f->sg);
	dcf_tx_begin(&tx, &f->sg, DCF_OP_MOVE);
	errno = 0;
	assert_int_equal(dcf_ring_remove_tx(&tx, NET0, 2, 1), -1);
	assert_int_equal(errno, E2BIG);
	assert_true(tu_img_same_bytes(&f->sg, &f->im));
	OK(f, dcf_reprio_locked(&f->sg, 1, DCF_LEVELS - 1));    /* the head side moves */
	OK(f, dcf_reprio_locked(&f->sg, 4, 0));                 /* the tail side moves */
	OK(f, dcf_reprio_locked(&f->sg, 3, DCF_LEVEL_DEFAULT)); /* its level already */
	assert_int_equal(tu_depth(&f->sg, NET0), 4);
	assert_int_equal(f->sg.tasks[ring_at(f, lring(DCF_LEVELS - 1, 0), 0)].id, 1);
	assert_int_equal(f->sg.tasks[ring_at(f, lring(0, 0), 0)].id, 4);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(f->sg.tasks[ring_at(f, NET0, i)].id, want[i == 0 ? 1 : i + 1]);
	OK(f, claim_n(f, 0, 2, &cs));
	REFUSED(f, dcf_reprio_locked(&f->sg, 1, 0), EBUSY);
	{
		struct dcf_finished fin;

		fin_of(f, 0, 2, &fin);
		OK(f,
		    dcf_complete_claim_locked(&f->sg, 0, 1, 2000, NOW + 2, &fin, DCF_BATCH_MAX,
		        &cs));
	}
	REFUSED(f, dcf_reprio_locked(&f->sg, 0, 8), EALREADY);
	assert_int_equal(cs.n, 4);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(cs.t[i].id, want[i + 2]);
}

/*
 * A task pinned to a network (dcf-submit --network) only ever waits on that
 * network's rings: a dispatch anywhere else is refused; its worker's death
 * puts it back at the head of its own ring, not on the recovery ring; a
 * network left without nodes keeps it (and its order) while the others
 * move to the recovery ring; the checker catches one on a wrong ring.
 */
static void
test_pinned(void **state)
{
	struct fix *f = *state;
	struct dcf_prior pr[4];
	struct dcf_claims cs;
	struct dcf_reclaim rc;
	uint32_t rings[4] = {NET1, NET1, NET1, NET1};
	uint64_t id;
	int moved;

	memset(pr, 0, sizeof(pr));
	pr[0].pin = pr[2].pin = 2; /* ids 0 and 2 on network 1 only */
	REFUSED(f,
	    dcf_dispatch_ids_locked(&f->sg, (uint32_t[]){NET0}, 1, NOW, NULL, NULL, pr, NULL),
	    EINVAL);
	REFUSED(f,
	    dcf_dispatch_ids_locked(&f->sg, (uint32_t[]){DCF_RING_RECOVERY}, 1, NOW, NULL, NULL, pr,
	        NULL),
	    EINVAL);
	pr[3].pin = 3; /* no network 2 */
	REFUSED(f, dcf_dispatch_ids_locked(&f->sg, rings, 4, NOW, NULL, NULL, pr, NULL), EINVAL);
	pr[3].pin = 0;
	OK(f, dcf_dispatch_ids_locked(&f->sg, rings, 4, NOW, NULL, NULL, pr, NULL) == 4 ? 0 : -1);
	/* Node 2 (network 1) takes 0 and 1, runs 0, and dies. */
	OK(f, dcf_complete_claim_locked(&f->sg, 2, 1, 2002, NOW + 1, NULL, 2, &cs));
	assert_int_equal(cs.n, 2);
	f->sg.nodes[2].run_slot = cs.t[0].slot;
	OK(f, dcf_node_died_locked(&f->sg, 2, 1, f->h->cfg.max_attempts, NOW + 2, &rc));
	assert_int_equal(tu_depth(&f->sg, DCF_RING_RECOVERY), 1); /* 1, unpinned */
	assert_int_equal(f->sg.tasks[ring_at(f, DCF_RING_RECOVERY, 0)].id, 1);
	assert_int_equal(tu_depth(&f->sg, NET1), 3); /* 0 back in front of 2 and 3 */
	assert_int_equal(f->sg.tasks[ring_at(f, NET1, 0)].id, 0);
	assert_int_equal(f->sg.tasks[ring_at(f, NET1, 0)].attempts, 1);
	/* Network 1 has no live node: 3 leaves, 0 and 2 stay, in their order. */
	for (uint32_t d = tu_depth(&f->sg, NET1); d > 0; d--)
		OK(f, dcf_evacuate_locked(&f->sg, NET1, NOW + 3, &id, &moved));
	assert_int_equal(tu_depth(&f->sg, NET1), 2);
	assert_int_equal(f->sg.tasks[ring_at(f, NET1, 0)].id, 0);
	assert_int_equal(f->sg.tasks[ring_at(f, NET1, 1)].id, 2);
	assert_int_equal(tu_depth(&f->sg, DCF_RING_RECOVERY), 2);
	assert_int_equal(f->sg.tasks[ring_at(f, DCF_RING_RECOVERY, 1)].id, 3);
	/* Network 0's worker takes the recovery ring's two, never a pinned one. */
	OK(f, dcf_complete_claim_locked(&f->sg, 0, 1, 2000, NOW + 4, NULL, DCF_BATCH_MAX, &cs));
	assert_int_equal(cs.n, 2);
	assert_int_equal(cs.t[0].id, 1);
	assert_int_equal(cs.t[1].id, 3);
	/* Damage: a pinned task on the other network's ring. */
	f->sg.tasks[ring_at(f, NET1, 0)].pin = 1;
	{
		char err[DCF_ERRLEN];

		assert_int_equal(dcf_books_check_locked(&f->sg, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "pinned to network 0"));
	}
	f->sg.tasks[ring_at(f, NET1, 0)].pin = 2;
	tu_assert_books(&f->sg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_dispatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch_dispatch_retire, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch_claim_complete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_give_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_death_holding_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_chains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_priority_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_priority_move, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reprio, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pinned, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_complete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retire, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_node_death, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quarantine, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_completion, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_move, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sleep, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_node_states, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_run_wrapping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_checker_catches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_task_numbers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
