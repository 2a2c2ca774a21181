SHELL := /bin/bash
# dcf: plain GNU make. Honours CC, CFLAGS, LDFLAGS, PREFIX, DESTDIR.
# Short lines ("CC src/lib/books.c"); `make V=1` prints the whole commands.
CC      ?= cc
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR  ?= $(PREFIX)/share/man
VERSION := 0.1.0
# libdcf's ABI: the soname's number changes only when dcf.h breaks a caller.
SOMAJOR := 0
SONAME  := libdcf.so.$(SOMAJOR)
# The file itself: libdcf.so.0.1.0 (the soname's number is VERSION's first).
LIBFILE := libdcf.so.$(VERSION)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wcast-align -Wwrite-strings -Wformat=2 -Wundef \
           -Wvla -Wnull-dereference -Wdouble-promotion
CFLAGS  ?= -O2 -g
BSD_CFLAGS := $(shell pkg-config --cflags libbsd-overlay 2>/dev/null)
BSD_LIBS   := $(shell pkg-config --libs libbsd-overlay 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
SQLITE_LIBS := $(or $(shell pkg-config --libs sqlite3 2>/dev/null),-lsqlite3)
MHD_LIBS := $(or $(shell pkg-config --libs libmicrohttpd 2>/dev/null),-lmicrohttpd)
PQ_CFLAGS := $(or $(shell pkg-config --cflags libpq 2>/dev/null),-I/usr/include/postgresql)
PQ_LIBS := $(or $(shell pkg-config --libs libpq 2>/dev/null),-lpq)
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) -Iinclude -Isrc/include -DDCF_VERSION='"$(VERSION)"' $(BSD_CFLAGS) $(CFLAGS)
LIBS    := $(BSD_LIBS) -lrt -lpthread -lm

ifneq ($(V),1)
QCC = @printf '  CC      %s\n' '$<';
QLD = @printf '  LD      %s\n' '$@';
QAR = @printf '  AR      %s\n' '$@';
endif

LIB_HDR := $(wildcard src/include/dcf/*.h) include/dcf.h
LIB_SRC := $(wildcard src/lib/*.c)
LIB_OBJ := $(LIB_SRC:src/lib/%.c=build/lib/%.o)
INJ_OBJ := $(LIB_SRC:src/lib/%.c=build/inj/%.o)
# The store's backends (store.h): linked into the programs, never into libdcf.
STORE_SRC := $(wildcard src/store/*.c)
STORE_OBJ := $(STORE_SRC:src/store/%.c=build/store/%.o)
STORE_LIBS := build/libdcfstore.a $(SQLITE_LIBS) $(PQ_LIBS)
PROGS   := dcf-supervisor dcf-status dcf-submit dcf-ctl dcf-web
TEST_SRC := $(wildcard tests/test_*.c)
TESTS   := $(TEST_SRC:tests/%.c=build/tests/%)
# Supervisor and worker built with injection points, for the integration tests.
INJ_PROGS := build/inj/dcf-supervisor
# Programs built on the public API alone, the model of its use (examples/):
# linked with libdcf.a so they run from the tree.
EXAMPLES := $(patsubst examples/%.c,build/examples/%,$(wildcard examples/*.c))
# What the suites run besides themselves: the programs, the examples, the
# shared library whose symbols they check, and the pieces `make install` needs.
TEST_NEEDS := $(PROGS) $(INJ_PROGS) $(EXAMPLES) build/libdcf.so build/libdcf.a build/dcf.pc

.PHONY: all clean install uninstall check test run lint deps chaos asan ubsan sanitize FORCE
all: $(PROGS) build/libdcf.so build/dcf.pc $(EXAMPLES)

# The library's objects: position-independent, and nothing exported from
# libdcf.so but what dcf.h declares (DCF_API).
LIB_CFLAGS := -fPIC -fvisibility=hidden
build/lib/%.o: src/lib/%.c $(LIB_HDR) | build/lib
	$(QCC)$(CC) $(ALL_CFLAGS) $(LIB_CFLAGS) -c -o $@ $<
build/inj/%.o: src/lib/%.c $(LIB_HDR) | build/inj
	$(QCC)$(CC) $(ALL_CFLAGS) -DDCF_INJECT_ENABLE=1 -c -o $@ $<
build/libdcf.a: $(LIB_OBJ)
	$(QAR)$(AR) rcs $@ $^
build/$(LIBFILE): $(LIB_OBJ)
	$(QLD)$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined $(LDFLAGS) -o $@ $^ $(LIBS)
build/libdcf.so: build/$(LIBFILE)
	@ln -sf $(LIBFILE) build/$(SONAME) && ln -sf $(LIBFILE) $@
# dcf.pc names the paths it is installed under: it is made again whenever
# they differ from the last build's (`make install PREFIX=...` after `make`).
PC_VARS := $(PREFIX)|$(LIBDIR)|$(INCLUDEDIR)|$(VERSION)|$(LIBS)
build/dcf.pc.vars: FORCE | build/lib
	@echo '$(PC_VARS)' | cmp -s - $@ || echo '$(PC_VARS)' > $@
build/dcf.pc: tools/dcf.pc.in build/dcf.pc.vars Makefile | build/lib
	@sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS@|$(strip $(LIBS))|' $< > $@
build/libdcf-inj.a: $(INJ_OBJ)
	$(QAR)$(AR) rcs $@ $^
build/store/%.o: src/store/%.c src/store/backends.h $(LIB_HDR) | build/store
	$(QCC)$(CC) $(ALL_CFLAGS) $(PQ_CFLAGS) -c -o $@ $<
build/libdcfstore.a: $(STORE_OBJ)
	$(QAR)$(AR) rcs $@ $^
build/inj-store/%.o: src/store/%.c src/store/backends.h $(LIB_HDR) | build/inj-store
	$(QCC)$(CC) $(ALL_CFLAGS) $(PQ_CFLAGS) -DDCF_INJECT_ENABLE=1 -c -o $@ $<
build/libdcfstore-inj.a: $(STORE_SRC:src/store/%.c=build/inj-store/%.o)
	$(QAR)$(AR) rcs $@ $^
build/lib build/inj build/tests build/examples build/store build/inj-store:
	@mkdir -p $@

SUP_SRC := src/supervisor_main.c src/options.c src/opts.c
dcf-supervisor: $(SUP_SRC) src/opts.h build/libdcf.a build/libdcfstore.a
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(SUP_SRC) $(STORE_LIBS) build/libdcf.a $(LIBS)
STATUS_SRC := src/status_main.c src/status_options.c src/status_tasks.c src/opts.c
dcf-status: $(STATUS_SRC) src/status.h src/opts.h build/libdcf.a build/libdcfstore.a
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(STATUS_SRC) $(STORE_LIBS) build/libdcf.a $(LIBS)
SUBMIT_SRC := src/submit_main.c src/submit_options.c src/client.c src/opts.c
dcf-submit: $(SUBMIT_SRC) src/submit.h src/client.h src/opts.h build/libdcf.a
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(SUBMIT_SRC) build/libdcf.a $(LIBS)
CTL_SRC := src/ctl_main.c src/ctl_options.c src/client.c src/opts.c
dcf-ctl: $(CTL_SRC) src/ctl.h src/client.h src/opts.h build/libdcf.a
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(CTL_SRC) build/libdcf.a $(LIBS)
# dcf-web: the page's files are compiled in (web_assets.c includes them).
WEB_SRC := src/web_main.c src/web_options.c src/web_metrics.c src/web_assets.c src/ctl_options.c \
	src/opts.c
WEB_ASSETS := web/index.html web/app.js web/app.css web/favicon.svg
dcf-web: $(WEB_SRC) $(WEB_ASSETS) src/web.h src/ctl.h src/opts.h build/libdcf.a build/libdcfstore.a
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(WEB_SRC) $(STORE_LIBS) build/libdcf.a $(MHD_LIBS) $(LIBS)
build/inj/dcf-supervisor: $(SUP_SRC) src/opts.h build/libdcf-inj.a build/libdcfstore-inj.a
	$(QLD)$(CC) $(ALL_CFLAGS) -DDCF_INJECT_ENABLE=1 $(LDFLAGS) -o $@ $(SUP_SRC) build/libdcfstore-inj.a $(SQLITE_LIBS) $(PQ_LIBS) build/libdcf-inj.a $(LIBS)

# The examples include dcf.h and nothing else of dcf's, as a user's program would.
EX_CFLAGS := -std=gnu11 $(WARN) -Iinclude $(CFLAGS)
EX_LIBS_dcf-hashtree := $(or $(shell pkg-config --libs libmd 2>/dev/null),-lmd)
build/examples/%: examples/%.c include/dcf.h build/libdcf.a | build/examples
	$(QLD)$(CC) $(EX_CFLAGS) $(LDFLAGS) -o $@ $< build/libdcf.a $(EX_LIBS_$*) $(LIBS)

# The suites link the store with its test hooks (DCF_INJECT_ENABLE), as the library.
TEST_STORE_LIBS := build/libdcfstore-inj.a $(SQLITE_LIBS) $(PQ_LIBS)
build/tests/%: tests/%.c $(wildcard tests/*.h) tools/runlib.c tools/runlib.h build/libdcf-inj.a build/libdcfstore-inj.a | build/tests
	$(QLD)$(CC) $(ALL_CFLAGS) -DDCF_INJECT_ENABLE=1 $(LDFLAGS) -o $@ $< tools/runlib.c $(TEST_STORE_LIBS) build/libdcf-inj.a $(CMOCKA_LIBS) $(LIBS)
# The store's suites run a PostgreSQL server of their own (tests/pg.c).
build/tests/test_store build/tests/test_storeq build/tests/test_hosts: build/tests/%: tests/%.c tests/pg.c $(wildcard tests/*.h) tools/runlib.c tools/runlib.h build/libdcf-inj.a build/libdcfstore-inj.a | build/tests
	$(QLD)$(CC) $(ALL_CFLAGS) $(PQ_CFLAGS) -DDCF_INJECT_ENABLE=1 $(LDFLAGS) -o $@ $< tests/pg.c tools/runlib.c $(TEST_STORE_LIBS) build/libdcf-inj.a $(CMOCKA_LIBS) $(LIBS)

# The option table and both programs' parsers, in process.
# dcf-web's test drives Chromium through the DevTools protocol (tests/cdp.c; b64_pton: libresolv).
build/tests/test_web: tests/test_web.c tests/cdp.c tests/cdp.h $(wildcard tests/*.h) tools/runlib.c tools/runlib.h build/libdcf-inj.a build/libdcfstore-inj.a | build/tests
	$(QLD)$(CC) $(ALL_CFLAGS) -DDCF_INJECT_ENABLE=1 $(LDFLAGS) -o $@ $< tests/cdp.c tools/runlib.c $(TEST_STORE_LIBS) build/libdcf-inj.a $(CMOCKA_LIBS) $(LIBS) -lresolv
OPT_SRC := src/opts.c src/options.c src/status_options.c src/submit_options.c src/ctl_options.c \
	src/web_options.c
build/tests/test_opts: tests/test_opts.c $(OPT_SRC) src/opts.h $(LIB_HDR) \
    src/status.h src/submit.h src/ctl.h src/web.h tests/fuzz/fuzz.h build/libdcf-inj.a build/libdcfstore-inj.a | build/tests
	$(QLD)$(CC) $(ALL_CFLAGS) -DDCF_INJECT_ENABLE=1 -Isrc -Itests/fuzz $(LDFLAGS) -o $@ $< \
	    $(OPT_SRC) $(TEST_STORE_LIBS) build/libdcf-inj.a $(CMOCKA_LIBS) $(LIBS)

build/dcf-chaos: tools/chaos.c tools/runlib.c tools/runlib.h build/libdcf.a
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tools/chaos.c tools/runlib.c build/libdcf.a $(LIBS)

# The chaos soak: CHAOS_S seconds of kill storms against real runs.
CHAOS_S ?= 60
chaos: $(PROGS) build/dcf-chaos
	build/dcf-chaos --seconds $(CHAOS_S)

# Fast loop: every suite, no valgrind.
test: $(TESTS) $(TEST_NEEDS)
	@tools/run-tests.sh plain $(TESTS)

# The README's test command: installs missing packages, then every suite under valgrind.
check: deps
	@$(MAKE) --no-print-directory $(TESTS) $(TEST_NEEDS) build/dcf-chaos
	@tools/run-tests.sh valgrind $(TESTS) -- build/dcf-chaos --seconds 10

deps:
	@tools/install-deps.sh

# The README's demo: the default run, 3 networks of 50 worker processes.
run: deps
	@$(MAKE) --no-print-directory $(PROGS)
	./dcf-supervisor

# Sanitizer runs: the whole suite (and the programs it runs) rebuilt in a
# copy of the tree, so the normal build is untouched. CI runs `sanitize`.
SAN_CC ?= $(CC)
SAN_COMMON := -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=all
asan:     SAN := address
ubsan:    SAN := undefined
sanitize: SAN := address,undefined
asan ubsan sanitize: deps
	@rm -rf build/$@ && mkdir -p build/$@
	@cp -r Makefile README.md src include tests tools man examples web build/$@/
	@echo "== $@ build (-fsanitize=$(SAN))"
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(MAKE) --no-print-directory -C build/$@ CC=$(SAN_CC) \
		CFLAGS="$(SAN_COMMON) -fsanitize=$(SAN)" LDFLAGS="-fsanitize=$(SAN)" test

# Static analysis and formatting; CI enforces it.
LINT_DEFS := -std=gnu11 -D_GNU_SOURCE -DDCF_INJECT_ENABLE=1 -DDCF_VERSION=\"lint\"
LINT_SRC  := $(LIB_SRC) $(STORE_SRC) $(wildcard src/*.c tools/*.c examples/*.c)
FMT_SRC   := $(wildcard src/*.[ch] src/lib/*.c src/store/*.c src/include/dcf/*.h include/*.h tools/*.[ch] tests/*.[ch] tests/fuzz/*.[ch] examples/*.c)
lint:
	@tools/install-deps.sh lint
	@echo "== cppcheck"
	@cppcheck --quiet --enable=warning,performance,portability --inline-suppr --error-exitcode=1 \
		--std=c11 -D_GNU_SOURCE -DDCF_INJECT_ENABLE=1 -Iinclude -Isrc/include src tools tests examples
	@echo "== clang-tidy"
	@clang-tidy --quiet $(LINT_SRC) -- $(LINT_DEFS) -Iinclude -Isrc/include $(PQ_CFLAGS) $$(pkg-config --cflags libbsd-overlay) 2>&1 | \
		grep -v 'warnings generated' ; test $${PIPESTATUS[0]} -eq 0
	@echo "== clang-format"
	@clang-format --dry-run -Werror $(FMT_SRC)
	@echo "== man pages"
	@out=$$(groff -man -ww -z man/*.[1-9] 2>&1); [ -z "$$out" ] || { echo "$$out"; exit 1; }
	@echo "lint: clean"

install: $(PROGS) build/libdcf.so build/libdcf.a build/dcf.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
		$(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 755 $(PROGS) $(DESTDIR)$(BINDIR)/
	$(foreach s,1 3,$(if $(wildcard man/*.$s),install -m 644 $(wildcard man/*.$s) $(DESTDIR)$(MANDIR)/man$s/;))
	install -m 644 include/dcf.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 755 build/$(LIBFILE) $(DESTDIR)$(LIBDIR)/
	ln -sf $(LIBFILE) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libdcf.so
	install -m 644 build/libdcf.a $(DESTDIR)$(LIBDIR)/
	install -m 644 build/dcf.pc $(DESTDIR)$(LIBDIR)/pkgconfig/

# Removes exactly what install put there.
uninstall:
	rm -f $(PROGS:%=$(DESTDIR)$(BINDIR)/%) \
		$(patsubst man/%,$(DESTDIR)$(MANDIR)/man1/%,$(wildcard man/*.1)) \
		$(patsubst man/%,$(DESTDIR)$(MANDIR)/man3/%,$(wildcard man/*.3)) \
		$(DESTDIR)$(INCLUDEDIR)/dcf.h $(DESTDIR)$(LIBDIR)/$(LIBFILE) \
		$(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libdcf.so \
		$(DESTDIR)$(LIBDIR)/libdcf.a $(DESTDIR)$(LIBDIR)/pkgconfig/dcf.pc

clean:
	rm -rf build $(PROGS)
-include tools/bench/bench.mk
-include tests/fuzz/fuzz.mk
