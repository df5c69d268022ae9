#!/bin/sh
# A short, bounded libFuzzer run of tests/fuzz/fuzz_kv from its seed corpus
# (part of `make check` when configure found clang).  FUZZ_SECONDS sets the
# length; a crash leaves its input as crash-* in the build directory.
bin=${FUZZ_KV:-tests/fuzz/fuzz_kv}
srcdir=${srcdir:-.}
if [ ! -x "$bin" ]; then
	echo "SKIP: $bin not built (needs clang with libFuzzer)"
	exit 77
fi
work=$(mktemp -d) || exit 99
trap 'rm -rf "$work"' EXIT
cp "$srcdir"/tests/fuzz/kv_corpus/* "$work"/ || exit 99
"$bin" -max_total_time="${FUZZ_SECONDS:-10}" -rss_limit_mb=2048 \
    -max_len=4096 -print_final_stats=1 "$work"
