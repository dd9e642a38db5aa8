#!/bin/sh
# cli_lifecycle.sh — custprof stage, close-month and load --base --merge on
# crafted subscribers (tests/data/lifecycle/oct.csv, the October export, and
# nov.csv, November's month-0 columns): a month closed, the next loaded on
# top, stages and transitions compared with the golden files there.
#
# Run by `make check`, or by hand from the build directory:
#   top_srcdir=. CUSTPROF=src/custprof sh tests/cli_lifecycle.sh
# CP_UPDATE_GOLDEN=1 rewrites the golden files (read the diff first).
set -eu

top_srcdir=${top_srcdir:-.}
CUSTPROF=${CUSTPROF:-src/custprof}
case $CUSTPROF in /*) ;; *) CUSTPROF=$(pwd)/$CUSTPROF ;; esac
case $top_srcdir in /*) ;; *) top_srcdir=$(pwd)/$top_srcdir ;; esac
data=$top_srcdir/tests/data/lifecycle

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cp-lifecycle.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp"
cp "$data"/*.csv .

passed=0
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
ok() { passed=$((passed + 1)); }

# run STATUS NAME COMMAND...: stdout in NAME.out, stderr in NAME.err
run() {
	want=$1 name=$2
	shift 2
	set +e
	"$@" >"$name.out" 2>"$name.err"
	got=$?
	set -e
	if [ "$got" -eq "$want" ]; then ok; else
		fail "$name: exit status $got, expected $want ($*)"
		sed 's/^/  stderr: /' "$name.err" | head -n 20
	fi
}

golden() {
	if [ "${CP_UPDATE_GOLDEN:-0}" = 1 ]; then cp "$1" "$data/$2"; fi
	if diff -u "$data/$2" "$1" >diff.txt; then ok; else
		fail "$1 differs from $2:"
		head -n 40 diff.txt
	fi
}

# the message names the expected text
expect_err() {
	if grep -qF -e "$2" "$1.err"; then ok; else
		fail "$1: stderr lacks '$2':"
		sed 's/^/  /' "$1.err"
	fi
}

for cmd in stage close-month; do
	run 0 "help-$cmd" "$CUSTPROF" "$cmd" --help
	golden "help-$cmd.out" "help-$cmd.txt"
done

# October: stages now, one subscriber and all
run 0 load "$CUSTPROF" load --as-of 2026-10 oct.csv -o oct.cps
run 0 stage-one "$CUSTPROF" stage oct.cps --msisdn 13800000002
golden stage-one.out stage-one.txt
run 0 stage-all "$CUSTPROF" stage oct.cps --all
golden stage-all.out stage-all.txt
run 0 stage-csv "$CUSTPROF" stage oct.cps --all --format csv
golden stage-csv.out stage-csv.csv
run 0 stage-track "$CUSTPROF" stage oct.cps --msisdn 13800000003 --track subscriber --format csv
golden stage-track.out stage-track.csv
run 1 no-history "$CUSTPROF" stage oct.cps --all --transitions
expect_err no-history "no month was closed yet"

# close October into another file: oct.cps stays as it was
run 0 close "$CUSTPROF" close-month oct.cps -o closed.cps
golden close.err close.txt
run 0 stats-oct "$CUSTPROF" stats oct.cps
grep -q 'as of *2026-10' stats-oct.out && ok || fail "oct.cps changed by close-month -o"
run 0 stats-closed "$CUSTPROF" stats closed.cps
grep -q 'as of *2026-11' stats-closed.out && ok || fail "closed.cps is not as of 2026-11"
grep -q '^month closes  1: 2026-10$' stats-closed.out && ok || fail "stats shows no month close"
# month 0 is empty now, October is month 1
run 0 show-closed "$CUSTPROF" show closed.cps --msisdn 13800000002
grep -q 'ARPU' show-closed.out && ok || fail "show closed.cps"

# November on top (the key missing from it keeps October as month 1)
run 1 load-asof "$CUSTPROF" load --base closed.cps --merge --as-of 2026-10 nov.csv -o nov.cps
expect_err load-asof "closed.cps is as of 2026-11, not 2026-10 (close its month first"
run 1 load-schema "$CUSTPROF" load --base closed.cps --schema x.yaml nov.csv -o nov.cps
expect_err load-schema "--schema and --base exclude each other"
run 0 load-nov "$CUSTPROF" load --base closed.cps --merge nov.csv -o nov.cps
golden load-nov.err load-nov.txt

run 0 trans "$CUSTPROF" stage nov.cps --all --transitions
golden trans.out transitions.txt
run 0 trans-csv "$CUSTPROF" stage nov.cps --all --transitions --track crbt --format csv
golden trans-csv.out transitions-crbt.csv
run 0 changes "$CUSTPROF" stage nov.cps --all --transitions --list --format csv
golden changes.out changes.csv
run 0 changes-text "$CUSTPROF" stage nov.cps --all --transitions --list --track subscriber
golden changes-text.out changes.txt
run 0 trans-one "$CUSTPROF" stage nov.cps --msisdn 13800000002 --transitions
golden trans-one.out transitions-one.txt
run 0 stage-was "$CUSTPROF" stage nov.cps --msisdn 13800000001
golden stage-was.out stage-was.txt

# closing in place
cp nov.cps inplace.cps
run 0 close-inplace "$CUSTPROF" close-month inplace.cps
run 0 stats-inplace "$CUSTPROF" stats inplace.cps
grep -q 'as of *2026-12' stats-inplace.out && ok || fail "inplace.cps is not as of 2026-12"

# errors
run 1 both "$CUSTPROF" stage nov.cps --msisdn 13800000001 --all
run 1 list-alone "$CUSTPROF" stage nov.cps --all --list
expect_err list-alone "--list goes with --all --transitions"
run 1 no-track "$CUSTPROF" stage nov.cps --all --track sms
expect_err no-track "no track 'sms' in the rules"
run 1 no-key "$CUSTPROF" stage nov.cps --msisdn 13900000000
run 1 bad-format "$CUSTPROF" stage nov.cps --all --format json
run 1 close-nofile "$CUSTPROF" close-month nothere.cps

echo "cli_lifecycle: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
