#!/bin/sh
# cli_rules.sh — custprof check, tag and explain: exit codes, diagnostics
# and outputs compared with the golden files in tests/data/cli_rules/.
#
# Run by `make check`, or by hand from the build directory:
#   top_srcdir=. CUSTPROF=src/custprof sh tests/cli_rules.sh
# CP_UPDATE_GOLDEN=1 rewrites the golden files (read the diff first).
set -eu

top_srcdir=${top_srcdir:-.}
CUSTPROF=${CUSTPROF:-src/custprof}
case $CUSTPROF in /*) ;; *) CUSTPROF=$(pwd)/$CUSTPROF ;; esac
case $top_srcdir in /*) ;; *) top_srcdir=$(pwd)/$top_srcdir ;; esac
data=$top_srcdir/tests/data/cli_rules

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cp-rules.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp"
# the same file names in messages wherever the tree is
cp "$data"/*.yaml "$data"/*.csv .

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

run 0 load "$CUSTPROF" load --as-of 2026-10 subs.csv -o s.cps

# check: the built-in packs, a good file, a broken one
run 0 check-builtin "$CUSTPROF" check
golden check-builtin.out check-builtin.out
run 0 check-mine "$CUSTPROF" check mine.yaml
golden check-mine.out check-mine.out
run 1 check-broken "$CUSTPROF" check mine.yaml broken.yaml
golden check-broken.err check-broken.err
run 1 check-param "$CUSTPROF" check --param mine.big_arpu=lots mine.yaml
golden check-param.err check-param.err
run 1 check-nofile "$CUSTPROF" check nothere.yaml

# tag
run 0 tag-one "$CUSTPROF" tag s.cps --msisdn 13800000001
golden tag-one.out tag-one.out
run 0 tag-csv "$CUSTPROF" tag s.cps --all --format csv
golden tag-csv.out tag-csv.out
run 0 tag-json "$CUSTPROF" tag s.cps --all --format json
golden tag-json.out tag-json.out
run 0 tag-mine "$CUSTPROF" tag s.cps --rules mine.yaml --all
golden tag-mine.out tag-mine.out
run 0 tag-param "$CUSTPROF" tag s.cps --rules mine.yaml --param big_arpu=10 --msisdn 13800000002 --format csv
golden tag-param.out tag-param.out
run 1 tag-nokey "$CUSTPROF" tag s.cps --msisdn 13900000000
run 1 tag-both "$CUSTPROF" tag s.cps --msisdn 13800000001 --all
run 1 tag-format "$CUSTPROF" tag s.cps --all --format xml
run 1 tag-broken "$CUSTPROF" tag s.cps --rules broken.yaml --all

# explain
run 0 explain-tag "$CUSTPROF" explain s.cps --msisdn 13800000001 --tag gprs.heavy
golden explain-tag.out explain-tag.out
run 0 explain-track "$CUSTPROF" explain s.cps --msisdn 13800000002 --track subscriber
golden explain-track.out explain-track.out
run 0 explain-mine "$CUSTPROF" explain s.cps --rules mine.yaml --msisdn 13800000001 --tag mine.big
golden explain-mine.out explain-mine.out
run 1 explain-notag "$CUSTPROF" explain s.cps --msisdn 13800000001 --tag gprs.hevy
golden explain-notag.err explain-notag.err
run 1 explain-both "$CUSTPROF" explain s.cps --msisdn 13800000001 --tag a --track b

echo "cli_rules.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
