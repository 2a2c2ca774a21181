/* proc.c - read /proc/PID/{schedstat,stat,status,smaps_rollup}. */
#include <stdio.h>
#include <string.h>

#include "proc.h"

static FILE *
open_proc(pid_t pid, const char *what)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	return fopen(path, "r");
}

int
bp_cpu(pid_t pid, struct bp_cpu *c)
{
	char buf[1024], *p;
	unsigned long long ut = 0, st = 0, v;
	FILE *f;
	size_t len;

	memset(c, 0, sizeof(*c));
	if ((f = open_proc(pid, "schedstat")) == NULL)
		return -1;
	if (fscanf(f, "%llu", &v) == 1)
		c->run_ns = v;
	fclose(f);
	if ((f = open_proc(pid, "stat")) == NULL)
		return -1;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	p = strrchr(buf, ')');
	/* After the command: state(3) ... utime(14) stime(15). */
	if (p == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	c->ticks = ut + st;
	if ((f = open_proc(pid, "status")) == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		if (sscanf(buf, "voluntary_ctxt_switches: %llu", &v) == 1)
			c->vcsw = v;
		else if (sscanf(buf, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
			c->nvcsw = v;
	}
	fclose(f);
	return 0;
}

int
bp_mem(pid_t pid, struct bp_mem *m)
{
	char buf[256];
	unsigned long long v;
	FILE *f;

	memset(m, 0, sizeof(*m));
	if ((f = open_proc(pid, "smaps_rollup")) == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		if (sscanf(buf, "Rss: %llu", &v) == 1)
			m->rss_kib = v;
		else if (sscanf(buf, "Pss: %llu", &v) == 1)
			m->pss_kib = v;
		else if (sscanf(buf, "Pss_Anon: %llu", &v) == 1)
			m->pss_anon_kib = v;
		else if (sscanf(buf, "Pss_Shmem: %llu", &v) == 1)
			m->pss_shmem_kib = v;
	}
	fclose(f);
	return m->rss_kib ? 0 : -1;
}
