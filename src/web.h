/* web.h - dcf-web's private interfaces: its command line, its pages, its metrics. */
#ifndef DCF_WEB_H
#define DCF_WEB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dcf/snapshot.h"

struct web_opts {
	const char *name;       /* points into argv, or a literal */
	const char *listen;     /* ADDR:PORT as given */
	const char *store;      /* --store FILE, or NULL: NAME's default (a service's) */
	const char *token_file; /* --token-file FILE, or NULL: a new token */
	int control;            /* --control */
};

/* 0 ok; 1 printed help or version (exit 0); -1 printed a usage error (exit 2). */
int web_parse_options(int argc, char **argv, struct web_opts *o);

/*
 * ADDR:PORT into host (a numeric IPv4 address, or IPv6 in brackets, which
 * are taken off) and port. 0, or -1 with why.
 */
int web_split_listen(const char *s, char *host, size_t hostlen, uint16_t *port, char *why,
    size_t whylen);

/* A compiled-in file: its path ("/app.js"), type and bytes. */
struct web_asset {
	const char *path;
	const char *type;
	const unsigned char *data;
	size_t len;
};
/* The asset served at path, or NULL. */
const struct web_asset *web_asset(const char *path);

/*
 * The Prometheus text exposition of snapshot s (consistent), and of a
 * service's store when sc is not NULL (its unfinished and finished counts,
 * store.h). 0, or -1 with errno (the stream's).
 */
struct dcf_store_counts;
int web_metrics(FILE *f, const struct dcf_snap *s, const struct dcf_store_counts *sc);

#endif
