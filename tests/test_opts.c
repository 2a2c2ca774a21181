/*
 * test_opts.c - the one option table (src/opts.h) and both programs'
 * parsers over it, in process: a letter means one thing, every program's
 * --help lists exactly its entries, every entry a program takes is stored,
 * the forms getopt_long took still work, and a usage error is one escaped
 * line.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>

#include <cmocka.h>

#include "dcf/log.h"
#include "dcf/seg.h"
#include "fuzz.h"
#include "opts.h"
#include "status.h"
#include "ctl.h"
#include "web.h"
#include "submit.h"
#include "dcf/supervisor.h"

#define NARGS 16

static struct sup_opts so;
static struct status_opts to;
static struct submit_opts bo;
static struct ctl_opts co;
static struct web_opts wo;
static char *argv[NARGS + 2];

/*
 * Parse args (NULL-terminated; argv[0] added) as prog, into so or to; what
 * it printed in *out. argv keeps the arguments, as the parser left them.
 */
static int
parse(enum opt_prog prog, const char **out, const char *const *args)
{
	int argc = 0, r;

	argv[argc++] = (char *)opt_program(prog)->name;
	for (int i = 0; args[i] != NULL; i++) {
		assert_true(argc <= NARGS);
		argv[argc++] = (char *)args[i];
	}
	argv[argc] = NULL;
	fz_capture();
	if (prog == OPT_P_SUPERVISOR)
		r = sup_parse_options(argc, argv, &so);
	else if (prog == OPT_P_SUBMIT)
		r = submit_parse_options(argc, argv, &bo);
	else if (prog == OPT_P_CTL)
		r = ctl_parse_options(argc, argv, &co);
	else if (prog == OPT_P_WEB)
		r = web_parse_options(argc, argv, &wo);
	else
		r = status_parse_options(argc, argv, &to);
	*out = fz_release(NULL);
	return r;
}

/* The same, expected to succeed quietly. */
static void
parse_ok(enum opt_prog prog, const char *const *args)
{
	const char *out;

	if (parse(prog, &out, args) != 0)
		fail_msg("%s %s ...: %s", opt_program(prog)->name, args[0], out);
	assert_string_equal(out, "");
}

/* The entry whose letter is c, or NULL. */
static const struct opt *
by_letter(char c)
{
	for (int i = 0; i < OPT_NENTRIES; i++)
		if (opt_table[i].letter == c)
			return &opt_table[i];
	return NULL;
}

static void
test_one_meaning_per_letter(void **state)
{
	(void)state;
	for (int i = 0; i < OPT_NENTRIES; i++) {
		const struct opt *a = &opt_table[i];

		assert_non_null(a->name);
		assert_non_null(a->help);
		assert_true(a->progs != 0); /* someone takes it */
		assert_true((a->progs & ~(unsigned)OPT_P_ALL) == 0);
		assert_true((a->arg == OPT_ARG_NONE) == (a->kind == OPT_K_FLAG));
		assert_true((a->arg == OPT_ARG_NONE) == (a->metavar == NULL));
		if (a->letter != 0)
			assert_true(isalnum((unsigned char)a->letter));
		for (int j = i + 1; j < OPT_NENTRIES; j++) {
			const struct opt *b = &opt_table[j];

			if (a->letter != 0 && a->letter == b->letter)
				fail_msg("-%c is --%s and --%s", a->letter, a->name, b->name);
			/* One long name, two meanings: never in one program. */
			if (strcmp(a->name, b->name) == 0 && (a->progs & b->progs) != 0)
				fail_msg("--%s twice in one program", a->name);
		}
		/* A letter kept for a program to come is nobody's yet. */
		for (size_t k = 0; k < opt_nplanned; k++)
			if (a->letter != 0 && a->letter == opt_planned[k].letter)
				fail_msg("-%c is --%s and kept for --%s", a->letter, a->name,
				    opt_planned[k].name);
	}
	for (size_t k = 0; k < opt_nplanned; k++)
		for (size_t m = k + 1; m < opt_nplanned; m++)
			assert_true(opt_planned[k].letter == 0 ||
			    opt_planned[k].letter != opt_planned[m].letter);
	/* The instance name, help and version: one letter each, in every program. */
	assert_ptr_equal(by_letter('n'), &opt_table[OPT_NAME]);
	assert_ptr_equal(by_letter('h'), &opt_table[OPT_HELP]);
	assert_ptr_equal(by_letter('V'), &opt_table[OPT_VERSION]);
	for (size_t p = 0; p < opt_nprograms; p++) {
		assert_true(opt_table[OPT_NAME].progs & opt_programs[p].bit);
		assert_true(opt_table[OPT_HELP].progs & opt_programs[p].bit);
		assert_true(opt_table[OPT_VERSION].progs & opt_programs[p].bit);
	}
	/* The letters that changed: -v and the supervisor's -n are no one's but the name's. */
	assert_null(by_letter('v'));
	assert_int_equal(opt_table[OPT_NETWORKS].letter, 0);
	assert_int_equal(opt_table[OPT_NODE_ROWS].letter, 0);
}

/*
 * Each program's --help: one line per entry it takes, in table order, with
 * the entry's letter (or none) and long name; nothing else looks like one.
 */
static void
test_help_lists_exactly_its_entries(void **state)
{
	static const char *const help[] = {"--help", NULL};

	(void)state;
	for (size_t p = 0; p < opt_nprograms; p++) {
		enum opt_prog prog = opt_programs[p].bit;
		char *text, *line, *save = NULL;
		const char *out;
		int next = 0;

		assert_int_equal(parse(prog, &out, help), 1);
		text = strdup(out);
		assert_non_null(text);
		line = strtok_r(text, "\n", &save);
		assert_non_null(line);
		assert_int_equal(strncmp(line, "usage: ", 7), 0);
		assert_non_null(strstr(line, opt_programs[p].name));
		for (; line != NULL; line = strtok_r(NULL, "\n", &save)) {
			char letter = 0, name[64];

			if (strncmp(line, "  -", 3) == 0 && line[4] == ',')
				letter = line[3];
			else if (strncmp(line, "      --", 8) != 0)
				continue; /* not an option's line */
			assert_int_equal(sscanf(line + 8, "%63[a-z-]", name), 1);
			while (next < OPT_NENTRIES && !(opt_table[next].progs & prog))
				next++;
			if (next == OPT_NENTRIES)
				fail_msg("%s --help: --%s is not its", opt_programs[p].name, name);
			assert_string_equal(name, opt_table[next].name);
			assert_int_equal(letter, opt_table[next].letter);
			/* Its help, up to a line break, on the same line. */
			assert_int_equal(strncmp(line + strlen(line) -
			                         strcspn(opt_table[next].help, "\n"),
			                     opt_table[next].help,
			                     strcspn(opt_table[next].help, "\n")),
			    0);
			next++;
		}
		while (next < OPT_NENTRIES && !(opt_table[next].progs & prog))
			next++;
		if (next != OPT_NENTRIES)
			fail_msg("%s --help lacks --%s", opt_programs[p].name,
			    opt_table[next].name);
		assert_non_null(strstr(out, "dcf-")); /* the manual it points to */
		free(text);
	}
}

/* A value every entry of kind k takes. */
static const char *
sample(const struct opt *o, char *buf, size_t len)
{
	switch (o->kind) {
	case OPT_K_UINT:
	case OPT_K_RANGE:
		snprintf(buf, len, "%llu", (unsigned long long)o->min);
		return buf;
	case OPT_K_INT:
		snprintf(buf, len, "%lld", (long long)(int64_t)o->min); /* negative: the value's */
		return buf;
	case OPT_K_PROB:
		return "0.5";
	case OPT_K_SECONDS:
		return "1";
	case OPT_K_NAME:
		return "t-opts";
	case OPT_K_WORD:
		return o->words[0];
	case OPT_K_FILE:
	case OPT_K_STORE:
	case OPT_K_INFILE:
		return "/dev/null";
	case OPT_K_DIR:
		return "/tmp";
	case OPT_K_KEEP:
		return "5";
	case OPT_K_TEXT:
		return o == &opt_table[OPT_LISTEN]    ? "127.0.0.1:0"
		    : o == &opt_table[OPT_ALLOW_USER] ? "65534" /* a uid, named or not */
		                                      : "k-1";
	case OPT_K_DURATION:
		return "1.5s";
	case OPT_K_TIME:
		return "2026-12-01 10:00";
	case OPT_K_IDS:
		return "1,2";
	case OPT_K_FLAG:
		break;
	}
	return NULL;
}

/* What an entry needs beside it to be taken alone (NULL-terminated, at most 3). */
static void
companions(enum opt_prog prog, int i, const char **w)
{
	w[0] = w[1] = w[2] = w[3] = NULL;
	if (prog == OPT_P_CTL) {
		/* dcf-ctl: a command always (one --now is for). */
		w[0] = i == OPT_NOW ? "stop-node" : "drain";
		w[1] = i == OPT_NOW ? "0" : NULL;
		w[2] = i == OPT_NOW ? "0" : NULL;
		return;
	}
	if (prog == OPT_P_SUBMIT) {
		/* dcf-submit: a command always; --commands and -0 with --batch. */
		if (i == OPT_LINES_ARE_COMMANDS) {
			w[0] = "--batch";
			return;
		}
		int k = i == OPT_NULL;

		if (k)
			w[0] = "--batch";
		w[k] = "--";
		w[k + 1] = "true";
		return;
	}
	if (i == OPT_COUNT) {
		w[0] = "--watch";
		return;
	}
	if (prog == OPT_P_WEB) {
		/* dcf-web: no operands; --token-file with --control. */
		if (i == OPT_TOKEN_FILE)
			w[0] = "--control";
		return;
	}
	if (i == OPT_KEEP || i == OPT_ALLOW_USER) {
		w[0] = "--serve";
		return;
	}
	if (i == OPT_HOST_ID || i == OPT_LEASE) {
		/* Parsed only: nothing is connected to. */
		w[0] = "--serve";
		w[1] = "--store=postgresql://localhost/dcf";
		return;
	}
	if (i == OPT_MAX_NODES || i == OPT_MAX_NETWORKS) {
		w[0] = "--serve";
		w[1] = i == OPT_MAX_NODES ? "-N" : "--networks";
		w[2] = "1";
		return;
	}
	if (prog == OPT_P_STATUS && i == OPT_HOSTS) {
		w[0] = "--store=postgresql://localhost/dcf"; /* parsed only */
		return;
	}
	if (prog == OPT_P_STATUS && (i == OPT_STATE || i == OPT_STORE)) {
		w[0] = "--tasks";
		return;
	}
	if ((i < OPT_ARG_FILE || i > OPT_STORE || i == OPT_COMMANDS) && i != OPT_NO_CGROUPS)
		return; /* not a command's */
	if (i == OPT_KILL_AFTER)
		w[0] = "--timeout=1";
	else if (i == OPT_RESUME || i == OPT_RESUME_FAILED)
		w[0] = "--joblog=/dev/null";
	w[w[0] != NULL] = "--";
	w[1 + (w[0] != NULL && w[1] != NULL)] = "true";
}

/* Every entry a program takes, in each form, is taken and stored without a word. */
static void
test_every_entry_is_taken(void **state)
{
	(void)state;
	for (size_t p = 0; p < opt_nprograms; p++) {
		enum opt_prog prog = opt_programs[p].bit;

		for (int i = 0; i < OPT_NENTRIES; i++) {
			const struct opt *o = &opt_table[i];
			char num[32], eq[96], name[64], cluster[96];
			const char *val, *out, *w[4];

			if (!(o->progs & prog) || i == OPT_HELP || i == OPT_VERSION)
				continue;
			if (i == OPT_ALLOW_USER && geteuid() != 0)
				continue; /* root's alone: refused to others (test_service says) */
			val = sample(o, num, sizeof(num));
			/* --opt=V, --opt V, -oV: each alone (--count with --watch). */
			snprintf(eq, sizeof(eq), "--%s%s%s", o->name, val ? "=" : "",
			    val ? val : "");
			snprintf(name, sizeof(name), "--%s", o->name);
			snprintf(cluster, sizeof(cluster), "-%c%s", o->letter, val ? val : "");
			companions(prog, i, w);
			if (parse(prog, &out, (const char *const[]){eq, w[0], w[1], w[2], NULL}) !=
			    0)
				fail_msg("%s %s: %s", opt_programs[p].name, eq, out);
			assert_string_equal(out, "");
			if (o->arg == OPT_ARG_REQUIRED &&
			    parse(prog, &out,
			        (const char *const[]){name, val, w[0], w[1], w[2], NULL}) != 0)
				fail_msg("%s %s %s: %s", opt_programs[p].name, name, val, out);
			assert_string_equal(out, "");
			if (o->letter != 0 &&
			    parse(prog, &out,
			        (const char *const[]){cluster, w[0], w[1], w[2], NULL}) != 0)
				fail_msg("%s %s: %s", opt_programs[p].name, cluster, out);
			assert_string_equal(out, "");
		}
	}
}

/* What getopt_long took, the table's parser takes the same way. */
static void
test_getopt_forms(void **state)
{
	(void)state;
	parse_ok(OPT_P_SUPERVISOR,
	    (const char *const[]){"-qt5", "--net", "2", "--nodes=7", "-N", "9", "--name", "one",
	        "-ntwo", "--log-level", "debug", "--work=cpu", NULL});
	assert_int_equal(so.level, DCF_DEBUG); /* the last of -q and --log-level wins */
	assert_int_equal(so.cfg.tasks, 5);
	assert_int_equal(so.cfg.nets, 2);
	assert_int_equal(so.cfg.nodes_per_net, 9);
	assert_string_equal(so.name, "two");
	assert_int_equal(so.cfg.work, DCF_WORK_CPU);
	assert_string_equal(argv[1], "-qt5"); /* argv is read, never reordered */
	parse_ok(OPT_P_STATUS, (const char *const[]){"-jw", "2", "-c3", "--nodes", "--", NULL});
	assert_true(to.json && to.watch && to.nodes);
	assert_int_equal(to.interval_ms, 2000);
	assert_int_equal(to.count, 3);
	parse_ok(OPT_P_STATUS, (const char *const[]){"--watch=0.25", "--nam", "x.y-z", NULL});
	assert_int_equal(to.interval_ms, 250);
	assert_string_equal(to.name, "x.y-z");
	/* An optional value is taken from the next argument only when it is a number. */
	parse_ok(OPT_P_STATUS, (const char *const[]){"-w", "--json", NULL});
	assert_true(to.watch && to.json);
	assert_int_equal(to.interval_ms, 1000);
	parse_ok(OPT_P_STATUS, (const char *const[]){"--watch", "3", NULL});
	assert_int_equal(to.interval_ms, 3000);
	parse_ok(OPT_P_STATUS, (const char *const[]){"-w0.1234", NULL});
	/* dcf-ctl's signals: a name with or without SIG, any case, or a number. */
	parse_ok(OPT_P_CTL, (const char *const[]){"kill", "7", "sigint", NULL});
	assert_int_equal(co.sig, SIGINT);
	parse_ok(OPT_P_CTL, (const char *const[]){"kill", "7", "HUP", NULL});
	assert_int_equal(co.sig, SIGHUP);
	parse_ok(OPT_P_CTL, (const char *const[]){"kill", "7", "9", NULL});
	assert_int_equal(co.sig, SIGKILL);
	parse_ok(OPT_P_CTL, (const char *const[]){"kill", "7", NULL});
	assert_true(co.sig == SIGTERM && co.id == 7);
	assert_int_equal(to.interval_ms, 123);
}

/* A usage error: one line, the value quoted once and escaped. */
static void
test_errors(void **state)
{
	static const struct {
		enum opt_prog prog;
		const char *args[8];
		const char *line;
	} cases[] = {
	    {OPT_P_SUPERVISOR, {"--name", "a\nb", NULL},
	        "dcf-supervisor: --name 'a\\nb': " DCF_NAME_RULE
	        "; not byte \\x0a; try 'dcf-supervisor --help'\n"},
	    {OPT_P_STATUS, {"-c", "1\xff", NULL},
	        "dcf-status: --count '1\\xff': expected a whole number from 1 to "
	        "18446744073709551615; try 'dcf-status --help'\n"},
	    {OPT_P_SUPERVISOR, {"--work", "h\xc3\xa9", NULL},
	        "dcf-supervisor: --work 'h\xc3\xa9': expected sleep, cpu or none; try "
	        "'dcf-supervisor --help'\n"},
	    {OPT_P_SUPERVISOR, {"--work", "it's\\", NULL},
	        "dcf-supervisor: --work 'it\\'s\\\\': expected sleep, cpu or none; try "
	        "'dcf-supervisor --help'\n"},
	    {OPT_P_STATUS, {"-\x01", NULL},
	        "dcf-status: unknown option '-\\x01'; try 'dcf-status --help'\n"},
	    {OPT_P_STATUS, {"-t", NULL},
	        "dcf-status: unknown option '-t' (-t is --tasks N in dcf-supervisor); try "
	        "'dcf-status --help'\n"},
	    {OPT_P_SUPERVISOR, {"--watch", NULL},
	        "dcf-supervisor: unknown option '--watch' (an option of dcf-status); try "
	        "'dcf-supervisor --help'\n"},
	    {OPT_P_SUPERVISOR, {"--commands", "/dev/null", "--", "x", NULL},
	        "dcf-supervisor: give a command or --commands FILE, not both; try "
	        "'dcf-supervisor --help'\n"},
	    {OPT_P_SUPERVISOR, {"--timeout", "5", NULL},
	        "dcf-supervisor: --timeout is for commands: give one after the options (-- "
	        "COMMAND [ARG...]) or --commands FILE; try 'dcf-supervisor --help'\n"},
	    {OPT_P_SUPERVISOR, {"--tasks", "5", "--", "true", NULL},
	        "dcf-supervisor: --tasks is for the demo's synthetic tasks; a command runs one "
	        "task per input line; try 'dcf-supervisor --help'\n"},
	    {OPT_P_SUPERVISOR, {"--resume", "--", "true", NULL},
	        "dcf-supervisor: --resume reads the joblog: give --joblog FILE too; try "
	        "'dcf-supervisor --help'\n"},
	    {OPT_P_SUPERVISOR, {"--timeout", "5x", "--", "true", NULL},
	        "dcf-supervisor: --timeout '5x': expected a duration from 0.001 to 4000000 seconds "
	        "(N, N.N, or with ms, s, m, h, d); try 'dcf-supervisor --help'\n"},
	    {OPT_P_SUBMIT, {"-p", "-5", "--", "true", NULL},
	        "dcf-submit: --priority '-5': expected a whole number from -4 to 4; try "
	        "'dcf-submit --help'\n"},
	    {OPT_P_SUBMIT, {"--at", "tomorrow", "--", "true", NULL},
	        "dcf-submit: --at 'tomorrow': expected a time: YYYY-MM-DD HH:MM[:SS] (local time) "
	        "or "
	        "@SECONDS since 1970; try 'dcf-submit --help'\n"},
	    {OPT_P_SUBMIT, {"--delay", "5s", "--at", "@5", "--", "true", NULL},
	        "dcf-submit: --delay and --at say the same: give one; try 'dcf-submit --help'\n"},
	    {OPT_P_SUBMIT, {"--priority", "1.5", "--", "true", NULL},
	        "dcf-submit: --priority '1.5': expected a whole number from -4 to 4; try "
	        "'dcf-submit --help'\n"},
	    {OPT_P_SUPERVISOR, {"-a", "/nonexistent/in", "--", "true", NULL},
	        "dcf-supervisor: --arg-file '/nonexistent/in': No such file or directory; try "
	        "'dcf-supervisor --help'\n"},
	    {OPT_P_CTL, {"--name", "x", NULL},
	        "dcf-ctl: give a command: pause [NETWORK], resume [NETWORK], drain, cancel ID, "
	        "kill ID [SIGNAL], priority ID P, retry ID, scale NETWORK [+|-]N, stop-node "
	        "NETWORK "
	        "NODE, restart-node NETWORK NODE, no-restart NETWORK NODE, add-network N or "
	        "remove-network NETWORK; try 'dcf-ctl --help'\n"},
	    {OPT_P_CTL, {"stop\n", NULL},
	        "dcf-ctl: no command 'stop\\n': pause [NETWORK], resume [NETWORK], drain, cancel "
	        "ID, kill ID [SIGNAL], priority ID P, retry ID, scale NETWORK [+|-]N, stop-node "
	        "NETWORK NODE, restart-node NETWORK NODE, no-restart NETWORK NODE, add-network N "
	        "or "
	        "remove-network NETWORK; try 'dcf-ctl --help'\n"},
	    {OPT_P_CTL, {"retry", "0", NULL},
	        "dcf-ctl: retry '0': a task id is a whole number from 1; try 'dcf-ctl --help'\n"},
	    {OPT_P_CTL, {"priority", "3", NULL},
	        "dcf-ctl: priority needs the task's id and its new priority (-4 to 4); try "
	        "'dcf-ctl --help'\n"},
	    {OPT_P_CTL, {"priority", "3", "+5", NULL},
	        "dcf-ctl: priority '+5': a priority is a whole number from -4 to 4; try "
	        "'dcf-ctl --help'\n"},
	    {OPT_P_CTL, {"priority", "3", "1", "2", NULL},
	        "dcf-ctl: priority takes a task id and a priority: '2' is one too many; try "
	        "'dcf-ctl --help'\n"},
	    {OPT_P_CTL, {"pause", "-1", NULL},
	        "dcf-ctl: pause '-1': a network is a number from 0 to 255; try 'dcf-ctl --help'\n"},
	    {OPT_P_CTL, {"resume", "1", "2", NULL},
	        "dcf-ctl: resume takes one network at most: '2' is one too many; try 'dcf-ctl "
	        "--help'\n"},
	    {OPT_P_CTL, {"cancel", NULL},
	        "dcf-ctl: cancel needs the task's id (dcf-submit printed it); try 'dcf-ctl "
	        "--help'\n"},
	    {OPT_P_CTL, {"cancel", "0", NULL},
	        "dcf-ctl: cancel '0': a task id is a whole number from 1; try 'dcf-ctl --help'\n"},
	    {OPT_P_CTL, {"cancel", "3", "4", NULL},
	        "dcf-ctl: cancel takes one task id: '4' is one too many; try 'dcf-ctl --help'\n"},
	    {OPT_P_CTL, {"kill", "3", "TERMINATE", NULL},
	        "dcf-ctl: kill 'TERMINATE': not a signal: a name (TERM, KILL, INT...) or a number; "
	        "try 'dcf-ctl --help'\n"},
	    {OPT_P_CTL, {"kill", "3", "9", "x", NULL},
	        "dcf-ctl: kill takes a task id and a signal at most: 'x' is one too many; try "
	        "'dcf-ctl --help'\n"},
	    {OPT_P_CTL, {"drain", "0", NULL},
	        "dcf-ctl: drain takes nothing: '0' is one too many; try 'dcf-ctl --help'\n"},
	    {OPT_P_CTL, {"--tasks", "drain", NULL},
	        "dcf-ctl: unknown option '--tasks' (an option of dcf-supervisor); try "
	        "'dcf-ctl --help'\n"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *out;

		assert_int_equal(parse(cases[i].prog, &out, cases[i].args), -1);
		assert_string_equal(out, cases[i].line);
	}
}

static void
test_quote(void **state)
{
	char q[OPT_QUOTE_LEN], big[OPT_QUOTE_SHOWN + 10];

	(void)state;
	opt_quote(q, sizeof(q), "");
	assert_string_equal(q, "''");
	opt_quote(q, sizeof(q), "a'b\\c\td\re\x7f");
	assert_string_equal(q, "'a\\'b\\\\c\\td\\re\\x7f'");
	/* UTF-8 is kept; a C1 control, an overlong form, a surrogate, a cut sequence are not. */
	opt_quote(q, sizeof(q), "\xe2\x82\xac \xc2\x9b \xc0\xaf \xed\xa0\x80 \xe2\x82");
	assert_string_equal(q, "'\xe2\x82\xac \\xc2\\x9b \\xc0\\xaf \\xed\\xa0\\x80 \\xe2\\x82'");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	opt_quote(q, sizeof(q), big);
	assert_int_equal(strlen(q), OPT_QUOTE_SHOWN + 5);
	assert_string_equal(q + OPT_QUOTE_SHOWN + 1, "'...");
	/* Too small a buffer: an empty string, never an overflow. */
	opt_quote(q, 8, "abc");
	assert_string_equal(q, "");
}

static int
group_teardown(void **state)
{
	(void)state;
	fz_capture_close();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_meaning_per_letter),
	    cmocka_unit_test(test_help_lists_exactly_its_entries),
	    cmocka_unit_test(test_every_entry_is_taken),
	    cmocka_unit_test(test_getopt_forms),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_quote),
	};

	return cmocka_run_group_tests(tests, NULL, group_teardown);
}
