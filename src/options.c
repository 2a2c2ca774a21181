/* options.c - dcf-supervisor's command line: its entries of the option table (opts.h), stored. */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dcf/util.h"
#include "opts.h"
#include "supervisor.h"

static const enum dcf_work works[] = {DCF_WORK_SLEEP, DCF_WORK_CPU, DCF_WORK_NONE};

/* Store one option's value; the table has parsed and bounded it. */
static enum opt_next
store(const struct opt_parser *p, struct sup_opts *o, enum opt_id id, const struct opt_val *v)
{
	struct dcf_config *c = &o->cfg;

	switch (id) {
	case OPT_NETWORKS:
		c->nets = (uint32_t)v->u;
		break;
	case OPT_NODES:
		c->nodes_per_net = (uint32_t)v->u;
		break;
	case OPT_TASKS:
		c->tasks = v->u;
		break;
	case OPT_TASK_MS:
		c->task_ms_min = (uint32_t)v->lo;
		c->task_ms_max = (uint32_t)v->hi;
		break;
	case OPT_WORK:
		c->work = works[v->u];
		break;
	case OPT_FAIL_RATE:
		c->fail_rate_ppm = v->u;
		break;
	case OPT_DOWNTIME:
		c->downtime_ms_min = (uint32_t)v->lo;
		c->downtime_ms_max = (uint32_t)v->hi;
		break;
	case OPT_MAX_ATTEMPTS:
		c->max_attempts = (uint32_t)v->u;
		break;
	case OPT_MAX_RESTARTS:
		c->max_restarts = (uint32_t)v->u;
		break;
	case OPT_RESTART_WINDOW:
		c->restart_window_s = (uint32_t)v->u;
		break;
	case OPT_HANG_TIMEOUT:
		c->hang_timeout_ms = (uint32_t)v->u;
		break;
	case OPT_GRACE_MS:
		c->grace_ms = (uint32_t)v->u;
		break;
	case OPT_SEED:
		c->seed = v->u;
		o->seed_given = 1;
		break;
	case OPT_NAME:
		strlcpy(o->name, v->s, sizeof(o->name));
		break;
	case OPT_LOG:
		o->log_path = v->s;
		break;
	case OPT_LOG_LEVEL:
		o->level = (enum dcf_level)v->u; /* the words are in the enum's order */
		break;
	case OPT_QUIET:
		o->level = DCF_WARNING;
		break;
	default:
		return opt_usage_error(p, "--%s is in the table but not stored (a bug)",
		    opt_table[id].name);
	}
	return OPT_FOUND;
}

int
sup_parse_options(int argc, char **argv, struct sup_opts *o)
{
	struct dcf_config *c = &o->cfg;
	struct opt_parser p;
	struct opt_val v;
	enum opt_id id;
	enum opt_next r;

	memset(o, 0, sizeof(*o));
	dcf_config_default(c);
	o->level = DCF_INFO;
	strlcpy(o->name, "dcf", sizeof(o->name));
	opt_begin(&p, OPT_P_SUPERVISOR, argc, argv);
	while ((r = opt_next(&p, &id, &v)) == OPT_FOUND)
		if (store(&p, o, id, &v) == OPT_ERROR)
			return -1;
	if (r == OPT_EXIT)
		return 1;
	if (r == OPT_ERROR || opt_no_operands(&p) == OPT_ERROR)
		return -1;
	if ((uint64_t)c->nets * c->nodes_per_net > DCF_MAX_NODES) {
		opt_usage_error(&p, "--networks x --nodes is %llu, at most %d",
		    (unsigned long long)c->nets * c->nodes_per_net, DCF_MAX_NODES);
		return -1;
	}
	if (!o->seed_given)
		c->seed = dcf_mix64((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	dcf_config_size(c);
	return 0;
}
