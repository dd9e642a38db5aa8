#!/bin/sh
# tsan_batch.sh — build the library and tests/check_batch with ThreadSanitizer in
# a scratch copy of the source tree and run check_batch (the parallel
# passes of the tag table, counts and select, 1 to 8 threads).  Not part of
# `make check` (it builds everything again); run it with `make check-tsan`
# or by hand:  top_srcdir=. sh tests/tsan_batch.sh
#   CC=clang sh tests/tsan_batch.sh     another compiler
#   TSAN_KEEP=1                   keep the scratch tree (its path is printed)
set -eu

top_srcdir=${top_srcdir:-.}
case $top_srcdir in /*) ;; *) top_srcdir=$(pwd)/$top_srcdir ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cp-tsan.XXXXXX")
if [ "${TSAN_KEEP:-0}" != 1 ]; then
	trap 'rm -rf "$tmp"' EXIT INT TERM
fi
echo "tsan: building in $tmp"

# the working tree's files as they are (edits included), nothing built
(cd "$top_srcdir" && git ls-files -z | xargs -0 tar cf -) | (cd "$tmp" && tar xf -)
cd "$tmp"
autoreconf -fi >autoreconf.log 2>&1 || { cat autoreconf.log; exit 1; }
./configure CC="${CC:-cc}" CFLAGS="-fsanitize=thread -g -O1" LDFLAGS="-fsanitize=thread" \
	--disable-shared >configure.log 2>&1 || { tail -n 30 configure.log; exit 1; }
make -j2 tests/check_batch >make.log 2>&1 || { tail -n 30 make.log; exit 1; }

# halt_on_error: the first race fails the run (exit 66).  strict_memcmp=0:
# the string pools of lib/store.c compare a pooled string with
# memcmp(t, s, len) before looking at t's length; memcmp stops at the first
# difference (t's NUL), but the interceptor would check all len bytes and
# call a read past a short last string a use after free.
TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 strict_memcmp=0" CK_FORK=no \
	CK_DEFAULT_TIMEOUT=0 ./tests/check_batch
echo "tsan: no data race reported"
