/*
 * svc.h - service mode (dcf-supervisor --serve): the Unix socket that
 * dcf-submit talks to (proto.h), the submissions on their way to the store,
 * the committed tasks waiting for a slot, and the clients waiting for an
 * outcome.
 *
 * A submission becomes a task in three steps, in order:
 *   staged (an id given, the add in the committer's next batch) ->
 *   committed (the store has it: its ACK is sent, and only now) ->
 *   ready (in memory, in id order, until the supervisor dispatches it).
 * Ids are given in order and committed in order, so the ready queue is in
 * id order and a task's books id is its id - 1 (svc_fill says what to
 * skip): the log's Task-N, $DCF_TASK_ID and the store agree.
 *
 * Memory is bounded: at most SVC_WINDOW tasks are ready in memory; past
 * that, committed tasks stay in the store alone (spilled) and are read back
 * in id order as the queue drains, as they are at a restart.
 *
 * Nothing here blocks: the socket and every connection are non-blocking,
 * and the supervisor polls what svc_poll names. The store is read (a
 * restart's window, a WAIT for a finished task) through a read-only handle
 * of its own; it is written only through the committer (storeq.h).
 */
#ifndef DCF_SVC_H
#define DCF_SVC_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "dcf/proto.h"
#include "dcf/store.h"
#include "dcf/storeq.h"
#include "dcf/sup_cmd.h"
#include "dcf/supervisor.h"

#define SVC_WINDOW   8192u /* ready tasks held in memory at most */
#define SVC_MAX_CONN 256u  /* connections at once; more wait in the listen queue */
/* Several hosts: short tasks are claimed about this much work ahead, at most SVC_HOLD_MAX. */
#define SVC_HOLD_NS    500000000ULL
#define SVC_HOLD_MAX   1024u
#define SVC_RATE_NS    250000000ULL /* the window the rate of ends is measured over */
#define SVC_SHORT_RATE 20.0         /* ends a second a node, from which tasks are short */

/* What svc_open reports of a restart. */
struct svc_start {
	uint64_t unfinished; /* tasks the store had unfinished */
	uint64_t rerun;      /* of which were running when the last supervisor died */
	uint64_t next_id;    /* the id the next submission gets */
};

struct svc;

/*
 * The socket's and the store's default paths for instance name:
 * $XDG_RUNTIME_DIR/dcf/NAME.sock (or /run/dcf/ for root), and
 * $XDG_STATE_HOME/dcf/NAME.db (or ~/.local/state/dcf/, /var/lib/dcf/ for
 * root). Either may be NULL. -1 with err when there is nowhere to put them.
 */
int svc_paths(const char *name, char *sock, size_t socklen, char *store, size_t storelen, char *err,
    size_t errlen);
/*
 * Where a store's tasks' output is kept: FILE.out beside an SQLite file;
 * for a PostgreSQL store (a URL), this host's, the default store path of
 * instance name with .out. -1 with err.
 */
int svc_outdir(const char *store, const char *name, char *buf, size_t len, char *err,
    size_t errlen);
/*
 * Make the directory of path private (0700, ours; made if missing, with
 * its parents when how has SVC_DIR_PARENTS), refusing one that is not a
 * directory, not ours, or open to others (SVC_DIR_PASSABLE: others may
 * pass through it, as --allow-user's socket directory lets them: 0711).
 * -1 with err.
 */
#define SVC_DIR_PARENTS  1
#define SVC_DIR_PASSABLE 2
int svc_private_dir(const char *path, int how, char *err, size_t errlen);

/*
 * Bind the socket (a stale one of a dead supervisor of this name is
 * replaced; a live one refused) and read the store: its next id and its
 * first window of unfinished tasks. -1 with err; nothing left behind.
 */
int svc_open(struct svc **out, const struct sup_opts *o, const struct dcf_config *cfg,
    struct svc_start *st, char *err, size_t errlen);
/*
 * From now on stage through q; the tasks a dead supervisor had running are
 * recorded as queued again, their attempt counted.
 */
void svc_set_storeq(struct svc *v, struct dcf_storeq *q);
/*
 * dcf-ctl's requests (proto.h, CTL) are carried out by fn: 0 with a line
 * saying what it did in text, -1 with one saying why nothing was done, or
 * 1: text is the answer once the end of task *after is committed (its
 * waiters are told then too).
 */
typedef int (
    *svc_ctl_fn)(void *arg, const struct dcf_msg *m, char *text, size_t textlen, uint64_t *after);
void svc_set_ctl(struct svc *v, svc_ctl_fn fn, void *arg);
/* Where dcf-ctl cancel found task id (svc_cancel). */
enum svc_where {
	SVC_NOTASK,  /* no such task (never given, or pruned) */
	SVC_PENDING, /* submitted, not committed yet */
	SVC_ENDED,   /* finished (*state says how), or cancelled already */
	SVC_HANDED,  /* given to the books: cancel it there (dcf_cancel_locked) */
	SVC_DROPPED, /* waiting in memory or in the store alone: it will never run */
	SVC_RUNNING, /* in the store alone, running when the last supervisor died */
	SVC_FAILED,  /* the store could not be read, or out of memory: nothing changed */
	SVC_MOVED,   /* svc_reprio: in memory, at its new priority */
	/* Several hosts (not in this host's memory or books): */
	SVC_ELSEWHERE, /* another host holds it (svc_holder): ask it (dcf_storeq_ask) */
	SVC_STORED,    /* in the store, held by none: its row alone changes (fenced) */
};
/*
 * Cancel task id where svc holds it (SVC_DROPPED); else say where it is.
 * t: its id, state (SVC_ENDED: DCF_SS_NSTATES if cancelled already) and
 * counts, for the caller to record its end in the store.
 */
enum svc_where svc_cancel(struct svc *v, uint64_t id, struct dcf_store_task *t);
/*
 * dcf-ctl priority: task id to priority prio where svc holds it (SVC_MOVED:
 * in memory, where it stays until it is dispatched; its record in the
 * store is the caller's to stage); else say where it is. t: its state and
 * its old priority.
 */
enum svc_where svc_reprio(struct svc *v, uint64_t id, int32_t prio, struct dcf_store_task *t);
/*
 * dcf-ctl priority on task id, handed to the books: never read in from
 * the store again (its record will say another priority) until its end is
 * committed. -1 out of memory: nothing may change then.
 */
int svc_pin(struct svc *v, uint64_t id);
/*
 * Several hosts: the host holding task id as the store says now, into
 * owner (empty: none), and its state: 1, 0 no such task, -1 the store
 * could not be read (logged). What SVC_ELSEWHERE found is there too.
 */
int svc_holder(struct svc *v, uint64_t id, char *owner, size_t len, uint32_t *state);
/* The last SVC_ELSEWHERE's holder. */
const char *svc_elsewhere(const struct svc *v);
/* 1 while a request another host left here is carried out: it is not passed on again. */
int svc_asking(const struct svc *v);
/* When the next delayed task is due (CLOCK_REALTIME ns), or UINT64_MAX. */
uint64_t svc_next_due(const struct svc *v);
/* The id the next submission gets: every id below it was given. */
uint64_t svc_next_id(const struct svc *v);
/* From now on every submission is refused (DCF_PE_DRAINING); waits are answered. */
void svc_drain(struct svc *v);
/* Nothing staged, committed and waiting, or left in the store to run: 1. */
int svc_idle(const struct svc *v);
/* The descriptors to poll (at most 1 + SVC_MAX_CONN), in pfd; how many. */
int svc_poll(struct svc *v, struct pollfd *pfd, int max);
/* Accept, read and answer what can be now; never blocks. */
void svc_io(struct svc *v);
/* The committer's word on one item (storeq collect's callback). */
void svc_committed(void *v, const struct dcf_storeq_res *r);
/*
 * Up to want ready tasks into b, in id order, each with its skip and what
 * it brings (cmd_item.prior); stored is set (the store has them).
 */
void svc_fill(struct svc *v, uint32_t want, struct cmd_batch *b);
/*
 * Several hosts on one store: the claim this host holds task id by (what
 * its start, requeue and end are fenced with); 0 if none (v NULL: none).
 */
uint64_t svc_claim_of(const struct svc *v, uint64_t id);
/* Stopping: no new connection or submission; what is staged still gets its answer. */
void svc_stop(struct svc *v);
/* Close everything and remove the socket. */
void svc_close(struct svc *v);

#endif
