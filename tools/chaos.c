/*
 * dcf-chaos - a chaos soak for dcf. Runs the real dcf-supervisor again and
 * again for a set time; during each run it SIGKILLs random workers at a set
 * rate (idle, busy, several at once), SIGSTOPs some and leaves them stopped
 * (some while they hold the books' lock: the holder's TID is read from the
 * lock word), stops and continues the whole job as Ctrl-Z and fg do, lets
 * the workers' own chaos timers kill them at any instruction (inside the
 * books' critical section included), and samples `dcf-status --json`.
 * After each run it audits the log: every task completed exactly once or
 * quarantined, every stopped worker replaced, no worker killed as hung that
 * was never stopped (a Ctrl-Z is nobody's hang), every JSON sample valid
 * with counts that add up, nothing left in /dev/shm or the process table.
 *
 * With --supervisor-kills N it instead SIGKILLs the supervisor of a busy run
 * N times at random moments, checking each time that every worker is gone
 * within one second and that a fresh supervisor of that name starts cleanly.
 *
 * One line of figures at the end; exit 0 only with zero anomalies.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dcf/lock.h"
#include "dcf/seg.h"
#include "dcf/util.h"
#include "runlib.h"

#define MAX_KINDS 24

struct chaos {
	const char *sup, *status;
	double seconds;
	int kill_ms;
	uint64_t tasks_per_run;
	uint64_t seed;
	struct dcf_rng rng;
	/* figures */
	uint64_t runs, tasks, kills, bursts, stops, lock_stops, ctrlz, reclaims, restarts,
	    quarantined, samples;
	uint64_t anomalies;
	struct {
		const char *fmt;
		uint64_t count;
	} kinds[MAX_KINDS];
	int nkinds;
	char bindir[64]; /* private copies of the programs under test */
};

static double
now_s(void)
{
	return (double)dcf_now_ns() / 1e9;
}

static void anomaly(struct chaos *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void remove_copies(struct chaos *c);

static void
anomaly(struct chaos *c, const char *fmt, ...)
{
	va_list ap;
	int k;

	c->anomalies++;
	/* Count by kind (the format); show the first few of each. */
	for (k = 0; k < c->nkinds && c->kinds[k].fmt != fmt; k++)
		;
	if (k == c->nkinds && c->nkinds < MAX_KINDS)
		c->kinds[c->nkinds++].fmt = fmt;
	if (k < MAX_KINDS && c->kinds[k].count++ >= 3)
		return;
	fprintf(stderr, "dcf-chaos: ANOMALY: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Run dcf-status --json once; check the document and its sum. */
static void
sample_status(struct chaos *c, const char *name)
{
	char *argv[] = {(char *)c->status, (char *)"--json", (char *)"--name", (char *)name, NULL};
	char buf[1 << 16];
	size_t len = 0;
	int p[2], status;
	pid_t pid;
	ssize_t k;

	if (pipe(p) == -1)
		return;
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(p[1], 1);
		dup2(devnull, 2); /* "not running yet" at the edges of a run: judged by exit code */
		close(p[0]);
		close(p[1]);
		execv(c->status, argv);
		_exit(127);
	}
	close(p[1]);
	while ((k = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)k;
	close(p[0]);
	buf[len] = '\0';
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 1 && len == 0)
		return; /* not running yet, or already gone */
	c->samples++;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		anomaly(c, "dcf-status --json exited with status %#x", status);
		return;
	}
	if (!run_json_valid(buf)) {
		anomaly(c, "dcf-status --json printed invalid JSON");
		return;
	}
	{
		const char *t = strstr(buf, "\"tasks\"");
		long long total, sum;

		if (t == NULL) {
			anomaly(c, "dcf-status --json has no tasks object");
			return;
		}
		total = run_json_num(t, "total");
		sum = run_json_num(t, "pending") + run_json_num(t, "queued") +
		    run_json_num(t, "running") + run_json_num(t, "completed") +
		    run_json_num(t, "quarantined");
		if (total < 0 || sum != total)
			anomaly(c, "dcf-status counts do not add up: %lld of %lld", sum, total);
	}
}

/* A random live worker of the run, checked to be the supervisor's child. */
static pid_t
pick_worker(struct chaos *c, struct dcf_seg *sg, pid_t sup)
{
	uint32_t nn = sg->hdr->cfg.nets * sg->hdr->cfg.nodes_per_net;

	for (int tries = 0; tries < 8; tries++) {
		uint32_t n = (uint32_t)dcf_rng_range(&c->rng, 0, nn - 1);
		pid_t pid = __atomic_load_n(&sg->nodes[n].pid, __ATOMIC_RELAXED);

		if (run_child_of(pid, sup))
			return pid;
	}
	return 0;
}

static int
is_stopped(const pid_t *stopped, int n, pid_t pid)
{
	for (int i = 0; i < n; i++)
		if (stopped[i] == pid)
			return 1;
	return 0;
}

/* SIGSTOP the worker holding the books' lock, if one does; its pid or 0. */
static pid_t
stop_lock_holder(struct chaos *c, struct dcf_seg *sg, pid_t sup)
{
	for (int tries = 0; tries < 200; tries++) {
		pid_t h = dcf_lock_holder(sg);

		if (h <= 0 || h == sup || !run_child_of(h, sup) || kill(h, SIGSTOP) == -1)
			continue;
		/* Ours to see replaced only if it stopped (one exiting never does);
		 * counted as a lock stop only with the lock still in its hands. */
		if (!run_wait_state(h, 'T', 2))
			return 0;
		if (dcf_lock_holder(sg) == h)
			c->lock_stops++;
		return h;
	}
	return 0;
}

/* Ctrl-Z, a pause longer than the hang timeout, then fg: to the whole job. */
static void
ctrl_z(struct chaos *c, pid_t sup)
{
	if (kill(-sup, SIGTSTP) == -1)
		return;
	/* One that is exiting cannot stop; one that lives must. */
	if (!run_wait_state(sup, 'T', 5) && run_child_of(sup, getpid()))
		anomaly(c, "supervisor %d did not stop on SIGTSTP", (int)sup);
	(void)usleep(450000); /* the hang timeout is 300 ms */
	kill(-sup, SIGCONT);
	c->ctrlz++;
}

/* Every worker killed as hung must be one we stopped. */
static void
check_hang_kills(struct chaos *c, const struct run *r, const pid_t *stopped, int nstopped)
{
	static const char *const marks[] = {"(pid ", " held the books' lock", " made no progress"};
	const char *p = r->log;

	while ((p = strstr(p, marks[0])) != NULL) {
		const char *eol = strchr(p, '\n');
		char *end;
		long pid = strtol(p + 5, &end, 10);
		int hung = 0;

		p += 5;
		if (*end != ')' || eol == NULL)
			continue;
		for (int m = 1; m < 3; m++) {
			const char *h = strstr(end, marks[m]);

			hung |= h != NULL && h < eol;
		}
		if (hung && !is_stopped(stopped, nstopped, (pid_t)pid))
			anomaly(c, "run %s: worker pid %ld killed as hung but never stopped",
			    r->name, pid);
	}
}

static void
one_run(struct chaos *c, double deadline)
{
	char seed[32], tasks[32];
	const char *args[] = {"--networks", "3", "--nodes", "8", "--tasks", tasks, "--task-ms",
	    "1-3", "--fail-rate", "0.3", "--downtime", "0-20", "--max-restarts", "1000000",
	    "--max-attempts", "8", "--hang-timeout", "300", "--grace-ms", "2000", "--seed", seed,
	    NULL};
	pid_t stopped[256], ever[256]; /* still stopped; stopped at some time */
	int nstopped = 0, never = 0, attached = 0;
	struct dcf_seg sg;
	struct run r;
	struct run_books b;
	char err[DCF_ERRLEN];
	uint64_t tick = 0;

	uint64_t anomalies_before = c->anomalies;

	memset(&r, 0, sizeof(r));
	r.own_group = 1; /* a job of its own, for Ctrl-Z */
	run_name(r.name, sizeof(r.name), "chaos");
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)dcf_rng_next(&c->rng));
	snprintf(tasks, sizeof(tasks), "%llu", (unsigned long long)c->tasks_per_run);
	if (run_start(&r, c->sup, args, NULL) == -1) {
		anomaly(c, "cannot start %s: %s", c->sup, strerror(errno));
		return;
	}
	while (run_pump(&r, c->kill_ms)) {
		pid_t pid;
		int burst;

		tick++;
		if (!attached) {
			if (dcf_seg_attach(&sg, r.name, 1, err, sizeof(err)) == -1)
				continue;
			attached = 1;
		}
		if (tick % 10 == 0)
			sample_status(c, r.name);
		if (now_s() > deadline && tick % 10 == 0)
			continue; /* time is up: let this run finish undisturbed */
		burst = dcf_rng_range(&c->rng, 0, 9) == 0 ? (int)dcf_rng_range(&c->rng, 2, 5) : 1;
		c->bursts += burst > 1;
		for (int i = 0; i < burst; i++) {
			pid = pick_worker(c, &sg, r.pid);
			if (pid > 0 && !is_stopped(stopped, nstopped, pid) &&
			    kill(pid, SIGKILL) == 0)
				c->kills++;
		}
		if (tick % 50 == 25 && nstopped < 256) {
			pid = pick_worker(c, &sg, r.pid);
			/* Counted only once it is stopped: one exiting at the end never stops. */
			if (pid > 0 && !is_stopped(stopped, nstopped, pid) && never < 256 &&
			    kill(pid, SIGSTOP) == 0 && run_wait_state(pid, 'T', 2)) {
				stopped[nstopped++] = ever[never++] = pid;
				c->stops++;
			}
		}
		if (tick % 25 == 15 && nstopped < 256 && never < 256) {
			pid = stop_lock_holder(c, &sg, r.pid);
			if (pid > 0 && !is_stopped(stopped, nstopped, pid)) {
				stopped[nstopped++] = ever[never++] = pid;
				c->stops++;
			}
		}
		if (tick % 200 == 100) {
			/* fg continues the whole job, the workers we stopped included. */
			ctrl_z(c, r.pid);
			nstopped = 0;
		}
	}
	if (attached)
		dcf_seg_detach(&sg);
	if (run_finish(&r) == -1)
		anomaly(c, "could not reap the supervisor");
	c->runs++;
	c->tasks += c->tasks_per_run;
	if (!WIFEXITED(r.status) || (WEXITSTATUS(r.status) != 0 && WEXITSTATUS(r.status) != 1))
		anomaly(c, "supervisor %s ended with status %#x", r.name, r.status);
	run_audit(r.log, c->tasks_per_run, &b);
	if (b.duplicated || b.wrong)
		anomaly(c,
		    "run %s: %llu tasks completed twice, %llu not completed once nor quarantined",
		    r.name, (unsigned long long)b.duplicated, (unsigned long long)b.wrong);
	if (WIFEXITED(r.status) && (WEXITSTATUS(r.status) == 1) != (b.quarantined > 0))
		anomaly(c, "run %s: exit %d but %llu quarantined", r.name, WEXITSTATUS(r.status),
		    (unsigned long long)b.quarantined);
	c->quarantined += b.quarantined;
	c->reclaims += (uint64_t)run_count(r.log, " reclaimed from ");
	c->restarts += (uint64_t)run_count(r.log, " has recovered.");
	check_hang_kills(c, &r, ever, never);
	{
		char first[256];
		int bad = run_audit_order(r.log, first, sizeof(first));

		if (bad != 0)
			anomaly(c,
			    "run %s: %d lines out of causal order for their node, the first: %s",
			    r.name, bad, first);
	}
	for (int i = 0; i < nstopped; i++) {
		char pat[48];

		snprintf(pat, sizeof(pat), "(pid %d, ", (int)stopped[i]);
		if (strstr(r.log, pat) == NULL)
			anomaly(c, "stopped worker pid %d was never replaced", (int)stopped[i]);
	}
	if (run_shm_exists(r.name))
		anomaly(c, "/dev/shm/dcf-%s left behind", r.name);
	if (waitpid(-1, NULL, WNOHANG) == 0)
		anomaly(c, "processes left behind after run %s", r.name);
	/* DCF_CHAOS_KEEP=DIR: keep the log of every run that showed an anomaly. */
	if (c->anomalies != anomalies_before && getenv("DCF_CHAOS_KEEP") != NULL) {
		char path[256];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s.log", getenv("DCF_CHAOS_KEEP"), r.name);
		if ((f = fopen(path, "we")) != NULL) {
			fputs(r.log ? r.log : "", f);
			fclose(f);
		}
	}
	run_release(&r);
}

/* SIGKILL the supervisor of a busy run; its workers must be gone within 1 s. */
static void
supervisor_kill(struct chaos *c)
{
	const char *args[] = {"--networks", "3", "--nodes", "8", "--tasks", "1000000", "--task-ms",
	    "0-2", "--fail-rate", "0", NULL};
	const char *args2[] = {"--networks", "1", "--nodes", "2", "--tasks", "50", "--task-ms", "0",
	    "--fail-rate", "0", NULL};
	struct run r, r2;
	char want[48];
	uint64_t t0;
	int reaped;

	memset(&r, 0, sizeof(r));
	run_name(r.name, sizeof(r.name), "skill");
	if (run_start(&r, c->sup, args, NULL) == -1) {
		anomaly(c, "cannot start %s", c->sup);
		return;
	}
	/* A random moment: after a random number of tasks have started. */
	snprintf(want, sizeof(want), "Task-%llu started by",
	    (unsigned long long)dcf_rng_range(&c->rng, 0, 3000));
	run_wait_for(&r, want);
	kill(r.pid, SIGKILL);
	t0 = dcf_now_ns();
	waitpid(r.pid, &r.status, 0);
	/* We are the subreaper: every orphan comes back to us, and must within 1 s. */
	if (run_reap_all(t0, 1.0, &reaped) == -1) {
		anomaly(c, "workers still alive 1 s after the supervisor was killed");
		while (waitpid(-1, NULL, 0) > 0)
			;
	}
	close(r.out);
	run_release(&r);
	memset(&r2, 0, sizeof(r2));
	strlcpy(r2.name, r.name, sizeof(r2.name));
	if (run_start(&r2, c->sup, args2, NULL) == -1 || run_finish(&r2) == -1) {
		anomaly(c, "cannot restart %s", r2.name);
		return;
	}
	if (!WIFEXITED(r2.status) || WEXITSTATUS(r2.status) != 0 ||
	    strstr(r2.log, "took over the stale segment") == NULL)
		anomaly(c, "a fresh supervisor of %s did not start cleanly (status %#x)", r2.name,
		    r2.status);
	if (run_shm_exists(r2.name))
		anomaly(c, "/dev/shm/dcf-%s left behind", r2.name);
	c->runs++;
	c->kills++;
	run_release(&r2);
}

/* Copy a program into the private directory; rebuilding the tree mid-soak then cannot break exec. */
static int
copy_prog(struct chaos *c, const char **path, const char *base)
{
	static char store[2][128];
	static int used;
	char buf[1 << 16];
	ssize_t k;
	int in, out, ok = 1;

	if (used >= 2)
		return -1;
	snprintf(store[used], sizeof(store[used]), "%s/%s", c->bindir, base);
	in = open(*path, O_RDONLY | O_CLOEXEC);
	if (in == -1) {
		fprintf(stderr, "dcf-chaos: %s: %s; run make first\n", *path, strerror(errno));
		return -1;
	}
	out = open(store[used], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	if (out == -1) {
		close(in);
		return -1;
	}
	while (ok && (k = read(in, buf, sizeof(buf))) > 0)
		ok = write(out, buf, (size_t)k) == k;
	close(in);
	if (close(out) == -1 || !ok)
		return -1;
	*path = store[used++];
	return 0;
}

static int
private_copies(struct chaos *c)
{
	strlcpy(c->bindir, "/tmp/dcf-chaos.XXXXXX", sizeof(c->bindir));
	if (mkdtemp(c->bindir) == NULL) {
		fprintf(stderr, "dcf-chaos: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	if (copy_prog(c, &c->sup, "dcf-supervisor") == -1 ||
	    copy_prog(c, &c->status, "dcf-status") == -1) {
		remove_copies(c);
		return -1;
	}
	return 0;
}

static void
remove_copies(struct chaos *c)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/dcf-supervisor", c->bindir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/dcf-status", c->bindir);
	unlink(path);
	rmdir(c->bindir);
}

static void
report_kinds(const struct chaos *c)
{
	for (int k = 0; k < c->nkinds; k++)
		fprintf(stderr, "dcf-chaos: %llu x \"%s\"\n", (unsigned long long)c->kinds[k].count,
		    c->kinds[k].fmt);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: dcf-chaos [--seconds S] [--kill-ms MS] [--tasks N] [--supervisor-kills N]\n"
	    "                 [--seed N] [--supervisor PATH] [--status PATH]\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {{"seconds", required_argument, NULL, 's'},
	    {"kill-ms", required_argument, NULL, 'k'}, {"tasks", required_argument, NULL, 't'},
	    {"supervisor-kills", required_argument, NULL, 'K'},
	    {"seed", required_argument, NULL, 'r'}, {"supervisor", required_argument, NULL, 'S'},
	    {"status", required_argument, NULL, 'T'}, {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	struct chaos c;
	uint64_t v, sup_kills = 0;
	double t0, deadline;
	int ch;

	memset(&c, 0, sizeof(c));
	c.sup = "./dcf-supervisor";
	c.status = "./dcf-status";
	c.seconds = 60;
	c.kill_ms = 10;
	c.tasks_per_run = 5000;
	c.seed = (uint64_t)time(NULL);
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
		case 'k':
		case 't':
		case 'K':
		case 'r':
			if (dcf_parse_u64(optarg, ch == 'k' || ch == 't' ? 1 : 0, UINT64_MAX / 2,
			        &v) == -1) {
				fprintf(stderr,
				    "dcf-chaos: bad number '%s'; try 'dcf-chaos --help'\n", optarg);
				return 2;
			}
			if (ch == 's')
				c.seconds = (double)v;
			else if (ch == 'k')
				c.kill_ms = (int)v;
			else if (ch == 't')
				c.tasks_per_run = v;
			else if (ch == 'K')
				sup_kills = v;
			else
				c.seed = v;
			break;
		case 'S':
			c.sup = optarg;
			break;
		case 'T':
			c.status = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	dcf_rng_seed(&c.rng, c.seed);
	if (private_copies(&c) == -1)
		return 1;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	t0 = now_s();
	if (sup_kills > 0) {
		for (uint64_t i = 0; i < sup_kills; i++)
			supervisor_kill(&c);
		printf("dcf-chaos: %.1f s, seed %llu, supervisor kills %llu, fresh starts %llu, "
		       "anomalies %llu\n",
		    now_s() - t0, (unsigned long long)c.seed, (unsigned long long)sup_kills,
		    (unsigned long long)c.runs, (unsigned long long)c.anomalies);
		report_kinds(&c);
		remove_copies(&c);
		return c.anomalies == 0 ? 0 : 1;
	}
	deadline = t0 + c.seconds;
	do
		one_run(&c, deadline);
	while (now_s() < deadline);
	printf("dcf-chaos: %.1f s, seed %llu, runs %llu, tasks %llu, kills %llu (%llu bursts), "
	       "stops %llu (%llu holding the lock), ctrl-z %llu, "
	       "reclaims %llu, restarts %llu, quarantined %llu, status samples %llu, anomalies "
	       "%llu\n",
	    now_s() - t0, (unsigned long long)c.seed, (unsigned long long)c.runs,
	    (unsigned long long)c.tasks, (unsigned long long)c.kills, (unsigned long long)c.bursts,
	    (unsigned long long)c.stops, (unsigned long long)c.lock_stops,
	    (unsigned long long)c.ctrlz, (unsigned long long)c.reclaims,
	    (unsigned long long)c.restarts, (unsigned long long)c.quarantined,
	    (unsigned long long)c.samples, (unsigned long long)c.anomalies);
	report_kinds(&c);
	remove_copies(&c);
	return c.anomalies == 0 ? 0 : 1;
}
