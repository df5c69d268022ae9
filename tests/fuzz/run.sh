#!/bin/sh
# Builds the line-protocol fuzz target with clang (libFuzzer, ASan, UBSan)
# and runs it for SECONDS (default 60) on the seed corpus.  Findings go
# to tests/fuzz/findings/; new inputs to a scratch copy of the corpus.
# Usage: tests/fuzz/run.sh [SECONDS]
set -eu
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-$here/build}
CC=${CC_FUZZ:-clang}
mkdir -p "$out" "$here/findings"
# config.h is empty of anything proto.c needs: stand one in if unconfigured
[ -f "$top/config.h" ] || : > "$out/config.h"
$CC -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all -I"$out" -I"$top" -I"$top/src" \
    -o "$out/fuzz_proto" "$here/fuzz_proto.c" "$top/src/proto.c" -lm
work="$out/corpus_proto"
mkdir -p "$work"
cp "$here"/corpus_proto/* "$work"/
cd "$here/findings"
exec "$out/fuzz_proto" -max_total_time="$secs" -max_len=4096 \
    -timeout=10 -print_final_stats=1 "$work"
