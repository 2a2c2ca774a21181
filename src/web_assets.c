/*
 * web_assets.c - every file the page needs, compiled in (web/): dcf-web
 * serves them from memory and needs no network and no file at run time.
 * The assembler includes each file's bytes (.incbin, paths from the top of
 * the tree, where make runs); the Makefile makes this object depend on them.
 */
#include <string.h>

#include "web.h"

#define EMBED(sym, file) \
	__asm__(".section .rodata\n.balign 16\n.type " #sym ", @object\n" #sym ":\n" \
	        ".incbin \"" file "\"\n" #sym "_end:\n.byte 0\n.previous\n"); \
	/* sym is a name, not an expression: nothing to put in parentheses. */ \
	extern const unsigned char sym[], sym##_end[] /* NOLINT(bugprone-macro-parentheses) */

EMBED(web_index_html, "web/index.html");
EMBED(web_app_js, "web/app.js");
EMBED(web_app_css, "web/app.css");
EMBED(web_favicon_svg, "web/favicon.svg");

const struct web_asset *
web_asset(const char *path)
{
	static struct web_asset assets[] = {
	    {"/", "text/html; charset=utf-8", NULL, 0},
	    {"/index.html", "text/html; charset=utf-8", NULL, 0},
	    {"/app.js", "text/javascript; charset=utf-8", NULL, 0},
	    {"/app.css", "text/css; charset=utf-8", NULL, 0},
	    {"/favicon.svg", "image/svg+xml", NULL, 0},
	};
	static const unsigned char *const start[] = {web_index_html, web_index_html, web_app_js,
	    web_app_css, web_favicon_svg};
	static const unsigned char *const end[] = {web_index_html_end, web_index_html_end,
	    web_app_js_end, web_app_css_end, web_favicon_svg_end};

	for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++)
		if (strcmp(path, assets[i].path) == 0) {
			assets[i].data = start[i];
			assets[i].len = (size_t)(end[i] - start[i]);
			return &assets[i];
		}
	return NULL;
}
