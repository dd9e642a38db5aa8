#!/bin/sh
# quickstart.sh — build libcustprof on a Debian or Ubuntu machine and run
# the demo: 100,000 synthetic subscribers generated, loaded into a snapshot,
# its statistics and one subscriber's profile printed.
#
# Installs the build dependencies that are missing (apt-get, through sudo
# when not run as root), then autoreconf, configure, make.  Run it from the
# source tree; `make check` runs the tests afterwards.
set -eu

cd "$(dirname "$0")"

PACKAGES="build-essential autoconf automake libtool pkg-config check libsubunit-dev
libyaml-dev zlib1g-dev mandoc"
DEMO_DIR=demo
DEMO_COUNT=100000

say() {
	printf '\n==> %s\n' "$*"
}

install_missing() {
	missing=""
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ -n "$missing" ] || return 0
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "quickstart.sh: please install:$missing (apt-get not found)" >&2
		exit 1
	fi
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "quickstart.sh: run as root or install sudo; missing packages:$missing" >&2
			exit 1
		fi
		sudo=sudo
	fi
	say "installing:$missing"
	$sudo apt-get update
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
}

install_missing

say "building"
autoreconf -fi
./configure
make -j"$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"

say "demo: $DEMO_COUNT synthetic subscribers"
mkdir -p "$DEMO_DIR"
set -x
./src/custprof gen --count "$DEMO_COUNT" --seed 1 -o "$DEMO_DIR/subscribers.csv"
./src/custprof load --as-of 2026-10 "$DEMO_DIR/subscribers.csv" -o "$DEMO_DIR/subscribers.cps"
./src/custprof stats "$DEMO_DIR/subscribers.cps"
{ set +x; } 2>/dev/null
# the first subscriber of the file (as written: a key may carry +86)
key=$(sed -n 2p "$DEMO_DIR/subscribers.csv" | cut -d, -f1)
set -x
./src/custprof show "$DEMO_DIR/subscribers.cps" --msisdn "$key"
{ set +x; } 2>/dev/null

say "done: the library is in lib/.libs, the command is src/custprof; 'make check' runs the tests"
