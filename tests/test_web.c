/*
 * test_web.c - dcf-web through the real programs: a dcf-supervisor --serve,
 * dcf-web in front of it, and clients over HTTP on loopback: raw sockets
 * for the protocol's edges, promtool for /metrics, and headless Chromium
 * (tests/cdp.c, the DevTools protocol over a pipe) for the page itself.
 *
 * Over HTTP: unknown paths 404, wrong methods 405, bodies, oversized and
 * malformed requests refused; 100 Server-Sent Events clients each get
 * frames; a client that never finishes its request (slowloris) holds
 * nobody up; control refused without the token, and checked as dcf-ctl
 * checks it with; the segment's bytes and the store's unchanged by a run of
 * requests against a frozen system. In the browser: 150 node cells, a
 * SIGKILLed worker's cell down within 2 s and back after its restart, the
 * counts the page shows equal to dcf-status --json's; a screenshot in
 * build/dcf-web.png; and 4,096 nodes all drawn.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "testutil.h"
#include "../tools/runlib.h"
#include "cdp.h"
#include "dcf/seg.h"

struct wfix {
	char dir[64];
	char store[160];
	char name[40];
	char sup_bin[PATH_MAX], web_bin[PATH_MAX], sta_bin[PATH_MAX], sub_bin[PATH_MAX];
	pid_t sup, web;
	int log_fd, web_fd;
	char log[65536];
	size_t log_len;
	char web_line[512];
	uint16_t port;
};

static int
setup(void **state)
{
	struct wfix *f = calloc(1, sizeof(*f));
	char p[160];

	tu_setup(state);
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/dcf-web-XXXXXX");
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
	tu_name(f->name, sizeof(f->name), "web");
	if (realpath("./dcf-supervisor", f->sup_bin) == NULL ||
	    realpath("./dcf-web", f->web_bin) == NULL ||
	    realpath("./dcf-status", f->sta_bin) == NULL ||
	    realpath("./dcf-submit", f->sub_bin) == NULL) {
		tu_rm_tree(f->dir);
		free(f);
		return -1;
	}
	f->log_fd = f->web_fd = -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct wfix *f = *state;
	int r;

	if (f != NULL && f->log_fd >= 0)
		close(f->log_fd);
	if (f != NULL && f->web_fd >= 0)
		close(f->web_fd);
	r = tu_teardown(state);
	if (f != NULL) {
		tu_rm_tree(f->dir);
		free(f);
	}
	return r;
}

/* Read fd into buf (NUL-terminated) until it holds what: 0; -1 if it ended first. */
static int
read_until(int fd, char *buf, size_t cap, size_t *len, const char *what, double secs)
{
	uint64_t deadline = tu_deadline((uint64_t)(secs * 1000));

	while (*len == 0 || strstr(buf, what) == NULL) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (dcf_now_ns() > deadline)
			fail_msg("no \"%s\" in: %s", what, buf);
		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(fd, buf + *len, cap - 1 - *len);
		if (n <= 0)
			return -1;
		*len += (size_t)n;
		buf[*len] = '\0';
	}
	return 0;
}

/*
 * Start fixed then extra (an argv each, NULL-terminated), its fd `into` (1
 * or 2) to a pipe; with 2, its standard output to /dev/null. *pid, and the
 * pipe's read end.
 */
static int
spawn(const char *const *fixed, const char *const *extra, int into, pid_t *pid)
{
	const char *argv[32];
	int n = 0, p[2];

	for (int i = 0; fixed[i] != NULL; i++)
		argv[n++] = fixed[i];
	for (int i = 0; extra != NULL && extra[i] != NULL; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	*pid = tu_fork();
	if (*pid == 0) {
		dup2(p[1], into);
		if (into == 2)
			dup2(open("/dev/null", O_WRONLY), 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	return p[0];
}

/* dcf-supervisor --serve NAME with extra options, until it serves. */
static void
sup_start(struct wfix *f, const char *const *extra)
{
	const char *argv[] = {f->sup_bin, "--serve", "--name", f->name, "--store", f->store, NULL};

	f->log_fd = spawn(argv, extra, 2, &f->sup);
	f->log_len = 0;
	if (read_until(f->log_fd, f->log, sizeof(f->log), &f->log_len, "serving '", 30) == -1)
		fail_msg("the supervisor ended before it served: %s", f->log);
}

/* dcf-web --name NAME --listen 127.0.0.1:0 extra...: its port, from the line it prints. */
static void
web_start(struct wfix *f, const char *const *extra)
{
	const char *argv[] = {f->web_bin, "--name", f->name, "--listen", "127.0.0.1:0", "--store",
	    f->store, NULL};
	char buf[512];
	size_t len = 0;
	const char *at;

	f->web_fd = spawn(argv, extra, 1, &f->web);
	buf[0] = '\0';
	if (read_until(f->web_fd, buf, sizeof(buf), &len, "\n", 30) == -1)
		fail_msg("dcf-web ended before it served: %s", buf);
	snprintf(f->web_line, sizeof(f->web_line), "%s", buf);
	at = strstr(buf, "http://127.0.0.1:");
	assert_non_null(at);
	f->port = (uint16_t)atoi(at + strlen("http://127.0.0.1:"));
	assert_true(f->port > 0);
}

/* Stop dcf-web by its pid: it must end by itself, with status 0. */
static void
web_stop(struct wfix *f)
{
	int st;

	kill(f->web, SIGTERM);
	st = tu_waitpid_within(f->web, 30);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	f->web = 0;
}

static void
sup_stop(struct wfix *f)
{
	kill(f->sup, SIGTERM);
	(void)tu_waitpid_within(f->sup, 60);
	f->sup = 0;
}

static int
conn_to(struct wfix *f)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(f->port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		assert_true(k > 0);
		p += k;
		n -= (size_t)k;
	}
}

/*
 * One request (raw bytes), the answer read until the server closes (we ask
 * it to): its status code, the whole answer in *resp (malloc'd).
 */
static int
http_raw(struct wfix *f, const char *req, size_t reqlen, char **resp)
{
	size_t cap = 1 << 16, len = 0;
	uint64_t deadline = tu_deadline(20000);
	char *b = malloc(cap);
	int fd = conn_to(f), code = 0;

	assert_non_null(b);
	send_all(fd, req, reqlen);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (dcf_now_ns() > deadline)
			fail_msg("no end to the answer to: %.80s", req);
		if (poll(&p, 1, 200) <= 0)
			continue;
		if (len + 4096 > cap) {
			char *nb = realloc(b, cap * 2);

			assert_non_null(nb);
			b = nb;
			cap *= 2;
		}
		n = recv(fd, b + len, cap - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	b[len] = '\0';
	close(fd);
	if (sscanf(b, "HTTP/1.%*d %d", &code) != 1)
		code = 0;
	*resp = b;
	return code;
}

static int
http(struct wfix *f, const char *method, const char *path, const char *headers, char **resp)
{
	char req[2048];
	int n = snprintf(req, sizeof(req),
	    "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n", method, path,
	    headers != NULL ? headers : "");

	return http_raw(f, req, (size_t)n, resp);
}

/* One request whose answer's status must be code (the answer is not kept). */
static void
expect(struct wfix *f, const char *method, const char *path, const char *headers, int code)
{
	char *r;

	assert_int_equal(http(f, method, path, headers, &r), code);
	free(r);
}

/* The body of an answer. */
static const char *
body(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");

	assert_non_null(b);
	return b + 4;
}

/* dcf-status --json of the system: parsed. */
static struct run_jv *
status_json(struct wfix *f)
{
	char out[PATH_MAX], cmd[PATH_MAX * 3];
	struct run_jv *v;
	char *text;
	int st;

	snprintf(out, sizeof(out), "%s/status.json", f->dir);
	snprintf(cmd, sizeof(cmd), "%s --name %s --json > %s", f->sta_bin, f->name, out);
	st = system(cmd);
	assert_int_equal(st, 0);
	text = tu_slurp(out);
	v = run_json_parse(text);
	assert_non_null(v);
	free(text);
	return v;
}

static uint64_t
jnum(const struct run_jv *o, const char *path)
{
	char key[64];
	const char *dot;

	while ((dot = strchr(path, '.')) != NULL) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = run_json_get(o, key);
		assert_non_null(o);
		path = dot + 1;
	}
	o = run_json_get(o, path);
	assert_non_null(o);
	assert_true(o->is_uint);
	return o->u;
}

/* Headless Chromium on dcf-web's page, rest after its "/" (as "#token=..."). */
static struct cdp *
page_open(struct wfix *f, const char *rest)
{
	char url[192], err[512];
	struct cdp *c = cdp_open(NULL, 1400, 1000, err, sizeof(err));

	if (c == NULL)
		fail_msg("%s", err);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/%s", f->port, rest);
	if (cdp_navigate(c, url, 30000, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	return c;
}

/* A token file of f's dir, for --token-file: its path in path. */
static void
token_file(struct wfix *f, char *path, size_t len)
{
	FILE *t;

	snprintf(path, len, "%s/token", f->dir);
	t = fopen(path, "w");
	assert_non_null(t);
	fputs("0123456789abcdef0123\n", t);
	fclose(t);
}

/* Is network i paused, by dcf-status --json? */
static int
net_paused(struct wfix *f, size_t i)
{
	struct run_jv *v = status_json(f);
	int paused = run_json_get(run_json_at(run_json_get(v, "networks"), i), "paused")->b;

	run_json_free(v);
	return paused;
}

/* ---- over HTTP ---------------------------------------------------------- */

static void
test_http(void **state)
{
	struct wfix *f = *state;
	char *r, big[40000], path[PATH_MAX], cmd[PATH_MAX * 2];
	struct run_jv *mine, *theirs;
	int code;

	sup_start(f, (const char *const[]){"--networks", "2", "-N", "3", NULL});
	web_start(f, NULL);

	/* The page and its files, with the policy that keeps other sites' scripts out. */
	code = http(f, "GET", "/", NULL, &r);
	assert_int_equal(code, 200);
	assert_non_null(strstr(r, "<html"));
	assert_non_null(strstr(r, "Content-Security-Policy: default-src 'self'"));
	free(r);
	assert_int_equal(http(f, "GET", "/app.js", NULL, &r), 200);
	assert_non_null(strstr(r, "text/javascript"));
	free(r);
	expect(f, "HEAD", "/app.css", NULL, 200);

	/* Unknown paths, wrong methods, bodies, oversized and malformed requests. */
	expect(f, "GET", "/nope", NULL, 404);
	expect(f, "GET", "/api/task/x/stdout", NULL, 404);
	assert_int_equal(http(f, "DELETE", "/api/status", NULL, &r), 405);
	assert_non_null(strstr(r, "Allow: GET, HEAD"));
	free(r);
	expect(f, "POST", "/", NULL, 405);
	expect(f, "GET", "/api/ctl/pause", NULL, 405);
	expect(f, "POST", "/api/status", "Content-Length: 5\r\n", 413);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(path, sizeof(path), "X-Big: %.2000s\r\n", big);
	{
		char req[sizeof(big) + 256];
		int n = snprintf(req, sizeof(req),
		    "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: %s\r\nConnection: "
		    "close\r\n\r\n",
		    big);

		code = http_raw(f, req, (size_t)n, &r);
		assert_true(code >= 400 && code < 500);
		free(r);
	}
	/* Addressed to a name (DNS rebinding): refused; to localhost, answered. */
	{
		static const char ev[] = "GET /api/status HTTP/1.1\r\nHost: evil.example:8080\r\n"
		                         "Connection: close\r\n\r\n";
		static const char lo[] = "GET /api/config HTTP/1.1\r\nHost: localhost:8080\r\n"
		                         "Connection: close\r\n\r\n";

		assert_int_equal(http_raw(f, ev, sizeof(ev) - 1, &r), 421);
		free(r);
		assert_int_equal(http_raw(f, lo, sizeof(lo) - 1, &r), 200);
		free(r);
	}
	code = http_raw(f, "BLAH\r\n\r\n", 8, &r);
	assert_true(code == 400 || code == 0);
	free(r);
	{
		static const char v9[] = "GET / HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n";

		code = http_raw(f, v9, sizeof(v9) - 1, &r);
	}
	assert_true(code >= 400 && code < 600);
	free(r);

	/* /api/status is dcf-status --json's document. */
	assert_int_equal(http(f, "GET", "/api/status", NULL, &r), 200);
	mine = run_json_parse(body(r));
	assert_non_null(mine);
	free(r);
	theirs = status_json(f);
	assert_string_equal(run_json_get(mine, "name")->s, f->name);
	assert_int_equal(jnum(mine, "config.nets"), jnum(theirs, "config.nets"));
	assert_int_equal(run_json_get(mine, "nodes")->n, 6);
	assert_int_equal(jnum(mine, "supervisor_pid"), (uint64_t)f->sup);
	run_json_free(mine);
	run_json_free(theirs);

	/* /metrics passes promtool's check. */
	assert_int_equal(http(f, "GET", "/metrics", NULL, &r), 200);
	assert_non_null(strstr(r, "dcf_up 1"));
	assert_non_null(strstr(r, "dcf_nodes{network=\"1\",state=\"idle\"}"));
	assert_non_null(strstr(r, "dcf_task_run_seconds_bucket{le=\"+Inf\"}"));
	snprintf(path, sizeof(path), "%s/metrics.txt", f->dir);
	{
		FILE *m = fopen(path, "w");

		assert_non_null(m);
		fputs(body(r), m);
		fclose(m);
	}
	free(r);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	assert_int_equal(system(cmd), 0);

	/* Tasks from the store, and their output. */
	{
		char sub[PATH_MAX * 2];

		snprintf(sub, sizeof(sub),
		    "%s --name %s --wait -- sh -c 'echo hello-web' > /dev/null", f->sub_bin,
		    f->name);
		assert_int_equal(system(sub), 0);
	}
	assert_int_equal(http(f, "GET", "/api/tasks", NULL, &r), 200);
	mine = run_json_parse(body(r));
	assert_non_null(mine);
	assert_int_equal(run_json_get(mine, "tasks")->n, 1);
	assert_string_equal(run_json_get(run_json_at(run_json_get(mine, "tasks"), 0), "state")->s,
	    "done");
	run_json_free(mine);
	free(r);
	/* Newest first, a page at a time. */
	{
		char sub[PATH_MAX * 2];

		snprintf(sub, sizeof(sub), "%s --name %s --wait -- true > /dev/null", f->sub_bin,
		    f->name);
		assert_int_equal(system(sub), 0);
		assert_int_equal(system(sub), 0);
	}
	assert_int_equal(http(f, "GET", "/api/tasks?limit=2", NULL, &r), 200);
	mine = run_json_parse(body(r));
	assert_non_null(mine);
	assert_int_equal(run_json_get(mine, "tasks")->n, 2);
	assert_int_equal(jnum(run_json_at(run_json_get(mine, "tasks"), 0), "id"), 3);
	assert_int_equal(jnum(run_json_at(run_json_get(mine, "tasks"), 1), "id"), 2);
	assert_int_equal(jnum(mine, "next_before"), 2);
	run_json_free(mine);
	free(r);
	assert_int_equal(http(f, "GET", "/api/tasks?limit=2&before=2", NULL, &r), 200);
	mine = run_json_parse(body(r));
	assert_non_null(mine);
	assert_int_equal(run_json_get(mine, "tasks")->n, 1);
	assert_int_equal(jnum(run_json_at(run_json_get(mine, "tasks"), 0), "id"), 1);
	assert_int_equal(run_json_get(mine, "next_before")->t, RJ_NULL);
	run_json_free(mine);
	free(r);
	expect(f, "GET", "/api/tasks?state=bogus", NULL, 400);
	assert_int_equal(http(f, "GET", "/api/task/1/stdout", NULL, &r), 200);
	assert_string_equal(body(r), "hello-web\n");
	free(r);
	expect(f, "GET", "/api/task/99/stdout", NULL, 404);
	/* One host: its store (a file) is nobody else's. */
	assert_int_equal(http(f, "GET", "/api/hosts", NULL, &r), 200);
	mine = run_json_parse(body(r));
	assert_non_null(mine);
	assert_int_equal(run_json_get(mine, "shared")->t, RJ_BOOL);
	assert_int_equal(run_json_get(mine, "shared")->b, 0);
	assert_int_equal(run_json_get(mine, "hosts")->n, 0);
	run_json_free(mine);
	free(r);

	/* Control is off: refused, token or not. */
	expect(f, "POST", "/api/ctl/pause", "X-DCF-Token: x\r\n", 403);
	web_stop(f);
	sup_stop(f);
}

/* Read an SSE stream until it has had `frames` status frames: 0, or -1 if it closed. */
static int
sse_frames(int fd, char *buf, size_t cap, size_t *len, int frames)
{
	uint64_t deadline = tu_deadline(30000);

	for (;;) {
		int got = 0;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		for (const char *s = buf; (s = strstr(s, "event: status\n")) != NULL; s++)
			got++;
		if (got >= frames)
			return 0;
		if (dcf_now_ns() > deadline)
			fail_msg("%d of %d frames in 30 s", got, frames);
		if (poll(&p, 1, 200) <= 0)
			continue;
		if (*len + 1 >= cap) {
			/* Keep the tail: a frame may straddle. */
			memmove(buf, buf + cap / 2, *len - cap / 2);
			*len -= cap / 2;
			buf[*len] = '\0';
		}
		n = recv(fd, buf + *len, cap - 1 - *len, 0);
		if (n <= 0)
			return -1;
		*len += (size_t)n;
		buf[*len] = '\0';
	}
}

static void
test_sse_and_slowloris(void **state)
{
	enum { N = 100 };
	struct wfix *f = *state;
	static char bufs[N][8192];
	size_t lens[N];
	int fds[N], slow;
	const char *req =
	    "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";

	sup_start(f, (const char *const[]){"--networks", "2", "-N", "2", NULL});
	web_start(f, NULL);
	/* A slowloris first: its request never ends; nobody must wait for it. */
	slow = conn_to(f);
	send_all(slow, "GET / HTTP/1.1\r\nHo", 18);
	for (int i = 0; i < N; i++) {
		fds[i] = conn_to(f);
		send_all(fds[i], req, strlen(req));
		lens[i] = 0;
		bufs[i][0] = '\0';
	}
	/* Every client: the headers, a frame, then another (the ticker serves them all). */
	for (int i = 0; i < N; i++) {
		assert_int_equal(sse_frames(fds[i], bufs[i], sizeof(bufs[i]), &lens[i], 1), 0);
		assert_non_null(strstr(bufs[i], "text/event-stream"));
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(sse_frames(fds[i], bufs[i], sizeof(bufs[i]), &lens[i], 2), 0);
	/* The slowloris goes on, a byte at a time; requests are answered meanwhile. */
	for (int k = 0; k < 5; k++) {
		send_all(slow, "s", 1);
		expect(f, "GET", "/api/status", NULL, 200);
	}
	for (int i = 0; i < N; i++)
		close(fds[i]);
	close(slow);
	/* Closed clients are let go: the server still answers, and stops cleanly. */
	expect(f, "GET", "/metrics", NULL, 200);
	web_stop(f);
	sup_stop(f);
}

/* ---- control ------------------------------------------------------------ */

static void
test_control(void **state)
{
	struct wfix *f = *state;
	char tok[PATH_MAX], *r;
	struct run_jv *v;

	sup_start(f, (const char *const[]){"--networks", "2", "-N", "2", "--max-nodes", "4", NULL});
	token_file(f, tok, sizeof(tok));
	web_start(f, (const char *const[]){"--control", "--token-file", tok, NULL});
	assert_non_null(strstr(f->web_line, "#token=0123456789abcdef0123"));

	/* No token, a wrong one, a GET: refused, nothing changed. */
	expect(f, "POST", "/api/ctl/pause?network=0", NULL, 403);
	assert_int_equal(http(f, "POST", "/api/ctl/pause?network=0",
	                     "X-DCF-Token: 0123456789abcdef0124\r\n", &r),
	    403);
	free(r);
	expect(f, "POST", "/api/ctl/pause?network=0", "X-DCF-Token: 0123\r\n", 403);
	assert_false(net_paused(f, 0));

	/* Checked as dcf-ctl checks: a bad count, an unknown action, a network it lacks. */
	assert_int_equal(http(f, "POST", "/api/ctl/scale?network=0&nodes=x",
	                     "X-DCF-Token: 0123456789abcdef0123\r\n", &r),
	    400);
	assert_non_null(strstr(r, "\"ok\": false"));
	free(r);
	expect(f, "POST", "/api/ctl/drain", "X-DCF-Token: 0123456789abcdef0123\r\n", 404);
	assert_int_equal(http(f, "POST", "/api/ctl/pause?network=7",
	                     "X-DCF-Token: 0123456789abcdef0123\r\n", &r),
	    409);
	free(r);
	assert_int_equal(http(f, "POST", "/api/ctl/scale?network=0&nodes=9",
	                     "X-DCF-Token: 0123456789abcdef0123\r\n", &r),
	    409);
	free(r);
	assert_false(net_paused(f, 0));
	v = status_json(f);
	assert_int_equal(jnum(run_json_at(run_json_get(v, "networks"), 0), "nodes_alive"), 2);
	run_json_free(v);

	/* With the token: done, as dcf-ctl would have. */
	assert_int_equal(http(f, "POST", "/api/ctl/pause?network=0",
	                     "X-DCF-Token: 0123456789abcdef0123\r\n", &r),
	    200);
	assert_non_null(strstr(r, "\"ok\": true"));
	free(r);
	assert_true(net_paused(f, 0));
	assert_false(net_paused(f, 1));
	assert_int_equal(http(f, "POST", "/api/ctl/resume?network=0",
	                     "X-DCF-Token: 0123456789abcdef0123\r\n", &r),
	    200);
	free(r);

	/*
	 * A stopped supervisor never answers: its request waits (then says so),
	 * and holds nobody else up meanwhile.
	 */
	{
		static const char req[] =
		    "POST /api/ctl/pause?network=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    "X-DCF-Token: 0123456789abcdef0123\r\nConnection: close\r\n\r\n";
		char ans[4096];
		size_t len = 0;
		int fd;

		assert_int_equal(kill(f->sup, SIGSTOP), 0);
		assert_int_equal(run_wait_state(f->sup, 'T', 10), 1);
		fd = conn_to(f);
		send_all(fd, req, sizeof(req) - 1);
		for (int i = 0; i < 3; i++) {
			expect(f, "GET", "/api/status", NULL, 200);
		}
		ans[0] = '\0';
		assert_int_equal(read_until(fd, ans, sizeof(ans), &len, "\"ok\": false", 30), 0);
		assert_non_null(strstr(ans, "HTTP/1.1 502"));
		assert_non_null(strstr(ans, "may or may not have done it"));
		close(fd);
		assert_int_equal(kill(f->sup, SIGCONT), 0);
	}
	web_stop(f);
	sup_stop(f);
}

/* ---- read-only ---------------------------------------------------------- */

/* A file's bytes (malloc'd), and how many. */
static char *
file_bytes(const char *path, size_t *len)
{
	struct stat st;
	char *b;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	b = malloc((size_t)st.st_size + 1);
	assert_non_null(b);
	assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

static void
test_read_only(void **state)
{
	struct wfix *f = *state;
	char *before, *after, *wbefore, *wafter, wal[200];
	size_t blen, alen, wblen, walen;
	struct tu_img im = {0};
	struct dcf_seg sg;
	char err[DCF_ERRLEN];
	size_t len = 0;
	static char sse[16384];
	int fd;

	sup_start(f, (const char *const[]){"--networks", "2", "-N", "2", NULL});
	{
		char sub[PATH_MAX * 2];

		snprintf(sub, sizeof(sub), "%s --name %s --wait -- true > /dev/null", f->sub_bin,
		    f->name);
		assert_int_equal(system(sub), 0);
	}
	/* The system frozen: its workers sleep on their futex words, the supervisor is stopped. */
	assert_int_equal(kill(f->sup, SIGSTOP), 0);
	assert_int_equal(run_wait_state(f->sup, 'T', 10), 1);
	assert_int_equal(dcf_seg_attach(&sg, f->name, 1, err, sizeof(err)), 0);
	tu_img_take(&im, &sg);
	/* The store's file and its log (its -shm index is SQLite's, which readers mark). */
	before = file_bytes(f->store, &blen);
	snprintf(wal, sizeof(wal), "%s-wal", f->store);
	wbefore = file_bytes(wal, &wblen);

	web_start(f, NULL);
	for (int i = 0; i < 5; i++) {
		expect(f, "GET", "/api/status", NULL, 200);
		expect(f, "GET", "/metrics", NULL, 200);
		expect(f, "GET", "/api/tasks", NULL, 200);
	}
	fd = conn_to(f);
	{
		static const char ev[] = "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

		send_all(fd, ev, sizeof(ev) - 1);
	}
	assert_int_equal(sse_frames(fd, sse, sizeof(sse), &len, 2), 0);
	close(fd);
	web_stop(f);

	assert_true(tu_img_same_bytes(&sg, &im));
	after = file_bytes(f->store, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(before, after, blen);
	wafter = file_bytes(wal, &walen);
	assert_int_equal(walen, wblen);
	assert_memory_equal(wbefore, wafter, wblen);
	free(before);
	free(after);
	free(wbefore);
	free(wafter);
	tu_img_free(&im);
	dcf_seg_detach(&sg);
	assert_int_equal(kill(f->sup, SIGCONT), 0);
	sup_stop(f);
}

/* ---- in the browser ----------------------------------------------------- */

static void
test_browser(void **state)
{
	struct wfix *f = *state;
	struct cdp *c;
	char out[4096], expr[512];
	struct run_jv *v;
	const struct run_jv *node = NULL, *nodes;
	uint64_t pid, net, idx;

	sup_start(f,
	    (const char *const[]){"--networks", "3", "-N", "50", "--downtime", "1500-2000", NULL});
	web_start(f, NULL);
	c = page_open(f, "");

	/* 150 cells once the first frame is applied, every node idle. */
	assert_int_equal(cdp_wait_true(c,
	                     "window.dcfView && window.dcfView.frames > 0 && "
	                     "document.querySelectorAll('.cell[data-state=\"idle\"]').length == "
	                     "150",
	                     20000),
	    1);
	assert_int_equal(cdp_eval(c, "String(document.querySelectorAll('.cell').length)", out,
	                     sizeof(out), 5000),
	    0);
	assert_string_equal(out, "150");

	/* The counts shown are dcf-status --json's (the system is quiet: they hold still). */
	v = status_json(f);
	snprintf(expr, sizeof(expr),
	    "document.getElementById('count-total').textContent == '%llu' && "
	    "document.getElementById('count-completed').textContent == '%llu' && "
	    "document.getElementById('count-queued').textContent == '%llu' && "
	    "document.getElementById('count-running').textContent == '%llu' && "
	    "document.getElementById('recovery-depth').textContent == '%llu'",
	    (unsigned long long)jnum(v, "tasks.total"),
	    (unsigned long long)jnum(v, "tasks.completed"),
	    (unsigned long long)jnum(v, "tasks.queued"),
	    (unsigned long long)jnum(v, "tasks.running"),
	    (unsigned long long)jnum(v, "recovery_queue_depth"));
	assert_int_equal(cdp_wait_true(c, expr, 5000), 1);

	/* A worker SIGKILLed: its cell down within 2 s, then back after its restart. */
	nodes = run_json_get(v, "nodes");
	for (size_t i = 0; i < nodes->n && node == NULL; i++)
		if (jnum(run_json_at(nodes, i), "network") == 1 &&
		    jnum(run_json_at(nodes, i), "node") == 17)
			node = run_json_at(nodes, i);
	assert_non_null(node);
	pid = jnum(node, "pid");
	net = jnum(node, "network");
	idx = jnum(node, "node");
	snprintf(expr, sizeof(expr),
	    "document.querySelector('.cell[data-net=\"%llu\"][data-node=\"%llu\"]').dataset.pid == "
	    "'%llu'",
	    (unsigned long long)net, (unsigned long long)idx, (unsigned long long)pid);
	assert_int_equal(cdp_wait_true(c, expr, 5000), 1);
	assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
	snprintf(expr, sizeof(expr),
	    "['down','starting'].includes(document.querySelector('.cell[data-net=\"%llu\"][data-"
	    "node="
	    "\"%llu\"]').dataset.state)",
	    (unsigned long long)net, (unsigned long long)idx);
	assert_int_equal(cdp_wait_true(c, expr, 2000), 1);
	(void)cdp_screenshot(c, "build/dcf-web-failure.png", 10000);
	snprintf(expr, sizeof(expr),
	    "(function(){var e = "
	    "document.querySelector('.cell[data-net=\"%llu\"][data-node=\"%llu\"]');"
	    " return e.dataset.state == 'idle' && e.dataset.pid != '' && e.dataset.pid != "
	    "'%llu';})()",
	    (unsigned long long)net, (unsigned long long)idx, (unsigned long long)pid);
	assert_int_equal(cdp_wait_true(c, expr, 15000), 1);
	run_json_free(v);

	/* The failure and the recovery, in the events' words. */
	snprintf(expr, sizeof(expr),
	    "document.body.textContent.includes('Network-%llu Node-%llu has failed.') && "
	    "document.body.textContent.includes('Network-%llu Node-%llu has recovered.')",
	    (unsigned long long)net, (unsigned long long)idx, (unsigned long long)net,
	    (unsigned long long)idx);
	assert_int_equal(cdp_wait_true(c, expr, 5000), 1);
	assert_int_equal(cdp_screenshot(c, "build/dcf-web.png", 10000), 0);
	/* The Hosts tab: one host, its store a file. */
	assert_int_equal(cdp_eval(c, "document.querySelector('[data-tab=hosts]').click(), 'ok'",
	                     expr, sizeof(expr), 5000),
	    0);
	assert_int_equal(cdp_wait_true(c,
	                     "!document.getElementById('tab-hosts').hidden && "
	                     "!document.getElementById('host-msg').hidden && "
	                     "document.getElementById('host-msg').textContent.includes('One host') "
	                     "&& document.getElementById('host-rows').children.length === 0",
	                     5000),
	    1);
	cdp_close(c);
	web_stop(f);
	sup_stop(f);
}

/*
 * Control from the page: opened with the token in its address (as dcf-web
 * prints it), its Pause button pauses the network (the button then reads
 * Resume, from the frames); opened without it, the same click changes
 * nothing and asks for the token.
 */
static void
test_browser_control(void **state)
{
	struct wfix *f = *state;
	char tok[PATH_MAX], err[512];
	static const char shown0[] =
	    "window.dcfView.frames > 0 && "
	    "document.querySelector('.net-ctl button') && "
	    "document.querySelector('.net-ctl button').offsetParent !== null";
	static const char click0[] =
	    "(function(){var b = document.querySelector('.net-ctl button'); b.click(); "
	    "return b.textContent;})()";
	struct cdp *b;

	sup_start(f, (const char *const[]){"--networks", "2", "-N", "2", NULL});
	token_file(f, tok, sizeof(tok));
	web_start(f, (const char *const[]){"--control", "--token-file", tok, NULL});

	/* Without the token: refused in the page, nothing changed. */
	b = page_open(f, "");
	assert_int_equal(cdp_wait_true(b, shown0, 20000), 1);
	assert_int_equal(cdp_eval(b, click0, err, sizeof(err), 5000), 0);
	assert_int_equal(cdp_wait_true(b,
	                     "!document.getElementById('token-form').hidden && "
	                     "document.getElementById('flash').textContent.includes('token')",
	                     5000),
	    1);
	cdp_close(b);
	assert_false(net_paused(f, 0));

	/* With it: paused, and the page says so. */
	b = page_open(f, "#token=0123456789abcdef0123");
	assert_int_equal(cdp_wait_true(b, shown0, 20000), 1);
	/* The token left the address bar. */
	assert_int_equal(cdp_wait_true(b, "!location.hash.includes('token')", 5000), 1);
	assert_int_equal(cdp_eval(b, click0, err, sizeof(err), 5000), 0);
	assert_string_equal(err, "Pause");
	assert_int_equal(cdp_wait_true(b,
	                     "document.querySelector('.net-ctl button').textContent == 'Resume'",
	                     10000),
	    1);
	cdp_close(b);
	assert_true(net_paused(f, 0));
	assert_false(net_paused(f, 1));
	web_stop(f);
	sup_stop(f);
}

/*
 * 4,096 nodes must still render: a segment of 16 networks of 256 nodes made
 * here (the books' own calls, no process forked for a node), every node up,
 * shown by dcf-web as any system; every cell on the page, idle.
 */
static void
test_browser_4096(void **state)
{
	struct wfix *f = *state;
	struct dcf_config c;
	struct dcf_seg sg;
	struct cdp *b;
	char out[64];

	tu_config(&c);
	c.nets = 16;
	c.nodes_per_net = 256;
	c.max_nodes = 4096;
	tu_seg_create(&sg, "big", &c);
	tu_lock(&sg);
	for (uint32_t n = 0; n < c.max_nodes; n++)
		tu_node_up_locked(&sg, n, 1, 0);
	dcf_unlock(&sg);
	snprintf(f->name, sizeof(f->name), "%.39s", sg.shm_name + strlen("/dcf-"));
	web_start(f, NULL);
	b = page_open(f, "");
	assert_int_equal(cdp_wait_true(b,
	                     "window.dcfView && window.dcfView.frames > 1 && "
	                     "document.querySelectorAll('.cell[data-state=\"idle\"]').length == "
	                     "4096",
	                     60000),
	    1);
	assert_int_equal(cdp_eval(b,
	                     "String(document.querySelectorAll('.cell[data-net=\"15\"][data-node="
	                     "\"255\"]').length)",
	                     out, sizeof(out), 5000),
	    0);
	assert_string_equal(out, "1");
	assert_int_equal(cdp_screenshot(b, "build/dcf-web-4096.png", 20000), 0);
	cdp_close(b);
	web_stop(f);
	dcf_seg_detach(&sg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_http, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sse_and_slowloris, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_control, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_browser, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_browser_control, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_browser_4096, setup, teardown),
	};

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	if (getenv("DCF_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("DCF_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
