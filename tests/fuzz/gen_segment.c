/*
 * gen_segment.c - seeds for the segment fuzzer: real images of real states.
 *
 *   gen_segment DIR
 *
 * Each state is built in a real segment (dcf_seg_create under the name
 * "t<pid>-fz<n>", so the test runner's check for leftovers knows it) with
 * the books' own operations under dcf_lock, and its mapping written to
 * DIR/<state> byte for byte. Some states are taken from a child SIGKILLed
 * in the middle of a transaction (the build with crash points): the image
 * then holds a published journal, and seq is odd once applying began, as a
 * dead lock holder leaves it. The configurations are small (1 or 2
 * networks, at most 12 nodes and 8 task slots), so every image is a few KiB.
 *
 * The images hold the current uid and this build's layout format: make
 * fuzz writes fresh ones into its build directory before every run.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dcf/books.h"
#include "dcf/inject.h"
#include "dcf/lock.h"
#include "dcf/ring.h"
#include "dcf/seg.h"
#include "dcf/util.h"

static const char *outdir;
static struct dcf_seg cur; /* the segment being built: removed on every way out */
static int have_cur;
static unsigned nseg;

static void
cleanup(void)
{
	if (have_cur)
		dcf_seg_destroy(&cur);
	have_cur = 0;
}

#define CHECK(call) \
	do { \
		if ((call) == -1) \
			errx(1, "%s:%d: %s: %s", __FILE__, __LINE__, #call, strerror(errno)); \
	} while (0)

static void
config(struct dcf_config *c, uint32_t nets, uint32_t npn, uint32_t spare, uint32_t slots,
    uint64_t tasks)
{
	dcf_config_default(c);
	c->nets = nets;
	c->nodes_per_net = npn;
	c->max_nodes = nets * npn + spare;
	c->task_slots = slots;
	c->tasks = tasks;
	c->task_ms_min = 10;
	c->task_ms_max = 90;
	c->downtime_ms_min = 1;
	c->downtime_ms_max = 5;
	c->max_attempts = 2;
	c->grace_ms = 100;
	c->cpu_iters_per_ms = 10;
}

static struct dcf_seg *
create(const struct dcf_config *c)
{
	char name[DCF_NAME_MAX + 1], err[DCF_ERRLEN];
	pid_t took;

	snprintf(name, sizeof(name), "t%d-fz%u", (int)getpid(), nseg++);
	if (dcf_seg_create(&cur, name, c, &took, err, sizeof(err)) == -1)
		errx(1, "creating segment %s: %s", name, err);
	have_cur = 1;
	return &cur;
}

/* Write the image to DIR/state, then remove the segment. */
static void
save(const char *state)
{
	char path[4096];
	size_t off = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", outdir, state);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		err(1, "%s", path);
	while (off < cur.size) {
		ssize_t n = write(fd, cur.base + off, cur.size - off);

		if (n <= 0)
			err(1, "writing %s", path);
		off += (size_t)n;
	}
	if (close(fd) == -1)
		err(1, "%s", path);
	cleanup();
}

static void
lock(struct dcf_seg *sg)
{
	CHECK(dcf_lock(sg));
}

static void
unlock_checked(struct dcf_seg *sg)
{
	char err[DCF_ERRLEN];

	if (dcf_books_check_locked(sg, err, sizeof(err)) == -1)
		errx(1, "books inconsistent: %s", err);
	dcf_unlock(sg);
}

static void
claim(struct dcf_seg *sg, uint32_t node, uint32_t gen, struct dcf_claim *cl)
{
	CHECK(dcf_claim_locked(sg, node, gen, 2000 + (pid_t)node, dcf_now_ns(), cl));
}

static void
complete(struct dcf_seg *sg, uint32_t node, uint32_t gen, const struct dcf_claim *cl)
{
	int wake;

	CHECK(dcf_complete_locked(sg, node, gen, cl->slot, cl->id, dcf_mix64(cl->id), &wake));
}

/* Every node of the table started as generation 1 (pid 1000 + slot), all but `starting` ready. */
static void
nodes_up(struct dcf_seg *sg, uint32_t starting)
{
	for (uint32_t n = 0; n < sg->cfg.nets * sg->cfg.nodes_per_net; n++) {
		CHECK(dcf_node_start_locked(sg, n, 1, 1000 + (pid_t)n, 0, dcf_now_ns()));
		if (n != starting)
			CHECK(dcf_node_ready_locked(sg, n, 1, dcf_now_ns()));
	}
}

/* 2 networks of 2 nodes, 8 slots, 20 tasks: work queued, running, done. */
static struct dcf_seg *
busy_2x2(uint32_t spare)
{
	struct dcf_config c;
	struct dcf_seg *sg;
	struct dcf_claim cl;
	struct dcf_done d;

	config(&c, 2, 2, spare, 8, 20);
	sg = create(&c);
	lock(sg);
	nodes_up(sg, 3);
	for (int i = 0; i < 6; i++)
		CHECK(dcf_dispatch_locked(sg,
		    i < 1 ? DCF_RING_RECOVERY : DCF_RING_NET0 + (uint32_t)(i & 1), dcf_now_ns()));
	claim(sg, 0, 1, &cl); /* id 0, from recovery */
	complete(sg, 0, 1, &cl);
	CHECK(dcf_retire_locked(sg, &d));
	claim(sg, 0, 1, &cl); /* busy */
	claim(sg, 2, 1, &cl);
	complete(sg, 2, 1, &cl); /* done, not retired */
	claim(sg, 2, 1, &cl);    /* busy */
	unlock_checked(sg);
	return sg;
}

static void
fresh(void)
{
	struct dcf_config c;

	config(&c, 1, 1, 0, 2, 3);
	create(&c);
	save("fresh-1x1");
}

/* Crashes: a task reclaimed, one quarantined, a node failed, one asleep. */
static void
crashes(void)
{
	struct dcf_seg *sg = busy_2x2(0);
	struct dcf_reclaim rc;
	uint32_t word;

	lock(sg);
	CHECK(dcf_node_died_locked(sg, 0, 1, 2, dcf_now_ns(), &rc)); /* back to recovery */
	CHECK(dcf_node_start_locked(sg, 0, 2, 1100, 1, dcf_now_ns()));
	CHECK(dcf_node_died_locked(sg, 2, 1, 1, dcf_now_ns(), &rc)); /* quarantined */
	CHECK(dcf_node_set_state_locked(sg, 2, DCF_NODE_FAILED));
	CHECK(dcf_sleep_begin_locked(sg, 1, &word));
	unlock_checked(sg);
	save("crashes-2x2");
}

/* A run at its end: every task done and retired, stopping, nodes stopped; cpu work. */
static void
finished(void)
{
	struct dcf_config c;
	struct dcf_seg *sg;
	struct dcf_claim cl;
	struct dcf_done d;

	config(&c, 1, 3, 2, 4, 6);
	c.work = DCF_WORK_CPU;
	sg = create(&c);
	lock(sg);
	nodes_up(sg, DCF_NONE);
	for (uint32_t i = 0; i < 6; i++) {
		CHECK(dcf_dispatch_locked(sg, DCF_RING_NET0, dcf_now_ns()));
		claim(sg, i % 3, 1, &cl);
		complete(sg, i % 3, 1, &cl);
		CHECK(dcf_retire_locked(sg, &d));
	}
	__atomic_store_n(&sg->hdr->sys_state, DCF_SYS_STOPPING, __ATOMIC_RELEASE);
	for (uint32_t n = 0; n < 3; n++)
		CHECK(dcf_node_set_state_locked(sg, n, DCF_NODE_STOPPED));
	unlock_checked(sg);
	save("finished-1x3-spare2");
}

/* The ring counters just below 2^32, then wrapped by the next pushes. */
static void
wrapped(void)
{
	const uint32_t base = UINT32_MAX - 2;
	struct dcf_config c;
	struct dcf_seg *sg;
	struct dcf_claim cl;
	uint32_t *free_slots;

	config(&c, 1, 2, 0, 4, 1000);
	sg = create(&c);
	/* Fresh: only the free ring holds slots, 0..3 in order. */
	free_slots = dcf_ring_slots(sg, DCF_RING_FREE);
	for (uint32_t r = 0; r < sg->nrings; r++)
		sg->rings[r].head = sg->rings[r].tail = base;
	for (uint32_t i = 0; i < c.task_slots; i++)
		free_slots[(base + i) & (c.task_slots - 1)] = i;
	sg->rings[DCF_RING_FREE].tail = base + c.task_slots;
	lock(sg);
	nodes_up(sg, DCF_NONE);
	for (int i = 0; i < 4; i++)
		CHECK(dcf_dispatch_locked(sg, DCF_RING_NET0, dcf_now_ns()));
	for (int i = 0; i < 3; i++) {
		claim(sg, 0, 1, &cl);
		complete(sg, 0, 1, &cl);
	}
	claim(sg, 1, 1, &cl);
	unlock_checked(sg);
	save("wrapped-1x2");
}

/* One network of 12 nodes, more than a narrow grid row holds; 2 slots, both running. */
static void
wide(void)
{
	struct dcf_config c;
	struct dcf_seg *sg;
	struct dcf_claim cl;

	config(&c, 1, 12, 0, 2, 5);
	sg = create(&c);
	lock(sg);
	nodes_up(sg, 11);
	for (uint32_t i = 0; i < 2; i++) {
		CHECK(dcf_dispatch_locked(sg, DCF_RING_NET0, dcf_now_ns()));
		claim(sg, 3 + i, 1, &cl);
	}
	CHECK(dcf_node_set_state_locked(sg, 7, DCF_NODE_FAILED));
	unlock_checked(sg);
	save("wide-1x12");
}

/* After a full reset: running tasks reclaimed, the nodes that were alive DOWN. */
static void
after_reset(void)
{
	struct dcf_seg *sg = busy_2x2(1);
	char err[DCF_ERRLEN];

	if (dcf_books_reset(sg, 2, err, sizeof(err)) == -1)
		errx(1, "reset: %s", err);
	save("reset-2x2-spare1");
}

/*
 * A child SIGKILLed inside a transaction at (op, step): seq stays odd, the
 * journal published. op is DCF_OP_COMPLETE (node 0's task) or DCF_OP_CLAIM
 * (node 1 claims).
 */
static void
torn(int op, int step, const char *state)
{
	struct dcf_seg *sg = busy_2x2(0);
	uint32_t slot = sg->nodes[0].task_slot;
	uint64_t id = sg->nodes[0].task_id;
	int st;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == -1)
		err(1, "fork");
	if (pid == 0) {
		struct dcf_claim cl;
		int wake;

		dcf_inject_arm(op, step, 1);
		if (dcf_lock(sg) == -1)
			_exit(2);
		if (op == DCF_OP_COMPLETE)
			(void)!dcf_complete_locked(sg, 0, 1, slot, id, dcf_mix64(id), &wake);
		else
			(void)!dcf_claim_locked(sg, 1, 1, 2001, dcf_now_ns(), &cl);
		_exit(3); /* the crash point was never reached */
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			err(1, "waitpid");
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		errx(1, "%s: the child was not killed at its crash point (status %#x)", state, st);
	/* Published: the journal is there; applying: seq is odd too. */
	if (sg->hdr->wal.n == 0 || ((sg->hdr->seq & 1) == 0) != (step == DCF_STEP_PUBLISHED))
		errx(1, "%s: not the transaction state asked for (seq %llu, journal %u)", state,
		    (unsigned long long)sg->hdr->seq, sg->hdr->wal.n);
	save(state);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_segment DIR\n");
		return 2;
	}
	outdir = argv[1];
	atexit(cleanup);
	fresh();
	busy_2x2(0);
	save("busy-2x2");
	crashes();
	finished();
	wrapped();
	wide();
	after_reset();
	torn(DCF_OP_COMPLETE, DCF_STEP_PUBLISHED, "torn-complete-published");
	torn(DCF_OP_COMPLETE, DCF_STEP_APPLY(3), "torn-complete-apply3");
	torn(DCF_OP_CLAIM, DCF_STEP_APPLIED, "torn-claim-applied");
	return 0;
}
