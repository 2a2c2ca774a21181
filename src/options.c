/* options.c - dcf-supervisor's command line: its entries of the option table (opts.h), stored. */
#include <errno.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dcf/store.h"
#include "dcf/util.h"
#include "opts.h"
#include "dcf/supervisor.h"

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
	case OPT_MAX_NODES:
		o->start_nodes = (uint32_t)v->u; /* the room, until the checks below */
		break;
	case OPT_MAX_NETWORKS:
		o->start_nets = (uint32_t)v->u; /* the room, until the checks below */
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
	case OPT_SCHEDULE:
		o->schedule = (uint32_t)v->u;
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
		o->level_given = 1;
		break;
	case OPT_QUIET:
		o->level = DCF_WARNING;
		o->level_given = 1;
		break;
	case OPT_ARG_FILE:
		o->arg_file = v->s;
		break;
	case OPT_NULL:
		o->null_sep = 1;
		break;
	case OPT_COMMANDS:
		o->commands_path = v->s;
		break;
	case OPT_RETRIES:
		c->retries = (uint32_t)v->u;
		break;
	case OPT_RETRY_DELAY:
		c->retry_delay_ms = (uint32_t)v->u;
		break;
	case OPT_TIMEOUT:
		c->timeout_ms = (uint32_t)v->u;
		break;
	case OPT_KILL_AFTER:
		c->kill_after_ms = (uint32_t)v->u;
		break;
	case OPT_JOBLOG:
		o->joblog_path = v->s;
		break;
	case OPT_RESUME:
		o->resume = SUP_RESUME_ALL;
		break;
	case OPT_RESUME_FAILED:
		o->resume = SUP_RESUME_FAILED;
		break;
	case OPT_RESULTS:
		o->results_dir = v->s;
		break;
	case OPT_STORE:
		o->store_path = v->s;
		break;
	case OPT_SERVE:
		o->serve = 1;
		break;
	case OPT_HOST_ID:
		o->host_id = v->s;
		break;
	case OPT_LEASE:
		o->lease_ms = (uint32_t)v->u;
		break;
	case OPT_ALLOW_USER:
		o->allow_text = v->s;
		break;
	case OPT_NO_CGROUPS:
		o->no_cgroups = 1;
		break;
	case OPT_KEEP:
		if (v->lo)
			o->keep_age_ms = v->u;
		else
			o->keep_count = v->u;
		break;
	default:
		return opt_usage_error(p, "--%s is in the table but not stored (a bug)",
		    opt_table[id].name);
	}
	return OPT_FOUND;
}

/* The options that only the demo's synthetic tasks, or only commands, take. */
static const enum opt_id demo_only[] = {OPT_TASKS, OPT_TASK_MS, OPT_WORK};
static const enum opt_id cmd_only[] = {OPT_ARG_FILE, OPT_NULL, OPT_RETRIES, OPT_RETRY_DELAY,
    OPT_TIMEOUT, OPT_KILL_AFTER, OPT_JOBLOG, OPT_RESUME, OPT_RESUME_FAILED, OPT_RESULTS, OPT_STORE,
    OPT_NO_CGROUPS};

/* The options of an input, which --serve does not have. */
static const enum opt_id serve_not[] = {OPT_ARG_FILE, OPT_NULL, OPT_RESUME, OPT_RESUME_FAILED};

static int
given_in(const uint8_t *given, const enum opt_id *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (given[ids[i]])
			return (int)ids[i];
	return -1;
}

/*
 * Command mode's defaults suit real work: one network of a node per CPU,
 * no injected crashes, a crashed node back at once, the input streamed.
 * Any option given explicitly still wins.
 */
static void
command_defaults(struct sup_opts *o, const uint8_t *given)
{
	struct dcf_config *c = &o->cfg;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	c->work = DCF_WORK_CMD;
	c->tasks = DCF_TASKS_STREAM;
	c->payload_max = SUP_CMD_MAX;
	if (!given[OPT_NETWORKS])
		c->nets = 1;
	if (!given[OPT_NODES])
		c->nodes_per_net =
		    ncpu > 0 ? (uint32_t)(ncpu < DCF_MAX_NODES ? ncpu : DCF_MAX_NODES) : 1;
	if (!given[OPT_FAIL_RATE])
		c->fail_rate_ppm = 0;
	if (!given[OPT_DOWNTIME])
		c->downtime_ms_min = c->downtime_ms_max = 0;
	if (!given[OPT_KILL_AFTER])
		c->kill_after_ms = 5000;
	/* Standard error is the user's: failures and the summary there, not every start. */
	if (!o->level_given && o->log_path == NULL)
		o->level = DCF_WARNING;
}

/*
 * --max-nodes, --max-networks (opt): the room given in *start (as stored),
 * at least what runs at the start (*count, of count_opt); then *start is
 * what runs at the start and *count the room. --serve only. 0, or -1 said.
 */
static int
room(struct opt_parser *p, const struct sup_opts *o, enum opt_id opt, enum opt_id count_opt,
    const char *whose, uint32_t *start, uint32_t *count)
{
	uint32_t r = *start;

	if (!o->serve) {
		opt_usage_error(p, "--%s is for --serve, whose %s", opt_table[opt].name, whose);
		return -1;
	}
	if (r < *count) {
		opt_usage_error(p, "--%s %u is fewer than --%s %u: give at least %u",
		    opt_table[opt].name, r, opt_table[count_opt].name, *count, *count);
		return -1;
	}
	*start = *count;
	*count = r;
	return 0;
}

/*
 * --allow-user USER[,USER...]: names or uids of users, other than the
 * service's, who may submit to it and wait (their tasks run as them). Only
 * root's service can be reached by others.
 */
static int
allow_users(struct opt_parser *p, struct sup_opts *o)
{
	char buf[512], *save = NULL;

	if (!o->serve) {
		opt_usage_error(p, "--allow-user is for --serve: a batch takes no submissions");
		return -1;
	}
	if (geteuid() != 0) {
		opt_usage_error(p,
		    "--allow-user is for a service run by root: yours is reached through your "
		    "own private XDG_RUNTIME_DIR only");
		return -1;
	}
	if (o->store_path != NULL && dcf_store_is_url(o->store_path)) {
		opt_usage_error(p,
		    "--allow-user is for a store of one host: a task in a shared store may run on "
		    "any host, as a user that host never let in");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", o->allow_text);
	for (char *u = strtok_r(buf, ",", &save); u != NULL; u = strtok_r(NULL, ",", &save)) {
		struct passwd pw, *res = NULL;
		char pwbuf[1024], *end;
		unsigned long n;

		errno = 0;
		n = strtoul(u, &end, 10);
		if (*u >= '0' && *u <= '9' && *end == '\0' && errno == 0 && n < UINT32_MAX) {
			/* a uid, whether /etc/passwd names it or not */
		} else if (getpwnam_r(u, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res != NULL) {
			n = pw.pw_uid;
		} else {
			opt_usage_error(p,
			    "--allow-user: no user '%s' on this machine: give a name from the "
			    "password database, or a uid",
			    u);
			return -1;
		}
		if (n == 0)
			continue; /* the service's own */
		if (o->nallow == SUP_ALLOW_MAX) {
			opt_usage_error(p, "--allow-user: at most %d users", SUP_ALLOW_MAX);
			return -1;
		}
		o->allow_uid[o->nallow++] = (uint32_t)n;
	}
	return 0;
}

int
sup_parse_options(int argc, char **argv, struct sup_opts *o)
{
	struct dcf_config *c = &o->cfg;
	struct opt_parser p;
	struct opt_val v;
	enum opt_id id;
	enum opt_next r;
	uint8_t given[OPT_NENTRIES];
	int bad;

	memset(o, 0, sizeof(*o));
	memset(given, 0, sizeof(given));
	dcf_config_default(c);
	o->level = DCF_INFO;
	strlcpy(o->name, "dcf", sizeof(o->name));
	opt_begin(&p, OPT_P_SUPERVISOR, argc, argv);
	while ((r = opt_next(&p, &id, &v)) == OPT_FOUND) {
		given[id] = 1;
		if (store(&p, o, id, &v) == OPT_ERROR)
			return -1;
	}
	if (r == OPT_EXIT)
		return 1;
	if (r == OPT_ERROR)
		return -1;
	/* What is left is the command: executed directly, one task per input line. */
	o->cmd_argv = argv + p.ind;
	o->cmd_argc = argc - p.ind;
	if (o->cmd_argc > 0 && o->commands_path != NULL) {
		opt_usage_error(&p, "give a command or --commands FILE, not both");
		return -1;
	}
	if (o->serve && (o->cmd_argc > 0 || o->commands_path != NULL)) {
		opt_usage_error(&p,
		    "--serve runs what dcf-submit sends: give no command and no "
		    "--commands");
		return -1;
	}
	if (given[OPT_KEEP] && !o->serve) {
		opt_usage_error(&p, "--keep is for --serve: a batch's store keeps every task");
		return -1;
	}
	if (o->serve && !given[OPT_KEEP])
		o->keep_count = 100000;
	if ((given[OPT_HOST_ID] || given[OPT_LEASE]) &&
	    (!o->serve || o->store_path == NULL || !dcf_store_is_url(o->store_path))) {
		opt_usage_error(&p,
		    "--%s is for --serve with a PostgreSQL store (--store postgresql://...)",
		    given[OPT_HOST_ID] ? "host-id" : "lease");
		return -1;
	}
	if (o->lease_ms == 0)
		o->lease_ms = 30000;
	if (given[OPT_ALLOW_USER] && allow_users(&p, o) == -1)
		return -1;
	if (o->serve &&
	    (bad = given_in(given, serve_not, sizeof(serve_not) / sizeof(serve_not[0]))) >= 0) {
		opt_usage_error(&p,
		    "--%s reads an input; --serve has none (dcf-submit --batch reads "
		    "one)",
		    opt_table[bad].name);
		return -1;
	}
	if (!sup_cmd_mode(o) &&
	    (bad = given_in(given, cmd_only, sizeof(cmd_only) / sizeof(cmd_only[0]))) >= 0) {
		opt_usage_error(&p,
		    "--%s is for commands: give one after the options (-- COMMAND [ARG...]) or "
		    "--commands FILE",
		    opt_table[bad].name);
		return -1;
	}
	if (sup_cmd_mode(o) &&
	    (bad = given_in(given, demo_only, sizeof(demo_only) / sizeof(demo_only[0]))) >= 0) {
		opt_usage_error(&p,
		    "--%s is for the demo's synthetic tasks; a command runs one task per input "
		    "line",
		    opt_table[bad].name);
		return -1;
	}
	if (o->commands_path != NULL && o->arg_file != NULL) {
		opt_usage_error(&p,
		    "--arg-file is for a command's arguments; --commands reads its own file");
		return -1;
	}
	if (o->resume != SUP_RESUME_NONE && o->joblog_path == NULL) {
		opt_usage_error(&p, "--%s reads the joblog: give --joblog FILE too",
		    o->resume == SUP_RESUME_ALL ? "resume" : "resume-failed");
		return -1;
	}
	if (o->resume != SUP_RESUME_NONE && o->store_path != NULL) {
		opt_usage_error(&p,
		    "--%s reads the joblog, --store resumes by itself: give one of them",
		    o->resume == SUP_RESUME_ALL ? "resume" : "resume-failed");
		return -1;
	}
	if (given[OPT_KILL_AFTER] && !given[OPT_TIMEOUT]) {
		opt_usage_error(&p,
		    "--kill-after follows a --timeout: give --timeout DURATION too");
		return -1;
	}
	if (sup_cmd_mode(o))
		command_defaults(o, given);
	if (given[OPT_MAX_NODES] &&
	    room(&p, o, OPT_MAX_NODES, OPT_NODES, "nodes dcf-ctl scales", &o->start_nodes,
	        &c->nodes_per_net) == -1)
		return -1;
	if (given[OPT_MAX_NETWORKS] &&
	    room(&p, o, OPT_MAX_NETWORKS, OPT_NETWORKS, "networks dcf-ctl adds and removes",
	        &o->start_nets, &c->nets) == -1)
		return -1;
	if ((uint64_t)c->nets * c->nodes_per_net > DCF_MAX_NODES) {
		opt_usage_error(&p, "--%s x --%s is %llu, at most %d",
		    given[OPT_MAX_NETWORKS] ? "max-networks" : "networks",
		    given[OPT_MAX_NODES] ? "max-nodes" : "nodes",
		    (unsigned long long)c->nets * c->nodes_per_net, DCF_MAX_NODES);
		return -1;
	}
	if (!o->seed_given)
		c->seed = dcf_mix64((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	dcf_config_size(c);
	return 0;
}
