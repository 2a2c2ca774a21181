/* pg.c - a private PostgreSQL server for the tests (pg.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg.h"

#define READY_MS 60000

static int
fail(char *err, size_t errlen, const char *what, int e)
{
	snprintf(err, errlen, "%s: %s", what, strerror(e));
	errno = e;
	return -1;
}

/* The newest /usr/lib/postgresql/N/bin with a postgres in it, or DCF_PG_BIN. */
static int
find_bin(struct tpg *p, char *err, size_t errlen)
{
	const char *env = getenv("DCF_PG_BIN");
	DIR *d;
	struct dirent *e;
	long best = -1;
	char path[300];

	if (env != NULL && env[0] != '\0') {
		snprintf(p->bin, sizeof(p->bin), "%s", env);
		return 0;
	}
	if ((d = opendir("/usr/lib/postgresql")) == NULL)
		return fail(err, errlen, "/usr/lib/postgresql (is PostgreSQL installed?)", errno);
	while ((e = readdir(d)) != NULL) {
		long v = strtol(e->d_name, NULL, 10);

		snprintf(path, sizeof(path), "/usr/lib/postgresql/%.64s/bin/postgres", e->d_name);
		if (v > best && access(path, X_OK) == 0) {
			best = v;
			snprintf(p->bin, sizeof(p->bin), "/usr/lib/postgresql/%.64s/bin",
			    e->d_name);
		}
	}
	closedir(d);
	if (best < 0)
		return fail(err, errlen, "no /usr/lib/postgresql/N/bin/postgres", ENOENT);
	return 0;
}

/* In a child: become the server's user, standard output and error to the log. */
static void
child_setup(const struct tpg *p, int death_sig)
{
	int fd;

	if (geteuid() == 0 &&
	    (setgroups(0, NULL) != 0 || setgid(p->gid) != 0 || setuid(p->uid) != 0))
		_exit(126);
	if (death_sig != 0 && prctl(PR_SET_PDEATHSIG, death_sig) != 0)
		_exit(126);
	if ((fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) == -1)
		_exit(126);
	if (dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
		_exit(126);
	fd = open("/dev/null", O_RDONLY);
	if (fd == -1 || dup2(fd, 0) == -1)
		_exit(126);
	setenv("LC_ALL", "C", 1);
	unsetenv("PGDATA");
}

/* The log's last line, for a message. */
static void
log_tail(const struct tpg *p, char *buf, size_t len)
{
	char all[8192];
	ssize_t n = 0;
	int fd = open(p->log, O_RDONLY | O_CLOEXEC);
	char *nl;

	buf[0] = '\0';
	if (fd == -1)
		return;
	if (lseek(fd, 0, SEEK_END) > (off_t)sizeof(all) - 1)
		(void)lseek(fd, -(off_t)sizeof(all) + 1, SEEK_END);
	else
		(void)lseek(fd, 0, SEEK_SET);
	n = read(fd, all, sizeof(all) - 1);
	close(fd);
	if (n <= 0)
		return;
	all[n] = '\0';
	while (n > 0 && all[n - 1] == '\n')
		all[--n] = '\0';
	nl = strrchr(all, '\n');
	snprintf(buf, len, "%.200s", nl != NULL ? nl + 1 : all);
}

static int
initdb(struct tpg *p, char *err, size_t errlen)
{
	char data[128], exe[300], tail[256];
	pid_t pid;
	int st;

	snprintf(data, sizeof(data), "%s/data", p->dir);
	snprintf(exe, sizeof(exe), "%s/initdb", p->bin);
	if ((pid = fork()) == -1)
		return fail(err, errlen, "fork", errno);
	if (pid == 0) {
		child_setup(p, SIGKILL);
		execl(exe, "initdb", "-D", data, "-U", "dcf", "-A", "trust", "-E", "UTF8",
		    "--no-sync", "--no-instructions", (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return fail(err, errlen, "waitpid", errno);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		log_tail(p, tail, sizeof(tail));
		snprintf(err, errlen, "%s failed (status %d): %s", exe, st, tail);
		errno = EIO;
		return -1;
	}
	return 0;
}

/* postmaster.pid says "ready" (its status line, rewritten in place). */
static int
says_ready(const struct tpg *p)
{
	char path[128], buf[1024];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/data/postmaster.pid", p->dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, "\nready") != NULL;
}

/*
 * Start the postmaster and wait for its "ready": each rewrite of
 * postmaster.pid is an inotify event; its death closes the last write end
 * of a pipe it inherited (a pidfd would do, but valgrind knows none).
 */
static int
postmaster(struct tpg *p, char *err, size_t errlen)
{
	char data[128], exe[300], tail[256];
	struct pollfd pf[2];
	int in, life[2], st, r = -1;
	pid_t pid;

	snprintf(data, sizeof(data), "%s/data", p->dir);
	snprintf(exe, sizeof(exe), "%s/postgres", p->bin);
	if ((in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) == -1)
		return fail(err, errlen, "inotify_init1", errno);
	if (inotify_add_watch(in, data, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) == -1) {
		close(in);
		return fail(err, errlen, data, errno);
	}
	if (pipe2(life, O_CLOEXEC) == -1) {
		close(in);
		return fail(err, errlen, "pipe2", errno);
	}
	if ((pid = fork()) == -1) {
		close(in);
		close(life[0]);
		close(life[1]);
		return fail(err, errlen, "fork", errno);
	}
	if (pid == 0) {
		/* Our death is its immediate shutdown: nothing outlives the test. */
		child_setup(p, SIGQUIT);
		if (fcntl(life[1], F_SETFD, 0) == -1)
			_exit(126);
		execl(exe, "postgres", "-D", data, "-k", p->dir, "-c", "listen_addresses=", "-c",
		    "fsync=off", "-c", "dynamic_shared_memory_type=mmap", "-c",
		    "max_connections=40", "-c", "shared_buffers=16MB", "-c",
		    "logging_collector=off", (char *)NULL);
		_exit(127);
	}
	p->pid = pid;
	close(life[1]);
	pf[0].fd = in;
	pf[0].events = POLLIN;
	pf[1].fd = life[0];
	pf[1].events = POLLIN;
	for (;;) {
		char ev[4096];
		int n;

		if (says_ready(p)) {
			r = 0;
			break;
		}
		if ((n = poll(pf, 2, READY_MS)) == -1 && errno != EINTR) {
			fail(err, errlen, "poll", errno);
			break;
		}
		if (n == 0) {
			snprintf(err, errlen, "PostgreSQL not ready in %d s (see %s)",
			    READY_MS / 1000, p->log);
			break;
		}
		if (pf[1].revents & (POLLIN | POLLHUP)) {
			if (says_ready(p)) {
				r = 0;
				break;
			}
			(void)waitpid(pid, &st, 0);
			p->pid = 0;
			log_tail(p, tail, sizeof(tail));
			snprintf(err, errlen, "PostgreSQL exited at its start: %s", tail);
			break;
		}
		while (read(in, ev, sizeof(ev)) > 0)
			;
	}
	close(life[0]);
	close(in);
	if (r == -1 && p->pid > 0) {
		kill(p->pid, SIGQUIT);
		(void)waitpid(p->pid, &st, 0);
		p->pid = 0;
	}
	return r;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		(void)rmdir(path);
	else
		(void)unlink(path);
	return 0;
}

static void
rm_tree(const char *dir)
{
	(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
tpg_start(struct tpg *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (find_bin(p, err, errlen) == -1)
		return -1;
	snprintf(p->dir, sizeof(p->dir), "/tmp/dcf-pg-XXXXXX");
	if (mkdtemp(p->dir) == NULL)
		return fail(err, errlen, "mkdtemp", errno);
	snprintf(p->log, sizeof(p->log), "%s/log", p->dir);
	p->uid = geteuid();
	p->gid = getegid();
	if (p->uid == 0) {
		const struct passwd *pw = getpwnam("nobody");

		p->uid = pw != NULL ? pw->pw_uid : 65534;
		p->gid = pw != NULL ? pw->pw_gid : 65534;
		if (chown(p->dir, p->uid, p->gid) == -1) {
			fail(err, errlen, p->dir, errno);
			goto undo;
		}
	}
	if (initdb(p, err, errlen) == 0 && postmaster(p, err, errlen) == 0)
		return 0;
undo:
	rm_tree(p->dir);
	p->dir[0] = '\0';
	return -1;
}

int
tpg_restart(struct tpg *p, char *err, size_t errlen)
{
	return postmaster(p, err, errlen);
}

void
tpg_kill(struct tpg *p)
{
	int st;

	if (p->pid <= 0)
		return;
	/* An immediate shutdown: no checkpoint, crash recovery at the next start. */
	kill(p->pid, SIGQUIT);
	while (waitpid(p->pid, &st, 0) == -1 && errno == EINTR)
		;
	p->pid = 0;
}

void
tpg_stop(struct tpg *p)
{
	int st;

	if (p->pid > 0) {
		kill(p->pid, SIGINT); /* a fast shutdown: the clients cut off */
		while (waitpid(p->pid, &st, 0) == -1 && errno == EINTR)
			;
		p->pid = 0;
	}
	if (p->dir[0] != '\0')
		rm_tree(p->dir);
	p->dir[0] = '\0';
}

void
tpg_url(const struct tpg *p, const char *schema, char *url, size_t len)
{
	if (schema != NULL)
		snprintf(url, len, "postgresql://dcf@/postgres?host=%s&options=-csearch_path%%3D%s",
		    p->dir, schema);
	else
		snprintf(url, len, "postgresql://dcf@/postgres?host=%s", p->dir);
}

int
tpg_exec(const struct tpg *p, const char *schema, const char *sql, char *err, size_t errlen)
{
	char url[256];
	PGconn *c;
	PGresult *r;
	int ok;

	tpg_url(p, schema, url, sizeof(url));
	c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errlen, "connecting to %s: %s", url, PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		snprintf(err, errlen, "%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

int
tpg_number(const char *url, const char *sql, int64_t *v, char *err, size_t errlen)
{
	PGconn *c = PQconnectdb(url);
	PGresult *r;
	int ok;

	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errlen, "connecting: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	if (ok)
		*v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else
		snprintf(err, errlen, "%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

int
tpg_schema(struct tpg *p, char *url, size_t len, char *err, size_t errlen)
{
	char name[32], sql[64];

	snprintf(name, sizeof(name), "s%u", ++p->seq);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", name);
	if (tpg_exec(p, NULL, sql, err, errlen) == -1)
		return -1;
	tpg_url(p, name, url, len);
	return 0;
}

struct tpg tpg_group;

int
tpg_group_up(void **state)
{
	char err[512];

	(void)state;
	if (tpg_start(&tpg_group, err, sizeof(err)) == -1) {
		fprintf(stderr, "starting PostgreSQL: %s\n", err);
		return -1;
	}
	return 0;
}

int
tpg_group_down(void **state)
{
	(void)state;
	tpg_stop(&tpg_group);
	return 0;
}
