#!/bin/bash
# Run test suites and close with one line for all of them.
#   run-tests.sh MODE BIN... [-- CMD ARGS...]
# MODE valgrind runs each BIN under memcheck (children too, as valgrind
# follows fork); plain runs them as they are. CMD, if given, is one more
# suite run as it is (the chaos soak, whose programs are not valgrind's).
set -u
mode=$1; shift
pass=0; fail=0; failed=()
left=""
# A suite's instances are named t<its pid>-...: what it leaves is its own,
# whatever other runs on the machine have in /dev/shm.
leftovers() {
	ls /dev/shm 2>/dev/null | grep "^dcf-t$1-" || true
}
record() {
	if [ "$2" -eq 0 ]; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$1(rc=$2)"); fi
}
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	t=$1; shift
	name=$(basename "$t")
	echo "== $name ($mode)"
	if [ "$mode" = valgrind ]; then
		DCF_TEST_VALGRIND=1 valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
			--show-leak-kinds=definite,indirect,possible --error-exitcode=99 \
			--track-fds=no "$t" &
	else
		"$t" &
	fi
	pid=$!
	wait $pid
	record "$name" $?
	left="$left$(leftovers $pid)"
done
if [ "${1:-}" = "--" ]; then
	shift
	echo "== $(basename "$1") $*"
	"$@" &
	pid=$!
	wait $pid
	record "$(basename "$1")" $?
	left="$left$(leftovers $pid)"
fi
# Nothing may be left behind.
if [ -n "$left" ]; then
	echo "LEFT IN /dev/shm: $left"; fail=$((fail+1)); failed+=("shm-leftovers")
fi
[ $fail -eq 0 ] || echo "failed: ${failed[*]}"
echo "suites: ${pass} passed, ${fail} failed"
[ $fail -eq 0 ]
