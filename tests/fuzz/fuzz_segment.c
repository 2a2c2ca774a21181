/*
 * fuzz_segment.c - libFuzzer target: what dcf-status does with a segment,
 * fed arbitrary images.
 *
 * The input is a whole segment image. It is copied into a buffer of exactly
 * its size (8-byte aligned, so that the sanitizer sees any read past its
 * end), a snapshot is taken of it as the current user, and whatever header
 * the snapshot could read is rendered as text and JSON into memory. The
 * header's padding bytes (pad0, which nothing reads) choose the render
 * options, so the fuzzer can steer them without breaking the image. Besides
 * not crashing, what must hold (abort() if not, so that the fuzzer reports
 * it):
 *  - the snapshot reads the header exactly when dcf_seg_validate accepts
 *    the image, and fails with the same errno when it does not;
 *  - a snapshot taken as consistent adds up, in the struct and in its JSON:
 *    pending + queued + running + completed + quarantined == total;
 *  - the JSON is valid (read back by the tests' reader, runlib) and says
 *    "consistent" as the snapshot does, on one line when asked; the text
 *    holds no control byte but newlines (and ESC when coloured);
 *  - the per-network counts and every node view stay in their ranges;
 *  - the renderers refuse a snapshot without a header (EINVAL).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcf/layout.h"
#include "dcf/seg.h"
#include "dcf/snapshot.h"
#include "dcf/status_render.h"
#include "fuzz.h"

#include "../../tools/runlib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A static image gives the same copy every time: two tries cover the retry path. */
#define FS_TRIES 2

#define FS_CHECK(cond) \
	do { \
		if (!(cond)) \
			fs_fail(#cond, __LINE__); \
	} while (0)

static struct dcf_snap *fs_snap; /* about 1 MiB: one for every input, as in watch mode */

static void __attribute__((noreturn)) fs_fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_segment.c:%d: check failed: %s\n", line, what);
	abort();
}

/* For the replay test under valgrind. */
static void __attribute__((unused)) fs_free(void)
{
	dcf_snap_free(fs_snap);
	fs_snap = NULL;
}

/* Text: printable ASCII and newlines; ESC too when coloured. */
static void
fs_check_text(const char *t, size_t len, int color)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		FS_CHECK((c >= 0x20 && c < 0x7f) || c == '\n' || (color && c == 0x1b));
	}
}

/* The JSON is one valid document (the tests' one reader) and agrees with the snapshot. */
static void
fs_check_json(const struct dcf_snap *s, const char *j)
{
	static const char *const keys[] = {"pending", "queued", "running", "completed",
	    "quarantined"};
	struct run_jv *d = run_json_parse(j);
	const struct run_jv *c, *t, *v;
	uint64_t sum = 0;

	FS_CHECK(d != NULL && d->t == RJ_OBJ);
	c = run_json_get(d, "consistent");
	t = run_json_get(d, "tasks");
	FS_CHECK(c != NULL && c->t == RJ_BOOL && c->b == (s->consistent != 0));
	if (!s->consistent) {
		FS_CHECK(t == NULL);
		run_json_free(d);
		return;
	}
	FS_CHECK(t != NULL && t->t == RJ_OBJ);
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		v = run_json_get(t, keys[k]);
		FS_CHECK(v != NULL && v->is_uint);
		FS_CHECK(!__builtin_add_overflow(sum, v->u, &sum));
	}
	v = run_json_get(t, "total");
	FS_CHECK(v != NULL && v->is_uint && v->u == sum);
	run_json_free(d);
}

/* The derived counts and the node views of a snapshot that read its header. */
static void
fs_check_snap(const struct dcf_snap *s)
{
	const struct dcf_config *c = &s->hdr.cfg;
	uint64_t sum = 0, nodes = 0;
	struct dcf_snap_node v;

	for (uint32_t n = 0; n < c->max_nodes + 2; n++) {
		if (dcf_snap_node(s, n, &v) == -1)
			continue;
		FS_CHECK(n < c->max_nodes && v.slot == n && v.state <= DCF_NODE_NSTATES);
		FS_CHECK(!v.id_ok || (v.net < c->nets && v.idx < c->nodes_per_net));
		FS_CHECK(!v.has_task || v.task_id < c->tasks);
		FS_CHECK(!v.has_pid || v.pid > 0);
		FS_CHECK(v.has_run <= v.has_task);
	}
	if (!s->consistent)
		return;
	FS_CHECK(!__builtin_add_overflow(sum, s->pending, &sum));
	FS_CHECK(!__builtin_add_overflow(sum, s->queued, &sum));
	FS_CHECK(!__builtin_add_overflow(sum, s->running, &sum));
	FS_CHECK(!__builtin_add_overflow(sum, s->completed, &sum));
	FS_CHECK(!__builtin_add_overflow(sum, s->quarantined, &sum));
	FS_CHECK(sum == s->total && s->total == c->tasks);
	for (uint32_t i = 0; i < c->nets; i++) {
		const struct dcf_snap_net *sn = &s->net[i];
		uint32_t by = 0;

		for (uint32_t st = DCF_NODE_STARTING; st < DCF_NODE_NSTATES; st++)
			by += sn->by_state[st];
		FS_CHECK(by == sn->nodes && sn->by_state[DCF_NODE_EMPTY] == 0);
		FS_CHECK(sn->alive ==
		    sn->by_state[DCF_NODE_STARTING] + sn->by_state[DCF_NODE_IDLE] +
		        sn->by_state[DCF_NODE_BUSY]);
		nodes += sn->nodes;
	}
	FS_CHECK(nodes <= c->max_nodes);
}

/* Render s as text (if !json) or JSON into memory and check what came out. */
static void
fs_render(const struct dcf_snap *s, const struct dcf_render_opt *o, int json, unsigned rows)
{
	char *buf = NULL, *frame = NULL;
	size_t len = 0, flen = 0;
	FILE *m = open_memstream(&buf, &len);
	int r;

	FS_CHECK(m != NULL);
	errno = 0;
	r = json ? dcf_render_json(m, s, o) : dcf_render_text(m, s, o);
	FS_CHECK(fclose(m) == 0);
	if (!s->hdr_ok) {
		FS_CHECK(r == -1 && errno == EINVAL);
		free(buf);
		return;
	}
	FS_CHECK(r == 0);
	if (json) {
		fs_check_json(s, buf);
		FS_CHECK(!o->one_line || (memchr(buf, '\n', len) == buf + len - 1));
	} else {
		struct dcf_frame fr = {.rows = rows,
		    .cols = o->width,
		    .pin = o->width % 7,
		    .keys = o->color,
		    .top = o->width / 2};

		fs_check_text(buf, len, o->color);
		/* The watch mode's frame, on a terminal of `rows` lines; the last frame, whole. */
		m = open_memstream(&frame, &flen);
		FS_CHECK(m != NULL);
		FS_CHECK(dcf_render_frame(m, buf, len, &fr) == 0);
		FS_CHECK(fr.top <= fr.max_top);
		FS_CHECK(dcf_render_fitted(m, buf, len, o->width) == 0);
		FS_CHECK(fclose(m) == 0);
		free(frame);
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcf_snap *s;
	struct dcf_render_opt plain, opt;
	char err[DCF_ERRLEN], verr[DCF_ERRLEN];
	const unsigned char *pad;
	uint64_t *img;
	uid_t uid = getuid();
	int r, e, vr, ve;

	if (fs_snap == NULL && (fs_snap = dcf_snap_new()) == NULL)
		abort();
	s = fs_snap;
	/* malloc aligns to 16 and ends the buffer at size: a read past it is caught. */
	img = malloc(size > 0 ? size : 1);
	if (img == NULL)
		abort();
	if (size > 0)
		memcpy(img, data, size);

	errno = 0;
	r = dcf_snap_take(s, img, size, uid, FS_TRIES, err, sizeof(err));
	e = errno;
	FS_CHECK(r == 0 || r == -1);
	FS_CHECK(r == -1 || (s->hdr_ok && s->consistent));
	FS_CHECK(r == 0 || !s->consistent);
	FS_CHECK(s->tries <= FS_TRIES && (s->tries >= 1 || size < sizeof(struct dcf_hdr)));
	FS_CHECK(r == 0 || memchr(err, '\0', sizeof(err)) != NULL);
	if (r == -1 && s->hdr_ok)
		FS_CHECK(e == EAGAIN || e == EUCLEAN);
	if (r == -1 && !s->hdr_ok)
		FS_CHECK(e == EPROTO || e == EACCES || e == EINVAL);

	/* The same verdict on the header as attaching gives. */
	errno = 0;
	vr = dcf_seg_validate(img, size, uid, verr, sizeof(verr));
	ve = errno;
	FS_CHECK((vr == 0) == (s->hdr_ok != 0));
	FS_CHECK(vr == 0 || ve == e);

	if (s->hdr_ok)
		fs_check_snap(s);

	memset(&plain, 0, sizeof(plain));
	opt = plain;
	if (s->hdr_ok) {
		pad = (const unsigned char *)s->hdr.pad0;
		opt.nodes = pad[0] & 1;
		opt.grid = (pad[0] >> 1) & 1;
		opt.color = (pad[0] >> 2) & 1;
		opt.have_prev = (pad[0] >> 3) & 1;
		opt.width = pad[1];
		opt.one_line = (pad[0] >> 4) & 1;
		opt.ended = (pad[0] >> 5) & 1;
		opt.end_code = pad[5];
		opt.prev_completed = s->completed >> (pad[2] & 63);
		opt.prev_ns = s->taken_ns - ((uint64_t)pad[3] << (pad[4] & 31));
	}
	fs_render(s, &plain, 0, 24);
	fs_render(s, &plain, 1, 24);
	fs_render(s, &opt, 0, (unsigned)(size % 64));
	fs_render(s, &opt, 1, 0);

	free(img);
	return 0;
}
