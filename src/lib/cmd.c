/* cmd.c - command templates, task payloads, their text, and the line reader. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcf/cmd.h"
#include "dcf/util.h"

/* ---- building payloads --------------------------------------------- */

/*
 * A bounded writer: copies what fits in cap, counts everything, so one pass
 * both fills the buffer and says how big it had to be.
 */
struct out {
	char *p;
	size_t cap, n;
	int over; /* the count passed SIZE_MAX */
};

static void
put(struct out *o, const char *s, size_t len)
{
	if (len == 0 || o->over)
		return;
	if (len > SIZE_MAX - o->n) {
		o->over = 1;
		return;
	}
	if (o->n < o->cap)
		memcpy(o->p + o->n, s, len < o->cap - o->n ? len : o->cap - o->n);
	o->n += len;
}

enum repl { R_NONE, R_LINE, R_NOEXT, R_BASE, R_DIR, R_BASE_NOEXT, R_SEQ };

static const struct {
	const char *tok;
	size_t len;
	enum repl r;
} repls[] = {
    {"{}", 2, R_LINE},
    {"{.}", 3, R_NOEXT},
    {"{/}", 3, R_BASE},
    {"{//}", 4, R_DIR},
    {"{/.}", 4, R_BASE_NOEXT},
    {"{#}", 3, R_SEQ},
};

/* The replacement string at s (s[0] == '{'), and its length in *tlen. */
static enum repl
repl_at(const char *s, size_t *tlen)
{
	/* No token is a prefix of another, so the first match is the only one. */
	for (size_t i = 0; i < sizeof(repls) / sizeof(repls[0]); i++) {
		if (strncmp(s, repls[i].tok, repls[i].len) == 0) {
			*tlen = repls[i].len;
			return repls[i].r;
		}
	}
	return R_NONE;
}

static const char *
last_byte(const char *s, size_t n, int c)
{
	return n > 0 ? memrchr(s, c, n) : NULL;
}

/* Cut s at its last '.', if a '.' follows its last '/' (GNU parallel's {.}). */
static size_t
noext_len(const char *s, size_t n)
{
	const char *dot = last_byte(s, n, '.'), *slash = last_byte(s, n, '/');

	if (dot == NULL || (slash != NULL && slash > dot))
		return n;
	return (size_t)(dot - s);
}

/* POSIX dirname(1), with "//" read as "/" (as GNU dirname and GNU parallel do). */
static void
dir_of(const char *s, size_t n, const char **v, size_t *vlen)
{
	*v = s;
	if (n == 0)
		goto dot;
	while (n > 0 && s[n - 1] == '/')
		n--;
	if (n == 0)
		goto root;
	while (n > 0 && s[n - 1] != '/')
		n--;
	if (n == 0)
		goto dot;
	while (n > 0 && s[n - 1] == '/')
		n--;
	if (n == 0)
		goto root;
	*vlen = n;
	return;
dot:
	*v = ".";
	*vlen = 1;
	return;
root:
	*v = "/";
	*vlen = 1;
}

/* What replacement r stands for, for this line and seq (num: room for a u64). */
static void
repl_value(enum repl r, const char *line, size_t len, uint64_t seq, char num[24], const char **v,
    size_t *vlen)
{
	const char *slash = last_byte(line, len, '/');
	const char *base = slash != NULL ? slash + 1 : line;
	size_t blen = len - (size_t)(base - line);

	switch (r) {
	case R_LINE:
		*v = line;
		*vlen = len;
		break;
	case R_NOEXT:
		*v = line;
		*vlen = noext_len(line, len);
		break;
	case R_BASE:
		*v = base;
		*vlen = blen;
		break;
	case R_BASE_NOEXT:
		*v = base;
		*vlen = noext_len(base, blen);
		break;
	case R_DIR:
		dir_of(line, len, v, vlen);
		break;
	case R_SEQ:
	case R_NONE:
	default:
		*vlen = (size_t)snprintf(num, 24, "%llu", (unsigned long long)seq);
		*v = num;
		break;
	}
}

/* One template argument with its replacement strings replaced, and its NUL. */
static void
put_arg(struct out *o, const char *a, const char *line, size_t len, uint64_t seq)
{
	char num[24];

	for (;;) {
		const char *brace = strchr(a, '{'), *v;
		size_t tlen, vlen;
		enum repl r;

		if (brace == NULL)
			break;
		put(o, a, (size_t)(brace - a));
		r = repl_at(brace, &tlen);
		if (r == R_NONE) {
			put(o, "{", 1);
			a = brace + 1;
			continue;
		}
		repl_value(r, line, len, seq, num, &v, &vlen);
		put(o, v, vlen);
		a = brace + tlen;
	}
	put(o, a, strlen(a) + 1);
}

ssize_t
dcf_cmd_build(const struct dcf_cmd_tmpl *t, const char *line, size_t len, uint64_t seq, char *out,
    size_t cap)
{
	struct out o = {out, cap, 0, 0};

	if (len > 0 && memchr(line, '\0', len) != NULL) {
		errno = EINVAL;
		return -1;
	}
	if (t->shell) {
		put(&o, DCF_CMD_SHELL, sizeof(DCF_CMD_SHELL));
		put(&o, "-c", 3);
		put(&o, line, len);
		put(&o, "", 1);
	} else {
		for (int i = 0; i < t->argc; i++)
			put_arg(&o, t->argv[i], line, len, seq);
		if (t->append) {
			put(&o, line, len);
			put(&o, "", 1);
		}
	}
	if (o.over || o.n > (size_t)SSIZE_MAX) {
		errno = E2BIG;
		return -1;
	}
	return (ssize_t)o.n;
}

/* ---- templates ------------------------------------------------------ */

/*
 * The length of a GNU parallel replacement string dcf does not replace at
 * s (s[0] == '{'), or 0: {%}, {##}, {=perl=}, the positional {N}, {N.},
 * {N/}, {N//}, {N/.}, and the --plus strings. Only these exact forms, so
 * an awk program or a brace expansion passed as it is raises no warning.
 */
static size_t
odd_len(const char *s)
{
	static const char *const plain[] = {"%", "##", "+/", "+.", "+..", "+...", "..", "...",
	    "/..", "/..."};
	static const char *const positional[] = {"", ".", "/", "//", "/."};
	const char *const *list;
	const char *p = s + 1, *close;
	size_t digits, slen, nlist;

	if (*p == '=') {
		const char *e = strstr(p + 1, "=}");

		return e != NULL ? (size_t)(e + 2 - s) : 0;
	}
	digits = strspn(p, "0123456789");
	close = strchr(p + digits, '}');
	if (close == NULL)
		return 0;
	slen = (size_t)(close - (p + digits));
	list = digits > 0 ? positional : plain;
	nlist = digits > 0 ? sizeof(positional) / sizeof(positional[0])
	                   : sizeof(plain) / sizeof(plain[0]);
	for (size_t i = 0; i < nlist; i++)
		if (strlen(list[i]) == slen && strncmp(p + digits, list[i], slen) == 0)
			return (size_t)(close + 1 - s);
	return 0;
}

/* Note what argument i holds: a replacement string (1) or not, and the first odd one. */
static int
scan_arg(struct dcf_cmd_tmpl *t, int i)
{
	const char *a = t->argv[i], *s = a;
	int any = 0;

	while ((s = strchr(s, '{')) != NULL) {
		size_t n;

		if (repl_at(s, &n) != R_NONE) {
			any = 1;
			s += n;
			continue;
		}
		n = odd_len(s);
		if (n > 0 && t->odd_arg == -1) {
			t->odd_arg = i;
			t->odd_at = (size_t)(s - a);
			t->odd_len = n;
		}
		s++;
	}
	return any;
}

int
dcf_cmd_tmpl_init(struct dcf_cmd_tmpl *t, char **argv, int argc, int shell_mode, char *err,
    size_t errlen)
{
	int any = 0;

	memset(t, 0, sizeof(*t));
	t->odd_arg = -1;
	if (shell_mode) {
		if (argc != 0)
			DCF_BAD(EINVAL,
			    "each line of a command file is a command: no command "
			    "may be given with one");
		t->shell = 1;
		return 0;
	}
	if (argc <= 0 || argv == NULL)
		DCF_BAD(EINVAL, "no command to run: give one after --, or a command file");
	for (int i = 0; i < argc; i++)
		if (argv[i] == NULL)
			DCF_BAD(EINVAL, "argument %d of the command is missing", i);
	if (argv[0][0] == '\0')
		DCF_BAD(EINVAL, "the command's name is empty");
	t->argv = argv;
	t->argc = argc;
	for (int i = 0; i < argc; i++)
		any |= scan_arg(t, i);
	t->append = !any;
	return 0;
}

int
dcf_cmd_tmpl_unsupported(const struct dcf_cmd_tmpl *t, char *msg, size_t len)
{
	enum { SHOWN = 40 };
	const char *tok;
	int n;

	if (t->odd_arg < 0)
		return 0;
	tok = t->argv[t->odd_arg] + t->odd_at;
	n = t->odd_len > SHOWN ? SHOWN : (int)t->odd_len;
	snprintf(msg, len,
	    "%.*s%s in word %d of the command is passed as it is: dcf replaces only {}, "
	    "{.}, {/}, {//}, {/.} and {#}",
	    n, tok, t->odd_len > SHOWN ? "..." : "", t->odd_arg + 1);
	return 1;
}

/* ---- decoding ------------------------------------------------------- */

int
dcf_cmd_argv(char *payload, size_t len, char **argv, size_t max)
{
	char *p, *end = payload + len;
	size_t n = 0;

	if (len == 0 || payload[len - 1] != '\0') {
		errno = EINVAL;
		return -1;
	}
	/* Count first, so a payload that does not fit leaves argv untouched. */
	for (p = payload; p < end; p += strlen(p) + 1)
		n++;
	if (max == 0 || n > max - 1 || n > INT_MAX) {
		errno = E2BIG;
		return -1;
	}
	n = 0;
	for (p = payload; p < end; p += strlen(p) + 1)
		argv[n++] = p;
	argv[n] = NULL;
	return (int)n;
}

/* ---- the text ------------------------------------------------------- */

/* The item at *p (up to a NUL or end); *p moves past its NUL. */
static void
next_item(const char **p, const char *end, const char **s, size_t *n)
{
	const char *nul = memchr(*p, '\0', (size_t)(end - *p));

	*s = *p;
	*n = (size_t)((nul != NULL ? nul : end) - *p);
	*p = nul != NULL ? nul + 1 : end;
}

static int
is_reserved(const char *s, size_t n)
{
	/* Words a shell reads as syntax in a command's first place (POSIX, bash, ksh). */
	static const char *const words[] = {"case", "do", "done", "elif", "else", "esac", "fi",
	    "for", "if", "in", "then", "until", "while", "function", "select", "time", "coproc"};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == n && memcmp(words[i], s, n) == 0)
			return 1;
	return 0;
}

/*
 * Does item s need quotes to reach a shell's command as it is? Only letters,
 * digits and _-+./,:@ are safe everywhere; '=' is safe after an argument's
 * first byte (in the first word "A=b" would be an assignment; zsh expands
 * "=cmd" at a word's start), '%' but at the first word's start (bash runs
 * "%1" as "fg %1"). '~', '#', '^', globs, braces and every byte outside
 * ASCII are quoted.
 */
static int
needs_quotes(const char *s, size_t n, int first)
{
	if (n == 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		if (c != '\0' && strchr("_-+./,:@", c) != NULL)
			continue;
		if (c == '=' && i > 0 && !first)
			continue;
		if (c == '%' && (i > 0 || !first))
			continue;
		return 1;
	}
	return first && is_reserved(s, n);
}

/* s as one shell word: in single quotes, each ' as '\'' (POSIX has no escape inside ''). */
static void
put_quoted(struct out *o, const char *s, size_t n, int first)
{
	const char *q;

	if (!needs_quotes(s, n, first)) {
		put(o, s, n);
		return;
	}
	put(o, "'", 1);
	while (n > 0 && (q = memchr(s, '\'', n)) != NULL) {
		put(o, s, (size_t)(q - s));
		put(o, "'\\''", 4);
		n -= (size_t)(q - s) + 1;
		s = q + 1;
	}
	put(o, s, n);
	put(o, "'", 1);
}

size_t
dcf_cmd_text(const char *payload, size_t len, char *out, size_t cap)
{
	struct out o = {out, cap, 0, 0};
	const char *p = payload, *end = payload + len, *s[3];
	size_t n[3], k = 0;

	/* Shell mode's payload reads as its script: that is what the user wrote. */
	while (p < end && k < 3) {
		next_item(&p, end, &s[k], &n[k]);
		k++;
	}
	if (k == 3 && p == end && n[0] == strlen(DCF_CMD_SHELL) &&
	    memcmp(s[0], DCF_CMD_SHELL, n[0]) == 0 && n[1] == 2 && memcmp(s[1], "-c", 2) == 0) {
		put(&o, s[2], n[2]);
	} else {
		p = payload;
		for (k = 0; p < end; k++) {
			const char *item;
			size_t ilen;

			next_item(&p, end, &item, &ilen);
			if (k > 0)
				put(&o, " ", 1);
			put_quoted(&o, item, ilen, k == 0);
		}
	}
	if (cap > 0)
		out[o.n < cap ? o.n : cap - 1] = '\0';
	return o.over ? SIZE_MAX : o.n;
}

/* ---- the line reader ------------------------------------------------ */

int
dcf_lines_init(struct dcf_lines *r, int fd, size_t max, int sep)
{
	memset(r, 0, sizeof(*r));
	if (max == 0 || max > DCF_LINES_MAX || sep < 0 || sep > UCHAR_MAX) {
		errno = EINVAL;
		return -1;
	}
	r->fd = fd;
	r->sep = sep;
	r->max = max;
	r->cap = max + 1 < DCF_LINES_START ? max + 1 : DCF_LINES_START;
	r->buf = malloc(r->cap);
	if (r->buf == NULL) {
		r->cap = 0;
		return -1;
	}
	return 0;
}

void
dcf_lines_free(struct dcf_lines *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

/*
 * Room to read into: the unread bytes moved to the front, and the buffer
 * doubled (up to max + 1) only when a line that is not yet too long fills it.
 */
static int
make_room(struct dcf_lines *r)
{
	size_t want;
	char *nb;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->scan -= r->start;
		r->start = 0;
	}
	if (r->end < r->cap)
		return 0;
	/* The line so far is at most max bytes, so cap <= max: there is room to grow. */
	want = r->max + 1;
	if (r->cap < want / 2)
		want = r->cap * 2;
	if (want <= r->cap) {
		errno = EINVAL; /* the reader's fields were changed from outside */
		return -1;
	}
	nb = realloc(r->buf, want);
	if (nb == NULL)
		return -1;
	r->buf = nb;
	r->cap = want;
	return 0;
}

/* In a too-long line: drop its bytes up to its end. 1 when the end is found. */
static int
skip_long(struct dcf_lines *r)
{
	const char *p = memchr(r->buf + r->start, r->sep, r->end - r->start);

	if (p == NULL) {
		r->skipped += r->end - r->start;
		r->start = r->scan = r->end = 0;
		return r->eof; /* a last line may end at end of input */
	}
	r->skipped += (size_t)(p - (r->buf + r->start));
	r->start = r->scan = (size_t)(p + 1 - r->buf);
	return 1;
}

int
dcf_lines_next(struct dcf_lines *r, const char **line, size_t *len)
{
	for (;;) {
		const char *p;
		ssize_t n;

		if (r->skipping) {
			if (skip_long(r)) {
				r->skipping = 0;
				r->lineno++;
				*line = NULL;
				*len = r->skipped;
				errno = E2BIG;
				return -1;
			}
		} else {
			p = memchr(r->buf + r->scan, r->sep, r->end - r->scan);
			if (p != NULL || (r->eof && r->end > r->start)) {
				size_t stop = p != NULL ? (size_t)(p - r->buf) : r->end;

				*line = r->buf + r->start;
				*len = stop - r->start;
				r->start = r->scan = p != NULL ? stop + 1 : stop;
				r->lineno++;
				return 1;
			}
			if (r->eof)
				return 0;
			r->scan = r->end;
			if (r->end - r->start > r->max) {
				/* max + 1 bytes and no separator: too long, whatever follows. */
				r->skipping = 1;
				r->skipped = 0;
				continue;
			}
		}
		if (r->eof)
			return 0;
		if (make_room(r) == -1)
			return -1;
		n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n > 0)
			r->end += (size_t)n;
		else if (n == 0)
			r->eof = 1;
		else if (errno != EINTR)
			return -1; /* EAGAIN: the caller polls; nothing read is lost */
	}
}
