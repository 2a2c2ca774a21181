/*
 * test_status.c - dcf-status and the snapshot it reads.
 *
 * A known state is built in a real segment with the books' own operations
 * (this process is its "supervisor", so the system counts as running), then
 * read back three ways: dcf_snap_take in process, the real ./dcf-status
 * binary's text, and its JSON parsed by a strict parser below (and once by
 * python3's). Then the ways a segment can be wrong: no system, a dead
 * supervisor, another layout, another owner, a corrupt header, out-of-range
 * node values, counts that do not add up, a holder killed mid-transaction,
 * and every byte of an image flipped. Watch mode runs on a pipe (--count)
 * and on a pseudo-terminal, which must be given back as it was.
 *
 * The plumbing (names, segments and children that teardown always removes
 * and reaps) is this file's own: it was written before tests/testutil.h was
 * in the tree, and can move onto it.
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

#include "dcf/books.h"
#include "dcf/inject.h"
#include "dcf/lock.h"
#include "dcf/seg.h"
#include "dcf/snapshot.h"
#include "dcf/status_render.h"
#include "dcf/util.h"

#define STATUS  "./dcf-status"
#define TTY_BYE "\033[?7h\033[?25h\033[?1049l" /* the last bytes on the terminal */

static struct dcf_snap *snap; /* one for the whole suite: about 1 MiB */

/* ---- plumbing: names, segments and children that are always cleaned up ---- */

/* Exit statuses of test children. */
enum { ST_EX_OK = 0, ST_EX_FAIL = 70, ST_EX_NOTREC = 71, ST_EX_NOTREACHED = 73 };

#define ST_MAX_KIDS 16

static pid_t st_main_pid;
static pid_t st_kids[ST_MAX_KIDS];
static int st_nkids;
static unsigned st_name_seq;

static int
st_valgrind(void)
{
	return getenv("DCF_TEST_VALGRIND") != NULL;
}

/* A bound for waits on events, in ms: generous, longer under valgrind. */
static uint64_t
st_deadline(uint64_t ms)
{
	return dcf_now_ns() + ms * (st_valgrind() ? 20u : 1u) * 1000000ULL;
}

static int
st_time_left(uint64_t deadline, struct timespec *ts)
{
	uint64_t now = dcf_now_ns();

	if (now >= deadline)
		return 0;
	ts->tv_sec = (time_t)((deadline - now) / DCF_NSEC);
	ts->tv_nsec = (long)((deadline - now) % DCF_NSEC);
	return 1;
}

/* fork(); the parent remembers the child, so teardown can always reap it. */
static pid_t
st_fork(void)
{
	static const int sigs[] = {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGSYS, SIGABRT};
	sigset_t none;
	pid_t pid;

	assert_true(st_nkids < ST_MAX_KIDS);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid != -1);
	if (pid > 0) {
		st_kids[st_nkids++] = pid;
		return pid;
	}
	/* cmocka's handlers would longjmp into the parent's test runner. */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	return 0;
}

/* Reap one child (blocking): its wait status. */
static int
st_waitpid(pid_t pid)
{
	int st = 0;
	pid_t r;

	while ((r = waitpid(pid, &st, 0)) == -1 && errno == EINTR)
		;
	assert_int_equal(r, pid);
	for (int i = 0; i < st_nkids; i++)
		if (st_kids[i] == pid)
			st_kids[i] = st_kids[--st_nkids];
	return st;
}

static const char *
st_status_str(int st)
{
	static char buf[64];

	if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, sizeof(buf), "wait status %#x", st);
	return buf;
}

#define st_assert_exit(st, code) \
	do { \
		int st_ = (st); \
		if (!WIFEXITED(st_) || WEXITSTATUS(st_) != (code)) \
			fail_msg("child: %s, expected exit status %d", st_status_str(st_), \
			    (code)); \
	} while (0)
#define st_assert_killed(st) \
	do { \
		int st_ = (st); \
		if (!WIFSIGNALED(st_) || WTERMSIG(st_) != SIGKILL) \
			fail_msg("child: %s, expected SIGKILL", st_status_str(st_)); \
	} while (0)

/* Instance names are "t<pid>-<tag><n>": /dev/shm holds "dcf-t<pid>-...". */
static void
st_name(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "t%d-%s%u", (int)st_main_pid, tag, st_name_seq++);
	assert_true(strlen(buf) <= DCF_NAME_MAX);
}

/* Unlink every /dev/shm entry this test process named. */
static void
st_unlink_ours(void)
{
	char prefix[32], path[300];
	struct dirent *de;
	DIR *d = opendir("/dev/shm");

	if (d == NULL)
		return;
	snprintf(prefix, sizeof(prefix), "dcf-t%d-", (int)st_main_pid);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
			if (unlink(path) == -1 && errno == EISDIR)
				rmdir(path); /* planted by test_planted */
		}
	closedir(d);
}

static void
st_seg_create(struct dcf_seg *sg, const char *tag, const struct dcf_config *c)
{
	char name[DCF_NAME_MAX + 1], err[DCF_ERRLEN];
	pid_t took = 0;

	st_name(name, sizeof(name), tag);
	if (dcf_seg_create(sg, name, c, &took, err, sizeof(err)) == -1)
		fail_msg("dcf_seg_create %s: %s", name, err);
	assert_int_equal(took, 0);
}

static void
st_lock(struct dcf_seg *sg)
{
	if (dcf_lock(sg) == -1)
		fail_msg("dcf_lock: %s", strerror(errno));
}

/* With the lock held: the books' invariants must hold. */
#define st_assert_books(sg) \
	do { \
		char e_[DCF_ERRLEN]; \
		if (dcf_books_check_locked((sg), e_, sizeof(e_)) == -1) \
			fail_msg("books inconsistent: %s", e_); \
	} while (0)

static int
st_setup(void **state)
{
	(void)state;
	st_nkids = 0;
	return 0;
}

/* After every test, failed or not: no child and no segment outlives it. */
static int
st_teardown(void **state)
{
	(void)state;
	if (getpid() != st_main_pid)
		_exit(ST_EX_FAIL);
	while (st_nkids > 0) {
		pid_t pid = st_kids[--st_nkids];

		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
	}
	st_unlink_ours();
	return 0;
}

/* ---- a strict JSON parser: enough to read dcf-status's documents back ---- */

enum jt { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jt t;
	int b;
	double num;
	int is_uint; /* a whole, non-negative number that fits 64 bits */
	uint64_t u;
	char *s;
	size_t n;
	char **k;      /* object keys */
	struct jv **v; /* array items, object values */
};

struct jp {
	const char *p;
	int depth;
};

static void
jfree(struct jv *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		if (v->k != NULL)
			free(v->k[i]);
		jfree(v->v[i]);
	}
	free(v->k);
	free(v->v);
	free(v->s);
	free(v);
}

static void
jws(struct jp *jp)
{
	while (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r')
		jp->p++;
}

static int
jhex(const char *p, unsigned *code)
{
	*code = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];

		*code <<= 4;
		if (c >= '0' && c <= '9')
			*code |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*code |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*code |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

/* A string at jp->p ('"'); \u00XX decodes to that byte. NULL if malformed. */
static char *
jstr(struct jp *jp)
{
	size_t cap = 16, n = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	jp->p++;
	for (;;) {
		unsigned char c = (unsigned char)*jp->p++;
		unsigned code;

		if (c == '"')
			break;
		if (c < 0x20 || c >= 0x80) /* NUL too: the text ended */
			goto bad;
		if (c == '\\') {
			c = (unsigned char)*jp->p++;
			switch (c) {
			case '"':
			case '\\':
			case '/':
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case 'u':
				if (jhex(jp->p, &code) == -1 || code == 0)
					goto bad;
				jp->p += 4;
				c = code < 0x100 ? (unsigned char)code : '?';
				break;
			default:
				goto bad;
			}
		}
		if (n + 2 > cap) {
			char *bigger;

			cap *= 2;
			bigger = realloc(s, cap);
			assert_non_null(bigger);
			s = bigger;
		}
		s[n++] = (char)c;
	}
	s[n] = '\0';
	return s;
bad:
	free(s);
	return NULL;
}

static int
jdigits(struct jp *jp)
{
	const char *p0 = jp->p;

	while (*jp->p >= '0' && *jp->p <= '9')
		jp->p++;
	return jp->p > p0;
}

static int
jnum(struct jp *jp, struct jv *v)
{
	const char *p0 = jp->p;
	int whole = 1;

	if (*jp->p == '-')
		jp->p++;
	if (*jp->p == '0')
		jp->p++;
	else if (!jdigits(jp))
		return -1;
	if (*jp->p == '.') {
		jp->p++;
		if (!jdigits(jp))
			return -1;
		whole = 0;
	}
	if (*jp->p == 'e' || *jp->p == 'E') {
		jp->p++;
		if (*jp->p == '+' || *jp->p == '-')
			jp->p++;
		if (!jdigits(jp))
			return -1;
		whole = 0;
	}
	v->num = strtod(p0, NULL);
	if (whole && *p0 != '-') {
		errno = 0;
		v->u = strtoull(p0, NULL, 10);
		v->is_uint = errno == 0;
	}
	return 0;
}

static struct jv *jparse_value(struct jp *jp);

static void
jadd(struct jv *v, char *key, struct jv *item)
{
	v->v = realloc(v->v, (v->n + 1) * sizeof(*v->v));
	assert_non_null(v->v);
	if (v->t == J_OBJ) {
		v->k = realloc(v->k, (v->n + 1) * sizeof(*v->k));
		assert_non_null(v->k);
		v->k[v->n] = key;
	}
	v->v[v->n++] = item;
}

/* The members of an object or the items of an array, jp->p past the opener. */
static int
jmembers(struct jp *jp, struct jv *v, char close)
{
	jws(jp);
	if (*jp->p == close) {
		jp->p++;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		struct jv *item;

		jws(jp);
		if (v->t == J_OBJ) {
			if (*jp->p != '"' || (key = jstr(jp)) == NULL)
				return -1;
			jws(jp);
			if (*jp->p++ != ':') {
				free(key);
				return -1;
			}
		}
		item = jparse_value(jp);
		if (item == NULL) {
			free(key);
			return -1;
		}
		jadd(v, key, item);
		jws(jp);
		if (*jp->p == ',') {
			jp->p++;
			continue;
		}
		if (*jp->p++ != close)
			return -1;
		return 0;
	}
}

static struct jv *
jparse_value(struct jp *jp)
{
	struct jv *v = calloc(1, sizeof(*v));
	int ok = -1;

	assert_non_null(v);
	jws(jp);
	if (++jp->depth > 32)
		goto out;
	switch (*jp->p) {
	case '{':
	case '[':
		v->t = *jp->p == '{' ? J_OBJ : J_ARR;
		jp->p++;
		ok = jmembers(jp, v, v->t == J_OBJ ? '}' : ']');
		break;
	case '"':
		v->t = J_STR;
		ok = (v->s = jstr(jp)) != NULL ? 0 : -1;
		break;
	case 't':
	case 'f':
	case 'n':
		v->t = *jp->p == 'n' ? J_NULL : J_BOOL;
		v->b = *jp->p == 't';
		ok = strncmp(jp->p, "true", 4) == 0 || strncmp(jp->p, "null", 4) == 0 ? 0
		    : strncmp(jp->p, "false", 5) == 0                                 ? 1
		                                                                      : -1;
		if (ok >= 0) {
			jp->p += 4 + (size_t)ok;
			ok = 0;
		}
		break;
	default:
		v->t = J_NUM;
		ok = jnum(jp, v);
		break;
	}
out:
	jp->depth--;
	if (ok == -1) {
		jfree(v);
		return NULL;
	}
	return v;
}

/* One document from *text on; *text moves past it. NULL if it is not JSON. */
static struct jv *
jparse_next(const char **text)
{
	struct jp jp = {*text, 0};
	struct jv *v = jparse_value(&jp);

	if (v != NULL) {
		jws(&jp);
		*text = jp.p;
	}
	return v;
}

/* The whole text is one document. */
static struct jv *
jparse(const char *text)
{
	struct jv *v = jparse_next(&text);

	if (v != NULL && *text != '\0') {
		jfree(v);
		return NULL;
	}
	return v;
}

static const struct jv *
jget(const struct jv *o, const char *key)
{
	if (o == NULL || o->t != J_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->k[i], key) == 0)
			return o->v[i];
	return NULL;
}

/* Item i of an array, which must be there. */
static const struct jv *
jat(const struct jv *a, size_t i)
{
	if (a == NULL || a->t != J_ARR || i >= a->n) {
		fail_msg("JSON array item %zu missing", i);
		abort(); /* not reached: for the compiler */
	}
	return a->v[i];
}

/* A member that must be a whole number. */
static uint64_t
ju(const struct jv *o, const char *key)
{
	const struct jv *v = jget(o, key);

	if (v == NULL || v->t != J_NUM || !v->is_uint)
		fail_msg("JSON field '%s' missing or not a whole number", key);
	return v->u;
}

static int
jis(const struct jv *o, const char *key, enum jt t)
{
	const struct jv *v = jget(o, key);

	return v != NULL && v->t == t;
}

static const char *
jstrval(const struct jv *o, const char *key)
{
	const struct jv *v = jget(o, key);

	if (v == NULL || v->t != J_STR)
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
	struct jv *v;

	(void)state;
	v = jparse(" {\"a\": [1, -2.5e3, true, false, null, \"x\\\"\\u0041\"], \"b\": {}} ");
	assert_non_null(v);
	assert_int_equal(jat(jget(v, "a"), 0)->u, 1);
	assert_true(jat(jget(v, "a"), 1)->num == -2500.0);
	assert_false(jat(jget(v, "a"), 1)->is_uint);
	assert_string_equal(jat(jget(v, "a"), 5)->s, "x\"A");
	assert_true(jis(v, "b", J_OBJ));
	jfree(v);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = jparse(bad[i]);
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
	pid = st_fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close_range(3, ~0U, 0);
		if (spawn_alarm_s > 0)
			alarm(spawn_alarm_s * (st_valgrind() ? 10u : 1u)); /* kept across exec */
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
	uint64_t deadline = st_deadline(20000);
	int open_out = 1, open_err = 1;

	while (open_out || open_err) {
		struct pollfd p[2] = {{outfd, POLLIN, 0}, {errfd, POLLIN, 0}};
		struct timespec ts;

		if (until != NULL && r->o != NULL && strstr(r->o, until) != NULL)
			return;
		if (!st_time_left(deadline, &ts))
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
	r->st = st_waitpid(pid);
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
		    st_status_str(r->st), code, r->o, r->e);
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
	dcf_config_default(c);
	c->nets = 2;
	c->nodes_per_net = 3;
	c->max_nodes = 6;
	c->task_slots = 16;
	c->tasks = 20;
	c->task_ms_min = 10;
	c->task_ms_max = 20;
	c->downtime_ms_min = 1;
	c->downtime_ms_max = 2;
	c->max_attempts = 2;
	c->fail_rate_ppm = 0;
	c->restart_window_s = 10;
	c->hang_timeout_ms = 1000;
	c->grace_ms = 100;
	c->cpu_iters_per_ms = 10;
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

	st_lock(sg);
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
	st_assert_books(sg);
	dcf_unlock(sg);
}

static void
new_state(struct dcf_seg *sg, const char *tag)
{
	struct dcf_config c;

	small_config(&c);
	st_seg_create(sg, tag, &c);
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

/* Render with o into a malloc'd string. */
static char *
render(int json, const struct dcf_render_opt *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	assert_int_equal(json ? dcf_render_json(m, snap, o) : dcf_render_text(m, snap, o), 0);
	assert_int_equal(fclose(m), 0);
	return buf;
}

/* ---- tests: the known state ------------------------------------------ */

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
check_json_known(const struct jv *d, const char *name, uint64_t completed, uint64_t running)
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
	const struct jv *t = jget(d, "tasks"), *nets = jget(d, "networks"),
	                *nodes = jget(d, "nodes");

	assert_non_null(d);
	assert_int_equal(ju(d, "schema"), DCF_STATUS_SCHEMA);
	assert_string_equal(jstrval(d, "name"), name);
	assert_true(jis(d, "consistent", J_BOOL) && jget(d, "consistent")->b);
	assert_int_equal(ju(d, "supervisor_pid"), (uint64_t)getpid());
	assert_string_equal(jstrval(d, "state"), "running");
	assert_true(jis(d, "uptime_s", J_NUM) && jget(d, "uptime_s")->num >= 0);
	assert_int_equal(ju(jget(d, "config"), "nets"), 2);
	assert_int_equal(ju(jget(d, "config"), "nodes_per_net"), 3);
	assert_string_equal(jstrval(jget(d, "config"), "work"), "sleep");
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
	assert_int_equal(ju(jget(d, "counters"), "dispatched"), 12);
	assert_int_equal(ju(d, "invalid_values"), 0);
	assert_true(jis(d, "rate_per_s", J_NUM));
	assert_true(nets != NULL && nets->t == J_ARR && nets->n == 2);
	assert_int_equal(ju(jat(nets, 0), "id"), 0);
	assert_int_equal(ju(jat(nets, 0), "nodes_alive"), 3);
	assert_int_equal(ju(jat(nets, 0), "nodes_busy"), running);
	assert_int_equal(ju(jat(nets, 0), "queue_depth"), 4);
	assert_int_equal(ju(jat(nets, 0), "completed"), completed);
	assert_int_equal(ju(jat(nets, 1), "nodes_alive"), 1);
	assert_int_equal(ju(jat(nets, 1), "nodes_down"), 1);
	assert_int_equal(ju(jat(nets, 1), "nodes_failed"), 1);
	assert_int_equal(ju(jat(nets, 1), "queue_depth"), 3);
	assert_true(nodes != NULL && nodes->t == J_ARR && nodes->n == 6);
	for (size_t n = 0; n < 6; n++) {
		const struct jv *v = jat(nodes, n);
		int busy = n == 0 && running == 1;

		assert_int_equal(ju(v, "slot"), n);
		assert_int_equal(ju(v, "network"), n / 3);
		assert_int_equal(ju(v, "node"), n % 3);
		assert_string_equal(jstrval(v, "state"), busy || n != 0 ? want[n].state : "idle");
		if (want[n].pid != 0)
			assert_int_equal(ju(v, "pid"), want[n].pid);
		else
			assert_true(jis(v, "pid", J_NULL));
		if (busy) {
			assert_int_equal(ju(v, "task"), 3);
			assert_true(jis(v, "task_running_s", J_NUM));
		} else {
			assert_true(jis(v, "task", J_NULL));
			assert_true(jis(v, "task_running_s", J_NULL));
		}
		assert_int_equal(ju(v, "completed"), want[n].done + (n == 0 && !busy));
		assert_int_equal(ju(v, "failures"), want[n].fail);
		assert_int_equal(ju(v, "restarts"), want[n].restart);
		assert_true(jis(v, "heartbeat_age_s", J_NUM));
	}
}

static void
test_binary_json(void **state)
{
	struct dcf_seg sg;
	struct out r;
	struct jv *d;

	(void)state;
	new_state(&sg, "json");
	run(&r, "--name", sg.hdr->name, "--json");
	assert_exit(&r, 0);
	d = jparse(r.o);
	if (d == NULL)
		fail_msg("not JSON:\n%s", r.o);
	check_json_known(d, sg.hdr->name, 2, 1);
	jfree(d);
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
	    "assert all(type(v) is int for v in t.values())\n"
	    "assert t[\"pending\"] + t[\"queued\"] + t[\"running\"] + t[\"completed\"]"
	    " + t[\"quarantined\"] == t[\"total\"] == 20\n"
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
	st_name(name, sizeof(name), "none");
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

/* A segment left by a supervisor that died: not a running system. */
static void
test_dead_supervisor(void **state)
{
	char name[DCF_NAME_MAX + 1], want[128], err[DCF_ERRLEN];
	struct dcf_config c;
	struct dcf_seg sg;
	struct out r;
	pid_t pid;

	(void)state;
	small_config(&c);
	st_name(name, sizeof(name), "dead");
	pid = st_fork();
	if (pid == 0) {
		pid_t took;

		if (dcf_seg_create(&sg, name, &c, &took, err, sizeof(err)) == -1)
			_exit(ST_EX_FAIL);
		_exit(ST_EX_OK); /* leaves the segment behind, as a SIGKILL would */
	}
	st_assert_exit(st_waitpid(pid), ST_EX_OK);
	run(&r, "--name", name, "--json");
	assert_exit(&r, 1);
	snprintf(want, sizeof(want), "dcf-status: no dcf system named '%s' is running\n", name);
	assert_string_equal(r.e, want);
	assert_int_equal(r.on, 0);
	out_free(&r);
	/* The image itself is fine; only its supervisor is gone. */
	assert_int_equal(dcf_seg_attach(&sg, name, 1, err, sizeof(err)), 0);
	assert_int_equal(take(&sg, 1, err), 0);
	assert_false(dcf_seg_supervisor_alive(&snap->hdr));
	dcf_seg_detach(&sg);
	st_unlink_ours();
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
		st_name(name, sizeof(name), "plant");
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
	struct jv *d;

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
	d = jparse(r.o);
	assert_non_null(d);
	assert_int_equal(ju(d, "invalid_values"), 3);
	assert_string_equal(jstrval(jat(jget(d, "nodes"), 2), "state"), "invalid");
	assert_true(jis(jat(jget(d, "nodes"), 5), "network", J_NULL));
	assert_true(jis(jat(jget(d, "nodes"), 5), "node", J_NULL));
	assert_true(jis(jat(jget(d, "nodes"), 0), "task", J_NULL));
	jfree(d);
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
	struct jv *d;

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
	d = jparse(r.o);
	assert_non_null(d);
	assert_true(jis(d, "consistent", J_BOOL) && !jget(d, "consistent")->b);
	assert_null(jget(d, "tasks"));
	assert_null(jget(d, "nodes"));
	assert_has(jstrval(d, "error"), "dispatched 12");
	jfree(d);
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
	struct jv *d;
	pid_t pid;

	(void)state;
	new_state(&sg, "kill");
	slot = sg.nodes[0].task_slot;
	id = sg.nodes[0].task_id;
	pid = st_fork();
	if (pid == 0) {
		int wake;

		/* Entry 4 of a completion is the running counter: applied, completed not yet. */
		dcf_inject_arm(DCF_OP_COMPLETE, DCF_STEP_APPLY(4), 1);
		if (dcf_lock(&sg) == -1)
			_exit(ST_EX_NOTREC);
		(void)!dcf_complete_locked(&sg, 0, 1, slot, id, 0, &wake);
		_exit(ST_EX_NOTREACHED);
	}
	st_assert_killed(st_waitpid(pid));
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
	d = jparse(r.o);
	assert_non_null(d);
	check_json_known(d, sg.hdr->name, 3, 0);
	jfree(d);
	out_free(&r);

	/* The repair agrees with what the snapshot showed. */
	st_lock(&sg);
	st_assert_books(&sg);
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
	struct jv *d;
	int r;

	err[0] = '\0';
	r = dcf_snap_take(snap, img, size, getuid(), 2, err, sizeof(err));
	if (r == 0) {
		assert_true(snap->consistent && snap->hdr_ok);
		assert_int_equal(snap->pending + snap->queued + snap->running + snap->completed +
		        snap->quarantined,
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
	d = jparse(buf);
	if (d == NULL)
		fail_msg("invalid JSON from a fuzzed image:\n%s", buf);
	assert_int_equal(jget(d, "consistent")->b, r == 0);
	if (r == 0) {
		const struct jv *t = jget(d, "tasks");

		assert_int_equal(ju(t, "pending") + ju(t, "queued") + ju(t, "running") +
		        ju(t, "completed") + ju(t, "quarantined"),
		    ju(t, "total"));
	}
	jfree(d);
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
	unsigned nflips = st_valgrind() ? 2 : 3, docs = 0;
	unsigned char *img[2];
	struct dcf_seg sg;
	pid_t pid;

	(void)state;
	new_state(&sg, "fuzz");
	img[0] = image_of(&sg);
	pid = st_fork();
	if (pid == 0) {
		int wake;

		dcf_inject_arm(DCF_OP_COMPLETE, DCF_STEP_APPLY(4), 1);
		if (dcf_lock(&sg) == -1)
			_exit(ST_EX_NOTREC);
		(void)!dcf_complete_locked(&sg, 0, 1, sg.nodes[0].task_slot, sg.nodes[0].task_id, 0,
		    &wake);
		_exit(ST_EX_NOTREACHED);
	}
	st_assert_killed(st_waitpid(pid));
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
	unsigned rounds = st_valgrind() ? 1500 : 20000, docs = 0;
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
	struct jv *d;

	(void)state;
	new_state(&sg, "esc");
	img = image_of(&sg);
	memcpy(((struct dcf_hdr *)(void *)img)->name, nasty, sizeof(nasty));
	assert_int_equal(dcf_snap_take(snap, img, sg.size, getuid(), 1, err, sizeof(err)), 0);
	buf = render(1, &o);
	d = jparse(buf);
	assert_non_null(d);
	assert_string_equal(jstrval(d, "name"), "a\"b\\c\x01\x1b[31m\xff");
	jfree(d);
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
	st_seg_create(&sg, "grid", &c);
	st_lock(&sg);
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
	struct jv *d;
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
		d = jparse_next(&p);
		if (d == NULL)
			fail_msg("document %d is not JSON:\n%s", n, r.o);
		check_json_known(d, sg.hdr->name, 2, 1);
		assert_true(jget(d, "rate_since_start")->b == (n == 0));
		jfree(d);
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
	drain(&r, outfd, errfd, "\n}\n");
	dead = st_fork();
	if (dead == 0)
		_exit(0);
	st_waitpid(dead);
	sg.hdr->sup_pid = dead;
	drain(&r, outfd, errfd, NULL);
	close(outfd);
	close(errfd);
	r.st = st_waitpid(pid);
	assert_exit(&r, 1);
	snprintf(want, sizeof(want), "dcf-status: no dcf system named '%s' is running\n",
	    sg.hdr->name);
	assert_string_equal(r.e, want);
	out_free(&r);
	dcf_seg_destroy(&sg);
}

/* Start dcf-status --watch on a new pseudo-terminal; the master in *master. */
static pid_t
spawn_tty(const char *name, const char *env, int *master, struct termios *before)
{
	struct winsize ws = {.ws_row = 40, .ws_col = 100};
	char path[64];
	int slave;
	pid_t pid;

	/* By hand rather than openpty(3), whose TIOCGPTPEER valgrind does not know. */
	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(*master >= 0);
	assert_int_equal(grantpt(*master), 0);
	assert_int_equal(unlockpt(*master), 0);
	assert_int_equal(ptsname_r(*master, path, sizeof(path)), 0);
	slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(slave >= 0);
	assert_int_equal(ioctl(slave, TIOCSWINSZ, &ws), 0);
	assert_int_equal(tcgetattr(slave, before), 0);
	pid = st_fork();
	if (pid == 0) {
		setsid();
		if (ioctl(slave, TIOCSCTTY, 0) == -1)
			_exit(126);
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		close(slave);
		close(*master);
		unsetenv("NO_COLOR");
		if (env != NULL)
			putenv((char *)env);
		execl(STATUS, STATUS, "--name", name, "--watch", "0.1", (char *)NULL);
		_exit(127);
	}
	close(slave);
	return pid;
}

/* Read the terminal until `until` shows up (NULL: until it closes). */
static void
tty_read(int master, char **buf, size_t *len, const char *until)
{
	uint64_t deadline = st_deadline(20000);

	for (;;) {
		struct pollfd p = {master, POLLIN, 0};
		struct timespec ts;

		if (until != NULL && *buf != NULL && strstr(*buf, until) != NULL)
			return;
		if (!st_time_left(deadline, &ts))
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
	st_assert_exit(st_waitpid(pid), 0);
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
	drain(&r, outfd, errfd, "\n}\n"); /* mapped, and one frame copied */
	assert_int_equal(ftruncate(sg.fd, 0), 0);
	drain(&r, outfd, errfd, NULL);
	close(outfd);
	close(errfd);
	r.st = st_waitpid(pid);
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
	st_assert_exit(st_waitpid(pid), 1);
	assert_int_equal(tcgetattr(master, &after), 0);
	assert_int_equal(after.c_lflag, before.c_lflag);
	assert_memory_equal(after.c_cc, before.c_cc, sizeof(before.c_cc));
	assert_non_null(strstr(buf, TTY_BYE));
	assert_non_null(strstr(strstr(buf, TTY_BYE), "its segment was truncated under us"));
	free(buf);
	close(master);
	dcf_seg_destroy(&sg);
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
	st_main_pid = getpid();
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
	st_unlink_ours();
	return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, st_setup, st_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_json_parser),
	    T(test_snapshot_known_state),
	    T(test_binary_text),
	    T(test_binary_json),
	    T(test_binary_json_python),
	    T(test_no_system),
	    T(test_dead_supervisor),
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
	    T(test_usage),
	};

	return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
