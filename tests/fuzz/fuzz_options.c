/*
 * fuzz_options.c - libFuzzer target: the option table and its parser
 * (opts.h), the command lines of dcf-supervisor (sup_parse_options) and
 * dcf-status (status_parse_options), and the number parsers under them
 * (util.h).
 *
 * The input is the argument list after argv[0], each argument ended by a NUL
 * byte (a last one without its NUL counts too). Both programs' parsers read
 * it, each from a fresh copy of the pointers; every argument goes through
 * dcf_parse_u64, dcf_parse_range and dcf_parse_prob_ppm, through opt_quote,
 * and, as "--opt=ARG", through every entry of the table that takes a value.
 * Besides not crashing, what must hold (abort() if not, so that the fuzzer
 * reports it):
 *  - a parser returns -1, 0 or 1; 0 prints nothing, 1 prints the help or the
 *    version, -1 prints exactly one line: the program's name, the message,
 *    the hint to --help, with no control byte and nothing that is not UTF-8
 *    (every byte of the command line is escaped or valid UTF-8); what it
 *    quotes is, unescaped, an argument given or a part of one, and an
 *    option it names is one of the program's;
 *  - opt_quote's text unescapes to the argument (or to its first bytes, when
 *    it says "...");
 *  - an entry's value is taken exactly when a plain reference says so
 *    (numbers, ranges, seconds, words, instance names), with the same value;
 *  - a command line dcf-supervisor accepts makes a configuration that
 *    dcf_seg_create accepts too (dcf_config_check, dcf_plan, dcf_name_check);
 *  - what dcf-status accepts is in its documented ranges;
 *  - dcf_parse_u64 agrees with a plain reference; a range comes back ordered
 *    and agrees with its two halves; a probability is at most 10^6 ppm and
 *    was written as a decimal.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcf/layout.h"
#include "dcf/log.h"
#include "dcf/seg.h"
#include "dcf/util.h"
#include "fuzz.h"
#include "opts.h"
#include "status.h"
#include "submit.h"
#include "dcf/supervisor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FO_CHECK(cond) \
	do { \
		if (!(cond)) \
			fo_fail(#cond, __LINE__); \
	} while (0)

static void __attribute__((noreturn)) fo_fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_options.c:%d: check failed: %s\n", line, what);
	abort();
}

/* The reference: a whole decimal, no sign, no space, in [min, max]. */
static int
fo_ref_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, int *e)
{
	uint64_t v = 0;
	int over = 0;

	*e = EINVAL;
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		unsigned d = (unsigned char)*s - (unsigned)'0';

		if (d > 9)
			return -1;
		if (v > (UINT64_MAX - d) / 10)
			over = 1;
		else
			v = v * 10 + d;
	}
	*e = ERANGE;
	if (over || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static void
fo_u64(const char *s, uint64_t min, uint64_t max)
{
	uint64_t v = 0, ref = 0;
	int r, rr, e, re;

	errno = 0;
	r = dcf_parse_u64(s, min, max, &v);
	e = errno;
	rr = fo_ref_u64(s, min, max, &ref, &re);
	FO_CHECK(r == rr);
	FO_CHECK(r == -1 ? e == re : v == ref);
}

static void
fo_range(const char *s, uint64_t min, uint64_t max)
{
	uint64_t lo = 0, hi = 0, a = 0, b = 0;
	char buf[64];
	char *dash;
	size_t len;
	int r, e;

	r = dcf_parse_range(s, min, max, &lo, &hi);
	if (r == 0)
		FO_CHECK(min <= lo && lo <= hi && hi <= max);
	len = strlen(s);
	if (len >= sizeof(buf)) {
		FO_CHECK(r == -1);
		return;
	}
	/* The same from the halves. */
	memcpy(buf, s, len + 1);
	dash = strchr(buf, '-');
	if (dash == NULL) {
		int ok = fo_ref_u64(buf, min, max, &a, &e) == 0;

		FO_CHECK(ok == (r == 0));
		FO_CHECK(!ok || (lo == a && hi == a));
		return;
	}
	*dash = '\0';
	if (fo_ref_u64(buf, min, max, &a, &e) == 0 && fo_ref_u64(dash + 1, min, max, &b, &e) == 0 &&
	    a <= b)
		FO_CHECK(r == 0 && lo == a && hi == b);
	else
		FO_CHECK(r == -1);
}

/* A decimal: digits, at most one point, an optional exponent; a digit somewhere before it. */
static int
fo_decimal(const char *s)
{
	size_t n = strspn(s, "0123456789");

	s += n;
	if (*s == '.') {
		size_t f = strspn(s + 1, "0123456789");

		s += 1 + f;
		n += f;
	}
	if (n == 0)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (strspn(s, "0123456789") == 0)
			return 0;
		s += strspn(s, "0123456789");
	}
	return *s == '\0';
}

static void
fo_prob(const char *s)
{
	uint64_t ppm = 0;

	if (dcf_parse_prob_ppm(s, &ppm) == 0)
		FO_CHECK(ppm <= 1000000 && fo_decimal(s));
}

static void
fo_numbers(const char *s)
{
	fo_u64(s, 0, UINT64_MAX);
	fo_u64(s, 1, DCF_MAX_NETS);
	fo_u64(s, 10, 86400000);
	fo_range(s, 0, 86400000);
	fo_range(s, 1, 3600000);
	fo_prob(s);
}

/* ---- what a usage error may print ----------------------------------- */

/*
 * Printable UTF-8 (RFC 3629), written apart from opts.c: no C0 or C1
 * control, no DEL, no overlong form, surrogate or code point past U+10FFFF.
 */
static int
fo_printable(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	while (p < end) {
		uint32_t cp;
		size_t k;

		if (*p < 0x80) {
			if (*p < 0x20 || *p == 0x7f)
				return 0;
			p++;
			continue;
		}
		k = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
		if (k == 0 || (size_t)(end - p) < k)
			return 0;
		cp = *p & (0x7f >> k);
		for (size_t i = 1; i < k; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((k == 2 && cp < 0xa0) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		p += k;
	}
	return 1;
}

/*
 * The text quoted at q (just after its opening quote), unescaped into buf:
 * \\ \' \n \t \r \xHH. Returns what follows the closing quote (NULL if
 * there is none, or an escape is not one of those); *cut: "..." follows.
 */
static const char *
fo_unquote(const char *q, char *buf, size_t len, size_t *n, int *cut)
{
	*n = 0;
	for (; *q != '\0' && *q != '\''; q++) {
		char c = *q;

		if (*n + 1 >= len)
			return NULL;
		if (c == '\\') {
			unsigned hi, lo;

			switch (*++q) {
			case '\\':
			case '\'':
				c = *q;
				break;
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'x':
				if (sscanf(q + 1, "%1x%1x", &hi, &lo) != 2)
					return NULL;
				c = (char)(hi << 4 | lo);
				q += 2;
				break;
			default:
				return NULL;
			}
		}
		buf[(*n)++] = c;
	}
	if (*q != '\'')
		return NULL;
	buf[*n] = '\0';
	q++;
	*cut = strncmp(q, "...", 3) == 0;
	return *cut ? q + 3 : q;
}

/* Is a, or (if cut) does a start with, the n bytes at s? */
static int
fo_match(const char *a, const char *s, size_t n, int cut)
{
	size_t al = strlen(a);

	return (cut ? al >= n : al == n) && memcmp(a, s, n) == 0;
}

/*
 * Was s (n bytes; only its first n if cut) given: an argument, the part of
 * one after its "--opt=" or after a letter of a cluster ("-qt5"), or for
 * "-c" a letter of a cluster?
 */
static int
fo_given(int argc, char **argv, const char *s, size_t n, int cut)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '=');
		size_t al = strlen(a);

		if (fo_match(a, s, n, cut))
			return 1;
		if (a[0] != '-')
			continue;
		if (a[1] == '-') {
			if (eq != NULL && fo_match(eq + 1, s, n, cut))
				return 1;
			continue;
		}
		for (size_t off = 2; off < al; off++)
			if (fo_match(a + off, s, n, cut))
				return 1;
		if (n == 2 && s[0] == '-' && al > 1 && memchr(a + 1, s[1], al - 1) != NULL)
			return 1;
	}
	return 0;
}

/* "--NAME" at s names an entry prog takes (and one with a value, if value). */
static const struct opt *
fo_entry(enum opt_prog prog, const char *s, size_t n)
{
	for (int i = 0; i < OPT_NENTRIES; i++)
		if ((opt_table[i].progs & prog) && strlen(opt_table[i].name) == n &&
		    memcmp(opt_table[i].name, s, n) == 0)
			return &opt_table[i];
	return NULL;
}

/*
 * A usage error: exactly one line, "PROG: MESSAGE; try 'PROG --help'\n",
 * printable; what it quotes was given; what it names is prog's.
 */
static void
fo_usage_msg(enum opt_prog prog, const char *out, int argc, char **argv)
{
	static const char *const quoting[] = {"unknown option '", "ambiguous option '",
	    "unexpected argument '"};
	static const char *const plain[] = {"--count goes with --watch", "--networks x --nodes is ",
	    "give a command or --commands FILE, not both", "--kill-after follows a --timeout",
	    "--arg-file is for a command's arguments", "--resume reads the joblog",
	    "--resume-failed reads the joblog", "--serve runs what dcf-submit sends",
	    "give the command after the options", "with --commands each line is the command",
	    "the command's name is empty"};
	const char *name = opt_program(prog)->name, *msg, *q;
	char head[64], tail[64], buf[FZ_OUTLEN];
	size_t len = strlen(out), hl, tl, n;
	int cut;

	if (len == FZ_OUTLEN)
		return; /* cut short: an argument longer than the fuzzer's -max_len */
	hl = (size_t)snprintf(head, sizeof(head), "%s: ", name);
	tl = (size_t)snprintf(tail, sizeof(tail), "; try '%s --help'\n", name);
	FO_CHECK(len >= hl + tl && memcmp(out, head, hl) == 0 && strcmp(out + len - tl, tail) == 0);
	FO_CHECK(fo_printable(out, len - 1));
	msg = out + hl;
	for (size_t k = 0; k < sizeof(quoting) / sizeof(quoting[0]); k++) {
		size_t ql = strlen(quoting[k]);

		if (strncmp(msg, quoting[k], ql) != 0)
			continue;
		q = fo_unquote(msg + ql, buf, sizeof(buf), &n, &cut);
		FO_CHECK(q != NULL && fo_given(argc, argv, buf, n, cut));
		return;
	}
	for (size_t k = 0; k < sizeof(plain) / sizeof(plain[0]); k++)
		if (strncmp(msg, plain[k], strlen(plain[k])) == 0)
			return;
	/* "--NAME 'VALUE': why" or "--NAME needs a value: what" */
	FO_CHECK(strncmp(msg, "--", 2) == 0);
	n = strcspn(msg + 2, " ");
	FO_CHECK(fo_entry(prog, msg + 2, n) != NULL);
	q = msg + 2 + n;
	if (strncmp(q, " is for the demo's", 18) == 0 || strncmp(q, " is for commands", 16) == 0 ||
	    strncmp(q, " is for --batch", 15) == 0 || strncmp(q, " is for --serve", 15) == 0 ||
	    strncmp(q, " reads an input; --serve", 24) == 0)
		return; /* an option of the other mode */
	if (strncmp(q, " needs a value: ", 16) == 0) {
		FO_CHECK(fo_entry(prog, msg + 2, n)->arg == OPT_ARG_REQUIRED);
		return;
	}
	FO_CHECK(strncmp(q, " '", 2) == 0);
	q = fo_unquote(q + 2, buf, sizeof(buf), &n, &cut);
	FO_CHECK(q != NULL && strncmp(q, ": ", 2) == 0 && fo_given(argc, argv, buf, n, cut));
}

/* opt_quote: printable, and it unescapes to s (or to s's first bytes, if cut). */
static void
fo_quote(const char *s)
{
	char q[OPT_QUOTE_LEN], buf[OPT_QUOTE_LEN];
	const char *rest;
	size_t n, len = strlen(s);
	int cut;

	opt_quote(q, sizeof(q), s);
	FO_CHECK(q[0] == '\'' && fo_printable(q, strlen(q)));
	rest = fo_unquote(q + 1, buf, sizeof(buf), &n, &cut);
	FO_CHECK(rest != NULL && *rest == '\0');
	FO_CHECK(cut ? n < len && n <= OPT_QUOTE_SHOWN : n == len);
	FO_CHECK(memcmp(buf, s, n) == 0);
}

/* ---- each entry's value against a plain reference ------------------- */

/* Seconds: digits, then '.' and digits or nothing; milliseconds, the rest cut. */
static int
fo_ref_seconds(const char *s, uint64_t min, uint64_t max, uint64_t *ms)
{
	size_t w = strspn(s, "0123456789"), f = 0, z = 0;
	uint64_t whole = 0, frac = 0;

	if (w == 0)
		return -1;
	if (s[w] == '.')
		f = strspn(s + w + 1, "0123456789");
	if (s[w + (s[w] == '.' ? 1 + f : 0)] != '\0')
		return -1;
	while (z + 1 < w && s[z] == '0')
		z++;
	if (w - z > 12)
		return -1;
	for (size_t i = z; i < w; i++)
		whole = whole * 10 + (uint64_t)(s[i] - '0');
	for (size_t i = 0; i < 3; i++)
		frac = frac * 10 + (i < f ? (uint64_t)(s[w + 1 + i] - '0') : 0);
	whole = whole * 1000 + frac;
	if (whole < min || whole > max)
		return -1;
	*ms = whole;
	return 0;
}

/* An instance name: [A-Za-z0-9_][A-Za-z0-9_.-]*, 1 to 32 bytes. */
static int
fo_ref_name(const char *s)
{
	static const char first[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
	size_t n = strlen(s);

	if (n == 0 || n > 32 || strchr(first, s[0]) == NULL)
		return 0;
	for (size_t i = 1; i < n; i++)
		if (strchr(first, s[i]) == NULL && s[i] != '.' && s[i] != '-')
			return 0;
	return 1;
}

/* Has the halves' reference taken "A" or "A-B"? */
static int
fo_ref_range(const char *s, uint64_t min, uint64_t max, uint64_t *lo, uint64_t *hi)
{
	char buf[64];
	char *dash;
	int e;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash != NULL)
		*dash = '\0';
	if (fo_ref_u64(buf, min, max, lo, &e) == -1)
		return -1;
	if (dash == NULL) {
		*hi = *lo;
		return 0;
	}
	if (fo_ref_u64(dash + 1, min, max, hi, &e) == -1 || *lo > *hi)
		return -1;
	return 0;
}

/* "--NAME=arg" alone, for each entry that takes a value, through opt_next. */
static void
fo_entries(const char *arg)
{
	static char prog[] = "prog";
	char opt[FZ_OUTLEN + 64];

	if (strlen(arg) > FZ_OUTLEN)
		return;
	for (int i = 0; i < OPT_NENTRIES; i++) {
		const struct opt *o = &opt_table[i];
		char *argv[] = {prog, opt, NULL};
		struct opt_parser p;
		struct opt_val v;
		enum opt_id id;
		enum opt_next r;
		uint64_t a = 0, b = 0;
		int ref;

		if (o->arg == OPT_ARG_NONE || o->kind == OPT_K_FILE || o->kind == OPT_K_PROB)
			continue; /* FILE asks the file system; PROB: fo_prob */
		snprintf(opt, sizeof(opt), "--%s=%s", o->name, arg);
		opt_begin(&p, (enum opt_prog)(o->progs & -o->progs), 2, argv);
		fz_capture();
		r = opt_next(&p, &id, &v);
		fz_release(NULL);
		FO_CHECK(r == OPT_FOUND || r == OPT_ERROR);
		FO_CHECK(r == OPT_ERROR ||
		    (id == (enum opt_id)i && v.s != NULL && strcmp(v.s, arg) == 0));
		switch (o->kind) {
		case OPT_K_UINT:
			ref = fo_ref_u64(arg, o->min, o->max, &a, &(int){0}) == 0;
			FO_CHECK(ref == (r == OPT_FOUND) && (!ref || v.u == a));
			break;
		case OPT_K_RANGE:
			ref = fo_ref_range(arg, o->min, o->max, &a, &b) == 0;
			FO_CHECK(ref == (r == OPT_FOUND) && (!ref || (v.lo == a && v.hi == b)));
			break;
		case OPT_K_SECONDS:
			ref = fo_ref_seconds(arg, o->min, o->max, &a) == 0;
			FO_CHECK(ref == (r == OPT_FOUND) && (!ref || v.u == a));
			break;
		case OPT_K_NAME:
			FO_CHECK(fo_ref_name(arg) == (r == OPT_FOUND));
			break;
		case OPT_K_WORD:
			ref = 0;
			for (size_t k = 0; o->words[k] != NULL; k++) {
				if (strcmp(arg, o->words[k]) != 0)
					continue;
				ref = 1;
				FO_CHECK(r == OPT_ERROR || v.u == k);
			}
			FO_CHECK(ref == (r == OPT_FOUND));
			break;
		default:
			break;
		}
	}
}

/* ---- the programs' parsers ------------------------------------------- */

static void
fo_supervisor(int argc, char **argv)
{
	struct sup_opts o;
	struct dcf_plan p;
	char err[DCF_ERRLEN];
	const char *out;
	int r;

	fz_capture();
	r = sup_parse_options(argc, argv, &o);
	out = fz_release(NULL);
	FO_CHECK(r == -1 || r == 0 || r == 1);
	if (r == -1) {
		fo_usage_msg(OPT_P_SUPERVISOR, out, argc, argv);
		return;
	}
	if (r == 1) {
		FO_CHECK(strncmp(out, "usage: dcf-supervisor ", 22) == 0 ||
		    strcmp(out, "dcf-supervisor " DCF_VERSION "\n") == 0);
		return;
	}
	FO_CHECK(out[0] == '\0');
	FO_CHECK(dcf_config_check(&o.cfg, err, sizeof(err)) == 0);
	FO_CHECK(dcf_plan(&o.cfg, &p) == 0);
	FO_CHECK(dcf_name_check(o.name, err, sizeof(err)) == 0);
	FO_CHECK(o.cfg.max_nodes == o.cfg.nets * o.cfg.nodes_per_net);
	FO_CHECK(o.cfg.task_slots <= 32768);
	FO_CHECK(o.cfg.fail_rate_ppm <= 1000000);
	FO_CHECK(o.level >= DCF_DEBUG && o.level <= DCF_ERROR);
	FO_CHECK(o.log_path == NULL || o.log_path[0] != '\0');
}

static void
fo_status(int argc, char **argv)
{
	const struct opt *w = &opt_table[OPT_WATCH];
	struct status_opts o;
	char err[DCF_ERRLEN];
	const char *out;
	int r;

	fz_capture();
	r = status_parse_options(argc, argv, &o);
	out = fz_release(NULL);
	FO_CHECK(r == -1 || r == 0 || r == 1);
	if (r == -1) {
		fo_usage_msg(OPT_P_STATUS, out, argc, argv);
		return;
	}
	if (r == 1) {
		FO_CHECK(strncmp(out, "usage: dcf-status ", 18) == 0 ||
		    strcmp(out, "dcf-status " DCF_VERSION "\n") == 0);
		return;
	}
	FO_CHECK(out[0] == '\0');
	FO_CHECK(dcf_name_check(o.name, err, sizeof(err)) == 0);
	FO_CHECK(o.interval_ms >= w->min && o.interval_ms <= w->max);
	FO_CHECK(o.count == 0 || o.watch);
}

static void
fo_submit(int argc, char **argv)
{
	struct submit_opts o;
	const char *out;
	int r;

	fz_capture();
	r = submit_parse_options(argc, argv, &o);
	out = fz_release(NULL);
	FO_CHECK(r == -1 || r == 0 || r == 1);
	if (r == -1) {
		fo_usage_msg(OPT_P_SUBMIT, out, argc, argv);
		return;
	}
	if (r == 1) {
		FO_CHECK(strncmp(out, "usage: dcf-submit ", 18) == 0 ||
		    strcmp(out, "dcf-submit " DCF_VERSION "\n") == 0);
		return;
	}
	FO_CHECK(out[0] == '\0');
	/* A command to run, or each line one; the options of --batch only with it. */
	FO_CHECK(o.commands ? o.batch && o.cmd_argc == 0 : o.cmd_argc > 0 && o.cmd_argv[0][0]);
	FO_CHECK(o.batch || !o.null_sep);
	FO_CHECK(o.key == NULL || (strlen(o.key) >= 1 && strlen(o.key) <= 400));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char prog_sup[] = "dcf-supervisor", prog_status[] = "dcf-status",
	            prog_submit[] = "dcf-submit";
	char *buf, **args, **argv;
	int argc = 1;

	/* The arguments: buf holds them NUL-terminated, args points at each. */
	buf = malloc(size + 1);
	args = malloc((size + 2) * sizeof(*args));
	argv = malloc((size + 2) * sizeof(*argv));
	if (buf == NULL || args == NULL || argv == NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t i = 0; i < size; i += strlen(buf + i) + 1)
		args[argc++] = buf + i;
	args[argc] = NULL;

	for (int i = 1; i < argc; i++) {
		fo_numbers(args[i]);
		fo_quote(args[i]);
		fo_entries(args[i]);
	}
	memcpy(argv, args, ((size_t)argc + 1) * sizeof(*argv));
	argv[0] = prog_sup;
	fo_supervisor(argc, argv);
	memcpy(argv, args, ((size_t)argc + 1) * sizeof(*argv));
	argv[0] = prog_status;
	fo_status(argc, argv);
	memcpy(argv, args, ((size_t)argc + 1) * sizeof(*argv));
	argv[0] = prog_submit;
	fo_submit(argc, argv);

	free(argv);
	free(args);
	free(buf);
	return 0;
}
