#!/bin/sh
# Replays the committed fuzz corpora (tests/fuzz/corpus/NAME) through each
# harness, built without libFuzzer (tests/fuzz/replay_NAME): every seed and
# every input a fuzzer once crashed on must run clean.  On a failure the
# last input named (replay -v) is the culprit.
#
# FUZZ_WRAPPER, if set, prefixes each run, e.g.
#   FUZZ_WRAPPER='valgrind -q --error-exitcode=1 --leak-check=full'
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}"
: "${FUZZ_WRAPPER:=}"

status=0
for name in schema csv snapshot rules expr; do
	bin=$top_builddir/tests/fuzz/replay_$name
	corpus=$top_srcdir/tests/fuzz/corpus/$name
	if [ ! -x "$bin" ]; then
		echo "FAIL: $bin is not built"
		status=1
		continue
	fi
	n=$(find "$corpus" -type f | wc -l)
	if [ "$n" -eq 0 ]; then
		echo "FAIL: $corpus is empty"
		status=1
		continue
	fi
	# libtool's wrapper script runs the real binary in .libs when needed
	# shellcheck disable=SC2086
	if out=$($FUZZ_WRAPPER "$bin" -v "$corpus" 2>&1); then
		echo "ok: $name: $(printf '%s\n' "$out" | tail -n 1)"
	else
		echo "FAIL: $name ($n inputs):"
		printf '%s\n' "$out" | tail -n 40
		status=1
	fi
done
exit $status
