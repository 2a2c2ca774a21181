/*
 * dcf-hashtree - the SHA-256 of every regular file under a directory tree,
 * computed in parallel by a libdcf pool: one task per file, its input the
 * path, its output the digest. Prints sha256sum(1)'s "DIGEST  PATH" lines,
 * sorted by path in byte order, so this is the check:
 *
 *     find DIR -type f -exec sha256sum {} + | LC_ALL=C sort -t ' ' -k3
 *
 *     dcf-hashtree [-j N] [--name NAME] [--attempts N] DIR
 *
 * Kill its workers while it runs (dcf-status --nodes --name NAME lists
 * them): the answer does not change. A file that cannot be read is reported
 * on standard error and the exit status is 1; bad usage exits 2.
 *
 * One option is not in the usage: --slow MS makes every task sleep MS
 * milliseconds first, so that a test can kill workers in the middle of tasks.
 */
#include <err.h>
#include <errno.h>
#include <fts.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sha2.h>

#include <dcf.h>

/* What every task needs, given to dcf_pool_start: each worker has a copy. */
struct job {
	unsigned slow_ms;
};

/*
 * The task function, in a worker process: the input is a path (not
 * NUL-terminated), the output its digest in hex. A file that cannot be
 * read is this function's answer, not a crash: it returns errno, which
 * comes back as the result's code.
 */
static int
hash_file(const void *in, size_t in_len, void *out, size_t *out_len, void *arg)
{
	const struct job *job = arg;
	char path[PATH_MAX];

	if (in_len >= sizeof(path) || *out_len < SHA256_DIGEST_STRING_LENGTH)
		return ENAMETOOLONG;
	memcpy(path, in, in_len);
	path[in_len] = '\0';
	if (job->slow_ms > 0) {
		struct timespec ts = {job->slow_ms / 1000, (long)(job->slow_ms % 1000) * 1000000};

		nanosleep(&ts, NULL);
	}
	if (SHA256File(path, out) == NULL)
		return errno ? errno : EIO;
	*out_len = SHA256_DIGEST_STRING_LENGTH - 1;
	return 0;
}

/* Every regular file under root (symbolic links are not followed). */
struct files {
	char **path;
	char **digest; /* by the same index; NULL until its result comes */
	size_t n, cap;
};

static int
by_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
walk(const char *root, struct files *f)
{
	char *roots[] = {(char *)root, NULL};
	FTSENT *e;
	FTS *fts;
	int bad = 0;

	f->cap = 256;
	if ((f->path = calloc(f->cap, sizeof(*f->path))) == NULL)
		err(1, "walking %s", root);
	if ((fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR, NULL)) == NULL)
		err(1, "%s", root);
	while ((e = fts_read(fts)) != NULL) {
		if (e->fts_info == FTS_DNR || e->fts_info == FTS_ERR || e->fts_info == FTS_NS) {
			warnx("%s: %s", e->fts_path, strerror(e->fts_errno));
			bad = 1;
		}
		if (e->fts_info != FTS_F)
			continue;
		if (f->n == f->cap) {
			f->cap *= 2;
			if ((f->path = reallocarray(f->path, f->cap, sizeof(*f->path))) == NULL)
				err(1, "walking %s", root);
		}
		if ((f->path[f->n++] = strdup(e->fts_path)) == NULL)
			err(1, "walking %s", root);
	}
	if (errno != 0)
		err(1, "%s", root);
	fts_close(fts);
	if (f->n > 1)
		qsort(f->path, f->n, sizeof(*f->path), by_path);
	if ((f->digest = calloc(f->n + 1, sizeof(*f->digest))) == NULL)
		err(1, "%s", root);
	return bad;
}

static unsigned
number(const char *opt, const char *s, unsigned max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v > max) {
		warnx("%s '%s': expected a whole number from 0 to %u", opt, s, max);
		exit(2);
	}
	return (unsigned)v;
}

static void
usage(void)
{
	fprintf(stderr, "usage: dcf-hashtree [-j N] [--name NAME] [--attempts N] DIR\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {{"jobs", required_argument, NULL, 'j'},
	    {"name", required_argument, NULL, 'n'}, {"attempts", required_argument, NULL, 'a'},
	    {"slow", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	struct dcf_pool_opts o;
	struct dcf_pool_stats st;
	struct dcf_result r;
	struct dcf_pool *p;
	struct files f = {0};
	struct job job = {0};
	int c, bad;

	dcf_pool_opts_init(&o);
	while ((c = getopt_long(argc, argv, "j:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.nodes = number("-j", optarg, 8192);
			break;
		case 'n':
			o.name = optarg;
			break;
		case 'a':
			o.attempts = number("--attempts", optarg, 1000);
			break;
		case 's':
			job.slow_ms = number("--slow", optarg, 60000);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	bad = walk(argv[optind], &f);
	/* Room for a whole path in, a digest out. */
	o.max_in = PATH_MAX;
	o.max_out = SHA256_DIGEST_STRING_LENGTH;

	if ((p = dcf_pool_start(&o, hash_file, &job)) == NULL)
		errx(1, "dcf_pool_start: %s", dcf_error());
	/* Task ids count from 0 in submission order: task i hashes f.path[i]. */
	for (size_t i = 0; i < f.n; i++)
		if (dcf_submit(p, f.path[i], strlen(f.path[i]), NULL) == -1)
			errx(1, "dcf_submit %s: %s", f.path[i], dcf_error());
	if (dcf_pool_stop(p) == -1)
		errx(1, "dcf_pool_stop: %s", dcf_error());
	while (dcf_wait(p, &r) == 0) {
		const char *path = f.path[r.id];

		if (r.status == DCF_OK) {
			if ((f.digest[r.id] = strndup(r.out, r.out_len)) == NULL)
				err(1, "%s", path);
		} else if (r.status == DCF_FAILED) {
			warnx("%s: %s", path, strerror(r.code));
			bad = 1;
		} else if (r.status == DCF_QUARANTINED) {
			warnx("%s: not hashed: its worker died %u times", path, r.attempts);
			bad = 1;
		} else {
			warnx("%s: not hashed: status %d", path, r.status);
			bad = 1;
		}
	}
	if (errno != ENODATA)
		errx(1, "dcf_wait: %s", dcf_error());
	if (dcf_pool_stats(p, &st, sizeof(st)) == -1)
		errx(1, "dcf_pool_stats: %s", dcf_error());
	dcf_pool_free(p);

	for (size_t i = 0; i < f.n; i++) {
		if (f.digest[i] != NULL)
			printf("%s  %s\n", f.digest[i], f.path[i]);
		free(f.digest[i]);
		free(f.path[i]);
	}
	free(f.digest);
	free(f.path);
	fprintf(stderr,
	    "dcf-hashtree: %llu tasks, %llu reruns, %llu worker deaths, %llu quarantined\n",
	    (unsigned long long)st.submitted, (unsigned long long)st.reruns,
	    (unsigned long long)st.deaths, (unsigned long long)st.quarantined);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	return bad;
}
