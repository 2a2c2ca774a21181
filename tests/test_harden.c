/*
 * test_harden.c - the real dcf-supervisor against processes that stop
 * instead of dying, resources that run out and signals it did not expect
 * (issue "Hardening II"): a worker SIGSTOPped inside each critical section,
 * a log nobody reads, a reset asked for by a worker, Ctrl-Z and fg, fork
 * and allocation failure, a log that cannot be written, every signal, a
 * truncated segment, a refused record of a death.
 *
 * Every run is bounded: a supervisor that wedges fails the test (it is
 * killed by PID after the deadline) instead of hanging it. The test process
 * is a child subreaper, so the workers of a killed supervisor come back to
 * it and are reaped here.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dcf/seg.h"
#include "dcf/util.h"

#include "../tools/runlib.h"

#define SUP     "./dcf-supervisor"
#define SUP_INJ "./build/inj/dcf-supervisor"

/* One run: the supervisor's stderr (its log) and stdout (its summary). */
struct hrun {
	char name[40];
	pid_t pid;
	int err_fd, out_fd;
	char *log, *out;
	size_t log_len, out_len;
	int status;
	int timed_out;
};

struct hopts {
	const char *const *env; /* "K=V" strings, NULL-terminated, or NULL */
	int own_group;          /* setpgid(0, 0): a job of its own, for Ctrl-Z */
	int small_pipe;         /* the log pipe at its minimum size (one page) */
};

static void
hstart(struct hrun *r, const char *bin, const char *tag, const char *const *args,
    const struct hopts *o)
{
	const char *argv[64];
	int pe[2], po[2], n = 0;

	memset(r, 0, sizeof(*r));
	run_name(r->name, sizeof(r->name), tag);
	argv[n++] = bin;
	argv[n++] = "--name";
	argv[n++] = r->name;
	for (int i = 0; args[i] != NULL && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
	assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	if (o != NULL && o->small_pipe)
		assert_true(fcntl(pe[1], F_SETPIPE_SZ, 4096) >= 4096);
	else
		(void)fcntl(pe[0], F_SETPIPE_SZ, 1 << 20);
	r->pid = fork();
	assert_true(r->pid != -1);
	if (r->pid == 0) {
		dup2(pe[1], 2);
		dup2(po[1], 1);
		if (o != NULL && o->own_group)
			setpgid(0, 0);
		for (int i = 0; o != NULL && o->env != NULL && o->env[i] != NULL; i++)
			putenv((char *)o->env[i]);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	if (o != NULL && o->own_group)
		setpgid(r->pid, r->pid); /* either side may win the race; both ask the same */
	close(pe[1]);
	close(po[1]);
	r->err_fd = pe[0];
	r->out_fd = po[0];
}

static void
append(char **buf, size_t *len, const char *p, size_t n)
{
	/* Capacity doubles (the power of two at or above len + 1): logs are MBs. */
	size_t cap = 64, need = *len + n + 1;

	while (cap < *len + 1)
		cap <<= 1;
	if (*buf == NULL || need > cap) {
		char *nb;

		while (cap < need)
			cap <<= 1;
		nb = realloc(*buf, cap);
		assert_non_null(nb);
		*buf = nb;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* Read both pipes until EOF or the deadline; 1 at EOF on both. */
static int
hpump(struct hrun *r, uint64_t deadline)
{
	char buf[65536];

	while (r->err_fd >= 0 || r->out_fd >= 0) {
		struct pollfd p[2] = {{.fd = r->err_fd, .events = POLLIN},
		    {.fd = r->out_fd, .events = POLLIN}};
		uint64_t now = dcf_now_ns();

		if (now >= deadline)
			return 0;
		if (poll(p, 2, (int)((deadline - now) / 1000000) + 1) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			int *fd = i == 0 ? &r->err_fd : &r->out_fd;
			ssize_t k;

			if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			k = read(*fd, buf, sizeof(buf));
			if (k > 0 && i == 0)
				append(&r->log, &r->log_len, buf, (size_t)k);
			else if (k > 0)
				append(&r->out, &r->out_len, buf, (size_t)k);
			else if (k == 0 || errno != EINTR) {
				close(*fd);
				*fd = -1;
			}
		}
	}
	return 1;
}

/* Read until the log holds what, within secs; 1 if it does. */
static int
hwait_for(struct hrun *r, const char *what, double secs)
{
	uint64_t deadline = dcf_now_ns() + (uint64_t)(secs * 1e9);

	while (r->log == NULL || strstr(r->log, what) == NULL) {
		char buf[4096];
		struct pollfd p = {.fd = r->err_fd, .events = POLLIN};
		ssize_t k;
		uint64_t now = dcf_now_ns();

		if (r->err_fd < 0 || now >= deadline)
			return 0;
		if (poll(&p, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
			continue;
		k = read(r->err_fd, buf, sizeof(buf));
		if (k <= 0)
			return 0;
		append(&r->log, &r->log_len, buf, (size_t)k);
	}
	return 1;
}

/* Everything the supervisor said, and its status, within secs; else kill it. */
static void
hfinish(struct hrun *r, double secs)
{
	uint64_t deadline = dcf_now_ns() + (uint64_t)(secs * 1e9);
	int reaped;

	if (!hpump(r, deadline)) {
		r->timed_out = 1;
		kill(r->pid, SIGKILL);
		hpump(r, dcf_now_ns() + 5 * DCF_NSEC);
	}
	for (;;) {
		uint64_t now = dcf_now_ns();
		pid_t p = waitpid(r->pid, &r->status, WNOHANG);

		if (p == r->pid)
			break;
		if (now >= deadline && !r->timed_out) {
			r->timed_out = 1;
			kill(r->pid, SIGKILL);
		}
		if (now >= deadline + 5 * DCF_NSEC)
			fail_msg("supervisor %d cannot be reaped", (int)r->pid);
		(void)poll(NULL, 0, 5);
	}
	/* Orphaned workers, if it died: ours as a subreaper, reaped on their SIGCHLD. */
	assert_int_equal(run_reap_all(dcf_now_ns(), 5.0, &reaped), 0);
	if (r->err_fd >= 0)
		close(r->err_fd);
	if (r->out_fd >= 0)
		close(r->out_fd);
	r->err_fd = r->out_fd = -1;
	if (r->log == NULL)
		append(&r->log, &r->log_len, "", 0);
	if (r->out == NULL)
		append(&r->out, &r->out_len, "", 0);
	if (r->timed_out)
		fail_msg("supervisor wedged: killed after %.0f s; log tail:\n%s", secs,
		    r->log_len > 2000 ? r->log + r->log_len - 2000 : r->log);
}

static void
hrelease(struct hrun *r)
{
	free(r->log);
	free(r->out);
	r->log = r->out = NULL;
}

static int
hcount(const struct hrun *r, const char *what)
{
	return run_count(r->log, what);
}

static void
assert_exit(const struct hrun *r, int code)
{
	if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != code)
		fail_msg("supervisor: status %#x, expected exit %d\nstdout: %s\nlog tail:\n%s\n",
		    r->status, code, r->out,
		    r->log_len > 3000 ? r->log + r->log_len - 3000 : r->log);
}

/* Every task completed exactly once; nothing quarantined. */
static void
assert_books(const struct hrun *r, uint64_t tasks)
{
	struct run_books b;

	run_audit(r->log, tasks, &b);
	if (b.duplicated || b.wrong || b.quarantined)
		fail_msg("books: %llu completed, %llu quarantined, %llu duplicated, %llu wrong",
		    (unsigned long long)b.completed, (unsigned long long)b.quarantined,
		    (unsigned long long)b.duplicated, (unsigned long long)b.wrong);
	assert_int_equal(b.completed, tasks);
	{
		char first[256];
		int bad = run_audit_order(r->log, first, sizeof(first));

		if (bad != 0) {
			FILE *f = fopen("/tmp/dcf-order.log", "w");

			if (f != NULL) {
				fputs(r->log, f);
				fclose(f);
			}
			fail_msg("%d lines out of causal order for their node, the "
			         "first:\n%s\n(log in "
			         "/tmp/dcf-order.log)",
			    bad, first);
		}
	}
}

static void
assert_clean(const struct hrun *r)
{
	assert_false(run_shm_exists(r->name));
}

/* ---- 1. a worker stopped while it holds the books' lock ---------------- */

static void
stop_at(const char *point, int in_lock)
{
	char inj[64];
	const char *env[] = {inj, "DCF_INJECT_ACTION=stop", "DCF_INJECT_NODE=0", NULL};
	const char *args[] = {"--networks", "1", "--nodes", "1", "--tasks", "50", "--work", "none",
	    "--fail-rate", "0", "--downtime", "0", "--hang-timeout", "400", NULL};
	struct hopts o = {.env = env};
	struct hrun r;

	snprintf(inj, sizeof(inj), "DCF_INJECT=%s", point);
	hstart(&r, SUP_INJ, "stop", args, &o);
	hfinish(&r, 30);
	assert_exit(&r, 0);
	assert_books(&r, 50);
	/* The one node's first process stopped there, and only it was killed. */
	if (in_lock)
		assert_int_equal(hcount(&r, "held the books' lock for 400 ms without progress"), 1);
	else
		assert_int_equal(hcount(&r, "made no progress for 400 ms"), 1);
	assert_int_equal(hcount(&r, "has failed."), 1);
	assert_clean(&r);
	hrelease(&r);
}

static void
test_stop_inside_each_critical_section(void **state)
{
	/* Every step of the worker's transactions where the lock is held. */
	static const char *const ops[] = {"node", "claim", "turn", "complete"};
	static const int steps[] = {0, 1, 2, 3, 1000, 1001};

	(void)state;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
			char point[32];

			if (strcmp(ops[i], "node") == 0 && steps[k] == 0)
				continue; /* the ready transaction has no step before its journal */
			snprintf(point, sizeof(point), "%s:%d:1", ops[i], steps[k]);
			stop_at(point, 1);
		}
	}
	/* Stopped just after unlocking, busy: the plain hang watchdog's case. */
	stop_at("claim:1002:1", 0);
}

/* ---- 2. a log nobody reads ---------------------------------------------- */

static size_t
pipe_queued(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) == 0 ? (size_t)n : 0;
}

/*
 * Wait (bounded) until nobody having read the one-page log pipe, it holds
 * data and far more has been logged than it can hold: 300 completions are
 * 600 lines, over 30 KiB.
 */
static void
wait_pipe_full(struct hrun *r)
{
	uint64_t deadline = dcf_now_ns() + 10 * DCF_NSEC;
	struct dcf_seg sg;
	char err[DCF_ERRLEN];

	while (dcf_seg_attach(&sg, r->name, 1, err, sizeof(err)) == -1) {
		assert_true(dcf_now_ns() < deadline);
		(void)poll(NULL, 0, 2);
	}
	while (pipe_queued(r->err_fd) == 0 ||
	    __atomic_load_n(&sg.hdr->cnt.completed, __ATOMIC_RELAXED) < 300) {
		assert_true(dcf_now_ns() < deadline);
		(void)poll(NULL, 0, 2);
	}
	dcf_seg_detach(&sg);
}

static void
test_stalled_log_then_sigterm(void **state)
{
	const char *args[] = {"--networks", "1", "--nodes", "2", "--tasks", "100000", "--work",
	    "none", "--fail-rate", "0", "--hang-timeout", "300", "--grace-ms", "200", NULL};
	struct hopts o = {.small_pipe = 1};
	struct hrun r;

	(void)state;
	hstart(&r, SUP, "stall", args, &o);
	wait_pipe_full(&r);
	/* The reader is stalled: the supervisor must still hear SIGTERM and end by itself. */
	assert_int_equal(kill(r.pid, SIGTERM), 0);
	{
		uint64_t deadline = dcf_now_ns() + 20 * DCF_NSEC;
		pid_t p;

		while ((p = waitpid(r.pid, &r.status, WNOHANG)) == 0 && dcf_now_ns() < deadline)
			(void)poll(NULL, 0, 5);
		if (p != r.pid) {
			kill(r.pid, SIGKILL);
			fail_msg(
			    "supervisor did not end within 20 s of SIGTERM with its log stalled");
		}
		r.pid = -1;
	}
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 143);
	hpump(&r, dcf_now_ns() + 10 * DCF_NSEC);
	{
		int reaped;

		assert_int_equal(run_reap_all(dcf_now_ns(), 5.0, &reaped), 0);
	}
	/* What it could not write is said in the summary, not silently dropped. */
	assert_non_null(strstr(r.out, "log lines could not be written"));
	assert_clean(&r);
	hrelease(&r);
}

/* Wait (bounded) until *word >= want; 1 if it got there. */
static int
wait_count(const uint64_t *word, uint64_t want, double secs)
{
	uint64_t deadline = dcf_now_ns() + (uint64_t)(secs * 1e9);

	while (__atomic_load_n(word, __ATOMIC_RELAXED) < want) {
		if (dcf_now_ns() >= deadline)
			return 0;
		(void)poll(NULL, 0, 2);
	}
	return 1;
}

static void
test_stalled_log_delays_only_logging(void **state)
{
	const char *args[] = {"--networks", "1", "--nodes", "2", "--tasks", "60000", "--work",
	    "none", "--fail-rate", "0", "--downtime", "0", "--hang-timeout", "1000", NULL};
	struct hopts o = {.small_pipe = 1};
	struct hrun r;
	struct dcf_seg sg;
	char err[DCF_ERRLEN];
	uint64_t retired;
	pid_t victim;

	(void)state;
	hstart(&r, SUP, "delay", args, &o);
	wait_pipe_full(&r);
	assert_int_equal(dcf_seg_attach(&sg, r.name, 1, err, sizeof(err)), 0);
	/* Stalled for longer than the hang timeout (its 7 MiB of lines are more
	 * than the log queue holds): nothing may be killed for it. */
	retired = __atomic_load_n(&sg.hdr->cnt.retired, __ATOMIC_RELAXED);
	(void)poll(NULL, 0, 1500);
	assert_true(__atomic_load_n(&sg.hdr->cnt.retired, __ATOMIC_RELAXED) - retired < 60000);
	assert_int_equal(__atomic_load_n(&sg.hdr->cnt.failures, __ATOMIC_RELAXED), 0);
	/* And the supervisor is not frozen behind its log: it reaps, books and restarts. */
	victim = __atomic_load_n(&sg.nodes[0].pid, __ATOMIC_RELAXED);
	assert_true(victim > 0 && run_child_of(victim, r.pid));
	assert_int_equal(kill(victim, SIGKILL), 0);
	assert_true(wait_count(&sg.hdr->cnt.failures, 1, 10));
	assert_true(wait_count(&sg.hdr->cnt.restarts, 1, 10));
	dcf_seg_detach(&sg);
	/* The reader comes back: everything completes, exactly once, nothing lost. */
	hfinish(&r, 60);
	assert_exit(&r, 0);
	assert_books(&r, 60000);
	assert_int_equal(hcount(&r, "has failed."), 1);
	assert_null(strstr(r.out, "could not be written"));
	assert_clean(&r);
	hrelease(&r);
}

/* ---- 3. a reset asked for by a worker, with the lock consistent --------- */

static void
test_reset_from_reaper(void **state)
{
	const char *env[] = {"DCF_CORRUPT_QUEUE=3", NULL};
	/* Tasks long enough that every node holds one when the reset restarts it, and a
	 * downtime after which a second fork of the same slot would orphan that task. */
	const char *args[] = {"--networks", "2", "--nodes", "3", "--tasks", "60", "--task-ms",
	    "300", "--fail-rate", "0", "--downtime", "100", NULL};
	struct hopts o = {.env = env};
	struct hrun r;

	(void)state;
	hstart(&r, SUP_INJ, "rreset", args, &o);
	hfinish(&r, 60);
	assert_exit(&r, 0);
	assert_books(&r, 60);
	assert_true(hcount(&r, "a worker found the books beyond repair") >= 1);
	assert_int_equal(hcount(&r, "books rebuilt"), 1);
	assert_clean(&r);
	hrelease(&r);
}

/* ---- 4. Ctrl-Z, then fg ------------------------------------------------- */

static void
test_ctrl_z_then_fg(void **state)
{
	const char *args[] = {"--networks", "1", "--nodes", "4", "--tasks", "300", "--task-ms",
	    "20-60", "--fail-rate", "0", "--hang-timeout", "500", NULL};
	struct hopts o = {.own_group = 1};
	struct hrun r;

	(void)state;
	hstart(&r, SUP, "ctrlz", args, &o);
	for (int round = 0; round < 3; round++) {
		char what[32];

		snprintf(what, sizeof(what), "Task-%d completed", 20 + round * 60);
		assert_true(hwait_for(&r, "completed by", 20));
		/* The terminal's Ctrl-Z: SIGTSTP to the whole job. */
		assert_int_equal(kill(-r.pid, SIGTSTP), 0);
		assert_true(run_wait_state(r.pid, 'T', 10));
		/* Stopped for well over the hang timeout: the experiment's input, not a wait. */
		(void)poll(NULL, 0, 1500);
		assert_int_equal(kill(-r.pid, SIGCONT), 0);
		(void)hwait_for(&r, what, 20);
	}
	hfinish(&r, 60);
	assert_exit(&r, 0);
	assert_books(&r, 300);
	assert_int_equal(hcount(&r, "made no progress"), 0);
	assert_int_equal(hcount(&r, "has failed."), 0);
	assert_clean(&r);
	hrelease(&r);
}

/* ---- 7. fork failure ---------------------------------------------------- */

static void
test_fork_failure_counts_toward_intensity(void **state)
{
	/* Both first forks work; node 1 dies at start; every later fork fails. */
	const char *env[] = {"DCF_FAIL_FORK=2", "DCF_CRASH_NODE=1", NULL};
	/* Node 0 alone has a second of work: time for node 1's retries, 100 ms apart. */
	const char *args[] = {"--networks", "1", "--nodes", "2", "--tasks", "100", "--task-ms",
	    "10", "--fail-rate", "0", "--downtime", "0", "--max-restarts", "2", "--restart-window",
	    "60", NULL};
	struct hopts o = {.env = env};
	struct hrun r;

	(void)state;
	hstart(&r, SUP_INJ, "nofork", args, &o);
	hfinish(&r, 60);
	assert_exit(&r, 0);
	assert_books(&r, 100);
	assert_int_equal(hcount(&r, "cannot fork Network-0 Node-1: Resource temporarily"), 2);
	assert_int_equal(hcount(&r, "Network-0 Node-1 failed more than 2 times in 60 s"), 1);
	/* One process died; no restart happened. */
	assert_non_null(strstr(r.out, " 1 node failure, 0 restarts,"));
	assert_clean(&r);
	hrelease(&r);
}

/* ---- 8. allocation failure ---------------------------------------------- */

static void
test_allocation_failure(void **state)
{
	const char *args[] = {"--networks", "1", "--nodes", "2", "--tasks", "20", "--task-ms", "0",
	    "--fail-rate", "0", NULL};
	(void)state;
	/* nodes, alive, ids, events, two crash rings, the log queue: the 8th is not needed. */
	for (int n = 0; n <= 7; n++) {
		char var[32];
		const char *env[] = {var, NULL};
		struct hopts o = {.env = env};
		struct hrun r;

		snprintf(var, sizeof(var), "DCF_FAIL_ALLOC=%d", n);
		hstart(&r, SUP_INJ, "nomem", args, &o);
		hfinish(&r, 30);
		if (n < 7) {
			assert_exit(&r, 1);
			assert_non_null(strstr(r.log, "dcf-supervisor: out of memory"));
			assert_int_equal(hcount(&r, "\n"), 1); /* one line, nothing else */
		} else {
			assert_exit(&r, 0);
			assert_books(&r, 20);
		}
		assert_clean(&r);
		hrelease(&r);
	}
}

/* ---- 9. a log that cannot be written ------------------------------------ */

static void
test_log_write_errors(void **state)
{
	const char *args[] = {"--networks", "1", "--nodes", "2", "--tasks", "200", "--task-ms", "0",
	    "--fail-rate", "0", "--log", "/dev/full", NULL};
	struct hrun r;

	(void)state;
	hstart(&r, SUP, "full", args, NULL);
	hfinish(&r, 30);
	/* The work is done, but the book of record is not: say so and fail. */
	assert_exit(&r, 1);
	assert_non_null(strstr(r.log, "the log cannot be written (No space left on device)"));
	assert_non_null(strstr(r.log, "log lines could not be written"));
	assert_non_null(strstr(r.out, "200 completed"));
	assert_non_null(strstr(r.out, "log lines could not be written"));
	assert_clean(&r);
	hrelease(&r);
}

static void
test_log_fifo_without_reader(void **state)
{
	char fifo[64];
	const char *args[] = {"--tasks", "5", "--log", fifo, NULL};
	struct hrun r;

	(void)state;
	snprintf(fifo, sizeof(fifo), "/tmp/dcf-test-fifo-%d", (int)getpid());
	assert_int_equal(mkfifo(fifo, 0600), 0);
	hstart(&r, SUP, "fifo", args, NULL);
	hfinish(&r, 10);
	unlink(fifo);
	assert_exit(&r, 1);
	assert_non_null(strstr(r.log, "FIFO that no process is reading"));
	assert_clean(&r);
	hrelease(&r);
}

/* ---- 10. signals ------------------------------------------------------- */

static void
test_sighup_to_the_group_is_a_polite_stop(void **state)
{
	const char *args[] = {"--networks", "1", "--nodes", "3", "--tasks", "100000", "--task-ms",
	    "30", "--fail-rate", "0", "--grace-ms", "5000", NULL};
	struct hopts o = {.own_group = 1};
	struct hrun r;

	(void)state;
	hstart(&r, SUP, "hup", args, &o);
	assert_true(hwait_for(&r, "completed by", 20));
	/* A hangup reaches the whole job: workers must not die of it. */
	assert_int_equal(kill(-r.pid, SIGHUP), 0);
	hfinish(&r, 30);
	assert_exit(&r, 129);
	assert_int_equal(hcount(&r, "SIGHUP: stopping"), 1);
	assert_int_equal(hcount(&r, "has failed."), 0);
	assert_int_equal(hcount(&r, "reclaimed from"), 0);
	assert_clean(&r);
	hrelease(&r);
}

static void
test_sigquit_stops_at_once_and_cleans_up(void **state)
{
	const char *args[] = {"--networks", "1", "--nodes", "3", "--tasks", "100000", "--task-ms",
	    "10000", "--fail-rate", "0", "--grace-ms", "60000", NULL};
	struct hrun r;

	(void)state;
	hstart(&r, SUP, "quit", args, NULL);
	assert_true(hwait_for(&r, "started by", 20));
	assert_int_equal(kill(r.pid, SIGQUIT), 0);
	hfinish(&r, 20); /* well within the 60 s grace: it did not wait for it */
	assert_exit(&r, 131);
	assert_int_equal(hcount(&r, "SIGQUIT: stopping now"), 1);
	assert_non_null(strstr(r.out, "not run"));
	assert_clean(&r);
	hrelease(&r);
}

static void
test_other_signals_have_a_meaning(void **state)
{
	const char *args[] = {"--networks", "1", "--nodes", "2", "--tasks", "400", "--task-ms", "5",
	    "--fail-rate", "0", NULL};
	const int sigs[] = {SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGXCPU};
	struct hrun r;

	(void)state;
	hstart(&r, SUP, "sigs", args, NULL);
	assert_true(hwait_for(&r, "completed by", 20));
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		assert_int_equal(kill(r.pid, sigs[i]), 0);
	assert_int_equal(kill(r.pid, SIGRTMIN + 3), 0);
	hfinish(&r, 60);
	assert_exit(&r, 0);
	assert_books(&r, 400);
	assert_int_equal(hcount(&r, "progress: "), 1);
	assert_int_equal(hcount(&r, " ignored (INT, TERM and HUP stop"), 8);
	assert_clean(&r);
	hrelease(&r);
}

/* ---- 6. the segment truncated under a running supervisor ---------------- */

static void
test_truncated_segment(void **state)
{
	const char *args[] = {"--networks", "1", "--nodes", "2", "--tasks", "100000000", "--work",
	    "none", "--fail-rate", "0", NULL};
	struct hrun r;
	char path[96];
	int fd;

	(void)state;
	hstart(&r, SUP, "trunc", args, NULL);
	assert_true(hwait_for(&r, "completed by", 20));
	snprintf(path, sizeof(path), "/dev/shm/dcf-%s", r.name);
	fd = open(path, O_RDWR | O_NONBLOCK | O_NOFOLLOW);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	close(fd);
	hfinish(&r, 30);
	/* It dies of the signal, truthfully, but only after cleaning up. */
	assert_true(WIFSIGNALED(r.status));
	assert_int_equal(WTERMSIG(r.status), SIGBUS);
	assert_non_null(strstr(r.log, "SIGBUS: the segment was truncated"));
	assert_clean(&r);
	hrelease(&r);
}

/* ---- 12. a refused record of a death is heard --------------------------- */

static void
test_refused_death_record_is_heard(void **state)
{
	/* At its 5th turn: node 0 turns a dozen times or more, fewer with long batches. */
	const char *env[] = {"DCF_SCRIBBLE_GEN=5", "DCF_INJECT_NODE=0", NULL};
	const char *args[] = {"--networks", "1", "--nodes", "2", "--tasks", "500", "--work", "none",
	    "--fail-rate", "0", "--downtime", "0", NULL};
	struct hopts o = {.env = env};
	struct hrun r;

	(void)state;
	hstart(&r, SUP_INJ, "stale", args, &o);
	hfinish(&r, 60);
	assert_exit(&r, 0);
	assert_books(&r, 500);
	assert_true(hcount(&r, "books: recording the death of Network-0 Node-") >= 1);
	assert_int_equal(hcount(&r, "books rebuilt"), 1);
	assert_clean(&r);
	hrelease(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stop_inside_each_critical_section),
	    cmocka_unit_test(test_stalled_log_then_sigterm),
	    cmocka_unit_test(test_stalled_log_delays_only_logging),
	    cmocka_unit_test(test_reset_from_reaper),
	    cmocka_unit_test(test_ctrl_z_then_fg),
	    cmocka_unit_test(test_fork_failure_counts_toward_intensity),
	    cmocka_unit_test(test_allocation_failure),
	    cmocka_unit_test(test_log_write_errors),
	    cmocka_unit_test(test_log_fifo_without_reader),
	    cmocka_unit_test(test_sighup_to_the_group_is_a_polite_stop),
	    cmocka_unit_test(test_sigquit_stops_at_once_and_cleans_up),
	    cmocka_unit_test(test_other_signals_have_a_meaning),
	    cmocka_unit_test(test_truncated_segment),
	    cmocka_unit_test(test_refused_death_record_is_heard),
	};

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	if (getenv("DCF_TEST_ONLY") != NULL) /* e.g. DCF_TEST_ONLY='*reset*' */
		cmocka_set_test_filter(getenv("DCF_TEST_ONLY"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
