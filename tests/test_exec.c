/*
 * test_exec.c - the executor with real commands: outcomes (exit, signal,
 * not found, not runnable), argv bytes and the environment delivered
 * exactly, a clean task (stdin /dev/null, default signals, its own group,
 * the parent-death signal), timeouts that kill a tree with a setsid
 * grandchild and a process deaf to SIGTERM, leftovers and daemons killed
 * when the main exits, the tree's CPU and memory, dcf_exec_kill_now from a
 * signal handler, and a dead worker's leftovers in its cgroup. Every case
 * runs twice: with process groups only, then in a cgroup v2 when this
 * machine lets us make one (the second half is skipped, saying why, when
 * not).
 *
 * The tasks write the PID and start time of each process of their tree to a
 * file; when the run returns, none may exist (a PID that does, with another
 * start time, was reused). The binary doubles as a task (--burn, --touch,
 * --echo-argv, --ids) so what it measures is exact.
 */
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "testutil.h"
#include "dcf/exec.h"

/* ---- the binary as a task -------------------------------------------- */

static int
task_main(int argc, char **argv)
{
	if (strcmp(argv[1], "--echo-argv") == 0) {
		/* Each argument and its NUL: what arrived, byte for byte. */
		for (int i = 2; i < argc; i++)
			if (write(1, argv[i], strlen(argv[i]) + 1) == -1)
				return 1;
		return 0;
	}
	if (strcmp(argv[1], "--burn") == 0 && argc == 3) {
		/* Spin until this process has used MS of CPU. */
		uint64_t want = strtoull(argv[2], NULL, 10) * 1000000ULL;
		struct timespec ts;
		volatile uint64_t x = 1;

		do {
			for (int i = 0; i < 100000; i++)
				x = x * 6364136223846793005ULL + 1;
			clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
		} while ((uint64_t)ts.tv_sec * DCF_NSEC + (uint64_t)ts.tv_nsec < want);
		return 0;
	}
	if (strcmp(argv[1], "--touch") == 0 && argc == 3) {
		/* Make MB megabytes resident. */
		size_t len = strtoull(argv[2], NULL, 10) << 20;
		volatile char *p = malloc(len); /* volatile: the stores must happen */

		if (p == NULL)
			return 1;
		for (size_t i = 0; i < len; i += 4096)
			p[i] = 1;
		free((void *)p);
		return 0;
	}
	if (strcmp(argv[1], "--ids") == 0) {
		int sig = 0;

		prctl(PR_GET_PDEATHSIG, &sig);
		printf("%d %d %d\n", (int)getpid(), (int)getpgrp(), sig);
		return 0;
	}
	fprintf(stderr, "test_exec: unknown task %s\n", argv[1]);
	return 2;
}

/* ---- fixture ----------------------------------------------------------- */

static char self_exe[PATH_MAX];

/* The cgroup half: the directory made for this run, or why there is none. */
static struct {
	int want;
	int usable;
	char dir[PATH_MAX];
	char why[PATH_MAX + 64];
} cg;

struct fix {
	struct dcf_exec x;
	char tmp[64];
	char pids[96]; /* the tree's "PID START" lines */
	char out[96];
	int out_fd, err_fd;
};

static int
group_plain(void **state)
{
	(void)state;
	cg.want = 0;
	return 0;
}

static int
group_cg(void **state)
{
	char base[PATH_MAX];

	(void)state;
	cg.want = 1;
	cg.usable = 0;
	if (dcf_cg_self_dir(base, sizeof(base)) == -1) {
		snprintf(cg.why, sizeof(cg.why), "no cgroup v2 here (%s)", strerror(errno));
	} else if ((size_t)snprintf(cg.dir, sizeof(cg.dir), "%s/dcf-test-exec.%d", base,
	               (int)getpid()) >= sizeof(cg.dir)) {
		snprintf(cg.why, sizeof(cg.why), "the cgroup path is too long");
	} else if (mkdir(cg.dir, 0755) == -1) {
		snprintf(cg.why, sizeof(cg.why), "cannot make %s: %s", cg.dir, strerror(errno));
	} else {
		cg.usable = 1;
	}
	if (!cg.usable)
		print_message("[  SKIP    ] the cgroup half: %s\n", cg.why);
	return 0;
}

/* Remove the cgroups this run made, emptied first, even after a failed test. */
static int
group_end(void **state)
{
	char sub[PATH_MAX + 8];

	(void)state;
	if (!cg.want || !cg.usable)
		return 0;
	if (dcf_cg_kill(cg.dir, 10 * DCF_NSEC) == -1)
		fprintf(stderr, "test_exec: emptying %s: %s\n", cg.dir, strerror(errno));
	snprintf(sub, sizeof(sub), "%s/k", cg.dir);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/task", cg.dir);
	rmdir(sub);
	if (rmdir(cg.dir) == -1)
		fprintf(stderr, "test_exec: rmdir %s: %s\n", cg.dir, strerror(errno));
	return 0;
}

static int
setup(void **state)
{
	char err[256];
	struct fix *f;

	tu_setup(state);
	*state = NULL;
	if (cg.want && !cg.usable)
		return 0; /* each test skips */
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	strcpy(f->tmp, "/tmp/dcf-exec-XXXXXX");
	if (mkdtemp(f->tmp) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->pids, sizeof(f->pids), "%s/pids", f->tmp);
	snprintf(f->out, sizeof(f->out), "%s/out", f->tmp);
	f->out_fd = open(f->out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	snprintf(err, sizeof(err), "%s/err", f->tmp);
	f->err_fd = open(err, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	*state = f;
	assert_true(f->out_fd != -1 && f->err_fd != -1);
	if (dcf_exec_init(&f->x, cg.want ? cg.dir : NULL, err, sizeof(err)) == -1)
		fail_msg("dcf_exec_init: %s", err);
	/* The cgroup half tests the cgroup: a silent fallback would hide it. */
	if (f->x.cg_on != cg.want)
		fail_msg("cg_on %d, wanted %d: %s", f->x.cg_on, cg.want, f->x.cg_why);
	return 0;
}

/* Remove the temporary directory and what the tests put in it. */
static void
rm_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) == -1)
			rmdir(path);
	}
	closedir(d);
	rmdir(dir);
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	if (f != NULL) {
		dcf_exec_fini(&f->x);
		close(f->out_fd);
		close(f->err_fd);
		rm_tmp(f->tmp);
		free(f);
	}
	return tu_teardown(state);
}

/* The fixture, or a skip for the cgroup half on a machine without one. */
static struct fix *
fix_of(void **state)
{
	if (*state == NULL)
		skip();
	return *state;
}

/* ---- helpers ----------------------------------------------------------- */

static void
reset_fd(int fd)
{
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
}

/* What fd's file holds, NUL-terminated (*len: its length). A static buffer. */
static const char *
slurp(int fd, size_t *len)
{
	static char buf[65536];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

static const char *
how_str(int how)
{
	switch (how) {
	case DCF_EXEC_EXITED:
		return "exited";
	case DCF_EXEC_SIGNALED:
		return "signaled";
	case DCF_EXEC_TIMEDOUT:
		return "timed out";
	case DCF_EXEC_NOEXEC:
		return "not executed";
	default:
		return "?";
	}
}

/*
 * Run argv with the output files emptied first. After it returns, nothing
 * of the tree may be left: no child of ours (ended or not), and an empty
 * task cgroup.
 */
static void
run_env(struct fix *f, const char *const *argv, const char *const *envp, uint64_t timeout_ms,
    uint64_t kill_after_ms, struct dcf_exec_res *rs)
{
	struct dcf_exec_req rq;
	siginfo_t si;

	reset_fd(f->out_fd);
	reset_fd(f->err_fd);
	memset(&rq, 0, sizeof(rq));
	/* execvp's type; nothing writes through it */
	rq.argv = (char *const *)argv;
	rq.envp = (char *const *)envp;
	rq.out_fd = f->out_fd;
	rq.err_fd = f->err_fd;
	rq.timeout_ns = timeout_ms * 1000000ULL;
	rq.kill_after_ns = kill_after_ms * 1000000ULL;
	if (dcf_exec_run(&f->x, &rq, rs) == -1)
		fail_msg("dcf_exec_run: %s", strerror(errno));
	errno = 0;
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) != -1 || errno != ECHILD)
		fail_msg("dcf_exec_run returned with a child left");
	if (f->x.cg_on) {
		char path[PATH_MAX + 32], buf[128];
		int fd;
		ssize_t n;

		snprintf(path, sizeof(path), "%s/task/cgroup.events", cg.dir);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		assert_true(fd != -1);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		assert_true(n > 0);
		buf[n] = '\0';
		if (strstr(buf, "populated 0") == NULL)
			fail_msg("the task cgroup is not empty: %s", buf);
	}
}

static void
run(struct fix *f, const char *const *argv, uint64_t timeout_ms, uint64_t kill_after_ms,
    struct dcf_exec_res *rs)
{
	run_env(f, argv, NULL, timeout_ms, kill_after_ms, rs);
}

#define assert_how(rs, h) \
	do { \
		if ((rs).how != (h)) \
			fail_msg("how: %s (exit %d, signal %d, errno %d), expected %s", \
			    how_str((rs).how), (rs).exit_code, (rs).term_sig, (rs).exec_errno, \
			    how_str(h)); \
	} while (0)

/* A shell snippet that records PID $1 and its start time in the file $P. */
#define REC "rec() { echo \"$1 $(cut -d' ' -f22 /proc/$1/stat)\" >> \"$P\"; }; "
/* The same inside a `sh -c '...' sh "$P"`, for itself. */
#define REC_SELF "echo \"$$ $(cut -d\" \" -f22 /proc/$$/stat)\" >> \"$1\"; "

/*
 * Every process the task recorded is gone: no such PID, or one with another
 * start time (reused). At least min were recorded.
 */
static void
assert_tree_gone(struct fix *f, int min)
{
	FILE *fp = fopen(f->pids, "re");
	long pid;
	unsigned long long start;
	int n = 0;

	if (fp == NULL) {
		fail_msg("%s: %s", f->pids, strerror(errno));
		return;
	}
	while (fscanf(fp, "%ld %llu", &pid, &start) == 2) {
		n++;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
			uint64_t t;

			if (dcf_proc_start((pid_t)pid, &t) == 0 && t == start) {
				fclose(fp);
				fail_msg("PID %ld of the tree is still there", pid);
			}
		}
	}
	fclose(fp);
	if (n < min)
		fail_msg("the task recorded %d processes, expected %d", n, min);
}

/* Parent and group of pid, from /proc/PID/stat. 0, or -1. */
static int
proc_ids_of(pid_t pid, pid_t *ppid, pid_t *pgid)
{
	char path[64], buf[512], *p;
	FILE *fp;
	size_t n;
	int a, b;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %*c %d %d", &a, &b) != 2)
		return -1;
	*ppid = a;
	*pgid = b;
	return 0;
}

/* Does this kernel (and valgrind, if under it) have pidfds? */
static int
have_pidfd(void)
{
	if (tu_valgrind())
		return 0; /* valgrind 3.19 has none, and says so at length */
	errno = 0;
	return syscall(SYS_pidfd_send_signal, -1, 0, NULL, 0) == -1 && errno == EBADF;
}

/* Longer bounds under valgrind: the test process is slow, its tasks are not. */
static uint64_t
ms(uint64_t v)
{
	return tu_valgrind() ? v * 3 : v;
}

/* ---- outcomes ---------------------------------------------------------- */

static void
test_exit_codes(void **state)
{
	struct fix *f = fix_of(state);
	struct dcf_exec_res rs;
	const char *t[] = {"true", NULL};
	const char *e3[] = {"sh", "-c", "exit 3", NULL};
	const char *e127[] = {"sh", "-c", "exit 127", NULL};
	const char *sig[] = {"sh", "-c", "kill -USR1 $$", NULL};

	run(f, t, 0, 0, &rs);
	assert_how(rs, DCF_EXEC_EXITED);
	assert_int_equal(rs.exit_code, 0);
	assert_true(rs.end_wall_ns >= rs.start_wall_ns && rs.start_wall_ns > 0);
	run(f, e3, 0, 0, &rs);
	assert_how(rs, DCF_EXEC_EXITED);
	assert_int_equal(rs.exit_code, 3);
	/* A command's own 127 is an exit, not a failure to execute. */
	run(f, e127, 0, 0, &rs);
	assert_how(rs, DCF_EXEC_EXITED);
	assert_int_equal(rs.exit_code, 127);
	run(f, sig, 0, 0, &rs);
	assert_how(rs, DCF_EXEC_SIGNALED);
	assert_int_equal(rs.term_sig, SIGUSR1);
}

static void
test_noexec(void **state)
{
	struct fix *f = fix_of(state);
	struct dcf_exec_res rs;
	char path[128];
	const char *abs[] = {"/nonexistent/dcf-no-such", NULL};
	const char *onpath[] = {"dcf-no-such-command", NULL};
	const char *notx[] = {path, NULL};
	const char *dir[] = {f->tmp, NULL};
	const char *empty[] = {NULL};
	struct dcf_exec_req rq;
	int fd;

	run(f, abs, 0, 0, &rs);
	assert_how(rs, DCF_EXEC_NOEXEC);
	assert_int_equal(rs.exit_code, 127);
	assert_int_equal(rs.exec_errno, ENOENT);
	run(f, onpath, 0, 0, &rs);
	assert_how(rs, DCF_EXEC_NOEXEC);
	assert_int_equal(rs.exit_code, 127);
	assert_int_equal(rs.exec_errno, ENOENT);
	/* Found, but not executable: a script without its x bit, a directory. */
	snprintf(path, sizeof(path), "%s/script", f->tmp);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd != -1);
	assert_int_equal(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
	close(fd);
	run(f, notx, 0, 0, &rs);
	assert_how(rs, DCF_EXEC_NOEXEC);
	assert_int_equal(rs.exit_code, 126);
	assert_int_equal(rs.exec_errno, EACCES);
	run(f, dir, 0, 0, &rs);
	assert_how(rs, DCF_EXEC_NOEXEC);
	assert_int_equal(rs.exit_code, 126);
	assert_int_equal(rs.exec_errno, EACCES);
	/* No command at all: nothing is started. */
	memset(&rq, 0, sizeof(rq));
	rq.argv = (char *const *)empty;
	errno = 0;
	assert_int_equal(dcf_exec_run(&f->x, &rq, &rs), -1);
	assert_int_equal(errno, EINVAL);
}

/* ---- what the task gets ------------------------------------------------ */

static void
test_argv_bytes(void **state)
{
	struct fix *f = fix_of(state);
	struct dcf_exec_res rs;
	const char *odd[] = {"two words", "'single'", "\"double\"", "new\nline", "$(x) `y` $HOME",
	    "\xff\xfe\x80 not utf-8", "", "-n", "back\\slash", "*", "tab\there", NULL};
	const char *argv[16] = {self_exe, "--echo-argv"};
	char want[512];
	size_t wl = 0, len;
	const char *got;
	int i;

	for (i = 0; odd[i] != NULL; i++) {
		argv[i + 2] = odd[i];
		memcpy(want + wl, odd[i], strlen(odd[i]) + 1);
		wl += strlen(odd[i]) + 1;
	}
	argv[i + 2] = NULL;
	run(f, argv, 0, 0, &rs);
	assert_how(rs, DCF_EXEC_EXITED);
	assert_int_equal(rs.exit_code, 0);
	got = slurp(f->out_fd, &len);
	assert_int_equal(len, wl);
	assert_memory_equal(got, want, wl);
}

static void
test_env_and_output(void **state)
{
	struct fix *f = fix_of(state);
	struct dcf_exec_res rs;
	const char *env[] = {"DCF_X=hello world", "PATH=/usr/bin:/bin", NULL};
	const char *show[] = {"sh", "-c", "printf '%s|%s' \"$DCF_X\" \"${DCF_LEAK-unset}\"", NULL};
	const char *both[] = {"sh", "-c", "echo out; echo err >&2", NULL};
	struct dcf_exec_req rq;

	/* Exactly the environment given: none of the worker's. */
	setenv("DCF_LEAK", "leaked", 1);
	run_env(f, show, env, 0, 0, &rs);
	unsetenv("DCF_LEAK");
	assert_how(rs, DCF_EXEC_EXITED);
	assert_string_equal(slurp(f->out_fd, NULL), "hello world|unset");
	/* Standard output and error where they were sent. */
	run(f, both, 0, 0, &rs);
	assert_string_equal(slurp(f->out_fd, NULL), "out\n");
	assert_string_equal(slurp(f->err_fd, NULL), "err\n");
	/* Both to one file, in order. */
	reset_fd(f->out_fd);
	memset(&rq, 0, sizeof(rq));
	rq.argv = (char *const *)both;
	rq.out_fd = rq.err_fd = f->out_fd;
	assert_int_equal(dcf_exec_run(&f->x, &rq, &rs), 0);
	assert_string_equal(slurp(f->out_fd, NULL), "out\nerr\n");
}

static void
test_stdin_is_devnull(void **state)
{
	struct fix *f = fix_of(state);
	struct dcf_exec_res rs;
	const char *argv[] = {"sh", "-c", "readlink /proc/self/fd/0; cat", NULL};
	int p[2], saved = dup(0);

	/* The worker's own stdin holds data: the task must not see it. */
	assert_true(saved != -1);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "not for the task\n", 17), 17);
	close(p[1]);
	assert_int_equal(dup2(p[0], 0), 0);
	close(p[0]);
	run(f, argv, ms(10000), 0, &rs);
	dup2(saved, 0);
	close(saved);
	assert_how(rs, DCF_EXEC_EXITED);
	assert_string_equal(slurp(f->out_fd, NULL), "/dev/null\n");
}

/* Hex mask of a "Name:\t..." line of /proc/PID/status, in buf. */
static uint64_t
status_mask(const char *buf, const char *name)
{
	const char *p = strstr(buf, name);

	if (p == NULL)
		fail_msg("no %s in %s", name, buf);
	return strtoull(p + strlen(name), NULL, 16);
}

static void
on_any(int sig)
{
	(void)sig;
}

static void
test_signals_default(void **state)
{
	static const int ign[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
	struct fix *f = fix_of(state);
	struct dcf_exec_res rs;
	const char *argv[] = {"cat", "/proc/self/status", NULL};
	struct sigaction sa, old[5], old_usr2;
	sigset_t blk, old_mask;
	const char *out;

	/* The worker ignores these, catches one and blocks two. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	for (int i = 0; i < 5; i++)
		sigaction(ign[i], &sa, &old[i]);
	sa.sa_handler = on_any;
	sigaction(SIGUSR2, &sa, &old_usr2);
	sigemptyset(&blk);
	sigaddset(&blk, SIGUSR1);
	sigaddset(&blk, SIGALRM);
	sigprocmask(SIG_BLOCK, &blk, &old_mask);
	run(f, argv, ms(10000), 0, &rs);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	for (int i = 0; i < 5; i++)
		sigaction(ign[i], &old[i], NULL);
	sigaction(SIGUSR2, &old_usr2, NULL);
	assert_how(rs, DCF_EXEC_EXITED);
	out = slurp(f->out_fd, NULL);
	if (status_mask(out, "SigIgn:") != 0 || status_mask(out, "SigBlk:") != 0 ||
	    status_mask(out, "SigCgt:") != 0)
		fail_msg("the task's signals are not all default and unblocked:\n%s", out);
}

static void
test_ids_and_cgroup(void **state)
{
	struct fix *f = fix_of(state);
	struct dcf_exec_res rs;
	const char *ids[] = {self_exe, "--ids", NULL};
	const char *cgl[] = {"grep", "^0::", "/proc/self/cgroup", NULL};
	char want[PATH_MAX];
	int pid, pgid, sig;
	FILE *fp;
	size_t n;

	/* Its own process group, and it dies with its worker. */
	run(f, ids, 0, 0, &rs);
	assert_how(rs, DCF_EXEC_EXITED);
	assert_int_equal(sscanf(slurp(f->out_fd, NULL), "%d %d %d", &pid, &pgid, &sig), 3);
	assert_int_equal(pgid, pid);
	assert_int_equal(sig, SIGKILL);
	/* In the task cgroup, or else where the worker is. */
	run(f, cgl, 0, 0, &rs);
	assert_how(rs, DCF_EXEC_EXITED);
	if (f->x.cg_on) {
		snprintf(want, sizeof(want), "/dcf-test-exec.%d/task\n", (int)getpid());
		n = strlen(slurp(f->out_fd, NULL));
		assert_true(n > strlen(want));
		assert_string_equal(slurp(f->out_fd, NULL) + n - strlen(want), want);
	} else {
		fp = fopen("/proc/self/cgroup", "re");
		assert_non_null(fp);
		want[0] = '\0';
		while (fgets(want, sizeof(want), fp) != NULL && strncmp(want, "0::", 3) != 0)
			;
		fclose(fp);
		assert_string_equal(slurp(f->out_fd, NULL), want);
	}
}

/* ---- trees ------------------------------------------------------------- */

/*
 * At the deadline the main dies of the SIGTERM, and what is left of its tree
 * with it: a setsid grandchild and a sleep deaf to SIGTERM.
 */
static void
test_timeout_tree(void **state)
{
	struct fix *f = fix_of(state);
	struct dcf_exec_res rs;
	char script[1024];
	const char *argv[] = {"sh", "-c", script, "sh", f->pids, NULL};
	uint64_t to = ms(1000);

	snprintf(script, sizeof(script),
	    "P=$1; " REC "rec $$; "
	    "setsid sh -c '" REC_SELF "exec sleep 100' sh \"$P\" & "
	    "sh -c 'trap \"\" TERM; " REC_SELF "exec sleep 100' sh \"$P\" & "
	    "while [ \"$(wc -l < \"$P\")\" -lt 3 ]; do :; done; "
	    "echo ready; wait");
	run(f, argv, to, ms(5000), &rs);
	assert_how(rs, DCF_EXEC_TIMEDOUT);
	assert_int_equal(rs.term_sig, SIGTERM);
	assert_string_equal(slurp(f->out_fd, NULL), "ready\n");
	assert_true(rs.run_ns >= to * 1000000ULL);
	/* The SIGKILL 5 s later was not needed: the leftovers died with the main. */
	assert_true(rs.run_ns < (to + ms(4000)) * 1000000ULL);
	assert_tree_gone(f, 3);
}

/*
 * A main that catches SIGTERM and goes on waiting: SIGKILL kill_after
 * later, to it and its whole tree. In the meantime the SIGTERM reached, one
 * by one, a setsid grandchild out of the group (which records it and exits)
 * and a sleep in the group; a setsid grandchild deaf to SIGTERM lives until
 * the SIGKILL. (A main that ignored SIGTERM would make its children deaf
 * too: a shell cannot trap what it was started ignoring.)
 */
static void
test_timeout_kill_after(void **state)
{
	struct fix *f = fix_of(state);
	struct dcf_exec_res rs;
	char script[1024], termed[128];
	const char *argv[] = {"sh", "-c", script, "sh", f->pids, NULL};
	uint64_t to = ms(400), ka = ms(600);

	snprintf(termed, sizeof(termed), "%s.term", f->pids);
	snprintf(script, sizeof(script),
	    "trap 'echo main-term' TERM; P=$1; " REC "rec $$; "
	    "setsid sh -c 'trap \"echo term >> \\\"$1.term\\\"; exit 0\" TERM; " REC_SELF
	    "sleep 100 & wait' sh \"$P\" & "
	    "setsid sh -c 'trap \"\" TERM; " REC_SELF "exec sleep 100' sh \"$P\" & "
	    "sleep 100 & rec $!; "
	    "while [ \"$(wc -l < \"$P\")\" -lt 4 ]; do :; done; "
	    "echo ready; wait; wait");
	run(f, argv, to, ka, &rs);
	assert_how(rs, DCF_EXEC_TIMEDOUT);
	assert_int_equal(rs.term_sig, SIGKILL);
	assert_string_equal(slurp(f->out_fd, NULL), "ready\nmain-term\n");
	assert_true(rs.run_ns >= (to + ka) * 1000000ULL);
	assert_tree_gone(f, 4);
	/* Without pidfds, only SIGKILL reaches what left the group. */
	if (have_pidfd() && access(termed, F_OK) != 0)
		fail_msg("the setsid grandchild never got SIGTERM");
	unlink(termed);
}

/*
 * The main exits 0 and leaves a background sleep, a stopped process and a
 * double-forked setsid daemon: all killed and reaped before the run returns.
 */
static void
test_leftovers(void **state)
{
	struct fix *f = fix_of(state);
	struct dcf_exec_res rs;
	char script[1024];
	const char *argv[] = {"sh", "-c", script, "sh", f->pids, NULL};
	uint64_t t0;

	snprintf(script, sizeof(script),
	    "P=$1; " REC "sleep 100 & rec $!; "
	    "sh -c 'kill -STOP $$; exit 0' & s=$!; rec $s; "
	    "while [ \"$(cut -d' ' -f3 /proc/$s/stat)\" != T ]; do :; done; "
	    "( setsid sh -c '" REC_SELF "exec sleep 100' sh \"$P\" & ); "
	    "while [ \"$(wc -l < \"$P\")\" -lt 3 ]; do :; done; "
	    "exit 0");
	t0 = dcf_now_ns();
	run(f, argv, ms(30000), 0, &rs);
	assert_how(rs, DCF_EXEC_EXITED);
	assert_int_equal(rs.exit_code, 0);
	/* It did not wait for the sleeps, nor for the deadline. */
	assert_true(dcf_now_ns() - t0 < ms(20000) * 1000000ULL);
	assert_tree_gone(f, 3);
}

/* ---- accounting -------------------------------------------------------- */

static void
test_accounting(void **state)
{
	struct fix *f = fix_of(state);
	struct dcf_exec_res rs;
	const char *burn[] = {self_exe, "--burn", "200", NULL};
	/* The burner is orphaned (its subshell exits): only we reap it. */
	const char *orphan[] = {"sh", "-c", "( \"$0\" --burn 200 & ) | cat", self_exe, NULL};
	const char *touch[] = {"sh", "-c", "\"$0\" --touch 50; exit 0", self_exe, NULL};

	run(f, burn, 0, 0, &rs);
	assert_how(rs, DCF_EXEC_EXITED);
	assert_int_equal(rs.exit_code, 0);
	if (rs.cpu_us < 150000 || rs.run_ns < 200000000ULL)
		fail_msg("cpu %llu us, run %llu ns", (unsigned long long)rs.cpu_us,
		    (unsigned long long)rs.run_ns);
	/* Both clocks agree on the run time, within a second. */
	assert_true(rs.end_wall_ns - rs.start_wall_ns + DCF_NSEC > rs.run_ns);
	assert_true(rs.run_ns + DCF_NSEC > rs.end_wall_ns - rs.start_wall_ns);
	run(f, orphan, 0, 0, &rs);
	assert_how(rs, DCF_EXEC_EXITED);
	if (rs.cpu_us < 150000)
		fail_msg("an orphan's 200 ms of CPU not counted: cpu %llu us",
		    (unsigned long long)rs.cpu_us);
	run(f, touch, 0, 0, &rs);
	assert_how(rs, DCF_EXEC_EXITED);
	if (rs.maxrss_kb < 40000)
		fail_msg("maxrss %llu kB after touching 50 MB", (unsigned long long)rs.maxrss_kb);
}

/* ---- dcf_exec_kill_now from a signal handler ----------------------------- */

static struct dcf_exec *kn_x;
static volatile sig_atomic_t kn_calls;

static void
on_usr2(int sig)
{
	(void)sig;
	kn_calls++;
	dcf_exec_kill_now(kn_x);
}

static void
test_kill_now(void **state)
{
	struct fix *f = fix_of(state);
	struct dcf_exec_res rs;
	struct sigaction sa, old;
	char script[1024];
	const char *argv[] = {"sh", "-c", script, "sh", f->pids, NULL};
	uint64_t t0;

	/* The task tells us when its tree is complete: SIGUSR2 to its parent, us. */
	snprintf(script, sizeof(script),
	    "P=$1; " REC "rec $$; sleep 100 & rec $!; "
	    "setsid sh -c '" REC_SELF "exec sleep 100' sh \"$P\" & "
	    "while [ \"$(wc -l < \"$P\")\" -lt 3 ]; do :; done; "
	    "kill -USR2 $PPID; wait");
	kn_x = &f->x;
	kn_calls = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr2;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, &old);
	t0 = dcf_now_ns();
	run(f, argv, ms(30000), 0, &rs);
	sigaction(SIGUSR2, &old, NULL);
	assert_int_equal(kn_calls, 1);
	assert_how(rs, DCF_EXEC_SIGNALED);
	assert_int_equal(rs.term_sig, SIGKILL);
	assert_true(dcf_now_ns() - t0 < ms(20000) * 1000000ULL);
	assert_tree_gone(f, 3);
}

/* ---- a worker that dies ------------------------------------------------ */

/* The first two "PID START" lines of the pids file: the PIDs. */
static void
read_two_pids(struct fix *f, pid_t *a, pid_t *b)
{
	FILE *fp = fopen(f->pids, "re");
	long x = 0, y = 0;
	unsigned long long s1, s2;

	if (fp == NULL) {
		fail_msg("%s: %s", f->pids, strerror(errno));
		return;
	}
	if (fscanf(fp, "%ld %llu %ld %llu", &x, &s1, &y, &s2) != 4)
		x = y = 0;
	fclose(fp);
	assert_true(x > 0 && y > 0);
	*a = (pid_t)x;
	*b = (pid_t)y;
}

/*
 * A worker is SIGKILLed in the middle of a task. Its main process dies with
 * it (parent-death signal) and comes to us, the subreaper, to be reaped. A
 * setsid grandchild has no such signal and lives on, ours now too: what a
 * supervisor must clean up before it hands the task out again. With a
 * cgroup, dcf_cg_kill on the worker's directory does it; without, killing
 * every orphan that came back (dcf_exec_kill_now, as the subreaper).
 */
static void
test_worker_dies(void **state)
{
	struct fix *f = fix_of(state);
	char script[1024], buf[8];
	const char *argv[] = {"sh", "-c", script, "sh", f->pids, NULL};
	pid_t w, main_pid = 0, gc = 0, ppid, pgid;
	size_t got = 0;
	int p[2], st;

	snprintf(script, sizeof(script),
	    "P=$1; " REC "rec $$; "
	    "setsid sh -c '" REC_SELF "exec sleep 100' sh \"$P\" & "
	    "while [ \"$(wc -l < \"$P\")\" -lt 2 ]; do :; done; "
	    "echo ready; wait");
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	w = tu_fork();
	if (w == 0) {
		struct dcf_exec x;
		struct dcf_exec_req rq;
		struct dcf_exec_res rs;
		char err[256];

		close(p[0]);
		TU_CHILD_CHECK(dcf_exec_init(&x, cg.want ? cg.dir : NULL, err, sizeof(err)) == 0,
		    "dcf_exec_init: %s", err);
		memset(&rq, 0, sizeof(rq));
		rq.argv = (char *const *)argv;
		rq.out_fd = p[1];
		rq.err_fd = -1;
		dcf_exec_run(&x, &rq, &rs);
		_exit(TU_EX_FAIL); /* it is killed before the task ends */
	}
	close(p[1]);
	while (got < 6) {
		ssize_t n = read(p[0], buf + got, 6 - got);

		if (n <= 0)
			fail_msg("the worker's task never got ready");
		got += (size_t)n;
	}
	close(p[0]);
	assert_memory_equal(buf, "ready\n", 6);
	assert_int_equal(kill(w, SIGKILL), 0);
	tu_assert_killed(tu_waitpid(w));
	read_two_pids(f, &main_pid, &gc);
	assert_int_equal(waitpid(main_pid, &st, 0), main_pid);
	tu_assert_killed(st);
	assert_int_equal(proc_ids_of(gc, &ppid, &pgid), 0);
	assert_int_equal(ppid, getpid());
	if (f->x.cg_on) {
		assert_int_equal(dcf_cg_kill(cg.dir, 10 * DCF_NSEC), 0);
		assert_int_equal(waitpid(gc, &st, 0), gc);
		tu_assert_killed(st);
	} else {
		dcf_exec_kill_now(&f->x);
	}
	assert_tree_gone(f, 2);
}

/* ---- cgroups ------------------------------------------------------------- */

/* A child of ours that joins the cgroup dir and waits; back once it is in. */
static pid_t
child_in_cgroup(const char *dir)
{
	char path[PATH_MAX + 32];
	int p[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = tu_fork();
	if (pid == 0) {
		int fd;

		snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		TU_CHILD_CHECK(fd != -1 && write(fd, "0", 1) == 1, "join %s: %s", dir,
		    strerror(errno));
		TU_CHILD_CHECK(write(p[1], "j", 1) == 1, "write");
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

/*
 * A worker died and its task's grandchild lives on in the task cgroup: the
 * next worker's dcf_exec_init kills it before running anything. And
 * dcf_cg_kill empties a cgroup for a supervisor.
 */
static void
test_cg_leftovers(void **state)
{
	struct fix *f = fix_of(state);
	struct dcf_exec x2;
	char err[256], task[PATH_MAX + 8], sub[PATH_MAX + 8];
	pid_t pid;

	if (!f->x.cg_on)
		skip();
	dcf_exec_fini(&f->x); /* the dead worker */
	snprintf(task, sizeof(task), "%s/task", cg.dir);
	assert_int_equal(mkdir(task, 0755), 0);
	pid = child_in_cgroup(task);
	assert_int_equal(dcf_exec_init(&x2, cg.dir, err, sizeof(err)), 0);
	if (!x2.cg_on)
		fail_msg("cgroup off: %s", x2.cg_why);
	tu_assert_killed(tu_waitpid(pid));
	dcf_exec_fini(&x2);
	assert_int_equal(access(task, F_OK), -1);
	/* dcf_cg_kill: a whole subtree, at once. */
	snprintf(sub, sizeof(sub), "%s/k", cg.dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	pid = child_in_cgroup(sub);
	assert_int_equal(dcf_cg_kill(cg.dir, 10 * DCF_NSEC), 0);
	tu_assert_killed(tu_waitpid(pid));
	assert_int_equal(rmdir(sub), 0);
	errno = 0;
	assert_int_equal(dcf_cg_kill("/nonexistent", DCF_NSEC), -1);
	assert_int_equal(errno, ENOENT);
	/* teardown's fini of the first is harmless */
}

static void
test_cg_self_dir(void **state)
{
	struct fix *f = fix_of(state);
	char dir[PATH_MAX], path[PATH_MAX + 32], line[64], small[4];
	FILE *fp;
	int found = 0;

	(void)f;
	if (dcf_cg_self_dir(dir, sizeof(dir)) == -1) {
		assert_int_equal(errno, ENOENT);
		skip();
	}
	/* It is our cgroup: its cgroup.procs lists us. */
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fp = fopen(path, "re");
	if (fp == NULL) {
		fail_msg("%s: %s", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL)
		found |= atoi(line) == (int)getpid();
	fclose(fp);
	assert_true(found);
	errno = 0;
	assert_int_equal(dcf_cg_self_dir(small, sizeof(small)), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

/* ---- speed --------------------------------------------------------------- */

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/*
 * Not an assertion of speed: a measure, printed, beside a bare posix_spawnp
 * of the same command, in alternating blocks so both see the same load.
 * What is asserted: nothing leaks over many runs, and the cgroup stays on.
 */
static void
test_spawn_rate(void **state)
{
	struct fix *f = fix_of(state);
	struct dcf_exec_req rq;
	struct dcf_exec_res rs;
	const char *argv[] = {"true", NULL};
	int n = tu_valgrind() ? 100 : 2000, fds = count_fds();
	uint64_t t0, t_exec = 0, t_spawn = 0;

	memset(&rq, 0, sizeof(rq));
	rq.argv = (char *const *)argv;
	rq.out_fd = rq.err_fd = -1;
	for (int done = 0; done < n; done += 100) {
		t0 = dcf_now_ns();
		for (int i = 0; i < 100; i++) {
			assert_int_equal(dcf_exec_run(&f->x, &rq, &rs), 0);
			if (rs.how != DCF_EXEC_EXITED || rs.exit_code != 0)
				fail_msg("run %d: %s %d", done + i, how_str(rs.how), rs.exit_code);
		}
		t_exec += dcf_now_ns() - t0;
		t0 = dcf_now_ns();
		for (int i = 0; i < 100; i++) {
			pid_t pid;
			int st;

			assert_int_equal(posix_spawnp(&pid, "true", NULL, NULL, (char *const *)argv,
			                     environ),
			    0);
			assert_int_equal(waitpid(pid, &st, 0), pid);
		}
		t_spawn += dcf_now_ns() - t0;
	}
	print_message("[   INFO   ] %d x true (%s): dcf_exec_run %.3f ms each, "
	              "posix_spawnp+waitpid %.3f ms each\n",
	    n, f->x.cg_on ? "cgroup" : "process groups", (double)t_exec / n / 1e6,
	    (double)t_spawn / n / 1e6);
	assert_int_equal(count_fds(), fds);
	assert_int_equal(f->x.cg_on, cg.want);
}

/*
 * A directory that is not a cgroup: the executor says why and runs its tasks
 * with process groups; its "task" directory is removed at the end.
 */
static void
test_cg_fallback(void **state)
{
	struct fix *f = fix_of(state);
	struct dcf_exec x2;
	struct dcf_exec_req rq;
	struct dcf_exec_res rs;
	const char *argv[] = {"sh", "-c", "sleep 100 & exit 4", NULL};
	char err[256], task[128];

	assert_int_equal(dcf_exec_init(&x2, f->tmp, err, sizeof(err)), 0);
	assert_int_equal(x2.cg_on, 0);
	if (strstr(x2.cg_why, "cgroup") == NULL)
		fail_msg("cg_why: %s", x2.cg_why);
	memset(&rq, 0, sizeof(rq));
	rq.argv = (char *const *)argv;
	rq.out_fd = rq.err_fd = -1;
	assert_int_equal(dcf_exec_run(&x2, &rq, &rs), 0);
	assert_how(rs, DCF_EXEC_EXITED);
	assert_int_equal(rs.exit_code, 4);
	dcf_exec_fini(&x2);
	dcf_exec_fini(&x2); /* idempotent */
	snprintf(task, sizeof(task), "%s/task", f->tmp);
	assert_int_equal(access(task, F_OK), -1);
}

int
main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_exit_codes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_noexec, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_argv_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_env_and_output, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stdin_is_devnull, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_signals_default, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ids_and_cgroup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout_kill_after, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_leftovers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_accounting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kill_now, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_worker_dies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cg_leftovers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cg_self_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cg_fallback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spawn_rate, setup, teardown),
	};
	ssize_t n;
	int fails;

	if (argc >= 2 && strncmp(argv[1], "--", 2) == 0)
		return task_main(argc, argv);
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = '\0';
	/* DCF_TEST_FILTER=test_leftovers runs only that case (both halves). */
	if (getenv("DCF_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("DCF_TEST_FILTER"));
	fails = cmocka_run_group_tests_name("exec, process groups", tests, group_plain, group_end);
	fails += cmocka_run_group_tests_name("exec, cgroup v2", tests, group_cg, group_end);
	return fails != 0;
}
