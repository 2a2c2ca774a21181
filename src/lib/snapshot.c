/* snapshot.c - a consistent copy of a segment taken without its lock (snapshot.h). */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcf/seg.h"
#include "dcf/snapshot.h"
#include "dcf/tx.h"
#include "dcf/util.h"

#define WHY(...) \
	do { \
		snprintf(s->why, sizeof(s->why), __VA_ARGS__); \
		return -1; \
	} while (0)

struct dcf_snap *
dcf_snap_new(void)
{
	return calloc(1, sizeof(struct dcf_snap));
}

void
dcf_snap_free(struct dcf_snap *s)
{
	free(s);
}

const char *
dcf_snap_state_name(uint32_t st)
{
	static const char *const names[DCF_NODE_NSTATES] = {"empty", "starting", "idle", "busy",
	    "down", "failed", "stopped"};

	return st < DCF_NODE_NSTATES ? names[st] : "invalid";
}

const char *
dcf_snap_sys_name(uint32_t st)
{
	static const char *const names[] = {"running", "stopping", "reset", "ended"};

	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "invalid";
}

const char *
dcf_snap_work_name(uint32_t w)
{
	static const char *const names[] = {"sleep", "cpu", "none", "command", "function"};

	return w < sizeof(names) / sizeof(names[0]) ? names[w] : "invalid";
}

/*
 * One copy between two reads of the seq word. 0: a clean copy taken while
 * the word stayed at *seq; 1: torn; -1: the header is unreadable. The region
 * sizes come from the checked copy, so every memcpy stays inside the image.
 */
static int
snap_copy(struct dcf_snap *s, const unsigned char *img, size_t size, uid_t uid, uint64_t *seq,
    char *err, size_t errlen)
{
	const struct dcf_hdr *live = (const void *)img;
	const struct dcf_hdr *h = &s->hdr;
	uint64_t s2;

	*seq = __atomic_load_n(&live->seq, __ATOMIC_ACQUIRE);
	memcpy(&s->hdr, img, sizeof(s->hdr));
	if (dcf_seg_check_hdr(h, size, uid, err, errlen) == -1)
		return -1;
	memcpy(s->nets, img + h->off_nets, (size_t)h->cfg.nets * sizeof(s->nets[0]));
	memcpy(s->rings, img + h->off_rings, (size_t)h->nrings * sizeof(s->rings[0]));
	memcpy(s->nodes, img + h->off_nodes, (size_t)h->cfg.max_nodes * sizeof(s->nodes[0]));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	s2 = __atomic_load_n(&live->seq, __ATOMIC_RELAXED);
	return s2 == *seq ? 0 : 1;
}

/*
 * Where journal entry e lands in the copy: *dst, or NULL for a store to the
 * ring slots or task table, which we do not copy. -1 for an entry no journal
 * may hold (dcf_wal_entry_ok, the rule replay follows).
 */
static int
replay_target(struct dcf_snap *s, const struct dcf_wal_ent *e, size_t size, unsigned char **dst)
{
	const struct dcf_hdr *h = &s->hdr;
	const uint64_t off = e->off, end = off + e->width;
	const struct {
		uint64_t off, len;
		void *copy;
	} reg[] = {
	    {h->off_nets, (uint64_t)h->cfg.nets * sizeof(s->nets[0]), s->nets},
	    {h->off_rings, (uint64_t)h->nrings * sizeof(s->rings[0]), s->rings},
	    {h->off_nodes, (uint64_t)h->cfg.max_nodes * sizeof(s->nodes[0]), s->nodes},
	};

	*dst = NULL;
	if (!dcf_wal_entry_ok(e, size, h->off_nets))
		return -1;
	if (off < h->off_nets) { /* the header's state and counters: in our copy of it */
		*dst = (unsigned char *)&s->hdr + off;
		return 0;
	}
	for (size_t i = 0; i < sizeof(reg) / sizeof(reg[0]); i++)
		if (off >= reg[i].off && end <= reg[i].off + reg[i].len) {
			*dst = (unsigned char *)reg[i].copy + (off - reg[i].off);
			return 0;
		}
	return 0;
}

/* The copy was taken mid-transaction: apply its journal, all or nothing. */
static int
snap_replay(struct dcf_snap *s, size_t size)
{
	const struct dcf_wal *w = &s->hdr.wal;
	unsigned char *dst[DCF_WAL_MAX];
	uint32_t n = w->n;

	if (n == 0 || n > DCF_WAL_MAX)
		WHY("a transaction was being applied and no journal of it was readable");
	for (uint32_t i = 0; i < n; i++)
		if (replay_target(s, &w->e[i], size, &dst[i]) == -1)
			WHY("a transaction was being applied and its journal entry %u is out of "
			    "bounds",
			    i);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t v32 = (uint32_t)w->e[i].val;
		uint64_t v64 = w->e[i].val;

		if (dst[i] == NULL)
			continue;
		if (w->e[i].width == 8)
			memcpy(dst[i], &v64, sizeof(v64));
		else
			memcpy(dst[i], &v32, sizeof(v32));
	}
	s->replayed = 1;
	return 0;
}

static uint32_t
ring_depth(const struct dcf_snap *s, uint32_t r)
{
	return s->rings[r].tail - s->rings[r].head;
}

/* The task counts and books.h I4, on the copy: -1 with s->why if they do not add up. */
static int
snap_count(struct dcf_snap *s)
{
	const struct dcf_hdr *h = &s->hdr;
	const struct dcf_counters *c = &h->cnt;
	uint64_t rest;

	s->queued = 0;
	for (uint32_t r = DCF_RING_RECOVERY; r < h->nrings; r++) {
		uint32_t d = ring_depth(s, r);

		if (d > h->ring_cap)
			WHY("ring %u holds %u tasks, over its capacity %u", r, d, h->ring_cap);
		s->queued += d;
	}
	if (c->next_id > h->cfg.tasks ||
	    (h->total != DCF_TASKS_STREAM && (h->total > h->cfg.tasks || c->next_id > h->total)))
		WHY("%llu tasks dispatched of %llu", (unsigned long long)c->next_id,
		    (unsigned long long)(h->total == DCF_TASKS_STREAM ? h->cfg.tasks : h->total));
	/* I4 by subtraction, so that no sum of untrusted values can wrap. */
	rest = c->dispatched;
	if (s->queued > rest || c->running > rest - s->queued ||
	    c->completed > rest - s->queued - c->running ||
	    c->quarantined != rest - s->queued - c->running - c->completed ||
	    c->dispatched > c->next_id || c->skipped > c->next_id - c->dispatched)
		WHY("dispatched %llu != queued %llu + running %llu + completed %llu + quarantined "
		    "%llu",
		    (unsigned long long)c->dispatched, (unsigned long long)s->queued,
		    (unsigned long long)c->running, (unsigned long long)c->completed,
		    (unsigned long long)c->quarantined);
	/*
	 * A stream's total is known when its input has ended: until then, what
	 * the books have seen (a service's ids come by priority, so some below
	 * next_id may not have come yet). A run of known size dispatches in order.
	 */
	s->streaming = h->total == DCF_TASKS_STREAM;
	if (!s->streaming && c->next_id != c->dispatched + c->skipped)
		WHY("%llu tasks dispatched and %llu skipped, but the next is %llu",
		    (unsigned long long)c->dispatched, (unsigned long long)c->skipped,
		    (unsigned long long)c->next_id);
	s->total = s->streaming ? c->dispatched + c->skipped : h->total;
	s->pending = s->total - c->dispatched - c->skipped;
	s->running = c->running;
	s->skipped = c->skipped;
	s->completed = c->completed;
	s->quarantined = c->quarantined;
	s->reclaimed = c->reclaimed;
	s->recovery_depth = 0;
	for (uint32_t l = 0; l < DCF_LEVELS; l++) {
		s->level_depth[l] = ring_depth(s, dcf_ring_of(h->cfg.nets, l, DCF_NONE));
		s->recovery_depth += s->level_depth[l];
		for (uint32_t n = 0; n < h->cfg.nets; n++)
			s->level_depth[l] += ring_depth(s, dcf_ring_of(h->cfg.nets, l, n));
	}
	return 0;
}

int
dcf_snap_node(const struct dcf_snap *s, uint32_t n, struct dcf_snap_node *v)
{
	const struct dcf_config *c = &s->hdr.cfg;
	const struct dcf_node *nd;
	uint32_t fixed = c->nets * c->nodes_per_net; /* slots whose identity is set at creation */
	int alive;

	if (!s->hdr_ok || n >= c->max_nodes || s->nodes[n].state == DCF_NODE_EMPTY)
		return -1;
	nd = &s->nodes[n];
	memset(v, 0, sizeof(*v));
	v->slot = n;
	v->net = nd->net;
	v->idx = nd->idx;
	v->id_ok = nd->net < c->nets && nd->idx < c->nodes_per_net &&
	    (n >= fixed || (nd->net == n / c->nodes_per_net && nd->idx == n % c->nodes_per_net));
	v->state = nd->state < DCF_NODE_NSTATES ? nd->state : DCF_NODE_NSTATES;
	alive = dcf_node_alive(v->state);
	v->has_pid = alive && nd->pid > 0;
	v->pid = v->has_pid ? nd->pid : 0;
	v->has_task =
	    v->state == DCF_NODE_BUSY && nd->task_slot < c->task_slots && nd->task_id < c->tasks;
	v->task_id = v->has_task ? nd->task_id : 0;
	v->has_run = v->has_task && nd->busy_since_ns != 0 && nd->busy_since_ns <= s->taken_ns;
	v->run_ns = v->has_run ? s->taken_ns - nd->busy_since_ns : 0;
	v->has_hb = nd->heartbeat_ns != 0 && nd->heartbeat_ns <= s->taken_ns;
	v->hb_age_ns = v->has_hb ? s->taken_ns - nd->heartbeat_ns : 0;
	v->completed = nd->completed;
	v->failures = nd->failures;
	v->restarts = nd->restarts;
	/* STARTING with no pid is legal: the supervisor publishes the node before fork. */
	v->bad = !v->id_ok || v->state == DCF_NODE_NSTATES ||
	    (alive && v->state != DCF_NODE_STARTING && nd->pid <= 0) ||
	    (v->state == DCF_NODE_BUSY && !v->has_task);
	return 0;
}

/* Per-network node counts, and the out-of-range values found on the way. */
static void
snap_nodes(struct dcf_snap *s)
{
	const struct dcf_hdr *h = &s->hdr;

	memset(s->net, 0, (size_t)h->cfg.nets * sizeof(s->net[0]));
	s->anomalies = 0;
	for (uint32_t n = 0; n < h->cfg.max_nodes; n++) {
		struct dcf_snap_node v;
		struct dcf_snap_net *sn;

		if (dcf_snap_node(s, n, &v) == -1)
			continue;
		s->anomalies += v.bad != 0;
		if (!v.id_ok || v.state == DCF_NODE_NSTATES)
			continue;
		sn = &s->net[v.net];
		sn->nodes++;
		sn->by_state[v.state]++;
		sn->alive += dcf_node_alive(v.state);
	}
	for (uint32_t i = 0; i < h->cfg.nets; i++) {
		s->net[i].queue_depth = 0;
		for (uint32_t l = 0; l < DCF_LEVELS; l++)
			s->net[i].queue_depth += ring_depth(s, dcf_ring_of(h->cfg.nets, l, i));
		s->net[i].completed = s->nets[i].completed;
	}
	s->anomalies += h->sys_state > DCF_SYS_ENDED;
	s->anomalies += h->created_mono_ns > s->taken_ns;
}

int
dcf_snap_take(struct dcf_snap *s, const void *img, size_t size, uid_t uid, unsigned tries,
    char *err, size_t errlen)
{
	int torn = 1;

	s->hdr_ok = 0;
	s->consistent = 0;
	s->replayed = 0;
	s->tries = 0;
	s->anomalies = 0;
	s->why[0] = '\0';
	if (img == NULL || ((uintptr_t)img & 7) != 0)
		DCF_BAD(EINVAL, "segment image is not 8-byte aligned");
	if (size < sizeof(struct dcf_hdr))
		DCF_BAD(EINVAL, "segment too small (%zu bytes) to hold a header", size);
	if (tries == 0)
		tries = 1;
	while (s->tries < tries) {
		uint64_t seq;
		int r;

		if (s->tries++ > 0)
			sched_yield(); /* let the writer finish its transaction */
		s->hdr_ok = 0;
		s->replayed = 0;
		r = snap_copy(s, img, size, uid, &seq, err, errlen);
		if (r == -1)
			return -1;
		s->hdr_ok = 1;
		s->taken_ns = dcf_now_ns();
		if (r == 1) {
			torn = 1;
			snprintf(s->why, sizeof(s->why), "the books changed during every copy");
			continue;
		}
		if ((seq & 1) && snap_replay(s, size) == -1) {
			torn = 1;
			continue;
		}
		if (snap_count(s) == -1) {
			torn = 0;
			continue;
		}
		snap_nodes(s);
		s->consistent = 1;
		return 0;
	}
	snprintf(err, errlen, "no consistent snapshot in %u tries: %s", s->tries, s->why);
	errno = torn ? EAGAIN : EUCLEAN;
	return -1;
}
