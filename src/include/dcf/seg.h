/*
 * seg.h - create, attach to and validate the shared segment (layout.h).
 *
 * The segment is the file /dev/shm/dcf-NAME (what shm_open("/dcf-NAME")
 * opens). The creating supervisor holds an exclusive flock(2) on its open
 * file description for its whole life, taken before the name exists: the
 * kernel drops it when the supervisor dies, however it dies, so "is the old
 * system still running?" is answered by the kernel and cannot be fooled by a
 * reused PID. Workers get the mapping through fork and close their copy of
 * the descriptor.
 *
 * Only a regular file owned by the caller's uid is ever opened as a segment.
 * Anything else under the name (a FIFO, a symbolic link, a directory,
 * another user's file) is refused with a message naming it, and is never
 * followed, blocked on, changed or removed.
 */
#ifndef DCF_SEG_H
#define DCF_SEG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dcf/layout.h"

#define DCF_ERRLEN 256

/* Per-process handle: the pointers into this process's mapping. */
struct dcf_seg {
	char shm_name[DCF_NAME_MAX + 8]; /* "/dcf-NAME" */
	int fd;                          /* -1 once closed */
	int readonly;
	size_t size;
	unsigned char *base;
	struct dcf_hdr *hdr;
	struct dcf_net *nets;
	struct dcf_ring *rings;
	uint32_t *ring_slots;
	struct dcf_task *tasks;
	struct dcf_node *nodes;
	unsigned char *payload; /* task slot s's command at s * cfg.payload_max */
	/*
	 * Private copies of the geometry, taken when the header was created or
	 * validated. Library code bounds every index by these, never by the
	 * header, which any attached process could have scribbled on since.
	 */
	struct dcf_config cfg;
	uint32_t nrings;
	uint32_t ring_cap;
	uint64_t off_nets;
};

/* Where each region goes for a configuration. */
struct dcf_plan {
	uint64_t off_nets, off_rings, off_ring_slots, off_tasks, off_nodes, off_payload, size;
	uint32_t nrings, ring_cap;
};

/*
 * An instance name: [A-Za-z0-9_][A-Za-z0-9_.-]*, 1 to 32 bytes (it names
 * /dev/shm/dcf-NAME, and later a socket and a store: no '/', no leading
 * '.' or '-' that a shell or a file name would take for something else).
 */
#define DCF_NAME_RULE \
	"an instance name is 1 to 32 of the characters A-Z a-z 0-9 _ . - and starts with " \
	"a letter, a digit or _"
/* 0 if name is a valid instance name; else -1 and, in err, the rule and what broke it. */
int dcf_name_check(const char *name, char *err, size_t errlen);
/* The one default configuration: the demo's (3 x 50 nodes, 1000 tasks), sized. */
void dcf_config_default(struct dcf_config *cfg);
/* Size the tables for cfg's shape and tasks: max_nodes and task_slots. */
void dcf_config_size(struct dcf_config *cfg);
/* Sanity of a configuration (counts and ranges); -1 and a message if not. */
int dcf_config_check(const struct dcf_config *cfg, char *err, size_t errlen);
int dcf_plan(const struct dcf_config *cfg, struct dcf_plan *p);

/*
 * Create the segment of `name` for cfg, with all its memory reserved,
 * initialised and locked before it gets the name: nobody ever sees a
 * half-made segment, and one that fails or dies half-way leaves nothing.
 * Exactly one of any number of concurrent creators of a name succeeds. A
 * stale segment of that name (its supervisor is gone) is removed and
 * *took_over set to the dead supervisor's PID (-1 if it names none; 0 when
 * nothing was removed). Errors, with a one-line message in err: EBUSY (a
 * live system has the name, or another is starting under it), EACCES
 * (another user's file has the name), EPROTO (something that is not a
 * segment has it), ENOSPC (/dev/shm cannot hold the segment), EINVAL (bad
 * name or config), EFBIG (config too big), or errno of the failing call.
 */
int dcf_seg_create(struct dcf_seg *sg, const char *name, const struct dcf_config *cfg,
    pid_t *took_over, char *err, size_t errlen);

/*
 * Attach to a running system's segment. readonly: O_RDONLY and PROT_READ.
 * Never blocks. Errors: ENOENT (no such system), EACCES (another user's),
 * EPROTO (another layout or build, or not a segment at all), EINVAL (corrupt
 * header), with a message in err.
 */
int dcf_seg_attach(struct dcf_seg *sg, const char *name, int readonly, char *err, size_t errlen);
/* (A reader that jumps out of dcf_seg_attach on SIGBUS frees what it took with dcf_seg_detach.) */

/*
 * Check a segment image of `size` bytes: magic, format, sizes, uid, region
 * offsets. Touches nothing outside [img, img+size). 0 or -1 with errno as for
 * attach and a message.
 */
int dcf_seg_validate(const void *img, size_t size, uid_t uid, char *err, size_t errlen);
/*
 * The same checks on a header already copied out of a segment of `size`
 * bytes (the snapshot checks its own copy, which is what it then reads).
 */
int dcf_seg_check_hdr(const struct dcf_hdr *h, size_t size, uid_t uid, char *err, size_t errlen);

/* Point the handle's region pointers into a validated mapping. */
void dcf_seg_bind(struct dcf_seg *sg, void *base, size_t size);

/* Close the descriptor but keep the mapping (workers, after fork). */
void dcf_seg_close_fd(struct dcf_seg *sg);
/* Unmap and close. Never call while holding the lock. */
void dcf_seg_detach(struct dcf_seg *sg);
/*
 * Remove the name (creator only) if it still refers to this segment, then
 * detach. With the descriptor already closed, whatever has the name goes.
 */
void dcf_seg_destroy(struct dcf_seg *sg);

/*
 * What is under a name in /dev/shm, looked at without blocking, following a
 * link, opening anything but a regular file of ours, or taking any lock.
 */
enum dcf_seg_kind {
	DCF_SEG_LIVE,        /* a segment whose supervisor runs */
	DCF_SEG_ENDED,       /* its supervisor has ended the run and is removing it */
	DCF_SEG_STALE,       /* its supervisor is dead: dcf_seg_remove_stale removes it */
	DCF_SEG_UNKNOWN,     /* whether its supervisor runs cannot be told (/proc) */
	DCF_SEG_FOREIGN,     /* another user's file: not ours to read */
	DCF_SEG_UNREADABLE,  /* a dcf segment this build cannot read (another layout, corrupt) */
	DCF_SEG_NOT_SEGMENT, /* not a dcf segment at all (a FIFO, a link, other bytes) */
};

struct dcf_seg_info {
	char name[256]; /* what follows "dcf-" in the file name, as it is */
	enum dcf_seg_kind kind;
	/* From the header: LIVE, ENDED, STALE, UNKNOWN (and UNREADABLE where it could be read). */
	int has_hdr;
	pid_t sup_pid;
	uint32_t uid;         /* the owner: the file's, or the header's */
	uint32_t sys_state;   /* enum dcf_sys_state */
	uint32_t end_code;    /* ENDED: the supervisor's exit status */
	uint64_t created_ns;  /* CLOCK_REALTIME */
	uint64_t size;        /* bytes */
	char why[DCF_ERRLEN]; /* FOREIGN, UNREADABLE, NOT_SEGMENT, UNKNOWN: what it is, or why */
};

/*
 * Look at what /dev/shm/dcf-NAME is (any NAME, even one dcf_name_check
 * refuses): 0 and *info filled, or -1 if nothing has the name.
 */
int dcf_seg_probe(const char *name, struct dcf_seg_info *info);

/*
 * Every entry of /dev/shm whose name starts with "dcf-", probed, sorted by
 * name: a malloc'd array of *n (free it), NULL with *n 0 when there are none.
 * -1 with errno and a message if /dev/shm cannot be read.
 */
int dcf_seg_list(struct dcf_seg_info **list, size_t *n, char *err, size_t errlen);

/*
 * Remove the segment of `name` if it is stale, by the rule the takeover in
 * dcf_seg_create follows: open it O_NONBLOCK|O_NOFOLLOW as a regular file
 * of ours, take its flock without waiting (held by every live supervisor,
 * released by the kernel when it dies, however it dies), check that the
 * name still refers to the inode locked, and only then unlink it. Unlike the
 * takeover it also requires the dcf magic: a file of ours under the name
 * that is not a segment is left alone. 0: removed, *old the dead
 * supervisor's PID (0 if it names none). -1 with a message: ENOENT (nothing
 * has the name), EBUSY (a live supervisor, or one starting, holds it),
 * EPROTO (not a dcf segment), EACCES (another user's), EINVAL (bad name).
 */
int dcf_seg_remove_stale(const char *name, pid_t *old, char *err, size_t errlen);

/*
 * Is the supervisor recorded in hdr alive (its PID runs, with the start
 * time recorded)? 1 alive, 0 dead, -1 cannot tell: /proc/PID/stat could not
 * be read for another reason than the process being gone (errno says why,
 * e.g. EMFILE). Callers must not take -1 for dead.
 */
int dcf_seg_supervisor_alive(const struct dcf_hdr *h);

#endif
