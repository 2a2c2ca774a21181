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

#include <libpq-fe.h>

#include "testutil.h"
#include "dcf/store.h"
#include "dcf/storeq.h"
#include "pg.h"

struct fix {
	char dir[64];
	char path[300];
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
		if (f->dir[0] != '\0')
			tu_rm_tree(f->dir);
		free(f);
	}
	return r;
}

/* A store in a new schema of the group's server; owner: a host of several (NULL: the only). */
static int
setup_pg_as(void **state, const char *owner)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct dcf_store_open_opts o = {.create = 1,
	    .mode = DCF_STORE_SERVICE,
	    .owner = owner,
	    .lease_ms = 900};

	tu_setup(state);
	if (f == NULL)
		return -1;
	if (tpg_schema(&tpg_group, f->path, sizeof(f->path), f->err, sizeof(f->err)) == -1) {
		fprintf(stderr, "%s\n", f->err);
		free(f);
		return -1;
	}
	o.where = f->path;
	if ((f->st = dcf_store_open(&o, f->err, sizeof(f->err))) == NULL) {
		fprintf(stderr, "%s\n", f->err);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
setup_pg(void **state)
{
	return setup_pg_as(state, NULL);
}

static int
setup_pg_shared(void **state)
{
	return setup_pg_as(state, "q1");
}

/* One number from a query on the fixture's schema. */
static int64_t
pg_number(struct fix *f, const char *sql)
{
	return tpg_number_of(f->path, sql);
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

/* What a shared store's committer gave back. */
struct sgot {
	uint64_t add_id[16];
	uint32_t nadd;
	uint64_t claimed[16], claim[16];
	char cmd[16][8];
	uint32_t nclaimed;
	uint64_t refused[16];
	uint32_t nrefused, nnext, nupd;
	int64_t next_ms;
};

static void
on_sres(void *arg, const struct dcf_storeq_res *r)
{
	struct sgot *g = arg;

	if (r->is_add && g->nadd < 16)
		g->add_id[g->nadd++] = r->id;
	else if (r->refused && g->nrefused < 16)
		g->refused[g->nrefused++] = r->id;
	else if ((r->cookie & ~(DCF_STOREQ_CLAIMED - 1)) == DCF_STOREQ_CLAIMED &&
	    g->nclaimed < 16) {
		g->claimed[g->nclaimed] = r->task->id;
		g->claim[g->nclaimed] = r->task->claim;
		snprintf(g->cmd[g->nclaimed++], 8, "%s", (const char *)r->task->cmd);
	} else if (r->cookie == DCF_STOREQ_NEXT) {
		g->nnext++;
		g->next_ms = r->next_ms;
	} else {
		g->nupd++;
	}
}

/* Collect until cond holds (the committer's word, each an event, bounded against a hang). */
#define COLLECT_UNTIL(q, g, cond) \
	do { \
		int failed_; \
		while (!(cond)) { \
			wait_fd(q); \
			(void)dcf_storeq_collect((q), on_sres, (g), &failed_, f->err, \
			    sizeof(f->err)); \
			assert_false(failed_); \
		} \
	} while (0)

/*
 * Several hosts, through the committer: new tasks get the store's ids;
 * a claim asked for is made at once, its tasks given back with their
 * commands and claims, and when to look again; an end by a claim another
 * host took since is refused, and said so; leases are renewed by the
 * committer itself; at the stop what was claimed and not started is let go.
 */
static void
test_shared(void **state)
{
	struct fix *f = *state;
	struct dcf_storeq *q = dcf_storeq_start(f->st, f->err, sizeof(f->err));
	struct dcf_store_open_opts o = {.where = f->path, .mode = DCF_STORE_SERVICE, .owner = "q2"};
	struct dcf_store_batch b = {.claim = 1};
	struct sgot g;
	struct dcf_store_task t;
	struct dcf_store *h2;
	int64_t lease0;
	uint64_t deadline;
	size_t lost;

	assert_non_null(q);
	memset(&g, 0, sizeof(g));
	for (uint64_t i = 1; i <= 6; i++) {
		memset(&t, 0, sizeof(t));
		t.cmd = "true";
		t.cmd_len = 5;
		assert_int_equal(dcf_storeq_add(q, &t, i), 0);
	}
	COLLECT_UNTIL(q, &g, g.nadd == 6);
	for (uint32_t i = 0; i < 6; i++)
		assert_int_equal(g.add_id[i], i + 1);
	dcf_storeq_claim(q, 4, 0);
	COLLECT_UNTIL(q, &g, g.nnext == 1);
	assert_int_equal(g.nclaimed, 4);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(g.claimed[i], i + 1);
		assert_true(g.claim[i] > 0);
		assert_string_equal(g.cmd[i], "true");
	}
	assert_int_equal(g.next_ms, -1); /* 5 and 6 claimable now, nobody else's lease */
	/* q2 takes task 2 once q1's lease on it has ended. */
	o.lease_ms = 60000;
	assert_non_null(h2 = dcf_store_open(&o, f->err, sizeof(f->err)));
	{
		PGconn *c = PQconnectdb(f->path);

		PQclear(PQexec(c,
		    "UPDATE dcf_task SET lease_until = now() - interval '1 s' WHERE "
		    "id = 2"));
		PQfinish(c);
	}
	assert_int_equal(dcf_store_commit(h2, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(pg_number(f,
	                     "SELECT count(*) FROM dcf_task WHERE id = 2 AND owner = 'q2'"),
	    1);
	/* q1 ends 1 and 2 by its claims: 1 is booked, 2 refused. */
	for (uint32_t i = 0; i < 2; i++) {
		memset(&t, 0, sizeof(t));
		t.id = g.claimed[i];
		t.claim = g.claim[i];
		t.state = DCF_SS_DONE;
		assert_int_equal(dcf_storeq_upd(q, DCF_SU_ENDED, &t, DCF_STOREQ_ENDED | t.id), 0);
	}
	COLLECT_UNTIL(q, &g, g.nupd + g.nrefused == 2);
	assert_int_equal(g.nrefused, 1);
	assert_int_equal(g.refused[0], 2);
	assert_int_equal(pg_number(f, "SELECT state FROM dcf_task WHERE id = 1"), DCF_SS_DONE);
	assert_int_equal(pg_number(f, "SELECT state FROM dcf_task WHERE id = 2"), DCF_SS_QUEUED);
	/* The committer renews by itself (a third of the 900 ms lease): watched in the store. */
	lease0 = pg_number(f,
	    "SELECT (extract(epoch FROM lease_until) * 1000)::bigint FROM "
	    "dcf_task WHERE id = 3");
	deadline = tu_deadline(10000);
	while (pg_number(f,
	           "SELECT (extract(epoch FROM lease_until) * 1000)::bigint FROM "
	           "dcf_task WHERE id = 3") <= lease0) {
		struct timespec ts = {0, 20000000};

		assert_true(dcf_now_ns() < deadline);
		nanosleep(&ts, NULL); /* a row another process changes: looked at again */
	}
	/* At the stop, 3 and 4 (claimed, not started) are let go; q2's 2 stays its. */
	assert_int_equal(dcf_storeq_stop(q, 3, on_sres, &g, &lost, f->err, sizeof(f->err)), 0);
	assert_int_equal(lost, 0);
	assert_int_equal(pg_number(f, "SELECT count(*) FROM dcf_task WHERE owner = 'q1'"), 0);
	assert_int_equal(pg_number(f, "SELECT count(*) FROM dcf_task WHERE owner = 'q2'"), 1);
	dcf_store_close(h2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_disk_retried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_gives_up, setup, teardown),
	};

	/* A PostgreSQL store: the same stream, and several hosts. */
	const struct CMUnitTest pg_tests[] = {
	    cmocka_unit_test_setup_teardown(test_stream, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_gives_up, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_shared, setup_pg_shared, teardown),
	};
	int failed = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);

	return failed +
	    cmocka_run_group_tests_name("postgresql", pg_tests, tpg_group_up, tpg_group_down);
}
