/*
 * proto.h - what dcf-submit and a serving dcf-supervisor say to each other
 * over their Unix socket: small, versioned, length-prefixed, bounded, and
 * parsed in one place (dcf_proto_parse), which a fuzz target drives.
 *
 * A frame, every integer little-endian:
 *   u32 len      bytes after this field (header rest and body), at most
 *                DCF_PROTO_MAX - 4
 *   u16 version  DCF_PROTO_VERSION; another is answered with ERROR
 *                DCF_PE_VERSION and the connection closed
 *   u16 type     enum dcf_msg_type
 *   u32 tag      the client's number for the request, echoed in its replies
 *   body         as the type says, exactly filling len
 *
 * Requests (client to supervisor):
 *   SUBMIT  u32 flags (DCF_SUBMIT_*), u32 timeout_ms, u32 retries, i32 prio
 *           (DCF_PRIO_MIN to DCF_PRIO_MAX, layout.h), u32 net (DCF_NET_ANY,
 *           or the one network it runs on), u64 not_before (CLOCK_REALTIME
 *           ns: not run before; 0 at once), u32 key_len, u32 cwd_len, u32
 *           cmd_len, u32 ndeps (at most DCF_DEPS_MAX), u32 host_len (at most
 *           DCF_HOST_MAX), then ndeps u64 ids (--after: it runs once they
 *           have ended, each not 0), host (--host: the host it runs on, of
 *           those sharing a store; 0 bytes: any), key, cwd, cmd bytes.
 *           cmd is an argv, items each ending in NUL (cmd.h), the first
 *           not empty; cwd absolute, without NUL; key without NUL, at most
 *           DCF_KEY_MAX bytes (0: no key).
 *   WAIT    u64 id: reply RESULT once the task is finished (at once if it is).
 *   CTL     u32 op (enum dcf_ctl_op), u32 net (DCF_CTL_ALL: every network),
 *           u64 id, i64 value (what op needs of them; 0 otherwise): reply OK
 *           once done, or ERROR (DCF_PE_BADCTL: nothing was changed).
 * Replies:
 *   ACK     u64 id, u32 flags (DCF_ACK_EXISTED: the key's task, not a new one),
 *           sent only once the task is committed to the store.
 *   RESULT  u64 id, u32 state (store.h), u32 how, i32 exit_code,
 *           u32 term_sig, u32 exec_errno, u32 attempts, u64 run_ns.
 *   ERROR   u32 code (enum dcf_proto_err), u32 text_len, text: one line.
 *   OK      u32 text_len, text: one line saying what a CTL did.
 * Replies to one connection's SUBMITs come in the order sent; a RESULT
 * comes when its task ends; the tag says which request a reply is for.
 * After an ERROR for a malformed frame the supervisor closes the
 * connection (a stream cannot be trusted past a bad length); other errors
 * (no such task, the store failing) leave it open.
 *
 * Pure: no I/O, no allocation.
 */
#ifndef DCF_PROTO_H
#define DCF_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* 2: a SUBMIT's priority; 3: its network; 4: its time; 5: --after; 6: --host */
#define DCF_PROTO_VERSION 6u
#define DCF_NET_ANY       UINT32_MAX
#define DCF_PROTO_HDR     12u
#define DCF_PROTO_MAX     262144u /* a whole frame, length field included: 256 KiB */
#define DCF_KEY_MAX       512u
#define DCF_CWD_MAX       4096u
#define DCF_ACK_EXISTED   1u
#define DCF_DEPS_MAX      1024u /* a SUBMIT's --after ids */
#define DCF_HOST_MAX      128u  /* a SUBMIT's --host, printable bytes */
/* A SUBMIT's flags. */
#define DCF_SUBMIT_AFTER_ANY 1u /* its deps ending is enough, whatever their outcome */
#define DCF_SUBMIT_FLAGS     DCF_SUBMIT_AFTER_ANY
/* A SUBMIT's retries: the supervisor's own --retries. (timeout_ms 0: its --timeout.) */
#define DCF_RETRIES_DEFAULT UINT32_MAX

enum dcf_msg_type {
	DCF_MSG_SUBMIT = 1,
	DCF_MSG_WAIT = 2,
	DCF_MSG_CTL = 3,
	DCF_MSG_ACK = 100,
	DCF_MSG_RESULT = 101,
	DCF_MSG_ERROR = 102,
	DCF_MSG_OK = 103,
};

/* What a CTL asks (dcf-ctl's commands). */
enum dcf_ctl_op {
	DCF_CTL_PAUSE = 1,         /* net: its workers start nothing new */
	DCF_CTL_RESUME = 2,        /* net: they do again */
	DCF_CTL_DRAIN = 3,         /* no new submissions; end once everything has */
	DCF_CTL_CANCEL = 4,        /* id: a task not started yet ends CANCELLED, never run */
	DCF_CTL_KILL = 5,          /* id, value a signal: to the running task's whole tree */
	DCF_CTL_PRIORITY = 6,      /* id, value its new priority: a task not started yet */
	DCF_CTL_RETRY = 7,         /* id: a task that failed, as a new task (OK once committed) */
	DCF_CTL_SCALE = 8,         /* net, value its nodes (id DCF_CTL_F_*: RELATIVE: value more) */
	DCF_CTL_STOP_NODE = 9,     /* net, id its node (value DCF_CTL_F_NOW, or 0) */
	DCF_CTL_RESTART_NODE = 10, /* net, id its node (value DCF_CTL_F_NOW, or 0) */
	DCF_CTL_NO_RESTART = 11,   /* net, id its node: when its worker ends, it stays down */
	DCF_CTL_ADD_NETWORK = 12,  /* value its nodes: a removed network's room, in use again */
	DCF_CTL_REMOVE_NETWORK = 13, /* net (value DCF_CTL_F_NOW, or 0): its nodes stop, its
	                              * queue goes to the others, nothing new goes there */
};
/* A CTL's flags, where its op says. */
#define DCF_CTL_F_RELATIVE 1          /* scale: value is a change (+N, -N), not a count */
#define DCF_CTL_F_NOW      2          /* a node's task is not waited for: put back at once */
#define DCF_CTL_ALL        UINT32_MAX /* a CTL's net: every network */

enum dcf_proto_err {
	DCF_PE_BADMSG = 1,    /* malformed: the connection is closed */
	DCF_PE_VERSION = 2,   /* another protocol version: closed */
	DCF_PE_TOOBIG = 3,    /* longer than DCF_PROTO_MAX: closed */
	DCF_PE_NOTFOUND = 4,  /* no such task (never, or pruned) */
	DCF_PE_STORE = 5,     /* the store failed: nothing was recorded */
	DCF_PE_STOPPING = 6,  /* the supervisor is stopping: nothing was recorded */
	DCF_PE_DENIED = 7,    /* another user: closed */
	DCF_PE_BADCMD = 8,    /* the command is not one dcf can run */
	DCF_PE_BADCTL = 9,    /* a control request that cannot be: nothing was changed */
	DCF_PE_DRAINING = 10, /* the service is draining: nothing was recorded */
};

struct dcf_msg {
	uint16_t type;
	uint32_t tag;
	union {
		struct {
			uint32_t flags, timeout_ms, retries;
			int32_t prio;
			uint32_t net;        /* DCF_NET_ANY: wherever */
			uint64_t not_before; /* 0: at once */
			const char *key;     /* not NUL-terminated: key_len bytes */
			const char *cwd;     /* cwd_len bytes */
			const char *cmd;     /* cmd_len bytes, the last a NUL */
			const char *host;    /* host_len bytes (0: any host) */
			uint32_t key_len, cwd_len, cmd_len, host_len;
			uint32_t ndeps;
			const unsigned char *deps; /* parsed: ndeps u64 as sent (dcf_proto_dep) */
			const uint64_t *dep_ids;   /* to build: ndeps of them */
		} submit;
		struct {
			uint64_t id;
		} wait;
		struct {
			uint64_t id;
			uint32_t flags;
		} ack;
		struct {
			uint64_t id;
			uint32_t state, how;
			int32_t exit_code;
			uint32_t term_sig, exec_errno, attempts;
			uint64_t run_ns;
		} result;
		struct {
			uint32_t op, net;
			uint64_t id;
			int64_t value;
		} ctl;
		struct {
			uint32_t code;
			const char *text;
			uint32_t text_len;
		} error; /* and OK's text */
	} u;
};

/* A parsed SUBMIT's i-th --after id. */
uint64_t dcf_proto_dep(const struct dcf_msg *m, uint32_t i);

/*
 * One frame from buf[0..len):
 *   1  parsed into m (its pointers into buf), *used its bytes;
 *   0  not whole yet: read more (at most DCF_PROTO_MAX in all);
 *  -1  malformed: *code (enum dcf_proto_err) and a one-line reason in err.
 * cmd_max bounds a SUBMIT's command.
 */
int dcf_proto_parse(const void *buf, size_t len, uint32_t cmd_max, struct dcf_msg *m, size_t *used,
    uint32_t *code, char *err, size_t errlen);

/* The frame for m in buf: its size, or 0 if it does not fit in cap (or in DCF_PROTO_MAX). */
size_t dcf_proto_build(void *buf, size_t cap, const struct dcf_msg *m);

/* A name for a code, for messages: "bad message", "no such task", ... */
const char *dcf_proto_err_name(uint32_t code);

#endif
