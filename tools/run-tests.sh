#!/bin/bash
# Run test binaries; "valgrind" mode runs each under memcheck, children too.
# Prints cmocka's own summary lines, then one closing line for all suites.
set -u
mode=$1; shift
pass=0; fail=0; failed=()
for t in "$@"; do
	name=$(basename "$t")
	echo "== $name ($mode)"
	if [ "$mode" = valgrind ]; then
		DCF_TEST_VALGRIND=1 valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
			--show-leak-kinds=definite,indirect,possible --error-exitcode=99 \
			--track-fds=no "$t"
	else
		"$t"
	fi
	rc=$?
	if [ $rc -eq 0 ]; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$name(rc=$rc)"); fi
done
# Nothing may be left behind.
left=$(ls /dev/shm 2>/dev/null | grep '^dcf-t' || true)
if [ -n "$left" ]; then
	echo "LEFT IN /dev/shm: $left"; fail=$((fail+1)); failed+=("shm-leftovers")
fi
echo "suites: ${pass} passed, ${fail} failed"
[ $fail -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
