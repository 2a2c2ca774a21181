/* runlib.c - start, feed, reap and audit a real supervisor run. */
#include <errno.h>
#include <limits.h>
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
	const char *p = log, *log_end;

	memset(b, 0, sizeof(*b));
	if (done == NULL) {
		b->wrong = tasks;
		return;
	}
	if (p == NULL)
		p = "";
	/* memmem, not strstr: the sanitizers' strstr strlen()s the whole rest of
	 * the log on every call, which made this quadratic. */
	log_end = p + strlen(p);
	while ((p = memmem(p, (size_t)(log_end - p), " - Task-", 8)) != NULL) {
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

/* needle in [p, eol): a search that never reads past the line (strstr would
 * scan the whole rest of the log, quadratic under the sanitizers). */
static const char *
in_line(const char *p, const char *eol, const char *needle)
{
	return p < eol ? memmem(p, (size_t)(eol - p), needle, strlen(needle)) : NULL;
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
		const char *eol = strchr(line, '\n');
		const char *p;
		unsigned long long id = 0;
		uint32_t net, idx;
		struct order_ent *e;
		char *end;
		int kind = 0; /* 1 start, 2 completion (or run and not reported), 3 failure */

		if (eol == NULL)
			eol = line + strlen(line);
		if ((p = in_line(line, eol, " - ")) == NULL ||
		    (p = in_line(p + 3, eol, " - ")) == NULL)
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
			else if (strncmp(end, " ran on ", 8) == 0)
				kind = 2,
				p = end + 8; /* a batch's task run, not reported, died with it */
		} else if (parse_node(p, &net, &idx) == 0) {
			if (in_line(p, eol, " has failed.") != NULL ||
			    in_line(p, eol, " stopped with its task unfinished") != NULL)
				kind = 3; /* the run ended without completing: failed, or stopped */
		}
		if (kind == 0 || (kind != 3 && parse_node(p, &net, &idx) == -1))
			continue;
		e = order_find(t, net, idx);
		if (kind == 1 && e->loose)
			e->open = 0;
		e->loose = 0;
		if ((kind == 1 && e->open != 0) || (kind == 2 && e->open != id + 1)) {
			if (bad++ == 0 && first != NULL)
				snprintf(first, len, "%.*s", (int)(eol - line), line);
		}
		e->open = kind == 1 ? id + 1 : 0;
	}
	free(t);
	return bad;
}

int
run_count(const char *log, const char *what)
{
	const char *end = log != NULL ? log + strlen(log) : NULL;
	size_t wl = strlen(what);
	int k = 0;

	for (const char *p = log; p != NULL && (p = memmem(p, (size_t)(end - p), what, wl)) != NULL;
	     p++)
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

/* --- the tests' one JSON reader: strict, into a tree -------------------- */

#define JSON_MAX_DEPTH 64

struct jp {
	const char *p;
	int depth;
};

void
run_json_free(struct run_jv *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		if (v->k != NULL)
			free(v->k[i]);
		run_json_free(v->v[i]);
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

/* One escape after the backslash at jp->p: the byte it stands for, or -1. */
static int
jescape(struct jp *jp)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e = *jp->p != '\0' ? strchr(from, *jp->p) : NULL;
	unsigned code;

	if (e != NULL) {
		jp->p++;
		return (unsigned char)to[e - from];
	}
	if (*jp->p++ != 'u' || jhex(jp->p, &code) == -1 || code == 0)
		return -1;
	jp->p += 4;
	return code < 0x100 ? (int)code : '?'; /* \u00XX is byte XX: what dcf writes */
}

/* A string at jp->p ('"'), malloc'd. NULL if malformed or out of memory. */
static char *
jstr(struct jp *jp)
{
	size_t cap = 16, n = 0;
	char *s = malloc(cap);

	if (s == NULL)
		return NULL;
	jp->p++;
	for (;;) {
		int c = (unsigned char)*jp->p++;

		if (c == '"')
			break;
		if (c < 0x20 || c >= 0x80) /* NUL too: the text ended */
			goto bad;
		if (c == '\\' && (c = jescape(jp)) == -1)
			goto bad;
		if (n + 2 > cap) {
			char *bigger = realloc(s, cap * 2);

			if (bigger == NULL)
				goto bad;
			s = bigger;
			cap *= 2;
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
jnum(struct jp *jp, struct run_jv *v)
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

static struct run_jv *jvalue(struct jp *jp);

static int
jadd(struct run_jv *v, char *key, struct run_jv *item)
{
	struct run_jv **vs = realloc(v->v, (v->n + 1) * sizeof(struct run_jv *));
	char **ks;

	if (vs == NULL)
		return -1;
	v->v = vs;
	if (v->t == RJ_OBJ) {
		ks = realloc(v->k, (v->n + 1) * sizeof(*v->k));
		if (ks == NULL)
			return -1;
		v->k = ks;
		v->k[v->n] = key;
	}
	v->v[v->n++] = item;
	return 0;
}

/* The members of an object or the items of an array, jp->p past the opener. */
static int
jmembers(struct jp *jp, struct run_jv *v, char close)
{
	jws(jp);
	if (*jp->p == close) {
		jp->p++;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		struct run_jv *item;

		jws(jp);
		if (v->t == RJ_OBJ) {
			if (*jp->p != '"' || (key = jstr(jp)) == NULL)
				return -1;
			jws(jp);
			if (*jp->p++ != ':') {
				free(key);
				return -1;
			}
		}
		item = jvalue(jp);
		if (item == NULL || jadd(v, key, item) == -1) {
			free(key);
			run_json_free(item);
			return -1;
		}
		jws(jp);
		if (*jp->p == ',') {
			jp->p++;
			continue;
		}
		return *jp->p++ == close ? 0 : -1;
	}
}

/* true, false or null at jp->p. */
static int
jword(struct jp *jp, struct run_jv *v)
{
	static const struct {
		const char *w;
		enum run_jt t;
		int b;
	} words[] = {{"true", RJ_BOOL, 1}, {"false", RJ_BOOL, 0}, {"null", RJ_NULL, 0}};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strncmp(jp->p, words[i].w, strlen(words[i].w)) == 0) {
			jp->p += strlen(words[i].w);
			v->t = words[i].t;
			v->b = words[i].b;
			return 0;
		}
	return -1;
}

static struct run_jv *
jvalue(struct jp *jp)
{
	struct run_jv *v = calloc(1, sizeof(*v));
	int ok = -1;

	if (v == NULL)
		return NULL;
	jws(jp);
	if (++jp->depth > JSON_MAX_DEPTH)
		goto out;
	switch (*jp->p) {
	case '{':
	case '[':
		v->t = *jp->p == '{' ? RJ_OBJ : RJ_ARR;
		jp->p++;
		ok = jmembers(jp, v, v->t == RJ_OBJ ? '}' : ']');
		break;
	case '"':
		v->t = RJ_STR;
		ok = (v->s = jstr(jp)) != NULL ? 0 : -1;
		break;
	case 't':
	case 'f':
	case 'n':
		ok = jword(jp, v);
		break;
	default:
		v->t = RJ_NUM;
		ok = jnum(jp, v);
		break;
	}
out:
	jp->depth--;
	if (ok == -1) {
		run_json_free(v);
		return NULL;
	}
	return v;
}

struct run_jv *
run_json_next(const char **text)
{
	struct jp jp = {*text, 0};
	struct run_jv *v = jvalue(&jp);

	if (v != NULL) {
		jws(&jp);
		*text = jp.p;
	}
	return v;
}

struct run_jv *
run_json_parse(const char *text)
{
	struct run_jv *v = run_json_next(&text);

	if (v != NULL && *text != '\0') {
		run_json_free(v);
		return NULL;
	}
	return v;
}

const struct run_jv *
run_json_get(const struct run_jv *o, const char *key)
{
	if (o == NULL || o->t != RJ_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->k[i], key) == 0)
			return o->v[i];
	return NULL;
}

const struct run_jv *
run_json_at(const struct run_jv *a, size_t i)
{
	return a != NULL && a->t == RJ_ARR && i < a->n ? a->v[i] : NULL;
}

int
run_json_valid(const char *s)
{
	struct run_jv *v = run_json_parse(s);

	run_json_free(v);
	return v != NULL;
}

long long
run_json_num(const char *s, const char *key)
{
	char pat[80];
	const char *p;
	struct run_jv *v;
	long long n = -1;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(s, pat);
	if (p == NULL)
		return -1;
	p += strlen(pat);
	v = run_json_next(&p);
	if (v != NULL && v->t == RJ_NUM && v->is_uint && v->u <= (uint64_t)LLONG_MAX)
		n = (long long)v->u;
	run_json_free(v);
	return n;
}
