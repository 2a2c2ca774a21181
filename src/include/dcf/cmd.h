/*
 * cmd.h - the user's commands as tasks: a command template, the payload a
 * task carries from the supervisor to its worker (an argv), the payload as
 * the text a shell user would type, and the reader of input lines.
 *
 * Two modes:
 *  - exec (dcf-supervisor -- COMMAND ARG...): one task per input line; the
 *    command is run by execvp, never through a shell, so the line's bytes
 *    reach the program as they are (spaces, quotes, "$(...)", '*', a
 *    leading '-', bytes that are not UTF-8). In each argument these
 *    replacement strings are replaced, as GNU parallel replaces them:
 *      {}    the line
 *      {.}   the line without its extension: cut at the last '.' if that
 *            '.' comes after the last '/' ("a/b.c.d" -> "a/b.c",
 *            ".bashrc" -> "", "a.b/c" -> "a.b/c")
 *      {/}   the line after its last '/' ("a/b" -> "b", "a/b/" -> "")
 *      {//}  the line's dirname(1) ("a/b" -> "a", "a" -> ".", "/a" -> "/",
 *            "a/b//" -> "a", "" -> ".")
 *      {/.}  {/} without its extension ("a/b.c" -> "b", "a/.c" -> "")
 *      {#}   the task's sequence number, in decimal
 *    anywhere in an argument and any number of times ("x{}y{}", "{#}.out").
 *    Scanning goes left to right and never rescans what it put in, so a
 *    line holding "{}" stays as it is. Anything else is passed as it is,
 *    including the GNU parallel strings dcf does not replace ({%}, {##},
 *    {1}, {=...=}, the --plus ones): dcf_cmd_tmpl_unsupported says which,
 *    so the supervisor can warn. When no argument holds a replacement
 *    string at all ({#} counts), the line is appended as a last argument,
 *    as GNU parallel does ("-- gzip -9" runs "gzip -9 LINE"; "-- echo {#}"
 *    runs "echo 1", without the line).
 *  - shell (dcf-supervisor --commands FILE): each line is a shell script,
 *    run as /bin/sh -c LINE; nothing in it is replaced.
 *
 * An empty line is a task (an empty argument in exec mode, as GNU parallel
 * makes it; xargs -I skips it): the line numbers and {#} stay the same
 * whatever the lines hold. A line ending in "\r\n" keeps its '\r': lines
 * are data and are passed byte for byte (GNU parallel does the same).
 *
 * Everything here is pure (no I/O, no allocation) except the reader, whose
 * only I/O is read(2) on the descriptor it is given and whose only
 * allocation is its one buffer.
 */
#ifndef DCF_CMD_H
#define DCF_CMD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The shell of --commands; a payload of exactly SHELL, "-c", X reads as X. */
#define DCF_CMD_SHELL "/bin/sh"

/*
 * A command template. It points into the caller's argv, which must outlive
 * it (the program's own argv does). Read-only after dcf_cmd_tmpl_init.
 */
struct dcf_cmd_tmpl {
	char **argv;
	int argc;
	int shell;  /* each line is a /bin/sh -c script */
	int append; /* exec mode, no replacement string anywhere: the line goes last */
	/* The first GNU parallel replacement string dcf passes as it is, or -1. */
	int odd_arg;   /* its argument's index in argv */
	size_t odd_at; /* its offset in that argument */
	size_t odd_len;
};

/*
 * Make a template of argv[0..argc) (exec mode) or of nothing (shell_mode:
 * argc must be 0, the lines are the commands). 0, or -1 with errno EINVAL
 * and a message: no command in exec mode, an empty command name, a command
 * given with shell_mode.
 */
int dcf_cmd_tmpl_init(struct dcf_cmd_tmpl *t, char **argv, int argc, int shell_mode, char *err,
    size_t errlen);

/*
 * The warning to give when the template holds a GNU parallel replacement
 * string that dcf does not replace: 1 with the sentence in msg, else 0.
 */
int dcf_cmd_tmpl_unsupported(const struct dcf_cmd_tmpl *t, char *msg, size_t len);

/*
 * The payload of the task for input line (line, len) with sequence number
 * seq: the argv's items one after another, each ending in a NUL byte (shell
 * mode: "/bin/sh", "-c", line). Returns the payload's size in bytes, NULs
 * included, whether or not it fitted; it is in out only if it is <= cap
 * (otherwise out holds a truncated prefix of no use). The caller compares
 * with cap and reports "input line N is too long: SIZE bytes, the limit is
 * CAP", SIZE counting the whole command. -1 with errno EINVAL if the line
 * holds a NUL byte (no argument can, in any mode, so such a line is never a
 * task), E2BIG if the size does not fit in an ssize_t.
 */
ssize_t dcf_cmd_build(const struct dcf_cmd_tmpl *t, const char *line, size_t len, uint64_t seq,
    char *out, size_t cap);

/*
 * Decode payload[0..len) in place into argv[0..argc) and argv[argc] = NULL,
 * argv having room for max pointers (the NULL included): what execvp takes.
 * argc, or -1 with errno EINVAL (len 0, or the last byte is not a NUL) or
 * E2BIG (more than max - 1 items). argv is untouched on error.
 */
int dcf_cmd_argv(char *payload, size_t len, char **argv, size_t max);
/*
 * A submitted task of another user (dcf-supervisor --allow-user): its argv
 * begins with this item, then the uid and the gid it runs as, in decimal;
 * the worker takes the three off and runs the rest as that user. No
 * submission's own command may begin with a control byte (proto.c), so none
 * can name another user.
 */
#define DCF_RUN_AS "\001dcf-run-as"

/*
 * The command as a POSIX shell would need it typed, for the joblog and for
 * matching on --resume: each item single-quoted only when it needs to be
 * (it's -> 'it'\''s', the empty item -> ''), joined by single spaces. A
 * payload of exactly "/bin/sh", "-c", X (shell mode) reads as X alone.
 * Deterministic, and /bin/sh -c TEXT runs the same argv again (where the
 * program's name is also a builtin of that shell, such as echo or printf,
 * the builtin runs instead, as when a user types it). Items are
 * split at NULs; bytes after the last NUL, if any, make one more item.
 * Quoting keeps every byte, so the text holds a newline or a tab when an
 * item does. Writes at most cap bytes, NUL-terminated when cap > 0, and
 * returns the text's full length without the NUL (>= cap: truncated), as
 * snprintf does.
 */
size_t dcf_cmd_text(const char *payload, size_t len, char *out, size_t cap);

/*
 * The reader of input lines, over a descriptor that may be non-blocking (a
 * pipe from a slow producer, a terminal, a file). Memory is bounded: one
 * buffer, DCF_LINES_START bytes (or max + 1 if less) that doubles only when
 * a line does not fit in it, never past max + 1 bytes, so it ends at most
 * twice the longest line kept; ten million lines need no more than ten. A
 * line longer than max is counted and skipped to its end without being
 * kept, and reading goes on after it.
 *
 * Invariant: start <= scan <= end <= cap; buf[start..scan) holds no
 * separator; end - start <= max + 1, and = max + 1 only until the line is
 * found too long.
 */
#define DCF_LINES_START 4096
#define DCF_LINES_MAX   (1u << 30) /* the largest max dcf_lines_init takes */

struct dcf_lines {
	int fd;
	int sep;    /* the byte that ends a line: '\n', or '\0' for -0 input */
	size_t max; /* the longest line kept, separator excluded */
	char *buf;
	size_t cap;              /* buf's size: read it to check the memory used */
	size_t start, scan, end; /* unread data is buf[start..end) */
	size_t skipped;          /* bytes of the too-long line skipped so far */
	uint64_t lineno;         /* the number of the line last given or skipped, from 1 */
	int eof;                 /* read(2) said end of input */
	int skipping;            /* inside a too-long line, up to its separator */
};

/*
 * Read lines ending in sep from fd (not closed by dcf_lines_free), none
 * longer than max bytes. 0, or -1 with errno EINVAL (max 0 or above
 * DCF_LINES_MAX, sep not a byte) or ENOMEM.
 */
int dcf_lines_init(struct dcf_lines *r, int fd, size_t max, int sep);

/*
 * The next line, without its separator, in *line and *len; valid until the
 * next call. Returns
 *   1   a line (the last one may end at end of input instead of at sep;
 *       an empty line is a line);
 *   0   end of input;
 *  -1   errno EAGAIN: no whole line yet and fd has nothing now: poll it
 *       for POLLIN and call again (nothing is lost);
 *  -1   errno E2BIG: line number r->lineno was longer than max: it is
 *       skipped, *line is NULL and *len its length; call again for the
 *       next line;
 *  -1   any other errno: read(2) failed, or ENOMEM growing the buffer
 *       (the reader stays usable: call again once memory is freed).
 * EINTR is retried here.
 */
int dcf_lines_next(struct dcf_lines *r, const char **line, size_t *len);

void dcf_lines_free(struct dcf_lines *r);

#endif
