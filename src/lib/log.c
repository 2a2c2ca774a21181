/* log.c - the one logger: whole lines, never a write without a bound. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dcf/log.h"
#include "dcf/util.h"

static int log_fd = 2;
static int log_sock; /* log_fd is a socket: sent with MSG_DONTWAIT */
static enum dcf_level log_min = DCF_INFO;
static int log_tty;
static int note_fd = -1;

/* Queued mode. */
static char *q_buf;
static size_t q_cap, q_start, q_end;

/* What was lost. */
static uint64_t lost;
static char first_error[128];

static const char *const level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

static int
is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

void
dcf_log_init(int fd, enum dcf_level min, int tty)
{
	log_fd = fd;
	log_sock = is_socket(fd);
	log_min = min;
	log_tty = tty;
}

int
dcf_log_fd(void)
{
	return log_fd;
}

int
dcf_log_enabled(enum dcf_level lv)
{
	return lv >= log_min;
}

int
dcf_log_level_parse(const char *s, enum dcf_level *out)
{
	static const char *const names[] = {"debug", "info", "warning", "error"};

	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum dcf_level)i;
			return 0;
		}
	}
	errno = EINVAL;
	return -1;
}

static const char *
type_name(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISLNK(m))
		return "a symbolic link";
	return "not a file, FIFO, socket or character device";
}

int
dcf_log_open(const char *path, int *fd_out, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0644);
	if (fd == -1) {
		if (errno == ENXIO)
			DCF_BAD(ENXIO,
			    "'%s' is a FIFO that no process is reading; start its reader first",
			    path);
		DCF_BAD(errno, "'%s': %s; give a writable file", path, strerror(errno));
	}
	if (fstat(fd, &st) == -1) {
		int e = errno;

		close(fd);
		DCF_BAD(e, "'%s': %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) &&
	    !S_ISCHR(st.st_mode)) {
		close(fd);
		DCF_BAD(EINVAL, "'%s' is %s; give a file, a FIFO or a terminal", path,
		    type_name(st.st_mode));
	}
	*fd_out = fd;
	return 0;
}

int
dcf_fd_private(int fd, int oflags)
{
	struct stat st;
	char path[64];
	int nfd;

	if (fstat(fd, &st) == -1)
		return -1;
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		/* A new open file description: O_NONBLOCK on it is ours alone. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		nfd = open(path, oflags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (nfd != -1)
			return nfd;
	}
	/* A file (O_NONBLOCK means nothing there) or a socket (sent MSG_DONTWAIT). */
	return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

int
dcf_log_private(int fd)
{
	return dcf_fd_private(fd, O_WRONLY | O_APPEND);
}

void
dcf_log_note_fd(int fd)
{
	note_fd = fd;
}

uint64_t
dcf_log_lost(void)
{
	return lost;
}

const char *
dcf_log_error(void)
{
	return first_error[0] ? first_error : NULL;
}

static void
count_lost(uint64_t lines, int e)
{
	if (lines == 0)
		return;
	lost += lines;
	if (first_error[0] == '\0') {
		char note[192];
		int n;

		snprintf(first_error, sizeof(first_error), "%s", strerror(e));
		n = snprintf(note, sizeof(note),
		    "dcf: the log cannot be written (%s): lines are being lost and counted\n",
		    first_error);
		if (note_fd >= 0 && note_fd != log_fd && n > 0)
			(void)dcf_write_within(note_fd, note, (size_t)n, 0);
	}
}

/* One write that never blocks: MSG_DONTWAIT on a socket, O_NONBLOCK elsewhere. */
static ssize_t
write_once(int fd, int sock, const char *p, size_t n)
{
	return sock ? send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) : write(fd, p, n);
}

int
dcf_write_within(int fd, const void *buf, size_t len, int ms)
{
	const char *p = buf;
	int sock = is_socket(fd);
	uint64_t end = dcf_now_ns() + (uint64_t)(ms > 0 ? ms : 0) * 1000000ULL;

	while (len > 0) {
		ssize_t r = write_once(fd, sock, p, len);
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		uint64_t now;

		if (r > 0) {
			p += r;
			len -= (size_t)r;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return -1;
		now = dcf_now_ns();
		if (now >= end) {
			errno = ETIMEDOUT;
			return -1;
		}
		(void)poll(&pfd, 1, (int)((end - now) / 1000000ULL) + 1);
	}
	return 0;
}

static size_t
count_lines(const char *p, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n';
	return k;
}

/* Direct mode (no queue yet): the whole line, waiting at most a second for room. */
static void
write_direct(const char *line, size_t n)
{
	if (dcf_write_within(log_fd, line, n, 1000) == -1)
		count_lost(1, errno);
}

static void
enqueue(const char *p, size_t n)
{
	if (q_end + n > q_cap && q_start > 0) {
		memmove(q_buf, q_buf + q_start, q_end - q_start);
		q_end -= q_start;
		q_start = 0;
	}
	if (q_end + n > q_cap) {
		count_lost(count_lines(p, n), ENOBUFS);
		return;
	}
	memcpy(q_buf + q_end, p, n);
	q_end += n;
}

void
dcf_log(enum dcf_level lv, const char *fmt, ...)
{
	char line[DCF_LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t n = 0, room;
	int r;

	if (lv < log_min)
		return;
	if (log_tty)
		n = strlcpy(line, "\r\033[K", sizeof(line));
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n += strftime(line + n, sizeof(line) - n, "%Y-%m-%d %H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, " - %s - ", level_names[lv]);
	if (r > 0)
		n += (size_t)r;
	room = sizeof(line) - n - 1; /* keep one byte for the newline */
	va_start(ap, fmt);
	r = vsnprintf(line + n, room, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += (size_t)r < room ? (size_t)r : room - 1;
	line[n++] = '\n';
	if (q_buf != NULL)
		enqueue(line, n);
	else
		write_direct(line, n);
}

int
dcf_log_queue(size_t cap)
{
	char *b = malloc(cap);

	if (b == NULL) {
		errno = ENOMEM;
		return -1;
	}
	free(q_buf);
	q_buf = b;
	q_cap = cap;
	q_start = q_end = 0;
	return 0;
}

void
dcf_log_queue_free(void)
{
	free(q_buf);
	q_buf = NULL;
	q_cap = q_start = q_end = 0;
}

size_t
dcf_log_queued(void)
{
	return q_end - q_start;
}

int
dcf_log_room(size_t bytes)
{
	return q_buf == NULL || dcf_log_queued() + bytes <= q_cap;
}

void
dcf_log_raw(const char *s, size_t n)
{
	if (q_buf == NULL) {
		(void)write_once(log_fd, log_sock, s, n);
		return;
	}
	if (dcf_log_queued() == 0 && n <= q_cap)
		enqueue(s, n);
}

/* The next write: whole lines, at most PIPE_BUF bytes (atomic on a pipe). */
static size_t
chunk_len(void)
{
	size_t n = dcf_log_queued(), cut;

	if (n <= PIPE_BUF)
		return n;
	for (cut = PIPE_BUF; cut > 0 && q_buf[q_start + cut - 1] != '\n'; cut--)
		;
	return cut > 0 ? cut : PIPE_BUF;
}

int
dcf_log_flush(void)
{
	while (dcf_log_queued() > 0) {
		size_t n = chunk_len();
		ssize_t r = write_once(log_fd, log_sock, q_buf + q_start, n);

		if (r > 0) {
			q_start += (size_t)r;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		/* The destination refuses this chunk: its lines are lost. */
		count_lost(count_lines(q_buf + q_start, n), r == 0 ? EIO : errno);
		q_start += n;
	}
	q_start = q_end = 0;
	return 0;
}

size_t
dcf_log_drain(int idle_ms)
{
	size_t left;

	while (dcf_log_flush() == 1 && idle_ms > 0) {
		struct pollfd pfd = {.fd = log_fd, .events = POLLOUT};
		int r = poll(&pfd, 1, idle_ms);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
	}
	left = dcf_log_queued();
	if (left > 0) {
		count_lost(count_lines(q_buf + q_start, left), ETIMEDOUT);
		q_start = q_end = 0;
	}
	return left;
}
