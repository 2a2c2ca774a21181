/*
 * mutex.h - a robust, process-shared, error-checking mutex (not priority
 * inheriting), knowing nothing of what it guards. The books' lock (lock.h)
 * is built on it, with the repair that EOWNERDEAD asks for.
 */
#ifndef DCF_MUTEX_H
#define DCF_MUTEX_H

#include <pthread.h>
#include <sys/types.h>

/* 0, or -1 with errno. */
int dcf_mutex_init(pthread_mutex_t *m);
/* The TID in the robust futex word (0 when free): a label, read without locking. */
pid_t dcf_mutex_holder(const pthread_mutex_t *m);

#endif
