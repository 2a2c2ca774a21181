/* status_options.c - dcf-status's command line: its entries of the option table (opts.h), stored. */
#include <string.h>

#include "dcf/store.h"
#include "opts.h"
#include "status.h"

int
status_parse_options(int argc, char **argv, struct status_opts *o)
{
	struct opt_parser p;
	struct opt_val v;
	enum opt_id id;
	enum opt_next r;
	int named = 0;

	memset(o, 0, sizeof(*o));
	o->name = "dcf";
	o->state = -1;
	o->interval_ms = 1000;
	opt_begin(&p, OPT_P_STATUS, argc, argv);
	while ((r = opt_next(&p, &id, &v)) == OPT_FOUND) {
		switch (id) {
		case OPT_NAME:
			o->name = v.s;
			named = 1;
			break;
		case OPT_NODE_ROWS:
			o->nodes = 1;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_WATCH:
			o->watch = 1;
			if (v.s != NULL)
				o->interval_ms = (unsigned)v.u;
			break;
		case OPT_COUNT:
			o->count = v.u;
			break;
		case OPT_LIST:
			o->list = 1;
			break;
		case OPT_REMOVE_STALE:
			o->remove = v.s;
			break;
		case OPT_STORE:
			o->store = v.s;
			break;
		case OPT_HOSTS:
			o->hosts = 1;
			break;
		case OPT_TASK_LIST:
			o->tasks = 1;
			break;
		case OPT_TASK:
			o->task = v.u;
			break;
		case OPT_STATE:
			o->state = (int)v.u; /* the words are in the states' order */
			break;
		case OPT_STDOUT:
		case OPT_STDERR:
			o->out_id = v.u;
			o->out_err = id == OPT_STDERR;
			break;
		default:
			opt_usage_error(&p, "--%s is in the table but not stored (a bug)",
			    opt_table[id].name);
			return -1;
		}
	}
	if (r == OPT_EXIT)
		return 1;
	if (r == OPT_ERROR || opt_no_operands(&p) == OPT_ERROR)
		return -1;
	if (o->count > 0 && !o->watch) {
		opt_usage_error(&p, "--count goes with --watch");
		return -1;
	}
	if (o->list && (named || o->nodes || o->watch || o->remove != NULL)) {
		opt_usage_error(&p, "--list goes alone, or with --json");
		return -1;
	}
	if (o->remove != NULL && (named || o->nodes || o->json || o->watch)) {
		opt_usage_error(&p, "--remove-stale NAME goes alone");
		return -1;
	}
	if ((o->tasks != 0) + (o->task != 0) + (o->out_id != 0) + (o->hosts != 0) > 1) {
		opt_usage_error(&p, "give one of --tasks, --task, --stdout, --stderr and --hosts");
		return -1;
	}
	if ((o->tasks || o->task || o->out_id || o->hosts) &&
	    (o->nodes || o->watch || o->list || o->remove)) {
		opt_usage_error(&p,
		    "--tasks, --task, --stdout, --stderr and --hosts read the store: not with "
		    "--nodes, --watch, --list or --remove-stale");
		return -1;
	}
	if (o->hosts && (o->store == NULL || !dcf_store_is_url(o->store))) {
		opt_usage_error(&p,
		    "--hosts reads the hosts sharing a PostgreSQL store: give --store "
		    "postgresql://...");
		return -1;
	}
	if (o->state >= 0 && !o->tasks) {
		opt_usage_error(&p, "--state goes with --tasks");
		return -1;
	}
	if (o->store != NULL && !o->tasks && !o->task && !o->out_id && !o->hosts) {
		opt_usage_error(&p,
		    "--store goes with --tasks, --task, --stdout, --stderr or --hosts");
		return -1;
	}
	if (o->out_id != 0 && o->json) {
		opt_usage_error(&p, "--%s prints the output as it is: not with --json",
		    o->out_err ? "stderr" : "stdout");
		return -1;
	}
	return 0;
}
