/*
 * test_cmd.c - the user's commands as tasks: templates and their
 * replacement strings in every position, lines with odd bytes reaching a
 * real program byte for byte, NUL and too-long lines refused with their
 * numbers, the payload's text read back by /bin/sh as the same argv, and the
 * line reader over a non-blocking pipe fed in odd chunks, past too-long
 * lines, and through ten million lines in the same memory as ten.
 */
#include <fcntl.h>

#include "testutil.h"
#include "dcf/cmd.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int
setup(void **state)
{
	return tu_setup(state);
}

/* A test's scratch directory, removed by teardown even when the test failed. */
static char scratch[64];

static void
scratch_remove(void)
{
	struct dirent *de;
	DIR *d;

	if (scratch[0] == '\0')
		return;
	if ((d = opendir(scratch)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(scratch);
	scratch[0] = '\0';
}

static int
teardown(void **state)
{
	int r = tu_teardown(state);

	scratch_remove();
	return r;
}

/* A template of a NULL-terminated list (the list must outlive it). */
static void
tmpl(struct dcf_cmd_tmpl *t, const char *const *argv)
{
	char err[DCF_ERRLEN];
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	if (dcf_cmd_tmpl_init(t, (char **)(uintptr_t)argv, argc, 0, err, sizeof(err)) == -1)
		fail_msg("dcf_cmd_tmpl_init: %s", err);
}

/*
 * Build the payload of (line, len, seq) and check it decodes to want (a
 * NULL-terminated list; items compared as C strings, so want[i] holds no
 * NUL), and that its size is exact: nothing more, nothing less.
 */
static void
expect_n(const struct dcf_cmd_tmpl *t, const char *line, size_t len, uint64_t seq,
    const char *const *want)
{
	char buf[4096], *argv[64];
	size_t size = 0, nwant = 0;
	ssize_t n;
	int argc;

	while (want[nwant] != NULL)
		size += strlen(want[nwant++]) + 1;
	n = dcf_cmd_build(t, line, len, seq, buf, sizeof(buf));
	if (n == -1)
		fail_msg("build of \"%.*s\": %s", (int)len, line, strerror(errno));
	assert_int_equal(n, size);
	argc = dcf_cmd_argv(buf, (size_t)n, argv, NELEM(argv));
	assert_int_equal(argc, nwant);
	for (size_t i = 0; i < nwant; i++)
		if (strcmp(argv[i], want[i]) != 0)
			fail_msg("line \"%.*s\": item %zu is \"%s\", want \"%s\"", (int)len, line,
			    i, argv[i], want[i]);
	assert_null(argv[argc]);
}

static void
expect(const struct dcf_cmd_tmpl *t, const char *line, uint64_t seq, const char *const *want)
{
	expect_n(t, line, strlen(line), seq, want);
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static void
test_tmpl_errors(void **state)
{
	struct dcf_cmd_tmpl t;
	char err[DCF_ERRLEN];
	char *argv[] = {(char *)"echo", (char *)"", NULL};
	char *empty[] = {(char *)"", NULL};

	(void)state;
	err[0] = '\0';
	errno = 0;
	assert_int_equal(dcf_cmd_tmpl_init(&t, argv, 0, 0, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "no command"));
	errno = 0;
	assert_int_equal(dcf_cmd_tmpl_init(&t, NULL, 1, 0, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(dcf_cmd_tmpl_init(&t, empty, 1, 0, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "empty"));
	/* A command file's lines are the commands: one given beside it is a mistake. */
	errno = 0;
	assert_int_equal(dcf_cmd_tmpl_init(&t, argv, 1, 1, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(dcf_cmd_tmpl_init(&t, NULL, 0, 1, err, sizeof(err)), 0);
	assert_true(t.shell);
	/* An empty argument after the command is fine: it is passed as it is. */
	assert_int_equal(dcf_cmd_tmpl_init(&t, argv, 2, 0, err, sizeof(err)), 0);
	assert_false(t.shell);
	assert_true(t.append);
}

/* {} wherever it stands, several times, inside words, and as the program. */
static void
test_line_everywhere(void **state)
{
	struct dcf_cmd_tmpl t;

	(void)state;
	tmpl(&t, L("cp", "{}", "{}.bak"));
	expect(&t, "a b", 1, L("cp", "a b", "a b.bak"));
	tmpl(&t, L("echo", "x{}y", "{}{}", "-{}-{}-"));
	expect(&t, "Q", 1, L("echo", "xQy", "QQ", "-Q-Q-"));
	tmpl(&t, L("{}", "--flag"));
	expect(&t, "/bin/true", 1, L("/bin/true", "--flag"));
	tmpl(&t, L("pre{}", "mid", "{}post"));
	expect(&t, "", 1, L("pre", "mid", "post"));
	assert_false(t.append);
	/* Braces that make no replacement string pass as they are. */
	tmpl(&t, L("awk", "{print $1}", "{", "}", "{{}}", "{x}", "{/x}", "{"));
	expect(&t, "L", 1, L("awk", "{print $1}", "{", "}", "{L}", "{x}", "{/x}", "{"));
	/* What a line puts in is never scanned again. */
	tmpl(&t, L("echo", "{}", "{#}"));
	expect(&t, "{} {#} {.}", 5, L("echo", "{} {#} {.}", "5"));
}

static void
test_seq_everywhere(void **state)
{
	struct dcf_cmd_tmpl t;

	(void)state;
	tmpl(&t, L("run", "{#}", "out{#}.txt", "{#}{#}", "{}", "{#}-{}-{#}"));
	expect(&t, "in", 1, L("run", "1", "out1.txt", "11", "in", "1-in-1"));
	expect(&t, "in", 42, L("run", "42", "out42.txt", "4242", "in", "42-in-42"));
	expect(&t, "in", UINT64_MAX,
	    L("run", "18446744073709551615", "out18446744073709551615.txt",
	        "1844674407370955161518446744073709551615", "in",
	        "18446744073709551615-in-18446744073709551615"));
	/* {#} alone is a replacement string: the line is not appended (as in GNU parallel). */
	tmpl(&t, L("echo", "job{#}"));
	assert_false(t.append);
	expect(&t, "ignored", 7, L("echo", "job7"));
	tmpl(&t, L("{#}"));
	expect(&t, "x", 3, L("3"));
}

/* No replacement string: the line goes last, as one argument, whatever it holds. */
static void
test_line_appended(void **state)
{
	struct dcf_cmd_tmpl t;

	(void)state;
	tmpl(&t, L("gzip", "-9"));
	assert_true(t.append);
	expect(&t, "a file", 1, L("gzip", "-9", "a file"));
	expect(&t, "", 2, L("gzip", "-9", ""));
	tmpl(&t, L("echo"));
	expect(&t, "-n", 1, L("echo", "-n"));
	tmpl(&t, L("echo", "{%}", "{1}"));
	assert_true(t.append);
	expect(&t, "x", 1, L("echo", "{%}", "{1}", "x"));
}

/*
 * {.} {/} {//} {/.} against what GNU parallel 20221122 printed for the same
 * lines (parallel -q printf '[%s]...' {} {.} {/} {//} {/.}).
 */
static void
test_path_strings(void **state)
{
	static const struct {
		const char *line, *noext, *base, *dir, *base_noext;
	} cases[] = {
	    {"foo.jpg", "foo", "foo.jpg", ".", "foo"},
	    {"subdir/foo.jpg", "subdir/foo", "foo.jpg", "subdir", "foo"},
	    {"sub.dir/foo.jpg", "sub.dir/foo", "foo.jpg", "sub.dir", "foo"},
	    {"sub.dir/bar", "sub.dir/bar", "bar", "sub.dir", "bar"},
	    {".bashrc", "", ".bashrc", ".", ""},
	    {"dir/.hidden", "dir/", ".hidden", "dir", ""},
	    {"foo.", "foo", "foo.", ".", "foo"},
	    {"a/b/", "a/b/", "", "a", ""},
	    {"a/b.c/", "a/b.c/", "", "a", ""},
	    {"/", "/", "", "/", ""},
	    {"//", "//", "", "/", ""},
	    {"/foo", "/foo", "foo", "/", "foo"},
	    {"foo", "foo", "foo", ".", "foo"},
	    {"a//b", "a//b", "b", "a", "b"},
	    {"./x.y", "./x", "x.y", ".", "x"},
	    {"a.b.c", "a.b", "a.b.c", ".", "a.b"},
	    {"x y/z w.q", "x y/z w", "z w.q", "x y", "z w"},
	    {"", "", "", ".", ""},
	    {"../a", "../a", "a", "..", "a"},
	    {"...", "..", "...", ".", ".."},
	    {"a/.", "a/", ".", "a", ""},
	    {"a/..", "a/.", "..", "a", "."},
	    {".a.b", ".a", ".a.b", ".", ".a"},
	    {"//a", "//a", "a", "/", "a"},
	    {"///a", "///a", "a", "/", "a"},
	    {"//a/b", "//a/b", "b", "//a", "b"},
	    {"a///b///", "a///b///", "", "a", ""},
	    {"/a/", "/a/", "", "/", ""},
	    {".", "", ".", ".", ""},
	    {"..", ".", "..", ".", "."},
	    {"./", "./", "", ".", ""},
	    {"a\\b", "a\\b", "a\\b", ".", "a\\b"},
	    {"a/b\\c.d", "a/b\\c", "b\\c.d", "a", "b\\c"},
	    {"a.b/", "a.b/", "", ".", ""},
	};
	struct dcf_cmd_tmpl t;

	(void)state;
	tmpl(&t, L("p", "{}", "{.}", "{/}", "{//}", "{/.}"));
	for (size_t i = 0; i < NELEM(cases); i++)
		expect(&t, cases[i].line, 1,
		    L("p", cases[i].line, cases[i].noext, cases[i].base, cases[i].dir,
		        cases[i].base_noext));
	tmpl(&t, L("convert", "{}", "out/{/.}.png", "{//}/thumbs/{/}"));
	expect(&t, "in/a.b.jpg", 1, L("convert", "in/a.b.jpg", "out/a.b.png", "in/thumbs/a.b.jpg"));
	/* {.} alone is a replacement string too: nothing appended. */
	tmpl(&t, L("gunzip", "-c", "{.}"));
	assert_false(t.append);
	expect(&t, "x.gz", 1, L("gunzip", "-c", "x"));
}

/* Lines made of what shells and option parsers choke on. */
static const char *const odd_lines[] = {
    "two  spaces ",
    " leading space",
    "it's",
    "\"double\"",
    "$(echo pwned; exit 3)",
    "`id`",
    "*",
    "a\tb",
    "\xff\xfe not UTF-8 \xc3",
    "-n",
    "--help",
    "a;b|c&d>e<f",
    "\\",
    "'",
    "!!",
    "~root",
    "#not a comment",
    "line\r",
    "\x01\x1b[31m",
    "A=b",
    "if",
};

static void
test_odd_bytes(void **state)
{
	struct dcf_cmd_tmpl t, shell;
	char err[DCF_ERRLEN];

	(void)state;
	tmpl(&t, L("prog", "{}", "<{}>"));
	assert_int_equal(dcf_cmd_tmpl_init(&shell, NULL, 0, 1, err, sizeof(err)), 0);
	for (size_t i = 0; i < NELEM(odd_lines); i++) {
		char wrapped[128];

		snprintf(wrapped, sizeof(wrapped), "<%s>", odd_lines[i]);
		expect(&t, odd_lines[i], i + 1, L("prog", odd_lines[i], wrapped));
		expect(&shell, odd_lines[i], i + 1, L("/bin/sh", "-c", odd_lines[i]));
	}
	/* A newline is a byte like another in a -0 line. */
	expect(&t, "a\nb", 1, L("prog", "a\nb", "<a\nb>"));
}

/* A NUL cannot be in an argument: the line is refused, in either mode, whatever it is for. */
static void
test_nul_line(void **state)
{
	struct dcf_cmd_tmpl t;
	char err[DCF_ERRLEN], buf[256];

	(void)state;
	tmpl(&t, L("echo", "{}"));
	memset(buf, 'z', sizeof(buf));
	errno = 0;
	assert_int_equal(dcf_cmd_build(&t, "a\0b", 3, 1, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(dcf_cmd_build(&t, "\0", 1, 1, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EINVAL);
	tmpl(&t, L("echo", "{#}"));
	errno = 0;
	assert_int_equal(dcf_cmd_build(&t, "ab\0", 3, 1, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(dcf_cmd_tmpl_init(&t, NULL, 0, 1, err, sizeof(err)), 0);
	errno = 0;
	assert_int_equal(dcf_cmd_build(&t, "true\0x", 6, 1, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EINVAL);
	/* The same bytes without the NUL make a task. */
	assert_int_equal(dcf_cmd_build(&t, "true", 4, 1, buf, sizeof(buf)), 8 + 3 + 5);
}

/*
 * A payload that does not fit says how big it is, writes nothing past the
 * cap, and fits exactly at that size.
 */
static void
test_too_long(void **state)
{
	struct dcf_cmd_tmpl t;
	char line[200], buf[512], msg[128];
	ssize_t need;

	(void)state;
	memset(line, 'x', sizeof(line));
	tmpl(&t, L("cp", "{}", "{}.{#}"));
	/* "cp\0" + 200 + NUL + 200 + ".77" + NUL */
	need = dcf_cmd_build(&t, line, sizeof(line), 77, buf, 0);
	assert_int_equal(need, 3 + 201 + 204);
	for (size_t cap = 0; cap <= (size_t)need; cap += 37) {
		memset(buf, '#', sizeof(buf));
		assert_int_equal(dcf_cmd_build(&t, line, sizeof(line), 77, buf, cap), need);
		for (size_t i = cap; i < sizeof(buf); i++)
			if (buf[i] != '#')
				fail_msg("cap %zu: byte %zu written", cap, i);
	}
	memset(buf, '#', sizeof(buf));
	assert_int_equal(dcf_cmd_build(&t, line, sizeof(line), 77, buf, (size_t)need), need);
	assert_int_equal(buf[need - 1], '\0');
	assert_int_equal(buf[need], '#');
	assert_memory_equal(buf + need - 4, ".77", 4);
	/* The numbers the supervisor's message needs. */
	snprintf(msg, sizeof(msg), "input line %d is too long: %zd bytes, the limit is %d", 3, need,
	    256);
	assert_string_equal(msg, "input line 3 is too long: 408 bytes, the limit is 256");
}

static void
test_argv_decode(void **state)
{
	char p[] = "a\0bc\0\0d";
	char *argv[5] = {(char *)"keep", NULL, NULL, NULL, NULL};

	(void)state;
	/* "a", "bc", "", "d" and its NUL: 8 bytes. */
	assert_int_equal(dcf_cmd_argv(p, sizeof(p), argv, 5), 4);
	assert_string_equal(argv[0], "a");
	assert_string_equal(argv[1], "bc");
	assert_string_equal(argv[2], "");
	assert_string_equal(argv[3], "d");
	assert_null(argv[4]);
	assert_ptr_equal(argv[0], p); /* in place */
	argv[0] = (char *)"keep";
	errno = 0;
	assert_int_equal(dcf_cmd_argv(p, sizeof(p), argv, 4), -1); /* no room for the NULL */
	assert_int_equal(errno, E2BIG);
	assert_string_equal(argv[0], "keep");
	errno = 0;
	assert_int_equal(dcf_cmd_argv(p, sizeof(p), argv, 0), -1);
	assert_int_equal(errno, E2BIG);
	errno = 0;
	assert_int_equal(dcf_cmd_argv(p, sizeof(p) - 1, argv, 5), -1); /* not NUL-terminated */
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(dcf_cmd_argv(p, 0, argv, 5), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(argv[0], "keep");
	assert_int_equal(dcf_cmd_argv(p + 5, 1, argv, 2), 1); /* one empty item */
	assert_string_equal(argv[0], "");
}

/* The text of a NULL-terminated argv. */
static size_t
text_of(const char *const *argv, char *out, size_t cap)
{
	char payload[4096];
	size_t n = 0;

	for (; *argv != NULL; argv++) {
		size_t k = strlen(*argv) + 1;

		assert_true(n + k <= sizeof(payload));
		memcpy(payload + n, *argv, k);
		n += k;
	}
	return dcf_cmd_text(payload, n, out, cap);
}

static void
expect_text(const char *const *argv, const char *want)
{
	char out[1024];
	size_t n = text_of(argv, out, sizeof(out));

	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
}

static void
test_text(void **state)
{
	char out[64];

	(void)state;
	expect_text(L("echo", "it's"), "echo 'it'\\''s'");
	expect_text(L("echo", ""), "echo ''");
	expect_text(L("echo", "a b", "-n", "--x=y"), "echo 'a b' -n --x=y");
	expect_text(L("cp", "/a/b.c", "d,e:f@g%h+i_j"), "cp /a/b.c d,e:f@g%h+i_j");
	expect_text(L("echo", "$(id)", "*", "~", "#", "a\tb"), "echo '$(id)' '*' '~' '#' 'a\tb'");
	expect_text(L("echo", "'"), "echo ''\\'''");
	expect_text(L("echo", "'a''b'"), "echo ''\\''a'\\'''\\''b'\\'''");
	/* First word: an assignment, a reserved word, a job would be read as syntax. */
	expect_text(L("A=b", "x"), "'A=b' x");
	expect_text(L("env", "A=b", "=x"), "env A=b '=x'");
	expect_text(L("if", "if"), "'if' if");
	expect_text(L("%1", "%1"), "'%1' %1");
	expect_text(L("\xc3\xa9t\xc3\xa9"), "'\xc3\xa9t\xc3\xa9'");
	/* Shell mode reads as the script itself. */
	expect_text(L("/bin/sh", "-c", "a | b 'c'"), "a | b 'c'");
	expect_text(L("/bin/sh", "-c", "a", "b"), "/bin/sh -c a b");
	expect_text(L("sh", "-c", "a b"), "sh -c 'a b'");
	/* A payload's last item may lack its NUL; an empty payload is empty. */
	assert_int_equal(dcf_cmd_text("ab\0c d", 6, out, sizeof(out)), 8);
	assert_string_equal(out, "ab 'c d'");
	assert_int_equal(dcf_cmd_text("", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(dcf_cmd_text("\0", 1, out, sizeof(out)), 2);
	assert_string_equal(out, "''");
	/* snprintf's contract: the full length, a NUL-terminated prefix. */
	memset(out, '#', sizeof(out));
	assert_int_equal(dcf_cmd_text("echo\0it's", 10, out, 8), 14);
	assert_string_equal(out, "echo 'i");
	assert_int_equal(out[8], '#');
	out[0] = '#';
	assert_int_equal(dcf_cmd_text("echo\0it's", 10, out, 0), 14);
	assert_int_equal(out[0], '#');
}

/* The same payload, the same text, every time: --resume depends on it. */
static void
test_text_deterministic(void **state)
{
	struct dcf_cmd_tmpl t;
	char p1[512], p2[512], t1[1024], t2[1024];

	(void)state;
	tmpl(&t, L("cmd", "{}", "{/.}-{#}"));
	for (size_t i = 0; i < NELEM(odd_lines); i++) {
		ssize_t n1 =
		    dcf_cmd_build(&t, odd_lines[i], strlen(odd_lines[i]), i, p1, sizeof(p1));
		ssize_t n2 =
		    dcf_cmd_build(&t, odd_lines[i], strlen(odd_lines[i]), i, p2, sizeof(p2));

		assert_true(n1 > 0 && n1 == n2);
		assert_memory_equal(p1, p2, (size_t)n1);
		assert_int_equal(dcf_cmd_text(p1, (size_t)n1, t1, sizeof(t1)),
		    dcf_cmd_text(p2, (size_t)n2, t2, sizeof(t2)));
		assert_string_equal(t1, t2);
	}
}

/* ---- real processes ------------------------------------------------- */

/*
 * Run path with argv and envp (NULL: ours), its stdout captured into out
 * (NUL-terminated); the wait status.
 */
static int
capture(const char *path, char *const *argv, char *const *envp, char *out, size_t cap, size_t *len)
{
	int fd[2];
	size_t n = 0;
	pid_t pid;

	assert_int_equal(pipe2(fd, O_CLOEXEC), 0);
	pid = tu_fork();
	if (pid == 0) {
		if (dup2(fd[1], 1) == -1)
			_exit(126);
		if (envp != NULL)
			execve(path, argv, envp);
		else
			execv(path, argv);
		_exit(127);
	}
	close(fd[1]);
	for (;;) {
		ssize_t r = read(fd[0], out + n, cap - 1 - n);

		if (r == -1 && errno == EINTR)
			continue;
		assert_true(r >= 0);
		if (r == 0)
			break;
		n += (size_t)r;
		assert_true(n < cap - 1);
	}
	close(fd[0]);
	out[n] = '\0';
	*len = n;
	return tu_waitpid(pid);
}

/* out[0..n) is the items of want, each followed by a NUL. */
static void
assert_items(const char *out, size_t n, const char *const *want, const char *what)
{
	size_t off = 0, i;

	for (i = 0; want[i] != NULL; i++) {
		size_t k = strlen(want[i]) + 1;

		if (off + k > n || memcmp(out + off, want[i], k) != 0)
			fail_msg("%s: item %zu is not \"%s\"", what, i, want[i]);
		off += k;
	}
	if (off != n)
		fail_msg("%s: %zu bytes more than the %zu items", what, n - off, i);
}

/* The payload, handed to execv, gives a real program the line byte for byte. */
static void
test_exec_bytes(void **state)
{
	struct dcf_cmd_tmpl t;
	char payload[512], out[1024], *argv[16];
	size_t n;

	(void)state;
	/* printf(1) prints each argument after the format and a NUL: the argv, read back. */
	tmpl(&t, L("/usr/bin/printf", "%s\\0", "{}", "x{}y", "{#}"));
	for (size_t i = 0; i < NELEM(odd_lines); i++) {
		const char *l = odd_lines[i];
		char wrapped[128], seq[8];
		ssize_t len = dcf_cmd_build(&t, l, strlen(l), i + 1, payload, sizeof(payload));

		assert_true(len > 0 && (size_t)len <= sizeof(payload));
		assert_int_equal(dcf_cmd_argv(payload, (size_t)len, argv, NELEM(argv)), 5);
		tu_assert_exit(capture(argv[0], argv, NULL, out, sizeof(out), &n), 0);
		snprintf(wrapped, sizeof(wrapped), "x%sy", l);
		snprintf(seq, sizeof(seq), "%zu", i + 1);
		assert_items(out, n, L(l, wrapped, seq), l);
	}
}

/* sh -c "printf '%s\0' TEXT" must print the argv TEXT came from. */
static void
roundtrip(const char *const *argv)
{
	char text[2048], script[2100], out[2048];
	char *sh[] = {(char *)"/bin/sh", (char *)"-c", script, NULL};
	size_t n;

	assert_true(text_of(argv, text, sizeof(text)) < sizeof(text));
	snprintf(script, sizeof(script), "printf '%%s\\0' %s", text);
	tu_assert_exit(capture("/bin/sh", sh, NULL, out, sizeof(out), &n), 0);
	assert_items(out, n, argv, text);
}

static void
test_text_roundtrip(void **state)
{
	char all[256];

	(void)state;
	for (size_t i = 0; i < NELEM(odd_lines); i++)
		roundtrip(L("cmd", odd_lines[i], "", odd_lines[i]));
	roundtrip(L("a\nb", "\n", "'\n'", "x'y'z", "''", "'''", "\\'", "a b\tc"));
	roundtrip(
	    L("-", "--", "=", "==", "a=", "=a", "%", "%%", "~/x", "x~", "{a,b}", "[ab]", "?"));
	roundtrip(L("if", "then", "fi", "case", "in", "esac", "{", "}", "!", "time"));
	/* Every byte but NUL, in one item and one byte to an item. */
	for (int c = 1; c < 256; c++)
		all[c - 1] = (char)c;
	all[255] = '\0';
	roundtrip(L("x", all));
	for (int c = 1; c < 256; c++) {
		char one[2] = {(char)c, '\0'};

		roundtrip(L("x", one, "y"));
	}
}

/*
 * The first word is where a shell reads assignments and reserved words: run
 * TEXT itself, with PATH holding programs named after such words that print
 * their arguments.
 */
static void
test_text_first_word(void **state)
{
	static const char *const names[] = {"A=b", "if", "%1", "~x", "=x", "#x", "a b", "it's",
	    "time", "!"};
	char path[256], text[512], out[512], env[300];
	char *sh[] = {(char *)"/bin/sh", (char *)"-c", text, NULL};
	char *envp[] = {env, NULL};
	size_t n;

	(void)state;
	snprintf(scratch, sizeof(scratch), "/tmp/dcf-test-cmd-XXXXXX");
	assert_non_null(mkdtemp(scratch));
	snprintf(env, sizeof(env), "PATH=%s", scratch);
	for (size_t i = 0; i < NELEM(names); i++) {
		int fd;
		static const char body[] = "#!/bin/sh\nprintf 'ran\\0'; printf '%s\\0' \"$@\"\n";

		snprintf(path, sizeof(path), "%s/%s", scratch, names[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
		assert_true(fd != -1);
		assert_int_equal(write(fd, body, sizeof(body) - 1), sizeof(body) - 1);
		close(fd);
	}
	for (size_t i = 0; i < NELEM(names); i++) {
		int st;

		assert_true(text_of(L(names[i], "A=b", "if"), text, sizeof(text)) < sizeof(text));
		st = capture("/bin/sh", sh, envp, out, sizeof(out), &n);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("%s: %s", text, tu_status_str(st));
		assert_items(out, n, L("ran", "A=b", "if"), text);
	}
	for (size_t i = 0; i < NELEM(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", scratch, names[i]);
		assert_int_equal(unlink(path), 0);
	}
	assert_int_equal(rmdir(scratch), 0);
	scratch[0] = '\0';
}

/* ---- the template's warning ----------------------------------------- */

static void
test_unsupported(void **state)
{
	static const char *const odd[] = {"{%}", "{##}", "{1}", "{2/.}", "{10//}", "{=uc=}",
	    "a{=s/x/y/=}b", "{..}", "{/...}", "{+/}", "{+...}"};
	static const char *const fine[] = {"{print $1}", "{a,b}", "{1..10}", "{=", "{x}", "{}",
	    "{#}", "{1", "{/..x}", "{-1}"};
	struct dcf_cmd_tmpl t;
	char msg[256];

	(void)state;
	for (size_t i = 0; i < NELEM(odd); i++) {
		const char *tok = strchr(odd[i], '{');

		tmpl(&t, L("echo", "{}", odd[i]));
		assert_int_equal(dcf_cmd_tmpl_unsupported(&t, msg, sizeof(msg)), 1);
		assert_int_equal(t.odd_arg, 2);
		assert_int_equal(t.odd_at, (size_t)(tok - odd[i]));
		if (strncmp(msg, tok, t.odd_len) != 0 || strstr(msg, "word 3") == NULL)
			fail_msg("%s: warned \"%s\"", odd[i], msg);
	}
	for (size_t i = 0; i < NELEM(fine); i++) {
		tmpl(&t, L("echo", fine[i]));
		if (dcf_cmd_tmpl_unsupported(&t, msg, sizeof(msg)) != 0)
			fail_msg("%s: warned \"%s\"", fine[i], msg);
	}
	/* The first one is named. */
	tmpl(&t, L("x{%}", "{##}"));
	assert_int_equal(dcf_cmd_tmpl_unsupported(&t, msg, sizeof(msg)), 1);
	assert_int_equal(t.odd_arg, 0);
	assert_non_null(strstr(msg, "{%} in word 1"));
}

/* ---- the line reader -------------------------------------------------- */

struct feed {
	int rd, wr;
	struct dcf_lines r;
};

static void
feed_open(struct feed *f, size_t max, int sep)
{
	int fd[2];

	assert_int_equal(pipe2(fd, O_CLOEXEC | O_NONBLOCK), 0);
	f->rd = fd[0];
	f->wr = fd[1];
	assert_int_equal(dcf_lines_init(&f->r, f->rd, max, sep), 0);
}

static void
feed_close(struct feed *f)
{
	dcf_lines_free(&f->r);
	close(f->rd);
	if (f->wr != -1)
		close(f->wr);
}

static void
feed(struct feed *f, const void *s, size_t n)
{
	assert_int_equal(write(f->wr, s, n), n);
}

static void
feed_eof(struct feed *f)
{
	close(f->wr);
	f->wr = -1;
}

static void
want_line(struct feed *f, const char *want, uint64_t lineno)
{
	const char *line = NULL;
	size_t len = 0;
	int r = dcf_lines_next(&f->r, &line, &len);

	if (r != 1)
		fail_msg("want line %llu \"%s\", got %d (%s)", (unsigned long long)lineno, want, r,
		    r == -1 ? strerror(errno) : "end");
	if (len != strlen(want) || memcmp(line, want, len) != 0)
		fail_msg("want \"%s\", got \"%.*s\"", want, (int)len, line);
	assert_int_equal(f->r.lineno, lineno);
}

static void
want_err(struct feed *f, int e)
{
	const char *line;
	size_t len;

	errno = 0;
	assert_int_equal(dcf_lines_next(&f->r, &line, &len), -1);
	assert_int_equal(errno, e);
}

static void
want_long(struct feed *f, size_t len_want, uint64_t lineno)
{
	const char *line = "x";
	size_t len = 0;

	errno = 0;
	assert_int_equal(dcf_lines_next(&f->r, &line, &len), -1);
	assert_int_equal(errno, E2BIG);
	assert_null(line);
	assert_int_equal(len, len_want);
	assert_int_equal(f->r.lineno, lineno);
}

static void
want_end(struct feed *f)
{
	const char *line;
	size_t len;

	assert_int_equal(dcf_lines_next(&f->r, &line, &len), 0);
}

static void
test_lines_init(void **state)
{
	struct dcf_lines r;

	(void)state;
	errno = 0;
	assert_int_equal(dcf_lines_init(&r, 0, 0, '\n'), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(dcf_lines_init(&r, 0, (size_t)DCF_LINES_MAX + 1, '\n'), -1);
	assert_int_equal(dcf_lines_init(&r, 0, 10, 256), -1);
	assert_int_equal(dcf_lines_init(&r, 0, 10, -1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(dcf_lines_init(&r, 0, 10, '\n'), 0);
	assert_int_equal(r.cap, 11); /* never more than max + 1 */
	dcf_lines_free(&r);
	assert_int_equal(dcf_lines_init(&r, 0, 1u << 20, '\n'), 0);
	assert_int_equal(r.cap, DCF_LINES_START);
	dcf_lines_free(&r);
	dcf_lines_free(&r); /* twice is harmless */
}

/* A slow producer: whole lines come out as they complete, EAGAIN between. */
static void
test_lines_nonblocking(void **state)
{
	struct feed f;

	(void)state;
	feed_open(&f, 100, '\n');
	want_err(&f, EAGAIN);
	feed(&f, "ab", 2);
	want_err(&f, EAGAIN);
	feed(&f, "c\nde", 4);
	want_line(&f, "abc", 1);
	want_err(&f, EAGAIN);
	feed(&f, "\n\nf", 3);
	want_line(&f, "de", 2);
	want_line(&f, "", 3); /* an empty line is a line */
	want_err(&f, EAGAIN);
	feed(&f, "g\r\n", 3);
	want_line(&f, "fg\r", 4); /* a CRLF ending keeps its '\r' */
	feed(&f, "last", 4);
	want_err(&f, EAGAIN);
	feed_eof(&f);
	want_line(&f, "last", 5); /* the final line without newline counts */
	want_end(&f);
	want_end(&f);
	feed_close(&f);
}

/* Random chunk sizes across line boundaries give back exactly the lines fed. */
static void
test_lines_chunks(void **state)
{
	struct dcf_rng rng;
	struct feed f;
	char text[60000];
	size_t n = 0, off = 0, fed = 0;
	uint64_t nlines = 0, got = 0, eagain = 0;

	(void)state;
	dcf_rng_seed(&rng, 11);
	/* Lines of 0 to 300 bytes of every value but '\n', line i starting with "i:". */
	while (n < sizeof(text) - 400) {
		size_t k = (size_t)dcf_rng_range(&rng, 0, 300);

		n += (size_t)snprintf(text + n, 24, "%llu:", (unsigned long long)nlines);
		for (size_t j = 0; j < k; j++) {
			char c = (char)dcf_rng_range(&rng, 0, 255);

			text[n++] = (char)(c == '\n' ? 'N' : c);
		}
		text[n++] = '\n';
		nlines++;
	}
	n--; /* the last line ends at end of input, without its newline */
	feed_open(&f, 400, '\n');
	for (;;) {
		const char *line;
		size_t len;
		char num[24];
		int r = dcf_lines_next(&f.r, &line, &len);

		if (r == 0)
			break;
		if (r == -1) {
			/* Feed more only when asked: the reader holds no partial line back. */
			assert_int_equal(errno, EAGAIN);
			eagain++;
			if (fed == n) {
				feed_eof(&f);
				continue;
			}
			size_t chunk = (size_t)dcf_rng_range(&rng, 1, 777);

			chunk = chunk < n - fed ? chunk : n - fed;
			feed(&f, text + fed, chunk);
			fed += chunk;
			continue;
		}
		snprintf(num, sizeof(num), "%llu:", (unsigned long long)got);
		assert_true(off + len <= n);
		assert_memory_equal(line, text + off, len);
		assert_true(off + len == n || text[off + len] == '\n');
		assert_true(len >= strlen(num));
		assert_memory_equal(line, num, strlen(num));
		off += len + 1;
		got++;
		assert_int_equal(f.r.lineno, got);
	}
	assert_int_equal(got, nlines);
	assert_int_equal(off, n + 1);
	assert_true(eagain > nlines / 4);
	want_end(&f);
	feed_close(&f);
}

/*
 * Line i of the big run: i in decimal, a space, i % 50 letters; line BIG_AT
 * is BIG_LEN bytes. The number is kept as text and counted up in place:
 * snprintf on every line would be most of the run under valgrind.
 */
#define TEN_M   10000000ULL
#define BIG_AT  (TEN_M / 2)
#define BIG_LEN 10000

struct counter {
	char d[24]; /* the digits, right-aligned, ending at d + 23 */
	size_t n;   /* how many */
	uint64_t i;
};

static void
counter_init(struct counter *c)
{
	c->d[23] = '0';
	c->n = 1;
	c->i = 0;
}

static void
counter_next(struct counter *c)
{
	size_t k = 23;

	while (c->d[k] == '9' && k > 23 - c->n + 1)
		c->d[k--] = '0';
	if (c->d[k] == '9') { /* all nines: one more digit */
		c->d[k] = '0';
		c->d[--k] = '1';
		c->n++;
	} else {
		c->d[k]++;
	}
	c->i++;
}

/* Line c->i into out (room for BIG_LEN): its length. */
static size_t
big_line(const struct counter *c, char *out)
{
	size_t k = (size_t)(c->i % 50);

	if (c->i == BIG_AT) {
		memset(out, 'B', BIG_LEN);
		return BIG_LEN;
	}
	memcpy(out, c->d + 24 - c->n, c->n);
	out[c->n] = ' ';
	memset(out + c->n + 1, 'a' + (int)(c->i % 26), k);
	return c->n + 1 + k;
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		TU_CHILD_CHECK(w > 0 || errno == EINTR, "write: %s", strerror(errno));
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		}
	}
}

/*
 * Ten million lines from another process: the buffer stays at its start
 * size through the first five million short ones, doubles for the one long
 * line (to no more than twice it), and does not move again.
 */
static void
test_lines_ten_million(void **state)
{
	struct dcf_lines r;
	struct counter c;
	uint64_t got = 0;
	size_t cap_short = 0, cap_long = 0;
	const char *line;
	size_t len;
	int fd[2], rc;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe2(fd, O_CLOEXEC), 0);
	pid = tu_fork();
	if (pid == 0) {
		static char buf[1 << 16];
		size_t n = 0;

		close(fd[0]);
		for (counter_init(&c); c.i < TEN_M; counter_next(&c)) {
			if (n + BIG_LEN + 1 > sizeof(buf)) {
				write_all(fd[1], buf, n);
				n = 0;
			}
			n += big_line(&c, buf + n);
			buf[n++] = '\n';
		}
		write_all(fd[1], buf, n);
		_exit(TU_EX_OK);
	}
	close(fd[1]);
	assert_int_equal(dcf_lines_init(&r, fd[0], 1u << 20, '\n'), 0);
	counter_init(&c);
	while ((rc = dcf_lines_next(&r, &line, &len)) == 1) {
		if (got == BIG_AT - 1)
			cap_short = r.cap;
		if (got == BIG_AT)
			cap_long = r.cap;
		/* Every line's length and its number; every 4096th line whole. */
		if (len != (got == BIG_AT ? BIG_LEN : c.n + 1 + got % 50) ||
		    (got != BIG_AT && memcmp(line, c.d + 24 - c.n, c.n) != 0))
			fail_msg("line %llu: %zu bytes: %.*s", (unsigned long long)got + 1, len,
			    (int)(len < 40 ? len : 40), line);
		if (got % 4096 == 0 || got == BIG_AT) {
			char want[BIG_LEN];

			assert_int_equal(big_line(&c, want), len);
			assert_memory_equal(line, want, len);
		}
		got++;
		counter_next(&c);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(got, TEN_M);
	assert_int_equal(r.lineno, TEN_M);
	assert_int_equal(cap_short, DCF_LINES_START);
	assert_true(cap_long > BIG_LEN && cap_long <= 2 * (size_t)BIG_LEN);
	assert_int_equal(r.cap, cap_long);
	dcf_lines_free(&r);
	close(fd[0]);
	tu_assert_exit(tu_waitpid(pid), TU_EX_OK);
}

static void
test_lines_long(void **state)
{
	struct feed f;
	char big[3000];

	(void)state;
	memset(big, 'x', sizeof(big));
	feed_open(&f, 100, '\n');
	feed(&f, "short\n", 6);
	feed(&f, big, 250);
	feed(&f, "\nafter\n", 7);
	feed(&f, big, 101); /* one past the limit */
	feed(&f, "\n", 1);
	feed(&f, big, 100); /* exactly the limit */
	feed(&f, "\n", 1);
	want_line(&f, "short", 1);
	want_long(&f, 250, 2);
	want_line(&f, "after", 3);
	want_long(&f, 101, 4);
	big[100] = '\0';
	want_line(&f, big, 5);
	memset(big, 'x', sizeof(big));
	want_err(&f, EAGAIN);
	/* A long line arriving in pieces, with EAGAIN in between, is skipped whole. */
	for (int i = 0; i < 10; i++) {
		feed(&f, big, sizeof(big));
		want_err(&f, EAGAIN);
	}
	assert_true(f.r.skipping);
	feed(&f, "yz\nnext\n", 8);
	want_long(&f, 10 * sizeof(big) + 2, 6);
	want_line(&f, "next", 7);
	/* A too-long last line that ends at end of input is reported, then the end. */
	feed(&f, big, 500);
	feed_eof(&f);
	want_long(&f, 500, 8);
	want_end(&f);
	assert_true(f.r.cap <= 101);
	feed_close(&f);
}

/* -0 input: lines end at NUL and may hold newlines. */
static void
test_lines_nul(void **state)
{
	struct feed f;

	(void)state;
	feed_open(&f, 50, '\0');
	feed(&f, "a\nb\0\0c d\n\0tail\n", 16);
	feed_eof(&f);
	want_line(&f, "a\nb", 1);
	want_line(&f, "", 2);
	want_line(&f, "c d\n", 3);
	want_line(&f, "tail\n", 4);
	want_end(&f);
	feed_close(&f);
}

static void
test_lines_read_error(void **state)
{
	struct dcf_lines r;
	const char *line;
	size_t len;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd != -1);
	/* A descriptor open for writing only: read(2) fails and says why. */
	assert_int_equal(dcf_lines_init(&r, open("/dev/null", O_WRONLY | O_CLOEXEC), 10, '\n'), 0);
	errno = 0;
	assert_int_equal(dcf_lines_next(&r, &line, &len), -1);
	assert_int_equal(errno, EBADF);
	close(r.fd);
	dcf_lines_free(&r);
	/* An empty input has no line at all. */
	assert_int_equal(dcf_lines_init(&r, fd, 10, '\n'), 0);
	assert_int_equal(dcf_lines_next(&r, &line, &len), 0);
	assert_int_equal(r.lineno, 0);
	dcf_lines_free(&r);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tmpl_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_line_everywhere, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_seq_everywhere, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_line_appended, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_path_strings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_odd_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nul_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_argv_decode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_text_deterministic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exec_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_text_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_text_first_word, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unsupported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lines_init, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lines_nonblocking, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lines_chunks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lines_long, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lines_ten_million, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lines_nul, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lines_read_error, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
