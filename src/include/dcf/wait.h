/*
 * wait.h - sleeping in the kernel on a shared word (futex(2), shared, not
 * private: the word lives in a MAP_SHARED segment).
 *
 * Why no wake-up is lost: a waiter reads the word under the books' lock,
 * after finding no work, and registers itself as a sleeper; it then unlocks
 * and calls dcf_futex_wait(word, value). Whoever adds work bumps the word
 * under the same lock, so either the bump came first (the kernel sees a
 * changed word and returns at once) or the waiter is already queued in the
 * kernel when the wake comes. A waker that dies between unlocking and waking
 * is reaped by the supervisor, which wakes everyone; a waker that dies
 * holding the lock is repaired by the next locker, which wakes everyone. A
 * waiter that dies asleep is dropped from the kernel's queue; the supervisor
 * takes it out of the sleepers count when it reaps it.
 */
#ifndef DCF_WAIT_H
#define DCF_WAIT_H

#include <stdint.h>
#include <time.h>

/* 0 when woken or the word differs; -1 with errno EINTR or ETIMEDOUT. */
int dcf_futex_wait(uint32_t *word, uint32_t expected, const struct timespec *rel);
/* Wake up to n sleepers; returns how many woke. */
int dcf_futex_wake(uint32_t *word, int n);

#endif
