/*
 * dcf-web: a live dashboard of a running dcf system, and its Prometheus
 * metrics, over HTTP (libmicrohttpd).
 *
 * It reads the system as dcf-status does: a read-only mapping of the
 * segment, copied by dcf_snap_take without a lock (snapshot.h), and a
 * read-only handle on a service's store. It never writes to either; with
 * --control, the page's requests go through the supervisor's socket with
 * the same checks as dcf-ctl's (ctl_parse_into reads them as dcf-ctl's
 * command line), and each must carry the token printed at the start.
 *
 * Threads: libmicrohttpd's one polling thread (epoll) answers every
 * request; the ticker sends each Server-Sent Events client a frame about
 * once a second, and only while there is one: with nobody watching it
 * sleeps on a condition variable with no timeout. The main thread waits for
 * SIGINT or SIGTERM. One mutex guards the view (the mapping, the snapshot,
 * the events) and the clients.
 *
 * An SSE connection is suspended (MHD_suspend_connection) by its content
 * reader whenever nothing is pending for it, and resumed by the ticker when
 * something is: no callback ever blocks the polling thread, and an idle
 * stream costs nothing between frames.
 *
 * Exit status: 0 stopped by a signal; 1 a runtime error at the start (the
 * address in use, no store to read); 2 usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "dcf/proto.h"
#include "dcf/seg.h"
#include "dcf/snapshot.h"
#include "dcf/status_render.h"
#include "dcf/store.h"
#include "dcf/svc.h"
#include "dcf/util.h"
#include "web.h"

#define EV_MAX        512 /* events kept for clients that connect later */
#define EV_BACKLOG    200 /* of which a new client is sent */
#define EV_TEXT       160
#define PICKUP_MAX    256 /* reclaimed tasks watched for their pick-up (the last ones) */
#define TICK_NS       1000000000ULL
#define CLIENTS_MAX   512        /* connections (each a descriptor); a browser holds about 6 */
#define SSE_MAX       256        /* of which event streams */
#define CTL_JOBS_MAX  8          /* control requests waiting for the supervisor */
#define CTL_WAIT_MS   3000       /* the supervisor's answer to a control request */
#define TASKS_MAX     1000       /* rows of /api/tasks */
#define PAGE_SCAN_MAX 262144     /* ids /api/tasks looks through for one page, at most */
#define SSE_BUF_MAX   (8u << 20) /* a client this far behind is dropped */

static const char CSP[] = "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                          "script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

struct event {
	uint64_t t_ns; /* CLOCK_REALTIME */
	int level;     /* 0 info, 1 warning, 2 error */
	char text[EV_TEXT];
};

/* What the previous look saw of a node slot: the events are its changes. */
struct seen {
	int valid;
	uint32_t state;
	uint64_t failures, restarts, task;
	int has_task;
};

struct sse {
	struct MHD_Connection *conn;
	struct sse *next, **prevp;
	char *buf;
	size_t len, off, cap;
	uint64_t ev_next; /* the next event to send it */
	int suspended;
	int fresh; /* no frame yet: it gets the backlog first */
};

static struct {
	struct web_opts o;
	char store[PATH_MAX];
	char outdir[PATH_MAX + 8]; /* where its tasks' output is kept (svc_outdir) */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char token[33];
	char url[128];

	pthread_mutex_t mu;
	pthread_cond_t cv; /* the ticker's: a client came, or we stop */
	int quit, kick;

	/* The view, under mu. */
	struct dcf_seg sg;
	int attached;
	struct dcf_snap *snap;
	char *doc; /* the last frame's JSON, one line */
	size_t doclen;
	uint64_t created_ns; /* of the segment the seen[] are of */
	struct seen *seen;
	int have_seen;
	uint32_t paused[DCF_MAX_NETS], removed[DCF_MAX_NETS];
	uint32_t sys_state;
	uint64_t prev_completed, prev_ns;
	int have_rate;
	uint64_t pickup[PICKUP_MAX]; /* a ring: the oldest is forgotten; 0 is no task */
	unsigned npickup;
	struct event ev[EV_MAX];
	uint64_t nev;

	struct sse *clients;
	unsigned nclients;
	unsigned ctl_jobs; /* control requests in flight (ctl_run) */
	struct MHD_Daemon *d;
} W;

/*
 * Bytes as the inside of a JSON string into dst (room for 6 * n + 1): every
 * byte outside printable ASCII as \u00XX, so any bytes give valid JSON. Its
 * length.
 */
static size_t
json_esc(char *dst, const char *src, size_t n)
{
	char *q = dst;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)src[i];

		if (ch == '"' || ch == '\\') {
			*q++ = '\\';
			*q++ = (char)ch;
		} else if (ch < 0x20 || ch >= 0x7f) {
			q += sprintf(q, "\\u%04x", ch);
		} else {
			*q++ = (char)ch;
		}
	}
	*q = '\0';
	return (size_t)(q - dst);
}

/* The same, to a stream. */
static void
json_put(FILE *f, const char *src, size_t n)
{
	char buf[6 * 64 + 1];

	for (size_t i = 0; i < n; i += 64) {
		size_t k = json_esc(buf, src + i, n - i < 64 ? n - i : 64);

		fwrite(buf, 1, k, f);
	}
}

/* ---- reading the mapping ------------------------------------------------ */

/*
 * A same-user ftruncate of the segment makes reads past its new end SIGBUS
 * (dcf-status does the same). The fault is the reading thread's: its own
 * jump buffer, armed only around reads of the mapping.
 */
static __thread sigjmp_buf bus_jmp;
static __thread volatile sig_atomic_t bus_armed;

static void
on_sigbus(int sig)
{
	if (bus_armed) {
		bus_armed = 0;
		siglongjmp(bus_jmp, 1);
	}
	signal(sig, SIG_DFL);
}

static uint64_t
now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void __attribute__((format(printf, 2, 3))) add_event(int level, const char *fmt, ...)
{
	struct event *e = &W.ev[W.nev % EV_MAX];
	va_list ap;

	e->t_ns = now_ns(CLOCK_REALTIME);
	e->level = level;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	W.nev++;
}

static void
detach(void)
{
	if (W.attached)
		dcf_seg_detach(&W.sg);
	W.attached = 0;
}

/* Has this task been put back by a death we saw? Then it is not watched for any more. */
static int
was_reclaimed(uint64_t id)
{
	for (unsigned i = 0; i < PICKUP_MAX; i++)
		if (W.pickup[i] == id + 1) {
			W.pickup[i] = 0;
			return 1;
		}
	return 0;
}

/*
 * The events since the previous look, in the seed's words: a node that
 * failed, one that recovered, a reclaimed task picked up again, a network
 * paused or resumed. Sampled: a task reclaimed and run to its end between
 * two looks is not seen picked up (the counts say it).
 */
static void
diff(const struct dcf_snap *s)
{
	const uint32_t nets = s->hdr.cfg.nets;
	struct dcf_snap_node v;

	if (!W.have_seen || W.created_ns != s->hdr.created_ns) {
		memset(W.seen, 0, sizeof(*W.seen) * DCF_MAX_NODES);
		memset(W.pickup, 0, sizeof(W.pickup));
		W.created_ns = s->hdr.created_ns;
		W.sys_state = s->hdr.sys_state;
		for (uint32_t n = 0; n < nets; n++) {
			W.paused[n] = s->nets[n].paused;
			W.removed[n] = s->nets[n].removed;
		}
		if (W.have_seen)
			add_event(1, "A new supervisor (pid %d) runs '%s'.", (int)s->hdr.sup_pid,
			    s->hdr.name);
		/* What was before we looked: the nodes down or given up on now. */
		for (uint32_t n = 0; n < s->hdr.cfg.max_nodes && n < DCF_MAX_NODES; n++)
			if (dcf_snap_node(s, n, &v) == 0 && v.id_ok &&
			    (v.state == DCF_NODE_DOWN || v.state == DCF_NODE_FAILED))
				add_event(2, "Network-%u Node-%u is %s (%" PRIu64 " %s so far).",
				    v.net, v.idx, v.state == DCF_NODE_DOWN ? "down" : "given up on",
				    v.failures, v.failures == 1 ? "failure" : "failures");
	} else {
		for (uint32_t n = 0; n < nets; n++) {
			if (s->nets[n].paused != W.paused[n])
				add_event(1, "Network-%u %s.", n,
				    s->nets[n].paused ? "paused" : "resumed");
			if (s->nets[n].removed != W.removed[n])
				add_event(1, "Network-%u %s.", n,
				    s->nets[n].removed ? "removed" : "added");
			W.paused[n] = s->nets[n].paused;
			W.removed[n] = s->nets[n].removed;
		}
		if (s->hdr.sys_state != W.sys_state)
			add_event(1, "The system is %s.", dcf_snap_sys_name(s->hdr.sys_state));
		W.sys_state = s->hdr.sys_state;
	}
	/* First the deaths, so that a task put back is known before any node is seen with it. */
	for (uint32_t n = 0; n < s->hdr.cfg.max_nodes && n < DCF_MAX_NODES; n++) {
		const struct seen *p = &W.seen[n];

		if (dcf_snap_node(s, n, &v) == -1 || !v.id_ok)
			continue;
		if (p->valid && W.have_seen) {
			if (v.failures > p->failures) {
				if (p->has_task) {
					add_event(2,
					    "Network-%u Node-%u has failed. (Task-%" PRIu64
					    " goes back to the queue)",
					    v.net, v.idx, p->task);
					W.pickup[W.npickup++ % PICKUP_MAX] = p->task + 1;
				} else {
					add_event(2, "Network-%u Node-%u has failed.", v.net,
					    v.idx);
				}
			}
			if (v.state == DCF_NODE_FAILED && p->state != DCF_NODE_FAILED)
				add_event(2, "Network-%u Node-%u failed too often: given up on.",
				    v.net, v.idx);
			if (v.restarts > p->restarts && v.state != DCF_NODE_FAILED)
				add_event(0, "Network-%u Node-%u has recovered.%s", v.net, v.idx,
				    v.has_pid ? "" : " (starting)");
		}
	}
	/* Then the pick-ups, by any node, of what the deaths above put back. */
	for (uint32_t n = 0; n < s->hdr.cfg.max_nodes && n < DCF_MAX_NODES; n++) {
		struct seen *p = &W.seen[n];

		if (dcf_snap_node(s, n, &v) == -1 || !v.id_ok) {
			p->valid = 0;
			continue;
		}
		if (p->valid && W.have_seen && v.has_task &&
		    (!p->has_task || v.task_id != p->task || v.failures > p->failures) &&
		    was_reclaimed(v.task_id))
			add_event(0,
			    "Network-%u Node-%u picked up Task-%" PRIu64 " from the queue.", v.net,
			    v.idx, v.task_id);
		p->valid = 1;
		p->state = v.state;
		p->failures = v.failures;
		p->restarts = v.restarts;
		p->has_task = v.has_task;
		p->task = v.task_id;
	}
	W.have_seen = 1;
}

/*
 * One look at the system, under W.mu: 0 with W.snap filled (hdr_ok; maybe
 * not consistent, then W.snap->why), or -1 with why (nothing to show).
 */
static int
look(char *why, size_t len, struct dcf_render_opt *ro)
{
	char err[DCF_ERRLEN];
	int r, ended;

	memset(ro, 0, sizeof(*ro));
	ro->one_line = 1;
	if (!W.attached) {
		if (sigsetjmp(bus_jmp, 1) != 0) {
			dcf_seg_detach(&W.sg); /* what attach had taken */
			snprintf(why, len, "'%s': its segment was truncated under us", W.o.name);
			return -1;
		}
		bus_armed = 1;
		r = dcf_seg_attach(&W.sg, W.o.name, 1, err, sizeof(err));
		bus_armed = 0;
		if (r == -1) {
			if (errno == ENOENT)
				snprintf(why, len, "no dcf system named '%s' is running", W.o.name);
			else
				snprintf(why, len, "%s", err);
			return -1;
		}
		W.attached = 1;
	}
	if (sigsetjmp(bus_jmp, 1) != 0) {
		detach();
		snprintf(why, len, "'%s': its segment was truncated under us", W.o.name);
		return -1;
	}
	bus_armed = 1;
	ended = __atomic_load_n(&W.sg.hdr->sys_state, __ATOMIC_ACQUIRE) == DCF_SYS_ENDED;
	ro->end_code = ended ? __atomic_load_n(&W.sg.hdr->end_code, __ATOMIC_RELAXED) : 0;
	r = dcf_snap_take(W.snap, W.sg.base, W.sg.size, getuid(), DCF_SNAP_TRIES, err, sizeof(err));
	bus_armed = 0;
	ro->ended = ended;
	if (r == -1 && !W.snap->hdr_ok) {
		detach();
		snprintf(why, len, "'%s': %s", W.o.name, err);
		return -1;
	}
	/* An ended run, or a dead supervisor: shown once more, then looked for anew. */
	if (ended || dcf_seg_supervisor_alive(&W.snap->hdr) != 1)
		detach();
	if (W.snap->consistent) {
		if (W.have_rate && W.prev_ns < W.snap->taken_ns) {
			ro->have_prev = 1;
			ro->prev_completed = W.prev_completed;
			ro->prev_ns = W.prev_ns;
		}
		diff(W.snap);
	}
	return 0;
}

/* The snapshot as /api/status's JSON (one line, as dcf-status --json), into a new buffer. */
static char *
render_status(size_t *len, int *ok, int advance)
{
	struct dcf_render_opt ro;
	char why[DCF_ERRLEN + 64], *buf = NULL;
	FILE *f;

	*len = 0;
	if ((f = open_memstream(&buf, len)) == NULL)
		return NULL;
	*ok = look(why, sizeof(why), &ro) == 0;
	if (*ok) {
		if (dcf_render_json(f, W.snap, &ro) == -1)
			*ok = 0;
		else if (W.snap->consistent && advance) {
			/* The rate is over the ticker's second, not since any request. */
			W.have_rate = 1;
			W.prev_completed = W.snap->completed;
			W.prev_ns = W.snap->taken_ns;
		}
	} else {
		/* The shape of an inconsistent document: what the page shows as an error. */
		fprintf(f, "{\"schema\": %d, \"name\": \"", DCF_STATUS_SCHEMA);
		json_put(f, W.o.name, strlen(W.o.name));
		fputs("\", \"consistent\": false, \"state\": \"absent\", \"error\": \"", f);
		json_put(f, why, strlen(why));
		fprintf(f, "\"}\n");
	}
	if (fclose(f) == EOF) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- Server-Sent Events ------------------------------------------------- */

/* Queue bytes for a client; 0, or -1 if it is too far behind (it is then ended). */
static int
sse_put(struct sse *c, const char *p, size_t n)
{
	if (c->off > 0) {
		/* What it has read goes: the backlog is what it has not. */
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len + n > SSE_BUF_MAX)
		return -1;
	if (c->len + n > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		char *b;

		while (cap < c->len + n)
			cap *= 2;
		if ((b = realloc(c->buf, cap)) == NULL)
			return -1;
		c->buf = b;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, p, n);
	c->len += n;
	return 0;
}

static int
sse_event(struct sse *c, const struct event *e)
{
	static const char *const level[] = {"info", "warning", "error"};
	char line[EV_TEXT * 6 + 128], *q;
	int n;

	n = snprintf(line, sizeof(line),
	    "event: log\ndata: {\"t\": %.3f, \"level\": \"%s\", \"text\": \"",
	    (double)e->t_ns / 1e9, level[e->level]);
	q = line + n;
	q += json_esc(q, e->text, strlen(e->text));
	q += sprintf(q, "\"}\n\n");
	return sse_put(c, line, (size_t)(q - line));
}

/* What the client has not had: the events since its last frame, then the status. */
static int
sse_frame(struct sse *c)
{
	uint64_t first = W.nev > EV_MAX ? W.nev - EV_MAX : 0;
	int behind = c->len > c->off; /* before this frame's events are queued */

	if (c->fresh) {
		c->ev_next = W.nev > EV_BACKLOG ? W.nev - EV_BACKLOG : 0;
		if (sse_put(c, "retry: 1000\n\n", 13) == -1)
			return -1;
		c->fresh = 0;
	}
	if (c->ev_next < first)
		c->ev_next = first;
	for (; c->ev_next < W.nev; c->ev_next++)
		if (sse_event(c, &W.ev[c->ev_next % EV_MAX]) == -1)
			return -1;
	/* Only the latest status matters: none for a client still reading the last one. */
	if (W.doc == NULL || behind)
		return 0;
	if (sse_put(c, "event: status\ndata: ", 20) == -1 ||
	    sse_put(c, W.doc, W.doclen - (W.doclen > 0 && W.doc[W.doclen - 1] == '\n')) == -1 ||
	    sse_put(c, "\n\n", 2) == -1)
		return -1;
	return 0;
}

/* Ends a client's stream at its next read (it is too far behind, or we stop). */
static void
sse_drop(struct sse *c)
{
	free(c->buf);
	c->buf = NULL;
	c->len = c->off = c->cap = 0;
	c->ev_next = UINT64_MAX;
}

static void *
ticker(void *arg)
{
	struct timespec ts;
	uint64_t next = 0;

	(void)arg;
	pthread_mutex_lock(&W.mu);
	while (!W.quit) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		int ok, tick;

		if (W.nclients == 0) {
			/* Nobody watches: sleep until someone does, with no timer. */
			pthread_cond_wait(&W.cv, &W.mu);
			continue;
		}
		if (!W.kick && now < next) {
			ts.tv_sec = (time_t)(next / 1000000000ULL);
			ts.tv_nsec = (long)(next % 1000000000ULL);
			pthread_cond_timedwait(&W.cv, &W.mu, &ts);
			continue;
		}
		/*
		 * A tick: a new frame for everyone. A kick between ticks (clients
		 * came): the last frame, to them alone, so that connections coming
		 * and going cost the others nothing.
		 */
		tick = now >= next;
		W.kick = 0;
		if (tick || W.doc == NULL) {
			free(W.doc);
			W.doc = render_status(&W.doclen, &ok, 1);
			next = now + TICK_NS;
		}
		for (struct sse *c = W.clients; c != NULL; c = c->next) {
			if (!tick && !c->fresh)
				continue;
			if (c->ev_next != UINT64_MAX && sse_frame(c) == -1)
				sse_drop(c);
			if (c->suspended) {
				c->suspended = 0;
				MHD_resume_connection(c->conn);
			}
		}
	}
	pthread_mutex_unlock(&W.mu);
	return NULL;
}

static ssize_t
sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse *c = cls;
	size_t n;

	(void)pos;
	pthread_mutex_lock(&W.mu);
	if (W.quit || c->ev_next == UINT64_MAX) {
		pthread_mutex_unlock(&W.mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (c->off < c->len) {
		n = c->len - c->off < max ? c->len - c->off : max;
		memcpy(buf, c->buf + c->off, n);
		c->off += n;
		pthread_mutex_unlock(&W.mu);
		return (ssize_t)n;
	}
	/* Nothing to send: parked until the ticker has more (microhttpd.h's way). */
	c->suspended = 1;
	MHD_suspend_connection(c->conn);
	pthread_mutex_unlock(&W.mu);
	return 0;
}

static void
sse_free(void *cls)
{
	struct sse *c = cls;

	pthread_mutex_lock(&W.mu);
	*c->prevp = c->next;
	if (c->next != NULL)
		c->next->prevp = c->prevp;
	W.nclients--;
	pthread_mutex_unlock(&W.mu);
	free(c->buf);
	free(c);
}

/* ---- answers ------------------------------------------------------------ */

static enum MHD_Result
send_response(struct MHD_Connection *conn, unsigned code, struct MHD_Response *r, const char *type,
    int cache)
{
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "Content-Security-Policy", CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
	    cache ? "max-age=60" : "no-store");
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* A buffer of ours (malloc'd) as the body. */
static enum MHD_Result
send_buf(struct MHD_Connection *conn, unsigned code, char *buf, size_t len, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);

	if (r == NULL)
		free(buf);
	return send_response(conn, code, r, type, 0);
}

static enum MHD_Result __attribute__((format(printf, 3, 4)))
send_text(struct MHD_Connection *conn, unsigned code, const char *fmt, ...)
{
	char *buf;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MHD_NO;
	return send_buf(conn, code, buf, (size_t)n, "text/plain; charset=utf-8");
}

/* {"ok": false, "error": "..."} with text escaped. */
static enum MHD_Result
send_json_reply(struct MHD_Connection *conn, unsigned code, int ok, const char *text, size_t len)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&buf, &blen);

	if (f == NULL)
		return MHD_NO;
	fprintf(f, "{\"ok\": %s, \"%s\": \"", ok ? "true" : "false", ok ? "message" : "error");
	json_put(f, text, len);
	fprintf(f, "\"}\n");
	if (fclose(f) == EOF) {
		free(buf);
		return MHD_NO;
	}
	return send_buf(conn, code, buf, blen, "application/json");
}

/* A refusal whose words are a literal: its length is the compiler's. */
#define refuse(conn, code, lit) send_json_reply((conn), (code), 0, "" lit, sizeof(lit) - 1)

static enum MHD_Result
api_status(struct MHD_Connection *conn)
{
	size_t len;
	char *buf;
	int ok;

	pthread_mutex_lock(&W.mu);
	buf = render_status(&len, &ok, 0);
	pthread_mutex_unlock(&W.mu);
	if (buf == NULL)
		return send_text(conn, 500, "out of memory\n");
	return send_buf(conn, ok ? 200 : 503, buf, len, "application/json");
}

/* The service's store counts, if it has a store: 0, 1 none, -1 unreadable. */
static int
store_counts(struct dcf_store_counts *n)
{
	struct dcf_store_open_opts so = {.readonly = 1, .where = W.store};
	struct dcf_store *st;
	char msg[512];
	int r;

	if (!dcf_store_is_url(W.store) && access(W.store, F_OK) == -1)
		return 1;
	if ((st = dcf_store_open(&so, msg, sizeof(msg))) == NULL)
		return -1;
	r = dcf_store_count_some(st, n, DCF_COUNT_UNFINISHED | DCF_COUNT_FINISHED, msg,
	    sizeof(msg));
	dcf_store_close(st);
	return r == -1 ? -1 : 0;
}

static enum MHD_Result
api_metrics(struct MHD_Connection *conn)
{
	struct dcf_store_counts sc;
	struct dcf_render_opt ro;
	char why[DCF_ERRLEN + 64], *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ok, have_store;

	/* Outside the view's lock: the store is a file of its own. */
	have_store = store_counts(&sc) == 0;
	if ((f = open_memstream(&buf, &len)) == NULL)
		return MHD_NO;
	pthread_mutex_lock(&W.mu);
	ok = look(why, sizeof(why), &ro) == 0 && W.snap->consistent;
	if (ok)
		ok = web_metrics(f, W.snap, have_store ? &sc : NULL) == 0;
	pthread_mutex_unlock(&W.mu);
	if (fclose(f) == EOF || !ok) {
		free(buf);
		/* Down: dcf_up 0 alone, so an alert on it fires rather than the scrape failing. */
		return send_text(conn, 200,
		    "# HELP dcf_up 1: the supervisor runs and its books add up.\n"
		    "# TYPE dcf_up gauge\ndcf_up 0\n");
	}
	return send_buf(conn, 200, buf, len, "text/plain; version=0.0.4; charset=utf-8");
}

/*
 * A page of tasks, newest first: the store lists in the order of ids after
 * one, so a page is read as the rows of a window of ids below `before`, the
 * window widened (x8) until it holds a page or reaches id 1; the last
 * `cap` rows read are kept (a ring of rendered rows).
 */
struct page {
	char **rows;
	uint64_t *ids;
	uint64_t n; /* rows read in this window */
	uint32_t cap;
	uint64_t before;
	uint64_t lo; /* the window read: ids above lo, below before */
};

static int
page_one(void *arg, const struct dcf_store_task *t)
{
	struct page *p = arg;
	uint32_t at = (uint32_t)(p->n % p->cap);
	size_t len = 0;
	char *row = NULL;
	FILE *f;

	if (t->id >= p->before)
		return 1; /* past the window: ids come in order */
	if ((f = open_memstream(&row, &len)) == NULL)
		return -1;
	dcf_render_task_json(f, t, NULL);
	if (fclose(f) == EOF) {
		free(row);
		return -1;
	}
	free(p->rows[at]);
	p->rows[at] = row;
	p->ids[at] = t->id;
	p->n++;
	return 0;
}

static void
page_clear(struct page *p)
{
	for (uint32_t i = 0; i < p->cap; i++) {
		free(p->rows[i]);
		p->rows[i] = NULL;
	}
	p->n = 0;
}

/* A query argument as a number in [min, max]; def if absent. 0, or -1 if malformed. */
static int
arg_u64(struct MHD_Connection *conn, const char *key, uint64_t min, uint64_t max, uint64_t def,
    uint64_t *v)
{
	const char *s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);

	*v = def;
	return s == NULL ? 0 : dcf_parse_u64(s, min, max, v);
}

/* Read the page into p: 0, or -1 with msg. *more: older rows exist. */
static int
read_page(struct dcf_store *st, int sn, struct page *p, int *more, char *msg, size_t len)
{
	struct dcf_store_counts c;
	uint64_t win = (uint64_t)p->cap * 4, lo;

	if (p->before == 0) {
		if (dcf_store_count_some(st, &c, DCF_COUNT_MAX_ID, msg, len) == -1)
			return -1;
		p->before = c.max_id + 1;
	}
	for (;;) {
		page_clear(p);
		lo = p->before > win + 1 ? p->before - win - 1 : 0;
		if (dcf_store_list(st, sn, lo, (uint32_t)(win < UINT32_MAX ? win + 1 : UINT32_MAX),
		        page_one, p, msg, len) == -1)
			return -1;
		/* Bounded: a rare state in a big store is paged through, not searched whole. */
		if (p->n >= p->cap || lo == 0 || win >= PAGE_SCAN_MAX)
			break;
		win *= 8;
	}
	*more = p->n > p->cap || lo > 0;
	p->lo = lo;
	return 0;
}

static enum MHD_Result
api_tasks(struct MHD_Connection *conn)
{
	struct dcf_store_open_opts so = {.readonly = 1, .where = W.store};
	const char *state = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "state");
	struct page p = {0};
	struct dcf_store *st;
	uint64_t limit;
	char msg[PATH_MAX + 128], *buf = NULL;
	size_t len = 0;
	int sn = -1, more = 0, r;
	FILE *f;

	if (arg_u64(conn, "before", 1, INT64_MAX, 0, &p.before) == -1 ||
	    arg_u64(conn, "limit", 1, TASKS_MAX, 100, &limit) == -1)
		return refuse(conn, 400, "before is a task id, limit 1 to 1000");
	if (state != NULL && state[0] != '\0' && (sn = dcf_store_state_parse(state)) < 0)
		return refuse(conn, 400, "no such state");
	if (!dcf_store_is_url(W.store) && access(W.store, F_OK) == -1) {
		snprintf(msg, sizeof(msg),
		    "no store at %s: a service keeps one (dcf-supervisor --serve)", W.store);
		return send_json_reply(conn, 404, 0, msg, strlen(msg));
	}
	if ((st = dcf_store_open(&so, msg, sizeof(msg))) == NULL)
		return send_json_reply(conn, 503, 0, msg, strlen(msg));
	p.cap = (uint32_t)limit;
	p.rows = calloc(p.cap, sizeof(*p.rows));
	p.ids = calloc(p.cap, sizeof(*p.ids));
	r = p.rows == NULL || p.ids == NULL ? -1 : read_page(st, sn, &p, &more, msg, sizeof(msg));
	dcf_store_close(st);
	if (r == 0 && (f = open_memstream(&buf, &len)) != NULL) {
		uint64_t shown = p.n < p.cap ? p.n : p.cap;

		fputs("{\"store\": true, \"tasks\": [", f);
		/* Newest first: the ring backwards from the last row read. */
		for (uint64_t i = 0; i < shown; i++)
			fprintf(f, "%s\n%s", i > 0 ? "," : "", p.rows[(p.n - 1 - i) % p.cap]);
		fprintf(f, "%s], \"next_before\": ", shown > 0 ? "\n" : "");
		if (more)
			fprintf(f, "%" PRIu64 "}\n",
			    shown > 0 ? p.ids[(p.n - shown) % p.cap] : p.lo + 1);
		else
			fputs("null}\n", f);
		if (fclose(f) == EOF) {
			free(buf);
			buf = NULL;
		}
	}
	if (p.rows != NULL)
		page_clear(&p);
	free(p.rows);
	free(p.ids);
	if (r == -1)
		return send_json_reply(conn, 503, 0, msg, strlen(msg));
	if (buf == NULL)
		return MHD_NO;
	return send_buf(conn, 200, buf, len, "application/json");
}

/* /api/task/ID/stdout or stderr: the file the service keeps for an ended task. */
static enum MHD_Result
api_output(struct MHD_Connection *conn, const char *rest)
{
	char path[PATH_MAX + 64];
	const char *which;
	struct MHD_Response *r;
	struct stat st;
	uint64_t id;
	char num[24];
	size_t n = strcspn(rest, "/");
	int fd;

	if (n == 0 || n >= sizeof(num) || rest[n] != '/')
		return send_text(conn, 404, "not found\n");
	memcpy(num, rest, n);
	num[n] = '\0';
	which = rest + n + 1;
	if (dcf_parse_u64(num, 1, INT64_MAX, &id) == -1 ||
	    (strcmp(which, "stdout") != 0 && strcmp(which, "stderr") != 0))
		return send_text(conn, 404, "not found\n");
	snprintf(path, sizeof(path), "%s/%" PRIu64 "/%s", W.outdir, id, which);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) == -1)
		return send_text(conn, 404, "task %" PRIu64 ": no %s kept (not ended, or pruned)\n",
		    id, which);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return send_text(conn, 404, "task %" PRIu64 ": its %s is not a file\n", id, which);
	}
	r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (r == NULL)
		close(fd);
	return send_response(conn, 200, r, "text/plain; charset=utf-8", 0);
}

struct hosts_out {
	FILE *f;
	unsigned n;
};

static int
host_json(void *arg, const struct dcf_store_host *h)
{
	struct hosts_out *o = arg;

	fprintf(o->f, "%s\n{\"host\": \"", o->n++ > 0 ? "," : "");
	json_put(o->f, h->owner, strlen(h->owner));
	fprintf(o->f,
	    "\", \"pid\": %lld, \"started_ns\": %llu, \"seen_ms_ago\": %lld, \"claimed\": "
	    "%llu, \"running\": %llu, \"lease_left_ms\": %lld}",
	    (long long)h->pid, (unsigned long long)h->started_ns, (long long)h->seen_ms_ago,
	    (unsigned long long)h->claimed, (unsigned long long)h->running, (long long)h->lease_ms);
	return 0;
}

/* /api/hosts: the hosts sharing a PostgreSQL store (dcf-status --hosts); none for a file. */
static enum MHD_Result
api_hosts(struct MHD_Connection *conn)
{
	struct dcf_store_open_opts so = {.readonly = 1, .where = W.store};
	struct dcf_store *st;
	char msg[PATH_MAX + 128], *buf = NULL;
	struct hosts_out o = {0};
	size_t len = 0;
	int r;

	if (!dcf_store_is_url(W.store)) {
		static const char one[] = "{\"shared\": false, \"hosts\": []}\n";

		return send_buf(conn, 200, strdup(one), sizeof(one) - 1, "application/json");
	}
	if ((st = dcf_store_open(&so, msg, sizeof(msg))) == NULL)
		return send_json_reply(conn, 503, 0, msg, strlen(msg));
	if ((o.f = open_memstream(&buf, &len)) == NULL) {
		dcf_store_close(st);
		return MHD_NO;
	}
	fputs("{\"shared\": true, \"hosts\": [", o.f);
	r = st->ops->hosts != NULL ? st->ops->hosts(st, host_json, &o, msg, sizeof(msg)) : 0;
	dcf_store_close(st);
	fputs(o.n > 0 ? "\n]}\n" : "]}\n", o.f);
	if (fclose(o.f) == EOF) {
		free(buf);
		buf = NULL;
	}
	if (r == -1) {
		free(buf);
		return send_json_reply(conn, 503, 0, msg, strlen(msg));
	}
	if (buf == NULL)
		return MHD_NO;
	return send_buf(conn, 200, buf, len, "application/json");
}

static enum MHD_Result
api_config(struct MHD_Connection *conn)
{
	char *buf;
	int n = asprintf(&buf, "{\"name\": \"%s\", \"control\": %s, \"version\": \"%s\"}\n",
	    W.o.name, W.o.control ? "true" : "false", DCF_VERSION);

	if (n < 0)
		return MHD_NO;
	return send_buf(conn, 200, buf, (size_t)n, "application/json");
}

/* ---- control ------------------------------------------------------------ */

/* Read or write all of n bytes before the deadline: 0, or -1. */
static int
sock_io(int fd, void *p, size_t n, int out, uint64_t deadline, size_t *got)
{
	size_t done = 0;

	while (done < n) {
		struct pollfd pfd = {.fd = fd, .events = out ? POLLOUT : POLLIN};
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		ssize_t k;

		if (now >= deadline)
			return -1;
		if (poll(&pfd, 1, (int)((deadline - now) / 1000000 + 1)) <= 0)
			continue;
		k = out ? send(fd, (char *)p + done, n - done, MSG_NOSIGNAL)
		        : recv(fd, (char *)p + done, n - done, 0);
		if (k == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0)
			break;
		done += (size_t)k;
		if (!out)
			break; /* what came; the caller parses */
	}
	*got = done;
	return done > 0 || n == 0 ? 0 : -1;
}

/*
 * One control request to the supervisor, as dcf-ctl sends it: *code the
 * HTTP status, the supervisor's words (or ours) in text.
 */
static void
ctl_send(const struct ctl_opts *co, unsigned *code, char *text, size_t len)
{
	struct dcf_msg m = {.type = DCF_MSG_CTL, .tag = 1};
	unsigned char out[256], *in = NULL;
	struct sockaddr_un sa;
	size_t n, have = 0, got, used;
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + CTL_WAIT_MS * 1000000ULL;
	uint32_t ecode;
	char err[256];
	int fd, r = 0;

	*code = 502;
	m.u.ctl.op = co->op;
	m.u.ctl.net = co->net;
	m.u.ctl.id = co->id;
	m.u.ctl.value = co->value;
	n = dcf_proto_build(out, sizeof(out), &m);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strlcpy(sa.sun_path, W.sock, sizeof(sa.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
		snprintf(text, len, "socket: %s", strerror(errno));
		return;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		snprintf(text, len, "no supervisor serves '%s' (%s): %s", W.o.name, W.sock,
		    strerror(errno));
		close(fd);
		return;
	}
	if (n == 0 || sock_io(fd, out, n, 1, deadline, &got) == -1 || got != n) {
		snprintf(text, len, "the supervisor did not take the request");
		close(fd);
		return;
	}
	if ((in = malloc(DCF_PROTO_MAX)) == NULL) {
		snprintf(text, len, "out of memory");
		close(fd);
		return;
	}
	while (have < DCF_PROTO_MAX &&
	    (r = dcf_proto_parse(in, have, 0, &m, &used, &ecode, err, sizeof(err))) == 0) {
		if (sock_io(fd, in + have, DCF_PROTO_MAX - have, 0, deadline, &got) == -1) {
			r = -2;
			break;
		}
		have += got;
	}
	close(fd);
	if (r == 1 && (m.type == DCF_MSG_OK || m.type == DCF_MSG_ERROR)) {
		snprintf(text, len, "%.*s", (int)m.u.error.text_len, m.u.error.text);
		*code = m.type == DCF_MSG_OK ? 200 : m.u.error.code == DCF_PE_BADCTL ? 409 : 502;
	} else if (r == -2) {
		snprintf(text, len,
		    "no answer from the supervisor in %d ms: it may or may not have done it; its "
		    "log "
		    "says (every command can be asked again)",
		    CTL_WAIT_MS);
	} else {
		snprintf(text, len, "the supervisor's answer was not one to a control request");
	}
	free(in);
}

/*
 * A control request in flight. The supervisor's answer is waited for by a
 * thread of its own, the connection suspended meanwhile: a stopped or slow
 * supervisor holds up that one request, never the polling thread.
 */
struct ctl_job {
	struct MHD_Connection *conn;
	struct ctl_opts co;
	int done; /* under W.mu */
	unsigned code;
	char text[DCF_ERRLEN + 256];
};

static void *
ctl_run(void *arg)
{
	struct ctl_job *j = arg;

	ctl_send(&j->co, &j->code, j->text, sizeof(j->text));
	pthread_mutex_lock(&W.mu);
	j->done = 1;
	MHD_resume_connection(j->conn);
	W.ctl_jobs--;
	pthread_cond_broadcast(&W.cv);
	pthread_mutex_unlock(&W.mu);
	return NULL;
}

/* The actions the page may ask, and the query arguments each takes, as dcf-ctl's operands. */
static const struct {
	const char *name;
	const char *args[3];
} actions[] = {
    {"pause", {"network"}},
    {"resume", {"network"}},
    {"scale", {"network", "nodes"}},
    {"cancel", {"id"}},
    {"kill", {"id", "signal"}},
    {"restart-node", {"network", "node"}},
};

/* The token, compared in a time that does not depend on where it differs. */
static int
token_ok(const char *tok)
{
	size_t n = strlen(W.token);
	unsigned char d = 0;

	if (tok == NULL || strlen(tok) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(tok[i] ^ W.token[i]);
	return d == 0;
}

static enum MHD_Result
api_ctl(struct MHD_Connection *conn, const char *action, struct ctl_job **jp)
{
	const char *tok = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-DCF-Token");
	char *argv[8], text[DCF_ERRLEN + 256];
	struct ctl_job *j = *jp;
	pthread_attr_t at;
	pthread_t th;
	size_t k, i;
	int argc = 0, r;

	if (j != NULL) {
		/* Called again once its thread resumed the connection: the answer. */
		return send_json_reply(conn, j->code, j->code == 200, j->text, strlen(j->text));
	}

	if (!W.o.control)
		return refuse(conn, 403, "control is off: start dcf-web with --control");
	if (!token_ok(tok))
		return refuse(conn, 403,
		    "no valid X-DCF-Token header: the token is printed when dcf-web starts");
	for (k = 0; k < sizeof(actions) / sizeof(actions[0]); k++)
		if (strcmp(action, actions[k].name) == 0)
			break;
	if (k == sizeof(actions) / sizeof(actions[0]))
		return refuse(conn, 404,
		    "no such action: pause, resume, scale, cancel, kill, restart-node");
	argv[argc++] = (char *)"dcf-ctl";
	argv[argc++] = (char *)action;
	for (i = 0; i < 3 && actions[k].args[i] != NULL; i++) {
		const char *v =
		    MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, actions[k].args[i]);

		if (v == NULL)
			break;
		argv[argc++] = (char *)v;
	}
	argv[argc] = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return MHD_NO;
	if (ctl_parse_into(argc, argv, &j->co, text, sizeof(text)) != 0) {
		free(j);
		return send_json_reply(conn, 400, 0, text, strlen(text));
	}
	j->conn = conn;
	pthread_mutex_lock(&W.mu);
	if (W.ctl_jobs >= CTL_JOBS_MAX || W.quit) {
		pthread_mutex_unlock(&W.mu);
		free(j);
		return refuse(conn, 503, "too many control requests in flight: ask again");
	}
	MHD_suspend_connection(conn);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&th, &at, ctl_run, j);
	pthread_attr_destroy(&at);
	if (r != 0) {
		MHD_resume_connection(conn);
		pthread_mutex_unlock(&W.mu);
		free(j);
		return refuse(conn, 503, "could not start a thread for the request: ask again");
	}
	W.ctl_jobs++;
	*jp = j; /* freed when the request completes (completed()) */
	pthread_mutex_unlock(&W.mu);
	return MHD_YES;
}

/* ---- the request handler ------------------------------------------------ */

static enum MHD_Result
not_allowed(struct MHD_Connection *conn, const char *allow)
{
	struct MHD_Response *r;
	char *buf;
	int n = asprintf(&buf, "method not allowed: %s only\n", allow);

	if (n < 0)
		return MHD_NO;
	r = MHD_create_response_from_buffer((size_t)n, buf, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	return send_response(conn, 405, r, "text/plain; charset=utf-8", 0);
}

static enum MHD_Result
api_events(struct MHD_Connection *conn)
{
	struct MHD_Response *r;
	struct sse *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return MHD_NO;
	c->conn = conn;
	c->fresh = 1;
	pthread_mutex_lock(&W.mu);
	if (W.nclients >= SSE_MAX) {
		pthread_mutex_unlock(&W.mu);
		free(c);
		return send_text(conn, 503, "%d event streams are open: no more\n", SSE_MAX);
	}
	pthread_mutex_unlock(&W.mu);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, c, sse_free);
	if (r == NULL) {
		free(c);
		return MHD_NO;
	}
	pthread_mutex_lock(&W.mu);
	c->next = W.clients;
	c->prevp = &W.clients;
	if (W.clients != NULL)
		W.clients->prevp = &c->next;
	W.clients = c;
	W.nclients++;
	W.kick = 1; /* its first frame now, not at the next tick */
	pthread_cond_broadcast(&W.cv);
	pthread_mutex_unlock(&W.mu);
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	return send_response(conn, 200, r, "text/event-stream", 0);
}

/*
 * Is the request addressed to an IP address or localhost? A page of another
 * site whose name was made to resolve to this address (DNS rebinding) sends
 * its own name in Host, and must not read what this server shows.
 * HTTP/1.0 may send no Host at all.
 */
static int
host_ok(struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	unsigned char addr[sizeof(struct in6_addr)];
	char name[80];
	size_t n;

	if (h == NULL)
		return 1;
	if (h[0] == '[') {
		n = strcspn(h + 1, "]");
		if (h[1 + n] != ']' || n >= sizeof(name))
			return 0;
		memcpy(name, h + 1, n);
		name[n] = '\0';
		return inet_pton(AF_INET6, name, addr) == 1;
	}
	n = strcspn(h, ":");
	if (n >= sizeof(name))
		return 0;
	memcpy(name, h, n);
	name[n] = '\0';
	return strcasecmp(name, "localhost") == 0 || inet_pton(AF_INET, name, addr) == 1;
}

/* The marker of a request whose headers were seen (con_cls); a control request's is its job. */
static int first_call;

/* A request ended: its control job, if any, goes. */
static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)conn;
	(void)why;
	if (*con_cls != NULL && *con_cls != &first_call)
		free(*con_cls);
	*con_cls = NULL;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	const struct web_asset *a;
	int get =
	    strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

	(void)cls;
	(void)version;
	(void)upload;
	if (*con_cls == NULL) {
		/* Headers only, so far: a body is refused before it is read. */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_TRANSFER_ENCODING);

		*con_cls = &first_call;
		if ((cl != NULL && strcmp(cl, "0") != 0) || te != NULL)
			return send_text(conn, 413, "no request here takes a body\n");
		if (!host_ok(conn))
			return send_text(conn, 421,
			    "this server answers requests addressed to an IP address or localhost "
			    "only, not to a name (Host)\n");
		return MHD_YES;
	}
	if (*upload_size != 0) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (strncmp(url, "/api/ctl/", 9) == 0) {
		if (!post)
			return not_allowed(conn, "POST");
		if (*con_cls == &first_call)
			*con_cls = NULL;
		return api_ctl(conn, url + 9, (struct ctl_job **)con_cls);
	}
	if ((a = web_asset(url)) != NULL) {
		if (!get)
			return not_allowed(conn, "GET, HEAD");
		return send_response(conn, 200,
		    MHD_create_response_from_buffer(a->len, (void *)(uintptr_t)a->data,
		        MHD_RESPMEM_PERSISTENT),
		    a->type, strcmp(url, "/") != 0);
	}
	if (strcmp(url, "/api/status") != 0 && strcmp(url, "/metrics") != 0 &&
	    strcmp(url, "/api/events") != 0 && strcmp(url, "/api/tasks") != 0 &&
	    strcmp(url, "/api/config") != 0 && strcmp(url, "/api/hosts") != 0 &&
	    strncmp(url, "/api/task/", 10) != 0)
		return send_text(conn, 404, "not found: %s\n",
		    strlen(url) < 200 &&
		            strspn(url, "/abcdefghijklmnopqrstuvwxyz0123456789-._") == strlen(url)
		        ? url
		        : "(this path)");
	if (!get)
		return not_allowed(conn, "GET, HEAD");
	if (strcmp(url, "/api/status") == 0)
		return api_status(conn);
	if (strcmp(url, "/metrics") == 0)
		return api_metrics(conn);
	if (strcmp(url, "/api/events") == 0)
		return api_events(conn);
	if (strcmp(url, "/api/tasks") == 0)
		return api_tasks(conn);
	if (strcmp(url, "/api/hosts") == 0)
		return api_hosts(conn);
	if (strcmp(url, "/api/config") == 0)
		return api_config(conn);
	return api_output(conn, url + 10);
}

/* ---- start and stop ----------------------------------------------------- */

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "dcf-web: %s\n", msg);
	exit(1);
}

/* The listening socket, ours, so that a port in use is said plainly and port 0 is known. */
static int
listen_on(const char *spec, char *url, size_t urllen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[64], why[128], shown[80];
	uint16_t port;
	int fd, one = 1, v6;

	if (web_split_listen(spec, host, sizeof(host), &port, why, sizeof(why)) == -1)
		die("--listen '%s': %s", spec, why); /* checked by the parser already */
	memset(&ss, 0, sizeof(ss));
	v6 = strchr(host, ':') != NULL;
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		inet_pton(AF_INET6, host, &a->sin6_addr);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, host, &a->sin_addr);
		sl = sizeof(*a);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1)
		die("%s: %s%s", spec, strerror(errno),
		    errno == EADDRINUSE
		        ? ": pick another with --listen ADDR:PORT (port 0: any free one)"
		        : "");
	if (listen(fd, 128) == -1)
		die("listen: %s", strerror(errno));
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		die("getsockname: %s", strerror(errno));
	port = ntohs(
	    v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
	snprintf(shown, sizeof(shown), v6 ? "[%s]" : "%s", host);
	snprintf(url, urllen, "http://%s:%u/", shown, port);
	return fd;
}

static void
make_token(void)
{
	unsigned char raw[16];

	if (W.o.token_file != NULL) {
		FILE *f = fopen(W.o.token_file, "re");
		char line[256];
		size_t n;

		if (f == NULL)
			die("--token-file %s: %s", W.o.token_file, strerror(errno));
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		fclose(f);
		n = strcspn(line, "\r\n");
		line[n] = '\0';
		if (n < 16 || n >= sizeof(W.token) ||
		    strspn(line,
		        "0123456789abcdefABCDEF"
		        "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ"
		        "-_") != n)
			die("--token-file %s: its first line must be a token of 16 to 32 letters, "
			    "digits, '-' or '_'",
			    W.o.token_file);
		strlcpy(W.token, line, sizeof(W.token));
		return;
	}
	arc4random_buf(raw, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(W.token + 2 * i, 3, "%02x", raw[i]);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	(void)fmt;
	(void)ap;
	/* libmicrohttpd's own complaints (a client's malformed request) are the client's. */
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t set;
	pthread_t tick;
	char err[256];
	int r, fd, sig;

	for (int f = 0; f <= 2; f++)
		if (fcntl(f, F_GETFD) == -1 &&
		    open("/dev/null", f == 0 ? O_RDONLY : O_WRONLY) == -1)
			return 1;
	r = web_parse_options(argc, argv, &W.o);
	if (r != 0)
		return r > 0 ? 0 : 2;
	if (W.o.store != NULL)
		strlcpy(W.store, W.o.store, sizeof(W.store));
	if (svc_paths(W.o.name, W.sock, sizeof(W.sock), W.o.store == NULL ? W.store : NULL,
	        W.o.store == NULL ? sizeof(W.store) : 0, err, sizeof(err)) == -1 ||
	    svc_outdir(W.store, W.o.name, W.outdir, sizeof(W.outdir), err, sizeof(err)) == -1)
		die("%s", err);
	if (W.o.control)
		make_token();
	if ((W.snap = dcf_snap_new()) == NULL ||
	    (W.seen = calloc(DCF_MAX_NODES, sizeof(*W.seen))) == NULL)
		die("out of memory");
	fd = listen_on(W.o.listen, W.url, sizeof(W.url));

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Every thread blocks these; the main thread takes them with sigwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_mutex_init(&W.mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&W.cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	W.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	        MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, handle, NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)CLIENTS_MAX, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
	    NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
	if (W.d == NULL)
		die("could not start the HTTP server on %s", W.o.listen);
	if ((errno = pthread_create(&tick, NULL, ticker, NULL)) != 0)
		die("pthread_create: %s", strerror(errno));
	if (W.o.control)
		printf("dcf-web: '%s' on %s (control: open %s#token=%s)\n", W.o.name, W.url, W.url,
		    W.token);
	else
		printf("dcf-web: '%s' on %s\n", W.o.name, W.url);
	fflush(stdout);
	do
		r = sigwait(&set, &sig);
	while (r != 0);
	/* Stop: every stream ends at its next read; the parked ones are woken for it. */
	pthread_mutex_lock(&W.mu);
	W.quit = 1;
	for (struct sse *c = W.clients; c != NULL; c = c->next)
		if (c->suspended) {
			c->suspended = 0;
			MHD_resume_connection(c->conn);
		}
	pthread_cond_broadcast(&W.cv);
	/* Control requests in flight end within CTL_WAIT_MS, resuming their connections. */
	while (W.ctl_jobs > 0)
		pthread_cond_wait(&W.cv, &W.mu);
	pthread_mutex_unlock(&W.mu);
	pthread_join(tick, NULL);
	MHD_stop_daemon(W.d); /* and closes fd, the listening socket it was given */
	detach();
	free(W.doc);
	free(W.seen);
	dcf_snap_free(W.snap);
	return 0;
}
