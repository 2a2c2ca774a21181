/* supervisor.h - dcf-supervisor's private interfaces: its options, and the run. */
#ifndef DCF_SUPERVISOR_H
#define DCF_SUPERVISOR_H

#include <stdint.h>
#include <sys/types.h>

#include "dcf/layout.h"
#include "dcf/log.h"
#include "dcf/seg.h"
#include "worker.h"

/* --resume, --resume-failed */
enum sup_resume { SUP_RESUME_NONE, SUP_RESUME_ALL, SUP_RESUME_FAILED };

struct sup_opts {
	struct dcf_config cfg;
	char name[DCF_NAME_MAX + 1];
	const char *log_path;
	enum dcf_level level;
	int seed_given;
	int level_given;
	/* Command mode: a template (cmd_argc > 0) or --commands, else the demo. */
	char **cmd_argv;
	int cmd_argc;
	const char *commands_path; /* --commands FILE ("-": standard input) */
	const char *arg_file;      /* -a FILE, or NULL: standard input */
	int null_sep;              /* -0: lines end in NUL */
	const char *joblog_path;
	const char *results_dir;
	enum sup_resume resume;
};

/* Command mode: the bytes of one task's command, at most (one argument's
 * limit, MAX_ARG_STRLEN, and the template's room besides). */
#define SUP_CMD_MAX (128u * 1024 + 8192)

static inline int
sup_cmd_mode(const struct sup_opts *o)
{
	return o->cmd_argc > 0 || o->commands_path != NULL;
}

/* 0 ok; 1 printed help or version (exit 0); -1 printed a usage error (exit 2). */
int sup_parse_options(int argc, char **argv, struct sup_opts *o);

/* Runs the whole system; returns the process exit code. */
int supervisor_run(struct sup_opts *o);

#endif
