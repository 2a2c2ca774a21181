/*
 * test_supervisor.c - the real dcf-supervisor binary, killed at the worst
 * moments: kill storms (idle, busy and mid-dequeue workers, bursts), poison
 * tasks, restart intensity, hung workers, supervisor SIGKILL and takeover,
 * SIGINT/SIGTERM, bad options. Every run's log is checked: every task id
 * completed exactly once (or quarantined), nothing left behind.
 *
 * The test process makes itself a child subreaper, so workers orphaned by a
 * killed supervisor come back to it and are reaped here, not left as zombies.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dcf/seg.h"
#include "dcf/util.h"

#define SUP     "./dcf-supervisor"
#define SUP_INJ "./build/inj/dcf-supervisor"

#include "../tools/runlib.h"

static void
start(struct run *r, const char *bin, const char *tag, const char *const *args, const char *env)
{
	memset(r, 0, sizeof(*r));
	run_name(r->name, sizeof(r->name), tag);
	assert_int_equal(run_start(r, bin, args, env), 0);
}

static void
finish(struct run *r)
{
	assert_int_equal(run_finish(r), 0);
}

/* Every task id completed exactly once, or quarantined. */
static void
check_books(const struct run *r, uint64_t tasks, uint64_t *quarantined_out)
{
	struct run_books b;

	run_audit(r->log, tasks, &b);
	if (b.duplicated || b.wrong)
		fprintf(stderr,
		    "books: %llu completed, %llu quarantined, %llu duplicated, %llu wrong\n",
		    (unsigned long long)b.completed, (unsigned long long)b.quarantined,
		    (unsigned long long)b.duplicated, (unsigned long long)b.wrong);
	assert_int_equal(b.duplicated, 0);
	assert_int_equal(b.wrong, 0);
	{
		char first[256];
		int bad = run_audit_order(r->log, first, sizeof(first));

		if (bad != 0)
			fail_msg("%d lines out of causal order for their node, the first:\n%s", bad,
			    first);
	}
	if (quarantined_out)
		*quarantined_out = b.quarantined;
}

static int
count(const struct run *r, const char *what)
{
	return run_count(r->log, what);
}

/*
 * A kill storm: SIGKILL random workers of the run, idle and busy, sometimes
 * several at once, until the supervisor exits. Returns kills made.
 */
static int
storm(struct run *r, uint64_t seed, int every_ms)
{
	struct dcf_seg sg;
	struct dcf_rng rng;
	char err[DCF_ERRLEN];
	int kills = 0, attached = 0, busy_kills = 0, idle_kills = 0;

	dcf_rng_seed(&rng, seed);
	while (run_pump(r, every_ms)) {
		uint32_t nn, burst;

		if (!attached) {
			if (dcf_seg_attach(&sg, r->name, 1, err, sizeof(err)) == -1)
				continue;
			attached = 1;
		}
		nn = sg.hdr->cfg.nets * sg.hdr->cfg.nodes_per_net;
		burst =
		    dcf_rng_range(&rng, 0, 9) == 0 ? 1 + (uint32_t)dcf_rng_range(&rng, 1, 4) : 1;
		for (uint32_t b = 0; b < burst; b++) {
			uint32_t n = (uint32_t)dcf_rng_range(&rng, 0, nn - 1);
			pid_t pid = __atomic_load_n(&sg.nodes[n].pid, __ATOMIC_RELAXED);
			uint32_t st = __atomic_load_n(&sg.nodes[n].state, __ATOMIC_RELAXED);

			if (pid <= 0 || !run_child_of(pid, r->pid))
				continue;
			if (kill(pid, SIGKILL) == 0) {
				kills++;
				busy_kills += st == DCF_NODE_BUSY;
				idle_kills += st == DCF_NODE_IDLE;
			}
		}
	}
	if (attached)
		dcf_seg_detach(&sg);
	fprintf(stderr, "storm: %d kills (%d busy, %d idle)\n", kills, busy_kills, idle_kills);
	return kills;
}

static void
test_clean_run(void **state)
{
	const char *args[] = {"--networks", "2", "--nodes", "3", "--tasks", "500", "--task-ms",
	    "0-2", "--fail-rate", "0", "--seed", "1", NULL};
	struct run r;

	(void)state;
	start(&r, SUP, "clean", args, NULL);
	finish(&r);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 0);
	check_books(&r, 500, NULL);
	assert_int_equal(count(&r, " started by Network-"), 500);
	assert_false(run_shm_exists(r.name));
	run_release(&r);
}

static void
test_kill_storm(void **state)
{
	const char *args[] = {"--networks", "3", "--nodes", "4", "--tasks", "20000", "--task-ms",
	    "0-1", "--fail-rate", "0", "--downtime", "0-5", "--max-restarts", "100000",
	    "--max-attempts", "1000", "--seed", "2", NULL};
	struct run r;
	int kills;

	(void)state;
	start(&r, SUP, "storm", args, NULL);
	kills = storm(&r, 42, 3);
	finish(&r);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 0);
	assert_true(kills >= 20);
	assert_true(count(&r, "has failed.") >= kills / 2);
	check_books(&r, 20000, NULL);
	assert_false(run_shm_exists(r.name));
	run_release(&r);
}

/* Workers die inside the critical section of every kind of operation, repeatedly. */
static void
test_kills_inside_critical_sections(void **state)
{
	/* Each worker process turns (completes a batch and claims the next) a dozen times
	 * or more, fewer where batches are long (a fast machine): these counts kill for
	 * sure, each process again. */
	static const struct {
		const char *env;
		int must_kill;
	} specs[] = {
	    {"DCF_INJECT=claim:0:7", 1},
	    {"DCF_INJECT=turn:2:11", 1},
	    {"DCF_INJECT=turn:5:9", 1},
	    {"DCF_INJECT=turn:14:5", 1},
	    {"DCF_INJECT=turn:60:3", 1}, /* inside a batch */
	    {"DCF_INJECT=turn:1000:6", 1},
	    {"DCF_INJECT=turn:1001:8", 1},
	    {"DCF_INJECT=claim:1002:5", 1},
	    /* Timing decides whether these strike: a completion that claims nothing
	     * (complete alone: a worker's last, and when queues run dry), sleeping,
	     * waking. The books must hold either way (test_crash hits each for sure). */
	    {"DCF_INJECT=complete:1:2", 0},
	    {"DCF_INJECT=complete:4:2", 0},
	    {"DCF_INJECT=complete:1000:2", 0},
	    {"DCF_INJECT=sleep:3:1", 0},
	    {"DCF_INJECT=wake:2:1", 0},
	};
	const char *args[] = {"--networks", "2", "--nodes", "3", "--tasks", "3000", "--task-ms",
	    "0", "--fail-rate", "0", "--downtime", "0", "--max-restarts", "100000",
	    "--max-attempts", "100000", "--seed", "3", NULL};

	(void)state;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct run r;
		int repairs;

		start(&r, SUP_INJ, "inj", args, specs[i].env);
		finish(&r);
		repairs = count(&r, "has failed.");
		if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0 ||
		    (specs[i].must_kill && repairs == 0))
			fprintf(stderr, "%s: status %#x, %d kills\n", specs[i].env, r.status,
			    repairs);
		assert_true(WIFEXITED(r.status));
		assert_int_equal(WEXITSTATUS(r.status), 0);
		check_books(&r, 3000, NULL);
		if (specs[i].must_kill)
			assert_true(repairs >= 1);
		assert_false(run_shm_exists(r.name));
		run_release(&r);
	}
}

static void
test_chaos_fail_rate(void **state)
{
	const char *args[] = {"--networks", "2", "--nodes", "4", "--tasks", "30000", "--task-ms",
	    "0-1", "--fail-rate", "1", "--downtime", "0-3", "--max-restarts", "100000",
	    "--max-attempts", "1000", "--seed", "4", NULL};
	struct run r;

	(void)state;
	start(&r, SUP, "chaos", args, NULL);
	finish(&r);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 0);
	check_books(&r, 30000, NULL);
	assert_false(run_shm_exists(r.name));
	run_release(&r);
}

static void
test_poison_quarantined(void **state)
{
	const char *args[] = {"--networks", "2", "--nodes", "2", "--tasks", "200", "--task-ms", "0",
	    "--fail-rate", "0", "--downtime", "0", "--max-attempts", "3", "--max-restarts", "100",
	    "--seed", "5", NULL};
	struct run r;
	uint64_t q;

	(void)state;
	start(&r, SUP_INJ, "poison", args, "DCF_POISON=17");
	finish(&r);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 1); /* something was quarantined */
	check_books(&r, 200, &q);
	assert_int_equal(q, 1);
	assert_non_null(strstr(r.log, "Task-17 quarantined: it was running in 3 crashed workers"));
	assert_int_equal(count(&r, "Task-17 started by"), 3);
	assert_int_equal(count(&r, "Task-17 reclaimed from"), 2);
	run_release(&r);
}

static void
test_restart_intensity(void **state)
{
	const char *args[] = {"--networks", "2", "--nodes", "2", "--tasks", "300", "--task-ms",
	    "0-1", "--fail-rate", "0", "--downtime", "0", "--max-restarts", "2", "--restart-window",
	    "60", "--seed", "6", NULL};
	struct run r;

	(void)state;
	/* Node slot 1 (Network-0 Node-1) dies every time it starts. */
	start(&r, SUP_INJ, "intens", args, "DCF_CRASH_NODE=1");
	finish(&r);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 0);
	check_books(&r, 300, NULL);
	assert_non_null(
	    strstr(r.log, "Network-0 Node-1 failed more than 2 times in 60 s: giving up on it"));
	assert_int_equal(count(&r, "Network-0 Node-1 has failed."), 3);
	assert_int_equal(count(&r, "Network-0 Node-1 has recovered."), 2);
	run_release(&r);
}

/*
 * Books damaged beyond what the journal can repair: the next locker leaves
 * the mutex unrecoverable, the supervisor stops every worker, rebuilds the
 * queues from the task table and restarts the nodes; nothing is lost.
 */
static void
test_full_reset(void **state)
{
	const char *args[] = {"--networks", "2", "--nodes", "3", "--tasks", "3000", "--task-ms",
	    "0-1", "--fail-rate", "0", "--downtime", "0", "--max-restarts", "1000", "--seed", "8",
	    NULL};
	struct run r;

	(void)state;
	start(&r, SUP_INJ, "reset", args, "DCF_CORRUPT=50");
	finish(&r);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 0);
	assert_int_equal(count(&r, "rebuilding the queues from the task table"), 1);
	assert_int_equal(count(&r, "books rebuilt;"), 1);
	check_books(&r, 3000, NULL);
	assert_false(run_shm_exists(r.name));
	run_release(&r);
}

static void
test_every_node_failed(void **state)
{
	const char *args[] = {"--networks", "1", "--nodes", "1", "--tasks", "10", "--task-ms", "0",
	    "--fail-rate", "0", "--downtime", "0", "--max-restarts", "1", NULL};
	struct run r;

	(void)state;
	start(&r, SUP_INJ, "allfail", args, "DCF_CRASH_NODE=0");
	finish(&r);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 1);
	assert_non_null(strstr(r.log, "every node has failed"));
	assert_false(run_shm_exists(r.name));
	run_release(&r);
}

static void
test_hung_worker_replaced(void **state)
{
	const char *args[] = {"--networks", "1", "--nodes", "2", "--tasks", "40", "--task-ms", "20",
	    "--fail-rate", "0", "--downtime", "0", "--hang-timeout", "200", "--seed", "7", NULL};
	struct run r;
	struct dcf_seg sg;
	char err[DCF_ERRLEN];
	pid_t victim;

	(void)state;
	start(&r, SUP, "hang", args, NULL);
	assert_true(run_wait_for(&r, "Task-0 started by"));
	assert_int_equal(dcf_seg_attach(&sg, r.name, 1, err, sizeof(err)), 0);
	victim = sg.nodes[0].pid;
	assert_true(run_child_of(victim, r.pid));
	assert_int_equal(kill(victim, SIGSTOP), 0);
	dcf_seg_detach(&sg);
	finish(&r);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 0);
	assert_non_null(strstr(r.log, "was stopped by SIGSTOP"));
	assert_non_null(strstr(r.log, "Network-0 Node-0 has recovered."));
	/* Stopped busy, or stopped holding the books' lock: killed either way. */
	assert_true(count(&r, "made no progress") + count(&r, "held the books' lock") >= 1);
	check_books(&r, 40, NULL);
	run_release(&r);
}

static void
test_supervisor_sigkill_and_takeover(void **state)
{
	const char *args[] = {"--networks", "2", "--nodes", "5", "--tasks", "100000", "--task-ms",
	    "1-3", "--fail-rate", "0", NULL};
	const char *args2[] = {"--tasks", "20", "--task-ms", "0", "--networks", "1", "--nodes", "2",
	    "--fail-rate", "0", NULL};
	struct run r, r2;
	uint64_t t0;
	int nw = 0, reaped = 0;
	struct dcf_seg sg;
	char err[DCF_ERRLEN], name[40];

	(void)state;
	start(&r, SUP, "skill", args, NULL);
	assert_true(run_wait_for(&r, "Task-20 started by"));
	assert_int_equal(dcf_seg_attach(&sg, r.name, 1, err, sizeof(err)), 0);
	for (uint32_t n = 0; n < 10; n++)
		nw += run_child_of(sg.nodes[n].pid, r.pid);
	dcf_seg_detach(&sg);
	assert_true(nw >= 8);
	assert_int_equal(kill(r.pid, SIGKILL), 0);
	t0 = dcf_now_ns();
	assert_int_equal(waitpid(r.pid, &r.status, 0), r.pid);
	assert_true(WIFSIGNALED(r.status));
	/* We are the subreaper: the orphans come to us. Each must die at once. */
	assert_int_equal(run_reap_all(t0, 1.0, &reaped), 0);
	assert_true(reaped >= nw);
	close(r.out);
	assert_true(run_shm_exists(r.name)); /* stale, for the next one to take over */
	/* A new supervisor of the same name takes over. */
	strlcpy(name, r.name, sizeof(name));
	memset(&r2, 0, sizeof(r2));
	strlcpy(r2.name, name, sizeof(r2.name));
	assert_int_equal(run_start(&r2, SUP, args2, NULL), 0);
	finish(&r2);
	assert_true(WIFEXITED(r2.status));
	assert_int_equal(WEXITSTATUS(r2.status), 0);
	assert_non_null(strstr(r2.log, "took over the stale segment of a dead supervisor"));
	check_books(&r2, 20, NULL);
	assert_false(run_shm_exists(name));
	run_release(&r);
	run_release(&r2);
}

static void
stop_with(int sig, int twice, int want)
{
	const char *args[] = {"--networks", "2", "--nodes", "3", "--tasks", "100000", "--task-ms",
	    "5-20", "--fail-rate", "0", "--grace-ms", "10000", NULL};
	struct run r;
	uint64_t completed = 0;

	start(&r, SUP, "sig", args, NULL);
	assert_true(run_wait_for(&r, "Task-10 started by"));
	assert_int_equal(kill(r.pid, sig), 0);
	if (twice) {
		assert_true(run_wait_for(&r, "stopping; running tasks have"));
		assert_int_equal(kill(r.pid, sig), 0);
	}
	finish(&r);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), want);
	assert_non_null(
	    strstr(r.log, twice ? "again: stopping now" : "stopping; running tasks have"));
	/* Nothing completed twice; what was started either completed or was reclaimed at exit. */
	{
		const char *p = r.log;

		while ((p = strstr(p, "completed by")) != NULL) {
			completed++;
			p++;
		}
	}
	assert_true(completed >= 1);
	assert_false(run_shm_exists(r.name));
	run_release(&r);
}

static void
test_sigint(void **state)
{
	(void)state;
	stop_with(SIGINT, 0, 130);
}

static void
test_sigterm(void **state)
{
	(void)state;
	stop_with(SIGTERM, 0, 143);
}

static void
test_double_sigint(void **state)
{
	(void)state;
	stop_with(SIGINT, 1, 130);
}

/*
 * Every usage error: exit 2, one line "dcf-supervisor: WHAT; try
 * 'dcf-supervisor --help'" with the value quoted once and escaped, and no
 * segment. The table's own checks are in test_opts.
 */
static void
test_bad_options(void **state)
{
	static const char *const bad[][5] = {
	    /* what the line must hold, then the arguments */
	    {"--tasks '0': expected a whole number from 1 to ", "--tasks", "0"},
	    {"--tasks 'abc': ", "--tasks", "abc"},
	    {"--tasks '5x': ", "-t5x"},
	    {"--networks '-1': expected a whole number from 1 to 256", "--networks", "-1"},
	    {"--networks '0': ", "--net=0"},
	    {"--task-ms '10-5': expected N or MIN-MAX", "--task-ms", "10-5"},
	    {"--task-ms '5-': ", "--task-ms", "5-"},
	    {"--work 'gpu': expected sleep, cpu or none", "--work", "gpu"},
	    {"--fail-rate '1.5': expected a probability from 0 to 1", "--fail-rate", "1.5"},
	    {"--fail-rate 'x': ", "--fail-rate", "x"},
	    {"--name '../x': an instance name is ", "--name", "../x"},
	    {"--name 'a/b': ", "-n", "a/b"},
	    {"--name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': ", "--name",
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
	    {"--name 'a\\nb': ", "--name", "a\nb"},
	    {"--name 'x\\xff\\x1b[2J': ", "--name", "x\xff\033[2J"},
	    {"--log-level 'loud': expected debug, info, warning or error", "--log-level", "loud"},
	    {"unknown option '--bogus'", "--bogus"},
	    {"unknown option '-v'", "-v"},
	    {"unknown option '-j' (-j is --json in dcf-status)", "-j"},
	    {"--nodes needs a value: a whole number from 1 to 8192", "--nodes"},
	    {"--quiet '1': takes no value", "--quiet=1"},
	    {"ambiguous option '--n' (--name, --networks, --nodes, --null, --no-cgroups)", "--n",
	        "3"},
	    {"give a command or --commands FILE, not both", "--commands", "/dev/null", "extra"},
	    {"--networks x --nodes is 10000, at most 8192", "--networks", "100", "--nodes", "100"},
	    {"--downtime '1-2-3': ", "--downtime", "1-2-3"},
	    {"--max-attempts '0': ", "--max-attempts", "0"},
	    {"--log '/nonexistent/dir/x.log': its directory does not exist", "--log",
	        "/nonexistent/dir/x.log"},
	    {"--log '/': is a directory", "--log", "/"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[8];
		const char *tail;
		char want[256];
		struct run r;
		int k = 0, lines = 0;

		for (int j = 1; j < 5 && bad[i][j]; j++)
			args[k++] = bad[i][j];
		args[k] = NULL;
		start(&r, SUP, "bad", args, NULL);
		finish(&r);
		assert_true(WIFEXITED(r.status));
		if (WEXITSTATUS(r.status) != 2)
			fprintf(stderr, "case %zu (%s): exit %d\n", i, bad[i][1],
			    WEXITSTATUS(r.status));
		assert_int_equal(WEXITSTATUS(r.status), 2);
		assert_non_null(r.log);
		for (const char *p = r.log; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 1);
		snprintf(want, sizeof(want), "dcf-supervisor: %s", bad[i][0]);
		if (strstr(r.log, want) == NULL)
			fail_msg("case %zu: expected '%s' in: %s", i, want, r.log);
		tail = strstr(r.log, "; try 'dcf-supervisor --help'");
		assert_non_null(tail);
		assert_string_equal(tail, "; try 'dcf-supervisor --help'\n");
		assert_false(run_shm_exists(r.name));
		run_release(&r);
	}
}

static void
test_already_running(void **state)
{
	const char *args[] = {"--networks", "1", "--nodes", "1", "--tasks", "100000", "--task-ms",
	    "1", "--fail-rate", "0", NULL};
	struct run r, r2;
	char *argv_name;

	(void)state;
	start(&r, SUP, "dup", args, NULL);
	assert_true(run_wait_for(&r, "Task-0 started by"));
	argv_name = r.name;
	{
		const char *args2[] = {"--name", argv_name, "--tasks", "1", NULL};
		/* start() adds its own --name first; the later one wins in getopt. */
		start(&r2, SUP, "dup2", args2, NULL);
	}
	finish(&r2);
	assert_true(WIFEXITED(r2.status));
	assert_int_equal(WEXITSTATUS(r2.status), 1);
	assert_non_null(strstr(r2.log, "already running, pid"));
	assert_true(run_shm_exists(r.name)); /* the live one was not disturbed */
	kill(r.pid, SIGTERM);
	finish(&r);
	assert_int_equal(WEXITSTATUS(r.status), 143);
	assert_false(run_shm_exists(r.name));
	run_release(&r);
	run_release(&r2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_options),
	    cmocka_unit_test(test_clean_run),
	    cmocka_unit_test(test_kill_storm),
	    cmocka_unit_test(test_kills_inside_critical_sections),
	    cmocka_unit_test(test_chaos_fail_rate),
	    cmocka_unit_test(test_poison_quarantined),
	    cmocka_unit_test(test_restart_intensity),
	    cmocka_unit_test(test_full_reset),
	    cmocka_unit_test(test_every_node_failed),
	    cmocka_unit_test(test_hung_worker_replaced),
	    cmocka_unit_test(test_supervisor_sigkill_and_takeover),
	    cmocka_unit_test(test_sigint),
	    cmocka_unit_test(test_sigterm),
	    cmocka_unit_test(test_double_sigint),
	    cmocka_unit_test(test_already_running),
	};

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
