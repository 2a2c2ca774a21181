/*
 * fuzz_options.c - libFuzzer target: the command lines of dcf-supervisor
 * (sup_parse_options) and dcf-status (status_parse_options), and the number
 * parsers under them (util.h).
 *
 * The input is the argument list after argv[0], each argument ended by a NUL
 * byte (a last one without its NUL counts too). Both parsers read it, from
 * a fresh copy of the pointers (GNU getopt permutes them), and every
 * argument goes through dcf_parse_u64, dcf_parse_range and
 * dcf_parse_prob_ppm. Besides not crashing, what must hold (abort() if not,
 * so that the fuzzer reports it):
 *  - a parser returns -1, 0 or 1; 0 prints nothing, 1 prints the help or the
 *    version, -1 prints a message that starts with the program's name and
 *    ends with the hint to --help; an option such a message quotes is one
 *    that was given;
 *  - a command line dcf-supervisor accepts makes a configuration that
 *    dcf_seg_create accepts too (dcf_config_check, dcf_plan, dcf_name_check);
 *  - what dcf-status accepts is in its documented ranges;
 *  - dcf_parse_u64 agrees with a plain reference; a range comes back ordered
 *    and agrees with its two halves; a probability is at most 10^6 ppm and
 *    was written as a decimal.
 */
#include <errno.h>
#include <getopt.h>
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
#include "status.h"
#include "supervisor.h"

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

/* argv[1..argc) given, argv[0] excluded: is s one of them? */
static int
fo_given(int argc, char **argv, const char *s, size_t len)
{
	for (int i = 1; i < argc; i++)
		if (strlen(argv[i]) == len && memcmp(argv[i], s, len) == 0)
			return 1;
	return 0;
}

/* Is c one of the letters of a short-option cluster ("-abc") given? */
static int
fo_in_cluster(int argc, char **argv, char c)
{
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1] != '-' && strchr(argv[i] + 1, c) != NULL)
			return 1;
	return 0;
}

/*
 * A usage error: "PROG: ...; try 'PROG --help'\n". An option it quotes as
 * unknown or missing its value must be an argument that was given (the
 * whole argument, or for an unknown short option "-c", a letter of one).
 */
static void
fo_usage_msg(const char *prog, const char *out, int argc, char **argv)
{
	static const char *const quoting[] = {"unknown option '", "option '"};
	char head[64], tail[64];
	size_t len = strlen(out), hl, tl;

	if (len == FZ_OUTLEN)
		return; /* cut short: an argument longer than the fuzzer's -max_len */
	hl = (size_t)snprintf(head, sizeof(head), "%s: ", prog);
	tl = (size_t)snprintf(tail, sizeof(tail), "; try '%s --help'\n", prog);
	FO_CHECK(len >= hl + tl && memcmp(out, head, hl) == 0 && strcmp(out + len - tl, tail) == 0);
	for (size_t k = 0; k < sizeof(quoting) / sizeof(quoting[0]); k++) {
		size_t ql = strlen(quoting[k]), n;
		const char *q;

		if (strncmp(out + hl, quoting[k], ql) != 0)
			continue;
		/* The quoted text ends at the last "'" before the tail or " needs". */
		q = out + hl + ql;
		n = len - tl - hl - ql;
		if (k == 1) {
			const char *needs = NULL;

			for (const char *p = q; (p = strstr(p, "' needs ")) != NULL; p++)
				needs = p;
			FO_CHECK(needs != NULL);
			n = (size_t)(needs - q);
		} else {
			FO_CHECK(n >= 1 && q[n - 1] == '\'');
			n--;
		}
		FO_CHECK(fo_given(argc, argv, q, n) ||
		    (k == 0 && n == 2 && q[0] == '-' && fo_in_cluster(argc, argv, q[1])));
		return;
	}
}

static void
fo_supervisor(int argc, char **argv)
{
	struct sup_opts o;
	struct dcf_plan p;
	char err[DCF_ERRLEN];
	const char *out;
	int r;

	optind = 0;
	fz_capture();
	r = sup_parse_options(argc, argv, &o);
	out = fz_release(NULL);
	FO_CHECK(r == -1 || r == 0 || r == 1);
	if (r == -1) {
		fo_usage_msg("dcf-supervisor", out, argc, argv);
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
	struct status_opts o;
	char err[DCF_ERRLEN];
	const char *out;
	int r;

	optind = 0;
	fz_capture();
	r = status_parse_options(argc, argv, &o);
	out = fz_release(NULL);
	FO_CHECK(r == -1 || r == 0 || r == 1);
	if (r == -1) {
		fo_usage_msg("dcf-status", out, argc, argv);
		return;
	}
	if (r == 1) {
		FO_CHECK(strncmp(out, "usage: dcf-status ", 18) == 0 ||
		    strcmp(out, "dcf-status " DCF_VERSION "\n") == 0);
		return;
	}
	FO_CHECK(out[0] == '\0');
	FO_CHECK(dcf_name_check(o.name, err, sizeof(err)) == 0);
	FO_CHECK(o.interval_ms >= STATUS_WATCH_MIN_MS && o.interval_ms <= STATUS_WATCH_MAX_MS);
	FO_CHECK(o.count == 0 || o.watch);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char prog_sup[] = "dcf-supervisor", prog_status[] = "dcf-status";
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

	for (int i = 1; i < argc; i++)
		fo_numbers(args[i]);
	memcpy(argv, args, ((size_t)argc + 1) * sizeof(*argv));
	argv[0] = prog_sup;
	fo_supervisor(argc, argv);
	memcpy(argv, args, ((size_t)argc + 1) * sizeof(*argv));
	argv[0] = prog_status;
	fo_status(argc, argv);

	free(argv);
	free(args);
	free(buf);
	return 0;
}
