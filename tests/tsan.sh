#!/bin/sh
# tsan.sh — build tests/check_concurrency (and the library's sources) with
# ThreadSanitizer, and run it: `make check-tsan` from the build directory.
# The build goes to tests/tsan/ beside the normal one, so no reconfigure is
# needed.  CC must know -fsanitize=thread (gcc with libtsan, or clang).
#
#   STRESS_UPDATES=N  size of the run (default 4000)
#   TSAN_OPTIONS      passed on (halt_on_error=1 is added)
set -eu
: "${top_srcdir:=.}" "${top_builddir:=.}"
CC=${CC:-cc}
out=$top_builddir/tests/tsan
mkdir -p "$out"
srcs=
for f in "$top_srcdir"/lib/*.c; do
	case $f in */builtin_data.c) continue ;; esac
	srcs="$srcs $f"
done
srcs="$srcs $top_builddir/lib/builtin_data.c $top_srcdir/tests/check_concurrency.c"
srcs="$srcs $top_srcdir/tests/testutil.c"
flags="-std=c11 -g -O1 -fsanitize=thread -fno-omit-frame-pointer -DCP_TSAN"
incs="-I$top_builddir -I$top_srcdir/include -I$top_builddir/include -I$top_srcdir/lib"
incs="$incs -I$top_builddir/lib -I$top_srcdir/tests"
# shellcheck disable=SC2086
$CC $flags $incs $(pkg-config --cflags check yaml-0.1 zlib) -o "$out/check_concurrency" \
	$srcs $(pkg-config --libs check yaml-0.1 zlib) -lpthread -lm
echo "tsan.sh: built $out/check_concurrency with $CC -fsanitize=thread"
CK_FORK=no STRESS_UPDATES=${STRESS_UPDATES:-4000} \
	TSAN_OPTIONS="halt_on_error=1 ${TSAN_OPTIONS:-}" "$out/check_concurrency"
