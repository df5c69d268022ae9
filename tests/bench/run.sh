#!/bin/sh
# Builds and runs the line-protocol benchmark (not part of make check).
# Usage: tests/bench/run.sh [ROUNDS]     CC and CFLAGS are honoured.
# With CALLGRIND=1 it counts instructions under valgrind instead, which
# is reproducible on a noisy machine.
set -eu
# The sources are found next to this script; what it builds goes into the
# build tree ($abs_top_builddir, else the source tree), so a separate or
# read-only source tree works too.
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${abs_top_builddir:-$top}
out=${BENCH_OUT:-$build/tests/bench/build}
mkdir -p "$out"
[ -f "$build/config.h" ] || : > "$out/config.h"
${CC:-cc} ${CFLAGS:--O2 -g} -std=c11 -D_GNU_SOURCE -I"$out" -I"$build" \
    -I"$top/src" -Wl,--wrap=malloc -o "$out/bench_proto" \
    "$here/bench_proto.c" "$top/src/proto.c" "$top/src/utf8.c" -lm
if [ "${CALLGRIND:-0}" = 1 ]; then
	exec valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
	    "$out/bench_proto" 1
fi
exec "$out/bench_proto" "${1:-7}"
