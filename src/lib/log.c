/* log.c - the one logger: whole lines, one write(2) each. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dcf/log.h"

static int log_fd = 2;
static enum dcf_level log_min = DCF_INFO;
static int log_tty;

static const char *const level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

void
dcf_log_init(int fd, enum dcf_level min, int tty)
{
	log_fd = fd;
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

void
dcf_log(enum dcf_level lv, const char *fmt, ...)
{
	char line[1024];
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
	while (write(log_fd, line, n) == -1 && errno == EINTR)
		;
}
