/*
 * supervisor.c - dcf-supervisor: forks the worker nodes, feeds the books,
 * logs completions, reaps the dead, reclaims their tasks, restarts them.
 *
 * The supervisor keeps a private table of what it forked (pid, generation,
 * state, crash history) and trusts it over anything in shared memory. It
 * sleeps in poll(2) on a signalfd (every asynchronous signal: see
 * note_signal for what each means), an eventfd that workers write when they
 * complete a task while the supervisor sleeps, a timerfd set to the next
 * deadline (restarts, the hang watchdog, the shutdown grace, the progress
 * line), and the log descriptor while log lines wait to be written.
 *
 * It never blocks without a bound on anything another process controls:
 * the books' lock is taken in slices (sup_lock, lock.h), the log is a queue
 * written without blocking (log.h), children are reaped with WNOHANG and a
 * full reset waits for its killed workers through the same loop.
 *
 * Each node slot has one state machine, driven only from here:
 *   RUN -(exit)-> DOWN -(restart_at)-> RUN, or -> FAILED (restart
 *   intensity) or -> STOPPED (shutdown); a failed fork counts as a crash.
 * A full reset is a mode of the whole system, not of a node: every RUN node
 * is killed and goes DOWN as it is reaped; when none is left the books are
 * rebuilt and every DOWN node restarts. Nothing forks while it lasts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dcf/books.h"
#include "dcf/exec.h"
#include "dcf/inject.h"
#include "dcf/lock.h"
#include "dcf/ring.h"
#include "dcf/util.h"
#include "dcf/store.h"
#include "dcf/storeq.h"
#include "dcf/sup_cmd.h"
#include "dcf/supervisor.h"
#include "dcf/svc.h"

#define MS           1000000ULL
#define RETIRE_BATCH 256
/* Log budget of one completion line (timestamp, names, ids, tty prefix). */
#define RETIRE_LINE 160
/* The log queue: room for many batches while the destination is slow. */
#define LOG_QUEUE_CAP (4u << 20)
/* The shortest wait between two fork attempts of one node. */
#define FORK_RETRY_MS 100
/* The progress line goes through the log (the log is that terminal). */
#define PROGRESS_IN_LOG (-2)

enum sn_state { SN_RUN, SN_DOWN, SN_FAILED, SN_STOPPED };

/* The supervisor's own record of one node: what it forked, not what shm says. */
struct sup_node {
	uint32_t net, idx; /* identity, derived from the slot: never read back from shm */
	pid_t pid;         /* 0 when no process */
	uint32_t gen;
	enum sn_state st;
	uint64_t restart_at; /* SN_DOWN: when to fork again */
	uint64_t stopped_at; /* SIGSTOPped since, 0 if running */
	uint64_t *crashes;   /* ring of recent crash times, max_restarts + 1 */
	uint32_t ncrash;
	int hang_killed;
	/* Reaped, its death not booked yet: its task's tree is still being killed. */
	int dying;
	pid_t dead_pid;
	int dead_status;
	/* The last run whose start the log has told: (generation, task id). */
	uint32_t told_gen;
	uint64_t told_id;
	int start_open; /* that start told, its end not yet: a batch's next waits for it */
	/* dcf-ctl: */
	int retiring; /* scale down, stop-node: STOPPED once its worker has gone */
	int killed;   /* --now: its worker was killed by us, its task not to blame */
	int again;    /* restart-node: and then started again at once */
	int once;     /* no-restart: STOPPED, not restarted, when its worker goes */
};

/* What the log says of a round of the books, in the order it happened. */
enum ev_kind { EV_START, EV_DONE, EV_WRONG, EV_RETRY, EV_UNREPORTED };
struct sup_event {
	uint8_t kind;
	uint8_t from_recovery;
	uint32_t node;
	uint32_t runs; /* EV_START: the run's number */
	uint64_t id;
	struct dcf_done d; /* command mode: how the run ended */
};

struct sup {
	struct sup_opts *o;
	struct dcf_config *cfg;
	struct dcf_seg sg;
	struct sup_node *nodes;
	uint32_t nnodes;
	uint32_t *alive; /* per network: nodes with a live process */
	int sfd, efd, tfd;
	int tty;         /* a progress line is kept on a terminal */
	int progress_fd; /* where: PROGRESS_IN_LOG, a terminal, or -1 */
	struct dcf_rng rng;
	uint64_t t0;
	int stopping;      /* 0, or the signal that asked (or -1: all done) */
	int sigs;          /* how many INT/TERM seen */
	int last_stop_sig; /* the last INT, TERM, HUP or QUIT, or 0 */
	int stop_killed;   /* the stop killed the workers still running (grace over, or at once) */
	uint64_t grace_at;
	uint64_t next_hang_check;
	uint64_t next_progress;
	uint64_t bad_results;
	int failed_run; /* unrecoverable: exit 1 */
	pid_t self;
	int out_fd;           /* our own non-blocking description of stdout */
	int err_fd;           /* and of stderr, when the log goes elsewhere; or -1 */
	int resetting;        /* a full reset waits for its killed workers */
	int stop_req;         /* a stop signal not yet acted on */
	int progress_req;     /* SIGUSR1: log a progress line */
	uint64_t epoch_ns;    /* no hang clock runs before this: set on SIGCONT and
	                    * after everyone waited behind a stuck lock holder */
	pid_t lock_named;     /* a foreign lock holder already named in the log */
	uint64_t *ids;        /* task ids to log once the lock is released */
	struct sup_event *ev; /* a round's events, logged once the lock is released */
	uint32_t nev, nev_max;
	uint64_t claims_seen; /* cnt.claims at the last look for new starts */
	size_t log_reserve;   /* log queue kept free for a forced round (a death's) */
	/* libdcf's pool (supervisor.h), or NULL. */
	const struct sup_embed *emb;
	struct sup_embed emb_copy;
	int emb_eof;       /* the pool stages no more inputs */
	sigset_t emb_mask; /* the calling thread's signal mask before we blocked SIGCHLD */
	int emb_masked;    /* and we did block it */
	int child_news;    /* a SIGCHLD came: a pool's workers are worth a look */
	int logfd;         /* the log's descriptor, ours */
	uint64_t look_at;  /* the loop's next look at signals, children and timers */
	/* Tasks come with payloads from an input: command mode, or a pool. */
	int fed;
	/* Command mode. */
	int cmd_mode;
	struct sup_cmd *cmd;
	struct cmd_batch batch; /* read from the input, not yet dispatched */
	int input_eof;          /* the input ended (every line is in the books or skipped) */
	/* --store: the store, and its committer (storeq.h), or NULL. */
	struct dcf_store *store;
	struct dcf_storeq *storeq;
	int store_failing;             /* a commit failed; said once until one succeeds */
	struct svc *svc;               /* --serve */
	int draining;                  /* dcf-ctl drain: stop once every task has ended */
	int drained;                   /* and it did: exit 0 */
	uint32_t npaused;              /* networks paused by dcf-ctl */
	uint8_t paused[DCF_MAX_NETS];  /* which (the segment's nets[].paused, as we set it) */
	uint8_t removed[DCF_MAX_NETS]; /* dcf-ctl remove-network, or not added yet */
	/* --schedule: a batch's load per network (least-loaded), the smooth weights (weighted). */
	uint64_t load[DCF_MAX_NETS];
	int64_t wcur[DCF_MAX_NETS];
	struct dcf_store_ctl ctl_was;  /* --serve: what the store says dcf-ctl set before */
	uint64_t ctl_seq;              /* control states recorded (their commits' cookies) */
	char store_buf[PATH_MAX - 64]; /* --serve's default store */
	char results_buf[PATH_MAX];    /* and where its tasks' output is kept */
	int results_made;              /* made by this start: removed if the start fails */
	char host_buf[320];            /* --serve on PostgreSQL: HOSTNAME/NAME by default */
	uint32_t ndying;               /* nodes dying: reaped, waiting for their task trees to go */
	pid_t inherited[64];           /* children from before our first fork, never ours to kill */
	uint32_t ninherited;
	char cg[PATH_MAX - 32]; /* our cgroup v2 directory for the workers' tasks, or "" */
	char shm_path[64];      /* /dev/shm/dcf-NAME, for the fatal-signal cleanup */
	dev_t shm_dev;          /* and the inode we created there: only that is removed */
	ino_t shm_ino;
};

static const char *
sig_name(int sig)
{
	const char *s = sigabbrev_np(sig);

	return s ? s : "?";
}

/* Fork and allocation, failable on demand in the injection build. */
static int
inject_nth(const char *var, unsigned long *count)
{
#ifdef DCF_INJECT_ENABLE
	const char *e = getenv(var);
	uint64_t n;

	if (e != NULL && dcf_parse_u64(e, 0, UINT32_MAX, &n) == 0 && ++*count > n)
		return 1;
#else
	(void)var;
	(void)count;
#endif
	return 0;
}

static pid_t
sup_fork(void)
{
	static unsigned long forks;

	/* DCF_FAIL_FORK=N: every fork after the first N fails, as under RLIMIT_NPROC. */
	if (inject_nth("DCF_FAIL_FORK", &forks)) {
		errno = EAGAIN;
		return -1;
	}
	return fork();
}

/* DCF_FAIL_ALLOC=N: every allocation after the first N fails. */
static int
alloc_fails(void)
{
	static unsigned long allocs;

	if (inject_nth("DCF_FAIL_ALLOC", &allocs)) {
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

static void *
sup_calloc(size_t n, size_t size)
{
	return alloc_fails() ? NULL : calloc(n, size);
}

/* "1 task", "2 tasks": n and the word that agrees with it. */
static const char *
pl(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* A task's number in the log: a command's is its sequence number, {#}, from 1. */
static unsigned long long
tid(const struct sup *s, uint64_t id)
{
	return (unsigned long long)id + (s->cmd_mode ? 1 : 0);
}

/* A rate with the digits that mean something: 0.45, 12.5, 2130. */
static void
rate_text(char *buf, size_t len, uint64_t n, double secs)
{
	double r = secs > 0 ? (double)n / secs : 0.0;

	snprintf(buf, len, r >= 100 ? "%.0f" : r >= 10 ? "%.1f" : "%.2f", r);
}

static struct dcf_node *
shm_node(struct sup *s, uint32_t n)
{
	return &s->sg.nodes[n];
}

/* --- the lock, never waited on without a bound ------------------------ */

static void take_signals(struct sup *s);
static void request_reset(struct sup *s, const char *why);
static int find_node(struct sup *s, pid_t pid);

static uint64_t
hang_ns(const struct sup *s)
{
	return (uint64_t)s->cfg->hang_timeout_ms * MS;
}

/*
 * The books' lock, in slices (lock.h says why). Between slices: read the
 * signals, and if one holder has kept the lock for --hang-timeout, kill it
 * when it is one of ours. 0 with the lock; -1 when the lock is beyond
 * repair (a full reset is then under way).
 */
static int
sup_lock(struct sup *s)
{
	uint64_t slice = hang_ns(s) / 2 < 50 * MS ? hang_ns(s) / 2 : 50 * MS;
	uint64_t start = dcf_now_ns(), since = start;
	pid_t seen = 0;

	for (;;) {
		uint64_t now;
		pid_t h;
		int n;

		if (dcf_lock_until(&s->sg, dcf_now_ns() + slice) == 0) {
			now = dcf_now_ns();
			/* Everybody waited behind that holder: their heartbeats aged with ours. */
			if (now - start > hang_ns(s) / 4)
				s->epoch_ns = now;
			return 0;
		}
		if (errno != ETIMEDOUT) {
			request_reset(s, "the books' lock is unrecoverable");
			return -1;
		}
		take_signals(s);
		now = dcf_now_ns();
		h = dcf_lock_holder(&s->sg);
		if (h != seen) {
			seen = h;
			since = now;
		}
		if (since < s->epoch_ns)
			since = s->epoch_ns;
		if (h == 0 || now - since < hang_ns(s))
			continue;
		n = find_node(s, h);
		if (n < 0) {
			if (s->lock_named != h)
				dcf_log(DCF_ERROR,
				    "the books' lock has been held for %u ms by pid %d, which is "
				    "not "
				    "one of our workers: waiting for it",
				    s->cfg->hang_timeout_ms, (int)h);
			s->lock_named = h;
			continue;
		}
		if (s->nodes[n].hang_killed)
			continue;
		dcf_log(DCF_ERROR,
		    "Network-%u Node-%u (pid %d) held the books' lock for %u ms without progress: "
		    "killing it",
		    s->nodes[n].net, s->nodes[n].idx, (int)h, s->cfg->hang_timeout_ms);
		s->nodes[n].hang_killed = 1;
		kill(h, SIGKILL); /* our unreaped child: the PID is still ours */
	}
}

/* --- node states ------------------------------------------------------- */

/* Crash intensity: more than max_restarts crashes within the window? */
static int
too_many_crashes(struct sup *s, struct sup_node *sn, uint64_t now)
{
	uint32_t cap = s->cfg->max_restarts + 1, within = 0;
	uint64_t window = (uint64_t)s->cfg->restart_window_s * DCF_NSEC;

	sn->crashes[sn->ncrash++ % cap] = now;
	for (uint32_t i = 0; i < cap && i < sn->ncrash; i++)
		if (now - sn->crashes[i] <= window)
			within++;
	return within > s->cfg->max_restarts;
}

/*
 * A node whose process is gone (or never started): DOWN until its restart,
 * or FAILED past the restart intensity, or STOPPED when the system stops.
 */
static void
node_down(struct sup *s, uint32_t n, uint64_t now, uint64_t min_wait_ms)
{
	struct sup_node *sn = &s->nodes[n];
	uint64_t wait_ms;

	if (s->stopping) {
		sn->st = SN_STOPPED;
		return;
	}
	if (too_many_crashes(s, sn, now)) {
		sn->st = SN_FAILED;
		if (sup_lock(s) == 0) {
			if (dcf_node_set_state_locked(&s->sg, n, DCF_NODE_FAILED) == -1)
				dcf_log(DCF_ERROR, "books: marking Network-%u Node-%u failed: %s",
				    sn->net, sn->idx, strerror(errno));
			dcf_unlock(&s->sg);
		}
		dcf_log(DCF_ERROR,
		    "Network-%u Node-%u failed more than %u times in %u s: giving up on it",
		    sn->net, sn->idx, s->cfg->max_restarts, s->cfg->restart_window_s);
		return;
	}
	sn->st = SN_DOWN;
	wait_ms = dcf_rng_range(&s->rng, s->cfg->downtime_ms_min, s->cfg->downtime_ms_max);
	if (wait_ms < min_wait_ms)
		wait_ms = min_wait_ms;
	sn->restart_at = now + wait_ms * MS;
}

/* Network net removed (no task placed there) or back, here and in the segment. */
static void
set_removed(struct sup *s, uint32_t net, int removed)
{
	s->removed[net] = (uint8_t)removed;
	if (sup_lock(s) == 0) {
		if (dcf_set_removed_locked(&s->sg, net, (uint32_t)removed) == -1)
			dcf_log(DCF_ERROR, "books: marking Network-%u removed: %s", net,
			    strerror(errno));
		dcf_unlock(&s->sg);
	}
}

/* A node without a process, not to be restarted: STOPPED until dcf-ctl starts it. */
static void
node_stopped(struct sup *s, uint32_t n)
{
	struct sup_node *sn = &s->nodes[n];

	sn->st = SN_STOPPED;
	sn->retiring = 0;
	if (sup_lock(s) == 0) {
		if (dcf_node_set_state_locked(&s->sg, n, DCF_NODE_STOPPED) == -1)
			dcf_log(DCF_ERROR, "books: marking Network-%u Node-%u stopped: %s", sn->net,
			    sn->idx, strerror(errno));
		dcf_unlock(&s->sg);
	}
}

/* --- forking ----------------------------------------------------------- */

static void uncatch_fatal(void);

/*
 * In a worker of dcf-supervisor: every descriptor but what it needs is
 * closed. What it would otherwise keep outlives the supervisor: the
 * store's lock (a restart would find the store in use), the service's
 * socket (a restart would find it answered), the clients' connections
 * (they would not see the end). A pool's workers keep what the program
 * opened: its task function may want it.
 */
static void
close_unneeded_fds(const struct sup *s)
{
	unsigned keep[4], nk = 0, from = 3;

	keep[nk++] = (unsigned)s->efd;
	if (s->sg.fd >= 0)
		keep[nk++] = (unsigned)s->sg.fd;
	if (s->cmd_mode && cmd_spool_fd(s->cmd) >= 0)
		keep[nk++] = (unsigned)cmd_spool_fd(s->cmd);
	for (unsigned i = 1; i < nk; i++)
		for (unsigned j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			unsigned t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (unsigned i = 0; i < nk; i++) {
		if (keep[i] > from)
			(void)close_range(from, keep[i] - 1, 0);
		if (keep[i] + 1 > from)
			from = keep[i] + 1;
	}
	(void)close_range(from, ~0U, 0);
}

static void
worker_child(struct sup *s, uint32_t n)
{
	struct worker_ctx w;

	w.sg = &s->sg;
	w.node = n;
	w.gen = s->nodes[n].gen;
	w.parent = s->self;
	w.notify_fd = s->efd;
	w.spool_fd = s->cmd_mode ? cmd_spool_fd(s->cmd) : -1;
	w.cg_dir[0] = '\0';
	w.embedded = s->emb != NULL;
	w.fn = s->emb != NULL ? s->emb->fn : NULL;
	w.fn_arg = s->emb != NULL ? s->emb->fn_arg : NULL;
	if (s->cg[0] != '\0')
		snprintf(w.cg_dir, sizeof(w.cg_dir), "%s/n%u", s->cg, n);
	close(s->sfd);
	close(s->tfd);
	if (s->out_fd > 2)
		close(s->out_fd);
	if (s->err_fd > 2)
		close(s->err_fd);
	if (s->emb == NULL)
		uncatch_fatal();
	if (dcf_log_fd() > 2)
		close(dcf_log_fd()); /* the supervisor writes every line */
	if (s->emb == NULL)
		close_unneeded_fds(s);
	worker_main(&w);
}

static int
fork_node(struct sup *s, uint32_t n, int restart)
{
	struct sup_node *sn = &s->nodes[n];
	uint64_t now;
	pid_t pid;
	int e;

	/* Publish the generation before the child can look for it. */
	if (sup_lock(s) == -1)
		return -1; /* a reset is under way: the node restarts after it */
	if (dcf_node_start_locked(&s->sg, n, sn->gen + 1, 0, restart, dcf_now_ns()) == -1) {
		e = errno;
		dcf_unlock(&s->sg);
		dcf_log(DCF_ERROR, "books: starting Network-%u Node-%u: %s", sn->net, sn->idx,
		    strerror(e));
		request_reset(s, "the books refused a node's start");
		return -1;
	}
	sn->gen++;
	dcf_unlock(&s->sg);
	pid = sup_fork();
	if (pid == 0)
		worker_child(s, n);
	if (pid > 0) {
		__atomic_store_n(&shm_node(s, n)->pid, (int32_t)pid,
		    __ATOMIC_RELAXED); /* a label */
		sn->pid = pid;
		sn->st = SN_RUN;
		sn->stopped_at = 0;
		sn->hang_killed = 0;
		sn->killed = 0;
		s->alive[sn->net]++;
		if (restart)
			dcf_log(DCF_INFO, "Network-%u Node-%u has recovered. (pid %d)", sn->net,
			    sn->idx, (int)pid);
		else
			dcf_log(DCF_DEBUG, "Network-%u Node-%u started (pid %d)", sn->net, sn->idx,
			    (int)pid);
		return 0;
	}
	/* No process ran: no failure, no restart; but it counts toward giving up. */
	e = errno;
	now = dcf_now_ns();
	dcf_log(DCF_ERROR, "cannot fork Network-%u Node-%u: %s", sn->net, sn->idx, strerror(e));
	if (sup_lock(s) == 0) {
		if (dcf_node_start_failed_locked(&s->sg, n, sn->gen, restart) == -1) {
			e = errno;
			dcf_unlock(&s->sg);
			dcf_log(DCF_ERROR, "books: undoing Network-%u Node-%u's start: %s", sn->net,
			    sn->idx, strerror(e));
			request_reset(s, "the books refused a node's failed start");
		} else {
			dcf_unlock(&s->sg);
		}
	}
	sn->pid = 0;
	if (s->resetting)
		sn->st = SN_DOWN;
	else
		node_down(s, n, now, FORK_RETRY_MS);
	return -1;
}

/* --- the books: dispatch and retire ------------------------------------ */

/*
 * Fill free slots with the next tasks, round-robin over the networks. Ids
 * sent to the global queue for want of a node go to s->ids (*nids), to be
 * logged after unlocking: no I/O under the lock.
 */
/* A recovery ring, of any level. */
static int
is_recovery(const struct sup *s, uint32_t ring)
{
	uint32_t lvl, net;

	return dcf_ring_what(s->cfg->nets, ring, &lvl, &net) == 0 && net == DCF_NONE;
}

/* A priority's level (one out of range: the default's). */
static uint32_t
prio_level(int32_t prio)
{
	return prio >= DCF_PRIO_MIN && prio <= DCF_PRIO_MAX ? (uint32_t)(prio - DCF_PRIO_MIN)
	                                                    : DCF_LEVEL_DEFAULT;
}

/* A slot's level, as the books have it (a bad one: the default's). */
static uint32_t
level_of(const struct dcf_task *t)
{
	return t->prio < DCF_LEVELS ? t->prio : DCF_LEVEL_DEFAULT;
}

/*
 * Under the lock, before a batch is placed (least-loaded): each network's
 * load, its queued tasks (every level) and its busy nodes; the batch's own
 * are added as they are placed.
 */
static void
sched_begin(struct sup *s)
{
	if (s->o->schedule != SUP_SCHED_LEAST_LOADED)
		return;
	for (uint32_t n = 0; n < s->cfg->nets; n++) {
		const struct dcf_net *nt = &s->sg.nets[n];
		uint64_t q = nt->alive > nt->sleepers ? nt->alive - nt->sleepers : 0;

		for (uint32_t l = 0; l < DCF_LEVELS; l++)
			q += dcf_ring_depth(&s->sg.rings[dcf_ring_of(s->cfg->nets, l, n)]);
		s->load[n] = q;
	}
}

/*
 * How many more tasks to place now, of want. Least-loaded places late: a
 * network's queue is kept to LATE_PER_NODE tasks (running and queued) per
 * live node, the rest waiting in order in the service's memory, so that a
 * task goes to the network whose node frees first. Read without the lock:
 * a hint of how many to take, not a promise.
 */
#define LATE_PER_NODE 2u
static uint32_t
sched_room(struct sup *s, uint32_t want)
{
	uint64_t room = 0;

	if (s->o->schedule != SUP_SCHED_LEAST_LOADED)
		return want;
	for (uint32_t n = 0; n < s->cfg->nets && room < want; n++) {
		const struct dcf_net *nt = &s->sg.nets[n];
		uint64_t a = __atomic_load_n(&nt->alive, __ATOMIC_RELAXED);
		uint64_t sl = __atomic_load_n(&nt->sleepers, __ATOMIC_RELAXED),
		         q = a > sl ? a - sl : 0;

		if (a == 0 || s->paused[n] || s->removed[n])
			continue;
		for (uint32_t l = 0; l < DCF_LEVELS; l++)
			q += dcf_ring_depth(&s->sg.rings[dcf_ring_of(s->cfg->nets, l, n)]);
		if (q < LATE_PER_NODE * a)
			room += LATE_PER_NODE * a - q;
	}
	/* None when no network runs: they wait in memory, in order, for a node. */
	return room < want ? (uint32_t)room : want;
}

/* The network a new task goes to (--schedule), among those running and not paused. */
static uint32_t
sched_pick(struct sup *s, uint64_t id)
{
	uint32_t best = DCF_NONE;
	int64_t total = 0;

	for (uint32_t n = 0; n < s->cfg->nets && s->o->schedule != SUP_SCHED_ROUND_ROBIN; n++) {
		uint64_t a = s->alive[n];

		if (a == 0 || s->paused[n] || s->removed[n])
			continue;
		if (s->o->schedule == SUP_SCHED_WEIGHTED) {
			/* Each takes its weight; the one most owed goes, and gives the round back. */
			s->wcur[n] += (int64_t)a;
			total += (int64_t)a;
			if (best == DCF_NONE || s->wcur[n] > s->wcur[best])
				best = n;
		} else if (best == DCF_NONE || s->load[n] * s->alive[best] < s->load[best] * a ||
		    (s->load[n] * s->alive[best] == s->load[best] * a && a > s->alive[best])) {
			best = n;
		}
	}
	if (best == DCF_NONE)
		return s->cfg->nets > 0 ? (uint32_t)(id % s->cfg->nets) : 0;
	if (s->o->schedule == SUP_SCHED_WEIGHTED)
		s->wcur[best] -= total;
	else
		s->load[best]++;
	return best;
}

static void
refill_locked(struct sup *s, uint8_t *woke, uint32_t *nids)
{
	uint64_t now = dcf_now_ns();

	*nids = 0;
	if (s->stopping || s->resetting)
		return;
	for (;;) {
		uint64_t id0 = s->sg.hdr->cnt.next_id;
		uint32_t rings[DCF_SUP_BATCH], n = 0;
		int got;

		/* A batch of ids, each to its network's ring: one transaction. */
		sched_begin(s);
		while (n < DCF_SUP_BATCH && id0 + n < s->cfg->tasks) {
			uint32_t net = sched_pick(s, id0 + n);

			rings[n++] = s->alive[net] > 0 ? DCF_RING_NET0 + net : DCF_RING_RECOVERY;
		}
		if (n == 0 || (got = dcf_dispatch_n_locked(&s->sg, rings, n, now)) == -1) {
			if (n > 0 && errno == EUCLEAN)
				request_reset(s, "dispatch found a corrupt queue");
			return;
		}
		for (uint32_t i = 0; i < (uint32_t)got && i < n; i++) {
			woke[rings[i]] = 1;
			if (is_recovery(s, rings[i]) && *nids < s->cfg->task_slots)
				s->ids[(*nids)++] = id0 + i;
		}
	}
}

/*
 * Wake the sleepers of the networks whose rings got work, once a network
 * however many of its levels did: a sleeper claims from every level, and a
 * wake a ring would cost one futex call each (8 levels, 8 calls).
 */
static void
wake_rings(struct sup *s, uint8_t *woke)
{
	uint8_t nets[DCF_MAX_NETS];
	uint32_t lvl, net, nn = s->sg.cfg.nets;
	int any = 0, all = 0;

	memset(nets, 0, nn);
	for (uint32_t r = DCF_RING_RECOVERY; r < s->sg.hdr->nrings; r++) {
		if (woke[r] && dcf_ring_what(nn, r, &lvl, &net) == 0) {
			all |= net == DCF_NONE;
			if (net != DCF_NONE)
				nets[net] = 1;
			any = 1;
		}
		woke[r] = 0;
	}
	if (all)
		dcf_books_wake_ring(&s->sg, DCF_RING_RECOVERY); /* every network's sleepers look */
	else
		for (uint32_t n = 0; any && n < nn; n++)
			if (nets[n])
				dcf_books_wake_ring(&s->sg, dcf_ring_of(nn, DCF_LEVEL_DEFAULT, n));
}

/*
 * Room in the log queue for a normal round, with the reserve left over:
 * a forced round (every task in the books at once, before a death is
 * booked) always fits, so only a flood of deaths with a stalled log can
 * lose a line.
 */
static int
log_room_for_round(const struct sup *s)
{
	return dcf_log_room((size_t)RETIRE_BATCH * 2 * RETIRE_LINE + s->log_reserve);
}

/*
 * Starts are told by the supervisor, as completions are, so the log reads
 * in causal order for every node: a node's completion, then its next
 * start. A run is told once: when a look at the nodes finds it running,
 * or, if it ended first, just before its completion or its reclaim.
 */
static void
tell_start(struct sup *s, uint32_t n, uint32_t gen, uint64_t id, uint32_t runs, int from_recovery)
{
	struct sup_node *sn = &s->nodes[n];
	struct sup_event *e;

	if (sn->told_gen == gen && sn->told_id == id && gen != 0)
		return;
	sn->told_gen = gen;
	sn->told_id = id;
	if (s->nev >= s->nev_max)
		return;
	e = &s->ev[s->nev++];
	sn->start_open = 1;
	e->kind = EV_START;
	e->from_recovery = (uint8_t)from_recovery;
	e->node = n;
	e->runs = runs;
	e->id = id;
}

/* Under the lock: the runs started since the last look. */
static void
look_for_starts_locked(struct sup *s)
{
	uint64_t claims = s->sg.hdr->cnt.claims;

	if (claims == s->claims_seen)
		return;
	s->claims_seen = claims;
	for (uint32_t n = 0; n < s->nnodes; n++) {
		const struct dcf_node *nd = shm_node(s, n);

		/* The head of its batch: the others are told as they are retired, each
		 * after the completion before it (task_id moves along without the lock). */
		if (nd->state == DCF_NODE_BUSY && nd->gen == s->nodes[n].gen &&
		    s->nodes[n].pid > 0 && nd->task_slot < s->cfg->task_slots) {
			const struct dcf_task *t = &s->sg.tasks[nd->task_slot];

			tell_start(s, n, nd->gen, t->id, t->runs,
			    (t->flags & DCF_TASK_F_RECOVERY) != 0);
		}
	}
}

/*
 * --store: a run's start, or its task queued again (a death, a retry),
 * staged for the next commit. Books id -> store id: the line number, id + 1.
 * Nothing waits for it: a batch's input is its own record, and what the
 * store does not have yet only runs again after a restart.
 */
static void
store_upd(struct sup *s, uint32_t kind, uint64_t id, uint32_t runs, uint32_t attempts,
    uint32_t tries, const struct sup_node *sn)
{
	struct dcf_store_task t;

	if (s->storeq == NULL)
		return;
	memset(&t, 0, sizeof(t));
	t.id = id + 1;
	t.runs = runs;
	t.attempts = attempts;
	t.tries = tries;
	if (kind == DCF_SU_STARTED)
		t.started_ns = dcf_wall_ns();
	if (sn != NULL) {
		t.net = sn->net;
		t.node = sn->idx;
		/* A service's runs: the worker's identity, for a restart to make sure it is gone. */
		if (kind == DCF_SU_STARTED && s->svc != NULL && sn->pid > 0 &&
		    dcf_proc_start(sn->pid, &t.pid_start) == 0)
			t.pid = sn->pid;
	}
	t.claim = svc_claim_of(s->svc, t.id); /* several hosts: the claim it is held by */
	if (dcf_storeq_upd(s->storeq, kind, &t, 0) == -1)
		dcf_log(DCF_ERROR, "Task-%llu: recording it: out of memory", tid(s, id));
}

static uint32_t home_ring(struct sup *s, uint64_t id, uint32_t lvl, uint32_t pin);

/* sup_cmd's way to the claims the service holds its tasks by (store ids). */
static uint64_t
claim_of(const void *svc, uint64_t id)
{
	return svc_claim_of(svc, id);
}

/* A command's run failed, or timed out, with retries left: where it goes again. */
static uint32_t
retry_ring(struct sup *s, const struct dcf_task *t)
{
	if (s->cfg->retry_delay_ms > 0)
		return dcf_delay_ring(&s->sg);
	return home_ring(s, t->id, level_of(t), t->pin);
}

static int
wants_retry(const struct sup *s, const struct dcf_task *t)
{
	return t->out.how != DCF_HOW_NONE && t->out.how != DCF_HOW_OK &&
	    t->out.how != DCF_HOW_CANCELLED && !(t->flags & DCF_TASK_F_KILLED) &&
	    t->tries < t->retries && !s->stopping;
}

/* A retired (or retried) task into the round's events. */
static void
retire_event(struct sup *s, const struct dcf_done *d, int retry, int tell)
{
	struct sup_event *e;

	/* A pool's every end is an event: its result goes to the pool from there. */
	if ((!tell && !s->fed) || (d->node >= s->nnodes && s->emb == NULL))
		return;
	if (s->emb == NULL)
		tell_start(s, d->node, d->gen, d->id, d->runs, (int)d->from_recovery);
	if (s->nev >= s->nev_max)
		return;
	e = &s->ev[s->nev++];
	if (d->node < s->nnodes)
		s->nodes[d->node].start_open = 0;
	e->kind = retry                                                                  ? EV_RETRY
	    : d->kind == DCF_WORK_CPU && d->result != dcf_task_cpu_expect(s->cfg, d->id) ? EV_WRONG
	                                                                                 : EV_DONE;
	e->node = d->node;
	e->id = d->id;
	e->d = *d;
}

/*
 * Under the lock: retire up to max completed tasks into the round's events.
 * The run of them at the done ring's head that want no retry goes in one
 * transaction; each retry in one of its own, as it decides where it goes.
 */
static int
retire_locked(struct sup *s, int max, int tell, uint8_t *woke)
{
	static struct dcf_done d[DCF_SUP_BATCH];
	int n = 0;

	while (n < max) {
		const struct dcf_task *t;
		uint32_t k = 0, got;

		while (k < DCF_SUP_BATCH && (int)k < max - n &&
		    (t = dcf_done_peek_locked(&s->sg, k)) != NULL &&
		    !(s->cmd_mode && wants_retry(s, t)))
			k++;
		if (k > 0) {
			if (dcf_retire_n_locked(&s->sg, k, d, &got) == -1)
				break;
		} else {
			uint32_t ring;

			if ((t = dcf_done_head_locked(&s->sg)) == NULL)
				break;
			ring = retry_ring(s, t);
			if (dcf_retry_locked(&s->sg, ring, dcf_now_ns(), d) == -1)
				break;
			woke[ring] =
			    1; /* its workers may all be asleep: nothing else may wake them */
			got = 1;
		}
		n += (int)got;
		for (uint32_t i = 0; i < got; i++)
			retire_event(s, &d[i], k == 0, tell);
	}
	return n;
}

/* What ended a command's run, for the log: "exit status 3", "killed by SIGKILL". */
static void
run_end_text(const struct dcf_outcome *o, char *buf, size_t len)
{
	switch (o->how) {
	case DCF_HOW_EXIT:
		snprintf(buf, len, "exit status %d", o->exit_code);
		break;
	case DCF_HOW_SIGNAL:
		snprintf(buf, len, "killed by SIG%s", sig_name((int)o->term_sig));
		break;
	case DCF_HOW_TIMEOUT:
		snprintf(buf, len, "timed out after %.3f s, ended by SIG%s",
		    (double)o->run_ns / 1e9, sig_name((int)o->term_sig));
		break;
	case DCF_HOW_NOEXEC:
		snprintf(buf, len, "%s: %s (exit status %d)",
		    o->exit_code == 127 ? "command not found" : "cannot execute",
		    strerror((int)o->exec_errno), o->exit_code);
		break;
	case DCF_HOW_CANCELLED:
		snprintf(buf, len, "cancelled before it ran");
		break;
	default:
		snprintf(buf, len, "exit status 0");
		break;
	}
}

/* A command's run that ended: its log line, and its way out (cmd_finished). */
static void
log_cmd_end(struct sup *s, const struct sup_event *e, uint32_t net, uint32_t idx)
{
	const struct dcf_done *d = &e->d;
	char how[192];

	run_end_text(&d->out, how, sizeof(how));
	if (e->kind == EV_RETRY) {
		cmd_drop_run(s->cmd, d->id, d->runs);
		store_upd(s, DCF_SU_REQUEUED, d->id, d->runs, d->attempts, d->tries + 1,
		    d->node < s->nnodes ? &s->nodes[d->node] : NULL);
		dcf_log(DCF_WARNING,
		    "Task-%llu failed on Network-%u Node-%u (%s): retry %u of %u%s", tid(s, e->id),
		    net, idx, how, d->tries + 1, d->retries,
		    s->cfg->retry_delay_ms ? " after the retry delay" : "");
		return;
	}
	if (d->out.how == DCF_HOW_OK)
		dcf_log(DCF_INFO, "Task-%llu completed by Network-%u Node-%u", tid(s, e->id), net,
		    idx);
	else if (d->out.how == DCF_HOW_CANCELLED)
		dcf_log(DCF_WARNING,
		    "Task-%llu cancelled (dcf-ctl): ended by Network-%u Node-%u "
		    "without a run",
		    tid(s, e->id), net, idx);
	else if (d->killed && d->out.how == DCF_HOW_SIGNAL)
		dcf_log(DCF_WARNING, "Task-%llu killed by dcf-ctl on Network-%u Node-%u (%s)",
		    tid(s, e->id), net, idx, how);
	else if (d->out.how == DCF_HOW_TIMEOUT)
		dcf_log(DCF_ERROR, "Task-%llu timed out on Network-%u Node-%u (%s)%s",
		    tid(s, e->id), net, idx, how, d->tries ? " on its last try" : "");
	else
		dcf_log(DCF_ERROR, "Task-%llu failed on Network-%u Node-%u (%s)%s", tid(s, e->id),
		    net, idx, how, d->tries ? " on its last try" : "");
	cmd_finished(s->cmd, &s->sg, d, net, idx, 0);
}

/*
 * A pool's task ended: its log line, then its result to the pool, with its
 * output read from the slot, which no dispatch has reused yet.
 */
static void
pool_ended(struct sup *s, const struct dcf_done *d, uint32_t net, uint32_t idx)
{
	const unsigned char *out = dcf_payload(&s->sg, d->slot) + dcf_out_off(s->cfg);

	if (d->out.how == DCF_HOW_OK)
		dcf_log(DCF_DEBUG, "Task-%llu completed by Network-%u Node-%u", tid(s, d->id), net,
		    idx);
	else if (d->out.how == DCF_HOW_OVERSIZE)
		dcf_log(DCF_ERROR,
		    "Task-%llu failed on Network-%u Node-%u: its function wrote more than %u bytes",
		    tid(s, d->id), net, idx, s->cfg->out_max);
	else
		dcf_log(DCF_ERROR,
		    "Task-%llu failed on Network-%u Node-%u: its function returned %d",
		    tid(s, d->id), net, idx, d->out.exit_code);
	if (d->slot >= s->cfg->task_slots || d->out.out_bytes > s->cfg->out_max)
		out = NULL; /* a scribbled record: the result says so by its status */
	s->emb->ended(s->emb->ctx, d, out, 0);
}

/* After unlocking: the round's lines, in order. */
static void
log_events(struct sup *s)
{
	for (uint32_t i = 0; i < s->nev; i++) {
		const struct sup_event *e = &s->ev[i];
		uint32_t net = UINT32_MAX, idx = UINT32_MAX;

		if (e->node < s->nnodes) {
			net = s->nodes[e->node].net;
			idx = s->nodes[e->node].idx;
		}
		if (s->emb != NULL && e->kind != EV_START && e->kind != EV_UNREPORTED) {
			pool_ended(s, &e->d, net, idx);
			continue;
		}
		if (e->kind == EV_UNREPORTED) {
			dcf_log(DCF_INFO,
			    "Task-%llu ran on Network-%u Node-%u, not yet reported: it runs again",
			    tid(s, e->id), net, idx);
		} else if (e->kind == EV_START) {
			store_upd(s, DCF_SU_STARTED, e->id, e->runs, 0, 0,
			    e->node < s->nnodes ? &s->nodes[e->node] : NULL);
			if (e->from_recovery)
				dcf_log(DCF_INFO,
				    "Network-%u Node-%u picked up Task-%llu from the queue.", net,
				    idx, tid(s, e->id));
			dcf_log(DCF_INFO, "Task-%llu started by Network-%u Node-%u", tid(s, e->id),
			    net, idx);
		} else if (s->cmd_mode) {
			log_cmd_end(s, e, net, idx);
		} else if (e->kind == EV_WRONG) {
			s->bad_results++;
			dcf_log(DCF_ERROR,
			    "Task-%llu completed by Network-%u Node-%u with a wrong result",
			    tid(s, e->id), net, idx);
		} else {
			dcf_log(DCF_INFO, "Task-%llu completed by Network-%u Node-%u",
			    tid(s, e->id), net, idx);
		}
	}
	s->nev = 0;
}

/*
 * One round of the books: retire completed tasks, tell new starts, refill
 * the queues, and (want_wake) ask the workers to wake us when more happens.
 * The log is the book of record: a task is retired only when its lines fit
 * in the log queue, so a stalled log holds completions DONE in the books,
 * where they are safe, instead of losing their lines. force: retire every
 * one regardless (the end, or before a death is booked: what does not fit
 * is counted lost). Returns the tasks retired.
 */
/*
 * The ring of level lvl a task goes to: its network's (--schedule), or the
 * level's global queue when its network has no live node.
 */
static uint32_t
home_ring(struct sup *s, uint64_t id, uint32_t lvl, uint32_t pin)
{
	uint32_t net;

	/* Pinned (dcf-submit --network): its network's, paused or down; it waits there. */
	if (pin != 0 && pin <= s->cfg->nets)
		return dcf_ring_of(s->cfg->nets, lvl, pin - 1);
	net = sched_pick(s, id);
	/* A paused (or removed) network's turn goes to the next that runs, if one does. */
	for (uint32_t i = 1; (s->paused[net] || s->removed[net]) && i < s->cfg->nets; i++) {
		uint32_t n = (net + i) % s->cfg->nets;

		if (!s->paused[n] && !s->removed[n] && s->alive[n] > 0)
			return dcf_ring_of(s->cfg->nets, lvl, n);
	}
	return dcf_ring_of(s->cfg->nets, lvl, s->alive[net] > 0 ? net : DCF_NONE);
}

/* When the delay ring's head is due, or UINT64_MAX (the ring is ours alone: no lock). */
static uint64_t
retry_due_at(struct sup *s)
{
	uint32_t slot;

	if (dcf_ring_peek(&s->sg, dcf_delay_ring(&s->sg), 0, &slot) == -1 ||
	    slot >= s->cfg->task_slots)
		return UINT64_MAX;
	return s->sg.tasks[slot].t_queued_ns + (uint64_t)s->cfg->retry_delay_ms * MS;
}

/* --store: the first n items, dispatched, go into it if they are new to it. */
static void
store_add(struct sup *s, const struct cmd_batch *b, uint32_t n)
{
	uint64_t wall = dcf_wall_ns();

	if (s->storeq == NULL)
		return;
	for (uint32_t i = 0; i < n; i++) {
		const struct cmd_item *it = &b->items[i];
		struct dcf_store_task t;

		if (it->stored)
			continue;
		memset(&t, 0, sizeof(t));
		t.id = it->id + 1;
		t.cmd = b->buf + it->off;
		t.cmd_len = it->len;
		t.timeout_ms = s->cfg->timeout_ms;
		t.retries = s->cfg->retries;
		t.submitted_ns = wall;
		if (dcf_storeq_add(s->storeq, &t, 0) == -1)
			dcf_log(DCF_ERROR, "Task-%llu: recording it: out of memory",
			    tid(s, it->id));
	}
}

/*
 * Command mode's refill, outside the first lock: read as many input lines
 * as there are free slots (I/O, so never under the lock), then dispatch
 * them, and the retries whose delay is over, under it.
 */
/* Some network has a live node and is neither paused nor removed. */
static int
any_net_runs(const struct sup *s)
{
	for (uint32_t n = 0; n < s->cfg->nets; n++)
		if (s->alive[n] > 0 && !s->paused[n] && !s->removed[n])
			return 1;
	return 0;
}

static void
refill_cmd(struct sup *s)
{
	uint8_t woke[DCF_MAX_RINGS];
	struct cmd_batch *b = &s->batch;
	uint32_t k = 0, nids = 0;
	uint64_t now = dcf_now_ns(), id;
	int eof = s->emb != NULL ? s->emb_eof : s->input_eof, err = 0;

	if (s->stopping || s->resetting)
		return;
	if (s->svc != NULL) {
		uint32_t free_slots = dcf_ring_depth(&s->sg.rings[DCF_RING_FREE]);

		if (free_slots > b->n)
			free_slots = sched_room(s, free_slots - b->n) + b->n;
		/* Several hosts: a host whose every network is paused takes nothing from the others. */
		if (s->store != NULL && s->store->shared && !any_net_runs(s))
			free_slots = b->n;
		if (free_slots > b->n)
			svc_fill(s->svc, free_slots - b->n, b);
	} else if (s->cmd_mode && !s->input_eof) {
		uint32_t free_slots = dcf_ring_depth(&s->sg.rings[DCF_RING_FREE]);

		if (free_slots > b->n)
			(void)cmd_fill(s->cmd, free_slots - b->n, b, &eof);
	}
	if (b->n == 0 && b->skip_after == 0 && eof == s->input_eof && retry_due_at(s) > now)
		return;
	memset(woke, 0, sizeof(woke));
	if (sup_lock(s) == -1)
		return;
	while (k < b->n) {
		const void *pl[DCF_SUP_BATCH];
		uint32_t rings[DCF_SUP_BATCH], lens[DCF_SUP_BATCH], n = 0;
		uint64_t ids[DCF_SUP_BATCH];
		struct dcf_prior prior[DCF_SUP_BATCH];
		int got;

		if (b->items[k].skip_before > 0 &&
		    dcf_skip_locked(&s->sg, b->items[k].skip_before) == -1) {
			err = errno;
			break;
		}
		b->items[k].skip_before = 0;
		/* A batch of lines, up to the next that skips ids: one transaction. */
		id = s->sg.hdr->cnt.next_id;
		sched_begin(s);
		while (n < DCF_SUP_BATCH && k + n < b->n &&
		    (n == 0 || b->items[k + n].skip_before == 0)) {
			const struct cmd_item *it = &b->items[k + n];

			pl[n] = b->buf + it->off;
			lens[n] = it->len;
			/* A service's ids are its tasks' own, dispatched by priority, not in order. */
			ids[n] = s->svc != NULL ? it->id : id + n;
			rings[n] = home_ring(s, ids[n], prio_level(it->prior.prio), it->prior.pin);
			prior[n] = it->prior;
			n++;
		}
		if ((got = dcf_dispatch_ids_locked(&s->sg, rings, n, now, pl, lens,
		         s->emb == NULL ? prior : NULL, s->svc != NULL ? ids : NULL)) == -1) {
			err = errno;
			break;
		}
		for (uint32_t i = 0; i < (uint32_t)got && i < n; i++) {
			b->items[k + i].id = ids[i];
			woke[rings[i]] = 1;
			if (is_recovery(s, rings[i]) && nids < s->cfg->task_slots)
				s->ids[nids++] = ids[i];
		}
		k += (uint32_t)got;
	}
	if (k == b->n && b->skip_after > 0) {
		if (dcf_skip_locked(&s->sg, b->skip_after) == -1)
			err = errno;
		else
			b->skip_after = 0;
	}
	for (;;) {
		uint32_t slot, ring;

		if (retry_due_at(s) > now ||
		    dcf_ring_peek(&s->sg, dcf_delay_ring(&s->sg), 0, &slot) == -1)
			break;
		ring = home_ring(s, s->sg.tasks[slot].id, level_of(&s->sg.tasks[slot]),
		    s->sg.tasks[slot].pin);
		if (dcf_move_ring_locked(&s->sg, dcf_delay_ring(&s->sg), ring, now, &id) == -1)
			break;
		woke[ring] = 1;
	}
	if (k == b->n && b->skip_after == 0 && eof && !s->input_eof) {
		s->input_eof = 1;
		__atomic_store_n(&s->sg.hdr->total, s->sg.hdr->cnt.next_id, __ATOMIC_RELEASE);
	}
	dcf_unlock(&s->sg);
	wake_rings(s, woke);
	store_add(s, b, k);
	if (k == b->n) {
		uint64_t skip = b->skip_after;

		cmd_batch_reset(b);
		b->skip_after = skip;
	} else {
		memmove(b->items, b->items + k, (b->n - k) * sizeof(*b->items));
		b->n -= k;
	}
	if (err == EUCLEAN)
		request_reset(s, "dispatch found a corrupt queue");
	else if (err != 0)
		dcf_log(DCF_ERROR, "books: dispatching a command: %s", strerror(err));
	for (uint32_t i = 0; i < nids; i++)
		dcf_log(DCF_WARNING,
		    "Task-%llu queued on the global queue: Network-%u has no live node",
		    tid(s, s->ids[i]), (uint32_t)(s->ids[i] % s->cfg->nets));
}

/*
 * One round of the books: retire completed tasks, tell new starts, refill
 * the queues, and (want_wake) ask the workers to wake us when more happens.
 * The log is the book of record: a task is retired only when its lines fit
 * in the log queue, so a stalled log holds completions DONE in the books,
 * where they are safe, instead of losing their lines. force: retire every
 * one regardless (the end, or before a death is booked: what does not fit
 * is counted lost). Commands also wait for room in the finish queue
 * (sup_cmd.h), always: a finished task is never dropped. Returns the tasks
 * retired.
 */
/*
 * Under the lock: how many completions a sleep waits for (layout.h,
 * sup_wake_done). Tasks shorter than a wake-up are worth a batch, up to a
 * transaction's worth: at most DCF_SUP_BATCH of them, a few milliseconds.
 * Anything longer wakes at each completion, as a user watching expects.
 */
#define WAKE_BATCH_TASK_NS 50000ULL
static uint32_t
wake_batch_locked(struct sup *s)
{
	uint32_t k = DCF_SUP_BATCH;

	for (uint32_t i = 0; i < s->cfg->nets; i++) {
		uint64_t avg = s->sg.nets[i].run_avg_ns;

		if (avg == 0 || avg > WAKE_BATCH_TASK_NS)
			return 1;
	}
	if (k > s->cfg->task_slots / 4)
		k = s->cfg->task_slots / 4;
	return k > 1 ? k : 1;
}

static int
book_round(struct sup *s, int want_wake, int force)
{
	uint8_t woke[DCF_MAX_RINGS];
	/* A pool tells no starts: its log is about its workers, not every task. */
	int tell = s->emb == NULL &&
	    (dcf_log_enabled(DCF_INFO) || s->cfg->work == DCF_WORK_CPU || s->storeq != NULL);
	int starts = tell && (dcf_log_enabled(DCF_INFO) || s->storeq != NULL);
	int max = RETIRE_BATCH, n;
	uint32_t nids = 0;

	if (s->resetting)
		return 0;
	if (force)
		max = INT32_MAX;
	else if (tell && !log_room_for_round(s))
		max = 0; /* the log is behind: keep completions in the books for now */
	if (s->cmd_mode) {
		int room = cmd_room(s->cmd);

		if (max > room)
			max = room;
	}
	memset(woke, 0, sizeof(woke));
	if (sup_lock(s) == -1)
		return 0;
	n = retire_locked(s, max, tell, woke);
	/* Only with every completion retired: a node's next start after its last completion. */
	if (starts && dcf_ring_depth(&s->sg.rings[DCF_RING_DONE]) == 0)
		look_for_starts_locked(s);
	if (!s->fed)
		refill_locked(s, woke, &nids);
	if (n == 0 && want_wake) {
		__atomic_store_n(&s->sg.hdr->sup_wake_done, wake_batch_locked(s), __ATOMIC_RELAXED);
		__atomic_store_n(&s->sg.hdr->sup_waiting,
		    DCF_SUP_WAKE_DONE | (starts ? DCF_SUP_WAKE_CLAIM : 0), __ATOMIC_RELAXED);
	}
	dcf_unlock(&s->sg);
	wake_rings(s, woke);
	for (uint32_t i = 0; i < nids; i++)
		dcf_log(DCF_WARNING,
		    "Task-%llu queued on the global queue: Network-%u has no live node",
		    tid(s, s->ids[i]), (uint32_t)(s->ids[i] % s->cfg->nets));
	/* Finished commands read their slots' payloads here, before any refill. */
	log_events(s);
	if (s->fed)
		refill_cmd(s);
	return n;
}

/* --- deaths ------------------------------------------------------------ */

static int
find_node(struct sup *s, pid_t pid)
{
	if (pid <= 0)
		return -1;
	for (uint32_t n = 0; n < s->nnodes; n++)
		if (s->nodes[n].pid == pid)
			return (int)n;
	return -1;
}

/* Queued tasks of a network left without a live node go to the global queue. */
static void
evacuate(struct sup *s, uint32_t net)
{
	uint32_t k = 0;
	uint64_t id;

	if (sup_lock(s) == -1)
		return;
	/* Each level's ring, each task once: those pinned to it stay, in their order. */
	for (uint32_t l = DCF_LEVELS; l-- > 0;) {
		uint32_t ring = dcf_ring_of(s->cfg->nets, l, net);

		for (uint32_t d = dcf_ring_depth(&s->sg.rings[ring]); d > 0; d--) {
			int moved;

			if (dcf_evacuate_locked(&s->sg, ring, dcf_now_ns(), &id, &moved) == -1)
				break;
			if (moved && k < s->cfg->task_slots)
				s->ids[k++] = id;
		}
	}
	dcf_unlock(&s->sg);
	dcf_books_wake_ring(&s->sg, DCF_RING_RECOVERY); /* every network's sleepers look */
	for (uint32_t i = 0; i < k; i++)
		dcf_log(DCF_WARNING,
		    "Task-%llu moved to the global queue: Network-%u has no live node",
		    tid(s, s->ids[i]), net);
}

static void
describe_status(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (SIG%s)", WTERMSIG(status),
		    sig_name(WTERMSIG(status)));
	else if (WEXITSTATUS(status) == DCF_EXIT_LEASE)
		snprintf(buf, len, "its run killed: this host's leases lapsed");
	else
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
}

static void
log_death(struct sup *s, uint32_t n, pid_t pid, int status, const struct dcf_reclaim *rc)
{
	struct sup_node *sn = &s->nodes[n];
	char how[96];

	describe_status(status, how, sizeof(how));
	if (s->stopping && s->stop_killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
		/* Our own stop, not a failure: what it was running is said, not blamed. */
		dcf_log(DCF_WARNING, "Network-%u Node-%u stopped with its task unfinished (pid %d)",
		    sn->net, sn->idx, (int)pid);
		return;
	}
	if (sn->killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		/* dcf-ctl --now: asked for, not a failure (the books count it as a death). */
		dcf_log(DCF_WARNING, "Network-%u Node-%u killed at once, by dcf-ctl --now (pid %d)",
		    sn->net, sn->idx, (int)pid);
	else
		dcf_log(DCF_ERROR, "Network-%u Node-%u has failed. (pid %d, %s%s)", sn->net,
		    sn->idx, (int)pid, how, sn->hang_killed ? ", no progress" : "");
	if (rc->had_task && rc->quarantined)
		dcf_log(DCF_ERROR, "Task-%llu quarantined: it was running in %u crashed workers",
		    tid(s, rc->id), rc->attempts);
	else if (rc->had_task)
		dcf_log(DCF_WARNING, "Task-%llu reclaimed from Network-%u Node-%u (pid %d)",
		    tid(s, rc->id), sn->net, sn->idx, (int)pid);
	if (rc->requeued > 0)
		dcf_log(DCF_INFO,
		    "%u more tasks Network-%u Node-%u held, not started or not yet reported, "
		    "queued again",
		    rc->requeued, sn->net, sn->idx);
}

/*
 * A node dcf-ctl asked to stop (or to run once) has no process now:
 * STOPPED, or (restart-node) started again at once, its record of crashes
 * cleared.
 */
static void
ctl_gone(struct sup *s, uint32_t n)
{
	struct sup_node *sn = &s->nodes[n];
	int again = sn->again, asked = sn->retiring;

	sn->again = 0;
	node_stopped(s, n);
	if (!again) {
		dcf_log(DCF_WARNING,
		    asked ? "Network-%u Node-%u stopped by dcf-ctl"
		          : "Network-%u Node-%u ended: not restarted (dcf-ctl no-restart)",
		    sn->net, sn->idx);
		return;
	}
	sn->once = 0;
	sn->ncrash = 0;
	if (fork_node(s, n, 0) == 0)
		dcf_log(DCF_WARNING, "Network-%u Node-%u restarted by dcf-ctl (pid %d)", sn->net,
		    sn->idx, (int)sn->pid);
}

static void
node_exited(struct sup *s, uint32_t n, pid_t pid, int status)
{
	struct sup_node *sn = &s->nodes[n];
	struct dcf_reclaim rc;
	uint64_t now = dcf_now_ns();
	int clean = WIFEXITED(status) && WEXITSTATUS(status) == DCF_EXIT_OK;
	int wants_reset = WIFEXITED(status) && WEXITSTATUS(status) == DCF_EXIT_RESET;

	/* What it completed is told before its death, in the order it happened. */
	book_round(s, 0, 1);
	if (s->resetting || sup_lock(s) == -1) {
		/* Killed for the reset (or the books need one): the rebuild takes its task. */
		sn->st = s->stopping ? SN_STOPPED : SN_DOWN;
		sn->restart_at = now;
		dcf_log(DCF_DEBUG, "Network-%u Node-%u (pid %d) ended for the reset", sn->net,
		    sn->idx, (int)pid);
		return;
	}
	if ((s->stopping || sn->retiring) && clean && shm_node(s, n)->task_slot == DCF_NONE) {
		int r = dcf_node_set_state_locked(&s->sg, n, DCF_NODE_STOPPED);

		dcf_unlock(&s->sg);
		sn->st = SN_STOPPED;
		if (r == -1)
			dcf_log(DCF_ERROR, "books: marking Network-%u Node-%u stopped: %s", sn->net,
			    sn->idx, strerror(errno));
		dcf_log(DCF_DEBUG, "Network-%u Node-%u stopped (pid %d)", sn->net, sn->idx,
		    (int)pid);
		if (!s->stopping) {
			ctl_gone(s, n);
			if (s->alive[sn->net] == 0)
				evacuate(s, sn->net);
		}
		return;
	}
	if (dcf_log_enabled(DCF_INFO) || s->storeq != NULL) {
		/* The run it dies in, told before its death if no look found it. */
		const struct dcf_node *nd = shm_node(s, n);

		/* An earlier task of its batch told started, not told ended, was run
		 * and not reported: said so (it is queued again), before the start of
		 * the one it dies in. */
		if (nd->state == DCF_NODE_BUSY && nd->gen == sn->gen && sn->start_open &&
		    sn->told_gen == nd->gen && sn->told_id != nd->task_id && s->nev < s->nev_max) {
			struct sup_event *e = &s->ev[s->nev++];

			e->kind = EV_UNREPORTED;
			e->node = n;
			e->id = sn->told_id;
		}
		if (nd->state == DCF_NODE_BUSY && nd->gen == sn->gen)
			tell_start(s, n, nd->gen, nd->task_id,
			    nd->run_slot < s->cfg->task_slots ? s->sg.tasks[nd->run_slot].runs : 0,
			    nd->from_recovery != 0);
	}
	sn->start_open = 0;
	if (dcf_node_died_locked(&s->sg, n, sn->gen,
	        sn->killed ? DCF_DEATH_UNCHARGED : s->cfg->max_attempts, now, &rc) == -1) {
		int e = errno;

		dcf_unlock(&s->sg);
		log_events(s);
		dcf_log(DCF_ERROR, "books: recording the death of Network-%u Node-%u (pid %d): %s",
		    sn->net, sn->idx, (int)pid, strerror(e));
		sn->st = s->stopping ? SN_STOPPED : SN_DOWN;
		sn->restart_at = now;
		request_reset(s, "the books refused a node's death");
		return;
	}
	dcf_unlock(&s->sg);
	log_events(s);
	log_death(s, n, pid, status, &rc);
	if (s->cmd_mode && rc.had_task) {
		/* That run's output is discarded: a task's output appears once. */
		cmd_drop_run(s->cmd, rc.id, rc.runs);
		if (!rc.quarantined)
			store_upd(s, DCF_SU_REQUEUED, rc.id, rc.runs, rc.attempts, 0, sn);
		if (rc.quarantined) {
			struct dcf_done d;

			const struct dcf_task *t = &s->sg.tasks[rc.slot];
			const struct dcf_hdr *h = s->sg.hdr;

			memset(&d, 0, sizeof(d));
			d.id = rc.id;
			d.slot = rc.slot;
			d.runs = rc.runs;
			d.attempts = rc.attempts;
			/* Its last run, for the joblog: the wall clock of its start, and how long. */
			if (t->t_started_ns >= h->created_mono_ns && now >= t->t_started_ns) {
				d.out.start_wall_ns =
				    h->created_ns + (t->t_started_ns - h->created_mono_ns);
				d.out.run_ns = now - t->t_started_ns;
			}
			cmd_finished(s->cmd, &s->sg, &d, sn->net, sn->idx, 1);
		}
	}
	if (s->emb != NULL && rc.had_task && rc.quarantined) {
		struct dcf_done d;

		memset(&d, 0, sizeof(d));
		d.id = rc.id;
		d.slot = rc.slot;
		d.runs = rc.runs;
		d.attempts = rc.attempts;
		d.node = n;
		d.gen = sn->gen;
		s->emb->ended(s->emb->ctx, &d, NULL, 1);
	}
	/* It may have died between pushing work and waking anyone. */
	dcf_books_wake_all(&s->sg);
	if (wants_reset) {
		/* Not the node's fault: it restarts with the others once the books are rebuilt. */
		sn->st = s->stopping ? SN_STOPPED : SN_DOWN;
		sn->restart_at = now;
		request_reset(s, "a worker found the books beyond repair");
		return;
	}
	if (!s->stopping && (sn->retiring || sn->once))
		ctl_gone(s, n);
	else
		node_down(s, n, now, 0);
	if (s->alive[sn->net] == 0 && !s->stopping)
		evacuate(s, sn->net);
}

/*
 * Command mode's cgroups (cgroup v2, where this machine lets us make them):
 * CG/n<node>/task holds the task of node n's worker (exec.h), so a dead
 * worker's task tree is killed by one write that nothing in it escapes.
 * Without them the tree is killed by the orphan sweep below alone.
 */
/* rmdir a dead run's cgroup tree, leaves first (empty by now). */
static void
cg_rmtree(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char sub[PATH_MAX + 256];

	if (d != NULL && depth > 0) {
		while ((e = readdir(d)) != NULL)
			if (e->d_type == DT_DIR && e->d_name[0] != '.') {
				snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
				cg_rmtree(sub, depth - 1);
			}
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

/*
 * A supervisor of this name that was SIGKILLed with its workers leaves its
 * tasks' trees running in its cgroup (their parents died with it): kill
 * them before anything of ours runs, or a resumed task would run beside
 * its last run. Only directories named after a process that is gone.
 */
static void
cg_clean_stale(struct sup *s, const char *base)
{
	char prefix[DCF_NAME_MAX + 8], dir[PATH_MAX + 256], file[PATH_MAX + 300];
	size_t pl = (size_t)snprintf(prefix, sizeof(prefix), "dcf-%s.", s->o->name);
	DIR *d = opendir(base);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long pid;
		int fd;

		if (strncmp(e->d_name, prefix, pl) != 0)
			continue;
		pid = strtol(e->d_name + pl, &end, 10);
		if (*end != '\0' || pid <= 0 || pid == s->self || kill((pid_t)pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", base, e->d_name);
		snprintf(file, sizeof(file), "%s/cgroup.kill", dir);
		if ((fd = open(file, O_WRONLY | O_CLOEXEC)) >= 0) {
			(void)!write(fd, "1", 1);
			close(fd);
		}
		snprintf(file, sizeof(file), "%s/cgroup.events", dir);
		if ((fd = open(file, O_RDONLY | O_CLOEXEC)) >= 0) {
			/* Until "populated 0": SIGKILLed processes go at once, or in a few s. */
			for (int i = 0; i < 50; i++) {
				char ev[256];
				ssize_t n = pread(fd, ev, sizeof(ev) - 1, 0);
				struct pollfd p = {.fd = fd, .events = POLLPRI};

				ev[n > 0 ? n : 0] = '\0';
				if (strstr(ev, "populated 0") != NULL)
					break;
				(void)poll(&p, 1, 100);
			}
			close(fd);
		}
		cg_rmtree(dir, 2);
		dcf_log(DCF_WARNING,
		    "killed what a dead supervisor of this name (pid %ld) left running in %s", pid,
		    dir);
	}
	closedir(d);
}

static void
cg_setup(struct sup *s)
{
	char base[PATH_MAX - 128];

	if (dcf_cg_self_dir(base, sizeof(base)) == -1) {
		dcf_log(DCF_DEBUG, "no cgroup v2 here (%s): task trees are process groups",
		    strerror(errno));
		return;
	}
	cg_clean_stale(s, base);
	if (s->o->no_cgroups) {
		dcf_log(DCF_DEBUG, "--no-cgroups: task trees are process groups");
		return;
	}
	snprintf(s->cg, sizeof(s->cg), "%s/dcf-%s.%d", base, s->o->name, (int)s->self);
	if (mkdir(s->cg, 0755) == -1) {
		dcf_log(DCF_DEBUG, "cannot make the cgroup %s (%s): task trees are process groups",
		    s->cg, strerror(errno));
		s->cg[0] = '\0';
		return;
	}
	for (uint32_t n = 0; n < s->nnodes; n++) {
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s/n%u", s->cg, n);
		if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
			dcf_log(DCF_DEBUG,
			    "cannot make the cgroup %s (%s): task trees are process groups", dir,
			    strerror(errno));
			break;
		}
	}
	dcf_log(DCF_DEBUG, "each task runs in a cgroup under %s", s->cg);
}

/* A dead worker's task cgroup: everything in it killed, now (cgroup.kill). */
static void
cg_kill_node(struct sup *s, uint32_t n)
{
	char path[PATH_MAX];
	int fd;

	if (s->cg[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/n%u/task/cgroup.kill", s->cg, n);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "1", 1);
		close(fd);
	}
}

/* At the end, with every process gone: the cgroups removed, leaves first. */
static void
cg_remove(struct sup *s)
{
	if (s->cg[0] == '\0')
		return;
	cg_rmtree(s->cg, 2);
	if (access(s->cg, F_OK) == 0)
		dcf_log(DCF_WARNING, "cannot remove the cgroup %s: it is not empty", s->cg);
	s->cg[0] = '\0';
}

/*
 * Our children, from /proc/self/task/TID/children, or, where the kernel
 * has no such file, from a scan of every /proc/PID/stat for its parent.
 * fn(s, pid) for each; -1 if they could not be listed at all.
 */
static int
each_child(struct sup *s, void (*fn)(struct sup *, pid_t, void *), void *arg)
{
	char path[64], buf[4096];
	uint64_t pid = 0;
	int fd, in_num = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)s->self);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		if (d == NULL)
			return -1;
		while ((e = readdir(d)) != NULL) {
			char stat_path[64], text[512], *rp;
			long p = strtol(e->d_name, &rp, 10), ppid;
			int sfd;
			ssize_t k;

			if (p <= 0 || *rp != '\0')
				continue;
			snprintf(stat_path, sizeof(stat_path), "/proc/%ld/stat", p);
			if ((sfd = open(stat_path, O_RDONLY | O_CLOEXEC)) == -1)
				continue;
			k = read(sfd, text, sizeof(text) - 1);
			close(sfd);
			if (k <= 0)
				continue;
			text[k] = '\0';
			/* "PID (COMM) STATE PPID ...": COMM may hold anything but ends at the last ')'. */
			rp = strrchr(text, ')');
			if (rp == NULL || rp[1] != ' ' || rp[2] == '\0' || rp[3] != ' ')
				continue;
			ppid = strtol(rp + 4, NULL, 10);
			if (ppid == s->self)
				fn(s, (pid_t)p, arg);
		}
		closedir(d);
		return 0;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n == -1 && errno == EINTR)) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				pid = pid * 10 + (uint64_t)(buf[i] - '0');
				in_num = 1;
				continue;
			}
			if (in_num && pid > 0 && pid <= INT_MAX)
				fn(s, (pid_t)pid, arg);
			pid = 0;
			in_num = 0;
		}
	}
	if (in_num && pid > 0 && pid <= INT_MAX)
		fn(s, (pid_t)pid, arg);
	close(fd);
	return 0;
}

/* Children we had before we forked anything (a shell's process substitution, say): not ours to kill. */
static int
inherited(const struct sup *s, pid_t pid)
{
	for (uint32_t i = 0; i < s->ninherited; i++)
		if (s->inherited[i] == pid)
			return 1;
	return 0;
}

static void
note_inherited(struct sup *s, pid_t pid, void *arg)
{
	(void)arg;
	if (s->ninherited < sizeof(s->inherited) / sizeof(s->inherited[0]))
		s->inherited[s->ninherited++] = pid;
}

/* One inherited child was reaped: its PID may come back as anyone's. */
static void
forget_inherited(struct sup *s, pid_t pid)
{
	for (uint32_t i = 0; i < s->ninherited; i++)
		if (s->inherited[i] == pid) {
			s->inherited[i] = s->inherited[--s->ninherited];
			return;
		}
}

static void
kill_orphan(struct sup *s, pid_t pid, void *arg)
{
	int *k = arg;

	if (find_node(s, pid) >= 0 || inherited(s, pid))
		return;
	kill(pid, SIGKILL); /* our unreaped child: the PID is still ours */
	(*k)++;
}

/*
 * Our children that are neither workers nor inherited: what is left of the
 * task trees of dead workers, reparented to us (we are a child subreaper).
 * Each gets SIGKILL; returns how many (1 when they cannot be listed: a
 * tree is never taken for gone unseen).
 */
static int
kill_orphans(struct sup *s)
{
	int k = 0;

	if (s->emb != NULL)
		return 0; /* no subreaper: what a task leaves behind is not ours to see */
	if (each_child(s, kill_orphan, &k) == -1)
		return 1;
	return k;
}

/*
 * Book the deaths of reaped workers once nothing of their tasks' trees is
 * left: a task is queued again only when no process of its last run can
 * still be running, so two runs of one task never overlap.
 */
static void
settle_deaths(struct sup *s)
{
	if (s->ndying == 0 || kill_orphans(s) > 0)
		return;
	for (uint32_t n = 0; n < s->nnodes && s->ndying > 0; n++) {
		struct sup_node *sn = &s->nodes[n];

		if (!sn->dying)
			continue;
		sn->dying = 0;
		s->ndying--;
		node_exited(s, n, sn->dead_pid, sn->dead_status);
	}
}

/*
 * A pool's next reaped worker, by PID: the program's other children are not
 * ours to reap. A worker somebody else reaped (ECHILD) is dead all the same,
 * of a cause we cannot know: it is booked as killed.
 */
static pid_t
reap_own(struct sup *s, int *status)
{
	for (uint32_t n = 0; n < s->nnodes; n++) {
		pid_t pid = s->nodes[n].pid, r;

		if (pid <= 0)
			continue;
		r = waitpid(pid, status, WNOHANG | WUNTRACED | WCONTINUED);
		if (r == pid)
			return pid;
		if (r == -1 && errno == ECHILD) {
			*status = SIGKILL; /* as wait(2) reports a death by SIGKILL */
			return pid;
		}
	}
	return 0;
}

static void
reap(struct sup *s)
{
	/*
	 * A pool asks each of its workers by PID, so it asks only when a
	 * SIGCHLD said one changed (stopped, continued or died), and at every
	 * hang check in case someone else reaped one and took the signal's news.
	 */
	if (s->emb != NULL) {
		if (!s->child_news)
			return;
		s->child_news = 0;
	}
	for (;;) {
		int status, n;
		pid_t pid = s->emb != NULL ? reap_own(s, &status)
		                           : waitpid(-1, &status, WNOHANG | WUNTRACED | WCONTINUED);

		if (pid <= 0)
			break;
		n = find_node(s, pid);
		if (n < 0) {
			forget_inherited(s, pid); /* or an orphan of a task: reaped */
			continue;
		}
		if (WIFSTOPPED(status)) {
			s->nodes[n].stopped_at = dcf_now_ns();
			dcf_log(DCF_WARNING,
			    "Network-%u Node-%u (pid %d) was stopped by SIG%s; "
			    "killed if not continued within %u ms",
			    s->nodes[n].net, s->nodes[n].idx, (int)pid, sig_name(WSTOPSIG(status)),
			    s->cfg->hang_timeout_ms);
			continue;
		}
		if (WIFCONTINUED(status)) {
			s->nodes[n].stopped_at = 0;
			continue;
		}
		/* Dead: its PID is not ours any more, and its network has one node less. */
		cg_kill_node(s, (uint32_t)n);
		s->nodes[n].pid = 0;
		s->alive[s->nodes[n].net]--;
		s->nodes[n].dying = 1;
		s->nodes[n].dead_pid = pid;
		s->nodes[n].dead_status = status;
		s->ndying++;
	}
	settle_deaths(s);
}

/* --- full reset -------------------------------------------------------- */

static void
kill_all(struct sup *s)
{
	for (uint32_t n = 0; n < s->nnodes; n++)
		if (s->nodes[n].pid > 0)
			kill(s->nodes[n].pid, SIGKILL);
}

static int
live_children(struct sup *s)
{
	int k = 0;

	for (uint32_t n = 0; n < s->nnodes; n++)
		k += s->nodes[n].pid > 0;
	return k;
}

/*
 * The books cannot be trusted in place: stop every worker, and once the
 * last is reaped (finish_reset, from the main loop) rebuild the rings from
 * the task table (PostgreSQL's answer to a crash it cannot reason about).
 */
static void
request_reset(struct sup *s, const char *why)
{
	if (s->resetting)
		return;
	s->resetting = 1;
	dcf_log(DCF_ERROR,
	    "%s: stopping every worker and rebuilding the queues from the task table", why);
	kill_all(s);
}

static void
finish_reset(struct sup *s)
{
	char err[DCF_ERRLEN];
	uint64_t now = dcf_now_ns();
	int r;

	/* A pool hears of a task's end only through its retire or its death: a reset must
	 * not quarantine what nobody would report (it runs again, its attempts counted). */
	r = dcf_books_reset(&s->sg, s->emb != NULL ? UINT32_MAX : s->cfg->max_attempts, err,
	    sizeof(err));
	s->resetting = 0;
	s->epoch_ns = now;
	for (uint32_t n = 0; n < s->nnodes; n++) {
		if (s->nodes[n].st == SN_FAILED || s->nodes[n].st == SN_STOPPED)
			continue;
		/* On its way out by dcf-ctl: the reset ended its worker, so it is out. */
		if (s->nodes[n].retiring && !s->nodes[n].again && !s->stopping) {
			s->nodes[n].retiring = 0;
			s->nodes[n].st = SN_STOPPED;
			shm_node(s, n)->state = DCF_NODE_STOPPED;
			continue;
		}
		s->nodes[n].retiring = 0;
		s->nodes[n].again = 0;
		s->nodes[n].st = s->stopping ? SN_STOPPED : SN_DOWN;
		s->nodes[n].restart_at = now;
		shm_node(s, n)->state = DCF_NODE_DOWN;
	}
	if (r < 0) {
		dcf_log(DCF_ERROR, "reset failed: %s", err);
		s->failed_run = 1;
		if (!s->stopping)
			s->stopping = -1;
		return;
	}
	if (s->stopping) /* the rebuild left the books running: keep them stopping */
		__atomic_store_n(&s->sg.hdr->sys_state, DCF_SYS_STOPPING, __ATOMIC_RELEASE);
	dcf_log(DCF_WARNING, "books rebuilt; %d running tasks reclaimed; restarting the nodes", r);
}

/* --- timers and the watchdog ------------------------------------------- */

static void
check_hangs(struct sup *s, uint64_t now)
{
	uint64_t limit = hang_ns(s);

	/*
	 * Workers blocked behind a stuck lock holder make no progress, but they
	 * are not hung: take the lock first (killing a holder stuck for
	 * --hang-timeout), which moves the hang epoch past a long wait.
	 */
	if (sup_lock(s) == 0) {
		dcf_unlock(&s->sg);
		if (s->epoch_ns > now)
			now = dcf_now_ns(); /* it waited: judge from after the wait */
	}

	for (uint32_t n = 0; n < s->nnodes; n++) {
		struct sup_node *sn = &s->nodes[n];
		uint64_t hb = __atomic_load_n(&shm_node(s, n)->heartbeat_ns, __ATOMIC_RELAXED);
		uint32_t st = __atomic_load_n(&shm_node(s, n)->state, __ATOMIC_RELAXED);
		uint64_t stopped = sn->stopped_at;
		int hung;

		if (sn->st != SN_RUN || sn->pid <= 0 || sn->hang_killed)
			continue;
		/* Time when everybody was stopped or stuck is nobody's hang. */
		if (hb < s->epoch_ns)
			hb = s->epoch_ns;
		if (stopped != 0 && stopped < s->epoch_ns)
			stopped = s->epoch_ns;
		hung = stopped != 0 && now > stopped && now - stopped > limit;
		if ((st == DCF_NODE_BUSY || st == DCF_NODE_STARTING) && hb < now &&
		    now - hb > limit)
			hung = 1;
		if (!hung)
			continue;
		dcf_log(DCF_ERROR,
		    "Network-%u Node-%u (pid %d) made no progress for %u ms: killing it", sn->net,
		    sn->idx, (int)sn->pid, s->cfg->hang_timeout_ms);
		sn->hang_killed = 1;
		kill(sn->pid, SIGKILL); /* our unreaped child: the PID is still ours */
	}
}

static void
restart_due(struct sup *s, uint64_t now)
{
	if (s->stopping || s->resetting)
		return;
	for (uint32_t n = 0; n < s->nnodes && !s->resetting; n++) {
		struct sup_node *sn = &s->nodes[n];

		if (sn->st == SN_DOWN && sn->restart_at <= now)
			fork_node(s, n, 1);
	}
}

/* Tasks in the run: a stream's are known when its input has ended. */
static uint64_t
total_tasks(struct sup *s)
{
	return s->fed ? __atomic_load_n(&s->sg.hdr->total, __ATOMIC_ACQUIRE) : s->cfg->tasks;
}

static void
progress_text(struct sup *s, char *line, size_t len)
{
	struct dcf_hdr *h = s->sg.hdr;
	double secs = (double)(dcf_now_ns() - s->t0) / 1e9;
	uint64_t done = h->cnt.retired + h->cnt.quarantined;
	uint32_t down = 0;
	char rate[32];

	for (uint32_t n = 0; n < s->nnodes; n++)
		down += s->nodes[n].st != SN_RUN;
	rate_text(rate, sizeof(rate), h->cnt.retired, secs);
	if (total_tasks(s) == DCF_TASKS_STREAM)
		snprintf(line, len, "%llu done, %llu running, %s tasks/s, %u %s down",
		    (unsigned long long)done, (unsigned long long)h->cnt.running, rate, down,
		    pl(down, "node", "nodes"));
	else
		snprintf(line, len, "%llu/%llu done, %s tasks/s, %u %s down",
		    (unsigned long long)done,
		    (unsigned long long)(total_tasks(s) - (s->cmd_mode ? h->cnt.skipped : 0)), rate,
		    down, pl(down, "node", "nodes"));
}

/* The terminal's progress line: through the log when the log is that terminal. */
static void
progress_put(struct sup *s, const char *text, size_t len)
{
	if (s->progress_fd == PROGRESS_IN_LOG)
		dcf_log_raw(text, len);
	else if (s->progress_fd >= 0)
		(void)dcf_write_within(s->progress_fd, text, len, 0);
}

static void
progress_line(struct sup *s)
{
	char text[128], line[160];
	int len;

	progress_text(s, text, sizeof(text));
	len = snprintf(line, sizeof(line), "\r\033[K[%s]", text);
	if (len > 0)
		progress_put(s, line, (size_t)len);
}

/* --- several hosts: the leases --------------------------------------------- */

/*
 * Until when this host may go on without a renewal of its leases that went
 * through: two thirds of the lease after the last one began (renewals come
 * every third: two have failed by then), a third before the database lets
 * others take its tasks. UINT64_MAX: not shared, or stopping already.
 */
static uint64_t
lease_guard_at(const struct sup *s)
{
	if (s->storeq == NULL || s->store == NULL || !s->store->shared || s->stopping)
		return UINT64_MAX;
	return dcf_storeq_renewed_ns(s->storeq) + (uint64_t)s->store->lease_ms * MS * 2 / 3;
}

/*
 * The same edge, for the workers (layout.h lease_mono_ns): a run still
 * going past it is killed by its worker, however this supervisor fares
 * (stopped, starved, its own stop's grace). Published after each commit
 * (a renewal is one), a third of a lease before the edge it moves.
 */
static void
publish_lease(struct sup *s)
{
	if (s->storeq == NULL || s->store == NULL || !s->store->shared || s->sg.hdr == NULL)
		return;
	__atomic_store_n(&s->sg.hdr->lease_mono_ns,
	    dcf_storeq_renewed_ns(s->storeq) + (uint64_t)s->store->lease_ms * MS * 2 / 3,
	    __ATOMIC_RELEASE);
}

static void begin_stop(struct sup *s, int why);
static void kill_all(struct sup *s);

/*
 * The leases could not be renewed (the database is out of reach, or this
 * host was stopped): before other hosts may take its tasks, its runs are
 * stopped, so that no run of theirs overlaps one here, and it exits 1. Its
 * next start gives back what it held.
 */
static void
leases_lost(struct sup *s, uint64_t now)
{
	dcf_log(DCF_ERROR,
	    "store: this host's leases were not renewed for %.1f s (lease %.1f s): its runs "
	    "are stopped now, before another host may take their tasks; it exits, and gives "
	    "back what it held when it starts again",
	    (double)(now - dcf_storeq_renewed_ns(s->storeq)) / 1e9,
	    (double)s->store->lease_ms / 1000.0);
	s->failed_run = 1;
	begin_stop(s, -1);
	s->stop_killed = 1;
	kill_all(s);
	s->grace_at = 0;
}

static void
set_timer(struct sup *s, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	struct itimerspec its;

	for (uint32_t n = 0; n < s->nnodes; n++) {
		struct sup_node *sn = &s->nodes[n];

		if (sn->st == SN_DOWN && !s->stopping && !s->resetting && sn->restart_at < next)
			next = sn->restart_at;
	}
	if (s->next_hang_check < next)
		next = s->next_hang_check;
	if (s->cmd_mode && !s->stopping && !s->resetting && retry_due_at(s) < next)
		next = retry_due_at(s);
	/* A delayed task's time (the wall clock's), on our monotonic clock. */
	if (s->svc != NULL && !s->stopping && !s->resetting) {
		uint64_t due = svc_next_due(s->svc), wall = dcf_wall_ns();

		if (due != UINT64_MAX && due > wall && now + (due - wall) < next)
			next = now + (due - wall);
	}
	if (s->stopping && s->grace_at && s->grace_at < next)
		next = s->grace_at;
	/* Several hosts: the moment this host must have renewed its leases by. */
	if (lease_guard_at(s) < next)
		next = lease_guard_at(s);
	if (s->tty && s->next_progress < next)
		next = s->next_progress;
	memset(&its, 0, sizeof(its));
	if (next != UINT64_MAX) {
		if (next <= now)
			next = now + 1;
		its.it_value.tv_sec = (time_t)(next / DCF_NSEC);
		its.it_value.tv_nsec = (long)(next % DCF_NSEC);
	}
	timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* --- signals and shutdown ---------------------------------------------- */

static void
begin_stop(struct sup *s, int why)
{
	s->stopping = why;
	if (s->svc != NULL)
		svc_stop(s->svc); /* no new connection; what was staged still gets its answer */
	if (sup_lock(s) == 0) {
		__atomic_store_n(&s->sg.hdr->sys_state, DCF_SYS_STOPPING, __ATOMIC_RELEASE);
		dcf_unlock(&s->sg);
	}
	dcf_books_wake_all(&s->sg);
	s->grace_at = dcf_now_ns() + (uint64_t)s->cfg->grace_ms * MS;
	for (uint32_t n = 0; n < s->nnodes; n++)
		if (s->nodes[n].st == SN_DOWN)
			s->nodes[n].st = SN_STOPPED;
}

/*
 * What each signal means (man page, SIGNALS). Called wherever signals are
 * read, the lock wait included, so it takes no lock: a stop is only noted
 * here and begun by the main loop.
 *   SIGINT, SIGTERM, SIGHUP  stop: running tasks get --grace-ms; a second
 *                            one stops at once (workers killed, tasks
 *                            requeued in the books, the summary printed)
 *   SIGQUIT                  stop at once
 *   SIGUSR1                  log a progress line
 *   SIGCONT                  after a stop of the supervisor (Ctrl-Z, then
 *                            fg): hang clocks restart from now
 *   SIGCHLD                  reap
 *   any other                logged and ignored
 */
static void
note_signal(struct sup *s, int sig)
{
	switch (sig) {
	case SIGCHLD:
		s->child_news = 1;
		return;
	case SIGCONT:
		s->epoch_ns = dcf_now_ns();
		dcf_log(DCF_DEBUG, "continued: hang clocks restart from now");
		return;
	case SIGUSR1:
		s->progress_req = 1;
		return;
	case SIGINT:
	case SIGTERM:
	case SIGHUP:
		s->last_stop_sig = sig;
		if (++s->sigs == 1 && s->stopping == 0) {
			dcf_log(DCF_WARNING, "SIG%s: stopping; running tasks have %u ms to finish",
			    sig_name(sig), s->cfg->grace_ms);
			s->stop_req = sig;
			return;
		}
		break;
	case SIGQUIT:
		s->last_stop_sig = sig;
		break;
	default:
		dcf_log(DCF_WARNING,
		    "SIG%s ignored (INT, TERM and HUP stop, QUIT stops at once, USR1 logs "
		    "progress)",
		    sig_name(sig));
		return;
	}
	dcf_log(DCF_WARNING, "SIG%s%s: stopping now", sig_name(sig), s->sigs > 1 ? " again" : "");
	if (s->stopping == 0 && s->stop_req == 0)
		s->stop_req = sig;
	s->grace_at = 0;
	s->stop_killed = 1;
	kill_all(s);
}

static void
take_signals(struct sup *s)
{
	struct signalfd_siginfo si;

	while (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		note_signal(s, (int)si.ssi_signo);
}

static int
cont_pending(void)
{
	sigset_t p;

	return sigpending(&p) == 0 && sigismember(&p, SIGCONT) == 1;
}

static void
act_on_signals(struct sup *s)
{
	if (s->stop_req != 0 && s->stopping == 0)
		begin_stop(s, s->stop_req);
	if (s->stop_req != 0 && s->sigs > 1)
		s->grace_at = 0;
	s->stop_req = 0;
	if (s->progress_req) {
		char text[128];

		progress_text(s, text, sizeof(text));
		dcf_log(DCF_INFO, "progress: %s", text);
		s->progress_req = 0;
	}
}

static int
all_failed(struct sup *s)
{
	/* A node dcf-ctl stopped may be started again: the system is not lost. */
	for (uint32_t n = 0; n < s->nnodes; n++)
		if (s->nodes[n].st != SN_FAILED)
			return 0;
	return 1;
}

/* Move outputs along: finished commands' first (they may hold the log), then the log. */
static void
flush_out(struct sup *s)
{
	if (s->cmd_mode)
		cmd_pump(s->cmd);
	if (!s->cmd_mode || !cmd_holds_log(s->cmd))
		dcf_log_flush();
}

/* Wait for the log to take more: 0 to go on; -1 on the deadline or a stop signal. */
static int
wait_log(struct sup *s, uint64_t until)
{
	struct pollfd pfd[5] = {{.fd = s->sfd, .events = POLLIN},
	    {.fd = dcf_log_fd(), .events = POLLOUT}};
	nfds_t nfd = 1;
	int ms = -1, sigs = s->sigs;

	if (dcf_log_queued() > 0 && !(s->cmd_mode && cmd_holds_log(s->cmd)))
		nfd = 2;
	if (s->cmd_mode)
		nfd += (nfds_t)cmd_poll(s->cmd, 0, pfd + nfd);

	if (until != 0) {
		uint64_t now = dcf_now_ns();

		if (now >= until)
			return -1;
		ms = (int)((until - now) / MS) + 1;
	}
	if (poll(pfd, nfd, ms) == -1 && errno != EINTR)
		return -1;
	if (pfd[0].revents & POLLIN) {
		take_signals(s);
		if (s->sigs != sigs || s->stop_req != 0)
			return -1;
	}
	return 0;
}

/*
 * The run is over; only the log is left to write: every completion still
 * in the books, then the summary. A run that ended by itself waits for the
 * log as long as it takes (a reader paging through it is not an error); a
 * run stopped by a signal waits at most the grace period; a further stop
 * signal ends the wait at once. What is not written then is counted lost.
 * The supervisor waits in poll on the log and its signals, nothing else.
 */
static void
final_flush(struct sup *s, const char *summary_line)
{
	uint64_t until = s->stopping > 0 ? dcf_now_ns() + (uint64_t)s->cfg->grace_ms * MS : 0;
	const struct dcf_counters *c = &s->sg.hdr->cnt;
	int gave_up = 0;

	for (;;) {
		int more;

		while (c->completed > c->retired && book_round(s, 0, 0) > 0)
			;
		flush_out(s);
		more = dcf_log_queued() > 0 || (s->cmd_mode && !cmd_idle(s->cmd));
		if (!more && c->completed <= c->retired)
			break;
		if (wait_log(s, until) == -1) {
			gave_up = 1;
			break;
		}
	}
	while (book_round(s, 0, 1) > 0)
		;
	if (summary_line != NULL)
		dcf_log(DCF_INFO, "%s", summary_line);
	if (s->tty)
		progress_put(s, "\r\033[K", 4);
	while (!gave_up && dcf_log_flush() == 1)
		if (wait_log(s, until) == -1)
			break;
	(void)dcf_log_drain(0);
}

/* Command mode's summary: each outcome counted. */
static void
cmd_summary_text(struct sup *s, char *line, size_t len, const char *tail)
{
	const struct dcf_counters *c = &s->sg.hdr->cnt;
	double secs = (double)(dcf_now_ns() - s->t0) / 1e9;
	uint64_t total = total_tasks(s), ran;
	struct cmd_stats st;
	char rate[32], extra[192] = "";
	size_t n = 0;

	cmd_stats(s->cmd, &st);
	if (total == DCF_TASKS_STREAM)
		total = c->dispatched + c->skipped;
	ran = total - c->skipped;
	if (st.resumed > 0)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n, ", %llu skipped (in the %s)",
		    (unsigned long long)st.resumed, s->o->store_path != NULL ? "store" : "joblog");
	if (st.rerun > 0)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n,
		    ", %llu unfinished in the store", (unsigned long long)st.rerun);
	if (st.rejected > 0)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n, ", %llu bad input %s",
		    (unsigned long long)st.rejected, pl(st.rejected, "line", "lines"));
	if (c->cancelled > 0)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n, ", %llu cancelled",
		    (unsigned long long)c->cancelled);
	if (c->succeeded + c->failed + c->timed_out + c->quarantined + c->cancelled < ran)
		snprintf(extra + n, sizeof(extra) - n, ", %llu not run",
		    (unsigned long long)(ran - c->succeeded - c->failed - c->timed_out -
		        c->quarantined - c->cancelled));
	rate_text(rate, sizeof(rate), c->retired, secs);
	snprintf(line, len,
	    "dcf '%s': %llu %s: %llu succeeded, %llu failed, %llu timed out, %llu quarantined%s; "
	    "%llu %s; %llu node %s, %llu %s reclaimed; %.2f s, %s tasks/s%s",
	    s->o->name, (unsigned long long)ran, pl(ran, "task", "tasks"),
	    (unsigned long long)c->succeeded, (unsigned long long)c->failed,
	    (unsigned long long)c->timed_out, (unsigned long long)c->quarantined, extra,
	    (unsigned long long)c->retried, pl(c->retried, "retry", "retries"),
	    (unsigned long long)c->failures, pl(c->failures, "failure", "failures"),
	    (unsigned long long)c->reclaimed, pl(c->reclaimed, "task", "tasks"), secs, rate, tail);
}

static void
summary_text(struct sup *s, char *line, size_t len)
{
	struct dcf_hdr *h = s->sg.hdr;
	const struct dcf_counters *c = &h->cnt;
	double secs = (double)(dcf_now_ns() - s->t0) / 1e9;
	uint64_t lost = dcf_log_lost();
	char tail[160] = "", rate[32];

	if (lost > 0)
		snprintf(tail, sizeof(tail), "; %llu log %s could not be written (%s)",
		    (unsigned long long)lost, pl(lost, "line", "lines"),
		    dcf_log_error() ? dcf_log_error() : "?");
	if (s->cmd_mode) {
		cmd_summary_text(s, line, len, tail);
		return;
	}
	rate_text(rate, sizeof(rate), c->retired, secs);
	snprintf(line, len,
	    "dcf '%s': %llu %s: %llu completed, %llu quarantined, %llu not run; "
	    "%llu node %s, %llu %s, %llu %s reclaimed, %llu lock %s; %.2f s, %s tasks/s%s",
	    s->o->name, (unsigned long long)s->cfg->tasks, pl(s->cfg->tasks, "task", "tasks"),
	    (unsigned long long)c->retired, (unsigned long long)c->quarantined,
	    (unsigned long long)(s->cfg->tasks - c->retired - c->quarantined),
	    (unsigned long long)c->failures, pl(c->failures, "failure", "failures"),
	    (unsigned long long)c->restarts, pl(c->restarts, "restart", "restarts"),
	    (unsigned long long)c->reclaimed, pl(c->reclaimed, "task", "tasks"),
	    (unsigned long long)c->repairs, pl(c->repairs, "repair", "repairs"), secs, rate, tail);
}

/* Is fd the same open file as stdout's? (then the summary is not logged twice) */
static int
same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	    sa.st_ino == sb.st_ino;
}

/*
 * The end: the log's last lines (the summary among them when the log is
 * not standard output's file), then the summary on standard output, with
 * what the log lost counted in it.
 */
static void
finish_output(struct sup *s)
{
	int summary_fd;
	uint64_t lost;
	char line[512];
	size_t n;

	/* The books are final once every completion is retired: the summary's counts. */
	while (book_round(s, 0, 0) > 0)
		;
	summary_text(s, line, sizeof(line));
	/* Commands: standard output is the tasks' alone; the summary goes to stderr. */
	summary_fd = s->out_fd;
	if (s->cmd_mode)
		summary_fd = dcf_log_enabled(DCF_INFO) && s->err_fd < 0 ? -1
		    : s->err_fd >= 0                                    ? s->err_fd
		                                                        : dcf_log_fd();
	final_flush(s, summary_fd >= 0 && same_file(dcf_log_fd(), summary_fd) ? NULL : line);
	if (s->cmd_mode && !cmd_idle(s->cmd))
		cmd_abandon(s->cmd);
	summary_text(s, line, sizeof(line) - 1); /* now with what was lost */
	n = strlen(line);
	line[n++] = '\n';
	if (summary_fd >= 0)
		(void)dcf_write_within(summary_fd, line, n, (int)s->cfg->hang_timeout_ms);
	lost = dcf_log_lost();
	if (lost > 0 && s->err_fd >= 0) {
		char note[256];
		int k = snprintf(note, sizeof(note),
		    "dcf-supervisor: %llu log %s could not be written (%s): the log is "
		    "incomplete; the counts in the summary are the books'\n",
		    (unsigned long long)lost, pl(lost, "line", "lines"),
		    dcf_log_error() ? dcf_log_error() : "?");

		if (k > 0)
			(void)dcf_write_within(s->err_fd, note, (size_t)k, 0);
	}
}

/* --- fatal signals: clean up what we can, then die of the signal -------- */

static struct sup *fatal_sup;

static void
on_fatal(int sig)
{
	static const char bus[] = "dcf-supervisor: SIGBUS: the segment was truncated or cannot "
	                          "be backed; stopping every worker and removing it\n";
	static const char other[] = "dcf-supervisor: fatal signal; stopping every worker and "
	                            "removing the segment\n";
	const char *msg = sig == SIGBUS ? bus : other;
	size_t len = sig == SIGBUS ? sizeof(bus) - 1 : sizeof(other) - 1;
	struct sup *s = fatal_sup;
	struct stat st;

	if (s != NULL && getpid() == s->self) {
		for (uint32_t n = 0; n < s->nnodes; n++)
			if (s->nodes[n].pid > 0)
				kill(s->nodes[n].pid, SIGKILL);
		/* Only while the name is still ours (seg.h: who may unlink it). */
		if (stat(s->shm_path, &st) == 0 && st.st_dev == s->shm_dev &&
		    st.st_ino == s->shm_ino)
			unlink(s->shm_path);
		(void)!write(2, msg, len);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static const int fatal_sigs[] = {SIGBUS, SIGSEGV, SIGFPE, SIGILL, SIGABRT, SIGSYS, SIGTRAP};

static void
catch_fatal(struct sup *s)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal;
	sigemptyset(&sa.sa_mask);
	fatal_sup = s;
	for (size_t i = 0; i < sizeof(fatal_sigs) / sizeof(fatal_sigs[0]); i++)
		sigaction(fatal_sigs[i], &sa, NULL);
}

/* In a forked worker: our cleanup is not the worker's to run. */
static void
uncatch_fatal(void)
{
	for (size_t i = 0; i < sizeof(fatal_sigs) / sizeof(fatal_sigs[0]); i++)
		signal(fatal_sigs[i], SIG_DFL);
}

/* --- main loop --------------------------------------------------------- */

static uint64_t
calibrate_cpu(void)
{
	uint64_t best = 0;

	for (int i = 0; i < 5; i++) {
		uint64_t t = dcf_now_ns(), iters = 200000, x;

		x = dcf_lcg_run(t, iters);
		t = dcf_now_ns() - t;
		if (t == 0)
			t = 1;
		if (iters * MS / t > best)
			best = iters * MS / t;
		if (x == 42) /* keep the loop */
			best++;
	}
	return best ? best : 1;
}

/* Every signal whose default would end us without cleanup, read from a signalfd. */
static void
handled_signals(sigset_t *set)
{
	static const int sigs[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
	    SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGCONT};

	sigemptyset(set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(set, sigs[i]);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		sigaddset(set, sig);
}

/*
 * A pool's: SIGCHLD alone, blocked in the calling thread and read from the
 * signalfd; every other signal stays the program's. SIGCHLD ignored would
 * reap our workers behind our back and never tell us.
 */
static int
setup_fds_embedded(struct sup *s)
{
	struct sigaction sa;
	sigset_t set;

	if (sigaction(SIGCHLD, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
		errno = EINVAL;
		return -1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (pthread_sigmask(SIG_BLOCK, &set, &s->emb_mask) != 0)
		return -1;
	s->emb_masked = 1;
	s->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); /* fork keeps it for the workers */
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	return s->sfd == -1 || s->efd == -1 || s->tfd == -1 ? -1 : 0;
}

static int
setup_fds(struct sup *s)
{
	sigset_t set;

	if (s->emb != NULL)
		return setup_fds_embedded(s);
	handled_signals(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	s->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	s->efd = eventfd(0, EFD_NONBLOCK); /* inherited by workers */
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	return s->sfd == -1 || s->efd == -1 || s->tfd == -1 ? -1 : 0;
}

static void
announce_end(struct sup *s)
{
	const struct dcf_counters *c = &s->sg.hdr->cnt;

	if (s->fed) {
		dcf_log(DCF_INFO,
		    "Every task has ended: %llu succeeded, %llu failed, %llu timed out, %llu "
		    "quarantined; stopping the workers",
		    (unsigned long long)c->succeeded, (unsigned long long)c->failed,
		    (unsigned long long)c->timed_out, (unsigned long long)c->quarantined);
		return;
	}
	if (c->quarantined > 0)
		dcf_log(DCF_INFO,
		    "Every task has ended: %llu completed, %llu quarantined; stopping the workers",
		    (unsigned long long)c->retired, (unsigned long long)c->quarantined);
	else if (s->cfg->tasks == 1)
		dcf_log(DCF_INFO, "The task completed; stopping the workers");
	else
		dcf_log(DCF_INFO, "All %llu tasks completed; stopping the workers",
		    (unsigned long long)s->cfg->tasks);
}

static int
finished(struct sup *s)
{
	struct dcf_hdr *h = s->sg.hdr;

	if (s->fed && !s->input_eof)
		return 0;
	return h->cnt.retired + h->cnt.quarantined + h->cnt.skipped >= total_tasks(s);
}

/* Would the input be read now if it had lines? (free slots, not stopping) */
static int
wants_input(struct sup *s)
{
	return s->cmd_mode && !s->input_eof && !s->stopping && !s->resetting &&
	    dcf_ring_depth(&s->sg.rings[DCF_RING_FREE]) > s->batch.n;
}

static void
wait_events(struct sup *s)
{
	struct pollfd pfd[8 + 2 + SVC_MAX_CONN];
	nfds_t nfd = 3;

	set_timer(s, dcf_now_ns());
	pfd[0].fd = s->sfd;
	pfd[1].fd = s->efd;
	pfd[2].fd = s->tfd;
	pfd[0].events = pfd[1].events = pfd[2].events = POLLIN;
	if (dcf_log_queued() > 0 && !(s->cmd_mode && cmd_holds_log(s->cmd))) {
		pfd[nfd].fd = dcf_log_fd();
		pfd[nfd++].events = POLLOUT;
	}
	if (s->storeq != NULL) {
		pfd[nfd].fd = dcf_storeq_fd(s->storeq);
		pfd[nfd++].events = POLLIN;
	}
	if (s->cmd_mode)
		nfd += (nfds_t)cmd_poll(s->cmd, wants_input(s), pfd + nfd);
	if (s->svc != NULL)
		nfd += (nfds_t)svc_poll(s->svc, pfd + nfd, 2 + SVC_MAX_CONN);
	if (poll(pfd, nfd, -1) == -1)
		return;
	if (pfd[1].revents & POLLIN) {
		uint64_t v;

		(void)!read(s->efd, &v, sizeof(v));
	}
	if (pfd[2].revents & POLLIN) {
		uint64_t v;

		(void)!read(s->tfd, &v, sizeof(v));
	}
}

static void
on_timers(struct sup *s)
{
	uint64_t now = dcf_now_ns();

	if (now >= lease_guard_at(s))
		leases_lost(s, now);
	restart_due(s, now);
	if (now >= s->next_hang_check) {
		/* A stop that ended before `now` was read left SIGCONT pending: honour it first. */
		take_signals(s);
		now = dcf_now_ns();
		if (!cont_pending()) {
			s->child_news = 1;
			check_hangs(s, now);
			s->next_hang_check = now + hang_ns(s) / 2;
		}
	}
	if (s->stopping && s->grace_at && now >= s->grace_at) {
		if (live_children(s) > 0)
			dcf_log(DCF_WARNING, "grace period over: killing %d workers",
			    live_children(s));
		s->stop_killed = 1;
		kill_all(s);
		s->grace_at = 0;
	}
	if (s->tty && now >= s->next_progress) {
		progress_line(s);
		s->next_progress = now + 500 * MS;
	}
}

/* --store: what the committer says. A batch waits for nothing, so only its trouble. */
static void
store_news(struct sup *s)
{
	char err[DCF_ERRLEN];
	int failed;

	if (s->storeq == NULL)
		return;
	publish_lease(s);
	if (dcf_storeq_collect(s->storeq, s->svc != NULL ? svc_committed : NULL, s->svc, &failed,
	        err, sizeof(err)) > 0 &&
	    s->store_failing) {
		s->store_failing = 0;
		dcf_log(DCF_WARNING, "store: recording again");
	}
	if (failed == 2) {
		dcf_log(DCF_ERROR,
		    "store: %s; stopping: nothing more can be recorded (what was not is not "
		    "acknowledged, and runs again at the next start)",
		    err);
		s->failed_run = 1;
		if (!s->stopping)
			begin_stop(s, -1);
	} else if (failed && !s->store_failing) {
		s->store_failing = 1;
		dcf_log(DCF_ERROR,
		    "store: %s; retrying (finished tasks are recorded once it "
		    "succeeds)",
		    err);
	}
}

/* --store: the last commits, then the store closed. 0, or 1 if records were lost. */
static int
store_close(struct sup *s)
{
	char err[DCF_ERRLEN];
	size_t lost = 0;
	int rc = 0;

	if (s->storeq != NULL &&
	    dcf_storeq_stop(s->storeq, 3, s->svc != NULL ? svc_committed : NULL, s->svc, &lost, err,
	        sizeof(err)) == -1) {
		dcf_log(DCF_ERROR,
		    "store: %s: %zu %s not recorded; their tasks run again when this store is "
		    "used again",
		    err, lost, pl(lost, "change", "changes"));
		rc = 1;
	}
	s->storeq = NULL;
	svc_close(s->svc); /* the answers of the last commits written, as far as they go */
	s->svc = NULL;
	dcf_store_close(s->store);
	s->store = NULL;
	return rc;
}

/* --- dcf-ctl ---------------------------------------------------------------- */

/*
 * What dcf-ctl set that must outlive us (the networks paused, a drain),
 * staged for the store: the answer waits for its commit (*after), so a
 * restart keeps what was answered. Out of memory: said, and not kept.
 */
static int
record_control(struct sup *s, char *text, size_t len, uint64_t *after)
{
	struct dcf_store_ctl c;

	memset(&c, 0, sizeof(c));
	for (uint32_t n = 0; n < s->cfg->nets; n++)
		if (s->paused[n])
			c.paused[n / 64] |= 1ULL << (n % 64);
	c.draining = s->draining != 0;
	if (dcf_storeq_control(s->storeq, &c, DCF_STOREQ_CTL | ++s->ctl_seq) == -1) {
		size_t n = strlen(text);

		snprintf(text + n, len - n, " (not recorded, out of memory: a restart forgets it)");
		return 0;
	}
	*after = DCF_STOREQ_CTL | s->ctl_seq;
	return 1;
}

/* At a start: the networks paused and the drain a dead supervisor had been asked for. */
static void
restore_control(struct sup *s)
{
	const struct dcf_store_ctl *c = &s->ctl_was;
	uint32_t n, lost = 0;

	for (n = 0; n < DCF_MAX_NETS; n++) {
		if (!(c->paused[n / 64] & (1ULL << (n % 64))))
			continue;
		if (n >= s->cfg->nets) {
			lost++;
			continue;
		}
		if (sup_lock(s) == -1)
			return;
		if (dcf_set_paused_locked(&s->sg, n, 1) == 0) {
			s->paused[n] = 1;
			s->npaused++;
		}
		dcf_unlock(&s->sg);
		dcf_log(DCF_WARNING, "Network-%u paused, as dcf-ctl left it: dcf-ctl resume %u", n,
		    n);
	}
	if (lost > 0)
		dcf_log(DCF_WARNING, "%u paused networks are beyond --networks %u: forgotten", lost,
		    s->cfg->nets);
	if (c->draining && !s->draining) {
		if (sup_lock(s) == -1)
			return;
		dcf_set_draining_locked(&s->sg);
		dcf_unlock(&s->sg);
		s->draining = 1;
		svc_drain(s->svc);
		dcf_log(DCF_WARNING,
		    "draining, as dcf-ctl left it: no new submissions; stopping once every "
		    "task has ended");
	}
}

/* --- dcf-ctl: nodes ------------------------------------------------------ */

/* Network net's nodes that run or will (restarting), and are not on their way out. */
static uint32_t
net_up(const struct sup *s, uint32_t net)
{
	uint32_t k = 0, per = s->cfg->nodes_per_net;

	for (uint32_t i = 0; i < per; i++) {
		const struct sup_node *sn = &s->nodes[net * per + i];

		k += (sn->st == SN_RUN || sn->st == SN_DOWN) && (!sn->retiring || sn->again);
	}
	return k;
}

/* Node n up (dcf-ctl): a stopped or failed one now; one on its way out, again once gone. */
static void
ctl_start_node(struct sup *s, uint32_t n)
{
	struct sup_node *sn = &s->nodes[n];

	sn->once = 0;
	if (sn->st == SN_RUN || sn->st == SN_DOWN) {
		sn->again = sn->retiring;
		return;
	}
	sn->ncrash = 0;
	if (fork_node(s, n, 0) == 0)
		dcf_log(DCF_WARNING, "Network-%u Node-%u started by dcf-ctl (pid %d)", sn->net,
		    sn->idx, (int)sn->pid);
}

/*
 * Node n down (dcf-ctl): it claims nothing more and its worker exits once
 * it has finished what it holds, or (now) is killed at once, its task put
 * back as after any death; again: started again then (restart-node).
 */
static void
ctl_stop_node(struct sup *s, uint32_t n, int now, int again)
{
	struct sup_node *sn = &s->nodes[n];

	if (sn->st == SN_DOWN) {
		/* No process: it was waiting for its restart. */
		if (!again) {
			node_stopped(s, n);
			dcf_log(DCF_WARNING, "Network-%u Node-%u stopped by dcf-ctl", sn->net,
			    sn->idx);
			return;
		}
		sn->once = 0;
		sn->ncrash = 0;
		sn->restart_at = dcf_now_ns();
		return;
	}
	if (sn->st != SN_RUN) {
		if (again)
			ctl_start_node(s, n);
		return;
	}
	sn->retiring = 1;
	sn->again = again;
	if (sn->pid <= 0)
		return; /* reaped, its death not booked yet: that is its end */
	if (sup_lock(s) == 0) {
		if (dcf_node_retire_locked(&s->sg, n, sn->gen) == -1)
			dcf_log(DCF_ERROR, "books: retiring Network-%u Node-%u: %s", sn->net,
			    sn->idx, strerror(errno));
		dcf_unlock(&s->sg);
	}
	dcf_books_wake_all(&s->sg); /* a sleeper hears it, and goes */
	if (now) {
		sn->killed = 1;
		kill(sn->pid, SIGKILL); /* our unreaped child: the PID is still ours */
	}
}

static int
bad_net(const struct sup *s, uint32_t net, char *text, size_t len)
{
	if (net < s->cfg->nets)
		return 0;
	snprintf(text, len, "no network %u: this system has %u (0 to %u): nothing was changed", net,
	    s->cfg->nets, s->cfg->nets - 1);
	return 1;
}

/* dcf-ctl scale NETWORK [+|-]N: nodes started, or stopped (the highest first, idle first). */
static int
ctl_scale(struct sup *s, uint32_t net, uint64_t flags, int64_t value, char *text, size_t len)
{
	uint32_t per = s->cfg->nodes_per_net, cur, up;
	int64_t want;
	int now = (flags & DCF_CTL_F_NOW) != 0;

	if (bad_net(s, net, text, len))
		return -1;
	cur = up = net_up(s, net);
	want = flags & DCF_CTL_F_RELATIVE ? (int64_t)cur + value : value;
	if (want < 0) {
		snprintf(text, len,
		    "Network-%u has %u nodes: %+lld would leave fewer than none: "
		    "nothing was changed",
		    net, cur, (long long)value);
		return -1;
	}
	if (want > 0 && s->removed[net]) {
		snprintf(text, len,
		    "Network-%u is removed: dcf-ctl add-network gives it nodes: nothing was "
		    "changed",
		    net);
		return -1;
	}
	if (want > per) {
		snprintf(text, len,
		    "Network-%u has room for %u nodes, not %lld (dcf-supervisor "
		    "--max-nodes): nothing was changed",
		    net, per, (long long)want);
		return -1;
	}
	/* Up: stopped and failed slots first, then those on their way out come back. */
	for (int pass = 0; pass < 2 && up < want; pass++)
		for (uint32_t i = 0; i < per && up < want; i++) {
			struct sup_node *sn = &s->nodes[net * per + i];

			if (pass == 0 ? sn->st == SN_STOPPED || sn->st == SN_FAILED
			              : sn->st == SN_RUN && sn->retiring && !sn->again) {
				ctl_start_node(s, net * per + i);
				up++;
			}
		}
	/* Down, from the highest: those without a process, those idle, then the busy. */
	for (int pass = 0; pass < 3 && up > want; pass++)
		for (uint32_t i = per; i-- > 0 && up > want;) {
			uint32_t n = net * per + i;
			struct sup_node *sn = &s->nodes[n];
			int idle = shm_node(s, n)->task_slot == DCF_NONE;

			if ((sn->st == SN_DOWN && pass == 0) ||
			    (sn->st == SN_RUN && (!sn->retiring || sn->again) &&
			        (pass == 2 || (pass == 1 && idle)))) {
				if (sn->retiring)
					sn->again = 0;
				else
					ctl_stop_node(s, n, now, 0);
				up--;
			}
		}
	snprintf(text, len, "Network-%u: %u -> %u nodes", net, cur, up);
	if (up != cur)
		dcf_log(DCF_WARNING, "Network-%u scaled from %u to %u nodes by dcf-ctl%s", net, cur,
		    up,
		    up > cur  ? ""
		        : now ? ": those stopped put their tasks back at once"
		              : ": those stopped finish their tasks first");
	return 0;
}

/* dcf-ctl stop-node, restart-node, no-restart NETWORK NODE. */
static int
ctl_node(struct sup *s, uint32_t op, uint32_t net, uint64_t node, int64_t value, char *text,
    size_t len)
{
	uint32_t per = s->cfg->nodes_per_net, n;
	struct sup_node *sn;
	int now = (value & DCF_CTL_F_NOW) != 0;

	if (bad_net(s, net, text, len))
		return -1;
	if (node >= per) {
		snprintf(text, len,
		    "Network-%u has no node %llu: its nodes are 0 to %u: nothing "
		    "was changed",
		    net, (unsigned long long)node, per - 1);
		return -1;
	}
	n = net * per + (uint32_t)node;
	sn = &s->nodes[n];
	if (op == DCF_CTL_RESTART_NODE && s->removed[net]) {
		snprintf(text, len,
		    "Network-%u is removed: dcf-ctl add-network gives it nodes: nothing was "
		    "changed",
		    net);
		return -1;
	}
	switch (op) {
	case DCF_CTL_STOP_NODE:
		if (sn->st == SN_STOPPED || (sn->retiring && !sn->again)) {
			snprintf(text, len, "Network-%u Node-%u is stopped%s", net, sn->idx,
			    sn->st == SN_STOPPED ? " already" : "ping already");
			return 0;
		}
		ctl_stop_node(s, n, now, 0);
		if (sn->st == SN_FAILED)
			node_stopped(s, n);
		snprintf(text, len, "Network-%u Node-%u %s", net, sn->idx,
		    sn->st == SN_STOPPED ? "stopped"
		        : now            ? "stopping: its task is put back at once"
		                         : "stopping once its task is done");
		return 0;
	case DCF_CTL_RESTART_NODE:
		ctl_stop_node(s, n, now, 1);
		snprintf(text, len, "Network-%u Node-%u %s", net, sn->idx,
		    sn->retiring ? (now ? "restarting: its task is put back at once"
		                        : "restarting once its task is done")
		                 : "started");
		return 0;
	default: /* DCF_CTL_NO_RESTART */
		if (sn->st == SN_DOWN) {
			node_stopped(s, n);
			snprintf(text, len, "Network-%u Node-%u was down: it stays down", net,
			    sn->idx);
		} else if (sn->st == SN_RUN) {
			sn->once = 1;
			sn->again = 0;
			snprintf(text, len,
			    "Network-%u Node-%u runs on; when its worker ends it stays "
			    "down",
			    net, sn->idx);
		} else {
			snprintf(text, len, "Network-%u Node-%u is down already", net, sn->idx);
		}
		dcf_log(DCF_WARNING, "Network-%u Node-%u: no restart, by dcf-ctl", net, sn->idx);
		return 0;
	}
}

/* dcf-ctl add-network N: the first removed network whose nodes are all gone, with N. */
static int
ctl_add_network(struct sup *s, int64_t nodes, char *text, size_t len)
{
	uint32_t per = s->cfg->nodes_per_net, busy = 0;

	if (nodes < 1 || nodes > per) {
		snprintf(text, len,
		    "a network here has 1 to %u nodes (dcf-supervisor --max-nodes), not %lld: "
		    "nothing was changed",
		    per, (long long)nodes);
		return -1;
	}
	for (uint32_t net = 0; net < s->cfg->nets; net++) {
		char scaled[128];

		if (!s->removed[net])
			continue;
		if (s->alive[net] > 0 || net_up(s, net) > 0) {
			busy++; /* still being removed: its nodes finish first */
			continue;
		}
		set_removed(s, net, 0);
		(void)ctl_scale(s, net, 0, nodes, scaled, sizeof(scaled));
		snprintf(text, len, "Network-%u added, with %lld nodes", net, (long long)nodes);
		dcf_log(DCF_WARNING, "Network-%u added by dcf-ctl, with %lld nodes", net,
		    (long long)nodes);
		return 0;
	}
	snprintf(text, len,
	    "no room for another network: this service has room for %u (dcf-supervisor "
	    "--max-networks)%s: nothing was changed",
	    s->cfg->nets, busy > 0 ? ", and those removed still have nodes finishing" : "");
	return -1;
}

/*
 * dcf-ctl remove-network NETWORK: nothing new is placed there, its nodes
 * stop (after their tasks, or with --now at once) and, once none is left,
 * its queue goes to the other networks (a task pinned to it waits there).
 */
static int
ctl_remove_network(struct sup *s, uint32_t net, int64_t value, char *text, size_t len)
{
	char scaled[128];
	uint32_t left = 0;

	if (bad_net(s, net, text, len))
		return -1;
	if (s->removed[net]) {
		snprintf(text, len, "Network-%u is removed already", net);
		return 0;
	}
	for (uint32_t n = 0; n < s->cfg->nets; n++)
		left += n != net && !s->removed[n];
	if (left == 0) {
		snprintf(text, len,
		    "Network-%u is the last network: removing it would leave nothing to run "
		    "tasks (pause it instead): nothing was changed",
		    net);
		return -1;
	}
	set_removed(s, net, 1);
	(void)ctl_scale(s, net, value & DCF_CTL_F_NOW, 0, scaled, sizeof(scaled));
	if (s->alive[net] == 0)
		evacuate(s, net);
	snprintf(text, len, "Network-%u removed: %s; its queue goes to the other networks", net,
	    value & DCF_CTL_F_NOW ? "its nodes' tasks are put back at once"
	                          : "its nodes finish their tasks and stop");
	dcf_log(DCF_WARNING, "Network-%u removed by dcf-ctl", net);
	return 0;
}

static int
ctl_pause(struct sup *s, uint32_t net, int pause, char *text, size_t len, uint64_t *after)
{
	const char *what = pause ? "paused" : "resumed";
	char where[32];
	int r;

	if (net != DCF_CTL_ALL && net >= s->cfg->nets) {
		snprintf(text, len, "no network %u: this system has %u (0 to %u)", net,
		    s->cfg->nets, s->cfg->nets - 1);
		return -1;
	}
	if (sup_lock(s) == -1) {
		snprintf(text, len, "the books are being repaired: nothing was changed; try again");
		return -1;
	}
	r = dcf_set_paused_locked(&s->sg, net == DCF_CTL_ALL ? DCF_NONE : net, (uint32_t)pause);
	dcf_unlock(&s->sg);
	if (r == -1) {
		snprintf(text, len, "the books refused: %s; nothing was changed", strerror(errno));
		return -1;
	}
	s->npaused = 0;
	for (uint32_t n = 0; n < s->cfg->nets; n++) {
		if (net == DCF_CTL_ALL || n == net)
			s->paused[n] = (uint8_t)pause;
		s->npaused += s->paused[n];
	}
	if (net == DCF_CTL_ALL)
		snprintf(where, sizeof(where), "every network");
	else
		snprintf(where, sizeof(where), "Network-%u", net);
	snprintf(text, len, "%s %s", where, what);
	dcf_log(DCF_WARNING, "%s %s by dcf-ctl: %s", where, what,
	    pause ? "its nodes start no new task; running ones go on"
	          : "its nodes take tasks again");
	return record_control(s, text, len, after);
}

static int
ctl_drain(struct sup *s, char *text, size_t len, uint64_t *after)
{
	if (s->draining) {
		snprintf(text, len, "draining already");
		return 0;
	}
	if (sup_lock(s) == -1) {
		snprintf(text, len, "the books are being repaired: nothing was changed; try again");
		return -1;
	}
	dcf_set_draining_locked(&s->sg);
	dcf_unlock(&s->sg);
	s->draining = 1;
	svc_drain(s->svc);
	snprintf(text, len, "draining: no new submissions; it stops once every task has ended");
	dcf_log(DCF_WARNING,
	    "draining (dcf-ctl): no new submissions; stopping once every task has ended");
	return record_control(s, text, len, after);
}

/*
 * Several hosts: a task that another host holds (svc_elsewhere) is asked
 * of that host, through the store (dcf_storeq_ask): answered once the
 * request is recorded, or refused if the task changed hands meanwhile. A
 * request another host left here is carried out here or not at all.
 */
static int
ctl_ask(struct sup *s, uint64_t id, uint32_t op, int64_t val, const char *what, char *text,
    size_t len, uint64_t *after)
{
	unsigned long long n = (unsigned long long)id;

	if (svc_asking(s->svc)) {
		snprintf(text, len, "task %llu is no longer held here: nothing was changed", n);
		return -1;
	}
	if (dcf_storeq_ask(s->storeq, id, op, val) == -1) {
		snprintf(text, len, "out of memory: nothing was changed");
		return -1;
	}
	snprintf(text, len, "task %llu is held by host %s: %s", n, svc_elsewhere(s->svc), what);
	dcf_log(DCF_INFO, "Task-%llu: held by host %s: %s", n, svc_elsewhere(s->svc), what);
	*after = id;
	return 1;
}

/*
 * A task that has not started: never run. Where it waits decides how:
 * svc's memory or the store alone (svc drops it), or a slot of the books
 * (marked: the node that claims it ends it without a run). Either way its
 * end, CANCELLED, is committed before the answer (*after).
 */
static int
ctl_cancel(struct sup *s, uint64_t id, char *text, size_t len, uint64_t *after)
{
	struct dcf_store_task t;
	enum svc_where w = svc_cancel(s->svc, id, &t);
	unsigned long long n = (unsigned long long)id;

	switch (w) {
	case SVC_NOTASK:
		snprintf(text, len, "no task %llu", n);
		return -1;
	case SVC_PENDING:
		snprintf(text, len,
		    "task %llu is not committed yet: nothing was changed; ask again", n);
		return -1;
	case SVC_FAILED:
		snprintf(text, len,
		    "the store could not be read: nothing was changed (see the log)");
		return -1;
	case SVC_ENDED:
		snprintf(text, len, "task %llu has ended (%s): nothing was changed", n,
		    t.state < DCF_SS_NSTATES ? dcf_store_state_name(t.state) : "cancelled");
		return -1;
	case SVC_RUNNING:
		snprintf(text, len,
		    "task %llu was running when the last supervisor died: it is too late to cancel "
		    "it (it runs again)",
		    n);
		return -1;
	case SVC_HANDED: {
		struct dcf_done d;
		int r, e;

		if (sup_lock(s) == -1) {
			snprintf(text, len,
			    "the books are being repaired: nothing was changed; try again");
			return -1;
		}
		r = dcf_cancel_locked(&s->sg, id - 1, &d);
		e = errno;
		dcf_unlock(&s->sg);
		if (r == -1) {
			snprintf(text, len,
			    e == EBUSY ? "task %llu runs (or a node has taken it): it is too late "
			                 "to cancel it"
			        : e == ECANCELED
			        ? "task %llu is cancelled already"
			        : "task %llu is not waiting (it has ended, or is on "
			          "its way to a node: ask again): nothing was changed",
			    n);
			return -1;
		}
		t.attempts = d.attempts;
		t.tries = d.tries;
		t.runs = d.runs;
		break;
	}
	case SVC_DROPPED:
		break;
	case SVC_ELSEWHERE:
		return ctl_ask(s, id, DCF_CTL_CANCEL, 0,
		    "asked to cancel it there (it runs if it has started)", text, len, after);
	case SVC_STORED: /* nobody's: its end alone, refused if a host takes it meanwhile */
		if (svc_asking(s->svc))
			return ctl_ask(s, id, 0, 0, NULL, text, len, after);
		break;
	case SVC_MOVED: /* svc_reprio's alone */
		return -1;
	}
	t.state = DCF_SS_CANCELLED;
	t.ended_ns = dcf_wall_ns();
	memset(&t.out, 0, sizeof(t.out));
	t.out.how = DCF_HOW_CANCELLED;
	t.claim = svc_claim_of(s->svc, id);
	if (dcf_storeq_upd(s->storeq, DCF_SU_ENDED, &t, DCF_STOREQ_ENDED | id) == -1) {
		snprintf(text, len,
		    "task %llu cancelled, but not recorded (out of memory): a restart runs it", n);
		dcf_log(DCF_ERROR,
		    "Task-%llu cancelled by dcf-ctl, but not recorded: out of memory", n);
		return 0;
	}
	dcf_log(DCF_WARNING, "Task-%llu cancelled by dcf-ctl%s", n,
	    w == SVC_HANDED ? ": the node that takes it ends it without a run" : "");
	snprintf(text, len, "task %llu cancelled", n);
	*after = id;
	return 1;
}

/*
 * dcf-ctl priority: a task waiting in memory or in the store alone moves
 * there (svc_reprio); one in a slot moves between the books' rings. Its
 * new priority is recorded, and answered once committed.
 */
static int
ctl_priority(struct sup *s, uint64_t id, int64_t prio, char *text, size_t len, uint64_t *after)
{
	struct dcf_store_task t;
	unsigned long long n = (unsigned long long)id;
	int32_t old;

	if (prio < DCF_PRIO_MIN || prio > DCF_PRIO_MAX) {
		snprintf(text, len, "priority %lld is not one of %d to %d", (long long)prio,
		    DCF_PRIO_MIN, DCF_PRIO_MAX);
		return -1;
	}
	switch (svc_reprio(s->svc, id, (int32_t)prio, &t)) {
	case SVC_NOTASK:
		snprintf(text, len, "no task %llu", n);
		return -1;
	case SVC_PENDING:
		snprintf(text, len,
		    "task %llu is not committed yet: nothing was changed; ask again", n);
		return -1;
	case SVC_FAILED:
	case SVC_DROPPED:
		snprintf(text, len,
		    "the store could not be read, or memory is short: nothing was changed (see "
		    "the log)");
		return -1;
	case SVC_ENDED:
		snprintf(text, len, "task %llu has ended (%s): nothing was changed", n,
		    t.state < DCF_SS_NSTATES ? dcf_store_state_name(t.state) : "cancelled");
		return -1;
	case SVC_RUNNING:
		snprintf(text, len,
		    "task %llu runs (it was running when the last supervisor died): its priority "
		    "no longer matters",
		    n);
		return -1;
	case SVC_HANDED: {
		int r, e;

		/* Its record will say the new level, which the store's reads have not passed. */
		if (svc_pin(s->svc, id) == -1) {
			snprintf(text, len, "out of memory: nothing was changed");
			return -1;
		}
		if (sup_lock(s) == -1) {
			snprintf(text, len,
			    "the books are being repaired: nothing was changed; try again");
			return -1;
		}
		r = dcf_reprio_locked(&s->sg, id - 1, prio_level((int32_t)prio));
		e = errno;
		dcf_unlock(&s->sg);
		if (r == -1) {
			snprintf(text, len,
			    e == EBUSY ? "task %llu runs: its priority no longer matters"
			        : e == E2BIG
			        ? "task %llu has too many tasks before and after it in "
			          "its network's queue to move now: ask again when it "
			          "has moved up"
			        : "task %llu is not waiting (it has ended, or is on its "
			          "way to a node: ask again): nothing was changed",
			    n);
			return -1;
		}
		break;
	}
	case SVC_MOVED:
		break;
	case SVC_ELSEWHERE: {
		char what[64];

		snprintf(what, sizeof(what), "asked to move it to priority %lld there",
		    (long long)prio);
		return ctl_ask(s, id, DCF_CTL_PRIORITY, prio, what, text, len, after);
	}
	case SVC_STORED: /* nobody's: its row alone */
		if (svc_asking(s->svc))
			return ctl_ask(s, id, 0, 0, NULL, text, len, after);
		break;
	}
	old = t.prio;
	t.prio = (int32_t)prio;
	if (dcf_storeq_upd(s->storeq, DCF_SU_PRIO, &t, DCF_STOREQ_PRIO | id) == -1) {
		snprintf(text, len,
		    "task %llu moved to priority %lld, but not recorded (out of memory): a restart "
		    "gives it priority %d again",
		    n, (long long)prio, (int)old);
		return 0;
	}
	dcf_log(DCF_WARNING, "Task-%llu: priority %d -> %lld by dcf-ctl", n, (int)old,
	    (long long)prio);
	snprintf(text, len, "task %llu: priority %lld (was %d)", n, (long long)prio, (int)old);
	*after = id;
	return 1;
}

/*
 * A running task's whole tree gets sig, through the worker that runs it
 * (layout.h: kill_task, kill_sig; the worker's SIGUSR1). Its run ends as the
 * signal makes it, and is not retried.
 */
static int
ctl_kill(struct sup *s, uint64_t id, int64_t sig, char *text, size_t len, uint64_t *after)
{
	unsigned long long n = (unsigned long long)id;
	uint32_t slot = DCF_NONE, state = DCF_TASK_FREE, node = DCF_NONE;
	pid_t pid = 0;

	if (sig <= 0 || sig >= NSIG) {
		snprintf(text, len, "%lld is not a signal", (long long)sig);
		return -1;
	}
	if (id == 0 || id >= svc_next_id(s->svc)) {
		snprintf(text, len, "no task %llu", n);
		return -1;
	}
	if (sup_lock(s) == -1) {
		snprintf(text, len, "the books are being repaired: nothing was changed; try again");
		return -1;
	}
	for (uint32_t k = 0; k < s->cfg->task_slots; k++)
		if (s->sg.tasks[k].state != DCF_TASK_FREE && s->sg.tasks[k].id == id - 1) {
			slot = k;
			state = s->sg.tasks[k].state;
			node = s->sg.tasks[k].owner_node;
			break;
		}
	if (state == DCF_TASK_RUNNING && node < s->nnodes &&
	    __atomic_load_n(&s->sg.nodes[node].run_slot, __ATOMIC_ACQUIRE) == slot &&
	    (pid = s->nodes[node].pid) > 0) {
		struct dcf_node *nd = &s->sg.nodes[node];
		struct dcf_task *t = &s->sg.tasks[slot];
		struct dcf_tx tx;

		/*
		 * Not retried, whatever comes of the signal: its command may have
		 * ended already, its worker not yet booked it (the worker only ever
		 * adds this bit to the slot's flags too).
		 */
		dcf_tx_begin(&tx, &s->sg, DCF_OP_NODE);
		dcf_tx_put32(&tx, &t->flags, t->flags | DCF_TASK_F_KILLED);
		dcf_tx_commit(&tx);
		__atomic_store_n(&nd->kill_sig, (uint32_t)sig, __ATOMIC_RELAXED);
		__atomic_store_n(&nd->kill_task, id, __ATOMIC_RELEASE);
	}
	dcf_unlock(&s->sg);
	if (pid <= 0 && state == DCF_TASK_FREE && s->store != NULL && s->store->shared) {
		/* Not in this host's books: another host's run, perhaps. */
		char owner[128], what[96];
		uint32_t st = 0;
		int r = svc_holder(s->svc, id, owner, sizeof(owner), &st);

		if (r == -1) {
			snprintf(text, len,
			    "the store could not be read: nothing was changed (see the log)");
			return -1;
		}
		if (r == 1 && st == DCF_SS_RUNNING && owner[0] != '\0' &&
		    strcmp(owner, s->o->host_id) != 0) {
			snprintf(what, sizeof(what),
			    "SIG%s asked of it there; its run is not retried", sig_name((int)sig));
			return ctl_ask(s, id, DCF_CTL_KILL, sig, what, text, len, after);
		}
		if (r == 0) {
			snprintf(text, len, "no task %llu", n);
			return -1;
		}
	}
	if (pid <= 0) {
		if (state == DCF_TASK_QUEUED)
			snprintf(text, len, "task %llu has not started: dcf-ctl cancel %llu", n, n);
		else if (state == DCF_TASK_RUNNING)
			snprintf(text, len, "task %llu is about to start: ask again", n);
		else
			snprintf(text, len, "task %llu is not running", n);
		return -1;
	}
	kill(pid, SIGUSR1); /* our child, unreaped: its PID is its own */
	snprintf(text, len, "task %llu: SIG%s sent to its processes; its run is not retried", n,
	    sig_name((int)sig));
	dcf_log(DCF_WARNING, "Task-%llu: SIG%s to its processes, asked by dcf-ctl", n,
	    sig_name((int)sig));
	return 0;
}

/* What dcf-ctl asks, through the service's socket (svc.h). */
static int
sup_ctl(void *arg, const struct dcf_msg *m, char *text, size_t len, uint64_t *after)
{
	struct sup *s = arg;

	if (s->stopping) {
		snprintf(text, len, "the supervisor is stopping: nothing was changed");
		return -1;
	}
	switch (m->u.ctl.op) {
	case DCF_CTL_PAUSE:
	case DCF_CTL_RESUME:
		return ctl_pause(s, m->u.ctl.net, m->u.ctl.op == DCF_CTL_PAUSE, text, len, after);
	case DCF_CTL_DRAIN:
		return ctl_drain(s, text, len, after);
	case DCF_CTL_CANCEL:
		return ctl_cancel(s, m->u.ctl.id, text, len, after);
	case DCF_CTL_KILL:
		return ctl_kill(s, m->u.ctl.id, m->u.ctl.value, text, len, after);
	case DCF_CTL_PRIORITY:
		return ctl_priority(s, m->u.ctl.id, m->u.ctl.value, text, len, after);
	case DCF_CTL_SCALE:
		return ctl_scale(s, m->u.ctl.net, m->u.ctl.id, m->u.ctl.value, text, len);
	case DCF_CTL_ADD_NETWORK:
		return ctl_add_network(s, m->u.ctl.value, text, len);
	case DCF_CTL_REMOVE_NETWORK:
		return ctl_remove_network(s, m->u.ctl.net, m->u.ctl.value, text, len);
	case DCF_CTL_STOP_NODE:
	case DCF_CTL_RESTART_NODE:
	case DCF_CTL_NO_RESTART:
		return ctl_node(s, m->u.ctl.op, m->u.ctl.net, m->u.ctl.id, m->u.ctl.value, text,
		    len);
	default:
		snprintf(text, len,
		    "no control request %u here (a newer dcf-ctl?): nothing was changed",
		    m->u.ctl.op);
		return -1;
	}
}

/* dcf-ctl drain, done: nothing staged, waiting in memory or the store, or in a slot. */
static int
drained(struct sup *s)
{
	return s->draining && svc_idle(s->svc) && s->batch.n == 0 &&
	    dcf_ring_depth(&s->sg.rings[DCF_RING_FREE]) == s->cfg->task_slots;
}

/*
 * While tasks keep completing the loop does not sleep, and looks at its
 * signals, children and timers once a millisecond rather than at every
 * batch (a syscall or three each): a bound on their latency, not a poll of
 * an idle system, which sleeps in poll(2) until something happens.
 */
#define BUSY_LOOK_NS (1 * MS)

/*
 * One pass of the loop: book a round, act on the run's end, and when there
 * was nothing to book sleep in poll(2) (may_block) until something happens.
 * Returns 1 once the run is over: stopping, and every worker gone.
 */
static int
loop_step(struct sup *s, int may_block)
{
	int worked, idle = 0;

	worked = book_round(s, 0, 0) > 0;
	flush_out(s);
	if (s->cmd_mode && !s->stopping && cmd_output_closed(s->cmd)) {
		/* As `| head` ends xargs and GNU parallel: nobody reads what is left. */
		dcf_log(DCF_WARNING,
		    "standard output was closed by its reader: stopping; "
		    "running tasks have %u ms to finish",
		    s->cfg->grace_ms);
		begin_stop(s, -1);
	}
	if (!s->stopping && !s->resetting && finished(s)) {
		announce_end(s);
		begin_stop(s, -1);
	}
	if (!s->stopping && !s->resetting && drained(s)) {
		char text[160] = "";
		uint64_t after;

		dcf_log(DCF_WARNING, "drained: every task has ended; stopping");
		/* Done: the next start takes submissions again (a pause stays). */
		s->draining = 0;
		(void)record_control(s, text, sizeof(text), &after);
		s->draining = 1;
		s->drained = 1;
		begin_stop(s, -1);
	}
	if (!s->stopping && all_failed(s)) {
		dcf_log(DCF_ERROR, "every node has failed: stopping");
		s->failed_run = 1;
		begin_stop(s, -1);
	}
	if (s->resetting && live_children(s) == 0 && s->ndying == 0 && kill_orphans(s) == 0)
		finish_reset(s);
	if (s->stopping && !s->resetting && live_children(s) == 0 && s->ndying == 0 &&
	    kill_orphans(s) == 0)
		return 1;
	if (!worked || !log_room_for_round(s)) {
		/* Nothing retired: ask for a wake-up, then look once more. */
		if (book_round(s, 1, 0) == 0 || !log_room_for_round(s)) {
			flush_out(s);
			if (may_block)
				wait_events(s);
			idle = 1;
		}
	}
	if (!idle && dcf_now_ns() < s->look_at)
		return 0;
	s->look_at = dcf_now_ns() + BUSY_LOOK_NS;
	take_signals(s);
	act_on_signals(s);
	reap(s);
	on_timers(s);
	store_news(s);
	if (s->svc != NULL)
		svc_io(s->svc);
	return 0;
}

static void
loop(struct sup *s)
{
	while (!loop_step(s, 1))
		;
}

/* Where the log and the summary go: descriptors of our own that never block. */
static int
open_outputs(struct sup *s, struct sup_opts *o, int *logfd)
{
	char err[DCF_ERRLEN];

	if (o->log_path != NULL) {
		if (dcf_log_open(o->log_path, logfd, err, sizeof(err)) == -1) {
			fprintf(stderr, "dcf-supervisor: --log %s\n", err);
			return errno == ENXIO ? 1 : 2;
		}
	} else if ((*logfd = dcf_log_private(2)) == -1) {
		fprintf(stderr, "dcf-supervisor: standard error: %s\n", strerror(errno));
		return 1;
	}
	s->out_fd = dcf_log_private(1);
	if (s->out_fd == -1)
		s->out_fd = 1;
	s->err_fd = o->log_path != NULL ? dcf_log_private(2) : -1;
	return 0;
}

static int
alloc_tables(struct sup *s)
{
	s->nnodes = s->cfg->nets * s->cfg->nodes_per_net;
	s->nodes = sup_calloc(s->nnodes, sizeof(*s->nodes));
	s->alive = sup_calloc(s->cfg->nets, sizeof(*s->alive));
	s->ids = sup_calloc(s->cfg->task_slots, sizeof(*s->ids));
	/* A round tells at most a start and a completion per task slot, and a start per node. */
	s->nev_max = 2 * s->cfg->task_slots + s->nnodes;
	s->ev = sup_calloc(s->nev_max, sizeof(*s->ev));
	if (s->nodes == NULL || s->alive == NULL || s->ids == NULL || s->ev == NULL)
		return -1;
	for (uint32_t n = 0; n < s->nnodes; n++) {
		s->nodes[n].crashes = sup_calloc(s->cfg->max_restarts + 1, sizeof(uint64_t));
		if (s->nodes[n].crashes == NULL)
			return -1;
		s->nodes[n].st = SN_DOWN;
		s->nodes[n].net = n / s->cfg->nodes_per_net;
		s->nodes[n].idx = n % s->cfg->nodes_per_net;
	}
	s->log_reserve = (size_t)s->cfg->task_slots * 2 * RETIRE_LINE + 65536;
	if (alloc_fails() || dcf_log_queue(LOG_QUEUE_CAP + s->log_reserve) == -1)
		return -1;
	return 0;
}

static void
free_tables(struct sup *s)
{
	if (s->nodes != NULL)
		for (uint32_t n = 0; n < s->nnodes; n++)
			free(s->nodes[n].crashes);
	free(s->nodes);
	free(s->alive);
	free(s->ids);
	free(s->ev);
	dcf_log_queue_free();
}

static void
close_fds(struct sup *s, int logfd)
{
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->efd >= 0)
		close(s->efd);
	if (s->tfd >= 0)
		close(s->tfd);
	if (s->out_fd > 2)
		close(s->out_fd);
	if (s->err_fd > 2)
		close(s->err_fd);
	if (logfd > 2)
		close(logfd);
}

/*
 * On a terminal, say how to watch the run: the dcf-status beside this
 * program, as the user can type it from here ("./dcf-status" after make).
 */
static void
tell_how_to_watch(struct sup *s)
{
	char exe[PATH_MAX], cwd[PATH_MAX], cmd[PATH_MAX + 16], *slash;
	ssize_t n;
	size_t dl;

	if (!isatty(2) || !dcf_log_enabled(DCF_INFO))
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL)
		return;
	dl = (size_t)(slash - exe);
	snprintf(cmd, sizeof(cmd), "%.*s/dcf-status", (int)dl, exe);
	if (access(cmd, X_OK) != 0)
		snprintf(cmd, sizeof(cmd), "dcf-status"); /* installed: on PATH */
	else if (getcwd(cwd, sizeof(cwd)) != NULL && strlen(cwd) == dl &&
	    strncmp(cwd, exe, dl) == 0)
		snprintf(cmd, sizeof(cmd), "./dcf-status");
	dcf_log(DCF_INFO,
	    "watch it from another terminal: %s%s%s --watch (add --nodes for the workers)", cmd,
	    strcmp(s->o->name, "dcf") == 0 ? "" : " --name ",
	    strcmp(s->o->name, "dcf") == 0 ? "" : s->o->name);
}

static int
run_system(struct sup *s)
{
	int rc;

	setproctitle("-dcf-supervisor %s", s->o->name);
	s->t0 = dcf_now_ns();
	if (s->cmd_mode)
		dcf_log(DCF_INFO,
		    "dcf '%s' starting: %u %s x %u %s, a task per input line, seed %llu (pid %d)",
		    s->o->name, s->cfg->nets, pl(s->cfg->nets, "network", "networks"),
		    s->cfg->nodes_per_net, pl(s->cfg->nodes_per_net, "node", "nodes"),
		    (unsigned long long)s->cfg->seed, (int)s->self);
	else
		dcf_log(DCF_INFO, "dcf '%s' starting: %u %s x %u %s, %llu %s, seed %llu (pid %d)",
		    s->o->name, s->cfg->nets, pl(s->cfg->nets, "network", "networks"),
		    s->cfg->nodes_per_net, pl(s->cfg->nodes_per_net, "node", "nodes"),
		    (unsigned long long)s->cfg->tasks, pl(s->cfg->tasks, "task", "tasks"),
		    (unsigned long long)s->cfg->seed, (int)s->self);
	tell_how_to_watch(s);
	/* Beyond --networks, up to --max-networks: room for dcf-ctl add-network. */
	for (uint32_t net = s->o->start_nets; net > 0 && net < s->cfg->nets; net++)
		set_removed(s, net, 1);
	for (uint32_t n = 0; n < s->nnodes && !s->resetting; n++) {
		/* Beyond --nodes, up to --max-nodes: room for dcf-ctl scale, stopped till then. */
		if ((s->o->start_nodes > 0 && s->nodes[n].idx >= s->o->start_nodes) ||
		    s->removed[s->nodes[n].net])
			node_stopped(s, n);
		else
			fork_node(s, n, 0);
	}
	s->next_hang_check = dcf_now_ns() + hang_ns(s) / 2;
	s->next_progress = dcf_now_ns() + 500 * MS;
	loop(s);
	finish_output(s);
	if (s->stopping > 0)
		rc = 128 + s->stopping;
	else if (s->last_stop_sig > 0)
		rc = 128 + s->last_stop_sig; /* the run had ended, but its end was cut short */
	else
		rc = s->failed_run || s->sg.hdr->cnt.quarantined > 0 || s->bad_results > 0 ? 1 : 0;
	if (s->o->serve && (s->stopping > 0 || s->drained) && s->stopping != SIGQUIT &&
	    !s->failed_run)
		rc = 0; /* a service stopped as asked: its tasks' outcomes are in the store */
	if (rc == 0 && dcf_log_lost() > 0)
		rc = 1;
	if (rc == 0 && s->cmd_mode && !s->o->serve) {
		const struct dcf_counters *c = &s->sg.hdr->cnt;
		struct cmd_stats st;

		/* 0 only when every task succeeded, and every record of it was kept. */
		cmd_stats(s->cmd, &st);
		if (c->failed + c->timed_out > 0 || st.rejected > 0 || st.out_lost > 0 ||
		    st.joblog_lost > 0 || st.kept_lost > 0 || st.input_error || !s->input_eof)
			rc = 1;
	}
	return rc;
}

/*
 * --serve's retention let task id go: its output too (DIR/ID/). In the
 * committer's thread: system calls only.
 */
static void
drop_output(void *arg, uint64_t id)
{
	static const char *const files[] = {"stdout", "stderr", "meta"};
	const char *dir = arg;
	char path[PATH_MAX];

	if (dir == NULL)
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%llu/%s", dir, (unsigned long long)id, files[i]);
		(void)unlink(path);
	}
	snprintf(path, sizeof(path), "%s/%llu", dir, (unsigned long long)id);
	(void)rmdir(path);
}

/*
 * --serve: the store (by default under $XDG_STATE_HOME/dcf/, made private)
 * and, beside it, the directory its tasks' output is kept in (FILE.out/ID/).
 */
static int
serve_paths(struct sup *s, struct sup_opts *o, char *err, size_t errlen)
{
	if (o->store_path == NULL) {
		if (svc_paths(o->name, NULL, 0, s->store_buf, sizeof(s->store_buf), err, errlen) ==
		        -1 ||
		    svc_private_dir(s->store_buf, SVC_DIR_PARENTS, err, errlen) == -1)
			return -1;
		o->store_path = s->store_buf;
	}
	/* Several hosts share a PostgreSQL store: each has a name among them. */
	if (dcf_store_is_url(o->store_path) && o->host_id == NULL) {
		char host[256];

		if (gethostname(host, sizeof(host)) == -1)
			DCF_BAD(errno, "gethostname: %s: give --host-id", strerror(errno));
		host[sizeof(host) - 1] = '\0';
		snprintf(s->host_buf, sizeof(s->host_buf), "%s/%s", host, o->name);
		o->host_id = s->host_buf;
	}
	if (o->results_dir == NULL) {
		if (svc_outdir(o->store_path, o->name, s->results_buf, sizeof(s->results_buf), err,
		        errlen) == -1)
			return -1;
		/* A PostgreSQL store's is this host's own, where a local store would be. */
		if (dcf_store_is_url(o->store_path) &&
		    svc_private_dir(s->results_buf, SVC_DIR_PARENTS, err, errlen) == -1)
			return -1;
		if (mkdir(s->results_buf, 0700) == 0)
			s->results_made = 1;
		else if (errno != EEXIST)
			DCF_BAD(errno, "cannot make %.200s: %s", s->results_buf, strerror(errno));
		o->results_dir = s->results_buf;
	}
	return 0;
}

/* The run could not start: a store it made for it goes again, as if never made. */
static void
drop_new_store(struct sup *s, const struct sup_opts *o)
{
	int created = s->store != NULL && s->store->created;

	svc_close(s->svc);
	s->svc = NULL;
	dcf_store_close(s->store);
	s->store = NULL;
	if (created && o->store_path != NULL && !dcf_store_is_url(o->store_path))
		(void)unlink(o->store_path);
}

/* The start failed: the output directory goes if this start made it (empty once cmd_close ran). */
static void
drop_new_results(struct sup *s, const struct sup_opts *o)
{
	if (s->results_made)
		(void)rmdir(o->results_dir);
	s->results_made = 0;
}

/* --store FILE: a batch's store, opened (made if new) and read before anything runs. */
static int
open_store(struct sup *s, struct sup_opts *o, char *err, size_t errlen)
{
	struct dcf_store_open_opts so = {
	    .where = o->store_path,
	    .create = 1,
	    .mode = o->serve ? DCF_STORE_SERVICE : DCF_STORE_BATCH,
	    .instance = o->name,
	    .owner = o->serve ? o->host_id : NULL,
	    .lease_ms = o->lease_ms,
	};
	struct svc_start st;

	if (o->store_open == NULL)
		DCF_BAD(ENOTSUP, "--store: this program has no store backend");
	if ((s->store = o->store_open(&so, err, errlen)) == NULL)
		return -1;
	if (!o->serve && cmd_use_store(s->cmd, s->store, err, errlen) == -1) {
		drop_new_store(s, o);
		return -1;
	}
	if (o->serve) {
		if (svc_open(&s->svc, o, s->cfg, &st, err, errlen) == -1) {
			drop_new_store(s, o);
			return -1;
		}
		svc_set_ctl(s->svc, sup_ctl, s);
		if (s->store->shared) {
			/* What this host held before (its runs killed by svc_open) goes back. */
			struct dcf_store_batch rb = {.reset = 1};

			if (dcf_store_commit(s->store, &rb, err, errlen) == -1) {
				svc_close(s->svc);
				s->svc = NULL;
				drop_new_store(s, o);
				return -1;
			}
		}
		if (dcf_store_control(s->store, &s->ctl_was, err, errlen) == -1) {
			svc_close(s->svc);
			s->svc = NULL;
			drop_new_store(s, o);
			return -1;
		}
		dcf_log(DCF_WARNING,
		    "serving '%s': store %s, %llu %s unfinished (%llu were running), next id %llu",
		    o->name, o->store_path, (unsigned long long)st.unfinished,
		    pl(st.unfinished, "task", "tasks"), (unsigned long long)st.rerun,
		    (unsigned long long)st.next_id);
	}
	return 0;
}

int
supervisor_run(struct sup_opts *o)
{
	struct sup s;
	char err[DCF_ERRLEN];
	pid_t old;
	int logfd = -1, rc, usage = 0;

	memset(&s, 0, sizeof(s));
	s.sfd = s.efd = s.tfd = s.err_fd = -1;
	s.o = o;
	s.cfg = &o->cfg;
	s.self = getpid();
	rc = open_outputs(&s, o, &logfd);
	if (rc != 0)
		return rc;
	/* A progress line on the terminal whenever stderr is one: through the log
	 * when the log is that terminal, beside it when the log goes elsewhere. */
	s.progress_fd = isatty(logfd)    ? PROGRESS_IN_LOG
	    : s.err_fd >= 0 && isatty(2) ? s.err_fd
	                                 : -1;
	s.tty = s.progress_fd != -1;
	dcf_log_init(logfd, o->level, isatty(logfd));
	dcf_log_note_fd(s.err_fd);
	if (o->cfg.work == DCF_WORK_CPU)
		o->cfg.cpu_iters_per_ms = calibrate_cpu();
	if (setup_fds(&s) == -1) {
		fprintf(stderr, "dcf-supervisor: setting up signals: %s\n", strerror(errno));
		close_fds(&s, logfd);
		return 1;
	}
	if (alloc_tables(&s) == -1) {
		fprintf(stderr, "dcf-supervisor: out of memory for %u nodes and %u task slots\n",
		    s.cfg->nets * s.cfg->nodes_per_net, s.cfg->task_slots);
		free_tables(&s);
		close_fds(&s, logfd);
		return 1;
	}
	s.cmd_mode = sup_cmd_mode(o);
	s.fed = s.cmd_mode;
	if (o->serve && serve_paths(&s, o, err, sizeof(err)) == -1) {
		fprintf(stderr, "dcf-supervisor: %s\n", err);
		free_tables(&s);
		close_fds(&s, logfd);
		return 1;
	}
	if (s.cmd_mode &&
	    cmd_open(&s.cmd, o, s.cfg, s.out_fd, s.err_fd >= 0 ? s.err_fd : logfd, &usage, err,
	        sizeof(err)) == -1) {
		if (usage)
			fprintf(stderr, "dcf-supervisor: %s; try 'dcf-supervisor --help'\n", err);
		else
			fprintf(stderr, "dcf-supervisor: %s\n", err);
		drop_new_results(&s, o);
		free_tables(&s);
		close_fds(&s, logfd);
		return usage ? 2 : 1;
	}
	if (s.cmd_mode && o->store_path != NULL && open_store(&s, o, err, sizeof(err)) == -1) {
		fprintf(stderr, "dcf-supervisor: %s\n", err);
		cmd_close(s.cmd);
		drop_new_results(&s, o);
		free_tables(&s);
		close_fds(&s, logfd);
		return 1;
	}
	/* What a dead worker's task leaves behind comes back to us, to be killed;
	 * what was our child before is not. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	(void)each_child(&s, note_inherited, NULL);
	if (s.cmd_mode)
		cg_setup(&s);
	if (dcf_seg_create(&s.sg, o->name, &o->cfg, &old, err, sizeof(err)) == -1) {
		fprintf(stderr, "dcf-supervisor: cannot start '%s': %s\n", o->name, err);
		goto fail_start;
	}
	snprintf(s.shm_path, sizeof(s.shm_path), "/dev/shm%s", s.sg.shm_name);
	{
		struct stat st;

		if (fstat(s.sg.fd, &st) == 0) {
			s.shm_dev = st.st_dev;
			s.shm_ino = st.st_ino;
		}
	}
	catch_fatal(&s);
	if (old != 0)
		dcf_log(DCF_WARNING, "took over the stale segment of a dead supervisor (pid %d)",
		    (int)old);
	/* s.cfg stays our own copy: a worker scribbling on the segment cannot change it. */
	dcf_rng_seed(&s.rng, s.cfg->seed ^ 0x5eed);
	if (s.store != NULL) {
#ifdef DCF_INJECT_ENABLE
		(void)dcf_inject_from_var("DCF_INJECT_SUP"); /* a crash point of its committer */
#endif
		if ((s.storeq = dcf_storeq_start(s.store, err, sizeof(err))) == NULL) {
			fprintf(stderr, "dcf-supervisor: %s\n", err);
			fatal_sup = NULL;
			dcf_seg_destroy(&s.sg);
			goto fail_start;
		}
		cmd_set_storeq(s.cmd, s.storeq);
		publish_lease(&s);
		if (s.svc != NULL)
			cmd_set_claims(s.cmd, claim_of, s.svc);
		if (s.svc != NULL) {
			svc_set_storeq(s.svc, s.storeq);
			dcf_storeq_set_retention(s.storeq, o->keep_count, o->keep_age_ms,
			    drop_output, (void *)o->results_dir);
			restore_control(&s);
		}
	}
	rc = run_system(&s);
	if (store_close(&s) != 0 && rc == 0)
		rc = 1;
	/* For a watcher still mapping the segment: how the run ended. */
	__atomic_store_n(&s.sg.hdr->end_code, (uint32_t)rc, __ATOMIC_RELAXED);
	__atomic_store_n(&s.sg.hdr->sys_state, DCF_SYS_ENDED, __ATOMIC_RELEASE);
	fatal_sup = NULL;
	dcf_seg_destroy(&s.sg);
	cg_remove(&s);
	cmd_close(s.cmd);
	cmd_batch_free(&s.batch);
	free_tables(&s);
	close_fds(&s, logfd);
	return rc;
fail_start:
	/* Nothing ran: what this start made goes again (a store it created too). */
	cg_remove(&s);
	drop_new_store(&s, o);
	cmd_close(s.cmd);
	drop_new_results(&s, o);
	free_tables(&s);
	close_fds(&s, logfd);
	return 1;
}

/* --- the engine, a step at a time (libdcf's pool) ----------------------- */

struct sup *
sup_open(struct sup_opts *o, const struct sup_embed *emb, char *err, size_t errlen)
{
	struct sup *s = calloc(1, sizeof(*s));
	pid_t old;
	int e;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->sfd = s->efd = s->tfd = s->err_fd = s->out_fd = s->logfd = -1;
	s->progress_fd = -1;
	s->emb_copy = *emb;
	s->emb = &s->emb_copy;
	s->o = o;
	s->cfg = &o->cfg;
	s->self = getpid();
	s->fed = 1;
	if (emb->log_fd > 0 && (s->logfd = dcf_log_private(emb->log_fd)) == -1) {
		e = errno;
		snprintf(err, errlen, "the log's descriptor %d: %s", emb->log_fd, strerror(e));
		goto fail;
	}
	dcf_log_init(s->logfd, s->logfd >= 0 ? o->level : DCF_SILENT, 0);
	if (setup_fds(s) == -1) {
		e = errno;
		if (e == EINVAL)
			snprintf(err, errlen,
			    "SIGCHLD is ignored (SIG_IGN): the pool could not see its workers "
			    "die; restore its default first");
		else
			snprintf(err, errlen, "setting up SIGCHLD: %s", strerror(e));
		goto fail;
	}
	if (alloc_tables(s) == -1) {
		e = ENOMEM;
		snprintf(err, errlen, "out of memory for %u workers and %u task slots",
		    s->cfg->nets * s->cfg->nodes_per_net, s->cfg->task_slots);
		goto fail;
	}
	if (dcf_seg_create(&s->sg, o->name, &o->cfg, &old, err, errlen) == -1) {
		e = errno;
		goto fail;
	}
	if (old != 0)
		dcf_log(DCF_WARNING, "took over the stale segment of a dead program (pid %d)",
		    (int)old);
	dcf_rng_seed(&s->rng, s->cfg->seed ^ 0x5eed);
	s->t0 = dcf_now_ns();
	dcf_log(DCF_INFO, "dcf pool '%s' starting: %u %s x %u %s (pid %d)", o->name, s->cfg->nets,
	    pl(s->cfg->nets, "network", "networks"), s->cfg->nodes_per_net,
	    pl(s->cfg->nodes_per_net, "node", "nodes"), (int)s->self);
	for (uint32_t n = 0; n < s->nnodes && !s->resetting; n++)
		fork_node(s, n, 0);
	s->next_hang_check = dcf_now_ns() + hang_ns(s) / 2;
	return s;
fail:
	free_tables(s);
	close_fds(s, s->logfd);
	if (s->emb_masked)
		pthread_sigmask(SIG_SETMASK, &s->emb_mask, NULL);
	free(s);
	errno = e;
	return NULL;
}

int
sup_stage(struct sup *s, const void *in, uint32_t len, int32_t prio)
{
	struct cmd_batch *b = &s->batch;

	if (alloc_fails() || cmd_batch_item(b, 0, len) == -1) {
		errno = ENOMEM;
		return -1;
	}
	if (len > 0)
		memcpy(b->buf + b->used, in, len);
	b->items[b->n].len = len;
	b->items[b->n].prior.prio = prio;
	b->used += len;
	b->n++;
	return 0;
}

uint32_t
sup_staged(const struct sup *s)
{
	return s->batch.n;
}

uint32_t
sup_room(const struct sup *s)
{
	uint32_t free_slots = dcf_ring_depth(&s->sg.rings[DCF_RING_FREE]);

	return free_slots > s->batch.n ? free_slots - s->batch.n : 0;
}

uint32_t
sup_queued(const struct sup *s)
{
	uint32_t q = 0;

	for (uint32_t r = DCF_RING_RECOVERY; r < s->sg.nrings; r++)
		if (r != dcf_delay_ring(&s->sg))
			q += dcf_ring_depth(&s->sg.rings[r]);
	return q;
}

uint32_t
sup_done(const struct sup *s)
{
	return dcf_ring_depth(&s->sg.rings[DCF_RING_DONE]);
}

void
sup_flush(struct sup *s)
{
	if (s->batch.n > 0)
		refill_cmd(s);
}

void
sup_end_input(struct sup *s)
{
	s->emb_eof = 1;
}

int
sup_step(struct sup *s, int may_block)
{
	return loop_step(s, may_block);
}

void
sup_kill(struct sup *s)
{
	if (!s->stopping)
		begin_stop(s, -1);
	s->grace_at = 0;
	s->stop_killed = 1;
	kill_all(s);
}

int
sup_failed(const struct sup *s)
{
	return s->failed_run;
}

void
sup_counts(const struct sup *s, struct dcf_counters *c, uint32_t *alive)
{
	uint32_t a = 0;

	*c = s->sg.hdr->cnt; /* a hint: read without the lock */
	for (uint32_t n = 0; n < s->cfg->nets; n++)
		a += s->alive[n];
	*alive = a;
}

void
sup_close(struct sup *s)
{
	/* Every worker killed and reaped, by PID: nothing of ours outlives the pool. */
	kill_all(s);
	for (uint32_t n = 0; n < s->nnodes; n++) {
		pid_t pid = s->nodes[n].pid;

		if (pid <= 0)
			continue;
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		s->nodes[n].pid = 0;
	}
	__atomic_store_n(&s->sg.hdr->end_code, (uint32_t)(s->failed_run ? 1 : 0), __ATOMIC_RELAXED);
	__atomic_store_n(&s->sg.hdr->sys_state, DCF_SYS_ENDED, __ATOMIC_RELEASE);
	dcf_seg_destroy(&s->sg);
	cmd_batch_free(&s->batch);
	free_tables(s);
	close_fds(s, s->logfd);
	if (s->emb_masked)
		pthread_sigmask(SIG_SETMASK, &s->emb_mask, NULL);
	free(s);
}
