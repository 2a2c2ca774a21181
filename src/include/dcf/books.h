/*
 * books.h - the operations on the shared books: tasks, rings, nodes, counters.
 *
 * Every function ending in _locked expects the caller to hold the books'
 * lock (lock.h) and makes its change as one transaction (tx.h), so a process
 * killed at any instruction leaves the books either before or after the
 * operation once the next locker has replayed the journal.
 *
 * Task life: FREE -dispatch-> QUEUED -claim-> RUNNING -complete-> DONE
 * -retire-> FREE, or for a command that failed with retries left DONE
 * -retry-> QUEUED (on its network's ring, or the delay ring while it waits
 * out --retry-delay). Only the supervisor dispatches, retires and reclaims.
 *
 * Batches, recovery per task. A worker claims up to DCF_BATCH_MAX queued
 * tasks in one transaction (dcf_batch_size_locked says how many); each is
 * RUNNING under its own id and owner (node, gen), and the node holds them
 * as a chain (layout.h: task_slot, next_owned, held) in the order it runs
 * them. It completes those it finished in one transaction, with its next
 * claim (dcf_complete_claim_locked), or gives back those it has not started
 * (dcf_give_back_locked). A node's death puts back ALL the tasks it owned,
 * on the recovery ring, and counts an attempt only for the one it was
 * running (node.run_slot): that one goes to FREE as quarantined at
 * max_attempts. Those it finished and had not completed simply run again:
 * their results were never published, so none is ever delivered twice. The
 * supervisor dispatches and retires up to DCF_SUP_BATCH in one transaction.
 *
 * INVARIANTS (between transactions; dcf_books_check_locked tests them all):
 *  I1 every task slot is in exactly one place: FREE slots in the free ring,
 *     DONE slots in the done ring, QUEUED slots in the ring named by their
 *     queue field, RUNNING slots in no ring;
 *  I2 every RUNNING slot is on its owner's chain: the owner node is BUSY,
 *     has the owner's generation, and its chain (task_slot, then each
 *     slot's next_owned, `held` of them, ending in DCF_NONE) holds exactly
 *     the RUNNING slots owned by that (node, gen); a node with no chain has
 *     task_slot DCF_NONE and held 0, and is not BUSY;
 *  I3 cnt.running == number of RUNNING slots;
 *  I4 cnt.dispatched == QUEUED + RUNNING + cnt.completed + cnt.quarantined
 *     (every dispatched task is queued, running, completed or quarantined:
 *     none is lost), completed counts DONE slots too, and cnt.dispatched +
 *     cnt.skipped <= cnt.next_id, with equality when ids are dispatched in
 *     order (every id below next_id was dispatched or skipped);
 *  I5 each network's sleepers == its nodes with sleeping set, and its alive
 *     == its nodes that are STARTING, IDLE or BUSY.
 */
#ifndef DCF_BOOKS_H
#define DCF_BOOKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dcf/seg.h"

/* Every result of an operation on the books must be looked at. */
#define DCF_MUST_CHECK __attribute__((warn_unused_result))

/* What a worker got from a claim: one task. */
struct dcf_claim {
	uint32_t slot;
	uint32_t kind;
	uint32_t arg_ms;
	uint32_t attempts;
	uint32_t runs; /* this run's number, from 1 */
	uint32_t tries;
	uint64_t id;
	int from_recovery;
	int chain;    /* more work and sleepers: wake one after unlocking */
	int wake_sup; /* the supervisor sleeps and wants to hear of claims */
};

/* What a worker got from a batched claim: its new chain, in the order to run it. */
struct dcf_claims {
	uint32_t n;   /* tasks claimed: t[0..n-1] */
	int chain;    /* more work and sleepers: wake one after unlocking */
	int wake_sup; /* the supervisor sleeps and wants to hear of it */
	int stopping; /* the system stops: nothing was claimed */
	struct dcf_claim t[DCF_BATCH_MAX];
};

/* What a worker reports finished: the first n tasks of its chain, in order. */
struct dcf_finished {
	uint32_t n;
	uint64_t start_ns; /* when the first of them started: the run-time average's */
	uint32_t slot[DCF_BATCH_MAX];
	uint64_t id[DCF_BATCH_MAX];
	uint64_t result[DCF_BATCH_MAX];
};

/* What a give-back did. */
struct dcf_given {
	uint32_t returned;    /* tasks put back, never started */
	uint32_t to_recovery; /* of them, back at the recovery ring's head */
	uint32_t to_own;      /* and back at the head of the node's network's ring */
	int wake_sup;
};

/* A completed task the supervisor retired, for its log line and check. */
struct dcf_done {
	uint64_t id;
	uint32_t slot; /* free now, its payload intact until the supervisor's next dispatch */
	uint32_t runs;
	uint32_t tries;
	uint32_t retries; /* its limit */
	uint32_t attempts;
	struct dcf_outcome out;
	uint32_t node;
	uint32_t gen; /* the generation of the node's process that ran it */
	uint32_t from_recovery;
	uint32_t kind;
	uint32_t arg_ms;
	uint32_t killed; /* dcf-ctl kill signalled its run */
	uint64_t result;
};

/* What became of a dead node's task. */
struct dcf_reclaim {
	int had_task;
	int quarantined;
	uint64_t id;
	uint32_t attempts;
	uint32_t slot;     /* quarantined: free now, its payload intact as for dcf_done */
	uint32_t runs;     /* the number of the run that died */
	uint32_t requeued; /* the other tasks it held, put back without an attempt */
};

/* Duration of task id under cfg: deterministic in (seed, id). */
uint32_t dcf_task_ms(const struct dcf_config *cfg, uint64_t id);
/* The seed and iteration count of a cpu task, and its expected result. */
uint64_t dcf_task_cpu_iters(const struct dcf_config *cfg, uint64_t id);
uint64_t dcf_task_cpu_expect(const struct dcf_config *cfg, uint64_t id);

/*
 * Supervisor: dispatch task cnt.next_id into a free slot, queued on ring.
 * -1 with errno ENOSPC (no free slot), ENODATA (every task dispatched),
 * EUCLEAN (corrupt ring).
 */
DCF_MUST_CHECK int dcf_dispatch_locked(struct dcf_seg *sg, uint32_t ring, uint64_t now);
/*
 * The same for a command: payload_len bytes of payload copied into the
 * slot (the lock is held for a memcpy, never for I/O). EMSGSIZE if it is
 * longer than a slot's.
 */
DCF_MUST_CHECK int dcf_dispatch_cmd_locked(struct dcf_seg *sg, uint32_t ring, uint64_t now,
    const void *payload, uint32_t payload_len);
/*
 * The same for up to DCF_SUP_BATCH tasks in one transaction: id next_id + i
 * queued on rings[i] (with payloads[i], lens[i] bytes, for commands), as
 * many as there are free slots and ids left. Returns how many (>= 1), or
 * -1 with errno as above.
 */
DCF_MUST_CHECK int dcf_dispatch_n_locked(struct dcf_seg *sg, const uint32_t *rings, uint32_t n,
    uint64_t now);
/*
 * What a command task brings: its counters from an earlier incarnation (a
 * store) go on from there; its own timeout (0: cfg's), retries, and the
 * length of its argv in the payload (what follows is its working
 * directory, NUL-terminated). prior NULL: counters 0, cfg's timeout and
 * retries, the whole payload an argv.
 */
struct dcf_prior {
	uint32_t attempts, tries, runs;
	uint32_t timeout_ms, retries, argv_len; /* argv_len 0: the whole payload */
	int32_t prio; /* DCF_PRIO_MIN..MAX: the caller picks the ring of its level */
	uint32_t pin; /* its network + 1 (0: any): only that network's rings ever hold it */
};
DCF_MUST_CHECK int dcf_dispatch_cmd_n_locked(struct dcf_seg *sg, const uint32_t *rings, uint32_t n,
    uint64_t now, const void *const *payloads, const uint32_t *lens, const struct dcf_prior *prior);
/*
 * The same with the ids given (ids[i], each one no slot holds, in any
 * order): a service dispatches by priority, not by id. next_id becomes one
 * past the highest.
 */
DCF_MUST_CHECK int dcf_dispatch_ids_locked(struct dcf_seg *sg, const uint32_t *rings, uint32_t n,
    uint64_t now, const void *const *payloads, const uint32_t *lens, const struct dcf_prior *prior,
    const uint64_t *ids);
/* Supervisor: ids next_id .. next_id + n - 1 will never run (--resume found them run). */
DCF_MUST_CHECK int dcf_skip_locked(struct dcf_seg *sg, uint64_t n);
/*
 * Supervisor (dcf-ctl): network net's workers claim nothing while paused
 * (DCF_NONE: every network); running tasks go on. A resume wakes its
 * sleepers. -1 with EINVAL for no such network.
 */
DCF_MUST_CHECK int dcf_set_paused_locked(struct dcf_seg *sg, uint32_t net, uint32_t paused);
/* Supervisor: network net removed (1) or back (0), as dcf-status shows it; EINVAL. */
DCF_MUST_CHECK int dcf_set_removed_locked(struct dcf_seg *sg, uint32_t net, uint32_t removed);
/*
 * Supervisor (dcf-ctl cancel): task id, queued in a slot (a network's ring,
 * the recovery ring, or waiting out a retry's delay), is marked so that the
 * worker that claims it runs nothing and ends it DCF_HOW_CANCELLED. -1 with
 * ENOENT (no slot holds it), EBUSY (it runs), EALREADY (it has ended),
 * ECANCELED (cancelled already).
 * out: what the slot says of it (its counts).
 */
DCF_MUST_CHECK int dcf_cancel_locked(struct dcf_seg *sg, uint64_t id, struct dcf_done *out);
/*
 * Supervisor (dcf-ctl priority): task id, queued in a slot, goes to level
 * lvl: from its ring to the tail of the same network's (or recovery) ring
 * of that level; waiting out a retry's delay, it gets the level for when it
 * comes out. -1 with ENOENT (no slot holds it), EBUSY (it runs), EALREADY
 * (it has ended), E2BIG (too deep in its ring to take out in one
 * transaction: it moves up as others are taken), EINVAL (no such level).
 */
DCF_MUST_CHECK int dcf_reprio_locked(struct dcf_seg *sg, uint64_t id, uint32_t lvl);
/* Supervisor (dcf-ctl drain): the system takes nothing new, for dcf-status to say. */
void dcf_set_draining_locked(struct dcf_seg *sg);

/* Task slot s's payload, cfg.payload_max bytes. */
static inline unsigned char *
dcf_payload(const struct dcf_seg *sg, uint32_t s)
{
	return sg->payload + (size_t)s * sg->cfg.payload_max;
}

/* The ring of retries waiting out their delay. */
static inline uint32_t
dcf_delay_ring(const struct dcf_seg *sg)
{
	return DCF_RING_NET0 + sg->cfg.nets;
}

/*
 * Worker (node, gen), one transaction: report fin's tasks (the node's whole
 * chain, NULL or n 0 for none) completed with their results, and claim up
 * to k queued tasks (0: none), the recovery ring's first, then its
 * network's, as its new chain. 0 with out->n claimed (0 if nothing was
 * queued, or the system stops: out->stopping, and fin was still
 * completed); -1 with errno ENOENT (nothing reported and nothing to claim),
 * ESHUTDOWN (nothing reported, system stopping), ESTALE (the node, or a
 * task of fin, is not ours: nothing changed), EINVAL (fin is not the whole
 * chain: give the rest back), EBUSY (a claim with tasks in hand), EUCLEAN.
 */
DCF_MUST_CHECK int dcf_complete_claim_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen,
    pid_t pid, uint64_t now, const struct dcf_finished *fin, uint32_t k, struct dcf_claims *out);
/* The batch size for node's next claim, at most kmax (0: DCF_BATCH_MAX); see books.c. */
uint32_t dcf_batch_size_locked(struct dcf_seg *sg, uint32_t node, uint32_t kmax);
/*
 * Worker, one transaction: report fin's tasks (a prefix of its chain, maybe
 * empty) completed, and give back the rest of its chain, never started,
 * each to the head of the ring it was claimed from, in order, so others
 * take them next. ENOENT if there is no rest; errors as above.
 */
DCF_MUST_CHECK int dcf_give_back_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen,
    uint64_t now, const struct dcf_finished *fin, struct dcf_given *out);

/*
 * Worker (node, gen), one task: take the recovery ring's head, else its
 * network's. -1 with errno ENOENT (nothing), ESHUTDOWN (system stopping),
 * ESTALE (the node is not ours), EBUSY (it holds tasks), EUCLEAN.
 */
DCF_MUST_CHECK int dcf_claim_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen, pid_t pid,
    uint64_t now, struct dcf_claim *out);

/*
 * Worker: record slot's task as completed. Refused (ESTALE) unless the slot
 * is RUNNING, holds task id and is owned by (node, gen): a stale attempt can
 * never complete a task. *wake_sup: the supervisor sleeps and wants a wake.
 */
DCF_MUST_CHECK int dcf_complete_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen,
    uint32_t slot, uint64_t id, uint64_t result, int *wake_sup);

/* Supervisor: pop one DONE slot, free it, say what it was. -1 ENOENT if none. */
DCF_MUST_CHECK int dcf_retire_locked(struct dcf_seg *sg, struct dcf_done *out);
/* The same for up to max (<= DCF_SUP_BATCH) in one transaction: out[0..*n-1]. */
DCF_MUST_CHECK int dcf_retire_n_locked(struct dcf_seg *sg, uint32_t max, struct dcf_done *out,
    uint32_t *n);
/* Supervisor: the next DONE slot's task, without taking it; NULL if none. */
const struct dcf_task *dcf_done_head_locked(struct dcf_seg *sg);
/* The i-th DONE slot's task from the head; NULL if there are not that many. */
const struct dcf_task *dcf_done_peek_locked(struct dcf_seg *sg, uint32_t i);
/*
 * Supervisor: pop one DONE slot and queue its task again on ring (a
 * network's, the recovery ring or the delay ring), one more try counted.
 * out says what the run that failed was.
 */
DCF_MUST_CHECK int dcf_retry_locked(struct dcf_seg *sg, uint32_t ring, uint64_t now,
    struct dcf_done *out);

/*
 * Supervisor, after reaping node's process of generation gen: mark the node
 * DOWN and put back every task it owned (see above: one attempt, for the
 * one it ran; none, and no node failure, when max_attempts is
 * DCF_DEATH_UNCHARGED: a death the supervisor caused on purpose, dcf-ctl
 * --now). -1 with errno EINVAL (no such node)
 * or ESTALE (gen is no longer the node's: nothing changed).
 */
#define DCF_DEATH_UNCHARGED 0u
DCF_MUST_CHECK int dcf_node_died_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen,
    uint32_t max_attempts, uint64_t now, struct dcf_reclaim *out);

/* Supervisor: move the head of network net's ring to the recovery ring. */
DCF_MUST_CHECK int dcf_move_locked(struct dcf_seg *sg, uint32_t net, uint64_t now, uint64_t *id);
/*
 * Supervisor, for a network with no live node: the head of its ring
 * (ring) to the recovery ring of its level (*moved 1), or, pinned to that
 * network, to the tail of the ring it was on (*moved 0): called depth
 * times, it moves every task that may go and keeps the order of those that
 * stay. ENOENT if the ring is empty.
 */
DCF_MUST_CHECK int dcf_evacuate_locked(struct dcf_seg *sg, uint32_t ring, uint64_t now,
    uint64_t *id, int *moved);
/* Supervisor: move the head of ring from (queued, not free or done) to ring to. */
DCF_MUST_CHECK int dcf_move_ring_locked(struct dcf_seg *sg, uint32_t from, uint32_t to,
    uint64_t now, uint64_t *id);

/* Worker: about to sleep on its network's wake word; *word_val to wait on. */
DCF_MUST_CHECK int dcf_sleep_begin_locked(struct dcf_seg *sg, uint32_t node, uint32_t *word_val);
void dcf_sleep_end_locked(struct dcf_seg *sg, uint32_t node);

/* Supervisor: node forked as generation gen (restart counts a restart). */
DCF_MUST_CHECK int dcf_node_start_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen, pid_t pid,
    int restart, uint64_t now);
/*
 * Supervisor: the fork of generation gen failed. The node goes DOWN and the
 * restart dcf_node_start_locked counted is taken back: no process ran, so
 * no restart happened and no node failed. ESTALE if gen is not the node's.
 */
DCF_MUST_CHECK int dcf_node_start_failed_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen,
    int restart);
/* Worker: attached and ready. ESTALE if gen is not the node's. */
DCF_MUST_CHECK int dcf_node_ready_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen,
    uint64_t now);
/*
 * Supervisor: node (generation gen) claims nothing more, by dcf-ctl; its
 * worker finishes what it holds and exits once idle (until its next start).
 */
DCF_MUST_CHECK int dcf_node_retire_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen);
/* Supervisor: a dead or exited node's final state (FAILED or STOPPED or DOWN). */
DCF_MUST_CHECK int dcf_node_set_state_locked(struct dcf_seg *sg, uint32_t node, uint32_t state);

/* Check I1..I5; 0 or -1 with a message. */
DCF_MUST_CHECK int dcf_books_check_locked(struct dcf_seg *sg, char *err, size_t errlen);
/* After EOWNERDEAD: replay the journal, check; -1 if the books are beyond repair. */
DCF_MUST_CHECK int dcf_books_repair_locked(struct dcf_seg *sg);
/*
 * Full reset (the supervisor, with every worker dead and reaped): new lock,
 * empty journal, rings rebuilt from the task table, running tasks reclaimed,
 * nodes that were alive marked DOWN.
 * Returns how many tasks it had to reclaim or -1 if the table could not
 * account for every dispatched task (message in err).
 */
DCF_MUST_CHECK int dcf_books_reset(struct dcf_seg *sg, uint32_t max_attempts, char *err,
    size_t errlen);

/* Wake-ups, called after unlocking: for work pushed on ring, or everyone. */
void dcf_books_wake_ring(struct dcf_seg *sg, uint32_t ring);
void dcf_books_wake_all(struct dcf_seg *sg);

#endif
