#!/bin/sh
# symbols.sh — every symbol the shared library exports starts with cp_ and is
# declared in a public header.  Fails listing the offenders.
set -u
lib=$top_builddir/lib/.libs/libcustprof.so
if [ ! -f "$lib" ]; then
	echo "SKIP: no shared library ($lib)"
	exit 77
fi
exports=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' | sed 's/@.*//' | sort -u)
[ -n "$exports" ] || { echo "FAIL: $lib exports nothing"; exit 1; }
headers=$(ls "$top_srcdir"/include/custprof/*.h)
bad=0
for sym in $exports; do
	case $sym in
	cp_*) ;;
	CUSTPROF_*) continue ;;  # version node
	*) echo "FAIL: exported symbol without the cp_ prefix: $sym"; bad=1; continue ;;
	esac
	if ! grep -qw "$sym" $headers; then
		echo "FAIL: exported symbol not declared in a public header: $sym"
		bad=1
	fi
done
# and the converse: every function declared CP_API is exported
for sym in $(grep -ho 'CP_API[^(]*[ *]\(cp_[a-z0-9_]*\)[[:space:]]*(' $headers | sed 's/.*\(cp_[a-z0-9_]*\)[[:space:]]*(/\1/' | sort -u); do
	echo "$exports" | grep -qx "$sym" || { echo "FAIL: declared but not exported: $sym"; bad=1; }
done
[ $bad -eq 0 ] && echo "ok: $(echo "$exports" | wc -l) exported symbols, all cp_ and declared"
exit $bad
