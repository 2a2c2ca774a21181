/*
 * dcf-submit: give tasks to a dcf-supervisor --serve over its socket
 * (proto.h), print each task's id once the supervisor says it is on disk,
 * and with --wait, wait for the end and exit with the task's status.
 *
 * Exit status: 0; 1 a runtime error (no supervisor, a refusal); 2 usage;
 * with --wait, the task's: its exit status, 128+N if signal N ended it,
 * 124 if it timed out, 126 or 127 if it could not be run, 125 if it was
 * quarantined, 1 if it never ran (cancelled; dependency failed) (with
 * --batch --wait: 0 if every task succeeded, else 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dcf/cmd.h"
#include "dcf/layout.h"
#include "dcf/proto.h"
#include "dcf/store.h"
#include "dcf/supervisor.h"
#include "dcf/svc.h"
#include "dcf/util.h"
#include "client.h"
#include "submit.h"

#define WINDOW 4096 /* submissions in flight */

static void
refused(const struct dcf_msg *m)
{
	client_die("refused: %.*s", (int)m->u.error.text_len, m->u.error.text);
}

/* A task's end as an exit status (the header's table). */
static int
status_of(const struct dcf_msg *m)
{
	switch (m->u.result.state) {
	case DCF_SS_DONE:
		return 0;
	case DCF_SS_QUARANTINED:
		return 125;
	default:
		break;
	}
	switch (m->u.result.how) {
	case DCF_HOW_EXIT:
		return m->u.result.exit_code != 0 ? m->u.result.exit_code & 0xff : 1;
	case DCF_HOW_SIGNAL:
		return 128 + (int)m->u.result.term_sig;
	case DCF_HOW_TIMEOUT:
		return 124;
	case DCF_HOW_NOEXEC:
		return m->u.result.exit_code == 127 ? 127 : 126;
	default:
		return 1;
	}
}

static void
submit_msg(struct dcf_msg *m, const struct submit_opts *o, uint32_t tag, const char *key,
    const char *cwd, const char *cmd, uint32_t cmd_len)
{
	memset(m, 0, sizeof(*m));
	m->type = DCF_MSG_SUBMIT;
	m->tag = tag;
	m->u.submit.timeout_ms = o->timeout_ms;
	m->u.submit.retries = o->retries;
	m->u.submit.prio = o->prio;
	m->u.submit.net = o->net;
	m->u.submit.not_before = o->at_ns > 0 ? o->at_ns
	    : o->delay_ms > 0                 ? dcf_wall_ns() + o->delay_ms * 1000000ULL
	                                      : 0;
	m->u.submit.key = key;
	m->u.submit.key_len = key != NULL ? (uint32_t)strlen(key) : 0;
	m->u.submit.cwd = cwd;
	m->u.submit.cwd_len = (uint32_t)strlen(cwd);
	m->u.submit.cmd = cmd;
	m->u.submit.cmd_len = cmd_len;
	m->u.submit.ndeps = o->ndeps;
	m->u.submit.dep_ids = o->ndeps > 0 ? o->deps : NULL;
	m->u.submit.flags = o->after_any ? DCF_SUBMIT_AFTER_ANY : 0;
	m->u.submit.host = o->host;
	m->u.submit.host_len = o->host != NULL ? (uint32_t)strlen(o->host) : 0;
}

static int
wait_for(struct client *c, uint64_t id, uint32_t tag)
{
	struct dcf_msg m = {.type = DCF_MSG_WAIT, .tag = tag};

	m.u.wait.id = id;
	client_put(c, &m);
	client_flush(c, 1);
	client_next(c, &m);
	if (m.type == DCF_MSG_ERROR)
		refused(&m);
	if (m.type != DCF_MSG_RESULT || m.u.result.id != id)
		client_die("an answer that is not the result of task %" PRIu64, id);
	if (m.u.result.state == DCF_SS_CANCELLED)
		fprintf(stderr,
		    "%s: task %" PRIu64 " was cancelled (dcf-ctl cancel): it never ran\n",
		    client_prog, id);
	if (m.u.result.state == DCF_SS_DEP_FAILED)
		fprintf(stderr,
		    "%s: task %" PRIu64 " did not run: a task it runs after did not succeed "
		    "(dcf-status --task %" PRIu64 " says which)\n",
		    client_prog, id, id);
	return status_of(&m);
}

static int
one(struct client *c, const struct submit_opts *o, const char *cwd)
{
	static char cmd[DCF_PROTO_MAX];
	struct dcf_msg m;
	size_t n = 0;

	for (int i = 0; i < o->cmd_argc; i++) {
		size_t l = strlen(o->cmd_argv[i]) + 1;

		if (n + l > sizeof(cmd))
			client_die("the command is longer than %zu bytes", sizeof(cmd));
		memcpy(cmd + n, o->cmd_argv[i], l);
		n += l;
	}
	submit_msg(&m, o, 1, o->key, cwd, cmd, (uint32_t)n);
	client_put(c, &m);
	client_flush(c, 1);
	client_next(c, &m);
	if (m.type == DCF_MSG_ERROR)
		refused(&m);
	if (m.type != DCF_MSG_ACK)
		client_die("an answer that is not an acknowledgement");
	printf("%" PRIu64 "\n", m.u.ack.id);
	if (!o->wait)
		return 0;
	fflush(stdout);
	return wait_for(c, m.u.ack.id, 2);
}

/*
 * --batch: a task per input line, WINDOW in flight; the ids printed in the
 * input's order, each once the supervisor has it on disk.
 */
static int
batch(struct client *c, const struct submit_opts *o, const char *cwd)
{
	static char cmd[DCF_PROTO_MAX], key[DCF_KEY_MAX + 1];
	struct dcf_cmd_tmpl tmpl;
	struct dcf_lines lines;
	char err[256], bad[256] = "";
	uint64_t sent = 0, acked = 0, lineno = 0, *ids = NULL;
	size_t nids = 0, cap = 0;
	int eof = 0, rc = 0;

	if (dcf_cmd_tmpl_init(&tmpl, o->cmd_argv, o->cmd_argc, o->commands, err, sizeof(err)) == -1)
		client_die("%s", err);
	if (dcf_lines_init(&lines, 0, 131072, o->null_sep ? '\0' : '\n') == -1)
		client_die("out of memory");
	while (!eof || acked < sent) {
		struct dcf_msg m;

		while (!eof && sent - acked < WINDOW) {
			const char *line;
			size_t len;
			ssize_t need;
			int r = dcf_lines_next(&lines, &line, &len);

			if (r == 0) {
				eof = 1;
				break;
			}
			lineno++;
			/* A line that cannot be a task: the input ends before it, what was
			 * sent still gets its answers and its ids printed. */
			if (r == -1 && errno == E2BIG)
				snprintf(bad, sizeof(bad),
				    "input line %" PRIu64 " is longer than 131072 "
				    "bytes",
				    lineno);
			else if (r == -1)
				snprintf(bad, sizeof(bad),
				    "reading standard input after line %" PRIu64 ": %s", lineno - 1,
				    strerror(errno));
			need =
			    r == 1 ? dcf_cmd_build(&tmpl, line, len, lineno, cmd, sizeof(cmd)) : 0;
			if (r == 1 && (need < 0 || (size_t)need > sizeof(cmd) - DCF_CWD_MAX - 64))
				snprintf(bad, sizeof(bad), "input line %" PRIu64 " %s", lineno,
				    need < 0 ? "holds a NUL byte" : "makes too long a command");
			if (bad[0] != '\0') {
				eof = 1;
				break;
			}
			if (o->key != NULL)
				snprintf(key, sizeof(key), "%s-%" PRIu64, o->key, lineno);
			submit_msg(&m, o, (uint32_t)lineno, o->key != NULL ? key : NULL, cwd, cmd,
			    (uint32_t)need);
			client_put(c, &m);
			sent++;
			if (c->out_len >= 65536)
				client_flush(c, 0);
		}
		if (acked == sent)
			break;
		client_flush(c, 0);
		if (c->out_len > 0 && sent - acked < WINDOW && !eof)
			continue;
		fflush(stdout);
		client_next(c, &m);
		acked++;
		if (m.type == DCF_MSG_ERROR) {
			/* Refused, that line alone: said, and on with the others. */
			fflush(stdout);
			fprintf(stderr, "%s: input line %u refused: %.*s\n", client_prog, m.tag,
			    (int)m.u.error.text_len, m.u.error.text);
			rc = 1;
			continue;
		}
		if (m.type != DCF_MSG_ACK)
			client_die("an answer that is not an acknowledgement");
		printf("%" PRIu64 "\n", m.u.ack.id);
		if (o->wait) {
			if (nids == cap) {
				uint64_t *n;

				cap = cap ? cap * 2 : 1024;
				if ((n = realloc(ids, cap * sizeof(*ids))) == NULL)
					client_die("out of memory");
				ids = n;
			}
			ids[nids++] = m.u.ack.id;
		}
	}
	client_flush(c, 1);
	fflush(stdout);
	for (size_t i = 0; i < nids; i++)
		if (wait_for(c, ids[i], (uint32_t)i) != 0)
			rc = 1;
	free(ids);
	dcf_lines_free(&lines);
	if (bad[0] != '\0') {
		fprintf(stderr, "%s: %s: it and the lines after it were not submitted\n",
		    client_prog, bad);
		rc = 1;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	struct submit_opts o;
	struct client c;
	char cwd[DCF_CWD_MAX];
	int r;

	client_prog = "dcf-submit";
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) == -1)
			return 1;
	r = submit_parse_options(argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : 2;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		client_die("the current directory: %s", strerror(errno));
	client_connect(&c, o.name, "what was not acknowledged was not submitted");
	r = o.batch ? batch(&c, &o, cwd) : one(&c, &o, cwd);
	if (fflush(stdout) == EOF)
		client_die("writing the ids: %s", strerror(errno));
	close(c.fd);
	free(c.in);
	free(c.out);
	return r;
}
