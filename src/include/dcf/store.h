/*
 * store.h - the durable record of every task: what was accepted, how each
 * run went, how it ended. One writer (the supervisor, from one thread),
 * any number of read-only readers (dcf-status).
 *
 * The interface is narrow on purpose: a table of operations behind an
 * opaque handle, so that the engine (libdcf) knows nothing of the backend.
 * SQLite is the one today (store_sqlite.c: a file, WAL, synchronous=FULL);
 * a PostgreSQL one for several hosts takes the same table. Only
 * dcf_store_open, which picks the backend, is outside libdcf: programs link
 * the backends, the library does not.
 *
 * Writes come in batches (struct dcf_store_batch), one transaction each,
 * durable when commit returns 0: the caller gathers what arrives while the
 * previous commit syncs and acknowledges each item after its commit (group
 * commit). Every call reports through `char *err, size_t errlen`: -1 with
 * errno and one line saying what was wrong.
 */
#ifndef DCF_STORE_H
#define DCF_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dcf/layout.h"

/*
 * A task's state in the store. Only these three are unfinished; the
 * others are final and never change again (a finished task never runs
 * again, whatever happens to the supervisor).
 */
enum dcf_store_state {
	DCF_SS_QUEUED = 0,      /* accepted, waiting for a run (or for another after a retry) */
	DCF_SS_RUNNING = 1,     /* a run started and has not been booked as ended */
	DCF_SS_DONE = 2,        /* its last run exited with status 0 */
	DCF_SS_FAILED = 3,      /* its last run failed (exit status, signal, timeout, no exec) */
	DCF_SS_QUARANTINED = 4, /* the processes running it died too often: not run again */
	DCF_SS_CANCELLED = 5,   /* dcf-ctl cancel, before it ran */
	DCF_SS_DEP_FAILED = 6,  /* --after: a task it waited for did not succeed; never ran */
	DCF_SS_NSTATES
};
/* "queued", "running", "done", "failed", "quarantined", "cancelled", "dep-failed"; NULL if
 * out of range. */
const char *dcf_store_state_name(uint32_t state);
/* The state of that name, or -1. */
int dcf_store_state_parse(const char *name);

static inline int
dcf_store_state_final(uint32_t state)
{
	return state >= DCF_SS_DONE && state < DCF_SS_NSTATES;
}

/* What a store holds: the tasks of a service, or a batch's input lines. */
enum dcf_store_mode {
	DCF_STORE_SERVICE = 1, /* ids are submissions, in the order accepted */
	DCF_STORE_BATCH = 2,   /* ids are input line numbers ({#}), from 1 */
};

/*
 * One task as stored. The pointers (key, cmd, cwd) are the caller's when
 * it writes and the store's when it reads: valid until the callback
 * returns.
 */
struct dcf_store_task {
	uint64_t id; /* from 1 */
	uint32_t state;
	int32_t prio;           /* DCF_PRIO_MIN..DCF_PRIO_MAX (layout.h), higher first */
	uint32_t timeout_ms;    /* 0: none */
	uint32_t retries;       /* failed runs retried at most this often */
	uint32_t attempts;      /* runs that ended with their worker, or the supervisor, dead */
	uint32_t tries;         /* runs that failed and were retried */
	uint32_t runs;          /* runs started */
	uint64_t submitted_ns;  /* CLOCK_REALTIME, as every time here */
	uint64_t started_ns;    /* the last run's start; 0 before the first */
	uint64_t ended_ns;      /* final states: when it was booked */
	int32_t pid;            /* the worker that runs its last run (a service), 0 if none */
	uint64_t pid_start;     /* that worker's start time in clock ticks since boot */
	uint32_t net, node;     /* where the last run ran */
	uint32_t pin;           /* dcf-submit --network: the network it runs on, + 1; 0: any */
	uint64_t not_before_ns; /* --delay, --at: not run before (CLOCK_REALTIME); 0: at once */
	/*
	 * --after: the tasks it runs after. Written as deps (ndeps of them,
	 * distinct, each stored already); read as after_ids, their ids
	 * comma-separated (NULL: none). waits: how many of them have not ended
	 * yet (it runs at 0); after_any: after they ended whatever their
	 * outcome, else it ends DEP_FAILED at the first that did not succeed,
	 * cause that one's id.
	 */
	const uint64_t *deps;
	uint32_t ndeps;
	const char *after_ids;
	uint32_t waits;
	uint32_t after_any;
	uint64_t cause;
	struct dcf_outcome out; /* the last run's outcome (final states) */
	const char *key;        /* NUL-terminated, or NULL: no key */
	const void *cmd;        /* the payload: argv items, each ending in NUL (cmd.h) */
	uint32_t cmd_len;
	const char *cwd; /* NUL-terminated, or NULL: the supervisor's */
	/*
	 * A shared store (several hosts): the claim a host holds it by, a
	 * number that grows with each claim (a change is fenced with it), and
	 * that host (NULL: none holds it). 0 and NULL in a store of one host.
	 */
	uint64_t claim;
	const char *owner;
	/* dcf-submit --host: the host it runs on (its --host-id), NULL: any. A shared store's. */
	const char *pin_host;
	uint32_t lease_live; /* read: owner's lease has not ended (the database's clock) */
};

/*
 * A change to an existing task: its state and counters, and, as the kind
 * says, its last run's identity (started) or outcome (ended).
 */
enum dcf_store_upd_kind {
	DCF_SU_STARTED = 1, /* state RUNNING; runs (never lowered), started_ns, pid, pid_start,
	                     * net, node */
	DCF_SU_REQUEUED,    /* state QUEUED again: attempts and tries (a death, a retry) */
	DCF_SU_ENDED,       /* a final state: attempts, tries, ended_ns, out */
	DCF_SU_PRIO,        /* dcf-ctl priority, while unfinished: prio */
	DCF_SU_DUE,         /* a delayed task's time came: not_before_ns 0, it waits as any other */
	DCF_SU_CONTROL,     /* not a task's: the service's dcf-ctl state (ctl), id 0 */
	/*
	 * A shared store: dcf-ctl's request (ask_op, a DCF_CTL_* of proto.h,
	 * and ask_val) for the host that holds the task, another than this
	 * one, unfinished; refused (store_batch) when no other host holds it.
	 */
	DCF_SU_ASK,
};
/* What dcf-ctl set that outlives the supervisor: the networks paused, draining. */
struct dcf_store_ctl {
	uint64_t paused[DCF_MAX_NETS / 64]; /* network n: bit n % 64 of word n / 64 */
	uint32_t draining;
};
struct dcf_store_upd {
	uint32_t kind;
	struct dcf_store_task t;  /* id and the fields the kind names */
	struct dcf_store_ctl ctl; /* DCF_SU_CONTROL's */
	uint32_t ask_op;          /* DCF_SU_ASK's */
	int64_t ask_val;
};

/*
 * One transaction: the new tasks first, then the changes, in order. A new
 * task whose key is already stored (or earlier in the batch) is not added:
 * its dup_of says the task that has it, and the caller answers with that
 * id. A change to a task that is not stored is an error (EINVAL); a change
 * to a finished task changes nothing (a task finishes once).
 */
struct dcf_store_new {
	struct dcf_store_task t; /* id given by the caller: above every id stored; out: its
	                          * state, waits and cause as added (--after) */
	uint64_t dup_of;         /* out: 0 if added, else the id that holds the key */
	uint64_t bad_dep;        /* out: not added, this dependency is not stored (0: none) */
};
/*
 * A task that waited (--after) on one a batch finished: its last one ended
 * (state QUEUED, waits 0: it may run now; id, prio, pin, not_before_ns) or
 * one did not succeed (state DEP_FAILED, cause), in the same transaction,
 * and so on for those waiting on it. Told as the commit goes: undone if it
 * fails. Non-zero from the callback fails the commit (ENOMEM).
 */
typedef int (*dcf_store_woke_fn)(void *arg, const struct dcf_store_task *t);
/* Called for each task read; return non-zero to stop there. */
typedef int (*dcf_store_each_fn)(void *arg, const struct dcf_store_task *t);

struct dcf_store_batch {
	struct dcf_store_new *add;
	uint32_t nadd;
	const struct dcf_store_upd *upd;
	uint32_t nupd;
	dcf_store_woke_fn woke; /* NULL: nobody listens (the store is the same) */
	void *woke_arg;
	/*
	 * A shared store (dcf_store.shared), in the same transaction, after the
	 * changes. A new task's id is the store's to give (a->t.id, out). A
	 * change of STARTED, REQUEUED or ENDED is fenced: it applies only while
	 * this host holds the task by t.claim; one that does not is told to
	 * refused (not an error: another host holds the task now, or has ended
	 * it) and changes nothing. Then:
	 *   release: every task this host holds and has not started is let go;
	 *   renew: every lease this host holds ends lease_ms from now, by the
	 *     database's clock (renewed: how many);
	 *   claim: up to this many ready tasks (not waiting, not delayed, held
	 *     by none or by a host whose lease has ended), highest priority
	 *     first, then by id, each told to claimed with its claim number; one
	 *     that was running on a host whose lease ended comes back queued,
	 *     that run counted as lost (attempts + 1);
	 *   next_ms: then, in how many ms (the database's clock) a task not
	 *     claimable now may become so (a lease ends, a delay passes), -1
	 *     if none;
	 *   asks: the requests other hosts left (DCF_SU_ASK) on tasks this
	 *     host holds, taken (each told to asked once committed, then gone
	 *     from the store; a claim or a release drops a task's).
	 */
	dcf_store_each_fn refused;
	void *refused_arg;
	uint32_t reset; /* first: let go of all it holds, its runs counted lost (a restart) */
	uint32_t release;
	uint32_t renew;
	uint32_t claim;
	uint32_t claim_pins; /* the claimed may ask for networks 1..this (pin - 1); 0: any */
	dcf_store_each_fn claimed;
	void *claimed_arg;
	uint32_t asks;
	int (*asked)(void *arg, uint64_t id, uint32_t op, int64_t val);
	void *asked_arg;
	uint64_t renewed;
	int64_t next_ms;
};

/* What dcf_store_count says of a store. */
struct dcf_store_counts {
	uint64_t by_state[DCF_SS_NSTATES];
	uint64_t finished; /* the three final states together */
	uint64_t max_id;   /* the highest id ever given (0: none), pruned ones included */
};

/*
 * What to count (dcf_store_count_some): what is not asked for is 0. The
 * highest id costs nothing; the unfinished cost a read of each (few, in a
 * store that keeps up); the finished total an index's length; only ALL
 * reads every task, for the split between the final states.
 */
enum {
	DCF_COUNT_MAX_ID = 1,
	DCF_COUNT_UNFINISHED = 2, /* by_state[QUEUED], [RUNNING] */
	DCF_COUNT_FINISHED = 4,   /* finished */
	DCF_COUNT_ALL = 15,       /* and by_state[] of each final state */
};

/* One host of a shared store (dcf-status --hosts). */
struct dcf_store_host {
	const char *owner;   /* its identity (--host-id) */
	int64_t pid;         /* its supervisor's, on its machine */
	uint64_t started_ns; /* CLOCK_REALTIME, the database's clock */
	int64_t seen_ms_ago; /* its last commit or renewal, by the database's clock */
	uint64_t claimed;    /* tasks it holds, not started */
	uint64_t running;    /* tasks it holds that run */
	int64_t lease_ms;    /* until its last lease ends (< 0: ended), 0 if it holds none */
};

struct dcf_store;
struct dcf_store_ops {
	int (*commit)(struct dcf_store *st, struct dcf_store_batch *b, char *err, size_t errlen);
	/*
	 * The unfinished tasks with id > after, in id order, at most max, of
	 * priority prio and not delayed (not_before_ns 0): what a restart runs
	 * again, read a window at a time, a priority at a time; prio
	 * DCF_STORE_DELAYED: those delayed instead, of any priority;
	 * DCF_STORE_ANY_PRIO: every one.
	 */
	int (*unfinished)(struct dcf_store *st, int32_t prio, uint64_t after, uint32_t max,
	    dcf_store_each_fn fn, void *arg, char *err, size_t errlen);
	/* Tasks with id > after, in id order, at most max; state < 0: any state. */
	int (*list)(struct dcf_store *st, int state, uint64_t after, uint32_t max,
	    dcf_store_each_fn fn, void *arg, char *err, size_t errlen);
	/* One task: 1 found (fn called), 0 no such task. */
	int (*get)(struct dcf_store *st, uint64_t id, dcf_store_each_fn fn, void *arg, char *err,
	    size_t errlen);
	/* what: DCF_COUNT_* */
	int (*count)(struct dcf_store *st, struct dcf_store_counts *c, unsigned what, char *err,
	    size_t errlen);
	/*
	 * Retention: delete finished tasks beyond the newest keep_count of them
	 * (UINT64_MAX: no limit by count) and those finished before
	 * ended_before (0: no limit by age), at most max in one call, calling
	 * fn for each before it goes (its output files are the caller's to
	 * remove). Returns how many were deleted.
	 */
	/* The dcf-ctl state last recorded (DCF_SU_CONTROL); all zero if none. */
	int (*control)(struct dcf_store *st, struct dcf_store_ctl *c, char *err, size_t errlen);
	int64_t (*prune)(struct dcf_store *st, uint64_t keep_count, uint64_t ended_before,
	    uint32_t max, dcf_store_each_fn fn, void *arg, char *err, size_t errlen);
	void (*close)(struct dcf_store *st);
	/*
	 * A shared store (NULL where there is none): be told, on this handle,
	 * when tasks become claimable, when tasks end and when a host asked
	 * another for something (DCF_SU_ASK), whoever did it. listen gives the
	 * descriptor to poll for POLLIN (-1 with err); heard takes what came:
	 * DCF_HEARD_* bits (0: nothing), -1 with err when the connection was
	 * lost (listen again).
	 */
	int (*listen)(struct dcf_store *st, char *err, size_t errlen);
	/*
	 * A shared store's hosts, by identity: each told to fn (NULL op where
	 * there are none). The pointers are the store's, valid while fn runs.
	 */
	int (*hosts)(struct dcf_store *st, int (*fn)(void *arg, const struct dcf_store_host *h),
	    void *arg, char *err, size_t errlen);
	int (*heard)(struct dcf_store *st, void (*ended)(void *arg, uint64_t id), void *arg,
	    char *err, size_t errlen);
};

#define DCF_HEARD_READY 1 /* tasks became claimable */
#define DCF_HEARD_ENDED 2 /* tasks ended */
#define DCF_HEARD_ASK   4 /* a host left requests for the hosts that hold tasks */

/* Every backend's handle begins with this. */
struct dcf_store {
	const struct dcf_store_ops *ops;
	enum dcf_store_mode mode;
	int readonly;
	int created;       /* this open made it: a run that fails at its start may remove it */
	char where[256];   /* the path or URL, for messages */
	int shared;        /* opened with an owner: several hosts write it (the batch's claims) */
	uint32_t lease_ms; /* shared: how long a claim lasts unless renewed */
};

/* How to open. */
struct dcf_store_open_opts {
	const char *where;        /* a path (SQLite) or a postgresql:// URL (PostgreSQL) */
	int readonly;             /* a reader: never creates nor changes anything */
	int create;               /* a writer may create it when it does not exist */
	enum dcf_store_mode mode; /* a writer: what it must hold (a new one: what it will) */
	const char *instance;     /* recorded at creation, and shown */
	/*
	 * A writer sharing the store with other hosts (PostgreSQL only): its
	 * identity, unique among them ("host/instance"; one writer each), and
	 * how long a claim lasts unless renewed. NULL: the store's only writer.
	 */
	const char *owner;
	uint32_t lease_ms;
};

/* A PostgreSQL store's name: a libpq URL (postgresql:// or postgres://); else a file. */
static inline int
dcf_store_is_url(const char *where)
{
	return strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0;
}

/*
 * Open a store (the backend's by its name's form), refusing with a clear
 * message and without changing anything a file that is not a dcf store,
 * is corrupt, has a newer schema, holds the other mode, is not the
 * caller's own, or (writer) has a writer already. Lives outside libdcf
 * (src/store/): NULL with errno and err.
 */
struct dcf_store *dcf_store_open(const struct dcf_store_open_opts *o, char *err, size_t errlen);

static inline int
dcf_store_commit(struct dcf_store *st, struct dcf_store_batch *b, char *err, size_t errlen)
{
	return st->ops->commit(st, b, err, errlen);
}
#define DCF_STORE_ANY_PRIO INT32_MIN
#define DCF_STORE_DELAYED  (INT32_MIN + 1)
static inline int
dcf_store_unfinished(struct dcf_store *st, int32_t prio, uint64_t after, uint32_t max,
    dcf_store_each_fn fn, void *arg, char *err, size_t errlen)
{
	return st->ops->unfinished(st, prio, after, max, fn, arg, err, errlen);
}
static inline int
dcf_store_list(struct dcf_store *st, int state, uint64_t after, uint32_t max, dcf_store_each_fn fn,
    void *arg, char *err, size_t errlen)
{
	return st->ops->list(st, state, after, max, fn, arg, err, errlen);
}
static inline int
dcf_store_get(struct dcf_store *st, uint64_t id, dcf_store_each_fn fn, void *arg, char *err,
    size_t errlen)
{
	return st->ops->get(st, id, fn, arg, err, errlen);
}
static inline int
dcf_store_count(struct dcf_store *st, struct dcf_store_counts *c, char *err, size_t errlen)
{
	return st->ops->count(st, c, DCF_COUNT_ALL, err, errlen);
}

static inline int
dcf_store_count_some(struct dcf_store *st, struct dcf_store_counts *c, unsigned what, char *err,
    size_t errlen)
{
	return st->ops->count(st, c, what, err, errlen);
}
static inline int
dcf_store_control(struct dcf_store *st, struct dcf_store_ctl *c, char *err, size_t errlen)
{
	return st->ops->control(st, c, err, errlen);
}
static inline int64_t
dcf_store_prune(struct dcf_store *st, uint64_t keep_count, uint64_t ended_before, uint32_t max,
    dcf_store_each_fn fn, void *arg, char *err, size_t errlen)
{
	return st->ops->prune(st, keep_count, ended_before, max, fn, arg, err, errlen);
}
static inline void
dcf_store_close(struct dcf_store *st)
{
	if (st != NULL)
		st->ops->close(st);
}

#endif
