#!/bin/sh
# run.sh — the benchmarks of `make bench`, run from the build directory.
#
# Generates ROWS default-schema subscribers with `custprof gen`, then times
# the library's CSV ingest and its stages (bench/bench_ingest,
# bench/bench_csv_stages), `custprof load` (ingest and snapshot save), and
# the snapshot open (`custprof stats`) and check (`custprof verify`); then
# the durable store's own programs: zero-copy open and lookups
# (bench/bench_open) and updates per sync mode (bench/bench_wal).
# Every figure is the median wall time of RUNS runs; each line shows the
# command that was timed.
#
#   ROWS=N       subscribers to generate (default 1000000)
#   RUNS=N       runs per figure (default 3)
#   BENCH_DIR=D  keep the data in D (default: a temporary directory, removed)
set -eu

ROWS=${ROWS:-1000000}
RUNS=${RUNS:-3}
custprof=./src/custprof
ingest=./bench/bench_ingest
stages=./bench/bench_csv_stages

if [ ! -x "$custprof" ]; then
	echo "run.sh: $custprof not built (run 'make bench' from the build directory)" >&2
	exit 1
fi
if [ -n "${BENCH_DIR:-}" ]; then
	dir=$BENCH_DIR
	mkdir -p "$dir"
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/cp-bench.XXXXXX")
	trap 'rm -rf "$dir"' EXIT INT TERM
fi
data=$dir/data.csv
store=$dir/store.cps

now() {
	date +%s.%N
}

# median of the numbers on standard input
median() {
	sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# timed NAME COMMAND...: run the command RUNS times (output discarded) and
# print the median seconds; fails when the command fails.
timed() {
	name=$1
	shift
	i=0
	: >"$dir/times"
	while [ "$i" -lt "$RUNS" ]; do
		start=$(now)
		if ! "$@" >/dev/null 2>"$dir/err"; then
			echo "run.sh: $name failed: $*" >&2
			cat "$dir/err" >&2
			exit 1
		fi
		end=$(now)
		echo "$end $start" | awk '{ printf "%.3f\n", $1 - $2 }' >>"$dir/times"
		i=$((i + 1))
	done
	median <"$dir/times"
}

# report NAME SECONDS RATE_TEXT COMMAND...
report() {
	name=$1 secs=$2 rate=$3
	shift 3
	printf '%-14s %8.3f s  %-34s %s\n' "$name" "$secs" "$rate" "$*"
}

per_second() { # per_second COUNT SECONDS UNIT
	echo "$1 $2" | awk -v unit="$3" '{ printf "%.0f %s/s", ($2 > 0 ? $1 / $2 : 0), unit }'
}

mb_per_second() { # mb_per_second BYTES SECONDS
	echo "$1 $2" | awk '{ printf "%.1f MB/s", ($2 > 0 ? $1 / 1e6 / $2 : 0) }'
}

echo "libcustprof benchmarks: $ROWS subscribers, median of $RUNS runs (wall time), data in $dir"
echo "machine: $(uname -m), $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') cores; load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo

# 1. synthetic data
secs=$(timed gen "$custprof" gen --count "$ROWS" --seed 1 -o "$data")
bytes=$(wc -c <"$data")
report gen "$secs" "$(per_second "$ROWS" "$secs" rows), $(mb_per_second "$bytes" "$secs")" \
	custprof gen --count "$ROWS" --seed 1 -o data.csv

# 2. the library's ingest alone and its stages (the csv module's programs)
for prog in "$ingest -r $RUNS" "$stages"; do
	set -- $prog
	if [ -x "$1" ]; then
		echo
		echo "--- $* data.csv"
		"$@" "$data"
		echo "---"
	else
		echo "($1 not built: not measured)"
	fi
done
echo

# 3. load + snapshot save, 4. snapshot open, 5. verify
secs=$(timed load "$custprof" load --as-of 2026-10 "$data" -o "$store")
report "load + save" "$secs" "$(per_second "$ROWS" "$secs" rows), $(mb_per_second "$bytes" "$secs")" \
	custprof load --as-of 2026-10 data.csv -o store.cps
snap=$(wc -c <"$store")
secs=$(timed open "$custprof" stats "$store")
report "open (stats)" "$secs" "$(mb_per_second "$snap" "$secs")" custprof stats store.cps
secs=$(timed verify "$custprof" verify "$store")
report verify "$secs" "$(mb_per_second "$snap" "$secs")" custprof verify store.cps
echo
"$custprof" stats "$store"

# 6. the rule language on the loaded store (bench/bench_rules)
if [ -x ./bench/bench_rules ]; then
	echo
	echo "--- bench/bench_rules store.cps"
	./bench/bench_rules "$store"
	echo "---"
fi

# 7. the durable store: zero-copy open of a snapshot, lookups, and updates
#    through the log per sync mode (bench/bench_open, bench/bench_wal)
for prog in ./bench/bench_open ./bench/bench_wal; do
	if [ -x "$prog" ]; then
		echo
		echo "--- $prog $ROWS"
		"$prog" "$ROWS" "$dir"
		echo "---"
	else
		echo "($prog not built: not measured)"
	fi
done
