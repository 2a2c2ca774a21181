/*
 * lock.h - the books' one lock: a robust, process-shared, error-checking
 * mutex (not priority-inheriting).
 *
 * A locker that gets EOWNERDEAD (from lock or trylock) owns the lock with
 * the books possibly mid-transaction. It replays the journal, checks the
 * invariants (books.h), and only then calls pthread_mutex_consistent(); it
 * also wakes every sleeper, since the dead holder may have been about to.
 * If the check fails, it leaves the mutex inconsistent and unlocks: every
 * later locker gets ENOTRECOVERABLE, workers exit, and the supervisor does a
 * full reset (books.h: dcf_books_reset).
 *
 * A holder that STOPS (SIGSTOP, a debugger, a cgroup freezer, Ctrl-Z) or is
 * starved does not die, so robustness alone would leave every locker
 * waiting for as long as it pleases. The decision:
 *  - Workers lock with dcf_lock (unbounded): their critical sections are a
 *    few hundred instructions with no I/O, and whatever they wait behind is
 *    the supervisor's to end.
 *  - The supervisor never waits on the lock without a bound. It locks with
 *    dcf_lock_until in slices; between slices it reads its signals (so
 *    SIGINT, SIGTERM and a second Ctrl-C work while it waits) and names the
 *    holder with dcf_lock_holder (the robust futex word holds the holder's
 *    TID, by the kernel's robust-futex ABI; workers are single-threaded, so
 *    TID = PID). A holder of its own that keeps the lock for --hang-timeout
 *    is treated as a hung worker: SIGKILLed, and the next locker repairs
 *    through EOWNERDEAD as for any death. A holder that is not its child is
 *    named in the log and never signalled.
 *  - Why not leave the lock altogether, as PostgreSQL's postmaster leaves
 *    its lock manager? The supervisor is the only process that dispatches,
 *    retires and reclaims (books.h), and those must be transactions on the
 *    same books the workers change; moving them out would need a second,
 *    lock-free channel per direction with its own crash story. Its critical
 *    sections are as short as a worker's, it does no I/O under the lock
 *    (the log is queued, log.h), and the bounded wait gives it the one
 *    property the postmaster's stance buys: nothing another process does
 *    can keep it from its watchdog and its signals.
 */
#ifndef DCF_LOCK_H
#define DCF_LOCK_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "dcf/seg.h"

/* 0 with the lock held; -1 with errno ENOTRECOVERABLE (books need a reset). */
int dcf_lock(struct dcf_seg *sg);
/* As dcf_lock, or -1 with errno EBUSY. */
int dcf_trylock(struct dcf_seg *sg);
/*
 * As dcf_lock, waiting at most until deadline (CLOCK_MONOTONIC ns): -1 with
 * errno ETIMEDOUT when the lock is still held then.
 */
int dcf_lock_until(struct dcf_seg *sg, uint64_t deadline_ns);
/* The TID in the lock word (0 when free): a label, read without the lock. */
pid_t dcf_lock_holder(const struct dcf_seg *sg);
void dcf_unlock(struct dcf_seg *sg);

#endif
