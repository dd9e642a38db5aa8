#!/bin/sh
# python.sh — the Python binding's unit tests (bindings/python/tests) against
# the library of this build.  SKIP when /usr/bin/python3 (or $PYTHON3) is
# missing.
set -u
python=${PYTHON3:-/usr/bin/python3}
if ! command -v "$python" >/dev/null 2>&1; then
	echo "SKIP: python3 not found"
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
CUSTPROF_LIB=$lib
PYTHONPATH=$top_srcdir/bindings/python${PYTHONPATH:+:$PYTHONPATH}
PYTHONDONTWRITEBYTECODE=1
export CUSTPROF_LIB PYTHONPATH PYTHONDONTWRITEBYTECODE
exec "$python" -W error::ResourceWarning -m unittest discover -v \
	-s "$top_srcdir/bindings/python/tests" -t "$top_srcdir/bindings/python/tests"
