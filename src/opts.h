/*
 * opts.h - the one table of command-line options of every dcf program, and
 * the one parser that reads a command line against it.
 *
 * An entry is one meaning: its long name, its letter (or none), whether it
 * takes a value, the kind of value (which says how it is parsed and
 * bounded), its help, and the programs that take it. What must hold, and
 * what test_opts checks:
 *  - a letter belongs to one entry: it means the same in every program that
 *    has it, and a program that lacks it says whose it is;
 *  - a long name may name two entries only if no program takes both (say
 *    dcf-supervisor's --nodes N and dcf-status's --nodes);
 *  - every program takes --name (-n), --help (-h) and --version (-V);
 *  - a program's --help lists exactly the entries it takes, in table order.
 *
 * The letters, and why:
 *   -n --name NAME   the instance, in every program: the option most typed
 *                    and the one that must never mean anything else (LXC's
 *                    tools use -n NAME the same way). dcf-status had it.
 *   -h -V            help and version, everywhere.
 *   -N -t -q         dcf-supervisor's --nodes N, --tasks N, --quiet, as before.
 *   -j -w -c         dcf-status's --json, --watch, --count, as before.
 *   none             dcf-supervisor's --networks (was -n: the name's letter),
 *                    dcf-status's --nodes (was -v, everyone's "verbose"):
 *                    no other letter says what they mean, and their long
 *                    names (and the unique prefixes of those) work as before.
 * A letter is for an option people type by hand and often; opt_planned lists
 * the letters kept for the programs to come, and the options that get none.
 *
 * Parsing follows getopt_long, so every command line that worked still
 * does: "--opt VALUE", "--opt=VALUE", a unique prefix of a long name,
 * clusters ("-qt5", "-t 5"), "--" to end the options, and the last of a
 * repeated option wins. Unlike getopt it stops at the first operand (as
 * POSIX says), keeps no global state and never reorders argv. An optional
 * value is "--opt=V", "-oV", or the next argument when that starts with a
 * digit ("--watch 2").
 *
 * Every error is one line on standard error and exit status 2, before the
 * program creates anything:
 *   PROG: --opt 'VALUE': what was wrong; try 'PROG --help'
 *   PROG: unknown option '--bogus'; try 'PROG --help'
 * A value is quoted once, escaped (opt_quote) so that no byte from the
 * command line reaches the terminal raw.
 */
#ifndef DCF_OPTS_H
#define DCF_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The programs, as bits of an entry's progs. */
enum opt_prog {
	OPT_P_SUPERVISOR = 1u << 0,
	OPT_P_STATUS = 1u << 1,
	OPT_P_SUBMIT = 1u << 2,
	OPT_P_CTL = 1u << 3,
	OPT_P_WEB = 1u << 4,
};
#define OPT_P_ALL (OPT_P_SUPERVISOR | OPT_P_STATUS | OPT_P_SUBMIT | OPT_P_CTL | OPT_P_WEB)

enum opt_arg { OPT_ARG_NONE, OPT_ARG_REQUIRED, OPT_ARG_OPTIONAL };

/* How a value is parsed and bounded; what it gives in struct opt_val. */
enum opt_kind {
	OPT_K_FLAG,     /* no value */
	OPT_K_UINT,     /* a whole decimal in [min, max]: u */
	OPT_K_INT,      /* a whole decimal, maybe signed, in [(int64_t)min, (int64_t)max]: i */
	OPT_K_RANGE,    /* "A" or "A-B", A <= B, each in [min, max]: lo, hi */
	OPT_K_PROB,     /* a decimal probability from 0 to 1: u, in parts per million */
	OPT_K_SECONDS,  /* seconds, "N" or "N.DDD", in [min, max] milliseconds: u, in ms */
	OPT_K_NAME,     /* an instance name (dcf_name_check): s */
	OPT_K_WORD,     /* one of words: u, its index */
	OPT_K_FILE,     /* a file to write: not a directory or a block device, in a
	                  directory that exists (nothing is created here): s */
	OPT_K_STORE,    /* a store: a postgresql:// URL, else as OPT_K_FILE: s */
	OPT_K_INFILE,   /* a file to read that exists and is not a directory, or "-": s */
	OPT_K_DIR,      /* a directory, or one to create in a directory that exists: s */
	OPT_K_DURATION, /* "N" seconds, decimals allowed, or with a unit: ms, s, m, h, d;
	                   in [min, max] milliseconds: u, in ms */
	OPT_K_TEXT,     /* min to max bytes of printable text, no control byte: s */
	OPT_K_TIME,     /* a time: YYYY-MM-DD HH:MM[:SS] (local, or with T) or @SECONDS: u, in
	                  CLOCK_REALTIME ns */
	OPT_K_KEEP,     /* a count N (1 to max): u, lo 0; or a DURATION with its unit
	                   (ms, s, m, h, d; at most 10 years): u in ms, lo 1 */
	OPT_K_IDS,      /* ID[,ID...]: at most OPT_IDS_MAX numbers in [min, max]: s, u their
	                   count (opt_ids reads them) */
};
#define OPT_IDS_MAX 1024u /* = DCF_DEPS_MAX (proto.h) */

/* The entries; opt_table[id] is entry id. */
enum opt_id {
	OPT_NAME,
	OPT_NETWORKS,
	OPT_MAX_NETWORKS,
	OPT_NODES,
	OPT_MAX_NODES,
	OPT_TASKS,
	OPT_TASK_MS,
	OPT_WORK,
	OPT_SCHEDULE,
	OPT_FAIL_RATE,
	OPT_DOWNTIME,
	OPT_MAX_ATTEMPTS,
	OPT_MAX_RESTARTS,
	OPT_RESTART_WINDOW,
	OPT_HANG_TIMEOUT,
	OPT_GRACE_MS,
	OPT_SEED,
	OPT_LOG,
	OPT_LOG_LEVEL,
	OPT_QUIET,
	OPT_ARG_FILE,
	OPT_NULL,
	OPT_COMMANDS,
	OPT_RETRIES,
	OPT_RETRY_DELAY,
	OPT_TIMEOUT,
	OPT_KILL_AFTER,
	OPT_JOBLOG,
	OPT_RESUME,
	OPT_RESUME_FAILED,
	OPT_RESULTS,
	OPT_STORE,
	OPT_SERVE,
	OPT_KEY,
	OPT_WAIT,
	OPT_PRIORITY,
	OPT_NETWORK,
	OPT_DELAY,
	OPT_AT,
	OPT_AFTER,
	OPT_AFTER_ANY,
	OPT_BATCH,
	OPT_LINES_ARE_COMMANDS,
	OPT_TASK_LIST,
	OPT_HOSTS,
	OPT_TASK,
	OPT_STATE,
	OPT_STDOUT,
	OPT_STDERR,
	OPT_KEEP,
	OPT_HOST_ID,
	OPT_LEASE,
	OPT_ALLOW_USER,
	OPT_HOST,
	OPT_NO_CGROUPS,
	OPT_NODE_ROWS,
	OPT_JSON,
	OPT_WATCH,
	OPT_COUNT,
	OPT_LIST,
	OPT_REMOVE_STALE,
	OPT_NOW,
	OPT_LISTEN,
	OPT_CONTROL,
	OPT_TOKEN_FILE,
	OPT_HELP,
	OPT_VERSION,
	OPT_NENTRIES
};

struct opt {
	const char *name; /* the long name, without "--" */
	char letter;      /* or 0 */
	enum opt_arg arg;
	enum opt_kind kind;
	const char *metavar;      /* how --help shows the value: "N", "MIN[-MAX]" */
	uint64_t min, max;        /* UINT, RANGE, SECONDS */
	const char *const *words; /* WORD: NULL-terminated */
	unsigned progs;           /* enum opt_prog bits */
	const char *help;         /* may hold '\n': --help indents what follows */
};

extern const struct opt opt_table[OPT_NENTRIES];

/* A letter or long name kept for a program to come (letter 0: it gets none, see why). */
struct opt_plan {
	char letter;
	const char *name;
	const char *why;
};
extern const struct opt_plan opt_planned[];
extern const size_t opt_nplanned;

struct opt_program {
	enum opt_prog bit;
	const char *name;     /* "dcf-status" */
	const char *synopsis; /* after "usage: NAME " */
	const char *about;    /* one line under the usage line */
};
extern const struct opt_program opt_programs[];
extern const size_t opt_nprograms;

/* A value, parsed and checked as its entry's kind says. */
struct opt_val {
	const char *s; /* as given (points into argv), or NULL */
	uint64_t u;
	int64_t i;
	uint64_t lo, hi;
};

/* One walk over one command line. */
struct opt_parser {
	const struct opt_program *prog;
	int argc;
	char **argv;
	int ind;             /* the argument being read; at the end, the first operand */
	const char *cluster; /* the letters left in a short-option cluster, or NULL */
	int done;            /* "--" was read */
	char *err;           /* non-NULL: a usage error's text goes here, not to stderr */
	size_t errlen;
};

/* What opt_next found. */
enum opt_next {
	OPT_ERROR = -1, /* a usage error was printed: exit 2 */
	OPT_END = 0,    /* no more options: operands (if any) start at p->ind */
	OPT_FOUND = 1,  /* *id and *v are set */
	OPT_EXIT = 2,   /* --help or --version was printed: exit 0 */
};

/* prog: the bit of the program whose command line argv is. */
void opt_begin(struct opt_parser *p, enum opt_prog prog, int argc, char **argv);
enum opt_next opt_next(struct opt_parser *p, enum opt_id *id, struct opt_val *v);
/* OPT_END, or OPT_ERROR after "unexpected argument" for a program with no operands. */
enum opt_next opt_no_operands(const struct opt_parser *p);

/* Usage errors, printed as one line; they return OPT_ERROR. */
enum opt_next opt_bad_value(const struct opt_parser *p, enum opt_id id, const char *value,
    const char *why);
enum opt_next opt_usage_error(const struct opt_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* An OPT_K_IDS value checked by opt_next, into ids (room for OPT_IDS_MAX): their count. */
uint32_t opt_ids(const char *s, uint64_t *ids);

/* The help of prog, generated from the table. */
void opt_help(FILE *f, enum opt_prog prog);
const struct opt_program *opt_program(enum opt_prog prog);

/*
 * s between single quotes, escaped, at most OPT_QUOTE_SHOWN bytes of it
 * (then "..." after the closing quote): a backslash and a quote as \\ and
 * \', \n \t \r, other control bytes, DEL, the C1 controls and bytes that are
 * not UTF-8 as \xHH. Valid UTF-8 is kept ('hé'). Always NUL-terminated;
 * OPT_QUOTE_LEN holds any.
 */
#define OPT_QUOTE_SHOWN 128
#define OPT_QUOTE_LEN   (OPT_QUOTE_SHOWN * 4 + 8)
void opt_quote(char *buf, size_t len, const char *s);

#endif
