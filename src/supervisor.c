/*
 * supervisor.c - dcf-supervisor: forks the worker nodes, feeds the books,
 * logs completions, reaps the dead, reclaims their tasks, restarts them.
 *
 * The supervisor keeps a private table of what it forked (pid, generation,
 * state, crash history) and trusts it over anything in shared memory. It
 * sleeps in poll(2) on three descriptors: a signalfd (SIGCHLD, SIGINT,
 * SIGTERM, SIGHUP), an eventfd that workers write when they complete a task
 * while the supervisor sleeps, and a timerfd set to the next deadline
 * (restarts, the hang watchdog, the shutdown grace, the progress line).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dcf/books.h"
#include "dcf/lock.h"
#include "dcf/ring.h"
#include "dcf/util.h"
#include "supervisor.h"

#define MS           1000000ULL
#define RETIRE_BATCH 256

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
};

struct sup {
	struct sup_opts *o;
	struct dcf_config *cfg;
	struct dcf_seg sg;
	struct sup_node *nodes;
	uint32_t nnodes;
	uint32_t *alive; /* per network: nodes with a live process */
	int sfd, efd, tfd;
	int tty;
	struct dcf_rng rng;
	uint64_t t0;
	int stopping; /* 0, or the signal that asked (or -1: all done) */
	int sigs;     /* how many INT/TERM seen */
	uint64_t grace_at;
	uint64_t next_hang_check;
	uint64_t next_progress;
	uint64_t bad_results;
	int failed_run; /* unrecoverable: exit 1 */
	pid_t self;
};

static const char *
sig_name(int sig)
{
	const char *s = sigabbrev_np(sig);

	return s ? s : "?";
}

static struct dcf_node *
shm_node(struct sup *s, uint32_t n)
{
	return &s->sg.nodes[n];
}

/* --- forking ----------------------------------------------------------- */

static int
fork_node(struct sup *s, uint32_t n, int restart)
{
	struct sup_node *sn = &s->nodes[n];
	struct worker_ctx w;
	pid_t pid;

	sn->gen++;
	/* Publish the generation before the child can look for it. */
	if (dcf_lock(&s->sg) == -1)
		return -1;
	dcf_node_start_locked(&s->sg, n, sn->gen, 0, restart, dcf_now_ns());
	dcf_unlock(&s->sg);
	w.sg = &s->sg;
	w.node = n;
	w.gen = sn->gen;
	w.parent = s->self;
	w.notify_fd = s->efd;
	w.tty = s->tty;
	w.level = s->o->level;
	pid = fork();
	if (pid == 0) {
		close(s->sfd);
		close(s->tfd);
		worker_main(&w);
	}
	if (pid == -1) {
		struct dcf_reclaim rc;

		dcf_log(DCF_ERROR, "fork for Network-%u Node-%u: %s", s->nodes[n].net,
		    s->nodes[n].idx, strerror(errno));
		if (dcf_lock(&s->sg) == 0) {
			dcf_node_died_locked(&s->sg, n, sn->gen, s->cfg->max_attempts, dcf_now_ns(),
			    &rc);
			dcf_unlock(&s->sg);
		}
		sn->st = SN_DOWN;
		sn->pid = 0;
		sn->restart_at = dcf_now_ns() + 1000 * MS;
		return -1;
	}
	__atomic_store_n(&shm_node(s, n)->pid, (int32_t)pid, __ATOMIC_RELAXED); /* a label */
	sn->pid = pid;
	sn->st = SN_RUN;
	sn->stopped_at = 0;
	sn->hang_killed = 0;
	s->alive[s->nodes[n].net]++;
	if (restart)
		dcf_log(DCF_INFO, "Network-%u Node-%u has recovered. (pid %d)", s->nodes[n].net,
		    s->nodes[n].idx, (int)pid);
	else
		dcf_log(DCF_DEBUG, "Network-%u Node-%u started (pid %d)", s->nodes[n].net,
		    s->nodes[n].idx, (int)pid);
	return 0;
}

/* --- the books: dispatch and retire ------------------------------------ */

/* Fill free slots with the next tasks, round-robin over the networks. */
static void
refill_locked(struct sup *s, uint8_t *woke)
{
	uint64_t now = dcf_now_ns();

	if (s->stopping)
		return;
	for (;;) {
		uint64_t id = s->sg.hdr->cnt.next_id;
		uint32_t net, ring;

		if (id >= s->cfg->tasks)
			return;
		net = (uint32_t)(id % s->cfg->nets);
		ring = s->alive[net] > 0 ? DCF_RING_NET0 + net : DCF_RING_RECOVERY;
		if (dcf_dispatch_locked(&s->sg, ring, now) == -1)
			return;
		woke[ring] = 1;
		if (ring == DCF_RING_RECOVERY)
			dcf_log(DCF_WARNING,
			    "Task-%llu queued on the global queue: Network-%u has no live node",
			    (unsigned long long)id, net);
	}
}

static void
wake_rings(struct sup *s, uint8_t *woke)
{
	for (uint32_t r = DCF_RING_RECOVERY; r < s->sg.hdr->nrings; r++) {
		if (woke[r])
			dcf_books_wake_ring(&s->sg, r);
		woke[r] = 0;
	}
}

static void full_reset(struct sup *s, const char *why);

/* Retire completed tasks (logging each once), refill. Returns tasks retired. */
static int
drain(struct sup *s, int may_sleep)
{
	struct dcf_done done[RETIRE_BATCH];
	uint8_t woke[DCF_RING_NET0 + DCF_MAX_NETS];
	int n = 0;

	memset(woke, 0, sizeof(woke));
	if (dcf_lock(&s->sg) == -1) {
		full_reset(s, "the books' lock is unrecoverable");
		return 0;
	}
	while (n < RETIRE_BATCH && dcf_retire_locked(&s->sg, &done[n]) == 0)
		n++;
	refill_locked(s, woke);
	if (n == 0 && may_sleep)
		__atomic_store_n(&s->sg.hdr->sup_waiting, 1, __ATOMIC_RELAXED);
	dcf_unlock(&s->sg);
	wake_rings(s, woke);
	if (!dcf_log_enabled(DCF_INFO) && s->cfg->work != DCF_WORK_CPU)
		return n; /* nothing to say or check per task */
	for (int i = 0; i < n; i++) {
		struct dcf_done *d = &done[i];
		uint32_t net = 0, idx = 0;

		if (d->node < s->nnodes) {
			net = s->nodes[d->node].net;
			idx = s->nodes[d->node].idx;
		}
		if (d->kind == DCF_WORK_CPU && d->result != dcf_task_cpu_expect(s->cfg, d->id)) {
			s->bad_results++;
			dcf_log(DCF_ERROR,
			    "Task-%llu completed by Network-%u Node-%u with a wrong result",
			    (unsigned long long)d->id, net, idx);
			continue;
		}
		dcf_log(DCF_INFO, "Task-%llu completed by Network-%u Node-%u",
		    (unsigned long long)d->id, net, idx);
	}
	return n;
}

/* --- deaths ------------------------------------------------------------ */

static int
find_node(struct sup *s, pid_t pid)
{
	for (uint32_t n = 0; n < s->nnodes; n++)
		if (s->nodes[n].pid == pid)
			return (int)n;
	return -1;
}

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

/* Queued tasks of a network left without a live node go to the global queue. */
static void
evacuate(struct sup *s, uint32_t net)
{
	uint64_t id;

	if (dcf_lock(&s->sg) == -1)
		return;
	while (dcf_move_locked(&s->sg, net, dcf_now_ns(), &id) == 0)
		dcf_log(DCF_WARNING,
		    "Task-%llu moved to the global queue: Network-%u has no live node",
		    (unsigned long long)id, net);
	dcf_unlock(&s->sg);
	dcf_books_wake_ring(&s->sg, DCF_RING_RECOVERY);
}

static void
describe_status(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (SIG%s)", WTERMSIG(status),
		    sig_name(WTERMSIG(status)));
	else
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
}

static void
node_exited(struct sup *s, uint32_t n, int status)
{
	struct sup_node *sn = &s->nodes[n];
	struct dcf_reclaim rc;
	uint64_t now = dcf_now_ns();
	pid_t pid = sn->pid;
	char how[64];
	int clean = WIFEXITED(status) && WEXITSTATUS(status) == DCF_EXIT_OK;

	sn->pid = 0;
	s->alive[sn->net]--;
	if (dcf_lock(&s->sg) == -1) {
		full_reset(s, "the books' lock is unrecoverable");
		return;
	}
	if (s->stopping && clean && shm_node(s, n)->task_slot == DCF_NONE) {
		dcf_node_set_state_locked(&s->sg, n, DCF_NODE_STOPPED);
		dcf_unlock(&s->sg);
		sn->st = SN_STOPPED;
		dcf_log(DCF_DEBUG, "Network-%u Node-%u stopped (pid %d)", sn->net, sn->idx,
		    (int)pid);
		return;
	}
	dcf_node_died_locked(&s->sg, n, sn->gen, s->cfg->max_attempts, now, &rc);
	dcf_unlock(&s->sg);
	describe_status(status, how, sizeof(how));
	dcf_log(DCF_ERROR, "Network-%u Node-%u has failed. (pid %d, %s%s)", sn->net, sn->idx,
	    (int)pid, how, sn->hang_killed ? ", no progress" : "");
	if (rc.had_task && rc.quarantined)
		dcf_log(DCF_ERROR, "Task-%llu quarantined: it was running in %u crashed workers",
		    (unsigned long long)rc.id, rc.attempts);
	else if (rc.had_task)
		dcf_log(DCF_WARNING, "Task-%llu reclaimed from Network-%u Node-%u (pid %d)",
		    (unsigned long long)rc.id, sn->net, sn->idx, (int)pid);
	/* It may have died between pushing work and waking anyone. */
	dcf_books_wake_all(&s->sg);
	if (WIFEXITED(status) && WEXITSTATUS(status) == DCF_EXIT_RESET)
		full_reset(s, "a worker found the books unrecoverable");
	if (s->stopping) {
		sn->st = SN_STOPPED;
	} else if (too_many_crashes(s, sn, now)) {
		sn->st = SN_FAILED;
		if (dcf_lock(&s->sg) == 0) {
			dcf_node_set_state_locked(&s->sg, n, DCF_NODE_FAILED);
			dcf_unlock(&s->sg);
		}
		dcf_log(DCF_ERROR,
		    "Network-%u Node-%u crashed more than %u times in %u s: giving up on it",
		    sn->net, sn->idx, s->cfg->max_restarts, s->cfg->restart_window_s);
	} else {
		sn->st = SN_DOWN;
		sn->restart_at = now +
		    dcf_rng_range(&s->rng, s->cfg->downtime_ms_min, s->cfg->downtime_ms_max) * MS;
	}
	if (s->alive[sn->net] == 0 && !s->stopping)
		evacuate(s, sn->net);
}

static void
reap(struct sup *s)
{
	for (;;) {
		int status, n;
		pid_t pid = waitpid(-1, &status, WNOHANG | WUNTRACED | WCONTINUED);

		if (pid <= 0)
			return;
		n = find_node(s, pid);
		if (n < 0)
			continue;
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
		node_exited(s, (uint32_t)n, status);
	}
}

/* --- full reset -------------------------------------------------------- */

static void
kill_all(struct sup *s)
{
	for (uint32_t n = 0; n < s->nnodes; n++)
		if (s->nodes[n].pid > 0)
			kill(s->nodes[n].pid, SIGKILL);
}

/*
 * The books cannot be repaired in place: stop every worker, rebuild the
 * rings from the task table (PostgreSQL's answer to a crash it cannot
 * reason about), and start the nodes again.
 */
static void
full_reset(struct sup *s, const char *why)
{
	char err[DCF_ERRLEN];
	int r;

	dcf_log(DCF_ERROR,
	    "%s: stopping every worker and rebuilding the queues from the task table", why);
	kill_all(s);
	for (uint32_t n = 0; n < s->nnodes; n++) {
		struct sup_node *sn = &s->nodes[n];

		if (sn->pid > 0) {
			while (waitpid(sn->pid, NULL, 0) == -1 && errno == EINTR)
				;
			s->alive[s->nodes[n].net]--;
			sn->pid = 0;
		}
		if (sn->st == SN_RUN) {
			sn->st = SN_DOWN;
			sn->restart_at = dcf_now_ns();
		}
	}
	r = dcf_books_reset(&s->sg, s->cfg->max_attempts, err, sizeof(err));
	for (uint32_t n = 0; n < s->nnodes; n++)
		if (s->nodes[n].st != SN_FAILED)
			shm_node(s, n)->state = DCF_NODE_DOWN;
	if (r < 0) {
		dcf_log(DCF_ERROR, "reset failed: %s", err);
		s->failed_run = 1;
		s->stopping = -1;
		return;
	}
	dcf_log(DCF_WARNING, "books rebuilt; %d running tasks reclaimed; restarting the nodes", r);
	if (s->stopping)
		return;
	for (uint32_t n = 0; n < s->nnodes; n++)
		if (s->nodes[n].st == SN_DOWN)
			fork_node(s, n, 1);
}

/* --- timers and the watchdog ------------------------------------------- */

static void
check_hangs(struct sup *s, uint64_t now)
{
	uint64_t limit = (uint64_t)s->cfg->hang_timeout_ms * MS;

	for (uint32_t n = 0; n < s->nnodes; n++) {
		struct sup_node *sn = &s->nodes[n];
		uint64_t hb = __atomic_load_n(&shm_node(s, n)->heartbeat_ns, __ATOMIC_RELAXED);
		uint32_t st = __atomic_load_n(&shm_node(s, n)->state, __ATOMIC_RELAXED);
		int hung;

		if (sn->st != SN_RUN || sn->pid <= 0 || sn->hang_killed)
			continue;
		hung = sn->stopped_at != 0 && now - sn->stopped_at > limit;
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
	for (uint32_t n = 0; n < s->nnodes; n++) {
		struct sup_node *sn = &s->nodes[n];

		if (sn->st == SN_DOWN && sn->restart_at <= now && !s->stopping)
			fork_node(s, n, 1);
	}
}

static void
progress_line(struct sup *s)
{
	struct dcf_hdr *h = s->sg.hdr;
	double secs = (double)(dcf_now_ns() - s->t0) / 1e9;
	uint32_t down = 0;
	uint64_t done;
	char line[160];
	int len;

	for (uint32_t n = 0; n < s->nnodes; n++)
		down += s->nodes[n].st != SN_RUN;
	done = h->cnt.retired + h->cnt.quarantined;
	len = snprintf(line, sizeof(line), "\r\033[K[%llu/%llu done, %.0f tasks/s, %u nodes down]",
	    (unsigned long long)done, (unsigned long long)s->cfg->tasks,
	    secs > 0 ? (double)h->cnt.retired / secs : 0.0, down);
	if (len > 0 && write(dcf_log_fd(), line, (size_t)len) == -1)
		s->tty = 0;
}

static void
set_timer(struct sup *s, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	struct itimerspec its;

	for (uint32_t n = 0; n < s->nnodes; n++) {
		struct sup_node *sn = &s->nodes[n];

		if (sn->st == SN_DOWN && !s->stopping && sn->restart_at < next)
			next = sn->restart_at;
	}
	if (s->next_hang_check < next)
		next = s->next_hang_check;
	if (s->stopping && s->grace_at && s->grace_at < next)
		next = s->grace_at;
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

/* --- shutdown ---------------------------------------------------------- */

static void
begin_stop(struct sup *s, int why)
{
	s->stopping = why;
	if (dcf_lock(&s->sg) == 0) {
		__atomic_store_n(&s->sg.hdr->sys_state, DCF_SYS_STOPPING, __ATOMIC_RELEASE);
		dcf_unlock(&s->sg);
	}
	dcf_books_wake_all(&s->sg);
	s->grace_at = dcf_now_ns() + (uint64_t)s->cfg->grace_ms * MS;
	for (uint32_t n = 0; n < s->nnodes; n++)
		if (s->nodes[n].st == SN_DOWN)
			s->nodes[n].st = SN_STOPPED;
}

static void
on_signal(struct sup *s, int sig)
{
	if (sig == SIGCHLD)
		return;
	s->sigs++;
	if (s->sigs == 1 && s->stopping == 0) {
		dcf_log(DCF_WARNING, "SIG%s: stopping; running tasks have %u ms to finish",
		    sig_name(sig), s->cfg->grace_ms);
		begin_stop(s, sig);
		return;
	}
	dcf_log(DCF_WARNING, "SIG%s again: stopping now", sig_name(sig));
	if (s->stopping == 0)
		begin_stop(s, sig);
	kill_all(s);
}

static int
live_children(struct sup *s)
{
	int k = 0;

	for (uint32_t n = 0; n < s->nnodes; n++)
		k += s->nodes[n].pid > 0;
	return k;
}

static int
all_failed(struct sup *s)
{
	for (uint32_t n = 0; n < s->nnodes; n++)
		if (s->nodes[n].st != SN_FAILED)
			return 0;
	return 1;
}

static void
summary(struct sup *s)
{
	struct dcf_hdr *h = s->sg.hdr;
	double secs = (double)(dcf_now_ns() - s->t0) / 1e9;

	if (s->tty)
		(void)!write(dcf_log_fd(), "\r\033[K", 4);
	printf("dcf '%s': %llu tasks: %llu completed, %llu quarantined, %llu not run; "
	       "%llu node failures, %llu restarts, %llu tasks reclaimed, %llu lock repairs; %.2f "
	       "s, %.0f tasks/s\n",
	    s->o->name, (unsigned long long)s->cfg->tasks, (unsigned long long)h->cnt.retired,
	    (unsigned long long)h->cnt.quarantined,
	    (unsigned long long)(s->cfg->tasks - h->cnt.retired - h->cnt.quarantined),
	    (unsigned long long)h->cnt.failures, (unsigned long long)h->cnt.restarts,
	    (unsigned long long)h->cnt.reclaimed, (unsigned long long)h->cnt.repairs, secs,
	    secs > 0 ? (double)h->cnt.retired / secs : 0.0);
	fflush(stdout);
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

static int
setup_fds(struct sup *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	s->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	s->efd = eventfd(0, EFD_NONBLOCK); /* inherited by workers */
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	return s->sfd == -1 || s->efd == -1 || s->tfd == -1 ? -1 : 0;
}

static int
finished(struct sup *s)
{
	struct dcf_hdr *h = s->sg.hdr;

	return h->cnt.retired + h->cnt.quarantined >= s->cfg->tasks;
}

static void
loop(struct sup *s)
{
	struct pollfd pfd[3];

	for (;;) {
		uint64_t now;
		int worked;

		worked = drain(s, 0) > 0;
		if (!s->stopping && finished(s)) {
			dcf_log(DCF_INFO, "All %llu tasks done; stopping the workers",
			    (unsigned long long)s->cfg->tasks);
			begin_stop(s, -1);
		}
		if (!s->stopping && all_failed(s)) {
			dcf_log(DCF_ERROR, "every node has failed: stopping");
			s->failed_run = 1;
			begin_stop(s, -1);
		}
		if (s->stopping && live_children(s) == 0)
			break;
		if (worked)
			continue;
		/* Nothing retired: ask for a wake-up, then look once more. */
		if (drain(s, 1) > 0)
			continue;
		now = dcf_now_ns();
		set_timer(s, now);
		pfd[0].fd = s->sfd;
		pfd[1].fd = s->efd;
		pfd[2].fd = s->tfd;
		pfd[0].events = pfd[1].events = pfd[2].events = POLLIN;
		if (poll(pfd, 3, -1) == -1 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN) {
			uint64_t v;

			(void)!read(s->efd, &v, sizeof(v));
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				on_signal(s, (int)si.ssi_signo);
			reap(s);
		}
		now = dcf_now_ns();
		if (pfd[2].revents & POLLIN) {
			uint64_t v;

			(void)!read(s->tfd, &v, sizeof(v));
		}
		restart_due(s, now);
		if (now >= s->next_hang_check) {
			check_hangs(s, now);
			s->next_hang_check = now + (uint64_t)s->cfg->hang_timeout_ms * MS / 2;
		}
		if (s->stopping && s->grace_at && now >= s->grace_at) {
			if (live_children(s) > 0)
				dcf_log(DCF_WARNING, "grace period over: killing %d workers",
				    live_children(s));
			kill_all(s);
			s->grace_at = 0;
		}
		if (s->tty && now >= s->next_progress) {
			progress_line(s);
			s->next_progress = now + 500 * MS;
		}
	}
}

int
supervisor_run(struct sup_opts *o)
{
	struct sup s;
	char err[DCF_ERRLEN];
	pid_t old;
	int logfd = 2, rc;

	memset(&s, 0, sizeof(s));
	s.o = o;
	s.cfg = &o->cfg;
	s.self = getpid();
	if (o->log_path != NULL) {
		logfd = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (logfd == -1) {
			fprintf(stderr, "dcf-supervisor: --log '%s': %s; give a writable file\n",
			    o->log_path, strerror(errno));
			return 2;
		}
		fcntl(logfd, F_SETFD, 0); /* workers write to it too */
	}
	s.tty = isatty(logfd) && o->level <= DCF_INFO;
	dcf_log_init(logfd, o->level, s.tty);
	if (o->cfg.work == DCF_WORK_CPU)
		o->cfg.cpu_iters_per_ms = calibrate_cpu();
	if (setup_fds(&s) == -1) {
		fprintf(stderr, "dcf-supervisor: setting up signals: %s\n", strerror(errno));
		return 1;
	}
	if (dcf_seg_create(&s.sg, o->name, &o->cfg, &old, err, sizeof(err)) == -1) {
		fprintf(stderr, "dcf-supervisor: cannot start '%s': %s\n", o->name, err);
		return 1;
	}
	if (old != 0)
		dcf_log(DCF_WARNING, "took over the stale segment of a dead supervisor (pid %d)",
		    (int)old);
	/* s.cfg stays our own copy: a worker scribbling on the segment cannot change it. */
	s.nnodes = s.cfg->nets * s.cfg->nodes_per_net;
	s.nodes = calloc(s.nnodes, sizeof(*s.nodes));
	s.alive = calloc(s.cfg->nets, sizeof(*s.alive));
	if (s.nodes == NULL || s.alive == NULL) {
		fprintf(stderr, "dcf-supervisor: out of memory\n");
		dcf_seg_destroy(&s.sg);
		return 1;
	}
	for (uint32_t n = 0; n < s.nnodes; n++) {
		s.nodes[n].crashes = calloc(s.cfg->max_restarts + 1, sizeof(uint64_t));
		s.nodes[n].st = SN_DOWN;
		s.nodes[n].net = n / s.cfg->nodes_per_net;
		s.nodes[n].idx = n % s.cfg->nodes_per_net;
	}
	dcf_rng_seed(&s.rng, s.cfg->seed ^ 0x5eed);
	setproctitle("-dcf-supervisor %s", o->name);
	s.t0 = dcf_now_ns();
	dcf_log(DCF_INFO,
	    "dcf '%s' starting: %u networks x %u nodes, %llu tasks, seed %llu (pid %d)", o->name,
	    s.cfg->nets, s.cfg->nodes_per_net, (unsigned long long)s.cfg->tasks,
	    (unsigned long long)s.cfg->seed, (int)s.self);
	for (uint32_t n = 0; n < s.nnodes; n++)
		fork_node(&s, n, 0);
	s.next_hang_check = dcf_now_ns() + (uint64_t)s.cfg->hang_timeout_ms * MS / 2;
	s.next_progress = dcf_now_ns() + 500 * MS;
	loop(&s);
	drain(&s, 0);
	summary(&s);
	if (s.stopping > 0)
		rc = 128 + s.stopping;
	else
		rc = s.failed_run || s.sg.hdr->cnt.quarantined > 0 || s.bad_results > 0 ? 1 : 0;
	dcf_seg_destroy(&s.sg);
	for (uint32_t n = 0; n < s.nnodes; n++)
		free(s.nodes[n].crashes);
	free(s.nodes);
	free(s.alive);
	close(s.sfd);
	close(s.efd);
	close(s.tfd);
	return rc;
}
