/* client.c - the client's side of a service's socket (client.h). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "dcf/proto.h"
#include "dcf/svc.h"

const char *client_prog = "dcf";

void
client_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", client_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void
client_connect(struct client *c, const char *name, const char *closed)
{
	struct sockaddr_un sa;
	char sock[sizeof(sa.sun_path)], err[256];
	int own = svc_paths(name, sock, sizeof(sock), NULL, 0, err, sizeof(err)), r = -1;

	/* Not root, and no service of ours by that name: root's, if it lets us in (--allow-user). */
	if (own == -1 && geteuid() == 0)
		client_die("%s", err);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		client_die("socket: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (own == 0) {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
		r = connect(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (r == -1 && (own == -1 || errno == ENOENT) && geteuid() != 0 &&
	    snprintf(sa.sun_path, sizeof(sa.sun_path), "/run/dcf/%s.sock", name) > 0 &&
	    access(sa.sun_path, F_OK) == 0) {
		snprintf(sock, sizeof(sock), "%s", sa.sun_path);
		r = connect(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	} else if (own == -1) {
		client_die("%s", err);
	}
	if (r == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			client_die("no supervisor serves '%s' (%s): start one with dcf-supervisor "
			           "--serve "
			           "--name %s",
			    name, sock, name);
		client_die("%s: %s", sock, strerror(errno));
	}
	/* Field by field, not memset: the frame buffer is touched only as far as a
	 * frame goes (256 KiB of page faults were a tenth of a submission's time). */
	c->closed = closed;
	c->in_len = c->out_len = c->out_cap = c->used = 0;
	c->out = NULL;
	c->in = malloc(DCF_PROTO_MAX);
	if (c->in == NULL)
		client_die("out of memory");
}

void
client_put(struct client *c, const struct dcf_msg *m)
{
	size_t n = dcf_proto_build(c->frame, sizeof(c->frame), m);

	if (n == 0)
		client_die("a request too long to send (at most %u bytes)", DCF_PROTO_MAX);
	if (c->out_cap - c->out_len < n) {
		size_t cap = c->out_cap ? c->out_cap : 65536;

		while (cap - c->out_len < n)
			cap *= 2;
		if ((c->out = realloc(c->out, cap)) == NULL)
			client_die("out of memory");
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, c->frame, n);
	c->out_len += n;
}

void
client_flush(struct client *c, int want_all)
{
	size_t off = 0;

	if (c->out == NULL)
		return;
	while (off < c->out_len) {
		ssize_t n = send(c->fd, c->out + off, c->out_len - off,
		    MSG_NOSIGNAL | (want_all ? 0 : MSG_DONTWAIT));

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN && !want_all)
			break;
		client_die("the supervisor has gone: %s", strerror(errno));
	}
	if (off > 0) {
		memmove(c->out, c->out + off, c->out_len - off);
		c->out_len -= off;
	}
}

void
client_next(struct client *c, struct dcf_msg *m)
{
	if (c->used > 0) {
		memmove(c->in, c->in + c->used, c->in_len - c->used);
		c->in_len -= c->used;
		c->used = 0;
	}
	for (;;) {
		uint32_t code;
		char err[256];
		int r = dcf_proto_parse(c->in, c->in_len, DCF_PROTO_MAX, m, &c->used, &code, err,
		    sizeof(err));
		ssize_t n;

		if (r == 1)
			return;
		if (r == -1)
			client_die("a reply that is not dcf's protocol: %s", err);
		/* Requests still to send go as the socket takes them, while replies come. */
		while (c->out_len > 0) {
			struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLOUT};

			if (poll(&p, 1, -1) == -1 && errno != EINTR)
				client_die("poll: %s", strerror(errno));
			if (p.revents & POLLOUT)
				client_flush(c, 0);
			if (p.revents & (POLLIN | POLLHUP | POLLERR))
				break;
		}
		n = recv(c->fd, c->in + c->in_len, DCF_PROTO_MAX - c->in_len, 0);
		if (n > 0)
			c->in_len += (size_t)n;
		else if (n == 0)
			client_die("the supervisor closed the connection (stopped?): %s",
			    c->closed);
		else if (errno != EINTR)
			client_die("reading from the supervisor: %s", strerror(errno));
	}
}
