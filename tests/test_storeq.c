/*
 * test_storeq.c - group commit (storeq.h): a stream of adds and changes
 * staged while commits sync comes back whole, in order, each result after
 * its commit, in far fewer transactions than items; keys resolved across
 * batches; a commit that fails on a full disk is retried whole once there
 * is room, the loop told once; a stop with a commit that cannot succeed
 * says how many items were lost.
 */
#include <ftw.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "testutil.h"
#include "dcf/store.h"
#include "dcf/storeq.h"

struct fix {
	char dir[64];
	char path[128];
	char err[512];
	struct dcf_store *st;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct dcf_store_open_opts o = {.create = 1, .mode = DCF_STORE_SERVICE};

	tu_setup(state);
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/dcf-storeq-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/s.db", f->dir);
	o.where = f->path;
	if ((f->st = dcf_store_open(&o, f->err, sizeof(f->err))) == NULL) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;
	int r = tu_teardown(state);

	if (f != NULL) {
		dcf_store_close(f->st);
		tu_rm_tree(f->dir);
		free(f);
	}
	return r;
}

struct got {
	uint64_t n, adds, dups;
	uint64_t next_cookie; /* results come in the order staged, per kind */
	uint64_t next_upd;
	int order_ok;
};

static void
on_res(void *arg, const struct dcf_storeq_res *r)
{
	struct got *g = arg;

	g->n++;
	if (r->is_add) {
		g->adds++;
		g->dups += r->dup_of != 0;
		if (r->cookie != g->next_cookie || r->id != r->cookie)
			g->order_ok = 0;
		g->next_cookie++;
	} else {
		if (r->cookie != g->next_upd)
			g->order_ok = 0;
		g->next_upd++;
	}
}

/* Wait for the committer's word (an event, bounded only against a hang). */
static void
wait_fd(struct dcf_storeq *q)
{
	struct pollfd p = {.fd = dcf_storeq_fd(q), .events = POLLIN};

	assert_int_equal(poll(&p, 1, 30000), 1);
}

static void
stage_task(struct dcf_storeq *q, uint64_t id, const char *key)
{
	struct dcf_store_task t = {.id = id,
	    .key = key,
	    .cmd = "true",
	    .cmd_len = 5,
	    .submitted_ns = id};

	assert_int_equal(dcf_storeq_add(q, &t, id), 0);
}

static void
test_stream(void **state)
{
	struct fix *f = *state;
	struct dcf_storeq *q = dcf_storeq_start(f->st, f->err, sizeof(f->err));
	struct got g = {.next_cookie = 1, .next_upd = 1, .order_ok = 1};
	struct dcf_store_counts c;
	uint64_t staged = 0, upd = 0, rounds = 0;
	size_t lost;
	int failed;
	char key[32];

	assert_non_null(q);
	/* 20000 tasks, every tenth past 100 with the key of the task 5 before it; each
	 * task's start staged a little behind its add. */
	while (g.n < 2 * 20000 - 2000 || staged < 20000) {
		for (int i = 0; i < 700 && staged < 20000; i++) {
			staged++;
			if (staged % 10 == 0 && staged > 100) {
				snprintf(key, sizeof(key), "k%llu",
				    (unsigned long long)(staged - 5));
				stage_task(q, staged, key);
			} else {
				snprintf(key, sizeof(key), "k%llu", (unsigned long long)staged);
				stage_task(q, staged, key);
			}
			if (staged % 10 != 0 || staged <= 100) {
				struct dcf_store_task t = {.id = staged, .runs = 1, .pid = 7};

				assert_int_equal(dcf_storeq_upd(q, DCF_SU_STARTED, &t, ++upd), 0);
			}
		}
		wait_fd(q);
		(void)dcf_storeq_collect(q, on_res, &g, &failed, f->err, sizeof(f->err));
		assert_false(failed);
		rounds++;
	}
	assert_int_equal(dcf_storeq_stop(q, 3, on_res, &g, &lost, f->err, sizeof(f->err)), 0);
	assert_int_equal(lost, 0);
	assert_true(g.order_ok);
	assert_int_equal(g.adds, 20000);
	assert_int_equal(g.dups, 1990);
	assert_int_equal(g.n, 20000 + upd);
	assert_int_equal(dcf_store_count(f->st, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.by_state[DCF_SS_RUNNING], 20000 - 1990);
	assert_int_equal(c.by_state[DCF_SS_QUEUED], 0);
	/* Grouped: far fewer waits than items. */
	assert_true(rounds < 2000);
}

static void
test_full_disk_retried(void **state)
{
	struct fix *f = *state;
	struct dcf_storeq *q = dcf_storeq_start(f->st, f->err, sizeof(f->err));
	struct got g = {.next_cookie = 1, .next_upd = 1, .order_ok = 1};
	struct rlimit old, lim;
	struct dcf_store_counts c;
	struct stat sb;
	static char big[16384];
	char wal[160];
	size_t lost;
	int failed = 0;

	assert_non_null(q);
	stage_task(q, 1, NULL);
	wait_fd(q);
	(void)dcf_storeq_collect(q, on_res, &g, &failed, f->err, sizeof(f->err));
	assert_int_equal(g.adds, 1);
	snprintf(wal, sizeof(wal), "%.120s-wal", f->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + 32 * 1024;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	memset(big, 'y', sizeof(big));
	for (uint64_t id = 2; id <= 41; id++) {
		struct dcf_store_task t = {.id = id, .cmd = big, .cmd_len = sizeof(big)};

		assert_int_equal(dcf_storeq_add(q, &t, id), 0);
	}
	/* The loop hears of the failure, and nothing is given back. */
	while (!failed) {
		wait_fd(q);
		assert_int_equal(dcf_storeq_collect(q, on_res, &g, &failed, f->err, sizeof(f->err)),
		    0);
	}
	assert_true(strlen(f->err) > 0);
	assert_true(dcf_storeq_backlog(q) == 40);
	/* Room again: the same batch goes through, whole and in order. */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	while (g.adds < 41) {
		wait_fd(q);
		(void)dcf_storeq_collect(q, on_res, &g, &failed, f->err, sizeof(f->err));
	}
	signal(SIGXFSZ, SIG_DFL);
	assert_true(g.order_ok);
	assert_int_equal(dcf_storeq_backlog(q), 0);
	assert_int_equal(dcf_storeq_stop(q, 3, on_res, &g, &lost, f->err, sizeof(f->err)), 0);
	assert_int_equal(dcf_store_count(f->st, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.by_state[DCF_SS_QUEUED], 41);
}

static void
test_stop_gives_up(void **state)
{
	struct fix *f = *state;
	struct dcf_storeq *q = dcf_storeq_start(f->st, f->err, sizeof(f->err));
	struct got g = {.next_cookie = 1, .next_upd = 1, .order_ok = 1};
	struct dcf_store_task t = {.id = 5, .runs = 1};
	struct dcf_store_counts c;
	size_t lost = 0;

	assert_non_null(q);
	/* A change to a task that is not stored can never commit. */
	assert_int_equal(dcf_storeq_upd(q, DCF_SU_STARTED, &t, 1), 0);
	assert_int_equal(dcf_storeq_stop(q, 2, on_res, &g, &lost, f->err, sizeof(f->err)), -1);
	assert_int_equal(lost, 1);
	assert_int_equal(g.n, 0);
	assert_non_null(strstr(f->err, "task 5 is not stored"));
	assert_int_equal(dcf_store_count(f->st, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.max_id, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_disk_retried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_gives_up, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
