/*
 * fuzz_proto.c - libFuzzer target: the submit protocol's parser (proto.h),
 * fed the input as a serving supervisor reads a connection: frame after
 * frame from the start, until one is malformed or the bytes run out.
 * Besides not crashing, what must hold (abort() if not):
 *  - a parse returns -1, 0 or 1;
 *  - 1: the frame is at least a header long and inside the input, and
 *    building the message it gave makes exactly the frame's bytes again
 *    (nothing parsed is ignored, nothing is read past it); a SUBMIT's
 *    command ends in a NUL and its name is not empty, its key and
 *    working directory hold no NUL, the directory is absolute;
 *  - 0: the frame is not whole (fewer than 4 bytes, or fewer than its
 *    length says, which is within DCF_PROTO_MAX);
 *  - -1: a code dcf_proto_err_name knows, and one line of reason.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dcf/proto.h"

#define FP_CMD_MAX 4096

static unsigned char fp_frame[DCF_PROTO_MAX];

static uint32_t
fp_len(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
fp_check_submit(const struct dcf_msg *m)
{
	if (m->u.submit.cmd_len == 0 || m->u.submit.cmd_len > FP_CMD_MAX ||
	    m->u.submit.cmd[m->u.submit.cmd_len - 1] != '\0' || m->u.submit.cmd[0] == '\0')
		abort();
	if (m->u.submit.key_len > DCF_KEY_MAX ||
	    memchr(m->u.submit.key, '\0', m->u.submit.key_len) != NULL)
		abort();
	if (m->u.submit.cwd_len == 0 || m->u.submit.cwd[0] != '/' ||
	    memchr(m->u.submit.cwd, '\0', m->u.submit.cwd_len) != NULL)
		abort();
	if (m->u.submit.host_len > DCF_HOST_MAX)
		abort();
	for (uint32_t i = 0; i < m->u.submit.host_len; i++)
		if ((unsigned char)m->u.submit.host[i] < 0x20 || m->u.submit.host[i] == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	for (;;) {
		struct dcf_msg m;
		size_t used = 0, n;
		uint32_t code = 0;
		char err[256];
		int r;

		err[0] = '\0';
		r = dcf_proto_parse(data + off, size - off, FP_CMD_MAX, &m, &used, &code, err,
		    sizeof(err));
		if (r == 1) {
			if (used < DCF_PROTO_HDR || used > size - off)
				abort();
			n = dcf_proto_build(fp_frame, sizeof(fp_frame), &m);
			if (n != used || memcmp(fp_frame, data + off, n) != 0)
				abort();
			if (m.type == DCF_MSG_SUBMIT)
				fp_check_submit(&m);
			off += used;
			continue;
		}
		if (r == 0) {
			if (size - off >= 4 &&
			    (fp_len(data + off) > DCF_PROTO_MAX - 4 ||
			        size - off - 4 >= fp_len(data + off)))
				abort();
			break;
		}
		if (r != -1 || strcmp(dcf_proto_err_name(code), "unknown error") == 0 ||
		    err[0] == '\0' || strchr(err, '\n') != NULL)
			abort();
		break;
	}
	return 0;
}
