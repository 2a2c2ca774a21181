/*
 * status_render.h - dcf-status's output formats for a snapshot (snapshot.h):
 * text, one row per node, JSON, the node grid, the terminal frame, and the
 * list of every instance on the machine (seg.h).
 *
 * Every renderer writes only values dcf_snap_take or dcf_snap_node checked;
 * a value it could not check is written as "?" (text) or null (JSON), never
 * as a number read raw from the segment. Strings from the segment (the name)
 * are escaped, so the JSON is valid and the text holds no control bytes
 * whatever the segment holds. The JSON field names are documented in
 * dcf-status(1) and stay stable: add fields, never rename one.
 */
#ifndef DCF_STATUS_RENDER_H
#define DCF_STATUS_RENDER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dcf/seg.h"
#include "dcf/snapshot.h"

#define DCF_STATUS_SCHEMA 1 /* the JSON document's "schema" */

struct dcf_render_opt {
	int nodes; /* text: one row per node */
	int color; /* text: ANSI colours for node states */
	int grid;  /* text: each network's nodes as a grid of cells */
	/*
	 * Text: the terminal's columns. Sentences are broken between words to
	 * leave the last column free; 0: one line each, however long (the grid
	 * then takes 80).
	 */
	unsigned width;
	int one_line; /* JSON: the document on one line (JSON Lines) */
	/* The supervisor said the run ended (DCF_SYS_ENDED), with this exit status. */
	int ended;
	uint32_t end_code;
	/* The completion rate: since the previous snapshot when have_prev, else since start. */
	int have_prev;
	uint64_t prev_completed;
	uint64_t prev_ns; /* that snapshot's taken_ns */
};

/*
 * Write snapshot s (hdr_ok) to f. A snapshot that is not consistent gets
 * only what its header says and why no counts are shown; the JSON then has
 * "consistent": false and none of the counts. 0, or -1 with errno (EINVAL:
 * no header; EIO: f failed).
 */
int dcf_render_text(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o);
int dcf_render_json(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o);

/* Text: the node table alone (its heading and one row per node), as o->nodes adds it. */
int dcf_render_nodes(FILE *f, const struct dcf_snap *s, const struct dcf_render_opt *o);

/*
 * How a run went, from its supervisor's exit status and its last snapshot:
 * "exit status 0, every task completed", "... 3 tasks quarantined", ...
 */
void dcf_render_end(char *buf, size_t len, const struct dcf_snap *s, uint32_t code);

/*
 * A terminal frame. The first `pin` lines stay put (the title, the summary,
 * a table's heading); the lines after them scroll when the whole does not
 * fit, and the last row then says which are shown (noun: what a line is,
 * "node" or "line") and, with keys, how to move.
 */
struct dcf_frame {
	unsigned rows, cols;
	unsigned pin;
	const char *noun;
	int keys;
	unsigned top;     /* in: the first scrolled line wanted; out: clamped */
	unsigned page;    /* out: scrolled lines shown */
	unsigned max_top; /* out: the last useful top */
};

/*
 * Redraw the terminal in place with text[0..len): cursor home, each line
 * fitted to cols - 1 columns (cut at a word, its colour reset) and cleared
 * to its end, then the rest of the screen cleared. 0 or -1 with errno.
 */
int dcf_render_frame(FILE *f, const char *text, size_t len, struct dcf_frame *fr);
/* The lines of text[0..len) as a frame counts them (a last one needs no newline). */
unsigned dcf_render_lines(const char *text, size_t len);
/* Every line of text[0..len), fitted as dcf_render_frame fits them: for the main screen. */
int dcf_render_fitted(FILE *f, const char *text, size_t len, unsigned cols);

/* A wall-clock time (ns since the Epoch) as local "YYYY-MM-DD HH:MM:SS ZONE", or "?". */
void dcf_render_when(char *buf, size_t len, uint64_t wall_ns);
/* s as a JSON string, quoted and escaped. */
void dcf_render_json_str(FILE *f, const char *s);
/* An instance's state in --list: "running", ..., "ended", "stale", "not-dcf"... */
const char *dcf_render_seg_state(const struct dcf_seg_info *in);
/* Every instance (dcf_seg_list) as a table, or as one JSON document. 0 or -1 (EIO). */
int dcf_render_list_text(FILE *f, const struct dcf_seg_info *v, size_t n);
int dcf_render_list_json(FILE *f, const struct dcf_seg_info *v, size_t n);

/* A duration for people: "0.4s", "12s", "3m04s", "2h05m", "3d04h". */
void dcf_render_dur(char *buf, size_t len, uint64_t ns);

/*
 * A service's tasks, as its store has them (store.h): a table (a header,
 * then a row each), one task in full (outdir: where its output is kept,
 * or NULL), or JSON (an object each; the caller makes the array).
 */
struct dcf_store_task;
void dcf_render_task_head(FILE *f);
void dcf_render_task_row(FILE *f, const struct dcf_store_task *t);
void dcf_render_task(FILE *f, const struct dcf_store_task *t, const char *outdir);
void dcf_render_task_json(FILE *f, const struct dcf_store_task *t, const char *outdir);
/* How a finished task ended, in a few words: "exit 0", "SIGKILL", "timed out"... */
void dcf_render_task_end(char *buf, size_t len, const struct dcf_store_task *t);

#endif
