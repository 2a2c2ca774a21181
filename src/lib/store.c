/* store.c - what every store backend and reader shares: the states' names. */
#include <string.h>

#include "dcf/store.h"

static const char *const state_names[DCF_SS_NSTATES] = {
    "queued",
    "running",
    "done",
    "failed",
    "quarantined",
    "cancelled",
    "dep-failed",
};

const char *
dcf_store_state_name(uint32_t state)
{
	return state < DCF_SS_NSTATES ? state_names[state] : NULL;
}

int
dcf_store_state_parse(const char *name)
{
	for (int i = 0; i < DCF_SS_NSTATES; i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return -1;
}
