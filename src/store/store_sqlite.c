/*
 * store_sqlite.c - the store (store.h) in one SQLite file: WAL, so readers
 * never wait for the writer nor it for them; synchronous=FULL, so a commit
 * that returned is on disk; one writer, which holds a lock on the file
 * for as long as it is open (SQLite's own locks are per transaction).
 *
 * Schema 5:
 *   meta(k, v)   mode ("service" or "batch"), instance, max_id, created
 *   task(...)    one row per task, id its primary key, key unique when
 *                given; three partial indexes: the unfinished by id (what a
 *                restart reads), the unfinished by priority and id (2), and
 *                the finished by end time (retention); pin, the network a
 *                task runs on (3); not_before_ns and the delayed (4);
 *                waits, after_any, after_ids, cause: --after (5).
 *   dep(on_id, task)  (5) task waits for on_id to end: a row while both
 *                are unfinished, deleted in the transaction that ends on_id
 *                (which wakes, or fails, task there and then).
 * The file says it is ours by PRAGMA application_id and its schema by
 * PRAGMA user_version. A writer brings an older schema up to date, one
 * step a transaction (upgrade_sql); a reader reads it as it is; a newer one
 * or anything else is refused, never converted.
 *
 * Nothing here is exported from libdcf: the programs link it (store.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends.h"
#include "dcf/inject.h"
#include "dcf/store.h"
#include "dcf/util.h"

#define APP_ID 0x64636631 /* "dcf1" */
#define SCHEMA \
	5 /* 2: the unfinished by priority; 3: a task's network (pin); 4: delays; 5: --after */
#define BUSY_MS 5000
#define KEY_MAX 512

enum st_stmt {
	Q_INSERT,
	Q_KEY_ID,
	Q_STARTED,
	Q_REQUEUED,
	Q_ENDED,
	Q_PRIO,
	Q_DUE,
	Q_DEP_ADD,
	Q_DEPS_OF,
	Q_DEP_DEL,
	Q_WAKE,
	Q_DEP_FAIL,
	Q_DEP_COUNT,
	Q_META_SET,
	Q_META_GET,
	Q_DELAYED,
	Q_STATE_OF,
	Q_UNFINISHED,
	Q_UNFINISHED_PRIO,
	Q_LIST_ANY,
	Q_LIST_STATE,
	Q_LIST_OPEN,
	Q_GET,
	Q_COUNT,
	Q_COUNT_UNFINISHED,
	Q_COUNT_FINISHED,
	Q_MAX_ID_GET,
	Q_MAX_ID_SET,
	Q_KEEP_EDGE,
	Q_PRUNE_SEL,
	Q_DELETE,
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_NSTMT
};

/* The columns a task is read with, in struct dcf_store_task's order (read_row). */
#define COLS \
	"id, state, prio, timeout_ms, retries, attempts, tries, runs, submitted_ns, " \
	"started_ns, ended_ns, pid, pid_start, net, node, how, exit_code, term_sig, " \
	"exec_errno, run_start_ns, run_ns, cpu_us, maxrss_kb, out_bytes, err_bytes, pin, " \
	"not_before_ns, waits, after_any, cause, after_ids, key, cmd, cwd"

static const char *const sql_text[Q_NSTMT] = {
    [Q_INSERT] = "INSERT INTO task (id, key, state, prio, timeout_ms, retries, submitted_ns, "
                 "cmd, cwd, pin, not_before_ns, waits, after_any, after_ids, cause, ended_ns) "
                 "VALUES (?1, ?2, ?11, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12, ?13, ?14, ?15, ?16) "
                 "ON CONFLICT(key) DO NOTHING",
    [Q_KEY_ID] = "SELECT id FROM task WHERE key = ?1",
    [Q_STARTED] = "UPDATE task SET state = 1, runs = max(runs, ?2), started_ns = ?3, pid = ?4, "
                  "pid_start = ?5, net = ?6, node = ?7 WHERE id = ?1 AND state < 2",
    [Q_PRIO] = "UPDATE task SET prio = ?2 WHERE id = ?1 AND state < 2",
    [Q_DUE] = "UPDATE task SET not_before_ns = 0 WHERE id = ?1 AND state < 2",
    [Q_DEP_ADD] = "INSERT OR IGNORE INTO dep (on_id, task) VALUES (?1, ?2)",
    /* Writer only (an older schema has no dep): those still waiting on ?1. */
    [Q_DEPS_OF] = "SELECT d.task, t.after_any FROM dep d JOIN task t ON t.id = d.task "
                  "WHERE d.on_id = ?1 AND t.state < 2",
    [Q_DEP_DEL] = "DELETE FROM dep WHERE on_id = ?1",
    [Q_WAKE] = "UPDATE task SET waits = waits - 1 WHERE id = ?1 AND state < 2 AND waits > 0 "
               "RETURNING waits, prio, pin, not_before_ns",
    [Q_DEP_FAIL] = "UPDATE task SET state = 6, waits = 0, cause = ?2, ended_ns = ?3 "
                   "WHERE id = ?1 AND state < 2",
    [Q_DEP_COUNT] = "SELECT count(*) FROM dep",
    [Q_META_SET] = "INSERT INTO meta (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = "
                   "excluded.v",
    [Q_META_GET] = "SELECT v FROM meta WHERE k = ?1",
    [Q_DELAYED] = "SELECT " COLS " FROM task WHERE state < 2 AND not_before_ns > 0 AND id > ?1 "
                  "AND waits = 0 ORDER BY id LIMIT ?2",
    [Q_REQUEUED] = "UPDATE task SET state = 0, attempts = ?2, tries = ?3, pid = 0 "
                   "WHERE id = ?1 AND state < 2",
    [Q_ENDED] = "UPDATE task SET state = ?2, attempts = ?3, tries = ?4, runs = ?5, "
                "ended_ns = ?6, how = ?7, exit_code = ?8, term_sig = ?9, exec_errno = ?10, "
                "run_start_ns = ?11, run_ns = ?12, cpu_us = ?13, maxrss_kb = ?14, "
                "out_bytes = ?15, err_bytes = ?16, pid = 0 WHERE id = ?1 AND state < 2",
    [Q_STATE_OF] = "SELECT state FROM task WHERE id = ?1",
    [Q_UNFINISHED_PRIO] = "SELECT " COLS " FROM task WHERE state < 2 AND prio = ?3 AND id > ?1 "
                          "AND not_before_ns = 0 AND waits = 0 "
                          "ORDER BY id LIMIT ?2",
    [Q_UNFINISHED] = "SELECT " COLS " FROM task WHERE state < 2 AND id > ?1 ORDER BY id "
                     "LIMIT ?2",
    [Q_LIST_ANY] = "SELECT " COLS " FROM task WHERE id > ?1 ORDER BY id LIMIT ?2",
    [Q_LIST_STATE] = "SELECT " COLS " FROM task WHERE state = ?3 AND id > ?1 ORDER BY id "
                     "LIMIT ?2",
    /* An unfinished state: through the partial index, whatever else is stored. */
    [Q_LIST_OPEN] = "SELECT " COLS " FROM task WHERE state < 2 AND state = ?3 AND id > ?1 "
                    "ORDER BY id LIMIT ?2",
    [Q_GET] = "SELECT " COLS " FROM task WHERE id = ?1",
    [Q_COUNT] = "SELECT state, count(*) FROM task GROUP BY state",
    /* Through the partial indexes: the rows of the few, the length of the many. */
    [Q_COUNT_UNFINISHED] = "SELECT state, count(*) FROM task WHERE state < 2 GROUP BY state",
    [Q_COUNT_FINISHED] = "SELECT 2, count(*) FROM task WHERE state >= 2",
    /* The highest of both: a row someone else put in does not get its id given again. */
    [Q_MAX_ID_GET] = "SELECT max(CAST(v AS INTEGER), (SELECT ifnull(max(id), 0) FROM task)) "
                     "FROM meta WHERE k = 'max_id'",
    [Q_MAX_ID_SET] = "UPDATE meta SET v = ?1 WHERE k = 'max_id' AND CAST(v AS INTEGER) < ?1",
    /* The newest finished task not kept by count: it and every older one go. */
    [Q_KEEP_EDGE] = "SELECT ended_ns, id FROM task WHERE state >= 2 "
                    "ORDER BY ended_ns DESC, id DESC LIMIT 1 OFFSET ?1",
    [Q_PRUNE_SEL] = "SELECT " COLS " FROM task WHERE state >= 2 AND "
                    "(ended_ns < ?1 OR (ended_ns, id) <= (?2, ?3)) "
                    "ORDER BY ended_ns, id LIMIT ?4",
    [Q_DELETE] = "DELETE FROM task WHERE id = ?1",
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
};

static const char schema_sql[] =
    "CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE task ("
    " id INTEGER PRIMARY KEY,"
    " key TEXT UNIQUE,"
    " state INTEGER NOT NULL,"
    " prio INTEGER NOT NULL DEFAULT 0,"
    " timeout_ms INTEGER NOT NULL DEFAULT 0,"
    " retries INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " tries INTEGER NOT NULL DEFAULT 0,"
    " runs INTEGER NOT NULL DEFAULT 0,"
    " submitted_ns INTEGER NOT NULL,"
    " started_ns INTEGER NOT NULL DEFAULT 0,"
    " ended_ns INTEGER NOT NULL DEFAULT 0,"
    " pid INTEGER NOT NULL DEFAULT 0,"
    " pid_start INTEGER NOT NULL DEFAULT 0,"
    " net INTEGER NOT NULL DEFAULT 0,"
    " node INTEGER NOT NULL DEFAULT 0,"
    " how INTEGER NOT NULL DEFAULT 0,"
    " exit_code INTEGER NOT NULL DEFAULT 0,"
    " term_sig INTEGER NOT NULL DEFAULT 0,"
    " exec_errno INTEGER NOT NULL DEFAULT 0,"
    " run_start_ns INTEGER NOT NULL DEFAULT 0,"
    " run_ns INTEGER NOT NULL DEFAULT 0,"
    " cpu_us INTEGER NOT NULL DEFAULT 0,"
    " maxrss_kb INTEGER NOT NULL DEFAULT 0,"
    " out_bytes INTEGER NOT NULL DEFAULT 0,"
    " err_bytes INTEGER NOT NULL DEFAULT 0,"
    " cmd BLOB NOT NULL,"
    " cwd TEXT,"
    " pin INTEGER NOT NULL DEFAULT 0,"
    " not_before_ns INTEGER NOT NULL DEFAULT 0,"
    " waits INTEGER NOT NULL DEFAULT 0,"
    " after_any INTEGER NOT NULL DEFAULT 0,"
    " after_ids TEXT,"
    " cause INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE dep (on_id INTEGER NOT NULL, task INTEGER NOT NULL, "
    "PRIMARY KEY (on_id, task)) WITHOUT ROWID;"
    "CREATE INDEX task_unfinished ON task(id) WHERE state < 2;"
    "CREATE INDEX task_finished ON task(ended_ns, id) WHERE state >= 2;"
    "CREATE INDEX task_unfinished_prio ON task(prio, id) WHERE state < 2;"
    "CREATE INDEX task_delayed ON task(id) WHERE state < 2 AND not_before_ns > 0;";

/* From each schema to the next, run by the writer in one transaction. */
static const char *const upgrade_sql[SCHEMA + 1] = {
    [1] = "CREATE INDEX IF NOT EXISTS task_unfinished_prio ON task(prio, id) WHERE state < 2;",
    [2] = "ALTER TABLE task ADD COLUMN pin INTEGER NOT NULL DEFAULT 0;",
    [3] = "ALTER TABLE task ADD COLUMN not_before_ns INTEGER NOT NULL DEFAULT 0; "
          "CREATE INDEX IF NOT EXISTS task_delayed ON task(id) WHERE state < 2 AND "
          "not_before_ns > 0;",
    [4] = "ALTER TABLE task ADD COLUMN waits INTEGER NOT NULL DEFAULT 0; "
          "ALTER TABLE task ADD COLUMN after_any INTEGER NOT NULL DEFAULT 0; "
          "ALTER TABLE task ADD COLUMN after_ids TEXT; "
          "ALTER TABLE task ADD COLUMN cause INTEGER NOT NULL DEFAULT 0; "
          "CREATE TABLE IF NOT EXISTS dep (on_id INTEGER NOT NULL, task INTEGER NOT NULL, "
          "PRIMARY KEY (on_id, task)) WITHOUT ROWID;",
};

struct st_sqlite {
	struct dcf_store base;
	sqlite3 *db;
	sqlite3_stmt *q[Q_NSTMT];
	int lock_fd;    /* the writer's lock; closed only after the database */
	int registered; /* in this process's table of writers (writer_lock) */
	dev_t dev;
	ino_t ino;
	int created; /* the file is ours from this open (O_EXCL) */
	uint64_t max_id;
	int64_t ver;  /* the schema it has (a reader's may be older) */
	int64_t ndep; /* the writer's: rows in dep (0: an end wakes nobody, nothing to look up) */
	uint64_t *wl; /* the writer's: ids whose dependents are looked at, a work list */
	uint32_t nwl, wlcap;
};

/* SQLite's primary result code as an errno, for the caller's choices. */
static int
sq_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return ENOSPC;
	case SQLITE_NOMEM:
		return ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return EBUSY;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return EACCES;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return EUCLEAN;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
		return EINVAL;
	default:
		return EIO;
	}
}

/* -1 with errno and "WHERE: WHAT: sqlite's words" in err. */
static int
sq_fail(struct st_sqlite *s, int rc, const char *what, char *err, size_t errlen)
{
	int e = sq_errno(rc);

	if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
		snprintf(err, errlen,
		    "%s: %s: the store is corrupt (%s): move it aside to start a new one",
		    s->base.where, what, sqlite3_errstr(rc));
	else if ((rc & 0xff) == SQLITE_FULL)
		snprintf(err, errlen, "%s: %s: the disk is full: free some space", s->base.where,
		    what);
	else
		snprintf(err, errlen, "%s: %s: %s", s->base.where, what,
		    s->db != NULL && sqlite3_errcode(s->db) == rc ? sqlite3_errmsg(s->db)
		                                                  : sqlite3_errstr(rc));
	errno = e;
	return -1;
}

static int64_t
i64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

static uint64_t
u64col(sqlite3_stmt *q, int col)
{
	sqlite3_int64 v = sqlite3_column_int64(q, col);

	return v < 0 ? 0 : (uint64_t)v;
}

static uint32_t
u32col(sqlite3_stmt *q, int col)
{
	sqlite3_int64 v = sqlite3_column_int64(q, col);

	return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static int32_t
i32col(sqlite3_stmt *q, int col)
{
	sqlite3_int64 v = sqlite3_column_int64(q, col);

	return v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : (int32_t)v;
}

/* A row of COLS into t; its pointers are the statement's until its next step. */
static void
read_row(sqlite3_stmt *q, struct dcf_store_task *t)
{
	int c = 0;

	memset(t, 0, sizeof(*t));
	t->id = u64col(q, c++);
	t->state = u32col(q, c++);
	t->prio = i32col(q, c++);
	t->timeout_ms = u32col(q, c++);
	t->retries = u32col(q, c++);
	t->attempts = u32col(q, c++);
	t->tries = u32col(q, c++);
	t->runs = u32col(q, c++);
	t->submitted_ns = u64col(q, c++);
	t->started_ns = u64col(q, c++);
	t->ended_ns = u64col(q, c++);
	t->pid = i32col(q, c++);
	t->pid_start = u64col(q, c++);
	t->net = u32col(q, c++);
	t->node = u32col(q, c++);
	t->out.how = u32col(q, c++);
	t->out.exit_code = i32col(q, c++);
	t->out.term_sig = u32col(q, c++);
	t->out.exec_errno = u32col(q, c++);
	t->out.start_wall_ns = u64col(q, c++);
	t->out.run_ns = u64col(q, c++);
	t->out.cpu_us = u64col(q, c++);
	t->out.maxrss_kb = u64col(q, c++);
	t->out.out_bytes = u64col(q, c++);
	t->out.err_bytes = u64col(q, c++);
	t->pin = u32col(q, c++);
	t->not_before_ns = u64col(q, c++);
	t->waits = u32col(q, c++);
	t->after_any = u32col(q, c++);
	t->cause = u64col(q, c++);
	t->after_ids = (const char *)sqlite3_column_text(q, c++);
	t->key = (const char *)sqlite3_column_text(q, c++);
	t->cmd = sqlite3_column_blob(q, c);
	t->cmd_len = (uint32_t)sqlite3_column_bytes(q, c++);
	t->cwd = (const char *)sqlite3_column_text(q, c++);
	if (t->cmd == NULL)
		t->cmd = "";
}

/* Step q through its rows into fn; the statement is reset. Rows read, or -1. */
static int64_t
each_row(struct st_sqlite *s, sqlite3_stmt *q, dcf_store_each_fn fn, void *arg, char *err,
    size_t errlen)
{
	int64_t n = 0;
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct dcf_store_task t;

		read_row(q, &t);
		n++;
		if (fn != NULL && fn(arg, &t) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return sq_fail(s, rc, "reading tasks", err, errlen);
	return n;
}

static int
exec_once(struct st_sqlite *s, enum st_stmt k, char *err, size_t errlen)
{
	int rc = sqlite3_step(s->q[k]);

	sqlite3_reset(s->q[k]);
	if (rc != SQLITE_DONE)
		return sq_fail(s, rc, sql_text[k], err, errlen);
	return 0;
}

/* --- writes ------------------------------------------------------------ */

/* Task id's state: 0 (*state set), 1 not stored, -1 the store failed. */
static int
state_of(struct st_sqlite *s, uint64_t id, uint32_t *state, char *err, size_t errlen)
{
	sqlite3_stmt *q = s->q[Q_STATE_OF];
	int rc;

	sqlite3_bind_int64(q, 1, i64(id));
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		*state = u32col(q, 0);
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(s, rc, "reading a task's state", err, errlen);
	return rc == SQLITE_ROW ? 0 : 1;
}

/* A dependency's state, for dcf_store_deps_check. */
static int
dep_state_cb(void *arg, uint64_t id, uint32_t *state, char *err, size_t errlen)
{
	return state_of(arg, id, state, err, errlen);
}

static int
deps_check(struct st_sqlite *s, struct dcf_store_new *a, char *err, size_t errlen)
{
	return dcf_store_deps_check(a, 1, dep_state_cb, s, err, errlen);
}

/* The rows that make the new task t wait for those of its deps not ended yet. */
static int
deps_add(struct st_sqlite *s, const struct dcf_store_task *t, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < t->ndeps; i++) {
		sqlite3_stmt *q = s->q[Q_DEP_ADD];
		uint32_t st = 0;
		int rc = state_of(s, t->deps[i], &st, err, errlen);

		if (rc == -1)
			return -1;
		if (rc == 1 || dcf_store_state_final(st))
			continue;
		sqlite3_bind_int64(q, 1, i64(t->deps[i]));
		sqlite3_bind_int64(q, 2, i64(t->id));
		rc = sqlite3_step(q);
		sqlite3_reset(q);
		if (rc != SQLITE_DONE)
			return sq_fail(s, rc, "recording what a task waits for", err, errlen);
		s->ndep += sqlite3_changes(s->db);
	}
	return 0;
}

static int
add_one(struct st_sqlite *s, struct dcf_store_new *a, char *err, size_t errlen)
{
	sqlite3_stmt *q = s->q[Q_INSERT];
	struct dcf_store_task *t = &a->t;
	char *after = NULL;
	int rc;

	if (t->id == 0 || t->id > INT64_MAX || (t->key != NULL && strlen(t->key) > KEY_MAX)) {
		snprintf(err, errlen, "%s: task %" PRIu64 ": bad id or key", s->base.where, t->id);
		errno = EINVAL;
		return -1;
	}
	a->dup_of = 0;
	a->bad_dep = 0;
	if ((rc = deps_check(s, a, err, errlen)) != 0)
		return rc == 1 ? 0 : -1;
	if (t->ndeps > 0 && dcf_store_deps_text(t, &after) == NULL) {
		snprintf(err, errlen, "%s: adding a task: out of memory", s->base.where);
		errno = ENOMEM;
		return -1;
	}
	sqlite3_bind_int64(q, 1, (sqlite3_int64)t->id);
	if (t->key != NULL)
		sqlite3_bind_text(q, 2, t->key, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 2);
	sqlite3_bind_int64(q, 3, t->prio);
	sqlite3_bind_int64(q, 4, t->timeout_ms);
	sqlite3_bind_int64(q, 5, t->retries);
	sqlite3_bind_int64(q, 6, i64(t->submitted_ns));
	sqlite3_bind_blob(q, 7, t->cmd_len > 0 ? t->cmd : "", (int)t->cmd_len, SQLITE_STATIC);
	if (t->cwd != NULL)
		sqlite3_bind_text(q, 8, t->cwd, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 8);
	sqlite3_bind_int64(q, 9, t->pin);
	sqlite3_bind_int64(q, 10, i64(t->not_before_ns));
	sqlite3_bind_int64(q, 11, t->state);
	sqlite3_bind_int64(q, 12, t->waits);
	sqlite3_bind_int64(q, 13, t->after_any != 0);
	if (after != NULL)
		sqlite3_bind_text(q, 14, after, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 14);
	sqlite3_bind_int64(q, 15, i64(t->cause));
	sqlite3_bind_int64(q, 16, t->cause != 0 ? i64(t->submitted_ns) : 0);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	free(after);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		goto taken;
	if (rc != SQLITE_DONE)
		return sq_fail(s, rc, "adding a task", err, errlen);
	if (sqlite3_changes(s->db) == 1) {
		if (t->id > s->max_id)
			s->max_id = t->id;
		return t->waits > 0 ? deps_add(s, t, err, errlen) : 0;
	}
	/* Not added: its key is taken (ON CONFLICT), or its id is (an error). */
	if (t->key != NULL) {
		q = s->q[Q_KEY_ID];
		sqlite3_bind_text(q, 1, t->key, -1, SQLITE_STATIC);
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW)
			a->dup_of = u64col(q, 0);
		sqlite3_reset(q);
		if (a->dup_of != 0)
			return 0;
	}
taken:
	snprintf(err, errlen, "%s: task %" PRIu64 " is stored already", s->base.where, t->id);
	errno = EEXIST;
	return -1;
}

/* meta k = v, in the transaction open. */
static int
meta_set(struct st_sqlite *s, const char *k, const char *v, char *err, size_t errlen)
{
	sqlite3_stmt *q = s->q[Q_META_SET];
	int rc;

	sqlite3_bind_text(q, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, v, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, "recording the control state", err, errlen);
}

/* The dcf-ctl state as meta rows: 'paused' (64 hex digits a word), 'draining' (0 or 1). */
static int
control_set(struct st_sqlite *s, const struct dcf_store_ctl *c, char *err, size_t errlen)
{
	char hex[sizeof(c->paused) * 2 + 1];

	dcf_store_paused_hex(c, hex, sizeof(hex));
	if (meta_set(s, "paused", hex, err, errlen) == -1)
		return -1;
	return meta_set(s, "draining", c->draining ? "1" : "0", err, errlen);
}

static int
sq_control(struct dcf_store *st, struct dcf_store_ctl *c, char *err, size_t errlen)
{
	struct st_sqlite *s = (struct st_sqlite *)st;
	sqlite3_stmt *q = s->q[Q_META_GET];
	int rc;

	memset(c, 0, sizeof(*c));
	sqlite3_bind_text(q, 1, "paused", -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		dcf_store_paused_parse(c, (const char *)sqlite3_column_text(q, 0));
	}
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(s, rc, "reading the control state", err, errlen);
	sqlite3_bind_text(q, 1, "draining", -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(q, 0);

		c->draining = v != NULL && v[0] == '1';
	}
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(s, rc, "reading the control state", err, errlen);
	return 0;
}

static int
wl_push(struct st_sqlite *s, uint64_t id)
{
	if (s->nwl == s->wlcap) {
		uint32_t cap = s->wlcap ? s->wlcap * 2 : 64;
		uint64_t *n = realloc(s->wl, cap * sizeof(*n));

		if (n == NULL)
			return -1;
		s->wl = n;
		s->wlcap = cap;
	}
	s->wl[s->nwl++] = id;
	return 0;
}

/*
 * Task id has ended (ok: done): those waiting for it wait for one less,
 * and run once none is left, or (ok 0, without after_any) end DEP_FAILED,
 * and so on for those waiting for them, in this transaction. Each told to
 * b->woke. The rows that said they waited go.
 */
static int
deps_resolve(struct st_sqlite *s, struct dcf_store_batch *b, uint64_t id, int ok, uint64_t ended_ns,
    char *err, size_t errlen)
{
	uint32_t first;
	int rc;

	if (s->ndep <= 0)
		return 0;
	s->nwl = 0;
	if (wl_push(s, id) == -1)
		goto nomem;
	/* wl: [done ..) the ended ones not looked at, each followed by what waits for it. */
	for (uint32_t done = 0; done < s->nwl;) {
		sqlite3_stmt *q = s->q[Q_DEPS_OF];
		uint64_t on = s->wl[done++];

		first = s->nwl;
		sqlite3_bind_int64(q, 1, i64(on));
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			/* Its after_any in the id's top bit (ids are below 2^63). */
			if (wl_push(s,
			        u64col(q, 0) | (sqlite3_column_int64(q, 1) ? 1ULL << 63 : 0)) ==
			    -1) {
				sqlite3_reset(q);
				goto nomem;
			}
		}
		sqlite3_reset(q);
		if (rc != SQLITE_DONE)
			return sq_fail(s, rc, "reading what waits for a task", err, errlen);
		sqlite3_bind_int64(s->q[Q_DEP_DEL], 1, i64(on));
		if (exec_once(s, Q_DEP_DEL, err, errlen) == -1)
			return -1;
		s->ndep -= sqlite3_changes(s->db);
		/* The first ended one's ok is the caller's; those after are DEP_FAILED ones. */
		for (uint32_t i = first; i < s->nwl;) {
			uint64_t d = s->wl[i] & ~(1ULL << 63);
			struct dcf_store_task w;

			memset(&w, 0, sizeof(w));
			w.id = d;
			if ((done == 1 && ok) || (s->wl[i] >> 63)) {
				q = s->q[Q_WAKE];
				sqlite3_bind_int64(q, 1, i64(d));
				if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
					w.waits = u32col(q, 0);
					w.prio = i32col(q, 1);
					w.pin = u32col(q, 2);
					w.not_before_ns = u64col(q, 3);
					while ((rc = sqlite3_step(q)) == SQLITE_ROW)
						;
				}
				sqlite3_reset(q);
				if (rc != SQLITE_DONE)
					return sq_fail(s, rc, "waking a task", err, errlen);
				if (sqlite3_changes(s->db) == 1 && w.waits == 0 &&
				    b->woke != NULL && b->woke(b->woke_arg, &w) != 0)
					goto nomem;
				/* Not one to look at again: out of the work list. */
				s->wl[i] = s->wl[--s->nwl];
				continue;
			}
			q = s->q[Q_DEP_FAIL];
			sqlite3_bind_int64(q, 1, i64(d));
			sqlite3_bind_int64(q, 2, i64(on));
			sqlite3_bind_int64(q, 3, i64(ended_ns));
			rc = sqlite3_step(q);
			sqlite3_reset(q);
			if (rc != SQLITE_DONE)
				return sq_fail(s, rc, "ending a task whose dependency failed", err,
				    errlen);
			if (sqlite3_changes(s->db) != 1) {
				s->wl[i] = s->wl[--s->nwl];
				continue;
			}
			w.state = DCF_SS_DEP_FAILED;
			w.cause = on;
			if (b->woke != NULL && b->woke(b->woke_arg, &w) != 0)
				goto nomem;
			s->wl[i++] = d; /* ended: what waits for it is looked at in turn */
		}
	}
	return 0;
nomem:
	snprintf(err, errlen, "%s: waking the tasks that wait for task %" PRIu64 ": out of memory",
	    s->base.where, id);
	errno = ENOMEM;
	return -1;
}

static int
upd_one(struct st_sqlite *s, struct dcf_store_batch *b, const struct dcf_store_upd *u, char *err,
    size_t errlen)
{
	const struct dcf_store_task *t = &u->t;
	sqlite3_stmt *q;
	int rc;

	switch (u->kind) {
	case DCF_SU_CONTROL:
		return control_set(s, &u->ctl, err, errlen);
	case DCF_SU_STARTED:
		q = s->q[Q_STARTED];
		sqlite3_bind_int64(q, 2, t->runs);
		sqlite3_bind_int64(q, 3, i64(t->started_ns));
		sqlite3_bind_int64(q, 4, t->pid);
		sqlite3_bind_int64(q, 5, i64(t->pid_start));
		sqlite3_bind_int64(q, 6, t->net);
		sqlite3_bind_int64(q, 7, t->node);
		break;
	case DCF_SU_REQUEUED:
		q = s->q[Q_REQUEUED];
		sqlite3_bind_int64(q, 2, t->attempts);
		sqlite3_bind_int64(q, 3, t->tries);
		break;
	case DCF_SU_ENDED:
		if (!dcf_store_state_final(t->state))
			goto bad;
		q = s->q[Q_ENDED];
		sqlite3_bind_int64(q, 2, t->state);
		sqlite3_bind_int64(q, 3, t->attempts);
		sqlite3_bind_int64(q, 4, t->tries);
		sqlite3_bind_int64(q, 5, t->runs);
		sqlite3_bind_int64(q, 6, i64(t->ended_ns));
		sqlite3_bind_int64(q, 7, t->out.how);
		sqlite3_bind_int64(q, 8, t->out.exit_code);
		sqlite3_bind_int64(q, 9, t->out.term_sig);
		sqlite3_bind_int64(q, 10, t->out.exec_errno);
		sqlite3_bind_int64(q, 11, i64(t->out.start_wall_ns));
		sqlite3_bind_int64(q, 12, i64(t->out.run_ns));
		sqlite3_bind_int64(q, 13, i64(t->out.cpu_us));
		sqlite3_bind_int64(q, 14, i64(t->out.maxrss_kb));
		sqlite3_bind_int64(q, 15, i64(t->out.out_bytes));
		sqlite3_bind_int64(q, 16, i64(t->out.err_bytes));
		break;
	case DCF_SU_PRIO:
		q = s->q[Q_PRIO];
		sqlite3_bind_int64(q, 2, t->prio);
		break;
	case DCF_SU_DUE:
		q = s->q[Q_DUE];
		break;
	default:
		goto bad;
	}
	sqlite3_bind_int64(q, 1, i64(t->id));
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return sq_fail(s, rc, "updating a task", err, errlen);
	if (sqlite3_changes(s->db) == 1)
		return u->kind == DCF_SU_ENDED
		    ? deps_resolve(s, b, t->id, t->state == DCF_SS_DONE, t->ended_ns, err, errlen)
		    : 0;
	/* Nothing changed: fine if it is finished (it finishes once), an error if absent. */
	q = s->q[Q_STATE_OF];
	sqlite3_bind_int64(q, 1, i64(t->id));
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return sq_fail(s, rc, "reading a task's state", err, errlen);
	snprintf(err, errlen, "%s: task %" PRIu64 " is not stored", s->base.where, t->id);
	errno = EINVAL;
	return -1;
bad:
	snprintf(err, errlen, "%s: task %" PRIu64 ": bad change (kind %u, state %u)", s->base.where,
	    t->id, u->kind, t->state);
	errno = EINVAL;
	return -1;
}

static int
sq_commit(struct dcf_store *st, struct dcf_store_batch *b, char *err, size_t errlen)
{
	struct st_sqlite *s = (struct st_sqlite *)st;
	uint64_t max0 = s->max_id;
	int64_t ndep0 = s->ndep;
	int e;

	if (st->readonly) {
		snprintf(err, errlen, "%s: opened read-only", st->where);
		errno = EROFS;
		return -1;
	}
	if (b->nadd == 0 && b->nupd == 0)
		return 0;
	if (exec_once(s, Q_BEGIN, err, errlen) == -1)
		return -1;
	for (uint32_t i = 0; i < b->nadd; i++)
		if (add_one(s, &b->add[i], err, errlen) == -1)
			goto fail;
	for (uint32_t i = 0; i < b->nupd; i++)
		if (upd_one(s, b, &b->upd[i], err, errlen) == -1)
			goto fail;
	if (s->max_id != max0) {
		sqlite3_bind_int64(s->q[Q_MAX_ID_SET], 1, i64(s->max_id));
		if (exec_once(s, Q_MAX_ID_SET, err, errlen) == -1)
			goto fail;
	}
	DCF_INJECT(DCF_OP_STORE, DCF_STEP_STORE_WRITTEN);
	if (exec_once(s, Q_COMMIT, err, errlen) == -1)
		goto fail;
	return 0;
fail:
	e = errno;
	s->max_id = max0;
	s->ndep = ndep0;
	/* A failed COMMIT may have rolled back already: that ROLLBACK's error is no news. */
	if (sqlite3_get_autocommit(s->db) == 0)
		(void)sqlite3_step(s->q[Q_ROLLBACK]);
	sqlite3_reset(s->q[Q_ROLLBACK]);
	errno = e;
	return -1;
}

/* --- reads ------------------------------------------------------------- */

static int
sq_unfinished(struct dcf_store *st, int32_t prio, uint64_t after, uint32_t max,
    dcf_store_each_fn fn, void *arg, char *err, size_t errlen)
{
	struct st_sqlite *s = (struct st_sqlite *)st;
	sqlite3_stmt *q = s->q[prio == DCF_STORE_ANY_PRIO ? Q_UNFINISHED
	        : prio == DCF_STORE_DELAYED               ? Q_DELAYED
	                                                  : Q_UNFINISHED_PRIO];

	sqlite3_bind_int64(q, 1, i64(after));
	sqlite3_bind_int64(q, 2, max);
	if (prio != DCF_STORE_ANY_PRIO && prio != DCF_STORE_DELAYED)
		sqlite3_bind_int64(q, 3, prio);
	return each_row(s, q, fn, arg, err, errlen) == -1 ? -1 : 0;
}

static int
sq_list(struct dcf_store *st, int state, uint64_t after, uint32_t max, dcf_store_each_fn fn,
    void *arg, char *err, size_t errlen)
{
	struct st_sqlite *s = (struct st_sqlite *)st;
	sqlite3_stmt *q = s->q[state < 0                 ? Q_LIST_ANY
	        : dcf_store_state_final((uint32_t)state) ? Q_LIST_STATE
	                                                 : Q_LIST_OPEN];

	sqlite3_bind_int64(q, 1, i64(after));
	sqlite3_bind_int64(q, 2, max);
	if (state >= 0)
		sqlite3_bind_int64(q, 3, state);
	return each_row(s, q, fn, arg, err, errlen) == -1 ? -1 : 0;
}

static int
sq_get(struct dcf_store *st, uint64_t id, dcf_store_each_fn fn, void *arg, char *err, size_t errlen)
{
	struct st_sqlite *s = (struct st_sqlite *)st;
	sqlite3_stmt *q = s->q[Q_GET];
	int64_t n;

	sqlite3_bind_int64(q, 1, i64(id));
	if ((n = each_row(s, q, fn, arg, err, errlen)) == -1)
		return -1;
	return n > 0;
}

static int
sq_count(struct dcf_store *st, struct dcf_store_counts *c, unsigned what, char *err, size_t errlen)
{
	struct st_sqlite *s = (struct st_sqlite *)st;
	int ks[2], nk = 0, rc;
	sqlite3_stmt *q;

	memset(c, 0, sizeof(*c));
	if ((what & DCF_COUNT_ALL) == DCF_COUNT_ALL) {
		ks[nk++] = Q_COUNT;
	} else {
		if (what & DCF_COUNT_UNFINISHED)
			ks[nk++] = Q_COUNT_UNFINISHED;
		if (what & DCF_COUNT_FINISHED)
			ks[nk++] = Q_COUNT_FINISHED;
	}
	for (int k = 0; k < nk; k++) {
		q = s->q[ks[k]];
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			uint32_t state = u32col(q, 0);
			uint64_t v = u64col(q, 1);

			if (state >= DCF_SS_DONE)
				c->finished += v;
			if (state < DCF_SS_NSTATES && ks[k] != Q_COUNT_FINISHED)
				c->by_state[state] = v;
		}
		sqlite3_reset(q);
		if (rc != SQLITE_DONE)
			return sq_fail(s, rc, "counting tasks", err, errlen);
	}
	if (!(what & DCF_COUNT_MAX_ID))
		return 0;
	q = s->q[Q_MAX_ID_GET];
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		c->max_id = u64col(q, 0);
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(s, rc, "reading the highest id", err, errlen);
	return 0;
}

static int64_t
sq_prune(struct dcf_store *st, uint64_t keep_count, uint64_t ended_before, uint32_t max,
    dcf_store_each_fn fn, void *arg, char *err, size_t errlen)
{
	struct st_sqlite *s = (struct st_sqlite *)st;
	sqlite3_stmt *q;
	int64_t edge_end = -1, edge_id = -1, n = 0;
	uint64_t *ids = NULL;
	int rc, e;

	if (st->readonly) {
		snprintf(err, errlen, "%s: opened read-only", st->where);
		errno = EROFS;
		return -1;
	}
	if (max == 0)
		return 0;
	if (keep_count != UINT64_MAX) {
		q = s->q[Q_KEEP_EDGE];
		sqlite3_bind_int64(q, 1, i64(keep_count));
		if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			edge_end = sqlite3_column_int64(q, 0);
			edge_id = sqlite3_column_int64(q, 1);
		}
		sqlite3_reset(q);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return sq_fail(s, rc, "finding what to prune", err, errlen);
	}
	if (edge_id < 0 && ended_before == 0)
		return 0;
	if ((ids = malloc(max * sizeof(*ids))) == NULL) {
		snprintf(err, errlen, "%s: pruning: out of memory", st->where);
		return -1;
	}
	if (exec_once(s, Q_BEGIN, err, errlen) == -1)
		goto out;
	/* Read first, then delete: a statement does not step over rows it deletes. */
	q = s->q[Q_PRUNE_SEL];
	sqlite3_bind_int64(q, 1, i64(ended_before));
	sqlite3_bind_int64(q, 2, edge_end);
	sqlite3_bind_int64(q, 3, edge_id);
	sqlite3_bind_int64(q, 4, max);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW && n < (int64_t)max) {
		struct dcf_store_task t;

		read_row(q, &t);
		ids[n++] = t.id;
		if (fn != NULL)
			(void)fn(arg, &t);
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		sq_fail(s, rc, "pruning", err, errlen);
		goto undo;
	}
	for (int64_t i = 0; i < n; i++) {
		sqlite3_bind_int64(s->q[Q_DELETE], 1, i64(ids[i]));
		if (exec_once(s, Q_DELETE, err, errlen) == -1)
			goto undo;
	}
	if (exec_once(s, Q_COMMIT, err, errlen) == -1)
		goto undo;
	free(ids);
	return n;
undo:
	e = errno;
	if (sqlite3_get_autocommit(s->db) == 0)
		(void)sqlite3_step(s->q[Q_ROLLBACK]);
	sqlite3_reset(s->q[Q_ROLLBACK]);
	errno = e;
out:
	free(ids);
	return -1;
}

static void writer_unregister(struct st_sqlite *s);

static void
sq_close(struct dcf_store *st)
{
	struct st_sqlite *s = (struct st_sqlite *)st;

	for (int i = 0; i < Q_NSTMT; i++)
		sqlite3_finalize(s->q[i]);
	/* Last: closing any descriptor of the file drops SQLite's POSIX locks. */
	if (sqlite3_close(s->db) != SQLITE_OK)
		(void)sqlite3_close_v2(s->db);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	writer_unregister(s);
	free(s->wl);
	free(s);
}

static const struct dcf_store_ops sq_ops = {
    .commit = sq_commit,
    .unfinished = sq_unfinished,
    .list = sq_list,
    .get = sq_get,
    .count = sq_count,
    .control = sq_control,
    .prune = sq_prune,
    .close = sq_close,
};

/* --- opening ----------------------------------------------------------- */

/* One value of a pragma or query; -1 with err. */
static int
query_int(struct st_sqlite *s, const char *sql, int64_t *v, char *err, size_t errlen)
{
	sqlite3_stmt *q;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);

	if (rc != SQLITE_OK)
		return sq_fail(s, rc, "reading the store", err, errlen);
	*v = 0;
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		*v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(s, rc, "reading the store", err, errlen);
	return 0;
}

static int
query_text(struct st_sqlite *s, const char *sql, char *buf, size_t len, char *err, size_t errlen)
{
	sqlite3_stmt *q;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);

	if (rc != SQLITE_OK)
		return sq_fail(s, rc, "reading the store", err, errlen);
	buf[0] = '\0';
	if ((rc = sqlite3_step(q)) == SQLITE_ROW && sqlite3_column_text(q, 0) != NULL)
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(s, rc, "reading the store", err, errlen);
	return 0;
}

static int
exec_sql(struct st_sqlite *s, const char *sql, const char *what, char *err, size_t errlen)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sq_fail(s, rc, what, err, errlen);
}

/* A new file: the schema and meta rows, in one transaction. */
static int
create_schema(struct st_sqlite *s, const struct dcf_store_open_opts *o, char *err, size_t errlen)
{
	char *sql;
	int rc;

	sql = sqlite3_mprintf("BEGIN IMMEDIATE; %s"
	                      "INSERT INTO meta VALUES ('mode', %Q), ('instance', %Q),"
	                      " ('max_id', '0'), ('created', '%lld');"
	                      "PRAGMA application_id = %d; PRAGMA user_version = %d; COMMIT;",
	    schema_sql, dcf_store_mode_name(o->mode), o->instance != NULL ? o->instance : "",
	    (long long)time(NULL), APP_ID, SCHEMA);
	if (sql == NULL) {
		snprintf(err, errlen, "%s: out of memory", s->base.where);
		errno = ENOMEM;
		return -1;
	}
	rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK) {
		int e = sq_fail(s, rc, "creating the store", err, errlen);

		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return e;
	}
	return 0;
}

/* Is it ours, of a schema we read, of the mode asked, and sound? */
static int
check_store(struct st_sqlite *s, const struct dcf_store_open_opts *o, int *empty, char *err,
    size_t errlen)
{
	int64_t app, ver, ntables;
	char mode[16];

	*empty = 0;
	if (query_int(s, "PRAGMA application_id", &app, err, errlen) == -1 ||
	    query_int(s, "PRAGMA user_version", &ver, err, errlen) == -1 ||
	    query_int(s, "SELECT count(*) FROM sqlite_master", &ntables, err, errlen) == -1)
		return -1;
	if (app == 0 && ver == 0 && ntables == 0) {
		*empty = 1;
		return 0;
	}
	if (app != APP_ID) {
		snprintf(err, errlen,
		    "%s is an SQLite database but not a dcf store: name another file",
		    s->base.where);
		errno = EINVAL;
		return -1;
	}
	if (ver > SCHEMA) {
		snprintf(err, errlen,
		    "%s has store schema %lld, newer than this dcf reads (%d): run the dcf that "
		    "wrote it",
		    s->base.where, (long long)ver, SCHEMA);
		errno = EPROTO;
		return -1;
	}
	if (ver < 1) {
		snprintf(err, errlen, "%s: store schema %lld is not one dcf wrote", s->base.where,
		    (long long)ver);
		errno = EINVAL;
		return -1;
	}
	/* The writer looks at every page once: a damaged store is refused at the start. */
	if (!o->readonly &&
	    query_text(s, "PRAGMA quick_check", mode, sizeof(mode), err, errlen) == -1)
		return -1;
	if (!o->readonly && strcmp(mode, "ok") != 0) {
		snprintf(err, errlen,
		    "%s: the store is corrupt (quick_check failed): move it aside to start a new "
		    "one",
		    s->base.where);
		errno = EUCLEAN;
		return -1;
	}
	if (query_text(s, "SELECT v FROM meta WHERE k = 'mode'", mode, sizeof(mode), err, errlen) ==
	    -1)
		return -1;
	if (o->mode != 0 && strcmp(mode, dcf_store_mode_name(o->mode)) != 0) {
		snprintf(err, errlen, "%s holds a %s's tasks, not a %s's: name another store",
		    s->base.where, mode, dcf_store_mode_name(o->mode));
		errno = EINVAL;
		return -1;
	}
	s->base.mode = strcmp(mode, "batch") == 0 ? DCF_STORE_BATCH : DCF_STORE_SERVICE;
	s->ver = o->readonly ? ver : SCHEMA;
	/* An older schema: the writer brings it up to date (a reader reads it as it is). */
	for (int64_t v = ver; !o->readonly && v < SCHEMA; v++) {
		char *sql = sqlite3_mprintf("BEGIN IMMEDIATE; %s PRAGMA user_version = %d; COMMIT;",
		    upgrade_sql[v], (int)v + 1);
		int rc = sql != NULL ? sqlite3_exec(s->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;

		sqlite3_free(sql);
		if (rc != SQLITE_OK) {
			int e = sq_fail(s, rc, "upgrading the store's schema", err, errlen);

			(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return e;
		}
	}
	return 0;
}

/*
 * What lies at path and beside it (-wal, -shm) must be plain files of ours:
 * a symbolic link or another user's file is refused before SQLite opens
 * (and would create or write) anything. 0 (*exists set), or -1.
 */
static int
check_files(const char *path, int *exists, char *err, size_t errlen)
{
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	char p[PATH_MAX];
	struct stat sb;

	*exists = 0;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if ((size_t)snprintf(p, sizeof(p), "%s%s", path, sfx[i]) >= sizeof(p))
			DCF_BAD(ENAMETOOLONG, "%s: the name is too long", path);
		if (lstat(p, &sb) == -1) {
			if (errno == ENOENT)
				continue;
			DCF_BAD(errno, "%s: %s", p, strerror(errno));
		}
		if (!S_ISREG(sb.st_mode))
			DCF_BAD(EINVAL,
			    "%s is not a regular file (%s): a store is a file; name another", p,
			    S_ISLNK(sb.st_mode) ? "a symbolic link" : "a directory or device");
		if (sb.st_uid != geteuid())
			DCF_BAD(EPERM,
			    "%s belongs to uid %u, not to you (uid %u): refusing to use it", p,
			    (unsigned)sb.st_uid, (unsigned)geteuid());
		if (i == 0)
			*exists = 1;
	}
	return 0;
}

/*
 * The writer's claim on a store, held until it is closed: a POSIX record
 * lock on one byte far past anything SQLite locks (its locks lie around
 * 1 GiB), which the kernel drops when the process ends and which, unlike
 * flock(2), a forked child does not inherit (a worker forked at the moment
 * the supervisor was killed would hold the store for a while). Record
 * locks do not exclude the process that holds them, so this process's
 * writers are also in a table of its own.
 */
#define WRITER_LOCK_OFF (1LL << 40)

static pthread_mutex_t writers_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	dev_t dev;
	ino_t ino;
} writers[16];
static unsigned nwriters;

static int
writer_register(struct st_sqlite *s)
{
	int r = -1;

	pthread_mutex_lock(&writers_mu);
	for (unsigned i = 0; i < nwriters; i++)
		if (writers[i].dev == s->dev && writers[i].ino == s->ino)
			goto out;
	if (nwriters < sizeof(writers) / sizeof(writers[0])) {
		writers[nwriters].dev = s->dev;
		writers[nwriters++].ino = s->ino;
		s->registered = 1;
		r = 0;
	}
out:
	pthread_mutex_unlock(&writers_mu);
	return r;
}

static void
writer_unregister(struct st_sqlite *s)
{
	if (!s->registered)
		return;
	pthread_mutex_lock(&writers_mu);
	for (unsigned i = 0; i < nwriters; i++)
		if (writers[i].dev == s->dev && writers[i].ino == s->ino) {
			writers[i] = writers[--nwriters];
			break;
		}
	pthread_mutex_unlock(&writers_mu);
	s->registered = 0;
}

static int
take_writer_lock(struct st_sqlite *s, const char *path, int exists, char *err, size_t errlen)
{
	int flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | (exists ? 0 : O_CREAT | O_EXCL);
	struct flock fl = {.l_type = F_WRLCK,
	    .l_whence = SEEK_SET,
	    .l_start = WRITER_LOCK_OFF,
	    .l_len = 1};
	struct stat sb;

	if ((s->lock_fd = open(path, flags, 0600)) == -1)
		DCF_BAD(errno, "%s: %s", path, strerror(errno));
	s->created = !exists;
	s->base.created = s->created;
	if (fstat(s->lock_fd, &sb) == -1)
		DCF_BAD(errno, "%s: %s", path, strerror(errno));
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	if (writer_register(s) == -1 || fcntl(s->lock_fd, F_SETLK, &fl) == -1) {
		if (!s->registered || errno == EAGAIN || errno == EACCES)
			DCF_BAD(EBUSY,
			    "%s is in use by another supervisor: stop it, or name another store",
			    path);
		DCF_BAD(errno, "%s: locking: %s", path, strerror(errno));
	}
	return 0;
}

/* sql with each column schema ver lacks as the constant 0, in buf. */
static const char *
old_columns(const char *sql, int64_t ver, char *buf, size_t len)
{
	static const struct {
		const char *name, *as;
		int64_t since;
	} cols[] = {{"not_before_ns", "0", 4}, {"pin", "0", 3}, {"waits", "0", 5},
	    {"after_any", "0", 5}, {"cause", "0", 5}, {"after_ids", "NULL", 5}};
	size_t n = 0;

	while (*sql != '\0' && n + 1 < len) {
		size_t k = 0, w = strspn(sql, "abcdefghijklmnopqrstuvwxyz_");

		for (; k < sizeof(cols) / sizeof(cols[0]); k++)
			if (ver < cols[k].since && w == strlen(cols[k].name) &&
			    strncmp(sql, cols[k].name, w) == 0)
				break;
		if (w > 0 && k < sizeof(cols) / sizeof(cols[0])) {
			for (const char *a = cols[k].as; *a != '\0' && n + 1 < len; a++)
				buf[n++] = *a;
			sql += w;
		} else if (w > 0) {
			for (size_t j = 0; j < w && n + 1 < len; j++)
				buf[n++] = *sql++;
		} else {
			buf[n++] = *sql++;
		}
	}
	buf[n] = '\0';
	return buf;
}

static int
prepare_all(struct st_sqlite *s, char *err, size_t errlen)
{
	for (int i = 0; i < Q_NSTMT; i++) {
		char text[1024];
		const char *sql = sql_text[i];
		int rc;

		/*
		 * A reader of an older schema reads it as it is: the columns it lacks
		 * read as 0 (pin, 3; not_before_ns, 4; --after's, 5), and it
		 * prepares no write and nothing of dep.
		 */
		if (s->ver < SCHEMA) {
			if (strncmp(sql, "SELECT", 6) != 0 || i == Q_DEPS_OF || i == Q_DEP_COUNT)
				continue;
			sql = old_columns(sql, s->ver, text, sizeof(text));
		}
		rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL);
		if (rc != SQLITE_OK)
			return sq_fail(s, rc, "preparing a statement", err, errlen);
	}
	return 0;
}

struct dcf_store *
dcf_store_sqlite_open(const struct dcf_store_open_opts *o, char *err, size_t errlen)
{
	struct st_sqlite *s;
	int exists, empty, rc, flags = SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX;
	int64_t max_id;

	if (o->owner != NULL && !o->readonly) {
		snprintf(err, errlen,
		    "%s: several hosts share a PostgreSQL store (postgresql://...), not a file",
		    o->where);
		errno = EINVAL;
		return NULL;
	}
	if (check_files(o->where, &exists, err, errlen) == -1)
		return NULL;
	if (!exists && (o->readonly || !o->create)) {
		snprintf(err, errlen, "%s: no such store", o->where);
		errno = ENOENT;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", o->where);
		return NULL;
	}
	s->lock_fd = -1;
	s->base.ops = &sq_ops;
	s->base.readonly = o->readonly;
	s->base.mode = o->mode;
	snprintf(s->base.where, sizeof(s->base.where), "%s", o->where);
	if (!o->readonly && take_writer_lock(s, o->where, exists, err, errlen) == -1)
		goto fail;
	flags |= o->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	if ((rc = sqlite3_open_v2(o->where, &s->db, flags, NULL)) != SQLITE_OK) {
		sq_fail(s, rc, "opening", err, errlen);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_MS);
	if (check_store(s, o, &empty, err, errlen) == -1)
		goto fail;
	if (empty && o->readonly) {
		snprintf(err, errlen, "%s: not a dcf store yet (empty)", o->where);
		errno = ENOENT;
		goto fail;
	}
	if (!o->readonly) {
		/* WAL is the file's own setting; FULL syncs the WAL at every commit. */
		if (exec_sql(s, "PRAGMA journal_mode = WAL", "choosing WAL", err, errlen) == -1 ||
		    exec_sql(s, "PRAGMA synchronous = FULL", "choosing FULL sync", err, errlen) ==
		        -1)
			goto fail;
		if (empty && create_schema(s, o, err, errlen) == -1)
			goto fail;
		if (empty && check_store(s, o, &empty, err, errlen) == -1)
			goto fail;
	}
	if (prepare_all(s, err, errlen) == -1)
		goto fail;
	if (query_int(s, sql_text[Q_MAX_ID_GET], &max_id, err, errlen) == -1)
		goto fail;
	s->max_id = max_id > 0 ? (uint64_t)max_id : 0;
	if (!o->readonly && query_int(s, sql_text[Q_DEP_COUNT], &s->ndep, err, errlen) == -1)
		goto fail;
	return &s->base;
fail:
	rc = errno;
	/* A file we created (O_EXCL) and could not make a store goes again. */
	if (s->created)
		(void)unlink(o->where);
	sq_close(&s->base);
	errno = rc;
	return NULL;
}
