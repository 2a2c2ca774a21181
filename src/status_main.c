/*
 * dcf-status: show a running dcf system, read-only and without its lock.
 *
 * It maps the segment O_RDONLY/PROT_READ and copies it with a seqlock retry
 * (snapshot.h), so it can neither disturb the system nor be blocked by it,
 * whoever holds the lock or died holding it. Exit status: 0 ok; 1 no such
 * system, or a segment it cannot read, or one whose counts do not add up, or
 * a supervisor whose liveness it cannot tell (/proc unreadable); 2 bad usage.
 *
 * --watch on a terminal redraws in place on the alternate screen; stdin in
 * non-canonical mode gives 'q' at once. The terminal is given back on every
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
enum view { VIEW_OK, VIEW_BAD, VIEW_GONE };

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

/* One snapshot rendered to f; on VIEW_BAD a message for stderr in msg. */
static enum view
view(const struct dcf_seg *sg, struct dcf_snap *s, const struct status_opts *o,
    const struct dcf_render_opt *ro, FILE *f, char *msg, size_t msglen)
{
	char why[DCF_ERRLEN];
	int r;

	msg[0] = '\0';
	if (take(sg, s, o->name, why, sizeof(why)) == -1 && !s->hdr_ok) {
		snprintf(msg, msglen, "'%s': %s", o->name, why);
		return VIEW_BAD;
	}
	r = dcf_seg_supervisor_alive(&s->hdr);
	if (r == -1)
		die(1, "cannot tell whether dcf system '%s' is running: /proc/%d/stat: %s", o->name,
		    (int)s->hdr.sup_pid, strerror(errno));
	if (r == 0)
		return VIEW_GONE;
	r = o->json ? dcf_render_json(f, s, ro) : dcf_render_text(f, s, ro);
	if (r == -1)
		die(1, "writing the status: %s", strerror(errno));
	if (!s->consistent)
		snprintf(msg, msglen, "'%s': %s", o->name, why);
	else if (s->anomalies > 0)
		snprintf(msg, msglen, "'%s': %u out-of-range values in the segment, marked invalid",
		    o->name, s->anomalies);
	return msg[0] != '\0' ? VIEW_BAD : VIEW_OK;
}

static int
once(const struct status_opts *o, struct dcf_snap *s)
{
	struct dcf_render_opt ro;
	struct dcf_seg sg;
	char msg[MSGLEN];
	enum view v;

	memset(&ro, 0, sizeof(ro));
	ro.nodes = o->nodes;
	ro.color = use_color();
	attach_or_die(&sg, o->name);
	v = view(&sg, s, o, &ro, stdout, msg, sizeof(msg));
	dcf_seg_detach(&sg);
	if (v == VIEW_GONE)
		die(1, "no dcf system named '%s' is running", o->name);
	if (fflush(stdout) == EOF)
		die(1, "writing the status: %s", strerror(errno));
	if (v == VIEW_BAD)
		die(1, "%s", msg);
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

enum wake { WAKE_TIMEOUT, WAKE_REDRAW, WAKE_QUIT };

/* Keys that arrived: 'q' quits, anything else redraws now. *keys cleared on EOF. */
static enum wake
read_keys(int *keys)
{
	char buf[64];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n <= 0) {
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			return WAKE_REDRAW;
		*keys = 0; /* EOF or an error: stop listening */
		return WAKE_TIMEOUT;
	}
	if (memchr(buf, 'q', (size_t)n) != NULL || memchr(buf, 'Q', (size_t)n) != NULL)
		return WAKE_QUIT;
	return WAKE_REDRAW;
}

/* Until deadline (CLOCK_MONOTONIC ns): a poll on stdin, signals let in only here. */
static enum wake
wait_until(uint64_t deadline, int *keys, const sigset_t *waitmask)
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
			suspend(*keys);
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
		r = ppoll(*keys ? &pfd : NULL, *keys ? 1 : 0, &ts, waitmask);
		if (r == -1 && errno != EINTR)
			die(1, "poll: %s", strerror(errno));
		if (r > 0) {
			enum wake w = read_keys(keys);

			if (w != WAKE_TIMEOUT)
				return w;
		}
	}
}

/* The segment's supervisor is gone: follow a new system of the same name, or say so. */
static void
reattach(struct dcf_seg *sg, const char *name)
{
	dcf_seg_detach(sg);
	attach_or_die(sg, name);
}

/* Write one watch frame: redrawn in place on a terminal, else after a blank line. */
static void
show_frame(const char *buf, size_t len, int tty, uint64_t shown)
{
	if (tty) {
		unsigned rows, cols;

		term_size(&rows, &cols);
		if (dcf_render_frame(stdout, buf, len, rows) == -1)
			die(1, "writing the status: %s", strerror(errno));
		return;
	}
	if (shown > 0)
		fputc('\n', stdout);
	fwrite(buf, 1, len, stdout);
	if (fflush(stdout) == EOF)
		die(1, "writing the status: %s", strerror(errno));
}

/* Render one frame into a buffer: *buf (malloc'd), *len. */
static enum view
frame(struct dcf_seg *sg, struct dcf_snap *s, const struct status_opts *o,
    struct dcf_render_opt *ro, int tty, char **buf, size_t *len)
{
	char msg[MSGLEN], when[16];
	unsigned rows, cols;
	time_t now = time(NULL);
	enum view v;
	FILE *m;

	*buf = NULL;
	m = open_memstream(buf, len);
	if (m == NULL)
		die(1, "open_memstream: %s", strerror(errno));
	if (tty) {
		char title[64];

		term_size(&rows, &cols);
		ro->width = cols;
		strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
		snprintf(title, sizeof(title), "dcf-status: every %.1fs, q quits",
		    (double)o->interval_ms / 1e3);
		fprintf(m, "%-*s%s\n\n", cols > 48 ? (int)cols - 8 : 40, title, when);
	}
	v = view(sg, s, o, ro, m, msg, sizeof(msg));
	/* On a terminal the message is part of the screen; else stdout stays parseable. */
	if (v == VIEW_BAD && tty)
		fprintf(m, "\ndcf-status: %s\n", msg);
	else if (v == VIEW_BAD)
		warnx("%s", msg);
	if (fclose(m) == EOF)
		die(1, "open_memstream: %s", strerror(errno));
	return v;
}

static int
watch(const struct status_opts *o, struct dcf_snap *s)
{
	static const int sigs_tty[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP};
	static const int sigs_plain[] = {SIGINT, SIGTERM, SIGHUP};
	int tty = isatty(STDOUT_FILENO), keys = tty && isatty(STDIN_FILENO);
	struct dcf_render_opt ro;
	struct dcf_seg sg;
	sigset_t waitmask;
	uint64_t shown = 0;

	memset(&ro, 0, sizeof(ro));
	ro.nodes = o->nodes;
	ro.grid = tty;
	ro.color = use_color();
	attach_or_die(&sg, o->name);
	if (tty)
		signals_catch(sigs_tty, sizeof(sigs_tty) / sizeof(sigs_tty[0]), &waitmask);
	else
		signals_catch(sigs_plain, sizeof(sigs_plain) / sizeof(sigs_plain[0]), &waitmask);
	if (tty) {
		atexit(term_leave);
		term_enter(keys);
	}
	for (;;) {
		uint64_t start = dcf_now_ns();
		char *buf;
		size_t len;
		enum view v = frame(&sg, s, o, &ro, tty, &buf, &len);

		if (v == VIEW_GONE) {
			free(buf);
			reattach(&sg, o->name);
			ro.have_prev = 0;
			v = frame(&sg, s, o, &ro, tty, &buf, &len);
			if (v == VIEW_GONE)
				die(1, "no dcf system named '%s' is running", o->name);
		}
		show_frame(buf, len, tty, shown++);
		free(buf);
		if (s->consistent) {
			ro.have_prev = 1;
			ro.prev_completed = s->completed;
			ro.prev_ns = s->taken_ns;
		}
		if (o->count > 0 && shown >= o->count)
			break;
		if (wait_until(start + (uint64_t)o->interval_ms * 1000000u, &keys, &waitmask) ==
		    WAKE_QUIT)
			break;
	}
	term_leave();
	dcf_seg_detach(&sg);
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
	s = dcf_snap_new();
	if (s == NULL)
		err(1, "allocating a snapshot");
	bus_catch();
	rc = o.watch ? watch(&o, s) : once(&o, s);
	dcf_snap_free(s);
	return rc;
}
