/* web_options.c - dcf-web's command line: its entries of the option table (opts.h), stored. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcf/util.h"
#include "opts.h"
#include "web.h"

int
web_split_listen(const char *s, char *host, size_t hostlen, uint16_t *port, char *why,
    size_t whylen)
{
	const char *colon = strrchr(s, ':');
	unsigned char addr[sizeof(struct in6_addr)];
	uint64_t p;
	size_t n;

	if (colon == NULL) {
		snprintf(why, whylen, "expected ADDR:PORT, as 127.0.0.1:8080 or [::1]:8080");
		return -1;
	}
	n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= hostlen) {
		snprintf(why, whylen, "expected an address before the ':', as 127.0.0.1:8080");
		return -1;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1) {
		snprintf(why, whylen, "not a numeric IPv4 address, nor IPv6 in brackets");
		return -1;
	}
	if (dcf_parse_u64(colon + 1, 0, 65535, &p) == -1) {
		snprintf(why, whylen, "a port is a number from 0 (any free one) to 65535");
		return -1;
	}
	*port = (uint16_t)p;
	return 0;
}

int
web_parse_options(int argc, char **argv, struct web_opts *o)
{
	struct opt_parser p;
	struct opt_val v;
	enum opt_id id;
	enum opt_next r;

	memset(o, 0, sizeof(*o));
	o->name = "dcf";
	o->listen = "127.0.0.1:8080";
	opt_begin(&p, OPT_P_WEB, argc, argv);
	while ((r = opt_next(&p, &id, &v)) == OPT_FOUND) {
		switch (id) {
		case OPT_NAME:
			o->name = v.s;
			break;
		case OPT_LISTEN: {
			char host[64], why[128];
			uint16_t port;

			if (web_split_listen(v.s, host, sizeof(host), &port, why, sizeof(why)) ==
			    -1) {
				opt_bad_value(&p, id, v.s, why);
				return -1;
			}
			o->listen = v.s;
			break;
		}
		case OPT_STORE:
			o->store = v.s;
			break;
		case OPT_CONTROL:
			o->control = 1;
			break;
		case OPT_TOKEN_FILE:
			o->token_file = v.s;
			break;
		default:
			opt_usage_error(&p, "--%s is in the table but not stored (a bug)",
			    opt_table[id].name);
			return -1;
		}
	}
	if (r == OPT_EXIT)
		return 1;
	if (r == OPT_ERROR || opt_no_operands(&p) == OPT_ERROR)
		return -1;
	if (o->token_file != NULL && !o->control) {
		opt_usage_error(&p, "--token-file goes with --control");
		return -1;
	}
	return 0;
}
