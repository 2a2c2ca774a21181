/* util.c - clocks, the seeded generator, number parsing, /proc lookups. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dcf/util.h"

uint64_t
dcf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * DCF_NSEC + (uint64_t)ts.tv_nsec;
}

uint64_t
dcf_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * DCF_NSEC + (uint64_t)ts.tv_nsec;
}

uint64_t
dcf_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void
dcf_rng_seed(struct dcf_rng *r, uint64_t seed)
{
	r->s = seed;
}

uint64_t
dcf_rng_next(struct dcf_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return dcf_mix64(r->s);
}

uint64_t
dcf_rng_range(struct dcf_rng *r, uint64_t lo, uint64_t hi)
{
	uint64_t span = hi - lo + 1;

	if (span == 0) /* the whole 64-bit range */
		return dcf_rng_next(r);
	return lo + dcf_rng_next(r) % span;
}

double
dcf_rng_unit(struct dcf_rng *r)
{
	return (double)(dcf_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

int
dcf_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || !isdigit((unsigned char)*s)) {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0') {
		errno = EINVAL;
		return -1;
	}
	if (errno == ERANGE || v < min || v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

int
dcf_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL ||
	    !(isdigit((unsigned char)s[0]) ||
	        ((s[0] == '-' || s[0] == '+') && isdigit((unsigned char)s[1])))) {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0') {
		errno = EINVAL;
		return -1;
	}
	if (errno == ERANGE || v < min || v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

int
dcf_parse_range(const char *s, uint64_t min, uint64_t max, uint64_t *lo, uint64_t *hi)
{
	char buf[64];
	char *dash;

	if (s == NULL || strlcpy(buf, s, sizeof(buf)) >= sizeof(buf)) {
		errno = EINVAL;
		return -1;
	}
	dash = strchr(buf, '-');
	if (dash == NULL) {
		if (dcf_parse_u64(buf, min, max, lo) == -1)
			return -1;
		*hi = *lo;
		return 0;
	}
	*dash = '\0';
	if (dcf_parse_u64(buf, min, max, lo) == -1 || dcf_parse_u64(dash + 1, min, max, hi) == -1)
		return -1;
	if (*lo > *hi) {
		errno = ERANGE;
		return -1;
	}
	return 0;
}

int
dcf_parse_prob_ppm(const char *s, uint64_t *ppm)
{
	char *end;
	double v;

	/* A decimal only: strtod would take "0x1p-1" as well. */
	if (s == NULL || !(isdigit((unsigned char)*s) || *s == '.') ||
	    s[strspn(s, "0123456789.eE+-")] != '\0') {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || errno != 0) {
		errno = EINVAL;
		return -1;
	}
	if (!(v >= 0.0 && v <= 1.0)) {
		errno = ERANGE;
		return -1;
	}
	*ppm = (uint64_t)(v * 1e6 + 0.5);
	return 0;
}

int
dcf_proc_start(pid_t pid, uint64_t *ticks)
{
	char path[64], buf[1024];
	ssize_t n;
	char *p;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1); /* ESRCH if it is reaped since the open */
	if (n == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: start after the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL) {
		errno = EINVAL;
		return -1;
	}
	/* p points at ") S ..."; each space moves one field on, from field 2. */
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL) {
		errno = EINVAL;
		return -1;
	}
	*ticks = strtoull(p + 1, NULL, 10);
	return 0;
}

#define LCG_A 6364136223846793005ULL
#define LCG_C 1442695040888963407ULL

uint64_t
dcf_lcg_run(uint64_t x, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++)
		x = x * LCG_A + LCG_C;
	return x;
}

uint64_t
dcf_lcg_jump(uint64_t x, uint64_t iters)
{
	/* Compose the affine map x -> a*x + c with itself by squaring. */
	uint64_t acc_a = 1, acc_c = 0, a = LCG_A, c = LCG_C;

	while (iters > 0) {
		if (iters & 1) {
			acc_a *= a;
			acc_c = acc_c * a + c;
		}
		c = (a + 1) * c;
		a *= a;
		iters >>= 1;
	}
	return acc_a * x + acc_c;
}
