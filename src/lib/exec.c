/*
 * exec.c - spawn a command as a task, wait for it with a deadline, kill and
 * reap its whole tree, account for it. The contract is in exec.h.
 *
 * Everything dcf_exec_kill_now reaches (the reaping loop, the /proc
 * readers, the cgroup file helpers) uses only async-signal-safe system
 * calls, no stdio and no allocation: it runs in signal handlers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dcf/exec.h"
#include "dcf/util.h"

/* How long the task cgroup may take to empty after cgroup.kill. */
#define CG_EMPTY_NS (10 * DCF_NSEC)
/* At most this many processes get the timeout's SIGTERM one by one. */
#define WALK_MAX 1024

/*
 * Written by the spawned child before it execs, read by the parent after it
 * reaps the child (or as soon as vfork returns). A MAP_SHARED page rather
 * than the stack vfork shares: valgrind and some debuggers turn vfork into
 * fork, and the page still reaches the parent then.
 */
struct dcf_exec_report {
	volatile int exec_err; /* errno of the failed exec, or of the step before it */
	volatile int cg_err;   /* errno of joining the task cgroup: it ran outside */
	volatile int in_cwd;   /* exec_err is of entering its working directory */
};

/* What reaping found: the tree's CPU and peak memory, the main's status. */
struct tally {
	pid_t main;
	int main_seen, main_st;
	uint64_t cpu_us, maxrss_kb;
};

/* The kernel has no pidfds (before Linux 5.3, or under valgrind): found once. */
static volatile sig_atomic_t no_pidfd;

static int
pidfd_open_(pid_t pid)
{
	int fd;

	if (no_pidfd)
		return -1;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd == -1 && errno == ENOSYS)
		no_pidfd = 1;
	return fd;
}

static int
pidfd_signal(int fd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static void
tally(struct tally *t, pid_t pid, int st, const struct rusage *ru)
{
	uint64_t us = (uint64_t)ru->ru_utime.tv_sec * 1000000u + (uint64_t)ru->ru_utime.tv_usec +
	    (uint64_t)ru->ru_stime.tv_sec * 1000000u + (uint64_t)ru->ru_stime.tv_usec;

	/* wait4's usage covers the child and the children it reaped itself:
	 * nothing is counted twice, since each process is reaped once. */
	t->cpu_us += us;
	if ((uint64_t)ru->ru_maxrss > t->maxrss_kb)
		t->maxrss_kb = (uint64_t)ru->ru_maxrss;
	if (pid == t->main) {
		t->main_seen = 1;
		t->main_st = st;
	}
}

/* ---- /proc, without stdio (async-signal-safe) ------------------------ */

/* A path built without stdio. */
struct pathb {
	char b[96];
	size_t n;
	int bad;
};

static void
pb_str(struct pathb *p, const char *s)
{
	size_t l = strlen(s);

	if (p->n + l >= sizeof(p->b)) {
		p->bad = 1;
		return;
	}
	memcpy(p->b + p->n, s, l + 1);
	p->n += l;
}

static void
pb_num(struct pathb *p, long v)
{
	char d[24];
	size_t n = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && n < sizeof(d));
	while (n > 0 && p->n + 1 < sizeof(p->b))
		p->b[p->n++] = d[--n];
	p->b[p->n] = '\0';
	p->bad |= n > 0;
}

/* "/proc/PID" (0: "/proc/self") then rest; NULL if it does not fit. */
static const char *
proc_path(struct pathb *p, pid_t pid, const char *rest)
{
	p->n = 0;
	p->bad = 0;
	pb_str(p, "/proc/");
	if (pid == 0)
		pb_str(p, "self");
	else
		pb_num(p, pid);
	pb_str(p, rest);
	return p->bad ? NULL : p->b;
}

/* A whole decimal name (a PID in /proc), or -1. */
static long
name_num(const char *s)
{
	long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > 100000000)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/* Call fn on every decimal number in the file at path. -1 if it cannot be opened. */
static int
each_num_in(const char *path, void (*fn)(pid_t, void *), void *arg)
{
	char buf[512];
	long v = 0;
	int have = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd == -1)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n == -1 && errno == EINTR)) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				v = v * 10 + (buf[i] - '0');
				have = 1;
			} else if (have) {
				fn((pid_t)v, arg);
				v = 0;
				have = 0;
			}
		}
	}
	if (have)
		fn((pid_t)v, arg);
	close(fd);
	return 0;
}

/*
 * Call fn on every numeric entry of the directory path (PIDs, TIDs).
 * -1 if it cannot be opened.
 */
static int
each_num_entry(const char *path, void (*fn)(long, void *), void *arg)
{
	union {
		char b[2048];
		struct dirent64 d;
	} u;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ssize_t n;

	if (fd == -1)
		return -1;
	while ((n = getdents64(fd, u.b, sizeof(u.b))) > 0) {
		for (ssize_t off = 0; off < n;) {
			const struct dirent64 *d = (const void *)(u.b + off);
			long v = name_num(d->d_name);

			if (v > 0)
				fn(v, arg);
			off += d->d_reclen;
		}
	}
	close(fd);
	return 0;
}

struct kids {
	pid_t pid; /* whose children (0: ours) */
	void (*fn)(pid_t, void *);
	void *arg;
	int files; /* children files read */
};

static void
kids_of_thread(long tid, void *arg)
{
	struct kids *k = arg;
	struct pathb p;

	proc_path(&p, k->pid, "/task/");
	pb_num(&p, tid);
	pb_str(&p, "/children");
	if (!p.bad && each_num_in(p.b, k->fn, k->arg) == 0)
		k->files++;
}

/*
 * Call fn on every child of pid (0: ourselves), from /proc/PID/task/TID/children.
 * -1 if none of those files could be read (a kernel without
 * CONFIG_PROC_CHILDREN, or pid gone).
 */
static int
each_child(pid_t pid, void (*fn)(pid_t, void *), void *arg)
{
	struct kids k = {pid, fn, arg, 0};
	struct pathb p;
	const char *path = proc_path(&p, pid, "/task");

	if (path == NULL || each_num_entry(path, kids_of_thread, &k) == -1)
		return -1;
	return k.files > 0 ? 0 : -1;
}

/* Parent and process group of pid from /proc/PID/stat (fields 4 and 5). 0 or -1. */
static int
proc_ids(pid_t pid, pid_t *ppid, pid_t *pgid)
{
	struct pathb pb;
	const char *path = proc_path(&pb, pid, "/stat"), *p;
	char buf[512];
	ssize_t n;
	long v[2] = {0, 0};
	int fd;

	if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The name may hold anything: start after the last ')', at " S PPID PGID ". */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == '\0' || p[3] != ' ')
		return -1;
	p += 4;
	for (int i = 0; i < 2; i++, p++) {
		for (; *p >= '0' && *p <= '9'; p++)
			v[i] = v[i] * 10 + (*p - '0');
		if (*p != ' ')
			return -1;
	}
	*ppid = (pid_t)v[0];
	*pgid = (pid_t)v[1];
	return 0;
}

struct scan {
	pid_t parent;
	void (*fn)(pid_t, void *);
	void *arg;
};

static void
scan_one(long pid, void *arg)
{
	struct scan *s = arg;
	pid_t ppid, pgid;

	if (proc_ids((pid_t)pid, &ppid, &pgid) == 0 && ppid == s->parent)
		s->fn((pid_t)pid, s->arg);
}

/* Our children the slow way, every /proc/PID/stat: when each_child cannot tell. */
static void
each_child_scan(pid_t self, void (*fn)(pid_t, void *), void *arg)
{
	struct scan s = {self, fn, arg};

	each_num_entry("/proc", scan_one, &s);
}

/* ---- cgroup files (async-signal-safe) -------------------------------- */

/* "populated" of a cgroup.events: 1, 0, or -1 if unreadable. */
static int
cg_populated(int events_fd)
{
	char buf[256];
	const char *p;
	ssize_t n = pread(events_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "populated ");
	return p == NULL ? -1 : p[10] == '1';
}

/*
 * Wait until the cgroup is empty, for at most until deadline (CLOCK_MONOTONIC).
 * The kernel flags cgroup.events (POLLPRI) at every change, and a read
 * before each poll means no change goes unseen. 0, or -1 with errno.
 */
static int
cg_wait_empty(int events_fd, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = {events_fd, POLLPRI, 0};
		struct timespec ts;
		uint64_t now;
		int r = cg_populated(events_fd);

		if (r == 0)
			return 0;
		if (r == -1) {
			errno = EIO;
			return -1;
		}
		now = dcf_now_ns();
		if (now >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		ts.tv_sec = (time_t)((deadline - now) / DCF_NSEC);
		ts.tv_nsec = (long)((deadline - now) % DCF_NSEC);
		if (ppoll(&p, 1, &ts, NULL) == -1 && errno != EINTR)
			return -1;
	}
}

/* ---- killing and reaping the tree ------------------------------------ */

static void
kill_child(pid_t c, void *arg)
{
	int *n = arg;

	/*
	 * c is our child and only we reap it: until we do, neither its PID nor
	 * a process group of that ID (which only c can have created, in the
	 * tree's session) can be reused.
	 */
	kill(-c, SIGKILL);
	kill(c, SIGKILL);
	(*n)++;
}

/*
 * Kill and reap every child we have until none is left: what is left of the
 * tree, orphans handed to us as the subreaper, whatever double-forked.
 * Async-signal-safe. Each round kills the children alive, whose own
 * children then come to us; a killed child ends promptly, so the blocking
 * wait4 returns (a process stuck in the kernel holds it up, as it would
 * hold up any reaper).
 */
static void
reap_all(pid_t self, struct tally *t)
{
	for (;;) {
		struct rusage ru;
		int st, n = 0;
		pid_t r;

		while ((r = wait4(-1, &st, WNOHANG | __WALL, &ru)) > 0)
			tally(t, r, st, &ru);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return; /* ECHILD: none left */
		/* The children files may miss a child that changes as they are read. */
		if (each_child(0, kill_child, &n) == -1 || n == 0)
			each_child_scan(self, kill_child, &n);
		r = wait4(-1, &st, __WALL, &ru);
		if (r > 0)
			tally(t, r, st, &ru);
	}
}

void
dcf_exec_kill_now(struct dcf_exec *x)
{
	struct tally t;
	int e = errno;

	memset(&t, 0, sizeof(t));
	t.main = x->main_pid;
	if (x->cg_kill != -1)
		(void)!write(x->cg_kill, "1", 1);
	reap_all(x->self, &t);
	if (t.main != 0 && t.main_seen) {
		x->kn_status = t.main_st;
		x->kn_reaped = 1;
	}
	x->kn_cpu_us += t.cpu_us;
	if (t.maxrss_kb > x->kn_maxrss_kb)
		x->kn_maxrss_kb = t.maxrss_kb;
	errno = e;
}

/*
 * The timeout's signals, to every process of the tree that can be named
 * without trusting a PID: each is pinned by a pidfd, and counted in the tree
 * only if it was the child of a pinned process while both were unreaped.
 * Those in the main's group got the signal with the group: once is all a
 * process that catches SIGTERM should see.
 */
struct walk {
	int n;
	pid_t group;  /* the main's */
	pid_t parent; /* whose children are being added (0: ours) */
	int parent_fd;
	pid_t pid[WALK_MAX];
	int fd[WALK_MAX];
	unsigned char in_group[WALK_MAX];
};

static void
walk_add(pid_t d, void *arg)
{
	struct walk *w = arg;
	pid_t ppid, pgid;
	int fd;

	if (w->n == WALK_MAX || (fd = pidfd_open_(d)) == -1)
		return;
	/*
	 * Our own child is ours until we reap it. A deeper one: d's parent was
	 * w->parent when /proc/d/stat was read, and both pidfds still name
	 * unreaped processes after that read, so neither PID was reused in
	 * between: the pidfd holds a child of a process of the tree.
	 */
	if (w->parent == 0)
		pgid = getpgid(d);
	else if (proc_ids(d, &ppid, &pgid) == -1 || ppid != w->parent ||
	    pidfd_signal(fd, 0) == -1 || pidfd_signal(w->parent_fd, 0) == -1) {
		close(fd);
		return;
	}
	w->pid[w->n] = d;
	w->fd[w->n] = fd;
	w->in_group[w->n++] = pgid == w->group;
}

struct sig_arg {
	int sig;
	pid_t group;
};

static void
kill_child_sig(pid_t c, void *arg)
{
	const struct sig_arg *a = arg;
	pid_t g = getpgid(c); /* c is ours and unreaped, as in kill_child */

	if (g == a->group)
		return;
	kill(g == c ? -c : c, a->sig);
}

/*
 * Every descendant of root (0: ourselves, whose PID is self; else pinned by
 * root_fd), breadth first: w grows behind i as each process's children are
 * added.
 */
static void
walk_tree(struct walk *w, pid_t root, pid_t self, int root_fd, pid_t group)
{
	w->n = 0;
	w->group = group;
	w->parent = root;
	w->parent_fd = root_fd;
	if (each_child(root, walk_add, w) == -1)
		each_child_scan(root != 0 ? root : self, walk_add, w);
	for (int i = 0; i < w->n; i++) {
		w->parent = w->pid[i];
		w->parent_fd = w->fd[i];
		each_child(w->pid[i], walk_add, w);
	}
}

static void
signal_walk(pid_t self, pid_t group, int sig)
{
	struct walk *w = malloc(sizeof(*w));

	if (w == NULL || no_pidfd) {
		/* Our own children and their groups only; SIGKILL reaches the rest. */
		struct sig_arg a = {sig, group};

		free(w);
		if (each_child(0, kill_child_sig, &a) == -1)
			each_child_scan(self, kill_child_sig, &a);
		return;
	}
	walk_tree(w, 0, self, -1, group);
	for (int i = 0; i < w->n; i++) {
		if (!w->in_group[i]) {
			pidfd_signal(w->fd[i], sig);
			if (sig == SIGTERM)
				pidfd_signal(w->fd[i], SIGCONT);
		}
		close(w->fd[i]);
	}
	free(w);
}

int
dcf_exec_kill_tree(pid_t root, int root_fd)
{
	struct walk *w;
	int killed = 0;

	if (no_pidfd || (w = malloc(sizeof(*w))) == NULL)
		return -1;
	/*
	 * Twice: a process of the tree that forked between the first walk and
	 * its SIGKILL left a child the second walk finds (the first pass's own
	 * are zombies by then, unreaped while root lives, and signalled again
	 * harmlessly). Each pass waits until what it killed has exited (a pidfd
	 * is readable then), a few seconds at most: killed means gone.
	 */
	for (int pass = 0; pass < 2; pass++) {
		uint64_t until = dcf_now_ns() + 5000000000ULL;

		walk_tree(w, root, 0, root_fd, -1);
		for (int i = 0; i < w->n; i++)
			if (pidfd_signal(w->fd[i], SIGKILL) == 0 && pass == 0)
				killed++;
		for (int i = 0; i < w->n; i++) {
			struct pollfd p = {.fd = w->fd[i], .events = POLLIN};
			uint64_t now = dcf_now_ns();

			if (now < until)
				(void)poll(&p, 1, (int)((until - now) / 1000000 + 1));
			close(w->fd[i]);
		}
	}
	free(w);
	return killed;
}

/* The deadline's signal to the whole tree; the main process is not reaped. */
static void
signal_tree(struct dcf_exec *x, pid_t main_pid, int sig)
{
	if (sig == SIGKILL && x->cg_on)
		(void)!write(x->cg_kill, "1", 1);
	/* The main is unreaped (signals are blocked: nobody else reaps), so its
	 * group's ID is still its own. */
	kill(-main_pid, sig);
	if (sig == SIGTERM)
		kill(-main_pid, SIGCONT);
	/* Those that left the group: setsid, setpgid. */
	signal_walk(x->self, main_pid, sig);
}

/* ---- the cgroup ------------------------------------------------------ */

static void
cg_close(struct dcf_exec *x)
{
	if (x->cg_procs != -1)
		close(x->cg_procs);
	if (x->cg_kill != -1)
		close(x->cg_kill);
	if (x->cg_events != -1)
		close(x->cg_events);
	x->cg_procs = x->cg_kill = x->cg_events = -1;
	x->cg_on = 0;
}

/* From now on, process groups only; why, for the caller's log. */
static void __attribute__((format(printf, 2, 3))) cg_off(struct dcf_exec *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->cg_why, sizeof(x->cg_why), fmt, ap);
	va_end(ap);
	cg_close(x);
}

int
dcf_cg_kill(const char *dir, uint64_t timeout_ns)
{
	char path[4096];
	int kfd, efd, r, e;

	if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.kill", dir) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((kfd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	if ((efd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		e = errno;
		close(kfd);
		errno = e;
		return -1;
	}
	r = write(kfd, "1", 1) == 1 ? cg_wait_empty(efd, sat_add(dcf_now_ns(), timeout_ns)) : -1;
	e = errno;
	close(kfd);
	close(efd);
	errno = e;
	return r;
}

/* Can a child of ours join the task cgroup? Asked once, so cg_on is known from the start. */
static int
cg_probe(struct dcf_exec *x)
{
	sigset_t all, old;
	pid_t pid;
	int st, e;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	/* As in spawn: a write, then _exit. */
	pid = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork) */
	if (pid == 0) {
		/* NOLINTNEXTLINE(clang-analyzer-unix.Vfork) */
		ssize_t w = write(x->cg_procs, "0", 1);

		_exit(w == 1 ? 0 : errno & 0xff);
	}
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1)
		return e;
	while (waitpid(pid, &st, __WALL) == -1)
		if (errno != EINTR)
			return errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EIO;
}

/* Open the task cgroup's files: 0, or an errno. */
static int
cg_open(struct dcf_exec *x)
{
	int d, e = 0;

	if ((d = open(x->cg_task, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return errno;
	if ((x->cg_procs = openat(d, "cgroup.procs", O_WRONLY | O_CLOEXEC)) == -1 ||
	    (x->cg_events = openat(d, "cgroup.events", O_RDONLY | O_CLOEXEC)) == -1 ||
	    (x->cg_kill = openat(d, "cgroup.kill", O_WRONLY | O_CLOEXEC)) == -1)
		e = errno;
	close(d);
	return e;
}

static void
cg_setup(struct dcf_exec *x, const char *dir)
{
	size_t len = strlen(dir) + sizeof("/task");
	int e;

	if ((x->cg_task = malloc(len)) == NULL) {
		cg_off(x, "cgroup: out of memory");
		return;
	}
	snprintf(x->cg_task, len, "%s/task", dir);
	if (mkdir(x->cg_task, 0755) == -1 && errno != EEXIST) {
		cg_off(x, "cgroup: mkdir %s: %s", x->cg_task, strerror(errno));
		free(x->cg_task);
		x->cg_task = NULL;
		return;
	}
	if ((e = cg_open(x)) != 0) {
		cg_off(x,
		    "cgroup: %s is not a usable cgroup v2 directory (cgroup.kill needs Linux "
		    "5.14): %s",
		    x->cg_task, strerror(e));
		return;
	}
	/* A worker that died before us may have left its task's tree here. */
	if (cg_populated(x->cg_events) != 0 &&
	    (write(x->cg_kill, "1", 1) != 1 ||
	        cg_wait_empty(x->cg_events, sat_add(dcf_now_ns(), CG_EMPTY_NS)) == -1)) {
		cg_off(x, "cgroup: %s holds processes that do not die: %s", x->cg_task,
		    strerror(errno));
		return;
	}
	if ((e = cg_probe(x)) != 0) {
		cg_off(x, "cgroup: a task cannot join %s: %s", x->cg_task, strerror(e));
		return;
	}
	x->cg_on = 1;
}

/* ---- setting up and tearing down ------------------------------------- */

int
dcf_exec_init(struct dcf_exec *x, const char *cg_dir, char *err, size_t errlen)
{
	struct sigaction sa;
	sigset_t chld;
	void *page;
	int e;

	memset(x, 0, sizeof(*x));
	x->devnull = x->sigfd = x->cg_procs = x->cg_kill = x->cg_events = -1;
	x->self = getpid();
	if (sigaction(SIGCHLD, NULL, &sa) == 0 &&
	    (sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_NOCLDWAIT) != 0))
		DCF_BAD(EINVAL, "SIGCHLD is ignored: the kernel would reap the tasks");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		DCF_BAD(errno, "prctl(PR_SET_CHILD_SUBREAPER): %s", strerror(errno));
	page = mmap(NULL, sizeof(struct dcf_exec_report), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		DCF_BAD(errno, "mmap: %s", strerror(errno));
	x->rep = page;
	if ((x->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "/dev/null: %s", strerror(errno));
		goto fail;
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if ((x->sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		goto fail;
	}
	if (cg_dir != NULL)
		cg_setup(x, cg_dir);
	return 0;
fail:
	e = errno;
	dcf_exec_fini(x);
	errno = e;
	return -1;
}

void
dcf_exec_fini(struct dcf_exec *x)
{
	if (x->self == getpid())
		dcf_exec_kill_now(x);
	if (x->devnull != -1)
		close(x->devnull);
	if (x->sigfd != -1)
		close(x->sigfd);
	x->devnull = x->sigfd = -1;
	cg_close(x);
	if (x->cg_task != NULL) {
		rmdir(x->cg_task); /* fails harmlessly if another worker shares it */
		free(x->cg_task);
		x->cg_task = NULL;
	}
	if (x->rep != NULL)
		munmap(x->rep, sizeof(*x->rep));
	x->rep = NULL;
}

/* ---- spawning -------------------------------------------------------- */

/* In the child: report why it cannot run the command, and end. */
static void __attribute__((noreturn)) child_fail(struct dcf_exec_report *rep, int e)
{
	rep->exec_err = e != 0 ? e : EIO;
	_exit(e == ENOENT || e == ENOTDIR ? 127 : 126);
}

/*
 * The child of vfork: it shares the worker's memory and runs while the
 * worker is suspended, with every signal blocked, so it makes only system
 * calls and writes nothing but the report page. Its own frame: the caller of
 * vfork never returns in the child.
 */
static void __attribute__((noreturn, noinline))
child(const struct dcf_exec *x, const struct dcf_exec_req *rq, pid_t parent)
{
	int fd[3] = {x->devnull, rq->out_fd, rq->err_fd};
	struct sigaction dfl, cur;
	sigset_t none;

	setpgid(0, 0);
	if (x->cg_procs != -1 && write(x->cg_procs, "0", 1) != 1)
		x->rep->cg_err = errno != 0 ? errno : EIO;
	/* Die with the worker. If it died already, no signal comes: ask. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		child_fail(x->rep, ESRCH);
	/*
	 * Lift descriptors off 0-2 first: then no dup2 below overwrites one still
	 * needed, and none is a dup2 onto itself (which would keep close-on-exec).
	 */
	for (int i = 0; i < 3; i++)
		if (fd[i] >= 0 && fd[i] < 3 && (fd[i] = fcntl(fd[i], F_DUPFD_CLOEXEC, 3)) == -1)
			child_fail(x->rep, errno);
	for (int i = 0; i < 3; i++)
		if (fd[i] >= 0 && dup2(fd[i], i) == -1)
			child_fail(x->rep, errno);
	/*
	 * The worker's handlers would run in its own memory; what it ignores
	 * (SIGINT, SIGTERM, SIGPIPE...) would stay ignored across exec. Every
	 * disposition to the default before any signal is let in.
	 */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (int s = 1; s < NSIG; s++)
		if (sigaction(s, NULL, &cur) == 0 && cur.sa_handler != SIG_DFL)
			sigaction(s, &dfl, NULL);
	/*
	 * glibc keeps the signals below SIGRTMIN (its own, 32 and 33) from
	 * sigaction, but an ignored one is inherited all the same (seen: a
	 * session that ignores both): reset them with the system call. All
	 * zeros is SIG_DFL with no flags and an empty mask in the kernel's
	 * struct on every architecture.
	 */
	for (int s = 32; s < SIGRTMIN; s++) {
		unsigned long kact[4] = {0, 0, 0, 0}, kcur[4] = {0, 0, 0, 0};

		if (syscall(SYS_rt_sigaction, s, NULL, kcur, sizeof(unsigned long)) == 0 &&
		    kcur[0] != (unsigned long)SIG_DFL)
			(void)syscall(SYS_rt_sigaction, s, kact, NULL, sizeof(unsigned long));
	}
	/*
	 * Another user's task: its groups, gid and uid, by system calls alone
	 * (this child shares the worker's memory), before its directory is
	 * entered, with its rights. A change of credentials clears the
	 * parent-death signal: asked for again.
	 */
	if (rq->as_user) {
		if (syscall(SYS_setgroups, rq->as_ngroups, rq->as_groups) == -1 ||
		    syscall(SYS_setresgid, rq->as_gid, rq->as_gid, rq->as_gid) == -1 ||
		    syscall(SYS_setresuid, rq->as_uid, rq->as_uid, rq->as_uid) == -1)
			child_fail(x->rep, errno);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
			child_fail(x->rep, ESRCH);
	}
	/* A working directory that cannot be entered: the task cannot start (126). */
	if (rq->cwd != NULL && chdir(rq->cwd) == -1) {
		x->rep->in_cwd = 1;
		child_fail(x->rep, errno);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvpe(rq->argv[0], rq->argv, rq->envp != NULL ? rq->envp : environ);
	child_fail(x->rep, errno);
}

/*
 * vfork, not posix_spawn: glibc's cannot set a parent-death signal nor join
 * a cgroup; not fork: copying the worker's page tables costs more than the
 * exec. The analyzer's rule (nothing but exec or _exit after vfork) is kept
 * in spirit: the child makes system calls only, with signals blocked.
 */
static pid_t
spawn(const struct dcf_exec *x, const struct dcf_exec_req *rq, pid_t parent)
{
	pid_t pid = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork) */

	if (pid == 0)
		child(x, rq, parent); /* NOLINT(clang-analyzer-unix.Vfork) */
	return pid;
}

/* ---- waiting ----------------------------------------------------------- */

/* Has pid ended (not reaped)? */
static int
main_ended(pid_t pid)
{
	siginfo_t si;

	si.si_pid = 0;
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/*
 * Wait until the main process ends: SIGTERM to the tree at the deadline,
 * SIGKILL kill_after_ns later. Returns with the main ended and unreaped,
 * unless dcf_exec_kill_now reaped it (x->kn_reaped). Signals stay blocked
 * but inside ppoll, where the caller's mask is in force: only there can a
 * handler run, and whatever it reaps, this code has not yet looked at.
 * Returns the moment the main was seen to end (CLOCK_MONOTONIC).
 */
static uint64_t
wait_main(struct dcf_exec *x, const struct dcf_exec_req *rq, pid_t pid, const sigset_t *old,
    uint64_t t0, int *timedout, int *sent, int *lease_lost)
{
	uint64_t deadline = rq->timeout_ns != 0 ? sat_add(t0, rq->timeout_ns) : 0;
	int pidfd = pidfd_open_(pid), term_sent = 0;
	sigset_t mask = *old;
	struct pollfd pfd;

	/* Without a pidfd, SIGCHLD stays pending for the signalfd to see. */
	if (pidfd == -1)
		sigaddset(&mask, SIGCHLD);
	pfd.fd = pidfd != -1 ? pidfd : x->sigfd;
	for (;;) {
		struct timespec ts, *tsp = NULL;
		uint64_t until = 0; /* the first of the deadline and the leases' end */
		int r;

		if (pidfd == -1 && main_ended(pid))
			break;
		if (rq->interrupt != NULL && *rq->interrupt) {
			int sig;

			*rq->interrupt = 0;
			if ((sig = rq->want(rq->want_arg)) > 0 && sig < NSIG) {
				signal_tree(x, pid, sig);
				*sent = sig;
			}
		}
		/* Several hosts: past the leases, the run ends at once (no grace). */
		if (rq->lease_until != NULL && !*lease_lost) {
			uint64_t l = __atomic_load_n(rq->lease_until, __ATOMIC_ACQUIRE);

			if (l != 0 && dcf_now_ns() >= l) {
				signal_tree(x, pid, SIGKILL);
				*lease_lost = 1;
				continue;
			}
			until = l;
		}
		if (deadline != 0) {
			uint64_t now = dcf_now_ns();

			if (now >= deadline) {
				signal_tree(x, pid, term_sent ? SIGKILL : SIGTERM);
				deadline = term_sent ? 0 : sat_add(now, rq->kill_after_ns);
				term_sent = *timedout = 1;
				continue;
			}
			if (until == 0 || deadline < until)
				until = deadline;
		}
		if (until != 0) {
			uint64_t now = dcf_now_ns();

			until = until > now ? until - now : 0;
			ts.tv_sec = (time_t)(until / DCF_NSEC);
			ts.tv_nsec = (long)(until % DCF_NSEC);
			tsp = &ts;
		}
		pfd.events = POLLIN;
		pfd.revents = 0;
		r = ppoll(&pfd, 1, tsp, &mask);
		if (x->kn_reaped || (r > 0 && pidfd != -1))
			break;
		if (r > 0) {
			struct signalfd_siginfo si;

			while (read(x->sigfd, &si, sizeof(si)) > 0)
				;
		} else if (r == -1 && errno != EINTR && errno != EAGAIN) {
			/* ppoll itself failed (ENOMEM): wait without the deadline. */
			siginfo_t si;

			while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == -1 &&
			    errno == EINTR)
				;
			break;
		}
	}
	if (pidfd != -1)
		close(pidfd);
	return dcf_now_ns();
}

/* After the main is reaped: kill and reap what is left of its tree. */
static void
finish_tree(struct dcf_exec *x, struct tally *t)
{
	struct rusage ru;
	int st;
	pid_t r;

	/* The usual case, nothing left: no child, and the cgroup empty. */
	while ((r = wait4(-1, &st, WNOHANG | __WALL, &ru)) == -1 && errno == EINTR)
		;
	if (r > 0)
		tally(t, r, st, &ru);
	if (r == -1 && (!x->cg_on || cg_populated(x->cg_events) == 0))
		return;
	/* cgroup.kill reaches every process in it at once, even one forking in a loop. */
	if (x->cg_on)
		(void)!write(x->cg_kill, "1", 1);
	reap_all(x->self, t);
	/* Reaped all we have: the cgroup holds at most what someone else put there. */
	if (x->cg_on && cg_wait_empty(x->cg_events, sat_add(dcf_now_ns(), CG_EMPTY_NS)) == -1)
		cg_off(x,
		    "cgroup: %s does not empty after cgroup.kill (%s): process groups "
		    "from now on",
		    x->cg_task, strerror(errno));
}

static void
fill_res(struct dcf_exec_res *rs, int st, int exec_err, int timedout)
{
	if (exec_err != 0) {
		rs->how = DCF_EXEC_NOEXEC;
		rs->exec_errno = exec_err;
		rs->exit_code = exec_err == ENOENT || exec_err == ENOTDIR ? 127 : 126;
		return;
	}
	rs->how = timedout  ? DCF_EXEC_TIMEDOUT
	    : WIFEXITED(st) ? DCF_EXEC_EXITED
	                    : DCF_EXEC_SIGNALED;
	if (WIFEXITED(st))
		rs->exit_code = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		rs->term_sig = WTERMSIG(st);
}

int
dcf_exec_run(struct dcf_exec *x, const struct dcf_exec_req *rq, struct dcf_exec_res *rs)
{
	sigset_t all, old;
	struct tally t;
	struct rusage ru;
	uint64_t t0, t1;
	int st = 0, timedout = 0, e;
	pid_t pid, me = getpid();

	memset(rs, 0, sizeof(*rs));
	if (rq->argv == NULL || rq->argv[0] == NULL || x->rep == NULL || me != x->self) {
		errno = EINVAL;
		return -1;
	}
	if (x->main_pid != 0) {
		errno = EBUSY;
		return -1;
	}
	memset(&t, 0, sizeof(t));
	/* No handler may run in the child, which shares our memory; and none
	 * may reap or kill behind our back but inside ppoll (wait_main). */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	x->rep->exec_err = x->rep->cg_err = x->rep->in_cwd = 0;
	x->kn_reaped = x->kn_status = 0;
	x->kn_cpu_us = x->kn_maxrss_kb = 0;
	rs->start_wall_ns = dcf_wall_ns();
	t0 = dcf_now_ns();
	pid = spawn(x, rq, me);
	if (pid == -1) {
		e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		errno = e;
		return -1;
	}
	x->main_pid = t.main = pid;
	/* Done in the child already, unless vfork was really a fork (valgrind). */
	setpgid(pid, pid);
	rs->sent_sig = 0;
	rs->lease_lost = 0;
	t1 = x->rep->exec_err == 0
	    ? wait_main(x, rq, pid, &old, t0, &timedout, &rs->sent_sig, &rs->lease_lost)
	    : dcf_now_ns();
	if (x->kn_reaped) {
		st = x->kn_status;
	} else {
		pid_t r;

		/* The main ended but is unreaped: its group's ID is still its own. */
		kill(-pid, SIGKILL);
		while ((r = wait4(pid, &st, __WALL, &ru)) == -1 && errno == EINTR)
			;
		if (r == pid)
			tally(&t, pid, st, &ru);
	}
	rs->end_wall_ns = dcf_wall_ns();
	rs->run_ns = t1 - t0;
	finish_tree(x, &t);
	x->main_pid = 0;
	rs->cpu_us = t.cpu_us + x->kn_cpu_us;
	rs->maxrss_kb = t.maxrss_kb > x->kn_maxrss_kb ? t.maxrss_kb : x->kn_maxrss_kb;
	fill_res(rs, st, x->rep->exec_err, timedout);
	if (x->rep->exec_err != 0 && x->rep->in_cwd)
		rs->exit_code = 126; /* found or not, the command could not be run there */
	if (x->rep->cg_err != 0 && x->cg_on)
		cg_off(x, "cgroup: a task could not join %s: %s", x->cg_task,
		    strerror(x->rep->cg_err));
	sigprocmask(SIG_SETMASK, &old, NULL);
	return 0;
}

/* ---- where our cgroup is --------------------------------------------- */

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void
unescape(char *s)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/*
 * The cgroup2 mount from mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT
 * OPTIONS [TAGS...] - FSTYPE SOURCE SUPER". root and mnt are malloc'd.
 */
static int
cg2_mount(char **root, char **mnt)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (f == NULL)
		return -1;
	while (!found && getline(&line, &cap, f) != -1) {
		char *sep = strstr(line, " - "), *save = NULL, *fld[5];
		int i;

		if (sep == NULL || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		*sep = '\0';
		fld[0] = strtok_r(line, " ", &save);
		for (i = 1; i < 5 && fld[i - 1] != NULL; i++)
			fld[i] = strtok_r(NULL, " ", &save);
		if (i < 5 || fld[4] == NULL)
			continue;
		unescape(fld[3]);
		unescape(fld[4]);
		*root = strdup(fld[3]);
		*mnt = strdup(fld[4]);
		if (*root == NULL || *mnt == NULL) {
			free(*root);
			free(*mnt);
			free(line);
			fclose(f);
			errno = ENOMEM;
			return -1;
		}
		found = 1;
	}
	free(line);
	fclose(f);
	if (!found)
		errno = ENOENT;
	return found ? 0 : -1;
}

/* Our cgroup v2 path, the "0::" line of /proc/self/cgroup, malloc'd. */
static char *
cg2_self(void)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char *line = NULL, *path = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		return NULL;
	while (path == NULL && (n = getline(&line, &cap, f)) != -1) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		if ((path = strdup(line + 3)) == NULL)
			break;
	}
	free(line);
	fclose(f);
	if (path == NULL && errno != ENOMEM)
		errno = ENOENT;
	return path;
}

int
dcf_cg_self_dir(char *buf, size_t len)
{
	char *root = NULL, *mnt = NULL, *self;
	const char *rel;
	size_t rl;
	int n;

	if (cg2_mount(&root, &mnt) == -1)
		return -1;
	if ((self = cg2_self()) == NULL) {
		free(root);
		free(mnt);
		return -1;
	}
	/* A mount of a subtree (ROOT not "/") shows only the cgroups under it. */
	rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
	rel = self + rl;
	if (strncmp(self, root, rl) != 0 || (*rel != '\0' && *rel != '/')) {
		n = -1;
		errno = ENOENT;
	} else {
		if (strcmp(rel, "/") == 0)
			rel = "";
		n = snprintf(buf, len, "%s%s", mnt, rel);
		if (n < 0 || (size_t)n >= len) {
			n = -1;
			errno = ENAMETOOLONG;
		}
	}
	free(root);
	free(mnt);
	free(self);
	return n < 0 ? -1 : 0;
}
