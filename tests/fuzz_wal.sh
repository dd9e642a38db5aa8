#!/bin/sh
# fuzz_wal.sh — replays the committed corpus of the log-replay fuzz
# harness (tests/fuzz/corpus/wal) through tests/fuzz/wal_replay, the
# harness built without libFuzzer.  FUZZ_WRAPPER (e.g. valgrind) wraps it.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}" "${FUZZ_WRAPPER:=}"
# shellcheck disable=SC2086
$FUZZ_WRAPPER "$top_builddir/tests/fuzz/wal_replay" "$top_srcdir/tests/fuzz/corpus/wal"
