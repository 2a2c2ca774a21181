# Benchmarks (issues #6, #11, #12 and #13): `make bench` builds the programs below, runs every
# comparison side by side and writes docs/BENCHMARKS.md with its plots.
# Nothing here is a test: `make check` never runs it.
BENCH_BINS := build/bench/ring build/bench/floor build/bench/spawn build/bench/dcfbench \
	build/bench/libpool build/bench/svcbench build/bench/webload
BENCH_DCF_SRC := tools/bench/dcfbench.c tools/bench/launch.c tools/bench/proc.c \
	tools/bench/startup.c tools/bench/idle.c tools/bench/longrun.c tools/bench/recovery.c

.PHONY: bench
build/bench:
	@mkdir -p $@
build/bench/ring: tools/bench/ring.c build/libdcf.a | build/bench
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< build/libdcf.a $(LIBS)
build/bench/floor: tools/bench/floor.c build/libdcf.a | build/bench
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< build/libdcf.a $(LIBS)
build/bench/spawn: tools/bench/spawn.c build/libdcf.a | build/bench
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< build/libdcf.a $(LIBS)
# libdcf's pool, built from the public header and the library alone.
build/bench/libpool: tools/bench/libpool.c include/dcf.h build/libdcf.a | build/bench
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< build/libdcf.a $(LIBS)
# dcf-web's first page load, in headless Chromium (the test's DevTools driver).
build/bench/webload: tools/bench/webload.c tests/cdp.c tests/cdp.h | build/bench
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< tests/cdp.c -lresolv
# The service section's store filler and beanstalkd client.
build/bench/svcbench: tools/bench/svcbench.c build/libdcf.a build/libdcfstore.a | build/bench
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(STORE_LIBS) build/libdcf.a $(LIBS)
build/bench/dcfbench: $(BENCH_DCF_SRC) $(wildcard tools/bench/*.h) build/libdcf.a | build/bench
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(BENCH_DCF_SRC) build/libdcf.a $(LIBS)

# Everything, side by side, about 10 minutes: docs/BENCHMARKS.md and docs/bench-*.png.
# The other runners of commands (GNU parallel, task-spooler) come from the
# `bench` group; without them the report says they are missing.
bench: $(PROGS) $(BENCH_BINS)
	@tools/install-deps.sh bench || echo "bench: could not install the bench group" >&2
	python3 tools/bench/run.py
