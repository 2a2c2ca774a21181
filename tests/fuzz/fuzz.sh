#!/bin/bash
# Run one fuzz target for `make fuzz` (tests/fuzz/fuzz.mk) and sum it up:
#   fuzz.sh TARGET SECONDS
# A run reads tests/fuzz/TARGET/{corpus,regressions} and build/fuzz/TARGET/seeds,
# writes new inputs to build/fuzz/TARGET/corpus and a crash to build/fuzz/TARGET/,
# and exits 1 if it found one.
set -u

# The value of libFuzzer's final "stat::NAME: VALUE" line in a log.
stat() {
	sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

run() {
	local t=$1 secs=$2 bin=build/fuzz/fuzz_$1 work=build/fuzz/$1
	local dirs opts log rc before after
	mkdir -p "$work/corpus"
	dirs=("$work/corpus" "tests/fuzz/$t/corpus")
	for d in "tests/fuzz/$t/regressions" "$work/seeds"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	opts=(-max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$work/" -timeout=10
		-rss_limit_mb=2048)
	case $t in
	options) opts+=(-max_len=1024 -dict=tests/fuzz/options.dict) ;;
	segment) opts+=(-max_len=16384 -len_control=0) ;;
	proto) opts+=(-max_len=8192) ;;
	esac
	log=$work/fuzz.log
	before=$(find "$work/corpus" -type f | wc -l)
	echo "== fuzz $t: ${secs} s, corpus ${dirs[*]}"
	"$bin" "${opts[@]}" "${dirs[@]}" >"$log" 2>&1
	rc=$?
	after=$(find "$work/corpus" -type f | wc -l)
	if [ $rc -ne 0 ]; then
		tail -n 60 "$log"
		echo "fuzz $t: FAILED (exit $rc); the input is $(ls -t "$work"/crash-* "$work"/leak-* \
			"$work"/timeout-* "$work"/oom-* 2>/dev/null | head -n 1); log in $log"
		return 1
	fi
	printf 'fuzz %s: %s runs, %s exec/s, %s; %s new inputs in %s; peak RSS %s MB\n' "$t" \
		"$(stat number_of_executed_units "$log")" "$(stat average_exec_per_sec "$log")" \
		"$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)" "$((after - before))" \
		"$work/corpus" "$(stat peak_rss_mb "$log")"
}

[ $# -eq 2 ] || { echo "usage: fuzz.sh TARGET SECONDS" >&2; exit 2; }
run "$1" "$2"
