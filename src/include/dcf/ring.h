/*
 * ring.h - bounded FIFO rings of task-slot indices in the segment.
 *
 * head and tail are free-running 32-bit counters compared by difference, so
 * they wrap at 2^32 without harm: depth = tail - head, never above the
 * capacity (a power of two, at most 2^20). The control block and the slots
 * are apart (layout.h). Rings change only inside transactions under the
 * books' lock; a ring is pushed or popped at most once per transaction.
 *
 * Invariant: 0 <= tail - head <= capacity, and every slot between head and
 * tail holds a task-slot index < task_slots.
 */
#ifndef DCF_RING_H
#define DCF_RING_H

#include <stdint.h>

#include "dcf/tx.h"

static inline uint32_t
dcf_ring_depth(const struct dcf_ring *r)
{
	return __atomic_load_n(&r->tail, __ATOMIC_RELAXED) -
	    __atomic_load_n(&r->head, __ATOMIC_RELAXED);
}

/* The slot array of ring `ring` (an index we trust, not one read from shm). */
uint32_t *dcf_ring_slots(struct dcf_seg *sg, uint32_t ring);

/* Record a push; -1 with errno ENOSPC if full, EUCLEAN if corrupt. */
int dcf_ring_push_tx(struct dcf_tx *tx, uint32_t ring, uint32_t v);
/* Record a pop of the head into *v; -1 with ENOENT if empty, EUCLEAN if corrupt. */
int dcf_ring_pop_tx(struct dcf_tx *tx, uint32_t ring, uint32_t *v);
/*
 * The same for n entries at once (a batch): one tail or head store and n
 * slot stores. push_n: v[0] first in, ENOSPC if fewer than n places.
 * pop_n: up to n from the head into v (*got of them, at least 1), ENOENT
 * if empty. unpop_n: put v[0..n-1] back in front of the head, v[0] to be
 * popped first: entries taken off this ring and never run, given back
 * ahead of what was queued behind them.
 */
int dcf_ring_push_n_tx(struct dcf_tx *tx, uint32_t ring, const uint32_t *v, uint32_t n);
int dcf_ring_pop_n_tx(struct dcf_tx *tx, uint32_t ring, uint32_t *v, uint32_t n, uint32_t *got);
int dcf_ring_unpop_n_tx(struct dcf_tx *tx, uint32_t ring, const uint32_t *v, uint32_t n);
/*
 * Record the removal of the entry at position pos from the head: the
 * shorter side moves up one place, so at most max_moves slot stores (and
 * one head or tail store); -1 with E2BIG if more would be needed, EINVAL if
 * pos is out of range, EUCLEAN if corrupt.
 */
int dcf_ring_remove_tx(struct dcf_tx *tx, uint32_t ring, uint32_t pos, uint32_t max_moves);
/* The value at position i from the head, without popping; -1 if out of range. */
int dcf_ring_peek(struct dcf_seg *sg, uint32_t ring, uint32_t i, uint32_t *v);

#endif
