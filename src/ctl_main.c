/*
 * dcf-ctl: control a running dcf-supervisor --serve through its socket
 * (proto.h, CTL), with the same credential check as dcf-submit's. One
 * request a run; what the supervisor did is printed as it says it.
 *
 * Exit status: 0 done; 1 a runtime error (no supervisor, the connection
 * lost); 2 usage, or a request the supervisor refused as impossible (no
 * such network): either way nothing was changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "ctl.h"
#include "dcf/proto.h"

int
main(int argc, char **argv)
{
	struct ctl_opts o;
	struct client *c;
	struct dcf_msg m = {.type = DCF_MSG_CTL, .tag = 1};
	int r;

	client_prog = "dcf-ctl";
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) == -1)
			return 1;
	r = ctl_parse_options(argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : 2;
	if ((c = malloc(sizeof(*c))) == NULL)
		client_die("out of memory");
	client_connect(c, o.name,
	    "it may or may not have done it: its log says (every command can be asked again)");
	m.u.ctl.op = o.op;
	m.u.ctl.net = o.net;
	m.u.ctl.id = o.id;
	m.u.ctl.value = o.value;
	client_put(c, &m);
	client_flush(c, 1);
	client_next(c, &m);
	if (m.type == DCF_MSG_ERROR) {
		fprintf(stderr, "%s: %s: %.*s\n", client_prog, o.command, (int)m.u.error.text_len,
		    m.u.error.text);
		r = m.u.error.code == DCF_PE_BADCTL ? 2 : 1;
	} else if (m.type == DCF_MSG_OK) {
		printf("%.*s\n", (int)m.u.error.text_len, m.u.error.text);
		r = fflush(stdout) == EOF ? 1 : 0;
	} else {
		client_die("an answer that is not one to a control request");
	}
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
	return r;
}
