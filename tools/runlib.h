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
/*
 * The tests' one JSON reader: strict (RFC 8259, \u00XX read back as the
 * byte XX, as dcf writes bytes outside ASCII), into a tree.
 */
enum run_jt { RJ_NULL, RJ_BOOL, RJ_NUM, RJ_STR, RJ_ARR, RJ_OBJ };

struct run_jv {
	enum run_jt t;
	int b;       /* RJ_BOOL */
	double num;  /* RJ_NUM */
	int is_uint; /* a whole, non-negative number that fits 64 bits: in u */
	uint64_t u;
	char *s;           /* RJ_STR */
	size_t n;          /* items or members */
	char **k;          /* object keys */
	struct run_jv **v; /* array items, object values */
};

/* The whole text is one document: its tree, or NULL if it is not JSON (or ENOMEM). */
struct run_jv *run_json_parse(const char *text);
/* One document from *text on (JSON Lines, concatenated documents); *text moves past it. */
struct run_jv *run_json_next(const char **text);
void run_json_free(struct run_jv *v);
/* An object's member, an array's item: NULL if there is none (or o is not one). */
const struct run_jv *run_json_get(const struct run_jv *o, const char *key);
const struct run_jv *run_json_at(const struct run_jv *a, size_t i);
/* Is s one whole JSON document? 1 valid, 0 not. */
int run_json_valid(const char *s);
/* The whole number after the first "key": in s (which need not be a whole document), or -1. */
long long run_json_num(const char *s, const char *key);

#endif
