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
/* where as it may be shown: a URL's password replaced by "***". */
void dcf_store_redact(char *buf, size_t len, const char *where);

#endif
