/* status.h - dcf-status's private interfaces: its command line. */
#ifndef DCF_STATUS_H
#define DCF_STATUS_H

#include <stdint.h>

struct status_opts {
	const char *name; /* points into argv, or a literal */
	int nodes;
	int json;
	int watch;
	unsigned interval_ms; /* --watch's bounds are the option table's (opts.c) */
	uint64_t count;       /* snapshots to show in watch mode; 0: until quit */
	int list;             /* --list: every instance on the machine */
	const char *remove;   /* --remove-stale NAME, or NULL */
	/* A service's tasks, from its store. */
	const char *store; /* --store FILE, or NULL: NAME's default */
	int tasks;         /* --tasks */
	int hosts;         /* --hosts: a shared store's hosts */
	int state;         /* --state, or -1 */
	uint64_t task;     /* --task ID, or 0 */
	uint64_t out_id;   /* --stdout ID or --stderr ID, or 0 */
	int out_err;       /* it was --stderr */
};

/*
 * 0 ok; 1 printed help or version (exit 0); -1 printed a usage error
 * (exit 2). Apart from what it prints, it only reads argv (the option
 * table's parser, opts.h, keeps no global state), so it can be called again.
 */
int status_parse_options(int argc, char **argv, struct status_opts *o);

/* --tasks, --task, --stdout, --stderr: from the store (status_tasks.c); the exit status. */
int status_store(struct status_opts *o);

#endif
