#!/bin/sh
# Install the Debian packages dcf needs, only those missing. Idempotent;
# uses sudo when not root; says what it installs.
#   tools/install-deps.sh          what `make`, `make run` and `make check` need (the test
#                                  group: chromium and promtool for dcf-web's tests too)
#   tools/install-deps.sh lint     and cppcheck, clang-tidy, clang-format, groff (man pages)
#   tools/install-deps.sh fuzz     and clang with its libFuzzer/sanitizer runtime
#   tools/install-deps.sh bench    and task-spooler and beanstalkd, for `make bench` (GNU parallel
#                                  is in the first list; the bench runs its own beanstalkd on a
#                                  private socket, and the package's service is not needed)
set -eu
# parallel (GNU parallel): the tests read dcf's joblog with it, the format's
# own reader, and read its joblogs with ours.
# libmicrohttpd-dev: dcf-web's HTTP server. The tests of dcf-web (so `make
# check`, the test group) drive Debian's chromium through its DevTools pipe
# and check /metrics with promtool (the prometheus package); neither is
# needed to build or run dcf.
need="gcc make pkg-config libbsd-dev libcmocka-dev libsqlite3-dev libmicrohttpd-dev valgrind python3 parallel"
need="$need chromium prometheus"
# libpq-dev: the PostgreSQL store (--store postgresql://...). postgresql: its
# tests start private clusters of their own (initdb and postgres on a
# temporary directory, a Unix socket, no port) and stop them.
need="$need libpq-dev postgresql"
for group in "$@"; do
	case $group in
	lint) need="$need cppcheck clang-tidy clang-format groff-base" ;;
	fuzz) need="$need clang libclang-rt-dev" ;;
	bench) need="$need task-spooler beanstalkd" ;;
	*) echo "install-deps: unknown group '$group' (lint, fuzz, bench)" >&2; exit 2 ;;
	esac
done
missing=""
for p in $need; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# The package would make and start a cluster of its own, a service nothing
# here uses: told not to, where PostgreSQL was never installed.
case " $missing " in
*" postgresql "*)
	if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
		$SUDO mkdir -p /etc/postgresql-common
		echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
	fi ;;
esac
$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
echo "install-deps: done"
