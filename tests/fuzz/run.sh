#!/bin/sh
# Builds a fuzz target with clang (libFuzzer, ASan, UBSan) and runs it for
# SECONDS (default 60) on its seed corpus: TARGET proto (the line-protocol
# parser, the default) or spool (the spool reader).  Findings go to
# tests/fuzz/findings/; new inputs to a scratch copy of the corpus.
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET]
set -eu
secs=${1:-60}
target=${2:-proto}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-$here/build}
CC=${CC_FUZZ:-clang}
case $target in
proto)	srcs="$top/src/proto.c $top/src/utf8.c" ;;
spool)	srcs=""
	for f in spool segment crc32c hmap stamp mem log; do
		srcs="$srcs $top/src/$f.c"
	done ;;
*)	echo "usage: $0 [SECONDS] [proto|spool]" >&2; exit 2 ;;
esac
mkdir -p "$out" "$here/findings"
# config.h holds nothing these need: stand one in if unconfigured
[ -f "$top/config.h" ] || : > "$out/config.h"
# shellcheck disable=SC2086
$CC -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all -I"$out" -I"$top" -I"$top/src" \
    -o "$out/fuzz_$target" "$here/fuzz_$target.c" $srcs -lm
work="$out/corpus_$target"
mkdir -p "$work"
cp "$here/corpus_$target"/* "$work"/
cd "$here/findings"
exec "$out/fuzz_$target" -max_total_time="$secs" -max_len=4096 \
    -timeout=10 -print_final_stats=1 "$work"
