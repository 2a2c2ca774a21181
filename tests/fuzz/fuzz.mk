# Fuzzing (issue #5): libFuzzer targets, built with clang and
# -fsanitize=fuzzer,address,undefined.
#   make fuzz                       each target for FUZZ_S seconds (default 60)
#   make fuzz FUZZ_S=600 FUZZ_TARGETS=segment
#   make fuzz-seeds                 rewrite the segment seeds in the repository's
#                                   corpus (after a layout change; they hold your uid)
# A run reads tests/fuzz/<target>/corpus and regressions and writes what it
# finds under build/fuzz/<target>/ only (fuzz.sh). `make fuzz` first installs
# clang and libclang-rt-dev if they are missing (tools/install-deps.sh fuzz).
# `make test` and `make check` run none of this but test_fuzz_replay, which
# replays every corpus and regression input through the same targets built
# with $(CC) and no libFuzzer.
FUZZ_CC      ?= clang
FUZZ_S       ?= 60
FUZZ_TARGETS ?= options segment proto
FUZZ_CFLAGS  := -std=gnu11 -D_GNU_SOURCE $(WARN) -Iinclude -Isrc/include -Isrc -Itests/fuzz \
                -DDCF_VERSION='"$(VERSION)"' $(BSD_CFLAGS) -O1 -g -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_LIB_OBJ := $(LIB_SRC:src/lib/%.c=build/fuzz/lib/%.o)
FUZZ_OPT_SRC := tests/fuzz/fuzz_options.c src/opts.c src/options.c src/status_options.c \
                src/submit_options.c
FUZZ_HDRS    := $(wildcard src/include/dcf/*.h) tests/fuzz/fuzz.h src/status.h src/opts.h src/submit.h

.PHONY: fuzz fuzz-deps fuzz-seeds

# clang and its libFuzzer and sanitizer runtime, installed if missing (not for make check).
fuzz-deps:
	@tools/install-deps.sh fuzz

build/fuzz/lib:
	@mkdir -p $@
build/fuzz/lib/%.o: src/lib/%.c $(wildcard src/include/dcf/*.h) | fuzz-deps build/fuzz/lib
	$(QCC)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
build/fuzz/fuzz_options: $(FUZZ_OPT_SRC) $(FUZZ_HDRS) $(FUZZ_LIB_OBJ)
	$(QLD)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_OPT_SRC) $(FUZZ_LIB_OBJ) $(BSD_LIBS) -lrt -lpthread -lm
build/fuzz/fuzz_segment: tests/fuzz/fuzz_segment.c tools/runlib.c tools/runlib.h $(FUZZ_HDRS) $(FUZZ_LIB_OBJ)
	$(QLD)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< tools/runlib.c $(FUZZ_LIB_OBJ) $(BSD_LIBS) -lrt -lpthread -lm

build/fuzz/fuzz_proto: tests/fuzz/fuzz_proto.c $(FUZZ_HDRS) $(FUZZ_LIB_OBJ)
	$(QLD)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_OBJ) $(BSD_LIBS) -lrt -lpthread -lm

# The seed generator: the normal compiler, and the library with crash points.
build/fuzz/gen_segment: tests/fuzz/gen_segment.c build/libdcf-inj.a | build/fuzz/lib
	$(QLD)$(CC) $(ALL_CFLAGS) -DDCF_INJECT_ENABLE=1 $(LDFLAGS) -o $@ $< build/libdcf-inj.a $(LIBS)

fuzz: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%) build/fuzz/gen_segment
	@rm -rf build/fuzz/segment/seeds && mkdir -p build/fuzz/segment/seeds
	@build/fuzz/gen_segment build/fuzz/segment/seeds
	@fail=0; for t in $(FUZZ_TARGETS); do \
		tests/fuzz/fuzz.sh $$t $(FUZZ_S) || fail=1; \
	done; exit $$fail

fuzz-seeds: build/fuzz/gen_segment
	build/fuzz/gen_segment tests/fuzz/segment/corpus

# The replay test links the programs' option parsers and includes the targets.
build/tests/test_fuzz_replay: tests/test_fuzz_replay.c tests/fuzz/fuzz_options.c \
    tests/fuzz/fuzz_segment.c tests/fuzz/fuzz_proto.c tests/fuzz/fuzz.h src/opts.c src/options.c src/status_options.c \
    src/submit_options.c src/submit.h \
    tools/runlib.c tools/runlib.h $(wildcard src/include/dcf/*.h) src/status.h src/opts.h \
    build/libdcf-inj.a | build/tests
	$(QLD)$(CC) $(ALL_CFLAGS) -DDCF_INJECT_ENABLE=1 -Isrc -Itests/fuzz $(LDFLAGS) -o $@ $< \
	    src/opts.c src/options.c src/status_options.c src/submit_options.c tools/runlib.c \
	    build/libdcf-inj.a \
	    $(CMOCKA_LIBS) $(LIBS)
