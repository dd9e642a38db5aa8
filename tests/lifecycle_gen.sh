#!/bin/sh
# lifecycle_gen.sh — `custprof gen` data exercises the whole default content:
# 20,000 generated subscribers are loaded, tagged and staged, and
#   - every tag of the default packs applies to at least 0.5% and at most
#     85% of them;
#   - every stage that a default track can give (its rules' stages and its
#     otherwise) is given to at least 0.1% and at most 85% of them.
# The lists of tags and stages are read from data/rules/*.yaml, so a new tag
# or stage is checked without editing this test.  (85%: a service most
# subscribers never use makes its 'silent' tag or 'prospect' stage that
# common, and no more.)
set -u
: "${CUSTPROF:?}" "${top_srcdir:?}"
COUNT=20000
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0

"$CUSTPROF" gen --count $COUNT --seed 11 -o "$tmp/d.csv" || exit 1
"$CUSTPROF" load --as-of 2026-10 "$tmp/d.csv" -o "$tmp/s.cps" 2>"$tmp/load.err" || {
	cat "$tmp/load.err"
	exit 1
}
"$CUSTPROF" tag "$tmp/s.cps" --all --format csv >"$tmp/tags.csv" || exit 1
"$CUSTPROF" stage "$tmp/s.cps" --all --format csv >"$tmp/stages.csv" || exit 1

# the tags of the packs: '  - id:' entries under 'tags:'
for f in "$top_srcdir"/data/rules/*.yaml; do
	awk '/^[a-z_]+:/ { in_tags = ($0 ~ /^tags:/) } in_tags && /^  - id: / { print $3 }' "$f"
done >"$tmp/all-tags"
# the stages each track can give: 'track stage' lines
awk '/^  - track: / { t = $3 } t && /^      - stage: / { print t, $3 }
     t && /^    otherwise: / { print t, $2 }' "$top_srcdir/data/rules/lifecycle.yaml" |
	sort -u >"$tmp/all-stages"
[ -s "$tmp/all-tags" ] && [ -s "$tmp/all-stages" ] || {
	echo "FAIL: no tags or stages found in data/rules"
	exit 1
}

awk -F, 'NR > 1 { n = split($2, a, ";"); for (i = 1; i <= n; i++) c[a[i]]++ }
         END { for (k in c) print k, c[k] }' "$tmp/tags.csv" >"$tmp/tag-counts"
awk -F, 'NR > 1 { c[$2 " " $3]++ } END { for (k in c) print k, c[k] }' "$tmp/stages.csv" \
	>"$tmp/stage-counts"

# check NAME COUNT MIN_PER_MILLE MAX_PER_MILLE
check() {
	lo=$((COUNT * $3 / 1000))
	hi=$((COUNT * $4 / 1000))
	if [ "$2" -lt "$lo" ] || [ "$2" -gt "$hi" ]; then
		echo "FAIL: $1: $2 of $COUNT subscribers, expected $lo to $hi"
		fail=1
	fi
}

while read -r tag; do
	n=$(awk -v k="$tag" '$1 == k { print $2 }' "$tmp/tag-counts")
	check "tag $tag" "${n:-0}" 5 850
done <"$tmp/all-tags"
while read -r track stage; do
	n=$(awk -v t="$track" -v s="$stage" '$1 == t && $2 == s { print $3 }' "$tmp/stage-counts")
	check "track $track, stage $stage" "${n:-0}" 1 850
done <"$tmp/all-stages"
# and nothing a track cannot give
while read -r track stage n; do
	grep -qx "$track $stage" "$tmp/all-stages" || {
		echo "FAIL: track $track gave stage $stage ($n), which it has no rule for"
		fail=1
	}
done <"$tmp/stage-counts"

[ $fail -eq 0 ] && echo "ok: $(wc -l <"$tmp/all-tags") tags and $(wc -l <"$tmp/all-stages") stages in plausible shares of $COUNT subscribers"
exit $fail
