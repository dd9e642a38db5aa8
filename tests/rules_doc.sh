#!/bin/sh
# rules_doc.sh — the list of default tags and stages in custprof-rules(5) is
# the one tools/rules_doc.py generates from the packs of DATA_RULES, and every
# pack of data/rules is in DATA_RULES (embedded, installed, documented).
set -u
python=${PYTHON3:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
	echo "SKIP: python3 not found"
	exit 77
fi
cd "$top_srcdir" || exit 1
page=man/man5/custprof-rules.5
packs=$(sed -n '/^DATA_RULES[[:space:]]*=/,/[^\\]$/p' Makefile.am |
	sed -e 's/^DATA_RULES[[:space:]]*=//' -e 's/\\$//' | tr -s ' \t\n' '  ')
if [ -z "$(echo $packs)" ]; then
	echo "FAIL: no DATA_RULES in Makefile.am"
	exit 1
fi
for f in data/rules/*.yaml; do
	case " $packs " in
	*" $f "*) ;;
	*) echo "FAIL: $f is not listed in DATA_RULES"; exit 1 ;;
	esac
done
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
"$python" tools/rules_doc.py $packs >"$tmp/new" || exit 1
sed -n '/^\.\\" BEGIN GENERATED/,/^\.\\" END GENERATED/p' "$page" | sed '1d;$d' >"$tmp/old"
if [ ! -s "$tmp/old" ] && ! grep -q '^\.\\" END GENERATED' "$page"; then
	echo "FAIL: $page lacks the generated-part marks"
	exit 1
fi
if ! diff -u "$tmp/old" "$tmp/new"; then
	echo "FAIL: $page is out of date; run:"
	echo "  python3 tools/rules_doc.py --update $page" $packs
	exit 1
fi
echo "ok: $page lists every tag and stage of" $packs
