/* options.c - dcf-supervisor's command line: every value checked, one-line errors. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dcf/util.h"
#include "supervisor.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: dcf-supervisor [options]\n"
	    "Run networks of worker processes over shared memory; recover from real crashes.\n"
	    "\n"
	    "  -n, --networks N        networks (default 3)\n"
	    "  -N, --nodes N           nodes per network (default 50)\n"
	    "  -t, --tasks N           tasks to run (default 1000)\n"
	    "      --task-ms MIN[-MAX] task duration in ms, uniform (default 1000-8000)\n"
	    "      --work KIND         sleep | cpu | none (default sleep)\n"
	    "      --fail-rate P       chance per node per second of a real crash (default 0.01)\n"
	    "      --downtime MIN[-MAX] ms before a crashed node restarts (default 1000-4000)\n"
	    "      --max-attempts K    crashed runs before a task is quarantined (default 3)\n"
	    "      --max-restarts R    restarts allowed per node within the window (default 5)\n"
	    "      --restart-window S  the window, seconds (default 30)\n"
	    "      --hang-timeout MS   kill a busy or stopped node without progress (default "
	    "5000)\n"
	    "      --grace-ms MS       on SIGINT/SIGTERM, time for running tasks (default 5000)\n"
	    "      --seed N            make durations and chaos reproducible\n"
	    "      --name NAME         instance name (default dcf)\n"
	    "      --log FILE          append the log to FILE instead of stderr\n"
	    "      --log-level LEVEL   debug | info | warning | error (default info)\n"
	    "  -q, --quiet             warnings and errors only\n"
	    "  -h, --help              this text\n"
	    "  -V, --version           the version\n");
}

enum {
	O_TASK_MS = 256,
	O_WORK,
	O_FAIL_RATE,
	O_DOWNTIME,
	O_MAX_ATTEMPTS,
	O_MAX_RESTARTS,
	O_RESTART_WINDOW,
	O_HANG,
	O_GRACE,
	O_SEED,
	O_NAME,
	O_LOG,
	O_LOG_LEVEL
};

static const struct option longopts[] = {{"networks", required_argument, NULL, 'n'},
    {"nodes", required_argument, NULL, 'N'}, {"tasks", required_argument, NULL, 't'},
    {"task-ms", required_argument, NULL, O_TASK_MS}, {"work", required_argument, NULL, O_WORK},
    {"fail-rate", required_argument, NULL, O_FAIL_RATE},
    {"downtime", required_argument, NULL, O_DOWNTIME},
    {"max-attempts", required_argument, NULL, O_MAX_ATTEMPTS},
    {"max-restarts", required_argument, NULL, O_MAX_RESTARTS},
    {"restart-window", required_argument, NULL, O_RESTART_WINDOW},
    {"hang-timeout", required_argument, NULL, O_HANG},
    {"grace-ms", required_argument, NULL, O_GRACE}, {"seed", required_argument, NULL, O_SEED},
    {"name", required_argument, NULL, O_NAME}, {"log", required_argument, NULL, O_LOG},
    {"log-level", required_argument, NULL, O_LOG_LEVEL}, {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};

static int
bad(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "dcf-supervisor: %s '%s': %s; try 'dcf-supervisor --help'\n", opt, val,
	    want);
	return -1;
}

static int
num(const char *opt, const char *val, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char want[96];

	if (dcf_parse_u64(val, lo, hi, out) == 0)
		return 0;
	snprintf(want, sizeof(want), "expected a whole number from %llu to %llu",
	    (unsigned long long)lo, (unsigned long long)hi);
	return bad(opt, val, want);
}

static int
range(const char *opt, const char *val, uint64_t lo, uint64_t hi, uint32_t *a, uint32_t *b)
{
	uint64_t x, y;
	char want[128];

	if (dcf_parse_range(val, lo, hi, &x, &y) == 0) {
		*a = (uint32_t)x;
		*b = (uint32_t)y;
		return 0;
	}
	snprintf(want, sizeof(want),
	    "expected MS or MIN-MAX with MIN <= MAX, each from %llu to %llu",
	    (unsigned long long)lo, (unsigned long long)hi);
	return bad(opt, val, want);
}

int
sup_parse_options(int argc, char **argv, struct sup_opts *o)
{
	struct dcf_config *c = &o->cfg;
	uint64_t v;
	char err[DCF_ERRLEN];
	int ch;

	memset(o, 0, sizeof(*o));
	dcf_config_default(c);
	o->level = DCF_INFO;
	strlcpy(o->name, "dcf", sizeof(o->name));
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":n:N:t:qhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (num("--networks", optarg, 1, DCF_MAX_NETS, &v) == -1)
				return -1;
			c->nets = (uint32_t)v;
			break;
		case 'N':
			if (num("--nodes", optarg, 1, DCF_MAX_NODES, &v) == -1)
				return -1;
			c->nodes_per_net = (uint32_t)v;
			break;
		case 't':
			if (num("--tasks", optarg, 1, 1ULL << 48, &c->tasks) == -1)
				return -1;
			break;
		case O_TASK_MS:
			if (range("--task-ms", optarg, 0, 86400000, &c->task_ms_min,
			        &c->task_ms_max) == -1)
				return -1;
			break;
		case O_WORK:
			if (strcmp(optarg, "sleep") == 0)
				c->work = DCF_WORK_SLEEP;
			else if (strcmp(optarg, "cpu") == 0)
				c->work = DCF_WORK_CPU;
			else if (strcmp(optarg, "none") == 0)
				c->work = DCF_WORK_NONE;
			else
				return bad("--work", optarg, "expected sleep, cpu or none");
			break;
		case O_FAIL_RATE:
			if (dcf_parse_prob_ppm(optarg, &c->fail_rate_ppm) == -1)
				return bad("--fail-rate", optarg,
				    "expected a probability from 0 to 1");
			break;
		case O_DOWNTIME:
			if (range("--downtime", optarg, 0, 3600000, &c->downtime_ms_min,
			        &c->downtime_ms_max) == -1)
				return -1;
			break;
		case O_MAX_ATTEMPTS:
			if (num("--max-attempts", optarg, 1, 1000000, &v) == -1)
				return -1;
			c->max_attempts = (uint32_t)v;
			break;
		case O_MAX_RESTARTS:
			if (num("--max-restarts", optarg, 0, 1000000, &v) == -1)
				return -1;
			c->max_restarts = (uint32_t)v;
			break;
		case O_RESTART_WINDOW:
			if (num("--restart-window", optarg, 1, 86400, &v) == -1)
				return -1;
			c->restart_window_s = (uint32_t)v;
			break;
		case O_HANG:
			if (num("--hang-timeout", optarg, 10, 86400000, &v) == -1)
				return -1;
			c->hang_timeout_ms = (uint32_t)v;
			break;
		case O_GRACE:
			if (num("--grace-ms", optarg, 0, 3600000, &v) == -1)
				return -1;
			c->grace_ms = (uint32_t)v;
			break;
		case O_SEED:
			if (num("--seed", optarg, 0, UINT64_MAX, &c->seed) == -1)
				return -1;
			o->seed_given = 1;
			break;
		case O_NAME:
			if (dcf_name_check(optarg, err, sizeof(err)) == -1)
				return bad("--name", optarg, err);
			strlcpy(o->name, optarg, sizeof(o->name));
			break;
		case O_LOG:
			if (*optarg == '\0')
				return bad("--log", optarg, "expected a file name");
			o->log_path = optarg;
			break;
		case O_LOG_LEVEL:
			if (dcf_log_level_parse(optarg, &o->level) == -1)
				return bad("--log-level", optarg,
				    "expected debug, info, warning or error");
			break;
		case 'q':
			o->level = DCF_WARNING;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("dcf-supervisor %s\n", DCF_VERSION);
			return 1;
		case ':':
			fprintf(stderr,
			    "dcf-supervisor: option '%s' needs a value; try 'dcf-supervisor "
			    "--help'\n",
			    argv[optind - 1]);
			return -1;
		default:
			/*
			 * An unknown letter is in optopt (optind may still be at
			 * its cluster); else a long option was unknown (optopt 0)
			 * or given a value it takes none of (optopt its letter).
			 */
			if (optopt != 0 && strchr("nNtqhV", optopt) == NULL)
				fprintf(stderr,
				    "dcf-supervisor: unknown option '-%c'; "
				    "try 'dcf-supervisor --help'\n",
				    optopt);
			else
				fprintf(stderr,
				    "dcf-supervisor: unknown option '%s'; "
				    "try 'dcf-supervisor --help'\n",
				    argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
		    "dcf-supervisor: unexpected argument '%s'; try 'dcf-supervisor --help'\n",
		    argv[optind]);
		return -1;
	}
	if ((uint64_t)c->nets * c->nodes_per_net > DCF_MAX_NODES) {
		fprintf(stderr,
		    "dcf-supervisor: --networks x --nodes is %llu, at most %d; "
		    "try 'dcf-supervisor --help'\n",
		    (unsigned long long)c->nets * c->nodes_per_net, DCF_MAX_NODES);
		return -1;
	}
	if (!o->seed_given)
		c->seed = dcf_mix64((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	dcf_config_size(c);
	return 0;
}
