#!/bin/sh
# run.sh — the benchmarks of `make bench` (run from the build directory).
# ROWS sets the number of generated CSV rows (default 1000000).
set -eu
./bench/bench_ingest -n "${ROWS:-1000000}"
