/*
 * dcf-status: show a running dcf system, read-only and without its lock.
 *
 * It maps the segment O_RDONLY/PROT_READ and copies it with a seqlock retry
 * (snapshot.h), so it can neither disturb the system nor be blocked by it,
 * whoever holds the lock or died holding it. Exit status: 0 ok, or the run
 * ended while watched; 1 no such system, a stale segment (its supervisor
 * died), a segment it cannot read, one whose counts do not add up, or a
 * supervisor whose liveness it cannot tell (/proc unreadable); 2 bad usage.
 * --list and --remove-stale look at every dcf name in /dev/shm (seg.h).
 *
 * --watch follows one run. When its supervisor ends the run it stores its
 * exit status and DCF_SYS_ENDED in the header before removing the name; our
 * mapping outlives the name, so the last frame shows how it ended (exit 0).
 * A supervisor gone without that (SIGKILL) is reported as dead (exit 1).
 *
 * --watch on a terminal redraws in place on the alternate screen; stdin in
 * non-canonical mode gives 'q' and the scrolling keys at once; the last
 * frame is printed again on the main screen when the run ends, so it stays.
 * Off a terminal, text frames are separated by a blank line and JSON is one
 * object a line (JSON Lines). The terminal is given back on every
 * way out: quitting, a fatal error (term_leave before the message, and at
 * exit), SIGINT/SIGTERM/SIGHUP (flags, acted on by the main loop), and
 * SIGTSTP (given back before stopping, taken again after SIGCONT). Those
 * signals are blocked except inside ppoll(), so none arrives between a check
 * of the flags and the wait. A segment truncated under us (SIGBUS while
 * reading it) is a fatal error like the others.
 */
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "dcf/seg.h"
#include "dcf/snapshot.h"
#include "dcf/status_render.h"
#include "dcf/util.h"
#include "status.h"

#define EXIT_USAGE 2
#define MSGLEN     (2 * DCF_ERRLEN)

/* What one look at the segment gave. */
enum look {
	LOOK_OK,  /* a snapshot (its problems, if any, in the message) of a live or ended run */
	LOOK_BAD, /* no header could be read: the message says why */
	LOOK_DIED /* the supervisor is gone without ending the run */
};

static volatile sig_atomic_t got_quit, got_winch, got_tstp;

static struct termios term_orig;
static int term_raw;    /* stdin's termios is ours: term_orig restores it */
static int term_screen; /* on the alternate screen */

static void
term_leave(void)
{
	if (term_screen) {
		/* Autowrap and cursor back on, leave the alternate screen. */
		fputs("\033[?7h\033[?25h\033[?1049l", stdout);
		fflush(stdout);
		term_screen = 0;
	}
	if (term_raw) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &term_orig);
		term_raw = 0;
	}
}

/* keys: stdin is a terminal too, read it a key at a time without echo. */
static void
term_enter(int keys)
{
	if (keys && tcgetattr(STDIN_FILENO, &term_orig) == 0) {
		struct termios t = term_orig;

		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) == 0)
			term_raw = 1;
	}
	/* Alternate screen, cursor hidden, long lines cut rather than wrapped. */
	fputs("\033[?1049h\033[?25l\033[?7l", stdout);
	fflush(stdout);
	term_screen = 1;
}

static void __attribute__((noreturn, format(printf, 2, 3))) die(int code, const char *fmt, ...)
{
	va_list ap;

	term_leave();
	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	exit(code);
}

static void
on_signal(int sig)
{
	if (sig == SIGWINCH)
		got_winch = 1;
	else if (sig == SIGTSTP)
		got_tstp = 1;
	else
		got_quit = sig;
}

/* Catch sigs, blocked outside ppoll; *waitmask is the mask to wait with. */
static void
signals_catch(const int *sigs, size_t n, sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	sigemptyset(&block);
	for (size_t i = 0; i < n; i++)
		sigaddset(&block, sigs[i]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_mask = block; /* no SA_RESTART: ppoll returns EINTR */
	sigprocmask(SIG_BLOCK, &block, waitmask);
	for (size_t i = 0; i < n; i++)
		if (sigaction(sigs[i], &sa, NULL) == -1)
			err(1, "sigaction");
}

/* Ctrl-Z: give the terminal back, stop, take it again when continued. */
static void
suspend(int keys)
{
	struct sigaction sa, old;
	sigset_t tstp;

	term_leave();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTSTP, &sa, &old);
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	raise(SIGTSTP);                        /* pending: blocked */
	sigprocmask(SIG_UNBLOCK, &tstp, NULL); /* we stop here until SIGCONT */
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	sigaction(SIGTSTP, &old, NULL);
	term_enter(keys);
}

/* Colours on a terminal, unless NO_COLOR is set and not empty (no-color.org). */
static int
use_color(void)
{
	const char *nc = getenv("NO_COLOR");

	return isatty(STDOUT_FILENO) && (nc == NULL || nc[0] == '\0');
}

/*
 * A same-user ftruncate of the segment turns every read of the mapping past
 * its new end into SIGBUS. The reads of the mapping (attach's check of the
 * header, the snapshot's copy) run with bus_armed set, and the handler jumps
 * out of them to say so; nothing else reads the mapping. A SIGBUS anywhere
 * else is a bug: the default action.
 */
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

static void
on_sigbus(int sig)
{
	if (bus_armed) {
		bus_armed = 0;
		siglongjmp(bus_jmp, 1);
	}
	signal(sig, SIG_DFL); /* the faulting read runs again, and kills us */
}

static void
bus_catch(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) == -1)
		err(1, "sigaction");
}

/* Jumped out of a read of the mapping (sg: NULL while attaching). */
static void __attribute__((noreturn)) die_truncated(const char *name, const struct dcf_seg *sg)
{
	struct stat st;

	if (sg != NULL && sg->fd != -1 && fstat(sg->fd, &st) == 0)
		die(1,
		    "dcf system '%s': its segment was truncated under us (%zu bytes mapped, %lld "
		    "left): some process resized /dev/shm/dcf-%s",
		    name, sg->size, (long long)st.st_size, name);
	die(1,
	    "dcf system '%s': its segment was truncated under us: some process resized "
	    "/dev/shm/dcf-%s",
	    name, name);
}

static void
attach_or_die(struct dcf_seg *sg, const char *name)
{
	char msg[DCF_ERRLEN];
	int r;

	if (sigsetjmp(bus_jmp, 1) != 0)
		die_truncated(name, NULL);
	bus_armed = 1;
	r = dcf_seg_attach(sg, name, 1, msg, sizeof(msg));
	bus_armed = 0;
	if (r == 0)
		return;
	if (errno == ENOENT)
		die(1, "no dcf system named '%s' is running", name);
	die(1, "%s", msg);
}

/*
 * The supervisor's end of the run dead (its segment left): say who made the
 * segment, when, and how to remove it, if the name still holds that one.
 */
static void __attribute__((noreturn)) die_stale(const char *name, const struct dcf_hdr *h)
{
	struct dcf_seg_info in;
	char when[64];

	if (dcf_seg_probe(name, &in) == -1 || in.kind != DCF_SEG_STALE ||
	    in.created_ns != h->created_ns || in.sup_pid != h->sup_pid)
		die(1, "dcf system '%s': the supervisor died (pid %d)", name, (int)h->sup_pid);
	dcf_render_when(when, sizeof(when), h->created_ns);
	die(1,
	    "dcf system '%s': the supervisor died (pid %d); its segment /dev/shm/dcf-%s, made "
	    "by uid %u at %s, is stale: remove it with 'dcf-status --remove-stale %s'",
	    name, (int)h->sup_pid, name, h->uid, when, name);
}

/* Has the supervisor ended the run? Acquire: its exit status was stored before. */
static int
run_ended(const struct dcf_seg *sg, const char *name, uint32_t *code)
{
	int ended;

	if (sigsetjmp(bus_jmp, 1) != 0)
		die_truncated(name, sg);
	bus_armed = 1;
	ended = __atomic_load_n(&sg->hdr->sys_state, __ATOMIC_ACQUIRE) == DCF_SYS_ENDED;
	*code = ended ? __atomic_load_n(&sg->hdr->end_code, __ATOMIC_RELAXED) : 0;
	bus_armed = 0;
	return ended;
}

/* dcf_snap_take, or die if the segment shrinks under the copy. */
static int
take(const struct dcf_seg *sg, struct dcf_snap *s, const char *name, char *why, size_t len)
{
	int r;

	if (sigsetjmp(bus_jmp, 1) != 0)
		die_truncated(name, sg);
	bus_armed = 1;
	r = dcf_snap_take(s, sg->base, sg->size, getuid(), DCF_SNAP_TRIES, why, len);
	bus_armed = 0;
	return r;
}

/*
 * One look: ro->ended and the snapshot in s (taken after the ended check, so
 * an ended run's snapshot is its last state). LOOK_OK with a message in msg
 * when the snapshot is inconsistent or holds values out of range.
 */
static enum look
look(const struct dcf_seg *sg, struct dcf_snap *s, const char *name, struct dcf_render_opt *ro,
    char *msg, size_t msglen)
{
	char why[DCF_ERRLEN];
	int r;

	msg[0] = '\0';
	ro->ended = run_ended(sg, name, &ro->end_code);
	for (;;) {
		if (take(sg, s, name, why, sizeof(why)) == -1 && !s->hdr_ok) {
			snprintf(msg, msglen, "'%s': %s", name, why);
			return LOOK_BAD;
		}
		if (ro->ended)
			break;
		r = dcf_seg_supervisor_alive(&s->hdr);
		if (r == -1)
			die(1, "cannot tell whether dcf system '%s' is running: /proc/%d/stat: %s",
			    name, (int)s->hdr.sup_pid, strerror(errno));
		if (r == 1)
			break;
		/* Gone: dead, or it ended the run and exited since we looked. Then look again. */
		ro->ended = run_ended(sg, name, &ro->end_code);
		if (!ro->ended)
			return LOOK_DIED;
	}
	if (!s->consistent)
		snprintf(msg, msglen, "'%s': %s", name, why);
	else if (s->anomalies > 0)
		snprintf(msg, msglen, "'%s': %u out-of-range %s in the segment, marked invalid",
		    name, s->anomalies, s->anomalies == 1 ? "value" : "values");
	return LOOK_OK;
}

static void
render(FILE *f, const struct dcf_snap *s, const struct status_opts *o,
    const struct dcf_render_opt *ro)
{
	int r = o->json ? dcf_render_json(f, s, ro) : dcf_render_text(f, s, ro);

	if (r == -1)
		die(1, "writing the status: %s", strerror(errno));
}

static int
once(const struct status_opts *o, struct dcf_snap *s)
{
	struct dcf_render_opt ro;
	struct dcf_seg sg;
	char msg[MSGLEN];
	enum look l;

	memset(&ro, 0, sizeof(ro));
	ro.nodes = o->nodes;
	ro.color = use_color();
	attach_or_die(&sg, o->name);
	l = look(&sg, s, o->name, &ro, msg, sizeof(msg));
	dcf_seg_detach(&sg);
	if (l == LOOK_BAD)
		die(1, "%s", msg);
	if (l == LOOK_DIED)
		die_stale(o->name, &s->hdr);
	render(stdout, s, o, &ro);
	if (fflush(stdout) == EOF)
		die(1, "writing the status: %s", strerror(errno));
	if (msg[0] != '\0')
		die(1, "%s", msg);
	return 0;
}

/* Every dcf name in /dev/shm: what it is, whose, since when. */
static int
list(const struct status_opts *o)
{
	struct dcf_seg_info *v;
	char err[DCF_ERRLEN];
	size_t n;
	int r;

	if (dcf_seg_list(&v, &n, err, sizeof(err)) == -1)
		die(1, "%s", err);
	r = o->json ? dcf_render_list_json(stdout, v, n) : dcf_render_list_text(stdout, v, n);
	free(v);
	if (r == -1)
		die(1, "writing the list: %s", strerror(errno));
	return 0;
}

static int
remove_stale(const struct status_opts *o)
{
	char err[DCF_ERRLEN];
	pid_t old;

	if (dcf_seg_remove_stale(o->remove, &old, err, sizeof(err)) == -1)
		die(1, "%s", err);
	if (old > 0)
		printf("removed /dev/shm/dcf-%s, the stale segment of dcf system '%s' (its "
		       "supervisor, pid %d, is dead)\n",
		    o->remove, o->remove, (int)old);
	else
		printf("removed /dev/shm/dcf-%s, the stale segment of dcf system '%s'\n", o->remove,
		    o->remove);
	if (fflush(stdout) == EOF)
		die(1, "writing: %s", strerror(errno));
	return 0;
}

static void
term_size(unsigned *rows, unsigned *cols)
{
	struct winsize ws;

	*rows = 24;
	*cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* What one watch needs between frames. */
struct watch {
	const struct status_opts *o;
	struct dcf_snap *s;
	struct dcf_seg sg;
	struct dcf_render_opt ro;
	struct dcf_frame fr; /* the screen's layout, and where the user scrolled to */
	int tty, keys;
	char *buf; /* the frame shown last: scrolling redraws it */
	size_t len;
	sigset_t waitmask;
};

enum wake { WAKE_TIMEOUT, WAKE_REDRAW, WAKE_SCROLL, WAKE_QUIT };

enum key { KEY_OTHER, KEY_NONE, KEY_UP, KEY_DOWN, KEY_PGUP, KEY_PGDN, KEY_HOME, KEY_END };

/* An escape sequence at p (after ESC): its key, and *used, the bytes it takes. */
static enum key
key_escape(const char *p, size_t n, size_t *used)
{
	unsigned num = 0;
	size_t i = 1;

	*used = 0;
	if (n == 0 || (p[0] != '[' && p[0] != 'O'))
		return KEY_NONE; /* a lone ESC: nothing */
	while (i < n && p[i] >= '0' && p[i] <= '9')
		num = num * 10 + (unsigned)(p[i++] - '0');
	if (i >= n)
		return KEY_NONE;
	*used = i + 1;
	switch (p[i]) {
	case 'A':
		return KEY_UP;
	case 'B':
		return KEY_DOWN;
	case 'H':
		return KEY_HOME;
	case 'F':
		return KEY_END;
	case '~':
		return num == 5            ? KEY_PGUP
		    : num == 6             ? KEY_PGDN
		    : num == 1 || num == 7 ? KEY_HOME
		    : num == 4 || num == 8 ? KEY_END
		                           : KEY_NONE;
	default:
		return KEY_NONE;
	}
}

static enum key
key_plain(char c)
{
	switch (c) {
	case 'j':
		return KEY_DOWN;
	case 'k':
		return KEY_UP;
	case ' ':
	case 'f':
		return KEY_PGDN;
	case 'b':
		return KEY_PGUP;
	case 'g':
		return KEY_HOME;
	case 'G':
		return KEY_END;
	default:
		return KEY_OTHER;
	}
}

static void
scroll(struct dcf_frame *fr, enum key k)
{
	unsigned step = k == KEY_UP || k == KEY_DOWN ? 1 : fr->page > 0 ? fr->page : 1;

	if (k == KEY_DOWN || k == KEY_PGDN)
		fr->top = fr->max_top - fr->top > step ? fr->top + step : fr->max_top;
	else if (k == KEY_UP || k == KEY_PGUP)
		fr->top = fr->top > step ? fr->top - step : 0;
	else if (k == KEY_HOME)
		fr->top = 0;
	else if (k == KEY_END)
		fr->top = fr->max_top;
}

/*
 * Keys that arrived: q quits; j/k, the arrows, space/b, PgUp/PgDn, g/G,
 * Home/End scroll; any other key takes a snapshot now. *keys cleared on EOF.
 */
static enum wake
read_keys(struct watch *w)
{
	char buf[64];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	int scrolled = 0, other = 0;

	if (n <= 0) {
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			return WAKE_REDRAW;
		w->keys = 0; /* EOF or an error: stop listening */
		return WAKE_TIMEOUT;
	}
	for (size_t i = 0; i < (size_t)n; i++) {
		enum key k;
		size_t used = 0;

		if (buf[i] == 'q' || buf[i] == 'Q')
			return WAKE_QUIT;
		k = buf[i] == '\033' ? key_escape(buf + i + 1, (size_t)n - i - 1, &used)
		                     : key_plain(buf[i]);
		i += used;
		if (k == KEY_OTHER) {
			other = 1;
		} else if (k != KEY_NONE) {
			scroll(&w->fr, k);
			scrolled = 1;
		}
	}
	return other ? WAKE_REDRAW : scrolled ? WAKE_SCROLL : WAKE_TIMEOUT;
}

/* Until deadline (CLOCK_MONOTONIC ns): a poll on stdin, signals let in only here. */
static enum wake
wait_until(struct watch *w, uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		uint64_t now = dcf_now_ns(), left;
		struct timespec ts;
		int r;

		if (got_quit)
			return WAKE_QUIT;
		if (got_tstp) {
			got_tstp = 0;
			suspend(w->keys);
			return WAKE_REDRAW;
		}
		if (got_winch) {
			got_winch = 0;
			return WAKE_REDRAW;
		}
		if (now >= deadline)
			return WAKE_TIMEOUT;
		left = deadline - now;
		ts.tv_sec = (time_t)(left / DCF_NSEC);
		ts.tv_nsec = (long)(left % DCF_NSEC);
		r = ppoll(w->keys ? &pfd : NULL, w->keys ? 1 : 0, &ts, &w->waitmask);
		if (r == -1 && errno != EINTR)
			die(1, "poll: %s", strerror(errno));
		if (r > 0) {
			enum wake k = read_keys(w);

			if (k != WAKE_TIMEOUT)
				return k;
		}
	}
}

/* The first row: what this is and how to quit, the time at the right (whole, at any width). */
static void
title(FILE *m, const struct status_opts *o, unsigned cols)
{
	char when[16], head[64];
	time_t now = time(NULL);
	struct tm tm;
	int room = (int)cols - 1, clock = 8; /* never the last column */

	if (localtime_r(&now, &tm) == NULL || strftime(when, sizeof(when), "%H:%M:%S", &tm) == 0)
		snprintf(when, sizeof(when), "--:--:--");
	snprintf(head, sizeof(head), "dcf-status: every %.1fs, q quits",
	    (double)o->interval_ms / 1e3);
	if (room >= (int)strlen(head) + 1 + clock)
		fprintf(m, "%-*s%s\n\n", room - clock, head, when);
	else if (room > clock + 1)
		fprintf(m, "%.*s %s\n\n", room - clock - 1, head, when);
	else
		fprintf(m, "%s\n\n", when);
}

/*
 * Take and render one frame into w->buf. On a terminal: the title, then
 * the summary; with --nodes the node table follows, and everything above
 * its rows is pinned, so the rows scroll under their heading.
 */
static enum look
frame(struct watch *w, char *msg, size_t msglen)
{
	const struct status_opts *o = w->o;
	unsigned rows = 0, cols = 0;
	enum look l;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (m == NULL)
		die(1, "open_memstream: %s", strerror(errno));
	w->fr.pin = w->tty ? 1 : 0;
	w->fr.noun = "line";
	if (w->tty) {
		term_size(&rows, &cols);
		w->ro.width = cols;
		w->fr.rows = rows;
		w->fr.cols = cols;
		title(m, o, cols);
	}
	l = look(&w->sg, w->s, o->name, &w->ro, msg, msglen);
	if (l == LOOK_OK) {
		w->ro.nodes = o->nodes && !w->tty; /* on a terminal, apart: see below */
		render(m, w->s, o, &w->ro);
		if (w->tty && o->nodes && !o->json && w->s->consistent) {
			if (fflush(m) == EOF)
				die(1, "open_memstream: %s", strerror(errno));
			/* Pinned: all so far, and the table's blank line and heading. */
			w->fr.pin = dcf_render_lines(buf, len) + 2;
			w->fr.noun = "node";
			if (dcf_render_nodes(m, w->s, &w->ro) == -1)
				die(1, "writing the status: %s", strerror(errno));
		}
	}
	/* On a terminal the message is part of the screen; else stdout stays parseable. */
	if (l != LOOK_DIED && msg[0] != '\0' && w->tty)
		fprintf(m, "\ndcf-status: %s\n", msg);
	else if (l != LOOK_DIED && msg[0] != '\0')
		warnx("%s", msg);
	if (fclose(m) == EOF)
		die(1, "open_memstream: %s", strerror(errno));
	free(w->buf);
	w->buf = buf;
	w->len = len;
	return l;
}

/* Write the frame in w->buf: redrawn in place on a terminal, else appended. */
static void
show(struct watch *w, uint64_t shown)
{
	if (w->tty) {
		w->fr.keys = w->keys;
		if (dcf_render_frame(stdout, w->buf, w->len, &w->fr) == -1)
			die(1, "writing the status: %s", strerror(errno));
		return;
	}
	if (shown > 0 && !w->o->json)
		fputc('\n', stdout);
	fwrite(w->buf, 1, w->len, stdout);
	if (fflush(stdout) == EOF)
		die(1, "writing the status: %s", strerror(errno));
}

/*
 * The run is over (ended, or its supervisor died) on a terminal: leave the
 * alternate screen and print the last state on the main one, whole, where
 * it stays.
 */
static void
last_frame(struct watch *w)
{
	struct dcf_render_opt ro = w->ro;
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	term_leave();
	m = open_memstream(&buf, &len);
	if (m == NULL)
		die(1, "open_memstream: %s", strerror(errno));
	ro.nodes = w->o->nodes;
	render(m, w->s, w->o, &ro);
	if (fclose(m) == EOF)
		die(1, "open_memstream: %s", strerror(errno));
	/* JSON is data: whole. Text is fitted to the width it was laid out for. */
	if (w->o->json)
		fwrite(buf, 1, len, stdout);
	else if (dcf_render_fitted(stdout, buf, len, w->fr.cols) == -1)
		die(1, "writing the status: %s", strerror(errno));
	free(buf);
	if (fflush(stdout) == EOF)
		die(1, "writing the status: %s", strerror(errno));
}

static void
watch_start(struct watch *w)
{
	static const int sigs_tty[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP};
	static const int sigs_plain[] = {SIGINT, SIGTERM, SIGHUP};

	w->tty = isatty(STDOUT_FILENO);
	w->keys = w->tty && isatty(STDIN_FILENO);
	w->ro.grid = w->tty && !w->o->nodes; /* with --nodes, the table says as much, in rows */
	w->ro.color = use_color();
	w->ro.one_line = !w->tty; /* JSON Lines off a terminal */
	attach_or_die(&w->sg, w->o->name);
	if (w->tty)
		signals_catch(sigs_tty, sizeof(sigs_tty) / sizeof(sigs_tty[0]), &w->waitmask);
	else
		signals_catch(sigs_plain, sizeof(sigs_plain) / sizeof(sigs_plain[0]), &w->waitmask);
	if (w->tty) {
		atexit(term_leave);
		term_enter(w->keys);
	}
}

static int
watch(const struct status_opts *o, struct dcf_snap *s)
{
	struct watch w;
	uint64_t shown = 0;

	memset(&w, 0, sizeof(w));
	w.o = o;
	w.s = s;
	watch_start(&w);
	for (;;) {
		uint64_t deadline = dcf_now_ns() + (uint64_t)o->interval_ms * 1000000u;
		char msg[MSGLEN];
		enum look l = frame(&w, msg, sizeof(msg));
		enum wake k;

		/* The end of the run ends the watch; the last frame stays on show. */
		if (l == LOOK_DIED) {
			if (w.tty)
				last_frame(&w);
			die_stale(o->name, &s->hdr);
		}
		if (w.ro.ended && l == LOOK_OK) {
			if (w.tty)
				last_frame(&w);
			else
				show(&w, shown);
			break;
		}
		show(&w, shown++);
		if (s->consistent) {
			w.ro.have_prev = 1;
			w.ro.prev_completed = s->completed;
			w.ro.prev_ns = s->taken_ns;
		}
		if (o->count > 0 && shown >= o->count)
			break;
		while ((k = wait_until(&w, deadline)) == WAKE_SCROLL)
			show(&w, shown);
		if (k == WAKE_QUIT)
			break;
	}
	term_leave();
	free(w.buf);
	dcf_seg_detach(&w.sg);
	return 0;
}

int
main(int argc, char **argv)
{
	struct dcf_snap *s;
	struct status_opts o;
	int rc;

	switch (status_parse_options(argc, argv, &o)) {
	case -1:
		return EXIT_USAGE;
	case 1:
		return 0;
	}
	if (o.list)
		return list(&o);
	if (o.remove != NULL)
		return remove_stale(&o);
	if (o.tasks || o.task != 0 || o.out_id != 0 || o.hosts)
		return status_store(&o);
	s = dcf_snap_new();
	if (s == NULL)
		err(1, "allocating a snapshot");
	bus_catch();
	rc = o.watch ? watch(&o, s) : once(&o, s);
	dcf_snap_free(s);
	return rc;
}
