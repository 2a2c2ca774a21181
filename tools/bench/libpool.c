/*
 * libpool.c - libdcf's pool (dcf.h) timed as Python's Pool is in pool.py:
 * from before the pool starts (its workers forked) to after it is freed,
 * N tasks through W workers in K networks, every result collected and
 * checked. A task's input is its 8-byte number padded to --size bytes; the
 * function returns the input (--size > 0: an echo, as pool.py's echo
 * returns its bytes) or nothing (--size 0: a no-op on an 8-byte input, as
 * pool.py's noop returns None). Prints one JSON object on stdout.
 *
 *     libpool --tasks N --workers W [--networks K] [--size B] [--collect wait|callback]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	uint64_t n, sum;
	int bad;
};

static void
take(struct tally *t, const struct dcf_result *r)
{
	uint64_t v = r->id;

	if (r->status != DCF_OK)
		t->bad = 1;
	if (out_size > 0 && (r->out_len != out_size || memcmp(r->out, &v, sizeof(v)) != 0))
		t->bad = 1;
	t->n++;
	t->sum += r->id;
}

static void
on_result(const struct dcf_result *r, void *arg)
{
	take(arg, r);
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
	uint64_t tasks = 1000000;
	unsigned workers = 2, nets = 1;
	size_t size = 0;
	int callback = 0;
	struct dcf_pool_opts o;
	struct dcf_pool *p;
	struct dcf_result r;
	struct dcf_pool_stats st;
	struct tally t;
	unsigned char *in;
	double t0, secs;
	char name[64];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--tasks") == 0)
			tasks = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--workers") == 0)
			workers = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--networks") == 0)
			nets = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--size") == 0)
			size = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--collect") == 0)
			callback = strcmp(argv[i + 1], "callback") == 0;
		else {
			fprintf(stderr, "libpool: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (nets == 0 || workers % nets != 0 || (size > 0 && size < 8)) {
		fprintf(stderr,
		    "libpool: --workers must be a multiple of --networks, --size 0 or >= 8\n");
		return 2;
	}
	out_size = size;
	in = calloc(1, size < 8 ? 8 : size);
	memset(&t, 0, sizeof(t));
	dcf_pool_opts_init(&o);
	snprintf(name, sizeof(name), "libpool-%d", (int)getpid());
	o.name = name;
	o.networks = nets;
	o.nodes = workers / nets;
	o.max_in = size < 8 ? 8 : size;
	o.max_out = size < 8 ? 8 : size;
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
		if (dcf_submit(p, in, size < 8 ? 8 : size, NULL) == -1) {
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
	free(in);
	if (t.bad || t.n != tasks || t.sum != tasks * (tasks - 1) / 2) {
		fprintf(stderr, "libpool: %llu results for %llu tasks, or a wrong one\n",
		    (unsigned long long)t.n, (unsigned long long)tasks);
		return 1;
	}
	printf("{\"kind\": \"libdcf\", \"tasks\": %llu, \"workers\": %u, \"networks\": %u, "
	       "\"size\": %zu, "
	       "\"collect\": \"%s\", \"secs\": %.6f, \"rate\": %.0f}\n",
	    (unsigned long long)tasks, workers, nets, size, callback ? "callback" : "wait", secs,
	    (double)tasks / secs);
	return 0;
}
