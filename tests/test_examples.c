/*
 * test_examples.c - the example programs (examples/), run as a user runs
 * them: their answers checked against an independent one (sha256sum(1) on
 * the same tree, pi(10^7) = 664579 and --check), then again under a kill
 * storm, in which the test SIGKILLs the example's workers (its children, by
 * PID, read from /proc) every few milliseconds until it has killed
 * STORM_KILLS of them: the answer must not change, the summary must count
 * the deaths and the reruns, and the exit status must be 0. After every
 * run nothing of the example's may be left: no segment in /dev/shm, no
 * process (the test is a subreaper, so a worker that outlived its example
 * would come back to it).
 */
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"
#include "../tools/runlib.h"

#define HASHTREE "./build/examples/dcf-hashtree"
#define PRIMES   "./build/examples/dcf-primes"
/* pi(10^7), the count of primes below ten million. */
#define PI_1E7 "664579\n"

/* The examples' last line on stderr, after "NAME". */
#define SUMMARY ": %llu tasks, %llu reruns, %llu worker deaths, %llu quarantined"
/* Workers killed in each storm before the example is let finish. */
#define STORM_KILLS 30
/* The pace of the storm: one kill, then this long for the example to exit. */
#define STORM_GAP_MS 5

/* The temporary directory of the running test, removed by teardown. */
static char tmp[64];

/* ---- files -------------------------------------------------------------- */

static void
write_file(const char *path, const unsigned char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The paths of the files a tree was made of. */
struct tree {
	char **path;
	size_t n;
};

/*
 * nfiles regular files under root, in nested directories, of sizes around
 * SHA-256's block edges and up to 1 MiB, some with spaces and bytes above
 * ASCII in their names; and a symbolic link, which is not a regular file.
 */
static void
make_tree(const char *root, size_t nfiles, struct tree *t)
{
	static const size_t edge[] = {0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 4095, 4096, 4097,
	    65536, 1 << 20};
	static const char *const name[] = {"f", "with space ", "caf\xc3\xa9-", ".hidden"};
	unsigned char *data = malloc(1 << 20);
	char dir[PATH_MAX];
	uint64_t s = 88172645463325252ULL;

	assert_non_null(data);
	for (size_t i = 0; i < (1 << 20); i++)
		data[i] = (unsigned char)rnd(&s);
	assert_int_equal(mkdir(root, 0755), 0);
	t->path = calloc(nfiles, sizeof(*t->path));
	assert_non_null(t->path);
	t->n = nfiles;
	snprintf(dir, sizeof(dir), "%s", root);
	for (size_t i = 0; i < nfiles; i++) {
		char path[PATH_MAX + 64];
		size_t len;

		/* A new directory every 16 files, a level deeper, or back to the top. */
		if (i % 16 == 0 && i > 0) {
			if (strlen(dir) - strlen(root) > 12)
				snprintf(dir, sizeof(dir), "%s", root);
			assert_true(strlen(dir) + 8 < sizeof(dir));
			snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/d%zu", i / 16);
			assert_int_equal(mkdir(dir, 0755), 0);
		}
		len = i < sizeof(edge) / sizeof(edge[0]) ? edge[i]
		    : i % 10 == 0                        ? rnd(&s) % (1 << 20)
		                                         : rnd(&s) % 20000;
		snprintf(path, sizeof(path), "%s/", dir);
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%s%zu", name[i % 4], i);
		write_file(path, data + (i % 1000), len > (1 << 20) - 1000 ? (1 << 20) - 1000 : len,
		    0644);
		t->path[i] = strdup(path);
		assert_non_null(t->path[i]);
	}
	snprintf(dir, sizeof(dir), "%s/link", root);
	assert_int_equal(symlink(t->path[0], dir), 0);
	free(data);
}

static void
tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->path[i]);
	free(t->path);
}

/* ---- running the examples ------------------------------------------------ */

/* The uid to run as, if not root: a file of mode 0 is readable to root. */
static uid_t as_user = 0;

/* Start argv[0] with its stdout and stderr in files; its pid. */
static pid_t
ex_start(const char *const *argv, const char *out, const char *err)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		TU_CHILD_CHECK(o >= 0 && e >= 0, "open: %s", strerror(errno));
		dup2(o, 1);
		dup2(e, 2);
		if (as_user != 0) {
			TU_CHILD_CHECK(setgroups(0, NULL) == 0 && setgid(as_user) == 0 &&
			        setuid(as_user) == 0,
			    "setuid: %s", strerror(errno));
			/* A change of credentials clears the parent-death signal. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
		}
		execv(argv[0], (char *const *)argv);
		TU_CHILD_CHECK(0, "exec %s: %s", argv[0], strerror(errno));
	}
	return pid;
}

/* What one run of an example said. */
struct outcome {
	int status;
	char *out, *err;
	unsigned long long tasks, reruns, deaths, quarantined;
	unsigned kills;
};

static void
outcome_free(struct outcome *oc)
{
	free(oc->out);
	free(oc->err);
}

/*
 * Is c, a live child of pid, in the middle of a task? With --slow a task
 * starts with a sleep, and nothing else in a pool's worker sleeps on a timer
 * (an idle worker waits on a futex): /proc/C/syscall names the call c is
 * blocked in. Where that file is closed to us, any live worker will do.
 */
static int
in_task(pid_t c, pid_t pid)
{
	char path[64], buf[64];
	ssize_t n;
	long nr;
	int fd;

	if (!run_child_of(c, pid))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)c);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return errno == EACCES || errno == EPERM;
	buf[n] = '\0';
	if (sscanf(buf, "%ld", &nr) != 1)
		return 0; /* "running" */
#ifdef SYS_nanosleep
	if (nr == SYS_nanosleep)
		return 1;
#endif
	return nr == SYS_clock_nanosleep;
}

/*
 * Until pid exits: every STORM_GAP_MS, SIGKILL one of its children that is
 * running a task, until kills of them. How many were killed.
 */
static unsigned
storm(pid_t pid, unsigned kills, uint64_t deadline)
{
	pid_t killed[STORM_KILLS * 2];
	unsigned n = 0;

	assert_true(kills <= sizeof(killed) / sizeof(killed[0]));
	for (;;) {
		uint64_t gap = dcf_now_ns() + STORM_GAP_MS * 1000000ULL;
		pid_t kids[64];
		int nk = n < kills ? tu_children_of(pid, kids, 64) : 0;

		/* Enough: the example may finish. */
		if (n >= kills)
			gap = deadline;

		for (int i = 0; i < nk; i++) {
			int seen = 0;

			for (unsigned j = 0; j < n; j++)
				seen |= killed[j] == kids[i];
			if (seen || !in_task(kids[i], pid))
				continue;
			/* Ours to kill: a child of our child, alive, by its PID. */
			if (kill(kids[i], SIGKILL) == 0)
				killed[n++] = kids[i];
			break;
		}
		if (tu_wait_exit(pid, gap < deadline ? gap : deadline))
			return n;
		if (dcf_now_ns() >= deadline)
			return n;
	}
}

/* Run an example to its end (killing kills of its workers on the way). */
static void
ex_run(const char *const *argv, unsigned kills, struct outcome *oc)
{
	char out[128], err[128];
	const char *sum;
	pid_t pid;
	int reaped;

	memset(oc, 0, sizeof(*oc));
	snprintf(out, sizeof(out), "%s/stdout", tmp);
	snprintf(err, sizeof(err), "%s/stderr", tmp);
	pid = ex_start(argv, out, err);
	oc->kills = storm(pid, kills, tu_deadline(120000));
	oc->status = tu_waitpid_within(pid, 1.0);
	oc->out = tu_slurp(out);
	oc->err = tu_slurp(err);
	if (oc->kills < kills)
		fail_msg("%s ended after %u kills of its workers, not %u: make its tasks slower; "
		         "stderr:\n%s",
		    argv[0], oc->kills, kills, oc->err);
	sum = strstr(oc->err, ": ");
	while (sum != NULL &&
	    sscanf(sum, SUMMARY, &oc->tasks, &oc->reruns, &oc->deaths, &oc->quarantined) != 4)
		sum = strstr(sum + 1, ": ");
	if (sum == NULL)
		fail_msg("%s: no summary line; stderr:\n%s", argv[0], oc->err);
	/* Nothing left behind: a worker that outlived the example is ours now. */
	assert_int_equal(run_reap_all(dcf_now_ns(), 0.0, &reaped), 0);
	assert_int_equal(reaped, 0);
	assert_int_equal(tu_unlink_ours(), 0);
}

static void
assert_exit(const struct outcome *oc, int code)
{
	if (!WIFEXITED(oc->status) || WEXITSTATUS(oc->status) != code)
		fail_msg("%s, expected exit status %d; stderr:\n%s", tu_status_str(oc->status),
		    code, oc->err);
}

/*
 * Every kill found a worker in a task: each is a death and a rerun. (A task
 * can end between the look at /proc and the kill, if its sleep ends just
 * then: a death, not a rerun, that the stats may not have seen yet.)
 */
static void
assert_storm(const struct outcome *oc)
{
	if (oc->deaths > oc->kills || oc->reruns > oc->deaths || oc->reruns + 2 < oc->kills ||
	    oc->quarantined != 0)
		fail_msg("%u kills, but %llu deaths, %llu reruns, %llu quarantined", oc->kills,
		    oc->deaths, oc->reruns, oc->quarantined);
}

static int
by_path(const void *a, const void *b)
{
	/* "DIGEST  PATH": the path starts after 64 digits and two spaces. */
	return strcmp(*(char *const *)a + 66, *(char *const *)b + 66);
}

/* sha256sum(1) on the tree's files, its lines sorted by path. */
static char *
expected_sums(const struct tree *t)
{
	const char **argv = calloc(t->n + 3, sizeof(*argv));
	char out[128], err[128], *text, **line, *res;
	size_t n = 0, len = 0, total;
	pid_t pid;

	assert_non_null(argv);
	argv[0] = "/usr/bin/sha256sum";
	argv[1] = "--";
	for (size_t i = 0; i < t->n; i++)
		argv[i + 2] = t->path[i];
	snprintf(out, sizeof(out), "%s/sha256sum.out", tmp);
	snprintf(err, sizeof(err), "%s/sha256sum.err", tmp);
	pid = ex_start(argv, out, err);
	tu_assert_exit(tu_waitpid_within(pid, 60.0), 0);
	free(argv);
	text = tu_slurp(out);
	total = strlen(text);
	line = calloc(t->n + 1, sizeof(*line));
	assert_non_null(line);
	for (char *s = text, *nl; *s != '\0'; s = nl + 1) {
		assert_non_null(nl = strchr(s, '\n'));
		*nl = '\0';
		assert_true(n < t->n && strlen(s) > 66);
		line[n++] = s;
	}
	assert_int_equal(n, t->n);
	qsort(line, n, sizeof(*line), by_path);
	res = calloc(1, total + 1);
	assert_non_null(res);
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(res + len, "%s\n", line[i]);
	free(line);
	free(text);
	return res;
}

static void
assert_same_text(const char *got, const char *want, const char *what)
{
	size_t i = 0;

	while (got[i] != '\0' && got[i] == want[i])
		i++;
	if (got[i] != want[i])
		fail_msg("%s differs at byte %zu: got '%.80s', want '%.80s'", what, i, got + i,
		    want + i);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_hashtree(void **state)
{
	char root[128], name[DCF_NAME_MAX + 1];
	struct tree t;
	struct outcome oc;
	char *want;

	(void)state;
	snprintf(root, sizeof(root), "%s/tree", tmp);
	make_tree(root, 300, &t);
	want = expected_sums(&t);
	tu_name(name, sizeof(name), "hash");
	{
		const char *argv[] = {HASHTREE, "-j", "3", "--name", name, root, NULL};

		ex_run(argv, 0, &oc);
	}
	assert_exit(&oc, 0);
	assert_same_text(oc.out, want, "dcf-hashtree's output against sha256sum's");
	assert_int_equal(oc.tasks, 300);
	assert_int_equal(oc.deaths, 0);
	outcome_free(&oc);

	/* The storm: 300 tasks of 10 ms each, on 2 workers, killed 30 times. */
	tu_name(name, sizeof(name), "hash");
	{
		const char *argv[] = {HASHTREE, "-j", "2", "--name", name, "--slow", "10",
		    "--attempts", "1000", root, NULL};

		ex_run(argv, STORM_KILLS, &oc);
	}
	assert_exit(&oc, 0);
	assert_same_text(oc.out, want, "dcf-hashtree's output under the kill storm");
	assert_int_equal(oc.tasks, 300);
	assert_storm(&oc);
	print_message("dcf-hashtree storm: %u kills, %llu deaths, %llu reruns\n", oc.kills,
	    oc.deaths, oc.reruns);
	outcome_free(&oc);
	tree_free(&t);
	free(want);
}

/* A file it cannot read: reported, the others still hashed, exit status 1. */
static void
test_hashtree_unreadable(void **state)
{
	static const unsigned char abc[] = "abc";
	char root[128], path[512], name[DCF_NAME_MAX + 1];
	struct outcome oc;

	(void)state;
	snprintf(root, sizeof(root), "%s/tree", tmp);
	assert_int_equal(mkdir(root, 0755), 0);
	snprintf(path, sizeof(path), "%s/a", root);
	write_file(path, abc, 3, 0644);
	snprintf(path, sizeof(path), "%s/secret", root);
	write_file(path, abc, 3, 0);
	/* The tree is ours; the example may be another user's process. */
	assert_int_equal(chmod(tmp, 0755), 0);
	if (geteuid() == 0)
		as_user = 65534;
	tu_name(name, sizeof(name), "hash");
	{
		const char *argv[] = {HASHTREE, "--name", name, root, NULL};

		ex_run(argv, 0, &oc);
	}
	as_user = 0;
	assert_exit(&oc, 1);
	/* sha256("abc") */
	snprintf(path, sizeof(path),
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  %s/a\n", root);
	assert_string_equal(oc.out, path);
	snprintf(path, sizeof(path), "dcf-hashtree: %s/secret: %s\n", root, strerror(EACCES));
	if (strstr(oc.err, path) == NULL)
		fail_msg("expected '%s' in:\n%s", path, oc.err);
	outcome_free(&oc);
}

static void
test_primes(void **state)
{
	char name[DCF_NAME_MAX + 1];
	struct outcome oc;

	(void)state;
	tu_name(name, sizeof(name), "primes");
	{
		const char *argv[] = {PRIMES, "--name", name, "--check", NULL};

		ex_run(argv, 0, &oc);
	}
	assert_exit(&oc, 0);
	assert_string_equal(oc.out, PI_1E7);
	assert_non_null(strstr(oc.err, "--check: the same count"));
	assert_int_equal(oc.tasks, 100);
	outcome_free(&oc);

	/* Chunks that fall on no round number, on 3 workers. */
	tu_name(name, sizeof(name), "primes");
	{
		const char *argv[] = {PRIMES, "-j", "3", "--chunk", "77777", "--name", name,
		    "--check", "10000000", NULL};

		ex_run(argv, 0, &oc);
	}
	assert_exit(&oc, 0);
	assert_string_equal(oc.out, PI_1E7);
	assert_int_equal(oc.tasks, 129);
	outcome_free(&oc);

	/* The storm: 200 chunks of 10 ms each, on 2 workers, killed 30 times. */
	tu_name(name, sizeof(name), "primes");
	{
		const char *argv[] = {PRIMES, "-j", "2", "--chunk", "50000", "--name", name,
		    "--slow", "10", "--attempts", "1000", "--check", NULL};

		ex_run(argv, STORM_KILLS, &oc);
	}
	assert_exit(&oc, 0);
	assert_string_equal(oc.out, PI_1E7);
	assert_int_equal(oc.tasks, 200);
	assert_storm(&oc);
	print_message("dcf-primes storm: %u kills, %llu deaths, %llu reruns\n", oc.kills, oc.deaths,
	    oc.reruns);
	outcome_free(&oc);
}

/* Bad usage: exit status 2, before any pool is started. */
static void
test_usage(void **state)
{
	static const char *const bad[][5] = {{PRIMES, "-j", "x", NULL}, {PRIMES, "1", "2", NULL},
	    {PRIMES, "--chunk", "0", NULL}, {HASHTREE, NULL}, {HASHTREE, "--bogus", ".", NULL}};
	struct outcome oc;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pid_t pid;
		char out[128], err[128];

		snprintf(out, sizeof(out), "%s/stdout", tmp);
		snprintf(err, sizeof(err), "%s/stderr", tmp);
		pid = ex_start(bad[i], out, err);
		memset(&oc, 0, sizeof(oc));
		oc.status = tu_waitpid_within(pid, 10.0);
		oc.err = tu_slurp(err);
		assert_exit(&oc, 2);
		assert_true(strlen(oc.err) > 0);
		outcome_free(&oc);
	}
	assert_int_equal(tu_unlink_ours(), 0);
}

/* ---- fixtures ------------------------------------------------------------ */

static int
ex_setup(void **state)
{
	tu_setup(state);
	snprintf(tmp, sizeof(tmp), "/tmp/dcf-ex-%d-XXXXXX", (int)getpid());
	return mkdtemp(tmp) == NULL ? -1 : 0;
}

static int
ex_teardown(void **state)
{
	int reaped;

	tu_teardown(state);
	/* The workers of an example a failed test killed come back to us. */
	(void)run_reap_all(dcf_now_ns(), 5.0, &reaped);
	tu_rm_tree(tmp);
	tmp[0] = '\0';
	as_user = 0;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_usage, ex_setup, ex_teardown),
	    cmocka_unit_test_setup_teardown(test_hashtree, ex_setup, ex_teardown),
	    cmocka_unit_test_setup_teardown(test_hashtree_unreadable, ex_setup, ex_teardown),
	    cmocka_unit_test_setup_teardown(test_primes, ex_setup, ex_teardown),
	};

	/* Whatever an example leaves running is reparented to us, to be seen. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
