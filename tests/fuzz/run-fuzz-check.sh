#!/bin/sh
# Short, bounded libFuzzer runs of every fuzz target from its seed corpus
# (part of `make check` when configure found clang): the kv translator,
# the line-protocol parser, the framing of stream input and the spool
# reader.  FUZZ_SECONDS sets the length of each run; a crash leaves its
# input as crash-* in the build directory.
srcdir=${srcdir:-.}

# fuzz TARGET CORPUS: runs one target on a scratch copy of its corpus
fuzz() {
	bin=tests/fuzz/$1
	if [ ! -x "$bin" ]; then
		echo "SKIP: $bin not built (needs clang with libFuzzer)"
		exit 77
	fi
	work=$(mktemp -d) || exit 99
	cp "$srcdir"/tests/fuzz/"$2"/* "$work"/ || exit 99
	# libFuzzer reports a crash with exit 77 by default: automake's SKIP
	"$bin" -max_total_time="${FUZZ_SECONDS:-10}" -rss_limit_mb=2048 \
	    -max_len=4096 -timeout=10 -error_exitcode=1 -print_final_stats=1 \
	    "$work"
	rc=$?
	rm -rf "$work"
	[ "$rc" -eq 0 ] || exit "$rc"
}

fuzz fuzz_kv kv_corpus
fuzz fuzz_proto corpus_proto
fuzz fuzz_spool corpus_spool
fuzz fuzz_frame corpus_frame
