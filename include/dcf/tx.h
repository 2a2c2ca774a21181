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
void dcf_tx_put32(struct dcf_tx *tx, uint32_t *field, uint32_t v);
void dcf_tx_put64(struct dcf_tx *tx, uint64_t *field, uint64_t v);
void dcf_tx_commit(struct dcf_tx *tx);

/*
 * Re-apply a published record left by a dead holder. 1 if one was applied,
 * 0 if there was none, -1 if the record is malformed (an entry out of
 * bounds): then nothing is applied and the books need a full reset.
 */
int dcf_wal_redo_locked(struct dcf_seg *sg);

#endif
