/*
 * ring.c - the machine's floor for handing items from one producer process
 * to C consumer processes: what dcf's books cost is measured against it.
 *
 *   ring  a ring of 32-bit items in shared memory, guarded by the same kind
 *         of robust, process-shared, error-checking mutex dcf uses; consumers
 *         that find it empty sleep on a futex word, and the producer wakes
 *         one after every push when anyone sleeps (as dcf does today). No
 *         task table, no journal, no completion path.
 *   pipe  8-byte messages through one pipe, one write(2) per item.
 *   mq    8-byte messages through one POSIX message queue.
 *   lock  uncontended lock + unlock of that mutex, nanoseconds per pair.
 *
 * Timed from before the first fork to after the last consumer is reaped, as
 * the whole dcf-supervisor process is. Prints one JSON object on stdout.
 * Exit 0 ok, 1 failure (a lost or doubled item), 2 usage.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <mqueue.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dcf/lock.h"
#include "dcf/mutex.h"
#include "dcf/util.h"
#include "dcf/wait.h"

#define CAP           1024u /* items; a power of two */
#define MAX_CONSUMERS 8192
#define END           UINT64_MAX /* pipe/mq: one per consumer, after the items */

/* The ring's shared state. The producer's and consumers' words are apart. */
struct ring {
	pthread_mutex_t lock __attribute__((aligned(64)));
	uint32_t head, tail;   /* free-running, under the lock */
	uint32_t sleepers;     /* consumers between "empty" and "woke", under the lock */
	uint32_t prod_waiting; /* producer asleep on `space` for room */
	uint32_t done;         /* no more items: consumers exit when empty */
	uint64_t consumed;     /* items taken, under the lock */
	uint64_t sum;          /* of the items' values, under the lock */
	uint32_t wake __attribute__((aligned(64)));  /* consumers sleep on it */
	uint32_t space __attribute__((aligned(64))); /* the producer sleeps on it */
	uint32_t slot[CAP] __attribute__((aligned(64)));
};

struct opts {
	const char *mode;
	uint64_t items;
	uint32_t consumers;
	uint32_t batch;
};

static void
ring_consumer(struct ring *r, uint32_t batch)
{
	uint64_t took = 0, sum = 0;
	int sleeping = 0;

	for (;;) {
		uint32_t n, w;
		int wake_prod = 0;

		pthread_mutex_lock(&r->lock);
		if (sleeping)
			r->sleepers--;
		sleeping = 0;
		n = r->tail - r->head;
		if (n > 0) {
			if (n > batch)
				n = batch;
			for (uint32_t i = 0; i < n; i++)
				sum += r->slot[(r->head + i) & (CAP - 1)];
			r->head += n;
			took += n;
			if (r->prod_waiting) {
				r->prod_waiting = 0;
				__atomic_add_fetch(&r->space, 1, __ATOMIC_RELEASE);
				wake_prod = 1;
			}
			pthread_mutex_unlock(&r->lock);
			if (wake_prod)
				dcf_futex_wake(&r->space, 1);
			continue;
		}
		if (r->done) {
			r->consumed += took;
			r->sum += sum;
			pthread_mutex_unlock(&r->lock);
			_exit(0);
		}
		r->sleepers++;
		sleeping = 1;
		w = __atomic_load_n(&r->wake, __ATOMIC_ACQUIRE);
		pthread_mutex_unlock(&r->lock);
		dcf_futex_wait(&r->wake, w, NULL);
	}
}

static void
ring_produce(struct ring *r, uint64_t items, uint32_t batch)
{
	uint64_t made = 0;

	while (made < items) {
		uint32_t room, k, s;
		int wake;

		pthread_mutex_lock(&r->lock);
		room = CAP - (r->tail - r->head);
		if (room == 0) {
			r->prod_waiting = 1;
			s = __atomic_load_n(&r->space, __ATOMIC_ACQUIRE);
			pthread_mutex_unlock(&r->lock);
			dcf_futex_wait(&r->space, s, NULL);
			continue;
		}
		k = batch < room ? batch : room;
		if (items - made < k)
			k = (uint32_t)(items - made);
		for (uint32_t i = 0; i < k; i++)
			r->slot[(r->tail + i) & (CAP - 1)] = (uint32_t)(made + i);
		r->tail += k;
		made += k;
		__atomic_add_fetch(&r->wake, 1, __ATOMIC_RELEASE);
		wake = r->sleepers > 0;
		pthread_mutex_unlock(&r->lock);
		if (wake)
			dcf_futex_wake(&r->wake, 1);
	}
	pthread_mutex_lock(&r->lock);
	r->done = 1;
	__atomic_add_fetch(&r->wake, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&r->lock);
	dcf_futex_wake(&r->wake, INT_MAX);
}

static uint64_t
expected_sum(uint64_t items)
{
	uint64_t s = 0;

	for (uint64_t i = 0; i < items; i++)
		s += (uint32_t)i;
	return s;
}

static int
reap_all(uint32_t n)
{
	int bad = 0, st;

	for (uint32_t i = 0; i < n; i++) {
		while (wait(&st) == -1)
			if (errno != EINTR)
				return -1;
		bad |= !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	return bad ? -1 : 0;
}

static int
run_ring(const struct opts *o, double *secs)
{
	struct ring *r;
	uint64_t t0;
	int ok;

	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		err(1, "mmap");
	if (dcf_mutex_init(&r->lock) == -1)
		err(1, "mutex init");
	t0 = dcf_now_ns();
	for (uint32_t i = 0; i < o->consumers; i++) {
		pid_t p = fork();

		if (p == -1)
			err(1, "fork");
		if (p == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			ring_consumer(r, o->batch);
		}
	}
	ring_produce(r, o->items, o->batch);
	if (reap_all(o->consumers) == -1)
		errx(1, "a consumer failed");
	*secs = (double)(dcf_now_ns() - t0) / 1e9;
	ok = r->consumed == o->items && r->sum == expected_sum(o->items);
	munmap(r, sizeof(*r));
	return ok ? 0 : -1;
}

/* pipe and mq consumers: count items and their sum, report through a pipe. */
static void
report(int fd, uint64_t took, uint64_t sum)
{
	uint64_t v[2] = {took, sum};

	if (write(fd, v, sizeof(v)) != (ssize_t)sizeof(v))
		_exit(1);
	_exit(0);
}

static int
collect(int fd, uint32_t consumers, uint64_t items)
{
	uint64_t took = 0, sum = 0, v[2];

	for (uint32_t i = 0; i < consumers; i++) {
		if (read(fd, v, sizeof(v)) != (ssize_t)sizeof(v))
			return -1;
		took += v[0];
		sum += v[1];
	}
	return took == items && sum == expected_sum(items) ? 0 : -1;
}

static int
run_pipe(const struct opts *o, double *secs)
{
	int q[2], rep[2], bad;
	uint64_t t0;

	if (pipe(q) == -1 || pipe(rep) == -1)
		err(1, "pipe");
	t0 = dcf_now_ns();
	for (uint32_t i = 0; i < o->consumers; i++) {
		pid_t p = fork();

		if (p == -1)
			err(1, "fork");
		if (p == 0) {
			uint64_t v, took = 0, sum = 0;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(q[1]);
			while (read(q[0], &v, sizeof(v)) == (ssize_t)sizeof(v) && v != END) {
				took++;
				sum += v;
			}
			report(rep[1], took, sum);
		}
	}
	close(q[0]);
	for (uint64_t i = 0; i < o->items + o->consumers; i++) {
		uint64_t v = i < o->items ? (uint32_t)i : END;

		if (write(q[1], &v, sizeof(v)) != (ssize_t)sizeof(v))
			err(1, "write");
	}
	bad = collect(rep[0], o->consumers, o->items);
	if (reap_all(o->consumers) == -1)
		errx(1, "a consumer failed");
	*secs = (double)(dcf_now_ns() - t0) / 1e9;
	close(q[1]);
	close(rep[0]);
	close(rep[1]);
	return bad;
}

static long
mq_limit(void)
{
	FILE *f = fopen("/proc/sys/fs/mqueue/msg_max", "r");
	long v = 10;

	if (f != NULL) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 10;
		fclose(f);
	}
	return v;
}

static int
run_mq(const struct opts *o, double *secs)
{
	struct mq_attr a;
	char name[64];
	int rep[2], bad;
	uint64_t t0;
	mqd_t q;

	memset(&a, 0, sizeof(a));
	a.mq_maxmsg = mq_limit();
	a.mq_msgsize = sizeof(uint64_t);
	snprintf(name, sizeof(name), "/bench-%d-mq", (int)getpid());
	q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
	if (q == (mqd_t)-1)
		err(1, "mq_open %s", name);
	mq_unlink(name); /* the descriptors keep it alive; nothing is left behind */
	if (pipe(rep) == -1)
		err(1, "pipe");
	t0 = dcf_now_ns();
	for (uint32_t i = 0; i < o->consumers; i++) {
		pid_t p = fork();

		if (p == -1)
			err(1, "fork");
		if (p == 0) {
			uint64_t v, took = 0, sum = 0;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			while (mq_receive(q, (char *)&v, sizeof(v), NULL) == (ssize_t)sizeof(v) &&
			    v != END) {
				took++;
				sum += v;
			}
			report(rep[1], took, sum);
		}
	}
	for (uint64_t i = 0; i < o->items + o->consumers; i++) {
		uint64_t v = i < o->items ? (uint32_t)i : END;

		if (mq_send(q, (const char *)&v, sizeof(v), 0) == -1)
			err(1, "mq_send");
	}
	bad = collect(rep[0], o->consumers, o->items);
	if (reap_all(o->consumers) == -1)
		errx(1, "a consumer failed");
	*secs = (double)(dcf_now_ns() - t0) / 1e9;
	mq_close(q);
	close(rep[0]);
	close(rep[1]);
	return bad;
}

/* Uncontended lock + unlock of dcf's kind of mutex: best of three. */
static double
lock_ns(uint64_t pairs)
{
	pthread_mutex_t *m;
	double best = 1e18;

	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		err(1, "mmap");
	if (dcf_mutex_init(m) == -1)
		err(1, "mutex init");
	for (int k = 0; k < 3; k++) {
		uint64_t t0 = dcf_now_ns();

		for (uint64_t i = 0; i < pairs; i++) {
			pthread_mutex_lock(m);
			pthread_mutex_unlock(m);
		}
		if ((double)(dcf_now_ns() - t0) / (double)pairs < best)
			best = (double)(dcf_now_ns() - t0) / (double)pairs;
	}
	munmap(m, sizeof(*m));
	return best;
}

static void usage(int code) __attribute__((noreturn));

static void
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: ring [--mode ring|pipe|mq|lock] [--items N] [--consumers C] [--batch B]\n");
	exit(code);
}

static uint64_t
arg_num(const char *s, uint64_t lo, uint64_t hi)
{
	uint64_t v;

	if (dcf_parse_u64(s, lo, hi, &v) == -1) {
		warnx("'%s': expected a whole number from %llu to %llu", s, (unsigned long long)lo,
		    (unsigned long long)hi);
		usage(2);
	}
	return v;
}

static void
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {{"mode", required_argument, NULL, 'm'},
	    {"items", required_argument, NULL, 'i'}, {"consumers", required_argument, NULL, 'c'},
	    {"batch", required_argument, NULL, 'b'}, {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	int ch;

	o->mode = "ring";
	o->items = 1000000;
	o->consumers = 2;
	o->batch = 1;
	while ((ch = getopt_long(argc, argv, "m:i:c:b:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'm':
			o->mode = optarg;
			break;
		case 'i':
			o->items = arg_num(optarg, 1, 1ULL << 32);
			break;
		case 'c':
			o->consumers = (uint32_t)arg_num(optarg, 1, MAX_CONSUMERS);
			break;
		case 'b':
			o->batch = (uint32_t)arg_num(optarg, 1, CAP);
			break;
		case 'h':
			usage(0);
			break;
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
}

int
main(int argc, char **argv)
{
	struct opts o;
	double secs = 0;
	int r;

	parse(argc, argv, &o);
	if (strcmp(o.mode, "lock") == 0) {
		printf("{\"mode\":\"lock\",\"ns_per_pair\":%.2f}\n", lock_ns(20000000));
		return 0;
	}
	if (strcmp(o.mode, "ring") == 0)
		r = run_ring(&o, &secs);
	else if (strcmp(o.mode, "pipe") == 0)
		r = run_pipe(&o, &secs);
	else if (strcmp(o.mode, "mq") == 0)
		r = run_mq(&o, &secs);
	else
		usage(2);
	if (r != 0)
		errx(1, "%s: items lost or doubled", o.mode);
	printf("{\"mode\":\"%s\",\"items\":%llu,\"consumers\":%u,\"batch\":%u,\"secs\":%.6f,"
	       "\"rate\":%.0f}\n",
	    o.mode, (unsigned long long)o.items, o.consumers, o.batch, secs,
	    (double)o.items / secs);
	return 0;
}
