/*
 * cdp.h - drive headless Chromium through the Chrome DevTools Protocol over
 * --remote-debugging-pipe, for tests that look at a page as a person would.
 *
 * No websocket and no library: Chromium reads NUL-terminated CDP JSON
 * messages on its fd 3 and writes replies and events on its fd 4; here both
 * are one end of a socketpair, so a Chromium that died cannot SIGPIPE the
 * test (send with MSG_NOSIGNAL).
 *
 * Rules the helper keeps:
 *  - Chromium runs in a process group of its own, with a private profile
 *    (and HOME and TMPDIR) under a temp dir that cdp_close removes;
 *  - its parent is a small "keeper" forked from the test: a child subreaper
 *    that reaps Chromium and every helper of it that outlives it (zygotes,
 *    crashpad), so none is left as a zombie of an init that does not reap;
 *    both get SIGKILL from the kernel if the thread that opened them dies;
 *  - every wait is for an event (poll on the pipe, the keeper's end, a
 *    Promise in the page) bounded by a CLOCK_MONOTONIC deadline; nothing
 *    sleeps;
 *  - cdp_close ends the browser with Browser.close, then SIGKILLs its
 *    process group (by the pgid it made) if it is still there after ~5 s,
 *    and returns once all of it is reaped.
 *
 * Set DCF_CDP_DEBUG=1 to see Chromium's own stdout and stderr; set
 * DCF_CHROMIUM to run another binary than /usr/bin/chromium (a path: PATH
 * is not searched). Link with -lresolv (b64_pton).
 */
#ifndef DCF_TESTS_CDP_H
#define DCF_TESTS_CDP_H

#include <stddef.h>
#include <sys/types.h>

struct cdp;

/*
 * Starts Chromium (chromium NULL: $DCF_CHROMIUM, else /usr/bin/chromium)
 * headless, w x h, and attaches to a new about:blank page. NULL with a
 * message in err on failure.
 */
struct cdp *cdp_open(const char *chromium, int w, int h, char *err, size_t errlen);

/* Navigates to url and waits for its load event, at most timeout_ms. 0 ok, -1 with err. */
int cdp_navigate(struct cdp *c, const char *url, int timeout_ms, char *err, size_t errlen);

/*
 * Evaluates expr in the page (awaiting a Promise); it must give a string.
 * Copies the string, UTF-8, into out (NUL-terminated, truncated to outlen
 * on a character boundary). 0 ok; -1 on a protocol error, an exception (its
 * text in out), a value that is not a string, or timeout.
 */
int cdp_eval(struct cdp *c, const char *expr, char *out, size_t outlen, int timeout_ms);

/*
 * Waits inside the page until the JS expression expr is truthy, re-checking
 * on each animation frame or 50 ms timer. 1 it became true, 0 it did not in
 * timeout_ms, -1 error (an exception thrown by expr is an error).
 */
int cdp_wait_true(struct cdp *c, const char *expr, int timeout_ms);

/* Writes a PNG screenshot of the page to path. 0 ok, -1 (the reason in cdp_error). */
int cdp_screenshot(struct cdp *c, const char *path, int timeout_ms);

/* Ends Chromium (gracefully, else SIGKILL to its group), removes its temp dir, frees c. NULL ok. */
void cdp_close(struct cdp *c);

/* The browser's process group (its pid), for tests that check it is gone; -1 if none. */
pid_t cdp_pgid(const struct cdp *c);

/* The temp dir that holds the profile, removed by cdp_close. */
const char *cdp_dir(const struct cdp *c);

/* Why the last call failed, when it has no err argument (cdp_wait_true, cdp_screenshot). */
const char *cdp_error(const struct cdp *c);

#endif
