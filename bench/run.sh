#!/bin/sh
# run.sh — the benchmarks of `make bench` (run from the build directory).
# ROWS sets the number of generated CSV rows (default 1000000).
set -eu
csv=${TMPDIR:-/tmp}/custprof-bench.$$.csv
trap 'rm -f "$csv"' EXIT
./bench/bench_ingest -n "${ROWS:-1000000}" -o "$csv"
./bench/bench_csv_stages "$csv"
