/* common.c - what both store backends do alike, whatever holds the rows (backends.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends.h"

const char *
dcf_store_mode_name(enum dcf_store_mode m)
{
	return m == DCF_STORE_BATCH ? "batch" : "service";
}

int
dcf_store_deps_check(struct dcf_store_new *a, int in_order, dcf_store_state_fn state, void *arg,
    char *err, size_t errlen)
{
	struct dcf_store_task *t = &a->t;

	t->waits = 0;
	t->cause = 0;
	t->state = DCF_SS_QUEUED;
	for (uint32_t i = 0; i < t->ndeps; i++) {
		uint32_t st = 0;
		int r = t->deps[i] > INT64_MAX || t->deps[i] == t->id ||
		        (in_order && t->deps[i] > t->id)
		    ? 1
		    : state(arg, t->deps[i], &st, err, errlen);

		if (r == -1)
			return -1;
		if (r == 1) {
			a->bad_dep = t->deps[i];
			return 1;
		}
		if (!dcf_store_state_final(st))
			t->waits++;
		else if (st != DCF_SS_DONE && !t->after_any && t->cause == 0)
			t->cause = t->deps[i];
	}
	if (t->cause != 0) {
		t->state = DCF_SS_DEP_FAILED;
		t->waits = 0;
	}
	return 0;
}

const char *
dcf_store_deps_text(const struct dcf_store_task *t, char **buf)
{
	size_t n = 0, cap = (size_t)t->ndeps * 21 + 1;

	*buf = NULL;
	if (t->ndeps == 0 || (*buf = malloc(cap)) == NULL)
		return NULL;
	for (uint32_t i = 0; i < t->ndeps; i++)
		n +=
		    (size_t)snprintf(*buf + n, cap - n, "%s%" PRIu64, i > 0 ? "," : "", t->deps[i]);
	return *buf;
}

void
dcf_store_paused_hex(const struct dcf_store_ctl *c, char *hex, size_t len)
{
	size_t n = 0;

	hex[0] = '\0';
	for (size_t i = 0; i < sizeof(c->paused) / sizeof(c->paused[0]) && n < len; i++)
		n +=
		    (size_t)snprintf(hex + n, len - n, "%016llx", (unsigned long long)c->paused[i]);
}

void
dcf_store_paused_parse(struct dcf_store_ctl *c, const char *v)
{
	for (size_t i = 0; v != NULL && i < sizeof(c->paused) / sizeof(c->paused[0]); i++) {
		char word[17];

		if (strlen(v) < 16 * (i + 1))
			break;
		memcpy(word, v + 16 * i, 16);
		word[16] = '\0';
		c->paused[i] = strtoull(word, NULL, 16);
	}
}
