/* dcfbench.c - measure a real dcf-supervisor from outside: start-up, idle, long run, recovery. */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcf/util.h"
#include "dcfbench.h"
#include "launch.h"

const char *
db_u64(uint64_t v)
{
	static char buf[16][24];
	static unsigned k;
	char *b = buf[k++ % 16];

	snprintf(b, sizeof(buf[0]), "%llu", (unsigned long long)v);
	return b;
}

static void usage(int code) __attribute__((noreturn));

static void
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: dcfbench startup|idle|longrun|recovery [--bin PATH] [--log FILE]\n"
	    "       [--workers N] [--networks K] [--tasks T] [--kills K] [--seconds S]\n"
	    "       [--settle-ms MS] [--busy B]\n");
	exit(code);
}

static uint64_t
arg_num(const char *s, uint64_t lo, uint64_t hi)
{
	uint64_t v;

	if (dcf_parse_u64(s, lo, hi, &v) == -1) {
		warnx("'%s': expected a whole number from %llu to %llu", s, (unsigned long long)lo,
		    (unsigned long long)hi);
		usage(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {{"bin", required_argument, NULL, 'b'},
	    {"log", required_argument, NULL, 'l'}, {"workers", required_argument, NULL, 'w'},
	    {"networks", required_argument, NULL, 'n'}, {"tasks", required_argument, NULL, 't'},
	    {"kills", required_argument, NULL, 'k'}, {"seconds", required_argument, NULL, 's'},
	    {"settle-ms", required_argument, NULL, 'S'}, {"busy", required_argument, NULL, 'B'},
	    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	struct db_opts o = {"./dcf-supervisor", NULL, 2, 1, 1000000, 1000, 10, 1000, 1};
	const char *cmd;
	int ch;

	if (argc < 2)
		usage(2);
	cmd = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'b':
			o.bin = optarg;
			break;
		case 'l':
			o.log = optarg;
			break;
		case 'w':
			o.workers = (uint32_t)arg_num(optarg, 1, DCF_MAX_NODES);
			break;
		case 'n':
			o.networks = (uint32_t)arg_num(optarg, 1, DCF_MAX_NETS);
			break;
		case 't':
			o.tasks = arg_num(optarg, 1, 1ULL << 40);
			break;
		case 'k':
			o.kills = (uint32_t)arg_num(optarg, 1, 1000000);
			break;
		case 's':
			o.seconds = (uint32_t)arg_num(optarg, 1, 3600);
			break;
		case 'S':
			o.settle_ms = (uint32_t)arg_num(optarg, 0, 600000);
			break;
		case 'B':
			o.busy = (uint32_t)arg_num(optarg, 1, DCF_MAX_NODES);
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc || o.workers % o.networks != 0) {
		if (optind == argc)
			warnx("--workers must be a multiple of --networks");
		usage(2);
	}
	bl_init();
	if (strcmp(cmd, "startup") == 0)
		return cmd_startup(&o);
	if (strcmp(cmd, "idle") == 0)
		return cmd_idle(&o);
	if (strcmp(cmd, "longrun") == 0)
		return cmd_longrun(&o);
	if (strcmp(cmd, "recovery") == 0)
		return cmd_recovery(&o);
	usage(2);
}
