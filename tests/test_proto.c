/*
 * test_proto.c - the submit protocol (proto.h): every message built and
 * parsed back field for field, a stream read a byte at a time, and every
 * malformed frame refused with its code and one line: another version
 * (told before the frame is whole), too long, too short, lengths that do
 * not add up (or would wrap), a cut-short body, trailing bytes, an unknown
 * type, and each bad field of a submission.
 */
#include "testutil.h"
#include "dcf/cmd.h"
#include "dcf/proto.h"

#define CMD_MAX 1024

static unsigned char buf[DCF_PROTO_MAX];

static struct dcf_msg
submit_msg(const char *key, const char *cwd, const char *cmd, uint32_t cmd_len)
{
	struct dcf_msg m = {.type = DCF_MSG_SUBMIT, .tag = 77};

	m.u.submit.flags = 1;
	m.u.submit.timeout_ms = 60000;
	m.u.submit.retries = 3;
	m.u.submit.prio = DCF_PRIO_MIN;
	m.u.submit.net = 7;
	m.u.submit.not_before = 1ULL << 62;
	m.u.submit.key = key;
	m.u.submit.key_len = (uint32_t)strlen(key);
	m.u.submit.cwd = cwd;
	m.u.submit.cwd_len = (uint32_t)strlen(cwd);
	m.u.submit.cmd = cmd;
	m.u.submit.cmd_len = cmd_len;
	return m;
}

/* Parse buf[0..n): the result, and code/err for a refusal. */
static int
parse(size_t n, struct dcf_msg *m, size_t *used, uint32_t *code, char *err)
{
	return dcf_proto_parse(buf, n, CMD_MAX, m, used, code, err, 256);
}

static void
test_roundtrip(void **state)
{
	struct dcf_msg in[7], out;
	size_t n, used;
	uint32_t code;
	char err[256];
	(void)state;

	in[0] = submit_msg("k-1", "/home/u", "make\0-j4\0", 9);
	in[0].u.submit.host = "box-2/build";
	in[0].u.submit.host_len = 11;
	memset(&in[1], 0, sizeof(in[1]));
	in[1].type = DCF_MSG_WAIT;
	in[1].tag = 5;
	in[1].u.wait.id = UINT64_MAX - 1;
	memset(&in[2], 0, sizeof(in[2]));
	in[2].type = DCF_MSG_ACK;
	in[2].u.ack.id = 1ULL << 40;
	in[2].u.ack.flags = DCF_ACK_EXISTED;
	memset(&in[3], 0, sizeof(in[3]));
	in[3].type = DCF_MSG_RESULT;
	in[3].tag = UINT32_MAX;
	in[3].u.result.id = 42;
	in[3].u.result.state = 3;
	in[3].u.result.how = 2;
	in[3].u.result.exit_code = -7;
	in[3].u.result.term_sig = 9;
	in[3].u.result.exec_errno = 2;
	in[3].u.result.attempts = 4;
	in[3].u.result.run_ns = 123456789012ULL;
	memset(&in[4], 0, sizeof(in[4]));
	in[4].type = DCF_MSG_ERROR;
	in[4].u.error.code = DCF_PE_NOTFOUND;
	in[4].u.error.text = "no such task: 9";
	in[4].u.error.text_len = 15;
	memset(&in[5], 0, sizeof(in[5]));
	in[5].type = DCF_MSG_CTL;
	in[5].tag = 8;
	in[5].u.ctl.op = DCF_CTL_PAUSE;
	in[5].u.ctl.net = 3;
	in[5].u.ctl.id = 1ULL << 50;
	in[5].u.ctl.value = -5;
	memset(&in[6], 0, sizeof(in[6]));
	in[6].type = DCF_MSG_OK;
	in[6].u.error.text = "Network-3 paused";
	in[6].u.error.text_len = 16;
	for (int i = 0; i < 7; i++) {
		n = dcf_proto_build(buf, sizeof(buf), &in[i]);
		assert_true(n >= DCF_PROTO_HDR);
		/* A byte at a time: not whole until the last one. */
		for (size_t k = 0; k < n; k++)
			assert_int_equal(parse(k, &out, &used, &code, err), 0);
		assert_int_equal(parse(n, &out, &used, &code, err), 1);
		assert_int_equal(used, n);
		assert_int_equal(out.type, in[i].type);
		assert_int_equal(out.tag, in[i].tag);
	}
	/* The last one parsed is the OK; each kind's fields, checked on a fresh parse. */
	assert_int_equal(out.u.error.text_len, 16);
	assert_memory_equal(out.u.error.text, "Network-3 paused", 16);
	n = dcf_proto_build(buf, sizeof(buf), &in[4]);
	assert_int_equal(parse(n, &out, &used, &code, err), 1);
	assert_int_equal(out.u.error.code, DCF_PE_NOTFOUND);
	assert_memory_equal(out.u.error.text, "no such task: 9", 15);
	n = dcf_proto_build(buf, sizeof(buf), &in[5]);
	assert_int_equal(parse(n, &out, &used, &code, err), 1);
	assert_int_equal(out.u.ctl.op, DCF_CTL_PAUSE);
	assert_int_equal(out.u.ctl.net, 3);
	assert_int_equal(out.u.ctl.id, 1ULL << 50);
	assert_int_equal(out.u.ctl.value, -5);
	n = dcf_proto_build(buf, sizeof(buf), &in[0]);
	assert_int_equal(parse(n, &out, &used, &code, err), 1);
	assert_int_equal(out.u.submit.flags, 1);
	assert_int_equal(out.u.submit.timeout_ms, 60000);
	assert_int_equal(out.u.submit.retries, 3);
	assert_int_equal(out.u.submit.prio, DCF_PRIO_MIN);
	assert_int_equal(out.u.submit.net, 7);
	assert_int_equal(out.u.submit.not_before, 1ULL << 62);
	assert_int_equal(out.u.submit.key_len, 3);
	assert_memory_equal(out.u.submit.key, "k-1", 3);
	assert_int_equal(out.u.submit.host_len, 11);
	assert_memory_equal(out.u.submit.host, "box-2/build", 11);
	assert_memory_equal(out.u.submit.cwd, "/home/u", 7);
	assert_int_equal(out.u.submit.cmd_len, 9);
	assert_memory_equal(out.u.submit.cmd, "make\0-j4\0", 9);
	n = dcf_proto_build(buf, sizeof(buf), &in[3]);
	assert_int_equal(parse(n, &out, &used, &code, err), 1);
	assert_int_equal(out.u.result.exit_code, -7);
	assert_int_equal(out.u.result.run_ns, 123456789012ULL);
	assert_int_equal(out.u.result.attempts, 4);
	n = dcf_proto_build(buf, sizeof(buf), &in[1]);
	assert_int_equal(parse(n, &out, &used, &code, err), 1);
	assert_int_equal(out.u.wait.id, UINT64_MAX - 1);
	/* Two frames back to back: the first, then the second from where it ended. */
	n = dcf_proto_build(buf, sizeof(buf), &in[2]);
	n += dcf_proto_build(buf + n, sizeof(buf) - n, &in[1]);
	assert_int_equal(parse(n, &out, &used, &code, err), 1);
	assert_int_equal(out.u.ack.flags, DCF_ACK_EXISTED);
	assert_int_equal(dcf_proto_parse(buf + used, n - used, CMD_MAX, &out, &used, &code, err,
	                     sizeof(err)),
	    1);
	assert_int_equal(out.type, DCF_MSG_WAIT);
	/* Too small a buffer: nothing built. */
	assert_int_equal(dcf_proto_build(buf, 10, &in[0]), 0);
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* buf[0..n) is refused with code, and err names what. */
static void
refused(size_t n, uint32_t want, const char *what)
{
	struct dcf_msg m;
	size_t used = 99;
	uint32_t code = 0;
	char err[256] = "";

	assert_int_equal(parse(n, &m, &used, &code, err), -1);
	if (code != want || strstr(err, what) == NULL)
		fail_msg("code %u (want %u), \"%s\" (want \"%s\")", code, want, err, what);
	assert_null(strchr(err, '\n'));
	assert_int_equal(used, 0);
}

static void
test_malformed(void **state)
{
	struct dcf_msg m = submit_msg("", "/", "true\0", 5);
	size_t n;
	(void)state;

	/* Another version: told from the first 6 bytes. */
	n = dcf_proto_build(buf, sizeof(buf), &m);
	buf[4] = 1; /* the first, before priorities */
	refused(6, DCF_PE_VERSION, "protocol version 1; this dcf speaks 6");
	buf[4] = 4;
	/* Too long, too short. */
	put32(buf, DCF_PROTO_MAX);
	refused(4, DCF_PE_TOOBIG, "more than");
	put32(buf, 7);
	refused(4, DCF_PE_BADMSG, "shorter than its header");
	/* Lengths that do not add up, or would wrap around. */
	n = dcf_proto_build(buf, sizeof(buf), &m);
	put32(buf + 40, 2); /* key_len, after the priority, network and time at 24..39 */
	refused(n, DCF_PE_BADMSG, "do not add up");
	put32(buf + 40, UINT32_MAX);
	refused(n, DCF_PE_BADMSG, "do not add up");
	put32(buf + 40, 0);
	put32(buf + 44, UINT32_MAX - 4); /* cwd_len: with cmd_len's 5, 2^32 - 0 */
	refused(n, DCF_PE_BADMSG, "do not add up");
	/* Cut short: a WAIT frame whose length says 4 bytes fewer. */
	memset(&m, 0, sizeof(m));
	m.type = DCF_MSG_WAIT;
	n = dcf_proto_build(buf, sizeof(buf), &m);
	put32(buf, (uint32_t)(n - 4 - 4));
	refused(n - 4, DCF_PE_BADMSG, "cut short");
	/* Trailing bytes inside the frame. */
	n = dcf_proto_build(buf, sizeof(buf), &m);
	put32(buf, (uint32_t)(n - 4 + 3));
	memset(buf + n, 0, 3);
	refused(n + 3, DCF_PE_BADMSG, "3 bytes past the end");
	/* An unknown type. */
	n = dcf_proto_build(buf, sizeof(buf), &m);
	buf[6] = 55;
	refused(n, DCF_PE_BADMSG, "unknown message type 55");
	/* A submission's fields. */
	m = submit_msg("", "/", "true", 4);
	refused(dcf_proto_build(buf, sizeof(buf), &m), DCF_PE_BADMSG, "does not end in a NUL");
	m = submit_msg("", "/", "\0", 1);
	refused(dcf_proto_build(buf, sizeof(buf), &m), DCF_PE_BADCMD, "name is empty");
	/* No command may pass for another user's (cmd.h DCF_RUN_AS). */
	m = submit_msg("", "/", DCF_RUN_AS "\0001\0001\0true\0", 21);
	refused(dcf_proto_build(buf, sizeof(buf), &m), DCF_PE_BADCMD, "begins with a control byte");
	m = submit_msg("", "/", "true\0", 5);
	m.u.submit.prio = DCF_PRIO_MAX + 1;
	refused(dcf_proto_build(buf, sizeof(buf), &m), DCF_PE_BADCMD,
	    "priority 5 is not one of -4 to 4");
	m.u.submit.prio = DCF_PRIO_MIN - 1;
	refused(dcf_proto_build(buf, sizeof(buf), &m), DCF_PE_BADCMD, "priority -5 is not one");
	m.u.submit.prio = 0;
	m.u.submit.net = DCF_MAX_NETS;
	refused(dcf_proto_build(buf, sizeof(buf), &m), DCF_PE_BADCMD,
	    "network 256 is not one of 0 to 255");
	m = submit_msg("", "/", "", 0);
	refused(dcf_proto_build(buf, sizeof(buf), &m), DCF_PE_BADCMD, "must be 1 to");
	{
		static char big[CMD_MAX + 1];

		memset(big, 'x', sizeof(big));
		big[CMD_MAX] = '\0';
		m = submit_msg("", "/", big, CMD_MAX + 1);
		refused(dcf_proto_build(buf, sizeof(buf), &m), DCF_PE_BADCMD, "must be 1 to 1024");
	}
	m = submit_msg("", "relative/dir", "true\0", 5);
	refused(dcf_proto_build(buf, sizeof(buf), &m), DCF_PE_BADMSG, "not an absolute path");
	m = submit_msg("", "", "true\0", 5);
	refused(dcf_proto_build(buf, sizeof(buf), &m), DCF_PE_BADMSG, "not an absolute path");
	m = submit_msg("", "/a\0b", "true\0", 5);
	m.u.submit.cwd_len = 4;
	refused(dcf_proto_build(buf, sizeof(buf), &m), DCF_PE_BADMSG, "not an absolute path");
	m = submit_msg("a\0b", "/", "true\0", 5);
	m.u.submit.key_len = 3;
	refused(dcf_proto_build(buf, sizeof(buf), &m), DCF_PE_BADMSG, "key holds a NUL");
	{
		static char key[DCF_KEY_MAX + 2];

		memset(key, 'k', DCF_KEY_MAX + 1);
		m = submit_msg(key, "/", "true\0", 5);
		refused(dcf_proto_build(buf, sizeof(buf), &m), DCF_PE_BADMSG, "more than 512");
	}
	/* --host: bounded, printable. */
	{
		static char host[DCF_HOST_MAX + 1];

		memset(host, 'h', sizeof(host));
		m = submit_msg("", "/", "true\0", 5);
		m.u.submit.host = host;
		m.u.submit.host_len = DCF_HOST_MAX + 1;
		refused(dcf_proto_build(buf, sizeof(buf), &m), DCF_PE_BADMSG, "more than 128");
		m.u.submit.host = "a\nb";
		m.u.submit.host_len = 3;
		refused(dcf_proto_build(buf, sizeof(buf), &m), DCF_PE_BADMSG, "control byte");
		/* Its length lies (at 12 + 44): the sum does not fill the frame. */
		m.u.submit.host = "ab";
		m.u.submit.host_len = 2;
		n = dcf_proto_build(buf, sizeof(buf), &m);
		put32(buf + 56, 3);
		refused(n, DCF_PE_BADMSG, "do not add up");
	}
	/* An error whose text length does not fill it. */
	memset(&m, 0, sizeof(m));
	m.type = DCF_MSG_ERROR;
	m.u.error.text = "ab";
	m.u.error.text_len = 2;
	n = dcf_proto_build(buf, sizeof(buf), &m);
	put32(buf + 16, 1);
	refused(n, DCF_PE_BADMSG, "does not fill");
	assert_string_equal(dcf_proto_err_name(DCF_PE_NOTFOUND), "no such task");
	assert_string_equal(dcf_proto_err_name(999), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
