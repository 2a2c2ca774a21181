/*
 * test_flow.c - ids through the queues between real processes: producers
 * (each a dispatcher and retirer, as the supervisor is) and consumers on
 * several networks (claiming and completing, asleep on their network's wake
 * word when there is nothing, woken by dcf_books_wake_ring) move 1,000,000
 * ids; every id is run, completed and retired exactly once, with the right
 * result, and the books add up at the end.
 *
 * Two shapes: a contended one (two producers, three networks of two
 * consumers, some tasks through the recovery ring, some moved there), and
 * one consumer per network with nothing but its own ring, where a single
 * lost wake-up stalls a network until its queue holds every task slot.
 * Nothing sleeps for time: consumers wait on the futex without a timeout,
 * so a lost wake-up hangs the run and the parent's deadline fails the test.
 */
#include "testutil.h"

#define BATCH 64

struct shape {
	uint32_t nets, per_net, producers;
	int recovery; /* dispatch some to the recovery ring, move some there */
};

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

/* A producer: retire, dispatch, now and then move a task to recovery; stop the run at the end. */
static int
producer_main(struct dcf_seg *sg, struct tu_ledger *L, const struct shape *sh, unsigned me)
{
	struct dcf_hdr *h = sg->hdr;
	const struct dcf_config *c = &h->cfg;
	uint8_t woke[DCF_MAX_RINGS];
	char err[DCF_ERRLEN];

	dcf_seg_close_fd(sg);
	for (uint64_t iter = 0;; iter++) {
		uint32_t e = __atomic_load_n(&L->ev, __ATOMIC_SEQ_CST);
		int retired, sent = 0;

		memset(woke, 0, sizeof(woke));
		if (dcf_lock(sg) == -1)
			return TU_EX_NOTREC;
		if (h->sys_state != DCF_SYS_RUNNING) {
			dcf_unlock(sg);
			return TU_EX_OK;
		}
		retired = tu_retire_all_locked(sg, L, BATCH);
		TU_CHILD_CHECK(retired > 0 || errno == ENOENT, "retire: %s", strerror(errno));
		for (; sent < BATCH; sent++) {
			uint64_t id = h->cnt.next_id;
			uint32_t ring = sh->recovery && id % 61 == 7
			    ? DCF_RING_RECOVERY
			    : DCF_RING_NET0 + (uint32_t)((id / 5) % c->nets);

			if (dcf_dispatch_locked(sg, ring, dcf_now_ns()) == -1) {
				TU_CHILD_CHECK(errno == ENOSPC || errno == ENODATA, "dispatch: %s",
				    strerror(errno));
				break;
			}
			woke[ring] = 1;
		}
		if (sh->recovery && iter % 64 == me) {
			uint64_t id;

			if (dcf_move_locked(sg, (uint32_t)(iter / 64) % c->nets, dcf_now_ns(),
			        &id) == 0)
				woke[DCF_RING_RECOVERY] = 1;
			else
				TU_CHILD_CHECK(errno == ENOENT, "move: %s", strerror(errno));
		}
		if (iter % 1024 == me)
			TU_CHILD_CHECK(dcf_books_check_locked(sg, err, sizeof(err)) == 0,
			    "books: %s", err);
		if (h->cnt.retired == c->tasks) {
			/* All done: stop the consumers and the other producers. */
			__atomic_store_n(&h->sys_state, DCF_SYS_STOPPING, __ATOMIC_RELEASE);
			h->sup_waiting = 0;
			TU_CHILD_CHECK(dcf_books_check_locked(sg, err, sizeof(err)) == 0,
			    "books: %s", err);
			dcf_unlock(sg);
			dcf_books_wake_all(sg);
			tu_wake_sup(L);
			return TU_EX_OK;
		}
		if (retired == 0 && sent == 0)
			h->sup_waiting = 1; /* a completion will clear it and wake us */
		dcf_unlock(sg);
		for (uint32_t r = DCF_RING_RECOVERY; r < h->nrings; r++)
			if (woke[r])
				dcf_books_wake_ring(sg, r);
		if (retired == 0 && sent == 0)
			dcf_futex_wait(&L->ev, e, NULL);
	}
}

static void
flow(const struct shape *sh)
{
	struct dcf_config c;
	struct dcf_seg sg;
	struct tu_ledger *L;
	pid_t pids[16];
	int status[16] = {0}, nkids = 0, left;
	uint64_t deadline, t0 = dcf_now_ns(), sum = 0;
	char err[DCF_ERRLEN];

	tu_config(&c);
	c.nets = sh->nets;
	c.nodes_per_net = sh->per_net;
	c.max_nodes = sh->nets * sh->per_net;
	assert_true(c.max_nodes + sh->producers <= 16);
	c.task_slots = 512;
	c.tasks = 1000000;
	tu_seg_create(&sg, "flow", &c);
	L = tu_ledger_new(c.tasks);
	tu_sigchld_word(&L->ev);

	tu_lock(&sg);
	for (uint32_t n = 0; n < c.max_nodes; n++)
		assert_int_equal(dcf_node_start_locked(&sg, n, 1, 0, 0, dcf_now_ns()), 0);
	dcf_unlock(&sg);
	for (uint32_t n = 0; n < c.max_nodes; n++) {
		struct tu_worker w = {&sg, L, n, 1, 0, 0, 0, 0, 0, 0};

		pids[nkids++] = tu_spawn_worker(&w);
	}
	/* Every consumer asleep before any work exists: each must be woken for it. */
	for (uint32_t n = 0; n < c.max_nodes; n++)
		tu_wait_asleep(&sg, pids[n], n);
	for (unsigned p = 0; p < sh->producers; p++) {
		pid_t pid = tu_fork();

		if (pid == 0)
			_exit(producer_main(&sg, L, sh, p));
		pids[nkids++] = pid;
	}

	deadline = tu_deadline(60000);
	left = nkids;
	while (left > 0) {
		uint32_t e = __atomic_load_n(&L->ev, __ATOMIC_SEQ_CST);
		struct timespec ts;
		int st;
		pid_t pid;

		while ((pid = tu_reap_any(&st)) > 0) {
			for (int i = 0; i < nkids; i++) {
				if (pids[i] != pid)
					continue;
				status[i] = st;
				left--;
				if (i < (int)c.max_nodes) { /* a consumer: it stopped */
					tu_lock(&sg);
					assert_int_equal(dcf_node_set_state_locked(&sg, (uint32_t)i,
					                     DCF_NODE_STOPPED),
					    0);
					tu_assert_books(&sg);
					dcf_unlock(&sg);
				}
			}
		}
		if (left == 0)
			break;
		if (!tu_time_left(deadline, &ts))
			fail_msg("hung: %d processes left; dispatched %llu, completed %llu, "
			         "retired %llu",
			    left, (unsigned long long)sg.hdr->cnt.next_id,
			    (unsigned long long)sg.hdr->cnt.completed,
			    (unsigned long long)sg.hdr->cnt.retired);
		dcf_futex_wait(&L->ev, e, &ts);
	}
	for (int i = 0; i < nkids; i++)
		tu_assert_exit(status[i], TU_EX_OK);

	tu_lock(&sg);
	tu_assert_books(&sg);
	if (tu_ledger_verify(&sg, L, 1, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(sg.hdr->cnt.completed, c.tasks);
	assert_int_equal(sg.hdr->cnt.retired, c.tasks);
	assert_int_equal(sg.hdr->cnt.repairs, 0);
	assert_int_equal(tu_depth(&sg, DCF_RING_FREE), c.task_slots);
	if (sh->recovery) /* dispatched there (ids 7 mod 61), and moved there too */
		assert_true(sg.hdr->cnt.to_recovery > (c.tasks - 7 + 60) / 61);
	else
		assert_int_equal(sg.hdr->cnt.to_recovery, 0);
	for (uint32_t n = 0; n < c.nets; n++) {
		assert_true(sg.nets[n].completed > 0);
		assert_int_equal(sg.nets[n].alive, 0);
		assert_int_equal(sg.nets[n].sleepers, 0);
		sum += sg.nets[n].completed;
	}
	assert_int_equal(sum, c.tasks);
	dcf_unlock(&sg);
	assert_int_equal(L->stat[TU_ST_CLAIMS], c.tasks);
	assert_int_equal(L->stat[TU_ST_COMPLETES], c.tasks);
	assert_true(L->stat[TU_ST_WOKE_TO_WORK] >= c.nets);
	printf("    %llu ids, %u networks of %u, %u producers, %.2f s; consumers slept %llu times, "
	       "%llu woken to work, %llu chained wakes\n",
	    (unsigned long long)c.tasks, c.nets, sh->per_net, sh->producers,
	    (double)(dcf_now_ns() - t0) / 1e9, (unsigned long long)L->stat[TU_ST_SLEEPS],
	    (unsigned long long)L->stat[TU_ST_WOKE_TO_WORK],
	    (unsigned long long)L->stat[TU_ST_CHAINS]);
	tu_sigchld_word(NULL);
	tu_ledger_free(L);
	dcf_seg_destroy(&sg);
}

static void
test_flow_contended(void **state)
{
	static const struct shape sh = {3, 2, 2, 1};

	(void)state;
	flow(&sh);
}

static void
test_flow_one_per_network(void **state)
{
	static const struct shape sh = {4, 1, 1, 0};

	(void)state;
	flow(&sh);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_flow_contended, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flow_one_per_network, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
