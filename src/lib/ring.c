/* ring.c - push and pop as journal records. */
#include <errno.h>

#include "dcf/ring.h"

uint32_t *
dcf_ring_slots(struct dcf_seg *sg, uint32_t ring)
{
	return sg->ring_slots + (uint64_t)ring * sg->ring_cap;
}

/* One entry: the n-entry forms with n = 1 (the same checks, the same stores). */
int
dcf_ring_push_tx(struct dcf_tx *tx, uint32_t ring, uint32_t v)
{
	return dcf_ring_push_n_tx(tx, ring, &v, 1);
}

int
dcf_ring_pop_tx(struct dcf_tx *tx, uint32_t ring, uint32_t *v)
{
	uint32_t got;

	return dcf_ring_pop_n_tx(tx, ring, v, 1, &got);
}

/* Room for n more entries in ring r: 0, or -1 with EUCLEAN (a corrupt depth) or ENOSPC. */
static int
ring_room(const struct dcf_seg *sg, const struct dcf_ring *r, uint32_t n)
{
	uint32_t depth = r->tail - r->head;

	if (depth > sg->ring_cap) {
		errno = EUCLEAN;
		return -1;
	}
	if (n > sg->ring_cap - depth) {
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

int
dcf_ring_push_n_tx(struct dcf_tx *tx, uint32_t ring, const uint32_t *v, uint32_t n)
{
	struct dcf_seg *sg = tx->sg;
	struct dcf_ring *r = &sg->rings[ring];
	uint32_t cap = sg->ring_cap, t = r->tail, *slots = dcf_ring_slots(sg, ring);

	if (ring_room(sg, r, n) == -1)
		return -1;
	if (n == 0)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		dcf_tx_put32(tx, &slots[(t + i) & (cap - 1)], v[i]);
	dcf_tx_put32(tx, &r->tail, t + n);
	return 0;
}

int
dcf_ring_pop_n_tx(struct dcf_tx *tx, uint32_t ring, uint32_t *v, uint32_t n, uint32_t *got)
{
	struct dcf_seg *sg = tx->sg;
	struct dcf_ring *r = &sg->rings[ring];
	uint32_t cap = sg->ring_cap, h = r->head, *slots = dcf_ring_slots(sg, ring);
	uint32_t depth = r->tail - h;

	*got = 0;
	if (depth > cap) {
		errno = EUCLEAN;
		return -1;
	}
	if (depth == 0 || n == 0) {
		errno = ENOENT;
		return -1;
	}
	if (n > depth)
		n = depth;
	for (uint32_t i = 0; i < n; i++) {
		v[i] = slots[(h + i) & (cap - 1)];
		if (v[i] >= sg->cfg.task_slots) {
			errno = EUCLEAN;
			return -1;
		}
	}
	dcf_tx_put32(tx, &r->head, h + n);
	*got = n;
	return 0;
}

int
dcf_ring_unpop_n_tx(struct dcf_tx *tx, uint32_t ring, const uint32_t *v, uint32_t n)
{
	struct dcf_seg *sg = tx->sg;
	struct dcf_ring *r = &sg->rings[ring];
	uint32_t cap = sg->ring_cap, h = r->head, *slots = dcf_ring_slots(sg, ring);

	if (ring_room(sg, r, n) == -1)
		return -1;
	if (n == 0)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		dcf_tx_put32(tx, &slots[(h - n + i) & (cap - 1)], v[i]);
	dcf_tx_put32(tx, &r->head, h - n);
	return 0;
}

int
dcf_ring_remove_tx(struct dcf_tx *tx, uint32_t ring, uint32_t pos, uint32_t max_moves)
{
	struct dcf_seg *sg = tx->sg;
	struct dcf_ring *r = &sg->rings[ring];
	uint32_t m = sg->ring_cap - 1, h = r->head, t = r->tail, *slots = dcf_ring_slots(sg, ring);
	uint32_t depth = t - h;

	if (depth > sg->ring_cap) {
		errno = EUCLEAN;
		return -1;
	}
	if (pos >= depth) {
		errno = EINVAL;
		return -1;
	}
	if ((pos < depth - 1 - pos ? pos : depth - 1 - pos) > max_moves) {
		errno = E2BIG;
		return -1;
	}
	/* The stores read the ring as it was: the journal applies them all at once. */
	if (pos < depth - 1 - pos) {
		for (uint32_t j = pos; j > 0; j--)
			dcf_tx_put32(tx, &slots[(h + j) & m], slots[(h + j - 1) & m]);
		dcf_tx_put32(tx, &r->head, h + 1);
	} else {
		for (uint32_t j = pos; j + 1 < depth; j++)
			dcf_tx_put32(tx, &slots[(h + j) & m], slots[(h + j + 1) & m]);
		dcf_tx_put32(tx, &r->tail, t - 1);
	}
	return 0;
}

int
dcf_ring_peek(struct dcf_seg *sg, uint32_t ring, uint32_t i, uint32_t *v)
{
	struct dcf_ring *r = &sg->rings[ring];
	uint32_t cap = sg->ring_cap;

	if (i >= r->tail - r->head || r->tail - r->head > cap)
		return -1;
	*v = dcf_ring_slots(sg, ring)[(r->head + i) & (cap - 1)];
	return 0;
}
