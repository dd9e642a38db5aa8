#!/bin/sh
# tests/fuzz/run.sh — build the fuzz harnesses with libFuzzer and run each
# for a while (make fuzz; .ci/fuzz).  Not part of make check, which replays
# the committed corpora instead (tests/fuzz_replay.sh).
#
#   run.sh [NAME...]            NAME: schema csv snapshot rules expr (default: all)
#
# Environment (make fuzz sets the first four):
#   top_srcdir, top_builddir   the source and build trees (lib/builtin_data.c
#                              must exist in the build tree: make builds it)
#   FUZZ_LIBS                  libraries of the library (-lyaml -lz -lm)
#   FUZZ_CPPFLAGS              extra preprocessor flags (libyaml, zlib)
#   FUZZ_CC                    a clang with libFuzzer (default: clang)
#   FUZZ_SECONDS               seconds per harness (default: 60)
#   FUZZ_FLAGS                 extra libFuzzer options (e.g. -max_len=8192)
#   FUZZ_BUILD_ONLY=1          build, do not run
#
# Each harness runs in one process (the machine is shared: no -jobs), on a
# working corpus tests/fuzz/work/NAME (new inputs go there) seeded by the
# committed tests/fuzz/corpus/NAME, with tests/fuzz/NAME.dict if present.
# A crash, leak, timeout or sanitizer report is written to
# tests/fuzz/artifacts/ and makes the script fail (after running the others).
# To keep a finding: minimize it (./fuzz_NAME -minimize_crash=1 FILE), fix
# it, and copy it into tests/fuzz/corpus/NAME/.
#
# Exit: 0 all ran clean, 1 a harness found something, 77 no usable clang.
set -eu

: "${top_srcdir:=.}" "${top_builddir:=.}"
: "${FUZZ_CC:=clang}" "${FUZZ_SECONDS:=60}" "${FUZZ_FLAGS:=}"
: "${FUZZ_LIBS:=-lyaml -lz -lm}" "${FUZZ_CPPFLAGS:=}" "${FUZZ_BUILD_ONLY:=0}"

names=${*:-schema csv snapshot rules expr}
out=$top_builddir/tests/fuzz
obj=$out/obj
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
cflags="-std=c11 -g -O1 -fno-omit-frame-pointer $san"
cppflags="-DHAVE_CONFIG_H -I$top_builddir -I$top_srcdir/include -I$top_builddir/include \
	-I$top_srcdir/lib -I$top_builddir/lib $FUZZ_CPPFLAGS"

probe=$(mktemp -d "${TMPDIR:-/tmp}/cpfuzz-probe.XXXXXX")
trap 'rm -rf "$probe"' EXIT
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
	>"$probe/p.c"
if ! "$FUZZ_CC" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" \
	>/dev/null 2>&1; then
	echo "fuzz: $FUZZ_CC cannot build a libFuzzer program: skipped"
	exit 77
fi

if [ ! -f "$top_builddir/lib/builtin_data.c" ]; then
	echo "fuzz: $top_builddir/lib/builtin_data.c is missing (run make first)" >&2
	exit 1
fi

# Compile $1 into $obj/NAME.o with the flags $2 (coverage for the library:
# -fsanitize=fuzzer-no-link; none for the harness helpers, whose coverage
# would only make noise), unless the object is newer than the source, this
# script and every header.
headers=$(ls "$top_srcdir"/lib/*.h "$top_srcdir"/include/custprof/*.h \
	"$top_builddir"/include/custprof/version.h "$top_builddir"/config.h \
	"$top_srcdir"/tests/fuzz/fuzz.h 2>/dev/null)
compile() {
	o=$obj/$(basename "$1" .c).o
	objs="$objs $o"
	# shellcheck disable=SC2086
	if [ -f "$o" ] && [ -z "$(find "$1" "$0" $headers -newer "$o" 2>/dev/null)" ]; then
		return 0
	fi
	# shellcheck disable=SC2086
	"$FUZZ_CC" $cflags $2 $cppflags -c "$1" -o "$o"
}

mkdir -p "$obj" "$out/work" "$out/artifacts"
echo "fuzz: building the library with $FUZZ_CC"
objs=
for src in "$top_srcdir"/lib/*.c; do
	# builtin_data.c is generated: the build tree's below
	[ "$(basename "$src")" = builtin_data.c ] || compile "$src" -fsanitize=fuzzer-no-link
done
compile "$top_builddir/lib/builtin_data.c" -fsanitize=fuzzer-no-link
compile "$top_srcdir/tests/fuzz/fuzz_util.c" ""
lib_objs=$objs

for name in $names; do
	echo "fuzz: building fuzz_$name"
	# shellcheck disable=SC2086
	"$FUZZ_CC" $cflags -fsanitize=fuzzer $cppflags \
		"$top_srcdir/tests/fuzz/fuzz_$name.c" $lib_objs $FUZZ_LIBS \
		-o "$out/fuzz_$name"
done
[ "$FUZZ_BUILD_ONLY" = 1 ] && exit 0

failed=
for name in $names; do
	work=$out/work/$name
	mkdir -p "$work"
	dict=
	[ -f "$top_srcdir/tests/fuzz/$name.dict" ] && dict=-dict=$top_srcdir/tests/fuzz/$name.dict
	echo "fuzz: fuzz_$name for ${FUZZ_SECONDS}s"
	# shellcheck disable=SC2086
	if ! "$out/fuzz_$name" -max_total_time="$FUZZ_SECONDS" -timeout=20 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/artifacts/$name-" $dict $FUZZ_FLAGS \
		"$work" "$top_srcdir/tests/fuzz/corpus/$name" >"$out/fuzz_$name.log" 2>&1; then
		failed="$failed $name"
		tail -n 60 "$out/fuzz_$name.log"
	else
		grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' \
			"$out/fuzz_$name.log" | sed "s/^/fuzz_$name: /" || true
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: findings in:$failed (see $out/artifacts and $out/fuzz_NAME.log)"
	exit 1
fi
echo "fuzz: no finding"
