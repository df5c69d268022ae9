#!/bin/sh
# Counts the instructions the relay spends on LINES lines (default 200,000)
# from one client into the null sink, under valgrind's callgrind: the
# reproducible measure of the hot path on a noisy machine (wall-clock
# figures come from bench_relay.py).  Not part of make check.
#
#   tests/bench/callgrind.sh [RELAYD [OUT [LINES]]]
# RELAYD defaults to the built src/influx-relayd, OUT to
# tests/bench/build/callgrind.relay.out.  Prints the sink's counts and the
# top functions; `callgrind_annotate OUT` shows more.  The disk spool is
# off, as in the README's throughput figures; SPOOL=1 turns it on (in a
# temporary directory).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${abs_top_builddir:-$(cd "$here/../.." && pwd)}
relayd=${1:-$build/src/influx-relayd}
out=${2:-$build/tests/bench/build/callgrind.relay.out}
lines=${3:-200000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$(dirname "$out")"

"$build/tests/bench/nullsink" "$tmp/port" > "$tmp/sink.out" &
sink=$!
while [ ! -s "$tmp/port" ]; do sleep 0.1; done
cat > "$tmp/relay.ini" <<EOT
[relayd]
stats_interval = 0
control_socket =
shutdown_timeout = 120s
spool_dir = $([ "${SPOOL:-0}" = 1 ] && echo "$tmp/spool")
[listener:main]
path = $tmp/relay.sock
[target:t]
url = http://127.0.0.1:$(cat "$tmp/port")
database = bench
buffer_size = 2G
flush_interval = 100ms
EOT
valgrind --tool=callgrind --callgrind-out-file="$out" "$relayd" \
    -c "$tmp/relay.ini" 2> "$tmp/valgrind.log" &
relay=$!
while [ ! -S "$tmp/relay.sock" ]; do sleep 0.2; done
"$build/tests/bench/loadgen" "$tmp/relay.sock" "$lines" 1 > /dev/null
# SIGTERM: the relay delivers everything, then exits
kill -TERM "$relay"
wait "$relay" || true
kill -TERM "$sink"
wait "$sink" || true
cat "$tmp/sink.out"
callgrind_annotate "$out" 2> /dev/null | sed -n '/PROGRAM TOTALS/p;/file:function/,/^$/p' |
    head -25
