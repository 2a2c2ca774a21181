/*
 * svcbench.c - the service section's helpers (run.py, section "service"):
 *
 *   svcbench fill STORE N STATE CMD [ARG...]
 *       make a service store holding N tasks of CMD ARG..., each queued or
 *       done, through the store's own interface (what a service that ran
 *       them would have left), in commits of 10,000
 *   svcbench put SOCKET N
 *       N puts ("true K") to beanstalkd on its Unix socket (waiting for it
 *       to listen), pipelined as dcf-submit --batch streams; every reply
 *       checked; the seconds from the first put to the last reply
 *   svcbench first SOCKET
 *       connect to a beanstalkd that is starting (tried again each ms until
 *       it listens), reserve one job: the moment its replay is usable
 *
 * Prints one JSON object on success; exits 1 with a line on stderr if
 * anything was not as it should be.
 */
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dcf/store.h"
#include "dcf/util.h"

#define FILL_BATCH 10000u

static int
fill(const char *path, uint64_t n, const char *state, int argc, char **argv)
{
	struct dcf_store_open_opts o = {.where = path,
	    .create = 1,
	    .mode = DCF_STORE_SERVICE,
	    .instance = "bench"};
	struct dcf_store *st;
	struct dcf_store_new *add = calloc(FILL_BATCH, sizeof(*add));
	struct dcf_store_upd *upd = calloc(FILL_BATCH, sizeof(*upd));
	int done = strcmp(state, "done") == 0;
	char err[512], *cmd;
	size_t len = 0;
	uint64_t t0 = dcf_now_ns(), now;

	if (!done && strcmp(state, "queued") != 0)
		errx(2, "fill: STATE is queued or done, not %s", state);
	if (add == NULL || upd == NULL)
		errx(1, "fill: out of memory");
	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((cmd = malloc(len)) == NULL)
		errx(1, "fill: out of memory");
	len = 0;
	for (int i = 0; i < argc; i++) {
		memcpy(cmd + len, argv[i], strlen(argv[i]) + 1);
		len += strlen(argv[i]) + 1;
	}
	if ((st = dcf_store_open(&o, err, sizeof(err))) == NULL)
		errx(1, "fill: %s", err);
	now = dcf_wall_ns();
	for (uint64_t id = 1; id <= n;) {
		struct dcf_store_batch b = {.add = add, .upd = upd};

		for (; b.nadd < FILL_BATCH && id <= n; id++) {
			struct dcf_store_task *t = &add[b.nadd++].t;

			memset(t, 0, sizeof(*t));
			t->id = id;
			t->retries = UINT32_MAX;
			t->submitted_ns = now;
			t->cmd = cmd;
			t->cmd_len = (uint32_t)len;
			if (done) {
				struct dcf_store_upd *u = &upd[b.nupd++];

				memset(u, 0, sizeof(*u));
				u->kind = DCF_SU_ENDED;
				u->t.id = id;
				u->t.state = DCF_SS_DONE;
				u->t.ended_ns = now;
			}
		}
		if (dcf_store_commit(st, &b, err, sizeof(err)) == -1)
			errx(1, "fill: %s", err);
	}
	dcf_store_close(st);
	printf("{\"tasks\": %llu, \"secs\": %.3f}\n", (unsigned long long)n,
	    (double)(dcf_now_ns() - t0) / 1e9);
	free(cmd);
	free(add);
	free(upd);
	return 0;
}

static int
bs_connect(const char *path, int patient)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	uint64_t deadline = dcf_now_ns() + 60ULL * 1000000000ULL;
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		errx(2, "%s: socket path too long", path);
	strcpy(a.sun_path, path);
	for (;;) {
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			err(1, "socket");
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		if (!patient || (errno != ENOENT && errno != ECONNREFUSED) ||
		    dcf_now_ns() > deadline)
			err(1, "connect %s", path);
		close(fd);
		/* A bench client waiting for a server to listen: no event tells it. */
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
}

/* N puts, written while the replies are read; each reply must be INSERTED. */
static int
put(const char *path, uint64_t n)
{
	int fd = bs_connect(path, 1);
	size_t cap = (size_t)n * 48 + 64, wlen = 0, woff = 0, rlen = 0;
	char *w = malloc(cap), r[65536];
	uint64_t replies = 0, t0;

	if (w == NULL)
		errx(1, "put: out of memory");
	for (uint64_t k = 1; k <= n; k++) {
		char body[32];
		int bl = snprintf(body, sizeof(body), "true %llu", (unsigned long long)k);

		wlen += (size_t)snprintf(w + wlen, cap - wlen, "put 0 0 60 %d\r\n%s\r\n", bl, body);
	}
	t0 = dcf_now_ns();
	while (replies < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN | (woff < wlen ? POLLOUT : 0)};

		if (poll(&p, 1, 60000) <= 0)
			errx(1, "put: no reply in 60 s (%llu of %llu)", (unsigned long long)replies,
			    (unsigned long long)n);
		if ((p.revents & POLLOUT) && woff < wlen) {
			ssize_t k = send(fd, w + woff, wlen - woff, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (k > 0)
				woff += (size_t)k;
			else if (k == -1 && errno != EAGAIN)
				err(1, "put: send");
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t k = recv(fd, r + rlen, sizeof(r) - rlen, MSG_DONTWAIT);
			char *line = r, *nl;

			if (k == 0)
				errx(1, "put: beanstalkd closed the connection");
			if (k < 0) {
				if (errno == EAGAIN)
					continue;
				err(1, "put: recv");
			}
			rlen += (size_t)k;
			while ((nl = memchr(line, '\n', rlen - (size_t)(line - r))) != NULL) {
				if (strncmp(line, "INSERTED ", 9) != 0)
					errx(1, "put: reply %.*s", (int)(nl - line), line);
				replies++;
				line = nl + 1;
			}
			rlen -= (size_t)(line - r);
			memmove(r, line, rlen);
		}
	}
	printf("{\"tasks\": %llu, \"secs\": %.6f}\n", (unsigned long long)n,
	    (double)(dcf_now_ns() - t0) / 1e9);
	close(fd);
	free(w);
	return 0;
}

static int
first(const char *path)
{
	int fd = bs_connect(path, 1);
	static const char req[] = "reserve-with-timeout 30\r\n";
	char r[256];
	ssize_t k;

	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
		err(1, "first: write");
	if ((k = read(fd, r, sizeof(r) - 1)) <= 0)
		errx(1, "first: no reply");
	r[k] = '\0';
	if (strncmp(r, "RESERVED ", 9) != 0)
		errx(1, "first: reply %s", r);
	printf("{\"reserved\": 1}\n");
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	uint64_t n;

	if (argc >= 6 && strcmp(argv[1], "fill") == 0 &&
	    dcf_parse_u64(argv[3], 1, UINT32_MAX, &n) == 0)
		return fill(argv[2], n, argv[4], argc - 5, argv + 5);
	if (argc == 4 && strcmp(argv[1], "put") == 0 &&
	    dcf_parse_u64(argv[3], 1, UINT32_MAX, &n) == 0)
		return put(argv[2], n);
	if (argc == 3 && strcmp(argv[1], "first") == 0)
		return first(argv[2]);
	errx(2,
	    "usage: svcbench fill STORE N queued|done CMD [ARG...] | put SOCKET N | "
	    "first SOCKET");
}
