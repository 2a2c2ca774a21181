/* submit.h - dcf-submit's options (submit_options.c) and what runs them (submit_main.c). */
#ifndef DCF_SUBMIT_H
#define DCF_SUBMIT_H

#include <stdint.h>

struct submit_opts {
	const char *name;
	uint32_t timeout_ms; /* 0: the supervisor's --timeout */
	uint32_t retries;    /* DCF_RETRIES_DEFAULT: the supervisor's --retries */
	const char *key;     /* or NULL */
	int32_t prio;
	uint32_t net;      /* DCF_NET_ANY, or --network's */
	const char *host;  /* --host, or NULL */
	uint64_t delay_ms; /* --delay */
	uint64_t at_ns;    /* --at, CLOCK_REALTIME */
	int timed;         /* how many of them were given */
	const char *after; /* --after or --after-any as given, or NULL */
	int after_any;
	uint64_t deps[1024]; /* its ids (OPT_IDS_MAX) */
	uint32_t ndeps;
	int wait;
	int batch;
	int commands; /* --batch: the lines are shell commands */
	int null_sep; /* --batch: lines end in NUL */
	char **cmd_argv;
	int cmd_argc;
};

/* 0 ok; 1 printed help or version (exit 0); -1 printed a usage error (exit 2). */
int submit_parse_options(int argc, char **argv, struct submit_opts *o);

#endif
