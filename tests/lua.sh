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
# A library built with a sanitizer cannot be loaded into an interpreter that
# is not (its runtime must come first): nothing to test here then.
if nm -D "$lib" 2>/dev/null | grep -q '__asan_\|__ubsan_\|__tsan_'; then
	echo "SKIP: $lib is built with a sanitizer"
	exit 77
fi
CUSTPROF_LIB=$lib exec "$luajit" "$top_srcdir/bindings/lua/test.lua"
