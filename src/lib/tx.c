/* tx.c - the redo journal: publish, apply, clear; and replay after a crash. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "dcf/inject.h"
#include "dcf/tx.h"

void
dcf_tx_begin(struct dcf_tx *tx, struct dcf_seg *sg, uint32_t op)
{
	tx->sg = sg;
	tx->n = 0;
	tx->op = op;
}

void
dcf_tx_overflow(const struct dcf_tx *tx)
{
	fprintf(stderr, "dcf: transaction %s: journal overflow or store outside the segment\n",
	    dcf_op_name((int)tx->op));
	abort();
}

static void
wal_apply(struct dcf_seg *sg, const struct dcf_wal *w, uint32_t n, int op)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct dcf_wal_ent *e = &w->e[i];
		void *p = sg->base + e->off;

		/* Atomic stores: lock-free readers never see a torn word. */
		if (e->width == 8)
			__atomic_store_n((uint64_t *)p, e->val, __ATOMIC_RELAXED);
		else
			__atomic_store_n((uint32_t *)p, (uint32_t)e->val, __ATOMIC_RELAXED);
		DCF_INJECT(op, DCF_STEP_APPLY((int)i));
	}
	(void)op;
}

void
dcf_tx_commit(struct dcf_tx *tx)
{
	struct dcf_hdr *h = tx->sg->hdr;
	uint64_t seq = h->seq;

	h->wal.op = tx->op;
	h->wal.txid++;
	DCF_INJECT((int)tx->op, DCF_STEP_BUILT);
	__atomic_store_n(&h->wal.n, tx->n, __ATOMIC_RELEASE); /* the commit point */
	DCF_INJECT((int)tx->op, DCF_STEP_PUBLISHED);
	__atomic_store_n(&h->seq, seq + 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	wal_apply(tx->sg, &h->wal, tx->n, (int)tx->op);
	DCF_INJECT((int)tx->op, DCF_STEP_APPLIED);
	__atomic_store_n(&h->seq, seq + 2, __ATOMIC_RELEASE);
	__atomic_store_n(&h->wal.n, 0, __ATOMIC_RELEASE);
	DCF_INJECT((int)tx->op, DCF_STEP_CLEARED);
}

int
dcf_wal_entry_ok(const struct dcf_wal_ent *e, uint64_t size, uint64_t off_nets)
{
	const uint64_t lo = offsetof(struct dcf_hdr, sys_state);
	const uint64_t hi = offsetof(struct dcf_hdr, cnt) + sizeof(struct dcf_counters);
	const uint64_t seq_lo = offsetof(struct dcf_hdr, seq), seq_hi = seq_lo + sizeof(uint64_t);
	const uint64_t off = e->off, end = off + e->width;

	if ((e->width != 4 && e->width != 8) || off % e->width != 0 || end > size)
		return 0;
	if (off >= lo && end <= hi)
		return end <= seq_lo || off >= seq_hi;
	return off >= off_nets;
}

int
dcf_wal_redo_locked(struct dcf_seg *sg)
{
	struct dcf_hdr *h = sg->hdr;
	uint32_t n = __atomic_load_n(&h->wal.n, __ATOMIC_ACQUIRE);

	if (n == 0) {
		if (h->seq & 1) /* died between clear and the even bump */
			h->seq++;
		return 0;
	}
	if (n > DCF_WAL_MAX)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if (!dcf_wal_entry_ok(&h->wal.e[i], sg->size, sg->off_nets))
			return -1;
	if (!(h->seq & 1))
		__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
	wal_apply(sg, &h->wal, n, DCF_OP_ANY);
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&h->wal.n, 0, __ATOMIC_RELEASE);
	return 1;
}
