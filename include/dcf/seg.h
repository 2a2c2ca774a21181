/*
 * seg.h - create, attach to and validate the shared segment (layout.h).
 *
 * The creating supervisor holds an exclusive flock(2) on the segment's open
 * file description for its whole life: the kernel drops it when the
 * supervisor dies, however it dies, so "is the old system still running?" is
 * answered by the kernel and cannot be fooled by a reused PID. Workers get
 * the mapping through fork and close their copy of the descriptor.
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
	uint64_t off_nets, off_rings, off_ring_slots, off_tasks, off_nodes, size;
	uint32_t nrings, ring_cap;
};

/* 0 if name is a valid instance name; else -1 and a message in err. */
int dcf_name_check(const char *name, char *err, size_t errlen);
/* Sanity of a configuration (counts and ranges); -1 and a message if not. */
int dcf_config_check(const struct dcf_config *cfg, char *err, size_t errlen);
int dcf_plan(const struct dcf_config *cfg, struct dcf_plan *p);

/*
 * Create the segment of `name` for cfg, initialise it and lock it. A stale
 * segment of that name (its supervisor is gone) is removed first and
 * *took_over set to the dead supervisor's PID (0 when there was none).
 * Errors, with a message in err: EBUSY (a live system has that name),
 * EACCES (owned by another user), EINVAL (bad name or config), or errno of
 * the failing call.
 */
int dcf_seg_create(struct dcf_seg *sg, const char *name, const struct dcf_config *cfg,
    pid_t *took_over, char *err, size_t errlen);

/*
 * Attach to a running system's segment. readonly: O_RDONLY and PROT_READ.
 * Errors: ENOENT (no such system), EACCES (another user's), EPROTO (another
 * layout or build), EINVAL (corrupt header), with a message in err.
 */
int dcf_seg_attach(struct dcf_seg *sg, const char *name, int readonly, char *err, size_t errlen);

/*
 * Check a segment image of `size` bytes: magic, format, sizes, uid, region
 * offsets. Touches nothing outside [img, img+size). 0 or -1 with errno as for
 * attach and a message.
 */
int dcf_seg_validate(const void *img, size_t size, uid_t uid, char *err, size_t errlen);

/* Point the handle's region pointers into a validated mapping. */
void dcf_seg_bind(struct dcf_seg *sg, void *base, size_t size);

/* Close the descriptor but keep the mapping (workers, after fork). */
void dcf_seg_close_fd(struct dcf_seg *sg);
/* Unmap and close. Never call while holding the lock. */
void dcf_seg_detach(struct dcf_seg *sg);
/* Remove the name (creator only), then detach. */
void dcf_seg_destroy(struct dcf_seg *sg);

/* True if the supervisor recorded in hdr is alive (PID and start time match). */
int dcf_seg_supervisor_alive(const struct dcf_hdr *h);

#endif
