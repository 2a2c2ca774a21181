/* runlib.c - start, feed, reap and audit a real supervisor run. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dcf/util.h"
#include "runlib.h"

void
run_name(char *buf, size_t len, const char *tag)
{
	static int seq;

	snprintf(buf, len, "t%d-%s%d", (int)getpid(), tag, seq++);
}

int
run_start(struct run *r, const char *bin, const char *const *args, const char *env)
{
	const char *argv[64];
	int p[2], n = 0;

	r->log = NULL;
	r->len = r->cap = 0;
	r->status = 0;
	argv[n++] = bin;
	argv[n++] = "--name";
	argv[n++] = r->name;
	for (int i = 0; args[i] != NULL && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	r->pid = fork();
	if (r->pid == -1)
		return -1;
	if (r->pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(p[1], 2);
		dup2(devnull, 1);
		if (r->own_group)
			setpgid(0, 0);
		if (env != NULL)
			putenv((char *)env);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	if (r->own_group)
		setpgid(r->pid, r->pid); /* whichever side runs first, both ask the same */
	close(p[1]);
	r->out = p[0];
	fcntl(r->out, F_SETPIPE_SZ, 1 << 20); /* room while we are busy elsewhere */
	return 0;
}

int
run_pump(struct run *r, int ms)
{
	struct pollfd pfd = {.fd = r->out, .events = POLLIN};
	char buf[65536];
	ssize_t k;

	if (poll(&pfd, 1, ms) <= 0)
		return 1;
	k = read(r->out, buf, sizeof(buf));
	if (k < 0)
		return errno == EINTR || errno == EAGAIN;
	if (k == 0)
		return 0;
	if (r->len + (size_t)k + 1 > r->cap) {
		size_t cap = (r->len + (size_t)k + 1) * 2;
		char *nl = realloc(r->log, cap);

		if (nl == NULL)
			return 0;
		r->log = nl;
		r->cap = cap;
	}
	memcpy(r->log + r->len, buf, (size_t)k);
	r->len += (size_t)k;
	r->log[r->len] = '\0';
	return 1;
}

int
run_wait_for(struct run *r, const char *what)
{
	while (r->log == NULL || strstr(r->log, what) == NULL)
		if (!run_pump(r, -1))
			return r->log != NULL && strstr(r->log, what) != NULL;
	return 1;
}

int
run_finish(struct run *r)
{
	while (run_pump(r, -1))
		;
	close(r->out);
	r->out = -1;
	while (waitpid(r->pid, &r->status, 0) == -1)
		if (errno != EINTR)
			return -1;
	while (waitpid(-1, NULL, WNOHANG) > 0) /* orphans, when we are a subreaper */
		;
	return 0;
}

void
run_release(struct run *r)
{
	free(r->log);
	r->log = NULL;
	r->len = r->cap = 0;
}

void
run_audit(const char *log, uint64_t tasks, struct run_books *b)
{
	uint8_t *done = calloc(tasks ? tasks : 1, 2);
	const char *p = log;

	memset(b, 0, sizeof(*b));
	if (done == NULL) {
		b->wrong = tasks;
		return;
	}
	if (p == NULL)
		p = "";
	while ((p = strstr(p, " - Task-")) != NULL) {
		unsigned long long id;
		char *end;

		/* Not sscanf: glibc's strlen()s the whole rest of the log on every call. */
		p += 8;
		id = strtoull(p, &end, 10);
		if (end == p || *end != ' ' || id >= tasks)
			continue;
		if (strncmp(end + 1, "completed ", 10) == 0) {
			if (done[2 * id]++)
				b->duplicated++;
			b->completed++;
		} else if (strncmp(end + 1, "quarantined:", 12) == 0) {
			done[2 * id + 1]++;
			b->quarantined++;
		}
	}
	for (uint64_t i = 0; i < tasks; i++)
		if (done[2 * i] + done[2 * i + 1] != 1)
			b->wrong++;
	free(done);
}

/* A node's open run, by (network, node): a small open-addressed table. */
#define ORDER_SLOTS 16384

struct order_ent {
	uint32_t key;  /* (net << 16 | idx) + 1; 0: empty */
	uint64_t open; /* the task it runs, + 1; 0: none */
	int loose;     /* a reset since: that run may have completed or been taken back */
};

static struct order_ent *
order_find(struct order_ent *t, uint32_t net, uint32_t idx)
{
	uint32_t key = ((net << 16) | idx) + 1, h = (key * 2654435761u) % ORDER_SLOTS;

	while (t[h].key != 0 && t[h].key != key)
		h = (h + 1) % ORDER_SLOTS;
	t[h].key = key;
	return &t[h];
}

/* "Network-N Node-M" at p: 0 and the two numbers, or -1. */
static int
parse_node(const char *p, uint32_t *net, uint32_t *idx)
{
	char *end;

	if (strncmp(p, "Network-", 8) != 0)
		return -1;
	*net = (uint32_t)strtoul(p + 8, &end, 10);
	if (strncmp(end, " Node-", 6) != 0)
		return -1;
	*idx = (uint32_t)strtoul(end + 6, &end, 10);
	return 0;
}

int
run_audit_order(const char *log, char *first, size_t len)
{
	struct order_ent *t = calloc(ORDER_SLOTS, sizeof(*t));
	const char *line = log;
	int bad = 0;

	if (t == NULL)
		return -1;
	if (first != NULL && len > 0)
		first[0] = '\0';
	for (; line != NULL && *line != '\0';
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		const char *p = strstr(line, " - ");
		const char *eol = strchr(line, '\n');
		unsigned long long id = 0;
		uint32_t net, idx;
		struct order_ent *e;
		char *end;
		int kind = 0; /* 1 start, 2 completion, 3 failure */

		if (p == NULL || (eol != NULL && p > eol) || (p = strstr(p + 3, " - ")) == NULL ||
		    (eol != NULL && p > eol))
			continue;
		p += 3;
		if (strncmp(p, "books rebuilt", 13) == 0) {
			/* Every worker was killed: its run was done (and completes now) or is taken back. */
			for (size_t i = 0; i < ORDER_SLOTS; i++)
				t[i].loose = t[i].open != 0;
			continue;
		}
		if (strncmp(p, "Task-", 5) == 0) {
			id = strtoull(p + 5, &end, 10);
			if (strncmp(end, " started by ", 12) == 0)
				kind = 1, p = end + 12;
			else if (strncmp(end, " completed by ", 14) == 0)
				kind = 2, p = end + 14;
		} else if (parse_node(p, &net, &idx) == 0) {
			const char *f = strstr(p, " has failed.");

			if (f != NULL && (eol == NULL || f < eol))
				kind = 3;
		}
		if (kind == 0 || (kind != 3 && parse_node(p, &net, &idx) == -1))
			continue;
		e = order_find(t, net, idx);
		if (kind == 1 && e->loose)
			e->open = 0;
		e->loose = 0;
		if ((kind == 1 && e->open != 0) || (kind == 2 && e->open != id + 1)) {
			if (bad++ == 0 && first != NULL)
				snprintf(first, len, "%.*s",
				    eol ? (int)(eol - line) : (int)strlen(line), line);
		}
		e->open = kind == 1 ? id + 1 : 0;
	}
	free(t);
	return bad;
}

int
run_count(const char *log, const char *what)
{
	int k = 0;

	for (const char *p = log; p != NULL && (p = strstr(p, what)) != NULL; p++)
		k++;
	return k;
}

/* State letter and parent of pid from /proc/PID/stat; 0, or -1 if gone. */
static int
proc_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[512], *p;
	size_t n;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command may hold spaces and parentheses: ") S PPID ..." after the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] == '\0' || p[2] == '\0')
		return -1;
	*state = p[2];
	*ppid = (pid_t)strtol(p + 4, NULL, 10);
	return 0;
}

int
run_child_of(pid_t pid, pid_t parent)
{
	pid_t ppid;
	char st;

	return proc_stat(pid, &st, &ppid) == 0 && st != 'Z' && ppid == parent;
}

int
run_wait_state(pid_t pid, char state, double secs)
{
	uint64_t deadline = dcf_now_ns() + (uint64_t)(secs * 1e9);

	while (dcf_now_ns() < deadline) {
		pid_t ppid;
		char st;

		if (proc_stat(pid, &st, &ppid) == -1)
			return 0;
		if (st == state)
			return 1;
		(void)poll(NULL, 0, 1);
	}
	return 0;
}

int
run_reap_all(uint64_t since_ns, double timeout_s, int *reaped)
{
	uint64_t deadline = since_ns + (uint64_t)(timeout_s * 1e9);
	sigset_t chld, old;
	int rc = -1;

	*reaped = 0;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	/* Blocked first, then checked: a death between the two stays pending. */
	sigprocmask(SIG_BLOCK, &chld, &old);
	for (;;) {
		pid_t p = waitpid(-1, NULL, WNOHANG);
		uint64_t now = dcf_now_ns();
		struct timespec ts;

		if (p > 0) {
			(*reaped)++;
			continue;
		}
		if (p == -1 && errno == ECHILD) {
			rc = 0;
			break;
		}
		if (now >= deadline)
			break;
		ts.tv_sec = (time_t)((deadline - now) / DCF_NSEC);
		ts.tv_nsec = (long)((deadline - now) % DCF_NSEC);
		sigtimedwait(&chld, NULL, &ts); /* the next death, or the deadline */
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int
run_shm_exists(const char *name)
{
	char path[96];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm/dcf-%s", name);
	return stat(path, &st) == 0;
}

/* --- a strict, tiny JSON validator ------------------------------------ */

static const char *json_value(const char *s, int depth);

static const char *
ws(const char *s)
{
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	return s;
}

static const char *
json_string(const char *s)
{
	if (*s++ != '"')
		return NULL;
	while (*s != '"') {
		if ((unsigned char)*s < 0x20)
			return NULL;
		if (*s == '\\') {
			s++;
			if (*s == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", s[i]) || s[i] == '\0')
						return NULL;
				s += 4;
			} else if (!strchr("\"\\/bfnrt", *s) || *s == '\0') {
				return NULL;
			}
		}
		s++;
	}
	return s + 1;
}

static const char *
json_number(const char *s)
{
	const char *start;

	if (*s == '-')
		s++;
	start = s;
	if (*s == '0')
		s++;
	else
		while (*s >= '0' && *s <= '9')
			s++;
	if (s == start)
		return NULL;
	if (*s == '.') {
		start = ++s;
		while (*s >= '0' && *s <= '9')
			s++;
		if (s == start)
			return NULL;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		start = s;
		while (*s >= '0' && *s <= '9')
			s++;
		if (s == start)
			return NULL;
	}
	return s;
}

static const char *
json_container(const char *s, int depth, char close, int object)
{
	s = ws(s + 1);
	if (*s == close)
		return s + 1;
	for (;;) {
		if (object) {
			s = json_string(ws(s));
			if (s == NULL)
				return NULL;
			s = ws(s);
			if (*s++ != ':')
				return NULL;
		}
		s = json_value(s, depth + 1);
		if (s == NULL)
			return NULL;
		s = ws(s);
		if (*s == close)
			return s + 1;
		if (*s++ != ',')
			return NULL;
	}
}

static const char *
json_value(const char *s, int depth)
{
	if (depth > 64)
		return NULL;
	s = ws(s);
	switch (*s) {
	case '{':
		return json_container(s, depth, '}', 1);
	case '[':
		return json_container(s, depth, ']', 0);
	case '"':
		return json_string(s);
	case 't':
		return strncmp(s, "true", 4) == 0 ? s + 4 : NULL;
	case 'f':
		return strncmp(s, "false", 5) == 0 ? s + 5 : NULL;
	case 'n':
		return strncmp(s, "null", 4) == 0 ? s + 4 : NULL;
	default:
		return json_number(s);
	}
}

int
run_json_valid(const char *s)
{
	const char *e = json_value(s, 0);

	return e != NULL && *ws(e) == '\0';
}

long long
run_json_num(const char *s, const char *key)
{
	char pat[80];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(s, pat);
	if (p == NULL)
		return -1;
	p = ws(p + strlen(pat));
	if (*p < '0' || *p > '9')
		return -1;
	return strtoll(p, NULL, 10);
}
