/*
 * test_tasks.c - the user's commands as tasks, through the real
 * dcf-supervisor: every outcome, replacement strings and odd bytes, output
 * grouping, the joblog read back, retries, resume, timeouts that kill a
 * whole tree, and a kill storm of workers after which every task succeeded
 * exactly once, no two runs of a task overlapped and no process is left;
 * --store: a batch resumed where it stood, and the supervisor itself killed
 * at every step of its commits, run after run, until the batch is done.
 *
 * This process is a child subreaper: a task process that escaped dcf would
 * become our child, and each test fails if one is left (then kills it, by
 * PID: it is our child).
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/signalfd.h>

#include "dcf/joblog.h"
#include "dcf/store.h"
#include "../tools/runlib.h"
#include "testutil.h"

#define SUP "./dcf-supervisor"

/* One run's files, in a directory of its own. */
struct crun {
	char dir[64];
	char name[40];
	char path[128]; /* scratch */
	int status;
	char *out, *err;
	size_t out_len;
};

static void
cpath(struct crun *c, const char *file)
{
	snprintf(c->path, sizeof(c->path), "%s/%s", c->dir, file);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0, k;

	if (f == NULL)
		return strdup("");
	do {
		if (n + 4096 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap);
			assert_non_null(nb);
			buf = nb;
		}
		k = fread(buf + n, 1, cap - n - 1, f);
		n += k;
	} while (k > 0);
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

static void
spill(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
crun_init(struct crun *c, const char *tag)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->dir, "/tmp/dcf-test-tasks-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	run_name(c->name, sizeof(c->name), tag);
}

static void
crun_done(struct crun *c)
{
	char cmd[160];

	assert_int_equal(tu_leftovers(), 0);
	assert_false(run_shm_exists(c->name));
	free(c->out);
	free(c->err);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * Run dcf-supervisor --name NAME ARGS... with standard input from input
 * (NULL: /dev/null), standard output and error into files; wait for it
 * (a hang fails the test after 120 s, the supervisor killed by PID).
 */
static void crun_n(struct crun *c, const char *input, size_t len, const char *const *args);

static void
crun(struct crun *c, const char *input, const char *const *args)
{
	crun_n(c, input, input ? strlen(input) : 0, args);
}

/* The same with len bytes of input, NULs and all. */
static void
crun_n(struct crun *c, const char *input, size_t len, const char *const *args)
{
	const char *argv[64];
	int argc = 0, in;
	pid_t pid;

	argv[argc++] = SUP;
	argv[argc++] = "--name";
	argv[argc++] = c->name;
	for (int i = 0; args[i] != NULL; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	cpath(c, "in");
	spill(c->path, input ? input : "", len);
	pid = tu_fork();
	if (pid == 0) {
		char p[128];

		in = open(c->path, O_RDONLY);
		snprintf(p, sizeof(p), "%s/out", c->dir);
		dup2(in, 0);
		dup2(open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644), 1);
		snprintf(p, sizeof(p), "%s/err", c->dir);
		dup2(open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
		execv(SUP, (char *const *)argv);
		_exit(127);
	}
	c->status = tu_waitpid_within(pid, 120.0);
	cpath(c, "out");
	c->out = slurp(c->path, &c->out_len);
	cpath(c, "err");
	c->err = slurp(c->path, NULL);
	if (getenv("DCF_TEST_VERBOSE"))
		fprintf(stderr, "--- stdout\n%s--- stderr\n%s---\n", c->out, c->err);
}

static int
exit_code(const struct crun *c)
{
	return WIFEXITED(c->status) ? WEXITSTATUS(c->status) : 128 + WTERMSIG(c->status);
}

/* The joblog's entries by Seq (1..n): how many lines each had, and the last one's fields. */
struct jl {
	int lines[2048];
	int exitval[2048], sig[2048];
	uint32_t attempts[2048];
	char cmd[2048][128];
	int n; /* entries */
};

static void
read_joblog(struct crun *c, struct jl *j)
{
	char *text, *line, *next;
	int first = 1;

	memset(j, 0, sizeof(*j));
	cpath(c, "jl");
	text = slurp(c->path, NULL);
	for (line = text; *line != '\0'; line = next) {
		struct dcf_joblog_entry e;
		char *nl = strchr(line, '\n');
		int r;

		assert_non_null(nl); /* every line whole */
		next = nl + 1;
		r = dcf_joblog_parse_line(line, (size_t)(nl - line), &e);
		if (first) {
			assert_int_equal(r, DCF_JOBLOG_HEADER);
			first = 0;
			continue;
		}
		assert_int_equal(r, DCF_JOBLOG_ENTRY);
		assert_true(e.dcf);
		assert_true(e.seq >= 1 && e.seq < 2048);
		j->lines[e.seq]++;
		j->exitval[e.seq] = e.exitval;
		j->sig[e.seq] = e.signal;
		j->attempts[e.seq] = e.attempts;
		snprintf(j->cmd[e.seq], sizeof(j->cmd[0]), "%.*s", (int)e.cmd_len, e.cmd);
		j->n++;
	}
	free(text);
}

/* Every outcome, each in the joblog as GNU parallel writes it, the summary and the status. */
static void
test_outcomes(void **state)
{
	struct crun c;
	struct jl j;
	char jl[128];
	(void)state;

	crun_init(&c, "outc");
	snprintf(jl, sizeof(jl), "%s/jl", c.dir);
	crun(&c,
	    "exit 0\n"
	    "exit 3\n"
	    "kill -USR1 $$\n"
	    "trap '' TERM; sleep 30\n"
	    "/nonexistent/dcf-no-such-command\n"
	    "echo out; echo err >&2\n",
	    (const char *const[]){"--nodes", "3", "--timeout", "0.4", "--kill-after", "0.3",
	        "--joblog", jl, "--commands", "-", NULL});
	assert_int_equal(exit_code(&c), 1);
	read_joblog(&c, &j);
	assert_int_equal(j.n, 6);
	for (int s = 1; s <= 6; s++)
		assert_int_equal(j.lines[s], 1);
	assert_int_equal(j.exitval[1], 0);
	assert_int_equal(j.sig[1], 0);
	assert_int_equal(j.exitval[2], 3);
	assert_int_equal(j.exitval[3], 0);
	assert_int_equal(j.sig[3], SIGUSR1);
	assert_int_equal(j.exitval[4], -1); /* timed out: SIGTERM ignored, so SIGKILL */
	assert_int_equal(j.sig[4], SIGKILL);
	assert_int_equal(j.exitval[5], 127); /* sh: not found */
	assert_int_equal(j.exitval[6], 0);
	assert_string_equal(j.cmd[2], "exit 3");
	assert_string_equal(c.out, "out\n");
	assert_non_null(strstr(c.err, "err\n"));
	assert_non_null(
	    strstr(c.err, "6 tasks: 2 succeeded, 3 failed, 1 timed out, 0 quarantined"));
	assert_non_null(strstr(c.err, "Task-4 timed out"));
	assert_non_null(strstr(c.err, "Task-2 failed on Network-0 Node-"));
	crun_done(&c);
}

/* A command executed directly: not found (127) and not executable (126), said why. */
static void
test_noexec(void **state)
{
	struct crun c;
	struct jl j;
	char jl[128], plain[128];
	(void)state;

	crun_init(&c, "noex");
	snprintf(jl, sizeof(jl), "%s/jl", c.dir);
	snprintf(plain, sizeof(plain), "%s/plain", c.dir);
	spill(plain, "x\n", 2);
	crun(&c, "a\n", (const char *const[]){"--joblog", jl, "--", plain, NULL});
	assert_int_equal(exit_code(&c), 1);
	read_joblog(&c, &j);
	assert_int_equal(j.exitval[1], 126);
	assert_non_null(strstr(c.err, "cannot execute: Permission denied (exit status 126)"));
	free(c.out);
	free(c.err);
	crun(&c, "a\n",
	    (const char *const[]){"--joblog", jl, "--", "/nonexistent/dcf-none", "{}", NULL});
	assert_int_equal(exit_code(&c), 1);
	read_joblog(&c, &j);
	assert_int_equal(j.exitval[1], 127);
	assert_non_null(strstr(c.err, "command not found: No such file or directory"));
	crun_done(&c);
}

/* {} and {#}, and lines no shell could pass unharmed, reach the program byte for byte. */
static void
test_odd_bytes(void **state)
{
	static const char input[] = "plain\n"
	                            "two  spaces\n"
	                            "'single' \"double\"\n"
	                            "$(touch /tmp/dcf-pwned) `id` ; rm -rf x\n"
	                            "*\n"
	                            "tab\there\n"
	                            "-n\n"
	                            "\xff\xfe not utf-8\n"
	                            "\n"
	                            "{}\n";
	struct crun c;
	char want[1024];
	size_t n = 0;
	const char *p = input;
	int seq = 0;
	(void)state;

	crun_init(&c, "odd");
	crun(&c, input,
	    (const char *const[]){"--nodes", "1", "--", "printf", "%s|%s|\\n", "{}", "{#}", NULL});
	assert_int_equal(exit_code(&c), 0);
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');

		n += (size_t)snprintf(want + n, sizeof(want) - n, "%.*s|%d|\n", (int)(nl - p), p,
		    ++seq);
		p = nl + 1;
	}
	assert_int_equal(c.out_len, n);
	assert_memory_equal(c.out, want, n);
	assert_int_equal(access("/tmp/dcf-pwned", F_OK), -1);
	crun_done(&c);
}

/* -0: NUL-separated input, so a line may hold a newline (find -print0). */
static void
test_null_separated(void **state)
{
	static const char input[] = "one\0two\nlines\0three";
	struct crun c;
	(void)state;

	crun_init(&c, "nul");
	crun_n(&c, input, sizeof(input) - 1,
	    (const char *const[]){"--nodes", "1", "-0", "--", "printf", "<%s>", NULL});
	assert_int_equal(exit_code(&c), 0);
	assert_string_equal(c.out, "<one><two\nlines><three>");
	crun_done(&c);
}

/* The task's environment and standard input. */
static void
test_environment(void **state)
{
	struct crun c;
	char want[256];
	(void)state;

	crun_init(&c, "env");
	crun(&c,
	    "echo \"$DCF_TASK_ID $DCF_NETWORK $DCF_NODE $DCF_ATTEMPT $DCF_NAME\"; cat; echo end\n",
	    (const char *const[]){"--nodes", "1", "--commands", "-", NULL});
	assert_int_equal(exit_code(&c), 0);
	snprintf(want, sizeof(want), "1 0 0 1 %s\nend\n", c.name);
	assert_string_equal(c.out, want);
	crun_done(&c);
}

/*
 * Output grouping: concurrent tasks that write many lines each, in bursts,
 * to stdout and stderr; each task's output comes out in one piece.
 */
static void
test_grouping(void **state)
{
	struct crun c;
	char input[4096];
	size_t n = 0;
	(void)state;

	crun_init(&c, "grp");
	for (int t = 0; t < 8; t++)
		n += (size_t)snprintf(input + n, sizeof(input) - n,
		    "i=0; while [ $i -lt 300 ]; do echo T%d-$i; echo E%d-$i >&2; i=$((i+1)); "
		    "done\n",
		    t, t);
	crun(&c, input, (const char *const[]){"--nodes", "4", "-q", "--commands", "-", NULL});
	assert_int_equal(exit_code(&c), 0);
	for (int pass = 0; pass < 2; pass++) {
		const char *text = pass == 0 ? c.out : c.err;
		char tag = pass == 0 ? 'T' : 'E';
		int seen[8] = {0}, cur = -1, next = 0, lines = 0;

		for (const char *p = text; *p != '\0';) {
			const char *nl = strchr(p, '\n');
			int t, i;

			assert_non_null(nl);
			if (p[0] == tag && sscanf(p + 1, "%d-%d", &t, &i) == 2) {
				if (cur != t) {
					/* A task's lines start only after the previous task's ended. */
					assert_true(cur == -1 || next == 300);
					assert_int_equal(seen[t], 0);
					seen[t] = 1;
					cur = t;
					next = 0;
				}
				assert_int_equal(i, next);
				next++;
				lines++;
			}
			p = nl + 1;
		}
		assert_int_equal(lines, 8 * 300);
	}
	crun_done(&c);
}

/* Retries: a task that succeeds on its third run, one that never does. */
static void
test_retries(void **state)
{
	struct crun c;
	struct jl j;
	char jl[128];
	(void)state;

	crun_init(&c, "retry");
	snprintf(jl, sizeof(jl), "%s/jl", c.dir);
	crun(&c,
	    "echo run $DCF_ATTEMPT; test $DCF_ATTEMPT -ge 3\n"
	    "exit 4\n",
	    (const char *const[]){"--retries", "2", "--retry-delay", "50ms", "--joblog", jl,
	        "--commands", "-", NULL});
	assert_int_equal(exit_code(&c), 1);
	read_joblog(&c, &j);
	assert_int_equal(j.lines[1], 1);
	assert_int_equal(j.exitval[1], 0);
	assert_int_equal(j.attempts[1], 3);
	assert_int_equal(j.exitval[2], 4);
	assert_int_equal(j.attempts[2], 3);
	/* Only the last run's output. */
	assert_string_equal(c.out, "run 3\n");
	assert_int_equal(run_count(c.err, "retry 1 of 2"), 2);
	assert_int_equal(run_count(c.err, "retry 2 of 2"), 2);
	assert_non_null(strstr(c.err, "2 tasks: 1 succeeded, 1 failed, 0 timed out"));
	crun_done(&c);
}

/* The pids a task tree wrote to a file are all gone. */
static void
assert_gone(struct crun *c, const char *file, int want)
{
	char *text;
	int n = 0;

	cpath(c, file);
	text = slurp(c->path, NULL);
	for (char *p = text; *p != '\0';) {
		pid_t pid = (pid_t)strtol(p, &p, 10);

		if (pid <= 0)
			break;
		n++;
		if (kill(pid, 0) == 0)
			fail_msg("pid %d of a task's tree is still there", (int)pid);
		while (*p == '\n')
			p++;
	}
	free(text);
	assert_int_equal(n, want);
}

/*
 * A timeout kills the whole tree: a setsid grandchild and a process that
 * ignores SIGTERM, which only SIGKILL, --kill-after later, ends.
 */
static void
test_timeout_tree(void **state)
{
	struct crun c;
	char line[512];
	(void)state;

	crun_init(&c, "tmo");
	snprintf(line, sizeof(line),
	    "setsid sh -c 'trap \"\" TERM; echo $$ >> %s/pids; sleep 60' & "
	    "trap '' TERM; echo $$ >> %s/pids; sleep 60 & echo $! >> %s/pids; wait\n",
	    c.dir, c.dir, c.dir);
	crun(&c, line,
	    (const char *const[]){"--timeout", "0.5", "--kill-after", "0.3", "--commands", "-",
	        NULL});
	assert_int_equal(exit_code(&c), 1);
	assert_non_null(strstr(c.err, "Task-1 timed out"));
	assert_gone(&c, "pids", 3);
	/* A task that leaves a background process behind: gone when it ends. */
	free(c.out);
	free(c.err);
	snprintf(line, sizeof(line),
	    "setsid sleep 60 & echo $! >> %s/bg; sleep 60 & echo $! >> %s/bg; exit 0\n", c.dir,
	    c.dir);
	crun(&c, line, (const char *const[]){"--commands", "-", NULL});
	assert_int_equal(exit_code(&c), 0);
	assert_gone(&c, "bg", 2);
	crun_done(&c);
}

/* Resume by command line: after the input is appended to and reordered. */
static void
test_resume(void **state)
{
	struct crun c;
	struct jl j;
	char jl[128];
	(void)state;

	crun_init(&c, "res");
	snprintf(jl, sizeof(jl), "%s/jl", c.dir);
	crun(&c, "echo a\nexit 5\necho b\n",
	    (const char *const[]){"--joblog", jl, "--commands", "-", NULL});
	assert_int_equal(exit_code(&c), 1);
	free(c.out);
	free(c.err);
	/* Reordered, and one line appended: only the new one runs. */
	crun(&c, "echo b\necho c\nexit 5\necho a\n",
	    (const char *const[]){"--joblog", jl, "--resume", "--commands", "-", NULL});
	assert_int_equal(exit_code(&c), 0);
	assert_string_equal(c.out, "c\n");
	free(c.out);
	free(c.err);
	/* --resume-failed: the one that failed runs again (and fails again). */
	crun(&c, "echo b\necho c\nexit 5\necho a\n",
	    (const char *const[]){"--joblog", jl, "--resume-failed", "--commands", "-", NULL});
	assert_int_equal(exit_code(&c), 1);
	assert_string_equal(c.out, "");
	read_joblog(&c, &j);
	/* Seq is the input line: exit 5 was line 2 first, then line 3 twice. */
	assert_int_equal(j.lines[3], 2);
	assert_int_equal(j.exitval[3], 5);
	assert_int_equal(j.n, 5);
	crun_done(&c);
}

/*
 * The kill storm: 1000 tasks, each writing "start ID RUN", ticks from a
 * setsid grandchild, then "end ID RUN" to one file (appends are ordered).
 * Every third task, on its first run, tells the test its worker's PID
 * through a FIFO and waits: the test SIGKILLs that worker while the tree
 * runs. Afterwards: every task succeeded exactly once in the joblog, no
 * line of a run comes after the start of a later run of the same task, and
 * no process is left.
 */
#define STORM 1000

static void
test_kill_storm(void **state)
{
	struct crun c;
	struct jl *j = calloc(1, sizeof(*j));
	char fifo[128], marks[128], jl[128], input[256], *text;
	int fd, kills = 0, pfd, status;
	sigset_t chld, old_mask;
	uint32_t *last = calloc(STORM + 1, sizeof(*last));
	pid_t pid;
	(void)state;

	assert_non_null(j);
	assert_non_null(last);
	crun_init(&c, "storm");
	snprintf(fifo, sizeof(fifo), "%s/fifo", c.dir);
	snprintf(marks, sizeof(marks), "%s/marks", c.dir);
	snprintf(jl, sizeof(jl), "%s/jl", c.dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	fd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	assert_true(fd >= 0);
	snprintf(input, sizeof(input), "%s/script", c.dir);
	{
		char script[1024];
		int n = snprintf(script, sizeof(script),
		    "i=$DCF_TASK_ID; a=$DCF_ATTEMPT; m=%s\n"
		    "echo \"start $i $a\" >> $m\n"
		    "setsid sh -c \"k=0; while [ \\$k -lt 5 ]; do echo \\\"tick $i $a\\\" >> $m; "
		    "k=\\$((k+1)); done; sleep 0.1; echo \\\"tick $i $a\\\" >> $m\" &\n"
		    "if [ $a -eq 1 ] && [ $((i %% 3)) -eq 0 ]; then echo \"$i $PPID\" > %s; "
		    "sleep 30; fi\n"
		    "wait\n"
		    "echo \"end $i $a\" >> $m\n",
		    marks, fifo);

		spill(input, script, (size_t)n);
	}
	/* The input: the same script for every task (the line is its number). */
	{
		char *in = malloc(STORM * 8);
		size_t n = 0;

		assert_non_null(in);
		for (int i = 1; i <= STORM; i++)
			n += (size_t)sprintf(in + n, "%d\n", i);
		cpath(&c, "in");
		spill(c.path, in, n);
		free(in);
	}
	pid = tu_fork();
	if (pid == 0) {
		char p[128];

		snprintf(p, sizeof(p), "%s/in", c.dir);
		dup2(open(p, O_RDONLY), 0);
		dup2(open("/dev/null", O_WRONLY), 1);
		snprintf(p, sizeof(p), "%s/err", c.dir);
		dup2(open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
		execl(SUP, SUP, "--name", c.name, "--nodes", "4", "--max-restarts", "100000",
		    "--max-attempts", "5", "-q", "--joblog", jl, "--", "sh", input, NULL);
		_exit(127);
	}
	/* SIGCHLD through a signalfd: the supervisor's end wakes the loop (no pidfd
	 * under valgrind 3.19). */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old_mask);
	pfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	assert_true(pfd >= 0);
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = pfd, .events = POLLIN}};
		struct signalfd_siginfo si;
		siginfo_t wi;
		char buf[4096];
		ssize_t n;

		assert_true(poll(p, 2, 120000) > 0);
		if (p[0].revents & POLLIN) {
			n = read(fd, buf, sizeof(buf) - 1);
			if (n > 0) {
				buf[n] = '\0';
				for (char *q = buf; *q != '\0';) {
					long id = strtol(q, &q, 10), wpid = strtol(q, &q, 10);

					while (*q == '\n')
						q++;
					/* Only the supervisor's own child: a worker. */
					if (wpid > 0 && id > 0 && run_child_of((pid_t)wpid, pid)) {
						kill((pid_t)wpid, SIGKILL);
						kills++;
					}
				}
			}
			continue;
		}
		while (read(pfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			;
		memset(&wi, 0, sizeof(wi));
		if (waitid(P_PID, (id_t)pid, &wi, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    wi.si_pid == pid)
			break;
	}
	close(pfd);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	status = tu_waitpid_within(pid, 60.0);
	close(fd);
	c.status = status;
	cpath(&c, "err");
	c.err = slurp(c.path, NULL);
	assert_int_equal(exit_code(&c), 0);
	assert_true(kills >= STORM / 3 - 5);
	read_joblog(&c, j);
	assert_int_equal(j->n, STORM);
	for (int s = 1; s <= STORM; s++) {
		assert_int_equal(j->lines[s], 1);
		assert_int_equal(j->exitval[s], 0);
	}
	/* In the order the appends happened: a run's lines never after a later run's start. */
	text = slurp(marks, NULL);
	for (char *q = text; *q != '\0';) {
		char what[8];
		unsigned id, run;

		assert_int_equal(sscanf(q, "%7s %u %u", what, &id, &run), 3);
		assert_true(id >= 1 && id <= STORM);
		if (strcmp(what, "start") == 0) {
			assert_true(run > last[id]);
			last[id] = run;
		} else if (run != last[id]) {
			fail_msg("task %u: '%s' of run %u after run %u started", id, what, run,
			    last[id]);
		}
		q = strchr(q, '\n');
		assert_non_null(q);
		q++;
	}
	free(text);
	free(last);
	free(j);
	crun_done(&c);
}

/* --- --store ------------------------------------------------------------- */

/* A store's tasks: state[id] = its state + 1 (0: not there); how many there are. */
struct states {
	uint32_t *state;
	uint32_t max, n;
};

static int
note_state(void *arg, const struct dcf_store_task *t)
{
	struct states *s = arg;

	s->n++;
	if (t->id < s->max)
		s->state[t->id] = t->state + 1;
	return 0;
}

static uint32_t
store_states(const char *path, uint32_t *state, uint32_t max)
{
	struct dcf_store_open_opts o = {.where = path, .readonly = 1};
	struct states s = {.state = state, .max = max};
	struct dcf_store *st;
	char err[256];

	memset(state, 0, max * sizeof(*state));
	if ((st = dcf_store_open(&o, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	if (dcf_store_list(st, -1, 0, 1u << 30, note_state, &s, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	dcf_store_close(st);
	return s.n;
}

/*
 * A batch with --store resumes where it stood: what finished is skipped,
 * what failed stays failed, lines past the end run; another input's
 * lines are refused; --store with --resume is a usage error that
 * creates nothing.
 */
static void
test_store_resume(void **state)
{
	struct crun c;
	char st[128];
	uint32_t states[8];
	(void)state;

	crun_init(&c, "sres");
	snprintf(st, sizeof(st), "%s/s.db", c.dir);
	crun(&c, "echo a\nexit 5\necho b\n",
	    (const char *const[]){"--store", st, "--commands", "-", NULL});
	assert_int_equal(exit_code(&c), 1);
	assert_int_equal(store_states(st, states, 8), 3);
	assert_int_equal(states[1], DCF_SS_DONE + 1);
	assert_int_equal(states[2], DCF_SS_FAILED + 1);
	assert_int_equal(states[3], DCF_SS_DONE + 1);
	free(c.out);
	free(c.err);
	/* The same lines and one more: only the new one runs. */
	crun(&c, "echo a\nexit 5\necho b\necho c\n",
	    (const char *const[]){"--store", st, "--commands", "-", NULL});
	assert_int_equal(exit_code(&c), 0);
	assert_string_equal(c.out, "c\n");
	assert_non_null(strstr(c.err, "3 skipped (in the store)"));
	assert_int_equal(store_states(st, states, 8), 4);
	assert_int_equal(states[4], DCF_SS_DONE + 1);
	free(c.out);
	free(c.err);
	/* Another input: refused at its first different line, nothing run. */
	crun(&c, "echo a\necho x\n", (const char *const[]){"--store", st, "--commands", "-", NULL});
	assert_int_equal(exit_code(&c), 1);
	assert_string_equal(c.out, "");
	assert_non_null(strstr(c.err, "input line 2 is not the command the store ran as task 2"));
	assert_int_equal(store_states(st, states, 8), 4);
	free(c.out);
	free(c.err);
	/* A store and a joblog resume: one or the other. */
	snprintf(c.path, sizeof(c.path), "%s/new.db", c.dir);
	crun(&c, "echo a\n",
	    (const char *const[]){"--store", c.path, "--joblog", st, "--resume", "--commands", "-",
	        NULL});
	assert_int_equal(exit_code(&c), 2);
	assert_non_null(strstr(c.err, "--resume reads the joblog, --store resumes by itself"));
	snprintf(c.path, sizeof(c.path), "%s/new.db", c.dir);
	assert_int_equal(access(c.path, F_OK), -1);
	free(c.out);
	free(c.err);
	/* Not a store: refused, left as it was. */
	crun(&c, "echo a\n", (const char *const[]){"--store", c.dir, "--commands", "-", NULL});
	assert_int_equal(exit_code(&c), 2);
	cpath(&c, "in");
	{
		char in[128];

		snprintf(in, sizeof(in), "%s", c.path);
		free(c.out);
		free(c.err);
		crun(&c, "echo a\n", (const char *const[]){"--store", in, "--commands", "-", NULL});
		assert_int_equal(exit_code(&c), 1);
		assert_non_null(strstr(c.err, "is corrupt"));
	}
	crun_done(&c);
}

/*
 * The supervisor SIGKILLed at each step of its commits (a batch taken,
 * its rows written but not committed, committed but not yet told), at the
 * 1st to 4th commit of a run, run after run on the same store, then a run
 * to the end. How many commits a run makes depends on how outcomes group,
 * so only a kill at the 1st commit is certain: every run asked for one
 * that had work left must have died of it, and the first three runs (all
 * of whose commits are the first) cover each step. Each task appends "start ID INC RUN" and "end ID INC RUN"
 * (INC: the run of the supervisor). Afterwards every task is done in the
 * store exactly once; no task that the store had as finished when a run
 * began started in that run; no line of a task's run comes after another
 * run of it started (the killed runs' trees were gone first); nothing is
 * left behind.
 */
#define SC_TASKS 40
#define SC_RUNS  24

static void
test_store_crash(void **state)
{
	struct crun c;
	char st[128], marks[128], script[128];
	static uint8_t done_at[SC_RUNS + 2][SC_TASKS + 1];
	uint32_t states[SC_TASKS + 1], ends[SC_TASKS + 1];
	int certain = 0;
	(void)state;

	crun_init(&c, "scrash");
	snprintf(st, sizeof(st), "%s/s.db", c.dir);
	snprintf(marks, sizeof(marks), "%s/marks", c.dir);
	snprintf(script, sizeof(script), "%s/script", c.dir);
	{
		char body[512];
		int n = snprintf(body, sizeof(body),
		    "i=$DCF_TASK_ID; m=%s\n"
		    "echo \"start $i $INC $DCF_ATTEMPT\" >> $m\n"
		    "k=0; while [ $k -lt $((i %% 7 * 20)) ]; do k=$((k+1)); done\n"
		    "echo \"end $i $INC $DCF_ATTEMPT\" >> $m\n",
		    marks);

		spill(script, body, (size_t)n);
	}
	{
		char in[SC_TASKS * 4];
		size_t n = 0;

		for (int i = 1; i <= SC_TASKS; i++)
			n += (size_t)sprintf(in + n, "%d\n", i);
		cpath(&c, "in");
		spill(c.path, in, n);
	}
	memset(done_at, 0, sizeof(done_at));
	for (int inc = 1; inc <= SC_RUNS + 1; inc++) {
		pid_t pid;
		int status, left = SC_TASKS, nth = 1 + (inc - 1) / 3 % 4;

		if (access(st, F_OK) == 0) {
			(void)store_states(st, states, SC_TASKS + 1);
			for (int i = 1; i <= SC_TASKS; i++) {
				done_at[inc][i] = states[i] == DCF_SS_DONE + 1;
				left -= done_at[inc][i];
			}
		}
		pid = tu_fork();
		if (pid == 0) {
			char p[128], v[64];
			const char *bin = inc <= SC_RUNS ? "./build/inj/dcf-supervisor" : SUP;

			snprintf(v, sizeof(v), "%d", inc);
			setenv("INC", v, 1);
			/* Steps 0, 1, 2 in turn; the 1st to 4th commit of the run. */
			snprintf(v, sizeof(v), "store:%d:%d", inc % 3, nth);
			if (inc <= SC_RUNS)
				setenv("DCF_INJECT_SUP", v, 1);
			snprintf(p, sizeof(p), "%s/in", c.dir);
			dup2(open(p, O_RDONLY), 0);
			dup2(open("/dev/null", O_WRONLY), 1);
			snprintf(p, sizeof(p), "%s/err", c.dir);
			dup2(open(p, O_WRONLY | O_CREAT | O_APPEND, 0644), 2);
			execl(bin, bin, "--name", c.name, "--nodes", "4", "-q", "--store", st, "--",
			    "sh", script, NULL);
			_exit(127);
		}
		status = tu_waitpid_within(pid, 120.0);
		if (inc <= SC_RUNS && nth == 1 && left > 0) {
			assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
			certain++;
		} else if (inc <= SC_RUNS && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
			assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		c.status = status;
		/* The killed run's workers come to us (a subreaper): reaped, never waited for. */
		while (waitpid(-1, &status, WNOHANG) > 0)
			;
	}
	assert_int_equal(exit_code(&c), 0);
	assert_true(certain >= 3);
	assert_int_equal(store_states(st, states, SC_TASKS + 1), SC_TASKS);
	for (int i = 1; i <= SC_TASKS; i++)
		assert_int_equal(states[i], DCF_SS_DONE + 1);
	memset(ends, 0, sizeof(ends));
	tu_check_marks(slurp(marks, NULL), SC_TASKS + 1, SC_RUNS + 1, &done_at[0][0], SC_TASKS + 1,
	    ends);
	for (int i = 1; i <= SC_TASKS; i++)
		assert_true(ends[i] >= 1);
	crun_done(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_outcomes),
	    cmocka_unit_test(test_noexec),
	    cmocka_unit_test(test_odd_bytes),
	    cmocka_unit_test(test_null_separated),
	    cmocka_unit_test(test_environment),
	    cmocka_unit_test(test_grouping),
	    cmocka_unit_test(test_retries),
	    cmocka_unit_test(test_timeout_tree),
	    cmocka_unit_test(test_resume),
	    cmocka_unit_test(test_kill_storm),
	    cmocka_unit_test(test_store_resume),
	    cmocka_unit_test(test_store_crash),
	};

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	if (getenv("DCF_TEST_ONLY") != NULL) /* e.g. DCF_TEST_ONLY='*storm*' */
		cmocka_set_test_filter(getenv("DCF_TEST_ONLY"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
