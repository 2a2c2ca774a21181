/* status_options.c - dcf-status's command line: every value checked, one-line errors. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dcf/seg.h"
#include "dcf/util.h"
#include "status.h"

enum { OPT_REMOVE = 256 }; /* long options without a letter */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: dcf-status [-n NAME] [-v] [-j] [-w [SECONDS] [-c N]]\n"
	    "       dcf-status -l [-j]\n"
	    "       dcf-status --remove-stale NAME\n"
	    "Show the state of a running dcf system (read-only, takes no lock).\n"
	    "  -n, --name NAME        the instance to look at (default: dcf)\n"
	    "  -v, --nodes            one row per node\n"
	    "  -j, --json             one JSON document (fields in dcf-status(1))\n"
	    "  -w, --watch [SECONDS]  refresh every SECONDS (default 1; 0.1 to 3600)\n"
	    "                         until the run ends; q or Ctrl-C quits, j/k and\n"
	    "                         space/b scroll; off a terminal, JSON Lines\n"
	    "  -c, --count N          with --watch: stop after N snapshots\n"
	    "  -l, --list             every instance on this machine: live, ended, stale\n"
	    "      --remove-stale NAME  remove NAME's segment if its supervisor is dead\n"
	    "  -h, --help             this help\n"
	    "  -V, --version          the version\n"
	    "Exit status: 0 ok, or the watched run ended; 1 not running, a stale segment,\n"
	    "an unreadable or inconsistent segment, or nothing removed; 2 bad usage.\n");
}

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dcf-status: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; try 'dcf-status --help'\n");
	return -1;
}

/* Seconds as "N" or "N.D..." (to the millisecond), within the watch bounds. */
static int
parse_seconds(const char *s, unsigned *ms)
{
	uint64_t whole = 0, frac = 0, scale = 1000;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((whole = whole * 10 + (uint64_t)(*p - '0')) > STATUS_WATCH_MAX_MS / 1000)
			return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++) {
			scale /= 10;
			frac += (uint64_t)(*p - '0') * scale;
		}
	if (*p != '\0')
		return -1;
	whole = whole * 1000 + frac;
	if (whole < STATUS_WATCH_MIN_MS || whole > STATUS_WATCH_MAX_MS)
		return -1;
	*ms = (unsigned)whole;
	return 0;
}

int
status_parse_options(int argc, char **argv, struct status_opts *o)
{
	static const struct option longopts[] = {{"name", required_argument, NULL, 'n'},
	    {"nodes", no_argument, NULL, 'v'}, {"json", no_argument, NULL, 'j'},
	    {"watch", optional_argument, NULL, 'w'}, {"count", required_argument, NULL, 'c'},
	    {"list", no_argument, NULL, 'l'}, {"remove-stale", required_argument, NULL, OPT_REMOVE},
	    {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0}};
	char msg[DCF_ERRLEN];
	int ch, named = 0;

	memset(o, 0, sizeof(*o));
	o->name = "dcf";
	o->interval_ms = 1000;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:n:vjw::c:lhV", longopts, NULL)) != -1) {
		const char *arg = optarg;

		switch (ch) {
		case 'n':
			if (dcf_name_check(optarg, msg, sizeof(msg)) == -1)
				return usage_error("%s", msg);
			o->name = optarg;
			named = 1;
			break;
		case 'v':
			o->nodes = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'w':
			o->watch = 1;
			/* "--watch 2" as well as "--watch=2" and "-w2". */
			if (arg == NULL && optind < argc && argv[optind][0] >= '0' &&
			    argv[optind][0] <= '9')
				arg = argv[optind++];
			if (arg != NULL && parse_seconds(arg, &o->interval_ms) == -1)
				return usage_error("--watch wants seconds from 0.1 to 3600, not "
				                   "'%s'",
				    arg);
			break;
		case 'c':
			if (dcf_parse_u64(optarg, 1, UINT64_MAX, &o->count) == -1)
				return usage_error("--count wants a whole number of snapshots, not "
				                   "'%s'",
				    optarg);
			break;
		case 'l':
			o->list = 1;
			break;
		case OPT_REMOVE:
			if (dcf_name_check(optarg, msg, sizeof(msg)) == -1)
				return usage_error("%s", msg);
			o->remove = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("dcf-status %s\n", DCF_VERSION);
			return 1;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			/* As in dcf-supervisor: a letter of ours in optopt means a long option. */
			if (optopt != 0 && optopt < OPT_REMOVE &&
			    strchr("nvjwclhV", optopt) == NULL)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (o->count > 0 && !o->watch)
		return usage_error("--count goes with --watch");
	if (o->list && (named || o->nodes || o->watch || o->remove != NULL))
		return usage_error("--list goes alone, or with --json");
	if (o->remove != NULL && (named || o->nodes || o->json || o->watch))
		return usage_error("--remove-stale NAME goes alone");
	return 0;
}
