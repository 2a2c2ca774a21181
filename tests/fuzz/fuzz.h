/*
 * fuzz.h - what the fuzz targets share: capturing what the code under test
 * prints, and a strict JSON check.
 *
 * Each target is one translation unit with libFuzzer; test_fuzz_replay.c
 * includes both targets into one, so everything here is static and the
 * header is read once.
 */
#ifndef DCF_FUZZ_H
#define DCF_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_FN static __attribute__((unused))

/* ---- output capture ----------------------------------------------- */

/*
 * While the code under test runs, stdout and stderr (the stdio variables,
 * which glibc lets a program assign) point at one memory stream, opened
 * once. File descriptors 1 and 2 stay as they are: libFuzzer and the
 * sanitizers keep reporting, and nothing is written anywhere per input.
 * Output past FZ_OUTLEN bytes is dropped.
 */
#define FZ_OUTLEN 8192

static FILE *fz_out_f, *fz_saved_out, *fz_saved_err;
static char fz_out_buf[FZ_OUTLEN + 1];

FZ_FN void
fz_capture(void)
{
	if (fz_out_f == NULL && (fz_out_f = fmemopen(fz_out_buf, FZ_OUTLEN, "w")) == NULL)
		abort();
	rewind(fz_out_f);
	fz_saved_out = stdout;
	fz_saved_err = stderr;
	stdout = fz_out_f;
	stderr = fz_out_f;
}

/* Put stdout and stderr back; what was printed, NUL-terminated. */
FZ_FN const char *
fz_release(size_t *len)
{
	long n;

	stdout = fz_saved_out;
	stderr = fz_saved_err;
	fflush(fz_out_f);
	n = ftell(fz_out_f);
	if (n < 0 || n > FZ_OUTLEN)
		abort();
	fz_out_buf[n] = '\0';
	if (len != NULL)
		*len = (size_t)n;
	return fz_out_buf;
}

/* For the replay test under valgrind: nothing left open at exit. */
FZ_FN void
fz_capture_close(void)
{
	if (fz_out_f != NULL)
		fclose(fz_out_f);
	fz_out_f = NULL;
}

/* ---- a strict JSON check (RFC 8259) ------------------------------- */

#define FZ_JSON_DEPTH 32

struct fz_json {
	const char *p, *end;
	int depth;
};

FZ_FN int fz_json_value(struct fz_json *j);

FZ_FN void
fz_json_ws(struct fz_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r'))
		j->p++;
}

FZ_FN int
fz_json_lit(struct fz_json *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return -1;
	j->p += n;
	return 0;
}

FZ_FN int
fz_json_digits(struct fz_json *j)
{
	const char *s = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s ? 0 : -1;
}

FZ_FN int
fz_json_number(struct fz_json *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (fz_json_digits(j) == -1)
		return -1;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (fz_json_digits(j) == -1)
			return -1;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (fz_json_digits(j) == -1)
			return -1;
	}
	return 0;
}

FZ_FN int
fz_json_string(struct fz_json *j)
{
	if (j->p >= j->end || *j->p != '"')
		return -1;
	for (j->p++; j->p < j->end; j->p++) {
		unsigned char c = (unsigned char)*j->p;

		if (c == '"') {
			j->p++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c != '\\')
			continue;
		if (++j->p >= j->end)
			return -1;
		if (*j->p == 'u') {
			for (int i = 0; i < 4; i++)
				if (++j->p >= j->end ||
				    strchr("0123456789abcdefABCDEF", *j->p) == NULL ||
				    *j->p == '\0')
					return -1;
		} else if (strchr("\"\\/bfnrt", *j->p) == NULL || *j->p == '\0') {
			return -1;
		}
	}
	return -1;
}

/* An object or array; open is '{' or '['. */
FZ_FN int
fz_json_compound(struct fz_json *j, char open)
{
	char close = open == '{' ? '}' : ']';

	if (++j->depth > FZ_JSON_DEPTH)
		return -1;
	j->p++;
	fz_json_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return 0;
	}
	for (;;) {
		if (open == '{') {
			if (fz_json_string(j) == -1)
				return -1;
			fz_json_ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return -1;
			fz_json_ws(j);
		}
		if (fz_json_value(j) == -1)
			return -1;
		fz_json_ws(j);
		if (j->p >= j->end)
			return -1;
		if (*j->p == close) {
			j->p++;
			j->depth--;
			return 0;
		}
		if (*j->p++ != ',')
			return -1;
		fz_json_ws(j);
	}
}

FZ_FN int
fz_json_value(struct fz_json *j)
{
	if (j->p >= j->end)
		return -1;
	switch (*j->p) {
	case '{':
	case '[':
		return fz_json_compound(j, *j->p);
	case '"':
		return fz_json_string(j);
	case 't':
		return fz_json_lit(j, "true");
	case 'f':
		return fz_json_lit(j, "false");
	case 'n':
		return fz_json_lit(j, "null");
	default:
		return fz_json_number(j);
	}
}

/* 0 if text[0..len) is exactly one JSON value, with white space around it. */
FZ_FN int
fz_json_valid(const char *text, size_t len)
{
	struct fz_json j = {text, text + len, 0};

	fz_json_ws(&j);
	if (fz_json_value(&j) == -1)
		return -1;
	fz_json_ws(&j);
	return j.p == j.end ? 0 : -1;
}

#endif
