/*
 * test_service.c - service mode through the real programs: dcf-supervisor
 * --serve and dcf-submit. Usage errors; an id printed only once the store
 * has the task; --wait's exit statuses; keys that make a submission
 * idempotent (a submitter killed before it read its answer retries
 * safely); --batch in order; the submitter's working directory; output
 * read back (--stderr, --tasks/--task --json); malformed requests and
 * another user refused with nothing changed; a refused store or socket
 * directory that leaves nothing made; the default store; --keep by age; a
 * graceful stop that keeps the queue; and the crash test: the
 * supervisor SIGKILLed over and over (at random moments of a stream of
 * submissions and at each step of its commits) while tasks append start
 * and end marks, restarted each time, after which every acknowledged task
 * finished exactly once in the store, no two runs of a task overlapped, no
 * process is left and the store's integrity check passes.
 *
 * This process is a child subreaper: a killed supervisor's workers come to
 * it and are reaped; a task process left at the end fails the test.
 */
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <sqlite3.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "testutil.h"
#include "../tools/runlib.h"
#include "dcf/proto.h"
#include "dcf/store.h"
#include "dcf/svc.h"

struct sfix {
	char dir[64];
	char store[160];
	char name[40];
	char sup_bin[PATH_MAX], sub_bin[PATH_MAX], sta_bin[PATH_MAX], ctl_bin[PATH_MAX];
	int default_store; /* sup_start gives no --store: the service's own (f->store says where) */
	uid_t as_uid;      /* run_bin runs its program as this user, and its group (0: as we are) */
	pid_t sup;
	int log_fd; /* the supervisor's stderr */
	char log[65536];
	size_t log_len;
};

static int
setup(void **state)
{
	struct sfix *f = calloc(1, sizeof(*f));
	char p[160];

	tu_setup(state);
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/dcf-svc-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(p, sizeof(p), "%s/run", f->dir);
	mkdir(p, 0700);
	setenv("XDG_RUNTIME_DIR", p, 1);
	snprintf(p, sizeof(p), "%s/state", f->dir);
	mkdir(p, 0700);
	setenv("XDG_STATE_HOME", p, 1);
	snprintf(f->store, sizeof(f->store), "%s/s.db", f->dir);
	tu_name(f->name, sizeof(f->name), "svc");
	if (realpath("./dcf-supervisor", f->sup_bin) == NULL ||
	    realpath("./dcf-submit", f->sub_bin) == NULL ||
	    realpath("./dcf-status", f->sta_bin) == NULL ||
	    realpath("./dcf-ctl", f->ctl_bin) == NULL) {
		rmdir(p);
		snprintf(p, sizeof(p), "%s/run", f->dir);
		rmdir(p);
		rmdir(f->dir);
		free(f);
		return -1;
	}
	f->sup = 0;
	f->log_fd = -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct sfix *f = *state;
	int r;

	if (f != NULL && f->log_fd >= 0)
		close(f->log_fd);
	r = tu_teardown(state);
	if (f != NULL) {
		tu_rm_tree(f->dir);
		free(f);
	}
	return r;
}

/* Read the supervisor's log until it holds what: 0; -1 if it ended first (fails after secs). */
static int
log_wait(struct sfix *f, const char *what, double secs)
{
	uint64_t deadline = tu_deadline((uint64_t)(secs * 1000));

	while (f->log_len == 0 || strstr(f->log, what) == NULL) {
		struct pollfd p = {.fd = f->log_fd, .events = POLLIN};
		ssize_t n;

		if (dcf_now_ns() > deadline)
			fail_msg("the supervisor's log has no \"%s\": %s", what, f->log);
		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(f->log_fd, f->log + f->log_len, sizeof(f->log) - 1 - f->log_len);
		if (n <= 0)
			return -1;
		f->log_len += (size_t)n;
		f->log[f->log_len] = '\0';
	}
	return 0;
}

/*
 * Start dcf-supervisor --serve (bin: which build), wait until it serves: 0,
 * or -1 if it ended first (may_die: a crash point may end it; else a failure).
 */
static int
sup_start_maybe(struct sfix *f, const char *bin, const char *const *extra, int may_die)
{
	const char *argv[32];
	int n = 0, p[2];

	argv[n++] = bin;
	argv[n++] = "--serve";
	argv[n++] = "--name";
	argv[n++] = f->name;
	if (!f->default_store) {
		argv[n++] = "--store";
		argv[n++] = f->store;
	}
	for (int i = 0; extra != NULL && extra[i] != NULL; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	f->sup = tu_fork();
	if (f->sup == 0) {
		dup2(p[1], 2);
		dup2(open("/dev/null", O_WRONLY), 1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	if (f->log_fd >= 0)
		close(f->log_fd);
	f->log_fd = p[0];
	f->log_len = 0;
	f->log[0] = '\0';
	if (log_wait(f, "serving '", 30) == 0)
		return 0;
	if (!may_die)
		fail_msg("the supervisor ended before it served: %s", f->log);
	return -1;
}

static void
sup_start(struct sfix *f, const char *bin, const char *env, const char *const *extra)
{
	assert_null(env);
	(void)sup_start_maybe(f, bin, extra, 0);
}

static int
sup_stop(struct sfix *f, int sig)
{
	int st;

	kill(f->sup, sig);
	st = tu_waitpid_within(f->sup, 60);
	f->sup = 0;
	return st;
}

/* Run bin --name NAME ARGS with input on stdin, in dir (NULL: ours); its status and stdout. */
static int
run_bin(struct sfix *f, const char *bin, const char *dir, const char *input, char *out,
    size_t outlen, const char *const *args)
{
	const char *argv[32];
	char in[128], o[128];
	int n = 0, st, fd;
	pid_t pid;

	argv[n++] = bin;
	argv[n++] = "--name";
	argv[n++] = f->name;
	for (int i = 0; args[i] != NULL; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	snprintf(in, sizeof(in), "%s/sub.in", f->dir);
	snprintf(o, sizeof(o), "%s/sub.out", f->dir);
	fd = open(in, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	if (input != NULL)
		assert_int_equal(write(fd, input, strlen(input)), (ssize_t)strlen(input));
	close(fd);
	pid = tu_fork();
	if (pid == 0) {
		char e[128];

		snprintf(e, sizeof(e), "%s/sub.err", f->dir);
		dup2(open(in, O_RDONLY), 0);
		dup2(open(o, O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
		dup2(open(e, O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
		if (dir != NULL && chdir(dir) == -1)
			_exit(99);
		if (f->as_uid != 0 &&
		    (setgroups(0, NULL) == -1 || setgid((gid_t)f->as_uid) == -1 ||
		        setuid(f->as_uid) == -1))
			_exit(98);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	st = tu_waitpid_within(pid, 120);
	if (out != NULL) {
		ssize_t k;

		fd = open(o, O_RDONLY);
		k = read(fd, out, outlen - 1);
		out[k > 0 ? k : 0] = '\0';
		close(fd);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int
submit(struct sfix *f, const char *dir, const char *input, char *out, size_t outlen,
    const char *const *args)
{
	return run_bin(f, f->sub_bin, dir, input, out, outlen, args);
}

static char *
sub_err(struct sfix *f)
{
	static char buf[4096];
	char p[128];
	int fd;
	ssize_t k;

	snprintf(p, sizeof(p), "%s/sub.err", f->dir);
	fd = open(p, O_RDONLY);
	k = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : 0;
	buf[k > 0 ? k : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return buf;
}

/* Nothing at path (formatted): 1, or 0 if something is there. */
static int
absent(const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return access(path, F_OK) == -1 && errno == ENOENT;
}

/* The store, read-only: how many tasks, and one's state (0 none, else state + 1). */
static int
got_state(void *arg, const struct dcf_store_task *t)
{
	*(uint32_t *)arg = t->state + 1;
	return 0;
}

static uint32_t
state_of(struct sfix *f, uint64_t id)
{
	struct dcf_store_open_opts o = {.where = f->store, .readonly = 1};
	char err[256];
	struct dcf_store *st = dcf_store_open(&o, err, sizeof(err));
	uint32_t s = 0;

	if (st == NULL)
		fail_msg("%s", err);
	assert_true(dcf_store_get(st, id, got_state, &s, err, sizeof(err)) >= 0);
	dcf_store_close(st);
	return s;
}

static uint64_t
count_all(struct sfix *f, struct dcf_store_counts *c)
{
	struct dcf_store_open_opts o = {.where = f->store, .readonly = 1};
	char err[256];
	struct dcf_store *st = dcf_store_open(&o, err, sizeof(err));
	uint64_t n = 0;

	if (st == NULL)
		fail_msg("%s", err);
	assert_int_equal(dcf_store_count(st, c, err, sizeof(err)), 0);
	for (int i = 0; i < DCF_SS_NSTATES; i++)
		n += c->by_state[i];
	dcf_store_close(st);
	return n;
}

/* done[id] = 1 for every task the store has done (ids below max). */
struct done_set {
	uint8_t *done;
	uint64_t max;
};

static int
note_done(void *arg, const struct dcf_store_task *t)
{
	struct done_set *d = arg;

	if (t->id < d->max && t->state == DCF_SS_DONE)
		d->done[t->id] = 1;
	return 0;
}

static void
done_ids(struct sfix *f, uint8_t *done, uint64_t max)
{
	struct dcf_store_open_opts o = {.where = f->store, .readonly = 1};
	struct done_set d = {.done = done, .max = max};
	char err[256];
	struct dcf_store *st;

	memset(done, 0, max);
	if (access(f->store, F_OK) != 0)
		return;
	if ((st = dcf_store_open(&o, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	assert_int_equal(dcf_store_list(st, DCF_SS_DONE, 0, 1u << 30, note_done, &d, err,
	                     sizeof(err)),
	    0);
	dcf_store_close(st);
}

/* --- tests ------------------------------------------------------------------ */

static void
test_usage(void **state)
{
	struct sfix *f = *state;
	char out[256];
	int st;
	pid_t pid;

	/* No supervisor: a runtime error that says what to do. */
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "true", NULL}),
	    1);
	assert_non_null(strstr(sub_err(f), "no supervisor serves"));
	assert_string_equal(out, "");
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out), (const char *const[]){NULL}), 2);
	assert_non_null(strstr(sub_err(f), "give the command"));
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--commands", "--", "x", NULL}),
	    2);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--key", "a\tb", "--", "x", NULL}),
	    2);
	/* --serve takes no command and no input. */
	pid = tu_fork();
	if (pid == 0) {
		dup2(open("/dev/null", O_WRONLY), 2);
		execl(f->sup_bin, f->sup_bin, "--serve", "--store", f->store, "--", "true", NULL);
		_exit(127);
	}
	st = tu_waitpid_within(pid, 30);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	assert_int_equal(access(f->store, F_OK), -1);
	/* --keep is --serve's; --serve has no input: one line each, exit 2, nothing made. */
	{
		static const char *const bad[][5] = {{"--keep", "3", "--", "true", NULL},
		    {"--serve", "--arg-file", "/dev/null", NULL}, {"--serve", "--null", NULL},
		    {"--serve", "--resume", NULL}, {"--serve", "--resume-failed", NULL}};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			const char *a[8] = {"--store", f->store};
			char want[256];

			for (int k = 0; bad[i][k] != NULL; k++)
				a[2 + k] = bad[i][k];
			assert_int_equal(run_bin(f, f->sup_bin, NULL, NULL, out, sizeof(out), a),
			    2);
			if (i == 0)
				snprintf(want, sizeof(want),
				    "dcf-supervisor: --keep is for --serve: a batch's store keeps "
				    "every task; try 'dcf-supervisor --help'\n");
			else
				snprintf(want, sizeof(want),
				    "dcf-supervisor: %s reads an input; "
				    "--serve has none (dcf-submit --batch reads one); "
				    "try 'dcf-supervisor --help'\n",
				    bad[i][1]);
			assert_string_equal(sub_err(f), want);
			assert_string_equal(out, "");
			assert_true(absent("%s", f->store));
			assert_true(absent("%s.out", f->store));
			assert_true(absent("%s/run/dcf", f->dir));
		}
	}
	assert_int_equal(tu_leftovers(), 0);
}

static void
test_submit(void **state)
{
	struct sfix *f = *state;
	char out[4096], p[256], id1[32];
	struct dcf_store_counts c;

	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "2", NULL});
	/* An id printed means the store has the task. */
	assert_int_equal(submit(f, f->dir, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "sh", "-c", "echo out $DCF_TASK_ID; pwd",
	                         NULL}),
	    0);
	snprintf(id1, sizeof(id1), "%.30s", out);
	assert_string_equal(id1, "1\n");
	assert_true(state_of(f, 1) != 0);
	/* --wait: each way of ending, as an exit status. */
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "sh", "-c", "exit 3", NULL}),
	    3);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "sh", "-c", "kill -9 $$", NULL}),
	    137);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--timeout", "0.2s", "--", "sleep",
	                         "30", NULL}),
	    124);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "/nonexistent/cmd", NULL}),
	    127);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--retries", "2", "--", "sh", "-c",
	                         "[ $DCF_ATTEMPT -ge 3 ]", NULL}),
	    0);
	/* A key: the second submission is answered with the first's id, nothing new. */
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--key", "nightly", "--", "true", NULL}),
	    0);
	snprintf(p, sizeof(p), "%.200s", out);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--key", "nightly", "--", "false", NULL}),
	    0);
	assert_string_equal(out, p);
	/* Its output, kept by id beside the store; run in the submitter's directory. */
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "true", NULL}),
	    0);
	snprintf(p, sizeof(p), "%s.out/1/stdout", f->store);
	{
		char want[256], got[256] = "";
		int fd = open(p, O_RDONLY);
		ssize_t k;

		assert_true(fd >= 0);
		k = read(fd, got, sizeof(got) - 1);
		got[k > 0 ? k : 0] = '\0';
		close(fd);
		snprintf(want, sizeof(want), "out 1\n%s\n", f->dir);
		assert_string_equal(got, want);
	}
	/* Read back: the list, one task, its output, a state's tasks. */
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--tasks", "--store", f->store, NULL}),
	    0);
	assert_non_null(strstr(out, "       1  done"));
	assert_non_null(strstr(out, "       2  failed       "));
	assert_non_null(strstr(out, "exit 3"));
	assert_non_null(strstr(out, "timed out"));
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--tasks", "--state", "failed", "--store",
	                         f->store, NULL}),
	    0);
	assert_null(strstr(out, "done"));
	assert_non_null(strstr(out, "signal 9"));
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--task", "1", "--store", f->store, NULL}),
	    0);
	assert_non_null(strstr(out, "task 1: done"));
	assert_non_null(strstr(out, "command    sh -c 'echo out $DCF_TASK_ID; pwd'"));
	assert_non_null(strstr(out, "/1/stdout"));
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--stdout", "1", "--store", f->store, NULL}),
	    0);
	assert_non_null(strstr(out, "out 1\n"));
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--task", "999", "--store", f->store, NULL}),
	    1);
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--state", "done", NULL}),
	    2);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(count_all(f, &c), 8);
	assert_int_equal(c.by_state[DCF_SS_DONE], 4);
	assert_int_equal(c.by_state[DCF_SS_FAILED], 4);
	assert_int_equal(tu_leftovers(), 0);
}

static void
test_batch(void **state)
{
	struct sfix *f = *state;
	static char in[8192], out[16384];
	struct dcf_store_counts c;
	size_t n = 0;
	uint64_t last = 0, k = 0;

	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "3", NULL});
	for (int i = 1; i <= 500; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "%d\n", i);
	assert_int_equal(submit(f, NULL, in, out, sizeof(out),
	                     (const char *const[]){"--batch", "--wait", "--", "test", "{}", "-gt",
	                         "0", NULL}),
	    0);
	for (char *q = out; *q != '\0'; k++) {
		uint64_t id = strtoull(q, &q, 10);

		assert_true(id > last);
		last = id;
		assert_int_equal(*q, '\n');
		q++;
	}
	assert_int_equal(k, 500);
	/* A line the supervisor refuses (too long a command for a task): said, the others go. */
	{
		static char big[80000 + 16];
		size_t at = (size_t)snprintf(big, sizeof(big), "a\n");

		memset(big + at, 'x', 80000);
		at += 80000;
		memcpy(big + at, "\nb\n", 4);
		assert_int_equal(submit(f, NULL, big, out, sizeof(out),
		                     (const char *const[]){"--batch", "--", "echo", "{}", "{}",
		                         NULL}),
		    1);
		assert_non_null(strstr(sub_err(f), "input line 2 refused"));
		/* A refusal takes no id. */
		assert_int_equal(strtoull(out, NULL, 10) + 1,
		    strtoull(strchr(out, '\n') + 1, NULL, 10));
	}
	/* --commands, and a line that fails: the batch says so. */
	assert_int_equal(submit(f, NULL, "true\nexit 4\n", out, sizeof(out),
	                     (const char *const[]){"--batch", "--commands", "--wait", NULL}),
	    1);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(count_all(f, &c), 504);
	assert_int_equal(c.by_state[DCF_SS_DONE], 503);
	assert_int_equal(tu_leftovers(), 0);
}

/* A raw connection to the socket, or -1 if nobody listens (a supervisor that died at a crash point). */
static int
raw_connect_maybe(struct sfix *f)
{
	struct sockaddr_un sa;
	char err[128];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_int_equal(svc_paths(f->name, sa.sun_path, sizeof(sa.sun_path), NULL, 0, err,
	                     sizeof(err)),
	    0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
raw_connect(struct sfix *f)
{
	int fd = raw_connect_maybe(f);

	assert_true(fd >= 0);
	return fd;
}

/* What one writer writes into the FIFO at path, up to its close. */
static void
fifo_line(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	size_t off = 0;
	ssize_t k;

	assert_true(fd >= 0);
	while (off < size - 1 && (k = read(fd, buf + off, size - 1 - off)) > 0)
		off += (size_t)k;
	buf[off] = '\0';
	close(fd);
}

static char *
slurp_file(const char *path)
{
	struct stat sb;
	int fd = open(path, O_RDONLY);
	char *buf;
	size_t off = 0;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	buf = malloc((size_t)sb.st_size + 1);
	assert_non_null(buf);
	while (off < (size_t)sb.st_size) {
		ssize_t k = read(fd, buf + off, (size_t)sb.st_size - off);

		assert_true(k > 0);
		off += (size_t)k;
	}
	buf[off] = '\0';
	close(fd);
	return buf;
}

/* Everything the supervisor says until it closes; the first message parsed into m. */
static void
read_reply_and_eof(int fd, struct dcf_msg *m, unsigned char *buf, size_t cap)
{
	size_t len = 0, used;
	uint32_t code;
	char err[128];
	ssize_t k;

	while ((k = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)k;
	assert_int_equal(dcf_proto_parse(buf, len, 4096, m, &used, &code, err, sizeof(err)), 1);
}

/* A SUBMIT of `true` in /, with key (or none), built into buf: its size. */
static size_t
true_frame(unsigned char *buf, size_t cap, uint32_t tag, const char *key)
{
	struct dcf_msg s = {.type = DCF_MSG_SUBMIT, .tag = tag};
	size_t n;

	s.u.submit.net = DCF_NET_ANY;
	s.u.submit.key = key;
	s.u.submit.key_len = key != NULL ? (uint32_t)strlen(key) : 0;
	s.u.submit.cwd = "/";
	s.u.submit.cwd_len = 1;
	s.u.submit.cmd = "true";
	s.u.submit.cmd_len = 5;
	n = dcf_proto_build(buf, cap, &s);
	assert_true(n > 0);
	return n;
}

static void
test_refusals(void **state)
{
	struct sfix *f = *state;
	static unsigned char buf[DCF_PROTO_MAX];
	struct dcf_store_counts c;
	struct dcf_msg m;
	int fd;

	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", NULL});
	/* Another protocol version: an error, then the end; nothing recorded. */
	fd = raw_connect(f);
	{
		unsigned char bad[12] = {8, 0, 0, 0, 9, 0, 1, 0, 7, 0, 0, 0};

		assert_int_equal(write(fd, bad, sizeof(bad)), (ssize_t)sizeof(bad));
	}
	read_reply_and_eof(fd, &m, buf, sizeof(buf));
	close(fd);
	assert_int_equal(m.type, DCF_MSG_ERROR);
	assert_int_equal(m.u.error.code, DCF_PE_VERSION);
	/* Lengths that lie. */
	fd = raw_connect(f);
	{
		size_t n = true_frame(buf, sizeof(buf), 5, NULL);

		buf[40] = 3; /* key_len */
		assert_int_equal(write(fd, buf, n), (ssize_t)n);
	}
	read_reply_and_eof(fd, &m, buf, sizeof(buf));
	close(fd);
	assert_int_equal(m.type, DCF_MSG_ERROR);
	assert_int_equal(m.u.error.code, DCF_PE_BADMSG);
	/* A submitter killed halfway through its request: nothing. */
	fd = raw_connect(f);
	{
		size_t n = true_frame(buf, sizeof(buf), 6, "half");

		assert_int_equal(write(fd, buf, n - 3), (ssize_t)(n - 3));
	}
	close(fd);
	/* And one killed after its whole request, before its answer: the task is
	 * there once, and a retry with its key finds it. */
	fd = raw_connect(f);
	{
		size_t n = true_frame(buf, sizeof(buf), 7, "whole");

		assert_int_equal(write(fd, buf, n), (ssize_t)n);
	}
	close(fd);
	{
		char out[64], out2[64];

		assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
		                     (const char *const[]){"--key", "whole", "--wait", "--", "true",
		                         NULL}),
		    0);
		assert_int_equal(submit(f, NULL, NULL, out2, sizeof(out2),
		                     (const char *const[]){"--key", "half", "--", "true", NULL}),
		    0);
		/* "whole" was task 1; "half" never was (ids of duplicates are not given again). */
		assert_string_equal(out, "1\n");
		assert_true(strtoull(out2, NULL, 10) > 1);
	}
	/* Another user: refused by its credentials (root can be another user). */
	if (geteuid() == 0) {
		char d[160];
		pid_t pid;
		int st;

		chmod(f->dir, 0711);
		snprintf(d, sizeof(d), "%s/run/dcf", f->dir);
		chmod(d, 0711);
		snprintf(d, sizeof(d), "%s/run", f->dir);
		chmod(d, 0711);
		snprintf(d, sizeof(d), "%s/run/dcf/%s.sock", f->dir, f->name);
		chmod(d, 0777);
		pid = tu_fork();
		if (pid == 0) {
			if (setgid(65534) == -1 || setuid(65534) == -1)
				_exit(70);
			fd = raw_connect(f);
			read_reply_and_eof(fd, &m, buf, sizeof(buf));
			_exit(m.type == DCF_MSG_ERROR && m.u.error.code == DCF_PE_DENIED ? 0 : 71);
		}
		st = tu_waitpid_within(pid, 30);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(count_all(f, &c), 2);
	assert_int_equal(tu_leftovers(), 0);
}

/* The pid the store has for task id's run while it runs (bounded wait; 0 if none). */
static int
got_pid(void *arg, const struct dcf_store_task *t)
{
	if (t->state == DCF_SS_RUNNING)
		*(pid_t *)arg = t->pid;
	return 0;
}

static pid_t
running_pid(struct sfix *f, uint64_t id)
{
	struct dcf_store_open_opts o = {.where = f->store, .readonly = 1};
	uint64_t deadline = tu_deadline(30000);
	char err[256];
	pid_t pid = 0;

	while (pid == 0 && dcf_now_ns() < deadline) {
		struct dcf_store *st = dcf_store_open(&o, err, sizeof(err));
		struct timespec ts = {0, 2000000};

		if (st == NULL)
			fail_msg("%s", err);
		assert_true(dcf_store_get(st, id, got_pid, &pid, err, sizeof(err)) >= 0);
		dcf_store_close(st);
		if (pid == 0)
			nanosleep(&ts, NULL); /* the commit of its start is on its way */
	}
	return pid;
}

static int
got_net(void *arg, const struct dcf_store_task *t)
{
	*(uint32_t *)arg = t->net;
	return 0;
}

/* The network the store says task id's last run ran on. */
static uint32_t
net_of(struct sfix *f, uint64_t id)
{
	struct dcf_store_open_opts o = {.where = f->store, .readonly = 1};
	struct dcf_store *st;
	char err[256];
	uint32_t net = UINT32_MAX;

	if ((st = dcf_store_open(&o, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	assert_int_equal(dcf_store_get(st, id, got_net, &net, err, sizeof(err)), 1);
	dcf_store_close(st);
	return net;
}

/*
 * A worker stopped when its supervisor was killed never hears of the death
 * (its parent-death signal waits): the next supervisor finds it by the pid
 * and start time its store has for the run, kills it and waits for it
 * before the task runs again.
 */
static void
stopped_worker(struct sfix *f, const char *const *sup_args)
{
	char out[256], marks[160], ready[160], cmd[768], line[64], *text;
	pid_t w;
	int st, left[2];

	snprintf(marks, sizeof(marks), "%s/marks", f->dir);
	snprintf(ready, sizeof(ready), "%s/ready", f->dir);
	assert_int_equal(mkfifo(ready, 0600), 0);
	/*
	 * The first run leaves two processes besides its shell: one in its
	 * group, one in a session of its own. It names them through the FIFO
	 * once both exist.
	 */
	snprintf(cmd, sizeof(cmd),
	    "echo start $DCF_ATTEMPT >> %s; if [ $DCF_ATTEMPT = 1 ]; then "
	    "sleep 60 & a=$!; setsid sleep 60 & echo $a $! > %s; wait; fi; "
	    "echo end $DCF_ATTEMPT >> %s",
	    marks, ready, marks);
	sup_start(f, f->sup_bin, NULL, sup_args);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "sh", "-c", cmd, NULL}),
	    0);
	assert_string_equal(out, "1\n");
	fifo_line(ready, line, sizeof(line));
	assert_int_equal(sscanf(line, "%d %d", &left[0], &left[1]), 2);
	assert_true((w = running_pid(f, 1)) > 0);
	assert_int_equal(kill(w, SIGSTOP), 0);
	assert_true(run_wait_state(w, 'T', 30));
	(void)sup_stop(f, SIGKILL);
	/* Ours now (a subreaper), and alive, stopped, with its task's tree. */
	assert_int_equal(kill(w, 0), 0);
	assert_int_equal(kill(left[0], 0), 0);
	assert_int_equal(kill(left[1], 0), 0);
	sup_start(f, f->sup_bin, NULL, sup_args);
	assert_int_equal(waitpid(w, &st, 0), w);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/*
	 * Killed, and gone, before it was: orphaned to us as zombies when it
	 * went (the restart waits for each to exit before it kills the worker).
	 */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(waitpid(left[i], &st, WNOHANG), left[i]);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	}
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "true", NULL}),
	    0);
	/* Its second run: after the first was gone, which never ended. */
	while (state_of(f, 1) != DCF_SS_DONE + 1)
		assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
		                     (const char *const[]){"--wait", "--", "true", NULL}),
		    0);
	assert_int_equal(log_wait(f, "killed pid", 30), 0);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	text = slurp_file(marks);
	assert_string_equal(text, "start 1\nstart 2\nend 2\n");
	free(text);
	assert_int_equal(tu_leftovers(), 0);
}

static void
test_stopped_worker(void **state)
{
	stopped_worker(*state, (const char *const[]){"-N", "1", NULL});
}

/* The same without cgroups: the tree is found by walking down from the worker. */
static void
test_stopped_worker_pgroups(void **state)
{
	stopped_worker(*state, (const char *const[]){"-N", "1", "--no-cgroups", NULL});
}

/* --keep N: the store holds the newest N finished tasks, and their output only. */
static void
test_retention(void **state)
{
	struct sfix *f = *state;
	char out[256], p[256];
	struct dcf_store_counts c;

	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "2", "--keep", "3", NULL});
	for (int i = 1; i <= 10; i++)
		assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
		                     (const char *const[]){"--wait", "--", "echo", "kept", NULL}),
		    0);
	assert_string_equal(out, "10\n");
	/* Task 10's end commits before retention looks at it: at most the last 3 are there. */
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--task", "1", "--store", f->store, NULL}),
	    1);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_true(count_all(f, &c) <= 3);
	assert_int_equal(c.max_id, 10);
	assert_int_equal(state_of(f, 10), DCF_SS_DONE + 1);
	for (int id = 1; id <= 10; id++) {
		snprintf(p, sizeof(p), "%s.out/%d", f->store, id);
		assert_int_equal(access(p, F_OK) == 0, state_of(f, (uint64_t)id) != 0);
	}
	/* A new start gives ids after every one ever given. */
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", "--keep", "3", NULL});
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "true", NULL}),
	    0);
	assert_string_equal(out, "11\n");
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(tu_leftovers(), 0);
}

/* A graceful stop keeps what is queued for the next start. */
static void
test_stop_keeps_queue(void **state)
{
	struct sfix *f = *state;
	char out[64], go[160], cmd[256];
	struct dcf_store_counts c;
	int fd;

	/* Every run waits (up to a minute) for the file go: none can end before the stop. */
	snprintf(go, sizeof(go), "%s/go", f->dir);
	snprintf(cmd, sizeof(cmd),
	    "k=0; while [ ! -e %s ] && [ $k -lt 600 ]; do sleep 0.1; k=$((k+1)); done", go);
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", "--grace-ms", "100", NULL});
	for (int i = 0; i < 4; i++)
		assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
		                     (const char *const[]){"--", "sh", "-c", cmd, NULL}),
		    0);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	/* The one running was ended by the stop, the others never started: all four wait. */
	assert_int_equal(count_all(f, &c), 4);
	assert_int_equal(c.by_state[DCF_SS_QUEUED] + c.by_state[DCF_SS_RUNNING], 4);
	fd = open(go, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", NULL});
	assert_non_null(strstr(f->log, "4 tasks unfinished"));
	/* Run in id order, after the four: when the fifth is done, so are they. */
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "true", NULL}),
	    0);
	assert_string_equal(out, "5\n");
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(count_all(f, &c), 5);
	assert_int_equal(c.by_state[DCF_SS_DONE], 5);
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * The crash test. CRASH_RUNS runs of the supervisor on one store; in each,
 * a client submits tasks with keys "k<N>" (the ones not yet acknowledged,
 * then new ones) while the tasks run; the run is SIGKILLed after a random
 * number of acknowledgements, or (every third run, the build with crash
 * points) inside its committer: batch taken, rows written, or committed
 * but not told. A last run finishes everything.
 */
#define CRASH_RUNS 100
#define CRASH_KEYS 400

struct crash {
	uint64_t id_of[CRASH_KEYS + 1]; /* acknowledged: the task's id */
};

/* One request on fd; the answer's id (0 if the connection ended first). */
static uint64_t
raw_submit(int fd, uint32_t key, const char *script, const char *marks)
{
	static unsigned char buf[8192];
	char k[32], cmd[512];
	struct dcf_msg m = {.type = DCF_MSG_SUBMIT, .tag = key};
	size_t n, len = 0, used;
	uint32_t code;
	char err[128];
	int clen;

	snprintf(k, sizeof(k), "k%u", key);
	clen = snprintf(cmd, sizeof(cmd), "sh%c%s%c%s%c", 0, script, 0, marks, 0);
	m.u.submit.key = k;
	m.u.submit.key_len = (uint32_t)strlen(k);
	m.u.submit.cwd = "/";
	m.u.submit.cwd_len = 1;
	m.u.submit.cmd = cmd;
	m.u.submit.cmd_len = (uint32_t)clen;
	m.u.submit.retries = DCF_RETRIES_DEFAULT;
	m.u.submit.net = DCF_NET_ANY;
	n = dcf_proto_build(buf, sizeof(buf), &m);
	if (send(fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
		return 0;
	for (;;) {
		ssize_t r;
		int p = dcf_proto_parse(buf, len, 4096, &m, &used, &code, err, sizeof(err));

		if (p == 1)
			break;
		assert_int_equal(p, 0);
		r = read(fd, buf + len, sizeof(buf) - len);
		if (r <= 0)
			return 0;
		len += (size_t)r;
	}
	assert_int_equal(m.type, DCF_MSG_ACK);
	return m.u.ack.id;
}

/* WAIT for id on fd: the task's state, or -1 if the connection ended. */
static int
raw_wait(int fd, uint64_t id)
{
	static unsigned char buf[4096];
	struct dcf_msg m = {.type = DCF_MSG_WAIT, .tag = 1};
	size_t n, len = 0, used;
	uint32_t code;
	char err[128];

	m.u.wait.id = id;
	n = dcf_proto_build(buf, sizeof(buf), &m);
	if (send(fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
		return -1;
	for (;;) {
		ssize_t r;
		int p = dcf_proto_parse(buf, len, 4096, &m, &used, &code, err, sizeof(err));

		if (p == 1)
			break;
		assert_int_equal(p, 0);
		if ((r = read(fd, buf + len, sizeof(buf) - len)) <= 0)
			return -1;
		len += (size_t)r;
	}
	if (m.type != DCF_MSG_RESULT || m.u.result.id != id)
		fail_msg("task %llu: not its result (type %u)", (unsigned long long)id, m.type);
	return (int)m.u.result.state;
}

static void
integrity_ok(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *q;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
	sqlite3_finalize(q);
	sqlite3_close(db);
}

/*
 * Something else writes the store under a running service: the row its
 * next task would get is taken. That commit can never succeed, so it is not
 * retried for ever, leaving every later submitter without an answer: the
 * service says why and stops (exit 1), having acknowledged nothing it did
 * not commit. The next start gives ids after the planted one.
 */
static void
test_store_tampered(void **state)
{
	struct sfix *f = *state;
	char out[256];
	sqlite3 *db;

	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", NULL});
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "true", NULL}),
	    0);
	assert_string_equal(out, "1\n");
	assert_int_equal(sqlite3_open_v2(f->store, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_exec(db,
	                     "CREATE TEMP TABLE t AS SELECT * FROM task WHERE id = 1;"
	                     "UPDATE t SET id = 2, key = NULL;"
	                     "INSERT INTO task SELECT * FROM t;",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "true", NULL}),
	    1);
	assert_string_equal(out, "");
	assert_non_null(strstr(sub_err(f), "dcf-submit: "));
	assert_int_equal(log_wait(f, "stopping: nothing more can be recorded", 30), 0);
	assert_non_null(strstr(f->log, "task 2 is stored already"));
	{
		int st = sup_stop(f, 0);

		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	}
	integrity_ok(f->store);
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", NULL});
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "true", NULL}),
	    0);
	assert_string_equal(out, "3\n");
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * A task that runs until released: cmd, a shell line that reads a line
 * from the FIFO made at fifo (in f's directory).
 */
static void
held_task(struct sfix *f, char *fifo, size_t flen, char *cmd, size_t clen)
{
	snprintf(fifo, flen, "%s/go", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(cmd, clen, "read x < %s", fifo);
}

/* Let the held task end. */
static void
release(const char *fifo)
{
	int fd = open(fifo, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "go\n", 3), 3);
	close(fd);
}

/* dcf-ctl ARGS: its status, its stdout in out, its stderr in sub_err(f). */
static int ctl(struct sfix *f, char *out, size_t outlen, const char *const *args);
static struct dcf_store_task task_of(struct sfix *f, uint64_t id);

/*
 * dcf-submit --network: a task pinned to network 1 whose worker is
 * SIGKILLed mid-run waits for network 1's node to come back and runs there
 * again, though network 0's node is idle all along; a batch pinned to
 * network 0 runs there; a network the service does not have is refused.
 */
static void
test_network_pin(void **state)
{
	struct sfix *f = *state;
	char out[256], marks[160], fifo[160], cmd[512], rd[256];
	struct dcf_store_task t;
	pid_t w;
	int fd;

	snprintf(marks, sizeof(marks), "%s/marks", f->dir);
	held_task(f, fifo, sizeof(fifo), rd, sizeof(rd));
	/* The first run holds network 1's node until it is killed; the second does not wait. */
	snprintf(cmd, sizeof(cmd),
	    "echo $DCF_NETWORK $DCF_ATTEMPT >> %s; [ $DCF_ATTEMPT -gt 1 ] || %s", marks, rd);
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"--networks", "2", "-N", "1", NULL});
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--network", "2", "--", "true", NULL}),
	    1);
	assert_string_equal(sub_err(f),
	    "dcf-submit: refused: no network 2 here: this service has networks 0 to 1\n");
	/* A host to run on is for a store several hosts share: refused, nothing recorded. */
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--host", "h", "--", "true", NULL}),
	    1);
	assert_string_equal(sub_err(f),
	    "dcf-submit: refused: --host is for a store several hosts share (--store "
	    "postgresql://...): this service's is its own; nothing was recorded\n");
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--network", "1", "--", "sh", "-c", cmd, NULL}),
	    0);
	assert_string_equal(out, "1\n");
	assert_true((w = running_pid(f, 1)) > 0);
	assert_int_equal(kill(w, SIGKILL), 0);
	/* Run again, on network 1, once its node is back (its first run's tree is gone with
	 * its worker: nothing is left reading the FIFO). */
	fd = raw_connect(f);
	assert_int_equal(raw_wait(fd, 1), DCF_SS_DONE);
	snprintf(cmd, sizeof(cmd), "echo $DCF_NETWORK >> %s", marks);
	assert_int_equal(submit(f, NULL, "a\nb\nc\n", out, sizeof(out),
	                     (const char *const[]){"--batch", "--network", "0", "--", "sh", "-c",
	                         cmd, NULL}),
	    0);
	for (uint64_t id = 2; id <= 4; id++)
		assert_int_equal(raw_wait(fd, id), DCF_SS_DONE);
	close(fd);
	t = task_of(f, 1);
	assert_int_equal(t.pin, 2);
	assert_int_equal(t.attempts, 1);
	assert_int_equal(t.net, 1);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	{
		char *text = slurp_file(marks);

		/* The killed run may have written its mark or not; the rest are exact. */
		if (strcmp(text, "1 1\n1 2\n0\n0\n0\n") != 0 && strcmp(text, "1 2\n0\n0\n0\n") != 0)
			fail_msg("marks: %s", text);
		free(text);
	}
	assert_int_equal(tu_leftovers(), 0);
}

/* dcf-ctl ARGS: its status, its stdout in out, its stderr in sub_err(f). */
static int
ctl(struct sfix *f, char *out, size_t outlen, const char *const *args)
{
	return run_bin(f, f->ctl_bin, NULL, NULL, out, outlen, args);
}

/* The line of dcf-status's JSON text that has the object {"id": ID, ...}, in line. */
static void
json_line(const char *text, uint64_t id, char *line, size_t len)
{
	char head[40];
	const char *p, *e;

	snprintf(head, sizeof(head), "{\"id\": %llu,", (unsigned long long)id);
	assert_non_null(p = strstr(text, head));
	assert_non_null(e = strchr(p, '\n'));
	snprintf(line, len, "%.*s", (int)(e - p), p);
}

/* Network net's line of dcf-status --json, in line. */
static void
net_json(struct sfix *f, uint32_t net, char *line, size_t len)
{
	static char out[65536];

	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--json", NULL}),
	    0);
	json_line(out, net, line, len);
}

/*
 * dcf-ctl's bad input: one line, exit 2 (usage, or a network the service
 * does not have), and nothing changed; no service: exit 1.
 */
static void
test_ctl_errors(void **state)
{
	struct sfix *f = *state;
	char out[256], line[512];

	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"pause", NULL}), 1);
	assert_non_null(strstr(sub_err(f), "no supervisor serves"));
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"--networks", "2", "-N", "1", NULL});
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"pause", "2", NULL}), 2);
	assert_string_equal(out, "");
	assert_string_equal(sub_err(f),
	    "dcf-ctl: pause: no network 2: this system has 2 (0 to 1)\n");
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"pause", "x", NULL}), 2);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"halt", NULL}), 2);
	assert_int_equal(strchr(sub_err(f), '\n') - sub_err(f) + 1, (long)strlen(sub_err(f)));
	/* A controller that dies halfway through its request: nothing. */
	{
		unsigned char buf[64];
		struct dcf_msg m = {.type = DCF_MSG_CTL, .tag = 1};
		size_t n;
		int fd = raw_connect(f);

		m.u.ctl.op = DCF_CTL_PAUSE;
		m.u.ctl.net = DCF_CTL_ALL;
		n = dcf_proto_build(buf, sizeof(buf), &m);
		assert_int_equal(send(fd, buf, n - 1, MSG_NOSIGNAL), (ssize_t)(n - 1));
		close(fd);
	}
	/* Nothing was paused, and it still runs what it is given (a round trip after it). */
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "true", NULL}),
	    0);
	for (uint32_t n = 0; n < 2; n++) {
		net_json(f, n, line, sizeof(line));
		assert_non_null(strstr(line, "\"paused\": false"));
	}
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * pause NETWORK: its worker finishes the task it runs and takes nothing
 * more, though a task waits in its queue; new tasks go to the networks that
 * run. resume: the waiting task runs. Two networks of one node: task ids 1,
 * 3, ... are network 0's, 2, 4, ... network 1's.
 */
static void
test_pause_resume(void **state)
{
	struct sfix *f = *state;
	char out[256], fifo[160], cmd[256], line[512];
	int fd;

	held_task(f, fifo, sizeof(fifo), cmd, sizeof(cmd));
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"--networks", "2", "-N", "1", NULL});
	/* 1 holds network 0's node until we write; 3 waits behind it. */
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "sh", "-c", cmd, NULL}),
	    0);
	assert_string_equal(out, "1\n");
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "true", NULL}),
	    0);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "true", NULL}),
	    0);
	assert_string_equal(out, "3\n");
	assert_true(running_pid(f, 1) > 0);
	/* A running task cannot be cancelled: too late, and nothing changes. */
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"cancel", "1", NULL}), 2);
	assert_non_null(strstr(sub_err(f), "too late"));
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"pause", "0", NULL}), 0);
	assert_string_equal(out, "Network-0 paused\n");
	assert_int_equal(log_wait(f, "Network-0 paused by dcf-ctl", 30), 0);
	/* Task 1 goes on to its end. Its worker's completion and its next claim are one
	 * transaction: once 1 is done, the claim that did not take 3 is made. */
	fd = raw_connect(f);
	release(fifo);
	assert_int_equal(raw_wait(fd, 1), DCF_SS_DONE);
	net_json(f, 0, line, sizeof(line));
	assert_non_null(strstr(line, "\"queue_depth\": 1,"));
	assert_non_null(strstr(line, "\"paused\": true"));
	assert_int_equal(state_of(f, 3), DCF_SS_QUEUED + 1);
	/* New work goes where nodes take it: 4 and 5 (whose turn was network 0's) run on 1. */
	for (int i = 4; i <= 5; i++) {
		assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
		                     (const char *const[]){"--wait", "--", "true", NULL}),
		    0);
		assert_int_equal(net_of(f, (uint64_t)i), 1);
	}
	assert_int_equal(state_of(f, 3), DCF_SS_QUEUED + 1);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"resume", NULL}), 0);
	assert_string_equal(out, "every network resumed\n");
	assert_int_equal(raw_wait(fd, 3), DCF_SS_DONE);
	assert_int_equal(net_of(f, 3), 0);
	close(fd);
	net_json(f, 0, line, sizeof(line));
	assert_non_null(strstr(line, "\"paused\": false"));
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * drain: new submissions are refused at once; what was taken runs to its
 * end, and then the service exits 0 by itself, its store holding every
 * task done.
 */
static void
test_drain(void **state)
{
	struct sfix *f = *state;
	char out[256], fifo[160], cmd[256];
	int st;

	held_task(f, fifo, sizeof(fifo), cmd, sizeof(cmd));
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", NULL});
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "sh", "-c", cmd, NULL}),
	    0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
		                     (const char *const[]){"--", "true", NULL}),
		    0);
	assert_string_equal(out, "4\n");
	assert_true(running_pid(f, 1) > 0);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"drain", NULL}), 0);
	assert_non_null(strstr(out, "draining"));
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "true", NULL}),
	    1);
	assert_string_equal(out, "");
	assert_non_null(strstr(sub_err(f), "the service is draining"));
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--json", NULL}),
	    0);
	assert_non_null(strstr(out, "\"state\": \"draining\""));
	/* Asked again: said, and nothing more. */
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"drain", NULL}), 0);
	assert_string_equal(out, "draining already\n");
	release(fifo);
	assert_int_equal(log_wait(f, "drained: every task has ended", 30), 0);
	st = sup_stop(f, 0); /* no signal: it ends by itself */
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (uint64_t id = 1; id <= 4; id++)
		assert_int_equal(state_of(f, id), DCF_SS_DONE + 1);
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * A pause and a drain outlive the supervisor: answered once committed, so
 * after a SIGKILL the next start has network 1 paused (its task waits, the
 * status says so) and is draining (a submission is refused); resumed, it
 * runs what it had and ends by itself, exit 0.
 */
static void
test_control_restart(void **state)
{
	struct sfix *f = *state;
	char out[256], line[512];
	int st;

	sup_start(f, f->sup_bin, NULL, (const char *const[]){"--networks", "2", "-N", "1", NULL});
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"pause", "1", NULL}), 0);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--network", "1", "--", "true", NULL}),
	    0);
	assert_string_equal(out, "1\n");
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"drain", NULL}), 0);
	(void)sup_stop(f, SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"--networks", "2", "-N", "1", NULL});
	assert_int_equal(log_wait(f, "Network-1 paused, as dcf-ctl left it", 30), 0);
	assert_int_equal(log_wait(f, "draining, as dcf-ctl left it", 30), 0);
	net_json(f, 1, line, sizeof(line));
	assert_non_null(strstr(line, "\"paused\": true"));
	net_json(f, 0, line, sizeof(line));
	assert_non_null(strstr(line, "\"paused\": false"));
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "true", NULL}),
	    1);
	assert_non_null(strstr(sub_err(f), "the service is draining"));
	assert_int_equal(state_of(f, 1), DCF_SS_QUEUED + 1);
	/* Resumed, it runs task 1 and, drained, ends by itself (a wait could race its end). */
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"resume", "1", NULL}), 0);
	assert_int_equal(log_wait(f, "drained: every task has ended", 30), 0);
	st = sup_stop(f, 0); /* no signal: it ends by itself */
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(state_of(f, 1), DCF_SS_DONE + 1);
	/* The drain is over; the pause of network 1 (resumed since) is not kept either. */
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"--networks", "2", "-N", "1", NULL});
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--network", "1", "--", "true", NULL}),
	    0);
	assert_string_equal(out, "2\n");
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * cancel: a task waiting in each of the three places a service keeps one
 * (a slot of the books, the queue in memory, the store alone: past the
 * 8,192 in memory) ends CANCELLED without a run, committed before the
 * answer, and the tasks after them run as themselves (the ids after a
 * dropped one still match their tasks). Everything is submitted while
 * paused; the first RUN_TO run, the rest stay queued in the store.
 */
enum { CANCEL_N = SVC_WINDOW + 200, RUN_TO = 200 };
static void
test_cancel(void **state)
{
	struct sfix *f = *state;
	static uint8_t done[CANCEL_N + 2];
	static const uint64_t gone[] = {3, 100, CANCEL_N - 10};
	char out[256], p[256], want[64], *text, *lines;
	size_t len = 0;
	int fd;

	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "2", NULL});
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"pause", NULL}), 0);
	assert_non_null(lines = malloc((size_t)CANCEL_N * 8 + 1));
	for (int i = 1; i <= CANCEL_N; i++)
		len += (size_t)sprintf(lines + len, "%d\n", i);
	assert_int_equal(submit(f, NULL, lines, NULL, 0,
	                     (const char *const[]){"--batch", "--", "echo", "{}", NULL}),
	    0);
	free(lines);
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		snprintf(p, sizeof(p), "%llu", (unsigned long long)gone[i]);
		snprintf(want, sizeof(want), "task %llu cancelled\n", (unsigned long long)gone[i]);
		assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"cancel", p, NULL}),
		    0);
		assert_string_equal(out, want);
		/* Committed before it was said. */
		assert_int_equal(state_of(f, gone[i]), DCF_SS_CANCELLED + 1);
		/* Asked again: nothing more. */
		assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"cancel", p, NULL}),
		    2);
		assert_non_null(strstr(sub_err(f), "cancelled"));
	}
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"cancel", "99999", NULL}),
	    2);
	assert_string_equal(sub_err(f), "dcf-ctl: cancel: no task 99999\n");
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"resume", NULL}), 0);
	fd = raw_connect(f);
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		assert_int_equal(raw_wait(fd, gone[i]), DCF_SS_CANCELLED);
	assert_int_equal(raw_wait(fd, RUN_TO), DCF_SS_DONE);
	close(fd);
	assert_int_equal(log_wait(f, "Task-3 cancelled (dcf-ctl): ended by Network-0", 30), 0);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	done_ids(f, done, sizeof(done));
	for (uint64_t id = 1; id <= CANCEL_N; id++) {
		int cancelled = id == gone[0] || id == gone[1] || id == gone[2];

		if (cancelled ? done[id] : id <= RUN_TO && !done[id])
			fail_msg("task %llu: %s", (unsigned long long)id,
			    cancelled ? "ran, cancelled" : "not done");
	}
	assert_int_equal(state_of(f, gone[2]), DCF_SS_CANCELLED + 1);
	for (size_t i = 0; i < 2; i++) {
		struct stat sb;

		/* Nothing ran: no output (none kept, or an empty file where a node ended it). */
		snprintf(p, sizeof(p), "%s.out/%llu/stdout", f->store, (unsigned long long)gone[i]);
		assert_true(stat(p, &sb) == -1 || sb.st_size == 0);
		/* The next one is itself. */
		snprintf(p, sizeof(p), "%s.out/%llu/stdout", f->store,
		    (unsigned long long)gone[i] + 1);
		text = slurp_file(p);
		snprintf(want, sizeof(want), "%llu\n", (unsigned long long)gone[i] + 1);
		assert_string_equal(text, want);
		free(text);
	}
	assert_int_equal(tu_leftovers(), 0);
}

/* One class of tasks a priority test submits: its letter, priority and ids. */
struct pclass {
	char c;
	const char *prio;
	uint64_t first, n;
};

/* Submit cls's n tasks as one batch: each appends "LETTER ID" to marks. */
static void
submit_class(struct sfix *f, struct pclass *cls, const char *marks, uint64_t first)
{
	char *in = malloc(cls->n * 2 + 1), cmd[256], out[64];

	assert_non_null(in);
	for (uint64_t i = 0; i < cls->n; i++)
		memcpy(in + 2 * i, "x\n", 2);
	in[2 * cls->n] = '\0';
	snprintf(cmd, sizeof(cmd), "echo %c $DCF_TASK_ID >> %s", cls->c, marks);
	assert_int_equal(submit(f, NULL, in, out, sizeof(out),
	                     (const char *const[]){"--batch", "-p", cls->prio, "--", "sh", "-c",
	                         cmd, NULL}),
	    0);
	free(in);
	cls->first = first;
	assert_int_equal(strtoull(out, NULL, 10), first);
}

/*
 * The marks in the order the tasks started: each of ids 1..n once, its
 * class's (seq[id]: its position, from 1).
 */
static void
read_marks(const char *marks, const struct pclass *cls, int ncls, uint64_t n, uint32_t *seq)
{
	char *text = slurp_file(marks), *p = text;
	uint32_t k = 0;

	memset(seq, 0, (n + 1) * sizeof(*seq));
	while (*p != '\0') {
		char c = *p;
		uint64_t id = strtoull(p + 2, &p, 10);
		int ok = 0;

		for (int i = 0; i < ncls; i++)
			ok |= c == cls[i].c && id >= cls[i].first && id < cls[i].first + cls[i].n;
		if (!ok || id > n || seq[id] != 0)
			fail_msg("marks: %c %llu: not its class, or twice", c,
			    (unsigned long long)id);
		seq[id] = ++k;
		while (*p == '\n')
			p++;
	}
	free(text);
	for (uint64_t id = 1; id <= n; id++)
		if (seq[id] == 0)
			fail_msg("task %llu never started", (unsigned long long)id);
}

/*
 * Priorities with a window of 16 ready tasks (a test build's DCF_SVC_WINDOW)
 * and one worker. 120 tasks of priority -1 are queued first (64 of them in
 * the books' slots, 16 in memory, the rest in the store alone), then 10 of
 * priority 3 and 10 of 0, both in the store alone: to run them, the newest
 * low ones leave memory and are read back later. Every task runs once;
 * each priority runs in id order; the high ones before the middle ones;
 * and nothing low runs before them but what was in the books already.
 */
#define PR_SLOTS 64 /* a command system's task slots at least (dcf_config_size) */

static void
test_priorities(void **state)
{
	struct sfix *f = *state;
	struct pclass cls[3] = {{'L', "-1", 0, 120}, {'H', "3", 0, 10}, {'M', "0", 0, 10}};
	uint32_t seq[141], last_hm = 0;
	char out[256], marks[160], inj[PATH_MAX];
	int fd;

	snprintf(marks, sizeof(marks), "%s/marks", f->dir);
	assert_non_null(realpath("./build/inj/dcf-supervisor", inj));
	setenv("DCF_SVC_WINDOW", "16", 1);
	sup_start(f, inj, NULL, (const char *const[]){"--networks", "1", "-N", "1", NULL});
	unsetenv("DCF_SVC_WINDOW");
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"pause", NULL}), 0);
	submit_class(f, &cls[0], marks, 1);
	submit_class(f, &cls[1], marks, 121);
	submit_class(f, &cls[2], marks, 131);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"resume", NULL}), 0);
	fd = raw_connect(f);
	for (uint64_t id = 1; id <= 140; id++)
		assert_int_equal(raw_wait(fd, id), DCF_SS_DONE);
	close(fd);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	read_marks(marks, cls, 3, 140, seq);
	for (uint64_t id = 121; id <= 140; id++) {
		/* In id order within their priority; every high one before any middle one. */
		if (id != 121 && id != 131)
			assert_true(seq[id] > seq[id - 1]);
		if (id >= 131)
			assert_true(seq[id] > seq[130]);
		if (seq[id] > last_hm)
			last_hm = seq[id];
	}
	for (uint64_t id = 2; id <= 120; id++) {
		assert_true(seq[id] > seq[id - 1]);
		/* Before the last of the others: only one the books held at the resume. */
		if (seq[id] < last_hm && id > PR_SLOTS)
			fail_msg("low task %llu ran at %u, before the higher ones' last (%u)",
			    (unsigned long long)id, seq[id], last_hm);
	}
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * A restart reads the queued tasks back a priority at a time, highest
 * first, through the same small window: with one worker and nothing
 * running when the supervisor was killed, they run in priority order,
 * FIFO within each, every one once.
 */
static void
test_priorities_restart(void **state)
{
	struct sfix *f = *state;
	struct pclass cls[3] = {{'L', "-4", 0, 30}, {'H', "4", 0, 30}, {'M', "1", 0, 30}};
	uint32_t seq[91];
	char out[256], marks[160], inj[PATH_MAX];
	int fd;

	snprintf(marks, sizeof(marks), "%s/marks", f->dir);
	assert_non_null(realpath("./build/inj/dcf-supervisor", inj));
	setenv("DCF_SVC_WINDOW", "16", 1);
	sup_start(f, inj, NULL, (const char *const[]){"--networks", "1", "-N", "1", NULL});
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"pause", NULL}), 0);
	submit_class(f, &cls[0], marks, 1);
	submit_class(f, &cls[1], marks, 31);
	submit_class(f, &cls[2], marks, 61);
	(void)sup_stop(f, SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	sup_start(f, inj, NULL, (const char *const[]){"--networks", "1", "-N", "1", NULL});
	unsetenv("DCF_SVC_WINDOW");
	/* The pause outlived the supervisor: lifted, everything runs at once. */
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"resume", NULL}), 0);
	fd = raw_connect(f);
	for (uint64_t id = 1; id <= 90; id++)
		assert_int_equal(raw_wait(fd, id), DCF_SS_DONE);
	close(fd);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	read_marks(marks, cls, 3, 90, seq);
	for (uint64_t id = 32; id <= 60; id++)
		assert_true(seq[id] == seq[id - 1] + 1); /* H: 1st to 30th */
	assert_int_equal(seq[31], 1);
	assert_int_equal(seq[61], 31);
	for (uint64_t id = 62; id <= 90; id++)
		assert_true(seq[id] == seq[id - 1] + 1);
	assert_int_equal(seq[1], 61);
	for (uint64_t id = 2; id <= 30; id++)
		assert_true(seq[id] == seq[id - 1] + 1);
	assert_int_equal(tu_leftovers(), 0);
}

/* Task id's priority in the store, as committed (task_of: it must be there). */
static int32_t
prio_of(struct sfix *f, uint64_t id)
{
	return task_of(f, id).prio;
}

/* dcf-ctl priority ID P: 0 and its answer, which must say what it did; its new priority stored. */
static void
reprio(struct sfix *f, uint64_t id, int p, int was)
{
	char out[256], a[32], b[32], want[128];

	snprintf(a, sizeof(a), "%llu", (unsigned long long)id);
	snprintf(b, sizeof(b), "%d", p);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"priority", a, b, NULL}),
	    0);
	snprintf(want, sizeof(want), "task %llu: priority %d (was %d)\n", (unsigned long long)id, p,
	    was);
	assert_string_equal(out, want);
	/* Committed before it was said. */
	assert_int_equal(prio_of(f, id), p);
}

/*
 * dcf-ctl priority on a task in each place it can wait (window 16, one
 * worker, paused): 2 in a slot of the books, 70 in memory (moved twice),
 * 90 in the store alone. After the resume 2 runs first (the books had it
 * at priority 1, above the rest there), 90 before 70, both before every
 * other task the books did not hold; the rest in id order, each once.
 * Refused, changing nothing: no such task, an ended one, a bad priority.
 */
static void
test_priority_ctl(void **state)
{
	struct sfix *f = *state;
	struct pclass cls[1] = {{'L', "0", 0, 100}};
	uint32_t seq[101];
	char out[256], marks[160], inj[PATH_MAX];
	int fd;

	snprintf(marks, sizeof(marks), "%s/marks", f->dir);
	assert_non_null(realpath("./build/inj/dcf-supervisor", inj));
	setenv("DCF_SVC_WINDOW", "16", 1);
	sup_start(f, inj, NULL, (const char *const[]){"--networks", "1", "-N", "1", NULL});
	unsetenv("DCF_SVC_WINDOW");
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"pause", NULL}), 0);
	submit_class(f, &cls[0], marks, 1);
	assert_int_equal(ctl(f, out, sizeof(out),
	                     (const char *const[]){"priority", "200", "4", NULL}),
	    2);
	assert_string_equal(sub_err(f), "dcf-ctl: priority: no task 200\n");
	assert_int_equal(ctl(f, out, sizeof(out),
	                     (const char *const[]){"priority", "5", "-5", NULL}),
	    2);
	assert_int_equal(prio_of(f, 5), 0);
	reprio(f, 90, 4, 0);
	reprio(f, 70, 2, 0);
	reprio(f, 70, 3, 2);
	reprio(f, 2, 1, 0);
	assert_int_equal(log_wait(f, "Task-90: priority 0 -> 4 by dcf-ctl", 30), 0);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"resume", NULL}), 0);
	fd = raw_connect(f);
	for (uint64_t id = 1; id <= 100; id++)
		assert_int_equal(raw_wait(fd, id), DCF_SS_DONE);
	close(fd);
	assert_int_equal(ctl(f, out, sizeof(out),
	                     (const char *const[]){"priority", "5", "1", NULL}),
	    2);
	assert_non_null(strstr(sub_err(f), "task 5 has ended (done): nothing was changed"));
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	read_marks(marks, cls, 1, 100, seq);
	assert_int_equal(seq[2], 1);
	assert_true(seq[90] < seq[70]);
	for (uint64_t id = 65; id <= 100; id++)
		if (id != 70 && id != 90)
			assert_true(seq[id] > seq[70]);
	for (uint64_t id = 4; id <= 100; id++)
		if (id != 70 && id != 90 && id != 71 && id != 91)
			assert_true(seq[id] > seq[id - 1]);
	assert_true(seq[71] > seq[69] && seq[91] > seq[89]);
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * A task in the books moved by dcf-ctl priority to a level whose tasks
 * are partly in the store alone: when that level is read back from the
 * store, the moved task (its record now at that level) is not read in
 * again: every task runs exactly once (window 16, one worker).
 */
static void
test_priority_ctl_handed(void **state)
{
	struct sfix *f = *state;
	struct pclass cls[2] = {{'L', "0", 0, 100}, {'B', "-1", 0, 20}};
	uint32_t seq[121];
	char out[256], marks[160], inj[PATH_MAX];
	int fd;

	snprintf(marks, sizeof(marks), "%s/marks", f->dir);
	assert_non_null(realpath("./build/inj/dcf-supervisor", inj));
	setenv("DCF_SVC_WINDOW", "16", 1);
	sup_start(f, inj, NULL, (const char *const[]){"--networks", "1", "-N", "1", NULL});
	unsetenv("DCF_SVC_WINDOW");
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"pause", NULL}), 0);
	submit_class(f, &cls[0], marks, 1);   /* 1..64 in the books, 65..80 in memory */
	submit_class(f, &cls[1], marks, 101); /* priority -1: the store alone */
	/* Task 2 waits in a slot of the books; its record moves to -1. */
	reprio(f, 2, -1, 0);
	cls[0].n = 100;
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"resume", NULL}), 0);
	fd = raw_connect(f);
	for (uint64_t id = 1; id <= 120; id++)
		assert_int_equal(raw_wait(fd, id), DCF_SS_DONE);
	close(fd);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	/* Task 2 is an 'L' in the marks (its command's letter); once each, every one. */
	read_marks(marks, cls, 2, 120, seq);
	/*
	 * After every task of priority 0 that was in its network's queue with it;
	 * those still on their way there (65..100) may come after it, if the node
	 * empties the queue's priority 0 before the supervisor refills it (dcf-ctl(1)).
	 */
	for (uint64_t id = 1; id <= 64; id++)
		if (id != 2)
			assert_true(seq[2] > seq[id]);
	assert_true(seq[2] < seq[101]); /* before those of -1 submitted after it moved */
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * A new priority outlives the supervisor: changed in the books' slots,
 * committed before it was answered, then SIGKILL. The next start runs 25
 * first and 10 last, the rest in id order.
 */
static void
test_priority_ctl_restart(void **state)
{
	struct sfix *f = *state;
	struct pclass cls[1] = {{'L', "0", 0, 30}};
	uint32_t seq[31], k = 0;
	char out[256], marks[160];
	int fd;

	snprintf(marks, sizeof(marks), "%s/marks", f->dir);
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"--networks", "1", "-N", "1", NULL});
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"pause", NULL}), 0);
	submit_class(f, &cls[0], marks, 1);
	reprio(f, 25, 4, 0);
	reprio(f, 10, -4, 0);
	(void)sup_stop(f, SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"--networks", "1", "-N", "1", NULL});
	/* The pause outlived the supervisor: lifted, everything runs at once. */
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"resume", NULL}), 0);
	fd = raw_connect(f);
	for (uint64_t id = 1; id <= 30; id++)
		assert_int_equal(raw_wait(fd, id), DCF_SS_DONE);
	close(fd);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	read_marks(marks, cls, 1, 30, seq);
	assert_int_equal(seq[25], ++k);
	for (uint64_t id = 1; id <= 30; id++)
		if (id != 10 && id != 25)
			assert_int_equal(seq[id], ++k);
	assert_int_equal(seq[10], ++k);
	assert_int_equal(tu_leftovers(), 0);
}

static int
got_outcome(void *arg, const struct dcf_store_task *t)
{
	*(struct dcf_store_task *)arg = *t;
	return 0;
}

/* Task id as the store has it (its pointers not kept). */
static struct dcf_store_task
task_of(struct sfix *f, uint64_t id)
{
	struct dcf_store_open_opts o = {.where = f->store, .readonly = 1};
	struct dcf_store_task t;
	struct dcf_store *st;
	char err[256];

	memset(&t, 0, sizeof(t));
	if ((st = dcf_store_open(&o, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	assert_int_equal(dcf_store_get(st, id, got_outcome, &t, err, sizeof(err)), 1);
	dcf_store_close(st);
	t.key = NULL;
	t.cmd = NULL;
	t.cwd = NULL;
	return t;
}

/* Open fifo for writing (blocks until the task that reads it has opened it), say word. */
static void
open_gate(const char *fifo, const char *word)
{
	int fd = open(fifo, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, word, strlen(word)), (ssize_t)strlen(word));
	close(fd);
}

/*
 * --after and --after-any: a task waits, in the store alone, until those
 * it names have ended; it runs when all succeeded, ends dep-failed (never
 * run, the one to blame named) when one did not, and so on down a chain;
 * --after-any runs whatever they did. Unknown ids (a later one too: a
 * cycle cannot be made) are refused and record nothing; a waiting task
 * cancelled fails those after it; a supervisor SIGKILLed while tasks wait
 * loses none of it.
 */
static void
test_after(void **state)
{
	struct sfix *f = *state;
	struct dcf_store_counts c;
	struct dcf_store_task a, b;
	char out[256], g1[160], g2[160], c1[256], c2[256];
	uint64_t n;
	int fd;

	snprintf(g1, sizeof(g1), "%s/g1", f->dir);
	snprintf(g2, sizeof(g2), "%s/g2", f->dir);
	assert_int_equal(mkfifo(g1, 0600), 0);
	assert_int_equal(mkfifo(g2, 0600), 0);
	snprintf(c1, sizeof(c1), "read x < %s; test \"$x\" = go", g1);
	snprintf(c2, sizeof(c2), "read x < %s; test \"$x\" = go", g2);
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "2", NULL});
	/* 1 and 2 wait at their gates; 3 to 6 wait for them. */
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "sh", "-c", c1, NULL}),
	    0);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "sh", "-c", c2, NULL}),
	    0);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--after", "1", "--", "true", NULL}),
	    0);
	assert_string_equal(out, "3\n");
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--after", "2,1,2", "--", "true", NULL}),
	    0);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--after", "4", "--", "true", NULL}),
	    0);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--after-any", "2", "--", "true", NULL}),
	    0);
	assert_string_equal(out, "6\n");
	/* Refused, nothing recorded: an id never given, the next one, 0, a bad list, both. */
	n = count_all(f, &c);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--after", "1,99", "--", "true", NULL}),
	    1);
	assert_non_null(strstr(sub_err(f), "--after 99: no such task"));
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--after", "8", "--", "true", NULL}),
	    1);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--after", "0", "--", "true", NULL}),
	    2);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--after", "1,,2", "--", "true", NULL}),
	    2);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--after", "1", "--after-any", "2", "--", "true",
	                         NULL}),
	    2);
	assert_int_equal(count_all(f, &c), n);
	assert_int_equal(task_of(f, 3).waits, 1);
	assert_int_equal(task_of(f, 4).waits, 2);
	assert_int_equal(task_of(f, 5).waits, 1);
	/* 2 fails: 4 ends dep-failed, and 5 after it; 6 runs; 3 still waits for 1. */
	open_gate(g2, "no\n");
	fd = raw_connect(f);
	assert_int_equal(raw_wait(fd, 2), DCF_SS_FAILED);
	assert_int_equal(raw_wait(fd, 5), DCF_SS_DEP_FAILED);
	assert_int_equal(raw_wait(fd, 6), DCF_SS_DONE);
	close(fd);
	assert_int_equal(task_of(f, 4).state, DCF_SS_DEP_FAILED);
	assert_int_equal(task_of(f, 4).cause, 2);
	assert_int_equal(task_of(f, 4).runs, 0);
	assert_int_equal(task_of(f, 5).cause, 4);
	assert_int_equal(task_of(f, 5).runs, 0);
	assert_int_equal(log_wait(f,
	                     "Task-5: not run: task 4, which it runs after, did not succeed", 30),
	    0);
	b = task_of(f, 3);
	assert_int_equal(b.state, DCF_SS_QUEUED);
	assert_int_equal(b.waits, 1);
	assert_int_equal(b.runs, 0);
	/* After a task that failed already: ended at once, and --wait says so. */
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--after", "2", "--", "true", NULL}),
	    1);
	assert_string_equal(out, "9\n"); /* 7 and 8 were refused */
	assert_non_null(strstr(sub_err(f), "task 9 did not run"));
	/* 10 waits for 1, 11 for 10; 10 is cancelled: 11 ends dep-failed, 10 never runs. */
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--after", "1", "--", "true", NULL}),
	    0);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--after", "10", "--", "true", NULL}),
	    0);
	assert_string_equal(out, "11\n");
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"cancel", "10", NULL}), 0);
	fd = raw_connect(f);
	assert_int_equal(raw_wait(fd, 11), DCF_SS_DEP_FAILED);
	close(fd);
	assert_int_equal(task_of(f, 10).state, DCF_SS_CANCELLED);
	assert_int_equal(task_of(f, 11).cause, 10);
	/* A priority for a task that waits: its record alone. */
	assert_int_equal(ctl(f, out, sizeof(out),
	                     (const char *const[]){"priority", "3", "2", NULL}),
	    0);
	/* SIGKILL while 3 waits: the next start still has it wait, and runs it after 1. */
	(void)sup_stop(f, SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "2", NULL});
	assert_int_equal(task_of(f, 3).waits, 1);
	assert_int_equal(task_of(f, 3).runs, 0);
	open_gate(g1, "go\n");
	fd = raw_connect(f);
	assert_int_equal(raw_wait(fd, 1), DCF_SS_DONE);
	assert_int_equal(raw_wait(fd, 3), DCF_SS_DONE);
	close(fd);
	a = task_of(f, 1);
	b = task_of(f, 3);
	assert_true(b.started_ns >= a.ended_ns);
	assert_int_equal(b.runs, 1);
	assert_int_equal(b.prio, 2);
	assert_int_equal(b.waits, 0);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(tu_leftovers(), 0);
}

/* The supervisor's children (its workers), up to max: how many. */
static uint32_t
workers_of(pid_t sup, pid_t *pids, uint32_t max)
{
	char path[64], buf[4096];
	uint32_t n = 0;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)sup, (int)sup);
	if ((fd = open(path, O_RDONLY)) < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	for (char *p = buf, *e; n < max && *p != '\0'; p = e) {
		long v = strtol(p, &e, 10);

		if (e == p)
			break;
		pids[n++] = (pid_t)v;
	}
	return n;
}

/*
 * dcf-ctl scale, stop-node, restart-node, no-restart: bad requests change
 * nothing; then, while 300 tasks run, networks are scaled up and down
 * (--now too), paused and resumed, and workers SIGKILLed: every task ends
 * done, once in the store, each run of it counted (a task may die often
 * here: it is not quarantined).
 */
static void
test_scale(void **state)
{
	struct sfix *f = *state;
	static char out[8192], input[4096];
	char line[512], marks[160], cmd[256];
	struct dcf_store_counts c;
	uint32_t seen[301];
	int fd;

	snprintf(marks, sizeof(marks), "%s/marks", f->dir);
	snprintf(cmd, sizeof(cmd), "echo $DCF_TASK_ID >> %s; sleep 0.02", marks);
	sup_start(f, f->sup_bin, NULL,
	    (const char *const[]){"--networks", "2", "-N", "2", "--max-nodes", "4",
	        "--max-attempts", "1000", NULL});
	/* Refused, one line, exit 2: nothing changes. */
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"scale", "0", "5", NULL}),
	    2);
	assert_string_equal(sub_err(f),
	    "dcf-ctl: scale: Network-0 has room for 4 nodes, not 5 (dcf-supervisor --max-nodes): "
	    "nothing was changed\n");
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"scale", "0", "-3", NULL}),
	    2);
	assert_non_null(strstr(sub_err(f), "would leave fewer than none"));
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"scale", "2", "1", NULL}),
	    2);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"scale", "0", "x", NULL}),
	    2);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"scale", "0", NULL}), 2);
	assert_int_equal(ctl(f, out, sizeof(out),
	                     (const char *const[]){"stop-node", "0", "4", NULL}),
	    2);
	assert_non_null(strstr(sub_err(f), "Network-0 has no node 4: its nodes are 0 to 3"));
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"--now", "pause", NULL}),
	    2);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"scale", "0", "+0", NULL}),
	    0);
	assert_string_equal(out, "Network-0: 2 -> 2 nodes\n");
	/* Up, and down again at once: the nodes are there, and then not. */
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"scale", "0", "4", NULL}),
	    0);
	assert_string_equal(out, "Network-0: 2 -> 4 nodes\n");
	net_json(f, 0, line, sizeof(line));
	assert_non_null(strstr(line, "\"nodes_alive\": 4,"));
	assert_int_equal(ctl(f, out, sizeof(out),
	                     (const char *const[]){"stop-node", "0", "3", NULL}),
	    0);
	assert_int_equal(log_wait(f, "Network-0 Node-3 stopped by dcf-ctl", 30), 0);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"scale", "0", "+1", NULL}),
	    0);
	assert_string_equal(out, "Network-0: 3 -> 4 nodes\n");
	/* 300 tasks, and a storm of changes while they run. */
	for (int i = 0; i < 300; i++)
		strcat(input, "x\n");
	assert_int_equal(submit(f, NULL, input, out, sizeof(out),
	                     (const char *const[]){"--batch", "--", "sh", "-c", cmd, NULL}),
	    0);
	fd = raw_connect(f);
	for (uint32_t round = 0; round < 12; round++) {
		static const char *const steps[][4] = {{"scale", "0", "1", "--now"},
		    {"scale", "1", "0"}, {"pause", "1"}, {"scale", "0", "+2"}, {"resume", "1"},
		    {"scale", "1", "4", "--now"}, {"restart-node", "0", "0", "--now"},
		    {"scale", "0", "-1"}, {"no-restart", "1", "1"}, {"scale", "1", "-2", "--now"},
		    {"restart-node", "1", "1"}, {"scale", "0", "3"}};
		const char *a[5] = {steps[round][0], steps[round][1], steps[round][2],
		    steps[round][3], NULL};
		pid_t pids[64];
		uint32_t n;

		assert_int_equal(ctl(f, out, sizeof(out), a), 0);
		if ((n = workers_of(f->sup, pids, 64)) > 0)
			kill(pids[round % n], SIGKILL);
		/* Paced by the work itself: the next change once more of it has ended. */
		assert_int_equal(raw_wait(fd, 20 * (round + 1)), DCF_SS_DONE);
	}
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"scale", "1", "2", NULL}),
	    0);
	for (uint64_t id = 1; id <= 300; id++)
		assert_int_equal(raw_wait(fd, id), DCF_SS_DONE);
	close(fd);
	assert_int_equal(count_all(f, &c), 300);
	assert_int_equal(c.by_state[DCF_SS_DONE], 300);
	memset(seen, 0, sizeof(seen));
	{
		char *text = slurp_file(marks), *p = text;

		while (*p != '\0') {
			unsigned long id = strtoul(p, &p, 10);

			assert_true(id >= 1 && id <= 300);
			seen[id]++;
			p += *p == '\n';
		}
		free(text);
	}
	for (uint64_t id = 1; id <= 300; id++) {
		assert_true(seen[id] >= 1);
		assert_true(seen[id] <= task_of(f, id).runs);
	}
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * --schedule: with networks of 1 and 4 live nodes, weighted gives them
 * tasks 1 to 4, exactly; least-loaded gives the small one fewer than
 * round-robin's half; round-robin, half.
 */
static void
test_schedule(void **state)
{
	static const char *const policies[] = {"round-robin", "weighted", "least-loaded"};
	struct sfix *f = *state;
	static char out[8192], input[4096];
	char marks[160], cmd[256];

	for (int i = 0; i < 50; i++)
		strcat(input, "x\n");
	for (int k = 0; k < 3; k++) {
		uint32_t on[2] = {0, 0};
		char *text, *p;

		snprintf(marks, sizeof(marks), "%s/marks-%d", f->dir, k);
		snprintf(cmd, sizeof(cmd), "echo $DCF_NETWORK >> %s; sleep 0.01", marks);
		sup_start(f, f->sup_bin, NULL,
		    (const char *const[]){"--networks", "2", "-N", "4", "--schedule", policies[k],
		        NULL});
		assert_int_equal(ctl(f, out, sizeof(out),
		                     (const char *const[]){"scale", "0", "1", NULL}),
		    0);
		assert_int_equal(log_wait(f, "Network-0 Node-3 stopped by dcf-ctl", 30), 0);
		assert_int_equal(log_wait(f, "Network-0 Node-2 stopped by dcf-ctl", 30), 0);
		assert_int_equal(log_wait(f, "Network-0 Node-1 stopped by dcf-ctl", 30), 0);
		assert_int_equal(submit(f, NULL, input, out, sizeof(out),
		                     (const char *const[]){"--batch", "--wait", "--", "sh", "-c",
		                         cmd, NULL}),
		    0);
		assert_int_equal(sup_stop(f, SIGTERM), 0);
		text = slurp_file(marks);
		for (p = text; *p != '\0'; p++)
			if (*p == '0' || *p == '1')
				on[*p - '0']++;
		free(text);
		assert_int_equal(on[0] + on[1], 50);
		if (k == 0)
			assert_int_equal(on[0], 25);
		else if (k == 1)
			assert_int_equal(on[0], 10);
		else
			assert_true(on[0] < 25);
	}
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * dcf-ctl add-network, remove-network: a network beyond --networks is
 * there (--max-networks) but removed; added, it runs; removed, its nodes
 * stop and its queue goes to the others, none of it run there. Refusals:
 * a count out of range, no room, no such network, the last network.
 */
static void
test_networks(void **state)
{
	struct sfix *f = *state;
	static char out[8192], input[4096];
	char line[512], marks[160], cmd[256];
	struct dcf_store_counts c;
	uint32_t on[3] = {0, 0, 0};
	char *text;

	snprintf(marks, sizeof(marks), "%s/marks", f->dir);
	snprintf(cmd, sizeof(cmd), "echo $DCF_NETWORK >> %s", marks);
	sup_start(f, f->sup_bin, NULL,
	    (const char *const[]){"--networks", "2", "--max-networks", "3", "-N", "2", NULL});
	net_json(f, 2, line, sizeof(line));
	assert_non_null(strstr(line, "\"nodes_alive\": 0,"));
	assert_non_null(strstr(line, "\"removed\": true"));
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"add-network", "3", NULL}),
	    2);
	assert_non_null(strstr(sub_err(f), "a network here has 1 to 2 nodes"));
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"add-network", "0", NULL}),
	    2);
	assert_int_equal(ctl(f, out, sizeof(out),
	                     (const char *const[]){"remove-network", "3", NULL}),
	    2);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"remove-network", NULL}),
	    2);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"add-network", "2", NULL}),
	    0);
	assert_string_equal(out, "Network-2 added, with 2 nodes\n");
	net_json(f, 2, line, sizeof(line));
	assert_non_null(strstr(line, "\"nodes_alive\": 2,"));
	assert_non_null(strstr(line, "\"removed\": false"));
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"add-network", "1", NULL}),
	    2);
	assert_non_null(strstr(sub_err(f), "no room for another network"));
	/* Everything paused: 30 tasks wait, a third in network 1's queue. */
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"pause", NULL}), 0);
	for (int i = 0; i < 30; i++)
		strcat(input, "x\n");
	assert_int_equal(submit(f, NULL, input, out, sizeof(out),
	                     (const char *const[]){"--batch", "--", "sh", "-c", cmd, NULL}),
	    0);
	net_json(f, 1, line, sizeof(line));
	assert_non_null(strstr(line, "\"queue_depth\": 10,"));
	assert_int_equal(ctl(f, out, sizeof(out),
	                     (const char *const[]){"remove-network", "1", NULL}),
	    0);
	assert_int_equal(log_wait(f, "Network-1 Node-1 stopped by dcf-ctl", 30), 0);
	assert_int_equal(log_wait(f, "Network-1 Node-0 stopped by dcf-ctl", 30), 0);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"scale", "1", "1", NULL}),
	    2);
	assert_non_null(strstr(sub_err(f), "Network-1 is removed"));
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"resume", NULL}), 0);
	{
		int fd = raw_connect(f);

		for (uint64_t id = 1; id <= 30; id++)
			assert_int_equal(raw_wait(fd, id), DCF_SS_DONE);
		close(fd);
	}
	assert_int_equal(count_all(f, &c), 30);
	text = slurp_file(marks);
	for (char *p = text; *p != '\0'; p++)
		if (*p >= '0' && *p <= '2')
			on[*p - '0']++;
	free(text);
	assert_int_equal(on[0] + on[2], 30);
	assert_int_equal(on[1], 0);
	/* The last network is not removed. */
	assert_int_equal(ctl(f, out, sizeof(out),
	                     (const char *const[]){"remove-network", "0", "--now", NULL}),
	    0);
	assert_int_equal(ctl(f, out, sizeof(out),
	                     (const char *const[]){"remove-network", "2", NULL}),
	    2);
	assert_non_null(strstr(sub_err(f), "Network-2 is the last network"));
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(tu_leftovers(), 0);
}

/* A CTL frame for op on task id (value v), into buf: its size. */
static size_t
ctl_frame(unsigned char *buf, size_t cap, uint32_t op, uint64_t id, int64_t v)
{
	struct dcf_msg m = {.type = DCF_MSG_CTL, .tag = 9};
	size_t n;

	m.u.ctl.op = op;
	m.u.ctl.net = DCF_CTL_ALL;
	m.u.ctl.id = id;
	m.u.ctl.value = v;
	n = dcf_proto_build(buf, cap, &m);
	assert_true(n > 0);
	return n;
}

/*
 * A controller killed mid-command changes nothing, or the whole of what it
 * asked: a request cut short (its connection closed) is not carried out; a
 * whole one whose sender is gone before the answer is carried out and
 * committed all the same.
 */
static void
test_ctl_killed(void **state)
{
	struct sfix *f = *state;
	unsigned char buf[256];
	char out[256];
	size_t n;
	int fd;

	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", NULL});
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"pause", NULL}), 0);
	assert_int_equal(submit(f, NULL, "a\nb\nc\n", out, sizeof(out),
	                     (const char *const[]){"--batch", "--", "true", NULL}),
	    0);
	/* Cut short: a cancel and a priority, each but its last bytes. */
	fd = raw_connect(f);
	n = ctl_frame(buf, sizeof(buf), DCF_CTL_CANCEL, 2, 0);
	assert_int_equal(write(fd, buf, n - 3), (ssize_t)(n - 3));
	close(fd);
	fd = raw_connect(f);
	n = ctl_frame(buf, sizeof(buf), DCF_CTL_PRIORITY, 3, 4);
	assert_int_equal(write(fd, buf, n - 1), (ssize_t)(n - 1));
	close(fd);
	/* Whole, the sender gone at once: a cancel of 1 and a priority for 2. */
	fd = raw_connect(f);
	n = ctl_frame(buf, sizeof(buf), DCF_CTL_CANCEL, 1, 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
	fd = raw_connect(f);
	n = ctl_frame(buf, sizeof(buf), DCF_CTL_PRIORITY, 2, -3);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
	/* Carried out (the log says so once done), and asked again through dcf-ctl: each
	 * answer says what the first did, or did not. */
	assert_int_equal(log_wait(f, "Task-1 cancelled by dcf-ctl", 30), 0);
	assert_int_equal(log_wait(f, "Task-2: priority 0 -> -3 by dcf-ctl", 30), 0);
	assert_int_equal(ctl(f, out, sizeof(out),
	                     (const char *const[]){"priority", "3", "0", NULL}),
	    0);
	assert_string_equal(out, "task 3: priority 0 (was 0)\n");
	assert_int_equal(ctl(f, out, sizeof(out),
	                     (const char *const[]){"priority", "2", "-3", NULL}),
	    0);
	assert_string_equal(out, "task 2: priority -3 (was -3)\n");
	fd = raw_connect(f);
	assert_int_equal(raw_wait(fd, 1), DCF_SS_CANCELLED);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"resume", NULL}), 0);
	assert_int_equal(raw_wait(fd, 2), DCF_SS_DONE);
	assert_int_equal(raw_wait(fd, 3), DCF_SS_DONE);
	close(fd);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * --delay and --at: a delayed task starts no sooner than its time, while
 * others run meanwhile; a time already past is now; a delayed task can be
 * cancelled before its time and never runs; one committed before a
 * SIGKILL of the supervisor runs once after the restart, not before its
 * time.
 */
static void
test_delay(void **state)
{
	struct sfix *f = *state;
	struct dcf_store_task t;
	char out[256], marks[160], cmd[256];
	uint64_t t0, t1;
	int fd;

	snprintf(marks, sizeof(marks), "%s/marks", f->dir);
	snprintf(cmd, sizeof(cmd), "echo x >> %s", marks);
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", NULL});
	t0 = dcf_wall_ns();
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--delay", "3s", "--", "true", NULL}),
	    0);
	assert_string_equal(out, "1\n");
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "true", NULL}),
	    0);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"-d", "1h", "--", "true", NULL}),
	    0);
	assert_string_equal(out, "3\n");
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"cancel", "3", NULL}), 0);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--at", "@1", "--", "true", NULL}),
	    0);
	fd = raw_connect(f);
	assert_int_equal(raw_wait(fd, 1), DCF_SS_DONE);
	assert_int_equal(raw_wait(fd, 3), DCF_SS_CANCELLED);
	close(fd);
	t = task_of(f, 1);
	assert_true(t.started_ns >= t0 + 3000000000ULL);
	assert_int_equal(t.runs, 1);
	/* Committed, then the supervisor is killed: its next start keeps the time. */
	t1 = dcf_wall_ns();
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--delay", "2s", "--", "sh", "-c", cmd, NULL}),
	    0);
	assert_string_equal(out, "5\n");
	(void)sup_stop(f, SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", NULL});
	fd = raw_connect(f);
	assert_int_equal(raw_wait(fd, 5), DCF_SS_DONE);
	close(fd);
	t = task_of(f, 5);
	assert_true(t.started_ns >= t1 + 2000000000ULL);
	assert_int_equal(t.runs, 1);
	assert_int_equal(state_of(f, 3), DCF_SS_CANCELLED + 1);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	{
		char *text = slurp_file(marks);

		assert_string_equal(text, "x\n");
		free(text);
	}
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * dcf-ctl retry: a task that failed runs again as a new task, with its
 * command, directory, priority and limits, answered once that is
 * committed; the failed one's record stays as it was. One that succeeded,
 * one that has not ended, or none at all is refused, and nothing is made.
 */
static void
test_retry(void **state)
{
	struct sfix *f = *state;
	struct dcf_store_task t1, t3;
	struct dcf_store_counts c;
	char out[256], dir[160];
	int fd;

	snprintf(dir, sizeof(dir), "%s/d", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", NULL});
	/* 1 fails (the second time it is asked, a file says it may succeed: not yet) */
	assert_int_equal(submit(f, dir, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "-p", "2", "--timeout", "30s", "--",
	                         "sh", "-c", "test -e ok", NULL}),
	    1);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "true", NULL}),
	    0);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"retry", "2", NULL}), 2);
	assert_string_equal(sub_err(f),
	    "dcf-ctl: retry: task 2 succeeded: nothing to retry (dcf-submit runs it again)\n");
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"retry", "9", NULL}), 2);
	assert_string_equal(sub_err(f), "dcf-ctl: retry: no task 9\n");
	assert_int_equal(count_all(f, &c), 2);
	/* Now it may succeed: the retry runs in the directory task 1 was submitted from. */
	{
		char p[200];
		int k;

		snprintf(p, sizeof(p), "%s/ok", dir);
		assert_true((k = open(p, O_WRONLY | O_CREAT, 0600)) >= 0);
		close(k);
	}
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"retry", "1", NULL}), 0);
	assert_string_equal(out, "task 1 again as task 3\n");
	assert_true(state_of(f, 3) != 0); /* committed before it was said */
	fd = raw_connect(f);
	assert_int_equal(raw_wait(fd, 3), DCF_SS_DONE);
	close(fd);
	assert_int_equal(log_wait(f, "Task-3: task 1 again, by dcf-ctl retry", 30), 0);
	t1 = task_of(f, 1);
	t3 = task_of(f, 3);
	assert_int_equal(t1.state, DCF_SS_FAILED);
	assert_int_equal(t3.prio, 2);
	assert_int_equal(t3.timeout_ms, 30000);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * kill ID [SIGNAL]: the running task's whole tree gets the signal, its run
 * ends as the signal made it, and it is not retried (--retries 3 here);
 * a task that is not running is refused, nothing changed.
 */
static void
test_kill(void **state)
{
	struct sfix *f = *state;
	char out[256], ready[160], cmd[256], line[64];
	struct dcf_store_task t;
	int child, fd;

	snprintf(ready, sizeof(ready), "%s/ready", f->dir);
	assert_int_equal(mkfifo(ready, 0600), 0);
	snprintf(cmd, sizeof(cmd), "sleep 60 & echo $! > %s; wait", ready);
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", "--retries", "3", NULL});
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "sh", "-c", cmd, NULL}),
	    0);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "sleep", "60", NULL}),
	    0);
	assert_string_equal(out, "2\n");
	fifo_line(ready, line, sizeof(line));
	assert_int_equal(sscanf(line, "%d", &child), 1);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"kill", "2", NULL}), 2);
	assert_string_equal(sub_err(f),
	    "dcf-ctl: kill: task 2 has not started: dcf-ctl cancel 2\n");
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"kill", "9", NULL}), 2);
	assert_string_equal(sub_err(f), "dcf-ctl: kill: no task 9\n");
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"kill", "1", NULL}), 0);
	assert_string_equal(out, "task 1: SIGTERM sent to its processes; its run is not retried\n");
	fd = raw_connect(f);
	assert_int_equal(raw_wait(fd, 1), DCF_SS_FAILED);
	/* Its whole tree: the child in its group went with it, reaped before its end was. */
	assert_int_equal(kill(child, 0), -1);
	t = task_of(f, 1);
	assert_int_equal(t.out.how, DCF_HOW_SIGNAL);
	assert_int_equal(t.out.term_sig, SIGTERM);
	assert_int_equal(t.runs, 1); /* not retried */
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"kill", "1", NULL}), 2);
	assert_string_equal(sub_err(f), "dcf-ctl: kill: task 1 is not running\n");
	/* Task 2 starts once 1 has ended: then a signal by name. */
	assert_true(running_pid(f, 2) > 0);
	assert_int_equal(ctl(f, out, sizeof(out), (const char *const[]){"kill", "2", "KILL", NULL}),
	    0);
	assert_int_equal(raw_wait(fd, 2), DCF_SS_FAILED);
	close(fd);
	t = task_of(f, 2);
	assert_int_equal(t.out.term_sig, SIGKILL);
	assert_int_equal(t.runs, 1);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(tu_leftovers(), 0);
}

/* A start of the service that is refused (extra after its --serve --name --store): its wait
 * status; what it said in f->log. */
static int
sup_refused(struct sfix *f, const char *const *extra)
{
	assert_int_equal(sup_start_maybe(f, f->sup_bin, extra, 1), -1);
	return sup_stop(f, 0);
}

/*
 * A store the service refuses, not a database or a database that is not
 * a dcf store: one line, exit 1, the file as it was, and nothing made
 * beside it (no FILE.out, no journal).
 */
static void
test_refused_store(void **state)
{
	struct sfix *f = *state;
	char want[512];
	struct stat before, after;
	sqlite3 *db;
	int fd, st;

	fd = open(f->store, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a store\n", 12), 12);
	close(fd);
	st = sup_refused(f, (const char *const[]){"-N", "1", NULL});
	tu_assert_exit(st, 1);
	snprintf(want, sizeof(want),
	    "dcf-supervisor: %s: reading the store: the store is corrupt (file is not a "
	    "database): move it aside to start a new one\n",
	    f->store);
	assert_string_equal(f->log, want);
	{
		char *text = slurp_file(f->store);

		assert_string_equal(text, "not a store\n");
		free(text);
	}
	assert_true(absent("%s.out", f->store));
	assert_true(absent("%s/run/dcf/%s.sock", f->dir, f->name));
	/* SQLite, but another program's. */
	assert_int_equal(unlink(f->store), 0);
	assert_int_equal(sqlite3_open(f->store, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE x(a); INSERT INTO x VALUES (1);", NULL,
	                     NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(stat(f->store, &before), 0);
	st = sup_refused(f, (const char *const[]){"-N", "1", NULL});
	tu_assert_exit(st, 1);
	snprintf(want, sizeof(want),
	    "dcf-supervisor: %s is an SQLite database but not a dcf store: name another file\n",
	    f->store);
	assert_string_equal(f->log, want);
	assert_int_equal(stat(f->store, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	assert_true(absent("%s.out", f->store));
	assert_true(absent("%s-wal", f->store));
	assert_true(absent("%s-journal", f->store));
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * The socket's directory: $XDG_RUNTIME_DIR/dcf open to others is refused
 * (one line, exit 1, nothing served, the new store and its FILE.out gone
 * again, the directory as it was); private, the same start serves. A
 * user other than root with no XDG_RUNTIME_DIR is told to set it (exit 1).
 */
static void
test_runtime_dir(void **state)
{
	struct sfix *f = *state;
	char rundcf[160], want[512], err[512], out[64];
	struct stat sb;
	size_t n = 0;
	ssize_t k;
	pid_t pid;
	int p[2], st;

	snprintf(rundcf, sizeof(rundcf), "%s/run/dcf", f->dir);
	assert_int_equal(mkdir(rundcf, 0700), 0);
	assert_int_equal(chmod(rundcf, 0755), 0);
	st = sup_refused(f, (const char *const[]){"-N", "1", NULL});
	tu_assert_exit(st, 1);
	snprintf(want, sizeof(want),
	    "dcf-supervisor: %s is open to others (mode 0755): chmod 700 it, or remove it\n",
	    rundcf);
	assert_string_equal(f->log, want);
	assert_true(absent("%s/%s.sock", rundcf, f->name));
	assert_int_equal(raw_connect_maybe(f), -1);
	assert_true(absent("%s", f->store));
	assert_true(absent("%s-wal", f->store));
	assert_true(absent("%s.out", f->store));
	assert_int_equal(stat(rundcf, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0755);
	assert_int_equal(chmod(rundcf, 0700), 0);
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", NULL});
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "true", NULL}),
	    0);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	/* No XDG_RUNTIME_DIR, as another user (root has /run/dcf). */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = tu_fork();
	if (pid == 0) {
		dup2(p[1], 2);
		dup2(open("/dev/null", O_WRONLY), 1);
		unsetenv("XDG_RUNTIME_DIR");
		if (geteuid() == 0 &&
		    (setgroups(0, NULL) == -1 || setgid(65534) == -1 || setuid(65534) == -1))
			_exit(70);
		execl(f->sub_bin, f->sub_bin, "--name", f->name, "--", "true", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (n < sizeof(err) - 1 && (k = read(p[0], err + n, sizeof(err) - 1 - n)) > 0)
		n += (size_t)k;
	err[n] = '\0';
	close(p[0]);
	tu_assert_exit(tu_waitpid_within(pid, 30), 1);
	assert_string_equal(err,
	    "dcf-submit: XDG_RUNTIME_DIR is not set: set it to a private directory (for the "
	    "socket)\n");
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * No --store: the service's own, $XDG_STATE_HOME/dcf/NAME.db, in a
 * directory made private; a task submitted runs and is recorded there, and
 * dcf-status finds it there too.
 */
static void
test_default_store(void **state)
{
	struct sfix *f = *state;
	char d[80], want[512], out[256];
	struct stat sb;

	snprintf(d, sizeof(d), "%s/state/dcf", f->dir);
	assert_true(absent("%s", d));
	f->default_store = 1;
	snprintf(f->store, sizeof(f->store), "%s/%s.db", d, f->name);
	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", NULL});
	snprintf(want, sizeof(want), "serving '%s': store %s, ", f->name, f->store);
	assert_non_null(strstr(f->log, want));
	assert_int_equal(lstat(d, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "echo", "here", NULL}),
	    0);
	assert_string_equal(out, "1\n");
	assert_int_equal(state_of(f, 1), DCF_SS_DONE + 1);
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--stdout", "1", NULL}),
	    0);
	assert_string_equal(out, "here\n");
	assert_false(absent("%s.out/1/stdout", f->store));
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	/* Others may not even pass through the store's directory (a socket's may: 0711). */
	assert_int_equal(chmod(d, 0711), 0);
	tu_assert_exit(sup_refused(f, (const char *const[]){"-N", "1", NULL}), 1);
	assert_non_null(strstr(f->log, "is open to others (mode 0711)"));
	assert_int_equal(tu_leftovers(), 0);
}

/* How many task objects a dcf-status --tasks --json document has. */
static int
json_tasks(const char *text)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, "{\"id\": ")) != NULL; p++)
		n++;
	return n;
}

/*
 * dcf-status --stderr ID gives back the bytes a task wrote to its stderr
 * (none: nothing; running: refused, exit 1); --tasks --json and --task ID
 * --json say each task's id, state, command, directory, key, priority and
 * end, and --task's object is --tasks's with where its output is.
 */
static void
test_status_output(void **state)
{
	struct sfix *f = *state;
	static char out[16384];
	char fifo[160], rd[256], line[3][2048], want[1024];
	static const char head1[] = "[\n  {\"id\": 1, ",
	                  head2[] = "[\n  {\"id\": 2, \"state\": \"failed\", ";
	const char *c1 = "echo first >&2; printf last >&2; echo out";
	size_t n;
	int fd;

	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", NULL});
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--tasks", "--json", "--store", f->store, NULL}),
	    0);
	assert_string_equal(out, "[]\n");
	assert_int_equal(submit(f, f->dir, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "sh", "-c", c1, NULL}),
	    0);
	assert_string_equal(out, "1\n");
	assert_int_equal(submit(f, f->dir, NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--key", "k2", "-p", "2", "--", "sh",
	                         "-c", "exit 3", NULL}),
	    3);
	held_task(f, fifo, sizeof(fifo), rd, sizeof(rd));
	assert_int_equal(submit(f, f->dir, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "sh", "-c", rd, NULL}),
	    0);
	assert_string_equal(out, "3\n");
	assert_true(running_pid(f, 3) > 0);
	/* --stderr: the bytes as written, a trailing line without its newline too. */
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--stderr", "1", "--store", f->store, NULL}),
	    0);
	assert_string_equal(out, "first\nlast");
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--stderr", "2", "--store", f->store, NULL}),
	    0);
	assert_string_equal(out, "");
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--stderr", "3", "--store", f->store, NULL}),
	    1);
	assert_string_equal(out, "");
	assert_string_equal(sub_err(f),
	    "dcf-status: task 3 is running: its output is kept once it ends\n");
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--stderr", "9", "--store", f->store, NULL}),
	    1);
	assert_non_null(strstr(sub_err(f), "no task 9 in "));
	/* --tasks --json: an array, an object a line, in id order. */
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--tasks", "--json", "--store", f->store, NULL}),
	    0);
	assert_int_equal(strncmp(out, head1, sizeof(head1) - 1), 0);
	n = strlen(out);
	assert_true(n > 4 && strcmp(out + n - 4, "}\n]\n") == 0);
	assert_int_equal(json_tasks(out), 3);
	for (int i = 0; i < 3; i++)
		json_line(out, (uint64_t)i + 1, line[i], sizeof(line[i]));
	snprintf(want, sizeof(want),
	    "{\"id\": 1, \"state\": \"done\", \"argv\": [\"sh\", \"-c\", \"%s\"], \"cwd\": \"%s\", "
	    "\"key\": null, \"priority\": 0, \"network_pin\": -1, ",
	    c1, f->dir);
	assert_int_equal(strncmp(line[0], want, strlen(want)), 0);
	assert_non_null(strstr(line[0], "\"runs\": 1, "));
	assert_non_null(strstr(line[0], "\"end\": \"exit 0\", \"exit_code\": 0, \"signal\": 0, "));
	assert_non_null(strstr(line[0], "\"stdout_bytes\": 4, \"stderr_bytes\": 10, "));
	assert_non_null(strstr(line[0], "\"output\": null},"));
	snprintf(want, sizeof(want),
	    "{\"id\": 2, \"state\": \"failed\", \"argv\": [\"sh\", \"-c\", \"exit 3\"], \"cwd\": "
	    "\"%s\", \"key\": \"k2\", \"priority\": 2, ",
	    f->dir);
	assert_int_equal(strncmp(line[1], want, strlen(want)), 0);
	assert_non_null(strstr(line[1], "\"end\": \"exit 3\", \"exit_code\": 3, "));
	snprintf(want, sizeof(want),
	    "{\"id\": 3, \"state\": \"running\", \"argv\": [\"sh\", \"-c\", \"%s\"], ", rd);
	assert_int_equal(strncmp(line[2], want, strlen(want)), 0);
	assert_non_null(strstr(line[2], "\"ended_ns\": 0, \"end\": \"-\", "));
	assert_non_null(strstr(line[2], "\"output\": null}"));
	/* --state: the failed one alone. */
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--tasks", "--state", "failed", "--json",
	                         "--store", f->store, NULL}),
	    0);
	assert_int_equal(json_tasks(out), 1);
	assert_int_equal(strncmp(out, head2, sizeof(head2) - 1), 0);
	/* --task ID --json: one object, one line: the list's, and where its output is. */
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--task", "1", "--json", "--store", f->store,
	                         NULL}),
	    0);
	n = (size_t)(strstr(line[0], "\"output\": ") - line[0]);
	assert_int_equal(strncmp(out, line[0], n), 0);
	snprintf(want, sizeof(want), "\"output\": \"%s.out/1\"}\n", f->store);
	assert_string_equal(out + n, want);
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--task", "3", "--json", "--store", f->store,
	                         NULL}),
	    0);
	n = (size_t)(strstr(line[2], "\"output\": ") - line[2]);
	assert_int_equal(strncmp(out, line[2], n), 0);
	assert_string_equal(out + n, "\"output\": null}\n");
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--task", "9", "--json", "--store", f->store,
	                         NULL}),
	    1);
	assert_string_equal(out, "");
	release(fifo);
	fd = raw_connect(f);
	assert_int_equal(raw_wait(fd, 3), DCF_SS_DONE);
	close(fd);
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * --keep AGE: finished tasks go, rows and output, once they ended longer
 * ago than AGE, while the service runs; those that ended within AGE stay
 * (however many), and one waiting (--delay) longer than AGE is not
 * finished and stays. Retention runs in the committer after each commit:
 * a submission is answered after the commit before its own, and the
 * retention that followed it.
 */
static void
test_keep_age(void **state)
{
	struct sfix *f = *state;
	char out[256];
	struct dcf_store_counts c;
	int fd;

	sup_start(f, f->sup_bin, NULL, (const char *const[]){"-N", "1", "--keep", "1s", NULL});
	for (int i = 0; i < 2; i++)
		assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
		                     (const char *const[]){"--wait", "--", "echo", "old", NULL}),
		    0);
	assert_string_equal(out, "2\n");
	/* Task 3 ends at least 1.5 s after tasks 1 and 2 did. */
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--delay", "1.5s", "--", "echo", "new", NULL}),
	    0);
	assert_string_equal(out, "3\n");
	for (uint64_t id = 1; id <= 2; id++) {
		assert_int_equal(state_of(f, id), DCF_SS_DONE + 1);
		assert_false(absent("%s.out/%llu/stdout", f->store, (unsigned long long)id));
	}
	fd = raw_connect(f);
	assert_int_equal(raw_wait(fd, 3), DCF_SS_DONE);
	close(fd);
	assert_int_equal(state_of(f, 3), DCF_SS_DONE + 1);
	assert_false(absent("%s.out/3/stdout", f->store));
	/* Answered after the retention that followed task 3's end: 1 and 2 are gone. */
	assert_int_equal(submit(f, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--", "true", NULL}),
	    0);
	assert_string_equal(out, "4\n");
	for (uint64_t id = 1; id <= 2; id++) {
		assert_int_equal(state_of(f, id), 0);
		assert_true(absent("%s.out/%llu", f->store, (unsigned long long)id));
	}
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--task", "1", "--store", f->store, NULL}),
	    1);
	assert_non_null(strstr(sub_err(f), "(never submitted, or pruned)"));
	/*
	 * With nothing more committed, 3 and 4 age out all the same: their
	 * output directories' removal is waited for (inotify), 10 s at most.
	 */
	fd = raw_connect(f);
	assert_int_equal(raw_wait(fd, 4), DCF_SS_DONE);
	close(fd);
	{
		char dir[PATH_MAX];
		int in = inotify_init1(IN_CLOEXEC);
		uint64_t deadline = tu_deadline(10000);

		snprintf(dir, sizeof(dir), "%s.out", f->store);
		assert_true(in >= 0);
		assert_true(inotify_add_watch(in, dir, IN_DELETE) >= 0);
		while (!absent("%s.out/3", f->store) || !absent("%s.out/4", f->store)) {
			struct pollfd p = {.fd = in, .events = POLLIN};
			char ev[4096];

			assert_true(dcf_now_ns() < deadline);
			if (poll(&p, 1, 1000) > 0)
				(void)!read(in, ev, sizeof(ev));
		}
		close(in);
	}
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(count_all(f, &c), 0);
	assert_int_equal(c.max_id, 4);
	assert_int_equal(tu_leftovers(), 0);
}

/*
 * --allow-user (root's service): the users it names submit and wait, and
 * their tasks run as them (uid, groups, their environment), the command
 * stored saying so; their control requests are refused; a user it does not
 * name is refused outright, nothing recorded. Its usage errors.
 */
static void
test_allow_user(void **state)
{
	struct sfix *f = *state;
	char out[256], p[PATH_MAX];
	struct dcf_store_counts c;
	struct stat sb;

	if (geteuid() != 0)
		skip(); /* other users are root's to let in */
	assert_int_equal(run_bin(f, f->sup_bin, NULL, NULL, NULL, 0,
	                     (const char *const[]){"--allow-user", "nobody", "--", "true", NULL}),
	    2);
	assert_non_null(strstr(sub_err(f), "--allow-user is for --serve"));
	assert_int_equal(run_bin(f, f->sup_bin, NULL, NULL, NULL, 0,
	                     (const char *const[]){"--serve", "--allow-user",
	                         "nobody,no-such-user-dcf", NULL}),
	    2);
	assert_non_null(strstr(sub_err(f), "no user 'no-such-user-dcf'"));
	assert_int_equal(run_bin(f, f->sup_bin, NULL, NULL, NULL, 0,
	                     (const char *const[]){"--serve", "--store", "postgresql://h/db",
	                         "--allow-user", "nobody", NULL}),
	    2);
	assert_non_null(strstr(sub_err(f), "--allow-user is for a store of one host"));
	assert_true(absent("%s", f->store));
	f->as_uid = 65534; /* another user's service cannot be reached by others */
	assert_int_equal(run_bin(f, f->sup_bin, "/", NULL, NULL, 0,
	                     (const char *const[]){"--serve", "--allow-user", "0", NULL}),
	    2);
	f->as_uid = 0;
	assert_non_null(strstr(sub_err(f), "is for a service run by root"));
	/* Every directory above the socket must let the others pass: said, nothing served. */
	tu_assert_exit(sup_refused(f, (const char *const[]){"--allow-user", "nobody", NULL}), 1);
	assert_non_null(strstr(f->log, "other users cannot reach"));
	chmod(f->dir, 0711);
	snprintf(p, sizeof(p), "%s/run", f->dir);
	chmod(p, 0711);
	sup_start(f, f->sup_bin, NULL,
	    (const char *const[]){"-N", "1", "--allow-user", "nobody", NULL});
	snprintf(p, sizeof(p), "%s/run/dcf/%s.sock", f->dir, f->name);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0666);
	/* nobody's task: run as nobody, in its directory, its environment its own. */
	f->as_uid = 65534;
	assert_int_equal(submit(f, "/", NULL, out, sizeof(out),
	                     (const char *const[]){"--wait", "--", "sh", "-c",
	                         "id -u; id -g; echo \"$HOME $USER $DCF_TASK_ID\"; pwd", NULL}),
	    0);
	assert_string_equal(out, "1\n");
	/* Its keys are its own: root's of the same name is another task. */
	assert_int_equal(submit(f, "/", NULL, out, sizeof(out),
	                     (const char *const[]){"--key", "k", "--", "true", NULL}),
	    0);
	assert_string_equal(out, "2\n");
	f->as_uid = 0;
	assert_int_equal(submit(f, "/", NULL, out, sizeof(out),
	                     (const char *const[]){"--key", "k", "--", "true", NULL}),
	    0);
	assert_string_equal(out, "3\n");
	/*
	 * By hand, as nobody: root's task 3 is not its to wait for; a directory
	 * it may not enter is entered with its rights, not root's (the run fails).
	 */
	snprintf(p, sizeof(p), "%s/secret", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	{
		pid_t pid = tu_fork();

		if (pid == 0) {
			static unsigned char buf[8192];
			struct dcf_msg m = {.type = DCF_MSG_WAIT, .tag = 1}, r;
			size_t len = 0, used, n;
			uint32_t code;
			char err[128];
			int fd, k = 0;

			if (setgroups(0, NULL) == -1 || setgid(65534) == -1 ||
			    setuid(65534) == -1 || (fd = raw_connect_maybe(f)) == -1)
				_exit(70);
			m.u.wait.id = 3;
			n = dcf_proto_build(buf, sizeof(buf), &m);
			memset(&m, 0, sizeof(m));
			m.type = DCF_MSG_SUBMIT;
			m.tag = 2;
			m.u.submit.net = DCF_NET_ANY;
			m.u.submit.cwd = p;
			m.u.submit.cwd_len = (uint32_t)strlen(p);
			m.u.submit.cmd = "true";
			m.u.submit.cmd_len = 5;
			n += dcf_proto_build(buf + n, sizeof(buf) - n, &m);
			if (send(fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
				_exit(71);
			while (k < 2) {
				ssize_t got;
				int q = dcf_proto_parse(buf, len, 4096, &r, &used, &code, err,
				    sizeof(err));

				if (q == 1) {
					if (r.tag == 1 &&
					    (r.type != DCF_MSG_ERROR ||
					        r.u.error.code != DCF_PE_NOTFOUND))
						_exit(72);
					if (r.tag == 2 &&
					    (r.type != DCF_MSG_ACK || r.u.ack.id != 4))
						_exit(73);
					memmove(buf, buf + used, len - used);
					len -= used;
					k++;
					continue;
				}
				if (q == -1 || (got = read(fd, buf + len, sizeof(buf) - len)) <= 0)
					_exit(74);
				len += (size_t)got;
			}
			_exit(0);
		}
		tu_assert_exit(tu_waitpid_within(pid, 60), 0);
	}
	{
		int fd = raw_connect(f);

		assert_int_equal(raw_wait(fd, 4), DCF_SS_FAILED);
		close(fd);
	}
	f->as_uid = 65534;
	/* Its control is the service's user's. */
	assert_int_equal(run_bin(f, f->ctl_bin, NULL, NULL, NULL, 0,
	                     (const char *const[]){"pause", NULL}),
	    1);
	assert_non_null(strstr(sub_err(f), "permission denied"));
	/* A user not named: refused, nothing recorded. */
	f->as_uid = 65533;
	assert_int_equal(submit(f, "/", NULL, NULL, 0, (const char *const[]){"--", "true", NULL}),
	    1);
	assert_non_null(strstr(sub_err(f), "permission denied"));
	f->as_uid = 0;
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--stdout", "1", "--store", f->store, NULL}),
	    0);
	{
		struct passwd *pw = getpwuid(65534);
		char want[256];

		assert_non_null(pw);
		snprintf(want, sizeof(want), "65534\n%u\n%s %s 1\n/\n", (unsigned)pw->pw_gid,
		    pw->pw_dir, pw->pw_name);
		assert_string_equal(out, want);
	}
	assert_int_equal(run_bin(f, f->sta_bin, NULL, NULL, out, sizeof(out),
	                     (const char *const[]){"--task", "1", "--store", f->store, NULL}),
	    0);
	assert_non_null(strstr(out, "[as uid 65534] sh -c"));
	assert_int_equal(sup_stop(f, SIGTERM), 0);
	assert_int_equal(count_all(f, &c), 4);
	assert_int_equal(tu_leftovers(), 0);
}

static void
test_supervisor_crash(void **state)
{
	struct sfix *f = *state;
	struct crash *cr = calloc(1, sizeof(*cr));
	char marks[160], script[160], inj[PATH_MAX];
	uint32_t *ends = calloc(CRASH_KEYS * 8 + 2, sizeof(uint32_t)), *owner;
	struct dcf_store_counts c;
	struct dcf_rng rng;
	uint64_t max_id = 0;
	int kills = 0;
	/* done_at[run][id]: the store had task id done when run began. */
	static uint8_t done_at[CRASH_RUNS + 2][CRASH_KEYS * 8 + 2];

	assert_non_null(cr);
	assert_non_null(ends);
	assert_non_null(realpath("./build/inj/dcf-supervisor", inj));
	dcf_rng_seed(&rng, 12345);
	snprintf(marks, sizeof(marks), "%s/marks", f->dir);
	snprintf(script, sizeof(script), "%s/task.sh", f->dir);
	{
		static const char body[] =
		    "echo \"start $DCF_TASK_ID $INC $DCF_ATTEMPT\" >> \"$1\"\n"
		    "k=0; while [ $k -lt $((DCF_TASK_ID % 5 * 30)) ]; do k=$((k+1)); done\n"
		    "echo \"end $DCF_TASK_ID $INC $DCF_ATTEMPT\" >> \"$1\"\n";
		int fd = open(script, O_WRONLY | O_CREAT | O_TRUNC, 0700);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, body, sizeof(body) - 1), (ssize_t)(sizeof(body) - 1));
		close(fd);
	}
	for (int run = 1; run <= CRASH_RUNS + 1; run++) {
		int last_run = run == CRASH_RUNS + 1, injected = run % 3 == 0 && !last_run;
		uint32_t acks = 0, stop_at = 1 + (uint32_t)dcf_rng_range(&rng, 0, 9);
		char inc[32], point[32];
		int fd, st;

		snprintf(inc, sizeof(inc), "%d", run);
		setenv("INC", inc, 1);
		done_ids(f, done_at[run], sizeof(done_at[run]));
		if (injected) {
			/* Each step of a commit in turn, at its 1st to 3rd commit. */
			snprintf(point, sizeof(point), "store:%d:%d", run / 3 % 3, 1 + run / 9 % 3);
			setenv("DCF_INJECT_SUP", point, 1);
		}
		st = sup_start_maybe(f, injected ? inj : f->sup_bin,
		    (const char *const[]){"-N", "3", NULL}, injected);
		unsetenv("DCF_INJECT_SUP");
		fd = st == 0 ? raw_connect_maybe(f) : -1;
		/* The keys not acknowledged yet, then new ones, until the kill. */
		for (uint32_t k = 1; fd >= 0 && k <= CRASH_KEYS; k++) {
			uint64_t id;

			if (cr->id_of[k] != 0)
				continue;
			if ((id = raw_submit(fd, k, script, marks)) == 0)
				break; /* it died under us (a crash point) */
			cr->id_of[k] = id;
			acks++;
			if (!last_run && !injected && acks >= stop_at)
				break;
			if (!last_run && acks >= 12)
				break;
		}
		if (last_run) {
			/* Every acknowledged task to its end. */
			for (uint32_t k = 1; k <= CRASH_KEYS; k++) {
				assert_true(cr->id_of[k] != 0);
				assert_int_equal(raw_wait(fd, cr->id_of[k]), DCF_SS_DONE);
			}
			close(fd);
			assert_int_equal(sup_stop(f, SIGTERM), 0);
			break;
		}
		if (fd >= 0)
			close(fd);
		if (kill(f->sup, SIGKILL) == 0)
			kills++;
		(void)tu_waitpid_within(f->sup, 60);
		f->sup = 0;
		/* Its workers come to us: reaped, never waited for. */
		while (waitpid(-1, &st, WNOHANG) > 0)
			;
	}
	assert_true(kills >= CRASH_RUNS / 2);
	/* One task per key, each done, and no id given to two keys. */
	assert_int_equal(count_all(f, &c), CRASH_KEYS);
	assert_int_equal(c.by_state[DCF_SS_DONE], CRASH_KEYS);
	owner = calloc(c.max_id + 1, sizeof(*owner));
	assert_non_null(owner);
	for (uint32_t k = 1; k <= CRASH_KEYS; k++) {
		assert_true(cr->id_of[k] <= c.max_id);
		if (owner[cr->id_of[k]] != 0)
			fail_msg("keys %u and %u have one task", owner[cr->id_of[k]], k);
		owner[cr->id_of[k]] = k;
		if (cr->id_of[k] > max_id)
			max_id = cr->id_of[k];
	}
	free(owner);
	assert_true(max_id < CRASH_KEYS * 8);
	/* In the order the appends happened: a run's marks never after a later run started. */
	tu_check_marks(slurp_file(marks), CRASH_KEYS * 8 + 2, CRASH_RUNS + 1, &done_at[0][0],
	    sizeof(done_at[0]), ends);
	{
		uint32_t again = 0;

		for (uint32_t k = 1; k <= CRASH_KEYS; k++) {
			assert_true(ends[cr->id_of[k]] >= 1);
			again += ends[cr->id_of[k]] > 1;
		}
		/* Run again to its end only when a kill fell between its end and the commit of it. */
		print_message("%d kills; %u of %u tasks ran to their end more than once\n", kills,
		    again, CRASH_KEYS);
		assert_true(again <= (uint32_t)kills * 3);
	}
	integrity_ok(f->store);
	assert_int_equal(tu_leftovers(), 0);
	free(ends);
	free(cr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_output, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_default_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_runtime_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_keeps_queue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keep_age, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_allow_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stopped_worker, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stopped_worker_pgroups, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_tampered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctl_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kill, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_priorities, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_priorities_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_priority_ctl, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_priority_ctl_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_priority_ctl_handed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_network_pin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_after, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scale, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_schedule, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_networks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctl_killed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_control_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_supervisor_crash, setup, teardown),
	};

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* While working on one: DCF_TEST_FILTER=test_name* runs only those. */
	if (getenv("DCF_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("DCF_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
