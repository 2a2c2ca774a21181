/* proto.c - the submit protocol's one parser and its builder (proto.h). */
#include <stdio.h>
#include <string.h>

#include "dcf/layout.h"
#include "dcf/proto.h"

/* A bounded reader over a frame's body. */
struct rd {
	const unsigned char *p;
	size_t left;
	int bad;
};

static uint32_t
get32(struct rd *r)
{
	uint32_t v;

	if (r->left < 4) {
		r->bad = 1;
		return 0;
	}
	v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
	    (uint32_t)r->p[3] << 24;
	r->p += 4;
	r->left -= 4;
	return v;
}

static uint64_t
get64(struct rd *r)
{
	uint64_t lo = get32(r);

	return lo | (uint64_t)get32(r) << 32;
}

static const char *
get_bytes(struct rd *r, uint32_t n)
{
	const char *s = (const char *)r->p;

	if (r->left < n) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return s;
}

#define BAD(c, ...) \
	do { \
		*code = (c); \
		snprintf(err, errlen, __VA_ARGS__); \
		return -1; \
	} while (0)

/* A SUBMIT's fields: each bounded, the command an argv that can be run. */
static int
check_submit(const struct dcf_msg *m, uint32_t cmd_max, uint32_t *code, char *err, size_t errlen)
{
	const char *cmd = m->u.submit.cmd;
	uint32_t n = m->u.submit.cmd_len;

	if (m->u.submit.flags & ~DCF_SUBMIT_FLAGS)
		BAD(DCF_PE_BADMSG, "unknown submission flags %#x", m->u.submit.flags);
	for (uint32_t i = 0; i < m->u.submit.ndeps; i++)
		if (dcf_proto_dep(m, i) == 0)
			BAD(DCF_PE_BADCMD, "a task to run after is id 0: ids start at 1");
	if (m->u.submit.key_len > DCF_KEY_MAX)
		BAD(DCF_PE_BADMSG, "the key is %u bytes, more than %u", m->u.submit.key_len,
		    DCF_KEY_MAX);
	if (memchr(m->u.submit.key, '\0', m->u.submit.key_len) != NULL)
		BAD(DCF_PE_BADMSG, "the key holds a NUL byte");
	if (m->u.submit.host_len > DCF_HOST_MAX)
		BAD(DCF_PE_BADMSG, "the host is %u bytes, more than %u", m->u.submit.host_len,
		    DCF_HOST_MAX);
	for (uint32_t i = 0; i < m->u.submit.host_len; i++)
		if ((unsigned char)m->u.submit.host[i] < 0x20 || m->u.submit.host[i] == 0x7f)
			BAD(DCF_PE_BADMSG, "the host holds a control byte");
	if (m->u.submit.prio < DCF_PRIO_MIN || m->u.submit.prio > DCF_PRIO_MAX)
		BAD(DCF_PE_BADCMD, "priority %d is not one of %d to %d", (int)m->u.submit.prio,
		    DCF_PRIO_MIN, DCF_PRIO_MAX);
	if (m->u.submit.net != DCF_NET_ANY && m->u.submit.net >= DCF_MAX_NETS)
		BAD(DCF_PE_BADCMD, "network %u is not one of 0 to %d", m->u.submit.net,
		    DCF_MAX_NETS - 1);
	if (m->u.submit.cwd_len == 0 || m->u.submit.cwd_len > DCF_CWD_MAX ||
	    m->u.submit.cwd[0] != '/' || memchr(m->u.submit.cwd, '\0', m->u.submit.cwd_len) != NULL)
		BAD(DCF_PE_BADMSG, "the working directory is not an absolute path");
	if (n == 0 || n > cmd_max)
		BAD(DCF_PE_BADCMD, "the command is %u bytes; it must be 1 to %u", n, cmd_max);
	if (cmd[n - 1] != '\0')
		BAD(DCF_PE_BADMSG, "the command does not end in a NUL byte");
	if (cmd[0] == '\0')
		BAD(DCF_PE_BADCMD, "the command's name is empty");
	if ((unsigned char)cmd[0] < 0x20)
		BAD(DCF_PE_BADCMD, "the command's name begins with a control byte");
	return 0;
}

uint64_t
dcf_proto_dep(const struct dcf_msg *m, uint32_t i)
{
	const unsigned char *p = m->u.submit.deps + (size_t)i * 8;
	uint64_t v = 0;

	for (int k = 7; k >= 0; k--)
		v = v << 8 | p[k];
	return v;
}

int
dcf_proto_parse(const void *buf, size_t len, uint32_t cmd_max, struct dcf_msg *m, size_t *used,
    uint32_t *code, char *err, size_t errlen)
{
	struct rd r = {.p = buf, .left = len};
	uint32_t flen, ver;

	memset(m, 0, sizeof(*m));
	*used = 0;
	if (len < 4)
		return 0;
	flen = get32(&r);
	if (flen > DCF_PROTO_MAX - 4)
		BAD(DCF_PE_TOOBIG, "a frame of %u bytes, more than %u", flen, DCF_PROTO_MAX);
	if (flen < DCF_PROTO_HDR - 4)
		BAD(DCF_PE_BADMSG, "a frame of %u bytes, shorter than its header", flen);
	/* The version is checked before the frame is whole: a stranger is told at once. */
	if (len >= 6 && (ver = (uint32_t)r.p[0] | (uint32_t)r.p[1] << 8) != DCF_PROTO_VERSION)
		BAD(DCF_PE_VERSION, "protocol version %u; this dcf speaks %u", ver,
		    DCF_PROTO_VERSION);
	if (len - 4 < flen)
		return 0;
	r.left = flen;
	ver = get32(&r);
	m->type = (uint16_t)(ver >> 16);
	m->tag = get32(&r);
	switch (m->type) {
	case DCF_MSG_SUBMIT:
		m->u.submit.flags = get32(&r);
		m->u.submit.timeout_ms = get32(&r);
		m->u.submit.retries = get32(&r);
		m->u.submit.prio = (int32_t)get32(&r);
		m->u.submit.net = get32(&r);
		m->u.submit.not_before = get64(&r);
		m->u.submit.key_len = get32(&r);
		m->u.submit.cwd_len = get32(&r);
		m->u.submit.cmd_len = get32(&r);
		m->u.submit.ndeps = get32(&r);
		m->u.submit.host_len = get32(&r);
		if (r.bad)
			break;
		if (m->u.submit.ndeps > DCF_DEPS_MAX)
			BAD(DCF_PE_BADCMD, "a task runs after at most %u others, not %u",
			    DCF_DEPS_MAX, m->u.submit.ndeps);
		/* Each length alone first: their sum cannot wrap. */
		if (m->u.submit.key_len > r.left || m->u.submit.cwd_len > r.left ||
		    m->u.submit.cmd_len > r.left || m->u.submit.host_len > r.left ||
		    (uint64_t)m->u.submit.ndeps * 8 + m->u.submit.host_len + m->u.submit.key_len +
		            m->u.submit.cwd_len + m->u.submit.cmd_len !=
		        r.left)
			BAD(DCF_PE_BADMSG, "a submission's lengths do not add up to its frame");
		m->u.submit.deps = (const unsigned char *)get_bytes(&r, m->u.submit.ndeps * 8);
		m->u.submit.host = get_bytes(&r, m->u.submit.host_len);
		m->u.submit.key = get_bytes(&r, m->u.submit.key_len);
		m->u.submit.cwd = get_bytes(&r, m->u.submit.cwd_len);
		m->u.submit.cmd = get_bytes(&r, m->u.submit.cmd_len);
		if (!r.bad && check_submit(m, cmd_max, code, err, errlen) == -1)
			return -1;
		break;
	case DCF_MSG_WAIT:
		m->u.wait.id = get64(&r);
		break;
	case DCF_MSG_CTL:
		m->u.ctl.op = get32(&r);
		m->u.ctl.net = get32(&r);
		m->u.ctl.id = get64(&r);
		m->u.ctl.value = (int64_t)get64(&r);
		break;
	case DCF_MSG_ACK:
		m->u.ack.id = get64(&r);
		m->u.ack.flags = get32(&r);
		break;
	case DCF_MSG_RESULT:
		m->u.result.id = get64(&r);
		m->u.result.state = get32(&r);
		m->u.result.how = get32(&r);
		m->u.result.exit_code = (int32_t)get32(&r);
		m->u.result.term_sig = get32(&r);
		m->u.result.exec_errno = get32(&r);
		m->u.result.attempts = get32(&r);
		m->u.result.run_ns = get64(&r);
		break;
	case DCF_MSG_ERROR:
	case DCF_MSG_OK:
		if (m->type == DCF_MSG_ERROR)
			m->u.error.code = get32(&r);
		m->u.error.text_len = get32(&r);
		if (!r.bad && m->u.error.text_len != r.left)
			BAD(DCF_PE_BADMSG, "a reply's text length does not fill its frame");
		m->u.error.text = get_bytes(&r, m->u.error.text_len);
		break;
	default:
		BAD(DCF_PE_BADMSG, "unknown message type %u", m->type);
	}
	if (r.bad)
		BAD(DCF_PE_BADMSG, "a message of type %u cut short", m->type);
	if (r.left != 0)
		BAD(DCF_PE_BADMSG, "%zu bytes past the end of a message of type %u", r.left,
		    m->type);
	*used = 4 + (size_t)flen;
	return 1;
}

/* --- building ------------------------------------------------------------ */

struct wr {
	unsigned char *p;
	size_t cap, n;
};

static void
put32(struct wr *w, uint32_t v)
{
	if (w->n <= w->cap && w->cap - w->n >= 4) {
		w->p[w->n] = (unsigned char)v;
		w->p[w->n + 1] = (unsigned char)(v >> 8);
		w->p[w->n + 2] = (unsigned char)(v >> 16);
		w->p[w->n + 3] = (unsigned char)(v >> 24);
	}
	w->n += 4;
}

static void
put64(struct wr *w, uint64_t v)
{
	put32(w, (uint32_t)v);
	put32(w, (uint32_t)(v >> 32));
}

static void
put_bytes(struct wr *w, const void *s, uint32_t n)
{
	if (n > 0 && w->n <= w->cap && w->cap - w->n >= n)
		memcpy(w->p + w->n, s, n);
	w->n += n;
}

size_t
dcf_proto_build(void *buf, size_t cap, const struct dcf_msg *m)
{
	struct wr w = {.p = buf, .cap = cap};

	put32(&w, 0); /* the length, filled in last */
	put32(&w, DCF_PROTO_VERSION | (uint32_t)m->type << 16);
	put32(&w, m->tag);
	switch (m->type) {
	case DCF_MSG_SUBMIT:
		put32(&w, m->u.submit.flags);
		put32(&w, m->u.submit.timeout_ms);
		put32(&w, m->u.submit.retries);
		put32(&w, (uint32_t)m->u.submit.prio);
		put32(&w, m->u.submit.net);
		put64(&w, m->u.submit.not_before);
		put32(&w, m->u.submit.key_len);
		put32(&w, m->u.submit.cwd_len);
		put32(&w, m->u.submit.cmd_len);
		put32(&w, m->u.submit.ndeps);
		put32(&w, m->u.submit.host_len);
		for (uint32_t i = 0; i < m->u.submit.ndeps; i++)
			put64(&w,
			    m->u.submit.dep_ids != NULL ? m->u.submit.dep_ids[i]
			                                : dcf_proto_dep(m, i));
		put_bytes(&w, m->u.submit.host, m->u.submit.host_len);
		put_bytes(&w, m->u.submit.key, m->u.submit.key_len);
		put_bytes(&w, m->u.submit.cwd, m->u.submit.cwd_len);
		put_bytes(&w, m->u.submit.cmd, m->u.submit.cmd_len);
		break;
	case DCF_MSG_WAIT:
		put64(&w, m->u.wait.id);
		break;
	case DCF_MSG_CTL:
		put32(&w, m->u.ctl.op);
		put32(&w, m->u.ctl.net);
		put64(&w, m->u.ctl.id);
		put64(&w, (uint64_t)m->u.ctl.value);
		break;
	case DCF_MSG_ACK:
		put64(&w, m->u.ack.id);
		put32(&w, m->u.ack.flags);
		break;
	case DCF_MSG_RESULT:
		put64(&w, m->u.result.id);
		put32(&w, m->u.result.state);
		put32(&w, m->u.result.how);
		put32(&w, (uint32_t)m->u.result.exit_code);
		put32(&w, m->u.result.term_sig);
		put32(&w, m->u.result.exec_errno);
		put32(&w, m->u.result.attempts);
		put64(&w, m->u.result.run_ns);
		break;
	case DCF_MSG_ERROR:
	case DCF_MSG_OK:
		if (m->type == DCF_MSG_ERROR)
			put32(&w, m->u.error.code);
		put32(&w, m->u.error.text_len);
		put_bytes(&w, m->u.error.text, m->u.error.text_len);
		break;
	default:
		return 0;
	}
	if (w.n > cap || w.n > DCF_PROTO_MAX)
		return 0;
	{
		size_t total = w.n;

		w.n = 0;
		put32(&w, (uint32_t)(total - 4));
		return total;
	}
}

static const char *const err_names[] = {
    [DCF_PE_BADMSG] = "bad message",
    [DCF_PE_VERSION] = "another protocol version",
    [DCF_PE_TOOBIG] = "message too long",
    [DCF_PE_NOTFOUND] = "no such task",
    [DCF_PE_STORE] = "the store failed",
    [DCF_PE_STOPPING] = "the supervisor is stopping",
    [DCF_PE_DENIED] = "permission denied",
    [DCF_PE_BADCMD] = "bad command",
    [DCF_PE_BADCTL] = "bad control request",
    [DCF_PE_DRAINING] = "the service is draining",
};

const char *
dcf_proto_err_name(uint32_t code)
{
	if (code < sizeof(err_names) / sizeof(err_names[0]) && err_names[code] != NULL)
		return err_names[code];
	return "unknown error";
}
