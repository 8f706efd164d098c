#!/usr/bin/env bats
# tcpd -t says what it can know of this host, not only of the file: an
# address not on it, a port another process holds or this user may not
# bind, a program or its interpreter that cannot run as the service's
# user, an access list that refuses everyone.  Each is a warning (the
# host at start may differ) that a start then meets as a failure.

load helpers

@test "an address not on this host: a warning at -t, a failed start" {
	one_service_conf echo echo
	sed -i "s|127.0.0.1:$PORT|192.0.2.1:$PORT|" "$CONF"
	run -0 "$TCPD" -t -c "$CONF"
	assert_line --regexp "^$CONF:[0-9]+: warning: service 'echo': 192\\.0\\.2\\.1:$PORT is not an address of this host: tcpd would not start\$"
	assert_line "$CONF: configuration OK"
	run -1 "$TCPD" -f -c "$CONF"
	assert_output --partial "192.0.2.1:$PORT"
}

@test "a port another process holds: a warning; the running master's own: none" {
	one_service_conf echo echo
	python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(60)' "$PORT" &
	BG_PIDS=$!
	wait_for 5 listening "$PORT"
	run -0 "$TCPD" -t -c "$CONF"
	assert_line --regexp "^$CONF:[0-9]+: warning: service 'echo': 127\\.0\\.0\\.1:$PORT is in use by another process \\(uid $(id -u)\\): tcpd would not start\$"
	kill "$BG_PIDS"
	wait_for 5 not_listening "$PORT"
	# A master running this very file holds the port: -t before a
	# reload says nothing of it.
	start_tcpd
	run -0 "$TCPD" -t -c "$CONF"
	assert_output "$CONF: configuration OK"
}

@test "a port below 1024 without the privilege names the capability" {
	[ "$(id -u)" -eq 0 ] || skip "runs tcpd -t as nobody, which needs root"
	[ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" -gt 23 ] ||
	    skip "this kernel lets anyone bind port 23"
	command -v setpriv >/dev/null || skip "setpriv is missing"
	one_service_conf echo echo
	sed -i "s|127.0.0.1:$PORT|127.0.0.1:23|; /pid_file/d" "$CONF"
	chmod o+x "$BATS_RUN_TMPDIR" "$T"
	chmod o+r "$CONF"
	run -0 setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "$TCPD" -t -c "$CONF"
	assert_line --regexp "^$CONF:[0-9]+: warning: service 'echo': port 23 of 127\\.0\\.0\\.1:23 needs root or the capability CAP_NET_BIND_SERVICE, which uid [0-9]+ here lacks: tcpd would not start\$"
}

@test "a program its user cannot run: a warning; a missing interpreter: an error" {
	[ "$(id -u)" -eq 0 ] || skip "a service's user other than this one needs root"
	printf '#!/bin/sh\necho hello\n' >"$T/prog"
	chmod 700 "$T/prog"		# root's alone
	chmod o+x "$BATS_RUN_TMPDIR" "$T"
	one_service_conf prog exec "exec = [ \"$T/prog\" ]; user = \"nobody\";"
	run -0 "$TCPD" -t -c "$CONF"
	assert_line --regexp "^$CONF:[0-9]+: warning: service 'prog': user nobody cannot run $T/prog: tcpd would not start\$"
	run -1 "$TCPD" -f -c "$CONF"
	chmod 755 "$T/prog"
	run -0 "$TCPD" -t -c "$CONF"
	assert_output "$CONF: configuration OK"
	# An interpreter that is not there: every client would be closed
	# at once, so the file is refused.
	printf '#!/nonexistent/sh -e\necho hello\n' >"$T/prog"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output --regexp "^$CONF:[0-9]+: program $T/prog: its interpreter /nonexistent/sh: No such file or directory\$"
}

@test "an access list with no allow rule: a warning at -t, and in the log at start" {
	one_service_conf echo echo 'access = [ "deny 192.0.2.7" ];'
	run -0 "$TCPD" -t -c "$CONF"
	assert_line --regexp "^$CONF:[0-9]+: warning: service 'echo': access has no allow rule, so every client is refused \\(no rule matching is a refusal\\); to refuse only those denied, end the list with \"allow all\"\$"
	start_tcpd
	wait_for 5 log_has_n 1 "warning: service 'echo': access has no allow rule"
	sed -i 's|"deny 192.0.2.7" ]|"deny 192.0.2.7", "allow all" ]|' "$CONF"
	run -0 "$TCPD" -t -c "$CONF"
	assert_output "$CONF: configuration OK"
}
