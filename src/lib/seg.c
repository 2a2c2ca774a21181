/* seg.c - the shared segment's life: plan, create, take over, attach, check. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcf/lock.h"
#include "dcf/seg.h"
#include "dcf/util.h"

#define ALIGN64(x) (((x) + 63u) & ~(uint64_t)63u)

uint64_t
dcf_layout_format(void)
{
	/* The version and the size of every shared type: a differently built
	 * program disagrees here and refuses to attach. */
	uint64_t f = DCF_LAYOUT_VERSION;

	f = f * 1000003u + sizeof(struct dcf_hdr);
	f = f * 1000003u + sizeof(struct dcf_task);
	f = f * 1000003u + sizeof(struct dcf_node);
	f = f * 1000003u + sizeof(struct dcf_ring);
	f = f * 1000003u + sizeof(struct dcf_net);
	f = f * 1000003u + sizeof(pthread_mutex_t);
	f = f * 1000003u + DCF_WAL_MAX;
	return ((uint64_t)DCF_LAYOUT_VERSION << 48) | (f & 0xffffffffffffULL);
}

int
dcf_name_check(const char *name, char *err, size_t errlen)
{
	size_t n = strlen(name);

	if (n == 0 || n > DCF_NAME_MAX) {
		snprintf(err, errlen, "instance name must be 1 to %d characters", DCF_NAME_MAX);
		errno = EINVAL;
		return -1;
	}
	if (strcmp(name, ".") == 0 || strstr(name, "..") != NULL) {
		snprintf(err, errlen, "instance name '%s' must not contain '..'", name);
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.') {
			snprintf(err, errlen,
			    "instance name may hold only letters, digits, '-', '_' and '.' (not "
			    "'%c')",
			    isprint(c) ? c : '?');
			errno = EINVAL;
			return -1;
		}
	}
	return 0;
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
	else if (c->work > DCF_WORK_NONE)
		what = "unknown work kind";
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

	p->nrings = DCF_RING_NET0 + c->nets;
	p->ring_cap = c->task_slots; /* every slot fits in any one ring */
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
	sg->cfg = h->cfg;
	sg->nrings = h->nrings;
	sg->ring_cap = h->ring_cap;
	sg->off_nets = h->off_nets;
}

static void
seg_init(struct dcf_seg *sg, const char *name, const struct dcf_config *cfg,
    const struct dcf_plan *p)
{
	struct dcf_hdr *h = sg->hdr;
	uint64_t start = 0;

	/* ftruncate gave us zeroes; fill in everything but the magic. */
	h->format = dcf_layout_format();
	h->size = p->size;
	h->uid = (uint32_t)getuid();
	h->sup_pid = (int32_t)getpid();
	(void)dcf_proc_start(getpid(), &start);
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
	h->nrings = p->nrings;
	h->ring_cap = p->ring_cap;
	dcf_seg_bind(sg, sg->base, p->size);
	dcf_lock_init(&h->lock);
	for (uint32_t i = 0; i < cfg->nets; i++)
		sg->nets[i].id = i;
	for (uint32_t r = 0; r < p->nrings; r++) {
		sg->rings[r].id = r;
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
		if (n < cfg->nets * cfg->nodes_per_net) {
			nd->net = n / cfg->nodes_per_net;
			nd->idx = n % cfg->nodes_per_net;
		}
	}
	__atomic_store_n(&h->magic, DCF_MAGIC, __ATOMIC_RELEASE);
}

/* An existing segment: is its creator alive? flock answers. */
static int
seg_try_stale(const char *shm_name, pid_t *old_pid, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	*old_pid = 0;
	fd = shm_open(shm_name, O_RDWR | O_CLOEXEC, 0);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1; /* vanished: just retry */
	if (fstat(fd, &st) == -1) {
		int e = errno;

		snprintf(err, errlen, "fstat %s: %s", shm_name, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	if (st.st_uid != getuid()) {
		snprintf(err, errlen, "segment %s belongs to uid %u; not taking it over", shm_name,
		    (unsigned)st.st_uid);
		close(fd);
		errno = EACCES;
		return -1;
	}
	if ((size_t)st.st_size >= sizeof(struct dcf_hdr)) {
		struct dcf_hdr h;

		if (pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h))
			*old_pid = h.sup_pid;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errlen, "already running, pid %d", (int)*old_pid);
		close(fd);
		errno = EBUSY;
		return -1;
	}
	/* Nobody holds it: the old supervisor is gone. Remove the name. */
	shm_unlink(shm_name);
	close(fd);
	return 1;
}

int
dcf_seg_create(struct dcf_seg *sg, const char *name, const struct dcf_config *cfg, pid_t *took_over,
    char *err, size_t errlen)
{
	struct dcf_plan p;
	void *base;
	int fd = -1, tries;

	memset(sg, 0, sizeof(*sg));
	sg->fd = -1;
	*took_over = 0;
	if (dcf_name_check(name, err, errlen) == -1 || dcf_config_check(cfg, err, errlen) == -1)
		return -1;
	if (dcf_plan(cfg, &p) == -1) {
		snprintf(err, errlen, "configuration needs a segment over 4 GiB");
		return -1;
	}
	snprintf(sg->shm_name, sizeof(sg->shm_name), "/dcf-%s", name);
	for (tries = 0; tries < 3; tries++) {
		pid_t old;
		int r;

		fd = shm_open(sg->shm_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1)
			break;
		if (errno != EEXIST) {
			snprintf(err, errlen, "shm_open %s: %s", sg->shm_name, strerror(errno));
			return -1;
		}
		r = seg_try_stale(sg->shm_name, &old, err, errlen);
		if (r == -1)
			return -1;
		if (r == 1)
			*took_over = old > 0 ? old : -1;
	}
	if (fd == -1) {
		snprintf(err, errlen, "could not create %s: it keeps reappearing", sg->shm_name);
		errno = EBUSY;
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		/* Someone opened our fresh segment and locked it first. */
		snprintf(err, errlen, "another supervisor is starting as '%s'", name);
		close(fd);
		errno = EBUSY;
		return -1;
	}
	if (ftruncate(fd, (off_t)p.size) == -1)
		goto fail;
	base = mmap(NULL, p.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		goto fail;
	sg->fd = fd;
	sg->base = base;
	sg->hdr = base;
	sg->size = p.size;
	seg_init(sg, name, cfg, &p);
	return 0;
fail:
	snprintf(err, errlen, "creating %s: %s", sg->shm_name, strerror(errno));
	{
		int e = errno;

		shm_unlink(sg->shm_name);
		close(fd);
		errno = e;
	}
	return -1;
}

int
dcf_seg_validate(const void *img, size_t size, uid_t uid, char *err, size_t errlen)
{
	struct dcf_hdr h;
	struct dcf_plan p;

	if (size < sizeof(struct dcf_hdr))
		DCF_BAD(EINVAL, "segment too small (%zu bytes) to hold a header", size);
	memcpy(&h, img, sizeof(h));
	if (h.magic != DCF_MAGIC)
		DCF_BAD(EPROTO, "not a dcf segment (bad magic)");
	if ((h.format >> 48) != DCF_LAYOUT_VERSION)
		DCF_BAD(EPROTO, "segment has layout version %u, this program reads version %u",
		    (unsigned)(h.format >> 48), DCF_LAYOUT_VERSION);
	if (h.format != dcf_layout_format())
		DCF_BAD(EPROTO,
		    "segment was made by a differently built dcf (format %#llx, expected %#llx)",
		    (unsigned long long)h.format, (unsigned long long)dcf_layout_format());
	if (h.uid != (uint32_t)uid)
		DCF_BAD(EACCES, "segment belongs to uid %u, not to you (uid %u)", h.uid,
		    (unsigned)uid);
	if (h.size != size)
		DCF_BAD(EINVAL, "corrupt header: size %llu but the segment is %zu bytes",
		    (unsigned long long)h.size, size);
	if (dcf_config_check(&h.cfg, err, errlen) == -1)
		DCF_BAD(EINVAL, "corrupt header: bad configuration");
	if (dcf_plan(&h.cfg, &p) == -1 || p.size != h.size || p.off_nets != h.off_nets ||
	    p.off_rings != h.off_rings || p.off_ring_slots != h.off_ring_slots ||
	    p.off_tasks != h.off_tasks || p.off_nodes != h.off_nodes || p.nrings != h.nrings ||
	    p.ring_cap != h.ring_cap)
		DCF_BAD(EINVAL, "corrupt header: region offsets do not match the configuration");
	if (memchr(h.name, '\0', sizeof(h.name)) == NULL)
		DCF_BAD(EINVAL, "corrupt header: unterminated name");
	return 0;
}

int
dcf_seg_attach(struct dcf_seg *sg, const char *name, int readonly, char *err, size_t errlen)
{
	struct stat st;
	void *base;
	int fd;

	memset(sg, 0, sizeof(*sg));
	sg->fd = -1;
	if (dcf_name_check(name, err, errlen) == -1)
		return -1;
	snprintf(sg->shm_name, sizeof(sg->shm_name), "/dcf-%s", name);
	fd = shm_open(sg->shm_name, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0);
	if (fd == -1) {
		if (errno == ENOENT)
			DCF_BAD(ENOENT, "no dcf system named '%s' is running", name);
		if (errno == EACCES)
			DCF_BAD(EACCES, "dcf system '%s' belongs to another user", name);
		DCF_BAD(errno, "shm_open %s: %s", sg->shm_name, strerror(errno));
	}
	if (fstat(fd, &st) == -1 || st.st_size <= 0) {
		close(fd);
		DCF_BAD(ENOENT, "no dcf system named '%s' is running (empty segment)", name);
	}
	if (st.st_uid != getuid()) {
		close(fd);
		DCF_BAD(EACCES, "dcf system '%s' belongs to uid %u, not to you", name,
		    (unsigned)st.st_uid);
	}
	base = mmap(NULL, (size_t)st.st_size, readonly ? PROT_READ : PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		int e = errno;

		close(fd);
		DCF_BAD(e, "mmap %s: %s", sg->shm_name, strerror(e));
	}
	if (dcf_seg_validate(base, (size_t)st.st_size, getuid(), err, errlen) == -1) {
		int e = errno;

		munmap(base, (size_t)st.st_size);
		close(fd);
		errno = e;
		return -1;
	}
	sg->fd = fd;
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
	shm_unlink(sg->shm_name);
	dcf_seg_detach(sg);
}

int
dcf_seg_supervisor_alive(const struct dcf_hdr *h)
{
	uint64_t start;

	if (h->sup_pid <= 0)
		return 0;
	if (dcf_proc_start((pid_t)h->sup_pid, &start) == -1)
		return 0;
	return start == h->sup_start;
}
