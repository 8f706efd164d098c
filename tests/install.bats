#!/usr/bin/env bats
# make install, as an administrator meets it: the binary, its default
# tcpd.conf and the systemd unit, each naming the configured paths.
#
# A copy of the sources is configured and built for one prefix, then
# configured for another, $P: the order in which tcpd once kept the
# first prefix's config path.  The tests install from that copy, into
# $P or under a DESTDIR of their own; nothing is written outside the
# test's directories.

load helpers

setup_file() {
	# For the unit's check (systemd-analyze); the rest needs none.
	if ! command -v systemd-analyze >/dev/null && [ "$(id -u)" -eq 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    --no-install-recommends systemd >/dev/null 2>&1 || true
	fi
	local top=$TESTS_LIB_DIR/.. build flags=() arg
	build=${TOP_BUILDDIR:-$(dirname "$TCPD")/..}
	# The original build's --enable and --disable flags, so that its
	# config.h and the copy's agree: only the prefix differs.
	if [ -x "$build/config.status" ]; then
		eval "set -- $("$build/config.status" --config)"
		for arg; do
			case $arg in --enable-*|--disable-*) flags+=("$arg") ;; esac
		done
	fi
	SRC=$BATS_FILE_TMPDIR/src
	P=$BATS_FILE_TMPDIR/p
	mkdir "$SRC"
	tar -C "$top" --exclude=./.git --exclude='./tcpd-*' \
	    --exclude=./_build --exclude=./_inst -cf - . | tar -C "$SRC" -xf -
	chmod -R u+w "$SRC"
	(cd "$SRC" &&
	    ./configure "${flags[@]}" --prefix="$BATS_FILE_TMPDIR/first" &&
	    make -j2 &&
	    ./configure "${flags[@]}" --prefix="$P") >"$BATS_FILE_TMPDIR/build.log" 2>&1 || {
		sed 's/^/# /' "$BATS_FILE_TMPDIR/build.log" >&3
		return 1
	}
	export SRC P
}

# make install into $P, or under DESTDIR=$1.
install_tree() {
	make -C "$SRC" install ${1:+DESTDIR="$1"} >"$T/install.log" 2>&1 || {
		cat "$T/install.log"
		return 1
	}
}

# The version of the systemd on this machine, or 0.
systemd_version() {
	local v
	v=$(systemctl --version 2>/dev/null | awk 'NR == 1 { print $2 }')
	echo "${v:-0}"
}

@test "reconfigured for another prefix, make install builds tcpd for it" {
	install_tree
	run -0 "$P/sbin/tcpd" -h
	assert_output --partial "configuration file (default $P/etc/tcpd.conf)"
}

@test "the installed tcpd.conf passes tcpd -t with no -c" {
	install_tree
	run -0 "$P/sbin/tcpd" -t
	assert_output "$P/etc/tcpd.conf: configuration OK"
	# Its pid file in the runtime directory, which make install made,
	# and the services of conf/tcpd.conf.
	run -0 grep '^pid_file\|^user\|name = "' "$P/etc/tcpd.conf"
	assert_line --index 0 'user = "nobody";'
	assert_line --index 1 "pid_file = \"$P/var/run/tcpd/tcpd.pid\";"
	# user, pid_file, and every service of conf/tcpd.conf.
	[ "${#lines[@]}" -eq $((2 + $(grep -c 'name = "' "$BATS_TEST_DIRNAME/../conf/tcpd.conf"))) ]
	[ -d "$P/var/run/tcpd" ]
}

@test "the installed tcpd -s finds a master on the installed pid file when its file names none" {
	install_tree
	PORT=$(free_port)
	# A master on the installed pid file's path, from a file of its own.
	printf 'pid_file = "%s";\nservices = ( { name = "e"; handler = "echo"; listen = [ "127.0.0.1:%s" ]; } );\n' \
	    "$P/var/run/tcpd/tcpd.pid" "$PORT" >"$T/own.conf"
	"$P/sbin/tcpd" -f -c "$T/own.conf" >>"$LOG" 2>&1 &
	TCPD_PID=$!
	wait_for 10 log_has_n 1 "^$LOG_TS tcpd\\[$TCPD_PID\\]: worker [0-9]+ started"
	# A file that cannot be read, and one that names no pid_file.
	run -0 "$P/sbin/tcpd" -c "$T/absent.conf" -s status
	assert_output --partial "names no pid_file: trying the installed one, $P/var/run/tcpd/tcpd.pid"
	assert_line --regexp '^e +echo +1/1 '
	printf 'services = ( );\n' >"$T/none.conf"
	run -0 "$P/sbin/tcpd" -c "$T/none.conf" -s stop --wait
	[ ! -e "$P/var/run/tcpd/tcpd.pid" ]
	wait "$TCPD_PID"
	TCPD_PID=
	# Nothing there any more: said, exit 1.
	run -1 "$P/sbin/tcpd" -c "$T/absent.conf" -s status
	assert_output --partial "cannot find the master; name it with -p PIDFILE or -S SOCKET"
}

@test "make install keeps a tcpd.conf that is there already" {
	mkdir -p "$T/root$P/etc"
	printf '# the administrator'"'"'s own\n' >"$T/root$P/etc/tcpd.conf"
	install_tree "$T/root"
	run -0 cat "$T/root$P/etc/tcpd.conf"
	assert_output "# the administrator's own"
	run -0 cat "$T/install.log"
	assert_line "tcpd: keeping $T/root$P/etc/tcpd.conf, which is there already"
	[ -x "$T/root$P/sbin/tcpd" ]
	# Uninstalling leaves it too.
	make -C "$SRC" uninstall DESTDIR="$T/root" >/dev/null
	run -0 cat "$T/root$P/etc/tcpd.conf"
	assert_output "# the administrator's own"
	[ ! -e "$T/root$P/sbin/tcpd" ]
}

@test "a DESTDIR install, put in place, passes tcpd -t with no -c" {
	[ "$(id -u)" -eq 0 ] || skip "a bind mount in a mount namespace needs root"
	command -v unshare >/dev/null || skip "unshare is not installed (util-linux)"
	install_tree "$T/root"
	[ -f "$T/root$P/etc/tcpd.conf" ]
	[ -d "$T/root$P/var/run/tcpd" ]
	# The staged tree where it will be, seen by this command alone.
	mkdir -p "$P"
	run unshare --mount --propagation private sh -c \
	    'mount --bind "$1" "$2" && exec "$2/sbin/tcpd" -t' sh "$T/root$P" "$P"
	assert_output "$P/etc/tcpd.conf: configuration OK"
	[ "$status" -eq 0 ]
}

@test "the unit names the configured paths, has a Type= this systemd knows, and passes systemd-analyze verify" {
	pkg-config --exists systemd || command -v systemctl >/dev/null ||
	    skip "no systemd: configure installs no unit by default"
	install_tree
	unit=$P/lib/systemd/system/tcpd.service
	grep -qx "ExecStartPre=$P/sbin/tcpd -t -c $P/etc/tcpd.conf" "$unit"
	grep -qx "ExecStart=$P/sbin/tcpd -f -c $P/etc/tcpd.conf" "$unit"
	# Not /run: a directory the unit makes writable, not systemd's own.
	grep -qx "ReadWritePaths=$P/var/run/tcpd" "$unit"
	run grep -c '^RuntimeDirectory' "$unit"
	[ "$output" -eq 0 ]
	grep -qx 'KillMode=mixed' "$unit"
	if (( $(systemd_version) >= 253 )); then
		grep -qx 'Type=notify-reload' "$unit"
		run grep -c '^ExecReload=' "$unit"
		[ "$output" -eq 0 ]
	else
		grep -qx 'Type=notify' "$unit"
		grep -qx "ExecReload=$P/sbin/tcpd -c $P/etc/tcpd.conf -s reload" "$unit"
	fi
	command -v systemd-analyze >/dev/null ||
	    skip "systemd-analyze is not installed (Debian package systemd)"
	run systemd-analyze verify --man=no "$unit"
	assert_output ""
	[ "$status" -eq 0 ]
}

# The unit of a configure with ARGS, for the binary installed in $P.
other_unit() {
	(cd "$SRC" && ./configure "$@" --sbindir="$P/sbin" &&
	    make conf/tcpd.service) >"$T/configure.log" 2>&1 || {
		cat "$T/configure.log"
		return 1
	}
	cp "$SRC/conf/tcpd.service" "$T/tcpd.service"
	# Back to $P for the other tests.
	(cd "$SRC" && ./configure "${CONFIG_FLAGS[@]}" --prefix="$P") >/dev/null 2>&1
}

@test "--runstatedir=/run: the pid file is in the unit's RuntimeDirectory, and systemd-analyze verify passes" {
	install_tree
	eval "CONFIG_FLAGS=($("$SRC/config.status" --config))"
	other_unit "${CONFIG_FLAGS[@]}" --runstatedir=/run
	unit=$T/tcpd.service
	grep -qx 'RuntimeDirectory=tcpd' "$unit"
	run grep -c '^ReadWritePaths=' "$unit"
	[ "$output" -eq 0 ]
	command -v systemd-analyze >/dev/null ||
	    skip "systemd-analyze is not installed (Debian package systemd)"
	run systemd-analyze verify --man=no "$unit"
	assert_output ""
	[ "$status" -eq 0 ]
}

@test "SYSTEMD_VERSION=253: Type=notify-reload, no ExecReload=" {
	install_tree
	eval "CONFIG_FLAGS=($("$SRC/config.status" --config))"
	other_unit "${CONFIG_FLAGS[@]}" SYSTEMD_VERSION=253
	unit=$T/tcpd.service
	grep -qx 'Type=notify-reload' "$unit"
	run grep -c '^ExecReload=' "$unit"
	[ "$output" -eq 0 ]
	(( $(systemd_version) >= 253 )) ||
	    skip "systemd $(systemd_version) knows no Type=notify-reload"
	run systemd-analyze verify --man=no "$unit"
	assert_output ""
	[ "$status" -eq 0 ]
}

@test "--without-systemdsystemunitdir installs no unit" {
	eval "CONFIG_FLAGS=($("$SRC/config.status" --config))"
	(cd "$SRC" && ./configure "${CONFIG_FLAGS[@]}" --without-systemdsystemunitdir &&
	    make install DESTDIR="$T/root") >"$T/configure.log" 2>&1 || {
		cat "$T/configure.log"
		(cd "$SRC" && ./configure "${CONFIG_FLAGS[@]}") >/dev/null 2>&1
		return 1
	}
	(cd "$SRC" && ./configure "${CONFIG_FLAGS[@]}") >/dev/null 2>&1
	[ -x "$T/root$P/sbin/tcpd" ]
	run find "$T/root" -name tcpd.service
	assert_output "$T/root$P/share/doc/tcpd/examples/tcpd.service"
}
