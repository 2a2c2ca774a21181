/* supervisor.h - dcf-supervisor's private interfaces: its options, and the run. */
#ifndef DCF_SUPERVISOR_H
#define DCF_SUPERVISOR_H

#include <stdint.h>
#include <sys/types.h>

#include "dcf/layout.h"
#include "dcf/log.h"
#include "dcf/seg.h"
#include "worker.h"

struct sup_opts {
	struct dcf_config cfg;
	char name[DCF_NAME_MAX + 1];
	const char *log_path;
	enum dcf_level level;
	int seed_given;
};

/* 0 ok; 1 printed help or version (exit 0); -1 printed a usage error (exit 2). */
int sup_parse_options(int argc, char **argv, struct sup_opts *o);

/* Runs the whole system; returns the process exit code. */
int supervisor_run(struct sup_opts *o);

#endif
