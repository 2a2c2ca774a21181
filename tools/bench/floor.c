/*
 * floor.c - the machine's floor under dcf's recovery path, measured the way
 * the supervisor does it:
 *   fork   from the parent calling fork(2) to the child's first instruction;
 *   reap   from kill(SIGKILL) of a sleeping child to waitpid(2) returning it,
 *          woken by a signalfd in poll(2) as dcf-supervisor is.
 * Prints one JSON object with every sample in microseconds.
 */
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dcf/util.h"

static void
nap(long ns)
{
	struct timespec ts = {0, ns};

	nanosleep(&ts, NULL);
}

int
main(int argc, char **argv)
{
	uint64_t iters = 1000, *stamp;
	double *fork_us, *reap_us;
	sigset_t set;
	int sfd;

	if (argc > 1 && dcf_parse_u64(argv[1], 1, 1000000, &iters) == -1)
		errx(2, "usage: floor [ITERATIONS]");
	prctl(PR_SET_TIMERSLACK, 1000UL);
	stamp = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fork_us = calloc(iters, sizeof(double));
	reap_us = calloc(iters, sizeof(double));
	if (stamp == MAP_FAILED || fork_us == NULL || reap_us == NULL)
		err(1, "memory");
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) == -1)
		err(1, "signalfd");
	for (uint64_t i = 0; i < iters; i++) {
		struct pollfd pfd = {.fd = sfd, .events = POLLIN};
		struct signalfd_siginfo si;
		uint64_t t0, t_kill;
		pid_t pid, r = 0;

		__atomic_store_n(stamp, 0, __ATOMIC_RELEASE);
		t0 = dcf_now_ns();
		pid = fork();
		if (pid == -1)
			err(1, "fork");
		if (pid == 0) {
			__atomic_store_n(stamp, dcf_now_ns(), __ATOMIC_RELEASE);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				pause();
		}
		while (__atomic_load_n(stamp, __ATOMIC_ACQUIRE) == 0)
			nap(10000);
		fork_us[i] = (double)(*stamp - t0) / 1e3;
		nap(200000); /* let it fall asleep in pause() */
		t_kill = dcf_now_ns();
		kill(pid, SIGKILL);
		while (r != pid) {
			if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
				err(1, "poll");
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				;
			r = waitpid(pid, NULL, WNOHANG);
		}
		reap_us[i] = (double)(dcf_now_ns() - t_kill) / 1e3;
	}
	printf("{\"iters\":%llu,\"fork_us\":[", (unsigned long long)iters);
	for (uint64_t i = 0; i < iters; i++)
		printf("%s%.2f", i ? "," : "", fork_us[i]);
	printf("],\"reap_us\":[");
	for (uint64_t i = 0; i < iters; i++)
		printf("%s%.2f", i ? "," : "", reap_us[i]);
	printf("]}\n");
	return 0;
}
