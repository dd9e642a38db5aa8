# interp_env.sh — sourced by the tests that load $lib into an interpreter
# (python3, luajit).  A library built with a sanitizer needs the sanitizer's
# runtime loaded first, which an interpreter built without it does not do:
# interp_env is then "LD_PRELOAD=RUNTIME ASAN_OPTIONS=...detect_leaks=0" (the
# interpreters keep memory until exit), to run them as `env $interp_env ...`;
# empty otherwise.  SKIP (exit 77) when the runtime is not a shared library.
interp_env=
if nm -D "$lib" 2>/dev/null | grep -q '__asan_\|__ubsan_\|__tsan_'; then
	runtime=$(ldd "$lib" 2>/dev/null | awk '/lib(a|ub|t)san/ { print $3 }' | paste -sd: -)
	if [ -z "$runtime" ]; then
		echo "SKIP: $lib is built with a sanitizer whose runtime is not a shared library"
		exit 77
	fi
	interp_env="LD_PRELOAD=$runtime ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	echo "note: $lib is built with a sanitizer: the interpreter runs with $interp_env"
fi
