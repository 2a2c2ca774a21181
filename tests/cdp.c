/*
 * cdp.c - headless Chromium driven over --remote-debugging-pipe (cdp.h).
 *
 * One socketpair end is Chromium's fd 3 and fd 4; the other is ours.
 * Requests are {"id":N,"method":...,"params":{...},"sessionId":...} and a
 * NUL; what comes back is read into one growable buffer and split on NULs.
 * Replies are matched by id; events are only looked at for the page load
 * (and a crash). The JSON needed is read by a small bounded scanner.
 *
 * Processes: test -> keeper (forked, never execs: a child subreaper) ->
 * chromium (its own process group) -> zygotes, renderers, gpu, crashpad.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <resolv.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cdp.h"

#define CDP_CHROMIUM "/usr/bin/chromium"
#ifndef CDP_OPEN_MS
#define CDP_OPEN_MS 30000 /* start, create the page, attach */
#endif
#define CDP_CLOSE_MS 5000         /* Browser.close until the process is gone */
#define CDP_KILL_MS  2000         /* a SIGKILL until what it killed is reaped */
#define CDP_WAIT_PAD 5000         /* cdp_wait_true: the reply's slack past its timeout */
#define CDP_BUF_MIN  (64u << 10)  /* first size of the read buffer */
#define CDP_BUF_MAX  (256u << 20) /* the largest message taken (a screenshot is a few MB) */
#define CDP_ERRLEN   512
#define CDP_SIDLEN   128

extern char **environ;

struct cdp {
	pid_t keeper; /* our child, the browser's parent and reaper (see keeper()) */
	pid_t pid;    /* the browser, leader of its own process group */
	int kfd;      /* at EOF once the keeper has exited */
	int fd;       /* our end of the pipe */
	int eof;      /* the browser closed the pipe */
	int crashed;  /* the page's renderer crashed */
	int reaped;   /* the keeper was waited for; status is its wait status */
	int status;
	unsigned id;                /* the last request's id */
	unsigned loads;             /* Page.loadEventFired seen since the last navigate */
	char *buf;                  /* what came from the browser; [off, len) not yet taken */
	size_t off, scan, len, cap; /* no NUL in [off, scan) */
	char sid[CDP_SIDLEN];       /* the page's session */
	char dir[PATH_MAX];         /* temp dir: profile, HOME and TMPDIR */
	char err[CDP_ERRLEN];
};

/* A growable string, for requests; oom is sticky and checked once at the end. */
struct sb {
	char *p;
	size_t len, cap;
	int oom;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The deadline timeout_ms from now (a negative timeout is none at all). */
static int64_t
deadline_in(int timeout_ms)
{
	return now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
}

/* Milliseconds left until deadline, as poll takes them: 0 once it has passed. */
static int
left_ms(int64_t deadline)
{
	int64_t d = deadline - now_ms();

	if (d <= 0)
		return 0;
	return d > INT_MAX ? INT_MAX : (int)d;
}

/* Formats a message into buf (len bytes, may be 0). */
static void __attribute__((format(printf, 3, 4))) fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, f);
	vsnprintf(buf, len, f, ap);
	va_end(ap);
}

/* Sets c->err; -1, for `return cerr(...)`. */
static int __attribute__((format(printf, 2, 3))) cerr(struct cdp *c, const char *f, ...)
{
	char tmp[CDP_ERRLEN]; /* f's arguments may point into c->err */
	va_list ap;

	va_start(ap, f);
	vsnprintf(tmp, sizeof tmp, f, ap);
	va_end(ap);
	memcpy(c->err, tmp, sizeof tmp);
	return -1;
}

/* Appends n bytes of s. */
static void
sb_add(struct sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (b->len + n + 1 > cap)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Appends the C string s. */
static void
sb_str(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* Appends s as a quoted JSON string: quotes, backslashes and control bytes escaped, UTF-8 as is. */
static void
sb_jstr(struct sb *b, const char *s)
{
	const unsigned char *p;
	char esc[8];

	sb_add(b, "\"", 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		const char *r = NULL;

		switch (*p) {
		case '"':
			r = "\\\"";
			break;
		case '\\':
			r = "\\\\";
			break;
		case '\n':
			r = "\\n";
			break;
		case '\r':
			r = "\\r";
			break;
		case '\t':
			r = "\\t";
			break;
		case '\b':
			r = "\\b";
			break;
		case '\f':
			r = "\\f";
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(esc, sizeof esc, "\\u%04x", *p);
				r = esc;
			}
		}
		if (r != NULL)
			sb_str(b, r);
		else
			sb_add(b, (const char *)p, 1);
	}
	sb_add(b, "\"", 1);
}

/* Appends the decimal n. */
static void
sb_int(struct sb *b, long n)
{
	char num[32];

	snprintf(num, sizeof num, "%ld", n);
	sb_str(b, num);
}

/*
 * JSON, read only as far as CDP's replies need it. Every function takes the
 * end of the text (e) and never reads at or past it.
 */

/* Skips white space. */
static const char *
js_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p at a '"': returns the end of the string (past its closing quote), or NULL. */
static const char *
js_skip_str(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '"')
			return p + 1;
		if (*p == '\\' && ++p == e)
			return NULL;
	}
	return NULL;
}

/* Returns the end of the value at p, or NULL if it is cut or malformed. */
static const char *
js_skip(const char *p, const char *e)
{
	int depth = 0;

	if (p >= e)
		return NULL;
	if (*p == '"')
		return js_skip_str(p, e);
	if (*p != '{' && *p != '[') { /* number, true, false, null */
		const char *q = p;

		while (q < e && strchr(",:}] \t\r\n\"{[", *q) == NULL)
			q++;
		return q > p ? q : NULL;
	}
	while (p < e) {
		switch (*p) {
		case '"':
			if ((p = js_skip_str(p, e)) == NULL)
				return NULL;
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (--depth == 0)
				return p + 1;
			break;
		default:
			break;
		}
		p++;
	}
	return NULL;
}

/*
 * In the object at obj, finds the member named key (plain ASCII, as CDP's
 * names are); returns its value and sets *vend past it, or NULL.
 */
static const char *
js_get(const char *obj, const char *e, const char *key, const char **vend)
{
	size_t klen = strlen(key);
	const char *p = js_ws(obj, e);

	if (p >= e || *p != '{')
		return NULL;
	p = js_ws(p + 1, e);
	while (p < e && *p == '"') {
		const char *k = p + 1, *ke = js_skip_str(p, e), *v, *ve;

		if (ke == NULL)
			return NULL;
		p = js_ws(ke, e);
		if (p >= e || *p != ':')
			return NULL;
		v = js_ws(p + 1, e);
		if ((ve = js_skip(v, e)) == NULL)
			return NULL;
		if ((size_t)(ke - 1 - k) == klen && memcmp(k, key, klen) == 0) {
			*vend = ve;
			return v;
		}
		p = js_ws(ve, e);
		if (p >= e || *p != ',')
			return NULL;
		p = js_ws(p + 1, e);
	}
	return NULL;
}

/* Follows a dotted path of member names ("result.result.value") from obj; as js_get. */
static const char *
js_path(const char *obj, const char *e, const char *path, const char **vend)
{
	char key[64];
	const char *v = obj, *ve = e;

	while (v != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");

		if (n >= sizeof key)
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		v = js_get(v, ve, key, &ve);
		path += n + (path[n] == '.');
	}
	if (v != NULL)
		*vend = ve;
	return v;
}

/* Whether the value [v, ve) is the string s, written without escapes. */
static int
js_is(const char *v, const char *ve, const char *s)
{
	size_t n = strlen(s);

	return v != NULL && (size_t)(ve - v) == n + 2 && *v == '"' && memcmp(v + 1, s, n) == 0;
}

/* Reads 4 hex digits at p (before e) into *cp. 0 ok, -1. */
static int
hex4(const char *p, const char *e, uint32_t *cp)
{
	int i;

	*cp = 0;
	if (e - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		char ch = p[i];
		uint32_t d;

		if (ch >= '0' && ch <= '9')
			d = (uint32_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (uint32_t)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (uint32_t)(ch - 'A' + 10);
		else
			return -1;
		*cp = *cp << 4 | d;
	}
	return 0;
}

/* Puts cp as UTF-8 at out + *n if it fits with a NUL after it. 0 ok, -1 no room. */
static int
put_utf8(char *out, size_t outlen, size_t *n, uint32_t cp)
{
	unsigned char u[4];
	size_t k;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		k = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		k = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		k = 4;
	}
	if (*n + k >= outlen)
		return -1;
	memcpy(out + *n, u, k);
	*n += k;
	return 0;
}

/*
 * Copies the string value [v, ve) into out, unescaped, \uXXXX (and
 * surrogate pairs) as UTF-8, NUL-terminated; cut where it does not fit,
 * never inside a character. 0 ok, -1 if it is not a well-formed string.
 * (A \u0000 in it cuts the C string short.)
 */
static int
js_unescape(const char *v, const char *ve, char *out, size_t outlen)
{
	const char *p, *end;
	size_t n = 0;

	if (outlen == 0 || ve - v < 2 || *v != '"' || ve[-1] != '"')
		return -1;
	for (p = v + 1, end = ve - 1; p < end;) {
		uint32_t cp, lo;

		if (*p != '\\') { /* a raw character: copy it whole or stop */
			unsigned char b = (unsigned char)*p;
			size_t k = b < 0xc0 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;

			if ((size_t)(end - p) < k)
				k = (size_t)(end - p);
			if (n + k >= outlen)
				break;
			memcpy(out + n, p, k);
			n += k;
			p += k;
			continue;
		}
		if (++p == end)
			return -1;
		switch (*p++) {
		case '"':
			cp = '"';
			break;
		case '\\':
			cp = '\\';
			break;
		case '/':
			cp = '/';
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			if (hex4(p, end, &cp) < 0)
				return -1;
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
				    hex4(p + 2, end, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					p += 6;
				} else {
					cp = 0xfffd; /* a lone high surrogate */
				}
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				cp = 0xfffd; /* a lone low surrogate */
			}
			break;
		default:
			return -1;
		}
		if (put_utf8(out, outlen, &n, cp) < 0)
			break;
	}
	out[n] = '\0';
	return 0;
}

/* The top-level "id" of message [m, e) into *id. 0, or -1 if it has none (an event). */
static int
msg_id(const char *m, const char *e, unsigned long *id)
{
	const char *v, *ve;

	if ((v = js_get(m, e, "id", &ve)) == NULL || v == ve)
		return -1;
	for (*id = 0; v < ve; v++) {
		if (*v < '0' || *v > '9' || *id > ULONG_MAX / 10 - 10)
			return -1;
		*id = *id * 10 + (unsigned long)(*v - '0');
	}
	return 0;
}

/* Looks at an event: counts the page's load events, notes a crash of its renderer. */
static void
on_event(struct cdp *c, const char *m, const char *e)
{
	const char *v, *ve, *s, *se;

	if ((v = js_get(m, e, "method", &ve)) == NULL)
		return;
	s = js_get(m, e, "sessionId", &se);
	if (s == NULL || !js_is(s, se, c->sid))
		return;
	if (js_is(v, ve, "Page.loadEventFired"))
		c->loads++;
	else if (js_is(v, ve, "Inspector.targetCrashed"))
		c->crashed = 1;
}

/* Writes all of p to the browser before deadline. 0, or -1 with c->err. */
static int
send_all(struct cdp *c, const char *p, size_t len, int64_t deadline)
{
	while (len > 0) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EPIPE) {
			c->eof = 1;
			return cerr(c, "chromium closed the pipe (it exited?)");
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return cerr(c, "writing to chromium: %s", strerror(errno));
		if (left_ms(deadline) == 0)
			return cerr(c, "timed out writing to chromium");
		if (poll(&pfd, 1, left_ms(deadline)) < 0 && errno != EINTR)
			return cerr(c, "poll: %s", strerror(errno));
	}
	return 0;
}

/*
 * The next whole message from the browser, NUL-terminated in c->buf (valid
 * until the next call): *m and its length *mlen. 0, or -1 with c->err on
 * timeout, a closed pipe or an error.
 */
static int
next_msg(struct cdp *c, int64_t deadline, const char **m, size_t *mlen)
{
	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		const char *z = NULL;
		ssize_t n;
		int r;

		if (c->scan < c->len)
			z = memchr(c->buf + c->scan, '\0', c->len - c->scan);
		if (z != NULL) {
			*m = c->buf + c->off;
			*mlen = (size_t)(z - *m);
			c->off = c->scan = (size_t)(z - c->buf) + 1;
			return 0;
		}
		c->scan = c->len;
		if (c->eof)
			return cerr(c, "chromium closed the pipe (it exited?)");
		if (c->off > 0) { /* nothing whole is left: keep the part read */
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->len -= c->off;
			c->scan = c->len;
			c->off = 0;
		}
		if (c->len == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : CDP_BUF_MIN;
			char *nb;

			if (cap > CDP_BUF_MAX)
				return cerr(c, "a message from chromium is over %u MiB",
				    CDP_BUF_MAX >> 20);
			if ((nb = realloc(c->buf, cap)) == NULL)
				return cerr(c, "out of memory for a %zu-byte message", cap);
			c->buf = nb;
			c->cap = cap;
		}
		if ((r = poll(&pfd, 1, left_ms(deadline))) < 0) {
			if (errno == EINTR)
				continue;
			return cerr(c, "poll: %s", strerror(errno));
		}
		if (r == 0)
			return cerr(c, "timed out");
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
		if (n > 0)
			c->len += (size_t)n;
		else if (n == 0 || errno == ECONNRESET)
			c->eof = 1;
		else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return cerr(c, "reading from chromium: %s", strerror(errno));
	}
}

/*
 * Calls method with params (a JSON object, NULL for {}), on the page's
 * session if sess, and waits for its reply until deadline, looking at the
 * events met on the way. 0 with the reply's "result" object in [*res,
 * *rend) (valid until the next read); -1 with c->err ("Method: why").
 */
static int
call(struct cdp *c, const char *method, const char *params, int sess, int64_t deadline,
    const char **res, const char **rend)
{
	struct sb rq = {0};
	const char *m = NULL, *e, *v, *ve;
	unsigned long got;
	size_t n = 0;
	char why[CDP_ERRLEN];
	int r;

	if (c->eof)
		return cerr(c, "%s: chromium closed the pipe (it exited?)", method);
	sb_str(&rq, "{\"id\":");
	sb_int(&rq, (long)++c->id);
	sb_str(&rq, ",\"method\":\"");
	sb_str(&rq, method);
	sb_str(&rq, "\",\"params\":");
	sb_str(&rq, params != NULL ? params : "{}");
	if (sess) {
		sb_str(&rq, ",\"sessionId\":");
		sb_jstr(&rq, c->sid);
	}
	sb_str(&rq, "}");
	if (rq.oom) {
		free(rq.p);
		return cerr(c, "%s: out of memory", method);
	}
	r = send_all(c, rq.p, rq.len + 1, deadline); /* with its NUL */
	free(rq.p);
	for (;;) {
		if (r < 0 || next_msg(c, deadline, &m, &n) < 0) {
			memcpy(why, c->err, sizeof why);
			return cerr(c, "%s: %s", method, why);
		}
		e = m + n;
		if (msg_id(m, e, &got) < 0)
			on_event(c, m, e);
		else if (got == c->id)
			break; /* other ids: replies to calls that timed out */
		if (sess && c->crashed)
			return cerr(c, "%s: the page crashed", method);
	}
	if (js_get(m, e, "error", &ve) != NULL) {
		if ((v = js_path(m, e, "error.message", &ve)) == NULL ||
		    js_unescape(v, ve, why, sizeof why) < 0)
			fmt(why, sizeof why, "(an error without a message)");
		return cerr(c, "%s: %s", method, why);
	}
	if ((v = js_get(m, e, "result", &ve)) == NULL || *v != '{')
		return cerr(c, "%s: a reply without a result", method);
	*res = v;
	*rend = ve;
	return 0;
}

/* Copies the string member key of [r, re) into out. 0, or -1 with c->err. */
static int
get_str(struct cdp *c, const char *r, const char *re, const char *key, char *out, size_t outlen)
{
	const char *v, *ve;

	if ((v = js_get(r, re, key, &ve)) == NULL || js_unescape(v, ve, out, outlen) < 0)
		return cerr(c, "no string \"%s\" in the reply", key);
	if (strlen(out) + 1 >= outlen)
		return cerr(c, "\"%s\" in the reply is too long", key);
	return 0;
}

/* Makes the temp dir for the profile, HOME and TMPDIR. 0, or -1 with c->err. */
static int
make_dir(struct cdp *c)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp != '/')
		tmp = "/tmp";
	if ((size_t)snprintf(c->dir, sizeof c->dir, "%s/dcf-cdp-XXXXXX", tmp) >= sizeof c->dir)
		return cerr(c, "TMPDIR is too long");
	if (mkdtemp(c->dir) == NULL) {
		int e = errno;

		c->dir[0] = '\0';
		return cerr(c, "mkdtemp under %s: %s", tmp, strerror(e));
	}
	return 0;
}

/* Sets every signal to its default action, none blocked: the test's handlers are not ours. */
static void
default_signals(void)
{
	struct sigaction dfl;
	sigset_t none;
	int s;

	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (s = 1; s < 32; s++) {
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &dfl, NULL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Closes every fd from lo up. */
static void
close_from(int lo)
{
	int fd;

	if (close_range((unsigned)lo, ~0U, 0) != 0) {
		for (fd = lo; fd < 65536; fd++)
			close(fd);
	}
}

/*
 * The browser, forked by the keeper: a process group of its own, SIGKILL
 * when the keeper dies, the pipe on fd 3 (it reads) and fd 4 (it writes),
 * nothing else open above 2; then exec. Async-signal-safe calls only.
 */
static void __attribute__((noreturn))
browser(int fd, pid_t keeper, const char *path, char *const argv[], char *const envp[])
{
	int hi;

	setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != keeper)
		_exit(126); /* the keeper is gone already */
	/* Above 4 first, so that fd being 3 or 4 is no special case. */
	if ((hi = fcntl(fd, F_DUPFD_CLOEXEC, 5)) < 0 || dup2(hi, 3) != 3 || dup2(hi, 4) != 4)
		_exit(126);
	close_from(5);
	execve(path, argv, envp);
	_exit(127);
}

/*
 * The keeper, forked by cdp_open, and the browser's parent. It is a child
 * subreaper: the browser's helpers (zygotes, renderers) that outlive it are
 * reparented here and reaped, not left as zombies of an init that may
 * never reap them. It forks the browser, sends its pid on out and keeps
 * out open (as fd 3) until it exits, so that cdp_close can poll for its
 * end; when it reaps the browser it SIGKILLs what is left of its group,
 * and it exits once it has no child left, with the browser's exit status
 * (128 + the signal if one killed it; 125: fork failed, 126: setup failed).
 * stdin, and stdout and stderr unless debug, are /dev/null for both.
 * Async-signal-safe calls only: the test may have threads.
 */
static void __attribute__((noreturn)) keeper(int fd, int out, pid_t parent, int debug,
    const char *path, char *const argv[], char *const envp[])
{
	pid_t self = getpid(), b, p;
	int nul, st, code = 125;

	default_signals();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent ||
	    prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		_exit(126);
	if ((nul = open("/dev/null", O_RDWR)) < 0 || dup2(nul, 0) != 0)
		_exit(126);
	if (!debug && (dup2(nul, 1) != 1 || dup2(nul, 2) != 2))
		_exit(126);
	if ((b = fork()) == 0)
		browser(fd, self, path, argv, envp);
	if (b < 0)
		_exit(125);
	setpgid(b, b); /* as the browser does: the group exists before either goes on */
	while (write(out, &b, sizeof b) < 0 && errno == EINTR)
		;
	if (dup2(out, 3) != 3)
		_exit(126);
	close_from(4);
	for (;;) {
		if ((p = waitpid(-1, &st, 0)) < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: the browser and all its helpers are gone */
		}
		if (p == b) {
			code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			kill(-b, SIGKILL); /* stragglers: the group is still ours */
		}
	}
	_exit(code);
}

/* Whether the environment entry s sets one of the variables the browser gets from us. */
static int
ours(const char *s)
{
	static const char *const names[] = {"HOME=", "TMPDIR=", "XDG_CONFIG_HOME=",
	    "XDG_CACHE_HOME=", "XDG_DATA_HOME="};
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strncmp(s, names[i], strlen(names[i])) == 0)
			return 1;
	}
	return 0;
}

/* Starts the keeper and through it the browser, on a new socketpair. 0, or -1 with c->err. */
static int
spawn(struct cdp *c, const char *path, int w, int h)
{
	char size[64], udd[PATH_MAX + 32], home[PATH_MAX + 8], tmp[PATH_MAX + 8];
	const char *argv[32];
	char **envp;
	const char *dbg = getenv("DCF_CDP_DEBUG");
	pid_t parent = getpid(), k, b;
	size_t i, n, j = 0;
	ssize_t got;
	int sv[2], pp[2], e;

	snprintf(size, sizeof size, "--window-size=%d,%d", w, h);
	snprintf(udd, sizeof udd, "--user-data-dir=%s/profile", c->dir);
	snprintf(home, sizeof home, "HOME=%s", c->dir);
	snprintf(tmp, sizeof tmp, "TMPDIR=%s", c->dir);
	argv[j++] = path;
	argv[j++] = "--headless=new";
	argv[j++] = "--remote-debugging-pipe";
	argv[j++] = udd;
	argv[j++] = size;
	argv[j++] = "--disable-gpu";
	argv[j++] = "--no-first-run";
	argv[j++] = "--no-default-browser-check";
	argv[j++] = "--disable-background-networking";
	argv[j++] = "--disable-component-update";
	argv[j++] = "--disable-sync";
	argv[j++] = "--metrics-recording-only";
	argv[j++] = "--disable-default-apps";
	argv[j++] = "--disable-extensions";
	argv[j++] = "--disable-breakpad";
	argv[j++] = "--disable-crash-reporter";
	argv[j++] = "--disable-domain-reliability";
	argv[j++] = "--disable-client-side-phishing-detection";
	argv[j++] = "--disable-features=Translate,MediaRouter,OptimizationHints";
	argv[j++] = "--password-store=basic";
	argv[j++] = "--mute-audio";
	if (geteuid() == 0)
		argv[j++] = "--no-sandbox";
	argv[j] = NULL;

	for (n = 0; environ[n] != NULL; n++)
		;
	if ((envp = calloc(n + 3, sizeof *envp)) == NULL)
		return cerr(c, "out of memory");
	for (i = 0, j = 0; i < n; i++) {
		if (!ours(environ[i]))
			envp[j++] = environ[i];
	}
	envp[j++] = home;
	envp[j++] = tmp;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		e = errno;
		free(envp);
		return cerr(c, "socketpair: %s", strerror(e));
	}
	if (pipe2(pp, O_CLOEXEC) != 0) {
		e = errno;
		free(envp);
		close(sv[0]);
		close(sv[1]);
		return cerr(c, "pipe: %s", strerror(e));
	}
	if ((k = fork()) == 0)
		keeper(sv[1], pp[1], parent, dbg != NULL && *dbg != '\0', path, (char *const *)argv,
		    envp);
	e = errno;
	free(envp);
	close(sv[1]);
	close(pp[1]);
	if (k < 0) {
		close(sv[0]);
		close(pp[0]);
		return cerr(c, "fork: %s", strerror(e));
	}
	c->keeper = k;
	c->kfd = pp[0];
	c->fd = sv[0];
	/* The keeper sends the browser's pid at once, or exits (EOF) if it could not fork. */
	while ((got = read(c->kfd, &b, sizeof b)) < 0 && errno == EINTR)
		;
	if (got != (ssize_t)sizeof b || b <= 0)
		return cerr(c, "could not start chromium");
	c->pid = b;
	return 0;
}

/* Opens the page: a new target, attached in flat mode, viewport w x h, Page domain on. 0, or -1. */
static int
attach(struct cdp *c, int w, int h)
{
	int64_t deadline = deadline_in(CDP_OPEN_MS);
	struct sb p = {0};
	char target[CDP_SIDLEN];
	const char *r = NULL, *re = NULL;
	int rc = -1;

	if (call(c, "Target.createTarget", "{\"url\":\"about:blank\"}", 0, deadline, &r, &re) < 0 ||
	    get_str(c, r, re, "targetId", target, sizeof target) < 0)
		return -1;
	sb_str(&p, "{\"targetId\":");
	sb_jstr(&p, target);
	sb_str(&p, ",\"flatten\":true}");
	if (p.oom)
		goto out;
	if (call(c, "Target.attachToTarget", p.p, 0, deadline, &r, &re) < 0 ||
	    get_str(c, r, re, "sessionId", c->sid, sizeof c->sid) < 0)
		goto out;
	/* --window-size is the window's: the page gets less (for the window's frame) unless told. */
	p.len = 0;
	sb_str(&p, "{\"width\":");
	sb_int(&p, w);
	sb_str(&p, ",\"height\":");
	sb_int(&p, h);
	sb_str(&p, ",\"deviceScaleFactor\":1,\"mobile\":false}");
	if (p.oom)
		goto out;
	if (call(c, "Emulation.setDeviceMetricsOverride", p.p, 1, deadline, &r, &re) < 0)
		goto out;
	rc = call(c, "Page.enable", NULL, 1, deadline, &r, &re);
out:
	if (p.oom)
		rc = cerr(c, "out of memory");
	free(p.p);
	return rc;
}

/* Removes one entry, for nftw. */
static int
rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Waits for the keeper to end and reaps it: status in c->status (-1 if it was not ours). */
static void
reap(struct cdp *c)
{
	int st;

	while (waitpid(c->keeper, &st, 0) < 0) {
		if (errno != EINTR) {
			st = -1;
			break;
		}
	}
	c->reaped = 1;
	c->status = st;
}

/*
 * Whether the keeper, so the browser and every helper of it, is gone by
 * deadline (its pipe at EOF); then it is reaped. What the browser writes
 * meanwhile is read and dropped.
 */
static int
gone(struct cdp *c, int64_t deadline)
{
	char junk[4096];

	for (;;) {
		struct pollfd pfd[2] = {{.fd = c->kfd, .events = POLLIN},
		    {.fd = c->fd, .events = POLLIN}};
		nfds_t n = c->fd >= 0 && !c->eof ? 2 : 1;
		ssize_t r;

		if (poll(pfd, n, left_ms(deadline)) < 0 && errno != EINTR)
			return 0;
		if (n == 2 && pfd[1].revents != 0) {
			r = recv(c->fd, junk, sizeof junk, MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno == ECONNRESET))
				c->eof = 1;
		}
		if (pfd[0].revents != 0) {
			r = read(c->kfd, junk, sizeof junk);
			if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
				reap(c);
				return 1;
			}
		}
		if (left_ms(deadline) == 0)
			return 0;
	}
}

/* The process group of process pid, from /proc; -1 if it is gone. */
static pid_t
pgid_of(pid_t pid)
{
	char path[64], line[512], *p, *end;
	ssize_t n;
	long g;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, line, sizeof line - 1);
	close(fd);
	if (n <= 0)
		return -1;
	line[n] = '\0';
	/* pid (comm) state ppid pgrp ...; comm may hold spaces and parens */
	if ((p = strrchr(line, ')')) == NULL || p[1] != ' ' || p[2] == '\0' || p[3] != ' ')
		return -1;
	strtol(p + 4, &end, 10); /* ppid */
	g = strtol(end, &p, 10);
	return p == end || g <= 1 ? -1 : (pid_t)g;
}

/*
 * SIGKILLs the keeper's children and their process groups: the browser's
 * helpers that left its group (crashpad's handler calls setsid) and were
 * reparented to the keeper, with what they started. While the keeper has
 * not reaped a child, its pid and the group it is in are still its, so
 * neither can name another process. Never our own group.
 */
static void
kill_children(const struct cdp *c)
{
	char path[64], list[4096], *p, *end;
	pid_t self = getpgrp(), g;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)c->keeper, (int)c->keeper);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, list, sizeof list - 1);
	close(fd);
	if (n <= 0)
		return;
	list[n] = '\0';
	for (p = list;; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (pid <= 1)
			continue;
		if ((g = pgid_of((pid_t)pid)) > 1 && g != self)
			kill(-g, SIGKILL);
		kill((pid_t)pid, SIGKILL);
	}
}

/*
 * Ends the browser: Browser.close, and its end (the keeper's) awaited
 * CDP_CLOSE_MS. Else SIGKILL to its process group, by the pgid made for it,
 * and to the keeper's other children (see kill_children), awaited
 * CDP_KILL_MS; again to the keeper's children, which the first round may
 * have orphaned; and last to the keeper itself. The keeper reaps them all
 * and exits; then it is reaped here.
 *
 * The group is killed only while the keeper is there, so the pgid is the
 * browser's pid, or names a group that still has members: it can not
 * have been reused.
 */
static void
stop(struct cdp *c)
{
	char rq[64];

	if (c->keeper <= 0 || c->reaped)
		return;
	if (c->pid > 0 && c->fd >= 0 && !c->eof) {
		snprintf(rq, sizeof rq, "{\"id\":%u,\"method\":\"Browser.close\"}", ++c->id);
		(void)send_all(c, rq, strlen(rq) + 1, deadline_in(1000));
	}
	if (gone(c, deadline_in(CDP_CLOSE_MS)))
		return;
	if (c->pid > 0)
		kill(-c->pid, SIGKILL);
	kill_children(c);
	if (gone(c, deadline_in(CDP_KILL_MS)))
		return;
	kill_children(c);
	if (gone(c, deadline_in(CDP_KILL_MS)))
		return;
	kill(c->keeper, SIGKILL);
	reap(c);
}

/* What the keeper's exit status says of the browser, after "; ", into buf. */
static void
describe_exit(const struct cdp *c, char *buf, size_t len)
{
	int code;

	buf[0] = '\0';
	if (!c->reaped || c->status == -1)
		return;
	if (WIFSIGNALED(c->status)) {
		fmt(buf, len, "; its keeper was killed by signal %d", WTERMSIG(c->status));
		return;
	}
	code = WEXITSTATUS(c->status);
	if (code == 125 || code == 126)
		fmt(buf, len, "; could not %s", code == 125 ? "fork" : "set up the child");
	else if (code == 127)
		fmt(buf, len, "; could not exec chromium");
	else if (code > 128)
		fmt(buf, len, "; chromium was killed by signal %d", code - 128);
	else
		fmt(buf, len, "; chromium exited with status %d", code);
}

struct cdp *
cdp_open(const char *chromium, int w, int h, char *err, size_t errlen)
{
	const char *path = chromium;
	struct cdp *c;
	char why[CDP_ERRLEN], how[128] = "";
	int died;

	if (path == NULL && ((path = getenv("DCF_CHROMIUM")) == NULL || *path == '\0'))
		path = CDP_CHROMIUM;
	if ((c = calloc(1, sizeof *c)) == NULL) {
		fmt(err, errlen, "cdp_open: out of memory");
		return NULL;
	}
	c->keeper = -1;
	c->pid = -1;
	c->kfd = -1;
	c->fd = -1;
	if (w <= 0 || h <= 0 || w > 16384 || h > 16384) {
		cerr(c, "bad window size %dx%d", w, h);
		goto fail;
	}
	if (access(path, X_OK) != 0) {
		cerr(c,
		    "no chromium at %s (%s): run tools/install-deps.sh (it installs Debian's "
		    "chromium package) or set DCF_CHROMIUM",
		    path, strerror(errno));
		goto fail;
	}
	if (make_dir(c) < 0 || spawn(c, path, w, h) < 0 || attach(c, w, h) < 0)
		goto fail;
	return c;
fail:
	died = c->eof || c->pid <= 0;
	stop(c);
	memcpy(why, c->err, sizeof why);
	if (died)
		describe_exit(c, how, sizeof how);
	cerr(c, "cdp_open: %s%s%s", why, how,
	    c->keeper > 0 ? " (DCF_CDP_DEBUG=1 shows chromium's output)" : "");
	fmt(err, errlen, "%s", c->err);
	cdp_close(c);
	return NULL;
}

int
cdp_navigate(struct cdp *c, const char *url, int timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = deadline_in(timeout_ms);
	struct sb p = {0};
	const char *r = NULL, *re = NULL, *v, *ve, *m;
	char why[CDP_ERRLEN];
	unsigned long id;
	size_t n;
	int rc;

	if (c == NULL || url == NULL) {
		fmt(err, errlen, "cdp_navigate: no browser or no url");
		return -1;
	}
	sb_str(&p, "{\"url\":");
	sb_jstr(&p, url);
	sb_str(&p, "}");
	if (p.oom) {
		free(p.p);
		rc = cerr(c, "cdp_navigate: out of memory");
		goto out;
	}
	c->loads = 0;
	rc = call(c, "Page.navigate", p.p, 1, deadline, &r, &re);
	free(p.p);
	if (rc < 0)
		goto out;
	if ((v = js_get(r, re, "errorText", &ve)) != NULL) {
		if (js_unescape(v, ve, why, sizeof why) < 0)
			fmt(why, sizeof why, "(no reason given)");
		rc = cerr(c, "navigating to %s: %s", url, why);
		goto out;
	}
	if (js_get(r, re, "loaderId", &ve) == NULL)
		goto out; /* within the document (a #fragment): no load event comes */
	while (c->loads == 0) {
		if (c->crashed) {
			rc = cerr(c, "navigating to %s: the page crashed", url);
			break;
		}
		if (next_msg(c, deadline, &m, &n) < 0) {
			memcpy(why, c->err, sizeof why);
			rc = cerr(c, "waiting for the load event of %s: %s", url, why);
			break;
		}
		if (msg_id(m, m + n, &id) < 0)
			on_event(c, m, m + n);
	}
out:
	if (rc < 0)
		fmt(err, errlen, "%s", c->err);
	return rc;
}

/*
 * Runtime.evaluate of expr, awaited, by value; its string value into out
 * (may be NULL). 0, or -1 with c->err.
 */
static int
evaluate(struct cdp *c, const char *expr, int64_t deadline, char *out, size_t outlen)
{
	struct sb p = {0};
	const char *r = NULL, *re = NULL, *v, *ve;
	char why[CDP_ERRLEN];
	int rc;

	sb_str(&p, "{\"expression\":");
	sb_jstr(&p, expr);
	sb_str(&p, ",\"returnByValue\":true,\"awaitPromise\":true}");
	if (p.oom) {
		free(p.p);
		return cerr(c, "Runtime.evaluate: out of memory");
	}
	rc = call(c, "Runtime.evaluate", p.p, 1, deadline, &r, &re);
	free(p.p);
	if (rc < 0)
		return -1;
	if (js_get(r, re, "exceptionDetails", &ve) != NULL) {
		if (((v = js_path(r, re, "exceptionDetails.exception.description", &ve)) == NULL ||
		        js_unescape(v, ve, why, sizeof why) < 0) &&
		    ((v = js_path(r, re, "exceptionDetails.text", &ve)) == NULL ||
		        js_unescape(v, ve, why, sizeof why) < 0))
			fmt(why, sizeof why, "(no description)");
		return cerr(c, "exception in the page: %s", why);
	}
	if ((v = js_path(r, re, "result.type", &ve)) == NULL)
		return cerr(c, "Runtime.evaluate: a result without a type");
	if (!js_is(v, ve, "string")) {
		if (js_unescape(v, ve, why, sizeof why) < 0)
			fmt(why, sizeof why, "?");
		return cerr(c,
		    "the expression gave a %s, not a string "
		    "(wrap it in String() or JSON.stringify())",
		    why);
	}
	if ((v = js_path(r, re, "result.value", &ve)) == NULL)
		return cerr(c, "Runtime.evaluate: a string result without a value");
	if (out != NULL && outlen > 0 && js_unescape(v, ve, out, outlen) < 0)
		return cerr(c, "Runtime.evaluate: a malformed string in the reply");
	return 0;
}

int
cdp_eval(struct cdp *c, const char *expr, char *out, size_t outlen, int timeout_ms)
{
	if (c == NULL || expr == NULL) {
		fmt(out, outlen, "cdp_eval: no browser or no expression");
		return -1;
	}
	if (evaluate(c, expr, deadline_in(timeout_ms), out, outlen) < 0) {
		fmt(out, outlen, "%s", c->err);
		return -1;
	}
	return 0;
}

int
cdp_wait_true(struct cdp *c, const char *expr, int timeout_ms)
{
	/*
	 * One Promise in the page: expr is tested at once, then on the next
	 * animation frame or 50 ms timer, whichever comes first, until it is
	 * truthy ('1') or timeout_ms has passed ('0'); a last timer makes sure
	 * of the answer even if frames and timers are throttled.
	 */
	static const char head[] = "(function () {\n"
	                           "var T = ";
	static const char body[] = ";\n"
	                           "return new Promise(function (resolve, reject) {\n"
	                           "var t0 = Date.now(), last = false, done = false;\n"
	                           "function test() { return (\n";
	static const char tail[] =
	    "\n); }\n"
	    "function check() {\n"
	    "\tif (done) return;\n"
	    "\tvar v, fired = false;\n"
	    "\ttry { v = test(); } catch (e) { done = true; reject(e); return; }\n"
	    "\tif (v) { done = true; resolve('1'); return; }\n"
	    "\tif (last || Date.now() - t0 >= T) { done = true; resolve('0'); return; }\n"
	    "\tfunction again() { if (!fired) { fired = true; check(); } }\n"
	    "\trequestAnimationFrame(again);\n"
	    "\tsetTimeout(again, 50);\n"
	    "}\n"
	    "setTimeout(function () { last = true; check(); }, T);\n"
	    "check();\n"
	    "});\n"
	    "})()";
	struct sb js = {0};
	char got[8];
	int rc;

	if (c == NULL || expr == NULL)
		return -1;
	if (timeout_ms < 0)
		timeout_ms = 0;
	sb_str(&js, head);
	sb_int(&js, timeout_ms);
	sb_str(&js, body);
	sb_str(&js, expr);
	sb_str(&js, tail);
	if (js.oom) {
		free(js.p);
		return cerr(c, "cdp_wait_true: out of memory");
	}
	rc = evaluate(c, js.p, deadline_in(timeout_ms) + CDP_WAIT_PAD, got, sizeof got);
	free(js.p);
	if (rc < 0)
		return -1;
	if (strcmp(got, "1") == 0)
		return 1;
	if (strcmp(got, "0") == 0)
		return 0;
	return cerr(c, "cdp_wait_true: the page answered '%s'", got);
}

/* Writes len bytes of p to a new file at path (removed again on failure). 0, or -1 with c->err. */
static int
write_file(struct cdp *c, const char *path, const unsigned char *p, size_t len)
{
	int fd, e;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return cerr(c, "%s: %s", path, strerror(errno));
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : EIO;
			close(fd);
			unlink(path);
			return cerr(c, "writing %s: %s", path, strerror(e));
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0) {
		e = errno;
		unlink(path);
		return cerr(c, "writing %s: %s", path, strerror(e));
	}
	return 0;
}

int
cdp_screenshot(struct cdp *c, const char *path, int timeout_ms)
{
	const char *r = NULL, *re = NULL, *v, *ve;
	char *b64 = NULL;
	unsigned char *png = NULL;
	size_t cap;
	int n, rc = -1;

	if (c == NULL || path == NULL)
		return -1;
	if (call(c, "Page.captureScreenshot", "{\"format\":\"png\"}", 1, deadline_in(timeout_ms),
	        &r, &re) < 0)
		return -1;
	if ((v = js_get(r, re, "data", &ve)) == NULL)
		return cerr(c, "Page.captureScreenshot: no data in the reply");
	cap = (size_t)(ve - v); /* unescaped, the text is shorter than its JSON */
	if ((b64 = malloc(cap)) == NULL || (png = malloc(cap / 4 * 3 + 3)) == NULL) {
		rc = cerr(c, "Page.captureScreenshot: out of memory for %zu bytes", cap);
		goto out;
	}
	if (js_unescape(v, ve, b64, cap) < 0) {
		rc = cerr(c, "Page.captureScreenshot: data is not a string");
		goto out;
	}
	if ((n = b64_pton(b64, png, cap / 4 * 3 + 3)) <= 0) {
		rc = cerr(c, "Page.captureScreenshot: data is not base64");
		goto out;
	}
	rc = write_file(c, path, png, (size_t)n);
out:
	free(b64);
	free(png);
	return rc;
}

void
cdp_close(struct cdp *c)
{
	if (c == NULL)
		return;
	stop(c);
	if (c->fd >= 0)
		close(c->fd);
	if (c->kfd >= 0)
		close(c->kfd);
	if (c->dir[0] != '\0' && nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
		fprintf(stderr, "cdp_close: could not remove all of %s: %s\n", c->dir,
		    strerror(errno));
	free(c->buf);
	free(c);
}

pid_t
cdp_pgid(const struct cdp *c)
{
	return c != NULL && c->pid > 0 ? c->pid : -1;
}

const char *
cdp_dir(const struct cdp *c)
{
	return c != NULL ? c->dir : "";
}

const char *
cdp_error(const struct cdp *c)
{
	return c != NULL ? c->err : "no browser";
}
