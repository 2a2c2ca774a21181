/*
 * sup_cmd.h - dcf-supervisor's command mode: the input it streams into the
 * books, and what it does with each finished task (its output, its results
 * directory, its joblog line).
 *
 * The supervisor owns the lock and the loop; this part never locks and
 * never blocks: the input is read while it is ready, outputs are copied
 * while their destinations take them, and the caller polls the descriptors
 * cmd_poll names. A task's end goes through three steps, in order:
 *   retired (the books forget it) -> its output copied, in one piece, to
 *   our stdout and stderr -> its results kept and its joblog line written.
 * The finish queue between them is bounded (cmd_room): while it is full
 * the supervisor retires nothing, so a stalled reader of our standard
 * output holds completions in the books, where they are safe.
 *
 * Spool files: a worker writes its task's stdout and stderr to its node's
 * files in the spool directory, and when the run has written anything it
 * renames them to "ID.RUN.out" / "ID.RUN.err" before reporting the run
 * (RUN counts the task's runs from 1). The supervisor deletes the files of
 * a run that died or is retried, and copies (then deletes, or moves into
 * --results) those of a task's last run.
 */
#ifndef DCF_SUP_CMD_H
#define DCF_SUP_CMD_H

#include <poll.h>
#include <stdint.h>

#include "dcf/books.h"
#include "dcf/seg.h"
#include "dcf/store.h"
#include "dcf/storeq.h"
#include "dcf/supervisor.h"

struct sup_cmd;

/* What cmd_fill read: dispatch these, in order, each after its skips. */
struct cmd_item {
	uint64_t skip_before; /* ids to skip first (input --resume found run) */
	size_t off;           /* the payload, in cmd_batch.buf */
	uint32_t len;
	uint64_t id;            /* the books' id, once dispatched */
	uint32_t stored;        /* --store has it (unfinished): not added again */
	struct dcf_prior prior; /* and its counters so far */
};
struct cmd_batch {
	struct cmd_item *items;
	uint32_t n, cap;
	uint64_t skip_after; /* ids to skip after the last item */
	unsigned char *buf;
	size_t used, size;
};

/*
 * Everything command mode needs, checked and opened before the segment is
 * created: the input, the joblog (read for --resume first), the results
 * and spool directories. -1 with a one-line message; nothing is left;
 * *usage set when the command line was at fault (exit 2, not 1).
 */
int cmd_open(struct sup_cmd **out, const struct sup_opts *o, const struct dcf_config *cfg,
    int out_fd, int err_fd, int *usage, char *err, size_t errlen);
/*
 * --store: read what the store holds of this input, so that cmd_fill skips
 * every line whose task finished and runs again, counters carried, every
 * one that did not. Each line must be the command its task was, or the
 * input ends there (a store is one input's). -1 with err.
 */
int cmd_use_store(struct sup_cmd *c, struct dcf_store *st, char *err, size_t errlen);
/* Finished tasks are recorded through q, once their output is out (cmd_pump). */
void cmd_set_storeq(struct sup_cmd *c, struct dcf_storeq *q);
/* Several hosts: a task's end is fenced with the claim fn(arg, its store id) gives. */
void cmd_set_claims(struct sup_cmd *c, uint64_t (*fn)(const void *arg, uint64_t id),
    const void *arg);
/* Close it all; remove the spool directory (and what is left in it). */
void cmd_close(struct sup_cmd *c);
/* The spool directory, for the workers (opened O_PATH; inherited by fork). */
int cmd_spool_fd(const struct sup_cmd *c);

/*
 * Read up to want lines (not blocking) into the batch; 0, or -1 when
 * reading failed (said in the log: the input ends there). Sets *eof when
 * the input has ended: every line read is in this batch or an earlier one.
 */
int cmd_fill(struct sup_cmd *c, uint32_t want, struct cmd_batch *b, int *eof);
/*
 * Room for one more item of up to need bytes, after skip skipped ids: the
 * item is items[n], at buf + used, of length 0 until the caller fills it
 * and counts it (n++, used += len). -1 with errno ENOMEM.
 */
int cmd_batch_item(struct cmd_batch *b, uint64_t skip, size_t need);
/* The batch was dispatched: empty it. */
void cmd_batch_reset(struct cmd_batch *b);
void cmd_batch_free(struct cmd_batch *b);

/*
 * A task's last run ended (d: what the retire said) or it was
 * quarantined (d->out.how == DCF_HOW_NONE and quarantined set): queue its
 * output, results and joblog line. Reads the slot's payload: call before
 * the slot can be dispatched again.
 */
void cmd_finished(struct sup_cmd *c, const struct dcf_seg *sg, const struct dcf_done *d,
    uint32_t net, uint32_t node, int quarantined);
/* A run that will not count (its worker died, or it is retried): drop its files. */
void cmd_drop_run(struct sup_cmd *c, uint64_t id, uint32_t run);
/*
 * How many tasks may be retired now: the finish queue's room, less a
 * reserve of a task slot's worth for quarantines, which cannot wait.
 */
int cmd_room(const struct sup_cmd *c);
/* Move finished tasks along as far as the destinations take them now. */
void cmd_pump(struct sup_cmd *c);
/* The reader of our standard output has gone (EPIPE): nobody wants the rest. */
int cmd_output_closed(const struct sup_cmd *c);
/* The end came with finished tasks not written out: count them lost. */
void cmd_abandon(struct sup_cmd *c);
/* Nothing left to copy or write. */
int cmd_idle(const struct sup_cmd *c);
/* Which descriptors to poll, and for what (at most 3); returns how many. */
int cmd_poll(const struct sup_cmd *c, int want_input, struct pollfd *pfd);
/* The stderr copy is to the log's descriptor and under way: hold the log. */
int cmd_holds_log(const struct sup_cmd *c);

/* For the summary. */
struct cmd_stats {
	uint64_t lines;       /* input lines read */
	uint64_t resumed;     /* skipped: --resume (or --store) found them run */
	uint64_t rerun;       /* --store had them unfinished: they run again */
	uint64_t rejected;    /* could not become a task (too long, a NUL byte) */
	uint64_t out_lost;    /* tasks whose output could not be copied */
	uint64_t joblog_lost; /* joblog lines that could not be written */
	uint64_t kept_lost;   /* tasks whose --results could not all be kept */
	int input_error;      /* reading the input failed: it ended early */
	int out_closed;       /* our standard output's reader is gone (EPIPE) */
};
void cmd_stats(const struct sup_cmd *c, struct cmd_stats *st);

#endif
