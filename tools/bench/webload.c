/*
 * webload.c - make bench's first page load of dcf-web (issue #15), in a real
 * browser: headless Chromium (tests/cdp.c) opens URL; prints one JSON line
 * with the navigation's load event and the first status frame on screen,
 * both in ms since the navigation started (the page's own clock,
 * performance.now()), so the browser's start-up is not counted, nor its
 * renderer's (a first navigation to the site's icon starts that).
 *
 *   webload URL
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../tests/cdp.h"

int
main(int argc, char **argv)
{
	char err[512], load[64], first[64], floor[64], warm[512];
	struct cdp *c;
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: webload URL\n");
		return 2;
	}
	if ((c = cdp_open(NULL, 1400, 1000, err, sizeof(err))) == NULL) {
		fprintf(stderr, "webload: %s\n", err);
		return 1;
	}
	/*
	 * First the site's icon: the browser starts the renderer process of the
	 * site for it (its start-up, not the page's load), and nothing of the
	 * page itself is cached by it.
	 */
	snprintf(warm, sizeof(warm), "%sfavicon.svg", argv[1]);
	if (cdp_navigate(c, warm, 30000, err, sizeof(err)) == -1)
		fprintf(stderr, "webload: %s\n", err);
	else if (cdp_navigate(c, argv[1], 30000, err, sizeof(err)) == -1)
		fprintf(stderr, "webload: %s\n", err);
	else if (cdp_wait_true(c, "window.dcfView && window.dcfView.firstFrameMs !== null",
	             30000) != 1)
		fprintf(stderr, "webload: no status frame on screen in 30 s\n");
	else if (cdp_eval(c, "String(performance.getEntriesByType('navigation')[0].loadEventEnd)",
	             load, sizeof(load), 5000) == -1 ||
	    cdp_eval(c, "String(window.dcfView.firstFrameMs)", first, sizeof(first), 5000) == -1)
		fprintf(stderr, "webload: %s\n", load);
	/* The floor: what this browser takes for a document of one request to the same server. */
	else if (snprintf(warm, sizeof(warm), "%sapi/config", argv[1]) < 0 ||
	    cdp_navigate(c, warm, 30000, err, sizeof(err)) == -1 ||
	    cdp_eval(c, "String(performance.getEntriesByType('navigation')[0].loadEventEnd)", floor,
	        sizeof(floor), 5000) == -1)
		fprintf(stderr, "webload: the floor: %s\n", err);
	else {
		printf("{\"load_ms\": %s, \"first_frame_ms\": %s, \"floor_ms\": %s}\n", load, first,
		    floor);
		rc = 0;
	}
	cdp_close(c);
	return rc;
}
