/*
 * log.h - the one logger. Every line is "YYYY-mm-dd HH:MM:SS - LEVEL - text"
 * and leaves in a single write(2), so lines of several processes sharing the
 * descriptor never interleave within a line.
 */
#ifndef DCF_LOG_H
#define DCF_LOG_H

enum dcf_level { DCF_DEBUG = 0, DCF_INFO = 1, DCF_WARNING = 2, DCF_ERROR = 3 };

/* fd: where lines go; tty: clear a status line before each log line. */
void dcf_log_init(int fd, enum dcf_level min, int tty);
int dcf_log_enabled(enum dcf_level lv);
void dcf_log(enum dcf_level lv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dcf_log_level_parse(const char *s, enum dcf_level *out);
int dcf_log_fd(void);

#endif
