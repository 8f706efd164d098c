#!/usr/bin/env bats
# SIGQUIT lets connections finish; SIGTERM and SIGINT do not wait.

load helpers

# start_echo [SHUTDOWN_TIMEOUT]: two echo workers on $PORT, in $WORKERS.
start_echo() {
	one_service echo echo 'workers = 2;' "shutdown_timeout = ${1:-30};"
	WORKERS=$(workers)
}

open_conn() {
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	echo hello >&5
	read -r -t 5 line <&5
	[ "$line" = hello ]
}

@test "graceful stop: an open connection finishes, then tcpd exits" {
	start_echo 30
	open_conn
	kill -QUIT "$TCPD_PID"
	wait_for 10 log_has_n 1 'echo slot [01]: stopping, 1 connection open'
	# Still served, while the master waits for it.
	alive "$TCPD_PID"
	echo still >&5
	read -r -t 5 line <&5
	[ "$line" = still ]
	# The sockets are closed: new connections are refused, not queued
	# for nobody.
	run -1 nc -z 127.0.0.1 "$PORT"
	exec 5>&-
	wait_for 10 dead "$TCPD_PID"
	wait "$TCPD_PID"
	TCPD_PID=
	grep -q 'stopped' "$LOG"
	[ ! -e "$PIDFILE" ]
	for w in $WORKERS; do dead "$w"; done
}

@test "graceful stop serves the connections already queued" {
	one_service echo echo 'workers = 1;' 'shutdown_timeout = 30;'
	w=$(workers)
	kill -STOP "$w"
	queue_clients "$PORT" 3
	kill -QUIT "$TCPD_PID"
	wait_for 10 log_has_n 1 'stopping \(graceful\)'
	kill -CONT "$w"
	queued_clients_answered 3
	wait_for 10 dead "$TCPD_PID"
}

@test "graceful stop ends at shutdown_timeout" {
	start_echo 1
	open_conn
	kill -QUIT "$TCPD_PID"
	wait_for 10 dead "$TCPD_PID"
	grep -qE 'closed service=echo .* reason="shutdown timeout"' "$LOG"
	# The client sees the server's FIN.
	run -0 timeout 5 cat <&5
	exec 5>&-
}

@test "fast stop closes connections at once" {
	for sig in TERM INT; do
		start_echo 30
		open_conn
		kill -"$sig" "$TCPD_PID"
		# EOF at once, though shutdown_timeout is 30 s.
		run -0 timeout 5 cat <&5
		exec 5>&-
		wait_for 10 dead "$TCPD_PID"
		wait "$TCPD_PID"
		TCPD_PID=
		grep -q 'stopping (fast)' "$LOG"
		grep -qE 'closed service=echo .* reason="fast stop"' "$LOG"
		for w in $WORKERS; do dead "$w"; done
		: >"$LOG"
	done
}

@test "no worker outlives the master" {
	start_echo 30
	open_conn
	kill -KILL "$TCPD_PID"
	wait "$TCPD_PID" || true
	TCPD_PID=
	for w in $WORKERS; do
		wait_for 10 dead "$w"
	done
	run -0 timeout 5 cat <&5
	exec 5>&-
}
