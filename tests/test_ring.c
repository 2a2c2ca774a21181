/*
 * test_ring.c - the rings and the journal under them: push, pop, FIFO order,
 * full and empty, free-running counters that wrap at 2^32, corruption
 * detected, nothing visible before the commit; the redo record replayed
 * once or twice to the same result, and a malformed record refused whole.
 */
#include "testutil.h"

#define RING DCF_RING_NET0

struct fix {
	struct dcf_seg sg;
	struct dcf_ring *r;
	uint32_t cap;
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
	tu_seg_create(&f->sg, "ring", &c);
	f->r = &f->sg.rings[RING];
	f->cap = f->sg.hdr->ring_cap;
	tu_lock(&f->sg); /* every test runs with the lock held */
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
		free(f);
	}
	return tu_teardown(state);
}

/* One push (or pop) as its own transaction, as the books do it. */
static int
push(struct fix *f, uint32_t v)
{
	struct dcf_tx tx;

	dcf_tx_begin(&tx, &f->sg, DCF_OP_DISPATCH);
	if (dcf_ring_push_tx(&tx, RING, v) == -1) {
		assert_int_equal(tx.n, 0); /* a refused push records nothing */
		return -1;
	}
	dcf_tx_commit(&tx);
	return 0;
}

static int
pop(struct fix *f, uint32_t *v)
{
	struct dcf_tx tx;

	dcf_tx_begin(&tx, &f->sg, DCF_OP_CLAIM);
	if (dcf_ring_pop_tx(&tx, RING, v) == -1) {
		assert_int_equal(tx.n, 0);
		return -1;
	}
	dcf_tx_commit(&tx);
	return 0;
}

static void
test_ring_starts(void **state)
{
	struct fix *f = *state;
	uint32_t v;

	/* The free ring holds every slot in order; the others are empty. */
	assert_int_equal(f->cap, 8);
	assert_int_equal(tu_depth(&f->sg, DCF_RING_FREE), 8);
	for (uint32_t i = 0; i < 8; i++) {
		assert_int_equal(dcf_ring_peek(&f->sg, DCF_RING_FREE, i, &v), 0);
		assert_int_equal(v, i);
	}
	for (uint32_t r = DCF_RING_DONE; r < f->sg.hdr->nrings; r++) {
		assert_int_equal(tu_depth(&f->sg, r), 0);
		assert_int_equal(f->sg.rings[r].mask, 7);
	}
	assert_int_equal(f->sg.hdr->nrings, dcf_nrings(2)); /* every level's, and the delay ring */
	tu_assert_books(&f->sg);
}

static void
test_ring_empty(void **state)
{
	struct fix *f = *state;
	uint32_t v = 12345;

	errno = 0;
	assert_int_equal(pop(f, &v), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(v, 12345);
	assert_int_equal(f->r->head, 0);
	assert_int_equal(f->r->tail, 0);
	assert_int_equal(dcf_ring_peek(&f->sg, RING, 0, &v), -1);
}

static void
test_ring_fifo(void **state)
{
	struct fix *f = *state;
	uint32_t v;

	for (uint32_t i = 0; i < 5; i++) {
		assert_int_equal(push(f, 7 - i), 0);
		assert_int_equal(tu_depth(&f->sg, RING), i + 1);
	}
	for (uint32_t i = 0; i < 5; i++) {
		assert_int_equal(dcf_ring_peek(&f->sg, RING, i, &v), 0);
		assert_int_equal(v, 7 - i);
	}
	assert_int_equal(dcf_ring_peek(&f->sg, RING, 5, &v), -1);
	for (uint32_t i = 0; i < 5; i++) {
		assert_int_equal(pop(f, &v), 0);
		assert_int_equal(v, 7 - i);
		assert_int_equal(tu_depth(&f->sg, RING), 4 - i);
	}
	errno = 0;
	assert_int_equal(pop(f, &v), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(f->r->head, 5);
	assert_int_equal(f->r->tail, 5);
}

static void
test_ring_full(void **state)
{
	struct fix *f = *state;
	uint32_t v;

	for (uint32_t i = 0; i < f->cap; i++)
		assert_int_equal(push(f, i), 0);
	assert_int_equal(tu_depth(&f->sg, RING), f->cap);
	errno = 0;
	assert_int_equal(push(f, 1), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(f->r->tail, f->cap);
	/* One out, one in: the new one goes behind the rest. */
	assert_int_equal(pop(f, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(push(f, 3), 0);
	for (uint32_t i = 1; i < f->cap; i++) {
		assert_int_equal(pop(f, &v), 0);
		assert_int_equal(v, i);
	}
	assert_int_equal(pop(f, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(tu_depth(&f->sg, RING), 0);
}

/* Counters started just below 2^32: depth and order survive the wrap. */
static void
test_ring_wrap(void **state)
{
	struct fix *f = *state;
	uint32_t v, next_in = 0, next_out = 0, wrapped = 0;
	struct dcf_rng rng;

	f->r->head = f->r->tail = UINT32_MAX - 2;
	dcf_rng_seed(&rng, 7);
	for (int round = 0; round < 200; round++) {
		uint32_t d = tu_depth(&f->sg, RING);

		if (dcf_rng_range(&rng, 0, 1) == 0) {
			int r = push(f, next_in % f->cap);

			if (d == f->cap) {
				assert_int_equal(r, -1);
				assert_int_equal(errno, ENOSPC);
			} else {
				assert_int_equal(r, 0);
				next_in++;
			}
		} else {
			int r = pop(f, &v);

			if (d == 0) {
				assert_int_equal(r, -1);
				assert_int_equal(errno, ENOENT);
			} else {
				assert_int_equal(r, 0);
				assert_int_equal(v, next_out % f->cap);
				next_out++;
			}
		}
		assert_int_equal(tu_depth(&f->sg, RING), next_in - next_out);
		assert_true(tu_depth(&f->sg, RING) <= f->cap);
		wrapped |= f->r->tail < f->r->head;
	}
	assert_true(wrapped);           /* tail went past 2^32 while head had not */
	assert_true(f->r->head < 1000); /* and then head followed */
	assert_true(next_out > 50);
}

/* Full exactly across the wrap: tail has wrapped, head has not. */
static void
test_ring_full_across_wrap(void **state)
{
	struct fix *f = *state;
	uint32_t v;

	f->r->head = f->r->tail = UINT32_MAX - 3;
	for (uint32_t i = 0; i < f->cap; i++)
		assert_int_equal(push(f, i), 0);
	assert_int_equal(f->r->tail, f->cap - 4);
	assert_int_equal(tu_depth(&f->sg, RING), f->cap);
	errno = 0;
	assert_int_equal(push(f, 0), -1);
	assert_int_equal(errno, ENOSPC);
	for (uint32_t i = 0; i < f->cap; i++) {
		assert_int_equal(dcf_ring_peek(&f->sg, RING, i, &v), 0);
		assert_int_equal(v, i);
	}
	for (uint32_t i = 0; i < f->cap; i++) {
		assert_int_equal(pop(f, &v), 0);
		assert_int_equal(v, i);
	}
	assert_int_equal(f->r->head, f->r->tail);
	assert_int_equal(pop(f, &v), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_ring_corrupt(void **state)
{
	struct fix *f = *state;
	uint32_t v;

	/* More in it than it can hold: refused both ways. */
	f->r->head = 10;
	f->r->tail = 10 + f->cap + 1;
	errno = 0;
	assert_int_equal(push(f, 1), -1);
	assert_int_equal(errno, EUCLEAN);
	errno = 0;
	assert_int_equal(pop(f, &v), -1);
	assert_int_equal(errno, EUCLEAN);
	assert_int_equal(dcf_ring_peek(&f->sg, RING, 0, &v), -1);
	/* The same, with the counters on both sides of the wrap. */
	f->r->head = UINT32_MAX - 1;
	f->r->tail = f->cap;
	assert_int_equal(pop(f, &v), -1);
	assert_int_equal(errno, EUCLEAN);
	/* A slot index beyond the task table is never handed out. */
	f->r->head = f->r->tail = 0;
	assert_int_equal(push(f, 2), 0);
	dcf_ring_slots(&f->sg, RING)[0] = f->sg.hdr->cfg.task_slots;
	errno = 0;
	assert_int_equal(pop(f, &v), -1);
	assert_int_equal(errno, EUCLEAN);
	assert_int_equal(f->r->head, 0);
	/* And a corrupt ring fails the books' check. */
	{
		char err[DCF_ERRLEN];

		assert_int_equal(dcf_books_check_locked(&f->sg, err, sizeof(err)), -1);
		assert_int_equal(errno, EUCLEAN);
	}
}

/* A push or pop is a record: nothing changes until the commit. */
static void
test_ring_nothing_before_commit(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->sg.hdr;
	uint64_t seq = h->seq, txid = h->wal.txid;
	struct dcf_tx tx;
	uint32_t v, *slots = dcf_ring_slots(&f->sg, RING);

	slots[0] = 6;
	dcf_tx_begin(&tx, &f->sg, DCF_OP_DISPATCH);
	assert_int_equal(dcf_ring_push_tx(&tx, RING, 5), 0);
	assert_int_equal(tx.n, 2);
	assert_int_equal(f->r->tail, 0);
	assert_int_equal(slots[0], 6);
	assert_int_equal(h->wal.n, 0);
	assert_int_equal(h->wal.e[0].off, (uint32_t)((unsigned char *)&slots[0] - f->sg.base));
	assert_int_equal(h->wal.e[0].val, 5);
	assert_int_equal(h->wal.e[1].off, (uint32_t)((unsigned char *)&f->r->tail - f->sg.base));
	assert_int_equal(h->wal.e[1].val, 1);
	dcf_tx_commit(&tx);
	assert_int_equal(f->r->tail, 1);
	assert_int_equal(slots[0], 5);
	assert_int_equal(h->wal.n, 0);
	assert_int_equal(h->seq, seq + 2);
	assert_int_equal(h->wal.txid, txid + 1);

	dcf_tx_begin(&tx, &f->sg, DCF_OP_CLAIM);
	assert_int_equal(dcf_ring_pop_tx(&tx, RING, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(f->r->head, 0);
	dcf_tx_commit(&tx);
	assert_int_equal(f->r->head, 1);
}

/* A published record left by a dead holder: replayed, twice is once. */
static void
test_journal_redo(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->sg.hdr;
	uint32_t *slots = dcf_ring_slots(&f->sg, RING);
	uint64_t seq;
	struct dcf_tx tx;

	/* Build a record as a holder would, publish it by hand, apply none of it. */
	dcf_tx_begin(&tx, &f->sg, DCF_OP_DISPATCH);
	assert_int_equal(dcf_ring_push_tx(&tx, RING, 4), 0);
	dcf_tx_put64(&tx, &h->cnt.next_id, 77);
	h->wal.n = tx.n;
	seq = h->seq;
	assert_int_equal(dcf_wal_redo_locked(&f->sg), 1);
	assert_int_equal(h->wal.n, 0);
	assert_int_equal(slots[0], 4);
	assert_int_equal(f->r->tail, 1);
	assert_int_equal(h->cnt.next_id, 77);
	assert_int_equal(h->seq, seq + 2);
	/* Nothing left to replay. */
	assert_int_equal(dcf_wal_redo_locked(&f->sg), 0);
	/* Replaying a record that was already applied changes nothing. */
	h->wal.n = tx.n;
	assert_int_equal(dcf_wal_redo_locked(&f->sg), 1);
	assert_int_equal(f->r->tail, 1);
	assert_int_equal(h->cnt.next_id, 77);
	/* Died between clearing the record and making seq even again. */
	h->seq++;
	assert_int_equal(dcf_wal_redo_locked(&f->sg), 0);
	assert_int_equal(h->seq & 1, 0);
	h->cnt.next_id = 0;
	f->r->head = f->r->tail = 0;
}

/* A malformed record is refused whole: none of its stores lands. */
static void
test_journal_malformed(void **state)
{
	struct fix *f = *state;
	struct dcf_hdr *h = f->sg.hdr;
	struct {
		uint32_t off, width;
		const char *what;
	} bad[] = {
	    {(uint32_t)f->sg.size, 4, "past the end"},
	    {(uint32_t)f->sg.size - 4, 8, "straddling the end"},
	    {(uint32_t)offsetof(struct dcf_hdr, magic), 8, "on the magic"},
	    {(uint32_t)offsetof(struct dcf_hdr, cfg.tasks), 8, "on the configuration"},
	    {(uint32_t)offsetof(struct dcf_hdr, seq), 8, "on seq"},
	    {(uint32_t)offsetof(struct dcf_hdr, wal), 4, "on the journal"},
	    {(uint32_t)h->off_tasks + 2, 4, "misaligned"},
	    {(uint32_t)h->off_tasks, 3, "of width 3"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dcf_tx tx;

		dcf_tx_begin(&tx, &f->sg, DCF_OP_RETIRE);
		dcf_tx_put64(&tx, &h->cnt.retired, 99); /* a good store first */
		h->wal.e[1].off = bad[i].off;
		h->wal.e[1].width = bad[i].width;
		h->wal.e[1].val = 1;
		h->wal.n = 2;
		if (dcf_wal_redo_locked(&f->sg) != -1)
			fail_msg("a store %s was accepted", bad[i].what);
		assert_int_equal(h->cnt.retired, 0);
		assert_int_equal(h->magic, DCF_MAGIC);
	}
	h->wal.n = DCF_WAL_MAX + 1;
	assert_int_equal(dcf_wal_redo_locked(&f->sg), -1);
	h->wal.n = 0;
	tu_assert_books(&f->sg);
}

/*
 * n entries at once, as one transaction each: push_n keeps their order,
 * pop_n takes what there is (at most n), unpop_n puts entries back in front
 * of the head in their order; one head or tail store plus n slot stores;
 * all across the counters' wrap at 2^32; refused whole when they do not fit.
 */
static int
ring_n(struct fix *f, int op, uint32_t *v, uint32_t n, uint32_t *got, uint32_t *stores)
{
	struct dcf_tx tx;
	int r;

	dcf_tx_begin(&tx, &f->sg, DCF_OP_DISPATCH);
	r = op == 0   ? dcf_ring_push_n_tx(&tx, RING, v, n)
	    : op == 1 ? dcf_ring_pop_n_tx(&tx, RING, v, n, got)
	              : dcf_ring_unpop_n_tx(&tx, RING, v, n);
	if (r == -1) {
		assert_int_equal(tx.n, 0);
		return -1;
	}
	*stores = tx.n;
	dcf_tx_commit(&tx);
	return 0;
}

static void
test_ring_batches(void **state)
{
	struct fix *f = *state;
	uint32_t v[8], got = 0, stores = 0, w[8];

	f->r->head = f->r->tail = UINT32_MAX - 2; /* the next few cross 2^32 */
	for (uint32_t i = 0; i < 5; i++)
		v[i] = 3 + i;
	assert_int_equal(ring_n(f, 0, v, 5, &got, &stores), 0);
	assert_int_equal(stores, 6);
	assert_int_equal(dcf_ring_depth(f->r), 5);
	assert_int_equal(ring_n(f, 1, w, 3, &got, &stores), 0);
	assert_int_equal(got, 3);
	assert_int_equal(stores, 1);
	assert_int_equal(w[0], 3);
	assert_int_equal(w[2], 5);
	/* Back in front, in their order: 3 4 5 6 7 again. */
	assert_int_equal(ring_n(f, 2, w, 3, &got, &stores), 0);
	assert_int_equal(stores, 4);
	assert_int_equal(ring_n(f, 1, w, 8, &got, &stores), 0);
	assert_int_equal(got, 5);
	for (uint32_t i = 0; i < 5; i++)
		assert_int_equal(w[i], 3 + i);
	errno = 0;
	assert_int_equal(ring_n(f, 1, w, 8, &got, &stores), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(ring_n(f, 0, v, 0, &got, &stores), 0); /* nothing: no store */
	assert_int_equal(stores, 0);
	/* Refused whole when they do not fit. */
	f->r->tail = f->r->head + f->cap - 2;
	errno = 0;
	assert_int_equal(ring_n(f, 0, v, 3, &got, &stores), -1);
	assert_int_equal(errno, ENOSPC);
	errno = 0;
	assert_int_equal(ring_n(f, 2, v, 3, &got, &stores), -1);
	assert_int_equal(errno, ENOSPC);
	f->r->tail = f->r->head + f->cap + 1;
	errno = 0;
	assert_int_equal(ring_n(f, 1, w, 1, &got, &stores), -1);
	assert_int_equal(errno, EUCLEAN);
	f->r->tail = f->r->head;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ring_starts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_fifo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_wrap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_full_across_wrap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_corrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_nothing_before_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_journal_redo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_journal_malformed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
