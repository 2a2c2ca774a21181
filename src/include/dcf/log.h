/*
 * log.h - the one logger. Every line is "YYYY-mm-dd HH:MM:SS - LEVEL - text"
 * and leaves in whole lines, at most PIPE_BUF bytes per write(2), so lines of
 * several processes sharing the descriptor never interleave within a line.
 *
 * A slow or stalled destination (a pipe nobody reads, a FIFO, a terminal
 * scrolled back, a full disk) must never hold up the books, so nothing
 * here blocks without a bound:
 *  - the descriptor is our own open file description with O_NONBLOCK
 *    (dcf_log_open, dcf_log_private): the user's terminal keeps its flags;
 *  - queued mode (the supervisor): dcf_log appends to a bounded in-memory
 *    queue, never writes; dcf_log_flush writes what the destination takes
 *    now, and the caller polls for POLLOUT while dcf_log_queued() > 0. The
 *    caller applies back-pressure with dcf_log_room() (the supervisor
 *    retires completed tasks only while their lines fit), so a stalled
 *    reader delays completions, which stay recorded in the books;
 *  - direct mode (before a queue is set up): one write per line, waiting at
 *    most a second for room. Workers never log: the supervisor writes every
 *    line, so the log reads in causal order for every node.
 *
 * A line that cannot be written (EIO, ENOSPC, EPIPE, EFBIG, or the queue's
 * hard limit) is lost: it is counted (dcf_log_lost), the first error is
 * kept (dcf_log_error) and said once on the note descriptor, and the
 * supervisor ends with a non-zero status. Nothing is dropped silently.
 */
#ifndef DCF_LOG_H
#define DCF_LOG_H

#include <stddef.h>
#include <stdint.h>

enum dcf_level { DCF_DEBUG = 0, DCF_INFO = 1, DCF_WARNING = 2, DCF_ERROR = 3, DCF_SILENT = 4 };

/* The longest line dcf_log writes, newline included. */
#define DCF_LOG_LINE_MAX 1024

/*
 * Open path for appending as a log: O_NONBLOCK (a FIFO with no reader is
 * refused at once, ENXIO), no controlling terminal, and only a regular
 * file, a FIFO, a socket or a character device. -1 with a message.
 */
int dcf_log_open(const char *path, int *fd_out, char *err, size_t errlen);
/*
 * A descriptor of our own, O_NONBLOCK and close-on-exec, for what fd refers
 * to: a new open file description when fd is a pipe, FIFO or terminal (so
 * the shell's keeps its flags), else a duplicate. -1 on failure.
 */
int dcf_log_private(int fd);
/* The same for any access mode (oflags: O_RDONLY, or O_WRONLY | O_APPEND). */
int dcf_fd_private(int fd, int oflags);

/* fd: where lines go; tty: clear a status line before each log line. */
void dcf_log_init(int fd, enum dcf_level min, int tty);
int dcf_log_enabled(enum dcf_level lv);
void dcf_log(enum dcf_level lv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dcf_log_level_parse(const char *s, enum dcf_level *out);
int dcf_log_fd(void);

/* Queued mode: lines go to a queue of cap bytes (allocated here). -1 ENOMEM. */
int dcf_log_queue(size_t cap);
/* Free the queue; back to direct mode. */
void dcf_log_queue_free(void);
/* Bytes waiting in the queue. */
size_t dcf_log_queued(void);
/* Would `bytes` more fit in the queue without reaching its hard limit? */
int dcf_log_room(size_t bytes);
/* Write what the destination takes without blocking; 1 if some is left. */
int dcf_log_flush(void);
/*
 * Queue raw bytes (a terminal's progress line) only if the queue is empty;
 * dropped otherwise, and never counted as lost.
 */
void dcf_log_raw(const char *s, size_t n);
/*
 * Flush everything, waiting for the destination as long as it takes some
 * bytes at least every idle_ms (0: not at all); what is left then is
 * counted as lost. Returns the bytes given up on.
 */
size_t dcf_log_drain(int idle_ms);

/* Where to say, once, that lines are being lost (-1: nowhere). */
void dcf_log_note_fd(int fd);

/* Lines lost so far by this process, and the first error, or NULL. */
uint64_t dcf_log_lost(void);
const char *dcf_log_error(void);

/* Write all of buf to fd (O_NONBLOCK or not), waiting at most ms in all. */
int dcf_write_within(int fd, const void *buf, size_t len, int ms);

#endif
