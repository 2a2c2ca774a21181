/*
 * test_seg.c - the segment's life: names and configurations checked, the
 * layout planned, a segment created and attached (read-write and
 * read-only), refused on every header mismatch (magic, layout version,
 * build format, owner, size, offsets, name), taken over when its creator is
 * gone, refused with EBUSY while it lives, removed by destroy.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "testutil.h"

static int
setup(void **state)
{
	return tu_setup(state);
}

static int
teardown(void **state)
{
	return tu_teardown(state);
}

static int
shm_exists(const char *name)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dcf-%s", name);
	fd = shm_open(path, O_RDONLY, 0);
	if (fd == -1) {
		assert_int_equal(errno, ENOENT);
		return 0;
	}
	close(fd);
	return 1;
}

static void
test_name_check(void **state)
{
	static const char *const good[] = {
	    "a", "Z", "0", "abc-DEF_09.x", "a.b", "-x", "t123-run.2",
	    "abcdefghijklmnopqrstuvwxyz012345", /* 32, the longest */
	};
	static const char *const bad[] = {
	    "",
	    "abcdefghijklmnopqrstuvwxyz0123456", /* 33 */
	    "a/b",
	    "/abc",
	    "abc/",
	    "..",
	    "a..b",
	    "../x",
	    ".",
	    "a b",
	    "a*b",
	    "a:b",
	    "a\tb",
	    "a\nb",
	    "caf\xc3\xa9",
	    "a\\b",
	    "$x",
	    "a%b",
	};
	char err[DCF_ERRLEN];
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (dcf_name_check(good[i], err, sizeof(err)) != 0)
			fail_msg("'%s' refused: %s", good[i], err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dcf_seg sg;
		struct dcf_config c;
		pid_t took;

		err[0] = '\0';
		errno = 0;
		if (dcf_name_check(bad[i], err, sizeof(err)) != -1)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(errno, EINVAL);
		assert_true(strstr(err, "instance name") != NULL);
		/* Neither create nor attach gets as far as shm_open. */
		tu_config(&c);
		errno = 0;
		assert_int_equal(dcf_seg_create(&sg, bad[i], &c, &took, err, sizeof(err)), -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(sg.fd, -1);
		errno = 0;
		assert_int_equal(dcf_seg_attach(&sg, bad[i], 1, err, sizeof(err)), -1);
		assert_int_equal(errno, EINVAL);
	}
	/* Messages name the rule that was broken. */
	dcf_name_check("a..b", err, sizeof(err));
	assert_non_null(strstr(err, "'..'"));
	dcf_name_check("a*b", err, sizeof(err));
	assert_non_null(strstr(err, "'*'"));
	dcf_name_check("", err, sizeof(err));
	assert_non_null(strstr(err, "1 to 32"));
}

static void
test_config_check(void **state)
{
	struct dcf_config c;
	char err[DCF_ERRLEN], name[40];
	struct dcf_seg sg;
	pid_t took;
	int nbad = 0;
	(void)state;

	tu_config(&c);
	assert_int_equal(dcf_config_check(&c, err, sizeof(err)), 0);
	for (int k = 0;; k++) {
		tu_config(&c);
		switch (k) {
		case 0:
			c.nets = 0;
			break;
		case 1:
			c.nets = DCF_MAX_NETS + 1;
			break;
		case 2:
			c.nodes_per_net = 0;
			break;
		case 3:
			c.nets = 2;
			c.nodes_per_net = DCF_MAX_NODES;
			break;
		case 4:
			c.max_nodes = 3;
			break; /* < 2 x 2 */
		case 5:
			c.max_nodes = DCF_MAX_NODES + 1;
			break;
		case 6:
			c.task_slots = 12;
			break; /* not a power of two */
		case 7:
			c.task_slots = 1;
			break;
		case 8:
			c.task_slots = DCF_MAX_TASK_SLOTS * 2;
			break;
		case 9:
			c.task_ms_min = 5;
			c.task_ms_max = 4;
			break;
		case 10:
			c.downtime_ms_min = 5;
			c.downtime_ms_max = 4;
			break;
		case 11:
			c.work = DCF_WORK_NONE + 1;
			break;
		case 12:
			c.max_attempts = 0;
			break;
		default:
			goto done;
		}
		nbad++;
		err[0] = '\0';
		errno = 0;
		if (dcf_config_check(&c, err, sizeof(err)) != -1)
			fail_msg("bad configuration %d accepted", k);
		assert_int_equal(errno, EINVAL);
		assert_true(err[0] != '\0');
		tu_name(name, sizeof(name), "cfg");
		errno = 0;
		assert_int_equal(dcf_seg_create(&sg, name, &c, &took, err, sizeof(err)), -1);
		assert_int_equal(errno, EINVAL);
		assert_false(shm_exists(name));
	}
done:
	assert_int_equal(nbad, 13);
	/* The limits themselves are fine. */
	tu_config(&c);
	c.task_slots = 2;
	c.nets = 1;
	c.nodes_per_net = 1;
	c.max_nodes = DCF_MAX_NODES;
	c.max_attempts = 1;
	assert_int_equal(dcf_config_check(&c, err, sizeof(err)), 0);
}

static void
test_plan(void **state)
{
	struct dcf_config c;
	struct dcf_plan p;
	(void)state;

	tu_config(&c);
	assert_int_equal(dcf_plan(&c, &p), 0);
	assert_int_equal(p.nrings, DCF_RING_NET0 + c.nets);
	assert_int_equal(p.ring_cap, c.task_slots);
	assert_true(p.off_nets >= sizeof(struct dcf_hdr));
	assert_true(p.off_rings >= p.off_nets + c.nets * sizeof(struct dcf_net));
	assert_true(p.off_ring_slots >= p.off_rings + p.nrings * sizeof(struct dcf_ring));
	assert_true(p.off_tasks >= p.off_ring_slots + (uint64_t)p.nrings * p.ring_cap * 4);
	assert_true(p.off_nodes >= p.off_tasks + c.task_slots * sizeof(struct dcf_task));
	assert_true(p.size >= p.off_nodes + c.max_nodes * sizeof(struct dcf_node));
	assert_int_equal(p.off_nets % 64, 0);
	assert_int_equal(p.off_rings % 64, 0);
	assert_int_equal(p.off_ring_slots % 64, 0);
	assert_int_equal(p.off_tasks % 64, 0);
	assert_int_equal(p.off_nodes % 64, 0);
	assert_int_equal(p.size % 64, 0);
	/* The largest valid configuration fits the journal's 32-bit offsets. */
	c.nets = DCF_MAX_NETS;
	c.nodes_per_net = DCF_MAX_NODES / DCF_MAX_NETS;
	c.max_nodes = DCF_MAX_NODES;
	c.task_slots = DCF_MAX_TASK_SLOTS;
	assert_int_equal(dcf_plan(&c, &p), 0);
	assert_true(p.size < UINT32_MAX);
	/* One beyond it does not. */
	c.task_slots = DCF_MAX_TASK_SLOTS * 4;
	errno = 0;
	assert_int_equal(dcf_plan(&c, &p), -1);
	assert_int_equal(errno, EFBIG);
}

static void
test_create(void **state)
{
	struct dcf_config c;
	struct dcf_seg sg;
	struct dcf_plan p;
	struct dcf_hdr *h;
	struct stat st;
	uint64_t start;
	char path[80];
	(void)state;

	tu_config(&c);
	c.nets = 3;
	c.max_nodes = 7; /* one node beyond networks x nodes */
	tu_seg_create(&sg, "create", &c);
	h = sg.hdr;
	assert_int_equal(dcf_plan(&c, &p), 0);
	assert_int_equal(h->magic, DCF_MAGIC);
	assert_int_equal(h->format, dcf_layout_format());
	assert_int_equal(h->format >> 48, DCF_LAYOUT_VERSION);
	assert_int_equal(h->size, p.size);
	assert_int_equal(sg.size, p.size);
	assert_int_equal(h->uid, getuid());
	assert_int_equal(h->sup_pid, getpid());
	assert_int_equal(dcf_proc_start(getpid(), &start), 0);
	assert_int_equal(h->sup_start, start);
	assert_true(dcf_seg_supervisor_alive(h));
	assert_string_equal(h->name + 0, sg.shm_name + 5);
	assert_memory_equal(&h->cfg, &c, sizeof(c));
	assert_int_equal(h->off_nets, p.off_nets);
	assert_int_equal(h->off_rings, p.off_rings);
	assert_int_equal(h->off_ring_slots, p.off_ring_slots);
	assert_int_equal(h->off_tasks, p.off_tasks);
	assert_int_equal(h->off_nodes, p.off_nodes);
	assert_int_equal(h->nrings, p.nrings);
	assert_int_equal(h->ring_cap, p.ring_cap);
	assert_int_equal(h->sys_state, DCF_SYS_RUNNING);
	assert_int_equal(h->wal.n, 0);
	assert_ptr_equal(sg.nets, (void *)(sg.base + p.off_nets));
	assert_ptr_equal(sg.tasks, (void *)(sg.base + p.off_tasks));
	assert_ptr_equal(sg.nodes, (void *)(sg.base + p.off_nodes));
	for (uint32_t i = 0; i < c.nets; i++)
		assert_int_equal(sg.nets[i].id, i);
	for (uint32_t r = 0; r < p.nrings; r++)
		assert_int_equal(sg.rings[r].slots_off,
		    p.off_ring_slots + (uint64_t)r * p.ring_cap * 4);
	for (uint32_t n = 0; n < c.max_nodes; n++) {
		assert_int_equal(sg.nodes[n].state, DCF_NODE_EMPTY);
		assert_int_equal(sg.nodes[n].task_slot, DCF_NONE);
		if (n < 6) {
			assert_int_equal(sg.nodes[n].net, n / 2);
			assert_int_equal(sg.nodes[n].idx, n % 2);
		}
	}
	/* The segment's file: ours, private, the planned size. */
	snprintf(path, sizeof(path), "/dev/shm%s", sg.shm_name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, getuid());
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal((uint64_t)st.st_size, p.size);
	tu_lock(&sg);
	tu_assert_books(&sg);
	dcf_unlock(&sg);
	dcf_seg_destroy(&sg);
	assert_null(sg.base);
	assert_int_equal(sg.fd, -1);
	assert_int_equal(stat(path, &st), -1);
}

/* Is [p, p+len) mapped with exactly these permissions ("r--s")? */
static int
mapped_as(const void *p, const char *perms)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");
	int found = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi;
		char pm[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, pm) != 3)
			continue;
		if ((uintptr_t)p >= lo && (uintptr_t)p < hi) {
			found = strcmp(pm, perms) == 0;
			break;
		}
	}
	fclose(f);
	return found;
}

static void
test_attach(void **state)
{
	struct dcf_config c;
	struct dcf_seg sg, rw, ro;
	char err[DCF_ERRLEN], name[40];
	(void)state;

	tu_config(&c);
	tu_seg_create(&sg, "attach", &c);
	strlcpy(name, sg.hdr->name, sizeof(name));
	assert_int_equal(dcf_seg_attach(&rw, name, 0, err, sizeof(err)), 0);
	assert_int_equal(dcf_seg_attach(&ro, name, 1, err, sizeof(err)), 0);
	assert_ptr_not_equal(rw.base, sg.base);
	assert_int_equal(rw.size, sg.size);
	assert_int_equal(ro.readonly, 1);
	assert_int_equal(rw.readonly, 0);
	assert_true(mapped_as(rw.base, "rw-s"));
	assert_true(mapped_as(ro.base, "r--s"));
	assert_int_equal(ro.hdr->off_tasks, sg.hdr->off_tasks);
	/* One segment, three views of it. */
	rw.hdr->cnt.claims = 4242;
	assert_int_equal(sg.hdr->cnt.claims, 4242);
	assert_int_equal(ro.hdr->cnt.claims, 4242);
	sg.tasks[3].id = 99;
	assert_int_equal(ro.tasks[3].id, 99);
	/* One lock, whichever mapping it is taken through. */
	assert_int_equal(dcf_lock(&rw), 0);
	{
		pid_t child = tu_fork();

		if (child == 0) {
			errno = 0;
			TU_CHILD_CHECK(dcf_trylock(&sg) == -1 && errno == EBUSY,
			    "trylock through another mapping: %s", strerror(errno));
			_exit(TU_EX_OK);
		}
		tu_assert_exit(tu_waitpid(child), TU_EX_OK);
	}
	dcf_unlock(&rw);
	assert_int_equal(dcf_trylock(&sg), 0);
	dcf_unlock(&sg);
	dcf_seg_detach(&ro);
	assert_null(ro.base);
	assert_int_equal(ro.fd, -1);
	dcf_seg_detach(&rw);
	/* Detaching is not removing. */
	assert_true(shm_exists(name));
	dcf_seg_destroy(&sg);
	assert_false(shm_exists(name));
	errno = 0;
	assert_int_equal(dcf_seg_attach(&rw, name, 0, err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "no dcf system named"));
	assert_null(rw.base);
}

/* Each way an image can be wrong, on a copy of a real one. */
static void
test_validate(void **state)
{
	struct dcf_config c;
	struct dcf_seg sg;
	struct dcf_hdr *h;
	unsigned char *img;
	char err[DCF_ERRLEN];
	uid_t me = getuid();
	(void)state;

	tu_config(&c);
	tu_seg_create(&sg, "valid", &c);
	img = malloc(sg.size);
	assert_non_null(img);
	h = (struct dcf_hdr *)(void *)img;
#define FRESH() memcpy(img, sg.base, sg.size)
#define REFUSED(e, size, uid, text) \
	do { \
		err[0] = '\0'; \
		errno = 0; \
		assert_int_equal(dcf_seg_validate(img, (size), (uid), err, sizeof(err)), -1); \
		assert_int_equal(errno, (e)); \
		if (strstr(err, (text)) == NULL) \
			fail_msg("message '%s' lacks '%s'", err, (text)); \
	} while (0)

	FRESH();
	assert_int_equal(dcf_seg_validate(img, sg.size, me, err, sizeof(err)), 0);
	FRESH();
	h->magic ^= 1;
	REFUSED(EPROTO, sg.size, me, "bad magic");
	FRESH();
	h->magic = 0; /* a creator that died before finishing */
	REFUSED(EPROTO, sg.size, me, "bad magic");
	FRESH();
	h->format += 1ULL << 48;
	REFUSED(EPROTO, sg.size, me, "layout version 3");
	FRESH();
	h->format ^= 0x10;
	REFUSED(EPROTO, sg.size, me, "differently built");
	FRESH();
	REFUSED(EACCES, sg.size, me + 1, "belongs to uid");
	FRESH();
	h->uid = me + 7;
	REFUSED(EACCES, sg.size, me, "belongs to uid");
	FRESH();
	REFUSED(EINVAL, sg.size - 64, me, "size");
	FRESH();
	REFUSED(EINVAL, sizeof(struct dcf_hdr) - 1, me, "too small");
	FRESH();
	h->size += 64;
	REFUSED(EINVAL, sg.size, me, "size");
	FRESH();
	h->cfg.nets = 0;
	REFUSED(EINVAL, sg.size, me, "bad configuration");
	FRESH();
	h->cfg.task_slots = 16; /* valid, but not what the regions were cut for */
	REFUSED(EINVAL, sg.size, me, "offsets");
	FRESH();
	h->off_tasks += 64;
	REFUSED(EINVAL, sg.size, me, "offsets");
	FRESH();
	h->nrings++;
	REFUSED(EINVAL, sg.size, me, "offsets");
	FRESH();
	h->ring_cap = 4;
	REFUSED(EINVAL, sg.size, me, "offsets");
	FRESH();
	memset(h->name, 'x', sizeof(h->name));
	REFUSED(EINVAL, sg.size, me, "unterminated name");
#undef FRESH
#undef REFUSED
	free(img);
	dcf_seg_destroy(&sg);
}

/* attach applies the same checks to a live segment someone damaged. */
static void
test_attach_refuses(void **state)
{
	struct dcf_config c;
	struct dcf_seg sg, other;
	char err[DCF_ERRLEN], name[40];
	uint64_t saved;
	(void)state;

	tu_config(&c);
	tu_seg_create(&sg, "refuse", &c);
	strlcpy(name, sg.hdr->name, sizeof(name));

	saved = sg.hdr->magic;
	sg.hdr->magic = 0x1122334455667788ULL;
	errno = 0;
	assert_int_equal(dcf_seg_attach(&other, name, 1, err, sizeof(err)), -1);
	assert_int_equal(errno, EPROTO);
	assert_null(other.base);
	sg.hdr->magic = saved;

	saved = sg.hdr->format;
	sg.hdr->format = (uint64_t)(DCF_LAYOUT_VERSION + 1) << 48;
	errno = 0;
	assert_int_equal(dcf_seg_attach(&other, name, 0, err, sizeof(err)), -1);
	assert_int_equal(errno, EPROTO);
	assert_non_null(strstr(err, "layout version"));
	sg.hdr->format = saved ^ 1;
	errno = 0;
	assert_int_equal(dcf_seg_attach(&other, name, 0, err, sizeof(err)), -1);
	assert_int_equal(errno, EPROTO);
	assert_non_null(strstr(err, "differently built"));
	sg.hdr->format = saved;

	sg.hdr->uid = getuid() + 1;
	errno = 0;
	assert_int_equal(dcf_seg_attach(&other, name, 1, err, sizeof(err)), -1);
	assert_int_equal(errno, EACCES);
	sg.hdr->uid = getuid();

	/* The file grew behind our back: its size no longer matches the header. */
	assert_int_equal(ftruncate(sg.fd, (off_t)sg.size + 4096), 0);
	errno = 0;
	assert_int_equal(dcf_seg_attach(&other, name, 1, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ftruncate(sg.fd, (off_t)sg.size), 0);

	assert_int_equal(dcf_seg_attach(&other, name, 1, err, sizeof(err)), 0);
	dcf_seg_detach(&other);
	dcf_seg_destroy(&sg);
}

/* A child creates the segment and dies without removing it. */
static pid_t
create_and_die(const char *name, int how)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct dcf_config c;
		struct dcf_seg sg;
		char err[DCF_ERRLEN];
		pid_t took;

		tu_config(&c);
		TU_CHILD_CHECK(dcf_seg_create(&sg, name, &c, &took, err, sizeof(err)) == 0,
		    "create: %s", err);
		if (how == SIGKILL)
			raise(SIGKILL);
		_exit(TU_EX_OK); /* the kernel drops the flock with the descriptor */
	}
	return pid;
}

static void
test_stale_takeover(void **state)
{
	struct dcf_config c;
	struct dcf_seg sg, peek;
	char err[DCF_ERRLEN], name[40];
	pid_t took, child;
	(void)state;

	tu_config(&c);
	c.tasks = 77;
	for (int how = 0; how < 2; how++) {
		tu_name(name, sizeof(name), "stale");
		child = create_and_die(name, how ? SIGKILL : 0);
		if (how)
			tu_assert_killed(tu_waitpid(child));
		else
			tu_assert_exit(tu_waitpid(child), TU_EX_OK);
		/* What it left is a whole, valid segment, but nobody runs it. */
		assert_true(shm_exists(name));
		assert_int_equal(dcf_seg_attach(&peek, name, 1, err, sizeof(err)), 0);
		assert_int_equal(peek.hdr->sup_pid, child);
		assert_false(dcf_seg_supervisor_alive(peek.hdr));
		dcf_seg_detach(&peek);

		took = 0;
		if (dcf_seg_create(&sg, name, &c, &took, err, sizeof(err)) == -1)
			fail_msg("create over a stale segment: %s", err);
		assert_int_equal(took, child);
		/* A fresh segment, not the old one. */
		assert_int_equal(sg.hdr->sup_pid, getpid());
		assert_int_equal(sg.hdr->cfg.tasks, 77);
		assert_int_equal(sg.hdr->cnt.next_id, 0);
		dcf_seg_destroy(&sg);
		assert_false(shm_exists(name));
	}
}

/* Junk under our name, left by something that never finished creating. */
static void
test_stale_junk(void **state)
{
	struct dcf_config c;
	struct dcf_seg sg;
	char err[DCF_ERRLEN], name[40], path[64];
	pid_t took = 0;
	(void)state;

	tu_config(&c);
	for (int len = 0; len <= 4; len += 4) { /* empty, and too short for a header */
		int fd;

		tu_name(name, sizeof(name), "junk");
		snprintf(path, sizeof(path), "/dcf-%s", name);
		fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "junk", (size_t)len), len);
		close(fd);
		errno = 0;
		assert_int_equal(dcf_seg_attach(&sg, name, 1, err, sizeof(err)), -1);
		assert_int_equal(errno, len == 0 ? ENOENT : EINVAL);
		if (dcf_seg_create(&sg, name, &c, &took, err, sizeof(err)) == -1)
			fail_msg("create over junk: %s", err);
		assert_int_equal(took, -1); /* taken over, its creator unknown */
		assert_int_equal(sg.hdr->magic, DCF_MAGIC);
		dcf_seg_destroy(&sg);
	}
}

static void
test_live_refused(void **state)
{
	struct dcf_config c;
	struct dcf_seg sg, peek;
	char err[DCF_ERRLEN], want[64], name[40], b;
	int ready[2], go[2];
	pid_t took = 0, child;
	(void)state;

	tu_config(&c);
	tu_name(name, sizeof(name), "live");
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	child = tu_fork();
	if (child == 0) {
		struct dcf_seg mine;

		close(ready[0]);
		close(go[1]);
		TU_CHILD_CHECK(dcf_seg_create(&mine, name, &c, &took, err, sizeof(err)) == 0,
		    "create: %s", err);
		TU_CHILD_CHECK(write(ready[1], "r", 1) == 1, "write");
		/* Run until the parent closes the pipe, then remove it properly. */
		TU_CHILD_CHECK(read(go[0], &b, 1) == 0, "read");
		TU_CHILD_CHECK(mine.hdr->cnt.next_id == 0, "the segment was touched");
		dcf_seg_destroy(&mine);
		_exit(TU_EX_OK);
	}
	close(ready[1]);
	close(go[0]);
	assert_int_equal(read(ready[0], &b, 1), 1);

	errno = 0;
	assert_int_equal(dcf_seg_create(&sg, name, &c, &took, err, sizeof(err)), -1);
	assert_int_equal(errno, EBUSY);
	snprintf(want, sizeof(want), "already running, pid %d", (int)child);
	assert_string_equal(err, want);
	assert_int_equal(took, 0);
	assert_int_equal(sg.fd, -1);
	/* Refused without harm: the running one is intact and still its owner's. */
	assert_int_equal(dcf_seg_attach(&peek, name, 1, err, sizeof(err)), 0);
	assert_int_equal(peek.hdr->sup_pid, child);
	assert_true(dcf_seg_supervisor_alive(peek.hdr));
	dcf_seg_detach(&peek);

	close(go[1]);
	tu_assert_exit(tu_waitpid(child), TU_EX_OK);
	close(ready[0]);
	assert_false(shm_exists(name));

	/* The same name twice from one process: the second is refused too. */
	tu_seg_create(&sg, "twice", &c);
	strlcpy(name, sg.hdr->name, sizeof(name));
	{
		struct dcf_seg again;

		errno = 0;
		assert_int_equal(dcf_seg_create(&again, name, &c, &took, err, sizeof(err)), -1);
		assert_int_equal(errno, EBUSY);
		snprintf(want, sizeof(want), "already running, pid %d", (int)getpid());
		assert_string_equal(err, want);
	}
	assert_int_equal(sg.hdr->magic, DCF_MAGIC);
	dcf_seg_destroy(&sg);
}

/* Another user's segment is neither attached to nor taken over (needs root). */
static void
test_other_owner(void **state)
{
	struct dcf_config c;
	struct dcf_seg sg, other;
	char err[DCF_ERRLEN], name[40];
	pid_t took = 0;
	(void)state;

	if (geteuid() != 0)
		skip();
	tu_config(&c);
	tu_seg_create(&sg, "owner", &c);
	strlcpy(name, sg.hdr->name, sizeof(name));
	assert_int_equal(fchown(sg.fd, 4242, (gid_t)-1), 0);
	errno = 0;
	assert_int_equal(dcf_seg_attach(&other, name, 1, err, sizeof(err)), -1);
	assert_int_equal(errno, EACCES);
	assert_non_null(strstr(err, "uid 4242"));
	/* Even once its creator is gone. */
	dcf_seg_detach(&sg);
	errno = 0;
	assert_int_equal(dcf_seg_create(&other, name, &c, &took, err, sizeof(err)), -1);
	assert_int_equal(errno, EACCES);
	assert_non_null(strstr(err, "not taking it over"));
	assert_true(shm_exists(name));
	/* teardown removes it */
}

static void
test_supervisor_alive(void **state)
{
	struct dcf_config c;
	struct dcf_seg sg;
	struct dcf_hdr *h;
	uint64_t start;
	pid_t child;
	(void)state;

	tu_config(&c);
	tu_seg_create(&sg, "alive", &c);
	h = sg.hdr;
	assert_true(dcf_seg_supervisor_alive(h));
	h->sup_start++; /* our PID, someone else's start time: a reused PID */
	assert_false(dcf_seg_supervisor_alive(h));
	h->sup_start--;
	h->sup_pid = 0;
	assert_false(dcf_seg_supervisor_alive(h));
	/* A process that ended: its PID is dead even if its start time matched. */
	child = tu_fork();
	if (child == 0)
		_exit(TU_EX_OK);
	{
		siginfo_t si;

		assert_int_equal(waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT), 0);
	}
	assert_int_equal(dcf_proc_start(child, &start), 0); /* a zombie still has one */
	tu_assert_exit(tu_waitpid(child), TU_EX_OK);
	h->sup_pid = child;
	h->sup_start = start;
	assert_false(dcf_seg_supervisor_alive(h));
	dcf_seg_destroy(&sg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_name_check, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_check, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_plan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_attach, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_validate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_attach_refuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_takeover, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_junk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_live_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_supervisor_alive, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
