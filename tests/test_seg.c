/*
 * test_seg.c - the segment's life: names and configurations checked, the
 * layout planned, a segment created and attached (read-write and
 * read-only), refused on every header mismatch (magic, layout version,
 * build format, owner, size, offsets, name), taken over when its creator is
 * gone, refused with EBUSY while it lives, removed by destroy. Creation is
 * all or nothing: a creator stopped or killed at each of its steps, and many
 * racing for one name, fresh or stale. A /dev/shm too small is refused at
 * creation; a supervisor whose /proc entry cannot be read is "cannot tell";
 * objects planted under the name are refused and left as they were.
 */
#include <ctype.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "testutil.h"

static int
setup(void **state)
{
	return tu_setup(state);
}

/* Directories planted under our names: tu_teardown unlinks the rest. */
static void
rmdir_ours(void)
{
	char prefix[32], path[300];
	struct dirent *de;
	DIR *d = opendir("/dev/shm");

	if (d == NULL)
		return;
	snprintf(prefix, sizeof(prefix), "dcf-t%d-", (int)tu_main_pid);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 && de->d_type == DT_DIR) {
			snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
			rmdir(path);
		}
	closedir(d);
}

static int
teardown(void **state)
{
	if (!tu_in_child)
		rmdir_ours();
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
	    "a", "Z", "0", "_", "abc-DEF_09.x", "a.b", "a..b", "x-", "t123-run.2",
	    "abcdefghijklmnopqrstuvwxyz012345", /* 32, the longest */
	};
	static const char *const bad[] = {
	    "",
	    "abcdefghijklmnopqrstuvwxyz0123456", /* 33 */
	    "a/b",
	    "/abc",
	    "abc/",
	    "..",
	    "../x",
	    ".",
	    ".x",
	    "-x",
	    "-",
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
		assert_true(strstr(err, "an instance name is") != NULL);
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
	/* Messages state the rule and what broke it, never the name itself. */
	dcf_name_check("a*b", err, sizeof(err));
	assert_non_null(strstr(err, "1 to 32 of the characters"));
	assert_non_null(strstr(err, "not '*'"));
	dcf_name_check(".", err, sizeof(err));
	assert_non_null(strstr(err, "not '.' first"));
	dcf_name_check("-x", err, sizeof(err));
	assert_non_null(strstr(err, "not '-' first"));
	dcf_name_check("caf\xc3\xa9", err, sizeof(err));
	assert_non_null(strstr(err, "not byte \\xc3"));
	dcf_name_check("", err, sizeof(err));
	assert_non_null(strstr(err, "this one has 0 bytes"));
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
	assert_int_equal(p.nrings, dcf_nrings(c.nets)); /* every level's, and the delay ring */
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
	/* The most networks and nodes, with the slots their size gives
	 * (dcf_config_size), fit the journal's 32-bit offsets, as do the most
	 * slots for one network. */
	c.nets = DCF_MAX_NETS;
	c.nodes_per_net = DCF_MAX_NODES / DCF_MAX_NETS;
	c.max_nodes = DCF_MAX_NODES;
	c.task_slots = DCF_MAX_NODES * 4;
	assert_int_equal(dcf_plan(&c, &p), 0);
	assert_true(p.size < UINT32_MAX);
	c.nets = 1;
	c.task_slots = DCF_MAX_TASK_SLOTS;
	assert_int_equal(dcf_plan(&c, &p), 0);
	assert_true(p.size < UINT32_MAX);
	/* Every ring holds every slot, at every level: the most of both do not. */
	c.nets = DCF_MAX_NETS;
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
	{
		char want[32];

		snprintf(want, sizeof(want), "layout version %u", DCF_LAYOUT_VERSION + 1);
		REFUSED(EPROTO, sg.size, me, want);
	}
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
	assert_non_null(strstr(err, "belongs to uid 4242"));
	assert_non_null(strstr(err, "leaving it alone"));
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
	assert_int_equal(dcf_seg_supervisor_alive(h), 1);
	/* /proc/PID/stat unreadable, the process there: cannot tell, and why. */
	child = tu_fork();
	if (child == 0) {
		struct rlimit rl;
		int lowest = dup(0), r;

		/* The next descriptor would be `lowest`: allow only those below it. */
		TU_CHILD_CHECK(lowest >= 0 && close(lowest) == 0, "dup: %s", strerror(errno));
		TU_CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
		rl.rlim_cur = (rlim_t)lowest;
		TU_CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit: %s",
		    strerror(errno));
		errno = 0;
		r = dcf_seg_supervisor_alive(h);
		TU_CHILD_CHECK(r == -1 && errno == EMFILE, "with no descriptor free: %d (%s)", r,
		    strerror(errno));
		_exit(TU_EX_OK);
	}
	tu_assert_exit(tu_waitpid(child), TU_EX_OK);
	h->sup_start++; /* our PID, someone else's start time: a reused PID */
	assert_int_equal(dcf_seg_supervisor_alive(h), 0);
	h->sup_start--;
	h->sup_pid = 0;
	assert_int_equal(dcf_seg_supervisor_alive(h), 0);
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
	assert_int_equal(dcf_seg_supervisor_alive(h), 0);
	dcf_seg_destroy(&sg);
}

/* ---- creation: a segment is published whole, or not at all ----------- */

/*
 * Stop points inside dcf_seg_create. This executable's flock, posix_fallocate
 * and linkat take the place of libc's for the library linked into it. Armed
 * in a child, the point named stops it there: it writes the point's number to
 * cp.tell and waits for a byte on cp.wait, or SIGKILLs itself (cp.die).
 */
enum cp { CP_NONE, CP_LOCK, CP_RESERVE, CP_PUBLISH, CP_PUBLISHED, CP_N };

static const char *const cp_name[CP_N] = {"nowhere", "before flock", "before posix_fallocate",
    "before linkat", "after linkat"};

static struct {
	enum cp at;
	int die, tell, wait;
} cp = {CP_NONE, 0, -1, -1};

static void
cp_hit(enum cp where)
{
	char b = (char)where;

	if (cp.at != where)
		return;
	cp.at = CP_NONE;
	if (cp.die)
		raise(SIGKILL);
	TU_CHILD_CHECK(write(cp.tell, &b, 1) == 1, "write: %s", strerror(errno));
	TU_CHILD_CHECK(read(cp.wait, &b, 1) == 1, "read: %s", strerror(errno));
}

int
flock(int fd, int op)
{
	static int (*real)(int, int);

	if (real == NULL)
		real = (int (*)(int, int))dlsym(RTLD_NEXT, "flock");
	cp_hit(CP_LOCK);
	return real(fd, op);
}

int
posix_fallocate(int fd, off_t off, off_t len)
{
	static int (*real)(int, off_t, off_t);

	if (real == NULL)
		real = (int (*)(int, off_t, off_t))dlsym(RTLD_NEXT, "posix_fallocate");
	cp_hit(CP_RESERVE);
	return real(fd, off, len);
}

int
linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
	static int (*real)(int, const char *, int, const char *, int);
	int r;

	if (real == NULL)
		real =
		    (int (*)(int, const char *, int, const char *, int))dlsym(RTLD_NEXT, "linkat");
	cp_hit(CP_PUBLISH);
	r = real(olddirfd, oldpath, newdirfd, newpath, flags);
	if (r == 0) {
		int e = errno;

		cp_hit(CP_PUBLISHED);
		errno = e;
	}
	return r;
}

/* What is under name: 0 nothing; 1 a whole segment whose creator holds it; 2 a whole one nobody holds. */
static int
name_holds(const char *name)
{
	char path[80], err[DCF_ERRLEN];
	struct dcf_seg peek;
	struct stat st;
	int fd, r;

	snprintf(path, sizeof(path), "/dev/shm/dcf-%s", name);
	if (lstat(path, &st) == -1) {
		assert_int_equal(errno, ENOENT);
		return 0;
	}
	if (dcf_seg_attach(&peek, name, 1, err, sizeof(err)) == -1)
		fail_msg("%s is there, %lld bytes, but not a whole segment: %s", path,
		    (long long)st.st_size, err);
	dcf_seg_detach(&peek);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	r = flock(fd, LOCK_EX | LOCK_NB);
	assert_true(r == 0 || errno == EWOULDBLOCK);
	close(fd);
	return r == 0 ? 2 : 1;
}

/* How many entries of this test process /dev/shm holds, want aside. */
static int
others_in_shm(const char *want)
{
	char prefix[32];
	struct dirent *de;
	DIR *d = opendir("/dev/shm");
	int n = 0;

	assert_non_null(d);
	snprintf(prefix, sizeof(prefix), "dcf-t%d-", (int)getpid());
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 &&
		    (want == NULL || strcmp(de->d_name, want) != 0))
			n++;
	closedir(d);
	return n;
}

/*
 * A creator stopped at each step while another creates the same name: what
 * is under the name is at every moment nothing or a whole, locked segment,
 * and exactly one of the two runs.
 */
static void
test_create_stopped(void **state)
{
	struct dcf_config c;
	(void)state;

	tu_config(&c);
	for (int at = CP_LOCK; at < CP_N; at++) {
		char err[DCF_ERRLEN], name[40], b;
		int tell[2], wait[2], holds, mine;
		struct dcf_seg sg;
		pid_t child, took;

		tu_name(name, sizeof(name), "stop");
		assert_int_equal(pipe2(tell, O_CLOEXEC), 0);
		assert_int_equal(pipe2(wait, O_CLOEXEC), 0);
		child = tu_fork();
		if (child == 0) {
			struct dcf_seg theirs;
			int won;

			close(tell[0]);
			close(wait[1]);
			cp.at = (enum cp)at;
			cp.tell = tell[1];
			cp.wait = wait[0];
			won = dcf_seg_create(&theirs, name, &c, &took, err, sizeof(err)) == 0;
			TU_CHILD_CHECK(won || (errno == EBUSY && strstr(err, "already running")),
			    "create: %s", err);
			b = won ? 'W' : 'L';
			TU_CHILD_CHECK(write(tell[1], &b, 1) == 1, "write");
			/* Hold it until the parent has looked. */
			TU_CHILD_CHECK(read(wait[0], &b, 1) == 0, "read");
			if (won)
				dcf_seg_destroy(&theirs);
			_exit(TU_EX_OK);
		}
		close(tell[1]);
		close(wait[0]);
		if (read(tell[0], &b, 1) != 1 || b != at)
			fail_msg("the creator never stopped %s", cp_name[at]);
		holds = name_holds(name);
		if (holds != (at == CP_PUBLISHED ? 1 : 0))
			fail_msg("stopped %s, the name holds %s", cp_name[at],
			    holds == 0 ? "nothing" : "a segment");
		mine = dcf_seg_create(&sg, name, &c, &took, err, sizeof(err)) == 0;
		if (!mine && (errno != EBUSY || strstr(err, "already running") == NULL))
			fail_msg("stopped %s: %s", cp_name[at], err);
		assert_int_equal(write(wait[1], "g", 1), 1);
		assert_int_equal(read(tell[0], &b, 1), 1);
		if (mine == (b == 'W'))
			fail_msg("stopped %s: %s won", cp_name[at], mine ? "both" : "neither");
		assert_int_equal(name_holds(name), 1);
		close(wait[1]);
		tu_assert_exit(tu_waitpid(child), TU_EX_OK);
		close(tell[0]);
		if (mine)
			dcf_seg_destroy(&sg);
		assert_int_equal(name_holds(name), 0);
		assert_int_equal(others_in_shm(NULL), 0);
	}
}

/*
 * A creator SIGKILLed at each step leaves nothing under any name, or (once
 * published) a whole segment that the next creator takes over.
 */
static void
test_create_killed(void **state)
{
	struct dcf_config c;
	(void)state;

	tu_config(&c);
	for (int at = CP_LOCK; at < CP_N; at++) {
		char err[DCF_ERRLEN], name[40], shm[48];
		struct dcf_seg sg;
		pid_t child, took = 0;

		tu_name(name, sizeof(name), "kill");
		snprintf(shm, sizeof(shm), "dcf-%s", name);
		child = tu_fork();
		if (child == 0) {
			cp.at = (enum cp)at;
			cp.die = 1;
			(void)dcf_seg_create(&sg, name, &c, &took, err, sizeof(err));
			_exit(TU_EX_NOTREACHED);
		}
		tu_assert_killed(tu_waitpid(child));
		if (others_in_shm(shm) != 0)
			fail_msg("killed %s: something left in /dev/shm under another name",
			    cp_name[at]);
		assert_int_equal(name_holds(name), at == CP_PUBLISHED ? 2 : 0);
		if (dcf_seg_create(&sg, name, &c, &took, err, sizeof(err)) == -1)
			fail_msg("killed %s: create after it: %s", cp_name[at], err);
		assert_int_equal(took, at == CP_PUBLISHED ? child : 0);
		dcf_seg_destroy(&sg);
		assert_int_equal(others_in_shm(NULL), 0);
	}
}

#define RACERS 8

struct race_res {
	int won, err;
	pid_t took;
	char msg[DCF_ERRLEN];
};

/* Read n bytes from fd within the deadline. */
static void
read_within(int fd, int n, uint64_t deadline)
{
	while (n > 0) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct timespec ts;
		char buf[RACERS];
		ssize_t r;

		if (!tu_time_left(deadline, &ts))
			fail_msg("%d racers never reported", n);
		if (ppoll(&p, 1, &ts, NULL) <= 0)
			continue;
		r = read(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf));
		if (r <= 0)
			fail_msg("%d racers ended without a report", n);
		n -= (int)r;
	}
}

/*
 * RACERS processes start dcf_seg_create on one name at once, round after
 * round: exactly one runs, every other is told EBUSY "already running". The
 * winner of every other round dies without removing its segment, so the next
 * round races over a stale one too: at most one racer removes it.
 */
static void
test_create_race(void **state)
{
	struct race_res *res = tu_shared(RACERS * sizeof(*res));
	int rounds = tu_valgrind() ? 12 : 150;
	pid_t stale = 0;
	struct dcf_config c;
	char name[40];
	(void)state;

	tu_config(&c);
	tu_name(name, sizeof(name), "race");
	for (int round = 0; round < rounds; round++) {
		int go[2], done[2], hold[2], winner = -1, takers = 0;
		int leave = round % 2 == 0;
		pid_t kid[RACERS];

		memset(res, 0, RACERS * sizeof(*res));
		assert_int_equal(pipe2(go, O_CLOEXEC), 0);
		assert_int_equal(pipe2(done, O_CLOEXEC), 0);
		assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
		for (int i = 0; i < RACERS; i++) {
			kid[i] = tu_fork();
			if (kid[i] == 0) {
				struct race_res *me = &res[i];
				struct dcf_seg sg;
				char b;

				close(go[1]);
				close(done[0]);
				close(hold[1]);
				TU_CHILD_CHECK(read(go[0], &b, 1) == 0, "read");
				me->won = dcf_seg_create(&sg, name, &c, &me->took, me->msg,
				              sizeof(me->msg)) == 0;
				me->err = me->won ? 0 : errno;
				TU_CHILD_CHECK(write(done[1], "d", 1) == 1, "write");
				if (!me->won)
					_exit(TU_EX_OK);
				TU_CHILD_CHECK(read(hold[0], &b, 1) == 0, "read");
				if (!leave)
					dcf_seg_destroy(&sg);
				_exit(TU_EX_OK); /* leave: the kernel drops the lock */
			}
		}
		close(go[0]);
		close(done[1]);
		close(hold[0]);
		close(go[1]); /* and they are off */
		read_within(done[0], RACERS, tu_deadline(20000));
		for (int i = 0; i < RACERS; i++) {
			if (res[i].won) {
				if (winner != -1)
					fail_msg("round %d: racers %d and %d both run", round,
					    winner, i);
				winner = i;
			} else if (res[i].err != EBUSY ||
			    strstr(res[i].msg, "already running") == NULL) {
				fail_msg("round %d: racer %d: %s (%s)", round, i, res[i].msg,
				    strerror(res[i].err));
			}
			if (res[i].took != 0) {
				takers++;
				assert_int_equal(res[i].took, stale);
			}
		}
		if (winner == -1)
			fail_msg("round %d: nobody runs", round);
		assert_true(takers <= (stale != 0 ? 1 : 0));
		assert_int_equal(name_holds(name), 1);
		close(hold[1]);
		for (int i = 0; i < RACERS; i++)
			tu_assert_exit(tu_waitpid(kid[i]), TU_EX_OK);
		close(done[0]);
		stale = leave ? kid[winner] : 0;
		assert_int_equal(name_holds(name), leave ? 2 : 0);
	}
	munmap(res, RACERS * sizeof(*res));
}

/* ---- /dev/shm too small ------------------------------------------------ */

#define TU_EX_SKIP 77

/*
 * In a mount namespace of its own, a child puts a tmpfs smaller than a big
 * segment on /dev/shm: creating the big one fails at once with ENOSPC and a
 * message saying how much could not be reserved, leaving nothing (the space
 * is all free again); a small one fits. Needs CAP_SYS_ADMIN (CI runs as
 * root); skipped where unshare or mount says EPERM.
 */
static void
test_create_no_room(void **state)
{
	struct dcf_config small, big;
	struct dcf_plan ps, pb;
	unsigned long long room;
	pid_t child;
	int st;
	(void)state;

	tu_config(&small);
	tu_config(&big);
	big.task_slots = 1u << 16;
	assert_int_equal(dcf_plan(&small, &ps), 0);
	assert_int_equal(dcf_plan(&big, &pb), 0);
	room = ((ps.size + 4095) & ~4095ULL) + 4 * 4096;
	assert_true(pb.size > 2 * room && pb.size > (1u << 20));
	child = tu_fork();
	if (child == 0) {
		char err[DCF_ERRLEN], name[40], opts[64], want[160];
		struct statvfs vfs;
		struct dcf_seg sg;
		pid_t took;

		if (unshare(CLONE_NEWNS) == -1)
			_exit(errno == EPERM ? TU_EX_SKIP : TU_EX_FAIL);
		TU_CHILD_CHECK(mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == 0,
		    "private mounts: %s", strerror(errno));
		snprintf(opts, sizeof(opts), "size=%llu,mode=1777", room);
		if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, opts) == -1)
			_exit(errno == EPERM ? TU_EX_SKIP : TU_EX_FAIL);
		tu_name(name, sizeof(name), "room");
		errno = 0;
		TU_CHILD_CHECK(dcf_seg_create(&sg, name, &big, &took, err, sizeof(err)) == -1,
		    "a %llu-byte segment created in a %llu-byte /dev/shm",
		    (unsigned long long)pb.size, room);
		TU_CHILD_CHECK(errno == ENOSPC, "errno %s: %s", strerror(errno), err);
		snprintf(want, sizeof(want),
		    "cannot reserve %.1f MiB in /dev/shm for segment /dcf-%s: %s; ",
		    (double)pb.size / (1 << 20), name, strerror(ENOSPC));
		TU_CHILD_CHECK(strncmp(err, want, strlen(want)) == 0, "message: %s", err);
		TU_CHILD_CHECK(strstr(err, "free space in /dev/shm") != NULL, "message: %s", err);
		TU_CHILD_CHECK(sg.fd == -1 && sg.base == NULL, "handle not cleared");
		TU_CHILD_CHECK(others_in_shm(NULL) == 0, "something left in /dev/shm");
		TU_CHILD_CHECK(statvfs("/dev/shm", &vfs) == 0 && vfs.f_bfree == vfs.f_blocks,
		    "%llu of %llu blocks still taken", (unsigned long long)vfs.f_bfree,
		    (unsigned long long)vfs.f_blocks);
		TU_CHILD_CHECK(dcf_seg_create(&sg, name, &small, &took, err, sizeof(err)) == 0,
		    "the small one: %s", err);
		TU_CHILD_CHECK(name_holds(name) == 1, "not published");
		dcf_seg_destroy(&sg);
		TU_CHILD_CHECK(others_in_shm(NULL) == 0, "something left in /dev/shm");
		_exit(TU_EX_OK);
	}
	st = tu_waitpid(child);
	if (WIFEXITED(st) && WEXITSTATUS(st) == TU_EX_SKIP) {
		print_message("no private mount namespace here (EPERM): skipped\n");
		skip();
	}
	tu_assert_exit(st, TU_EX_OK);
}

/* ---- objects planted under our name ----------------------------------- */

enum plant { PL_FIFO, PL_LINK, PL_DANGLING, PL_DIR, PL_FOREIGN, PL_N };

static const char *const plant_what[PL_N] = {"is a FIFO", "is a symbolic link",
    "is a symbolic link", "is a directory", "belongs to uid 4242"};
static const int plant_errno[PL_N] = {EPROTO, EPROTO, EPROTO, EPROTO, EACCES};

/* What a planted object is: enough to tell that nobody changed it. */
struct planted {
	struct stat st;
	char target[128];       /* a symbolic link's */
	unsigned char data[64]; /* a regular file's */
};

static void
planted_look(const char *path, struct planted *pl)
{
	memset(pl, 0, sizeof(*pl));
	assert_int_equal(lstat(path, &pl->st), 0);
	if (S_ISLNK(pl->st.st_mode))
		assert_true(readlink(path, pl->target, sizeof(pl->target) - 1) > 0);
	if (S_ISREG(pl->st.st_mode)) {
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_true(read(fd, pl->data, sizeof(pl->data)) >= 0);
		close(fd);
	}
}

static void
assert_unchanged(const char *path, const struct planted *was)
{
	struct planted now;

	planted_look(path, &now);
	assert_int_equal(now.st.st_dev, was->st.st_dev);
	assert_int_equal(now.st.st_ino, was->st.st_ino);
	assert_int_equal(now.st.st_mode, was->st.st_mode);
	assert_int_equal(now.st.st_uid, was->st.st_uid);
	assert_int_equal(now.st.st_nlink, was->st.st_nlink);
	assert_int_equal(now.st.st_size, was->st.st_size);
	assert_int_equal(now.st.st_mtim.tv_sec, was->st.st_mtim.tv_sec);
	assert_int_equal(now.st.st_mtim.tv_nsec, was->st.st_mtim.tv_nsec);
	assert_int_equal(now.st.st_ctim.tv_sec, was->st.st_ctim.tv_sec);
	assert_int_equal(now.st.st_ctim.tv_nsec, was->st.st_ctim.tv_nsec);
	assert_string_equal(now.target, was->target);
	assert_memory_equal(now.data, was->data, sizeof(now.data));
}

static void
plant(enum plant kind, const char *path, const char *target)
{
	int fd;

	switch (kind) {
	case PL_FIFO:
		assert_int_equal(mkfifo(path, 0600), 0);
		break;
	case PL_LINK:
		assert_int_equal(symlink(target, path), 0);
		break;
	case PL_DANGLING:
		assert_int_equal(symlink("/dev/shm/dcf-no-such-target", path), 0);
		break;
	case PL_DIR:
		assert_int_equal(mkdir(path, 0700), 0);
		break;
	default:
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "not yours, not a segment", 24), 24);
		assert_int_equal(fchown(fd, 4242, (gid_t)-1), 0);
		close(fd);
		break;
	}
}

/* unlink, or rmdir for a directory: what the planter does to clean up. */
static void
unplant(const char *path)
{
	if (unlink(path) == -1 && errno == EISDIR)
		rmdir(path);
}

/* Results of create, attach read-only and attach read-write. */
struct tries {
	int rc[3], err[3];
	char msg[3][DCF_ERRLEN];
};

/*
 * The three calls, in a child with an alarm: one that blocks (a FIFO opened
 * for reading) fails the test instead of hanging it. t is shared memory; the
 * messages start as garbage, so one that is not filled in shows.
 */
static void
try_all(const char *name, struct tries *t)
{
	pid_t child;
	int st;

	memset(t, 0xa5, sizeof(*t));
	child = tu_fork();
	if (child == 0) {
		struct dcf_config c;
		struct dcf_seg sg;
		pid_t took;

		alarm(tu_valgrind() ? 100 : 10);
		tu_config(&c);
		t->rc[0] = dcf_seg_create(&sg, name, &c, &took, t->msg[0], DCF_ERRLEN);
		t->err[0] = errno;
		for (int ro = 1; ro >= 0; ro--) {
			t->rc[2 - ro] = dcf_seg_attach(&sg, name, ro, t->msg[2 - ro], DCF_ERRLEN);
			t->err[2 - ro] = errno;
		}
		_exit(TU_EX_OK);
	}
	st = tu_waitpid(child);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
		fail_msg("'%s': a call blocked", name);
	tu_assert_exit(st, TU_EX_OK);
}

static void
assert_message(const char *msg, const char *path, const char *what)
{
	size_t n = strnlen(msg, DCF_ERRLEN);

	if (n == 0 || n == DCF_ERRLEN)
		fail_msg("no message (%zu bytes)", n);
	for (size_t i = 0; i < n; i++)
		if (!isprint((unsigned char)msg[i]))
			fail_msg("garbage at %zu in '%.*s'", i, (int)i, msg);
	if (strstr(msg, path) == NULL || strstr(msg, what) == NULL)
		fail_msg("message '%s' does not say '%s' of %s", msg, what, path);
}

/*
 * A FIFO, a symbolic link (to a live segment, and dangling), a directory and
 * another user's file (root only) under our name: create and both attaches
 * refuse at once with a one-line message naming what is there, and leave it
 * exactly as it was. The live segment a link points at stays untouched too.
 */
static void
test_planted(void **state)
{
	struct tries *t = tu_shared(sizeof(*t));
	struct dcf_config c;
	struct dcf_seg live;
	char target[64];
	(void)state;

	tu_config(&c);
	tu_seg_create(&live, "target", &c);
	snprintf(target, sizeof(target), "/dev/shm%s", live.shm_name);
	for (int kind = 0; kind < PL_N; kind++) {
		char name[40], path[64];
		struct planted was;

		if (kind == PL_FOREIGN && geteuid() != 0)
			continue; /* only root can give a file away */
		tu_name(name, sizeof(name), "plant");
		snprintf(path, sizeof(path), "/dev/shm/dcf-%s", name);
		plant((enum plant)kind, path, target);
		planted_look(path, &was);
		try_all(name, t);
		for (int i = 0; i < 3; i++) {
			if (t->rc[i] != -1 || t->err[i] != plant_errno[kind])
				fail_msg("%s, call %d: %d, %s", plant_what[kind], i, t->rc[i],
				    strerror(t->err[i]));
			assert_message(t->msg[i], path, plant_what[kind]);
		}
		assert_unchanged(path, &was);
		unplant(path);
	}
	assert_int_equal(name_holds(live.hdr->name), 1);
	assert_int_equal(live.hdr->cnt.next_id, 0);
	dcf_seg_destroy(&live);
	assert_int_equal(others_in_shm(NULL), 0);
	munmap(t, sizeof(*t));
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
	    cmocka_unit_test_setup_teardown(test_create_stopped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_killed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_race, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_no_room, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_planted, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
