/*
 * worker.c - one worker node: claim, run, complete, sleep when there is no
 * work. Forked by the supervisor; holds only the mapping it inherited.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dcf/books.h"
#include "dcf/cmd.h"
#include "dcf/exec.h"
#include "dcf/inject.h"
#include "dcf/lock.h"
#include "dcf/ring.h"
#include "dcf/turn.h"
#include "dcf/util.h"
#include "dcf/wait.h"
#include "dcf/worker.h"

/*
 * Chaos: a POSIX timer that delivers SIGKILL itself, after an exponential
 * delay of mean 1/rate. It strikes at whatever instruction the worker is on:
 * inside a task, asleep, or inside the books' critical section.
 */
static void
arm_chaos(const struct worker_ctx *w)
{
	const struct dcf_config *c = &w->sg->hdr->cfg;
	struct sigevent sev;
	struct itimerspec its;
	struct dcf_rng rng;
	timer_t tid;
	double rate, delay;

	if (c->fail_rate_ppm == 0)
		return;
	rate = (double)c->fail_rate_ppm / 1e6;
	dcf_rng_seed(&rng, c->seed ^ dcf_mix64(((uint64_t)w->node << 32) | w->gen));
	delay = -log(1.0 - dcf_rng_unit(&rng)) / rate;
	if (delay > 1e6)
		return;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGKILL;
	if (timer_create(CLOCK_MONOTONIC, &sev, &tid) == -1)
		return;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)delay;
	its.it_value.tv_nsec = (long)((delay - (double)(time_t)delay) * 1e9) + 1;
	timer_settime(tid, 0, &its, NULL);
}

static void
heartbeat(const struct worker_ctx *w)
{
	__atomic_store_n(&w->sg->nodes[w->node].heartbeat_ns, dcf_now_ns(), __ATOMIC_RELAXED);
}

static void run_cmd(const struct worker_ctx *w, const struct dcf_claim *cl);
static void run_fn(const struct worker_ctx *w, const struct dcf_claim *cl);

/* Run one task; returns its result (cpu work) or 0. */
static uint64_t
run_task(const struct worker_ctx *w, const struct dcf_claim *cl)
{
	const struct dcf_config *c = &w->sg->hdr->cfg;
	uint64_t beat = c->hang_timeout_ms / 4 ? c->hang_timeout_ms / 4 : 1;

	if (cl->kind == DCF_WORK_SLEEP) {
		uint64_t end = dcf_now_ns() + (uint64_t)cl->arg_ms * 1000000ULL;
		struct timespec ts;

		for (;;) {
			uint64_t now = dcf_now_ns(), next;

			if (now >= end)
				break;
			next = now + beat * 1000000ULL;
			if (next > end)
				next = end;
			ts.tv_sec = (time_t)(next / DCF_NSEC);
			ts.tv_nsec = (long)(next % DCF_NSEC);
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
			heartbeat(w);
		}
		return 0;
	}
	if (cl->kind == DCF_WORK_CMD) {
		run_cmd(w, cl);
		return 0;
	}
	if (cl->kind == DCF_WORK_FN) {
		run_fn(w, cl);
		return 0;
	}
	if (cl->kind == DCF_WORK_CPU) {
		uint64_t left = dcf_task_cpu_iters(c, cl->id);
		uint64_t step = c->cpu_iters_per_ms * beat, x = c->seed + cl->id;

		if (step == 0)
			step = 1;
		while (left > 0) {
			uint64_t n = left < step ? left : step;

			x = dcf_lcg_run(x, n);
			left -= n;
			heartbeat(w);
		}
		return x;
	}
	return 0;
}

/* --- command tasks ------------------------------------------------------ */

/* The environment variables a task gets, besides the worker's own. */
enum { ENV_TASK_ID, ENV_NETWORK, ENV_NODE, ENV_ATTEMPT, ENV_NAME, ENV_N };
static const char *const env_names[ENV_N] = {"DCF_TASK_ID", "DCF_NETWORK", "DCF_NODE",
    "DCF_ATTEMPT", "DCF_NAME"};

/* What a worker keeps to run commands: set up once, used for every task. */
struct cmd_worker {
	struct dcf_exec x;
	char *payload; /* the claimed task's command, copied out of the segment */
	char **argv;
	size_t argv_max;
	char **envp;
	char env_val[ENV_N][64 + DCF_NAME_MAX];
	/* Another user's task (DCF_RUN_AS): its own environment and groups. */
	char *uenvp[ENV_N + 8];
	char uenv[6][PATH_MAX + 16];
	gid_t groups[256];
	int out_fd, err_fd; /* this node's spool files */
	char out_name[32], err_name[32];
};

static struct cmd_worker cw;
static int cw_ready;

/* The worker's parent died: nothing of its task may outlive it. */
static void
on_parent_death(int sig)
{
	(void)sig;
	if (cw_ready)
		dcf_exec_kill_now(&cw.x);
	_exit(DCF_EXIT_SETUP);
}

static int
spool_open(const struct worker_ctx *w, const char *name)
{
	return openat(w->spool_fd, name,
	    O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
}

/* dcf-ctl kill: the supervisor's SIGUSR1, looked at while the command runs (exec.h). */
static volatile sig_atomic_t kill_asked;

static void
on_kill_request(int sig)
{
	(void)sig;
	kill_asked = 1;
}

/* The signal the supervisor asks for our command's tree, if it is for the task we run. */
static int
kill_wanted(void *arg)
{
	const struct worker_ctx *w = arg;
	struct dcf_node *nd = &w->sg->nodes[w->node];
	uint64_t task = __atomic_load_n(&nd->kill_task, __ATOMIC_ACQUIRE);

	if (task == 0 || task != __atomic_load_n(&nd->task_id, __ATOMIC_RELAXED) + 1)
		return 0;
	return (int)__atomic_exchange_n(&nd->kill_sig, 0, __ATOMIC_ACQ_REL);
}

static void
cmd_setup(const struct worker_ctx *w)
{
	const struct dcf_config *c = &w->sg->cfg;
	char err[DCF_ERRLEN];
	extern char **environ;
	size_t n = 0, k = 0;
	struct sigaction sa;

	snprintf(cw.out_name, sizeof(cw.out_name), "n%u.out", w->node);
	snprintf(cw.err_name, sizeof(cw.err_name), "n%u.err", w->node);
	cw.out_fd = spool_open(w, cw.out_name);
	cw.err_fd = spool_open(w, cw.err_name);
	cw.payload = malloc((size_t)c->payload_max + 1);
	cw.argv_max = c->payload_max / 2 + 2;
	cw.argv = calloc(cw.argv_max, sizeof(*cw.argv));
	while (environ != NULL && environ[n] != NULL)
		n++;
	cw.envp = calloc(n + ENV_N + 1, sizeof(*cw.envp));
	if (cw.out_fd == -1 || cw.err_fd == -1 || cw.payload == NULL || cw.argv == NULL ||
	    cw.envp == NULL ||
	    dcf_exec_init(&cw.x, w->cg_dir[0] ? w->cg_dir : NULL, err, sizeof(err)) == -1)
		_exit(DCF_EXIT_SETUP);
	for (size_t i = 0; i < n; i++) {
		int ours = 0;

		for (int e = 0; e < ENV_N; e++) {
			size_t l = strlen(env_names[e]);

			ours |= strncmp(environ[i], env_names[e], l) == 0 && environ[i][l] == '=';
		}
		if (!ours)
			cw.envp[k++] = environ[i];
	}
	for (int e = 0; e < ENV_N; e++)
		cw.envp[k++] = cw.env_val[e];
	cw.envp[k] = NULL;
	/* We live in our node's cgroup, above our task's: if the supervisor dies
	 * with us stopped, the next one to take its name kills us with the rest. */
	if (w->cg_dir[0] != '\0') {
		char procs[sizeof(w->cg_dir) + 16];
		int fd;

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", w->cg_dir);
		if ((fd = open(procs, O_WRONLY | O_CLOEXEC)) >= 0) {
			(void)!write(fd, "0", 1);
			close(fd);
		}
	}
	/* The supervisor's death reaches us as SIGUSR2, to end our task's tree first. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_parent_death;
	sigfillset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = on_kill_request;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	cw_ready = 1;
	prctl(PR_SET_PDEATHSIG, SIGUSR2);
	if (getppid() != w->parent)
		on_parent_death(SIGUSR2);
}

/*
 * After the run: a spool file that got output is handed to the supervisor
 * under the run's name, and a fresh one opened; an empty one is kept.
 */
static uint64_t
spool_hand_over(const struct worker_ctx *w, int *fd, const char *name, uint64_t id, uint32_t run,
    const char *what)
{
	struct stat st;
	char to[64];

	if (fstat(*fd, &st) == -1 || st.st_size == 0)
		return 0;
	snprintf(to, sizeof(to), "%" PRIu64 ".%u.%s", id, run, what);
	if (renameat(w->spool_fd, name, w->spool_fd, to) == -1)
		_exit(DCF_EXIT_SETUP); /* the run's output would be lost: let it run again */
	close(*fd);
	if ((*fd = spool_open(w, name)) == -1)
		_exit(DCF_EXIT_SETUP);
	return (uint64_t)st.st_size;
}

/* Several hosts: this host's leases have lapsed (layout.h lease_mono_ns). */
static int
lease_gone(const struct dcf_seg *sg)
{
	uint64_t l = __atomic_load_n(&sg->hdr->lease_mono_ns, __ATOMIC_ACQUIRE);

	return l != 0 && dcf_now_ns() >= l;
}

/*
 * A task of another user (cmd.h DCF_RUN_AS, argv its items): rq set to run
 * it as that user, with its groups and an environment of its own (as cron
 * gives: PATH, HOME, SHELL, USER, LOGNAME, LANG, and the task's DCF_*),
 * none of ours. Returns how many items to take off argv: 3, or 0 if the
 * items are not whole (then nothing is run as anyone: -1).
 */
static int
run_as(char **argv, struct dcf_exec_req *rq)
{
	struct passwd pw, *res = NULL;
	char buf[4096], *end;
	unsigned long uid, gid;
	const char *lang = getenv("LANG");
	int ng = (int)(sizeof(cw.groups) / sizeof(cw.groups[0])), k = 0;

	if (argv[1] == NULL || argv[2] == NULL || argv[3] == NULL)
		return -1;
	errno = 0;
	uid = strtoul(argv[1], &end, 10);
	if (*end != '\0' || errno != 0 || uid == 0 || uid >= UINT32_MAX)
		return -1;
	gid = strtoul(argv[2], &end, 10);
	if (*end != '\0' || errno != 0 || gid >= UINT32_MAX)
		return -1;
	if (getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) != 0)
		res = NULL;
	if (res == NULL || getgrouplist(pw.pw_name, (gid_t)gid, cw.groups, &ng) == -1) {
		cw.groups[0] = (gid_t)gid; /* unnamed, or too many groups: its own alone */
		ng = 1;
	}
	snprintf(cw.uenv[0], sizeof(cw.uenv[0]), "HOME=%s", res != NULL ? pw.pw_dir : "/");
	snprintf(cw.uenv[1], sizeof(cw.uenv[1]), "SHELL=%s",
	    res != NULL && pw.pw_shell[0] != '\0' ? pw.pw_shell : "/bin/sh");
	if (res != NULL) {
		snprintf(cw.uenv[2], sizeof(cw.uenv[2]), "USER=%s", pw.pw_name);
		snprintf(cw.uenv[3], sizeof(cw.uenv[3]), "LOGNAME=%s", pw.pw_name);
	} else {
		snprintf(cw.uenv[2], sizeof(cw.uenv[2]), "USER=%lu", uid);
		snprintf(cw.uenv[3], sizeof(cw.uenv[3]), "LOGNAME=%lu", uid);
	}
	snprintf(cw.uenv[4], sizeof(cw.uenv[4]), "PATH=/usr/local/bin:/usr/bin:/bin");
	snprintf(cw.uenv[5], sizeof(cw.uenv[5]), "LANG=%s", lang != NULL ? lang : "C.UTF-8");
	for (int i = 0; i < 6; i++)
		cw.uenvp[k++] = cw.uenv[i];
	for (int e = 0; e < ENV_N; e++)
		cw.uenvp[k++] = cw.env_val[e];
	cw.uenvp[k] = NULL;
	rq->envp = cw.uenvp;
	rq->as_user = 1;
	rq->as_uid = (uint32_t)uid;
	rq->as_gid = (uint32_t)gid;
	rq->as_groups = cw.groups;
	rq->as_ngroups = (size_t)ng;
	return 3;
}

/* A command that cannot run: its outcome, as an exec that failed with e (126). */
static void
not_run(struct dcf_task *t, int e)
{
	struct dcf_outcome o;

	memset(&o, 0, sizeof(o));
	o.how = DCF_HOW_NOEXEC;
	o.exit_code = 126;
	o.exec_errno = (uint32_t)e;
	o.start_wall_ns = dcf_wall_ns();
	t->out = o;
}

static void
run_cmd(const struct worker_ctx *w, const struct dcf_claim *cl)
{
	struct dcf_seg *sg = w->sg;
	struct dcf_task *t = &sg->tasks[cl->slot];
	struct dcf_node *nd = &sg->nodes[w->node];
	struct dcf_exec_req rq;
	struct dcf_exec_res rs;
	struct dcf_outcome o;
	uint32_t len = t->payload_len, alen;
	const char *cwd = NULL;

	memset(&o, 0, sizeof(o));
	if (t->flags & DCF_TASK_F_CANCELLED) {
		/* dcf-ctl cancel came while it waited: ended without a run. */
		o.how = DCF_HOW_CANCELLED;
		o.start_wall_ns = dcf_wall_ns();
		t->out = o;
		return;
	}
	if (len > sg->cfg.payload_max)
		len = 0;
	memcpy(cw.payload, dcf_payload(sg, cl->slot), len);
	cw.payload[len] = '\0';
	snprintf(cw.env_val[ENV_TASK_ID], sizeof(cw.env_val[0]), "DCF_TASK_ID=%" PRIu64,
	    cl->id + 1);
	snprintf(cw.env_val[ENV_NETWORK], sizeof(cw.env_val[0]), "DCF_NETWORK=%u", nd->net);
	snprintf(cw.env_val[ENV_NODE], sizeof(cw.env_val[0]), "DCF_NODE=%u", nd->idx);
	snprintf(cw.env_val[ENV_ATTEMPT], sizeof(cw.env_val[0]), "DCF_ATTEMPT=%u", cl->runs);
	snprintf(cw.env_val[ENV_NAME], sizeof(cw.env_val[0]), "DCF_NAME=%s", sg->hdr->name);
	/* The argv, then (a submitted task's) its working directory. */
	alen = t->argv_len > 0 && t->argv_len <= len ? t->argv_len : len;
	if (alen < len && cw.payload[len - 1] == '\0')
		cwd = cw.payload + alen;
	if (len == 0 || dcf_cmd_argv(cw.payload, alen, cw.argv, cw.argv_max) <= 0) {
		not_run(t, EINVAL); /* nothing we could run: the books' payload is damaged */
		return;
	}
	memset(&rq, 0, sizeof(rq));
	rq.argv = cw.argv;
	rq.envp = cw.envp;
	if (strcmp(cw.argv[0], DCF_RUN_AS) == 0) {
		int skip = run_as(cw.argv, &rq);

		if (skip < 0) {
			not_run(t, EPERM); /* not whole: run as nobody else, and not as us either */
			return;
		}
		rq.argv = cw.argv + skip;
	}
	rq.out_fd = cw.out_fd;
	rq.err_fd = cw.err_fd;
	rq.timeout_ns = (uint64_t)(t->timeout_ms ? t->timeout_ms : sg->cfg.timeout_ms) * 1000000ULL;
	rq.cwd = cwd;
	rq.kill_after_ns = (uint64_t)sg->cfg.kill_after_ms * 1000000ULL;
	rq.interrupt = &kill_asked;
	rq.want = kill_wanted;
	rq.want_arg = (void *)w;
	rq.lease_until = &sg->hdr->lease_mono_ns;
	if (lease_gone(sg))
		_exit(DCF_EXIT_LEASE); /* not even started: its task is another host's soon */
	/* Waiting in the kernel for the command: --timeout watches it, not the watchdog. */
	__atomic_store_n(&nd->heartbeat_ns, DCF_BEAT_IN_CMD, __ATOMIC_RELAXED);
	if (dcf_exec_run(&cw.x, &rq, &rs) == -1) {
		/* No process could be made (EAGAIN, ENOMEM): not the command's failure.
		 * The node dies; its task is put back and the restart throttle applies. */
		if (errno == EAGAIN || errno == ENOMEM)
			_exit(DCF_EXIT_SETUP);
		o.how = DCF_HOW_NOEXEC;
		o.exit_code = 126;
		o.exec_errno = (uint32_t)errno;
		o.start_wall_ns = dcf_wall_ns();
	} else {
		o.how = rs.how == DCF_EXEC_EXITED ? (rs.exit_code == 0 ? DCF_HOW_OK : DCF_HOW_EXIT)
		    : rs.how == DCF_EXEC_SIGNALED ? DCF_HOW_SIGNAL
		    : rs.how == DCF_EXEC_TIMEDOUT ? DCF_HOW_TIMEOUT
		                                  : DCF_HOW_NOEXEC;
		o.exit_code = rs.exit_code;
		o.term_sig = (uint32_t)rs.term_sig;
		o.exec_errno = (uint32_t)rs.exec_errno;
		o.start_wall_ns = rs.start_wall_ns;
		o.run_ns = rs.run_ns;
		o.cpu_us = rs.cpu_us;
		o.maxrss_kb = rs.maxrss_kb;
	}
	if (rs.lease_lost) {
		/*
		 * Its supervisor renewed nothing for two thirds of the lease
		 * (stopped, or cut off): the run is killed before another host
		 * may start it, and this worker dies with it, booking nothing;
		 * the task is another host's, or this one's again after a death.
		 */
		_exit(DCF_EXIT_LEASE);
	}
	heartbeat(w);
	o.out_bytes = spool_hand_over(w, &cw.out_fd, cw.out_name, cl->id, cl->runs, "out");
	o.err_bytes = spool_hand_over(w, &cw.err_fd, cw.err_name, cl->id, cl->runs, "err");
	/* Ours alone while RUNNING: published by the completion that follows. */
	t->out = o;
	if (rs.sent_sig != 0)
		t->flags |= DCF_TASK_F_KILLED; /* ended as asked: no retry */
}

/* --- task functions (libdcf) ------------------------------------------- */

/*
 * Run the program's function on the slot's input, its output straight into
 * the slot's output room: both are ours while the slot is RUNNING and ours,
 * and nothing is published before the completion that follows. A run that
 * dies half way leaves a half-written output nobody reads: the rerun writes
 * it again.
 */
static void
run_fn(const struct worker_ctx *w, const struct dcf_claim *cl)
{
	struct dcf_seg *sg = w->sg;
	const struct dcf_hdr *h = sg->hdr;
	const struct dcf_config *c = &h->cfg;
	struct dcf_task *t = &sg->tasks[cl->slot];
	struct dcf_node *nd = &sg->nodes[w->node];
	uint32_t in_room = dcf_out_off(c), len = t->payload_len;
	unsigned char *in = dcf_payload(sg, cl->slot);
	size_t out_len = c->out_max;
	struct dcf_outcome o;
	/* The turn read the clock as this task began (turn.h): one read a task, its end. */
	uint64_t t0 = __atomic_load_n(&nd->busy_since_ns, __ATOMIC_RELAXED), t1;
	int rc;

	memset(&o, 0, sizeof(o));
	if (len > in_room)
		len = 0; /* cannot be: dispatch checks it */
	o.start_wall_ns = h->created_ns + (t0 - h->created_mono_ns);
	/* With no task time limit, no run is taken for hung however long it takes. */
	if (c->timeout_ms == 0)
		__atomic_store_n(&nd->heartbeat_ns, DCF_BEAT_IN_CMD, __ATOMIC_RELAXED);
	rc = w->fn(in, len, in + in_room, &out_len, w->fn_arg);
	t1 = dcf_now_ns();
	__atomic_store_n(&nd->heartbeat_ns, t1, __ATOMIC_RELAXED);
	o.run_ns = t1 > t0 ? t1 - t0 : 0;
	if (out_len > c->out_max) {
		o.how = DCF_HOW_OVERSIZE;
	} else {
		o.how = rc == 0 ? DCF_HOW_OK : DCF_HOW_EXIT;
		o.exit_code = rc;
		o.out_bytes = out_len;
	}
	t->out = o;
}

static void
notify_supervisor(const struct worker_ctx *w)
{
	uint64_t one = 1;

	while (write(w->notify_fd, &one, sizeof(one)) == -1 && errno == EINTR)
		;
}

#ifdef DCF_INJECT_ENABLE
/* Test hooks, from the environment (injection build only). */
struct worker_hooks {
	uint64_t iter;
	uint64_t corrupt_at;   /* DCF_CORRUPT: damage beyond repair, die holding the lock */
	uint64_t corrupt_q_at; /* DCF_CORRUPT_QUEUE: a queue field naming another ring */
	uint64_t scribble_at;  /* DCF_SCRIBBLE_GEN: our generation changed, then die busy */
	uint64_t poison;       /* DCF_POISON: the task that kills its worker */
	uint32_t net;
};

static uint64_t
env_u64(const char *name, uint64_t none)
{
	const char *v = getenv(name);

	return v != NULL ? strtoull(v, NULL, 10) : none;
}

static void
hooks_init(struct worker_hooks *k, const struct worker_ctx *w)
{
	/* DCF_INJECT_NODE=n: only node n's first process arms the injection point. */
	const char *only = getenv("DCF_INJECT_NODE");
	const char *crash = getenv("DCF_CRASH_NODE");

	if (only == NULL || (strtoul(only, NULL, 10) == w->node && w->gen == 1))
		dcf_inject_from_env();
	if (crash != NULL && strtoul(crash, NULL, 10) == w->node)
		raise(SIGKILL); /* a node that dies whenever it starts */
	memset(k, 0, sizeof(*k));
	k->corrupt_at = env_u64("DCF_CORRUPT", 0);
	k->corrupt_q_at = env_u64("DCF_CORRUPT_QUEUE", 0);
	k->scribble_at = env_u64("DCF_SCRIBBLE_GEN", 0);
	k->poison = env_u64("DCF_POISON", UINT64_MAX);
	k->net = w->sg->nodes[w->node].net;
}

/* Under the lock, at the start of every turn. */
static void
hooks_locked(struct dcf_seg *sg, void *arg)
{
	struct worker_hooks *k = arg;

	if (++k->iter == k->corrupt_at && sg->hdr->cnt.resets == 0) {
		sg->rings[DCF_RING_FREE].tail += 3 * sg->hdr->ring_cap;
		raise(SIGKILL);
	}
	if (k->corrupt_q_at != 0 && k->iter >= k->corrupt_q_at && sg->hdr->cnt.resets == 0) {
		uint32_t ring = DCF_RING_RECOVERY, slot;

		if (dcf_ring_depth(&sg->rings[ring]) == 0)
			ring = DCF_RING_NET0 + k->net;
		if (dcf_ring_peek(sg, ring, 0, &slot) == 0) {
			sg->tasks[slot].queue =
			    ring == DCF_RING_RECOVERY ? DCF_RING_NET0 + k->net : DCF_RING_RECOVERY;
			k->corrupt_q_at = 0;
		}
	}
}

/* After a claim, before the task runs. */
static void
hooks_claimed(struct worker_hooks *k, const struct worker_ctx *w, const struct dcf_claim *cl)
{
	struct dcf_seg *sg = w->sg;

	if (cl->id == k->poison)
		raise(SIGKILL);
	if (k->scribble_at != 0 && k->iter >= k->scribble_at && w->gen == 1 &&
	    sg->hdr->cnt.resets == 0 && dcf_lock(sg) == 0) {
		sg->nodes[w->node].gen += 100;
		dcf_unlock(sg);
		raise(SIGKILL);
	}
}
#endif

void
worker_main(const struct worker_ctx *w)
{
	struct dcf_seg *sg = w->sg;
	struct dcf_node *nd = &sg->nodes[w->node];
	struct dcf_turn t;
	sigset_t all;
	pid_t me = getpid();
#ifdef DCF_INJECT_ENABLE
	struct worker_hooks hooks;
#endif

	/* Die with the supervisor; the check closes the race with its death before prctl. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != w->parent)
		_exit(DCF_EXIT_SETUP);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* Ctrl-C, Ctrl-\ and a hangup reach the whole process group: stopping is
	 * the supervisor's call, with its grace period. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	dcf_seg_close_fd(sg);
	if (!w->embedded)
		setproctitle("-dcf-worker Network-%u Node-%u", nd->net, nd->idx);
	prctl(PR_SET_NAME, "dcf-worker");
	/* The supervisor writes every line of the log: its queue is not ours. */
	dcf_log_queue_free();
	if (sg->cfg.work == DCF_WORK_CMD)
		cmd_setup(w);
	memset(&t, 0, sizeof(t));
	t.node = w->node;
	t.gen = w->gen;
	t.pid = me;
#ifdef DCF_INJECT_ENABLE
	hooks_init(&hooks, w);
	t.locked_hook = hooks_locked;
	t.hook_arg = &hooks;
#endif
	arm_chaos(w);

	/* The PID is a label: the supervisor stores it after fork, we store it before
	 * saying we are ready, so nobody ever sees an idle node without one. */
	__atomic_store_n(&nd->pid, (int32_t)me, __ATOMIC_RELAXED);
	if (dcf_turn_ready(sg, &t) == -1)
		_exit(errno == ESTALE ? DCF_EXIT_STALE : DCF_EXIT_RESET);
	for (;;) {
		int next = dcf_turn(sg, &t);

		if (next == -1)
			_exit(errno == ESTALE ? DCF_EXIT_STALE : DCF_EXIT_RESET);
		if (t.wake_sup)
			notify_supervisor(w);
		if (next == DCF_NEXT_EXIT)
			_exit(DCF_EXIT_OK);
		if (next == DCF_NEXT_SLEEP) {
			dcf_futex_wait(t.wake, t.word, NULL);
			continue;
		}
		for (const struct dcf_claim *cl; (cl = dcf_turn_next(sg, &t)) != NULL;) {
#ifdef DCF_INJECT_ENABLE
			hooks_claimed(&hooks, w, cl);
#endif
			dcf_turn_done(&t, run_task(w, cl));
		}
	}
}
