/*
 * store_pg.c - the store (store.h) in a PostgreSQL database, for the day
 * one machine is not enough: `--store postgresql://...` (any libpq URL).
 *
 * The same tasks, states and rules as the SQLite file (store_sqlite.c),
 * in the schema the connection's search_path names first:
 *   dcf_meta(k, v)  app 'dcf', schema, mode, instance, max_id, created,
 *                   commit_seq (the only writer's, below)
 *   dcf_task(...)   one row per task, as SQLite's task, and (schema 2) the
 *                   host that holds it (owner), until when (lease_until),
 *                   by which claim (claim, a number that grows with each;
 *                   claim_seq: the commit that made it)
 *   dcf_dep(on_id, task)  --after, as SQLite's dep
 *   dcf_host(owner, ...)  (2) each host: when it was seen, its commit_seq
 *   dcf_task_id     (2) the ids several hosts take theirs from
 *   (3) dcf_task's ask_op, ask_val: dcf-ctl's request of another host for
 *                   the host that holds the task (channel dcf_ask)
 *   (4) dcf_task's pin_host: the host it runs on (dcf-submit --host)
 * Every integer is a bigint, every value travels in binary: nothing is
 * quoted or parsed as text on the way.
 *
 * Durable when commit returns: the session's synchronous_commit is on, so
 * COMMIT answers after the server flushed its WAL.
 *
 * Writers: the only one holds a session advisory lock on the schema alone;
 * writers of several hosts (opened with an owner) share that lock and hold
 * one of their identity's alone. The server drops them with the
 * connection, however the process ended. A shared writer's new tasks take
 * ids from the sequence before the transaction (so a retry reuses them);
 * its changes to a task's run are fenced by the claim it holds the task by
 * (UPDATE ... WHERE owner = me AND claim = mine, the count checked), so a
 * host whose lease ended, and whose task another took, books nothing; its
 * claims are SELECT ... FOR UPDATE SKIP LOCKED of the ready, in the same
 * transaction as its changes; leases are timed by the server's clock
 * (now()), never a host's. A commit that made tasks claimable notifies
 * channel dcf_ready (the schema's name as payload).
 *
 * A connection lost mid-commit leaves its outcome unknown: the COMMIT may
 * have been applied and its answer lost. Each commit therefore also
 * writes its number (commit_seq) in its own transaction; the retry, on a
 * new connection, reads it: if the lost one was applied, the retry does
 * not apply it twice but reads back what the caller is owed (each new
 * task's state, or the task that holds its key; the tasks it claimed, by
 * claim_seq). Only the tasks it woke (--after) are not told again: they
 * wait in the store, queued (claimable by any host, which were told).
 *
 * Nothing here is exported from libdcf: the programs link it (store.h).
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends.h"
#include "dcf/inject.h"
#include "dcf/store.h"
#include "dcf/util.h"

/* 2: several hosts (owner, lease_until, claim; dcf_host; the id sequence); 3: asks; 4: --host */
#define SCHEMA  4
#define KEY_MAX 512
#define NPARAM  20

enum pg_stmt {
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
	Q_FENCE_OF,
	Q_CLAIM,
	Q_RENEW,
	Q_RELEASE,
	Q_NEXT,
	Q_HOST_SEEN,
	Q_SEQ_SYNC,
	Q_NOTIFY,
	Q_IDS,
	Q_CLAIMED,
	Q_SEQ_GET,
	Q_SEQ_SET,
	Q_UNCLAIM,
	Q_RESET,
	Q_NOTIFY_ENDED,
	Q_STATE_LOCK,
	Q_ASK,
	Q_ASKS,
	Q_NOTIFY_ASK,
	Q_NSTMT
};

/* The columns a task is read with, in struct dcf_store_task's order (read_row). */
#define COLS \
	"id, state, prio, timeout_ms, retries, attempts, tries, runs, submitted_ns, " \
	"started_ns, ended_ns, pid, pid_start, net, node, how, exit_code, term_sig, " \
	"exec_errno, run_start_ns, run_ns, cpu_us, maxrss_kb, out_bytes, err_bytes, pin, " \
	"not_before_ns, waits, after_any, cause, after_ids, key, cmd, cwd, claim, owner, " \
	"pin_host, " \
	"coalesce((lease_until >= now())::int::bigint, 0)"
#define B "::bigint"
/* A fenced change's condition: no owner given (one host), or the claim it holds. */
/*
 * A fenced change's condition: no owner given (one host), or the claim it
 * holds; a change with no claim (a cancel from any host) only of a task
 * nobody holds.
 */
#define FENCE(o, c) \
	" AND ($" #o "::text IS NULL OR (owner = $" #o "::text AND claim = $" #c B ") OR ($" #c B \
	" = 0 AND (owner IS NULL OR lease_until < now())))"
/* The database's clock in ns (delays are wall-clock ns), and what makes a task claimable. */
#define NOW_NS "(extract(epoch FROM now()) * 1000000000)::bigint"
/* A task this host may run: pinned to no other host, and to no network it lacks ($2). */
#define MINE "(pin_host IS NULL OR pin_host = $1::text) AND ($2" B " = 0 OR pin <= $2" B ")"
#define CLAIMABLE \
	"state < 2 AND waits = 0 AND not_before_ns <= " NOW_NS \
	" AND (owner IS NULL OR lease_until < now())"

static const char *const sql_text[Q_NSTMT] = {
    [Q_INSERT] = "INSERT INTO dcf_task (id, key, state, prio, timeout_ms, retries, submitted_ns, "
                 "cmd, cwd, pin, not_before_ns, waits, after_any, after_ids, cause, ended_ns, "
                 "pin_host) VALUES ($1" B ", $2::text, $11" B ", $3" B ", $4" B ", $5" B ", $6" B
                 ", $7::bytea, $8::text, $9" B ", $10" B ", $12" B ", $13" B ", $14::text, $15" B
                 ", $16" B ", $17::text) ON CONFLICT (key) DO NOTHING",
    [Q_KEY_ID] = "SELECT id FROM dcf_task WHERE key = $1::text",
    [Q_STARTED] = "UPDATE dcf_task SET state = 1, runs = greatest(runs, $2" B "), "
                  "started_ns = $3" B ", pid = $4" B ", pid_start = $5" B ", net = $6" B
                  ", node = $7" B " WHERE id = $1" B " AND state < 2" FENCE(8, 9),
    [Q_REQUEUED] = "UPDATE dcf_task SET state = 0, attempts = $2" B ", tries = $3" B
                   ", pid = 0 WHERE id = $1" B " AND state < 2" FENCE(4, 5),
    [Q_ENDED] =
        "UPDATE dcf_task SET state = $2" B ", attempts = $3" B ", tries = $4" B ", runs = $5" B
        ", ended_ns = $6" B ", how = $7" B ", exit_code = $8" B ", term_sig = $9" B
        ", exec_errno = $10" B ", run_start_ns = $11" B ", run_ns = $12" B ", cpu_us = $13" B
        ", maxrss_kb = $14" B ", out_bytes = $15" B ", err_bytes = $16" B ", pid = 0, "
        "owner = NULL, lease_until = NULL WHERE id = $1" B " AND state < 2" FENCE(17, 18),
    [Q_PRIO] = "UPDATE dcf_task SET prio = $2" B " WHERE id = $1" B " AND state < 2",
    [Q_DUE] = "UPDATE dcf_task SET not_before_ns = 0 WHERE id = $1" B " AND state < 2",
    [Q_DEP_ADD] =
        "INSERT INTO dcf_dep (on_id, task) VALUES ($1" B ", $2" B ") ON CONFLICT DO NOTHING",
    [Q_DEPS_OF] = "SELECT d.task, t.after_any FROM dcf_dep d JOIN dcf_task t ON t.id = d.task "
                  "WHERE d.on_id = $1" B " AND t.state < 2",
    [Q_DEP_DEL] = "DELETE FROM dcf_dep WHERE on_id = $1" B,
    [Q_WAKE] = "UPDATE dcf_task SET waits = waits - 1 WHERE id = $1" B
               " AND state < 2 AND waits > 0 RETURNING waits, prio, pin, not_before_ns",
    [Q_DEP_FAIL] = "UPDATE dcf_task SET state = 6, waits = 0, cause = $2" B ", ended_ns = $3" B
                   " WHERE id = $1" B " AND state < 2",
    [Q_DEP_COUNT] = "SELECT count(*) FROM dcf_dep",
    [Q_META_SET] = "INSERT INTO dcf_meta (k, v) VALUES ($1::text, $2::text) "
                   "ON CONFLICT (k) DO UPDATE SET v = excluded.v",
    [Q_META_GET] = "SELECT v FROM dcf_meta WHERE k = $1::text",
    [Q_DELAYED] = "SELECT " COLS " FROM dcf_task WHERE state < 2 AND not_before_ns > 0 AND "
                  "id > $1" B " AND waits = 0 ORDER BY id LIMIT $2" B,
    [Q_STATE_OF] = "SELECT state FROM dcf_task WHERE id = $1" B,
    [Q_UNFINISHED] =
        "SELECT " COLS " FROM dcf_task WHERE state < 2 AND id > $1" B " ORDER BY id LIMIT $2" B,
    [Q_UNFINISHED_PRIO] = "SELECT " COLS " FROM dcf_task WHERE state < 2 AND prio = $3" B
                          " AND id > $1" B " AND not_before_ns = 0 AND waits = 0 "
                          "ORDER BY id LIMIT $2" B,
    [Q_LIST_ANY] = "SELECT " COLS " FROM dcf_task WHERE id > $1" B " ORDER BY id LIMIT $2" B,
    [Q_LIST_STATE] = "SELECT " COLS " FROM dcf_task WHERE state = $3" B " AND id > $1" B
                     " ORDER BY id LIMIT $2" B,
    [Q_LIST_OPEN] = "SELECT " COLS " FROM dcf_task WHERE state < 2 AND state = $3" B
                    " AND id > $1" B " ORDER BY id LIMIT $2" B,
    [Q_GET] = "SELECT " COLS " FROM dcf_task WHERE id = $1" B,
    [Q_COUNT] = "SELECT state, count(*) FROM dcf_task GROUP BY state",
    [Q_COUNT_UNFINISHED] = "SELECT state, count(*) FROM dcf_task WHERE state < 2 GROUP BY state",
    [Q_COUNT_FINISHED] = "SELECT 2::bigint, count(*) FROM dcf_task WHERE state >= 2",
    /* The highest of both: a row someone else put in does not get its id given again. */
    [Q_MAX_ID_GET] = "SELECT greatest((SELECT v::bigint FROM dcf_meta WHERE k = 'max_id'), "
                     "(SELECT coalesce(max(id), 0) FROM dcf_task))",
    [Q_MAX_ID_SET] = "UPDATE dcf_meta SET v = $1" B "::text WHERE k = 'max_id' AND "
                     "v::bigint < $1" B,
    [Q_KEEP_EDGE] = "SELECT ended_ns, id FROM dcf_task WHERE state >= 2 "
                    "ORDER BY ended_ns DESC, id DESC LIMIT 1 OFFSET $1" B,
    [Q_PRUNE_SEL] = "SELECT " COLS " FROM dcf_task WHERE state >= 2 AND (ended_ns < $1" B
                    " OR (ended_ns, id) <= ($2" B ", $3" B ")) ORDER BY ended_ns, id LIMIT $4" B,
    [Q_DELETE] = "DELETE FROM dcf_task WHERE id = $1" B,
    [Q_FENCE_OF] = "SELECT state, owner, claim FROM dcf_task WHERE id = $1" B,
    /*
     * Ready tasks, highest priority first, locked and skipped by the other
     * hosts' claims running at the same moment: this host's, each a new
     * claim; one that ran on a host whose lease ended comes back queued.
     */
    [Q_CLAIM] =
        "UPDATE dcf_task t SET owner = $1::text, lease_until = now() + $2" B
        " * interval '1 millisecond', claim = t.claim + 1, ask_op = 0, ask_val = 0, attempts = "
        "t.attempts + "
        "CASE WHEN t.state = 1 THEN 1 ELSE 0 END, state = 0, pid = 0, claim_seq = $4" B
        " FROM (SELECT id AS cid FROM dcf_task WHERE " CLAIMABLE " AND ($5" B " = 0 OR pin <= $5" B
        ") AND (pin_host IS NULL OR pin_host = $1::text) ORDER BY prio DESC, id LIMIT $3" B
        " FOR UPDATE SKIP LOCKED) c "
        "WHERE t.id = c.cid RETURNING " COLS,
    [Q_RENEW] = "UPDATE dcf_task SET lease_until = now() + $2" B " * interval '1 millisecond' "
                "WHERE owner = $1::text AND state < 2",
    [Q_RELEASE] = "UPDATE dcf_task SET owner = NULL, lease_until = NULL, ask_op = 0 "
                  "WHERE owner = $1::text AND state = 0",
    /*
     * When a task this host may claim, not claimable now, may become so: a
     * lease ends, a delay passes (ms). Tasks pinned to another host or to a
     * network it lacks are not its to wait for.
     */
    [Q_NEXT] = "SELECT ceil(1000 * extract(epoch FROM least("
               "(SELECT min(lease_until) FROM dcf_task WHERE state < 2 AND owner <> $1::text "
               "AND lease_until > now() AND " MINE "), "
               "(SELECT to_timestamp(min(not_before_ns) / 1e9) FROM dcf_task WHERE state < 2 "
               "AND waits = 0 AND owner IS NULL AND not_before_ns > " NOW_NS " AND " MINE
               ")) - now()))::bigint",
    [Q_HOST_SEEN] = "INSERT INTO dcf_host (owner, started, seen, pid) VALUES ($1::text, now(), "
                    "now(), $2" B ") ON CONFLICT (owner) DO UPDATE SET seen = now(), "
                    "pid = excluded.pid",
    /* One writer gives the ids: the sequence follows, for the day the store is shared. */
    [Q_SEQ_SYNC] = "SELECT setval('dcf_task_id', $1" B ") WHERE $1" B
                   " > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END "
                   "FROM dcf_task_id)",
    [Q_NOTIFY] = "SELECT pg_notify('dcf_ready', current_schema())",
    [Q_IDS] = "SELECT nextval('dcf_task_id') FROM generate_series(1, $1" B ")",
    /* A commit's claims, read again when its answer was lost (claim_seq: its number). */
    /* A writer's last commit number: in dcf_meta for the only one, else its dcf_host row. */
    [Q_SEQ_GET] = "SELECT CASE WHEN $1::text IS NULL THEN (SELECT v::bigint FROM dcf_meta WHERE "
                  "k = 'commit_seq') ELSE (SELECT commit_seq FROM dcf_host WHERE owner = "
                  "$1::text) END",
    [Q_SEQ_SET] = "WITH m AS (UPDATE dcf_meta SET v = $2" B "::text WHERE k = 'commit_seq' AND "
                  "$1::text IS NULL) UPDATE dcf_host SET commit_seq = $2" B ", seen = now() "
                  "WHERE owner = $1::text",
    [Q_UNCLAIM] = "UPDATE dcf_task SET owner = NULL, lease_until = NULL, ask_op = 0 "
                  "WHERE id = $1" B " AND owner = $2::text AND claim = $3" B " AND state = 0",
    /* A restart: what this host held goes back, a run it had started counted lost. */
    [Q_RESET] = "UPDATE dcf_task SET owner = NULL, lease_until = NULL, pid = 0, state = 0, "
                "ask_op = 0, "
                "attempts = attempts + CASE WHEN state = 1 THEN 1 ELSE 0 END "
                "WHERE owner = $1::text AND state < 2",
    [Q_NOTIFY_ENDED] = "SELECT pg_notify('dcf_ended', current_schema())",
    /*
     * Several writers: a task that a new one waits for is held as it is till
     * the commit (an end by another host waits for it, and then sees what
     * waits; or it ended first, and this sees it ended).
     */
    [Q_STATE_LOCK] = "SELECT state FROM dcf_task WHERE id = $1" B " FOR SHARE",
    /* Another host's task: a request for it, its holder told (dcf_ask). */
    [Q_ASK] = "UPDATE dcf_task SET ask_op = $2" B ", ask_val = $3" B " WHERE id = $1" B
              " AND state < 2 AND owner IS NOT NULL AND owner <> $4::text AND lease_until >= "
              "now() AND ask_op = 0",
    /* (RETURNING gives the new values: the old ones come from the locked read.) */
    [Q_ASKS] = "UPDATE dcf_task t SET ask_op = 0, ask_val = 0 FROM (SELECT id, ask_op, ask_val "
               "FROM dcf_task WHERE owner = $1::text AND ask_op <> 0 AND state < 2 FOR UPDATE) o "
               "WHERE t.id = o.id RETURNING o.id, o.ask_op, o.ask_val",
    [Q_NOTIFY_ASK] = "SELECT pg_notify('dcf_ask', current_schema())",
    [Q_CLAIMED] = "SELECT " COLS " FROM dcf_task WHERE owner = $1::text AND claim_seq = $2" B
                  " AND state = 0 ORDER BY prio DESC, id",
};

#define NN " bigint NOT NULL DEFAULT 0,"
/* Schema 2's additions, also the way from 1 (upgrade_sql). */
#define SHARED_SQL \
	"CREATE SEQUENCE dcf_task_id;" \
	"SELECT setval('dcf_task_id', greatest(1, m), m > 0) FROM (SELECT greatest(" \
	"(SELECT coalesce(max(id), 0) FROM dcf_task), (SELECT coalesce(max(v::bigint), 0) " \
	"FROM dcf_meta WHERE k = 'max_id')) AS m) x;" \
	"CREATE TABLE dcf_host (owner text PRIMARY KEY, started timestamptz NOT NULL," \
	" seen timestamptz NOT NULL, pid bigint NOT NULL DEFAULT 0," \
	" commit_seq bigint NOT NULL DEFAULT 0);" \
	"CREATE INDEX dcf_task_ready ON dcf_task(prio DESC, id) WHERE state < 2;" \
	"CREATE INDEX dcf_task_owner ON dcf_task(owner) WHERE owner IS NOT NULL;"
static const char schema_sql[] =
    "CREATE TABLE dcf_meta (k text PRIMARY KEY, v text NOT NULL);"
    "CREATE TABLE dcf_task ("
    " id bigint PRIMARY KEY,"
    " key text UNIQUE,"
    " state bigint NOT NULL,"
    " prio" NN " timeout_ms" NN " retries" NN " attempts" NN " tries" NN " runs" NN
    " submitted_ns bigint NOT NULL,"
    " started_ns" NN " ended_ns" NN " pid" NN " pid_start" NN " net" NN " node" NN " how" NN
    " exit_code" NN " term_sig" NN " exec_errno" NN " run_start_ns" NN " run_ns" NN " cpu_us" NN
    " maxrss_kb" NN " out_bytes" NN " err_bytes" NN " cmd bytea NOT NULL,"
    " cwd text,"
    " pin" NN " not_before_ns" NN " waits" NN " after_any" NN " after_ids text,"
    " cause bigint NOT NULL DEFAULT 0,"
    " owner text,"
    " lease_until timestamptz,"
    " claim bigint NOT NULL DEFAULT 0,"
    " claim_seq bigint NOT NULL DEFAULT 0,"
    " ask_op bigint NOT NULL DEFAULT 0,"
    " ask_val bigint NOT NULL DEFAULT 0,"
    " pin_host text);"
    "CREATE TABLE dcf_dep (on_id bigint NOT NULL, task bigint NOT NULL, "
    "PRIMARY KEY (on_id, task));"
    "CREATE INDEX dcf_task_unfinished ON dcf_task(id) WHERE state < 2;"
    "CREATE INDEX dcf_task_finished ON dcf_task(ended_ns, id) WHERE state >= 2;"
    "CREATE INDEX dcf_task_unfinished_prio ON dcf_task(prio, id) WHERE state < 2;"
    "CREATE INDEX dcf_task_delayed ON dcf_task(id) WHERE state < 2 AND not_before_ns > "
    "0;" SHARED_SQL;

/* From each schema to the next, run by a writer in one transaction. */
static const char *const upgrade_sql[SCHEMA + 1] = {
    [1] = "ALTER TABLE dcf_task ADD COLUMN owner text, ADD COLUMN lease_until timestamptz, "
          "ADD COLUMN claim bigint NOT NULL DEFAULT 0, "
          "ADD COLUMN claim_seq bigint NOT NULL DEFAULT 0;" SHARED_SQL,
    [2] = "ALTER TABLE dcf_task ADD COLUMN ask_op bigint NOT NULL DEFAULT 0, "
          "ADD COLUMN ask_val bigint NOT NULL DEFAULT 0;",
    [3] = "ALTER TABLE dcf_task ADD COLUMN pin_host text;",
};

#ifdef DCF_INJECT_ENABLE
unsigned dcf_store_pg_lose_answers;
#endif

struct st_pg {
	struct dcf_store base;
	PGconn *c;
	char url[1024];
	uint64_t max_id;
	int64_t ndep; /* the writer's: rows in dcf_dep (0: an end wakes nobody) */
	uint64_t seq; /* the writer's: the last commit_seq it committed */
	int unsure;   /* the writer's: commit seq + 1's outcome is unknown (a lost connection) */
	uint64_t *wl; /* the writer's: ids whose dependents are looked at, a work list */
	uint32_t nwl, wlcap;
	char owner[128];   /* shared (several hosts): this writer's identity */
	uint32_t lease_ms; /* shared: how long a claim lasts unless renewed */
	int notify;        /* shared: this commit made tasks claimable (told to the others) */
	int ended;         /* shared: this commit ended tasks (told to whoever waits for them) */
	int asked;         /* shared: this commit left requests for other hosts */
	int listening;     /* a reader: LISTEN was said on this connection */
	char schema[128];  /* a listener: its schema's name, the notifications' payload */
};

/* One statement's parameters, each an int8 in binary or bytes. */
struct params {
	int n;
	const char *v[NPARAM];
	int len[NPARAM];
	int fmt[NPARAM];
	uint64_t be[NPARAM];
};

static void
p_i64(struct params *p, int64_t x)
{
	p->be[p->n] = htobe64((uint64_t)x);
	p->v[p->n] = (const char *)&p->be[p->n];
	p->len[p->n] = 8;
	p->fmt[p->n++] = 1;
}

static int64_t
i64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

static void
p_u64(struct params *p, uint64_t x)
{
	p_i64(p, i64(x));
}

/* s NULL: SQL NULL. */
static void
p_bytes(struct params *p, const void *s, size_t len)
{
	p->v[p->n] = s;
	p->len[p->n] = (int)len;
	p->fmt[p->n++] = 1;
}

static void
p_text(struct params *p, const char *s)
{
	p_bytes(p, s, s != NULL ? strlen(s) : 0);
}

/* SQLSTATE's class and code as an errno, for the caller's choices. */
static int
pg_errno(const char *state)
{
	if (state == NULL)
		return ECONNRESET; /* no answer at all: the connection */
	if (strcmp(state, "53100") == 0)
		return ENOSPC;
	if (strcmp(state, "53200") == 0)
		return ENOMEM;
	if (strcmp(state, "23505") == 0)
		return EEXIST;
	if (strcmp(state, "25006") == 0 || strncmp(state, "42501", 5) == 0)
		return EACCES;
	if ((strncmp(state, "08", 2) == 0 && strcmp(state, "08P01") != 0) ||
	    strncmp(state, "57P", 3) == 0)
		return ECONNRESET; /* the connection, or the server going away */
	if (strncmp(state, "XX", 2) == 0)
		return EUCLEAN;
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
	    strncmp(state, "42", 2) == 0)
		return EINVAL;
	return EIO;
}

/* The server's or libpq's message, its first line. */
static void
first_line(char *buf, size_t len, const char *msg)
{
	size_t n;

	if (msg == NULL || msg[0] == '\0')
		msg = "no answer from the server";
	if (strncmp(msg, "ERROR:  ", 8) == 0 || strncmp(msg, "FATAL:  ", 8) == 0)
		msg += 8;
	n = strcspn(msg, "\n");
	if (n >= len)
		n = len - 1;
	memcpy(buf, msg, n);
	buf[n] = '\0';
}

/* -1 with errno and "WHERE: WHAT: the server's words" in err; r is cleared. */
static int
pg_fail(struct st_pg *s, PGresult *r, const char *what, char *err, size_t errlen)
{
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char msg[300];
	int e = pg_errno(state);

	first_line(msg, sizeof(msg),
	    r != NULL && PQresultErrorMessage(r)[0] != '\0' ? PQresultErrorMessage(r)
	                                                    : PQerrorMessage(s->c));
	if (e == ENOSPC)
		snprintf(err, errlen, "%s: %s: the database's disk is full: free some space",
		    s->base.where, what);
	else if (e == ECONNRESET || PQstatus(s->c) != CONNECTION_OK)
		snprintf(err, errlen, "%s: %s: the connection to the database was lost (%s)",
		    s->base.where, what, msg);
	else
		snprintf(err, errlen, "%s: %s: %s", s->base.where, what, msg);
	if (PQstatus(s->c) != CONNECTION_OK)
		e = ECONNRESET;
	PQclear(r);
	errno = e;
	return -1;
}

/* Run prepared statement k; its result (binary), or NULL with err (r cleared). */
static PGresult *
run(struct st_pg *s, enum pg_stmt k, const struct params *p, ExecStatusType want, char *err,
    size_t errlen)
{
	char name[16];
	PGresult *r;

	snprintf(name, sizeof(name), "q%d", (int)k);
	r = PQexecPrepared(s->c, name, p != NULL ? p->n : 0, p != NULL ? p->v : NULL,
	    p != NULL ? p->len : NULL, p != NULL ? p->fmt : NULL, 1);
	if (r == NULL || PQresultStatus(r) != want) {
		pg_fail(s, r, sql_text[k], err, errlen);
		return NULL;
	}
	return r;
}

/* Rows changed by k, or -1. */
static int64_t
run_cmd(struct st_pg *s, enum pg_stmt k, const struct params *p, char *err, size_t errlen)
{
	PGresult *r = run(s, k, p, PGRES_COMMAND_OK, err, errlen);
	int64_t n;

	if (r == NULL)
		return -1;
	n = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return n;
}

/* A plain command, no parameters: 0, or -1 with err. */
static int
simple(struct st_pg *s, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *r = PQexec(s->c, sql);

	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
		return pg_fail(s, r, what, err, errlen);
	PQclear(r);
	return 0;
}

static int64_t
col_i64(const PGresult *r, int row, int col)
{
	const char *v = PQgetvalue(r, row, col);
	uint64_t x;
	uint32_t y;

	if (PQgetisnull(r, row, col))
		return 0;
	switch (PQgetlength(r, row, col)) {
	case 8:
		memcpy(&x, v, 8);
		return (int64_t)be64toh(x);
	case 4:
		memcpy(&y, v, 4);
		return (int32_t)be32toh(y);
	default:
		return 0;
	}
}

static uint64_t
col_u64(const PGresult *r, int row, int col)
{
	int64_t v = col_i64(r, row, col);

	return v < 0 ? 0 : (uint64_t)v;
}

static uint32_t
col_u32(const PGresult *r, int row, int col)
{
	int64_t v = col_i64(r, row, col);

	return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static int32_t
col_i32(const PGresult *r, int row, int col)
{
	int64_t v = col_i64(r, row, col);

	return v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : (int32_t)v;
}

static const char *
col_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* Row i of a COLS result into t; its pointers are r's until it is cleared. */
static void
read_row(const PGresult *r, int i, struct dcf_store_task *t)
{
	int c = 0;

	memset(t, 0, sizeof(*t));
	t->id = col_u64(r, i, c++);
	t->state = col_u32(r, i, c++);
	t->prio = col_i32(r, i, c++);
	t->timeout_ms = col_u32(r, i, c++);
	t->retries = col_u32(r, i, c++);
	t->attempts = col_u32(r, i, c++);
	t->tries = col_u32(r, i, c++);
	t->runs = col_u32(r, i, c++);
	t->submitted_ns = col_u64(r, i, c++);
	t->started_ns = col_u64(r, i, c++);
	t->ended_ns = col_u64(r, i, c++);
	t->pid = col_i32(r, i, c++);
	t->pid_start = col_u64(r, i, c++);
	t->net = col_u32(r, i, c++);
	t->node = col_u32(r, i, c++);
	t->out.how = col_u32(r, i, c++);
	t->out.exit_code = col_i32(r, i, c++);
	t->out.term_sig = col_u32(r, i, c++);
	t->out.exec_errno = col_u32(r, i, c++);
	t->out.start_wall_ns = col_u64(r, i, c++);
	t->out.run_ns = col_u64(r, i, c++);
	t->out.cpu_us = col_u64(r, i, c++);
	t->out.maxrss_kb = col_u64(r, i, c++);
	t->out.out_bytes = col_u64(r, i, c++);
	t->out.err_bytes = col_u64(r, i, c++);
	t->pin = col_u32(r, i, c++);
	t->not_before_ns = col_u64(r, i, c++);
	t->waits = col_u32(r, i, c++);
	t->after_any = col_u32(r, i, c++);
	t->cause = col_u64(r, i, c++);
	t->after_ids = col_text(r, i, c++);
	t->key = col_text(r, i, c++);
	t->cmd = PQgetvalue(r, i, c);
	t->cmd_len = (uint32_t)PQgetlength(r, i, c++);
	t->cwd = col_text(r, i, c++);
	t->claim = col_u64(r, i, c++);
	t->owner = col_text(r, i, c++);
	t->pin_host = col_text(r, i, c++);
	t->lease_live = (uint32_t)col_i64(r, i, c++);
}

/* Run a COLS query into fn. Rows read, or -1. */
static int64_t
each_row(struct st_pg *s, enum pg_stmt k, const struct params *p, dcf_store_each_fn fn, void *arg,
    char *err, size_t errlen)
{
	PGresult *r = run(s, k, p, PGRES_TUPLES_OK, err, errlen);
	int n;

	if (r == NULL)
		return -1;
	n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		struct dcf_store_task t;

		read_row(r, i, &t);
		if (fn != NULL && fn(arg, &t) != 0)
			break;
	}
	PQclear(r);
	return n;
}

/* One bigint from a query of one row (0 if no row or NULL), or -1. */
static int
one_i64(struct st_pg *s, enum pg_stmt k, const struct params *p, int64_t *v, char *err,
    size_t errlen)
{
	PGresult *r = run(s, k, p, PGRES_TUPLES_OK, err, errlen);

	if (r == NULL)
		return -1;
	*v = PQntuples(r) > 0 ? col_i64(r, 0, 0) : 0;
	PQclear(r);
	return 0;
}

/* --- writes ------------------------------------------------------------ */

/* Task id's state: 0 (*state set), 1 not stored, -1 the store failed. */
static int
state_as(struct st_pg *s, enum pg_stmt k, uint64_t id, uint32_t *state, char *err, size_t errlen)
{
	struct params p = {0};
	PGresult *r;
	int found;

	p_u64(&p, id);
	if ((r = run(s, k, &p, PGRES_TUPLES_OK, err, errlen)) == NULL)
		return -1;
	if ((found = PQntuples(r) > 0))
		*state = col_u32(r, 0, 0);
	PQclear(r);
	return found ? 0 : 1;
}

static int
state_of(struct st_pg *s, uint64_t id, uint32_t *state, char *err, size_t errlen)
{
	return state_as(s, Q_STATE_OF, id, state, err, errlen);
}

/* A dependency's state, held so till the commit when several hosts write. */
static int
dep_state(struct st_pg *s, uint64_t id, uint32_t *state, char *err, size_t errlen)
{
	return state_as(s, s->owner[0] != '\0' ? Q_STATE_LOCK : Q_STATE_OF, id, state, err, errlen);
}

/* As store_sqlite.c's: every dependency stored, how many to wait for, the first that failed. */
/* A dependency's state, for dcf_store_deps_check. */
static int
dep_state_cb(void *arg, uint64_t id, uint32_t *state, char *err, size_t errlen)
{
	return dep_state(arg, id, state, err, errlen);
}

static int
deps_check(struct st_pg *s, struct dcf_store_new *a, char *err, size_t errlen)
{
	/* One writer gives ids in order; several reserve theirs, each in order. */
	return dcf_store_deps_check(a, s->owner[0] == '\0', dep_state_cb, s, err, errlen);
}

static int
deps_add(struct st_pg *s, const struct dcf_store_task *t, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < t->ndeps; i++) {
		struct params p = {0};
		uint32_t st = 0;
		int rc = state_of(s, t->deps[i], &st, err, errlen);
		int64_t n;

		if (rc == -1)
			return -1;
		if (rc == 1 || dcf_store_state_final(st))
			continue;
		p_u64(&p, t->deps[i]);
		p_u64(&p, t->id);
		if ((n = run_cmd(s, Q_DEP_ADD, &p, err, errlen)) == -1)
			return -1;
		s->ndep += n;
	}
	return 0;
}

/* The id that holds key, or 0; -1 the store failed. */
static int
key_holder(struct st_pg *s, const char *key, uint64_t *id, char *err, size_t errlen)
{
	struct params p = {0};
	int64_t v;

	p_text(&p, key);
	if (one_i64(s, Q_KEY_ID, &p, &v, err, errlen) == -1)
		return -1;
	*id = v > 0 ? (uint64_t)v : 0;
	return 0;
}

static int
add_params(struct st_pg *s, struct dcf_store_new *a, struct params *pp, char **afterp, char *err,
    size_t errlen)
{
	struct dcf_store_task *t = &a->t;
	char *after = NULL;
	int rc;

	*afterp = NULL;
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
	*afterp = after;
	memset(pp, 0, sizeof(*pp));
	p_u64(pp, t->id);
	if (t->key != NULL)
		p_text(pp, t->key);
	else
		p_bytes(pp, NULL, 0);
	p_i64(pp, t->prio);
	p_i64(pp, t->timeout_ms);
	p_i64(pp, t->retries);
	p_u64(pp, t->submitted_ns);
	p_bytes(pp, t->cmd_len > 0 ? t->cmd : "", t->cmd_len);
	if (t->cwd != NULL)
		p_text(pp, t->cwd);
	else
		p_bytes(pp, NULL, 0);
	p_i64(pp, t->pin);
	p_u64(pp, t->not_before_ns);
	p_i64(pp, t->state);
	p_i64(pp, t->waits);
	p_i64(pp, t->after_any != 0);
	if (after != NULL)
		p_text(pp, after);
	else
		p_bytes(pp, NULL, 0);
	p_u64(pp, t->cause);
	p_u64(pp, t->cause != 0 ? t->submitted_ns : 0);
	if (t->pin_host != NULL)
		p_text(pp, t->pin_host);
	else
		p_bytes(pp, NULL, 0);
	return 1;
}

/* After its INSERT changed n rows: added, or its key's holder found. */
static int
add_done(struct st_pg *s, struct dcf_store_new *a, int64_t n, char *err, size_t errlen)
{
	struct dcf_store_task *t = &a->t;

	if (n == 1) {
		if (t->id > s->max_id)
			s->max_id = t->id;
		if (t->waits == 0 && t->state == DCF_SS_QUEUED)
			s->notify = 1;
		return t->waits > 0 ? deps_add(s, t, err, errlen) : 0;
	}
	/* Not added: its key is taken (ON CONFLICT). */
	if (t->key != NULL && key_holder(s, t->key, &a->dup_of, err, errlen) == -1)
		return -1;
	if (a->dup_of != 0)
		return 0;
	snprintf(err, errlen, "%s: task %" PRIu64 " is stored already", s->base.where, t->id);
	errno = EEXIST;
	return -1;
}

/* The id's unique index said no: the caller gave an id twice. */
static int
add_failed(struct st_pg *s, const struct dcf_store_new *a, char *err, size_t errlen)
{
	if (errno == EEXIST)
		snprintf(err, errlen, "%s: task %" PRIu64 " is stored already", s->base.where,
		    a->t.id);
	return -1;
}

static int
add_one(struct st_pg *s, struct dcf_store_new *a, char *err, size_t errlen)
{
	struct params p;
	char *after;
	int64_t n;
	int rc;

	if ((rc = add_params(s, a, &p, &after, err, errlen)) != 1)
		return rc;
	n = run_cmd(s, Q_INSERT, &p, err, errlen);
	free(after);
	if (n == -1)
		return add_failed(s, a, err, errlen);
	return add_done(s, a, n, err, errlen);
}

static int
meta_set(struct st_pg *s, const char *k, const char *v, char *err, size_t errlen)
{
	struct params p = {0};

	p_text(&p, k);
	p_text(&p, v);
	return run_cmd(s, Q_META_SET, &p, err, errlen) == -1 ? -1 : 0;
}

/* meta k into buf ("" if absent). */
static int
meta_get(struct st_pg *s, const char *k, char *buf, size_t len, char *err, size_t errlen)
{
	struct params p = {0};
	PGresult *r;

	p_text(&p, k);
	if ((r = run(s, Q_META_GET, &p, PGRES_TUPLES_OK, err, errlen)) == NULL)
		return -1;
	snprintf(buf, len, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return 0;
}

static int reconnect(struct st_pg *s, char *err, size_t errlen);
static int add_params(struct st_pg *s, struct dcf_store_new *a, struct params *pp, char **afterp,
    char *err, size_t errlen);
static int add_done(struct st_pg *s, struct dcf_store_new *a, int64_t n, char *err, size_t errlen);
static int upd_params(struct st_pg *s, const struct dcf_store_upd *u, enum pg_stmt *kp,
    struct params *pp, char *err, size_t errlen);
static int upd_done(struct st_pg *s, struct dcf_store_batch *b, const struct dcf_store_upd *u,
    int64_t n, char *err, size_t errlen);
static int next_ms(struct st_pg *s, struct dcf_store_batch *b, char *err, size_t errlen);

/* This writer's last commit number, as the store has it. */
static int
seq_get(struct st_pg *s, int64_t *seq, char *err, size_t errlen)
{
	struct params p = {0};

	if (s->owner[0] != '\0')
		p_text(&p, s->owner);
	else
		p_bytes(&p, NULL, 0);
	return one_i64(s, Q_SEQ_GET, &p, seq, err, errlen);
}
static int ready(struct st_pg *s, char *err, size_t errlen);
static int again(struct st_pg *s, int tried, char *err, size_t errlen);

static int
control_set(struct st_pg *s, const struct dcf_store_ctl *c, char *err, size_t errlen)
{
	char hex[sizeof(c->paused) * 2 + 1];

	dcf_store_paused_hex(c, hex, sizeof(hex));
	if (meta_set(s, "paused", hex, err, errlen) == -1)
		return -1;
	return meta_set(s, "draining", c->draining ? "1" : "0", err, errlen);
}

static int
pg_control(struct dcf_store *st, struct dcf_store_ctl *c, char *err, size_t errlen)
{
	struct st_pg *s = (struct st_pg *)st;
	char v[sizeof(c->paused) * 2 + 1];

	memset(c, 0, sizeof(*c));
	if (ready(s, err, errlen) == -1)
		return -1;
	for (int tried = 0; meta_get(s, "paused", v, sizeof(v), err, errlen) == -1; tried++)
		if (!again(s, tried, err, errlen))
			return -1;
	dcf_store_paused_parse(c, v);
	if (meta_get(s, "draining", v, sizeof(v), err, errlen) == -1)
		return -1;
	c->draining = v[0] == '1';
	return 0;
}

static int
wl_push(struct st_pg *s, uint64_t id)
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

/* As store_sqlite.c's: those waiting for id wake, or fail, in this transaction. */
static int
deps_resolve(struct st_pg *s, struct dcf_store_batch *b, uint64_t id, int ok, uint64_t ended_ns,
    char *err, size_t errlen)
{
	if (s->ndep <= 0)
		return 0;
	s->nwl = 0;
	if (wl_push(s, id) == -1)
		goto nomem;
	for (uint32_t done = 0; done < s->nwl;) {
		struct params p = {0};
		uint64_t on = s->wl[done++];
		uint32_t first = s->nwl;
		PGresult *r;
		int64_t n;

		p_u64(&p, on);
		if ((r = run(s, Q_DEPS_OF, &p, PGRES_TUPLES_OK, err, errlen)) == NULL)
			return -1;
		for (int i = 0; i < PQntuples(r); i++)
			if (wl_push(s, col_u64(r, i, 0) | (col_i64(r, i, 1) ? 1ULL << 63 : 0)) ==
			    -1) {
				PQclear(r);
				goto nomem;
			}
		PQclear(r);
		if ((n = run_cmd(s, Q_DEP_DEL, &p, err, errlen)) == -1)
			return -1;
		s->ndep -= n;
		for (uint32_t i = first; i < s->nwl;) {
			uint64_t d = s->wl[i] & ~(1ULL << 63);
			struct dcf_store_task w;
			struct params q = {0};

			memset(&w, 0, sizeof(w));
			w.id = d;
			p_u64(&q, d);
			if ((done == 1 && ok) || (s->wl[i] >> 63)) {
				if ((r = run(s, Q_WAKE, &q, PGRES_TUPLES_OK, err, errlen)) == NULL)
					return -1;
				n = PQntuples(r);
				if (n > 0) {
					w.waits = col_u32(r, 0, 0);
					w.prio = col_i32(r, 0, 1);
					w.pin = col_u32(r, 0, 2);
					w.not_before_ns = col_u64(r, 0, 3);
				}
				PQclear(r);
				if (n == 1 && w.waits == 0)
					s->notify = 1;
				if (n == 1 && w.waits == 0 && b->woke != NULL &&
				    b->woke(b->woke_arg, &w) != 0)
					goto nomem;
				s->wl[i] = s->wl[--s->nwl];
				continue;
			}
			p_u64(&q, on);
			p_u64(&q, ended_ns);
			if ((n = run_cmd(s, Q_DEP_FAIL, &q, err, errlen)) == -1)
				return -1;
			if (n != 1) {
				s->wl[i] = s->wl[--s->nwl];
				continue;
			}
			w.state = DCF_SS_DEP_FAILED;
			w.cause = on;
			if (b->woke != NULL && b->woke(b->woke_arg, &w) != 0)
				goto nomem;
			s->wl[i++] = d;
		}
	}
	return 0;
nomem:
	snprintf(err, errlen, "%s: waking the tasks that wait for task %" PRIu64 ": out of memory",
	    s->base.where, id);
	errno = ENOMEM;
	return -1;
}

/*
 * A change's statement and parameters (p, in place): 1 ready, 0 done here
 * (the control state), -1.
 */
static int
upd_params(struct st_pg *s, const struct dcf_store_upd *u, enum pg_stmt *kp, struct params *pp,
    char *err, size_t errlen)
{
	const struct dcf_store_task *t = &u->t;
	struct params *p = pp;
	enum pg_stmt k;

	memset(pp, 0, sizeof(*pp));
	p_u64(p, t->id);
	switch (u->kind) {
	case DCF_SU_CONTROL:
		return control_set(s, &u->ctl, err, errlen) == -1 ? -1 : 0;
	case DCF_SU_STARTED:
		k = Q_STARTED;
		p_i64(p, t->runs);
		p_u64(p, t->started_ns);
		p_i64(p, t->pid);
		p_u64(p, t->pid_start);
		p_i64(p, t->net);
		p_i64(p, t->node);
		break;
	case DCF_SU_REQUEUED:
		k = Q_REQUEUED;
		p_i64(p, t->attempts);
		p_i64(p, t->tries);
		break;
	case DCF_SU_ENDED:
		if (!dcf_store_state_final(t->state))
			goto bad;
		k = Q_ENDED;
		p_i64(p, t->state);
		p_i64(p, t->attempts);
		p_i64(p, t->tries);
		p_i64(p, t->runs);
		p_u64(p, t->ended_ns);
		p_i64(p, t->out.how);
		p_i64(p, t->out.exit_code);
		p_i64(p, t->out.term_sig);
		p_i64(p, t->out.exec_errno);
		p_u64(p, t->out.start_wall_ns);
		p_u64(p, t->out.run_ns);
		p_u64(p, t->out.cpu_us);
		p_u64(p, t->out.maxrss_kb);
		p_u64(p, t->out.out_bytes);
		p_u64(p, t->out.err_bytes);
		break;
	case DCF_SU_PRIO:
		k = Q_PRIO;
		p_i64(p, t->prio);
		break;
	case DCF_SU_DUE:
		k = Q_DUE;
		break;
	case DCF_SU_ASK:
		if (s->owner[0] == '\0')
			goto bad;
		k = Q_ASK;
		p_i64(p, u->ask_op);
		p_i64(p, u->ask_val);
		p_text(p, s->owner);
		break;
	default:
		goto bad;
	}
	if (k == Q_STARTED || k == Q_REQUEUED || k == Q_ENDED) {
		if (s->owner[0] != '\0')
			p_text(p, s->owner);
		else
			p_bytes(p, NULL, 0);
		p_u64(p, t->claim);
	}
	*kp = k;
	return 1;
bad:
	snprintf(err, errlen, "%s: task %" PRIu64 ": bad change (kind %u, state %u)", s->base.where,
	    t->id, u->kind, t->state);
	errno = EINVAL;
	return -1;
}

/* After a change's statement changed n rows: what follows from it. */
static int
upd_done(struct st_pg *s, struct dcf_store_batch *b, const struct dcf_store_upd *u, int64_t n,
    char *err, size_t errlen)
{
	const struct dcf_store_task *t = &u->t;
	int fenced =
	    u->kind == DCF_SU_STARTED || u->kind == DCF_SU_REQUEUED || u->kind == DCF_SU_ENDED;
	uint32_t st;
	int rc;

	if (n == 1 && u->kind == DCF_SU_ENDED)
		s->ended = 1;
	if (u->kind == DCF_SU_ASK) {
		/* None but this host, or nobody, holds it now (or it ended): not asked. */
		if (n == 1)
			s->asked = 1;
		else if (b->refused != NULL && b->refused(b->refused_arg, t) != 0)
			goto nomem;
		return 0;
	}
	if (n == 1)
		return u->kind == DCF_SU_ENDED
		    ? deps_resolve(s, b, t->id, t->state == DCF_SS_DONE, t->ended_ns, err, errlen)
		    : 0;
	/* Nothing changed: fine if it is finished (it finishes once), an error if absent. */
	if ((rc = state_of(s, t->id, &st, err, errlen)) == -1)
		return -1;
	/*
	 * Several hosts: this host does not hold it by that claim (any more):
	 * another claimed it after this one's lease ended, or has ended it.
	 */
	if (rc == 0 && fenced && s->owner[0] != '\0' && b->refused != NULL &&
	    b->refused(b->refused_arg, t) != 0)
		goto nomem;
	if (rc == 0)
		return 0;
	snprintf(err, errlen, "%s: task %" PRIu64 " is not stored", s->base.where, t->id);
	errno = EINVAL;
	return -1;
nomem:
	snprintf(err, errlen, "%s: task %" PRIu64 ": out of memory", s->base.where, t->id);
	errno = ENOMEM;
	return -1;
}

/*
 * The lost commit (s->unsure) was applied after all: what the caller is
 * owed, read back. 1 it was (b's results filled), 0 it was not, -1.
 */
static int
replay_applied(struct st_pg *s, struct dcf_store_batch *b, char *err, size_t errlen)
{
	int64_t seq;

	if (seq_get(s, &seq, err, errlen) == -1)
		return -1;
	if ((uint64_t)seq != s->seq + 1)
		return 0;
	for (uint32_t i = 0; i < b->nadd; i++) {
		struct dcf_store_new *a = &b->add[i];
		struct dcf_store_task *t = &a->t;
		uint32_t st = 0;
		int rc;

		a->dup_of = 0;
		a->bad_dep = 0;
		if (t->key != NULL) {
			if (key_holder(s, t->key, &a->dup_of, err, errlen) == -1)
				return -1;
			if (a->dup_of == t->id)
				a->dup_of = 0;
		}
		if (a->dup_of != 0)
			continue;
		if ((rc = state_of(s, t->id, &st, err, errlen)) == -1)
			return -1;
		if (rc == 1) { /* not added: one of its dependencies was not stored */
			a->bad_dep = t->ndeps > 0 ? t->deps[0] : t->id;
			for (uint32_t j = 0; j < t->ndeps; j++)
				if (state_of(s, t->deps[j], &st, err, errlen) == 1) {
					a->bad_dep = t->deps[j];
					break;
				}
			continue;
		}
		t->state = st;
		if (t->id > s->max_id)
			s->max_id = t->id;
	}
	if (s->owner[0] != '\0' && b->claim > 0) {
		struct params p = {0};

		p_text(&p, s->owner);
		p_u64(&p, s->seq + 1);
		if (each_row(s, Q_CLAIMED, &p, b->claimed, b->claimed_arg, err, errlen) == -1 ||
		    next_ms(s, b, err, errlen) == -1)
			return -1;
	}
	s->seq++;
	s->unsure = 0;
	return 1;
}

#define PIPE_CHUNK 256

/*
 * The batch's new tasks (adds) or changes, a pipeline of up to PIPE_CHUNK
 * statements at a time: one round trip for each chunk, not each statement
 * (libpq's pipeline mode; a chunk's answers are small, so neither side
 * waits on a full socket). What follows from each answer (a key's holder,
 * a fence refused, those waiting for a task that ended) is looked up after
 * its chunk, in order. Adds with --after are not piped: each needs the
 * states of what it waits for first.
 */
static int
piped(struct st_pg *s, struct dcf_store_batch *b, int adds, char *err, size_t errlen)
{
	uint32_t total = adds ? b->nadd : b->nupd, idx[PIPE_CHUNK];
	enum pg_stmt ks[PIPE_CHUNK];
	int64_t n[PIPE_CHUNK];
	struct params *p;
	int rc = 0;

	if ((p = malloc(PIPE_CHUNK * sizeof(*p))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", s->base.where);
		errno = ENOMEM;
		return -1;
	}
	for (uint32_t at = 0; at < total && rc == 0;) {
		PGresult *bad = NULL, *r;
		uint32_t m = 0, badi = 0;
		int sent = 1;

		/* The chunk's statements, made before anything is sent. */
		for (; at < total && m < PIPE_CHUNK; at++) {
			char *after = NULL;
			int k = adds ? add_params(s, &b->add[at], &p[m], &after, err, errlen)
			             : upd_params(s, &b->upd[at], &ks[m], &p[m], err, errlen);

			free(after);
			if (k == -1) {
				free(p);
				return -1;
			}
			if (k == 1) {
				if (adds)
					ks[m] = Q_INSERT;
				idx[m++] = at;
			}
		}
		if (m == 0)
			continue;
		if (PQenterPipelineMode(s->c) != 1) {
			rc = pg_fail(s, NULL, "entering pipeline mode", err, errlen);
			break;
		}
		for (uint32_t i = 0; i < m && sent; i++) {
			char name[16];

			snprintf(name, sizeof(name), "q%d", (int)ks[i]);
			sent =
			    PQsendQueryPrepared(s->c, name, p[i].n, p[i].v, p[i].len, p[i].fmt, 1);
		}
		if (!sent || PQpipelineSync(s->c) != 1) {
			rc = pg_fail(s, NULL, "sending a pipeline", err, errlen);
			break; /* the connection is gone: nothing more to read */
		}
		for (uint32_t i = 0; i < m; i++) {
			n[i] = 0;
			if ((r = PQgetResult(s->c)) == NULL) {
				rc = pg_fail(s, NULL, "reading a pipeline's answers", err, errlen);
				break;
			}
			if (PQresultStatus(r) == PGRES_COMMAND_OK) {
				n[i] = strtoll(PQcmdTuples(r), NULL, 10);
				PQclear(r);
			} else if (bad == NULL && PQresultStatus(r) != PGRES_PIPELINE_ABORTED) {
				bad = r;
				badi = i;
			} else {
				PQclear(r);
			}
			while ((r = PQgetResult(s->c)) != NULL) /* this statement's end */
				PQclear(r);
		}
		if (rc == 0) {
			r = PQgetResult(s->c);
			if (r == NULL || PQresultStatus(r) != PGRES_PIPELINE_SYNC)
				rc = pg_fail(s, r, "reading a pipeline's end", err, errlen);
			else
				PQclear(r);
		}
		if (rc == 0 && PQexitPipelineMode(s->c) != 1)
			rc = pg_fail(s, NULL, "leaving pipeline mode", err, errlen);
		if (bad != NULL) {
			pg_fail(s, bad, adds ? "adding a task" : "updating a task", err, errlen);
			if (adds)
				add_failed(s, &b->add[idx[badi]], err, errlen);
			rc = -1;
		}
		for (uint32_t i = 0; i < m && rc == 0; i++)
			rc = adds ? add_done(s, &b->add[idx[i]], n[i], err, errlen)
			          : upd_done(s, b, &b->upd[idx[i]], n[i], err, errlen);
	}
	free(p);
	return rc;
}

/* Ids for the new tasks that have none (several hosts), from the sequence, in order. */
static int
reserve_ids(struct st_pg *s, struct dcf_store_batch *b, char *err, size_t errlen)
{
	struct params p = {0};
	uint32_t want = 0, k = 0;
	PGresult *r;

	for (uint32_t i = 0; i < b->nadd; i++)
		want += b->add[i].t.id == 0;
	if (want == 0)
		return 0;
	p_i64(&p, want);
	for (int tried = 0; (r = run(s, Q_IDS, &p, PGRES_TUPLES_OK, err, errlen)) == NULL; tried++)
		if (!again(s, tried, err, errlen))
			return -1;
	for (uint32_t i = 0; i < b->nadd && k < (uint32_t)PQntuples(r); i++)
		if (b->add[i].t.id == 0)
			b->add[i].t.id = col_u64(r, (int)k++, 0);
	PQclear(r);
	return 0;
}

/* b->next_ms: when a task not claimable now may become so. */
static int
next_ms(struct st_pg *s, struct dcf_store_batch *b, char *err, size_t errlen)
{
	struct params p = {0};
	PGresult *r;

	p_text(&p, s->owner);
	p_i64(&p, b->claim_pins);
	if ((r = run(s, Q_NEXT, &p, PGRES_TUPLES_OK, err, errlen)) == NULL)
		return -1;
	b->next_ms = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? col_i64(r, 0, 0) : -1;
	if (b->next_ms < -1)
		b->next_ms = 0; /* a lease that ended since the claim */
	PQclear(r);
	return 0;
}

static int
pg_commit(struct dcf_store *st, struct dcf_store_batch *b, char *err, size_t errlen)
{
	struct st_pg *s = (struct st_pg *)st;
	uint64_t max0 = s->max_id;
	int64_t ndep0 = s->ndep, n = 0;
	int shared = s->owner[0] != '\0';
	PGresult *r, *claimed = NULL, *asks = NULL;
	struct params p = {0};
	uint32_t deps = 0;
	int e, rc;

	if (st->readonly) {
		snprintf(err, errlen, "%s: opened read-only", st->where);
		errno = EROFS;
		return -1;
	}
	b->renewed = 0;
	b->next_ms = -1;
	if (!shared)
		b->claim = b->renew = b->release = 0;
	if (!shared)
		b->reset = 0;
	if (!shared)
		b->asks = 0;
	if (b->nadd == 0 && b->nupd == 0 && b->claim == 0 && !b->renew && !b->release &&
	    !b->reset && !b->asks)
		return 0;
	s->notify = s->ended = s->asked = 0;
	if (PQstatus(s->c) != CONNECTION_OK && reconnect(s, err, errlen) == -1)
		return -1;
	if (shared && reserve_ids(s, b, err, errlen) == -1)
		return -1;
	if (s->unsure && (rc = replay_applied(s, b, err, errlen)) != 0)
		return rc == 1 ? 0 : -1;
	/* A connection that died since the last commit (a restarted server): one new one. */
	if (simple(s, "BEGIN", "starting a transaction", err, errlen) == -1 &&
	    (errno != ECONNRESET || reconnect(s, err, errlen) == -1 ||
	        simple(s, "BEGIN", "starting a transaction", err, errlen) == -1))
		return -1;
	for (uint32_t i = 0; i < b->nadd; i++)
		deps += b->add[i].t.ndeps > 0;
	/*
	 * Another host may have added what waits for a task this commit ends:
	 * the count kept here is this writer's alone, so the table is asked.
	 */
	if (shared && b->nupd > 0 && one_i64(s, Q_DEP_COUNT, NULL, &s->ndep, err, errlen) == -1)
		goto fail;
	if (deps == 0 && piped(s, b, 1, err, errlen) == -1)
		goto fail;
	for (uint32_t i = 0; deps > 0 && i < b->nadd; i++)
		if (add_one(s, &b->add[i], err, errlen) == -1)
			goto fail;
	if (piped(s, b, 0, err, errlen) == -1)
		goto fail;
	if (!shared && s->max_id != max0) {
		p_u64(&p, s->max_id);
		if (run_cmd(s, Q_MAX_ID_SET, &p, err, errlen) == -1)
			goto fail;
		if ((r = run(s, Q_SEQ_SYNC, &p, PGRES_TUPLES_OK, err, errlen)) == NULL)
			goto fail;
		PQclear(r);
	}
	p.n = 0;
	p_text(&p, s->owner);
	if (b->reset && run_cmd(s, Q_RESET, &p, err, errlen) == -1)
		goto fail;
	if (b->reset)
		s->notify = 1;
	if (b->release && run_cmd(s, Q_RELEASE, &p, err, errlen) == -1)
		goto fail;
	p_i64(&p, s->lease_ms);
	if (b->renew && (n = run_cmd(s, Q_RENEW, &p, err, errlen)) == -1)
		goto fail;
	if (b->renew)
		b->renewed = (uint64_t)n;
	if (b->claim > 0) {
		p_i64(&p, b->claim);
		p_u64(&p, s->seq + 1);
		p_i64(&p, b->claim_pins);
		if ((claimed = run(s, Q_CLAIM, &p, PGRES_TUPLES_OK, err, errlen)) == NULL ||
		    next_ms(s, b, err, errlen) == -1)
			goto fail;
	}
	if (shared && s->notify) {
		if ((r = run(s, Q_NOTIFY, NULL, PGRES_TUPLES_OK, err, errlen)) == NULL)
			goto fail;
		PQclear(r);
	}
	if (shared && s->ended) {
		if ((r = run(s, Q_NOTIFY_ENDED, NULL, PGRES_TUPLES_OK, err, errlen)) == NULL)
			goto fail;
		PQclear(r);
	}
	if (shared && s->asked) {
		if ((r = run(s, Q_NOTIFY_ASK, NULL, PGRES_TUPLES_OK, err, errlen)) == NULL)
			goto fail;
		PQclear(r);
	}
	p.n = 0;
	p_text(&p, s->owner);
	if (b->asks && (asks = run(s, Q_ASKS, &p, PGRES_TUPLES_OK, err, errlen)) == NULL)
		goto fail;
	p.n = 0;
	if (shared)
		p_text(&p, s->owner);
	else
		p_bytes(&p, NULL, 0);
	p_u64(&p, s->seq + 1);
	if (run_cmd(s, Q_SEQ_SET, &p, err, errlen) == -1)
		goto fail;
	DCF_INJECT(DCF_OP_STORE, DCF_STEP_STORE_WRITTEN);
	/* From here, a lost connection leaves it unknown whether the commit was applied. */
	r = PQexec(s->c, "COMMIT");
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		if (PQstatus(s->c) != CONNECTION_OK)
			s->unsure = 1;
		pg_fail(s, r, "committing", err, errlen);
		goto undone;
	}
	PQclear(r);
#ifdef DCF_INJECT_ENABLE
	if (dcf_store_pg_lose_answers > 0) {
		dcf_store_pg_lose_answers--;
		PQfinish(s->c);
		s->c = NULL;
		s->unsure = 1;
		snprintf(err, errlen,
		    "%s: committing: the connection to the database was lost "
		    "(a test lost the answer)",
		    st->where);
		errno = ECONNRESET;
		goto undone;
	}
#endif
	s->seq++;
	/*
	 * Claimed once committed: a claim undone is not told. One the caller
	 * could not take (out of memory) is let go at once, not held unseen.
	 */
	for (int i = 0, taken = 1; claimed != NULL && i < PQntuples(claimed); i++) {
		struct dcf_store_task t;

		read_row(claimed, i, &t);
		if (taken && b->claimed != NULL && b->claimed(b->claimed_arg, &t) != 0)
			taken = 0;
		if (!taken) {
			p.n = 0;
			p_u64(&p, t.id);
			p_text(&p, s->owner);
			p_u64(&p, t.claim);
			/* If this fails too, it is held unseen until this host's stop lets it go. */
			(void)run_cmd(s, Q_UNCLAIM, &p, err, errlen);
		}
	}
	PQclear(claimed);
	/* Taken once committed: one not told (a lost answer, a crash) is dropped, as asked. */
	for (int i = 0; asks != NULL && b->asked != NULL && i < PQntuples(asks); i++)
		if (b->asked(b->asked_arg, col_u64(asks, i, 0), (uint32_t)col_i64(asks, i, 1),
		        col_i64(asks, i, 2)) != 0)
			break;
	PQclear(asks);
	return 0;
fail:
	e = errno;
	if (PQstatus(s->c) == CONNECTION_OK)
		PQclear(PQexec(s->c, "ROLLBACK"));
	errno = e;
undone:
	PQclear(claimed);
	PQclear(asks);
	s->max_id = max0;
	s->ndep = ndep0;
	return -1;
}

/* --- reads ------------------------------------------------------------- */

/*
 * Before a read: a connection known lost is made again. After a read that
 * failed: 1 if the connection was lost and a new one made (read again,
 * once), else 0.
 */
static int
ready(struct st_pg *s, char *err, size_t errlen)
{
	return PQstatus(s->c) == CONNECTION_OK ? 0 : reconnect(s, err, errlen);
}

static int
again(struct st_pg *s, int tried, char *err, size_t errlen)
{
	int e = errno;

	if (tried || e != ECONNRESET)
		return 0;
	if (reconnect(s, err, errlen) == -1) {
		errno = e;
		return 0;
	}
	return 1;
}

static int
pg_unfinished(struct dcf_store *st, int32_t prio, uint64_t after, uint32_t max,
    dcf_store_each_fn fn, void *arg, char *err, size_t errlen)
{
	struct st_pg *s = (struct st_pg *)st;
	enum pg_stmt k = prio == DCF_STORE_ANY_PRIO ? Q_UNFINISHED
	    : prio == DCF_STORE_DELAYED             ? Q_DELAYED
	                                            : Q_UNFINISHED_PRIO;
	struct params p = {0};

	if (ready(s, err, errlen) == -1)
		return -1;
	p_u64(&p, after);
	p_i64(&p, max);
	if (k == Q_UNFINISHED_PRIO)
		p_i64(&p, prio);
	for (int tried = 0;; tried++)
		if (each_row(s, k, &p, fn, arg, err, errlen) != -1)
			return 0;
		else if (!again(s, tried, err, errlen))
			return -1;
}

static int
pg_list(struct dcf_store *st, int state, uint64_t after, uint32_t max, dcf_store_each_fn fn,
    void *arg, char *err, size_t errlen)
{
	struct st_pg *s = (struct st_pg *)st;
	enum pg_stmt k = state < 0                   ? Q_LIST_ANY
	    : dcf_store_state_final((uint32_t)state) ? Q_LIST_STATE
	                                             : Q_LIST_OPEN;
	struct params p = {0};

	if (ready(s, err, errlen) == -1)
		return -1;
	p_u64(&p, after);
	p_i64(&p, max);
	if (state >= 0)
		p_i64(&p, state);
	for (int tried = 0;; tried++)
		if (each_row(s, k, &p, fn, arg, err, errlen) != -1)
			return 0;
		else if (!again(s, tried, err, errlen))
			return -1;
}

static int
pg_get(struct dcf_store *st, uint64_t id, dcf_store_each_fn fn, void *arg, char *err, size_t errlen)
{
	struct st_pg *s = (struct st_pg *)st;
	struct params p = {0};
	int64_t n;

	if (ready(s, err, errlen) == -1)
		return -1;
	p_u64(&p, id);
	for (int tried = 0; (n = each_row(s, Q_GET, &p, fn, arg, err, errlen)) == -1; tried++)
		if (!again(s, tried, err, errlen))
			return -1;
	return n > 0;
}

static int
count_once(struct st_pg *s, struct dcf_store_counts *c, unsigned what, char *err, size_t errlen)
{
	enum pg_stmt ks[2];
	int nk = 0;
	int64_t v;

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
		PGresult *r = run(s, ks[k], NULL, PGRES_TUPLES_OK, err, errlen);

		if (r == NULL)
			return -1;
		for (int i = 0; i < PQntuples(r); i++) {
			uint32_t state = col_u32(r, i, 0);
			uint64_t n = col_u64(r, i, 1);

			if (state >= DCF_SS_DONE)
				c->finished += n;
			if (state < DCF_SS_NSTATES && ks[k] != Q_COUNT_FINISHED)
				c->by_state[state] = n;
		}
		PQclear(r);
	}
	if (!(what & DCF_COUNT_MAX_ID))
		return 0;
	if (one_i64(s, Q_MAX_ID_GET, NULL, &v, err, errlen) == -1)
		return -1;
	c->max_id = v > 0 ? (uint64_t)v : 0;
	return 0;
}

static int
pg_count(struct dcf_store *st, struct dcf_store_counts *c, unsigned what, char *err, size_t errlen)
{
	struct st_pg *s = (struct st_pg *)st;

	if (ready(s, err, errlen) == -1)
		return -1;
	for (int tried = 0; count_once(s, c, what, err, errlen) == -1; tried++)
		if (!again(s, tried, err, errlen))
			return -1;
	return 0;
}

static int64_t
pg_prune(struct dcf_store *st, uint64_t keep_count, uint64_t ended_before, uint32_t max,
    dcf_store_each_fn fn, void *arg, char *err, size_t errlen)
{
	struct st_pg *s = (struct st_pg *)st;
	int64_t edge_end = -1, edge_id = -1, n = 0;
	struct params p = {0};
	PGresult *r;
	int e;

	if (st->readonly) {
		snprintf(err, errlen, "%s: opened read-only", st->where);
		errno = EROFS;
		return -1;
	}
	if (max == 0)
		return 0;
	if (PQstatus(s->c) != CONNECTION_OK && reconnect(s, err, errlen) == -1)
		return -1;
	if (keep_count != UINT64_MAX) {
		p_u64(&p, keep_count);
		if ((r = run(s, Q_KEEP_EDGE, &p, PGRES_TUPLES_OK, err, errlen)) == NULL)
			return -1;
		if (PQntuples(r) > 0) {
			edge_end = col_i64(r, 0, 0);
			edge_id = col_i64(r, 0, 1);
		}
		PQclear(r);
	}
	if (edge_id < 0 && ended_before == 0)
		return 0;
	if (simple(s, "BEGIN", "starting a transaction", err, errlen) == -1)
		return -1;
	p.n = 0;
	p_u64(&p, ended_before);
	p_i64(&p, edge_end);
	p_i64(&p, edge_id);
	p_i64(&p, max);
	if ((r = run(s, Q_PRUNE_SEL, &p, PGRES_TUPLES_OK, err, errlen)) == NULL)
		goto undo;
	for (int i = 0; i < PQntuples(r); i++) {
		struct dcf_store_task t;
		struct params d = {0};

		read_row(r, i, &t);
		if (fn != NULL)
			(void)fn(arg, &t);
		p_u64(&d, t.id);
		if (run_cmd(s, Q_DELETE, &d, err, errlen) == -1) {
			PQclear(r);
			goto undo;
		}
		n++;
	}
	PQclear(r);
	if (simple(s, "COMMIT", "pruning", err, errlen) == -1)
		goto undo;
	return n;
undo:
	e = errno;
	if (PQstatus(s->c) == CONNECTION_OK)
		PQclear(PQexec(s->c, "ROLLBACK"));
	errno = e;
	return -1;
}

static void
pg_close(struct dcf_store *st)
{
	struct st_pg *s = (struct st_pg *)st;

	/*
	 * A writer's locks go before the connection: the server ends a session
	 * a moment after its client left, and the next writer must not find
	 * them held meanwhile.
	 */
	if (!s->base.readonly && PQstatus(s->c) == CONNECTION_OK)
		PQclear(PQexec(s->c, "SELECT pg_advisory_unlock_all()"));
	PQfinish(s->c);
	free(s->wl);
	free(s);
}

/* LISTEN on this (reader's) connection: its socket to poll. */
static int
pg_listen(struct dcf_store *st, char *err, size_t errlen)
{
	struct st_pg *s = (struct st_pg *)st;
	PGresult *r;

	if (ready(s, err, errlen) == -1)
		return -1;
	if (!s->listening) {
		if (simple(s, "LISTEN dcf_ready; LISTEN dcf_ended; LISTEN dcf_ask", "listening",
		        err, errlen) == -1)
			return -1;
		r = PQexec(s->c, "SELECT current_schema()");
		if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
			return pg_fail(s, r, "listening", err, errlen);
		snprintf(s->schema, sizeof(s->schema), "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
		s->listening = 1;
	}
	return PQsocket(s->c);
}

/* What came since: DCF_HEARD_* bits, 0 nothing; -1 the connection lost. */
static int
pg_heard(struct dcf_store *st, void (*ended)(void *, uint64_t), void *arg, char *err, size_t errlen)
{
	struct st_pg *s = (struct st_pg *)st;
	PGnotify *nf;
	int what = 0;

	(void)ended;
	(void)arg;
	if (PQconsumeInput(s->c) != 1) {
		s->listening = 0;
		return pg_fail(s, NULL, "listening", err, errlen);
	}
	while ((nf = PQnotifies(s->c)) != NULL) {
		if (strcmp(nf->extra, s->schema) == 0)
			what |= strcmp(nf->relname, "dcf_ready") == 0 ? DCF_HEARD_READY
			    : strcmp(nf->relname, "dcf_ended") == 0   ? DCF_HEARD_ENDED
			                                              : DCF_HEARD_ASK;
		PQfreemem(nf);
	}
	return what;
}

static int
pg_hosts(struct dcf_store *st, int (*fn)(void *, const struct dcf_store_host *), void *arg,
    char *err, size_t errlen)
{
	static const char q[] =
	    "SELECT h.owner, h.pid, (extract(epoch FROM h.started) * 1e9)::bigint, "
	    "(extract(epoch FROM now() - h.seen) * 1000)::bigint, "
	    "count(t.id) FILTER (WHERE t.state = 0), count(t.id) FILTER (WHERE t.state = 1), "
	    "coalesce((extract(epoch FROM max(t.lease_until) - now()) * 1000)::bigint, 0) "
	    "FROM dcf_host h LEFT JOIN dcf_task t ON t.owner = h.owner AND t.state < 2 "
	    "GROUP BY h.owner ORDER BY h.owner";
	struct st_pg *s = (struct st_pg *)st;
	PGresult *r;

	if (ready(s, err, errlen) == -1)
		return -1;
	for (int tried = 0;; tried++) {
		r = PQexecParams(s->c, q, 0, NULL, NULL, NULL, NULL, 1);
		if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK)
			break;
		pg_fail(s, r, "reading the hosts", err, errlen);
		if (!again(s, tried, err, errlen))
			return -1;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		struct dcf_store_host h = {.owner = PQgetvalue(r, i, 0),
		    .pid = col_i64(r, i, 1),
		    .started_ns = col_u64(r, i, 2),
		    .seen_ms_ago = col_i64(r, i, 3),
		    .claimed = col_u64(r, i, 4),
		    .running = col_u64(r, i, 5),
		    .lease_ms = col_i64(r, i, 6)};

		if (fn(arg, &h) != 0)
			break;
	}
	PQclear(r);
	return 0;
}

static const struct dcf_store_ops pg_ops = {
    .commit = pg_commit,
    .unfinished = pg_unfinished,
    .list = pg_list,
    .get = pg_get,
    .count = pg_count,
    .control = pg_control,
    .prune = pg_prune,
    .close = pg_close,
    .listen = pg_listen,
    .hosts = pg_hosts,
    .heard = pg_heard,
};

/* --- opening ----------------------------------------------------------- */

static void
no_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/*
 * A connection: libpq's defaults for what the URL leaves out, but a
 * connect timeout and TCP keepalives (a silent peer is found in about
 * 25 s), the session's commits durable, and (a reader) read-only.
 */
static int
connect_to(struct st_pg *s, char *err, size_t errlen)
{
	const char *const keys[] = {"connect_timeout", "keepalives_idle", "keepalives_interval",
	    "keepalives_count", "application_name", "dbname", NULL};
	const char *const vals[] = {"10", "10", "5", "3", s->base.readonly ? "dcf-reader" : "dcf",
	    s->url, NULL};
	char msg[300];

	PQfinish(s->c);
	s->listening = 0;
	s->c = PQconnectdbParams(keys, vals, 1);
	if (s->c == NULL)
		DCF_BAD(ENOMEM, "%s: connecting: out of memory", s->base.where);
	if (PQstatus(s->c) != CONNECTION_OK) {
		first_line(msg, sizeof(msg), PQerrorMessage(s->c));
		DCF_BAD(ECONNREFUSED, "%s: cannot connect: %s", s->base.where, msg);
	}
	/* The server's notices (a shutdown's warning) are not ours to print. */
	PQsetNoticeProcessor(s->c, no_notice, NULL);
	if (simple(s,
	        s->base.readonly
	            ? "SET synchronous_commit = on; SET default_transaction_read_only = on; "
	              "SET client_min_messages = warning"
	            : "SET synchronous_commit = on; SET client_min_messages = warning",
	        "setting up the session", err, errlen) == -1)
		return -1;
	return 0;
}

static int
prepare_all(struct st_pg *s, char *err, size_t errlen)
{
	for (int i = 0; i < Q_NSTMT; i++) {
		char name[16];
		PGresult *r;

		if (s->base.readonly &&
		    (strncmp(sql_text[i], "SELECT", 6) != 0 ||
		        strstr(sql_text[i], "FOR SHARE") != NULL))
			continue;
		snprintf(name, sizeof(name), "q%d", i);
		r = PQprepare(s->c, name, sql_text[i], 0, NULL);
		if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
			return pg_fail(s, r, "preparing a statement", err, errlen);
		PQclear(r);
	}
	return 0;
}

/* The writer's claim: the schema's advisory lock, for the session. */
/*
 * The writer's claim, for the session: the only writer holds the
 * schema's advisory lock alone; writers of several hosts share it, and
 * each holds one of its identity's alone.
 */
static int
take_writer_lock(struct st_pg *s, char *err, size_t errlen)
{
	/* The locks' keys: "dcf1" (0x64636631) and the schema's name hashed; "dcf2" and the
	 * schema's and the identity's. */
	const char *v[1] = {s->owner};
	PGresult *r = PQexecParams(s->c,
	    s->owner[0] == '\0'
	        ? "SELECT current_schema(), pg_try_advisory_lock(1684235825, "
	          "hashtext(current_schema())), true"
	        : "SELECT current_schema(), pg_try_advisory_lock_shared(1684235825, "
	          "hashtext(current_schema())), pg_try_advisory_lock(1684235826, "
	          "hashtext(current_schema() || '/' || $1::text))",
	    s->owner[0] == '\0' ? 0 : 1, NULL, v, NULL, NULL, 0);
	int noschema, got, mine;

	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		return pg_fail(s, r, "locking the store", err, errlen);
	noschema = PQgetisnull(r, 0, 0);
	got = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	mine = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	PQclear(r);
	if (noschema)
		DCF_BAD(EINVAL,
		    "%s: no schema to keep the store in: the search_path names none that exists "
		    "(create it, or name one with options=-csearch_path=NAME)",
		    s->base.where);
	if (!got && s->owner[0] == '\0')
		DCF_BAD(EBUSY,
		    "%s is in use by another supervisor: stop it, or name another schema",
		    s->base.where);
	if (!got)
		DCF_BAD(EBUSY,
		    "%s is in use by a supervisor that is its only writer: stop it, or name "
		    "another schema",
		    s->base.where);
	if (!mine)
		DCF_BAD(EBUSY,
		    "%s: host identity '%s' is in use by another supervisor: give each its own",
		    s->base.where, s->owner);
	return 0;
}

/* 1 if the tables are there, 0 if none is, -1 (a part of them: not a store of ours). */
static int
tables_there(struct st_pg *s, char *err, size_t errlen)
{
	PGresult *r = PQexec(s->c,
	    "SELECT to_regclass('dcf_meta') IS NOT NULL, "
	    "to_regclass('dcf_task') IS NOT NULL");
	int meta, task;

	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		return pg_fail(s, r, "looking for the store", err, errlen);
	meta = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	task = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	PQclear(r);
	if (meta)
		return 1;
	if (task)
		DCF_BAD(EINVAL,
		    "%s has a table dcf_task but no dcf_meta: not a dcf store; name another schema",
		    s->base.where);
	return 0;
}

static int
create_schema(struct st_pg *s, const struct dcf_store_open_opts *o, char *err, size_t errlen)
{
	static const char ins[] =
	    "INSERT INTO dcf_meta (k, v) VALUES ('app', 'dcf'), "
	    "('schema', $1::text), ('mode', $2::text), ('instance', $3::text), "
	    "('max_id', '0'), ('created', $4::text), ('commit_seq', '0')";
	char ver[16], created[24];
	const char *vals[4] = {ver, dcf_store_mode_name(o->mode),
	    o->instance != NULL ? o->instance : "", created};
	PGresult *r;
	int e;

	snprintf(ver, sizeof(ver), "%d", SCHEMA);
	snprintf(created, sizeof(created), "%lld", (long long)time(NULL));
	/*
	 * Hosts starting at once may all find nothing: one makes it, under a
	 * lock of the transaction, and the others find it made.
	 */
	if (simple(s, "BEGIN", "creating the store", err, errlen) == -1)
		return -1;
	/*
	 * The lock, then the look, through pg_class itself: a statement sees
	 * what was committed when it began, but a name's lookup may not yet.
	 */
	r = PQexec(s->c, "SELECT pg_advisory_xact_lock(1684235827, hashtext(current_schema()))");
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_fail(s, r, "creating the store", err, errlen);
		goto undo;
	}
	PQclear(r);
	r = PQexec(s->c,
	    "SELECT 1, EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON "
	    "n.oid = c.relnamespace WHERE c.relname = 'dcf_meta' AND n.nspname = "
	    "current_schema())");
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		pg_fail(s, r, "creating the store", err, errlen);
		goto undo;
	}
	if (strcmp(PQgetvalue(r, 0, 1), "t") == 0) {
		PQclear(r);
		return simple(s, "COMMIT", "creating the store", err, errlen);
	}
	PQclear(r);
	if (simple(s, schema_sql, "creating the store", err, errlen) == -1)
		goto undo;
	r = PQexecParams(s->c, ins, 4, NULL, vals, NULL, NULL, 0);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_fail(s, r, "creating the store", err, errlen);
		goto undo;
	}
	PQclear(r);
	if (simple(s, "COMMIT", "creating the store", err, errlen) == -1)
		goto undo;
	return 0;
undo:
	e = errno;
	if (PQstatus(s->c) == CONNECTION_OK)
		PQclear(PQexec(s->c, "ROLLBACK"));
	errno = e;
	return -1;
}

/* Is it ours, of a schema we read, of the mode asked? */
static int
check_store(struct st_pg *s, const struct dcf_store_open_opts *o, char *err, size_t errlen)
{
	static const char q[] = "SELECT (SELECT v FROM dcf_meta WHERE k = 'app'), "
	                        "(SELECT v FROM dcf_meta WHERE k = 'schema'), "
	                        "(SELECT v FROM dcf_meta WHERE k = 'mode')";
	PGresult *r = PQexec(s->c, q);
	char app[16], mode[16];
	long ver;

	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		return pg_fail(s, r, "reading the store", err, errlen);
	snprintf(app, sizeof(app), "%s", PQgetvalue(r, 0, 0));
	ver = strtol(PQgetvalue(r, 0, 1), NULL, 10);
	snprintf(mode, sizeof(mode), "%s", PQgetvalue(r, 0, 2));
	PQclear(r);
	if (strcmp(app, "dcf") != 0)
		DCF_BAD(EINVAL,
		    "%s has a table dcf_meta that is not a dcf store's: name another schema",
		    s->base.where);
	if (ver > SCHEMA)
		DCF_BAD(EPROTO,
		    "%s has store schema %ld, newer than this dcf reads (%d): run the dcf that "
		    "wrote it",
		    s->base.where, ver, SCHEMA);
	if (ver < 1)
		DCF_BAD(EINVAL, "%s: store schema %ld is not one dcf wrote", s->base.where, ver);
	if (o->mode != 0 && strcmp(mode, dcf_store_mode_name(o->mode)) != 0)
		DCF_BAD(EINVAL, "%s holds a %s's tasks, not a %s's: name another store",
		    s->base.where, mode, dcf_store_mode_name(o->mode));
	s->base.mode = strcmp(mode, "batch") == 0 ? DCF_STORE_BATCH : DCF_STORE_SERVICE;
	if (ver < SCHEMA && o->readonly)
		DCF_BAD(EPROTO,
		    "%s has store schema %ld, older than this dcf reads (%d): a supervisor of this "
		    "dcf brings it up to date when it starts",
		    s->base.where, ver, SCHEMA);
	/* An older schema: the writer brings it up to date, one step a transaction. */
	for (long v = ver; v < SCHEMA; v++) {
		char sv[24];
		const char *vals[1] = {sv};

		snprintf(sv, sizeof(sv), "%ld", v + 1);
		if (simple(s, "BEGIN", "upgrading the store's schema", err, errlen) == -1)
			return -1;
		/* One host at a time: another may have done this step meanwhile. */
		r = PQexec(s->c,
		    "SELECT pg_advisory_xact_lock(1684235827, hashtext(current_schema()))");
		if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
			pg_fail(s, r, "upgrading the store's schema", err, errlen);
			goto undo;
		}
		PQclear(r);
		r = PQexec(s->c, "SELECT 1, (SELECT v::bigint FROM dcf_meta WHERE k = 'schema')");
		if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
			pg_fail(s, r, "upgrading the store's schema", err, errlen);
			goto undo;
		}
		if (strtol(PQgetvalue(r, 0, 1), NULL, 10) > v) {
			PQclear(r);
			if (simple(s, "COMMIT", "upgrading the store's schema", err, errlen) == -1)
				return -1;
			continue;
		}
		PQclear(r);
		r = upgrade_sql[v] == NULL ? NULL : PQexec(s->c, upgrade_sql[v]);
		if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
			pg_fail(s, r, "upgrading the store's schema", err, errlen);
			goto undo;
		}
		PQclear(r);
		r = PQexecParams(s->c, "UPDATE dcf_meta SET v = $1 WHERE k = 'schema'", 1, NULL,
		    vals, NULL, NULL, 0);
		if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
			pg_fail(s, r, "upgrading the store's schema", err, errlen);
			goto undo;
		}
		PQclear(r);
		if (simple(s, "COMMIT", "upgrading the store's schema", err, errlen) == -1)
			goto undo;
	}
	return 0;
undo:
	if (PQstatus(s->c) == CONNECTION_OK)
		PQclear(PQexec(s->c, "ROLLBACK"));
	errno = EIO;
	return -1;
}

/* Statements and counters, on a connection to a store checked. */
static int
prepare_and_count(struct st_pg *s, char *err, size_t errlen)
{
	struct params p = {0};
	int64_t n;

	if (prepare_all(s, err, errlen) == -1 ||
	    one_i64(s, Q_MAX_ID_GET, NULL, &n, err, errlen) == -1)
		return -1;
	s->max_id = n > 0 ? (uint64_t)n : 0;
	if (s->base.readonly)
		return 0;
	/* A host's row: its commits' numbers, and when it was last seen (dcf-status --hosts). */
	p_text(&p, s->owner);
	p_i64(&p, getpid());
	if (s->owner[0] != '\0' && run_cmd(s, Q_HOST_SEEN, &p, err, errlen) == -1)
		return -1;
	if (one_i64(s, Q_DEP_COUNT, NULL, &s->ndep, err, errlen) == -1 ||
	    seq_get(s, &n, err, errlen) == -1)
		return -1;
	/* An unsure commit keeps its number: the retry reads whether it went in. */
	if (!s->unsure)
		s->seq = n > 0 ? (uint64_t)n : 0;
	return 0;
}

/* A new connection in place of a lost one: the writer's lock taken again first. */
static int
reconnect(struct st_pg *s, char *err, size_t errlen)
{
	if (connect_to(s, err, errlen) == -1)
		return -1;
	if (!s->base.readonly && take_writer_lock(s, err, errlen) == -1)
		return -1;
	return prepare_and_count(s, err, errlen);
}

struct dcf_store *
dcf_store_pg_open(const struct dcf_store_open_opts *o, char *err, size_t errlen)
{
	struct st_pg *s;
	int there, e;

	if (strlen(o->where) >= sizeof(s->url)) {
		snprintf(err, errlen, "the store's URL is too long (over %zu bytes)",
		    sizeof(s->url) - 1);
		errno = ENAMETOOLONG;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", o->where);
		return NULL;
	}
	s->base.ops = &pg_ops;
	s->base.readonly = o->readonly;
	s->base.mode = o->mode;
	snprintf(s->url, sizeof(s->url), "%s", o->where);
	dcf_store_redact(s->base.where, sizeof(s->base.where), o->where);
	if (o->owner != NULL && !o->readonly) {
		if (o->owner[0] == '\0' || strlen(o->owner) >= sizeof(s->owner)) {
			snprintf(err, errlen, "%s: a host identity of 1 to %zu bytes, please",
			    s->base.where, sizeof(s->owner) - 1);
			errno = EINVAL;
			goto fail;
		}
		snprintf(s->owner, sizeof(s->owner), "%s", o->owner);
		s->lease_ms = o->lease_ms > 0 ? o->lease_ms : 30000;
		s->base.shared = 1;
		s->base.lease_ms = s->lease_ms;
	}
	if (connect_to(s, err, errlen) == -1)
		goto fail;
	if (!o->readonly && take_writer_lock(s, err, errlen) == -1)
		goto fail;
	if ((there = tables_there(s, err, errlen)) == -1)
		goto fail;
	if (!there && (o->readonly || !o->create)) {
		snprintf(err, errlen, "%s: no such store (no table dcf_meta there)", s->base.where);
		errno = ENOENT;
		goto fail;
	}
	if (!there && create_schema(s, o, err, errlen) == -1)
		goto fail;
	if (check_store(s, o, err, errlen) == -1)
		goto fail;
	if (prepare_and_count(s, err, errlen) == -1)
		goto fail;
	return &s->base;
fail:
	e = errno;
	pg_close(&s->base);
	errno = e;
	return NULL;
}
