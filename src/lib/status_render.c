/* status_render.c - dcf-status's text, node rows, grid, JSON, terminal frame and list. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dcf/cmd.h"
#include "dcf/status_render.h"
#include "dcf/store.h"
#include "dcf/util.h"

#define SGR_RESET   "\033[0m"
#define GRID_PREFIX 8 /* "net 255 " */

static int finish(FILE *f);

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

/* "1 node", "2 nodes": n and the word agreeing with it. */
static const char *
plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/*
 * Prose for a width: items joined by one space, a line broken only between
 * items, continuation lines indented. width 0: one line, as long as it is.
 * A line never reaches the last column (a terminal that does not wrap
 * would let the next clear-to-end erase that column's character).
 */
struct prose {
	FILE *f;
	unsigned width, indent, col;
	unsigned sep; /* spaces between items */
	int fresh;    /* at the start of a line: the next item gets no space */
};

static void
prose_begin(struct prose *p, FILE *f, const struct dcf_render_opt *o, unsigned indent)
{
	p->f = f;
	p->width = o->width;
	p->indent = indent;
	p->col = 0;
	p->sep = 1;
	p->fresh = 1;
}

/* An item that takes n columns (its escape sequences take none). */
static void
prose_put(struct prose *p, const char *item, unsigned n)
{
	if (!p->fresh && p->width > 0 && p->col + p->sep + n > p->width - 1) {
		fprintf(p->f, "\n%*s", (int)p->indent, "");
		p->col = p->indent;
	} else if (!p->fresh) {
		fprintf(p->f, "%*s", (int)p->sep, "");
		p->col += p->sep;
	}
	fputs(item, p->f);
	p->col += n;
	p->fresh = 0;
}

/* Each word of text an item: a sentence that may break anywhere between words. */
static void
prose_words(struct prose *p, const char *text)
{
	char word[DCF_SNAP_WHYLEN + 32];

	while (*text != '\0') {
		size_t n = strcspn(text, " ");

		if (n > 0) {
			snprintf(word, sizeof(word), "%.*s", (int)n, text);
			prose_put(p, word, (unsigned)strlen(word));
		}
		text += n;
		text += strspn(text, " ");
	}
}

static void __attribute__((format(printf, 2, 3))) prose_item(struct prose *p, const char *fmt, ...)
{
	char item[DCF_SNAP_WHYLEN + 32];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(item, sizeof(item), fmt, ap);
	va_end(ap);
	/* An item wider than a whole line breaks between its words after all. */
	if (p->width > 0 && k > 0 && p->indent + (unsigned)k > p->width - 1 &&
	    strchr(item, ' ') != NULL)
		prose_words(p, item);
	else
		prose_put(p, item, (unsigned)strlen(item));
}

/* Start a new line of the same paragraph, at the indent. */
static void
prose_break(struct prose *p)
{
	fprintf(p->f, "\n%*s", (int)p->indent, "");
	p->col = p->indent;
	p->fresh = 1;
}

static void
prose_end(struct prose *p)
{
	fputc('\n', p->f);
	p->col = 0;
}

/*
 * Bytes from the segment or a directory as text without control bytes (a
 * byte outside printable ASCII as \ooo, as vis(1) writes it); in a name a
 * space too, so that the name stays one word of a table's row.
 */
static void
vis(char *dst, size_t len, const char *src, int space_ok)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)src; *p != '\0' && o + 5 < len; p++) {
		if ((*p > 0x20 || (space_ok && *p == ' ')) && *p < 0x7f && *p != '\\')
			dst[o++] = (char)*p;
		else
			o += (size_t)snprintf(dst + o, 5, "\\%03o", *p);
	}
	dst[o] = '\0';
}

/* The system's state; "ended" once the caller saw the supervisor say so. */
static const char *
sys_name(const struct dcf_snap *s, const struct dcf_render_opt *o)
{
	if (o->ended)
		return dcf_snap_sys_name(DCF_SYS_ENDED);
	/* dcf-ctl drain: running, and taking nothing new. */
	if (s->hdr.sys_state == DCF_SYS_RUNNING && s->hdr.draining)
		return "draining";
	return dcf_snap_sys_name(s->hdr.sys_state);
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
text_head(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o)
{
	const struct dcf_hdr *h = &s->hdr;
	const struct dcf_config *c = &h->cfg;
	char name[4 * DCF_NAME_MAX + 8], up[32] = "?", pid[16] = "?";
	struct prose p;
	uint64_t ns;

	vis(name, sizeof(name), h->name, 0);
	if (uptime(s, &ns))
		dcf_render_dur(up, sizeof(up), ns);
	if (h->sup_pid > 0)
		snprintf(pid, sizeof(pid), "%d", (int)h->sup_pid);
	prose_begin(&p, f, o, 4);
	prose_item(&p, "dcf '%s':", name);
	prose_item(&p, "supervisor pid %s,", pid);
	prose_item(&p, "up %s,", up);
	prose_item(&p, "%s", sys_name(s, o));
	prose_end(&p);
	prose_begin(&p, f, o, 8);
	prose_item(&p, "config:");
	prose_item(&p, "%u %s x %u %s,", c->nets, plural(c->nets, "network", "networks"),
	    c->nodes_per_net, plural(c->nodes_per_net, "node", "nodes"));
	if (c->work == DCF_WORK_CMD) {
		prose_item(&p, "a command per input line,");
		if (c->retries > 0)
			prose_item(&p, "%u %s,", c->retries,
			    plural(c->retries, "retry", "retries"));
		if (c->timeout_ms > 0)
			prose_item(&p, "timeout %u ms,", c->timeout_ms);
	} else if (c->work == DCF_WORK_FN) {
		prose_item(&p, "a program's task function (libdcf),");
		prose_item(&p, "inputs up to %u bytes, outputs up to %u,", dcf_out_off(c),
		    c->out_max);
		if (c->timeout_ms > 0)
			prose_item(&p, "a task's time limit %u ms,", c->timeout_ms);
	} else {
		prose_item(&p, "%llu %s of %u-%u ms", (unsigned long long)c->tasks,
		    plural(c->tasks, "task", "tasks"), c->task_ms_min, c->task_ms_max);
		prose_item(&p, "(%s work),", dcf_snap_work_name(c->work));
	}
	prose_item(&p, "seed %llu", (unsigned long long)c->seed);
	prose_break(&p);
	prose_item(&p, "up to %u %s a task,", c->max_attempts,
	    plural(c->max_attempts, "attempt", "attempts"));
	prose_item(&p, "%u %s per %u s a node,", c->max_restarts,
	    plural(c->max_restarts, "restart", "restarts"), c->restart_window_s);
	prose_item(&p, "downtime %u-%u ms", c->downtime_ms_min, c->downtime_ms_max);
	prose_break(&p);
	prose_item(&p, "hang timeout %u ms,", c->hang_timeout_ms);
	prose_item(&p, "grace %u ms,", c->grace_ms);
	prose_item(&p, "%g crashes/s a node", (double)c->fail_rate_ppm / 1e6);
	prose_end(&p);
}

static void
text_tasks(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o)
{
	char span[32];
	double per_s;
	uint64_t span_ns;
	int since_start;
	struct prose p;

	prose_begin(&p, f, o, 7);
	if (s->streaming)
		prose_item(&p, "tasks: %llu so far (the input is open)",
		    (unsigned long long)s->total);
	else
		prose_item(&p, "tasks: %llu total", (unsigned long long)s->total);
	prose_item(&p, "= %llu pending", (unsigned long long)s->pending);
	prose_item(&p, "+ %llu queued", (unsigned long long)s->queued);
	prose_item(&p, "+ %llu running", (unsigned long long)s->running);
	prose_item(&p, "+ %llu completed", (unsigned long long)s->completed);
	prose_item(&p, "+ %llu quarantined", (unsigned long long)s->quarantined);
	if (s->skipped > 0)
		prose_item(&p, "+ %llu skipped", (unsigned long long)s->skipped);
	prose_break(&p);
	/* Queued by priority, when any is queued at another than 0. */
	if (s->queued > s->level_depth[DCF_LEVEL_DEFAULT]) {
		char line[DCF_LEVELS * 20];
		size_t n = 0;

		for (uint32_t l = DCF_LEVELS; l-- > 0;)
			if (s->level_depth[l] > 0 && n < sizeof(line))
				n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%d: %u",
				    n > 0 ? ", " : "", (int)l + DCF_PRIO_MIN, s->level_depth[l]);
		prose_item(&p, "queued by priority: %s", line);
		prose_break(&p);
	}
	prose_item(&p, "%llu reclaimed,", (unsigned long long)s->reclaimed);
	prose_item(&p, "recovery queue %u,", s->recovery_depth);
	if (!rate(s, o, &per_s, &span_ns, &since_start)) {
		prose_item(&p, "rate unknown");
	} else if (since_start) {
		prose_item(&p, "%.2f completed/s", per_s);
		prose_item(&p, "since start");
	} else {
		dcf_render_dur(span, sizeof(span), span_ns);
		prose_item(&p, "%.2f completed/s", per_s);
		prose_item(&p, "over the last %s", span);
	}
	prose_end(&p);
}

static void
text_nets(FILE *f, const struct dcf_snap *s)
{
	fprintf(f, "\nnet nodes alive  busy  idle start  down failed stopped  queue completed\n");
	for (uint32_t i = 0; i < s->hdr.cfg.nets; i++) {
		const struct dcf_snap_net *n = &s->net[i];

		fprintf(f, "%3u %5u %5u %5u %5u %5u %5u %6u %7u %6u %9llu%s%s\n", i, n->nodes,
		    n->alive, n->by_state[DCF_NODE_BUSY], n->by_state[DCF_NODE_IDLE],
		    n->by_state[DCF_NODE_STARTING], n->by_state[DCF_NODE_DOWN],
		    n->by_state[DCF_NODE_FAILED], n->by_state[DCF_NODE_STOPPED], n->queue_depth,
		    (unsigned long long)n->completed, s->nets[i].paused ? "  paused" : "",
		    s->nets[i].removed ? "  removed" : "");
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

int
dcf_render_nodes(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o)
{
	struct dcf_snap_node v;

	if (!s->hdr_ok) {
		errno = EINVAL;
		return -1;
	}
	fprintf(f,
	    "\nnet node      pid state        task running completed failures restarts "
	    "heartbeat\n");
	for (uint32_t n = 0; n < s->hdr.cfg.max_nodes; n++)
		if (dcf_snap_node(s, n, &v) == 0)
			text_node_row(f, &v, o->color);
	return finish(f);
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
	struct prose p;

	memset(cell, DCF_NODE_EMPTY, (size_t)c->nets * c->nodes_per_net);
	for (uint32_t n = 0; n < c->max_nodes; n++)
		if (dcf_snap_node(s, n, &v) == 0 && v.id_ok)
			cell[v.net * c->nodes_per_net + v.idx] = (uint8_t)v.state;
	fprintf(f, "\n");
	prose_begin(&p, f, o, 0);
	p.sep = 2;
	for (uint32_t st = DCF_NODE_STARTING; st <= DCF_NODE_NSTATES; st++) {
		char item[48];
		const char *on = o->color ? state_sgr[st] : "";

		snprintf(item, sizeof(item), "%s%c%s %s", on, state_glyph[st],
		    on[0] != '\0' ? SGR_RESET : "", dcf_snap_state_name(st));
		prose_put(&p, item, 2 + (unsigned)strlen(dcf_snap_state_name(st)));
	}
	prose_end(&p);
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

/* How a run that ended went, from its supervisor's exit status (dcf-supervisor(1)). */
void
dcf_render_end(char *buf, size_t len, const struct dcf_snap *s, uint32_t code)
{
	static const char *const sig[] =
	    {[1] = "SIGHUP", [2] = "SIGINT", [3] = "SIGQUIT", [15] = "SIGTERM"};
	uint32_t n = code > 128 ? code - 128 : 0;

	if (code == 0)
		snprintf(buf, len, "exit status 0, every task completed");
	else if (code == 1 && s->consistent && s->quarantined > 0)
		snprintf(buf, len, "exit status 1, %llu %s quarantined",
		    (unsigned long long)s->quarantined, plural(s->quarantined, "task", "tasks"));
	else if (code == 1)
		snprintf(buf, len, "exit status 1, not every task completed (its log says why)");
	else if (n > 0 && n < sizeof(sig) / sizeof(sig[0]) && sig[n] != NULL)
		snprintf(buf, len, "exit status %u, stopped by %s", code, sig[n]);
	else
		snprintf(buf, len, "exit status %u", code);
}

int
dcf_render_text(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o)
{
	struct prose p;

	if (!s->hdr_ok) {
		errno = EINVAL;
		return -1;
	}
	text_head(f, s, o);
	if (!s->consistent) {
		char why[DCF_SNAP_WHYLEN + 2];

		snprintf(why, sizeof(why), "(%s)", s->why);
		prose_begin(&p, f, o, 7);
		prose_words(&p, "books: no consistent snapshot");
		prose_words(&p, why);
		prose_end(&p);
	} else {
		text_tasks(f, s, o);
		text_nets(f, s);
		if (o->grid)
			text_grid(f, s, o);
		if (o->nodes)
			dcf_render_nodes(f, s, o);
		if (s->anomalies > 0) {
			fputc('\n', f);
			prose_begin(&p, f, o, 0);
			prose_item(&p, "%u out-of-range %s", s->anomalies,
			    plural(s->anomalies, "value", "values"));
			prose_words(&p, "in the segment, shown as '?' or 'invalid'");
			prose_end(&p);
		}
	}
	if (o->ended) {
		char how[128];

		dcf_render_end(how, sizeof(how), s, o->end_code);
		fputc('\n', f);
		prose_begin(&p, f, o, 0);
		prose_words(&p, "the run ended:");
		prose_words(&p, how);
		prose_end(&p);
	}
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

void
dcf_render_json_str(FILE *f, const char *s)
{
	json_str(f, s);
}

static void
json_head(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o)
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
	fprintf(f, "  \"state\": \"%s\",\n", sys_name(s, o));
	if (o->ended)
		fprintf(f, "  \"exit_status\": %u,\n", o->end_code);
	else
		fprintf(f, "  \"exit_status\": null,\n");
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
	    "\"cpu_iters_per_ms\": %llu, \"retries\": %u, \"retry_delay_ms\": %u, "
	    "\"timeout_ms\": %u, \"kill_after_ms\": %u}",
	    c->nets, c->nodes_per_net, c->max_nodes, c->task_slots, (unsigned long long)c->tasks,
	    c->task_ms_min, c->task_ms_max, c->downtime_ms_min, c->downtime_ms_max,
	    dcf_snap_work_name(c->work), c->max_attempts, c->max_restarts, c->restart_window_s,
	    c->hang_timeout_ms, c->grace_ms, (unsigned long long)c->seed,
	    (unsigned long long)c->fail_rate_ppm, (unsigned long long)c->cpu_iters_per_ms,
	    c->retries, c->retry_delay_ms, c->timeout_ms, c->kill_after_ms);
}

static void
json_tasks(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o)
{
	const struct dcf_counters *c = &s->hdr.cnt;
	double per_s;
	uint64_t span_ns;
	int since_start;

	fprintf(f,
	    "  \"tasks\": {\"streaming\": %s, \"total\": %llu, \"pending\": %llu, \"queued\": "
	    "%llu, "
	    "\"running\": %llu, \"completed\": %llu, \"quarantined\": %llu, \"skipped\": %llu, "
	    "\"reclaimed\": %llu},\n",
	    s->streaming ? "true" : "false", (unsigned long long)s->total,
	    (unsigned long long)s->pending, (unsigned long long)s->queued,
	    (unsigned long long)s->running, (unsigned long long)s->completed,
	    (unsigned long long)s->quarantined, (unsigned long long)s->skipped,
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
	fprintf(f, "  \"queued_by_priority\": {");
	for (uint32_t l = DCF_LEVELS, first = 1; l-- > 0;) {
		if (s->level_depth[l] == 0)
			continue;
		fprintf(f, "%s\"%d\": %u", first ? "" : ", ", (int)l + DCF_PRIO_MIN,
		    s->level_depth[l]);
		first = 0;
	}
	fprintf(f, "},\n");
	fprintf(f,
	    "  \"counters\": {\"dispatched\": %llu, \"retired\": %llu, \"to_recovery\": %llu, "
	    "\"failures\": %llu, \"restarts\": %llu, \"claims\": %llu, \"repairs\": %llu, "
	    "\"resets\": %llu},\n",
	    (unsigned long long)c->dispatched, (unsigned long long)c->retired,
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
		    "\"completed\": %llu, \"paused\": %s, \"removed\": %s}",
		    i > 0 ? "," : "", i, n->nodes, n->alive, n->by_state[DCF_NODE_BUSY],
		    n->by_state[DCF_NODE_IDLE], n->by_state[DCF_NODE_STARTING],
		    n->by_state[DCF_NODE_DOWN], n->by_state[DCF_NODE_FAILED],
		    n->by_state[DCF_NODE_STOPPED], n->queue_depth, (unsigned long long)n->completed,
		    s->nets[i].paused ? "true" : "false", s->nets[i].removed ? "true" : "false");
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

static int
json_doc(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o)
{
	if (!s->hdr_ok) {
		errno = EINVAL;
		return -1;
	}
	json_head(f, s, o);
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

/*
 * The document on one line (JSON Lines): every newline and the indent after
 * it become one space, or nothing next to a bracket. Safe because json_str
 * escapes every control byte, so no raw newline is ever inside a string.
 */
static int
json_one_line(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int r;

	if (m == NULL)
		return -1;
	r = json_doc(m, s, o);
	if (fclose(m) == EOF)
		r = -1;
	for (size_t i = 0; r == 0 && i < len; i++) {
		size_t j = i + 1;

		if (buf[i] != '\n') {
			fputc(buf[i], f);
			continue;
		}
		while (j < len && buf[j] == ' ')
			j++;
		/* "a,\n  b" reads "a, b"; nothing inside brackets' edges. */
		if (i > 0 && buf[i - 1] != '{' && buf[i - 1] != '[' && j < len && buf[j] != '}' &&
		    buf[j] != ']')
			fputc(' ', f);
		i = j - 1;
	}
	free(buf);
	if (r == -1)
		return -1;
	fputc('\n', f);
	return finish(f);
}

int
dcf_render_json(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o)
{
	return o->one_line ? json_one_line(f, s, o) : json_doc(f, s, o);
}

/*
 * Where a line of text must end to take at most `room` columns: its length
 * if it fits; else the end of its last whole word that fits (a table loses
 * whole columns, a sentence whole words), or a hard cut if that would leave
 * less than half the room. Escape sequences take no column. *open: an SGR
 * colour is in force at the cut, to be reset.
 */
static size_t
fit_len(const char *p, size_t n, unsigned room, int *open)
{
	size_t i = 0, word_end = 0, cut = 0;
	unsigned col = 0, word_col = 0;
	int sgr = 0, sgr_word = 0, sgr_cut = 0;

	while (i < n) {
		if (p[i] == '\033' && i + 1 < n && p[i + 1] == '[') {
			size_t j = i + 2;

			while (j < n && !(p[j] >= 0x40 && p[j] <= 0x7e))
				j++;
			if (j < n && p[j] == 'm')
				sgr = !(j == i + 2 || (j == i + 3 && p[i + 2] == '0'));
			i = j < n ? j + 1 : n;
			continue;
		}
		if (col == room) {
			cut = i;
			sgr_cut = sgr;
			break;
		}
		if (p[i] == ' ' && i > 0 && p[i - 1] != ' ') {
			word_end = i;
			word_col = col;
			sgr_word = sgr;
		}
		col++;
		i++;
	}
	if (i >= n) {
		*open = 0;
		return n;
	}
	/* Cut mid-word? Back to the end of the last word, if that keeps half the room. */
	if (p[cut] != ' ' && p[cut - 1] != ' ' && word_end > 0 && word_col * 2 >= room) {
		cut = word_end;
		sgr_cut = sgr_word;
	}
	while (cut > 0 && p[cut - 1] == ' ')
		cut--;
	*open = sgr_cut;
	return cut;
}

/* One line of text, fitted to cols - 1 columns (never the last one). */
static void
put_fitted(FILE *f, const char *p, size_t n, unsigned cols)
{
	int open;
	size_t k = fit_len(p, n, cols > 1 ? cols - 1 : 1, &open);

	fwrite(p, 1, k, f);
	if (open)
		fputs(SGR_RESET, f);
}

/* The lines of text: starts and lengths (without the newline); malloc'd, -1 on ENOMEM. */
static int
split_lines(const char *text, size_t len, const char ***start, size_t **n, unsigned *lines)
{
	const char *p = text, *end = text + len;
	unsigned k = 0, max = dcf_render_lines(text, len);

	*start = malloc((max + 1) * sizeof(**start));
	*n = malloc((max + 1) * sizeof(**n));
	if (*start == NULL || *n == NULL) {
		free((void *)*start);
		free(*n);
		return -1;
	}
	while (p < end && k < max) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		(*start)[k] = p;
		(*n)[k++] = l;
		p += l + (nl != NULL);
	}
	*lines = k;
	return 0;
}

unsigned
dcf_render_lines(const char *text, size_t len)
{
	unsigned n = 0;

	for (const char *p = text, *end = text + len; p < end; n++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		p = nl != NULL ? nl + 1 : end;
	}
	return n;
}

int
dcf_render_fitted(FILE *f, const char *text, size_t len, unsigned cols)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		put_fitted(f, p, l, cols);
		fputc('\n', f);
		p += l + (nl != NULL);
	}
	return finish(f);
}

/* The last row when the scrolled part does not fit: where we are, and how to move. */
static void
frame_footer(FILE *f, const struct dcf_frame *fr, unsigned body, unsigned cols)
{
	char line[160];
	const char *noun = fr->noun != NULL ? fr->noun : "line";
	unsigned more = body - fr->top - fr->page;

	if (fr->keys)
		snprintf(line, sizeof(line),
		    "\033[7m%ss %u-%u of %u\033[0m  j/k, space/b, g/G to scroll", noun, fr->top + 1,
		    fr->top + fr->page, body);
	else
		snprintf(line, sizeof(line), "\033[7m+%u more %s%s\033[0m", more, noun,
		    more == 1 ? "" : "s");
	put_fitted(f, line, strlen(line), cols);
}

int
dcf_render_frame(FILE *f, const char *text, size_t len, struct dcf_frame *fr)
{
	unsigned rows = fr->rows > 0 ? fr->rows : 1, lines, pin = fr->pin, body, row = 0;
	const char **start;
	size_t *n;
	int footer = 0;

	if (split_lines(text, len, &start, &n, &lines) == -1)
		return -1;
	if (pin > lines)
		pin = lines;
	/* No room for one scrolled line and the footer below what is pinned: pin the title only. */
	if (lines > rows && pin + 2 > rows) {
		pin = rows >= 3 ? 1 : 0;
		fr->noun = "line";
	}
	body = lines - pin;
	fr->page = body;
	if (lines > rows) {
		footer = 1;
		fr->page = rows - pin - 1;
	}
	fr->max_top = body - fr->page;
	if (fr->top > fr->max_top)
		fr->top = fr->max_top;
	fputs("\033[H", f);
	for (unsigned i = 0; i < pin + fr->page; i++) {
		unsigned k = i < pin ? i : i + fr->top;

		put_fitted(f, start[k], n[k], fr->cols);
		fputs("\033[K", f);
		/* No newline after the last row: it would scroll the screen. */
		if (++row < rows)
			fputc('\n', f);
	}
	if (footer) {
		frame_footer(f, fr, body, fr->cols);
		fputs("\033[K", f);
	}
	fputs("\033[J", f);
	free((void *)start);
	free(n);
	return finish(f);
}

void
dcf_render_when(char *buf, size_t len, uint64_t wall_ns)
{
	time_t t = (time_t)(wall_ns / DCF_NSEC);
	struct tm tm;

	if (wall_ns == 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
		snprintf(buf, len, "?");
}

const char *
dcf_render_seg_state(const struct dcf_seg_info *in)
{
	switch (in->kind) {
	case DCF_SEG_LIVE:
		return dcf_snap_sys_name(in->sys_state);
	case DCF_SEG_ENDED:
		return "ended";
	case DCF_SEG_STALE:
		return "stale";
	case DCF_SEG_UNKNOWN:
		return "unknown";
	case DCF_SEG_FOREIGN:
		return "foreign";
	case DCF_SEG_UNREADABLE:
		return "unreadable";
	default:
		return "not-dcf";
	}
}

static void
list_note(char *buf, size_t len, const struct dcf_seg_info *in)
{
	char name[4 * sizeof(in->name)];

	vis(name, sizeof(name), in->name, 0);
	if (in->kind == DCF_SEG_STALE)
		snprintf(buf, len, "its supervisor is dead: dcf-status --remove-stale %s", name);
	else if (in->kind == DCF_SEG_ENDED)
		snprintf(buf, len, "exit status %u", in->end_code);
	else if (in->kind == DCF_SEG_LIVE)
		buf[0] = '\0';
	else
		vis(buf, len, in->why, 1);
}

int
dcf_render_list_text(FILE *f, const struct dcf_seg_info *v, size_t n)
{
	int w = 4;

	if (n == 0) {
		fprintf(f, "no dcf instances in /dev/shm\n");
		return finish(f);
	}
	for (size_t i = 0; i < n; i++) {
		char name[4 * sizeof(v[i].name)];

		vis(name, sizeof(name), v[i].name, 0);
		if ((int)strlen(name) > w)
			w = (int)strlen(name);
	}
	fprintf(f, "%-*s %-10s %8s %6s %-27s %10s  %s\n", w, "NAME", "STATE", "PID", "UID",
	    "CREATED", "SIZE", "NOTE");
	for (size_t i = 0; i < n; i++) {
		const struct dcf_seg_info *in = &v[i];
		char name[4 * sizeof(in->name)], pid[16] = "-", uid[16] = "-", when[64] = "-",
		                                 size[32], note[4 * sizeof(in->name) + 64];

		vis(name, sizeof(name), in->name, 0);
		if (in->has_hdr) {
			snprintf(pid, sizeof(pid), "%d", (int)in->sup_pid);
			dcf_render_when(when, sizeof(when), in->created_ns);
		}
		if (in->has_hdr || in->kind == DCF_SEG_FOREIGN)
			snprintf(uid, sizeof(uid), "%u", in->uid);
		if (in->size >= (1u << 20))
			snprintf(size, sizeof(size), "%.1f MiB", (double)in->size / (1 << 20));
		else
			snprintf(size, sizeof(size), "%llu B", (unsigned long long)in->size);
		list_note(note, sizeof(note), in);
		fprintf(f, "%-*s %-10s %8s %6s %-27s %10s  %s\n", w, name, dcf_render_seg_state(in),
		    pid, uid, when, size, note);
	}
	return finish(f);
}

int
dcf_render_list_json(FILE *f, const struct dcf_seg_info *v, size_t n)
{
	fprintf(f, "{\n  \"schema\": %d,\n  \"instances\": [", DCF_STATUS_SCHEMA);
	for (size_t i = 0; i < n; i++) {
		const struct dcf_seg_info *in = &v[i];

		fprintf(f, "%s\n    {\"name\": ", i > 0 ? "," : "");
		json_str(f, in->name);
		fprintf(f, ", \"state\": \"%s\", ", dcf_render_seg_state(in));
		if (in->has_hdr)
			fprintf(f,
			    "\"supervisor_pid\": %d, \"uid\": %u, \"created_unix_s\": %.3f, ",
			    (int)in->sup_pid, in->uid, secs(in->created_ns));
		else if (in->kind == DCF_SEG_FOREIGN)
			fprintf(f,
			    "\"supervisor_pid\": null, \"uid\": %u, \"created_unix_s\": null, ",
			    in->uid);
		else
			fprintf(f,
			    "\"supervisor_pid\": null, \"uid\": null, \"created_unix_s\": null, ");
		fprintf(f, "\"size_bytes\": %llu, ", (unsigned long long)in->size);
		if (in->kind == DCF_SEG_ENDED)
			fprintf(f, "\"exit_status\": %u, ", in->end_code);
		else
			fprintf(f, "\"exit_status\": null, ");
		fprintf(f, "\"detail\": ");
		if (in->kind >= DCF_SEG_UNKNOWN)
			json_str(f, in->why);
		else
			fprintf(f, "null");
		fputc('}', f);
	}
	fprintf(f, "%s]\n}\n", n > 0 ? "\n  " : "");
	return finish(f);
}

/* --- a service's tasks ----------------------------------------------------- */

void
dcf_render_task_end(char *buf, size_t len, const struct dcf_store_task *t)
{
	if (!dcf_store_state_final(t->state)) {
		if (t->waits > 0)
			snprintf(buf, len, "waits for %u", t->waits);
		else
			snprintf(buf, len, "-");
		return;
	}
	if (t->state == DCF_SS_DEP_FAILED) {
		snprintf(buf, len, "dep %llu failed", (unsigned long long)t->cause);
		return;
	}
	if (t->state == DCF_SS_QUARANTINED || t->state == DCF_SS_CANCELLED) {
		snprintf(buf, len, "%s", dcf_store_state_name(t->state));
		return;
	}
	switch (t->out.how) {
	case DCF_HOW_OK:
	case DCF_HOW_EXIT:
		snprintf(buf, len, "exit %d", t->out.exit_code);
		break;
	case DCF_HOW_SIGNAL:
		snprintf(buf, len, "signal %u", t->out.term_sig);
		break;
	case DCF_HOW_TIMEOUT:
		snprintf(buf, len, "timed out");
		break;
	case DCF_HOW_NOEXEC:
		snprintf(buf, len, "%s (%d)", t->out.exit_code == 127 ? "not found" : "cannot run",
		    t->out.exit_code);
		break;
	default:
		snprintf(buf, len, "?");
		break;
	}
}

/* The command as a shell user would type it, printable. */
static void
task_cmd(char *buf, size_t len, const struct dcf_store_task *t)
{
	const char *cmd = t->cmd;
	size_t clen = t->cmd_len, off = 0, n;

	/* Another user's task (cmd.h DCF_RUN_AS): said so, its uid, then its command. */
	if (clen > sizeof(DCF_RUN_AS) && memcmp(cmd, DCF_RUN_AS, sizeof(DCF_RUN_AS)) == 0) {
		const char *uid = cmd + sizeof(DCF_RUN_AS);
		size_t ul = strnlen(uid, clen - sizeof(DCF_RUN_AS)),
		       skip = sizeof(DCF_RUN_AS) + ul + 1;

		if (skip < clen)
			skip += strnlen(cmd + skip, clen - skip) + 1; /* its gid */
		if (skip < clen) {
			int k = snprintf(buf, len, "[as uid %.*s] ", (int)ul, uid);

			off = k > 0 && (size_t)k < len ? (size_t)k : 0;
			cmd += skip;
			clen -= skip;
		}
	}
	n = off + dcf_cmd_text(cmd, clen, buf + off, len - off);

	if (n >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
	for (char *p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

void
dcf_render_task_head(FILE *f)
{
	fprintf(f, "%8s  %-11s  %4s  %4s  %-12s  %8s  %s\n", "ID", "STATE", "PRIO", "RUNS", "END",
	    "TIME", "COMMAND");
}

void
dcf_render_task_row(FILE *f, const struct dcf_store_task *t)
{
	char end[32], dur[32], cmd[256];
	const char *st = dcf_store_state_name(t->state);

	dcf_render_task_end(end, sizeof(end), t);
	if (dcf_store_state_final(t->state) && t->state != DCF_SS_QUARANTINED &&
	    t->state != DCF_SS_CANCELLED && t->state != DCF_SS_DEP_FAILED)
		dcf_render_dur(dur, sizeof(dur), t->out.run_ns);
	else
		snprintf(dur, sizeof(dur), "-");
	task_cmd(cmd, sizeof(cmd), t);
	fprintf(f, "%8llu  %-11s  %4d  %4u  %-12s  %8s  %s\n", (unsigned long long)t->id,
	    st != NULL ? st : "?", (int)t->prio, t->runs, end, dur, cmd);
}

void
dcf_render_task(FILE *f, const struct dcf_store_task *t, const char *outdir)
{
	char buf[4096], when[64];
	const char *st = dcf_store_state_name(t->state);

	task_cmd(buf, sizeof(buf), t);
	fprintf(f, "task %llu: %s\n", (unsigned long long)t->id, st != NULL ? st : "?");
	fprintf(f, "  command    %s\n", buf);
	if (t->cwd != NULL)
		fprintf(f, "  directory  %s\n", t->cwd);
	if (t->key != NULL)
		fprintf(f, "  key        %s\n", t->key);
	dcf_render_when(when, sizeof(when), t->submitted_ns);
	fprintf(f, "  submitted  %s, priority %d", when, (int)t->prio);
	if (t->pin_host != NULL && t->pin != 0)
		fprintf(f, ", on host %s's Network-%u only", t->pin_host, t->pin - 1);
	else if (t->pin_host != NULL)
		fprintf(f, ", on host %s only", t->pin_host);
	else if (t->pin != 0)
		fprintf(f, ", on Network-%u only", t->pin - 1);
	fputc('\n', f);
	if (t->owner != NULL)
		fprintf(f, "  held by    %s\n", t->owner);
	if (t->not_before_ns > 0) {
		dcf_render_when(when, sizeof(when), t->not_before_ns);
		fprintf(f, "  not before %s\n", when);
	}
	if (t->after_ids != NULL) {
		fprintf(f, "  after      tasks %s (%s)", t->after_ids,
		    t->after_any ? "each must end, however it does" : "each must succeed");
		if (!dcf_store_state_final(t->state) && t->waits > 0)
			fprintf(f, ": waiting for %u of them", t->waits);
		fputc('\n', f);
	}
	if (t->runs > 0) {
		dcf_render_when(when, sizeof(when), t->started_ns);
		fprintf(f, "  started    %s (run %u, on Network-%u Node-%u)\n", when, t->runs,
		    t->net, t->node);
	}
	fprintf(f, "  runs       %u (%u retried after failing, %u lost with their worker)\n",
	    t->runs, t->tries, t->attempts);
	if (t->timeout_ms > 0 || t->retries > 0)
		fprintf(f, "  limits     timeout %u ms, %u retries\n", t->timeout_ms, t->retries);
	if (t->state == DCF_SS_DEP_FAILED) {
		dcf_render_when(when, sizeof(when), t->ended_ns);
		fprintf(f,
		    "  ended      %s: not run, task %llu did not succeed (dependency failed)\n",
		    when, (unsigned long long)t->cause);
	} else if (dcf_store_state_final(t->state)) {
		char end[32], dur[32];

		dcf_render_task_end(end, sizeof(end), t);
		dcf_render_dur(dur, sizeof(dur), t->out.run_ns);
		dcf_render_when(when, sizeof(when), t->ended_ns);
		fprintf(f, "  ended      %s: %s after %s, cpu %.3f s, max rss %llu KiB\n", when,
		    end, dur, (double)t->out.cpu_us / 1e6, (unsigned long long)t->out.maxrss_kb);
		if (outdir != NULL)
			fprintf(f,
			    "  output     %s/%llu/stdout (%llu bytes), stderr (%llu bytes)\n",
			    outdir, (unsigned long long)t->id, (unsigned long long)t->out.out_bytes,
			    (unsigned long long)t->out.err_bytes);
	}
}

/* A JSON string of len bytes: every byte outside printable ASCII as \u00XX. */
static void
json_bytes(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void
dcf_render_task_json(FILE *f, const struct dcf_store_task *t, const char *outdir)
{
	char end[32];
	const char *st = dcf_store_state_name(t->state);
	const char *after = t->after_ids != NULL ? t->after_ids : "";
	size_t off = 0;
	int ok = 1;

	/* Digits, and commas between them, as the store writes them: a JSON array's inside. */
	for (const char *p = after; *p != '\0' && ok; p++)
		ok = (*p >= '0' && *p <= '9') ||
		    (*p == ',' && p > after && p[1] >= '0' && p[1] <= '9');
	if (!ok)
		after = "";

	fprintf(f, "{\"id\": %llu, \"state\": \"%s\", \"argv\": [", (unsigned long long)t->id,
	    st != NULL ? st : "?");
	/* The argv, item by item (each ended by a NUL). */
	while (off < t->cmd_len) {
		const char *item = (const char *)t->cmd + off;
		size_t n = strnlen(item, t->cmd_len - off);

		if (off > 0)
			fputs(", ", f);
		json_bytes(f, item, n);
		off += n + 1;
	}
	fputs("], \"cwd\": ", f);
	if (t->cwd != NULL)
		json_bytes(f, t->cwd, strlen(t->cwd));
	else
		fputs("null", f);
	fputs(", \"key\": ", f);
	if (t->key != NULL)
		json_bytes(f, t->key, strlen(t->key));
	else
		fputs("null", f);
	dcf_render_task_end(end, sizeof(end), t);
	fprintf(f,
	    ", \"priority\": %d, \"network_pin\": %d, \"not_before_ns\": %llu, \"runs\": %u, "
	    "\"tries\": %u, \"attempts\": "
	    "%u, \"timeout_ms\": "
	    "%u, "
	    "\"retries\": %u, \"submitted_ns\": %llu, \"started_ns\": %llu, \"ended_ns\": %llu, "
	    "\"end\": \"%s\", \"exit_code\": %d, \"signal\": %u, \"run_ns\": %llu, "
	    "\"cpu_us\": %llu, \"maxrss_kb\": %llu, \"stdout_bytes\": %llu, "
	    "\"stderr_bytes\": %llu, \"after\": [%s], \"after_any\": %s, \"waits\": %u, "
	    "\"dep_failed_on\": %llu, ",
	    (int)t->prio, t->pin != 0 ? (int)t->pin - 1 : -1, (unsigned long long)t->not_before_ns,
	    t->runs, t->tries, t->attempts, t->timeout_ms, t->retries,
	    (unsigned long long)t->submitted_ns, (unsigned long long)t->started_ns,
	    (unsigned long long)t->ended_ns, end, t->out.exit_code, t->out.term_sig,
	    (unsigned long long)t->out.run_ns, (unsigned long long)t->out.cpu_us,
	    (unsigned long long)t->out.maxrss_kb, (unsigned long long)t->out.out_bytes,
	    (unsigned long long)t->out.err_bytes, after, t->after_any ? "true" : "false", t->waits,
	    (unsigned long long)t->cause);
	fputs("\"host_pin\": ", f);
	if (t->pin_host != NULL)
		json_bytes(f, t->pin_host, strlen(t->pin_host));
	else
		fputs("null", f);
	fputs(", \"held_by\": ", f);
	if (t->owner != NULL)
		json_bytes(f, t->owner, strlen(t->owner));
	else
		fputs("null", f);
	fputs(", ", f);
	/* Where its last run ran: none before the first. */
	if (t->runs > 0)
		fprintf(f, "\"network\": %u, \"node\": %u, ", t->net, t->node);
	else
		fputs("\"network\": null, \"node\": null, ", f);
	fputs("\"output\": ", f);
	if (outdir != NULL && dcf_store_state_final(t->state)) {
		char dir[4200];
		int n = snprintf(dir, sizeof(dir), "%s/%llu", outdir, (unsigned long long)t->id);

		json_bytes(f, dir, n > 0 && (size_t)n < sizeof(dir) ? (size_t)n : 0);
	} else {
		fputs("null", f);
	}
	fputc('}', f);
}
