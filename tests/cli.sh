#!/bin/sh
# cli.sh — tests of the custprof command: exit codes, messages and outputs
# compared with the golden files in tests/data/cli/.
#
# Run by `make check` (which sets top_srcdir and CUSTPROF), or by hand from
# the build directory:  top_srcdir=. CUSTPROF=src/custprof sh tests/cli.sh
# CP_UPDATE_GOLDEN=1 rewrites the golden files from the current outputs
# (then read the diff before committing it).
set -eu

top_srcdir=${top_srcdir:-.}
CUSTPROF=${CUSTPROF:-src/custprof}
case $CUSTPROF in /*) ;; *) CUSTPROF=$(pwd)/$CUSTPROF ;; esac
case $top_srcdir in /*) ;; *) top_srcdir=$(pwd)/$top_srcdir ;; esac
data=$top_srcdir/tests/data/cli

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cp-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp"

passed=0
failed=0

fail() {
	echo "FAIL: $*"
	failed=$((failed + 1))
}

ok() {
	passed=$((passed + 1))
}

# run EXPECTED_STATUS NAME COMMAND...: run the command with stdout in
# NAME.out and stderr in NAME.err, and check its exit status.
run() {
	want=$1 name=$2
	shift 2
	set +e
	"$@" >"$name.out" 2>"$name.err"
	got=$?
	set -e
	if [ "$got" -eq "$want" ]; then
		ok
	else
		fail "$name: exit status $got, expected $want ($*)"
		sed 's/^/  stderr: /' "$name.err" | head -n 20
	fi
}

# golden FILE GOLDEN_NAME: FILE must equal tests/data/cli/GOLDEN_NAME.
golden() {
	if [ "${CP_UPDATE_GOLDEN:-0}" = 1 ]; then
		cp "$1" "$data/$2"
		echo "updated $2"
	fi
	if diff -u "$data/$2" "$1" >diff.txt; then
		ok
	else
		fail "$1 differs from the golden file $2:"
		head -n 40 diff.txt
	fi
}

# contains FILE TEXT: FILE holds the fixed string TEXT.
contains() {
	if grep -qF -- "$2" "$1"; then
		ok
	else
		fail "$1 does not contain '$2':"
		head -n 20 "$1" | sed 's/^/  | /'
	fi
}

# Sizes and the store's memory vary with the platform and the snapshot
# format: keep the words, mask the figures.
mask_sizes() {
	sed -e 's/[0-9][0-9.]* \(B\|KiB\|MiB\|GiB\)/N \1/g' "$1"
}

# ---- the command and its subcommands -----------------------------------

run 1 noargs "$CUSTPROF"
contains noargs.err "usage: custprof COMMAND"
run 0 help "$CUSTPROF" --help
golden help.out help.txt
run 0 version "$CUSTPROF" --version
contains version.out "custprof "
run 1 unknown "$CUSTPROF" frobnicate
contains unknown.err "custprof: unknown command 'frobnicate'"

for cmd in load stats verify show gen; do
	run 0 "help-$cmd" "$CUSTPROF" "$cmd" --help
	golden "help-$cmd.out" "help-$cmd.txt"
	run 1 "badopt-$cmd" "$CUSTPROF" "$cmd" --no-such-option
	contains "badopt-$cmd.err" "custprof: $cmd: unknown option '--no-such-option'"
	contains "badopt-$cmd.err" "usage: custprof $cmd"
done

# option errors: a missing value, a bad value, a missing required option
run 1 novalue "$CUSTPROF" gen --count
contains novalue.err "custprof: gen: option '--count' needs a value"
run 1 badcount "$CUSTPROF" gen --count 12x -o x.csv
contains badcount.err "custprof: invalid --count '12x': expected a non-negative integer"
run 1 nocount "$CUSTPROF" gen -o x.csv
contains nocount.err "custprof: gen: option '--count' is required"
run 1 badmonth "$CUSTPROF" gen --count 1 --as-of 2026-13 -o x.csv
contains badmonth.err "custprof: invalid --as-of '2026-13': expected a month YYYY-MM"
run 1 flagvalue "$CUSTPROF" load --compress=yes --as-of 2026-10 a.csv -o s.cps
contains flagvalue.err "custprof: load: option '--compress' takes no value"
run 1 nooperand "$CUSTPROF" stats
contains nooperand.err "custprof: stats: missing operand"
run 1 twooperands "$CUSTPROF" verify a.cps b.cps
contains twooperands.err "custprof: verify: wrong number of operands (2)"
run 1 baddelim "$CUSTPROF" load --delimiter ';' --as-of 2026-10 a.csv -o s.cps
contains baddelim.err "custprof: invalid --delimiter ';': expected ',', '|' or 'tab'"

# ---- gen ------------------------------------------------------------------

# deterministic: the same seed gives the same bytes, another seed others
run 0 gen-a "$CUSTPROF" gen --count 300 --seed 42 -o a.csv
run 0 gen-b "$CUSTPROF" gen --count 300 --seed 42 -o b.csv
run 0 gen-c "$CUSTPROF" gen --count 300 --seed 43 -o c.csv
if cmp -s a.csv b.csv; then ok; else fail "gen: the same seed gave different files"; fi
if cmp -s a.csv c.csv; then fail "gen: seeds 42 and 43 gave the same file"; else ok; fi
[ "$(wc -l <a.csv)" -eq 301 ] && ok || fail "gen: a.csv has $(wc -l <a.csv) lines, expected 301"
# standard output is the same as a file
run 0 gen-stdout "$CUSTPROF" gen --count 300 --seed 42 -o -
if cmp -s a.csv gen-stdout.out; then ok; else fail "gen -o - differs from gen -o FILE"; fi
# a larger count starts with the same subscribers
run 0 gen-more "$CUSTPROF" gen --count 400 --seed 42 -o more.csv
if head -n 301 more.csv | cmp -s - a.csv; then ok; else fail "gen: --count 400 does not extend --count 300"; fi
# no progress line when stderr is not a terminal
[ ! -s gen-a.err ] && ok || fail "gen wrote to a redirected stderr: $(head -c 200 gen-a.err)"

# a custom schema: every type, golden output
run 0 gen-tiny "$CUSTPROF" gen --schema "$data/tiny.yaml" --count 6 --seed 5 --as-of 2025-03 -o tiny.csv
golden tiny.csv gen-tiny.csv
# a missing schema file is an error with the file's name
run 1 gen-noschema "$CUSTPROF" gen --schema no-such.yaml --count 1 -o x.csv
contains gen-noschema.err "no-such.yaml"
# an unwritable output
run 1 gen-unwritable "$CUSTPROF" gen --count 1 -o no-such-dir/x.csv
contains gen-unwritable.err "custprof: gen: cannot create no-such-dir/x.csv"

# ---- load -----------------------------------------------------------------

# generated rows all load: exit 0, nothing rejected
run 0 load-gen "$CUSTPROF" load --as-of 2026-10 a.csv -o a.cps --rejects a-rejects.csv
contains load-gen.err "300 rows read, 300 loaded, 0 rejected, 0 duplicate keys"
printf 'line,column,reason\n' >empty-rejects.csv
if cmp -s a-rejects.csv empty-rejects.csv; then ok; else fail "load: rejects of generated rows"; fi
# the tiny schema's rows load with that schema
run 0 load-tiny "$CUSTPROF" load --schema "$data/tiny.yaml" --as-of 2025-03 tiny.csv -o tiny.cps
contains load-tiny.err "6 rows read, 6 loaded, 0 rejected"

# rejects, a duplicate key, an unknown column: exit 2, report and rejects file
cp "$data/small.csv" small.csv
run 2 load-small "$CUSTPROF" load --as-of 2026-10 small.csv -o small.cps --rejects rejects.csv
mask_sizes load-small.err >load-small.masked
golden load-small.masked load-small.txt
golden rejects.csv load-small-rejects.csv
[ ! -e rejects.csv.part ] && ok || fail "load left rejects.csv.part behind"

# two inputs, one rejects file: each file's rows in turn under one header
cp small.csv small2.csv
run 2 load-two "$CUSTPROF" load --as-of 2026-10 small.csv small2.csv -o two.cps --rejects two.csv
contains load-two.err "16 rows read, 8 loaded, 8 rejected, 5 duplicate keys"
contains load-two.err "rejected small2.csv:4: column brand:"
[ "$(grep -c '^line,column,reason$' two.csv)" -eq 1 ] && [ "$(wc -l <two.csv)" -eq 9 ] &&
	ok || fail "load: two.csv is not one header and 8 rejects"

# errors: no snapshot is written
run 1 load-missing "$CUSTPROF" load --as-of 2026-10 no-such.csv -o missing.cps
contains load-missing.err "no-such.csv"
[ ! -e missing.cps ] && ok || fail "load wrote a snapshot after an error"
run 1 load-noasof "$CUSTPROF" load small.csv -o x.cps
contains load-noasof.err "custprof: load: option '--as-of' is required"

# ---- stats, show, verify ------------------------------------------------

# goldens on the tiny schema, whose layout only this test decides
run 0 stats "$CUSTPROF" stats tiny.cps
mask_sizes stats.out >stats.masked
golden stats.masked stats.txt
run 0 stats-default "$CUSTPROF" stats small.cps
contains stats-default.out "schema        cmcc-default"
contains stats-default.out "profiles      3"

key=$(sed -n 3p tiny.csv | cut -d, -f1)
run 0 show "$CUSTPROF" show tiny.cps --msisdn "$key"
golden show.out show.txt
# the key is normalized: +86 and 86 prefixes find the same profile
run 0 show-default "$CUSTPROF" show small.cps --msisdn 8613800000006
contains show-default.out "profile 13800000006 (schema cmcc-default, as of 2026-10)"
contains show-default.out "状态                 status                   closed"
contains show-default.out "ARPU                 arpu                           0     3.25        -"
run 1 show-none "$CUSTPROF" show small.cps --msisdn 13900000000
contains show-none.err "custprof: show: small.cps: no profile with key '13900000000'"
run 1 show-nokey "$CUSTPROF" show small.cps
contains show-nokey.err "custprof: show: option '--msisdn' is required"

run 0 verify "$CUSTPROF" verify small.cps
contains verify.out "small.cps: ok"
run 0 verify-gen "$CUSTPROF" verify a.cps
# one byte changed in the middle of the file
cp a.cps damaged.cps
size=$(wc -c <damaged.cps)
offset=$((size / 2))
byte=$(od -An -tu1 -j "$offset" -N1 damaged.cps | tr -d ' ')
printf "\\$(printf '%03o' $(((byte + 1) % 256)))" |
	dd of=damaged.cps bs=1 seek="$offset" conv=notrunc 2>/dev/null
run 1 verify-damaged "$CUSTPROF" verify damaged.cps
contains verify-damaged.err "custprof: verify: damaged.cps: damaged"
[ "$(grep -c . verify-damaged.err)" -ge 2 ] && ok ||
	fail "verify printed no problem before its verdict"
# a truncated file
head -c "$offset" a.cps >truncated.cps
run 1 verify-truncated "$CUSTPROF" verify truncated.cps
run 1 stats-truncated "$CUSTPROF" stats truncated.cps
run 1 verify-missing "$CUSTPROF" verify no-such.cps

# ---- a compressed snapshot opens like the other --------------------------
run 0 load-compress "$CUSTPROF" load --compress --as-of 2026-10 a.csv -o z.cps
run 0 verify-compress "$CUSTPROF" verify z.cps
run 0 stats-compress "$CUSTPROF" stats z.cps
contains stats-compress.out "profiles      300"

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
