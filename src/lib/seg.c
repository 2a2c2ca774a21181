/* seg.c - the shared segment's life: plan, create, take over, attach, check. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcf/mutex.h"
#include "dcf/seg.h"
#include "dcf/util.h"

#define ALIGN64(x) (((x) + 63u) & ~(uint64_t)63u)

/* Fold a value into the format word. */
#define FOLD(f, v) ((f) = (f)*1000003u + (uint64_t)(v))
/* A field's offset: a reordered or resized field changes the word. */
#define FIELD(f, type, member) FOLD(f, offsetof(struct type, member))

uint64_t
dcf_layout_format(void)
{
	/* The version, the size of every shared type and the offset of every
	 * field: a differently built program disagrees here and refuses to attach. */
	uint64_t f = DCF_LAYOUT_VERSION;

	FOLD(f, sizeof(struct dcf_hdr));
	FOLD(f, sizeof(struct dcf_task));
	FOLD(f, sizeof(struct dcf_node));
	FOLD(f, sizeof(struct dcf_ring));
	FOLD(f, sizeof(struct dcf_net));
	FOLD(f, sizeof(struct dcf_config));
	FOLD(f, sizeof(struct dcf_counters));
	FOLD(f, sizeof(struct dcf_hist));
	FOLD(f, DCF_HIST_BUCKETS);
	FOLD(f, sizeof(pthread_mutex_t));
	FOLD(f, DCF_WAL_MAX);
	FIELD(f, dcf_hdr, format);
	FIELD(f, dcf_hdr, size);
	FIELD(f, dcf_hdr, uid);
	FIELD(f, dcf_hdr, sup_pid);
	FIELD(f, dcf_hdr, sup_start);
	FIELD(f, dcf_hdr, created_ns);
	FIELD(f, dcf_hdr, created_mono_ns);
	FIELD(f, dcf_hdr, name);
	FIELD(f, dcf_hdr, cfg);
	FIELD(f, dcf_hdr, off_nets);
	FIELD(f, dcf_hdr, off_rings);
	FIELD(f, dcf_hdr, off_ring_slots);
	FIELD(f, dcf_hdr, off_tasks);
	FIELD(f, dcf_hdr, off_nodes);
	FIELD(f, dcf_hdr, off_payload);
	FIELD(f, dcf_hdr, total);
	FIELD(f, dcf_hdr, nrings);
	FIELD(f, dcf_hdr, ring_cap);
	FIELD(f, dcf_hdr, sys_state);
	FIELD(f, dcf_hdr, sup_waiting);
	FIELD(f, dcf_hdr, sup_wake_done);
	FIELD(f, dcf_hdr, end_code);
	FIELD(f, dcf_hdr, draining);
	FIELD(f, dcf_hdr, seq);
	FIELD(f, dcf_hdr, cnt);
	FIELD(f, dcf_hdr, lock);
	FIELD(f, dcf_hdr, wal);
	FIELD(f, dcf_config, nets);
	FIELD(f, dcf_config, nodes_per_net);
	FIELD(f, dcf_config, max_nodes);
	FIELD(f, dcf_config, task_slots);
	FIELD(f, dcf_config, tasks);
	FIELD(f, dcf_config, task_ms_min);
	FIELD(f, dcf_config, downtime_ms_min);
	FIELD(f, dcf_config, work);
	FIELD(f, dcf_config, max_attempts);
	FIELD(f, dcf_config, max_restarts);
	FIELD(f, dcf_config, restart_window_s);
	FIELD(f, dcf_config, hang_timeout_ms);
	FIELD(f, dcf_config, grace_ms);
	FIELD(f, dcf_config, seed);
	FIELD(f, dcf_config, fail_rate_ppm);
	FIELD(f, dcf_config, cpu_iters_per_ms);
	FIELD(f, dcf_config, payload_max);
	FIELD(f, dcf_config, timeout_ms);
	FIELD(f, dcf_config, out_max);
	FIELD(f, dcf_counters, running);
	FIELD(f, dcf_counters, completed);
	FIELD(f, dcf_counters, quarantined);
	FIELD(f, dcf_counters, reclaimed);
	FIELD(f, dcf_counters, retired);
	FIELD(f, dcf_counters, to_recovery);
	FIELD(f, dcf_counters, succeeded);
	FIELD(f, dcf_counters, skipped);
	FIELD(f, dcf_counters, failures);
	FIELD(f, dcf_counters, restarts);
	FIELD(f, dcf_counters, claims);
	FIELD(f, dcf_counters, repairs);
	FIELD(f, dcf_counters, resets);
	FIELD(f, dcf_counters, cancelled);
	FIELD(f, dcf_wal, n);
	FIELD(f, dcf_wal, e);
	FIELD(f, dcf_net, wake);
	FIELD(f, dcf_net, sleepers);
	FIELD(f, dcf_net, alive);
	FIELD(f, dcf_net, completed);
	FIELD(f, dcf_net, run_avg_ns);
	FIELD(f, dcf_net, paused);
	FIELD(f, dcf_net, removed);
	FIELD(f, dcf_ring, head);
	FIELD(f, dcf_ring, tail);
	FIELD(f, dcf_ring, mask);
	FIELD(f, dcf_ring, slots_off);
	FIELD(f, dcf_task, state);
	FIELD(f, dcf_task, queue);
	FIELD(f, dcf_task, owner_node);
	FIELD(f, dcf_task, owner_gen);
	FIELD(f, dcf_task, owner_pid);
	FIELD(f, dcf_task, attempts);
	FIELD(f, dcf_task, kind);
	FIELD(f, dcf_task, prio);
	FIELD(f, dcf_task, arg_ms);
	FIELD(f, dcf_task, flags);
	FIELD(f, dcf_task, payload_len);
	FIELD(f, dcf_task, runs);
	FIELD(f, dcf_task, out);
	FIELD(f, dcf_task, result);
	FIELD(f, dcf_task, t_queued_ns);
	FIELD(f, dcf_task, t_started_ns);
	FIELD(f, dcf_task, next_owned);
	FIELD(f, dcf_task, timeout_ms);
	FIELD(f, dcf_task, retries);
	FIELD(f, dcf_task, argv_len);
	FIELD(f, dcf_node, idx);
	FIELD(f, dcf_node, state);
	FIELD(f, dcf_node, gen);
	FIELD(f, dcf_node, pid);
	FIELD(f, dcf_node, task_slot);
	FIELD(f, dcf_node, task_id);
	FIELD(f, dcf_node, kill_task);
	FIELD(f, dcf_node, kill_sig);
	FIELD(f, dcf_node, retire);
	FIELD(f, dcf_node, sleeping);
	FIELD(f, dcf_node, from_recovery);
	FIELD(f, dcf_node, completed);
	FIELD(f, dcf_node, failures);
	FIELD(f, dcf_node, restarts);
	FIELD(f, dcf_node, busy_since_ns);
	FIELD(f, dcf_node, heartbeat_ns);
	FIELD(f, dcf_node, held);
	FIELD(f, dcf_node, run_slot);
	FIELD(f, dcf_net, woken);
	return ((uint64_t)DCF_LAYOUT_VERSION << 48) | (f & 0xffffffffffffULL);
}

int
dcf_name_check(const char *name, char *err, size_t errlen)
{
	size_t n = strlen(name);

	if (n == 0 || n > DCF_NAME_MAX)
		DCF_BAD(EINVAL, "%s; this one has %zu bytes", DCF_NAME_RULE, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		int ok =
		    isascii(c) && (isalnum(c) || c == '_' || (i > 0 && (c == '.' || c == '-')));

		if (ok)
			continue;
		if (isascii(c) && isprint(c))
			DCF_BAD(EINVAL, "%s; not '%c'%s", DCF_NAME_RULE, c, i == 0 ? " first" : "");
		DCF_BAD(EINVAL, "%s; not byte \\x%02x", DCF_NAME_RULE, c);
	}
	return 0;
}

void
dcf_config_size(struct dcf_config *c)
{
	/* Enough slots that every node has work queued behind it, never more than the run needs. */
	uint64_t v = (uint64_t)c->nets * c->nodes_per_net * 4, p = 2;
	/* Commands carry a payload per slot: fewer slots, each still a node's
	 * worth of work queued behind it. */
	uint64_t floor = c->payload_max > 0 ? 64 : 1024;

	c->max_nodes = c->nets * c->nodes_per_net;
	if (v < floor)
		v = floor;
	if (v > c->tasks)
		v = c->tasks < 2 ? 2 : c->tasks;
	while (p < v && p < DCF_MAX_TASK_SLOTS)
		p <<= 1;
	c->task_slots = (uint32_t)p;
}

void
dcf_config_default(struct dcf_config *c)
{
	memset(c, 0, sizeof(*c));
	c->nets = 3;
	c->nodes_per_net = 50;
	c->tasks = 1000;
	c->task_ms_min = 1000;
	c->task_ms_max = 8000;
	c->work = DCF_WORK_SLEEP;
	c->fail_rate_ppm = 10000;
	c->downtime_ms_min = 1000;
	c->downtime_ms_max = 4000;
	c->max_attempts = 3;
	c->max_restarts = 5;
	c->restart_window_s = 30;
	c->hang_timeout_ms = 5000;
	c->grace_ms = 5000;
	c->seed = 42;
	c->cpu_iters_per_ms = 1;
	dcf_config_size(c);
}

int
dcf_config_check(const struct dcf_config *c, char *err, size_t errlen)
{
	const char *what = NULL;

	if (c->nets < 1 || c->nets > DCF_MAX_NETS)
		what = "networks must be 1 to 256";
	else if (c->nodes_per_net < 1 || (uint64_t)c->nets * c->nodes_per_net > DCF_MAX_NODES)
		what = "networks x nodes must be 1 to 8192";
	else if (c->max_nodes < c->nets * c->nodes_per_net || c->max_nodes > DCF_MAX_NODES)
		what = "node table smaller than networks x nodes";
	else if (c->task_slots < 2 || c->task_slots > DCF_MAX_TASK_SLOTS ||
	    (c->task_slots & (c->task_slots - 1)) != 0)
		what = "task slots must be a power of two up to 2^20";
	else if (c->task_ms_min > c->task_ms_max || c->downtime_ms_min > c->downtime_ms_max)
		what = "a range's minimum exceeds its maximum";
	else if (c->work > DCF_WORK_FN)
		what = "unknown work kind";
	else if ((c->work == DCF_WORK_CMD || c->work == DCF_WORK_FN) != (c->payload_max > 0) ||
	    c->payload_max > DCF_PAYLOAD_MAX)
		what = "commands and task functions need a payload of 1 byte to 2 MiB, other work "
		       "none";
	else if ((c->work == DCF_WORK_FN) != (c->out_max > 0) ||
	    (c->work == DCF_WORK_FN &&
	        ((c->payload_max & 15u) != 0 || c->out_max >= c->payload_max ||
	            dcf_out_off(c) == 0)))
		what = "task functions need an output room of 1 byte to the payload's size, other "
		       "work none";
	else if (c->max_attempts < 1)
		what = "max attempts must be at least 1";
	if (what != NULL) {
		snprintf(err, errlen, "%s", what);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
dcf_plan(const struct dcf_config *c, struct dcf_plan *p)
{
	uint64_t off;

	p->nrings = dcf_nrings(c->nets); /* every level's queues, and the delay ring */
	p->ring_cap = c->task_slots;     /* every slot fits in any one ring */
	off = ALIGN64(sizeof(struct dcf_hdr));
	p->off_nets = off;
	off = ALIGN64(off + (uint64_t)c->nets * sizeof(struct dcf_net));
	p->off_rings = off;
	off = ALIGN64(off + (uint64_t)p->nrings * sizeof(struct dcf_ring));
	p->off_ring_slots = off;
	off = ALIGN64(off + (uint64_t)p->nrings * p->ring_cap * sizeof(uint32_t));
	p->off_tasks = off;
	off = ALIGN64(off + (uint64_t)c->task_slots * sizeof(struct dcf_task));
	p->off_nodes = off;
	off = ALIGN64(off + (uint64_t)c->max_nodes * sizeof(struct dcf_node));
	p->off_payload = off;
	off = ALIGN64(off + (uint64_t)c->task_slots * c->payload_max);
	p->size = off;
	if (p->size >= UINT32_MAX) { /* journal offsets are 32-bit */
		errno = EFBIG;
		return -1;
	}
	return 0;
}

void
dcf_seg_bind(struct dcf_seg *sg, void *base, size_t size)
{
	struct dcf_hdr *h = base;

	sg->base = base;
	sg->size = size;
	sg->hdr = h;
	sg->nets = (struct dcf_net *)(void *)(sg->base + h->off_nets);
	sg->rings = (struct dcf_ring *)(void *)(sg->base + h->off_rings);
	sg->ring_slots = (uint32_t *)(void *)(sg->base + h->off_ring_slots);
	sg->tasks = (struct dcf_task *)(void *)(sg->base + h->off_tasks);
	sg->nodes = (struct dcf_node *)(void *)(sg->base + h->off_nodes);
	sg->payload = sg->base + h->off_payload;
	sg->cfg = h->cfg;
	sg->nrings = h->nrings;
	sg->ring_cap = h->ring_cap;
	sg->off_nets = h->off_nets;
}

/*
 * Where the names live: glibc's shm_open(3) opens SHM_DIR + name. We open
 * the entries ourselves, for the flags shm_open does not let us choose
 * (O_TMPFILE, O_NOFOLLOW, O_NONBLOCK).
 */
#define SHM_DIR "/dev/shm"

static void
seg_path(const struct dcf_seg *sg, char *path, size_t len)
{
	snprintf(path, len, SHM_DIR "%s", sg->shm_name);
}

/* close() on an error path: keeps errno. */
static void
close_quiet(int fd)
{
	int e = errno;

	close(fd);
	errno = e;
}

static int
same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int
seg_init(struct dcf_seg *sg, const char *name, const struct dcf_config *cfg,
    const struct dcf_plan *p, char *err, size_t errlen)
{
	struct dcf_hdr *h = sg->hdr;
	uint64_t start;

	/* Our start time makes our PID an identity (dcf_seg_supervisor_alive). */
	if (dcf_proc_start(getpid(), &start) == -1) {
		int e = errno;

		DCF_BAD(e, "reading our start time from /proc/self/stat: %s", strerror(e));
	}
	/* posix_fallocate gave us zeroes; fill in everything but the magic. */
	h->format = dcf_layout_format();
	h->size = p->size;
	h->uid = (uint32_t)getuid();
	h->sup_pid = (int32_t)getpid();
	h->sup_start = start;
	h->created_ns = dcf_wall_ns();
	h->created_mono_ns = dcf_now_ns();
	strlcpy(h->name, name, sizeof(h->name));
	h->cfg = *cfg;
	h->off_nets = p->off_nets;
	h->off_rings = p->off_rings;
	h->off_ring_slots = p->off_ring_slots;
	h->off_tasks = p->off_tasks;
	h->off_nodes = p->off_nodes;
	h->off_payload = p->off_payload;
	h->total = cfg->tasks;
	h->nrings = p->nrings;
	h->ring_cap = p->ring_cap;
	dcf_seg_bind(sg, sg->base, p->size);
	dcf_mutex_init(&h->lock);
	for (uint32_t r = 0; r < p->nrings; r++) {
		sg->rings[r].mask = p->ring_cap - 1;
		sg->rings[r].slots_off =
		    p->off_ring_slots + (uint64_t)r * p->ring_cap * sizeof(uint32_t);
	}
	/* Every task slot starts free. */
	for (uint32_t s = 0; s < cfg->task_slots; s++)
		sg->ring_slots[s] = s;
	sg->rings[DCF_RING_FREE].tail = cfg->task_slots;
	for (uint32_t n = 0; n < cfg->max_nodes; n++) {
		struct dcf_node *nd = &sg->nodes[n];

		nd->task_slot = DCF_NONE;
		nd->run_slot = DCF_NONE;
		if (n < cfg->nets * cfg->nodes_per_net) {
			nd->net = n / cfg->nodes_per_net;
			nd->idx = n % cfg->nodes_per_net;
		}
	}
	__atomic_store_n(&h->magic, DCF_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* What a file that is not regular is, for a message. */
static const char *
seg_kind(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "of an unknown type";
}

/*
 * Only a regular file of ours can be our segment. Anything else under the
 * name (planted, or left by someone else) is reported and left exactly as it
 * is: never followed, never removed, by root neither.
 */
static int
seg_check_stat(const char *path, const struct stat *st, char *err, size_t errlen)
{
	if (!S_ISREG(st->st_mode))
		DCF_BAD(EPROTO, "%s is %s, not a dcf segment: remove it if it is not yours", path,
		    seg_kind(st->st_mode));
	if (st->st_uid != getuid())
		DCF_BAD(EACCES, "%s belongs to uid %u, not to you (uid %u): leaving it alone", path,
		    (unsigned)st->st_uid, (unsigned)getuid());
	return 0;
}

/*
 * Open what is under the name, without following a link or blocking (a FIFO
 * opened for reading waits for a writer), and require a regular file of
 * ours; its fstat in *st. A look with lstat first spares opening anything
 * else at all (opening a FIFO wakes its writers, a device may act on it);
 * the fstat of what was opened is what counts. ENOENT: nothing there.
 */
static int
seg_open_name(const char *path, int flags, struct stat *st, char *err, size_t errlen)
{
	int fd, e;

	if (lstat(path, st) == 0 && seg_check_stat(path, st, err, errlen) == -1)
		return -1;
	fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		e = errno;
		/* Replaced since we looked? Say by what. */
		if (e != ENOENT && lstat(path, st) == 0 &&
		    seg_check_stat(path, st, err, errlen) == -1)
			return -1;
		DCF_BAD(e, "opening %s: %s", path, strerror(e));
	}
	if (fstat(fd, st) == -1) {
		e = errno;
		close(fd);
		DCF_BAD(e, "fstat %s: %s", path, strerror(e));
	}
	if (seg_check_stat(path, st, err, errlen) == -1) {
		close_quiet(fd);
		return -1;
	}
	return fd;
}

/*
 * The segment under the name is locked: its supervisor runs, or another
 * starter holds it while taking over from a dead one. EBUSY, saying which.
 */
static int
seg_busy(int fd, const char *path, char *err, size_t errlen)
{
	struct dcf_hdr h;

	memset(&h, 0, sizeof(h));
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.magic != DCF_MAGIC ||
	    h.sup_pid <= 0)
		DCF_BAD(EBUSY, "already running: another process holds %s locked", path);
	if (dcf_seg_supervisor_alive(&h) == 0)
		DCF_BAD(EBUSY,
		    "already running: another supervisor is taking over from pid %d, which is dead",
		    (int)h.sup_pid);
	DCF_BAD(EBUSY, "already running, pid %d", (int)h.sup_pid);
}

/*
 * The lock of a segment whose supervisor is dead is held: by a worker it
 * forked a moment before it died (the child holds the inherited descriptor
 * until it closes it or exits, microseconds later), or by another starter
 * taking over. Asked again at growing intervals, 1 ms to half a second (1 s
 * in all), while the header still names a dead supervisor: 0 once it is
 * ours; -1 with EWOULDBLOCK if it stays held, or another errno.
 */
static int
flock_dead_owner(int fd)
{
	long wait_ns = 1000000;

	for (;;) {
		struct dcf_hdr h;
		struct timespec ts;

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK || wait_ns > 512000000L)
			return -1;
		if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.magic != DCF_MAGIC ||
		    h.sup_pid <= 0 || dcf_seg_supervisor_alive(&h) != 0) {
			errno = EWOULDBLOCK;
			return -1;
		}
		ts.tv_sec = wait_ns / 1000000000L;
		ts.tv_nsec = wait_ns % 1000000000L;
		nanosleep(&ts, NULL);
		wait_ns *= 2;
	}
}

/*
 * The name is taken. If its creator is dead (nobody holds its flock) and the
 * name still refers to the inode we locked, remove it: 1, and the dead
 * supervisor's PID in *old (0 if it names none). 0: nothing has the name, or
 * it changed under us: try again. -1 and a message: a live system has it
 * (EBUSY), or it is not ours to remove. segments_only: a file of ours
 * without the dcf magic is not removed either (EPROTO); the takeover, which
 * needs the name, removes any unlocked file of ours under it.
 */
static int
seg_remove_stale(const char *path, pid_t *old, int segments_only, char *err, size_t errlen)
{
	struct stat held, named;
	struct dcf_hdr h;
	int fd, e;

	*old = 0;
	fd = seg_open_name(path, O_RDONLY, &held, err, errlen);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (flock_dead_owner(fd) == -1) {
		e = errno;
		if (e == EWOULDBLOCK) {
			(void)seg_busy(fd, path, err, errlen);
		} else {
			snprintf(err, errlen, "locking %s: %s", path, strerror(e));
			errno = e;
		}
		close_quiet(fd);
		return -1;
	}
	if (lstat(path, &named) == -1 || !same_inode(&held, &named)) {
		close(fd);
		return 0;
	}
	if (pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) && h.magic == DCF_MAGIC) {
		*old = h.sup_pid;
	} else if (segments_only) {
		close(fd);
		DCF_BAD(EPROTO, "%s is not a dcf segment (no dcf header): leaving it alone", path);
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		e = errno;
		close(fd);
		DCF_BAD(e, "removing the stale %s: %s", path, strerror(e));
	}
	close(fd);
	return 1;
}

/*
 * Reserve every page now. tmpfs sizes a file sparsely, and touching a page
 * it cannot back is a SIGBUS, mid-run; posix_fallocate fails here instead,
 * cleanly. It returns the error (errno is not set).
 */
static int
seg_reserve(const struct dcf_seg *sg, int fd, uint64_t size, char *err, size_t errlen)
{
	int e;

	do
		e = posix_fallocate(fd, 0, (off_t)size);
	while (e == EINTR);
	if (e == 0)
		return 0;
	DCF_BAD(e, "cannot reserve %.1f MiB in " SHM_DIR " for segment %s: %s%s",
	    (double)size / (1 << 20), sg->shm_name, strerror(e),
	    e == ENOSPC ? "; free space in " SHM_DIR " or ask for fewer networks or nodes" : "");
}

/*
 * A new segment with no name yet: an O_TMPFILE in SHM_DIR, locked, reserved,
 * mapped and initialised. On failure nothing is left, since a file with no
 * name goes with its last descriptor; sg->fd and sg->base are set once
 * mapped, for the caller to detach.
 */
static int
seg_make(struct dcf_seg *sg, const char *name, const struct dcf_config *cfg,
    const struct dcf_plan *p, char *err, size_t errlen)
{
	const char *what;
	void *base;
	int fd, e;

	fd = open(SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd == -1) {
		e = errno;
		DCF_BAD(e, "cannot create a segment in " SHM_DIR ": %s", strerror(e));
	}
	/* Nobody else can open a file with no name: nobody can lock it first. */
	what = "locking";
	if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		goto fail;
	what = "setting the mode of"; /* 0600, whatever the umask */
	if (fchmod(fd, 0600) == -1)
		goto fail;
	if (seg_reserve(sg, fd, p->size, err, errlen) == -1) {
		close_quiet(fd);
		return -1;
	}
	what = "mapping";
	base = mmap(NULL, p->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		goto fail;
	sg->fd = fd;
	sg->base = base;
	sg->hdr = base;
	sg->size = p->size;
	return seg_init(sg, name, cfg, p, err, errlen);
fail:
	e = errno;
	close(fd);
	DCF_BAD(e, "%s a new segment for %s: %s", what, sg->shm_name, strerror(e));
}

/* Give the unnamed file fd the name path; EEXIST, atomically, if it is taken. */
static int
seg_publish(int fd, const char *path)
{
	char self[32];

	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, self, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

/*
 * Creation is race-free by construction. The segment is made with no name
 * (O_TMPFILE), locked, reserved and initialised, and only then given its
 * name by linkat(2), which fails with EEXIST, atomically, when the name is
 * taken. So no process ever sees a half-made segment under the name; a
 * starter that dies at any instruction leaves nothing under any name; and
 * the flock that means "my supervisor is alive" is held before the name
 * exists. (shm_open(O_CREAT|O_EXCL) and then flock left a window in which a
 * second starter found an empty, unlocked segment, called it stale, removed
 * it, and both ran.)
 *
 * A taken name whose flock is free is a dead supervisor's. Between our open
 * and our flock another starter may have removed that inode and published
 * its own, so we remove the name only if it still refers to the inode we
 * hold locked. That check cannot go stale before the unlink: only a holder
 * of an inode's flock ever unlinks its name (here, or its creator in
 * dcf_seg_destroy), and linkat never replaces a name, so while we hold the
 * lock of the inode the name refers to, nobody else can change what it
 * refers to.
 */
int
dcf_seg_create(struct dcf_seg *sg, const char *name, const struct dcf_config *cfg, pid_t *took_over,
    char *err, size_t errlen)
{
	char path[sizeof(SHM_DIR) + sizeof(sg->shm_name)];
	struct dcf_plan p;
	int e;

	memset(sg, 0, sizeof(*sg));
	sg->fd = -1;
	*took_over = 0;
	if (errlen > 0)
		err[0] = '\0';
	if (dcf_name_check(name, err, errlen) == -1 || dcf_config_check(cfg, err, errlen) == -1)
		return -1;
	if (dcf_plan(cfg, &p) == -1)
		DCF_BAD(EFBIG, "configuration needs a segment over 4 GiB");
	snprintf(sg->shm_name, sizeof(sg->shm_name), "/dcf-%s", name);
	seg_path(sg, path, sizeof(path));
	if (seg_make(sg, name, cfg, &p, err, errlen) == -1)
		goto fail;
	for (int tries = 0; tries < 4; tries++) {
		pid_t old;
		int r;

		if (seg_publish(sg->fd, path) == 0)
			return 0;
		if (errno != EEXIST) {
			e = errno;
			snprintf(err, errlen, "naming the new segment %s: %s%s", path, strerror(e),
			    e == ENOENT ? " (is /proc mounted?)" : "");
			errno = e;
			goto fail;
		}
		r = seg_remove_stale(path, &old, 0, err, errlen);
		if (r == -1)
			goto fail;
		if (r == 1)
			*took_over = old > 0 ? old : -1;
	}
	snprintf(err, errlen, "could not create %s: it keeps reappearing", path);
	errno = EBUSY;
fail:
	e = errno;
	dcf_seg_detach(sg);
	errno = e;
	return -1;
}

int
dcf_seg_check_hdr(const struct dcf_hdr *h, size_t size, uid_t uid, char *err, size_t errlen)
{
	char why[DCF_ERRLEN];
	struct dcf_plan p;

	if (h->magic != DCF_MAGIC)
		DCF_BAD(EPROTO, "not a dcf segment (bad magic)");
	if ((h->format >> 48) != DCF_LAYOUT_VERSION)
		DCF_BAD(EPROTO, "segment has layout version %u, this program reads version %u",
		    (unsigned)(h->format >> 48), DCF_LAYOUT_VERSION);
	if (h->format != dcf_layout_format())
		DCF_BAD(EPROTO,
		    "segment was made by a differently built dcf (format %#llx, expected %#llx)",
		    (unsigned long long)h->format, (unsigned long long)dcf_layout_format());
	if (h->uid != (uint32_t)uid)
		DCF_BAD(EACCES, "segment belongs to uid %u, not to you (uid %u)", h->uid,
		    (unsigned)uid);
	if (h->size != size)
		DCF_BAD(EINVAL, "corrupt header: size %llu but the segment is %zu bytes",
		    (unsigned long long)h->size, size);
	if (dcf_config_check(&h->cfg, why, sizeof(why)) == -1)
		DCF_BAD(EINVAL, "corrupt header: bad configuration (%s)", why);
	if (dcf_plan(&h->cfg, &p) == -1 || p.size != h->size || p.off_nets != h->off_nets ||
	    p.off_rings != h->off_rings || p.off_ring_slots != h->off_ring_slots ||
	    p.off_tasks != h->off_tasks || p.off_nodes != h->off_nodes ||
	    p.off_payload != h->off_payload || p.nrings != h->nrings || p.ring_cap != h->ring_cap)
		DCF_BAD(EINVAL, "corrupt header: region offsets do not match the configuration");
	if (memchr(h->name, '\0', sizeof(h->name)) == NULL)
		DCF_BAD(EINVAL, "corrupt header: unterminated name");
	return 0;
}

int
dcf_seg_validate(const void *img, size_t size, uid_t uid, char *err, size_t errlen)
{
	struct dcf_hdr h;

	if (size < sizeof(struct dcf_hdr))
		DCF_BAD(EINVAL, "segment too small (%zu bytes) to hold a header", size);
	/* A private copy: what is checked is what the caller then reads, not the live image. */
	memcpy(&h, img, sizeof(h));
	return dcf_seg_check_hdr(&h, size, uid, err, errlen);
}

int
dcf_seg_attach(struct dcf_seg *sg, const char *name, int readonly, char *err, size_t errlen)
{
	char path[sizeof(SHM_DIR) + sizeof(sg->shm_name)];
	struct stat st;
	void *base;
	int fd;

	memset(sg, 0, sizeof(*sg));
	sg->fd = -1;
	if (errlen > 0)
		err[0] = '\0';
	if (dcf_name_check(name, err, errlen) == -1)
		return -1;
	snprintf(sg->shm_name, sizeof(sg->shm_name), "/dcf-%s", name);
	seg_path(sg, path, sizeof(path));
	fd = seg_open_name(path, readonly ? O_RDONLY : O_RDWR, &st, err, errlen);
	if (fd == -1) {
		if (errno == ENOENT)
			DCF_BAD(ENOENT, "no dcf system named '%s' is running", name);
		return -1;
	}
	if (st.st_size <= 0) {
		close(fd);
		DCF_BAD(ENOENT, "no dcf system named '%s' is running (empty segment)", name);
	}
	base = mmap(NULL, (size_t)st.st_size, readonly ? PROT_READ : PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		int e = errno;

		close(fd);
		DCF_BAD(e, "mmap %s: %s", path, strerror(e));
	}
	/* Held in sg while validated: a reader that jumps out (SIGBUS, a segment
	 * truncated under it) gives them back with dcf_seg_detach. */
	sg->fd = fd;
	sg->base = base;
	sg->size = (size_t)st.st_size;
	if (dcf_seg_validate(base, (size_t)st.st_size, getuid(), err, errlen) == -1) {
		int e = errno;

		dcf_seg_detach(sg);
		errno = e;
		return -1;
	}
	sg->readonly = readonly;
	dcf_seg_bind(sg, base, (size_t)st.st_size);
	return 0;
}

void
dcf_seg_close_fd(struct dcf_seg *sg)
{
	if (sg->fd != -1)
		close(sg->fd);
	sg->fd = -1;
}

void
dcf_seg_detach(struct dcf_seg *sg)
{
	if (sg->base != NULL)
		munmap(sg->base, sg->size);
	sg->base = NULL;
	sg->hdr = NULL;
	dcf_seg_close_fd(sg);
}

void
dcf_seg_destroy(struct dcf_seg *sg)
{
	char path[sizeof(SHM_DIR) + sizeof(sg->shm_name)];
	struct stat mine, named;

	/*
	 * Remove the name only while it is ours: if it was removed behind our
	 * back (RemoveIPC) and another system has it now, that one lives on.
	 */
	seg_path(sg, path, sizeof(path));
	if (sg->shm_name[0] != '\0' &&
	    (sg->fd == -1 ||
	        (fstat(sg->fd, &mine) == 0 && lstat(path, &named) == 0 &&
	            same_inode(&mine, &named))))
		unlink(path);
	dcf_seg_detach(sg);
}

int
dcf_seg_remove_stale(const char *name, pid_t *old, char *err, size_t errlen)
{
	char path[sizeof(SHM_DIR) + DCF_NAME_MAX + 8], why[DCF_ERRLEN];
	struct stat st;

	*old = 0;
	if (dcf_name_check(name, err, errlen) == -1)
		return -1;
	snprintf(path, sizeof(path), SHM_DIR "/dcf-%s", name);
	for (int tries = 0; tries < 4; tries++) {
		int r = seg_remove_stale(path, old, 1, why, sizeof(why));

		if (r == 1)
			return 0;
		if (r == -1 && errno == EBUSY)
			DCF_BAD(EBUSY, "not removing %s: %s", path, why);
		if (r == -1) {
			snprintf(err, errlen, "%s", why);
			return -1;
		}
		if (lstat(path, &st) == -1 && errno == ENOENT)
			DCF_BAD(ENOENT, "no segment named %s", path);
	}
	DCF_BAD(EBUSY, "not removing %s: it keeps changing under us", path);
}

/* The header of an open segment file, read (never mapped) and checked into *in. */
static void
seg_probe_hdr(int fd, const struct stat *st, struct dcf_seg_info *in)
{
	struct dcf_hdr h;
	ssize_t k = pread(fd, &h, sizeof(h), 0);
	int alive;

	in->kind = DCF_SEG_NOT_SEGMENT;
	if (k != (ssize_t)sizeof(h)) {
		snprintf(in->why, sizeof(in->why),
		    "a file of %lld bytes, too small for a dcf header", (long long)st->st_size);
		return;
	}
	if (h.magic != DCF_MAGIC) {
		snprintf(in->why, sizeof(in->why), "a file without the dcf magic");
		return;
	}
	in->kind = DCF_SEG_UNREADABLE;
	if ((h.format >> 48) != DCF_LAYOUT_VERSION) {
		snprintf(in->why, sizeof(in->why),
		    "a segment of layout version %u (this dcf reads %u)",
		    (unsigned)(h.format >> 48), DCF_LAYOUT_VERSION);
		return;
	}
	if (dcf_seg_check_hdr(&h, (size_t)st->st_size, getuid(), in->why, sizeof(in->why)) == -1)
		return;
	in->has_hdr = 1;
	in->sup_pid = h.sup_pid;
	in->uid = h.uid;
	in->sys_state = h.sys_state;
	in->end_code = h.end_code;
	in->created_ns = h.created_ns;
	alive = dcf_seg_supervisor_alive(&h);
	if (alive == -1) {
		in->kind = DCF_SEG_UNKNOWN;
		snprintf(in->why, sizeof(in->why), "/proc/%d/stat: %s", (int)h.sup_pid,
		    strerror(errno));
	} else if (alive == 0) {
		in->kind = DCF_SEG_STALE;
	} else {
		in->kind = h.sys_state == DCF_SYS_ENDED ? DCF_SEG_ENDED : DCF_SEG_LIVE;
	}
}

int
dcf_seg_probe(const char *name, struct dcf_seg_info *in)
{
	char path[sizeof(SHM_DIR) + sizeof(in->name) + 8];
	struct stat st;
	int fd;

	memset(in, 0, sizeof(*in));
	snprintf(in->name, sizeof(in->name), "%s", name);
	snprintf(path, sizeof(path), SHM_DIR "/dcf-%s", name);
	if (lstat(path, &st) == -1)
		return -1;
	in->uid = (uint32_t)st.st_uid;
	in->size = (uint64_t)st.st_size;
	in->kind = DCF_SEG_NOT_SEGMENT;
	if (!S_ISREG(st.st_mode)) {
		snprintf(in->why, sizeof(in->why), "%s", seg_kind(st.st_mode));
		return 0;
	}
	if (st.st_uid != getuid()) {
		in->kind = DCF_SEG_FOREIGN;
		snprintf(in->why, sizeof(in->why), "a file of uid %u", (unsigned)st.st_uid);
		return 0;
	}
	fd = seg_open_name(path, O_RDONLY, &st, in->why, sizeof(in->why));
	if (fd == -1 && errno == EACCES)
		in->kind = DCF_SEG_FOREIGN; /* replaced since the lstat: say by what */
	if (fd == -1)
		return errno == ENOENT ? -1 : 0;
	in->size = (uint64_t)st.st_size;
	seg_probe_hdr(fd, &st, in);
	close(fd);
	return 0;
}

static int
info_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dcf_seg_info *)a)->name,
	    ((const struct dcf_seg_info *)b)->name);
}

int
dcf_seg_list(struct dcf_seg_info **list, size_t *n, char *err, size_t errlen)
{
	struct dcf_seg_info *v = NULL;
	size_t cap = 0;
	struct dirent *de;
	DIR *d = opendir(SHM_DIR);
	int e;

	*list = NULL;
	*n = 0;
	if (d == NULL) {
		e = errno;
		DCF_BAD(e, "reading " SHM_DIR ": %s", strerror(e));
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "dcf-", 4) != 0)
			continue;
		if (*n == cap) {
			struct dcf_seg_info *bigger;

			cap = cap ? cap * 2 : 8;
			bigger = realloc(v, cap * sizeof(*v));
			if (bigger == NULL) {
				free(v);
				closedir(d);
				DCF_BAD(ENOMEM, "listing " SHM_DIR ": out of memory");
			}
			v = bigger;
		}
		if (dcf_seg_probe(de->d_name + 4, &v[*n]) == 0)
			(*n)++;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), info_cmp);
	if (*n == 0) {
		free(v);
		v = NULL;
	}
	*list = v;
	return 0;
}

int
dcf_seg_supervisor_alive(const struct dcf_hdr *h)
{
	uint64_t start;

	if (h->sup_pid <= 0)
		return 0;
	if (dcf_proc_start((pid_t)h->sup_pid, &start) == -1)
		return errno == ENOENT || errno == ESRCH ? 0 : -1;
	return start == h->sup_start;
}
