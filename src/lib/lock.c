/* lock.c - the robust lock, and recovery when its holder died. */
#include <errno.h>
#include <time.h>

#include "dcf/books.h"
#include "dcf/lock.h"
#include "dcf/mutex.h"

/* We own the lock after its holder died. */
static int
lock_recover(struct dcf_seg *sg)
{
	if (dcf_books_repair_locked(sg) == -1) {
		/* Unlocking without consistent() makes the mutex unrecoverable:
		 * that is how everyone learns that the books need a reset. */
		__atomic_store_n(&sg->hdr->sys_state, DCF_SYS_RESET, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&sg->hdr->lock);
		errno = ENOTRECOVERABLE;
		return -1;
	}
	pthread_mutex_consistent(&sg->hdr->lock);
	sg->hdr->cnt.repairs++;
	dcf_books_wake_all(sg);
	return 0;
}

/* What a pthread locking call returned, as dcf_lock returns it. */
static int
lock_result(struct dcf_seg *sg, int r)
{
	if (r == 0)
		return 0;
	if (r == EOWNERDEAD)
		return lock_recover(sg);
	errno = r;
	return -1;
}

/*
 * No spinning before blocking: it was built (watch the word for a few
 * hundred pauses, try-lock when free) and timed against this, and gave no
 * gain on 2 CPUs shared by three processes, before batching (1.2x slower)
 * or after (even): a batch's critical section is long enough that waiters
 * spin through their budget, and a spinner takes the CPU its holder needs.
 */
int
dcf_lock(struct dcf_seg *sg)
{
	return lock_result(sg, pthread_mutex_lock(&sg->hdr->lock));
}

/*
 * Not pthread_mutex_trylock: on an unrecoverable robust mutex glibc's (2.36
 * at least) returns ENOTRECOVERABLE but keeps the lock word it just took
 * (it unlocks only "if (oldval == id)"), so every later locker blocks for
 * ever. A timed lock whose deadline has passed never blocks (POSIX: no
 * timeout if the mutex can be locked at once) and releases the word.
 */
int
dcf_trylock(struct dcf_seg *sg)
{
	static const struct timespec past = {0, 0};
	int r;

	r = pthread_mutex_timedlock(&sg->hdr->lock, &past);
	if (r == 0)
		return 0;
	if (r == EOWNERDEAD)
		return lock_recover(sg);
	errno = r == ETIMEDOUT ? EBUSY : r;
	return -1;
}

int
dcf_lock_until(struct dcf_seg *sg, uint64_t deadline_ns)
{
	struct timespec ts = {(time_t)(deadline_ns / 1000000000ULL),
	    (long)(deadline_ns % 1000000000ULL)};
	int r;

	do
		r = pthread_mutex_clocklock(&sg->hdr->lock, CLOCK_MONOTONIC, &ts);
	while (r == EINTR);
	return lock_result(sg, r);
}

pid_t
dcf_lock_holder(const struct dcf_seg *sg)
{
	return dcf_mutex_holder(&sg->hdr->lock);
}

void
dcf_unlock(struct dcf_seg *sg)
{
	pthread_mutex_unlock(&sg->hdr->lock);
}
