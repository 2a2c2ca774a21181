/*
 * fuzz.h - what the fuzz targets share: capturing what the code under test
 * prints. (JSON is read back by the tests' one reader, tools/runlib.c.)
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

#endif
