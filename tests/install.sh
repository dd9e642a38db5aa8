#!/bin/sh
# install.sh — what an integrator does after `make install`, on a temporary
# copy: install into a staging directory (make install DESTDIR=), build each
# C example from the installed sources with pkg-config only (no path into the
# source tree), run the counter on a store made with the installed custprof,
# and run the call-center scripts with the installed Python package and Lua
# module against the installed library.
#
#   tests/install.sh [BUILDDIR]      (default: the current directory)
#
# Run by .ci/run after make check.  Exit status 0 on success.
set -eu
builddir=$(cd "${1:-.}" && pwd)
[ -f "$builddir/Makefile" ] || { echo "install.sh: $builddir is not a configured tree" >&2; exit 2; }
srcdir=$(sed -n 's/^abs_top_srcdir = //p' "$builddir/Makefile")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cp-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
stage=$tmp/stage
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE

fail() {
	echo "install.sh: FAIL: $*" >&2
	exit 1
}
# The one installed file called $1 (below the staging directory).
installed() {
	f=$(find "$stage" -path "*$1" | head -n 1)
	[ -n "$f" ] || fail "not installed: $1"
	echo "$f"
}

echo "install.sh: make install DESTDIR=$stage"
make -s -C "$builddir" install DESTDIR="$stage" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "make install"; }

pc=$(installed /pkgconfig/custprof.pc)
lib=$(installed /libcustprof.so)
libdir=$(dirname "$lib")
bin=$(installed /bin/custprof)
examples=$(dirname "$(installed /examples/boss-counter.c)")
pydir=$(dirname "$(dirname "$(installed /python/custprof/__init__.py)")")
luamod=$(installed /lua/5.1/custprof.lua)
installed /man3/cp_store_new.3 >/dev/null
installed /man7/custprof.7 >/dev/null
installed /include/custprof/custprof.h >/dev/null

# pkg-config sees the staging directory as the system root: the .pc file's
# paths (the final prefix) get the staging directory in front.
PKG_CONFIG_PATH=$(dirname "$pc")
PKG_CONFIG_SYSROOT_DIR=$stage
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
flags=$(pkg-config --cflags --libs custprof) || fail "pkg-config custprof"
echo "install.sh: pkg-config --cflags --libs custprof: $flags"
case " $flags " in
*"$srcdir"* | *"$builddir"*) fail "pkg-config points into the source or build tree: $flags" ;;
esac

cc=${CC:-cc}
for ex in boss-counter vip-console; do
	# shellcheck disable=SC2086 # flags are words
	"$cc" -std=c11 -Wall -Wextra -Werror "$examples/$ex.c" -o "$tmp/$ex" $flags ||
		fail "building $ex against the installed library"
done

LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
cd "$tmp"
"$bin" gen --count 500 --seed 3 -o data.csv >/dev/null 2>&1 || fail "installed custprof gen"
"$bin" load --as-of 2026-10 data.csv -o s.cps >/dev/null 2>&1 || fail "installed custprof load"
key=$("$bin" select s.cps --where "present(arpu)" --limit 1 --columns msisdn | sed -n 2p)
[ -n "$key" ] || fail "no subscriber in the store"
./boss-counter s.cps "$key" >counter.out 2>&1 || { cat counter.out; fail "boss-counter"; }
grep -q "^客户 $key" counter.out && grep -q "^生命周期" counter.out ||
	{ cat counter.out; fail "boss-counter output"; }
# the examples link the installed library, not the build tree's
ldd ./boss-counter | grep -q "$libdir/libcustprof.so" || { ldd ./boss-counter; fail "boss-counter links another libcustprof"; }
echo "install.sh: boss-counter and vip-console built with pkg-config; boss-counter ran"

ran=""
python=${PYTHON3:-/usr/bin/python3}
if command -v "$python" >/dev/null 2>&1; then
	CUSTPROF_LIB=$lib PYTHONPATH=$pydir "$python" "$examples/callcenter.py" s.cps --limit 2 \
		>call.py.out 2>&1 || { cat call.py.out; fail "callcenter.py"; }
	grep -q "^外呼清单: " call.py.out || { cat call.py.out; fail "callcenter.py output"; }
	# without CUSTPROF_LIB the package looks in the libdir that make install
	# wrote into _installed.py: the final one, which a staged install lacks
	PYTHONPATH=$pydir "$python" -c "import custprof._installed as i; print(i.LIBDIR)" \
		>libdir.out || fail "custprof._installed"
	[ "$(cat libdir.out)" = "${libdir#"$stage"}" ] || fail "_installed.py: $(cat libdir.out)"
	ran="$ran callcenter.py"
fi
if command -v luajit >/dev/null 2>&1; then
	CUSTPROF_LIB=$lib LUA_PATH="$(dirname "$luamod")/?.lua;;" luajit "$examples/callcenter.lua" \
		s.cps "" 2 >call.lua.out 2>&1 || { cat call.lua.out; fail "callcenter.lua"; }
	grep -q "^外呼清单: " call.lua.out || { cat call.lua.out; fail "callcenter.lua output"; }
	ran="$ran callcenter.lua"
fi
echo "install.sh: ok (ran:${ran:- no script: python3 and luajit missing})"
