/*
 * runlib.h - drive the real dcf-supervisor from another process and audit
 * its log: shared by the integration tests and the chaos driver.
 * Nothing here asserts; callers decide what a result means.
 */
#ifndef DCF_RUNLIB_H
#define DCF_RUNLIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct run {
	pid_t pid;
	int out;   /* read end of the supervisor's stderr (its log) */
	char *log; /* everything it wrote, NUL-terminated */
	size_t len, cap;
	int status; /* from waitpid, after run_finish */
	char name[40];
	int own_group; /* set before run_start: the run is a job of its own (pgid = pid) */
};

/* A fresh instance name "t<pid>-<tag><n>" (shows as /dev/shm/dcf-t...). */
void run_name(char *buf, size_t len, const char *tag);
/*
 * Start bin --name r->name args... (NULL-terminated), stdout to /dev/null,
 * stderr into a pipe; env is one "K=V" added to the environment, or NULL.
 * r->name must be set (run_name) before. -1 on failure.
 */
int run_start(struct run *r, const char *bin, const char *const *args, const char *env);
/* Take what the log pipe holds, waiting up to ms (-1: until data). 0 at EOF. */
int run_pump(struct run *r, int ms);
/* Read until the log contains what; 0 if EOF came first. */
int run_wait_for(struct run *r, const char *what);
/* Read to EOF, reap the supervisor and any orphan we were given. -1 on error. */
int run_finish(struct run *r);
void run_release(struct run *r);

/* Exactly-once audit of "Task-N completed by" / "Task-N quarantined:" lines. */
struct run_books {
	uint64_t completed; /* completion lines */
	uint64_t quarantined;
	uint64_t duplicated; /* ids completed more than once */
	uint64_t wrong;      /* ids not ending exactly once (completed or quarantined) */
};
void run_audit(const char *log, uint64_t tasks, struct run_books *b);
/*
 * Causal order per node: a node's runs one at a time, each start followed
 * by its completion by that node or the node's failure before its next
 * start. Returns the lines out of order (the first in first), -1 on ENOMEM.
 */
int run_audit_order(const char *log, char *first, size_t len);
/* Occurrences of what in log. */
int run_count(const char *log, const char *what);
/* Is pid a live child of parent? (/proc; for signalling only our own.) */
int run_child_of(pid_t pid, pid_t parent);
/* Wait (bounded) until pid's state in /proc is state ('T': stopped); 1 if it got there. */
int run_wait_state(pid_t pid, char state, double secs);
/*
 * Reap every child we have (as a subreaper: the orphans of a killed
 * supervisor), waiting on SIGCHLD itself, for at most timeout_s from
 * since_ns (CLOCK_MONOTONIC). 0 when none is left, -1 if some still live
 * at the deadline. *reaped counts the children reaped.
 */
int run_reap_all(uint64_t since_ns, double timeout_s, int *reaped);
/* Does /dev/shm/dcf-NAME exist? */
int run_shm_exists(const char *name);
/* Minimal strict JSON check of a whole document: 1 valid, 0 not. */
int run_json_valid(const char *s);
/* The number after "key": in s (first match after from), or -1. */
long long run_json_num(const char *s, const char *key);

#endif
