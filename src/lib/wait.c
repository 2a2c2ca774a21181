/* wait.c - futex wait and wake on a shared word. */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dcf/wait.h"

int
dcf_futex_wait(uint32_t *word, uint32_t expected, const struct timespec *rel)
{
	long r = syscall(SYS_futex, word, FUTEX_WAIT, expected, rel, NULL, 0);

	if (r == -1 && errno == EAGAIN) /* the word moved on: work arrived */
		return 0;
	return r == -1 ? -1 : 0;
}

int
dcf_futex_wake(uint32_t *word, int n)
{
	long r = syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);

	return r < 0 ? 0 : (int)r;
}
