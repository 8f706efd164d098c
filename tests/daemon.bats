#!/usr/bin/env bats
# Without -f: detach, write the pid file, keep serving, stop on -s.

load helpers

@test "tcpd -c FILE detaches, writes its pid file and serves" {
	one_service_conf echo echo 'workers = 2;'
	run timeout 10 "$TCPD" -c "$CONF"
	# Known before any check can fail, so that teardown stops it.
	TCPD_PID=$(cat "$PIDFILE")
	[ "$status" -eq 0 ]
	# Nothing on its caller's stderr, but that syslog cannot be reached
	# where no syslog daemon listens.
	if python3 -c 'import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).connect("/dev/log")' 2>/dev/null; then
		assert_output ""
	else
		assert_output --regexp "^$LOG_TS tcpd\\[$TCPD_PID\\]: syslog cannot be reached \\(/dev/log\\): every log line is lost until a syslog daemon listens there; or run tcpd -f, which logs to stderr\$"
	fi
	alive "$TCPD_PID"
	# Its own session, no terminal, and not our child.
	[ "$(ps -o sid= -p "$TCPD_PID" | tr -d ' ')" = "$TCPD_PID" ]
	[ "$(ps -o ppid= -p "$TCPD_PID" | tr -d ' ')" != "$$" ]
	wait_for 10 nworkers_is 2
	assert_echo "$PORT" daemon
	run -0 "$TCPD" -s quit -c "$CONF"
	wait_for 10 dead "$TCPD_PID"
	[ ! -e "$PIDFILE" ]
	TCPD_PID=
}

@test "a daemon that cannot start exits non-zero with the reason" {
	one_service_conf echo echo 'workers = 1;'
	nc -l 127.0.0.1 "$PORT" </dev/null >/dev/null &
	BG_PIDS=$!
	wait_for 5 listening "$PORT"
	run -1 timeout 10 "$TCPD" -c "$CONF"
	assert_output --partial "cannot listen on 127.0.0.1:$PORT: address already in use"
	[ ! -e "$PIDFILE" ]
}

@test "descriptors left open by the caller are not kept" {
	one_service_conf echo echo 'workers = 2;'
	# A pipe whose reader would wait for as long as any holder lives.
	exec 8> >(cat >/dev/null)
	pipe=$(readlink /proc/$$/fd/8)
	"$TCPD" -f -c "$CONF" 2>>"$LOG" 8>&8 &
	TCPD_PID=$!
	exec 8>&-
	wait_for 10 log_has_n 2 'worker [0-9]+ started'
	for p in "$TCPD_PID" $(workers); do
		held=$(for f in /proc/$p/fd/*; do readlink "$f"; done | grep -cF "$pipe" || true)
		[ "$held" -eq 0 ] || fail "pid $p holds $pipe"
	done
}
