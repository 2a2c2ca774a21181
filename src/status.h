/* status.h - dcf-status's private interfaces: its command line. */
#ifndef DCF_STATUS_H
#define DCF_STATUS_H

#include <stdint.h>

#define STATUS_WATCH_MIN_MS 100
#define STATUS_WATCH_MAX_MS 3600000u /* an hour */

struct status_opts {
	const char *name; /* points into argv, or a literal */
	int nodes;
	int json;
	int watch;
	unsigned interval_ms;
	uint64_t count;     /* snapshots to show in watch mode; 0: until quit */
	int list;           /* --list: every instance on the machine */
	const char *remove; /* --remove-stale NAME, or NULL */
};

/*
 * 0 ok; 1 printed help or version (exit 0); -1 printed a usage error
 * (exit 2). Apart from what it prints, it only reads argv and the getopt
 * globals, so it can be called again (with optind = 0).
 */
int status_parse_options(int argc, char **argv, struct status_opts *o);

#endif
