/* status_render.c - dcf-status's text, node rows, grid, JSON and terminal frame. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dcf/status_render.h"
#include "dcf/util.h"

#define SGR_RESET   "\033[0m"
#define GRID_PREFIX 8 /* "net 255 " */

/* Indexed by enum dcf_node_state; DCF_NODE_NSTATES is "invalid". */
static const char *const state_sgr[DCF_NODE_NSTATES + 1] = {
    [DCF_NODE_EMPTY] = "",
    [DCF_NODE_STARTING] = "\033[36m",
    [DCF_NODE_IDLE] = "",
    [DCF_NODE_BUSY] = "\033[32m",
    [DCF_NODE_DOWN] = "\033[31m",
    [DCF_NODE_FAILED] = "\033[1;35m",
    [DCF_NODE_STOPPED] = "\033[2m",
    [DCF_NODE_NSTATES] = "\033[7m",
};
static const char state_glyph[] = " +.#x!-?";

void
dcf_render_dur(char *buf, size_t len, uint64_t ns)
{
	unsigned long long s = ns / DCF_NSEC;

	if (ns < 10 * DCF_NSEC)
		snprintf(buf, len, "%.1fs", (double)ns / 1e9);
	else if (s < 60)
		snprintf(buf, len, "%llus", s);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", s / 3600, s / 60 % 60);
	else
		snprintf(buf, len, "%llud%02lluh", s / 86400, s / 3600 % 24);
}

static double
secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

/*
 * The name as text without a control byte (a byte outside printable ASCII
 * becomes \ooo, as vis(1) writes it): dst holds 4 * DCF_NAME_MAX + 1.
 */
static void
name_vis(char *dst, const struct dcf_snap *s)
{
	const unsigned char *p = (const unsigned char *)s->hdr.name;
	size_t o = 0;

	for (; *p != '\0' && p < (const unsigned char *)s->hdr.name + DCF_NAME_MAX; p++) {
		if (*p > 0x20 && *p < 0x7f && *p != '\\')
			dst[o++] = (char)*p;
		else
			o += (size_t)snprintf(dst + o, 5, "\\%03o", *p);
	}
	dst[o] = '\0';
}

static int
uptime(const struct dcf_snap *s, uint64_t *ns)
{
	if (s->hdr.created_mono_ns > s->taken_ns)
		return 0;
	*ns = s->taken_ns - s->hdr.created_mono_ns;
	return 1;
}

/* Completions per second over *span_ns: since the previous snapshot, else since start. */
static int
rate(const struct dcf_snap *s, const struct dcf_render_opt *o, double *per_s, uint64_t *span_ns,
    int *since_start)
{
	uint64_t span, done;

	if (o->have_prev && o->prev_ns < s->taken_ns && o->prev_completed <= s->completed) {
		span = s->taken_ns - o->prev_ns;
		done = s->completed - o->prev_completed;
		*since_start = 0;
	} else if (uptime(s, &span) && span > 0) {
		done = s->completed;
		*since_start = 1;
	} else {
		return 0;
	}
	*per_s = (double)done / secs(span);
	*span_ns = span;
	return 1;
}

static void
text_head(FILE *f, const struct dcf_snap *s)
{
	const struct dcf_hdr *h = &s->hdr;
	const struct dcf_config *c = &h->cfg;
	char name[4 * DCF_NAME_MAX + 1], up[32] = "?", pid[16] = "?";
	uint64_t ns;

	name_vis(name, s);
	if (uptime(s, &ns))
		dcf_render_dur(up, sizeof(up), ns);
	if (h->sup_pid > 0)
		snprintf(pid, sizeof(pid), "%d", (int)h->sup_pid);
	fprintf(f, "dcf '%s': supervisor pid %s, up %s, %s\n", name, pid, up,
	    dcf_snap_sys_name(h->sys_state));
	fprintf(f, "config: %u networks x %u nodes, %llu tasks of %u-%u ms (%s work), seed %llu\n",
	    c->nets, c->nodes_per_net, (unsigned long long)c->tasks, c->task_ms_min, c->task_ms_max,
	    dcf_snap_work_name(c->work), (unsigned long long)c->seed);
	fprintf(f,
	    "        up to %u attempts a task, %u restarts per %u s a node, "
	    "downtime %u-%u ms\n",
	    c->max_attempts, c->max_restarts, c->restart_window_s, c->downtime_ms_min,
	    c->downtime_ms_max);
	fprintf(f, "        hang timeout %u ms, grace %u ms, %g crashes/s a node\n",
	    c->hang_timeout_ms, c->grace_ms, (double)c->fail_rate_ppm / 1e6);
}

static void
text_tasks(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o)
{
	char span[32];
	double per_s;
	uint64_t span_ns;
	int since_start;

	fprintf(f,
	    "tasks: %llu total = %llu pending + %llu queued + %llu running + "
	    "%llu completed + %llu quarantined\n",
	    (unsigned long long)s->total, (unsigned long long)s->pending,
	    (unsigned long long)s->queued, (unsigned long long)s->running,
	    (unsigned long long)s->completed, (unsigned long long)s->quarantined);
	fprintf(f, "       %llu reclaimed, recovery queue %u, ", (unsigned long long)s->reclaimed,
	    s->recovery_depth);
	if (!rate(s, o, &per_s, &span_ns, &since_start)) {
		fprintf(f, "rate unknown\n");
		return;
	}
	if (since_start) {
		fprintf(f, "%.2f completed/s since start\n", per_s);
		return;
	}
	dcf_render_dur(span, sizeof(span), span_ns);
	fprintf(f, "%.2f completed/s over the last %s\n", per_s, span);
}

static void
text_nets(FILE *f, const struct dcf_snap *s)
{
	fprintf(f, "\nnet nodes alive  busy  idle start  down failed stopped  queue completed\n");
	for (uint32_t i = 0; i < s->hdr.cfg.nets; i++) {
		const struct dcf_snap_net *n = &s->net[i];

		fprintf(f, "%3u %5u %5u %5u %5u %5u %5u %6u %7u %6u %9llu\n", i, n->nodes, n->alive,
		    n->by_state[DCF_NODE_BUSY], n->by_state[DCF_NODE_IDLE],
		    n->by_state[DCF_NODE_STARTING], n->by_state[DCF_NODE_DOWN],
		    n->by_state[DCF_NODE_FAILED], n->by_state[DCF_NODE_STOPPED], n->queue_depth,
		    (unsigned long long)n->completed);
	}
}

static void
text_node_row(FILE *f, const struct dcf_snap_node *v, int color)
{
	char net[16] = "?", idx[16] = "?", pid[16] = "-", task[24] = "-", run[32] = "-";
	char hb[32] = "-";

	if (v->id_ok) {
		snprintf(net, sizeof(net), "%u", v->net);
		snprintf(idx, sizeof(idx), "%u", v->idx);
	}
	if (v->has_pid)
		snprintf(pid, sizeof(pid), "%d", (int)v->pid);
	if (v->has_task)
		snprintf(task, sizeof(task), "%llu", (unsigned long long)v->task_id);
	if (v->has_run)
		dcf_render_dur(run, sizeof(run), v->run_ns);
	if (v->has_hb)
		dcf_render_dur(hb, sizeof(hb), v->hb_age_ns);
	fprintf(f, "%3s %4s %8s %s%-8s%s %8s %7s %9llu %8llu %8llu %9s\n", net, idx, pid,
	    color ? state_sgr[v->state] : "", dcf_snap_state_name(v->state), color ? SGR_RESET : "",
	    task, run, (unsigned long long)v->completed, (unsigned long long)v->failures,
	    (unsigned long long)v->restarts, hb);
}

static void
text_nodes(FILE *f, const struct dcf_snap *s, int color)
{
	struct dcf_snap_node v;

	fprintf(f,
	    "\nnet node      pid state        task running completed failures restarts "
	    "heartbeat\n");
	for (uint32_t n = 0; n < s->hdr.cfg.max_nodes; n++)
		if (dcf_snap_node(s, n, &v) == 0)
			text_node_row(f, &v, color);
}

/* A cell; the colour changes only when the state does (*sgr: the colour in force). */
static void
grid_cell(FILE *f, uint32_t st, int color, const char **sgr)
{
	if (color && strcmp(*sgr, state_sgr[st]) != 0) {
		fprintf(f, "%s%s", (*sgr)[0] != '\0' ? SGR_RESET : "", state_sgr[st]);
		*sgr = state_sgr[st];
	}
	fputc(state_glyph[st], f);
}

static void
grid_eol(FILE *f, const char **sgr)
{
	if ((*sgr)[0] != '\0')
		fputs(SGR_RESET, f);
	*sgr = "";
	fputc('\n', f);
}

/* One cell a node, in node order; a network wraps at the width. */
static void
text_grid(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o)
{
	uint8_t cell[DCF_MAX_NODES]; /* by net * nodes_per_net + idx */
	const struct dcf_config *c = &s->hdr.cfg;
	unsigned width = o->width ? o->width : 80;
	unsigned per_row = width > GRID_PREFIX + 10 ? width - GRID_PREFIX - 1 : 10;
	const char *sgr = "";
	struct dcf_snap_node v;

	memset(cell, DCF_NODE_EMPTY, (size_t)c->nets * c->nodes_per_net);
	for (uint32_t n = 0; n < c->max_nodes; n++)
		if (dcf_snap_node(s, n, &v) == 0 && v.id_ok)
			cell[v.net * c->nodes_per_net + v.idx] = (uint8_t)v.state;
	fprintf(f, "\n");
	for (uint32_t st = DCF_NODE_STARTING; st <= DCF_NODE_NSTATES; st++) {
		grid_cell(f, st, o->color, &sgr);
		if (sgr[0] != '\0')
			fputs(SGR_RESET, f);
		sgr = "";
		fprintf(f, " %s%s", dcf_snap_state_name(st), st < DCF_NODE_NSTATES ? "  " : "\n");
	}
	for (uint32_t i = 0; i < c->nets; i++) {
		fprintf(f, "net %-3u ", i);
		for (uint32_t k = 0; k < c->nodes_per_net; k++) {
			if (k > 0 && k % per_row == 0) {
				grid_eol(f, &sgr);
				fprintf(f, "%*s", GRID_PREFIX, "");
			}
			grid_cell(f, cell[i * c->nodes_per_net + k], o->color, &sgr);
		}
		grid_eol(f, &sgr);
	}
}

static int
finish(FILE *f)
{
	if (fflush(f) == EOF || ferror(f)) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int
dcf_render_text(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o)
{
	if (!s->hdr_ok) {
		errno = EINVAL;
		return -1;
	}
	text_head(f, s);
	if (!s->consistent) {
		fprintf(f, "books: no consistent snapshot (%s)\n", s->why);
		return finish(f);
	}
	text_tasks(f, s, o);
	text_nets(f, s);
	if (o->grid)
		text_grid(f, s, o);
	if (o->nodes)
		text_nodes(f, s, o->color);
	if (s->anomalies > 0)
		fprintf(f, "\n%u out-of-range values in the segment, shown as '?' or 'invalid'\n",
		    s->anomalies);
	return finish(f);
}

/* A JSON string: every byte outside printable ASCII as \u00XX, so any bytes give valid JSON. */
static void
json_str(FILE *f, const char *str)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)str; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void
json_head(FILE *f, const struct dcf_snap *s)
{
	const struct dcf_hdr *h = &s->hdr;
	uint64_t ns;

	fprintf(f, "{\n  \"schema\": %d,\n  \"name\": ", DCF_STATUS_SCHEMA);
	json_str(f, h->name);
	fprintf(f, ",\n  \"consistent\": %s,\n", s->consistent ? "true" : "false");
	if (h->sup_pid > 0)
		fprintf(f, "  \"supervisor_pid\": %d,\n", (int)h->sup_pid);
	else
		fprintf(f, "  \"supervisor_pid\": null,\n");
	fprintf(f, "  \"state\": \"%s\",\n", dcf_snap_sys_name(h->sys_state));
	fprintf(f, "  \"created_unix_s\": %.3f,\n", secs(h->created_ns));
	if (uptime(s, &ns))
		fprintf(f, "  \"uptime_s\": %.3f,\n", secs(ns));
	else
		fprintf(f, "  \"uptime_s\": null,\n");
}

static void
json_config(FILE *f, const struct dcf_config *c)
{
	fprintf(f,
	    "  \"config\": {\"nets\": %u, \"nodes_per_net\": %u, \"max_nodes\": %u, "
	    "\"task_slots\": %u, \"tasks\": %llu, \"task_ms_min\": %u, \"task_ms_max\": %u, "
	    "\"downtime_ms_min\": %u, \"downtime_ms_max\": %u, \"work\": \"%s\", "
	    "\"max_attempts\": %u, \"max_restarts\": %u, \"restart_window_s\": %u, "
	    "\"hang_timeout_ms\": %u, \"grace_ms\": %u, \"seed\": %llu, \"fail_rate_ppm\": %llu, "
	    "\"cpu_iters_per_ms\": %llu}",
	    c->nets, c->nodes_per_net, c->max_nodes, c->task_slots, (unsigned long long)c->tasks,
	    c->task_ms_min, c->task_ms_max, c->downtime_ms_min, c->downtime_ms_max,
	    dcf_snap_work_name(c->work), c->max_attempts, c->max_restarts, c->restart_window_s,
	    c->hang_timeout_ms, c->grace_ms, (unsigned long long)c->seed,
	    (unsigned long long)c->fail_rate_ppm, (unsigned long long)c->cpu_iters_per_ms);
}

static void
json_tasks(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o)
{
	const struct dcf_counters *c = &s->hdr.cnt;
	double per_s;
	uint64_t span_ns;
	int since_start;

	fprintf(f,
	    "  \"tasks\": {\"total\": %llu, \"pending\": %llu, \"queued\": %llu, "
	    "\"running\": %llu, \"completed\": %llu, \"quarantined\": %llu, \"reclaimed\": "
	    "%llu},\n",
	    (unsigned long long)s->total, (unsigned long long)s->pending,
	    (unsigned long long)s->queued, (unsigned long long)s->running,
	    (unsigned long long)s->completed, (unsigned long long)s->quarantined,
	    (unsigned long long)s->reclaimed);
	if (rate(s, o, &per_s, &span_ns, &since_start))
		fprintf(f,
		    "  \"rate_per_s\": %.3f,\n  \"rate_window_s\": %.3f,\n"
		    "  \"rate_since_start\": %s,\n",
		    per_s, secs(span_ns), since_start ? "true" : "false");
	else
		fprintf(f,
		    "  \"rate_per_s\": null,\n  \"rate_window_s\": null,\n"
		    "  \"rate_since_start\": null,\n");
	fprintf(f, "  \"recovery_queue_depth\": %u,\n", s->recovery_depth);
	fprintf(f,
	    "  \"counters\": {\"dispatched\": %llu, \"retired\": %llu, \"to_recovery\": %llu, "
	    "\"failures\": %llu, \"restarts\": %llu, \"claims\": %llu, \"repairs\": %llu, "
	    "\"resets\": %llu},\n",
	    (unsigned long long)c->next_id, (unsigned long long)c->retired,
	    (unsigned long long)c->to_recovery, (unsigned long long)c->failures,
	    (unsigned long long)c->restarts, (unsigned long long)c->claims,
	    (unsigned long long)c->repairs, (unsigned long long)c->resets);
	fprintf(f, "  \"invalid_values\": %u,\n", s->anomalies);
}

static void
json_nets(FILE *f, const struct dcf_snap *s)
{
	fprintf(f, "  \"networks\": [");
	for (uint32_t i = 0; i < s->hdr.cfg.nets; i++) {
		const struct dcf_snap_net *n = &s->net[i];

		fprintf(f,
		    "%s\n    {\"id\": %u, \"nodes\": %u, \"nodes_alive\": %u, \"nodes_busy\": %u, "
		    "\"nodes_idle\": %u, \"nodes_starting\": %u, \"nodes_down\": %u, "
		    "\"nodes_failed\": %u, \"nodes_stopped\": %u, \"queue_depth\": %u, "
		    "\"completed\": %llu}",
		    i > 0 ? "," : "", i, n->nodes, n->alive, n->by_state[DCF_NODE_BUSY],
		    n->by_state[DCF_NODE_IDLE], n->by_state[DCF_NODE_STARTING],
		    n->by_state[DCF_NODE_DOWN], n->by_state[DCF_NODE_FAILED],
		    n->by_state[DCF_NODE_STOPPED], n->queue_depth,
		    (unsigned long long)n->completed);
	}
	fprintf(f, "\n  ],\n");
}

static void
json_node(FILE *f, const struct dcf_snap_node *v)
{
	fprintf(f, "    {\"slot\": %u, ", v->slot);
	if (v->id_ok)
		fprintf(f, "\"network\": %u, \"node\": %u, ", v->net, v->idx);
	else
		fprintf(f, "\"network\": null, \"node\": null, ");
	if (v->has_pid)
		fprintf(f, "\"pid\": %d, ", (int)v->pid);
	else
		fprintf(f, "\"pid\": null, ");
	fprintf(f, "\"state\": \"%s\", ", dcf_snap_state_name(v->state));
	if (v->has_task)
		fprintf(f, "\"task\": %llu, ", (unsigned long long)v->task_id);
	else
		fprintf(f, "\"task\": null, ");
	if (v->has_run)
		fprintf(f, "\"task_running_s\": %.3f, ", secs(v->run_ns));
	else
		fprintf(f, "\"task_running_s\": null, ");
	fprintf(f, "\"completed\": %llu, \"failures\": %llu, \"restarts\": %llu, ",
	    (unsigned long long)v->completed, (unsigned long long)v->failures,
	    (unsigned long long)v->restarts);
	if (v->has_hb)
		fprintf(f, "\"heartbeat_age_s\": %.3f}", secs(v->hb_age_ns));
	else
		fprintf(f, "\"heartbeat_age_s\": null}");
}

static void
json_nodes(FILE *f, const struct dcf_snap *s)
{
	struct dcf_snap_node v;
	int first = 1;

	fprintf(f, "  \"nodes\": [");
	for (uint32_t n = 0; n < s->hdr.cfg.max_nodes; n++) {
		if (dcf_snap_node(s, n, &v) == -1)
			continue;
		fprintf(f, "%s\n", first ? "" : ",");
		json_node(f, &v);
		first = 0;
	}
	fprintf(f, "\n  ]\n");
}

int
dcf_render_json(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o)
{
	if (!s->hdr_ok) {
		errno = EINVAL;
		return -1;
	}
	json_head(f, s);
	json_config(f, &s->hdr.cfg);
	if (!s->consistent) {
		fprintf(f, ",\n  \"error\": ");
		json_str(f, s->why);
		fprintf(f, "\n}\n");
		return finish(f);
	}
	fprintf(f, ",\n");
	json_tasks(f, s, o);
	json_nets(f, s);
	json_nodes(f, s);
	fprintf(f, "}\n");
	return finish(f);
}

int
dcf_render_frame(FILE *f, const char *text, size_t len, unsigned rows)
{
	const char *p = text, *end = text + len;

	fputs("\033[H", f);
	for (unsigned row = 0; p < end && row < rows; row++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		fwrite(p, 1, n, f);
		fputs("\033[K", f);
		p += n + (nl != NULL);
		/* No newline after the last row: it would scroll the screen. */
		if (p < end && row + 1 < rows)
			fputc('\n', f);
	}
	fputs("\033[J", f);
	return finish(f);
}
