/*
 * layout.h - the shared segment: every type that lives in shared memory.
 *
 * One POSIX shared-memory segment per running system, named "/dcf-NAME".
 * Nothing here holds a pointer: regions are found by offsets in the header,
 * slots by 32-bit indices, and every index read back is bounds-checked.
 *
 * Segment map (every region 64-byte aligned):
 *
 *   struct dcf_hdr                 magic + format at offset 0, config, counters,
 *                                  the lock and the redo journal
 *   struct dcf_net    [nets]       per network: wake word, sleepers, alive
 *   struct dcf_ring   [rings]      ring control blocks (see ring.h)
 *   uint32_t          [rings*cap]  ring slots: task-slot indices
 *   struct dcf_task   [task_slots] the task table (recycled slots)
 *   struct dcf_node   [max_nodes]  the node-status table
 *   char [task_slots * payload_max]  command tasks: each slot's command;
 *                                  task functions: input, then output
 *
 * LOCK ORDER: there is one lock, hdr->lock (a robust, process-shared,
 * error-checking mutex). It guards every ring, every task slot, the
 * task-related fields of every node, the counters and the journal. Nothing
 * else is ever locked, so there is no order to get wrong. The fields that
 * are written without it are marked "lock-free" below.
 *
 * CRASH SAFETY: every change made under the lock is a transaction (tx.h): the
 * holder first writes a redo record of absolute stores into hdr->wal, then
 * applies it, then clears it. A holder SIGKILLed at any instruction leaves
 * either no record (nothing happened) or a complete record, which the next
 * locker re-applies (the stores are idempotent) before calling
 * pthread_mutex_consistent(). Between transactions the invariants in
 * books.h hold.
 */
#ifndef DCF_LAYOUT_H
#define DCF_LAYOUT_H

#include <pthread.h>
#include <stdint.h>

#define DCF_MAGIC          0x31306d6873666364ULL /* "dcfshm01" */
#define DCF_LAYOUT_VERSION 13u
#define DCF_NAME_MAX       32 /* instance name, without NUL */
#define DCF_NONE           UINT32_MAX

#define DCF_MAX_NETS       256
#define DCF_MAX_NODES      8192
#define DCF_MAX_TASK_SLOTS (1u << 20)
/*
 * Batches. A worker claims up to DCF_BATCH_MAX tasks in one transaction and
 * completes them in one (books.h); the supervisor dispatches and retires up
 * to DCF_SUP_BATCH per transaction. The journal holds the largest of them:
 * a worker's complete + claim of DCF_BATCH_MAX each, 12 stores a task and
 * fewer than 48 more (books.c checks every bound at compile time). 128 and
 * 256, not 32 and 64: a third of the transactions at no-op tasks (libpool,
 * farm-bench median 0.83x the wall time), even at 150 workers and 4 KiB.
 */
#define DCF_BATCH_MAX   128
#define DCF_SUP_BATCH   256
#define DCF_WAL_MAX     (12 * DCF_BATCH_MAX + 48) /* stores in one transaction */
#define DCF_PAYLOAD_MAX (2u << 20)                /* bytes of one slot's payload, at most */

/*
 * Priorities: a task's priority P is DCF_PRIO_MIN..DCF_PRIO_MAX, higher
 * first; in the books it is its level, P - DCF_PRIO_MIN (task.prio), and
 * every level has its own queues: a recovery ring and one ring per network.
 * A worker claims from the highest level that has work, and within a level
 * the recovery ring's first (reclaimed tasks go before new ones).
 */
#define DCF_PRIO_MIN      (-4)
#define DCF_PRIO_MAX      4
#define DCF_LEVELS        (DCF_PRIO_MAX - DCF_PRIO_MIN + 1)
#define DCF_LEVEL_DEFAULT ((uint32_t)-DCF_PRIO_MIN) /* priority 0 */

/*
 * Rings. The default level's come first, at fixed numbers, so a system that
 * never uses priorities looks as it always did: network n's ring is
 * DCF_RING_NET0 + n. Ring DCF_RING_NET0 + nets holds retries waiting out
 * --retry-delay (dcf_delay_ring): queued, never claimed. The other levels'
 * rings follow, nets + 1 each, recovery first (dcf_ring_of).
 */
enum dcf_ring_id {
	DCF_RING_FREE = 0,     /* free task slots */
	DCF_RING_DONE = 1,     /* completed, not yet logged and retired */
	DCF_RING_RECOVERY = 2, /* the default level's reclaimed tasks, and tasks no network took */
	DCF_RING_NET0 = 3
};
#define DCF_MAX_RINGS (DCF_RING_NET0 + (DCF_MAX_NETS + 1) * DCF_LEVELS)

enum dcf_task_state {
	DCF_TASK_FREE = 0,
	DCF_TASK_QUEUED = 1,  /* in ring t->queue */
	DCF_TASK_RUNNING = 2, /* owned by (owner_node, owner_gen) */
	DCF_TASK_DONE = 3,    /* completed; in the done ring */
	DCF_TASK_NSTATES
};

/* Task flags. */
#define DCF_TASK_F_RECOVERY  1u /* the current run was picked up from the recovery ring */
#define DCF_TASK_F_CANCELLED 2u /* dcf-ctl cancel: its next claim runs nothing, ends it CANCELLED */
#define DCF_TASK_F_KILLED    4u /* dcf-ctl kill signalled its run: never retried */

enum dcf_node_state {
	DCF_NODE_EMPTY = 0,    /* slot not in use */
	DCF_NODE_STARTING = 1, /* forked, not yet attached */
	DCF_NODE_IDLE = 2,
	DCF_NODE_BUSY = 3,
	DCF_NODE_DOWN = 4,    /* dead, waiting for its downtime */
	DCF_NODE_FAILED = 5,  /* given up on: restart limit reached */
	DCF_NODE_STOPPED = 6, /* exited at shutdown */
	DCF_NODE_NSTATES
};

/* A node with a live process: STARTING, IDLE or BUSY (the one definition). */
static inline int
dcf_node_alive(uint32_t state)
{
	return state == DCF_NODE_STARTING || state == DCF_NODE_IDLE || state == DCF_NODE_BUSY;
}

/* What a task is: synthetic work (the demo), or the user's command. */
enum dcf_work {
	DCF_WORK_SLEEP = 0,
	DCF_WORK_CPU = 1,
	DCF_WORK_NONE = 2,
	DCF_WORK_CMD = 3,
	DCF_WORK_FN = 4 /* libdcf: the embedding program's task function (dcf.h) */
};

/* cfg.tasks of a run fed by a stream: the total is known when the input ends. */
#define DCF_TASKS_STREAM UINT64_MAX

/* A worker waiting in the kernel for its command stores this heartbeat:
 * the command's run time is --timeout's business, not the hang watchdog's. */
#define DCF_BEAT_IN_CMD UINT64_MAX

/* How a command's run ended (struct dcf_outcome.how). */
enum dcf_how {
	DCF_HOW_NONE = 0,      /* synthetic work: it completed */
	DCF_HOW_OK = 1,        /* exit status 0 */
	DCF_HOW_EXIT = 2,      /* a non-zero exit status */
	DCF_HOW_SIGNAL = 3,    /* killed by a signal */
	DCF_HOW_TIMEOUT = 4,   /* ran past --timeout and was killed */
	DCF_HOW_NOEXEC = 5,    /* could not be executed: 127 not found, 126 not runnable */
	DCF_HOW_OVERSIZE = 6,  /* a task function said it wrote more than out_max bytes */
	DCF_HOW_CANCELLED = 7, /* dcf-ctl cancel, before it ran: nothing was run */
	DCF_HOW_NSTATES
};

/* What a sleeping supervisor wants to hear of (hdr->sup_waiting). */
#define DCF_SUP_WAKE_DONE  1u /* a completion */
#define DCF_SUP_WAKE_CLAIM 2u /* a claim too: it logs every start */

enum dcf_sys_state {
	DCF_SYS_RUNNING = 0,
	DCF_SYS_STOPPING = 1, /* no new claims; workers exit when idle */
	DCF_SYS_RESET = 2,    /* full reset in progress: workers exit */
	DCF_SYS_ENDED = 3     /* the supervisor is done; end_code is its exit status */
};

/* The run's configuration, fixed at creation. */
struct dcf_config {
	uint32_t nets;
	uint32_t nodes_per_net;
	uint32_t max_nodes;  /* node table size; >= nets * nodes_per_net */
	uint32_t task_slots; /* task table size, a power of two */
	uint64_t tasks;      /* tasks in this run: ids 0 .. tasks-1 */
	uint32_t task_ms_min, task_ms_max;
	uint32_t downtime_ms_min, downtime_ms_max;
	uint32_t work; /* enum dcf_work */
	uint32_t max_attempts;
	uint32_t max_restarts;
	uint32_t restart_window_s;
	uint32_t hang_timeout_ms;
	uint32_t grace_ms;
	uint64_t seed;
	uint64_t fail_rate_ppm; /* crashes per node per 10^6 s */
	uint64_t cpu_iters_per_ms;
	/* Command tasks (work DCF_WORK_CMD). */
	uint32_t payload_max;    /* bytes of command per task slot; 0 for synthetic work */
	uint32_t retries;        /* reruns of a command that failed or timed out */
	uint32_t retry_delay_ms; /* before each rerun */
	uint32_t timeout_ms;     /* a run's time limit; 0: none */
	uint32_t kill_after_ms;  /* after the timeout's SIGTERM, SIGKILL this much later */
	/* Task functions (work DCF_WORK_FN): a slot's payload is its input, then
	 * its output of up to out_max bytes, written by the worker that runs it,
	 * at dcf_out_off (16-byte aligned, as every slot is). */
	uint32_t out_max;
};

/* Where a task function's output starts in its slot's payload. */
static inline uint32_t
dcf_out_off(const struct dcf_config *c)
{
	return c->payload_max - ((c->out_max + 15u) & ~15u);
}

/* Global counters, changed only by transactions. */
struct dcf_counters {
	/* The next id to dispatch in order; with ids given (a service), one past the highest. */
	uint64_t next_id;
	uint64_t dispatched; /* tasks given a slot */
	uint64_t running;
	uint64_t completed;
	uint64_t quarantined;
	uint64_t reclaimed;
	uint64_t retired;     /* completions logged by the supervisor */
	uint64_t to_recovery; /* dispatched to the recovery ring for want of a node */
	uint64_t failures;    /* node deaths */
	uint64_t restarts;
	uint64_t claims;  /* runs started: every claim, reclaimed ones again */
	uint64_t repairs; /* EOWNERDEAD repairs done */
	uint64_t resets;  /* full resets done */
	/* Ended for good, counted at retire (synthetic work counts as succeeded). */
	uint64_t succeeded;
	uint64_t failed;    /* a non-zero exit, a signal, or not executable, after its retries */
	uint64_t timed_out; /* after its retries */
	uint64_t retried;   /* reruns queued */
	uint64_t skipped;   /* ids never dispatched: input --resume found already run */
	uint64_t cancelled; /* ended by dcf-ctl cancel before they ran */
};

/*
 * A histogram of durations for dcf-web's /metrics: count of each bucket
 * (not cumulative; the last has no bound) and the sum. Statistics, not
 * books: the supervisor alone writes them, after the retire's commit and
 * outside the journal, so a crash may lose a sample but never counts one
 * twice, and a reader may see them torn against each other.
 */
#define DCF_HIST_BUCKETS 12
struct dcf_hist {
	uint64_t bucket[DCF_HIST_BUCKETS];
	uint64_t sum_ns;
};

/* Upper bounds of buckets 0 .. DCF_HIST_BUCKETS - 2, ns: 1 ms to 5 min. */
static inline uint64_t
dcf_hist_bound_ns(unsigned b)
{
	static const uint64_t ms[DCF_HIST_BUCKETS - 1] = {1, 5, 10, 50, 100, 500, 1000, 5000, 10000,
	    60000, 300000};

	return ms[b] * 1000000ULL;
}

struct dcf_wal_ent {
	uint32_t off;   /* from the segment base */
	uint32_t width; /* 4 or 8 */
	uint64_t val;
};

/*
 * The redo journal. n == 0: no transaction in flight. n > 0: entries
 * e[0..n-1] are complete and must all be applied. n is stored last (release)
 * when publishing and cleared (release) after applying.
 */
struct dcf_wal {
	uint32_t n;
	uint32_t op; /* enum dcf_op, for diagnostics */
	uint64_t txid;
	struct dcf_wal_ent e[DCF_WAL_MAX];
};

/*
 * Per network. wake is the futex word idle workers of this network sleep
 * on: bumped (under the lock) whenever work arrives for them. sleepers counts
 * workers between "found nothing" and "woke up" (under the lock; the
 * supervisor subtracts a dead sleeper when it reaps it).
 */
struct dcf_net {
	uint32_t wake;
	uint32_t sleepers;
	uint32_t alive; /* nodes STARTING, IDLE or BUSY; supervisor-owned */
	/* lock-free, a hint never journaled: sleepers a futex_wake reported
	 * woken that have not checked in yet (books.c: want_wake). */
	uint32_t woken;
	uint64_t completed;
	uint64_t run_avg_ns; /* moving average of its tasks' run time; 0: none yet */
	/* dcf-ctl pause: its workers claim nothing (running tasks go on); by transactions. */
	uint32_t paused;
	/* dcf-ctl remove-network (or beyond --networks, up to --max-networks): no task is
	 * placed here and its nodes are stopped; by transactions. */
	uint32_t removed;
	uint64_t pad[3];
};

/*
 * How a command's run ended. Written by the worker that owns the RUNNING
 * slot, outside the lock and before the completion that publishes it (the
 * owner is the only writer: a slot is reclaimed only after its owner is
 * reaped); read by the supervisor once the slot is DONE.
 */
struct dcf_outcome {
	uint32_t how; /* enum dcf_how */
	int32_t exit_code;
	uint32_t term_sig;
	uint32_t exec_errno;
	uint64_t start_wall_ns; /* CLOCK_REALTIME */
	uint64_t run_ns;
	uint64_t cpu_us;    /* the whole process tree's */
	uint64_t maxrss_kb; /* the largest of its processes' */
	uint64_t out_bytes; /* spooled standard output and error */
	uint64_t err_bytes;
};

struct dcf_task {
	uint64_t id;          /* task id, < cfg.tasks; a command's sequence number is id + 1 */
	uint32_t state;       /* enum dcf_task_state */
	uint32_t queue;       /* ring id while QUEUED */
	uint32_t owner_node;  /* node slot while RUNNING or DONE */
	uint32_t owner_gen;   /* that node's generation */
	int32_t owner_pid;    /* a label for people, never an identity */
	uint32_t attempts;    /* runs that ended with the worker dead */
	uint32_t kind;        /* enum dcf_work */
	uint32_t prio;        /* its level (DCF_PRIO_MIN above: 0 is the lowest) */
	uint32_t arg_ms;      /* duration */
	uint32_t flags;       /* DCF_TASK_F_* of its current run */
	uint64_t result;      /* cpu work: the value the supervisor checks */
	uint64_t t_queued_ns; /* CLOCK_MONOTONIC */
	uint64_t t_started_ns;
	uint32_t payload_len; /* command tasks: bytes of the slot's payload */
	uint32_t runs;        /* claims: the number of the current (or last) run */
	uint32_t tries;       /* runs that failed or timed out and were retried */
	uint32_t next_owned;  /* RUNNING: the next slot of its owner's chain, or DCF_NONE */
	/* Command tasks: what each brings (dcf-submit gives them per task). */
	uint32_t timeout_ms; /* 0: cfg.timeout_ms */
	uint32_t retries;    /* failed runs rerun at most this often */
	uint32_t argv_len;   /* the payload's argv; any bytes after it: its working directory */
	uint32_t pin; /* dcf-submit --network: that network + 1, its own rings only; 0: any */
	struct dcf_outcome out;
};

/*
 * The node table. Identity (net, idx) never changes for a slot; gen is
 * bumped by the supervisor at every fork of that slot and is what ownership
 * is checked against. pid is a label.
 */
struct dcf_node {
	uint32_t net;
	uint32_t idx;   /* node number inside its network */
	uint32_t state; /* enum dcf_node_state */
	uint32_t gen;
	int32_t pid;
	/*
	 * The tasks it owns: a chain of `held` RUNNING slots, task_slot its head
	 * (DCF_NONE when idle), each slot's next_owned the next, in the order
	 * the worker runs them. run_slot is the one it runs now: set to the head
	 * by the claim, then moved along the chain by the worker alone, without
	 * the lock (lock-free), as are task_id, from_recovery and busy_since_ns,
	 * which describe the task it runs now.
	 */
	uint32_t task_slot;
	uint64_t task_id;
	uint32_t sleeping;      /* counted in its network's sleepers */
	uint32_t from_recovery; /* current task came from the recovery ring */
	uint64_t completed;
	uint64_t failures;
	uint64_t restarts;
	uint64_t busy_since_ns;
	uint64_t heartbeat_ns; /* lock-free: the worker's last sign of progress */
	uint32_t held;         /* slots on its chain */
	uint32_t run_slot;     /* lock-free (see above): DCF_NONE when idle */
	/*
	 * dcf-ctl kill, lock-free: the supervisor stores kill_sig, then
	 * kill_task (task id + 1, release), then sends the worker SIGUSR1; the
	 * worker signals its command's tree with kill_sig (taken, exchanged with
	 * 0) only if kill_task is the task it runs now.
	 */
	uint64_t kill_task;
	uint32_t kill_sig;
	/* dcf-ctl scale, stop-node: it claims nothing more; its worker exits once idle. */
	uint32_t retire;
};

struct dcf_hdr {
	uint64_t magic;  /* offset 0, stored last at creation */
	uint64_t format; /* dcf_layout_format() */
	uint64_t size;   /* whole segment, bytes */
	uint32_t uid;    /* owner */
	int32_t sup_pid;
	uint64_t sup_start;  /* the supervisor's start time, clock ticks since boot */
	uint64_t created_ns; /* CLOCK_REALTIME */
	uint64_t created_mono_ns;
	char name[DCF_NAME_MAX + 1];
	char pad0[7];
	struct dcf_config cfg;
	/* Region offsets and counts. */
	uint64_t off_nets, off_rings, off_ring_slots, off_tasks, off_nodes, off_payload;
	uint32_t nrings;
	uint32_t ring_cap;
	/* lock-free */
	uint32_t sys_state;   /* enum dcf_sys_state; written under the lock */
	uint32_t sup_waiting; /* supervisor asleep: DCF_SUP_WAKE_* it wants a wake for */
	uint32_t end_code;    /* DCF_SYS_ENDED: the supervisor's exit status */
	/* With sup_waiting DCF_SUP_WAKE_DONE: wake it once the done ring holds this
	 * many, or a worker finds nothing more to claim (0 or 1: at the first). */
	uint32_t sup_wake_done;
	/* dcf-ctl drain: no new submissions; the supervisor ends once all is done. By
	 * transactions, for dcf-status. */
	uint32_t draining;
	uint32_t pad1;
	uint64_t total; /* tasks in the run; DCF_TASKS_STREAM until a stream ends */
	uint64_t seq;   /* seqlock: odd while a transaction applies */
	/*
	 * Several hosts (lock-free, the supervisor's to write): this host's
	 * leases hold until then (CLOCK_MONOTONIC), a third of a lease before
	 * the database lets another host take its tasks; a worker whose run
	 * goes past it (its supervisor stopped, or cut off) kills the run and
	 * exits. 0: no lease.
	 */
	uint64_t lease_mono_ns;
	struct dcf_counters cnt;
	/* Ended tasks' run times and queue waits (the last run's): statistics, see dcf_hist. */
	struct dcf_hist h_run, h_wait;
	pthread_mutex_t lock __attribute__((aligned(64)));
	struct dcf_wal wal __attribute__((aligned(64)));
} __attribute__((aligned(64)));

/* Ring control block; slots live in the ring-slot region at slots_off. */
struct dcf_ring {
	uint32_t head;      /* free-running; next to pop */
	uint32_t tail;      /* free-running; next to push */
	uint32_t mask;      /* capacity - 1, capacity a power of two */
	uint64_t slots_off; /* from the segment base */
	uint64_t pad[6];
};

uint64_t dcf_layout_format(void);

/* How many rings a system of nets networks has. */
static inline uint32_t
dcf_nrings(uint32_t nets)
{
	return DCF_RING_NET0 + (nets + 1) * DCF_LEVELS;
}

/* Level lvl's ring for network net, or its recovery ring (net DCF_NONE). */
static inline uint32_t
dcf_ring_of(uint32_t nets, uint32_t lvl, uint32_t net)
{
	uint32_t base;

	if (lvl == DCF_LEVEL_DEFAULT)
		base = DCF_RING_RECOVERY;
	else
		base = DCF_RING_NET0 + nets + 1 +
		    (lvl < DCF_LEVEL_DEFAULT ? lvl : lvl - 1) * (nets + 1);
	return net == DCF_NONE ? base : base + 1 + net;
}

/*
 * What ring r is: 0 with its level and network (DCF_NONE: the level's
 * recovery ring) for a queue workers claim from, -1 for any other ring
 * (free, done, delay, or none).
 */
static inline int
dcf_ring_what(uint32_t nets, uint32_t r, uint32_t *lvl, uint32_t *net)
{
	uint32_t k, i;

	if (r < DCF_RING_RECOVERY || r == DCF_RING_NET0 + nets || r >= dcf_nrings(nets))
		return -1;
	if (r < DCF_RING_NET0 + nets) {
		*lvl = DCF_LEVEL_DEFAULT;
		*net = r == DCF_RING_RECOVERY ? DCF_NONE : r - DCF_RING_NET0;
		return 0;
	}
	k = r - (DCF_RING_NET0 + nets + 1);
	i = k / (nets + 1);
	*lvl = i < DCF_LEVEL_DEFAULT ? i : i + 1;
	*net = k % (nets + 1) == 0 ? DCF_NONE : k % (nets + 1) - 1;
	return 0;
}

#endif
