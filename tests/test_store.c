/*
 * test_store.c - the durable store (store.h) on its SQLite backend: tasks
 * round-tripped byte for byte, keys that make a submission idempotent, a
 * finished task that stays finished, a batch that fails as a whole, the
 * unfinished read back in windows, retention by count and by age with ids
 * never given twice, readers beside the writer, a full disk, and every
 * file it must refuse (not a store, not SQLite, a newer schema, the other
 * mode, corrupt, a symbolic link, another user's, in use), each left
 * exactly as it was.
 */
#include <ftw.h>
#include <pthread.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "testutil.h"
#include "../src/store/backends.h"
#include "dcf/store.h"
#include "pg.h"

struct fix {
	char dir[64];
	char path[300]; /* a file, or a postgresql:// URL */
	char err[512];
	int pg;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	tu_setup(state);
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/dcf-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/s.db", f->dir);
	*state = f;
	return 0;
}

/* A store in a new schema of the group's PostgreSQL server. */
static int
setup_pg(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	tu_setup(state);
	if (f == NULL)
		return -1;
	f->pg = 1;
	if (tpg_schema(&tpg_group, f->path, sizeof(f->path), f->err, sizeof(f->err)) == -1) {
		fprintf(stderr, "%s\n", f->err);
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
		if (f->dir[0] != '\0')
			tu_rm_tree(f->dir);
		free(f);
	}
	return r;
}

/* One number from a query on the store's schema, as its owner sees it. */
static int64_t
pg_number(struct fix *f, const char *sql)
{
	return tpg_number_of(f->path, sql);
}

/* One command on the store's schema. */
static void
pg_do(struct fix *f, const char *sql)
{
	PGconn *c = PQconnectdb(f->path);
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connecting: %s", PQerrorMessage(c));
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

static struct dcf_store *
open_w(struct fix *f, enum dcf_store_mode mode, int create)
{
	struct dcf_store_open_opts o = {.where = f->path,
	    .create = create,
	    .mode = mode,
	    .instance = "t"};

	f->err[0] = '\0';
	return dcf_store_open(&o, f->err, sizeof(f->err));
}

static struct dcf_store *
open_r(struct fix *f)
{
	struct dcf_store_open_opts o = {.where = f->path, .readonly = 1};

	f->err[0] = '\0';
	return dcf_store_open(&o, f->err, sizeof(f->err));
}

/* A writer of one of several hosts (PostgreSQL), leases of lease_ms. */
static struct dcf_store *
open_hl(struct fix *f, const char *owner, uint32_t lease_ms)
{
	struct dcf_store_open_opts o = {.where = f->path,
	    .create = 1,
	    .mode = DCF_STORE_SERVICE,
	    .instance = "t",
	    .owner = owner,
	    .lease_ms = lease_ms};

	f->err[0] = '\0';
	return dcf_store_open(&o, f->err, sizeof(f->err));
}

static struct dcf_store *
open_h(struct fix *f, const char *owner)
{
	return open_hl(f, owner, 60000);
}

/* A new task: id, key or NULL, a command of argv items. */
static void
new_task(struct dcf_store_new *a, uint64_t id, const char *key, const char *cmd, uint32_t len)
{
	memset(a, 0, sizeof(*a));
	a->t.id = id;
	a->t.key = key;
	a->t.cmd = cmd;
	a->t.cmd_len = len;
	a->t.timeout_ms = 1500;
	a->t.retries = 2;
	a->t.submitted_ns = 1000 + id;
	a->t.cwd = "/some/where";
}

static int
add_n(struct fix *f, struct dcf_store *st, uint64_t first, uint32_t n)
{
	struct dcf_store_new *a = calloc(n, sizeof(*a));
	struct dcf_store_batch b = {.add = a, .nadd = n};
	int r;

	assert_non_null(a);
	for (uint32_t i = 0; i < n; i++)
		new_task(&a[i], first + i, NULL, "true\0", 5);
	r = dcf_store_commit(st, &b, f->err, sizeof(f->err));
	free(a);
	return r;
}

static int
end_one(struct fix *f, struct dcf_store *st, uint64_t id, uint32_t state, uint64_t ended)
{
	struct dcf_store_upd u = {.kind = DCF_SU_ENDED};
	struct dcf_store_batch b = {.upd = &u, .nupd = 1};

	u.t.id = id;
	u.t.state = state;
	u.t.ended_ns = ended;
	u.t.runs = 1;
	u.t.out.how = state == DCF_SS_DONE ? DCF_HOW_OK : DCF_HOW_EXIT;
	u.t.out.exit_code = state == DCF_SS_DONE ? 0 : 3;
	return dcf_store_commit(st, &b, f->err, sizeof(f->err));
}

/* Collects what a read gives. */
struct seen {
	uint64_t ids[64];
	uint32_t states[64];
	uint32_t n;
	struct dcf_store_task last;
	char cmd[64];
	char key[64];
	char cwd[64];
	char after[64];
	char pin_host[64];
};

static int
collect(void *arg, const struct dcf_store_task *t)
{
	struct seen *s = arg;

	if (s->n < 64) {
		s->ids[s->n] = t->id;
		s->states[s->n] = t->state;
	}
	s->n++;
	s->last = *t;
	memset(s->cmd, 0, sizeof(s->cmd));
	memcpy(s->cmd, t->cmd, t->cmd_len < sizeof(s->cmd) ? t->cmd_len : sizeof(s->cmd));
	snprintf(s->key, sizeof(s->key), "%s", t->key != NULL ? t->key : "(null)");
	snprintf(s->cwd, sizeof(s->cwd), "%s", t->cwd != NULL ? t->cwd : "(null)");
	snprintf(s->after, sizeof(s->after), "%s", t->after_ids != NULL ? t->after_ids : "(null)");
	snprintf(s->pin_host, sizeof(s->pin_host), "%s",
	    t->pin_host != NULL ? t->pin_host : "(null)");
	s->last.pin_host = NULL;
	s->last.after_ids = NULL;
	s->last.key = NULL;
	s->last.cmd = NULL;
	s->last.cwd = NULL;
	return 0;
}

/* The file's bytes, to see that a refusal changed nothing. */
static size_t
slurp(const char *path, unsigned char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, cap);
	close(fd);
	assert_true(n >= 0);
	return (size_t)n;
}

static void
test_roundtrip(void **state)
{
	struct fix *f = *state;
	struct dcf_store *st = open_w(f, DCF_STORE_SERVICE, 1);
	static const char cmd[] = "printf\0%s\\n\0a b\0\xff\x01\0";
	struct dcf_store_new a[2];
	struct dcf_store_upd u[2];
	struct dcf_store_batch b = {.add = a, .nadd = 2};
	struct dcf_store_counts c;
	struct seen s = {0};

	assert_non_null(st);
	new_task(&a[0], 1, "job-1", cmd, sizeof(cmd) - 1);
	new_task(&a[1], 2, NULL, "true\0", 5);
	a[1].t.cwd = NULL;
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(a[0].dup_of, 0);
	assert_int_equal(a[1].dup_of, 0);
	/* Task 1 starts and ends; task 2 starts, its worker dies, it is queued again. */
	memset(u, 0, sizeof(u));
	u[0].kind = DCF_SU_STARTED;
	u[0].t.id = 1;
	u[0].t.runs = 1;
	u[0].t.started_ns = 5000;
	u[0].t.pid = 4242;
	u[0].t.pid_start = 777;
	u[0].t.net = 2;
	u[0].t.node = 9;
	u[1].kind = DCF_SU_STARTED;
	u[1].t.id = 2;
	u[1].t.runs = 1;
	b = (struct dcf_store_batch){.upd = u, .nupd = 2};
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	memset(u, 0, sizeof(u));
	u[0].kind = DCF_SU_ENDED;
	u[0].t.id = 1;
	u[0].t.state = DCF_SS_FAILED;
	u[0].t.attempts = 1;
	u[0].t.tries = 2;
	u[0].t.runs = 4;
	u[0].t.ended_ns = 9000;
	u[0].t.out = (struct dcf_outcome){.how = DCF_HOW_SIGNAL,
	    .exit_code = -1,
	    .term_sig = 9,
	    .exec_errno = 0,
	    .start_wall_ns = 6000,
	    .run_ns = 123456789,
	    .cpu_us = 55,
	    .maxrss_kb = 2048,
	    .out_bytes = 10,
	    .err_bytes = 20};
	u[1].kind = DCF_SU_REQUEUED;
	u[1].t.id = 2;
	u[1].t.attempts = 1;
	b = (struct dcf_store_batch){.upd = u, .nupd = 2};
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	dcf_store_close(st);

	/* Read back by a reader, after the writer is gone. */
	assert_non_null(st = open_r(f));
	assert_int_equal(st->mode, DCF_STORE_SERVICE);
	assert_int_equal(dcf_store_get(st, 1, collect, &s, f->err, sizeof(f->err)), 1);
	assert_int_equal(s.last.state, DCF_SS_FAILED);
	assert_int_equal(s.last.cmd_len, sizeof(cmd) - 1);
	assert_memory_equal(s.cmd, cmd, sizeof(cmd) - 1);
	assert_string_equal(s.key, "job-1");
	assert_string_equal(s.cwd, "/some/where");
	assert_int_equal(s.last.timeout_ms, 1500);
	assert_int_equal(s.last.retries, 2);
	assert_int_equal(s.last.attempts, 1);
	assert_int_equal(s.last.tries, 2);
	assert_int_equal(s.last.runs, 4);
	assert_int_equal(s.last.submitted_ns, 1001);
	assert_int_equal(s.last.started_ns, 5000);
	assert_int_equal(s.last.ended_ns, 9000);
	assert_int_equal(s.last.pid, 0); /* no process once it ended */
	assert_int_equal(s.last.pid_start, 777);
	assert_int_equal(s.last.net, 2);
	assert_int_equal(s.last.node, 9);
	assert_int_equal(s.last.out.how, DCF_HOW_SIGNAL);
	assert_int_equal(s.last.out.exit_code, -1);
	assert_int_equal(s.last.out.term_sig, 9);
	assert_int_equal(s.last.out.start_wall_ns, 6000);
	assert_int_equal(s.last.out.run_ns, 123456789);
	assert_int_equal(s.last.out.cpu_us, 55);
	assert_int_equal(s.last.out.maxrss_kb, 2048);
	assert_int_equal(s.last.out.out_bytes, 10);
	assert_int_equal(s.last.out.err_bytes, 20);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dcf_store_get(st, 2, collect, &s, f->err, sizeof(f->err)), 1);
	assert_int_equal(s.last.state, DCF_SS_QUEUED);
	assert_int_equal(s.last.attempts, 1);
	assert_string_equal(s.key, "(null)");
	assert_string_equal(s.cwd, "(null)");
	assert_int_equal(dcf_store_get(st, 3, collect, &s, f->err, sizeof(f->err)), 0);
	assert_int_equal(dcf_store_count(st, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.by_state[DCF_SS_FAILED], 1);
	assert_int_equal(c.by_state[DCF_SS_QUEUED], 1);
	assert_int_equal(c.finished, 1);
	assert_int_equal(c.max_id, 2);
	/* Each part alone, the rest 0. */
	assert_int_equal(dcf_store_count_some(st, &c, DCF_COUNT_UNFINISHED, f->err, sizeof(f->err)),
	    0);
	assert_true(c.by_state[DCF_SS_QUEUED] == 1 && c.by_state[DCF_SS_FAILED] == 0 &&
	    c.finished == 0 && c.max_id == 0);
	assert_int_equal(dcf_store_count_some(st, &c, DCF_COUNT_FINISHED, f->err, sizeof(f->err)),
	    0);
	assert_true(c.by_state[DCF_SS_QUEUED] == 0 && c.by_state[DCF_SS_FAILED] == 0 &&
	    c.finished == 1 && c.max_id == 0);
	assert_int_equal(dcf_store_count_some(st, &c, DCF_COUNT_MAX_ID, f->err, sizeof(f->err)), 0);
	assert_true(c.by_state[DCF_SS_QUEUED] == 0 && c.finished == 0 && c.max_id == 2);
	/* A reader writes nothing. */
	assert_int_equal(add_n(f, st, 3, 1), -1);
	assert_int_equal(errno, EROFS);
	dcf_store_close(st);
}

static void
test_keys(void **state)
{
	struct fix *f = *state;
	struct dcf_store *st = open_w(f, DCF_STORE_SERVICE, 1);
	struct dcf_store_new a[3];
	struct dcf_store_batch b = {.add = a, .nadd = 3};
	struct dcf_store_counts c;

	assert_non_null(st);
	/* In one batch: the second "k" is the first's. */
	new_task(&a[0], 1, "k", "a\0", 2);
	new_task(&a[1], 2, "k", "b\0", 2);
	new_task(&a[2], 3, "other", "c\0", 2);
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(a[0].dup_of, 0);
	assert_int_equal(a[1].dup_of, 1);
	assert_int_equal(a[2].dup_of, 0);
	/* In a later batch, and after a reopen. */
	dcf_store_close(st);
	assert_non_null(st = open_w(f, DCF_STORE_SERVICE, 0));
	new_task(&a[0], 4, "other", "d\0", 2);
	b.nadd = 1;
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(a[0].dup_of, 3);
	assert_int_equal(dcf_store_count(st, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.by_state[DCF_SS_QUEUED], 2);
	/* An id given twice is an error, not a duplicate. */
	new_task(&a[0], 3, NULL, "e\0", 2);
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), -1);
	assert_int_equal(errno, EEXIST);
	dcf_store_close(st);
}

static void
test_final_and_atomic(void **state)
{
	struct fix *f = *state;
	struct dcf_store *st = open_w(f, DCF_STORE_BATCH, 1);
	struct dcf_store_new a[2];
	struct dcf_store_upd u[2];
	struct dcf_store_batch b;
	struct seen s = {0};

	assert_non_null(st);
	assert_int_equal(add_n(f, st, 1, 2), 0);
	assert_int_equal(end_one(f, st, 1, DCF_SS_DONE, 50), 0);
	/* A finished task finishes once: a later end or requeue changes nothing. */
	assert_int_equal(end_one(f, st, 1, DCF_SS_FAILED, 60), 0);
	memset(u, 0, sizeof(u));
	u[0].kind = DCF_SU_REQUEUED;
	u[0].t.id = 1;
	u[0].t.attempts = 5;
	b = (struct dcf_store_batch){.upd = u, .nupd = 1};
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(dcf_store_get(st, 1, collect, &s, f->err, sizeof(f->err)), 1);
	assert_int_equal(s.last.state, DCF_SS_DONE);
	assert_int_equal(s.last.ended_ns, 50);
	assert_int_equal(s.last.attempts, 0);
	/* A batch with one bad change fails whole: its new tasks are not there. */
	new_task(&a[0], 3, "x", "a\0", 2);
	new_task(&a[1], 4, NULL, "b\0", 2);
	u[0].kind = DCF_SU_ENDED;
	u[0].t.id = 2;
	u[0].t.state = DCF_SS_DONE;
	u[1].kind = DCF_SU_STARTED;
	u[1].t.id = 99;
	b = (struct dcf_store_batch){.add = a, .nadd = 2, .upd = u, .nupd = 2};
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(f->err, "task 99 is not stored"));
	assert_int_equal(dcf_store_get(st, 3, collect, &s, f->err, sizeof(f->err)), 0);
	assert_int_equal(dcf_store_get(st, 2, collect, &s, f->err, sizeof(f->err)), 1);
	assert_int_equal(s.last.state, DCF_SS_QUEUED);
	/* An end must name a final state. */
	u[0].t.state = DCF_SS_RUNNING;
	b = (struct dcf_store_batch){.upd = u, .nupd = 1};
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), -1);
	assert_int_equal(errno, EINVAL);
	/* And the batch after a failed one goes through: id 3 is free again. */
	b = (struct dcf_store_batch){.add = a, .nadd = 1};
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(a[0].dup_of, 0);
	dcf_store_close(st);
}

/* What a commit woke (--after), in order. */
struct woken {
	uint64_t id[16], cause[16];
	uint32_t state[16], n;
};

static int
on_woke(void *arg, const struct dcf_store_task *t)
{
	struct woken *w = arg;

	if (w->n < 16) {
		w->id[w->n] = t->id;
		w->cause[w->n] = t->cause;
		w->state[w->n++] = t->state;
	}
	return 0;
}

/* A task added with --after deps (n of them); its bad_dep, state and waits through a. */
static int
add_after(struct fix *f, struct dcf_store *st, struct dcf_store_new *a, uint64_t id,
    const uint64_t *deps, uint32_t n, int any)
{
	struct dcf_store_batch b = {.add = a, .nadd = 1};

	new_task(a, id, NULL, "true\0", 5);
	a->t.deps = deps;
	a->t.ndeps = n;
	a->t.after_any = (uint32_t)any;
	return dcf_store_commit(st, &b, f->err, sizeof(f->err));
}

/*
 * --after in the store: a task that waits is not read as one to run; an
 * end wakes those waiting for it, or fails them and those after them, in
 * the same transaction, each told to the caller; a batch that fails wakes
 * nobody and undoes it all; unknown ids (and the task's own, or a later
 * one) are refused without adding anything; the reverse rows go once used.
 */
static void
test_after(void **state)
{
	struct fix *f = *state;
	struct dcf_store *st = open_w(f, DCF_STORE_SERVICE, 1);
	struct dcf_store_new a;
	struct dcf_store_upd u[2];
	struct dcf_store_batch b;
	struct woken w;
	struct seen s = {0};
	static const uint64_t d1[] = {1}, d12[] = {1, 2}, d4[] = {4}, d2[] = {2}, d99[] = {99},
	                      d8[] = {8};

	assert_non_null(st);
	assert_int_equal(add_n(f, st, 1, 2), 0);
	assert_int_equal(add_after(f, st, &a, 3, d1, 1, 0), 0);
	assert_int_equal(a.t.waits, 1);
	assert_int_equal(add_after(f, st, &a, 4, d12, 2, 0), 0);
	assert_int_equal(a.t.waits, 2);
	assert_int_equal(add_after(f, st, &a, 5, d4, 1, 0), 0);
	assert_int_equal(add_after(f, st, &a, 6, d2, 1, 1), 0);
	assert_int_equal(add_after(f, st, &a, 7, d99, 1, 0), 0);
	assert_int_equal(a.bad_dep, 99);
	assert_int_equal(add_after(f, st, &a, 8, d8, 1, 0), 0);
	assert_int_equal(a.bad_dep, 8);
	assert_int_equal(dcf_store_get(st, 7, collect, &s, f->err, sizeof(f->err)), 0);
	assert_int_equal(dcf_store_get(st, 8, collect, &s, f->err, sizeof(f->err)), 0);
	/* Only 1 and 2 are there to run. */
	assert_int_equal(dcf_store_unfinished(st, 0, 0, 64, collect, &s, f->err, sizeof(f->err)),
	    0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[1], 2);
	/* A batch that ends 2 (failed) and then fails: nothing woke, nothing changed. */
	memset(u, 0, sizeof(u));
	memset(&w, 0, sizeof(w));
	u[0].kind = DCF_SU_ENDED;
	u[0].t.id = 2;
	u[0].t.state = DCF_SS_FAILED;
	u[0].t.ended_ns = 77;
	u[1].kind = DCF_SU_STARTED;
	u[1].t.id = 99;
	b = (struct dcf_store_batch){.upd = u, .nupd = 2, .woke = on_woke, .woke_arg = &w};
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), -1);
	assert_int_equal(dcf_store_get(st, 4, collect, &s, f->err, sizeof(f->err)), 1);
	assert_int_equal(s.last.state, DCF_SS_QUEUED);
	assert_int_equal(s.last.waits, 2);
	/* Now for real: 4 fails on 2, 5 on 4; 6 (after any) wakes; 3 waits on. */
	memset(&w, 0, sizeof(w));
	b.nupd = 1;
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(w.n, 3);
	assert_int_equal(w.id[0], 4);
	assert_int_equal(w.state[0], DCF_SS_DEP_FAILED);
	assert_int_equal(w.cause[0], 2);
	assert_int_equal(w.id[1], 6);
	assert_int_equal(w.state[1], DCF_SS_QUEUED);
	assert_int_equal(w.id[2], 5);
	assert_int_equal(w.state[2], DCF_SS_DEP_FAILED);
	assert_int_equal(w.cause[2], 4);
	assert_int_equal(dcf_store_get(st, 5, collect, &s, f->err, sizeof(f->err)), 1);
	assert_int_equal(s.last.state, DCF_SS_DEP_FAILED);
	assert_int_equal(s.last.ended_ns, 77);
	assert_string_equal(s.after, "4");
	assert_int_equal(dcf_store_get(st, 4, collect, &s, f->err, sizeof(f->err)), 1);
	assert_string_equal(s.after, "1,2");
	/* After a task that has failed already: ended at once. */
	assert_int_equal(add_after(f, st, &a, 9, d2, 1, 0), 0);
	assert_int_equal(a.t.state, DCF_SS_DEP_FAILED);
	assert_int_equal(a.t.cause, 2);
	/* 1 done: 3 wakes, and is one to run. */
	memset(&w, 0, sizeof(w));
	u[0].t.id = 1;
	u[0].t.state = DCF_SS_DONE;
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.id[0], 3);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dcf_store_unfinished(st, 0, 0, 64, collect, &s, f->err, sizeof(f->err)),
	    0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], 3);
	assert_int_equal(s.ids[1], 6);
	dcf_store_close(st);
	/* The rows that said who waited are gone with their use. */
	if (f->pg) {
		assert_int_equal(pg_number(f, "SELECT count(*) FROM dcf_dep"), 0);
	} else {
		sqlite3 *db;
		sqlite3_stmt *q;

		assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM dep", -1, &q, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int64(q, 0), 0);
		sqlite3_finalize(q);
		sqlite3_close(db);
	}
}

static void
test_unfinished_windows(void **state)
{
	struct fix *f = *state;
	struct dcf_store *st = open_w(f, DCF_STORE_SERVICE, 1);
	struct seen s = {0};
	uint64_t after = 0, total = 0;

	assert_non_null(st);
	assert_int_equal(add_n(f, st, 1, 40), 0);
	for (uint64_t id = 1; id <= 40; id += 3)
		assert_int_equal(end_one(f, st, id, DCF_SS_DONE, id), 0);
	/* Windows of 5, in id order, the finished ones never among them. */
	for (;;) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(dcf_store_unfinished(st, DCF_STORE_ANY_PRIO, after, 5, collect, &s,
		                     f->err, sizeof(f->err)),
		    0);
		if (s.n == 0)
			break;
		assert_true(s.n <= 5);
		for (uint32_t i = 0; i < s.n; i++) {
			assert_true(s.ids[i] > after);
			assert_true((s.ids[i] - 1) % 3 != 0);
			after = s.ids[i];
		}
		total += s.n;
	}
	assert_int_equal(total, 40 - 14);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dcf_store_list(st, DCF_SS_DONE, 0, 100, collect, &s, f->err,
	                     sizeof(f->err)),
	    0);
	assert_int_equal(s.n, 14);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dcf_store_list(st, DCF_SS_QUEUED, 0, 100, collect, &s, f->err,
	                     sizeof(f->err)),
	    0);
	assert_int_equal(s.n, 26);
	assert_int_equal(s.states[25], DCF_SS_QUEUED);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dcf_store_list(st, -1, 35, 100, collect, &s, f->err, sizeof(f->err)), 0);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.ids[0], 36);
	dcf_store_close(st);
}

static int
count_cb(void *arg, const struct dcf_store_task *t)
{
	struct seen *s = arg;

	assert_true(dcf_store_state_final(t->state));
	return collect(arg, t) + (s->n > 1000);
}

static void
test_prune(void **state)
{
	struct fix *f = *state;
	struct dcf_store *st = open_w(f, DCF_STORE_SERVICE, 1);
	struct dcf_store_counts c;
	struct seen s = {0};

	assert_non_null(st);
	assert_int_equal(add_n(f, st, 1, 12), 0);
	/* Ten finished, ended at 100..1000 in reverse id order; 11 and 12 unfinished. */
	for (uint64_t id = 1; id <= 10; id++)
		assert_int_equal(end_one(f, st, id, id % 2 ? DCF_SS_DONE : DCF_SS_FAILED,
		                     (11 - id) * 100),
		    0);
	/* Keep the newest 6 by end time: ids 10..7 (oldest ends) go, at most 3 a call. */
	assert_int_equal(dcf_store_prune(st, 6, 0, 3, count_cb, &s, f->err, sizeof(f->err)), 3);
	assert_int_equal(s.ids[0], 10);
	assert_int_equal(s.ids[1], 9);
	assert_int_equal(s.ids[2], 8);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dcf_store_prune(st, 6, 0, 3, count_cb, &s, f->err, sizeof(f->err)), 1);
	assert_int_equal(s.ids[0], 7);
	assert_int_equal(dcf_store_prune(st, 6, 0, 3, NULL, NULL, f->err, sizeof(f->err)), 0);
	/* By age: ended before 801 -> ids 6, 5, 4, 3 (ended 500..800). */
	memset(&s, 0, sizeof(s));
	assert_int_equal(dcf_store_prune(st, UINT64_MAX, 801, 100, count_cb, &s, f->err,
	                     sizeof(f->err)),
	    4);
	assert_int_equal(s.ids[0], 6);
	assert_int_equal(s.ids[3], 3);
	/* Everything finished: the unfinished stay, and ids are never given again. */
	assert_int_equal(dcf_store_prune(st, 0, 0, 100, NULL, NULL, f->err, sizeof(f->err)), 2);
	assert_int_equal(dcf_store_count(st, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.by_state[DCF_SS_QUEUED], 2);
	assert_int_equal(c.by_state[DCF_SS_DONE] + c.by_state[DCF_SS_FAILED], 0);
	assert_int_equal(c.max_id, 12);
	assert_int_equal(end_one(f, st, 12, DCF_SS_DONE, 5), 0);
	assert_int_equal(dcf_store_prune(st, 0, 0, 100, NULL, NULL, f->err, sizeof(f->err)), 1);
	dcf_store_close(st);
	assert_non_null(st = open_w(f, DCF_STORE_SERVICE, 0));
	assert_int_equal(dcf_store_count(st, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.max_id, 12);
	dcf_store_close(st);
}

static void
test_reader_beside_writer(void **state)
{
	struct fix *f = *state;
	struct dcf_store *w = open_w(f, DCF_STORE_SERVICE, 1), *r, *w2;
	struct dcf_store_counts c;

	assert_non_null(w);
	assert_int_equal(add_n(f, w, 1, 3), 0);
	assert_non_null(r = open_r(f));
	assert_int_equal(dcf_store_count(r, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.by_state[DCF_SS_QUEUED], 3);
	assert_int_equal(add_n(f, w, 4, 2), 0);
	assert_int_equal(dcf_store_count(r, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.by_state[DCF_SS_QUEUED], 5);
	/* A second writer is refused while the first is open. */
	assert_null(w2 = open_w(f, DCF_STORE_SERVICE, 0));
	assert_int_equal(errno, EBUSY);
	assert_non_null(strstr(f->err, "in use by another supervisor"));
	dcf_store_close(r);
	dcf_store_close(w);
	assert_non_null(w = open_w(f, DCF_STORE_SERVICE, 0));
	dcf_store_close(w);
}

/* The open is refused, errno e, err holding what; the file's bytes unchanged. */
static void
refused(struct fix *f, enum dcf_store_mode mode, int e, const char *what)
{
	static unsigned char before[1 << 16], after[1 << 16];
	size_t nb = 0, na = 0;
	struct stat sb;
	int exists = lstat(f->path, &sb) == 0;

	if (exists && S_ISREG(sb.st_mode))
		nb = slurp(f->path, before, sizeof(before));
	assert_null(open_w(f, mode, 1));
	if (errno != e || strstr(f->err, what) == NULL)
		fail_msg("errno %d (want %d), message \"%s\" (want \"%s\")", errno, e, f->err,
		    what);
	assert_null(strchr(f->err, '\n'));
	if (exists && S_ISREG(sb.st_mode)) {
		na = slurp(f->path, after, sizeof(after));
		assert_int_equal(na, nb);
		assert_memory_equal(after, before, na);
	}
	assert_int_equal(lstat(f->path, &sb) == 0, exists);
}

static void
raw_sql(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void
write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/*
 * The unfinished of one priority, in id order, a window at a time; a store
 * of schema 1 is read as it is by a reader and brought up to date by a
 * writer, after which the priority read goes through its index.
 */
static void
test_priority_windows(void **state)
{
	struct fix *f = *state;
	struct dcf_store *st = open_w(f, DCF_STORE_SERVICE, 1);
	struct dcf_store_new a[30];
	struct dcf_store_batch b = {.add = a, .nadd = 30};
	struct seen s;
	sqlite3 *db;
	sqlite3_stmt *q;
	char plan[256] = "";
	int64_t ver = -1;

	assert_non_null(st);
	for (uint32_t i = 0; i < 30; i++) {
		new_task(&a[i], i + 1, NULL, "true\0", 5);
		a[i].t.prio = (int32_t)(i % 3) - 1; /* ids 3, 6, ...: priority 1 */
	}
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(end_one(f, st, 6, DCF_SS_DONE, 6), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dcf_store_unfinished(st, 1, 3, 4, collect, &s, f->err, sizeof(f->err)), 0);
	assert_int_equal(s.n, 4);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(s.ids[i], 9 + 3 * i); /* after 3, without the finished 6 */
	assert_int_equal(s.last.prio, 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dcf_store_unfinished(st, DCF_STORE_ANY_PRIO, 0, 64, collect, &s, f->err,
	                     sizeof(f->err)),
	    0);
	assert_int_equal(s.n, 29);
	dcf_store_close(st);
	if (f->pg)
		return; /* what follows is SQLite's older schemas */

	/* Back to schema 1, as an older dcf left it. */
	raw_sql(f->path,
	    "DROP INDEX task_unfinished_prio; DROP INDEX task_delayed; ALTER TABLE task DROP "
	    "COLUMN pin; ALTER TABLE task DROP COLUMN not_before_ns; ALTER TABLE task DROP COLUMN "
	    "waits; ALTER TABLE task DROP COLUMN after_any; ALTER TABLE task DROP COLUMN "
	    "after_ids; ALTER TABLE task DROP COLUMN cause; DROP TABLE dep; "
	    "PRAGMA user_version = 1;");
	assert_non_null(st = open_r(f));
	memset(&s, 0, sizeof(s));
	assert_int_equal(dcf_store_unfinished(st, -1, 0, 64, collect, &s, f->err, sizeof(f->err)),
	    0);
	assert_int_equal(s.n, 10);
	dcf_store_close(st);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(q, 0), 1); /* the reader changed nothing */
	sqlite3_finalize(q);
	sqlite3_close(db);
	assert_non_null(st = open_w(f, DCF_STORE_SERVICE, 0));
	dcf_store_close(st);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	ver = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	assert_int_equal(ver, 5);
	assert_int_equal(sqlite3_prepare_v2(db,
	                     "EXPLAIN QUERY PLAN SELECT id FROM task WHERE state < 2 AND prio = 1 "
	                     "AND id > 0 AND not_before_ns = 0 AND waits = 0 ORDER BY id LIMIT 5",
	                     -1, &q, NULL),
	    SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW)
		snprintf(plan + strlen(plan), sizeof(plan) - strlen(plan), "%s;",
		    (const char *)sqlite3_column_text(q, 3));
	sqlite3_finalize(q);
	sqlite3_close(db);
	if (strstr(plan, "task_unfinished_prio") == NULL || strstr(plan, "TEMP B-TREE") != NULL)
		fail_msg("the priority read does not use its index: %s", plan);
}

static void
test_refusals(void **state)
{
	struct fix *f = *state;
	struct dcf_store *st;
	char target[sizeof(f->path)];
	int fd;

	/* Not SQLite at all. */
	{
		static const char text[] =
		    "hello, I am a text file, long enough to hold a header.\n"
		    "......................................................\n";

		write_file(f->path, text, sizeof(text) - 1);
	}
	refused(f, DCF_STORE_SERVICE, EUCLEAN, "corrupt");
	unlink(f->path);
	/* SQLite, not ours. */
	raw_sql(f->path, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
	refused(f, DCF_STORE_SERVICE, EINVAL, "not a dcf store");
	unlink(f->path);
	/* Ours, from a newer dcf. */
	assert_non_null(st = open_w(f, DCF_STORE_SERVICE, 1));
	dcf_store_close(st);
	raw_sql(f->path, "PRAGMA user_version = 6;");
	refused(f, DCF_STORE_SERVICE, EPROTO, "newer than this dcf reads");
	raw_sql(f->path, "PRAGMA user_version = 5;");
	/* The other mode. */
	refused(f, DCF_STORE_BATCH, EINVAL, "holds a service's tasks, not a batch's");
	/* Corrupt: a page of the task table overwritten. */
	assert_non_null(st = open_w(f, DCF_STORE_SERVICE, 0));
	assert_int_equal(add_n(f, st, 1, 500), 0);
	dcf_store_close(st);
	raw_sql(f->path, "PRAGMA wal_checkpoint(TRUNCATE);");
	assert_true((fd = open(f->path, O_WRONLY)) >= 0);
	{
		char junk[4096];

		memset(junk, 0x5a, sizeof(junk));
		assert_int_equal(pwrite(fd, junk, sizeof(junk), 3 * 4096), (ssize_t)sizeof(junk));
	}
	close(fd);
	refused(f, DCF_STORE_SERVICE, EUCLEAN, "corrupt");
	unlink(f->path);
	/* A symbolic link, even to a good store. */
	snprintf(target, sizeof(target), "%.64s/real.db", f->dir);
	{
		char keep[sizeof(f->path)];

		memcpy(keep, f->path, sizeof(keep));
		snprintf(f->path, sizeof(f->path), "%s", target);
		assert_non_null(st = open_w(f, DCF_STORE_SERVICE, 1));
		dcf_store_close(st);
		memcpy(f->path, keep, sizeof(keep));
	}
	assert_int_equal(symlink(target, f->path), 0);
	refused(f, DCF_STORE_SERVICE, EINVAL, "symbolic link");
	unlink(f->path);
	/* A planted -wal beside it. */
	assert_non_null(st = open_w(f, DCF_STORE_SERVICE, 1));
	dcf_store_close(st);
	snprintf(target, sizeof(target), "%.100s-wal", f->path);
	assert_int_equal(symlink("/etc/passwd", target), 0);
	refused(f, DCF_STORE_SERVICE, EINVAL, "-wal is not a regular file");
	unlink(target);
	/* Another user's (root can give it away). */
	if (geteuid() == 0) {
		assert_int_equal(chown(f->path, 65534, 65534), 0);
		refused(f, DCF_STORE_SERVICE, EPERM, "belongs to uid 65534");
		assert_int_equal(chown(f->path, 0, 0), 0);
	}
	/* A reader, or a writer told not to create, finds nothing to open. */
	unlink(f->path);
	assert_null(open_r(f));
	assert_int_equal(errno, ENOENT);
	assert_null(open_w(f, DCF_STORE_SERVICE, 0));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(access(f->path, F_OK), -1);
}

/*
 * A full disk (a file size limit, so the writes fail for real): the commit
 * fails whole, nothing of it is there, the store stays sound, and the same
 * batch goes through once there is room.
 */
static void
test_disk_full(void **state)
{
	struct fix *f = *state;
	struct dcf_store *st = open_w(f, DCF_STORE_SERVICE, 1);
	struct rlimit old, lim;
	struct dcf_store_counts c;
	struct stat sb;
	static char big[8192];
	struct dcf_store_new a[64];
	struct dcf_store_batch b = {.add = a, .nadd = 64};

	assert_non_null(st);
	assert_int_equal(add_n(f, st, 1, 10), 0);
	memset(big, 'x', sizeof(big) - 1);
	for (int i = 0; i < 64; i++)
		new_task(&a[i], 11 + (uint64_t)i, NULL, big, sizeof(big));
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	{
		char wal[sizeof(f->path) + 8];

		snprintf(wal, sizeof(wal), "%s-wal", f->path);
		assert_int_equal(stat(wal, &sb), 0);
	}
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + 64 * 1024; /* room for a few pages, not 512 KiB */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), -1);
	assert_true(errno == ENOSPC || errno == EIO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(dcf_store_count(st, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.by_state[DCF_SS_QUEUED], 10);
	assert_int_equal(c.max_id, 10);
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	dcf_store_close(st);
	assert_non_null(st = open_w(f, DCF_STORE_SERVICE, 0)); /* quick_check passes */
	assert_int_equal(dcf_store_count(st, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.by_state[DCF_SS_QUEUED], 74);
	dcf_store_close(st);
}

/* The open is refused (PostgreSQL), errno e, err holding what, on one line. */
static void
pg_refused(struct fix *f, enum dcf_store_mode mode, int readonly, int e, const char *what)
{
	struct dcf_store *st = readonly ? open_r(f) : open_w(f, mode, 1);

	if (st != NULL)
		fail_msg("opened, not refused (want \"%s\")", what);
	if (errno != e || strstr(f->err, what) == NULL)
		fail_msg("errno %d (want %d), message \"%s\" (want \"%s\")", errno, e, f->err,
		    what);
	assert_null(strchr(f->err, '\n'));
}

/*
 * PostgreSQL: nothing there for a reader or a writer told not to create,
 * and nothing made by them; a second writer; a newer schema; the other
 * mode; tables of the same names that are not ours; no schema to make it
 * in; a server not there; a password never shown.
 */
static void
test_pg_refusals(void **state)
{
	struct fix *f = *state;
	struct dcf_store *st;
	char keep[sizeof(f->path)];

	pg_refused(f, DCF_STORE_SERVICE, 1, ENOENT, "no such store");
	assert_null(open_w(f, DCF_STORE_SERVICE, 0));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(pg_number(f,
	                     "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'dcf%' AND "
	                     "schemaname = current_schema()"),
	    0);
	assert_non_null(st = open_w(f, DCF_STORE_SERVICE, 1));
	pg_refused(f, DCF_STORE_SERVICE, 0, EBUSY, "in use by another supervisor");
	dcf_store_close(st);
	pg_do(f, "UPDATE dcf_meta SET v = (v::int + 1)::text WHERE k = 'schema'");
	pg_refused(f, DCF_STORE_SERVICE, 0, EPROTO, "newer than this dcf reads");
	pg_refused(f, DCF_STORE_SERVICE, 1, EPROTO, "newer than this dcf reads");
	pg_do(f, "UPDATE dcf_meta SET v = (v::int - 1)::text WHERE k = 'schema'");
	/* Several hosts: not with a file, and not beside the only writer. */
	{
		struct dcf_store_open_opts o = {.where = "/tmp/x.db",
		    .create = 1,
		    .mode = DCF_STORE_SERVICE,
		    .owner = "h"};

		assert_null(dcf_store_open(&o, f->err, sizeof(f->err)));
		assert_non_null(strstr(f->err, "several hosts share a PostgreSQL store"));
		assert_int_equal(access("/tmp/x.db", F_OK), -1);
	}
	assert_non_null(st = open_w(f, DCF_STORE_SERVICE, 0));
	assert_null(open_h(f, "h1"));
	assert_int_equal(errno, EBUSY);
	assert_non_null(strstr(f->err, "in use by a supervisor that is its only writer"));
	dcf_store_close(st);
	assert_non_null(st = open_h(f, "h1"));
	pg_refused(f, DCF_STORE_SERVICE, 0, EBUSY, "in use by another supervisor");
	assert_null(open_h(f, "h1"));
	assert_non_null(strstr(f->err, "host identity 'h1' is in use by another supervisor"));
	dcf_store_close(st);
	pg_refused(f, DCF_STORE_BATCH, 0, EINVAL, "holds a service's tasks, not a batch's");
	pg_do(f, "UPDATE dcf_meta SET v = 'other' WHERE k = 'app'");
	pg_refused(f, DCF_STORE_SERVICE, 0, EINVAL, "not a dcf store");
	pg_do(f, "DROP TABLE dcf_meta");
	pg_refused(f, DCF_STORE_SERVICE, 0, EINVAL, "not a dcf store");
	/* The schema untouched by every refusal: the tables as they were left. */
	assert_int_equal(pg_number(f,
	                     "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'dcf%' AND "
	                     "schemaname = current_schema()"),
	    3); /* dcf_task, dcf_dep, dcf_host */
	memcpy(keep, f->path, sizeof(keep));
	tpg_url(&tpg_group, "no_such_schema", f->path, sizeof(f->path));
	pg_refused(f, DCF_STORE_SERVICE, 0, EINVAL, "no schema to keep the store in");
	snprintf(f->path, sizeof(f->path), "postgresql://dcf:s3cret@/postgres?host=%s/nothing-here",
	    tpg_group.dir);
	pg_refused(f, DCF_STORE_SERVICE, 0, ECONNREFUSED, "cannot connect");
	assert_null(strstr(f->err, "s3cret"));
	assert_non_null(strstr(f->err, "dcf:***@"));
	memcpy(f->path, keep, sizeof(keep));
}

/* The tasks' ids as the store holds them, each the count of its copies (to be 1). */
static void
pg_books(struct fix *f, int64_t want_rows, int64_t want_max)
{
	assert_int_equal(pg_number(f, "SELECT count(*) FROM dcf_task"), want_rows);
	assert_int_equal(pg_number(f, "SELECT coalesce(max(id), 0) FROM dcf_task"), want_max);
	assert_int_equal(pg_number(f, "SELECT count(DISTINCT key) FROM dcf_task"),
	    pg_number(f, "SELECT count(key) FROM dcf_task"));
}

/*
 * A lost connection: between commits (the server ended the session) the
 * next commit takes a new one; during a commit whose answer is lost (it
 * was applied), the retry applies nothing twice and gives back what the
 * caller is owed; the server restarted (an immediate shutdown, crash
 * recovery) under an open writer, which goes on with nothing lost.
 */
static void
test_pg_lost_connection(void **state)
{
	struct fix *f = *state;
	struct dcf_store *st = open_w(f, DCF_STORE_SERVICE, 1);
	struct dcf_store_new a[3];
	struct dcf_store_batch b = {.add = a, .nadd = 3};
	struct dcf_store_counts c;
	char err[512];

	assert_non_null(st);
	assert_int_equal(add_n(f, st, 1, 3), 0);
	pg_do(f,
	    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
	    "application_name = 'dcf'");
	assert_int_equal(add_n(f, st, 4, 2), 0);
	pg_books(f, 5, 5);

	/* Applied, answer lost: one new task, one whose key task 6 holds, one more. */
	new_task(&a[0], 6, "six", "a\0", 2);
	b.nadd = 1;
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	new_task(&a[0], 7, "seven", "a\0", 2);
	new_task(&a[1], 8, "six", "b\0", 2);
	new_task(&a[2], 9, NULL, "c\0", 2);
	b.nadd = 3;
	dcf_store_pg_lose_answers = 1;
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), -1);
	assert_int_equal(errno, ECONNRESET);
	assert_non_null(strstr(f->err, "connection to the database was lost"));
	pg_books(f, 8, 9); /* it was applied: 6 and 7 and 9 */
	memset(&a[1].dup_of, 0xff, sizeof(a[1].dup_of));
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(a[0].dup_of, 0);
	assert_int_equal(a[1].dup_of, 6);
	assert_int_equal(a[2].dup_of, 0);
	assert_int_equal(a[0].t.state, DCF_SS_QUEUED);
	pg_books(f, 8, 9);
	/* And the next commit is an ordinary one. */
	assert_int_equal(end_one(f, st, 9, DCF_SS_DONE, 99), 0);
	assert_int_equal(dcf_store_count(st, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.by_state[DCF_SS_DONE], 1);
	assert_int_equal(c.max_id, 9);

	/* The server restarted under the writer. */
	tpg_kill(&tpg_group);
	if (tpg_restart(&tpg_group, err, sizeof(err)) == -1)
		fail_msg("restarting PostgreSQL: %s", err);
	if (add_n(f, st, 10, 2) != 0)
		fail_msg("after the restart: %s", f->err);
	pg_books(f, 10, 11);
	assert_int_equal(dcf_store_count(st, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.by_state[DCF_SS_QUEUED], 9);
	assert_int_equal(c.by_state[DCF_SS_DONE], 1);
	/* Still the only writer: its lock was taken again with its new connection. */
	pg_refused(f, DCF_STORE_SERVICE, 0, EBUSY, "in use by another supervisor");
	dcf_store_close(st);
}

/*
 * A store of schema 1 (one host: before the claims' columns, the hosts'
 * table and the id sequence): a reader is refused, a writer brings it up to
 * date, after which its ids and tasks go on as they were, shared or not.
 */
static void
test_pg_upgrade(void **state)
{
	struct fix *f = *state;
	struct dcf_store *st = open_w(f, DCF_STORE_SERVICE, 1);
	struct dcf_store_new a[1];
	struct dcf_store_batch b = {.add = a, .nadd = 1};
	struct dcf_store_counts c;

	assert_non_null(st);
	assert_int_equal(add_n(f, st, 1, 5), 0);
	dcf_store_close(st);
	pg_do(f,
	    "DROP INDEX dcf_task_ready; DROP INDEX dcf_task_owner; DROP TABLE dcf_host; "
	    "DROP SEQUENCE dcf_task_id; ALTER TABLE dcf_task DROP COLUMN owner, DROP COLUMN "
	    "lease_until, DROP COLUMN claim, DROP COLUMN claim_seq, DROP COLUMN ask_op, DROP "
	    "COLUMN ask_val, DROP COLUMN pin_host; "
	    "UPDATE dcf_meta SET v = '1' WHERE k = 'schema'");
	pg_refused(f, DCF_STORE_SERVICE, 1, EPROTO, "older than this dcf reads");
	assert_int_equal(pg_number(f, "SELECT v::int FROM dcf_meta WHERE k = 'schema'"), 1);
	assert_non_null(st = open_w(f, DCF_STORE_SERVICE, 0));
	assert_int_equal(add_n(f, st, 6, 1), 0);
	dcf_store_close(st);
	assert_int_equal(pg_number(f, "SELECT v::int FROM dcf_meta WHERE k = 'schema'"), 4);
	/* Shared now: the sequence goes on after the ids one writer gave. */
	assert_non_null(st = open_h(f, "after"));
	new_task(&a[0], 0, NULL, "y\0", 2);
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(a[0].t.id, 7);
	assert_int_equal(dcf_store_count(st, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.by_state[DCF_SS_QUEUED], 7);
	assert_int_equal(c.max_id, 7);
	dcf_store_close(st);
	assert_non_null(st = open_r(f));
	dcf_store_close(st);
}

/* ---- several hosts (PostgreSQL) ---------------------------------------- */

#define HOSTS     3
#define NTASKS    400
#define PER_ROUND 7

struct host_run {
	struct fix *f;
	struct dcf_store *st;
	uint32_t *claimed_n; /* per task id: claims seen, across the hosts */
	uint32_t *ended_n;   /* per task id: ends booked by this run's commits */
	uint64_t held[64], claims[64];
	uint32_t nheld;
	uint32_t took, refused;
	char err[512];
	int rc;
};

static int
on_claimed(void *arg, const struct dcf_store_task *t)
{
	struct host_run *h = arg;

	if (t->id == 0 || t->id > NTASKS || h->nheld >= 64 || t->owner == NULL)
		return 1;
	__atomic_add_fetch(&h->claimed_n[t->id], 1, __ATOMIC_SEQ_CST);
	h->held[h->nheld] = t->id;
	h->claims[h->nheld++] = t->claim;
	h->took++;
	return 0;
}

static int
on_refused(void *arg, const struct dcf_store_task *t)
{
	struct host_run *h = arg;

	(void)t;
	h->refused++;
	return 0;
}

/* A host: end what it holds and claim more, in one commit each, until nothing is left. */
static void *
host_loop(void *arg)
{
	struct host_run *h = arg;

	for (;;) {
		struct dcf_store_upd u[64];
		struct dcf_store_batch b = {.upd = u,
		    .claim = PER_ROUND,
		    .claimed = on_claimed,
		    .claimed_arg = h,
		    .refused = on_refused,
		    .refused_arg = h,
		    .renew = 1};
		uint32_t n = h->nheld;

		memset(u, 0, sizeof(u));
		for (uint32_t i = 0; i < n; i++) {
			u[i].kind = DCF_SU_ENDED;
			u[i].t.id = h->held[i];
			u[i].t.claim = h->claims[i];
			u[i].t.state = DCF_SS_DONE;
			u[i].t.runs = 1;
			u[i].t.ended_ns = dcf_wall_ns();
		}
		b.nupd = n;
		h->nheld = 0;
		if ((h->rc = dcf_store_commit(h->st, &b, h->err, sizeof(h->err))) != 0)
			return NULL;
		for (uint32_t i = 0; i < n; i++)
			__atomic_add_fetch(&h->ended_n[u[i].t.id], 1, __ATOMIC_SEQ_CST);
		if (n == 0 && h->nheld == 0 && b.next_ms == -1)
			return NULL; /* nothing held, nothing claimable, nothing to wait for */
	}
}

/*
 * Three hosts drain one stream of tasks at once, each ending what it
 * claimed and claiming more in one transaction: every task claimed once
 * and ended once, none refused, every host busy; the ids one host gave
 * are in order and distinct, and the books' counts agree.
 */
static void
test_pg_hosts_drain(void **state)
{
	struct fix *f = *state;
	struct host_run h[HOSTS];
	pthread_t tid[HOSTS];
	uint32_t *claimed_n = calloc(NTASKS + 1, sizeof(*claimed_n));
	uint32_t *ended_n = calloc(NTASKS + 1, sizeof(*ended_n));
	struct dcf_store_new *a = calloc(NTASKS, sizeof(*a));
	struct dcf_store_batch b = {.add = a, .nadd = NTASKS};
	struct dcf_store_counts c;
	char name[24];

	assert_non_null(claimed_n);
	assert_non_null(ended_n);
	assert_non_null(a);
	memset(h, 0, sizeof(h));
	for (int i = 0; i < HOSTS; i++) {
		snprintf(name, sizeof(name), "host-%d", i);
		h[i].f = f;
		h[i].claimed_n = claimed_n;
		h[i].ended_n = ended_n;
		if ((h[i].st = open_h(f, name)) == NULL)
			fail_msg("%s: %s", name, f->err);
		assert_true(h[i].st->shared);
	}
	/* Host 0 submits: the store gives the ids. */
	for (uint32_t i = 0; i < NTASKS; i++) {
		new_task(&a[i], 0, NULL, "true\0", 5);
		a[i].t.prio = (int32_t)(i % 3) - 1;
	}
	if (dcf_store_commit(h[0].st, &b, f->err, sizeof(f->err)) != 0)
		fail_msg("submitting: %s", f->err);
	for (uint32_t i = 0; i < NTASKS; i++)
		assert_int_equal(a[i].t.id, i + 1);
	for (int i = 0; i < HOSTS; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, host_loop, &h[i]), 0);
	for (int i = 0; i < HOSTS; i++)
		assert_int_equal(pthread_join(tid[i], NULL), 0);
	for (int i = 0; i < HOSTS; i++) {
		if (h[i].rc != 0)
			fail_msg("host %d: %s", i, h[i].err);
		assert_int_equal(h[i].refused, 0);
		assert_true(h[i].took > 0);
	}
	for (uint32_t id = 1; id <= NTASKS; id++) {
		if (claimed_n[id] != 1 || ended_n[id] != 1)
			fail_msg("task %u claimed %u times, ended %u times", id, claimed_n[id],
			    ended_n[id]);
	}
	assert_int_equal(h[0].took + h[1].took + h[2].took, NTASKS);
	assert_int_equal(dcf_store_count(h[0].st, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.by_state[DCF_SS_DONE], NTASKS);
	assert_int_equal(c.finished, NTASKS);
	assert_int_equal(pg_number(f, "SELECT count(*) FROM dcf_task WHERE owner IS NOT NULL"), 0);
	assert_int_equal(pg_number(f, "SELECT count(*) FROM dcf_host"), HOSTS);
	for (int i = 0; i < HOSTS; i++)
		dcf_store_close(h[i].st);
	free(a);
	free(claimed_n);
	free(ended_n);
}

/* Hosts h0..h(n-1), each a writer of its own identity, sharing the tallies. */
static void
open_hosts(struct fix *f, struct host_run *h, int n, uint32_t *claimed_n, uint32_t *ended_n)
{
	memset(h, 0, (size_t)n * sizeof(*h));
	for (int i = 0; i < n; i++) {
		char name[24];

		snprintf(name, sizeof(name), "h%d", i);
		h[i].claimed_n = claimed_n;
		h[i].ended_n = ended_n;
		if ((h[i].st = open_h(f, name)) == NULL)
			fail_msg("%s: %s", name, f->err);
	}
}

/* One commit of host h: its changes u (n of them) and a claim of up to claim. */
static int
host_commit(struct host_run *h, struct dcf_store_upd *u, uint32_t n, uint32_t claim,
    struct dcf_store_batch *out)
{
	struct dcf_store_batch b = {.upd = u,
	    .nupd = n,
	    .claim = claim,
	    .claimed = on_claimed,
	    .claimed_arg = h,
	    .refused = on_refused,
	    .refused_arg = h};

	h->nheld = 0;
	h->refused = 0;
	h->rc = dcf_store_commit(h->st, &b, h->err, sizeof(h->err));
	if (out != NULL)
		*out = b;
	return h->rc;
}

/*
 * Leases and fences, by the database's clock: a host's lease ends (set in
 * the past, as a partition long enough would), another claims its task,
 * which ran (its run counted as lost), and the first host's late start and
 * end are refused while the second's go through; a lease not ended holds
 * the task and says when it ends (next_ms), as does a delay; a release
 * lets go of what was not started.
 */
static void
test_pg_lease_and_fence(void **state)
{
	struct fix *f = *state;
	uint32_t claimed_n[NTASKS + 1] = {0}, ended_n[NTASKS + 1] = {0};
	struct host_run h[3];
	struct dcf_store_batch out;
	struct dcf_store_upd u[2];
	struct dcf_store_new a[2];
	struct dcf_store_batch b = {.add = a, .nadd = 2};
	struct seen s;
	uint64_t claim1;

	open_hosts(f, h, 3, claimed_n, ended_n);
	new_task(&a[0], 0, "one", "a\0", 2);
	new_task(&a[1], 0, "two", "b\0", 2);
	assert_int_equal(dcf_store_commit(h[0].st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(a[0].t.id, 1);
	/* h0 claims task 1 (the lower id of one priority) and starts it. */
	assert_int_equal(host_commit(&h[0], NULL, 0, 1, NULL), 0);
	assert_int_equal(h[0].nheld, 1);
	assert_int_equal(h[0].held[0], 1);
	claim1 = h[0].claims[0];
	memset(u, 0, sizeof(u));
	u[0].kind = DCF_SU_STARTED;
	u[0].t.id = 1;
	u[0].t.claim = claim1;
	u[0].t.runs = 1;
	u[0].t.pid = 4242;
	assert_int_equal(host_commit(&h[0], u, 1, 0, NULL), 0);
	assert_int_equal(h[0].refused, 0);
	/* h1 finds task 2 only, and is told when h0's lease on task 1 ends. */
	assert_int_equal(host_commit(&h[1], NULL, 0, 5, &out), 0);
	assert_int_equal(h[1].nheld, 1);
	assert_int_equal(h[1].held[0], 2);
	assert_true(out.next_ms > 50000 && out.next_ms <= 60000);
	/* h1 lets task 2 go unstarted: h2 takes it at once. */
	b = (struct dcf_store_batch){.release = 1};
	if (dcf_store_commit(h[1].st, &b, f->err, sizeof(f->err)) != 0)
		fail_msg("releasing: %s", f->err);
	assert_int_equal(host_commit(&h[2], NULL, 0, 5, NULL), 0);
	assert_int_equal(h[2].nheld, 1);
	assert_int_equal(h[2].held[0], 2);

	/* h0's lease ends, by the database's clock. */
	pg_do(f,
	    "UPDATE dcf_task SET lease_until = now() - interval '1 second' WHERE owner = 'h0'");
	assert_int_equal(host_commit(&h[1], NULL, 0, 5, NULL), 0);
	assert_int_equal(h[1].nheld, 1);
	assert_int_equal(h[1].held[0], 1);
	assert_true(h[1].claims[0] > claim1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dcf_store_get(h[1].st, 1, collect, &s, f->err, sizeof(f->err)), 1);
	assert_int_equal(s.last.state, DCF_SS_QUEUED); /* h0's run: lost */
	assert_int_equal(s.last.attempts, 1);
	/* h0, late: its renewal holds nothing of it, its start and its end are refused. */
	b = (struct dcf_store_batch){.renew = 1};
	assert_int_equal(dcf_store_commit(h[0].st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(b.renewed, 0);
	assert_int_equal(host_commit(&h[0], u, 1, 0, NULL), 0);
	assert_int_equal(h[0].refused, 1);
	u[0].kind = DCF_SU_ENDED;
	u[0].t.state = DCF_SS_FAILED;
	u[0].t.ended_ns = 7;
	assert_int_equal(host_commit(&h[0], u, 1, 0, NULL), 0);
	assert_int_equal(h[0].refused, 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dcf_store_get(h[1].st, 1, collect, &s, f->err, sizeof(f->err)), 1);
	assert_int_equal(s.last.state, DCF_SS_QUEUED);
	assert_int_equal(s.last.ended_ns, 0);
	/* h1's end, by its claim, is the one booked; h0's again refused after it. */
	u[1] = u[0];
	u[1].t.claim = h[1].claims[0];
	u[1].t.state = DCF_SS_DONE;
	u[1].t.ended_ns = 8;
	assert_int_equal(host_commit(&h[1], &u[1], 1, 0, NULL), 0);
	assert_int_equal(h[1].refused, 0);
	assert_int_equal(host_commit(&h[0], u, 1, 0, NULL), 0);
	assert_int_equal(h[0].refused, 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dcf_store_get(h[1].st, 1, collect, &s, f->err, sizeof(f->err)), 1);
	assert_int_equal(s.last.state, DCF_SS_DONE);
	assert_int_equal(s.last.ended_ns, 8);
	assert_null(s.last.owner);
	/* A delay: not claimable before its time, which next_ms tells. */
	new_task(&a[0], 0, NULL, "c\0", 2);
	a[0].t.not_before_ns = dcf_wall_ns() + 100ULL * 1000000000ULL;
	b = (struct dcf_store_batch){.add = a, .nadd = 1};
	assert_int_equal(dcf_store_commit(h[0].st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(host_commit(&h[0], NULL, 0, 5, &out), 0);
	assert_int_equal(h[0].nheld, 0);
	assert_true(out.next_ms > 50000 && out.next_ms <= 60000); /* h2's lease first */
	u[0] = (struct dcf_store_upd){.kind = DCF_SU_ENDED};
	u[0].t.id = 2;
	u[0].t.claim = h[2].claims[0];
	u[0].t.state = DCF_SS_DONE;
	assert_int_equal(host_commit(&h[2], u, 1, 5, &out), 0);
	assert_int_equal(h[2].refused, 0);
	assert_true(out.next_ms > 90000 && out.next_ms <= 100000);
	for (int i = 0; i < 3; i++)
		dcf_store_close(h[i].st);
}

/* What a host took of the requests left for it. */
struct asks_got {
	uint32_t n;
	uint64_t id[8];
	uint32_t op[8];
	int64_t val[8];
};

static int
on_ask(void *arg, uint64_t id, uint32_t op, int64_t val)
{
	struct asks_got *g = arg;

	if (g->n < 8) {
		g->id[g->n] = id;
		g->op[g->n] = op;
		g->val[g->n++] = val;
	}
	return 0;
}

/* Host h takes its requests: how many. */
static uint32_t
take_asks(struct fix *f, struct host_run *h, struct asks_got *g)
{
	struct dcf_store_batch b = {.asks = 1, .asked = on_ask, .asked_arg = g};

	memset(g, 0, sizeof(*g));
	if (dcf_store_commit(h->st, &b, f->err, sizeof(f->err)) != 0)
		fail_msg("taking asks: %s", f->err);
	return g->n;
}

/* A request of h for the host that holds task id. */
static void
ask(struct host_run *h, uint64_t id, uint32_t op, int64_t val)
{
	struct dcf_store_upd u = {.kind = DCF_SU_ASK, .ask_op = op, .ask_val = val};

	u.t.id = id;
	if (host_commit(h, &u, 1, 0, NULL) != 0)
		fail_msg("asking: %s", h->err);
}

/*
 * Requests for the host that holds a task (dcf-ctl from another host):
 * recorded only for a task another host holds, unfinished (else refused,
 * nothing written); the hosts notified (dcf_ask); taken by the holder
 * once, as asked; a claim by another host drops them.
 */
static void
test_pg_asks(void **state)
{
	struct fix *f = *state;
	uint32_t claimed_n[NTASKS + 1] = {0}, ended_n[NTASKS + 1] = {0};
	struct host_run h[2];
	struct dcf_store_new a[3];
	struct dcf_store_batch b = {.add = a, .nadd = 3};
	struct dcf_store_upd u;
	struct asks_got g;
	struct dcf_store *r;
	uint64_t deadline;
	int fd, heard = 0;

	open_hosts(f, h, 2, claimed_n, ended_n);
	assert_non_null(r = open_r(f));
	assert_true((fd = r->ops->listen(r, f->err, sizeof(f->err))) >= 0);
	for (uint32_t i = 0; i < 3; i++)
		new_task(&a[i], 0, NULL, "a\0", 2);
	assert_int_equal(dcf_store_commit(h[0].st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(host_commit(&h[0], NULL, 0, 2, NULL), 0); /* 1 and 2 */
	assert_int_equal(h[0].nheld, 2);
	/* h1: task 1 is h0's (asked, once: a second waits for h0 to take the first). */
	ask(&h[1], 1, 5, 9);
	assert_int_equal(h[1].refused, 0);
	ask(&h[1], 1, 6, 1);
	assert_int_equal(h[1].refused, 1);
	/* 3 is nobody's and 2 (from h0) its own: refused. */
	ask(&h[1], 3, 4, 0);
	assert_int_equal(h[1].refused, 1);
	ask(&h[0], 2, 4, 0);
	assert_int_equal(h[0].refused, 1);
	assert_int_equal(pg_number(f, "SELECT count(*) FROM dcf_task WHERE ask_op <> 0"), 1);
	deadline = tu_deadline(10000);
	while (!(heard & DCF_HEARD_ASK)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int w;

		assert_true(dcf_now_ns() < deadline);
		(void)poll(&p, 1, 1000);
		assert_true((w = r->ops->heard(r, NULL, NULL, f->err, sizeof(f->err))) >= 0);
		heard |= w;
	}
	/* h1 holds none of them: nothing for it; h0 takes its one, once. */
	assert_int_equal(take_asks(f, &h[1], &g), 0);
	assert_int_equal(take_asks(f, &h[0], &g), 1);
	assert_int_equal(g.id[0], 1);
	assert_int_equal(g.op[0], 5);
	assert_int_equal(g.val[0], 9);
	assert_int_equal(take_asks(f, &h[0], &g), 0);
	/* Asked again; h0's lease ends (nothing more is asked of it) and h1 claims it:
	 * the request is not h1's. */
	ask(&h[1], 1, 6, 2);
	assert_int_equal(h[1].refused, 0);
	pg_do(f, "UPDATE dcf_task SET lease_until = now() - interval '1 s' WHERE id = 1");
	ask(&h[1], 1, 5, 9);
	assert_int_equal(h[1].refused, 1);
	assert_int_equal(host_commit(&h[1], NULL, 0, 1, NULL), 0);
	assert_int_equal(h[1].nheld, 1);
	assert_int_equal(h[1].held[0], 1);
	assert_int_equal(take_asks(f, &h[1], &g), 0);
	assert_int_equal(take_asks(f, &h[0], &g), 0);
	/* An ended task: nothing to ask. */
	memset(&u, 0, sizeof(u));
	u.kind = DCF_SU_ENDED;
	u.t.id = 1;
	u.t.claim = h[1].claims[0];
	u.t.state = DCF_SS_DONE;
	assert_int_equal(host_commit(&h[1], &u, 1, 0, NULL), 0);
	assert_int_equal(h[1].refused, 0);
	ask(&h[0], 1, 5, 9);
	assert_int_equal(h[0].refused, 1);
	assert_int_equal(pg_number(f, "SELECT count(*) FROM dcf_task WHERE ask_op <> 0"), 0);
	/* Task 2, h0's, its lease ended: cancelled from h1 without a claim, as nobody's. */
	pg_do(f, "UPDATE dcf_task SET lease_until = now() - interval '1 s' WHERE id = 2");
	memset(&u, 0, sizeof(u));
	u.kind = DCF_SU_ENDED;
	u.t.id = 2;
	u.t.state = DCF_SS_CANCELLED;
	assert_int_equal(host_commit(&h[1], &u, 1, 0, NULL), 0);
	assert_int_equal(h[1].refused, 0);
	assert_int_equal(pg_number(f, "SELECT state FROM dcf_task WHERE id = 2"), DCF_SS_CANCELLED);
	dcf_store_close(r);
	for (int i = 0; i < 2; i++)
		dcf_store_close(h[i].st);
}

/*
 * A task pinned to a host (dcf-submit --host) is claimed by that host
 * alone, whoever asks first; its pin is read back.
 */
static void
test_pg_host_pin(void **state)
{
	struct fix *f = *state;
	uint32_t claimed_n[NTASKS + 1] = {0}, ended_n[NTASKS + 1] = {0};
	struct host_run h[2];
	struct dcf_store_new a[2];
	struct dcf_store_batch b = {.add = a, .nadd = 2};
	struct seen s;

	open_hosts(f, h, 2, claimed_n, ended_n);
	new_task(&a[0], 0, NULL, "a\0", 2);
	new_task(&a[1], 0, NULL, "b\0", 2);
	a[0].t.pin_host = "h1";
	assert_int_equal(dcf_store_commit(h[0].st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(host_commit(&h[0], NULL, 0, 5, NULL), 0);
	assert_int_equal(h[0].nheld, 1);
	assert_int_equal(h[0].held[0], 2);
	assert_int_equal(host_commit(&h[1], NULL, 0, 5, NULL), 0);
	assert_int_equal(h[1].nheld, 1);
	assert_int_equal(h[1].held[0], 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dcf_store_get(h[0].st, 1, collect, &s, f->err, sizeof(f->err)), 1);
	assert_string_equal(s.pin_host, "h1");
	for (int i = 0; i < 2; i++)
		dcf_store_close(h[i].st);
}

/*
 * Several hosts, a commit whose answer is lost: the ids it took are those
 * of the retry, its claims are told by the retry, nothing twice.
 */
static void
test_pg_hosts_lost_answer(void **state)
{
	struct fix *f = *state;
	uint32_t claimed_n[NTASKS + 1] = {0}, ended_n[NTASKS + 1] = {0};
	struct host_run h;
	struct dcf_store_new a[3];
	struct dcf_store_batch b = {.add = a,
	    .nadd = 3,
	    .claim = 2,
	    .claimed = on_claimed,
	    .claimed_arg = &h};

	memset(&h, 0, sizeof(h));
	h.claimed_n = claimed_n;
	h.ended_n = ended_n;
	assert_non_null(h.st = open_h(f, "lost"));
	for (int i = 0; i < 3; i++)
		new_task(&a[i], 0, NULL, "x\0", 2);
	dcf_store_pg_lose_answers = 1;
	assert_int_equal(dcf_store_commit(h.st, &b, f->err, sizeof(f->err)), -1);
	assert_int_equal(errno, ECONNRESET);
	assert_int_equal(h.nheld, 0); /* not told before it is known */
	assert_int_equal(pg_number(f, "SELECT count(*) FROM dcf_task WHERE owner = 'lost'"), 2);
	assert_int_equal(dcf_store_commit(h.st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(a[0].t.id, 1);
	assert_int_equal(a[2].t.id, 3);
	assert_int_equal(h.nheld, 2);
	assert_int_equal(h.held[0], 1);
	assert_int_equal(h.held[1], 2);
	assert_int_equal(pg_number(f, "SELECT count(*) FROM dcf_task"), 3);
	assert_int_equal(pg_number(f, "SELECT count(*) FROM dcf_task WHERE owner = 'lost'"), 2);
	dcf_store_close(h.st);
}

static int
take_one(void *arg, const struct dcf_store_task *t)
{
	uint32_t *n = arg;

	(void)t;
	return (*n)++ == 0 ? 0 : -1; /* the second: no room (out of memory) */
}

/* Claims the caller could not take are let go at once, not held where no one sees them. */
static void
test_pg_claim_not_taken(void **state)
{
	struct fix *f = *state;
	struct dcf_store *st = open_h(f, "full");
	struct dcf_store_new a[4];
	struct dcf_store_batch b = {.add = a, .nadd = 4};
	uint32_t n = 0;

	assert_non_null(st);
	for (int i = 0; i < 4; i++)
		new_task(&a[i], 0, NULL, "z\0", 2);
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	b = (struct dcf_store_batch){.claim = 3, .claimed = take_one, .claimed_arg = &n};
	assert_int_equal(dcf_store_commit(st, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(pg_number(f, "SELECT count(*) FROM dcf_task WHERE owner = 'full'"), 1);
	assert_int_equal(pg_number(f, "SELECT id FROM dcf_task WHERE owner = 'full'"), 1);
	dcf_store_close(st);
}

static void
test_state_names(void **state)
{
	(void)state;
	for (uint32_t i = 0; i < DCF_SS_NSTATES; i++)
		assert_int_equal(dcf_store_state_parse(dcf_store_state_name(i)), (int)i);
	assert_null(dcf_store_state_name(DCF_SS_NSTATES));
	assert_int_equal(dcf_store_state_parse("done "), -1);
	assert_false(dcf_store_state_final(DCF_SS_RUNNING));
	assert_true(dcf_store_state_final(DCF_SS_QUARANTINED));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_priority_windows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_after, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_final_and_atomic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unfinished_windows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reader_beside_writer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_names, setup, teardown),
	};

	/* The same, and more, on PostgreSQL: a server of our own for the group. */
	const struct CMUnitTest pg_tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_keys, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_priority_windows, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_after, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_final_and_atomic, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_unfinished_windows, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_prune, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_reader_beside_writer, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_pg_refusals, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_pg_lost_connection, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_pg_upgrade, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_pg_hosts_drain, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_pg_lease_and_fence, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_pg_hosts_lost_answer, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_pg_claim_not_taken, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_pg_asks, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_pg_host_pin, setup_pg, teardown),
	};
	int failed = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);

	return failed +
	    cmocka_run_group_tests_name("postgresql", pg_tests, tpg_group_up, tpg_group_down);
}
