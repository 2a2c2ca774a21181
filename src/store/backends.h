/*
 * backends.h - what src/store/'s files share: each backend's opener, which
 * dcf_store_open (open.c) picks by the store's name, and the name made fit
 * to show.
 */
#ifndef DCF_STORE_BACKENDS_H
#define DCF_STORE_BACKENDS_H

#include <stddef.h>

#include "dcf/store.h"

/* An SQLite file (store_sqlite.c). */
struct dcf_store *dcf_store_sqlite_open(const struct dcf_store_open_opts *o, char *err,
    size_t errlen);
/* A PostgreSQL database, by a libpq URL (store_pg.c). */
struct dcf_store *dcf_store_pg_open(const struct dcf_store_open_opts *o, char *err, size_t errlen);
#ifdef DCF_INJECT_ENABLE
/* Tests: the next this many commits are applied and their answer lost (the connection closed). */
extern unsigned dcf_store_pg_lose_answers;
#endif
/* What both backends do alike (common.c). */
const char *dcf_store_mode_name(enum dcf_store_mode m); /* "service", "batch" */
/* A task's state by id: 0 (*state set), 1 not stored, -1 the store failed. */
typedef int (
    *dcf_store_state_fn)(void *arg, uint64_t id, uint32_t *state, char *err, size_t errlen);
/*
 * A new task's --after, before it is added: every one stored and none the
 * task itself (in_order: nor above it, ids given in order), else bad_dep and
 * it is not added; how many it waits for; the first that ended other than
 * done (the task ends DEP_FAILED at once, unless after_any). 0, 1 not to be
 * added, -1 the store failed.
 */
int dcf_store_deps_check(struct dcf_store_new *a, int in_order, dcf_store_state_fn state, void *arg,
    char *err, size_t errlen);
/* Its --after written out, "3,17", in *buf (NULL if none, or out of memory). */
const char *dcf_store_deps_text(const struct dcf_store_task *t, char **buf);
/* The dcf-ctl paused networks as 16 hex digits a word, and back. */
void dcf_store_paused_hex(const struct dcf_store_ctl *c, char *hex, size_t len);
void dcf_store_paused_parse(struct dcf_store_ctl *c, const char *v);
/* where as it may be shown: a URL's password replaced by "***". */
void dcf_store_redact(char *buf, size_t len, const char *where);

#endif
