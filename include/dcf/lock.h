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
 */
#ifndef DCF_LOCK_H
#define DCF_LOCK_H

#include <pthread.h>

#include "dcf/seg.h"

int dcf_lock_init(pthread_mutex_t *m);
/* 0 with the lock held; -1 with errno ENOTRECOVERABLE (books need a reset). */
int dcf_lock(struct dcf_seg *sg);
/* As dcf_lock, or -1 with errno EBUSY. */
int dcf_trylock(struct dcf_seg *sg);
void dcf_unlock(struct dcf_seg *sg);

#endif
