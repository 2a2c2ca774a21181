/*
 * joblog.h - the --joblog file in GNU parallel's format, and the set of
 * commands --resume / --resume-failed skip.
 *
 * A line is GNU parallel's nine columns, tab-separated and in its order,
 * then dcf's own five:
 *
 *   Seq Host Starttime JobRuntime Send Receive Exitval Signal Command
 *       Attempts Network Node CPUTime MaxRSS
 *
 * GNU parallel's columns are written byte for byte as its print_joblog
 * writes them (checked against parallel 20221122): Host ":" for a local
 * job; Starttime epoch seconds "%.3f" (rounded to the ms); JobRuntime
 * "%10.3f" of the run time cut (not rounded) to the ms; Exitval and Signal
 * as it records them: a normal exit is (status, 0), a death by signal S is
 * (0, S), a job it killed for --timeout is (-1, S). dcf's CPUTime is user
 * plus system seconds with 3 decimals (cut to the ms); MaxRSS is in kB.
 *
 * Command is escaped, because dcf's columns follow it: a backslash, tab,
 * newline, carriage return and NUL are written as \\, \t, \n, \r and \0,
 * every other byte as it is. So a dcf line holds exactly 13 tabs. GNU
 * parallel's own lines hold its Command raw up to the end of the line (tabs
 * included, newlines written as NUL bytes): the parser reads both, line by
 * line, so a joblog either program appended to the other's still reads.
 * A line is taken as dcf's when, after the 8th tab, it holds exactly five
 * more tabs, the five fields after them are dcf's numbers and the Command
 * before them is validly escaped; any other line is taken as GNU parallel's.
 *
 * GNU parallel reads a dcf joblog for its --resume and --resume-failed
 * (they look at Seq, Exitval and Signal only). Its --retry-failed takes
 * everything after Signal as the command, dcf's columns included: it
 * would run them as extra words; use dcf's --resume-failed instead.
 *
 * Resume matches by the command line, not by Seq (GNU parallel's way, which
 * breaks when input is appended to or reordered): the joblog's commands are
 * a multiset, and each input whose command is in it skips one occurrence.
 * The command is the one that ran, its {} replaced: a command holding {#}
 * matches only at the same position, and a GNU parallel joblog matches
 * where parallel quoted the input as dcf does.
 *
 * Everything here is pure except dcf_resume_load, which reads the fd.
 */
#ifndef DCF_JOBLOG_H
#define DCF_JOBLOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What one finished task leaves in the joblog. */
struct dcf_joblog_rec {
	uint64_t seq;           /* the task's sequence number, from 1 ({#}) */
	uint64_t start_wall_ns; /* CLOCK_REALTIME */
	uint64_t run_ns;
	int exitval, signal; /* as GNU parallel records them (above) */
	const char *cmd;     /* raw bytes, any */
	size_t cmd_len;
	uint32_t attempts, network, node;
	uint64_t cpu_us, maxrss_kb;
	/*
	 * GNU parallel's Send and Receive: bytes sent to a remote host (0 for
	 * a local job) and bytes of the job's standard output. 0 when not
	 * counted.
	 */
	uint64_t send_bytes, recv_bytes;
};

/*
 * The header line, and one record's line, each ending in '\n'. Like
 * snprintf: the line's length is returned whatever len is; when it is
 * below len, buf holds the line and a NUL, else nothing is written past
 * buf[len - 1] and the caller retries with the length plus one. Pure.
 */
size_t dcf_joblog_header(char *buf, size_t len);
size_t dcf_joblog_line(char *buf, size_t len, const struct dcf_joblog_rec *r);

/* One line read back. */
struct dcf_joblog_entry {
	uint64_t seq;
	uint64_t start_wall_ns, run_ns; /* to the joblog's precision */
	uint64_t send_bytes, recv_bytes;
	int exitval, signal;
	/* The command unescaped, inside the line; not NUL-terminated. */
	char *cmd;
	size_t cmd_len;
	int dcf; /* 1: a dcf line, and the fields below are filled in */
	uint32_t attempts, network, node;
	uint64_t cpu_us, maxrss_kb;
	const char *why; /* after -1: what is wrong with the line */
};

#define DCF_JOBLOG_HEADER 0 /* a header line (GNU parallel's or dcf's): skip it */
#define DCF_JOBLOG_ENTRY  1 /* *e is filled in */

/*
 * Parse line[0..len) (one trailing '\n' allowed) in place: the command is
 * unescaped where it lies. DCF_JOBLOG_HEADER, DCF_JOBLOG_ENTRY, or -1 with
 * errno EINVAL and e->why when the line is malformed (the caller knows
 * its number and decides; a reader skips it). A dcf line's escape of NUL
 * or GNU parallel's NUL for a newline both come back as the raw byte.
 * Pure.
 */
int dcf_joblog_parse_line(char *line, size_t len, struct dcf_joblog_entry *e);

/* A command's key in the resume set: two independent 64-bit hashes. Pure. */
void dcf_joblog_hash(const void *p, size_t len, uint64_t h[2]);

#define DCF_RESUME_ALL    1 /* skip a command that ran to an end, whatever its exit */
#define DCF_RESUME_FAILED 2 /* skip only one that succeeded: Exitval 0 and Signal 0 */

/*
 * The commands to skip: a multiset of 128-bit keys (dcf_joblog_hash), each
 * with its count, in one open-addressed table of 20-byte slots kept at
 * most 3/4 full. A zeroed struct is an empty set. Each entry counts once: a
 * command that succeeded once and failed twice skips 3 inputs under
 * DCF_RESUME_ALL and 1 under DCF_RESUME_FAILED; a later entry never
 * cancels an earlier one.
 */
struct dcf_resume_slot;
struct dcf_resume {
	struct dcf_resume_slot *slots;
	size_t cap, used; /* cap: 0 or a power of two; used: distinct commands kept */
	int mode;
	/* What the load saw, for the supervisor's messages. */
	uint64_t lines;             /* whole lines read, the header included */
	uint64_t succeeded, failed; /* entries of each outcome */
	uint64_t malformed;         /* lines skipped */
	uint64_t bad_line;          /* the first malformed line's number (from 1), or 0 */
	char bad_why[96];           /* and what was wrong with it */
	int torn;                   /* the last line had no '\n' (a crash mid-write): ignored */
	off_t whole_len;            /* bytes read up to the end of the last whole line */
};

/*
 * Read the joblog on fd from where it is to its end (fd -1: there is none,
 * an empty set), keeping what mode skips. A malformed line is skipped and
 * counted, not fatal; a final line without '\n' is taken as never written
 * (torn), and whole_len says where to cut the file (ftruncate) before
 * appending to it, so that the next line does not join the torn one. name
 * is for messages. 0, or -1 with errno and a message in err: EINVAL "NAME
 * is not a joblog (line 1: ...)" when the first line is neither a header
 * nor an entry; ENOMEM; a read's errno. On -1 rs is empty.
 */
int dcf_resume_load(struct dcf_resume *rs, int fd, const char *name, int mode, char *err,
    size_t errlen);
/* 1: skip this command (one occurrence is counted off); 0: run it. */
int dcf_resume_take(struct dcf_resume *rs, const char *cmd, size_t len);
/* Free the table; rs is an empty set again. */
void dcf_resume_free(struct dcf_resume *rs);

#endif
