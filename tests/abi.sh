#!/bin/sh
# abi.sh — the library's ABI against the committed baseline
# (abi/libcustprof.abi) with abidiff.  Additions are compatible; a removed
# function or variable (abidiff's incompatible-change bit, 8) or a function
# whose type changed (C has no overloads: a caller built against the old
# declaration breaks) fails.  SKIP when abidiff is not installed.  An
# intended change: abi/README.md.
set -u
abidiff=${ABIDIFF:-}
[ -n "$abidiff" ] || abidiff=$(command -v abidiff 2>/dev/null)
if [ -z "$abidiff" ]; then
	echo "SKIP: abidiff not found (abigail-tools)"
	exit 77
fi
lib=$top_builddir/lib/.libs/libcustprof.so
base=$top_srcdir/abi/libcustprof.abi
if [ ! -f "$lib" ]; then
	echo "SKIP: no shared library ($lib)"
	exit 77
fi
report=$("$abidiff" --headers-dir2 "$top_srcdir/include/custprof" --drop-private-types \
	"$base" "$lib" 2>&1)
status=$?
echo "$report"
if [ $((status & 1)) -ne 0 ]; then
	echo "FAIL: abidiff could not compare (exit status $status)"
	exit 1
fi
if [ $((status & 8)) -ne 0 ]; then
	echo "FAIL: incompatible ABI change (a function or variable removed): see abi/README.md"
	exit 1
fi
changed=$(echo "$report" | sed -n 's/.*Functions changes summary: [0-9]* Removed, \([0-9]*\) Changed.*/\1/p')
vchanged=$(echo "$report" | sed -n 's/.*Variables changes summary: [0-9]* Removed, \([0-9]*\) Changed.*/\1/p')
if [ "${changed:-0}" -ne 0 ] || [ "${vchanged:-0}" -ne 0 ]; then
	echo "FAIL: the type of an exported function or variable changed: see abi/README.md"
	exit 1
fi
echo "ok: no incompatible change against abi/libcustprof.abi"
exit 0
