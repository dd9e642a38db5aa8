#!/bin/sh
# lua.sh — the LuaJIT binding's tests (bindings/lua/test.lua) against the
# library of this build.  SKIP when luajit is not installed.
set -u
luajit=${LUAJIT:-luajit}
if ! command -v "$luajit" >/dev/null 2>&1; then
	echo "SKIP: luajit not found"
	exit 77
fi
lib=$top_builddir/lib/.libs/libcustprof.so
if [ ! -f "$lib" ]; then
	echo "SKIP: no shared library ($lib)"
	exit 77
fi
. "$top_srcdir/tests/interp_env.sh"
# shellcheck disable=SC2086 # interp_env is words
CUSTPROF_LIB=$lib exec env $interp_env "$luajit" "$top_srcdir/bindings/lua/test.lua"
