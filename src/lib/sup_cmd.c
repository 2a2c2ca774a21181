/* sup_cmd.c - dcf-supervisor's command mode (sup_cmd.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcf/cmd.h"
#include "dcf/joblog.h"
#include "dcf/log.h"
#include "dcf/util.h"
#include "dcf/sup_cmd.h"

/* The longest input line kept: one argument's limit (MAX_ARG_STRLEN). */
#define LINE_MAX_BYTES 131072u
#define COPY_BUF       65536

enum fin_stage { FIN_OUT, FIN_ERR, FIN_KEEP, FIN_DONE };

/* A finished task on its way out. */
struct fin {
	uint64_t id;
	uint32_t run, attempts, net, node;
	uint32_t deaths, tries; /* for the store */
	int quarantined;
	struct dcf_outcome out;
	char *cmd; /* the command as text, for the joblog and meta */
	size_t cmd_len;
	enum fin_stage stage;
	int fd;    /* the spool file being copied, or -1 */
	off_t off; /* how far */
};

struct sup_cmd {
	const struct dcf_config *cfg;
	struct dcf_cmd_tmpl tmpl;
	struct dcf_lines lines;
	int in_fd;        /* the input; -1 once it ended */
	int in_wait;      /* the last read wanted more: poll it */
	int in_blocking;  /* the input's description is not O_NONBLOCK (not ours) */
	int out_blocking; /* the same for our stdout and stderr copies */
	int err_blocking;
	uint64_t seq;   /* input lines read: the next one's id */
	int out_fd;     /* our standard output (non-blocking, our own) */
	int err_fd;     /* where task stderr goes (the log's descriptor, or ours) */
	int err_is_log; /* then the log is held while a copy is under way */
	int spool_fd;   /* O_PATH */
	char spool[PATH_MAX];
	int results_fd; /* --results DIR, O_PATH, or -1 */
	int joblog_fd;  /* or -1 */
	struct dcf_resume resume;
	int resuming;
	/* --store: what it holds of this input, by id (= line number), and where cmd_fill is. */
	struct prior *prior;
	size_t nprior, prior_at;
	struct dcf_storeq *storeq;
	uint64_t (*claim_of)(const void *, uint64_t); /* several hosts: a task's claim */
	const void *claim_arg;
	struct fin *q; /* the finish queue, a ring */
	uint32_t qcap, qhead, qlen;
	int out_blocked, err_blocked; /* waiting for POLLOUT */
	int out_dead, err_dead;       /* gave up on them (EPIPE, EIO) */
	char *buf;                    /* copies and joblog lines */
	char *text;                   /* a command's text */
	struct cmd_stats st;
};

/* A task the store holds: its command's hash, to know the line is the same one. */
struct prior {
	uint64_t id;
	uint64_t h[2];
	uint32_t state;
	struct dcf_prior p;
};

/* --- opening ------------------------------------------------------------ */

static int
open_input(const struct sup_opts *o, char *err, size_t errlen)
{
	const char *path = o->commands_path != NULL ? o->commands_path : o->arg_file;
	int fd;

	if (path == NULL || strcmp(path, "-") == 0) {
		/* Our own description: O_NONBLOCK on it is not the shell's. */
		fd = dcf_fd_private(0, O_RDONLY);
		if (fd == -1)
			DCF_BAD(errno, "standard input: %s", strerror(errno));
		return fd;
	}
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd == -1)
		DCF_BAD(errno, "%s: %s", path, strerror(errno));
	return fd;
}

/* The joblog: read for --resume, then opened for appending (a header if it is new). */
static int
open_joblog(struct sup_cmd *c, const struct sup_opts *o, char *err, size_t errlen)
{
	char msg[DCF_ERRLEN], head[256];
	struct stat st;
	size_t n;
	int fd;

	fd = open(o->joblog_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd == -1)
		DCF_BAD(errno, "--joblog %s: %s", o->joblog_path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		DCF_BAD(EINVAL, "--joblog %s: not a regular file", o->joblog_path);
	}
	if (o->resume != SUP_RESUME_NONE) {
		if (dcf_resume_load(&c->resume, fd, o->joblog_path,
		        o->resume == SUP_RESUME_FAILED ? DCF_RESUME_FAILED : DCF_RESUME_ALL, msg,
		        sizeof(msg)) == -1) {
			close(fd);
			DCF_BAD(EINVAL, "--joblog: %s", msg);
		}
		c->resuming = 1;
		/* A line torn by a crash mid-write is cut off, not joined to the next. */
		if (c->resume.torn && ftruncate(fd, c->resume.whole_len) == -1) {
			int e = errno;

			close(fd);
			DCF_BAD(e, "--joblog %s: %s", o->joblog_path, strerror(e));
		}
	} else if (st.st_size > 0) {
		/* Not resuming: a new run's joblog, as GNU parallel starts one. */
		if (ftruncate(fd, 0) == -1) {
			close(fd);
			DCF_BAD(errno, "--joblog %s: %s", o->joblog_path, strerror(errno));
		}
	}
	if (fstat(fd, &st) == 0 && st.st_size == 0) {
		n = dcf_joblog_header(head, sizeof(head));
		if (n >= sizeof(head) || write(fd, head, n) != (ssize_t)n) {
			close(fd);
			DCF_BAD(EIO, "--joblog %s: cannot write its header", o->joblog_path);
		}
	}
	c->joblog_fd = fd;
	return 0;
}

/* Remove a spool directory and the files in it (never following a link). */
static void
remove_dir_files(int parent, const char *name)
{
	int dfd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *e;

	if (dfd >= 0 && (d = fdopendir(dfd)) != NULL) {
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	} else if (dfd >= 0) {
		close(dfd);
	}
	unlinkat(parent, name, AT_REMOVEDIR);
}

/*
 * Spool directories are named PREFIX.PID.XXXXXX: one whose supervisor is
 * gone (SIGKILLed) holds nothing anyone will read. Removed when ours, a
 * directory, and its PID is nobody's.
 */
static void
clean_stale_spools(const char *dir, const char *prefix)
{
	size_t pl = strlen(prefix);
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		char *end;
		long pid;

		if (strncmp(e->d_name, prefix, pl) != 0)
			continue;
		pid = strtol(e->d_name + pl, &end, 10);
		if (*end != '.' || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode) && st.st_uid == getuid())
			remove_dir_files(dirfd(d), e->d_name);
	}
	closedir(d);
}

/* The spool directory: a new private directory in --results DIR or $TMPDIR. */
static int
open_spool(struct sup_cmd *c, const struct sup_opts *o, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	char prefix[DCF_NAME_MAX + 16];

	if (o->results_dir != NULL) {
		if (mkdir(o->results_dir, 0755) == -1 && errno != EEXIST)
			DCF_BAD(errno, "--results %s: %s", o->results_dir, strerror(errno));
		c->results_fd = open(o->results_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (c->results_fd == -1)
			DCF_BAD(errno, "--results %s: %s", o->results_dir, strerror(errno));
		tmp = o->results_dir;
		snprintf(prefix, sizeof(prefix), ".dcf-spool.");
	} else {
		if (tmp == NULL || *tmp == '\0')
			tmp = "/tmp";
		snprintf(prefix, sizeof(prefix), "dcf-%s.", o->name);
	}
	clean_stale_spools(tmp, prefix);
	snprintf(c->spool, sizeof(c->spool), "%s/%s%d.XXXXXX", tmp, prefix, (int)getpid());
	if (mkdtemp(c->spool) == NULL)
		DCF_BAD(errno, "cannot make a spool directory %s: %s", c->spool, strerror(errno));
	c->spool_fd = open(c->spool, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->spool_fd == -1) {
		int e = errno;

		rmdir(c->spool);
		c->spool[0] = '\0';
		DCF_BAD(e, "spool directory: %s", strerror(e));
	}
	return 0;
}

int
cmd_open(struct sup_cmd **out, const struct sup_opts *o, const struct dcf_config *cfg, int out_fd,
    int err_fd, int *usage, char *err, size_t errlen)
{
	struct sup_cmd *c = calloc(1, sizeof(*c));
	char msg[DCF_ERRLEN];

	*out = NULL;
	*usage = 0;
	if (c == NULL)
		DCF_BAD(ENOMEM, "out of memory");
	c->cfg = cfg;
	c->in_fd = c->spool_fd = c->results_fd = c->joblog_fd = -1;
	c->out_fd = out_fd;
	c->err_fd = err_fd;
	c->in_fd = -1;
	c->err_is_log = err_fd == dcf_log_fd();
	c->qcap = 3 * cfg->task_slots;
	c->q = calloc(c->qcap, sizeof(*c->q));
	c->buf = malloc(COPY_BUF);
	c->text = malloc((size_t)cfg->payload_max * 4 + 64);
	if (c->q == NULL || c->buf == NULL || c->text == NULL) {
		cmd_close(c);
		DCF_BAD(ENOMEM, "out of memory");
	}
	if (o->serve) {
		/* Each task brings its whole command; its output is kept, not copied to us. */
		c->out_dead = c->err_dead = 1;
	} else if (dcf_cmd_tmpl_init(&c->tmpl, o->cmd_argv, o->cmd_argc, o->commands_path != NULL,
	               msg, sizeof(msg)) == -1) {
		cmd_close(c);
		*usage = 1;
		DCF_BAD(EINVAL, "%s", msg);
	}
	if (!o->serve && dcf_cmd_tmpl_unsupported(&c->tmpl, msg, sizeof(msg)))
		dcf_log(DCF_WARNING, "%s", msg);
	/* The joblog, as --log: a file the command line names, so its trouble is usage. */
	if (o->joblog_path != NULL && open_joblog(c, o, err, errlen) == -1) {
		int e = errno;

		*usage = e != ENOMEM && e != EIO;
		cmd_close(c);
		errno = e;
		return -1;
	}
	c->out_blocking = (fcntl(out_fd, F_GETFL) & O_NONBLOCK) == 0;
	c->err_blocking = (fcntl(err_fd, F_GETFL) & O_NONBLOCK) == 0;
	if (o->serve) {
		if (open_spool(c, o, err, errlen) == -1) {
			int e = errno;

			cmd_close(c);
			errno = e;
			return -1;
		}
		*out = c;
		return 0;
	}
	if ((c->in_fd = open_input(o, err, errlen)) == -1 ||
	    dcf_lines_init(&c->lines, c->in_fd, LINE_MAX_BYTES, o->null_sep ? '\0' : '\n') == -1 ||
	    open_spool(c, o, err, errlen) == -1) {
		int e = errno;

		if (errno == ENOMEM)
			snprintf(err, errlen, "out of memory");
		cmd_close(c);
		errno = e;
		return -1;
	}
	c->in_blocking = (fcntl(c->in_fd, F_GETFL) & O_NONBLOCK) == 0;
	*out = c;
	return 0;
}

int
cmd_spool_fd(const struct sup_cmd *c)
{
	return c->spool_fd;
}

/* Remove the spool directory and whatever is left in it (it is ours: mkdtemp). */
static void
remove_spool(struct sup_cmd *c)
{
	if (c->spool[0] == '\0')
		return;
	remove_dir_files(AT_FDCWD, c->spool);
	c->spool[0] = '\0';
}

void
cmd_close(struct sup_cmd *c)
{
	if (c == NULL)
		return;
	for (uint32_t i = 0; i < c->qlen; i++) {
		struct fin *f = &c->q[(c->qhead + i) % c->qcap];

		if (f->fd >= 0)
			close(f->fd);
		free(f->cmd);
	}
	remove_spool(c);
	if (c->spool_fd >= 0)
		close(c->spool_fd);
	if (c->results_fd >= 0)
		close(c->results_fd);
	if (c->joblog_fd >= 0)
		close(c->joblog_fd);
	if (c->in_fd >= 0)
		close(c->in_fd);
	dcf_lines_free(&c->lines);
	if (c->resuming)
		dcf_resume_free(&c->resume);
	free(c->prior);
	free(c->q);
	free(c->buf);
	free(c->text);
	free(c);
}

/* --- the store ------------------------------------------------------------ */

struct prior_load {
	struct sup_cmd *c;
	size_t cap;
	uint64_t last;
	int nomem;
};

static int
prior_add(void *arg, const struct dcf_store_task *t)
{
	struct prior_load *l = arg;
	struct sup_cmd *c = l->c;
	struct prior *p;

	l->last = t->id;
	if (c->nprior == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		struct prior *np = realloc(c->prior, cap * sizeof(*np));

		if (np == NULL) {
			l->nomem = 1;
			return 1;
		}
		c->prior = np;
		l->cap = cap;
	}
	p = &c->prior[c->nprior++];
	p->id = t->id;
	dcf_joblog_hash(t->cmd, t->cmd_len, p->h);
	p->state = t->state;
	p->p.attempts = t->attempts;
	p->p.tries = t->tries;
	p->p.runs = t->runs;
	/* A run the last supervisor took down with it counts as an attempt, but
	 * always leaves one more run: the supervisor's end is not the task's fault. */
	if (t->state == DCF_SS_RUNNING)
		p->p.attempts++;
	if (c->cfg->max_attempts > 0 && p->p.attempts >= c->cfg->max_attempts)
		p->p.attempts = c->cfg->max_attempts - 1;
	return 0;
}

int
cmd_use_store(struct sup_cmd *c, struct dcf_store *st, char *err, size_t errlen)
{
	struct prior_load l = {.c = c};
	size_t before;

	do {
		before = c->nprior;
		if (dcf_store_list(st, -1, l.last, 65536, prior_add, &l, err, errlen) == -1)
			return -1;
		if (l.nomem)
			DCF_BAD(ENOMEM, "%s: out of memory reading its %zu tasks", st->where,
			    c->nprior);
	} while (c->nprior > before);
	return 0;
}

void
cmd_set_storeq(struct sup_cmd *c, struct dcf_storeq *q)
{
	c->storeq = q;
}

void
cmd_set_claims(struct sup_cmd *c, uint64_t (*fn)(const void *, uint64_t), const void *arg)
{
	c->claim_of = fn;
	c->claim_arg = arg;
}

/*
 * The store's word on line seq, payload p: 1 skip it (finished), 0 run it
 * (it->stored and it->prior set if the store has it), -1 it is not the
 * command the store has as that task.
 */
static int
prior_check(struct sup_cmd *c, uint64_t seq, const void *p, size_t len, struct cmd_item *it)
{
	const struct prior *pr;
	uint64_t h[2];

	it->stored = 0;
	while (c->prior_at < c->nprior && c->prior[c->prior_at].id < seq)
		c->prior_at++;
	if (c->prior_at == c->nprior || c->prior[c->prior_at].id != seq)
		return 0;
	pr = &c->prior[c->prior_at];
	dcf_joblog_hash(p, len, h);
	if (h[0] != pr->h[0] || h[1] != pr->h[1])
		return -1;
	if (dcf_store_state_final(pr->state))
		return 1;
	it->stored = 1;
	it->prior.attempts = pr->p.attempts;
	it->prior.tries = pr->p.tries;
	it->prior.runs = pr->p.runs;
	return 0;
}

/* --- input ---------------------------------------------------------------- */

int
cmd_batch_item(struct cmd_batch *b, uint64_t skip, size_t need)
{
	if (b->n == b->cap) {
		uint32_t cap = b->cap ? 2 * b->cap : 64;
		struct cmd_item *it = realloc(b->items, cap * sizeof(*it));

		if (it == NULL)
			return -1;
		b->items = it;
		b->cap = cap;
	}
	if (b->size - b->used < need) {
		size_t size = b->size ? b->size : 65536;
		unsigned char *nb;

		while (size - b->used < need)
			size *= 2;
		if ((nb = realloc(b->buf, size)) == NULL)
			return -1;
		b->buf = nb;
		b->size = size;
	}
	b->items[b->n].skip_before = skip;
	b->items[b->n].off = b->used;
	b->items[b->n].len = 0;
	b->items[b->n].stored = 0;
	memset(&b->items[b->n].prior, 0, sizeof(b->items[b->n].prior));
	return 0;
}

/*
 * A FIFO opened before any writer reads as at its end; it ends only once a
 * writer has come and gone (poll says POLLHUP then, Linux's rule).
 */
static int
fifo_not_ended(struct sup_cmd *c)
{
	struct pollfd p = {.fd = c->in_fd, .events = POLLIN};
	struct stat st;

	if (fstat(c->in_fd, &st) == -1 || !S_ISFIFO(st.st_mode))
		return 0;
	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLIN)))
		return 0;
	c->lines.eof = 0; /* read again when a writer comes */
	return 1;
}

/*
 * Would reading the input block? Only on a descriptor we could not make our
 * own non-blocking one (a socket, a pipe of another user): never read it
 * unless a whole line is buffered or poll says it is ready.
 */
static int
input_would_block(const struct sup_cmd *c)
{
	const struct dcf_lines *r = &c->lines;
	struct pollfd p = {.fd = c->in_fd, .events = POLLIN};

	if (!c->in_blocking || r->eof)
		return 0;
	if (r->end > r->start && memchr(r->buf + r->start, r->sep, r->end - r->start) != NULL)
		return 0;
	return poll(&p, 1, 0) != 1;
}

int
cmd_fill(struct sup_cmd *c, uint32_t want, struct cmd_batch *b, int *eof)
{
	uint32_t got = 0;
	uint64_t skip = b->skip_after;

	*eof = c->in_fd < 0;
	c->in_wait = 0;
	while (got < want && c->in_fd >= 0) {
		const char *line;
		size_t len;
		int r;
		ssize_t need;

		if (input_would_block(c)) {
			c->in_wait = 1;
			break;
		}
		r = dcf_lines_next(&c->lines, &line, &len);

		if (r == -1 && errno == EAGAIN) {
			c->in_wait = 1;
			break;
		}
		if (r == -1 && errno == E2BIG) {
			/* Too long to be one argument: its id is skipped, and said. */
			c->seq++;
			c->st.lines++;
			c->st.rejected++;
			skip++;
			dcf_log(DCF_ERROR,
			    "input line %" PRIu64
			    " is %zu bytes long, over the limit of %u bytes for "
			    "one argument: not run",
			    c->seq, len, LINE_MAX_BYTES);
			continue;
		}
		if (r == 0 && fifo_not_ended(c)) {
			c->in_wait = 1; /* a FIFO no writer has opened yet: not its end */
			break;
		}
		if (r <= 0) {
			if (r == -1) {
				dcf_log(DCF_ERROR, "reading the input: %s; it ends here",
				    strerror(errno));
				c->st.input_error = 1;
			}
			close(c->in_fd);
			c->in_fd = -1;
			*eof = 1;
			break;
		}
		c->seq++;
		c->st.lines++;
		if (cmd_batch_item(b, skip, c->cfg->payload_max) == -1) {
			dcf_log(DCF_ERROR, "out of memory reading the input; it ends here");
			c->st.input_error = 1;
			close(c->in_fd);
			c->in_fd = -1;
			*eof = 1;
			return -1;
		}
		need = dcf_cmd_build(&c->tmpl, line, len, c->seq, (char *)b->buf + b->used,
		    c->cfg->payload_max);
		if (need < 0 || (size_t)need > c->cfg->payload_max) {
			c->st.rejected++;
			skip++;
			if (need < 0)
				dcf_log(DCF_ERROR,
				    "input line %" PRIu64
				    " holds a NUL byte, which no argument can: "
				    "not run",
				    c->seq);
			else
				dcf_log(DCF_ERROR,
				    "input line %" PRIu64
				    " makes a command of %zd bytes, more than %u: "
				    "not run",
				    c->seq, need, c->cfg->payload_max);
			continue;
		}
		b->items[b->n].prior.retries = c->cfg->retries;
		b->items[b->n].prior.argv_len = (uint32_t)need;
		if (c->prior != NULL) {
			struct cmd_item *it = &b->items[b->n];
			int pc = prior_check(c, c->seq, b->buf + b->used, (size_t)need, it);

			if (pc == 1) {
				c->st.resumed++;
				skip++;
				continue;
			}
			if (pc == -1) {
				dcf_log(DCF_ERROR,
				    "input line %" PRIu64
				    " is not the command the store ran as task %" PRIu64
				    ": the store holds another input's tasks; name another --store "
				    "(the input ends here)",
				    c->seq, c->seq);
				c->st.input_error = 1;
				close(c->in_fd);
				c->in_fd = -1;
				*eof = 1;
				break;
			}
			c->st.rerun += it->stored;
		}
		if (c->resuming) {
			size_t tl = dcf_cmd_text((char *)b->buf + b->used, (size_t)need, c->text,
			    (size_t)c->cfg->payload_max * 4 + 64);

			if (dcf_resume_take(&c->resume, c->text, tl) == 1) {
				c->st.resumed++;
				skip++;
				continue;
			}
		}
		b->items[b->n].len = (uint32_t)need;
		b->used += (size_t)need;
		b->n++;
		skip = 0;
		got++;
	}
	b->skip_after = skip;
	return 0;
}

void
cmd_batch_reset(struct cmd_batch *b)
{
	b->n = 0;
	b->used = 0;
	b->skip_after = 0;
}

void
cmd_batch_free(struct cmd_batch *b)
{
	free(b->items);
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

/* --- finished tasks ----------------------------------------------------- */

static void
spool_name(char *buf, size_t len, uint64_t id, uint32_t run, const char *what)
{
	snprintf(buf, len, "%" PRIu64 ".%u.%s", id, run, what);
}

void
cmd_drop_run(struct sup_cmd *c, uint64_t id, uint32_t run)
{
	char name[64];

	spool_name(name, sizeof(name), id, run, "out");
	unlinkat(c->spool_fd, name, 0);
	spool_name(name, sizeof(name), id, run, "err");
	unlinkat(c->spool_fd, name, 0);
}

int
cmd_room(const struct sup_cmd *c)
{
	uint32_t reserve = c->cfg->task_slots;

	return c->qlen + reserve >= c->qcap ? 0 : (int)(c->qcap - reserve - c->qlen);
}

/* The finish queue twice as long, its ring laid out from the head. */
static int
grow_queue(struct sup_cmd *c)
{
	uint32_t cap = c->qcap * 2;
	struct fin *q = calloc(cap, sizeof(*q));

	if (q == NULL)
		return -1;
	for (uint32_t i = 0; i < c->qlen; i++)
		q[i] = c->q[(c->qhead + i) % c->qcap];
	free(c->q);
	c->q = q;
	c->qcap = cap;
	c->qhead = 0;
	return 0;
}

void
cmd_abandon(struct sup_cmd *c)
{
	/* What the end could not write: said in the summary, and the exit status. */
	c->st.out_lost += c->qlen;
	c->st.joblog_lost += c->joblog_fd >= 0 ? c->qlen : 0;
}

void
cmd_finished(struct sup_cmd *c, const struct dcf_seg *sg, const struct dcf_done *d, uint32_t net,
    uint32_t node, int quarantined)
{
	const struct dcf_task *t = &sg->tasks[d->slot];
	uint32_t plen = t->payload_len;
	struct fin *f;
	size_t tl;

	if (d->slot >= sg->cfg.task_slots)
		return;
	if (c->qlen == c->qcap && grow_queue(c) == -1) {
		/* Only quarantines come past cmd_room: never dropped unsaid. */
		dcf_log(DCF_ERROR,
		    "out of memory: Task-%" PRIu64 "'s output and joblog line are lost", d->id + 1);
		c->st.out_lost++;
		c->st.joblog_lost += c->joblog_fd >= 0;
		cmd_drop_run(c, d->id, d->runs);
		return;
	}
	if (plen > sg->cfg.payload_max)
		plen = 0;
	tl = dcf_cmd_text((const char *)dcf_payload(sg, d->slot), plen, c->text,
	    (size_t)c->cfg->payload_max * 4 + 64);
	f = &c->q[(c->qhead + c->qlen) % c->qcap];
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->id = d->id;
	f->run = d->runs;
	f->attempts = d->runs;
	f->deaths = d->attempts;
	f->tries = d->tries;
	f->net = net;
	f->node = node;
	f->quarantined = quarantined;
	f->out = d->out;
	f->cmd = malloc(tl + 1);
	if (f->cmd != NULL) {
		memcpy(f->cmd, c->text, tl);
		f->cmd[tl] = '\0';
		f->cmd_len = tl;
	}
	f->stage = quarantined ? FIN_KEEP : FIN_OUT;
	c->qlen++;
}

/*
 * Copy the spool file of f's stage to dst: 1 done, 0 blocked (poll dst),
 * -1 the destination failed (errno), -2 the spool file could not be read
 * (that task's output is lost, nobody else's). A destination that is not
 * our own non-blocking description (a socket, another user's pipe) is
 * written only when poll says it takes PIPE_BUF bytes, and no more: it
 * never blocks.
 */
static int
copy_out(struct sup_cmd *c, struct fin *f, const char *what, uint64_t bytes, int dst,
    int dst_blocking, int *blocked)
{
	char name[64];
	struct stat st;

	if (bytes == 0)
		return 1;
	if (f->fd == -1) {
		spool_name(name, sizeof(name), f->id, f->run, what);
		f->fd = openat(c->spool_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		f->off = 0;
		if (f->fd == -1)
			return -2;
		if (fstat(f->fd, &st) == -1 || !S_ISREG(st.st_mode)) {
			close(f->fd);
			f->fd = -1;
			return -2;
		}
	}
	for (;;) {
		size_t chunk = dst_blocking ? PIPE_BUF : COPY_BUF;
		ssize_t n = pread(f->fd, c->buf, chunk, f->off), w;

		if (n < 0)
			return -2;
		if (n == 0)
			break;
		if (dst_blocking) {
			struct pollfd p = {.fd = dst, .events = POLLOUT};

			if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT)) {
				if (p.revents & (POLLERR | POLLHUP)) {
					errno = EPIPE;
					return -1;
				}
				*blocked = 1;
				return 0;
			}
		}
		w = send(dst, c->buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w == -1 && errno == ENOTSOCK)
			w = write(dst, c->buf, (size_t)n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			*blocked = 1;
			return 0;
		}
		if (w == -1)
			return -1;
		f->off += w;
	}
	close(f->fd);
	f->fd = -1;
	return 1;
}

/* What became of a task, in the words of the log, the summary and meta. */
static const char *
outcome_word(const struct fin *f)
{
	if (f->quarantined)
		return "quarantined";
	switch (f->out.how) {
	case DCF_HOW_NONE:
	case DCF_HOW_OK:
		return "succeeded";
	case DCF_HOW_TIMEOUT:
		return "timed out";
	case DCF_HOW_CANCELLED:
		return "cancelled";
	default:
		return "failed";
	}
}

/*
 * GNU parallel's Exitval and Signal for an outcome: an exit (status, 0), a
 * death by signal (0, S), a timeout (-1, S); quarantined, which parallel
 * cannot have, (-1, 0): not a success, for --resume-failed.
 */
static void
exit_and_signal(const struct fin *f, int *exitval, int *sig)
{
	*exitval = -1;
	*sig = 0;
	if (f->quarantined)
		return;
	switch (f->out.how) {
	case DCF_HOW_OK:
	case DCF_HOW_EXIT:
	case DCF_HOW_NOEXEC:
		*exitval = f->out.exit_code;
		break;
	case DCF_HOW_SIGNAL:
		*exitval = 0;
		*sig = (int)f->out.term_sig;
		break;
	case DCF_HOW_TIMEOUT:
		*sig = (int)f->out.term_sig;
		break;
	default:
		*exitval = 0;
		break;
	}
}

/* s as a JSON string's contents. */
static size_t
json_esc(char *out, size_t cap, const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 7 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			out[n++] = '\\';
			out[n++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
		} else {
			out[n++] = (char)ch;
		}
	}
	out[n] = '\0';
	return n;
}

/*
 * A file made in the spool directory (ours, mkdtemp'd), then renamed into
 * DIR/SEQ/: whatever was planted under that name is replaced, never
 * opened, so a FIFO or a symlink there can neither block nor redirect us.
 */
static int
spool_make(struct sup_cmd *c, const char *name)
{
	return openat(c->spool_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0644);
}

/* DIR/SEQ/meta: one JSON object, one line; written in the spool, renamed in. */
static void
write_meta(struct sup_cmd *c, struct fin *f, int dfd, const char *dir)
{
	char name[64], *cmd;
	size_t cap = f->cmd_len * 6 + 1;
	int exitval, sig, fd, bad;
	FILE *fp;

	spool_name(name, sizeof(name), f->id, f->run, "meta");
	fd = spool_make(c, name);
	if (fd == -1 || (fp = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		dcf_log(DCF_ERROR, "--results: cannot write %s/meta: %s", dir, strerror(errno));
		c->st.kept_lost++;
		return;
	}
	cmd = malloc(cap);
	if (cmd != NULL)
		json_esc(cmd, cap, f->cmd ? f->cmd : "", f->cmd ? f->cmd_len : 0);
	exit_and_signal(f, &exitval, &sig);
	fprintf(fp,
	    "{\"seq\":%" PRIu64 ",\"command\":\"%s\",\"outcome\":\"%s\",\"exit\":%d,"
	    "\"signal\":%d,\"start\":%.3f,\"runtime\":%.3f,\"attempts\":%u,\"network\":%u,"
	    "\"node\":%u,\"cpu_s\":%.3f,\"maxrss_kb\":%" PRIu64 ",\"stdout_bytes\":%" PRIu64
	    ",\"stderr_bytes\":%" PRIu64 "}\n",
	    f->id + 1, cmd ? cmd : "", outcome_word(f), exitval, sig,
	    (double)f->out.start_wall_ns / 1e9, (double)f->out.run_ns / 1e9, f->attempts, f->net,
	    f->node, (double)f->out.cpu_us / 1e6, f->out.maxrss_kb, f->out.out_bytes,
	    f->out.err_bytes);
	free(cmd);
	bad = fclose(fp) != 0;
	if (bad || renameat(c->spool_fd, name, dfd, "meta") == -1) {
		dcf_log(DCF_ERROR, "--results: cannot write %s/meta: %s", dir, strerror(errno));
		c->st.kept_lost++;
		unlinkat(c->spool_fd, name, 0);
	}
}

/* The run's files: into --results DIR/SEQ/ or deleted. */
static void
keep_results(struct sup_cmd *c, struct fin *f)
{
	static const char *const what[2] = {"out", "err"}, *const as[2] = {"stdout", "stderr"};
	char dir[32], name[64];
	int dfd, fd;

	if (c->results_fd < 0) {
		cmd_drop_run(c, f->id, f->run);
		return;
	}
	snprintf(dir, sizeof(dir), "%" PRIu64, f->id + 1);
	if (mkdirat(c->results_fd, dir, 0755) == -1 && errno != EEXIST) {
		dcf_log(DCF_ERROR, "--results: cannot make %s: %s", dir, strerror(errno));
		c->st.kept_lost++;
		cmd_drop_run(c, f->id, f->run);
		return;
	}
	/* Never through a symlink planted as SEQ. */
	dfd = openat(c->results_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd == -1) {
		dcf_log(DCF_ERROR, "--results: %s: %s", dir, strerror(errno));
		c->st.kept_lost++;
		cmd_drop_run(c, f->id, f->run);
		return;
	}
	for (int i = 0; i < 2; i++) {
		uint64_t bytes = i == 0 ? f->out.out_bytes : f->out.err_bytes;

		spool_name(name, sizeof(name), f->id, f->run, what[i]);
		if (bytes == 0 || f->quarantined) {
			unlinkat(c->spool_fd, name, 0);
			if ((fd = spool_make(c, name)) >= 0)
				close(fd);
		}
		if (renameat(c->spool_fd, name, dfd, as[i]) == -1) {
			dcf_log(DCF_ERROR, "--results: cannot keep %s/%s: %s", dir, as[i],
			    strerror(errno));
			c->st.kept_lost++;
			unlinkat(c->spool_fd, name, 0);
		}
	}
	write_meta(c, f, dfd, dir);
	close(dfd);
}

/* Its joblog line: written at once (a file: the disk is the wait). */
static void
joblog_write(struct sup_cmd *c, const struct fin *f)
{
	struct dcf_joblog_rec r;
	size_t n;

	if (c->joblog_fd < 0)
		return;
	memset(&r, 0, sizeof(r));
	r.seq = f->id + 1;
	r.start_wall_ns = f->out.start_wall_ns;
	r.run_ns = f->out.run_ns;
	exit_and_signal(f, &r.exitval, &r.signal);
	r.cmd = f->cmd ? f->cmd : "";
	r.cmd_len = f->cmd ? f->cmd_len : 0;
	r.attempts = f->attempts;
	r.network = f->net;
	r.node = f->node;
	r.cpu_us = f->out.cpu_us;
	r.maxrss_kb = f->out.maxrss_kb;
	r.recv_bytes = f->out.out_bytes; /* GNU parallel's Receive: the output's bytes */
	n = dcf_joblog_line(c->buf, COPY_BUF, &r);
	if (n >= COPY_BUF) {
		char *big = malloc(n + 1);

		if (big != NULL && dcf_joblog_line(big, n + 1, &r) == n &&
		    dcf_write_within(c->joblog_fd, big, n, -1) == 0) {
			free(big);
			return;
		}
		free(big);
	} else if (dcf_write_within(c->joblog_fd, c->buf, n, -1) == 0) {
		return;
	}
	if (c->st.joblog_lost++ == 0)
		dcf_log(DCF_ERROR, "--joblog: cannot write Task-%" PRIu64 "'s line: %s", f->id + 1,
		    strerror(errno));
}

/* One destination failed for good: said once, its copies skipped from now on. */
static void
dest_failed(int *dead, const char *which)
{
	if (!*dead)
		dcf_log(DCF_ERROR, "cannot write the tasks' %s (%s): it is discarded from here",
		    which, strerror(errno));
	*dead = 1;
}

/* --store: the task is finished, its output out: that is what a restart will find. */
static void
store_ended(struct sup_cmd *c, const struct fin *f)
{
	struct dcf_store_task t;

	if (c->storeq == NULL)
		return;
	memset(&t, 0, sizeof(t));
	t.id = f->id + 1;
	t.state = f->quarantined              ? DCF_SS_QUARANTINED
	    : f->out.how == DCF_HOW_OK        ? DCF_SS_DONE
	    : f->out.how == DCF_HOW_CANCELLED ? DCF_SS_CANCELLED
	                                      : DCF_SS_FAILED;
	t.attempts = f->deaths;
	t.tries = f->tries;
	t.runs = f->run;
	t.ended_ns = dcf_wall_ns();
	t.net = f->net;
	t.node = f->node;
	t.out = f->out;
	if (c->claim_of != NULL)
		t.claim = c->claim_of(c->claim_arg, t.id);
	if (dcf_storeq_upd(c->storeq, DCF_SU_ENDED, &t, DCF_STOREQ_ENDED | t.id) == -1)
		dcf_log(DCF_ERROR,
		    "Task-%" PRIu64 ": recording its end: out of memory; it runs "
		    "again after a restart",
		    f->id + 1);
}

void
cmd_pump(struct sup_cmd *c)
{
	c->out_blocked = c->err_blocked = 0;
	while (c->qlen > 0) {
		struct fin *f = &c->q[c->qhead];
		int r;

		if (f->stage == FIN_OUT) {
			r = c->out_dead ? 1
			                : copy_out(c, f, "out", f->out.out_bytes, c->out_fd,
			                      c->out_blocking, &c->out_blocked);
			if (r == 0)
				return;
			if (r == -2) {
				dcf_log(DCF_ERROR, "Task-%" PRIu64 "'s standard output is lost: %s",
				    f->id + 1, strerror(errno));
				c->st.out_lost++;
			} else if (r == -1) {
				if (errno == EPIPE)
					c->st.out_closed = 1;
				dest_failed(&c->out_dead, "standard output");
				c->st.out_lost++;
			}
			if (f->fd >= 0) {
				close(f->fd);
				f->fd = -1;
			}
			f->stage = FIN_ERR;
		}
		if (f->stage == FIN_ERR) {
			/* Into the log's stream only between its lines: flushed first, held during. */
			if (c->err_is_log && f->out.err_bytes > 0 && f->fd == -1 &&
			    dcf_log_queued() > 0) {
				if (dcf_log_flush() == 1) {
					c->err_blocked = 1;
					return;
				}
			}
			r = c->err_dead ? 1
			                : copy_out(c, f, "err", f->out.err_bytes, c->err_fd,
			                      c->err_blocking, &c->err_blocked);
			if (r == 0)
				return;
			if (r == -2) {
				dcf_log(DCF_ERROR, "Task-%" PRIu64 "'s standard error is lost: %s",
				    f->id + 1, strerror(errno));
				c->st.out_lost++;
			} else if (r == -1) {
				dest_failed(&c->err_dead, "standard error");
				c->st.out_lost++;
			}
			if (f->fd >= 0) {
				close(f->fd);
				f->fd = -1;
			}
			f->stage = FIN_KEEP;
		}
		keep_results(c, f);
		joblog_write(c, f);
		store_ended(c, f);
		free(f->cmd);
		f->cmd = NULL;
		c->qhead = (c->qhead + 1) % c->qcap;
		c->qlen--;
	}
}

int
cmd_output_closed(const struct sup_cmd *c)
{
	return c->st.out_closed;
}

int
cmd_idle(const struct sup_cmd *c)
{
	return c->qlen == 0;
}

int
cmd_holds_log(const struct sup_cmd *c)
{
	const struct fin *f = &c->q[c->qhead];

	return c->err_is_log && c->qlen > 0 && f->stage == FIN_ERR && f->fd >= 0;
}

int
cmd_poll(const struct sup_cmd *c, int want_input, struct pollfd *pfd)
{
	int n = 0;

	if (want_input && c->in_wait && c->in_fd >= 0) {
		pfd[n].fd = c->in_fd;
		pfd[n++].events = POLLIN;
	}
	if (c->out_blocked) {
		pfd[n].fd = c->out_fd;
		pfd[n++].events = POLLOUT;
	}
	if (c->err_blocked) {
		pfd[n].fd = c->err_fd;
		pfd[n++].events = POLLOUT;
	}
	return n;
}

void
cmd_stats(const struct sup_cmd *c, struct cmd_stats *st)
{
	*st = c->st;
}
