#!/bin/sh
# The manual pages pass the formatters' own checks: `groff -ww -z -mandoc`
# prints nothing, and `mandoc -T lint` (when installed) prints nothing but
# cross-references to pages this machine lacks.  The user's documents
# stand alone: none of them points at the team's design notes.
# Exit 0 clean, 1 on any finding, 77 (skip) without groff.
srcdir=${srcdir:-$(dirname "$0")/../..}
pages="man/influx-relayd.8 man/influx-relayd.ini.5 man/influx-relayctl.8
    man/influx-relay.3"
docs="README.md etc/influx-relayd.ini $pages"
fail=0

if ! command -v groff >/dev/null 2>&1; then
	echo "SKIP: groff is not installed (.ci/install-deps installs it)"
	exit 77
fi
for page in $pages; do
	if [ ! -r "$srcdir/$page" ]; then
		echo "FAIL: $page: missing"
		fail=1
		continue
	fi
	out=$(groff -ww -z -mandoc "$srcdir/$page" 2>&1) || out="$out
(groff exited $?)"
	if [ -n "$out" ]; then
		echo "FAIL: groff -ww -z -mandoc $page:"
		echo "$out"
		fail=1
	fi
	if command -v mandoc >/dev/null 2>&1; then
		out=$(mandoc -T lint -W all "$srcdir/$page" 2>&1 |
		    grep -v -e 'referenced manual not found' -e 'mandoc\.db')
		if [ -n "$out" ]; then
			echo "FAIL: mandoc -T lint $page:"
			echo "$out"
			fail=1
		fi
	else
		echo "note: mandoc is not installed; groff's check only"
	fi
done
for doc in $docs; do
	if grep -n -e 'DESIGN' -e '\.\./shared' "$srcdir/$doc"; then
		echo "FAIL: $doc refers to the team's design notes (above);" \
		    "point to the man pages instead"
		fail=1
	fi
done
[ "$fail" -eq 0 ] && echo "PASS: $pages"
exit "$fail"
