/* opts.c - the options of every dcf program (opts.h): the table, its parser, its help. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dcf/layout.h"
#include "dcf/seg.h"
#include "dcf/store.h"
#include "dcf/util.h"
#include "opts.h"

static const char *const work_words[] = {"sleep", "cpu", "none", NULL};
/* In enum sup_schedule's order. */
static const char *const schedule_words[] = {"round-robin", "least-loaded", "weighted", NULL};
/* In enum dcf_level's order. */
static const char *const level_words[] = {"debug", "info", "warning", "error", NULL};
/* In enum dcf_store_state's order. */
static const char *const state_words[] = {"queued", "running", "done", "failed", "quarantined",
    "cancelled", "dep-failed", NULL};

#define ALL OPT_P_ALL
#define SUP OPT_P_SUPERVISOR
#define STA OPT_P_STATUS
#define SUB OPT_P_SUBMIT
#define CTL OPT_P_CTL
#define WEB OPT_P_WEB
#define REQ OPT_ARG_REQUIRED

/* In the order --help lists them. */
const struct opt opt_table[OPT_NENTRIES] = {
    [OPT_NAME] = {"name", 'n', REQ, OPT_K_NAME, "NAME", 0, 0, NULL, ALL,
        "the instance's name (default dcf)"},
    [OPT_NETWORKS] = {"networks", 0, REQ, OPT_K_UINT, "N", 1, DCF_MAX_NETS, NULL, SUP,
        "networks (default 3)"},
    [OPT_NODES] = {"nodes", 'N', REQ, OPT_K_UINT, "N", 1, DCF_MAX_NODES, NULL, SUP,
        "nodes per network (default 50)"},
    [OPT_MAX_NETWORKS] = {"max-networks", 0, REQ, OPT_K_UINT, "N", 1, DCF_MAX_NETS, NULL, SUP,
        "--serve: room for N networks, for dcf-ctl add-network\n(default: --networks)"},
    [OPT_MAX_NODES] = {"max-nodes", 0, REQ, OPT_K_UINT, "N", 1, DCF_MAX_NODES, NULL, SUP,
        "--serve: room for N nodes a network, for dcf-ctl scale\n(default: --nodes)"},
    [OPT_TASKS] = {"tasks", 't', REQ, OPT_K_UINT, "N", 1, 1ULL << 48, NULL, SUP,
        "tasks to run (default 1000)"},
    [OPT_TASK_MS] = {"task-ms", 0, REQ, OPT_K_RANGE, "MIN[-MAX]", 0, 86400000, NULL, SUP,
        "task duration in ms, uniform (default 1000-8000)"},
    [OPT_WORK] = {"work", 0, REQ, OPT_K_WORD, "KIND", 0, 0, work_words, SUP,
        "sleep | cpu | none (default sleep)"},
    [OPT_SCHEDULE] = {"schedule", 0, REQ, OPT_K_WORD, "POLICY", 0, 0, schedule_words, SUP,
        "which network a new task goes to: round-robin (the\ndefault), least-loaded (the "
        "shortest queue per live\nnode) or weighted (round-robin weighted by live nodes)"},
    [OPT_FAIL_RATE] = {"fail-rate", 0, REQ, OPT_K_PROB, "P", 0, 0, NULL, SUP,
        "chance per node per second of a real crash (default 0.01)"},
    [OPT_DOWNTIME] = {"downtime", 0, REQ, OPT_K_RANGE, "MIN[-MAX]", 0, 3600000, NULL, SUP,
        "ms before a crashed node restarts (default 1000-4000)"},
    [OPT_MAX_ATTEMPTS] = {"max-attempts", 0, REQ, OPT_K_UINT, "K", 1, 1000000, NULL, SUP,
        "crashed runs before a task is quarantined (default 3)"},
    [OPT_MAX_RESTARTS] = {"max-restarts", 0, REQ, OPT_K_UINT, "R", 0, 1000000, NULL, SUP,
        "restarts allowed per node within the window (default 5)"},
    [OPT_RESTART_WINDOW] = {"restart-window", 0, REQ, OPT_K_UINT, "S", 1, 86400, NULL, SUP,
        "the window, seconds (default 30)"},
    [OPT_HANG_TIMEOUT] = {"hang-timeout", 0, REQ, OPT_K_UINT, "MS", 10, 86400000, NULL, SUP,
        "kill a busy or stopped node without progress (default 5000)"},
    [OPT_GRACE_MS] = {"grace-ms", 0, REQ, OPT_K_UINT, "MS", 0, 3600000, NULL, SUP,
        "on SIGINT/SIGTERM, time for running tasks (default 5000)"},
    [OPT_SEED] = {"seed", 0, REQ, OPT_K_UINT, "N", 0, UINT64_MAX, NULL, SUP,
        "make durations and chaos reproducible"},
    [OPT_LOG] = {"log", 0, REQ, OPT_K_FILE, "FILE", 0, 0, NULL, SUP,
        "append the log to FILE instead of stderr"},
    [OPT_LOG_LEVEL] = {"log-level", 0, REQ, OPT_K_WORD, "LEVEL", 0, 0, level_words, SUP,
        "debug | info | warning | error (default info)"},
    [OPT_QUIET] = {"quiet", 'q', OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, SUP,
        "warnings and errors only"},
    [OPT_ARG_FILE] = {"arg-file", 'a', REQ, OPT_K_INFILE, "FILE", 0, 0, NULL, SUP,
        "read the input lines from FILE, not standard input"},
    [OPT_NULL] = {"null", '0', OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, SUP | SUB,
        "input lines end in a NUL byte (find -print0), as xargs -0"},
    [OPT_COMMANDS] = {"commands", 0, REQ, OPT_K_INFILE, "FILE", 0, 0, NULL, SUP,
        "run each line of FILE (- for standard input) with /bin/sh -c"},
    [OPT_RETRIES] = {"retries", 'r', REQ, OPT_K_UINT, "N", 0, 1000000, NULL, SUP | SUB,
        "rerun a command that failed or timed out N times (default 0)"},
    [OPT_RETRY_DELAY] = {"retry-delay", 0, REQ, OPT_K_DURATION, "DURATION", 0, 86400000, NULL, SUP,
        "wait before each rerun (default 0; 500ms, 2s, 1m, 1h)"},
    [OPT_TIMEOUT] = {"timeout", 0, REQ, OPT_K_DURATION, "DURATION", 1, 4000000000ULL, NULL,
        SUP | SUB, "end a run longer than DURATION: SIGTERM to its tree"},
    [OPT_KILL_AFTER] = {"kill-after", 0, REQ, OPT_K_DURATION, "DURATION", 0, 4000000000ULL, NULL,
        SUP, "then SIGKILL, this much later (default 5s)"},
    [OPT_JOBLOG] = {"joblog", 0, REQ, OPT_K_FILE, "FILE", 0, 0, NULL, SUP,
        "a line per finished task, GNU parallel's format and more"},
    [OPT_RESUME] = {"resume", 0, OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, SUP,
        "skip input whose command the joblog has as run"},
    [OPT_RESUME_FAILED] = {"resume-failed", 0, OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, SUP,
        "skip those that succeeded; rerun those that failed"},
    [OPT_RESULTS] = {"results", 0, REQ, OPT_K_DIR, "DIR", 0, 0, NULL, SUP,
        "keep each task's stdout, stderr and meta in DIR/SEQ/"},
    [OPT_STORE] = {"store", 's', REQ, OPT_K_STORE, "FILE|URL", 0, 0, NULL, SUP | STA | WEB,
        "record every task in FILE (SQLite) or a postgresql:// URL;\na run killed midway "
        "resumes where it stood when\nstarted again with it"},
    [OPT_SERVE] = {"serve", 0, OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, SUP,
        "run until stopped, running what dcf-submit sends;\nevery task durable in the store "
        "(default:\n$XDG_STATE_HOME/dcf/NAME.db)"},
    [OPT_KEY] = {"key", 'k', REQ, OPT_K_TEXT, "KEY", 1, 400, NULL, SUB,
        "submit once: the task that has KEY already is the answer\n(--batch: KEY-LINE for each "
        "line)"},
    [OPT_WAIT] = {"wait", 0, OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, SUB,
        "then wait for its end, and exit with its status"},
    [OPT_PRIORITY] = {"priority", 'p', REQ, OPT_K_INT, "P", (uint64_t)DCF_PRIO_MIN, DCF_PRIO_MAX,
        NULL, SUB,
        "-4 to 4, higher first (default 0); FIFO within a\npriority (--batch: every line's)"},
    [OPT_DELAY] = {"delay", 'd', REQ, OPT_K_DURATION, "DURATION", 0, 31536000000ULL, NULL, SUB,
        "start it no sooner than DURATION from now (a year at\nmost: 90s, 15m, 2h, 1d)"},
    [OPT_AT] = {"at", 0, REQ, OPT_K_TIME, "TIME", 0, 0, NULL, SUB,
        "start it no sooner than TIME: YYYY-MM-DD HH:MM[:SS]\n(local) or @SECONDS since 1970"},
    [OPT_AFTER] = {"after", 0, REQ, OPT_K_IDS, "ID[,ID...]", 1, INT64_MAX, NULL, SUB,
        "run it once tasks ID... have all succeeded; if one\ndoes not, it ends dep-failed, never "
        "run"},
    [OPT_AFTER_ANY] = {"after-any", 0, REQ, OPT_K_IDS, "ID[,ID...]", 1, INT64_MAX, NULL, SUB,
        "run it once tasks ID... have ended, however they did"},
    [OPT_NETWORK] = {"network", 0, REQ, OPT_K_UINT, "N", 0, DCF_MAX_NETS - 1, NULL, SUB,
        "run it on network N's nodes only, whatever befalls\nthem (--batch: every line)"},
    [OPT_HOST] = {"host", 0, REQ, OPT_K_TEXT, "ID", 1, 128, NULL, SUB,
        "run it on that host only (its --host-id; a store several\nhosts share), on its "
        "network N with --network"},
    [OPT_BATCH] = {"batch", 'b', OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, SUB,
        "a task per line of standard input ({} in the command is\nthe line, as "
        "dcf-supervisor's); an id per line out"},
    [OPT_LINES_ARE_COMMANDS] = {"commands", 0, OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, SUB,
        "with --batch: each line is a command for /bin/sh -c"},
    [OPT_KEEP] = {"keep", 0, REQ, OPT_K_KEEP, "N|AGE", 1, 1ULL << 40, NULL, SUP,
        "--serve: keep the newest N finished tasks (default\n100000), or those that ended "
        "within AGE (30d);\nolder ones and their output are deleted"},
    [OPT_HOST_ID] = {"host-id", 0, REQ, OPT_K_TEXT, "ID", 1, 100, NULL, SUP,
        "--serve on a PostgreSQL store: this host's name among\nthose sharing it (default "
        "HOSTNAME/NAME)"},
    [OPT_LEASE] = {"lease", 0, REQ, OPT_K_DURATION, "DURATION", 1000, 3600000, NULL, SUP,
        "--serve on a PostgreSQL store: how long a task this host\nholds stays its without a "
        "renewal (default 30s)"},
    [OPT_ALLOW_USER] = {"allow-user", 0, REQ, OPT_K_TEXT, "USER[,USER...]", 1, 400, NULL, SUP,
        "--serve run by root: these users (names or uids) may\nsubmit and wait too; their "
        "tasks run as them"},
    [OPT_NO_CGROUPS] = {"no-cgroups", 0, OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, SUP,
        "a task's tree in its process group only, not a cgroup\n(when something else manages "
        "ours)"},
    [OPT_TASK_LIST] = {"tasks", 0, OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, STA,
        "a service's tasks, from its store (--store FILE, or\nNAME's default)"},
    [OPT_HOSTS] = {"hosts", 0, OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, STA,
        "the hosts sharing a PostgreSQL store (--store URL): each\none's pid, start, last "
        "sign of life and what it holds"},
    [OPT_TASK] = {"task", 0, REQ, OPT_K_UINT, "ID", 1, INT64_MAX, NULL, STA,
        "one task: command, outcome, runs, times, output"},
    [OPT_STATE] = {"state", 0, REQ, OPT_K_WORD, "STATE", 0, 0, state_words, STA,
        "with --tasks: those in STATE only"},
    [OPT_STDOUT] = {"stdout", 0, REQ, OPT_K_UINT, "ID", 1, INT64_MAX, NULL, STA,
        "print a finished task's standard output"},
    [OPT_STDERR] = {"stderr", 0, REQ, OPT_K_UINT, "ID", 1, INT64_MAX, NULL, STA,
        "print a finished task's standard error"},
    [OPT_NODE_ROWS] = {"nodes", 0, OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, STA,
        "one row per node"},
    [OPT_JSON] = {"json", 'j', OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, STA,
        "one JSON document (fields in dcf-status(1))"},
    [OPT_WATCH] = {"watch", 'w', OPT_ARG_OPTIONAL, OPT_K_SECONDS, "SECONDS", 100, 3600000, NULL,
        STA,
        "refresh every SECONDS (default 1; 0.1 to 3600) until\nthe run ends; q or Ctrl-C quits, "
        "j/k and space/b\nscroll; off a terminal, JSON Lines"},
    [OPT_COUNT] = {"count", 'c', REQ, OPT_K_UINT, "N", 1, UINT64_MAX, NULL, STA,
        "with --watch: stop after N snapshots"},
    [OPT_LIST] = {"list", 'l', OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, STA,
        "every instance on this machine: live, ended, stale"},
    [OPT_REMOVE_STALE] = {"remove-stale", 0, REQ, OPT_K_NAME, "NAME", 0, 0, NULL, STA,
        "remove NAME's segment if its supervisor is dead"},
    [OPT_NOW] = {"now", 0, OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, CTL,
        "scale down, stop-node, restart-node, remove-network: a\nnode's task is put back at "
        "once, not waited for"},
    [OPT_LISTEN] = {"listen", 0, REQ, OPT_K_TEXT, "ADDR:PORT", 3, 64, NULL, WEB,
        "serve on ADDR:PORT (default 127.0.0.1:8080; port 0: any\nfree one, printed); an IPv6 "
        "address in brackets"},
    [OPT_CONTROL] = {"control", 0, OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, WEB,
        "offer pause, resume, scale, cancel, kill and restart-node,\neach request carrying the "
        "token (printed at the start)"},
    [OPT_TOKEN_FILE] = {"token-file", 0, REQ, OPT_K_INFILE, "FILE", 0, 0, NULL, WEB,
        "--control: the token is FILE's first line, not a new one"},
    [OPT_HELP] = {"help", 'h', OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, ALL, "this text"},
    [OPT_VERSION] = {"version", 'V', OPT_ARG_NONE, OPT_K_FLAG, NULL, 0, 0, NULL, ALL,
        "the version"},
};

/*
 * For the programs to come (issues 13 to 15): the letters they may take,
 * and the options that must not take the letter their name suggests.
 */
const struct opt_plan opt_planned[] = {
    {0, "after", "dcf-submit: dependencies; -a is --arg-file"},
    {0, "timeout", "dcf-supervisor, dcf-submit: -t is --tasks"},
    {0, "listen", "dcf-web: -l is left for dcf-status --list"},
};
const size_t opt_nplanned = sizeof(opt_planned) / sizeof(opt_planned[0]);

const struct opt_program opt_programs[] = {
    {OPT_P_SUPERVISOR, "dcf-supervisor", "[options] [-- COMMAND [ARG...] | --commands FILE]",
        "Run commands (or the demo) in worker processes that survive real crashes."},
    {OPT_P_STATUS, "dcf-status", "[options]",
        "Show the state of a running dcf system (read-only, takes no lock)."},
    {OPT_P_SUBMIT, "dcf-submit", "[options] -- COMMAND [ARG...]",
        "Give a task to a dcf-supervisor --serve; print its id once it is on disk."},
    {OPT_P_CTL, "dcf-ctl",
        "[options] pause [NETWORK] | resume [NETWORK] | drain | cancel ID | kill ID [SIGNAL] |\n"
        "       priority ID P | retry ID | scale NETWORK [+|-]N | stop-node NETWORK NODE |\n"
        "       restart-node NETWORK NODE | no-restart NETWORK NODE | add-network N |\n"
        "       remove-network NETWORK",
        "Control a running dcf-supervisor --serve: pause or resume a network (or all),\n"
        "drain it (no new submissions; it exits 0 once every task has ended), cancel a\n"
        "task that has not started, signal a running task's processes (TERM), give\n"
        "a task that has not started another priority (-4 to 4), submit a task that\n"
        "failed again, give a network more or fewer nodes (up to --max-nodes), stop,\n"
        "restart or stop restarting one node, or add or remove a network."},
    {OPT_P_WEB, "dcf-web", "[options]",
        "Serve a live dashboard of a running dcf system, and its Prometheus metrics\n"
        "(read-only: it takes no lock and writes nothing; --control goes through\n"
        "the same socket and checks as dcf-ctl)."},
};
const size_t opt_nprograms = sizeof(opt_programs) / sizeof(opt_programs[0]);

const struct opt_program *
opt_program(enum opt_prog prog)
{
	for (size_t i = 0; i < opt_nprograms; i++)
		if (opt_programs[i].bit == prog)
			return &opt_programs[i];
	return &opt_programs[0];
}

/* ---- quoting ------------------------------------------------------ */

/* The length of the UTF-8 sequence at s (RFC 3629), or 0 if it is not one. */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing past U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	/* U+0080..U+009F, the C1 controls, are escaped like C0's. */
	if (c == 0xc2 && s[1] <= 0x9f)
		return 0;
	return n;
}

void
opt_quote(char *buf, size_t len, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, shown = 0;
	char esc[8];

	if (len < OPT_QUOTE_LEN) {
		if (len > 0)
			buf[0] = '\0';
		return;
	}
	buf[o++] = '\'';
	while (*p != '\0') {
		size_t n = utf8_len(p);
		const char *add = esc;
		size_t addlen;

		if (n > 0) {
			add = (const char *)p;
			addlen = n;
		} else {
			n = 1;
			if (*p == '\\' || *p == '\'')
				snprintf(esc, sizeof(esc), "\\%c", *p);
			else if (*p == '\n')
				strcpy(esc, "\\n");
			else if (*p == '\t')
				strcpy(esc, "\\t");
			else if (*p == '\r')
				strcpy(esc, "\\r");
			else if (*p < 0x20 || *p >= 0x7f)
				snprintf(esc, sizeof(esc), "\\x%02x", *p);
			else
				snprintf(esc, sizeof(esc), "%c", *p);
			addlen = strlen(esc);
		}
		if (shown + n > OPT_QUOTE_SHOWN)
			break;
		memcpy(buf + o, add, addlen);
		o += addlen;
		shown += n;
		p += n;
	}
	buf[o++] = '\'';
	if (*p != '\0') {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

/* ---- values ------------------------------------------------------- */

/* Milliseconds as seconds: "0.1", "3600". */
static void
seconds_text(char *buf, size_t len, uint64_t ms)
{
	int n = snprintf(buf, len, "%llu.%03llu", (unsigned long long)(ms / 1000),
	    (unsigned long long)(ms % 1000));

	while (n > 0 && (size_t)n < len && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && (size_t)n < len && buf[n - 1] == '.')
		buf[n - 1] = '\0';
}

/* What a value of o must be, after "expected ". */
static void
want(const struct opt *o, char *buf, size_t len)
{
	char a[32], b[32];
	size_t n = 0;

	switch (o->kind) {
	case OPT_K_UINT:
		snprintf(buf, len, "a whole number from %llu to %llu", (unsigned long long)o->min,
		    (unsigned long long)o->max);
		return;
	case OPT_K_INT:
		snprintf(buf, len, "a whole number from %lld to %lld", (long long)(int64_t)o->min,
		    (long long)(int64_t)o->max);
		return;
	case OPT_K_RANGE:
		snprintf(buf, len, "N or MIN-MAX with MIN <= MAX, each from %llu to %llu",
		    (unsigned long long)o->min, (unsigned long long)o->max);
		return;
	case OPT_K_PROB:
		snprintf(buf, len, "a probability from 0 to 1");
		return;
	case OPT_K_SECONDS:
		seconds_text(a, sizeof(a), o->min);
		seconds_text(b, sizeof(b), o->max);
		snprintf(buf, len, "seconds from %s to %s", a, b);
		return;
	case OPT_K_NAME:
		snprintf(buf, len, "%s", DCF_NAME_RULE);
		return;
	case OPT_K_WORD:
		buf[0] = '\0';
		for (size_t i = 0; o->words[i] != NULL && n < len; i++) {
			const char *sep = i == 0 ? "" : o->words[i + 1] == NULL ? " or " : ", ";

			n += (size_t)snprintf(buf + n, len - n, "%s%s", sep, o->words[i]);
		}
		return;
	case OPT_K_FILE:
		snprintf(buf, len, "a file name");
		return;
	case OPT_K_STORE:
		snprintf(buf, len, "a file name or a postgresql:// URL");
		return;
	case OPT_K_INFILE:
		snprintf(buf, len, "a file to read, or -");
		return;
	case OPT_K_DIR:
		snprintf(buf, len, "a directory");
		return;
	case OPT_K_IDS:
		snprintf(buf, len, "task ids, comma-separated (at most %u, each from %llu)",
		    OPT_IDS_MAX, (unsigned long long)o->min);
		return;
	case OPT_K_TIME:
		snprintf(buf, len,
		    "a time: YYYY-MM-DD HH:MM[:SS] (local time) or @SECONDS since 1970");
		return;
	case OPT_K_DURATION:
		seconds_text(a, sizeof(a), o->min);
		seconds_text(b, sizeof(b), o->max);
		snprintf(buf, len,
		    "a duration from %s to %s seconds (N, N.N, or with ms, s, m, h, d)", a, b);
		return;
	case OPT_K_TEXT:
		snprintf(buf, len, "%llu to %llu bytes of text, no control characters",
		    (unsigned long long)o->min, (unsigned long long)o->max);
		return;
	case OPT_K_KEEP:
		snprintf(buf, len,
		    "a count from %llu to %llu, or an age with its unit (30d, 12h, 90m)",
		    (unsigned long long)o->min, (unsigned long long)o->max);
		return;
	case OPT_K_FLAG:
		break;
	}
	snprintf(buf, len, "no value");
}

/* Seconds as "N" or "N.D..." (to the millisecond, the rest ignored), in [min, max] ms. */
static int
parse_seconds(const char *s, uint64_t min, uint64_t max, uint64_t *ms)
{
	uint64_t whole = 0, frac = 0, scale = 1000;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((whole = whole * 10 + (uint64_t)(*p - '0')) > max / 1000)
			return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++) {
			scale /= 10;
			frac += (uint64_t)(*p - '0') * scale;
		}
	if (*p != '\0')
		return -1;
	whole = whole * 1000 + frac;
	if (whole < min || whole > max)
		return -1;
	*ms = whole;
	return 0;
}

/*
 * A duration: a decimal number of seconds, or one with a unit (ms, s, m,
 * h, d): "1.5", "500ms", "2m". To the millisecond, in [min, max] ms.
 */
/* A time (OPT_K_TIME) as CLOCK_REALTIME ns: 0, or -1. */
static int
parse_time(const char *s, uint64_t *ns)
{
	struct tm tm;
	const char *end;
	uint64_t secs;
	time_t t;

	if (s[0] == '@') {
		if (dcf_parse_u64(s + 1, 0, 253402300799ULL, &secs) == -1)
			return -1;
		*ns = secs * 1000000000ULL;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%d", &tm)) == NULL || (*end != ' ' && *end != 'T'))
		return -1;
	if ((end = strptime(end + 1, "%H:%M", &tm)) == NULL)
		return -1;
	if (*end == ':' && (end = strptime(end + 1, "%S", &tm)) == NULL)
		return -1;
	if (*end != '\0')
		return -1;
	tm.tm_isdst = -1;
	if ((t = mktime(&tm)) == (time_t)-1 || t < 0)
		return -1;
	*ns = (uint64_t)t * 1000000000ULL;
	return 0;
}

static int
parse_duration(const char *s, uint64_t min, uint64_t max, uint64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
	    {"d", 86400000}};
	uint64_t whole = 0, frac = 0, scale = 1000000, mult = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((whole = whole * 10 + (uint64_t)(*p - '0')) > UINT32_MAX * 1000ULL)
			return -1;
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++) {
			scale /= 10; /* millionths of the unit; digits past them ignored */
			frac += (uint64_t)(*p - '0') * scale;
		}
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(p, units[i].unit) == 0)
			mult = units[i].ms;
	if (mult == 0 || whole > max / mult + 1)
		return -1;
	whole = whole * mult + frac * mult / 1000000;
	if (whole < min || whole > max)
		return -1;
	*ms = whole;
	return 0;
}

/* A file to read now: it exists and is no directory ("-": standard input). */
static int
infile_check(const char *path, char *why, size_t len)
{
	struct stat st;

	if (strcmp(path, "-") == 0)
		return 0;
	if (*path == '\0' || stat(path, &st) == -1) {
		snprintf(why, len, "%s", *path == '\0' ? "expected a file name" : strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(why, len, "is a directory; give a file");
		return -1;
	}
	return 0;
}

/* A directory that is there, or can be made in one that is. */
static int
dir_check(const char *path, char *why, size_t len)
{
	char parent[PATH_MAX];
	struct stat st;
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(parent)) {
		snprintf(why, len, "%s", n == 0 ? "expected a directory" : strerror(ENAMETOOLONG));
		return -1;
	}
	if (stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			snprintf(why, len, "is not a directory");
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(why, len, "%s", strerror(errno));
		return -1;
	}
	memcpy(parent, path, n + 1);
	while (n > 1 && parent[n - 1] == '/')
		parent[--n] = '\0';
	while (n > 0 && parent[n - 1] != '/')
		n--;
	if (n == 0)
		return 0; /* in the current directory */
	parent[n] = '\0';
	if (stat(parent, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(why, len, "its parent directory does not exist");
		return -1;
	}
	return 0;
}

/* A file the log can be opened on later: what can be told now, without creating it. */
static int
file_check(const char *path, char *why, size_t len)
{
	char dir[PATH_MAX];
	const char *slash;
	struct stat st;

	if (*path == '\0') {
		snprintf(why, len, "expected a file name");
		return -1;
	}
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode)) {
			snprintf(why, len, "is a %s; give a file, a FIFO or a terminal",
			    S_ISDIR(st.st_mode) ? "directory" : "block device");
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(why, len, "%s", strerror(errno));
		return -1;
	}
	/* A new file: its directory must be there. */
	slash = strrchr(path, '/');
	if (slash == NULL)
		return 0;
	if ((size_t)(slash - path) >= sizeof(dir)) {
		snprintf(why, len, "%s", strerror(ENAMETOOLONG));
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (dir[0] == '\0')
		strcpy(dir, "/");
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(why, len, "its directory does not exist");
		return -1;
	}
	return 0;
}

/* 0 and *v, or -1 and why (without the value: the caller quotes it). */
static int
parse_value(const struct opt *o, const char *s, struct opt_val *v, char *why, size_t len)
{
	char w[DCF_ERRLEN - 16];

	v->s = s;
	switch (o->kind) {
	case OPT_K_UINT:
		if (dcf_parse_u64(s, o->min, o->max, &v->u) == 0)
			return 0;
		break;
	case OPT_K_INT:
		if (dcf_parse_i64(s, (int64_t)o->min, (int64_t)o->max, &v->i) == 0)
			return 0;
		break;
	case OPT_K_RANGE:
		if (dcf_parse_range(s, o->min, o->max, &v->lo, &v->hi) == 0)
			return 0;
		break;
	case OPT_K_PROB:
		if (dcf_parse_prob_ppm(s, &v->u) == 0)
			return 0;
		break;
	case OPT_K_SECONDS:
		if (parse_seconds(s, o->min, o->max, &v->u) == 0)
			return 0;
		break;
	case OPT_K_NAME:
		if (dcf_name_check(s, why, len) == 0)
			return 0;
		return -1;
	case OPT_K_WORD:
		for (size_t i = 0; o->words[i] != NULL; i++)
			if (strcmp(s, o->words[i]) == 0) {
				v->u = i;
				return 0;
			}
		break;
	case OPT_K_FILE:
		return file_check(s, why, len);
	case OPT_K_STORE:
		return dcf_store_is_url(s) ? 0 : file_check(s, why, len);
	case OPT_K_INFILE:
		return infile_check(s, why, len);
	case OPT_K_DIR:
		return dir_check(s, why, len);
	case OPT_K_DURATION:
		if (parse_duration(s, o->min, o->max, &v->u) == 0)
			return 0;
		break;
	case OPT_K_KEEP: {
		size_t digits = strspn(s, "0123456789");

		v->lo = s[digits] != '\0';
		if (!v->lo && dcf_parse_u64(s, o->min, o->max, &v->u) == 0)
			return 0;
		if (v->lo && digits > 0 && parse_duration(s, 1, 315360000000ULL, &v->u) == 0)
			return 0;
		break;
	}
	case OPT_K_TEXT: {
		size_t n = strlen(s);
		int ok = n >= o->min && n <= o->max;

		for (size_t i = 0; ok && i < n; i++)
			ok = (unsigned char)s[i] >= 0x20 && s[i] != 0x7f;
		if (ok)
			return 0;
		break;
	}
	case OPT_K_TIME:
		if (parse_time(s, &v->u) == 0)
			return 0;
		break;
	case OPT_K_IDS: {
		const char *p = s;
		uint64_t id;

		for (v->u = 0; v->u < OPT_IDS_MAX; p++) {
			char part[24];
			size_t n = strcspn(p, ",");

			if (n == 0 || n >= sizeof(part))
				break;
			memcpy(part, p, n);
			part[n] = '\0';
			if (dcf_parse_u64(part, o->min, o->max, &id) == -1)
				break;
			v->u++;
			p += n;
			if (*p == '\0')
				return 0;
		}
		break;
	}
	case OPT_K_FLAG:
		snprintf(why, len, "takes no value");
		return -1;
	}
	want(o, w, sizeof(w));
	snprintf(why, len, "expected %s", w);
	return -1;
}

/* ---- errors ------------------------------------------------------- */

enum opt_next
opt_usage_error(const struct opt_parser *p, const char *fmt, ...)
{
	char msg[2 * OPT_QUOTE_LEN + 2 * DCF_ERRLEN], line[sizeof(msg) + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One write: the line cannot interleave with another process's. */
	snprintf(line, sizeof(line), "%s: %s; try '%s --help'\n", p->prog->name, msg,
	    p->prog->name);
	if (p->err != NULL)
		snprintf(p->err, p->errlen, "%s", msg);
	else
		fputs(line, stderr);
	return OPT_ERROR;
}

enum opt_next
opt_bad_value(const struct opt_parser *p, enum opt_id id, const char *value, const char *why)
{
	char q[OPT_QUOTE_LEN];

	opt_quote(q, sizeof(q), value);
	return opt_usage_error(p, "--%s %s: %s", opt_table[id].name, q, why);
}

static enum opt_next
missing(const struct opt_parser *p, enum opt_id id)
{
	char w[DCF_ERRLEN];

	want(&opt_table[id], w, sizeof(w));
	return opt_usage_error(p, "--%s needs a value: %s", opt_table[id].name, w);
}

/*
 * Unknown here: the user's option quoted; if other programs take it, whose
 * it is: " (an option of dcf-supervisor)", or for a letter
 * " (-N is --nodes N in dcf-supervisor)".
 */
static enum opt_next
unknown(const struct opt_parser *p, const char *arg, const struct opt *other)
{
	char q[OPT_QUOTE_LEN], hint[160] = "";
	const char *sep = " ";
	size_t n;

	opt_quote(q, sizeof(q), arg);
	if (other != NULL) {
		if (arg[1] == '-')
			n = (size_t)snprintf(hint, sizeof(hint), " (an option of");
		else
			n = (size_t)snprintf(hint, sizeof(hint), " (-%c is --%s%s%s in",
			    other->letter, other->name, other->metavar != NULL ? " " : "",
			    other->metavar != NULL ? other->metavar : "");
		for (size_t i = 0; i < opt_nprograms && n < sizeof(hint); i++) {
			if (!(other->progs & opt_programs[i].bit))
				continue;
			n += (size_t)snprintf(hint + n, sizeof(hint) - n, "%s%s", sep,
			    opt_programs[i].name);
			sep = ", ";
		}
		if (n < sizeof(hint))
			snprintf(hint + n, sizeof(hint) - n, ")");
	}
	return opt_usage_error(p, "unknown option %s%s", q, hint);
}

/* ---- the walk ----------------------------------------------------- */

void
opt_begin(struct opt_parser *p, enum opt_prog prog, int argc, char **argv)
{
	memset(p, 0, sizeof(*p));
	p->prog = opt_program(prog);
	p->argc = argc;
	p->argv = argv;
	p->ind = 1;
}

static int
ours(const struct opt_parser *p, enum opt_id id)
{
	return (opt_table[id].progs & p->prog->bit) != 0;
}

/* The next argument as the value of an optional one: only if it starts with a digit. */
static const char *
optional_next(struct opt_parser *p)
{
	const char *a = p->ind < p->argc ? p->argv[p->ind] : NULL;

	if (a == NULL || a[0] < '0' || a[0] > '9')
		return NULL;
	p->ind++;
	return a;
}

static enum opt_next
found(struct opt_parser *p, enum opt_id i, const char *val, enum opt_id *id, struct opt_val *v)
{
	char why[DCF_ERRLEN];

	if (val != NULL && parse_value(&opt_table[i], val, v, why, sizeof(why)) == -1)
		return opt_bad_value(p, i, val, why);
	if (i == OPT_HELP) {
		opt_help(stdout, p->prog->bit);
		return OPT_EXIT;
	}
	if (i == OPT_VERSION) {
		printf("%s %s\n", p->prog->name, DCF_VERSION);
		return OPT_EXIT;
	}
	*id = i;
	return OPT_FOUND;
}

/* A prefix of several long names: say which. */
static enum opt_next
ambiguous(const struct opt_parser *p, const char *arg, size_t n)
{
	char q[OPT_QUOTE_LEN], names[256];
	size_t k = 0;

	names[0] = '\0';
	for (int i = 0; i < OPT_NENTRIES && k < sizeof(names); i++)
		if (ours(p, (enum opt_id)i) && strncmp(opt_table[i].name, arg + 2, n) == 0)
			k += (size_t)snprintf(names + k, sizeof(names) - k, "%s--%s",
			    k == 0 ? "" : ", ", opt_table[i].name);
	opt_quote(q, sizeof(q), arg);
	return opt_usage_error(p, "ambiguous option %s (%s)", q, names);
}

static enum opt_next
long_opt(struct opt_parser *p, const char *arg, enum opt_id *id, struct opt_val *v)
{
	const char *name = arg + 2, *eq = strchr(name, '='), *val = NULL;
	size_t n = eq != NULL ? (size_t)(eq - name) : strlen(name);
	int hit = -1, hits = 0;
	const struct opt *o;

	/* An exact name, else a prefix of only one (getopt_long's rule). */
	for (int i = 0; i < OPT_NENTRIES && n > 0; i++) {
		if (!ours(p, (enum opt_id)i) || strncmp(opt_table[i].name, name, n) != 0)
			continue;
		hit = i;
		if (opt_table[i].name[n] == '\0') {
			hits = 1;
			break;
		}
		hits++;
	}
	if (hits > 1)
		return ambiguous(p, arg, n);
	if (hits == 0) {
		for (int i = 0; i < OPT_NENTRIES; i++)
			if (n > 0 && strncmp(opt_table[i].name, name, n) == 0 &&
			    opt_table[i].name[n] == '\0')
				return unknown(p, arg, &opt_table[i]);
		return unknown(p, arg, NULL);
	}
	o = &opt_table[hit];
	if (eq != NULL) {
		if (o->arg == OPT_ARG_NONE)
			return opt_bad_value(p, (enum opt_id)hit, eq + 1, "takes no value");
		val = eq + 1;
	} else if (o->arg == OPT_ARG_REQUIRED) {
		if (p->ind >= p->argc)
			return missing(p, (enum opt_id)hit);
		val = p->argv[p->ind++];
	} else if (o->arg == OPT_ARG_OPTIONAL) {
		val = optional_next(p);
	}
	return found(p, (enum opt_id)hit, val, id, v);
}

static enum opt_next
short_opt(struct opt_parser *p, enum opt_id *id, struct opt_val *v)
{
	char c = *p->cluster++, letter[3] = {'-', c, '\0'};
	const char *val = NULL;
	int hit = -1;

	for (int i = 0; i < OPT_NENTRIES; i++)
		if (opt_table[i].letter == c)
			hit = i;
	if (hit == -1 || !ours(p, (enum opt_id)hit)) {
		p->cluster = NULL;
		return unknown(p, letter, hit == -1 ? NULL : &opt_table[hit]);
	}
	if (opt_table[hit].arg == OPT_ARG_NONE)
		return found(p, (enum opt_id)hit, NULL, id, v);
	/* The rest of the cluster is the value ("-t5"), else the next argument. */
	if (*p->cluster != '\0')
		val = p->cluster;
	else if (opt_table[hit].arg == OPT_ARG_OPTIONAL)
		val = optional_next(p);
	else if (p->ind < p->argc)
		val = p->argv[p->ind++];
	else
		return missing(p, (enum opt_id)hit);
	p->cluster = NULL;
	return found(p, (enum opt_id)hit, val, id, v);
}

enum opt_next
opt_next(struct opt_parser *p, enum opt_id *id, struct opt_val *v)
{
	const char *arg;

	memset(v, 0, sizeof(*v));
	if (p->cluster != NULL && *p->cluster != '\0')
		return short_opt(p, id, v);
	p->cluster = NULL;
	if (p->done || p->ind >= p->argc)
		return OPT_END;
	arg = p->argv[p->ind];
	if (arg[0] != '-' || arg[1] == '\0')
		return OPT_END; /* an operand: the options end here */
	if (strcmp(arg, "--") == 0) {
		p->ind++;
		p->done = 1; /* operands follow, whatever they look like */
		return OPT_END;
	}
	p->ind++;
	if (arg[1] == '-')
		return long_opt(p, arg, id, v);
	p->cluster = arg + 1;
	return short_opt(p, id, v);
}

enum opt_next
opt_no_operands(const struct opt_parser *p)
{
	char q[OPT_QUOTE_LEN];

	if (p->ind >= p->argc)
		return OPT_END;
	opt_quote(q, sizeof(q), p->argv[p->ind]);
	return opt_usage_error(p, "unexpected argument %s", q);
}

/* ---- help --------------------------------------------------------- */

/* "  -n, --name NAME" or "      --watch [SECONDS]". */
static int
help_left(const struct opt *o, char *buf, size_t len)
{
	const char *pre = o->metavar == NULL ? "" : o->arg == OPT_ARG_OPTIONAL ? " [" : " ";

	return snprintf(buf, len, "  %c%c%c --%s%s%s%s", o->letter ? '-' : ' ',
	    o->letter ? o->letter : ' ', o->letter ? ',' : ' ', o->name, pre,
	    o->metavar == NULL ? "" : o->metavar, o->arg == OPT_ARG_OPTIONAL ? "]" : "");
}

uint32_t
opt_ids(const char *s, uint64_t *ids)
{
	uint32_t n = 0;

	while (n < OPT_IDS_MAX && *s != '\0') {
		char *end;

		ids[n++] = strtoull(s, &end, 10);
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

void
opt_help(FILE *f, enum opt_prog prog)
{
	const struct opt_program *pg = opt_program(prog);
	char left[96];
	int col = 0;

	for (int i = 0; i < OPT_NENTRIES; i++) {
		int n = help_left(&opt_table[i], left, sizeof(left));

		if ((opt_table[i].progs & prog) && n > col)
			col = n;
	}
	col += 2;
	fprintf(f, "usage: %s %s\n%s\n\n", pg->name, pg->synopsis, pg->about);
	for (int i = 0; i < OPT_NENTRIES; i++) {
		const char *h = opt_table[i].help, *nl;

		if (!(opt_table[i].progs & prog))
			continue;
		help_left(&opt_table[i], left, sizeof(left));
		fprintf(f, "%-*s", col, left);
		while ((nl = strchr(h, '\n')) != NULL) {
			fprintf(f, "%.*s\n%*s", (int)(nl - h), h, col, "");
			h = nl + 1;
		}
		fprintf(f, "%s\n", h);
	}
	fprintf(f, "\nEvery exit status, and the rest: the manual, %s(1).\n", pg->name);
}
