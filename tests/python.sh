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
. "$top_srcdir/tests/interp_env.sh"
CUSTPROF_LIB=$lib
PYTHONPATH=$top_srcdir/bindings/python${PYTHONPATH:+:$PYTHONPATH}
PYTHONDONTWRITEBYTECODE=1
export CUSTPROF_LIB PYTHONPATH PYTHONDONTWRITEBYTECODE
# shellcheck disable=SC2086 # interp_env is words
exec env $interp_env "$python" -W error::ResourceWarning -m unittest discover -v \
	-s "$top_srcdir/bindings/python/tests" -t "$top_srcdir/bindings/python/tests"
