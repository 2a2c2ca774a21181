/*
 * spawn.c - the floor under running a command per input line: for each line
 * of standard input, posix_spawnp(3) "CMD LINE" with at most P children at
 * once, and wait for them. No books, no log, no output handling: what
 * `xargs -P P -n1 CMD` does at the least, and what dcf's command mode cannot
 * beat with P workers. Prints one JSON object: lines run, how many did not
 * exit 0, and the seconds from the first spawn to the last reap.
 */
#include <err.h>
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "dcf/util.h"

extern char **environ;

/* Reap one child; count it as failed unless it exited 0. */
static void
reap(uint64_t *running, uint64_t *failed)
{
	int st;

	if (wait(&st) == -1)
		err(1, "wait");
	(*running)--;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		(*failed)++;
}

int
main(int argc, char **argv)
{
	uint64_t par, lines = 0, running = 0, failed = 0, t0 = 0;
	char *line = NULL, *av[3];
	size_t cap = 0;
	ssize_t len;

	if (argc != 3 || dcf_parse_u64(argv[1], 1, 1024, &par) == -1)
		errx(2, "usage: spawn P CMD < lines");
	av[0] = argv[2];
	av[2] = NULL;
	while ((len = getline(&line, &cap, stdin)) != -1) {
		pid_t pid;
		int e;

		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (running == par)
			reap(&running, &failed);
		if (lines == 0)
			t0 = dcf_now_ns();
		av[1] = line;
		if ((e = posix_spawnp(&pid, av[0], NULL, NULL, av, environ)) != 0) {
			errno = e;
			err(1, "posix_spawnp %s", av[0]);
		}
		running++;
		lines++;
	}
	while (running > 0)
		reap(&running, &failed);
	printf("{\"tasks\":%llu,\"failed\":%llu,\"parallel\":%llu,\"secs\":%.6f}\n",
	    (unsigned long long)lines, (unsigned long long)failed, (unsigned long long)par,
	    lines ? (double)(dcf_now_ns() - t0) / 1e9 : 0.0);
	free(line);
	return failed ? 1 : 0;
}
