/* ctl_options.c - dcf-ctl's command line: its entries of the option table (opts.h), then its command. */
#include <signal.h>
#include <string.h>
#include <strings.h>

#include "ctl.h"
#include "dcf/layout.h"
#include "dcf/proto.h"
#include "dcf/util.h"
#include "opts.h"

#define COMMANDS \
	"pause [NETWORK], resume [NETWORK], drain, cancel ID, kill ID [SIGNAL], priority ID P, " \
	"retry ID, scale NETWORK [+|-]N, stop-node NETWORK NODE, restart-node NETWORK NODE, " \
	"no-restart NETWORK NODE, add-network N or remove-network NETWORK"

/* The commands, and what each takes after its name. */
enum operand {
	NOTHING,
	NETWORK,
	TASK,
	TASK_SIGNAL,
	TASK_PRIO,
	NET_COUNT,
	NET_NODE,
	COUNT,    /* add-network N */
	NET_ONLY, /* remove-network NETWORK */
};
static const struct {
	const char *name;
	uint32_t op;
	enum operand takes;
} commands[] = {
    {"pause", DCF_CTL_PAUSE, NETWORK},
    {"resume", DCF_CTL_RESUME, NETWORK},
    {"drain", DCF_CTL_DRAIN, NOTHING},
    {"cancel", DCF_CTL_CANCEL, TASK},
    {"kill", DCF_CTL_KILL, TASK_SIGNAL},
    {"priority", DCF_CTL_PRIORITY, TASK_PRIO},
    {"retry", DCF_CTL_RETRY, TASK},
    {"scale", DCF_CTL_SCALE, NET_COUNT},
    {"stop-node", DCF_CTL_STOP_NODE, NET_NODE},
    {"restart-node", DCF_CTL_RESTART_NODE, NET_NODE},
    {"no-restart", DCF_CTL_NO_RESTART, NET_NODE},
    {"add-network", DCF_CTL_ADD_NETWORK, COUNT},
    {"remove-network", DCF_CTL_REMOVE_NETWORK, NET_ONLY},
};

/* NETWORK then a count or a node: into o (net, id, value). 0, or -1 (said). */
static int
net_and(struct opt_parser *p, struct ctl_opts *o, enum operand takes, char **args, int left)
{
	char q[OPT_QUOTE_LEN];
	uint64_t n;
	int64_t v;
	const char *a;

	if (left < 2) {
		opt_usage_error(p, "%s needs a network and %s", o->command,
		    takes == NET_COUNT ? "a count of nodes (N, +N or -N)" : "a node's number");
		return -1;
	}
	if (dcf_parse_u64(args[0], 0, DCF_MAX_NETS - 1, &n) == -1) {
		opt_quote(q, sizeof(q), args[0]);
		opt_usage_error(p, "%s %s: a network is a number from 0 to %u", o->command, q,
		    DCF_MAX_NETS - 1);
		return -1;
	}
	o->net = (uint32_t)n;
	a = args[1];
	if (takes == NET_NODE) {
		if (dcf_parse_u64(a, 0, DCF_MAX_NODES - 1, &o->id) == -1) {
			opt_quote(q, sizeof(q), a);
			opt_usage_error(p, "%s %s: a node is a number from 0", o->command, q);
			return -1;
		}
		o->value = o->now ? DCF_CTL_F_NOW : 0;
		return 0;
	}
	o->id =
	    (o->now ? DCF_CTL_F_NOW : 0) | (a[0] == '+' || a[0] == '-' ? DCF_CTL_F_RELATIVE : 0);
	if (dcf_parse_i64(a[0] == '+' ? a + 1 : a, -DCF_MAX_NODES, DCF_MAX_NODES, &v) == -1 ||
	    (a[0] == '+' && a[1] == '-') || (!(o->id & DCF_CTL_F_RELATIVE) && v < 0)) {
		opt_quote(q, sizeof(q), a);
		opt_usage_error(p,
		    "scale %s: give the nodes it is to have (N), or how many more or fewer (+N, "
		    "-N)",
		    q);
		return -1;
	}
	o->value = v;
	return 0;
}

/* A signal by name (TERM, SIGTERM, any case) or number: 0 and *sig, or -1. */
static int
parse_signal(const char *s, int *sig)
{
	uint64_t n;

	if (dcf_parse_u64(s, 1, NSIG - 1, &n) == 0) {
		*sig = (int)n;
		return 0;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *name = sigabbrev_np(i);

		if (name != NULL && strcasecmp(s, name) == 0) {
			*sig = i;
			return 0;
		}
	}
	return -1;
}

int
ctl_parse_options(int argc, char **argv, struct ctl_opts *o)
{
	return ctl_parse_into(argc, argv, o, NULL, 0);
}

int
ctl_parse_into(int argc, char **argv, struct ctl_opts *o, char *err, size_t errlen)
{
	struct opt_parser p;
	struct opt_val v;
	enum opt_id id;
	enum opt_next r;
	int i, k, left, max;

	memset(o, 0, sizeof(*o));
	o->name = "dcf";
	o->net = DCF_CTL_ALL;
	opt_begin(&p, OPT_P_CTL, argc, argv);
	p.err = err;
	p.errlen = errlen;
	while ((r = opt_next(&p, &id, &v)) == OPT_FOUND) {
		switch (id) {
		case OPT_NAME:
			o->name = v.s;
			break;
		case OPT_NOW:
			o->now = 1;
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
	if (p.ind >= argc) {
		opt_usage_error(&p, "give a command: " COMMANDS);
		return -1;
	}
	o->command = argv[p.ind];
	for (k = 0; k < (int)(sizeof(commands) / sizeof(commands[0])); k++)
		if (strcmp(o->command, commands[k].name) == 0)
			break;
	if (k == (int)(sizeof(commands) / sizeof(commands[0]))) {
		char q[OPT_QUOTE_LEN];

		opt_quote(q, sizeof(q), o->command);
		opt_usage_error(&p, "no command %s: " COMMANDS, q);
		return -1;
	}
	o->op = commands[k].op;
	i = p.ind + 1;
	left = argc - i;
	/* "scale 0 -2 --now" reads as it is meant: --now after the operands too. */
	if (left == (commands[k].takes == NET_ONLY ? 2 : 3) &&
	    (commands[k].takes == NET_COUNT || commands[k].takes == NET_NODE ||
	        commands[k].takes == NET_ONLY) &&
	    strcmp(argv[argc - 1], "--now") == 0) {
		o->now = 1;
		left--;
	}
	max = commands[k].takes == NOTHING ? 0
	    : commands[k].takes == TASK_SIGNAL || commands[k].takes == TASK_PRIO ||
	        commands[k].takes == NET_COUNT || commands[k].takes == NET_NODE
	    ? 2
	    : 1;
	if (left > max) {
		char q[OPT_QUOTE_LEN];

		opt_quote(q, sizeof(q), argv[i + max]);
		opt_usage_error(&p, "%s takes %s: %s is one too many", o->command,
		    commands[k].takes == NETWORK           ? "one network at most"
		        : commands[k].takes == TASK        ? "one task id"
		        : commands[k].takes == TASK_SIGNAL ? "a task id and a signal at most"
		        : commands[k].takes == TASK_PRIO   ? "a task id and a priority"
		        : commands[k].takes == NET_COUNT   ? "a network and a count"
		        : commands[k].takes == NET_NODE    ? "a network and a node"
		        : commands[k].takes == COUNT       ? "a count of nodes"
		        : commands[k].takes == NET_ONLY    ? "one network"
		                                           : "nothing",
		    q);
		return -1;
	}
	if (o->now && o->op != DCF_CTL_SCALE && o->op != DCF_CTL_STOP_NODE &&
	    o->op != DCF_CTL_RESTART_NODE && o->op != DCF_CTL_REMOVE_NETWORK) {
		opt_usage_error(&p,
		    "--now is for scale, stop-node, restart-node and remove-network, not %s",
		    o->command);
		return -1;
	}
	if (commands[k].takes == COUNT || commands[k].takes == NET_ONLY) {
		char q[OPT_QUOTE_LEN];
		uint64_t u;

		if (left == 0) {
			opt_usage_error(&p, "%s needs %s", o->command,
			    commands[k].takes == COUNT ? "the new network's count of nodes"
			                               : "the network to remove");
			return -1;
		}
		if (dcf_parse_u64(argv[i], commands[k].takes == COUNT,
		        commands[k].takes == COUNT ? DCF_MAX_NODES : DCF_MAX_NETS - 1, &u) == -1) {
			opt_quote(q, sizeof(q), argv[i]);
			opt_usage_error(&p, "%s %s: %s", o->command, q,
			    commands[k].takes == COUNT ? "a count of nodes is a number from 1"
			                               : "a network is a number from 0");
			return -1;
		}
		if (commands[k].takes == COUNT) {
			o->value = (int64_t)u;
		} else {
			o->net = (uint32_t)u;
			o->value = o->now ? DCF_CTL_F_NOW : 0;
		}
		return 0;
	}
	if (commands[k].takes == NET_COUNT || commands[k].takes == NET_NODE)
		return net_and(&p, o, commands[k].takes, argv + i, left);
	if (commands[k].takes == TASK || commands[k].takes == TASK_SIGNAL ||
	    commands[k].takes == TASK_PRIO) {
		char q[OPT_QUOTE_LEN];
		int sig = SIGTERM;

		if (left == 0) {
			opt_usage_error(&p, "%s needs the task's id (dcf-submit printed it)",
			    o->command);
			return -1;
		}
		if (dcf_parse_u64(argv[i], 1, INT64_MAX, &o->id) == -1) {
			opt_quote(q, sizeof(q), argv[i]);
			opt_usage_error(&p, "%s %s: a task id is a whole number from 1", o->command,
			    q);
			return -1;
		}
		if (commands[k].takes == TASK_PRIO) {
			int64_t prio;

			if (left < 2) {
				opt_usage_error(&p,
				    "priority needs the task's id and its new priority (%d "
				    "to %d)",
				    DCF_PRIO_MIN, DCF_PRIO_MAX);
				return -1;
			}
			if (dcf_parse_i64(argv[i + 1], DCF_PRIO_MIN, DCF_PRIO_MAX, &prio) == -1) {
				opt_quote(q, sizeof(q), argv[i + 1]);
				opt_usage_error(&p,
				    "priority %s: a priority is a whole number from %d to %d", q,
				    DCF_PRIO_MIN, DCF_PRIO_MAX);
				return -1;
			}
			o->prio = (int32_t)prio;
			o->value = prio;
			return 0;
		}
		if (left == 2 && parse_signal(argv[i + 1], &sig) == -1) {
			opt_quote(q, sizeof(q), argv[i + 1]);
			opt_usage_error(&p,
			    "%s %s: not a signal: a name (TERM, KILL, INT...) or a number",
			    o->command, q);
			return -1;
		}
		o->sig = sig;
		o->value = sig;
		return 0;
	}
	if (left == 1) {
		uint64_t n;
		char q[OPT_QUOTE_LEN];

		if (dcf_parse_u64(argv[i], 0, DCF_MAX_NETS - 1, &n) == -1) {
			opt_quote(q, sizeof(q), argv[i]);
			opt_usage_error(&p, "%s %s: a network is a number from 0 to %u", o->command,
			    q, DCF_MAX_NETS - 1);
			return -1;
		}
		o->net = (uint32_t)n;
	}
	return 0;
}
