#!/bin/sh
# crash.sh — the kill -9 loop (tests/crash_wal.c): CRASH_ITERATIONS kills
# (default 30; CI runs 300) of a process updating a store, each followed by
# a check that every acknowledged update is there and the store verifies.
# CRASH_SEED repeats a run.
set -u
: "${top_builddir:=.}"
bin=$top_builddir/tests/crash_wal
dir=$(mktemp -d "${TMPDIR:-/tmp}/cp-crash.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT INT TERM
"$bin" "$dir" "${CRASH_ITERATIONS:-30}" ${CRASH_SEED:+"$CRASH_SEED"}
