#!/bin/sh
# quickstart.sh — build libcustprof on a Debian or Ubuntu machine and run
# the demo: 100,000 synthetic subscribers generated, loaded into a snapshot,
# its statistics printed, then the customer card a clerk sees at the
# billing counter (营业前台): basic information, marketing attributes,
# lifecycle stage per track with the deciding rule and why, and an offer to
# make.
#
# Installs the build dependencies that are missing (apt-get, through sudo
# when not run as root), then autoreconf, configure, make.  Run it from the
# source tree; `make check` runs the tests afterwards.
set -eu

cd "$(dirname "$0")"

PACKAGES="build-essential autoconf automake libtool pkg-config check libsubunit-dev
libyaml-dev zlib1g-dev mandoc"
DEMO_DIR=demo
DEMO_COUNT=100000

say() {
	printf '\n==> %s\n' "$*"
}

install_missing() {
	missing=""
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ -n "$missing" ] || return 0
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "quickstart.sh: please install:$missing (apt-get not found)" >&2
		exit 1
	fi
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "quickstart.sh: run as root or install sudo; missing packages:$missing" >&2
			exit 1
		fi
		sudo=sudo
	fi
	say "installing:$missing"
	$sudo apt-get update
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
}

install_missing

say "building"
autoreconf -fi
./configure
make -j"$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"

say "demo: $DEMO_COUNT synthetic subscribers"
mkdir -p "$DEMO_DIR"
set -x
./src/custprof gen --count "$DEMO_COUNT" --seed 1 -o "$DEMO_DIR/subscribers.csv"
./src/custprof load --as-of 2026-10 "$DEMO_DIR/subscribers.csv" -o "$DEMO_DIR/subscribers.cps"
./src/custprof stats "$DEMO_DIR/subscribers.cps"
{ set +x; } 2>/dev/null

# ---- the customer card at the counter ----

STORE=$DEMO_DIR/subscribers.cps

# The offer for the ringback-tone stage, from the operator's CRBT lifecycle
# campaigns (彩铃生命周期营销): prospects, silent users, churned users.
recommend() {
	stage=$(./src/custprof stage "$STORE" --msisdn "$1" --track crbt --format csv |
		sed -n 2p | cut -d, -f3)
	case $stage in
	prospect) echo "推荐 offer: 彩铃买十送二套餐，开通赠送2个月热门铃音 (ringback-tone prospect)" ;;
	silent) echo "推荐 offer: 1元彩铃音乐盒，赠送2首热门铃音 (silent ringback-tone user)" ;;
	churn_risk | churned)
		echo "推荐 offer: 预购包年套餐获赠15元话费，赠送2个月功能费及2首铃音 (ringback tone at risk or dropped)" ;;
	*) echo "推荐 offer: none for the ringback tone ($stage)" ;;
	esac
}

card() {
	echo "---- 客户信息 the customer"
	./src/custprof show "$STORE" --msisdn "$1" | awk '
		$2 ~ /^(msisdn|name|brand|plan|status|join_date|persona|churn_score)$/
		$2 == "arpu" { print "ARPU (this month first)   " $3, $4, $5, $6, $7, $8 }'
	echo "---- 营销属性 marketing attributes (tags)"
	./src/custprof tag "$STORE" --msisdn "$1"
	echo "---- 生命周期 lifecycle stage per track: rule, value drivers, why"
	./src/custprof stage "$STORE" --msisdn "$1"
	echo "---- why the ringback-tone stage (explain)"
	./src/custprof explain "$STORE" --msisdn "$1" --track crbt
	echo "----"
	recommend "$1"
}

# a silent ringback-tone user, the campaign's target
key=$(./src/custprof stage "$STORE" --all --track crbt --format csv |
	awk -F, '$3 == "silent" { print $1; exit }')
say "the customer card at the counter (营业前台): $key"
card "$key"

# Counts per tag and stage and a small target list come from the batch
# commands (custprof count, custprof select; DESIGN §8).  They run here
# when this build has them.
if ./src/custprof count --help >/dev/null 2>&1; then
	say "counts per tag and stage"
	set -x
	./src/custprof count "$STORE"
	./src/custprof select "$STORE" --where "stage('crbt') == 'silent'" \
		--order-by churn_score --desc --limit 10 --columns msisdn,region,churn_score
	{ set +x; } 2>/dev/null
else
	say "counts and target lists: this build has no 'custprof count'/'select' yet"
fi

say "done: the library is in lib/.libs, the command is src/custprof; 'make check' runs the tests"
