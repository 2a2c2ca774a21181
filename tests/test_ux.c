/*
 * test_ux.c - what a new user meets in the supervisor's output: plurals and
 * rates that read right, an end that says what happened, the summary in the
 * --log file, and a progress line on the terminal when the log goes
 * elsewhere (stderr on a pseudo-terminal).
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
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dcf/util.h"

#include "../tools/runlib.h"

#define SUP     "./dcf-supervisor"
#define SUP_INJ "./build/inj/dcf-supervisor"

static void
run_ok(struct run *r, const char *bin, const char *tag, const char *const *args, const char *env,
    int code)
{
	memset(r, 0, sizeof(*r));
	run_name(r->name, sizeof(r->name), tag);
	assert_int_equal(run_start(r, bin, args, env), 0);
	assert_int_equal(run_finish(r), 0);
	if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != code)
		fail_msg("status %#x, expected exit %d; log:\n%s", r->status, code, r->log);
}

static void
assert_has(const char *hay, const char *needle)
{
	if (hay == NULL || strstr(hay, needle) == NULL)
		fail_msg("expected '%s' in:\n%s", needle, hay ? hay : "(nothing)");
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static void
test_singulars(void **state)
{
	const char *args[] = {"--networks", "1", "--nodes", "1", "--tasks", "1", "--task-ms", "0",
	    "--fail-rate", "0", NULL};
	struct run r;

	(void)state;
	run_ok(&r, SUP, "one", args, NULL, 0);
	assert_has(r.log, "starting: 1 network x 1 node, 1 task, seed");
	assert_has(r.log, "The task completed; stopping the workers");
	run_release(&r);
}

static void
test_quarantine_is_not_done(void **state)
{
	const char *args[] = {"--networks", "1", "--nodes", "2", "--tasks", "10", "--task-ms", "0",
	    "--fail-rate", "0", "--downtime", "0", "--max-attempts", "1", NULL};
	struct run r;

	(void)state;
	/* Task 3 kills its worker: quarantined at its first crashed run. */
	run_ok(&r, SUP_INJ, "quar", args, "DCF_POISON=3", 1);
	assert_has(r.log, "Every task has ended: 9 completed, 1 quarantined; stopping the workers");
	assert_null(strstr(r.log, "All 10 tasks"));
	run_release(&r);
}

static void
test_summary_in_log_file(void **state)
{
	char path[64], *log;
	const char *args[] = {"--networks", "1", "--nodes", "2", "--tasks", "2", "--task-ms", "300",
	    "--fail-rate", "0", "--log", path, NULL};
	struct run r;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/dcf-test-ux-%d.log", (int)getpid());
	run_ok(&r, SUP, "sum", args, NULL, 0);
	log = slurp(path);
	unlink(path);
	/* The file ends with the summary, plurals agreeing, a rate with its digits. */
	assert_has(log, "All 2 tasks completed; stopping the workers");
	assert_has(log, "2 tasks: 2 completed, 0 quarantined, 0 not run; 0 node failures");
	assert_true(strstr(log, " tasks/s\n") != NULL);
	assert_null(strstr(log, ", 0 tasks/s")); /* 2 in about 0.3 s is not 0 */
	free(log);
	run_release(&r);
}

/* stderr on a pseudo-terminal, the log in a file: the terminal gets progress. */
static void
test_progress_on_terminal_with_log_elsewhere(void **state)
{
	char path[64], name[40], buf[4096], *seen = NULL;
	size_t len = 0;
	int master, st;
	pid_t pid;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/dcf-test-ux-%d.tty.log", (int)getpid());
	run_name(name, sizeof(name), "tty");
	master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
		int null = open("/dev/null", O_WRONLY);

		if (slave < 0 || null < 0)
			_exit(127);
		dup2(slave, 2);
		dup2(null, 1);
		execl(SUP, SUP, "--name", name, "--networks", "1", "--nodes", "2", "--tasks", "6",
		    "--task-ms", "400", "--fail-rate", "0", "--log", path, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		struct pollfd p = {.fd = master, .events = POLLIN};
		ssize_t k;

		if (poll(&p, 1, 20000) <= 0)
			break;
		k = read(master, buf, sizeof(buf));
		if (k <= 0) /* EIO once the last writer closed the terminal */
			break;
		{
			char *grown = realloc(seen, len + (size_t)k + 1);

			assert_non_null(grown);
			seen = grown;
		}
		memcpy(seen + len, buf, (size_t)k);
		len += (size_t)k;
		seen[len] = '\0';
	}
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	close(master);
	{
		/* On a terminal the run says how to watch it, as typed from here. */
		char *log = slurp(path), want[160];

		snprintf(want, sizeof(want),
		    "watch it from another terminal: ./dcf-status --name %s --watch", name);
		assert_has(log, want);
		free(log);
	}
	unlink(path);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_has(seen, "/6 done, ");
	assert_has(seen, " tasks/s, 0 nodes down]");
	assert_null(strstr(seen, " - INFO - ")); /* the log itself went to the file */
	free(seen);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_singulars),
	    cmocka_unit_test(test_quarantine_is_not_done),
	    cmocka_unit_test(test_summary_in_log_file),
	    cmocka_unit_test(test_progress_on_terminal_with_log_elsewhere),
	};

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
