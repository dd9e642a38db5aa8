#!/bin/sh
# manlint.sh — lint every man page with mandoc and check that every function
# declared in a public header has a page (its own, or an .Nm in a grouped page).
set -u
if [ -z "${MANDOC:-}" ]; then
	echo "SKIP: mandoc not found"
	exit 77
fi
bad=0
pages=$(find "$top_srcdir/man" -name '*.[1-8]' | sort)
for p in $pages; do
	out=$("$MANDOC" -Tlint -Wwarning "$p" 2>&1) || true
	if [ -n "$out" ]; then
		echo "$out"
		bad=1
	fi
done
for fn in $(grep -ho 'CP_API[^(]*[ *]\(cp_[a-z0-9_]*\)[[:space:]]*(' "$top_srcdir"/include/custprof/*.h | sed 's/.*\(cp_[a-z0-9_]*\)[[:space:]]*(/\1/' | sort -u); do
	if [ ! -f "$top_srcdir/man/man3/$fn.3" ] && ! grep -qsx "\.Nm $fn\( ,\)\{0,1\}" "$top_srcdir"/man/man3/*.3; then
		echo "FAIL: no man page for $fn"
		bad=1
	fi
done
# every page is installed: listed exactly once in man/Makefile.inc
listed=$(tr -s ' \t\\' '\n\n\n' <"$top_srcdir/man/Makefile.inc")
for p in $pages; do
	rel=${p#"$top_srcdir"/}
	n=$(printf '%s\n' "$listed" | grep -cxF "$rel")
	if [ "$n" -ne 1 ]; then
		echo "FAIL: $rel is listed $n times in man/Makefile.inc (must be once)"
		bad=1
	fi
done
[ $bad -eq 0 ] && echo "ok: $(echo "$pages" | wc -w) pages lint clean; every function documented"
exit $bad
