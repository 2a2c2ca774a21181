/*
 * test_fuzz_replay.c - every input kept for the fuzz targets, run again.
 *
 * The targets' own LLVMFuzzerTestOneInput functions are included here,
 * renamed, and built with the normal compiler and no libFuzzer (and run
 * under valgrind by make check). Each reads every file in
 * tests/fuzz/<target>/corpus/ and tests/fuzz/<target>/regressions/: the
 * corpus keeps the paths the fuzzer found covered, the regressions are
 * inputs that once crashed or failed a check and must not again. A target
 * abort()s when one of its checks fails; the test then names the input.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* Each target once, under its own name. */
#define LLVMFuzzerTestOneInput fuzz_options_one
#include "fuzz/fuzz_options.c" /* NOLINT(bugprone-suspicious-include) */
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_segment_one
#include "fuzz/fuzz_segment.c" /* NOLINT(bugprone-suspicious-include) */
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_proto_one
#include "fuzz/fuzz_proto.c" /* NOLINT(bugprone-suspicious-include) */
#undef LLVMFuzzerTestOneInput

#define FUZZ_DIR "tests/fuzz"

/*
 * The segment images hold the uid of whoever made them (root, in CI);
 * for anyone else the snapshot stops at the owner check. So an image of
 * another uid is replayed as it is and once more as ours.
 */
static int
fuzz_segment_as_me(const uint8_t *data, size_t size)
{
	const size_t at = offsetof(struct dcf_hdr, uid);
	uint32_t uid = (uint32_t)getuid(), was;
	uint8_t *mine;

	fuzz_segment_one(data, size);
	if (size < sizeof(struct dcf_hdr))
		return 0;
	memcpy(&was, data + at, sizeof(was));
	if (was == uid)
		return 0;
	mine = malloc(size);
	assert_non_null(mine);
	memcpy(mine, data, size);
	memcpy(mine + at, &uid, sizeof(uid));
	fuzz_segment_one(mine, size);
	free(mine);
	return 0;
}

struct replay {
	const char *target;
	const char *sub; /* "corpus" or "regressions" */
	int (*one)(const uint8_t *, size_t);
	int required; /* the directory must exist and hold inputs */
};

static char cur_path[512]; /* the input being replayed; empty between inputs */

/* A target's abort(): say which input, then die of it as abort() wants. */
static void
on_abort(int sig)
{
	static const char pre[] = "test_fuzz_replay: a check failed on ";

	(void)sig;
	(void)!write(2, pre, sizeof(pre) - 1);
	(void)!write(2, cur_path, strlen(cur_path));
	(void)!write(2, "\n", 1);
	signal(SIGABRT, SIG_DFL);
}

static int
no_dots(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* The whole file, malloc'd; NULL with errno if it cannot be read. */
static uint8_t *
read_all(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;

	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || (buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL)
		goto fail;
	*len = (size_t)st.st_size;
	while (off < *len) {
		ssize_t n = read(fd, buf + off, *len - off);

		if (n <= 0) {
			errno = n == 0 ? EIO : errno;
			goto fail;
		}
		off += (size_t)n;
	}
	close(fd);
	return buf;
fail:
	e = errno;
	free(buf);
	close(fd);
	errno = e;
	return NULL;
}

static void
test_replay(void **state)
{
	const struct replay *r = *state;
	char dir[256];
	struct dirent **ents;
	int n;

	snprintf(dir, sizeof(dir), "%s/%s/%s", FUZZ_DIR, r->target, r->sub);
	n = scandir(dir, &ents, no_dots, alphasort);
	if (n == -1 && errno == ENOENT && !r->required) {
		print_message("%s: none\n", dir);
		return;
	}
	if (n == -1)
		fail_msg("%s: %s (run the tests from the top of the tree)", dir, strerror(errno));
	if (r->required && n == 0)
		fail_msg("%s: no inputs", dir);
	for (int i = 0; i < n; i++) {
		uint8_t *buf;
		size_t len;

		snprintf(cur_path, sizeof(cur_path), "%s/%s", dir, ents[i]->d_name);
		buf = read_all(cur_path, &len);
		if (buf == NULL) {
			fail_msg("%s: %s", cur_path, strerror(errno));
			break;
		}
		r->one(buf, len);
		free(buf);
		free(ents[i]);
	}
	cur_path[0] = '\0';
	free(ents);
	print_message("%s: %d inputs\n", dir, n);
}

/* Runs after a failed test too: a crash cmocka caught names its input. */
static int
teardown(void **state)
{
	(void)state;
	if (cur_path[0] != '\0')
		print_error("test_fuzz_replay: the failure was on %s\n", cur_path);
	cur_path[0] = '\0';
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	fs_free();
	fz_capture_close();
	return 0;
}

int
main(void)
{
	static const struct replay runs[] = {
	    {"options", "corpus", fuzz_options_one, 1},
	    {"options", "regressions", fuzz_options_one, 0},
	    {"segment", "corpus", fuzz_segment_as_me, 1},
	    {"segment", "regressions", fuzz_segment_as_me, 0},
	    {"proto", "corpus", fuzz_proto_one, 1},
	    {"proto", "regressions", fuzz_proto_one, 0},
	};
	const struct CMUnitTest tests[] = {
	    {"options corpus", test_replay, NULL, teardown, (void *)&runs[0]},
	    {"options regressions", test_replay, NULL, teardown, (void *)&runs[1]},
	    {"segment corpus", test_replay, NULL, teardown, (void *)&runs[2]},
	    {"segment regressions", test_replay, NULL, teardown, (void *)&runs[3]},
	    {"proto corpus", test_replay, NULL, teardown, (void *)&runs[4]},
	    {"proto regressions", test_replay, NULL, teardown, (void *)&runs[5]},
	};

	signal(SIGABRT, on_abort);
	return cmocka_run_group_tests(tests, NULL, group_teardown);
}
