/*
 * libpool.c - libdcf's pool (dcf.h) timed as Python's Pool is in pool.py:
 * from before the pool starts (its workers forked) to after it is freed,
 * N tasks through W workers in K networks, every result collected and
 * checked. A task's input is its 8-byte number padded with zeros to --size
 * bytes; the function returns the input (--size > 0: an echo, as pool.py's
 * echo returns its bytes) or nothing (--size 0: a no-op on an 8-byte input,
 * as pool.py's noop returns None). Results are collected as a user would:
 * --collect wait submits every task with dcf_submit, takes what is ready
 * with dcf_try_wait after each, then dcf_wait until ENODATA; --collect
 * callback gives on_result (the results come during dcf_submit and dcf_wait).
 *
 * Every result is checked inside the timed part: status DCF_OK, an id never
 * seen before (a bitmap of the ids: each delivered exactly once), and the
 * output byte for byte (the echo: the whole input back; the no-op: nothing);
 * then the pool's own counters must agree. Prints one JSON object on stdout,
 * with the CPU time of this process and its reaped workers (getrusage).
 *
 *     libpool --tasks N --workers W [--networks K] [--size B]
 *             [--collect wait|callback] [--queue Q] [--priorities P] [--name NAME]
 *
 * --priorities P (1 to 9): task i is submitted with dcf_submit_prio at
 * priority DCF_PRIORITY_MIN + i % P (1: dcf_submit, every task at 0).
 *
 * The pool is named NAME (default libpool-PID): its books are
 * /dev/shm/dcf-NAME while it runs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "dcf.h"

static size_t out_size;

static int
task(const void *in, size_t in_len, void *out, size_t *out_len, void *arg)
{
	(void)arg;
	if (out_size == 0) {
		*out_len = 0;
		return 0;
	}
	memcpy(out, in, in_len);
	*out_len = in_len;
	return 0;
}

struct tally {
	uint64_t n, tasks;
	uint64_t *seen;            /* a bit per task id */
	const unsigned char *zero; /* out_size zero bytes: the echo's padding */
	uint64_t bad;
	char why[160];
};

static void
wrong(struct tally *t, const struct dcf_result *r, const char *what)
{
	if (t->bad++ == 0)
		snprintf(t->why, sizeof(t->why), "task %llu: %s (status %d, %zu bytes)",
		    (unsigned long long)r->id, what, r->status, r->out_len);
}

static void
take(struct tally *t, const struct dcf_result *r)
{
	uint64_t v = r->id;

	t->n++;
	if (v >= t->tasks) {
		wrong(t, r, "no such id");
		return;
	}
	if (t->seen[v / 64] & (1ULL << (v % 64)))
		wrong(t, r, "delivered twice");
	t->seen[v / 64] |= 1ULL << (v % 64);
	if (r->status != DCF_OK)
		wrong(t, r, "not DCF_OK");
	else if (out_size == 0 && r->out_len != 0)
		wrong(t, r, "output from a no-op");
	else if (out_size > 0 &&
	    (r->out_len != out_size || memcmp(r->out, &v, sizeof(v)) != 0 ||
		memcmp((const unsigned char *)r->out + sizeof(v), t->zero, out_size - sizeof(v)) != 0))
		wrong(t, r, "the echo differs from the input");
}

static void
on_result(const struct dcf_result *r, void *arg)
{
	take(arg, r);
}

static double
tv(struct timeval t)
{
	return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

static int
num(const char *opt, const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || *v > max) {
		fprintf(stderr, "libpool: %s %s: want a number up to %llu\n", opt, s, max);
		return -1;
	}
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	unsigned long long tasks = 1000000, workers = 2, nets = 1, size = 0, queue = 0, prios = 1, v;
	int callback = 0;
	struct dcf_pool_opts o;
	struct dcf_pool *p;
	struct dcf_result r;
	struct dcf_pool_stats st;
	struct rusage self, kids;
	struct tally t;
	unsigned char *in;
	double t0, secs;
	char name[64];
	const char *pname = NULL;

	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i];

		if (i + 1 == argc) {
			fprintf(stderr, "libpool: %s wants a value\n", a);
			return 2;
		}
		if (strcmp(a, "--collect") == 0) {
			if (strcmp(argv[i + 1], "wait") != 0 && strcmp(argv[i + 1], "callback") != 0) {
				fprintf(stderr, "libpool: --collect wait or callback\n");
				return 2;
			}
			callback = strcmp(argv[i + 1], "callback") == 0;
			continue;
		}
		if (strcmp(a, "--name") == 0) {
			pname = argv[i + 1];
			continue;
		}
		if (strcmp(a, "--tasks") != 0 && strcmp(a, "--workers") != 0 &&
		    strcmp(a, "--networks") != 0 && strcmp(a, "--size") != 0 &&
		    strcmp(a, "--queue") != 0 && strcmp(a, "--priorities") != 0) {
			fprintf(stderr, "libpool: unknown option %s\n", a);
			return 2;
		}
		if (num(a, argv[i + 1], 1ULL << 40, &v) == -1)
			return 2;
		if (strcmp(a, "--tasks") == 0)
			tasks = v;
		else if (strcmp(a, "--workers") == 0)
			workers = v;
		else if (strcmp(a, "--networks") == 0)
			nets = v;
		else if (strcmp(a, "--size") == 0)
			size = v;
		else if (strcmp(a, "--priorities") == 0)
			prios = v;
		else
			queue = v;
	}
	if (tasks == 0 || workers == 0 || nets == 0 || workers % nets != 0 ||
	    (size > 0 && size < 8) || size > (1u << 20) || queue > (1u << 30) || prios < 1 ||
	    prios > DCF_PRIORITY_MAX - DCF_PRIORITY_MIN + 1) {
		fprintf(stderr, "libpool: --tasks and --workers > 0, --workers a multiple of "
				"--networks, --size 0 or 8 to 1 MiB, --priorities 1 to 9\n");
		return 2;
	}
	out_size = size;
	memset(&t, 0, sizeof(t));
	t.tasks = tasks;
	in = calloc(1, size < 8 ? 8 : size);
	t.seen = calloc((tasks + 63) / 64, sizeof(*t.seen));
	t.zero = calloc(1, size < 8 ? 8 : size);
	if (in == NULL || t.seen == NULL || t.zero == NULL) {
		fprintf(stderr, "libpool: out of memory\n");
		return 1;
	}
	dcf_pool_opts_init(&o);
	snprintf(name, sizeof(name), "libpool-%d", (int)getpid());
	o.name = pname != NULL ? pname : name;
	o.networks = (unsigned)nets;
	o.nodes = (unsigned)(workers / nets);
	o.max_in = size < 8 ? 8 : size;
	o.max_out = size < 8 ? 8 : size;
	o.queue = (unsigned)queue;
	if (callback) {
		o.on_result = on_result;
		o.result_arg = &t;
	}
	t0 = now();
	if ((p = dcf_pool_start(&o, task, NULL)) == NULL) {
		fprintf(stderr, "libpool: %s\n", dcf_error());
		return 1;
	}
	for (uint64_t id = 0; id < tasks; id++) {
		memcpy(in, &id, sizeof(id));
		if ((prios > 1 ? dcf_submit_prio(p, in, size < 8 ? 8 : size,
		                     DCF_PRIORITY_MIN + (int)(id % prios), NULL)
		               : dcf_submit(p, in, size < 8 ? 8 : size, NULL)) == -1) {
			fprintf(stderr, "libpool: %s\n", dcf_error());
			return 1;
		}
		/* Collect what is ready as we go, as Pool.map's result handler does. */
		if (!callback)
			while (dcf_try_wait(p, &r) == 0)
				take(&t, &r);
	}
	dcf_pool_stop(p);
	if (callback)
		while (dcf_wait(p, NULL) == 0)
			;
	else
		while (dcf_wait(p, &r) == 0)
			take(&t, &r);
	if (errno != ENODATA) {
		fprintf(stderr, "libpool: %s\n", dcf_error());
		return 1;
	}
	dcf_pool_stats(p, &st, sizeof(st));
	dcf_pool_free(p);
	secs = now() - t0;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	if (t.bad > 0) {
		fprintf(stderr, "libpool: %llu wrong results; the first: %s\n",
		    (unsigned long long)t.bad, t.why);
		return 1;
	}
	if (t.n != tasks || st.submitted != tasks || st.delivered != tasks || st.ok != tasks) {
		fprintf(stderr,
		    "libpool: %llu results for %llu tasks (the pool: %llu submitted, %llu "
		    "delivered, %llu ok)\n",
		    (unsigned long long)t.n, tasks, (unsigned long long)st.submitted,
		    (unsigned long long)st.delivered, (unsigned long long)st.ok);
		return 1;
	}
	free(in);
	free(t.seen);
	free((void *)t.zero);
	printf("{\"kind\": \"libdcf\", \"tasks\": %llu, \"workers\": %llu, \"networks\": %llu, "
	       "\"size\": %llu, \"collect\": \"%s\", \"queue\": %llu, \"secs\": %.6f, "
	       "\"rate\": %.0f, \"user\": %.3f, \"sys\": %.3f, \"reruns\": %llu}\n",
	    tasks, workers, nets, size, callback ? "callback" : "wait", queue, secs,
	    (double)tasks / secs, tv(self.ru_utime) + tv(kids.ru_utime),
	    tv(self.ru_stime) + tv(kids.ru_stime), (unsigned long long)st.reruns);
	return 0;
}
