#!/usr/bin/env bats
# A worker that dies is replaced in its slot, on the same socket.

load helpers

listener_inodes() {
	ss -Htlne "( sport = :$1 )" | grep -o 'ino:[0-9]*' | sort
}

@test "kill -9 of a worker: a new pid in that slot, same sockets, service restored" {
	one_service echo echo 'workers = 2;'
	before=$(listener_inodes "$PORT")
	victim=$(workers | head -n 1)
	slot=$(sed -n "s/.*worker $victim started: service echo slot \([0-9]*\).*/\1/p" "$LOG")
	[ -n "$slot" ]
	kill -KILL "$victim"
	wait_for 10 log_has_n 1 "worker $victim \(echo slot $slot generation 1\) killed by signal 9 \(Killed\) unexpectedly"
	wait_for 10 log_has_n 2 "worker [0-9]+ started: service echo slot $slot generation 1"
	new=$(grep -E "worker [0-9]+ started: service echo slot $slot " "$LOG" | tail -n 1 | sed 's/.*worker \([0-9]*\) started.*/\1/')
	[ "$new" != "$victim" ]
	alive "$new"
	[ "$(nworkers)" -eq 2 ]
	[ "$(listener_inodes "$PORT")" = "$before" ]
	for i in $(seq 1 20); do
		assert_echo "$PORT" "$i"
	done
}

@test "connections queued on a dead worker's socket are served by its successor" {
	one_service echo echo 'workers = 1;'
	victim=$(workers)
	# Stopped, the worker accepts nothing: clients wait in its queue.
	kill -STOP "$victim"
	queue_clients "$PORT" 5
	kill -KILL "$victim"
	queued_clients_answered 5
}

# hold PORT SOURCE...: a client per SOURCE connects to PORT from that
# address and keeps its socket open, reading nothing; "connected" in
# $T/held once all are.  Killed by the teardown.
hold() {
	python3 -c '
import socket, sys, time
s = []
for src in sys.argv[2:]:
    c = socket.socket()
    c.bind((src, 0))
    c.connect(("127.0.0.1", int(sys.argv[1])))
    s.append(c)
print("connected", flush=True)
time.sleep(60)' "$@" >"$T/held" 2>&1 &
	BG_PIDS="${BG_PIDS:-} $!"
	wait_for 10 grep -q connected "$T/held"
}

# server_sockets_are STATE PID N: N of PORT's server-side sockets in
# STATE (ss's name) are PID's.
server_sockets_are() {
	[ "$(ss -Htnp state "$1" "( sport = :$PORT )" | grep -c "pid=$2,")" -eq "$3" ]
}

@test "a killed worker's log line counts the connections it served, not refused ones ending" {
	one_service echo echo 'workers = 1;' 'access = [ "deny 127.0.0.9", "allow all" ];'
	w=$(workers)
	hold "$PORT" 127.0.0.1 127.0.0.1 127.0.0.1 127.0.0.9 127.0.0.9 127.0.0.9 127.0.0.9
	wait_for 5 log_has_n 4 "refused service=echo client=127\\.0\\.0\\.9:"
	wait_for 5 server_sockets_are established "$w" 3
	# The refused ones got the worker's FIN; it waits (up to 5 s) for
	# theirs, holding their sockets.
	wait_for 5 server_sockets_are fin-wait-2 "$w" 4
	kill -KILL "$w"
	wait_for 10 log_has_n 1 "worker $w \\(echo slot 0 generation 1\\) killed by signal 9 \\(Killed\\) unexpectedly"
	run -0 grep "worker $w (echo slot 0 generation 1) killed" "$LOG"
	assert_output --regexp "unexpectedly, holding 3 connections$"
}
