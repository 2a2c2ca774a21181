/* open.c - dcf_store_open (store.h): the backend by the store's name. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backends.h"

void
dcf_store_redact(char *buf, size_t len, const char *where)
{
	const char *at, *colon, *pw, *rest = where;
	size_t n = 0;

	buf[0] = '\0';
	/* scheme://user:PASSWORD@host... */
	if ((colon = strstr(where, "://")) != NULL) {
		const char *auth = colon + 3;

		at = strchr(auth, '@');
		colon = strchr(auth, ':');
		if (at != NULL && colon != NULL && colon < at &&
		    strcspn(auth, "/?") > (size_t)(at - auth)) {
			n = (size_t)snprintf(buf, len, "%.*s:***", (int)(colon - where), where);
			rest = at;
		}
	}
	if (n >= len)
		return;
	/* ...?password=PASSWORD&... */
	if ((pw = strstr(rest, "password=")) != NULL) {
		size_t end = strcspn(pw + 9, "&");

		snprintf(buf + n, len - n, "%.*s***%s", (int)(pw + 9 - rest), rest, pw + 9 + end);
	} else {
		snprintf(buf + n, len - n, "%s", rest);
	}
}

struct dcf_store *
dcf_store_open(const struct dcf_store_open_opts *o, char *err, size_t errlen)
{
	if (o->where == NULL || o->where[0] == '\0') {
		snprintf(err, errlen, "a store needs a path");
		errno = EINVAL;
		return NULL;
	}
	if (dcf_store_is_url(o->where))
		return dcf_store_pg_open(o, err, errlen);
	return dcf_store_sqlite_open(o, err, errlen);
}
