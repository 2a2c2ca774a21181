/* launch.c - start, watch read-only, stop and reap a supervisor under test. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dcf/util.h"
#include "launch.h"

void
bl_init(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	prctl(PR_SET_TIMERSLACK, 1000UL);
}

void
bl_nap(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / DCF_NSEC), (long)(ns % DCF_NSEC)};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
bl_start(struct bl_sup *s, const char *bin, const char *tag, const char *const *args,
    const char *logpath)
{
	static int seq;
	const char *argv[64];
	int n = 0;

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "bench-%d-%s%d", (int)getpid(), tag, seq++);
	argv[n++] = bin;
	argv[n++] = "--name";
	argv[n++] = s->name;
	for (int i = 0; args[i] != NULL && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	s->t_start_ns = dcf_now_ns();
	s->pid = fork();
	if (s->pid == -1)
		return -1;
	if (s->pid == 0) {
		int out = open("/dev/null", O_WRONLY);
		int log = logpath ? open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644) : out;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out, 1);
		dup2(log == -1 ? out : log, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return 0;
}

int
bl_attach(struct bl_sup *s, unsigned timeout_ms)
{
	uint64_t end = dcf_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	char err[DCF_ERRLEN];

	while (dcf_seg_attach(&s->sg, s->name, 1, err, sizeof(err)) == -1) {
		if (dcf_now_ns() > end || waitpid(s->pid, &s->status, WNOHANG) == s->pid) {
			fprintf(stderr, "dcfbench: attach %s: %s\n", s->name, err);
			return -1;
		}
		bl_nap(100000);
	}
	s->attached = 1;
	return 0;
}

/* Copy len bytes at src between two equal, even reads of hdr->seq (tx.h). */
static void
seq_copy(const struct bl_sup *s, void *dst, const void *src, size_t len)
{
	const struct dcf_hdr *h = s->sg.hdr;

	for (int tries = 0; tries < 100000; tries++) {
		uint64_t a = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE), b;

		if (a & 1)
			continue;
		memcpy(dst, src, len);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		b = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);
		if (a == b)
			return;
	}
	memcpy(dst, src, len); /* a dead holder left it odd: take what is there */
}

void
bl_node(const struct bl_sup *s, uint32_t n, struct dcf_node *out)
{
	seq_copy(s, out, &s->sg.nodes[n], sizeof(*out));
}

void
bl_task(const struct bl_sup *s, uint32_t slot, struct dcf_task *out)
{
	seq_copy(s, out, &s->sg.tasks[slot], sizeof(*out));
}

uint64_t
bl_counter(const struct bl_sup *s, const uint64_t *field)
{
	(void)s;
	return __atomic_load_n(field, __ATOMIC_RELAXED);
}

uint32_t
bl_ready(const struct bl_sup *s)
{
	const struct dcf_config *c = &s->sg.hdr->cfg;
	uint32_t k = 0;

	for (uint32_t n = 0; n < c->nets * c->nodes_per_net; n++) {
		uint32_t st = __atomic_load_n(&s->sg.nodes[n].state, __ATOMIC_RELAXED);

		k += st == DCF_NODE_IDLE || st == DCF_NODE_BUSY;
	}
	return k;
}

int
bl_is_worker(const struct bl_sup *s, pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int ppid = -1;
	size_t len;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	p = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
	if (p == NULL || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return 0;
	return ppid == s->pid;
}

static void
reap_orphans(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int
bl_wait(struct bl_sup *s, unsigned ms)
{
	uint64_t end = dcf_now_ns() + (uint64_t)ms * 1000000ULL;

	while (s->pid > 0) {
		pid_t r = waitpid(s->pid, &s->status, WNOHANG);

		if (r == s->pid) {
			s->pid = 0;
			break;
		}
		if (r == -1 && errno != EINTR)
			return -1;
		if (dcf_now_ns() > end)
			return -1;
		bl_nap(1000000);
	}
	reap_orphans();
	return 0;
}

int
bl_stop(struct bl_sup *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM); /* our unreaped child: the PID is still ours */
		if (bl_wait(s, 10000) == -1 && s->pid > 0) {
			kill(s->pid, SIGKILL);
			while (waitpid(s->pid, &s->status, 0) == -1 && errno == EINTR)
				;
			s->pid = 0;
		}
	}
	/* Workers die with the supervisor (PDEATHSIG) and are handed to us. */
	for (int i = 0; i < 1000; i++) {
		pid_t r = waitpid(-1, NULL, WNOHANG);

		if (r == -1 && errno == ECHILD)
			break;
		if (r == 0)
			bl_nap(1000000);
	}
	if (s->attached)
		dcf_seg_detach(&s->sg);
	s->attached = 0;
	return 0;
}
