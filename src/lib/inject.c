/* inject.c - crash points: a process kills itself at an armed step. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcf/inject.h"

static const char *const op_names[DCF_OP_COUNT] = {"dispatch", "claim", "complete", "retire",
    "reclaim", "move", "sleep", "wake", "node", "turn", "giveback"};

const char *
dcf_op_name(int op)
{
	if (op == DCF_OP_STORE)
		return "store";
	return op >= 0 && op < DCF_OP_COUNT ? op_names[op] : "?";
}

#ifdef DCF_INJECT_ENABLE
static int armed_op = DCF_OP_ANY, armed_step = DCF_STEP_ANY;
static unsigned long armed_count; /* 0: disarmed */
static int armed_sig = SIGKILL;

void
dcf_inject_arm(int op, int step, unsigned long count)
{
	armed_op = op;
	armed_step = step;
	armed_count = count;
}

void
dcf_inject_disarm(void)
{
	armed_count = 0;
}

void
dcf_inject_hit(int op, int step)
{
	if (armed_count == 0)
		return;
	if (armed_op != DCF_OP_ANY && armed_op != op)
		return;
	if (armed_step != DCF_STEP_ANY && armed_step != step)
		return;
	if (__atomic_sub_fetch(&armed_count, 1, __ATOMIC_RELAXED) == 0)
		kill(getpid(), armed_sig); /* the process, whichever thread got here */
}

int
dcf_inject_from_env(void)
{
	return dcf_inject_from_var("DCF_INJECT");
}

int
dcf_inject_from_var(const char *var)
{
	const char *s = getenv(var);
	const char *c1, *c2;
	char opname[32], *end;
	long step;
	unsigned long count;
	size_t len;

	if (s == NULL || *s == '\0')
		return 0;
	/* DCF_INJECT_ACTION=stop: SIGSTOP instead of SIGKILL (a holder that stops). */
	c1 = getenv("DCF_INJECT_ACTION");
	armed_sig = c1 != NULL && strcmp(c1, "stop") == 0 ? SIGSTOP : SIGKILL;
	/* "op:step:count" */
	c1 = strchr(s, ':');
	c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (c1 == NULL || c2 == NULL || (len = (size_t)(c1 - s)) >= sizeof(opname))
		return -1;
	memcpy(opname, s, len);
	opname[len] = '\0';
	step = strtol(c1 + 1, &end, 10);
	if (end != c2)
		return -1;
	count = strtoul(c2 + 1, &end, 10);
	if (*end != '\0' || count == 0)
		return -1;
	for (int i = 0; i < DCF_OP_COUNT; i++) {
		if (strcmp(opname, op_names[i]) == 0) {
			dcf_inject_arm(i, (int)step, count);
			return 1;
		}
	}
	if (strcmp(opname, "store") == 0) {
		dcf_inject_arm(DCF_OP_STORE, (int)step, count);
		return 1;
	}
	if (strcmp(opname, "any") == 0) {
		dcf_inject_arm(DCF_OP_ANY, (int)step, count);
		return 1;
	}
	return -1;
}
#endif
