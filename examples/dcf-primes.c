/*
 * dcf-primes - the number of primes below N, counted by a libdcf pool: [2, N)
 * is cut into chunks, one task per chunk (input: the range; output: how
 * many primes it holds), and the results are summed as they come.
 *
 *     dcf-primes [--chunk SIZE] [-j N] [--name NAME] [--attempts N] [--check] [N]
 *
 * N is 10000000 unless given (pi(10^7) = 664579). --check counts again in
 * this process, in pieces of other sizes, and exits 1 if the two differ.
 * Prints the count; exits 1 on any failure, 2 on bad usage.
 *
 * One option is not in the usage: --slow MS makes every task sleep MS
 * milliseconds first, so that a test can kill workers in the middle of tasks.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dcf.h>

#define N_DEFAULT     10000000u
#define N_MAX         UINT64_C(1000000000000)
#define CHUNK_DEFAULT 100000u
#define CHUNK_MAX     (1u << 26)
/* --check's pieces: not the pool's chunks, so that their edges differ. */
#define CHECK_PIECE (1u << 24)

/* A task's input: the numbers lo <= n < hi. */
struct range {
	uint64_t lo, hi;
};

struct job {
	unsigned slow_ms;
};

static uint64_t
isqrt(uint64_t n)
{
	uint64_t r = 0;

	for (uint64_t bit = UINT64_C(1) << 62; bit != 0; bit >>= 2) {
		if (n >= r + bit) {
			n -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
	}
	return r;
}

/* The primes in [lo, hi), by a sieve of that segment; -1 without memory. */
static int64_t
count_primes(uint64_t lo, uint64_t hi)
{
	uint64_t root, n = 0;
	unsigned char *small, *composite;

	if (lo < 2)
		lo = 2;
	if (hi <= lo)
		return 0;
	root = isqrt(hi - 1);
	small = calloc(root + 1, 1);
	composite = calloc(hi - lo, 1);
	if (small == NULL || composite == NULL) {
		free(small);
		free(composite);
		return -1;
	}
	for (uint64_t p = 2; p <= root; p++) {
		if (small[p])
			continue;
		for (uint64_t q = p * p; q <= root; q += p)
			small[q] = 1;
		for (uint64_t q = p * p > lo ? p * p : (lo + p - 1) / p * p; q < hi; q += p)
			composite[q - lo] = 1;
	}
	for (uint64_t i = 0; i < hi - lo; i++)
		n += !composite[i];
	free(small);
	free(composite);
	return (int64_t)n;
}

/* The task function, in a worker process. */
static int
count_task(const void *in, size_t in_len, void *out, size_t *out_len, void *arg)
{
	const struct job *job = arg;
	struct range r;
	int64_t n;

	if (in_len != sizeof(r) || *out_len < sizeof(n))
		return EINVAL;
	memcpy(&r, in, sizeof(r));
	if (job->slow_ms > 0) {
		struct timespec ts = {job->slow_ms / 1000, (long)(job->slow_ms % 1000) * 1000000};

		nanosleep(&ts, NULL);
	}
	if ((n = count_primes(r.lo, r.hi)) < 0)
		return ENOMEM;
	memcpy(out, &n, sizeof(n));
	*out_len = sizeof(n);
	return 0;
}

static uint64_t
number(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < min || v > max) {
		warnx("%s '%s': expected a whole number from %" PRIu64 " to %" PRIu64, opt, s, min,
		    max);
		exit(2);
	}
	return v;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: dcf-primes [--chunk SIZE] [-j N] [--name NAME] [--attempts N] "
	    "[--check] [N]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {{"chunk", required_argument, NULL, 'c'},
	    {"jobs", required_argument, NULL, 'j'}, {"name", required_argument, NULL, 'n'},
	    {"attempts", required_argument, NULL, 'a'}, {"check", no_argument, NULL, 'k'},
	    {"slow", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	struct dcf_pool_opts o;
	struct dcf_pool_stats st;
	struct dcf_result res;
	struct dcf_pool *p;
	struct job job = {0};
	uint64_t n = N_DEFAULT, chunk = CHUNK_DEFAULT, total = 0;
	int c, check = 0, bad = 0;

	dcf_pool_opts_init(&o);
	while ((c = getopt_long(argc, argv, "j:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			chunk = number("--chunk", optarg, 1, CHUNK_MAX);
			break;
		case 'j':
			o.nodes = (unsigned)number("-j", optarg, 0, 8192);
			break;
		case 'n':
			o.name = optarg;
			break;
		case 'a':
			o.attempts = (unsigned)number("--attempts", optarg, 0, 1000);
			break;
		case 'k':
			check = 1;
			break;
		case 's':
			job.slow_ms = (unsigned)number("--slow", optarg, 0, 60000);
			break;
		default:
			usage();
		}
	}
	if (argc - optind > 1)
		usage();
	if (argc - optind == 1)
		n = number("N", argv[optind], 0, N_MAX);
	o.max_in = sizeof(struct range);
	o.max_out = sizeof(int64_t);

	if ((p = dcf_pool_start(&o, count_task, &job)) == NULL)
		errx(1, "dcf_pool_start: %s", dcf_error());
	for (uint64_t lo = 2; lo < n; lo += chunk) {
		struct range r = {lo, n - lo > chunk ? lo + chunk : n};

		if (dcf_submit(p, &r, sizeof(r), NULL) == -1)
			errx(1, "dcf_submit: %s", dcf_error());
	}
	if (dcf_pool_stop(p) == -1)
		errx(1, "dcf_pool_stop: %s", dcf_error());
	/* Results come in completion order; a sum does not mind. */
	while (dcf_wait(p, &res) == 0) {
		int64_t k;

		if (res.status == DCF_OK) {
			memcpy(&k, res.out, sizeof(k));
			total += (uint64_t)k;
		} else if (res.status == DCF_FAILED) {
			warnx("task %" PRIu64 ": %s", res.id, strerror(res.code));
			bad = 1;
		} else {
			warnx("task %" PRIu64
			      ": not counted: status %d, %u workers died running it",
			    res.id, res.status, res.attempts);
			bad = 1;
		}
	}
	if (errno != ENODATA)
		errx(1, "dcf_wait: %s", dcf_error());
	if (dcf_pool_stats(p, &st, sizeof(st)) == -1)
		errx(1, "dcf_pool_stats: %s", dcf_error());
	dcf_pool_free(p);

	fprintf(stderr,
	    "dcf-primes: %llu tasks, %llu reruns, %llu worker deaths, %llu quarantined\n",
	    (unsigned long long)st.submitted, (unsigned long long)st.reruns,
	    (unsigned long long)st.deaths, (unsigned long long)st.quarantined);
	if (bad)
		errx(1, "some chunks were not counted: no total");
	printf("%" PRIu64 "\n", total);
	if (check) {
		uint64_t seq = 0;

		for (uint64_t lo = 0; lo < n; lo += CHECK_PIECE) {
			int64_t k = count_primes(lo, n - lo > CHECK_PIECE ? lo + CHECK_PIECE : n);

			if (k < 0)
				errx(1, "--check: out of memory");
			seq += (uint64_t)k;
		}
		if (seq != total)
			errx(1,
			    "--check: counted %" PRIu64 " in this process, %" PRIu64 " in the pool",
			    seq, total);
		fprintf(stderr, "dcf-primes: --check: the same count in this process\n");
	}
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	return 0;
}
