#!/bin/sh
# run_wal.sh — `make fuzz-wal`: builds tests/fuzz/fuzz_wal.c with clang
# -fsanitize=fuzzer,address,undefined (the library's sources included) and
# runs it for FUZZ_SECONDS (default 60) on a copy of tests/fuzz/corpus/wal.
# Findings go to tests/fuzz/artifacts/; add a minimized one to the corpus.
set -eu
: "${top_srcdir:=.}" "${top_builddir:=.}"
CLANG=${CLANG:-clang}
out=$top_builddir/tests/fuzz
mkdir -p "$out/work/wal" "$out/artifacts"
srcs=
for f in "$top_srcdir"/lib/*.c; do
	case $f in */builtin_data.c) continue ;; esac
	srcs="$srcs $f"
done
srcs="$srcs $top_builddir/lib/builtin_data.c $top_srcdir/tests/fuzz/fuzz_wal.c"
incs="-I$top_builddir -I$top_srcdir/include -I$top_builddir/include -I$top_srcdir/lib"
# shellcheck disable=SC2086
$CLANG -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer $incs \
	$(pkg-config --cflags yaml-0.1 zlib) -o "$out/fuzz_wal" $srcs \
	$(pkg-config --libs yaml-0.1 zlib) -lm
cp "$top_srcdir"/tests/fuzz/corpus/wal/* "$out/work/wal/"
"$out/fuzz_wal" -max_total_time="${FUZZ_SECONDS:-60}" -max_len=65536 \
	-artifact_prefix="$out/artifacts/wal-" "$out/work/wal"
