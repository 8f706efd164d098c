#!/usr/bin/env bats
# Without -f: detach, write the pid file, keep serving, stop on -s.

load helpers

@test "tcpd -c FILE detaches, writes its pid file and serves" {
	PORT=$(free_port)
	write_conf '' "$(conf_service echo echo "\"127.0.0.1:$PORT\"" 'workers = 2;')"
	run -0 timeout 10 "$TCPD" -c "$CONF"
	assert_output ""
	[ -s "$PIDFILE" ]
	TCPD_PID=$(cat "$PIDFILE")
	alive "$TCPD_PID"
	# Its own session, no terminal, and not our child.
	[ "$(ps -o sid= -p "$TCPD_PID" | tr -d ' ')" = "$TCPD_PID" ]
	[ "$(ps -o ppid= -p "$TCPD_PID" | tr -d ' ')" != "$$" ]
	wait_for 10 nworkers_is 2
	run -0 bash -c "echo daemon | nc -N 127.0.0.1 $PORT"
	assert_output daemon
	run -0 "$TCPD" -s quit -c "$CONF"
	wait_for 10 dead "$TCPD_PID"
	[ ! -e "$PIDFILE" ]
	TCPD_PID=
}

@test "a daemon that cannot start exits non-zero with the reason" {
	PORT=$(free_port)
	nc -l 127.0.0.1 "$PORT" </dev/null >/dev/null &
	BG_PIDS=$!
	wait_for 5 listening "$PORT"
	write_conf '' "$(conf_service echo echo "\"127.0.0.1:$PORT\"" 'workers = 1;')"
	run -1 timeout 10 "$TCPD" -c "$CONF"
	assert_output --partial "cannot listen on 127.0.0.1:$PORT: address already in use"
	[ ! -e "$PIDFILE" ]
}
