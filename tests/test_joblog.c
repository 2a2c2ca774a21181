/*
 * test_joblog.c - the --joblog format and --resume: the header and lines
 * byte for byte as GNU parallel writes its columns, every outcome and
 * every kind of command byte round-tripped through the parser, a joblog
 * GNU parallel wrote read back, the resume multiset (all or failed,
 * duplicates, reordered and appended input), a torn last line, a file that
 * is not a joblog, a million commands loaded, and, when GNU parallel is
 * installed, parallel resuming from a joblog dcf wrote.
 */
#include <fcntl.h>
#include <ftw.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "testutil.h"
#include "dcf/joblog.h"

#define HDR9 "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand"
#define HDR  HDR9 "\tAttempts\tNetwork\tNode\tCPUTime\tMaxRSS\n"
#define MS   1000000ULL

struct fix {
	char dir[64]; /* a mkdtemp directory, removed with all it holds */
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	tu_setup(state);
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/dcf-joblog-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int
teardown(void **state)
{
	struct fix *f = *state;
	int r = tu_teardown(state);

	if (f != NULL) {
		if (nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == -1)
			r = -1;
		free(f);
	}
	return r;
}

/* ---- helpers --------------------------------------------------------- */

/* A record's line, allocated to the size the formatter asks for. */
static char *
line_of(const struct dcf_joblog_rec *r, size_t *len)
{
	size_t need = dcf_joblog_line(NULL, 0, r);
	char *buf = malloc(need + 1);

	assert_non_null(buf);
	assert_int_equal(dcf_joblog_line(buf, need + 1, r), need);
	assert_int_equal(buf[need], '\0');
	*len = need;
	return buf;
}

static struct dcf_joblog_rec
rec(uint64_t seq, int exitval, int signal, const char *cmd)
{
	struct dcf_joblog_rec r = {
	    .seq = seq,
	    .start_wall_ns = 1795978847110000000ULL + seq * 17 * MS,
	    .run_ns = seq * 1234567ULL,
	    .exitval = exitval,
	    .signal = signal,
	    .cmd = cmd,
	    .cmd_len = strlen(cmd),
	    .attempts = 1,
	    .network = (uint32_t)seq % 3,
	    .node = (uint32_t)seq % 7,
	    .cpu_us = seq * 1001,
	    .maxrss_kb = 2048 + seq,
	};

	return r;
}

/* A file of text in memory: nothing to remove afterwards. */
static int
memfile(const void *p, size_t len)
{
	int fd = memfd_create("joblog", MFD_CLOEXEC);
	const char *s = p;

	assert_true(fd != -1);
	while (len > 0) {
		ssize_t n = write(fd, s, len);

		assert_true(n > 0);
		s += n;
		len -= (size_t)n;
	}
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* Load text as a joblog; the load's return, err filled in. */
static int
load(struct dcf_resume *rs, const char *text, size_t len, int mode, char *err, size_t errlen)
{
	int fd = memfile(text, len), r;

	err[0] = '\0';
	r = dcf_resume_load(rs, fd, "jl", mode, err, errlen);
	close(fd);
	return r;
}

#define take(rs, s) dcf_resume_take((rs), (s), strlen(s))

/* Append a record's line to a growing text. */
struct text {
	char *p;
	size_t len, cap;
};

/* Room for n more bytes and a NUL. */
static void
text_reserve(struct text *t, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->p = realloc(t->p, t->cap);
		assert_non_null(t->p);
	}
}

static void
text_add(struct text *t, const char *s, size_t n)
{
	text_reserve(t, n);
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

/* Formatted in place: when the room left is too small, grow and format again. */
static void
text_rec(struct text *t, const struct dcf_joblog_rec *r)
{
	size_t need;

	text_reserve(t, 0);
	need = dcf_joblog_line(t->p + t->len, t->cap - t->len, r);
	if (need >= t->cap - t->len) {
		text_reserve(t, need);
		assert_int_equal(dcf_joblog_line(t->p + t->len, t->cap - t->len, r), need);
	}
	t->len += need;
}

static void
text_header(struct text *t)
{
	char h[256];
	size_t n = dcf_joblog_header(h, sizeof(h));

	text_add(t, h, n);
}

/* The entry of a single line (copied: the parser works in place). */
static int
parse(const char *line, struct dcf_joblog_entry *e, char **copy)
{
	size_t n = strlen(line);

	*copy = malloc(n + 1);
	assert_non_null(*copy);
	memcpy(*copy, line, n + 1);
	return dcf_joblog_parse_line(*copy, n, e);
}

static uint64_t
proc_kb(const char *field)
{
	char line[256];
	uint64_t kb = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, strlen(field)) == 0)
			kb = strtoull(line + strlen(field), NULL, 10);
	}
	fclose(f);
	return kb;
}

/* ---- the format ------------------------------------------------------ */

static void
test_header_exact(void **state)
{
	char buf[256], *copy;
	struct dcf_joblog_entry e;
	size_t need;

	(void)state;
	need = dcf_joblog_header(buf, sizeof(buf));
	assert_int_equal(need, strlen(HDR));
	assert_string_equal(buf, HDR);
	/* Its first nine columns are GNU parallel's header exactly. */
	assert_memory_equal(buf, HDR9 "\t", strlen(HDR9) + 1);
	assert_int_equal(dcf_joblog_header(NULL, 0), need);
	/* Both headers are recognised and skipped; a near miss is not a header. */
	assert_int_equal(parse(HDR, &e, &copy), DCF_JOBLOG_HEADER);
	free(copy);
	assert_int_equal(parse(HDR9 "\n", &e, &copy), DCF_JOBLOG_HEADER);
	free(copy);
	assert_int_equal(parse(HDR9 "s\n", &e, &copy), -1);
	free(copy);
}

/* The line GNU parallel 20221122 wrote here for `exit 3`, and ours for the same job. */
static void
test_line_exact(void **state)
{
	struct dcf_joblog_rec r = {
	    .seq = 2,
	    .start_wall_ns = 1795978847109500000ULL, /* .1095 s rounds up, as "%.3f" does */
	    .run_ns = 22999999,                      /* 0.022999 s is cut: GNU's int(x*1000)/1000 */
	    .exitval = 3,
	    .cmd = "exit 3",
	    .cmd_len = 6,
	    .attempts = 1,
	    .node = 3,
	    .cpu_us = 12999,
	    .maxrss_kb = 2048,
	};
	char buf[256];
	size_t n;

	(void)state;
	n = dcf_joblog_line(buf, sizeof(buf), &r);
	assert_string_equal(buf,
	    "2\t:\t1795978847.110\t     0.022\t0\t0\t3\t0\texit 3"
	    "\t1\t0\t3\t0.012\t2048\n");
	assert_int_equal(n, strlen(buf));
	/* JobRuntime is "%10.3f": padded to 10, longer when it must be. */
	r.run_ns = 12345678ULL * DCF_NSEC + 900 * MS;
	r.start_wall_ns = 1795978847091499999ULL; /* rounds down */
	r.recv_bytes = 3;
	dcf_joblog_line(buf, sizeof(buf), &r);
	assert_string_equal(buf,
	    "2\t:\t1795978847.091\t12345678.900\t0\t3\t3\t0\texit 3"
	    "\t1\t0\t3\t0.012\t2048\n");
	r.run_ns = 0;
	r.start_wall_ns = 0;
	dcf_joblog_line(buf, sizeof(buf), &r);
	assert_string_equal(buf,
	    "2\t:\t0.000\t     0.000\t0\t3\t3\t0\texit 3\t1\t0\t3\t0.012\t2048\n");
}

/* Like snprintf: the length whatever the room, nothing written past it. */
static void
test_line_room(void **state)
{
	struct dcf_joblog_rec r = rec(7, 0, 0, "printf 'a\\tb\\n' | tr a b");
	char full[256], buf[256];
	size_t need = dcf_joblog_line(full, sizeof(full), &r);

	(void)state;
	assert_true(need < sizeof(full) - 2);
	for (size_t len = 0; len <= need + 1; len++) {
		memset(buf, 0x5a, sizeof(buf));
		assert_int_equal(dcf_joblog_line(buf, len, &r), need);
		for (size_t i = len; i < sizeof(buf); i++)
			assert_int_equal((unsigned char)buf[i], 0x5a);
		if (len > need)
			assert_string_equal(buf, full);
		else
			assert_memory_equal(buf, full, len);
	}
	for (size_t len = 0; len <= strlen(HDR) + 1; len++) {
		memset(buf, 0x5a, sizeof(buf));
		assert_int_equal(dcf_joblog_header(buf, len), strlen(HDR));
		for (size_t i = len; i < sizeof(buf); i++)
			assert_int_equal((unsigned char)buf[i], 0x5a);
	}
}

static void
assert_roundtrip(const struct dcf_joblog_rec *r)
{
	struct dcf_joblog_entry e;
	size_t n, tabs = 0;
	char *l = line_of(r, &n);

	/* Exactly dcf's 14 columns, one line, whatever the command holds. */
	for (size_t i = 0; i < n; i++)
		tabs += l[i] == '\t';
	assert_int_equal(tabs, 13);
	assert_ptr_equal(memchr(l, '\n', n), l + n - 1);
	assert_int_equal(dcf_joblog_parse_line(l, n, &e), DCF_JOBLOG_ENTRY);
	assert_int_equal(e.dcf, 1);
	assert_int_equal(e.seq, r->seq);
	assert_int_equal(e.start_wall_ns, (r->start_wall_ns + MS / 2) / MS * MS);
	assert_int_equal(e.run_ns, r->run_ns / MS * MS);
	assert_int_equal(e.exitval, r->exitval);
	assert_int_equal(e.signal, r->signal);
	assert_int_equal(e.send_bytes, r->send_bytes);
	assert_int_equal(e.recv_bytes, r->recv_bytes);
	assert_int_equal(e.cmd_len, r->cmd_len);
	assert_memory_equal(e.cmd, r->cmd, r->cmd_len);
	assert_int_equal(e.attempts, r->attempts);
	assert_int_equal(e.network, r->network);
	assert_int_equal(e.node, r->node);
	assert_int_equal(e.cpu_us, r->cpu_us / 1000 * 1000);
	assert_int_equal(e.maxrss_kb, r->maxrss_kb);
	free(l);
}

/* Succeeded, failed, killed by a signal, timed out: as GNU parallel records each. */
static void
test_outcomes_roundtrip(void **state)
{
	static const struct {
		int exitval, signal;
	} outcome[] = {{0, 0}, {3, 0}, {0, SIGKILL}, {-1, SIGTERM}, {-1, SIGKILL}, {255, 0}};
	struct dcf_joblog_rec r;

	(void)state;
	for (size_t i = 0; i < sizeof(outcome) / sizeof(outcome[0]); i++) {
		r = rec(i + 1, outcome[i].exitval, outcome[i].signal, "sleep 0.1; exit 3");
		r.attempts = (uint32_t)i + 1;
		r.send_bytes = i;
		r.recv_bytes = 1000 * i;
		assert_roundtrip(&r);
	}
	/* The largest values each column holds. */
	r = rec(UINT64_MAX, INT_MIN, INT_MAX, "x");
	r.attempts = r.network = r.node = UINT32_MAX;
	r.maxrss_kb = r.send_bytes = r.recv_bytes = UINT64_MAX;
	r.run_ns = r.start_wall_ns = UINT64_MAX / DCF_NSEC * DCF_NSEC - DCF_NSEC;
	r.cpu_us = UINT64_MAX / 1000;
	assert_roundtrip(&r);
}

static void
test_command_bytes_roundtrip(void **state)
{
	static const char *const cmds[] = {
	    "",
	    "echo 'a\tb'",
	    "printf '%s\\n' \"x\"",
	    "line one\nline two\r\n",
	    "\\",
	    "ends in a backslash \\",
	    "\\t is not a tab, \\\\ is two",
	    "\t\t\t\t\t1\t2\t3\t4.000\t5",
	    "\"double\" 'single' `back` $(sub) ; | & < >",
	    "\xff\xfe not UTF-8 \xc3\x28 \xed\xa0\x80 \x80",
	};
	struct dcf_joblog_rec r;
	char all[256 * 3];

	(void)state;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		r = rec(i + 1, 0, 0, cmds[i]);
		assert_roundtrip(&r);
	}
	/* Every byte value, NUL included, three times over. */
	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (char)(i % 256);
	r = rec(42, 1, 0, "");
	r.cmd = all;
	r.cmd_len = sizeof(all);
	assert_roundtrip(&r);
}

/*
 * Seeded random commands round-trip; mutated lines (bytes flipped, tabs,
 * backslashes and NULs dropped in) never read outside the line, and what
 * they parse to lies inside it.
 */
static void
test_random_lines(void **state)
{
	static const char special[] = "\t\n\r\\\0 9.-";
	int rounds = tu_valgrind() ? 2000 : 20000;
	struct dcf_joblog_entry e;
	struct dcf_joblog_rec r;
	struct dcf_rng rng;
	char cmd[200], *l;
	size_t n;

	(void)state;
	dcf_rng_seed(&rng, 11);
	for (int round = 0; round < rounds; round++) {
		size_t len = (size_t)dcf_rng_range(&rng, 0, sizeof(cmd));
		int flips = (int)dcf_rng_range(&rng, 1, 4);

		for (size_t i = 0; i < len; i++) {
			cmd[i] = dcf_rng_range(&rng, 0, 3) == 0
			    ? special[dcf_rng_range(&rng, 0, sizeof(special) - 2)]
			    : (char)dcf_rng_range(&rng, 0, 255);
		}
		r = rec(dcf_rng_range(&rng, 0, 1u << 20), (int)dcf_rng_range(&rng, 0, 300) - 2,
		    (int)dcf_rng_range(&rng, 0, 64), "");
		r.cmd = cmd;
		r.cmd_len = len;
		assert_roundtrip(&r);
		/* Now spoil a copy of the line and parse it exactly as long as it is. */
		l = line_of(&r, &n);
		for (int f = 0; f < flips; f++) {
			size_t at = (size_t)dcf_rng_range(&rng, 0, n - 1);

			l[at] = dcf_rng_range(&rng, 0, 1) ? special[dcf_rng_range(&rng, 0, 4)]
			                                  : (char)dcf_rng_range(&rng, 0, 255);
		}
		{
			char *copy = malloc(n);
			int k;

			assert_non_null(copy);
			memcpy(copy, l, n);
			k = dcf_joblog_parse_line(copy, n, &e);
			assert_true(k == -1 || k == DCF_JOBLOG_HEADER || k == DCF_JOBLOG_ENTRY);
			if (k == -1)
				assert_non_null(e.why);
			if (k == DCF_JOBLOG_ENTRY)
				assert_true(e.cmd >= copy && e.cmd + e.cmd_len <= copy + n);
			free(copy);
		}
		free(l);
	}
}

/* ---- GNU parallel's own joblogs -------------------------------------- */

/*
 * Written by hand in the format of GNU parallel 20221122's `sub
 * print_joblog` (Debian 12's `parallel`, /usr/bin/parallel): Seq, Host ":"
 * for a local job, Starttime "%.3f", JobRuntime "%10.3f", Send, Receive
 * (bytes of output), Exitval, Signal, then the command raw, a newline in
 * it written as NUL (`$cmd =~ s/\n/\0/g`). The first five lines are what it
 * wrote here for `true`, `exit 3`, `kill -9 $$`, `sleep 5` under --timeout
 * 1 (killed: Exitval -1, Signal 15) and `printf "a\tb"`.
 */
static const char gnu_log[] =
    HDR9 "\n"
         "1\t:\t1795978847.092\t     0.000\t0\t0\t0\t0\ttrue\n"
         "2\t:\t1795978847.110\t     0.022\t0\t0\t3\t0\texit 3\n"
         "3\t:\t1795978847.131\t     0.023\t0\t0\t0\t9\tkill -9 $$\n"
         "5\t:\t1795978847.178\t     0.008\t0\t3\t0\t0\tprintf \"a\\tb\"\n"
         "4\t:\t1795978847.153\t     1.936\t0\t0\t-1\t15\tsleep 5\n"
         "6\t:\t1795978848.200\t     0.004\t0\t2\t0\t0\techo a\tb\n"
         "7\t:\t1795978848.201\t     0.004\t0\t4\t0\t0\techo \"x\0y\"\n"
         "8\t4/me@host\t1795978848.202\t    10.004\t12\t4\t1\t0\t"
         "c\t1\t2\t3\t4.5\t6\n";

static const struct {
	uint64_t seq;
	int exitval, signal;
	const char *cmd;
	uint64_t run_ms;
} gnu_want[] = {
    {1, 0, 0, "true", 0},
    {2, 3, 0, "exit 3", 22},
    {3, 0, 9, "kill -9 $$", 23},
    {5, 0, 0, "printf \"a\\tb\"", 8},
    {4, -1, 15, "sleep 5", 1936},
    {6, 0, 0, "echo a\tb", 4},
    {7, 0, 0, "echo \"x\ny\"", 4},
    /* Five tabs and numbers after them, but 4.5 is not dcf's CPUTime: GNU's raw command. */
    {8, 1, 0, "c\t1\t2\t3\t4.5\t6", 10004},
};

/* A GNU parallel line, read and written again: its nine columns come out the same. */
static void
assert_gnu_line(const char *line, size_t len, size_t want)
{
	char *copy = malloc(len + 1), out[512];
	struct dcf_joblog_entry e;
	struct dcf_joblog_rec r;
	size_t n;

	assert_non_null(copy);
	memcpy(copy, line, len);
	assert_int_equal(dcf_joblog_parse_line(copy, len, &e), DCF_JOBLOG_ENTRY);
	assert_int_equal(e.dcf, 0);
	if (want < sizeof(gnu_want) / sizeof(gnu_want[0])) {
		assert_int_equal(e.seq, gnu_want[want].seq);
		assert_int_equal(e.exitval, gnu_want[want].exitval);
		assert_int_equal(e.signal, gnu_want[want].signal);
		assert_int_equal(e.run_ns, gnu_want[want].run_ms * MS);
		assert_int_equal(e.cmd_len, strlen(gnu_want[want].cmd));
		assert_memory_equal(e.cmd, gnu_want[want].cmd, e.cmd_len);
	}
	if (memchr(line, '\0', len) != NULL || memchr(line, '/', len) != NULL)
		goto out; /* NUL and a remote Host: nothing of ours writes them */
	memset(&r, 0, sizeof(r));
	r.seq = e.seq;
	r.start_wall_ns = e.start_wall_ns;
	r.run_ns = e.run_ns;
	r.send_bytes = e.send_bytes;
	r.recv_bytes = e.recv_bytes;
	r.exitval = e.exitval;
	r.signal = e.signal;
	r.cmd = "";
	n = dcf_joblog_line(out, sizeof(out), &r);
	assert_true(n < sizeof(out));
	/* Everything up to Command, byte for byte. */
	assert_memory_equal(out, line, (size_t)(e.cmd - copy));
out:
	free(copy);
}

static void
test_gnu_joblog_parses(void **state)
{
	const char *p = gnu_log, *end = gnu_log + sizeof(gnu_log) - 1;
	struct dcf_joblog_entry e;
	struct dcf_resume rs;
	char err[256], *copy;
	size_t i = 0;

	(void)state;
	assert_int_equal(parse(HDR9, &e, &copy), DCF_JOBLOG_HEADER);
	free(copy);
	for (p = strchr(p, '\n') + 1; p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		assert_non_null(nl);
		assert_gnu_line(p, (size_t)(nl - p), i);
		p = nl + 1;
	}
	assert_int_equal(i, sizeof(gnu_want) / sizeof(gnu_want[0]));
	/* And as a file: --resume-failed reruns the failures, --resume none. */
	assert_int_equal(load(&rs, gnu_log, sizeof(gnu_log) - 1, DCF_RESUME_FAILED, err,
	                     sizeof(err)),
	    0);
	assert_int_equal(rs.succeeded, 4);
	assert_int_equal(rs.failed, 4);
	assert_int_equal(rs.malformed, 0);
	assert_int_equal(take(&rs, "true"), 1);
	assert_int_equal(take(&rs, "exit 3"), 0);
	assert_int_equal(take(&rs, "sleep 5"), 0);
	assert_int_equal(take(&rs, "echo \"x\ny\""), 1);
	assert_int_equal(take(&rs, "echo a\tb"), 1);
	dcf_resume_free(&rs);
	assert_int_equal(load(&rs, gnu_log, sizeof(gnu_log) - 1, DCF_RESUME_ALL, err, sizeof(err)),
	    0);
	for (i = 0; i < sizeof(gnu_want) / sizeof(gnu_want[0]); i++) {
		assert_int_equal(take(&rs, gnu_want[i].cmd), 1);
		assert_int_equal(take(&rs, gnu_want[i].cmd), 0);
	}
	dcf_resume_free(&rs);
}

static void
test_malformed_lines(void **state)
{
	static const char *const bad[] = {
	    "",
	    "\n",
	    "hello world",
	    "1\t:\t1.000\t     0.000\t0\t0\t0\t0",    /* no Command column */
	    "x\t:\t1.000\t     0.000\t0\t0\t0\t0\tc", /* Seq */
	    "-1\t:\t1.000\t     0.000\t0\t0\t0\t0\tc",
	    "18446744073709551616\t:\t1.000\t 0.000\t0\t0\t0\t0\tc",
	    "1\t\t1.000\t     0.000\t0\t0\t0\t0\tc", /* Host */
	    "1\t:\t1.\t     0.000\t0\t0\t0\t0\tc",   /* Starttime */
	    "1\t:\t.5\t     0.000\t0\t0\t0\t0\tc",
	    "1\t:\t1.000\t      \t0\t0\t0\t0\tc", /* JobRuntime */
	    "1\t:\t1.000\t0.0x0\t0\t0\t0\t0\tc",
	    "1\t:\t1.000\t0.000\t-3\t0\t0\t0\tc", /* Send */
	    "1\t:\t1.000\t0.000\t0\t0\tabc\t0\tc",
	    "1\t:\t1.000\t0.000\t0\t0\t2147483648\t0\tc", /* Exitval past int */
	    "1\t:\t1.000\t0.000\t0\t0\t0\t\tc",           /* Signal */
	    "1 : 1.000 0.000 0 0 0 0 c",
	};
	struct dcf_joblog_entry e;
	char *copy;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		e.why = NULL;
		if (parse(bad[i], &e, &copy) != -1)
			fail_msg("line %zu parsed: \"%s\"", i, bad[i]);
		assert_int_equal(errno, EINVAL);
		assert_non_null(e.why);
		free(copy);
	}
	/* The edges that are fine: INT_MIN, a negative runtime (a clock stepped back). */
	assert_int_equal(parse("1\t:\t1.5\t-0.250\t0\t0\t-2147483648\t0\tc", &e, &copy),
	    DCF_JOBLOG_ENTRY);
	assert_int_equal(e.exitval, INT_MIN);
	assert_int_equal(e.run_ns, 0);
	assert_int_equal(e.start_wall_ns, 1500 * MS);
	free(copy);
	/* A dcf tail with a bad escape is not dcf's: the line is GNU's, raw. */
	assert_int_equal(parse("1\t:\t1.000\t0.000\t0\t0\t0\t0\ta\\q\t1\t0\t0\t0.000\t0", &e,
	                     &copy),
	    DCF_JOBLOG_ENTRY);
	assert_int_equal(e.dcf, 0);
	assert_int_equal(e.cmd_len, strlen("a\\q\t1\t0\t0\t0.000\t0"));
	free(copy);
}

/* ---- the resume set -------------------------------------------------- */

/*
 * A run's joblog: A succeeded, B failed, C succeeded twice, D timed out,
 * E was killed, G failed and then succeeded.
 */
static void
resume_log(struct text *t)
{
	struct dcf_joblog_rec r[] = {
	    rec(1, 0, 0, "A"),
	    rec(2, 1, 0, "B"),
	    rec(3, 0, 0, "C"),
	    rec(4, 0, 0, "C"),
	    rec(5, -1, SIGTERM, "D"),
	    rec(6, 0, SIGKILL, "E"),
	    rec(7, 2, 0, "G"),
	    rec(8, 0, 0, "G"),
	};

	text_header(t);
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		text_rec(t, &r[i]);
}

static void
test_resume_all(void **state)
{
	/* The input reordered, C three times, F appended after the run. */
	static const char *const input[] = {"E", "D", "C", "B", "A", "C", "C", "F", "G", "G", "G"};
	static const int skip[] = {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0};
	struct text t = {0};
	struct dcf_resume rs;
	char err[256];

	(void)state;
	resume_log(&t);
	assert_int_equal(load(&rs, t.p, t.len, DCF_RESUME_ALL, err, sizeof(err)), 0);
	assert_int_equal(rs.lines, 9);
	assert_int_equal(rs.succeeded, 4);
	assert_int_equal(rs.failed, 4);
	assert_int_equal(rs.malformed, 0);
	assert_int_equal(rs.torn, 0);
	assert_int_equal(rs.whole_len, t.len);
	for (size_t i = 0; i < sizeof(input) / sizeof(input[0]); i++) {
		if (take(&rs, input[i]) != skip[i])
			fail_msg("input %zu (%s): expected %s", i, input[i],
			    skip[i] ? "skip" : "run");
	}
	dcf_resume_free(&rs);
	assert_int_equal(take(&rs, "A"), 0); /* freed: empty */
	free(t.p);
}

static void
test_resume_failed(void **state)
{
	static const char *const input[] = {"E", "D", "C", "B", "A", "C", "C", "F", "G", "G"};
	static const int skip[] = {0, 0, 1, 0, 1, 1, 0, 0, 1, 0};
	struct text t = {0};
	struct dcf_resume rs;
	char err[256];

	(void)state;
	resume_log(&t);
	assert_int_equal(load(&rs, t.p, t.len, DCF_RESUME_FAILED, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(input) / sizeof(input[0]); i++) {
		if (take(&rs, input[i]) != skip[i])
			fail_msg("input %zu (%s): expected %s", i, input[i],
			    skip[i] ? "skip" : "run");
	}
	dcf_resume_free(&rs);
	free(t.p);
}

/* Two joblogs one after the other (a header in the middle) read as one. */
static void
test_resume_concatenated(void **state)
{
	struct dcf_joblog_rec r1 = rec(1, 0, 0, "one"), r2 = rec(1, 0, 0, "two");
	struct text t = {0};
	struct dcf_resume rs;
	char err[256];

	(void)state;
	text_header(&t);
	text_rec(&t, &r1);
	text_header(&t);
	text_rec(&t, &r2);
	text_add(&t, gnu_log, sizeof(gnu_log) - 1);
	assert_int_equal(load(&rs, t.p, t.len, DCF_RESUME_ALL, err, sizeof(err)), 0);
	assert_int_equal(rs.malformed, 0);
	assert_int_equal(take(&rs, "one"), 1);
	assert_int_equal(take(&rs, "two"), 1);
	assert_int_equal(take(&rs, "kill -9 $$"), 1);
	dcf_resume_free(&rs);
	free(t.p);
}

/* A crash mid-write: the last line, without its newline, was never written. */
static void
test_resume_torn(void **state)
{
	struct dcf_joblog_rec a = rec(1, 0, 0, "first"), b = rec(2, 0, 0, "second");
	struct text t = {0};
	struct dcf_resume rs;
	char err[256];
	size_t whole, n;
	char *l;

	(void)state;
	text_header(&t);
	text_rec(&t, &a);
	whole = t.len;
	l = line_of(&b, &n);
	/* Cut anywhere, even just before its newline: not written. */
	for (size_t cut = 1; cut < n; cut++) {
		t.len = whole;
		text_add(&t, l, cut);
		assert_int_equal(load(&rs, t.p, t.len, DCF_RESUME_ALL, err, sizeof(err)), 0);
		assert_int_equal(rs.torn, 1);
		assert_int_equal(rs.whole_len, whole);
		assert_int_equal(rs.lines, 2);
		assert_int_equal(rs.malformed, 0);
		assert_int_equal(take(&rs, "first"), 1);
		assert_int_equal(take(&rs, "second"), 0);
		dcf_resume_free(&rs);
	}
	free(l);
	/* A torn first line: a header or an entry cut short is an empty joblog. */
	assert_int_equal(load(&rs, "Seq\tHost\tSt", 11, DCF_RESUME_ALL, err, sizeof(err)), 0);
	assert_int_equal(rs.torn, 1);
	assert_int_equal(rs.whole_len, 0);
	dcf_resume_free(&rs);
	assert_int_equal(load(&rs, "12\t:\t17", 7, DCF_RESUME_ALL, err, sizeof(err)), 0);
	dcf_resume_free(&rs);
	/* Anything else on a first line with no newline is not a joblog. */
	assert_int_equal(load(&rs, "hello", 5, DCF_RESUME_ALL, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "jl is not a joblog (line 1: "));
	free(t.p);
}

static void
test_not_a_joblog(void **state)
{
	static const char text[] = "#!/bin/sh\necho hello\n";
	static const char binary[] = "\x7f"
	                             "ELF\x02\x01\x01\0\0\0\t\t\n\n";
	struct dcf_resume rs;
	char err[256];

	(void)state;
	memset(&rs, 0xff, sizeof(rs));
	assert_int_equal(load(&rs, text, sizeof(text) - 1, DCF_RESUME_ALL, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	printf("      %s\n", err);
	assert_non_null(strstr(err, "jl is not a joblog (line 1: "));
	assert_non_null(strstr(err, "#!/bin/sh"));
	assert_int_equal(rs.cap, 0); /* left empty */
	assert_int_equal(take(&rs, "echo hello"), 0);
	assert_int_equal(load(&rs, binary, sizeof(binary) - 1, DCF_RESUME_FAILED, err, sizeof(err)),
	    -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "not a joblog"));
	assert_null(strchr(err, '\n')); /* the message is one line, whatever the file held */
	assert_int_equal(load(&rs, "\n", 1, DCF_RESUME_ALL, err, sizeof(err)), -1);
	/* An empty or missing joblog is an empty set. */
	assert_int_equal(load(&rs, "", 0, DCF_RESUME_ALL, err, sizeof(err)), 0);
	assert_int_equal(take(&rs, "x"), 0);
	dcf_resume_free(&rs);
	assert_int_equal(dcf_resume_load(&rs, -1, "jl", DCF_RESUME_FAILED, err, sizeof(err)), 0);
	assert_int_equal(take(&rs, "x"), 0);
	dcf_resume_free(&rs);
	/* A read error is reported as such. */
	assert_int_equal(dcf_resume_load(&rs, 1000, "jl", DCF_RESUME_ALL, err, sizeof(err)), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(dcf_resume_load(&rs, -1, "jl", 3, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
}

/* A malformed line after the first is skipped, counted and named, not fatal. */
static void
test_malformed_skipped(void **state)
{
	struct dcf_joblog_rec a = rec(1, 0, 0, "a"), b = rec(2, 0, 0, "b");
	struct text t = {0};
	struct dcf_resume rs;
	char err[256];
	size_t len = (17u << 20) + 5;
	char *huge = malloc(len);

	(void)state;
	assert_non_null(huge);
	text_header(&t);
	text_rec(&t, &a);
	text_add(&t, "garbage\n", 8);
	text_add(&t, "\n", 1);
	/* A line longer than any command: skipped without being held. */
	memset(huge, '7', len);
	huge[len - 1] = '\n';
	text_add(&t, huge, len);
	text_rec(&t, &b);
	assert_int_equal(load(&rs, t.p, t.len, DCF_RESUME_ALL, err, sizeof(err)), 0);
	assert_int_equal(rs.lines, 6);
	assert_int_equal(rs.malformed, 3);
	assert_int_equal(rs.bad_line, 3);
	assert_string_equal(rs.bad_why, "fewer than 9 tab-separated columns");
	assert_int_equal(rs.whole_len, t.len);
	assert_int_equal(take(&rs, "a"), 1);
	assert_int_equal(take(&rs, "b"), 1);
	dcf_resume_free(&rs);
	/* On the first line, the same is not a joblog. */
	assert_int_equal(load(&rs, huge, len, DCF_RESUME_ALL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than 16 MiB"));
	assert_int_equal(load(&rs, huge, len - 1, DCF_RESUME_ALL, err, sizeof(err)), -1);
	free(huge);
	free(t.p);
}

static void
test_hash(void **state)
{
	unsigned char buf[40];
	uint64_t h[2], g[2];

	(void)state;
	/* Length counts: "" and "\0" differ, and so do 7 and 8 zero bytes. */
	memset(buf, 0, sizeof(buf));
	dcf_joblog_hash(buf, 0, h);
	dcf_joblog_hash(buf, 1, g);
	assert_true(h[0] != g[0] && h[1] != g[1]);
	dcf_joblog_hash(buf, 7, h);
	dcf_joblog_hash(buf, 8, g);
	assert_true(h[0] != g[0] && h[1] != g[1]);
	/* Every single-bit change moves both halves, and about half their bits. */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 37 + 11);
	dcf_joblog_hash(buf, sizeof(buf), h);
	for (size_t bit = 0; bit < sizeof(buf) * 8; bit++) {
		int d0, d1;

		buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		dcf_joblog_hash(buf, sizeof(buf), g);
		buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		d0 = __builtin_popcountll(h[0] ^ g[0]);
		d1 = __builtin_popcountll(h[1] ^ g[1]);
		if (d0 < 12 || d0 > 52 || d1 < 12 || d1 > 52)
			fail_msg("bit %zu: %d and %d bits changed", bit, d0, d1);
	}
	/* The two halves are not one function of the other. */
	assert_true(h[0] != h[1]);
}

/* A million distinct commands: loaded, each taken once, none taken that was not there. */
static void
test_resume_million(void **state)
{
	/* Under valgrind a fifth as many: the same paths, two doublings fewer. */
	uint32_t n = tu_valgrind() ? 200000 : 1000000;
	struct text t = {0};
	struct dcf_resume rs;
	char err[256], cmd[64] = "";
	uint64_t rss0, rss1, t0, t1;
	int fd;

	(void)state;
	text_header(&t);
	for (uint32_t i = 0; i < n; i++) {
		struct dcf_joblog_rec r = rec(i + 1, (int)(i % 5 == 0), 0, cmd);

		r.cmd_len =
		    (size_t)snprintf(cmd, sizeof(cmd), "convert img%07u.png img%07u.jpg", i, i);
		text_rec(&t, &r);
	}
	fd = memfile(t.p, t.len);
	free(t.p);
	rss0 = proc_kb("VmRSS:");
	t0 = dcf_now_ns();
	assert_int_equal(dcf_resume_load(&rs, fd, "jl", DCF_RESUME_ALL, err, sizeof(err)), 0);
	t1 = dcf_now_ns();
	rss1 = proc_kb("VmRSS:");
	close(fd);
	printf("      %u commands loaded in %.0f ms; RSS +%.1f MiB (%.1f bytes a command, "
	       "table %zu slots); peak RSS %.1f MiB\n",
	    n, (double)(t1 - t0) / 1e6, (double)(rss1 - rss0) / 1024.0,
	    (double)(rss1 - rss0) * 1024.0 / n, rs.cap, (double)proc_kb("VmHWM:") / 1024.0);
	assert_int_equal(rs.used, n);
	assert_int_equal(rs.succeeded + rs.failed, n);
	for (uint32_t i = 0; i < n; i++) {
		snprintf(cmd, sizeof(cmd), "convert img%07u.png img%07u.jpg", i, i);
		assert_int_equal(take(&rs, cmd), 1);
		assert_int_equal(take(&rs, cmd), 0);
		/* Near misses were never in it. */
		snprintf(cmd, sizeof(cmd), "convert img%07u.png img%07u.jpg", i, i + 1);
		assert_int_equal(take(&rs, cmd), 0);
	}
	dcf_resume_free(&rs);
}

/* ---- GNU parallel itself --------------------------------------------- */

static int
have_parallel(void)
{
	return system("command -v parallel >/dev/null 2>&1") == 0;
}

static void
write_file(const char *path, const char *s, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd != -1);
	assert_int_equal(write(fd, s, len), (ssize_t)len);
	close(fd);
}

static char *
read_file(const char *path, size_t *len)
{
	struct text t = {0};
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd != -1);
	text_add(&t, "", 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		text_add(&t, buf, (size_t)n);
	close(fd);
	if (len != NULL)
		*len = t.len;
	return t.p;
}

/*
 * Run GNU parallel with args in dir (its HOME and TMPDIR too, so it leaves
 * nothing elsewhere), stdout to dir/out; waits for it, bounded, on SIGCHLD.
 * Its exit status must be want: the number of jobs that failed.
 */
static void
run_parallel(const char *dir, const char *const *args, int want)
{
	char out[128], errp[128];
	struct timespec left;
	sigset_t chld, old;
	uint64_t deadline;
	siginfo_t si;
	pid_t pid;
	int st;

	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(errp, sizeof(errp), "%s/err", dir);
	/* Blocked, a SIGCHLD stays pending until sigtimedwait takes it: none is missed. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	pid = tu_fork();
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (o == -1 || e == -1 || dup2(o, 1) == -1 || dup2(e, 2) == -1 ||
		    setenv("HOME", dir, 1) == -1 || setenv("TMPDIR", dir, 1) == -1)
			_exit(TU_EX_FAIL);
		execvp("parallel", (char *const *)(uintptr_t)args);
		_exit(127);
	}
	deadline = tu_deadline(60000);
	for (;;) {
		memset(&si, 0, sizeof(si));
		assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT), 0);
		if (si.si_pid == pid)
			break;
		if (!tu_time_left(deadline, &left)) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			fail_msg("parallel did not end within 60 s"); /* teardown kills it */
		}
		sigtimedwait(&chld, NULL, &left);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	st = tu_waitpid(pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != want) {
		char *e = read_file(errp, NULL);

		fail_msg("parallel: %s: %s", tu_status_str(st), e);
	}
}

/*
 * A joblog dcf wrote, for jobs 1, 2, 4 and 5 of six (1 succeeded, 2 failed,
 * 4 was killed, 5 timed out): parallel --resume runs only 3 and 6, and
 * --resume-failed reruns all but 1. What parallel appends is read back.
 */
static void
test_parallel_resumes_our_joblog(void **state)
{
	struct fix *f = *state;
	static const struct {
		uint64_t seq;
		int exitval, signal;
	} ran[] = {{1, 0, 0}, {2, 3, 0}, {4, 0, SIGKILL}, {5, -1, SIGTERM}};
	char jl[128], outp[128], cmd[64] = "", err[256], *out;
	struct text t = {0};
	struct dcf_resume rs;
	int fd;
	const char *args[] = {"parallel", "--will-cite", "-j1", "-k", "--resume", "--joblog", jl,
	    "echo", "ran", "{#}", "{}", ":::", "in1", "in2", "in3", "in4", "in5", "in6", NULL};

	if (!have_parallel()) {
		printf("      GNU parallel is not installed: skipped\n");
		skip();
	}
	text_header(&t);
	for (size_t i = 0; i < sizeof(ran) / sizeof(ran[0]); i++) {
		struct dcf_joblog_rec r = rec(ran[i].seq, ran[i].exitval, ran[i].signal, cmd);

		r.cmd_len = (size_t)snprintf(cmd, sizeof(cmd), "echo ran %llu in%llu",
		    (unsigned long long)r.seq, (unsigned long long)r.seq);
		/* A command with every escape in it, so parallel sees dcf's columns at their worst. */
		if (r.seq == 4)
			r.cmd_len = (size_t)snprintf(cmd, sizeof(cmd), "echo ran 4 in4 '\t\\\n'");
		text_rec(&t, &r);
	}
	snprintf(jl, sizeof(jl), "%s/jl", f->dir);
	snprintf(outp, sizeof(outp), "%s/out", f->dir);
	write_file(jl, t.p, t.len);
	run_parallel(f->dir, args, 0);
	out = read_file(outp, NULL);
	assert_string_equal(out, "ran 3 in3\nran 6 in6\n");
	free(out);

	/* What parallel appended to our joblog reads back with ours. */
	fd = open(jl, O_RDONLY | O_CLOEXEC);
	assert_true(fd != -1);
	assert_int_equal(dcf_resume_load(&rs, fd, jl, DCF_RESUME_ALL, err, sizeof(err)), 0);
	close(fd);
	assert_int_equal(rs.malformed, 0);
	assert_int_equal(rs.succeeded + rs.failed, 6);
	assert_int_equal(take(&rs, "echo ran 3 in3"), 1);
	assert_int_equal(take(&rs, "echo ran 6 in6"), 1);
	assert_int_equal(take(&rs, "echo ran 2 in2"), 1);
	assert_int_equal(take(&rs, "echo ran 4 in4 '\t\\\n'"), 1);
	dcf_resume_free(&rs);

	/* --resume-failed on the joblog as dcf wrote it: it read our Exitval and Signal. */
	write_file(jl, t.p, t.len);
	args[4] = "--resume-failed";
	run_parallel(f->dir, args, 0);
	out = read_file(outp, NULL);
	assert_string_equal(out, "ran 2 in2\nran 3 in3\nran 4 in4\nran 5 in5\nran 6 in6\n");
	free(out);
	free(t.p);
}

/* A joblog GNU parallel writes now, on this machine: every line reads, and its columns match ours. */
static void
test_parallel_writes_joblog(void **state)
{
	struct fix *f = *state;
	char jl[128], *log, *p, *nl;
	const char *args[] = {"parallel", "--will-cite", "-j4", "--joblog", jl, ":::", "true",
	    "exit 3", "kill -9 $$", "printf 'x\\ty'", NULL};
	/* A newline in the command: GNU parallel writes it into the joblog as NUL. */
	const char *args2[] = {"parallel", "--will-cite", "--joblog", jl, "echo {}\necho end",
	    ":::", "x", NULL};
	struct dcf_joblog_entry e;
	size_t len, i = 0;

	(void)state;
	if (!have_parallel()) {
		printf("      GNU parallel is not installed: skipped\n");
		skip();
	}
	snprintf(jl, sizeof(jl), "%s/gnu.jl", f->dir);
	run_parallel(f->dir, args, 2);
	log = read_file(jl, NULL);
	assert_memory_equal(log, HDR9 "\n", strlen(HDR9) + 1);
	for (p = strchr(log, '\n') + 1; *p != '\0'; i++) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		assert_gnu_line(p, (size_t)(nl - p), SIZE_MAX);
		assert_int_equal(dcf_joblog_parse_line(p, (size_t)(nl - p), &e), DCF_JOBLOG_ENTRY);
		if (e.seq == 2)
			assert_true(e.exitval == 3 && e.signal == 0);
		if (e.seq == 3)
			assert_true(e.exitval == 0 && e.signal == SIGKILL);
		if (e.seq == 4) {
			assert_int_equal(e.cmd_len, strlen("printf 'x\\ty'"));
			assert_memory_equal(e.cmd, "printf 'x\\ty'", e.cmd_len);
		}
		p = nl + 1;
	}
	assert_int_equal(i, 4);
	free(log);

	run_parallel(f->dir, args2, 0);
	log = read_file(jl, &len);
	p = strchr(log, '\n') + 1;
	nl = memchr(p, '\n', len - (size_t)(p - log));
	assert_non_null(nl);
	assert_non_null(memchr(p, '\0', (size_t)(nl - p))); /* the NUL where the newline was */
	assert_int_equal(dcf_joblog_parse_line(p, (size_t)(nl - p), &e), DCF_JOBLOG_ENTRY);
	assert_int_equal(e.cmd_len, strlen("echo x\necho end"));
	assert_memory_equal(e.cmd, "echo x\necho end", e.cmd_len);
	free(log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_header_exact, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_line_exact, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_line_room, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_outcomes_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_bytes_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_random_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gnu_joblog_parses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume_failed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume_concatenated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume_torn, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_a_joblog, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_skipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hash, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume_million, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_parallel_resumes_our_joblog, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_parallel_writes_joblog, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
