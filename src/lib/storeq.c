/*
 * storeq.c - group commit to the store from a thread of its own (storeq.h).
 *
 * Three kinds of batch, each owned by one side at a time:
 *   stage      the loop appends to it, under mu;
 *   cur        the committer's, outside mu, from the swap to its commit;
 *   done list  committed, waiting for the loop's collect (under mu).
 * A batch's strings live in its arena and are found by offset, so the
 * arena may grow while the loop appends; the committer turns offsets into
 * pointers once the batch is its own.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "dcf/inject.h"
#include "dcf/storeq.h"
#include "dcf/util.h"

#define NO_OFF       SIZE_MAX
#define RETRY_MIN_NS 10000000ULL   /* 10 ms, doubling */
#define RETRY_MAX_NS 1000000000ULL /* to 1 s */

struct qmeta {
	uint64_t cookie;
	size_t key, cmd, cwd, deps, host; /* arena offsets, or NO_OFF */
};

struct qbatch {
	struct dcf_store_new *add;
	struct qmeta *addm;
	uint32_t nadd, cadd;
	struct dcf_store_upd *upd;
	uint64_t *updc;
	uint32_t nupd, cupd;
	char *arena;
	size_t used, cap;
	struct dcf_store_task *woke; /* what the commit woke (store.h), told after its items */
	uint32_t nwoke, cwoke;
	/* A shared store's: what the commit claimed (strings in the arena, by qmeta), refused. */
	struct dcf_store_task *claimed;
	struct qmeta *claimedm;
	uint32_t nclaimed, cclaimed;
	uint32_t *refused; /* the changes refused, by index in upd, in order */
	uint32_t nrefused, crefused;
	struct qask {
		uint64_t id;
		uint32_t op;
		int64_t val;
	} * asked;
	uint32_t nasked, casked;
	int64_t next_ms;
	int has_next;
	struct qbatch *next; /* on the done list */
};

struct dcf_storeq {
	struct dcf_store *st;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct qbatch *stage, *spare;
	struct qbatch *done, **done_tail;
	int efd;
	int stopping;
	unsigned stop_tries;
	size_t backlog; /* items staged or committing, not yet collected */
	size_t lost;
	int fail_new; /* a failure the loop has not heard of */
	int fatal;    /* a commit that can never succeed: nothing more is committed */
	char fail_msg[512];
	/* Retention (set under mu, read by the committer under mu). */
	uint64_t keep_count, keep_age_ms;
	void (*gone)(void *, uint64_t);
	void *gone_arg;
	/* A shared store's (several hosts): the next claim asked for, the leases' renewal. */
	uint32_t claim_want, claim_pins;
	int asks_want;
	uint64_t renew_every_ns, renew_next_ns; /* CLOCK_MONOTONIC */
	uint64_t renewed_ns;                    /* the last renewal that went through began */
	int released;
	/* The committer's own. */
	int64_t finished;     /* finished tasks in the store, as counted (-1: not yet) */
	uint64_t age_next_ns; /* CLOCK_MONOTONIC: --keep AGE's next look, with or without commits */
	uint64_t pruned;
	struct gone_ctx *gctx; /* what a prune deleted, for gone(): made at the first prune */
};

static void
batch_free(struct qbatch *b)
{
	if (b == NULL)
		return;
	free(b->add);
	free(b->addm);
	free(b->upd);
	free(b->updc);
	free(b->arena);
	free(b->woke);
	free(b->claimed);
	free(b->claimedm);
	free(b->refused);
	free(b->asked);
	free(b);
}

static void
batch_reset(struct qbatch *b)
{
	b->nadd = b->nupd = b->nwoke = b->nclaimed = b->nrefused = b->nasked = 0;
	b->has_next = 0;
	b->used = 0;
	b->next = NULL;
}

static size_t
batch_items(const struct qbatch *b)
{
	return (size_t)b->nadd + b->nupd;
}

/*
 * Room for one more in two arrays kept side by side (n elements each, of
 * sizes size and side_size, capacity *cap): both grown together, or neither.
 */
static int
grow_pair(void **p, void **side, uint32_t n, uint32_t *cap, size_t size, size_t side_size)
{
	uint32_t c;
	void *np, *ns;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 64;
	if ((np = realloc(*p, (size_t)c * size)) == NULL)
		return -1;
	*p = np;
	if ((ns = realloc(*side, (size_t)c * side_size)) == NULL)
		return -1; /* *p is larger, *cap unchanged: a later call grows *side again */
	*side = ns;
	*cap = c;
	return 0;
}

/* Copy len bytes (a NUL added) into the arena; the offset, or NO_OFF when s is NULL. */
static int
put(struct qbatch *b, const void *s, size_t len, size_t *off)
{
	if (s == NULL) {
		*off = NO_OFF;
		return 0;
	}
	b->used = (b->used + 7) & ~(size_t)7; /* a --after's ids are read in place */
	if (b->cap - b->used < len + 1) {
		size_t c = b->cap ? b->cap : 4096;
		char *np;

		while (c - b->used < len + 1)
			c *= 2;
		if ((np = realloc(b->arena, c)) == NULL)
			return -1;
		b->arena = np;
		b->cap = c;
	}
	memcpy(b->arena + b->used, s, len);
	b->arena[b->used + len] = '\0';
	*off = b->used;
	b->used += len + 1;
	return 0;
}

static struct qbatch *
stage_locked(struct dcf_storeq *q)
{
	if (q->stage == NULL) {
		q->stage = q->spare != NULL ? q->spare : calloc(1, sizeof(struct qbatch));
		q->spare = NULL;
	}
	return q->stage;
}

/* The end of a staging, under mu: the committer told of one more item, or ENOMEM. */
static int
staged(struct dcf_storeq *q, int ok)
{
	if (ok) {
		q->backlog++;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	if (!ok) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int
dcf_storeq_add(struct dcf_storeq *q, const struct dcf_store_task *t, uint64_t cookie)
{
	struct qbatch *b;
	struct qmeta m = {.cookie = cookie};
	size_t used;

	pthread_mutex_lock(&q->mu);
	if ((b = stage_locked(q)) == NULL ||
	    grow_pair((void **)&b->add, (void **)&b->addm, b->nadd, &b->cadd, sizeof(*b->add),
	        sizeof(*b->addm)) == -1)
		return staged(q, 0);
	used = b->used;
	if (put(b, t->key, t->key != NULL ? strlen(t->key) : 0, &m.key) == -1 ||
	    put(b, t->cmd, t->cmd_len, &m.cmd) == -1 ||
	    put(b, t->cwd, t->cwd != NULL ? strlen(t->cwd) : 0, &m.cwd) == -1 ||
	    put(b, t->ndeps > 0 ? t->deps : NULL, (size_t)t->ndeps * sizeof(*t->deps), &m.deps) ==
	        -1 ||
	    put(b, t->pin_host, t->pin_host != NULL ? strlen(t->pin_host) : 0, &m.host) == -1) {
		b->used = used;
		return staged(q, 0);
	}
	memset(&b->add[b->nadd], 0, sizeof(b->add[0]));
	b->add[b->nadd].t = *t;
	b->addm[b->nadd++] = m;
	return staged(q, 1);
}

/* A change's slot in the stage, zeroed, mu held; NULL (mu released) if out of memory. */
static struct dcf_store_upd *
upd_slot(struct dcf_storeq *q, uint64_t cookie)
{
	struct qbatch *b;

	pthread_mutex_lock(&q->mu);
	if ((b = stage_locked(q)) == NULL ||
	    grow_pair((void **)&b->upd, (void **)&b->updc, b->nupd, &b->cupd, sizeof(*b->upd),
	        sizeof(*b->updc)) == -1) {
		(void)staged(q, 0);
		return NULL;
	}
	memset(&b->upd[b->nupd], 0, sizeof(b->upd[b->nupd]));
	b->updc[b->nupd] = cookie;
	return &b->upd[b->nupd++];
}

int
dcf_storeq_upd(struct dcf_storeq *q, uint32_t kind, const struct dcf_store_task *t, uint64_t cookie)
{
	struct dcf_store_upd *u = upd_slot(q, cookie);

	if (u == NULL)
		return -1;
	u->kind = kind;
	u->t = *t;
	u->t.key = NULL; /* its strings are not read */
	u->t.cmd = NULL;
	u->t.cwd = NULL;
	u->t.deps = NULL;
	u->t.after_ids = NULL;
	u->t.owner = NULL;
	u->t.pin_host = NULL;
	return staged(q, 1);
}

int
dcf_storeq_control(struct dcf_storeq *q, const struct dcf_store_ctl *c, uint64_t cookie)
{
	struct dcf_store_upd *u = upd_slot(q, cookie);

	if (u == NULL)
		return -1;
	u->kind = DCF_SU_CONTROL;
	u->ctl = *c;
	return staged(q, 1);
}

int
dcf_storeq_ask(struct dcf_storeq *q, uint64_t id, uint32_t op, int64_t val)
{
	struct dcf_store_upd *u = upd_slot(q, DCF_STOREQ_ASK | id);

	if (u == NULL)
		return -1;
	u->kind = DCF_SU_ASK;
	u->t.id = id;
	u->ask_op = op;
	u->ask_val = val;
	return staged(q, 1);
}

static void
wake_loop(struct dcf_storeq *q)
{
	uint64_t one = 1;

	(void)!write(q->efd, &one, sizeof(one));
}

/* The batch's offsets as pointers: it is the committer's now, its arena fixed. */
static void
resolve(struct qbatch *b)
{
	for (uint32_t i = 0; i < b->nadd; i++) {
		struct dcf_store_task *t = &b->add[i].t;
		const struct qmeta *m = &b->addm[i];

		t->key = m->key == NO_OFF ? NULL : b->arena + m->key;
		t->cmd = m->cmd == NO_OFF ? "" : b->arena + m->cmd;
		t->cwd = m->cwd == NO_OFF ? NULL : b->arena + m->cwd;
		t->deps = m->deps == NO_OFF ? NULL : (const uint64_t *)(void *)(b->arena + m->deps);
		t->pin_host = m->host == NO_OFF ? NULL : b->arena + m->host;
	}
}

/* store.h's woke callback: kept with the batch (the committer's), told after its items. */
static int
on_woke(void *arg, const struct dcf_store_task *t)
{
	struct qbatch *b = arg;

	if (b->nwoke == b->cwoke) {
		uint32_t c = b->cwoke ? b->cwoke * 2 : 16;
		struct dcf_store_task *n = realloc(b->woke, c * sizeof(*n));

		if (n == NULL)
			return -1;
		b->woke = n;
		b->cwoke = c;
	}
	b->woke[b->nwoke++] = *t;
	return 0;
}

/* store.h's claimed callback: the task and its strings kept with the batch. */
static int
on_claimed(void *arg, const struct dcf_store_task *t)
{
	struct qbatch *b = arg;
	struct qmeta m = {.cookie = DCF_STOREQ_CLAIMED | t->id,
	    .key = NO_OFF,
	    .deps = NO_OFF,
	    .host = NO_OFF};
	size_t used = b->used;

	if (grow_pair((void **)&b->claimed, (void **)&b->claimedm, b->nclaimed, &b->cclaimed,
	        sizeof(*b->claimed), sizeof(*b->claimedm)) == -1)
		return -1;
	if (put(b, t->cmd, t->cmd_len, &m.cmd) == -1 ||
	    put(b, t->cwd, t->cwd != NULL ? strlen(t->cwd) : 0, &m.cwd) == -1) {
		b->used = used;
		return -1;
	}
	b->claimed[b->nclaimed] = *t;
	b->claimed[b->nclaimed].key = NULL;
	b->claimed[b->nclaimed].after_ids = NULL;
	b->claimed[b->nclaimed].owner = NULL;
	b->claimed[b->nclaimed].pin_host = NULL;
	b->claimed[b->nclaimed].deps = NULL;
	b->claimedm[b->nclaimed++] = m;
	return 0;
}

/* t: the refused change's own (store.h: &upd[i].t), so its index is known. */
static int
on_refused(void *arg, const struct dcf_store_task *t)
{
	struct qbatch *b = arg;
	const struct dcf_store_upd *u =
	    (const struct dcf_store_upd *)(const void *)((const char *)t -
	        offsetof(struct dcf_store_upd, t));

	if (u < b->upd || u >= b->upd + b->nupd)
		return 0; /* not one of this batch's: cannot be */
	if (b->nrefused == b->crefused) {
		uint32_t c = b->crefused ? b->crefused * 2 : 16;
		uint32_t *n = realloc(b->refused, c * sizeof(*n));

		if (n == NULL)
			return -1;
		b->refused = n;
		b->crefused = c;
	}
	b->refused[b->nrefused++] = (uint32_t)(u - b->upd);
	return 0;
}

static int
on_asked(void *arg, uint64_t id, uint32_t op, int64_t val)
{
	struct qbatch *b = arg;

	if (b->nasked == b->casked) {
		uint32_t c = b->casked ? b->casked * 2 : 16;
		struct qask *n = realloc(b->asked, c * sizeof(*n));

		if (n == NULL)
			return -1; /* the rest are dropped, as a crash would */
		b->asked = n;
		b->casked = c;
	}
	b->asked[b->nasked++] = (struct qask){.id = id, .op = op, .val = val};
	return 0;
}

/* Sleep ns unless stop comes first (mu held). */
static void
pause_locked(struct dcf_storeq *q, uint64_t ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ns / 1000000000ULL);
	ts.tv_nsec += (long)(ns % 1000000000ULL);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (!q->stopping)
		if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT)
			break;
}

#define PRUNE_MAX 10000 /* tasks deleted in one transaction */

/* What a prune deleted: told to gone() once its transaction has committed. */
struct gone_ctx {
	void (*gone)(void *, uint64_t);
	void *arg;
	uint64_t ids[PRUNE_MAX];
	uint32_t n;
};

static int
on_pruned(void *arg, const struct dcf_store_task *t)
{
	struct gone_ctx *g = arg;

	if (g->n < PRUNE_MAX)
		g->ids[g->n++] = t->id;
	return 0;
}

/* One prune; then, its rows gone for good, their files. Deleted, or -1. */
static int64_t
prune_once(struct dcf_storeq *q, struct gone_ctx *g, uint64_t keep, uint64_t before, char *err,
    size_t errlen)
{
	int64_t n;

	g->n = 0;
	n = dcf_store_prune(q->st, keep, before, PRUNE_MAX, on_pruned, g, err, errlen);
	for (uint32_t i = 0; n > 0 && g->gone != NULL && i < g->n; i++)
		g->gone(g->arg, g->ids[i]);
	if (n > 0) {
		if (q->finished >= 0)
			q->finished -= n;
		__atomic_add_fetch(&q->pruned, (uint64_t)n, __ATOMIC_RELAXED);
	}
	return n;
}

/* Count what a batch finished. */
static uint64_t
batch_ended(const struct qbatch *b)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < b->nupd; i++)
		n += b->upd[i].kind == DCF_SU_ENDED;
	for (uint32_t i = 0; i < b->nwoke; i++)
		n += b->woke[i].state == DCF_SS_DEP_FAILED; /* ended with another */
	return n;
}

/*
 * Retention, after a commit (mu not held: the store is the committer's).
 * A failure is said once, as a commit's, and tried again after the next.
 */
static void
retain(struct dcf_storeq *q, uint64_t ended)
{
	struct gone_ctx *gp;
	uint64_t keep, age_ms, now;
	char err[512];
	int64_t n;
	int age_due;

	pthread_mutex_lock(&q->mu);
	keep = q->keep_count;
	age_ms = q->keep_age_ms;
	gp = q->gctx;
	if (gp != NULL) {
		gp->gone = q->gone;
		gp->arg = q->gone_arg;
	}
	pthread_mutex_unlock(&q->mu);
	if (keep == 0 && age_ms == 0)
		return;
	/* The age's next look set first: a look that fails (here or below) waits for it. */
	if ((age_due = age_ms > 0 && dcf_now_ns() >= q->age_next_ns)) {
		uint64_t every = age_ms / 10 < 60000 ? age_ms / 10 : 60000;

		q->age_next_ns = dcf_now_ns() + (every > 0 ? every : 1) * 1000000ULL;
	}
	if (gp == NULL) {
		if ((gp = calloc(1, sizeof(*gp))) == NULL)
			return; /* tried again after the next commit */
		pthread_mutex_lock(&q->mu);
		q->gctx = gp;
		gp->gone = q->gone;
		gp->arg = q->gone_arg;
		pthread_mutex_unlock(&q->mu);
	}
	if (q->finished >= 0) {
		q->finished += (int64_t)ended;
	} else if (keep > 0) {
		struct dcf_store_counts c;

		/*
		 * Counted once, and only when it may matter: there are no more
		 * tasks than ids, and the highest id costs nothing to read.
		 */
		if (dcf_store_count_some(q->st, &c, DCF_COUNT_MAX_ID, err, sizeof(err)) == -1)
			goto fail;
		if (c.max_id > keep + keep / 10) {
			if (dcf_store_count_some(q->st, &c, DCF_COUNT_FINISHED, err, sizeof(err)) ==
			    -1)
				goto fail;
			q->finished = (int64_t)c.finished;
		}
	}
	if (keep > 0 && q->finished >= 0 && (uint64_t)q->finished > keep + keep / 10) {
		do {
			if ((n = prune_once(q, gp, keep, 0, err, sizeof(err))) == -1)
				goto fail;
		} while (n == PRUNE_MAX);
	}
	now = dcf_wall_ns();
	if (age_due) {
		do {
			if ((n = prune_once(q, gp, UINT64_MAX, now - age_ms * 1000000ULL, err,
			         sizeof(err))) == -1)
				goto fail;
		} while (n == PRUNE_MAX);
	}
	return;
fail:
	pthread_mutex_lock(&q->mu);
	snprintf(q->fail_msg, sizeof(q->fail_msg), "retention: %.480s", err);
	q->fail_new = 1;
	wake_loop(q);
	pthread_mutex_unlock(&q->mu);
}

/* When the leases are renewed next (CLOCK_MONOTONIC ns), mu held. */
static void
renew_set_locked(struct dcf_storeq *q, uint64_t at)
{
	q->renew_next_ns = at;
}

/* Something for the committer to do, mu held. */
static int
has_work_locked(const struct dcf_storeq *q)
{
	if (q->stage != NULL && batch_items(q->stage) > 0)
		return 1;
	return q->renew_every_ns > 0 &&
	    (q->claim_want > 0 || q->asks_want || dcf_now_ns() >= q->renew_next_ns);
}

static void *
committer(void *arg)
{
	struct dcf_storeq *q = arg;
	char err[512];
	uint64_t ended;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct qbatch *cur;
		struct dcf_store_batch sb;
		uint64_t wait_ns = RETRY_MIN_NS;
		unsigned tries = 0;
		size_t arena_used;
		uint64_t renew_began;
		int shared_work;

		while (!q->stopping && (q->fatal || !has_work_locked(q))) {
			/* Woken by work, or by a time: a renewal's, or --keep AGE's next look. */
			uint64_t at = q->renew_every_ns > 0 ? q->renew_next_ns : UINT64_MAX;
			int aged = q->keep_age_ms > 0 && !q->fatal;

			if (aged && q->age_next_ns < at)
				at = q->age_next_ns;
			if (q->fatal || at == UINT64_MAX) {
				pthread_cond_wait(&q->cv, &q->mu);
				continue;
			}
			if (dcf_now_ns() < at) {
				struct timespec ts = {.tv_sec = (time_t)(at / 1000000000ULL),
				    .tv_nsec = (long)(at % 1000000000ULL)};

				(void)pthread_cond_timedwait(&q->cv, &q->mu, &ts);
			}
			if (aged && !has_work_locked(q) && dcf_now_ns() >= q->age_next_ns) {
				/* Finished tasks age while nothing is committed too. */
				pthread_mutex_unlock(&q->mu);
				retain(q, 0);
				pthread_mutex_lock(&q->mu);
			}
		}
		/* Stopping, only the release is left to do (tried a few times, then given up). */
		shared_work = q->renew_every_ns > 0 && !q->fatal &&
		    (q->stopping ? !q->released
		                 : q->claim_want > 0 || q->asks_want ||
		                dcf_now_ns() >= q->renew_next_ns);
		if ((q->stage == NULL || batch_items(q->stage) == 0) && !shared_work)
			break;
		if (stage_locked(q) == NULL)
			break; /* no memory for a batch of nothing: the leases end by themselves */
		if (q->fatal) {
			/* Never after the batch that failed: a change without its task. */
			q->lost += batch_items(q->stage);
			q->backlog -= batch_items(q->stage);
			break;
		}
		cur = q->stage;
		q->stage = NULL;
		sb = (struct dcf_store_batch){.claim = q->stopping ? 0 : q->claim_want,
		    .claim_pins = q->claim_pins,
		    .release = q->stopping && q->renew_every_ns > 0,
		    .asks = q->asks_want && !q->stopping,
		    .renew =
		        q->renew_every_ns > 0 && !q->stopping && dcf_now_ns() >= q->renew_next_ns};
		renew_began = dcf_now_ns();
		q->claim_want = 0;
		q->asks_want = 0;
		pthread_mutex_unlock(&q->mu);
		resolve(cur);
		arena_used = cur->used; /* what a claim adds goes after, again at each try */
		DCF_INJECT(DCF_OP_STORE, DCF_STEP_STORE_TAKEN);
		sb.add = cur->add;
		sb.nadd = cur->nadd;
		sb.upd = cur->upd;
		sb.nupd = cur->nupd;
		sb.woke = on_woke;
		sb.woke_arg = cur;
		sb.refused = on_refused;
		sb.refused_arg = cur;
		sb.claimed = on_claimed;
		sb.claimed_arg = cur;
		sb.asked = on_asked;
		sb.asked_arg = cur;
		while (cur->nwoke = cur->nclaimed = cur->nrefused = cur->nasked = 0,
		    cur->used = arena_used, dcf_store_commit(q->st, &sb, err, sizeof(err)) == -1) {
			/*
			 * A corrupt store, or a row that is there already (something
			 * else writes the store): the same commit fails again however
			 * often it is tried, so it is not, and the loop is told to stop.
			 */
			int e = errno, never = e == EUCLEAN || e == EEXIST || e == EINVAL;

			pthread_mutex_lock(&q->mu);
			tries++;
			snprintf(q->fail_msg, sizeof(q->fail_msg), "%s", err);
			q->fail_new = 1;
			q->fatal |= never;
			wake_loop(q);
			while (q->fatal && !q->stopping)
				pthread_cond_wait(&q->cv, &q->mu);
			if (q->fatal || (q->stopping && tries >= q->stop_tries)) {
				q->released = 1; /* given up: the leases end by themselves */
				q->lost += batch_items(cur);
				q->backlog -= batch_items(cur);
				batch_free(cur);
				cur = NULL;
				pthread_mutex_unlock(&q->mu);
				break;
			}
			pause_locked(q, wait_ns);
			pthread_mutex_unlock(&q->mu);
			wait_ns = wait_ns * 2 > RETRY_MAX_NS ? RETRY_MAX_NS : wait_ns * 2;
		}
		if (cur == NULL) {
			pthread_mutex_lock(&q->mu);
			continue;
		}
		DCF_INJECT(DCF_OP_STORE, DCF_STEP_STORE_COMMITTED);
		ended = batch_ended(cur);
		if (sb.claim > 0) {
			cur->has_next = 1;
			cur->next_ms = sb.next_ms;
		}
		pthread_mutex_lock(&q->mu);
		if (sb.renew) {
			renew_set_locked(q, dcf_now_ns() + q->renew_every_ns);
			/*
			 * The try that went through began no earlier than this. One
			 * that began past two thirds of the lease (this process was
			 * stopped, or starved) renewed what others may hold by now:
			 * the leases stay lost, and the loop's guard says so.
			 */
			if (renew_began <= q->renewed_ns + q->renew_every_ns * 2)
				__atomic_store_n(&q->renewed_ns, renew_began, __ATOMIC_RELEASE);
		}
		if (sb.release)
			q->released = 1;
		*q->done_tail = cur; /* the loop's from now on */
		q->done_tail = &cur->next;
		wake_loop(q);
		pthread_mutex_unlock(&q->mu);
		/* Retention after the answers are out: a prune delays nobody's. */
		retain(q, ended);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

struct dcf_storeq *
dcf_storeq_start(struct dcf_store *st, char *err, size_t errlen)
{
	struct dcf_storeq *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;
	int e;

	if (q == NULL) {
		snprintf(err, errlen, "the store's committer: out of memory");
		return NULL;
	}
	q->st = st;
	q->done_tail = &q->done;
	q->finished = -1;
	if (st->shared) {
		/* A third of the lease: two renewals may fail before it ends. */
		q->renew_every_ns = (uint64_t)st->lease_ms * 1000000ULL / 3;
		if (q->renew_every_ns == 0)
			q->renew_every_ns = 1;
		renew_set_locked(q, dcf_now_ns() + q->renew_every_ns);
		q->renewed_ns = dcf_now_ns(); /* the open took the store: nothing held yet */
	}
	if ((q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		e = errno;
		snprintf(err, errlen, "the store's committer: eventfd: %s", strerror(e));
		free(q);
		errno = e;
		return NULL;
	}
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((e = pthread_create(&q->th, NULL, committer, q)) != 0) {
		snprintf(err, errlen, "the store's committer: starting its thread: %s",
		    strerror(e));
		pthread_cond_destroy(&q->cv);
		pthread_mutex_destroy(&q->mu);
		close(q->efd);
		free(q);
		errno = e;
		return NULL;
	}
	return q;
}

void
dcf_storeq_set_retention(struct dcf_storeq *q, uint64_t keep_count, uint64_t keep_age_ms,
    void (*gone)(void *arg, uint64_t id), void *arg)
{
	pthread_mutex_lock(&q->mu);
	q->keep_count = keep_count;
	q->keep_age_ms = keep_age_ms;
	q->gone = gone;
	q->gone_arg = arg;
	pthread_mutex_unlock(&q->mu);
}

uint64_t
dcf_storeq_pruned(const struct dcf_storeq *q)
{
	return __atomic_load_n(&q->pruned, __ATOMIC_RELAXED);
}

uint64_t
dcf_storeq_renewed_ns(const struct dcf_storeq *q)
{
	return __atomic_load_n(&q->renewed_ns, __ATOMIC_ACQUIRE);
}

void
dcf_storeq_claim(struct dcf_storeq *q, uint32_t n, uint32_t pins)
{
	pthread_mutex_lock(&q->mu);
	q->claim_want = n;
	q->claim_pins = pins;
	if (n > 0)
		pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void
dcf_storeq_asks(struct dcf_storeq *q)
{
	pthread_mutex_lock(&q->mu);
	q->asks_want = 1;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

int
dcf_storeq_fd(const struct dcf_storeq *q)
{
	return q->efd;
}

size_t
dcf_storeq_backlog(const struct dcf_storeq *q)
{
	struct dcf_storeq *m = (struct dcf_storeq *)q;
	size_t n;

	pthread_mutex_lock(&m->mu);
	n = q->backlog;
	pthread_mutex_unlock(&m->mu);
	return n;
}

size_t
dcf_storeq_collect(struct dcf_storeq *q, void (*fn)(void *, const struct dcf_storeq_res *),
    void *arg, int *failed, char *err, size_t errlen)
{
	struct qbatch *list, *b;
	uint64_t v;
	size_t n = 0;

	(void)!read(q->efd, &v, sizeof(v));
	pthread_mutex_lock(&q->mu);
	list = q->done;
	q->done = NULL;
	q->done_tail = &q->done;
	*failed = q->fail_new ? 1 + q->fatal : 0;
	if (q->fail_new && err != NULL)
		snprintf(err, errlen, "%s", q->fail_msg);
	q->fail_new = 0;
	pthread_mutex_unlock(&q->mu);
	while ((b = list) != NULL) {
		list = b->next;
		for (uint32_t i = 0; i < b->nadd && fn != NULL; i++) {
			const struct dcf_store_task *t = &b->add[i].t;
			struct dcf_storeq_res r = {.cookie = b->addm[i].cookie,
			    .id = t->id,
			    .dup_of = b->add[i].dup_of,
			    .is_add = 1,
			    .bad_dep = b->add[i].bad_dep,
			    .cause = t->cause,
			    .state = t->state,
			    .waits = t->waits};

			fn(arg, &r);
		}
		for (uint32_t i = 0, ri = 0; i < b->nupd && fn != NULL; i++) {
			struct dcf_storeq_res r = {.cookie = b->updc[i], .id = b->upd[i].t.id};

			if (ri < b->nrefused && b->refused[ri] == i) {
				r.refused = 1;
				ri++;
			}
			fn(arg, &r);
		}
		for (uint32_t i = 0; i < b->nwoke && fn != NULL; i++) {
			const struct dcf_store_task *t = &b->woke[i];
			struct dcf_storeq_res r = {.cookie = DCF_STOREQ_WOKE | t->id,
			    .id = t->id,
			    .cause = t->cause,
			    .not_before_ns = t->not_before_ns,
			    .state = t->state,
			    .prio = t->prio};

			fn(arg, &r);
		}
		for (uint32_t i = 0; i < b->nasked && fn != NULL; i++) {
			struct dcf_storeq_res r = {.cookie = DCF_STOREQ_ASKED | b->asked[i].id,
			    .id = b->asked[i].id,
			    .ask_op = b->asked[i].op,
			    .ask_val = b->asked[i].val};

			fn(arg, &r);
		}
		for (uint32_t i = 0; i < b->nclaimed && fn != NULL; i++) {
			struct dcf_store_task *t = &b->claimed[i];
			const struct qmeta *m = &b->claimedm[i];
			struct dcf_storeq_res r = {.cookie = m->cookie,
			    .id = t->id,
			    .state = t->state,
			    .prio = t->prio,
			    .not_before_ns = t->not_before_ns,
			    .task = t};

			t->cmd = m->cmd == NO_OFF ? "" : b->arena + m->cmd;
			t->cwd = m->cwd == NO_OFF ? NULL : b->arena + m->cwd;
			fn(arg, &r);
		}
		if (b->has_next && fn != NULL) {
			struct dcf_storeq_res r = {.cookie = DCF_STOREQ_NEXT,
			    .next_ms = b->next_ms};

			fn(arg, &r);
		}
		n += batch_items(b);
		pthread_mutex_lock(&q->mu);
		q->backlog -= batch_items(b);
		batch_reset(b);
		if (q->spare == NULL) {
			q->spare = b;
			b = NULL;
		}
		pthread_mutex_unlock(&q->mu);
		batch_free(b);
	}
	return n;
}

int
dcf_storeq_stop(struct dcf_storeq *q, unsigned tries,
    void (*fn)(void *, const struct dcf_storeq_res *), void *arg, size_t *lost, char *err,
    size_t errlen)
{
	int failed;

	pthread_mutex_lock(&q->mu);
	q->stopping = 1;
	q->stop_tries = tries > 0 ? tries : 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->th, NULL);
	err[0] = '\0';
	(void)dcf_storeq_collect(q, fn, arg, &failed, err, errlen);
	*lost = q->lost;
	batch_free(q->stage);
	batch_free(q->spare);
	free(q->gctx);
	close(q->efd);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
	if (*lost > 0) {
		errno = EIO;
		return -1;
	}
	return 0;
}
