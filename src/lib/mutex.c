/* mutex.c - the robust mutex under the books' lock (mutex.h). */
#include <errno.h>
#include <linux/futex.h>

#include "dcf/mutex.h"

int
dcf_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int r;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	r = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	if (r != 0) {
		errno = r;
		return -1;
	}
	return 0;
}

pid_t
dcf_mutex_holder(const pthread_mutex_t *m)
{
	/* glibc keeps a robust mutex's futex word in __data.__lock (the kernel's
	 * robust-futex ABI: the holder's TID, plus the waiters and owner-died bits). */
	int w = __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED);

	return (pid_t)((unsigned)w & FUTEX_TID_MASK);
}
