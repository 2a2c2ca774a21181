/*
 * test_abi.c - libdcf as it is shipped. build/libdcf.so exports exactly the
 * functions that include/dcf.h declares DCF_API, no more and no fewer, and
 * its soname is libdcf.so.0. `make install PREFIX=TMP` puts in place what a
 * program needs to be built with nothing but the installed header and
 * `pkg-config dcf`: the README's example (extracted from README.md, so the
 * README cannot drift) is compiled against the installed copy, dynamically
 * and statically, and run; then `make uninstall PREFIX=TMP` must leave no
 * file behind.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"
#include "dcf.h"

#define SONAME "libdcf.so.0"
/* What the README's example prints: the sum of the squares of 1..1000. */
#define SQUARES_OUT "333833500\n"

static char tmp[64];

/* ---- helpers ------------------------------------------------------------ */

/*
 * Run cmd with /bin/sh, its stdout and stderr into the file out, with the
 * environment changed by env: "NAME=VALUE" sets, "NAME" unsets. Its wait
 * status, reaped within secs.
 */
static int
sh(const char *cmd, const char *out, const char *const *env, double secs)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		TU_CHILD_CHECK(fd >= 0, "%s: %s", out, strerror(errno));
		dup2(fd, 1);
		dup2(fd, 2);
		for (int i = 0; env != NULL && env[i] != NULL; i++) {
			if (strchr(env[i], '=') != NULL)
				putenv((char *)env[i]);
			else
				unsetenv(env[i]);
		}
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		TU_CHILD_CHECK(0, "exec /bin/sh: %s", strerror(errno));
	}
	return tu_waitpid_within(pid, secs);
}

/* sh, which must exit 0; what it printed (the caller frees it). */
static char *
sh_ok(const char *cmd, const char *const *env)
{
	char out[128];
	char *text;
	int st;

	snprintf(out, sizeof(out), "%s/sh.out", tmp);
	st = sh(cmd, out, env, 300.0);
	text = tu_slurp(out);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("'%s': %s; it said:\n%s", cmd, tu_status_str(st), text);
	return text;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a list of at most max, sorted, one a line, for messages. */
struct names {
	char *name[64];
	int n;
};

static void
names_add(struct names *ns, const char *s, size_t len)
{
	assert_true(ns->n < 64);
	ns->name[ns->n] = strndup(s, len);
	assert_non_null(ns->name[ns->n]);
	ns->n++;
}

static void
names_free(struct names *ns)
{
	for (int i = 0; i < ns->n; i++)
		free(ns->name[i]);
	ns->n = 0;
}

static void
names_text(struct names *ns, char *buf, size_t len)
{
	size_t k = 0;

	qsort(ns->name, (size_t)ns->n, sizeof(ns->name[0]), by_name);
	buf[0] = '\0';
	for (int i = 0; i < ns->n && k < len; i++)
		k += (size_t)snprintf(buf + k, len - k, "%s\n", ns->name[i]);
}

/* Every function dcf.h declares DCF_API: the name before its '('. */
static void
header_api(struct names *ns)
{
	char *h = tu_slurp("include/dcf.h");

	for (char *line = h; line != NULL && *line != '\0';) {
		char *nl = strchr(line, '\n');
		char *api, *paren, *end;

		if (nl != NULL)
			*nl = '\0';
		api = strstr(line, "DCF_API");
		if (api != NULL && strncmp(line, "#define", 7) != 0) {
			paren = strchr(api, '(');
			if (paren == NULL)
				fail_msg("dcf.h: a DCF_API declaration not on one line: %s", line);
			end = paren;
			while (end > api &&
			    (end[-1] == '_' || (end[-1] >= 'a' && end[-1] <= 'z') ||
			        (end[-1] >= 'A' && end[-1] <= 'Z') ||
			        (end[-1] >= '0' && end[-1] <= '9')))
				end--;
			names_add(ns, end, (size_t)(paren - end));
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
	free(h);
}

/* ---- the shared library --------------------------------------------------- */

static void
test_exports(void **state)
{
	struct names want = {0}, got = {0};
	char wtext[2048], gtext[2048];
	char *nm;

	(void)state;
	header_api(&want);
	assert_true(want.n >= 10);
	nm = sh_ok("nm -D --defined-only build/libdcf.so", NULL);
	/* "ADDRESS TYPE NAME": the name is the last word of each line. */
	for (char *line = nm; *line != '\0';) {
		char *nl = strchr(line, '\n');
		char *name;

		if (nl == NULL)
			nl = line + strlen(line);
		name = nl;
		while (name > line && name[-1] != ' ')
			name--;
		if (nl > name)
			names_add(&got, name, (size_t)(nl - name));
		line = *nl != '\0' ? nl + 1 : nl;
	}
	free(nm);
	names_text(&want, wtext, sizeof(wtext));
	names_text(&got, gtext, sizeof(gtext));
	if (strcmp(wtext, gtext) != 0)
		fail_msg("libdcf.so exports:\n%sbut dcf.h declares DCF_API:\n%s", gtext, wtext);
	print_message("libdcf.so exports the %d functions of dcf.h\n", got.n);
	names_free(&want);
	names_free(&got);
}

static void
test_soname(void **state)
{
	char link[64], want[64];
	char *d;
	ssize_t n;

	(void)state;
	d = sh_ok("readelf -d build/libdcf.so", NULL);
	if (strstr(d, "(SONAME)") == NULL || strstr(d, "Library soname: [" SONAME "]") == NULL)
		fail_msg("libdcf.so: no soname " SONAME " in its dynamic section:\n%s", d);
	free(d);
	/* The soname's link names the library file of this version. */
	n = readlink("build/" SONAME, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	snprintf(want, sizeof(want), "libdcf.so.%s", dcf_version());
	assert_string_equal(link, want);
}

/* ---- installed ------------------------------------------------------------- */

/* The README's "Use it from C" example: its first indented block that includes. */
static char *
readme_example(void)
{
	char *readme = tu_slurp("README.md");
	char *sec = strstr(readme, "\n## Use it from C\n");
	char *code, *out;
	size_t k = 0;

	assert_non_null(sec);
	code = strstr(sec, "\n    #include");
	assert_non_null(code);
	out = calloc(1, strlen(code) + 1);
	assert_non_null(out);
	for (char *line = code + 1; *line != '\0';) {
		char *nl = strchr(line, '\n');
		size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);

		if (len > 0 && strncmp(line, "    ", 4) != 0)
			break; /* the block ends at the first line not indented */
		if (len >= 4) {
			memcpy(out + k, line + 4, len - 4);
			k += len - 4;
		}
		out[k++] = '\n';
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	free(readme);
	assert_non_null(strstr(out, "dcf_pool_start"));
	return out;
}

/* Is there a file (anything but a directory) under dir? Its path into buf. */
static char found[PATH_MAX];

static int
not_dir(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DP)
		return 0;
	snprintf(found, sizeof(found), "%s", path);
	return 1;
}

static void
assert_no_file(const char *dir)
{
	found[0] = '\0';
	assert_int_equal(nftw(dir, not_dir, 16, FTW_PHYS), 0);
	assert_string_equal(found, "");
}

/* Run a program built from the example, with env; it must print SQUARES_OUT. */
static void
run_squares(const char *bin, const char *const *env)
{
	char cmd[PATH_MAX + 16], out[128], shm[64];
	char *text;
	pid_t pid;
	int st;

	snprintf(cmd, sizeof(cmd), "exec %s", bin);
	snprintf(out, sizeof(out), "%s/squares.out", tmp);
	pid = tu_fork();
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		TU_CHILD_CHECK(fd >= 0, "%s: %s", out, strerror(errno));
		dup2(fd, 1);
		for (int i = 0; env != NULL && env[i] != NULL; i++) {
			if (strchr(env[i], '=') != NULL)
				putenv((char *)env[i]);
			else
				unsetenv(env[i]);
		}
		execl(bin, bin, (char *)NULL);
		TU_CHILD_CHECK(0, "exec %s: %s", bin, strerror(errno));
	}
	st = tu_waitpid_within(pid, 120.0);
	text = tu_slurp(out);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("%s: %s, printed '%s'", bin, tu_status_str(st), text);
	assert_string_equal(text, SQUARES_OUT);
	free(text);
	/* Its pool, named pool-PID by default, is gone with it. */
	snprintf(shm, sizeof(shm), "/dev/shm/dcf-pool-%d", (int)pid);
	assert_int_equal(access(shm, F_OK), -1);
}

static void
test_install(void **state)
{
	/* A make above us (make test) must not lend this one its flags or jobs. */
	static const char *const clean_env[] = {"DESTDIR", "MAKEFLAGS", "MFLAGS", "MAKELEVEL",
	    NULL};
	char prefix[128], cmd[1024], pcpath[192], path[256], ldpath[192];
	const char *env[4];
	char *src, *text;
	FILE *f;

	(void)state;
	snprintf(prefix, sizeof(prefix), "%s/prefix", tmp);
	snprintf(cmd, sizeof(cmd), "make --no-print-directory install PREFIX=%s", prefix);
	free(sh_ok(cmd, clean_env));
	static const char *const installed[] = {"include/dcf.h", "lib/libdcf.so", "lib/" SONAME,
	    "lib/libdcf.a", "lib/pkgconfig/dcf.pc", "share/man/man3/dcf.3",
	    "share/man/man1/dcf-supervisor.1", "bin/dcf-supervisor", "bin/dcf-status"};
	for (size_t i = 0; i < sizeof(installed) / sizeof(installed[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", prefix, installed[i]);
		if (access(path, R_OK) != 0)
			fail_msg("make install: no %s", path);
	}

	/* pkg-config finds the installed dcf.pc, which names this prefix. */
	snprintf(pcpath, sizeof(pcpath), "PKG_CONFIG_PATH=%s/lib/pkgconfig", prefix);
	env[0] = pcpath;
	env[1] = NULL;
	text = sh_ok("pkg-config --modversion dcf; pkg-config --variable=prefix dcf", env);
	snprintf(cmd, sizeof(cmd), "%s\n%s\n", dcf_version(), prefix);
	assert_string_equal(text, cmd);
	free(text);

	src = readme_example();
	snprintf(path, sizeof(path), "%s/squares.c", tmp);
	assert_non_null(f = fopen(path, "we"));
	assert_int_equal(fputs(src, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	free(src);

	/*
	 * Dynamically, as the README says (with the flags of the build we are
	 * in: a sanitizer's build links its runtime). It needs libdcf.so.0.
	 */
	snprintf(cmd, sizeof(cmd),
	    "cd %s && ${CC:-cc} ${CFLAGS:-} -o squares squares.c $(pkg-config --cflags --libs dcf) "
	    "${LDFLAGS:-} && readelf -d squares",
	    tmp);
	text = sh_ok(cmd, env);
	if (strstr(text, "Shared library: [" SONAME "]") == NULL)
		fail_msg("squares does not need " SONAME ":\n%s", text);
	free(text);
	snprintf(ldpath, sizeof(ldpath), "LD_LIBRARY_PATH=%s/lib", prefix);
	env[0] = ldpath;
	snprintf(path, sizeof(path), "%s/squares", tmp);
	run_squares(path, env);

	/*
	 * Statically: libdcf.a in place of -ldcf, with the libraries that
	 * pkg-config --static adds for it. It needs no libdcf.so.
	 */
	env[0] = pcpath;
	snprintf(cmd, sizeof(cmd),
	    "cd %s && ${CC:-cc} ${CFLAGS:-} -o squares-static squares.c $(pkg-config --cflags dcf) "
	    "$(pkg-config --static --libs dcf | sed 's/-ldcf/-l:libdcf.a/') ${LDFLAGS:-} && "
	    "readelf -d squares-static",
	    tmp);
	text = sh_ok(cmd, env);
	if (strstr(text, "libdcf") != NULL)
		fail_msg("squares-static needs libdcf:\n%s", text);
	free(text);
	env[0] = "LD_LIBRARY_PATH";
	snprintf(path, sizeof(path), "%s/squares-static", tmp);
	run_squares(path, env);

	/* Uninstall takes back every file; the directories may stay. */
	snprintf(cmd, sizeof(cmd), "make --no-print-directory uninstall PREFIX=%s", prefix);
	free(sh_ok(cmd, clean_env));
	assert_no_file(prefix);
	assert_int_equal(tu_unlink_ours(), 0);
}

/* ---- fixtures -------------------------------------------------------------- */

static int
abi_setup(void **state)
{
	tu_setup(state);
	snprintf(tmp, sizeof(tmp), "/tmp/dcf-abi-%d-XXXXXX", (int)getpid());
	return mkdtemp(tmp) == NULL ? -1 : 0;
}

static int
abi_teardown(void **state)
{
	tu_teardown(state);
	tu_rm_tree(tmp);
	tmp[0] = '\0';
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_exports, abi_setup, abi_teardown),
	    cmocka_unit_test_setup_teardown(test_soname, abi_setup, abi_teardown),
	    cmocka_unit_test_setup_teardown(test_install, abi_setup, abi_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
