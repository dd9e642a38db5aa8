#!/bin/sh
# examples.sh — smoke run of examples/: a small store made with custprof gen
# and load, then the quick start (C, Python, Lua: the same output, and the
# code README.md shows), the counter pop-up for one subscriber, an account
# manager's console, and the call-center list in Python and in Lua (the two
# print the same), each checked for the parts of its screen.
set -u
ex=$top_builddir/examples
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
if [ ! -x "$ex/quickstart" ] || [ ! -x "$ex/boss-counter" ] || [ ! -x "$ex/vip-console" ]; then
	echo "SKIP: examples not built"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cp-examples.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}
"$CUSTPROF" gen --count 2000 --seed 7 -o "$tmp/subscribers.csv" >/dev/null &&
	"$CUSTPROF" load --as-of 2026-10 "$tmp/subscribers.csv" -o "$tmp/s.cps" >/dev/null ||
	fail "custprof gen/load"

# the quick starts of README.md: C, Python and Lua print the same
# the highest-ARPU one, so that it is on the list too
qkey=$("$CUSTPROF" select "$tmp/s.cps" --where "stage('crbt') == 'churned'" --order-by arpu --desc \
	--limit 1 | sed -n 2p)
[ -n "$qkey" ] || fail "no churned ringback-tone user"
"$ex/quickstart" "$tmp/s.cps" "$qkey" >"$tmp/quick.c.out" 2>&1 || { cat "$tmp/quick.c.out"; fail "quickstart"; }
for want in "^tag " "^crbt: churned (crbt.churned)$" "^crbt = churned" "^call $qkey$"; do
	grep -q "$want" "$tmp/quick.c.out" || { cat "$tmp/quick.c.out"; fail "quickstart: no '$want'"; }
done
[ "$(grep -c '^call ' "$tmp/quick.c.out")" -le 10 ] || fail "quickstart: more than 10 calls"

# the counter: a heavy mobile-internet user whose ringback tones are silent
key=$("$CUSTPROF" select "$tmp/s.cps" --where "tag('gprs.heavy') and stage('crbt') == 'silent'" \
	--limit 1 --columns msisdn | sed -n 2p)
[ -n "$key" ] || fail "no subscriber for the counter"
"$ex/boss-counter" "$tmp/s.cps" "$key" >"$tmp/counter.out" 2>&1 || {
	cat "$tmp/counter.out"
	fail "boss-counter $key"
}
for want in "客户 $key" "品牌:" "ARPU:" "gprs.heavy             重度消费型" \
	"crbt       silent" "crbt.silent -> silent" "crbt=silent" "升级到更大的GPRS流量套餐"; do
	grep -qF "$want" "$tmp/counter.out" || { cat "$tmp/counter.out"; fail "boss-counter: no '$want'"; }
done
"$ex/boss-counter" "$tmp/s.cps" 13000000000 >/dev/null 2>&1 && fail "boss-counter: an unknown number"

# the console: the manager with accounts, two to a page
manager=$("$CUSTPROF" select "$tmp/s.cps" --where "present(account_manager)" \
	--order-by account_manager --limit 1 --columns account_manager | sed -n 2p)
"$ex/vip-console" "$tmp/s.cps" "$manager" --page-size 2 >"$tmp/vip.out" 2>&1 || {
	cat "$tmp/vip.out"
	fail "vip-console $manager"
}
accounts=$("$CUSTPROF" select "$tmp/s.cps" --where "account_manager == '$manager'" | sed 1d | wc -l)
grep -qF "客户经理 $manager: $accounts 个客户，第 1/" "$tmp/vip.out" || { cat "$tmp/vip.out"; fail "vip-console header"; }
grep -q "^msisdn | name | brand | arpu | churn_score | stage:subscriber | tags$" "$tmp/vip.out" ||
	fail "vip-console columns"
rows=$(grep -c '^1[0-9]\{10\} | ' "$tmp/vip.out")
[ "$rows" -eq $((accounts < 2 ? accounts : 2)) ] || { cat "$tmp/vip.out"; fail "vip-console: $rows rows"; }
# highest churn score first
grep '^1[0-9]\{10\} | ' "$tmp/vip.out" |
	awk -F' [|] ' 'NR > 1 && $5 + 0 > prev + 0 { exit 1 } { prev = $5 }' ||
	fail "vip-console order"

# the call center, in Python and in Lua (and their quick starts)
ran=0
python=${PYTHON3:-/usr/bin/python3}
lib=$top_builddir/lib/.libs/libcustprof.so
. "$top_srcdir/tests/interp_env.sh"
if command -v "$python" >/dev/null 2>&1; then
	CUSTPROF_LIB=$lib PYTHONPATH=$top_srcdir/bindings/python env $interp_env "$python" \
		"$top_srcdir/examples/quickstart.py" "$tmp/s.cps" "$qkey" >"$tmp/quick.py.out" 2>&1 ||
		{ cat "$tmp/quick.py.out"; fail "quickstart.py"; }
	diff "$tmp/quick.c.out" "$tmp/quick.py.out" || fail "quickstart.py and quickstart.c differ"
	# README.md shows the quick starts as they are here
	for f in quickstart.c quickstart.py quickstart.lua; do
		"$python" -c 'import sys; sys.exit(open(sys.argv[1], encoding="utf-8").read() not in open(sys.argv[2], encoding="utf-8").read())' \
			"$top_srcdir/examples/$f" "$top_srcdir/README.md" ||
			fail "README.md does not show examples/$f as it is"
	done
	CUSTPROF_LIB=$lib PYTHONPATH=$top_srcdir/bindings/python env $interp_env "$python" \
		"$top_srcdir/examples/callcenter.py" "$tmp/s.cps" --region 福州 --limit 3 \
		>"$tmp/call.py.out" 2>&1 || { cat "$tmp/call.py.out"; fail "callcenter.py"; }
	grep -q "^外呼清单: [0-9]* 位已流失的彩铃用户（福州）" "$tmp/call.py.out" || fail "callcenter.py header"
	grep -q "彩铃: 已流失 (crbt.churned)" "$tmp/call.py.out" || fail "callcenter.py script"
	ran=$((ran + 1))
fi
if command -v luajit >/dev/null 2>&1; then
	CUSTPROF_LIB=$lib LUA_PATH="$top_srcdir/bindings/lua/?.lua;;" env $interp_env luajit \
		"$top_srcdir/examples/quickstart.lua" "$tmp/s.cps" "$qkey" >"$tmp/quick.lua.out" 2>&1 ||
		{ cat "$tmp/quick.lua.out"; fail "quickstart.lua"; }
	diff "$tmp/quick.c.out" "$tmp/quick.lua.out" || fail "quickstart.lua and quickstart.c differ"
	CUSTPROF_LIB=$lib LUA_PATH="$top_srcdir/bindings/lua/?.lua;;" env $interp_env luajit \
		"$top_srcdir/examples/callcenter.lua" "$tmp/s.cps" 福州 3 \
		>"$tmp/call.lua.out" 2>&1 || { cat "$tmp/call.lua.out"; fail "callcenter.lua"; }
	grep -q "^外呼清单: " "$tmp/call.lua.out" || fail "callcenter.lua header"
	ran=$((ran + 1))
fi
if [ $ran -eq 2 ]; then
	diff "$tmp/call.py.out" "$tmp/call.lua.out" || fail "callcenter.py and callcenter.lua differ"
fi
echo "ok: quickstart, boss-counter, vip-console, and $ran scripting languages"
