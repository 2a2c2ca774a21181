/*
 * testutil.h - what every dcf test suite shares: unique instance names, a
 * small configuration, segments that are always removed, children that are
 * always reaped, a mini supervisor, and a worker and a ledger for the tests
 * that move ids between processes.
 *
 * Rules the helpers enforce:
 *  - instance names are "t<pid>-<tag><n>", so /dev/shm holds "dcf-t<pid>-..."
 *    and tu_teardown removes every such entry of this test process, whatever
 *    happened to the test;
 *  - children come from tu_fork (registered, and killed by the kernel if
 *    the test process dies) and are reaped with tu_waitpid or tu_reap_any;
 *    tu_teardown SIGKILLs and reaps the ones a failed test left, by PID;
 *  - children never call cmocka: they report through their exit status
 *    (tu_child_fail prints a line and _exits with TU_EX_FAIL);
 *  - nothing waits by sleeping: children are waited for with waitpid, the
 *    parent sleeps on a futex word that completions and SIGCHLD both bump,
 *    and "this child is asleep in futex wait" is read from /proc; deadlines
 *    only bound a hang, they never stand in for an event.
 */
#ifndef DCF_TESTUTIL_H
#define DCF_TESTUTIL_H

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dcf/books.h"
#include "dcf/turn.h"
#include "dcf/inject.h"
#include "dcf/layout.h"
#include "dcf/lock.h"
#include "dcf/ring.h"
#include "dcf/seg.h"
#include "dcf/tx.h"
#include "dcf/util.h"
#include "dcf/wait.h"

#define TU_FN static __attribute__((unused))

/* Exit statuses of test children. */
enum {
	TU_EX_OK = 0,
	TU_EX_FAIL = 70,      /* a check failed; the child printed why */
	TU_EX_NOTREC = 71,    /* dcf_lock said ENOTRECOVERABLE */
	TU_EX_STALE = 72,     /* the books said our node is not ours */
	TU_EX_NOTREACHED = 73 /* an armed crash point was never reached */
};

#define TU_MAX_KIDS 256

/*
 * A repair ends in exactly one pthread_mutex_consistent(), in the process
 * that made it: counting the calls here says who repaired, exactly.
 */
static unsigned long tu_repairs_here;

int
pthread_mutex_consistent(pthread_mutex_t *m)
{
	static int (*real)(pthread_mutex_t *);

	if (real == NULL)
		real = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_consistent");
	tu_repairs_here++;
	return real(m);
}

static pid_t tu_main_pid;
static int tu_in_child;
static pid_t tu_kids[TU_MAX_KIDS];
static int tu_nkids;
static unsigned tu_name_seq;
static uint32_t *tu_chld_word;

TU_FN int
tu_valgrind(void)
{
	return getenv("DCF_TEST_VALGRIND") != NULL;
}

/* A bound for waits, in ms: generous, and longer under valgrind. */
TU_FN uint64_t
tu_deadline(uint64_t ms)
{
	return dcf_now_ns() + ms * (tu_valgrind() ? 10u : 1u) * 1000000ULL;
}

/* Time left until deadline into *ts; 0 once it has passed. */
TU_FN int
tu_time_left(uint64_t deadline, struct timespec *ts)
{
	uint64_t now = dcf_now_ns();

	if (now >= deadline)
		return 0;
	ts->tv_sec = (time_t)((deadline - now) / DCF_NSEC);
	ts->tv_nsec = (long)((deadline - now) % DCF_NSEC);
	return 1;
}

/* ---- children ------------------------------------------------------- */

TU_FN void
tu_child_fail(const char *file, int line, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "child %d: %s:%d: ", (int)getpid(), file, line);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(buf);
	buf[n++] = '\n';
	(void)!write(2, buf, (size_t)n);
	_exit(TU_EX_FAIL);
}

/* In a child: check cond, or report and _exit. */
#define TU_CHILD_CHECK(cond, ...) \
	do { \
		if (!(cond)) \
			tu_child_fail(__FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

static void
tu_child_init(pid_t parent)
{
	static const int sigs[] = {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGSYS, SIGABRT, SIGCHLD};
	sigset_t none;

	/* cmocka's handlers would longjmp into the parent's test runner. */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Die with the test, even if it is killed: no child outlives it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(TU_EX_FAIL);
	tu_in_child = 1;
	tu_nkids = 0;
	tu_chld_word = NULL;
}

/* fork(); the parent remembers the child so teardown can always reap it. */
TU_FN pid_t
tu_fork(void)
{
	pid_t pid, parent = getpid();

	assert_true(tu_nkids < TU_MAX_KIDS);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		tu_child_init(parent);
		return 0;
	}
	assert_true(pid != -1);
	tu_kids[tu_nkids++] = pid;
	return pid;
}

static void
tu_forget(pid_t pid)
{
	for (int i = 0; i < tu_nkids; i++) {
		if (tu_kids[i] == pid) {
			tu_kids[i] = tu_kids[--tu_nkids];
			return;
		}
	}
}

/* Reap one child (blocking); its wait status. */
TU_FN int
tu_waitpid(pid_t pid)
{
	int st = 0;
	pid_t r;

	while ((r = waitpid(pid, &st, 0)) == -1 && errno == EINTR)
		;
	assert_int_equal(r, pid);
	tu_forget(pid);
	return st;
}

/* Is pid a child tu_fork made and nobody reaped yet? */
TU_FN int
tu_is_registered(pid_t pid)
{
	for (int i = 0; i < tu_nkids; i++)
		if (tu_kids[i] == pid)
			return 1;
	return 0;
}

/*
 * Has pid exited (not reaped)? Waits for it, for SIGCHLD, at most until
 * deadline (tu_deadline's clock): 1 exited, 0 not by then. SIGCHLD is
 * blocked while it waits (no pidfd: valgrind 3.19 has none).
 */
TU_FN int
tu_wait_exit(pid_t pid, uint64_t deadline)
{
	sigset_t chld, old;
	siginfo_t si;
	int done = 0;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	for (;;) {
		struct timespec ts;

		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == pid) {
			done = 1;
			break;
		}
		if (!tu_time_left(deadline, &ts))
			break;
		(void)sigtimedwait(&chld, NULL, &ts);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return done;
}

/*
 * Reap pid, waiting for its exit at most secs: a hang fails the test, the
 * child killed first (by PID: it is our unreaped child). Its wait status.
 */
TU_FN int
tu_waitpid_within(pid_t pid, double secs)
{
	if (!tu_wait_exit(pid, tu_deadline((uint64_t)(secs * 1000)))) {
		kill(pid, SIGKILL);
		tu_waitpid(pid);
		fail_msg("pid %d still running after %.0f s", (int)pid, secs);
	}
	return tu_waitpid(pid);
}

/* Reap any child that has ended, without blocking: its pid, or 0. */
TU_FN pid_t
tu_reap_any(int *st)
{
	pid_t r;

	while ((r = waitpid(-1, st, WNOHANG)) == -1 && errno == EINTR)
		;
	if (r > 0)
		tu_forget(r);
	return r > 0 ? r : 0;
}

TU_FN const char *
tu_status_str(int st)
{
	static char buf[64];

	if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, sizeof(buf), "wait status %#x", st);
	return buf;
}

#define tu_assert_exit(st, code) \
	do { \
		int st_ = (st); \
		if (!WIFEXITED(st_) || WEXITSTATUS(st_) != (code)) \
			fail_msg("child: %s, expected exit status %d", tu_status_str(st_), \
			    (code)); \
	} while (0)
#define tu_assert_killed(st) \
	do { \
		int st_ = (st); \
		if (!WIFSIGNALED(st_) || WTERMSIG(st_) != SIGKILL) \
			fail_msg("child: %s, expected SIGKILL", tu_status_str(st_)); \
	} while (0)

/* SIGKILL and reap every child still registered. */
TU_FN void
tu_kill_kids(void)
{
	while (tu_nkids > 0) {
		pid_t pid = tu_kids[tu_nkids - 1];

		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		tu_nkids--;
	}
}

static void
tu_on_sigchld(int sig)
{
	int e = errno;

	(void)sig;
	if (tu_chld_word != NULL) {
		__atomic_add_fetch(tu_chld_word, 1, __ATOMIC_SEQ_CST);
		dcf_futex_wake(tu_chld_word, INT_MAX);
	}
	errno = e;
}

/*
 * From now on a child's death bumps *word and wakes its sleepers, so a
 * parent that reads the word, checks for dead children and then waits on
 * the value it read cannot miss one.
 */
TU_FN void
tu_sigchld_word(uint32_t *word)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	tu_chld_word = word;
	sa.sa_handler = word != NULL ? tu_on_sigchld : SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
}

/* Shared anonymous memory, inherited by children at the same address. */
TU_FN void *
tu_shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

/* ---- files ---------------------------------------------------------- */

/* A whole file, NUL-terminated (the test fails if it cannot be read). */
TU_FN char *
tu_slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long n;

	if (f == NULL) {
		fail_msg("%s: %s", path, strerror(errno));
		return NULL;
	}
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static int
tu_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Remove a directory tree the test made (symbolic links are not followed). */
TU_FN void
tu_rm_tree(const char *path)
{
	if (path[0] != '\0')
		(void)nftw(path, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* pid's children now, from /proc/PID/task/PID/children. */
TU_FN int
tu_children_of(pid_t pid, pid_t *out, int max)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd, k = 0;
	long v = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	for (ssize_t i = 0; i < n && k < max; i++) {
		if (buf[i] >= '0' && buf[i] <= '9') {
			v = v * 10 + (buf[i] - '0');
		} else if (v > 0) {
			out[k++] = (pid_t)v;
			v = 0;
		}
	}
	return k;
}

/*
 * In a test that is a child subreaper: reap the children that have ended,
 * and kill (by PID: they are ours) and count the live ones it did not
 * start itself (tu_fork): processes that escaped what they belonged to.
 */
TU_FN int
tu_leftovers(void)
{
	pid_t kids[256], pid;
	int n = 0, k, st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		;
	k = tu_children_of(getpid(), kids, 256);
	for (int i = 0; i < k; i++)
		if (!tu_is_registered(kids[i])) {
			fprintf(stderr, "left behind: pid %d\n", (int)kids[i]);
			kill(kids[i], SIGKILL);
			n++;
		}
	while (n > 0 && waitpid(-1, &st, 0) > 0)
		;
	return n;
}

/*
 * A crash test's marks: every run of task ID in incarnation INC of the
 * supervisor (the run's attempt RUN) appends "start ID INC RUN" when it
 * begins and "end ID INC RUN" when it is through. Checked: every ID is
 * below nids and every INC at most max_inc; no task starts in an
 * incarnation that began with it done in the store (done_at[INC * stride +
 * ID]); a task's runs never overlap (starts only grow, each end is its last
 * start's). ends[ID] counts each task's ends. Frees text.
 */
TU_FN void
tu_check_marks(char *text, uint32_t nids, uint32_t max_inc, const uint8_t *done_at, size_t stride,
    uint32_t *ends)
{
	uint64_t *last = calloc(nids, sizeof(*last));

	assert_non_null(last);
	for (char *q = text; *q != '\0';) {
		char what[8];
		unsigned id, inc, run;
		uint64_t key;

		assert_int_equal(sscanf(q, "%7s %u %u %u", what, &id, &inc, &run), 4);
		assert_true(id >= 1 && id < nids && inc >= 1 && inc <= max_inc);
		key = (uint64_t)inc << 32 | run;
		if (strcmp(what, "start") == 0) {
			if (done_at[(size_t)inc * stride + id])
				fail_msg("task %u started in incarnation %u, done in the store "
				         "before "
				         "it",
				    id, inc);
			if (key <= last[id])
				fail_msg("task %u: run %u.%u started after run %u.%u", id, inc, run,
				    (unsigned)(last[id] >> 32), (unsigned)last[id]);
			last[id] = key;
		} else {
			if (key != last[id])
				fail_msg("task %u: the end of run %u.%u after run %u.%u started",
				    id, inc, run, (unsigned)(last[id] >> 32), (unsigned)last[id]);
			ends[id]++;
		}
		q = strchr(q, '\n');
		assert_non_null(q);
		q++;
	}
	free(last);
	free(text);
}

/* ---- names, configurations, segments ------------------------------- */

TU_FN void
tu_name(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "t%d-%s%u", (int)tu_main_pid, tag, tu_name_seq++);
	assert_true(strlen(buf) <= DCF_NAME_MAX);
}

/* Remove every /dev/shm entry this test process named; how many. */
TU_FN int
tu_unlink_ours(void)
{
	char prefix[32], path[300];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(prefix, sizeof(prefix), "dcf-t%d-", (int)tu_main_pid);
	d = opendir("/dev/shm");
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
		/* A directory only if a test planted one under a segment's name. */
		if (unlink(path) == 0 || (errno == EISDIR && rmdir(path) == 0))
			n++;
	}
	closedir(d);
	return n;
}

/* A small run: 2 networks of 2 nodes, 8 task slots, 1000 tasks. */
TU_FN void
tu_config(struct dcf_config *c)
{
	/* The one default, made small and fast for tests. */
	dcf_config_default(c);
	c->nets = 2;
	c->nodes_per_net = 2;
	c->max_nodes = 4;
	c->task_slots = 8;
	c->task_ms_min = 1;
	c->task_ms_max = 9;
	c->downtime_ms_min = 1;
	c->downtime_ms_max = 2;
	c->work = DCF_WORK_NONE;
	c->fail_rate_ppm = 0;
	c->restart_window_s = 10;
	c->hang_timeout_ms = 1000;
	c->grace_ms = 100;
	c->cpu_iters_per_ms = 10;
}

/* Create a fresh segment named after tag; fails the test if it cannot. */
TU_FN void
tu_seg_create(struct dcf_seg *sg, const char *tag, const struct dcf_config *c)
{
	char name[DCF_NAME_MAX + 1], err[DCF_ERRLEN];
	pid_t took = 0;

	tu_name(name, sizeof(name), tag);
	if (dcf_seg_create(sg, name, c, &took, err, sizeof(err)) == -1)
		fail_msg("dcf_seg_create %s: %s", name, err);
	assert_int_equal(took, 0);
}

TU_FN int
tu_setup(void **state)
{
	(void)state;
	tu_main_pid = getpid();
	tu_nkids = 0;
	return 0;
}

/* Runs after every test, failed or not: nothing may outlive it. */
TU_FN int
tu_teardown(void **state)
{
	(void)state;
	if (tu_in_child)
		_exit(TU_EX_FAIL);
	tu_sigchld_word(NULL);
	tu_kill_kids();
	tu_unlink_ours();
	return 0;
}

/* ---- the books, from the parent ------------------------------------ */

TU_FN void
tu_lock(struct dcf_seg *sg)
{
	if (dcf_lock(sg) == -1)
		fail_msg("dcf_lock: %s", strerror(errno));
}

/* With the lock held: the invariants must hold. */
#define tu_assert_books(sg) \
	do { \
		char e_[DCF_ERRLEN]; \
		if (dcf_books_check_locked((sg), e_, sizeof(e_)) == -1) \
			fail_msg("books inconsistent: %s", e_); \
	} while (0)

/* Depth of a ring. */
TU_FN uint32_t
tu_depth(struct dcf_seg *sg, uint32_t ring)
{
	return dcf_ring_depth(&sg->rings[ring]);
}

/*
 * With the lock held: move every ring's contents so that its head is base
 * (free-running counters near UINT32_MAX then wrap in the next pushes).
 */
TU_FN void
tu_rebase_rings(struct dcf_seg *sg, uint32_t base)
{
	uint32_t cap = sg->hdr->ring_cap;
	uint32_t *tmp = calloc(cap, sizeof(uint32_t));

	assert_non_null(tmp);
	for (uint32_t r = 0; r < sg->hdr->nrings; r++) {
		struct dcf_ring *rg = &sg->rings[r];
		uint32_t depth = rg->tail - rg->head, *slots = dcf_ring_slots(sg, r);

		for (uint32_t i = 0; i < depth; i++)
			assert_int_equal(dcf_ring_peek(sg, r, i, &tmp[i]), 0);
		rg->head = base;
		rg->tail = base + depth;
		for (uint32_t i = 0; i < depth; i++)
			slots[(base + i) & (cap - 1)] = tmp[i];
	}
	free(tmp);
}

/* ---- images of the books -------------------------------------------- */

/* A copy of a whole segment, to compare the books against later. */
struct tu_img {
	unsigned char *b;
	size_t size;
};

TU_FN void
tu_img_take(struct tu_img *im, struct dcf_seg *sg)
{
	if (im->b == NULL) {
		im->b = malloc(sg->size);
		assert_non_null(im->b);
		im->size = sg->size;
	}
	assert_int_equal(im->size, sg->size);
	memcpy(im->b, sg->base, sg->size);
}

TU_FN void
tu_img_free(struct tu_img *im)
{
	free(im->b);
	im->b = NULL;
}

/* With the lock held: put the books back as in im (all but the lock itself). */
TU_FN void
tu_img_restore(struct dcf_seg *sg, const struct tu_img *im)
{
	size_t lo = offsetof(struct dcf_hdr, lock), hi = lo + sizeof(pthread_mutex_t);

	memcpy(sg->base, im->b, lo);
	memcpy(sg->base + hi, im->b + hi, sg->size - hi);
}

/* Byte for byte the same, the lock and the journal's scratch entries aside. */
TU_FN int
tu_img_same_bytes(struct dcf_seg *sg, const struct tu_img *im)
{
	size_t a = offsetof(struct dcf_hdr, lock), b = a + sizeof(pthread_mutex_t);
	size_t c = offsetof(struct dcf_hdr, wal.e),
	       d = offsetof(struct dcf_hdr, wal) + sizeof(struct dcf_wal);

	return memcmp(sg->base, im->b, a) == 0 && memcmp(sg->base + b, im->b + b, c - b) == 0 &&
	    memcmp(sg->base + d, im->b + d, sg->size - d) == 0;
}

#define TU_DIFF(cond, ...) \
	do { \
		if (cond) { \
			snprintf(buf, sizeof(buf), __VA_ARGS__); \
			return buf; \
		} \
	} while (0)

/*
 * Do the books in sg say the same as those in im? NULL if so, else the first
 * difference. Compared: counters (not repairs), system state, each
 * network's counts, each ring's contents, every task slot that is not free
 * (a free slot's payload is scratch) and every node but its heartbeat. Not
 * compared: the lock, the journal, seq, wake words (hints, bumped outside
 * transactions).
 */
TU_FN const char *
tu_books_diff(struct dcf_seg *sg, const struct tu_img *im)
{
	static char buf[256];
	struct dcf_seg o;
	const struct dcf_config *c = &sg->hdr->cfg;
	struct dcf_counters a = sg->hdr->cnt, b;

	dcf_seg_bind(&o, im->b, im->size);
	b = o.hdr->cnt;
	a.repairs = b.repairs = 0;
	TU_DIFF(memcmp(&a, &b, sizeof(a)) != 0,
	    "counters differ (next_id %llu/%llu, running %llu/%llu, "
	    "completed %llu/%llu, retired %llu/%llu)",
	    (unsigned long long)a.next_id, (unsigned long long)b.next_id,
	    (unsigned long long)a.running, (unsigned long long)b.running,
	    (unsigned long long)a.completed, (unsigned long long)b.completed,
	    (unsigned long long)a.retired, (unsigned long long)b.retired);
	TU_DIFF(sg->hdr->sys_state != o.hdr->sys_state, "sys_state %u/%u", sg->hdr->sys_state,
	    o.hdr->sys_state);
	TU_DIFF(sg->hdr->sup_waiting != o.hdr->sup_waiting, "sup_waiting differs");
	for (uint32_t n = 0; n < c->nets; n++)
		TU_DIFF(sg->nets[n].sleepers != o.nets[n].sleepers ||
		        sg->nets[n].alive != o.nets[n].alive ||
		        sg->nets[n].completed != o.nets[n].completed,
		    "network %u differs", n);
	for (uint32_t r = 0; r < sg->hdr->nrings; r++) {
		struct dcf_ring *x = &sg->rings[r], *y = &o.rings[r];

		TU_DIFF(x->head != y->head || x->tail != y->tail,
		    "ring %u: head/tail %u/%u vs %u/%u", r, x->head, x->tail, y->head, y->tail);
		for (uint32_t i = 0; i < x->tail - x->head && i <= x->mask; i++) {
			uint32_t p = (x->head + i) & x->mask;

			TU_DIFF(dcf_ring_slots(sg, r)[p] != dcf_ring_slots(&o, r)[p],
			    "ring %u differs at %u", r, i);
		}
	}
	for (uint32_t s = 0; s < c->task_slots; s++) {
		struct dcf_task *x = &sg->tasks[s], *y = &o.tasks[s];

		TU_DIFF(x->state != y->state, "slot %u: state %u/%u", s, x->state, y->state);
		if (x->state == DCF_TASK_FREE)
			continue;
		TU_DIFF(memcmp(x, y, sizeof(*x)) != 0, "slot %u (state %u) differs", s, x->state);
	}
	for (uint32_t n = 0; n < c->max_nodes; n++) {
		struct dcf_node x = sg->nodes[n], y = o.nodes[n];

		x.heartbeat_ns = y.heartbeat_ns = 0;
		TU_DIFF(memcmp(&x, &y, sizeof(x)) != 0, "node %u differs (state %u/%u, slot %u/%u)",
		    n, x.state, y.state, x.task_slot, y.task_slot);
	}
	return NULL;
}

/* Start node as generation gen and make it ready (what a worker does first). */
TU_FN void
tu_node_up_locked(struct dcf_seg *sg, uint32_t node, uint32_t gen, int restart)
{
	assert_int_equal(dcf_node_start_locked(sg, node, gen, 1000 + (pid_t)node, restart, 1), 0);
	assert_int_equal(dcf_node_ready_locked(sg, node, gen, 1), 0);
}

/*
 * The mini supervisor, after reaping the process that ran node as gen: what
 * the real supervisor does, in its order: lock (repairing if the dead held
 * it), record the death, check the books, unlock, then wake everyone, since
 * the dead may have pushed work and died before waking anyone. -1 if the
 * lock is unrecoverable or the books are inconsistent (message in err).
 */
TU_FN int
tu_node_died(struct dcf_seg *sg, uint32_t node, uint32_t gen, struct dcf_reclaim *rc, char *err,
    size_t errlen)
{
	int r;

	if (dcf_lock(sg) == -1) {
		snprintf(err, errlen, "dcf_lock: %s", strerror(errno));
		return -1;
	}
	r = dcf_node_died_locked(sg, node, gen, sg->hdr->cfg.max_attempts, dcf_now_ns(), rc);
	if (r == -1)
		snprintf(err, errlen, "dcf_node_died_locked: %s", strerror(errno));
	else
		r = dcf_books_check_locked(sg, err, errlen);
	dcf_unlock(sg);
	dcf_books_wake_all(sg);
	return r;
}

/* Reap pid (it ran node as gen), then tu_node_died. Its wait status in *st. */
TU_FN void
tu_reap_node(struct dcf_seg *sg, pid_t pid, uint32_t node, uint32_t gen, struct dcf_reclaim *rc,
    int *st)
{
	char err[DCF_ERRLEN];

	*st = tu_waitpid(pid);
	if (tu_node_died(sg, node, gen, rc, err, sizeof(err)) == -1)
		fail_msg("after node %u died: %s", node, err);
}

/*
 * Block until pid sleeps in a futex wait on word: /proc/PID/syscall names
 * the call and the word. Where that file is closed to us (ptrace
 * restrictions), settle for the process asleep in the kernel with *flag
 * (if given) set. A bounded wait for the event itself, not a sleep.
 */
TU_FN void
tu_wait_futex(pid_t pid, const uint32_t *word, const uint32_t *flag)
{
	char path[64], buf[512], want[64];
	uint64_t deadline = tu_deadline(10000);

	snprintf(want, sizeof(want), "%d %#lx ", SYS_futex, (unsigned long)(uintptr_t)word);
	for (;;) {
		FILE *f;
		size_t n = 0;
		char *p;
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			tu_forget(pid);
			fail_msg("child %d ended (%s) instead of going to sleep", (int)pid,
			    tu_status_str(st));
		}
		snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
		if ((f = fopen(path, "re")) != NULL) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
		}
		buf[n] = '\0';
		if (n > 0 && strncmp(buf, want, strlen(want)) == 0)
			return;
		if (n == 0) {
			snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
			if ((f = fopen(path, "re")) != NULL) {
				n = fread(buf, 1, sizeof(buf) - 1, f);
				fclose(f);
			}
			buf[n] = '\0';
			p = strrchr(buf, ')');
			if (p != NULL && p[1] == ' ' && p[2] == 'S' &&
			    (flag == NULL || __atomic_load_n(flag, __ATOMIC_ACQUIRE) == 1))
				return;
		}
		if (dcf_now_ns() > deadline)
			fail_msg("child %d never slept on the futex (%s: %s)", (int)pid, path, buf);
		sched_yield();
	}
}

/* Block until pid, the worker of node, sleeps on its network's wake word. */
TU_FN void
tu_wait_asleep(struct dcf_seg *sg, pid_t pid, uint32_t node)
{
	tu_wait_futex(pid, &sg->nets[sg->nodes[node].net].wake, &sg->nodes[node].sleeping);
}

/* ---- ids moving between processes ---------------------------------- */

/*
 * The ledger lives in shared anonymous memory: every process records what
 * it did with each id, and the parent checks at the end that every id was
 * retired exactly once (or quarantined) and that no completion was recorded
 * twice, whoever died on the way.
 */
enum tu_stat {
	TU_ST_CLAIMS,
	TU_ST_COMPLETES,
	TU_ST_SLEEPS,
	TU_ST_WOKE_TO_WORK,
	TU_ST_REPAIRS,
	TU_ST_CHAINS,
	TU_ST_BATCHES,   /* claims of more than one task */
	TU_ST_GIVEBACKS, /* batches cut short */
	TU_ST_BAD,
	TU_ST_NSTATS
};

struct tu_ledger {
	uint32_t ev; /* futex word: bumped for a supervisor that waits */
	uint32_t pad;
	uint64_t ntasks;
	size_t maplen;
	uint64_t stat[TU_ST_NSTATS];
	uint16_t *executed;  /* runs of the id by a worker (at least once) */
	uint16_t *completed; /* completions a worker saw succeed (at most once) */
	uint16_t *retired;   /* retirements (exactly once, unless quarantined) */
};

TU_FN struct tu_ledger *
tu_ledger_new(uint64_t ntasks)
{
	size_t len = sizeof(struct tu_ledger) + 3 * ntasks * sizeof(uint16_t);
	struct tu_ledger *L = tu_shared(len);
	uint16_t *a = (uint16_t *)(void *)(L + 1);

	L->ntasks = ntasks;
	L->maplen = len;
	L->executed = a;
	L->completed = a + ntasks;
	L->retired = a + 2 * ntasks;
	return L;
}

TU_FN void
tu_ledger_free(struct tu_ledger *L)
{
	if (L != NULL)
		munmap(L, L->maplen);
}

#define tu_stat_add(L, k, n) __atomic_add_fetch(&(L)->stat[(k)], (n), __ATOMIC_RELAXED)

static void
tu_mark(uint16_t *a, uint64_t id)
{
	__atomic_add_fetch(&a[id], 1, __ATOMIC_RELAXED);
}

/* Wake whoever supervises: a completion it asked for, or a change it must see. */
TU_FN void
tu_wake_sup(struct tu_ledger *L)
{
	__atomic_add_fetch(&L->ev, 1, __ATOMIC_SEQ_CST);
	dcf_futex_wake(&L->ev, INT_MAX);
}

/* The result a worker reports for id, and the supervisor checks. */
TU_FN uint64_t
tu_result(uint64_t id)
{
	return dcf_mix64(id ^ 0x5eedULL);
}

/* With the lock held: retire every completed task into the ledger; how many. */
TU_FN int
tu_retire_all_locked(struct dcf_seg *sg, struct tu_ledger *L, int max)
{
	struct dcf_done d;
	int n = 0;

	while (n < max && dcf_retire_locked(sg, &d) == 0) {
		if (d.id >= L->ntasks || d.result != tu_result(d.id) ||
		    d.node >= sg->hdr->cfg.max_nodes)
			tu_stat_add(L, TU_ST_BAD, 1);
		else
			tu_mark(L->retired, d.id);
		n++;
	}
	return n;
}

/*
 * Check the ledger against the books (lock held, or every process gone):
 * every id below next_id retired once, or never and then counted as
 * quarantined; no completion seen twice; nothing retired that no worker ran.
 * strict: no crash happened, so every id was run and completed exactly once.
 */
TU_FN int
tu_ledger_verify(struct dcf_seg *sg, struct tu_ledger *L, int strict, char *err, size_t errlen)
{
	const struct dcf_counters *c = &sg->hdr->cnt;
	uint64_t never = 0, sum = 0;

	if (L->stat[TU_ST_BAD] != 0) {
		snprintf(err, errlen, "%llu retired tasks with a wrong id, result or node",
		    (unsigned long long)L->stat[TU_ST_BAD]);
		return -1;
	}
	for (uint64_t id = 0; id < L->ntasks; id++) {
		unsigned r = L->retired[id], d = L->completed[id], x = L->executed[id];

		if (r > 1 || d > 1 || (d == 1 && r != 1) || (r == 1 && x == 0) ||
		    (strict && (r != 1 || d != 1 || x != 1))) {
			snprintf(err, errlen,
			    "id %llu: retired %u, completed %u, executed %u times",
			    (unsigned long long)id, r, d, x);
			return -1;
		}
		never += r == 0;
		sum += r;
	}
	if (c->next_id != L->ntasks || sum != c->retired || c->retired != c->completed ||
	    never != c->quarantined + c->skipped || c->running != 0) {
		snprintf(err, errlen,
		    "ledger retired %llu, never %llu; books: dispatched %llu of %llu, "
		    "retired %llu, completed %llu, quarantined %llu, running %llu",
		    (unsigned long long)sum, (unsigned long long)never,
		    (unsigned long long)c->next_id, (unsigned long long)L->ntasks,
		    (unsigned long long)c->retired, (unsigned long long)c->completed,
		    (unsigned long long)c->quarantined, (unsigned long long)c->running);
		return -1;
	}
	return 0;
}

/*
 * A worker process: the real worker's turns (turn.h), with crash points armed.
 * Completes its last task and claims the next in one critical section,
 * sleeps on its network's wake word when there is nothing, exits 0 when the
 * system stops. arm_count 0: no crash point.
 */
struct tu_worker {
	struct dcf_seg *sg;
	struct tu_ledger *L;
	uint32_t node, gen;
	int arm_op, arm_step;
	unsigned long arm_count;
	uint32_t kmax; /* the largest batch (turn.h): 0 as the real worker, 1 one at a time */
	/* Batched tests: every slow_every-th task (0: none) takes 2 ms, so the
	 * batch it is in is cut short; the die_at-th task (0: none) is never
	 * run: the worker SIGKILLs itself as it starts it. */
	uint32_t slow_every, die_at;
};

/* Under the lock at every turn: count a repair this worker just made. */
struct tu_repair_count {
	struct tu_ledger *L;
	unsigned long seen;
};

static void
tu_count_repairs(struct dcf_seg *sg, void *arg)
{
	struct tu_repair_count *rc = arg;

	(void)sg;
	if (tu_repairs_here != rc->seen)
		tu_stat_add(rc->L, TU_ST_REPAIRS, tu_repairs_here - rc->seen);
	rc->seen = tu_repairs_here;
}

TU_FN int
tu_worker_main(const struct tu_worker *w)
{
	struct tu_repair_count rc = {w->L, 0};
	struct dcf_seg *sg = w->sg;
	struct tu_ledger *L = w->L;
	const struct dcf_config *cfg = &sg->hdr->cfg;
	struct dcf_turn t;
	uint32_t ran = 0;
	int slept = 0;

	dcf_seg_close_fd(sg);
	if (w->arm_count > 0)
		dcf_inject_arm(w->arm_op, w->arm_step, w->arm_count);
	memset(&t, 0, sizeof(t));
	t.node = w->node;
	t.gen = w->gen;
	t.pid = getpid();
	t.kmax = w->kmax;
	/* A worker that is to die at a set task holds its batch till then, however slow
	 * (valgrind) its tasks are: no batch is cut short. */
	if (w->die_at != 0)
		t.give_back_ns = UINT64_MAX;
	t.locked_hook = tu_count_repairs;
	t.hook_arg = &rc;
	rc.seen = tu_repairs_here;
	if (dcf_turn_ready(sg, &t) == -1)
		return errno == ESTALE ? TU_EX_STALE : TU_EX_NOTREC;
	/* The real worker's turn (turn.h); the ledger records what each did. */
	for (;;) {
		int next = dcf_turn(sg, &t);

		if (next == -1) {
			if (errno == ESTALE)
				return TU_EX_STALE;
			if (errno == ENOTRECOVERABLE)
				return TU_EX_NOTREC;
			tu_child_fail(__FILE__, __LINE__, "turn: %s", strerror(errno));
		}
		for (uint32_t i = 0; i < t.completed; i++) {
			tu_mark(L->completed, t.done_id[i]);
			tu_stat_add(L, TU_ST_COMPLETES, 1);
		}
		if (t.given_back > 0)
			tu_stat_add(L, TU_ST_GIVEBACKS, 1);
		if (t.wake_sup)
			tu_wake_sup(L);
		if (next == DCF_NEXT_EXIT)
			return TU_EX_OK;
		if (next == DCF_NEXT_SLEEP) {
			tu_stat_add(L, TU_ST_SLEEPS, 1);
			/* No timeout: a lost wake-up hangs the test, and its deadline says so. */
			dcf_futex_wait(t.wake, t.word, NULL);
			slept = 1;
			continue;
		}
		if (t.cl.chain)
			tu_stat_add(L, TU_ST_CHAINS, 1);
		if (t.cl.n > 1)
			tu_stat_add(L, TU_ST_BATCHES, 1);

		if (slept)
			tu_stat_add(L, TU_ST_WOKE_TO_WORK, 1);
		slept = 0;
		for (const struct dcf_claim *cl; (cl = dcf_turn_next(sg, &t)) != NULL;) {
			TU_CHILD_CHECK(cl->id < L->ntasks &&
			        cl->arg_ms == dcf_task_ms(cfg, cl->id) && cl->kind == cfg->work,
			    "claimed a task that is not what was dispatched: "
			    "id %llu, %u ms, kind %u",
			    (unsigned long long)cl->id, cl->arg_ms, cl->kind);
			if (w->die_at != 0 && ++ran == w->die_at)
				raise(SIGKILL);
			tu_mark(L->executed, cl->id);
			tu_stat_add(L, TU_ST_CLAIMS, 1);
			if (w->slow_every != 0 && cl->id % w->slow_every == 0) {
				/* The task's own work: 2 ms, longer than a batch may wait. */
				struct timespec ts = {0, 2000000};

				while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
					;
			}
			dcf_turn_done(&t, tu_result(cl->id));
		}
	}
}

/* Fork a worker for node as gen (started in the books by the caller). */
TU_FN pid_t
tu_spawn_worker(const struct tu_worker *w)
{
	pid_t pid = tu_fork();

	if (pid == 0)
		_exit(tu_worker_main(w));
	return pid;
}

#endif
