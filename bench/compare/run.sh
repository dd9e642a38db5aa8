#!/bin/sh
# run.sh — `make bench-compare`: libcustprof, SQLite and DuckDB side by side
# on the same subscribers and the same 30-tag segmentation, run from the
# build directory.  Never part of `make check`.
#
#   1. installs what it needs: sqlite3 and libsqlite3-dev (apt-get), Node's
#      @duckdb/node-api under bench/compare/node_modules (npm);
#   2. generates N subscribers with `custprof gen`;
#   3. runs each engine on the same CSV: libcustprof (compare_cp: the rule
#      pack segments.yaml), SQLite in memory (compare_sqlite) and DuckDB in
#      memory (compare_duckdb.mjs), both with segments.sql;
#   4. checks that the three give every subscriber the same tags, the same
#      per-tag counts and the same target list (it stops at the first
#      difference, naming the subscriber and the tag);
#   5. prints the table of times and ratios and writes docs/PERFORMANCE.md
#      (machine, commands, table, profile).
#
#   N=200000 sh run.sh        a quick run (default N=1000000)
#   THREADS=K                 "all threads" (default: the online cores)
#   WORK=DIR                  keep the data and answers in DIR (default bench/compare/work)
#   NO_PROFILE=1              skip the callgrind profile
#   DOC=PATH                  where to write the report (default $srcdir/docs/PERFORMANCE.md)
#   REPORT_ONLY=1             only the table and the report, from the answers already in WORK
#                             (after a run whose report step failed or changed)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
N=${N:-1000000}
THREADS=${THREADS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
WORK=${WORK:-bench/compare/work}
DOC=${DOC:-$srcdir/docs/PERFORMANCE.md}
custprof=./src/custprof
cp_drv=./bench/compare/compare_cp
sq_drv=./bench/compare/compare_sqlite

die() {
	echo "bench-compare: $*" >&2
	exit 1
}

[ -x "$custprof" ] && [ -x "$cp_drv" ] ||
	die "run from the build directory after 'make bench/compare/compare_cp src/custprof'"
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

if [ -z "${REPORT_ONLY:-}" ]; then
# ---- 1. what the other engines need ----
as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi
}
apt_install() {
	echo "bench-compare: installing $* (apt-get)"
	as_root apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}
if ! dpkg -s sqlite3 libsqlite3-dev >/dev/null 2>&1; then
	apt_install sqlite3 libsqlite3-dev
fi
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
if [ ! -d "$here/node_modules/@duckdb/node-api" ]; then
	echo "bench-compare: installing @duckdb/node-api (npm)"
	(cd "$here" && npm install --no-audit --no-fund --silent) || die "npm install failed"
fi
${CC:-cc} -O2 -std=c11 -o "$sq_drv" "$here/compare_sqlite.c" -lsqlite3 ||
	die "cannot build compare_sqlite"

# ---- 2. the data ----
data=$WORK/data.csv
cols=$WORK/columns.txt
echo "bench-compare: $N subscribers, $THREADS threads, data in $WORK"
"$custprof" gen --count "$N" --seed 1 -o "$data"
"$cp_drv" columns >"$cols"

# ---- 3. the engines ----
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
echo "bench-compare: libcustprof"
"$cp_drv" run "$data" "$here/segments.yaml" "$WORK" "$THREADS" >"$WORK/cp.out"
echo "bench-compare: SQLite"
"$sq_drv" "$cols" "$data" "$here/segments.sql" "$WORK" >"$WORK/sqlite.out"
echo "bench-compare: DuckDB"
(cd "$here" && node compare_duckdb.mjs "$cols" "$data" segments.sql \
	"$WORK" "$THREADS") >"$WORK/duckdb.out"
load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
echo "$load_before" >"$WORK/load_before"
echo "$load_after" >"$WORK/load_after"

# ---- 4. the same answers ----
for e in sqlite duckdb; do
	"$cp_drv" diff "$here/segments.yaml" "$WORK/cp.masks" "$WORK/$e.masks" libcustprof "$e" ||
		die "libcustprof and $e give different tags (above): the answers are not the same"
	diff -u "$WORK/cp.counts" "$WORK/$e.counts" >&2 ||
		die "libcustprof and $e give different tag counts"
	cmp -s "$WORK/cp.select" "$WORK/$e.select" || {
		diff "$WORK/cp.select" "$WORK/$e.select" | head -5 >&2
		die "libcustprof and $e give different target lists"
	}
done
echo "bench-compare: the three engines agree on every subscriber's tags, the counts and the list"

# ---- 5. profile (callgrind: repeatable instruction counts) ----
prof=$WORK/profile.txt
: >"$prof"
if [ -z "${NO_PROFILE:-}" ] && command -v valgrind >/dev/null; then
	head -n 20001 "$data" >"$WORK/small.csv"
	valgrind --tool=callgrind --branch-sim=yes --callgrind-out-file="$WORK/callgrind.out" \
		--toggle-collect=run_job "$cp_drv" profile "$WORK/small.csv" "$here/segments.yaml" \
		>/dev/null 2>"$WORK/callgrind.err" || true
	# point lookups with the built-in packs: instructions per cp_eval_key
	valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind-point.out" \
		--toggle-collect=cp_eval_key "$cp_drv" profile-point "$WORK/small.csv" \
		>/dev/null 2>"$WORK/callgrind-point.err" || true
fi
else
	prof=$WORK/profile.txt
	load_before=$(cat "$WORK/load_before" 2>/dev/null || echo "?")
	load_after=$(cat "$WORK/load_after" 2>/dev/null || echo "?")
fi

# ---- 6. the table ----
get() { # get ENGINE NAME
	awk -v k="$2" '$1 == k { print $2; exit }' "$WORK/$1.out"
}
ratio() { # ratio A B: A / B
	echo "$1 $2" | awk '{ if ($2 > 0 && $1 != "") printf "%.1f", $1 / $2; else print "-" }'
}
ms() { echo "$1" | awk '{ if ($1 == "") print "-"; else printf "%.1f", $1 * 1000 }'; }

bw=$(get cp bandwidth_Bps)
cells=$(get cp rule_cell_bytes)
pres=$(get cp rule_presence_bytes)
rowb=$(get cp row_bytes)
profiles=$(get cp profiles)
bound=$(echo "$profiles $cells $pres $bw" | awk '{ printf "%.4f", $1 * ($2 + $3) / $4 }')
rowbound=$(echo "$profiles $rowb $bw" | awk '{ printf "%.4f", $1 * $2 / $3 }')
cp1=$(get cp tagall1_s)
cpN=$(get cp tagallN_s)
share=$(echo "$bound $cp1" | awk '{ printf "%.0f", 100 * $1 / $2 }')
rate() { echo "$profiles $1" | awk '{ printf "%.2f", $1 / $2 / 1e6 }'; }

table=$WORK/table.txt
{
	printf '| %-44s | %12s | %12s | %12s | %10s | %10s |\n' "measure (N = $profiles)" libcustprof SQLite DuckDB "SQLite/cp" "DuckDB/cp"
	printf '|%s|%s|%s|%s|%s|%s|\n' "----------------------------------------------" "-------------:" "-------------:" "-------------:" "-----------:" "-----------:"
	row() { # row LABEL KEY_CP KEY_SQLITE KEY_DUCKDB (seconds -> ms)
		a=$(get cp "$2") b=$(get sqlite "$3") c=$(get duckdb "$4")
		printf '| %-44s | %12s | %12s | %12s | %10s | %10s |\n' "$1" "$(ms "$a")" "$(ms "$b")" "$(ms "$c")" \
			"$(ratio "$b" "$a")" "$(ratio "$c" "$a")"
	}
	row "load CSV, ms (wall)" load_s load_s load_s
	row "tag-all, 1 thread, ms (wall, best of 3)" tagall1_s tagall1_s tagall1_s
	row "tag-all, 1 thread, ms (CPU)" tagall1_cpu_s tagall1_cpu_s tagall1_cpu_s
	row "tag-all, $THREADS threads, ms (wall, best of 3)" tagallN_s tagall1_s tagallN_s
	row "select top 10,000, 1 thread, ms (wall)" select1_s select1_s select1_s
	row "select top 10,000, $THREADS threads, ms (wall)" selectN_s select1_s selectN_s
	pt() { # pt LABEL KEY
		a=$(get cp "$2") b=$(get sqlite "$2") c=$(get duckdb "$2")
		printf '| %-44s | %12s | %12s | %12s | %10s | %10s |\n' "$1" "$a" "$b" "$c" "$(ratio "$b" "$a")" "$(ratio "$c" "$a")"
	}
	pt "point lookup + 30 tags, p50, us" point_p50_us
	pt "point lookup + 30 tags, p99, us" point_p99_us
} >"$table"

summary=$WORK/summary.txt
{
	echo "tag-all rate, 1 thread: $(rate "$cp1") M profiles/s wall ($(rate "$(get cp tagall1_cpu_s)") M/s CPU); $THREADS threads: $(rate "$cpN") M/s wall"
	echo "built-in packs ($(get cp default_tags) tags, $(get cp default_tracks) tracks), tag-all 1 thread: $(rate "$(get cp default_tagall1_s)") M profiles/s wall ($(rate "$(get cp default_tagall1_cpu_s)") M/s CPU)"
	echo "point lookup + all built-in tags and stages: p50 $(get cp point_default_p50_us) us, p99 $(get cp point_default_p99_us) us, p99.9 $(get cp point_default_p999_us) us"
	echo "point lookup + 30 tags (libcustprof): p99.9 $(get cp point_p999_us) us"
	echo "single-core read bandwidth: $(echo "$bw" | awk '{ printf "%.2f", $1 / 1e9 }') GB/s; the rules read $cells bytes of cells + $pres bytes of presence bits of each $rowb-byte row"
	echo "memory-bandwidth bound of tag-all: $(ms "$bound") ms (those bytes only) / $(ms "$rowbound") ms (whole rows); libcustprof 1 thread reaches $share% of the first"
	echo "tag-all vs DuckDB: 1 thread $(ratio "$(get duckdb tagall1_s)" "$cp1")x faster (wall), $(ratio "$(get duckdb tagall1_cpu_s)" "$(get cp tagall1_cpu_s)")x (CPU); $THREADS threads $(ratio "$(get duckdb tagallN_s)" "$cpN")x faster (wall)"
	echo "fast program: $(get cp fast_insns) instructions; $(get sqlite sqlite_version | sed 's/^/SQLite /'), DuckDB $(get duckdb duckdb_version) (node API)"
} >"$summary"
# the targets of issues 3 and 8, measured in this run
targets=$WORK/targets.txt
hot_block=$(get cp hot_block_ns)
touch_s=$(get cp touch_s)
{
	printf '| %-62s | %-30s | %-4s |\n' "target" "measured" "met"
	printf '|%s|%s|%s|\n' "----------------------------------------------------------------" "--------------------------------" "------"
	target() { # target TEXT MEASURED OK(1/0)
		printf '| %-62s | %-30s | %-4s |\n' "$1" "$2" "$([ "$3" = 1 ] && echo yes || echo no)"
	}
	r1=$(ratio "$(get duckdb tagall1_s)" "$cp1")
	r1c=$(ratio "$(get duckdb tagall1_cpu_s)" "$(get cp tagall1_cpu_s)")
	target "tag-all >= 10x DuckDB, 1 thread (CPU time)" "${r1c}x CPU, ${r1}x wall" "$(echo "$r1c" | awk '{ print ($1 >= 10) }')"
	rN=$(ratio "$(get duckdb tagallN_s)" "$cpN")
	target "tag-all faster than DuckDB, $THREADS threads" "${rN}x (wall)" "$(echo "$rN" | awk '{ print ($1 > 1) }')"
	sharec=$(echo "$bound $(get cp tagall1_cpu_s)" | awk '{ printf "%.0f", 100 * $1 / $2 }')
	target "tag-all >= 25% of the memory-bandwidth bound" "$share% wall, $sharec% CPU" "$(echo "$share" | awk '{ print ($1 >= 25) }')"
	r=$(rate "$cp1"); rc=$(rate "$(get cp tagall1_cpu_s)")
	target "tag-all >= 3 M profiles/s, 1 thread (CPU time)" "$rc M/s CPU, $r M/s wall" "$(echo "$rc" | awk '{ print ($1 >= 3) }')"
	p=$(get cp point_p99_us)
	target "point lookup + 30 tags p99 <= 3 us" "$p us" "$(echo "$p" | awk '{ print ($1 <= 3) }')"
	p=$(get cp point_default_p99_us)
	target "point lookup + all built-in tags and stages p99 <= 2 us" "$p us" "$(echo "$p" | awk '{ print ($1 <= 2) }')"
	p=$(get cp hot_eval_ns_per_tag)
	target "cp_eval, one hot profile: <= 15 ns per tag" "$p ns" "$(echo "$p" | awk '{ print ($1 <= 15) }')"
} >"$targets"

# where the time goes, from this run's own measurements
explain=$WORK/explain.txt
{
	pr() { echo "$1" | awk -v n="$profiles" '{ printf "%.0f", $1 / n * 1e9 }'; }
	echo "Per profile, one thread (ns): tag-all $(pr "$cp1") wall / $(pr "$(get cp tagall1_cpu_s)") CPU;"
	echo "evaluation alone (one block of 64 profiles evaluated over and over, in cache) $hot_block;"
	echo "memory alone (one byte of each of the $(get cp lines_per_row) cache-line stretches the rules read, every row, no evaluation) $(pr "$touch_s");"
	echo "streaming whole $rowb-byte rows at the measured bandwidth $(pr "$rowbound"); only the $cells + $pres bytes the rules read $(pr "$bound")."
	echo "DuckDB, one thread: $(pr "$(get duckdb tagall1_s)") wall / $(pr "$(get duckdb tagall1_cpu_s)") CPU per profile."
} >"$explain"

cat "$table"
echo
cat "$summary"
echo
cat "$targets"
echo
cat "$explain"

# ---- 7. docs/PERFORMANCE.md ----
if [ -n "$DOC" ]; then
	mkdir -p "$(dirname "$DOC")"
	cpu_model=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo '?')
	mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || echo '?')
	{
		echo "# Performance: libcustprof, SQLite and DuckDB side by side"
		echo
		echo "Written by \`make bench-compare\` (bench/compare/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'); do not edit by hand."
		echo
		echo "## Machine"
		echo
		echo "- CPU: $cpu_model, $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') cores online; memory $mem; $(uname -sr)"
		echo "- load average before / after the run: $load_before / $load_after (the cores are shared with other work: wall times are noisy, CPU times less so)"
		echo "- single-core read bandwidth, measured by the benchmark (sum of a 512 MiB array, best of 5): $(echo "$bw" | awk '{ printf "%.2f", $1 / 1e9 }') GB/s"
		echo
		echo "## Commands"
		echo
		echo '```'
		echo "N=$profiles THREADS=$THREADS make bench-compare"
		echo "  custprof gen --count $profiles --seed 1 -o data.csv"
		echo "  compare_cp run data.csv bench/compare/segments.yaml WORK $THREADS      # libcustprof"
		echo "  compare_sqlite columns.txt data.csv bench/compare/segments.sql WORK   # SQLite, in memory"
		echo "  node compare_duckdb.mjs columns.txt data.csv segments.sql WORK $THREADS  # DuckDB, in memory"
		echo "  compare_cp diff segments.yaml cp.masks {sqlite,duckdb}.masks ...      # same tags for every subscriber"
		echo '```'
		echo
		echo "The segmentation: 30 tags (bench/compare/segments.yaml; the same in SQL, one CASE WHEN per"
		echo "tag, in bench/compare/segments.sql): window quantifiers, int/float/money aggregates, money"
		echo "sums, often-null fields under Kleene logic, one exclusive first-match group.  All three"
		echo "engines gave every one of the $profiles subscribers the same tags, the same per-tag counts"
		echo "and the same target list (checked by the run; it stops at the first difference)."
		echo
		echo "- tag-all: every profile's 30 tags (libcustprof keeps one mask per profile; the SQL engines"
		echo "  compute the per-tag counts: SELECT sum(tag) ... FROM seg_tags)."
		echo "- select: the 10,000 subscribers with the highest churn_score among those tagged"
		echo "  seg.arpu_drop (nulls last, ties by key).  libcustprof compiles that tag's condition alone"
		echo "  (as a target-list query compiles its --where) and keeps the top rows in a heap per thread;"
		echo "  the SQL engines run SELECT ... WHERE arpu_drop = 1 ORDER BY ... LIMIT on the view."
		echo "- point lookup: one subscriber by key with all 30 tags; libcustprof over 200,000 random keys,"
		echo "  SQLite 20,000 (prepared statement, unique index), DuckDB a few hundred (prepared statement"
		echo "  through the Node API, unique index; a lookup reads a wide row of a column store)."
		echo "- load: CSV to an in-memory store/table with the key indexed (libcustprof and SQLite: one"
		echo "  thread; DuckDB's read_csv uses every thread)."
		echo
		echo "## Results"
		echo
		cat "$table"
		echo
		sed 's/^/- /' "$summary"
		echo
		echo "## Targets (issues 3 and 8)"
		echo
		cat "$targets"
		echo
		echo "## Where the time goes"
		echo
		cat "$explain"
		echo
		d10=$(echo "$(get duckdb tagall1_cpu_s) $profiles" | awk '{ printf "%.0f", $1 / $2 * 1e9 / 10 }')
		echo "Ten times DuckDB's one-thread CPU time is $d10 ns per profile.  Evaluation alone takes"
		echo "$hot_block ns and streaming the rows the rules touch takes $(echo "$rowbound $profiles" | awk '{ printf "%.0f", $1 / $2 * 1e9 }') ns at the bandwidth measured"
		echo "in this run, so the 10x target is out of reach on this machine with this row layout even if"
		echo "evaluation cost nothing; what remains is memory traffic, then the evaluation's instructions."
		echo
		echo "A profile's row is $rowb bytes, fixed width, and the 30 rules read cells spread over"
		echo "$(get cp lines_per_row) 64-byte stretches of it, so a scan brings in nearly the whole row from memory"
		echo "while a column store (DuckDB) reads only the columns the query names.  The bound that counts"
		echo "only the bytes the rules read is therefore out of reach of this layout: the scan is bounded"
		echo "by the whole-row figure above, and by the evaluation alone.  Tag-all overlaps the two (the"
		echo "next block's rows are prefetched while a block is evaluated), yet its CPU time exceeds the"
		echo "sum of the two parts.  These measurements do not say which of two causes dominates the gap:"
		echo "a block's 64 rows span more cache lines than the first-level cache holds, so each"
		echo "instruction of the block fetches its cells again from the second level; and the in-cache"
		echo "figure evaluates the same 64 profiles again and again, so its data-dependent branches are"
		echo "predicted perfectly, which a scan's are not.  Copying the cells the rules read into"
		echo "per-block columns first (or a store layout with column groups) would address the first."
		echo
		echo "On a machine whose cores are"
		echo "shared (see the load average) both the bandwidth and the CPU time per profile vary from run"
		echo "to run, which is why the report gives CPU time and instruction counts beside wall time."
		echo
		if [ -s "$WORK/callgrind.out" ]; then
			callgrind_annotate --inclusive=no --show=Ir --sort=Ir "$WORK/callgrind.out" 2>/dev/null |
				awk '/^-+$/ { dash++; next } dash >= 3 && NF { print }' | head -16 |
				sed -e "s|$srcdir/||g" -e 's|/usr/lib/gcc/[^ ]*/include/||' -e 's| \[[^]]*\]||' >"$prof"
		fi
		echo "callgrind (instructions, repeatable), tag-all of the first 20,000 subscribers on one thread,"
		echo "functions by their own instructions (\`valgrind --tool=callgrind --toggle-collect=run_job"
		echo "compare_cp profile small.csv segments.yaml\`):"
		echo
		echo '```'
		cat "$prof"
		echo '```'
		ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$WORK/callgrind.out" 2>/dev/null || true)
		irp=$(awk '/^(summary|totals):/ { print $2; exit }' "$WORK/callgrind-point.out" 2>/dev/null || true)
		small=$(($(wc -l <"$WORK/small.csv" 2>/dev/null || echo 1) - 1))
		if [ -n "$ir" ] && [ "$small" -gt 0 ]; then
			echo
			echo "In all $(echo "$ir $small" | awk '{ printf "%.0f", $1 / $2 }') instructions per profile for the 30 tags (the fast program has $(get cp fast_insns) instructions, each run once per block of 64 profiles)."
			miss=$(awk '/^summary:/ { if (NF >= 6) print $4 + $6; exit }' "$WORK/callgrind.out")
			if [ -n "$miss" ]; then
				echo "callgrind's branch simulator counts $(echo "$miss $small" | awk '{ printf "%.1f", $1 / $2 }') mispredicted branches per profile in the scan"
				echo "(at some 15 cycles each, about $(echo "$miss $small $(awk -F': ' '/cpu MHz/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo 2000)" | awk '{ printf "%.0f", $1 / $2 * 15 / $3 * 1000 }') ns of the gap above)."
			fi
		fi
		if [ -n "$irp" ]; then
			echo
			echo "A point lookup with the built-in packs (cp_eval_key: key lookup, then the one-profile"
			mhz=$(awk -F': ' '/cpu MHz/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo 2000)
			echo "program, $(get cp default_tags) tags and $(get cp default_tracks) tracks) costs $(echo "$irp" | awk '{ printf "%.0f", $1 / 20000 }') instructions (callgrind, 20,000 lookups): at"
			echo "2 instructions per cycle and $mhz MHz that is $(echo "$irp $mhz" | awk '{ printf "%.1f", $1 / 20000 / 2 / $2 }') us of computing alone, before any cache miss"
			echo "(the target is 2 us at p99); one hot profile of the 30-tag pack takes $(get cp hot_eval_ns) ns ($(get cp hot_eval_ns_per_tag) ns per tag)."
			echo "The lookup's share includes the durable store's consistent copy of the row (a reader"
			echo "copies the whole $rowb-byte row under its sequence lock before the program runs)."
		fi
		echo
		echo "## What the evaluator does, and what would move the remaining targets"
		echo
		echo "- Scans (tag-all, select) run the fast program a block of 64 profiles at a time"
		echo "  (lib/rules_block.c): each instruction is dispatched once per block; truth values are two"
		echo "  bit masks per block (true, null), so Kleene and/or/not, all/any/none and the groups'"
		echo "  first-match are word operations; window comparisons on 8-byte cells use AVX2 where the"
		echo "  processor has it; presence bits are read once per field window; the next block's rows"
		echo "  are prefetched.  Results are bit-identical to cp_eval's (tests/check_rules.c compares them)."
		echo "- Tag-all against DuckDB and the bandwidth share: a scan reads whole rows.  A layout that"
		echo "  lets a scan read only the cells the rules read (column groups for the series fields in"
		echo "  the store, $cells + $pres of $rowb bytes here) would cut the traffic by half or more;"
		echo "  the block evaluator already works a column at a time within a block."
		echo "- Point lookups: the one-profile program computes every condition of every group member and"
		echo "  track rule.  Short-circuit jumps (stop a track at its first true rule, a group at its first"
		echo "  true member, an and/or at its first deciding operand) would cut its instructions; so would"
		echo "  fusing element-wise window arithmetic (a[0..5] + b[0..5] > k) into one row-reading step."
	} >"$DOC"
	echo
	echo "bench-compare: wrote $DOC"
fi
