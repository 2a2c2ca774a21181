/*
 * status_render.h - dcf-status's output formats for a snapshot (snapshot.h):
 * text, one row per node, JSON, the node grid, and the terminal frame.
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

#include "dcf/snapshot.h"

#define DCF_STATUS_SCHEMA 1 /* the JSON document's "schema" */

struct dcf_render_opt {
	int nodes;      /* text: one row per node */
	int color;      /* text: ANSI colours for node states */
	int grid;       /* text: each network's nodes as a grid of cells */
	unsigned width; /* columns for the grid; 0 means 80 */
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

/*
 * Redraw a terminal of `rows` lines in place with text[0..len): cursor home,
 * at most rows lines each cleared to its end, then the rest of the screen
 * cleared. 0 or -1 with errno EIO.
 */
int dcf_render_frame(FILE *f, const char *text, size_t len, unsigned rows);

/* A duration for people: "0.4s", "12s", "3m04s", "2h05m", "3d04h". */
void dcf_render_dur(char *buf, size_t len, uint64_t ns);

#endif
