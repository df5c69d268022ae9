#!/bin/sh
# `make installcheck`: installs into a scratch DESTDIR, checks what went
# where, installs again over an edited configuration (which must be kept,
# with the new sample next to it), then uninstalls (which must keep the
# edited configuration and remove everything else).  The directories come
# from the Makefile, in the environment: MAKE bindir relaydconfdir docdir
# mandir systemdsystemunitdir tmpfilesdir sysusersdir (each `no` when left out)
# and sample (the source of the sample configuration).
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
d=$tmp/root
conf=$d$relaydconfdir/influx-relayd.ini
failed=0
fail() {
	echo "FAIL: $*"
	failed=1
}
has() {
	[ -f "$d$1" ] || fail "not installed: $1"
}

$MAKE install DESTDIR="$d" > "$tmp/log1" 2>&1 || { cat "$tmp/log1"; exit 1; }
has "$bindir/influx-relayd"
has "$bindir/influx-relayctl"
has "$relaydconfdir/influx-relayd.ini"
cmp -s "$sample" "$conf" || fail "$conf is not the sample"
for f in README.md LICENSE influx-relayd.ini; do
	has "$docdir/$f"
done
if [ "$systemdsystemunitdir" != no ]; then
	has "$systemdsystemunitdir/influx-relayd.service"
	has "$systemdsystemunitdir/influx-relayd.socket"
	grep -qx "ExecStart=$bindir/influx-relayd -c $relaydconfdir/influx-relayd.ini" \
	    "$d$systemdsystemunitdir/influx-relayd.service" ||
	    fail "the unit's ExecStart does not run $bindir/influx-relayd" \
		"with $relaydconfdir/influx-relayd.ini"
fi
for f in man8/influx-relayd.8 man8/influx-relayctl.8 man5/influx-relayd.ini.5; do
	has "$mandir/$f"
done
[ "$tmpfilesdir" = no ] || has "$tmpfilesdir/influx-relayd.conf"
[ "$sysusersdir" = no ] || has "$sysusersdir/influx-relayd.conf"

# an edited configuration survives a second install
echo '; edited by the operator' >> "$conf"
$MAKE install DESTDIR="$d" > "$tmp/log2" 2>&1 || { cat "$tmp/log2"; exit 1; }
grep -q '^; edited by the operator' "$conf" ||
    fail "make install replaced the edited $conf"
cmp -s "$sample" "$conf.sample" || fail "no new sample at $conf.sample"
grep -q "kept it.*influx-relayd.ini.sample" "$tmp/log2" ||
    fail "make install did not say it kept $conf"

# uninstall keeps it too, and removes everything else
$MAKE uninstall DESTDIR="$d" > "$tmp/log3" 2>&1 || { cat "$tmp/log3"; exit 1; }
grep -q '^; edited by the operator' "$conf" ||
    fail "make uninstall removed the edited $conf"
left=$(find "$d" -type f ! -path "$conf")
[ -z "$left" ] || fail "left after make uninstall: $left"

if [ "$failed" = 0 ]; then
	echo "install-check: PASS (install, reinstall over an edited" \
	    "configuration, uninstall)"
fi
exit "$failed"
