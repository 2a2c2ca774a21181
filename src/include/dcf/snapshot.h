/*
 * snapshot.h - a read-only, consistent copy of a segment image (dcf-status).
 *
 * A snapshot takes no lock and writes nothing to the image. It copies the
 * header, the networks, the ring control blocks and the node table between
 * two reads of hdr->seq (tx.h): an unchanged even word means no transaction
 * applied while we copied; an unchanged odd word means one transaction's
 * journal was published and is being applied (or its holder died doing so),
 * and then the journal itself is in the copy: its stores are absolute, so
 * applying them to the copy gives the state after that transaction. Any
 * other outcome is a torn read and is tried again, a bounded number of times.
 *
 * The image is untrusted: it may be a live segment another process writes,
 * or arbitrary bytes (tests feed it corrupted images). The header copy is
 * checked by dcf_seg_check_hdr, as attach checks a segment, and a journal
 * entry by dcf_wal_entry_ok, as replay does; every other value is checked
 * before use, and nothing is ever read outside [img, img + size).
 *
 * A consistent snapshot satisfies, by books.h I4,
 *   pending + queued + running + completed + quarantined + skipped == total
 * (+ skipped, the ids --resume skipped) where pending = total - cnt.next_id
 * (0 for a stream whose input is still open) and queued is the sum of the
 * depths of the recovery ring and the network rings. A snapshot that does
 * not add up is never reported as consistent.
 */
#ifndef DCF_SNAPSHOT_H
#define DCF_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dcf/layout.h"

#define DCF_SNAP_TRIES  1000 /* torn reads tolerated by dcf-status */
#define DCF_SNAP_WHYLEN 160

/* Per network, counted from the node table of the copy. */
struct dcf_snap_net {
	uint32_t nodes; /* node slots of this network in use (not EMPTY) */
	uint32_t alive; /* STARTING + IDLE + BUSY */
	uint32_t by_state[DCF_NODE_NSTATES];
	uint32_t queue_depth; /* its ring */
	uint64_t completed;
};

/* One node, every value checked; the has_* flags say which are known. */
struct dcf_snap_node {
	uint32_t slot; /* index in the node table */
	int id_ok;     /* net and idx are in range */
	uint32_t net, idx;
	uint32_t state; /* enum dcf_node_state, DCF_NODE_NSTATES if invalid */
	int has_pid;    /* pid > 0 and the node is alive */
	int32_t pid;
	int has_task; /* BUSY with a task slot and id in range */
	uint64_t task_id;
	int has_run;
	uint64_t run_ns; /* how long the current task has been running */
	int has_hb;
	uint64_t hb_age_ns; /* age of the last heartbeat */
	uint64_t completed, failures, restarts;
	int bad; /* some stored value was out of range */
};

struct dcf_snap {
	int hdr_ok;                /* the header copy passed its checks: hdr may be shown */
	int consistent;            /* the counts below add up */
	int replayed;              /* a published journal was applied to the copy */
	unsigned tries;            /* copies taken */
	uint32_t anomalies;        /* out-of-range values outside the counts */
	uint64_t taken_ns;         /* CLOCK_MONOTONIC when copied; ages are against it */
	char why[DCF_SNAP_WHYLEN]; /* when not consistent */

	/* Derived; meaningful when consistent. */
	uint64_t total, pending, queued, running, completed, quarantined, reclaimed;
	uint64_t skipped; /* ids never run: --resume found them run, or bad input */
	int streaming;    /* the input has not ended: total is the tasks so far */
	uint32_t recovery_depth;
	uint32_t level_depth[DCF_LEVELS]; /* queued at each priority level (layout.h) */
	struct dcf_snap_net net[DCF_MAX_NETS];

	/* The copy: only [0, cfg.nets), [0, nrings), [0, cfg.max_nodes) are filled. */
	struct dcf_hdr hdr;
	struct dcf_net nets[DCF_MAX_NETS];
	struct dcf_ring rings[DCF_MAX_RINGS];
	struct dcf_node nodes[DCF_MAX_NODES];
};

/* A snapshot is about 1 MiB: allocate it once. NULL with errno on failure. */
struct dcf_snap *dcf_snap_new(void);
void dcf_snap_free(struct dcf_snap *s);

/*
 * Take a snapshot of the image [img, img + size) (8-byte aligned) as user
 * uid, copying at most `tries` times (at least once). 0: consistent. -1 with
 * errno and a message in err:
 *   EPROTO, EACCES, EINVAL  the header is not one we can read (hdr_ok 0);
 *   EAGAIN                  every copy was torn (hdr_ok 1, consistent 0);
 *   EUCLEAN                 a clean copy whose counts do not add up
 *                           (hdr_ok 1, consistent 0, s->why says which).
 */
int dcf_snap_take(struct dcf_snap *s, const void *img, size_t size, uid_t uid, unsigned tries,
    char *err, size_t errlen);

/* Node slot n of a snapshot (hdr_ok): 0 and *v filled, or -1 if EMPTY or out of range. */
int dcf_snap_node(const struct dcf_snap *s, uint32_t n, struct dcf_snap_node *v);

/* "starting", "idle", ..., or "invalid" for an out-of-range state; "empty" for EMPTY. */
const char *dcf_snap_state_name(uint32_t state);
const char *dcf_snap_sys_name(uint32_t sys_state); /* "running", ... or "invalid" */
const char *dcf_snap_work_name(uint32_t work); /* "sleep", "cpu", "none", "command" or "invalid" */

#endif
