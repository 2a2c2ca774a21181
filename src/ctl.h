/* ctl.h - dcf-ctl's command line (ctl_options.c) and what carries it out (ctl_main.c). */
#ifndef DCF_CTL_H
#define DCF_CTL_H

#include <stddef.h>
#include <stdint.h>

struct ctl_opts {
	const char *name;
	const char *command; /* as typed: "pause", "resume", "drain" */
	uint32_t op;         /* enum dcf_ctl_op */
	uint32_t net;        /* DCF_CTL_ALL: every network */
	uint64_t id;         /* cancel's and kill's task */
	int sig;             /* kill's signal (default SIGTERM) */
	int32_t prio;        /* priority's priority */
	int now;             /* --now */
	int64_t value;       /* the request's value (proto.h: as its op says) */
};

/* 0 ok; 1 printed help or version (exit 0); -1 printed a usage error (exit 2). */
int ctl_parse_options(int argc, char **argv, struct ctl_opts *o);
/* The same, a usage error's text into err (not printed): dcf-web's control. */
int ctl_parse_into(int argc, char **argv, struct ctl_opts *o, char *err, size_t errlen);

#endif
