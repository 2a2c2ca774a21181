/* svc.c - service mode: the socket, the submissions, the ready queue (svc.h). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "dcf/cmd.h"
#include "dcf/exec.h"
#include "dcf/log.h"
#include "dcf/proto.h"
#include "dcf/svc.h"
#include "dcf/util.h"

#define OUT_HIGH (1u << 20) /* a client that reads no replies: stop reading its requests */

/* A task on its way: staged (pending) or committed and waiting for a slot (ready). */
struct vtask {
	uint64_t id;     /* 0: a refusal, answered in its turn after the ACKs staged before it */
	uint32_t code;   /* a refusal's */
	uint64_t cookie; /* pending: whose ACK */
	unsigned char *payload; /* argv, then the working directory and its NUL */
	uint32_t len, argv_len;
	struct dcf_prior prior; /* its priority too */
	int cancelled; /* ready: dcf-ctl cancel; dropped, never run, when it reaches the front */
	int rerun;     /* ready: a dead supervisor's run, recorded as requeued: never evicted */
	int moved;     /* ready: dcf-ctl priority moved it here (svc.moved): never evicted */
	uint64_t retry_of; /* pending: dcf-ctl retry's new task for this one: answered OK */
	uint64_t nb;       /* pending: --delay, --at: not before (CLOCK_REALTIME); 0: at once */
};

/* A delayed task: when it may run, which, and at which priority (svc.dl). */
struct delayed {
	uint64_t at, id;
	int32_t prio;
};

/* A FIFO of tasks, a ring that doubles. */
struct vq {
	struct vtask *t;
	uint32_t cap, head, n;
};

struct conn {
	int fd;
	uint32_t gen; /* 24 bits of it in a cookie */
	unsigned char *in;
	size_t in_len;
	unsigned char *out;
	size_t out_len, out_off, out_cap;
	uint32_t owed; /* answers still to come: ACKs of staged submissions, RESULTs waited for */
	int eof;       /* the client has said all it will: closed once nothing is owed */
	int bad;       /* a malformed request: closed once its error is written */
	/*
	 * Another user let in (--allow-user): it may submit and wait for its
	 * own tasks, which run as it (as: cmd.h DCF_RUN_AS's items, as_len
	 * bytes); its keys are its own (prefixed with its uid).
	 */
	int other;
	uint32_t uid, as_len;
	char as[48];
};

struct waiter {
	uint64_t id;
	uint64_t who; /* slot << 32 | tag, with the slot's generation above */
};

struct svc {
	const struct sup_opts *o;
	const struct dcf_config *cfg;
	struct dcf_store *rd; /* read-only */
	struct dcf_storeq *q;
	int lfd;
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t sock_dev;
	ino_t sock_ino;
	struct conn conns[SVC_MAX_CONN];
	uint32_t nconn;
	struct vq pending;
	uint32_t pending_at[DCF_LEVELS]; /* of those, new tasks per level (not refusals) */
	uint64_t next_id;                /* the next submission's (shared: none, UINT64_MAX) */
	uint64_t local_seq; /* shared: the submissions' placeholders, till the store's */
	/*
	 * Committed tasks waiting for a slot, a queue per priority level, each
	 * in id order. Per level: every unfinished task of it up to loaded_to
	 * is in memory or handed to the books; spilled: some past it are in the
	 * store alone. nready: in memory, at most SVC_WINDOW.
	 */
	struct vq ready[DCF_LEVELS];
	uint64_t loaded_to[DCF_LEVELS];
	uint8_t spilled[DCF_LEVELS];
	uint32_t nready;
	uint32_t window; /* SVC_WINDOW; a test build takes a smaller one from DCF_SVC_WINDOW */
	struct waiter *w;
	uint32_t nw, wcap;
	int stopping;
	int draining; /* dcf-ctl drain: submissions refused */
	svc_ctl_fn ctl;
	void *ctl_arg;
	/* Cancelled while in the store alone: not read in when the window passes them. */
	uint64_t *skip;
	uint32_t nskip, skipcap;
	/*
	 * Delayed tasks (--delay, --at), committed and not due yet: a min-heap
	 * by (at, id) of 24 bytes each, the timer the supervisor's poll sleeps
	 * to (svc_next_due); a task's command is read from the store when it is
	 * due, and it joins the ready queue of its priority.
	 */
	struct delayed *dl;
	uint32_t ndl, dlcap;
	int dl_nomem; /* reading them at the start ran out of memory */
	/* Moved by dcf-ctl priority, until their end is committed: never read in again (in
	 * memory, or handed to the books, wherever the store's row says they wait). */
	uint64_t *moved;
	uint32_t nmoved, movedcap;
	/* CTL answers owed once a task's end is committed (cancel). */
	struct later {
		uint64_t id, who;
		char text[320];
	} * later;
	uint32_t nlater, latercap;
	/* What the first window found dead supervisors running: requeued once q is set. */
	struct dcf_store_task *rerun;
	uint32_t nrerun;
	/*
	 * Several hosts on one PostgreSQL store (shared): the work is what this
	 * host claims, as room frees, when the store may have some (a task
	 * submitted here, a notification from another host, a lease or a delay
	 * whose time came, a claim that filled all it asked for); each task
	 * claimed is held by its claim number, which fences its changes.
	 */
	int shared;
	/*
	 * Other hosts' news (LISTEN) on a connection of its own: on rd, its
	 * queries would take them off the socket unseen, and the loop sleep.
	 */
	struct dcf_store *lis;
	int listen_fd;      /* lis's socket; -1: none */
	int claim_more;     /* tasks may be claimable */
	int claim_inflight; /* a claim asked for, its answer not in yet */
	uint32_t claim_asked, claim_got;
	uint64_t claim_at;          /* CLOCK_REALTIME: look again then (0: no time set) */
	uint64_t *cm_id, *cm_claim; /* id -> claim, open addressing (0: empty) */
	uint32_t cm_cap, cm_n;
	char elsewhere[128]; /* the host that holds a task, as the store last said */
	/* The rate this host ends tasks at (per s), measured over windows from rate_t0. */
	double rate, short_rate; /* SVC_SHORT_RATE; a test build's DCF_SVC_SHORT_RATE */
	uint64_t rate_t0;
	uint32_t ended_here;
	int asking; /* a request another host left is carried out */
	unsigned char frame[DCF_PROTO_MAX];
};

/* --- paths -------------------------------------------------------------- */

int
svc_private_dir(const char *path, int how, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct stat sb;
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		DCF_BAD(ENAMETOOLONG, "%s: the name is too long", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		return 0;
	*slash = '\0';
	if (dir[0] == '\0')
		return 0;
	if (how & SVC_DIR_PARENTS) {
		for (char *p = dir + 1; *p != '\0'; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			if (mkdir(dir, 0755) == -1 && errno != EEXIST)
				DCF_BAD(errno, "cannot make %s: %s", dir, strerror(errno));
			*p = '/';
		}
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		DCF_BAD(errno, "cannot make %s: %s", dir, strerror(errno));
	if (lstat(dir, &sb) == -1)
		DCF_BAD(errno, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		DCF_BAD(ENOTDIR, "%s is not a directory (a symbolic link?): remove it", dir);
	if (sb.st_uid != geteuid())
		DCF_BAD(EPERM, "%s belongs to uid %u, not to you: refusing to use it", dir,
		    (unsigned)sb.st_uid);
	if ((sb.st_mode & ((how & SVC_DIR_PASSABLE) ? 066 : 077)) != 0)
		DCF_BAD(EPERM, "%s is open to others (mode %04o): chmod 700 it, or remove it", dir,
		    (unsigned)(sb.st_mode & 07777));
	return 0;
}

/*
 * --allow-user: the socket's directory opened for others to pass through
 * (0711: not to look in), and every directory above it must let them.
 */
static int
open_way(const char *sock, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	char *slash;
	struct stat sb;

	snprintf(dir, sizeof(dir), "%s", sock);
	if ((slash = strrchr(dir, '/')) == NULL)
		return 0;
	*slash = '\0';
	if (chmod(dir, 0711) == -1)
		DCF_BAD(errno, "%s: %s", dir, strerror(errno));
	while ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		if (stat(dir[0] != '\0' ? dir : "/", &sb) == -1)
			DCF_BAD(errno, "%s: %s", dir, strerror(errno));
		if ((sb.st_mode & 01) == 0)
			DCF_BAD(EACCES,
			    "--allow-user: other users cannot reach %s: %s is closed to them (mode "
			    "%04o); without XDG_RUNTIME_DIR the socket goes to /run/dcf",
			    sock, dir[0] != '\0' ? dir : "/", (unsigned)(sb.st_mode & 07777));
	}
	return 0;
}

int
svc_paths(const char *name, char *sock, size_t socklen, char *store, size_t storelen, char *err,
    size_t errlen)
{
	const char *run = getenv("XDG_RUNTIME_DIR"), *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int root = geteuid() == 0;

	if (sock != NULL) {
		if (run != NULL && run[0] == '/')
			snprintf(sock, socklen, "%s/dcf/%s.sock", run, name);
		else if (root)
			snprintf(sock, socklen, "/run/dcf/%s.sock", name);
		else
			DCF_BAD(ENOENT,
			    "XDG_RUNTIME_DIR is not set: set it to a private directory "
			    "(for the socket)");
		if (strlen(sock) + 1 >= socklen ||
		    strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			DCF_BAD(ENAMETOOLONG, "the socket's path is too long: %s", sock);
	}
	if (store != NULL) {
		if (state != NULL && state[0] == '/')
			snprintf(store, storelen, "%s/dcf/%s.db", state, name);
		else if (root)
			snprintf(store, storelen, "/var/lib/dcf/%s.db", name);
		else if (home != NULL && home[0] == '/')
			snprintf(store, storelen, "%s/.local/state/dcf/%s.db", home, name);
		else
			DCF_BAD(ENOENT,
			    "neither XDG_STATE_HOME nor HOME is set: give --store FILE");
		if (strlen(store) + 1 >= storelen)
			DCF_BAD(ENAMETOOLONG, "the store's path is too long: %s", store);
	}
	return 0;
}

int
svc_outdir(const char *store, const char *name, char *buf, size_t len, char *err, size_t errlen)
{
	char def[PATH_MAX];

	if (dcf_store_is_url(store)) {
		if (svc_paths(name, NULL, 0, def, sizeof(def), err, errlen) == -1)
			return -1;
		store = def;
	}
	if ((size_t)snprintf(buf, len, "%s.out", store) >= len)
		DCF_BAD(ENAMETOOLONG, "the output directory's path is too long: %s.out", store);
	return 0;
}

/* --- queues --------------------------------------------------------------- */

static int
vq_push(struct vq *q, const struct vtask *t)
{
	if (q->n == q->cap) {
		uint32_t cap = q->cap ? q->cap * 2 : 256;
		struct vtask *nt = malloc(cap * sizeof(*nt));

		if (nt == NULL)
			return -1;
		for (uint32_t i = 0; i < q->n; i++)
			nt[i] = q->t[(q->head + i) % q->cap];
		free(q->t);
		q->t = nt;
		q->cap = cap;
		q->head = 0;
	}
	q->t[(q->head + q->n) % q->cap] = *t;
	q->n++;
	return 0;
}

static struct vtask *
vq_front(struct vq *q)
{
	return q->n > 0 ? &q->t[q->head] : NULL;
}

static void
vq_pop(struct vq *q)
{
	q->head = (q->head + 1) % q->cap;
	q->n--;
}

/* Take back the last push. */
static void
vq_unpush(struct vq *q)
{
	q->n--;
}

/* Take out the i-th from the front; the rest keep their order. */
static void
vq_remove_at(struct vq *q, uint32_t i)
{
	for (; i + 1 < q->n; i++)
		q->t[(q->head + i) % q->cap] = q->t[(q->head + i + 1) % q->cap];
	q->n--;
}

/* Put t in its place by id (the queue is in id order). */
static int
vq_insert_sorted(struct vq *q, const struct vtask *t)
{
	uint32_t i;

	if (vq_push(q, t) == -1)
		return -1;
	for (i = q->n - 1; i > 0 && q->t[(q->head + i - 1) % q->cap].id > t->id; i--)
		q->t[(q->head + i) % q->cap] = q->t[(q->head + i - 1) % q->cap];
	q->t[(q->head + i) % q->cap] = *t;
	return 0;
}

static struct vtask *
vq_back(struct vq *q)
{
	return q->n > 0 ? &q->t[(q->head + q->n - 1) % q->cap] : NULL;
}

static struct vtask *
vq_at(struct vq *q, uint32_t i)
{
	return &q->t[(q->head + i) % q->cap];
}

/* A priority's level, and back (layout.h). */
static uint32_t
level_of(int32_t prio)
{
	return prio >= DCF_PRIO_MIN && prio <= DCF_PRIO_MAX ? (uint32_t)(prio - DCF_PRIO_MIN)
	                                                    : DCF_LEVEL_DEFAULT;
}

static void
vq_free(struct vq *q)
{
	for (uint32_t i = 0; i < q->n; i++)
		free(q->t[(q->head + i) % q->cap].payload);
	free(q->t);
	memset(q, 0, sizeof(*q));
}

static int
moved_has(const struct svc *v, uint64_t id)
{
	for (uint32_t i = 0; i < v->nmoved; i++)
		if (v->moved[i] == id)
			return 1;
	return 0;
}

static void
moved_del(struct svc *v, uint64_t id)
{
	for (uint32_t i = 0; i < v->nmoved; i++)
		if (v->moved[i] == id) {
			v->moved[i] = v->moved[--v->nmoved];
			return;
		}
}

static int
moved_add(struct svc *v, uint64_t id)
{
	if (v->nmoved == v->movedcap) {
		uint32_t cap = v->movedcap ? v->movedcap * 2 : 16;
		uint64_t *m = realloc(v->moved, cap * sizeof(*m));

		if (m == NULL)
			return -1;
		v->moved = m;
		v->movedcap = cap;
	}
	v->moved[v->nmoved++] = id;
	return 0;
}

/* --- replies --------------------------------------------------------------- */

static uint64_t
who_of(const struct svc *v, const struct conn *c, uint32_t tag)
{
	return (uint64_t)(c->gen & 0xffffff) << 40 | (uint64_t)(c - v->conns) << 32 | tag;
}

/* The connection a cookie names, if it is still the same one. */
static struct conn *
conn_of(struct svc *v, uint64_t who)
{
	uint32_t slot = (uint32_t)(who >> 32) & 0xff;
	struct conn *c;

	if (slot >= SVC_MAX_CONN)
		return NULL;
	c = &v->conns[slot];
	return c->fd >= 0 && (c->gen & 0xffffff) == (uint32_t)(who >> 40) ? c : NULL;
}

static void
send_msg(struct svc *v, struct conn *c, const struct dcf_msg *m)
{
	size_t n = dcf_proto_build(v->frame, sizeof(v->frame), m);

	if (n == 0 || c->bad)
		return;
	if (c->out_cap - c->out_len < n) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		unsigned char *nb;

		if (c->out_off > 0) {
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		while (cap - c->out_len < n)
			cap *= 2;
		if (cap != c->out_cap) {
			if ((nb = realloc(c->out, cap)) == NULL) {
				c->bad = 1; /* no room to answer: the client sees the end */
				return;
			}
			c->out = nb;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_len, v->frame, n);
	c->out_len += n;
}

static void
send_error(struct svc *v, struct conn *c, uint32_t tag, uint32_t code, const char *text)
{
	struct dcf_msg m = {.type = DCF_MSG_ERROR, .tag = tag};

	m.u.error.code = code;
	m.u.error.text = text;
	m.u.error.text_len = (uint32_t)strlen(text);
	send_msg(v, c, &m);
}

/*
 * A submission refused: answered in its turn, after the ACKs of what was
 * staged before it (replies to SUBMITs go in the order sent).
 */
static void
refuse(struct svc *v, struct conn *c, uint32_t tag, uint32_t code, const char *text)
{
	struct vtask vt;

	if (v->pending.n == 0) {
		send_error(v, c, tag, code, text);
		return;
	}
	memset(&vt, 0, sizeof(vt));
	vt.cookie = who_of(v, c, tag);
	vt.code = code;
	if ((vt.payload = (unsigned char *)strdup(text)) == NULL ||
	    vq_push(&v->pending, &vt) == -1) {
		free(vt.payload);
		c->bad = 1; /* cannot keep the order: the client sees the end */
		return;
	}
	c->owed++;
}

static void
owed_one(struct conn *c)
{
	if (c->owed > 0)
		c->owed--;
}

static int
result_of(void *arg, const struct dcf_store_task *t)
{
	struct dcf_msg *m = arg;

	m->u.result.id = t->id;
	m->u.result.state = t->state;
	m->u.result.how = t->out.how;
	m->u.result.exit_code = t->out.exit_code;
	m->u.result.term_sig = t->out.term_sig;
	m->u.result.exec_errno = t->out.exec_errno;
	m->u.result.attempts = t->attempts;
	m->u.result.run_ns = t->out.run_ns;
	return 0;
}

/* Task id as the store has it: 1 found (m filled), 0 not, -1 the store failed. */
static int
read_result(struct svc *v, uint64_t id, struct dcf_msg *m)
{
	char err[DCF_ERRLEN];
	int r = dcf_store_get(v->rd, id, result_of, m, err, sizeof(err));

	if (r == -1)
		dcf_log(DCF_ERROR, "store: %s", err);
	return r;
}

/* --- the delayed ---------------------------------------------------------- */

static int
dl_less(const struct delayed *a, const struct delayed *b)
{
	return a->at < b->at || (a->at == b->at && a->id < b->id);
}

static int
dl_push(struct svc *v, const struct delayed *d)
{
	uint32_t i;

	if (v->ndl == v->dlcap) {
		uint32_t cap = v->dlcap ? v->dlcap * 2 : 64;
		struct delayed *n = realloc(v->dl, cap * sizeof(*n));

		if (n == NULL)
			return -1;
		v->dl = n;
		v->dlcap = cap;
	}
	for (i = v->ndl++; i > 0 && dl_less(d, &v->dl[(i - 1) / 2]); i = (i - 1) / 2)
		v->dl[i] = v->dl[(i - 1) / 2];
	v->dl[i] = *d;
	return 0;
}

static void
dl_pop(struct svc *v)
{
	struct delayed last = v->dl[--v->ndl];
	uint32_t i = 0;

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= v->ndl)
			break;
		if (c + 1 < v->ndl && dl_less(&v->dl[c + 1], &v->dl[c]))
			c++;
		if (!dl_less(&v->dl[c], &last))
			break;
		v->dl[i] = v->dl[c];
		i = c;
	}
	if (v->ndl > 0)
		v->dl[i] = last;
}

static struct delayed *
dl_find(struct svc *v, uint64_t id)
{
	for (uint32_t i = 0; i < v->ndl; i++)
		if (v->dl[i].id == id)
			return &v->dl[i];
	return NULL;
}

int
svc_pin(struct svc *v, uint64_t id)
{
	return moved_has(v, id) ? 0 : moved_add(v, id);
}

uint64_t
svc_next_due(const struct svc *v)
{
	if (v->shared)
		return v->claim_at != 0 ? v->claim_at : UINT64_MAX;
	/* One due already waits for a slot: the next completion's refill takes it. */
	return v->ndl > 0 && v->dl[0].at > dcf_wall_ns() ? v->dl[0].at : UINT64_MAX;
}

/* --- several hosts: what this host holds, by which claim ----------------------- */

static uint32_t
cm_slot(const struct svc *v, uint64_t id)
{
	return (uint32_t)((id * 0x9e3779b97f4a7c15ULL) >> 32) & (v->cm_cap - 1);
}

static int
cm_put(struct svc *v, uint64_t id, uint64_t claim)
{
	uint32_t i;

	if ((v->cm_n + 1) * 2 > v->cm_cap) {
		uint64_t *oid = v->cm_id, *ocl = v->cm_claim;
		uint32_t ocap = v->cm_cap, cap = ocap ? ocap * 2 : 1024;

		v->cm_id = calloc(cap, sizeof(*v->cm_id));
		v->cm_claim = calloc(cap, sizeof(*v->cm_claim));
		if (v->cm_id == NULL || v->cm_claim == NULL) {
			free(v->cm_id);
			free(v->cm_claim);
			v->cm_id = oid;
			v->cm_claim = ocl;
			return -1;
		}
		v->cm_cap = cap;
		v->cm_n = 0;
		for (uint32_t k = 0; k < ocap; k++)
			if (oid[k] != 0)
				(void)cm_put(v, oid[k], ocl[k]);
		free(oid);
		free(ocl);
	}
	for (i = cm_slot(v, id); v->cm_id[i] != 0 && v->cm_id[i] != id;
	     i = (i + 1) & (v->cm_cap - 1))
		;
	v->cm_n += v->cm_id[i] == 0;
	v->cm_id[i] = id;
	v->cm_claim[i] = claim;
	return 0;
}

uint64_t
svc_claim_of(const struct svc *v, uint64_t id)
{
	if (v == NULL || v->cm_cap == 0)
		return 0;
	for (uint32_t i = cm_slot(v, id); v->cm_id[i] != 0; i = (i + 1) & (v->cm_cap - 1))
		if (v->cm_id[i] == id)
			return v->cm_claim[i];
	return 0;
}

/* Forgotten: its end is booked, or another host holds it now (backward-shift deletion). */
static void
cm_del(struct svc *v, uint64_t id)
{
	uint32_t i, j, m = v->cm_cap - 1;

	if (v->cm_cap == 0)
		return;
	for (i = cm_slot(v, id); v->cm_id[i] != id; i = (i + 1) & m)
		if (v->cm_id[i] == 0)
			return;
	v->cm_n--;
	for (j = (i + 1) & m; v->cm_id[j] != 0; j = (j + 1) & m) {
		uint32_t k = cm_slot(v, v->cm_id[j]);

		/* Moved back if its home is not between the hole and it, cyclically. */
		if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
			v->cm_id[i] = v->cm_id[j];
			v->cm_claim[i] = v->cm_claim[j];
			i = j;
		}
	}
	v->cm_id[i] = 0;
	v->cm_claim[i] = 0;
}

static int vtask_of_row(const struct svc *v, const struct dcf_store_task *t, struct vtask *vt);

/* A task this host claimed: ready, held by its claim. */
static void
on_claimed(struct svc *v, const struct dcf_store_task *t)
{
	struct vtask vt;
	uint32_t lvl = level_of(t->prio);
	int r;

	v->claim_got++;
	if ((r = vtask_of_row(v, t, &vt)) != 0) {
		if (r == -1)
			dcf_log(DCF_ERROR, "Task-%llu: out of memory: it runs when its lease ends",
			    (unsigned long long)t->id);
		return;
	}
	if (cm_put(v, t->id, t->claim) == -1 || vq_insert_sorted(&v->ready[lvl], &vt) == -1) {
		dcf_log(DCF_ERROR, "Task-%llu: out of memory: it runs when its lease ends",
		    (unsigned long long)t->id);
		free(vt.payload);
		return;
	}
	v->nready++;
}

static void tell_later_refused(struct svc *v, uint64_t id);

/*
 * A request another host left for a task this one holds (dcf-ctl cancel,
 * kill, priority), carried out as if asked here, but never passed on.
 */
static void
carry_out(struct svc *v, const struct dcf_storeq_res *r)
{
	struct dcf_msg m = {.type = DCF_MSG_CTL};
	char text[512];
	uint64_t after = 0;

	if (v->ctl == NULL ||
	    (r->ask_op != DCF_CTL_CANCEL && r->ask_op != DCF_CTL_KILL &&
	        r->ask_op != DCF_CTL_PRIORITY)) {
		dcf_log(DCF_WARNING,
		    "Task-%llu: a request from another host this one does not "
		    "know (%u, a newer dcf?): not carried out",
		    (unsigned long long)r->id, r->ask_op);
		return;
	}
	m.u.ctl.op = r->ask_op;
	m.u.ctl.id = r->id;
	m.u.ctl.value = r->ask_val;
	v->asking = 1;
	(void)v->ctl(v->ctl_arg, &m, text, sizeof(text), &after);
	v->asking = 0;
	dcf_log(DCF_WARNING, "Task-%llu: asked by another host: %s", (unsigned long long)r->id,
	    text);
}

/* The store's word on a claim, on a refused change, on when to look again. */
static int
shared_word(struct svc *v, const struct dcf_storeq_res *r)
{
	if (r->is_add)
		return 0;
	if ((r->cookie & ~(DCF_STOREQ_CLAIMED - 1)) == DCF_STOREQ_CLAIMED) {
		on_claimed(v, r->task);
		return 1;
	}
	if ((r->cookie & ~(DCF_STOREQ_ASKED - 1)) == DCF_STOREQ_ASKED) {
		carry_out(v, r);
		return 1;
	}
	if (r->refused) {
		/* A dcf-ctl answer that waited for it: nothing was done after all. */
		tell_later_refused(v, r->id);
		if ((r->cookie & ~(DCF_STOREQ_ASK - 1)) != DCF_STOREQ_ASK &&
		    svc_claim_of(v, r->id) != 0) {
			dcf_log(DCF_WARNING,
			    "Task-%llu: another host holds it now (this host's lease on it ended): "
			    "what this host did of it is not recorded",
			    (unsigned long long)r->id);
			cm_del(v, r->id);
		}
		return 1;
	}
	if (r->cookie == DCF_STOREQ_NEXT) {
		v->claim_inflight = 0;
		if (v->claim_asked > 0 && v->claim_got >= v->claim_asked)
			v->claim_more = 1; /* it filled all it asked for: there may be more */
		v->claim_at =
		    r->next_ms >= 0 ? dcf_wall_ns() + (uint64_t)r->next_ms * 1000000ULL : 0;
		return 1;
	}
	return 0;
}

/*
 * The tasks this host holds beyond twice its nodes: for short tasks (a
 * node ends more than SVC_SHORT_RATE a second), about SVC_HOLD_NS of its
 * work at the rate it ends them, so that claims are of many and each costs
 * the store little, at most SVC_HOLD_MAX; none for longer ones (what a
 * host holds waits for it: the runs a dead host leaves wait behind them).
 */
static uint32_t
burst_of(struct svc *v)
{
	uint64_t now = dcf_now_ns(), dt = now - v->rate_t0;
	double b;

	if (v->rate_t0 == 0) {
		v->rate_t0 = now;
	} else if (dt >= SVC_RATE_NS) {
		double r = (double)v->ended_here * 1e9 / (double)dt;

		/* A window's measure weighs half; after a quiet spell, all of it. */
		v->rate = dt >= 4 * SVC_RATE_NS ? r : (v->rate + r) / 2;
		v->ended_here = 0;
		v->rate_t0 = now;
	}
	if (v->rate < v->short_rate * (double)v->cfg->nets * v->cfg->nodes_per_net)
		return 0;
	b = v->rate * (double)SVC_HOLD_NS / 1e9;
	return b >= SVC_HOLD_MAX ? SVC_HOLD_MAX : (uint32_t)b;
}

/*
 * The ready queue wants want more: a claim, if the store may have some and
 * none is on its way; for short tasks, also ahead of need, once half of
 * what the last claim brought has gone.
 */
static void
shared_fill(struct svc *v, uint32_t want)
{
	uint32_t burst, limit;

	if (v->claim_at != 0 && dcf_wall_ns() >= v->claim_at) {
		v->claim_at = 0;
		v->claim_more = 1;
	}
	burst = burst_of(v);
	limit = 2 * v->cfg->nets * v->cfg->nodes_per_net + burst;
	if (!v->claim_more || v->claim_inflight || v->q == NULL || v->stopping)
		return;
	/*
	 * Held at most what its nodes run and as many more to start next (and
	 * the burst): what one host holds, the others cannot run (and a dead
	 * host's tasks wait for its lease to end).
	 */
	if (v->cm_n >= limit || (want == 0 && (burst == 0 || v->nready * 2 > burst)))
		return;
	if (burst > 0 || want > limit - v->cm_n)
		want = limit - v->cm_n;
	v->claim_more = 0;
	v->claim_inflight = 1;
	v->claim_asked = want;
	v->claim_got = 0;
	dcf_storeq_claim(v->q, want, v->cfg->nets);
}

/* Tasks ended somewhere: the clients waiting here for those that did are told. */
static int
state_cb(void *arg, const struct dcf_store_task *t)
{
	*(uint32_t *)arg = t->state;
	return 0;
}

static void tell_waiters(struct svc *v, uint64_t id);

static void
check_waiters(struct svc *v)
{
	char err[DCF_ERRLEN];

	for (uint32_t i = 0; i < v->nw; i++) {
		uint32_t st = 0;
		uint64_t id = v->w[i].id;

		if (dcf_store_get(v->rd, id, state_cb, &st, err, sizeof(err)) == 1 &&
		    dcf_store_state_final(st)) {
			tell_waiters(v, id);
			i = (uint32_t)-1; /* the list changed: from its start again */
		}
	}
}

/* --- requests -------------------------------------------------------------- */

/* dcf_store_ops.hosts's callback: is it the one looked for (a host of the store)? */
struct host_look {
	const char *name;
	int found;
};

static int
host_named(void *arg, const struct dcf_store_host *h)
{
	struct host_look *l = arg;

	l->found = strcmp(h->owner, l->name) == 0;
	return l->found;
}

/*
 * dcf-submit --host: a store several hosts share, and one of them (this
 * one, or one that has served it); else why not, into why.
 */
static int
host_check(struct svc *v, const char *host, char *why, size_t len)
{
	struct host_look look = {.name = host};
	char err[DCF_ERRLEN];

	if (!v->shared) {
		snprintf(why, len,
		    "--host is for a store several hosts share (--store postgresql://...): this "
		    "service's is its own; nothing was recorded");
		return -1;
	}
	if (strcmp(host, v->o->host_id) == 0)
		return 0;
	if (v->rd->ops->hosts(v->rd, host_named, &look, err, sizeof(err)) == -1) {
		dcf_log(DCF_ERROR, "store: %s", err);
		snprintf(why, len,
		    "the store could not be read: nothing was recorded (see the log)");
		return -1;
	}
	if (!look.found) {
		snprintf(why, len,
		    "no host '%.128s' has served this store (dcf-status --hosts lists those that "
		    "have): nothing was recorded",
		    host);
		return -1;
	}
	return 0;
}

static void
on_submit(struct svc *v, struct conn *c, const struct dcf_msg *m)
{
	struct dcf_store_task t;
	struct vtask vt;
	char key[DCF_KEY_MAX + 1], cwd[DCF_CWD_MAX + 1], host[DCF_HOST_MAX + 1];
	uint64_t deps[DCF_DEPS_MAX];
	uint32_t as = c->as_len, len = as + m->u.submit.cmd_len + m->u.submit.cwd_len + 1,
	         ndeps = 0;

	if (v->stopping) {
		refuse(v, c, m->tag, DCF_PE_STOPPING,
		    "the supervisor is stopping: nothing was recorded; submit again once it is "
		    "back");
		return;
	}
	if (v->draining) {
		refuse(v, c, m->tag, DCF_PE_DRAINING,
		    "the service is draining (dcf-ctl drain): nothing was recorded; submit again "
		    "once it is started again");
		return;
	}
	if (len > v->cfg->payload_max) {
		refuse(v, c, m->tag, DCF_PE_BADCMD, "the command is too long for a task");
		return;
	}
	/* Another user's keys are its own: its uid before each. */
	if ((c->other ? snprintf(key, sizeof(key), "u%u:%.*s", c->uid, (int)m->u.submit.key_len,
	                    m->u.submit.key)
	              : snprintf(key, sizeof(key), "%.*s", (int)m->u.submit.key_len,
	                    m->u.submit.key)) > (int)DCF_KEY_MAX) {
		refuse(v, c, m->tag, DCF_PE_BADCMD,
		    "the key is too long: another user's takes at most 500 bytes here; nothing "
		    "was recorded");
		return;
	}
	memcpy(host, m->u.submit.host, m->u.submit.host_len);
	host[m->u.submit.host_len] = '\0';
	if (m->u.submit.host_len > 0) {
		char why[300];

		if (host_check(v, host, why, sizeof(why)) == -1) {
			refuse(v, c, m->tag, DCF_PE_BADCMD, why);
			return;
		}
	}
	/* Another host's networks are its own: its number is checked there (it waits). */
	if (m->u.submit.net != DCF_NET_ANY && m->u.submit.net >= v->cfg->nets &&
	    (m->u.submit.host_len == 0 || strcmp(host, v->o->host_id) == 0)) {
		char why[128];

		snprintf(why, sizeof(why), "no network %u here: this service has networks 0 to %u",
		    m->u.submit.net, v->cfg->nets - 1);
		refuse(v, c, m->tag, DCF_PE_BADCMD, why);
		return;
	}
	memset(&vt, 0, sizeof(vt));
	if ((vt.payload = malloc(len)) == NULL) {
		refuse(v, c, m->tag, DCF_PE_STORE, "out of memory: nothing was recorded");
		return;
	}
	/* Another user's command runs as it: DCF_RUN_AS's items first (let_in). */
	memcpy(vt.payload, c->as, as);
	memcpy(vt.payload + as, m->u.submit.cmd, m->u.submit.cmd_len);
	memcpy(vt.payload + as + m->u.submit.cmd_len, m->u.submit.cwd, m->u.submit.cwd_len);
	vt.payload[len - 1] = '\0';
	vt.len = len;
	vt.argv_len = as + m->u.submit.cmd_len;
	vt.id = v->shared ? ++v->local_seq : v->next_id; /* shared: a placeholder, not 0 */
	vt.cookie = who_of(v, c, m->tag);
	vt.prior.timeout_ms = m->u.submit.timeout_ms;
	vt.prior.retries =
	    m->u.submit.retries == DCF_RETRIES_DEFAULT ? v->cfg->retries : m->u.submit.retries;
	vt.prior.argv_len = vt.argv_len;
	vt.prior.prio = m->u.submit.prio;
	vt.prior.pin = m->u.submit.net != DCF_NET_ANY ? m->u.submit.net + 1 : 0;
	/* A time already past is now. */
	vt.nb = m->u.submit.not_before > dcf_wall_ns() ? m->u.submit.not_before : 0;
	memcpy(cwd, m->u.submit.cwd, m->u.submit.cwd_len);
	cwd[m->u.submit.cwd_len] = '\0';
	memset(&t, 0, sizeof(t));
	t.id = v->shared ? 0 : vt.id; /* several hosts: the store gives it */
	t.key = m->u.submit.key_len > 0 ? key : NULL;
	t.cmd = vt.payload;
	t.cmd_len = vt.argv_len;
	t.cwd = cwd;
	t.timeout_ms = vt.prior.timeout_ms;
	t.retries = vt.prior.retries;
	t.prio = vt.prior.prio;
	t.pin = vt.prior.pin;
	t.not_before_ns = vt.nb;
	t.submitted_ns = dcf_wall_ns();
	t.pin_host = m->u.submit.host_len > 0 ? host : NULL;
	/* --after: in order, each once (the store counts what it waits for). */
	for (uint32_t i = 0; i < m->u.submit.ndeps; i++) {
		uint64_t d = dcf_proto_dep(m, i);
		uint32_t j = ndeps;

		while (j > 0 && deps[j - 1] > d)
			j--;
		if (j > 0 && deps[j - 1] == d)
			continue;
		memmove(deps + j + 1, deps + j, (ndeps - j) * sizeof(deps[0]));
		deps[j] = d;
		ndeps++;
	}
	t.deps = ndeps > 0 ? deps : NULL;
	t.ndeps = ndeps;
	t.after_any = (m->u.submit.flags & DCF_SUBMIT_AFTER_ANY) != 0;
	if (vq_push(&v->pending, &vt) == -1) {
		free(vt.payload);
		refuse(v, c, m->tag, DCF_PE_STORE, "out of memory: nothing was recorded");
		return;
	}
	if (dcf_storeq_add(v->q, &t, vt.cookie) == -1) {
		vq_unpush(&v->pending);
		free(vt.payload);
		refuse(v, c, m->tag, DCF_PE_STORE, "out of memory: nothing was recorded");
		return;
	}
	v->pending_at[level_of(vt.prior.prio)]++;
	c->owed++;
	if (!v->shared)
		v->next_id++;
}

/* dcf_store_get's callback: does the task's command begin with another user's items? */
struct yours {
	const struct conn *c;
	int is;
};

static int
yours_row(void *arg, const struct dcf_store_task *t)
{
	struct yours *y = arg;

	y->is = t->cmd_len >= y->c->as_len && memcmp(t->cmd, y->c->as, y->c->as_len) == 0;
	return 0;
}

static void
on_wait(struct svc *v, struct conn *c, const struct dcf_msg *m)
{
	struct dcf_msg r = {.type = DCF_MSG_RESULT, .tag = m->tag};
	int found;

	/* Another user (--allow-user) waits for its own tasks alone. */
	if (c->other) {
		struct yours y = {.c = c};
		char err[DCF_ERRLEN];

		if (dcf_store_get(v->rd, m->u.wait.id, yours_row, &y, err, sizeof(err)) == -1) {
			dcf_log(DCF_ERROR, "store: %s", err);
			send_error(v, c, m->tag, DCF_PE_STORE, "the store could not be read");
			return;
		}
		if (!y.is) {
			send_error(v, c, m->tag, DCF_PE_NOTFOUND,
			    "no such task of yours (never submitted by you, or pruned)");
			return;
		}
	}

	/* With several hosts, ids are the store's: it alone says whether there is one. */
	if (m->u.wait.id == 0 || (!v->shared && m->u.wait.id >= v->next_id) ||
	    (found = read_result(v, m->u.wait.id, &r)) == 0) {
		send_error(v, c, m->tag, DCF_PE_NOTFOUND,
		    "no such task (never submitted, or pruned)");
		return;
	}
	if (found == -1) {
		send_error(v, c, m->tag, DCF_PE_STORE, "the store could not be read");
		return;
	}
	if (dcf_store_state_final(r.u.result.state)) {
		send_msg(v, c, &r);
		return;
	}
	if (v->nw == v->wcap) {
		uint32_t cap = v->wcap ? v->wcap * 2 : 64;
		struct waiter *nw = realloc(v->w, cap * sizeof(*nw));

		if (nw == NULL) {
			send_error(v, c, m->tag, DCF_PE_STORE, "out of memory");
			return;
		}
		v->w = nw;
		v->wcap = cap;
	}
	v->w[v->nw].id = m->u.wait.id;
	v->w[v->nw++].who = who_of(v, c, m->tag);
	c->owed++;
}

/* What dcf_store_get gives a retry: the task, its command and directory copied. */
struct retry_row {
	struct dcf_store_task t;
	unsigned char *cmd;
	char cwd[DCF_CWD_MAX + 1];
	char host[DCF_HOST_MAX + 1];
};

static int
retry_row(void *arg, const struct dcf_store_task *t)
{
	struct retry_row *rr = arg;

	rr->t = *t;
	rr->t.key = NULL;
	rr->t.cwd = NULL;
	rr->t.owner = NULL;
	rr->t.after_ids = NULL;
	rr->t.pin_host = NULL;
	if (t->pin_host != NULL) {
		snprintf(rr->host, sizeof(rr->host), "%s", t->pin_host);
		rr->t.pin_host = rr->host;
	}
	snprintf(rr->cwd, sizeof(rr->cwd), "%s", t->cwd != NULL ? t->cwd : "/");
	if ((rr->cmd = malloc(t->cmd_len > 0 ? t->cmd_len : 1)) != NULL)
		memcpy(rr->cmd, t->cmd, t->cmd_len);
	rr->t.cmd = rr->cmd;
	return 0;
}

/*
 * dcf-ctl retry ID: a task that ended without success is submitted again,
 * as a new task with its command, directory, priority and limits (a
 * finished task's record never changes); answered with the new id once
 * that is committed, as dcf-submit is.
 */
static void
on_retry(struct svc *v, struct conn *c, const struct dcf_msg *m)
{
	struct retry_row rr = {0};
	struct vtask vt;
	char err[DCF_ERRLEN], text[160];
	uint64_t id = m->u.ctl.id;
	size_t cwd_len;
	int r;

	if (v->stopping || v->draining) {
		send_error(v, c, m->tag, v->draining ? DCF_PE_DRAINING : DCF_PE_STOPPING,
		    "the service takes no new task now (stopping or draining): nothing was "
		    "recorded");
		return;
	}
	/* (Several hosts: a submission not committed has no id yet, only a placeholder.) */
	for (uint32_t i = 0; !v->shared && i < v->pending.n; i++)
		if (vq_at(&v->pending, i)->id == id) {
			send_error(v, c, m->tag, DCF_PE_BADCTL,
			    "task is not committed yet: it has not ended");
			return;
		}
	r = id == 0 || id >= v->next_id
	    ? 0
	    : dcf_store_get(v->rd, id, retry_row, &rr, err, sizeof(err));
	if (r == -1 || (r == 1 && rr.cmd == NULL)) {
		dcf_log(DCF_ERROR, "store: %s", r == -1 ? err : "out of memory");
		free(rr.cmd);
		send_error(v, c, m->tag, DCF_PE_STORE,
		    "the store could not be read: nothing was recorded (see the log)");
		return;
	}
	cwd_len = strlen(rr.cwd);
	if (r == 0 || !dcf_store_state_final(rr.t.state) || rr.t.state == DCF_SS_DONE ||
	    rr.t.cmd_len + cwd_len + 1 > v->cfg->payload_max) {
		if (r == 0)
			snprintf(text, sizeof(text), "no task %llu", (unsigned long long)id);
		else if (!dcf_store_state_final(rr.t.state))
			snprintf(text, sizeof(text),
			    "task %llu has not ended (%s): nothing to retry",
			    (unsigned long long)id, dcf_store_state_name(rr.t.state));
		else if (rr.t.state == DCF_SS_DONE)
			snprintf(text, sizeof(text),
			    "task %llu succeeded: nothing to retry (dcf-submit runs it again)",
			    (unsigned long long)id);
		else
			snprintf(text, sizeof(text),
			    "task %llu's command is too long for a task here",
			    (unsigned long long)id);
		free(rr.cmd);
		send_error(v, c, m->tag, DCF_PE_BADCTL, text);
		return;
	}
	memset(&vt, 0, sizeof(vt));
	vt.len = rr.t.cmd_len + (uint32_t)cwd_len + 1;
	if ((vt.payload = malloc(vt.len)) == NULL) {
		free(rr.cmd);
		send_error(v, c, m->tag, DCF_PE_STORE, "out of memory: nothing was recorded");
		return;
	}
	memcpy(vt.payload, rr.cmd, rr.t.cmd_len);
	memcpy(vt.payload + rr.t.cmd_len, rr.cwd, cwd_len + 1);
	vt.argv_len = rr.t.cmd_len;
	vt.id = v->shared ? ++v->local_seq : v->next_id; /* shared: a placeholder, not 0 */
	vt.cookie = who_of(v, c, m->tag);
	vt.retry_of = id;
	vt.prior.timeout_ms = rr.t.timeout_ms;
	vt.prior.retries = rr.t.retries;
	vt.prior.argv_len = vt.argv_len;
	vt.prior.prio = rr.t.prio;
	/* (Another host's network is its own to check.) */
	vt.prior.pin = rr.t.pin <= v->cfg->nets ||
	        (rr.t.pin_host != NULL && strcmp(rr.t.pin_host, v->o->host_id) != 0)
	    ? rr.t.pin
	    : 0;
	/* The new task: what the old one was given, nothing of what became of it. */
	{
		struct dcf_store_task t;

		memset(&t, 0, sizeof(t));
		t.id = v->shared ? 0 : vt.id;
		t.cmd = rr.cmd;
		t.cmd_len = rr.t.cmd_len;
		t.cwd = rr.cwd;
		t.timeout_ms = rr.t.timeout_ms;
		t.retries = rr.t.retries;
		t.prio = rr.t.prio;
		t.pin = vt.prior.pin;
		t.pin_host = rr.t.pin_host;
		t.submitted_ns = dcf_wall_ns();
		if (vq_push(&v->pending, &vt) == -1) {
			free(vt.payload);
			free(rr.cmd);
			send_error(v, c, m->tag, DCF_PE_STORE,
			    "out of memory: nothing was recorded");
			return;
		}
		if (dcf_storeq_add(v->q, &t, vt.cookie) == -1) {
			vq_unpush(&v->pending);
			free(vt.payload);
			free(rr.cmd);
			send_error(v, c, m->tag, DCF_PE_STORE,
			    "out of memory: nothing was recorded");
			return;
		}
	}
	free(rr.cmd);
	v->pending_at[level_of(vt.prior.prio)]++;
	c->owed++;
	if (!v->shared)
		v->next_id++;
}

/* A control request, carried out by the supervisor (svc_set_ctl). */
static void
on_ctl(struct svc *v, struct conn *c, const struct dcf_msg *m)
{
	struct dcf_msg ok = {.type = DCF_MSG_OK, .tag = m->tag};
	char text[512];
	uint64_t after = 0;
	int r;

	if (c->other) {
		send_error(v, c, m->tag, DCF_PE_DENIED,
		    "permission denied: --allow-user lets you submit and wait for your tasks; "
		    "control is the service's own user's: ask them");
		return;
	}
	if (m->u.ctl.op == DCF_CTL_RETRY && v->ctl != NULL) {
		on_retry(v, c, m);
		return;
	}
	r = v->ctl == NULL ? -1 : v->ctl(v->ctl_arg, m, text, sizeof(text), &after);

	if (r == -1) {
		send_error(v, c, m->tag, DCF_PE_BADCTL,
		    v->ctl == NULL ? "this supervisor takes no control requests" : text);
		return;
	}
	if (r == 1) {
		/* Answered once task `after`'s end is committed (tell_waiters). */
		struct later *l;

		if (v->nlater == v->latercap) {
			uint32_t cap = v->latercap ? v->latercap * 2 : 8;

			if ((l = realloc(v->later, cap * sizeof(*l))) == NULL) {
				send_error(v, c, m->tag, DCF_PE_STORE,
				    "out of memory: done, but its record is on its way; see the "
				    "log");
				return;
			}
			v->later = l;
			v->latercap = cap;
		}
		l = &v->later[v->nlater++];
		l->id = after;
		l->who = who_of(v, c, m->tag);
		snprintf(l->text, sizeof(l->text), "%.*s", (int)sizeof(l->text) - 1, text);
		c->owed++; /* kept open for it, as for an ACK */
		return;
	}
	ok.u.error.text = text;
	ok.u.error.text_len = (uint32_t)strlen(text);
	send_msg(v, c, &ok);
}

/* Every whole frame in c's buffer, answered; a malformed one closes it. */
static void
on_frames(struct svc *v, struct conn *c)
{
	size_t off = 0;

	while (!c->bad && c->out_len - c->out_off < OUT_HIGH) {
		struct dcf_msg m;
		size_t used;
		uint32_t code;
		char err[256];
		int r = dcf_proto_parse(c->in + off, c->in_len - off, v->cfg->payload_max, &m,
		    &used, &code, err, sizeof(err));

		if (r == 0)
			break;
		if (r == -1 && code == DCF_PE_BADCMD && c->in_len - off >= 4) {
			/* A whole, well-formed frame whose command cannot run: said, and on. */
			uint32_t flen;

			memcpy(&flen, c->in + off,
			    sizeof(flen)); /* little-endian, as proto.h says */
			refuse(v, c, m.tag, code, err);
			off += 4 + (size_t)le32toh(flen);
			continue;
		}
		if (r == -1) {
			send_error(v, c, m.tag, code, err);
			c->bad = 1;
			break;
		}
		off += used;
		if (m.type == DCF_MSG_SUBMIT)
			on_submit(v, c, &m);
		else if (m.type == DCF_MSG_WAIT)
			on_wait(v, c, &m);
		else if (m.type == DCF_MSG_CTL)
			on_ctl(v, c, &m);
		else {
			send_error(v, c, m.tag, DCF_PE_BADMSG, "not a request");
			c->bad = 1;
		}
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
}

/* --- connections ------------------------------------------------------------ */

static void
conn_close(struct svc *v, struct conn *c)
{
	/* Its waiters go with it: a later connection in this slot is someone else. */
	for (uint32_t i = 0; i < v->nw;) {
		if (conn_of(v, v->w[i].who) == c)
			v->w[i] = v->w[--v->nw];
		else
			i++;
	}
	close(c->fd);
	c->fd = -1;
	c->gen++;
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->in_len = c->out_len = c->out_off = c->out_cap = 0;
	c->owed = 0;
	c->eof = c->bad = 0;
	v->nconn--;
}

/*
 * Another user's connection: let in if --allow-user names it, its tasks to
 * run as it (cmd.h DCF_RUN_AS: the worker takes its uid, gid and groups
 * before it enters the task's directory). 0, or -1 refused.
 */
static int
let_in(struct svc *v, struct conn *c, const struct ucred *cr)
{
	uint32_t i = 0;
	int n;

	while (i < v->o->nallow && v->o->allow_uid[i] != (uint32_t)cr->uid)
		i++;
	if (i == v->o->nallow || cr->uid == 0)
		return -1;
	n = snprintf(c->as, sizeof(c->as), "%s%c%u%c%u%c", DCF_RUN_AS, 0, (unsigned)cr->uid, 0,
	    (unsigned)cr->gid, 0);
	if (n <= 0 || (size_t)n >= sizeof(c->as))
		return -1;
	c->as_len = (uint32_t)n;
	c->uid = (uint32_t)cr->uid;
	c->other = 1;
	return 0;
}

static void
accept_all(struct svc *v)
{
	while (v->lfd >= 0 && v->nconn < SVC_MAX_CONN) {
		struct ucred cr = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
		socklen_t crl = sizeof(cr);
		struct conn *c = NULL;
		int fd = accept4(v->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1)
			return;
		for (uint32_t i = 0; i < SVC_MAX_CONN; i++)
			if (v->conns[i].fd < 0) {
				c = &v->conns[i];
				break;
			}
		if (c == NULL) { /* cannot be: nconn counts the slots in use */
			close(fd);
			return;
		}
		c->fd = fd;
		c->in = malloc(DCF_PROTO_MAX);
		v->nconn++;
		if (c->in == NULL) {
			conn_close(v, c);
			continue;
		}
		c->other = 0;
		c->as_len = 0;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) == -1 ||
		    (cr.uid != geteuid() && let_in(v, c, &cr) == -1)) {
			send_error(v, c, 0, DCF_PE_DENIED,
			    "permission denied: this supervisor serves its own user only (and "
			    "those --allow-user names): run a service of your own, or ask its "
			    "owner to let you in");
			c->bad = 1;
			dcf_log(DCF_WARNING, "refused a connection from uid %u (pid %d)",
			    (unsigned)cr.uid, (int)cr.pid);
		}
	}
}

/* Write what is queued; 0 while the connection lives. */
static int
conn_write(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return -1;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

/* Read what has come; 0 while the connection lives. */
static int
conn_read(struct svc *v, struct conn *c)
{
	while (
	    !c->bad && !c->eof && c->in_len < DCF_PROTO_MAX && c->out_len - c->out_off < OUT_HIGH) {
		ssize_t n = recv(c->fd, c->in + c->in_len, DCF_PROTO_MAX - c->in_len, 0);

		if (n > 0) {
			c->in_len += (size_t)n;
			on_frames(v, c);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n == 0) {
			c->eof = 1; /* said all it will: what it is owed still goes */
			return 0;
		}
		return -1;
	}
	return 0;
}

void
svc_io(struct svc *v)
{
	if (v->listen_fd >= 0) {
		char err[DCF_ERRLEN];
		int w = v->lis->ops->heard(v->lis, NULL, NULL, err, sizeof(err));

		if (w == -1) {
			/* The connection went: listened to again on a new one, all looked at anew. */
			dcf_log(DCF_WARNING, "store: %s: listening again", err);
			v->listen_fd = v->lis->ops->listen(v->lis, err, sizeof(err));
			if (v->listen_fd == -1)
				dcf_log(DCF_ERROR, "store: %s: other hosts' news is not heard",
				    err);
			w = DCF_HEARD_READY | DCF_HEARD_ENDED | DCF_HEARD_ASK;
		}
		if (w & DCF_HEARD_READY)
			v->claim_more = 1;
		if (w & DCF_HEARD_ENDED)
			check_waiters(v);
		if ((w & DCF_HEARD_ASK) && v->q != NULL)
			dcf_storeq_asks(v->q);
	}
	accept_all(v);
	for (uint32_t i = 0; i < SVC_MAX_CONN; i++) {
		struct conn *c = &v->conns[i];

		if (c->fd < 0)
			continue;
		/* Requests held back while its replies piled up: on with them. */
		if (c->in_len > 0 && !c->bad && c->out_len - c->out_off < OUT_HIGH)
			on_frames(v, c);
		if (conn_read(v, c) == -1 || conn_write(c) == -1) {
			conn_close(v, c);
			continue;
		}
		if (c->out_off == c->out_len && (c->bad || (c->eof && c->owed == 0)))
			conn_close(v, c);
	}
}

int
svc_poll(struct svc *v, struct pollfd *pfd, int max)
{
	int n = 0;

	if (v->listen_fd >= 0 && n < max) {
		pfd[n].fd = v->listen_fd;
		pfd[n++].events = POLLIN;
	}
	if (v->lfd >= 0 && v->nconn < SVC_MAX_CONN && n < max) {
		pfd[n].fd = v->lfd;
		pfd[n++].events = POLLIN;
	}
	for (uint32_t i = 0; i < SVC_MAX_CONN && n < max; i++) {
		struct conn *c = &v->conns[i];

		/* Half-closed (or gone) and nothing to send: poll would say POLLHUP at once,
		 * for ever. Its answers come through the committer's eventfd. */
		if (c->fd < 0 || (c->eof && c->out_off == c->out_len))
			continue;
		pfd[n].fd = c->fd;
		pfd[n].events = (short)((c->out_off < c->out_len ? POLLOUT : 0) |
		    (!c->bad && !c->eof && c->out_len - c->out_off < OUT_HIGH ? POLLIN : 0));
		n++;
	}
	return n;
}

/* --- the store's word ---------------------------------------------------------- */

/* The control requests answered once a change to task id is committed. */
static void
tell_later(struct svc *v, uint64_t id)
{
	for (uint32_t i = 0; i < v->nlater;) {
		struct dcf_msg ok = {.type = DCF_MSG_OK};
		struct conn *c;

		if (v->later[i].id != id) {
			i++;
			continue;
		}
		if ((c = conn_of(v, v->later[i].who)) != NULL) {
			ok.tag = (uint32_t)v->later[i].who;
			ok.u.error.text = v->later[i].text;
			ok.u.error.text_len = (uint32_t)strlen(v->later[i].text);
			send_msg(v, c, &ok);
			owed_one(c);
		}
		v->later[i] = v->later[--v->nlater];
	}
}

/* Those answers, when the change was refused (several hosts): nothing was done. */
static void
tell_later_refused(struct svc *v, uint64_t id)
{
	for (uint32_t i = 0; i < v->nlater;) {
		struct conn *c;
		char text[200];

		if (v->later[i].id != id) {
			i++;
			continue;
		}
		if ((c = conn_of(v, v->later[i].who)) != NULL) {
			snprintf(text, sizeof(text),
			    "task %llu: nothing was changed (it changed hands, started or ended "
			    "meanwhile, or a request for it waits for its host): ask again",
			    (unsigned long long)id);
			send_error(v, c, (uint32_t)v->later[i].who, DCF_PE_BADCTL, text);
			owed_one(c);
		}
		v->later[i] = v->later[--v->nlater];
	}
}

static void
tell_waiters(struct svc *v, uint64_t id)
{
	struct dcf_msg r = {.type = DCF_MSG_RESULT};
	int have = 0;

	tell_later(v, id);
	for (uint32_t i = 0; i < v->nw;) {
		struct conn *c;

		if (v->w[i].id != id) {
			i++;
			continue;
		}
		if ((c = conn_of(v, v->w[i].who)) != NULL) {
			if (!have && read_result(v, id, &r) != 1)
				have = -1; /* pruned already, or the store failed */
			if (have == 0)
				have = 1;
			if (have == 1) {
				r.tag = (uint32_t)v->w[i].who;
				send_msg(v, c, &r);
			} else {
				send_error(v, c, (uint32_t)v->w[i].who, DCF_PE_NOTFOUND,
				    "the task ended, but its record is gone (pruned by --keep)");
			}
			owed_one(c);
		}
		v->w[i] = v->w[--v->nw];
	}
}

static int make_ready(struct svc *v, uint64_t id, int32_t prio, char *err, size_t errlen);

/* Cancelled while in the store alone, its end not committed yet (svc.skip). */
static int
skipped(const struct svc *v, uint64_t id)
{
	for (uint32_t i = 0; i < v->nskip; i++)
		if (v->skip[i] == id)
			return 1;
	return 0;
}

static void
say_dep_failed(const struct dcf_storeq_res *r)
{
	dcf_log(DCF_WARNING,
	    "Task-%llu: not run: task %llu, which it runs after, did not succeed (dependency "
	    "failed)",
	    (unsigned long long)r->id, (unsigned long long)r->cause);
}

/*
 * A task that waited (--after) for one whose end was just committed: it
 * runs now (into memory, or the heap of the delayed if its time is still
 * to come), or it has ended as its dependency failed (its waiters told).
 */
static void
woke(struct svc *v, const struct dcf_storeq_res *r)
{
	char err[DCF_ERRLEN];

	if (r->state == DCF_SS_DEP_FAILED) {
		say_dep_failed(r);
		tell_waiters(v, r->id);
		return;
	}
	if (skipped(v, r->id))
		return; /* cancelled while it waited: its end is on its way */
	dcf_log(DCF_INFO, "Task-%llu: every task it runs after has ended: queued",
	    (unsigned long long)r->id);
	if (r->not_before_ns > dcf_wall_ns()) {
		struct delayed d = {.at = r->not_before_ns, .id = r->id, .prio = r->prio};

		if (dl_push(v, &d) == -1)
			dcf_log(DCF_ERROR,
			    "Task-%llu: out of memory for its delay: it runs after a restart",
			    (unsigned long long)r->id);
		return;
	}
	if (make_ready(v, r->id, r->prio, err, sizeof(err)) == -1)
		dcf_log(DCF_ERROR, "Task-%llu: queueing it: %s: it runs after a restart",
		    (unsigned long long)r->id, err);
}

void
svc_committed(void *arg, const struct dcf_storeq_res *r)
{
	struct svc *v = arg;
	struct vtask vt, *rf;
	struct conn *c;
	uint32_t lvl;

	if (v->shared && shared_word(v, r))
		return;
	if (!r->is_add && (r->cookie & ~(DCF_STOREQ_WOKE - 1)) == DCF_STOREQ_WOKE) {
		if (!v->shared) /* with several hosts, whoever claims it runs it */
			woke(v, r);
		return;
	}
	if (!r->is_add) {
		if (r->cookie & DCF_STOREQ_PRIO)
			tell_later(v, r->id);
		if (r->cookie & DCF_STOREQ_CTL)
			tell_later(v, r->cookie); /* a control state's: answered by its cookie */
		if ((r->cookie & ~(DCF_STOREQ_ASK - 1)) == DCF_STOREQ_ASK)
			tell_later(v, r->id); /* asked of the host that holds it */
		if (r->cookie & DCF_STOREQ_ENDED) {
			v->ended_here += v->shared && svc_claim_of(v, r->id) != 0;
			cm_del(v, r->id);
			moved_del(v, r->id);
			for (uint32_t i = 0; i < v->nskip; i++)
				if (v->skip[i] == r->id) {
					v->skip[i] =
					    v->skip[--v->nskip]; /* its end is in the store now */
					break;
				}
		}
		if (r->cookie & DCF_STOREQ_ENDED)
			tell_waiters(v, r->cookie & ~DCF_STOREQ_ENDED);
		return;
	}
	/* With several hosts the store gives the ids: the submission is found by its cookie. */
	if (vq_front(&v->pending) == NULL ||
	    (v->shared ? vq_front(&v->pending)->cookie != r->cookie
	               : vq_front(&v->pending)->id != r->id))
		return; /* not ours (cannot be: adds are only staged here) */
	vt = *vq_front(&v->pending);
	vq_pop(&v->pending);
	if (v->pending_at[level_of(vt.prior.prio)] > 0)
		v->pending_at[level_of(vt.prior.prio)]--;
	if (vt.retry_of != 0)
		dcf_log(DCF_WARNING, "Task-%llu: task %llu again, by dcf-ctl retry",
		    (unsigned long long)r->id, (unsigned long long)vt.retry_of);
	if ((c = conn_of(v, vt.cookie)) != NULL) {
		struct dcf_msg m = {.type = DCF_MSG_ACK, .tag = (uint32_t)vt.cookie};
		char text[160];

		m.u.ack.id = r->dup_of != 0 ? r->dup_of : r->id;
		m.u.ack.flags = r->dup_of != 0 ? DCF_ACK_EXISTED : 0;
		if (r->bad_dep != 0) {
			snprintf(text, sizeof(text),
			    "--after %llu: no such task (never submitted, or pruned): nothing was "
			    "recorded",
			    (unsigned long long)r->bad_dep);
			send_error(v, c, (uint32_t)vt.cookie, DCF_PE_NOTFOUND, text);
		} else if (vt.retry_of != 0) {
			m.type = DCF_MSG_OK;
			m.u.error.text = text;
			m.u.error.text_len =
			    (uint32_t)snprintf(text, sizeof(text), "task %llu again as task %llu",
			        (unsigned long long)vt.retry_of, (unsigned long long)r->id);
		}
		if (r->bad_dep == 0)
			send_msg(v, c, &m);
		owed_one(c);
	}
	/* The refusals that came after it, in their turn. */
	while ((rf = vq_front(&v->pending)) != NULL && rf->id == 0) {
		if ((c = conn_of(v, rf->cookie)) != NULL) {
			send_error(v, c, (uint32_t)rf->cookie, rf->code, (const char *)rf->payload);
			owed_one(c);
		}
		free(rf->payload);
		vq_pop(&v->pending);
	}
	if (r->bad_dep != 0 || (r->dup_of == 0 && (r->waits > 0 || r->state != DCF_SS_QUEUED))) {
		/* Not added; or waiting for others (woke() queues it); or ended (dependency failed). */
		if (r->state == DCF_SS_DEP_FAILED)
			say_dep_failed(r);
		free(vt.payload);
		return;
	}
	if (v->shared) {
		/* In the store for whichever host claims it first (this one, likely: it asks). */
		free(vt.payload);
		v->claim_more |= r->dup_of == 0;
		return;
	}
	if (vt.nb > 0 && r->dup_of == 0) {
		struct delayed d = {.at = vt.nb, .id = vt.id, .prio = vt.prior.prio};

		free(vt.payload); /* read again from the store when it is due */
		if (dl_push(v, &d) == -1)
			dcf_log(DCF_ERROR,
			    "Task-%llu: out of memory for its delay: it runs after a restart",
			    (unsigned long long)vt.id);
		return;
	}
	lvl = level_of(vt.prior.prio);
	if (r->dup_of != 0 || v->spilled[lvl] || v->nready >= v->window ||
	    vq_push(&v->ready[lvl], &vt) == -1) {
		free(vt.payload);
		if (r->dup_of == 0)
			v->spilled[lvl] = 1; /* in the store: read back in order */
		return;
	}
	v->nready++;
	v->loaded_to[lvl] = r->id;
}

/* --- the ready queue ------------------------------------------------------------ */

/*
 * A dead supervisor's worker that still runs (one that was stopped when
 * its supervisor died never heard of it): killed, and waited for, before
 * its task runs again. Its identity is the pid and start time the store
 * has for the run; a pid now someone else's is left alone.
 */
static void
kill_old_worker(const struct dcf_store_task *r)
{
	uint64_t ticks;
	struct pollfd p;
	int fd;

	if (r->pid <= 0 || dcf_proc_start(r->pid, &ticks) == -1 || ticks != r->pid_start)
		return;
	if ((fd = pidfd_open(r->pid, 0)) == -1)
		return;
	/*
	 * Asked again through the pidfd: the pid cannot have been reused since.
	 * Its task's tree first, every process under it (it is their subreaper:
	 * none left it), so that none is orphaned away before it is found.
	 */
	if (dcf_proc_start(r->pid, &ticks) == 0 && ticks == r->pid_start) {
		int tree = dcf_exec_kill_tree(r->pid, fd);

		if (pidfd_send_signal(fd, SIGKILL, NULL, 0) == 0) {
			p.fd = fd;
			p.events = POLLIN;
			(void)poll(&p, 1,
			    5000); /* a SIGKILLed process goes at once, or in seconds */
			dcf_log(DCF_WARNING,
			    "killed pid %d, a worker of the dead supervisor still running task "
			    "%llu, and %d process%s of its task",
			    (int)r->pid, (unsigned long long)r->id, tree > 0 ? tree : 0,
			    tree == 1 ? "" : "es");
		}
	}
	close(fd);
}

struct load {
	struct svc *v;
	uint32_t lvl;
	uint32_t got;
	int stopped; /* out of memory: the rest stays in the store, for the next window */
};

/* A stored task as one to run: 0, 1 if it cannot be one here (said), -1 out of memory. */
static int
vtask_of_row(const struct svc *v, const struct dcf_store_task *t, struct vtask *vt)
{
	size_t cwd_len = t->cwd != NULL ? strlen(t->cwd) : 0;

	memset(vt, 0, sizeof(*vt));
	vt->id = t->id;
	vt->len = t->cmd_len + (uint32_t)cwd_len + (cwd_len > 0);
	vt->argv_len = t->cmd_len;
	if (vt->len == 0 || vt->len > v->cfg->payload_max) {
		/* Cannot be a task here (a smaller slot than when it was submitted): said, passed. */
		dcf_log(DCF_ERROR,
		    "Task-%llu: its command (%u bytes) does not fit in a task slot (%u): not run",
		    (unsigned long long)t->id, vt->len, v->cfg->payload_max);
		return 1;
	}
	if ((vt->payload = malloc(vt->len)) == NULL)
		return -1;
	memcpy(vt->payload, t->cmd, t->cmd_len);
	if (cwd_len > 0)
		memcpy(vt->payload + t->cmd_len, t->cwd, cwd_len + 1);
	vt->prior.attempts = t->attempts;
	vt->prior.tries = t->tries;
	vt->prior.runs = t->runs;
	vt->prior.timeout_ms = t->timeout_ms;
	vt->prior.retries = t->retries;
	vt->prior.argv_len = vt->argv_len;
	vt->prior.prio = t->prio;
	vt->prior.pin = t->pin;
	if (t->pin > v->cfg->nets) {
		dcf_log(DCF_ERROR,
		    "Task-%llu: it runs on network %u, which this service does not have (0 to %u): "
		    "not run; start it with --networks %u or more",
		    (unsigned long long)t->id, t->pin - 1, v->cfg->nets - 1, t->pin);
		free(vt->payload);
		return 1;
	}
	return 0;
}

static int
load_one(void *arg, const struct dcf_store_task *t)
{
	struct load *l = arg;
	struct svc *v = l->v;
	struct vtask vt;
	int made;

	for (uint32_t i = 0; i < v->nskip; i++)
		if (v->skip[i] == t->id) {
			/* Cancelled while it was here alone: its end is on its way to the store
			 * (the entry goes once that is committed: it may be read again first). */
			v->loaded_to[l->lvl] = t->id;
			l->got++;
			return 0;
		}
	/* In memory already, at the priority dcf-ctl gave it; the store may say either. */
	if (moved_has(v, t->id) || (made = vtask_of_row(v, t, &vt)) == 1) {
		v->loaded_to[l->lvl] = t->id;
		l->got++;
		return 0;
	}
	if (made == -1) {
		l->stopped = 1;
		return 1;
	}
	/* A run a dead supervisor took with it: an attempt, but one more run always. */
	if (t->state == DCF_SS_RUNNING) {
		vt.rerun = 1;
		vt.prior.attempts++;
		if (v->cfg->max_attempts > 0 && vt.prior.attempts >= v->cfg->max_attempts)
			vt.prior.attempts = v->cfg->max_attempts - 1;
		if (v->nrerun < SVC_WINDOW) {
			struct dcf_store_task *r = &v->rerun[v->nrerun++];

			memset(r, 0, sizeof(*r));
			r->id = t->id;
			r->attempts = vt.prior.attempts;
			r->tries = t->tries;
			r->pid = t->pid;
			r->pid_start = t->pid_start;
			kill_old_worker(r);
			/* Once the committer runs (a later window): recorded at once. */
			if (v->q != NULL) {
				(void)dcf_storeq_upd(v->q, DCF_SU_REQUEUED, r, 0);
				v->nrerun--;
			}
		}
	}
	if (vq_push(&v->ready[l->lvl], &vt) == -1) {
		free(vt.payload);
		l->stopped = 1;
		return 1;
	}
	v->nready++;
	v->loaded_to[l->lvl] = t->id;
	l->got++;
	return 0;
}

static int
skip_add(struct svc *v, uint64_t id)
{
	if (v->nskip == v->skipcap) {
		uint32_t cap = v->skipcap ? v->skipcap * 2 : 16;
		uint64_t *s = realloc(v->skip, cap * sizeof(*s));

		if (s == NULL)
			return -1;
		v->skip = s;
		v->skipcap = cap;
	}
	v->skip[v->nskip++] = id;
	return 0;
}

/*
 * Room for want more of level lvl: the newest tasks of lower levels leave
 * memory (they stay in the store, and are read back when their turn
 * comes), lowest level first. Returns how many left.
 */
static uint32_t
evict_below(struct svc *v, uint32_t lvl, uint32_t want)
{
	uint32_t got = 0;

	for (uint32_t l = 0; l < lvl && got < want; l++) {
		struct vtask *b;

		while (
		    got < want && (b = vq_back(&v->ready[l])) != NULL && !b->rerun && !b->moved) {
			/* A cancelled one must not come back while its end is on its way. */
			if (b->cancelled && skip_add(v, b->id) == -1)
				break;
			v->loaded_to[l] = b->id - 1;
			v->spilled[l] = 1;
			free(b->payload);
			vq_unpush(&v->ready[l]);
			v->nready--;
			got++;
		}
	}
	return got;
}

/*
 * The store's tasks into memory, from the highest level down, for each
 * level that has some in the store alone and less than half a window in
 * memory: what room there is, and room made for half a window at the
 * expense of lower levels.
 */
static void
load_windows(struct svc *v)
{
	for (uint32_t lvl = DCF_LEVELS; lvl-- > 0;) {
		struct load l = {.v = v, .lvl = lvl};
		char err[DCF_ERRLEN];
		uint32_t want, half = v->window / 2;

		if (!v->spilled[lvl] || v->ready[lvl].n >= half)
			continue;
		/* Tasks that are never evicted (moved, due, woken) may fill it, and more. */
		want = v->nready < v->window ? v->window - v->nready : 0;
		if (want < half - v->ready[lvl].n)
			(void)evict_below(v, lvl, half - v->ready[lvl].n - want);
		if ((want = v->nready < v->window ? v->window - v->nready : 0) == 0)
			continue;
		if (dcf_store_unfinished(v->rd, (int32_t)lvl + DCF_PRIO_MIN, v->loaded_to[lvl],
		        want, load_one, &l, err, sizeof(err)) == -1) {
			dcf_log(DCF_ERROR, "store: reading the queued tasks: %s", err);
			return;
		}
		/* All read, and nothing of this level on its way that would be missed: memory holds
		 * it all again (others' submissions do not keep a level looking spilled, so that
		 * a level with nothing to read never stops the levels below it). */
		if (l.got < want && !l.stopped && v->pending_at[lvl] == 0)
			v->spilled[lvl] = 0;
	}
}

/* The highest level with tasks in memory or in the store; DCF_LEVELS if none. */
static uint32_t
top_level(const struct svc *v)
{
	for (uint32_t lvl = DCF_LEVELS; lvl-- > 0;)
		if (v->ready[lvl].n > 0 || v->spilled[lvl])
			return lvl;
	return DCF_LEVELS;
}

/* What dcf_store_get gives a due task: it, made one to run (made 1), or why not. */
struct due_row {
	const struct svc *v;
	struct vtask vt;
	int made; /* 1 made; 0 not one to run (ended, or cannot be here); -1 out of memory */
};

static int
due_row(void *arg, const struct dcf_store_task *t)
{
	struct due_row *dr = arg;

	if (dcf_store_state_final(t->state))
		return 0;
	switch (vtask_of_row(dr->v, t, &dr->vt)) {
	case 0:
		dr->made = 1;
		break;
	case 1:
		dr->made = 0; /* cannot be a task here: said */
		break;
	default:
		dr->made = -1;
		break;
	}
	return 0;
}

/*
 * The delayed tasks whose time has come join the ready queue of their
 * priority (make_ready); their record says they wait as any other from now
 * (DUE).
 */
/*
 * Task id, committed and free to run now, from the store into the ready
 * queue of prio, in id order, kept from eviction (moved) until its end is
 * committed. 1, 0 not one to run (ended meanwhile, or cannot run here:
 * said), -1 the store failed or memory is short (nothing changed).
 */
static int
make_ready(struct svc *v, uint64_t id, int32_t prio, char *err, size_t errlen)
{
	struct due_row dr = {.v = v};

	/* In memory already (dcf-ctl priority took it from the store first): there it stays. */
	if (moved_has(v, id))
		return 0;
	snprintf(err, errlen, "out of memory");
	if (dcf_store_get(v->rd, id, due_row, &dr, err, errlen) == -1 || dr.made == -1 ||
	    (dr.made == 1 && moved_add(v, id) == -1)) {
		if (dr.made == 1)
			free(dr.vt.payload);
		return -1;
	}
	if (dr.made != 1)
		return 0;
	dr.vt.moved = 1;
	dr.vt.prior.prio = prio;
	if (vq_insert_sorted(&v->ready[level_of(prio)], &dr.vt) == -1) {
		moved_del(v, id);
		free(dr.vt.payload);
		return -1;
	}
	v->nready++;
	return 1;
}

static void
take_due(struct svc *v)
{
	uint64_t now = dcf_wall_ns();

	while (v->ndl > 0 && v->dl[0].at <= now) {
		struct delayed d = v->dl[0];
		struct dcf_store_task u;
		char err[DCF_ERRLEN];
		int r;

		/* Cancelled: never runs; the entry goes with its end's commit. */
		if (skipped(v, d.id)) {
			dl_pop(v);
			continue;
		}
		/* The store failed, or memory is short: it waits for the next look. */
		if ((r = make_ready(v, d.id, d.prio, err, sizeof(err))) == -1)
			return;
		dl_pop(v);
		if (r == 0)
			continue;
		memset(&u, 0, sizeof(u));
		u.id = d.id;
		if (dcf_storeq_upd(v->q, DCF_SU_DUE, &u, 0) == -1)
			dcf_log(DCF_ERROR,
			    "Task-%llu: its time has come, but recording it: out of memory",
			    (unsigned long long)d.id);
	}
}

/* Every delayed task the store has, into the heap (the first window at a start). */
static int
load_delayed_one(void *arg, const struct dcf_store_task *t)
{
	struct svc *v = arg;
	struct delayed d = {.at = t->not_before_ns, .id = t->id, .prio = t->prio};

	if (dl_push(v, &d) == -1) {
		v->dl_nomem = 1;
		return 1;
	}
	return 0;
}

static int
load_delayed(struct svc *v, char *err, size_t errlen)
{
	uint64_t after = 0;

	for (;;) {
		uint32_t before = v->ndl;

		if (dcf_store_unfinished(v->rd, DCF_STORE_DELAYED, after, 4096, load_delayed_one, v,
		        err, errlen) == -1)
			return -1;
		if (v->dl_nomem)
			DCF_BAD(ENOMEM, "out of memory reading the delayed tasks");
		if (v->ndl - before < 4096)
			return 0;
		for (uint32_t i = before; i < v->ndl; i++)
			if (v->dl[i].id > after)
				after = v->dl[i].id;
	}
}

void
svc_fill(struct svc *v, uint32_t want, struct cmd_batch *b)
{
	uint32_t lvl;

	if (!v->shared) {
		take_due(v);
		load_windows(v);
	}
	while (want > 0 && (lvl = top_level(v)) < DCF_LEVELS) {
		struct vq *q = &v->ready[lvl];
		struct vtask *vt;
		struct cmd_item *it;

		if (q->n == 0 && v->shared)
			break;
		if (q->n == 0) {
			/* The highest level's tasks are in the store alone: read them first. */
			load_windows(v);
			if (q->n == 0)
				break; /* the store failed, or memory is short: the next round tries */
		}
		vt = vq_front(q);
		if (vt->cancelled) {
			/* Never dispatched: its id is one the books never see, as a duplicate's. */
			free(vt->payload);
			vq_pop(q);
			v->nready--;
			continue;
		}
		if (cmd_batch_item(b, 0, vt->len) == -1)
			break;
		it = &b->items[b->n];
		memcpy(b->buf + b->used, vt->payload, vt->len);
		it->id = vt->id - 1; /* the books': they are given it, not the next in order */
		it->len = vt->len;
		it->stored = 1;
		it->prior = vt->prior;
		b->used += vt->len;
		b->n++;
		free(vt->payload);
		vq_pop(q);
		v->nready--;
		want--;
	}
	if (v->shared)
		shared_fill(v, want);
	else
		load_windows(v);
}

/* --- opening and closing ---------------------------------------------------------- */

struct own_runs {
	const char *owner;
	uint64_t last, n;
};

static int
own_run(void *arg, const struct dcf_store_task *t)
{
	struct own_runs *o = arg;

	o->last = t->id;
	if (t->owner != NULL && strcmp(t->owner, o->owner) == 0) {
		kill_old_worker(t);
		o->n++;
	}
	return 0;
}

/* The runs the store says this host had going: their workers, if still alive, killed. */
static int
kill_own_runs(struct svc *v, uint64_t *n, char *err, size_t errlen)
{
	struct own_runs o = {.owner = v->o->host_id};

	for (;;) {
		uint64_t before = o.last;

		if (dcf_store_list(v->rd, DCF_SS_RUNNING, o.last, 1024, own_run, &o, err, errlen) ==
		    -1)
			return -1;
		if (o.last == before)
			break;
	}
	*n = o.n;
	return 0;
}

static int
bind_socket(struct svc *v, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat sb;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", v->sock);
	if (svc_private_dir(v->sock, SVC_DIR_PASSABLE, err, errlen) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		DCF_BAD(errno, "socket: %s", strerror(errno));
	if (lstat(v->sock, &sb) == 0) {
		/* A live supervisor answers; a dead one's socket refuses: it is replaced. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int live = probe >= 0 && S_ISSOCK(sb.st_mode) &&
		    connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (probe >= 0)
			close(probe);
		if (live || !S_ISSOCK(sb.st_mode)) {
			close(fd);
			DCF_BAD(EADDRINUSE,
			    "%s %s: stop that supervisor, or give --name another name", v->sock,
			    live ? "is in use" : "exists and is not a socket");
		}
		(void)unlink(v->sock);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(fd, 128) == -1) {
		int e = errno;

		close(fd);
		DCF_BAD(e, "%s: %s", v->sock, strerror(e));
	}
	if (lstat(v->sock, &sb) == 0) {
		v->sock_dev = sb.st_dev;
		v->sock_ino = sb.st_ino;
	}
	v->lfd = fd;
	/* Connecting takes write permission: others' only if let in (and then by SO_PEERCRED). */
	if (chmod(v->sock, v->o->nallow > 0 ? 0666 : 0600) == -1)
		DCF_BAD(errno, "%s: %s", v->sock, strerror(errno));
	return v->o->nallow > 0 ? open_way(v->sock, err, errlen) : 0;
}

int
svc_open(struct svc **out, const struct sup_opts *o, const struct dcf_config *cfg,
    struct svc_start *st, char *err, size_t errlen)
{
	struct dcf_store_open_opts so = {.where = o->store_path, .readonly = 1};
	struct svc *v = calloc(1, sizeof(*v));
	struct dcf_store_counts cnt;

	*out = NULL;
	memset(st, 0, sizeof(*st));
	if (v == NULL || (v->rerun = calloc(SVC_WINDOW, sizeof(*v->rerun))) == NULL) {
		free(v);
		DCF_BAD(ENOMEM, "out of memory");
	}
	v->o = o;
	v->cfg = cfg;
	v->lfd = -1;
	v->window = SVC_WINDOW;
	v->short_rate = SVC_SHORT_RATE;
#ifdef DCF_INJECT_ENABLE
	{
		/* Tests: the window's edges with tens of tasks, not thousands. */
		const char *w = getenv("DCF_SVC_WINDOW");
		uint64_t n;

		if (w != NULL && dcf_parse_u64(w, 2, SVC_WINDOW, &n) == 0)
			v->window = (uint32_t)n;
		/* And every task short, however slowly it runs (valgrind). */
		if ((w = getenv("DCF_SVC_SHORT_RATE")) != NULL &&
		    dcf_parse_u64(w, 0, 1000000, &n) == 0)
			v->short_rate = (double)n;
	}
#endif
	for (uint32_t i = 0; i < SVC_MAX_CONN; i++)
		v->conns[i].fd = -1;
	if (svc_paths(o->name, v->sock, sizeof(v->sock), NULL, 0, err, errlen) == -1)
		goto fail;
	if ((v->rd = o->store_open(&so, err, errlen)) == NULL ||
	    dcf_store_count_some(v->rd, &cnt, DCF_COUNT_MAX_ID | DCF_COUNT_UNFINISHED, err,
	        errlen) == -1)
		goto fail;
	v->next_id = cnt.max_id + 1;
	st->unfinished = cnt.by_state[DCF_SS_QUEUED] + cnt.by_state[DCF_SS_RUNNING];
	st->next_id = v->next_id;
	v->listen_fd = -1;
	if (v->rd->shared || (o->host_id != NULL && dcf_store_is_url(o->store_path))) {
		/*
		 * Several hosts: this host's runs that outlived its last supervisor
		 * end first (the supervisor then gives back what it held); its work
		 * comes by claims, as room frees.
		 */
		v->shared = 1;
		v->claim_more = 1;
		v->next_id = UINT64_MAX; /* the store gives ids: any may be there */
		if (kill_own_runs(v, &st->rerun, err, errlen) == -1 ||
		    (v->lis = o->store_open(&so, err, errlen)) == NULL ||
		    (v->listen_fd = v->lis->ops->listen(v->lis, err, errlen)) == -1)
			goto fail;
	} else {
		memset(v->spilled, 1, sizeof(v->spilled));
		load_windows(v);
		if (load_delayed(v, err, errlen) == -1)
			goto fail;
		st->rerun = cnt.by_state[DCF_SS_RUNNING];
	}
	if (bind_socket(v, err, errlen) == -1)
		goto fail;
	*out = v;
	return 0;
fail:
	svc_close(v);
	return -1;
}

void
svc_set_storeq(struct svc *v, struct dcf_storeq *q)
{
	v->q = q;
	/* Queued again, each with its attempt counted: if we die too, it is counted twice. */
	for (uint32_t i = 0; i < v->nrerun; i++)
		(void)dcf_storeq_upd(q, DCF_SU_REQUEUED, &v->rerun[i], 0);
	v->nrerun = 0;
}

void
svc_set_ctl(struct svc *v, svc_ctl_fn fn, void *arg)
{
	v->ctl = fn;
	v->ctl_arg = arg;
}

static int
counts_of(void *arg, const struct dcf_store_task *t)
{
	struct dcf_store_task *c = arg;

	c->state = t->state;
	c->prio = t->prio;
	c->not_before_ns = t->not_before_ns;
	c->waits = t->waits;
	c->attempts = t->attempts;
	c->tries = t->tries;
	c->runs = t->runs;
	return 0;
}

/* counts_of, and the host that holds it (svc.elsewhere). */
struct holder_row {
	struct svc *v;
	struct dcf_store_task *t;
};

static int
holder_row(void *arg, const struct dcf_store_task *t)
{
	struct holder_row *h = arg;

	h->v->elsewhere[0] = '\0';
	if (t->owner != NULL && t->lease_live) /* a dead host's, its lease ended: nobody's */
		snprintf(h->v->elsewhere, sizeof(h->v->elsewhere), "%s", t->owner);
	return counts_of(h->t, t);
}

int
svc_holder(struct svc *v, uint64_t id, char *owner, size_t len, uint32_t *state)
{
	struct dcf_store_task t;
	struct holder_row h = {.v = v, .t = &t};
	char err[DCF_ERRLEN];
	int r;

	memset(&t, 0, sizeof(t));
	if ((r = dcf_store_get(v->rd, id, holder_row, &h, err, sizeof(err))) == -1)
		dcf_log(DCF_ERROR, "store: %s", err);
	if (r == 1) {
		snprintf(owner, len, "%s", v->elsewhere);
		*state = t.state;
	}
	return r;
}

const char *
svc_elsewhere(const struct svc *v)
{
	return v->elsewhere;
}

int
svc_asking(const struct svc *v)
{
	return v->asking;
}

/*
 * Several hosts, a task not in this host's memory: in its books if it
 * holds it; else another host's, or nobody's (its row alone changes, the
 * change fenced: refused if a host claims it meanwhile).
 */
static enum svc_where
shared_where(struct svc *v, uint64_t id, struct dcf_store_task *t)
{
	struct holder_row h = {.v = v, .t = t};
	char err[DCF_ERRLEN];
	int r;

	if ((r = dcf_store_get(v->rd, id, holder_row, &h, err, sizeof(err))) == -1) {
		dcf_log(DCF_ERROR, "store: %s", err);
		return SVC_FAILED;
	}
	if (r == 0)
		return SVC_NOTASK;
	if (dcf_store_state_final(t->state))
		return SVC_ENDED;
	if (svc_claim_of(v, id) != 0)
		return SVC_HANDED;
	if (v->elsewhere[0] != '\0' && strcmp(v->elsewhere, v->o->host_id) != 0)
		return SVC_ELSEWHERE;
	return SVC_STORED;
}

/* What dcf_store_get gives svc_reprio: the row's counts, and it as a task to run. */
struct reprio_row {
	struct svc *v;
	struct dcf_store_task *t;
	struct vtask vt;
	int made;      /* 1: vt holds it; -1: out of memory */
	uint64_t t_nb; /* its not_before_ns */
	uint32_t t_waits;
};

static int
reprio_row(void *arg, const struct dcf_store_task *t)
{
	struct reprio_row *rr = arg;

	counts_of(rr->t, t);
	rr->t_nb = t->not_before_ns;
	rr->t_waits = t->waits;
	if (!dcf_store_state_final(t->state) && t->state != DCF_SS_RUNNING &&
	    t->not_before_ns == 0 && t->waits == 0)
		rr->made = vtask_of_row(rr->v, t, &rr->vt) == 0 ? 1 : -1;
	return 0;
}

enum svc_where
svc_reprio(struct svc *v, uint64_t id, int32_t prio, struct dcf_store_task *t)
{
	struct reprio_row rr = {.v = v, .t = t};
	uint32_t nl = level_of(prio);
	char err[DCF_ERRLEN];
	int r;

	memset(t, 0, sizeof(*t));
	t->id = id;
	t->state = DCF_SS_NSTATES;
	if (id == 0 || id >= v->next_id)
		return SVC_NOTASK;
	/* (Several hosts: a submission not committed has no id yet, only a placeholder.) */
	for (uint32_t i = 0; !v->shared && i < v->pending.n; i++)
		if (vq_at(&v->pending, i)->id == id)
			return SVC_PENDING;
	for (uint32_t lvl = 0; lvl < DCF_LEVELS; lvl++)
		for (uint32_t i = 0; i < v->ready[lvl].n; i++) {
			struct vtask vt = *vq_at(&v->ready[lvl], i);

			if (vt.id != id)
				continue;
			if (vt.cancelled)
				return SVC_ENDED;
			t->state = DCF_SS_QUEUED;
			t->prio = vt.prior.prio;
			if (!vt.moved && moved_add(v, id) == -1)
				return SVC_FAILED;
			vq_remove_at(&v->ready[lvl], i);
			vt.moved = 1;
			vt.prior.prio = prio;
			if (vq_insert_sorted(&v->ready[nl], &vt) == -1) {
				/* Back where it was: that queue has the room it left. */
				vt.prior.prio = t->prio;
				(void)vq_insert_sorted(&v->ready[lvl], &vt);
				return SVC_FAILED;
			}
			return SVC_MOVED;
		}
	if (v->shared)
		return shared_where(v, id, t);
	/* Not in memory: the store says (committed, so there). */
	if ((r = dcf_store_get(v->rd, id, reprio_row, &rr, err, sizeof(err))) == -1) {
		dcf_log(DCF_ERROR, "store: %s", err);
		return SVC_FAILED;
	}
	if (r == 0)
		return SVC_NOTASK;
	if (!dcf_store_state_final(t->state) && skipped(v, id))
		t->state = DCF_SS_NSTATES; /* cancelled: its end is on its way */
	/* Waiting for others (--after): its record alone; it is read when it wakes. */
	if (!dcf_store_state_final(t->state) && t->state != DCF_SS_NSTATES && rr.t_waits > 0 &&
	    !moved_has(v, id))
		return SVC_MOVED;
	if (!dcf_store_state_final(t->state) && t->state != DCF_SS_NSTATES && rr.t_nb > 0 &&
	    !moved_has(v, id)) {
		struct delayed *d = dl_find(v, id);

		if (rr.made == 1)
			free(rr.vt.payload);
		if (d == NULL)
			return SVC_FAILED;
		t->prio = d->prio; /* the heap's is the newest (a change not committed yet) */
		d->prio = prio;
		return SVC_MOVED;
	}
	if (dcf_store_state_final(t->state) || t->state == DCF_SS_NSTATES || moved_has(v, id) ||
	    id <= v->loaded_to[level_of(t->prio)] || t->state == DCF_SS_RUNNING) {
		if (rr.made == 1)
			free(rr.vt.payload);
		if (dcf_store_state_final(t->state) || t->state == DCF_SS_NSTATES)
			return SVC_ENDED;
		return moved_has(v, id) || id <= v->loaded_to[level_of(t->prio)] ? SVC_HANDED
		                                                                 : SVC_RUNNING;
	}
	/* In the store alone: into memory at its new priority, never read in again. */
	if (rr.made != 1)
		return SVC_FAILED;
	rr.vt.moved = 1;
	rr.vt.prior.prio = prio;
	if (moved_add(v, id) == -1) {
		free(rr.vt.payload);
		return SVC_FAILED;
	}
	if (vq_insert_sorted(&v->ready[nl], &rr.vt) == -1) {
		moved_del(v, id);
		free(rr.vt.payload);
		return SVC_FAILED;
	}
	v->nready++;
	return SVC_MOVED;
}

enum svc_where
svc_cancel(struct svc *v, uint64_t id, struct dcf_store_task *t)
{
	char err[DCF_ERRLEN];
	int r;

	memset(t, 0, sizeof(*t));
	t->id = id;
	t->state = DCF_SS_NSTATES;
	if (id == 0 || id >= v->next_id)
		return SVC_NOTASK;
	/* (Several hosts: a submission not committed has no id yet, only a placeholder.) */
	for (uint32_t i = 0; !v->shared && i < v->pending.n; i++)
		if (vq_at(&v->pending, i)->id == id)
			return SVC_PENDING;
	for (uint32_t lvl = 0; lvl < DCF_LEVELS; lvl++)
		for (uint32_t i = 0; i < v->ready[lvl].n; i++) {
			struct vtask *vt = vq_at(&v->ready[lvl], i);

			if (vt->id != id)
				continue;
			if (vt->cancelled)
				return SVC_ENDED;
			vt->cancelled = 1;
			t->state = DCF_SS_QUEUED;
			t->prio = vt->prior.prio;
			t->attempts = vt->prior.attempts;
			t->tries = vt->prior.tries;
			t->runs = vt->prior.runs;
			return SVC_DROPPED;
		}
	if (v->shared)
		return shared_where(v, id, t);
	/* Not in memory: the store says (committed, so there). */
	if ((r = dcf_store_get(v->rd, id, counts_of, t, err, sizeof(err))) == -1) {
		dcf_log(DCF_ERROR, "store: %s", err);
		return SVC_FAILED;
	}
	if (r == 0 || dcf_store_state_final(t->state))
		return r == 0 ? SVC_NOTASK : SVC_ENDED;
	if (skipped(v, id))
		return SVC_ENDED;
	/* Waiting for others (--after), or delayed, its time not come (or not taken yet): it will find itself skipped. */
	if ((t->waits > 0 || t->not_before_ns > 0) && !moved_has(v, id) &&
	    t->state == DCF_SS_QUEUED)
		return skip_add(v, id) == -1 ? SVC_FAILED : SVC_DROPPED;
	/* Unfinished, not in memory, and its level's reads have passed it: in the books. */
	if (moved_has(v, id) || id <= v->loaded_to[level_of(t->prio)])
		return SVC_HANDED;
	if (t->state == DCF_SS_RUNNING)
		return SVC_RUNNING; /* its old worker is seen to when the window reaches it */
	return skip_add(v, id) == -1 ? SVC_FAILED : SVC_DROPPED;
}

uint64_t
svc_next_id(const struct svc *v)
{
	return v->next_id;
}

void
svc_drain(struct svc *v)
{
	v->draining = 1;
}

int
svc_idle(const struct svc *v)
{
	/* And every control request answered: a drain's own answer waits for its commit. */
	return v->pending.n == 0 && top_level(v) == DCF_LEVELS && v->ndl == 0 && v->nlater == 0;
}

void
svc_stop(struct svc *v)
{
	struct stat sb;

	v->stopping = 1;
	if (v->lfd < 0)
		return;
	close(v->lfd);
	v->lfd = -1;
	/* Only the socket we made: another may have replaced it since. */
	if (lstat(v->sock, &sb) == 0 && sb.st_dev == v->sock_dev && sb.st_ino == v->sock_ino)
		(void)unlink(v->sock);
}

void
svc_close(struct svc *v)
{
	if (v == NULL)
		return;
	svc_stop(v);
	for (uint32_t i = 0; i < SVC_MAX_CONN; i++)
		if (v->conns[i].fd >= 0) {
			(void)conn_write(&v->conns[i]);
			conn_close(v, &v->conns[i]);
		}
	vq_free(&v->pending);
	for (uint32_t lvl = 0; lvl < DCF_LEVELS; lvl++)
		vq_free(&v->ready[lvl]);
	free(v->w);
	free(v->skip);
	free(v->later);
	free(v->moved);
	free(v->dl);
	free(v->rerun);
	free(v->cm_id);
	free(v->cm_claim);
	dcf_store_close(v->rd);
	dcf_store_close(v->lis);
	free(v);
}
