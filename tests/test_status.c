/*
 * test_status.c - dcf-status and the snapshot it reads.
 *
 * A known state is built in a real segment with the books' own operations
 * (this process is its "supervisor", so the system counts as running), then
 * read back three ways: dcf_snap_take in process, the real ./dcf-status
 * binary's text, and its JSON parsed by the tests' strict reader (runlib)
 * and once by python3's. Then the ways a segment can be wrong: no system, a dead
 * supervisor, another layout, another owner, a corrupt header, out-of-range
 * node values, counts that do not add up, a holder killed mid-transaction,
 * and every byte of an image flipped. Watch mode runs on a pipe (--count)
 * and on a pseudo-terminal, which must be given back as it was.
 *
 * Names, segments and children come from tests/testutil.h, whose teardown
 * removes and reaps whatever a test left.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dcf/snapshot.h"
#include "dcf/status_render.h"

#include "../tools/runlib.h"
#include "testutil.h"

#define STATUS  "./dcf-status"
#define TTY_BYE "\033[?7h\033[?25h\033[?1049l" /* the last bytes on the terminal */

static struct dcf_snap *snap; /* one for the whole suite: about 1 MiB */

/* ---- reading JSON back: the tests' one reader (runlib), with assertions ---- */

/* Item i of an array, which must be there. */
static const struct run_jv *
jat(const struct run_jv *a, size_t i)
{
	const struct run_jv *v = run_json_at(a, i);

	if (v == NULL) {
		fail_msg("JSON array item %zu missing", i);
		abort(); /* not reached: for the compiler */
	}
	return v;
}

/* A member that must be a whole number. */
static uint64_t
ju(const struct run_jv *o, const char *key)
{
	const struct run_jv *v = run_json_get(o, key);

	if (v == NULL || v->t != RJ_NUM || !v->is_uint)
		fail_msg("JSON field '%s' missing or not a whole number", key);
	return v->u;
}

static int
jis(const struct run_jv *o, const char *key, enum run_jt t)
{
	const struct run_jv *v = run_json_get(o, key);

	return v != NULL && v->t == t;
}

static const char *
jstrval(const struct run_jv *o, const char *key)
{
	const struct run_jv *v = run_json_get(o, key);

	if (v == NULL || v->t != RJ_STR)
		fail_msg("JSON field '%s' missing or not a string", key);
	return v->s;
}

static void
test_json_parser(void **state)
{
	static const char *const bad[] = {
	    "",
	    "{",
	    "{\"a\":}",
	    "[1,]",
	    "{\"a\" 1}",
	    "01",
	    "1.",
	    "-",
	    "\"\x01\"",
	    "nul",
	    "{\"a\":1}x",
	    "\"\\x\"",
	    "[\"\\u00\"]",
	    "1e",
	    "{a:1}",
	};
	struct run_jv *v;

	(void)state;
	v = run_json_parse(
	    " {\"a\": [1, -2.5e3, true, false, null, \"x\\\"\\u0041\"], \"b\": {}} ");
	assert_non_null(v);
	assert_int_equal(jat(run_json_get(v, "a"), 0)->u, 1);
	assert_true(jat(run_json_get(v, "a"), 1)->num == -2500.0);
	assert_false(jat(run_json_get(v, "a"), 1)->is_uint);
	assert_string_equal(jat(run_json_get(v, "a"), 5)->s, "x\"A");
	assert_true(jis(v, "b", RJ_OBJ));
	run_json_free(v);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = run_json_parse(bad[i]);
		if (v != NULL)
			fail_msg("parsed invalid JSON '%s'", bad[i]);
	}
}

/* ---- running the binary ---------------------------------------------- */

struct out {
	int st;
	char *o, *e;
	size_t on, en;
};

static void
out_free(struct out *r)
{
	free(r->o);
	free(r->e);
	r->o = r->e = NULL;
}

/* Append what fd has to *buf; 0 at EOF. */
static int
slurp(int fd, char **buf, size_t *len)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n == -1 && errno == EINTR)
		return 1;
	if (n <= 0)
		return 0;
	*buf = realloc(*buf, *len + (size_t)n + 1);
	assert_non_null(*buf);
	memcpy(*buf + *len, tmp, (size_t)n);
	*len += (size_t)n;
	(*buf)[*len] = '\0';
	return 1;
}

/* When not 0: an alarm, in seconds, for what spawn starts (a hang fails the test). */
static unsigned spawn_alarm_s;

/*
 * Start argv with stdin /dev/null, pipes for stdout and stderr, and no other
 * descriptor open.
 */
static pid_t
spawn(const char *const *argv, const char *env, int *outfd, int *errfd)
{
	int po[2], pe[2];
	pid_t pid;

	assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
	pid = tu_fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close_range(3, ~0U, 0);
		if (spawn_alarm_s > 0)
			alarm(spawn_alarm_s * (tu_valgrind() ? 10u : 1u)); /* kept across exec */
		unsetenv("NO_COLOR");
		if (env != NULL)
			putenv((char *)env);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	*outfd = po[0];
	*errfd = pe[0];
	return pid;
}

/* Read both pipes until EOF, or until stdout holds `until` (when not NULL). */
static void
drain(struct out *r, int outfd, int errfd, const char *until)
{
	uint64_t deadline = tu_deadline(20000);
	int open_out = 1, open_err = 1;

	while (open_out || open_err) {
		struct pollfd p[2] = {{outfd, POLLIN, 0}, {errfd, POLLIN, 0}};
		struct timespec ts;

		if (until != NULL && r->o != NULL && strstr(r->o, until) != NULL)
			return;
		if (!tu_time_left(deadline, &ts))
			fail_msg("dcf-status did not finish; stdout so far:\n%s", r->o ? r->o : "");
		p[0].fd = open_out ? outfd : -1;
		p[1].fd = open_err ? errfd : -1;
		if (ppoll(p, 2, &ts, NULL) <= 0)
			continue;
		if (p[0].revents != 0)
			open_out = slurp(outfd, &r->o, &r->on);
		if (p[1].revents != 0)
			open_err = slurp(errfd, &r->e, &r->en);
	}
}

/* Run argv to its end. */
static void
run_argv(struct out *r, const char *const *argv, const char *env)
{
	int outfd, errfd;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	pid = spawn(argv, env, &outfd, &errfd);
	drain(r, outfd, errfd, NULL);
	close(outfd);
	close(errfd);
	r->st = tu_waitpid(pid);
	if (r->o == NULL)
		r->o = strdup("");
	if (r->e == NULL)
		r->e = strdup("");
}

/* Run dcf-status with the given arguments (NULL-terminated) to its end. */
static void
run_env(struct out *r, const char *env, ...)
{
	const char *argv[24];
	const char *a;
	va_list ap;
	int n = 0;

	argv[n++] = STATUS;
	va_start(ap, env);
	while ((a = va_arg(ap, const char *)) != NULL && n < 23)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	run_argv(r, argv, env);
}

#define run(r, ...) run_env((r), NULL, __VA_ARGS__, (const char *)NULL)

static void
assert_exit(const struct out *r, int code)
{
	if (!WIFEXITED(r->st) || WEXITSTATUS(r->st) != code)
		fail_msg("dcf-status: %s, expected exit %d\nstdout:\n%s\nstderr:\n%s",
		    tu_status_str(r->st), code, r->o, r->e);
}

static void
assert_has(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("expected '%s' in:\n%s", needle, hay);
}

/* stderr is exactly one line. */
static void
assert_one_line(const struct out *r)
{
	char *nl = strchr(r->e, '\n');

	if (nl == NULL || nl[1] != '\0')
		fail_msg("expected one line on stderr, got:\n%s", r->e);
}

/* ---- the known state ------------------------------------------------- */

/*
 * 2 networks of 3 nodes, 20 tasks, 16 slots. After build_state:
 *   dispatched 12 (ids 0-1 to recovery, 2-7 to net 0, 8-11 to net 1);
 *   node 0 (net 0): completed id 0, now busy with id 3       pid 1000
 *   node 1 (net 0): died with id 1 (back to recovery), restarted: starting
 *   node 2 (net 0): completed id 2, idle                      pid 1002
 *   node 3 (net 1): died with id 8 at its last attempt (quarantined): down
 *   node 4 (net 1): failed
 *   node 5 (net 1): idle                                      pid 1005
 * so total 20 = 8 pending + 8 queued (1 recovery, 4 net 0, 3 net 1)
 *   + 1 running + 2 completed + 1 quarantined; 1 reclaimed.
 */
static void
small_config(struct dcf_config *c)
{
	tu_config(c);
	c->nodes_per_net = 3;
	c->max_nodes = 6;
	c->task_slots = 16;
	c->tasks = 20;
	c->task_ms_min = 10;
	c->task_ms_max = 20;
	c->work = DCF_WORK_SLEEP;
	c->max_attempts = 2;
}

static void
claim(struct dcf_seg *sg, uint32_t node, uint32_t gen, uint64_t want_id, struct dcf_claim *cl)
{
	assert_int_equal(dcf_claim_locked(sg, node, gen, 2000 + (pid_t)node, dcf_now_ns(), cl), 0);
	assert_int_equal(cl->id, want_id);
}

static void
complete(struct dcf_seg *sg, uint32_t node, uint32_t gen, const struct dcf_claim *cl)
{
	int wake;

	assert_int_equal(dcf_complete_locked(sg, node, gen, cl->slot, cl->id, 0, &wake), 0);
}

static void
build_state(struct dcf_seg *sg)
{
	uint64_t now = dcf_now_ns();
	struct dcf_claim cl[6];
	struct dcf_reclaim rc;

	tu_lock(sg);
	for (uint32_t n = 0; n < 6; n++)
		assert_int_equal(dcf_node_start_locked(sg, n, 1, 1000 + (pid_t)n, 0, now), 0);
	for (int i = 0; i < 12; i++)
		assert_int_equal(dcf_dispatch_locked(sg,
		                     i < 2       ? DCF_RING_RECOVERY
		                         : i < 8 ? DCF_RING_NET0
		                                 : DCF_RING_NET0 + 1,
		                     now),
		    0);
	claim(sg, 0, 1, 0, &cl[0]);
	claim(sg, 1, 1, 1, &cl[1]);
	claim(sg, 2, 1, 2, &cl[2]);
	claim(sg, 3, 1, 8, &cl[3]);
	complete(sg, 0, 1, &cl[0]);
	complete(sg, 2, 1, &cl[2]);
	claim(sg, 0, 1, 3, &cl[0]);
	assert_int_equal(dcf_node_died_locked(sg, 1, 1, 2, now, &rc), 0);
	assert_false(rc.quarantined);
	assert_int_equal(dcf_node_start_locked(sg, 1, 2, 1001, 1, now), 0);
	assert_int_equal(dcf_node_died_locked(sg, 3, 1, 1, now, &rc), 0);
	assert_true(rc.quarantined);
	assert_int_equal(dcf_node_set_state_locked(sg, 4, DCF_NODE_FAILED), 0);
	assert_int_equal(dcf_node_ready_locked(sg, 2, 1, now), 0);
	assert_int_equal(dcf_node_ready_locked(sg, 5, 1, now), 0);
	tu_assert_books(sg);
	dcf_unlock(sg);
}

static void
new_state(struct dcf_seg *sg, const char *tag)
{
	struct dcf_config c;

	small_config(&c);
	tu_seg_create(sg, tag, &c);
	build_state(sg);
}

/* The counts of the known state, in a snapshot. */
static void
assert_known_counts(const struct dcf_snap *s, uint64_t completed, uint64_t running)
{
	assert_true(s->consistent);
	assert_int_equal(s->total, 20);
	assert_int_equal(s->pending, 8);
	assert_int_equal(s->queued, 8);
	assert_int_equal(s->running, running);
	assert_int_equal(s->completed, completed);
	assert_int_equal(s->quarantined, 1);
	assert_int_equal(s->reclaimed, 1);
	assert_int_equal(s->recovery_depth, 1);
	assert_int_equal(s->pending + s->queued + s->running + s->completed + s->quarantined,
	    s->total);
}

static int
take(struct dcf_seg *sg, unsigned tries, char *err)
{
	return dcf_snap_take(snap, sg->base, sg->size, getuid(), tries, err, DCF_ERRLEN);
}

/* Output into memory: mem_open gives the stream, mem_close the text (malloc'd). */
struct mem {
	char *buf;
	size_t len;
	FILE *f;
};

static FILE *
mem_open(struct mem *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
	return m->f;
}

static char *
mem_close(struct mem *m)
{
	assert_int_equal(fclose(m->f), 0);
	return m->buf;
}

/* Render with o into a malloc'd string. */
static char *
render(int json, const struct dcf_render_opt *o)
{
	struct mem m;
	FILE *f = mem_open(&m);

	assert_int_equal(json ? dcf_render_json(f, snap, o) : dcf_render_text(f, snap, o), 0);
	return mem_close(&m);
}

/* ---- tests: the known state ------------------------------------------ */

/*
 * Queued by priority: the known state's queue (all at 0) and three more,
 * two at 4 on network 1 and one at -2 on the recovery ring, counted per
 * level; the text says so in one line, the JSON in an object.
 */
static void
test_queued_by_priority(void **state)
{
	struct dcf_seg sg;
	char err[DCF_ERRLEN], *text;
	struct dcf_render_opt o = {.width = 200};
	const uint32_t rings[3] = {dcf_ring_of(2, DCF_LEVELS - 1, 1),
	    dcf_ring_of(2, DCF_LEVELS - 1, 1), dcf_ring_of(2, 2, DCF_NONE)};

	(void)state;
	new_state(&sg, "qprio");
	assert_int_equal(take(&sg, 1, err), 0);
	text = render(0, &o);
	assert_null(strstr(text, "queued by priority")); /* all at 0: nothing to say */
	free(text);
	tu_lock(&sg);
	assert_int_equal(dcf_dispatch_n_locked(&sg, rings, 3, dcf_now_ns()), 3);
	dcf_unlock(&sg);
	assert_int_equal(take(&sg, 1, err), 0);
	assert_int_equal(snap->level_depth[DCF_LEVELS - 1], 2);
	assert_int_equal(snap->level_depth[2], 1);
	assert_int_equal(snap->level_depth[DCF_LEVEL_DEFAULT], snap->queued - 3);
	text = render(0, &o);
	{
		char want[96];

		snprintf(want, sizeof(want), "queued by priority: 4: 2, 0: %u, -2: 1\n",
		    snap->level_depth[DCF_LEVEL_DEFAULT]);
		if (strstr(text, want) == NULL)
			fail_msg("no \"%s\" in:\n%s", want, text);
		free(text);
		text = render(1, &o);
		snprintf(want, sizeof(want),
		    "\"queued_by_priority\": {\"4\": 2, \"0\": %u, \"-2\": 1}",
		    snap->level_depth[DCF_LEVEL_DEFAULT]);
		if (strstr(text, want) == NULL)
			fail_msg("no %s in:\n%s", want, text);
	}
	free(text);
	dcf_seg_destroy(&sg);
}

static void
test_snapshot_known_state(void **state)
{
	static const struct {
		uint32_t state;
		int task;
		uint64_t done, fail, restart;
		int32_t pid;
	} want[6] = {
	    {DCF_NODE_BUSY, 3, 1, 0, 0, 1000},
	    {DCF_NODE_STARTING, -1, 0, 1, 1, 1001},
	    {DCF_NODE_IDLE, -1, 1, 0, 0, 1002},
	    {DCF_NODE_DOWN, -1, 0, 1, 0, 0},
	    {DCF_NODE_FAILED, -1, 0, 0, 0, 0},
	    {DCF_NODE_IDLE, -1, 0, 0, 0, 1005},
	};
	struct dcf_seg sg;
	char err[DCF_ERRLEN];

	(void)state;
	new_state(&sg, "snap");
	assert_int_equal(take(&sg, 1, err), 0);
	assert_int_equal(snap->tries, 1);
	assert_false(snap->replayed);
	assert_int_equal(snap->anomalies, 0);
	assert_known_counts(snap, 2, 1);
	assert_int_equal(snap->net[0].nodes, 3);
	assert_int_equal(snap->net[0].alive, 3);
	assert_int_equal(snap->net[0].by_state[DCF_NODE_BUSY], 1);
	assert_int_equal(snap->net[0].by_state[DCF_NODE_IDLE], 1);
	assert_int_equal(snap->net[0].by_state[DCF_NODE_STARTING], 1);
	assert_int_equal(snap->net[0].queue_depth, 4);
	assert_int_equal(snap->net[0].completed, 2);
	assert_int_equal(snap->net[1].alive, 1);
	assert_int_equal(snap->net[1].by_state[DCF_NODE_DOWN], 1);
	assert_int_equal(snap->net[1].by_state[DCF_NODE_FAILED], 1);
	assert_int_equal(snap->net[1].queue_depth, 3);
	assert_int_equal(snap->net[1].completed, 0);
	for (uint32_t n = 0; n < 6; n++) {
		struct dcf_snap_node v;

		assert_int_equal(dcf_snap_node(snap, n, &v), 0);
		assert_true(v.id_ok);
		assert_false(v.bad);
		assert_int_equal(v.net, n / 3);
		assert_int_equal(v.idx, n % 3);
		assert_int_equal(v.state, want[n].state);
		assert_int_equal(v.has_task, want[n].task >= 0);
		if (want[n].task >= 0) {
			assert_int_equal(v.task_id, (uint64_t)want[n].task);
			assert_true(v.has_run);
		}
		assert_int_equal(v.completed, want[n].done);
		assert_int_equal(v.failures, want[n].fail);
		assert_int_equal(v.restarts, want[n].restart);
		assert_int_equal(v.has_pid, want[n].pid != 0);
		assert_int_equal(v.pid, want[n].pid);
	}
	dcf_seg_destroy(&sg);
}

/* The text of the binary: the task line, the network rows, the node rows. */
static void
test_binary_text(void **state)
{
	struct dcf_seg sg;
	struct out r;
	char want[128];
	const char *p;
	int rows = 0;

	(void)state;
	new_state(&sg, "text");
	run(&r, "--name", sg.hdr->name, "--nodes");
	assert_exit(&r, 0);
	assert_int_equal(r.en, 0);
	snprintf(want, sizeof(want), "dcf '%s': supervisor pid %d, up ", sg.hdr->name,
	    (int)getpid());
	assert_has(r.o, want);
	assert_has(r.o, "config: 2 networks x 3 nodes, 20 tasks");
	assert_has(r.o,
	    "tasks: 20 total = 8 pending + 8 queued + 1 running + 2 completed + "
	    "1 quarantined\n");
	assert_has(r.o, "1 reclaimed, recovery queue 1, ");
	assert_has(r.o, "completed/s since start");
	/* The network table: net nodes alive busy idle start down failed stopped queue completed. */
	p = strstr(r.o, "\nnet nodes");
	assert_non_null(p);
	for (p = strchr(p + 1, '\n') + 1; rows < 2; rows++) {
		unsigned v[11];

		assert_int_equal(sscanf(p, "%u %u %u %u %u %u %u %u %u %u %u", &v[0], &v[1], &v[2],
		                     &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10]),
		    11);
		if (rows == 0) {
			unsigned w[11] = {0, 3, 3, 1, 1, 1, 0, 0, 0, 4, 2};

			assert_memory_equal(v, w, sizeof(w));
		} else {
			unsigned w[11] = {1, 3, 1, 0, 1, 0, 1, 1, 0, 3, 0};

			assert_memory_equal(v, w, sizeof(w));
		}
		p = strchr(p, '\n') + 1;
	}
	/* The node rows: net node pid state task running completed failures restarts hb. */
	p = strstr(r.o, "\nnet node ");
	assert_non_null(p);
	p = strchr(p + 1, '\n') + 1;
	for (int n = 0; n < 6; n++) {
		static const char *const st[6] = {"busy", "starting", "idle", "down", "failed",
		    "idle"};
		static const char *const pid[6] = {"1000", "1001", "1002", "-", "-", "1005"};
		char f[10][32];

		assert_int_equal(sscanf(p, "%31s %31s %31s %31s %31s %31s %31s %31s %31s %31s",
		                     f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]),
		    10);
		assert_int_equal(atoi(f[0]), n / 3);
		assert_int_equal(atoi(f[1]), n % 3);
		assert_string_equal(f[2], pid[n]);
		assert_string_equal(f[3], st[n]);
		assert_string_equal(f[4], n == 0 ? "3" : "-");
		p = strchr(p, '\n') + 1;
	}
	out_free(&r);
	dcf_seg_destroy(&sg);
}

static void
check_json_known(const struct run_jv *d, const char *name, uint64_t completed, uint64_t running)
{
	static const struct {
		const char *state;
		int task;
		unsigned done, fail, restart, pid;
	} want[6] = {
	    {"busy", 3, 1, 0, 0, 1000},
	    {"starting", -1, 0, 1, 1, 1001},
	    {"idle", -1, 1, 0, 0, 1002},
	    {"down", -1, 0, 1, 0, 0},
	    {"failed", -1, 0, 0, 0, 0},
	    {"idle", -1, 0, 0, 0, 1005},
	};
	const struct run_jv *t = run_json_get(d, "tasks"), *nets = run_json_get(d, "networks"),
	                    *nodes = run_json_get(d, "nodes");

	assert_non_null(d);
	assert_int_equal(ju(d, "schema"), DCF_STATUS_SCHEMA);
	assert_string_equal(jstrval(d, "name"), name);
	assert_true(jis(d, "consistent", RJ_BOOL) && run_json_get(d, "consistent")->b);
	assert_int_equal(ju(d, "supervisor_pid"), (uint64_t)getpid());
	assert_string_equal(jstrval(d, "state"), "running");
	assert_true(jis(d, "uptime_s", RJ_NUM) && run_json_get(d, "uptime_s")->num >= 0);
	assert_int_equal(ju(run_json_get(d, "config"), "nets"), 2);
	assert_int_equal(ju(run_json_get(d, "config"), "nodes_per_net"), 3);
	assert_string_equal(jstrval(run_json_get(d, "config"), "work"), "sleep");
	assert_int_equal(ju(t, "total"), 20);
	assert_int_equal(ju(t, "pending"), 8);
	assert_int_equal(ju(t, "queued"), 8);
	assert_int_equal(ju(t, "running"), running);
	assert_int_equal(ju(t, "completed"), completed);
	assert_int_equal(ju(t, "quarantined"), 1);
	assert_int_equal(ju(t, "reclaimed"), 1);
	assert_int_equal(ju(t, "pending") + ju(t, "queued") + ju(t, "running") +
	        ju(t, "completed") + ju(t, "quarantined"),
	    ju(t, "total"));
	assert_int_equal(ju(d, "recovery_queue_depth"), 1);
	assert_int_equal(ju(run_json_get(d, "counters"), "dispatched"), 12);
	assert_int_equal(ju(d, "invalid_values"), 0);
	assert_true(jis(d, "rate_per_s", RJ_NUM));
	assert_true(nets != NULL && nets->t == RJ_ARR && nets->n == 2);
	assert_int_equal(ju(jat(nets, 0), "id"), 0);
	assert_int_equal(ju(jat(nets, 0), "nodes_alive"), 3);
	assert_int_equal(ju(jat(nets, 0), "nodes_busy"), running);
	assert_int_equal(ju(jat(nets, 0), "queue_depth"), 4);
	assert_int_equal(ju(jat(nets, 0), "completed"), completed);
	assert_int_equal(ju(jat(nets, 1), "nodes_alive"), 1);
	assert_int_equal(ju(jat(nets, 1), "nodes_down"), 1);
	assert_int_equal(ju(jat(nets, 1), "nodes_failed"), 1);
	assert_int_equal(ju(jat(nets, 1), "queue_depth"), 3);
	assert_true(nodes != NULL && nodes->t == RJ_ARR && nodes->n == 6);
	for (size_t n = 0; n < 6; n++) {
		const struct run_jv *v = jat(nodes, n);
		int busy = n == 0 && running == 1;

		assert_int_equal(ju(v, "slot"), n);
		assert_int_equal(ju(v, "network"), n / 3);
		assert_int_equal(ju(v, "node"), n % 3);
		assert_string_equal(jstrval(v, "state"), busy || n != 0 ? want[n].state : "idle");
		if (want[n].pid != 0)
			assert_int_equal(ju(v, "pid"), want[n].pid);
		else
			assert_true(jis(v, "pid", RJ_NULL));
		if (busy) {
			assert_int_equal(ju(v, "task"), 3);
			assert_true(jis(v, "task_running_s", RJ_NUM));
		} else {
			assert_true(jis(v, "task", RJ_NULL));
			assert_true(jis(v, "task_running_s", RJ_NULL));
		}
		assert_int_equal(ju(v, "completed"), want[n].done + (n == 0 && !busy));
		assert_int_equal(ju(v, "failures"), want[n].fail);
		assert_int_equal(ju(v, "restarts"), want[n].restart);
		assert_true(jis(v, "heartbeat_age_s", RJ_NUM));
	}
}

static void
test_binary_json(void **state)
{
	struct dcf_seg sg;
	struct out r;
	struct run_jv *d;

	(void)state;
	new_state(&sg, "json");
	run(&r, "--name", sg.hdr->name, "--json");
	assert_exit(&r, 0);
	d = run_json_parse(r.o);
	if (d == NULL)
		fail_msg("not JSON:\n%s", r.o);
	check_json_known(d, sg.hdr->name, 2, 1);
	run_json_free(d);
	out_free(&r);
	dcf_seg_destroy(&sg);
}

/* python3's parser agrees, and sees numbers as numbers. */
static void
test_binary_json_python(void **state)
{
	char cmd[512], line[64] = "";
	struct dcf_seg sg;
	FILE *p;

	(void)state;
	if (system("command -v python3 >/dev/null 2>&1") != 0)
		skip();
	new_state(&sg, "py");
	snprintf(cmd, sizeof(cmd),
	    STATUS
	    " --name %s --json | python3 -c '"
	    "import json, sys\n"
	    "d = json.load(sys.stdin)\n"
	    "t = d[\"tasks\"]\n"
	    "assert t.pop(\"streaming\") is False\n"
	    "assert all(type(v) is int for v in t.values())\n"
	    "assert t[\"pending\"] + t[\"queued\"] + t[\"running\"] + t[\"completed\"]"
	    " + t[\"quarantined\"] + t[\"skipped\"] == t[\"total\"] == 20\n"
	    "assert d[\"consistent\"] is True and type(d[\"uptime_s\"]) is float\n"
	    "assert [n[\"task\"] for n in d[\"nodes\"]] == [3, None, None, None, None, None]\n"
	    "print(\"OK\")'",
	    sg.hdr->name);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (fgets(line, sizeof(line), p) == NULL)
		line[0] = '\0';
	assert_int_equal(pclose(p), 0);
	assert_string_equal(line, "OK\n");
	dcf_seg_destroy(&sg);
}

/* ---- tests: when there is nothing to show ---------------------------- */

static void
test_no_system(void **state)
{
	char name[DCF_NAME_MAX + 1], want[128];
	struct out r;

	(void)state;
	tu_name(name, sizeof(name), "none");
	run(&r, "--name", name);
	assert_exit(&r, 1);
	snprintf(want, sizeof(want), "dcf-status: no dcf system named '%s' is running\n", name);
	assert_string_equal(r.e, want);
	assert_int_equal(r.on, 0);
	out_free(&r);
	run(&r, "--name", name, "--watch", "--count", "1");
	assert_exit(&r, 1);
	assert_string_equal(r.e, want);
	out_free(&r);
}

/*
 * A segment left as a SIGKILLed supervisor leaves it: made by a child that
 * exits without removing it. The child's PID (dead) in *pid.
 */
static void
make_stale(char *name, size_t len, const char *tag, pid_t *pid)
{
	char err[DCF_ERRLEN];
	struct dcf_config c;

	small_config(&c);
	tu_name(name, len, tag);
	*pid = tu_fork();
	if (*pid == 0) {
		struct dcf_seg sg;
		pid_t took;

		if (dcf_seg_create(&sg, name, &c, &took, err, sizeof(err)) == -1)
			_exit(TU_EX_FAIL);
		_exit(TU_EX_OK); /* the descriptor closes, the flock goes, the name stays */
	}
	tu_assert_exit(tu_waitpid(*pid), TU_EX_OK);
	assert_true(run_shm_exists(name));
}

/*
 * A segment whose supervisor died: said to be stale, with who made it,
 * when, and how to remove it (exit 1, nothing on stdout); then removed by
 * --remove-stale, after which the name is simply not running.
 */
static void
test_stale_segment(void **state)
{
	char name[DCF_NAME_MAX + 1], want[512], err[DCF_ERRLEN], when[64];
	struct dcf_seg sg;
	struct out r;
	pid_t pid;

	(void)state;
	make_stale(name, sizeof(name), "dead", &pid);
	/* The image itself is fine; only its supervisor is gone. */
	assert_int_equal(dcf_seg_attach(&sg, name, 1, err, sizeof(err)), 0);
	assert_int_equal(take(&sg, 1, err), 0);
	assert_false(dcf_seg_supervisor_alive(&snap->hdr));
	dcf_render_when(when, sizeof(when), sg.hdr->created_ns);
	dcf_seg_detach(&sg);
	snprintf(want, sizeof(want),
	    "dcf-status: dcf system '%s': the supervisor died (pid %d); its segment "
	    "/dev/shm/dcf-%s, made by uid %u at %s, is stale: remove it with 'dcf-status "
	    "--remove-stale %s'\n",
	    name, (int)pid, name, (unsigned)getuid(), when, name);
	run(&r, "--name", name, "--json");
	assert_exit(&r, 1);
	assert_string_equal(r.e, want);
	assert_int_equal(r.on, 0);
	out_free(&r);
	run(&r, "--remove-stale", name);
	assert_exit(&r, 0);
	snprintf(want, sizeof(want),
	    "removed /dev/shm/dcf-%s, the stale segment of dcf system '%s' (its supervisor, pid "
	    "%d, is dead)\n",
	    name, name, (int)pid);
	assert_string_equal(r.o, want);
	assert_int_equal(r.en, 0);
	out_free(&r);
	assert_false(run_shm_exists(name));
	run(&r, "--remove-stale", name);
	assert_exit(&r, 1);
	snprintf(want, sizeof(want), "dcf-status: no segment named /dev/shm/dcf-%s\n", name);
	assert_string_equal(r.e, want);
	out_free(&r);
	run(&r, "--name", name);
	assert_exit(&r, 1);
	snprintf(want, sizeof(want), "dcf-status: no dcf system named '%s' is running\n", name);
	assert_string_equal(r.e, want);
	out_free(&r);
}

/* dcf-status run by a shell that first sets `ulimit -n limit`. */
static void
run_nofile(struct out *r, const char *limit, const char *name)
{
	const char *argv[] = {"/bin/sh", "-c", "ulimit -n \"$1\" && exec \"$0\" --name \"$2\"",
	    STATUS, limit, name, NULL};

	/* In a sanitizer build, LeakSanitizer needs descriptors of its own at exit. */
	run_argv(r, argv, "ASAN_OPTIONS=detect_leaks=0");
}

/*
 * Too few descriptors to read /proc/PID/stat: dcf-status cannot tell whether
 * the supervisor (this process) runs, and says so, rather than "no system".
 *
 * dcf-status starts with descriptors 0-2 only (spawn closes the rest). With
 * `ulimit -n 4` the loader opens each library as 3 and closes it, the
 * segment is opened as 3 and stays open, and /proc/PID/stat would be 4:
 * EMFILE. With 5 it is read, and the status shown. The limit is set by a
 * shell exec'd in between, not by setrlimit in the child: under valgrind
 * the child's setrlimit(RLIMIT_NOFILE) is emulated and never reaches the
 * kernel, so it would not survive the exec.
 */
static void
test_proc_unreadable(void **state)
{
	char want[160];
	struct dcf_seg sg;
	struct out r;

	(void)state;
	new_state(&sg, "nofile");
	run_nofile(&r, "4", sg.hdr->name);
	assert_exit(&r, 1);
	snprintf(want, sizeof(want),
	    "dcf-status: cannot tell whether dcf system '%s' is running: /proc/%d/stat: %s\n",
	    sg.hdr->name, (int)getpid(), strerror(EMFILE));
	assert_string_equal(r.e, want);
	assert_int_equal(r.on, 0);
	out_free(&r);
	run_nofile(&r, "5", sg.hdr->name);
	assert_exit(&r, 0);
	assert_has(r.o, "tasks: 20 total");
	out_free(&r);
	dcf_seg_destroy(&sg);
}

/* ---- tests: segments that must be refused ---------------------------- */

static void
test_foreign_version(void **state)
{
	struct dcf_seg sg;
	char err[DCF_ERRLEN];
	uint64_t format;
	char want[96];
	struct out r;

	(void)state;
	new_state(&sg, "ver");
	format = sg.hdr->format;
	sg.hdr->format = ((uint64_t)(DCF_LAYOUT_VERSION + 1) << 48) | (format & 0xffffffffffffULL);
	assert_int_equal(take(&sg, 5, err), -1);
	assert_int_equal(errno, EPROTO);
	assert_false(snap->hdr_ok);
	snprintf(want, sizeof(want), "layout version %u, this program reads version %u",
	    DCF_LAYOUT_VERSION + 1, DCF_LAYOUT_VERSION);
	assert_has(err, want);
	run(&r, "--name", sg.hdr->name, "--json");
	assert_exit(&r, 1);
	assert_one_line(&r);
	snprintf(want, sizeof(want), "layout version %u", DCF_LAYOUT_VERSION + 1);
	assert_has(r.e, want);
	assert_int_equal(r.on, 0);
	out_free(&r);
	/* The same version, another build. */
	sg.hdr->format = format ^ 1;
	assert_int_equal(take(&sg, 5, err), -1);
	assert_int_equal(errno, EPROTO);
	assert_has(err, "differently built");
	sg.hdr->format = format;
	sg.hdr->magic ^= 0xff;
	run(&r, "--name", sg.hdr->name);
	assert_exit(&r, 1);
	assert_has(r.e, "not a dcf segment");
	out_free(&r);
	sg.hdr->magic ^= 0xff;
	dcf_seg_destroy(&sg);
}

static void
test_other_owner(void **state)
{
	struct dcf_seg sg;
	char err[DCF_ERRLEN];
	uid_t other = getuid() + 4242;
	struct out r;

	(void)state;
	new_state(&sg, "uid");
	assert_int_equal(dcf_snap_take(snap, sg.base, sg.size, other, 5, err, sizeof(err)), -1);
	assert_int_equal(errno, EACCES);
	assert_has(err, "belongs to uid");
	assert_int_equal(dcf_seg_validate(sg.base, sg.size, other, err, sizeof(err)), -1);
	assert_int_equal(errno, EACCES);
	/* The header says another user. */
	sg.hdr->uid = (uint32_t)other;
	run(&r, "--name", sg.hdr->name);
	assert_exit(&r, 1);
	assert_one_line(&r);
	assert_has(r.e, "belongs to uid");
	out_free(&r);
	sg.hdr->uid = (uint32_t)getuid();
	/* The file belongs to another user: only root can arrange that. */
	if (geteuid() == 0) {
		assert_int_equal(fchown(sg.fd, other, (gid_t)-1), 0);
		run(&r, "--name", sg.hdr->name);
		assert_exit(&r, 1);
		assert_has(r.e, "belongs to");
		out_free(&r);
	}
	dcf_seg_destroy(&sg);
}

/* lstat of what is at path, and a link's target: enough to see a change. */
static void
look(const char *path, struct stat *st, char *target, size_t len)
{
	memset(target, 0, len);
	assert_int_equal(lstat(path, st), 0);
	if (S_ISLNK(st->st_mode))
		assert_true(readlink(path, target, len - 1) > 0);
}

/*
 * Things that are not segments under the name: a FIFO (opening it for
 * reading used to block forever), a symbolic link to a live segment and a
 * dangling one, a directory, and another user's file (as root). dcf-status
 * returns at once (an alarm turns a hang into a failure) with exit 1 and one
 * printable line naming what is there, and leaves it as it was.
 */
static void
test_planted(void **state)
{
	static const char *const what[] = {"is a FIFO", "is a symbolic link", "is a symbolic link",
	    "is a directory", "belongs to uid 4242"};
	char target[64];
	struct dcf_seg live;

	(void)state;
	new_state(&live, "live");
	snprintf(target, sizeof(target), "/dev/shm%s", live.shm_name);
	spawn_alarm_s = 10;
	for (int kind = 0; kind < 5; kind++) {
		char name[DCF_NAME_MAX + 1], path[64], was_to[128], now_to[128];
		struct stat was, now;
		struct out r;
		int fd;

		if (kind == 4 && geteuid() != 0)
			continue; /* only root can give a file away */
		tu_name(name, sizeof(name), "plant");
		snprintf(path, sizeof(path), "/dev/shm/dcf-%s", name);
		if (kind == 0)
			assert_int_equal(mkfifo(path, 0600), 0);
		else if (kind == 1)
			assert_int_equal(symlink(target, path), 0);
		else if (kind == 2)
			assert_int_equal(symlink("/dev/shm/dcf-no-such-target", path), 0);
		else if (kind == 3)
			assert_int_equal(mkdir(path, 0700), 0);
		if (kind == 4) {
			fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			assert_true(fd >= 0);
			assert_int_equal(fchown(fd, 4242, (gid_t)-1), 0);
			close(fd);
		}
		look(path, &was, was_to, sizeof(was_to));
		run(&r, "--name", name);
		assert_exit(&r, 1);
		assert_one_line(&r);
		assert_has(r.e, path);
		assert_has(r.e, what[kind]);
		for (size_t i = 0; i + 1 < r.en; i++)
			if (!isprint((unsigned char)r.e[i]))
				fail_msg("garbage at %zu: %s", i, r.e);
		assert_int_equal(r.on, 0);
		out_free(&r);
		look(path, &now, now_to, sizeof(now_to));
		assert_int_equal(now.st_ino, was.st_ino);
		assert_int_equal(now.st_mode, was.st_mode);
		assert_int_equal(now.st_uid, was.st_uid);
		assert_int_equal(now.st_size, was.st_size);
		assert_int_equal(now.st_mtim.tv_nsec, was.st_mtim.tv_nsec);
		assert_int_equal(now.st_ctim.tv_nsec, was.st_ctim.tv_nsec);
		assert_string_equal(now_to, was_to);
		if (kind == 3)
			assert_int_equal(rmdir(path), 0);
		else
			assert_int_equal(unlink(path), 0);
	}
	spawn_alarm_s = 0;
	assert_int_equal(live.hdr->cnt.completed, 2); /* the live one, untouched */
	dcf_seg_destroy(&live);
}

static void
test_corrupt_header(void **state)
{
	struct dcf_seg sg;
	char err[DCF_ERRLEN];
	struct out r;

	(void)state;
	new_state(&sg, "hdr");
	sg.hdr->cfg.nets = 0;
	assert_int_equal(take(&sg, 5, err), -1);
	assert_int_equal(errno, EINVAL);
	assert_has(err, "corrupt header");
	run(&r, "--name", sg.hdr->name, "--json");
	assert_exit(&r, 1);
	assert_one_line(&r);
	assert_has(r.e, "corrupt header");
	out_free(&r);
	sg.hdr->cfg.nets = 2;
	sg.hdr->off_nodes += 64;
	assert_int_equal(take(&sg, 5, err), -1);
	assert_has(err, "region offsets");
	sg.hdr->off_nodes -= 64;
	/* Sizes in range but a plan that does not fit the segment. */
	sg.hdr->cfg.max_nodes = 100;
	assert_int_equal(take(&sg, 5, err), -1);
	assert_int_equal(errno, EINVAL);
	sg.hdr->cfg.max_nodes = 6;
	assert_int_equal(take(&sg, 5, err), 0);
	dcf_seg_destroy(&sg);
}

/* Node values out of range: marked, never shown as numbers, exit 1. */
static void
test_out_of_range_nodes(void **state)
{
	struct dcf_seg sg;
	struct dcf_snap_node v;
	char err[DCF_ERRLEN];
	struct out r;
	struct run_jv *d;

	(void)state;
	new_state(&sg, "oor");
	sg.nodes[2].state = 77;
	sg.nodes[5].net = 9;
	sg.nodes[0].task_slot = 1u << 30;
	assert_int_equal(take(&sg, 1, err), 0);
	assert_int_equal(snap->anomalies, 3);
	assert_int_equal(dcf_snap_node(snap, 2, &v), 0);
	assert_int_equal(v.state, DCF_NODE_NSTATES);
	assert_int_equal(dcf_snap_node(snap, 5, &v), 0);
	assert_false(v.id_ok);
	assert_int_equal(dcf_snap_node(snap, 0, &v), 0);
	assert_false(v.has_task);
	assert_true(v.bad);
	/* Counted nowhere: net 0 has nodes 0 and 1 left, net 1 nodes 3 and 4. */
	assert_int_equal(snap->net[0].nodes, 2);
	assert_int_equal(snap->net[1].nodes, 2);

	run(&r, "--name", sg.hdr->name, "--nodes");
	assert_exit(&r, 1);
	assert_has(r.o, " invalid ");
	assert_has(r.e, "3 out-of-range values");
	assert_one_line(&r);
	out_free(&r);
	run(&r, "--name", sg.hdr->name, "--json");
	assert_exit(&r, 1);
	d = run_json_parse(r.o);
	assert_non_null(d);
	assert_int_equal(ju(d, "invalid_values"), 3);
	assert_string_equal(jstrval(jat(run_json_get(d, "nodes"), 2), "state"), "invalid");
	assert_true(jis(jat(run_json_get(d, "nodes"), 5), "network", RJ_NULL));
	assert_true(jis(jat(run_json_get(d, "nodes"), 5), "node", RJ_NULL));
	assert_true(jis(jat(run_json_get(d, "nodes"), 0), "task", RJ_NULL));
	run_json_free(d);
	out_free(&r);
	dcf_seg_destroy(&sg);
}

/* Counts that do not add up are never printed: "consistent": false, exit 1. */
static void
test_inconsistent(void **state)
{
	struct dcf_seg sg;
	char err[DCF_ERRLEN];
	struct out r;
	struct run_jv *d;

	(void)state;
	new_state(&sg, "inc");
	/* A clean copy whose books are wrong. */
	sg.hdr->cnt.completed++;
	assert_int_equal(take(&sg, 3, err), -1);
	assert_int_equal(errno, EUCLEAN);
	assert_true(snap->hdr_ok);
	assert_false(snap->consistent);
	assert_int_equal(snap->tries, 3);
	assert_has(err, "dispatched 12 != queued 8 + running 1 + completed 3 + quarantined 1");
	run(&r, "--name", sg.hdr->name, "--json");
	assert_exit(&r, 1);
	assert_one_line(&r);
	d = run_json_parse(r.o);
	assert_non_null(d);
	assert_true(jis(d, "consistent", RJ_BOOL) && !run_json_get(d, "consistent")->b);
	assert_null(run_json_get(d, "tasks"));
	assert_null(run_json_get(d, "nodes"));
	assert_has(jstrval(d, "error"), "dispatched 12");
	run_json_free(d);
	out_free(&r);
	sg.hdr->cnt.completed--;
	/* Mid-transaction for ever, with no journal to finish it from. */
	sg.hdr->seq |= 1;
	assert_int_equal(take(&sg, 4, err), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(snap->tries, 4);
	run(&r, "--name", sg.hdr->name);
	assert_exit(&r, 1);
	assert_has(r.e, "no consistent snapshot in 1000 tries");
	assert_has(r.o, "books: no consistent snapshot");
	assert_null(strstr(r.o, "tasks:"));
	out_free(&r);
	sg.hdr->seq++;
	/* A ring deeper than its capacity. */
	sg.rings[DCF_RING_NET0].tail += 1000;
	assert_int_equal(take(&sg, 2, err), -1);
	assert_int_equal(errno, EUCLEAN);
	assert_has(err, "over its capacity");
	sg.rings[DCF_RING_NET0].tail -= 1000;
	assert_int_equal(take(&sg, 1, err), 0);
	dcf_seg_destroy(&sg);
}

/*
 * A worker SIGKILLed halfway through applying its completion: the lock is
 * held by the dead, seq stays odd and the journal is published. The
 * snapshot finishes the transaction in its copy, and shows what the next
 * locker's repair then makes true.
 */
static void
test_holder_killed_mid_transaction(void **state)
{
	struct dcf_seg sg;
	char err[DCF_ERRLEN];
	uint32_t slot;
	uint64_t id;
	struct out r;
	struct run_jv *d;
	pid_t pid;

	(void)state;
	new_state(&sg, "kill");
	slot = sg.nodes[0].task_slot;
	id = sg.nodes[0].task_id;
	pid = tu_fork();
	if (pid == 0) {
		int wake;

		/* Entry 11 of a completion is the running counter: applied, completed not yet. */
		dcf_inject_arm(DCF_OP_COMPLETE, DCF_STEP_APPLY(11), 1);
		if (dcf_lock(&sg) == -1)
			_exit(TU_EX_NOTREC);
		(void)!dcf_complete_locked(&sg, 0, 1, slot, id, 0, &wake);
		_exit(TU_EX_NOTREACHED);
	}
	tu_assert_killed(tu_waitpid(pid));
	assert_true(sg.hdr->seq & 1);
	assert_true(sg.hdr->wal.n > 4);
	assert_int_equal(sg.hdr->cnt.running, 0);
	assert_int_equal(sg.hdr->cnt.completed, 2); /* torn as it lies */

	assert_int_equal(take(&sg, 1, err), 0);
	assert_true(snap->replayed);
	assert_known_counts(snap, 3, 0);
	assert_int_equal(snap->net[0].completed, 3);
	assert_int_equal(snap->net[0].by_state[DCF_NODE_BUSY], 0);
	assert_int_equal(snap->nodes[0].state, DCF_NODE_IDLE);

	run(&r, "--name", sg.hdr->name, "--json");
	assert_exit(&r, 0);
	d = run_json_parse(r.o);
	assert_non_null(d);
	check_json_known(d, sg.hdr->name, 3, 0);
	run_json_free(d);
	out_free(&r);

	/* The repair agrees with what the snapshot showed. */
	tu_lock(&sg);
	tu_assert_books(&sg);
	assert_int_equal(sg.hdr->cnt.completed, snap->completed);
	assert_int_equal(sg.hdr->cnt.running, snap->running);
	assert_int_equal(sg.nets[0].completed, snap->nets[0].completed);
	assert_int_equal(sg.nodes[0].state, snap->nodes[0].state);
	assert_int_equal(sg.nodes[0].completed, snap->nodes[0].completed);
	dcf_unlock(&sg);
	assert_int_equal(take(&sg, 1, err), 0);
	assert_false(snap->replayed);
	assert_known_counts(snap, 3, 0);
	dcf_seg_destroy(&sg);
}

/* ---- tests: any bytes at all ----------------------------------------- */

static void
assert_clean_text(const char *buf, int color)
{
	for (const unsigned char *p = (const unsigned char *)buf; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\n' && !(color && *p == 0x1b)) || *p >= 0x7f)
			fail_msg("text output holds byte %#x at %zu", *p,
			    (size_t)(p - (const unsigned char *)buf));
}

/* One image through snapshot and every renderer: an error or a document, never a crash. */
static void
fuzz_one(const unsigned char *img, size_t size, unsigned *docs)
{
	struct dcf_render_opt o = {.nodes = 1, .grid = 1, .color = 1, .width = 30};
	char err[DCF_ERRLEN], *buf;
	struct run_jv *d;
	int r;

	err[0] = '\0';
	r = dcf_snap_take(snap, img, size, getuid(), 2, err, sizeof(err));
	if (r == 0) {
		assert_true(snap->consistent && snap->hdr_ok);
		assert_int_equal(snap->pending + snap->queued + snap->running + snap->completed +
		        snap->quarantined + snap->skipped,
		    snap->total);
	} else {
		assert_false(snap->consistent);
		assert_true(err[0] != '\0');
	}
	if (!snap->hdr_ok)
		return;
	o.color = *docs & 1;
	buf = render(0, &o);
	assert_clean_text(buf, o.color);
	free(buf);
	buf = render(1, &o);
	d = run_json_parse(buf);
	if (d == NULL)
		fail_msg("invalid JSON from a fuzzed image:\n%s", buf);
	assert_int_equal(run_json_get(d, "consistent")->b, r == 0);
	if (r == 0) {
		const struct run_jv *t = run_json_get(d, "tasks");

		assert_int_equal(ju(t, "pending") + ju(t, "queued") + ju(t, "running") +
		        ju(t, "completed") + ju(t, "quarantined") + ju(t, "skipped"),
		    ju(t, "total"));
	}
	run_json_free(d);
	free(buf);
	(*docs)++;
}

static unsigned char *
image_of(const struct dcf_seg *sg)
{
	unsigned char *img = NULL;

	assert_int_equal(posix_memalign((void **)&img, 64, sg->size), 0);
	memcpy(img, sg->base, sg->size);
	return img;
}

/* Flip every byte of two images, the quiet one and one caught mid-transaction. */
static void
test_fuzz_every_byte(void **state)
{
	static const unsigned char flips[] = {0xff, 0x01, 0x80};
	unsigned nflips = tu_valgrind() ? 2 : 3, docs = 0;
	unsigned char *img[2];
	struct dcf_seg sg;
	pid_t pid;

	(void)state;
	new_state(&sg, "fuzz");
	img[0] = image_of(&sg);
	pid = tu_fork();
	if (pid == 0) {
		int wake;

		dcf_inject_arm(DCF_OP_COMPLETE, DCF_STEP_APPLY(4), 1);
		if (dcf_lock(&sg) == -1)
			_exit(TU_EX_NOTREC);
		(void)!dcf_complete_locked(&sg, 0, 1, sg.nodes[0].task_slot, sg.nodes[0].task_id, 0,
		    &wake);
		_exit(TU_EX_NOTREACHED);
	}
	tu_assert_killed(tu_waitpid(pid));
	img[1] = image_of(&sg);
	for (int k = 0; k < 2; k++) {
		fuzz_one(img[k], sg.size, &docs);
		assert_true(snap->consistent);
		assert_int_equal(snap->replayed, k == 1);
		for (size_t i = 0; i < sg.size; i++)
			for (unsigned f = 0; f < nflips; f++) {
				img[k][i] ^= flips[f];
				fuzz_one(img[k], sg.size, &docs);
				img[k][i] ^= flips[f];
			}
	}
	/* Many images got as far as a document, not only errors. */
	assert_true(docs > sg.size);
	free(img[0]);
	free(img[1]);
	dcf_seg_destroy(&sg);
}

/* Random bytes at random places past the header's layout fields, several at once. */
static void
test_fuzz_random(void **state)
{
	unsigned rounds = tu_valgrind() ? 1500 : 20000, docs = 0;
	size_t lo = offsetof(struct dcf_hdr, sys_state);
	struct dcf_rng rng;
	unsigned char *img, *clean;
	struct dcf_seg sg;

	(void)state;
	new_state(&sg, "rand");
	clean = image_of(&sg);
	img = image_of(&sg);
	dcf_rng_seed(&rng, 0x5747a7u);
	for (unsigned i = 0; i < rounds; i++) {
		unsigned n = 1 + (unsigned)dcf_rng_range(&rng, 0, 7);

		memcpy(img, clean, sg.size);
		for (unsigned j = 0; j < n; j++) {
			size_t at = (size_t)dcf_rng_range(&rng, i % 4 == 0 ? 0 : lo, sg.size - 1);

			img[at] = (unsigned char)dcf_rng_next(&rng);
		}
		fuzz_one(img, sg.size, &docs);
	}
	assert_true(docs > rounds / 2);
	/* Images too small or misaligned are refused before any read. */
	assert_int_equal(dcf_snap_take(snap, img, 100, getuid(), 1, (char[DCF_ERRLEN]){0},
	                     DCF_ERRLEN),
	    -1);
	assert_int_equal(dcf_snap_take(snap, img + 1, sg.size - 1, getuid(), 1,
	                     (char[DCF_ERRLEN]){0}, DCF_ERRLEN),
	    -1);
	free(img);
	free(clean);
	dcf_seg_destroy(&sg);
}

/* Names with bytes JSON and terminals must not get raw. */
static void
test_render_escapes(void **state)
{
	static const char nasty[] = "a\"b\\c\x01\x1b[31m\xff";
	struct dcf_render_opt o = {.nodes = 1};
	unsigned char *img;
	struct dcf_seg sg;
	char err[DCF_ERRLEN], *buf, dur[32];
	struct run_jv *d;

	(void)state;
	new_state(&sg, "esc");
	img = image_of(&sg);
	memcpy(((struct dcf_hdr *)(void *)img)->name, nasty, sizeof(nasty));
	assert_int_equal(dcf_snap_take(snap, img, sg.size, getuid(), 1, err, sizeof(err)), 0);
	buf = render(1, &o);
	d = run_json_parse(buf);
	assert_non_null(d);
	assert_string_equal(jstrval(d, "name"), "a\"b\\c\x01\x1b[31m\xff");
	run_json_free(d);
	free(buf);
	buf = render(0, &o);
	assert_clean_text(buf, 0);
	assert_has(buf, "dcf 'a\"b\\134c\\001\\033[31m\\377'");
	free(buf);
	dcf_render_dur(dur, sizeof(dur), 400000000ULL);
	assert_string_equal(dur, "0.4s");
	dcf_render_dur(dur, sizeof(dur), 12 * DCF_NSEC);
	assert_string_equal(dur, "12s");
	dcf_render_dur(dur, sizeof(dur), 184 * DCF_NSEC);
	assert_string_equal(dur, "3m04s");
	dcf_render_dur(dur, sizeof(dur), 7500 * DCF_NSEC);
	assert_string_equal(dur, "2h05m");
	dcf_render_dur(dur, sizeof(dur), (3 * 86400 + 4 * 3600) * DCF_NSEC);
	assert_string_equal(dur, "3d04h");
	free(img);
	dcf_seg_destroy(&sg);
}

/* The grid: one cell a node, wrapped at the width. */
static void
test_render_grid(void **state)
{
	struct dcf_render_opt o = {.grid = 1, .width = 20};
	struct dcf_config c;
	struct dcf_seg sg;
	char err[DCF_ERRLEN], *buf;

	(void)state;
	small_config(&c);
	c.nodes_per_net = 25;
	c.max_nodes = 50;
	tu_seg_create(&sg, "grid", &c);
	tu_lock(&sg);
	for (uint32_t n = 0; n < 30; n++)
		assert_int_equal(dcf_node_start_locked(&sg, n, 1, 1000 + (pid_t)n, 0, 1), 0);
	for (uint32_t n = 0; n < 25; n++)
		assert_int_equal(dcf_node_ready_locked(&sg, n, 1, 1), 0);
	assert_int_equal(dcf_node_set_state_locked(&sg, 3, DCF_NODE_STOPPED), 0);
	dcf_unlock(&sg);
	assert_int_equal(take(&sg, 1, err), 0);
	buf = render(0, &o);
	/* 11 cells a row at width 20; net 1 has 5 starting, then 20 empty slots. */
	assert_has(buf, "\nnet 0   ...-.......\n        ...........\n        ...\n");
	assert_has(buf, "\nnet 1   +++++      \n");
	free(buf);
	o.color = 1;
	buf = render(0, &o);
	assert_has(buf, "\nnet 1   \033[36m+++++\033[0m      \n");
	free(buf);
	dcf_seg_destroy(&sg);
}

/* ---- tests: watch mode ----------------------------------------------- */

static void
test_watch_plain(void **state)
{
	struct dcf_seg sg;
	struct out r;
	const char *p;
	struct run_jv *d;
	int n = 0;

	(void)state;
	new_state(&sg, "wat");
	run(&r, "--name", sg.hdr->name, "--watch", "0.1", "--count", "2");
	assert_exit(&r, 0);
	assert_int_equal(r.en, 0);
	assert_null(strchr(r.o, '\033'));
	for (p = r.o; (p = strstr(p, "dcf '")) != NULL; p++)
		n++;
	assert_int_equal(n, 2);
	assert_has(r.o, "\n\ndcf '");
	assert_has(r.o, "completed/s over the last"); /* the second: between refreshes */
	out_free(&r);
	run(&r, "--name", sg.hdr->name, "-w0.1", "-c", "3", "--json");
	assert_exit(&r, 0);
	p = r.o;
	for (n = 0; *p != '\0'; n++) {
		d = run_json_next(&p);
		if (d == NULL)
			fail_msg("document %d is not JSON:\n%s", n, r.o);
		check_json_known(d, sg.hdr->name, 2, 1);
		assert_true(run_json_get(d, "rate_since_start")->b == (n == 0));
		run_json_free(d);
	}
	assert_int_equal(n, 3);
	out_free(&r);
	dcf_seg_destroy(&sg);
}

/* The supervisor dies while we watch: say so, exit 1. */
static void
test_watch_system_gone(void **state)
{
	const char *argv[] = {STATUS, "--name", NULL, "--watch", "0.1", "--json", NULL};
	struct dcf_seg sg;
	struct out r;
	int outfd, errfd;
	pid_t pid, dead;
	char want[128];

	(void)state;
	new_state(&sg, "gone");
	argv[2] = sg.hdr->name;
	memset(&r, 0, sizeof(r));
	pid = spawn(argv, NULL, &outfd, &errfd);
	drain(&r, outfd, errfd, "}\n"); /* one JSON line */
	dead = tu_fork();
	if (dead == 0)
		_exit(0);
	tu_waitpid(dead);
	sg.hdr->sup_pid = dead;
	drain(&r, outfd, errfd, NULL);
	close(outfd);
	close(errfd);
	r.st = tu_waitpid(pid);
	assert_exit(&r, 1);
	assert_one_line(&r);
	snprintf(want, sizeof(want), "dcf-status: dcf system '%s': the supervisor died (pid %d)",
	    sg.hdr->name, (int)dead);
	assert_has(r.e, want);
	out_free(&r);
	dcf_seg_destroy(&sg);
}

/* A pseudo-terminal for dcf-status: its size, and whether stdin is on it too. */
struct tty {
	unsigned short rows, cols;
	int no_keys; /* stdin /dev/null: a terminal to draw on, none to read keys from */
	const char *env;
	int master;
	struct termios before;
};

/* Start dcf-status args... (NULL-terminated) on a new pseudo-terminal. */
static pid_t
spawn_tty_argv(struct tty *t, const char *const *args)
{
	struct winsize ws = {.ws_row = t->rows ? t->rows : 40, .ws_col = t->cols ? t->cols : 100};
	const char *argv[16] = {STATUS};
	char path[64];
	int slave, n = 1;
	pid_t pid;

	for (int i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	/* By hand rather than openpty(3), whose TIOCGPTPEER valgrind does not know. */
	t->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(t->master >= 0);
	assert_int_equal(grantpt(t->master), 0);
	assert_int_equal(unlockpt(t->master), 0);
	assert_int_equal(ptsname_r(t->master, path, sizeof(path)), 0);
	slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(slave >= 0);
	assert_int_equal(ioctl(slave, TIOCSWINSZ, &ws), 0);
	assert_int_equal(tcgetattr(slave, &t->before), 0);
	pid = tu_fork();
	if (pid == 0) {
		setsid();
		if (ioctl(slave, TIOCSCTTY, 0) == -1)
			_exit(126);
		if (t->no_keys)
			dup2(open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
		else
			dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		close(slave);
		close(t->master);
		unsetenv("NO_COLOR");
		if (t->env != NULL)
			putenv((char *)t->env);
		execv(STATUS, (char *const *)argv);
		_exit(127);
	}
	close(slave);
	return pid;
}

/* Start dcf-status --watch on a new 40x100 pseudo-terminal; the master in *master. */
static pid_t
spawn_tty(const char *name, const char *env, int *master, struct termios *before)
{
	const char *args[] = {"--name", name, "--watch", "0.1", NULL};
	struct tty t = {.env = env};
	pid_t pid = spawn_tty_argv(&t, args);

	*master = t.master;
	*before = t.before;
	return pid;
}

/* Read the terminal until `until` shows up (NULL: until it closes). */
static void
tty_read(int master, char **buf, size_t *len, const char *until)
{
	uint64_t deadline = tu_deadline(20000);

	for (;;) {
		struct pollfd p = {master, POLLIN, 0};
		struct timespec ts;

		if (until != NULL && *buf != NULL && strstr(*buf, until) != NULL)
			return;
		if (!tu_time_left(deadline, &ts))
			fail_msg("terminal output never showed '%s'", until ? until : "(EOF)");
		if (ppoll(&p, 1, &ts, NULL) > 0 && !slurp(master, buf, len))
			return; /* EIO: every slave descriptor is closed */
	}
}

/* q, Ctrl-C or SIGTERM: exit 0 with the terminal as it was. */
static void
tty_session(const char *name, const char *env, int how)
{
	struct termios before, during, after;
	char *buf = NULL;
	size_t len = 0;
	int master;
	pid_t pid = spawn_tty(name, env, &master, &before);

	tty_read(master, &buf, &len, "\033[J"); /* one whole frame */
	assert_has(buf, "\033[?1049h");
	assert_has(buf, "dcf-status: every 0.1s, q quits");
	assert_has(buf, "\nnet 1   "); /* the grid */
	assert_int_equal(tcgetattr(master, &during), 0);
	assert_int_equal(during.c_lflag & (ICANON | ECHO), 0);
	if (how == 'q')
		assert_int_equal(write(master, "q", 1), 1);
	else if (how == 'c')
		assert_int_equal(write(master, "\003", 1), 1);
	else
		assert_int_equal(kill(pid, SIGTERM), 0);
	tty_read(master, &buf, &len, NULL);
	tu_assert_exit(tu_waitpid(pid), 0);
	assert_int_equal(tcgetattr(master, &after), 0);
	assert_int_equal(after.c_lflag, before.c_lflag);
	assert_memory_equal(after.c_cc, before.c_cc, sizeof(before.c_cc));
	/* Left the alternate screen last, cursor and autowrap back on. */
	assert_true(len >= strlen(TTY_BYE));
	assert_string_equal(buf + len - strlen(TTY_BYE), TTY_BYE);
	if (env != NULL)
		assert_null(strstr(buf, "\033[32m"));
	else
		assert_has(buf, "\033[32m#"); /* node 0 busy, in colour */
	free(buf);
	close(master);
}

static void
test_watch_tty(void **state)
{
	struct dcf_seg sg;

	(void)state;
	new_state(&sg, "tty");
	tty_session(sg.hdr->name, NULL, 'q');
	tty_session(sg.hdr->name, "NO_COLOR=1", 'c');
	tty_session(sg.hdr->name, NULL, 't');
	dcf_seg_destroy(&sg);
}

/*
 * The segment is truncated under a watching dcf-status (a same-user
 * ftruncate): its next copy touches pages that are gone. It must say so and
 * exit 1, not die of SIGBUS; on a terminal, after giving the terminal back.
 */
static void
test_watch_truncated(void **state)
{
	const char *argv[] = {STATUS, "--name", NULL, "--watch", "0.1", "--json", NULL};
	char name[DCF_NAME_MAX + 1], want[128];
	struct termios before, after;
	struct dcf_seg sg;
	char *buf = NULL;
	size_t len = 0;
	int outfd, errfd, master;
	struct out r;
	pid_t pid;

	(void)state;
	new_state(&sg, "trunc");
	strlcpy(name, sg.hdr->name, sizeof(name)); /* the mapping goes with the truncate */
	argv[2] = name;
	snprintf(want, sizeof(want),
	    "dcf-status: dcf system '%s': its segment was truncated under us", name);
	memset(&r, 0, sizeof(r));
	pid = spawn(argv, NULL, &outfd, &errfd);
	drain(&r, outfd, errfd, "}\n"); /* mapped, and one frame copied */
	assert_int_equal(ftruncate(sg.fd, 0), 0);
	drain(&r, outfd, errfd, NULL);
	close(outfd);
	close(errfd);
	r.st = tu_waitpid(pid);
	assert_exit(&r, 1);
	assert_one_line(&r);
	assert_has(r.e, want);
	out_free(&r);

	dcf_seg_destroy(&sg);

	/* Again on a terminal: the message comes after the terminal is given back. */
	new_state(&sg, "trunc");
	strlcpy(name, sg.hdr->name, sizeof(name));
	pid = spawn_tty(name, NULL, &master, &before);
	tty_read(master, &buf, &len, "\033[J"); /* one whole frame */
	assert_int_equal(ftruncate(sg.fd, 0), 0);
	tty_read(master, &buf, &len, NULL);
	tu_assert_exit(tu_waitpid(pid), 1);
	assert_int_equal(tcgetattr(master, &after), 0);
	assert_int_equal(after.c_lflag, before.c_lflag);
	assert_memory_equal(after.c_cc, before.c_cc, sizeof(before.c_cc));
	assert_non_null(strstr(buf, TTY_BYE));
	assert_non_null(strstr(strstr(buf, TTY_BYE), "its segment was truncated under us"));
	free(buf);
	close(master);
	dcf_seg_destroy(&sg);
}

/* The supervisor ends the run as dcf-supervisor does: its exit status, then ENDED (release). */
static void
end_run(struct dcf_seg *sg, uint32_t code)
{
	__atomic_store_n(&sg->hdr->end_code, code, __ATOMIC_RELAXED);
	__atomic_store_n(&sg->hdr->sys_state, DCF_SYS_ENDED, __ATOMIC_RELEASE);
}

/* stdout is JSON Lines: every line one whole object, no blank line. Their count; the last. */
static int
json_lines(const char *out, struct run_jv **last)
{
	int n = 0;

	*last = NULL;
	for (const char *p = out; *p != '\0'; n++) {
		const char *nl = strchr(p, '\n');
		char *line;

		if (nl == NULL)
			fail_msg("JSON line %d has no newline:\n%s", n, p);
		line = strndup(p, (size_t)(nl - p));
		assert_non_null(line);
		run_json_free(*last);
		*last = run_json_parse(line);
		if (*last == NULL || (*last)->t != RJ_OBJ)
			fail_msg("line %d is not one JSON object:\n%s", n, line);
		free(line);
		p = nl + 1;
	}
	return n;
}

/* A whole run, watched off a terminal: once it ends, its last frame says how; exit 0. */
static void
test_watch_ended_plain(void **state)
{
	const char *argv[] = {STATUS, "--name", NULL, "--watch", "0.1", NULL, NULL};
	struct run_jv *last;
	struct dcf_seg sg;
	struct out r;
	int outfd, errfd, n;
	pid_t pid;

	(void)state;
	for (int json = 0; json < 2; json++) {
		new_state(&sg, "end");
		argv[2] = sg.hdr->name;
		argv[5] = json ? "--json" : NULL;
		memset(&r, 0, sizeof(r));
		pid = spawn(argv, NULL, &outfd, &errfd);
		drain(&r, outfd, errfd, json ? "}\n" : "\nnet nodes"); /* one frame */
		end_run(&sg, 1);
		drain(&r, outfd, errfd, NULL);
		close(outfd);
		close(errfd);
		r.st = tu_waitpid(pid);
		if (r.e == NULL)
			r.e = strdup("");
		assert_exit(&r, 0);
		assert_string_equal(r.e, "");
		if (!json) {
			const char *lastf =
			    strstr(r.o, "\n\ndcf '"); /* frames: a blank line apart */

			assert_non_null(lastf);
			while (strstr(lastf + 1, "\n\ndcf '") != NULL)
				lastf = strstr(lastf + 1, "\n\ndcf '");
			assert_has(lastf, ", ended\n");
			assert_has(lastf, "tasks: 20 total");
			/* The last line: the known state has one task quarantined. */
			assert_true(strlen(r.o) > 50);
			assert_string_equal(r.o + strlen(r.o) -
			        strlen("\nthe run ended: exit status 1, 1 "
			               "task quarantined\n"),
			    "\nthe run ended: exit status 1, 1 task quarantined\n");
		} else {
			n = json_lines(r.o, &last);
			assert_true(n >= 2);
			assert_string_equal(jstrval(last, "state"), "ended");
			assert_int_equal(ju(last, "exit_status"), 1);
			assert_int_equal(ju(run_json_get(last, "tasks"), "quarantined"), 1);
			run_json_free(last);
		}
		out_free(&r);
		dcf_seg_destroy(&sg);
	}
}

/* An ended run that is still there (the supervisor between ENDED and unlink): exit 0. */
static void
test_once_ended(void **state)
{
	struct run_jv *d;
	struct dcf_seg sg;
	struct out r;

	(void)state;
	new_state(&sg, "ended");
	end_run(&sg, 143);
	run(&r, "--name", sg.hdr->name);
	assert_exit(&r, 0);
	assert_has(r.o, ", ended\n");
	assert_has(r.o, "\nthe run ended: exit status 143, stopped by SIGTERM\n");
	out_free(&r);
	run(&r, "--name", sg.hdr->name, "--json");
	assert_exit(&r, 0);
	d = run_json_parse(r.o);
	assert_non_null(d);
	assert_string_equal(jstrval(d, "state"), "ended");
	assert_int_equal(ju(d, "exit_status"), 143);
	run_json_free(d);
	out_free(&r);
	dcf_seg_destroy(&sg);
	/* A live run's document says so: no exit status yet. */
	new_state(&sg, "ended");
	run(&r, "--name", sg.hdr->name, "--json");
	assert_exit(&r, 0);
	d = run_json_parse(r.o);
	assert_non_null(d);
	assert_true(jis(d, "exit_status", RJ_NULL));
	run_json_free(d);
	out_free(&r);
	dcf_seg_destroy(&sg);
}

/* ---- the terminal, as a screen ----------------------------------------- */

#define SCREEN_ROWS 64

/*
 * The last whole frame in buf from `from` on (cursor home ... clear to the
 * end): its rows as visible text, escape sequences dropped. The row count.
 */
static int
screen(const char *buf, size_t from, char rows[SCREEN_ROWS][512])
{
	const char *home = NULL, *end, *p;
	int n = 0;
	size_t k = 0;

	for (p = buf + from; (p = strstr(p, "\033[H")) != NULL; p++)
		if (strstr(p, "\033[J") != NULL)
			home = p;
	assert_non_null(home);
	end = strstr(home, "\033[J");
	rows[0][0] = '\0';
	for (p = home + 3; p < end; p++) {
		if (*p == '\033') {
			while (
			    p < end && !(*p >= 0x40 && *p <= 0x7e && *p != '[' && p[-1] != '\033'))
				p++;
			continue;
		}
		if (*p == '\n' || *p == '\r') {
			if (*p == '\n' && ++n < SCREEN_ROWS) {
				k = 0;
				rows[n][0] = '\0';
			}
			continue;
		}
		if (n < SCREEN_ROWS && k + 1 < 512) {
			rows[n][k++] = *p;
			rows[n][k] = '\0';
		}
	}
	return n + 1;
}

/* Read the terminal until `until` shows up after offset from. */
static void
tty_read_after(int master, char **buf, size_t *len, size_t from, const char *until)
{
	uint64_t deadline = tu_deadline(20000);

	for (;;) {
		struct pollfd p = {master, POLLIN, 0};
		struct timespec ts;

		if (*buf != NULL && *len >= from && strstr(*buf + from, until) != NULL)
			return;
		if (!tu_time_left(deadline, &ts))
			fail_msg("terminal output never showed '%s'", until);
		if (ppoll(&p, 1, &ts, NULL) > 0 && !slurp(master, buf, len))
			fail_msg("terminal closed before '%s'", until);
	}
}

/* Read until a whole frame that shows `what` has come after offset from. */
static void
tty_frame_with(int master, char **buf, size_t *len, size_t from, const char *what)
{
	tty_read_after(master, buf, len, from, what);
	tty_read_after(master, buf, len, (size_t)(strstr(*buf + from, what) - *buf), "\033[J");
}

/* Quit with q and check the terminal came back as it was. */
static void
tty_quit(struct tty *t, pid_t pid, char **buf, size_t *len)
{
	struct termios after;

	assert_int_equal(write(t->master, "q", 1), 1);
	tty_read(t->master, buf, len, NULL);
	tu_assert_exit(tu_waitpid(pid), 0);
	assert_int_equal(tcgetattr(t->master, &after), 0);
	assert_int_equal(after.c_lflag, t->before.c_lflag);
	close(t->master);
}

static int
is_clock(const char *p)
{
	return strlen(p) == 8 && isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
	    p[2] == ':' && isdigit((unsigned char)p[3]) && isdigit((unsigned char)p[4]) &&
	    p[5] == ':' && isdigit((unsigned char)p[6]) && isdigit((unsigned char)p[7]);
}

/*
 * At any width: the clock whole at the end of the first row, no row into
 * the last column (where the next clear-to-end would erase a character),
 * and sentences broken between words, never inside one.
 */
static void
test_watch_tty_narrow(void **state)
{
	static const unsigned short widths[] = {100, 80, 60, 40, 30, 24};
	static const char *const words[] = {"tasks:", "total", "pending", "queued", "running",
	    "completed", "quarantined", "reclaimed,", "recovery", "config:", "networks", "nodes,",
	    "seed", "attempts", "restarts", "downtime", "timeout", "crashes/s"};
	/* Where a line holds them, whole items too. */
	static const char *const items[] = {"20 total", "= 8 pending", "+ 8 queued", "+ 1 running",
	    "+ 2 completed", "+ 1 quarantined", "1 reclaimed,", "recovery queue 1,",
	    "2 networks x 3 nodes,", "seed 42"};
	char rows[SCREEN_ROWS][512];
	struct dcf_seg sg;

	(void)state;
	new_state(&sg, "narrow");
	for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
		const char *args[] = {"--name", sg.hdr->name, "--watch", "0.1", NULL};
		struct tty t = {.rows = 50, .cols = widths[w], .env = "NO_COLOR=1"};
		char *buf = NULL, all[SCREEN_ROWS * 512] = "";
		size_t len = 0;
		pid_t pid = spawn_tty_argv(&t, args);
		int n;

		tty_read(t.master, &buf, &len, "\033[J");
		n = screen(buf, 0, rows);
		assert_true(strlen(rows[0]) >= 8);
		if (!is_clock(rows[0] + strlen(rows[0]) - 8))
			fail_msg("width %u: no whole clock ending '%s'", widths[w], rows[0]);
		for (int i = 0; i < n; i++) {
			if (strlen(rows[i]) > (size_t)widths[w] - 1)
				fail_msg("width %u: row %d has %zu columns: '%s'", widths[w], i,
				    strlen(rows[i]), rows[i]);
			strcat(all, rows[i]);
			strcat(all, "\n");
		}
		for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
			if (strstr(all, words[k]) == NULL)
				fail_msg("width %u: '%s' broken or missing in:\n%s", widths[w],
				    words[k], all);
		for (size_t k = 0; widths[w] >= 40 && k < sizeof(items) / sizeof(items[0]); k++)
			if (strstr(all, items[k]) == NULL)
				fail_msg("width %u: '%s' broken or missing in:\n%s", widths[w],
				    items[k], all);
		tty_quit(&t, pid, &buf, &len);
		free(buf);
	}
	dcf_seg_destroy(&sg);
}

/* The frame's footer on the screen: its row, or NULL. */
static const char *
footer(char rows[SCREEN_ROWS][512], int n, const char *what)
{
	for (int i = 0; i < n; i++)
		if (strstr(rows[i], what) != NULL)
			return rows[i];
	return NULL;
}

/* The first node row on the screen: "net node" of it, or -1. */
static int
first_node(char rows[SCREEN_ROWS][512], int n, unsigned *net, unsigned *node)
{
	for (int i = 0; i + 1 < n; i++)
		if (strncmp(rows[i], "net node ", 9) == 0)
			return sscanf(rows[i + 1], "%u %u", net, node) == 2 ? 0 : -1;
	return -1;
}

/* 50 nodes, all idle. */
static void
many_nodes(struct dcf_seg *sg)
{
	struct dcf_config c;

	small_config(&c);
	c.nodes_per_net = 25;
	c.max_nodes = 50;
	tu_seg_create(sg, "many", &c);
	tu_lock(sg);
	for (uint32_t n = 0; n < 50; n++) {
		assert_int_equal(dcf_node_start_locked(sg, n, 1, 1000 + (pid_t)n, 0, 1), 0);
		assert_int_equal(dcf_node_ready_locked(sg, n, 1, 1), 0);
	}
	dcf_unlock(sg);
}

/*
 * --nodes on a screen too small for the table: its heading stays, the rows
 * scroll under it with j/k, G/g (and the arrows), and the last row says
 * which are shown. With no keys to read, it says how many are not.
 */
static void
test_watch_tty_scroll(void **state)
{
	char rows[SCREEN_ROWS][512];
	struct dcf_seg sg;
	unsigned net, node;
	const char *f;
	int n;

	(void)state;
	many_nodes(&sg);
	{
		const char *args[] = {"--name", sg.hdr->name, "--watch", "0.1", "--nodes", NULL};
		struct tty t = {.rows = 30, .cols = 100, .env = "NO_COLOR=1"};
		char *buf = NULL;
		size_t len = 0, mark;
		pid_t pid = spawn_tty_argv(&t, args);

		tty_read(t.master, &buf, &len, "\033[J");
		n = screen(buf, 0, rows);
		assert_int_equal(n, 30);
		f = footer(rows, n, "nodes 1-");
		if (f == NULL || strstr(f, " of 50") == NULL || strstr(f, "j/k") == NULL)
			fail_msg("no footer in the first frame");
		assert_int_equal(first_node(rows, n, &net, &node), 0);
		assert_true(net == 0 && node == 0);
		/* To the end: the last node shows, the heading is still there. */
		mark = len;
		assert_int_equal(write(t.master, "G", 1), 1);
		tty_frame_with(t.master, &buf, &len, mark, "-50 of 50");
		n = screen(buf, mark, rows);
		assert_non_null(footer(rows, n, "-50 of 50"));
		assert_non_null(footer(rows, n, "  1   24 "));
		assert_int_equal(first_node(rows, n, &net, &node), 0);
		assert_true(net != 0 || node != 0);
		/* One up with the arrow key. */
		mark = len;
		assert_int_equal(write(t.master, "\033[A", 3), 3);
		tty_read_after(t.master, &buf, &len, mark, "-49 of 50");
		/* Back to the top. */
		mark = len;
		assert_int_equal(write(t.master, "g", 1), 1);
		tty_frame_with(t.master, &buf, &len, mark, "nodes 1-");
		n = screen(buf, mark, rows);
		assert_int_equal(first_node(rows, n, &net, &node), 0);
		assert_true(net == 0 && node == 0);
		tty_quit(&t, pid, &buf, &len);
		free(buf);
	}
	{
		const char *args[] = {"--name", sg.hdr->name, "--watch", "0.1", "--nodes",
		    "--count", "1", NULL};
		struct tty t = {.rows = 30, .cols = 100, .no_keys = 1, .env = "NO_COLOR=1"};
		char *buf = NULL;
		size_t len = 0;
		pid_t pid = spawn_tty_argv(&t, args);

		tty_read(t.master, &buf, &len, NULL);
		tu_assert_exit(tu_waitpid(pid), 0);
		n = screen(buf, 0, rows);
		f = footer(rows, n, " more nodes");
		assert_non_null(f);
		assert_null(strstr(f, "j/k"));
		free(buf);
		close(t.master);
	}
	dcf_seg_destroy(&sg);
}

/* The run ends, or its supervisor dies, under a terminal watch: the last frame stays. */
static void
test_watch_tty_end(void **state)
{
	for (int died = 0; died < 2; died++) {
		const char *args[] = {"--name", NULL, "--watch", "0.1", NULL};
		struct tty t = {.rows = 40, .cols = 100};
		struct termios after;
		struct dcf_seg sg;
		char *buf = NULL, want[96];
		const char *tail;
		size_t len = 0;
		pid_t pid, dead;

		(void)state;
		new_state(&sg, "tend");
		args[1] = sg.hdr->name;
		pid = spawn_tty_argv(&t, args);
		tty_read(t.master, &buf, &len, "\033[J"); /* one whole frame */
		if (died) {
			dead = tu_fork();
			if (dead == 0)
				_exit(0);
			tu_waitpid(dead);
			sg.hdr->sup_pid = dead;
		} else {
			end_run(&sg, 0);
		}
		tty_read(t.master, &buf, &len, NULL);
		tu_assert_exit(tu_waitpid(pid), died ? 1 : 0);
		assert_int_equal(tcgetattr(t.master, &after), 0);
		assert_int_equal(after.c_lflag, t.before.c_lflag);
		/* After the alternate screen is left: the last state, on the main screen. */
		tail = strstr(buf, TTY_BYE);
		assert_non_null(tail);
		assert_has(tail, "tasks: 20 total");
		assert_has(tail, "\nnet 1   "); /* the grid, as on the screen */
		if (died) {
			snprintf(want, sizeof(want), "the supervisor died (pid %d)", (int)dead);
			assert_has(tail, want);
		} else {
			assert_has(tail, ", ended");
			assert_has(tail, "the run ended: exit status 0, every task completed");
		}
		free(buf);
		close(t.master);
		dcf_seg_destroy(&sg);
	}
}

/* ---- tests: fitting text to a terminal, in process ------------------- */

static char *
fitted(const char *text, unsigned cols)
{
	struct mem m;

	assert_int_equal(dcf_render_fitted(mem_open(&m), text, strlen(text), cols), 0);
	return mem_close(&m);
}

static char *
framed(const char *text, struct dcf_frame *fr)
{
	struct mem m;

	assert_int_equal(dcf_render_frame(mem_open(&m), text, strlen(text), fr), 0);
	return mem_close(&m);
}

/*
 * A line too long is cut at cols - 1 columns, at the end of a word if that
 * keeps half the room, with its colour reset; escape sequences take no
 * column. A frame pins its first lines and scrolls the rest.
 */
static void
test_render_fit(void **state)
{
	char rows[SCREEN_ROWS][512], *buf;
	struct dcf_frame fr = {.rows = 6, .cols = 40, .pin = 2, .noun = "line"};
	int n;

	(void)state;
	buf = fitted("alpha beta gamma\n\033[32mgreen words here\033[0m\nabcdefghijklmnop\nshort\n",
	    12);
	assert_string_equal(buf, "alpha beta\n\033[32mgreen words\033[0m\nabcdefghijk\nshort\n");
	free(buf);
	/* A table: a column that does not fit goes whole. */
	buf = fitted("net nodes alive  busy\n  0     3     3     1\n", 19);
	assert_string_equal(buf, "net nodes alive\n  0     3     3\n");
	free(buf);

	buf = framed("T\nH\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\n", &fr);
	n = screen(buf, 0, rows);
	assert_int_equal(n, 6);
	assert_string_equal(rows[0], "T");
	assert_string_equal(rows[1], "H");
	assert_string_equal(rows[2], "l2");
	assert_string_equal(rows[4], "l4");
	assert_string_equal(rows[5], "+5 more lines");
	assert_int_equal(fr.page, 3);
	assert_int_equal(fr.max_top, 5);
	free(buf);
	fr.top = 100;
	fr.keys = 1;
	buf = framed("T\nH\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\n", &fr);
	n = screen(buf, 0, rows);
	assert_int_equal(fr.top, 5);
	assert_string_equal(rows[1], "H");
	assert_string_equal(rows[2], "l7");
	assert_string_equal(rows[4], "l9");
	assert_has(rows[5], "lines 6-8 of 8");
	free(buf);
	/* Everything fits: no footer, nothing scrolls. */
	fr.rows = 20;
	fr.top = 3;
	buf = framed("T\nH\nl2\n", &fr);
	n = screen(buf, 0, rows);
	assert_int_equal(n, 4); /* the cursor below the last line; the rest cleared */
	assert_int_equal(fr.top, 0);
	assert_string_equal(rows[2], "l2");
	assert_string_equal(rows[3], "");
	free(buf);
}

/* Text for a width: sentences broken between their items, never inside one. */
static void
test_render_wrap(void **state)
{
	struct dcf_render_opt o = {.width = 30};
	struct dcf_seg sg;
	char err[DCF_ERRLEN], *buf, *table;

	(void)state;
	new_state(&sg, "wrap");
	assert_int_equal(take(&sg, 1, err), 0);
	buf = render(0, &o);
	table = strstr(buf, "\nnet nodes");
	assert_non_null(table);
	*table = '\0'; /* tables are not wrapped: the frame cuts their columns */
	for (char *line = buf; line != NULL && *line != '\0';) {
		char *nl = strchr(line, '\n');
		size_t k = nl != NULL ? (size_t)(nl - line) : strlen(line);

		if (k > 29)
			fail_msg("a line of %zu columns at width 30: '%.*s'", k, (int)k, line);
		line = nl != NULL ? nl + 1 : NULL;
	}
	assert_has(buf, "\n       + 1 quarantined\n");
	assert_has(buf, "tasks: 20 total = 8 pending\n");
	free(buf);
	dcf_seg_destroy(&sg);
}

/* ---- tests: every instance, and removing a stale one ------------------ */

/* What a planted object is, for test_list and test_remove_refused. */
enum plant { P_FIFO, P_JUNK, P_DIR, P_LINK, P_FOREIGN, P_NKINDS };

static void
plant(enum plant kind, char *name, size_t len, const char *target)
{
	char path[96];
	int fd;

	tu_name(name, len, "plant");
	snprintf(path, sizeof(path), "/dev/shm/dcf-%s", name);
	switch (kind) {
	case P_FIFO:
		assert_int_equal(mkfifo(path, 0600), 0);
		break;
	case P_JUNK:
	case P_FOREIGN:
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "not a segment\n", 14), 14);
		if (kind == P_FOREIGN)
			assert_int_equal(fchown(fd, 4242, (gid_t)-1), 0);
		close(fd);
		break;
	case P_DIR:
		assert_int_equal(mkdir(path, 0700), 0);
		break;
	default:
		assert_int_equal(symlink(target, path), 0);
		break;
	}
}

/* The line of --list for name: its state column. */
static void
list_state(const char *out, const char *name, char st[32])
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s ", name);
	p = strstr(out, pat);
	if (p == NULL)
		fail_msg("'%s' not listed:\n%s", name, out);
	assert_int_equal(sscanf(p + 1, "%*s %31s", st), 1);
}

static const struct run_jv *
list_entry(const struct run_jv *d, const char *name)
{
	const struct run_jv *all = run_json_get(d, "instances");

	for (size_t i = 0; all != NULL && i < all->n; i++)
		if (strcmp(jstrval(jat(all, i), "name"), name) == 0)
			return jat(all, i);
	fail_msg("'%s' not in the JSON list", name);
	return NULL;
}

/*
 * --list: a live run, an ended one, a stale one, one of another layout, and
 * things planted under dcf- names, each as what it is; nothing changed.
 */
static void
test_list(void **state)
{
	static const char *const want[P_NKINDS] = {"not-dcf", "not-dcf", "not-dcf", "not-dcf",
	    "foreign"};
	char stale[DCF_NAME_MAX + 1], old[DCF_NAME_MAX + 1], planted[P_NKINDS][DCF_NAME_MAX + 1];
	char st[32], target[64];
	struct dcf_seg live, ended;
	const struct run_jv *e;
	struct run_jv *d;
	uint64_t format;
	struct out r;
	pid_t dead, old_pid;
	int fd;

	(void)state;
	new_state(&live, "live");
	new_state(&ended, "ended");
	end_run(&ended, 1);
	make_stale(stale, sizeof(stale), "stale", &dead);
	/* A stale segment of another layout version, left by an older dcf. */
	make_stale(old, sizeof(old), "old", &old_pid);
	snprintf(target, sizeof(target), "/dev/shm/dcf-%s", old);
	fd = open(target, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &format, sizeof(format), offsetof(struct dcf_hdr, format)), 8);
	format += 1ULL << 48;
	assert_int_equal(pwrite(fd, &format, sizeof(format), offsetof(struct dcf_hdr, format)), 8);
	close(fd);
	snprintf(target, sizeof(target), "/dev/shm%s", live.shm_name);
	for (int k = 0; k < P_NKINDS; k++)
		if (k != P_FOREIGN || geteuid() == 0)
			plant((enum plant)k, planted[k], sizeof(planted[k]), target);

	run(&r, "--list");
	assert_exit(&r, 0);
	assert_int_equal(r.en, 0);
	assert_has(r.o, "NAME ");
	list_state(r.o, live.hdr->name, st);
	assert_string_equal(st, "running");
	list_state(r.o, ended.hdr->name, st);
	assert_string_equal(st, "ended");
	list_state(r.o, stale, st);
	assert_string_equal(st, "stale");
	snprintf(target, sizeof(target), "dcf-status --remove-stale %s\n", stale);
	assert_has(r.o, target);
	list_state(r.o, old, st);
	assert_string_equal(st, "unreadable");
	for (int k = 0; k < P_NKINDS; k++) {
		if (k == P_FOREIGN && geteuid() != 0)
			continue;
		list_state(r.o, planted[k], st);
		assert_string_equal(st, want[k]);
	}
	out_free(&r);

	run(&r, "--list", "--json");
	assert_exit(&r, 0);
	d = run_json_parse(r.o);
	if (d == NULL)
		fail_msg("not JSON:\n%s", r.o);
	assert_int_equal(ju(d, "schema"), DCF_STATUS_SCHEMA);
	e = list_entry(d, live.hdr->name);
	assert_string_equal(jstrval(e, "state"), "running");
	assert_int_equal(ju(e, "supervisor_pid"), (uint64_t)getpid());
	assert_int_equal(ju(e, "uid"), getuid());
	assert_int_equal(ju(e, "size_bytes"), live.size);
	assert_true(jis(e, "created_unix_s", RJ_NUM));
	assert_true(jis(e, "detail", RJ_NULL));
	e = list_entry(d, ended.hdr->name);
	assert_string_equal(jstrval(e, "state"), "ended");
	assert_int_equal(ju(e, "exit_status"), 1);
	e = list_entry(d, stale);
	assert_string_equal(jstrval(e, "state"), "stale");
	assert_int_equal(ju(e, "supervisor_pid"), (uint64_t)dead);
	e = list_entry(d, old);
	assert_string_equal(jstrval(e, "state"), "unreadable");
	assert_has(jstrval(e, "detail"), "layout version");
	e = list_entry(d, planted[P_FIFO]);
	assert_string_equal(jstrval(e, "state"), "not-dcf");
	assert_string_equal(jstrval(e, "detail"), "a FIFO");
	assert_true(jis(e, "supervisor_pid", RJ_NULL));
	run_json_free(d);
	out_free(&r);

	/* Looking changed nothing: the live run is as it was, the rest still there. */
	assert_int_equal(live.hdr->cnt.completed, 2);
	assert_true(run_shm_exists(stale));
	for (int k = 0; k < P_NKINDS; k++) {
		struct stat sb;
		char path[256];

		if (k == P_FOREIGN && geteuid() != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/shm/dcf-%s", planted[k]);
		assert_int_equal(lstat(path, &sb), 0);
	}
	/* An older dcf's stale segment is ours to remove: its flock says it is dead. */
	run(&r, "--remove-stale", old);
	assert_exit(&r, 0);
	out_free(&r);
	assert_false(run_shm_exists(old));
	dcf_seg_destroy(&ended);
	dcf_seg_destroy(&live);
	tu_unlink_ours();
}

/*
 * --remove-stale refuses a live system (its supervisor holds the flock) and
 * anything that is not a dcf segment of ours: exit 1, one line, and the
 * object exactly as it was. A link to a live segment is not followed.
 */
static void
test_remove_refused(void **state)
{
	char planted[P_NKINDS][DCF_NAME_MAX + 1], target[64], want[160], err[DCF_ERRLEN];
	static const char *const why[P_NKINDS] = {"is a FIFO", "not a dcf segment",
	    "is a directory", "is a symbolic link", "belongs to uid 4242"};
	struct dcf_seg live;
	struct stat was, now;
	struct out r;
	pid_t old;

	(void)state;
	new_state(&live, "live");
	snprintf(target, sizeof(target), "/dev/shm%s", live.shm_name);
	assert_int_equal(lstat(target, &was), 0);
	run(&r, "--remove-stale", live.hdr->name);
	assert_exit(&r, 1);
	assert_one_line(&r);
	snprintf(want, sizeof(want), "dcf-status: not removing %s: already running, pid %d\n",
	    target, (int)getpid());
	assert_string_equal(r.e, want);
	out_free(&r);
	assert_int_equal(dcf_seg_remove_stale(live.hdr->name, &old, err, sizeof(err)), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(lstat(target, &now), 0);
	assert_int_equal(now.st_ino, was.st_ino);
	spawn_alarm_s = 10; /* a FIFO opened for reading would block: a hang fails */
	for (int k = 0; k < P_NKINDS; k++) {
		char path[256], was_to[128], now_to[128];

		if (k == P_FOREIGN && geteuid() != 0)
			continue;
		plant((enum plant)k, planted[k], sizeof(planted[k]), target);
		snprintf(path, sizeof(path), "/dev/shm/dcf-%s", planted[k]);
		look(path, &was, was_to, sizeof(was_to));
		run(&r, "--remove-stale", planted[k]);
		assert_exit(&r, 1);
		assert_one_line(&r);
		assert_has(r.e, path);
		assert_has(r.e, why[k]);
		out_free(&r);
		look(path, &now, now_to, sizeof(now_to));
		assert_int_equal(now.st_ino, was.st_ino);
		assert_int_equal(now.st_mode, was.st_mode);
		assert_int_equal(now.st_size, was.st_size);
		assert_string_equal(now_to, was_to);
	}
	spawn_alarm_s = 0;
	assert_true(run_shm_exists(live.hdr->name));
	assert_int_equal(live.hdr->cnt.completed, 2);
	dcf_seg_destroy(&live);
	tu_unlink_ours();
}

/* ---- tests: options -------------------------------------------------- */

/*
 * Every usage error is one line, "dcf-status: WHAT; try 'dcf-status --help'",
 * with the value quoted once and escaped, exit 2, nothing on stdout. The
 * table's own checks are in test_opts.
 */
static void
test_usage(void **state)
{
	static const char *const bad[][5] = {
	    /* what the line must hold, then the arguments */
	    {"unknown option '--bogus'", "--bogus"},
	    {"unknown option '-x'", "-x"},
	    {"unknown option '-v'", "-v"}, /* --nodes has no letter now */
	    {"unknown option '-N' (-N is --nodes N in dcf-supervisor)", "-N"},
	    {"unknown option '--networks' (an option of dcf-supervisor)", "--networks", "3"},
	    {"--name needs a value: ", "--name"},
	    {"--name 'a/b': an instance name is ", "--name", "a/b"},
	    {"--name 'a\\nb': ", "--name", "a\nb"},
	    {"--name 'h\\xe9': ", "-n", "h\xe9"},
	    {"--watch '0': expected seconds from 0.1 to 3600", "--watch", "0"},
	    {"--watch 'abc': ", "--watch=abc"},
	    {"--watch '99999': ", "-w", "99999"},
	    {"--count goes with --watch", "--count", "2"},
	    {"--count '0': expected a whole number from 1 to ", "--watch", "--count", "0"},
	    {"--count 'x': ", "--watch", "--count", "x"},
	    {"--json '1': takes no value", "--json=1"},
	    {"ambiguous option '--n' (--name, --nodes)", "--n", "x"},
	    {"unexpected argument 'extra'", "extra"},
	    {"--list goes alone, or with --json", "--list", "--name", "x"},
	    {"--list goes alone, or with --json", "-l", "--watch"},
	    {"--list goes alone, or with --json", "--list", "--nodes"},
	    {"--remove-stale needs a value: ", "--remove-stale"},
	    {"--remove-stale 'a/b': an instance name is ", "--remove-stale", "a/b"},
	    {"--remove-stale NAME goes alone", "--remove-stale", "x", "--json"},
	    {"--list goes alone, or with --json", "--remove-stale", "x", "--list"},
	};
	struct out r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[256];

		run(&r, bad[i][1], bad[i][2], bad[i][3], bad[i][4]);
		assert_exit(&r, 2);
		assert_one_line(&r);
		snprintf(want, sizeof(want), "dcf-status: %s", bad[i][0]);
		assert_has(r.e, want);
		assert_non_null(strstr(r.e, "; try 'dcf-status --help'\n"));
		assert_string_equal(strstr(r.e, "; try 'dcf-status --help'\n"),
		    "; try 'dcf-status --help'\n");
		assert_int_equal(r.on, 0);
		out_free(&r);
	}
	run(&r, "--help");
	assert_exit(&r, 0);
	assert_has(r.o, "usage: dcf-status");
	assert_has(r.o, "--watch [SECONDS]");
	assert_has(r.o, "-n, --name NAME");
	out_free(&r);
	run(&r, "-V");
	assert_exit(&r, 0);
	assert_string_equal(r.o, "dcf-status " DCF_VERSION "\n");
	out_free(&r);
}

static int
suite_setup(void **state)
{
	(void)state;
	tu_main_pid = getpid();
	snap = dcf_snap_new();
	if (snap == NULL)
		return -1;
	if (access(STATUS, X_OK) != 0) {
		fprintf(stderr, "test_status: %s is not built (run from the repository root)\n",
		    STATUS);
		return -1;
	}
	return 0;
}

static int
suite_teardown(void **state)
{
	(void)state;
	dcf_snap_free(snap);
	tu_unlink_ours();
	return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_json_parser),
	    T(test_snapshot_known_state),
	    T(test_queued_by_priority),
	    T(test_binary_text),
	    T(test_binary_json),
	    T(test_binary_json_python),
	    T(test_no_system),
	    T(test_stale_segment),
	    T(test_proc_unreadable),
	    T(test_foreign_version),
	    T(test_other_owner),
	    T(test_planted),
	    T(test_corrupt_header),
	    T(test_out_of_range_nodes),
	    T(test_inconsistent),
	    T(test_holder_killed_mid_transaction),
	    T(test_fuzz_every_byte),
	    T(test_fuzz_random),
	    T(test_render_escapes),
	    T(test_render_grid),
	    T(test_watch_plain),
	    T(test_watch_system_gone),
	    T(test_watch_tty),
	    T(test_watch_truncated),
	    T(test_watch_ended_plain),
	    T(test_once_ended),
	    T(test_watch_tty_narrow),
	    T(test_watch_tty_scroll),
	    T(test_watch_tty_end),
	    T(test_render_fit),
	    T(test_render_wrap),
	    T(test_list),
	    T(test_remove_refused),
	    T(test_usage),
	};

	return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
