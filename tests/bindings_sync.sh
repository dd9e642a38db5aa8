#!/bin/sh
# bindings_sync.sh — the LuaJIT cdef and the Python prototypes agree with
# custprof.h (tools/check_bindings.py).  Functions the bindings do not
# declare are listed; CUSTPROF_STRICT_BINDINGS=1 makes that a failure.
set -u
python=${PYTHON3:-/usr/bin/python3}
if ! command -v "$python" >/dev/null 2>&1; then
	echo "SKIP: python3 not found"
	exit 77
fi
exec "$python" "$top_srcdir/tools/check_bindings.py" "$top_srcdir/include/custprof/custprof.h" \
	"$top_srcdir/bindings/lua/custprof.lua" "$top_srcdir/bindings/python"
