/* status_options.c - dcf-status's command line: its entries of the option table (opts.h), stored. */
#include <string.h>

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
	return 0;
}
