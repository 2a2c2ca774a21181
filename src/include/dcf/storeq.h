/*
 * storeq.h - group commit: the supervisor's writes to its store (store.h),
 * made by a thread of their own so that the loop never waits for a disk.
 *
 * The loop stages new tasks and changes (dcf_storeq_add, _upd), each with
 * a cookie of its choosing; they are copied, so nothing the loop owns is
 * read later. The committer thread takes everything staged at once into
 * one transaction; what is staged while that commit syncs goes into the
 * next. When a commit returns, its items' results (cookie, the id that
 * holds a key) wait for the loop, which is woken through an eventfd and
 * collects them with dcf_storeq_collect: that is the moment each item is
 * durable, and the only moment the loop may say so to anyone.
 *
 * A commit that fails (a full disk) is retried, whole and in order, after
 * a growing pause, until it goes through or the queue is closed; the loop
 * hears of each failure once (its message) and may hold new work back
 * meanwhile (dcf_storeq_backlog).
 *
 * Threads: the loop's thread calls everything here but the committer's own
 * loop; the store is the committer's alone from dcf_storeq_start to
 * dcf_storeq_stop. A process forked meanwhile must not call any of it.
 */
#ifndef DCF_STOREQ_H
#define DCF_STOREQ_H

#include <stddef.h>
#include <stdint.h>

#include "dcf/store.h"

struct dcf_storeq;

/* The cookie of a task's recorded end (DCF_SU_ENDED): this bit | its id. */
#define DCF_STOREQ_ENDED (1ULL << 63)
/* The cookie of a task's new priority (DCF_SU_PRIO): this bit | its id. */
#define DCF_STOREQ_PRIO (1ULL << 62)
/* The cookie of a control state (dcf_storeq_control): this bit | a number of the caller's. */
#define DCF_STOREQ_CTL (1ULL << 61)
/* Not an item's: a task that waited (--after) woke or failed (store.h dcf_store_woke_fn),
 * given after the items of the commit that did it. */
#define DCF_STOREQ_WOKE (1ULL << 60)
/*
 * A shared store's (several hosts; store.h), each given after a commit's
 * items and woken: a task this host claimed (task: all of it, its command
 * and claim included); when a task not claimable now may become so
 * (next_ms, -1 none), once per commit that claimed; a request another
 * host left for this one (ask_op, ask_val: store.h DCF_SU_ASK). A change
 * the store refused (another host holds the task now, or nobody does, for
 * an ask) comes as its item, with refused set. ASK: the cookie of a
 * request staged for another host's task (DCF_SU_ASK): this bit | its id.
 */
#define DCF_STOREQ_CLAIMED (1ULL << 59)
#define DCF_STOREQ_NEXT    (1ULL << 57)
#define DCF_STOREQ_ASKED   (1ULL << 56)
#define DCF_STOREQ_ASK     (1ULL << 55)

/* What a committed item gives back. */
struct dcf_storeq_res {
	uint64_t cookie;
	uint64_t id;     /* the item's task id */
	uint64_t dup_of; /* a new task whose key was taken: the id that holds it */
	uint32_t is_add;
	/* A new task's --after (bad_dep: not added, no such task), or a WOKE's. */
	uint64_t bad_dep, cause, not_before_ns;
	uint32_t state, waits;
	int32_t prio;
	const struct dcf_store_task *task; /* CLAIMED: valid while the callback runs */
	int64_t next_ms;                   /* NEXT */
	uint32_t refused;                  /* a change: not applied (shared store) */
	uint32_t ask_op;                   /* ASKED */
	int64_t ask_val;
};

/* Start the committer on st (not closed here). NULL with errno and err. */
struct dcf_storeq *dcf_storeq_start(struct dcf_store *st, char *err, size_t errlen);
/* Poll it for POLLIN: results (or a failure's message) are waiting. */
int dcf_storeq_fd(const struct dcf_storeq *q);
/* Stage a new task (t's strings and command copied). -1 with errno ENOMEM. */
int dcf_storeq_add(struct dcf_storeq *q, const struct dcf_store_task *t, uint64_t cookie);
/* Stage a change (its t's strings are not read). -1 with errno ENOMEM. */
/* Stage the service's dcf-ctl state (DCF_SU_CONTROL). 0, or -1 (out of memory). */
int dcf_storeq_control(struct dcf_storeq *q, const struct dcf_store_ctl *c, uint64_t cookie);
int dcf_storeq_upd(struct dcf_storeq *q, uint32_t kind, const struct dcf_store_task *t,
    uint64_t cookie);
/*
 * Take what the committer finished: fn for each committed item, in the
 * order staged; *failed and err set (once per failure) when a commit
 * failed: 1 if it waits to be retried, 2 if it can never succeed (a corrupt
 * store, a row there already), when nothing more is committed and the
 * caller should stop. Returns the items given to fn.
 */
size_t dcf_storeq_collect(struct dcf_storeq *q, void (*fn)(void *, const struct dcf_storeq_res *),
    void *arg, int *failed, char *err, size_t errlen);
/*
 * A shared store: claim up to n ready tasks in the next commit (made at
 * once if nothing else is staged; a later call before it replaces n),
 * of those that ask for no network or one of 0..pins-1 (0: any). The
 * committer renews this host's leases every third of the lease by itself,
 * and lets go of what it holds and has not started when it stops.
 */
void dcf_storeq_claim(struct dcf_storeq *q, uint32_t n, uint32_t pins);
/*
 * A shared store: stage a request (op, val: proto.h's DCF_CTL_*) for the
 * host that holds task id, another than this one (DCF_SU_ASK); its result
 * comes by the cookie DCF_STOREQ_ASK | id, refused if no other host holds
 * it unfinished. 0, or -1 (out of memory).
 */
int dcf_storeq_ask(struct dcf_storeq *q, uint64_t id, uint32_t op, int64_t val);
/* A shared store: take the requests other hosts left for this one in the next commit. */
void dcf_storeq_asks(struct dcf_storeq *q);
/*
 * A shared store: when (CLOCK_MONOTONIC ns) the last renewal of this host's
 * leases that went through began: they hold until then plus the lease.
 * Any thread; 0 for a store of one host.
 */
uint64_t dcf_storeq_renewed_ns(const struct dcf_storeq *q);
/*
 * Retention: after commits that finished tasks, the committer deletes the
 * finished tasks beyond the newest keep_count (0: no limit by count, and
 * it lets 10 % more gather first) and those that ended more than
 * keep_age_ms ago (0: no limit by age; looked at every tenth of it, at
 * least once a minute), calling gone(arg, id) for each first, in its own
 * thread (the caller's output files go there).
 */
void dcf_storeq_set_retention(struct dcf_storeq *q, uint64_t keep_count, uint64_t keep_age_ms,
    void (*gone)(void *arg, uint64_t id), void *arg);
/* Tasks deleted by retention so far. */
uint64_t dcf_storeq_pruned(const struct dcf_storeq *q);
/* Items staged or being committed, not yet collected. */
size_t dcf_storeq_backlog(const struct dcf_storeq *q);
/*
 * Commit what is staged and end the thread: waits for the last commit,
 * giving up on one that still fails after tries attempts (then returns -1
 * with the count of items lost in *lost). The results of the last commits
 * are collected here (fn as above, may be NULL).
 */
int dcf_storeq_stop(struct dcf_storeq *q, unsigned tries,
    void (*fn)(void *, const struct dcf_storeq_res *), void *arg, size_t *lost, char *err,
    size_t errlen);

#endif
