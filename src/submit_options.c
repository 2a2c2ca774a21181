/* submit_options.c - dcf-submit's command line: its entries of the option table (opts.h). */
#include <string.h>

#include "dcf/proto.h"
#include "opts.h"
#include "submit.h"

_Static_assert(OPT_IDS_MAX == DCF_DEPS_MAX &&
        sizeof(((struct submit_opts *)0)->deps) == OPT_IDS_MAX * sizeof(uint64_t),
    "--after takes as many ids as a submission carries");

int
submit_parse_options(int argc, char **argv, struct submit_opts *o)
{
	struct opt_parser p;
	struct opt_val v;
	enum opt_id id;
	enum opt_next r;

	memset(o, 0, sizeof(*o));
	o->name = "dcf";
	o->retries = DCF_RETRIES_DEFAULT;
	o->net = DCF_NET_ANY;
	opt_begin(&p, OPT_P_SUBMIT, argc, argv);
	while ((r = opt_next(&p, &id, &v)) == OPT_FOUND) {
		switch (id) {
		case OPT_NAME:
			o->name = v.s;
			break;
		case OPT_TIMEOUT:
			o->timeout_ms = (uint32_t)v.u;
			break;
		case OPT_RETRIES:
			o->retries = (uint32_t)v.u;
			break;
		case OPT_KEY:
			o->key = v.s;
			break;
		case OPT_WAIT:
			o->wait = 1;
			break;
		case OPT_PRIORITY:
			o->prio = (int32_t)v.i;
			break;
		case OPT_HOST:
			o->host = v.s;
			break;
		case OPT_NETWORK:
			o->net = (uint32_t)v.u;
			break;
		case OPT_DELAY:
			o->delay_ms = v.u;
			o->timed++;
			break;
		case OPT_AT:
			o->at_ns = v.u;
			o->timed++;
			break;
		case OPT_AFTER:
		case OPT_AFTER_ANY:
			if (o->after != NULL) {
				opt_usage_error(&p, "give one of --after and --after-any, once");
				return -1;
			}
			o->after = v.s;
			o->after_any = id == OPT_AFTER_ANY;
			break;
		case OPT_BATCH:
			o->batch = 1;
			break;
		case OPT_LINES_ARE_COMMANDS:
			o->commands = 1;
			break;
		case OPT_NULL:
			o->null_sep = 1;
			break;
		default:
			opt_usage_error(&p, "--%s is in the table but not stored (a bug)",
			    opt_table[id].name);
			return -1;
		}
	}
	if (r == OPT_EXIT)
		return 1;
	if (r == OPT_ERROR)
		return -1;
	if (o->after != NULL)
		o->ndeps = opt_ids(o->after, o->deps);
	o->cmd_argv = argv + p.ind;
	o->cmd_argc = argc - p.ind;
	if (o->timed > 1) {
		opt_usage_error(&p, "--delay and --at say the same: give one");
		return -1;
	}
	if ((o->commands || o->null_sep) && !o->batch) {
		opt_usage_error(&p, "--%s is for --batch", o->commands ? "commands" : "null");
		return -1;
	}
	if (o->commands && o->cmd_argc > 0) {
		opt_usage_error(&p, "with --commands each line is the command: give none after --");
		return -1;
	}
	if (!o->commands && o->cmd_argc == 0) {
		opt_usage_error(&p, "give the command after the options: -- COMMAND [ARG...]%s",
		    o->batch ? " (or --commands)" : "");
		return -1;
	}
	if (o->cmd_argc > 0 && o->cmd_argv[0][0] == '\0') {
		opt_usage_error(&p, "the command's name is empty");
		return -1;
	}
	return 0;
}
