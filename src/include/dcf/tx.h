/*
 * tx.h - transactions on the books: a redo journal of absolute stores.
 *
 * With the lock held: dcf_tx_begin, any number of dcf_tx_put (each records
 * "store this value at this field"; nothing visible changes yet), then
 * dcf_tx_commit, which publishes the record (wal.n, release), applies every
 * store, and clears the record. A process killed before the publish leaves no
 * trace; killed after it, the next locker calls dcf_wal_redo_locked, which
 * applies the whole record again: every store is an absolute value, so
 * applying it once or twice gives the same result.
 *
 * Rule for op writers: a transaction must not read a field it has already
 * put (the put is not applied yet). In particular, push to or pop from any
 * one ring at most once per transaction.
 *
 * The header's seq word is odd while a record is being applied, so readers
 * that take no lock (dcf-status) can tell a torn view and read again.
 */
#ifndef DCF_TX_H
#define DCF_TX_H

#include <stdint.h>

#include "dcf/seg.h"

struct dcf_tx {
	struct dcf_seg *sg;
	uint32_t n;
	uint32_t op;
};

void dcf_tx_begin(struct dcf_tx *tx, struct dcf_seg *sg, uint32_t op);
void dcf_tx_commit(struct dcf_tx *tx);

/* Out of line: a transaction that outgrew the journal is a bug; abort. */
void dcf_tx_overflow(const struct dcf_tx *tx) __attribute__((noreturn, cold));

/*
 * Record "store v at field". Inline: these run a dozen times per task. The
 * journal's bound is always checked; that field lies inside the segment is
 * checked in test builds (every caller passes the address of a segment
 * field by construction), and replay checks every entry again.
 */
static inline void
dcf_tx_put(struct dcf_tx *tx, void *field, uint32_t width, uint64_t v)
{
	struct dcf_wal_ent *e;

	if (__builtin_expect(tx->n >= DCF_WAL_MAX, 0))
		dcf_tx_overflow(tx);
#ifdef DCF_INJECT_ENABLE
	if ((unsigned char *)field < tx->sg->base ||
	    (unsigned char *)field + width > tx->sg->base + tx->sg->size)
		dcf_tx_overflow(tx);
#endif
	e = &tx->sg->hdr->wal.e[tx->n++];
	e->off = (uint32_t)((unsigned char *)field - tx->sg->base);
	e->width = width;
	e->val = v;
}

static inline void
dcf_tx_put32(struct dcf_tx *tx, uint32_t *field, uint32_t v)
{
	dcf_tx_put(tx, field, 4, v);
}

static inline void
dcf_tx_put64(struct dcf_tx *tx, uint64_t *field, uint64_t v)
{
	dcf_tx_put(tx, field, 8, v);
}

/*
 * The one rule for a journal entry, for replay and for readers that apply a
 * journal to a copy (snapshot.c): a 4- or 8-byte aligned store inside a
 * segment of `size` bytes, landing on the header's lock-free state or
 * counters (never on seq, which says a record is being applied) or anywhere
 * from the first region (off_nets) on. 1 if e may be applied, else 0.
 */
int dcf_wal_entry_ok(const struct dcf_wal_ent *e, uint64_t size, uint64_t off_nets);

/*
 * Re-apply a published record left by a dead holder. 1 if one was applied,
 * 0 if there was none, -1 if the record is malformed (an entry out of
 * bounds): then nothing is applied and the books need a full reset.
 */
int dcf_wal_redo_locked(struct dcf_seg *sg);

#endif
