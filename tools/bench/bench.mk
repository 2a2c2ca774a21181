# Benchmarks (issue #6): `make bench` builds the programs below, runs every
# comparison side by side and writes docs/BENCHMARKS.md with its plots.
# Nothing here is a test: `make check` never runs it.
BENCH_BINS := build/bench/ring build/bench/floor build/bench/dcfbench
BENCH_DCF_SRC := tools/bench/dcfbench.c tools/bench/launch.c tools/bench/proc.c \
	tools/bench/startup.c tools/bench/idle.c tools/bench/longrun.c tools/bench/recovery.c

.PHONY: bench
build/bench:
	@mkdir -p $@
build/bench/ring: tools/bench/ring.c build/libdcf.a | build/bench
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< build/libdcf.a $(LIBS)
build/bench/floor: tools/bench/floor.c build/libdcf.a | build/bench
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< build/libdcf.a $(LIBS)
build/bench/dcfbench: $(BENCH_DCF_SRC) $(wildcard tools/bench/*.h) build/libdcf.a | build/bench
	$(QLD)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(BENCH_DCF_SRC) build/libdcf.a $(LIBS)

# Everything, side by side, about 5 minutes: docs/BENCHMARKS.md and docs/bench-*.png.
bench: $(PROGS) $(BENCH_BINS)
	python3 tools/bench/run.py
