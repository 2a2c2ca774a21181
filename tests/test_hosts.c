/*
 * test_hosts.c - several hosts on one PostgreSQL store, through the real
 * programs: supervisors of their own names (each a "host", --host-id) on a
 * private server, sharing one schema. Three hosts drain one stream of
 * tasks, each task booked once and run to its end once, every host busy; a
 * host killed whole (kill -9 of its supervisor) and its tasks finished by
 * the others once its lease ends, with the run it had going counted lost;
 * the server restarted under running hosts with nothing lost; a host cut
 * off from the server (its role may no longer log in, its sessions ended)
 * whose tasks run elsewhere and whose late end is refused.
 *
 * This process is a child subreaper: a killed supervisor's workers come to
 * it and are reaped; a task process left at the end fails the test.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "dcf/store.h"
#include "testutil.h"
#include "pg.h"

#define HOSTS_MAX 3

struct host {
	char name[48];
	pid_t pid;
	int log_fd;
	char log[65536];
	size_t len;
};

struct hfix {
	char dir[64];
	char url[300];
	char marks[128];
	char sup_bin[PATH_MAX], sub_bin[PATH_MAX], sta_bin[PATH_MAX], web_bin[PATH_MAX];
	char ctl_bin[PATH_MAX];
	struct host h[HOSTS_MAX];
};

static int
setup(void **state)
{
	struct hfix *f = calloc(1, sizeof(*f));
	char p[160], err[512];

	tu_setup(state);
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/dcf-hosts-XXXXXX");
	if (mkdtemp(f->dir) == NULL || realpath("./dcf-supervisor", f->sup_bin) == NULL ||
	    realpath("./dcf-submit", f->sub_bin) == NULL ||
	    realpath("./dcf-status", f->sta_bin) == NULL ||
	    realpath("./dcf-web", f->web_bin) == NULL ||
	    realpath("./dcf-ctl", f->ctl_bin) == NULL ||
	    tpg_schema(&tpg_group, f->url, sizeof(f->url), err, sizeof(err)) == -1) {
		fprintf(stderr, "setup: %s\n", err);
		free(f);
		return -1;
	}
	snprintf(p, sizeof(p), "%s/run", f->dir);
	mkdir(p, 0700);
	setenv("XDG_RUNTIME_DIR", p, 1);
	snprintf(p, sizeof(p), "%s/state", f->dir);
	mkdir(p, 0700);
	setenv("XDG_STATE_HOME", p, 1);
	snprintf(f->marks, sizeof(f->marks), "%s/marks", f->dir);
	for (int i = 0; i < HOSTS_MAX; i++) {
		char tag[16];

		snprintf(tag, sizeof(tag), "h%d", i);
		tu_name(f->h[i].name, sizeof(f->h[i].name), tag);
		f->h[i].log_fd = -1;
	}
	*state = f;
	return 0;
}

/* Our children that are neither registered nor the server: what a test left running. */
static int
leftovers(void)
{
	pid_t kids[256];
	int n = 0, k, st;

	while (waitpid(-1, &st, WNOHANG) > 0)
		;
	k = tu_children_of(getpid(), kids, 256);
	for (int i = 0; i < k; i++)
		if (kids[i] != tpg_group.pid && !tu_is_registered(kids[i])) {
			fprintf(stderr, "left behind: pid %d\n", (int)kids[i]);
			kill(kids[i], SIGKILL);
			n++;
		}
	return n;
}

static int
teardown(void **state)
{
	struct hfix *f = *state;
	int r;

	for (int i = 0; f != NULL && i < HOSTS_MAX; i++)
		if (f->h[i].log_fd >= 0)
			close(f->h[i].log_fd);
	r = tu_teardown(state);
	(void)leftovers();
	if (f != NULL) {
		tu_rm_tree(f->dir);
		free(f);
	}
	return r;
}

/* Read host h's log until it holds what: 0; -1 if the log ended first. */
static int
log_wait(struct host *h, const char *what, double secs)
{
	uint64_t deadline = tu_deadline((uint64_t)(secs * 1000));

	while (h->len == 0 || strstr(h->log, what) == NULL) {
		struct pollfd p = {.fd = h->log_fd, .events = POLLIN};
		ssize_t n;

		if (dcf_now_ns() > deadline)
			fail_msg("%s's log has no \"%s\": %s", h->name, what, h->log);
		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(h->log_fd, h->log + h->len, sizeof(h->log) - 1 - h->len);
		if (n <= 0)
			return -1;
		h->len += (size_t)n;
		h->log[h->len] = '\0';
	}
	return 0;
}

/*
 * The supervisor of host i (nodes of its one network), on the store (url:
 * NULL, the fixture's) with a lease of lease.
 */
static void
host_start_url(struct hfix *f, int i, const char *lease, const char *nodes, const char *url)
{
	struct host *h = &f->h[i];
	const char *argv[] = {f->sup_bin, "--serve", "--name", h->name, "--store",
	    url != NULL ? url : f->url, "--networks", "1", "--nodes", nodes, "--lease", lease,
	    NULL};
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	h->pid = tu_fork();
	if (h->pid == 0) {
		char mark[16];

		/* Its tasks say which host ran them (the storm's marks). */
		snprintf(mark, sizeof(mark), "%d", i);
		setenv("DCF_TEST_HOST", mark, 1);
		dup2(p[1], 2);
		dup2(open("/dev/null", O_WRONLY), 1);
		execv(f->sup_bin, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	if (h->log_fd >= 0)
		close(h->log_fd);
	h->log_fd = p[0];
	h->len = 0;
	h->log[0] = '\0';
	if (log_wait(h, "serving '", 30) != 0)
		fail_msg("%s ended before it served: %s", h->name, h->log);
}

static void
host_start_n(struct hfix *f, int i, const char *lease, const char *nodes)
{
	host_start_url(f, i, lease, nodes, NULL);
}

static void
host_start(struct hfix *f, int i, const char *lease)
{
	host_start_n(f, i, lease, "2");
}

static int
host_stop(struct host *h, int sig)
{
	int st;

	kill(h->pid, sig);
	st = tu_waitpid_within(h->pid, 60);
	h->pid = 0;
	return st;
}

/* The end of a test: every host still running stopped (exit 0), nothing of ours left. */
static void
hosts_done(struct hfix *f)
{
	for (int i = 0; i < HOSTS_MAX; i++)
		if (f->h[i].pid > 0)
			assert_int_equal(host_stop(&f->h[i], SIGTERM), 0);
	assert_int_equal(leftovers(), 0);
}

/* bin --name (host i's) ARGS: its exit status. */
static int
run_as(struct hfix *f, const char *bin, int i, const char *in, const char *const *args)
{
	const char *argv[32];
	int n = 0, st;
	pid_t pid;

	argv[n++] = bin;
	argv[n++] = "--name";
	argv[n++] = f->h[i].name;
	while (*args != NULL)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = tu_fork();
	if (pid == 0) {
		dup2(open(in != NULL ? in : "/dev/null", O_RDONLY), 0);
		dup2(open("/dev/null", O_WRONLY), 1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	st = tu_waitpid_within(pid, 120);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int
submit(struct hfix *f, int i, const char *in, const char *const *args)
{
	return run_as(f, f->sub_bin, i, in, args);
}

/* dcf-status ARGS: its exit status, its standard output in out. */
static int
status(struct hfix *f, char *out, size_t len, const char *const *args)
{
	const char *argv[16];
	char path[128];
	int n = 0, st, fd;
	ssize_t k;
	pid_t pid;

	argv[n++] = f->sta_bin;
	while (*args != NULL)
		argv[n++] = *args++;
	argv[n] = NULL;
	snprintf(path, sizeof(path), "%s/status.out", f->dir);
	pid = tu_fork();
	if (pid == 0) {
		dup2(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
		dup2(open("/dev/null", O_WRONLY), 2);
		execv(f->sta_bin, (char *const *)argv);
		_exit(127);
	}
	st = tu_waitpid_within(pid, 60);
	fd = open(path, O_RDONLY);
	k = fd >= 0 ? read(fd, out, len - 1) : 0;
	out[k > 0 ? k : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * dcf-web on the store, through host i's name, on a port of its choosing:
 * GET path, the whole answer in out (the server stopped after).
 */
static void
web_get(struct hfix *f, int i, const char *path, char *out, size_t len)
{
	const char *argv[] = {f->web_bin, "--name", f->h[i].name, "--store", f->url, "--listen",
	    "127.0.0.1:0", NULL};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char line[512] = "", req[256], *at;
	size_t got = 0;
	int p[2], s;
	pid_t pid;
	ssize_t k;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = tu_fork();
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(open("/dev/null", O_WRONLY), 2);
		execv(f->web_bin, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	/* Its one line says the port: read as it comes. */
	while ((at = strstr(line, "http://127.0.0.1:")) == NULL || strchr(at + 17, '/') == NULL) {
		assert_true(got + 1 < sizeof(line));
		k = read(p[0], line + got, sizeof(line) - 1 - got);
		assert_true(k > 0);
		got += (size_t)k;
		line[got] = '\0';
	}
	close(p[0]);
	sa.sin_port = htons((uint16_t)strtoul(at + 17, NULL, 10));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
	assert_int_equal(write(s, req, strlen(req)), (ssize_t)strlen(req));
	for (got = 0; got + 1 < len && (k = read(s, out + got, len - 1 - got)) > 0;)
		got += (size_t)k;
	out[got] = '\0';
	close(s);
	kill(pid, SIGTERM);
	assert_int_equal(tu_waitpid_within(pid, 30), 0);
}

static int
count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* n tasks through host i: each appends "ID" to the marks once it has slept ms. */
static void
submit_n(struct hfix *f, int i, uint32_t n, uint32_t ms)
{
	char cmd[256], in[128];
	FILE *fp;

	snprintf(cmd, sizeof(cmd), "sleep %u.%03u; echo {} >> %s", ms / 1000, ms % 1000, f->marks);
	snprintf(in, sizeof(in), "%s/in", f->dir);
	assert_non_null(fp = fopen(in, "w"));
	for (uint32_t k = 1; k <= n; k++)
		fprintf(fp, "%u\n", k);
	fclose(fp);
	assert_int_equal(submit(f, i, in,
	                     (const char *const[]){"--batch", "--", "sh", "-c", cmd, NULL}),
	    0);
}

static PGconn *
db(struct hfix *f)
{
	PGconn *c = PQconnectdb(f->url);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connecting: %s", PQerrorMessage(c));
	return c;
}

static int64_t
number(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int64_t v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/*
 * Wait until n tasks have ended: each end is a notification (dcf_ended)
 * the store sends, waited for on the connection's socket.
 */
static void
wait_ended(struct hfix *f, int64_t n, double secs)
{
	uint64_t deadline = tu_deadline((uint64_t)(secs * 1000));
	PGconn *c = db(f);
	PGnotify *nf;

	PQclear(PQexec(c, "LISTEN dcf_ended"));
	while (number(c, "SELECT count(*) FROM dcf_task WHERE state >= 2") < n) {
		struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};

		if (dcf_now_ns() > deadline) {
			PGresult *r = PQexec(c,
			    "SELECT string_agg(id || ':' || state || ':' || "
			    "coalesce(owner, '-') || ':' || waits || ':' || "
			    "not_before_ns, ' ') FROM dcf_task WHERE state < 2");

			fail_msg("%lld of %lld tasks ended in %.0f s; left "
			         "(id:state:owner:waits:nb): %s",
			    (long long)number(c, "SELECT count(*) FROM dcf_task WHERE state >= 2"),
			    (long long)n, secs, PQgetvalue(r, 0, 0));
		}
		(void)poll(&p, 1, 1000); /* an end, or a second for a check against a hang */
		PQconsumeInput(c);
		while ((nf = PQnotifies(c)) != NULL)
			PQfreemem(nf);
	}
	PQfinish(c);
}

/*
 * Until the query's number is not 0: what no notification tells (a run
 * started, a host took a task), so looked at every 10 ms, for secs at most.
 */
static void
wait_true(PGconn *c, const char *sql, double secs)
{
	uint64_t deadline = tu_deadline((uint64_t)(secs * 1000));

	while (number(c, sql) == 0) {
		struct timespec ts = {0, 10000000};

		if (dcf_now_ns() > deadline)
			fail_msg("not so after %.0f s: %s", secs, sql);
		nanosleep(&ts, NULL);
	}
}

/* Until host i runs a task (through c). */
static void
wait_runs_on(struct hfix *f, PGconn *c, int i)
{
	char q[256];

	snprintf(q, sizeof(q),
	    "SELECT count(*) FROM dcf_task WHERE state = 1 AND owner LIKE '%%/%s'", f->h[i].name);
	wait_true(c, q, 30);
}

/* Every id 1..n in the marks exactly once: each task ran to its end once. */
static void
marks_once(struct hfix *f, uint32_t n)
{
	uint32_t *seen = calloc(n + 1, sizeof(*seen));
	FILE *fp = fopen(f->marks, "r");
	unsigned id;

	assert_non_null(seen);
	assert_non_null(fp);
	while (fscanf(fp, "%u", &id) == 1) {
		assert_true(id >= 1 && id <= n);
		seen[id]++;
	}
	fclose(fp);
	for (uint32_t k = 1; k <= n; k++)
		if (seen[k] != 1)
			fail_msg("task %u ran to its end %u times", k, seen[k]);
	free(seen);
}

/* How many tasks host i kept the output of: the ones it ran to their end. */
static int
ran_on(struct hfix *f, int i)
{
	char p[PATH_MAX];
	struct stat sb;
	int n = 0;

	for (uint32_t id = 1; id <= 1000; id++) {
		snprintf(p, sizeof(p), "%s/state/dcf/%s.db.out/%u", f->dir, f->h[i].name, id);
		n += stat(p, &sb) == 0;
	}
	return n;
}

/*
 * Three hosts drain one stream of 150 tasks submitted through one of them:
 * every task booked once (done), run to its end once, every host ran some,
 * nothing is held by anyone at the end.
 */
static void
test_three_drain(void **state)
{
	struct hfix *f = *state;
	PGconn *c;
	int total = 0;

	for (int i = 0; i < 3; i++)
		host_start(f, i, "5s");
	submit_n(f, 0, 150, 20);
	wait_ended(f, 150, 120);
	c = db(f);
	assert_int_equal(number(c, "SELECT count(*) FROM dcf_task WHERE state = 2"), 150);
	assert_int_equal(number(c, "SELECT count(*) FROM dcf_task WHERE owner IS NOT NULL"), 0);
	assert_int_equal(number(c, "SELECT count(*) FROM dcf_host"), 3);
	PQfinish(c);
	marks_once(f, 150);
	for (int i = 0; i < 3; i++) {
		int n = ran_on(f, i);

		if (n == 0)
			fail_msg("host %d ran nothing", i);
		total += n;
	}
	assert_int_equal(total, 150);
	/* dcf-status --hosts: the three, holding nothing now; it needs a PostgreSQL store. */
	{
		static char out[8192];

		assert_int_equal(status(f, out, sizeof(out),
		                     (const char *const[]){"--hosts", "--json", "--store", f->url,
		                         NULL}),
		    0);
		assert_int_equal(count_of(out, "\"host\": "), 3);
		assert_int_equal(count_of(out, "\"claimed\": 0, \"running\": 0"), 3);
		for (int i = 0; i < 3; i++)
			assert_non_null(strstr(out, f->h[i].name));
		assert_int_equal(status(f, out, sizeof(out),
		                     (const char *const[]){"--hosts", NULL}),
		    2);
		/* The dashboard's hosts: the same three. */
		web_get(f, 0, "/api/hosts", out, sizeof(out));
		assert_non_null(strstr(out, "HTTP/1.1 200"));
		assert_non_null(strstr(out, "\"shared\": true"));
		assert_int_equal(count_of(out, "\"host\": "), 3);
		for (int i = 0; i < 3; i++)
			assert_non_null(strstr(out, f->h[i].name));
	}
	hosts_done(f);
}

/*
 * A host killed whole while it runs tasks: the others finish them once its
 * lease (2 s) has ended by the server's clock, the runs it had going
 * counted lost (attempts 1), each restarted within the lease and a second
 * of the kill; every task ends once.
 */
static void
test_host_killed(void **state)
{
	struct hfix *f = *state;
	uint64_t killed_ns, late;
	PGconn *c;

	for (int i = 0; i < 3; i++)
		host_start(f, i, "2s");
	submit_n(f, 0, 40, 500);
	c = db(f);
	wait_runs_on(f, c, 2);
	kill(f->h[2].pid, SIGKILL);
	killed_ns = dcf_wall_ns();
	(void)tu_waitpid_within(f->h[2].pid, 30);
	f->h[2].pid = 0;
	wait_ended(f, 40, 120);
	assert_int_equal(number(c, "SELECT count(*) FROM dcf_task WHERE state = 2"), 40);
	assert_true(number(c, "SELECT count(*) FROM dcf_task WHERE attempts = 1") >= 1);
	/* Each lost run started again within the lease and a second of the kill. */
	{
		char q[256];

		snprintf(q, sizeof(q),
		    "SELECT coalesce(max(run_start_ns), 0) - %llu FROM dcf_task WHERE attempts = 1",
		    (unsigned long long)killed_ns);
		late = (uint64_t)number(c, q);
		if (late > 3000000000ULL)
			fail_msg("a lost run started again %.3f s after the kill (lease 2 s)",
			    (double)late / 1e9);
	}
	PQfinish(c);
	marks_once(f, 40);
	hosts_done(f);
}

/* The server restarted (an immediate shutdown: crash recovery) under two running hosts. */
static void
test_db_restart(void **state)
{
	struct hfix *f = *state;
	char err[512];

	for (int i = 0; i < 2; i++)
		host_start(f, i, "5s");
	submit_n(f, 0, 60, 100);
	tpg_kill(&tpg_group);
	if (tpg_restart(&tpg_group, err, sizeof(err)) == -1)
		fail_msg("restarting PostgreSQL: %s", err);
	wait_ended(f, 60, 120);
	marks_once(f, 60);
	hosts_done(f);
}

/*
 * Priorities, delays and dependencies across hosts: with both hosts busy, a
 * task of priority 4 starts before those of -1 submitted with it; a delayed
 * task runs, no sooner than its delay, woken by the time the store gave; a
 * task after another starts once that one ended, on whichever host, and one
 * after a failure ends dep-failed without running.
 */
static void
test_order_across_hosts(void **state)
{
	struct hfix *f = *state;
	PGconn *c;

	host_start_n(f, 0, "5s", "1");
	host_start_n(f, 1, "5s", "1");
	for (int k = 0; k < 6; k++) /* ids 1-6: both hosts busy, some left in the store */
		assert_int_equal(submit(f, k % 2, NULL,
		                     (const char *const[]){"--", "sleep", "0.5", NULL}),
		    0);
	for (int k = 0; k < 2; k++) /* 7, 8 */
		assert_int_equal(submit(f, 0, NULL,
		                     (const char *const[]){"-p", "-1", "--", "true", NULL}),
		    0);
	assert_int_equal(submit(f, 1, NULL, (const char *const[]){"-p", "4", "--", "true", NULL}),
	    0); /* 9 */
	assert_int_equal(submit(f, 0, NULL,
	                     (const char *const[]){"--delay", "1.5s", "--", "true", NULL}),
	    0); /* 10 */
	assert_int_equal(submit(f, 1, NULL, (const char *const[]){"--", "false", NULL}),
	    0); /* 11 */
	assert_int_equal(submit(f, 0, NULL,
	                     (const char *const[]){"--after", "10", "--", "true", NULL}),
	    0); /* 12 */
	assert_int_equal(submit(f, 1, NULL,
	                     (const char *const[]){"--after", "11", "--", "true", NULL}),
	    0); /* 13 */
	wait_ended(f, 13, 120);
	c = db(f);
	assert_int_equal(number(c,
	                     "SELECT count(*) FROM dcf_task WHERE id = 9 AND started_ns < "
	                     "(SELECT min(started_ns) FROM dcf_task WHERE id IN (7, 8))"),
	    1);
	assert_int_equal(number(c,
	                     "SELECT count(*) FROM dcf_task WHERE id = 10 AND state = 2 AND "
	                     "started_ns >= submitted_ns + 1500000000"),
	    1);
	assert_int_equal(number(c,
	                     "SELECT count(*) FROM dcf_task WHERE id = 12 AND state = 2 AND "
	                     "started_ns >= (SELECT ended_ns FROM dcf_task WHERE id = 10)"),
	    1);
	assert_int_equal(number(c, "SELECT state FROM dcf_task WHERE id = 13"), 6); /* dep-failed */
	assert_int_equal(number(c, "SELECT runs FROM dcf_task WHERE id = 13"), 0);
	PQfinish(c);
	hosts_done(f);
}

/*
 * dcf-ctl across hosts: a task waiting in the store (delayed an hour),
 * submitted through one host, cancelled through the other, ends cancelled
 * without a run; a host whose networks are paused takes no work, and what
 * is submitted through it runs on the other.
 */
static void
test_ctl_across_hosts(void **state)
{
	struct hfix *f = *state;
	char p[PATH_MAX];
	PGconn *c;

	host_start_n(f, 0, "5s", "1");
	host_start_n(f, 1, "5s", "1");
	assert_int_equal(submit(f, 0, NULL,
	                     (const char *const[]){"--delay", "1h", "--", "true", NULL}),
	    0);
	assert_int_equal(run_as(f, f->ctl_bin, 1, NULL, (const char *const[]){"cancel", "1", NULL}),
	    0);
	assert_int_equal(run_as(f, f->ctl_bin, 0, NULL, (const char *const[]){"pause", NULL}), 0);
	for (int k = 0; k < 3; k++) /* 2, 3, 4 */
		assert_int_equal(submit(f, 0, NULL, (const char *const[]){"--", "true", NULL}), 0);
	wait_ended(f, 4, 60);
	c = db(f);
	assert_int_equal(number(c, "SELECT state FROM dcf_task WHERE id = 1"), 5); /* cancelled */
	assert_int_equal(number(c, "SELECT runs FROM dcf_task WHERE id = 1"), 0);
	assert_int_equal(number(c, "SELECT count(*) FROM dcf_task WHERE state = 2"), 3);
	PQfinish(c);
	for (unsigned id = 2; id <= 4; id++) {
		snprintf(p, sizeof(p), "%s/state/dcf/%s.db.out/%u", f->dir, f->h[1].name, id);
		if (access(p, F_OK) != 0)
			fail_msg("task %u did not run on the host that is not paused", id);
	}
	hosts_done(f);
}

/*
 * dcf-ctl on tasks another host holds: the request goes through the store
 * to that host, which carries it out: a new priority and a cancel of a task
 * it holds and has not started, a kill of its run (which ends by the
 * signal, not retried); a cancel of a task nobody holds changes its row
 * alone. Host 1 is paused: host 0 (one node: it holds two tasks at most)
 * holds and runs everything.
 */
static void
test_ctl_asks(void **state)
{
	struct hfix *f = *state;
	char q[256];
	PGconn *c;

	host_start_n(f, 0, "10s", "1");
	host_start_n(f, 1, "10s", "1");
	assert_int_equal(run_as(f, f->ctl_bin, 1, NULL, (const char *const[]){"pause", NULL}), 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(submit(f, 0, NULL,
		                     (const char *const[]){"--", "sleep", "600", NULL}),
		    0);
	c = db(f);
	wait_runs_on(f, c, 0); /* task 1 */
	snprintf(q, sizeof(q), "SELECT count(*) FROM dcf_task WHERE id = 2 AND owner LIKE '%%/%s'",
	    f->h[0].name);
	wait_true(c, q, 30);
	assert_int_equal(number(c, "SELECT count(*) FROM dcf_task WHERE id = 3 AND owner IS NULL"),
	    1);
	/* Nobody's: its end recorded from host 1. */
	assert_int_equal(run_as(f, f->ctl_bin, 1, NULL, (const char *const[]){"cancel", "3", NULL}),
	    0);
	assert_int_equal(number(c, "SELECT state FROM dcf_task WHERE id = 3"), DCF_SS_CANCELLED);
	/* Host 0's, not started: moved, then cancelled, by host 0. */
	assert_int_equal(run_as(f, f->ctl_bin, 1, NULL,
	                     (const char *const[]){"priority", "2", "3", NULL}),
	    0);
	wait_true(c, "SELECT count(*) FROM dcf_task WHERE id = 2 AND prio = 3", 30);
	(void)log_wait(&f->h[0], "Task-2: asked by another host", 30);
	assert_int_equal(run_as(f, f->ctl_bin, 1, NULL, (const char *const[]){"cancel", "2", NULL}),
	    0);
	wait_ended(f, 2, 30);
	assert_int_equal(number(c, "SELECT state FROM dcf_task WHERE id = 2"), DCF_SS_CANCELLED);
	assert_int_equal(number(c, "SELECT runs FROM dcf_task WHERE id = 2"), 0);
	/* Host 0's run: its processes get the signal, and it is not run again. */
	assert_int_equal(run_as(f, f->ctl_bin, 1, NULL,
	                     (const char *const[]){"kill", "1", "INT", NULL}),
	    0);
	wait_ended(f, 3, 30);
	assert_int_equal(number(c, "SELECT state FROM dcf_task WHERE id = 1"), DCF_SS_FAILED);
	assert_int_equal(number(c, "SELECT term_sig FROM dcf_task WHERE id = 1"), SIGINT);
	assert_int_equal(number(c, "SELECT runs FROM dcf_task WHERE id = 1"), 1);
	/* Nothing to ask for an ended task: refused here, nothing asked. */
	assert_int_equal(run_as(f, f->ctl_bin, 1, NULL, (const char *const[]){"kill", "1", NULL}),
	    2);
	assert_int_equal(number(c, "SELECT count(*) FROM dcf_task WHERE ask_op <> 0"), 0);
	PQfinish(c);
	hosts_done(f);
}

/*
 * Short tasks are claimed many at a time: 400 no-op tasks, all in the
 * store (submitted while the host is paused), on one host of two nodes:
 * a claim takes more than four (a host holds four at most otherwise; how
 * many more, and how many claims in all, depends on the rate this machine
 * runs them at); each is done once. Short is any rate here (a test build's
 * DCF_SVC_SHORT_RATE 0), so that a run under valgrind is short too.
 */
static void
test_claims_batched(void **state)
{
	struct hfix *f = *state;
	char in[128], sup[PATH_MAX];
	int64_t claims, biggest;
	PGconn *c;
	FILE *fp;

	snprintf(sup, sizeof(sup), "%s", f->sup_bin);
	assert_non_null(realpath("./build/inj/dcf-supervisor", f->sup_bin));
	setenv("DCF_SVC_SHORT_RATE", "0", 1);
	host_start(f, 0, "10s");
	unsetenv("DCF_SVC_SHORT_RATE");
	snprintf(f->sup_bin, sizeof(f->sup_bin), "%s", sup);
	snprintf(in, sizeof(in), "%s/in", f->dir);
	assert_non_null(fp = fopen(in, "w"));
	for (unsigned k = 1; k <= 400; k++)
		fprintf(fp, "%u\n", k);
	fclose(fp);
	assert_int_equal(run_as(f, f->ctl_bin, 0, NULL, (const char *const[]){"pause", NULL}), 0);
	assert_int_equal(submit(f, 0, in, (const char *const[]){"--batch", "--", "true", NULL}), 0);
	assert_int_equal(run_as(f, f->ctl_bin, 0, NULL, (const char *const[]){"resume", NULL}), 0);
	wait_ended(f, 400, 300);
	c = db(f);
	assert_int_equal(number(c, "SELECT count(*) FROM dcf_task WHERE state = 2 AND runs = 1"),
	    400);
	claims = number(c, "SELECT count(DISTINCT claim_seq) FROM dcf_task");
	biggest = number(c,
	    "SELECT max(n) FROM (SELECT count(*) AS n FROM dcf_task GROUP BY claim_seq) x");
	if (biggest <= 4)
		fail_msg("400 short tasks took %lld claims, none of more than %lld",
		    (long long)claims, (long long)biggest);
	PQfinish(c);
	hosts_done(f);
}

/*
 * dcf-submit --host: a task runs on the host it names, whichever host it
 * was submitted to (with --network, on that host's network); dcf-status
 * shows the pin; a host that never served the store is refused, nothing
 * recorded.
 */
static void
test_host_pin(void **state)
{
	struct hfix *f = *state;
	char q[256], id1[160], out[8192];
	PGconn *c;
	PGresult *r;

	host_start(f, 0, "10s");
	host_start(f, 1, "10s");
	c = db(f);
	snprintf(q, sizeof(q), "SELECT owner FROM dcf_host WHERE owner LIKE '%%/%s'", f->h[1].name);
	r = PQexec(c, q);
	assert_int_equal(PQntuples(r), 1);
	snprintf(id1, sizeof(id1), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	for (int k = 0; k < 5; k++)
		assert_int_equal(submit(f, 0, NULL,
		                     (const char *const[]){"--host", id1, "--", "true", NULL}),
		    0);
	assert_int_equal(submit(f, 0, NULL,
	                     (const char *const[]){"--host", id1, "--network", "0", "--", "true",
	                         NULL}),
	    0);
	wait_ended(f, 6, 60);
	assert_int_equal(ran_on(f, 1), 6);
	assert_int_equal(ran_on(f, 0), 0);
	snprintf(q, sizeof(q), "SELECT count(*) FROM dcf_task WHERE state = 2 AND pin_host = '%s'",
	    id1);
	assert_int_equal(number(c, q), 6);
	assert_int_equal(submit(f, 1, NULL,
	                     (const char *const[]){"--host", "no-such-host", "--", "true", NULL}),
	    1);
	assert_int_equal(number(c, "SELECT count(*) FROM dcf_task"), 6);
	assert_int_equal(status(f, out, sizeof(out),
	                     (const char *const[]){"--task", "6", "--json", "--store", f->url,
	                         NULL}),
	    0);
	snprintf(q, sizeof(q), "\"host_pin\": \"%s\"", id1);
	if (strstr(out, q) == NULL || strstr(out, "\"network_pin\": 0") == NULL)
		fail_msg("no pin in: %s", out);
	PQfinish(c);
	hosts_done(f);
}

/*
 * Until process pid has gone (a pidfd's POLLIN; without pidfds, valgrind's
 * case, which knows no pidfd_open, looked at every 10 ms): when it was seen
 * gone (CLOCK_REALTIME), 0 if it outlived secs.
 */
static uint64_t
gone_at(pid_t pid, double secs)
{
	uint64_t deadline = tu_deadline((uint64_t)(secs * 1000));
	int fd = tu_valgrind() ? -1 : (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)(secs * 1000));

		close(fd);
		return r > 0 ? dcf_wall_ns() : 0;
	}
	while (kill(pid, 0) == 0 || errno != ESRCH) {
		struct timespec ts = {0, 10000000};

		if (dcf_now_ns() > deadline)
			return 0;
		nanosleep(&ts, NULL);
	}
	return dcf_wall_ns();
}

/*
 * A host's supervisor stopped (SIGSTOP) while its worker runs a task: the
 * worker kills the run once the leases have gone unrenewed for two thirds
 * of the lease, before the database lets another host take the task, and
 * the other host runs it then: the first run's process has gone before the
 * second run starts (its mark). The stopped supervisor, continued, finds
 * its leases lapsed and exits 1.
 */
static void
test_frozen_host(void **state)
{
	struct hfix *f = *state;
	char cmd[512], kind[4];
	unsigned long long who, t, start2 = 0;
	uint64_t gone_ns, deadline;
	unsigned pid1 = 0;
	int n = 0, st;
	PGconn *c;
	FILE *fp;

	host_start_n(f, 1, "3s", "1");
	snprintf(cmd, sizeof(cmd),
	    "echo S $$ $(date +%%s%%N) >> %s; [ $DCF_ATTEMPT -gt 1 ] || exec sleep 60", f->marks);
	assert_int_equal(submit(f, 1, NULL, (const char *const[]){"--", "sh", "-c", cmd, NULL}), 0);
	c = db(f);
	wait_runs_on(f, c, 1);
	/* Its mark (written as it starts, maybe just after the store has it running). */
	deadline = tu_deadline(30000);
	while ((fp = fopen(f->marks, "r")) == NULL ||
	    fscanf(fp, "%3s %u %llu", kind, &pid1, &t) != 3) {
		struct timespec ts = {0, 10000000};

		if (fp != NULL)
			fclose(fp);
		assert_true(dcf_now_ns() < deadline);
		nanosleep(&ts, NULL);
	}
	fclose(fp);
	kill(f->h[1].pid, SIGSTOP);
	host_start_n(f, 0, "3s", "1");
	if ((gone_ns = gone_at((pid_t)pid1, 30)) == 0)
		fail_msg("the stopped host's run (pid %u) still runs", pid1);
	wait_ended(f, 1, 60);
	assert_int_equal(number(c, "SELECT state FROM dcf_task WHERE id = 1"), DCF_SS_DONE);
	assert_int_equal(number(c, "SELECT runs FROM dcf_task WHERE id = 1"), 2);
	PQfinish(c);
	assert_non_null(fp = fopen(f->marks, "r"));
	while (fscanf(fp, "%3s %llu %llu", kind, &who, &t) == 3)
		if (++n == 2)
			start2 = t;
	fclose(fp);
	assert_int_equal(n, 2);
	if (gone_ns >= start2)
		fail_msg("the runs overlapped: the first ended at %llu, the second began at %llu",
		    (unsigned long long)gone_ns, start2);
	kill(f->h[1].pid, SIGCONT);
	st = tu_waitpid_within(f->h[1].pid, 60);
	f->h[1].pid = 0;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	hosts_done(f);
}

/* One run of a task in the marks: when it started and ended (0: it did not end). */
struct run_mark {
	uint64_t start, end;
};

/*
 * A host cut off from the database (its role may no longer log in, its
 * sessions ended) while it runs tasks: it stops its runs and exits 1 before
 * its lease ends, saying why; the others run its tasks once the lease has
 * ended; every task is booked once, and no two runs of one task overlap in
 * time (start and end marks: a run that did not end was stopped by the
 * cut-off host before it exited, before any other run of it began).
 */
static void
test_cut_off(void **state)
{
	struct hfix *f = *state;
	static struct run_mark runs[31][8];
	uint32_t nruns[31] = {0};
	char url[400], err[512], kind[4], cmd[512];
	uint64_t exited_ns;
	unsigned id;
	unsigned long long t;
	PGconn *c;
	FILE *fp;
	int st;

	if (tpg_exec(&tpg_group, NULL, "DROP ROLE IF EXISTS cut; CREATE ROLE cut LOGIN SUPERUSER",
	        err, sizeof(err)) == -1)
		fail_msg("%s", err);
	snprintf(url, sizeof(url), "postgresql://cut@%s", strstr(f->url, "@") + 1);
	host_start(f, 0, "3s");
	host_start(f, 1, "3s");
	host_start_url(f, 2, "3s", "2", url);
	snprintf(cmd, sizeof(cmd),
	    "echo S {} $(date +%%s%%N) >> %s; sleep 1; echo E {} $(date +%%s%%N) >> %s", f->marks,
	    f->marks);
	{
		char in[128];

		snprintf(in, sizeof(in), "%s/in", f->dir);
		assert_non_null(fp = fopen(in, "w"));
		for (unsigned k = 1; k <= 30; k++)
			fprintf(fp, "%u\n", k);
		fclose(fp);
		assert_int_equal(submit(f, 0, in,
		                     (const char *const[]){"--batch", "--", "sh", "-c", cmd, NULL}),
		    0);
	}
	c = db(f);
	wait_runs_on(f, c, 2);
	PQclear(PQexec(c, "ALTER ROLE cut NOLOGIN"));
	PQclear(PQexec(c,
	    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = "
	    "'cut'"));
	(void)log_wait(&f->h[2], "leases were not renewed", 30);
	st = tu_waitpid_within(f->h[2].pid, 60);
	exited_ns = dcf_wall_ns();
	f->h[2].pid = 0;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	wait_ended(f, 30, 120);
	assert_int_equal(number(c, "SELECT count(*) FROM dcf_task WHERE state = 2"), 30);
	PQfinish(c);
	/* The marks: no two runs of one task at once. */
	assert_non_null(fp = fopen(f->marks, "r"));
	while (fscanf(fp, "%3s %u %llu", kind, &id, &t) == 3) {
		assert_true(id >= 1 && id <= 30);
		if (kind[0] == 'S') {
			assert_true(nruns[id] < 8);
			runs[id][nruns[id]++] = (struct run_mark){.start = t};
		} else {
			/* Its run: the last that started and has not ended. */
			uint32_t k = nruns[id];

			while (k > 0 && runs[id][k - 1].end != 0)
				k--;
			assert_true(k > 0);
			runs[id][k - 1].end = t;
		}
	}
	fclose(fp);
	for (id = 1; id <= 30; id++) {
		assert_true(nruns[id] >= 1);
		for (uint32_t k = 1; k < nruns[id]; k++) {
			const struct run_mark *a = &runs[id][k - 1], *b = &runs[id][k];

			if (a->end != 0 ? a->end > b->start : b->start < exited_ns)
				fail_msg("task %u: a run began at %llu while another (%llu-%llu) "
				         "went on",
				    id, (unsigned long long)b->start, (unsigned long long)a->start,
				    (unsigned long long)a->end);
		}
	}
	hosts_done(f);
	(void)tpg_exec(&tpg_group, NULL, "DROP ROLE IF EXISTS cut", err, sizeof(err));
}

/*
 * The kill storm, across hosts: three hosts run 100 tasks while one of them,
 * at random, is SIGKILLed whole (its supervisor; its workers and tasks end
 * with it) and started again at once, over and over (lease 1 s). At the
 * end every task is done once in the store, and by the start and end marks
 * (each naming its host) no two runs of one task overlapped: a run that did
 * not end was ended by its host's kill, before any later run of it began.
 */
static void
test_storm(void **state)
{
	struct hfix *f = *state;
	static struct {
		uint64_t start, end;
		unsigned host;
	} runs[101][16];
	static uint64_t kills[3][64];
	uint32_t nruns[101] = {0}, nkills[3] = {0}, total = 0, rerun = 0;
	char cmd[512], in[128], kind[4];
	unsigned long long t;
	unsigned id, host, seed = 42;
	uint64_t deadline;
	PGconn *c;
	FILE *fp;

	for (int i = 0; i < 3; i++)
		host_start(f, i, "1s");
	snprintf(cmd, sizeof(cmd),
	    "echo S {} $DCF_TEST_HOST $(date +%%s%%N) >> %s; sleep 0.2; "
	    "echo E {} $DCF_TEST_HOST $(date +%%s%%N) >> %s",
	    f->marks, f->marks);
	snprintf(in, sizeof(in), "%s/in", f->dir);
	assert_non_null(fp = fopen(in, "w"));
	for (unsigned k = 1; k <= 100; k++)
		fprintf(fp, "%u\n", k);
	fclose(fp);
	assert_int_equal(submit(f, 0, in,
	                     (const char *const[]){"--batch", "--", "sh", "-c", cmd, NULL}),
	    0);
	c = db(f);
	deadline = tu_deadline(180000);
	while (number(c, "SELECT count(*) FROM dcf_task WHERE state >= 2") < 100) {
		unsigned victim = (seed = seed * 1103515245u + 12345u) % 3;
		struct timespec ts = {0, 150000000 + (long)(seed % 250) * 1000000};

		assert_true(dcf_now_ns() < deadline);
		nanosleep(&ts, NULL); /* the storm's pace: a kill at a random moment */
		if (total >= 40)
			continue; /* enough: the rest finish */
		kill(f->h[victim].pid, SIGKILL);
		(void)tu_waitpid_within(f->h[victim].pid, 30);
		kills[victim][nkills[victim]++] = dcf_wall_ns();
		total++;
		host_start(f, (int)victim, "1s");
	}
	assert_int_equal(number(c, "SELECT count(*) FROM dcf_task WHERE state = 2"), 100);
	PQfinish(c);
	assert_non_null(fp = fopen(f->marks, "r"));
	while (fscanf(fp, "%3s %u %u %llu", kind, &id, &host, &t) == 4) {
		assert_true(id >= 1 && id <= 100 && host < 3);
		if (kind[0] == 'S') {
			assert_true(nruns[id] < 16);
			runs[id][nruns[id]].start = t;
			runs[id][nruns[id]].end = 0;
			runs[id][nruns[id]++].host = host;
		} else {
			uint32_t k = nruns[id];

			while (k > 0 && (runs[id][k - 1].end != 0 || runs[id][k - 1].host != host))
				k--;
			assert_true(k > 0);
			runs[id][k - 1].end = t;
		}
	}
	fclose(fp);
	for (id = 1; id <= 100; id++) {
		uint32_t ended = 0;

		assert_true(nruns[id] >= 1);
		for (uint32_t k = 0; k < nruns[id]; k++) {
			uint64_t over = runs[id][k].end;

			ended += over != 0;
			if (over ==
			    0) { /* killed with its host: the first kill of it after its start */
				over = UINT64_MAX;
				for (uint32_t j = 0; j < nkills[runs[id][k].host]; j++)
					if (kills[runs[id][k].host][j] >= runs[id][k].start) {
						over = kills[runs[id][k].host][j];
						break;
					}
			}
			if (k + 1 < nruns[id] && runs[id][k + 1].start < over)
				fail_msg("task %u: a run began on host %u at %llu while one on "
				         "host %u "
				         "(from %llu) went on",
				    id, runs[id][k + 1].host,
				    (unsigned long long)runs[id][k + 1].start, runs[id][k].host,
				    (unsigned long long)runs[id][k].start);
		}
		assert_true(ended >= 1);
		rerun += nruns[id] > 1;
	}
	fprintf(stderr, "storm: %u kills, %u tasks ran more than once\n", total, rerun);
	assert_true(total >= 10);
	hosts_done(f);
}

/*
 * dcf-submit --wait through a host that does not run the task: host 0, one
 * node, holds all it may (two sleeps); host 1 takes the task, and host 0
 * hears of its end from the store and answers with its exit status.
 */
static void
test_wait_elsewhere(void **state)
{
	struct hfix *f = *state;
	PGconn *c;
	char q[256];

	host_start_n(f, 0, "5s", "1");
	for (int k = 0; k < 2; k++)
		assert_int_equal(submit(f, 0, NULL,
		                     (const char *const[]){"--", "sleep", "3", NULL}),
		    0);
	host_start(f, 1, "5s");
	assert_int_equal(submit(f, 0, NULL,
	                     (const char *const[]){"--wait", "--", "sh", "-c", "exit 7", NULL}),
	    7);
	c = db(f);
	snprintf(q, sizeof(q), "SELECT count(*) FROM dcf_task WHERE id = 3 AND state = 3");
	assert_int_equal(number(c, q), 1);
	PQfinish(c);
	snprintf(q, sizeof(q), "%s/state/dcf/%s.db.out/3", f->dir, f->h[1].name);
	assert_int_equal(access(q, F_OK), 0); /* host 1 ran it */
	hosts_done(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_three_drain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_killed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_db_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wait_elsewhere, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cut_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_order_across_hosts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_storm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctl_across_hosts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctl_asks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_pin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claims_batched, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_frozen_host, setup, teardown),
	};

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (getenv("DCF_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("DCF_TEST_FILTER"));
	return cmocka_run_group_tests(tests, tpg_group_up, tpg_group_down);
}
