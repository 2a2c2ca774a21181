/*
 * pg.h - a private PostgreSQL server for the tests: initdb on a temporary
 * directory, the postmaster our child, listening on a Unix socket in that
 * directory only (no port), trust authentication, stopped by its pid and
 * the directory removed at the end. As root (CI), the server runs as the
 * unprivileged user nobody, since PostgreSQL refuses root.
 *
 * The binaries are Debian's (/usr/lib/postgresql/N/bin, the newest N);
 * DCF_PG_BIN names another directory.
 */
#ifndef DCF_TEST_PG_H
#define DCF_TEST_PG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tpg {
	char dir[64];  /* the cluster's directory, the socket's too */
	char bin[256]; /* where initdb and postgres are */
	char log[128]; /* the server's standard error */
	pid_t pid;     /* the postmaster, 0 when stopped */
	uid_t uid;     /* whom it runs as */
	gid_t gid;
	unsigned seq; /* schemas handed out (tpg_schema) */
};

/* Make and start a cluster: 0, or -1 with a message in err (nothing left behind). */
int tpg_start(struct tpg *p, char *err, size_t errlen);
/* Start the postmaster again on the same directory (after tpg_kill): 0 or -1. */
int tpg_restart(struct tpg *p, char *err, size_t errlen);
/* SIGKILL the postmaster and wait for it (its backends end on their own). */
void tpg_kill(struct tpg *p);
/* A fast shutdown by its pid, waited for, and the directory removed. */
void tpg_stop(struct tpg *p);
/* A new empty schema, and the URL of a store in it: 0, or -1 with err. */
int tpg_schema(struct tpg *p, char *url, size_t len, char *err, size_t errlen);
/* Run one SQL command as the superuser (schema NULL: the default): 0, or -1 with err. */
int tpg_exec(const struct tpg *p, const char *schema, const char *sql, char *err, size_t errlen);
/* The URL of the database with search_path schema (NULL: none given). */
void tpg_url(const struct tpg *p, const char *schema, char *url, size_t len);
/* One number (its one row's first column) from a query on url: 0, or -1 with err. */
int tpg_number(const char *url, const char *sql, int64_t *v, char *err, size_t errlen);

/*
 * A suite's server: tpg_group_up starts it (a cmocka group setup: 0, or -1
 * saying why on standard error), tpg_group_down stops it.
 */
extern struct tpg tpg_group;
int tpg_group_up(void **state);
int tpg_group_down(void **state);

#ifdef fail_msg
/* A suite's (cmocka): the number, or the test fails saying why. */
static inline int64_t
tpg_number_of(const char *url, const char *sql)
{
	char err[512];
	int64_t v = 0;

	if (tpg_number(url, sql, &v, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	return v;
}
#endif

#endif
