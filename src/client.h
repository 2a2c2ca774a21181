/*
 * client.h - the client's side of a serving dcf-supervisor's socket
 * (proto.h): connect by instance name, queue requests, send them, read the
 * replies as they come. dcf-submit and dcf-ctl share it.
 *
 * Every failure is final for a command-line client: client_die says it in
 * one line, prefixed with client_prog, and exits 1.
 */
#ifndef DCF_CLIENT_H
#define DCF_CLIENT_H

#include <stddef.h>

#include "dcf/proto.h"

extern const char *client_prog;

struct client {
	int fd;
	unsigned char *in, *out;
	size_t in_len, out_len, out_cap;
	size_t used;        /* of in, by the reply last returned */
	const char *closed; /* what to say if the supervisor closes first */
	unsigned char frame[DCF_PROTO_MAX];
};

void client_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/*
 * Connect to instance name's socket (svc.h). closed: what the reader is
 * told when the supervisor closes the connection before its answers.
 */
void client_connect(struct client *c, const char *name, const char *closed);
/* Queue one request. */
void client_put(struct client *c, const struct dcf_msg *m);
/* Write what is queued: all of it (blocking) when want_all, else what goes now. */
void client_flush(struct client *c, int want_all);
/* The next reply, blocking (queued requests go meanwhile); its pointers are c's until the next. */
void client_next(struct client *c, struct dcf_msg *m);

#endif
