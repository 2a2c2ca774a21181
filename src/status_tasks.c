/*
 * status_tasks.c - dcf-status --tasks, --task ID, --stdout ID, --stderr ID:
 * a service's tasks as its store has them, read through a read-only
 * handle (store.h), which neither waits for the supervisor nor slows it.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dcf/status_render.h"
#include "dcf/store.h"
#include "dcf/svc.h"
#include "status.h"

struct listing {
	int json;
	uint64_t n;
	uint64_t last;
};

static int
list_one(void *arg, const struct dcf_store_task *t)
{
	struct listing *l = arg;

	if (l->json)
		fputs(l->n == 0 ? "\n  " : ",\n  ", stdout);
	if (l->json)
		dcf_render_task_json(stdout, t, NULL);
	else
		dcf_render_task_row(stdout, t);
	l->n++;
	l->last = t->id;
	return 0;
}

/* Where the store's tasks' output is kept (svc_outdir). */
static char outdir[PATH_MAX];

static int
show_one(void *arg, const struct dcf_store_task *t)
{
	const struct status_opts *o = arg;

	if (o->json) {
		dcf_render_task_json(stdout, t, outdir);
		fputc('\n', stdout);
	} else {
		dcf_render_task(stdout, t, outdir);
	}
	return 0;
}

struct state_of {
	uint32_t state;
};

static int
get_state(void *arg, const struct dcf_store_task *t)
{
	((struct state_of *)arg)->state = t->state;
	return 0;
}

/* --stdout ID, --stderr ID: the file kept for it, copied to our standard output. */
static int
print_output(const struct status_opts *o, struct dcf_store *st)
{
	struct state_of s;
	char path[PATH_MAX + 64], msg[512], buf[65536];
	ssize_t n;
	int r, fd;

	if ((r = dcf_store_get(st, o->out_id, get_state, &s, msg, sizeof(msg))) == -1)
		errx(1, "%s", msg);
	if (r == 0)
		errx(1, "no task %" PRIu64 " in %s (never submitted, or pruned)", o->out_id,
		    st->where);
	if (!dcf_store_state_final(s.state))
		errx(1, "task %" PRIu64 " is %s: its output is kept once it ends", o->out_id,
		    dcf_store_state_name(s.state));
	snprintf(path, sizeof(path), "%s/%" PRIu64 "/%s", outdir, o->out_id,
	    o->out_err ? "stderr" : "stdout");
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		err(1, "%s", path);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			err(1, "writing");
	if (n == -1)
		err(1, "%s", path);
	close(fd);
	return 0;
}

struct host_list {
	int json;
	unsigned n;
};

static int
host_one(void *arg, const struct dcf_store_host *h)
{
	struct host_list *l = arg;
	char when[64];

	dcf_render_when(when, sizeof(when), h->started_ns);
	if (l->json) {
		fputs(l->n == 0 ? "\n  " : ",\n  ", stdout);
		fputs("{\"host\": ", stdout);
		dcf_render_json_str(stdout, h->owner);
		printf(", \"pid\": %lld, \"started_ns\": %llu, \"seen_ms_ago\": %lld, "
		       "\"claimed\": %llu, \"running\": %llu, \"lease_left_ms\": %lld}",
		    (long long)h->pid, (unsigned long long)h->started_ns, (long long)h->seen_ms_ago,
		    (unsigned long long)h->claimed, (unsigned long long)h->running,
		    (long long)h->lease_ms);
	} else {
		printf("%-32s %8lld  %-19.19s %9.1fs %8llu %8llu %10s\n", h->owner,
		    (long long)h->pid, when, (double)h->seen_ms_ago / 1000.0,
		    (unsigned long long)h->claimed, (unsigned long long)h->running,
		    h->claimed + h->running == 0 ? "-"
		        : h->lease_ms < 0        ? "ended"
		                                 : "held");
	}
	l->n++;
	return 0;
}

/* --hosts: those sharing the store, as the database knows them. */
static int
print_hosts(const struct status_opts *o, struct dcf_store *st)
{
	struct host_list l = {.json = o->json};
	char msg[512];

	if (st->ops->hosts == NULL)
		errx(1, "%s is not shared by several hosts", st->where);
	if (!o->json)
		printf("%-32s %8s  %-19s %10s %8s %8s %10s\n", "HOST", "PID", "STARTED", "SEEN",
		    "CLAIMED", "RUNNING", "LEASE");
	else
		fputs("[", stdout);
	if (st->ops->hosts(st, host_one, &l, msg, sizeof(msg)) == -1)
		errx(1, "%s", msg);
	if (o->json)
		fputs(l.n > 0 ? "\n]\n" : "]\n", stdout);
	return 0;
}

int
status_store(struct status_opts *o)
{
	static char def[PATH_MAX];
	struct dcf_store_open_opts so = {.readonly = 1};
	struct dcf_store *st;
	char msg[512];
	int rc = 0;

	if (o->store == NULL) {
		if (svc_paths(o->name, NULL, 0, def, sizeof(def), msg, sizeof(msg)) == -1)
			errx(1, "%s", msg);
		o->store = def;
	}
	so.where = o->store;
	if (svc_outdir(o->store, o->name, outdir, sizeof(outdir), msg, sizeof(msg)) == -1)
		errx(1, "%s", msg);
	if ((st = dcf_store_open(&so, msg, sizeof(msg))) == NULL)
		errx(1, "%s", msg);
	if (o->hosts) {
		rc = print_hosts(o, st);
	} else if (o->out_id != 0) {
		rc = print_output(o, st);
	} else if (o->task != 0) {
		int r = dcf_store_get(st, o->task, show_one, o, msg, sizeof(msg));

		if (r == -1)
			errx(1, "%s", msg);
		if (r == 0)
			errx(1, "no task %" PRIu64 " in %s (never submitted, or pruned)", o->task,
			    o->store);
	} else {
		struct listing l = {.json = o->json};
		uint64_t before;

		if (o->json)
			fputs("[", stdout);
		else
			dcf_render_task_head(stdout);
		do {
			before = l.n;
			if (dcf_store_list(st, o->state, l.last, 4096, list_one, &l, msg,
			        sizeof(msg)) == -1)
				errx(1, "%s", msg);
		} while (l.n > before);
		if (o->json)
			fputs(l.n > 0 ? "\n]\n" : "]\n", stdout);
	}
	dcf_store_close(st);
	if (fflush(stdout) == EOF)
		err(1, "writing");
	return rc;
}
